//! `[logging] config`: Python logging configuration files, in both forms
//! Roundup 2.6 reads (fileConfig `.ini`, dictConfig `.json` with
//! comments), written out as an administrator would and used by
//! `TrackerLog`.

use std::path::Path;

use roundup_tracker::log::{Level, TrackerLog};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn an_ini_file_configures_loggers_handlers_and_formatters() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let ini = dir.path().join("logging.ini");
    std::fs::write(
        &ini,
        format!(
            "# as in Roundup's admin guide
[loggers]
keys=root,roundup,mailgw

[handlers]
keys=file,rotate,err,syslog

[formatters]
keys=basic,plain

[logger_root]
level=WARNING
handlers=err

[logger_roundup]
level=INFO
handlers=file
qualname=roundup
propagate=0

[logger_mailgw]
level=DEBUG
handlers=rotate,syslog
qualname=roundup.mailgw

[handler_file]
class=FileHandler
level=INFO
formatter=basic
args=('{d}/roundup.log', 'a')

[handler_rotate]
class=logging.handlers.RotatingFileHandler
args=('{d}/debug.log', 'a', 300, 2)
formatter=plain

[handler_err]
class=StreamHandler
args=(sys.stderr,)

[handler_syslog]
class=handlers.SysLogHandler
args=('/dev/log',)

[formatter_basic]
format=%(asctime)s %(levelname)-8s %(name)s: %(message)s
datefmt=%Y-%m-%d

[formatter_plain]
format=%(levelname)s %(message)s
"
        ),
    )
    .unwrap();
    let log = TrackerLog::from_file(&ini, "roundup.mailgw").unwrap();
    // the handler class that is not supported is named, with the file
    assert_eq!(log.warnings().len(), 1, "{:?}", log.warnings());
    let w = &log.warnings()[0];
    assert!(
        w.contains(&ini.display().to_string())
            && w.contains("[handler_syslog]")
            && w.contains("SysLogHandler"),
        "{w}"
    );
    assert!(log.enabled(Level::Debug));

    log.log(Level::Debug, "d1");
    log.log(Level::Info, "i1");
    let debug = read(&dir.path().join("debug.log"));
    // the warning about the file came first, through the log itself
    assert!(debug.starts_with("WARNING "), "{debug}");
    assert!(debug.contains("\nDEBUG d1\nINFO i1\n"), "{debug}");
    // propagated to roundup's handler, which filters by its own level
    let main = read(&dir.path().join("roundup.log"));
    assert!(!main.contains("d1"), "{main}");
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert!(
        main.contains(&format!("{today} INFO     roundup.mailgw: i1\n")),
        "{main}"
    );

    // another roundup logger: roundup's level and handler only
    let web = TrackerLog::from_file(&ini, "roundup.web").unwrap();
    assert!(!web.enabled(Level::Debug));
    web.log(Level::Debug, "not logged");
    web.log(Level::Error, "web error");
    assert!(read(&dir.path().join("roundup.log")).contains("ERROR    roundup.web: web error"));
    assert!(!read(&dir.path().join("roundup.log")).contains("not logged"));
    assert!(!read(&dir.path().join("debug.log")).contains("web error"));

    // the rotating file rolls over at 300 bytes and keeps two backups
    for n in 0..100 {
        log.log(Level::Debug, &format!("line {n:03} of the rotation test"));
    }
    let size = std::fs::metadata(dir.path().join("debug.log"))
        .unwrap()
        .len();
    assert!(size <= 300, "{size}");
    assert!(dir.path().join("debug.log.1").exists());
    assert!(dir.path().join("debug.log.2").exists());
    assert!(!dir.path().join("debug.log.3").exists());
    assert!(read(&dir.path().join("debug.log")).contains("line 099"));
}

#[test]
fn a_json_file_with_comments_is_a_dict_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let json = dir.path().join("logging.json");
    std::fs::write(
        &json,
        format!(
            r#"{{
  "version": 1,   // the only version
  "disable_existing_loggers": false,
  // formatters
  "formatters": {{
    "standard": {{"format": "%(levelname)s:%(name)s:%(message)s"}},
    "json": {{"()": "pythonjsonlogger.json.JsonFormatter"}}
  }},
  "filters": {{"only": {{"name": "roundup"}}}},
  "handlers": {{
    "roundup": {{"class": "logging.FileHandler", "level": "DEBUG",
                 "formatter": "standard", "filename": "{d}/r.log"}},
    "rot": {{"class": "logging.handlers.RotatingFileHandler", "formatter": "standard",
             "filename": "{d}/rot.log", "maxBytes": 120, "backupCount": 1}},
    "mail": {{"class": "logging.handlers.SMTPHandler", "mailhost": "localhost"}},
    "out": {{"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "level": 40}}
  }},
  "loggers": {{
    "roundup": {{"handlers": ["roundup", "mail"], "level": "INFO", "propagate": false}},
    "roundup.mailgw": {{"handlers": ["rot"], "level": "DEBUG"}}
  }},
  "root": {{"handlers": ["out"], "level": "ERROR"}}
}}
"#
        ),
    )
    .unwrap();
    let log = TrackerLog::from_file(&json, "roundup.mailgw").unwrap();
    let warnings = log.warnings().join("\n");
    for key in ["formatters.json", "filters", "handlers.mail"] {
        assert!(warnings.contains(key), "no warning for {key}: {warnings}");
    }
    assert!(
        log.warnings()
            .iter()
            .all(|w| w.contains(&json.display().to_string())),
        "{warnings}"
    );
    log.log(Level::Debug, "debug line");
    log.log(Level::Info, "info line");
    let r = read(&dir.path().join("r.log"));
    // propagated from roundup.mailgw to roundup, whose handler takes DEBUG
    assert!(
        r.contains("DEBUG:roundup.mailgw:debug line\nINFO:roundup.mailgw:info line\n"),
        "{r}"
    );
    for n in 0..10 {
        log.log(Level::Info, &format!("rotating {n}"));
    }
    assert!(dir.path().join("rot.log.1").exists());
    assert!(!dir.path().join("rot.log.2").exists());
}

#[test]
fn a_configuration_that_cannot_be_used_is_an_error_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases = [
        (
            write("level.json", r#"{"version": 1, "handlers": {"h": {"class": "logging.StreamHandler", "level": "MANGO"}}}"#),
            "handlers.h.level",
        ),
        (
            write("comment.json", "{\"version\": 1, // one blank is not a comment\n}"),
            "three blanks",
        ),
        (write("version.json", r#"{"loggers": {}}"#), "version"),
        (
            write("noformatter.ini", "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nhandlers=h\n[handler_h]\nclass=StreamHandler\nformatter=gone\n"),
            "[handler_h] formatter",
        ),
        (
            write("args.ini", "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nhandlers=h\n[handler_h]\nclass=FileHandler\nargs=(os.path.join('a', 'b'),)\n"),
            "[handler_h] args",
        ),
        (write("logging.yaml", "version: 1\n"), ".ini"),
        (dir.path().join("missing.ini"), "no such file"),
    ];
    for (path, key) in cases {
        let err = TrackerLog::from_file(&path, "roundup")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(key), "{key} not in: {err}");
    }
}
