//! Roundup's hyperdb semantics, tested once for every storage backend.
//!
//! A backend crate runs the whole suite from one test file:
//!
//! ```ignore
//! roundup_backend_tests::suite!(|| roundup_backend_tests::Fresh::in_temp_dir(
//!     |db_dir| std::sync::Arc::new(MyBackend::new(db_dir)),
//! ));
//! ```
//!
//! [`suite!`] expands to one `#[test]` per suite test, each calling the
//! factory for a new, empty database of its own. The tests go through
//! the core's [`Backend`], [`roundup_core::storage::Storage`] and
//! [`roundup_core::sessions::KeyStore`] traits only, so what they check
//! (property types, filters and sorting, journals, transactions and
//! savepoints, ids, files, bulk imports, sessions and one-time keys) holds
//! for every backend that passes. Engine-specific checks (the on-disk
//! layout, locking, journal modes) stay in the backend's own tests.

pub mod semantics;
pub mod sessions;
pub mod storage;
pub mod support;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roundup_core::backend::Backend;

/// A new, empty database for one test, and what it needs removed when
/// the test is over.
pub struct Fresh {
    /// The database; nothing has been created in it yet.
    pub backend: Arc<dyn Backend>,
    /// Where the core keeps file contents (`DbOptions::db_dir`).
    pub files_dir: PathBuf,
    /// Dropped after the database is nuked: temporary directories and the
    /// like.
    pub guard: Box<dyn Any>,
}

impl Fresh {
    /// A database kept in files: `make` gets the database directory, in a
    /// new temporary directory removed after the test (which is also
    /// where file contents go).
    pub fn in_temp_dir(make: impl FnOnce(&Path) -> Arc<dyn Backend>) -> Fresh {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("creating a temporary directory: {e}"),
        };
        let db_dir = dir.path().join("db");
        Fresh {
            backend: make(&db_dir),
            files_dir: db_dir,
            guard: Box::new(dir),
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        // Best effort: a failure leaves only test data behind.
        let _ = self.backend.nuke();
    }
}

/// Makes a fresh, empty database of one backend per call.
pub trait BackendFactory {
    fn fresh(&self) -> Fresh;
}

impl<F: Fn() -> Fresh> BackendFactory for F {
    fn fresh(&self) -> Fresh {
        self()
    }
}

/// One `#[test]` per suite test, each on a fresh database from `$factory`
/// (anything that implements [`BackendFactory`], such as a function
/// returning [`Fresh`]).
#[macro_export]
macro_rules! suite {
    ($factory:expr) => {
        $crate::suite_tests!($factory;
            semantics::every_property_type_round_trips,
            semantics::raw_input_is_converted_like_roundup,
            semantics::journal_records_create_set_link_unlink_retire_restore,
            semantics::setting_the_same_value_changes_nothing_and_quiet_props_are_not_reported,
            semantics::keys_are_unique_among_active_items_and_reusable_after_retire,
            semantics::links_are_checked_and_keys_resolved,
            semantics::auditors_change_or_reject_and_reactors_see_old_values,
            semantics::rollback_restores_the_database_exactly,
            semantics::file_contents_live_on_disk_and_follow_the_transaction,
            semantics::find_stringfind_and_filter,
            semantics::permissions_follow_roundup_rules,
            semantics::try_id_parsing_no_treats_numbers_as_keys,
            semantics::authenticate_verifies_and_upgrades_weak_hashes,
            semantics::batched_node_loading_matches_single_loads,
            semantics::counts_follow_every_change,
            storage::a_new_database_has_no_layout_until_synced,
            storage::rollback_restores_data_and_ids_are_never_reused,
            storage::failed_statement_keeps_transaction_usable,
            storage::filter_runs_the_generated_sql,
            storage::savepoints_undo_partial_work_and_keep_ids,
            storage::computed_reverse_multilinks_are_loaded_and_searchable,
            storage::bulk_load_matches_single_writes,
            storage::a_failed_bulk_load_rolls_back_completely,
            storage::the_change_log_covers_every_commit,
            sessions::records_merge_expire_and_clean,
            sessions::stores_are_separate_and_shared_between_connections,
        );
    };
}

/// The expansion of [`suite!`]: one test function per listed suite test.
#[doc(hidden)]
#[macro_export]
macro_rules! suite_tests {
    ($factory:expr; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::$module::$name(&$factory);
            }
        )*
    };
}
