//! Runs a tracker home's Python — `schema.py`, `detectors/*.py`,
//! `initial_data.py` — as Roundup does, on an embedded Python 3
//! interpreter (RustPython), with a `roundup` package whose modules give
//! tracker code Roundup's API over the Rust core.
//!
//! # What tracker code sees
//!
//! * `schema.py` runs with `db`, `Class`, `IssueClass`, `FileClass`,
//!   `String`, `Password`, `Date`, `Interval`, `Link`, `Multilink`,
//!   `Boolean`, `Number` and `Integer` in its namespace, as in Roundup.
//! * Each `detectors/*.py` file is run as a module and its `init(db)` is
//!   called; `db.<class>.audit(event, fn, priority=100)` and `.react(...)`
//!   register detectors. The detectors folder is on `sys.path` while they
//!   load, so detectors may import each other.
//! * `initial_data.py` runs with `db`, `adminpw` and `admin_email`.
//! * Each `extensions/*.py` file is run and its `init(instance)` called;
//!   `instance.registerUtil(name, fn)` / `registerUtilMethod` make
//!   `utils.<name>` for templates ([`load_extensions`]);
//!   `registerAction(name, ActionClass)` adds a web action the web front
//!   end runs before its own ([`roundup_core::extensions::WebAction`]).
//! * `interfaces.py` runs; the methods of its `TemplatingUtils` subclass
//!   are template utils ([`load_interfaces`]).
//! * `from roundup import hyperdb, roundupdb, date, password,
//!   configuration, exceptions, mailgw` work, with the names tracker code
//!   uses from them (see the Python sources under `python/roundup`).
//! * The standard library is there (`re`, `datetime`, `time`, `os.path`,
//!   `logging`, `json`, `email`, ...).
//!
//! # Errors
//!
//! `raise Reject(...)` (or any subclass) and `raise ValueError(...)` in an
//! auditor refuse the change with [`Error::Reject`] / [`Error::Value`] and
//! the bare message, as Roundup shows it. A database error inside a
//! detector's nested call leaves Python unchanged (a busy database stays
//! busy to the caller). Any other exception fails the change with
//! [`Error::Script`] naming file and line, with the traceback. A detector
//! file that does not load (syntax error, failing `init`) does not take the
//! tracker down: it is reported, and every change the tracker would make
//! fails with that report until it is fixed, while reading keeps working.
//!
//! # The watchdog
//!
//! A call into tracker code that runs longer than
//! `ROUNDUP_SCRIPT_TIME_LIMIT` seconds (60 by default, 0 = no limit;
//! [`set_time_limit`]) is stopped with `TimeoutError`, reported as a script
//! error with file and line. Scripts and detectors are watched at every
//! line; permission checks, filters and template utils, which index pages
//! call per row, at function calls and database calls only.
//!
//! # Threads
//!
//! One interpreter per process; each thread gets its own virtual machine
//! of it (see [`engine`]). Scripts are compiled and run once when the
//! tracker is opened; the functions they define are kept and called per
//! change.

mod config;
mod convert;
mod engine;
mod hooks;
mod native;
mod sandbox;
mod tplobj;

use std::cell::RefCell;
use std::sync::Arc;

use roundup_core::detectors::{Detectors, Op};
use roundup_core::schema::Schema;
use roundup_core::security::Security;
use roundup_core::{Db, Error, Result};
use rustpython_vm::AsObject;

pub use config::{ConfigView, ValueKind};
pub use engine::{set_thread_time_limit, set_time_limit, time_limit};
pub use sandbox::{host_access, set_host_access};

use engine::{
    db_object, enter, exec, helper, new_scope, set_global, to_core, Ctx, Phase, SchemaState, Watch,
};
use hooks::{BrokenDetector, PyDetector};

/// The names `schema.py` finds defined, as in Roundup's `instance.open`.
const SCHEMA_NAMES: [&str; 12] = [
    "Class",
    "IssueClass",
    "FileClass",
    "String",
    "Password",
    "Date",
    "Interval",
    "Link",
    "Multilink",
    "Boolean",
    "Number",
    "Integer",
];

/// Evaluate `schema.py`: the schema (after `Schema::finish`) and the
/// security definitions (starting from `Security::with_builtins`).
pub fn load_schema(label: &str, source: &str, config: &ConfigView) -> Result<(Schema, Security)> {
    let ctx = Ctx {
        watch: Watch::Lines,
        label: label.to_string(),
        config: Arc::new(config.clone()),
        phase: Phase::Schema(RefCell::new(SchemaState {
            schema: Schema::new(),
            security: Security::with_builtins(),
            checks: Vec::new(),
        })),
    };
    enter(&ctx, |vm| {
        let run = || {
            let scope = new_scope(vm, "__tracker_schema__", label)?;
            let hyperdb = engine::import_module(vm, "roundup.hyperdb")?;
            for name in SCHEMA_NAMES {
                set_global(vm, &scope.globals, name, hyperdb.get_attr(name, vm)?)?;
            }
            set_global(vm, &scope.globals, "db", db_object(vm)?)?;
            exec(vm, label, source, scope)
        };
        run().map_err(|e| to_core(vm, label, e))
    })?;
    let Phase::Schema(state) = ctx.phase else {
        return Err(Error::Script(format!("{label}: internal: wrong phase")));
    };
    let mut state = state.into_inner();
    state.schema.finish().map_err(|e| match e {
        Error::Schema(m) => Error::Schema(format!("{label}: {m}")),
        other => other,
    })?;
    Ok((state.schema, state.security))
}

/// A context for loading a file that registers things (detectors,
/// extensions) against a finished schema.
fn init_ctx<'a>(
    label: &str,
    config: &Arc<ConfigView>,
    schema: &'a Schema,
    security: &'a Security,
) -> Ctx<'a> {
    Ctx {
        watch: Watch::Lines,
        label: label.to_string(),
        config: config.clone(),
        phase: Phase::Init {
            schema,
            security,
            regs: RefCell::new(Vec::new()),
            ext: RefCell::new(Vec::new()),
        },
    }
}

/// Run a detector or extension file as a module named after it and call
/// its `init(arg)`; a file without `init` is refused, naming what it must
/// define.
fn run_with_init(
    vm: &rustpython_vm::VirtualMachine,
    label: &str,
    source: &str,
    arg: rustpython_vm::PyObjectRef,
    missing: &str,
) -> rustpython_vm::PyResult<()> {
    let stem = std::path::Path::new(label)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scope = new_scope(vm, &stem, label)?;
    exec(vm, label, source, scope.clone())?;
    match scope.globals.get_item_opt("init", vm)? {
        Some(init) => {
            init.call((arg,), vm)?;
            Ok(())
        }
        None => Err(native::make_exc(vm, "runtime", missing)),
    }
}

/// Run each detector file (label, source) and call its `init(db)`; returns
/// the auditors and reactors registered. A file that fails to load is
/// reported on stderr and turns into an auditor that refuses every change
/// with the report (see the crate documentation).
pub fn load_detectors(
    files: &[(String, String)],
    schema: &Schema,
    security: &Security,
    config: &ConfigView,
) -> Result<Detectors> {
    let config = Arc::new(config.clone());
    let mut detectors = Detectors::new();
    let dirs: Vec<String> = files
        .iter()
        .filter_map(|(l, _)| {
            std::path::Path::new(l)
                .parent()
                .map(|p| p.display().to_string())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for (label, source) in files {
        let ctx = init_ctx(label, &config, schema, security);
        let loaded = enter(&ctx, |vm| {
            let run = || -> rustpython_vm::PyResult<()> {
                let list: Vec<rustpython_vm::PyObjectRef> = dirs
                    .iter()
                    .map(|d| vm.ctx.new_str(d.as_str()).into())
                    .collect();
                helper(vm, "push_path")?.call((vm.ctx.new_list(list.clone()),), vm)?;
                sandbox::set_import_dirs(&dirs);
                let result = run_with_init(
                    vm,
                    label,
                    source,
                    db_object(vm)?,
                    "a detector must define init(db), which registers its auditors and reactors",
                );
                helper(vm, "pop_path")?.call((vm.ctx.new_list(list),), vm)?;
                sandbox::set_import_dirs(&[]);
                result
            };
            run().map_err(|e| engine::to_core_located(vm, label, e))
        });
        match loaded {
            Ok(()) => {
                let Phase::Init { regs, .. } = ctx.phase else {
                    return Err(Error::Script(format!("{label}: internal: wrong phase")));
                };
                for reg in regs.into_inner() {
                    let det = Arc::new(PyDetector {
                        label: label.clone(),
                        name: reg.name,
                        config: config.clone(),
                        func: reg.func,
                    });
                    if reg.reactor {
                        detectors.add_reactor(&reg.class, reg.op, reg.priority, det);
                    } else {
                        detectors.add_auditor(&reg.class, reg.op, reg.priority, det);
                    }
                }
            }
            Err(e) => {
                let message = format!("detector {label} could not be loaded: {e}");
                eprintln!("{message}");
                let broken = Arc::new(BrokenDetector { message });
                for class in schema.classes.keys() {
                    for op in [Op::Create, Op::Set, Op::Retire, Op::Restore] {
                        detectors.add_auditor(class, op, i64::MIN, broken.clone());
                    }
                }
            }
        }
    }
    Ok(detectors)
}

/// Run `initial_data.py` against an open database (which should act as
/// the admin user), with `db`, `adminpw` and `admin_email` predefined. The
/// caller commits.
pub fn run_initial_data(
    label: &str,
    source: &str,
    db: &Db,
    adminpw: &str,
    admin_email: &str,
) -> Result<()> {
    let ctx = Ctx {
        watch: Watch::Lines,
        label: label.to_string(),
        config: Arc::new(ConfigView::new()),
        phase: Phase::Live(db),
    };
    enter(&ctx, |vm| {
        let run = || {
            let scope = new_scope(vm, "__tracker_initial_data__", label)?;
            set_global(vm, &scope.globals, "db", db_object(vm)?)?;
            set_global(
                vm,
                &scope.globals,
                "adminpw",
                vm.ctx.new_str(adminpw).into(),
            )?;
            set_global(
                vm,
                &scope.globals,
                "admin_email",
                vm.ctx.new_str(admin_email).into(),
            )?;
            exec(vm, label, source, scope)
        };
        run().map_err(|e| to_core(vm, label, e))
    })
}

/// Run Python source with a live database (tests and `roundup-admin`
/// tools); returns `repr()` of the value of the last expression statement
/// named `result`, if the code sets one.
pub fn run_live(label: &str, source: &str, db: &Db, config: &ConfigView) -> Result<Option<String>> {
    let ctx = Ctx {
        watch: Watch::Lines,
        label: label.to_string(),
        config: Arc::new(config.clone()),
        phase: Phase::Live(db),
    };
    enter(&ctx, |vm| {
        let run = || {
            let scope = new_scope(vm, "__main__", label)?;
            set_global(vm, &scope.globals, "db", db_object(vm)?)?;
            exec(vm, label, source, scope.clone())?;
            match scope.globals.get_item_opt("result", vm)? {
                Some(v) => Ok(Some(v.as_object().repr(vm)?.to_string_lossy().into_owned())),
                None => Ok(None),
            }
        };
        run().map_err(|e| to_core(vm, label, e))
    })
}

/// Run each extension file (label, source) of `extensions/` and call its
/// `init(instance)`, as Roundup does; returns what they registered.
/// `instance` offers `registerUtil`, `registerUtilMethod`,
/// `registerAction`, `config` and `tracker_home`.
pub fn load_extensions(
    files: &[(String, String)],
    home: &str,
    schema: &Schema,
    security: &Security,
    config: &ConfigView,
) -> Result<roundup_core::extensions::Extensions> {
    let config = Arc::new(config.clone());
    let mut out = roundup_core::extensions::Extensions::default();
    for (label, source) in files {
        let ctx = init_ctx(label, &config, schema, security);
        enter(&ctx, |vm| {
            let run = || -> rustpython_vm::PyResult<()> {
                let instance = helper(vm, "Instance")?.call((home.to_string(),), vm)?;
                run_with_init(
                    vm,
                    label,
                    source,
                    instance,
                    "an extension must define init(instance)",
                )
            };
            run().map_err(|e| engine::to_core_located(vm, label, e))
        })?;
        let Phase::Init { ext, .. } = ctx.phase else {
            return Err(Error::Script(format!("{label}: internal: wrong phase")));
        };
        for reg in ext.into_inner() {
            match reg.kind {
                "action" => {
                    out.actions.insert(
                        reg.name.to_lowercase(),
                        Arc::new(hooks::PyAction {
                            label: label.clone(),
                            name: reg.name,
                            config: config.clone(),
                            class: reg.func,
                        }),
                    );
                }
                kind => {
                    out.utils.insert(
                        reg.name.clone(),
                        Arc::new(hooks::PyUtil {
                            label: label.clone(),
                            name: reg.name,
                            config: config.clone(),
                            func: reg.func,
                            method: kind == "utilmethod",
                        }),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Run the home's `interfaces.py` (label, source) as Roundup does: the
/// public methods its `TemplatingUtils` subclass adds become
/// `utils.<name>` for templates (as `registerUtilMethod` would make them);
/// `Client` and `MailGW` subclasses load but are not used by our front
/// ends, and are named in `unused` for the tracker to say so.
pub fn load_interfaces(
    label: &str,
    source: &str,
    schema: &Schema,
    security: &Security,
    config: &ConfigView,
    out: &mut roundup_core::extensions::Extensions,
) -> Result<()> {
    let config = Arc::new(config.clone());
    let ctx = init_ctx(label, &config, schema, security);
    let (utils, unused) = enter(&ctx, |vm| {
        let run = || -> rustpython_vm::PyResult<_> {
            let scope = new_scope(vm, "interfaces", label)?;
            exec(vm, label, source, scope.clone())?;
            let r = helper(vm, "interface_utils")?.call((scope.globals.clone(),), vm)?;
            let parts = vm.extract_elements_with(&r, Ok)?;
            let [utils, unused] = parts.as_slice() else {
                return Err(native::make_exc(vm, "runtime", "internal: interface_utils"));
            };
            let mut found = Vec::new();
            for pair in vm.extract_elements_with(utils, Ok)? {
                let item = vm.extract_elements_with(&pair, Ok)?;
                if let [name, func] = item.as_slice() {
                    let name: String = name.clone().try_into_value(vm)?;
                    found.push((name, func.clone()));
                }
            }
            let unused: Vec<String> = vm.extract_elements_with(unused, |o| o.try_into_value(vm))?;
            Ok((found, unused))
        };
        run().map_err(|e| engine::to_core_located(vm, label, e))
    })?;
    for (name, func) in utils {
        out.utils.insert(
            name.clone(),
            Arc::new(hooks::PyUtil {
                label: label.to_string(),
                name,
                config: config.clone(),
                func,
                method: false,
            }),
        );
    }
    out.unused
        .extend(unused.into_iter().map(|n| format!("{label}: {n}")));
    Ok(())
}
