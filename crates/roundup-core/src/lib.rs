//! The tracker core: Roundup's "hyperdb" data model and its transactional API.
//!
//! Layers, bottom up: value types ([`date`], [`password`], [`value`]), the
//! [`schema`], the [`storage`] trait backends implement, the typed
//! [`filter`] query, and [`db`], which gives Roundup's semantics on top;
//! [`backend`] is what a storage backend provides for a tracker's database.
//!
//! The rules every front end shares live here too: logging in
//! ([`auth`]), who may do what ([`authz`]), cross-site request checks
//! ([`csrf`]), rate limits ([`ratelimit`]), designators ([`designator`])
//! and index/query arguments ([`query_args`]), and message translation
//! ([`i18n`]).
pub mod auth;
pub mod authz;
pub mod backend;
pub mod clock_cache;
pub mod config;
pub mod console;
pub mod counting_storage;
pub mod csrf;
pub mod date;
pub mod db;
pub mod designator;
pub mod detectors;
pub mod error;
pub mod extensions;
pub mod filter;
pub mod i18n;
pub mod mail;
pub mod nosy;
pub mod password;
pub mod pyrepr;
pub mod query_args;
pub mod ratelimit;
pub mod schema;
pub mod security;
pub mod sessions;
pub mod shared_cache;
pub mod storage;
pub mod value;

pub use db::{Db, DbOptions, Mark, QueuedMail, TrackerDef, TxSource, Values};
pub use error::{Error, Result, StorageError, StorageKind};
pub use schema::{ClassDef, ClassKind, PropType, Property, Schema};
pub use value::Value;

/// A `HashMap` with a fast hasher (foldhash, per-map random seed), for the
/// in-memory caches whose keys (class names, ids, permission keys) are
/// hashed many times per page; SipHash showed as a tenth of a page's cost.
pub type FastHashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
