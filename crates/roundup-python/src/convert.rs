//! Property values crossing between the core and Python.
//!
//! Outbound, the native module hands out plain values: String and Link →
//! str, Multilink → list of str, Number → float, Integer → int, Boolean →
//! bool, unset → None; Date, Interval and Password go out as the tagged
//! pairs `("D", serialised)`, `("I", serialised)` and `("P", stored text)`,
//! which `roundup._engine` turns into `roundup.date.Date`,
//! `roundup.date.Interval` and `roundup.password.Password` objects (and
//! back, on the way in). Inbound also accepts what Roundup's hyperdb
//! accepts: int ids and keys for links, numeric strings for numbers, date
//! specs for dates.

use roundup_core::date::{Date, Interval, Timezone};
use roundup_core::password::Password;
use roundup_core::schema::{PropType, Property};
use roundup_core::{Db, Value, Values};
use rustpython_vm::builtins::{PyDict, PyFloat, PyInt, PyList, PyStr, PyTuple};
use rustpython_vm::{AsObject, PyObjectRef, PyResult, VirtualMachine};

/// A Python value in plain Rust form.
#[derive(Clone, Debug)]
pub(crate) enum Raw {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Raw>),
    /// `("D"|"I"|"P", text)`.
    Tagged(char, String),
    /// Anything else, by type name and repr.
    Other(String),
}

impl Raw {
    pub fn describe(&self) -> String {
        match self {
            Raw::None => "None".into(),
            Raw::Bool(b) => if *b { "True" } else { "False" }.into(),
            Raw::Int(i) => format!("int {i}"),
            Raw::Float(f) => format!("float {f}"),
            Raw::Str(s) => format!("str {s:?}"),
            Raw::Seq(v) => format!("a sequence of {} items", v.len()),
            Raw::Tagged('D', s) => format!("date {s}"),
            Raw::Tagged('I', s) => format!("interval {s}"),
            Raw::Tagged(_, _) => "a password".into(),
            Raw::Other(t) => t.clone(),
        }
    }

    /// An item id or key given as str or int.
    pub fn id_text(&self) -> Option<String> {
        match self {
            Raw::Str(s) => Some(s.clone()),
            Raw::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// A str, or a sequence of str/int (id lists, property name lists).
    pub fn str_list(&self) -> Option<Vec<String>> {
        match self {
            Raw::Str(s) => Some(vec![s.clone()]),
            Raw::Seq(items) => items.iter().map(Raw::id_text).collect(),
            _ => None,
        }
    }
}

/// Read a Python object.
pub(crate) fn raw(vm: &VirtualMachine, obj: &PyObjectRef) -> PyResult<Raw> {
    if vm.is_none(obj) {
        return Ok(Raw::None);
    }
    if obj.class().is(vm.ctx.types.bool_type) {
        return Ok(Raw::Bool(obj.clone().try_to_bool(vm)?));
    }
    if let Some(s) = obj.downcast_ref::<PyStr>() {
        return Ok(Raw::Str(s.to_string_lossy().into_owned()));
    }
    if let Some(i) = obj.downcast_ref::<PyInt>() {
        return Ok(Raw::Int(i.try_to_primitive::<i64>(vm)?));
    }
    if let Some(f) = obj.downcast_ref::<PyFloat>() {
        return Ok(Raw::Float(f.to_f64()));
    }
    if let Some(t) = obj.downcast_ref::<PyTuple>() {
        let items = t.as_slice();
        if items.len() == 2 {
            if let (Some(tag), Some(text)) = (
                items[0].downcast_ref::<PyStr>(),
                items[1].downcast_ref::<PyStr>(),
            ) {
                let tag = tag.to_string_lossy();
                if let ("D" | "I" | "P", Some(c)) = (tag.as_ref(), tag.chars().next()) {
                    return Ok(Raw::Tagged(c, text.to_string_lossy().into_owned()));
                }
            }
        }
        return Ok(Raw::Seq(
            items.iter().map(|o| raw(vm, o)).collect::<PyResult<_>>()?,
        ));
    }
    if let Some(l) = obj.downcast_ref::<PyList>() {
        let items: Vec<PyObjectRef> = l.borrow_vec().to_vec();
        return Ok(Raw::Seq(
            items.iter().map(|o| raw(vm, o)).collect::<PyResult<_>>()?,
        ));
    }
    let repr = obj
        .repr(vm)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Raw::Other(format!("{} {repr}", obj.class().name())))
}

/// A core value as a Python object.
pub(crate) fn to_py(vm: &VirtualMachine, v: &Option<Value>) -> PyObjectRef {
    let Some(v) = v else {
        return vm.ctx.none();
    };
    let tagged = |tag: &str, text: String| -> PyObjectRef {
        vm.ctx
            .new_tuple(vec![
                vm.ctx.new_str(tag).into(),
                vm.ctx.new_str(text).into(),
            ])
            .into()
    };
    match v {
        Value::String(s) | Value::Link(s) => vm.ctx.new_str(s.as_str()).into(),
        Value::Multilink(ids) => vm
            .ctx
            .new_list(
                ids.iter()
                    .map(|s| vm.ctx.new_str(s.as_str()).into())
                    .collect(),
            )
            .into(),
        Value::Number(n) => vm.ctx.new_float(*n).into(),
        Value::Integer(i) => vm.ctx.new_int(*i).into(),
        Value::Boolean(b) => vm.ctx.new_bool(*b).into(),
        Value::Date(d) => tagged("D", d.serialise()),
        Value::Interval(i) => tagged("I", i.serialise()),
        Value::Password(p) => tagged("P", p.as_str().to_string()),
    }
}

/// A str, or None.
pub(crate) fn opt_str(vm: &VirtualMachine, s: Option<&str>) -> PyObjectRef {
    match s {
        Some(s) => vm.ctx.new_str(s).into(),
        None => vm.ctx.none(),
    }
}

/// A dict of property values (newvalues / oldvalues).
pub(crate) fn values_to_dict(vm: &VirtualMachine, values: &Values) -> PyResult<PyObjectRef> {
    let d = vm.ctx.new_dict();
    for (k, v) in values {
        d.set_item(k.as_str(), to_py(vm, v), vm)?;
    }
    Ok(d.into())
}

/// The (str key, value) pairs of a dict.
pub(crate) fn dict_pairs(
    vm: &VirtualMachine,
    what: &str,
    obj: &PyObjectRef,
) -> Result<Vec<(String, PyObjectRef)>, String> {
    let Some(d) = obj.downcast_ref::<PyDict>() else {
        return Err(format!("{what} must be a dict, not {}", obj.class().name()));
    };
    let mut out = Vec::new();
    for (k, v) in d.items_vec() {
        match k.downcast_ref::<PyStr>() {
            Some(s) => out.push((s.to_string_lossy().into_owned(), v)),
            None => {
                let _ = vm;
                return Err(format!(
                    "{what}: keys must be property names (str), not {}",
                    k.class().name()
                ));
            }
        }
    }
    Ok(out)
}

fn float_of(v: &Raw) -> Option<f64> {
    match v {
        Raw::Float(f) => Some(*f),
        Raw::Int(i) => Some(*i as f64),
        Raw::Str(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A date spec; "." is now.
pub(crate) fn parse_date(spec: &str, tz: &Timezone) -> Result<Date, String> {
    if spec.trim() == "." {
        return Ok(Date::now());
    }
    Date::parse(spec.trim(), tz).map_err(|e| format!("bad date {spec:?}: {e}"))
}

/// A Python value for property `name` of `class`.
pub(crate) fn from_raw(
    tz: &Timezone,
    class: &str,
    name: &str,
    prop: &Property,
    v: &Raw,
) -> Result<Option<Value>, String> {
    if matches!(v, Raw::None) {
        return Ok(None);
    }
    let bad = |why: &str| {
        format!(
            "{class}.{name} is a {} property: {why}, got {}",
            prop.ptype.name(),
            v.describe()
        )
    };
    Ok(Some(match prop.ptype {
        PropType::String => match v {
            Raw::Str(s) => Value::String(s.clone()),
            _ => return Err(bad("expected a str")),
        },
        PropType::Password => match v {
            Raw::Str(s) => Value::String(s.clone()),
            Raw::Tagged('P', s) => Value::Password(
                Password::from_encrypted(s)
                    .map_err(|e| bad(&format!("bad stored password: {e}")))?,
            ),
            _ => return Err(bad("expected a str or Password")),
        },
        PropType::Link => match v.id_text() {
            Some(s) => Value::Link(s),
            None => return Err(bad("expected an id or key (str)")),
        },
        PropType::Multilink => match v {
            Raw::Seq(_) => match v.str_list() {
                Some(ids) => Value::Multilink(ids),
                None => return Err(bad("expected a list of ids or keys")),
            },
            _ => return Err(bad("expected a list of ids or keys")),
        },
        PropType::Boolean => match v {
            Raw::Bool(b) => Value::Boolean(*b),
            Raw::Int(i) => Value::Boolean(*i != 0),
            _ => return Err(bad("expected True or False")),
        },
        PropType::Number => match float_of(v) {
            Some(n) if n.is_finite() && !matches!(v, Raw::Bool(_)) => Value::Number(n),
            _ => return Err(bad("expected a number")),
        },
        PropType::Integer => match v {
            Raw::Int(i) => Value::Integer(*i),
            Raw::Str(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::Integer(i),
                Err(_) => return Err(bad("expected an int")),
            },
            _ => return Err(bad("expected an int")),
        },
        PropType::Date => match v {
            Raw::Tagged('D', s) => {
                Value::Date(Date::from_serialised(s).map_err(|e| format!("bad date {s:?}: {e}"))?)
            }
            Raw::Str(s) => Value::Date(parse_date(s, tz)?),
            _ => return Err(bad("expected a date")),
        },
        PropType::Interval => match v {
            Raw::Tagged('I', s) => Value::Interval(
                Interval::from_serialised(s).map_err(|e| format!("bad interval {s:?}: {e}"))?,
            ),
            Raw::Str(s) => {
                Value::Interval(Interval::parse(s).map_err(|e| format!("bad interval {s:?}: {e}"))?)
            }
            _ => return Err(bad("expected an interval")),
        },
    }))
}

/// A dict of Python values as core values of class `class`.
pub(crate) fn pairs_to_values(
    vm: &VirtualMachine,
    db: &Db,
    class: &str,
    pairs: &[(String, PyObjectRef)],
) -> Result<Values, PairsError> {
    let cls = db.class(class).map_err(PairsError::Core)?;
    let tz = db.user_timezone().map_err(PairsError::Core)?;
    let mut out = Values::new();
    for (name, v) in pairs {
        let prop = cls.require_prop(name).map_err(PairsError::Core)?;
        let r = raw(vm, v).map_err(PairsError::Py)?;
        out.insert(
            name.clone(),
            from_raw(&tz, class, name, prop, &r).map_err(PairsError::Value)?,
        );
    }
    Ok(out)
}

pub(crate) enum PairsError {
    Core(roundup_core::Error),
    Py(rustpython_vm::builtins::PyBaseExceptionRef),
    Value(String),
}

/// A literal value as a Python object.
pub(crate) fn pyvalue_to_py(vm: &VirtualMachine, v: &roundup_core::pyrepr::PyValue) -> PyObjectRef {
    use roundup_core::pyrepr::PyValue as P;
    match v {
        P::None => vm.ctx.none(),
        P::Bool(b) => vm.ctx.new_bool(*b).into(),
        P::Int(i) => vm.ctx.new_int(*i).into(),
        P::Float(f) => vm.ctx.new_float(*f).into(),
        P::Str(s) => vm.ctx.new_str(s.as_str()).into(),
        P::Bytes(b) => vm.ctx.new_bytes(b.clone()).into(),
        P::Tuple(items) => vm
            .ctx
            .new_tuple(items.iter().map(|i| pyvalue_to_py(vm, i)).collect())
            .into(),
        P::List(items) => vm
            .ctx
            .new_list(items.iter().map(|i| pyvalue_to_py(vm, i)).collect())
            .into(),
        P::Dict(pairs) => {
            let d = vm.ctx.new_dict();
            for (k, v) in pairs {
                let _ = d.set_item(&*pyvalue_to_py(vm, k), pyvalue_to_py(vm, v), vm);
            }
            d.into()
        }
    }
}

/// A Python object as a literal value (anything else by its str()).
pub(crate) fn py_to_pyvalue(
    vm: &VirtualMachine,
    obj: &PyObjectRef,
) -> PyResult<roundup_core::pyrepr::PyValue> {
    use roundup_core::pyrepr::PyValue as P;
    if let Some(d) = obj.downcast_ref::<PyDict>() {
        let mut pairs = Vec::new();
        for (k, v) in d.items_vec() {
            pairs.push((py_to_pyvalue(vm, &k)?, py_to_pyvalue(vm, &v)?));
        }
        return Ok(P::Dict(pairs));
    }
    if let Some(l) = obj.downcast_ref::<PyList>() {
        let items: Vec<PyObjectRef> = l.borrow_vec().to_vec();
        return Ok(P::List(
            items
                .iter()
                .map(|i| py_to_pyvalue(vm, i))
                .collect::<PyResult<_>>()?,
        ));
    }
    Ok(match raw(vm, obj)? {
        Raw::None => P::None,
        Raw::Bool(b) => P::Bool(b),
        Raw::Int(i) => P::Int(i),
        Raw::Float(f) => P::Float(f),
        Raw::Str(s) => P::Str(s),
        Raw::Seq(_) | Raw::Tagged(..) | Raw::Other(_) => {
            if let Some(t) = obj.downcast_ref::<PyTuple>() {
                let items: Vec<PyObjectRef> = t.as_slice().to_vec();
                P::Tuple(
                    items
                        .iter()
                        .map(|i| py_to_pyvalue(vm, i))
                        .collect::<PyResult<_>>()?,
                )
            } else {
                P::Str(obj.str(vm)?.to_string_lossy().into_owned())
            }
        }
    })
}
