//! Stores for web sessions and one-time keys.
//!
//! Roundup keeps two small key/value stores beside the tracker database:
//! `sessions` (a browser cookie's id -> the logged-in user and other
//! session data) and `otks` (one-time keys: CSRF tokens, registration and
//! password-reset confirmations, login rate-limit state). Both map a key
//! to a dict of Python literals and expire records by time.
//!
//! [`KeyStore`] is the contract; backends live elsewhere (SQLite files
//! `db-session` / `db-otk` in roundup-sqlite, Redis in roundup-redis) and
//! [`MemoryStore`] here serves tests and single-process use.
//!
//! Expiry is expressed as an absolute Unix time (`expires`); each backend
//! turns that into its own stored form (Roundup's SQL stores keep "last
//! used" times and purge records a week old; Redis expires keys itself).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use rand::RngCore;

use crate::pyrepr::{self, PyValue};
use crate::{Error, Result};

/// The data stored under one key: names to Python literal values.
pub type Record = IndexMap<String, PyValue>;

/// One week in seconds: Roundup's default lifetime of a record.
pub const WEEK: f64 = 7.0 * 24.0 * 3600.0;

/// Which of the two stores (also their table / key-prefix names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `session`: browser sessions.
    Sessions,
    /// `otk`: one-time keys.
    Otks,
}

impl StoreKind {
    /// Roundup's name for the store (`session` / `otk`).
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sessions => "session",
            StoreKind::Otks => "otk",
        }
    }
}

/// Seconds since the Unix epoch, as a float.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A random key: `nbytes` random bytes, base64 without padding, with `+`
/// and `/` kept (as Roundup's session ids) or replaced for URL use.
pub fn random_key(nbytes: usize, url_safe: bool) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; nbytes];
    rand::rng().fill_bytes(&mut buf);
    if url_safe {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&buf)
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&buf)
    }
}

/// A random key of `length` letters and digits (Roundup's `getUniqueKey`).
pub fn alnum_key(length: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..length)
        .map(|_| CHARS[(rng.next_u32() as usize) % CHARS.len()] as char)
        .collect()
}

/// A session or one-time-key store.
///
/// Changes made through `set`/`destroy` become visible to other
/// connections at [`KeyStore::commit`] (backends without transactions
/// apply them at once).
pub trait KeyStore: Send {
    /// Which store this is.
    fn kind(&self) -> StoreKind;

    /// All data under `key`, or `None` when there is no such (unexpired)
    /// record.
    fn get_all(&mut self, key: &str) -> Result<Option<Record>>;

    /// Merge `values` into the record under `key` (creating it). With
    /// `expires` (Unix time) the record lives until then; without it, a
    /// new record lives [`WEEK`] from now and an existing one keeps being
    /// "used now" (Roundup's SQL stores) or keeps its expiry (Redis).
    fn set(&mut self, key: &str, values: Record, expires: Option<f64>) -> Result<()>;

    /// Whether an unexpired record exists under `key`.
    fn exists(&mut self, key: &str) -> Result<bool> {
        Ok(self.get_all(key)?.is_some())
    }

    /// Remove the record (no error when there is none).
    fn destroy(&mut self, key: &str) -> Result<()>;

    /// Mark a session as used now, pushing its expiry a week ahead; done
    /// at most once a minute per key.
    fn touch(&mut self, key: &str) -> Result<()>;

    /// Remove expired records.
    fn clean(&mut self) -> Result<()>;

    /// Every key in the store (expired ones included until cleaned).
    fn keys(&mut self) -> Result<Vec<String>>;

    /// Remove every record.
    fn clear(&mut self) -> Result<()>;

    /// Make the changes since the last commit visible.
    fn commit(&mut self) -> Result<()>;

    /// One value of the record under `key`.
    fn get(&mut self, key: &str, name: &str) -> Result<Option<PyValue>> {
        Ok(self.get_all(key)?.and_then(|mut r| r.shift_remove(name)))
    }

    /// A fresh key of `length` letters and digits not yet in use.
    fn unique_key(&mut self, length: usize) -> Result<String> {
        loop {
            let k = alnum_key(length);
            if !self.exists(&k)? {
                return Ok(k);
            }
        }
    }
}

/// Encode a record as the Python dict literal Roundup stores.
pub fn record_to_repr(record: &Record) -> String {
    let items = record
        .iter()
        .map(|(k, v)| (PyValue::Str(k.clone()), v.clone()))
        .collect();
    pyrepr::repr(&PyValue::Dict(items))
}

/// Decode a stored Python dict literal.
pub fn record_from_repr(store: StoreKind, key: &str, text: &str) -> Result<Record> {
    let bad = |why: String| {
        Error::storage(format!(
            "{} store: the record under {key:?} is not a dict of literals: {why}",
            store.name()
        ))
    };
    match pyrepr::parse(text).map_err(|e| bad(e.to_string()))? {
        PyValue::Dict(items) => {
            let mut out = Record::new();
            for (k, v) in items {
                match k {
                    PyValue::Str(name) => {
                        out.insert(name, v);
                    }
                    other => {
                        return Err(bad(format!("key {} is not a string", pyrepr::repr(&other))))
                    }
                }
            }
            Ok(out)
        }
        other => Err(bad(format!("found {}", pyrepr::repr(&other)))),
    }
}

/// A text value of a record, if it is a string.
pub fn record_str<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
    match record.get(name) {
        Some(PyValue::Str(s)) => Some(s),
        _ => None,
    }
}

/// An in-process store (tests, and servers that need no persistence).
/// Changes are visible at once; `commit` does nothing.
#[derive(Debug)]
pub struct MemoryStore {
    kind: StoreKind,
    records: HashMap<String, (Record, f64)>,
    last_touch: HashMap<String, f64>,
}

impl MemoryStore {
    pub fn new(kind: StoreKind) -> MemoryStore {
        MemoryStore {
            kind,
            records: HashMap::new(),
            last_touch: HashMap::new(),
        }
    }
}

impl KeyStore for MemoryStore {
    fn kind(&self) -> StoreKind {
        self.kind
    }
    fn get_all(&mut self, key: &str) -> Result<Option<Record>> {
        let t = now();
        Ok(self
            .records
            .get(key)
            .filter(|(_, exp)| *exp >= t)
            .map(|(r, _)| r.clone()))
    }
    fn set(&mut self, key: &str, values: Record, expires: Option<f64>) -> Result<()> {
        let t = now();
        let entry = self
            .records
            .entry(key.to_string())
            .or_insert_with(|| (Record::new(), t + WEEK));
        if entry.1 < t {
            entry.0.clear();
        }
        entry.0.extend(values);
        entry.1 = expires.unwrap_or(t + WEEK);
        Ok(())
    }
    fn destroy(&mut self, key: &str) -> Result<()> {
        self.records.remove(key);
        self.last_touch.remove(key);
        Ok(())
    }
    fn touch(&mut self, key: &str) -> Result<()> {
        let t = now();
        if self.last_touch.get(key).is_some_and(|last| t - last < 60.0) {
            return Ok(());
        }
        if let Some(entry) = self.records.get_mut(key) {
            entry.1 = entry.1.max(t + WEEK);
            self.last_touch.insert(key.to_string(), t);
        }
        Ok(())
    }
    fn clean(&mut self) -> Result<()> {
        let t = now();
        self.records.retain(|_, (_, exp)| *exp >= t);
        Ok(())
    }
    fn keys(&mut self) -> Result<Vec<String>> {
        Ok(self.records.keys().cloned().collect())
    }
    fn clear(&mut self) -> Result<()> {
        self.records.clear();
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, PyValue)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn repr_round_trip() {
        let r = rec(&[
            ("user", PyValue::Str("demo".into())),
            ("__timestamp", PyValue::Float(1.5)),
        ]);
        let text = record_to_repr(&r);
        assert_eq!(text, "{'user': 'demo', '__timestamp': 1.5}");
        assert_eq!(
            record_from_repr(StoreKind::Sessions, "k", &text).unwrap(),
            r
        );
        assert!(record_from_repr(StoreKind::Otks, "k", "[1]").is_err());
        assert!(record_from_repr(StoreKind::Otks, "k", "{1: 2}").is_err());
    }

    #[test]
    fn memory_store_merges_expires_and_destroys() {
        let mut s = MemoryStore::new(StoreKind::Otks);
        s.set("a", rec(&[("uid", PyValue::Str("3".into()))]), None)
            .unwrap();
        s.set("a", rec(&[("sid", PyValue::Str("x".into()))]), None)
            .unwrap();
        let all = s.get_all("a").unwrap().unwrap();
        assert_eq!(record_str(&all, "uid"), Some("3"));
        assert_eq!(record_str(&all, "sid"), Some("x"));
        s.set("old", rec(&[]), Some(now() - 1.0)).unwrap();
        assert!(!s.exists("old").unwrap());
        s.clean().unwrap();
        assert_eq!(s.keys().unwrap(), vec!["a".to_string()]);
        s.destroy("a").unwrap();
        assert!(s.get("a", "uid").unwrap().is_none());
    }

    #[test]
    fn keys_have_requested_shape() {
        let k = alnum_key(32);
        assert_eq!(k.len(), 32);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(random_key(32, true).len(), 43);
        assert_ne!(random_key(16, false), random_key(16, false));
    }
}
