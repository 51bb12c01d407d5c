//! A [`Storage`] wrapper that counts the calls reaching the backend: how
//! many queries a page, a command or a request costs, with and without
//! the caches in front of storage. Tests use it to check that work is
//! batched (a page of 50 rows costs as many queries as a page of 10) and
//! that the caches serve what they claim to.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::date::Date;
use crate::error::Result;
use crate::filter::{IdSet, Query};
use crate::schema::{ClassDef, Schema};
use crate::storage::{JournalEntry, MultilinkChange, NodeValues, Storage, StoredNode, TextHit};

/// The call counts of one or more [`CountingStorage`]s, by method name.
#[derive(Debug, Default)]
pub struct StorageCalls {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl StorageCalls {
    pub fn new() -> Arc<StorageCalls> {
        Arc::new(StorageCalls::default())
    }

    fn hit(&self, method: &'static str) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry(method).or_insert(0) += 1;
    }

    /// Calls of one method (`"get_node"`, `"filter"`, ...).
    pub fn of(&self, method: &str) -> u64 {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.get(method).copied().unwrap_or(0)
    }

    /// Calls that read the database: loading items, ids, keys, queries,
    /// journals and full-text hits (not transaction control or writes).
    pub fn reads(&self) -> u64 {
        const READS: &[&str] = &[
            "get_node",
            "get_nodes",
            "has_node",
            "node_ids",
            "count",
            "lookup_key",
            "find_linking",
            "filter",
            "filter_order",
            "filter_count",
            "get_journal",
            "search_text",
        ];
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        READS.iter().filter_map(|m| c.get(m)).sum()
    }

    /// Every call, by method.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Start counting from zero.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// A storage backend whose every call is counted in a [`StorageCalls`].
pub struct CountingStorage {
    inner: Box<dyn Storage>,
    calls: Arc<StorageCalls>,
}

impl CountingStorage {
    pub fn new(inner: Box<dyn Storage>, calls: Arc<StorageCalls>) -> CountingStorage {
        CountingStorage { inner, calls }
    }
}

impl Storage for CountingStorage {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    fn sync_schema(&mut self, schema: &Schema) -> Result<bool> {
        self.calls.hit("sync_schema");
        self.inner.sync_schema(schema)
    }
    fn new_id(&mut self, class: &str) -> Result<u64> {
        self.calls.hit("new_id");
        self.inner.new_id(class)
    }
    fn set_last_id(&mut self, class: &str, last_used: u64) -> Result<()> {
        self.calls.hit("set_last_id");
        self.inner.set_last_id(class, last_used)
    }
    fn add_node(&mut self, class: &ClassDef, id: &str, values: &NodeValues) -> Result<()> {
        self.calls.hit("add_node");
        self.inner.add_node(class, id, values)
    }
    fn set_node(
        &mut self,
        class: &ClassDef,
        id: &str,
        values: &NodeValues,
        multilinks: &HashMap<String, MultilinkChange>,
    ) -> Result<()> {
        self.calls.hit("set_node");
        self.inner.set_node(class, id, values, multilinks)
    }
    fn get_node(&mut self, class: &ClassDef, id: &str) -> Result<Option<StoredNode>> {
        self.calls.hit("get_node");
        self.inner.get_node(class, id)
    }
    fn get_nodes(
        &mut self,
        class: &ClassDef,
        ids: &[String],
    ) -> Result<HashMap<String, StoredNode>> {
        self.calls.hit("get_nodes");
        self.inner.get_nodes(class, ids)
    }
    fn get_node_columns(
        &mut self,
        class: &ClassDef,
        ids: &[String],
        props: &[&str],
    ) -> Result<HashMap<String, StoredNode>> {
        self.calls.hit("get_node_columns");
        self.inner.get_node_columns(class, ids, props)
    }
    fn has_node(&mut self, class: &str, id: &str) -> Result<bool> {
        self.calls.hit("has_node");
        self.inner.has_node(class, id)
    }
    fn set_retired(&mut self, class: &ClassDef, id: &str, retired: bool) -> Result<()> {
        self.calls.hit("set_retired");
        self.inner.set_retired(class, id, retired)
    }
    fn destroy_node(&mut self, class: &ClassDef, id: &str) -> Result<()> {
        self.calls.hit("destroy_node");
        self.inner.destroy_node(class, id)
    }
    fn node_ids(&mut self, class: &str, retired: Option<bool>) -> Result<Vec<String>> {
        self.calls.hit("node_ids");
        self.inner.node_ids(class, retired)
    }
    fn count(&mut self, class: &str) -> Result<u64> {
        self.calls.hit("count");
        self.inner.count(class)
    }
    fn lookup_key(&mut self, class: &ClassDef, key: &str) -> Result<Option<String>> {
        self.calls.hit("lookup_key");
        self.inner.lookup_key(class, key)
    }
    fn find_linking(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[String],
    ) -> Result<Vec<String>> {
        self.calls.hit("find_linking");
        self.inner.find_linking(class, prop, ids)
    }
    fn filter(&mut self, schema: &Schema, query: &Query) -> Result<Vec<String>> {
        self.calls.hit("filter");
        self.inner.filter(schema, query)
    }
    fn filter_order(&mut self, schema: &Schema, query: &Query) -> Result<Option<Vec<u32>>> {
        self.calls.hit("filter_order");
        self.inner.filter_order(schema, query)
    }
    fn filter_count(&mut self, schema: &Schema, query: &Query) -> Result<u64> {
        self.calls.hit("filter_count");
        self.inner.filter_count(schema, query)
    }
    fn add_journal(&mut self, class: &str, entry: &JournalEntry) -> Result<()> {
        self.calls.hit("add_journal");
        self.inner.add_journal(class, entry)
    }
    fn get_journal(&mut self, class: &str, id: &str) -> Result<Vec<JournalEntry>> {
        self.calls.hit("get_journal");
        self.inner.get_journal(class, id)
    }
    fn set_journal(&mut self, class: &str, id: &str, entries: &[JournalEntry]) -> Result<()> {
        self.calls.hit("set_journal");
        self.inner.set_journal(class, id, entries)
    }
    fn pack(&mut self, schema: &Schema, before: &Date) -> Result<()> {
        self.calls.hit("pack");
        self.inner.pack(schema, before)
    }
    fn index_text(&mut self, class: &str, id: &str, prop: &str, text: &str) -> Result<()> {
        self.calls.hit("index_text");
        self.inner.index_text(class, id, prop, text)
    }
    fn search_text(
        &mut self,
        words: &[String],
        classes: Option<&[String]>,
    ) -> Result<Vec<TextHit>> {
        self.calls.hit("search_text");
        self.inner.search_text(words, classes)
    }
    fn search_text_owners(&mut self, words: &[String], class: &str) -> Result<Option<IdSet>> {
        self.calls.hit("search_text_owners");
        self.inner.search_text_owners(words, class)
    }
    fn linking_pairs(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[u32],
    ) -> Result<Vec<(u32, u32)>> {
        self.calls.hit("linking_pairs");
        self.inner.linking_pairs(class, prop, ids)
    }
    fn set_bulk(&mut self, on: bool) -> Result<()> {
        self.calls.hit("set_bulk");
        self.inner.set_bulk(on)
    }
    fn savepoint(&mut self, name: &str) -> Result<()> {
        self.calls.hit("savepoint");
        self.inner.savepoint(name)
    }
    fn release_savepoint(&mut self, name: &str) -> Result<()> {
        self.calls.hit("release_savepoint");
        self.inner.release_savepoint(name)
    }
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        self.calls.hit("rollback_to_savepoint");
        self.inner.rollback_to_savepoint(name)
    }
    fn commit(&mut self) -> Result<()> {
        self.calls.hit("commit");
        self.inner.commit()
    }
    fn rollback(&mut self) -> Result<()> {
        self.calls.hit("rollback");
        self.inner.rollback()
    }
    fn data_version(&mut self) -> Result<Option<i64>> {
        self.calls.hit("data_version");
        self.inner.data_version()
    }
    fn changes_since(&mut self, after: Option<i64>) -> Result<crate::storage::Changes> {
        self.calls.hit("changes_since");
        self.inner.changes_since(after)
    }
    fn outbox_add(
        &mut self,
        envelope: &crate::mail::Envelope,
        queued: f64,
        next_try: f64,
    ) -> Result<i64> {
        self.calls.hit("outbox_add");
        self.inner.outbox_add(envelope, queued, next_try)
    }
    fn outbox_list(&mut self, due_at: Option<f64>) -> Result<Vec<crate::mail::OutboxEntry>> {
        self.calls.hit("outbox_list");
        self.inner.outbox_list(due_at)
    }
    fn outbox_claim(&mut self, id: i64, next_try: f64, until: f64) -> Result<bool> {
        self.calls.hit("outbox_claim");
        self.inner.outbox_claim(id, next_try, until)
    }
    fn outbox_remove(&mut self, id: i64) -> Result<()> {
        self.calls.hit("outbox_remove");
        self.inner.outbox_remove(id)
    }
    fn outbox_remove_many(&mut self, ids: &[i64]) -> Result<()> {
        self.calls.hit("outbox_remove_many");
        self.inner.outbox_remove_many(ids)
    }
    fn outbox_failed(&mut self, id: i64, error: &str, next_try: f64) -> Result<()> {
        self.calls.hit("outbox_failed");
        self.inner.outbox_failed(id, error, next_try)
    }
}
