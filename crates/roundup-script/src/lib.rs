//! Runs a tracker's scripts — `schema.py`, `detectors/*.py` and
//! `initial_data.py` — written in Starlark, with the names Roundup gives
//! them, so that a Roundup tracker's Python files need only small edits.
//!
//! # Dialect
//!
//! Starlark (the Python-like language of Bazel) with `def`, `lambda`,
//! f-strings, keyword-only parameters and top-level `if`/`for` statements.
//! `load()` is switched off and no file, network, clock-reading (other
//! than `Date(".")`) or process functions exist: a script reaches nothing
//! outside the tracker. Besides Starlark's built-ins (`len`, `sorted`,
//! `str`, `dict`, `list`, `set`, `getattr`, `hasattr`, `fail`, `print`,
//! `struct`, `json`, `map`, `filter`, `partial`) every script has
//! `Reject`, `ValueError`, `_`/`gettext` and the `date` namespace.
//!
//! # Differences from Python that scripts must take care of
//!
//! * No `import`: drop `from roundup ... import ...` lines; what they
//!   brought in is predefined (or absent, see below).
//! * No `raise`/`try`: `raise Reject("msg")` becomes `Reject("msg")` and
//!   `raise ValueError("msg")` becomes `ValueError("msg")`; both end the
//!   script, and the caller receives [`roundup_core::Error::Reject`] /
//!   [`roundup_core::Error::Value`] with exactly that message (not a
//!   script error), so it can be shown to the user. Where Python catches
//!   `KeyError` around `lookup`, use `cl.lookup(key, default=None)`.
//! * No implicit concatenation of string literals (`''"text"` in Roundup's
//!   initial data becomes `"text"`), no `isinstance`: property objects
//!   have `.type` (`"Link"`, `"Multilink"`, ...), `.classname` and the
//!   option attributes.
//! * No regular expressions, sets only via `set()`; mail functions
//!   (`nosymessage`, `parseContent`) are not available yet.
//!
//! # schema.py
//!
//! Globals: `db`, `Class`, `IssueClass`, `FileClass`, `String`,
//! `Password`, `Date`, `Interval`, `Link`, `Multilink`, `Boolean`,
//! `Number`, `Integer`. Property options are Roundup's: `required`,
//! `default_value`, `quiet` on all; `indexme='yes'|'no'` (String);
//! `scheme` (Password); `offset`, `display_time='yes'|'no'`, `format`
//! (Date); `do_journal='yes'|'no'`, `try_id_parsing='yes'|'no'`,
//! `rev_multilink` (Link, Multilink); `msg_header_property` (Link);
//! `use_double` (Number). A misspelt option or a value other than
//! 'yes'/'no' is a schema error naming the script line.
//! `Class(db, "name", prop=Type(), ...)` returns a class object with
//! `setkey`, `setlabelprop`, `setorderprop`, `disableJournalling` (also
//! reachable as `db.name`); like Roundup it also defines the class's
//! Create/Edit/View/Retire permissions. `db.security` has `addRole(name=, description=)`,
//! `addPermission(name=, klass=, properties=, check=, description=,
//! props_only=, filter=)` (returns a handle), `addPermissionToRole(role,
//! handle_or_name, classname=None, properties=, check=, props_only=)`,
//! `getPermission(name, classname=None, properties=, check=,
//! props_only=)`, `set_props_only_default(flag)`, `hasRole`, `getRoles`.
//! Check functions `def f(db, userid, itemid)` (or with `**ctx`, which
//! then receives `permission`, `classname`, `property`) and filter
//! functions `def f(db, userid, klass)` run later with a live `db`.
//!
//! # Detectors
//!
//! Each file defines `init(db)`, which registers with
//! `db.<class>.audit(event, fn, priority=100)` / `.react(...)` (events
//! `create`, `set`, `retire`, `restore`). In `init` only registration and
//! schema questions are possible. Auditors are called as
//! `fn(db, cl, nodeid, newvalues)` (`nodeid` None on create, `newvalues`
//! None on retire/restore); changes the auditor makes to the dict are
//! written back. Reactors get `fn(db, cl, nodeid, oldvalues)`.
//!
//! # The live `db`
//!
//! `db.getuid()`, `db.getclass(name)`, `db.getclasses()`,
//! `db.hasnode(class, id)`, `db.config`, `db.security.hasPermission(perm,
//! userid, classname=None, property=None, itemid=None)`, and per class
//! (`db.issue` or `db.getclass("issue")`): `get(id, prop[, default])`,
//! `getnode(id)`, `set(id, **props)` (returns the changed values),
//! `create(**props)`, `lookup(key, default=...)`, `find(prop=id or
//! [ids])`, `stringFind(prop=str)`, `filter(search_matches, filterspec,
//! sort=, group=, retired=False, exact_match_spec=, limit=, offset=)`,
//! `list()`, `getnodeids(retired=None)`, `count()`, `hasnode(id)`,
//! `retire(id)`, `restore(id)`, `is_retired(id)`, `history(id)`,
//! `getprops(protected=True)`, `getkey()`, `labelprop()`, `orderprop()`,
//! `get_roles(userid)` (user class), `.classname`.
//!
//! Values cross as: String → str, Link → str id, Multilink → list of str
//! ids, Number → float, Integer → int, Boolean → bool, Date → date object
//! (`str()` gives `2003-04-05.12:00:00`), Interval → interval object,
//! Password → its stored text, unset → None. Going in, links and
//! multilinks also accept keys and int ids, numbers accept numeric
//! strings, dates accept specs.
//!
//! `filter` understands simple filterspecs only: Link/Multilink ids or
//! keys (`"-1"` for empty), words on String properties, exact strings via
//! `exact_match_spec`, booleans, numbers, one date range, `id`.
//!
//! # Errors
//!
//! Syntax and runtime errors become [`roundup_core::Error::Script`] with
//! `file:line:col: message` and, for runtime errors, the traceback.
//! `Reject()`/`ValueError()` give `Error::Reject`/`Error::Value` with the
//! bare message; value errors, rejections and refusals raised by the
//! database inside a script call (a nested auditor's `Reject`, a duplicate
//! key) pass through unchanged, as they do in Roundup. Other database
//! errors (no such item, no such property) are located like runtime
//! errors. Problems in the schema itself (bad options, links to undefined
//! classes) name the script and the problem.
//!
//! # Runtime
//!
//! Scripts are evaluated once; functions kept for later (checks, filters,
//! auditors, reactors) live in the frozen module and are wrapped in
//! `Send + Sync` types. Every call builds a fresh evaluator and passes the
//! open `Db` to native methods through `Evaluator::extra`, so a detector
//! calling `db.issue.set(...)` re-enters the same `Db` safely.

mod api;
mod check;
mod config;
mod convert;
mod ctx;
mod error;
mod filterspec;
mod run;
mod values;

use roundup_core::detectors::Detectors;
use roundup_core::schema::Schema;
use roundup_core::security::Security;

pub use config::ConfigView;
pub use error::ScriptError;

/// Evaluate `schema.py`: the schema (after `Schema::finish`) and the
/// security definitions (starting from `Security::with_builtins`).
pub fn load_schema(
    path_label: &str,
    source: &str,
    config: &ConfigView,
) -> Result<(Schema, Security), roundup_core::Error> {
    run::load_schema(path_label, source, config)
}

/// Evaluate each detector file (label, source) and call its `init(db)`;
/// returns the auditors and reactors registered.
pub fn load_detectors(
    files: &[(String, String)],
    schema: &Schema,
    config: &ConfigView,
) -> Result<Detectors, roundup_core::Error> {
    run::load_detectors(files, schema, config)
}

/// Run `initial_data.py` against an open database (which should act as
/// the admin user), with `db`, `adminpw` and `admin_email` predefined
/// (`db.config` is empty there). The caller commits.
pub fn run_initial_data(
    label: &str,
    source: &str,
    db: &roundup_core::Db,
    adminpw: &str,
    admin_email: &str,
) -> Result<(), roundup_core::Error> {
    run::run_initial_data(label, source, db, adminpw, admin_email)
}
