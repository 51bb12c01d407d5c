//! Tracker code without host access (`[main] python_host_access = no` in
//! config.ini): no files, processes or sockets.
//!
//! Deleting `open` or filtering imports in a normal interpreter does not
//! sandbox Python (the file type stays reachable through
//! `object.__subclasses__()`), so the restriction is made where modules
//! come from, when the interpreter is built:
//!
//! * only the native modules of [`ALLOWED`] exist: pure computation (re,
//!   hashing, compression, json, math, time, ...). `posix`, `_socket`,
//!   `select`, `mmap`, `fcntl`, `_posixsubprocess`, `_multiprocessing`,
//!   `_ctypes`, `_sqlite3`, `_ssl`, `pwd`, `grp`, `resource`, ... are not
//!   there to import, under any name;
//! * `_io` is rebuilt on every import with `open`/`open_code` refusing
//!   and `FileIO` replaced by its harmless base; the file type is taken
//!   out of its base's subclass list, and the standard streams become
//!   writers to the server's log, so no object of the file type is left;
//! * `gc`'s object walkers refuse (they would reach any object);
//! * `_signal` is a stand-in that sets no handler and sends no signal;
//! * there is no path-based import: the `roundup` package and the
//!   standard library are frozen into the binary, and detectors and
//!   extensions import each other through a finder over the tracker's own
//!   folders only;
//! * `posix` is a Python stand-in (ours) so that `os`, `os.path`,
//!   `logging` and friends import; each of its functions that would touch
//!   the host raises `PermissionError` naming the option.
//!
//! The choice is per process: the interpreter is built once. A process
//! asked to run trackers of both kinds refuses the second
//! ([`set_host_access`]).

use std::path::PathBuf;
use std::sync::OnceLock;

use roundup_core::{Error, Result};
use rustpython_vm::builtins::{PyModule, PyModuleDef, PyModuleSlots, PyType};
use rustpython_vm::function::FuncArgs;
use rustpython_vm::{AsObject, Py, PyResult, VirtualMachine};

/// The option that turns host access off, and what the refusals say.
pub const OPTION: &str = "python_host_access";
const REFUSAL: &str =
    "host access is off for tracker code ([main] python_host_access = no in config.ini)";

/// Native modules a tracker without host access may import.
const ALLOWED: &[&str] = &[
    "_abc",
    "_ast",
    "_bisect",
    "_blake2",
    "_bz2",
    "_codecs",
    "_collections",
    "_contextvars",
    "_csv",
    "_functools",
    "_hashlib",
    "_imp",
    "_io",
    "_json",
    "_locale",
    "_lzma",
    "_md5",
    "_opcode",
    "_operator",
    "_random",
    "_roundup",
    "_sha1",
    "_sha256",
    "_sha3",
    "_sha512",
    "_signal",
    "_sre",
    "_stat",
    "_statistics",
    "_string",
    "_struct",
    "_suggestions",
    "_symtable",
    "_thread",
    "_tokenize",
    "_types",
    "_typing",
    "_warnings",
    "_weakref",
    "array",
    "atexit",
    "binascii",
    "cmath",
    "errno",
    "gc",
    "itertools",
    "marshal",
    "math",
    "pyexpat",
    "time",
    "unicodedata",
    "zlib",
];

static HOST_ACCESS: OnceLock<bool> = OnceLock::new();

/// Say whether tracker code in this process may reach the host. The
/// first call (or the first use of the interpreter, which means yes)
/// decides; a later call asking otherwise is refused with an error naming
/// the option, since one interpreter serves the whole process.
pub fn set_host_access(allow: bool) -> Result<()> {
    let got = *HOST_ACCESS.get_or_init(|| allow);
    if got == allow {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{OPTION}: this process already runs tracker code with host access {}; a tracker with {OPTION} = {} must be served by a process of its own",
        if got { "on" } else { "off" },
        if allow { "yes" } else { "no" },
    )))
}

/// Whether tracker code in this process may reach the host.
pub fn host_access() -> bool {
    *HOST_ACCESS.get_or_init(|| true)
}

thread_local! {
    /// The tracker folders detectors and extensions import each other
    /// from while they load on this thread (there is no path-based import
    /// without host access).
    static IMPORT_DIRS: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub(crate) fn set_import_dirs(dirs: &[String]) {
    IMPORT_DIRS.with(|d| *d.borrow_mut() = dirs.iter().map(PathBuf::from).collect());
}

/// The source of module `name` from the current tracker folders, if one
/// of them has it (`name.py`; plain module names only).
pub(crate) fn module_source(name: &str) -> Option<(String, String)> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let dirs = IMPORT_DIRS.with(|d| d.borrow().clone());
    dirs.iter().find_map(|d| {
        let path = d.join(format!("{name}.py"));
        std::fs::read_to_string(&path)
            .ok()
            .map(|s| (path.display().to_string(), s))
    })
}

/// Restrict the module table of an interpreter being built.
pub(crate) fn restrict(vm: &mut VirtualMachine) {
    let Some(state) = rustpython_vm::common::rc::PyRc::get_mut(&mut vm.state) else {
        // Never happens before initialisation; fail closed all the same.
        panic!("the interpreter's state is shared before it is restricted");
    };
    state.config.settings.allow_external_library = false;
    let defs = &mut state.module_defs;
    let io = defs.get("_io").copied();
    let gc = defs.get("gc").copied();
    defs.retain(|name, _| ALLOWED.contains(name));
    if let Some(io) = io {
        let _ = IO_EXEC.set(io.slots.exec);
        defs.insert("_io", wrapped(io, io_exec));
    }
    if let Some(gc) = gc {
        let _ = GC_EXEC.set(gc.slots.exec);
        defs.insert("gc", wrapped(gc, gc_exec));
    }
    defs.insert("_signal", _signal::module_def(&vm.ctx));
    let posix_def = posix::module_def(&vm.ctx);
    let _ = POSIX_EXEC.set(posix_def.slots.exec);
    defs.insert("posix", wrapped(posix_def, posix_exec));
}

/// A copy of `def` whose exec runs `exec` (which runs the original's).
fn wrapped(
    def: &'static PyModuleDef,
    exec: fn(&VirtualMachine, &Py<PyModule>) -> PyResult<()>,
) -> &'static PyModuleDef {
    Box::leak(Box::new(PyModuleDef {
        name: def.name,
        doc: def.doc,
        methods: def.methods,
        slots: PyModuleSlots {
            create: def.slots.create,
            exec: Some(exec),
        },
    }))
}

type Exec = Option<fn(&VirtualMachine, &Py<PyModule>) -> PyResult<()>>;
static IO_EXEC: OnceLock<Exec> = OnceLock::new();
static GC_EXEC: OnceLock<Exec> = OnceLock::new();
static POSIX_EXEC: OnceLock<Exec> = OnceLock::new();

/// What the `posix` stand-in has that refuses (whatever the arguments).
/// Functions the standard library tests for before use (`fork`, `execv`,
/// `spawnv`, ...) are left out, so that it takes its other way.
const POSIX_REFUSING: &[&str] = &[
    "getcwd",
    "getcwdb",
    "chdir",
    "stat",
    "lstat",
    "fstat",
    "access",
    "listdir",
    "scandir",
    "open",
    "close",
    "read",
    "write",
    "mkdir",
    "rmdir",
    "remove",
    "unlink",
    "rename",
    "replace",
    "chmod",
    "chown",
    "link",
    "symlink",
    "readlink",
    "utime",
    "truncate",
    "system",
    "kill",
    "_exit",
    "abort",
    "putenv",
    "unsetenv",
    "umask",
    "device_encoding",
    "isatty",
    "pipe",
    "dup",
    "dup2",
    "lseek",
    "fsync",
    "get_terminal_size",
    "uname",
    "times",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getlogin",
    "getppid",
];

fn posix_exec(vm: &VirtualMachine, module: &Py<PyModule>) -> PyResult<()> {
    if let Some(Some(exec)) = POSIX_EXEC.get() {
        exec(vm, module)?;
    }
    for name in POSIX_REFUSING {
        module
            .as_object()
            .set_attr(*name, vm.new_function(name, refuse), vm)?;
    }
    Ok(())
}

fn refuse(_args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    Err(vm
        .new_os_subtype_error(
            vm.ctx.exceptions.permission_error.to_owned(),
            Some(1),
            REFUSAL,
        )
        .upcast())
}

fn io_exec(vm: &VirtualMachine, module: &Py<PyModule>) -> PyResult<()> {
    if let Some(Some(exec)) = IO_EXEC.get() {
        exec(vm, module)?;
    }
    let m = module.as_object();
    m.set_attr("open", vm.new_function("open", refuse), vm)?;
    m.set_attr("open_code", vm.new_function("open_code", refuse), vm)?;
    if let Ok(file_io) = m.get_attr("FileIO", vm) {
        if let Ok(t) = file_io.downcast::<PyType>() {
            forget_subclass(&t);
        }
    }
    // `io` registers FileIO with its ABCs, so a class stands in: one
    // whose objects cannot be made
    let base = m
        .get_attr("_RawIOBase", vm)?
        .downcast::<PyType>()
        .map_err(|_| vm.new_type_error("_io._RawIOBase is not a type".to_string()))?;
    let stand_in = vm.ctx.new_class(
        Some("_io"),
        "FileIO",
        base,
        rustpython_vm::types::PyTypeSlots::heap_default(),
    );
    stand_in
        .as_object()
        .set_attr("__init__", vm.new_function("__init__", refuse), vm)?;
    stand_in
        .as_object()
        .set_attr("_host_access_off", vm.ctx.true_value.clone(), vm)?;
    m.set_attr("FileIO", stand_in, vm)?;
    Ok(())
}

fn gc_exec(vm: &VirtualMachine, module: &Py<PyModule>) -> PyResult<()> {
    if let Some(Some(exec)) = GC_EXEC.get() {
        exec(vm, module)?;
    }
    let m = module.as_object();
    for name in ["get_objects", "get_referrers", "get_referents"] {
        m.set_attr(name, vm.new_function(name, refuse), vm)?;
    }
    Ok(())
}

/// Take `t` out of its bases' subclass lists, so that
/// `base.__subclasses__()` does not reveal it.
pub(crate) fn forget_subclass(t: &Py<PyType>) {
    for base in t.bases.read().iter() {
        base.subclasses.write().retain(|w| {
            w.upgrade()
                .is_none_or(|sub| !std::ptr::eq(sub.as_object(), t.as_object()))
        });
    }
}

/// After the interpreter started: the standard streams (objects of the
/// file type, made by the interpreter itself) are replaced by writers to
/// the server's log, and the file type is forgotten by its base.
pub(crate) fn seal(vm: &VirtualMachine) -> PyResult<()> {
    for name in ["stdin", "stdout", "stderr"] {
        if let Ok(stream) = vm.sys_module.get_attr(name, vm) {
            let raw = stream
                .get_attr("buffer", vm)
                .and_then(|b| b.get_attr("raw", vm));
            if let Ok(raw) = raw {
                forget_subclass(raw.class());
            }
        }
    }
    let log = rustpython_vm::import::import_frozen(vm, "_sandbox")?;
    for (name, dunder) in [
        ("stdin", "__stdin__"),
        ("stdout", "__stdout__"),
        ("stderr", "__stderr__"),
    ] {
        let stream = log.get_attr(name, vm)?;
        vm.sys_module.set_attr(name, stream.clone(), vm)?;
        vm.sys_module.set_attr(dunder, stream, vm)?;
    }
    Ok(())
}

/// Write text tracker code printed to the server's log (standard error).
pub(crate) fn log_write(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// A stand-in for the interpreter's signal module: constants, no
/// handlers set, no signals sent.
#[rustpython_vm::pymodule]
pub(crate) mod _signal {
    use rustpython_vm::function::FuncArgs;
    use rustpython_vm::{PyObjectRef, PyResult, VirtualMachine};

    #[pyattr]
    const SIG_DFL: i32 = 0;
    #[pyattr]
    const SIG_IGN: i32 = 1;
    #[pyattr]
    const NSIG: i32 = 65;
    #[pyattr]
    const SIGINT: i32 = 2;
    #[pyattr]
    const SIGTERM: i32 = 15;

    #[pyfunction]
    fn signal(args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        super::refuse(args, vm)
    }

    #[pyfunction]
    fn getsignal(_signum: i32, vm: &VirtualMachine) -> PyObjectRef {
        vm.ctx.new_int(0).into()
    }

    #[pyfunction]
    fn default_int_handler(_args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        Err(vm.new_exception_empty(vm.ctx.exceptions.keyboard_interrupt.to_owned()))
    }
}

/// A stand-in for the `posix` module, so that `os`, `os.path` and the
/// modules built on them import: the pure parts work (paths, `fspath`,
/// `strerror`, `urandom`, an empty `environ`); everything that would
/// touch files, processes or the environment refuses.
#[rustpython_vm::pymodule]
pub(crate) mod posix {
    use rustpython_vm::builtins::{PyBytes, PyDictRef, PyListRef, PyStr};
    use rustpython_vm::{PyObjectRef, PyPayload, PyResult, VirtualMachine};

    #[pyattr]
    const F_OK: i32 = 0;
    #[pyattr]
    const R_OK: i32 = 4;
    #[pyattr]
    const W_OK: i32 = 2;
    #[pyattr]
    const X_OK: i32 = 1;
    #[pyattr]
    const O_RDONLY: i32 = 0;
    #[pyattr]
    const O_WRONLY: i32 = 1;
    #[pyattr]
    const O_RDWR: i32 = 2;

    #[pyattr]
    fn environ(vm: &VirtualMachine) -> PyDictRef {
        vm.ctx.new_dict()
    }

    #[pyattr]
    fn _have_functions(vm: &VirtualMachine) -> PyListRef {
        vm.ctx.new_list(Vec::new())
    }

    #[pyfunction]
    fn fspath(path: PyObjectRef, vm: &VirtualMachine) -> PyResult {
        if path.downcast_ref::<PyStr>().is_some() || path.downcast_ref::<PyBytes>().is_some() {
            return Ok(path);
        }
        match path.get_attr("__fspath__", vm) {
            Ok(m) => m.call((), vm),
            Err(_) => Err(vm.new_type_error(format!(
                "expected str, bytes or os.PathLike object, not {}",
                path.class().name()
            ))),
        }
    }

    #[pyfunction]
    fn strerror(code: i32) -> String {
        let text = std::io::Error::from_raw_os_error(code).to_string();
        // "No such file or directory (os error 2)" -> as C's strerror
        match text.rfind(" (os error") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }

    #[pyfunction]
    fn urandom(size: usize, vm: &VirtualMachine) -> PyObjectRef {
        let mut buf = vec![0u8; size];
        rand::fill(&mut buf[..]);
        PyBytes::from(buf).into_ref(&vm.ctx).into()
    }

    #[pyfunction]
    fn cpu_count() -> Option<usize> {
        std::thread::available_parallelism().ok().map(|n| n.get())
    }

    #[pyfunction]
    fn getpid() -> u32 {
        std::process::id()
    }
}
