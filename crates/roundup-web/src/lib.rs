//! Roundup's web interface.
//!
//! * [`request`]: one web request in Roundup's terms (class, item, template,
//!   form variables with `@`/`:` names, uploaded files). The HTTP layer
//!   builds it; templates and actions read it.
//! * [`templating`]: the Jinja2-syntax page templates (minijinja) and the
//!   object model they see (`context`, `request`, `db`, `utils`, `config`),
//!   shaped like Roundup's templating API.
//! * [`rest`], [`xmlrpc`]: Roundup's REST and XML-RPC interfaces,
//!   transport independent (the server routes `/rest/...` and `/xmlrpc`).
//! * [`server`]: axum routing, sessions and logins, CSRF, actions,
//!   compression, static files, multi-tracker serving; used by the
//!   `roundup-server` and `roundup-demo` binaries.
pub mod request;
pub mod rest;
pub mod server;
pub mod templating;
pub mod xmlrpc;
