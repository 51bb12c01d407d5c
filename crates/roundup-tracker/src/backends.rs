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

/// The backend `[rdbms] backend` names, for this tracker's database, and
/// the same backend again when it keeps the inverted full-text index in
/// `<db>/text-index` (see [`text_index_wanted`]).
pub type DatabaseBackend = (
    Arc<dyn Backend>,
    Option<Arc<roundup_textindex::TextIndexedBackend>>,
);

pub fn database_backend(config: &Config) -> Result<DatabaseBackend> {
    let name = config.backend().map_err(|e| Error::Config(e.to_string()))?;
    let base: Arc<dyn Backend> = match name {
        "sqlite" => Arc::new(roundup_sqlite::SqliteBackend::new(
            &config.database_dir(),
            Duration::from_secs(config.sqlite_timeout()),
        )),
        other => {
            return Err(Error::Config(format!(
                "{}: [rdbms] backend = {other}: this build supports only sqlite",
                config.home().join("config.ini").display()
            )))
        }
    };
    if !text_index_wanted(config) {
        return Ok((base, None));
    }
    let cache = config
        .our_bytes("main", "text_cache_size")
        .map_err(|e| Error::Config(e.to_string()))?;
    let text = Arc::new(
        roundup_textindex::TextIndexedBackend::new(
            base,
            config.database_dir().join("text-index"),
            config
                .get_list("main", "indexer_stopwords")
                .unwrap_or_default(),
        )
        .with_cache_budget(cache),
    );
    Ok((text.clone(), Some(text)))
}

/// Whether `[main] indexer` asks for the inverted full-text index
/// (roundup-textindex): empty (Roundup's "first available"), `xapian` and
/// `whoosh` (the indexers of that class in Roundup) do; `native` and
/// `native-fts` search Roundup's `__words`/`__textids` tables directly.
/// The word tables are written in every case, so Roundup 2.6 can search
/// the database whatever this says.
pub fn text_index_wanted(config: &Config) -> bool {
    matches!(config.indexer(), "" | "xapian" | "whoosh")
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
