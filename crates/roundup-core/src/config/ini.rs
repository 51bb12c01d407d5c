//! A reader for INI files with the rules of Python's `configparser` as
//! Roundup uses it (`ConfigParser` with its default settings):
//!
//! * `[section]` headers (the name is everything between the first `[` and
//!   the last `]`, case sensitive); `[DEFAULT]` holds fallbacks for every
//!   section;
//! * `name = value` or `name: value` (the first `=` or `:` splits); names
//!   are lower-cased, names and values are stripped of white space;
//! * whole-line comments start with `#` or `;` (after optional indentation);
//!   there are no inline comments;
//! * a line indented deeper than the option line continues the value
//!   (joined with newlines); blank lines inside a value are kept, trailing
//!   ones dropped; comment lines inside a value are skipped;
//! * a repeated section or option is an error, as is a line that is neither
//!   header, option nor comment, or an option before any section;
//! * values are interpolated on use: `%%` is a literal `%` and `%(name)s`
//!   the value of option `name` of the same section or of the defaults.
//!
//! `configparser` was not matched closely enough by the INI crates we
//! looked at (rust-ini, configparser): their continuation-line, comment,
//! duplicate and `%` interpolation rules differ, so this small reader
//! implements the Python rules itself.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::ConfigError;

/// One option as read from the file: its raw (not yet interpolated) value
/// and the line it started on (0 for built-in defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    /// The value with continuation lines joined by `\n`, before
    /// interpolation.
    pub raw: String,
    /// 1-based line of the `name = value` line; 0 when not from the file.
    pub line: usize,
}

/// One `[section]` of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniSection {
    /// Line of the section header.
    pub line: usize,
    /// Options in file order, keyed by lower-cased name.
    pub entries: IndexMap<String, IniEntry>,
}

/// A parsed INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    /// Where it was read from (used in messages).
    pub path: PathBuf,
    /// The `[DEFAULT]` options, including the built-in ones the reader was
    /// given.
    pub defaults: IndexMap<String, IniEntry>,
    /// The other sections, in file order.
    pub sections: IndexMap<String, IniSection>,
}

/// The deepest nesting of `%(name)s` references that is followed.
const MAX_INTERPOLATION_DEPTH: usize = 10;

impl IniFile {
    /// Reads and parses `path`. `builtin` are defaults that exist before
    /// the file is read (Roundup passes `home` and `tracker_home`); a
    /// `[DEFAULT]` section in the file may override them.
    pub fn read(path: &Path, builtin: &[(&str, &str)]) -> Result<IniFile, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            message: format!("not valid UTF-8 text ({e})"),
        })?;
        IniFile::parse(&text, path, builtin)
    }

    /// Parses `text`; `path` is only used in error messages.
    pub fn parse(
        text: &str,
        path: &Path,
        builtin: &[(&str, &str)],
    ) -> Result<IniFile, ConfigError> {
        let mut file = IniFile {
            path: path.to_path_buf(),
            defaults: builtin
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_lowercase(),
                        IniEntry {
                            raw: (*v).to_string(),
                            line: 0,
                        },
                    )
                })
                .collect(),
            sections: IndexMap::new(),
        };
        let err = |line: usize, message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };

        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = text.replace("\r\n", "\n").replace('\r', "\n");

        // Current section: None before the first header, Some(None) for
        // [DEFAULT], Some(Some(name)) otherwise.
        let mut current: Option<Option<String>> = None;
        // Current option being collected, with its value lines.
        let mut option: Option<(String, usize, Vec<String>)> = None;
        let mut indent_level = 0usize;

        // Stores the finished option into its section.
        fn flush(
            file: &mut IniFile,
            current: &Option<Option<String>>,
            option: &mut Option<(String, usize, Vec<String>)>,
        ) {
            if let Some((name, line, lines)) = option.take() {
                let raw = lines.join("\n").trim_end().to_string();
                let entry = IniEntry { raw, line };
                match current {
                    Some(Some(section)) => {
                        if let Some(sec) = file.sections.get_mut(section) {
                            sec.entries.insert(name, entry);
                        }
                    }
                    Some(None) => {
                        file.defaults.insert(name, entry);
                    }
                    None => {}
                }
            }
        }

        for (idx, line) in text.split('\n').enumerate() {
            let lineno = idx + 1;
            let stripped = line.trim();
            let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
            if stripped.is_empty() || is_comment {
                // A blank line inside a value is kept (trailing ones are
                // trimmed when the value is finished); comments are skipped.
                if !is_comment {
                    if let Some((_, _, lines)) = option.as_mut() {
                        lines.push(String::new());
                    }
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|c| c.is_whitespace()).count();
            if option.is_some() && cur_indent > indent_level {
                if let Some((_, _, lines)) = option.as_mut() {
                    lines.push(stripped.to_string());
                }
                continue;
            }
            flush(&mut file, &current, &mut option);
            indent_level = cur_indent;

            if let Some(header) = section_header(stripped) {
                if header == "DEFAULT" {
                    current = Some(None);
                } else {
                    if file.sections.contains_key(header) {
                        return Err(err(
                            lineno,
                            format!("section [{header}] appears more than once"),
                        ));
                    }
                    file.sections.insert(
                        header.to_string(),
                        IniSection {
                            line: lineno,
                            entries: IndexMap::new(),
                        },
                    );
                    current = Some(Some(header.to_string()));
                }
                continue;
            }
            let Some(section) = current.as_ref() else {
                return Err(err(
                    lineno,
                    format!("{stripped:?} comes before any [section] header"),
                ));
            };
            let Some(split) = stripped.find(['=', ':']) else {
                return Err(err(
                    lineno,
                    format!("{stripped:?} is not a section header, an option (name = value) or a comment"),
                ));
            };
            let name = stripped[..split].trim_end().to_lowercase();
            if name.is_empty() {
                return Err(err(lineno, format!("{stripped:?} has no option name")));
            }
            let value = stripped[split + 1..].trim().to_string();
            let duplicate = match section {
                Some(s) => file
                    .sections
                    .get(s)
                    .is_some_and(|sec| sec.entries.contains_key(&name)),
                None => file.defaults.get(&name).is_some_and(|e| e.line > 0),
            };
            if duplicate {
                let shown = section.as_deref().unwrap_or("DEFAULT");
                return Err(err(
                    lineno,
                    format!("option {name:?} appears more than once in section [{shown}]"),
                ));
            }
            option = Some((name, lineno, vec![value]));
        }
        flush(&mut file, &current, &mut option);
        Ok(file)
    }

    /// Whether `section` is present (`[DEFAULT]` does not count).
    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// The entry `configparser` would use for `[section] option`: the
    /// section's own, else the default one; nothing when the section is not
    /// in the file at all.
    pub fn lookup(&self, section: &str, option: &str) -> Option<&IniEntry> {
        let sec = self.sections.get(section)?;
        let key = option.to_lowercase();
        sec.entries.get(&key).or_else(|| self.defaults.get(&key))
    }

    /// The interpolated value of `[section] option` (see [`IniFile::lookup`]).
    pub fn get(&self, section: &str, option: &str) -> Option<Result<String, ConfigError>> {
        let entry = self.lookup(section, option)?;
        Some(self.interpolate(section, option, entry))
    }

    /// Expands `%%` and `%(name)s` in an entry of `section`.
    pub fn interpolate(
        &self,
        section: &str,
        option: &str,
        entry: &IniEntry,
    ) -> Result<String, ConfigError> {
        let mut out = String::new();
        self.expand(section, &entry.raw, 1, &mut out)
            .map_err(|message| ConfigError::Interpolation {
                path: self.path.clone(),
                line: if entry.line > 0 {
                    Some(entry.line)
                } else {
                    None
                },
                section: section.to_string(),
                option: option.to_lowercase(),
                message,
            })?;
        Ok(out)
    }

    fn expand(
        &self,
        section: &str,
        text: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(format!(
                "%(name)s references nested more than {MAX_INTERPOLATION_DEPTH} deep (a loop?)"
            ));
        }
        let mut rest = text;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            rest = &rest[pos..];
            let after = &rest[1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
            } else if let Some(inner) = after.strip_prefix('(') {
                let close = inner
                    .find(')')
                    .filter(|&c| c > 0 && inner[c + 1..].starts_with('s'));
                let Some(close) = close else {
                    return Err(format!(
                        "bad %(name)s reference in {rest:?}; write %% for a literal %"
                    ));
                };
                let name = inner[..close].to_lowercase();
                rest = &inner[close + 2..];
                let value = self
                    .sections
                    .get(section)
                    .and_then(|s| s.entries.get(&name))
                    .or_else(|| self.defaults.get(&name))
                    .ok_or_else(|| {
                        format!("%({name})s refers to an option that is not in this section or [DEFAULT]")
                    })?;
                if value.raw.contains('%') {
                    self.expand(section, &value.raw, depth + 1, out)?;
                } else {
                    out.push_str(&value.raw);
                }
            } else {
                return Err(format!(
                    "'%' must be followed by '%' or '(' but is followed by {after:?}; write %% for a literal %"
                ));
            }
        }
        out.push_str(rest);
        Ok(())
    }
}

/// The name inside a `[...]` header line, if the line is one.
fn section_header(stripped: &str) -> Option<&str> {
    let inner = stripped.strip_prefix('[')?;
    let end = inner.rfind(']')?;
    if end == 0 {
        return None;
    }
    Some(&inner[..end])
}

/// Escapes a value for writing: `%` doubled, continuation lines indented.
pub fn escape_value(value: &str) -> String {
    value.replace('%', "%%").replace('\n', "\n\t")
}

/// A free-form configuration such as `detectors/config.ini` or
/// `extensions/config.ini`: every option found is kept as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    home: PathBuf,
    path: PathBuf,
    sections: IndexMap<String, IndexMap<String, String>>,
}

impl UserConfig {
    /// Loads `path`, which is either a directory (then its `config.ini` is
    /// read) or the file itself. A missing file gives an empty
    /// configuration, as in Roundup. `%(home)s` in values expands to the
    /// directory holding the file. Options that also appear in `[DEFAULT]`
    /// are left out, like Roundup does.
    pub fn load(path: &Path) -> Result<UserConfig, ConfigError> {
        let (home, file) = if path.is_dir() {
            (path.to_path_buf(), path.join("config.ini"))
        } else {
            (
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
                path.to_path_buf(),
            )
        };
        let mut uc = UserConfig {
            home: home.clone(),
            path: file.clone(),
            sections: IndexMap::new(),
        };
        if !file.is_file() {
            return Ok(uc);
        }
        let home_text = home.to_string_lossy().into_owned();
        let ini = IniFile::read(&file, &[("home", &home_text)])?;
        for (name, section) in &ini.sections {
            let mut values = IndexMap::new();
            for (option, entry) in &section.entries {
                if ini.defaults.contains_key(option) {
                    continue;
                }
                values.insert(option.clone(), ini.interpolate(name, option, entry)?);
            }
            uc.sections.insert(name.clone(), values);
        }
        Ok(uc)
    }

    /// The directory the configuration belongs to.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The file it was (or would be) read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All sections and their options (lower-cased names), in file order.
    pub fn sections(&self) -> &IndexMap<String, IndexMap<String, String>> {
        &self.sections
    }

    /// The value of `[section] option` (option name in any case).
    pub fn get_in(&self, section: &str, option: &str) -> Option<&str> {
        self.sections
            .get(section)?
            .get(&option.to_lowercase())
            .map(String::as_str)
    }

    /// The value under Roundup's upper-case name: `OPTION` for `[main]`,
    /// `SECTION_OPTION` otherwise (e.g. `STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS`).
    /// When two options map to the same name, the later one wins.
    pub fn get(&self, name: &str) -> Option<&str> {
        let wanted = name.to_uppercase();
        self.items()
            .into_iter()
            .rev()
            .find(|(n, _)| *n == wanted)
            .map(|(_, v)| v)
    }

    /// Every option as (Roundup upper-case name, value), in file order.
    pub fn items(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for (section, options) in &self.sections {
            for (option, value) in options {
                let name = if section == "main" {
                    option.to_uppercase()
                } else {
                    format!("{}_{}", section.to_uppercase(), option.to_uppercase())
                };
                out.push((name, value.as_str()));
            }
        }
        out
    }

    /// Whether no option was found.
    pub fn is_empty(&self) -> bool {
        self.sections.values().all(IndexMap::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IniFile, ConfigError> {
        IniFile::parse(text, Path::new("t.ini"), &[("home", "/h")])
    }

    #[test]
    fn basic_syntax() {
        let f = parse(
            "# c\n; c\n[a]\nX = 1\ny: two words \n  # indented comment\nz=\n  l1\n\n  l2\n\n\n[b]\nk = v=w:x\n",
        )
        .unwrap();
        assert_eq!(f.get("a", "x").unwrap().unwrap(), "1");
        assert_eq!(f.get("a", "Y").unwrap().unwrap(), "two words");
        assert_eq!(f.get("a", "z").unwrap().unwrap(), "\nl1\n\nl2");
        assert_eq!(f.get("b", "k").unwrap().unwrap(), "v=w:x");
        assert_eq!(f.lookup("a", "x").unwrap().line, 4);
    }

    #[test]
    fn defaults_and_interpolation() {
        let f = parse("[DEFAULT]\nd = dv\n[a]\np = %(home)s/x %(D)s 100%%\nq = %(p)s!\n").unwrap();
        assert_eq!(f.get("a", "p").unwrap().unwrap(), "/h/x dv 100%");
        assert_eq!(f.get("a", "q").unwrap().unwrap(), "/h/x dv 100%!");
        assert_eq!(f.get("a", "d").unwrap().unwrap(), "dv");
        assert!(f.get("missing", "d").is_none());
        let bad = parse("[a]\np = 5% off\n").unwrap();
        let e = bad.get("a", "p").unwrap().unwrap_err().to_string();
        assert!(e.contains("t.ini line 2") && e.contains("[a] p"), "{e}");
        let missing = parse("[a]\np = %(nope)s\n").unwrap();
        assert!(missing.get("a", "p").unwrap().is_err());
        let looped = parse("[a]\np = %(q)s\nq = %(p)s\n").unwrap();
        assert!(looped.get("a", "p").unwrap().is_err());
    }

    #[test]
    fn syntax_errors() {
        for (text, line) in [
            ("x = 1\n", 1),
            ("[a]\nx = 1\nx = 2\n", 3),
            ("[a]\n[a]\n", 2),
            ("[a]\njunk line\n", 2),
            ("[a]\n= v\n", 2),
        ] {
            match parse(text) {
                Err(ConfigError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
