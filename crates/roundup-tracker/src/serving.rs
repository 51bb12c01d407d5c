//! A tracker opened for serving requests: the state every front end of a
//! long-running server shares (the HTML UI, REST and XML-RPC, and later
//! the mail gateway in a server process).
//!
//! [`Served`] holds the tracker, a pool of open database connections and
//! the session and one-time-key stores. It is built once per tracker by
//! the server and borrowed by each request; nothing here lives in a
//! process static, so two trackers served by one process never share
//! state.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::shared_cache::SharedCache;
use roundup_core::{Db, Error, Result};

use crate::Tracker;

/// Open connections kept for reuse. `Db` is `Send` but not `Sync`, so each
/// request takes one connection out, uses it on its own blocking thread
/// and puts it back (rolled back, which also clears its item cache).
pub struct DbPool {
    tracker: Arc<Tracker>,
    idle: Mutex<Vec<Db>>,
    max_idle: usize,
    /// Bytes of items each connection keeps between commits.
    connection_cache: usize,
    /// Items and query results read by one request, kept for the next
    /// (emptied by every commit; see `roundup_core::shared_cache`).
    cache: Arc<SharedCache>,
}

impl DbPool {
    pub fn new(tracker: Arc<Tracker>, max_idle: usize) -> DbPool {
        DbPool::with_budgets(
            tracker,
            max_idle,
            roundup_core::shared_cache::DEFAULT_BUDGET,
            roundup_core::shared_cache::DEFAULT_ORDER_BUDGET,
            roundup_core::db::DEFAULT_CONNECTION_CACHE,
        )
    }

    /// A pool keeping `max_idle` connections, sharing a read cache of
    /// `shared_cache` bytes and `order_cache` bytes of whole orders, each
    /// connection keeping `connection_cache` bytes of items.
    pub fn with_budgets(
        tracker: Arc<Tracker>,
        max_idle: usize,
        shared_cache: usize,
        order_cache: usize,
        connection_cache: usize,
    ) -> DbPool {
        DbPool {
            tracker,
            idle: Mutex::new(Vec::new()),
            max_idle,
            connection_cache,
            cache: Arc::new(SharedCache::with_budgets(shared_cache, order_cache)),
        }
    }

    /// The shared read cache's sizes and hit counts.
    pub fn shared_stats(&self) -> roundup_core::shared_cache::SharedStats {
        self.cache.stats()
    }

    /// The idle connections' item caches, added up.
    pub fn connection_stats(&self) -> roundup_core::clock_cache::CacheStats {
        let mut total = roundup_core::clock_cache::CacheStats::default();
        if let Ok(idle) = self.idle.lock() {
            for db in idle.iter() {
                total.add(&db.cache_stats());
            }
        }
        total
    }

    /// A connection acting as `uid`.
    pub fn get(&self, uid: &str) -> Result<PooledDb<'_>> {
        let reused = self.idle.lock().ok().and_then(|mut v| v.pop());
        let db = match reused {
            Some(db) => {
                db.set_uid(uid);
                db
            }
            None => self
                .tracker
                .open_db(uid)?
                .with_cache_budget(self.connection_cache)
                .with_shared_cache(self.cache.clone()),
        };
        db.refresh_shared_cache()?;
        Ok(PooledDb {
            db: Some(db),
            pool: self,
        })
    }

    /// How many connections wait for reuse.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }
}

/// A connection borrowed from a [`DbPool`]; returned when dropped.
pub struct PooledDb<'a> {
    db: Option<Db>,
    pool: &'a DbPool,
}

impl std::ops::Deref for PooledDb<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        // Only taken out in Drop.
        self.db
            .as_ref()
            .unwrap_or_else(|| unreachable!("connection used after return"))
    }
}

impl Drop for PooledDb<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            // The next request's front end says where its changes come
            // from; until then they come from nowhere.
            db.set_tx_source(None);
            if db.rollback().is_ok() {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    if idle.len() < self.pool.max_idle {
                        idle.push(db);
                    }
                }
            }
        }
    }
}

/// One tracker as a server serves it: what every front end shares.
pub struct Served {
    /// The URL path component naming the tracker (`demo` in `/demo/`).
    pub name: String,
    pub tracker: Arc<Tracker>,
    pub pool: DbPool,
    pub sessions: Mutex<Box<dyn KeyStore>>,
    pub otks: Mutex<Box<dyn KeyStore>>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("name", &self.name)
            .field("home", &self.tracker.home())
            .finish()
    }
}

fn poisoned(what: &str) -> Error {
    Error::storage(format!(
        "the {what} store lock was poisoned by a failed request"
    ))
}

impl Served {
    /// Open a tracker home for serving under `/<name>/`. The database must
    /// exist (`roundup-admin initialise` made it).
    pub fn open(name: &str, home: &Path) -> Result<Served> {
        let tracker = Arc::new(Tracker::open(home)?);
        if !tracker.db_exists()? {
            return Err(Error::Config(format!(
                "{}: the tracker database does not exist; run `roundup-admin -i {} initialise` first",
                home.display(),
                home.display()
            )));
        }
        let config = tracker.config();
        let bytes = |section: &str, option: &str| {
            config
                .our_bytes(section, option)
                .map_err(|e| Error::Config(e.to_string()))
        };
        let memory_limit = bytes("rdbms", "sqlite_memory_limit")?;
        let page_cache = bytes("rdbms", "sqlite_cache_size")?;
        let shared = bytes("main", "shared_cache_size")?;
        let orders = bytes("main", "order_cache_size")?;
        let per_connection = bytes("main", "connection_cache_size")?;
        let pool_size = config
            .our_int("main", "connection_pool_size")
            .map_err(|e| Error::Config(e.to_string()))?;
        let pool_size = usize::try_from(pool_size.max(1)).unwrap_or(1);
        // Advisory: a server keeps many connections; a failure only means
        // the backend keeps its default caches.
        let _ = tracker.limit_process_memory(i64::try_from(memory_limit).unwrap_or(i64::MAX));
        let _ = tracker.limit_connection_memory(page_cache);
        let sessions = tracker.open_key_store(StoreKind::Sessions)?;
        let otks = tracker.open_key_store(StoreKind::Otks)?;
        Ok(Served {
            name: name.to_string(),
            pool: DbPool::with_budgets(tracker.clone(), pool_size, shared, orders, per_connection),
            tracker,
            sessions: Mutex::new(sessions),
            otks: Mutex::new(otks),
        })
    }

    pub fn sessions(&self) -> Result<MutexGuard<'_, Box<dyn KeyStore>>> {
        self.sessions.lock().map_err(|_| poisoned("session"))
    }

    pub fn otks(&self) -> Result<MutexGuard<'_, Box<dyn KeyStore>>> {
        self.otks.lock().map_err(|_| poisoned("one-time key"))
    }
}
