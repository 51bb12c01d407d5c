//! Roundup's HTTP server: `roundup-server` and `roundup-demo`.
//!
//! The top layer of the web stack. [`server`] accepts connections (axum on
//! tokio, TLS with rustls, keep-alive), maps URLs to trackers, serves
//! static files and the favicon, compresses replies, logs requests, and
//! hands each request for a tracker to one of the two front ends beside
//! each other below it:
//!
//! * `roundup-ui` ([`ui`]): the HTML user interface;
//! * `roundup-api` ([`api`]): REST and XML-RPC.
//!
//! Neither front end depends on the other or on this crate; both stand on
//! the core's rules and on the tracker's shared serving state
//! (`roundup_tracker::serving`). Messages go through
//! `roundup_core::console`, which never panics on a closed pipe.

// Every `eprintln!` in this library is a log line of a long-running
// server: bound here (before the modules, so they see it) to the version
// that does not panic when standard error is a closed pipe.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        roundup_core::errln!($($arg)*)
    };
}

pub mod server;

// The layers below, for the binaries and for code that embeds the server.
pub use roundup_api as api;
pub use roundup_core::{errln, outln};
pub use roundup_ui as ui;
