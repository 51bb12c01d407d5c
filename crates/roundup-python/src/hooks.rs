//! Python functions kept by the core: permission checks and filters,
//! auditors and reactors.
//!
//! Each wrapper holds the Python function object (shared by every thread's
//! virtual machine) and the tracker's config, and calls it through a
//! trampoline of `roundup._engine` that converts values both ways, with
//! the live `Db` as the current context.

use std::fmt;
use std::sync::Arc;

use roundup_core::detectors::{Auditor, Reactor};
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::security::{CheckContext, PermissionCheck, PermissionFilter, RawFilterSpec};
use roundup_core::{Db, Error, Result, Values};
use rustpython_vm::{PyObjectRef, VirtualMachine};

use crate::config::ConfigView;
use crate::convert::{dict_pairs, from_raw, opt_str, raw, values_to_dict, Raw};
use crate::engine::{db_object, enter, helper, to_core, Ctx, Phase, Watch};

/// Call `roundup._engine.<trampoline>(args...)` in a live context.
fn call_live<R>(
    label: &str,
    config: &Arc<ConfigView>,
    db: &Db,
    watch: Watch,
    f: impl FnOnce(&VirtualMachine) -> std::result::Result<R, CallError>,
) -> Result<R> {
    let ctx = Ctx {
        watch,
        label: label.to_string(),
        config: config.clone(),
        phase: Phase::Live(db),
    };
    enter(&ctx, |vm| match f(vm) {
        Ok(r) => Ok(r),
        Err(CallError::Py(e)) => Err(to_core(vm, label, e)),
        Err(CallError::Core(e)) => Err(e),
    })
}

pub(crate) enum CallError {
    Py(rustpython_vm::builtins::PyBaseExceptionRef),
    Core(Error),
}

impl From<rustpython_vm::builtins::PyBaseExceptionRef> for CallError {
    fn from(e: rustpython_vm::builtins::PyBaseExceptionRef) -> Self {
        CallError::Py(e)
    }
}

/// A check function of `addPermission(check=...)`.
pub(crate) struct PyCheck {
    pub label: String,
    pub name: String,
    pub config: Arc<ConfigView>,
    pub func: PyObjectRef,
    /// Takes `**ctx` (Roundup's version-2 checks): gets permission,
    /// classname and property as keywords.
    pub with_context: bool,
}

impl fmt::Debug for PyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check {} of {}", self.name, self.label)
    }
}

impl PermissionCheck for PyCheck {
    fn check(&self, db: &Db, userid: &str, itemid: &str, cx: &CheckContext<'_>) -> Result<bool> {
        // called straight (no trampoline): index pages call checks per row
        call_live(&self.label, &self.config, db, Watch::Calls, |vm| {
            let dbo = db_object(vm)?;
            let args = vec![
                dbo,
                vm.ctx.new_str(userid).into(),
                vm.ctx.new_str(itemid).into(),
            ];
            let r = if self.with_context {
                let kw: rustpython_vm::function::KwArgs = [
                    (
                        "permission".to_string(),
                        vm.ctx.new_str(cx.permission).into(),
                    ),
                    ("classname".to_string(), opt_str(vm, cx.classname)),
                    ("property".to_string(), opt_str(vm, cx.property)),
                ]
                .into_iter()
                .collect();
                self.func
                    .call(rustpython_vm::function::FuncArgs::new(args, kw), vm)?
            } else {
                self.func.call(
                    rustpython_vm::function::FuncArgs::new(
                        args,
                        rustpython_vm::function::KwArgs::default(),
                    ),
                    vm,
                )?
            };
            Ok(r.try_to_bool(vm)?)
        })
    }
}

/// A filter function of `addPermission(filter=...)`.
pub(crate) struct PyFilter {
    pub label: String,
    pub name: String,
    pub config: Arc<ConfigView>,
    pub func: PyObjectRef,
}

impl fmt::Debug for PyFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter {} of {}", self.name, self.label)
    }
}

impl PermissionFilter for PyFilter {
    fn filters(&self, db: &Db, userid: &str, classname: &str) -> Result<Vec<RawFilterSpec>> {
        let label = self.label.clone();
        call_live(&self.label, &self.config, db, Watch::Calls, |vm| {
            let t = helper(vm, "call_filter")?;
            let r = t.call(
                (
                    self.func.clone(),
                    vm.ctx.new_str(userid),
                    vm.ctx.new_str(classname),
                ),
                vm,
            )?;
            let bad = |what: String| {
                CallError::Core(Error::Script(format!(
                    "{label}: filter function {}: {what}",
                    self.name
                )))
            };
            let specs: Vec<PyObjectRef> = r.try_into_value(vm)?;
            let mut out = Vec::new();
            for spec in specs {
                let mut one = RawFilterSpec::new();
                for (prop, v) in dict_pairs(vm, "a filterspec", &spec).map_err(bad)? {
                    let vals = match raw(vm, &v)? {
                        Raw::Bool(b) => vec![if b { "1" } else { "0" }.to_string()],
                        other => other.str_list().ok_or_else(|| {
                            bad(format!(
                                "the value for {prop} must be a str or a list of str, not {}",
                                other.describe()
                            ))
                        })?,
                    };
                    one.push((prop, vals));
                }
                out.push(one);
            }
            Ok(out)
        })
    }
}

/// The check Roundup derives from a filter given without a check: the
/// item is allowed when one of the filter's filterspecs matches it.
#[derive(Debug)]
pub(crate) struct FilterCheck {
    pub filter: Arc<PyFilter>,
    pub klass: String,
}

impl PermissionCheck for FilterCheck {
    fn check(&self, db: &Db, userid: &str, itemid: &str, _cx: &CheckContext<'_>) -> Result<bool> {
        for spec in self.filter.filters(db, userid, &self.klass)? {
            let fs = FilterSpec {
                search_matches: Some(Arc::new(roundup_core::filter::IdSet::parse(
                    &self.klass,
                    &[itemid],
                )?)),
                filterspec: spec
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v.as_slice() {
                            [one] => SpecValue::One(one.clone()),
                            _ => SpecValue::Many(v),
                        };
                        (k, v)
                    })
                    .collect(),
                ..FilterSpec::default()
            };
            if !db.filter(&self.klass, &fs)?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A detector function registered with `audit` or `react`.
pub(crate) struct PyDetector {
    pub label: String,
    pub name: String,
    pub config: Arc<ConfigView>,
    pub func: PyObjectRef,
}

impl fmt::Debug for PyDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "detector {} of {}", self.name, self.label)
    }
}

impl Auditor for PyDetector {
    fn audit(
        &self,
        db: &Db,
        class: &str,
        nodeid: Option<&str>,
        newvalues: Option<&mut Values>,
    ) -> Result<()> {
        let label = self.label.clone();
        call_live(&self.label, &self.config, db, Watch::Lines, |vm| {
            let t = helper(vm, "call_auditor")?;
            let nv = match &newvalues {
                Some(v) => values_to_dict(vm, v)?,
                None => vm.ctx.none(),
            };
            let r = t.call(
                (
                    self.func.clone(),
                    vm.ctx.new_str(class),
                    opt_str(vm, nodeid),
                    nv,
                ),
                vm,
            )?;
            let Some(newvalues) = newvalues else {
                return Ok(());
            };
            if vm.is_none(&r) {
                return Ok(());
            }
            // the dict as the auditor left it
            let cls = db.class(class).map_err(CallError::Core)?;
            let tz = db.user_timezone().map_err(CallError::Core)?;
            let pairs = dict_pairs(vm, "newvalues", &r).map_err(|m| {
                CallError::Core(Error::Script(format!("{label}: {}: {m}", self.name)))
            })?;
            let mut out = Values::new();
            for (name, v) in pairs {
                let prop = cls.require_prop(&name).map_err(|e| {
                    CallError::Core(Error::Script(format!(
                        "{label}: {} put \"{name}\" in newvalues: {e}",
                        self.name
                    )))
                })?;
                let r = raw(vm, &v)?;
                let value = from_raw(&tz, class, &name, prop, &r).map_err(|m| {
                    CallError::Core(Error::Script(format!("{label}: {}: {m}", self.name)))
                })?;
                out.insert(name, value);
            }
            *newvalues = out;
            Ok(())
        })
    }
}

impl Reactor for PyDetector {
    fn react(&self, db: &Db, class: &str, nodeid: &str, oldvalues: Option<&Values>) -> Result<()> {
        call_live(&self.label, &self.config, db, Watch::Lines, |vm| {
            let t = helper(vm, "call_reactor")?;
            let ov = match oldvalues {
                Some(v) => values_to_dict(vm, v)?,
                None => vm.ctx.none(),
            };
            t.call(
                (
                    self.func.clone(),
                    vm.ctx.new_str(class),
                    vm.ctx.new_str(nodeid),
                    ov,
                ),
                vm,
            )?;
            Ok(())
        })
    }
}

/// A detector file that could not be loaded: every change it would have
/// watched fails with the reason, while reading keeps working.
#[derive(Debug)]
pub(crate) struct BrokenDetector {
    pub message: String,
}

impl Auditor for BrokenDetector {
    fn audit(&self, _: &Db, _: &str, _: Option<&str>, _: Option<&mut Values>) -> Result<()> {
        Err(Error::Script(self.message.clone()))
    }
}

/// A function an extension registered for templates (`utils.<name>`).
pub(crate) struct PyUtil {
    pub label: String,
    pub name: String,
    pub config: Arc<ConfigView>,
    pub func: PyObjectRef,
    /// Registered with registerUtilMethod: gets the utils object first.
    pub method: bool,
}

impl fmt::Debug for PyUtil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "util {} of {}", self.name, self.label)
    }
}

impl roundup_core::extensions::TemplateUtil for PyUtil {
    fn call(
        &self,
        db: &Db,
        args: &[roundup_core::extensions::UtilValue],
    ) -> Result<roundup_core::extensions::UtilValue> {
        let _scope = crate::tplobj::Scope::enter();
        call_live(&self.label, &self.config, db, Watch::Calls, |vm| {
            let t = helper(vm, "call_util")?;
            let args = args
                .iter()
                .map(|a| crate::tplobj::to_py(vm, a))
                .collect::<rustpython_vm::PyResult<Vec<_>>>()?;
            let r = t.call(
                (
                    self.func.clone(),
                    vm.ctx.new_bool(self.method),
                    vm.ctx.new_tuple(args),
                ),
                vm,
            )?;
            Ok(crate::tplobj::from_py(vm, &r)?)
        })
    }
}

/// A web action class an extension registered (`registerAction`).
pub(crate) struct PyAction {
    pub label: String,
    pub name: String,
    pub config: Arc<ConfigView>,
    pub class: PyObjectRef,
}

impl fmt::Debug for PyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "action {} of {}", self.name, self.label)
    }
}

impl roundup_core::extensions::WebAction for PyAction {
    fn run(
        &self,
        db: &Db,
        req: &roundup_core::extensions::ActionRequest,
    ) -> Result<roundup_core::extensions::ActionResult> {
        use roundup_core::extensions::{ActionOutcome, ActionResult, FormField};
        let r = call_live(&self.label, &self.config, db, Watch::Lines, |vm| {
            let head = vm.ctx.new_tuple(vec![
                vm.ctx.new_str(req.name.as_str()).into(),
                vm.ctx.new_str(req.method.as_str()).into(),
                vm.ctx.new_str(req.base.as_str()).into(),
                vm.ctx.new_str(req.userid.as_str()).into(),
                opt_str(vm, req.classname.as_deref()),
                opt_str(vm, req.nodeid.as_deref()),
                vm.ctx.new_str(req.template.as_str()).into(),
            ]);
            let fields: Vec<PyObjectRef> = req
                .form
                .iter()
                .map(|(name, f)| {
                    let items: Vec<PyObjectRef> = match f {
                        FormField::Text(t) => vec![
                            vm.ctx.new_str(name.as_str()).into(),
                            vm.ctx.new_str(t.as_str()).into(),
                        ],
                        FormField::File {
                            filename,
                            content_type,
                            content,
                        } => vec![
                            vm.ctx.new_str(name.as_str()).into(),
                            vm.ctx.new_bytes(content.clone()).into(),
                            vm.ctx.new_str(filename.as_str()).into(),
                            vm.ctx.new_str(content_type.as_str()).into(),
                        ],
                    };
                    vm.ctx.new_tuple(items).into()
                })
                .collect();
            let r = helper(vm, "run_action")?
                .call((self.class.clone(), head, vm.ctx.new_list(fields)), vm)?;
            Ok(raw(vm, &r)?)
        })?;
        let bad = || Error::Script(format!("{}: internal: bad action result", self.label));
        let Raw::Seq(parts) = r else {
            return Err(bad());
        };
        let [Raw::Str(outcome), Raw::Str(text), Raw::Bool(commit), ok, err, template, headers] =
            parts.as_slice()
        else {
            return Err(bad());
        };
        let pairs = |r: &Raw| -> Vec<(String, String)> {
            match r {
                Raw::Seq(items) => items
                    .iter()
                    .filter_map(|p| match p {
                        Raw::Seq(kv) => match kv.as_slice() {
                            [Raw::Str(k), Raw::Str(v)] => Some((k.clone(), v.clone())),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        let outcome = match outcome.as_str() {
            "redirect" => ActionOutcome::Redirect(text.clone()),
            "body" => ActionOutcome::Body(text.clone()),
            "unauthorised" => ActionOutcome::Unauthorised(text.clone()),
            "notfound" => ActionOutcome::NotFound(text.clone()),
            _ => ActionOutcome::Render,
        };
        Ok(ActionResult {
            outcome,
            commit: *commit,
            ok: ok.str_list().unwrap_or_default(),
            err: err.str_list().unwrap_or_default(),
            template: match template {
                Raw::Str(t) => Some(t.clone()),
                _ => None,
            },
            headers: pairs(headers),
        })
    }
}
