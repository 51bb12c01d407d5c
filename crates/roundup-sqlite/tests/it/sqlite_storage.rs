//! The SQLite backend against real database files.

use std::collections::HashMap;

use crate::common::*;
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{ClassKind, Property};
use roundup_core::storage::{JournalEntry, MultilinkChange, Storage, TextHit};
use roundup_core::{Error, StorageKind, Value};
use roundup_rdbms::layout::DbSchema;

fn setup() -> (
    tempfile::TempDir,
    roundup_sqlite::SqliteStorage,
    roundup_core::Schema,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(dir.path());
    let schema = test_schema();
    assert!(st.sync_schema(&schema).unwrap());
    st.commit().unwrap();
    (dir, st, schema)
}

fn add_basics(st: &mut roundup_sqlite::SqliteStorage, schema: &roundup_core::Schema) {
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

#[test]
fn new_database_has_roundups_tables_and_layout() {
    let (dir, mut st, schema) = setup();
    let tables = raw_strings(
        dir.path(),
        "select name from sqlite_master where type='table' order by name",
    );
    for t in [
        "schema",
        "ids",
        "otks",
        "sessions",
        "__textids",
        "__words",
        "__fts",
        "_issue",
        "issue__journal",
        "issue_nosy",
        "issue_messages",
        "issue_files",
        "issue_superseder",
        "_user",
        "_status",
        "_msg",
        "_file",
    ] {
        assert!(
            tables.contains(&t.to_string()),
            "missing table {t} in {tables:?}"
        );
    }
    let indexes = raw_strings(
        dir.path(),
        "select name from sqlite_master where type='index' order by name",
    );
    for i in [
        "_user_username_idx",
        "_user_key_retired_idx",
        "_user_retired_idx",
        "issue_journ_idx",
        "issue_nosy_l_idx",
        "issue_nosy_n_idx",
        "words_word_ids",
        "__textids_by_props",
        "ids_name_idx",
    ] {
        assert!(indexes.contains(&i.to_string()), "missing index {i}");
    }
    // column layout: sorted names, Roundup's types, interval seconds column
    let sql = raw_strings(
        dir.path(),
        "select sql from sqlite_master where name='_issue'",
    );
    assert_eq!(
        sql,
        vec!["CREATE TABLE _issue (__estimate_int__ BIGINT,_activity VARCHAR(30),_actor INTEGER,_assignedto INTEGER,_creation VARCHAR(30),_creator INTEGER,_deadline VARCHAR(30),_estimate VARCHAR(255),_status INTEGER,_title VARCHAR(255),_urgent BOOLEAN,_votes INTEGER,id INTEGER PRIMARY KEY,__retired__ INTEGER DEFAULT 0)"]
    );
    let msg_sql = raw_strings(
        dir.path(),
        "select sql from sqlite_master where name='_msg'",
    );
    assert!(msg_sql[0].contains("_content VARCHAR(255)"), "{msg_sql:?}");
    assert_eq!(raw_strings(dir.path(), "pragma journal_mode"), vec!["wal"]);
    let ids = raw_strings(dir.path(), "select name, num from ids order by name");
    assert!(
        ids.contains(&"issue|1".to_string()) && ids.contains(&"__textids|1".to_string()),
        "{ids:?}"
    );

    // the schema row is Roundup's dict and matches the schema
    let stored = st.stored_schema().unwrap();
    assert_eq!(stored.version, 8);
    assert_eq!(stored.tables.len(), 5);
    let user = &stored.tables["user"];
    assert_eq!(user.key, "username");
    assert_eq!(
        user.props[0],
        (
            "username".to_string(),
            "<roundup.hyperdb.String>".to_string()
        )
    );
    let text = raw_strings(dir.path(), "select schema from schema");
    assert!(
        text[0].starts_with(
            "{'version': 8, 'tables': {'status': ('name', [('name', '<roundup.hyperdb.String>')"
        ),
        "{}",
        text[0]
    );
    assert!(text[0].contains("('author', '<roundup.hyperdb.Link to \"user\">')"));
    assert_eq!(DbSchema::parse(&text[0]).unwrap(), stored);

    // unchanged schema: nothing to do, nothing written
    assert!(!st.sync_schema(&schema).unwrap());
    drop(st);
    let mut again = open(dir.path());
    assert!(!again.sync_schema(&schema).unwrap());
}

#[test]
fn items_round_trip_with_every_type() {
    let (_dir, mut st, schema) = setup();
    add_basics(&mut st, &schema);
    let issue = schema.class("issue").unwrap();
    let est = interval(5400, "1:30");
    let mut v = vals(auto("3", "20240102030405.250"));
    v.extend(vals(vec![
        ("title", s("Crash on start")),
        ("status", link("1")),
        ("assignedto", None),
        ("deadline", Some(Value::Date(date("20240301120000.000")))),
        ("estimate", Some(Value::Interval(est))),
        ("urgent", Some(Value::Boolean(true))),
        ("votes", Some(Value::Integer(-3))),
        ("nosy", ml(&["3", "10", "2"])),
        ("messages", ml(&[])),
    ]));
    assert_eq!(st.new_id("issue").unwrap(), 1);
    st.add_node(issue, "1", &v).unwrap();
    st.commit().unwrap();

    let n = st.get_node(issue, "1").unwrap().expect("issue1");
    assert!(!n.retired);
    assert_eq!(n.values["title"], s("Crash on start"));
    assert_eq!(n.values["status"], link("1"));
    assert_eq!(n.values["assignedto"], None);
    assert_eq!(
        n.values["deadline"],
        Some(Value::Date(date("20240301120000.000")))
    );
    assert_eq!(n.values["estimate"], Some(Value::Interval(est)));
    assert_eq!(n.values["urgent"], Some(Value::Boolean(true)));
    assert_eq!(n.values["votes"], Some(Value::Integer(-3)));
    assert_eq!(
        n.values["nosy"],
        ml(&["2", "3", "10"]),
        "multilinks sorted numerically"
    );
    assert_eq!(n.values["messages"], ml(&[]));
    assert_eq!(n.values["files"], ml(&[]));
    assert_eq!(
        n.values["creation"],
        Some(Value::Date(date("20240102030405.250")))
    );
    assert_eq!(n.values["creator"], link("3"));
    assert_eq!(n.values["actor"], link("3"));

    // storage encodings as Roundup's sqlite backend
    let row = raw_strings(
        _dir.path(),
        "select _creation, _deadline, _status, _urgent, __estimate_int__, typeof(_status) from _issue where id=1",
    );
    assert_eq!(
        row,
        vec!["20240102030405.250|20240301120000.000|1|1|5400|integer"]
    );
    // intervals as Roundup's str(): what its sqlite backend stores
    assert_eq!(
        raw_strings(_dir.path(), "select _estimate from _issue where id=1"),
        vec![est.to_string()]
    );
    assert_eq!(est.to_string(), "+ 1:30");
    let u = st
        .get_node(schema.class("user").unwrap(), "3")
        .unwrap()
        .unwrap();
    match &u.values["password"] {
        Some(Value::Password(p)) => assert_eq!(p.as_str(), "{plaintext}secret"),
        other => panic!("password came back as {other:?}"),
    }
    let st_node = st
        .get_node(schema.class("status").unwrap(), "2")
        .unwrap()
        .unwrap();
    assert_eq!(st_node.values["order"], Some(Value::Number(2.0)));

    // FileClass content never reaches SQL
    let msg = schema.class("msg").unwrap();
    let mut m = vals(auto("3", "20240102030405.000"));
    m.insert("content".into(), s("on disk only"));
    m.insert("author".into(), link("3"));
    st.add_node(msg, "1", &m).unwrap();
    assert_eq!(
        raw_strings(
            _dir.path(),
            "select count(*) from _msg where _content is null"
        ),
        vec!["0"]
    );
    st.commit().unwrap();
    assert_eq!(
        raw_strings(
            _dir.path(),
            "select count(*) from _msg where _content is null"
        ),
        vec!["1"]
    );
    assert!(!st
        .get_node(msg, "1")
        .unwrap()
        .unwrap()
        .values
        .contains_key("content"));

    // missing and malformed ids
    assert_eq!(st.get_node(issue, "99").unwrap(), None);
    assert_eq!(st.get_node(issue, "x").unwrap(), None);
    assert!(st.has_node("issue", "1").unwrap());
    assert!(!st.has_node("issue", "2").unwrap());
}

#[test]
fn set_multilinks_retire_restore_destroy_and_queries() {
    let (dir, mut st, schema) = setup();
    add_basics(&mut st, &schema);
    let issue = schema.class("issue").unwrap();
    for id in ["1", "2", "3"] {
        let mut v = vals(auto("1", "20240102030405.000"));
        v.insert("title".into(), s(&format!("issue {id}")));
        v.insert("status".into(), link("1"));
        v.insert("nosy".into(), ml(&["1"]));
        st.add_node(issue, id, &v).unwrap();
    }
    // plain column update + interval seconds kept in step
    let upd = vals(vec![
        ("status", link("2")),
        ("estimate", Some(Value::Interval(interval(60, "0:01")))),
        ("activity", Some(Value::Date(date("20240105000000.000")))),
    ]);
    let mut changes = HashMap::new();
    changes.insert(
        "nosy".to_string(),
        MultilinkChange {
            add: vec!["3".into(), "2".into()],
            remove: vec!["1".into()],
        },
    );
    st.set_node(issue, "2", &upd, &changes).unwrap();
    let n = st.get_node(issue, "2").unwrap().unwrap();
    assert_eq!(n.values["status"], link("2"));
    assert_eq!(n.values["nosy"], ml(&["2", "3"]));
    assert_eq!(
        n.values["activity"],
        Some(Value::Date(date("20240105000000.000")))
    );
    assert_eq!(n.values["title"], s("issue 2"), "untouched");
    st.commit().unwrap();
    assert_eq!(
        raw_strings(dir.path(), "select __estimate_int__ from _issue where id=2"),
        vec!["60"]
    );
    // clearing the interval clears the seconds too
    st.set_node(
        issue,
        "2",
        &vals(vec![("estimate", None)]),
        &no_ml_changes(),
    )
    .unwrap();
    st.commit().unwrap();
    assert_eq!(
        raw_strings(dir.path(), "select __estimate_int__ from _issue where id=2"),
        vec!["NULL"]
    );
    // a whole multilink value replaces the links
    st.set_node(
        issue,
        "3",
        &vals(vec![("nosy", ml(&["2", "3"]))]),
        &no_ml_changes(),
    )
    .unwrap();
    assert_eq!(
        st.get_node(issue, "3").unwrap().unwrap().values["nosy"],
        ml(&["2", "3"])
    );
    // errors name what was wrong
    let err = st
        .set_node(
            issue,
            "99",
            &vals(vec![("title", s("x"))]),
            &no_ml_changes(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchNode { .. }), "{err}");
    let err = st
        .set_node(issue, "1", &vals(vec![("nope", s("x"))]), &no_ml_changes())
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let err = st
        .set_node(
            issue,
            "1",
            &vals(vec![("votes", s("many"))]),
            &no_ml_changes(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("issue.votes"), "{err}");

    // find_linking on Link and Multilink
    assert_eq!(
        st.find_linking(issue, "status", &["1".into()]).unwrap(),
        vec!["1", "3"]
    );
    assert_eq!(
        st.find_linking(issue, "nosy", &["3".into(), "2".into()])
            .unwrap(),
        vec!["2", "3"]
    );
    assert_eq!(
        st.find_linking(issue, "nosy", &[]).unwrap(),
        Vec::<String>::new()
    );
    assert!(st.find_linking(issue, "title", &["1".into()]).is_err());

    // retire stores the id, restore 0
    st.set_retired(issue, "3", true).unwrap();
    assert_eq!(
        raw_strings(dir.path(), "select __retired__ from _issue where id=3"),
        vec!["0"],
        "not committed yet"
    );
    st.commit().unwrap();
    assert_eq!(
        raw_strings(dir.path(), "select __retired__ from _issue where id=3"),
        vec!["3"]
    );
    assert!(st.get_node(issue, "3").unwrap().unwrap().retired);
    assert_eq!(st.node_ids("issue", Some(false)).unwrap(), vec!["1", "2"]);
    assert_eq!(st.node_ids("issue", Some(true)).unwrap(), vec!["3"]);
    assert_eq!(st.node_ids("issue", None).unwrap(), vec!["1", "2", "3"]);
    assert_eq!(st.count("issue").unwrap(), 2);
    assert_eq!(
        st.find_linking(issue, "status", &["1".into()]).unwrap(),
        vec!["1"]
    );
    st.set_retired(issue, "3", false).unwrap();
    st.commit().unwrap();
    assert_eq!(
        raw_strings(dir.path(), "select __retired__ from _issue where id=3"),
        vec!["0"]
    );
    assert_eq!(st.count("issue").unwrap(), 3);

    // key lookup ignores retired items
    let user = schema.class("user").unwrap();
    assert_eq!(st.lookup_key(user, "alice").unwrap(), Some("3".to_string()));
    st.set_retired(user, "3", true).unwrap();
    assert_eq!(st.lookup_key(user, "alice").unwrap(), None);
    assert!(st.lookup_key(issue, "x").is_err(), "issue has no key");

    // destroy removes the row, its links and journal
    st.add_journal(
        "issue",
        &JournalEntry {
            nodeid: "2".into(),
            date: date("20240105000000.000"),
            tag: "1".into(),
            action: "create".into(),
            params: PyValue::Dict(vec![]),
        },
    )
    .unwrap();
    st.index_text("issue", "2", "title", "destroyed words")
        .unwrap();
    st.destroy_node(issue, "2").unwrap();
    st.commit().unwrap();
    assert!(!st.has_node("issue", "2").unwrap());
    assert_eq!(
        raw_strings(dir.path(), "select count(*) from issue_nosy where nodeid=2"),
        vec!["0"]
    );
    assert_eq!(
        raw_strings(
            dir.path(),
            "select count(*) from issue__journal where nodeid=2"
        ),
        vec!["0"]
    );
    assert!(st
        .search_text(&["destroyed".into()], None)
        .unwrap()
        .is_empty());
    assert!(matches!(
        st.destroy_node(issue, "2").unwrap_err(),
        Error::NoSuchNode { .. }
    ));
}

#[test]
fn journal_round_trip_order_replace_and_pack() {
    let (dir, mut st, schema) = setup();
    let entry = |when: &str, action: &str, params: PyValue| JournalEntry {
        nodeid: "1".into(),
        date: date(when),
        tag: "3".into(),
        action: action.into(),
        params,
    };
    let set_params = PyValue::Dict(vec![
        (
            PyValue::Str("nosy".into()),
            PyValue::Tuple(vec![PyValue::Tuple(vec![
                PyValue::Str("+".into()),
                PyValue::List(vec![PyValue::Str("3".into())]),
            ])]),
        ),
        (
            PyValue::Str("title".into()),
            PyValue::Str("it's old".into()),
        ),
    ]);
    let entries = vec![
        entry("20240101000000.000", "create", PyValue::Dict(vec![])),
        entry("20240102000000.000", "set", set_params.clone()),
        entry("20240102000000.000", "retired", PyValue::None),
        entry(
            "20240103000000.000",
            "link",
            PyValue::Tuple(vec![
                PyValue::Str("msg".into()),
                PyValue::Str("4".into()),
                PyValue::Str("issue".into()),
            ]),
        ),
    ];
    // written out of order; read back by date, insertion order for ties
    for i in [3, 0, 1, 2] {
        st.add_journal("issue", &entries[i]).unwrap();
    }
    st.commit().unwrap();
    assert_eq!(st.get_journal("issue", "1").unwrap(), entries);
    let raw_rows = raw_strings(dir.path(), "select nodeid, typeof(nodeid), date, tag, action, params from issue__journal where action='set'");
    assert_eq!(
        raw_rows,
        vec![format!(
            "1|integer|20240102000000.000|3|set|{}",
            roundup_core::pyrepr::repr(&set_params)
        )]
    );
    assert!(
        raw_rows[0].ends_with("'title': 'it\\'s old'}")
            || raw_rows[0].ends_with("'title': \"it's old\"}")
    );

    // pack keeps create entries and recent ones
    st.pack(&schema, &date("20240102120000.000")).unwrap();
    let actions: Vec<String> = st
        .get_journal("issue", "1")
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, vec!["create", "link"]);

    // replace the whole journal (import)
    st.set_journal("issue", "1", &entries[1..2]).unwrap();
    assert_eq!(
        st.get_journal("issue", "1").unwrap(),
        entries[1..2].to_vec()
    );
    assert!(st.get_journal("issue", "2").unwrap().is_empty());
}

#[test]
fn schema_evolution_preserves_data() {
    let (dir, mut st, schema) = setup();
    add_basics(&mut st, &schema);
    let issue = schema.class("issue").unwrap();
    let mut v = vals(auto("1", "20240102030405.000"));
    v.extend(vals(vec![
        ("title", s("keep me")),
        ("estimate", Some(Value::Interval(interval(120, "0:02")))),
        ("nosy", ml(&["1", "3"])),
        ("votes", Some(Value::Integer(7))),
    ]));
    st.add_node(issue, "1", &v).unwrap();
    st.set_retired(issue, "1", true).unwrap();
    st.commit().unwrap();

    // 1. add a class, add properties (String, Interval, Multilink), remove
    //    a property and a multilink, change keys.
    let mut s2 = test_schema();
    {
        let c = s2.class_mut("issue").unwrap();
        c.props.shift_remove("votes");
        c.props.shift_remove("superseder");
        c.props.insert("severity".into(), Property::string());
        c.props.insert("spent".into(), Property::interval());
        c.props
            .insert("watchers".into(), Property::multilink("user"));
        let u = s2.class_mut("user").unwrap();
        u.set_key("realname").unwrap();
    }
    s2.add_class(class(
        "keyword",
        ClassKind::Plain,
        vec![("name", Property::string())],
        Some("name"),
    ))
    .unwrap();
    s2.classes.shift_remove("file");
    {
        // issue.files and msg.* pointed at file: drop those too
        let c = s2.class_mut("issue").unwrap();
        c.props.shift_remove("files");
    }
    s2.finish().unwrap();
    assert!(st.sync_schema(&s2).unwrap());
    st.commit().unwrap();
    assert!(!st.sync_schema(&s2).unwrap(), "second sync is a no-op");

    let issue2 = s2.class("issue").unwrap();
    let n = st.get_node(issue2, "1").unwrap().unwrap();
    assert_eq!(n.values["title"], s("keep me"));
    assert_eq!(
        n.values["estimate"],
        Some(Value::Interval(interval(120, "0:02")))
    );
    assert_eq!(n.values["nosy"], ml(&["1", "3"]));
    assert_eq!(n.values["severity"], None);
    assert_eq!(n.values["watchers"], ml(&[]));
    assert_eq!(
        n.values["creation"],
        Some(Value::Date(date("20240102030405.000")))
    );
    assert!(n.retired, "retired flag survives the rebuild");
    assert!(!n.values.contains_key("votes"));
    assert_eq!(
        raw_strings(
            dir.path(),
            "select __estimate_int__, __retired__ from _issue"
        ),
        vec!["120|1"]
    );

    let tables = raw_strings(
        dir.path(),
        "select name from sqlite_master where type='table'",
    );
    for gone in [
        "issue_superseder",
        "issue_files",
        "_file",
        "file__journal",
        "_issue__rebuild",
    ] {
        assert!(
            !tables.contains(&gone.to_string()),
            "{gone} should be gone: {tables:?}"
        );
    }
    for new in ["issue_watchers", "_keyword", "keyword__journal"] {
        assert!(tables.contains(&new.to_string()), "{new} missing");
    }
    let sql = raw_strings(
        dir.path(),
        "select sql from sqlite_master where name='_issue'",
    );
    assert!(
        sql[0].contains("__spent_int__ BIGINT")
            && sql[0].contains("_severity VARCHAR(255)")
            && !sql[0].contains("_votes"),
        "{sql:?}"
    );
    let idx = raw_strings(
        dir.path(),
        "select name from sqlite_master where type='index' and tbl_name='_user'",
    );
    assert!(
        idx.contains(&"_user_realname_idx".to_string())
            && !idx.contains(&"_user_username_idx".to_string()),
        "{idx:?}"
    );
    assert!(idx.contains(&"_user_key_retired_idx".to_string()));
    assert_eq!(
        raw_strings(dir.path(), "select num from ids where name='keyword'"),
        vec!["1"]
    );
    let stored = st.stored_schema().unwrap();
    assert_eq!(stored.tables["user"].key, "realname");
    assert!(!stored.tables.contains_key("file"));
    // users kept their data through the key change
    let user = s2.class("user").unwrap();
    let u = st.get_node(user, "3").unwrap().unwrap();
    assert_eq!(u.values["username"], s("alice"));

    // 2. a property changes type to Interval: seconds get computed
    let mut s3 = s2.clone();
    s3.class_mut("issue")
        .unwrap()
        .props
        .insert("severity".into(), Property::interval());
    let hour = interval(3600, "1:00");
    st.set_node(
        issue2,
        "1",
        &vals(vec![("severity", s(&hour.to_string()))]),
        &no_ml_changes(),
    )
    .unwrap();
    st.commit().unwrap();
    assert!(st.sync_schema(&s3).unwrap());
    st.commit().unwrap();
    let n = st
        .get_node(s3.class("issue").unwrap(), "1")
        .unwrap()
        .unwrap();
    assert_eq!(n.values["severity"], Some(Value::Interval(hour)));
    assert_eq!(
        raw_strings(dir.path(), "select __severity_int__ from _issue"),
        vec!["3600"]
    );
}

/// SQLite's own words for a failed insert. That the failure is a
/// constraint, not retryable, and leaves the transaction usable is the
/// backend suite's `failed_statement_keeps_transaction_usable`, which runs
/// on SQLite in `backend_suite`.
#[test]
fn a_failed_insert_names_the_table_in_sqlites_words() {
    let (_dir, mut st, schema) = setup();
    add_basics(&mut st, &schema);
    st.commit().unwrap();
    let status = schema.class("status").unwrap();
    // duplicate primary key: the statement fails, naming the table
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("name".into(), s("dupe"));
    let err = st.add_node(status, "2", &v).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("insert into _status") && msg.contains("UNIQUE"),
        "{msg}"
    );
    assert_eq!(err.storage_error_kind(), Some(StorageKind::Constraint));
}

#[test]
fn full_text_index_and_search() {
    let (dir, mut st, _schema) = setup();
    st.index_text(
        "issue",
        "1",
        "title",
        "The database is CORRUPT after upgrade",
    )
    .unwrap();
    st.index_text("msg", "2", "content", "Upgrade broke my database; also a x")
        .unwrap();
    st.index_text("issue", "10", "title", "Unrelated words")
        .unwrap();
    st.commit().unwrap();
    // stored upper case, stopwords and one-letter words left out
    let words = raw_strings(dir.path(), "select _word from __words w, __textids t where w._textid=t._textid and t._class='msg' order by _word");
    assert_eq!(words, vec!["ALSO", "BROKE", "DATABASE", "MY", "UPGRADE"]);
    let hits = st
        .search_text(&["database".into(), "Upgrade".into()], None)
        .unwrap();
    assert_eq!(
        hits,
        vec![
            TextHit {
                class: "issue".into(),
                id: "1".into(),
                prop: "title".into()
            },
            TextHit {
                class: "msg".into(),
                id: "2".into(),
                prop: "content".into()
            },
        ]
    );
    let only_msg = st
        .search_text(&["database".into()], Some(&["msg".to_string()]))
        .unwrap();
    assert_eq!(only_msg.len(), 1);
    assert_eq!(only_msg[0].class, "msg");
    assert!(st
        .search_text(&["database".into(), "unrelated".into()], None)
        .unwrap()
        .is_empty());
    assert!(st.search_text(&["the".into()], None).unwrap().is_empty());
    // re-indexing replaces the words and keeps the text id
    st.index_text("issue", "1", "title", "renamed entirely")
        .unwrap();
    st.commit().unwrap();
    assert_eq!(st.search_text(&["corrupt".into()], None).unwrap(), vec![]);
    assert_eq!(st.search_text(&["RENAMED".into()], None).unwrap().len(), 1);
    assert_eq!(
        raw_strings(dir.path(), "select count(*) from __textids"),
        vec!["3"]
    );
    assert_eq!(
        raw_strings(dir.path(), "select num from ids where name='__textids'"),
        vec!["4"]
    );
}

fn journal_mode(dir: &std::path::Path) -> String {
    raw_strings(dir, "pragma journal_mode").join("")
}

#[test]
fn bulk_indexing_matches_single_writes_and_keeps_write_ahead_logging() {
    let texts = [
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
    let dump = "select t._class, t._itemid, t._prop, w._word from __words w, __textids t \
                where w._textid = t._textid order by 1, 2, 3, 4";
    // One write at a time.
    let (one_dir, mut one, _) = setup();
    for (c, i, p, t) in texts {
        one.index_text(c, i, p, t).unwrap();
    }
    one.commit().unwrap();
    let want = raw_strings(one_dir.path(), dump);
    assert!(want.len() > 10, "{want:?}");

    // A bulk load into the empty index, with a search in the middle.
    let (dir, mut st, _) = setup();
    assert_eq!(journal_mode(dir.path()), "wal");
    st.set_bulk(true).unwrap();
    for (c, i, p, t) in &texts[..2] {
        st.index_text(c, i, p, t).unwrap();
    }
    // Alone on the database, the load writes it through a rollback
    // journal instead of the log.
    assert!(dir.path().join("db-journal").exists());
    let hits = st.search_text(&["upgrade".into()], None).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    for (c, i, p, t) in &texts[2..] {
        st.index_text(c, i, p, t).unwrap();
    }
    // re-indexing a text of this load replaces its words
    st.index_text("msg", "2", "content", "database again")
        .unwrap();
    st.index_text("msg", "2", "content", "database database DATABASE again")
        .unwrap();
    st.set_bulk(false).unwrap();
    st.commit().unwrap();
    assert_eq!(raw_strings(dir.path(), dump), want);
    assert_eq!(
        raw_strings(
            dir.path(),
            "select name from sqlite_master where tbl_name='__words' and type='index' order by 1"
        ),
        ["words_by_id", "words_word_ids"]
    );
    assert_eq!(journal_mode(dir.path()), "wal");
    assert!(!dir.path().join("db-journal").exists());
    // Text ids carry on after the bulk ones.
    st.index_text("issue", "9", "title", "later words").unwrap();
    st.commit().unwrap();
    assert_eq!(
        raw_strings(
            dir.path(),
            "select _textid from __textids where _itemid='9'"
        ),
        ["5"]
    );

    // A bulk load that is rolled back leaves nothing, and the log.
    st.set_bulk(true).unwrap();
    st.index_text("issue", "3", "title", "vanishing words")
        .unwrap();
    st.set_bulk(false).unwrap();
    st.rollback().unwrap();
    assert!(st
        .search_text(&["vanishing".into()], None)
        .unwrap()
        .is_empty());
    assert_eq!(journal_mode(dir.path()), "wal");

    // Dropped in the middle of one: the same.
    st.set_bulk(true).unwrap();
    st.index_text("issue", "4", "title", "abandoned words")
        .unwrap();
    drop(st);
    assert_eq!(journal_mode(dir.path()), "wal");
    let mut st = open(dir.path());
    assert!(st
        .search_text(&["abandoned".into()], None)
        .unwrap()
        .is_empty());

    // With another connection open, the log stays in use throughout.
    let other = rusqlite::Connection::open(dir.path().join("db")).unwrap();
    let n: i64 = other
        .query_row("select count(*) from __words", [], |r| r.get(0))
        .unwrap();
    assert!(n > 10);
    st.set_bulk(true).unwrap();
    st.index_text("issue", "5", "title", "shared words")
        .unwrap();
    assert!(!dir.path().join("db-journal").exists());
    st.set_bulk(false).unwrap();
    st.commit().unwrap();
    let mode: String = other
        .query_row("pragma journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(st.search_text(&["shared".into()], None).unwrap().len(), 1);
}

/// Computed reverse multilinks get no column and no table in SQLite. How
/// they load and search is the backend suite's
/// `computed_reverse_multilinks_are_loaded_and_searchable`, run on SQLite
/// in `backend_suite`.
#[test]
fn computed_reverse_multilinks_have_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(dir.path());
    let schema = schema_with_reverse_multilinks();
    assert!(st.sync_schema(&schema).unwrap());
    st.commit().unwrap();
    assert!(raw_strings(
        dir.path(),
        "select name from sqlite_master where name in ('user_nosy_issues', 'user_assigned')"
    )
    .is_empty());
    // the stored user rows have no such columns either
    let cols = raw_strings(dir.path(), "select name from pragma_table_info('_user')");
    assert!(!cols.is_empty(), "no _user table");
    assert!(
        !cols.iter().any(|c| c == "_nosy_issues" || c == "_assigned"),
        "{cols:?}"
    );
}

/// The indexes of a table: name and definition.
fn indexes_of(dir: &std::path::Path, table: &str) -> Vec<String> {
    raw_strings(
        dir,
        &format!(
            "select name || ': ' || sql from sqlite_master where type='index' and tbl_name='{table}' and sql is not null order by name"
        ),
    )
}

#[test]
fn a_bulk_load_into_empty_tables_rebuilds_their_indexes_at_the_end() {
    let (dir, mut st, schema) = setup();
    add_basics(&mut st, &schema);
    st.commit().unwrap();
    let tables = ["_issue", "issue_nosy", "issue__journal", "_status"];
    let before: Vec<Vec<String>> = tables.iter().map(|t| indexes_of(dir.path(), t)).collect();
    assert!(before[0].len() >= 2, "{:?}", before[0]);
    assert!(!before[1].is_empty());

    let issue = schema.class("issue").unwrap();
    let status = schema.class("status").unwrap();
    let add_issues = |st: &mut roundup_sqlite::SqliteStorage, ids: &[&str]| {
        for id in ids {
            let mut v = vals(auto("1", "20240102030405.000"));
            v.insert("title".into(), s(&format!("issue {id}")));
            v.insert("status".into(), link("1"));
            v.insert("nosy".into(), ml(&["1", "3"]));
            st.add_node(issue, id, &v).unwrap();
        }
    };

    // Rolled back: everything as before, indexes included.
    st.set_bulk(true).unwrap();
    add_issues(&mut st, &["1", "2"]);
    st.set_bulk(false).unwrap();
    st.rollback().unwrap();
    for (t, want) in tables.iter().zip(&before) {
        assert_eq!(&indexes_of(dir.path(), t), want, "{t}");
    }

    // Committed: the same indexes as before, and they are used.
    st.set_bulk(true).unwrap();
    add_issues(&mut st, &["1", "2", "3"]);
    // status already holds items: its indexes stay while loading
    let id = st.new_id("status").unwrap().to_string();
    let mut v = vals(auto("1", "20240101000000.000"));
    v.insert("name".into(), s("later"));
    st.add_node(status, &id, &v).unwrap();
    st.set_bulk(false).unwrap();
    st.commit().unwrap();
    for (t, want) in tables.iter().zip(&before) {
        assert_eq!(&indexes_of(dir.path(), t), want, "{t}");
    }
    assert_eq!(
        raw_strings(dir.path(), "select count(*) from issue_nosy"),
        ["6"]
    );
    assert_eq!(raw_strings(dir.path(), "pragma integrity_check"), ["ok"]);
}

/// A writer that meets another connection's write lock past its busy
/// timeout gets a retryable "busy" error, and can write once the lock is
/// gone.
#[test]
fn a_locked_database_is_a_busy_retryable_error() {
    let (dir, mut st, schema) = setup();
    let locker = raw(dir.path());
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut other = roundup_sqlite::open(dir.path(), std::time::Duration::from_millis(50)).unwrap();
    let err = other.new_id("status").unwrap_err();
    assert_eq!(err.storage_error_kind(), Some(StorageKind::Busy), "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().starts_with("database error: "), "{err}");
    locker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(other.new_id("status").unwrap(), 1);
    other.commit().unwrap();
    // this connection's counter has moved on as well
    assert_eq!(st.new_id("status").unwrap(), 2);
    st.rollback().unwrap();
    let _ = schema;
}

/// A file that is no SQLite database is a connection failure.
#[test]
fn a_file_that_is_not_a_database_is_a_connection_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db"), vec![b'x'; 4096]).unwrap();
    let err = match roundup_sqlite::open(dir.path(), std::time::Duration::from_millis(50)) {
        Ok(_) => panic!("a garbage file opened as a database"),
        Err(e) => e,
    };
    assert_eq!(
        err.storage_error_kind(),
        Some(StorageKind::Connection),
        "{err}"
    );
    assert!(!err.is_retryable());
}
