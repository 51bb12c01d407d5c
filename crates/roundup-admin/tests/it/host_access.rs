//! `[main] python_host_access = no`: a tracker whose Python may not use
//! files, processes or sockets, as an administrator sets it up.

use std::path::Path;
use std::process::Command;

use crate::stock_homes::ours as admin;

const ADMIN: &str = env!("CARGO_BIN_EXE_roundup-admin");

fn set_option(home: &Path, value: &str) {
    let path = home.join("config.ini");
    let text = std::fs::read_to_string(&path).expect("config.ini");
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("python_host_access"))
        .map(|l| {
            if l.trim() == "[main]" {
                format!("[main]\npython_host_access = {value}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, text).expect("write config.ini");
}

const PEEK: &str = r#"
import os


def peek(db, cl, nodeid, newvalues):
    # os and os.path import; reading a file is refused
    newvalues['title'] = os.path.basename('/x/y') + open('/etc/hostname').read()


def init(db):
    db.issue.audit('create', peek)
"#;

#[test]
fn host_access_off_refuses_files_and_on_allows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("t");
    let home_s = home.to_str().expect("utf-8");
    let out = Command::new(ADMIN)
        .args([
            "-i",
            home_s,
            "install",
            "classic",
            "sqlite",
            "mail_domain=example.com,password_pbkdf2_default_rounds=1000",
        ])
        .output()
        .expect("install");
    assert!(out.status.success(), "{out:?}");
    assert!(admin(&home, &["initialise", "secret"]).0);
    std::fs::write(home.join("detectors/peek.py"), PEEK).expect("write detector");

    // off: the detector's open() is refused, naming the option; nothing
    // is created, and the rest of the tracker works
    set_option(&home, "no");
    let (ok, text) = admin(&home, &["create", "issue", "title=x"]);
    assert!(!ok, "{text}");
    assert!(text.contains("peek.py:7: PermissionError"), "{text}");
    assert!(
        text.contains("[main] python_host_access = no in config.ini"),
        "{text}"
    );
    // no warning that the option is unknown
    assert!(!text.contains("not a Roundup option"), "{text}");
    let (ok, text) = admin(&home, &["list", "issue"]);
    assert!(ok, "{text}");
    assert_eq!(text.trim(), "");
    assert!(admin(&home, &["list", "status"]).1.contains("unread"));

    // on (the default): the same detector reads the file
    set_option(&home, "yes");
    let (ok, text) = admin(&home, &["create", "issue", "title=x"]);
    assert!(ok, "{text}");
    let hostname = std::fs::read_to_string("/etc/hostname").expect("hostname");
    let (_, title) = admin(&home, &["get", "title", "issue1"]);
    assert_eq!(title.trim_end(), format!("y{}", hostname.trim_end()));

    // a value that is not yes or no is an error naming file and option
    set_option(&home, "sometimes");
    let (ok, text) = admin(&home, &["list", "status"]);
    assert!(!ok);
    assert!(
        text.contains("config.ini: [main] python_host_access: \"sometimes\" is not yes or no"),
        "{text}"
    );
}
