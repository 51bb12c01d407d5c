//! Helpers for tests over the storage trait: a small schema with every
//! property type and shorthand for node values.

use std::collections::HashMap;

use roundup_core::date::{Date, Interval};
use roundup_core::password::Password;
use roundup_core::schema::{ClassDef, ClassKind, Property, Schema};
use roundup_core::storage::{NodeValues, Storage};
use roundup_core::Value;

use crate::{BackendFactory, Fresh};

/// A fresh database with [`test_schema`] synced and committed.
pub fn synced(f: &dyn BackendFactory) -> (Fresh, Box<dyn Storage>, Schema) {
    let fresh = f.fresh();
    let mut st = open(&fresh);
    let schema = test_schema();
    assert!(st.sync_schema(&schema).expect("sync"));
    st.commit().expect("commit");
    (fresh, st, schema)
}

/// Another connection to the database.
pub fn open(fresh: &Fresh) -> Box<dyn Storage> {
    match fresh.backend.open() {
        Ok(s) => s,
        Err(e) => panic!("opening the {} database: {e}", fresh.backend.name()),
    }
}

pub fn date(s: &str) -> Date {
    Date::from_serialised(s).expect("date")
}

/// An interval of `secs` seconds, whatever spelling the Interval parser
/// of the day accepts.
pub fn interval(secs: i64, spec: &str) -> Interval {
    for cand in [spec.to_string(), secs.to_string()] {
        if let Ok(i) = Interval::parse(&cand) {
            if i.as_seconds() == secs {
                return i;
            }
        }
    }
    panic!("cannot build an interval of {secs}s");
}

pub fn props(list: Vec<(&str, Property)>) -> roundup_core::schema::PropMap {
    list.into_iter().map(|(n, p)| (n.to_string(), p)).collect()
}

pub fn class(
    name: &str,
    kind: ClassKind,
    list: Vec<(&str, Property)>,
    key: Option<&str>,
) -> ClassDef {
    let mut c = ClassDef::new(name, kind, props(list)).expect("class");
    if let Some(k) = key {
        c.set_key(k).expect("key");
    }
    c
}

/// A small tracker schema using every property type.
pub fn test_schema() -> Schema {
    let mut s = Schema::new();
    s.add_class(class(
        "status",
        ClassKind::Plain,
        vec![("name", Property::string()), ("order", Property::number())],
        Some("name"),
    ))
    .unwrap();
    s.add_class(class(
        "user",
        ClassKind::Plain,
        vec![
            ("username", Property::string()),
            ("password", Property::password()),
            ("realname", Property::string()),
        ],
        Some("username"),
    ))
    .unwrap();
    s.add_class(class(
        "msg",
        ClassKind::File,
        vec![
            ("author", Property::link("user")),
            ("date", Property::date()),
        ],
        None,
    ))
    .unwrap();
    s.add_class(class(
        "file",
        ClassKind::File,
        vec![("name", Property::string())],
        None,
    ))
    .unwrap();
    s.add_class(class(
        "issue",
        ClassKind::Issue,
        vec![
            ("status", Property::link("status")),
            ("assignedto", Property::link("user")),
            ("deadline", Property::date()),
            ("estimate", Property::interval()),
            ("urgent", Property::boolean()),
            ("votes", Property::integer()),
        ],
        None,
    ))
    .unwrap();
    s.finish().unwrap();
    s
}

pub fn vals(list: Vec<(&str, Option<Value>)>) -> NodeValues {
    list.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
}

pub fn auto(creator: &str, when: &str) -> Vec<(&'static str, Option<Value>)> {
    vec![
        ("creation", Some(Value::Date(date(when)))),
        ("activity", Some(Value::Date(date(when)))),
        ("creator", Some(Value::Link(creator.into()))),
        ("actor", Some(Value::Link(creator.into()))),
    ]
}

pub fn ml(ids: &[&str]) -> Option<Value> {
    Some(Value::Multilink(
        ids.iter().map(|s| s.to_string()).collect(),
    ))
}

pub fn s(v: &str) -> Option<Value> {
    Some(Value::String(v.to_string()))
}

pub fn link(v: &str) -> Option<Value> {
    Some(Value::Link(v.to_string()))
}

pub fn pw(stored: &str) -> Option<Value> {
    Some(Value::Password(
        Password::from_encrypted(stored).expect("password"),
    ))
}

pub fn no_ml_changes() -> HashMap<String, roundup_core::storage::MultilinkChange> {
    HashMap::new()
}

/// [`test_schema`] with computed reverse multilinks on user: `nosy_issues`
/// (from issue.nosy, a Multilink) and `assigned` (from issue.assignedto,
/// a Link).
pub fn schema_with_reverse_multilinks() -> Schema {
    let mut schema = test_schema();
    {
        let issue = schema.class_mut("issue").expect("issue class");
        let mut nosy = Property::multilink("user").no_journal();
        nosy.rev_multilink = Some("nosy_issues".into());
        issue.props.insert("nosy".into(), nosy);
        let mut asg = Property::link("user");
        asg.rev_multilink = Some("assigned".into());
        issue.props.insert("assignedto".into(), asg);
    }
    schema.finish().expect("schema with reverse multilinks");
    schema
}
