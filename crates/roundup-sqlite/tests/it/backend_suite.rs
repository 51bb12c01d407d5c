//! Roundup's backend test suite (crates/roundup-backend-tests) on real
//! SQLite files: one test per suite test.

roundup_backend_tests::suite!(|| roundup_backend_tests::Fresh::in_temp_dir(|db_dir| {
    std::sync::Arc::new(roundup_sqlite::SqliteBackend::new(
        db_dir,
        std::time::Duration::from_secs(5),
    ))
}));
