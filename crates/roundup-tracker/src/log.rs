//! The tracker's log, per `[logging]`.
//!
//! Without `[logging] config`: lines of the `roundup` loggers at or above
//! `level` go to `filename` (appended), or to standard error when no file
//! is set, laid out by `format`.
//!
//! With `[logging] config`: the Python logging configuration that file
//! holds (`.ini` for `fileConfig`, `.json` for `dictConfig`, see
//! [`crate::logconfig`]) decides, as Python's logging would: a line is
//! logged when its level reaches the effective level of its logger (its
//! own or its nearest configured ancestor's), and goes to the handlers of
//! the logger and of its ancestors up to the first that does not
//! propagate, each handler filtering by its own level and laying the
//! line out with its formatter. A line no handler is there for goes to
//! standard error when it is a warning or worse (Python's last resort).
//! What the file says that is not supported is logged once as a warning
//! (on standard error if the configuration filters it out).
//!
//! Formats are Python's `%` style: `%(name)s` placeholders with optional
//! flags, width and precision (`%(levelname)-8s`, `%(msecs)03d`); known
//! are asctime, created, levelname, levelno, message, msecs, name,
//! process, processName, relativeCreated, thread, threadName, Roundup's
//! trace_id, trace_reason and pct_char, and module, filename, pathname,
//! funcName, lineno (which name the logger here, not a source line);
//! `%%` is a percent sign.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use roundup_core::config::Config;

pub use crate::logconfig::LogConfigError;
use crate::logconfig::{self, Format, Handler, LogSetup, Logger, Target};

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    /// Python's number for the level.
    pub fn number(self) -> u32 {
        match self {
            Level::Debug => 10,
            Level::Info => 20,
            Level::Warning => 30,
            Level::Error => 40,
        }
    }

    fn parse(text: &str) -> Level {
        match text.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARNING" | "WARN" => Level::Warning,
            _ => Level::Error,
        }
    }
}

/// Python's name for a level number.
fn level_name(n: u32) -> String {
    match n {
        0 => "NOTSET".into(),
        10 => "DEBUG".into(),
        20 => "INFO".into(),
        30 => "WARNING".into(),
        40 => "ERROR".into(),
        50 => "CRITICAL".into(),
        n => format!("Level {n}"),
    }
}

/// A tracker's log.
#[derive(Debug)]
pub struct TrackerLog {
    setup: LogSetup,
    /// Logger name (`roundup.mailgw`, ...).
    name: String,
    /// Warnings about the configuration not yet written.
    pending: Mutex<Vec<String>>,
    started: Instant,
    /// Held while writing, so that a rotation is not interleaved.
    writing: Mutex<()>,
}

impl TrackerLog {
    /// The log of logger `name` per a tracker's `[logging]` section: the
    /// `config` file when one is set, else `filename`, `level` and
    /// `format`. A `config` file that cannot be used is an error naming
    /// it (Roundup refuses to start then too).
    pub fn open(config: &Config, name: &str) -> Result<TrackerLog, LogConfigError> {
        let setup = match config.get_path("logging", "config").ok().flatten() {
            Some(path) => logconfig::load(&path)?,
            None => builtin(config),
        };
        Ok(TrackerLog::with_setup(setup, name))
    }

    /// The log a `[logging] config` file at `path` sets up (what
    /// [`TrackerLog::open`] does with one).
    pub fn from_file(path: &Path, name: &str) -> Result<TrackerLog, LogConfigError> {
        Ok(TrackerLog::with_setup(logconfig::load(path)?, name))
    }

    fn with_setup(setup: LogSetup, name: &str) -> TrackerLog {
        TrackerLog {
            pending: Mutex::new(setup.warnings.clone()),
            setup,
            name: name.to_string(),
            started: Instant::now(),
            writing: Mutex::new(()),
        }
    }

    /// What of the configuration file is not supported (each names the
    /// file and the key).
    pub fn warnings(&self) -> &[String] {
        &self.setup.warnings
    }

    /// Whether lines of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        level.number() >= self.setup.effective_level(&self.name)
    }

    /// Write a line (several for a multi-line message) if `level` is
    /// enabled. Failing to write a log file falls back to standard
    /// error; it never fails the caller.
    pub fn log(&self, level: Level, message: &str) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for w in pending {
            if !self.emit(&self.name, Level::Warning.number(), &w) {
                roundup_core::errln!("{w}");
            }
        }
        self.emit(&self.name, level.number(), message);
    }

    /// Python's `Logger.log` for logger `logger`: whether a handler wrote
    /// the line.
    fn emit(&self, logger: &str, levelno: u32, message: &str) -> bool {
        if levelno < self.setup.effective_level(logger) {
            return false;
        }
        let record = Record {
            name: logger,
            levelno,
            message,
            now: chrono::Local::now(),
            relative_ms: self.started.elapsed().as_secs_f64() * 1000.0,
        };
        let mut any_handler = false;
        let mut written = false;
        for l in self.setup.chain(logger) {
            let l: &Logger = l;
            for &h in &l.handlers {
                any_handler = true;
                let h = &self.setup.handlers[h];
                if levelno >= h.level {
                    self.write(h, &record);
                    written = true;
                }
            }
            if !l.propagate {
                break;
            }
        }
        if !any_handler && levelno >= logconfig::WARNING {
            roundup_core::console::err(format_args!("{message}"));
            written = true;
        }
        written
    }

    fn write(&self, h: &Handler, record: &Record<'_>) {
        let mut text = format_record(&h.format, record);
        text.push('\n');
        let _guard = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let to_file = |path: &PathBuf| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        let result = match &h.target {
            Target::Null => Ok(()),
            Target::Stderr => {
                roundup_core::console::err(format_args!("{}", text.trim_end_matches('\n')));
                Ok(())
            }
            Target::Stdout => {
                roundup_core::console::out(format_args!("{}", text.trim_end_matches('\n')));
                Ok(())
            }
            Target::File(path) => to_file(path),
            Target::Rotating {
                path,
                max_bytes,
                backups,
            } => {
                let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                if *max_bytes > 0
                    && *backups > 0
                    && size > 0
                    && size + text.chars().count() as u64 >= *max_bytes
                {
                    rotate(path, *backups);
                }
                to_file(path)
            }
        };
        if let Err(why) = result {
            roundup_core::errln!("cannot write the tracker log {why}");
            roundup_core::console::err(format_args!("{}", text.trim_end_matches('\n')));
        }
    }
}

/// `RotatingFileHandler`'s roll-over: `log.N-1` becomes `log.N` and so on
/// down, `log` becomes `log.1`; the oldest falls off the end.
fn rotate(path: &Path, backups: u32) {
    let numbered = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    for n in (1..backups).rev() {
        let from = numbered(n);
        if from.exists() {
            let _ = std::fs::rename(&from, numbered(n + 1));
        }
    }
    let _ = std::fs::rename(path, numbered(1));
}

/// The set-up of `[logging] filename`, `level` and `format` (Roundup's
/// `init_logging` without a config file): the `roundup` logger, not
/// propagating, to the file or standard error.
fn builtin(config: &Config) -> LogSetup {
    let target = match config.get_path("logging", "filename").ok().flatten() {
        Some(p) => Target::File(p),
        None => Target::Stderr,
    };
    let fmt = config
        .get_str("logging", "format")
        .ok()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "%(asctime)s %(levelname)s %(message)s".into());
    let level = Level::parse(&config.get_str("logging", "level").unwrap_or_default()).number();
    let mut loggers = std::collections::HashMap::new();
    loggers.insert(
        String::new(),
        Logger {
            level: logconfig::WARNING,
            handlers: Vec::new(),
            propagate: true,
        },
    );
    loggers.insert(
        "roundup".to_string(),
        Logger {
            level,
            handlers: vec![0],
            propagate: false,
        },
    );
    LogSetup {
        loggers,
        handlers: vec![Handler {
            name: "roundup".into(),
            level: 0,
            target,
            format: Format { fmt, datefmt: None },
        }],
        warnings: Vec::new(),
    }
}

/// One log line before it is laid out (Python's `LogRecord`).
struct Record<'a> {
    name: &'a str,
    levelno: u32,
    message: &'a str,
    now: chrono::DateTime<chrono::Local>,
    relative_ms: f64,
}

/// A placeholder's value.
enum Field {
    Text(String),
    Int(i64),
    Float(f64),
}

impl Record<'_> {
    fn field(&self, key: &str, datefmt: Option<&str>) -> Option<Field> {
        let module = self.name.rsplit('.').next().unwrap_or(self.name);
        Some(match key {
            "asctime" => Field::Text(match datefmt {
                Some(f) => self.now.format(f).to_string(),
                None => format!(
                    "{},{:03}",
                    self.now.format("%Y-%m-%d %H:%M:%S"),
                    self.now.timestamp_subsec_millis()
                ),
            }),
            "created" => Field::Float(
                self.now.timestamp() as f64 + f64::from(self.now.timestamp_subsec_micros()) / 1e6,
            ),
            "msecs" => Field::Float(f64::from(self.now.timestamp_subsec_micros()) / 1000.0),
            "relativeCreated" => Field::Float(self.relative_ms),
            "levelname" => Field::Text(level_name(self.levelno)),
            "levelno" => Field::Int(i64::from(self.levelno)),
            "message" | "msg" => Field::Text(self.message.to_string()),
            "name" => Field::Text(self.name.to_string()),
            "process" => Field::Int(i64::from(std::process::id())),
            "processName" => Field::Text("MainProcess".into()),
            "thread" => Field::Int(thread_number()),
            "threadName" => Field::Text(
                std::thread::current()
                    .name()
                    .map(|n| if n == "main" { "MainThread" } else { n })
                    .unwrap_or("Thread")
                    .to_string(),
            ),
            "module" | "filename" => Field::Text(module.to_string()),
            "pathname" => Field::Text(self.name.to_string()),
            "funcName" => Field::Text("-".into()),
            "lineno" => Field::Int(0),
            "trace_id" | "trace_reason" => Field::Text("-".into()),
            "pct_char" => Field::Text("%".into()),
            _ => return None,
        })
    }
}

/// A number for the current thread (Python's `thread` is its ident).
fn thread_number() -> i64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut h);
    (h.finish() >> 16) as i64
}

/// Lay a record out per a `%`-style format.
fn format_record(format: &Format, record: &Record<'_>) -> String {
    let fmt = format.fmt.as_str();
    let mut out = String::new();
    let mut rest = fmt;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('%') {
            out.push('%');
            rest = stripped;
            continue;
        }
        let Some(body) = after.strip_prefix('(') else {
            out.push('%');
            rest = after;
            continue;
        };
        let Some(close) = body.find(')') else {
            out.push('%');
            rest = after;
            continue;
        };
        let key = &body[..close];
        let spec_text = &body[close + 1..];
        let (spec, used) = Spec::parse(spec_text);
        match record.field(key, format.datefmt.as_deref()) {
            Some(value) => out.push_str(&spec.apply(value)),
            None => {
                out.push_str("%(");
                out.push_str(key);
                out.push(')');
            }
        }
        rest = &spec_text[used..];
    }
    out.push_str(rest);
    out
}

/// A `%` conversion's flags, width, precision and type.
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    width: usize,
    precision: Option<usize>,
    conv: char,
}

impl Spec {
    /// Read a spec from the start of `s`; how many bytes it took.
    fn parse(s: &str) -> (Spec, usize) {
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            width: 0,
            precision: None,
            conv: 's',
        };
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && b"-0+ #".contains(&b[i]) {
            match b[i] {
                b'-' => spec.left = true,
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                _ => {}
            }
            i += 1;
        }
        let digits = |i: &mut usize| {
            let start = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            s[start..*i].parse::<usize>().ok()
        };
        spec.width = digits(&mut i).unwrap_or(0).min(1000);
        if i < b.len() && b[i] == b'.' {
            i += 1;
            spec.precision = Some(digits(&mut i).unwrap_or(0).min(1000));
        }
        if i < b.len() && b"sdifrauxXeEgGc".contains(&b[i]) {
            spec.conv = b[i] as char;
            i += 1;
        }
        (spec, i)
    }

    fn apply(&self, value: Field) -> String {
        let numeric = matches!(
            self.conv,
            'd' | 'i' | 'u' | 'f' | 'e' | 'E' | 'g' | 'G' | 'x' | 'X'
        );
        let text = match (self.conv, value) {
            ('d' | 'i' | 'u', Field::Int(n)) => signed(n.to_string(), n >= 0, self.plus),
            ('d' | 'i' | 'u', Field::Float(f)) => {
                signed((f.trunc() as i64).to_string(), f >= 0.0, self.plus)
            }
            ('f' | 'e' | 'E' | 'g' | 'G', Field::Float(f)) => signed(
                format!("{f:.*}", self.precision.unwrap_or(6)),
                f >= 0.0,
                self.plus,
            ),
            ('f' | 'e' | 'E' | 'g' | 'G', Field::Int(n)) => signed(
                format!("{:.*}", self.precision.unwrap_or(6), n as f64),
                n >= 0,
                self.plus,
            ),
            ('x', Field::Int(n)) => format!("{n:x}"),
            ('X', Field::Int(n)) => format!("{n:X}"),
            (_, Field::Text(t)) => match self.precision {
                Some(p) if !numeric => t.chars().take(p).collect(),
                _ => t,
            },
            (_, Field::Int(n)) => n.to_string(),
            (_, Field::Float(f)) => f.to_string(),
        };
        let len = text.chars().count();
        if len >= self.width {
            return text;
        }
        let pad = self.width - len;
        if self.left {
            format!("{text}{}", " ".repeat(pad))
        } else if self.zero && numeric {
            let (sign, digits) = match text.strip_prefix(['-', '+']) {
                Some(d) => (&text[..1], d),
                None => ("", text.as_str()),
            };
            format!("{sign}{}{digits}", "0".repeat(pad))
        } else {
            format!("{}{text}", " ".repeat(pad))
        }
    }
}

fn signed(text: String, non_negative: bool, plus: bool) -> String {
    if plus && non_negative {
        format!("+{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: &str, levelno: u32, message: &str) -> String {
        let record = Record {
            name: "roundup.mailgw",
            levelno,
            message,
            now: chrono::Local::now(),
            relative_ms: 1.5,
        };
        format_record(
            &Format {
                fmt: format.into(),
                datefmt: None,
            },
            &record,
        )
    }

    #[test]
    fn formats_python_placeholders() {
        assert_eq!(
            line(
                "%(levelname)s %(name)s: %(message)s %% %(pct_char)s",
                30,
                "hi"
            ),
            "WARNING roundup.mailgw: hi % %"
        );
        let l = line(
            "%(asctime)s %(trace_id)s %(levelname)-8s %(message)s",
            20,
            "x",
        );
        assert!(l.ends_with(" - INFO     x"), "{l}");
        assert_eq!(l.as_bytes()[4], b'-');
        assert_eq!(
            line("[%(levelname)8s|%(levelno)03d|%(module)s]", 40, ""),
            "[   ERROR|040|mailgw]"
        );
        assert_eq!(
            line("%(relativeCreated).2f %(name).7s", 10, ""),
            "1.50 roundup"
        );
        // an unknown key is shown, not dropped
        assert_eq!(line("%(bogus)s %(message)s", 10, "m"), "%(bogus) m");
    }

    #[test]
    fn levels_filter() {
        assert_eq!(Level::parse("warning"), Level::Warning);
        assert_eq!(Level::parse("bogus"), Level::Error);
        assert_eq!(logconfig::parse_level("critical"), Some(50));
        assert_eq!(logconfig::parse_level("15"), Some(15));
        assert_eq!(logconfig::parse_level("MANGO"), None);
    }
}
