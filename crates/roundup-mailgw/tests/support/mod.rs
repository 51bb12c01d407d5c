//! What the gateway's test binaries share: a fresh classic tracker.

// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A classic tracker under `dir/t`, initialised, with `extra` config.ini
/// settings (by `section_option` name, over the common ones) and the
/// users `(username, address)` with the User role.
pub fn tracker(dir: &Path, extra: &[(&str, &str)], users: &[(&str, &str)]) -> PathBuf {
    let home = dir.join("t");
    let settings: Vec<(String, String)> = [
        ("mail_domain", "example.com"),
        ("tracker_web", "http://tracker.example/"),
        ("password_pbkdf2_default_rounds", "1000"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    roundup_tracker::install(&home, "classic", "sqlite", &settings).expect("install");
    let t = roundup_tracker::Tracker::open(&home).expect("open");
    t.initialise("secret", "admin@example.com")
        .expect("initialise");
    let db = t.open_db("1").unwrap();
    for (name, addr) in users {
        let mut v = roundup_core::Values::new();
        for (prop, value) in [("username", *name), ("address", *addr), ("roles", "User")] {
            v.insert(prop.into(), Some(roundup_core::Value::String(value.into())));
        }
        db.create("user", v).unwrap();
    }
    db.commit().unwrap();
    home
}

/// [`tracker`] whose mail is recorded in `<home>/mail.out`, not sent.
pub fn recording_tracker(dir: &Path, extra: &[(&str, &str)], users: &[(&str, &str)]) -> PathBuf {
    let debug = dir.join("t").join("mail.out");
    let debug = debug.to_str().expect("utf-8 path");
    let mut all = vec![("mail_debug", debug)];
    all.extend_from_slice(extra);
    let home = tracker(dir, &all, users);
    let ini = std::fs::read_to_string(home.join("config.ini")).unwrap();
    assert!(
        ini.contains(&format!("\ndebug = {debug}\n")),
        "config.ini does not record mail in {debug}"
    );
    home
}

/// `data` in base64, 76 characters a line, each line ended by `\n`.
pub fn base64_lines(data: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 76 + 1);
    for line in text.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// Run `program args` with `stdin` on its standard input; its exit code
/// (or -1 when killed), its resource usage as `wait4` reports it (so
/// `ru_maxrss`, its peak resident set in kB, is this child's alone, not
/// that of other tests' children) and its standard error.
// The child is reaped by wait4 below, which std's wait cannot do with
// the resource usage.
#[allow(clippy::zombie_processes)]
pub fn run_measured(program: &str, args: &[&str], stdin: Vec<u8>) -> (i32, libc::rusage, String) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .env_remove("ROUNDUP_INSTANCE")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // the child may stop reading early; that shows in its exit status
        let _ = input.write_all(&stdin);
    });
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = err.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are to
    // live locals
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    writer.join().unwrap();
    let stderr = reader.join().unwrap();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage, stderr)
}

/// Run `command` with `stdin` on its standard input; its output,
/// whatever its status.
pub fn pipe(mut command: std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // the child may stop reading early; that shows in its status
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().expect("wait")
}

/// A classic home made by Roundup 2.6's own roundup-admin, as the
/// side-by-side tests start both trackers: mail domain, web address and
/// mail host set, mail recorded in `<home>/mail.out`.
pub fn roundup26_home(r: &roundup_testkit::Roundup26, home: &Path) {
    use roundup_testkit::set_config_option as set_option;
    r.admin(&[
        "-i",
        home.to_str().unwrap(),
        "install",
        "classic",
        "sqlite",
        "mail_domain=example.com,password_pbkdf2_default_rounds=1000",
    ]);
    set_option(home, "tracker", "web", "http://tracker.example/");
    set_option(home, "mail", "host", "localhost");
    set_option(
        home,
        "mail",
        "debug",
        home.join("mail.out").to_str().unwrap(),
    );
}

/// Put a detector in `home` that records, for every issue created or
/// changed and every user created, where the change came from (Roundup's
/// `db.tx_Source`), in auditors and reactors alike: a line
/// `audit|react create|set <class><id> <repr(db.tx_Source)>` in
/// `<home>/tx_sources.log` (see [`tx_sources`]).
pub fn record_tx_sources(home: &Path) {
    let log = home.join("tx_sources.log");
    let code = format!(
        r#"LOG = {log:?}

def _recorder(what):
    def record(db, cl, nodeid, values):
        with open(LOG, 'a') as f:
            f.write('%s %s%s %r\n' % (what, cl.classname, nodeid or '', db.tx_Source))
    return record

def init(db):
    for op in ('create', 'set'):
        db.issue.audit(op, _recorder('audit ' + op))
        db.issue.react(op, _recorder('react ' + op))
    db.user.audit('create', _recorder('audit create'))
    db.user.react('create', _recorder('react create'))
"#,
        log = log.to_str().expect("utf-8 path")
    );
    std::fs::write(home.join("detectors").join("tx_source_log.py"), code)
        .expect("write the recording detector");
}

/// The lines [`record_tx_sources`]'s detector wrote, in order.
pub fn tx_sources(home: &Path) -> Vec<String> {
    std::fs::read_to_string(home.join("tx_sources.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
