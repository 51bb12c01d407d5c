//! One served tracker: its definition, compiled templates, a pool of open
//! database connections and its session / one-time-key stores.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::shared_cache::SharedCache;
use roundup_core::{Db, Error, Result};
use roundup_tracker::Tracker;

use roundup_core::csrf::TokenSigner;

use super::page_cache::PageCache;
use super::settings::WebSettings;
use crate::rest::ApiState;
use crate::templating::Templates;

/// Open connections kept for reuse. `Db` is `Send` but not `Sync`, so each
/// request takes one connection out, uses it on its own blocking thread
/// and puts it back (rolled back, which also clears its item cache).
pub struct DbPool {
    tracker: Arc<Tracker>,
    idle: Mutex<Vec<Db>>,
    max_idle: usize,
    /// Items and query results read by one request, kept for the next
    /// (emptied by every commit; see `roundup_core::shared_cache`).
    cache: Arc<SharedCache>,
}

impl DbPool {
    pub fn new(tracker: Arc<Tracker>, max_idle: usize) -> DbPool {
        DbPool {
            tracker,
            idle: Mutex::new(Vec::new()),
            max_idle,
            cache: SharedCache::new(),
        }
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

/// Everything the server keeps per tracker.
pub struct TrackerState {
    /// The URL path component naming the tracker (`demo` in `/demo/`).
    pub name: String,
    pub tracker: Arc<Tracker>,
    pub templates: Templates,
    pub settings: WebSettings,
    pub pool: DbPool,
    pub sessions: Mutex<Box<dyn KeyStore>>,
    pub otks: Mutex<Box<dyn KeyStore>>,
    /// Signs the `@csrf` tokens put in forms (see [`roundup_core::csrf`]).
    pub csrf_signer: TokenSigner,
    /// What REST and XML-RPC keep for this tracker between requests.
    pub api: ApiState,
    /// Rendered pages for repeated identical requests.
    pub pages: PageCache,
}

impl std::fmt::Debug for TrackerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerState")
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

impl TrackerState {
    /// Open a tracker home for serving under `/<name>/`.
    pub fn open(name: &str, home: &Path) -> Result<TrackerState> {
        let tracker = Arc::new(Tracker::open(home)?);
        if !tracker.db_exists()? {
            return Err(Error::Config(format!(
                "{}: the tracker database does not exist; run `roundup-admin -i {} initialise` first",
                home.display(),
                home.display()
            )));
        }
        // Advisory: a server keeps many connections; a failure only means
        // the backend keeps its default caches.
        let _ = tracker.limit_process_memory(8 << 20);
        let settings = WebSettings::from_config(tracker.config());
        let templates = Templates::load(&tracker)?;
        let sessions = tracker.open_key_store(StoreKind::Sessions)?;
        let otks = tracker.open_key_store(StoreKind::Otks)?;
        let secret = match tracker.config().secret_key() {
            Ok(s) if !s.is_empty() => s.into_bytes(),
            // No usable secret: tokens signed with a per-process key
            // stay valid only until the server restarts.
            _ => roundup_core::sessions::random_key(32, false).into_bytes(),
        };
        Ok(TrackerState {
            csrf_signer: TokenSigner::new(&secret),
            api: ApiState::new(&tracker),
            pages: PageCache::default(),
            name: name.to_string(),
            pool: DbPool::new(tracker.clone(), 8),
            tracker,
            templates,
            settings,
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
