//! Rendered pages kept for identical requests.
//!
//! A page is a function of the request (path, query, headers), the user
//! and session it is rendered for, the database, and the clock. The cache
//! keys on the first three and remembers the shared read cache's
//! generation for the database (any commit, here or in another process,
//! starts a new one: see `roundup_core::shared_cache`); the clock is
//! covered by a short lifetime ([`TTL`]), so relative dates ("5 minutes
//! ago") and queries such as `activity=-1d` are never more than that old.
//!
//! What differs between two responses to the same request is kept out of
//! the stored copy: every `@csrf` token the render issued and the CSP
//! nonce are cut out and replaced by fresh ones for each response, so no
//! two responses share a one-time token.
//!
//! Only plain page views are cached: GET or HEAD, no `@action`, no
//! `@csrf` in the URL, status 200, no cookie set.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roundup_core::clock_cache::{CacheStats, ClockCache};

/// How long a stored page may be served.
pub const TTL: Duration = Duration::from_secs(2);
/// The bytes of pages kept when the configuration gives no budget
/// (`[web] page_cache_size`); past it the least recently used go.
pub const DEFAULT_BUDGET: usize = 1 << 20;

/// A piece of a stored page.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// A fresh `@csrf` token with this lifetime (minutes; `None`: the
    /// tracker's default).
    Token(Option<u64>),
    /// The response's CSP nonce.
    Nonce,
}

/// A stored page.
#[derive(Debug)]
pub struct Page {
    generation: u64,
    made: Instant,
    pub pieces: Arc<Vec<Piece>>,
}

/// The cache of one tracker.
pub struct PageCache {
    inner: Mutex<ClockCache<String, Page>>,
    /// Responses served from a stored page, since start.
    hits: std::sync::atomic::AtomicU64,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache::with_budget(DEFAULT_BUDGET)
    }
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageCache")
    }
}

impl PageCache {
    /// A cache keeping at most about `bytes` of pages (one page at most
    /// an eighth of it); 0 keeps none.
    pub fn with_budget(bytes: usize) -> PageCache {
        PageCache {
            inner: Mutex::new(ClockCache::new(bytes).with_max_entry(bytes / 8)),
            hits: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockCache<String, Page>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Size and hit counts.
    pub fn stats(&self) -> CacheStats {
        self.lock().stats()
    }

    /// The pieces of the page stored under `key` in `generation`, if it
    /// is still young enough (shared, not copied: each response is
    /// assembled from them anyway).
    pub fn get(&self, key: &str, generation: u64) -> Option<Arc<Vec<Piece>>> {
        let mut g = self.lock();
        let fresh = g
            .peek(key)
            .is_some_and(|p| p.generation == generation && p.made.elapsed() < TTL);
        if !fresh {
            // A stale page is not marked used: it goes first.
            g.count_miss();
            return None;
        }
        let found = g.get(key).map(|p| p.pieces.clone());
        self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        found
    }

    /// How many responses were served from a stored page.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Store a page rendered in `generation`.
    pub fn put(&self, key: String, generation: u64, pieces: Vec<Piece>) {
        let size = 2 * key.len()
            + 64
            + pieces.len() * std::mem::size_of::<Piece>()
            + pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.len() + 16,
                    _ => 0,
                })
                .sum::<usize>();
        let mut g = self.lock();
        // Pages of a passed generation are never served again.
        if g.peek(&key).is_some_and(|p| p.generation != generation) || g.len() % 64 == 63 {
            g.retain(|_, p| p.generation == generation && p.made.elapsed() < TTL);
        }
        g.insert(
            key,
            Page {
                generation,
                made: Instant::now(),
                pieces: Arc::new(pieces),
            },
            size,
        );
    }
}

/// Cut a rendered page into pieces: each issued token and each occurrence
/// of the nonce become placeholders.
pub fn cut(body: &str, tokens: &[(String, Option<u64>)], nonce: &str) -> Vec<Piece> {
    let mut marks: Vec<(usize, usize, Piece)> = Vec::new();
    for (tok, life) in tokens {
        for (at, _) in body.match_indices(tok.as_str()) {
            marks.push((at, tok.len(), Piece::Token(*life)));
        }
    }
    if !nonce.is_empty() {
        for (at, _) in body.match_indices(nonce) {
            marks.push((at, nonce.len(), Piece::Nonce));
        }
    }
    marks.sort_by_key(|m| m.0);
    let mut out = Vec::new();
    let mut pos = 0;
    for (at, len, piece) in marks {
        if at < pos {
            continue;
        }
        if at > pos {
            out.push(Piece::Text(body[pos..at].to_string()));
        }
        out.push(piece);
        pos = at + len;
    }
    if pos < body.len() {
        out.push(Piece::Text(body[pos..].to_string()));
    }
    out
}

/// Put a page back together with fresh tokens and nonce.
pub fn assemble(
    pieces: &[Piece],
    mut token: impl FnMut(Option<u64>) -> String,
    nonce: &str,
) -> String {
    let mut out = String::with_capacity(
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.len(),
                _ => 48,
            })
            .sum(),
    );
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Token(life) => out.push_str(&token(*life)),
            Piece::Nonce => out.push_str(nonce),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_nonce_are_replaced() {
        let body = "<form><input name=\"@csrf\" value=\"TOKA\"></form><script nonce=\"NNN\"></script><input value=\"TOKB\">TOKA";
        let pieces = cut(
            body,
            &[("TOKA".into(), None), ("TOKB".into(), Some(5))],
            "NNN",
        );
        assert!(pieces.contains(&Piece::Token(Some(5))));
        assert_eq!(
            pieces.iter().filter(|p| **p == Piece::Token(None)).count(),
            2
        );
        let mut n = 0;
        let page = assemble(
            &pieces,
            |life| {
                n += 1;
                format!("fresh{n}-{life:?}")
            },
            "new-nonce",
        );
        assert_eq!(
            page,
            "<form><input name=\"@csrf\" value=\"fresh1-None\"></form><script nonce=\"new-nonce\"></script><input value=\"fresh2-Some(5)\">fresh3-None"
        );
        // without placeholders the page comes back unchanged
        assert_eq!(
            assemble(&cut("plain", &[], ""), |_| unreachable!(), ""),
            "plain"
        );
    }

    #[test]
    fn generation_and_age_decide() {
        let c = PageCache::default();
        c.put("k".into(), 1, vec![Piece::Text("x".into())]);
        assert!(c.get("k", 1).is_some());
        assert!(c.get("k", 2).is_none(), "another generation");
        assert!(c.get("other", 1).is_none());
        {
            let mut g = c.lock();
            let mut p = g.remove("k").unwrap();
            p.made -= TTL;
            g.insert("k".into(), p, 10);
        }
        assert!(c.get("k", 1).is_none(), "too old");
    }

    #[test]
    fn pages_past_the_budget_are_evicted() {
        let budget = 64 << 10;
        let c = PageCache::with_budget(budget);
        for i in 0..500 {
            c.put(format!("page{i}"), 1, vec![Piece::Text("x".repeat(3000))]);
            let s = c.stats();
            assert!(s.bytes <= budget, "{} > {budget}", s.bytes);
        }
        let s = c.stats();
        assert!(s.evictions > 450, "{s:?}");
        assert!(s.entries >= 10, "{s:?}");
        assert!(c.get("page499", 1).is_some());
        assert!(c.get("page0", 1).is_none());
        // a page larger than an eighth of the budget is not kept
        c.put("big".into(), 1, vec![Piece::Text("x".repeat(budget / 4))]);
        assert!(c.get("big", 1).is_none());
        // nothing is kept with a budget of 0
        let off = PageCache::with_budget(0);
        off.put("k".into(), 1, vec![Piece::Text("x".into())]);
        assert!(off.get("k", 1).is_none());
    }
}
