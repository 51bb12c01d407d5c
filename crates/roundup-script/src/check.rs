//! Frozen Starlark functions wrapped as the core's callback traits:
//! permission checks and filters, auditors and reactors.
//!
//! A wrapper holds an `OwnedFrozenValue` (a function of a frozen module
//! together with a reference count on that module's heap), which is `Send`
//! and `Sync`. Each call makes a fresh module and evaluator on the calling
//! thread and hands the live `&Db` to native methods through
//! `Evaluator::extra`, so nothing of one call outlives it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use roundup_core::detectors::{Auditor, Reactor};
use roundup_core::security::{CheckContext, PermissionCheck, PermissionFilter};
use roundup_core::{Db, Error, Result, Values};
use starlark::values::dict::DictRef;
use starlark::values::OwnedFrozenValue;
use starlark::values::Value;

use crate::config::ConfigView;
use crate::convert::{dict_pairs, from_starlark, id_text, str_list, to_starlark, values_to_dict};
use crate::error::script_err;
use crate::filterspec;
use crate::run::with_live;
use crate::values::ClassObj;

/// A check function of `addPermission(check=...)`.
pub(crate) struct StarlarkCheck {
    label: String,
    name: String,
    config: Arc<ConfigView>,
    /// Takes `**ctx` (Roundup's version-2 checks).
    with_context: bool,
    /// Filled in when the schema module is frozen.
    pub(crate) func: OnceLock<OwnedFrozenValue>,
}

impl StarlarkCheck {
    pub fn new(label: &str, config: Arc<ConfigView>, name: &str, with_context: bool) -> Self {
        StarlarkCheck {
            label: label.to_string(),
            name: name.to_string(),
            config,
            with_context,
            func: OnceLock::new(),
        }
    }
}

impl fmt::Debug for StarlarkCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check {} of {}", self.name, self.label)
    }
}

fn not_ready(what: &str, name: &str, label: &str) -> Error {
    Error::Script(format!(
        "{label}: {what} {name} was used before the script finished loading"
    ))
}

impl PermissionCheck for StarlarkCheck {
    fn check(&self, db: &Db, userid: &str, itemid: &str, cx: &CheckContext<'_>) -> Result<bool> {
        let func = self
            .func
            .get()
            .ok_or_else(|| not_ready("check function", &self.name, &self.label))?;
        with_live(&self.label, &self.config, db, |eval, dbv| {
            let heap = eval.heap();
            let f = eval.heap().access_owned_frozen_value(func);
            let opt = |s: Option<&str>| match s {
                Some(s) => heap.alloc(s),
                None => Value::new_none(),
            };
            let named: Vec<(&str, Value)> = if self.with_context {
                vec![
                    ("permission", heap.alloc(cx.permission)),
                    ("classname", opt(cx.classname)),
                    ("property", opt(cx.property)),
                ]
            } else {
                Vec::new()
            };
            let r =
                eval.eval_function(f, &[dbv, heap.alloc(userid), heap.alloc(itemid)], &named)?;
            Ok(r.to_bool())
        })
    }
}

/// A filter function of `addPermission(filter=...)`.
pub(crate) struct StarlarkFilter {
    label: String,
    name: String,
    config: Arc<ConfigView>,
    pub(crate) func: OnceLock<OwnedFrozenValue>,
}

impl StarlarkFilter {
    pub fn new(label: &str, config: Arc<ConfigView>, name: &str) -> Self {
        StarlarkFilter {
            label: label.to_string(),
            name: name.to_string(),
            config,
            func: OnceLock::new(),
        }
    }
}

impl fmt::Debug for StarlarkFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter {} of {}", self.name, self.label)
    }
}

impl PermissionFilter for StarlarkFilter {
    /// The `filterspec` of each dict the function returns, as
    /// (property, values) lists. Other keys of those dicts (retired,
    /// exact_match_spec) are not carried by the core's interface.
    fn filters(
        &self,
        db: &Db,
        userid: &str,
        classname: &str,
    ) -> Result<Vec<Vec<(String, Vec<String>)>>> {
        let func = self
            .func
            .get()
            .ok_or_else(|| not_ready("filter function", &self.name, &self.label))?;
        with_live(&self.label, &self.config, db, |eval, dbv| {
            let heap = eval.heap();
            let f = eval.heap().access_owned_frozen_value(func);
            let cl = heap.alloc(ClassObj {
                name: classname.to_string(),
            });
            let r = eval.eval_function(f, &[dbv, heap.alloc(userid), cl], &[])?;
            let Some(items) = crate::convert::seq_items(r) else {
                return Err(script_err(format!(
                    "filter function {} must return a list of dicts, not {}",
                    self.name,
                    r.to_repr()
                )));
            };
            let mut out = Vec::new();
            for item in items {
                let Some(d) = DictRef::from_value(item) else {
                    return Err(script_err(format!(
                        "filter function {} returned {} where a dict was expected",
                        self.name,
                        item.to_repr()
                    )));
                };
                let mut spec = Vec::new();
                if let Some(fs) = d.get_str("filterspec") {
                    for (prop, v) in dict_pairs("filterspec", fs)? {
                        let vals = str_list(v).or_else(|| id_text(v).map(|s| vec![s]));
                        match vals {
                            Some(vals) => spec.push((prop, vals)),
                            None => {
                                return Err(script_err(format!(
                                    "filterspec value for {prop} must be a str or a list of str, not {}",
                                    v.to_repr()
                                )))
                            }
                        }
                    }
                }
                out.push(spec);
            }
            Ok(out)
        })
    }
}

/// The check Roundup makes from a filter function when a permission has a
/// filter but no check: the item passes if any returned filterspec
/// matches it.
#[derive(Debug)]
pub(crate) struct FilterCheck {
    filter: Arc<StarlarkFilter>,
    klass: String,
}

impl FilterCheck {
    pub fn new(filter: Arc<StarlarkFilter>, klass: &str) -> Self {
        FilterCheck {
            filter,
            klass: klass.to_string(),
        }
    }
}

impl PermissionCheck for FilterCheck {
    fn check(&self, db: &Db, userid: &str, itemid: &str, _cx: &CheckContext<'_>) -> Result<bool> {
        for spec in self.filter.filters(db, userid, &self.klass)? {
            let args = filterspec::FilterArgs {
                spec,
                search_ids: Some(vec![itemid.to_string()]),
                ..filterspec::FilterArgs::default()
            };
            if !db.filter(&self.klass, &args.to_spec())?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A detector function registered with `audit` or `react`.
pub(crate) struct StarlarkDetector {
    pub label: String,
    pub name: String,
    pub config: Arc<ConfigView>,
    pub func: OwnedFrozenValue,
}

impl fmt::Debug for StarlarkDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "detector {} of {}", self.name, self.label)
    }
}

impl Auditor for StarlarkDetector {
    fn audit(
        &self,
        db: &Db,
        class: &str,
        nodeid: Option<&str>,
        newvalues: Option<&mut Values>,
    ) -> Result<()> {
        with_live(&self.label, &self.config, db, |eval, dbv| {
            let heap = eval.heap();
            let f = eval.heap().access_owned_frozen_value(&self.func);
            let cl = heap.alloc(ClassObj {
                name: class.to_string(),
            });
            let nid = match nodeid {
                Some(id) => heap.alloc(id),
                None => Value::new_none(),
            };
            let nv = match &newvalues {
                Some(v) => values_to_dict(heap, v),
                None => Value::new_none(),
            };
            eval.eval_function(f, &[dbv, cl, nid, nv], &[])?;
            if let Some(values) = newvalues {
                let updated = read_back(db, class, &self.name, values, nv, heap)?;
                *values = updated;
            }
            Ok(())
        })
    }
}

/// The auditor's dict as core values. Entries it left as they were keep
/// their original value exactly (a stored password stays stored, not
/// re-hashed); changed or added ones are converted for their property.
fn read_back<'v>(
    db: &Db,
    class: &str,
    detector: &str,
    original: &Values,
    dict: Value<'v>,
    heap: starlark::values::Heap<'v>,
) -> starlark::Result<Values> {
    let cls = db.class(class).map_err(crate::error::abort)?;
    let tz = db.user_timezone().map_err(crate::error::abort)?;
    let mut out = Values::new();
    for (name, v) in dict_pairs(&format!("newvalues after {detector}"), dict)? {
        if let Some(orig) = original.get(&name) {
            if to_starlark(heap, orig).equals(v)? {
                out.insert(name, orig.clone());
                continue;
            }
        }
        let Some(prop) = cls.prop(&name) else {
            return Err(script_err(format!(
                "{detector} put \"{name}\" into newvalues, but class \"{class}\" has no such property"
            )));
        };
        out.insert(name.clone(), from_starlark(&tz, class, &name, prop, v)?);
    }
    Ok(out)
}

impl Reactor for StarlarkDetector {
    fn react(&self, db: &Db, class: &str, nodeid: &str, oldvalues: Option<&Values>) -> Result<()> {
        with_live(&self.label, &self.config, db, |eval, dbv| {
            let heap = eval.heap();
            let f = eval.heap().access_owned_frozen_value(&self.func);
            let cl = heap.alloc(ClassObj {
                name: class.to_string(),
            });
            let ov = match oldvalues {
                Some(v) => values_to_dict(heap, v),
                None => Value::new_none(),
            };
            eval.eval_function(f, &[dbv, cl, heap.alloc(nodeid), ov], &[])?;
            Ok(())
        })
    }
}
