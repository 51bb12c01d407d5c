//! The session and one-time-key stores a backend keeps.

use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::{now, record_str, Record, StoreKind};

use crate::BackendFactory;

fn rec(k: &str, v: &str) -> Record {
    let mut r = Record::new();
    r.insert(k.into(), PyValue::Str(v.into()));
    r
}

/// Values merge into a record; a record lives a week unless given an
/// expiry, expired ones are invisible and `clean` removes them.
pub fn records_merge_expire_and_clean(f: &dyn BackendFactory) {
    let fresh = f.fresh();
    let mut s = fresh.backend.open_key_store(StoreKind::Sessions).unwrap();
    assert_eq!(s.kind(), StoreKind::Sessions);
    assert!(s.get_all("abc").unwrap().is_none());
    s.set("abc", rec("user", "demo"), None).unwrap();
    s.set("abc", rec("extra", "x"), None).unwrap();
    let r = s.get_all("abc").unwrap().unwrap();
    assert_eq!(record_str(&r, "user"), Some("demo"));
    assert_eq!(record_str(&r, "extra"), Some("x"));
    assert_eq!(
        s.get("abc", "user").unwrap(),
        Some(PyValue::Str("demo".into()))
    );
    s.touch("abc").unwrap();
    assert!(s.exists("abc").unwrap());

    let mut o = fresh.backend.open_key_store(StoreKind::Otks).unwrap();
    o.set("gone", rec("uid", "1"), Some(now() - 10.0)).unwrap();
    o.set("kept", rec("uid", "2"), Some(now() + 100.0)).unwrap();
    assert!(!o.exists("gone").unwrap());
    assert!(o.get_all("gone").unwrap().is_none());
    assert!(o.exists("kept").unwrap());
    // the record's time, as Roundup keeps it in `__timestamp`
    assert!(matches!(
        o.get("kept", "__timestamp").unwrap(),
        Some(PyValue::Float(_))
    ));
    o.clean().unwrap();
    assert_eq!(o.keys().unwrap(), vec!["kept".to_string()]);
    o.destroy("kept").unwrap();
    o.destroy("never there").unwrap();
    assert!(o.keys().unwrap().is_empty());
    let key = o.unique_key(32).unwrap();
    assert_eq!(key.len(), 32);
    assert!(!o.exists(&key).unwrap());
}

/// Sessions and one-time keys do not see each other's keys; what one
/// connection commits another reads; `clear` empties one store only.
pub fn stores_are_separate_and_shared_between_connections(f: &dyn BackendFactory) {
    let fresh = f.fresh();
    let mut s = fresh.backend.open_key_store(StoreKind::Sessions).unwrap();
    let mut o = fresh.backend.open_key_store(StoreKind::Otks).unwrap();
    s.set("k", rec("user", "alice"), None).unwrap();
    s.commit().unwrap();
    assert!(!o.exists("k").unwrap());
    o.set("t", rec("csrf", "1"), None).unwrap();
    o.commit().unwrap();

    let mut s2 = fresh.backend.open_key_store(StoreKind::Sessions).unwrap();
    assert_eq!(
        s2.get("k", "user").unwrap(),
        Some(PyValue::Str("alice".into()))
    );
    s2.destroy("k").unwrap();
    s2.commit().unwrap();
    assert!(!s.exists("k").unwrap());

    s.set("a", rec("x", "1"), None).unwrap();
    s.set("b", rec("x", "2"), None).unwrap();
    s.commit().unwrap();
    let mut keys = s2.keys().unwrap();
    keys.sort();
    assert_eq!(keys, vec!["a".to_string(), "b".to_string()]);
    s.clear().unwrap();
    s.commit().unwrap();
    assert!(s2.keys().unwrap().is_empty());
    assert_eq!(o.keys().unwrap(), vec!["t".to_string()]);
}
