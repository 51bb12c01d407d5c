//! The Redis session / one-time-key stores against the server that
//! ROUNDUP_TEST_REDIS names (e.g. `redis://127.0.0.1:6379/15`). Without it
//! the test is skipped, except under CI (`CI=true`), where it fails.

use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::{now, record_str, KeyStore, Record, StoreKind};
use roundup_redis::RedisKeyStore;

fn rec(k: &str, v: &str) -> Record {
    let mut r = Record::new();
    r.insert(k.into(), PyValue::Str(v.into()));
    r
}

#[test]
fn redis_store_semantics() {
    let Ok(url) = std::env::var("ROUNDUP_TEST_REDIS") else {
        return roundup_testkit::missing_because(
            &roundup_testkit::REDIS,
            "ROUNDUP_TEST_REDIS is not set",
        );
    };
    let mut s = RedisKeyStore::open(&url, StoreKind::Sessions).unwrap();
    let mut o = RedisKeyStore::open(&url, StoreKind::Otks).unwrap();
    s.clear().unwrap();
    o.clear().unwrap();
    s.set("abc", rec("user", "demo"), None).unwrap();
    s.set("abc", rec("more", "x"), None).unwrap();
    let r = s.get_all("abc").unwrap().unwrap();
    assert_eq!(record_str(&r, "user"), Some("demo"));
    assert_eq!(record_str(&r, "more"), Some("x"));
    // the expiry is kept as __timestamp, about a week ahead
    match r.get("__timestamp") {
        Some(PyValue::Float(t)) => assert!((t - now() - 7.0 * 86400.0).abs() < 60.0),
        other => panic!("no __timestamp: {other:?}"),
    }
    // stores do not see each other's keys
    assert!(!o.exists("abc").unwrap());
    assert_eq!(s.keys().unwrap(), vec!["abc".to_string()]);
    // a record past its expiry is gone (Redis expires it)
    o.set("old", rec("uid", "1"), Some(now() - 5.0)).unwrap();
    assert!(!o.exists("old").unwrap());
    o.set("new", rec("uid", "1"), Some(now() + 100.0)).unwrap();
    assert!(o.exists("new").unwrap());
    let k = o.unique_key(32).unwrap();
    assert_eq!(k.len(), 32);
    o.destroy("new").unwrap();
    assert!(o.get("new", "uid").unwrap().is_none());
    s.clear().unwrap();
    assert!(s.keys().unwrap().is_empty());
}

#[test]
fn redis_bad_url_is_a_clear_error() {
    let err = RedisKeyStore::open("redis://127.0.0.1:1/0", StoreKind::Otks).unwrap_err();
    assert!(err.to_string().contains("redis"), "{err}");
    assert_eq!(
        err.storage_error_kind(),
        Some(roundup_core::StorageKind::Connection),
        "{err}"
    );
}
