//! Message translation, as Roundup does it: which language a request
//! gets, which catalogs that language reads, and how a message is
//! looked up. (How a page template builds its message ids and fills in
//! `${name}` is the template language's, in roundup-tal.)
//!
//! A language reads, best first: the tracker home's `locale/<lang>.po`
//! (or `.mo`), then `<dir>/<lang>/LC_MESSAGES/roundup.mo` of each system
//! locale directory, and, unless the language is English, the same for
//! `en`. A message no catalog has is shown as written. The system
//! directories are those of `ROUNDUP_LOCALE_PATH` (`:`-separated), then
//! `share/locale` beside the program, `/usr/local/share/locale` and
//! `/usr/share/locale`: where a Roundup installation keeps the catalogs
//! of its own messages.
//!
//! Catalogs are read once and read again when their file changes.
//! The reader is our own (see [`catalog`]): Roundup reads a tracker's
//! `.po` sources directly, in whatever charset they declare, and its
//! fallback chain needs to know whether a catalog has a message, which
//! the gettext crates do not tell.

pub mod catalog;
pub mod plural;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub use catalog::{Catalog, CatalogError};

/// The catalogs of one language, best first.
#[derive(Debug, Default)]
pub struct Translator {
    languages: Vec<String>,
    chain: Vec<Arc<Catalog>>,
}

impl Translator {
    /// Messages as written.
    pub fn null() -> Arc<Translator> {
        Arc::new(Translator::default())
    }

    /// The language names asked for (before expansion); empty for the
    /// process's own locale.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// The catalog files read, best first.
    pub fn files(&self) -> Vec<&Path> {
        self.chain.iter().map(|c| c.file.as_path()).collect()
    }

    pub fn gettext<'a>(&'a self, msgid: &'a str) -> &'a str {
        self.chain
            .iter()
            .find_map(|c| c.get(msgid))
            .unwrap_or(msgid)
    }

    pub fn ngettext<'a>(&'a self, one: &'a str, many: &'a str, n: u64) -> &'a str {
        self.chain
            .iter()
            .find_map(|c| c.get_plural(one, n))
            .unwrap_or(if n == 1 { one } else { many })
    }

    pub fn pgettext<'a>(&'a self, ctx: &str, msgid: &'a str) -> &'a str {
        self.chain
            .iter()
            .find_map(|c| c.get_in_context(ctx, msgid))
            .unwrap_or(msgid)
    }
}

/// Roundup's `self._(msgid) % values`: `msgid` in the translator's
/// language, then its placeholders filled in as Python's `%` does
/// (see [`py_format`]). Roundup's actions, client and templating fill
/// in their messages this way; `args` name the `%(name)s`
/// values, and positional `%s` take them in order (names ignored).
pub fn tr_fmt(t: &Translator, msgid: &str, args: &[(&str, &str)]) -> String {
    py_format(t.gettext(msgid), args)
}

/// [`tr_fmt`] for a message with a plural (Roundup's `ngettext(one,
/// many, n) % values`).
pub fn tr_nfmt(t: &Translator, one: &str, many: &str, n: u64, args: &[(&str, &str)]) -> String {
    py_format(t.ngettext(one, many, n), args)
}

/// Python's `template % values` for the conversions messages use:
/// `%(name)s` takes the value named `name`, a bare `%s` the next value
/// in order, `%%` is `%` (`d`, `i` and `r` conversions too; flags, width
/// and precision are accepted and ignored). What Python would refuse
/// (an unknown name, a broken conversion) is left as written.
pub fn py_format(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut next = 0;
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let spec = &rest[i + 1..];
        if let Some(after) = spec.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let (name, after_name) = match spec.strip_prefix('(') {
            Some(named) => match named.find(')') {
                Some(j) => (Some(&named[..j]), &named[j + 1..]),
                None => (None, ""),
            },
            None => (None, spec),
        };
        // flags, width, precision
        let skip = after_name
            .find(|ch: char| !matches!(ch, '-' | '+' | ' ' | '#' | '.' | '0'..='9'))
            .unwrap_or(after_name.len());
        let conv = after_name[skip..].chars().next();
        let value = match (conv, name) {
            (Some('s' | 'd' | 'i' | 'r'), Some(n)) => {
                args.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
            }
            (Some('s' | 'd' | 'i' | 'r'), None) => {
                next += 1;
                args.get(next - 1).map(|(_, v)| *v)
            }
            _ => None,
        };
        match (value, conv) {
            (Some(v), Some(c)) => {
                if c == 'r' {
                    out.push('\'');
                    out.push_str(v);
                    out.push('\'');
                } else {
                    out.push_str(v);
                }
                rest = &after_name[skip + 1..];
            }
            _ => {
                out.push('%');
                rest = spec;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The locale names to try for `lang`, most specific first
/// (`de_AT.UTF-8@euro` → `de_AT.UTF-8@euro`, `de_AT@euro`, ... `de`), as
/// Python's gettext expands them; the language part is lower case and
/// the territory upper case.
pub fn expand(lang: &str) -> Vec<String> {
    let lang = lang.trim().to_string();
    if lang.is_empty() {
        return Vec::new();
    }
    let (rest, modifier) = match lang.split_once('@') {
        Some((a, m)) => (a.to_string(), Some(format!("@{m}"))),
        None => (lang.clone(), None),
    };
    let (rest, codeset) = match rest.split_once('.') {
        Some((a, c)) => (a.to_string(), Some(format!(".{c}"))),
        None => (rest, None),
    };
    let rest = rest.replace('-', "_");
    let (language, territory) = match rest.split_once('_') {
        Some((a, t)) => (
            a.to_ascii_lowercase(),
            Some(format!("_{}", t.to_ascii_uppercase())),
        ),
        None => (rest.to_ascii_lowercase(), None),
    };
    if language == "c" || language == "posix" {
        return vec!["C".into()];
    }
    let mut out = Vec::new();
    // bit 1: codeset, 2: territory, 4: modifier; all present parts first
    for mask in (0..8u8).rev() {
        let part = |bit: u8, v: &Option<String>| -> Option<String> {
            if mask & bit == 0 {
                Some(String::new())
            } else {
                v.clone()
            }
        };
        let (Some(t), Some(c), Some(m)) =
            (part(2, &territory), part(1, &codeset), part(4, &modifier))
        else {
            continue;
        };
        let name = format!("{language}{t}{c}{m}");
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Every name of each language in turn, without repeats.
pub fn find_locales(languages: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in languages {
        for x in expand(l) {
            if !out.contains(&x) {
                out.push(x);
            }
        }
    }
    out
}

/// The process's languages: the first of `LANGUAGE`, `LC_ALL`,
/// `LC_MESSAGES`, `LANG` that is set, split at `:`.
pub fn env_languages() -> Vec<String> {
    for var in ["LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v.split(':').map(str::to_string).collect();
            }
        }
    }
    Vec::new()
}

/// The languages of an `Accept-Language` header, best first (equal
/// weights keep their order), `-` written `_`.
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    let mut weighted: Vec<(f64, usize, String)> = Vec::new();
    for (order, part) in compact.split(',').enumerate() {
        let (tag, q) = match part.split_once(";q=") {
            Some((t, q)) => match q.parse::<f64>() {
                Ok(q) if q.is_finite() => (t, q),
                _ => continue,
            },
            None => (part, 1.0),
        };
        let ok = !tag.is_empty()
            && tag
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphabetic()));
        if ok {
            weighted.push((q, order, tag.replace('-', "_")));
        }
    }
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    weighted.into_iter().map(|(_, _, t)| t).collect()
}

/// A web request's language, as Roundup chooses it: the `@language`
/// form value (`none` for the tracker's), else the `roundup_language`
/// cookie, else (with `[web] use_browser_language`) the browser's
/// `Accept-Language`, and when that gives nothing the tracker's
/// `[tracker] language`, then the process's locale. Besides the
/// languages to try it says what to store in the cookie: `@language`
/// sets it (empty: removes it).
pub fn choose_language(
    form: Option<&str>,
    cookie: Option<&str>,
    accept_language: Option<&str>,
    use_browser_language: bool,
    tracker_language: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let mut set_cookie = None;
    let mut chosen: Vec<String> = match form {
        Some(l) => {
            let l = if l.eq_ignore_ascii_case("none") {
                ""
            } else {
                l
            };
            set_cookie = Some(l.to_string());
            vec![l.to_string()]
        }
        None => match cookie {
            Some(c) => vec![c.to_string()],
            None if use_browser_language => accept_language
                .map(parse_accept_language)
                .unwrap_or_default(),
            None => Vec::new(),
        },
    };
    chosen.retain(|l| !l.is_empty());
    if chosen.is_empty() {
        if let Some(t) = tracker_language.filter(|t| !t.is_empty()) {
            chosen.push(t.to_string());
        }
    }
    (chosen, set_cookie)
}

/// The system locale directories (see the module documentation), those
/// that exist.
pub fn system_locale_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("ROUNDUP_LOCALE_PATH") {
        dirs.extend(p.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(Path::to_path_buf))
    {
        dirs.push(prefix.join("share/locale"));
    }
    dirs.push("/usr/local/share/locale".into());
    dirs.push("/usr/share/locale".into());
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if d.is_dir() && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// How long a language's list of catalog files is trusted before the
/// files are looked at again (a changed catalog shows within this).
const RECHECK: Duration = Duration::from_secs(2);

/// A tracker's catalogs: where they are, and those read so far.
#[derive(Debug)]
pub struct Catalogs {
    tracker_locale: Option<PathBuf>,
    system: Vec<PathBuf>,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    translators: HashMap<Vec<String>, (Instant, Arc<Translator>)>,
    files: HashMap<PathBuf, (SystemTime, Arc<Catalog>)>,
}

impl Catalogs {
    /// The catalogs of the tracker at `home` (its `locale/`) and of the
    /// system.
    pub fn for_tracker(home: &Path) -> Catalogs {
        Catalogs::with_dirs(Some(home.join("locale")), system_locale_dirs())
    }

    pub fn with_dirs(tracker_locale: Option<PathBuf>, system: Vec<PathBuf>) -> Catalogs {
        Catalogs {
            tracker_locale,
            system,
            state: Mutex::default(),
        }
    }

    /// The translator for these languages (empty: the process's locale).
    pub fn translator(&self, languages: &[String]) -> Result<Arc<Translator>, CatalogError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, t)) = st.translators.get(languages) {
            if at.elapsed() < RECHECK {
                return Ok(t.clone());
            }
        }
        let names = if languages.is_empty() {
            env_languages()
        } else {
            languages.to_vec()
        };
        let mut locales = find_locales(&names);
        let mut files: Vec<PathBuf> = Vec::new();
        self.files_for(&locales, &mut files);
        if !locales.iter().any(|l| l == "en") {
            locales = find_locales(&["en".to_string()]);
            self.files_for(&locales, &mut files);
        }
        let mut chain = Vec::with_capacity(files.len());
        for f in files {
            let mtime = std::fs::metadata(&f)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let cat = match st.files.get(&f) {
                Some((t, c)) if *t == mtime => c.clone(),
                _ => {
                    let c = Arc::new(Catalog::read(&f)?);
                    st.files.insert(f.clone(), (mtime, c.clone()));
                    c
                }
            };
            if !chain.iter().any(|c: &Arc<Catalog>| Arc::ptr_eq(c, &cat)) {
                chain.push(cat);
            }
        }
        let t = Arc::new(Translator {
            languages: languages.to_vec(),
            chain,
        });
        st.translators
            .insert(languages.to_vec(), (Instant::now(), t.clone()));
        Ok(t)
    }

    /// The first catalog of `locales` in the tracker's directory, then
    /// in each system directory.
    fn files_for(&self, locales: &[String], out: &mut Vec<PathBuf>) {
        if let Some(dir) = &self.tracker_locale {
            if let Some(f) = find_file(locales, |l| dir.join(l)) {
                out.push(f);
            }
        }
        for dir in &self.system {
            if let Some(f) = find_file(locales, |l| dir.join(l).join("LC_MESSAGES").join("roundup"))
            {
                out.push(f);
            }
        }
    }
}

/// The catalog file of the first locale that has one: its `.po` when
/// that is newer than its `.mo` (Roundup would compile it), else its
/// `.mo`. `C` ends the search.
fn find_file(locales: &[String], base: impl Fn(&str) -> PathBuf) -> Option<PathBuf> {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    for l in locales {
        if l == "C" {
            break;
        }
        let b = base(l);
        let mo = PathBuf::from(format!("{}.mo", b.display()));
        let po = PathBuf::from(format!("{}.po", b.display()));
        match (mtime(&mo), mtime(&po)) {
            (Some(m), Some(p)) if p > m => return Some(po),
            (Some(_), _) => return Some(mo),
            (None, Some(_)) => return Some(po),
            (None, None) => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_percent_formatting() {
        let v = [("class", "issue"), ("id", "3")];
        assert_eq!(py_format("%(class)s %(id)s created", &v), "issue 3 created");
        assert_eq!(py_format("Error: %s", &[("", "bad")]), "Error: bad");
        assert_eq!(
            py_format("100%% %s, %s", &[("", "a"), ("", "b")]),
            "100% a, b"
        );
        assert_eq!(py_format("%(input)r", &[("input", "x")]), "'x'");
        assert_eq!(py_format("%(id)d items", &v), "3 items");
        // what Python would refuse stays as written
        assert_eq!(
            py_format("%(nope)s and 50% off", &v),
            "%(nope)s and 50% off"
        );
        assert_eq!(py_format("trailing %", &[]), "trailing %");
        assert_eq!(py_format("%(open", &v), "%(open");
        assert_eq!(py_format("Übersicht %s", &[("", "ä")]), "Übersicht ä");
    }

    #[test]
    fn locale_names_expand_like_gettext() {
        assert_eq!(expand("de"), vec!["de"]);
        assert_eq!(expand("pt-br"), vec!["pt_BR", "pt"]);
        assert_eq!(
            expand("de_AT.UTF-8@euro"),
            vec![
                "de_AT.UTF-8@euro",
                "de_AT@euro",
                "de.UTF-8@euro",
                "de@euro",
                "de_AT.UTF-8",
                "de_AT",
                "de.UTF-8",
                "de"
            ]
        );
        assert_eq!(expand("C.UTF-8"), vec!["C"]);
        assert_eq!(
            find_locales(&["de_DE".into(), "de".into(), "en".into()]),
            vec!["de_DE", "de", "en"]
        );
    }

    #[test]
    fn accept_language_by_weight() {
        assert_eq!(
            parse_accept_language("da, en-gb;q=0.8, en;q=0.7"),
            vec!["da", "en_gb", "en"]
        );
        assert_eq!(parse_accept_language("en;q=0.2, fr;q=1"), vec!["fr", "en"]);
        assert_eq!(
            parse_accept_language("zn; q = 0.2 ,pt-br;q =1"),
            vec!["pt_br", "zn"]
        );
        assert_eq!(parse_accept_language("   "), Vec::<String>::new());
        assert_eq!(parse_accept_language("en,;q=x,*"), vec!["en"]);
    }

    #[test]
    fn language_choice_order() {
        let c = |f, k, a, b, t| choose_language(f, k, a, b, t);
        assert_eq!(
            c(Some("fr"), Some("de"), None, true, None),
            (vec!["fr".into()], Some("fr".into()))
        );
        assert_eq!(
            c(Some("none"), None, None, true, Some("de")),
            (vec!["de".into()], Some(String::new()))
        );
        assert_eq!(
            c(None, Some("it"), Some("fr"), true, Some("de")).0,
            vec!["it"]
        );
        assert_eq!(
            c(None, None, Some("fr, en;q=0.5"), true, Some("de")).0,
            vec!["fr", "en"]
        );
        assert_eq!(c(None, None, Some("fr"), false, Some("de")).0, vec!["de"]);
        assert_eq!(c(None, None, None, true, None).0, Vec::<String>::new());
    }

    #[test]
    fn tracker_catalog_first_then_system_then_english() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let sys = dir.path().join("sys");
        std::fs::create_dir_all(home.join("locale")).unwrap();
        std::fs::create_dir_all(sys.join("de/LC_MESSAGES")).unwrap();
        std::fs::create_dir_all(sys.join("en/LC_MESSAGES")).unwrap();
        let po = |pairs: &[(&str, &str)]| {
            let mut s =
                String::from("msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\\n\"\n");
            for (k, v) in pairs {
                s.push_str(&format!("\nmsgid \"{k}\"\nmsgstr \"{v}\"\n"));
            }
            s
        };
        std::fs::write(home.join("locale/de.po"), po(&[("Issue", "Vorgang")])).unwrap();
        std::fs::write(
            sys.join("de/LC_MESSAGES/roundup.po"),
            po(&[("Issue", "Problem"), ("Search", "Suche")]),
        )
        .unwrap();
        std::fs::write(
            sys.join("en/LC_MESSAGES/roundup.po"),
            po(&[("Login", "Log in")]),
        )
        .unwrap();
        let cats = Catalogs::with_dirs(Some(home.join("locale")), vec![sys.clone()]);
        let t = cats.translator(&["de".into()]).unwrap();
        assert_eq!(t.gettext("Issue"), "Vorgang");
        assert_eq!(t.gettext("Search"), "Suche");
        assert_eq!(t.gettext("Login"), "Log in");
        assert_eq!(t.gettext("Other"), "Other");
        assert_eq!(t.files().len(), 3);
        let en = cats.translator(&["en_US".into()]).unwrap();
        assert_eq!(en.gettext("Issue"), "Issue");
        assert_eq!(en.gettext("Login"), "Log in");
        // a broken catalog is an error naming it
        std::fs::write(home.join("locale/fr.po"), "msgid \"x\"\nbogus\n").unwrap();
        let e = cats.translator(&["fr".into()]).unwrap_err().to_string();
        assert!(e.contains("fr.po, line 2"), "{e}");
    }
}
