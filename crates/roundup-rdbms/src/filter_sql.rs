//! Filter queries to SQL.
//!
//! TEMPORARY stand-in on the storage branch: the real translation is written
//! on the filter branch with this exact signature and replaces this file when
//! both are merged.

use roundup_core::filter::Query;
use roundup_core::{Error, Schema};

use crate::sql::{Dialect, SqlValue};

/// One SQL statement (and its parameters) selecting the ids that match
/// `query`, in the requested order.
pub fn filter_sql(
    _schema: &Schema,
    _query: &Query,
    _dialect: &dyn Dialect,
) -> roundup_core::Result<(String, Vec<SqlValue>)> {
    Err(Error::Storage("filter not implemented".into()))
}
