//! Parsing and evaluating scripts in each phase.

use std::cell::RefCell;
use std::sync::Arc;

use roundup_core::detectors::Detectors;
use roundup_core::schema::Schema;
use roundup_core::security::Security;
use roundup_core::{Db, Error, Result};
use starlark::environment::{FrozenModule, Module};
use starlark::eval::Evaluator;
use starlark::syntax::{AstModule, Dialect, DialectTypes};
use starlark::values::{OwnedFrozenValue, Value};

use crate::api::{db_object, schema_globals, script_globals};
use crate::check::StarlarkDetector;
use crate::config::ConfigView;
use crate::ctx::{Ctx, Mode, SchemaState};
use crate::error::to_core;

/// The Starlark dialect of tracker scripts: `def`, `lambda`, f-strings,
/// keyword-only parameters and top-level `if`/`for` are allowed; `load()`
/// is not (a script reaches nothing outside the tracker), nor are type
/// annotations.
pub(crate) fn dialect() -> Dialect {
    Dialect {
        enable_def: true,
        enable_lambda: true,
        enable_load: false,
        enable_keyword_only_arguments: true,
        enable_positional_only_arguments: false,
        enable_types: DialectTypes::Disable,
        enable_load_reexport: false,
        enable_top_level_stmt: true,
        enable_f_strings: true,
        ..Dialect::Extended
    }
}

fn parse(label: &str, source: &str) -> Result<AstModule> {
    AstModule::parse(label, source.to_owned(), &dialect()).map_err(|e| to_core(label, e))
}

fn freeze_failed(label: &str, e: impl std::fmt::Debug) -> Error {
    Error::Script(format!(
        "{label}: could not keep the script's functions: {e:?}"
    ))
}

fn frozen_slot(label: &str, module: &FrozenModule, slot: &str) -> Result<OwnedFrozenValue> {
    module
        .get_any_visibility(slot)
        .map(|(v, _)| v)
        .map_err(|e| freeze_failed(label, e))
}

/// Run `f` in a fresh evaluator acting on the open database `db`; `f` gets
/// the evaluator and the `db` object to pass to script functions.
pub(crate) fn with_live<R>(
    label: &str,
    config: &Arc<ConfigView>,
    db: &Db,
    f: impl for<'v, 'a, 'e> FnOnce(&mut Evaluator<'v, 'a, 'e>, Value<'v>) -> starlark::Result<R>,
) -> Result<R> {
    let ctx = Ctx::new(label, config.clone(), Mode::Live(db));
    Module::with_temp_heap(|module| {
        let dbv = module.heap().alloc(db_object(&ctx));
        let mut eval = Evaluator::new(&module);
        eval.extra = Some(&ctx);
        f(&mut eval, dbv).map_err(|e| to_core(label, e))
    })
}

pub(crate) fn load_schema(
    label: &str,
    source: &str,
    config: &ConfigView,
) -> Result<(Schema, Security)> {
    let ast = parse(label, source)?;
    let ctx = Ctx::new(
        label,
        Arc::new(config.clone()),
        Mode::Schema(Box::new(RefCell::new(SchemaState {
            schema: Schema::new(),
            security: Security::with_builtins(),
            checks: Vec::new(),
            filters: Vec::new(),
        }))),
    );
    let frozen = Module::with_temp_heap(|module| -> Result<FrozenModule> {
        let dbv = module.heap().alloc(db_object(&ctx));
        module.set("db", dbv);
        {
            let mut eval = Evaluator::new(&module);
            eval.extra = Some(&ctx);
            eval.eval_module(ast, schema_globals())
                .map_err(|e| to_core(label, e))?;
        }
        module.freeze().map_err(|e| freeze_failed(label, e))
    })?;
    let Mode::Schema(state) = ctx.mode else {
        return Err(Error::Script(format!("{label}: internal: wrong phase")));
    };
    let mut state = state.into_inner();
    for (slot, chk) in &state.checks {
        let _ = chk.func.set(frozen_slot(label, &frozen, slot)?);
    }
    for (slot, flt) in &state.filters {
        let _ = flt.func.set(frozen_slot(label, &frozen, slot)?);
    }
    state.schema.finish().map_err(|e| match e {
        Error::Schema(m) => Error::Schema(format!("{label}: {m}")),
        other => other,
    })?;
    Ok((state.schema, state.security))
}

pub(crate) fn load_detectors(
    files: &[(String, String)],
    schema: &Schema,
    config: &ConfigView,
) -> Result<Detectors> {
    let config = Arc::new(config.clone());
    let mut detectors = Detectors::new();
    for (label, source) in files {
        let ast = parse(label, source)?;
        let ctx = Ctx::new(
            label,
            config.clone(),
            Mode::Init {
                schema,
                regs: RefCell::new(Vec::new()),
            },
        );
        let frozen = Module::with_temp_heap(|module| -> Result<FrozenModule> {
            {
                let mut eval = Evaluator::new(&module);
                eval.extra = Some(&ctx);
                eval.eval_module(ast, script_globals())
                    .map_err(|e| to_core(label, e))?;
                let Some(init) = module.get("init") else {
                    return Err(Error::Script(format!(
                        "{label}: a detector must define init(db), which registers its auditors and reactors"
                    )));
                };
                let dbv = module.heap().alloc(db_object(&ctx));
                eval.eval_function(init, &[dbv], &[])
                    .map_err(|e| to_core(label, e))?;
            }
            module.freeze().map_err(|e| freeze_failed(label, e))
        })?;
        let Mode::Init { regs, .. } = ctx.mode else {
            return Err(Error::Script(format!("{label}: internal: wrong phase")));
        };
        for reg in regs.into_inner() {
            let func = frozen_slot(label, &frozen, &reg.slot)?;
            let name = func.value().to_str();
            let det = Arc::new(StarlarkDetector {
                label: label.clone(),
                name: name
                    .trim_start_matches("<function ")
                    .trim_end_matches('>')
                    .to_string(),
                config: config.clone(),
                func,
            });
            if reg.reactor {
                detectors.add_reactor(&reg.class, reg.op, reg.priority, det);
            } else {
                detectors.add_auditor(&reg.class, reg.op, reg.priority, det);
            }
        }
    }
    Ok(detectors)
}

pub(crate) fn run_initial_data(
    label: &str,
    source: &str,
    db: &Db,
    adminpw: &str,
    admin_email: &str,
) -> Result<()> {
    let ast = parse(label, source)?;
    let config = Arc::new(ConfigView::new());
    with_live(label, &config, db, |eval, dbv| {
        let module = eval.module();
        module.set("db", dbv);
        module.set("adminpw", eval.heap().alloc(adminpw));
        module.set("admin_email", eval.heap().alloc(admin_email));
        eval.eval_module(ast, script_globals())?;
        Ok(())
    })
}
