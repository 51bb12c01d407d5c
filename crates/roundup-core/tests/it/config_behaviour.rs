//! Loading, checking, changing and writing tracker configurations.

use std::fs;
use std::path::{Path, PathBuf};

use roundup_core::config::{parse_settings, Config, ConfigError};

const ROUNDUP_INI: &str = include_str!("../data/roundup26_classic_config.ini");

fn tracker_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().to_path_buf();
    fs::write(home.join("config.ini"), text).expect("write config.ini");
    (dir, home)
}

/// Roundup's file with `[section] option` replaced by `option = value`
/// (or appended to the section when it is not there); returns the text
/// and the 1-based line of the new setting.
fn with_setting(section: &str, option: &str, value: &str) -> (String, usize) {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut line_no = 0;
    let mut inserted = false;
    for line in ROUNDUP_INI.lines() {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = s.to_string();
            out.push(line.to_string());
            if current == section && !inserted {
                // put the setting right after the header; remove the old one below
                out.push(format!("{option} = {value}"));
                line_no = out.len();
                inserted = true;
            }
            continue;
        }
        let name = line
            .trim_start_matches('#')
            .split(" = ")
            .next()
            .unwrap_or("");
        if current == section && name == option && line.contains(" = ") {
            continue;
        }
        out.push(line.to_string());
    }
    assert!(inserted, "no section {section}");
    (out.join("\n") + "\n", line_no)
}

fn load_err(section: &str, option: &str, value: &str) -> (ConfigError, PathBuf, usize) {
    let (text, line) = with_setting(section, option, value);
    let (dir, home) = tracker_with(&text);
    let err = Config::load(&home).expect_err("value should be refused");
    let path = home.join("config.ini");
    drop(dir);
    (err, path, line)
}

#[test]
fn bad_values_are_refused_with_file_line_option_value_and_reason() {
    let cases = [
        ("rdbms", "sqlite_timeout", "abc", "not an integer"),
        (
            "rdbms",
            "cache_size",
            "-1",
            "must be an integer of 0 or more",
        ),
        (
            "web",
            "api_interval_in_sec",
            "0",
            "must be an integer of 1 or more",
        ),
        ("web", "http_auth", "maybe", "not a boolean; use yes or no"),
        ("main", "umask", "0o9", "not an octal number"),
        (
            "web",
            "csrf_enforce_token",
            "sometimes",
            "must be one of 'required', 'yes', 'logfailure', 'no'",
        ),
        (
            "rdbms",
            "backend",
            "oracle",
            "must be one of 'anydbm', 'mysql', 'sqlite', 'postgresql'",
        ),
        ("main", "indexer", "lucene", "must be one of '', 'xapian'"),
        (
            "tracker",
            "web",
            "ftp://example.com",
            "must start with http:// or https:// and must end with '/'",
        ),
        (
            "tracker",
            "web",
            "https://example.com/tracker",
            "must end with '/'",
        ),
        ("main", "timezone", "Mars/Olympus", "not a known time zone"),
        (
            "mailgw",
            "sign_re",
            "(unclosed",
            "not a valid regular expression",
        ),
        ("web", "secret_key", "", "must not be empty"),
        (
            "web",
            "samesite_cookie_setting",
            "sometimes",
            "must be one of 'strict', 'lax', 'none'",
        ),
        (
            "nosy",
            "add_author",
            "always",
            "must be one of 'yes', 'no', 'new'",
        ),
        (
            "rdbms",
            "isolation_level",
            "chaos",
            "must be one of 'read uncommitted'",
        ),
        (
            "mailgw",
            "convert_htmltotext",
            "lynx",
            "must be one of 'beautifulsoup'",
        ),
        (
            "web",
            "allowed_api_origins",
            "https://a.org *",
            "'*' may only be the first entry",
        ),
        (
            "logging",
            "format",
            "%%(levelname) %%(message)s",
            "conversion character",
        ),
        (
            "sessiondb",
            "redis_url",
            "redis://h/0?decode_responses=True",
            "decode_responses",
        ),
        ("main", "html_version", "xhtml", "must be one of 'html4'"),
    ];
    for (section, option, value, reason) in cases {
        let (err, path, line) = load_err(section, option, value);
        match &err {
            ConfigError::BadValue(b) => {
                assert_eq!(b.path.as_deref(), Some(path.as_path()));
                assert_eq!(b.line, Some(line), "{section} {option}");
                assert_eq!((b.section.as_str(), b.option.as_str()), (section, option));
                // (the value is reported after %% interpolation)
                assert_eq!(b.value, value.replace("%%", "%"));
                assert!(
                    b.reason.contains(reason),
                    "{section} {option}: {}",
                    b.reason
                );
            }
            other => panic!("{section} {option}: {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "{} line {line}: [{section}] {option} = ",
                path.display()
            )),
            "{msg}"
        );
    }
    // The exact text of one message.
    let (err, path, line) = load_err("rdbms", "sqlite_timeout", "abc");
    assert_eq!(
        err.to_string(),
        format!(
            "{} line {line}: [rdbms] sqlite_timeout = 'abc': not an integer",
            path.display()
        )
    );
}

#[test]
fn values_are_normalised_like_roundup() {
    let text = "[main]\numask = 022\ninstant_registration = TRUE\ncsv_field_size = 1_000\n\
                indexer = NATIVE\n[web]\nsamesite_cookie_setting = strict\nhttp_auth: Off\n\
                csrf_enforce_token = LogFailure\n[rdbms]\nbackend = SQLite\n";
    let (_dir, home) = tracker_with(text);
    let c = Config::load(&home).unwrap();
    assert_eq!(c.raw("main", "umask"), Some("0o22"));
    assert_eq!(c.umask(), 0o22);
    assert_eq!(c.raw("main", "instant_registration"), Some("yes"));
    assert_eq!(c.get_int("main", "csv_field_size").unwrap(), 1000);
    assert_eq!(c.indexer(), "native");
    assert_eq!(c.raw("web", "samesite_cookie_setting"), Some("Strict"));
    assert!(!c.get_bool("web", "http_auth").unwrap());
    assert_eq!(c.raw("web", "csrf_enforce_token"), Some("logfailure"));
    assert_eq!(c.backend().unwrap(), "sqlite");
    // untouched options keep their defaults
    assert_eq!(c.sqlite_timeout(), 30);
    assert_eq!(c.timezone(), "UTC");
    assert_eq!(c.secret_key().unwrap().len(), 44);
}

#[test]
fn configparser_syntax_rules() {
    let text = "# comment\n; another\n[DEFAULT]\nlevel = WARNING\n\n[main]\n  # indented comment\n\
                database = %(home)s/data\ntemplates: %(tracker_home)s/tpl\n\
                email_from_tag = first\n   second\n\n   third\n[logging]\n[mail]\ndomain = x.org\n\
                [tracker]\nname = 100%% done\n[rdbms]\nBACKEND = anydbm\n";
    let (_dir, home) = tracker_with(text);
    let c = Config::load(&home).unwrap();
    assert_eq!(
        c.database_dir(),
        PathBuf::from(format!("{}/data", home.display()))
    );
    assert_eq!(
        c.templates_dir(),
        PathBuf::from(format!("{}/tpl", home.display()))
    );
    assert_eq!(
        c.get_str("main", "email_from_tag").unwrap(),
        "first\nsecond\n\nthird"
    );
    // [DEFAULT] applies to sections present in the file only
    assert_eq!(c.get_str("logging", "level").unwrap(), "WARNING");
    assert_eq!(c.tracker_name(), "100% done");
    assert_eq!(c.backend().unwrap(), "anydbm");
    assert_eq!(c.admin_email().unwrap(), "roundup-admin@x.org");

    // syntax errors name file and line
    for (bad, line) in [
        ("[main]\ndatabase\n", 2),
        ("database = db\n", 1),
        ("[main]\nx=1\nX=2\n", 3),
    ] {
        let (_d, h) = tracker_with(bad);
        match Config::load(&h) {
            Err(ConfigError::Parse { path, line: l, .. }) => {
                assert_eq!(path, h.join("config.ini"));
                assert_eq!(l, line, "{bad:?}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // a lone % is an interpolation error naming the option
    let (_d, h) = tracker_with("[tracker]\nname = 5% off\n");
    let e = Config::load(&h).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Interpolation { line: Some(2), option, .. } if option == "name"),
        "{e:?}"
    );
    assert!(e.to_string().contains("[tracker] name"), "{e}");
}

#[test]
fn missing_config_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = Config::load(dir.path()).unwrap_err();
    assert_eq!(
        e,
        ConfigError::NoConfig {
            home: dir.path().to_path_buf()
        }
    );
    assert!(e
        .to_string()
        .starts_with("No valid configuration files found in directory"));
}

#[test]
fn unknown_options_and_sections_are_kept_with_warnings() {
    let text = format!("{ROUNDUP_INI}\n[custom]\nanswer = 42\n[empty]\n");
    let text = text.replacen("[web]\n", "[web]\nshiny_new_thing = on\n", 1);
    let (_dir, home) = tracker_with(&text);
    let c = Config::load(&home).unwrap();
    let w: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    let path = home.join("config.ini").display().to_string();
    assert!(
        w.iter()
            .any(|m| m.starts_with(&path)
                && m.contains("[web] shiny_new_thing: not a Roundup option")),
        "{w:?}"
    );
    assert!(w.iter().any(|m| m.contains("[custom] answer:")), "{w:?}");
    assert!(
        w.iter().any(|m| m.contains("[empty]: unknown section")),
        "{w:?}"
    );
    let web = &c.warnings()[0];
    assert_eq!(
        (web.section.as_str(), web.option.as_deref()),
        ("web", Some("shiny_new_thing"))
    );
    assert!(web.line.is_some());
    assert_eq!(c.get_str("web", "shiny_new_thing").unwrap(), "on");
    assert!(c.get_bool("web", "shiny_new_thing").unwrap());
    assert_eq!(c.get_int("custom", "answer").unwrap(), 42);
    assert_eq!(
        c.unknown_options(),
        vec![("web", "shiny_new_thing", "on"), ("custom", "answer", "42")]
    );
    assert!(matches!(
        c.get_str("custom", "nothing"),
        Err(ConfigError::UnknownOption { .. })
    ));
}

#[test]
fn write_ini_reads_back_equal() {
    let (_dir, home) = tracker_with(ROUNDUP_INI);
    let mut c = Config::load(&home).unwrap();
    c.set("tracker", "web", "https://bugs.example.org/demo/")
        .unwrap();
    c.set("mail", "domain", "example.org").unwrap();
    c.set("mail", "host", "smtp.example.org").unwrap();
    c.set("main", "email_from_tag", "100% [bot]\nsecond line")
        .unwrap();
    c.set("main", "umask", "027").unwrap();
    c.set("logging", "format", "%(levelname)s: %(message)s %%")
        .unwrap();
    c.set("web", "allowed_api_origins", "* https://a.example")
        .unwrap();
    c.set("main", "static_files", "static /srv/shared -")
        .unwrap();

    let text = c.write_ini();
    assert!(text.starts_with("# Roundup issue tracker configuration file\n# Autogenerated at "));
    assert!(text.contains("\n# Default: 250000\npassword_pbkdf2_default_rounds = 250000\n"));
    assert!(
        text.contains("format = %%(levelname)s: %%(message)s %%%%\n"),
        "{text}"
    );
    assert!(text.contains("web = https://bugs.example.org/demo/\n"));
    assert!(text.contains("#password = NO DEFAULT\n"));
    assert!(!text.contains("WARNING! Following options need adjustments"));

    let dir2 = tempfile::tempdir().unwrap();
    fs::write(dir2.path().join("config.ini"), &text).unwrap();
    let again = Config::load(dir2.path()).unwrap();
    assert!(again.warnings().is_empty(), "{:?}", again.warnings());
    // Same values; the home differs, so compare through a config with the same home.
    let same_home = Config::from_ini_text(&home, &text).unwrap();
    assert_eq!(same_home, c);
    assert_eq!(
        again.raw("main", "email_from_tag"),
        Some("100% [bot]\nsecond line")
    );
    assert_eq!(
        again.get_str("logging", "format").unwrap(),
        "%(levelname)s: %(message)s %%"
    );
    assert_eq!(again.umask(), 0o27);

    // Defaults round-trip too, with the unset options listed and commented out.
    let d = Config::defaults(&home);
    let text = d.write_ini_with_stamp("today");
    assert!(text.contains(
        "# WARNING! Following options need adjustments:\n#  [tracker]: web\n#  [rdbms]: backend\n#  [mail]: domain, host\n"
    ));
    assert!(text.contains("#web = NO DEFAULT\n"));
    assert_eq!(Config::from_ini_text(&home, &text).unwrap(), d);
}

#[test]
fn unknown_options_survive_write_ini() {
    let text = format!("{ROUNDUP_INI}\n[custom]\nanswer = 42\n").replacen(
        "[web]\n",
        "[web]\nold_thing = x\n",
        1,
    );
    let (_dir, home) = tracker_with(&text);
    let c = Config::load(&home).unwrap();
    let written = c.write_ini();
    let back = Config::from_ini_text(&home, &written).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.warnings().len(), 2);
}

#[test]
fn paths_resolve_against_the_tracker_home() {
    let (_dir, home) = tracker_with(
        "[main]\ndatabase = /var/lib/../lib/roundup/./db\ntemplates = my/html\nstatic_files = s1 /abs/s2 -\n\
         [logging]\nfilename = log/roundup.log\n[mail]\ntls_keyfile = keys/k.pem\n",
    );
    let c = Config::load(&home).unwrap();
    assert_eq!(c.database_dir(), PathBuf::from("/var/lib/roundup/db"));
    assert_eq!(c.templates_dir(), home.join("my/html"));
    assert_eq!(
        c.static_files(),
        vec![home.join("s1"), PathBuf::from("/abs/s2"), home.join("-")]
    );
    assert_eq!(
        c.get_path("logging", "filename").unwrap(),
        Some(home.join("log/roundup.log"))
    );
    assert_eq!(
        c.get_path("mail", "tls_keyfile").unwrap(),
        Some(home.join("keys/k.pem"))
    );
    assert_eq!(c.get_path("mail", "tls_certfile").unwrap(), None);
    assert_eq!(c.get_path("logging", "config").unwrap(), None);
    // defaults: db and html under the home
    let d = Config::defaults(Path::new("/trackers/t1"));
    assert_eq!(d.database_dir(), PathBuf::from("/trackers/t1/db"));
    assert_eq!(d.templates_dir(), PathBuf::from("/trackers/t1/html"));
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    fs::create_dir(home.join("secrets")).unwrap();
    fs::write(home.join("secrets/key"), "s3cret-value  \nsecond line\n").unwrap();
    let abs = home.join("dbpass");
    fs::write(&abs, "db-pw\n").unwrap();
    let long = "x".repeat(32);
    fs::write(home.join("jwt"), format!("first, {long}\n")).unwrap();
    fs::write(
        home.join("config.ini"),
        format!(
            "[web]\nsecret_key = file://secrets/key\njwt_secret = file://jwt\n\
             [rdbms]\nbackend = sqlite\npassword = file://{}\n[mail]\nusername = me\npassword = plain\n",
            abs.display()
        ),
    )
    .unwrap();
    let c = Config::load(home).unwrap();
    assert_eq!(c.secret_key().unwrap(), "s3cret-value");
    assert_eq!(c.raw("web", "secret_key"), Some("file://secrets/key"));
    assert_eq!(c.get_str("rdbms", "password").unwrap(), "db-pw");
    assert_eq!(
        c.get_list("web", "jwt_secret").unwrap(),
        vec!["first".to_string(), long]
    );
    assert_eq!(c.get_str("mail", "password").unwrap(), "plain");

    // A missing secret file stops the load, naming option and file.
    fs::remove_file(home.join("secrets/key")).unwrap();
    let e = Config::load(home).unwrap_err().to_string();
    assert!(
        e.contains("[web] secret_key = 'file://secrets/key': cannot read the secret from"),
        "{e}"
    );
    assert!(e.contains("secrets/key"), "{e}");
    // An empty secret file is not a valid secret_key.
    fs::write(home.join("secrets/key"), "\n").unwrap();
    let e = Config::load(home).unwrap_err().to_string();
    assert!(e.contains("must not be empty"), "{e}");
}

#[test]
fn cross_option_rules() {
    let cases = [
        (
            "[web]\njwt_secret = a-long-enough-first-secret-xxxxxxxxxx, short\n",
            "too short: short",
        ),
        ("[mail]\nusername = me\n", "[mail] password"),
        (
            "[main]\nindexer = native-fts\nindexer_language = klingon\n",
            "[main] indexer_language = 'klingon'",
        ),
        (
            "[rdbms]\nbackend = mysql\n[sessiondb]\nbackend = sqlite\n",
            "possible: mysql",
        ),
        (
            "[rdbms]\nbackend = sqlite\n[sessiondb]\nbackend = postgresql\n",
            "possible: anydbm, redis, sqlite",
        ),
    ];
    for (text, needle) in cases {
        let (_d, home) = tracker_with(text);
        let e = Config::load(&home).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?}: {e}");
    }
    let (_d, home) = tracker_with(
        "[rdbms]\nbackend = sqlite\n[sessiondb]\nbackend = redis\n[main]\nindexer = native-fts\n",
    );
    let c = Config::load(&home).unwrap();
    assert_eq!(c.sessiondb_backend(), Some("redis"));
}

#[test]
fn set_checks_values_and_names() {
    let mut c = Config::defaults(Path::new("/t"));
    c.set("rdbms", "sqlite_timeout", "60").unwrap();
    assert_eq!(c.sqlite_timeout(), 60);
    let e = c.set("rdbms", "sqlite_timeout", "soon").unwrap_err();
    assert_eq!(
        e.to_string(),
        "[rdbms] sqlite_timeout = 'soon': not an integer"
    );
    assert_eq!(c.sqlite_timeout(), 60);
    assert!(matches!(
        c.set("rdbms", "no_such", "1"),
        Err(ConfigError::UnknownOption { .. })
    ));
    assert!(matches!(
        c.set("Main", "database", "x"),
        Err(ConfigError::UnknownOption { .. })
    ));
    c.reset("rdbms", "sqlite_timeout").unwrap();
    assert_eq!(c.sqlite_timeout(), 30);
    assert!(c.backend().is_err());
}

#[test]
fn install_settings_by_roundup_names() {
    assert_eq!(
        parse_settings("web_http_auth=no,rdbms_user=dinsdale").unwrap(),
        vec![
            ("web_http_auth".to_string(), "no".to_string()),
            ("rdbms_user".to_string(), "dinsdale".to_string())
        ]
    );
    let mut c = Config::defaults(Path::new("/t"));
    c.apply_settings("web_http_auth=no,rdbms_user=dinsdale,database=store,MAILHOST=mx.example")
        .unwrap();
    c.set_by_name("rdbms_backend", "sqlite").unwrap();
    c.set_by_name("default_timezone", "Europe/Warsaw").unwrap();
    assert!(!c.get_bool("web", "http_auth").unwrap());
    assert_eq!(c.get_str("rdbms", "user").unwrap(), "dinsdale");
    assert_eq!(c.database_dir(), PathBuf::from("/t/store"));
    assert_eq!(c.mail_host().unwrap(), "mx.example");
    assert_eq!(c.backend().unwrap(), "sqlite");
    assert_eq!(c.timezone(), "Europe/Warsaw");
    assert_eq!(c.get_by_name("RDBMS_USER").unwrap(), "dinsdale");
    assert_eq!(c.get_by_name("mysql_dbuser").unwrap(), "dinsdale");
    assert_eq!(c.get_by_name("TRACKER_HOME").unwrap(), "/t");
    assert!(c.get_by_name("NOPE").is_err());
    let items = c.items();
    assert_eq!(items.len(), 135);
    assert_eq!(items[0].0.canonical_name(), "DATABASE");
    assert_eq!(items[0].1, Some("store"));
    // [main] options have no MAIN_ prefix in Roundup
    let e = c.set_by_name("main_database", "x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unsupported configuration option: MAIN_DATABASE"
    );
    let e = c
        .apply_settings("rdbms_backend=oracle")
        .unwrap_err()
        .to_string();
    assert!(e.contains("[rdbms] backend = 'oracle'"), "{e}");
    let e = c.apply_settings("nonsense").unwrap_err().to_string();
    assert!(
        e.starts_with("Error in configuration settings: \"nonsense\""),
        "{e}"
    );

    // a template's config_ini.ini applied by name
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("config_ini.ini"),
        "[main]\ntemplate_engine = jinja2\n\nstatic_files = static\n",
    )
    .unwrap();
    let uc = Config::load_detector_config(&dir.path().join("config_ini.ini")).unwrap();
    c.apply_user_config(&uc).unwrap();
    assert_eq!(c.template_engine(), "jinja2");
    assert_eq!(c.static_files(), vec![PathBuf::from("/t/static")]);
}

#[test]
fn update_from_keeps_values_and_adds_defaults() {
    // An older file: few options, an obsolete one, the old PBKDF2 default.
    let (_dir, home) = tracker_with(
        "[main]\npassword_pbkdf2_default_rounds = 10000\ndatabase = olddb\n[web]\nold_option = 1\n\
         [rdbms]\nbackend = sqlite\nsqlite_timeout = 5\n[tracker]\nweb = http://x.org/\n",
    );
    let old = Config::load(&home).unwrap();
    let new = Config::update_from(&old);
    assert_eq!(new.pbkdf2_default_rounds(), 250_000);
    assert_eq!(new.database_dir(), home.join("olddb"));
    assert_eq!(new.sqlite_timeout(), 5);
    assert_eq!(new.tracker_web().unwrap(), "http://x.org/");
    assert_eq!(
        new.get_str("web", "samesite_cookie_setting").unwrap(),
        "Lax"
    );
    assert_eq!(new.secret_key().unwrap(), old.secret_key().unwrap());
    assert!(new.unknown_options().is_empty());
    let w: Vec<String> = new.warnings().iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|m| m.contains("password_pbkdf2_default_rounds") && m.contains("10000")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.contains("[web] old_option: unknown option dropped")),
        "{w:?}"
    );
    // The written update loads back to the same thing.
    let text = new.write_ini();
    assert_eq!(Config::from_ini_text(&home, &text).unwrap(), new);

    // A low non-default count is kept but remarked upon.
    let (_d2, home2) = tracker_with("[main]\npassword_pbkdf2_default_rounds = 5000\n");
    let kept = Config::update_from(&Config::load(&home2).unwrap());
    assert_eq!(kept.pbkdf2_default_rounds(), 5000);
    assert!(kept
        .warnings()
        .iter()
        .any(|w| w.message.contains("below the recommended minimum")));
}

#[test]
fn our_memory_options_have_defaults_and_are_checked() {
    // absent: the documented defaults, and no warnings for them
    let (_dir, home) = tracker_with(ROUNDUP_INI);
    let c = Config::load(&home).unwrap();
    assert_eq!(c.our_bytes("main", "shared_cache_size").unwrap(), 4 << 20);
    assert_eq!(c.our_bytes("web", "page_cache_size").unwrap(), 1 << 20);
    assert_eq!(
        c.our_bytes("rdbms", "sqlite_cache_size").unwrap(),
        256 << 10
    );
    assert_eq!(c.our_int("main", "connection_pool_size").unwrap(), 4);
    assert_eq!(c.our_int("web", "cache_stats_interval").unwrap(), 0);
    assert!(matches!(
        c.ours("main", "no_such_option_of_ours"),
        Err(ConfigError::UnknownOption { .. })
    ));

    // set: read with their suffixes, not warned about as unknown
    let text = ROUNDUP_INI
        .replacen(
            "[main]\n",
            "[main]\nshared_cache_size = 3m\nconnection_cache_size = 1000\n",
            1,
        )
        .replacen("[web]\n", "[web]\npage_cache_size = 64KiB\n", 1);
    let (_dir, home) = tracker_with(&text);
    let c = Config::load(&home).unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    assert_eq!(c.our_bytes("main", "shared_cache_size").unwrap(), 3 << 20);
    assert_eq!(c.our_bytes("main", "connection_cache_size").unwrap(), 1000);
    assert_eq!(c.our_bytes("web", "page_cache_size").unwrap(), 64 << 10);

    // a bad value: a warning on load, an error naming file, line, option
    // and value on use
    let text = ROUNDUP_INI.replacen("[main]\n", "[main]\nshared_cache_size = lots\n", 1);
    let (_dir, home) = tracker_with(&text);
    let c = Config::load(&home).unwrap();
    assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    let e = c
        .our_bytes("main", "shared_cache_size")
        .unwrap_err()
        .to_string();
    let path = home.join("config.ini").display().to_string();
    assert!(e.contains(&path), "{e}");
    assert!(e.contains("shared_cache_size"), "{e}");
    assert!(e.contains("lots"), "{e}");
}
