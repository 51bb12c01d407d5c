//! The storage trait every backend implements (SQLite, PostgreSQL, MySQL).
//!
//! Storage is deliberately dumb: it persists what the core hands it and
//! answers queries. All hyperdb semantics (validation, key uniqueness,
//! journal contents, detectors, permissions) live in [`crate::db`]. A backend
//! works inside one open transaction at a time: every write goes into it and
//! [`Storage::commit`] / [`Storage::rollback`] end it.

use std::collections::HashMap;

use crate::date::Date;
use crate::error::Result;
use crate::filter::{IdSet, Query};
use crate::mail::{Envelope, OutboxEntry};
use crate::pyrepr::PyValue;
use crate::schema::{ClassDef, Schema};
use crate::value::Value;

/// Values of one item keyed by property name. Absent keys are untouched
/// (on update) or NULL (on insert). Multilinks hold their full id list.
pub type NodeValues = crate::FastHashMap<String, Option<Value>>;

/// An item as loaded from storage: every stored property (columns and
/// multilinks, ids sorted numerically) plus the automatic ones
/// (`creation`, `activity`, `creator`, `actor`), and its retired flag.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredNode {
    pub values: NodeValues,
    pub retired: bool,
}

/// Additions and removals for one multilink property in an update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultilinkChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// One journal (history) entry, with `params` exactly as Roundup stores
/// them (already marshalled: dates serialised, passwords as their stored
/// text, booleans as 0/1, multilink changes as `(('+', [...]), ('-', [...]))`).
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    pub nodeid: String,
    pub date: Date,
    /// The id of the user who made the change (Roundup's journal tag).
    pub tag: String,
    /// create, set, link, unlink, retired, restored (or custom actions).
    pub action: String,
    pub params: PyValue,
}

/// A full-text index hit: which item property contained the words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TextHit {
    pub class: String,
    pub id: String,
    pub prop: String,
}

/// What commits changed, as told by a backend's change log
/// ([`Storage::changes_since`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Anything may have changed (no log, a log that was cut short or is
    /// incomplete, a schema change, a first look). `upto` is the log's
    /// position now, when there is a log.
    Everything { upto: Option<i64> },
    /// Only these items changed, up to and including position `upto`:
    /// (class, id), where no id means every item of the class (a class
    /// whose computed properties follow another's links).
    Items {
        upto: i64,
        items: Vec<(String, Option<String>)>,
    },
}

/// Persistence for one tracker database connection.
pub trait Storage: Send {
    /// Short backend name as in config.ini (`sqlite`, `postgresql`, `mysql`).
    fn backend_name(&self) -> &'static str;

    /// Create missing tables and bring existing ones in line with `schema`
    /// (added/removed classes and properties), recording the schema in the
    /// `schema` table the way Roundup does. Returns whether anything changed.
    /// Runs inside the current transaction; the caller commits.
    fn sync_schema(&mut self, schema: &Schema) -> Result<bool>;

    /// Allocate the next id of a class. Ids are never reused, even when the
    /// transaction that allocated one rolls back.
    fn new_id(&mut self, class: &str) -> Result<u64>;
    /// Make the next allocated id of `class` be `last_used + 1` (import).
    fn set_last_id(&mut self, class: &str, last_used: u64) -> Result<()>;

    /// Insert a new item. `values` holds every column property (missing
    /// means NULL), every multilink, and the automatic properties.
    fn add_node(&mut self, class: &ClassDef, id: &str, values: &NodeValues) -> Result<()>;
    /// Update columns of an item (`values` holds only changed properties,
    /// including `activity`/`actor`) and apply multilink changes.
    fn set_node(
        &mut self,
        class: &ClassDef,
        id: &str,
        values: &NodeValues,
        multilinks: &HashMap<String, MultilinkChange>,
    ) -> Result<()>;
    /// Load an item, retired or not. `None` if no such id.
    fn get_node(&mut self, class: &ClassDef, id: &str) -> Result<Option<StoredNode>>;
    /// Load several items at once (missing ids are left out).
    fn get_nodes(
        &mut self,
        class: &ClassDef,
        ids: &[String],
    ) -> Result<HashMap<String, StoredNode>> {
        let mut out = HashMap::new();
        for id in ids {
            if let Some(n) = self.get_node(class, id)? {
                out.insert(id.clone(), n);
            }
        }
        Ok(out)
    }
    /// Load several items at once for a list that shows only `props`
    /// (missing ids are left out): each item holds at least those of
    /// `props` that are stored columns (not Multilinks, not computed, not
    /// file content), and may hold nothing else. Such partial items never
    /// go into a cache; the default loads whole items.
    fn get_node_columns(
        &mut self,
        class: &ClassDef,
        ids: &[String],
        props: &[&str],
    ) -> Result<HashMap<String, StoredNode>> {
        let _ = props;
        self.get_nodes(class, ids)
    }
    /// Whether the item exists (retired or not).
    fn has_node(&mut self, class: &str, id: &str) -> Result<bool>;
    /// Mark retired (Roundup stores the item id in `__retired__`) or active.
    fn set_retired(&mut self, class: &ClassDef, id: &str, retired: bool) -> Result<()>;
    /// Remove an item, its multilink rows and its journal completely.
    fn destroy_node(&mut self, class: &ClassDef, id: &str) -> Result<()>;

    /// Ids of a class, numerically sorted: `Some(false)` active only,
    /// `Some(true)` retired only, `None` all.
    fn node_ids(&mut self, class: &str, retired: Option<bool>) -> Result<Vec<String>>;
    /// Number of active items.
    fn count(&mut self, class: &str) -> Result<u64>;
    /// Id of the active item whose key property equals `key` exactly.
    fn lookup_key(&mut self, class: &ClassDef, key: &str) -> Result<Option<String>>;
    /// Active items whose Link/Multilink `prop` points at any of `ids`.
    fn find_linking(&mut self, class: &ClassDef, prop: &str, ids: &[String])
        -> Result<Vec<String>>;

    /// Run a filter query (see [`crate::filter`]), returning matching ids in
    /// the requested order.
    fn filter(&mut self, schema: &Schema, query: &Query) -> Result<Vec<String>>;

    /// The whole order of a filter query (no limit) as numbers, for the
    /// shared cache's kept orders; `None` when an id is not a plain
    /// number. Backends override it to skip the ids' text: at a million
    /// items the order is fetched after every commit that drops it.
    fn filter_order(&mut self, schema: &Schema, query: &Query) -> Result<Option<Vec<u32>>> {
        Ok(crate::shared_cache::numeric_ids(
            &self.filter(schema, query)?,
        ))
    }
    /// How many items a query matches (sort and paging ignored).
    fn filter_count(&mut self, schema: &Schema, query: &Query) -> Result<u64> {
        let all = Query {
            limit: None,
            offset: 0,
            ..query.clone()
        };
        Ok(self.filter(schema, &all)?.len() as u64)
    }

    fn add_journal(&mut self, class: &str, entry: &JournalEntry) -> Result<()>;
    /// Journal of an item in date order (insertion order for equal dates).
    fn get_journal(&mut self, class: &str, id: &str) -> Result<Vec<JournalEntry>>;
    /// Replace an item's journal (import).
    fn set_journal(&mut self, class: &str, id: &str, entries: &[JournalEntry]) -> Result<()>;
    /// Delete journal entries older than `before`, except `create` entries.
    fn pack(&mut self, schema: &Schema, before: &Date) -> Result<()>;

    /// Replace the indexed words of one item property.
    fn index_text(&mut self, class: &str, id: &str, prop: &str, text: &str) -> Result<()>;
    /// Items whose indexed text contains all `words` (case-insensitive),
    /// limited to `classes` when given.
    fn search_text(&mut self, words: &[String], classes: Option<&[String]>)
        -> Result<Vec<TextHit>>;
    /// The items of `class` a search for all `words` finds in Roundup's
    /// sense (its own indexed texts, and the texts of items of other
    /// classes its Link and Multilink properties point to; retired items
    /// included), when the storage keeps that relation itself. `None`: the
    /// caller combines [`Storage::search_text`] with `find_linking`.
    fn search_text_owners(&mut self, words: &[String], class: &str) -> Result<Option<IdSet>> {
        let _ = (words, class);
        Ok(None)
    }
    /// For `ids` of the class `class.prop` points to, the items of `class`
    /// pointing to each through `prop`, as (linked id, linking id) pairs in
    /// any order, retired linking items included (this default, one
    /// `find_linking` an id, leaves them out). `prop` is a stored Link or
    /// Multilink.
    fn linking_pairs(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[u32],
    ) -> Result<Vec<(u32, u32)>> {
        let mut out = Vec::new();
        for &id in ids {
            for owner in self.find_linking(class, prop, &[id.to_string()])? {
                if let Ok(o) = owner.parse() {
                    out.push((id, o));
                }
            }
        }
        Ok(out)
    }

    /// Bulk mode (imports): while on, a failing single write need not be
    /// undone by itself, because the caller undoes the whole enclosing
    /// transaction or savepoint on any failure. Backends may then skip
    /// their per-operation protection and defer work (such as writing the
    /// full-text index) until bulk mode ends, which can therefore fail.
    /// Off by default.
    fn set_bulk(&mut self, _on: bool) -> Result<()> {
        Ok(())
    }

    /// Open a named savepoint inside the current transaction.
    fn savepoint(&mut self, name: &str) -> Result<()>;
    /// Forget a savepoint, keeping its changes.
    fn release_savepoint(&mut self, name: &str) -> Result<()>;
    /// Undo everything since the savepoint (which is then released).
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()>;

    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;

    /// A marker that changes whenever another connection (of this process
    /// or any other) commits to the database, or `None` when the backend
    /// cannot tell; see [`crate::shared_cache`].
    fn data_version(&mut self) -> Result<Option<i64>> {
        Ok(None)
    }

    /// What commits changed after position `after` of the backend's
    /// change log (`None`: a reader that has not looked yet), for a read
    /// cache that then drops only those items; see
    /// [`crate::shared_cache`]. A backend without a change log, or one
    /// that cannot vouch for it right now, answers
    /// [`Changes::Everything`].
    fn changes_since(&mut self, _after: Option<i64>) -> Result<Changes> {
        Ok(Changes::Everything { upto: None })
    }

    // ---- the outbox (see [`crate::mail`]) --------------------------------
    // Messages waiting to be sent, kept in the tracker database so that
    // they are written in the same transaction as the change they report.

    /// Add a message to the outbox in the open transaction, not to be
    /// tried before `next_try`; its id.
    fn outbox_add(&mut self, _envelope: &Envelope, _queued: f64, _next_try: f64) -> Result<i64> {
        Err(no_outbox(self.backend_name()))
    }
    /// Every waiting message (all of them, or those due at `due_at`),
    /// oldest first.
    fn outbox_list(&mut self, _due_at: Option<f64>) -> Result<Vec<OutboxEntry>> {
        Ok(Vec::new())
    }
    /// Take entry `id` for delivery until `until`, if it is still as seen
    /// (`attempts` failed tries, due at `next_try`): false when another
    /// connection took or removed it first. Commits.
    fn outbox_claim(&mut self, _id: i64, _next_try: f64, _until: f64) -> Result<bool> {
        Err(no_outbox(self.backend_name()))
    }
    /// Remove a delivered entry. Commits.
    fn outbox_remove(&mut self, _id: i64) -> Result<()> {
        Err(no_outbox(self.backend_name()))
    }
    /// Remove delivered entries, in one transaction. Commits.
    fn outbox_remove_many(&mut self, ids: &[i64]) -> Result<()> {
        for id in ids {
            self.outbox_remove(*id)?;
        }
        Ok(())
    }
    /// Record a failed try of entry `id`: retry at `next_try`. Commits.
    fn outbox_failed(&mut self, _id: i64, _error: &str, _next_try: f64) -> Result<()> {
        Err(no_outbox(self.backend_name()))
    }
}

fn no_outbox(backend: &str) -> crate::Error {
    crate::Error::storage(format!("the {backend} backend keeps no outbox of mail"))
}
