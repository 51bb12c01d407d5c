//! Values as TALES and Python see them: Python's `str()` and `repr()`,
//! truth, equality and ordering over minijinja values, and the objects
//! the engine itself puts into templates (`default`, bound methods,
//! `repeat`, `templates`, macros).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::State;

use crate::compile::{CElement, Program};
use crate::Loader;

/// TALES's `default`: keep what the template says.
#[derive(Debug)]
pub struct DefaultMarker;

impl Object for DefaultMarker {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

/// The value `default` evaluates to.
pub fn default_value() -> Value {
    Value::from_object(DefaultMarker)
}

pub fn is_default(v: &Value) -> bool {
    v.downcast_object_ref::<DefaultMarker>().is_some()
}

/// `obj.name` for a name the object has no attribute for: a method,
/// called when the expression calls it (or a path ends on it).
#[derive(Debug)]
pub struct BoundMethod {
    pub target: Value,
    pub name: String,
}

impl Object for BoundMethod {
    fn call(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        self.target.call_method(state, &self.name, args)
    }
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

pub fn bound(target: &Value, name: &str) -> Value {
    Value::from_object(BoundMethod {
        target: target.clone(),
        name: name.to_string(),
    })
}

/// A Python function of the engine's (`len`, `str`, `path`, ...).
#[derive(Debug)]
pub struct Builtin(pub &'static str);

impl Object for Builtin {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

/// Python's truth of a value.
pub fn truthy(v: &Value) -> bool {
    if v.is_undefined() || v.is_none() {
        return false;
    }
    v.is_true()
}

fn float_str(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{f}")
    }
}

/// Python's `str()`.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => "None".into(),
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.into(),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Number => {
            if let Some(i) = v.as_i64().filter(|_| v.is_integer()) {
                i.to_string()
            } else if let Ok(f) = f64::try_from(v.clone()) {
                float_str(f)
            } else {
                v.to_string()
            }
        }
        // Python's own containers show as Python does; other objects
        // (a model's properties and items) as they render themselves.
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable if is_container(v) => py_repr(v),
        _ => v.to_string(),
    }
}

/// A plain list or dict (not an object of the model that merely
/// iterates).
fn is_container(v: &Value) -> bool {
    match v.as_object() {
        None => true,
        Some(_) => {
            v.downcast_object_ref::<Vec<Value>>().is_some()
                || v.downcast_object_ref::<PyDict>().is_some()
                || v.downcast_object_ref::<std::collections::BTreeMap<Value, Value>>()
                    .is_some()
        }
    }
}

/// Python's `repr()`.
pub fn py_repr(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::with_capacity(s.len() + 2);
            out.push(q);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(q);
            out
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> = v
                .try_iter()
                .map(|it| it.map(|x| py_repr(&x)).collect())
                .unwrap_or_default();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Map => {
            let items: Vec<String> = v
                .try_iter()
                .map(|it| {
                    it.map(|k| {
                        let val = v.get_item(&k).unwrap_or_default();
                        format!("{}: {}", py_repr(&k), py_repr(&val))
                    })
                    .collect()
                })
                .unwrap_or_default();
            format!("{{{}}}", items.join(", "))
        }
        _ => py_str(v),
    }
}

/// What a model object compares as: its `__value__` when it offers one
/// (Roundup's properties compare by their raw value).
fn comparable(v: &Value) -> Value {
    if v.as_object().is_some() && !matches!(v.kind(), ValueKind::Seq) {
        if let Ok(raw) = v.get_attr("__value__") {
            if !raw.is_undefined() {
                return raw;
            }
        }
    }
    v.clone()
}

/// Python's `==`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    let (a, b) = (norm_none(a), norm_none(b));
    if a == b {
        return true;
    }
    let (ca, cb) = (comparable(&a), comparable(&b));
    if ca == cb {
        return true;
    }
    // 1 == True, 1 == 1.0
    if matches!(ca.kind(), ValueKind::Number | ValueKind::Bool)
        && matches!(cb.kind(), ValueKind::Number | ValueKind::Bool)
    {
        return as_f64(&ca) == as_f64(&cb);
    }
    false
}

fn norm_none(v: &Value) -> Value {
    if v.is_undefined() {
        Value::from(())
    } else {
        v.clone()
    }
}

pub fn as_f64(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        _ => None,
    }
}

/// Python's ordering; `None` where Python raises TypeError.
pub fn py_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    let (a, b) = (comparable(a), comparable(b));
    match (a.kind(), b.kind()) {
        (ValueKind::Number | ValueKind::Bool, ValueKind::Number | ValueKind::Bool) => {
            if let (true, true, Some(x), Some(y)) =
                (a.is_integer(), b.is_integer(), a.as_i64(), b.as_i64())
            {
                return Some(x.cmp(&y));
            }
            as_f64(&a)?.partial_cmp(&as_f64(&b)?)
        }
        (ValueKind::String, ValueKind::String) => Some(a.as_str()?.cmp(b.as_str()?)),
        (ValueKind::Seq, ValueKind::Seq) => {
            let xs: Vec<Value> = a.try_iter().ok()?.collect();
            let ys: Vec<Value> = b.try_iter().ok()?.collect();
            for (x, y) in xs.iter().zip(ys.iter()) {
                match py_cmp(x, y)? {
                    Ordering::Equal => continue,
                    o => return Some(o),
                }
            }
            Some(xs.len().cmp(&ys.len()))
        }
        _ => None,
    }
}

/// HTML-escape text content.
pub fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// HTML-escape an attribute value for double quotes.
pub fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// A Python dict: keys keep the order they were inserted in.
#[derive(Debug, Default, Clone)]
pub struct PyDict(pub Vec<(Value, Value)>);

impl PyDict {
    pub fn insert(&mut self, key: Value, value: Value) {
        match self.0.iter_mut().find(|(k, _)| py_eq(k, &key)) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }
}

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0
            .iter()
            .find(|(k, _)| py_eq(k, key))
            .map(|(_, v)| v.clone())
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.iter().map(|(k, _)| k.clone()).collect())
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

// ---------------------------------------------------------------------------
// repeat

/// One `tal:repeat` loop's position.
#[derive(Debug, Clone)]
pub struct LoopState {
    pub index: usize,
    pub length: usize,
    pub item: Value,
    /// The sequence looped over, for `first()`/`last()`.
    pub seq: Value,
}

fn letters(mut n: usize, upper: bool) -> String {
    let base = if upper { b'A' } else { b'a' };
    let mut s = Vec::new();
    loop {
        s.push(base + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn roman(mut n: usize) -> String {
    const TABLE: &[(usize, &str)] = &[
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut s = String::new();
    for (v, r) in TABLE {
        while n >= *v {
            s.push_str(r);
            n -= v;
        }
    }
    s
}

impl Object for LoopState {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = self.index;
        Some(match key.as_str()? {
            "index" => Value::from(i),
            "number" => Value::from(i + 1),
            "even" => Value::from(i.is_multiple_of(2)),
            "odd" => Value::from(i % 2 == 1),
            "start" => Value::from(i == 0),
            "end" => Value::from(i + 1 == self.length),
            "length" => Value::from(self.length),
            "letter" => Value::from(letters(i, false)),
            "Letter" => Value::from(letters(i, true)),
            "roman" => Value::from(roman(i + 1)),
            "Roman" => Value::from(roman(i + 1).to_uppercase()),
            "item" => self.item.clone(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        // `first(name)`/`last(name)` compare an item's attribute with its
        // neighbour's; without a name the items themselves.
        let neighbour = |i: Option<usize>| -> Option<Value> {
            let i = i.filter(|i| *i < self.length)?;
            self.seq.get_item(&Value::from(i)).ok()
        };
        let same = |other: &Option<Value>| -> bool {
            let Some(other) = other else { return false };
            match args.first().and_then(|a| a.as_str()) {
                Some(attr) => py_eq(
                    &self.item.get_attr(attr).unwrap_or_default(),
                    &other.get_attr(attr).unwrap_or_default(),
                ),
                None => py_eq(&self.item, other),
            }
        };
        match method {
            "first" => Ok(Value::from(!same(&neighbour(self.index.checked_sub(1))))),
            "last" => Ok(Value::from(!same(&neighbour(Some(self.index + 1))))),
            _ => self.get_value(&Value::from(method)).ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::UnknownMethod,
                    format!("repeat has no method {method}()"),
                )
            }),
        }
    }
}

/// `repeat`: the loops in force, by variable name.
#[derive(Debug, Default, Clone)]
pub struct RepeatMap(pub HashMap<String, Value>);

impl Object for RepeatMap {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

// ---------------------------------------------------------------------------
// templates and macros

/// `templates`: the tracker's templates by name, for their macros.
#[derive(Debug)]
pub struct TemplatesObj(pub Arc<dyn Loader>);

impl Object for TemplatesObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let program = self.0.load(key.as_str()?).ok()??;
        Some(Value::from_object(TemplateObj(program)))
    }
}

/// One template (`template`, `templates/page`).
#[derive(Debug)]
pub struct TemplateObj(pub Arc<Program>);

impl Object for TemplateObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "macros" => Some(Value::from_object(MacrosObj(self.0.clone()))),
            "id" | "name" => Some(Value::from(self.0.name.as_str())),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct MacrosObj(pub Arc<Program>);

impl Object for MacrosObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let el = self.0.macros.get(key.as_str()?)?.clone();
        Some(Value::from_object(MacroObj {
            program: self.0.clone(),
            element: el,
        }))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.macro_names().into_iter().map(Value::from).collect())
    }
}

/// A macro, as `metal:use-macro` takes it.
#[derive(Debug)]
pub struct MacroObj {
    pub program: Arc<Program>,
    pub element: Arc<CElement>,
}

impl Object for MacroObj {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_str_and_repr() {
        assert_eq!(py_str(&Value::from(true)), "True");
        assert_eq!(py_str(&Value::from(2.0)), "2.0");
        assert_eq!(py_str(&Value::from(())), "None");
        assert_eq!(
            py_repr(&Value::from(vec![Value::from("a'b"), Value::from(1)])),
            "[\"a'b\", 1]"
        );
        assert_eq!(letters(27, false), "ab");
        assert_eq!(roman(14), "xiv");
    }

    #[test]
    fn equality_and_order() {
        assert!(py_eq(&Value::from(1), &Value::from(true)));
        assert!(py_eq(&Value::UNDEFINED, &Value::from(())));
        assert_eq!(
            py_cmp(&Value::from("a"), &Value::from("b")),
            Some(Ordering::Less)
        );
        assert_eq!(py_cmp(&Value::from("a"), &Value::from(1)), None);
    }
}
