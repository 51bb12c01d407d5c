//! roundup-python's integration tests, one module per file, all in one
//! test binary: every binary links the whole dependency tree again (here
//! including the embedded interpreter), so one binary per crate keeps
//! builds short and target directories small. `common` holds the shared
//! helpers; the classic schema script stays in `tests/data/`.

mod common;

mod detectors;
mod errors_and_initial_data;
mod extensions;
mod no_host_access;
mod schema;
mod sqlite;
