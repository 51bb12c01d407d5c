//! Roundup's HTML user interface, independent of the HTTP server that
//! carries it and of the APIs beside it.
//!
//! The server hands each request for a tracker's pages to
//! [`client::handle`] as an [`reply::Incoming`] (plain data, already read
//! off the connection) on a blocking thread, and sends back the
//! [`reply::Reply`]. In between, all of Roundup's web protocol:
//!
//! * [`client`]: one request's flow: session cookie, user, context
//!   (class, item, template), access, CSRF, action, page, errors.
//! * [`actions`]: `@action` handlers (login, logout, edit, new, search,
//!   retire/restore, register, password reset, CSV export).
//! * [`form`]: Roundup's form protocol (`name`, `class-id@name`, `@link@`,
//!   `:required`, file uploads) turned into item changes.
//! * [`request`], [`templating`]: the request as templates see it, and
//!   the Jinja2-syntax page templates (minijinja) with Roundup's object
//!   model (`context`, `request`, `db`, `utils`, `config`).
//! * [`page_cache`]: rendered pages for repeated identical requests.
//! * [`state`]: what the UI keeps per tracker ([`state::UiState`]).
//! * [`settings`], [`mail`]: the web options of config.ini; registration
//!   and password-reset mail.
//!
//! Rules (login, authorisation, CSRF, designators, index arguments) are
//! the core's; this crate calls them and renders their outcome.

// Every `eprintln!` here is a log line of a long-running server: bound
// (before the modules, so they see it) to the version that does not panic
// when standard error is a closed pipe.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        roundup_core::errln!($($arg)*)
    };
}

pub mod actions;
pub mod client;
pub mod form;
pub mod mail;
pub mod page_cache;
pub mod reply;
pub mod request;
pub mod settings;
pub mod state;
pub mod templating;
