//! Reading a `[logging] config` file: Python's logging configuration in
//! either of the two forms Roundup 2.6 accepts, chosen by the file name
//! as Roundup chooses it:
//!
//! * `*.ini`: the `fileConfig` format (`[loggers]`, `[handlers]`,
//!   `[formatters]` with their `keys`, and `[logger_x]`, `[handler_x]`,
//!   `[formatter_x]` sections; handler `args` and `kwargs` are Python
//!   literals, `sys.stderr`/`sys.stdout` allowed);
//! * `*.json`: the `dictConfig` schema (version 1), with Roundup's comment
//!   rule: a line whose first non-blank text is `//` is blank, and
//!   `//` after at least three blanks ends the line.
//!
//! What is read: loggers (level, handlers, propagate; the root logger),
//! handlers of the classes `StreamHandler` (standard error or output),
//! `FileHandler` and `WatchedFileHandler` (a file, appended to; mode `w`
//! empties it first), `RotatingFileHandler` (`maxBytes`, `backupCount`)
//! and `NullHandler`, with their level and formatter, and formatters
//! (`format` in `%` style, `datefmt`). Everything else a Python
//! configuration can say (filters, custom classes and factories, other
//! handler classes, `{`/`$` styles, incremental configuration) is left
//! out with a warning naming the file and the key; a handler of a class
//! that is not supported is dropped, except `TimedRotatingFileHandler`,
//! which writes its file without rotating it.
//!
//! A file that cannot be read or parsed, or that names a level, handler
//! or formatter that does not exist, is an error naming the file and the
//! key, as it stops Roundup from starting too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use roundup_core::config::ini::IniFile;
use roundup_core::pyrepr::{self, PyValue};

/// Python's numeric levels.
pub(crate) const NOTSET: u32 = 0;
pub(crate) const WARNING: u32 = 30;

/// Where a handler writes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Target {
    Stderr,
    Stdout,
    /// Appended to (opened for each line, so another process's rotation
    /// or a logrotate run is followed, as `WatchedFileHandler` does).
    File(PathBuf),
    Rotating {
        path: PathBuf,
        max_bytes: u64,
        backups: u32,
    },
    Null,
}

/// A formatter: Python's `%`-style format and `time.strftime` date format.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Format {
    pub fmt: String,
    pub datefmt: Option<String>,
}

impl Default for Format {
    /// Python's `Formatter()`.
    fn default() -> Format {
        Format {
            fmt: "%(message)s".into(),
            datefmt: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Handler {
    pub name: String,
    pub level: u32,
    pub target: Target,
    pub format: Format,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Logger {
    /// `NOTSET` (0) takes the parent's level.
    pub level: u32,
    /// Indexes into [`LogSetup::handlers`].
    pub handlers: Vec<usize>,
    pub propagate: bool,
}

/// A logging configuration: the loggers by dotted name (`""` is the
/// root) and their handlers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LogSetup {
    pub loggers: HashMap<String, Logger>,
    pub handlers: Vec<Handler>,
    /// What of the file was left out, one sentence each.
    pub warnings: Vec<String>,
}

impl LogSetup {
    /// The loggers a record of logger `name` passes through, nearest
    /// first, ending with the root (Python's propagation).
    pub fn chain<'a>(&'a self, name: &str) -> Vec<&'a Logger> {
        let mut out = Vec::new();
        let mut current = name.to_string();
        loop {
            if let Some(l) = self.loggers.get(&current) {
                out.push(l);
            }
            if current.is_empty() {
                break;
            }
            current = match current.rfind('.') {
                Some(i) => current[..i].to_string(),
                None => String::new(),
            };
        }
        out
    }

    /// The level deciding whether logger `name` logs a record at all:
    /// its own, else its nearest ancestor's that is set.
    pub fn effective_level(&self, name: &str) -> u32 {
        self.chain(name)
            .iter()
            .map(|l| l.level)
            .find(|&l| l != NOTSET)
            .unwrap_or(NOTSET)
    }
}

/// Why a logging configuration file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[logging] config {}: {message}", path.display())]
pub struct LogConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// Read the file `path` names, by its extension.
pub(crate) fn load(path: &Path) -> Result<LogSetup, LogConfigError> {
    let fail = |message: String| LogConfigError {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let name = path.to_string_lossy();
    if name.ends_with(".ini") {
        let ini = IniFile::read(path, &[]).map_err(|e| fail(e.to_string()))?;
        from_ini(&ini).map_err(fail)
    } else if name.ends_with(".json") {
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let value = parse_commented_json(&text).map_err(fail)?;
        from_dict(&value, path).map_err(fail)
    } else {
        Err(fail(
            "the file name must end in .ini (fileConfig) or .json (dictConfig)".into(),
        ))
    }
}

/// A level name or number.
pub(crate) fn parse_level(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.to_ascii_uppercase().as_str() {
        "NOTSET" => Some(0),
        "DEBUG" => Some(10),
        "INFO" => Some(20),
        "WARNING" | "WARN" => Some(30),
        "ERROR" => Some(40),
        "CRITICAL" | "FATAL" => Some(50),
        _ => t.parse().ok(),
    }
}

/// The handler class a configuration names, without its module.
fn handler_class(class: &str) -> &str {
    let c = class.trim();
    let c = c.strip_prefix("logging.").unwrap_or(c);
    c.strip_prefix("handlers.").unwrap_or(c)
}

/// What a handler's constructor arguments come to, positional or by
/// keyword (the same for both formats).
struct HandlerArgs<'a> {
    /// `[handler_x]` or `handlers.x`, for messages.
    key: String,
    positional: Vec<PyValue>,
    named: Vec<(String, PyValue)>,
    warnings: &'a mut Vec<String>,
    file: &'a str,
}

impl HandlerArgs<'_> {
    fn get(&self, pos: usize, name: &str) -> Option<&PyValue> {
        self.named
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .or_else(|| self.positional.get(pos))
    }

    fn text(&self, pos: usize, name: &str) -> Result<Option<String>, String> {
        match self.get(pos, name) {
            None | Some(PyValue::None) => Ok(None),
            Some(PyValue::Str(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "{}: {name} must be a string, not {}",
                self.key,
                pyrepr::repr(other)
            )),
        }
    }

    fn number(&self, pos: usize, name: &str) -> Result<Option<i64>, String> {
        match self.get(pos, name) {
            None => Ok(None),
            Some(PyValue::Int(n)) => Ok(Some(*n)),
            Some(PyValue::Str(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
            Some(other) => Err(format!(
                "{}: {name} must be a number, not {}",
                self.key,
                pyrepr::repr(other)
            )),
        }
    }

    fn target(&mut self, class: &str) -> Result<Option<Target>, String> {
        let path = |me: &Self| -> Result<PathBuf, String> {
            me.text(0, "filename")?
                .map(PathBuf::from)
                .ok_or_else(|| format!("{}: {class} needs a filename", me.key))
        };
        let truncate = |me: &Self, p: &Path| -> Result<(), String> {
            if me.text(1, "mode")?.as_deref() == Some("w") {
                std::fs::File::create(p)
                    .map_err(|e| format!("{}: {}: {e}", me.key, p.display()))?;
            }
            Ok(())
        };
        Ok(Some(match handler_class(class) {
            "StreamHandler" => match self.text(0, "stream")?.as_deref() {
                None | Some("ext://sys.stderr") => Target::Stderr,
                Some("ext://sys.stdout") => Target::Stdout,
                Some(other) => {
                    return Err(format!(
                        "{}: stream {other:?} is not sys.stderr or sys.stdout",
                        self.key
                    ))
                }
            },
            "FileHandler" | "WatchedFileHandler" => {
                let p = path(self)?;
                truncate(self, &p)?;
                Target::File(p)
            }
            "RotatingFileHandler" => {
                let p = path(self)?;
                let max_bytes = self.number(2, "maxBytes")?.unwrap_or(0).max(0) as u64;
                let backups = self.number(3, "backupCount")?.unwrap_or(0).max(0) as u32;
                if max_bytes == 0 {
                    truncate(self, &p)?;
                }
                Target::Rotating {
                    path: p,
                    max_bytes,
                    backups,
                }
            }
            "TimedRotatingFileHandler" => {
                self.warnings.push(format!(
                    "{}: {}: class TimedRotatingFileHandler is not supported; the file is written without rotating it",
                    self.file, self.key
                ));
                Target::File(path(self)?)
            }
            "NullHandler" => Target::Null,
            other => {
                self.warnings.push(format!(
                    "{}: {}: class {other} is not supported; the handler is left out",
                    self.file, self.key
                ));
                return Ok(None);
            }
        }))
    }
}

/// Python's `fileConfig`.
fn from_ini(ini: &IniFile) -> Result<LogSetup, String> {
    let file = ini.path.display().to_string();
    let get = |section: &str, option: &str| -> Result<Option<String>, String> {
        match ini.get(section, option) {
            None => Ok(None),
            Some(r) => r.map(Some).map_err(|e| e.to_string()),
        }
    };
    let keys = |section: &str| -> Result<Vec<String>, String> {
        Ok(get(section, "keys")?
            .unwrap_or_default()
            .split(',')
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect())
    };
    // A section's level, `default` when it names none.
    let level_in = |sect: &str, default: u32| -> Result<u32, String> {
        match get(sect, "level")? {
            Some(l) => {
                parse_level(&l).ok_or_else(|| format!("[{sect}] level: unknown level {l:?}"))
            }
            None => Ok(default),
        }
    };
    let mut warnings = Vec::new();

    let mut formats = HashMap::new();
    for key in keys("formatters")? {
        let sect = format!("formatter_{key}");
        if !ini.has_section(&sect) {
            return Err(format!(
                "[formatters] keys names {key}, but there is no [{sect}]"
            ));
        }
        // The format is read raw: its %(...)s are logging's, not the
        // INI file's interpolation.
        let raw = |opt: &str| ini.lookup(&sect, opt).map(|e| e.raw.clone());
        let style = raw("style").unwrap_or_else(|| "%".into());
        if style.trim() != "%" {
            warnings.push(format!(
                "{file}: [{sect}] style {style}: only the % style is supported; the format is read as % style"
            ));
        }
        if let Some(class) = raw("class").filter(|c| !c.trim().is_empty()) {
            warnings.push(format!(
                "{file}: [{sect}] class {class}: custom formatter classes are not supported; logging.Formatter is used"
            ));
        }
        formats.insert(
            key,
            Format {
                fmt: raw("format").unwrap_or_else(|| "%(message)s".into()),
                datefmt: raw("datefmt").filter(|d| !d.is_empty()),
            },
        );
    }

    let mut handlers = Vec::new();
    let mut handler_index = HashMap::new();
    for key in keys("handlers")? {
        let sect = format!("handler_{key}");
        if !ini.has_section(&sect) {
            return Err(format!(
                "[handlers] keys names {key}, but there is no [{sect}]"
            ));
        }
        let class = get(&sect, "class")?.ok_or_else(|| format!("[{sect}] has no class"))?;
        let level = level_in(&sect, NOTSET)?;
        let format = match get(&sect, "formatter")?.filter(|f| !f.trim().is_empty()) {
            Some(f) => formats.get(f.trim()).cloned().ok_or_else(|| {
                format!("[{sect}] formatter: no formatter {f:?} in [formatters] keys")
            })?,
            None => Format::default(),
        };
        let positional = match get(&sect, "args")? {
            Some(a) if !a.trim().is_empty() => match python_literal(&a) {
                Ok(PyValue::Tuple(items) | PyValue::List(items)) => items,
                Ok(other) => vec![other],
                Err(e) => return Err(format!("[{sect}] args: {e}")),
            },
            _ => Vec::new(),
        };
        let named = match get(&sect, "kwargs")? {
            Some(a) if !a.trim().is_empty() => match python_literal(&a) {
                Ok(PyValue::Dict(items)) => items
                    .into_iter()
                    .filter_map(|(k, v)| match k {
                        PyValue::Str(k) => Some((k, v)),
                        _ => None,
                    })
                    .collect(),
                Ok(other) => {
                    return Err(format!(
                        "[{sect}] kwargs: not a dict: {}",
                        pyrepr::repr(&other)
                    ))
                }
                Err(e) => return Err(format!("[{sect}] kwargs: {e}")),
            },
            _ => Vec::new(),
        };
        let mut args = HandlerArgs {
            key: format!("[{sect}]"),
            positional,
            named,
            warnings: &mut warnings,
            file: &file,
        };
        if let Some(target) = args.target(&class)? {
            handler_index.insert(key.clone(), handlers.len());
            handlers.push(Handler {
                name: key,
                level,
                target,
                format,
            });
        }
    }

    let mut loggers = HashMap::new();
    let logger_keys = keys("loggers")?;
    if !logger_keys.iter().any(|k| k == "root") {
        return Err("[loggers] keys must include root".into());
    }
    for key in logger_keys {
        let sect = format!("logger_{key}");
        if !ini.has_section(&sect) {
            return Err(format!(
                "[loggers] keys names {key}, but there is no [{sect}]"
            ));
        }
        let name = if key == "root" {
            String::new()
        } else {
            get(&sect, "qualname")?
                .ok_or_else(|| format!("[{sect}] has no qualname"))?
                .trim()
                .to_string()
        };
        let level = level_in(&sect, if name.is_empty() { WARNING } else { NOTSET })?;
        let propagate = match get(&sect, "propagate")? {
            Some(p) => {
                p.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("[{sect}] propagate: {p:?} is not a number (0 or 1)"))?
                    != 0
            }
            None => true,
        };
        let mut hs = Vec::new();
        for h in get(&sect, "handlers")?.unwrap_or_default().split(',') {
            let h = h.trim();
            if h.is_empty() {
                continue;
            }
            match handler_index.get(h) {
                Some(&i) => hs.push(i),
                None if ini.has_section(&format!("handler_{h}")) => {} // left out above
                None => {
                    return Err(format!(
                        "[{sect}] handlers: no handler {h:?} in [handlers] keys"
                    ))
                }
            }
        }
        loggers.insert(
            name,
            Logger {
                level,
                handlers: hs,
                propagate,
            },
        );
    }
    Ok(LogSetup {
        loggers,
        handlers,
        warnings,
    })
}

/// A Python literal from a `fileConfig` `args`/`kwargs` value, where the
/// standard streams may be named as in Python.
fn python_literal(text: &str) -> Result<PyValue, String> {
    let text = text
        .replace("sys.stderr", "'ext://sys.stderr'")
        .replace("sys.stdout", "'ext://sys.stdout'");
    pyrepr::parse(&text).map_err(|e| {
        format!("{e} (only Python literals, sys.stderr and sys.stdout can be read here)")
    })
}

/// Roundup's commented JSON: comment lines become blank (so line numbers
/// in errors stay right), and `//` after three blanks ends a line.
fn parse_commented_json(text: &str) -> Result<serde_json::Value, String> {
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            lines.push(String::new());
            continue;
        }
        // The last `//` with three blanks before it.
        let mut cut = None;
        for (i, _) in line.match_indices("//") {
            let before: Vec<char> = line[..i].chars().rev().take(3).collect();
            if before.len() == 3 && before.iter().all(|c| c.is_whitespace()) {
                let start = line[..i].char_indices().rev().nth(2).map(|(p, _)| p);
                cut = start;
            }
        }
        lines.push(match cut {
            Some(p) => line[..p].to_string(),
            None => line.to_string(),
        });
    }
    let joined = lines.join("\n");
    serde_json::from_str(&joined).map_err(|e| {
        let shown = lines
            .get(e.line().saturating_sub(1))
            .map(String::as_str)
            .unwrap_or("");
        let hint = if shown.contains("//") {
            " (an inline comment needs three blanks before //)"
        } else {
            ""
        };
        format!(
            "not valid JSON at line {} column {}: {e}; the line is {shown:?}{hint}",
            e.line(),
            e.column()
        )
    })
}

/// Python's `dictConfig` (schema version 1).
fn from_dict(v: &serde_json::Value, path: &Path) -> Result<LogSetup, String> {
    use serde_json::Value as J;
    let obj = v
        .as_object()
        .ok_or("the top level must be an object (dictConfig)")?;
    match obj.get("version") {
        Some(J::Number(n)) if n.as_i64() == Some(1) => {}
        Some(other) => return Err(format!("version: {other} is not 1, the only version")),
        None => return Err("version: missing (dictConfig needs \"version\": 1)".into()),
    }
    let mut warnings = Vec::new();
    let file = path.display().to_string();
    let file = file.as_str();
    if obj.get("incremental").and_then(J::as_bool) == Some(true) {
        warnings.push(format!(
            "{file}: incremental: incremental configuration is not supported; the file is read as a whole configuration"
        ));
    }
    if obj
        .get("filters")
        .and_then(J::as_object)
        .is_some_and(|f| !f.is_empty())
    {
        warnings.push(format!(
            "{file}: filters: filters are not supported and are left out"
        ));
    }
    let section = |name: &str| -> Result<serde_json::Map<String, J>, String> {
        match obj.get(name) {
            None => Ok(serde_json::Map::new()),
            Some(J::Object(m)) => Ok(m.clone()),
            Some(other) => Err(format!("{name}: must be an object, not {other}")),
        }
    };
    let text_of = |v: &J| -> Option<String> {
        match v {
            J::String(s) => Some(s.clone()),
            J::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let level_of = |key: &str, v: Option<&J>| -> Result<u32, String> {
        match v {
            None | Some(J::Null) => Ok(NOTSET),
            Some(l) => text_of(l)
                .and_then(|t| parse_level(&t))
                .ok_or_else(|| format!("{key}.level: unknown level {l}")),
        }
    };

    let mut formats = HashMap::new();
    for (name, f) in section("formatters")? {
        let key = format!("formatters.{name}");
        let f = f.as_object().ok_or(format!("{key}: must be an object"))?;
        if let Some(factory) = f.get("()").or(f.get("class")) {
            warnings.push(format!(
                "{file}: {key}: custom formatter {factory} is not supported; logging.Formatter with its \"format\" is used"
            ));
        }
        if let Some(style) = f.get("style").and_then(J::as_str).filter(|s| *s != "%") {
            warnings.push(format!(
                "{file}: {key}.style {style:?}: only the % style is supported; the format is read as % style"
            ));
        }
        formats.insert(
            name,
            Format {
                fmt: f
                    .get("format")
                    .and_then(J::as_str)
                    .unwrap_or("%(message)s")
                    .to_string(),
                datefmt: f.get("datefmt").and_then(J::as_str).map(str::to_string),
            },
        );
    }

    let mut handlers = Vec::new();
    let mut handler_index = HashMap::new();
    let mut dropped = Vec::new();
    for (name, h) in section("handlers")? {
        let key = format!("handlers.{name}");
        let h = h.as_object().ok_or(format!("{key}: must be an object"))?;
        let class = h
            .get("class")
            .and_then(J::as_str)
            .ok_or(format!("{key}: has no class"))?
            .to_string();
        let level = level_of(&key, h.get("level"))?;
        let format = match h.get("formatter").and_then(J::as_str) {
            Some(f) => formats
                .get(f)
                .cloned()
                .ok_or(format!("{key}.formatter: no formatter {f:?}"))?,
            None => Format::default(),
        };
        if h.get("filters")
            .and_then(J::as_array)
            .is_some_and(|f| !f.is_empty())
        {
            warnings.push(format!(
                "{file}: {key}.filters: filters are not supported and are left out"
            ));
        }
        let named = h
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "class" | "level" | "formatter" | "filters"))
            .map(|(k, v)| {
                let py = match v {
                    J::String(s) => PyValue::Str(s.clone()),
                    J::Number(n) => n.as_i64().map(PyValue::Int).unwrap_or(PyValue::None),
                    J::Bool(b) => PyValue::Bool(*b),
                    _ => PyValue::None,
                };
                (k.clone(), py)
            })
            .collect();
        let mut args = HandlerArgs {
            key: key.clone(),
            positional: Vec::new(),
            named,
            warnings: &mut warnings,
            file,
        };
        match args.target(&class)? {
            Some(target) => {
                handler_index.insert(name.clone(), handlers.len());
                handlers.push(Handler {
                    name,
                    level,
                    target,
                    format,
                });
            }
            None => dropped.push(name),
        }
    }

    let mut loggers = HashMap::new();
    let mut logger = |name: String, key: String, l: &J| -> Result<(), String> {
        let l = l.as_object().ok_or(format!("{key}: must be an object"))?;
        let mut level = level_of(&key, l.get("level"))?;
        if name.is_empty() && level == NOTSET && l.get("level").is_none() {
            level = WARNING;
        }
        let mut hs = Vec::new();
        for h in l
            .get("handlers")
            .and_then(J::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let h = h.as_str().unwrap_or_default();
            match handler_index.get(h) {
                Some(&i) => hs.push(i),
                None if dropped.iter().any(|d| d == h) => {}
                None => return Err(format!("{key}.handlers: no handler {h:?}")),
            }
        }
        if l.get("filters")
            .and_then(J::as_array)
            .is_some_and(|f| !f.is_empty())
        {
            warnings.push(format!(
                "{file}: {key}.filters: filters are not supported and are left out"
            ));
        }
        loggers.insert(
            name,
            Logger {
                level,
                handlers: hs,
                propagate: l.get("propagate").and_then(J::as_bool).unwrap_or(true),
            },
        );
        Ok(())
    };
    if let Some(root) = obj.get("root") {
        logger(String::new(), "root".into(), root)?;
    }
    for (name, l) in section("loggers")? {
        logger(name.clone(), format!("loggers.{name}"), &l)?;
    }
    loggers.entry(String::new()).or_insert(Logger {
        level: WARNING,
        handlers: Vec::new(),
        propagate: true,
    });
    Ok(LogSetup {
        loggers,
        handlers,
        warnings,
    })
}
