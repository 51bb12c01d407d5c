//! What the HTML UI keeps per served tracker: compiled templates, the web
//! settings read from config.ini, the `@csrf` token signer and the page
//! cache. It stands on [`Served`] (the tracker, its connection pool and
//! its session stores, shared with the APIs) and derefs to it.

use std::ops::Deref;
use std::sync::Arc;

use roundup_core::csrf::TokenSigner;
use roundup_core::Result;
use roundup_tracker::serving::Served;

pub use roundup_tracker::serving::{DbPool, PooledDb};

use crate::page_cache::PageCache;
use crate::settings::WebSettings;
use crate::templating::Templates;

/// The HTML UI's state for one served tracker.
pub struct UiState {
    pub served: Arc<Served>,
    pub templates: Templates,
    pub settings: WebSettings,
    /// Signs the `@csrf` tokens put in forms (see [`roundup_core::csrf`]).
    pub csrf_signer: TokenSigner,
    /// Rendered pages for repeated identical requests.
    pub pages: PageCache,
    /// The tracker's message catalogs (its `locale/`, then the system's).
    pub catalogs: roundup_core::i18n::Catalogs,
}

impl Deref for UiState {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.served
    }
}

impl std::fmt::Debug for UiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiState")
            .field("name", &self.served.name)
            .finish()
    }
}

impl UiState {
    /// Load the templates and web settings of a served tracker.
    pub fn open(served: Arc<Served>) -> Result<UiState> {
        let tracker = &served.tracker;
        let settings = WebSettings::from_config(tracker.config());
        let templates = Templates::load(tracker)?;
        let secret = match tracker.config().secret_key() {
            Ok(s) if !s.is_empty() => s.into_bytes(),
            // No usable secret: tokens signed with a per-process key
            // stay valid only until the server restarts.
            _ => roundup_core::sessions::random_key(32, false).into_bytes(),
        };
        let page_budget = tracker
            .config()
            .our_bytes("web", "page_cache_size")
            .map_err(|e| roundup_core::Error::Config(e.to_string()))?;
        let catalogs = roundup_core::i18n::Catalogs::for_tracker(tracker.home());
        Ok(UiState {
            catalogs,
            csrf_signer: TokenSigner::new(&secret),
            pages: PageCache::with_budget(page_budget),
            served,
            templates,
            settings,
        })
    }
}
