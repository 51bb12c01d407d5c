//! roundup-sqlite's integration tests, one module per file, all in one test
//! binary: every binary links the whole dependency tree again, so one
//! binary per crate keeps builds short and target directories small.
//! `common` and `filter_support` are the shared helpers; the fixtures and
//! the Roundup 2.6 filter oracle stay in `tests/`.

mod common;
mod filter_support;

mod backend_suite;
mod filter_roundup;
mod filter_sql;
mod roundup26_compat;
mod sort_plans;
mod sqlite_storage;
mod sqlite_writers;
