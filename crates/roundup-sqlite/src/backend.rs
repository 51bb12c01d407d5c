//! The SQLite [`Backend`]: a tracker's database directory (`[main]
//! database`) holding the database file `db`, the session and one-time-key
//! stores `db-session` and `db-otk`, and the core's `files/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roundup_core::backend::Backend;
use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::storage::Storage;
use roundup_core::{Error, Result};
use roundup_rdbms::layout::DB_VERSION;

use crate::sessions::SqliteKeyStore;

/// A tracker's SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteBackend {
    db_dir: PathBuf,
    timeout: Duration,
    /// Page cache of each connection opened from now on (bytes; 0:
    /// SQLite's default of about 2 MB). A server sets it
    /// ([`Backend::limit_connection_memory`]).
    page_cache: Arc<AtomicUsize>,
}

impl SqliteBackend {
    /// The database in `db_dir`, waiting up to `timeout` for another
    /// connection's lock (`[rdbms] sqlite_timeout`).
    pub fn new(db_dir: &Path, timeout: Duration) -> SqliteBackend {
        SqliteBackend {
            db_dir: db_dir.to_path_buf(),
            timeout,
            page_cache: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The database directory.
    pub fn db_dir(&self) -> &Path {
        &self.db_dir
    }

    fn db_file(&self) -> PathBuf {
        self.db_dir.join("db")
    }
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn exists(&self) -> Result<bool> {
        Ok(self.db_file().exists())
    }

    fn create(&self) -> Result<()> {
        crate::open(&self.db_dir, self.timeout).map(|_| ())
    }

    fn nuke(&self) -> Result<()> {
        let dir = &self.db_dir;
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", dir.display()), e)),
        }
    }

    fn open(&self) -> Result<Box<dyn Storage>> {
        let conn = crate::SqliteConnection::open(&self.db_dir, self.timeout)?;
        let bytes = self.page_cache.load(Ordering::Relaxed);
        if bytes > 0 {
            conn.set_page_cache(bytes)?;
        }
        Ok(Box::new(roundup_rdbms::RdbmsStorage::new(conn)?))
    }

    fn stored_layout_version(&self) -> Result<Option<i64>> {
        if !self.exists()? {
            return Ok(None);
        }
        let store = crate::open(&self.db_dir, self.timeout)?;
        Ok(Some(store.stored_schema()?.version))
    }

    fn current_layout_version(&self) -> i64 {
        DB_VERSION
    }

    fn open_key_store(&self, kind: StoreKind) -> Result<Box<dyn KeyStore>> {
        // Session stores are written on most page views: never wait less
        // than a second for their lock.
        let timeout = self.timeout.max(Duration::from_secs(1));
        Ok(Box::new(SqliteKeyStore::open(&self.db_dir, kind, timeout)?))
    }

    fn limit_process_memory(&self, bytes: i64) -> Result<()> {
        crate::limit_process_memory(bytes)
    }

    /// `PRAGMA cache_size` of every connection opened from now on
    /// (at least 64 KiB).
    fn limit_connection_memory(&self, bytes: usize) -> Result<()> {
        self.page_cache.store(bytes.max(1), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_sets_the_page_cache_of_new_connections() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::new(dir.path(), Duration::from_secs(1));
        b.create().unwrap();
        let before = crate::SqliteConnection::open(dir.path(), Duration::from_secs(1)).unwrap();
        // SQLite's own default: 2000 KiB
        assert_eq!(before.page_cache_kib().unwrap(), 2000);
        before.set_page_cache(256 << 10).unwrap();
        assert_eq!(before.page_cache_kib().unwrap(), 256);
        before.set_page_cache(1).unwrap();
        assert_eq!(before.page_cache_kib().unwrap(), 64, "at least 64 KiB");
        b.limit_connection_memory(300 << 10).unwrap();
        assert_eq!(b.page_cache.load(Ordering::Relaxed), 300 << 10);
        assert!(b.open().is_ok());
    }
}
