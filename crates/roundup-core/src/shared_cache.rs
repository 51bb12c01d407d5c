//! A read cache shared by the connections of one process (the web
//! server's pool), so that the items and query results one request read
//! are there for the next.
//!
//! Correctness rests on one rule: **any commit anywhere empties it**.
//!
//! - A connection of this process that commits a write bumps the
//!   generation, which empties the cache ([`Db::commit`](crate::Db::commit)).
//! - Commits by other processes (roundup-admin, the mail gateway, another
//!   server) are noticed through the storage's change marker
//!   ([`Storage::data_version`](crate::storage::Storage::data_version),
//!   SQLite's `PRAGMA data_version`): every connection compares it with
//!   the value it saw last before it uses the cache for a request, and
//!   bumps the generation when it moved.
//! - A connection remembers the generation it started its request with
//!   and only stores into the cache while that is still the current one,
//!   so nothing it read before a bump lands in the cache after it.
//! - A connection that has written in its open transaction neither reads
//!   from nor stores into the cache (its view differs from everyone
//!   else's) until it commits or rolls back.
//!
//! Backends without a change marker never use the cache.

use std::sync::{Arc, Mutex};

use crate::storage::{StoredNode, TextHit};

/// At most this many items are kept; past it the cache starts over.
const MAX_NODES: usize = 100_000;
/// At most this many query results are kept.
const MAX_QUERIES: usize = 512;

/// A cached query result: matching ids, or a count.
#[derive(Clone, Debug)]
pub enum QueryResult {
    Ids(Arc<Vec<String>>),
    Count(u64),
    Hits(Arc<Vec<TextHit>>),
}

#[derive(Default)]
struct Inner {
    generation: u64,
    nodes: crate::FastHashMap<(String, String), Arc<StoredNode>>,
    queries: crate::FastHashMap<String, QueryResult>,
}

/// The shared cache; see the module documentation.
#[derive(Default)]
pub struct SharedCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedCache")
    }
}

impl SharedCache {
    pub fn new() -> Arc<SharedCache> {
        Arc::new(SharedCache::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps in a state
        // worse than "some entries missing": keep using them.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Forget everything and start a new generation.
    pub fn invalidate(&self) {
        let mut g = self.lock();
        g.generation += 1;
        g.nodes.clear();
        g.queries.clear();
    }

    /// An item, if cached in generation `generation`.
    pub fn node(&self, generation: u64, class: &str, id: &str) -> Option<Arc<StoredNode>> {
        let g = self.lock();
        if g.generation != generation {
            return None;
        }
        g.nodes.get(&(class.to_string(), id.to_string())).cloned()
    }

    /// Items of one class that are cached in `generation`.
    pub fn nodes(
        &self,
        generation: u64,
        class: &str,
        ids: &[String],
    ) -> Vec<(String, Arc<StoredNode>)> {
        let g = self.lock();
        if g.generation != generation {
            return Vec::new();
        }
        let mut key = (class.to_string(), String::new());
        ids.iter()
            .filter_map(|id| {
                key.1.clone_from(id);
                g.nodes.get(&key).map(|n| (id.clone(), n.clone()))
            })
            .collect()
    }

    /// Keep items read in `generation` (ignored if that has passed).
    pub fn put_nodes<'a>(
        &self,
        generation: u64,
        class: &str,
        nodes: impl IntoIterator<Item = (&'a String, &'a Arc<StoredNode>)>,
    ) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        for (id, n) in nodes {
            if g.nodes.len() >= MAX_NODES {
                g.nodes.clear();
            }
            g.nodes.insert((class.to_string(), id.clone()), n.clone());
        }
    }

    /// A query result cached in `generation` under `key`.
    pub fn query(&self, generation: u64, key: &str) -> Option<QueryResult> {
        let g = self.lock();
        if g.generation != generation {
            return None;
        }
        g.queries.get(key).cloned()
    }

    /// Keep a query result computed in `generation`.
    pub fn put_query(&self, generation: u64, key: String, result: QueryResult) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        if g.queries.len() >= MAX_QUERIES {
            g.queries.clear();
        }
        g.queries.insert(key, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Arc<StoredNode> {
        Arc::new(StoredNode {
            values: Default::default(),
            retired: false,
        })
    }

    #[test]
    fn stale_generations_neither_read_nor_write() {
        let c = SharedCache::new();
        let g0 = c.generation();
        let id = "1".to_string();
        c.put_nodes(g0, "issue", [(&id, &node())]);
        assert!(c.node(g0, "issue", "1").is_some());
        c.put_query(g0, "q".into(), QueryResult::Count(3));
        assert!(matches!(c.query(g0, "q"), Some(QueryResult::Count(3))));
        c.invalidate();
        let g1 = c.generation();
        assert_ne!(g0, g1);
        assert!(c.node(g1, "issue", "1").is_none());
        assert!(c.query(g1, "q").is_none());
        // a reader that started before the bump cannot store its old view
        c.put_nodes(g0, "issue", [(&id, &node())]);
        c.put_query(g0, "q".into(), QueryResult::Count(3));
        assert!(c.node(g1, "issue", "1").is_none());
        assert!(c.query(g1, "q").is_none());
        assert!(c.node(g0, "issue", "1").is_none());
    }
}
