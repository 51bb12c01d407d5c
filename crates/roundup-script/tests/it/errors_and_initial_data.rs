//! Syntax and runtime error messages, the sandbox, and initial_data.py.

use crate::common::{ok, open_db};
use roundup_core::detectors::Detectors;
use roundup_core::{Error, Value};
use roundup_script::{load_schema, run_initial_data, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.star");

fn script_text(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(Error::Script(m)) => m,
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let src = "Class(db, \"user\", username=String())\nif True\n    x = 1\n";
    let text = script_text(load_schema("tracker/schema.py", src, &ConfigView::new()));
    assert!(text.starts_with("tracker/schema.py:2:8: "), "{text}");
    assert!(text.to_lowercase().contains("parse error"), "{text}");
}

#[test]
fn runtime_error_has_message_and_traceback() {
    let src = "def helper(n):\n    return n + undefined_thing\n\nhelper(1)\n";
    let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
    // an unknown name is found when the script is compiled
    assert!(text.starts_with("schema.py:2:16: "), "{text}");
    assert!(text.contains("undefined_thing"), "{text}");

    let src = "def helper(d):\n    return d['missing']\n\nhelper({})\n";
    let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
    assert!(text.starts_with("schema.py:2:12: "), "{text}");
    assert!(text.contains("missing"), "{text}");
    assert!(text.contains("Traceback"), "{text}");
    assert!(text.contains("helper"), "{text}");
}

#[test]
fn fail_reports_its_message() {
    let text = script_text(load_schema(
        "schema.py",
        "\n\nfail('bad setup')\n",
        &ConfigView::new(),
    ));
    assert!(text.starts_with("schema.py:3:1: "), "{text}");
    assert!(text.contains("bad setup"), "{text}");
}

#[test]
fn load_is_not_available() {
    let text = script_text(load_schema(
        "schema.py",
        "load('other.star', 'x')\n",
        &ConfigView::new(),
    ));
    assert!(text.starts_with("schema.py:1:1: "), "{text}");
}

#[test]
fn python_only_statements_are_syntax_errors() {
    for src in [
        "import os\n",
        "from roundup import date\n",
        "try:\n    pass\nexcept:\n    pass\n",
    ] {
        let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
        assert!(text.starts_with("schema.py:1:"), "{src:?}: {text}");
    }
}

#[test]
fn schema_phase_has_no_live_database() {
    let src = "Class(db, \"user\", username=String())\ndb.user.list()\n";
    let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
    assert!(text.starts_with("schema.py:2:"), "{text}");
    assert!(text.contains("open database"), "{text}");
}

#[test]
fn reject_outside_a_detector_is_still_a_reject() {
    let r = load_schema("schema.py", "Reject('no')\n", &ConfigView::new());
    assert!(matches!(r, Err(Error::Reject(m)) if m == "no"));
}

#[test]
fn dialect_features() {
    let src = r#"
def f(a, *, b = 2):
    return a + b

if f(1, b = 3) != 4:
    fail("keyword-only")
name = "x"
if f"{name}-{f(1)}" != "x-3":
    fail("f-string")
if sorted([3, 1, 2]) != [1, 2, 3] or _("text") != "text":
    fail("builtins")
s = set([1, 2])
if 2 not in s:
    fail("set")
Class(db, "user", username=String())
"#;
    ok(load_schema("schema.py", src, &ConfigView::new()));
}

const INITIAL: &str = r#"
pri = db.getclass("priority")
for i, name in enumerate(["critical", "urgent", "bug", "feature", "wish"]):
    pri.create(name=name, order=str(i + 1))

stat = db.getclass("status")
for i, name in enumerate(["unread", "deferred", "chatting", "need-eg",
                          "in-progress", "testing", "done-cbb", "resolved"]):
    stat.create(name=name, order=str(i + 1))

user = db.getclass("user")
user.create(username="admin", password=adminpw, address=admin_email, roles="Admin")
user.create(username="anonymous", roles="Anonymous")
"#;

#[test]
fn initial_data_creates_items() {
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &ConfigView::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    ok(run_initial_data(
        "initial_data.py",
        INITIAL,
        &db,
        "sekrit",
        "root@example.com",
    ));
    ok(db.commit());
    assert_eq!(ok(db.list("priority")).len(), 5);
    assert_eq!(ok(db.list("status")).len(), 8);
    let bug = ok(db.lookup("priority", "bug"));
    assert_eq!(
        ok(db.get("priority", &bug, "order")),
        Some(Value::Number(3.0))
    );
    let admin = ok(db.lookup("user", "admin"));
    assert_eq!(
        ok(db.get("user", &admin, "address")),
        Some(Value::String("root@example.com".into()))
    );
    match ok(db.get("user", &admin, "password")) {
        Some(Value::Password(p)) => assert!(p.verify("sekrit")),
        other => panic!("password not stored as a password: {other:?}"),
    }
    assert_eq!(ok(db.user_roles(&admin)), vec!["admin".to_string()]);
}

#[test]
fn initial_data_errors_name_the_file() {
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &ConfigView::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let src =
        "db.priority.create(name='a', order='1')\ndb.priority.create(name='b', order='high')\n";
    let text = script_text(run_initial_data("initial_data.py", src, &db, "pw", "a@b"));
    assert!(text.starts_with("initial_data.py:2:"), "{text}");
    assert!(
        text.contains("priority.order is a Number property"),
        "{text}"
    );
    // a duplicate key is a value error from the database, passed on as is
    let src = "db.priority.create(name='c')\ndb.priority.create(name='c')\n";
    let r = run_initial_data("initial_data.py", src, &db, "pw", "a@b");
    assert!(
        matches!(&r, Err(Error::Value(m)) if m.contains("exists")),
        "{r:?}"
    );
}
