//! What a tracker's `extensions/*.py` register (Roundup's
//! `instance.registerUtil`, `registerUtilMethod`, `registerAction`), as
//! trait objects the front ends call without knowing the script engine.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::db::Db;
use crate::error::Result;
use crate::pyrepr::PyValue;

/// A function templates call as `utils.<name>(...)`.
pub trait TemplateUtil: Send + Sync + fmt::Debug {
    /// Call it with the page's database (acting as the page's user).
    fn call(&self, db: &Db, args: &[PyValue]) -> Result<PyValue>;
}

/// The registrations of a tracker's extensions.
#[derive(Clone, Debug, Default)]
pub struct Extensions {
    /// `utils.<name>` for templates, by name.
    pub utils: IndexMap<String, Arc<dyn TemplateUtil>>,
    /// Names given to `registerAction` (web actions written in Python).
    pub actions: Vec<String>,
}

impl Extensions {
    pub fn util(&self, name: &str) -> Option<&Arc<dyn TemplateUtil>> {
        self.utils.get(name)
    }
}
