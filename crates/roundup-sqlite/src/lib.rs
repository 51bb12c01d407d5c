//! The SQLite backend: Roundup 2.6's `sqlite` database layout, readable
//! and writable by both Roundup and this crate.
//!
//! * [`connection`]: the [`SqliteConnection`] and [`SqliteDialect`] that
//!   Roundup's generic layout ([`roundup_rdbms::RdbmsStorage`]) runs on,
//!   with SQLite's transactions, write-ahead log and bulk-load tuning.
//! * [`local_writers`]: the write queue and shared log flushes of this
//!   process's connections to one file.
//! * [`sessions`]: the session and one-time-key stores (`db-session`,
//!   `db-otk`).
//! * [`backend`]: the [`SqliteBackend`], what `roundup-tracker` selects for
//!   `[rdbms] backend = sqlite`.
//!
//! It is the only crate allowed to hold SQL that only SQLite accepts.
pub mod backend;
pub mod connection;
pub mod local_writers;
pub mod sessions;

use std::path::Path;
use std::time::Duration;

pub use backend::SqliteBackend;
pub use connection::{error_kind, limit_process_memory, SqliteConnection, SqliteDialect};
pub use sessions::SqliteKeyStore;

use roundup_core::Result;
use roundup_rdbms::RdbmsStorage;

/// Roundup's storage on an SQLite file.
pub type SqliteStorage = RdbmsStorage<SqliteConnection>;

/// Open (creating if needed) the database `<db_dir>/db` as Roundup's
/// storage. `timeout` is how long to wait for another connection's lock
/// (`[rdbms] sqlite_timeout`). A new database gets Roundup's base tables
/// and write-ahead logging; classes are created by `sync_schema`.
pub fn open(db_dir: &Path, timeout: Duration) -> Result<SqliteStorage> {
    RdbmsStorage::new(SqliteConnection::open(db_dir, timeout)?)
}
