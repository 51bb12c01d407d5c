//! Backend-neutral SQL building blocks.

use roundup_core::date::Date;
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

    // ---- storage layout (added on the storage branch) ----

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

    /// How a date is stored in item columns and journals. The default is
    /// Roundup's SQLite form, the serialised `yyyymmddHHMMSS.fff` text.
    fn date_to_sql(&self, date: &Date) -> SqlValue {
        SqlValue::Text(date.serialise())
    }

    /// How a boolean is stored (SQLite: 0/1).
    fn bool_to_sql(&self, value: bool) -> SqlValue {
        SqlValue::Int(i64::from(value))
    }
}
