//! Sorting and paging do not scan: every column an index page sorts by is
//! served by one of the indexes the storage adds on open (`rr_*`), walked
//! in order with no sort step, and a count reads an index, not the rows.
//! Checked with `EXPLAIN QUERY PLAN` on the SQL the storage runs, on a
//! database made by the storage itself (as a Roundup database gets them).

use std::time::Duration;

use crate::filter_support::{classic_schema, db_lookup};
use roundup_core::date::Timezone;
use roundup_core::filter::{parse_query, Direction, FilterSpec, Query};
use roundup_core::schema::Schema;
use roundup_core::storage::Storage;
use roundup_rdbms::filter_sql::{count_sql, filter_sql};
use roundup_rdbms::sql::SqlValue;
use roundup_sqlite::SqliteDialect;
use rusqlite::Connection;

const ISSUES: i64 = 3000;

fn setup() -> (tempfile::TempDir, Connection, Schema) {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = classic_schema();
    let mut st = roundup_sqlite::open(dir.path(), Duration::from_secs(5)).expect("open");
    st.sync_schema(&schema).expect("sync");
    st.commit().expect("commit");
    drop(st);
    let conn = Connection::open(dir.path().join("db")).expect("open");
    conn.execute_batch(
        "INSERT INTO _status (id, _name, _order, __retired__) VALUES (1, 'unread', 1, 0), (2, 'open', 2, 0), (3, 'closed', 3, 0);
         INSERT INTO _priority (id, _name, _order, __retired__) VALUES (1, 'high', 1, 0), (2, 'low', 2, 0);",
    )
    .expect("links");
    let tx = conn.unchecked_transaction().expect("tx");
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO _issue (id, _title, _status, _priority, _deadline, _estimate, __estimate_int__, _effort, _votes, _urgent, _creation, _activity, __retired__)
                 VALUES (?1, ?2, ?3, ?4, ?5, '1d', ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .expect("prepare");
        for i in 1..=ISSUES {
            let day = |n: i64| format!("2024{:02}{:02}120000.000", n % 12 + 1, n % 28 + 1);
            ins.execute(rusqlite::params![
                i,
                format!(
                    "{} title {}",
                    ["Alpha", "beta", "Gamma", "delta"][(i % 4) as usize],
                    (i * 7919) % ISSUES
                ),
                i % 3 + 1,
                if i % 5 == 0 { None } else { Some(i % 2 + 1) },
                day(i * 13),
                (i * 37) % 1000,
                (i % 17) as f64 / 2.0,
                i % 11,
                i % 2,
                day(i),
                day(i * 7),
                if i % 10 == 0 { i } else { 0 },
            ])
            .expect("insert");
        }
    }
    tx.commit().expect("commit");
    (dir, conn, schema)
}

fn query(conn: &Connection, schema: &Schema, sort: &str, offset: u64) -> Query {
    let spec = FilterSpec {
        sort: sort
            .split(',')
            .map(|s| (None::<Direction>, s.to_string()))
            .collect(),
        limit: Some(50),
        offset: Some(offset),
        ..FilterSpec::default()
    };
    let lookup = db_lookup(conn, schema);
    parse_query(schema, "issue", &spec, &Timezone::Utc, &lookup).expect("query")
}

fn to_sql(v: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        SqlValue::Null => V::Null,
        SqlValue::Int(i) => V::Integer(*i),
        SqlValue::Real(f) => V::Real(*f),
        SqlValue::Text(s) => V::Text(s.clone()),
    }
}

fn plan(conn: &Connection, sql: &str, args: &[SqlValue]) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    let params: Vec<rusqlite::types::Value> = args.iter().map(to_sql).collect();
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(3)
    })
    .expect("plan")
    .map(|r| r.expect("row"))
    .collect()
}

fn ids(conn: &Connection, sql: &str, args: &[SqlValue]) -> Vec<i64> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let params: Vec<rusqlite::types::Value> = args.iter().map(to_sql).collect();
    stmt.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, i64>(0))
        .expect("run")
        .map(|r| r.expect("row"))
        .collect()
}

/// Every id of `q`'s order, unpaged, as the plain SQL gives it.
fn whole_order(conn: &Connection, schema: &Schema, q: &Query) -> Vec<String> {
    let whole = Query {
        limit: None,
        offset: 0,
        ..q.clone()
    };
    let (sql, args) = filter_sql(schema, &whole, &SqliteDialect).expect("sql");
    ids(conn, &sql, &args)
        .into_iter()
        .map(|i| i.to_string())
        .collect()
}

/// The page of `q` (50 from its offset) cut from its whole order.
fn expected_page(conn: &Connection, schema: &Schema, q: &Query) -> Vec<String> {
    let every = whole_order(conn, schema, q);
    let from = (q.offset as usize).min(every.len());
    every[from..(from + 50).min(every.len())].to_vec()
}

#[test]
fn column_sorts_walk_an_index_at_any_depth() {
    let (_dir, conn, schema) = setup();
    let d = SqliteDialect;
    for sort in [
        "title", "creation", "activity", "deadline", "effort", "votes", "urgent", "estimate", "id",
        "-id",
    ] {
        for offset in [0, 2500] {
            let q = query(&conn, &schema, sort, offset);
            let (sql, args) = filter_sql(&schema, &q, &d).expect("sql");
            let p = plan(&conn, &sql, &args);
            let all = p.join(" | ");
            assert!(
                !all.contains("TEMP B-TREE"),
                "{sort} at {offset} sorts instead of walking an index: {all}\n{sql}"
            );
            let col = sort.trim_start_matches('-');
            if col != "id" {
                assert!(
                    all.contains(&format!("INDEX rr_issue_{col}_")),
                    "{sort} at {offset}: not served by rr_issue_{col}_*: {all}\n{sql}"
                );
            }
            // the page is the slice of the whole order
            let whole = Query {
                limit: None,
                offset: 0,
                ..q.clone()
            };
            let (wsql, wargs) = filter_sql(&schema, &whole, &d).expect("sql");
            let every = ids(&conn, &wsql, &wargs);
            assert_eq!(every.len() as i64, ISSUES - ISSUES / 10, "{sort}");
            let page = ids(&conn, &sql, &args);
            assert_eq!(
                page,
                every[offset as usize..(offset as usize + 50).min(every.len())],
                "{sort} at {offset}"
            );
        }
    }
}

#[test]
fn descending_column_sorts_use_the_index_backwards() {
    let (_dir, conn, schema) = setup();
    let d = SqliteDialect;
    for sort in ["-title", "-activity", "-creation", "-deadline"] {
        let q = query(&conn, &schema, sort, 2500);
        let (sql, args) = filter_sql(&schema, &q, &d).expect("sql");
        let all = plan(&conn, &sql, &args).join(" | ");
        let col = sort.trim_start_matches('-');
        assert!(
            all.contains(&format!("INDEX rr_issue_{col}_")),
            "{sort}: not served by its index: {all}"
        );
        // Only ties of the key are put in id order (Roundup's tiebreak
        // is ascending ids whatever the direction), never the whole set.
        assert!(
            !all.contains("TEMP B-TREE FOR ORDER BY"),
            "{sort}: whole sort: {all}"
        );
    }
}

#[test]
fn counting_reads_an_index_not_the_rows() {
    let (_dir, conn, schema) = setup();
    let q = query(&conn, &schema, "title", 0);
    let (sql, args) = count_sql(&schema, &q, &SqliteDialect).expect("sql");
    let all = plan(&conn, &sql, &args).join(" | ");
    assert!(all.contains("COVERING INDEX"), "{all}\n{sql}");
    let n: i64 = conn
        .query_row(
            &sql,
            rusqlite::params_from_iter(args.iter().map(to_sql)),
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, ISSUES - ISSUES / 10);
}

#[test]
fn roundups_own_indexes_are_untouched_and_ours_are_made_once() {
    let (dir, conn, schema) = setup();
    let names = |conn: &Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='_issue' ORDER BY name")
            .expect("list");
        stmt.query_map([], |r| r.get::<_, String>(0))
            .expect("names")
            .map(|r| r.expect("row"))
            .collect()
    };
    let before = names(&conn);
    assert!(before.contains(&"_issue_retired_idx".to_string()));
    assert!(before.contains(&"rr_issue_title_sort_idx".to_string()));
    // opening again changes nothing
    let mut st = roundup_sqlite::open(dir.path(), Duration::from_secs(5)).expect("open");
    assert!(!st.sync_schema(&schema).expect("sync"));
    st.commit().expect("commit");
    assert_eq!(names(&conn), before);
}

#[test]
fn link_sorts_read_one_linked_value_at_a_time() {
    let (dir, conn, schema) = setup();
    // A tie of order values (high and mid are both 1), a link to an item
    // that is gone, and unset links (every fifth issue): all as the join
    // sorts them.
    conn.execute_batch(
        "INSERT INTO _priority (id, _name, _order, __retired__) VALUES (3, 'mid', 1, 0), (4, 'none', NULL, 0);
         UPDATE _issue SET _priority = 3 WHERE id % 7 = 0;
         UPDATE _issue SET _priority = 4 WHERE id % 11 = 0;
         UPDATE _issue SET _priority = 99 WHERE id % 13 = 0;",
    )
    .expect("ties");
    let mut st = roundup_sqlite::open(dir.path(), Duration::from_secs(5)).expect("open");
    st.sync_schema(&schema).expect("sync");
    let d = SqliteDialect;
    for sort in [
        "priority",
        "-priority",
        "status",
        "-status",
        "priority,-activity",
        "-status,title",
    ] {
        for offset in [0, 30, 600, 1190, 2650, 2690, 5000] {
            let q = query(&conn, &schema, sort, offset);
            assert!(
                roundup_rdbms::filter_sql::link_group_plan(&schema, &q)
                    .expect("plan")
                    .is_some(),
                "{sort}: no group plan"
            );
            let page = st.filter(&schema, &q).expect("filter");
            assert_eq!(
                page,
                expected_page(&conn, &schema, &q),
                "{sort} at {offset}"
            );
        }
    }
    // grouping leads the order the same way
    let mut q = query(&conn, &schema, "-activity", 1000);
    q.group = vec![(Direction::Asc, vec!["priority".to_string()])];
    let page = st.filter(&schema, &q).expect("filter");
    assert_eq!(page, expected_page(&conn, &schema, &q));

    // One group's page walks the (__retired__, _priority) index in id
    // order: no sort step, no join.
    let mut g = query(&conn, &schema, "id", 500);
    g.sort.clear();
    g.filters.push(roundup_core::filter::Filter {
        path: vec!["priority".into()],
        cond: roundup_core::filter::Condition::Links(roundup_core::filter::LinkExpr::Or(vec![
            roundup_core::filter::LinkExpr::Id("2".into()),
        ])),
    });
    let (sql, args) = filter_sql(&schema, &g, &d).expect("sql");
    let all = plan(&conn, &sql, &args).join(" | ");
    assert!(all.contains("rr_issue_priority_sort_idx"), "{all}\n{sql}");
    assert!(!all.contains("TEMP B-TREE"), "{all}\n{sql}");
    // and so does its count
    let (csql, cargs) = count_sql(&schema, &g, &d).expect("sql");
    let all = plan(&conn, &csql, &cargs).join(" | ");
    assert!(all.contains("COVERING INDEX"), "{all}\n{csql}");
}

#[test]
fn many_search_matches_walk_the_order_instead_of_listing_ids() {
    let (dir, conn, schema) = setup();
    let mut st = roundup_sqlite::open(dir.path(), Duration::from_secs(5)).expect("open");
    st.sync_schema(&schema).expect("sync");
    // dense (every third issue, retired ones among them), sparse at the
    // end of the order, and a few: each answered as the IN list answers it
    let dense: Vec<String> = (1..=ISSUES)
        .filter(|i| i % 3 == 0)
        .map(|i| i.to_string())
        .collect();
    let tail: Vec<String> = (1..=ISSUES)
        .filter(|i| i % 97 == 0)
        .map(|i| i.to_string())
        .collect();
    let few: Vec<String> = vec!["5".into(), "17".into(), "2999".into()];
    for (name, set) in [("dense", dense), ("sparse", tail), ("few", few)] {
        let set = std::sync::Arc::new(roundup_core::filter::IdSet::parse("issue", &set).unwrap());
        for sort in ["-activity", "title", "priority", "-status,title", "id"] {
            for offset in [0, 40, 700, 980, 3000] {
                let mut q = query(&conn, &schema, sort, offset);
                q.search_ids = Some(set.clone());
                let page = st.filter(&schema, &q).expect("filter");
                assert_eq!(
                    page,
                    expected_page(&conn, &schema, &q),
                    "{name} {sort} at {offset}"
                );
            }
        }
    }
}

/// A kept order is repaired after a commit by asking for the order of a
/// few dozen ids (the changed item among evenly spaced ids of the order):
/// those rows are read by id, never by walking the order's index.
#[test]
fn an_orders_repair_reads_its_few_rows_by_id() {
    let (dir, conn, schema) = setup();
    let mut st = roundup_sqlite::open(dir.path(), Duration::from_secs(5)).expect("open");
    st.sync_schema(&schema).expect("sync");
    let d = SqliteDialect;
    for n in [2u32, 49] {
        let set = std::sync::Arc::new(roundup_core::filter::IdSet::new(
            (0..n).map(|k| 1 + k * 61).collect(),
        ));
        for sort in ["-activity", "title", "priority", "-status,title", "id"] {
            let mut q = query(&conn, &schema, sort, 0);
            q.limit = None;
            q.search_ids = Some(set.clone());
            let (sql, args) = filter_sql(&schema, &q, &d).expect("sql");
            let all = plan(&conn, &sql, &args).join(" | ");
            assert!(
                all.contains("SEARCH r0 USING INTEGER PRIMARY KEY (rowid=?)"),
                "{n} ids by {sort}: rows not read by id: {all}\n{sql}"
            );
            assert!(!all.contains("SCAN r0"), "{n} ids by {sort}: {all}\n{sql}");
            let got = st.filter_order(&schema, &q).expect("order").expect("ids");
            let want: Vec<u32> = whole_order(&conn, &schema, &q)
                .iter()
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(got, want, "{n} ids by {sort}");
            assert!(
                got.len() as u32 >= n - n / 10 - 1,
                "{n} ids by {sort}: {got:?}"
            );
        }
    }
}

#[test]
fn counts_of_many_search_matches_are_worked_out_without_listing_them() {
    let (_dir, conn, schema) = setup();
    let mut st = roundup_sqlite::open(_dir.path(), Duration::from_secs(5)).expect("open");
    st.sync_schema(&schema).expect("sync");
    // every third issue, ids past the last issue among them
    let ids: Vec<u32> = (1..=ISSUES as u32 + 500).filter(|i| i % 3 == 0).collect();
    let set = std::sync::Arc::new(roundup_core::filter::IdSet::new(ids));
    let counted = |st: &mut roundup_sqlite::SqliteStorage, retired| {
        let mut q = query(&conn, &schema, "id", 0);
        q.limit = None;
        q.retired = retired;
        q.search_ids = Some(set.clone());
        let n = st.filter_count(&schema, &q).expect("count");
        (n, whole_order(&conn, &schema, &q).len() as u64)
    };
    for retired in [Some(false), Some(true), None] {
        let (fast, listed) = counted(&mut st, retired);
        assert_eq!(fast, listed, "retired {retired:?}");
        assert!(fast > 0);
    }
    // with a destroyed item (a hole in the ids) SQL counts, and agrees
    conn.execute("delete from _issue where id = 9", []).unwrap();
    for retired in [Some(false), Some(true), None] {
        let (n, listed) = counted(&mut st, retired);
        assert_eq!(n, listed, "after a destroy, retired {retired:?}");
    }
}

#[test]
fn a_multilinks_owners_are_read_from_an_index_alone() {
    let (_dir, conn, _schema) = setup();
    // the statement find_linking runs for a full-text search's messages
    let sql = "select nodeid from issue_messages where linkid in (SELECT value FROM json_each(?1))";
    let all = plan(&conn, sql, &[SqlValue::Text("[1,2,3]".into())]).join(" | ");
    assert!(
        all.contains("COVERING INDEX rr_issue_messages_owner_idx"),
        "{all}"
    );
}

#[test]
fn an_items_links_are_read_from_an_index_alone_and_roundups_lookups_keep_theirs() {
    let (_dir, conn, _schema) = setup();
    // the statement get_nodes (an index page's rows) runs for a stored
    // multilink
    let batch = "select nodeid, linkid from issue_nosy where nodeid+0 in (SELECT value FROM json_each(?1)) order by nodeid+0, linkid";
    let all = plan(&conn, batch, &[SqlValue::Text("[1,2,3]".into())]).join(" | ");
    assert!(
        all.contains("COVERING INDEX rr_issue_nosy_rows_idx"),
        "{all}"
    );
    assert!(!all.contains("TEMP B-TREE"), "no sort step: {all}");
    // one item's stored multilinks, all in one statement (stored_links)
    let one = "select 0, linkid from issue_nosy where nodeid+0=?1 \
               union all select 1, linkid from issue_keyword where nodeid+0=?1";
    let all = plan(&conn, one, &[SqlValue::Int(2)]).join(" | ");
    for table in ["issue_nosy", "issue_keyword"] {
        assert!(
            all.contains(&format!("{table} USING COVERING INDEX rr_{table}_rows_idx")),
            "{all}"
        );
    }
    assert!(!all.contains("TEMP B-TREE"), "no sort step: {all}");
    // Roundup 2.6's own look-up by owner keeps Roundup's index: the
    // planner cannot use ours for `nodeid = ?`
    let roundups = "select linkid from issue_nosy where nodeid=?1";
    let all = plan(&conn, roundups, &[SqlValue::Int(2)]).join(" | ");
    assert!(all.contains("INDEX issue_nosy_n_idx"), "{all}");
    assert!(!all.contains("rr_"), "{all}");
}
