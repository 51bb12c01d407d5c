//! The same scripts against the real SQLite backend.

use crate::common::{ok, open_sqlite_db};
use roundup_core::{Error, Value, Values};
use roundup_python::{load_detectors, load_schema, run_initial_data, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.py");

const INITIAL: &str = r#"
for i, name in enumerate(["unread", "chatting", "resolved"]):
    db.status.create(name=name, order=str(i + 1))
db.user.create(username="admin", password=adminpw, address=admin_email, roles="Admin")
db.user.create(username="alice", roles="User")
db.user.create(username="bob", roles="User")
"#;

const DETECTORS: &str = r#"
from roundup.exceptions import Reject

def preset(db, cl, nodeid, newvalues):
    if not newvalues.get("status"):
        newvalues["status"] = db.status.lookup("unread")
    if "spam" in newvalues.get("title", ""):
        raise Reject("no spam")

def remember(db, cl, nodeid, oldvalues):
    db.keyword.create(name="issue" + nodeid)

def init(db):
    db.issue.audit("create", preset)
    db.issue.react("create", remember)
"#;

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn vals(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect()
}

#[test]
fn scripts_on_sqlite() {
    let cfg = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &cfg));
    let files = vec![("detectors/d.py".to_string(), DETECTORS.to_string())];
    let detectors = ok(load_detectors(&files, &schema, &security, &cfg));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_sqlite_db(dir.path(), schema, security, detectors, "1");
    ok(run_initial_data(
        "initial_data.py",
        INITIAL,
        &db,
        "pw",
        "admin@example.com",
    ));
    ok(db.commit());
    let alice = ok(db.lookup("user", "alice"));
    let bob = ok(db.lookup("user", "bob"));
    db.set_uid(&alice);

    let id = ok(db.create("issue", vals(&[("title", s("first"))])));
    assert_eq!(
        ok(db.get("issue", &id, "status")),
        Some(Value::Link("1".into()))
    );
    assert!(ok(db.lookup("keyword", &format!("issue{id}")))
        .parse::<u64>()
        .is_ok());
    ok(db.commit());

    let err = db
        .create("issue", vals(&[("title", s("spam spam"))]))
        .expect_err("rejected");
    assert!(matches!(err, Error::Reject(m) if m == "no spam"));
    assert_eq!(ok(db.list("issue")), vec![id.clone()]);
    assert_eq!(ok(db.list("keyword")).len(), 1);

    let sec = db.security();
    assert!(ok(sec.has_permission(
        &db,
        "Edit",
        &alice,
        Some("user"),
        Some("phone"),
        Some(&alice)
    )));
    assert!(!ok(sec.has_permission(
        &db,
        "Edit",
        &alice,
        Some("user"),
        Some("phone"),
        Some(&bob)
    )));
}
