//! Test support shared by the workspace's tests.
//!
//! Many tests compare with a reference tool: Roundup 2.6, Chromium,
//! schemathesis, an OpenAPI validator, Python, Redis... On a developer's
//! machine such a tool may be missing, and the test then says so and
//! passes without checking. Under CI (`CI=true`, as `.ci/run` sets it) a
//! missing tool is a failure naming what is missing and how `.ci/run`
//! installs it, so a green CI run means every comparison really ran.
//!
//! ```ignore
//! let Some(st) = find_schemathesis() else {
//!     return roundup_testkit::missing(&roundup_testkit::SCHEMATHESIS);
//! };
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A reference tool and how `.ci/run` provides it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// What is needed, e.g. "Roundup 2.6 (/opt/rvenv/bin/roundup-admin)".
    pub what: &'static str,
    /// How `.ci/run` installs or starts it.
    pub ci_provides: &'static str,
}

pub const ROUNDUP26: Tool = Tool {
    what: "Roundup 2.6 in /opt/rvenv and a user rt to run it as (tests running as root)",
    ci_provides: ".ci/run: `python3 -m venv /opt/rvenv && /opt/rvenv/bin/pip install roundup==2.6.0` and `useradd -m rt`",
};
pub const PYTHON3: Tool = Tool {
    what: "python3 (/usr/bin/python3, with its standard library: sqlite3, xmlrpc.client)",
    ci_provides: ".ci/run: `apt-get install python3 python3-venv`",
};
pub const SCRIPT: Tool = Tool {
    what: "/usr/bin/script (util-linux), to run a command on a pseudo-terminal",
    ci_provides: ".ci/run: `apt-get install util-linux`",
};
pub const CHROMIUM: Tool = Tool {
    what: "Chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver)",
    ci_provides: ".ci/run: `apt-get install chromium chromium-driver`",
};
pub const SCHEMATHESIS: Tool = Tool {
    what: "schemathesis (/opt/stvenv/bin/st)",
    ci_provides: ".ci/run: `python3 -m venv /opt/stvenv && /opt/stvenv/bin/pip install 'schemathesis>=4.32,<5'`",
};
pub const OPENAPI_VALIDATOR: Tool = Tool {
    what: "the OpenAPI validator (/opt/oasv/bin/python with openapi-spec-validator)",
    ci_provides:
        ".ci/run: `python3 -m venv /opt/oasv && /opt/oasv/bin/pip install openapi-spec-validator`",
};
pub const REDIS: Tool = Tool {
    what: "a Redis server named by ROUNDUP_TEST_REDIS (e.g. redis://127.0.0.1:6379)",
    ci_provides: ".ci/run: `apt-get install redis-server`, starts it on 127.0.0.1:6379 and exports ROUNDUP_TEST_REDIS",
};

pub const GNUPG: Tool = Tool {
    what: "GnuPG (/usr/bin/gpg and gpg-agent), to make the PGP tests' throwaway keys",
    ci_provides: ".ci/run: `apt-get install gnupg libgpgme-dev`",
};

pub const PYTHON3_GPG: Tool = Tool {
    what: "Debian's python3-gpg (/usr/lib/python3/dist-packages/gpg), the module Roundup 2.6's [pgp] needs",
    ci_provides: ".ci/run: `apt-get install python3-gpg`",
};

/// Whether this is a CI run (`CI=true`, or any value but empty, `0` and
/// `false`, as CI services set it).
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"),
        Err(_) => false,
    }
}

/// A test cannot run because `tool` is missing (`detail` says what was
/// found missing). Under CI this panics with what is missing and how
/// `.ci/run` provides it; elsewhere it prints that the test was skipped,
/// and the caller returns.
#[track_caller]
pub fn missing_because(tool: &Tool, detail: &str) {
    let caller = std::panic::Location::caller();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    if in_ci() {
        panic!(
            "CI=true but {}{detail} is missing, so the test at {caller} cannot run; {}",
            tool.what, tool.ci_provides
        );
    }
    eprintln!(
        "skipped at {caller}: {}{detail} is missing (CI fails here; {})",
        tool.what, tool.ci_provides
    );
}

/// [`missing_because`] without a detail.
#[track_caller]
pub fn missing(tool: &Tool) {
    missing_because(tool, "")
}

/// Whether we run as root (then Roundup runs as user rt).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Roundup 2.6, run as user rt when the tests run as root (Roundup's
/// trackers must not belong to root, and rt owns what it writes).
#[derive(Clone, Debug)]
pub struct Roundup26 {
    as_rt: bool,
}

impl Roundup26 {
    pub const BIN: &'static str = "/opt/rvenv/bin";
    pub const ADMIN: &'static str = "/opt/rvenv/bin/roundup-admin";
    pub const SERVER: &'static str = "/opt/rvenv/bin/roundup-server";
    pub const PYTHON: &'static str = "/opt/rvenv/bin/python";
    /// Roundup's message catalogs, `<lang>/LC_MESSAGES/roundup.mo`.
    pub const LOCALE: &'static str = "/opt/rvenv/share/locale";

    /// Roundup 2.6 if it can run here; otherwise [`missing`] (a failure
    /// under CI) and `None`.
    #[track_caller]
    pub fn find() -> Option<Roundup26> {
        match Roundup26::detect() {
            Ok(r) => Some(r),
            Err(why) => {
                missing_because(&ROUNDUP26, &why);
                None
            }
        }
    }

    /// Why Roundup 2.6 cannot run here, if it cannot.
    pub fn detect() -> Result<Roundup26, String> {
        if !Path::new(Roundup26::ADMIN).exists() {
            return Err(format!("{} does not exist", Roundup26::ADMIN));
        }
        let as_rt = is_root();
        if as_rt
            && !Command::new("id")
                .arg("rt")
                .output()
                .is_ok_and(|o| o.status.success())
        {
            return Err("there is no user rt to run Roundup as".into());
        }
        Ok(Roundup26 { as_rt })
    }

    /// A command running `program` with `args` (as rt when we are root).
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        if self.as_rt {
            let mut line = shell_quote(program);
            for a in args {
                line.push(' ');
                line.push_str(&shell_quote(a));
            }
            let mut c = Command::new("su");
            c.args(["rt", "-s", "/bin/sh", "-c", &line]);
            c
        } else {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }

    /// Run `program` with `args`; its output, whatever the status.
    pub fn output(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// Run `program` with `args`, which must succeed; its standard output.
    #[track_caller]
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.output(program, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Roundup 2.6's roundup-server on 127.0.0.1:`port` serving `home` as
    /// the tracker `t` (its pid file in `dir`), once it accepts
    /// connections; stopped when the value is dropped.
    #[track_caller]
    pub fn start_server(&self, dir: &Path, home: &Path, port: u16) -> Roundup26Server {
        let pidfile = dir.join("roundup-server.pid");
        let line = format!(
            "echo $$ > {}; exec {} -p {port} t={}",
            pidfile.display(),
            Roundup26::SERVER,
            home.display()
        );
        let child = self
            .command("/bin/sh", &["-c", &line])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Roundup's roundup-server");
        let server = Roundup26Server { child, pidfile };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Roundup's roundup-server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Roundup 2.6's roundup-admin with `args`, which must succeed.
    #[track_caller]
    pub fn admin(&self, args: &[&str]) -> String {
        self.run(Roundup26::ADMIN, args)
    }

    /// A temporary directory Roundup (as rt) may write in.
    pub fn workdir(&self) -> tempfile::TempDir {
        open_tempdir()
    }
}

/// Quote for `sh -c`.
/// A running Roundup 2.6 roundup-server (see [`Roundup26::start_server`]),
/// killed when dropped.
pub struct Roundup26Server {
    child: Child,
    pidfile: PathBuf,
}

impl Drop for Roundup26Server {
    fn drop(&mut self) {
        // (the shell became the server: its pid is in the file; the
        // child handle is `su` when the server runs as rt)
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Put Roundup 2.6's own message catalogs of `langs` in `home`'s
/// `locale/` (as `<lang>.mo`), where a tracker's catalogs are read first.
#[track_caller]
pub fn put_roundup_catalogs(home: &Path, langs: &[&str]) {
    std::fs::create_dir_all(home.join("locale")).expect("the home's locale/");
    for l in langs {
        let mo = Path::new(Roundup26::LOCALE).join(format!("{l}/LC_MESSAGES/roundup.mo"));
        std::fs::copy(&mo, home.join(format!("locale/{l}.mo")))
            .unwrap_or_else(|e| panic!("Roundup 2.6's catalog {}: {e}", mo.display()));
    }
}

/// Give `path` (recursively) to rt when we are root, so that Roundup 2.6,
/// which runs as rt, may write what our side created there.
#[track_caller]
pub fn give_to_rt(path: &Path) {
    if is_root() {
        let st = Command::new("chown")
            .args(["-R", "rt:rt"])
            .arg(path)
            .status()
            .expect("chown");
        assert!(st.success(), "chown of {}", path.display());
    }
}

/// A TCP port on 127.0.0.1 that is free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A temporary directory open to every user (mode 0777), so that Roundup
/// running as rt can write in it.
pub fn open_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir =
        tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temporary directory: {e}"));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.path().display()));
    dir
}

/// Set `option` of `[section]` in a home's config.ini (commented out or
/// not), as an administrator editing the file would.
pub fn set_config_option(home: &Path, section: &str, option: &str, value: &str) {
    let path = home.join("config.ini");
    let text = std::fs::read_to_string(&path).expect("read config.ini");
    let mut out = Vec::new();
    let mut current = String::new();
    let mut done = false;
    for line in text.lines() {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = s.to_string();
        }
        let bare = line.trim_start_matches('#').trim_start();
        let is_it = bare
            .strip_prefix(option)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if !done && current == section && is_it {
            out.push(format!("{option} = {value}"));
            done = true;
        } else {
            out.push(line.to_string());
        }
    }
    assert!(done, "config.ini has no [{section}] {option}");
    std::fs::write(&path, out.join("\n") + "\n").expect("write config.ini");
}

/// Add `lines` at the top of `[section]` in a home's config.ini, for
/// options a generated file does not list (our own).
pub fn add_config_lines(home: &Path, section: &str, lines: &str) {
    let path = home.join("config.ini");
    let text = std::fs::read_to_string(&path).expect("read config.ini");
    let header = format!("[{section}]\n");
    assert!(text.contains(&header), "no [{section}] in config.ini");
    let text = text.replacen(&header, &format!("{header}{lines}\n"), 1);
    std::fs::write(&path, text).expect("write config.ini");
}

/// The messages of a `[mail] debug` file (Roundup's layout: a `From `
/// line, `FROM:` and `TO:` lines, then the message), in order, as
/// (recipients as on the `TO:` line, the message text).
pub fn debug_mails(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut starts: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            lines[i].starts_with("From ")
                && lines.get(i + 1).is_some_and(|l| l.starts_with("FROM: "))
        })
        .collect();
    starts.push(lines.len());
    starts
        .windows(2)
        .map(|w| {
            let entry = &lines[w[0]..w[1]];
            let to = entry.get(2).unwrap_or(&"").trim_start_matches("TO: ");
            (to.to_string(), entry.get(3..).unwrap_or(&[]).join("\n"))
        })
        .collect()
}
