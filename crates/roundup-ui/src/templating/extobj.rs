//! Template values given to the tracker's extension functions
//! (`utils.<name>(...)`) and their results. Plain data crosses as data;
//! a model object (item, property, class, request, ...) crosses as
//! itself, so a function that calls `prop.plain()` or `prop.field()`
//! runs the same model code as the template.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error as TplError, State, Value as JValue};
use roundup_core::extensions::{TemplateObject, UtilValue};
use roundup_core::pyrepr::PyValue;

thread_local! {
    /// The state of the template that called the running extension
    /// function (methods of model objects need it).
    static STATE: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Run `f` (an extension function call) with `state` available to the
/// template objects it was given.
pub(crate) fn with_state_set<R>(state: &State<'_, '_>, f: impl FnOnce() -> R) -> R {
    super::ctx::scoped(&STATE, (state as *const State<'_, '_>).cast::<()>(), f)
}

fn with_state<R>(f: impl FnOnce(&State<'_, '_>) -> Result<R, TplError>) -> roundup_core::Result<R> {
    let p = STATE.with(|s| s.get());
    if p.is_null() {
        return Err(roundup_core::Error::Script(
            "a template object was used outside the page that gave it".into(),
        ));
    }
    // SAFETY: `p` was set by `with_state_set` from a live `&State` and is
    // put back when that call returns (or unwinds), so it points at a
    // valid state while non-null. The closure is generic over the
    // state's lifetimes and cannot keep the reference.
    let state: &State<'static, 'static> = unsafe { &*p.cast::<State<'static, 'static>>() };
    f(state).map_err(|e| roundup_core::Error::Script(e.to_string()))
}

/// A model object handed to an extension function.
#[derive(Debug)]
struct Obj(JValue);

/// `obj.name` of a model object when `name` is a method: calling it
/// calls the method.
#[derive(Debug)]
struct Method {
    target: JValue,
    name: String,
}

fn with_kwargs(args: Vec<UtilValue>, kwargs: Vec<(String, UtilValue)>) -> Vec<JValue> {
    let mut out: Vec<JValue> = args.iter().map(util_to_jinja).collect();
    if !kwargs.is_empty() {
        out.push(JValue::from(Kwargs::from_iter(
            kwargs.iter().map(|(k, v)| (k.clone(), util_to_jinja(v))),
        )));
    }
    out
}

fn iter_items(v: &JValue) -> roundup_core::Result<Option<Vec<UtilValue>>> {
    match v.try_iter() {
        Ok(it) => Ok(Some(it.map(|x| jinja_to_util(&x)).collect())),
        Err(_) => Ok(None),
    }
}

impl TemplateObject for Obj {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn getattr(&self, name: &str) -> roundup_core::Result<Option<UtilValue>> {
        match self.0.get_attr(name) {
            Ok(v) if !v.is_undefined() => Ok(Some(jinja_to_util(&v))),
            _ => Ok(Some(UtilValue::Object(Arc::new(Method {
                target: self.0.clone(),
                name: name.to_string(),
            })))),
        }
    }

    fn getitem(&self, key: &UtilValue) -> roundup_core::Result<Option<UtilValue>> {
        match self.0.get_item(&util_to_jinja(key)) {
            Ok(v) if !v.is_undefined() => Ok(Some(jinja_to_util(&v))),
            _ => Ok(None),
        }
    }

    fn call(
        &self,
        args: Vec<UtilValue>,
        kwargs: Vec<(String, UtilValue)>,
    ) -> roundup_core::Result<UtilValue> {
        let args = with_kwargs(args, kwargs);
        with_state(|s| self.0.call(s, &args)).map(|v| jinja_to_util(&v))
    }

    fn text(&self) -> String {
        self.0.to_string()
    }

    fn truth(&self) -> bool {
        self.0.is_true()
    }

    fn items(&self) -> roundup_core::Result<Option<Vec<UtilValue>>> {
        iter_items(&self.0)
    }
}

impl TemplateObject for Method {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn getattr(&self, _name: &str) -> roundup_core::Result<Option<UtilValue>> {
        Ok(None)
    }

    fn getitem(&self, _key: &UtilValue) -> roundup_core::Result<Option<UtilValue>> {
        Ok(None)
    }

    fn call(
        &self,
        args: Vec<UtilValue>,
        kwargs: Vec<(String, UtilValue)>,
    ) -> roundup_core::Result<UtilValue> {
        let args = with_kwargs(args, kwargs);
        with_state(|s| self.target.call_method(s, &self.name, &args)).map(|v| jinja_to_util(&v))
    }

    fn text(&self) -> String {
        format!("<method {} of {}>", self.name, self.target)
    }

    fn truth(&self) -> bool {
        true
    }

    fn items(&self) -> roundup_core::Result<Option<Vec<UtilValue>>> {
        Ok(None)
    }
}

/// Plain data as a Python value; `None` when `v` holds a model object.
fn data(v: &JValue) -> Option<PyValue> {
    Some(match v.kind() {
        ValueKind::Undefined | ValueKind::None => PyValue::None,
        ValueKind::Bool => PyValue::Bool(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(i) => PyValue::Int(i),
            None => PyValue::Float(f64::try_from(v.clone()).unwrap_or(0.0)),
        },
        ValueKind::String => PyValue::Str(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => PyValue::Bytes(v.as_bytes().unwrap_or_default().to_vec()),
        ValueKind::Seq if v.downcast_object_ref::<Vec<JValue>>().is_some() => {
            let items = v.downcast_object_ref::<Vec<JValue>>()?;
            PyValue::List(items.iter().map(data).collect::<Option<_>>()?)
        }
        ValueKind::Map
            if v.downcast_object_ref::<BTreeMap<JValue, JValue>>()
                .is_some() =>
        {
            let map = v.downcast_object_ref::<BTreeMap<JValue, JValue>>()?;
            PyValue::Dict(
                map.iter()
                    .map(|(k, x)| Some((data(k)?, data(x)?)))
                    .collect::<Option<_>>()?,
            )
        }
        _ => return None,
    })
}

/// A template value as an extension function's argument.
pub(crate) fn jinja_to_util(v: &JValue) -> UtilValue {
    if let Some(d) = data(v) {
        return UtilValue::Data(d);
    }
    if let Some(items) = v.downcast_object_ref::<Vec<JValue>>() {
        return UtilValue::List(items.iter().map(jinja_to_util).collect());
    }
    UtilValue::Object(Arc::new(Obj(v.clone())))
}

/// An extension function's result as a template value (strings are
/// escaped when inserted, unless the template marks them safe or
/// inserts them as `structure`); a model object comes back as itself.
pub(crate) fn util_to_jinja(v: &UtilValue) -> JValue {
    match v {
        UtilValue::Data(d) => py_to_jinja(d),
        UtilValue::List(items) => JValue::from(items.iter().map(util_to_jinja).collect::<Vec<_>>()),
        UtilValue::Object(o) => {
            if let Some(obj) = o.as_any().downcast_ref::<Obj>() {
                obj.0.clone()
            } else if let Some(m) = o.as_any().downcast_ref::<Method>() {
                JValue::from_object(MethodValue {
                    target: m.target.clone(),
                    name: m.name.clone(),
                })
            } else {
                JValue::from(o.text())
            }
        }
    }
}

/// A bound method an extension function returned, callable in a template.
#[derive(Debug)]
struct MethodValue {
    target: JValue,
    name: String,
}

impl minijinja::value::Object for MethodValue {
    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[JValue]) -> Result<JValue, TplError> {
        self.target.call_method(state, &self.name, args)
    }
}

fn py_to_jinja(v: &PyValue) -> JValue {
    match v {
        PyValue::None => JValue::from(()),
        PyValue::Bool(b) => JValue::from(*b),
        PyValue::Int(i) => JValue::from(*i),
        PyValue::Float(f) => JValue::from(*f),
        PyValue::Str(s) => JValue::from(s.clone()),
        PyValue::Bytes(b) => JValue::from(String::from_utf8_lossy(b).into_owned()),
        PyValue::Tuple(items) | PyValue::List(items) => {
            JValue::from(items.iter().map(py_to_jinja).collect::<Vec<_>>())
        }
        PyValue::Dict(pairs) => JValue::from_iter(
            pairs
                .iter()
                .map(|(k, v)| (py_to_jinja(k).to_string(), py_to_jinja(v))),
        ),
    }
}
