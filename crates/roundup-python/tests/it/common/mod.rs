//! Test support: a TEST-ONLY in-memory `Storage` (no SQL, no persistence)
//! standing in for the SQLite backend, and helpers to open a `Db` on it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use roundup_core::date::{Date, Timezone};
use roundup_core::detectors::Detectors;
use roundup_core::filter::{Condition, LinkExpr, Query};
use roundup_core::password::Scheme;
use roundup_core::schema::{ClassDef, Schema};
use roundup_core::security::Security;
use roundup_core::storage::{
    JournalEntry, MultilinkChange, NodeValues, Storage, StoredNode, TextHit,
};
use roundup_core::{Db, DbOptions, Result, TrackerDef, Value};

#[derive(Clone, Default)]
struct Data {
    nodes: HashMap<String, BTreeMap<u64, StoredNode>>,
    journals: HashMap<(String, String), Vec<JournalEntry>>,
}

/// TEST-ONLY storage keeping everything in memory; savepoints are full
/// copies. Ids are allocated outside transactions, as the trait asks.
#[derive(Default)]
pub struct TestMemStorage {
    data: Data,
    committed: Data,
    savepoints: Vec<(String, Data)>,
    last_ids: HashMap<String, u64>,
}

fn ids_of(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Link(s)) => vec![s.clone()],
        Some(Value::Multilink(ids)) => ids.clone(),
        _ => Vec::new(),
    }
}

fn link_match(e: &LinkExpr, ids: &[String]) -> bool {
    match e {
        LinkExpr::Id(i) => ids.contains(i),
        LinkExpr::Empty => ids.is_empty(),
        LinkExpr::Not(x) => !link_match(x, ids),
        LinkExpr::And(xs) => xs.iter().all(|x| link_match(x, ids)),
        LinkExpr::Or(xs) => xs.iter().any(|x| link_match(x, ids)),
    }
}

fn cond_match(c: &Condition, v: &Option<Value>) -> bool {
    match c {
        Condition::Words(words) => match v {
            Some(Value::String(s)) => {
                let s = s.to_lowercase();
                words.iter().all(|w| s.contains(&w.to_lowercase()))
            }
            _ => false,
        },
        Condition::Exact(vals) => matches!(v, Some(Value::String(s)) if vals.contains(s)),
        Condition::Empty => match v {
            None => true,
            Some(Value::Multilink(ids)) => ids.is_empty(),
            _ => false,
        },
        Condition::Links(e) => link_match(e, &ids_of(v)),
        Condition::Values(vals) => v.as_ref().is_some_and(|x| vals.contains(x)),
        Condition::AnyOf(cs) => cs.iter().any(|c| cond_match(c, v)),
        _ => false,
    }
}

impl Storage for TestMemStorage {
    fn backend_name(&self) -> &'static str {
        "test-memory"
    }
    fn sync_schema(&mut self, _schema: &Schema) -> Result<bool> {
        Ok(false)
    }
    fn new_id(&mut self, class: &str) -> Result<u64> {
        let n = self.last_ids.entry(class.to_string()).or_insert(0);
        *n += 1;
        Ok(*n)
    }
    fn set_last_id(&mut self, class: &str, last_used: u64) -> Result<()> {
        self.last_ids.insert(class.to_string(), last_used);
        Ok(())
    }
    fn add_node(&mut self, class: &ClassDef, id: &str, values: &NodeValues) -> Result<()> {
        let n: u64 = id.parse().map_err(roundup_core::Error::value)?;
        self.data
            .nodes
            .entry(class.name.clone())
            .or_default()
            .insert(
                n,
                StoredNode {
                    values: values.clone(),
                    retired: false,
                },
            );
        Ok(())
    }
    fn set_node(
        &mut self,
        class: &ClassDef,
        id: &str,
        values: &NodeValues,
        multilinks: &HashMap<String, MultilinkChange>,
    ) -> Result<()> {
        let n: u64 = id.parse().map_err(roundup_core::Error::value)?;
        let Some(node) = self
            .data
            .nodes
            .get_mut(&class.name)
            .and_then(|m| m.get_mut(&n))
        else {
            return Err(roundup_core::Error::storage(format!(
                "no {}{id}",
                class.name
            )));
        };
        for (k, v) in values {
            node.values.insert(k.clone(), v.clone());
        }
        for (k, ch) in multilinks {
            let mut ids = ids_of(node.values.get(k).unwrap_or(&None));
            ids.retain(|x| !ch.remove.contains(x));
            ids.extend(ch.add.iter().cloned());
            roundup_core::value::sort_ids(&mut ids);
            node.values.insert(k.clone(), Some(Value::Multilink(ids)));
        }
        Ok(())
    }
    fn get_node(&mut self, class: &ClassDef, id: &str) -> Result<Option<StoredNode>> {
        let Ok(n) = id.parse::<u64>() else {
            return Ok(None);
        };
        Ok(self
            .data
            .nodes
            .get(&class.name)
            .and_then(|m| m.get(&n))
            .cloned())
    }
    fn has_node(&mut self, class: &str, id: &str) -> Result<bool> {
        let Ok(n) = id.parse::<u64>() else {
            return Ok(false);
        };
        Ok(self
            .data
            .nodes
            .get(class)
            .is_some_and(|m| m.contains_key(&n)))
    }
    fn set_retired(&mut self, class: &ClassDef, id: &str, retired: bool) -> Result<()> {
        let n: u64 = id.parse().map_err(roundup_core::Error::value)?;
        if let Some(node) = self
            .data
            .nodes
            .get_mut(&class.name)
            .and_then(|m| m.get_mut(&n))
        {
            node.retired = retired;
        }
        Ok(())
    }
    fn destroy_node(&mut self, class: &ClassDef, id: &str) -> Result<()> {
        let n: u64 = id.parse().map_err(roundup_core::Error::value)?;
        if let Some(m) = self.data.nodes.get_mut(&class.name) {
            m.remove(&n);
        }
        self.data
            .journals
            .remove(&(class.name.clone(), id.to_string()));
        Ok(())
    }
    fn node_ids(&mut self, class: &str, retired: Option<bool>) -> Result<Vec<String>> {
        Ok(self
            .data
            .nodes
            .get(class)
            .map(|m| {
                m.iter()
                    .filter(|(_, n)| retired.is_none_or(|r| n.retired == r))
                    .map(|(id, _)| id.to_string())
                    .collect()
            })
            .unwrap_or_default())
    }
    fn count(&mut self, class: &str) -> Result<u64> {
        Ok(self.node_ids(class, Some(false))?.len() as u64)
    }
    fn lookup_key(&mut self, class: &ClassDef, key: &str) -> Result<Option<String>> {
        let Some(kp) = &class.key else {
            return Ok(None);
        };
        Ok(self.data.nodes.get(&class.name).and_then(|m| {
            m.iter()
                .find(|(_, n)| {
                    !n.retired
                        && matches!(n.values.get(kp), Some(Some(Value::String(s))) if s == key)
                })
                .map(|(id, _)| id.to_string())
        }))
    }
    fn find_linking(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[String],
    ) -> Result<Vec<String>> {
        Ok(self
            .data
            .nodes
            .get(&class.name)
            .map(|m| {
                m.iter()
                    .filter(|(_, n)| {
                        !n.retired
                            && ids_of(n.values.get(prop).unwrap_or(&None))
                                .iter()
                                .any(|x| ids.contains(x))
                    })
                    .map(|(id, _)| id.to_string())
                    .collect()
            })
            .unwrap_or_default())
    }
    fn filter(&mut self, _schema: &Schema, q: &Query) -> Result<Vec<String>> {
        let Some(m) = self.data.nodes.get(&q.class) else {
            return Ok(Vec::new());
        };
        Ok(m.iter()
            .filter(|(id, n)| {
                q.retired.is_none_or(|r| n.retired == r)
                    && q.search_ids
                        .as_ref()
                        .is_none_or(|s| u32::try_from(**id).is_ok_and(|n| s.contains(n)))
                    && q.filters.iter().all(|f| {
                        let v = n.values.get(&f.path[0]).cloned().flatten();
                        cond_match(&f.cond, &v)
                    })
            })
            .map(|(id, _)| id.to_string())
            .collect())
    }
    fn add_journal(&mut self, class: &str, entry: &JournalEntry) -> Result<()> {
        self.data
            .journals
            .entry((class.to_string(), entry.nodeid.clone()))
            .or_default()
            .push(entry.clone());
        Ok(())
    }
    fn get_journal(&mut self, class: &str, id: &str) -> Result<Vec<JournalEntry>> {
        Ok(self
            .data
            .journals
            .get(&(class.to_string(), id.to_string()))
            .cloned()
            .unwrap_or_default())
    }
    fn set_journal(&mut self, class: &str, id: &str, entries: &[JournalEntry]) -> Result<()> {
        self.data
            .journals
            .insert((class.to_string(), id.to_string()), entries.to_vec());
        Ok(())
    }
    fn pack(&mut self, _schema: &Schema, _before: &Date) -> Result<()> {
        Ok(())
    }
    fn index_text(&mut self, _c: &str, _i: &str, _p: &str, _t: &str) -> Result<()> {
        Ok(())
    }
    fn search_text(
        &mut self,
        _words: &[String],
        _classes: Option<&[String]>,
    ) -> Result<Vec<TextHit>> {
        Ok(Vec::new())
    }
    fn savepoint(&mut self, name: &str) -> Result<()> {
        self.savepoints.push((name.to_string(), self.data.clone()));
        Ok(())
    }
    fn release_savepoint(&mut self, name: &str) -> Result<()> {
        if let Some(i) = self.savepoints.iter().rposition(|(n, _)| n == name) {
            self.savepoints.truncate(i);
        }
        Ok(())
    }
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        if let Some(i) = self.savepoints.iter().rposition(|(n, _)| n == name) {
            self.data = self.savepoints[i].1.clone();
            self.savepoints.truncate(i);
        }
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        self.savepoints.clear();
        self.committed = self.data.clone();
        Ok(())
    }
    fn rollback(&mut self) -> Result<()> {
        self.savepoints.clear();
        self.data = self.committed.clone();
        Ok(())
    }
}

/// Open a Db on `store`, acting as `uid`.
fn open_on(
    dir: &Path,
    def: TrackerDef,
    store: Box<dyn roundup_core::storage::Storage>,
    indexing: bool,
    uid: &str,
) -> Db {
    let opts = Arc::new(DbOptions {
        db_dir: dir.to_path_buf(),
        password_scheme: Scheme::Pbkdf2S5,
        password_rounds: 1000,
        timezone: Timezone::Utc,
        indexing,
    });
    match Db::open(Arc::new(def), opts, store, uid) {
        Ok(db) => db,
        Err(e) => panic!("opening the test db failed: {e}"),
    }
}

/// Open a Db on a fresh in-memory store, acting as `uid`.
pub fn open_db(
    dir: &Path,
    schema: Schema,
    security: Security,
    detectors: Detectors,
    uid: &str,
) -> Db {
    let def = TrackerDef {
        schema,
        security,
        detectors,
    };
    open_on(dir, def, Box::new(TestMemStorage::default()), false, uid)
}

/// Open a Db on a real SQLite database in `dir`, acting as `uid`.
pub fn open_sqlite_db(
    dir: &Path,
    schema: Schema,
    security: Security,
    detectors: Detectors,
    uid: &str,
) -> Db {
    let def = TrackerDef {
        schema,
        security,
        detectors,
    };
    let store = match roundup_sqlite::open(dir, std::time::Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => panic!("opening sqlite failed: {e}"),
    };
    open_on(dir, def, Box::new(store), true, uid)
}

/// Unwrap in tests with the error text in the failure message.
pub fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {e}"),
    }
}
