//! Property values.

use std::fmt;

use crate::date::{Date, Interval};
use crate::password::Password;
use crate::schema::PropType;

/// A property value. Absent values are `None` at the API (`Option<Value>`);
/// an empty Multilink is `Multilink(vec![])`, never `None`.
///
/// Ids of linked items are kept as decimal strings, as Roundup's API does.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Password(Password),
    Date(Date),
    Interval(Interval),
    Link(String),
    Multilink(Vec<String>),
    Boolean(bool),
    Number(f64),
    Integer(i64),
}

impl Value {
    /// The property type this value belongs to.
    pub fn ptype(&self) -> PropType {
        match self {
            Value::String(_) => PropType::String,
            Value::Password(_) => PropType::Password,
            Value::Date(_) => PropType::Date,
            Value::Interval(_) => PropType::Interval,
            Value::Link(_) => PropType::Link,
            Value::Multilink(_) => PropType::Multilink,
            Value::Boolean(_) => PropType::Boolean,
            Value::Number(_) => PropType::Number,
            Value::Integer(_) => PropType::Integer,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Link(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_ids(&self) -> Option<&[String]> {
        match self {
            Value::Multilink(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<&Date> {
        match self {
            Value::Date(d) => Some(d),
            _ => None,
        }
    }
}

/// The plain-text form Roundup prints for a value (`roundup-admin get`,
/// templates' `plain()` without link resolution): dates in their formal
/// form, multilinks as Python's list repr of the ids.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) | Value::Link(s) => f.write_str(s),
            Value::Password(p) => write!(f, "{p}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::Interval(i) => write!(f, "{i}"),
            Value::Multilink(ids) => {
                let parts: Vec<String> = ids.iter().map(|s| format!("'{s}'")).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            Value::Boolean(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::Integer(i) => write!(f, "{i}"),
        }
    }
}

/// Python's `str(float)` form for the values Roundup stores ("1.0", "2.5").
pub fn format_number(n: f64) -> String {
    crate::pyrepr::repr(&crate::pyrepr::PyValue::Float(n))
}

/// Sort multilink ids numerically, as Roundup returns them.
pub fn sort_ids(ids: &mut [String]) {
    ids.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
}
