//! The process-wide read cache (roundup_core::shared_cache) on a real
//! classic tracker: connections sharing it see each other's commits,
//! commits by a connection outside it (another process, as far as the
//! cache can tell), and their own uncommitted writes.

use indexmap::IndexMap;
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::shared_cache::SharedCache;
use roundup_core::{Db, Value};
use roundup_tracker::Tracker;

fn title(db: &Db, id: &str) -> String {
    match db.get("issue", id, "title").unwrap() {
        Some(Value::String(s)) => s,
        other => panic!("title of issue{id}: {other:?}"),
    }
}

fn values(pairs: &[(&str, &str)]) -> roundup_core::Values {
    let mut v = IndexMap::new();
    for (k, s) in pairs {
        v.insert(k.to_string(), Some(Value::String(s.to_string())));
    }
    v
}

fn count_titled(db: &Db, text: &str) -> u64 {
    let mut spec = FilterSpec::default();
    spec.exact_match
        .push(("title".into(), SpecValue::One(text.to_string())));
    db.filter_count("issue", &spec).unwrap()
}

#[test]
fn commits_from_anywhere_reach_every_sharing_connection() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("t");
    roundup_tracker::install(
        &home,
        "classic",
        "sqlite",
        &[("mail_domain".into(), "example.com".into())],
    )
    .unwrap();
    let tracker = Tracker::open(&home).unwrap();
    tracker.initialise("admin", "admin@example.com").unwrap();
    {
        let db = tracker.open_db("1").unwrap();
        db.create("issue", values(&[("title", "first")])).unwrap();
        db.commit().unwrap();
    }

    let cache = SharedCache::new();
    let a = tracker
        .open_db("1")
        .unwrap()
        .with_shared_cache(cache.clone());
    let b = tracker
        .open_db("1")
        .unwrap()
        .with_shared_cache(cache.clone());

    // a reads and fills the cache; b is served from it
    a.refresh_shared_cache().unwrap();
    assert_eq!(title(&a, "1"), "first");
    assert_eq!(count_titled(&a, "first"), 1);
    a.rollback().unwrap();
    let gen = cache.generation();
    b.refresh_shared_cache().unwrap();
    assert_eq!(cache.generation(), gen + 1, "b's first look starts over");
    assert_eq!(title(&b, "1"), "first");
    b.rollback().unwrap();

    // b writes: it sees its own change before committing, a does not
    b.refresh_shared_cache().unwrap();
    a.refresh_shared_cache().unwrap();
    b.set("issue", "1", values(&[("title", "second")])).unwrap();
    assert_eq!(title(&b, "1"), "second");
    assert_eq!(count_titled(&b, "second"), 1);
    assert_eq!(title(&a, "1"), "first");
    b.commit().unwrap();
    a.rollback().unwrap();
    // after b's commit a's next request sees it, title and query alike
    a.refresh_shared_cache().unwrap();
    assert_eq!(title(&a, "1"), "second");
    assert_eq!(count_titled(&a, "first"), 0);
    assert_eq!(count_titled(&a, "second"), 1);
    a.rollback().unwrap();

    // a connection that does not share the cache (as roundup-admin in
    // another process) commits: both notice on their next request
    a.refresh_shared_cache().unwrap();
    assert_eq!(title(&a, "1"), "second");
    a.rollback().unwrap();
    b.refresh_shared_cache().unwrap();
    assert_eq!(count_titled(&b, "second"), 1);
    b.rollback().unwrap();
    {
        let other = tracker.open_db("1").unwrap();
        other
            .set("issue", "1", values(&[("title", "third")]))
            .unwrap();
        other.commit().unwrap();
    }
    a.refresh_shared_cache().unwrap();
    assert_eq!(title(&a, "1"), "third");
    a.rollback().unwrap();
    b.refresh_shared_cache().unwrap();
    assert_eq!(count_titled(&b, "second"), 0);
    assert_eq!(count_titled(&b, "third"), 1);
    assert_eq!(title(&b, "1"), "third");
    b.rollback().unwrap();

    // a rolled-back write leaves nothing behind in the cache
    a.refresh_shared_cache().unwrap();
    a.set("issue", "1", values(&[("title", "never")])).unwrap();
    a.rollback().unwrap();
    b.refresh_shared_cache().unwrap();
    assert_eq!(title(&b, "1"), "third");
    assert_eq!(count_titled(&b, "never"), 0);
}
