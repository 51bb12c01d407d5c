//! The tracker picks its storage backend from config.ini and every
//! database operation goes through it: existence, initialise, layout
//! version, nuke, and the session stores `[sessiondb]` selects.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::StoreKind;
use roundup_core::StorageKind;
use roundup_tracker::Tracker;

fn installed(dir: &Path, backend: &str, extra: &[(&str, &str)]) -> PathBuf {
    let home = dir.join("t");
    let mut settings = vec![("mail_domain".to_string(), "example.com".to_string())];
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    roundup_tracker::install(&home, "classic", backend, &settings).unwrap();
    home
}

#[test]
fn sqlite_database_lives_and_dies_through_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let home = installed(dir.path(), "sqlite", &[]);
    let tracker = Tracker::open(&home).unwrap();
    assert_eq!(tracker.backend().name(), "sqlite");
    assert!(!tracker.db_exists().unwrap());
    assert_eq!(tracker.layout_versions().unwrap(), (None, 8));

    tracker.initialise("admin", "admin@example.com").unwrap();
    assert!(tracker.db_exists().unwrap());
    assert!(home.join("db/db").is_file());
    assert_eq!(tracker.layout_versions().unwrap(), (Some(8), 8));
    {
        let db = tracker.open_db("1").unwrap();
        assert_eq!(db.backend_name(), "sqlite");
        assert_eq!(db.lookup("user", "admin").unwrap(), "1");
    }

    // sessions are kept by the database backend unless [sessiondb] says
    let mut sessions = tracker.open_key_store(StoreKind::Sessions).unwrap();
    let mut record = IndexMap::new();
    record.insert("user".to_string(), PyValue::Str("admin".into()));
    sessions.set("k1", record, None).unwrap();
    sessions.commit().unwrap();
    assert!(home.join("db/db-session").is_file());
    let mut again = tracker.open_key_store(StoreKind::Sessions).unwrap();
    assert!(again.exists("k1").unwrap());
    drop((sessions, again));

    // nuke takes the database, its file contents and session stores
    std::fs::create_dir_all(home.join("db/files/msg/0")).unwrap();
    std::fs::write(home.join("db/files/msg/0/msg1"), "text").unwrap();
    tracker.nuke().unwrap();
    assert!(!tracker.db_exists().unwrap());
    assert!(!home.join("db").exists());
    assert_eq!(tracker.layout_versions().unwrap(), (None, 8));
    // nuking nothing is fine
    tracker.nuke().unwrap();
}

#[test]
fn a_backend_this_build_lacks_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = installed(dir.path(), "postgresql", &[]);
    let err = Tracker::open(&home).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, roundup_core::Error::Config(_)), "{msg}");
    assert!(msg.contains("[rdbms] backend = postgresql"), "{msg}");
    assert!(msg.contains("config.ini"), "{msg}");
}

#[test]
fn sessiondb_redis_opens_the_redis_store() {
    let dir = tempfile::tempdir().unwrap();
    // nothing listens on port 1: the store fails to connect, which shows
    // Redis (not the SQLite files) was chosen
    let home = installed(
        dir.path(),
        "sqlite",
        &[
            ("sessiondb_backend", "redis"),
            ("sessiondb_redis_url", "redis://127.0.0.1:1/0"),
        ],
    );
    let tracker = Tracker::open(&home).unwrap();
    let err = match tracker.open_key_store(StoreKind::Otks) {
        Ok(_) => panic!("a Redis store opened on a closed port"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("redis"), "{err}");
    assert_eq!(err.storage_error_kind(), Some(StorageKind::Connection));
    assert!(!home.join("db/db-otk").exists());
}

#[test]
fn sessiondb_anydbm_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let home = installed(dir.path(), "sqlite", &[("sessiondb_backend", "anydbm")]);
    let tracker = Tracker::open(&home).unwrap();
    let err = match tracker.open_key_store(StoreKind::Sessions) {
        Ok(_) => panic!("anydbm sessions opened"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(msg.contains("[sessiondb] backend = anydbm"), "{msg}");
}
