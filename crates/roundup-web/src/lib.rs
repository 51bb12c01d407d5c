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
//! * [`console`]: messages on standard output and error that never panic.

/// Messages on standard output and standard error for the server and the
/// demo: a write that fails (the reader of a pipe went away, as in
/// `roundup-demo | head -2`) is dropped, and the server goes on serving.
/// `std`'s `println!`/`eprintln!` would panic there. Use [`outln!`] and
/// [`errln!`]; inside this crate `eprintln!` is bound to [`errln!`] too.
pub mod console {
    use std::io::Write;

    /// Write one line to standard output; failures are ignored.
    pub fn out(args: std::fmt::Arguments<'_>) {
        let mut w = std::io::stdout().lock();
        let _ = w.write_fmt(args).and_then(|()| w.write_all(b"\n"));
        let _ = w.flush();
    }

    /// Write one line to standard error; failures are ignored.
    pub fn err(args: std::fmt::Arguments<'_>) {
        let mut w = std::io::stderr().lock();
        let _ = w.write_fmt(args).and_then(|()| w.write_all(b"\n"));
    }
}

/// `println!` that never panics (see [`console`]).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::console::out(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`console`]).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::console::err(format_args!($($arg)*))
    };
}

// Every `eprintln!` in this library is a log line of a long-running
// server: bound here (before the modules, so they see it) to the version
// that does not panic when standard error is a closed pipe.
macro_rules! eprintln {
    ($($arg:tt)*) => {
        $crate::errln!($($arg)*)
    };
}

pub mod request;
pub mod rest;
pub mod server;
pub mod templating;
pub mod xmlrpc;
