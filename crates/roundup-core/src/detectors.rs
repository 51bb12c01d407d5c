//! Auditors and reactors ("detectors") registered per class and operation.
//!
//! Auditors run before a change is written and may alter the new values or
//! refuse the change with [`crate::Error::Reject`]; reactors run after it is
//! written and see the old values. Within one class and operation they run
//! in priority order (lower first, default 100), then registration order.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::db::{Db, Values};
use crate::error::{Error, Result};

/// The operations detectors can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Set,
    Retire,
    Restore,
}

impl Op {
    pub fn parse(s: &str) -> Result<Op> {
        match s {
            "create" => Ok(Op::Create),
            "set" => Ok(Op::Set),
            "retire" => Ok(Op::Retire),
            "restore" => Ok(Op::Restore),
            other => Err(Error::value(format!(
                "unknown detector event \"{other}\" (expected create, set, retire or restore)"
            ))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Set => "set",
            Op::Retire => "retire",
            Op::Restore => "restore",
        }
    }
}

/// Called before a change. `nodeid` is `None` on create; `newvalues` is
/// `None` on retire and restore.
pub trait Auditor: Send + Sync + fmt::Debug {
    fn audit(
        &self,
        db: &Db,
        class: &str,
        nodeid: Option<&str>,
        newvalues: Option<&mut Values>,
    ) -> Result<()>;
}

/// Called after a change. `oldvalues` is `None` on create, retire, restore.
pub trait Reactor: Send + Sync + fmt::Debug {
    fn react(&self, db: &Db, class: &str, nodeid: &str, oldvalues: Option<&Values>) -> Result<()>;
}

#[derive(Debug)]
struct Entry<T: ?Sized> {
    priority: i64,
    seq: usize,
    f: Arc<T>,
}

impl<T: ?Sized> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            priority: self.priority,
            seq: self.seq,
            f: self.f.clone(),
        }
    }
}

/// All detectors of a tracker.
#[derive(Clone, Debug, Default)]
pub struct Detectors {
    auditors: HashMap<(String, Op), Vec<Entry<dyn Auditor>>>,
    reactors: HashMap<(String, Op), Vec<Entry<dyn Reactor>>>,
    seq: usize,
}

impl Detectors {
    pub fn new() -> Detectors {
        Detectors::default()
    }

    pub fn add_auditor(&mut self, class: &str, op: Op, priority: i64, f: Arc<dyn Auditor>) {
        self.seq += 1;
        let list = self.auditors.entry((class.to_string(), op)).or_default();
        list.push(Entry {
            priority,
            seq: self.seq,
            f,
        });
        list.sort_by_key(|e| (e.priority, e.seq));
    }

    pub fn add_reactor(&mut self, class: &str, op: Op, priority: i64, f: Arc<dyn Reactor>) {
        self.seq += 1;
        let list = self.reactors.entry((class.to_string(), op)).or_default();
        list.push(Entry {
            priority,
            seq: self.seq,
            f,
        });
        list.sort_by_key(|e| (e.priority, e.seq));
    }

    pub(crate) fn auditors(&self, class: &str, op: Op) -> Vec<Arc<dyn Auditor>> {
        self.auditors
            .get(&(class.to_string(), op))
            .map(|v| v.iter().map(|e| e.f.clone()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn reactors(&self, class: &str, op: Op) -> Vec<Arc<dyn Reactor>> {
        self.reactors
            .get(&(class.to_string(), op))
            .map(|v| v.iter().map(|e| e.f.clone()).collect())
            .unwrap_or_default()
    }

    /// Number of registered auditors and reactors (for diagnostics).
    pub fn len(&self) -> (usize, usize) {
        (
            self.auditors.values().map(Vec::len).sum(),
            self.reactors.values().map(Vec::len).sum(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}
