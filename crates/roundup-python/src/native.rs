//! `_roundup`: the native module under the `roundup` package.
//!
//! Every function acts on the thread's current context (see
//! [`crate::engine`]): the schema being defined, the detectors being
//! registered, or the live database. The Python modules of `roundup` give
//! tracker code Roundup's API on top of these; nothing here is meant to be
//! called by tracker code directly.

use roundup_core::Error;
use rustpython_vm::builtins::PyBaseExceptionRef;
use rustpython_vm::{PyObjectRef, PyResult, VirtualMachine};

use crate::engine::{helper, stash_error, with_ctx, Ctx, Phase};

/// A core error as the Python exception Roundup raises for it.
pub(crate) fn py_err(vm: &VirtualMachine, e: Error) -> PyBaseExceptionRef {
    let (kind, msg) = match &e {
        Error::Reject(m) => ("reject", m.clone()),
        Error::Value(m) => ("value", m.clone()),
        Error::Unauthorised(m) => ("unauthorised", m.clone()),
        Error::NoSuchNode { .. } => ("index", e.to_string()),
        Error::NoSuchKey { .. } | Error::NoSuchProperty { .. } | Error::NoSuchClass(_) => {
            ("key", e.to_string())
        }
        _ => ("core", e.to_string()),
    };
    if kind == "core" {
        stash_error(e);
    }
    make_exc(vm, kind, &msg)
}

pub(crate) fn make_exc(vm: &VirtualMachine, kind: &str, msg: &str) -> PyBaseExceptionRef {
    let made =
        crate::engine::unwatched(|| helper(vm, "make_error").and_then(|f| f.call((kind, msg), vm)));
    match made.map(|o| o.downcast::<rustpython_vm::builtins::PyBaseException>()) {
        Ok(Ok(exc)) => exc,
        _ => vm.new_runtime_error(msg.to_string()),
    }
}

/// Run `f` with the current context, or fail with a clear message.
pub(crate) fn ctx<R>(
    vm: &VirtualMachine,
    what: &str,
    f: impl FnOnce(&Ctx<'_>) -> PyResult<R>,
) -> PyResult<R> {
    with_ctx(|c| match c {
        Some(c) => f(c),
        None => Err(make_exc(
            vm,
            "runtime",
            &format!("{what}: no tracker is open on this thread"),
        )),
    })
}

/// TimeoutError once the current call has run past its time (the
/// watchdog; database calls check it too).
pub(crate) fn check_deadline(vm: &VirtualMachine) -> PyResult<()> {
    if crate::engine::past_deadline() {
        crate::engine::watchdog_fired();
        return Err(make_exc(
            vm,
            "timeout",
            &format!(
                "tracker code ran longer than {} seconds and was stopped",
                crate::engine::time_limit().as_secs_f64()
            ),
        ));
    }
    Ok(())
}

/// Run `f` with the live database, or explain which phase this is.
pub(crate) fn live<R>(
    vm: &VirtualMachine,
    what: &str,
    f: impl FnOnce(&roundup_core::Db) -> PyResult<R>,
) -> PyResult<R> {
    check_deadline(vm)?;
    ctx(vm, what, |c| {
        match &c.phase {
        Phase::Live(db) => f(db),
        Phase::Schema(_) => Err(make_exc(
            vm,
            "runtime",
            &format!("{what} needs the database, which schema.py does not have yet"),
        )),
        Phase::Init { .. } => Err(make_exc(
            vm,
            "runtime",
            &format!(
                "{what} needs the database, which a detector's init(db) does not have; call it from the detector function"
            ),
        )),
    }
    })
}

pub(crate) fn core<T>(vm: &VirtualMachine, r: roundup_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| py_err(vm, e))
}

pub(crate) fn strs(vm: &VirtualMachine, v: &[String]) -> PyObjectRef {
    vm.ctx
        .new_list(
            v.iter()
                .map(|s| vm.ctx.new_str(s.as_str()).into())
                .collect(),
        )
        .into()
}

#[rustpython_vm::pymodule]
pub(crate) mod _roundup {
    use std::sync::Arc;

    use roundup_core::date::{Date, Interval, Timezone};
    use roundup_core::detectors::Op;
    use roundup_core::filter::{Direction, FilterSpec, SpecValue};
    use roundup_core::password::Scheme;
    use roundup_core::schema::{ClassDef, ClassKind, PropType, Property, AUTOMATIC_PROPS};
    use roundup_core::security::{Permission, PermissionCheck, PermissionFilter};
    use roundup_core::Error;
    use rustpython_vm::builtins::{PyStr, PyTuple};
    use rustpython_vm::function::OptionalArg;
    use rustpython_vm::{AsObject, PyObjectRef, PyResult, VirtualMachine};

    use super::{core, ctx, live, make_exc, py_err, strs};
    use crate::convert::{
        dict_pairs, from_raw, opt_str, pairs_to_values, raw, to_py, PairsError, Raw,
    };
    use crate::engine::{Phase, Registration};
    use crate::hooks::{FilterCheck, PyCheck, PyFilter};

    fn schema_err(vm: &VirtualMachine, msg: String) -> rustpython_vm::builtins::PyBaseExceptionRef {
        py_err(vm, Error::Schema(msg))
    }

    fn tuple_items(obj: &PyObjectRef) -> Vec<PyObjectRef> {
        match obj.downcast_ref::<PyTuple>() {
            Some(t) => t.as_slice().to_vec(),
            None => Vec::new(),
        }
    }

    fn pystr(obj: &PyObjectRef) -> Option<String> {
        obj.downcast_ref::<PyStr>()
            .map(|s| s.to_string_lossy().into_owned())
    }

    // ----------------------------------------------------------- context

    /// "schema", "init" or "live".
    #[pyfunction]
    fn phase(vm: &VirtualMachine) -> PyResult<String> {
        ctx(vm, "phase()", |c| {
            Ok(match c.phase {
                Phase::Schema(_) => "schema",
                Phase::Init { .. } => "init",
                Phase::Live(_) => "live",
            }
            .to_string())
        })
    }

    /// The script being run (for messages).
    #[pyfunction]
    fn label(vm: &VirtualMachine) -> PyResult<String> {
        ctx(vm, "label()", |c| Ok(c.label.clone()))
    }

    // ------------------------------------------------------------ config

    /// A config option by Roundup's upper-case name; None if unknown.
    /// `which` is "main", "detectors" or "ext".
    #[pyfunction]
    fn config_get(which: String, name: String, vm: &VirtualMachine) -> PyResult<Option<String>> {
        ctx(vm, "config", |c| {
            Ok(match which.as_str() {
                "detectors" => c.config.detector_option(&name),
                "ext" => c
                    .config
                    .extension_options()
                    .get(&name.to_uppercase())
                    .map(String::as_str),
                _ => c.config.get(&name),
            }
            .map(str::to_string))
        })
    }

    /// Without host access: text tracker code printed, to the log.
    #[pyfunction]
    fn sandbox_write(text: String) {
        crate::sandbox::log_write(&text);
    }

    /// Without host access: (file name, source) of a module of the
    /// tracker folder being loaded, or None.
    #[pyfunction]
    fn sandbox_source(name: String) -> Option<(String, String)> {
        crate::sandbox::module_source(&name)
    }

    /// How a config.ini option is typed for Python (a one-letter code of
    /// `ValueKind`).
    #[pyfunction]
    fn config_kind(name: String, vm: &VirtualMachine) -> PyResult<String> {
        ctx(vm, "config", |c| {
            Ok(c.config.kind(&name).code().to_string())
        })
    }

    /// Every option name of `which` ("main", "detectors", "ext").
    #[pyfunction]
    fn config_names(which: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        ctx(vm, "config", |c| {
            let names: Vec<String> = match which.as_str() {
                "detectors" => c.config.detector_options().keys().cloned().collect(),
                "ext" => c.config.extension_options().keys().cloned().collect(),
                _ => c.config.options().keys().cloned().collect(),
            };
            Ok(strs(vm, &names))
        })
    }

    /// An option by section and option name.
    #[pyfunction]
    fn config_in(section: String, option: String, vm: &VirtualMachine) -> PyResult<Option<String>> {
        ctx(vm, "config", |c| {
            Ok(c.config.get_in(&section, &option).map(str::to_string))
        })
    }

    // ------------------------------------------------------------ schema

    fn yes_no(vm: &VirtualMachine, t: &str, opt: &str, v: &Raw) -> PyResult<bool> {
        match v {
            Raw::Bool(b) => Ok(*b),
            Raw::Int(i) => Ok(*i != 0),
            Raw::Str(s) if s == "yes" => Ok(true),
            Raw::Str(s) if s == "no" => Ok(false),
            other => Err(schema_err(
                vm,
                format!(
                    "{t}: {opt}={} is not valid; use 'yes' or 'no'",
                    other.describe()
                ),
            )),
        }
    }

    fn flag(vm: &VirtualMachine, t: &str, opt: &str, v: &Raw) -> PyResult<bool> {
        match v {
            Raw::Bool(b) => Ok(*b),
            Raw::Int(i) => Ok(*i != 0),
            Raw::None => Ok(false),
            other => Err(schema_err(
                vm,
                format!(
                    "{t}: {opt}={} is not valid; use True or False",
                    other.describe()
                ),
            )),
        }
    }

    fn opt_text(vm: &VirtualMachine, t: &str, opt: &str, v: &Raw) -> PyResult<Option<String>> {
        match v {
            Raw::None => Ok(None),
            Raw::Str(s) => Ok(Some(s.clone())),
            other => Err(schema_err(
                vm,
                format!("{t}: {opt} must be a str, not {}", other.describe()),
            )),
        }
    }

    fn ptype_of(name: &str) -> Option<PropType> {
        Some(match name {
            "String" => PropType::String,
            "Password" => PropType::Password,
            "Date" => PropType::Date,
            "Interval" => PropType::Interval,
            "Link" => PropType::Link,
            "Multilink" => PropType::Multilink,
            "Boolean" => PropType::Boolean,
            "Number" => PropType::Number,
            "Integer" => PropType::Integer,
            _ => return None,
        })
    }

    /// A property from its type name and the options given to it.
    fn make_property(
        vm: &VirtualMachine,
        tname: &str,
        opts: &[(String, PyObjectRef)],
    ) -> PyResult<Property> {
        let Some(ptype) = ptype_of(tname) else {
            return Err(schema_err(vm, format!("unknown property type {tname}")));
        };
        let mut prop = Property::new(ptype);
        let mut default = None;
        for (opt, v) in opts {
            let v = raw(vm, v)?;
            let allowed = matches!(
                (opt.as_str(), ptype),
                ("required" | "default_value" | "quiet", _)
                    | ("indexme", PropType::String)
                    | ("scheme", PropType::Password)
                    | ("offset" | "display_time" | "format", PropType::Date)
                    | ("use_double", PropType::Number)
                    | (
                        "classname" | "do_journal" | "try_id_parsing" | "rev_multilink",
                        PropType::Link | PropType::Multilink
                    )
                    | ("msg_header_property", PropType::Link)
            );
            if !allowed {
                return Err(schema_err(vm, format!("{tname}() has no option \"{opt}\"")));
            }
            match opt.as_str() {
                "classname" => prop.link_class = opt_text(vm, tname, opt, &v)?,
                "required" => prop.required = flag(vm, tname, opt, &v)?,
                "quiet" => prop.quiet = flag(vm, tname, opt, &v)?,
                "use_double" => prop.use_double = flag(vm, tname, opt, &v)?,
                "default_value" => default = Some(v),
                "indexme" => prop.indexme = yes_no(vm, tname, opt, &v)?,
                "do_journal" => prop.do_journal = yes_no(vm, tname, opt, &v)?,
                "try_id_parsing" => prop.try_id_parsing = yes_no(vm, tname, opt, &v)?,
                "display_time" => prop.display_time = yes_no(vm, tname, opt, &v)?,
                "rev_multilink" => prop.rev_multilink = opt_text(vm, tname, opt, &v)?,
                "msg_header_property" => prop.msg_header_property = opt_text(vm, tname, opt, &v)?,
                "format" => prop.date_format = opt_text(vm, tname, opt, &v)?,
                "offset" => {
                    prop.date_offset = match &v {
                        Raw::None => None,
                        Raw::Str(s) => Some(s.clone()),
                        Raw::Int(i) => Some(i.to_string()),
                        Raw::Float(f) => Some(f.to_string()),
                        other => {
                            return Err(schema_err(
                                vm,
                                format!(
                                    "Date(): offset must be a number, not {}",
                                    other.describe()
                                ),
                            ))
                        }
                    }
                }
                "scheme" => {
                    prop.scheme = match opt_text(vm, tname, opt, &v)? {
                        None => None,
                        Some(s) => Some(Scheme::parse(&s).ok_or_else(|| {
                            schema_err(vm, format!("Password(): unknown password scheme \"{s}\""))
                        })?),
                    }
                }
                _ => {}
            }
        }
        if prop.is_pointer() && prop.link_class.is_none() {
            return Err(schema_err(
                vm,
                format!(
                    "{tname}() needs the name of the class it links to, e.g. {tname}(\"user\")"
                ),
            ));
        }
        if let Some(d) = default {
            prop.default_value = from_raw(&Timezone::Utc, "default", "value", &prop, &d)
                .map_err(|m| schema_err(vm, format!("{tname}(): bad default_value: {m}")))?;
        }
        Ok(prop)
    }

    /// Define a class: `kind` is "Class", "IssueClass" or "FileClass";
    /// `props` a list of (name, type name, {option: value}). Adds Roundup's
    /// per-class Create/Edit/View/Retire permissions.
    #[pyfunction]
    fn define_class(
        name: String,
        kind: String,
        props: Vec<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        let kind = match kind.as_str() {
            "Class" => ClassKind::Plain,
            "IssueClass" => ClassKind::Issue,
            "FileClass" => ClassKind::File,
            other => return Err(schema_err(vm, format!("unknown class kind {other}"))),
        };
        let mut defs = roundup_core::schema::PropMap::default();
        for p in &props {
            let items = tuple_items(p);
            let (Some(pname), Some(tname), Some(opts)) = (
                items.first().and_then(pystr),
                items.get(1).and_then(pystr),
                items.get(2),
            ) else {
                return Err(schema_err(
                    vm,
                    format!("class \"{name}\": bad property entry"),
                ));
            };
            let opts = dict_pairs(vm, "options", opts).map_err(|m| schema_err(vm, m))?;
            let prop = make_property(vm, &tname, &opts)?;
            defs.insert(pname, prop);
        }
        let def = core(vm, ClassDef::new(&name, kind, defs))?;
        ctx(vm, "Class()", |c| {
            let Phase::Schema(st) = &c.phase else {
                return Err(make_exc(
                    vm,
                    "runtime",
                    "classes can only be defined in schema.py",
                ));
            };
            let mut st = st.borrow_mut();
            core(vm, st.schema.add_class(def))?;
            for (perm, verb) in [
                ("Create", "create"),
                ("Edit", "edit"),
                ("View", "access"),
                ("Retire", "retire"),
            ] {
                let mut p = Permission::new(perm, &format!("User is allowed to {verb} {name}"));
                p.klass = Some(name.clone());
                st.security.add_permission(p);
            }
            Ok(())
        })
    }

    /// setkey / setlabelprop / setorderprop / disableJournalling /
    /// enableJournalling on a class being defined.
    #[pyfunction]
    fn class_setting(
        class: String,
        what: String,
        value: Option<String>,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        ctx(vm, &what, |c| {
            let Phase::Schema(st) = &c.phase else {
                return Err(make_exc(
                    vm,
                    "runtime",
                    &format!("{class}.{what}() can only be called in schema.py"),
                ));
            };
            let mut st = st.borrow_mut();
            let cls = core(vm, st.schema.class_mut(&class))?;
            let need = |what_for: &str| -> PyResult<String> {
                let v = value.clone().unwrap_or_default();
                if cls.prop(&v).is_none() {
                    return Err(schema_err(
                        vm,
                        format!("class \"{class}\" has no property \"{v}\" to use as {what_for}"),
                    ));
                }
                Ok(v)
            };
            match what.as_str() {
                "setkey" => {
                    let v = value.clone().unwrap_or_default();
                    core(vm, cls.set_key(&v))?;
                }
                "setlabelprop" => cls.labelprop = Some(need("label")?),
                "setorderprop" => cls.orderprop = Some(need("order")?),
                "disableJournalling" => cls.do_journal = false,
                "enableJournalling" => cls.do_journal = true,
                other => return Err(make_exc(vm, "runtime", &format!("unknown setting {other}"))),
            }
            Ok(())
        })
    }

    /// Run `f` with the schema and security of the current phase (being
    /// defined, finished, or the live database's).
    fn with_def<R>(
        vm: &VirtualMachine,
        f: impl FnOnce(&roundup_core::schema::Schema, &roundup_core::security::Security) -> PyResult<R>,
    ) -> PyResult<R> {
        ctx(vm, "schema", |c| match &c.phase {
            Phase::Schema(st) => {
                let st = st.borrow();
                f(&st.schema, &st.security)
            }
            Phase::Init {
                schema, security, ..
            } => f(schema, security),
            Phase::Live(db) => f(db.schema(), db.security()),
        })
    }

    /// Names of the classes, in definition order.
    #[pyfunction]
    fn class_names(vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        with_def(vm, |s, _| {
            let names: Vec<String> = s.classes.keys().cloned().collect();
            Ok(strs(vm, &names))
        })
    }

    /// The kind of a class (`Class`, `IssueClass`, `FileClass`): what
    /// `db.<class>` needs, without the property dicts of `class_info`
    /// (building those on every `db.issue` of a detector showed in the
    /// mail gateway's profile).
    #[pyfunction]
    fn class_kind(class: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        with_def(vm, |s, _| {
            let cls = core(vm, s.class(&class))?;
            let kind = match cls.kind {
                ClassKind::Plain => "Class",
                ClassKind::Issue => "IssueClass",
                ClassKind::File => "FileClass",
            };
            Ok(vm.ctx.new_str(kind).into())
        })
    }

    /// (kind, key, labelprop, orderprop, do_journal, props) where props is
    /// a list of (name, type, {options}) including the automatic ones.
    #[pyfunction]
    fn class_info(class: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        with_def(vm, |s, _| {
            let cls = core(vm, s.class(&class))?;
            let opt = |o: &Option<String>| opt_str(vm, o.as_deref());
            let mut props = Vec::new();
            let mut all: Vec<(&str, &Property)> =
                cls.props.iter().map(|(k, v)| (k.as_str(), v)).collect();
            for a in AUTOMATIC_PROPS {
                if let Some(p) = cls.prop(a) {
                    all.push((a, p));
                }
            }
            for (name, p) in all {
                let d = vm.ctx.new_dict();
                d.set_item("classname", opt(&p.link_class), vm)?;
                d.set_item("required", vm.ctx.new_bool(p.required).into(), vm)?;
                d.set_item("quiet", vm.ctx.new_bool(p.quiet).into(), vm)?;
                d.set_item("indexme", vm.ctx.new_bool(p.indexme).into(), vm)?;
                d.set_item("do_journal", vm.ctx.new_bool(p.do_journal).into(), vm)?;
                d.set_item(
                    "try_id_parsing",
                    vm.ctx.new_bool(p.try_id_parsing).into(),
                    vm,
                )?;
                d.set_item("rev_multilink", opt(&p.rev_multilink), vm)?;
                d.set_item("msg_header_property", opt(&p.msg_header_property), vm)?;
                d.set_item("use_double", vm.ctx.new_bool(p.use_double).into(), vm)?;
                d.set_item("offset", opt(&p.date_offset), vm)?;
                d.set_item("display_time", vm.ctx.new_bool(p.display_time).into(), vm)?;
                d.set_item("format", opt(&p.date_format), vm)?;
                d.set_item("computed", vm.ctx.new_bool(p.computed.is_some()).into(), vm)?;
                d.set_item(
                    "scheme",
                    match p.scheme {
                        Some(s) => vm.ctx.new_str(s.name()).into(),
                        None => vm.ctx.none(),
                    },
                    vm,
                )?;
                d.set_item("default_value", to_py(vm, &p.default_value), vm)?;
                props.push(
                    vm.ctx
                        .new_tuple(vec![
                            vm.ctx.new_str(name).into(),
                            vm.ctx.new_str(p.ptype.name()).into(),
                            d.into(),
                        ])
                        .into(),
                );
            }
            let kind = match cls.kind {
                ClassKind::Plain => "Class",
                ClassKind::Issue => "IssueClass",
                ClassKind::File => "FileClass",
            };
            Ok(vm
                .ctx
                .new_tuple(vec![
                    vm.ctx.new_str(kind).into(),
                    opt(&cls.key),
                    opt(&cls.labelprop),
                    opt(&cls.orderprop),
                    vm.ctx.new_bool(cls.do_journal).into(),
                    vm.ctx.new_list(props).into(),
                ])
                .into())
        })
    }

    // ---------------------------------------------------------- security

    fn schema_state<R>(
        vm: &VirtualMachine,
        what: &str,
        f: impl FnOnce(
            &mut crate::engine::SchemaState,
            &str,
            &Arc<crate::config::ConfigView>,
        ) -> PyResult<R>,
    ) -> PyResult<R> {
        ctx(vm, what, |c| match &c.phase {
            Phase::Schema(st) => f(&mut st.borrow_mut(), &c.label, &c.config),
            _ => Err(make_exc(
                vm,
                "runtime",
                &format!("{what} can only be called in schema.py"),
            )),
        })
    }

    #[pyfunction]
    fn add_role(name: String, description: String, vm: &VirtualMachine) -> PyResult<()> {
        schema_state(vm, "db.security.addRole()", |st, _, _| {
            st.security.add_role(&name, &description);
            Ok(())
        })
    }

    /// A callable's `__name__`, or `fallback` (callable objects have none).
    fn func_name(vm: &VirtualMachine, f: &PyObjectRef, fallback: &str) -> String {
        f.get_attr("__name__", vm)
            .ok()
            .and_then(|n| pystr(&n))
            .unwrap_or_else(|| fallback.to_string())
    }

    fn make_check(
        vm: &VirtualMachine,
        st: &mut crate::engine::SchemaState,
        label: &str,
        config: &Arc<crate::config::ConfigView>,
        f: &PyObjectRef,
    ) -> PyResult<Arc<PyCheck>> {
        if !f.is_callable() {
            return Err(schema_err(vm, "check= must be a function".to_string()));
        }
        for (g, chk) in &st.checks {
            if g.is(f) {
                return Ok(chk.clone());
            }
        }
        // Roundup's "version 2" checks take **ctx (CO_VARKEYWORDS)
        let with_context = f
            .get_attr("__code__", vm)
            .and_then(|c| c.get_attr("co_flags", vm))
            .ok()
            .and_then(|fl| fl.try_into_value::<i64>(vm).ok())
            .is_some_and(|fl| fl & 0x08 != 0);
        let chk = Arc::new(PyCheck {
            label: label.to_string(),
            name: func_name(vm, f, "<function>"),
            config: config.clone(),
            func: f.clone(),
            with_context,
        });
        st.checks.push((f.clone(), chk.clone()));
        Ok(chk)
    }

    /// A permission's class must be defined already.
    fn known_class(
        vm: &VirtualMachine,
        st: &crate::engine::SchemaState,
        klass: Option<&str>,
    ) -> PyResult<()> {
        match klass {
            Some(k) if !st.schema.classes.contains_key(k) => {
                Err(schema_err(vm, format!("No class \"{k}\" defined")))
            }
            _ => Ok(()),
        }
    }

    fn opt_obj(vm: &VirtualMachine, o: &Option<PyObjectRef>) -> Option<PyObjectRef> {
        o.as_ref().filter(|o| !vm.is_none(o)).cloned()
    }

    fn props_list(vm: &VirtualMachine, v: &Option<PyObjectRef>) -> PyResult<Option<Vec<String>>> {
        match opt_obj(vm, v) {
            None => Ok(None),
            Some(o) => match raw(vm, &o)?.str_list() {
                Some(l) => Ok(Some(l)),
                None => Err(schema_err(
                    vm,
                    "properties must be a tuple or list of property names".to_string(),
                )),
            },
        }
    }

    /// addPermission(name, description, klass, properties, check,
    /// props_only, filter) → handle.
    #[pyfunction]
    #[allow(clippy::too_many_arguments)]
    fn add_permission(
        name: String,
        description: String,
        klass: Option<String>,
        properties: Option<PyObjectRef>,
        check: Option<PyObjectRef>,
        props_only: Option<bool>,
        filter: Option<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult<usize> {
        let properties = props_list(vm, &properties)?;
        let check = opt_obj(vm, &check);
        let filter = opt_obj(vm, &filter);
        schema_state(vm, "db.security.addPermission()", |st, label, config| {
            known_class(vm, st, klass.as_deref())?;
            let mut p = Permission::new(&name, &description);
            p.props_only =
                properties.is_some() && props_only.unwrap_or(st.security.props_only_default);
            p.properties = properties;
            if let Some(f) = &check {
                p.check = Some(make_check(vm, st, label, config, f)? as Arc<dyn PermissionCheck>);
            }
            if let Some(f) = &filter {
                if !f.is_callable() {
                    return Err(schema_err(vm, "filter= must be a function".to_string()));
                }
                let flt = Arc::new(PyFilter {
                    label: label.to_string(),
                    name: func_name(vm, f, "<function>"),
                    config: config.clone(),
                    func: f.clone(),
                });
                if p.check.is_none() {
                    let Some(k) = klass.clone() else {
                        return Err(schema_err(
                            vm,
                            "Definition of a filter function needs a check function if no klass is given"
                                .to_string(),
                        ));
                    };
                    p.check = Some(Arc::new(FilterCheck {
                        filter: flt.clone(),
                        klass: k,
                    }));
                }
                p.filter = Some(flt as Arc<dyn PermissionFilter>);
            }
            p.klass = klass;
            Ok(st.security.add_permission(p))
        })
    }

    /// getPermission(name, klass, properties, check, props_only) → handle.
    #[pyfunction]
    fn get_permission(
        name: String,
        klass: Option<String>,
        properties: Option<PyObjectRef>,
        check: Option<PyObjectRef>,
        props_only: Option<bool>,
        vm: &VirtualMachine,
    ) -> PyResult<usize> {
        let properties = props_list(vm, &properties)?;
        let check = opt_obj(vm, &check);
        schema_state(vm, "db.security.getPermission()", |st, label, config| {
            known_class(vm, st, klass.as_deref())?;
            let check: Option<Arc<dyn PermissionCheck>> = match &check {
                Some(f) => Some(make_check(vm, st, label, config, f)?),
                None => None,
            };
            core(
                vm,
                st.security.get_permission(
                    &name,
                    klass.as_deref(),
                    properties.as_deref(),
                    check.as_ref(),
                    props_only,
                ),
            )
        })
    }

    #[pyfunction]
    fn add_permission_to_role(role: String, handle: usize, vm: &VirtualMachine) -> PyResult<()> {
        schema_state(vm, "db.security.addPermissionToRole()", |st, _, _| {
            core(vm, st.security.add_permission_to_role(&role, handle))
        })
    }

    /// (name, klass, description, properties) of a permission handle.
    #[pyfunction]
    fn permission_info(handle: usize, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        with_def(vm, |_, s| {
            let Some(p) = s.permission(handle) else {
                return Ok(vm.ctx.none());
            };
            let props = match &p.properties {
                Some(l) => strs(vm, l),
                None => vm.ctx.none(),
            };
            Ok(vm
                .ctx
                .new_tuple(vec![
                    vm.ctx.new_str(p.name.as_str()).into(),
                    opt_str(vm, p.klass.as_deref()),
                    vm.ctx.new_str(p.description.as_str()).into(),
                    props,
                ])
                .into())
        })
    }

    #[pyfunction]
    fn set_props_only_default(flag: bool, vm: &VirtualMachine) -> PyResult<()> {
        schema_state(vm, "db.security.set_props_only_default()", |st, _, _| {
            st.security.props_only_default = flag;
            Ok(())
        })
    }

    /// [(name, description, [permission handles])] of every role.
    #[pyfunction]
    fn roles(vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        with_def(vm, |_, s| {
            let list = s
                .roles()
                .map(|r| {
                    vm.ctx
                        .new_tuple(vec![
                            vm.ctx.new_str(r.name.as_str()).into(),
                            vm.ctx.new_str(r.description.as_str()).into(),
                            vm.ctx
                                .new_list(
                                    r.permissions
                                        .iter()
                                        .map(|i| vm.ctx.new_int(*i).into())
                                        .collect(),
                                )
                                .into(),
                        ])
                        .into()
                })
                .collect();
            Ok(vm.ctx.new_list(list).into())
        })
    }

    #[pyfunction]
    fn has_permission(
        permission: String,
        userid: String,
        classname: Option<String>,
        property: Option<String>,
        itemid: Option<String>,
        vm: &VirtualMachine,
    ) -> PyResult<bool> {
        live(vm, "db.security.hasPermission()", |db| {
            core(
                vm,
                db.security().has_permission(
                    db,
                    &permission,
                    &userid,
                    classname.as_deref(),
                    property.as_deref(),
                    itemid.as_deref(),
                ),
            )
        })
    }

    // --------------------------------------------------------- detectors

    #[pyfunction]
    fn register_detector(
        class: String,
        reactor: bool,
        event: String,
        func: PyObjectRef,
        priority: i64,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        let what = if reactor { "react" } else { "audit" };
        let op = Op::parse(&event).map_err(|e| py_err(vm, e))?;
        if !func.is_callable() {
            return Err(make_exc(
                vm,
                "type",
                &format!("{class}.{what}(): the detector must be a function"),
            ));
        }
        ctx(vm, what, |c| match &c.phase {
            Phase::Init { schema, regs, .. } => {
                if !schema.classes.contains_key(&class) {
                    return Err(py_err(vm, Error::NoSuchClass(class.clone())));
                }
                regs.borrow_mut().push(Registration {
                    name: func_name(vm, &func, "detector"),
                    class: class.clone(),
                    op,
                    priority,
                    reactor,
                    func: func.clone(),
                });
                Ok(())
            }
            _ => Err(make_exc(
                vm,
                "runtime",
                &format!("{class}.{what}() can only be called from a detector's init(db)"),
            )),
        })
    }

    /// An extension's registerUtil / registerUtilMethod / registerAction.
    #[pyfunction]
    fn register_extension(
        kind: String,
        name: String,
        func: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        let kind: &'static str = match kind.as_str() {
            "util" => "util",
            "utilmethod" => "utilmethod",
            "action" => "action",
            other => {
                return Err(make_exc(
                    vm,
                    "value",
                    &format!("unknown registration {other}"),
                ))
            }
        };
        if kind != "action" && !func.is_callable() {
            return Err(make_exc(
                vm,
                "type",
                &format!("registerUtil(\"{name}\", ...): the function must be callable"),
            ));
        }
        ctx(vm, "register", |c| match &c.phase {
            Phase::Init { ext, .. } => {
                ext.borrow_mut().push(crate::engine::ExtRegistration {
                    name: name.clone(),
                    kind,
                    func: func.clone(),
                });
                Ok(())
            }
            _ => Err(make_exc(
                vm,
                "runtime",
                "registrations are made in an extension's init(instance)",
            )),
        })
    }

    // ------------------------------------------------------ the database

    #[pyfunction]
    fn getuid(vm: &VirtualMachine) -> PyResult<String> {
        live(vm, "db.getuid()", |db| Ok(db.getuid()))
    }

    /// `db.tx_Source`: where the live connection's changes come from
    /// (`None` until a front end says, and while schema.py or a
    /// detector's `init(db)` runs).
    #[pyfunction]
    fn tx_source(vm: &VirtualMachine) -> PyResult<Option<String>> {
        ctx(vm, "db.tx_Source", |c| match &c.phase {
            Phase::Live(db) => Ok(db.tx_source_name()),
            _ => Ok(None),
        })
    }

    /// `db.tx_Source = value`: one of Roundup's sources, any other
    /// string (kept as it is, as in Roundup), or None.
    #[pyfunction]
    fn set_tx_source(name: Option<String>, vm: &VirtualMachine) -> PyResult<()> {
        live(vm, "db.tx_Source", |db| {
            db.set_tx_source_name(name.as_deref());
            Ok(())
        })
    }

    #[pyfunction]
    fn user_roles(userid: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        live(vm, "get_roles()", |db| {
            Ok(strs(vm, &core(vm, db.user_roles(&userid))?))
        })
    }

    #[pyfunction]
    fn get(class: String, id: String, prop: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        live(vm, "get()", |db| {
            Ok(to_py(vm, &core(vm, db.get(&class, &id, &prop))?))
        })
    }

    fn values_of(
        vm: &VirtualMachine,
        db: &roundup_core::Db,
        class: &str,
        props: &PyObjectRef,
    ) -> PyResult<roundup_core::Values> {
        let pairs = dict_pairs(vm, "properties", props).map_err(|m| make_exc(vm, "type", &m))?;
        pairs_to_values(vm, db, class, &pairs).map_err(|e| match e {
            PairsError::Core(e) => py_err(vm, e),
            PairsError::Py(e) => e,
            PairsError::Value(m) => make_exc(vm, "type", &m),
        })
    }

    /// set(class, id, {prop: value}) → {prop: old value} of what changed.
    #[pyfunction]
    fn set(
        class: String,
        id: String,
        props: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        live(vm, "set()", |db| {
            let values = values_of(vm, db, &class, &props)?;
            let changed = core(vm, db.set(&class, &id, values))?;
            crate::convert::values_to_dict(vm, &changed)
        })
    }

    #[pyfunction]
    fn create(class: String, props: PyObjectRef, vm: &VirtualMachine) -> PyResult<String> {
        live(vm, "create()", |db| {
            let values = values_of(vm, db, &class, &props)?;
            core(vm, db.create(&class, values))
        })
    }

    #[pyfunction]
    fn lookup(class: String, key: String, vm: &VirtualMachine) -> PyResult<String> {
        live(vm, "lookup()", |db| match db.lookup(&class, &key) {
            Ok(id) => Ok(id),
            Err(Error::NoSuchKey { .. }) => {
                Err(vm.new_key_error(vm.ctx.new_str(key.as_str()).into()))
            }
            Err(e) => Err(py_err(vm, e)),
        })
    }

    /// find(class, [(prop, [ids])]).
    /// The options dict of `nosymessage`/`send_message` (see hyperdb.py).
    fn nosy_options(
        vm: &VirtualMachine,
        obj: &PyObjectRef,
    ) -> PyResult<roundup_core::nosy::NosyOptions> {
        let mut o = roundup_core::nosy::NosyOptions::default();
        let pairs = dict_pairs(vm, "nosy options", obj).map_err(|m| make_exc(vm, "type", &m))?;
        let bad = |k: &str, r: &Raw| {
            make_exc(
                vm,
                "type",
                &format!("nosymessage(): {k} cannot be {}", r.describe()),
            )
        };
        for (k, v) in pairs {
            let r = raw(vm, &v)?;
            let text = |r: &Raw| match r {
                Raw::None => Ok(None),
                Raw::Str(s) => Ok(Some(s.clone())),
                other => Err(bad(&k, other)),
            };
            let list = |r: &Raw| r.str_list().ok_or_else(|| bad(&k, r));
            match k.as_str() {
                "whichnosy" => o.whichnosy = text(&r)?,
                "from_address" => o.from_address = text(&r)?,
                "subject" => o.subject = text(&r)?,
                "note" => o.note = text(&r)?,
                "authid" => o.authid = text(&r)?,
                "crypt" => o.crypt = matches!(r, Raw::Bool(true)),
                "cc" => o.cc = list(&r)?,
                "bcc" => o.bcc = list(&r)?,
                "cc_emails" => o.cc_emails = list(&r)?,
                "bcc_emails" => o.bcc_emails = list(&r)?,
                "add_headers" => {
                    let Raw::Seq(items) = &r else {
                        return Err(bad(&k, &r));
                    };
                    for item in items {
                        match item.str_list().as_deref() {
                            Some([name, value]) => {
                                o.add_headers.push((name.clone(), value.clone()))
                            }
                            _ => return Err(bad(&k, item)),
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(o)
    }

    fn old_values(
        vm: &VirtualMachine,
        db: &roundup_core::Db,
        class: &str,
        old: &Option<PyObjectRef>,
    ) -> PyResult<Option<roundup_core::Values>> {
        match old {
            Some(o) if !vm.is_none(o) => Ok(Some(values_of(vm, db, class, o)?)),
            _ => Ok(None),
        }
    }

    /// nosymessage(class, id, msgid|None, oldvalues|None, options)
    #[pyfunction]
    fn nosymessage(
        class: String,
        id: String,
        msgid: Option<String>,
        oldvalues: Option<PyObjectRef>,
        options: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        live(vm, "nosymessage()", |db| {
            let opts = nosy_options(vm, &options)?;
            let old = old_values(vm, db, &class, &oldvalues)?;
            core(
                vm,
                roundup_core::nosy::nosymessage(
                    db,
                    &class,
                    &id,
                    msgid.as_deref(),
                    old.as_ref(),
                    &opts,
                ),
            )
        })
    }

    /// send_message(class, id, msgid|None, sendto, bcc_sendto, options)
    #[pyfunction]
    fn send_message(
        class: String,
        id: String,
        msgid: Option<String>,
        sendto: Vec<String>,
        bcc: Vec<String>,
        options: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<()> {
        live(vm, "send_message()", |db| {
            let opts = nosy_options(vm, &options)?;
            let note = opts.note.clone().unwrap_or_default();
            core(
                vm,
                roundup_core::nosy::send_message(
                    db,
                    &class,
                    &id,
                    msgid.as_deref(),
                    &note,
                    sendto,
                    bcc,
                    &opts,
                ),
            )
        })
    }

    #[pyfunction]
    fn create_note(class: String, id: String, vm: &VirtualMachine) -> PyResult<String> {
        live(vm, "generateCreateNote()", |db| {
            core(vm, roundup_core::nosy::create_note(db, &class, &id))
        })
    }

    #[pyfunction]
    fn change_note(
        class: String,
        id: String,
        oldvalues: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<String> {
        live(vm, "generateChangeNote()", |db| {
            let old = values_of(vm, db, &class, &oldvalues)?;
            core(vm, roundup_core::nosy::change_note(db, &class, &id, &old))
        })
    }

    #[pyfunction]
    fn find(class: String, spec: Vec<PyObjectRef>, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        live(vm, "find()", |db| {
            let mut owned: Vec<(String, Vec<String>)> = Vec::new();
            for item in &spec {
                let parts = tuple_items(item);
                let (Some(p), Some(v)) = (parts.first().and_then(pystr), parts.get(1)) else {
                    return Err(make_exc(vm, "type", "find(): bad argument"));
                };
                let ids = match raw(vm, v)? {
                    Raw::None => vec!["-1".to_string()],
                    r => r.str_list().ok_or_else(|| {
                        make_exc(
                            vm,
                            "type",
                            &format!("find(): {p} wants an id or a list of ids"),
                        )
                    })?,
                };
                owned.push((p, ids));
            }
            let spec_ref: Vec<(&str, Vec<String>)> =
                owned.iter().map(|(p, v)| (p.as_str(), v.clone())).collect();
            Ok(strs(vm, &core(vm, db.find(&class, &spec_ref))?))
        })
    }

    /// stringFind(class, [(prop, str)]).
    #[pyfunction]
    fn stringfind(
        class: String,
        spec: Vec<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        live(vm, "stringFind()", |db| {
            let mut owned: Vec<(String, String)> = Vec::new();
            for item in &spec {
                let parts = tuple_items(item);
                let (Some(p), Some(v)) =
                    (parts.first().and_then(pystr), parts.get(1).and_then(pystr))
                else {
                    return Err(make_exc(vm, "type", "stringFind(): values must be str"));
                };
                owned.push((p, v));
            }
            let spec_ref: Vec<(&str, &str)> = owned
                .iter()
                .map(|(p, v)| (p.as_str(), v.as_str()))
                .collect();
            Ok(strs(vm, &core(vm, db.stringfind(&class, &spec_ref))?))
        })
    }

    fn spec_list(
        vm: &VirtualMachine,
        what: &str,
        v: &PyObjectRef,
    ) -> PyResult<Vec<(String, SpecValue)>> {
        if vm.is_none(v) {
            return Ok(Vec::new());
        }
        let pairs = dict_pairs(vm, what, v).map_err(|m| make_exc(vm, "type", &m))?;
        let mut out = Vec::new();
        for (prop, val) in pairs {
            let vals = match raw(vm, &val)? {
                Raw::Bool(b) => vec![if b { "1" } else { "0" }.to_string()],
                Raw::Float(f) => vec![f.to_string()],
                Raw::Tagged(_, s) => vec![s],
                other => other.str_list().ok_or_else(|| {
                    make_exc(
                        vm,
                        "type",
                        &format!(
                            "{what}: the value for {prop} must be a str or a list of str, not {}",
                            other.describe()
                        ),
                    )
                })?,
            };
            let v = match vals.as_slice() {
                [one] => SpecValue::One(one.clone()),
                _ => SpecValue::Many(vals),
            };
            out.push((prop, v));
        }
        Ok(out)
    }

    fn sort_list(
        vm: &VirtualMachine,
        what: &str,
        v: &PyObjectRef,
    ) -> PyResult<Vec<(Option<Direction>, String)>> {
        let r = raw(vm, v)?;
        let items = match r {
            Raw::None => return Ok(Vec::new()),
            Raw::Seq(items) => items,
            other => {
                return Err(make_exc(
                    vm,
                    "type",
                    &format!(
                        "{what}: expected ('+' or '-', property) pairs, got {}",
                        other.describe()
                    ),
                ))
            }
        };
        // a single ('+', 'prop') pair or a list of them
        let pairs: Vec<Raw> = match items.as_slice() {
            [Raw::Str(_), Raw::Str(_)] => vec![Raw::Seq(items.clone())],
            _ => items,
        };
        let mut out = Vec::new();
        for pair in pairs {
            match pair {
                Raw::Seq(p) if p.len() == 2 => {
                    let dir = match &p[0] {
                        Raw::Str(s) if s == "-" => Some(Direction::Desc),
                        Raw::Str(s) if s == "+" => Some(Direction::Asc),
                        Raw::None => None,
                        other => {
                            return Err(make_exc(
                                vm,
                                "type",
                                &format!(
                                    "{what}: direction must be '+' or '-', not {}",
                                    other.describe()
                                ),
                            ))
                        }
                    };
                    match &p[1] {
                        Raw::Str(s) => out.push((dir, s.clone())),
                        Raw::None => {}
                        other => {
                            return Err(make_exc(
                                vm,
                                "type",
                                &format!(
                                    "{what}: property name expected, got {}",
                                    other.describe()
                                ),
                            ))
                        }
                    }
                }
                other => {
                    return Err(make_exc(
                        vm,
                        "type",
                        &format!(
                            "{what}: expected ('+' or '-', property) pairs, got {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// filter(class, search_matches, filterspec, exact_match_spec,
    /// (sort, group), retired, (limit, offset)).
    #[pyfunction]
    #[allow(clippy::too_many_arguments)]
    fn filter(
        class: String,
        search_matches: PyObjectRef,
        filterspec: PyObjectRef,
        exact_match_spec: PyObjectRef,
        sort_group: PyObjectRef,
        retired: PyObjectRef,
        window: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        let sg = tuple_items(&sort_group);
        let (sort, group) = match sg.as_slice() {
            [s, g] => (s.clone(), g.clone()),
            _ => (vm.ctx.none(), vm.ctx.none()),
        };
        let win = tuple_items(&window);
        let num = |o: Option<&PyObjectRef>| -> PyResult<Option<u64>> {
            match o {
                Some(o) if !vm.is_none(o) => match raw(vm, o)? {
                    Raw::Int(i) if i >= 0 => Ok(Some(i as u64)),
                    other => Err(make_exc(
                        vm,
                        "type",
                        &format!(
                            "filter(): limit and offset must be non-negative ints, not {}",
                            other.describe()
                        ),
                    )),
                },
                _ => Ok(None),
            }
        };
        let (limit, offset) = (num(win.first())?, num(win.get(1))?);
        let search = match raw(vm, &search_matches)? {
            Raw::None => None,
            r => Some(r.str_list().ok_or_else(|| {
                make_exc(
                    vm,
                    "type",
                    "filter(): search_matches must be None or a list of ids",
                )
            })?),
        };
        let search = match search {
            Some(ids) => Some(Arc::new(core(
                vm,
                roundup_core::filter::IdSet::parse(&class, &ids),
            )?)),
            None => None,
        };
        let spec = FilterSpec {
            search_matches: search,
            filterspec: spec_list(vm, "filterspec", &filterspec)?,
            exact_match: spec_list(vm, "exact_match_spec", &exact_match_spec)?,
            sort: sort_list(vm, "sort", &sort)?,
            group: sort_list(vm, "group", &group)?,
            retired: if vm.is_none(&retired) {
                None
            } else {
                Some(retired.try_to_bool(vm)?)
            },
            limit,
            offset: offset.filter(|o| *o > 0),
        };
        live(vm, "filter()", |db| {
            Ok(strs(vm, &core(vm, db.filter(&class, &spec))?))
        })
    }

    #[pyfunction]
    fn list(class: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        live(vm, "list()", |db| Ok(strs(vm, &core(vm, db.list(&class))?)))
    }

    #[pyfunction]
    fn getnodeids(
        class: String,
        retired: Option<bool>,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        live(vm, "getnodeids()", |db| {
            Ok(strs(vm, &core(vm, db.getnodeids(&class, retired))?))
        })
    }

    #[pyfunction]
    fn count(class: String, vm: &VirtualMachine) -> PyResult<u64> {
        live(vm, "count()", |db| core(vm, db.count(&class)))
    }

    #[pyfunction]
    fn hasnode(class: String, id: String, vm: &VirtualMachine) -> PyResult<bool> {
        live(vm, "hasnode()", |db| core(vm, db.has_node(&class, &id)))
    }

    #[pyfunction]
    fn retire(class: String, id: String, vm: &VirtualMachine) -> PyResult<()> {
        live(vm, "retire()", |db| core(vm, db.retire(&class, &id)))
    }

    #[pyfunction]
    fn restore(class: String, id: String, vm: &VirtualMachine) -> PyResult<()> {
        live(vm, "restore()", |db| core(vm, db.restore(&class, &id)))
    }

    #[pyfunction]
    fn is_retired(class: String, id: String, vm: &VirtualMachine) -> PyResult<bool> {
        live(vm, "is_retired()", |db| {
            core(vm, db.is_retired(&class, &id))
        })
    }

    /// [(nodeid, date, tag, action, params as Python literal text)].
    #[pyfunction]
    fn history(class: String, id: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        live(vm, "history()", |db| {
            let entries = core(vm, db.history(&class, &id))?;
            let list = entries
                .iter()
                .map(|e| {
                    vm.ctx
                        .new_tuple(vec![
                            vm.ctx.new_str(e.nodeid.as_str()).into(),
                            vm.ctx.new_str(e.date.serialise()).into(),
                            vm.ctx.new_str(e.tag.as_str()).into(),
                            vm.ctx.new_str(e.action.as_str()).into(),
                            vm.ctx.new_str(roundup_core::pyrepr::repr(&e.params)).into(),
                        ])
                        .into()
                })
                .collect();
            Ok(vm.ctx.new_list(list).into())
        })
    }

    /// The text of a file item's content.
    #[pyfunction]
    fn file_content(class: String, id: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        live(vm, "content", |db| {
            let bytes = core(vm, db.file_content(&class, &id))?;
            Ok(match String::from_utf8(bytes) {
                Ok(s) => vm.ctx.new_str(s).into(),
                Err(e) => vm.ctx.new_bytes(e.into_bytes()).into(),
            })
        })
    }

    // ------------------------------------------------------------- dates

    fn tz_of(vm: &VirtualMachine, offset: &OptionalArg<PyObjectRef>) -> PyResult<Timezone> {
        match offset {
            OptionalArg::Present(o) if !vm.is_none(o) => {
                let text = match raw(vm, o)? {
                    Raw::Str(s) => s,
                    Raw::Int(i) => i.to_string(),
                    Raw::Float(f) => f.to_string(),
                    other => {
                        return Err(make_exc(
                            vm,
                            "value",
                            &format!("bad time zone {}", other.describe()),
                        ))
                    }
                };
                Timezone::parse(&text).map_err(|e| make_exc(vm, "value", &e.to_string()))
            }
            // the user's zone in a live database, else UTC
            _ => Ok(crate::engine::with_ctx(|c| match c.map(|c| &c.phase) {
                Some(Phase::Live(db)) => db.user_timezone().unwrap_or(Timezone::Utc),
                _ => Timezone::Utc,
            })),
        }
    }

    /// A date spec (Roundup's forms, "." for now, intervals from now) as
    /// a serialised UTC date.
    #[pyfunction]
    fn date_parse(
        spec: String,
        offset: OptionalArg<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult<String> {
        let tz = tz_of(vm, &offset)?;
        crate::convert::parse_date(&spec, &tz)
            .map(|d| d.serialise())
            .map_err(|m| make_exc(vm, "value", &m))
    }

    fn date(vm: &VirtualMachine, s: &str) -> PyResult<Date> {
        Date::from_serialised(s).map_err(|e| make_exc(vm, "value", &format!("bad date {s:?}: {e}")))
    }

    fn interval(vm: &VirtualMachine, s: &str) -> PyResult<Interval> {
        Interval::from_serialised(s)
            .or_else(|_| Interval::parse(s))
            .map_err(|e| make_exc(vm, "value", &format!("bad interval {s:?}: {e}")))
    }

    /// Date arithmetic: op is "add" or "sub" (date ± interval) or "diff"
    /// (date - date → interval).
    #[pyfunction]
    fn date_op(op: String, a: String, b: String, vm: &VirtualMachine) -> PyResult<String> {
        let d = date(vm, &a)?;
        match op.as_str() {
            "add" => Ok(d.add(&interval(vm, &b)?).serialise()),
            "sub" => Ok(d.sub(&interval(vm, &b)?).serialise()),
            "diff" => Ok(d.diff(&date(vm, &b)?).serialise()),
            other => Err(make_exc(
                vm,
                "value",
                &format!("unknown date operation {other}"),
            )),
        }
    }

    /// A date shown: "pretty" (Roundup's pretty(), with an optional
    /// strftime format), "formal", "iso", "timestamp", or "fields" (a
    /// tuple year, month, day, hour, minute, second in the zone).
    #[pyfunction]
    fn date_show(
        what: String,
        serial: String,
        arg: Option<String>,
        offset: OptionalArg<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        let d = date(vm, &serial)?;
        let tz = tz_of(vm, &offset)?;
        Ok(match what.as_str() {
            "pretty" => vm.ctx.new_str(d.pretty(&tz, arg.as_deref())).into(),
            "formal" => vm.ctx.new_str(d.formal(&tz)).into(),
            "iso" => vm.ctx.new_str(d.iso()).into(),
            "timestamp" => vm.ctx.new_float(d.timestamp()).into(),
            "fields" => {
                use chrono::{Datelike, Timelike};
                let l = d.local(&tz);
                let f = [
                    i64::from(l.year()),
                    i64::from(l.month()),
                    i64::from(l.day()),
                    i64::from(l.hour()),
                    i64::from(l.minute()),
                    i64::from(l.second()),
                ];
                vm.ctx
                    .new_tuple(f.iter().map(|v| vm.ctx.new_int(*v).into()).collect())
                    .into()
            }
            other => return Err(make_exc(vm, "value", &format!("unknown date view {other}"))),
        })
    }

    /// An interval spec normalised to Roundup's serialised form.
    #[pyfunction]
    fn interval_parse(spec: String, vm: &VirtualMachine) -> PyResult<String> {
        Interval::parse(&spec)
            .map(|i| i.serialise())
            .map_err(|e| make_exc(vm, "value", &format!("bad interval {spec:?}: {e}")))
    }

    /// (sign, years, months, days, hours, minutes, seconds) of an interval.
    #[pyfunction]
    fn interval_fields(serial: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        let i = interval(vm, &serial)?;
        let (s, y, m, d, h, mi, se) = i.fields();
        Ok(vm
            .ctx
            .new_tuple(
                [i64::from(s), y, m, d, h, mi, se]
                    .iter()
                    .map(|v| vm.ctx.new_int(*v).into())
                    .collect(),
            )
            .into())
    }

    /// Whether a time zone name or offset is valid.
    #[pyfunction]
    fn valid_timezone(name: String) -> bool {
        Timezone::parse(&name).is_ok()
    }

    // --------------------------------------------------------- passwords

    /// Hash a clear-text password with the tracker's scheme (or `scheme`).
    #[pyfunction]
    fn password_hash(
        plain: String,
        scheme: Option<String>,
        vm: &VirtualMachine,
    ) -> PyResult<String> {
        let (default_scheme, rounds) = crate::engine::with_ctx(|c| match c.map(|c| &c.phase) {
            Some(Phase::Live(db)) => (db.options().password_scheme, db.options().password_rounds),
            _ => (Scheme::Pbkdf2S5, 10_000),
        });
        let scheme = match scheme {
            Some(s) => Scheme::parse(&s)
                .ok_or_else(|| make_exc(vm, "value", &format!("unknown password scheme {s:?}")))?,
            None => default_scheme,
        };
        roundup_core::password::Password::try_hash(&plain, scheme, rounds)
            .map(|p| p.as_str().to_string())
            .map_err(|e| make_exc(vm, "value", &e.to_string()))
    }

    /// Whether `plain` matches the stored hash.
    #[pyfunction]
    fn password_verify(stored: String, plain: String) -> bool {
        roundup_core::password::Password::from_encrypted(&stored)
            .map(|p| p.verify(&plain))
            .unwrap_or(false)
    }

    /// The watchdog (a trace function, see engine.rs): stops tracker code
    /// that has run past its time with TimeoutError.
    #[pyfunction]
    fn watchdog(
        _frame: PyObjectRef,
        _event: PyObjectRef,
        _arg: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        super::check_deadline(vm)?;
        // go on tracing this frame's lines
        crate::engine::watchdog_fn(vm, crate::engine::Watch::Lines)
    }

    /// The watchdog that sees function calls only (no line events).
    #[pyfunction]
    fn watchdog_calls(
        _frame: PyObjectRef,
        _event: PyObjectRef,
        _arg: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        super::check_deadline(vm)?;
        Ok(vm.ctx.none())
    }

    /// Whether a str names a property type this module knows (for
    /// messages from Python).
    #[pyfunction]
    fn is_prop_type(name: String) -> bool {
        ptype_of(&name).is_some()
    }

    // ---------------------------------------------- template objects

    /// `obj.name` of a template object an extension function was given.
    #[pyfunction]
    fn tpl_getattr(handle: usize, name: String, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        crate::tplobj::getattr(vm, handle, &name)
    }

    /// `obj[key]`.
    #[pyfunction]
    fn tpl_getitem(handle: usize, key: PyObjectRef, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        crate::tplobj::getitem(vm, handle, &key)
    }

    /// `obj(*args, **kwargs)`.
    #[pyfunction]
    fn tpl_call(
        handle: usize,
        args: PyObjectRef,
        kwargs: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<PyObjectRef> {
        crate::tplobj::call(vm, handle, &args, &kwargs)
    }

    /// `str(obj)`.
    #[pyfunction]
    fn tpl_str(handle: usize, vm: &VirtualMachine) -> PyResult<String> {
        crate::tplobj::text(vm, handle)
    }

    /// `bool(obj)`.
    #[pyfunction]
    fn tpl_bool(handle: usize, vm: &VirtualMachine) -> PyResult<bool> {
        crate::tplobj::truth(vm, handle)
    }

    /// `list(obj)`.
    #[pyfunction]
    fn tpl_items(handle: usize, vm: &VirtualMachine) -> PyResult<PyObjectRef> {
        crate::tplobj::items(vm, handle)
    }
}
