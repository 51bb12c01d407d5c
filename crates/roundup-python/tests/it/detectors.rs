//! Detectors: auditors that change or refuse, reactors, priorities,
//! and the db API they use.

use crate::common::{ok, open_db, open_sqlite_db};
use roundup_core::detectors::Detectors;
use roundup_core::{Db, Error, Value, Values};
use roundup_python::{load_detectors, load_schema, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.py");

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn vals(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect()
}

fn files_of(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(l, s)| (l.to_string(), s.to_string()))
        .collect()
}

/// A classic db with the given detector files, acting as a fresh user
/// "alice" (id 1), with statuses and priorities.
fn setup(files: &[(&str, &str)], config: &ConfigView) -> (tempfile::TempDir, Db) {
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, config));
    let detectors = ok(load_detectors(&files_of(files), &schema, &security, config));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, detectors, "1");
    fill(&db);
    (dir, db)
}

/// Alice, three statuses and a priority.
fn fill(db: &Db) {
    ok(db.create(
        "user",
        vals(&[("username", s("alice")), ("roles", s("User"))]),
    ));
    for (i, name) in ["unread", "chatting", "resolved"].iter().enumerate() {
        ok(db.create(
            "status",
            vals(&[("name", s(name)), ("order", Value::Number(i as f64 + 1.0))]),
        ));
    }
    ok(db.create(
        "priority",
        vals(&[("name", s("bug")), ("order", Value::Number(1.0))]),
    ));
    ok(db.commit());
}

const PRESET: &str = r#"
def preset(db, cl, nodeid, newvalues):
    if not newvalues.get("status"):
        newvalues["status"] = db.status.lookup("unread")
    newvalues["title"] = newvalues["title"].strip().capitalize()
    nosy = newvalues.get("nosy", [])
    if db.getuid() not in nosy:
        newvalues["nosy"] = nosy + [db.getuid()]

def init(db):
    db.issue.audit("create", preset)
"#;

#[test]
fn auditor_modifies_newvalues() {
    let (_d, db) = setup(&[("detectors/preset.py", PRESET)], &ConfigView::new());
    let id = ok(db.create("issue", vals(&[("title", s("  crash on start"))])));
    assert_eq!(ok(db.get("issue", &id, "title")), Some(s("Crash on start")));
    assert_eq!(
        ok(db.get("issue", &id, "status")),
        Some(Value::Link("1".into()))
    );
    assert_eq!(
        ok(db.get("issue", &id, "nosy")),
        Some(Value::Multilink(vec!["1".into()]))
    );
}

const NO_SPAM: &str = r#"
from roundup.exceptions import Reject

def no_spam(db, cl, nodeid, newvalues):
    if "title" in newvalues and "spam" in newvalues["title"].lower():
        raise Reject("Spam is not welcome here: %s" % newvalues["title"])

def init(db):
    db.issue.audit("create", no_spam)
    db.issue.audit("set", no_spam)
"#;

#[test]
fn rejecting_auditor_stops_the_change() {
    let (_d, db) = setup(&[("detectors/nospam.py", NO_SPAM)], &ConfigView::new());
    let err = db
        .create("issue", vals(&[("title", s("Buy SPAM now"))]))
        .expect_err("must be rejected");
    match err {
        Error::Reject(m) => assert_eq!(m, "Spam is not welcome here: Buy SPAM now"),
        other => panic!("expected a Reject, got {other:?}"),
    }
    assert!(ok(db.list("issue")).is_empty());
    // an accepted create, then a rejected set leaves the old title
    let id = ok(db.create("issue", vals(&[("title", s("real bug"))])));
    let err = db
        .set("issue", &id, vals(&[("title", s("spam"))]))
        .expect_err("must be rejected");
    assert!(
        matches!(&err, Error::Reject(m) if m == "Spam is not welcome here: spam"),
        "{err:?}"
    );
    assert_eq!(ok(db.get("issue", &id, "title")), Some(s("real bug")));
}

const VALUE_ERR: &str = r#"
def check_user(db, cl, nodeid, newvalues):
    name = newvalues.get("username")
    if name is not None and " " in name:
        raise ValueError("Username may not contain spaces")

def init(db):
    db.user.audit("create", check_user)
"#;

#[test]
fn value_error_reaches_the_caller_as_value_error() {
    let (_d, db) = setup(
        &[("detectors/userauditor.py", VALUE_ERR)],
        &ConfigView::new(),
    );
    let err = db
        .create("user", vals(&[("username", s("bad name"))]))
        .expect_err("must fail");
    match err {
        Error::Value(m) => assert_eq!(m, "Username may not contain spaces"),
        other => panic!("expected a Value error, got {other:?}"),
    }
    assert!(ok(db.lookup("user", "alice")).parse::<u64>().is_ok());
    assert!(db.lookup("user", "bad name").is_err());
}

const REACT: &str = r#"
def tag_new(db, cl, nodeid, oldvalues):
    if oldvalues is not None:
        raise AssertionError("oldvalues of a create must be None")
    db.keyword.create(name=f"seen-{nodeid}")

def note_change(db, cl, nodeid, oldvalues):
    if oldvalues["title"] != cl.get(nodeid, "title"):
        kw = db.keyword.lookup("seen-" + nodeid)
        db.keyword.set(kw, name="renamed-%s-from-%s" % (nodeid, oldvalues["title"]))

def init(db):
    db.issue.react("create", tag_new)
    db.issue.react("set", note_change)
"#;

#[test]
fn reactor_creates_and_changes_other_items() {
    let (_d, db) = setup(&[("detectors/react.py", REACT)], &ConfigView::new());
    let id = ok(db.create("issue", vals(&[("title", s("one"))])));
    let kw = ok(db.lookup("keyword", &format!("seen-{id}")));
    ok(db.set("issue", &id, vals(&[("title", s("two"))])));
    assert_eq!(
        ok(db.get("keyword", &kw, "name")),
        Some(s(&format!("renamed-{id}-from-one")))
    );
}

const OLD_VALUES: &str = r#"
from roundup import date

def record(db, cl, nodeid, oldvalues):
    # the reactor runs after the change: cl.get gives the new values,
    # oldvalues the ones before it, as Python values of their types
    new = cl.get(nodeid, "status")
    old = oldvalues["status"]
    text = "%s->%s nosy=%r pri=%r" % (
        db.status.get(old, "name"), db.status.get(new, "name"),
        oldvalues["nosy"], oldvalues.get("priority"))
    if not isinstance(oldvalues["activity"], date.Date):
        raise AssertionError("activity is %r" % (oldvalues["activity"],))
    if oldvalues["activity"] > cl.get(nodeid, "activity"):
        raise AssertionError("old activity is later than the new one")
    db.keyword.create(name=text)

def init(db):
    db.issue.react("set", record)
"#;

#[test]
fn reactor_sees_old_values() {
    let (_d, db) = setup(&[("detectors/old.py", OLD_VALUES)], &ConfigView::new());
    let id = ok(db.create(
        "issue",
        vals(&[
            ("title", s("t")),
            ("status", Value::Link("1".into())),
            ("nosy", Value::Multilink(vec!["1".into()])),
        ]),
    ));
    ok(db.set(
        "issue",
        &id,
        vals(&[
            ("status", s("resolved")),
            ("nosy", Value::Multilink(Vec::new())),
        ]),
    ));
    let kws: Vec<Option<Value>> = ok(db.list("keyword"))
        .iter()
        .map(|k| ok(db.get("keyword", k, "name")))
        .collect();
    assert_eq!(kws, vec![Some(s("unread->resolved nosy=['1'] pri=None"))]);
}

const GUARD_KEYWORDS: &str = r#"
from roundup.exceptions import Reject

def guard(db, cl, nodeid, newvalues):
    if newvalues["name"].startswith("seen-"):
        raise Reject("keywords may not start with seen-")

def init(db):
    db.keyword.audit("create", guard)
"#;

#[test]
fn rejection_inside_a_reactor_undoes_the_whole_operation() {
    let (_d, db) = setup(
        &[
            ("detectors/react.py", REACT),
            ("detectors/guard.py", GUARD_KEYWORDS),
        ],
        &ConfigView::new(),
    );
    let err = db
        .create("issue", vals(&[("title", s("x"))]))
        .expect_err("must fail");
    assert!(
        matches!(&err, Error::Reject(m) if m == "keywords may not start with seen-"),
        "{err:?}"
    );
    assert!(ok(db.list("issue")).is_empty());
    assert!(ok(db.list("keyword")).is_empty());
}

const ORDERED: &str = r#"
def late(db, cl, nodeid, newvalues):
    newvalues["title"] = newvalues["title"] + " late"

def early(db, cl, nodeid, newvalues):
    newvalues["title"] = newvalues["title"] + " early"

def earliest(db, cl, nodeid, newvalues):
    newvalues["title"] = newvalues["title"] + " earliest"

def init(db):
    db.issue.audit("create", late)
    db.issue.audit("create", early, 50)
    db.issue.audit("create", late, priority=200)
    db.issue.audit("create", earliest, priority=-5)
"#;

#[test]
fn priorities_order_auditors() {
    let (_d, db) = setup(&[("detectors/ordered.py", ORDERED)], &ConfigView::new());
    let id = ok(db.create("issue", vals(&[("title", s("t"))])));
    assert_eq!(
        ok(db.get("issue", &id, "title")),
        Some(s("t earliest early late late"))
    );
}

const RETIRE: &str = r#"
from roundup.exceptions import Reject

def no_retire_open(db, cl, nodeid, newvalues):
    if newvalues is not None:
        raise AssertionError("newvalues of a retire must be None")
    if cl.get(nodeid, "status") != db.status.lookup("resolved"):
        raise Reject("only resolved issues may be retired")

def init(db):
    db.issue.audit("retire", no_retire_open)
"#;

#[test]
fn retire_auditor_gets_no_newvalues() {
    let (_d, db) = setup(&[("detectors/retire.py", RETIRE)], &ConfigView::new());
    let id = ok(db.create(
        "issue",
        vals(&[("title", s("t")), ("status", Value::Link("1".into()))]),
    ));
    assert!(
        matches!(db.retire("issue", &id), Err(Error::Reject(m)) if m == "only resolved issues may be retired")
    );
    assert!(!ok(db.is_retired("issue", &id)));
    ok(db.set("issue", &id, vals(&[("status", s("resolved"))])));
    ok(db.retire("issue", &id));
    assert!(ok(db.is_retired("issue", &id)));
}

const API: &str = r#"
from roundup import hyperdb
from roundup.date import Date

def check(cond, what):
    if not cond:
        raise AssertionError(what)

def exercise(db, cl, nodeid, newvalues):
    # class questions
    check(cl.classname == "issue" and db.getclass("issue").classname == "issue",
          "classname")
    props = cl.getprops()
    check(isinstance(props["status"], hyperdb.Link)
          and props["status"].classname == "status",
          "getprops: %r" % props["status"])
    check(isinstance(props["nosy"], hyperdb.Multilink) and "creation" in props,
          "getprops multilink/automatic")
    check(db.status.getkey() == "name" and db.status.labelprop() == "name",
          "getkey/labelprop")
    # reading
    uid = db.getuid()
    check(db.user.get(uid, "username") == "alice", "get")
    roles = list(db.user.get_roles(uid))
    check(roles == ["user"], "get_roles %r" % roles)
    try:
        db.status.lookup("nonesuch")
    except KeyError:
        pass
    else:
        raise AssertionError("lookup of a missing key")
    check(db.status.list() == ["1", "2", "3"] and db.status.count() == 3,
          "list/count")
    check(db.hasnode("user", uid) and not db.user.hasnode("99"), "hasnode")
    check(db.priority.get("1", "order") == 1.0, "number")
    node = db.user.getnode(uid)
    check(node.username == "alice" and node["roles"] == "User", "getnode")
    check(db.user.stringFind(username="alice") == [uid], "stringFind")
    check(db.user.filter(None, {"username": "ali"}) == [uid], "filter words")
    check(db.user.filter(None, {}, exact_match_spec={"username": "ali"}) == [],
          "filter exact")
    check(db.issue.filter(None, {"status": "unread"}) == db.issue.find(status="1"),
          "filter by key vs find")
    created = db.user.get(uid, "creation")
    check(isinstance(created, Date), "creation is a Date: %r" % (created,))
    check(str(created) >= "2000" and created <= Date("."), "dates: %s" % created)
    check(db.security.hasPermission("View", uid, "issue"), "hasPermission")
    check(not db.security.hasPermission("Edit", uid, "priority"),
          "hasPermission denies")
    check(db.config.MAIL_DOMAIN == "example.com", "config")
    check(db.config.detectors["STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS"] == "yes",
          "detector config")
    h = db.user.history(uid)
    check(h[0][3] == "create", "history %r" % h)
    newvalues["title"] = "checked " + str(len(db.issue.list()))

def init(db):
    db.issue.audit("create", exercise)
"#;

#[test]
fn detector_db_api() {
    let mut cfg = ConfigView::new();
    cfg.set("mail", "domain", "example.com");
    cfg.set_detector_option("statusauditor", "chatting_requires_two_users", "yes");
    let (_d, db) = setup(&[("detectors/api.py", API)], &cfg);
    let first = ok(db.create(
        "issue",
        vals(&[("title", s("a")), ("status", Value::Link("1".into()))]),
    ));
    assert_eq!(ok(db.get("issue", &first, "title")), Some(s("checked 0")));
    let second = ok(db.create("issue", vals(&[("title", s("b"))])));
    assert_eq!(ok(db.get("issue", &second, "title")), Some(s("checked 1")));
}

#[test]
fn runtime_error_in_detector_names_file_and_line() {
    let src = "def boom(db, cl, nodeid, newvalues):\n    x = 1\n    return x + newvalues['nope']\n\ndef init(db):\n    db.issue.audit('create', boom)\n";
    let (_d, db) = setup(&[("detectors/boom.py", src)], &ConfigView::new());
    let err = db
        .create("issue", vals(&[("title", s("t"))]))
        .expect_err("must fail");
    let text = err.to_string();
    assert!(matches!(err, Error::Script(_)), "{err:?}");
    assert!(
        text.starts_with("detectors/boom.py:3: KeyError: 'nope'"),
        "{text}"
    );
    assert!(text.contains("Traceback"), "{text}");
    assert!(ok(db.list("issue")).is_empty());
}

#[test]
fn zero_division_in_an_auditor_fails_only_that_change() {
    let src = "\ndef ratio(db, cl, nodeid, newvalues):\n    n = len(newvalues.get('title', ''))\n    newvalues['title'] = 'r=%d' % (10 // (n - 3))\n\ndef init(db):\n    db.issue.audit('create', ratio)\n";
    let (_d, db) = setup(&[("detectors/ratio.py", src)], &ConfigView::new());
    let err = db
        .create("issue", vals(&[("title", s("abc"))]))
        .expect_err("must fail");
    let text = err.to_string();
    assert!(matches!(err, Error::Script(_)), "{err:?}");
    assert!(
        text.starts_with("detectors/ratio.py:4: ZeroDivisionError:"),
        "{text}"
    );
    assert!(text.contains("Traceback"), "{text}");
    assert!(text.contains("in ratio"), "{text}");
    assert!(ok(db.list("issue")).is_empty());
    // the next change goes through
    let id = ok(db.create("issue", vals(&[("title", s("abcde"))])));
    assert_eq!(ok(db.get("issue", &id, "title")), Some(s("r=5")));
}

#[test]
fn db_errors_inside_a_detector_are_located() {
    let src = "def bad(db, cl, nodeid, newvalues):\n    db.user.get('42', 'username')\n\ndef init(db):\n    db.issue.audit('create', bad)\n";
    let (_d, db) = setup(&[("detectors/bad.py", src)], &ConfigView::new());
    let err = db
        .create("issue", vals(&[("title", s("t"))]))
        .expect_err("must fail");
    let text = err.to_string();
    assert!(
        text.starts_with("detectors/bad.py:2: IndexError:"),
        "{text}"
    );
    assert!(text.contains("user has no node 42"), "{text}");
}

/// The error every change gets once `files` are loaded (which succeeds),
/// after checking that reading still works.
fn broken_load_report(files: &[(&str, &str)]) -> String {
    let cfg = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &cfg));
    let detectors = ok(load_detectors(&files_of(files), &schema, &security, &cfg));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, detectors, "1");
    let err = db
        .create("user", vals(&[("username", s("alice"))]))
        .expect_err("changes fail while a detector is broken");
    let Error::Script(text) = err else {
        panic!("expected a script error, got {err:?}");
    };
    assert!(ok(db.list("user")).is_empty());
    assert_eq!(ok(db.count("status")), 0);
    text
}

#[test]
fn detector_load_errors() {
    let text = broken_load_report(&[("detectors/x.py", "def f(): pass\n")]);
    assert!(
        text.starts_with("detector detectors/x.py could not be loaded: "),
        "{text}"
    );
    assert!(text.contains("must define init(db)"), "{text}");

    let text = broken_load_report(&[(
        "detectors/y.py",
        "def f(db, cl, n, v): pass\ndef init(db):\n    db.issue.audit('change', f)\n",
    )]);
    assert!(text.contains("detectors/y.py:3:"), "{text}");
    assert!(text.contains("unknown detector event \"change\""), "{text}");

    let text = broken_load_report(&[(
        "detectors/z.py",
        "def init(db):\n    db.status.lookup('unread')\n",
    )]);
    assert!(text.contains("detectors/z.py:2:"), "{text}");
    assert!(text.contains("init(db)"), "{text}");

    let text = broken_load_report(&[(
        "detectors/w.py",
        "def f(db, cl, n, v): pass\ndef init(db):\n    db.bug.audit('set', f)\n",
    )]);
    assert!(text.contains("detectors/w.py:3:"), "{text}");
    assert!(text.contains("bug"), "{text}");

    let text = broken_load_report(&[(
        "detectors/v.py",
        "def init(db):\n    raise RuntimeError('not configured')\n",
    )]);
    assert!(
        text.contains("detectors/v.py:2: RuntimeError: not configured"),
        "{text}"
    );
}

const SYNTAX_ERROR: &str = "def init(db):\n    db.issue.audit('create', f)\n\ndef f(db, cl, nodeid, newvalues)\n    pass\n";

#[test]
fn detector_with_a_syntax_error_blocks_changes_but_not_reads() {
    let cfg = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &cfg));
    let dir = tempfile::tempdir().expect("tempdir");
    // items made before the broken detector arrived (SQLite keeps them)
    let (issue, gone) = {
        let db = open_sqlite_db(
            dir.path(),
            schema.clone(),
            security.clone(),
            Detectors::new(),
            "1",
        );
        fill(&db);
        let issue = ok(db.create("issue", vals(&[("title", s("old"))])));
        let gone = ok(db.create("issue", vals(&[("title", s("gone"))])));
        ok(db.retire("issue", &gone));
        ok(db.commit());
        (issue, gone)
    };
    let files = files_of(&[
        ("detectors/preset.py", PRESET),
        ("detectors/broken.py", SYNTAX_ERROR),
    ]);
    // loading succeeds: the tracker opens
    let detectors = ok(load_detectors(&files, &schema, &security, &cfg));
    let db = open_sqlite_db(dir.path(), schema, security, detectors, "1");
    let check = |what: &str, r: roundup_core::Result<()>| match r {
        Err(Error::Script(m)) => {
            assert!(
                m.starts_with(
                    "detector detectors/broken.py could not be loaded: \
                     detectors/broken.py:4: SyntaxError"
                ),
                "{what}: {m}"
            );
        }
        other => panic!("{what}: expected a script error, got {other:?}"),
    };
    check(
        "create user",
        db.create("user", vals(&[("username", s("bob"))]))
            .map(|_| ()),
    );
    check(
        "create issue",
        db.create("issue", vals(&[("title", s("new"))])).map(|_| ()),
    );
    check(
        "set status",
        db.set("status", "1", vals(&[("name", s("new"))]))
            .map(|_| ()),
    );
    check(
        "set issue",
        db.set("issue", &issue, vals(&[("title", s("changed"))]))
            .map(|_| ()),
    );
    check("retire", db.retire("issue", &issue));
    check("restore", db.restore("issue", &gone));
    ok(db.rollback());
    // reading works, and nothing changed
    assert_eq!(ok(db.list("issue")), vec![issue.clone()]);
    assert_eq!(ok(db.get("issue", &issue, "title")), Some(s("old")));
    assert!(ok(db.is_retired("issue", &gone)));
    assert_eq!(ok(db.lookup("status", "unread")), "1");
    assert_eq!(ok(db.list("user")).len(), 1);
}

#[test]
fn detectors_are_send_and_sync() {
    fn needs<T: Send + Sync>(_: &T) {}
    let cfg = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &cfg));
    let files = vec![("d.py".to_string(), PRESET.to_string())];
    let d = ok(load_detectors(&files, &schema, &security, &cfg));
    needs(&d);
    assert_eq!(d.len(), (1, 0));
    // usable from another thread (which gets its own virtual machine)
    let handle = std::thread::spawn(move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path(), schema, security, d, "1");
        fill(&db);
        let id = ok(db.create("issue", vals(&[("title", s(" from a thread"))])));
        ok(db.get("issue", &id, "title"))
    });
    assert_eq!(handle.join().ok(), Some(Some(s("From a thread"))));
}

const USER_NOTE: &str = r#"
from roundup import password

def note(db, cl, nodeid, newvalues):
    pw = newvalues.get("password")
    if pw is not None:
        if not isinstance(pw, password.Password):
            raise AssertionError("passwords reach detectors as Password objects")
        if not pw == "new secret" or pw == "wrong":
            raise AssertionError("Password compares with clear text")
    newvalues["realname"] = "touched"

def init(db):
    db.user.audit("set", note)
"#;

#[test]
fn untouched_values_keep_their_exact_form() {
    use roundup_core::password::{Password, Scheme};
    let (_d, db) = setup(&[("detectors/note.py", USER_NOTE)], &ConfigView::new());
    let uid = ok(db.lookup("user", "alice"));
    let pw = Password::hash("new secret", Scheme::Pbkdf2S5, 1000);
    let stored = pw.as_str().to_string();
    ok(db.set("user", &uid, vals(&[("password", Value::Password(pw))])));
    assert_eq!(ok(db.get("user", &uid, "realname")), Some(s("touched")));
    match ok(db.get("user", &uid, "password")) {
        Some(Value::Password(p)) => {
            assert_eq!(p.as_str(), stored, "password was re-hashed");
            assert!(p.verify("new secret"));
        }
        other => panic!("{other:?}"),
    }
}

const PATTERNS: &str = r#"
import datetime
import re

from roundup.date import get_timezone
from roundup.exceptions import Reject

def valid_timezone(tz):
    # as Roundup's userauditor: the zone must be known and usable
    try:
        zone = get_timezone(tz)
        zone.localize(datetime.datetime.now()).utctimetuple()
    except (KeyError, ValueError):
        return False
    return True

def check(db, cl, nodeid, newvalues):
    name = newvalues.get("username", "")
    if not re.fullmatch("[a-z0-9_.-]+", name, re.IGNORECASE):
        raise Reject("bad login name %r" % name)
    if re.search("admin", name, re.I):
        raise Reject("reserved")
    tz = newvalues.get("timezone")
    if tz and not valid_timezone(tz):
        raise Reject("unknown time zone " + tz)
    newvalues["realname"] = re.sub("[._-]+", " ", name)
    newvalues["address"] = "-".join(re.split("[.]", name)) + "@" + str(len(re.findall("[0-9]", name)))

def init(db):
    db.user.audit("create", check)
"#;

#[test]
fn regular_expressions_and_timezone_checks_in_detectors() {
    let (_d, db) = setup(&[("detectors/names.py", PATTERNS)], &ConfigView::new());
    let id = ok(db.create(
        "user",
        vals(&[
            ("username", s("Jo.Ann_2")),
            ("timezone", s("Europe/Vienna")),
        ]),
    ));
    assert_eq!(ok(db.get("user", &id, "realname")), Some(s("Jo Ann 2")));
    assert_eq!(ok(db.get("user", &id, "address")), Some(s("Jo-Ann_2@1")));
    let id = ok(db.create(
        "user",
        vals(&[("username", s("eve")), ("timezone", s("-5"))]),
    ));
    assert_eq!(ok(db.get("user", &id, "timezone")), Some(s("-5")));
    for (name, tz, why) in [
        ("two words", "", "bad login name 'two words'"),
        ("SysAdmin", "", "reserved"),
        ("carol", "Mars/Base", "unknown time zone Mars/Base"),
        ("dave", "+99", "unknown time zone +99"),
    ] {
        let mut v = vals(&[("username", s(name))]);
        if !tz.is_empty() {
            v.insert("timezone".into(), Some(s(tz)));
        }
        match db.create("user", v) {
            Err(Error::Reject(m)) => assert_eq!(m, why, "{name}"),
            other => panic!("{name}: expected a rejection, got {other:?}"),
        }
    }
    // a bad pattern is Python's re.error, located in the detector
    const BAD: &str =
        "import re\n\ndef init(db):\n    db.issue.audit('create', lambda db, cl, n, v: re.search('(', 'x'))\n";
    let (_d2, db2) = setup(&[("detectors/bad.py", BAD)], &ConfigView::new());
    let err = db2.create("issue", vals(&[("title", s("x"))])).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Script(_)), "{err:?}");
    assert!(text.starts_with("detectors/bad.py:4: "), "{text}");
    assert!(
        text.contains("missing ), unterminated subpattern"),
        "{text}"
    );
}

const PYTHONIC: &str = r#"
import datetime
import re
from collections import Counter

from roundup.exceptions import Reject

WORD = re.compile(r"[a-z]+")


class Policy:
    """Detector state kept in a class, as bigger trackers do."""

    def __init__(self, banned):
        self.banned = set(banned)
        self.seen = Counter()

    def words(self, text):
        return WORD.findall(text.lower())

    def __call__(self, db, cl, nodeid, newvalues):
        title = newvalues.get("title")
        if title is None:
            return
        try:
            bad = next(w for w in self.words(title) if w in self.banned)
        except StopIteration:
            bad = None
        if bad:
            raise Reject("the word %r is not allowed" % bad)
        self.seen.update(self.words(title))
        year = datetime.date(2024, 2, 29) + datetime.timedelta(days=366)
        newvalues["title"] = "%s [%s, %d]" % (title, year.isoformat(),
                                             self.seen["bug"])


def init(db):
    policy = Policy(["spam", "eggs"])
    db.issue.audit("create", policy)
    db.issue.audit("set", policy)
"#;

#[test]
fn detectors_use_python_classes_exceptions_and_the_standard_library() {
    let (_d, db) = setup(&[("detectors/policy.py", PYTHONIC)], &ConfigView::new());
    let id = ok(db.create("issue", vals(&[("title", s("A bug"))])));
    assert_eq!(
        ok(db.get("issue", &id, "title")),
        Some(s("A bug [2025-03-01, 1]"))
    );
    match db.create("issue", vals(&[("title", s("Green EGGS and ham"))])) {
        Err(Error::Reject(m)) => assert_eq!(m, "the word 'eggs' is not allowed"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // the instance keeps its state between calls
    ok(db.set("issue", &id, vals(&[("title", s("bug bug"))])));
    assert_eq!(
        ok(db.get("issue", &id, "title")),
        Some(s("bug bug [2025-03-01, 3]"))
    );
}

const RUNAWAY: &str = r#"
def forever(db, cl, nodeid, newvalues):
    if newvalues.get("title") == "loop":
        n = 0
        while True:
            n += 1

def init(db):
    db.issue.audit("create", forever)
"#;

#[test]
fn the_watchdog_stops_a_runaway_detector() {
    let (_d, db) = setup(&[("detectors/runaway.py", RUNAWAY)], &ConfigView::new());
    roundup_python::set_thread_time_limit(Some(std::time::Duration::from_millis(300)));
    let started = std::time::Instant::now();
    let err = db
        .create("issue", vals(&[("title", s("loop"))]))
        .expect_err("the runaway detector must be stopped");
    roundup_python::set_thread_time_limit(None);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "stopped only after {:?}",
        started.elapsed()
    );
    match &err {
        Error::Script(m) => {
            assert!(m.contains("detectors/runaway.py:"), "{m}");
            assert!(m.contains("TimeoutError"), "{m}");
            assert!(m.contains("ran longer than 0.3 seconds"), "{m}");
        }
        other => panic!("expected a script error, got {other:?}"),
    }
    ok(db.rollback());
    // the tracker goes on: the next change runs the same detector
    let id = ok(db.create("issue", vals(&[("title", s("fine"))])));
    assert_eq!(ok(db.get("issue", &id, "title")), Some(s("fine")));
}

const RUNAWAY_CHECK: &str = r#"

def runaway(db, userid, itemid):
    while True:
        db.user.get(userid, "username")

p = db.security.addPermission(name="Frobnicate", klass="issue", check=runaway)
db.security.addPermissionToRole("User", p)
"#;

/// Checks are watched at function and database calls (not every line, to
/// keep index pages cheap): a check looping over database calls is stopped.
#[test]
fn the_watchdog_stops_a_runaway_check_function() {
    let config = ConfigView::new();
    let schema_src = format!("{CLASSIC}{RUNAWAY_CHECK}");
    let (schema, security) = ok(load_schema("schema.py", &schema_src, &config));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    fill(&db);
    let id = ok(db.create("issue", vals(&[("title", s("t"))])));
    roundup_python::set_thread_time_limit(Some(std::time::Duration::from_millis(300)));
    let r = db
        .security()
        .has_permission(&db, "Frobnicate", "1", Some("issue"), None, Some(&id));
    roundup_python::set_thread_time_limit(None);
    match r {
        Err(Error::Script(m)) => {
            assert!(m.contains("TimeoutError"), "{m}");
            assert!(m.contains("schema.py:"), "{m}");
        }
        other => panic!("expected the watchdog's script error, got {other:?}"),
    }
}

/// Detectors import modules of their own folder; two trackers of one
/// process with a module of the same name each get their own.
#[test]
fn detectors_import_their_own_folders_modules() {
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let mut dbs = Vec::new();
    let dirs: Vec<_> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    for (dir, word) in dirs.iter().zip(["alpha", "beta"]) {
        let det = dir.path().join("detectors");
        std::fs::create_dir_all(&det).expect("mkdir");
        std::fs::write(det.join("rules.py"), format!("WORD = {word:?}\n")).expect("write");
        let source = "from rules import WORD\nfrom roundup.exceptions import Reject\n\ndef check(db, cl, nodeid, newvalues):\n    if WORD in (newvalues.get('title') or ''):\n        raise Reject('no ' + WORD)\n\ndef init(db):\n    db.issue.audit('create', check)\n";
        let detectors = ok(load_detectors(
            &[(
                det.join("words.py").display().to_string(),
                source.to_string(),
            )],
            &schema,
            &security,
            &config,
        ));
        dbs.push(open_db(
            dir.path(),
            schema.clone(),
            security.clone(),
            detectors,
            "1",
        ));
    }
    let create = |db: &roundup_core::Db, title: &str| {
        let mut v = roundup_core::Values::new();
        v.insert("title".into(), Some(Value::String(title.into())));
        db.create("issue", v)
    };
    let err = create(&dbs[0], "alpha").expect_err("first refuses alpha");
    assert!(err.to_string().contains("no alpha"), "{err}");
    ok(create(&dbs[0], "beta"));
    let err = create(&dbs[1], "beta").expect_err("second refuses beta");
    assert!(err.to_string().contains("no beta"), "{err}");
    ok(create(&dbs[1], "alpha"));
}
