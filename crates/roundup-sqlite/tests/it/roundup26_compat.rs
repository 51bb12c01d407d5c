//! Compatibility with a database made by Roundup 2.6 itself (the fixture
//! from `tests/fixtures/make_roundup26_fixture.sh`): we read what Roundup
//! wrote, and Roundup reads what we write.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{ClassKind, Property, Schema};
use roundup_core::storage::{JournalEntry, Storage, TextHit};
use roundup_core::Value;

/// The classic template's schema, as its schema.py declares it.
fn classic_schema() -> Schema {
    let mut s = Schema::new();
    let named = |n: &str, with_order: bool| {
        let mut p = vec![("name", Property::string())];
        if with_order {
            p.push(("order", Property::number()));
        }
        class(n, ClassKind::Plain, p, Some("name"))
    };
    s.add_class(named("priority", true)).unwrap();
    s.add_class(named("status", true)).unwrap();
    s.add_class(named("keyword", false)).unwrap();
    s.add_class(class(
        "query",
        ClassKind::Plain,
        vec![
            ("klass", Property::string()),
            ("name", Property::string()),
            ("url", Property::string()),
            ("private_for", Property::link("user")),
        ],
        None,
    ))
    .unwrap();
    s.add_class(class(
        "user",
        ClassKind::Plain,
        vec![
            ("username", Property::string()),
            ("password", Property::password()),
            ("address", Property::string()),
            ("realname", Property::string()),
            ("phone", Property::string()),
            ("organisation", Property::string()),
            ("alternate_addresses", Property::string()),
            ("queries", Property::multilink("query")),
            ("roles", Property::string()),
            ("timezone", Property::string()),
        ],
        Some("username"),
    ))
    .unwrap();
    s.add_class(class(
        "msg",
        ClassKind::File,
        vec![
            ("author", Property::link("user").no_journal()),
            ("recipients", Property::multilink("user").no_journal()),
            ("date", Property::date()),
            ("summary", Property::string()),
            ("files", Property::multilink("file")),
            ("messageid", Property::string()),
            ("inreplyto", Property::string()),
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
            ("assignedto", Property::link("user")),
            ("keyword", Property::multilink("keyword")),
            ("priority", Property::link("priority")),
            ("status", Property::link("status")),
        ],
        None,
    ))
    .unwrap();
    s.finish().unwrap();
    s
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roundup26-classic")
}

fn copy_tracker(to: &Path) {
    std::fs::create_dir_all(to.join("db")).unwrap();
    // only the database Roundup 2.6 wrote: nothing here reads the home's
    // schema.py or config.ini (the schema is declared above)
    std::fs::copy(fixture().join("db/db"), to.join("db/db")).unwrap();
}

fn schema_dump(db_dir: &Path) -> Vec<String> {
    let mut v = raw_strings(
        db_dir,
        // our extra lookup indexes (rr_*) are not part of Roundup's layout
        "select type || ' ' || name || ' ' || coalesce(sql, '') from sqlite_master where name not like 'rr\\_%' escape '\\' order by name",
    );
    v.extend(raw_strings(db_dir, "select schema from schema"));
    v.extend(raw_strings(
        db_dir,
        "select name || '=' || num from ids order by name",
    ));
    v
}

fn str_tuple(items: &[&str]) -> PyValue {
    PyValue::Tuple(items.iter().map(|s| PyValue::Str(s.to_string())).collect())
}

fn change(sign: &str, ids: &[&str]) -> PyValue {
    PyValue::Tuple(vec![PyValue::Tuple(vec![
        PyValue::Str(sign.into()),
        PyValue::List(ids.iter().map(|s| PyValue::Str(s.to_string())).collect()),
    ])])
}

#[test]
fn roundup_26_database_reads_and_writes_both_ways() {
    let home_dir = tempfile::Builder::new()
        .prefix("rt-compat")
        .tempdir_in("/tmp")
        .unwrap();
    let home = home_dir.path().to_path_buf();
    copy_tracker(&home);
    let db_dir = home.join("db");
    let before = schema_dump(&db_dir);

    let schema = classic_schema();
    let mut st = open(&db_dir);
    // The classic schema matches what Roundup recorded: opening adds only
    // our lookup indexes, and does so once.
    st.sync_schema(&schema).unwrap();
    st.commit().unwrap();
    assert!(
        !st.sync_schema(&schema).unwrap(),
        "a second open changes nothing"
    );
    assert_eq!(
        schema_dump(&db_dir),
        before,
        "opening must not change anything"
    );

    // ---- what Roundup wrote ----
    let user = schema.class("user").unwrap();
    let admin = st.get_node(user, "1").unwrap().unwrap();
    match &admin.values["password"] {
        Some(Value::Password(p)) => assert!(
            p.as_str().starts_with("{PBKDF2S5}250000$"),
            "{}",
            p.as_str()
        ),
        other => panic!("admin password: {other:?}"),
    }
    assert_eq!(admin.values["roles"], s("Admin"));
    let bob = st.get_node(user, "4").unwrap().unwrap();
    assert_eq!(bob.values["username"], s("bob"));
    assert_eq!(bob.values["realname"], s("Bob Example"));
    assert_eq!(bob.values["roles"], s("User,Admin"));
    assert_eq!(bob.values["queries"], ml(&[]));
    assert_eq!(bob.values["creator"], link("1"));
    assert!(matches!(bob.values["creation"], Some(Value::Date(_))));
    assert_eq!(st.lookup_key(user, "alice").unwrap(), Some("3".into()));

    let status = schema.class("status").unwrap();
    assert_eq!(
        st.node_ids("status", Some(false)).unwrap(),
        vec!["1", "2", "3", "4", "5", "6", "7", "8"]
    );
    let s2 = st.get_node(status, "2").unwrap().unwrap();
    assert_eq!(s2.values["name"], s("deferred"));
    assert_eq!(s2.values["order"], Some(Value::Number(2.0)));

    let issue = schema.class("issue").unwrap();
    let i1 = st.get_node(issue, "1").unwrap().unwrap();
    assert!(!i1.retired);
    assert_eq!(i1.values["title"], s("Tables vanish after upgrade"));
    assert_eq!(i1.values["status"], link("2"));
    assert_eq!(i1.values["priority"], link("3"));
    assert_eq!(i1.values["assignedto"], link("4"));
    assert_eq!(i1.values["nosy"], ml(&["1", "3", "4"]));
    assert_eq!(i1.values["keyword"], ml(&["2"]));
    assert_eq!(i1.values["messages"], ml(&["1"]));
    assert_eq!(i1.values["superseder"], ml(&[]));
    let i2 = st.get_node(issue, "2").unwrap().unwrap();
    assert!(i2.retired);
    assert_eq!(i2.values["superseder"], ml(&["1"]));
    assert_eq!(st.node_ids("issue", Some(false)).unwrap(), vec!["1"]);
    assert_eq!(st.node_ids("issue", Some(true)).unwrap(), vec!["2"]);
    assert_eq!(
        st.find_linking(issue, "superseder", &["1".into()]).unwrap(),
        Vec::<String>::new(),
        "retired"
    );
    assert_eq!(
        st.find_linking(issue, "nosy", &["4".into()]).unwrap(),
        vec!["1"]
    );

    let msg = schema.class("msg").unwrap();
    let m1 = st.get_node(msg, "1").unwrap().unwrap();
    assert_eq!(m1.values["author"], link("3"));
    assert_eq!(m1.values["summary"], s("Tables vanish"));
    assert_eq!(
        m1.values["date"],
        Some(Value::Date(date("20240506070809.000")))
    );

    let journal = st.get_journal("issue", "1").unwrap();
    let actions: Vec<&str> = journal.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["create", "set", "link"]);
    assert!(journal.iter().all(|e| e.tag == "1" && e.nodeid == "1"));
    assert_eq!(journal[0].params, PyValue::Dict(vec![]));
    let mut set_params = match &journal[1].params {
        PyValue::Dict(d) => d.clone(),
        other => panic!("set params: {other:?}"),
    };
    set_params.sort_by_key(|(k, _)| roundup_core::pyrepr::repr(k));
    assert_eq!(
        set_params,
        vec![
            (PyValue::Str("keyword".into()), change("-", &["1"])),
            (PyValue::Str("nosy".into()), change("+", &["1"])),
            (PyValue::Str("status".into()), PyValue::Str("1".into())),
        ]
    );
    assert_eq!(journal[2].params, str_tuple(&["issue", "2", "superseder"]));
    assert!(journal[0].date <= journal[1].date && journal[1].date <= journal[2].date);
    let retired = st.get_journal("issue", "2").unwrap();
    assert_eq!(
        retired.last().map(|e| (e.action.as_str(), &e.params)),
        Some(("retired", &PyValue::None))
    );

    // Roundup's native full-text index
    let hits = st
        .search_text(&["vanish".into(), "UPGRADE".into()], None)
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
                id: "1".into(),
                prop: "content".into()
            },
        ]
    );

    // ---- what we write ----
    let id = st.new_id("issue").unwrap();
    assert_eq!(id, 3, "continues Roundup's counter");
    let id = id.to_string();
    let mut v = vals(auto("3", "20250102030405.000"));
    v.extend(vals(vec![
        ("title", s("Written by Rust")),
        ("status", link("1")),
        ("priority", link("2")),
        ("assignedto", link("3")),
        ("nosy", ml(&["4", "3"])),
        ("keyword", ml(&["1"])),
        ("messages", ml(&["1"])),
        ("files", ml(&[])),
        ("superseder", ml(&[])),
    ]));
    st.add_node(issue, &id, &v).unwrap();
    st.add_journal(
        "issue",
        &JournalEntry {
            nodeid: id.clone(),
            date: date("20250102030405.000"),
            tag: "3".into(),
            action: "create".into(),
            params: PyValue::Dict(vec![]),
        },
    )
    .unwrap();
    st.set_node(
        issue,
        &id,
        &vals(vec![
            ("status", link("2")),
            ("activity", Some(Value::Date(date("20250102030510.000")))),
            ("actor", link("1")),
        ]),
        &no_ml_changes(),
    )
    .unwrap();
    st.add_journal(
        "issue",
        &JournalEntry {
            nodeid: id.clone(),
            date: date("20250102030510.000"),
            tag: "1".into(),
            action: "set".into(),
            params: PyValue::Dict(vec![(
                PyValue::Str("status".into()),
                PyValue::Str("1".into()),
            )]),
        },
    )
    .unwrap();
    st.index_text("issue", &id, "title", "Written by Rust")
        .unwrap();
    st.commit().unwrap();
    drop(st);

    let mut st = open(&db_dir);
    let mine = st.get_node(issue, &id).unwrap().unwrap();
    assert_eq!(mine.values["status"], link("2"));
    assert_eq!(mine.values["nosy"], ml(&["3", "4"]));
    assert_eq!(st.get_journal("issue", &id).unwrap().len(), 2);
    assert_eq!(st.search_text(&["rust".into()], None).unwrap().len(), 1);
    drop(st);

    // ---- Roundup 2.6 reads it ----
    let admin_bin = Path::new("/opt/rvenv/bin/roundup-admin");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let has_rt = Command::new("id")
        .arg("rt")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !admin_bin.exists() || !is_root || !has_rt {
        return roundup_testkit::missing_because(
            &roundup_testkit::ROUNDUP26,
            &format!(
                "the Roundup 2.6 read-back needs {} (exists: {}), running as root (is: {is_root}) and a user `rt` (exists: {has_rt})",
                admin_bin.display(),
                admin_bin.exists()
            ),
        );
    }
    // Roundup 2.6 makes its own classic home (its schema.py and
    // config.ini, nothing of it kept in this repository) around the
    // database written above.
    let work = roundup_testkit::open_tempdir();
    let rhome = work.path().join("tracker");
    let made = Command::new("su")
        .args([
            "rt",
            "-c",
            &format!(
                "{} -i {} install classic sqlite mail_domain=example.com",
                admin_bin.display(),
                rhome.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "Roundup 2.6 install failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::create_dir_all(rhome.join("db")).unwrap();
    std::fs::copy(home.join("db/db"), rhome.join("db/db")).unwrap();
    let home = rhome;
    // what Roundup changes, we read back from its copy
    let db_dir = home.join("db");
    let chown = Command::new("chown")
        .arg("-R")
        .arg("rt")
        .arg(&home)
        .status()
        .unwrap();
    assert!(chown.success());
    let roundup = |args: &str| -> String {
        let cmd = format!("{} -i {} {args}", admin_bin.display(), home.display());
        let out = Command::new("su")
            .args(["rt", "-c", &cmd])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "roundup-admin {args} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let list = roundup("list issue");
    assert!(
        list.contains(&format!("{id}: Written by Rust")),
        "list: {list}"
    );
    assert_eq!(
        roundup(&format!("get title issue{id}")).trim(),
        "Written by Rust"
    );
    assert_eq!(roundup(&format!("get nosy issue{id}")).trim(), "['3', '4']");
    assert_eq!(roundup(&format!("get status issue{id}")).trim(), "2");
    assert_eq!(roundup(&format!("get creator issue{id}")).trim(), "3");
    assert_eq!(
        roundup(&format!("get creation issue{id}")).trim(),
        "2025-01-02.03:04:05"
    );
    assert_eq!(
        roundup(&format!("get activity issue{id}")).trim(),
        "2025-01-02.03:05:10"
    );
    assert_eq!(
        roundup("find issue status=2").trim(),
        format!("['1', '{id}']")
    );
    let history = roundup(&format!("history issue{id}"));
    assert!(
        history.contains("alice(2025-01-02.03:04:05) create issue"),
        "history: {history}"
    );
    assert!(
        history.contains("admin(2025-01-02.03:05:10) set status was unread(1)"),
        "history: {history}"
    );
    // Roundup changes our item; we read its change back
    roundup(&format!("set issue{id} priority=1 nosy=-4"));
    let mut st = open(&db_dir);
    let mine = st.get_node(issue, &id).unwrap().unwrap();
    assert_eq!(mine.values["priority"], link("1"));
    assert_eq!(mine.values["nosy"], ml(&["3"]));
    let journal = st.get_journal("issue", &id).unwrap();
    assert_eq!(journal.len(), 3);
    assert_eq!(journal[2].action, "set");
    assert_eq!(journal[2].tag, "1");
    match &journal[2].params {
        PyValue::Dict(d) => assert!(
            d.contains(&(PyValue::Str("priority".into()), PyValue::Str("2".into()))),
            "{d:?}"
        ),
        other => panic!("set params {other:?}"),
    }
    // and nothing about the layout changed on the way
    assert!(!st.sync_schema(&schema).unwrap());
    let after: Vec<String> = schema_dump(&db_dir)
        .into_iter()
        .filter(|l| !l.contains('='))
        .collect();
    let before: Vec<String> = before.into_iter().filter(|l| !l.contains('=')).collect();
    assert_eq!(after, before);
}

#[test]
fn new_database_is_laid_out_exactly_like_roundups() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(dir.path());
    assert!(st.sync_schema(&classic_schema()).unwrap());
    st.commit().unwrap();
    let ours = raw_strings(
        dir.path(),
        "select type, name, tbl_name, sql from sqlite_master where name not like 'rr\\_%' escape '\\' order by name",
    );
    // read a copy: even reading a WAL database writes beside it
    let copy = tempfile::tempdir().unwrap();
    copy_tracker(copy.path());
    let fixture_db = copy.path().join("db");
    let roundups = raw_strings(
        &fixture_db,
        "select type, name, tbl_name, sql from sqlite_master order by name",
    );
    assert_eq!(ours, roundups);
    assert_eq!(
        raw_strings(dir.path(), "select schema from schema"),
        raw_strings(&fixture_db, "select schema from schema"),
        "the schema row is byte for byte Roundup's"
    );
    let ids = raw_strings(dir.path(), "select name from ids order by name");
    assert_eq!(
        ids,
        raw_strings(&fixture_db, "select name from ids order by name")
    );
}
