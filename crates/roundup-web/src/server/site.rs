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
