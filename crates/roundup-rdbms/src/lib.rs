//! Roundup's relational storage layout (the "rdbms" backends), for any
//! SQL engine.
//!
//! * [`sql`]: SQL values, the [`sql::Dialect`] trait (what the text of SQL
//!   differs in between engines) and the [`sql::Connection`] trait (what a
//!   database driver provides).
//! * [`layout`]: Roundup's tables, the `schema` table, value encoding and
//!   decoding, full-text index words.
//! * [`filter_sql`]: turns a core [`roundup_core::filter::Query`] into one
//!   SQL statement for any dialect.
//! * [`storage`]: [`storage::RdbmsStorage`], the core's
//!   [`roundup_core::storage::Storage`] over any connection.
//!
//! Engines live in their own crates (`roundup-sqlite`); no SQL that only
//! one engine accepts belongs here.
pub mod change_log;
pub mod filter_sql;
pub mod layout;
pub mod sql;
pub mod storage;

pub use storage::RdbmsStorage;
