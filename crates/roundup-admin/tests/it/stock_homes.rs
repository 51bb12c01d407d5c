//! Roundup 2.6's own stock tracker homes, made by Roundup 2.6's
//! `roundup-admin install` at test time and not touched afterwards, run
//! with this roundup-admin: their schema.py, initial_data.py and detectors
//! are Roundup's Python. The same commands go to Roundup 2.6 on a twin
//! home, and the results must be the same: the stock detectors' effects
//! (statusauditor, userauditor refusals, nosyreaction's nosy additions,
//! messagesummary, no_texthtml) included.

use std::path::Path;
use std::process::Command;

use roundup_testkit::Roundup26;

const ADMIN: &str = env!("CARGO_BIN_EXE_roundup-admin");

/// Settings given to `install` (Roundup's documented key=value form).
const SETTINGS: &str = "mail_domain=example.com,password_pbkdf2_default_rounds=1000";

/// Our roundup-admin on `home` with `args`: (success, stdout + stderr).
pub(crate) fn ours(home: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(ADMIN)
        .arg("-i")
        .arg(home)
        .args(args)
        .output()
        .expect("run roundup-admin");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub(crate) fn theirs(r: &Roundup26, home: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["-i", home.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = r.output(Roundup26::ADMIN, &all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// What must agree: the `Error:` line of a refusal, the exception line of
/// a crash (Roundup prints a traceback, we print it under `Error:`), or
/// the whole output.
fn normalise(text: &str) -> String {
    if text.contains("Traceback (most recent call last)") {
        let after = text
            .split("Traceback (most recent call last)")
            .nth(1)
            .unwrap_or("");
        let exc = after
            .lines()
            .find(|l| {
                !l.starts_with(' ')
                    && l.split(':')
                        .next()
                        .is_some_and(|w| w.ends_with("Error") || w.ends_with("Exception"))
            })
            .unwrap_or("?");
        return format!("crash: {exc}");
    }
    if let Some(line) = text.lines().find(|l| l.starts_with("Error: ")) {
        return line.to_string();
    }
    text.trim_end().to_string()
}

/// Install template `name` with Roundup 2.6 into `home`.
/// Roundup 2.6's own `install` of stock template `name` at `home`.
pub(crate) fn install_stock(r: &Roundup26, home: &Path, name: &str) {
    r.admin(&[
        "-i",
        home.to_str().expect("utf-8 path"),
        "install",
        name,
        "sqlite",
        SETTINGS,
    ]);
}

fn classes(r: &Roundup26, home: &Path) -> Vec<String> {
    let (_, text) = theirs(r, home, &["classes"]);
    text.lines().map(|l| l.trim().to_string()).collect()
}

/// The commands both sides run for a template whose issue-like class is
/// `item` (None for the minimal template, which has users only).
fn steps(item: Option<&str>, has_file: bool) -> Vec<Vec<String>> {
    let mut s: Vec<Vec<String>> = vec![
        vec![
            "create",
            "user",
            "username=alice",
            "address=alice@example.com",
            "roles=User",
        ],
        vec!["create", "user", "username=bad name"],
        vec![
            "create",
            "user",
            "username=bob",
            "address=alice@example.com",
        ],
        vec!["create", "user", "username=bob", "address=not an address"],
        vec!["create", "user", "username=carol", "roles=Nope"],
        vec!["create", "user", "username=dave", "timezone=Mars/Base"],
        vec!["create", "user", "username=dave", "timezone=99"],
        vec!["create", "user", "username=erin", "timezone=5"],
        vec!["set", "user3", "address=alice@example.net"],
        vec!["list", "user"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    if let Some(item) = item {
        let one = format!("{item}1");
        for cmd in [
            vec![
                "create",
                "msg",
                "content=Hello there. More text here.\n\n> quoted\n-- \nsig\nx",
                "author=3",
            ],
            vec!["create", item, "title=first", "messages=1"],
            vec!["get", "status", &one],
            vec!["get", "nosy", &one],
            vec!["create", "msg", "content=Reply from the admin!", "author=1"],
            vec!["set", &one, "messages=1,2"],
            vec!["get", "status", &one],
            vec!["get", "nosy", &one],
            vec!["set", &one, "assignedto=3"],
            vec!["get", "nosy", &one],
            vec!["get", "summary", "msg1"],
            vec!["get", "summary", "msg2"],
        ] {
            s.push(cmd.into_iter().map(String::from).collect());
        }
    }
    if has_file {
        for cmd in [
            vec![
                "create",
                "file",
                "content=<b>x</b>",
                "name=a.html",
                "type=text/html",
            ],
            vec!["get", "type", "file1"],
        ] {
            s.push(cmd.into_iter().map(String::from).collect());
        }
    }
    s
}

/// Every file of a home outside `db/`, with its contents.
fn snapshot(home: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).expect("read home") {
            let p = e.expect("dir entry").path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if rel == "db" {
                continue;
            }
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((rel, std::fs::read(&p).expect("read file")));
            }
        }
    }
    let mut out = Vec::new();
    walk(home, home, &mut out);
    out.sort();
    out
}

fn run_template(r: &Roundup26, name: &str) {
    let work = r.workdir();
    let (reference, mine) = (work.path().join("reference"), work.path().join("ours"));
    install_stock(r, &reference, name);
    install_stock(r, &mine, name);
    r.admin(&["-i", reference.to_str().unwrap(), "initialise", "secret"]);
    let before = snapshot(&mine);
    let (ok, text) = ours(&mine, &["initialise", "secret"]);
    assert!(
        ok,
        "{name}: our initialise of Roundup's home failed:\n{text}"
    );
    let cls = classes(r, &reference);
    let item = ["issue", "bug"]
        .into_iter()
        .find(|c| cls.iter().any(|x| x == c));
    let has_file = cls.iter().any(|c| c == "file");
    let mut compared = 0;
    for step in steps(item, has_file) {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let (_, want) = theirs(r, &reference, &args);
        let (_, got) = ours(&mine, &args);
        assert_eq!(
            normalise(&got),
            normalise(&want),
            "{name}: `roundup-admin {}` differs\n--- Roundup 2.6:\n{want}\n--- ours:\n{got}",
            args.join(" ")
        );
        compared += 1;
    }
    // the home is as Roundup made it: only its database changed
    assert_eq!(snapshot(&mine), before, "{name}: files of the home changed");
    assert!(compared >= 9, "{name}: only {compared} steps compared");
}

/// The effects the comparison covers, asserted outright for classic (so
/// that two equal wrong answers cannot pass).
#[test]
fn classic_detectors_have_their_effects() {
    let Some(r) = Roundup26::find() else { return };
    let work = r.workdir();
    let home = work.path().join("classic");
    install_stock(&r, &home, "classic");
    assert!(ours(&home, &["initialise", "secret"]).0);
    assert!(
        ours(
            &home,
            &["create", "user", "username=alice", "address=a@example.com"]
        )
        .0
    );
    let (ok, text) = ours(&home, &["create", "user", "username=bad name"]);
    assert!(!ok);
    assert!(
        text.contains("Username/Login Name must consist only of"),
        "{text}"
    );
    assert!(ours(&home, &["create", "msg", "content=Hi there.", "author=3"]).0);
    assert!(ours(&home, &["create", "issue", "title=t", "messages=1"]).0);
    let status = ours(&home, &["get", "status", "issue1"]).1;
    let name = ours(&home, &["get", "name", &format!("status{}", status.trim())]).1;
    assert_eq!(name.trim(), "unread");
    assert_eq!(ours(&home, &["get", "nosy", "issue1"]).1.trim(), "['3']");
    assert!(ours(&home, &["create", "msg", "content=Answer.", "author=1"]).0);
    assert!(ours(&home, &["set", "issue1", "messages=1,2"]).0);
    let status = ours(&home, &["get", "status", "issue1"]).1;
    let name = ours(&home, &["get", "name", &format!("status{}", status.trim())]).1;
    assert_eq!(name.trim(), "chatting");
    assert_eq!(
        ours(&home, &["get", "summary", "msg1"]).1.trim(),
        "Hi there."
    );
}

#[test]
fn roundup26_classic_home_runs_unchanged() {
    if let Some(r) = Roundup26::find() {
        run_template(&r, "classic");
    }
}

#[test]
fn roundup26_minimal_home_runs_unchanged() {
    if let Some(r) = Roundup26::find() {
        run_template(&r, "minimal");
    }
}

#[test]
fn roundup26_responsive_home_runs_unchanged() {
    if let Some(r) = Roundup26::find() {
        run_template(&r, "responsive");
    }
}

#[test]
fn roundup26_devel_home_runs_unchanged() {
    if let Some(r) = Roundup26::find() {
        run_template(&r, "devel");
    }
}

#[test]
fn roundup26_jinja2_home_runs_unchanged() {
    if let Some(r) = Roundup26::find() {
        run_template(&r, "jinja2");
    }
}

/// A detector reading `db.config` sees the values typed as Roundup 2.6
/// types them (BooleanOption 1/0, numbers, paths joined to the home, None
/// for empty nullable options, lists, compiled regular expressions): the
/// same detector, added to twin classic homes, reports the same.
#[test]
fn db_config_values_are_typed_as_in_roundup() {
    let Some(r) = Roundup26::find() else { return };
    let work = r.workdir();
    let (reference, mine) = (work.path().join("reference"), work.path().join("ours"));
    const PROBE: &str = r#"
from roundup.exceptions import Reject

NAMES = ['WEB_DEBUG', 'INSTANT_REGISTRATION', 'PASSWORD_PBKDF2_DEFAULT_ROUNDS',
         'UMASK', 'DATABASE', 'TEMPLATES', 'STATIC_FILES', 'TRACKER_LANGUAGE',
         'MAIL_DEBUG', 'MAIL_PORT', 'WEB_JWT_SECRET', 'WEB_ALLOWED_API_ORIGINS',
         'INDEXER_STOPWORDS', 'MAIL_DOMAIN',
         'WEB_CSRF_ENFORCE_TOKEN', 'NOSY_ADD_AUTHOR', 'ADD_AUTHOR_TO_NOSY',
         'RDBMS_PORT', 'WEB_API_INTERVAL_IN_SEC']


def probe(db, cl, nodeid, newvalues):
    out = []
    for name in NAMES:
        v = db.config[name]
        out.append('%s=%s:%r' % (name, type(v).__name__, v))
    try:
        out.append('TRACKER_WEB=%r' % (db.config.TRACKER_WEB,))
    except Exception as e:
        out.append('TRACKER_WEB:%s:%s' % (type(e).__name__, e))
    sign = db.config.MAILGW_SIGN_RE
    out.append('MAILGW_SIGN_RE=%s' % sign.pattern)
    out.append('match=%s' % bool(sign.match('-- ')))
    raise Reject(' '.join(out))


def init(db):
    db.keyword.audit('create', probe)
"#;
    let mut reports = Vec::new();
    for home in [&reference, &mine] {
        install_stock(&r, home, "classic");
        std::fs::write(home.join("detectors/zz_probe.py"), PROBE).expect("write probe");
    }
    r.admin(&["-i", reference.to_str().unwrap(), "initialise", "secret"]);
    assert!(ours(&mine, &["initialise", "secret"]).0);
    let (_, want) = theirs(&r, &reference, &["create", "keyword", "name=x"]);
    let (_, got) = ours(&mine, &["create", "keyword", "name=x"]);
    for (text, home) in [(want, &reference), (got, &mine)] {
        // Roundup's roundup-admin shows the Reject as a traceback, ours as
        // an error line: the report is compared
        let line = text
            .lines()
            .find_map(|l| l.find("WEB_DEBUG=").map(|i| l[i..].to_string()))
            .unwrap_or_else(|| panic!("no report in:\n{text}"));
        reports.push(line.replace(home.to_str().unwrap(), "HOME"));
    }
    assert!(reports[0].contains("WEB_DEBUG=int:0"), "{}", reports[0]);
    assert!(
        reports[0].contains("DATABASE=str:'HOME/db'"),
        "{}",
        reports[0]
    );
    assert_eq!(reports[1], reports[0]);
}
