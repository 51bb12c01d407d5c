//! What a storage backend provides for one tracker's configured database.
//!
//! A [`Backend`] stands for the database a tracker's `config.ini` names
//! (`[rdbms] backend` and its options): it tells whether the database
//! exists, creates and removes it, opens connections ([`Storage`]), reads
//! the stored layout version, and opens the session and one-time-key
//! stores it keeps beside the data ([`KeyStore`]). `roundup-tracker` is
//! the one place that maps the configuration to an implementation; front
//! ends go through the tracker and never name a backend crate.

use std::fmt;

use crate::error::Result;
use crate::sessions::{KeyStore, StoreKind};
use crate::storage::Storage;

/// One tracker's configured database.
pub trait Backend: Send + Sync + fmt::Debug {
    /// The backend's name as in config.ini (`sqlite`, `postgresql`,
    /// `mysql`).
    fn name(&self) -> &'static str;

    /// Whether the database has been created.
    fn exists(&self) -> Result<bool>;

    /// Create the database, with Roundup's base tables, when it does not
    /// exist yet (classes come with [`Storage::sync_schema`]).
    fn create(&self) -> Result<()>;

    /// Remove the database and, as Roundup's `nuke` does, what belongs to
    /// it: the database directory with its file contents and the session
    /// and one-time-key stores kept there. Nothing to remove is no error.
    fn nuke(&self) -> Result<()>;

    /// Open a connection to the database (creating it when missing).
    fn open(&self) -> Result<Box<dyn Storage>>;

    /// The layout version the database records, read without bringing it
    /// up to date; `None` when there is no database yet.
    fn stored_layout_version(&self) -> Result<Option<i64>>;

    /// The layout version opening a database brings it to.
    fn current_layout_version(&self) -> i64;

    /// Open the session or one-time-key store this backend keeps.
    fn open_key_store(&self, kind: StoreKind) -> Result<Box<dyn KeyStore>>;

    /// Advice from a long-running process that keeps many connections
    /// open (a web server): keep the backend's memory in this process
    /// under about `bytes`. Advisory; the default does nothing.
    fn limit_process_memory(&self, _bytes: i64) -> Result<()> {
        Ok(())
    }

    /// Advice from a server: each connection opened from now on should
    /// cache at most about `bytes` of the database (SQLite's page cache).
    /// Advisory; the default does nothing.
    fn limit_connection_memory(&self, _bytes: usize) -> Result<()> {
        Ok(())
    }
}
