//! Detectors: auditors that change or refuse, reactors, priorities,
//! and the db API they use.

use crate::common::{ok, open_db};
use roundup_core::{Db, Error, Value, Values};
use roundup_script::{load_detectors, load_schema, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.star");

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn vals(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect()
}

/// A classic db with the given detector files, acting as a fresh user
/// "alice" (id 1), with statuses and priorities.
fn setup(files: &[(&str, &str)], config: &ConfigView) -> (tempfile::TempDir, Db) {
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, config));
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(l, s)| (l.to_string(), s.to_string()))
        .collect();
    let detectors = ok(load_detectors(&files, &schema, config));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, detectors, "1");
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
    (dir, db)
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
def no_spam(db, cl, nodeid, newvalues):
    if "title" in newvalues and "spam" in newvalues["title"].lower():
        Reject("Spam is not welcome here: %s" % newvalues["title"])

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
    assert!(matches!(err, Error::Reject(_)), "{err:?}");
    assert_eq!(ok(db.get("issue", &id, "title")), Some(s("real bug")));
}

const VALUE_ERR: &str = r#"
def check_user(db, cl, nodeid, newvalues):
    name = newvalues.get("username")
    if name != None and " " in name:
        ValueError("Username may not contain spaces")

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
}

const REACT: &str = r#"
def tag_new(db, cl, nodeid, oldvalues):
    if oldvalues != None:
        fail("oldvalues of a create must be None")
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

const GUARD_KEYWORDS: &str = r#"
def guard(db, cl, nodeid, newvalues):
    if newvalues["name"].startswith("seen-"):
        Reject("keywords may not start with seen-")

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

def init(db):
    db.issue.audit("create", late)
    db.issue.audit("create", early, 50)
    db.issue.audit("create", late, priority=200)
"#;

#[test]
fn priorities_order_auditors() {
    let (_d, db) = setup(&[("detectors/ordered.py", ORDERED)], &ConfigView::new());
    let id = ok(db.create("issue", vals(&[("title", s("t"))])));
    assert_eq!(
        ok(db.get("issue", &id, "title")),
        Some(s("t early late late"))
    );
}

const RETIRE: &str = r#"
def no_retire_open(db, cl, nodeid, newvalues):
    if newvalues != None:
        fail("newvalues of a retire must be None")
    if cl.get(nodeid, "status") != db.status.lookup("resolved"):
        Reject("only resolved issues may be retired")

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
    assert!(matches!(db.retire("issue", &id), Err(Error::Reject(_))));
    assert!(!ok(db.is_retired("issue", &id)));
    ok(db.set("issue", &id, vals(&[("status", s("resolved"))])));
    ok(db.retire("issue", &id));
    assert!(ok(db.is_retired("issue", &id)));
}

const API: &str = r#"
def exercise(db, cl, nodeid, newvalues):
    # class questions
    if cl.classname != "issue" or db.getclass("issue").classname != "issue":
        fail("classname")
    props = cl.getprops()
    if props["status"].type != "Link" or props["status"].classname != "status":
        fail("getprops: %r" % props["status"])
    if props["nosy"].type != "Multilink" or "creation" not in props:
        fail("getprops multilink/automatic")
    if db.status.getkey() != "name" or db.status.labelprop() != "name":
        fail("getkey/labelprop")
    # reading
    uid = db.getuid()
    if db.user.get(uid, "username") != "alice":
        fail("get")
    if db.user.get_roles(uid) != ["user"]:
        fail("get_roles %r" % db.user.get_roles(uid))
    if db.status.lookup("nonesuch", default=None) != None:
        fail("lookup default")
    if db.status.list() != ["1", "2", "3"] or db.status.count() != 3:
        fail("list/count")
    if not db.hasnode("user", uid) or db.user.hasnode("99"):
        fail("hasnode")
    if db.priority.get("1", "order") != 1.0:
        fail("number")
    node = db.user.getnode(uid)
    if node.username != "alice" or node["roles"] != "User":
        fail("getnode")
    if db.user.stringFind(username="alice") != [uid]:
        fail("stringFind")
    if db.user.filter(None, {"username": "ali"}) != [uid]:
        fail("filter words")
    if db.user.filter(None, {}, exact_match_spec={"username": "ali"}) != []:
        fail("filter exact")
    if db.issue.filter(None, {"status": "unread"}) != db.issue.find(status="1"):
        fail("filter by key vs find")
    created = db.user.get(uid, "creation")
    if str(created) < "2000" or created > Date("."):
        fail("dates: %s" % created)
    if not db.security.hasPermission("View", uid, "issue"):
        fail("hasPermission")
    if db.security.hasPermission("Edit", uid, "priority"):
        fail("hasPermission denies")
    if db.config.MAIL_DOMAIN != "example.com":
        fail("config")
    if db.config.detectors["STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS"] != "yes":
        fail("detector config")
    h = db.user.history(uid)
    if h[0][3] != "create":
        fail("history %r" % h)
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
    assert!(text.starts_with("detectors/boom.py:3:"), "{text}");
    assert!(text.contains("nope"), "{text}");
    assert!(text.contains("Traceback"), "{text}");
    assert!(ok(db.list("issue")).is_empty());
}

#[test]
fn db_errors_inside_a_detector_are_located() {
    let src = "def bad(db, cl, nodeid, newvalues):\n    db.user.get('42', 'username')\n\ndef init(db):\n    db.issue.audit('create', bad)\n";
    let (_d, db) = setup(&[("detectors/bad.py", src)], &ConfigView::new());
    let err = db
        .create("issue", vals(&[("title", s("t"))]))
        .expect_err("must fail");
    let text = err.to_string();
    assert!(text.starts_with("detectors/bad.py:2:"), "{text}");
    assert!(text.contains("user has no node 42"), "{text}");
}

#[test]
fn detector_load_errors() {
    let (schema, _) = ok(load_schema("schema.py", CLASSIC, &ConfigView::new()));
    let cfg = ConfigView::new();
    let no_init = vec![("detectors/x.py".to_string(), "def f(): pass\n".to_string())];
    let err = load_detectors(&no_init, &schema, &cfg).expect_err("no init");
    assert!(err.to_string().contains("detectors/x.py") && err.to_string().contains("init(db)"));

    let bad_event = vec![(
        "detectors/y.py".to_string(),
        "def f(db, cl, n, v): pass\ndef init(db):\n    db.issue.audit('change', f)\n".to_string(),
    )];
    let err = load_detectors(&bad_event, &schema, &cfg).expect_err("bad event");
    assert!(err.to_string().starts_with("detectors/y.py:3:"), "{err}");
    assert!(
        err.to_string()
            .contains("unknown detector event \"change\""),
        "{err}"
    );

    let live_in_init = vec![(
        "detectors/z.py".to_string(),
        "def init(db):\n    db.status.lookup('unread')\n".to_string(),
    )];
    let err = load_detectors(&live_in_init, &schema, &cfg).expect_err("no live db in init");
    assert!(err.to_string().contains("init(db)"), "{err}");

    let unknown_class = vec![(
        "detectors/w.py".to_string(),
        "def f(db, cl, n, v): pass\ndef init(db):\n    db.bug.audit('set', f)\n".to_string(),
    )];
    let err = load_detectors(&unknown_class, &schema, &cfg).expect_err("no bug class");
    assert!(err.to_string().starts_with("detectors/w.py:3:"), "{err}");
}

#[test]
fn detectors_are_send_and_sync() {
    fn needs<T: Send + Sync>(_: &T) {}
    let (schema, _) = ok(load_schema("schema.py", CLASSIC, &ConfigView::new()));
    let files = vec![("d.py".to_string(), PRESET.to_string())];
    let d = ok(load_detectors(&files, &schema, &ConfigView::new()));
    needs(&d);
    assert_eq!(d.len(), (1, 0));
    // usable from another thread
    let handle = std::thread::spawn(move || d.len());
    assert_eq!(handle.join().ok(), Some((1, 0)));
}

const USER_NOTE: &str = r#"
def note(db, cl, nodeid, newvalues):
    if "password" in newvalues and type(newvalues["password"]) != "string":
        fail("passwords reach scripts as their stored text")
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
    ok(db.set("user", &uid, vals(&[("password", Value::Password(pw))])));
    assert_eq!(ok(db.get("user", &uid, "realname")), Some(s("touched")));
    match ok(db.get("user", &uid, "password")) {
        Some(Value::Password(p)) => assert!(p.verify("new secret"), "password was re-hashed"),
        other => panic!("{other:?}"),
    }
}

const PATTERNS: &str = r#"
def check(db, cl, nodeid, newvalues):
    name = newvalues.get("username", "")
    if not re.fullmatch("[a-z0-9_.-]+", name, re.IGNORECASE):
        Reject("bad login name %r" % name)
    if re.search("admin", name, re.I):
        Reject("reserved")
    tz = newvalues.get("timezone")
    if tz and not valid_timezone(tz):
        Reject("unknown time zone " + tz)
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
    for (name, tz, why) in [
        ("two words", "", "bad login name"),
        ("SysAdmin", "", "reserved"),
        ("carol", "Mars/Base", "unknown time zone Mars/Base"),
        ("dave", "+99", "unknown time zone +99"),
    ] {
        let mut v = vals(&[("username", s(name))]);
        if !tz.is_empty() {
            v.insert("timezone".into(), Some(s(tz)));
        }
        match db.create("user", v) {
            Err(Error::Reject(m)) => assert!(m.contains(why), "{name}: {m}"),
            other => panic!("{name}: expected a rejection, got {other:?}"),
        }
    }
    // a bad pattern is a clear value error, not a crash
    const BAD: &str =
        "def init(db):\n    db.issue.audit('create', lambda db, cl, n, v: re.search('(', 'x'))\n";
    let (_d2, db2) = setup(&[("detectors/bad.py", BAD)], &ConfigView::new());
    let err = db2.create("issue", vals(&[("title", s("x"))])).unwrap_err();
    assert!(err.to_string().contains("bad regular expression"), "{err}");
}
