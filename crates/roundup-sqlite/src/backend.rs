//! The SQLite [`Backend`]: a tracker's database directory (`[main]
//! database`) holding the database file `db`, the session and one-time-key
//! stores `db-session` and `db-otk`, and the core's `files/`.

use std::path::{Path, PathBuf};
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
}

impl SqliteBackend {
    /// The database in `db_dir`, waiting up to `timeout` for another
    /// connection's lock (`[rdbms] sqlite_timeout`).
    pub fn new(db_dir: &Path, timeout: Duration) -> SqliteBackend {
        SqliteBackend {
            db_dir: db_dir.to_path_buf(),
            timeout,
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
        Ok(Box::new(crate::open(&self.db_dir, self.timeout)?))
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
}
