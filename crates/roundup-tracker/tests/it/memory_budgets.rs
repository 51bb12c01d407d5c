//! The memory budgets a served tracker takes from config.ini (our options
//! `[main] shared_cache_size`, `order_cache_size`, `connection_cache_size`,
//! `connection_pool_size`, `[rdbms] sqlite_memory_limit`): reading many
//! items through the pool keeps every cache within its budget, evicting
//! the least recently used instead of growing.

use indexmap::IndexMap;
use roundup_core::Value;
use roundup_testkit::add_config_lines;
use roundup_tracker::serving::Served;

fn tracker_with_issues(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("t");
    let tracker = crate::classic_tracker(dir.path());
    let db = tracker.open_db("1").unwrap();
    for i in 0..n {
        let mut v = IndexMap::new();
        v.insert(
            "title".to_string(),
            Some(Value::String(format!(
                "issue number {i} {}",
                "x".repeat(200)
            ))),
        );
        db.create("issue", v).unwrap();
    }
    db.commit().unwrap();
    (dir, home)
}

#[test]
fn served_caches_stay_within_their_configured_budgets() {
    let (_dir, home) = tracker_with_issues(400);
    add_config_lines(
        &home,
        "main",
        "shared_cache_size = 48K\norder_cache_size = 40K\nconnection_cache_size = 24K\nconnection_pool_size = 2",
    );
    add_config_lines(
        &home,
        "rdbms",
        "sqlite_cache_size = 128K\nsqlite_memory_limit = 4M",
    );
    let served = Served::open("t", &home).unwrap();
    {
        let db = served.pool.get("1").unwrap();
        for id in 1..=400 {
            db.get("issue", &id.to_string(), "title").unwrap();
            let c = db.cache_stats();
            assert!(c.bytes <= 24 << 10, "connection cache {c:?}");
            let s = served.pool.shared_stats().cache;
            assert!(s.bytes <= 48 << 10, "shared cache {s:?}");
        }
        let c = db.cache_stats();
        assert_eq!(c.budget, 24 << 10);
        assert!(c.evictions > 200, "{c:?}");
        let ids: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
        db.prefetch("issue", &ids).unwrap();
        assert!(db.cache_stats().bytes <= 24 << 10);
        // the last item read is the newest (or a used) entry
        db.get("issue", "7", "title").unwrap();
    }
    let s = served.pool.shared_stats().cache;
    assert_eq!(s.budget, 48 << 10);
    assert_eq!(served.pool.shared_stats().orders.budget, 40 << 10);
    assert!(s.evictions > 200, "{s:?}");
    assert!(s.entries > 20 && s.entries < 400, "{s:?}");
    // a second request finds the most recent items in the shared cache
    {
        let db = served.pool.get("1").unwrap();
        let before = served.pool.shared_stats().cache.hits;
        db.get("issue", "7", "title").unwrap();
        assert_eq!(served.pool.shared_stats().cache.hits, before + 1);
    }
    // at most two connections are kept for reuse
    {
        let a = served.pool.get("1").unwrap();
        let b = served.pool.get("1").unwrap();
        let c = served.pool.get("1").unwrap();
        drop((a, b, c));
    }
    assert_eq!(served.pool.idle_count(), 2);
}

#[test]
fn a_bad_budget_stops_serving_with_the_option_named() {
    let (_dir, home) = tracker_with_issues(0);
    add_config_lines(&home, "main", "shared_cache_size = plenty");
    let e = Served::open("t", &home).unwrap_err().to_string();
    assert!(
        e.contains("shared_cache_size") && e.contains("plenty"),
        "{e}"
    );
    assert!(e.contains("config.ini"), "{e}");
}
