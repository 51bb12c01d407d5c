//! Backend-neutral SQL building blocks.

use roundup_core::schema::PropType;

/// A value bound to a statement parameter or read from a result column.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// What differs between SQL engines, as far as Roundup's layout goes.
pub trait Dialect: Send + Sync {
    /// Backend name as in config.ini.
    fn name(&self) -> &'static str;
    /// Placeholder for the `n`th (1-based) statement parameter.
    fn placeholder(&self, n: usize) -> String;
    /// A case-insensitive substring test of `expr` against a bound pattern
    /// that already contains the `%` wildcards (escape character `\`).
    fn like_ci(&self, expr: &str, placeholder: &str) -> String;

    // ---- filter support (filter branch) ----------------------------------
    // Defaults are portable SQL accepted by SQLite, PostgreSQL and MySQL;
    // backends override where their engine needs or allows better.

    /// The bound value compared against a Date column for a range bound.
    /// Default: Roundup's serialised text form (`YYYYMMDDHHMMSS.mmm`), which
    /// orders correctly as text.
    fn date_bound(&self, date: &roundup_core::date::Date) -> SqlValue {
        SqlValue::Text(date.serialise())
    }

    /// The bound value compared against a Boolean column. Default: 0/1.
    fn bool_value(&self, value: bool) -> SqlValue {
        SqlValue::Int(i64::from(value))
    }

    /// A case-sensitive equality test of `expr` against a bound value.
    fn eq_case_sensitive(&self, expr: &str, placeholder: &str) -> String {
        format!("{expr} = {placeholder}")
    }

    /// Whether the engine sorts NULL before every value in ascending
    /// order (SQLite, MySQL), as Roundup wants. When false (the safe
    /// default), filter SQL adds an explicit NULL-ordering key.
    fn nulls_sort_first(&self) -> bool {
        false
    }

    /// The LIMIT/OFFSET tail of a query (empty when neither applies).
    fn limit_offset(&self, limit: Option<u64>, offset: u64) -> String {
        match (limit, offset) {
            (None, 0) => String::new(),
            (Some(l), 0) => format!(" LIMIT {l}"),
            (Some(l), o) => format!(" LIMIT {l} OFFSET {o}"),
            // SQLite and MySQL need a LIMIT before OFFSET.
            (None, o) => format!(" LIMIT {} OFFSET {o}", i64::MAX),
        }
    }
    // ---- end of filter support -------------------------------------------

    // ---- storage layout (storage branch) ---------------------------------
    // Item values are stored with `date_bound` (dates) and `bool_value`
    // (booleans) above, so filter bounds and stored values always agree.

    /// SQL column type of a stored (non-multilink) property. The default is
    /// the generic mapping of Roundup's rdbms layer (PostgreSQL uses it).
    fn column_type(&self, ptype: PropType, use_double: bool) -> &'static str {
        match ptype {
            PropType::String => "TEXT",
            PropType::Date => "TIMESTAMP",
            PropType::Link | PropType::Integer => "INTEGER",
            PropType::Interval | PropType::Password => "VARCHAR(255)",
            PropType::Boolean => "BOOLEAN",
            PropType::Number if use_double => "DOUBLE PRECISION",
            PropType::Number => "REAL",
            // Multilinks have their own tables; never a column.
            PropType::Multilink => "INTEGER",
        }
    }
    // ---- end of storage layout -------------------------------------------
}
