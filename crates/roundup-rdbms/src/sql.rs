//! Backend-neutral SQL building blocks.

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
}
