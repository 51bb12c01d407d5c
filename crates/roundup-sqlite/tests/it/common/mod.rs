//! Helpers shared by the SQLite storage tests: the backend suite's
//! schema and value shorthand, plus raw access to the file.

pub use roundup_backend_tests::support::{
    auto, class, date, interval, link, ml, no_ml_changes, pw, s, schema_with_reverse_multilinks,
    test_schema, vals,
};

use std::path::Path;
use std::time::Duration;

use roundup_sqlite::SqliteStorage;

pub fn open(dir: &Path) -> SqliteStorage {
    match roundup_sqlite::open(dir, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => panic!("open {}: {e}", dir.display()),
    }
}

/// A raw connection for looking at what was written.
pub fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("db")).expect("raw open")
}

pub fn raw_strings(dir: &Path, sql: &str) -> Vec<String> {
    let c = raw(dir);
    let mut st = c.prepare(sql).expect("prepare");
    let n = st.column_count();
    let rows = st
        .query_map([], |r| {
            let mut parts = Vec::new();
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i)?;
                parts.push(match v {
                    rusqlite::types::Value::Null => "NULL".to_string(),
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Real(f) => format!("{f:?}"),
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Blob(_) => "BLOB".to_string(),
                });
            }
            Ok(parts.join("|"))
        })
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}
