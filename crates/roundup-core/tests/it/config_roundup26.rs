//! The config.ini written by `roundup-admin install classic sqlite`
//! (Roundup 2.6) against our option table and loader.

use std::fs;
use std::path::{Path, PathBuf};

use roundup_core::config::{options, Config, ConfigError, IniFile, OPTIONS};

const ROUNDUP_INI: &str = include_str!("../data/roundup26_classic_config.ini");
const ROUNDUP_DETECTORS_INI: &str = include_str!("../data/roundup26_classic_detectors_config.ini");

fn tracker_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().to_path_buf();
    fs::write(home.join("config.ini"), text).expect("write config.ini");
    (dir, home)
}

#[test]
fn every_option_roundup_writes_is_in_our_table_and_back() {
    let ini = IniFile::parse(ROUNDUP_INI, Path::new("roundup26.ini"), &[]).expect("parses");
    let mut seen = 0;
    for (section, sec) in &ini.sections {
        for name in sec.entries.keys() {
            assert!(
                options::find(section, name).is_some(),
                "[{section}] {name} missing from table"
            );
            seen += 1;
        }
    }
    // Options without default are written commented out ("#web = NO DEFAULT").
    let commented: Vec<&str> = ROUNDUP_INI
        .lines()
        .filter(|l| l.ends_with(" = NO DEFAULT") && l.starts_with('#'))
        .collect();
    assert_eq!(commented.len(), 4, "{commented:?}");
    assert_eq!(seen + commented.len(), OPTIONS.len());
    // And every table entry appears in Roundup's file, in the same order.
    let mut current = String::new();
    let mut order = Vec::new();
    for line in ROUNDUP_INI.lines() {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = s.to_string();
        } else if !line.starts_with("# ") && line.contains(" = ") {
            let name = line
                .trim_start_matches('#')
                .split(" = ")
                .next()
                .unwrap_or("");
            order.push((current.clone(), name.to_string()));
        }
    }
    let ours: Vec<(String, String)> = OPTIONS
        .iter()
        .map(|d| (d.section.to_string(), d.name.to_string()))
        .collect();
    assert_eq!(order, ours);
}

#[test]
fn loads_roundups_file_without_warnings_and_with_its_values() {
    let (_dir, home) = tracker_with(ROUNDUP_INI);
    let c = Config::load(&home).expect("loads");
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());

    assert_eq!(c.backend().unwrap(), "sqlite");
    assert_eq!(c.database_dir(), home.join("db"));
    assert_eq!(c.templates_dir(), home.join("html"));
    assert!(c.static_files().is_empty());
    assert_eq!(c.timezone(), "0");
    assert_eq!(c.umask(), 0o002);
    assert_eq!(c.raw("main", "umask"), Some("0o2"));
    assert_eq!(c.sqlite_timeout(), 30);
    assert_eq!(c.cache_size(), 100);
    assert_eq!(c.pbkdf2_default_rounds(), 250_000);
    assert_eq!(c.csv_field_size(), 131_072);
    assert_eq!(c.new_web_user_roles(), "User");
    assert_eq!(c.new_email_user_roles(), "User");
    assert_eq!(c.obsolete_history_roles(), "Admin");
    assert_eq!(c.tracker_name(), "Roundup issue tracker");
    assert_eq!(c.template_engine(), "zopetal");
    assert_eq!(c.indexer(), "");
    assert_eq!(c.indexer_language(), "english");
    assert_eq!(
        c.secret_key().unwrap(),
        "vtDu2j9aMzp+hVpPf1DPgvjHydcRrxQ5Jk67bZ3Mxfc="
    );
    assert_eq!(c.get_list("web", "jwt_secret").unwrap(), vec!["disabled"]);
    assert!(c.migrate_passwords());
    assert!(!c.web_debug());
    assert_eq!(c.http_auth_header(), None);
    assert_eq!(c.schema_changes_allowed(), (true, true, true));
    assert_eq!(c.get_str("web", "samesite_cookie_setting").unwrap(), "Lax");
    assert_eq!(
        c.get_str("web", "csrf_enforce_header_X-Requested-With")
            .unwrap(),
        "yes"
    );
    assert_eq!(c.get_int("web", "csrf_token_lifetime").unwrap(), 20160);
    assert_eq!(c.get_int("nosy", "max_attachment_size").unwrap(), i64::MAX);
    assert_eq!(c.get_int("mail", "port").unwrap(), 25);
    assert!(c.get_bool("web", "http_auth").unwrap());
    assert!(!c.get_bool("web", "allow_html_file").unwrap());
    assert_eq!(
        c.get_str("rdbms", "isolation_level").unwrap(),
        "read committed"
    );
    assert_eq!(
        c.get_opt_str("rdbms", "password").unwrap().as_deref(),
        Some("roundup")
    );
    assert_eq!(c.get_opt_str("rdbms", "port").unwrap(), None);
    assert_eq!(
        c.get_str("rdbms", "read_default_file").unwrap(),
        "~/.my.cnf"
    );
    assert_eq!(
        c.get_str("logging", "format").unwrap(),
        "%(asctime)s %(trace_id)s %(levelname)s %(message)s"
    );
    assert_eq!(
        c.get_str("mailgw", "refwd_re").unwrap(),
        r"(\s*\W?\s*(fw|fwd|re|aw|sv|ang)\W)+"
    );
    assert_eq!(
        c.get_str("mailgw", "subject_suffix_delimiters").unwrap(),
        "[]"
    );
    assert_eq!(c.get_str("nosy", "add_author").unwrap(), "new");
    assert_eq!(c.get_list("main", "indexer_stopwords").unwrap(), vec![""]);
    assert_eq!(c.sessiondb_backend(), None);
    assert_eq!(c.get_path("logging", "filename").unwrap(), None);

    // The options Roundup leaves for the administrator.
    assert_eq!(
        c.unset_options(),
        vec![("tracker", "web"), ("mail", "domain"), ("mail", "host")]
    );
    match c.tracker_web() {
        Err(ConfigError::Unset {
            section, option, ..
        }) => {
            assert_eq!((section.as_str(), option.as_str()), ("tracker", "web"))
        }
        other => panic!("{other:?}"),
    }
    let e = c.admin_email().unwrap_err().to_string();
    assert!(
        e.contains("[mail] domain is not set and has no default"),
        "{e}"
    );
    assert!(c.mail_host().is_err());

    // The detector configuration of the classic template.
    let d = c.detectors();
    assert_eq!(d.get("STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS"), None);
    assert!(d.is_empty());
}

#[test]
fn mail_addresses_get_the_domain() {
    let (_dir, home) = tracker_with(ROUNDUP_INI);
    let mut c = Config::load(&home).unwrap();
    c.set("mail", "domain", "example.com").unwrap();
    assert_eq!(c.admin_email().unwrap(), "roundup-admin@example.com");
    assert_eq!(c.dispatcher_email().unwrap(), "roundup-admin@example.com");
    assert_eq!(c.tracker_email().unwrap(), "issue_tracker@example.com");
    c.set("tracker", "email", "bugs@elsewhere.org").unwrap();
    assert_eq!(c.tracker_email().unwrap(), "bugs@elsewhere.org");
}

#[test]
fn detectors_config_is_free_form() {
    let (_dir, home) = tracker_with(ROUNDUP_INI);
    fs::create_dir(home.join("detectors")).unwrap();
    fs::write(
        home.join("detectors/config.ini"),
        format!("{ROUNDUP_DETECTORS_INI}\n[main]\nFOO = %(home)s/x\n[DEFAULT]\nshared = 1\n"),
    )
    .unwrap();
    let c = Config::load(&home).unwrap();
    let d = c.detectors();
    assert_eq!(
        d.get("STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS"),
        Some("False")
    );
    assert_eq!(
        d.get("statusauditor_chatting_requires_two_users"),
        Some("False")
    );
    assert_eq!(
        d.get_in("statusauditor", "CHATTING_REQUIRES_TWO_USERS"),
        Some("False")
    );
    // [main] options have no section prefix; %(home)s is the detectors dir.
    let expected = format!("{}/x", home.join("detectors").display());
    assert_eq!(d.get("FOO"), Some(expected.as_str()));
    // options from [DEFAULT] are left out, like Roundup does
    assert_eq!(d.get("STATUSAUDITOR_SHARED"), None);
    let names: Vec<String> = d.items().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec!["STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS", "FOO"]
    );

    // Loading the file directly gives the same.
    let direct = Config::load_detector_config(&home.join("detectors/config.ini")).unwrap();
    assert_eq!(&direct, d);
    // A missing directory is simply empty.
    let none = Config::load_detector_config(&home.join("nowhere")).unwrap();
    assert!(none.is_empty());
}
