//! The command table and the commands.
//!
//! Every command Roundup 2.6's admin tool knows has an entry, so prefix
//! matching and "Multiple commands match" answers are the same as
//! Roundup's; commands not written yet say so. Adding one means writing
//! its function and pointing its entry at it.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{ClassDef, PropType};
use roundup_core::storage::JournalEntry;
use roundup_core::{Db, Error, Value, Values};
use roundup_tracker::{templates, Tracker};

use crate::format::{
    capitalize, date_str, fill, journal_repr, list_repr, ljust, str_repr, truncate_chars,
    tuple_repr, value_str,
};
use crate::{Admin, CmdError, CmdResult};

/// What a command needs before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Nothing (help, templates, genconfig).
    NoTracker,
    /// A tracker home path, not an opened tracker (install, initialise).
    Home,
    /// The opened tracker and a database connection.
    Db,
}

/// One command of the table.
pub struct Command {
    pub name: &'static str,
    /// The argument synopsis after `Usage: ` (Roundup's, for scripts and
    /// people who know them).
    pub synopsis: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// Further explanation (may be empty).
    pub details: &'static str,
    pub scope: Scope,
    pub run: fn(&mut Admin, &[String]) -> CmdResult,
}

macro_rules! cmd {
    ($name:expr, $syn:expr, $scope:ident, $run:expr, $summary:expr, $details:expr) => {
        Command {
            name: $name,
            synopsis: $syn,
            summary: $summary,
            details: $details,
            scope: Scope::$scope,
            run: $run,
        }
    };
}

/// All commands, in name order.
pub static COMMANDS: &[Command] = &[
    cmd!("commit", "commit", Db, do_commit,
        "Write the pending changes to the database.",
        "Outside the interactive shell every command is committed when it\nends, so this matters only inside the shell."),
    cmd!("create", "create classname property=value ...", Db, do_create,
        "Make a new item of a class.",
        "The new item gets the properties given as name=value pairs and its id\nis printed. Without any pairs each property is asked for in turn."),
    cmd!("display", "display designator[,designator]*", Db, do_display,
        "Print every property of one or more items.",
        "A designator names an item: the class name directly followed by the\nitem id, such as issue12 or user3. The display_protected pragma adds\nthe automatic properties (marked with *), display_header a heading\nwith the item's active or retired state."),
    cmd!("export", "export [[-]class[,class]] export_dir", Db, crate::maint::do_export,
        "Write the database and file contents to CSV files.",
        "Each class goes to <class>.csv (a header row, then one row per item,\nretired ones included) and its history to <class>-journals.csv, in\nRoundup's colon-separated format; file contents go below\n<class>-files/. A first argument \"issue,user\" limits the export to\nthose classes, \"-msg,file\" leaves those out."),
    cmd!("exporttables", "exporttables [[-]class[,class]] export_dir", Db, crate::maint::do_exporttables,
        "Write the database (without file contents) to CSV files.",
        "Like export, but the contents of files and messages stay behind (copy\nthe db/files directory separately)."),
    cmd!("filter", "filter classname propname=value ...", Db, do_filter,
        "Search a class with property conditions.",
        "Prints the ids of the items meeting every condition. Several values\nmay be given separated by commas: for text properties each of them has\nto occur, for links any one of them may match. A property may be a\npath through links such as assignedto.username."),
    cmd!("find", "find classname propname=value ...", Db, do_find,
        "Find the items linking to given items.",
        "The properties must be Link or Multilink properties; the values may\nbe ids or key values of the linked class, several separated by commas.\nAn item matches when any of the conditions holds."),
    cmd!("genconfig", "genconfig filename", NoTracker, do_genconfig,
        "Write a config.ini with every option at its default.",
        "The settings of the current tracker are not carried over (use\nupdateconfig for that)."),
    cmd!("get", "get property designator[,designator]*", Db, do_get,
        "Print one property of one or more items.",
        "A designator names an item: the class name directly followed by the\nitem id, such as issue12 or user3. With -d, -c, -s or -S the property\nmust be a Link or Multilink and its items are printed one by one."),
    cmd!("help", "help topic", NoTracker, do_help,
        "Explain a command or a topic.",
        "Topics:\n  commands   the list of commands\n  <command>  what that command does\n  initopts   templates and backends for install\n  all        everything"),
    cmd!("history", "history designator [skipquiet] [raw]", Db, do_history,
        "Print the change log of an item.",
        "Only changes the user may see are listed. skipquiet leaves out changes\nof quiet properties; raw prints the journal entries as data."),
    cmd!("import", "import import_dir", Db, crate::maint::do_import,
        "Load exported CSV files into the database.",
        "Items keep their ids, dates, creators, history and retired state; an\nitem with the same id is replaced. Either everything is imported or,\nwhen a file has a bad row, nothing is (the error names the file and\nline). Outside the shell the import is committed when it ends."),
    cmd!("importtables", "importtables export_dir", Db, crate::maint::do_importtables,
        "Load CSV files written by exporttables.",
        "Like import, without reading file contents."),
    cmd!("initialise", "initialise [adminpw]", Home, do_initialise,
        "Create the tracker's database and its initial items.",
        "The password of the admin user is asked for (twice) unless given.\nAn existing database is destroyed after confirmation."),
    cmd!("install", "install [template [backend [key=val[,key=val]]]]", Home, do_install,
        "Create a new tracker home from a template.",
        "Missing template and backend names are asked for. The third argument\nsets config.ini options by their section_option names, for example\n\"web_http_auth=no,mail_domain=example.com\" (no spaces, or quote the\nwhole argument). Run initialise afterwards to create the database."),
    cmd!("list", "list classname [property]", Db, do_list,
        "List the items of a class.",
        "Each line shows an item id and its label (the key property, name,\ntitle, or the first property by name) or the property given. With -c,\n-s or -S the ids (or property values) are printed on one line. The\nshow_retired pragma selects active, retired or all items."),
    cmd!("migrate", "migrate", Db, crate::maint::do_migrate,
        "Bring the database up to the current schema version.",
        "Run it once after upgrading; it says whether anything had to change.\nRunning it again does no harm."),
    cmd!("outbox", "outbox [list | send | send all]", Db, crate::maint::do_outbox,
        "Show or send the mail waiting in the outbox.",
        "Notifications are kept in the tracker database until the mail server\ntakes them. \"list\" (the default) shows each waiting message with its\nrecipients, failed tries and next retry time; \"send\" delivers those\ndue now, \"send all\" every one. The exit status is 1 when a delivery\nfailed. (Not in Roundup, which sends mail without an outbox.)"),
    cmd!("pack", "pack period | date", Db, crate::maint::do_pack,
        "Delete journal entries older than a date or period.",
        "A date is yyyy-mm-dd; a period counts back from now in years (y),\nmonths (m), weeks (w) and days (d), e.g. 3y, \"1m 25d\" or 2w. The\nentries recording the creation of items are kept."),
    cmd!("perftest", "perftest [mode] [arguments]*", Db, crate::maint::do_perftest,
        "Time password hashing.",
        "The only mode is password (the default). rounds=N (commas or dots\nallowed as thousands separators) overrides the PBKDF2 rounds from\nconfig.ini, scheme=NAME the hashing scheme; \"scheme=\" lists them."),
    cmd!("pragma", "pragma setting=value | 'list'", Db, do_pragma,
        "Change or show the tool's own settings.",
        "\"pragma list\" shows them; \"pragma name=value\" sets one, as -P does."),
    cmd!("readline", "readline initrc_line | 'emacs' | 'history' | 'reload' | 'vi'", Db, crate::maint::do_readline,
        "Configure line editing in the interactive shell.",
        "vi and emacs pick the editing keys, history lists the lines entered,\nreload rereads ~/.roundup_admin_rlrc. Of the readline init-file\nsettings only \"set editing-mode vi|emacs\" is understood."),
    cmd!("reindex", "reindex [classname|classname:#-#|designator]*", Db, crate::maint::do_reindex,
        "Rebuild the full-text index.",
        "Without arguments every class is reindexed. issue:23-1000 reindexes\nthe items 23 to 999 of issue (missing ones are reported and skipped)."),
    cmd!("restore", "restore designator[,designator]*", Db, do_restore,
        "Bring retired items back.",
        "A designator names an item: the class name directly followed by the\nitem id, such as issue12 or user3."),
    cmd!("retire", "retire designator[,designator]*", Db, do_retire,
        "Retire items.",
        "Retired items keep their data but drop out of lists and searches, and\ntheir key values become free. See also restore."),
    cmd!("rollback", "rollback", Db, do_rollback,
        "Throw away the changes not yet committed.",
        "Useful inside the interactive shell; one-off commands are committed\nwhen they end."),
    cmd!("security", "security [Role name]", Db, do_security,
        "Show the permissions of one role or of all roles.",
        "Property names in permissions are checked against the schema, so\nrun this after editing the permissions in schema.py."),
    cmd!("set", "set items property=value [property=value ...]", Db, do_set,
        "Change properties of items.",
        "The items are a class name (meaning all its items) or designators\nseparated by commas. \"property=\" with nothing after the = unsets the\nproperty. Multilink values are comma lists of ids or keys; +x adds to\nand -x removes from the current list."),
    cmd!("specification", "specification classname", Db, do_specification,
        "Show the properties of a class and their types.",
        "The display_protected pragma adds the automatic properties."),
    cmd!("table", "table classname [property[,property]*]", Db, do_table,
        "Print the items of a class as a table.",
        "Without a property list every property is a column. Columns are as\nwide as their widest value unless given as name:width; name: makes the\ncolumn as wide as its heading. The show_retired pragma selects active,\nretired or all items."),
    cmd!("templates", "templates [trace_search]", NoTracker, do_templates,
        "List the tracker templates available to install.",
        "Templates are built into this program."),
    cmd!("updateconfig", "updateconfig <filename>", Db, crate::maint::do_updateconfig,
        "Write the tracker's config.ini merged with new options.",
        "Every option keeps the value set in the tracker's config.ini; options\nit lacks get their defaults, with their descriptions. Remarks about\nsettings worth changing are printed."),
];

/// The command called `name`, or the only command `name` abbreviates.
/// Otherwise the (possibly empty) list of commands it could mean.
pub fn find_command(name: &str) -> Result<&'static Command, Vec<&'static Command>> {
    if let Some(c) = COMMANDS.iter().find(|c| c.name == name) {
        return Ok(c);
    }
    let matches: Vec<&Command> = COMMANDS
        .iter()
        .filter(|c| c.name.starts_with(name))
        .collect();
    if matches.len() == 1 {
        Ok(matches[0])
    } else {
        Err(matches)
    }
}

// --------------------------------------------------------------------------
// help

/// The help of one command: its usage line, then its explanation.
pub fn print_command_help(cmd: &Command) {
    println!("Usage: {}", cmd.synopsis);
    println!("{}", cmd.summary);
    if !cmd.details.is_empty() {
        println!();
        println!("{}", cmd.details);
    }
    println!();
}

/// The general usage text (for -h and option errors).
pub fn usage(problem: Option<&str>) {
    if let Some(p) = problem {
        println!("Problem: {p}\n");
    }
    print!(
        "Usage: roundup-admin [options] [<command> <arguments>]

Options:
 -i tracker_home  the tracker home to work on (or set TRACKER_HOME)
 -u user[:pw]     the user whose name goes into the history (default admin;
                  ROUNDUP_LOGIN works too; the password is not checked)
 -d               print designators (issue12) instead of bare ids
 -c               separate list output with commas (same as -S \",\")
 -S <string>      separate list output with the string
 -s               separate list output with spaces (same as -S \" \")
 -P pragma=value  set a pragma; may be repeated
 -V               verbose output
 -v               print the version and stop
 -h               print this text

 -c, -s and -S exclude each other.

Help:
 roundup-admin help              help on the help command
 roundup-admin help commands     the command list
 roundup-admin help <command>    help on one command
 roundup-admin help all          everything
"
    );
    help_commands();
}

fn help_commands() {
    println!("Commands:");
    for c in COMMANDS {
        println!(" {}", c.synopsis);
    }
    println!("A command may be shortened to any prefix that only it has (l for list).\n");
}

fn help_all() {
    print!(
        "
Everything except help, templates and genconfig works on a tracker home,
given with -i or in the TRACKER_HOME environment variable.

A designator names one item: a class name directly followed by an item
id, such as issue12 or user3.

Values on the command line and in the output are text:
 - Strings as they are; unset values print as None.
 - Dates as yyyy-mm-dd.HH:MM:SS in UTC; input may also be partial
   (2003-04-17, 14:25, 01-25) or \".\" for now.
 - Links as item ids; input may be an id or the key of the linked item.
 - Multilinks as lists of ids; input is a comma-separated list of ids or
   keys, where +x adds and -x removes an entry.
 - Passwords print in their hashed form.

Arguments containing spaces must be quoted for the shell.

Changes are recorded as made by the -u user (or ROUNDUP_LOGIN), admin by
default; that user needs no password and gets no special checks.

Commands:
"
    );
    for c in COMMANDS {
        println!("{}:", c.name);
        print_command_help(c);
    }
}

fn help_initopts() {
    let names: Vec<String> = templates::list().into_iter().map(|t| t.name).collect();
    println!("Templates: {}", names.join(", "));
    println!("Back ends: {}", BACKENDS.join(", "));
}

/// `help [topic]`.
pub fn help(args: &[String]) -> i32 {
    let topic = args.first().map(String::as_str).unwrap_or("help");
    match topic {
        "commands" => help_commands(),
        "all" => help_all(),
        "initopts" => help_initopts(),
        _ => {
            let matches: Vec<&Command> = match find_command(topic) {
                Ok(c) => vec![c],
                Err(m) => m,
            };
            if matches.is_empty() {
                println!("Sorry, no help for \"{topic}\"");
                return 1;
            }
            for c in matches {
                print_command_help(c);
            }
        }
    }
    0
}

fn do_help(_admin: &mut Admin, args: &[String]) -> CmdResult {
    help(args);
    Ok(0)
}

// --------------------------------------------------------------------------
// shared helpers

pub(crate) const NOT_ENOUGH: &str = "Not enough arguments supplied";

/// Split `issue12` into `("issue", "12")` by the core's designator rule.
pub fn split_designator(d: &str) -> Result<(String, String), CmdError> {
    roundup_core::designator::split(d)
        .map(|(class, id)| (class.to_string(), id.to_string()))
        .map_err(|e| CmdError::usage(e.to_string()))
}

pub(crate) fn get_class<'a>(db: &'a Db, name: &str) -> Result<&'a ClassDef, CmdError> {
    db.schema()
        .classes
        .get(name)
        .ok_or_else(|| CmdError::usage(format!("no such class \"{name}\"")))
}

/// `name=value` arguments in order (a repeated name keeps its first place
/// and its last value); an empty value is `None`.
pub(crate) fn props_from_args(args: &[String]) -> Result<Vec<(String, Option<String>)>, CmdError> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for arg in args {
        let Some((k, v)) = arg.split_once('=') else {
            return Err(CmdError::usage(format!(
                "argument \"{arg}\" not propname=value"
            )));
        };
        let v = if v.is_empty() {
            None
        } else {
            Some(v.to_string())
        };
        match out.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k.to_string(), v)),
        }
    }
    Ok(out)
}

pub(crate) fn usage_err(e: Error) -> CmdError {
    CmdError::Usage(e.to_string())
}

pub(crate) fn failed(e: Error) -> CmdError {
    CmdError::Failed(e.to_string())
}

/// Whether `value` can stand for an item of `target`: a number (taken as
/// an id, as Roundup does) or the key of an active item.
fn link_value_ok(db: &Db, target: &str, value: &str) -> Result<bool, CmdError> {
    let v = value.trim();
    let numeric = v.strip_prefix('-').unwrap_or(v);
    if !numeric.is_empty() && numeric.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(true);
    }
    let cls = get_class(db, target)?;
    if cls.key.is_none() {
        return Ok(false);
    }
    match db.lookup(target, v) {
        Ok(_) => Ok(true),
        Err(Error::NoSuchKey { .. }) => Ok(false),
        Err(e) => Err(failed(e)),
    }
}

/// Convert command-line text to a property value, with Roundup's messages
/// for the common mistakes. `None` (from `prop=`) unsets.
fn convert(
    db: &Db,
    class: &str,
    prop: &str,
    raw: Option<&str>,
    itemid: Option<&str>,
) -> Result<Option<Value>, CmdError> {
    let cls = get_class(db, class)?;
    let Some(p) = cls.prop(prop) else {
        return Err(CmdError::usage(format!(
            "{} is not a property of {class}",
            str_repr(prop)
        )));
    };
    let Some(raw) = raw else {
        return Ok(match p.ptype {
            PropType::Multilink => Some(Value::Multilink(Vec::new())),
            _ => None,
        });
    };
    let bad = |what: &str| {
        CmdError::usage(format!(
            "property {prop}: {} is not {what}",
            str_repr(raw.trim())
        ))
    };
    match p.ptype {
        PropType::Number => {
            raw.trim().parse::<f64>().map_err(|_| bad("a number"))?;
        }
        PropType::Integer => {
            raw.trim().parse::<i64>().map_err(|_| bad("an integer"))?;
        }
        PropType::Link | PropType::Multilink => {
            let target = p.link_class.as_deref().unwrap_or_default();
            let parts: Vec<&str> = if p.raw_means_unset(raw) {
                Vec::new()
            } else if p.ptype == PropType::Link {
                vec![raw.trim()]
            } else {
                raw.split(',')
                    .map(|s| s.trim())
                    .map(|s| s.strip_prefix(['+', '-']).unwrap_or(s).trim())
                    .collect()
            };
            for part in parts.into_iter().filter(|s| !s.is_empty()) {
                if !link_value_ok(db, target, part)? {
                    return Err(CmdError::usage(format!(
                        "property {prop}: {} is not a {target}.",
                        str_repr(part)
                    )));
                }
            }
        }
        _ => {}
    }
    db.raw_to_value(class, prop, raw, itemid).map_err(usage_err)
}

/// Ids of a class as the show_retired pragma selects them: active ones,
/// retired ones, or active then retired.
fn node_ids(admin: &Admin, db: &Db, class: &str) -> Result<Vec<String>, CmdError> {
    match admin.settings.show_retired.filter() {
        Some(false) => db.list(class).map_err(failed),
        Some(true) => db.getnodeids(class, Some(true)).map_err(failed),
        None => {
            let mut ids = db.list(class).map_err(failed)?;
            ids.extend(db.getnodeids(class, Some(true)).map_err(failed)?);
            Ok(ids)
        }
    }
}

/// A property value for printing, `id` included.
fn get_value(db: &Db, class: &str, id: &str, prop: &str) -> Result<Option<Value>, Error> {
    db.get(class, id, prop)
}

/// Print a list of ids the way find and filter do.
fn print_ids(admin: &Admin, class: &str, ids: Vec<String>) {
    let ids: Vec<String> = if admin.print_designator {
        ids.into_iter().map(|i| format!("{class}{i}")).collect()
    } else {
        ids
    };
    match &admin.separator {
        Some(sep) => println!("{}", ids.join(sep)),
        None => println!("{}", list_repr(&ids)),
    }
}

// --------------------------------------------------------------------------
// transaction commands

fn do_commit(admin: &mut Admin, _args: &[String]) -> CmdResult {
    admin.db()?.commit().map_err(failed)?;
    Ok(0)
}

fn do_rollback(admin: &mut Admin, _args: &[String]) -> CmdResult {
    admin.db()?.rollback().map_err(failed)?;
    Ok(0)
}

fn do_pragma(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(arg) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    if arg == "list" {
        println!("Current settings and values:");
        for (name, value) in admin.settings.list() {
            if name.starts_with('_') && !admin.settings.verbose {
                continue;
            }
            println!("   {name}={value}");
        }
        return Ok(0);
    }
    admin.settings.apply(arg).map_err(CmdError::Usage)?;
    Ok(0)
}

// --------------------------------------------------------------------------
// reading

fn do_list(admin: &mut Admin, args: &[String]) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::usage("Too many arguments supplied"));
    }
    let Some(classname) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let db = admin.db()?;
    let cls = get_class(db, classname)?;
    let prop = match args.get(1) {
        Some(p) => p.clone(),
        None => cls.label_prop(false),
    };
    let ids = node_ids(admin, db, classname)?;
    let no_prop = || CmdError::usage(format!("{classname} has no property \"{prop}\""));
    if prop != "id" && cls.prop(&prop).is_none() && !ids.is_empty() {
        return Err(no_prop());
    }
    match &admin.separator {
        Some(sep) if args.len() == 2 => {
            let mut values = Vec::new();
            for id in &ids {
                values.push(value_str(
                    &get_value(db, classname, id, &prop).map_err(failed)?,
                ));
            }
            println!("{}", values.join(sep));
        }
        Some(sep) => println!("{}", ids.join(sep)),
        None => {
            for id in &ids {
                let v = value_str(&get_value(db, classname, id, &prop).map_err(failed)?);
                println!("{id:>4}: {v}");
            }
        }
    }
    Ok(0)
}

fn do_get(admin: &mut Admin, args: &[String]) -> CmdResult {
    if args.len() < 2 {
        return Err(CmdError::usage(NOT_ENOUGH));
    }
    let prop = &args[0];
    let db = admin.db()?;
    for designator in args[1].split(',') {
        let (classname, id) = split_designator(designator)?;
        let cls = get_class(db, &classname)?;
        let Some(p) = cls.prop(prop) else {
            return Err(CmdError::usage(format!(
                "no such {classname} property \"{prop}\""
            )));
        };
        if !db.has_node(&classname, &id).map_err(failed)? {
            return Err(CmdError::usage(format!(
                "no such {classname} node \"{id}\""
            )));
        }
        let value = get_value(db, &classname, &id, prop).map_err(failed)?;
        if admin.separator.is_none() && !admin.print_designator {
            println!("{}", value_str(&value));
            continue;
        }
        if !p.is_pointer() {
            return Err(CmdError::usage(format!(
                "property {prop} is not of type Multilink or Link so -d flag does not apply."
            )));
        }
        let target = p.link_class.clone().unwrap_or_default();
        let mut items: Vec<String> = match value {
            Some(Value::Multilink(ids)) => ids,
            Some(Value::Link(id)) | Some(Value::String(id)) => vec![id],
            _ => Vec::new(),
        };
        if admin.print_designator {
            items = items.into_iter().map(|i| format!("{target}{i}")).collect();
        }
        match &admin.separator {
            Some(sep) => println!("{}", items.join(sep)),
            None => println!("{}", items.join("\n")),
        }
    }
    Ok(0)
}

fn do_display(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(list) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let db = admin.db()?;
    let protected = admin.settings.display_protected;
    let header = admin.settings.display_header;
    for designator in list.split(',') {
        let (classname, id) = split_designator(designator)?;
        let cls = get_class(db, &classname)?;
        if !db.has_node(&classname, &id).map_err(failed)? {
            return Err(CmdError::usage(format!(
                "no such {classname} node \"{id}\""
            )));
        }
        let mut normal: Vec<String> = cls.prop_names(false);
        normal.sort();
        let keys = if protected {
            let mut all = cls.prop_names(true);
            all.sort();
            all
        } else {
            normal.clone()
        };
        if header {
            let state = if db.is_retired(&classname, &id).map_err(failed)? {
                "retired"
            } else {
                "active"
            };
            println!("\n[{designator} ({state})]");
        }
        for key in keys {
            let value = value_str(&get_value(db, &classname, &id, &key).map_err(failed)?);
            let mark = if protected || header {
                if normal.contains(&key) {
                    " "
                } else {
                    "*"
                }
            } else {
                ""
            };
            println!("{mark}{key}: {value}");
        }
    }
    Ok(0)
}

fn do_specification(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(classname) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let db = admin.db()?;
    let cls = get_class(db, classname)?;
    for name in cls.prop_names(admin.settings.display_protected) {
        let Some(p) = cls.prop(&name) else { continue };
        if cls.key.as_deref() == Some(name.as_str()) {
            println!("{name}: {} (key property)", p.schema_repr());
        } else {
            println!("{name}: {}", p.schema_repr());
        }
    }
    Ok(0)
}

fn do_table(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(classname) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let db = admin.db()?;
    let cls = get_class(db, classname)?;
    let specs: Vec<String> = match args.get(1) {
        Some(list) => {
            let specs: Vec<String> = list.split(',').map(str::to_string).collect();
            for spec in &specs {
                let name = if spec.contains(':') {
                    let parts: Vec<&str> = spec.split(':').collect();
                    if parts.len() != 2 {
                        return Err(CmdError::usage(format!("\"{spec}\" not name:width")));
                    }
                    parts[0]
                } else {
                    spec.as_str()
                };
                if cls.prop(name).is_none() {
                    return Err(CmdError::usage(format!(
                        "{classname} has no property \"{name}\""
                    )));
                }
            }
            specs
        }
        None => cls.prop_names(true),
    };
    let ids = node_ids(admin, db, classname)?;
    let cell = |id: &str, name: &str| -> Result<String, CmdError> {
        if name == "id" {
            return Ok(id.to_string());
        }
        Ok(value_str(
            &get_value(db, classname, id, name).map_err(failed)?,
        ))
    };
    let mut columns: Vec<(String, usize)> = Vec::new();
    for spec in &specs {
        match spec.split_once(':') {
            Some((name, "")) => columns.push((name.to_string(), name.chars().count())),
            Some((name, width)) => {
                let w: usize = width.parse().map_err(|_| {
                    CmdError::usage(format!(
                        "\"{spec}\" does not have an integer width: \"{width}\""
                    ))
                })?;
                columns.push((name.to_string(), w));
            }
            None => {
                let mut width = spec.chars().count();
                for id in &ids {
                    width = width.max(cell(id, spec)?.chars().count());
                }
                columns.push((spec.clone(), width));
            }
        }
    }
    let heading: Vec<String> = columns
        .iter()
        .map(|(name, w)| ljust(&capitalize(name), *w))
        .collect();
    println!("{}", heading.join(" "));
    for id in &ids {
        let mut row = Vec::new();
        for (name, w) in &columns {
            row.push(ljust(&truncate_chars(&cell(id, name)?, *w), *w));
        }
        println!("{}", row.join(" "));
    }
    Ok(0)
}

fn do_find(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(classname) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let db = admin.db()?;
    let cls = get_class(db, classname)?;
    let props = props_from_args(&args[1..])?;
    let mut spec: Vec<(String, Vec<String>)> = Vec::new();
    for (prop, raw) in &props {
        let raw = raw.as_deref().unwrap_or("");
        let mut ids: Vec<String> = Vec::new();
        for value in raw.split(',') {
            match convert(db, classname, prop, Some(value), None)? {
                Some(Value::Multilink(v)) => ids.extend(v),
                Some(Value::Link(v)) | Some(Value::String(v)) => ids.push(v),
                // A Link given as "not set" (-1) finds the items without one.
                None => ids.push("-1".to_string()),
                _ => {}
            }
        }
        let p = cls
            .prop(prop)
            .ok_or_else(|| CmdError::usage(format!("{classname} has no property \"{prop}\"")))?;
        if !p.is_pointer() {
            return Err(CmdError::usage(format!(
                "{} not a Link/Multilink property",
                str_repr(prop)
            )));
        }
        spec.push((prop.clone(), ids));
    }
    let refs: Vec<(&str, Vec<String>)> =
        spec.iter().map(|(p, v)| (p.as_str(), v.clone())).collect();
    let ids = if refs.is_empty() {
        Vec::new()
    } else {
        db.find(classname, &refs).map_err(usage_err)?
    };
    print_ids(admin, classname, ids);
    Ok(0)
}

fn do_filter(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(classname) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let db = admin.db()?;
    let root = get_class(db, classname)?;
    let props = props_from_args(&args[1..])?;
    let mut spec = FilterSpec::default();
    for (path, raw) in &props {
        let raw = raw.as_deref().unwrap_or("");
        // Walk a dotted path to the class holding its last property.
        let mut owner = root;
        let mut last = path.as_str();
        if path.contains('.') {
            for step in path.split('.') {
                last = step;
                let Some(p) = owner.prop(step) else {
                    return Err(CmdError::usage(format!(
                        "Class {} has no property {step} in {path}.",
                        owner.name
                    )));
                };
                if let (true, Some(target)) = (p.is_pointer(), &p.link_class) {
                    owner = get_class(db, target)?;
                }
            }
        }
        let values: Vec<String> = raw.split(',').map(str::to_string).collect();
        for v in &values {
            convert(db, &owner.name, last, Some(v), None)?;
        }
        spec.filterspec
            .push((path.clone(), SpecValue::Many(values)));
    }
    let ids = db.filter(classname, &spec).map_err(usage_err)?;
    print_ids(admin, classname, ids);
    Ok(0)
}

// --------------------------------------------------------------------------
// history

/// The label of a linked item for history lines, when the linked class
/// has a label other than its id or title.
fn link_label(db: &Db, class: &ClassDef, prop: &str, id: &str) -> Option<String> {
    let p = class.props.get(prop)?;
    let target = db.schema().classes.get(p.link_class.as_deref()?)?;
    let label = target.label_prop(true);
    if label == "id" || label == "title" {
        return None;
    }
    match db.get(&target.name, id, &label) {
        Ok(Some(v)) => Some(v.to_string()),
        _ => None,
    }
}

fn link_target(class: &ClassDef, prop: &str) -> Option<String> {
    class.props.get(prop).and_then(|p| p.link_class.clone())
}

/// `name(id), name(id)` or `class1, class2` or plain ids.
fn describe_ids(db: &Db, class: &ClassDef, prop: &str, ids: &[String]) -> String {
    let first_named = ids
        .first()
        .and_then(|first| link_label(db, class, prop, first))
        .is_some();
    let items: Vec<String> = if first_named {
        ids.iter()
            .map(|id| {
                let name = link_label(db, class, prop, id).unwrap_or_else(|| "None".into());
                format!("{name}({id})")
            })
            .collect()
    } else if let Some(target) = link_target(class, prop) {
        ids.iter().map(|id| format!("{target}{id}")).collect()
    } else {
        ids.to_vec()
    };
    items.join(", ")
}

fn str_items(v: &PyValue) -> Vec<String> {
    match v {
        PyValue::List(items) | PyValue::Tuple(items) => items
            .iter()
            .map(|i| match i {
                PyValue::Str(s) => s.clone(),
                other => roundup_core::pyrepr::repr(other),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn py_str(v: &PyValue) -> String {
    match v {
        PyValue::Str(s) => s.clone(),
        other => roundup_core::pyrepr::repr(other),
    }
}

fn describe_set(db: &Db, class: &ClassDef, params: &PyValue) -> String {
    let PyValue::Dict(pairs) = params else {
        return roundup_core::pyrepr::repr(params);
    };
    let mut parts = Vec::new();
    for (k, v) in pairs {
        let prop = py_str(k);
        match v {
            PyValue::Str(s) => match link_label(db, class, &prop, s) {
                Some(name) if !name.is_empty() => parts.push(format!("{prop} was {name}({s})")),
                _ => parts.push(format!("{prop} was {}", str_repr(s))),
            },
            PyValue::List(_) => {
                let ids = str_items(v);
                parts.push(format!(
                    "{prop} was [{}]",
                    describe_ids(db, class, &prop, &ids)
                ));
            }
            PyValue::Tuple(ops) => {
                let mut how = Vec::new();
                for op in ops {
                    if let PyValue::Tuple(pair) = op {
                        if let [sign, ids] = pair.as_slice() {
                            let word = if py_str(sign) == "-" {
                                "removed"
                            } else {
                                "added"
                            };
                            let ids = str_items(ids);
                            how.push(format!("{word}: {}", describe_ids(db, class, &prop, &ids)));
                        }
                    }
                }
                parts.push(format!("modified {prop}: {}", how.join(", ")));
            }
            other => parts.push(format!(
                "{prop} was {}",
                match other {
                    PyValue::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                    o => roundup_core::pyrepr::repr(o),
                }
            )),
        }
    }
    parts.join("; ")
}

/// The journal entries the user may see (Roundup's `history()` with
/// permission checks), with set entries reduced to visible properties.
fn visible_history(
    db: &Db,
    class: &ClassDef,
    id: &str,
    skipquiet: bool,
) -> Result<Vec<JournalEntry>, CmdError> {
    let may = |cls: &str, prop: Option<&str>, item: Option<&str>| -> Result<bool, CmdError> {
        Ok(db
            .has_permission("View", Some(cls), prop, item)
            .map_err(failed)?
            || db
                .has_permission("Edit", Some(cls), prop, item)
                .map_err(failed)?)
    };
    let mut out = Vec::new();
    for mut entry in db.history(&class.name, id).map_err(failed)? {
        match (&entry.action[..], &mut entry.params) {
            (_, PyValue::Dict(pairs)) if !pairs.is_empty() => {
                let mut kept = Vec::new();
                for (k, v) in pairs.drain(..) {
                    let prop = py_str(&k);
                    let Some(p) = class.props.get(&prop) else {
                        continue;
                    };
                    if skipquiet && p.quiet {
                        continue;
                    }
                    if !may(&class.name, Some(&prop), Some(id))? {
                        continue;
                    }
                    kept.push((k, v));
                }
                if kept.is_empty() {
                    continue;
                }
                // Roundup stores journal params with their keys sorted.
                kept.sort_by_key(|(k, _)| py_str(k));
                *pairs = kept;
                out.push(entry);
            }
            ("link" | "unlink", PyValue::Tuple(items)) if items.len() == 3 => {
                let (lcls, lid, key) = (py_str(&items[0]), py_str(&items[1]), py_str(&items[2]));
                let Some(other) = db.schema().classes.get(&lcls) else {
                    continue;
                };
                let Some(p) = other.props.get(&key) else {
                    continue;
                };
                if !db.has_node(&lcls, &lid).map_err(failed)? {
                    continue;
                }
                if skipquiet && p.quiet {
                    continue;
                }
                if !may(&lcls, Some(&key), None)? || !may(&lcls, None, Some(&lid))? {
                    continue;
                }
                out.push(entry);
            }
            ("create" | "retired" | "restored", _) => out.push(entry),
            (_, PyValue::Dict(_)) => out.push(entry),
            _ => {}
        }
    }
    Ok(out)
}

fn do_history(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(designator) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let (classname, id) = split_designator(designator)?;
    let bad: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "skipquiet" && *a != "raw")
        .collect();
    if !bad.is_empty() {
        return Err(CmdError::usage(format!(
            "Unexpected argument(s): {}. Expected 'skipquiet' or 'raw'.",
            bad.join(", ")
        )));
    }
    let skipquiet = args[1..].iter().any(|a| a == "skipquiet");
    let raw = args[1..].iter().any(|a| a == "raw");
    let db = admin.db()?;
    let cls = get_class(db, &classname)?;
    if !db.has_node(&classname, &id).map_err(failed)? {
        return Err(CmdError::usage(format!(
            "no such {classname} node \"{id}\""
        )));
    }
    let entries = visible_history(db, cls, &id, skipquiet)?;
    if raw {
        println!("{}", journal_repr(&entries));
        return Ok(0);
    }
    let mut lines = Vec::new();
    for e in &entries {
        let who = match db.get("user", &e.tag, "username") {
            Ok(Some(v)) => v.to_string(),
            _ => "None".to_string(),
        };
        let what = match e.action.as_str() {
            "create" | "retired" | "restored" => classname.clone(),
            "set" => describe_set(db, cls, &e.params),
            "link" | "unlink" => {
                let items = str_items(&e.params);
                match (e.action.as_str(), items.as_slice()) {
                    ("link", [c, i, p]) => format!("added {c}{i} to {p}"),
                    (_, [c, i, p]) => format!("removed {c}{i} from {p}"),
                    _ => roundup_core::pyrepr::repr(&e.params),
                }
            }
            _ => roundup_core::pyrepr::repr(&e.params),
        };
        lines.push(format!("{who}({}) {} {what}", date_str(&e.date), e.action));
    }
    println!("{}", lines.join("\n"));
    Ok(0)
}

// --------------------------------------------------------------------------
// writing

fn check_key_free(
    db: &Db,
    cls: &ClassDef,
    values: &Values,
    except: Option<&str>,
) -> Result<(), CmdError> {
    let Some(key) = &cls.key else { return Ok(()) };
    if let Some(Some(Value::String(k))) = values.get(key) {
        match db.lookup(&cls.name, k) {
            Ok(id) if Some(id.as_str()) != except => {
                return Err(CmdError::usage(format!("node with key \"{k}\" exists")))
            }
            _ => {}
        }
    }
    Ok(())
}

fn do_create(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(classname) = args.first().cloned() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let cls = get_class(admin.db()?, &classname)?.clone();
    let mut raw: Vec<(String, Option<String>)> = Vec::new();
    if args.len() == 1 {
        for (name, p) in &cls.props {
            if p.is_computed() {
                continue;
            }
            let label = capitalize(name);
            let value = if p.ptype == PropType::Password {
                loop {
                    let first = admin.ask_secret(&format!("{label} (Password): "))?;
                    let again = admin.ask_secret(&format!("   {label} (Again): "))?;
                    if first == again {
                        break first;
                    }
                    println!("The two entries differ; please try again.");
                }
            } else {
                admin.ask(&format!("{label} ({}): ", p.ptype.name()))?
            };
            if !value.is_empty() {
                raw.push((name.clone(), Some(value)));
            }
        }
    } else {
        raw = props_from_args(&args[1..])?;
    }
    let db = admin.db()?;
    let mut values: Values = Values::new();
    for (prop, v) in &raw {
        let value = convert(db, &classname, prop, v.as_deref(), None)?;
        if v.is_none()
            && cls
                .props
                .get(prop)
                .is_some_and(|p| p.ptype == PropType::String)
        {
            return Err(CmdError::usage(format!(
                "new property \"{prop}\" not a string"
            )));
        }
        values.insert(prop.clone(), value);
    }
    if let Some(key) = &cls.key {
        if !values.contains_key(key) {
            return Err(CmdError::usage(format!(
                "you must provide the \"{key}\" property."
            )));
        }
    }
    check_key_free(db, &cls, &values, None)?;
    let id = db.create(&classname, values).map_err(usage_err)?;
    println!("{id}");
    Ok(0)
}

fn do_set(admin: &mut Admin, args: &[String]) -> CmdResult {
    if args.len() < 2 {
        return Err(CmdError::usage(NOT_ENOUGH));
    }
    let db = admin.db()?;
    let list: Vec<&str> = args[0].split(',').collect();
    let targets: Vec<(String, String)> = if list.len() == 1 {
        match split_designator(list[0]) {
            Ok(d) => vec![d],
            Err(_) => {
                get_class(db, list[0])?;
                db.list(list[0])
                    .map_err(failed)?
                    .into_iter()
                    .map(|id| (list[0].to_string(), id))
                    .collect()
            }
        }
    } else {
        list.iter()
            .map(|d| split_designator(d))
            .collect::<Result<_, _>>()?
    };
    let raw = props_from_args(&args[1..])?;
    for (classname, id) in targets {
        let cls = get_class(db, &classname)?;
        let mut values: Values = Values::new();
        for (prop, v) in &raw {
            values.insert(
                prop.clone(),
                convert(db, &classname, prop, v.as_deref(), Some(&id))?,
            );
        }
        if !db.has_node(&classname, &id).map_err(failed)? {
            return Err(CmdError::usage(format!("no such {classname} {id}")));
        }
        check_key_free(db, cls, &values, Some(&id))?;
        db.set(&classname, &id, values).map_err(usage_err)?;
    }
    Ok(0)
}

fn each_designator(
    admin: &Admin,
    list: &str,
    mut f: impl FnMut(&Db, &str, &str) -> Result<(), CmdError>,
) -> CmdResult {
    let db = admin.db()?;
    for designator in list.split(',') {
        let (classname, id) = split_designator(designator)?;
        get_class(db, &classname)?;
        if !db.has_node(&classname, &id).map_err(failed)? {
            return Err(CmdError::usage(format!(
                "no such {classname} node \"{id}\""
            )));
        }
        f(db, &classname, &id)?;
    }
    Ok(0)
}

fn do_retire(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(list) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    each_designator(admin, list, |db, c, id| db.retire(c, id).map_err(usage_err))
}

fn do_restore(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(list) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    each_designator(admin, list, |db, c, id| {
        db.restore(c, id).map_err(usage_err)
    })
}

// --------------------------------------------------------------------------
// security

fn do_security(admin: &mut Admin, args: &[String]) -> CmdResult {
    let db = admin.db()?;
    let security = db.security();
    let mut roles: Vec<String> = match args.first() {
        Some(name) => {
            if !security.has_role(name) {
                println!("No such Role \"{name}\"");
                return Ok(1);
            }
            vec![name.to_lowercase()]
        }
        None => {
            let tracker = admin.tracker()?;
            let config = tracker.config();
            for (who, roles) in [
                ("Web", config.new_web_user_roles()),
                ("Email", config.new_email_user_roles()),
            ] {
                let noun = if roles.contains(',') { "Roles" } else { "Role" };
                println!("New {who} users get the {noun} \"{roles}\"");
            }
            security.roles().map(|r| r.name.clone()).collect()
        }
    };
    roles.sort();
    for role in roles {
        println!("Role \"{role}\":");
        let mut perms = security.role_permissions(&role);
        perms.sort_by(|a, b| {
            (a.klass.as_deref().unwrap_or(""), &a.name, a.check.is_some()).cmp(&(
                b.klass.as_deref().unwrap_or(""),
                &b.name,
                b.check.is_some(),
            ))
        });
        for p in perms {
            let Some(klass) = &p.klass else {
                println!(" {} ({})", p.description, p.name);
                continue;
            };
            let Some(props) = &p.properties else {
                println!(" {} ({} for \"{klass}\" only)", p.description, p.name);
                continue;
            };
            println!(
                " {} ({} for \"{klass}\": {} only)",
                p.description,
                p.name,
                tuple_repr(props)
            );
            let known: HashSet<String> = match db.schema().classes.get(klass) {
                Some(c) => c.prop_names(true).into_iter().collect(),
                None => HashSet::new(),
            };
            let bad: Vec<String> = props
                .iter()
                .filter(|x| !known.contains(*x))
                .cloned()
                .collect();
            if !bad.is_empty() {
                println!(
                    "\n  **Invalid properties for {klass}: {}\n",
                    list_repr(&bad)
                );
                return Ok(1);
            }
        }
    }
    Ok(0)
}

// --------------------------------------------------------------------------
// templates, install, initialise, genconfig

/// Storage backends this build can create.
const BACKENDS: &[&str] = &["sqlite"];

fn do_templates(_admin: &mut Admin, _args: &[String]) -> CmdResult {
    for t in templates::list() {
        println!(
            "\nName: {}\nPath: (built in)/{}\nDesc: {}\n",
            t.name,
            t.name,
            fill(&t.description, 70, "      ")
        );
    }
    Ok(0)
}

fn do_genconfig(_admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(file) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let config = roundup_core::config::Config::defaults(Path::new("."));
    fs::write(file, config.write_ini())
        .map_err(|e| CmdError::failed(format!("writing {file}: {e}")))?;
    Ok(0)
}

/// A choice from a list: the argument when it is one of the options,
/// otherwise ask (an empty answer takes the default).
fn choose(
    admin: &mut Admin,
    list_name: &str,
    prompt: &str,
    options: &[String],
    argument: Option<&String>,
    default: &str,
) -> Result<String, CmdError> {
    if let Some(a) = argument {
        if options.contains(a) {
            return Ok(a.clone());
        }
    }
    if admin.force {
        return Ok(default.to_string());
    }
    println!("{list_name}: {}", options.join(", "));
    loop {
        let answer = admin.ask(&format!("{prompt} [{default}]: "))?;
        if answer.is_empty() {
            return Ok(default.to_string());
        }
        if options.contains(&answer) {
            return Ok(answer);
        }
    }
}

fn absolute(home: &str) -> PathBuf {
    let p = PathBuf::from(home);
    let p = if p.is_absolute() {
        p
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    // Normalise "." and ".." the way os.path.abspath does.
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn do_install(admin: &mut Admin, args: &[String]) -> CmdResult {
    let home = absolute(&admin.tracker_home);
    let parent = home.parent().map(Path::to_path_buf).unwrap_or_default();
    if !parent.exists() {
        return Err(CmdError::usage(format!(
            "Instance home parent directory \"{}\" does not exist",
            parent.display()
        )));
    }
    let config_ini = home.join("config.ini");
    if config_ini.exists() {
        if !admin.force {
            let answer = admin.ask(&format!(
                "WARNING: \"{}\" already holds a tracker.\nInstalling again deletes it, including all its data.\nDelete it? Y/N: ",
                home.display()
            ))?;
            if answer.trim().to_lowercase() != "y" {
                return Ok(0);
            }
        }
        fs::remove_dir_all(&home)
            .map_err(|e| CmdError::failed(format!("removing {}: {e}", home.display())))?;
    }
    let names: Vec<String> = templates::list().into_iter().map(|t| t.name).collect();
    let template = choose(
        admin,
        "Templates",
        "Template to use",
        &names,
        args.first(),
        "classic",
    )?;
    let backends: Vec<String> = BACKENDS.iter().map(|s| s.to_string()).collect();
    let backend = choose(
        admin,
        "Back ends",
        "Backend to use",
        &backends,
        args.get(1),
        "sqlite",
    )?;
    let mut settings: Vec<(String, String)> = Vec::new();
    if let Some(defs) = args.get(2) {
        for item in defs.split(',') {
            let parts: Vec<&str> = item.split('=').collect();
            if parts.len() != 2 {
                return Err(CmdError::usage(format!(
                    "Error in configuration settings: \"{defs}\" (\"{item}\" is not name=value)"
                )));
            }
            settings.push((parts[0].to_string(), parts[1].to_string()));
        }
    }
    let config =
        roundup_tracker::install(&home, &template, &backend, &settings).map_err(usage_err)?;
    println!("\n{}", "-".repeat(75));
    println!(" The tracker is installed. Review its configuration in");
    println!("   {}", config_ini.display());
    let unset = config.unset_options();
    if !unset.is_empty() {
        println!(" These options have no value yet and must be set:");
        let mut sections: Vec<(&str, Vec<&str>)> = Vec::new();
        for (section, option) in unset {
            match sections.iter_mut().find(|(s, _)| *s == section) {
                Some((_, opts)) => opts.push(option),
                None => sections.push((section, vec![option])),
            }
        }
        for (section, opts) in sections {
            println!("   [{section}]: {}", opts.join(", "));
        }
    }
    println!();
    println!(" The classes and properties are defined in");
    println!("   {}", home.join("schema.py").display());
    println!(" and the items every new database starts with in");
    println!("   {}", home.join("initial_data.py").display());
    println!(" (the customisation documentation explains both).");
    println!();
    println!(" Then create the database with \"roundup-admin initialise\".");
    println!("{}\n", "-".repeat(75));
    Ok(0)
}

fn do_initialise(admin: &mut Admin, args: &[String]) -> CmdResult {
    let password = match args.first() {
        Some(p) => p.clone(),
        None => loop {
            let first = admin.ask_secret("Admin Password: ")?;
            let again = admin.ask_secret("       Confirm: ")?;
            if first == again {
                break first;
            }
        },
    };
    let home = PathBuf::from(&admin.tracker_home);
    if !home.exists() {
        return Err(CmdError::usage("Instance home does not exist"));
    }
    if !home.join("config.ini").exists() {
        return Err(CmdError::usage("Instance has not been installed"));
    }
    let tracker = Tracker::open(&home).map_err(usage_err)?;
    if tracker.db_exists().map_err(failed)? && !admin.force {
        let answer = admin.ask(
            "WARNING: this tracker already has a database.\nInitialising again deletes all of its data.\nDelete it? Y/N: ",
        )?;
        if answer.trim().to_lowercase() != "y" {
            return Ok(0);
        }
    }
    let email = tracker
        .config()
        .admin_email()
        .map_err(|e| CmdError::usage(format!("In {}/config.ini - {e}", admin.tracker_home)))?;
    tracker
        .initialise_from(&password, &email, Some(roundup_core::TxSource::Cli))
        .map_err(failed)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designators() {
        assert_eq!(
            split_designator("issue12").unwrap(),
            ("issue".to_string(), "12".to_string())
        );
        assert_eq!(
            split_designator("a_b2c3").unwrap(),
            ("a_b2c".to_string(), "3".to_string())
        );
        for bad in ["xyz", "12", "_a1", "is-sue1", ""] {
            match split_designator(bad) {
                Err(CmdError::Usage(m)) => {
                    assert_eq!(m, format!("\"{bad}\" not a node designator"))
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn abbreviations() {
        assert_eq!(find_command("l").ok().map(|c| c.name), Some("list"));
        assert_eq!(
            find_command("spec").ok().map(|c| c.name),
            Some("specification")
        );
        let names = |r: Result<&Command, Vec<&Command>>| -> Vec<&str> {
            r.err().unwrap_or_default().iter().map(|c| c.name).collect()
        };
        assert_eq!(
            names(find_command("re")),
            vec!["readline", "reindex", "restore", "retire"]
        );
        assert_eq!(
            names(find_command("s")),
            vec!["security", "set", "specification"]
        );
        assert!(names(find_command("zzz")).is_empty());
    }

    #[test]
    fn table_is_sorted_and_complete() {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // Roundup 2.6's 31 commands and our outbox
        assert_eq!(names.len(), 32);
    }

    #[test]
    fn props_parse() {
        let args: Vec<String> = ["a=1", "b=", "a=2", "c=x=y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = props_from_args(&args).unwrap();
        assert_eq!(
            p,
            vec![
                ("a".to_string(), Some("2".to_string())),
                ("b".to_string(), None),
                ("c".to_string(), Some("x=y".to_string()))
            ]
        );
        match props_from_args(&["oops".to_string()]) {
            Err(CmdError::Usage(m)) => assert_eq!(m, "argument \"oops\" not propname=value"),
            other => panic!("{other:?}"),
        }
    }
}
