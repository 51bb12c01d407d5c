//! Template objects handed to extension functions (`utils.<name>(...)`):
//! Python sees each as a `roundup._engine.TemplateObject` holding a
//! handle into this thread's table, and its attribute lookups, calls and
//! `str()` come back here to the front end's object. The table lives
//! for the outermost util call only, so no handle outlives the page
//! data it refers to.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use roundup_core::extensions::{TemplateObject, UtilValue};
use rustpython_vm::builtins::{PyDict, PyList, PyTuple};
use rustpython_vm::{AsObject, PyObjectRef, PyResult, VirtualMachine};

use crate::convert::{py_to_pyvalue, pyvalue_to_py};
use crate::engine::helper;
use crate::native::make_exc;

thread_local! {
    static HANDLES: RefCell<Vec<Arc<dyn TemplateObject>>> = const { RefCell::new(Vec::new()) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Held while a util call runs; the outermost one empties the table.
pub(crate) struct Scope;

impl Scope {
    pub(crate) fn enter() -> Scope {
        DEPTH.with(|d| d.set(d.get() + 1));
        Scope
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let left = DEPTH.with(|d| {
            d.set(d.get().saturating_sub(1));
            d.get()
        });
        if left == 0 {
            // take the objects out before they drop: their destructors
            // must not find the table borrowed
            let gone = HANDLES.with(|h| std::mem::take(&mut *h.borrow_mut()));
            drop(gone);
        }
    }
}

fn object(vm: &VirtualMachine, handle: usize) -> PyResult<Arc<dyn TemplateObject>> {
    HANDLES
        .with(|h| h.borrow().get(handle).cloned())
        .ok_or_else(|| {
            make_exc(
                vm,
                "runtime",
                "a template object was used after the extension function it was given to returned",
            )
        })
}

/// A value for Python.
pub(crate) fn to_py(vm: &VirtualMachine, v: &UtilValue) -> PyResult<PyObjectRef> {
    Ok(match v {
        UtilValue::Data(d) => pyvalue_to_py(vm, d),
        UtilValue::List(items) => {
            let items = items
                .iter()
                .map(|i| to_py(vm, i))
                .collect::<PyResult<Vec<_>>>()?;
            vm.ctx.new_list(items).into()
        }
        UtilValue::Object(o) => {
            let handle = HANDLES.with(|h| {
                let mut h = h.borrow_mut();
                h.push(o.clone());
                h.len() - 1
            });
            helper(vm, "TemplateObject")?.call((handle,), vm)?
        }
    })
}

/// The handle of a `TemplateObject`, if `obj` is one.
fn handle_of(vm: &VirtualMachine, obj: &PyObjectRef) -> Option<usize> {
    if obj.class().name().to_string() != "TemplateObject" {
        return None;
    }
    obj.get_attr("_h", vm)
        .ok()?
        .try_into_value::<usize>(vm)
        .ok()
}

/// A Python value back as a util value (template objects by handle).
pub(crate) fn from_py(vm: &VirtualMachine, obj: &PyObjectRef) -> PyResult<UtilValue> {
    if let Some(h) = handle_of(vm, obj) {
        return Ok(UtilValue::Object(object(vm, h)?));
    }
    let seq: Option<Vec<PyObjectRef>> = if let Some(l) = obj.downcast_ref::<PyList>() {
        Some(l.borrow_vec().to_vec())
    } else {
        obj.downcast_ref::<PyTuple>().map(|t| t.as_slice().to_vec())
    };
    if let Some(items) = seq {
        if items.iter().any(|i| holds_object(vm, i)) {
            return Ok(UtilValue::List(
                items
                    .iter()
                    .map(|i| from_py(vm, i))
                    .collect::<PyResult<_>>()?,
            ));
        }
    }
    Ok(UtilValue::Data(py_to_pyvalue(vm, obj)?))
}

fn holds_object(vm: &VirtualMachine, obj: &PyObjectRef) -> bool {
    if handle_of(vm, obj).is_some() {
        return true;
    }
    if let Some(l) = obj.downcast_ref::<PyList>() {
        return l.borrow_vec().iter().any(|i| holds_object(vm, i));
    }
    if let Some(t) = obj.downcast_ref::<PyTuple>() {
        return t.as_slice().iter().any(|i| holds_object(vm, i));
    }
    false
}

fn core<T>(vm: &VirtualMachine, r: roundup_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| crate::native::py_err(vm, e))
}

/// `obj.name` (AttributeError if it has none).
pub(crate) fn getattr(vm: &VirtualMachine, handle: usize, name: &str) -> PyResult<PyObjectRef> {
    let o = object(vm, handle)?;
    match core(vm, o.getattr(name))? {
        Some(v) => to_py(vm, &v),
        None => Err(make_exc(
            vm,
            "attribute",
            &format!("template object {} has no attribute {name:?}", o.text()),
        )),
    }
}

/// `obj[key]` (KeyError if there is no such key).
pub(crate) fn getitem(
    vm: &VirtualMachine,
    handle: usize,
    key: &PyObjectRef,
) -> PyResult<PyObjectRef> {
    let o = object(vm, handle)?;
    let k = from_py(vm, key)?;
    match core(vm, o.getitem(&k))? {
        Some(v) => to_py(vm, &v),
        None => Err(make_exc(vm, "key", &key.repr(vm)?.to_string_lossy())),
    }
}

/// `obj(*args, **kwargs)`.
pub(crate) fn call(
    vm: &VirtualMachine,
    handle: usize,
    args: &PyObjectRef,
    kwargs: &PyObjectRef,
) -> PyResult<PyObjectRef> {
    let o = object(vm, handle)?;
    let args = match args.downcast_ref::<PyTuple>() {
        Some(t) => t
            .as_slice()
            .iter()
            .map(|a| from_py(vm, a))
            .collect::<PyResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    let mut kw = Vec::new();
    if let Some(d) = kwargs.downcast_ref::<PyDict>() {
        for (k, v) in d.items_vec() {
            kw.push((k.str(vm)?.to_string_lossy().into_owned(), from_py(vm, &v)?));
        }
    }
    let r = core(vm, o.call(args, kw))?;
    to_py(vm, &r)
}

pub(crate) fn text(vm: &VirtualMachine, handle: usize) -> PyResult<String> {
    Ok(object(vm, handle)?.text())
}

pub(crate) fn truth(vm: &VirtualMachine, handle: usize) -> PyResult<bool> {
    Ok(object(vm, handle)?.truth())
}

/// The items of `iter(obj)` as a list (TypeError if it is not iterable).
pub(crate) fn items(vm: &VirtualMachine, handle: usize) -> PyResult<PyObjectRef> {
    let o = object(vm, handle)?;
    match core(vm, o.items())? {
        Some(items) => to_py(vm, &UtilValue::List(items)),
        None => Err(make_exc(
            vm,
            "type",
            &format!("template object {} is not iterable", o.text()),
        )),
    }
}
