//! A read cache shared by the connections of one process (the web
//! server's pool), so that the items and query results one request read
//! are there for the next.
//!
//! Correctness rests on one rule: **after any commit anywhere, nothing it
//! changed is served from the cache**.
//!
//! - What a commit changed comes from the backend's change log
//!   ([`Storage::changes_since`](crate::storage::Storage::changes_since);
//!   on SQLite, triggers of the database record every item written, by
//!   any process, Roundup 2.6 included). The changed items go, and so
//!   does every query result (any of them may list a changed item or
//!   leave one out); every other item stays. A whole order stays when
//!   the commit changed only items of its own class (it is marked with
//!   them and repaired before it serves again) or classes its query does
//!   not read; otherwise it goes too. When the log cannot
//!   say (no log, a log cut short, triggers missing, a first look), the
//!   whole cache goes ([`SharedCache::apply`]).
//! - A connection of this process that commits a write brings the cache
//!   up to date with its commit at once ([`Db::commit`](crate::Db::commit)).
//! - Commits by other processes (roundup-admin, the mail gateway, another
//!   server) are noticed through the storage's change marker
//!   ([`Storage::data_version`](crate::storage::Storage::data_version),
//!   SQLite's `PRAGMA data_version`): every connection compares it with
//!   the value it saw last before it uses the cache for a request, and
//!   reads the change log when it moved.
//! - Every drop starts a new generation. A connection remembers the
//!   generation it started its request with and only stores into the
//!   cache while that is still the current one, so nothing it read before
//!   a change lands in the cache after it.
//! - A connection that has written in its open transaction neither reads
//!   from nor stores into the cache (its view differs from everyone
//!   else's) until it commits or rolls back.
//!
//! Backends without a change marker never use the cache.
//!
//! It holds at most a byte budget (`[main] shared_cache_size`, see
//! [`crate::clock_cache`] for how sizes are counted); past it the least
//! recently used entries are evicted. Ids are kept as integers.
//!
//! Whole sort orders of index pages (every id of a query in its order, so
//! that any `@startwith` page is a slice of it) have a budget of their own
//! (`[main] order_cache_size`): at a million issues one order takes 4 MB,
//! more than the items and query results of many pages, and with the two
//! in one budget each would push out the other.

use std::sync::{Arc, Mutex};

use crate::clock_cache::{node_size, str_size, CacheStats, ClockCache};
use crate::filter::IdSet;
use crate::storage::{Changes, StoredNode, TextHit};

/// The budget when the configuration gives none (`[main]
/// shared_cache_size`): enough for the items and query results of the
/// pages a busy tracker serves between two commits.
pub const DEFAULT_BUDGET: usize = 4 << 20;

/// The budget for whole sort orders when the configuration gives none
/// (`[main] order_cache_size`): the orders of the six or so sorts people
/// page through on a tracker of a million items (4 MB each).
pub const DEFAULT_ORDER_BUDGET: usize = 32 << 20;

/// A cached query result: matching ids, or a count.
#[derive(Clone, Debug)]
pub enum QueryResult {
    Ids(Arc<Vec<String>>),
    /// Ids as numbers (full-text matches): kept as they are, shared.
    IdSet(Arc<IdSet>),
    Count(u64),
    Hits(Arc<Vec<TextHit>>),
}

/// A query result as kept: ids as integers where they are plain numbers
/// (they always are for items), full-text hits with their class and
/// property names stored once.
enum Stored {
    Ids(Box<[u32]>),
    Strings(Arc<Vec<String>>),
    IdSet(Arc<IdSet>),
    Count(u64),
    Hits {
        names: Box<[Box<str>]>,
        /// (class name, property name) indexes into `names`, and the id.
        hits: Box<[(u16, u16, u32)]>,
    },
    RawHits(Arc<Vec<TextHit>>),
}

/// What a kept order costs beyond its ids: its slice's allocation and the
/// key's.
const ORDER_OVERHEAD: usize = 64;

/// How many changed items a kept order may fall behind by before it is
/// dropped rather than repaired: a repair places each changed item with a
/// few small queries, a fetch walks every item, so a longer order is
/// worth repairing for more changes.
fn max_stale(len: usize) -> usize {
    (len / 1000).clamp(16, 1024)
}

/// An item a commit changed: its class's number and its id (`None`: any
/// item of the class).
type ItemChange = (u16, Option<u32>);

/// How many commits' changes the cache remembers for orders fetched
/// while they came in (a fetch of a million ids takes about a second).
const HISTORY: usize = 32;

/// A whole order as kept.
struct KeptOrder {
    ids: Arc<[u32]>,
    /// The classes the order's query reads (its own class first), by
    /// their numbers in `Inner::classes`; `None`: unknown (the order goes
    /// with any change).
    reads: Option<Box<[u16]>>,
    /// Items of its own class changed since the order was right,
    /// ascending and distinct; empty: the order is the current one.
    stale: Vec<u32>,
}

impl KeptOrder {
    /// Whether the order survives a commit that changed `changed` (class
    /// number, id; `None`: any item of the class): it does when the
    /// commit changed only items of its own class (noted as stale, for a
    /// repair) or classes it does not read, and it has not fallen too far
    /// behind.
    fn survives(&mut self, changed: &[ItemChange]) -> bool {
        let Some(reads) = &self.reads else {
            return false;
        };
        for &(c, id) in changed {
            if !reads.contains(&c) {
                continue;
            }
            match id {
                Some(n) if c == reads[0] => self.stale.push(n),
                _ => return false,
            }
        }
        self.stale.sort_unstable();
        self.stale.dedup();
        self.stale.len() <= max_stale(self.ids.len())
    }
}

/// A kept order behind by some commits: its ids as they were, and the
/// items of its class changed since (ascending); see
/// [`SharedCache::stale_order`].
#[derive(Clone, Debug)]
pub struct StaleOrder {
    pub ids: Arc<[u32]>,
    pub changed: Vec<u32>,
}

/// An item id as a number, when writing the number back gives the same
/// text (so nothing is lost by keeping it as one).
pub fn compact_id(id: &str) -> Option<u32> {
    let n: u32 = id.parse().ok()?;
    (id.len() == 1 || !id.starts_with('0')).then_some(n)
}

/// Item ids as numbers, when every one is a [`compact_id`].
pub fn numeric_ids(ids: &[String]) -> Option<Vec<u32>> {
    ids.iter().map(|i| compact_id(i)).collect()
}

fn strings_size(v: &[String]) -> usize {
    std::mem::size_of_val(v) + v.iter().map(|s| str_size(s)).sum::<usize>()
}

impl Stored {
    fn from_result(r: QueryResult) -> Stored {
        match r {
            QueryResult::Count(n) => Stored::Count(n),
            QueryResult::IdSet(ids) => Stored::IdSet(ids),
            QueryResult::Ids(ids) => match numeric_ids(&ids) {
                Some(v) => Stored::Ids(v.into_boxed_slice()),
                None => Stored::Strings(ids),
            },
            QueryResult::Hits(hits) => {
                let mut names: Vec<Box<str>> = Vec::new();
                let mut name = |s: &str| -> Option<u16> {
                    if let Some(i) = names.iter().position(|n| &**n == s) {
                        return u16::try_from(i).ok();
                    }
                    names.push(s.into());
                    u16::try_from(names.len() - 1).ok()
                };
                let compact: Option<Box<[(u16, u16, u32)]>> = hits
                    .iter()
                    .map(|h| Some((name(&h.class)?, name(&h.prop)?, compact_id(&h.id)?)))
                    .collect();
                match compact {
                    Some(hits) => Stored::Hits {
                        names: names.into_boxed_slice(),
                        hits,
                    },
                    None => Stored::RawHits(hits),
                }
            }
        }
    }

    fn to_result(&self) -> QueryResult {
        match self {
            Stored::Count(n) => QueryResult::Count(*n),
            Stored::Ids(v) => QueryResult::Ids(Arc::new(v.iter().map(u32::to_string).collect())),
            Stored::Strings(v) => QueryResult::Ids(v.clone()),
            Stored::IdSet(v) => QueryResult::IdSet(v.clone()),
            Stored::Hits { names, hits } => QueryResult::Hits(Arc::new(
                hits.iter()
                    .map(|(c, p, id)| TextHit {
                        class: names[usize::from(*c)].to_string(),
                        id: id.to_string(),
                        prop: names[usize::from(*p)].to_string(),
                    })
                    .collect(),
            )),
            Stored::RawHits(h) => QueryResult::Hits(h.clone()),
        }
    }

    /// The heap it holds.
    fn size(&self) -> usize {
        match self {
            Stored::Count(_) => 0,
            Stored::Ids(v) => v.len() * 4 + 16,
            Stored::Strings(v) => strings_size(v) + 32,
            Stored::IdSet(v) => v.len() * 4 + 32,
            Stored::Hits { names, hits } => {
                hits.len() * std::mem::size_of::<(u16, u16, u32)>()
                    + names.iter().map(|n| str_size(n) + 16).sum::<usize>()
                    + 32
            }
            Stored::RawHits(h) => {
                h.len() * std::mem::size_of::<TextHit>()
                    + h.iter()
                        .map(|t| str_size(&t.class) + str_size(&t.id) + str_size(&t.prop))
                        .sum::<usize>()
                    + 32
            }
        }
    }
}

/// What an entry is: an item (class by its number in `Inner::classes`,
/// id as a number) or a query result by its key.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Node(u16, u32),
    Query(Arc<str>),
}

enum Entry {
    Node(Arc<StoredNode>),
    Query(Stored),
}

struct Inner {
    generation: u64,
    /// Class names seen, so that an item's key is two integers.
    classes: Vec<Box<str>>,
    entries: ClockCache<Key, Entry>,
    /// Whole orders by query key, ids as integers (their own budget).
    orders: ClockCache<Arc<str>, KeptOrder>,
    /// How many times a commit emptied the cache.
    invalidations: u64,
    /// How many times a commit dropped only the items it changed.
    partial: u64,
    /// How many kept orders were repaired after commits.
    repairs: u64,
    /// What the last commits changed, by the generation they started
    /// (oldest first, at most [`HISTORY`]): an order fetched in an
    /// earlier generation is kept marked with what changed since.
    history: std::collections::VecDeque<(u64, Box<[ItemChange]>)>,
    /// The position in the backend's change log this cache is up to date
    /// with (`None`: unknown; the next change empties the cache).
    log_position: Option<i64>,
}

impl Inner {
    fn class_no(&self, class: &str) -> Option<u16> {
        self.classes
            .iter()
            .position(|c| &**c == class)
            .and_then(|i| u16::try_from(i).ok())
    }

    fn class_no_or_add(&mut self, class: &str) -> Option<u16> {
        if let Some(n) = self.class_no(class) {
            return Some(n);
        }
        let n = u16::try_from(self.classes.len()).ok()?;
        self.classes.push(class.into());
        Some(n)
    }

    fn node(&mut self, class: Option<u16>, id: &str) -> Option<Arc<StoredNode>> {
        let key = Key::Node(class?, compact_id(id)?);
        match self.entries.get(&key) {
            Some(Entry::Node(n)) => Some(n.clone()),
            _ => None,
        }
    }
}

/// The shared cache; see the module documentation.
pub struct SharedCache {
    inner: Mutex<Inner>,
    /// Held while a connection fetches a whole order (see
    /// [`SharedCache::order_turn`]).
    ordering: Mutex<()>,
}

impl Default for SharedCache {
    fn default() -> Self {
        SharedCache::with_budget(DEFAULT_BUDGET)
    }
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedCache")
    }
}

/// The shared cache's figures: its entries' counters and how often it
/// was emptied by a commit.
#[derive(Clone, Copy, Debug, Default)]
pub struct SharedStats {
    pub cache: CacheStats,
    /// The whole sort orders' part.
    pub orders: CacheStats,
    pub invalidations: u64,
    /// Commits after which only the items they changed were dropped.
    pub partial_invalidations: u64,
    /// Whole orders repaired after commits instead of fetched again.
    pub order_repairs: u64,
    pub generation: u64,
}

impl SharedCache {
    /// A cache with the default budget.
    pub fn new() -> Arc<SharedCache> {
        Arc::new(SharedCache::default())
    }

    /// A cache holding at most about `bytes` of items and query results
    /// (one result may take up to half of it), and the default budget of
    /// whole orders.
    pub fn with_budget(bytes: usize) -> SharedCache {
        SharedCache::with_budgets(bytes, DEFAULT_ORDER_BUDGET)
    }

    /// A cache holding at most about `bytes` of items and query results
    /// and `order_bytes` of whole orders (one of either may take up to
    /// half of its budget).
    pub fn with_budgets(bytes: usize, order_bytes: usize) -> SharedCache {
        SharedCache {
            inner: Mutex::new(Inner {
                generation: 0,
                classes: Vec::new(),
                entries: ClockCache::new(bytes).with_max_entry(bytes / 2),
                orders: ClockCache::new(order_bytes).with_max_entry(order_bytes / 2),
                invalidations: 0,
                partial: 0,
                repairs: 0,
                history: Default::default(),
                log_position: None,
            }),
            ordering: Mutex::new(()),
        }
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

    /// Sizes and hit counts.
    pub fn stats(&self) -> SharedStats {
        let g = self.lock();
        SharedStats {
            cache: g.entries.stats(),
            orders: g.orders.stats(),
            invalidations: g.invalidations,
            partial_invalidations: g.partial,
            order_repairs: g.repairs,
            generation: g.generation,
        }
    }

    /// Forget everything and start a new generation.
    pub fn invalidate(&self) {
        let mut g = self.lock();
        Self::empty(&mut g);
        g.log_position = None;
    }

    fn empty(g: &mut Inner) {
        g.history.clear();
        g.generation += 1;
        g.invalidations += 1;
        g.entries.clear();
        g.orders.clear();
    }

    /// The position in the backend's change log the cache is up to date
    /// with, to ask [`Storage::changes_since`](crate::storage::Storage::changes_since)
    /// from.
    pub fn log_position(&self) -> Option<i64> {
        self.lock().log_position
    }

    /// Bring the cache up to date with what commits changed:
    /// - everything may have changed: empty it;
    /// - only some items: drop those items and every query result (any of
    ///   them may list a changed item, or leave one out), mark the whole
    ///   orders of their class with them for a repair (orders that read a
    ///   changed class otherwise, or fell too far behind, are dropped),
    ///   and start a new generation so that nothing read before the
    ///   change is stored after it; every other item stays;
    /// - nothing the cache holds (a commit that touched no item, such as
    ///   a login's session): keep everything, generation included.
    ///
    /// Changes already applied (by another connection that looked first)
    /// are harmless: dropping is idempotent and the position only moves
    /// forward.
    pub fn apply(&self, changes: &Changes) {
        let mut g = self.lock();
        match changes {
            Changes::Everything { upto } => {
                Self::empty(&mut g);
                g.log_position = *upto;
            }
            Changes::Items { upto, items } => {
                if g.log_position.is_none() {
                    // Entries of unknown age: the changes do not tell
                    // what they missed.
                    Self::empty(&mut g);
                    g.log_position = Some(*upto);
                    return;
                }
                if items.is_empty() {
                    g.log_position = g.log_position.max(Some(*upto));
                    return;
                }
                g.generation += 1;
                g.partial += 1;
                let mut whole_classes: Vec<u16> = Vec::new();
                let mut nodes: std::collections::HashSet<(u16, u32)> = Default::default();
                // for the orders: an id that is no plain number counts as
                // a change to the whole class
                let mut changed: Vec<ItemChange> = Vec::new();
                for (class, id) in items {
                    // numbered even when nothing of the class is kept yet:
                    // the history must name it for an order being fetched
                    // now that reads it
                    let Some(c) = g.class_no_or_add(class) else {
                        continue;
                    };
                    match id.as_deref().map(compact_id) {
                        None => {
                            whole_classes.push(c);
                            changed.push((c, None));
                        }
                        Some(Some(n)) => {
                            nodes.insert((c, n));
                            changed.push((c, Some(n)));
                        }
                        // an id that is no plain number is never kept
                        Some(None) => changed.push((c, None)),
                    }
                }
                g.orders.retain_mut(|_, o| o.survives(&changed));
                if g.history.len() == HISTORY {
                    g.history.pop_front();
                }
                let gen = g.generation;
                g.history.push_back((gen, changed.into()));
                g.entries.retain(|k, _| match k {
                    Key::Query(_) => false,
                    Key::Node(c, n) => !whole_classes.contains(c) && !nodes.contains(&(*c, *n)),
                });
                g.log_position = g.log_position.max(Some(*upto));
            }
        }
    }

    /// An item, if cached in generation `generation`.
    pub fn node(&self, generation: u64, class: &str, id: &str) -> Option<Arc<StoredNode>> {
        let mut g = self.lock();
        if g.generation != generation {
            return None;
        }
        let c = g.class_no(class);
        let found = g.node(c, id);
        if found.is_none() && c.is_none() {
            g.entries.count_miss();
        }
        found
    }

    /// Items of one class that are cached in `generation`.
    pub fn nodes(
        &self,
        generation: u64,
        class: &str,
        ids: &[String],
    ) -> Vec<(String, Arc<StoredNode>)> {
        let mut g = self.lock();
        if g.generation != generation {
            return Vec::new();
        }
        let c = g.class_no(class);
        ids.iter()
            .filter_map(|id| g.node(c, id).map(|n| (id.clone(), n)))
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
        let Some(c) = g.class_no_or_add(class) else {
            return;
        };
        for (id, n) in nodes {
            if let Some(id) = compact_id(id) {
                let size = node_size(n);
                g.entries
                    .insert(Key::Node(c, id), Entry::Node(n.clone()), size);
            }
        }
    }

    /// A query result cached in `generation` under `key`.
    pub fn query(&self, generation: u64, key: &str) -> Option<QueryResult> {
        let mut g = self.lock();
        if g.generation != generation {
            return None;
        }
        match g.entries.get(&Key::Query(key.into())) {
            Some(Entry::Query(s)) => Some(s.to_result()),
            _ => None,
        }
    }

    /// `len` ids from `offset` of a whole order cached in `generation`
    /// under `key` (fewer past its end): a page of it, without turning the
    /// whole list back into text.
    pub fn order_slice(
        &self,
        generation: u64,
        key: &str,
        offset: usize,
        len: usize,
    ) -> Option<Vec<String>> {
        let mut g = self.lock();
        if g.generation != generation {
            return None;
        }
        let v = &g.orders.get(key).filter(|o| o.stale.is_empty())?.ids;
        let a = offset.min(v.len());
        let b = offset.saturating_add(len).min(v.len());
        Some(v[a..b].iter().map(u32::to_string).collect())
    }

    /// A page of a kept whole order restricted to the ids of `keep` (a
    /// full-text search's matches): the order is walked from its start,
    /// at most `max_walk` entries (the lock is held meanwhile). `None`
    /// when the order is not kept (or not of this generation) or the walk
    /// would go further.
    pub fn order_matches(
        &self,
        generation: u64,
        key: &str,
        keep: &IdSet,
        (offset, len): (usize, usize),
        max_walk: usize,
    ) -> Option<Vec<String>> {
        let mut g = self.lock();
        if g.generation != generation {
            return None;
        }
        let order = &g.orders.get(key).filter(|o| o.stale.is_empty())?.ids;
        let need = offset.saturating_add(len);
        let mut found = Vec::with_capacity(len.min(1024));
        let mut matched = 0usize;
        for (walked, &id) in order.iter().enumerate() {
            if matched == need {
                break;
            }
            if walked == max_walk {
                return None;
            }
            if keep.contains(id) {
                if matched >= offset {
                    found.push(id.to_string());
                }
                matched += 1;
            }
        }
        Some(found)
    }

    /// The right to fetch a whole order now, if no other connection is
    /// fetching one. At a million items one fetch sorts a million rows and
    /// holds them all for about a second: four connections asking for the
    /// first pages of new sorts at once took a server from 70 MB to 451 MB
    /// resident. A connection that does not get its turn reads its page
    /// from the database as if no order were kept.
    pub fn order_turn(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        match self.ordering.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Whether a whole order is kept under `key`: its length, and whether
    /// it is the current one (false: it awaits a repair, and its length
    /// may be off by the items changed since).
    pub fn kept_order(&self, generation: u64, key: &str) -> Option<(usize, bool)> {
        self.peek_order(generation, key, |o| (o.ids.len(), o.stale.is_empty()))
    }

    /// `f` of the order kept under `key` in `generation` (not counted as
    /// a use).
    fn peek_order<R>(
        &self,
        generation: u64,
        key: &str,
        f: impl FnOnce(&KeptOrder) -> R,
    ) -> Option<R> {
        let g = self.lock();
        if g.generation != generation {
            return None;
        }
        g.orders.peek(key).map(f)
    }

    /// The order under `key` when it is kept but behind by some commits
    /// (see [`SharedCache::apply`]): what a repair starts from.
    pub fn stale_order(&self, generation: u64, key: &str) -> Option<StaleOrder> {
        self.peek_order(generation, key, |o| {
            (!o.stale.is_empty()).then(|| StaleOrder {
                ids: o.ids.clone(),
                changed: o.stale.clone(),
            })
        })
        .flatten()
    }

    /// Replace a stale order with its repair, made in `generation` from
    /// what [`SharedCache::stale_order`] gave in it: false (nothing kept)
    /// when a commit came in between or the order was dropped meanwhile.
    pub fn put_repaired(&self, generation: u64, key: &str, ids: Vec<u32>) -> bool {
        let size = Self::order_size(ids.len(), key);
        let mut g = self.lock();
        if g.generation != generation {
            return false;
        }
        let Some(reads) = g.orders.peek(key).map(|o| o.reads.clone()) else {
            return false;
        };
        let order = KeptOrder {
            ids: ids.into(),
            reads,
            stale: Vec::new(),
        };
        let kept = g.orders.insert(key.into(), order, size);
        g.repairs += u64::from(kept);
        kept
    }

    /// What keeping a whole order of `len` ids under `key` is charged: its
    /// ids, and room for the changed items it may fall behind by.
    fn order_size(len: usize, key: &str) -> usize {
        len.saturating_add(max_stale(len))
            .saturating_mul(std::mem::size_of::<u32>())
            .saturating_add(ORDER_OVERHEAD + 2 * str_size(key))
    }

    /// Whether a whole order of `len` ids under `key` would be kept: the
    /// one rule [`SharedCache::put_order`] stores by, asked before the
    /// order is fetched so that no order is fetched only to be refused.
    pub fn fits_order(&self, len: usize, key: &str) -> bool {
        Self::order_size(len, key) + ClockCache::<Arc<str>, KeptOrder>::ENTRY_OVERHEAD
            <= self.lock().orders.max_entry()
    }

    /// Keep the whole order of the query under `key`, computed in
    /// `generation` (ids as numbers: [`Storage::filter_order`]). `reads`
    /// names the classes the query reads, its own first (`None`: not
    /// known); a commit that changes items of its own class only leaves
    /// the order to be repaired ([`SharedCache::stale_order`]), one that
    /// changes another class it reads drops it. An order fetched while
    /// commits came in (a later generation now) is kept marked with what
    /// they changed, as if it had been kept before them. Refused (false)
    /// when the order does not fit ([`SharedCache::fits_order`]), or
    /// commits came in that the cache no longer remembers, emptied it, or
    /// changed another class the order reads.
    ///
    /// [`Storage::filter_order`]: crate::storage::Storage::filter_order
    pub fn put_order(
        &self,
        generation: u64,
        key: &str,
        compact: Box<[u32]>,
        reads: Option<&[&str]>,
    ) -> bool {
        let size = Self::order_size(compact.len(), key);
        let mut g = self.lock();
        let reads = match reads {
            Some(names) => names
                .iter()
                .map(|c| g.class_no_or_add(c))
                .collect::<Option<Box<[u16]>>>(),
            None => None,
        };
        let mut order = KeptOrder {
            ids: compact.into(),
            reads,
            stale: Vec::new(),
        };
        if g.generation != generation {
            // Commits came in while the order was fetched: it is kept
            // marked with what they changed (its one statement saw the
            // database as of some moment since `generation`, so items
            // changed before that moment are placed again harmlessly),
            // when the cache remembers all of them and the order survives
            // them.
            let since = g.history.iter().position(|(gen, _)| *gen == generation + 1);
            let Some(first) = since else {
                return false;
            };
            if g.history.back().map(|(gen, _)| *gen) != Some(g.generation) {
                return false;
            }
            let changes: Vec<ItemChange> = g
                .history
                .iter()
                .skip(first)
                .flat_map(|(_, c)| c.iter().copied())
                .collect();
            if !order.survives(&changes) {
                return false;
            }
        }
        g.orders.insert(key.into(), order, size)
    }

    /// Keep a query result computed in `generation`.
    pub fn put_query(&self, generation: u64, key: String, result: QueryResult) {
        // Made outside the lock: turning ids into integers is the costly part.
        let stored = Stored::from_result(result);
        let size = stored.size() + 2 * str_size(&key);
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        g.entries
            .insert(Key::Query(key.into()), Entry::Query(stored), size);
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

    #[test]
    fn one_whole_order_is_fetched_at_a_time_and_kept_within_its_budget() {
        let c = SharedCache::with_budgets(1 << 20, 4096);
        let turn = c.order_turn();
        assert!(turn.is_some());
        assert!(c.order_turn().is_none(), "a second fetch at the same time");
        drop(turn);
        assert!(c.order_turn().is_some());
        let g = c.generation();
        let ids: Box<[u32]> = (1..=100).rev().collect();
        assert!(c.put_order(g, "k", ids.clone(), None));
        assert_eq!(
            c.order_slice(g, "k", 98, 50),
            Some(vec!["2".to_string(), "1".to_string()])
        );
        // past half the budget: refused, and the page is left to the caller
        let long: Box<[u32]> = (1..=1000).collect();
        assert!(!c.fits_order(long.len(), "long"));
        assert!(!c.put_order(g, "long", long, None));
        // the rule asked before fetching is the rule the order is stored by,
        // up to the last id: an order that fits is kept, one id more is not
        let fit = (1..4096)
            .take_while(|&n| c.fits_order(n, "edge"))
            .last()
            .unwrap();
        let edge: Box<[u32]> = (1..=fit as u32).collect();
        assert!(
            c.put_order(g, "edge", edge, None),
            "an order that fits ({fit} ids) is kept"
        );
        let over: Box<[u32]> = (1..=fit as u32 + 1).collect();
        assert!(!c.fits_order(over.len(), "edge"));
        assert!(!c.put_order(g, "edge", over, None));
        // a longer key leaves room for fewer ids
        let long_key = "k".repeat(200);
        assert!(!c.fits_order(fit, &long_key));
        assert!(c.order_slice(g, "long", 0, 10).is_none());
        // a commit forgets the orders
        c.invalidate();
        assert!(c.order_slice(c.generation(), "k", 0, 10).is_none());
        assert!(
            !c.put_order(g, "k", ids, None),
            "stored in a passed generation"
        );
    }

    /// An order fetched while commits came in is kept marked with what
    /// they changed (for a repair), unless one of them changed another
    /// class it reads, the cache no longer remembers them all, or it was
    /// emptied meanwhile.
    #[test]
    fn orders_fetched_across_commits_are_kept_marked_with_their_changes() {
        let c = SharedCache::new();
        let items = |upto: i64, list: &[(&str, &str)]| Changes::Items {
            upto,
            items: list
                .iter()
                .map(|(c, i)| (c.to_string(), Some(i.to_string())))
                .collect(),
        };
        c.apply(&Changes::Everything { upto: Some(0) });
        let g0 = c.generation();
        let ids = || -> Box<[u32]> { (1..=100).collect() };
        let reads = Some(&["issue", "status"][..]);
        assert!(c.put_order(g0, "k", ids(), reads));
        assert_eq!(c.kept_order(g0, "k"), Some((100, true)));
        // fetched in g0, two commits (issues 5, then 7 and 5) in between
        c.apply(&items(1, &[("issue", "5")]));
        c.apply(&items(2, &[("issue", "7"), ("issue", "5")]));
        let g2 = c.generation();
        assert_eq!(g2, g0 + 2);
        assert!(c.put_order(g0, "late", ids(), reads));
        let stale = c.stale_order(g2, "late").expect("kept, marked");
        assert_eq!(stale.changed, vec![5, 7]);
        assert_eq!(c.stale_order(g2, "k").map(|s| s.changed), Some(vec![5, 7]));
        assert!(
            c.order_slice(g2, "late", 0, 10).is_none(),
            "served unrepaired"
        );
        // a change to a class the order reads: refused
        c.apply(&items(3, &[("status", "1")]));
        assert!(!c.put_order(g2, "other", ids(), reads));
        assert!(
            c.kept_order(c.generation(), "k").is_none(),
            "dropped by the status change"
        );
        // a change to a class nothing was ever kept of, which the order
        // reads: refused as well
        let g = c.generation();
        c.apply(&items(4, &[("keyword", "2")]));
        assert!(!c.put_order(g, "kw", ids(), Some(&["issue", "keyword"][..])));
        // a class it does not read: kept, and not marked by it
        let g3 = c.generation();
        c.apply(&items(5, &[("user", "1")]));
        assert!(c.put_order(g3, "users", ids(), reads));
        assert_eq!(c.kept_order(g3 + 1, "users"), Some((100, true)));
        // more commits than remembered
        let g4 = c.generation();
        for n in 0..=HISTORY as i64 {
            c.apply(&items(6 + n, &[("issue", "9")]));
        }
        assert!(!c.put_order(g4, "old", ids(), reads));
        // emptied meanwhile
        let g5 = c.generation();
        c.apply(&Changes::Everything { upto: Some(99) });
        assert!(!c.put_order(g5, "gone", ids(), reads));
        // a repair made in an older generation is refused
        let g6 = c.generation();
        assert!(c.put_order(g6, "r", ids(), reads));
        c.apply(&items(100, &[("issue", "3")]));
        assert!(!c.put_repaired(g6, "r", (1..=99).collect()));
        assert!(c.put_repaired(c.generation(), "r", (1..=99).collect()));
        assert_eq!(c.kept_order(c.generation(), "r"), Some((99, true)));
        assert_eq!(c.stats().order_repairs, 1);
    }

    fn big_node(n: usize) -> Arc<StoredNode> {
        let mut values = crate::storage::NodeValues::default();
        values.insert("title".into(), Some(crate::Value::String("x".repeat(n))));
        Arc::new(StoredNode {
            values,
            retired: false,
        })
    }

    #[test]
    fn items_past_the_budget_are_evicted_not_kept() {
        let budget = 256 << 10;
        let c = SharedCache::with_budget(budget);
        let g = c.generation();
        for i in 1..=5000u32 {
            let id = i.to_string();
            c.put_nodes(g, "issue", [(&id, &big_node(200))]);
            let s = c.stats().cache;
            assert!(
                s.bytes <= budget,
                "{} bytes over a budget of {budget}",
                s.bytes
            );
        }
        let s = c.stats().cache;
        assert!(s.evictions > 4000, "{s:?}");
        assert!(s.entries < 1000 && s.entries > 100, "{s:?}");
        // the newest is there, the oldest gone
        assert!(c.node(g, "issue", "5000").is_some());
        assert!(c.node(g, "issue", "1").is_none());
        let s = c.stats().cache;
        assert_eq!((s.hits, s.misses), (1, 1));
    }

    #[test]
    fn query_results_are_bounded_and_ids_compact() {
        let budget = 1 << 20;
        let c = SharedCache::with_budget(budget);
        let g = c.generation();
        let ids: Arc<Vec<String>> = Arc::new((1..=20_000).map(|i| i.to_string()).collect());
        for q in 0..100 {
            c.put_query(g, format!("q{q}"), QueryResult::Ids(ids.clone()));
            assert!(c.stats().cache.bytes <= budget);
        }
        // 20,000 ids as integers take about 80 kB: a dozen fit in 1 MiB
        // (as strings they would take over 900 kB each: one would).
        let s = c.stats().cache;
        assert!(s.entries >= 10, "{s:?}");
        match c.query(g, "q99") {
            Some(QueryResult::Ids(back)) => assert_eq!(back, ids),
            other => panic!("{other:?}"),
        }
        // ids that are not plain numbers are kept as they are
        let odd = Arc::new(vec!["007".to_string(), "x".to_string()]);
        c.put_query(g, "odd".into(), QueryResult::Ids(odd.clone()));
        match c.query(g, "odd") {
            Some(QueryResult::Ids(back)) => assert_eq!(back, odd),
            other => panic!("{other:?}"),
        }
        let hits = Arc::new(vec![
            TextHit {
                class: "msg".into(),
                id: "12".into(),
                prop: "content".into(),
            },
            TextHit {
                class: "issue".into(),
                id: "3".into(),
                prop: "title".into(),
            },
        ]);
        c.put_query(g, "text".into(), QueryResult::Hits(hits.clone()));
        match c.query(g, "text") {
            Some(QueryResult::Hits(back)) => assert_eq!(back, hits),
            other => panic!("{other:?}"),
        }
        // one result larger than half the budget is not kept
        let huge: Arc<Vec<String>> = Arc::new((1..=200_000).map(|i| i.to_string()).collect());
        c.put_query(g, "huge".into(), QueryResult::Ids(huge));
        assert!(c.query(g, "huge").is_none());
        assert!(c.stats().cache.refused >= 1);
    }
}
