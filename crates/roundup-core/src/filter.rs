//! Filter queries: the typed form of Roundup's `filter(search_matches,
//! filterspec, sort, group, retired, exact_match_spec, limit, offset)`.
//!
//! Callers (admin CLI, web index, REST) hand in Roundup's raw filterspec;
//! [`Query`] is what it resolves to against the schema, and what storage
//! backends translate into SQL.

use crate::date::{Date, Interval};
use crate::value::Value;

/// Sort or group direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A property path from the queried class: `["status"]`,
/// `["assignedto", "username"]`, `["messages", "author", "realname"]`.
/// Every step but the last is a Link or Multilink.
pub type PropPath = Vec<String>;

/// A boolean expression over linked ids (Roundup's property expressions:
/// `-1` empty, `-2` not, `-3` and, `-4` or, in reverse Polish notation).
#[derive(Clone, Debug, PartialEq)]
pub enum LinkExpr {
    /// The property links to this id (for a multilink: contains it).
    Id(String),
    /// No link / empty multilink.
    Empty,
    Not(Box<LinkExpr>),
    And(Vec<LinkExpr>),
    Or(Vec<LinkExpr>),
}

/// One condition on the value at the end of a property path.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// String: every word occurs (case-insensitively, as a substring).
    Words(Vec<String>),
    /// String: equals one of these exactly (exact_match_spec).
    Exact(Vec<String>),
    /// The value is empty (NULL / no link / empty multilink).
    Empty,
    /// Link/Multilink expression (a plain id list is an `Or` of `Id`s).
    Links(LinkExpr),
    /// Date within inclusive bounds (either may be open).
    DateRange {
        from: Option<Date>,
        to: Option<Date>,
    },
    /// Interval within inclusive bounds.
    IntervalRange {
        from: Option<Interval>,
        to: Option<Interval>,
    },
    /// Number/Integer/Boolean equal to one of these.
    Values(Vec<Value>),
    /// Number/Integer within inclusive bounds.
    NumberRange { from: Option<f64>, to: Option<f64> },
    /// Any of several conditions on the same path (e.g. "-1" plus words).
    AnyOf(Vec<Condition>),
}

/// A condition on a property path.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub path: PropPath,
    pub cond: Condition,
}

/// A resolved filter query on one class.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub class: String,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Restrict to these ids (full-text search results); `None`: no restriction.
    pub search_ids: Option<Vec<String>>,
    /// Grouping comes before sorting in the final order.
    pub group: Vec<(Direction, PropPath)>,
    pub sort: Vec<(Direction, PropPath)>,
    /// `Some(false)`: active items only (Roundup's default), `Some(true)`:
    /// retired only, `None`: both.
    pub retired: Option<bool>,
    pub limit: Option<u64>,
    pub offset: u64,
}

impl Query {
    /// A query matching every active item of `class`, ordered by id.
    pub fn all(class: &str) -> Query {
        Query {
            class: class.to_string(),
            filters: Vec::new(),
            search_ids: None,
            group: Vec::new(),
            sort: Vec::new(),
            retired: Some(false),
            limit: None,
            offset: 0,
        }
    }
}
