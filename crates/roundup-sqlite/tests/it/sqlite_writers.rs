//! Several connections of one process writing the same SQLite file: the
//! in-process write queue and shared log flushes (`local_writers`); the
//! session store's page-view touch, which should not need to write.

use std::time::{Duration, Instant};

use crate::common::*;
use roundup_core::storage::Storage;
use roundup_core::Value;

fn status_values(name: &str) -> roundup_core::storage::NodeValues {
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("name".into(), s(name));
    v.insert("order".into(), Some(Value::Number(1.0)));
    v
}

fn prepared() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(dir.path());
    st.sync_schema(&test_schema()).unwrap();
    st.commit().unwrap();
    dir
}

#[test]
fn concurrent_writers_all_commit_with_distinct_ids() {
    let dir = prepared();
    let schema = test_schema();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = dir.path().to_path_buf();
            let schema = schema.clone();
            std::thread::spawn(move || {
                let mut st = open(&path);
                let status = schema.class("status").unwrap();
                let mut ids = Vec::new();
                for i in 0..40 {
                    let id = st.new_id("status").unwrap().to_string();
                    st.add_node(status, &id, &status_values(&format!("s{t}-{i}")))
                        .unwrap();
                    st.commit().unwrap();
                    ids.push(id);
                }
                ids
            })
        })
        .collect();
    let mut ids: Vec<u64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .map(|id| id.parse().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 160);
    assert_eq!(
        raw_strings(dir.path(), "select count(*) from _status"),
        ["160"]
    );
    assert_eq!(
        raw_strings(dir.path(), "select num from ids where name='status'"),
        ["161"]
    );
    assert_eq!(raw_strings(dir.path(), "pragma journal_mode"), ["wal"]);
}

#[test]
fn a_writer_that_ends_its_transaction_lets_the_next_in_at_once() {
    let dir = prepared();
    let mut first = open(dir.path());
    let mut second = open(dir.path());
    // Taking an id opens the transaction (and takes the write lock).
    assert_eq!(first.new_id("status").unwrap(), 1);
    first.rollback().unwrap();
    let start = Instant::now();
    assert_eq!(second.new_id("status").unwrap(), 2);
    second.commit().unwrap();
    assert_eq!(first.new_id("status").unwrap(), 3);
    // A connection closed inside its transaction gives the lock up too.
    drop(first);
    assert_eq!(second.new_id("status").unwrap(), 4);
    second.commit().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "waited {:?} for a free lock",
        start.elapsed()
    );
}

#[test]
fn waiting_for_ones_own_other_connection_ends_with_a_busy_error() {
    let dir = prepared();
    let timeout = Duration::from_millis(300);
    let mut first = roundup_sqlite::open(dir.path(), timeout).unwrap();
    let mut second = roundup_sqlite::open(dir.path(), timeout).unwrap();
    first.new_id("status").unwrap();
    let start = Instant::now();
    let err = second.new_id("status").unwrap_err().to_string();
    assert!(err.contains("locked") || err.contains("busy"), "{err}");
    // The queue's wait and then SQLite's, not forever.
    assert!(start.elapsed() < Duration::from_secs(3));
    first.commit().unwrap();
    assert_eq!(second.new_id("status").unwrap(), 2);
    second.commit().unwrap();
}

/// A page view touches its session; within a minute of the last touch
/// that is only a read, so it goes on while another process holds the
/// session file's write lock. An older time is still brought up to date,
/// which does wait for the lock.
#[test]
fn a_recent_session_is_touched_without_waiting_for_the_write_lock() {
    use roundup_core::pyrepr::PyValue;
    use roundup_core::sessions::{KeyStore, Record, StoreKind};
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(200);
    let mut store =
        roundup_sqlite::SqliteKeyStore::open(dir.path(), StoreKind::Sessions, timeout).unwrap();
    let mut rec = Record::new();
    rec.insert("user".into(), PyValue::Str("demo".into()));
    store.set("fresh", rec.clone(), None).unwrap();
    store.set("stale", rec, None).unwrap();
    store.commit().unwrap();
    let other = rusqlite::Connection::open(dir.path().join("db-session")).unwrap();
    other
        .execute(
            "UPDATE sessions SET session_time = session_time - 3600 WHERE session_key = 'stale'",
            [],
        )
        .unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let start = Instant::now();
    store.touch("fresh").unwrap();
    assert!(start.elapsed() < timeout, "{:?}", start.elapsed());
    assert!(
        store.touch("stale").is_err(),
        "an old time is written, and that waits for the lock"
    );
    other.execute_batch("ROLLBACK").unwrap();
    store.touch("stale").unwrap();
    let age: f64 = other
        .query_row(
            "SELECT strftime('%s','now') - session_time FROM sessions WHERE session_key = 'stale'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        age.abs() < 60.0,
        "the old time was brought up to date: {age}"
    );
}
