//! The change log: which items each commit changed, kept by the database
//! itself so that a process-wide read cache
//! ([`roundup_core::shared_cache`]) drops only those items after a commit
//! instead of everything.
//!
//! Triggers on every item table (`_<class>`) and multilink table
//! (`<class>_<prop>`) append `(class, nodeid)` to `rr_changes` whenever a
//! row is inserted, updated or deleted. Being triggers, they record the
//! writes of every writer of the database: this server, our admin and mail
//! gateway, and Roundup 2.6 itself working on the same file. Where a class
//! has computed (reverse) multilinks, a change of the forward link records
//! the linked items too, whose computed values it changed.
//!
//! The log keeps its last [`KEEP`] rows (a trigger on the log cuts it every
//! [`PRUNE_EVERY`] rows). A reader asks for the rows after the position it
//! is up to date with; when that row is gone (cut, or the log was made
//! anew), or when the triggers are not all there (Roundup 2.6 rebuilds an
//! item table when its schema changes, which drops the table's triggers;
//! a bulk load drops them while it runs), the answer is "everything may
//! have changed" and the cache starts over. The triggers are checked again
//! whenever the database's schema version moves, and whoever creates
//! missing ones also logs an "everything" row ([`EVERYTHING`]), so that a
//! reader that only looks after they are back still starts over.
//!
//! The statements inside the triggers are portable SQL; the table, the
//! trigger definitions and the catalogue look-ups are the engine's
//! ([`crate::sql::ChangeLogSql`], from [`crate::sql::Dialect::change_log`]).
//! An engine without them answers "everything" after every commit.

use std::collections::{BTreeMap, HashMap};

use roundup_core::schema::Schema;

use crate::layout;
use crate::sql::ChangeLogSql;

/// The log table. Not a Roundup table: Roundup 2.6 never reads it, and
/// its writes reach it only through the triggers.
pub const TABLE: &str = "rr_changes";

/// The class of a row that means "anything may have changed": written
/// when triggers are created where some were missing (a new log, a bulk
/// load's end, after Roundup 2.6 rebuilt a table), since whatever was
/// written meanwhile went unlogged.
pub const EVERYTHING: &str = "*";

/// The statement writing that row.
pub const EVERYTHING_ROW: &str = "insert into rr_changes (class, nodeid) values ('*', null)";

/// Every this many rows the log is cut back to its last [`KEEP`].
pub const PRUNE_EVERY: i64 = 1024;
/// Rows kept: a reader that falls further behind than this starts over.
pub const KEEP: i64 = 8192;

/// A reader that finds more rows than this after its position starts
/// over rather than dropping items one by one.
pub const MAX_ITEMS: usize = 4096;

/// Name prefix of every trigger of the log.
pub const PREFIX: &str = "rr_chg_";

/// A trigger of the log: its table and its definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub table: String,
    pub sql: String,
}

/// The triggers the schema wants, by name. A name ends with a hash of the
/// trigger's statements, so a trigger written for another schema (a
/// computed property added since) is told apart by its name alone.
pub fn triggers(schema: &Schema, engine: &dyn ChangeLogSql) -> BTreeMap<String, Trigger> {
    // For each forward property, the classes whose computed multilinks
    // follow it.
    let mut followers: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for target in schema.classes.values() {
        for p in target.props.values() {
            if let Some(from) = &p.computed {
                followers
                    .entry((from.class.as_str(), from.prop.as_str()))
                    .or_default()
                    .push(target.name.as_str());
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut add = |table: &str, event: &str, statements: Vec<String>| {
        let body: String = statements.iter().map(|s| format!(" {s};")).collect();
        let name = format!(
            "{PREFIX}{table}_{}_{:08x}",
            &event[..1],
            fnv1a(body.as_bytes())
        );
        let sql = engine.trigger(&name, event, table, None, body.trim_start());
        out.insert(
            name,
            Trigger {
                table: table.to_string(),
                sql,
            },
        );
    };
    let log = |class: &str, expr: &str| {
        format!("insert into {TABLE} (class, nodeid) values ('{class}', {expr})")
    };
    let log_if = |class: &str, expr: &str| {
        format!(
            "insert into {TABLE} (class, nodeid) select '{class}', {expr} where {expr} is not null"
        )
    };
    for class in schema.classes.values() {
        let cn = class.name.as_str();
        let table = layout::class_table(cn);
        // Statements recording the items whose computed multilinks follow
        // a Link of this row, as the row `row` (new/old) has it. Only this
        // row's own columns are named: a trigger that named another table
        // would fail every write once that table is gone.
        let link_targets = |row: &str| -> Vec<String> {
            class
                .props
                .iter()
                .filter(|(_, p)| p.is_link() && !p.is_computed())
                .flat_map(|(pname, _)| {
                    followers
                        .get(&(cn, pname.as_str()))
                        .into_iter()
                        .flatten()
                        .map(move |t| log_if(t, &format!("{row}._{pname}")))
                })
                .collect()
        };
        // Retiring or restoring the row may change what the computed
        // values following its Multilinks list. Their targets are in the
        // multilink table, which a trigger here must not name (Roundup 2.6
        // drops that table when the property goes, and a trigger naming it
        // would then fail every write): the whole class.
        let retire_targets: Vec<String> = class
            .multilink_props()
            .into_iter()
            .flat_map(|(pname, _)| followers.get(&(cn, pname)).into_iter().flatten())
            .map(|t| {
                format!(
                    "insert into {TABLE} (class, nodeid) select '{t}', null where old.__retired__ is not new.__retired__"
                )
            })
            .collect();
        let mut ins = vec![log(cn, "new.id")];
        ins.extend(link_targets("new"));
        add(&table, "insert", ins);
        let mut upd = vec![log(cn, "new.id")];
        upd.extend(link_targets("old"));
        upd.extend(link_targets("new"));
        upd.extend(retire_targets);
        add(&table, "update", upd);
        let mut del = vec![log(cn, "old.id")];
        del.extend(link_targets("old"));
        add(&table, "delete", del);
        for (pname, _) in class.multilink_props() {
            let mt = layout::multilink_table(cn, pname);
            let targets = followers.get(&(cn, pname)).cloned().unwrap_or_default();
            for (event, row) in [("insert", "new"), ("delete", "old")] {
                let mut v = vec![log(cn, &format!("{row}.nodeid"))];
                v.extend(targets.iter().map(|t| log(t, &format!("{row}.linkid"))));
                add(&mt, event, v);
            }
        }
    }
    let name = format!("{PREFIX}prune");
    let sql = engine.trigger(
        &name,
        "insert",
        TABLE,
        Some(&format!("new.seq % {PRUNE_EVERY} = 0")),
        &format!("delete from {TABLE} where seq <= new.seq - {KEEP};"),
    );
    out.insert(
        name,
        Trigger {
            table: TABLE.to_string(),
            sql,
        },
    );
    out
}

/// Whether every wanted trigger is among `existing` (by name).
pub fn complete<T, U>(wanted: &BTreeMap<String, T>, existing: &HashMap<String, U>) -> bool {
    wanted.keys().all(|n| existing.contains_key(n))
}

/// A hash of a trigger's text that stays the same from build to build
/// (32-bit FNV-1a): it goes into the trigger's name.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
