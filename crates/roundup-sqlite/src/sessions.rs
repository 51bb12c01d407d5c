//! Session and one-time-key stores in their own SQLite files, laid out as
//! Roundup 2.6 does for the sqlite backend: `<db dir>/db-session` holds
//! table `sessions(session_key, session_value, session_time)` and
//! `<db dir>/db-otk` table `otks(otk_key, otk_value, otk_time)`. Values
//! are Python dict literals; the time column is when the record was last
//! used, and records unused for a week are removed by `clean`. A record
//! with an explicit expiry is stored with a time one week before it (and
//! that time as its `__timestamp` value), so the week rule expires it then.
//!
//! Each statement commits on its own (the stores are independent of the
//! tracker's main transaction, which is why Roundup keeps them in
//! separate files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::{
    now, record_from_repr, record_to_repr, KeyStore, Record, StoreKind, WEEK,
};
use roundup_core::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};

/// One of the two stores in its SQLite file.
pub struct SqliteKeyStore {
    kind: StoreKind,
    path: PathBuf,
    conn: Connection,
}

impl std::fmt::Debug for SqliteKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteKeyStore")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .finish()
    }
}

fn sql_err(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::storage_kind(
        crate::connection::error_kind(&e),
        format!("{}: {what}: {e}", path.display()),
    )
}

impl SqliteKeyStore {
    /// The file a store lives in under the tracker's database directory.
    pub fn file_path(db_dir: &Path, kind: StoreKind) -> PathBuf {
        db_dir.join(format!("db-{}", kind.name()))
    }

    /// Open (creating the directory, file and table when missing).
    pub fn open(db_dir: &Path, kind: StoreKind, timeout: Duration) -> Result<SqliteKeyStore> {
        std::fs::create_dir_all(db_dir)
            .map_err(|e| Error::io(format!("creating {}", db_dir.display()), e))?;
        let path = Self::file_path(db_dir, kind);
        let conn = Connection::open(&path).map_err(|e| sql_err(&path, "opening", e))?;
        conn.busy_timeout(timeout)
            .map_err(|e| sql_err(&path, "setting the busy timeout", e))?;
        let n = kind.name();
        let exists: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type='table' AND name=?1",
                params![format!("{n}s")],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sql_err(&path, "reading the schema", e))?;
        if exists.is_none() {
            conn.execute_batch(&format!(
                "CREATE TABLE {n}s ({n}_key VARCHAR(255), {n}_value TEXT, {n}_time REAL);
                 CREATE INDEX {n}_key_idx ON {n}s({n}_key);"
            ))
            .map_err(|e| sql_err(&path, "creating the table", e))?;
            // WAL lets readers proceed while the server writes.
            let _mode: String = conn
                .query_row("PRAGMA journal_mode=wal", [], |r| r.get(0))
                .map_err(|e| sql_err(&path, "switching to WAL", e))?;
        }
        // Sessions and one-time keys are written on most page views; in WAL
        // mode NORMAL skips the fsync per commit. A power cut can lose the
        // newest keys (a user logs in again), never corrupt the file. The
        // tracker's own database keeps SQLite's full durability.
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(|e| sql_err(&path, "setting synchronous=NORMAL", e))?;
        Ok(SqliteKeyStore { kind, path, conn })
    }

    fn row(&self, key: &str) -> Result<Option<(String, f64)>> {
        let n = self.kind.name();
        self.conn
            .query_row(
                &format!("SELECT {n}_value, {n}_time FROM {n}s WHERE {n}_key=?1"),
                params![key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<f64>>(1)?.unwrap_or(0.0),
                    ))
                },
            )
            .optional()
            .map_err(|e| sql_err(&self.path, "reading a record", e))
    }
}

impl KeyStore for SqliteKeyStore {
    fn kind(&self) -> StoreKind {
        self.kind
    }

    fn get_all(&mut self, key: &str) -> Result<Option<Record>> {
        match self.row(key)? {
            Some((value, time)) if time >= now() - WEEK => {
                Ok(Some(record_from_repr(self.kind, key, &value)?))
            }
            _ => Ok(None),
        }
    }

    fn set(&mut self, key: &str, values: Record, expires: Option<f64>) -> Result<()> {
        let n = self.kind.name();
        let existing = self.row(key)?;
        let mut record = match &existing {
            Some((text, _)) => record_from_repr(self.kind, key, text)?,
            None => Record::new(),
        };
        let time = match expires {
            Some(t) => {
                let stamp = t - WEEK;
                record.insert("__timestamp".into(), PyValue::Float(stamp));
                stamp
            }
            None => now(),
        };
        record.extend(values);
        let text = record_to_repr(&record);
        let sql = if existing.is_some() {
            format!("UPDATE {n}s SET {n}_value=?1, {n}_time=?2 WHERE {n}_key=?3")
        } else {
            format!("INSERT INTO {n}s ({n}_value, {n}_time, {n}_key) VALUES (?1, ?2, ?3)")
        };
        self.conn
            .execute(&sql, params![text, time, key])
            .map_err(|e| sql_err(&self.path, "writing a record", e))?;
        Ok(())
    }

    fn destroy(&mut self, key: &str) -> Result<()> {
        let n = self.kind.name();
        self.conn
            .execute(&format!("DELETE FROM {n}s WHERE {n}_key=?1"), params![key])
            .map_err(|e| sql_err(&self.path, "deleting a record", e))?;
        Ok(())
    }

    fn touch(&mut self, key: &str) -> Result<()> {
        let n = self.kind.name();
        let t = now();
        // Every logged-in page view touches its session; a time less than
        // a minute old is kept, as Roundup does. Looked at first, so that
        // those views only read: an UPDATE takes the file's write lock
        // even when it changes nothing, and waits for whoever holds it.
        let recent = self
            .conn
            .query_row(
                &format!("SELECT 1 FROM {n}s WHERE {n}_key=?1 AND {n}_time >= ?2"),
                params![key, t - 60.0],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| sql_err(&self.path, "reading a record's time", e))?;
        if recent.is_some() {
            return Ok(());
        }
        self.conn
            .execute(
                &format!("UPDATE {n}s SET {n}_time=?1 WHERE {n}_key=?2 AND {n}_time < ?3"),
                params![t, key, t - 60.0],
            )
            .map_err(|e| sql_err(&self.path, "updating a record's time", e))?;
        Ok(())
    }

    fn clean(&mut self) -> Result<()> {
        let n = self.kind.name();
        self.conn
            .execute(
                &format!("DELETE FROM {n}s WHERE {n}_time < ?1"),
                params![now() - WEEK],
            )
            .map_err(|e| sql_err(&self.path, "removing expired records", e))?;
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<String>> {
        let n = self.kind.name();
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {n}_key FROM {n}s"))
            .map_err(|e| sql_err(&self.path, "listing keys", e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| sql_err(&self.path, "listing keys", e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| sql_err(&self.path, "listing keys", e))
    }

    fn clear(&mut self) -> Result<()> {
        let n = self.kind.name();
        self.conn
            .execute(&format!("DELETE FROM {n}s"), [])
            .map_err(|e| sql_err(&self.path, "clearing", e))?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roundup_core::sessions::record_str;

    fn rec(k: &str, v: &str) -> Record {
        let mut r = Record::new();
        r.insert(k.into(), PyValue::Str(v.into()));
        r
    }

    #[test]
    fn layout_values_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            SqliteKeyStore::open(dir.path(), StoreKind::Sessions, Duration::from_secs(5)).unwrap();
        s.set("abc", rec("user", "demo"), None).unwrap();
        s.set("abc", rec("extra", "x"), None).unwrap();
        let r = s.get_all("abc").unwrap().unwrap();
        assert_eq!(record_str(&r, "user"), Some("demo"));
        assert_eq!(record_str(&r, "extra"), Some("x"));

        // Roundup's table and value format, readable by plain SQL.
        let conn = Connection::open(dir.path().join("db-session")).unwrap();
        let (v, t): (String, f64) = conn
            .query_row(
                "select session_value, session_time from sessions where session_key='abc'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(v, "{'user': 'demo', 'extra': 'x'}");
        assert!((t - now()).abs() < 5.0);

        let mut o =
            SqliteKeyStore::open(dir.path(), StoreKind::Otks, Duration::from_secs(5)).unwrap();
        o.set("gone", rec("uid", "1"), Some(now() - 10.0)).unwrap();
        o.set("kept", rec("uid", "2"), Some(now() + 100.0)).unwrap();
        assert!(!o.exists("gone").unwrap());
        assert!(o.exists("kept").unwrap());
        assert!(matches!(
            o.get("kept", "__timestamp").unwrap(),
            Some(PyValue::Float(_))
        ));
        o.clean().unwrap();
        assert_eq!(o.keys().unwrap(), vec!["kept".to_string()]);
        o.destroy("kept").unwrap();
        assert!(o.keys().unwrap().is_empty());
        assert!(dir.path().join("db-otk").is_file());
    }
}
