//! What native functions reach through `Evaluator::extra`: the phase the
//! script runs in and the state that phase builds or uses.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use roundup_core::detectors::Op;
use roundup_core::schema::Schema;
use roundup_core::security::Security;
use roundup_core::Db;
use starlark::any::ProvidesStaticType;
use starlark::eval::Evaluator;

use crate::check::{StarlarkCheck, StarlarkFilter};
use crate::config::ConfigView;
use crate::error::script_err;

/// The per-evaluation context. One is made for every script run and every
/// call of a stored function, and lives only as long as that evaluator.
#[derive(ProvidesStaticType)]
pub(crate) struct Ctx<'a> {
    pub label: String,
    pub config: Arc<ConfigView>,
    pub mode: Mode<'a>,
    /// Counter for the hidden module variables that keep functions given to
    /// `addPermission` / `audit` / `react` until the module is frozen.
    pub slots: Cell<usize>,
}

/// The phase a script runs in.
pub(crate) enum Mode<'a> {
    /// `schema.py`: defines classes and security.
    Schema(Box<RefCell<SchemaState>>),
    /// A detector's `init(db)`: registers auditors and reactors.
    Init {
        schema: &'a Schema,
        regs: RefCell<Vec<Registration>>,
    },
    /// A live call (detector, check, initial data) on an open database.
    Live(&'a Db),
}

/// What `schema.py` builds.
pub(crate) struct SchemaState {
    pub schema: Schema,
    pub security: Security,
    /// Check wrappers with the module variable holding their function.
    pub checks: Vec<(String, Arc<StarlarkCheck>)>,
    pub filters: Vec<(String, Arc<StarlarkFilter>)>,
}

/// One `audit`/`react` call of a detector's `init`.
pub(crate) struct Registration {
    pub class: String,
    pub op: Op,
    pub priority: i64,
    /// Module variable holding the function.
    pub slot: String,
    pub reactor: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(label: &str, config: Arc<ConfigView>, mode: Mode<'a>) -> Ctx<'a> {
        Ctx {
            label: label.to_string(),
            config,
            mode,
            slots: Cell::new(0),
        }
    }

    /// A fresh name for a hidden module variable.
    pub fn next_slot(&self, what: &str) -> String {
        let n = self.slots.get() + 1;
        self.slots.set(n);
        format!("__roundup_{what}_{n}")
    }

    /// The schema visible in this phase.
    pub fn with_schema<R>(&self, f: impl FnOnce(&Schema) -> R) -> R {
        match &self.mode {
            Mode::Schema(st) => f(&st.borrow().schema),
            Mode::Init { schema, .. } => f(schema),
            Mode::Live(db) => f(db.schema()),
        }
    }

    pub fn live(&self, what: &str) -> starlark::Result<&'a Db> {
        match &self.mode {
            Mode::Live(db) => Ok(db),
            Mode::Schema(_) => Err(script_err(format!(
                "{what} needs an open database; it cannot be used while the schema is being defined"
            ))),
            Mode::Init { .. } => Err(script_err(format!(
                "{what} needs an open database; in init(db) only audit() and react() registrations (and schema questions) are possible"
            ))),
        }
    }

    pub fn schema_state(&self, what: &str) -> starlark::Result<&RefCell<SchemaState>> {
        match &self.mode {
            Mode::Schema(st) => Ok(st),
            _ => Err(script_err(format!(
                "{what} is only possible in schema.py, while the schema is being defined"
            ))),
        }
    }
}

/// The context of the running evaluator.
pub(crate) fn ctx<'a, 'e: 'a>(eval: &Evaluator<'_, 'a, 'e>) -> starlark::Result<&'a Ctx<'e>> {
    eval.extra
        .and_then(|e| e.downcast_ref::<Ctx<'e>>())
        .ok_or_else(|| script_err("internal: no tracker context for this evaluation"))
}
