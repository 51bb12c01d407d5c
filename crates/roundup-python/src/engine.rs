//! The interpreter, the per-thread virtual machines and the phase a call
//! runs in.
//!
//! One interpreter serves the whole process (every tracker it opens). Each
//! OS thread that calls into Python gets its own virtual machine of that
//! interpreter, made on first use; module objects and functions are shared.
//! Native functions of `_roundup` find the tracker they act for through the
//! thread's *context stack*: every entry into Python pushes a [`Ctx`] (the
//! phase — schema, detector init or live database — plus the tracker's
//! config) and pops it on the way out, so a detector that calls
//! `db.issue.set(...)`, which runs more detectors, nests cleanly.

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use roundup_core::detectors::Op;
use roundup_core::schema::Schema;
use roundup_core::security::Security;
use roundup_core::{Db, Error, Result};
use rustpython_vm::builtins::{PyBaseExceptionRef, PyDictRef};
use rustpython_vm::compiler::Mode;
use rustpython_vm::scope::Scope;
use rustpython_vm::vm::thread::ThreadedVirtualMachine;
use rustpython_vm::{
    AsObject, Interpreter, InterpreterBuilder, PyObjectRef, PyResult, Settings, VirtualMachine,
};

use crate::config::ConfigView;
use crate::hooks::PyCheck;

/// The Python sources of the `roundup` package, compiled into the binary.
static ROUNDUP_PACKAGE: &rustpython_vm::frozen::FrozenLib =
    rustpython_vm::py_freeze!(dir = "../python");

/// The set-up module of an interpreter without host access (sandbox.rs).
static SANDBOX_PACKAGE: &rustpython_vm::frozen::FrozenLib =
    rustpython_vm::py_freeze!(dir = "../python-sandbox");

/// A detector registration made by a detector's `init(db)`.
pub(crate) struct Registration {
    /// The function's name (for messages).
    pub name: String,
    pub class: String,
    pub op: Op,
    pub priority: i64,
    pub reactor: bool,
    pub func: PyObjectRef,
}

/// A registration made by an extension's `init(instance)`.
pub(crate) struct ExtRegistration {
    pub name: String,
    /// "util", "utilmethod" or "action".
    pub kind: &'static str,
    pub func: PyObjectRef,
}

/// What schema.py builds.
pub(crate) struct SchemaState {
    pub schema: Schema,
    pub security: Security,
    /// Check functions made so far, so that one Python function used in
    /// several permissions is one check.
    pub checks: Vec<(PyObjectRef, Arc<PyCheck>)>,
}

/// The phase of a call into Python.
// (a Phase lives on the stack for one call; boxing the schema state would
// buy nothing)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Phase<'a> {
    /// schema.py runs: classes and security are being defined.
    Schema(RefCell<SchemaState>),
    /// A detector's init(db): registrations against a finished schema.
    Init {
        schema: &'a Schema,
        security: &'a Security,
        regs: RefCell<Vec<Registration>>,
        /// What an extension's init(instance) registers.
        ext: RefCell<Vec<ExtRegistration>>,
    },
    /// A live database: detectors, checks, initial_data.py.
    Live(&'a Db),
}

pub(crate) struct Ctx<'a> {
    /// The script file (for messages).
    pub label: String,
    pub config: Arc<ConfigView>,
    pub phase: Phase<'a>,
    /// How closely the watchdog follows this call: every line (scripts,
    /// detectors), or only function calls and database calls (permission
    /// checks, filters and template utils, which index pages call per row
    /// and where line tracing cost 5% of the page).
    pub watch: Watch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Watch {
    Lines,
    Calls,
}

thread_local! {
    static CONTEXTS: RefCell<Vec<*const Ctx<'static>>> = const { RefCell::new(Vec::new()) };
    static VM: OnceCell<ThreadedVirtualMachine> = const { OnceCell::new() };
    /// A core error raised inside a native call, kept so that it leaves
    /// Python unchanged (its kind matters to callers: busy, conflict, ...).
    static PENDING: RefCell<Option<Error>> = const { RefCell::new(None) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// When the outermost call into Python on this thread must have ended.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long one call into tracker code (a detector, a check, a script)
/// may run before the watchdog stops it, in milliseconds:
/// `ROUNDUP_SCRIPT_TIME_LIMIT` seconds, 60 by default; 0 switches the
/// watchdog off. (u64::MAX: not read from the environment yet.)
static TIME_LIMIT_MS: AtomicU64 = AtomicU64::new(u64::MAX);

fn process_limit() -> Duration {
    let ms = TIME_LIMIT_MS.load(Ordering::Relaxed);
    if ms != u64::MAX {
        return Duration::from_millis(ms);
    }
    let secs = std::env::var("ROUNDUP_SCRIPT_TIME_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s >= 0.0 && s.is_finite())
        .unwrap_or(60.0);
    let ms = (secs * 1000.0).min((u64::MAX - 1) as f64) as u64;
    TIME_LIMIT_MS.store(ms, Ordering::Relaxed);
    Duration::from_millis(ms)
}

/// Change the watchdog's limit (for this whole process).
pub fn set_time_limit(limit: Duration) {
    let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX - 1);
    TIME_LIMIT_MS.store(ms.min(u64::MAX - 1), Ordering::Relaxed);
}

thread_local! {
    static THREAD_LIMIT: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// The watchdog's limit for one call into tracker code.
pub fn time_limit() -> Duration {
    THREAD_LIMIT.with(|l| l.get()).unwrap_or_else(process_limit)
}

/// A limit for calls made on this thread only (None: the process's).
pub fn set_thread_time_limit(limit: Option<Duration>) {
    THREAD_LIMIT.with(|l| l.set(limit));
}

/// Whether the current call has run past its time (never while the
/// engine's own Python runs: reporting the timeout must not time out).
pub(crate) fn past_deadline() -> bool {
    !UNWATCHED.with(|u| u.get()) && DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t))
}

thread_local! {
    static UNWATCHED: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` (the engine's own Python: making and describing exceptions)
/// out of the watchdog's reach.
pub(crate) fn unwatched<R>(f: impl FnOnce() -> R) -> R {
    let was = UNWATCHED.with(|u| u.replace(true));
    let r = f();
    UNWATCHED.with(|u| u.set(was));
    r
}

/// Keep `e` to be returned when the Python call it breaks out of ends.
pub(crate) fn stash_error(e: Error) {
    PENDING.with(|p| *p.borrow_mut() = Some(e));
}

fn take_stashed() -> Option<Error> {
    PENDING.with(|p| p.borrow_mut().take())
}

/// Run `f` with the innermost context of this thread.
pub(crate) fn with_ctx<R>(f: impl FnOnce(Option<&Ctx<'_>>) -> R) -> R {
    let top = CONTEXTS.with(|c| c.borrow().last().copied());
    match top {
        // SAFETY: entries are pushed by `enter` for the duration of a call
        // that borrows the context, and popped before that borrow ends.
        Some(p) => f(Some(unsafe { &*p })),
        None => f(None),
    }
}

struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        CONTEXTS.with(|c| {
            c.borrow_mut().pop();
        });
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Deepest nesting of detectors calling the database calling detectors.
const MAX_DEPTH: usize = 64;

/// Run `f` on this thread's virtual machine with `ctx` as the current
/// context.
pub(crate) fn enter<R>(ctx: &Ctx<'_>, f: impl FnOnce(&VirtualMachine) -> Result<R>) -> Result<R> {
    if DEPTH.with(|d| d.get()) >= MAX_DEPTH {
        return Err(Error::Script(format!(
            "{}: detectors called each other more than {MAX_DEPTH} levels deep",
            ctx.label
        )));
    }
    let outermost = DEPTH.with(|d| d.get()) == 0;
    let p = (ctx as *const Ctx<'_>).cast::<Ctx<'static>>();
    CONTEXTS.with(|c| c.borrow_mut().push(p));
    DEPTH.with(|d| d.set(d.get() + 1));
    let _guard = Guard;
    // Python frames are deep on the native stack (more so unoptimised): a
    // call made on a thread with little stack left (a 2 MiB test or pool
    // thread) runs on a fresh segment. The server's threads are made big
    // enough that this never happens there.
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
        VM.with(|cell| {
            let tvm = cell.get_or_init(|| {
                let root = root().lock().unwrap_or_else(|e| e.into_inner());
                root.run(|vm| vm.new_thread())
            });
            tvm.run(|vm| {
                let limit = time_limit();
                if outermost && !limit.is_zero() {
                    // The watchdog: a trace function that ends the call
                    // with TimeoutError once it has run past its time. A
                    // trace function that raises is switched off, so it is
                    // set again after it fired.
                    DEADLINE.with(|d| d.set(Some(Instant::now() + limit)));
                    if let Err(e) = install_watchdog(vm, ctx.watch) {
                        return Err(to_core(vm, &ctx.label, e));
                    }
                } else if outermost {
                    DEADLINE.with(|d| d.set(None));
                }
                // a panic inside the interpreter (a defect of its own) fails
                // this call with a script error instead of the thread
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(vm))).unwrap_or_else(
                    |payload| {
                        let what = payload
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| payload.downcast_ref::<&str>().copied())
                            .unwrap_or("a panic");
                        Err(Error::Script(format!(
                            "{}: the Python interpreter failed: {what}",
                            ctx.label
                        )))
                    },
                )
            })
        })
    })
}

/// The watchdog trace function for `watch`.
pub(crate) fn watchdog_fn(vm: &VirtualMachine, watch: Watch) -> PyResult<PyObjectRef> {
    match watch {
        Watch::Lines => cached_attr(vm, "_roundup", "watchdog"),
        Watch::Calls => cached_attr(vm, "_roundup", "watchdog_calls"),
    }
}

fn install_watchdog(vm: &VirtualMachine, watch: Watch) -> PyResult<()> {
    if WATCHING.with(|w| w.get()) == Some(watch) {
        return Ok(());
    }
    let settrace = vm.sys_module.get_attr("settrace", vm)?;
    settrace.call((watchdog_fn(vm, watch)?,), vm)?;
    WATCHING.with(|w| w.set(Some(watch)));
    Ok(())
}

/// Below this much free stack a call into Python gets a new segment ...
const STACK_RED_ZONE: usize = 2 << 20;
/// ... of this size.
const STACK_SEGMENT: usize = 32 << 20;

/// Stack of the thread the interpreter is started on.
const INIT_STACK: usize = 64 << 20;

/// Modules imported when the interpreter starts: the `roundup` package.
const WARM_UP: [&str; 6] = [
    "roundup._engine",
    "roundup.hyperdb",
    "roundup.date",
    "roundup.password",
    "roundup.configuration",
    "roundup.roundupdb",
];

/// The interpreter's first virtual machine, from which every thread's is
/// made. The interpreter itself lives as long as the process.
fn root() -> &'static Mutex<ThreadedVirtualMachine> {
    static ROOT: OnceLock<Mutex<ThreadedVirtualMachine>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let make = || {
            let interp = make_interpreter();
            let tvm = interp.enter(|vm| {
                if !crate::sandbox::host_access() {
                    if let Err(e) = crate::sandbox::seal(vm) {
                        // fail closed: no tracker code runs in a process
                        // that could not be restricted
                        vm.print_exception(e);
                        std::process::abort();
                    }
                }
                // the first imports are the deepest calls of all
                for module in WARM_UP {
                    let _ = import_module(vm, module);
                }
                intern_type_names(vm);
                vm.new_thread()
            });
            // The interpreter's state is reference counted and shared with
            // every thread's machine; it is never torn down.
            std::mem::forget(interp);
            tvm
        };
        // Starting the interpreter and the first imports need more stack
        // than a thread's default 2 MiB in unoptimised builds, so they run
        // on a thread of their own.
        let tvm = std::thread::Builder::new()
            .name("python-init".to_string())
            .stack_size(INIT_STACK)
            .spawn(make)
            .ok()
            .and_then(|h| h.join().ok());
        Mutex::new(tvm.unwrap_or_else(make))
    })
}

/// RustPython 0.5 panics when `__name__` is read of a built-in type
/// whose name was never interned (`async_generator_wrapped_value`, found
/// by walking `object.__subclasses__()`); interning every built-in type's
/// name once at start keeps that read working.
fn intern_type_names(vm: &VirtualMachine) {
    use rustpython_vm::builtins::PyType;
    let mut todo = vec![vm.ctx.types.object_type.to_owned()];
    let mut seen = std::collections::HashSet::new();
    while let Some(t) = todo.pop() {
        let subs: Vec<_> = t
            .subclasses
            .read()
            .iter()
            .filter_map(|w| w.upgrade())
            .collect();
        for sub in subs {
            let Ok(sub) = sub.downcast::<PyType>() else {
                continue;
            };
            if !seen.insert(sub.as_object().get_id()) {
                continue;
            }
            if sub.heaptype_ext.is_none() {
                let name = sub.slot_name().to_string();
                let short = name.rsplit_once('.').map_or(name.as_str(), |(_, n)| n);
                vm.ctx.intern_str(short);
            }
            todo.push(sub);
        }
    }
}

fn make_interpreter() -> Interpreter {
    let mut settings = Settings::default();
    settings.import_site = false;
    settings.install_signal_handlers = false;
    settings.isolated = true;
    settings.ignore_environment = true;
    settings.safe_path = true;
    settings.user_site_directory = false;
    settings.write_bytecode = false;
    settings.path_list.clear();
    let restricted = !crate::sandbox::host_access();
    if restricted {
        settings.allow_external_library = false;
    }
    let builder = InterpreterBuilder::new().settings(settings);
    let stdlib = rustpython_stdlib::stdlib_module_defs(&builder.ctx);
    let native = crate::native::_roundup::module_def(&builder.ctx);
    let mut builder = builder
        .add_native_modules(&stdlib)
        .add_native_module(native)
        .add_frozen_modules(rustpython_pylib::FROZEN_STDLIB)
        .add_frozen_modules(ROUNDUP_PACKAGE.decode());
    if restricted {
        builder = builder.add_frozen_modules(SANDBOX_PACKAGE.decode());
    }
    builder
        .init_hook(move |vm| {
            if restricted {
                crate::sandbox::restrict(vm);
            }
            if let Some(state) = rustpython_vm::common::rc::PyRc::get_mut(&mut vm.state) {
                state.config.paths.stdlib_dir = Some(rustpython_pylib::LIB_PATH.to_owned());
            }
        })
        .build()
}

/// A fresh module namespace with `__name__`, `__file__` and the builtins.
pub(crate) fn new_scope(vm: &VirtualMachine, name: &str, file: &str) -> PyResult<Scope> {
    let scope = vm.new_scope_with_builtins();
    scope
        .globals
        .set_item("__name__", vm.ctx.new_str(name).into(), vm)?;
    scope
        .globals
        .set_item("__file__", vm.ctx.new_str(file).into(), vm)?;
    Ok(scope)
}

/// Compile and run `source` (from file `label`) in `globals`.
pub(crate) fn exec(
    vm: &VirtualMachine,
    label: &str,
    source: &str,
    scope: Scope,
) -> std::result::Result<(), PyBaseExceptionRef> {
    let code = vm
        .compile(source, Mode::Exec, label.to_owned())
        .map_err(|e| vm.new_syntax_error(&e, Some(source)))?;
    vm.run_code_obj(code, scope)?;
    Ok(())
}

/// A module by its dotted name (`import a.b` gives `a`; this gives `a.b`).
pub(crate) fn import_module(vm: &VirtualMachine, dotted: &'static str) -> PyResult<PyObjectRef> {
    let mut module = vm.import(dotted, 0)?;
    for part in dotted.split('.').skip(1) {
        let part = vm.ctx.new_str(part);
        module = module.get_attr(&part, vm)?;
    }
    Ok(module)
}

/// An attribute of the `roundup._engine` helper module.
pub(crate) fn helper(vm: &VirtualMachine, name: &'static str) -> PyResult<PyObjectRef> {
    cached_attr(vm, "roundup._engine", name)
}

/// `module.name`, looked up once per thread: the core calls helpers and
/// installs the watchdog per check and per detector, and an import plus
/// attribute lookup each time showed on index pages.
fn cached_attr(
    vm: &VirtualMachine,
    module: &'static str,
    name: &'static str,
) -> PyResult<PyObjectRef> {
    if let Some(f) = HELPERS.with(|h| h.borrow().get(&(module, name)).cloned()) {
        return Ok(f);
    }
    let f = import_module(vm, module)?.get_attr(&vm.ctx.new_str(name), vm)?;
    HELPERS.with(|h| h.borrow_mut().insert((module, name), f.clone()));
    Ok(f)
}

thread_local! {
    static HELPERS: RefCell<std::collections::HashMap<(&'static str, &'static str), PyObjectRef>> =
        RefCell::new(std::collections::HashMap::new());
    static DB_OBJECT: OnceCell<PyObjectRef> = const { OnceCell::new() };
    /// Which watchdog is this thread's trace function now (None: none).
    static WATCHING: Cell<Option<Watch>> = const { Cell::new(None) };
}

/// The watchdog is no longer the trace function (it raised, which turns
/// tracing off): the next call sets it again.
pub(crate) fn watchdog_fired() {
    WATCHING.with(|w| w.set(None));
}

/// Turn a Python exception that ends a call into the core's error.
///
/// `Reject` (and its subclasses) and `ValueError` keep their bare
/// message, as Roundup shows them to the user; a core error raised by a
/// nested database call comes back unchanged (but a schema definition
/// error gets the file and line of the script that made it); anything
/// else becomes a script error naming the file and line where it was
/// raised, with the traceback.
pub(crate) fn to_core(vm: &VirtualMachine, label: &str, exc: PyBaseExceptionRef) -> Error {
    convert(vm, label, exc, false)
}

/// As [`to_core`], but a refusal or value error becomes a script error
/// naming file and line too: for the report of a file that failed to load.
pub(crate) fn to_core_located(vm: &VirtualMachine, label: &str, exc: PyBaseExceptionRef) -> Error {
    convert(vm, label, exc, true)
}

fn convert(vm: &VirtualMachine, label: &str, exc: PyBaseExceptionRef, located: bool) -> Error {
    let stashed = take_stashed();
    let described =
        unwatched(|| helper(vm, "describe").and_then(|d| d.call((exc.clone(), located), vm)));
    let Ok(described) = described else {
        return Error::Script(format!("{label}: {}", exc_text(vm, &exc)));
    };
    let parts: Vec<String> = match described.try_into_value::<Vec<String>>(vm) {
        Ok(p) if p.len() == 4 => p,
        _ => return Error::Script(format!("{label}: {}", exc_text(vm, &exc))),
    };
    let (kind, message, location, traceback) = (&parts[0], &parts[1], &parts[2], &parts[3]);
    match kind.as_str() {
        "core" => match stashed {
            // a schema definition error is the script's: say where
            Some(Error::Schema(m)) if !location.is_empty() => script_error(location, &m, traceback),
            Some(e) => e,
            None => Error::Script(message.clone()),
        },
        "reject" => Error::Reject(message.clone()),
        "value" => Error::Value(message.clone()),
        "unauthorised" => Error::Unauthorised(message.clone()),
        _ => {
            let at = if location.is_empty() {
                label
            } else {
                location.as_str()
            };
            script_error(at, message, traceback)
        }
    }
}

fn script_error(at: &str, message: &str, traceback: &str) -> Error {
    if traceback.is_empty() {
        Error::Script(format!("{at}: {message}"))
    } else {
        Error::Script(format!("{at}: {message}\n{traceback}"))
    }
}

fn exc_text(vm: &VirtualMachine, exc: &PyBaseExceptionRef) -> String {
    let name = exc.class().name().to_string();
    match exc.as_object().str(vm) {
        Ok(s) => format!("{name}: {}", s.to_string_lossy()),
        Err(_) => name,
    }
}

/// Set `name` in a namespace.
pub(crate) fn set_global(
    vm: &VirtualMachine,
    globals: &PyDictRef,
    name: &str,
    value: PyObjectRef,
) -> PyResult<()> {
    globals.set_item(name, value, vm)
}

/// The Python `db` object tracker code receives (one object serves every
/// tracker; its methods act on the current context).
pub(crate) fn db_object(vm: &VirtualMachine) -> PyResult<PyObjectRef> {
    if let Some(d) = DB_OBJECT.with(|d| d.get().cloned()) {
        return Ok(d);
    }
    let d = helper(vm, "the_db")?.call((), vm)?;
    DB_OBJECT.with(|c| {
        let _ = c.set(d.clone());
    });
    Ok(d)
}
