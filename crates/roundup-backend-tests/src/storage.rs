//! The storage trait on a fresh database of the backend under test: ids,
//! transactions and savepoints, failed statements, filters, computed
//! multilinks, bulk loads.

use roundup_core::schema::Schema;
use roundup_core::storage::{Changes, JournalEntry, MultilinkChange, Storage};
use roundup_core::{StorageKind, Value};

use crate::support::*;
use crate::BackendFactory;

/// Two statuses and three users, as ids 1.. of a new database.
fn add_basics(st: &mut dyn Storage, schema: &Schema) {
    let status = schema.class("status").unwrap();
    for (id, name) in [("1", "open"), ("2", "closed")] {
        assert_eq!(st.new_id("status").unwrap().to_string(), id);
        let mut v = vals(auto("1", "20240101000000.000"));
        v.insert("name".into(), s(name));
        v.insert("order".into(), Some(Value::Number(id.parse().unwrap())));
        st.add_node(status, id, &v).unwrap();
    }
    let user = schema.class("user").unwrap();
    for (id, name) in [("1", "admin"), ("2", "anonymous"), ("3", "alice")] {
        assert_eq!(st.new_id("user").unwrap().to_string(), id);
        let mut v = vals(auto("1", "20240101000000.000"));
        v.insert("username".into(), s(name));
        v.insert("password".into(), pw("{plaintext}secret"));
        st.add_node(user, id, &v).unwrap();
    }
}

pub fn rollback_restores_data_and_ids_are_never_reused(f: &dyn BackendFactory) {
    let (fresh, mut st, schema) = synced(f);
    add_basics(st.as_mut(), &schema);
    st.commit().unwrap();
    let status = schema.class("status").unwrap();

    // changes, then rollback: all gone
    st.set_node(
        status,
        "1",
        &vals(vec![("name", s("reopened"))]),
        &no_ml_changes(),
    )
    .unwrap();
    let id = st.new_id("status").unwrap();
    assert_eq!(id, 3);
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("name".into(), s("temp"));
    st.add_node(status, "3", &v).unwrap();
    st.rollback().unwrap();
    assert_eq!(
        st.get_node(status, "1").unwrap().unwrap().values["name"],
        s("open")
    );
    assert!(!st.has_node("status", "3").unwrap());
    // the id allocated inside the rolled-back transaction stays used
    assert_eq!(st.new_id("status").unwrap(), 4);
    // an id allocated outside a transaction opens one (so the item
    // written next commits with it); rolled back, it stays used too
    st.rollback().unwrap();
    assert_eq!(st.new_id("status").unwrap(), 5);
    st.rollback().unwrap();
    assert_eq!(st.new_id("status").unwrap(), 6);
    st.commit().unwrap();
    // a second connection sees the counter and continues it
    let mut other = open(&fresh);
    assert_eq!(other.new_id("status").unwrap(), 7);
    other.commit().unwrap();
    drop(other);

    // set_last_id behaves like Roundup's setid
    st.set_last_id("status", 41).unwrap();
    st.commit().unwrap();
    assert_eq!(st.new_id("status").unwrap(), 42);
    assert!(st
        .new_id("nosuchclass")
        .unwrap_err()
        .to_string()
        .contains("nosuchclass"));
}

pub fn failed_statement_keeps_transaction_usable(f: &dyn BackendFactory) {
    let (_fresh, mut st, schema) = synced(f);
    add_basics(st.as_mut(), &schema);
    st.commit().unwrap();
    let status = schema.class("status").unwrap();
    st.set_node(
        status,
        "1",
        &vals(vec![("name", s("new"))]),
        &no_ml_changes(),
    )
    .unwrap();
    // duplicate primary key: the statement fails, naming the table
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("name".into(), s("dupe"));
    let err = st.add_node(status, "2", &v).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("_status"), "{msg}");
    // it is a constraint violation, not worth retrying
    assert_eq!(err.storage_error_kind(), Some(StorageKind::Constraint));
    assert!(!err.is_retryable());
    // a duplicate key among active items violates the unique index
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("name".into(), s("closed"));
    let err = st.add_node(status, "7", &v).unwrap_err();
    assert_eq!(
        err.storage_error_kind(),
        Some(StorageKind::Constraint),
        "{err}"
    );
    // earlier work of the transaction is intact and commits
    st.commit().unwrap();
    assert_eq!(
        st.get_node(status, "1").unwrap().unwrap().values["name"],
        s("new")
    );
    assert!(!st.has_node("status", "7").unwrap());
}

pub fn filter_runs_the_generated_sql(f: &dyn BackendFactory) {
    use roundup_core::filter::{Condition, Direction, Filter, LinkExpr, Query};
    let (_fresh, mut st, schema) = synced(f);
    add_basics(st.as_mut(), &schema);
    let issue = schema.class("issue").unwrap();
    for (id, status, title, urgent) in [
        ("1", "1", "alpha", true),
        ("2", "2", "beta", false),
        ("3", "1", "gamma", true),
        ("4", "1", "delta", false),
    ] {
        let mut v = vals(auto("1", "20240101000000.000"));
        v.insert("status".into(), link(status));
        v.insert("title".into(), s(title));
        v.insert("urgent".into(), Some(Value::Boolean(urgent)));
        st.add_node(issue, id, &v).unwrap();
    }
    st.set_retired(issue, "3", true).unwrap();
    st.commit().unwrap();
    let mut q = Query::all("issue");
    assert_eq!(st.filter(&schema, &q).unwrap(), vec!["1", "2", "4"]);
    // a whole order as numbers is the same order
    assert_eq!(st.filter_order(&schema, &q).unwrap(), Some(vec![1, 2, 4]));
    q.filters.push(Filter {
        path: vec!["status".into()],
        cond: Condition::Links(LinkExpr::Id("1".into())),
    });
    q.sort.push((Direction::Desc, vec!["title".into()]));
    assert_eq!(st.filter(&schema, &q).unwrap(), vec!["4", "1"]);
    assert_eq!(st.filter_order(&schema, &q).unwrap(), Some(vec![4, 1]));
    // and a page of it is the page's
    q.limit = Some(1);
    q.offset = 1;
    assert_eq!(st.filter_order(&schema, &q).unwrap(), Some(vec![1]));
    q.limit = None;
    q.offset = 0;
    q.filters.push(Filter {
        path: vec!["urgent".into()],
        cond: Condition::Values(vec![Value::Boolean(true)]),
    });
    assert_eq!(st.filter(&schema, &q).unwrap(), vec!["1"]);
    q.filters.truncate(1);
    q.retired = Some(true);
    assert_eq!(st.filter(&schema, &q).unwrap(), vec!["3"]);
}

pub fn savepoints_undo_partial_work_and_keep_ids(f: &dyn BackendFactory) {
    let (_fresh, mut st, schema) = synced(f);
    add_basics(st.as_mut(), &schema);
    let status = schema.class("status").unwrap();
    st.savepoint("rr_op_1").unwrap();
    st.set_node(
        status,
        "1",
        &vals(vec![("name", s("kept"))]),
        &no_ml_changes(),
    )
    .unwrap();
    st.release_savepoint("rr_op_1").unwrap();
    st.savepoint("rr_op_2").unwrap();
    st.set_node(
        status,
        "2",
        &vals(vec![("name", s("undone"))]),
        &no_ml_changes(),
    )
    .unwrap();
    let id = st.new_id("status").unwrap();
    st.rollback_to_savepoint("rr_op_2").unwrap();
    st.commit().unwrap();
    let name = |st: &mut dyn Storage, id: &str| {
        st.get_node(status, id).unwrap().unwrap().values["name"].clone()
    };
    assert_eq!(name(st.as_mut(), "1"), s("kept"));
    assert_eq!(name(st.as_mut(), "2"), s("closed"));
    assert!(
        st.new_id("status").unwrap() > id,
        "id from the undone part is not handed out again"
    );
    assert!(st.savepoint("bad name; drop table x").is_err());
}

/// A fresh database laid out for [`schema_with_reverse_multilinks`], with
/// the basics of [`add_basics`] written (not committed).
fn with_reverse_multilinks(f: &dyn BackendFactory) -> (crate::Fresh, Box<dyn Storage>, Schema) {
    let fresh = f.fresh();
    let mut st = open(&fresh);
    let schema = schema_with_reverse_multilinks();
    assert!(st.sync_schema(&schema).unwrap());
    add_basics(st.as_mut(), &schema);
    (fresh, st, schema)
}

pub fn computed_reverse_multilinks_are_loaded_and_searchable(f: &dyn BackendFactory) {
    let (_fresh, mut st, schema) = with_reverse_multilinks(f);
    let issue = schema.class("issue").unwrap();
    for (id, nosy, asg) in [
        ("1", vec!["3"], "3"),
        ("2", vec!["1", "3"], "1"),
        ("3", vec!["3"], "3"),
    ] {
        let mut v = vals(auto("1", "20240101000000.000"));
        v.insert("nosy".into(), ml(&nosy));
        v.insert("assignedto".into(), link(asg));
        st.add_node(issue, id, &v).unwrap();
    }
    st.set_retired(issue, "3", true).unwrap();
    st.commit().unwrap();
    let user = schema.class("user").unwrap();
    let alice = st.get_node(user, "3").unwrap().unwrap();
    assert_eq!(
        alice.values["nosy_issues"],
        ml(&["1", "2"]),
        "retired issue 3 left out"
    );
    assert_eq!(alice.values["assigned"], ml(&["1"]));
    assert_eq!(
        st.find_linking(user, "nosy_issues", &["2".into()]).unwrap(),
        vec!["1", "3"]
    );
    assert_eq!(
        st.find_linking(user, "assigned", &["2".into()]).unwrap(),
        vec!["1"]
    );
}

/// What a reader of the backend's change log learns after each commit of
/// another connection covers what the commit changed: either "everything"
/// (a backend without a log always says so) or a list naming the item,
/// and, for a forward link with a computed reverse multilink, the linked
/// items on both sides of the change. A first look never claims to know
/// what it missed.
pub fn the_change_log_covers_every_commit(f: &dyn BackendFactory) {
    let (fresh, mut st, schema) = with_reverse_multilinks(f);
    let issue = schema.class("issue").unwrap();
    for id in ["1", "2"] {
        let mut v = vals(auto("1", "20240101000000.000"));
        v.insert("nosy".into(), ml(&["3"]));
        v.insert("assignedto".into(), link("3"));
        st.add_node(issue, id, &v).unwrap();
    }
    st.commit().unwrap();

    let mut reader = open(&fresh);
    assert!(!reader.sync_schema(&schema).unwrap());
    let Changes::Everything { upto } = reader.changes_since(None).unwrap() else {
        panic!("a first look cannot know what it missed");
    };
    let logged = upto.is_some();
    let mut pos = upto;
    // the next answer must cover `want`; the reader moves on to its end
    let mut check =
        |want: &[(&str, Option<&str>)], what: &str| match reader.changes_since(pos).unwrap() {
            Changes::Everything { upto } => {
                assert!(!logged, "{what}: a backend with a log named nothing");
                pos = upto;
            }
            Changes::Items { upto, items } => {
                for (c, id) in want {
                    let w = (c.to_string(), id.map(str::to_string));
                    assert!(items.contains(&w), "{what}: {w:?} not in {items:?}");
                }
                if want.is_empty() {
                    assert!(items.is_empty(), "{what}: {items:?}");
                }
                pos = Some(upto);
            }
        };
    let mut v = vals(vec![("assignedto", link("1"))]);
    v.insert("title".into(), s("moved"));
    st.set_node(issue, "1", &v, &no_ml_changes()).unwrap();
    st.commit().unwrap();
    check(
        &[
            ("issue", Some("1")),
            ("user", Some("3")),
            ("user", Some("1")),
        ],
        "a Link with a reverse multilink",
    );
    let mut ml_change = no_ml_changes();
    ml_change.insert(
        "nosy".into(),
        MultilinkChange {
            add: vec!["2".into()],
            remove: vec![],
        },
    );
    st.set_node(issue, "2", &vals(vec![]), &ml_change).unwrap();
    st.commit().unwrap();
    check(
        &[("issue", Some("2")), ("user", Some("2"))],
        "a Multilink alone",
    );
    st.set_retired(issue, "2", true).unwrap();
    st.commit().unwrap();
    check(&[("issue", Some("2")), ("user", None)], "a retirement");
    check(&[], "no commit since");
    let mut bulk_schema_user = vals(auto("1", "20240101000000.000"));
    bulk_schema_user.insert("username".into(), s("bulk"));
    st.set_bulk(true).unwrap();
    let user = schema.class("user").unwrap();
    st.add_node(user, "4", &bulk_schema_user).unwrap();
    st.set_bulk(false).unwrap();
    st.commit().unwrap();
    match reader.changes_since(pos).unwrap() {
        Changes::Everything { .. } => {}
        other => panic!("a bulk load is not logged item by item: {other:?}"),
    }
}

/// A created database is empty: no classes until the schema is synced,
/// syncing again changes nothing, and another connection sees the same.
pub fn a_new_database_has_no_layout_until_synced(f: &dyn BackendFactory) {
    let fresh = f.fresh();
    assert!(!fresh.backend.exists().unwrap());
    assert_eq!(fresh.backend.stored_layout_version().unwrap(), None);
    fresh.backend.create().unwrap();
    assert!(fresh.backend.exists().unwrap());
    let current = fresh.backend.current_layout_version();
    assert_eq!(current, 8, "Roundup 2.6's layout version");
    let mut st = open(&fresh);
    assert_eq!(st.backend_name(), fresh.backend.name());
    assert!(st.node_ids("status", None).is_err(), "no class table yet");
    let schema = test_schema();
    assert!(st.sync_schema(&schema).unwrap());
    st.commit().unwrap();
    assert!(!st.sync_schema(&schema).unwrap());
    assert_eq!(
        fresh.backend.stored_layout_version().unwrap(),
        Some(current)
    );
    let mut other = open(&fresh);
    assert!(!other.sync_schema(&schema).unwrap());
    assert!(other.node_ids("issue", None).unwrap().is_empty());
    drop((st, other));
    fresh.backend.nuke().unwrap();
    assert!(!fresh.backend.exists().unwrap());
}

const TEXTS: [(&str, &str, &str, &str); 4] = [
    (
        "issue",
        "1",
        "title",
        "The database is CORRUPT after upgrade",
    ),
    ("msg", "1", "content", "Upgrade broke my database; also a x"),
    ("msg", "2", "content", "database database DATABASE again"),
    ("issue", "2", "title", "Stra\u{df}e \u{e9}t\u{e9}"),
];

/// Items, journals and indexed words written as an import does (bulk
/// mode) read back exactly as the same writes made one at a time.
pub fn bulk_load_matches_single_writes(f: &dyn BackendFactory) {
    let write = |st: &mut dyn Storage, schema: &Schema, bulk: bool| {
        if bulk {
            st.set_bulk(true).unwrap();
        }
        add_basics(st, schema);
        let issue = schema.class("issue").unwrap();
        for id in ["1", "2", "3"] {
            let mut v = vals(auto("1", "20240101000000.000"));
            v.insert("title".into(), s(&format!("issue {id}")));
            v.insert("status".into(), link("1"));
            v.insert("nosy".into(), ml(&["1", "3"]));
            st.add_node(issue, id, &v).unwrap();
            st.set_journal(
                "issue",
                id,
                &[JournalEntry {
                    nodeid: id.into(),
                    date: date("20240101000000.000"),
                    tag: "1".into(),
                    action: "create".into(),
                    params: roundup_core::pyrepr::PyValue::Dict(Vec::new()),
                }],
            )
            .unwrap();
        }
        st.set_last_id("issue", 3).unwrap();
        for (c, i, p, t) in TEXTS {
            st.index_text(c, i, p, t).unwrap();
        }
        if bulk {
            // a search in the middle of the load sees the words so far
            let hits = st.search_text(&["upgrade".into()], None).unwrap();
            assert_eq!(hits.len(), 2, "{hits:?}");
            // re-indexing a text of this load replaces its words
            st.index_text("msg", "2", "content", "database again")
                .unwrap();
            st.index_text("msg", "2", "content", "database database DATABASE again")
                .unwrap();
            st.set_bulk(false).unwrap();
        }
        st.commit().unwrap();
    };
    let (_one_fresh, mut one, schema) = synced(f);
    write(one.as_mut(), &schema, false);
    let (_bulk_fresh, mut bulk, _) = synced(f);
    write(bulk.as_mut(), &schema, true);

    let issue = schema.class("issue").unwrap();
    for id in ["1", "2", "3"] {
        assert_eq!(
            one.get_node(issue, id).unwrap(),
            bulk.get_node(issue, id).unwrap(),
            "issue{id}"
        );
        assert_eq!(
            one.get_journal("issue", id).unwrap(),
            bulk.get_journal("issue", id).unwrap()
        );
    }
    for words in [
        vec!["database"],
        vec!["upgrade"],
        vec!["corrupt", "upgrade"],
        vec!["again"],
        vec!["stra\u{df}e"],
        vec!["also"],
    ] {
        let words: Vec<String> = words.into_iter().map(String::from).collect();
        let want = one.search_text(&words, None).unwrap();
        assert!(!want.is_empty() || words == ["also"], "{words:?}");
        assert_eq!(bulk.search_text(&words, None).unwrap(), want, "{words:?}");
    }
    assert_eq!(one.new_id("issue").unwrap(), 4);
    assert_eq!(bulk.new_id("issue").unwrap(), 4);
    // text ids carry on after the bulk ones
    bulk.index_text("issue", "9", "title", "later words")
        .unwrap();
    bulk.commit().unwrap();
    assert_eq!(bulk.search_text(&["later".into()], None).unwrap().len(), 1);
    assert_eq!(
        bulk.search_text(&["upgrade".into()], None).unwrap().len(),
        2
    );
}

/// A bulk load that is rolled back, or whose connection is dropped in
/// the middle, leaves nothing behind.
pub fn a_failed_bulk_load_rolls_back_completely(f: &dyn BackendFactory) {
    let (fresh, mut st, schema) = synced(f);
    let issue = schema.class("issue").unwrap();
    st.set_bulk(true).unwrap();
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("title".into(), s("vanishing"));
    st.add_node(issue, "1", &v).unwrap();
    st.index_text("issue", "1", "title", "vanishing words")
        .unwrap();
    st.set_bulk(false).unwrap();
    st.rollback().unwrap();
    assert!(!st.has_node("issue", "1").unwrap());
    assert!(st
        .search_text(&["vanishing".into()], None)
        .unwrap()
        .is_empty());

    st.set_bulk(true).unwrap();
    st.add_node(issue, "2", &v).unwrap();
    st.index_text("issue", "2", "title", "abandoned words")
        .unwrap();
    drop(st);
    let mut st = open(&fresh);
    assert!(!st.has_node("issue", "2").unwrap());
    assert!(st
        .search_text(&["abandoned".into()], None)
        .unwrap()
        .is_empty());
    // the database is usable afterwards
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("title".into(), s("kept"));
    st.add_node(issue, "3", &v).unwrap();
    st.index_text("issue", "3", "title", "kept words").unwrap();
    st.commit().unwrap();
    assert_eq!(st.search_text(&["kept".into()], None).unwrap().len(), 1);
}
