//! roundup-server: serve Roundup trackers over HTTP (roundup-server(1)).
//!
//! `-t` (multiprocess mode) maps onto the tokio runtime: `fork` and
//! `thread` both serve requests concurrently on a multi-threaded runtime
//! whose blocking pool (where tracker work runs) is capped by `-m`
//! (default 40); `debug` does the same but reopens each tracker for every
//! request so changed schema, detectors and templates are picked up;
//! `none` handles one request at a time on a single thread. An unknown
//! mode falls back to `none`, as Roundup does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use roundup_web::server::{self, App, ServeOptions, ServerSettings};

const USAGE: &str = "usage: roundup-server [options] [name=tracker home]*

options:
 -v / --version  print the version and exit
 -h / --help     print this text and exit
 -C file / --config file   read options from a roundup-server config file
 --save-config   write the options given to ./config.ini and exit
 -n hostname     host name or IP address to listen on (default localhost)
 -p port         port to listen on (default 8080)
 -d PIDfile      run in the background, writing the process id to PIDfile
                 (needs -l)
 -D              stay in the foreground even with -d
 -l file         log requests to file instead of standard error
 -L              log through the server's log (same as -l here)
 -t mode         fork|thread|debug|none (default fork)
 -m max_children maximum concurrent requests that change data (default 40;
                 pages that only read are answered by one worker per CPU)
 -P              log the client address from X-Forwarded-For
 -N              log client host names (not supported: logs addresses)
 -i file         template for the tracker index page ({trackers} is
                 replaced by the list)
 -I headers      comma separated request headers passed to the trackers
                 (e.g. REMOTE_USER, for [web] http_auth_header)
 -s              use TLS
 -e file         PEM file with private key and certificate for -s (without
                 it a temporary self-signed certificate is used)
 -V HTTPVER      HTTP/1.1 (keep-alive, default) or HTTP/1.0
 -u UID          run as this user (when started as root)
 -g GID          run as this group (when started as root)

name=tracker home
    serve the tracker in that home directory under /name/";

#[derive(Debug, Default, Clone)]
struct Options {
    host: Option<String>,
    port: Option<u16>,
    pidfile: Option<PathBuf>,
    nodaemon: bool,
    logfile: Option<PathBuf>,
    multiprocess: Option<String>,
    max_children: Option<usize>,
    log_forwarded: bool,
    log_hostnames: bool,
    index_template: Option<PathBuf>,
    include_headers: Vec<String>,
    ssl: bool,
    pem: Option<PathBuf>,
    http_version: Option<String>,
    user: Option<String>,
    group: Option<String>,
    favicon: Option<PathBuf>,
    trackers: Vec<(String, PathBuf)>,
}

fn fail(msg: &str) -> ! {
    roundup_web::errln!("roundup-server: {msg}");
    std::process::exit(2)
}

fn yes(v: &str) -> bool {
    matches!(
        v.trim().to_lowercase().as_str(),
        "yes" | "true" | "1" | "on"
    )
}

/// Read a roundup-server config file: `[main]` options and `[trackers]`
/// name = home lines; relative paths are relative to the file.
fn read_config(path: &Path, o: &mut Options) -> Result<(), String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let rel = |v: &str| -> Option<PathBuf> {
        let v = v.trim();
        if v.is_empty() {
            None
        } else {
            Some(dir.join(v))
        }
    };
    let mut section = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].trim().to_lowercase();
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            return Err(format!(
                "{} line {}: expected `name = value`, found {raw:?}",
                path.display(),
                n + 1
            ));
        };
        let (k, v) = (k.trim().to_lowercase(), v.trim().to_string());
        match section.as_str() {
            "trackers" => {
                let home = rel(&v).ok_or_else(|| {
                    format!("{}: tracker {k} has no home directory", path.display())
                })?;
                o.trackers.push((k, home));
            }
            "main" => match k.as_str() {
                "host" => o.host = Some(v),
                "port" => {
                    o.port = Some(v.parse().map_err(|_| {
                        format!("{}: [main] port {v:?} is not a port number", path.display())
                    })?)
                }
                "favicon" => o.favicon = rel(&v),
                "user" => o.user = Some(v).filter(|s| !s.is_empty()),
                "group" => o.group = Some(v).filter(|s| !s.is_empty()),
                "max_children" => {
                    o.max_children = Some(v.parse().map_err(|_| {
                        format!(
                            "{}: [main] max_children {v:?} is not a number",
                            path.display()
                        )
                    })?)
                }
                "nodaemon" => o.nodaemon = yes(&v),
                "log_hostnames" => o.log_hostnames = yes(&v),
                "loghttpvialogger" => {}
                "pidfile" => o.pidfile = rel(&v),
                "logfile" => o.logfile = rel(&v),
                "multiprocess" => o.multiprocess = Some(v),
                "template" => o.index_template = rel(&v),
                "ssl" => o.ssl = yes(&v),
                "pem" => o.pem = rel(&v),
                "include_headers" => {
                    o.include_headers = v
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "http_version" => o.http_version = Some(v),
                other => return Err(format!("{}: unknown option [main] {other}", path.display())),
            },
            other => return Err(format!("{}: unknown section [{other}]", path.display())),
        }
    }
    Ok(())
}

fn save_config(o: &Options) -> Result<(), String> {
    let path = Path::new("config.ini");
    if path.exists() {
        std::fs::rename(path, "config.bak")
            .map_err(|e| format!("moving config.ini to config.bak: {e}"))?;
    }
    let p = |v: &Option<PathBuf>| {
        v.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let mut s = String::from("[main]\n\n");
    s.push_str(&format!(
        "# Host name of the Roundup web server instance.\nhost = {}\n\n",
        o.host.clone().unwrap_or_else(|| "localhost".into())
    ));
    s.push_str(&format!(
        "# Port to listen on.\nport = {}\n\n",
        o.port.unwrap_or(8080)
    ));
    s.push_str(&format!(
        "# Path to favicon.ico image file.\nfavicon = {}\n\n",
        p(&o.favicon)
    ));
    s.push_str(&format!(
        "# User ID as which the server will answer requests.\nuser = {}\n\n",
        o.user.clone().unwrap_or_default()
    ));
    s.push_str(&format!(
        "# Group ID as which the server will answer requests.\ngroup = {}\n\n",
        o.group.clone().unwrap_or_default()
    ));
    s.push_str(&format!(
        "# Maximum number of concurrent request workers.\nmax_children = {}\n\n",
        o.max_children.unwrap_or(40)
    ));
    s.push_str(&format!(
        "# Don't run in the background.\nnodaemon = {}\n\n",
        if o.nodaemon { "yes" } else { "no" }
    ));
    s.push_str(&format!(
        "# Log client machine names.\nlog_hostnames = {}\n\n",
        if o.log_hostnames { "yes" } else { "no" }
    ));
    s.push_str(&format!(
        "# File for the process id of the daemon.\npidfile = {}\n\n",
        p(&o.pidfile)
    ));
    s.push_str(&format!(
        "# Log file path.\nlogfile = {}\n\n",
        p(&o.logfile)
    ));
    s.push_str(&format!(
        "# Processing mode: debug, none, thread, fork.\nmultiprocess = {}\n\n",
        o.multiprocess.clone().unwrap_or_else(|| "fork".into())
    ));
    s.push_str(&format!(
        "# Tracker index template.\ntemplate = {}\n\n",
        p(&o.index_template)
    ));
    s.push_str(&format!(
        "# Enable SSL support.\nssl = {}\n\n",
        if o.ssl { "yes" } else { "no" }
    ));
    s.push_str(&format!(
        "# PEM file used for SSL.\npem = {}\n\n",
        p(&o.pem)
    ));
    s.push_str(&format!(
        "# Extra headers passed to the trackers.\ninclude_headers = {}\n\n",
        o.include_headers.join(",")
    ));
    s.push_str(&format!(
        "# HTTP version.\nhttp_version = {}\n\n",
        o.http_version.clone().unwrap_or_else(|| "HTTP/1.1".into())
    ));
    s.push_str("# Roundup trackers to serve.\n[trackers]\n\n");
    for (name, home) in &o.trackers {
        s.push_str(&format!("{name} = {}\n", home.display()));
    }
    std::fs::write(path, s).map_err(|e| format!("writing config.ini: {e}"))
}

fn parse_args(args: Vec<String>) -> (Options, bool) {
    let mut o = Options::default();
    let mut cli = Options::default();
    let mut save = false;
    let mut config: Option<PathBuf> = None;
    let mut it = args.into_iter();
    let mut positional = Vec::new();
    let need = |it: &mut std::vec::IntoIter<String>, flag: &str| -> String {
        it.next()
            .unwrap_or_else(|| fail(&format!("option {flag} needs a value\n{USAGE}")))
    };
    let mut set_port = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                roundup_web::outln!("{USAGE}");
                std::process::exit(0)
            }
            "-v" | "--version" => {
                roundup_web::outln!("roundup-server {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0)
            }
            "--save-config" => save = true,
            "-C" | "--config" => config = Some(PathBuf::from(need(&mut it, &a))),
            "-n" => cli.host = Some(need(&mut it, &a)),
            "-p" => {
                let v = need(&mut it, &a);
                set_port = Some(
                    v.parse::<u16>()
                        .unwrap_or_else(|_| fail(&format!("-p {v}: not a port number"))),
                );
            }
            "-d" => cli.pidfile = Some(PathBuf::from(need(&mut it, &a))),
            "-D" => cli.nodaemon = true,
            "-l" => cli.logfile = Some(PathBuf::from(need(&mut it, &a))),
            "-L" => {}
            "-t" => cli.multiprocess = Some(need(&mut it, &a)),
            "-m" => {
                let v = need(&mut it, &a);
                cli.max_children = Some(
                    v.parse()
                        .unwrap_or_else(|_| fail(&format!("-m {v}: not a number"))),
                );
            }
            "-P" => cli.log_forwarded = true,
            "-N" => cli.log_hostnames = true,
            "-i" => cli.index_template = Some(PathBuf::from(need(&mut it, &a))),
            "-I" => {
                cli.include_headers = need(&mut it, &a)
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }
            "-s" => cli.ssl = true,
            "-e" => cli.pem = Some(PathBuf::from(need(&mut it, &a))),
            "-V" => cli.http_version = Some(need(&mut it, &a)),
            "-u" => cli.user = Some(need(&mut it, &a)),
            "-g" => cli.group = Some(need(&mut it, &a)),
            s if s.starts_with('-') && s.len() > 1 => fail(&format!("unknown option {s}\n{USAGE}")),
            _ => positional.push(a),
        }
    }
    if let Some(c) = &config {
        if let Err(e) = read_config(c, &mut o) {
            fail(&e);
        }
    }
    // command line wins over the config file
    macro_rules! over {
        ($f:ident) => {
            if cli.$f.is_some() {
                o.$f = cli.$f.clone();
            }
        };
    }
    over!(host);
    over!(pidfile);
    over!(logfile);
    over!(multiprocess);
    over!(max_children);
    over!(index_template);
    over!(pem);
    over!(http_version);
    over!(user);
    over!(group);
    if let Some(p) = set_port {
        o.port = Some(p);
    }
    o.nodaemon |= cli.nodaemon;
    o.log_forwarded |= cli.log_forwarded;
    o.log_hostnames |= cli.log_hostnames;
    o.ssl |= cli.ssl;
    if !cli.include_headers.is_empty() {
        o.include_headers = cli.include_headers;
    }
    for p in positional {
        let Some((name, home)) = p.split_once('=') else {
            fail(&format!(
                "{p:?}: trackers are given as name=tracker_home\n{USAGE}"
            ))
        };
        let home = std::path::absolute(home).unwrap_or_else(|_| PathBuf::from(home));
        o.trackers.retain(|(n, _)| n != name);
        o.trackers.push((name.to_string(), home));
    }
    (o, save)
}

fn lookup_uid(user: &str) -> Option<libc::uid_t> {
    if let Ok(n) = user.parse() {
        return Some(n);
    }
    let c = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        None
    } else {
        // SAFETY: checked non-null above.
        Some(unsafe { (*pw).pw_uid })
    }
}

fn lookup_gid(group: &str) -> Option<libc::gid_t> {
    if let Ok(n) = group.parse() {
        return Some(n);
    }
    let c = std::ffi::CString::new(group).ok()?;
    // SAFETY: getgrnam returns a pointer to static storage or null.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        None
    } else {
        // SAFETY: checked non-null above.
        Some(unsafe { (*gr).gr_gid })
    }
}

/// Switch to `-g`/`-u` after binding (only possible as root).
fn drop_privileges(o: &Options) -> Result<(), String> {
    if o.user.is_none() && o.group.is_none() {
        return Ok(());
    }
    // SAFETY: plain libc calls without pointers.
    if unsafe { libc::getuid() } != 0 {
        roundup_web::errln!("roundup-server: WARNING: not started as root; ignoring -u/-g");
        return Ok(());
    }
    if let Some(g) = &o.group {
        let gid = lookup_gid(g).ok_or_else(|| format!("-g {g}: no such group"))?;
        // SAFETY: setgroups with one valid gid, then setgid.
        unsafe {
            if libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 {
                return Err(format!(
                    "-g {g}: cannot change group: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    if let Some(u) = &o.user {
        let uid = lookup_uid(u).ok_or_else(|| format!("-u {u}: no such user"))?;
        // SAFETY: setuid with a looked-up uid.
        if unsafe { libc::setuid(uid) } != 0 {
            return Err(format!(
                "-u {u}: cannot change user: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Fork into the background (before any threads exist) and write the pid.
fn daemonise(pidfile: &Path) -> Result<(), String> {
    // SAFETY: called before the runtime starts, so the process has one thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("cannot fork: {}", std::io::Error::last_os_error()));
    }
    if pid > 0 {
        std::process::exit(0);
    }
    // SAFETY: new session for the child.
    unsafe {
        libc::setsid();
    }
    // SAFETY: second fork so the daemon is not a session leader.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("cannot fork: {}", std::io::Error::last_os_error()));
    }
    if pid > 0 {
        std::process::exit(0);
    }
    std::fs::write(pidfile, format!("{}\n", std::process::id()))
        .map_err(|e| format!("writing pid file {}: {e}", pidfile.display()))?;
    // stdin from /dev/null
    if let Ok(devnull) = std::fs::File::open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: duplicating a valid descriptor onto stdin.
        unsafe {
            libc::dup2(devnull.as_raw_fd(), 0);
        }
    }
    Ok(())
}

fn redirect_stdio(logfile: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logfile)
        .map_err(|e| format!("opening log file {}: {e}", logfile.display()))?;
    // SAFETY: duplicating a valid descriptor onto stdout/stderr.
    unsafe {
        libc::dup2(f.as_raw_fd(), 1);
        libc::dup2(f.as_raw_fd(), 2);
    }
    Ok(())
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    roundup_web::server::tune_memory();
    let (o, save) = parse_args(std::env::args().skip(1).collect());
    if save {
        match save_config(&o) {
            Ok(()) => {
                roundup_web::outln!("Configuration saved to config.ini");
                return;
            }
            Err(e) => fail(&e),
        }
    }
    if o.trackers.is_empty() {
        fail(&format!("no trackers given\n{USAGE}"));
    }
    let mode = o.multiprocess.clone().unwrap_or_else(|| "fork".into());
    let mode = match mode.as_str() {
        "fork" | "thread" | "debug" | "none" => mode,
        other => {
            roundup_web::errln!(
                "roundup-server: multiprocess mode {other:?} is not available; using \"none\""
            );
            "none".into()
        }
    };
    let keep_alive = match o.http_version.as_deref() {
        None | Some("HTTP/1.1") => true,
        Some("HTTP/1.0") => false,
        Some(other) => fail(&format!("-V {other}: use HTTP/1.1 or HTTP/1.0")),
    };
    if o.log_hostnames {
        roundup_web::errln!(
            "roundup-server: -N (host names in the log) is not supported; logging addresses"
        );
    }
    let daemon = o.pidfile.is_some() && !o.nodaemon;
    if daemon && o.logfile.is_none() {
        fail("-d needs -l (a log file), since a background server has no terminal");
    }
    let settings = ServerSettings {
        include_headers: o.include_headers.clone(),
        favicon: o.favicon.clone(),
        index_template: o.index_template.clone(),
        log_forwarded_for: o.log_forwarded,
        reopen_trackers: mode == "debug",
        ..ServerSettings::default()
    };
    let mut app = match App::open(&o.trackers, settings) {
        Ok(a) => a,
        Err(e) => fail(&e.to_string()),
    };
    let tls = if o.ssl {
        match &o.pem {
            Some(p) => Some(server::tls::from_pem_file(p).unwrap_or_else(|e| fail(&e))),
            None => {
                let host = o.host.clone().unwrap_or_else(|| "localhost".into());
                let (cfg, _pem) = server::tls::self_signed(&[host]).unwrap_or_else(|e| fail(&e));
                roundup_web::errln!("roundup-server: using a temporary self-signed certificate");
                Some(cfg)
            }
        }
    } else {
        None
    };
    let host = o.host.clone().unwrap_or_else(|| "localhost".into());
    let host = if host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        host
    };
    let port = o.port.unwrap_or(8080);
    let std_listener = std::net::TcpListener::bind((host.as_str(), port))
        .unwrap_or_else(|e| fail(&format!("cannot listen on {host}:{port}: {e}")));
    let addr = std_listener.local_addr().ok();
    if let Err(e) = drop_privileges(&o) {
        fail(&e);
    }
    if daemon {
        if let Some(pf) = &o.pidfile {
            if let Err(e) = daemonise(pf) {
                fail(&e);
            }
        }
    }
    if let Some(lf) = &o.logfile {
        if daemon {
            if let Err(e) = redirect_stdio(lf) {
                fail(&e);
            }
        }
    }
    let log: server::LogSink = match (&o.logfile, daemon) {
        (Some(lf), false) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(lf)
        {
            Ok(f) => Arc::new(Mutex::new(Box::new(f))),
            Err(e) => fail(&format!("opening log file {}: {e}", lf.display())),
        },
        _ => Arc::new(Mutex::new(Box::new(std::io::stderr()))),
    };
    app.log = Some(log);
    let max = o.max_children.unwrap_or(40).max(1);
    let runtime = if mode == "none" {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .thread_stack_size(roundup_web::server::THREAD_STACK)
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(max)
            .thread_stack_size(roundup_web::server::THREAD_STACK)
            .build()
    };
    let runtime = runtime.unwrap_or_else(|e| fail(&format!("starting the runtime: {e}")));
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(a) = addr {
        let names: Vec<&str> = app.trackers.keys().map(String::as_str).collect();
        roundup_web::errln!(
            "roundup-server: serving {} at {scheme}://{a}/ (mode {mode})",
            names.join(", ")
        );
    }
    let app = Arc::new(app);
    let result = runtime.block_on(async move {
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let opts = ServeOptions {
            keep_alive,
            ..ServeOptions::default()
        };
        server::serve(listener, app, tls, opts, server::shutdown_signal()).await
    });
    if let Some(pf) = &o.pidfile {
        if daemon {
            let _ = std::fs::remove_file(pf);
        }
    }
    if let Err(e) = result {
        fail(&format!("serving: {e}"));
    }
    roundup_web::errln!("roundup-server: stopped");
}
