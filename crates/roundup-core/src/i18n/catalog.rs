//! One message catalog: a compiled `.mo` file or its `.po` source, read
//! as Python's gettext and Roundup's msgfmt read them (the header's
//! charset, `msgctxt`, plural forms; fuzzy and untranslated entries of a
//! `.po` are left out).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::plural::Plural;

/// The separator gettext puts between a message's context and its id.
const CONTEXT_SEP: char = '\u{4}';

/// The translations of one catalog file.
#[derive(Debug, Default)]
pub struct Catalog {
    /// msgid (`ctx\x04msgid` with a context) to its forms: one for a
    /// plain message, one per plural form otherwise.
    messages: HashMap<String, Vec<String>>,
    plural: Plural,
    pub file: PathBuf,
}

/// A catalog that cannot be read, naming the file and (for `.po`) line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("message catalog {file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct CatalogError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Catalog {
    /// The translation of `msgid`, if the catalog has one. A plural
    /// entry answers with its singular form (as Python's gettext does).
    pub fn get(&self, msgid: &str) -> Option<&str> {
        self.messages
            .get(msgid)
            .and_then(|f| f.first())
            .map(String::as_str)
    }

    /// The form of plural message `msgid` for `n`.
    pub fn get_plural(&self, msgid: &str, n: u64) -> Option<&str> {
        let forms = self.messages.get(msgid)?;
        let i = usize::try_from(self.plural.eval(n)).unwrap_or(usize::MAX);
        forms.get(i).or_else(|| forms.last()).map(String::as_str)
    }

    /// `msgid` in context `ctx`.
    pub fn get_in_context(&self, ctx: &str, msgid: &str) -> Option<&str> {
        self.get(&format!("{ctx}{CONTEXT_SEP}{msgid}"))
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Read a `.mo` or (by its extension) `.po` file.
    pub fn read(path: &Path) -> Result<Catalog, CatalogError> {
        let data = std::fs::read(path).map_err(|e| CatalogError {
            file: path.display().to_string(),
            line: None,
            message: e.to_string(),
        })?;
        if path.extension().is_some_and(|x| x == "po") {
            Catalog::from_po(path, &data)
        } else {
            Catalog::from_mo(path, &data)
        }
    }

    fn finish(
        file: &Path,
        messages: HashMap<String, Vec<String>>,
        line: Option<usize>,
    ) -> Result<Catalog, CatalogError> {
        let header = messages
            .get("")
            .and_then(|f| f.first())
            .cloned()
            .unwrap_or_default();
        let plural = Plural::from_header(&header)
            .map_err(|message| CatalogError {
                file: file.display().to_string(),
                line,
                message,
            })?
            .unwrap_or_default();
        Ok(Catalog {
            messages,
            plural,
            file: file.to_path_buf(),
        })
    }

    /// GNU's binary format: a header, then tables of (length, offset) for
    /// the original and the translated strings.
    pub fn from_mo(file: &Path, data: &[u8]) -> Result<Catalog, CatalogError> {
        let bad = |m: &str| CatalogError {
            file: file.display().to_string(),
            line: None,
            message: m.to_string(),
        };
        let word_le = |at: usize| -> Option<u32> {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let big = match word_le(0) {
            Some(0x9504_12de) => false,
            Some(0xde12_0495) => true,
            _ => return Err(bad("not a .mo file (bad magic number)")),
        };
        let word = |at: usize| -> Result<usize, CatalogError> {
            let b = data
                .get(at..at + 4)
                .ok_or_else(|| bad("file ends inside a table"))?;
            let b = [b[0], b[1], b[2], b[3]];
            Ok(if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            } as usize)
        };
        let version = word(4)?;
        if version >> 16 > 1 {
            return Err(bad(&format!("unknown .mo version {}", version >> 16)));
        }
        let count = word(8)?;
        let (orig, trans) = (word(12)?, word(16)?);
        let string = |table: usize, i: usize| -> Result<&[u8], CatalogError> {
            let len = word(table + 8 * i)?;
            let off = word(table + 8 * i + 4)?;
            data.get(off..off.saturating_add(len))
                .ok_or_else(|| bad("a string lies outside the file"))
        };
        // The header (the empty msgid) names the charset of the rest.
        let mut raw: Vec<(&[u8], &[u8])> = Vec::with_capacity(count);
        let mut charset = "utf-8".to_string();
        for i in 0..count {
            let (k, v) = (string(orig, i)?, string(trans, i)?);
            if k.is_empty() {
                if let Some(c) = header_charset(&String::from_utf8_lossy(v)) {
                    charset = c;
                }
            }
            raw.push((k, v));
        }
        let enc = encoding_rs::Encoding::for_label(charset.as_bytes())
            .ok_or_else(|| bad(&format!("unknown charset {charset:?}")))?;
        let mut messages = HashMap::with_capacity(count);
        for (k, v) in raw {
            let k = enc.decode_without_bom_handling(k).0;
            let v = enc.decode_without_bom_handling(v).0;
            // "singular\0plural" ids carry their forms "\0"-separated
            let id = k.split('\0').next().unwrap_or_default().to_string();
            let forms = if k.contains('\0') {
                v.split('\0').map(str::to_string).collect()
            } else {
                vec![v.into_owned()]
            };
            messages.insert(id, forms);
        }
        Catalog::finish(file, messages, None)
    }

    /// The text format, as Roundup compiles it: entries whose
    /// translation is empty or marked fuzzy are skipped.
    pub fn from_po(file: &Path, data: &[u8]) -> Result<Catalog, CatalogError> {
        // The header's charset decides how the file is read.
        // (the header is the first entry: look no further than the second)
        let head = data
            .windows(6)
            .enumerate()
            .filter(|(_, w)| w == b"msgid ")
            .nth(1)
            .map_or(data, |(i, _)| &data[..i]);
        let probe = String::from_utf8_lossy(head);
        let charset = header_charset(&probe).unwrap_or_else(|| "utf-8".into());
        let enc =
            encoding_rs::Encoding::for_label(charset.as_bytes()).ok_or_else(|| CatalogError {
                file: file.display().to_string(),
                line: None,
                message: format!("unknown charset {charset:?}"),
            })?;
        let text = enc.decode_without_bom_handling(data).0;
        let mut p = PoReader {
            file,
            messages: HashMap::new(),
            entry: Entry::default(),
            section: None,
            line: 0,
        };
        for (i, line) in text.lines().enumerate() {
            p.line = i + 1;
            p.line(line)?;
        }
        p.flush();
        let PoReader { messages, line, .. } = p;
        Catalog::finish(file, messages, Some(line))
    }
}

/// `charset=` of a catalog header's Content-Type line.
fn header_charset(header: &str) -> Option<String> {
    let i = header.find("charset=")?;
    let rest = &header[i + 8..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == ';' || c == '\\')
        .unwrap_or(rest.len());
    let cs = rest[..end].trim();
    (!cs.is_empty() && cs != "CHARSET").then(|| cs.to_string())
}

#[derive(Default)]
struct Entry {
    fuzzy: bool,
    ctx: Option<String>,
    id: Option<String>,
    plural: Option<String>,
    strs: Vec<(usize, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Ctx,
    Id,
    Plural,
    Str(usize),
}

struct PoReader<'a> {
    file: &'a Path,
    messages: HashMap<String, Vec<String>>,
    entry: Entry,
    section: Option<Section>,
    line: usize,
}

impl PoReader<'_> {
    fn err(&self, message: String) -> CatalogError {
        CatalogError {
            file: self.file.display().to_string(),
            line: Some(self.line),
            message,
        }
    }

    fn flush(&mut self) {
        let e = std::mem::take(&mut self.entry);
        self.section = None;
        let Some(id) = e.id else { return };
        let header = id.is_empty();
        if e.fuzzy && !header {
            return;
        }
        let mut strs = e.strs;
        strs.sort_by_key(|(i, _)| *i);
        let forms: Vec<String> = strs.into_iter().map(|(_, s)| s).collect();
        if forms.iter().all(String::is_empty) {
            return;
        }
        let key = match e.ctx {
            Some(c) => format!("{c}{CONTEXT_SEP}{id}"),
            None => id,
        };
        self.messages.insert(key, forms);
    }

    fn line(&mut self, raw: &str) -> Result<(), CatalogError> {
        let line = raw.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix("#,") {
            // flags belong to the entry that follows
            if self.entry.id.is_some() {
                self.flush();
            }
            if rest.split(',').any(|f| f.trim() == "fuzzy") {
                self.entry.fuzzy = true;
            }
            return Ok(());
        }
        if line.starts_with('#') {
            return Ok(());
        }
        let (keyword, rest) = match line.find(|c: char| c.is_whitespace() || c == '"') {
            Some(i) if !line.starts_with('"') => (&line[..i], line[i..].trim_start()),
            _ => ("", line),
        };
        let section = match keyword {
            "" => None,
            "msgctxt" => Some(Section::Ctx),
            "msgid" => Some(Section::Id),
            "msgid_plural" => Some(Section::Plural),
            "msgstr" => Some(Section::Str(0)),
            k if k.starts_with("msgstr[") && k.ends_with(']') => {
                let n = k[7..k.len() - 1]
                    .parse()
                    .map_err(|_| self.err(format!("bad plural index in {k}")))?;
                Some(Section::Str(n))
            }
            k => return Err(self.err(format!("unknown keyword {k:?}"))),
        };
        if let Some(s) = section {
            // a new msgctxt or msgid starts an entry once the last has
            // its translation
            if matches!(s, Section::Ctx | Section::Id)
                && (!self.entry.strs.is_empty() || self.entry.ctx.is_some() && s == Section::Ctx)
            {
                let fuzzy = self.entry.fuzzy && self.entry.id.is_none();
                self.flush();
                self.entry.fuzzy = fuzzy;
            }
            self.section = Some(s);
            match s {
                Section::Ctx => self.entry.ctx = Some(String::new()),
                Section::Id => self.entry.id = Some(String::new()),
                Section::Plural => self.entry.plural = Some(String::new()),
                Section::Str(n) => self.entry.strs.push((n, String::new())),
            }
        }
        let Some(section) = self.section else {
            return Err(self.err("text outside an entry".into()));
        };
        let piece = unquote(rest).map_err(|m| self.err(m))?;
        let target = match section {
            Section::Ctx => self.entry.ctx.as_mut(),
            Section::Id => self.entry.id.as_mut(),
            Section::Plural => self.entry.plural.as_mut(),
            Section::Str(_) => self.entry.strs.last_mut().map(|(_, s)| s),
        };
        if let Some(t) = target {
            t.push_str(&piece);
        }
        Ok(())
    }
}

/// A `"..."` literal with C escapes.
fn unquote(s: &str) -> Result<String, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .filter(|_| s.len() >= 2)
        .ok_or_else(|| format!("expected a quoted string, found {s:?}"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(x) => {
                            v = v * 8 + x;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => return Err("a string ends in a backslash".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PO: &str = r#"# German
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=n != 1;\n"

#: page.html:10
msgid "Show All"
msgstr "Alle anzeigen"

#, fuzzy
msgid "Hidden"
msgstr "Versteckt"

msgid "Empty"
msgstr ""

msgctxt "menu"
msgid "File"
msgstr "Datei"

msgid "one item"
msgid_plural "${n} items"
msgstr[0] "ein Eintrag"
msgstr[1] "${n} Eint"
"räge"

msgid "multi"
"line \"q\"\n"
msgstr "mehr\tzeilig"
"#;

    #[test]
    fn po_entries_flags_plurals_and_escapes() {
        let c = Catalog::from_po(Path::new("de.po"), PO.as_bytes()).unwrap();
        assert_eq!(c.get("Show All"), Some("Alle anzeigen"));
        assert_eq!(c.get("Hidden"), None, "fuzzy entries are left out");
        assert_eq!(c.get("Empty"), None);
        assert_eq!(c.get("File"), None);
        assert_eq!(c.get_in_context("menu", "File"), Some("Datei"));
        assert_eq!(c.get_plural("one item", 1), Some("ein Eintrag"));
        assert_eq!(c.get_plural("one item", 4), Some("${n} Einträge"));
        assert_eq!(c.get("one item"), Some("ein Eintrag"));
        assert_eq!(c.get("multiline \"q\"\n"), Some("mehr\tzeilig"));
    }

    #[test]
    fn po_in_its_declared_charset() {
        let src = "msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n\nmsgid \"Yes\"\nmsgstr \"J\u{e4}\"\n";
        let bytes: Vec<u8> = src.chars().map(|c| c as u32 as u8).collect();
        let c = Catalog::from_po(Path::new("x.po"), &bytes).unwrap();
        assert_eq!(c.get("Yes"), Some("Jä"));
    }

    #[test]
    fn po_errors_name_file_and_line() {
        let e = Catalog::from_po(
            Path::new("/t/locale/de.po"),
            b"msgid \"a\"\nmsgstr \"b\nmsgid \"c\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/t/locale/de.po, line 2"), "{e}");
        let e = Catalog::from_po(Path::new("de.po"), b"msgid \"a\"\nmsgfoo \"b\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("msgfoo"), "{e}");
        let e = Catalog::from_po(
            Path::new("de.po"),
            b"msgid \"\"\nmsgstr \"Plural-Forms: nplurals=2; plural=n ? ;\\n\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("plural"), "{e}");
    }

    /// A .mo built by hand in both byte orders reads back.
    #[test]
    fn mo_both_byte_orders() {
        for big in [false, true] {
            let pairs: [(&[u8], &[u8]); 3] = [
                (b"", b"Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=n>1;\n"),
                (b"Yes", b"Oui"),
                (b"file\0files", b"fichier\0fichiers"),
            ];
            let put = |v: &mut Vec<u8>, x: u32| {
                v.extend_from_slice(&if big {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                })
            };
            let n = pairs.len() as u32;
            let mut out = Vec::new();
            put(&mut out, 0x9504_12de);
            put(&mut out, 0);
            put(&mut out, n);
            put(&mut out, 28);
            put(&mut out, 28 + 8 * n);
            put(&mut out, 0);
            put(&mut out, 0);
            let mut strings = Vec::new();
            let base = 28 + 16 * n;
            let mut tables = (Vec::new(), Vec::new());
            for (k, v) in pairs {
                tables.0.push((k.len() as u32, base + strings.len() as u32));
                strings.extend_from_slice(k);
                strings.push(0);
                tables.1.push((v.len() as u32, base + strings.len() as u32));
                strings.extend_from_slice(v);
                strings.push(0);
            }
            for (l, o) in tables.0.iter().chain(tables.1.iter()) {
                put(&mut out, *l);
                put(&mut out, *o);
            }
            out.extend_from_slice(&strings);
            let c = Catalog::from_mo(Path::new("fr.mo"), &out).unwrap();
            assert_eq!(c.get("Yes"), Some("Oui"));
            assert_eq!(c.get_plural("file", 1), Some("fichier"));
            assert_eq!(c.get_plural("file", 2), Some("fichiers"));
            let e = Catalog::from_mo(Path::new("fr.mo"), &out[..40]).unwrap_err();
            assert!(e.to_string().contains("fr.mo"), "{e}");
        }
        let e = Catalog::from_mo(Path::new("x.mo"), b"junk")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.mo") && e.contains("magic"), "{e}");
    }
}
