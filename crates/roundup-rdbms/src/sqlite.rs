//! The SQLite backend (in progress on the storage branch).
