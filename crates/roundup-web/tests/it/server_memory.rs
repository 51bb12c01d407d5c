//! Memory under traffic that never repeats a URL: with small budgets set
//! in config.ini, a server answering hundreds of different pages keeps
//! its shared read cache and page cache within them (evicting), and
//! reports their sizes and hit rates.

use roundup_testkit::add_config_lines;

use crate::server_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_pages_keep_the_caches_within_their_budgets() {
    let s = serve_prepared(&["t"], &[], Default::default(), |home| {
        add_config_lines(
            home,
            "main",
            "shared_cache_size = 96K\nconnection_cache_size = 48K",
        );
        add_config_lines(home, "web", "page_cache_size = 64K");
        let t = roundup_tracker::Tracker::open(home).unwrap();
        let db = t.open_db("1").unwrap();
        for i in 0..120 {
            let mut v = roundup_core::Values::new();
            v.insert(
                "title".into(),
                Some(roundup_core::Value::String(format!(
                    "printer trouble number {i} {}",
                    "w".repeat(150)
                ))),
            );
            db.create("issue", v).unwrap();
        }
        db.commit().unwrap();
    })
    .await;
    let site = s.app.trackers.get("t").expect("tracker t").clone();
    let sorts = [
        "-activity",
        "title",
        "priority",
        "id",
        "-creation",
        "status",
    ];
    for i in 0..240usize {
        let path = match i % 3 {
            // 80 different issues: index rows are read with their
            // columns only and never cached, so the items pages read
            // whole are what fills the shared cache past its budget.
            0 => format!("/t/issue{}", 1 + (i / 3 * 7) % 120),
            1 => format!(
                "/t/issue?@columns=title,id,activity,status&@pagesize=10&@sort={}&@startwith={}",
                sorts[i % sorts.len()],
                (i * 10) % 120
            ),
            _ => format!("/t/issue?@search_text=printer&@pagesize=5&n={i}"),
        };
        let r = get(&s, &path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        let shared = site.served.pool.shared_stats().cache;
        let pages = site.ui.pages.stats();
        assert!(shared.bytes <= 96 << 10, "after {path}: shared {shared:?}");
        assert!(pages.bytes <= 64 << 10, "after {path}: pages {pages:?}");
    }
    let shared = site.served.pool.shared_stats().cache;
    let pages = site.ui.pages.stats();
    assert_eq!((shared.budget, pages.budget), (96 << 10, 64 << 10));
    assert!(pages.evictions > 0, "{pages:?}");
    assert!(shared.hits > 0 && shared.evictions > 0, "{shared:?}");
    let conns = site.served.pool.connection_stats();
    assert!(conns.bytes <= conns.budget, "{conns:?}");
    let report = site.cache_report();
    assert!(
        report.contains("shared cache:")
            && report.contains("whole orders:")
            && report.contains("hit rate")
            && report.contains("resident"),
        "{report}"
    );
    s.stop().await;
}

/// The file-backed part of this process's resident set, in kB.
fn rss_file_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssFile:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssFile in /proc/self/status")
}

/// After start-up the server gives the pages of its executable back to
/// the system (`page_out_startup_code`, which the serving process's
/// trimmer calls once): this test binary's own resident code shrinks,
/// and running on afterwards reads back only what is used.
#[test]
fn startup_code_is_paged_out() {
    // touch plenty of this binary's code and read-only data first
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("t");
    roundup_tracker::install(&home, "classic", "sqlite", &[]).unwrap();
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    t.initialise("admin", "admin@example.com").unwrap();
    let before = rss_file_kb();
    let advised = roundup_web::server::page_out_startup_code();
    let after = rss_file_kb();
    assert!(
        advised > 1 << 20,
        "the executable's mappings were advised: {advised} bytes"
    );
    assert!(
        after + 1024 < before,
        "resident file-backed memory went from {before} kB to {after} kB"
    );
    // and the code still runs (its pages come back from the file)
    let db = t.open_db("1").unwrap();
    assert_eq!(db.count("user").unwrap(), 2);
}
