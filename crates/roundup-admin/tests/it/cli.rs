//! End-to-end runs of the roundup-admin binary on temporary trackers.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn admin(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roundup-admin"))
        .arg("-i")
        .arg(home)
        .args(args)
        .env_remove("TRACKER_HOME")
        .env_remove("ROUNDUP_LOGIN")
        .stdin(Stdio::null())
        .output()
        .expect("run roundup-admin")
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = admin(home, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "roundup-admin {args:?} failed ({:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fails(home: &Path, args: &[&str]) -> String {
    let out = admin(home, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail:\n{stdout}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{args:?} panicked"
    );
    stdout
}

fn classic() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("tracker");
    let out = ok(
        &home,
        &["install", "classic", "sqlite", "mail_domain=example.com"],
    );
    assert!(
        out.contains(&home.join("config.ini").display().to_string()),
        "{out}"
    );
    assert!(
        out.contains("[tracker]: web"),
        "unset options listed: {out}"
    );
    ok(&home, &["initialise", "secret"]);
    (tmp, home)
}

#[test]
fn classic_tracker_end_to_end() {
    let (_tmp, home) = classic();
    assert_eq!(
        ok(&home, &["list", "user"]),
        "   1: admin\n   2: anonymous\n"
    );
    assert_eq!(
        ok(
            &home,
            &[
                "create",
                "user",
                "username=demo",
                "roles=User",
                "address=demo@example.com"
            ]
        ),
        "3\n"
    );
    // priority given by name, assigned to admin: the nosy auditor adds admin.
    assert_eq!(
        ok(
            &home,
            &[
                "create",
                "issue",
                "title=disk full",
                "priority=urgent",
                "assignedto=admin"
            ]
        ),
        "1\n"
    );
    assert_eq!(ok(&home, &["get", "priority", "issue1"]), "2\n");
    assert_eq!(ok(&home, &["get", "nosy", "issue1"]), "['1']\n");
    assert_eq!(ok(&home, &["list", "issue"]), "   1: disk full\n");
    assert_eq!(ok(&home, &["find", "issue", "priority=urgent"]), "['1']\n");
    assert_eq!(ok(&home, &["-c", "filter", "issue", "title=disk"]), "1\n");
    assert_eq!(
        ok(&home, &["-d", "filter", "issue", "priority=urgent"]),
        "['issue1']\n"
    );
    // reassigning adds demo to the nosy list (nosyreaction's auditor)
    ok(&home, &["set", "issue1", "assignedto=demo"]);
    assert_eq!(ok(&home, &["get", "nosy", "issue1"]), "['1', '3']\n");
    let history = ok(&home, &["history", "issue1"]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(
        lines[0].starts_with("admin(") && lines[0].ends_with(") create issue"),
        "{history}"
    );
    assert!(lines[1].contains(" set "), "{history}");
    assert!(lines[1].contains("assignedto was admin(1)"), "{history}");
    assert!(
        lines[1].contains("modified nosy: added: demo(3)"),
        "{history}"
    );
    // retire / restore round trip
    ok(&home, &["retire", "issue1"]);
    assert_eq!(ok(&home, &["list", "issue"]), "");
    assert_eq!(
        ok(&home, &["-P", "show_retired=only", "-c", "list", "issue"]),
        "1\n"
    );
    ok(&home, &["restore", "issue1"]);
    assert_eq!(ok(&home, &["-s", "list", "issue"]), "1\n");
}

#[test]
fn changes_are_committed_and_attributed_to_the_u_user() {
    let (_tmp, home) = classic();
    ok(&home, &["create", "user", "username=demo", "roles=User"]);
    ok(
        &home,
        &["-u", "demo:ignored", "create", "keyword", "name=k1"],
    );
    assert_eq!(ok(&home, &["get", "creator", "keyword1"]), "3\n");
    assert_eq!(ok(&home, &["get", "name", "keyword1"]), "k1\n");
    // commit and rollback are accepted outside the shell
    ok(&home, &["commit"]);
    ok(&home, &["rollback"]);
    // a failing second item does not undo the first (Roundup commits anyway)
    ok(&home, &["create", "keyword", "name=k2"]);
    let out = fails(&home, &["set", "keyword", "name=k9"]);
    assert!(out.contains("Error: node with key \"k9\" exists"), "{out}");
    assert_eq!(ok(&home, &["-c", "list", "keyword", "name"]), "k9,k2\n");
}

#[test]
fn error_paths_exit_1_with_one_error_line() {
    let (_tmp, home) = classic();
    let out = fails(&home, &["get", "name", "status99"]);
    assert!(
        out.starts_with("\nError: no such status node \"99\"\n\nUsage: get "),
        "{out}"
    );
    let out = fails(&home, &["display", "status99"]);
    assert!(out.contains("Error: no such status node \"99\""), "{out}");
    let out = fails(&home, &["create", "issue", "priority=nonexist", "title=x"]);
    assert!(
        out.contains("Error: property priority: 'nonexist' is not a priority."),
        "{out}"
    );
    let out = fails(&home, &["find", "issue", "foo=1"]);
    assert!(
        out.contains("Error: 'foo' is not a property of issue"),
        "{out}"
    );
    let out = fails(&home, &["export", "/proc/no/such/dir"]);
    assert!(
        out.starts_with("Error: cannot create /proc/no/such/dir: "),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    let out = fails(&home, &["zap"]);
    assert_eq!(
        out,
        "Unknown command \"zap\" (\"help commands\" for a list)\n"
    );
    let out = fails(&home, &["-x"]);
    assert!(
        out.starts_with("Problem: option -x not recognized\n"),
        "{out}"
    );
    let out = fails(&home, &["-c", "-S", ";", "list", "status"]);
    assert!(
        out.starts_with("Problem: Only one of -c, -S and -s may be specified\n"),
        "{out}"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fails(&tmp.path().join("none"), &["list", "user"]);
    assert!(out.starts_with("Error: Couldn't open tracker: "), "{out}");
}

#[test]
fn pragma_and_no_tracker_commands() {
    let (_tmp, home) = classic();
    let out = ok(&home, &["-P", "show_retired=both", "pragma", "list"]);
    assert!(out.contains("   show_retired=both\n"), "{out}");
    assert!(!out.contains("_inttest"), "hidden without verbose: {out}");
    let out = ok(&home, &["-P", "verbose=1", "pragma", "list"]);
    assert!(out.contains("   _inttest=3\n"), "{out}");
    let out = ok(&home, &["-P", "bogus=1", "list", "priority"]);
    assert!(
        out.starts_with("\nUnknown setting bogus. Try \"pragma list\".\n\n   1: critical\n"),
        "{out}"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("new.ini");
    let nowhere = tmp.path().join("none");
    ok(&nowhere, &["genconfig", cfg.to_str().unwrap()]);
    let text = std::fs::read_to_string(&cfg).expect("genconfig wrote the file");
    assert!(
        text.contains("[main]") && text.contains("[tracker]"),
        "{text}"
    );
    let out = ok(&nowhere, &["templates"]);
    assert!(
        out.contains("\nName: classic\n") && out.contains("\nName: minimal\n"),
        "{out}"
    );
    let out = ok(&nowhere, &["help", "li"]);
    assert!(
        out.starts_with("Usage: list classname [property]\n"),
        "{out}"
    );
    let out = ok(&nowhere, &["-v"]);
    assert!(!out.is_empty());
}

#[test]
fn install_refuses_a_missing_parent_and_asks_before_overwriting() {
    let out = fails(
        Path::new("/nonexistent/dir/x"),
        &["install", "classic", "sqlite"],
    );
    assert!(
        out.starts_with(
            "\nError: Instance home parent directory \"/nonexistent/dir\" does not exist\n"
        ),
        "{out}"
    );
    let (_tmp, home) = classic();
    // answering "n" (here: end of input means no answer) leaves it alone
    let out = Command::new(env!("CARGO_BIN_EXE_roundup-admin"))
        .arg("-i")
        .arg(&home)
        .args(["initialise", "other"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().map(|mut s| s.write_all(b"n\n"));
            c.wait_with_output()
        })
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        ok(&home, &["list", "user"]),
        "   1: admin\n   2: anonymous\n"
    );
}

/// `roundup-admin ... | head -1`: when the reader goes away, roundup-admin
/// ends quietly, as other Unix tools do (SIGPIPE), without a panic, and
/// the same with standard error closed too.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, Write};
    use std::os::unix::process::ExitStatusExt;
    const SIGPIPE: i32 = 13; // Linux
    let dir = tempfile::tempdir().unwrap();
    for close_stderr in [false, true] {
        let err_path = dir.path().join(format!("err-{close_stderr}"));
        let err = std::fs::File::create(&err_path).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roundup-admin"))
            .env_remove("TRACKER_HOME")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(if close_stderr {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::from(err)
            })
            .spawn()
            .unwrap();
        // far more output than a pipe holds: help, again and again
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            for _ in 0..200 {
                if stdin.write_all(b"help all\n").is_err() {
                    break;
                }
            }
        });
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.is_empty());
        drop(child.stderr.take());
        let st = child.wait().unwrap();
        feeder.join().unwrap();
        assert!(
            st.success() || st.signal() == Some(SIGPIPE),
            "roundup-admin ended with {st:?}"
        );
        let text = std::fs::read_to_string(&err_path).unwrap();
        assert!(!text.contains("panicked"), "{text}");
    }
}

/// Each `set` is a process of its own that commits a text or two to the
/// full-text index and exits: the small segments that leaves are merged
/// by the commits themselves, or every search would open hundreds.
#[test]
fn commits_of_short_lived_processes_do_not_pile_up_index_segments() {
    let (_tmp, home) = classic();
    ok(&home, &["create", "issue", "title=wombat burrow"]);
    let meta = home.join("db").join("text-index").join("meta.json");
    let segments = || {
        std::fs::read_to_string(&meta)
            .expect("meta.json")
            .matches("\"segment_id\"")
            .count()
    };
    for n in 0..20 {
        ok(
            &home,
            &["set", "issue1", &format!("title=wombat number{n}")],
        );
        let now = segments();
        assert!(now <= 10, "after commit {n}: {now} segments");
    }
    assert!(segments() >= 1);
}
