//! The process-wide read cache (roundup_core::shared_cache) on a real
//! classic tracker: connections sharing it see each other's commits,
//! commits by a connection outside it (another process, as far as the
//! cache can tell), and their own uncommitted writes. Each connection's
//! storage counts its calls, so the test sees which reads the cache
//! served (no call reaches storage) and which it did not.

use std::sync::Arc;

use indexmap::IndexMap;
use roundup_core::counting_storage::{CountingStorage, StorageCalls};
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::shared_cache::SharedCache;
use roundup_core::{Db, Value};

fn title(db: &Db, id: &str) -> String {
    match db.get("issue", id, "title").unwrap() {
        Some(Value::String(s)) => s,
        other => panic!("title of issue{id}: {other:?}"),
    }
}

fn values(pairs: &[(&str, &str)]) -> roundup_core::Values {
    let mut v = IndexMap::new();
    for (k, s) in pairs {
        v.insert(k.to_string(), Some(Value::String(s.to_string())));
    }
    v
}

fn count_titled(db: &Db, text: &str) -> u64 {
    let mut spec = FilterSpec::default();
    spec.exact_match
        .push(("title".into(), SpecValue::One(text.to_string())));
    db.filter_count("issue", &spec).unwrap()
}

#[test]
fn commits_from_anywhere_reach_every_sharing_connection() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = crate::classic_tracker(dir.path());
    {
        let db = tracker.open_db("1").unwrap();
        db.create("issue", values(&[("title", "first")])).unwrap();
        db.commit().unwrap();
    }

    let cache = SharedCache::new();
    let counted = |calls: &Arc<StorageCalls>| {
        let store = CountingStorage::new(tracker.open_storage().unwrap(), calls.clone());
        tracker
            .open_db_on(Box::new(store), "1")
            .unwrap()
            .with_shared_cache(cache.clone())
    };
    let (calls_a, calls_b) = (StorageCalls::new(), StorageCalls::new());
    let a = counted(&calls_a);
    let b = counted(&calls_b);
    // how many storage reads `f` costs a connection
    let reads = |calls: &Arc<StorageCalls>, f: &dyn Fn()| {
        let before = calls.reads();
        f();
        calls.reads() - before
    };

    // the cache's first look starts it over (it cannot know what was
    // committed before); from then on it knows its place in the database's
    // change log, and another connection's first look finds nothing to drop
    let gen = cache.generation();
    a.refresh_shared_cache().unwrap();
    a.rollback().unwrap();
    assert_eq!(cache.generation(), gen + 1, "the first look starts over");
    assert!(
        cache.log_position().is_some(),
        "and learns the log's position"
    );
    b.refresh_shared_cache().unwrap();
    assert_eq!(
        cache.generation(),
        gen + 1,
        "b's first look: nothing changed"
    );
    b.rollback().unwrap();

    // b reads and fills the cache; a is served from it
    b.refresh_shared_cache().unwrap();
    let filled = reads(&calls_b, &|| {
        assert_eq!(title(&b, "1"), "first");
        assert_eq!(count_titled(&b, "first"), 1);
    });
    assert!(filled >= 2, "b's reads reach storage: {filled}");
    b.rollback().unwrap();
    a.refresh_shared_cache().unwrap();
    let served = reads(&calls_a, &|| {
        assert_eq!(title(&a, "1"), "first");
        assert_eq!(count_titled(&a, "first"), 1);
    });
    assert_eq!(served, 0, "a is served from what b put in the cache");
    a.rollback().unwrap();

    // b writes: it sees its own change before committing (from storage,
    // not the cache), a does not (and is still served from the cache)
    b.refresh_shared_cache().unwrap();
    a.refresh_shared_cache().unwrap();
    b.set("issue", "1", values(&[("title", "second")])).unwrap();
    let own = reads(&calls_b, &|| {
        assert_eq!(title(&b, "1"), "second");
        assert_eq!(count_titled(&b, "second"), 1);
    });
    assert!(own >= 1, "uncommitted writes are read from storage");
    let served = reads(&calls_a, &|| assert_eq!(title(&a, "1"), "first"));
    assert_eq!(served, 0);
    b.commit().unwrap();
    a.rollback().unwrap();
    // after b's commit a's next request sees it, title and query alike,
    // read from storage
    a.refresh_shared_cache().unwrap();
    let fresh = reads(&calls_a, &|| {
        assert_eq!(title(&a, "1"), "second");
        assert_eq!(count_titled(&a, "first"), 0);
        assert_eq!(count_titled(&a, "second"), 1);
    });
    assert!(fresh >= 3, "after a commit the cache is empty: {fresh}");
    a.rollback().unwrap();
    // ... and filled again: b is served
    b.refresh_shared_cache().unwrap();
    let served = reads(&calls_b, &|| {
        assert_eq!(title(&b, "1"), "second");
        assert_eq!(count_titled(&b, "second"), 1);
    });
    assert_eq!(served, 0);
    b.rollback().unwrap();

    // a connection that does not share the cache (as roundup-admin in
    // another process) commits: both notice on their next request
    {
        let other = tracker.open_db("1").unwrap();
        other
            .set("issue", "1", values(&[("title", "third")]))
            .unwrap();
        other.commit().unwrap();
    }
    a.refresh_shared_cache().unwrap();
    let fresh = reads(&calls_a, &|| assert_eq!(title(&a, "1"), "third"));
    assert!(fresh >= 1, "a commit elsewhere empties the cache");
    a.rollback().unwrap();
    b.refresh_shared_cache().unwrap();
    // (a dropped what that commit changed: b's queries are computed anew)
    let fresh = reads(&calls_b, &|| {
        assert_eq!(count_titled(&b, "second"), 0);
        assert_eq!(count_titled(&b, "third"), 1);
        assert_eq!(title(&b, "1"), "third");
    });
    assert!(fresh >= 2, "queries are not kept over a commit: {fresh}");
    b.rollback().unwrap();
    a.refresh_shared_cache().unwrap();
    let served = reads(&calls_a, &|| {
        assert_eq!(title(&a, "1"), "third");
        assert_eq!(count_titled(&a, "third"), 1);
    });
    assert_eq!(served, 0, "b filled the cache again");
    a.rollback().unwrap();

    // a rolled-back write leaves nothing behind in the cache
    a.refresh_shared_cache().unwrap();
    a.set("issue", "1", values(&[("title", "never")])).unwrap();
    a.rollback().unwrap();
    b.refresh_shared_cache().unwrap();
    assert_eq!(title(&b, "1"), "third");
    assert_eq!(count_titled(&b, "never"), 0);
}

/// A classic tracker with 1300 issues titled `t0000` to `t1299`, the
/// titles shuffled by `step` (so that the title order is not the id
/// order).
fn tracker_with_titles(step: usize) -> (tempfile::TempDir, roundup_tracker::Tracker) {
    let dir = tempfile::tempdir().unwrap();
    let tracker = crate::classic_tracker(dir.path());
    let db = tracker.open_db("1").unwrap();
    for i in 0..1300 {
        let title = format!("t{:04}", (i * step) % 1300);
        db.create("issue", values(&[("title", &title)])).unwrap();
    }
    db.commit().unwrap();
    drop(db);
    (dir, tracker)
}

/// A connection sharing `cache`, its storage calls counted.
fn counted_db(
    tracker: &roundup_tracker::Tracker,
    cache: Arc<SharedCache>,
) -> (Db, Arc<StorageCalls>) {
    let calls = StorageCalls::new();
    let store = CountingStorage::new(tracker.open_storage().unwrap(), calls.clone());
    let db = tracker
        .open_db_on(Box::new(store), "1")
        .unwrap()
        .with_shared_cache(cache);
    (db, calls)
}

/// Deep pages of one order are cut from the whole order, fetched once per
/// commit: the database walks from the start to reach a deep offset.
#[test]
fn deep_pages_are_cut_from_one_walk_until_the_next_commit() {
    let (_dir, tracker) = tracker_with_titles(7919);
    let (db, calls) = counted_db(&tracker, SharedCache::new());
    let plain = tracker.open_db("1").unwrap();
    let page = |db: &Db, sort: &str, offset: u64| -> Vec<String> {
        let spec = FilterSpec {
            sort: vec![(None, sort.to_string())],
            limit: Some(50),
            offset: Some(offset),
            ..FilterSpec::default()
        };
        db.filter("issue", &spec).unwrap()
    };
    db.refresh_shared_cache().unwrap();
    // every page is the database's own page, shallow or deep, cut or not
    for sort in ["title", "-activity", "priority"] {
        for offset in [0, 450, 600, 1000, 1280, 1300, 5000] {
            assert_eq!(
                page(&db, sort, offset),
                page(&plain, sort, offset),
                "{sort} at {offset}"
            );
        }
    }
    // after the first deep page of an order, the others are served without
    // the database, shallow ones included
    let before = calls.reads();
    for offset in [700, 50, 1250, 900] {
        assert_eq!(page(&db, "title", offset), page(&plain, "title", offset));
    }
    assert_eq!(
        calls.reads(),
        before,
        "pages of a cached order read storage"
    );
    db.rollback().unwrap();
    // a commit ends it: the page changes with the data
    {
        let other = tracker.open_db("1").unwrap();
        other
            .set("issue", "1", values(&[("title", "t9999")]))
            .unwrap();
        other.commit().unwrap();
    }
    db.refresh_shared_cache().unwrap();
    let before = calls.reads();
    assert_eq!(page(&db, "title", 1250), page(&plain, "title", 1250));
    assert!(calls.reads() > before, "a commit empties the cached order");
    assert_eq!(
        page(&db, "title", 1250).last().map(String::as_str),
        Some("1")
    );
}

/// A full-text search with many matches is a walk of the whole order of
/// the same query without them (kept as deep pages keep it): the pages are
/// the database's, for dense, clustered and sparse matches, and once the
/// order is kept other searches of that sort read nothing from storage.
#[test]
fn search_pages_walk_the_whole_order() {
    use roundup_core::filter::IdSet;
    let (_dir, tracker) = tracker_with_titles(7919);
    let (db, calls) = counted_db(&tracker, SharedCache::new());
    let plain = tracker.open_db("1").unwrap();
    let page = |db: &Db, sort: &str, offset: u64, ids: &Arc<IdSet>| -> Vec<String> {
        let spec = FilterSpec {
            sort: vec![(None, sort.to_string())],
            limit: Some(50),
            offset: Some(offset),
            search_matches: Some(ids.clone()),
            ..FilterSpec::default()
        };
        db.filter("issue", &spec).unwrap()
    };
    let set =
        |f: &dyn Fn(u32) -> bool| Arc::new(IdSet::new((1..=1400).filter(|&n| f(n)).collect()));
    let every_third = set(&|n| n % 3 == 0);
    let most = set(&|n| n % 7 != 0);
    // ids past the last issue and the last 300 issues only: by title the
    // matches are spread, by id they come at the very end of the walk
    let late = set(&|n| n > 1000);
    // fewer than the walk is used for
    let few = set(&|n| n % 97 == 0);
    db.refresh_shared_cache().unwrap();
    for sort in ["title", "-activity", "id"] {
        for ids in [&every_third, &most, &late, &few] {
            for offset in [0, 50, 400, 900] {
                let got = page(&db, sort, offset, ids);
                assert_eq!(got, page(&plain, sort, offset, ids), "{sort} at {offset}");
                assert!(got.iter().all(|i| ids.contains(i.parse().unwrap())));
            }
        }
    }
    // the title order is kept now: other searches of it read nothing
    let before = calls.reads();
    let odd = set(&|n| n % 2 == 1);
    for offset in [0, 100, 350] {
        assert_eq!(
            page(&db, "title", offset, &odd),
            page(&plain, "title", offset, &odd)
        );
    }
    assert_eq!(
        calls.reads(),
        before,
        "searches of a kept order read storage"
    );
    db.rollback().unwrap();
    // a commit ends the order: a retired match leaves the page
    let first = page(&plain, "title", 0, &odd)[0].clone();
    {
        let other = tracker.open_db("1").unwrap();
        other.retire("issue", &first).unwrap();
        other.commit().unwrap();
    }
    db.refresh_shared_cache().unwrap();
    let got = page(&db, "title", 0, &odd);
    assert_eq!(got, page(&plain, "title", 0, &odd));
    assert!(!got.contains(&first), "a retired issue is still listed");
}

/// A kept order outlives commits that change items of its own class
/// only: the changed items leave it and are placed again (created,
/// retitled, retired, moved to the front of `-activity`), so that deep
/// pages stay the database's own without another walk of every item. A
/// commit that changes a class the order reads (the users, for a sort by
/// assignee) drops it, and so does falling too far behind.
#[test]
fn kept_orders_are_repaired_after_commits() {
    let (_dir, tracker) = tracker_with_titles(7919);
    let cache = SharedCache::new();
    let (db, calls) = counted_db(&tracker, cache.clone());
    // counts of 100 or more keep their matches as an order by id
    let db = db.with_count_orders_from(100);
    let plain = tracker.open_db("1").unwrap();
    // (sort, title words filter)
    let queries: [(&str, Option<&str>); 6] = [
        ("title", None),
        ("-activity", None),
        ("priority", None),
        ("-creation", None),
        ("title", Some("t1")),
        ("assignedto", None),
    ];
    let spec = |(sort, words): (&str, Option<&str>), offset: u64| FilterSpec {
        sort: vec![(None, sort.to_string())],
        filterspec: words
            .map(|w| vec![("title".to_string(), SpecValue::One(w.to_string()))])
            .unwrap_or_default(),
        limit: Some(50),
        offset: Some(offset),
        ..FilterSpec::default()
    };
    let check_all = |db: &Db, round: &str| {
        for words in [None, Some("t1")] {
            let spec = FilterSpec {
                sort: Vec::new(),
                limit: None,
                offset: None,
                ..spec(("id", words), 0)
            };
            assert_eq!(
                db.filter_count("issue", &spec).unwrap(),
                plain.filter_count("issue", &spec).unwrap(),
                "{round}: count of {words:?}"
            );
        }
        for q in queries {
            for offset in [0, 500, 650, 1250, 1300] {
                assert_eq!(
                    db.filter("issue", &spec(q, offset)).unwrap(),
                    plain.filter("issue", &spec(q, offset)).unwrap(),
                    "{round}: {q:?} at {offset}"
                );
            }
        }
    };
    let outside = |f: &dyn Fn(&Db)| {
        let other = tracker.open_db("1").unwrap();
        f(&other);
        other.commit().unwrap();
    };
    db.refresh_shared_cache().unwrap();
    check_all(&db, "first");
    db.rollback().unwrap();
    // six sorts, and the two counts' orders by id
    assert_eq!(
        cache.stats().orders.entries,
        8,
        "{:?}",
        cache.stats().orders
    );

    // a pseudo-random run of commits, some of several changes
    let mut seed: u64 = 7;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut created = 0;
    for round in 0..12 {
        let changes: Vec<(u64, u64)> = (0..1 + next(3))
            .map(|_| (next(4), next(1300) + 1))
            .collect();
        outside(&|db| {
            for &(kind, n) in &changes {
                let id = n.to_string();
                let retired = db.is_retired("issue", &id).unwrap();
                match kind {
                    _ if retired => {
                        db.create("issue", values(&[("title", "t0999 again")]))
                            .unwrap();
                    }
                    0 => {
                        let title = format!("t{:04}", (n * 389) % 1300);
                        db.set("issue", &id, values(&[("title", &title)])).unwrap();
                    }
                    1 => {
                        db.set("issue", &id, values(&[("title", "a first")]))
                            .unwrap();
                    }
                    2 => {
                        db.create("issue", values(&[("title", "t1000 new")]))
                            .unwrap();
                    }
                    _ => db.retire("issue", &id).unwrap(),
                }
            }
        });
        created += changes.iter().filter(|c| c.0 == 2).count();
        let before = cache.stats().order_repairs;
        let fetches = calls.of("filter_order");
        db.refresh_shared_cache().unwrap();
        check_all(&db, &format!("round {round}"));
        db.rollback().unwrap();
        let stats = cache.stats();
        // the sort by assignee reads no user, so it is repaired as well
        assert_eq!(
            stats.order_repairs,
            before + 8,
            "round {round}: {changes:?}"
        );
        assert!(
            calls.of("filter_order") > fetches,
            "repairs ask the database"
        );
    }
    assert!(created > 0, "the run created no issue");
    // the first count of each was its matches fetched by id, and after
    // commits each was its repaired order's length
    assert_eq!(
        calls.of("filter_count"),
        0,
        "counts after commits were not the orders' lengths"
    );

    // a change to a class an order reads drops that order alone
    outside(&|db| {
        db.set("user", "1", values(&[("realname", "Someone Else")]))
            .unwrap();
        db.set("issue", "3", values(&[("title", "t0001")])).unwrap();
    });
    db.refresh_shared_cache().unwrap();
    assert_eq!(cache.stats().orders.entries, 7, "the assignee order goes");
    let before = cache.stats().order_repairs;
    check_all(&db, "after a user changed");
    assert_eq!(cache.stats().order_repairs, before + 7);
    db.rollback().unwrap();

    // more changed items than a repair is worth: the orders go
    outside(&|db| {
        for id in 200..260 {
            db.set("issue", &id.to_string(), values(&[("title", "z last")]))
                .unwrap();
        }
    });
    db.refresh_shared_cache().unwrap();
    assert_eq!(cache.stats().orders.entries, 0);
    check_all(&db, "after many changes");
    db.rollback().unwrap();
}

/// Whole orders have a budget of their own (`[main] order_cache_size`): an
/// order far larger than the items and query results the shared cache may
/// hold is still kept, and one past its own budget is left to the
/// database, page by page, with the same pages.
#[test]
fn whole_orders_are_kept_within_their_own_budget() {
    let (_dir, tracker) = tracker_with_titles(31);
    let plain = tracker.open_db("1").unwrap();
    let spec = |offset: u64| FilterSpec {
        sort: vec![(None, "title".to_string())],
        limit: Some(50),
        offset: Some(offset),
        ..FilterSpec::default()
    };
    // budgets: (items and query results, whole orders, whether 1300 ids fit)
    for (shared, orders, kept) in [(2048, 64 << 10, true), (4 << 20, 4096, false)] {
        let cache = Arc::new(SharedCache::with_budgets(shared, orders));
        let (db, calls) = counted_db(&tracker, cache.clone());
        db.refresh_shared_cache().unwrap();
        assert_eq!(
            db.filter("issue", &spec(600)).unwrap(),
            plain.filter("issue", &spec(600)).unwrap()
        );
        let before = calls.reads();
        for offset in [700, 0, 1250, 900] {
            assert_eq!(
                db.filter("issue", &spec(offset)).unwrap(),
                plain.filter("issue", &spec(offset)).unwrap(),
                "page at {offset}, order budget {orders}"
            );
        }
        let stats = cache.stats();
        if kept {
            assert_eq!(calls.reads(), before, "a kept order read storage");
            assert_eq!(stats.orders.entries, 1, "{:?}", stats.orders);
            assert!(stats.orders.bytes >= 1300 * 4, "{:?}", stats.orders);
            assert!(stats.cache.bytes <= 2048, "{:?}", stats.cache);
        } else {
            assert!(calls.reads() > before, "no order kept, yet no page read");
            assert_eq!(stats.orders.entries, 0, "{:?}", stats.orders);
        }
        db.rollback().unwrap();
    }
}

/// A commit drops from the shared cache only the items it changed (the
/// database's change log names them), every query result, and nothing at
/// all when it changed no item; when the log cannot be trusted (a trigger
/// gone, as when Roundup 2.6 rebuilds a table) the cache starts over.
#[test]
fn a_commit_drops_only_the_items_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = crate::classic_tracker(dir.path());
    {
        let db = tracker.open_db("1").unwrap();
        for t in ["one", "two", "three"] {
            db.create("issue", values(&[("title", t)])).unwrap();
        }
        db.commit().unwrap();
    }
    let cache = SharedCache::new();
    let (a, calls) = counted_db(&tracker, cache.clone());
    let read_all = || {
        (
            title(&a, "1"),
            title(&a, "2"),
            title(&a, "3"),
            a.get("user", "1", "username").unwrap(),
            count_titled(&a, "two"),
        )
    };
    a.refresh_shared_cache().unwrap();
    read_all();
    a.rollback().unwrap();
    let outside = |f: &dyn Fn(&Db)| {
        let other = tracker.open_db("1").unwrap();
        f(&other);
        other.commit().unwrap();
    };
    outside(&|db| {
        db.set("issue", "2", values(&[("title", "deux")])).unwrap();
    });

    let before = cache.stats();
    a.refresh_shared_cache().unwrap();
    let after = cache.stats();
    assert_eq!(after.invalidations, before.invalidations, "not emptied");
    assert_eq!(
        after.partial_invalidations,
        before.partial_invalidations + 1
    );
    assert_eq!(after.generation, before.generation + 1);
    let reads = |f: &dyn Fn()| {
        let n = calls.reads();
        f();
        calls.reads() - n
    };
    assert_eq!(
        reads(&|| {
            assert_eq!(title(&a, "1"), "one");
            assert_eq!(title(&a, "3"), "three");
            assert_eq!(
                a.get("user", "1", "username").unwrap(),
                Some(Value::String("admin".into()))
            );
        }),
        0,
        "items the commit did not change stay cached"
    );
    assert!(
        reads(&|| assert_eq!(title(&a, "2"), "deux")) >= 1,
        "the changed item is read anew"
    );
    assert!(
        reads(&|| assert_eq!(count_titled(&a, "two"), 0)) >= 1,
        "query results are computed anew"
    );
    a.rollback().unwrap();

    // a multilink change alone names its item too
    a.refresh_shared_cache().unwrap();
    assert_eq!(
        a.get("issue", "3", "nosy").unwrap(),
        Some(Value::Multilink(vec![]))
    );
    a.rollback().unwrap();
    outside(&|db| {
        let mut v = roundup_core::Values::new();
        v.insert("nosy".into(), Some(Value::Multilink(vec!["1".into()])));
        db.set("issue", "3", v).unwrap();
    });
    a.refresh_shared_cache().unwrap();
    assert_eq!(
        a.get("issue", "3", "nosy").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    a.rollback().unwrap();

    // a commit that changed no item (a counter, a session) keeps everything
    a.refresh_shared_cache().unwrap();
    read_all();
    a.rollback().unwrap();
    let raw = rusqlite::Connection::open(tracker.home().join("db/db")).unwrap();
    raw.execute("update ids set num = num where name = 'issue'", [])
        .unwrap();
    let before = cache.stats();
    a.refresh_shared_cache().unwrap();
    let after = cache.stats();
    assert_eq!(after.generation, before.generation, "nothing to drop");
    assert_eq!(reads(&|| drop(read_all())), 0, "everything still cached");
    a.rollback().unwrap();

    // our own commit drops what it changed, for every sharing connection
    a.refresh_shared_cache().unwrap();
    a.set("issue", "1", values(&[("title", "un")])).unwrap();
    a.commit().unwrap();
    a.rollback().unwrap();
    let (b, calls_b) = counted_db(&tracker, cache.clone());
    b.refresh_shared_cache().unwrap();
    let n = calls_b.reads();
    assert_eq!(title(&b, "3"), "three");
    assert_eq!(calls_b.reads(), n, "b is served what a read before");
    assert_eq!(title(&b, "1"), "un");
    assert!(calls_b.reads() > n, "and reads what a changed anew");
    b.rollback().unwrap();
    drop(b);

    // a trigger gone (Roundup 2.6 rebuilding the item table drops them):
    // the log is not trusted, the cache starts over
    let drop_a_trigger = || {
        let name: String = raw
            .query_row(
                "select name from sqlite_master where type = 'trigger' and tbl_name = '_issue' limit 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        raw.execute(&format!("drop trigger {name}"), []).unwrap();
    };
    drop_a_trigger();
    raw.execute("update _issue set _title = 'ein' where id = 1", [])
        .unwrap();
    let before = cache.stats();
    a.refresh_shared_cache().unwrap();
    assert_eq!(cache.stats().invalidations, before.invalidations + 1);
    assert_eq!(title(&a, "1"), "ein");
    a.rollback().unwrap();
    // ... and when our next open has put it back before the cache looks,
    // the open logged that anything may have changed meanwhile
    a.refresh_shared_cache().unwrap();
    a.rollback().unwrap();
    drop_a_trigger();
    raw.execute("update _issue set _title = 'uno' where id = 1", [])
        .unwrap();
    drop(tracker.open_db("1").unwrap());
    assert_eq!(
        issue_triggers(&raw),
        3,
        "insert, update and delete triggers are back"
    );
    let before = cache.stats();
    a.refresh_shared_cache().unwrap();
    assert_eq!(cache.stats().invalidations, before.invalidations + 1);
    assert_eq!(title(&a, "1"), "uno");
    a.rollback().unwrap();
}

/// Roundup 2.6 working on the same database: its writes reach the change
/// log (the triggers are the database's, whoever writes), so our cache
/// drops just what it changed; when its schema migration rebuilds the item
/// table (dropping the triggers with it) our cache starts over.
#[test]
fn roundup_26_writes_are_logged_and_its_table_rebuild_starts_the_cache_over() {
    let Some(r) = roundup_testkit::Roundup26::find() else {
        return;
    };
    let work = r.workdir();
    let home = work.path().join("t");
    let h = home.to_str().unwrap();
    r.admin(&[
        "-i",
        h,
        "install",
        "classic",
        "sqlite",
        "mail_domain=example.com",
    ]);
    r.admin(&["-i", h, "initialise", "secret"]);
    r.admin(&["-i", h, "create", "issue", "title=one"]);
    r.admin(&["-i", h, "create", "issue", "title=two"]);

    let tracker = roundup_tracker::Tracker::open(&home).unwrap();
    let cache = SharedCache::new();
    let (a, calls) = counted_db(&tracker, cache.clone());
    roundup_testkit::give_to_rt(&home);
    a.refresh_shared_cache().unwrap();
    assert_eq!(title(&a, "1"), "one");
    assert_eq!(title(&a, "2"), "two");
    a.rollback().unwrap();

    r.admin(&["-i", h, "set", "issue2", "title=changed by Roundup"]);
    let before = cache.stats();
    a.refresh_shared_cache().unwrap();
    let after = cache.stats();
    assert_eq!(after.invalidations, before.invalidations);
    assert_eq!(
        after.partial_invalidations,
        before.partial_invalidations + 1
    );
    let n = calls.reads();
    assert_eq!(title(&a, "1"), "one");
    assert_eq!(calls.reads(), n, "issue1 is still cached");
    assert_eq!(title(&a, "2"), "changed by Roundup");
    a.rollback().unwrap();

    // a new property: Roundup 2.6 rebuilds `_issue`, its triggers go
    let schema = home.join("schema.py");
    let text = std::fs::read_to_string(&schema).unwrap();
    let text = text.replacen(
        "issue = IssueClass(db, \"issue\",",
        "issue = IssueClass(db, \"issue\", extra=String(),",
        1,
    );
    assert!(text.contains("extra=String()"));
    std::fs::write(&schema, text).unwrap();
    r.admin(&["-i", h, "set", "issue1", "title=after the rebuild"]);
    let raw = rusqlite::Connection::open(home.join("db/db")).unwrap();
    assert_eq!(issue_triggers(&raw), 0, "Roundup 2.6 rebuilt the table");
    let before = cache.stats();
    a.refresh_shared_cache().unwrap();
    assert_eq!(cache.stats().invalidations, before.invalidations + 1);
    assert_eq!(title(&a, "1"), "after the rebuild");
    a.rollback().unwrap();
}

/// How many triggers the issue table has.
fn issue_triggers(raw: &rusqlite::Connection) -> i64 {
    raw.query_row(
        "select count(*) from sqlite_master where type = 'trigger' and tbl_name = '_issue'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// A count nobody has asked for yet is one walk of its matches: they are
/// fetched by id, their number is the count, and a set large enough is
/// kept as an order by id, so no second walk fetches what was counted
/// (at a million issues each walk of one status and priority was about
/// 200 ms). Asked again, the count reads nothing.
#[test]
fn a_new_count_walks_its_matches_once() {
    let (_dir, tracker) = tracker_with_titles(7919);
    let cache = SharedCache::new();
    let (db, calls) = counted_db(&tracker, cache.clone());
    // counts of 100 or more keep their matches as an order by id
    let db = db.with_count_orders_from(100);
    let plain = tracker.open_db("1").unwrap();
    let spec = |words: Option<&str>| FilterSpec {
        filterspec: words
            .map(|w| vec![("title".to_string(), SpecValue::One(w.to_string()))])
            .unwrap_or_default(),
        ..FilterSpec::default()
    };
    db.refresh_shared_cache().unwrap();
    // (title words, orders kept after counting them)
    // statements that walk the matches
    let walks = || calls.of("filter") + calls.of("filter_order") + calls.of("filter_count");
    for (words, kept) in [(None, 1), (Some("t1"), 2), (Some("t0999"), 2)] {
        let before = walks();
        let n = db.filter_count("issue", &spec(words)).unwrap();
        assert_eq!(n, plain.filter_count("issue", &spec(words)).unwrap());
        assert_eq!(walks() - before, 1, "{words:?}: {:?}", calls.snapshot());
        assert_eq!(cache.stats().orders.entries, kept, "{words:?}");
        let before = calls.reads();
        assert_eq!(db.filter_count("issue", &spec(words)).unwrap(), n);
        assert_eq!(calls.reads(), before, "{words:?} counted again");
    }
    assert_eq!(calls.of("filter_count"), 0, "{:?}", calls.snapshot());
}
