//! Tracker code without host access (`[main] python_host_access = no`).
//!
//! The interpreter is built once per process, so the restricted checks
//! run in a child process: this test binary again, with only the test
//! wanted and `ROUNDUP_TEST_NO_HOST=1`.

use std::process::Command;

use crate::common::{ok, open_db};
use roundup_core::detectors::Detectors;
use roundup_python::{load_detectors, load_schema, run_live, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.py");

/// Run test `name` of this binary in a process without host access.
fn in_child(name: &str) {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("ROUNDUP_TEST_NO_HOST", "1")
        .output()
        .expect("run the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} without host access:\n{text}");
    // the child really ran the restricted body
    assert!(text.contains("1 passed"), "{text}");
    assert!(text.contains("restricted checks done"), "{text}");
}

fn restricted() -> bool {
    std::env::var_os("ROUNDUP_TEST_NO_HOST").is_some()
}

/// Every way out tried from tracker code; each line says how it ended.
const PROBE: &str = r#"
import sys

def attempt(label, fn):
    try:
        r = fn()
    except PermissionError as e:
        return '%s: refused' % label
    except ImportError:
        return '%s: absent' % label
    except Exception as e:
        return '%s: %s' % (label, type(e).__name__)
    return '%s: ALLOWED %r' % (label, str(r)[:40])

def host_types():
    seen, found, todo = set(), [], [object]
    while todo:
        t = todo.pop()
        try:
            subs = type.__subclasses__(t)
        except Exception:
            continue
        for s in subs:
            if id(s) in seen:
                continue
            seen.add(id(s))
            todo.append(s)
            if getattr(s, '_host_access_off', False):
                # the stand-in for the file type: it cannot be made
                assert attempt('stand-in', lambda: s('/etc/hostname')).endswith('refused')
                continue
            if s.__name__ in ('FileIO', 'socket', 'SocketType', 'mmap', 'poll',
                              'epoll', 'SemLock', 'Connection', 'SSLSocket',
                              'DirEntry', 'ScandirIterator'):
                found.append('%s.%s' % (s.__module__, s.__name__))
    return found

def reimport_io():
    del sys.modules['_io']
    import _io
    return _io.open('/etc/hostname')

def subclass_fileio():
    import _io
    return _io.FileIO('/etc/hostname')

def stdout_type():
    return type(sys.__stdout__)('/etc/hostname')

def walk_gc():
    import gc
    return gc.get_objects()

def via_os():
    import os
    return os.listdir('/')

def os_system():
    import os
    return os.system('true')

def posix_open():
    import posix
    return posix.open('/etc/hostname', 0)

def tokenize_open():
    import tokenize
    return tokenize.open('/etc/hostname')

def external():
    import importlib.util
    return importlib.util.spec_from_file_location('x', '/etc/hostname')

def file_import():
    sys.path.insert(0, '/usr/lib/python3/dist-packages')
    import six
    return six

def linecache_lines():
    import linecache
    lines = linecache.getlines('/etc/hostname')
    if lines:
        return lines
    raise PermissionError('nothing read')

def raise_signal():
    import signal
    return signal.raise_signal(9)

lines = [
    attempt('open', lambda: open('/etc/hostname').read()),
    attempt('io.open', lambda: __import__('io').open('/etc/hostname')),
    attempt('FileIO', subclass_fileio),
    attempt('reimported _io', reimport_io),
    attempt('stdout type', stdout_type),
    attempt('gc', walk_gc),
    attempt('os.listdir', via_os),
    attempt('os.system', os_system),
    attempt('posix.open', posix_open),
    attempt('subprocess', lambda: __import__('subprocess')),
    attempt('socket', lambda: __import__('socket')),
    attempt('_socket', lambda: __import__('_socket')),
    attempt('select', lambda: __import__('select')),
    attempt('mmap', lambda: __import__('mmap')),
    attempt('fcntl', lambda: __import__('fcntl')),
    attempt('ctypes', lambda: __import__('_ctypes')),
    attempt('sqlite3', lambda: __import__('_sqlite3')),
    attempt('_posixsubprocess', lambda: __import__('_posixsubprocess')),
    attempt('pwd', lambda: __import__('pwd')),
    attempt('tokenize.open', tokenize_open),
    attempt('file loader', external),
    attempt('import from a path', file_import),
    attempt('linecache', linecache_lines),
    attempt('signal', raise_signal),
]
lines.append('host types: %s' % host_types())

# what still works
import os, os.path, logging, re, json, datetime, time, hashlib, random
lines.append('works: %s %s %s %s %s' % (
    os.path.join('a', 'b'), os.environ.get('HOME'),
    hashlib.sha1(b'x').hexdigest()[:6], len(random.random().__repr__()) > 2,
    json.dumps(re.findall(r'\d', 'a1b2'))))
logging.getLogger('probe').warning('logged from a restricted detector')
print('printed from a restricted detector')
result = '\n'.join(lines)
"#;

#[test]
fn tracker_code_reaches_no_files_processes_or_sockets() {
    if !restricted() {
        in_child("no_host_access::tracker_code_reaches_no_files_processes_or_sockets");
        return;
    }
    ok(roundup_python::set_host_access(false));
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let report = ok(run_live("probe.py", PROBE, &db, &config)).expect("a result");
    let report = report.trim_matches('\'').replace("\\n", "\n");
    eprintln!("{report}");
    for line in report.lines() {
        assert!(!line.contains("ALLOWED"), "{line}\n{report}");
    }
    for want in [
        "open: refused",
        "io.open: refused",
        "FileIO: ",
        "reimported _io: refused",
        "gc: refused",
        "os.listdir: refused",
        "os.system: refused",
        "posix.open: refused",
        "subprocess: absent",
        "socket: absent",
        "_socket: absent",
        "select: absent",
        "mmap: absent",
        "ctypes: absent",
        "sqlite3: absent",
        "_posixsubprocess: absent",
        "pwd: absent",
        "tokenize.open: refused",
        "import from a path: absent",
        "linecache: refused",
        "host types: []",
        "works: a/b None ",
    ] {
        assert!(report.contains(want), "missing {want:?} in:\n{report}");
    }
    // the choice is per process: asking for host access now is refused,
    // naming the option
    let err = roundup_python::set_host_access(true).expect_err("mixed");
    assert!(err.to_string().contains("python_host_access"), "{err}");
    eprintln!("restricted checks done");
}

#[test]
fn detectors_import_each_other_without_host_access() {
    if !restricted() {
        in_child("no_host_access::detectors_import_each_other_without_host_access");
        return;
    }
    ok(roundup_python::set_host_access(false));
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let dir = tempfile::tempdir().expect("tempdir");
    let det = dir.path().join("detectors");
    std::fs::create_dir_all(&det).expect("mkdir");
    std::fs::write(
        det.join("shared_rules.py"),
        "import re\nBAD = re.compile(r'forbidden')\n",
    )
    .expect("write");
    let user = "from shared_rules import BAD\nfrom roundup.exceptions import Reject\n\ndef check(db, cl, nodeid, newvalues):\n    if BAD.search(newvalues.get('title') or ''):\n        raise Reject('forbidden title')\n\ndef init(db):\n    db.issue.audit('create', check)\n";
    let label = det.join("titles.py").display().to_string();
    let detectors = ok(load_detectors(
        &[(label, user.to_string())],
        &schema,
        &security,
        &config,
    ));
    let db = open_db(dir.path(), schema, security, detectors, "1");
    let mut v = roundup_core::Values::new();
    v.insert(
        "title".into(),
        Some(roundup_core::Value::String("a forbidden one".into())),
    );
    let err = db.create("issue", v).expect_err("refused");
    assert!(err.to_string().contains("forbidden title"), "{err}");
    eprintln!("restricted checks done");
}
