//! Roundup's relational storage layout (the "rdbms" backends).
//!
//! * [`sql`]: the backend-neutral pieces: SQL values, the [`sql::Dialect`]
//!   trait that captures what differs between database engines.
//! * [`filter_sql`]: turns a core [`roundup_core::filter::Query`] into one
//!   SQL statement for any dialect.
//! * [`sqlite`]: the SQLite backend. It is the only module allowed to hold
//!   SQL that only SQLite accepts.
pub mod filter_sql;
pub mod layout;
pub mod local_writers;
pub mod sql;
pub mod sqlite;
pub mod sqlite_sessions;
