//! The one place that maps a tracker's configuration to storage backends:
//! `[rdbms] backend` to the database's [`Backend`], and `[sessiondb]
//! backend` to where sessions and one-time keys are kept.
//!
//! A new backend crate joins here (and in Cargo.toml): front ends open
//! everything through [`crate::Tracker`].

use std::sync::Arc;
use std::time::Duration;

use roundup_core::backend::Backend;
use roundup_core::config::Config;
use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::{Error, Result};

/// The backend `[rdbms] backend` names, for this tracker's database.
pub fn database_backend(config: &Config) -> Result<Arc<dyn Backend>> {
    let name = config.backend().map_err(|e| Error::Config(e.to_string()))?;
    match name {
        "sqlite" => Ok(Arc::new(roundup_sqlite::SqliteBackend::new(
            &config.database_dir(),
            Duration::from_secs(config.sqlite_timeout()),
        ))),
        other => Err(Error::Config(format!(
            "{}: [rdbms] backend = {other}: this build supports only sqlite",
            config.home().join("config.ini").display()
        ))),
    }
}

/// Open the session (or one-time-key) store: in Redis for `[sessiondb]
/// backend = redis` (at `[sessiondb] redis_url`), otherwise the store the
/// database backend keeps.
pub fn open_key_store(
    config: &Config,
    database: &dyn Backend,
    kind: StoreKind,
) -> Result<Box<dyn KeyStore>> {
    match config.sessiondb_backend() {
        None => database.open_key_store(kind),
        Some(name) if name == database.name() => database.open_key_store(kind),
        Some("redis") => {
            let url = config
                .get_str("sessiondb", "redis_url")
                .unwrap_or_else(|_| "redis://localhost:6379/0".to_string());
            Ok(Box::new(roundup_redis::RedisKeyStore::open(&url, kind)?))
        }
        Some(other) => Err(Error::Config(format!(
            "{}: [sessiondb] backend = {other}: this build keeps sessions in redis or in the {} database",
            config.home().join("config.ini").display(),
            database.name()
        ))),
    }
}
