//! Roundup's programmatic interfaces: REST under `/rest/` (with its
//! OpenAPI document) and XML-RPC under `/xmlrpc`.
//!
//! Both are transport independent: the server turns an HTTP request into
//! an [`rest::ApiRequest`] and sends back the [`rest::ApiResponse`]. The
//! caller is established by [`rest::authenticate`] (Basic with the
//! verified-credential cache, or a JWT) or, failing that, by the server
//! (a web session cookie). Every rule these interfaces apply (login and
//! its rate limit, CSRF/origin, per-property permissions, designators) is
//! the core's; this crate decodes, calls the core, and encodes.
//!
//! What it keeps between requests lives in [`rest::ApiState`], one per
//! served tracker, never in a process static.

// Log lines of a long-running server: never panic on a closed stderr.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        roundup_core::errln!($($arg)*)
    };
}

pub mod rest;
pub mod xmlrpc;
