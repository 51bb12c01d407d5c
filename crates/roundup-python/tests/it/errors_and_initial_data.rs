//! Syntax and runtime error messages, what Python gives scripts, and
//! initial_data.py.

use crate::common::{ok, open_db};
use roundup_core::detectors::Detectors;
use roundup_core::{Error, Value};
use roundup_python::{load_schema, run_initial_data, run_live, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.py");

fn script_text(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(Error::Script(m)) => m,
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[test]
fn syntax_error_names_file_line_and_statement() {
    let src = "Class(db, \"user\", username=String())\nif True\n    x = 1\n";
    let text = script_text(load_schema("tracker/schema.py", src, &ConfigView::new()));
    assert!(
        text.starts_with("tracker/schema.py:2: SyntaxError: "),
        "{text}"
    );
    assert!(text.contains("\n    if True"), "{text}");
}

#[test]
fn runtime_error_has_message_and_traceback() {
    let src = "def helper(n):\n    return n + undefined_thing\n\nhelper(1)\n";
    let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
    // Python finds an unknown name when the line runs
    assert!(
        text.starts_with("schema.py:2: NameError: name 'undefined_thing' is not defined"),
        "{text}"
    );
    assert!(text.contains("Traceback"), "{text}");

    let src = "def helper(d):\n    return d['missing']\n\nhelper({})\n";
    let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
    assert!(
        text.starts_with("schema.py:2: KeyError: 'missing'"),
        "{text}"
    );
    assert!(text.contains("Traceback"), "{text}");
    assert!(text.contains("helper"), "{text}");
    assert!(text.contains("line 4"), "{text}");
}

#[test]
fn raised_exception_reports_its_message() {
    let text = script_text(load_schema(
        "schema.py",
        "\n\nraise RuntimeError('bad setup')\n",
        &ConfigView::new(),
    ));
    assert!(
        text.starts_with("schema.py:3: RuntimeError: bad setup"),
        "{text}"
    );
}

#[test]
fn missing_module_is_reported_where_it_is_imported() {
    let text = script_text(load_schema(
        "schema.py",
        "import os\nimport tracker_helpers_that_do_not_exist\n",
        &ConfigView::new(),
    ));
    assert!(
        text.starts_with("schema.py:2: ModuleNotFoundError: "),
        "{text}"
    );
    assert!(text.contains("tracker_helpers_that_do_not_exist"), "{text}");
}

#[test]
fn python_statements_and_imports_work_in_schema() {
    let src = r#"
import os
import re
import datetime
from roundup import hyperdb, date, password
from roundup.exceptions import Reject
from roundup.i18n import _

class Extras:
    props = {"note": String}
    def make(self):
        return {k: v() for k, v in self.props.items()}

try:
    raise Reject("caught")
except Reject as e:
    caught = str(e)
finally:
    done = True
if caught != "caught" or not done:
    raise AssertionError("try/except/finally")

with open(os.devnull) as f:
    pass
if not re.match(r"^\w+$", "user") or datetime.date(2024, 1, 1).weekday() != 0:
    raise AssertionError("stdlib")
if String is not hyperdb.String or _("text") != "text":
    raise AssertionError("names")
if date.Interval("1d") + date.Interval("2d") != date.Interval("3d"):
    raise AssertionError("intervals")
Class(db, "user", username=String(), **Extras().make())
"#;
    let (schema, _) = ok(load_schema("schema.py", src, &ConfigView::new()));
    let user = ok(schema.class("user"));
    assert!(user.props.contains_key("note"));
}

#[test]
fn schema_phase_has_no_live_database() {
    let src = "Class(db, \"user\", username=String())\ndb.user.list()\n";
    let text = script_text(load_schema("schema.py", src, &ConfigView::new()));
    assert!(text.starts_with("schema.py:2: RuntimeError: "), "{text}");
    assert!(
        text.contains("needs the database, which schema.py does not have yet"),
        "{text}"
    );
}

#[test]
fn reject_outside_a_detector_is_still_a_reject() {
    let r = load_schema(
        "schema.py",
        "from roundup.exceptions import Reject\nraise Reject('no')\n",
        &ConfigView::new(),
    );
    assert!(matches!(&r, Err(Error::Reject(m)) if m == "no"), "{r:?}");
}

#[test]
fn dialect_features() {
    let src = r#"
from roundup.i18n import _

def f(a, *, b = 2):
    return a + b

if f(1, b = 3) != 4:
    raise AssertionError("keyword-only")
name = "x"
if f"{name}-{f(1)}" != "x-3":
    raise AssertionError("f-string")
if sorted([3, 1, 2]) != [1, 2, 3] or _("text") != "text":
    raise AssertionError("builtins")
s = set([1, 2])
if 2 not in s:
    raise AssertionError("set")
a, *rest = [1, 2, 3]
if rest != [2, 3] or type(rest) is not list or not isinstance(s, set):
    raise AssertionError("unpacking/isinstance")
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
    assert!(text.starts_with("initial_data.py:2: "), "{text}");
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

#[test]
fn run_live_returns_the_repr_of_result() {
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &ConfigView::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let mut cfg = ConfigView::new();
    cfg.set("tracker", "name", "Bugs");
    let src = "k = db.keyword.create(name='x')\nresult = (k, db.keyword.get(k, 'name'), db.config.TRACKER_NAME)\n";
    assert_eq!(
        ok(run_live("live.py", src, &db, &cfg)),
        Some("('1', 'x', 'Bugs')".to_string())
    );
    assert_eq!(ok(run_live("live.py", "x = 1\n", &db, &cfg)), None);
    let text = script_text(run_live("live.py", "\n1 / 0\n", &db, &cfg));
    assert!(text.starts_with("live.py:2: ZeroDivisionError"), "{text}");
}
