//! Roundup's hyperdb semantics through `Db` on a fresh database of the
//! backend under test: every property type, journal contents, link/unlink
//! events, detectors, savepoint rollback after a rejection, keys,
//! retire/restore, file contents, find/stringfind/filter and permission
//! checks.

use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use roundup_core::date::{Date, Interval, Timezone};
use roundup_core::detectors::{Auditor, Detectors, Op, Reactor};
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::password::{Password, Scheme};
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{ClassDef, ClassKind, Property, Schema};
use roundup_core::security::{CheckContext, Permission, PermissionCheck, Security};
use roundup_core::{Db, DbOptions, Error, Result, TrackerDef, Value, Values};

use crate::{BackendFactory, Fresh};

fn props(list: Vec<(&str, Property)>) -> roundup_core::schema::PropMap {
    list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A classic-like schema built in Rust, plus a `thing` class with every
/// property type.
fn schema() -> Schema {
    let mut s = Schema::new();
    let mut add = |name: &str, kind: ClassKind, p: Vec<(&str, Property)>, key: Option<&str>| {
        let mut c = ClassDef::new(name, kind, props(p)).unwrap();
        if let Some(k) = key {
            c.set_key(k).unwrap();
        }
        s.add_class(c).unwrap();
    };
    add(
        "status",
        ClassKind::Plain,
        vec![("name", Property::string()), ("order", Property::number())],
        Some("name"),
    );
    add(
        "keyword",
        ClassKind::Plain,
        vec![("name", Property::string())],
        Some("name"),
    );
    add(
        "user",
        ClassKind::Plain,
        vec![
            ("username", Property::string()),
            ("password", Property::password()),
            ("roles", Property::string()),
            ("timezone", Property::string()),
        ],
        Some("username"),
    );
    add(
        "msg",
        ClassKind::File,
        vec![
            ("author", Property::link("user").no_journal()),
            ("summary", Property::string()),
        ],
        None,
    );
    add(
        "file",
        ClassKind::File,
        vec![("name", Property::string())],
        None,
    );
    add(
        "issue",
        ClassKind::Issue,
        vec![
            ("assignedto", Property::link("user")),
            ("keyword", Property::multilink("keyword")),
            ("status", Property::link("status")),
        ],
        None,
    );
    let mut quiet = Property::string();
    quiet.quiet = true;
    add(
        "thing",
        ClassKind::Plain,
        vec![
            ("s", Property::string()),
            ("pw", Property::password()),
            ("d", Property::date()),
            ("iv", Property::interval()),
            ("l", Property::link("user")),
            ("ml", Property::multilink("keyword")),
            ("b", Property::boolean()),
            ("n", Property::number()),
            ("i", Property::integer()),
            ("q", quiet),
        ],
        None,
    );
    s.finish().unwrap();
    s
}

struct Fixture {
    fresh: Fresh,
    def: Arc<TrackerDef>,
    opts: Arc<DbOptions>,
}

impl Fixture {
    fn new(f: &dyn BackendFactory, detectors: Detectors, security: Security) -> Fixture {
        let fresh = f.fresh();
        let opts = DbOptions {
            db_dir: fresh.files_dir.clone(),
            password_scheme: Scheme::Pbkdf2S5,
            password_rounds: 1000,
            timezone: Timezone::Utc,
            indexing: true,
        };
        let def = TrackerDef {
            schema: schema(),
            security,
            detectors,
        };
        Fixture {
            fresh,
            def: Arc::new(def),
            opts: Arc::new(opts),
        }
    }

    fn plain(f: &dyn BackendFactory) -> Fixture {
        Fixture::new(f, Detectors::new(), Security::with_builtins())
    }

    fn db(&self, uid: &str) -> Db {
        let store = crate::support::open(&self.fresh);
        Db::open(self.def.clone(), self.opts.clone(), store, uid).unwrap()
    }

    /// A db with admin (1), anonymous (2), two statuses and keywords.
    fn seeded(&self) -> Db {
        let db = self.db("1");
        db.create(
            "user",
            vals(&[("username", s("admin")), ("roles", s("Admin"))]),
        )
        .unwrap();
        db.create(
            "user",
            vals(&[("username", s("anonymous")), ("roles", s("Anonymous"))]),
        )
        .unwrap();
        db.create(
            "user",
            vals(&[("username", s("alice")), ("roles", s("User"))]),
        )
        .unwrap();
        for (i, name) in ["unread", "chatting", "resolved"].iter().enumerate() {
            db.create(
                "status",
                vals(&[("name", s(name)), ("order", Value::Number(i as f64 + 1.0))]),
            )
            .unwrap();
        }
        for name in ["alpha", "beta", "gamma"] {
            db.create("keyword", vals(&[("name", s(name))])).unwrap();
        }
        db.commit().unwrap();
        db
    }
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn vals(list: &[(&str, Value)]) -> Values {
    list.iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect()
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|x| x.to_string()).collect()
}

pub fn every_property_type_round_trips(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let d = Date::parse("2003-04-05.06:07:08", &Timezone::Utc).unwrap();
    let iv = Interval::parse("1w 2d 3:04").unwrap();
    let pw = Password::hash("secret", Scheme::Pbkdf2S5, 1000);
    let id = db
        .create(
            "thing",
            vals(&[
                ("s", s("hello ünïcode 'quoted'")),
                ("pw", Value::Password(pw.clone())),
                ("d", Value::Date(d)),
                ("iv", Value::Interval(iv)),
                ("l", Value::Link("3".into())),
                ("ml", Value::Multilink(ids(&["3", "1"]))),
                ("b", Value::Boolean(true)),
                ("n", Value::Number(2.5)),
                ("i", Value::Integer(-42)),
            ]),
        )
        .unwrap();
    db.commit().unwrap();
    drop(db);

    // a fresh connection reads what was stored
    let db = fx.db("1");
    assert_eq!(
        db.get("thing", &id, "s").unwrap(),
        Some(s("hello ünïcode 'quoted'"))
    );
    match db.get("thing", &id, "pw").unwrap() {
        Some(Value::Password(p)) => assert!(p.verify("secret") && !p.verify("wrong")),
        other => panic!("password came back as {other:?}"),
    }
    assert_eq!(db.get("thing", &id, "d").unwrap(), Some(Value::Date(d)));
    match db.get("thing", &id, "iv").unwrap() {
        Some(Value::Interval(got)) => assert_eq!(got.as_seconds(), iv.as_seconds()),
        other => panic!("interval came back as {other:?}"),
    }
    assert_eq!(
        db.get("thing", &id, "l").unwrap(),
        Some(Value::Link("3".into()))
    );
    // multilinks come back sorted numerically
    assert_eq!(
        db.get("thing", &id, "ml").unwrap(),
        Some(Value::Multilink(ids(&["1", "3"])))
    );
    assert_eq!(
        db.get("thing", &id, "b").unwrap(),
        Some(Value::Boolean(true))
    );
    assert_eq!(db.get("thing", &id, "n").unwrap(), Some(Value::Number(2.5)));
    assert_eq!(
        db.get("thing", &id, "i").unwrap(),
        Some(Value::Integer(-42))
    );
    assert_eq!(db.get("thing", &id, "q").unwrap(), None);
    assert_eq!(db.get("thing", &id, "id").unwrap(), Some(s(&id)));
    assert_eq!(
        db.get("thing", &id, "creator").unwrap(),
        Some(Value::Link("1".into()))
    );
    assert!(matches!(
        db.get("thing", &id, "creation").unwrap(),
        Some(Value::Date(_))
    ));

    // unsetting works for every nullable type
    let mut unset: Values = IndexMap::new();
    for p in ["s", "pw", "d", "iv", "l", "b", "n", "i"] {
        unset.insert(p.to_string(), None);
    }
    unset.insert("ml".into(), None);
    db.set("thing", &id, unset).unwrap();
    for p in ["s", "pw", "d", "iv", "l", "b", "n", "i"] {
        assert_eq!(
            db.get("thing", &id, p).unwrap(),
            None,
            "{p} should be unset"
        );
    }
    assert_eq!(
        db.get("thing", &id, "ml").unwrap(),
        Some(Value::Multilink(vec![]))
    );
}

pub fn raw_input_is_converted_like_roundup(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let id = db.create("thing", Values::new()).unwrap();
    let raw = |p: &str, v: &str| db.raw_to_value("thing", p, v, Some(&id)).unwrap();
    assert_eq!(raw("l", "alice"), Some(Value::Link("3".into())));
    assert_eq!(raw("l", "3"), Some(Value::Link("3".into())));
    assert_eq!(
        raw("ml", "gamma,alpha"),
        Some(Value::Multilink(ids(&["1", "3"])))
    );
    assert_eq!(raw("b", "yes"), Some(Value::Boolean(true)));
    assert_eq!(raw("b", "0"), Some(Value::Boolean(false)));
    assert_eq!(raw("n", "1.5"), Some(Value::Number(1.5)));
    assert_eq!(raw("i", "7"), Some(Value::Integer(7)));
    assert_eq!(raw("l", ""), None);
    assert_eq!(
        raw("d", "2003-04-05"),
        Some(Value::Date(
            Date::parse("2003-04-05", &Timezone::Utc).unwrap()
        ))
    );
    // +/- edit the current multilink value
    db.set(
        "thing",
        &id,
        vals(&[("ml", Value::Multilink(ids(&["1", "2"])))]),
    )
    .unwrap();
    assert_eq!(
        raw("ml", "+gamma,-alpha"),
        Some(Value::Multilink(ids(&["2", "3"])))
    );
    // errors name the property and the bad input
    let err = db
        .raw_to_value("thing", "i", "seven", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("seven") && err.contains('i'), "{err}");
    let err = db
        .raw_to_value("thing", "l", "nobody", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nobody"), "{err}");
    let err = db
        .raw_to_value("thing", "b", "perhaps", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("perhaps"), "{err}");
}

pub fn journal_records_create_set_link_unlink_retire_restore(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let issue = db
        .create(
            "issue",
            vals(&[
                ("title", s("first")),
                ("status", Value::Link("1".into())),
                ("keyword", Value::Multilink(ids(&["1"]))),
            ]),
        )
        .unwrap();
    db.set(
        "issue",
        &issue,
        vals(&[
            ("title", s("second")),
            ("status", Value::Link("2".into())),
            ("keyword", Value::Multilink(ids(&["2", "3"]))),
            ("nosy", Value::Multilink(ids(&["3"]))),
        ]),
    )
    .unwrap();
    db.retire("issue", &issue).unwrap();
    db.restore("issue", &issue).unwrap();
    db.commit().unwrap();

    let h = db.history("issue", &issue).unwrap();
    let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "set", "retired", "restored"]);
    assert!(h.iter().all(|e| e.tag == "1" && e.nodeid == issue));
    assert_eq!(h[0].params, PyValue::Dict(vec![]));
    assert_eq!(h[2].params, PyValue::None);
    // set records old values; multilinks as ('+', added), ('-', removed)
    let PyValue::Dict(set) = &h[1].params else {
        panic!("set params: {:?}", h[1].params)
    };
    let get = |k: &str| {
        set.iter()
            .find(|(key, _)| key == &PyValue::Str(k.into()))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("title"), Some(PyValue::Str("first".into())));
    assert_eq!(get("status"), Some(PyValue::Str("1".into())));
    let strs = |l: &[&str]| PyValue::List(l.iter().map(|x| PyValue::Str(x.to_string())).collect());
    assert_eq!(
        get("keyword"),
        Some(PyValue::Tuple(vec![
            PyValue::Tuple(vec![PyValue::Str("+".into()), strs(&["2", "3"])]),
            PyValue::Tuple(vec![PyValue::Str("-".into()), strs(&["1"])]),
        ]))
    );

    // link/unlink events land on the targets; nosy is not journalled
    let kw1 = db.history("keyword", "1").unwrap();
    let link_params = PyValue::Tuple(vec![
        PyValue::Str("issue".into()),
        PyValue::Str(issue.clone()),
        PyValue::Str("keyword".into()),
    ]);
    assert!(kw1
        .iter()
        .any(|e| e.action == "link" && e.params == link_params));
    assert!(kw1
        .iter()
        .any(|e| e.action == "unlink" && e.params == link_params));
    assert!(db
        .history("status", "2")
        .unwrap()
        .iter()
        .any(|e| e.action == "link"));
    assert!(db
        .history("status", "1")
        .unwrap()
        .iter()
        .any(|e| e.action == "unlink"));
    assert!(!db
        .history("user", "3")
        .unwrap()
        .iter()
        .any(|e| e.action == "link"));
}

pub fn setting_the_same_value_changes_nothing_and_quiet_props_are_not_reported(
    f: &dyn BackendFactory,
) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let id = db.create("thing", vals(&[("s", s("x"))])).unwrap();
    let before = db.history("thing", &id).unwrap().len();
    let changed = db.set("thing", &id, vals(&[("s", s("x"))])).unwrap();
    assert!(changed.is_empty());
    assert_eq!(db.history("thing", &id).unwrap().len(), before);
    let changed = db
        .set("thing", &id, vals(&[("q", s("hush")), ("s", s("y"))]))
        .unwrap();
    assert!(changed.contains_key("s") && !changed.contains_key("q"));
    // quiet properties are still journalled (history shows them unless skipquiet)
    let last = db.history("thing", &id).unwrap().pop().unwrap();
    assert!(
        matches!(last.params, PyValue::Dict(ref d) if d.iter().any(|(k, _)| k == &PyValue::Str("q".into())))
    );
}

pub fn keys_are_unique_among_active_items_and_reusable_after_retire(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let err = db
        .create("keyword", vals(&[("name", s("alpha"))]))
        .unwrap_err();
    assert!(err.to_string().contains("alpha"), "{err}");
    assert!(
        db.create("keyword", Values::new()).is_err(),
        "key is required"
    );
    assert_eq!(db.lookup("keyword", "beta").unwrap(), "2");
    db.retire("keyword", "2").unwrap();
    assert!(matches!(
        db.lookup("keyword", "beta"),
        Err(Error::NoSuchKey { .. })
    ));
    assert_eq!(db.list("keyword").unwrap(), ids(&["1", "3"]));
    assert_eq!(db.getnodeids("keyword", Some(true)).unwrap(), ids(&["2"]));
    assert_eq!(
        db.getnodeids("keyword", None).unwrap(),
        ids(&["1", "2", "3"])
    );
    assert!(db.is_retired("keyword", "2").unwrap());
    // a retired item keeps its values
    assert_eq!(db.get("keyword", "2", "name").unwrap(), Some(s("beta")));
    let new = db.create("keyword", vals(&[("name", s("beta"))])).unwrap();
    assert_eq!(new, "4");
    // restoring the old one now clashes
    let err = db.restore("keyword", "2").unwrap_err();
    assert!(err.to_string().contains("beta"), "{err}");
    assert!(db.is_retired("keyword", "2").unwrap());
    // changing a retired item is refused
    assert!(db
        .set("keyword", "2", vals(&[("name", s("delta"))]))
        .is_err());
}

pub fn links_are_checked_and_keys_resolved(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let id = db
        .create(
            "issue",
            vals(&[("title", s("t")), ("status", s("chatting"))]),
        )
        .unwrap();
    assert_eq!(
        db.get("issue", &id, "status").unwrap(),
        Some(Value::Link("2".into()))
    );
    let err = db
        .create("issue", vals(&[("status", Value::Link("99".into()))]))
        .unwrap_err();
    assert!(err.to_string().contains("99"), "{err}");
    let err = db
        .create(
            "issue",
            vals(&[("keyword", Value::Multilink(ids(&["1", "nope"])))]),
        )
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let err = db
        .create("issue", vals(&[("title", Value::Integer(3))]))
        .unwrap_err();
    assert!(err.to_string().contains("title"), "{err}");
    assert!(db.create("issue", vals(&[("bogus", s("x"))])).is_err());
    assert!(db.create("issue", vals(&[("creator", s("1"))])).is_err());
    assert!(matches!(
        db.get("issue", "77", "title"),
        Err(Error::NoSuchNode { .. })
    ));
    assert!(db.get("issue", "x1", "title").is_err());
}

#[derive(Debug)]
struct RejectBadTitles;
impl Auditor for RejectBadTitles {
    fn audit(
        &self,
        db: &Db,
        _class: &str,
        _nodeid: Option<&str>,
        newvalues: Option<&mut Values>,
    ) -> Result<()> {
        let Some(nv) = newvalues else { return Ok(()) };
        if let Some(Some(Value::String(t))) = nv.get("title") {
            if t.contains("forbidden") {
                // make a change first, so the rejection must undo it
                db.create("keyword", vals(&[("name", s("side-effect"))]))?;
                return Err(Error::Reject(format!("title {t:?} is not allowed")));
            }
            let upper = t.to_uppercase();
            nv.insert("title".into(), Some(Value::String(upper)));
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct RecordOld(Mutex<Vec<(String, Option<Value>)>>);
impl Reactor for RecordOld {
    fn react(&self, db: &Db, class: &str, nodeid: &str, oldvalues: Option<&Values>) -> Result<()> {
        let old = oldvalues.and_then(|o| o.get("title").cloned().flatten());
        self.0.lock().unwrap().push((nodeid.to_string(), old));
        // reactors may write too
        db.create(
            "keyword",
            vals(&[(
                "name",
                s(&format!(
                    "seen-{class}{nodeid}-{}",
                    self.0.lock().unwrap().len()
                )),
            )]),
        )?;
        Ok(())
    }
}

pub fn auditors_change_or_reject_and_reactors_see_old_values(f: &dyn BackendFactory) {
    let mut det = Detectors::new();
    det.add_auditor("issue", Op::Create, 100, Arc::new(RejectBadTitles));
    det.add_auditor("issue", Op::Set, 100, Arc::new(RejectBadTitles));
    let rec = Arc::new(RecordOld::default());
    det.add_reactor("issue", Op::Set, 100, rec.clone());
    let fx = Fixture::new(f, det, Security::with_builtins());
    let db = fx.seeded();

    let id = db.create("issue", vals(&[("title", s("hello"))])).unwrap();
    assert_eq!(db.get("issue", &id, "title").unwrap(), Some(s("HELLO")));
    db.set("issue", &id, vals(&[("title", s("again"))]))
        .unwrap();
    assert_eq!(
        rec.0.lock().unwrap().as_slice(),
        &[(id.clone(), Some(s("HELLO")))]
    );
    db.commit().unwrap();

    let keywords_before = db.list("keyword").unwrap();
    let issues_before = db.list("issue").unwrap();
    let hist_before = db.history("issue", &id).unwrap();

    // a rejected create leaves nothing behind, not even the auditor's own write
    let err = db
        .create("issue", vals(&[("title", s("forbidden fruit"))]))
        .unwrap_err();
    assert!(
        matches!(err, Error::Reject(ref m) if m.contains("forbidden")),
        "{err:?}"
    );
    // a rejected set likewise
    let err = db
        .set("issue", &id, vals(&[("title", s("forbidden"))]))
        .unwrap_err();
    assert!(matches!(err, Error::Reject(_)));
    assert_eq!(db.list("keyword").unwrap(), keywords_before);
    assert_eq!(db.list("issue").unwrap(), issues_before);
    assert_eq!(db.get("issue", &id, "title").unwrap(), Some(s("AGAIN")));
    assert_eq!(db.history("issue", &id).unwrap(), hist_before);

    // earlier uncommitted work in the same transaction survives a rejection
    let kept = db.create("keyword", vals(&[("name", s("kept"))])).unwrap();
    assert!(db
        .create("issue", vals(&[("title", s("forbidden"))]))
        .is_err());
    db.commit().unwrap();
    assert_eq!(
        fx.db("1").get("keyword", &kept, "name").unwrap(),
        Some(s("kept"))
    );
}

pub fn rollback_restores_the_database_exactly(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let id = db
        .create("issue", vals(&[("title", s("committed"))]))
        .unwrap();
    db.commit().unwrap();
    let before: Vec<_> = db.history("issue", &id).unwrap();

    db.set("issue", &id, vals(&[("title", s("changed"))]))
        .unwrap();
    let extra = db
        .create("issue", vals(&[("title", s("uncommitted"))]))
        .unwrap();
    db.retire("keyword", "1").unwrap();
    db.rollback().unwrap();

    assert_eq!(db.get("issue", &id, "title").unwrap(), Some(s("committed")));
    assert!(!db.has_node("issue", &extra).unwrap());
    assert!(!db.is_retired("keyword", "1").unwrap());
    assert_eq!(db.history("issue", &id).unwrap(), before);
    // ids are never reused
    let next = db.create("issue", vals(&[("title", s("next"))])).unwrap();
    assert!(next.parse::<u64>().unwrap() > extra.parse::<u64>().unwrap());
}

pub fn file_contents_live_on_disk_and_follow_the_transaction(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let id = db
        .create(
            "file",
            vals(&[
                ("name", s("a.txt")),
                ("content", s("hello file")),
                ("type", s("text/plain")),
            ]),
        )
        .unwrap();
    // readable inside the transaction, not yet at its final path
    assert_eq!(
        db.get("file", &id, "content").unwrap(),
        Some(s("hello file"))
    );
    let path = db.file_path("file", &id).unwrap();
    assert!(
        path.ends_with(format!("files/file/0/file{id}")),
        "{}",
        path.display()
    );
    assert!(!path.exists());
    db.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"hello file");

    // binary content
    let bin: Vec<u8> = vec![0, 159, 146, 150, 255];
    let bid = db
        .create_with_content("file", vals(&[("name", s("b.bin"))]), bin.clone())
        .unwrap();
    db.commit().unwrap();
    assert_eq!(db.file_content("file", &bid).unwrap(), bin);

    // a rolled-back change of content leaves the committed file
    db.set("file", &id, vals(&[("content", s("changed"))]))
        .unwrap();
    assert_eq!(db.file_content("file", &id).unwrap(), b"changed");
    db.rollback().unwrap();
    assert_eq!(db.file_content("file", &id).unwrap(), b"hello file");
    // a rolled-back create leaves no file
    let gone = db.create("file", vals(&[("content", s("temp"))])).unwrap();
    let gone_path = db.file_path("file", &gone).unwrap();
    db.rollback().unwrap();
    assert!(!gone_path.exists());
    assert!(!gone_path.with_extension("tmp").exists());

    // text contents are indexed
    let hits = db.search_text(&["hello".into()], None).unwrap();
    assert!(
        hits.iter()
            .any(|h| h.class == "file" && h.id == id && h.prop == "content"),
        "{hits:?}"
    );
}

pub fn find_stringfind_and_filter(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let a = db
        .create(
            "issue",
            vals(&[
                ("title", s("Crash on start")),
                ("status", s("unread")),
                ("assignedto", s("alice")),
                ("keyword", Value::Multilink(ids(&["1", "2"]))),
            ]),
        )
        .unwrap();
    let b = db
        .create(
            "issue",
            vals(&[
                ("title", s("Slow start")),
                ("status", s("chatting")),
                ("keyword", Value::Multilink(ids(&["2"]))),
            ]),
        )
        .unwrap();
    let c = db.create("issue", vals(&[("title", s("Docs"))])).unwrap();
    db.retire("issue", &c).unwrap();

    assert_eq!(
        db.find("issue", &[("keyword", ids(&["2"]))]).unwrap(),
        ids(&[&a, &b])
    );
    assert_eq!(
        db.find("issue", &[("status", ids(&["chatting"]))]).unwrap(),
        ids(&[&b])
    );
    assert_eq!(
        db.find(
            "issue",
            &[("status", ids(&["1"])), ("keyword", ids(&["2"]))]
        )
        .unwrap(),
        ids(&[&a, &b])
    );
    assert!(db.find("issue", &[("title", ids(&["x"]))]).is_err());
    assert_eq!(
        db.stringfind("issue", &[("title", "Slow start")]).unwrap(),
        ids(&[&b])
    );
    assert!(db
        .stringfind("issue", &[("title", "slow")])
        .unwrap()
        .is_empty());

    let spec = |pairs: &[(&str, &str)], sort: &[&str]| FilterSpec {
        filterspec: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SpecValue::One(v.to_string())))
            .collect(),
        sort: sort.iter().map(|k| (None, k.to_string())).collect(),
        ..FilterSpec::default()
    };
    assert_eq!(
        db.filter("issue", &spec(&[("title", "start")], &[]))
            .unwrap(),
        ids(&[&a, &b])
    );
    assert_eq!(
        db.filter("issue", &spec(&[("title", "START")], &["-id"]))
            .unwrap(),
        ids(&[&b, &a])
    );
    assert_eq!(
        db.filter("issue", &spec(&[("assignedto.username", "ali")], &[]))
            .unwrap(),
        ids(&[&a])
    );
    assert_eq!(
        db.filter("issue", &spec(&[("assignedto", "-1")], &[]))
            .unwrap(),
        ids(&[&b])
    );
    assert_eq!(
        db.filter("issue", &spec(&[("keyword", "alpha")], &[]))
            .unwrap(),
        ids(&[&a])
    );
    assert_eq!(
        db.filter("issue", &spec(&[], &["status"])).unwrap(),
        ids(&[&a, &b])
    );
    assert_eq!(
        db.filter("issue", &spec(&[], &["-status"])).unwrap(),
        ids(&[&b, &a])
    );
    let retired = FilterSpec {
        retired: Some(true),
        ..FilterSpec::default()
    };
    assert_eq!(db.filter("issue", &retired).unwrap(), ids(&[&c]));
    // counting agrees with fetching, and ignores sort and paging
    for spec in [
        spec(&[("title", "start")], &["-id"]),
        spec(&[("assignedto", "-1")], &[]),
        spec(&[], &["status"]),
        retired.clone(),
    ] {
        let n = db.filter("issue", &spec).unwrap().len() as u64;
        assert_eq!(db.filter_count("issue", &spec).unwrap(), n, "{spec:?}");
        let paged = FilterSpec {
            limit: Some(1),
            offset: Some(1),
            ..spec.clone()
        };
        assert_eq!(db.filter_count("issue", &paged).unwrap(), n);
    }
    let err = db
        .filter("issue", &spec(&[("nonesuch", "x")], &[]))
        .unwrap_err();
    assert!(err.to_string().contains("nonesuch"), "{err}");
}

#[derive(Debug)]
struct OwnRecord;
impl PermissionCheck for OwnRecord {
    fn check(&self, _db: &Db, userid: &str, itemid: &str, _ctx: &CheckContext<'_>) -> Result<bool> {
        Ok(userid == itemid)
    }
}

pub fn permissions_follow_roundup_rules(f: &dyn BackendFactory) {
    let mut sec = Security::with_builtins();
    let view_issue = {
        let mut p = Permission::new("View", "");
        p.klass = Some("issue".into());
        sec.add_permission(p)
    };
    sec.add_permission_to_role("User", view_issue).unwrap();
    let mut edit_own = Permission::new("Edit", "own record");
    edit_own.klass = Some("user".into());
    edit_own.properties = Some(vec!["password".into(), "timezone".into()]);
    edit_own.check = Some(Arc::new(OwnRecord));
    let edit_own = sec.add_permission(edit_own);
    sec.add_permission_to_role("User", edit_own).unwrap();
    let mut props_only = Permission::new("View", "public user fields");
    props_only.klass = Some("user".into());
    props_only.properties = Some(vec!["username".into()]);
    props_only.props_only = true;
    let props_only = sec.add_permission(props_only);
    sec.add_permission_to_role("Anonymous", props_only).unwrap();

    let fx = Fixture::new(f, Detectors::new(), sec);
    let db = fx.seeded();
    let sec = db.security();
    let has = |perm: &str, uid: &str, cls: Option<&str>, prop: Option<&str>, item: Option<&str>| {
        sec.has_permission(&db, perm, uid, cls, prop, item).unwrap()
    };
    // admin may do everything
    assert!(has("Edit", "1", Some("issue"), Some("title"), Some("1")));
    assert!(has("Web Access", "1", None, None, None));
    // a user may view issues but not edit them
    assert!(has("View", "3", Some("issue"), None, None));
    assert!(!has("Edit", "3", Some("issue"), None, None));
    // check function: own record only, and only the listed properties
    assert!(has("Edit", "3", Some("user"), Some("password"), Some("3")));
    assert!(!has("Edit", "3", Some("user"), Some("password"), Some("1")));
    assert!(!has("Edit", "3", Some("user"), Some("roles"), Some("3")));
    // props_only: no class-level match without a property
    assert!(has("View", "2", Some("user"), Some("username"), None));
    assert!(!has("View", "2", Some("user"), None, None));
    assert!(!has("View", "2", Some("issue"), None, None));
    // unknown roles and users with no roles get nothing
    assert!(!has("View", "99", Some("issue"), None, None));
    assert!(!has("View", "garbage", Some("issue"), None, None));
    // item check without a class is a usage error
    assert!(sec
        .has_permission(&db, "View", "1", None, None, Some("1"))
        .is_err());
}

pub fn try_id_parsing_no_treats_numbers_as_keys(f: &dyn BackendFactory) {
    let mut sch = schema();
    let mut by_key = Property::link("keyword");
    by_key.try_id_parsing = false;
    sch.class_mut("thing")
        .unwrap()
        .props
        .insert("kw".into(), by_key);
    let fresh = f.fresh();
    let opts = Arc::new(DbOptions {
        db_dir: fresh.files_dir.clone(),
        password_scheme: Scheme::Pbkdf2S5,
        password_rounds: 1000,
        timezone: Timezone::Utc,
        indexing: true,
    });
    let def = Arc::new(TrackerDef {
        schema: sch,
        security: Security::with_builtins(),
        detectors: Detectors::new(),
    });
    let store = crate::support::open(&fresh);
    let db = Db::open(def, opts, store, "1").unwrap();
    db.create("keyword", vals(&[("name", s("alpha"))])).unwrap();
    db.create("keyword", vals(&[("name", s("1999"))])).unwrap();
    // "1" is an id of an existing keyword, but ids are not accepted here
    assert!(db.raw_to_value("thing", "kw", "1", None).is_err());
    assert_eq!(
        db.raw_to_value("thing", "kw", "1999", None).unwrap(),
        Some(Value::Link("2".into()))
    );
    // ordinary links still take ids
    assert_eq!(
        db.raw_to_value("thing", "ml", "1", None).unwrap(),
        Some(Value::Multilink(ids(&["1"])))
    );
}

pub fn authenticate_verifies_and_upgrades_weak_hashes(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    // alice has an old SHA hash (as a Roundup 1.x tracker might)
    let weak = Password::hash("sekrit", Scheme::Sha, 1000);
    db.set(
        "user",
        "3",
        vals(&[("password", Value::Password(weak.clone()))]),
    )
    .unwrap();
    db.commit().unwrap();

    assert_eq!(
        db.authenticate("alice", "wrong", true, false).unwrap(),
        None
    );
    assert_eq!(
        db.authenticate("nobody", "sekrit", true, false).unwrap(),
        None
    );
    // without migration the hash stays as it is
    assert_eq!(
        db.authenticate("alice", "sekrit", false, false).unwrap(),
        Some("3".into())
    );
    assert_eq!(
        db.get("user", "3", "password").unwrap(),
        Some(Value::Password(weak))
    );
    // with migration it is re-hashed with the configured scheme, committed
    assert_eq!(
        db.authenticate("alice", "sekrit", true, false).unwrap(),
        Some("3".into())
    );
    let fresh = fx.db("1");
    match fresh.get("user", "3", "password").unwrap() {
        Some(Value::Password(p)) => {
            assert_eq!(p.scheme(), Scheme::Pbkdf2S5);
            assert!(p.verify("sekrit"));
        }
        other => panic!("{other:?}"),
    }
    // the acting user is unchanged afterwards
    assert_eq!(db.getuid(), "1");
    // empty passwords only when allowed, and only for users without one
    assert_eq!(db.authenticate("admin", "", true, false).unwrap(), None);
    assert_eq!(
        db.authenticate("admin", "", true, true).unwrap(),
        Some("1".into())
    );
    assert_eq!(db.authenticate("alice", "", true, true).unwrap(), None);
}

pub fn batched_node_loading_matches_single_loads(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    for i in 0..30 {
        let kw: Vec<String> = (1..=3)
            .filter(|k| (i + k) % 2 == 0)
            .map(|k| k.to_string())
            .collect();
        db.create(
            "issue",
            vals(&[
                ("title", s(&format!("issue {i}"))),
                ("keyword", Value::Multilink(kw)),
                ("nosy", Value::Multilink(ids(&["3", "1"]))),
            ]),
        )
        .unwrap();
    }
    db.retire("issue", "4").unwrap();
    db.commit().unwrap();
    let mut store = crate::support::open(&fx.fresh);
    let cls = fx.def.schema.class("issue").unwrap();
    let mut wanted: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    wanted.push("999".into());
    wanted.push("bogus".into());
    let batch = store.get_nodes(cls, &wanted).unwrap();
    assert_eq!(batch.len(), 30);
    for id in 1..=30 {
        let id = id.to_string();
        let single = store.get_node(cls, &id).unwrap().unwrap();
        assert_eq!(batch.get(&id), Some(&single), "issue{id}");
    }
    assert!(batch["4"].retired);
    // Db::prefetch fills the cache; reads then agree with the storage
    db.prefetch("issue", &wanted).unwrap();
    assert_eq!(
        db.get("issue", "7", "nosy").unwrap(),
        Some(Value::Multilink(ids(&["1", "3"])))
    );
}

/// A count is remembered per connection only while the database is as it
/// was: this connection's writes (committed or not, rolled back or not)
/// and another connection's commits are seen by the next count.
pub fn counts_follow_every_change(f: &dyn BackendFactory) {
    let fx = Fixture::plain(f);
    let db = fx.seeded();
    let other = fx.db("1");
    let all = FilterSpec::default();
    let count = |d: &Db| d.filter_count("issue", &all).unwrap();
    assert_eq!(count(&db), 0);
    assert_eq!(count(&db), 0);
    // own write, not yet committed
    db.create("issue", vals(&[("title", s("one"))])).unwrap();
    assert_eq!(count(&db), 1);
    db.rollback().unwrap();
    assert_eq!(count(&db), 0);
    // another connection's commit
    assert_eq!(count(&other), 0);
    db.create("issue", vals(&[("title", s("two"))])).unwrap();
    db.commit().unwrap();
    assert_eq!(count(&other), 1);
    other
        .create("issue", vals(&[("title", s("three"))]))
        .unwrap();
    other.commit().unwrap();
    assert_eq!(count(&db), 2);
    assert_eq!(count(&other), 2);
    let id = db.filter("issue", &all).unwrap()[0].clone();
    other.retire("issue", &id).unwrap();
    other.commit().unwrap();
    assert_eq!(count(&db), 1);
}
