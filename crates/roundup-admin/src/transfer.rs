//! `export` / `import` in Roundup's on-disk format.
//!
//! An export directory holds, for every class:
//!
//! * `<class>.csv`: a header row with the property names (sorted, the
//!   automatic ones included, a FileClass's `content` left out) and
//!   `is retired`, then one row per item. Each cell is a Python literal as
//!   Roundup's `repr_export` writes it: strings as their UTF-8 bytes'
//!   repr, links as id strings, multilinks as lists of id strings, dates
//!   as 9-tuples `(year, month, day, hour, minute, second.fff, 0, 0, 0)`
//!   in UTC, intervals as 7-tuples `(sign, years, months, days, hours,
//!   minutes, seconds)`, passwords as their stored text, booleans as 0/1.
//! * `<class>-journals.csv`: rows `nodeid:date:user:action:params` (no
//!   header) with `set` parameters marshalled the same way.
//! * `<class>-files/<id // 1000>/<class><id>`: the content of each item of
//!   a FileClass (left out by `exporttables`).
//!
//! Import reads the same files into the open database in one step that
//! either succeeds completely or changes nothing; a malformed row stops it
//! with the file, the line and what is wrong.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use roundup_core::date::{Date, Interval};
use roundup_core::db::ImportContent;
use roundup_core::password::Password;
use roundup_core::pyrepr::{self, PyValue};
use roundup_core::schema::{ClassDef, ClassKind, PropType, Schema};
use roundup_core::storage::{JournalEntry, NodeValues};
use roundup_core::{Db, Error, Value};

use crate::csvio;
use crate::file_writer::{FileWriter, WriteJob};

/// Column name of the retired flag.
const RETIRED_COLUMN: &str = "is retired";

/// The properties a class exports, in Roundup's (sorted) order.
pub fn export_propnames(cls: &ClassDef) -> Vec<String> {
    let mut names: Vec<String> = cls
        .props
        .iter()
        .filter(|(n, p)| !p.is_computed() && !cls.is_file_content(n))
        .map(|(n, _)| n.clone())
        .collect();
    names.extend(
        roundup_core::schema::AUTOMATIC_PROPS
            .iter()
            .map(|s| s.to_string()),
    );
    names.sort();
    names.dedup();
    names
}

/// Where an item's file content goes inside an export directory.
pub fn export_file_path(dir: &Path, class: &str, id: &str) -> PathBuf {
    let n: u64 = id.parse().unwrap_or(0);
    roundup_core::db::bucketed_path(dir, &format!("{class}-files"), class, n, id)
}

fn progress(len: u64, label: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg:24} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label);
    bar
}

// --------------------------------------------------------------------------
// values <-> Python literals

/// Seconds with milliseconds as Python reads them back from SQL
/// (`float("48.898")`).
fn seconds_float(d: &Date) -> PyValue {
    let text = format!("{}.{:03}", d.second(), d.millisecond());
    PyValue::Float(text.parse().unwrap_or(f64::from(d.second())))
}

/// Roundup's `Date.get_tuple()`.
pub fn date_tuple(d: &Date) -> PyValue {
    PyValue::Tuple(vec![
        PyValue::Int(i64::from(d.year())),
        PyValue::Int(i64::from(d.month())),
        PyValue::Int(i64::from(d.day())),
        PyValue::Int(i64::from(d.hour())),
        PyValue::Int(i64::from(d.minute())),
        seconds_float(d),
        PyValue::Int(0),
        PyValue::Int(0),
        PyValue::Int(0),
    ])
}

/// Roundup's `Interval.get_tuple()`.
pub fn interval_tuple(i: &Interval) -> PyValue {
    let (sign, y, m, d, hh, mm, ss) = i.fields();
    PyValue::Tuple(
        [i64::from(sign), y, m, d, hh, mm, ss]
            .into_iter()
            .map(PyValue::Int)
            .collect(),
    )
}

fn number(v: &PyValue) -> Option<f64> {
    match v {
        PyValue::Int(i) => Some(*i as f64),
        PyValue::Float(f) => Some(*f),
        PyValue::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn int_field(v: &PyValue, what: &str) -> Result<i64, String> {
    match v {
        PyValue::Int(i) => Ok(*i),
        PyValue::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        other => Err(format!(
            "{what} {} is not a whole number",
            pyrepr::repr(other)
        )),
    }
}

/// A date from a 6- to 9-tuple (UTC) or from text (serialised or a spec).
pub fn date_from_py(v: &PyValue) -> Result<Date, String> {
    match v {
        PyValue::Tuple(items) | PyValue::List(items) if items.len() >= 6 => {
            let f = |i: usize| int_field(&items[i], "date field");
            let secs = number(&items[5]).ok_or_else(|| {
                format!("date seconds {} are not a number", pyrepr::repr(&items[5]))
            })?;
            let whole = secs.floor();
            let ms = (((secs - whole) * 1000.0).round() as u32).min(999);
            let conv = |x: i64, name: &str| {
                u32::try_from(x).map_err(|_| format!("date {name} {x} is out of range"))
            };
            Date::from_utc_fields(
                i32::try_from(f(0)?).map_err(|_| "date year is out of range".to_string())?,
                conv(f(1)?, "month")?,
                conv(f(2)?, "day")?,
                conv(f(3)?, "hour")?,
                conv(f(4)?, "minute")?,
                conv(whole as i64, "second")?,
                ms,
            )
            .map_err(|e| e.to_string())
        }
        PyValue::Str(s) => Date::from_serialised(s)
            .or_else(|_| Date::parse(s, &roundup_core::date::Timezone::Utc))
            .map_err(|e| format!("{s:?} is not a date: {e}")),
        other => Err(format!("{} is not a date tuple", pyrepr::repr(other))),
    }
}

/// An interval from a 7-tuple or text.
pub fn interval_from_py(v: &PyValue) -> Result<Interval, String> {
    match v {
        PyValue::Tuple(items) | PyValue::List(items) if items.len() == 7 => {
            let f = |i: usize| int_field(&items[i], "interval field");
            Ok(Interval::new(
                i32::try_from(f(0)?).unwrap_or(1),
                f(1)?,
                f(2)?,
                f(3)?,
                f(4)?,
                f(5)?,
                f(6)?,
            ))
        }
        PyValue::Str(s) => Interval::parse(s)
            .or_else(|_| Interval::from_serialised(s))
            .map_err(|e| format!("{s:?} is not an interval: {e}")),
        other => Err(format!("{} is not an interval tuple", pyrepr::repr(other))),
    }
}

/// A stored value as Roundup's `export_list` marshals it.
fn value_to_py(v: &Option<Value>) -> PyValue {
    match v {
        None => PyValue::None,
        Some(Value::String(s)) | Some(Value::Link(s)) => PyValue::Str(s.clone()),
        Some(Value::Multilink(ids)) => {
            PyValue::List(ids.iter().map(|i| PyValue::Str(i.clone())).collect())
        }
        Some(Value::Date(d)) => date_tuple(d),
        Some(Value::Interval(i)) => interval_tuple(i),
        Some(Value::Password(p)) => PyValue::Str(p.as_str().to_string()),
        // SQLite hands booleans back to Roundup as integers.
        Some(Value::Boolean(b)) => PyValue::Int(i64::from(*b)),
        Some(Value::Number(n)) => PyValue::Float(*n),
        Some(Value::Integer(i)) => PyValue::Int(*i),
    }
}

/// An item id from its cell (the error without saying where: the
/// callers add that only when there is an error).
fn id_of(v: PyValue) -> Result<String, String> {
    let s = match v {
        PyValue::Str(s) if s.trim().len() == s.len() => s,
        PyValue::Str(s) => s.trim().to_string(),
        PyValue::Int(i) if i > 0 => i.to_string(),
        other => return Err(format!("{} is not an item id", pyrepr::repr(&other))),
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not an item id"));
    }
    Ok(s)
}

/// A cell read back into a value of property type `ptype`.
fn py_to_value(ptype: PropType, v: PyValue, prop: &str) -> Result<Option<Value>, String> {
    if v == PyValue::None {
        return Ok(None);
    }
    let wrong =
        |v: &PyValue, want: &str| format!("property {prop}: {} is not {want}", pyrepr::repr(v));
    Ok(Some(match ptype {
        PropType::String => match v {
            PyValue::Str(s) => Value::String(s),
            other => return Err(wrong(&other, "a string")),
        },
        PropType::Link => {
            Value::Link(id_of(v).map_err(|reason| format!("property {prop}: {reason}"))?)
        }
        PropType::Multilink => match v {
            PyValue::List(items) | PyValue::Tuple(items) => {
                let mut ids = Vec::with_capacity(items.len());
                for i in items {
                    ids.push(id_of(i).map_err(|reason| format!("property {prop}: {reason}"))?);
                }
                Value::Multilink(ids)
            }
            other => return Err(wrong(&other, "a list of ids")),
        },
        PropType::Date => {
            Value::Date(date_from_py(&v).map_err(|e| format!("property {prop}: {e}"))?)
        }
        PropType::Interval => {
            Value::Interval(interval_from_py(&v).map_err(|e| format!("property {prop}: {e}"))?)
        }
        PropType::Password => match v {
            PyValue::Str(s) => Value::Password(
                Password::from_encrypted(&s).map_err(|e| format!("property {prop}: {e}"))?,
            ),
            other => return Err(wrong(&other, "a password string")),
        },
        PropType::Boolean => match v {
            PyValue::Bool(b) => Value::Boolean(b),
            PyValue::Int(i) => Value::Boolean(i != 0),
            other => return Err(wrong(&other, "a boolean")),
        },
        PropType::Number => match number(&v) {
            Some(n) if n.is_finite() => Value::Number(n),
            _ => return Err(wrong(&v, "a number")),
        },
        PropType::Integer => match v {
            PyValue::Int(i) => Value::Integer(i),
            PyValue::Bool(b) => Value::Integer(i64::from(b)),
            other => return Err(wrong(&other, "an integer")),
        },
    }))
}

/// Journal `set` parameters from their stored form to the exported one.
fn journal_params_out(cls: &ClassDef, action: &str, params: &PyValue) -> PyValue {
    match (action, params) {
        ("set", PyValue::Dict(pairs)) => {
            let mut out = Vec::new();
            for (k, v) in pairs {
                let PyValue::Str(name) = k else { continue };
                let Some(p) = cls.prop(name) else { continue };
                let truthy = !matches!(v, PyValue::None | PyValue::Int(0))
                    && *v != PyValue::Str(String::new());
                let value = match (p.ptype, v) {
                    (PropType::Date, PyValue::Str(s)) if truthy => match Date::from_serialised(s) {
                        Ok(d) => date_tuple(&d),
                        Err(_) => v.clone(),
                    },
                    (PropType::Interval, PyValue::Str(s)) if truthy => {
                        match Interval::parse(s).or_else(|_| Interval::from_serialised(s)) {
                            Ok(i) => interval_tuple(&i),
                            Err(_) => v.clone(),
                        }
                    }
                    _ => v.clone(),
                };
                out.push((k.clone(), value));
            }
            PyValue::Dict(out)
        }
        ("create", PyValue::Dict(pairs)) if !pairs.is_empty() => PyValue::Dict(Vec::new()),
        _ => params.clone(),
    }
}

/// Journal `set` parameters from the exported form to the stored one.
fn journal_params_in(cls: &ClassDef, action: &str, params: PyValue) -> Result<PyValue, String> {
    match (action, params) {
        ("set", PyValue::Dict(pairs)) => {
            let mut out = Vec::new();
            for (k, v) in pairs {
                let PyValue::Str(name) = &k else {
                    return Err(format!(
                        "property name {} is not a string",
                        pyrepr::repr(&k)
                    ));
                };
                let p = cls
                    .prop(name)
                    .ok_or_else(|| format!("class {} has no property {name:?}", cls.name))?;
                let value = match (p.ptype, &v) {
                    (_, PyValue::None) => v,
                    (PropType::Date, _) => PyValue::Str(
                        date_from_py(&v)
                            .map_err(|e| format!("property {name}: {e}"))?
                            .serialise(),
                    ),
                    (PropType::Interval, _) => PyValue::Str(
                        interval_from_py(&v)
                            .map_err(|e| format!("property {name}: {e}"))?
                            .to_string(),
                    ),
                    (PropType::Boolean, PyValue::Bool(b)) => PyValue::Int(i64::from(*b)),
                    _ => v,
                };
                out.push((k, value));
            }
            Ok(PyValue::Dict(out))
        }
        ("create", PyValue::Dict(pairs)) if !pairs.is_empty() => Ok(PyValue::Dict(Vec::new())),
        (_, other) => Ok(other),
    }
}

// --------------------------------------------------------------------------
// export

/// What one export wrote.
#[derive(Debug, Default)]
pub struct ExportReport {
    /// Length of the longest cell written (for Roundup's csv_field_size).
    pub longest_field: usize,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Write `classes` of `db` to `dir`; with `files`, FileClass contents too.
pub fn export(
    db: &Db,
    classes: &[String],
    dir: &Path,
    files: bool,
) -> Result<ExportReport, String> {
    fs::create_dir_all(dir).map_err(|e| io_err("cannot create", dir, e))?;
    let mut report = ExportReport::default();
    for classname in classes {
        let cls = db.class(classname).map_err(|e| e.to_string())?;
        if !files && cls.kind == ClassKind::File {
            print!("Exporting {classname} WITHOUT the files\r\n");
        }
        export_class(db, cls, dir, files, &mut report)?;
        export_journals(db, cls, dir)?;
    }
    Ok(report)
}

fn export_class(
    db: &Db,
    cls: &ClassDef,
    dir: &Path,
    files: bool,
    report: &mut ExportReport,
) -> Result<(), String> {
    let classname = &cls.name;
    let path = dir.join(format!("{classname}.csv"));
    let file = fs::File::create(&path).map_err(|e| io_err("cannot create", &path, e))?;
    let mut out = BufWriter::new(file);
    let werr = |e: std::io::Error| io_err("cannot write", &path, e);
    let propnames = export_propnames(cls);
    let mut header = propnames.clone();
    header.push(RETIRED_COLUMN.to_string());
    csvio::write_record(&mut out, &header).map_err(werr)?;

    let mut ids = db.getnodeids(classname, None).map_err(|e| e.to_string())?;
    let mut nodes = Vec::with_capacity(ids.len());
    // Items with a key go out sorted by key, retired ones first, so that
    // an import never meets two active items with the same key.
    if let Some(key) = &cls.key {
        let mut keyed = Vec::with_capacity(ids.len());
        for id in ids.drain(..) {
            let node = db.get_node(classname, &id).map_err(|e| e.to_string())?;
            db.clear_cache();
            let k = match node.values.get(key) {
                Some(Some(Value::String(s))) => s.clone(),
                _ => String::new(),
            };
            keyed.push((k, !node.retired, id, node));
        }
        keyed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        nodes.extend(keyed.into_iter().map(|(_, _, id, n)| (id, Some(n))));
    } else {
        nodes.extend(ids.into_iter().map(|id| (id, None)));
    }

    let bar = progress(nodes.len() as u64, format!("Exporting {classname}"));
    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for (id, node) in nodes {
        let node = match node {
            Some(n) => n,
            None => {
                let n = db.get_node(classname, &id).map_err(|e| e.to_string())?;
                db.clear_cache();
                n
            }
        };
        row.clear();
        for name in &propnames {
            let cell = if name == "id" {
                pyrepr::repr_export(&PyValue::Str(id.clone()))
            } else {
                let v = node.values.get(name).cloned().flatten();
                let v = match (v, cls.prop(name).map(|p| p.ptype)) {
                    (None, Some(PropType::Multilink)) => Some(Value::Multilink(Vec::new())),
                    (v, _) => v,
                };
                pyrepr::repr_export(&value_to_py(&v))
            };
            report.longest_field = report.longest_field.max(cell.len());
            row.push(cell);
        }
        row.push(pyrepr::repr(&PyValue::Bool(node.retired)));
        csvio::write_record(&mut out, &row).map_err(werr)?;
        if files && cls.kind == ClassKind::File {
            let content = db.file_content(classname, &id).map_err(|e| e.to_string())?;
            let dest = export_file_path(dir, classname, &id);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|e| io_err("cannot create", parent, e))?;
            }
            fs::write(&dest, content).map_err(|e| io_err("cannot write", &dest, e))?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush().map_err(werr)?;
    Ok(())
}

fn export_journals(db: &Db, cls: &ClassDef, dir: &Path) -> Result<(), String> {
    let classname = &cls.name;
    let path = dir.join(format!("{classname}-journals.csv"));
    let file = fs::File::create(&path).map_err(|e| io_err("cannot create", &path, e))?;
    let mut out = BufWriter::new(file);
    let werr = |e: std::io::Error| io_err("cannot write", &path, e);
    let ids = db.getnodeids(classname, None).map_err(|e| e.to_string())?;
    let bar = progress(ids.len() as u64, format!("Journals of {classname}"));
    for id in ids {
        for e in db.history(classname, &id).map_err(|e| e.to_string())? {
            let row = [
                pyrepr::repr_export(&PyValue::Str(e.nodeid.clone())),
                pyrepr::repr_export(&date_tuple(&e.date)),
                pyrepr::repr_export(&PyValue::Str(e.tag.clone())),
                pyrepr::repr_export(&PyValue::Str(e.action.clone())),
                pyrepr::repr_export(&journal_params_out(cls, &e.action, &e.params)),
            ];
            csvio::write_record(&mut out, &row).map_err(werr)?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush().map_err(werr)?;
    Ok(())
}

// --------------------------------------------------------------------------
// import

/// A problem found while importing: the file, the line, the reason.
fn located(path: &Path, line: usize, reason: impl std::fmt::Display) -> Error {
    Error::Value(format!("{}, line {line}: {reason}", path.display()))
}

/// The classes an import directory holds data for (`<class>.csv`), sorted.
fn classes_in(dir: &Path) -> Result<Vec<String>, String> {
    let entries = fs::read_dir(dir).map_err(|e| io_err("cannot read directory", dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err("cannot read directory", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(class) = name.strip_suffix(".csv") {
            if !class.ends_with("-journals") {
                out.push(class.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Load an export directory into `db` (uncommitted). With `files`, the
/// FileClass contents are read from `<class>-files/`. Returns the lines
/// Roundup prints (`setting <class> <next id>`), or the first problem;
/// on a problem nothing has changed.
///
/// `pending` says whether the transaction already holds changes that must
/// survive a failed import. Only then is the import wrapped in a
/// savepoint: SQLite keeps a copy of every page changed under a savepoint
/// until it ends, which for a big import costs much time and disk, so
/// without earlier changes a failure simply rolls the transaction back.
///
/// Four threads share the work: a reader parses the CSV files, a placer
/// reads the file contents ahead (it starts on them at once, while the
/// other classes are still being imported), a file writer creates the new
/// content files behind the rest (see [`FileWriter`]), and this thread
/// writes to the database. A failure anywhere stops them all, and every
/// file the writer created is removed again.
pub fn import(db: &Db, dir: &Path, files: bool, pending: bool) -> Result<Vec<String>, String> {
    let classes = classes_in(dir)?;
    for c in &classes {
        if !db.schema().classes.contains_key(c) {
            return Err(format!(
                "{}: there is no class \"{c}\" in this tracker's schema",
                dir.join(format!("{c}.csv")).display()
            ));
        }
    }
    let mut report = Vec::new();
    let files_dir = files.then(|| db.files_dir());
    let stop = AtomicBool::new(false);
    let writer = files_dir.clone().map(FileWriter::new);
    std::thread::scope(|outer| {
        let writing = writer.as_ref().map(|w| {
            let stop = &stop;
            outer.spawn(move || w.run(stop))
        });
        let work = || {
            let budget = Budget::default();
            std::thread::scope(|scope| {
                let (tx, rx) = mpsc::sync_channel::<Batch>(CHANNEL_BATCHES);
                let (done_tx, done_rx) = mpsc::channel::<Vec<Parsed>>();
                let classes = &classes;
                let budget = &budget;
                let stop = &stop;
                let placer =
                    files_dir
                        .as_deref()
                        .zip(writer.as_ref())
                        .map(|(files_dir, writer)| {
                            let (place_tx, place_rx) =
                                mpsc::sync_channel::<Placement>(PLACER_ITEMS);
                            let placer = Placer {
                                dir,
                                files_dir,
                                stop,
                                tx: place_tx,
                                budget,
                                writer,
                                dirs: HashMap::new(),
                                last_id: None,
                            };
                            let file_classes: Vec<&ClassDef> = classes
                                .iter()
                                .filter_map(|c| db.schema().class(c).ok())
                                .filter(|c| c.kind == ClassKind::File)
                                .collect();
                            scope.spawn(move || placer.run(&file_classes));
                            place_rx
                        });
                let reader = ExportReader {
                    schema: db.schema(),
                    dir,
                    stop,
                    tx,
                    done: done_rx,
                    batch: Vec::with_capacity(BATCH_ITEMS),
                    placer,
                    budget,
                    file: 0,
                    spare: Vec::new(),
                };
                scope.spawn(move || reader.run(classes));
                let mut writer = ImportWriter {
                    db,
                    dir,
                    rx,
                    queue: Vec::new().into_iter(),
                    done_tx,
                    done: Vec::with_capacity(BATCH_ITEMS),
                    files: writer.as_ref(),
                    check_pending: pending,
                };
                let result = writer.run(classes, &mut report);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                    writer.discard_rest();
                }
                result
            })
        };
        // Bulk mode is safe here: every failure below ends in a rollback
        // of the savepoint or of the whole transaction. The file writer
        // finishes its backlog while bulk mode ends (the database builds
        // its indexes then); it is through before anything is undone or
        // committed.
        let work = || {
            let result = db.bulk(work);
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let written = match (&writer, writing) {
                (Some(w), Some(thread)) => {
                    w.close();
                    let _ = thread.join();
                    match w.failure() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    }
                }
                _ => Ok(()),
            };
            // The writer's failure is what stopped the others.
            let result = written.and(result);
            if result.is_err() {
                if let Some(w) = &writer {
                    w.remove_created();
                }
            }
            result
        };
        let result = if pending {
            db.unit(work)
        } else {
            work().map_err(|e| match db.rollback() {
                Ok(()) => e,
                Err(e2) => Error::storage(format!("{e}; and undoing it failed: {e2}")),
            })
        };
        // (Closed already, unless the unit could not even start.)
        if let Some(w) = &writer {
            w.close();
        }
        result.map_err(|e| e.to_string())
    })?;
    Ok(report)
}

/// Items the reader hands over at once, and how many such batches may
/// wait: enough to keep both threads busy, little memory.
const BATCH_ITEMS: usize = 256;
const CHANNEL_BATCHES: usize = 8;

/// One parsed item row.
struct NodeRow {
    line: usize,
    id: String,
    values: NodeValues,
    retired: bool,
    /// File content (FileClass items, when importing files).
    content: Option<Shared>,
    /// Where the file writer puts that content: a new file, which the
    /// database thread adopts into the transaction.
    placed: Option<PathBuf>,
    /// How far into the CSV file the row ends (for the progress bar).
    offset: u64,
    /// Which class file of this import it came from (see
    /// `ExportReader::spare`).
    file: u32,
}

/// What the reader hands the database thread, class by class in the
/// order of `classes`: rows, `RowsDone`, journal entries, `JournalsDone`.
enum Parsed {
    Row(NodeRow),
    /// The class's rows are through: the highest id seen (at least 1).
    RowsDone(u64),
    Journal {
        line: usize,
        nodeid: u64,
        entry: JournalEntry,
    },
    JournalsDone,
}

type Batch = Result<Vec<Parsed>, Error>;

fn open_csv(path: &Path) -> Result<csvio::Reader<BufReader<fs::File>>, Error> {
    let f = fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    Ok(csvio::Reader::new(BufReader::with_capacity(1 << 16, f)))
}

/// The reading side of an import (runs on its own thread).
struct ExportReader<'a> {
    schema: &'a Schema,
    dir: &'a Path,
    /// Set by the database thread when it gives up.
    stop: &'a AtomicBool,
    tx: mpsc::SyncSender<Batch>,
    /// Items the database thread is through with, to be freed here: memory
    /// goes back to the allocator arena of the thread that took it,
    /// instead of both threads contending for one.
    done: mpsc::Receiver<Vec<Parsed>>,
    batch: Vec<Parsed>,
    /// File contents, read and placed ahead (when file contents are
    /// imported), row by row of the FileClass classes.
    placer: Option<mpsc::Receiver<Placement>>,
    budget: &'a Budget,
    /// The class file being read (counted from 1), and value maps of its
    /// rows the database is through with: every row of one class file has
    /// the same properties, so a map used again keeps its keys and table
    /// and only its values are replaced.
    file: u32,
    spare: Vec<NodeValues>,
}

/// Value maps kept for reuse at most.
const SPARE_MAPS: usize = 2 * BATCH_ITEMS;

/// The database thread stopped listening.
struct Stopped;

impl ExportReader<'_> {
    fn run(mut self, classes: &[String]) {
        let result = classes.iter().try_for_each(|c| self.read_class(c));
        // Rows never handed over (nobody listens) are dropped; their files
        // go with the failed import (the file writer removes all it made).
        let _ = match result {
            Ok(()) => self.flush(),
            Err(ReadFailure::Stopped) => Err(Stopped),
            // The rows before the problem go first: a problem the
            // database finds in one of them is the one to report.
            Err(ReadFailure::Bad(e)) => self
                .flush()
                .and_then(|()| self.tx.send(Err(e)).map_err(|_| Stopped)),
        };
        // The placer's rows are taken until it stops (when the database
        // thread gives up, or has finished), their bytes released.
        if let Some(placer) = self.placer.take() {
            while let Ok(p) = placer.recv() {
                self.budget.discard(p);
            }
        }
    }

    /// Hand the collected items over.
    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ITEMS));
        while let Ok(used) = self.done.try_recv() {
            for item in used {
                if let Parsed::Row(row) = item {
                    if row.file == self.file && self.spare.len() < SPARE_MAPS {
                        self.spare.push(row.values);
                    }
                }
            }
        }
        if self.stop.load(Ordering::Relaxed) {
            return Err(Stopped);
        }
        self.tx.send(Ok(batch)).map_err(|_| Stopped)
    }

    fn push(&mut self, item: Parsed) -> Result<(), ReadFailure> {
        self.batch.push(item);
        if self.batch.len() >= BATCH_ITEMS {
            self.flush()?;
        }
        Ok(())
    }

    fn read_class(&mut self, classname: &str) -> Result<(), ReadFailure> {
        let cls = self.schema.class(classname).map_err(ReadFailure::Bad)?;
        let maxid = self.read_rows(cls)?;
        self.push(Parsed::RowsDone(maxid))?;
        self.read_journals(cls)?;
        self.push(Parsed::JournalsDone)
    }

    /// Read `<class>.csv`; returns the highest id seen (at least 1, as
    /// Roundup counts).
    fn read_rows(&mut self, cls: &ClassDef) -> Result<u64, ReadFailure> {
        let classname = &cls.name;
        let path = self.dir.join(format!("{classname}.csv"));
        let mut reader = open_csv(&path)?;
        let bad = |line: usize, reason: String| located(&path, line, reason);
        let Some((_, header)) = reader.next_record().map_err(|e| bad(e.line, e.reason))? else {
            return Err(bad(1, "the file is empty (a header row is needed)".into()).into());
        };
        // Column -> property type (None for id and "is retired").
        let mut columns: Vec<(String, Option<PropType>)> = Vec::with_capacity(header.len());
        for name in &header {
            let ptype = match name.as_str() {
                "id" | RETIRED_COLUMN => None,
                "creation" | "activity" => Some(PropType::Date),
                "creator" | "actor" => Some(PropType::Link),
                _ => match cls.prop(name) {
                    Some(p) if !p.is_computed() && !cls.is_file_content(name) => Some(p.ptype),
                    _ => {
                        return Err(bad(
                            1,
                            format!("class {classname} has no property \"{name}\" to import"),
                        )
                        .into())
                    }
                },
            };
            columns.push((name.clone(), ptype));
        }
        let Some(id_col) = header.iter().position(|h| h == "id") else {
            return Err(bad(1, "the header has no \"id\" column".into()).into());
        };
        // Multilinks the file leaves out are imported empty.
        let missing_multilinks: Vec<&String> = cls
            .props
            .iter()
            .filter(|(name, p)| {
                p.ptype == PropType::Multilink
                    && !p.is_computed()
                    && !columns.iter().any(|(c, _)| c == *name)
            })
            .map(|(name, _)| name)
            .collect();
        let is_file = cls.kind == ClassKind::File;
        self.file += 1;
        self.spare.clear();
        let mut maxid: u64 = 1;
        let mut row = csvio::Record::default();
        while let Some(line) = reader
            .read_record(&mut row)
            .map_err(|e| bad(e.line, e.reason))?
        {
            if self.stop.load(Ordering::Relaxed) {
                return Err(ReadFailure::Stopped);
            }
            if row.len() != columns.len() {
                return Err(bad(
                    line,
                    format!(
                        "{} fields where the header has {}",
                        row.len(),
                        columns.len()
                    ),
                )
                .into());
            }
            let id_value = pyrepr::eval_import(row.get(id_col).unwrap_or_default())
                .map_err(|e| bad(line, format!("column id: {e}")))?;
            let id = id_of(id_value).map_err(|e| bad(line, format!("column id: {e}")))?;
            let mut values: NodeValues = self.spare.pop().unwrap_or_else(|| {
                NodeValues::with_capacity_and_hasher(columns.len(), Default::default())
            });
            let mut set = |name: &String, value: Option<Value>| match values.get_mut(name) {
                Some(slot) => *slot = value,
                None => {
                    values.insert(name.clone(), value);
                }
            };
            let mut retired = false;
            for ((name, ptype), cell) in columns.iter().zip(row.iter()) {
                if name == "id" {
                    continue;
                }
                let v = pyrepr::eval_import(cell)
                    .map_err(|e| bad(line, format!("column {name}: {e}")))?;
                match ptype {
                    None => {
                        retired = match v {
                            PyValue::Bool(b) => b,
                            PyValue::Int(i) => i != 0,
                            other => {
                                return Err(bad(
                                    line,
                                    format!(
                                        "column {name}: {} is not a boolean",
                                        pyrepr::repr(&other)
                                    ),
                                )
                                .into())
                            }
                        }
                    }
                    Some(pt) => {
                        let value = py_to_value(*pt, v, name).map_err(|e| bad(line, e))?;
                        set(name, value);
                    }
                }
            }
            for name in &missing_multilinks {
                set(name, Some(Value::Multilink(Vec::new())));
            }
            let (content, placed) = match &self.placer {
                Some(placer) if is_file => match placer.recv() {
                    Ok(Placement::Row {
                        line: l,
                        id: placed_id,
                        content,
                    }) if l == line && placed_id == id => {
                        let (c, placed) = self.budget.release(content)?;
                        (Some(c), placed)
                    }
                    Ok(p @ Placement::Row { .. }) => {
                        self.budget.discard(p);
                        return Err(
                            bad(line, "file contents out of step with the rows".into()).into()
                        );
                    }
                    Ok(Placement::ClassDone) | Err(_) => {
                        return Err(
                            bad(line, "file contents out of step with the rows".into()).into()
                        )
                    }
                },
                _ => (None, None),
            };
            if let Ok(n) = id.parse::<u64>() {
                maxid = maxid.max(n);
            }
            self.push(Parsed::Row(NodeRow {
                line,
                id,
                values,
                retired,
                content,
                placed,
                offset: reader.bytes_read(),
                file: self.file,
            }))?;
        }
        if let (Some(placer), true) = (&self.placer, is_file) {
            match placer.recv() {
                Ok(Placement::ClassDone) => {}
                Ok(p @ Placement::Row { .. }) => {
                    self.budget.discard(p);
                    return Err(bad(0, "file contents out of step with the rows".into()).into());
                }
                Err(_) => {
                    return Err(bad(0, "file contents out of step with the rows".into()).into())
                }
            }
        }
        Ok(maxid)
    }

    /// Read `<class>-journals.csv` (a missing file means no journals).
    fn read_journals(&mut self, cls: &ClassDef) -> Result<(), ReadFailure> {
        let path = self.dir.join(format!("{}-journals.csv", cls.name));
        if !path.exists() {
            return Ok(());
        }
        let mut reader = open_csv(&path)?;
        let bad = |line: usize, reason: String| located(&path, line, reason);
        let mut row = csvio::Record::default();
        while let Some(line) = reader
            .read_record(&mut row)
            .map_err(|e| bad(e.line, e.reason))?
        {
            if self.stop.load(Ordering::Relaxed) {
                return Err(ReadFailure::Stopped);
            }
            let (nodeid, entry) = parse_journal_row(cls, &row).map_err(|e| bad(line, e))?;
            self.push(Parsed::Journal {
                line,
                nodeid,
                entry,
            })?;
        }
        Ok(())
    }
}

/// How many file contents the placer may have read ahead, and how many
/// bytes of them: it can run far ahead while the other classes are
/// imported, in little memory.
const PLACER_ITEMS: usize = 16384;
const PLACER_BYTES: usize = 8 << 20;

/// A FileClass row's content, read from the export and written to its
/// place in the tracker.
enum Placement {
    Row {
        line: usize,
        id: String,
        /// The content and the path the file writer puts it at (`None`:
        /// the database writes it the usual way), or what went wrong
        /// (located).
        content: Result<(Shared, Option<PathBuf>), Error>,
    },
    /// The class's rows are through.
    ClassDone,
}

/// Bytes of content read ahead and not yet taken by the reader.
#[derive(Default)]
struct Budget {
    /// Bytes outstanding, and whether the placer waits for some to go.
    used: std::sync::Mutex<(usize, bool)>,
    freed: std::sync::Condvar,
}

impl Budget {
    /// Wait until `n` more bytes fit (or nothing is outstanding, or the
    /// import is stopping).
    fn take(&self, n: usize, stop: &AtomicBool) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while used.0 > 0 && used.0 + n > PLACER_BYTES && !stop.load(Ordering::Relaxed) {
            used.1 = true;
            used = self
                .freed
                .wait_timeout(used, std::time::Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        used.1 = false;
        used.0 += n;
    }

    /// Drop a placement: its bytes no longer count (its file, if any,
    /// goes with the failed import: see [`FileWriter::remove_created`]).
    fn discard(&self, p: Placement) {
        if let Placement::Row { content, .. } = p {
            let _ = self.release(content);
        }
    }

    /// Account for a content taken over. Passes it on.
    fn release(
        &self,
        content: Result<(Shared, Option<PathBuf>), Error>,
    ) -> Result<(Shared, Option<PathBuf>), Error> {
        if let Ok((c, _)) = &content {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            used.0 = used.0.saturating_sub(c.len());
            // (A wake-up is a system call: only when the placer waits.)
            if used.1 {
                self.freed.notify_one();
            }
        }
        content
    }
}

/// Reads the contents of FileClass items ahead of the reader and has the
/// new ones written into the tracker (runs on its own thread).
///
/// The reading itself is done by [`PLACER_WORKERS`] threads: an export's
/// contents are thousands of small files, mostly not in the page cache,
/// and one thread reading them one after the other spends most of its
/// time waiting for the disk; several keep several reads in flight. The
/// placer hands them the rows in order and passes the results on in the
/// same order, each new file also to the [`FileWriter`].
struct Placer<'a> {
    dir: &'a Path,
    files_dir: &'a Path,
    stop: &'a AtomicBool,
    tx: mpsc::SyncSender<Placement>,
    budget: &'a Budget,
    writer: &'a FileWriter,
    /// Directories below `files_dir` known to exist, and whether this
    /// import made them (then no file in them is older than the import).
    dirs: HashMap<PathBuf, bool>,
    /// The highest id of the class being placed that went to the writer.
    last_id: Option<u64>,
}

/// Threads reading file contents for the placer.
const PLACER_WORKERS: usize = 6;
/// Rows whose contents may be in the workers' hands at once.
const PLACER_IN_FLIGHT: usize = 64;
/// Rows handed to a worker at once (fewer hand-overs between threads).
const PLACER_CHUNK: usize = 8;

/// Contents to read, of consecutive rows: (the item, as `msg12`; where
/// its content is in the export).
struct PlaceJob {
    seq: u64,
    items: Vec<(String, PathBuf)>,
}

/// A content read, or why not (naming the item, not yet the line).
type PlaceResult = Result<Vec<u8>, String>;

/// A content read from the export: the database thread and the file
/// writer hold it, whichever is later frees it.
type Shared = std::sync::Arc<Vec<u8>>;

/// A row handed to the workers, and where its content goes.
struct FlightRow {
    seq: u64,
    line: usize,
    id: String,
    dest: PathBuf,
    /// Whether `dest`'s directory was made by this import.
    new_dir: bool,
}

/// The rows handed to the workers, oldest first, and the results that
/// came back out of order. All belong to the class being placed: each
/// class is handed over completely before the next starts.
struct InFlight {
    rows: std::collections::VecDeque<FlightRow>,
    done: HashMap<u64, std::collections::VecDeque<PlaceResult>>,
    /// The next job's number, and its rows collected so far.
    next_seq: u64,
    chunk: Vec<(String, PathBuf)>,
}

impl InFlight {
    /// Hand the collected rows to the workers; false when they are gone.
    fn send_chunk(&mut self, jobs: &mpsc::Sender<PlaceJob>) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let items = std::mem::replace(&mut self.chunk, Vec::with_capacity(PLACER_CHUNK));
        let job = PlaceJob {
            seq: self.next_seq,
            items,
        };
        self.next_seq += 1;
        jobs.send(job).is_ok()
    }
}

impl Placer<'_> {
    fn run(mut self, classes: &[&ClassDef]) {
        let (job_tx, job_rx) = mpsc::channel::<PlaceJob>();
        let (res_tx, res_rx) = mpsc::channel::<(u64, Vec<PlaceResult>)>();
        let job_rx = std::sync::Mutex::new(job_rx);
        std::thread::scope(|scope| {
            for _ in 0..PLACER_WORKERS {
                let (job_rx, res_tx) = (&job_rx, res_tx.clone());
                scope.spawn(move || {
                    let mut buf = Vec::new();
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let read = job
                            .items
                            .iter()
                            .map(|(item, src)| read_content(item, src, &mut buf))
                            .collect();
                        if res_tx.send((job.seq, read)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(res_tx);
            let mut flight = InFlight {
                rows: Default::default(),
                done: Default::default(),
                next_seq: 0,
                chunk: Vec::with_capacity(PLACER_CHUNK),
            };
            for cls in classes {
                self.last_id = None;
                if !self.place_class(cls, &job_tx, &res_rx, &mut flight) {
                    break;
                }
            }
            drop(job_tx);
        });
    }

    /// Place the contents of one class's rows, in the order of its CSV
    /// file, then say so. Rows the reader will refuse end the class early
    /// (the reader reports them). False when the import is over.
    fn place_class(
        &mut self,
        cls: &ClassDef,
        jobs: &mpsc::Sender<PlaceJob>,
        results: &mpsc::Receiver<(u64, Vec<PlaceResult>)>,
        flight: &mut InFlight,
    ) -> bool {
        let classname = &cls.name;
        let path = self.dir.join(format!("{classname}.csv"));
        let csv: std::sync::Arc<Path> = path.clone().into();
        let class: std::sync::Arc<str> = classname.as_str().into();
        let mut read = || -> Result<bool, ()> {
            let mut reader = open_csv(&path).map_err(|_| ())?;
            let mut row = csvio::Record::default();
            if reader.read_record(&mut row).map_err(|_| ())?.is_none() {
                return Err(());
            }
            let width = row.len();
            let id_col = row.iter().position(|h| h == "id").ok_or(())?;
            // A row the reader will refuse ends the class there (the
            // reader reports it); the rows before it still get theirs.
            while let Ok(Some(line)) = reader.read_record(&mut row) {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                if row.len() != width {
                    break;
                }
                let Ok(id) = pyrepr::eval_import(row.get(id_col).unwrap_or_default())
                    .map_err(|_| ())
                    .and_then(|v| id_of(v).map_err(|_| ()))
                else {
                    break;
                };
                match self.destination(classname, &id) {
                    Ok((dest, new_dir)) => {
                        flight.chunk.push((
                            format!("{classname}{id}"),
                            export_file_path(self.dir, classname, &id),
                        ));
                        flight.rows.push_back(FlightRow {
                            seq: flight.next_seq,
                            line,
                            id,
                            dest,
                            new_dir,
                        });
                        if flight.chunk.len() >= PLACER_CHUNK && !flight.send_chunk(jobs) {
                            return Ok(false);
                        }
                    }
                    Err(e) => {
                        // Hand over what is before it, then the problem.
                        if !flight.send_chunk(jobs)
                            || !self.hand_over(flight, results, &csv, &class, 0)?
                        {
                            return Ok(false);
                        }
                        let content = Err(located(&path, line, e));
                        self.send(Placement::Row { line, id, content });
                        return Err(());
                    }
                }
                if !self.hand_over(flight, results, &csv, &class, PLACER_IN_FLIGHT)? {
                    return Ok(false);
                }
            }
            if !flight.send_chunk(jobs) {
                return Ok(false);
            }
            self.hand_over(flight, results, &csv, &class, 0)
        };
        match read() {
            Ok(false) => false,
            Ok(true) | Err(()) => self.send(Placement::ClassDone),
        }
    }

    /// Pass finished rows of the class file `csv` on, in order, until at
    /// most `keep` are in the workers' hands. False when nobody listens
    /// any more; an error after passing on a row whose content could not
    /// be read.
    fn hand_over(
        &mut self,
        flight: &mut InFlight,
        results: &mpsc::Receiver<(u64, Vec<PlaceResult>)>,
        csv: &std::sync::Arc<Path>,
        class: &std::sync::Arc<str>,
        keep: usize,
    ) -> Result<bool, ()> {
        while let Some(&FlightRow { seq, .. }) = flight.rows.front() {
            let ready = flight.done.get_mut(&seq).and_then(|rs| rs.pop_front());
            if ready.is_some() && flight.done.get(&seq).is_some_and(|rs| rs.is_empty()) {
                flight.done.remove(&seq);
            }
            let result = match ready {
                Some(r) => r,
                None if flight.rows.len() > keep => match results.recv() {
                    Ok((s, r)) => {
                        flight.done.insert(s, r.into());
                        continue;
                    }
                    Err(_) => return Ok(false),
                },
                None => {
                    // Take what has come back meanwhile without waiting.
                    match results.try_recv() {
                        Ok((s, r)) => {
                            flight.done.insert(s, r.into());
                            continue;
                        }
                        Err(_) => return Ok(true),
                    }
                }
            };
            let Some(row) = flight.rows.pop_front() else {
                break;
            };
            let content = match result {
                Ok(c) => {
                    let c = Shared::new(c);
                    let placed = self.write_new(&row, &c, csv, class);
                    Ok((c, placed))
                }
                Err(e) => Err(located(csv, row.line, e)),
            };
            let failed = content.is_err();
            if let Ok((c, _)) = &content {
                self.budget.take(c.len(), self.stop);
            }
            let (line, id) = (row.line, row.id);
            if !self.send(Placement::Row { line, id, content }) {
                return Ok(false);
            }
            if failed {
                return Err(());
            }
        }
        Ok(true)
    }

    /// Give the content of `row` to the file writer if its file is new:
    /// no file at its place, and no earlier row of this class placed
    /// there (ids come in ascending order in an export; a row out of
    /// order goes the database's usual way instead). The path, when so.
    fn write_new(
        &mut self,
        row: &FlightRow,
        content: &Shared,
        csv: &std::sync::Arc<Path>,
        class: &std::sync::Arc<str>,
    ) -> Option<PathBuf> {
        let n = row.id.parse::<u64>().ok()?;
        if self.last_id.is_some_and(|last| n <= last) {
            return None;
        }
        if !row.new_dir && fs::symlink_metadata(&row.dest).is_ok() {
            return None;
        }
        let job = WriteJob {
            csv: csv.clone(),
            line: row.line,
            class: class.clone(),
            id: n,
            dest: row.dest.clone(),
            content: content.clone(),
        };
        if !self.writer.send(job, self.stop) {
            return None;
        }
        self.last_id = Some(n);
        Some(row.dest.clone())
    }

    /// Hand one placement over; false when nobody listens any more.
    fn send(&self, p: Placement) -> bool {
        self.tx.send(p).is_ok()
    }

    /// Where an item's content goes, its directory made if it is new;
    /// whether this import made that directory.
    fn destination(&mut self, classname: &str, id: &str) -> Result<(PathBuf, bool), String> {
        let dest = roundup_core::db::content_path(self.files_dir, classname, id)
            .map_err(|e| format!("{classname}{id}: {e}"))?;
        let new_dir = match dest.parent() {
            Some(parent) => match self.dirs.get(parent) {
                Some(new) => *new,
                None => {
                    let new = make_dir(parent).map_err(|e| {
                        format!("{classname}{id}: creating {}: {e}", parent.display())
                    })?;
                    self.dirs.insert(parent.to_path_buf(), new);
                    new
                }
            },
            None => false,
        };
        Ok((dest, new_dir))
    }
}

/// Make a directory (and its parents); whether it is new.
fn make_dir(dir: &Path) -> std::io::Result<bool> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir.parent().unwrap_or(dir))?;
            make_dir(dir)
        }
        Err(e) => Err(e),
    }
}

/// Read an item's content from the export (on a placer worker).
fn read_content(item: &str, src: &Path, buf: &mut Vec<u8>) -> PlaceResult {
    read_whole(src, buf).map_err(|e| {
        format!(
            "cannot read the content of {item} from {}: {e}",
            src.display()
        )
    })
}

/// A whole file, read through `buf` without asking for its size first
/// (`fs::read` does: one more system call per file, for files mostly
/// read in one go).
fn read_whole(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = fs::File::open(path)?;
    if buf.len() < 1 << 16 {
        buf.resize(1 << 16, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            // A large file: the rest the usual way.
            let mut all = buf[..len].to_vec();
            f.read_to_end(&mut all)?;
            return Ok(all);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => return Ok(buf[..len].to_vec()),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Why the reader ended early.
enum ReadFailure {
    /// A problem in the export (reported to the database thread).
    Bad(Error),
    /// The database thread gave up.
    Stopped,
}

impl From<Error> for ReadFailure {
    fn from(e: Error) -> Self {
        ReadFailure::Bad(e)
    }
}

impl From<Stopped> for ReadFailure {
    fn from(_: Stopped) -> Self {
        ReadFailure::Stopped
    }
}

/// One journal row: the item number and the entry as stored.
fn parse_journal_row(cls: &ClassDef, row: &csvio::Record) -> Result<(u64, JournalEntry), String> {
    let mut fields = row.iter();
    let (Some(nodeid), Some(date), Some(tag), Some(action), Some(params), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(format!("{} fields where a journal row has 5", row.len()));
    };
    let field =
        |name: &str, text: &str| pyrepr::eval_import(text).map_err(|e| format!("{name}: {e}"));
    let nodeid = id_of(field("nodeid", nodeid)?).map_err(|e| format!("nodeid: {e}"))?;
    let date = date_from_py(&field("date", date)?).map_err(|e| format!("date: {e}"))?;
    let tag = match field("user", tag)? {
        PyValue::Str(s) => s,
        PyValue::Int(i) => i.to_string(),
        PyValue::None => String::new(),
        other => return Err(format!("user: {} is not a user id", pyrepr::repr(&other))),
    };
    let action = match field("action", action)? {
        PyValue::Str(s) => s,
        other => return Err(format!("action: {} is not text", pyrepr::repr(&other))),
    };
    let params = journal_params_in(cls, &action, field("params", params)?)
        .map_err(|e| format!("params: {e}"))?;
    let n: u64 = nodeid
        .parse()
        .map_err(|_| format!("nodeid {nodeid:?} is too large"))?;
    Ok((
        n,
        JournalEntry {
            nodeid,
            date,
            tag,
            action,
            params,
        },
    ))
}

/// The database side of an import.
struct ImportWriter<'a> {
    db: &'a Db,
    dir: &'a Path,
    rx: mpsc::Receiver<Batch>,
    /// The rest of the batch being worked on.
    queue: std::vec::IntoIter<Parsed>,
    /// Items imported, handed back to the reader to free.
    done_tx: mpsc::Sender<Vec<Parsed>>,
    done: Vec<Parsed>,
    /// The thread writing new content files (when contents are imported).
    files: Option<&'a FileWriter>,
    /// Whether the transaction had changes before the import (it may have
    /// written content for the items imported).
    check_pending: bool,
}

impl ImportWriter<'_> {
    /// The next item from the reader (or the problem it found).
    fn next(&mut self) -> Result<Parsed, Error> {
        loop {
            if let Some(item) = self.queue.next() {
                return Ok(item);
            }
            if !self.done.is_empty() {
                let used = std::mem::replace(&mut self.done, Vec::with_capacity(BATCH_ITEMS));
                // A reader that has finished frees nothing more: then the
                // items are dropped here.
                let _ = self.done_tx.send(used);
            }
            match self.rx.recv() {
                Ok(batch) => self.queue = batch?.into_iter(),
                Err(_) => {
                    return Err(Error::storage(
                        "the import's reading thread ended unexpectedly",
                    ))
                }
            }
        }
    }

    /// After a failure: take what the reader still sends until it has
    /// stopped (the files of those rows go with the failed import: see
    /// [`FileWriter::remove_created`]).
    fn discard_rest(&mut self) {
        self.queue = Vec::new().into_iter();
        while self.rx.recv().is_ok() {}
    }

    fn run(&mut self, classes: &[String], report: &mut Vec<String>) -> Result<(), Error> {
        for classname in classes {
            let cls = self.db.class(classname)?;
            let maxid = self.write_rows(cls)?;
            self.write_journals(cls)?;
            // The largest id there is, retired or not (one row, not the
            // whole list: a million-item class would hold it all at once).
            let largest = roundup_core::filter::FilterSpec {
                sort: vec![(Some(roundup_core::filter::Direction::Desc), "id".into())],
                retired: None,
                limit: Some(1),
                ..Default::default()
            };
            let highest = self
                .db
                .filter(classname, &largest)?
                .first()
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or(0);
            self.db.set_last_id(classname, maxid.max(highest))?;
            report.push(String::new());
            report.push(format!("setting {classname} {}", maxid + 1));
        }
        Ok(())
    }

    fn write_rows(&mut self, cls: &ClassDef) -> Result<u64, Error> {
        let classname = &cls.name;
        let path = self.dir.join(format!("{classname}.csv"));
        let total = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let bar = progress(total, format!("Importing {classname}"));
        let mut highest: Option<u64> = None;
        loop {
            match self.next()? {
                Parsed::Row(row) => {
                    if let (Some(files), Some(_)) = (self.files, &row.content) {
                        // Content this transaction already has for the item
                        // (an earlier row, or the changes before the import)
                        // is dealt with by the database as usual, once the
                        // file writer is through with it.
                        let n = row.id.parse::<u64>().ok();
                        let repeat = match (n, highest) {
                            (Some(n), Some(h)) => n <= h,
                            (Some(_), None) => false,
                            (None, _) => true,
                        };
                        highest = highest.max(n);
                        if (repeat || self.check_pending)
                            && self.db.file_pending(classname, &row.id).unwrap_or(false)
                        {
                            // The writer's failure names its file and line.
                            files.wait_idle()?;
                        }
                    }
                    let content = match (&row.content, &row.placed) {
                        (Some(c), Some(_)) => Some(ImportContent::Placed(c)),
                        (Some(c), None) => Some(ImportContent::Bytes(c)),
                        _ => None,
                    };
                    let done =
                        self.db
                            .import_node(classname, &row.id, &row.values, row.retired, content);
                    if let Err(e) = done {
                        return Err(located(
                            &path,
                            row.line,
                            format!("{classname}{}: {e}", row.id),
                        ));
                    }
                    bar.set_position(row.offset);
                    self.done.push(Parsed::Row(row));
                }
                Parsed::RowsDone(maxid) => {
                    bar.finish_and_clear();
                    return Ok(maxid);
                }
                _ => return Err(Error::storage("import: rows and journals out of order")),
            }
        }
    }

    /// Journal entries arrive grouped by item (as exports write them): an
    /// item's first group replaces its journal, a later one (from a file
    /// written in another order) adds to it.
    fn write_journals(&mut self, cls: &ClassDef) -> Result<(), Error> {
        let classname = &cls.name;
        let path = self.dir.join(format!("{classname}-journals.csv"));
        let mut seen: HashSet<u64> = HashSet::new();
        let mut group: Vec<JournalEntry> = Vec::new();
        let mut group_item: Option<(u64, usize)> = None;
        let mut store = |db: &Db,
                         used: &mut Vec<Parsed>,
                         item: Option<(u64, usize)>,
                         entries: &mut Vec<JournalEntry>| {
            let Some((n, line)) = item else {
                return Ok(());
            };
            let done = if seen.insert(n) {
                db.import_journal(classname, &n.to_string(), entries)
            } else {
                db.append_journal(classname, entries)
            };
            used.extend(entries.drain(..).map(|entry| Parsed::Journal {
                line,
                nodeid: n,
                entry,
            }));
            done.map_err(|e| located(&path, line, format!("journal of {classname}{n}: {e}")))
        };
        loop {
            match self.next()? {
                Parsed::Journal {
                    line,
                    nodeid,
                    entry,
                } => {
                    if group_item.map(|(n, _)| n) != Some(nodeid) {
                        store(self.db, &mut self.done, group_item, &mut group)?;
                        group_item = Some((nodeid, line));
                    }
                    group.push(entry);
                }
                Parsed::JournalsDone => {
                    return store(self.db, &mut self.done, group_item, &mut group);
                }
                _ => return Err(Error::storage("import: rows and journals out of order")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_files_are_read_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        for size in [
            0usize,
            1,
            300,
            (1 << 16) - 1,
            1 << 16,
            (1 << 16) + 1,
            200_000,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let p = dir.path().join(format!("f{size}"));
            fs::write(&p, &data).unwrap();
            let got = read_whole(&p, &mut buf).unwrap();
            assert_eq!(got.len(), size);
            assert!(got == data, "content of the {size}-byte file");
        }
        let missing = read_whole(&dir.path().join("nope"), &mut buf).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn date_tuples_match_roundup() {
        let d = Date::from_utc_fields(2026, 11, 21, 12, 21, 48, 898).unwrap();
        assert_eq!(
            pyrepr::repr(&date_tuple(&d)),
            "(2026, 11, 21, 12, 21, 48.898, 0, 0, 0)"
        );
        let d2 = Date::from_utc_fields(2026, 11, 21, 12, 21, 49, 170).unwrap();
        assert_eq!(
            pyrepr::repr(&date_tuple(&d2)),
            "(2026, 11, 21, 12, 21, 49.17, 0, 0, 0)"
        );
        let d3 = Date::from_utc_fields(2001, 1, 2, 3, 4, 5, 0).unwrap();
        assert_eq!(
            pyrepr::repr(&date_tuple(&d3)),
            "(2001, 1, 2, 3, 4, 5.0, 0, 0, 0)"
        );
        for d in [d, d2, d3] {
            assert_eq!(date_from_py(&date_tuple(&d)).unwrap(), d);
        }
        assert!(date_from_py(&PyValue::Int(3)).is_err());
        assert!(
            date_from_py(&pyrepr::parse("(2001, 13, 2, 3, 4, 5.0, 0, 0, 0)").unwrap()).is_err()
        );
    }

    #[test]
    fn interval_tuples_round_trip() {
        let i = Interval::new(-1, 0, 1, 2, 3, 4, 5);
        assert_eq!(pyrepr::repr(&interval_tuple(&i)), "(-1, 0, 1, 2, 3, 4, 5)");
        assert_eq!(interval_from_py(&interval_tuple(&i)).unwrap(), i);
    }

    #[test]
    fn cells_convert_by_type() {
        assert_eq!(
            py_to_value(
                PropType::Multilink,
                pyrepr::parse("['1', '3']").unwrap(),
                "nosy"
            )
            .unwrap(),
            Some(Value::Multilink(vec!["1".into(), "3".into()]))
        );
        assert_eq!(
            py_to_value(PropType::Boolean, PyValue::Int(1), "b").unwrap(),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            py_to_value(PropType::Link, PyValue::None, "l").unwrap(),
            None
        );
        let e = py_to_value(PropType::String, PyValue::Int(1), "title").unwrap_err();
        assert_eq!(e, "property title: 1 is not a string");
        let e = py_to_value(PropType::Link, PyValue::Str("x".into()), "status").unwrap_err();
        assert!(e.contains("not an item id"), "{e}");
    }
}
