//! Property values crossing between the core and Starlark.
//!
//! Outbound: String → str, Link → str id, Multilink → list of str ids,
//! Number → float, Integer → int, Boolean → bool, Date/Interval → date
//! objects, Password → its stored text, unset → None. Inbound accepts the
//! same shapes plus the conveniences Roundup scripts rely on (ints for ids,
//! numeric strings for numbers, date strings for dates).

use roundup_core::date::{Date, Interval, Timezone};
use roundup_core::schema::{PropType, Property};
use roundup_core::{Db, Value as CoreValue, Values};
use starlark::values::dict::{AllocDict, DictRef};
use starlark::values::float::StarlarkFloat;
use starlark::values::list::{AllocList, ListRef};
use starlark::values::tuple::TupleRef;
use starlark::values::{Heap, UnpackValue, Value, ValueLike};

use crate::error::script_err;
use crate::values::{DateObj, IntervalObj};

/// A core value as a Starlark value.
pub(crate) fn to_starlark<'v>(heap: Heap<'v>, v: &Option<CoreValue>) -> Value<'v> {
    let Some(v) = v else {
        return Value::new_none();
    };
    match v {
        CoreValue::String(s) | CoreValue::Link(s) => heap.alloc(s.as_str()),
        CoreValue::Password(p) => heap.alloc(p.as_str()),
        CoreValue::Multilink(ids) => heap.alloc(AllocList(ids.iter().map(|s| s.as_str()))),
        CoreValue::Number(n) => heap.alloc(StarlarkFloat(*n)),
        CoreValue::Integer(i) => heap.alloc(*i),
        CoreValue::Boolean(b) => Value::new_bool(*b),
        CoreValue::Date(d) => heap.alloc(DateObj(*d)),
        CoreValue::Interval(i) => heap.alloc(IntervalObj(*i)),
    }
}

/// A dict of property values (newvalues / oldvalues).
pub(crate) fn values_to_dict<'v>(heap: Heap<'v>, values: &Values) -> Value<'v> {
    heap.alloc(AllocDict(
        values
            .iter()
            .map(|(k, v)| (heap.alloc(k.as_str()), to_starlark(heap, v))),
    ))
}

/// An int (not a bool).
pub(crate) fn int_of(v: Value) -> Option<i64> {
    if v.unpack_bool().is_some() {
        return None;
    }
    i64::unpack_value(v).ok().flatten()
}

/// An item id given as str or int.
pub(crate) fn id_text(v: Value) -> Option<String> {
    if let Some(s) = v.unpack_str() {
        return Some(s.to_string());
    }
    crate::convert::int_of(v).map(|i| i.to_string())
}

/// A sequence (list, tuple) of values.
pub(crate) fn seq_items<'v>(v: Value<'v>) -> Option<Vec<Value<'v>>> {
    if let Some(l) = ListRef::from_value(v) {
        return Some(l.content().to_vec());
    }
    TupleRef::from_value(v).map(|t| t.content().to_vec())
}

/// A str or a list/tuple of str (property name lists, id lists).
pub(crate) fn str_list(v: Value) -> Option<Vec<String>> {
    if let Some(s) = v.unpack_str() {
        return Some(vec![s.to_string()]);
    }
    seq_items(v)?.into_iter().map(id_text).collect()
}

fn float_of(v: Value) -> Option<f64> {
    if let Some(f) = v.downcast_ref::<StarlarkFloat>() {
        return Some(f.0);
    }
    if v.unpack_bool().is_some() {
        return None;
    }
    if let Some(i) = crate::convert::int_of(v) {
        return Some(i as f64);
    }
    v.unpack_str().and_then(|s| s.trim().parse::<f64>().ok())
}

/// A Starlark value for property `name` of `class`.
pub(crate) fn from_starlark(
    tz: &Timezone,
    class: &str,
    name: &str,
    prop: &Property,
    v: Value,
) -> starlark::Result<Option<CoreValue>> {
    if v.is_none() {
        return Ok(None);
    }
    let bad = |why: &str| {
        script_err(format!(
            "{class}.{name} is a {} property: {why}, got {} {}",
            prop.ptype.name(),
            v.get_type(),
            v.to_repr()
        ))
    };
    Ok(Some(match prop.ptype {
        PropType::String => match v.unpack_str() {
            Some(s) => CoreValue::String(s.to_string()),
            None => return Err(bad("expected a str")),
        },
        PropType::Password => match v.unpack_str() {
            Some(s) => CoreValue::String(s.to_string()),
            None => return Err(bad("expected a str")),
        },
        PropType::Link => match id_text(v) {
            Some(s) => CoreValue::Link(s),
            None => return Err(bad("expected an id or key (str)")),
        },
        PropType::Multilink => match str_list(v) {
            Some(ids) if v.unpack_str().is_none() => CoreValue::Multilink(ids),
            _ => return Err(bad("expected a list of ids or keys")),
        },
        PropType::Boolean => match v.unpack_bool() {
            Some(b) => CoreValue::Boolean(b),
            None => return Err(bad("expected True or False")),
        },
        PropType::Number => match float_of(v) {
            Some(n) if n.is_finite() => CoreValue::Number(n),
            _ => return Err(bad("expected a number")),
        },
        PropType::Integer => {
            if v.unpack_bool().is_some() {
                return Err(bad("expected an int"));
            }
            match crate::convert::int_of(v) {
                Some(i) => CoreValue::Integer(i),
                None => match v.unpack_str().and_then(|s| s.trim().parse::<i64>().ok()) {
                    Some(i) => CoreValue::Integer(i),
                    None => return Err(bad("expected an int")),
                },
            }
        }
        PropType::Date => {
            if let Some(d) = v.downcast_ref::<DateObj>() {
                CoreValue::Date(d.0)
            } else if let Some(s) = v.unpack_str() {
                CoreValue::Date(parse_date(s, tz)?)
            } else {
                return Err(bad("expected a date"));
            }
        }
        PropType::Interval => {
            if let Some(i) = v.downcast_ref::<IntervalObj>() {
                CoreValue::Interval(i.0)
            } else if let Some(s) = v.unpack_str() {
                CoreValue::Interval(
                    Interval::parse(s)
                        .map_err(|e| script_err(format!("bad interval {s:?}: {e}")))?,
                )
            } else {
                return Err(bad("expected an interval"));
            }
        }
    }))
}

/// A date spec; "." is now.
pub(crate) fn parse_date(spec: &str, tz: &Timezone) -> starlark::Result<Date> {
    if spec.trim() == "." {
        return Ok(Date::now());
    }
    Date::parse(spec.trim(), tz).map_err(|e| script_err(format!("bad date {spec:?}: {e}")))
}

/// Keyword arguments or a dict as core values of class `class`.
pub(crate) fn dict_to_values(
    db: &Db,
    class: &str,
    pairs: &[(String, Value)],
) -> starlark::Result<Values> {
    let cls = db.class(class).map_err(crate::error::abort)?;
    let tz = db.user_timezone().map_err(crate::error::abort)?;
    let mut out = Values::new();
    for (name, v) in pairs {
        let prop = cls.require_prop(name).map_err(crate::error::abort)?;
        out.insert(name.clone(), from_starlark(&tz, class, name, prop, *v)?);
    }
    Ok(out)
}

/// The (str key, value) pairs of a dict.
pub(crate) fn dict_pairs<'v>(
    what: &str,
    d: Value<'v>,
) -> starlark::Result<Vec<(String, Value<'v>)>> {
    let Some(dict) = DictRef::from_value(d) else {
        return Err(script_err(format!(
            "{what} must be a dict, not {}",
            d.get_type()
        )));
    };
    let mut out = Vec::new();
    for (k, v) in dict.iter() {
        match k.unpack_str() {
            Some(k) => out.push((k.to_string(), v)),
            None => {
                return Err(script_err(format!(
                    "{what}: keys must be property names (str), got {}",
                    k.to_repr()
                )))
            }
        }
    }
    Ok(out)
}
