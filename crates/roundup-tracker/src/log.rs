//! The tracker's log, per `[logging]`: lines at or above `level` go to
//! `filename` (appended), or to standard error when no file is set, laid
//! out by `format` (Python logging's `%(name)s` placeholders: asctime,
//! levelname, message, name, process, trace_id, trace_reason; `%%` and
//! `pct_char` for a percent sign).
//!
//! A `[logging] config` file (Python's logging configuration) is not
//! interpreted; when one is set the built-in settings still apply, and
//! the first line written says so.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use roundup_core::config::Config;

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
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

/// A tracker's log.
#[derive(Debug)]
pub struct TrackerLog {
    file: Option<PathBuf>,
    level: Level,
    format: String,
    /// The `[logging] config` file that is not interpreted, if any.
    ignored_config: Option<PathBuf>,
    noted: AtomicBool,
    /// Logger name (`roundup.mailgw`, ...).
    name: String,
}

impl TrackerLog {
    /// The log of logger `name` per a tracker's `[logging]` section.
    pub fn from_config(config: &Config, name: &str) -> TrackerLog {
        let file = config.get_path("logging", "filename").ok().flatten();
        TrackerLog {
            file,
            level: Level::parse(&config.get_str("logging", "level").unwrap_or_default()),
            format: config
                .get_str("logging", "format")
                .ok()
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "%(asctime)s %(levelname)s %(message)s".into()),
            ignored_config: config.get_path("logging", "config").ok().flatten(),
            noted: AtomicBool::new(false),
            name: name.to_string(),
        }
    }

    /// Whether lines of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// Write one line (several for a multi-line message) if `level` is
    /// enabled. Failing to write the log file falls back to standard
    /// error; it never fails the caller.
    pub fn log(&self, level: Level, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let mut text = String::new();
        if let Some(cfg) = &self.ignored_config {
            if !self.noted.swap(true, Ordering::Relaxed) {
                text.push_str(&self.line(
                    Level::Warning,
                    &format!(
                        "[logging] config {} is a Python logging configuration, which this build does not read; [logging] filename and level are used",
                        cfg.display()
                    ),
                ));
            }
        }
        text.push_str(&self.line(level, message));
        let written = match &self.file {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| format!("{}: {e}", path.display())),
            None => Err(String::new()),
        };
        if let Err(why) = written {
            if !why.is_empty() {
                roundup_core::errln!("cannot write the tracker log {why}");
            }
            roundup_core::console::err(format_args!("{}", text.trim_end_matches('\n')));
        }
    }

    fn line(&self, level: Level, message: &str) -> String {
        let now = chrono::Local::now();
        let asctime = format!(
            "{},{:03}",
            now.format("%Y-%m-%d %H:%M:%S"),
            now.timestamp_subsec_millis()
        );
        let mut out = String::new();
        let mut rest = self.format.as_str();
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
            // the conversion character(s) after ")", e.g. "s", "d", "-8s"
            let conv_len = body[close + 1..]
                .find(|c: char| c.is_ascii_alphabetic())
                .map(|p| p + 1)
                .unwrap_or(0);
            let value = match key {
                "asctime" => asctime.clone(),
                "levelname" => level.name().to_string(),
                "message" => message.to_string(),
                "name" => self.name.clone(),
                "process" => std::process::id().to_string(),
                "trace_id" | "trace_reason" => "-".to_string(),
                "pct_char" => "%".to_string(),
                other => format!("%({other})"),
            };
            out.push_str(&value);
            rest = &body[close + 1 + conv_len..];
        }
        out.push_str(rest);
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(format: &str) -> TrackerLog {
        TrackerLog {
            file: None,
            level: Level::Info,
            format: format.into(),
            ignored_config: None,
            noted: AtomicBool::new(false),
            name: "roundup.mailgw".into(),
        }
    }

    #[test]
    fn formats_python_placeholders() {
        let l = log("%(levelname)s %(name)s: %(message)s %% %(pct_char)s");
        assert_eq!(
            l.line(Level::Warning, "hi"),
            "WARNING roundup.mailgw: hi % %\n"
        );
        let l = log("%(asctime)s %(trace_id)s %(levelname)-8s %(message)s");
        let line = l.line(Level::Info, "x");
        assert!(line.ends_with(" - INFO x\n"), "{line}");
        assert_eq!(line.as_bytes()[4], b'-');
    }

    #[test]
    fn levels_filter() {
        let l = log("%(message)s");
        assert!(!l.enabled(Level::Debug));
        assert!(l.enabled(Level::Info));
        assert_eq!(Level::parse("warning"), Level::Warning);
        assert_eq!(Level::parse("bogus"), Level::Error);
    }
}
