//! roundup-tracker's integration tests, one module per file, all in one
//! test binary: backend selection from config.ini, the core's rules (login,
//! rate limits, CSRF, authorisation, designators, index arguments) on a
//! real tracker home, the read cache shared between connections, and
//! `[logging] config` files.

mod backend_selection;
mod core_rules;
mod logging;
mod memory_budgets;
mod shared_cache;
mod tx_source;

/// A classic SQLite tracker home installed at `<dir>/t`.
fn classic_home(dir: &std::path::Path) -> std::path::PathBuf {
    let home = dir.join("t");
    roundup_tracker::install(
        &home,
        "classic",
        "sqlite",
        &[("mail_domain".into(), "example.com".into())],
    )
    .unwrap();
    home
}

/// A classic SQLite tracker at `<dir>/t`, initialised with its admin.
fn classic_tracker(dir: &std::path::Path) -> roundup_tracker::Tracker {
    let tracker = roundup_tracker::Tracker::open(&classic_home(dir)).unwrap();
    tracker.initialise("admin", "admin@example.com").unwrap();
    tracker
}
