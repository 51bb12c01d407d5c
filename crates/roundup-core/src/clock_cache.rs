//! A map bounded by bytes, evicting with the CLOCK algorithm (a cheap
//! approximation of least-recently-used): every entry has a "used" bit set
//! when it is read; when an insertion would pass the budget, the hand
//! walks the entries in insertion order, giving each used entry a second
//! chance (clearing its bit and moving it to the back) and evicting the
//! first unused one, until the new entry fits.
//!
//! Sizes are the caller's estimate of the heap an entry holds (see
//! [`node_size`] and [`str_size`]) plus a fixed overhead per entry for the
//! map's bucket and the clock's ring slot, so the accounted size follows
//! what the process really keeps. Every cache of a server (the shared
//! read cache, the page cache, a connection's item cache) is one of these.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::Hash;

use crate::storage::StoredNode;
use crate::value::Value;

/// What an allocation costs beyond its requested size (allocator header
/// and rounding), on average.
const ALLOC_OVERHEAD: usize = 16;

/// The heap a string holds.
pub fn str_size(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.len() + ALLOC_OVERHEAD
    }
}

/// The heap a value holds beyond its own inline size.
pub fn value_heap(v: &Value) -> usize {
    match v {
        Value::String(s) | Value::Link(s) => str_size(s),
        Value::Multilink(ids) => {
            ids.capacity() * std::mem::size_of::<String>()
                + ALLOC_OVERHEAD
                + ids.iter().map(|s| str_size(s)).sum::<usize>()
        }
        Value::Password(p) => str_size(p.as_str()),
        _ => 0,
    }
}

/// Approximately the bytes a loaded item holds: its map's buckets and
/// every key and value in it.
pub fn node_size(n: &StoredNode) -> usize {
    let bucket = std::mem::size_of::<(String, Option<Value>)>() + 1;
    std::mem::size_of::<StoredNode>()
        + ALLOC_OVERHEAD * 2
        + n.values.capacity() * bucket
        + n.values
            .iter()
            .map(|(k, v)| str_size(k) + v.as_ref().map(value_heap).unwrap_or(0))
            .sum::<usize>()
}

struct Slot<V> {
    value: V,
    size: usize,
    used: bool,
    /// Which ring entry is this slot's (older ring entries for the same
    /// key, left by a removal and re-insertion, are stale).
    stamp: u64,
}

/// Counters of a cache since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Accounted bytes held now.
    pub bytes: usize,
    /// The budget.
    pub budget: usize,
    /// Entries held now.
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
    /// Entries evicted to make room (not counting emptying on a commit).
    pub evictions: u64,
    /// Entries refused because one alone is larger than allowed.
    pub refused: u64,
}

impl CacheStats {
    /// Hits per look-up, 0 when there were none.
    pub fn hit_rate(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }

    /// Add another cache's counters (for a total over several).
    pub fn add(&mut self, o: &CacheStats) {
        self.bytes += o.bytes;
        self.budget += o.budget;
        self.entries += o.entries;
        self.hits += o.hits;
        self.misses += o.misses;
        self.evictions += o.evictions;
        self.refused += o.refused;
    }
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} entries, {} of {} KiB, hit rate {:.1}% ({} hits, {} misses), {} evicted",
            self.entries,
            self.bytes.div_ceil(1024),
            self.budget / 1024,
            self.hit_rate() * 100.0,
            self.hits,
            self.misses,
            self.evictions
        )
    }
}

/// A map bounded by bytes; see the module documentation.
pub struct ClockCache<K, V> {
    map: crate::FastHashMap<K, Slot<V>>,
    ring: VecDeque<(K, u64)>,
    next_stamp: u64,
    bytes: usize,
    budget: usize,
    /// The largest single entry accepted (a fraction of the budget, so
    /// that one huge entry cannot push out everything else).
    max_entry: usize,
    stats: CacheStats,
}

impl<K: Hash + Eq + Clone, V> ClockCache<K, V> {
    /// Fixed cost of one entry: its map bucket and its ring slot.
    pub const ENTRY_OVERHEAD: usize =
        std::mem::size_of::<(K, Slot<V>)>() + 1 + std::mem::size_of::<(K, u64)>();

    /// An empty cache holding at most `budget` accounted bytes; a single
    /// entry may take at most a quarter of it.
    pub fn new(budget: usize) -> Self {
        ClockCache {
            map: Default::default(),
            ring: VecDeque::new(),
            next_stamp: 0,
            bytes: 0,
            budget,
            max_entry: budget / 4,
            stats: CacheStats::default(),
        }
    }

    /// The largest entry kept, in bytes.
    pub fn max_entry(&self) -> usize {
        self.max_entry
    }

    /// Allow a single entry to take up to `bytes` (at most the budget).
    pub fn with_max_entry(mut self, bytes: usize) -> Self {
        self.max_entry = bytes.min(self.budget);
        self
    }

    /// The entry under `key`, marking it used; counted as a hit or miss.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.map.get_mut(key) {
            Some(s) => {
                s.used = true;
                self.stats.hits += 1;
                Some(&s.value)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// The entry under `key` without marking it or counting.
    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).map(|s| &s.value)
    }

    /// Whether `key` is held (not counted as a look-up).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key)
    }

    /// Count a look-up answered elsewhere as a miss of this cache (a
    /// caller that checks with [`ClockCache::peek`] first).
    pub fn count_miss(&mut self) {
        self.stats.misses += 1;
    }

    /// Keep `value` under `key`; `size` is the heap the key and value
    /// hold (the per-entry overhead is added here). Older entries are
    /// evicted until it fits. Returns false (and keeps nothing) when the
    /// entry alone is larger than a single entry may be.
    pub fn insert(&mut self, key: K, value: V, size: usize) -> bool {
        let size = size + Self::ENTRY_OVERHEAD;
        if size > self.max_entry {
            self.stats.refused += 1;
            self.remove(&key);
            return false;
        }
        if let Some(old) = self.map.get_mut(&key) {
            // Replace in place: same ring entry.
            self.bytes = self.bytes - old.size + size;
            old.value = value;
            old.size = size;
            old.used = true;
            self.evict_to(0);
            return true;
        }
        self.evict_to(size);
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.ring.push_back((key.clone(), stamp));
        self.map.insert(
            key,
            Slot {
                value,
                size,
                used: false,
                stamp,
            },
        );
        self.bytes += size;
        self.compact_ring();
        true
    }

    /// Forget the entry under `key`.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let s = self.map.remove(key)?;
        self.bytes -= s.size;
        self.compact_ring();
        Some(s.value)
    }

    /// Forget everything (not counted as evictions). The map keeps its
    /// buckets for reuse; their number is bounded by the budget.
    pub fn clear(&mut self) {
        self.map.clear();
        self.ring.clear();
        self.bytes = 0;
    }

    /// Evict until `extra` more bytes fit in the budget.
    fn evict_to(&mut self, extra: usize) {
        while self.bytes + extra > self.budget {
            let Some((key, stamp)) = self.ring.pop_front() else {
                break;
            };
            let Some(slot) = self.map.get_mut(&key) else {
                continue;
            };
            if slot.stamp != stamp {
                continue;
            }
            if slot.used {
                slot.used = false;
                self.ring.push_back((key, stamp));
            } else if let Some(s) = self.map.remove(&key) {
                self.bytes -= s.size;
                self.stats.evictions += 1;
            }
        }
    }

    /// Drop ring entries of removed or replaced keys once they are as many
    /// as the live ones, so the ring stays proportional to the map.
    fn compact_ring(&mut self) {
        if self.ring.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.ring
                .retain(|(k, stamp)| map.get(k).is_some_and(|s| s.stamp == *stamp));
        }
    }

    /// Accounted bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The counters, with the current size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            bytes: self.bytes,
            budget: self.budget,
            entries: self.map.len(),
            ..self.stats
        }
    }

    /// Keep only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.retain_mut(|k, v| keep(k, v));
    }

    /// Keep only the entries `keep` accepts, which may change them in
    /// place (within the size they were charged when inserted).
    pub fn retain_mut(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let mut freed = 0;
        self.map.retain(|k, s| {
            let k2 = keep(k, &mut s.value);
            if !k2 {
                freed += s.size;
            }
            k2
        });
        self.bytes -= freed;
        self.compact_ring();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_budget_and_evicts_unused_first() {
        let mut c: ClockCache<u32, u32> = ClockCache::new(10_000);
        let per = 100 + ClockCache::<u32, u32>::ENTRY_OVERHEAD;
        let fit = 10_000 / per;
        for i in 0..fit as u32 {
            assert!(c.insert(i, i, 100));
        }
        assert_eq!(c.len(), fit);
        // use the first half: the clock must pass them over
        for i in 0..(fit / 2) as u32 {
            assert_eq!(c.get(&i), Some(&i));
        }
        for i in 1000..1000 + (fit / 2) as u32 {
            assert!(c.insert(i, i, 100));
            assert!(c.bytes() <= c.budget(), "{} > {}", c.bytes(), c.budget());
        }
        for i in 0..(fit / 2) as u32 {
            assert!(c.contains_key(&i), "used entry {i} was evicted");
        }
        assert!(!c.contains_key(&((fit / 2) as u32)), "unused entry kept");
        let s = c.stats();
        assert!(s.evictions >= (fit / 2) as u64 - 1);
        assert_eq!(s.hits, (fit / 2) as u64);
    }

    #[test]
    fn many_inserts_and_removals_keep_the_ring_small() {
        let mut c: ClockCache<u32, ()> = ClockCache::new(1 << 20);
        for round in 0..1000u32 {
            c.insert(round % 10, (), 10);
            c.remove(&(round % 10));
            c.insert(round % 10, (), 10);
        }
        assert_eq!(c.len(), 10);
        assert!(
            c.ring.len() <= 2 * c.len() + 16 + 1,
            "ring {}",
            c.ring.len()
        );
    }

    #[test]
    fn oversized_entries_are_refused_and_replacement_accounts() {
        let mut c: ClockCache<&str, Vec<u8>> = ClockCache::new(4000);
        assert!(!c.insert("big", vec![0; 2000], 2000), "over a quarter");
        assert!(c.is_empty());
        assert_eq!(c.stats().refused, 1);
        assert!(c.insert("a", vec![], 100));
        let one = c.bytes();
        assert!(c.insert("a", vec![], 300));
        assert_eq!(c.bytes(), one + 200);
        assert_eq!(c.len(), 1);
        c.retain(|_, _| false);
        assert_eq!(c.bytes(), 0);
    }
}
