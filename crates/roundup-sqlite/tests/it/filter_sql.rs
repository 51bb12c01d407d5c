//! filter_sql on a small hand-made SQLite database in Roundup's layout,
//! every query run with two dialects (engine NULL ordering and `?`
//! placeholders; portable NULL-ordering keys and numbered placeholders).

use std::time::Instant;

use crate::filter_support::{classic_schema, create_tables, run, PortableSqlite, TestSqlite};
use roundup_core::date::{Date, Interval};
use roundup_core::filter::{Direction, FilterSpec, SpecValue};
use roundup_core::schema::Schema;
use rusqlite::Connection;

fn setup() -> (tempfile::TempDir, Connection, Schema) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = Connection::open(dir.path().join("db")).expect("open");
    let schema = classic_schema();
    create_tables(&conn, &schema);
    conn.execute_batch(
        "INSERT INTO _status (id, _name, _order) VALUES (1, 'unread', 1), (2, 'open', 2), (3, 'closed', 3);
         INSERT INTO _priority (id, _name, _order) VALUES (1, 'high', 1), (2, 'low', 2);
         INSERT INTO _user (id, _username, _realname) VALUES (1, 'admin', NULL), (2, 'alice', 'Alice Smith'), (3, 'bob', 'Bob Jones');
         INSERT INTO _user (id, _username, _realname, __retired__) VALUES (4, 'zed', 'Zed', 4);
         INSERT INTO _keyword (id, _name) VALUES (1, 'ui'), (2, 'db'), (3, 'net'), (4, 'old');
         INSERT INTO _msg (id, _author, _date) VALUES (1, 2, '20030501120000.000'), (2, 3, '20040210000000.000'), (3, 3, '20031231000000.000');
         INSERT INTO _issue (id, _title, _status, _priority, _assignedto, _deadline, _estimate, __estimate_int__, _effort, _votes, _urgent) VALUES
           (1, 'Crash on save', 1, 1, 2, '20030315000000.000', '+ 3d', 259200, 2.5, 3, 1),
           (2, 'crash when loading FILE', 2, 2, 3, '20040101000000.000', '+ 1d', 86400, 1.0, 1, 0),
           (3, 'Slow search', NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (4, '100% CPU', 3, NULL, 2, '20031231235959.000', '+ 14d', 1209600, 10.0, 3, 1),
           (6, 'under_score', 2, 2, 4, NULL, NULL, NULL, NULL, NULL, NULL);
         INSERT INTO _issue (id, _title, _status, _assignedto, __retired__) VALUES (5, 'retired crash', 1, 2, 5);
         INSERT INTO issue_keyword (nodeid, linkid) VALUES (1, 1), (1, 2), (2, 2), (4, 3), (6, 1), (6, 2), (6, 3), (5, 4);
         INSERT INTO issue_messages (nodeid, linkid) VALUES (1, 1), (2, 2), (2, 3), (4, 1), (4, 2);
         INSERT INTO issue_nosy (nodeid, linkid) VALUES (1, 1), (1, 2), (2, 3);",
    )
    .expect("data");
    (dir, conn, schema)
}

fn one(name: &str, v: &str) -> (String, SpecValue) {
    (name.to_string(), SpecValue::One(v.to_string()))
}

fn many(name: &str, v: &[&str]) -> (String, SpecValue) {
    (
        name.to_string(),
        SpecValue::Many(v.iter().map(|s| s.to_string()).collect()),
    )
}

fn filt(items: Vec<(String, SpecValue)>) -> FilterSpec {
    FilterSpec {
        filterspec: items,
        ..FilterSpec::default()
    }
}

fn sorted(sort: &[&str]) -> FilterSpec {
    FilterSpec {
        sort: sort.iter().map(|s| (None, s.to_string())).collect(),
        ..FilterSpec::default()
    }
}

/// Run with both dialects; both must give `want`.
fn check(
    db: &(tempfile::TempDir, Connection, Schema),
    class: &str,
    spec: &FilterSpec,
    want: &[u32],
) {
    let want: Vec<String> = want.iter().map(u32::to_string).collect();
    for (label, got) in [
        ("sqlite", run(&db.1, &db.2, class, spec, &TestSqlite)),
        ("portable", run(&db.1, &db.2, class, spec, &PortableSqlite)),
    ] {
        match got {
            Ok(ids) => assert_eq!(ids, want, "{label} dialect, spec {spec:?}"),
            Err(e) => panic!("{label} dialect, spec {spec:?}: {e}"),
        }
    }
}

fn error(db: &(tempfile::TempDir, Connection, Schema), class: &str, spec: &FilterSpec) -> String {
    match run(&db.1, &db.2, class, spec, &TestSqlite) {
        Ok(ids) => panic!("expected an error for {spec:?}, got {ids:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn string_substrings() {
    let db = setup();
    check(&db, "issue", &filt(vec![one("title", "crash")]), &[1, 2]);
    check(&db, "issue", &filt(vec![one("title", "CRASH")]), &[1, 2]);
    // a list: every element must occur
    check(
        &db,
        "issue",
        &filt(vec![many("title", &["crash", "file"])]),
        &[2],
    );
    // one value is one substring, not split into words
    check(&db, "issue", &filt(vec![one("title", "crash file")]), &[]);
    check(&db, "issue", &filt(vec![one("title", "crash when")]), &[2]);
    // LIKE wildcards are literal
    check(&db, "issue", &filt(vec![one("title", "100%")]), &[4]);
    check(&db, "issue", &filt(vec![one("title", "_")]), &[6]);
    check(&db, "issue", &filt(vec![one("title", "%")]), &[4]);
}

#[test]
fn exact_match() {
    let db = setup();
    let spec = |v: &str| FilterSpec {
        exact_match: vec![one("title", v)],
        ..FilterSpec::default()
    };
    check(&db, "issue", &spec("Slow search"), &[3]);
    check(&db, "issue", &spec("slow search"), &[]);
    check(&db, "issue", &spec("Slow"), &[]);
    // exact and substring on the same property both hold
    let both = FilterSpec {
        filterspec: vec![one("title", "slow")],
        exact_match: vec![one("title", "Slow search")],
        ..FilterSpec::default()
    };
    check(&db, "issue", &both, &[3]);
}

#[test]
fn links_by_id_key_and_empty() {
    let db = setup();
    check(&db, "issue", &filt(vec![one("status", "1")]), &[1]);
    check(&db, "issue", &filt(vec![one("status", "open")]), &[2, 6]);
    check(
        &db,
        "issue",
        &filt(vec![one("status", "unread,closed")]),
        &[1, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![many("status", &["unread", "3"])]),
        &[1, 4],
    );
    check(&db, "issue", &filt(vec![one("status", "-1")]), &[3]);
    check(
        &db,
        "issue",
        &filt(vec![one("status", "-1,closed")]),
        &[3, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("assignedto", "alice")]),
        &[1, 4],
    );
    let e = error(&db, "issue", &filt(vec![one("status", "bogus")]));
    assert!(e.contains("issue.status") && e.contains("bogus"), "{e}");
    // a retired item's key is not found, as Roundup's lookup skips it
    let e = error(&db, "issue", &filt(vec![one("assignedto", "zed")]));
    assert!(e.contains("zed"), "{e}");
}

#[test]
fn link_expressions() {
    let db = setup();
    // not alice and not bob: unassigned issues count
    check(
        &db,
        "issue",
        &filt(vec![one("assignedto", "2,-2,3,-2,-3")]),
        &[3, 6],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("assignedto", "-1,-2")]),
        &[1, 2, 4, 6],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("assignedto", "-1,3,-4")]),
        &[2, 3],
    );
    let e = error(&db, "issue", &filt(vec![one("status", "1,-3")]));
    assert!(
        e.contains("issue") && e.contains("status") && e.contains("position 2"),
        "{e}"
    );
}

#[test]
fn multilinks_any_of_empty_and_expressions() {
    let db = setup();
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "ui,net")]),
        &[1, 4, 6],
    );
    check(&db, "issue", &filt(vec![one("keyword", "-1")]), &[3]);
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "-1,net")]),
        &[3, 4, 6],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "ui,db,-3")]),
        &[1, 6],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "1,2,-3,-2")]),
        &[2, 3, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "-1,-2")]),
        &[1, 2, 4, 6],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "-1,-2,1,3,-3,-2,-3")]),
        &[1, 2, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("keyword", "1,2,-4,3,-3")]),
        &[6],
    );
    let e = error(&db, "issue", &filt(vec![one("keyword", "4,5,1,2,-3,-3")]));
    assert!(e.contains("too many"), "{e}");
}

#[test]
fn transitive_paths() {
    let db = setup();
    check(
        &db,
        "issue",
        &filt(vec![one("assignedto.username", "ali")]),
        &[1, 4],
    );
    // retired linked items still match, as in Roundup's joins
    check(
        &db,
        "issue",
        &filt(vec![one("assignedto.username", "zed")]),
        &[6],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("messages.author", "bob")]),
        &[2, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("messages.author.realname", "jones")]),
        &[2, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("status.name", "OPE")]),
        &[2, 6],
    );
    // two conditions under one multilink must hold for the same message
    check(
        &db,
        "issue",
        &filt(vec![
            one("messages.author", "alice"),
            one("messages.date", ";20030601000000.000"),
        ]),
        &[1, 4],
    );
    check(
        &db,
        "issue",
        &filt(vec![
            one("messages.author", "alice"),
            one("messages.date", "20040101000000.000;"),
        ]),
        &[],
    );
    let e = error(&db, "issue", &filt(vec![one("title.foo", "x")]));
    assert!(e.contains("title") && e.contains("not a Link"), "{e}");
    let e = error(&db, "issue", &filt(vec![one("assignedto.nosuch", "x")]));
    assert!(e.contains("nosuch"), "{e}");
}

#[test]
fn reverse_multilinks() {
    let db = setup();
    check(&db, "user", &filt(vec![one("assigned", "1")]), &[2]);
    // issue 5 is retired: alice's assignment there does not count
    check(&db, "user", &filt(vec![one("assigned", "-1")]), &[1]);
    check(&db, "keyword", &filt(vec![one("issues", "-1")]), &[4]);
    check(&db, "keyword", &filt(vec![one("issues", "5")]), &[]);
    check(&db, "keyword", &filt(vec![one("issues", "4")]), &[3]);
}

#[test]
fn serialised_dates_and_null() {
    let db = setup();
    check(
        &db,
        "issue",
        &filt(vec![one(
            "deadline",
            "20030101000000.000;20031231000000.000",
        )]),
        &[1],
    );
    check(
        &db,
        "issue",
        &filt(vec![one("deadline", ";20040101000000.000")]),
        &[1, 2, 4],
    );
    check(&db, "issue", &filt(vec![one("deadline", "-")]), &[3, 6]);
    check(
        &db,
        "issue",
        &filt(vec![one("deadline", "-,20040101000000.000;")]),
        &[2, 3, 6],
    );
}

#[test]
fn numbers_booleans_ids() {
    let db = setup();
    check(&db, "issue", &filt(vec![one("effort", "2.5")]), &[1]);
    check(&db, "issue", &filt(vec![one("effort", "1")]), &[2]);
    check(
        &db,
        "issue",
        &filt(vec![many("votes", &["1", "3"])]),
        &[1, 2, 4],
    );
    check(&db, "issue", &filt(vec![one("votes", "1;2")]), &[2]);
    check(&db, "issue", &filt(vec![one("effort", "2;")]), &[1, 4]);
    check(&db, "issue", &filt(vec![one("urgent", "yes")]), &[1, 4]);
    check(&db, "issue", &filt(vec![one("urgent", "no")]), &[2]);
    check(&db, "issue", &filt(vec![one("id", "1,3,5")]), &[1, 3]);
    let e = error(&db, "issue", &filt(vec![one("urgent", "maybe")]));
    assert!(e.contains("issue.urgent") && e.contains("maybe"), "{e}");
    let e = error(&db, "issue", &filt(vec![one("votes", "many")]));
    assert!(e.contains("issue.votes") && e.contains("many"), "{e}");
}

#[test]
fn sorting_and_grouping() {
    let db = setup();
    // by Link: the target's order property, NULL first ascending
    check(&db, "issue", &sorted(&["status"]), &[3, 1, 2, 6, 4]);
    check(&db, "issue", &sorted(&["-status"]), &[4, 2, 6, 1, 3]);
    // user's order property is its key, username
    check(&db, "issue", &sorted(&["assignedto"]), &[3, 1, 4, 2, 6]);
    check(&db, "issue", &sorted(&["-title"]), &[6, 3, 2, 1, 4]);
    check(&db, "issue", &sorted(&["-id"]), &[6, 4, 3, 2, 1]);
    check(&db, "issue", &sorted(&["estimate"]), &[3, 6, 2, 1, 4]);
    check(
        &db,
        "issue",
        &sorted(&["-votes", "title"]),
        &[4, 1, 2, 3, 6],
    );
    check(
        &db,
        "issue",
        &sorted(&["assignedto.realname"]),
        &[3, 1, 4, 2, 6],
    );
    let grouped = FilterSpec {
        group: vec![(None, "priority".into())],
        sort: vec![(Some(Direction::Desc), "votes".into())],
        ..FilterSpec::default()
    };
    check(&db, "issue", &grouped, &[4, 1, 3, 2, 6]);
    // explicit direction wins over a prefix
    let explicit = FilterSpec {
        sort: vec![(Some(Direction::Asc), "-id".into())],
        ..FilterSpec::default()
    };
    check(&db, "issue", &explicit, &[1, 2, 3, 4, 6]);
}

#[test]
fn multilink_sorting() {
    let db = setup();
    // keyword names sorted per issue, lists compared element-wise:
    // 3: [], 2: [db], 6: [db, net, ui], 1: [db, ui], 4: [net]
    check(&db, "issue", &sorted(&["keyword"]), &[3, 2, 6, 1, 4]);
    // descending: 6: [ui, net, db] > 1: [ui, db] > 4: [net] > 2: [db] > 3: []
    check(&db, "issue", &sorted(&["-keyword"]), &[6, 1, 4, 2, 3]);
}

#[test]
fn retired_and_pagination() {
    let db = setup();
    let mut spec = FilterSpec {
        retired: Some(true),
        ..FilterSpec::default()
    };
    check(&db, "issue", &spec, &[5]);
    spec.retired = None;
    check(&db, "issue", &spec, &[1, 2, 3, 4, 5, 6]);
    let page = |limit: Option<u64>, offset: Option<u64>| FilterSpec {
        limit,
        offset,
        ..FilterSpec::default()
    };
    check(&db, "issue", &page(Some(2), Some(1)), &[2, 3]);
    check(&db, "issue", &page(None, Some(3)), &[4, 6]);
    check(&db, "issue", &page(Some(0), None), &[]);
    let search = |ids: &[&str]| FilterSpec {
        search_matches: Some(std::sync::Arc::new(
            roundup_core::filter::IdSet::parse("issue", ids).unwrap(),
        )),
        ..FilterSpec::default()
    };
    check(&db, "issue", &search(&["1", "4", "5"]), &[1, 4]);
    check(&db, "issue", &search(&[]), &[]);
}

#[test]
fn combined_filters() {
    let db = setup();
    let spec = FilterSpec {
        filterspec: vec![
            one("status", "-1,unread,open"),
            one("keyword", "db,-1"),
            one("title", "s"),
        ],
        sort: vec![(None, "-priority".into()), (None, "title".into())],
        ..FilterSpec::default()
    };
    // 1 (high, db), 2 (low, db), 3 (high, no keywords), 6 (low, db)
    check(&db, "issue", &spec, &[2, 6, 1, 3]);
}

/// 20 000 issues: the statements must stay fast (uncorrelated subqueries,
/// indexes on the multilink tables).
#[test]
fn large_tracker_stays_fast() {
    let (_dir, conn, schema) = setup();
    conn.execute_batch(
        "DELETE FROM _issue; DELETE FROM issue_keyword; DELETE FROM issue_messages;",
    )
    .expect("clear");
    let mut seed: u64 = 7;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    conn.execute_batch("BEGIN").expect("begin");
    {
        let mut ins = conn
            .prepare("INSERT INTO _issue (id, _title, _status, _priority, _assignedto, _activity, __retired__) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .expect("prepare");
        let mut kw = conn
            .prepare("INSERT INTO issue_keyword (nodeid, linkid) VALUES (?, ?)")
            .expect("prepare");
        for id in 1..=20_000u64 {
            let title = format!("issue {} word{}", id, rnd(50));
            let status = if rnd(10) == 0 { None } else { Some(rnd(3) + 1) };
            let activity = format!("2024{:02}{:02}000000.000", rnd(12) + 1, rnd(28) + 1);
            ins.execute(rusqlite::params![
                id,
                title,
                status,
                rnd(2) + 1,
                rnd(4) + 1,
                activity,
                u64::from(rnd(20) == 0)
            ])
            .expect("insert");
            for k in 1..=4u64 {
                if rnd(3) == 0 {
                    kw.execute(rusqlite::params![id, k]).expect("kw");
                }
            }
        }
    }
    conn.execute_batch("COMMIT").expect("commit");
    let specs = vec![
        FilterSpec {
            filterspec: vec![one("title", "word1"), one("keyword", "ui,db")],
            sort: vec![(None, "status".into()), (None, "-activity".into())],
            limit: Some(50),
            ..FilterSpec::default()
        },
        FilterSpec {
            filterspec: vec![
                one("keyword", "1,2,-3,-2,-1,-2,-3"),
                one("assignedto.username", "a"),
            ],
            group: vec![(None, "priority".into())],
            ..FilterSpec::default()
        },
        FilterSpec {
            sort: vec![(None, "keyword".into())],
            limit: Some(20),
            offset: Some(100),
            ..FilterSpec::default()
        },
    ];
    for spec in &specs {
        let start = Instant::now();
        let ids = run(&conn, &schema, "issue", spec, &TestSqlite).expect("run");
        let took = start.elapsed();
        println!("{} ids in {took:?}", ids.len());
        assert!(!ids.is_empty());
        assert!(took.as_secs_f64() < 10.0, "query took {took:?}");
    }
}

#[test]
fn date_ranges_and_granularity() {
    let db = setup();
    let d = |v: &str| filt(vec![one("deadline", v)]);
    // deadlines: 1: 2003-03-15, 2: 2004-01-01, 4: 2003-12-31.23:59:59
    check(&db, "issue", &d("2003"), &[1, 4]);
    check(&db, "issue", &d("2003-03"), &[1]);
    check(&db, "issue", &d("2003-12-31"), &[4]);
    check(&db, "issue", &d("from 2003-06-01 to 2004-06-01"), &[2, 4]);
    check(&db, "issue", &d("2003-06-01;2004-06-01"), &[2, 4]);
    check(&db, "issue", &d("2004-01-01;"), &[2]);
    check(&db, "issue", &d("to 2003-12-31"), &[1]);
    check(&db, "issue", &d("-,2004"), &[2, 3, 6]);
    let e = error(&db, "issue", &d("someday"));
    assert!(e.contains("issue.deadline") && e.contains("someday"), "{e}");
}

#[test]
fn relative_date_ranges() {
    let db = setup();
    let when = Date::now().sub(&Interval::parse("45d").expect("interval"));
    db.1.execute(
        "UPDATE _issue SET _deadline = ? WHERE id = 3",
        [when.serialise()],
    )
    .expect("update");
    check(&db, "issue", &filt(vec![one("deadline", "-2m;-1m")]), &[3]);
    check(&db, "issue", &filt(vec![one("deadline", "from -1m")]), &[]);
    check(&db, "issue", &filt(vec![one("deadline", "-60d;")]), &[3]);
}

#[test]
fn interval_ranges() {
    let db = setup();
    let e = |v: &str| filt(vec![one("estimate", v)]);
    // estimates: 1: 3d, 2: 1d, 4: 2w
    check(&db, "issue", &e("from 1d to 1w"), &[1, 2]);
    check(&db, "issue", &e("3d"), &[1]);
    check(&db, "issue", &e("1d"), &[2]);
    check(&db, "issue", &e("2:00;"), &[1, 2, 4]);
    check(&db, "issue", &e(";2d"), &[2]);
    let err = error(&db, "issue", &e("soon"));
    assert!(
        err.contains("issue.estimate") && err.contains("soon"),
        "{err}"
    );
}
