//! One served tracker as the HTTP server holds it: the state every front
//! end shares ([`Served`]: tracker, connection pool, session stores), the
//! HTML UI's ([`UiState`]) and the APIs' ([`ApiState`]).

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use roundup_api::rest::ApiState;
use roundup_core::Result;
use roundup_tracker::serving::Served;
use roundup_ui::state::UiState;

/// Everything the server keeps per tracker. Derefs to the UI's state (and
/// through it to [`Served`]).
pub struct Site {
    pub served: Arc<Served>,
    pub ui: Arc<UiState>,
    /// What REST and XML-RPC keep for this tracker between requests.
    pub api: ApiState,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("served", &self.served)
            .finish()
    }
}

impl Deref for Site {
    type Target = UiState;
    fn deref(&self) -> &UiState {
        &self.ui
    }
}

impl Site {
    /// Open a tracker home for serving under `/<name>/`.
    pub fn open(name: &str, home: &Path) -> Result<Site> {
        let served = Arc::new(Served::open(name, home)?);
        let ui = Arc::new(UiState::open(served.clone())?);
        let api = ApiState::new(&served.tracker);
        Ok(Site { served, ui, api })
    }
}

/// The resident set of this process in bytes (Linux `/proc/self/statm`),
/// `None` where it cannot be read.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096))
}

impl Site {
    /// One line on the caches of this tracker and the process's memory:
    /// the shared read cache, the page cache, the idle connections' item
    /// caches and the resident set.
    pub fn cache_report(&self) -> String {
        let shared = self.served.pool.shared_stats();
        let pages = self.ui.pages.stats();
        let conns = self.served.pool.connection_stats();
        let rss = resident_bytes()
            .map(|b| format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)))
            .unwrap_or_else(|| "unknown".into());
        let text = self
            .served
            .tracker
            .text_index()
            .map(|e| format!("; full-text index decoded: {}", e.cache_stats()))
            .unwrap_or_default();
        format!(
            "{}: shared cache: {} (emptied by {} commits); whole orders: {} ({} repaired after commits); page cache: {}; {} idle connections: {}{text}; resident {rss}",
            self.served.name,
            shared.cache,
            shared.invalidations,
            shared.orders,
            shared.order_repairs,
            pages,
            self.served.pool.idle_count(),
            conns
        )
    }
}
