//! The whole backend suite with SQLite behind the inverted index: every
//! hyperdb rule (full-text hits included) holds unchanged.

roundup_backend_tests::suite!(|| roundup_backend_tests::Fresh::in_temp_dir(|db_dir| {
    let sqlite: std::sync::Arc<dyn roundup_core::backend::Backend> = std::sync::Arc::new(
        roundup_sqlite::SqliteBackend::new(db_dir, std::time::Duration::from_secs(5)),
    );
    std::sync::Arc::new(roundup_textindex::TextIndexedBackend::new(
        sqlite,
        db_dir.join("text-index"),
        Vec::new(),
    ))
}));
