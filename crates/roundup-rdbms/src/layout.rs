//! Roundup's relational layout, independent of the database engine.
//!
//! Every class `C` has
//! * an item table `_C` with one column `_p` per stored non-multilink
//!   property (plus `__p_int__` holding the seconds of an Interval), the
//!   automatic `_activity`, `_actor`, `_creation`, `_creator`, the
//!   `id INTEGER PRIMARY KEY` and `__retired__` (0, or the item id once
//!   retired);
//! * a table `C_p (linkid, nodeid)` per stored multilink property;
//! * a journal table `C__journal (nodeid, date, tag, action, params)`.
//!
//! The `schema` table keeps the Python repr of a dict describing which
//! classes and properties the tables implement; [`DbSchema`] reads and
//! writes it. The statement texts below are the ones Roundup issues, so a
//! database made here looks (down to `.schema` output) like Roundup's.

use std::collections::HashSet;

use indexmap::IndexMap;
use roundup_core::date::Interval;
use roundup_core::password::Password;
use roundup_core::pyrepr::{self, PyValue};
use roundup_core::schema::{ClassDef, PropType, Schema};
use roundup_core::{Error, Result, Value};

use crate::sql::{Dialect, SqlValue};

/// The layout version Roundup 2.6 writes into the `schema` table.
pub const DB_VERSION: i64 = 8;

/// Statements that create the tables of a new Roundup database besides
/// the classes' (sessions and one-time keys included; a full-text search
/// table comes from [`crate::sql::Dialect::fts_table`]), as Roundup's rdbms
/// layer issues them.
pub const BASE_TABLES: [&str; 13] = [
    "create table schema (schema varchar)",
    "create table ids (name varchar, num integer)",
    "create index ids_name_idx on ids(name)",
    "create table otks (otk_key varchar, otk_value varchar, otk_time integer)",
    "create index otks_key_idx on otks(otk_key)",
    "create table sessions (session_key varchar, session_time integer, session_value varchar)",
    "create index sessions_key_idx on sessions(session_key)",
    "CREATE TABLE __textids (_class varchar, _itemid varchar, _prop varchar, _textid integer primary key) ",
    "CREATE TABLE __words (_word varchar, _textid integer)",
    "CREATE INDEX words_word_ids ON __words(_word)",
    "CREATE INDEX words_by_id ON __words (_textid)",
    "CREATE UNIQUE INDEX __textids_by_props ON __textids (_class, _itemid, _prop)",
    "insert into ids (name, num) values ('__textids', 1)",
];

/// Item table of a class.
pub fn class_table(class: &str) -> String {
    format!("_{class}")
}

/// Journal table of a class.
pub fn journal_table(class: &str) -> String {
    format!("{class}__journal")
}

/// Link table of a multilink property.
pub fn multilink_table(class: &str, prop: &str) -> String {
    format!("{class}_{prop}")
}

/// What an item-table column holds.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnKind {
    /// One of `activity`, `actor`, `creation`, `creator`.
    Automatic(&'static str),
    /// A declared property.
    Prop(String, PropType),
    /// The seconds of the named Interval property.
    IntervalSeconds(String),
}

/// One column of an item table (without `id` and `__retired__`).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub sql_type: &'static str,
    pub kind: ColumnKind,
}

/// The data columns of a class's item table in Roundup's order (sorted by
/// column name).
pub fn class_columns(class: &ClassDef, dialect: &dyn Dialect) -> Vec<Column> {
    let mut cols = Vec::new();
    for (auto, ptype) in [
        ("actor", PropType::Link),
        ("activity", PropType::Date),
        ("creator", PropType::Link),
        ("creation", PropType::Date),
    ] {
        cols.push(Column {
            name: format!("_{auto}"),
            sql_type: dialect.column_type(ptype, false),
            kind: ColumnKind::Automatic(auto),
        });
    }
    for (name, prop) in class.column_props() {
        cols.push(Column {
            name: format!("_{name}"),
            sql_type: dialect.column_type(prop.ptype, prop.use_double),
            kind: ColumnKind::Prop(name.to_string(), prop.ptype),
        });
        if prop.ptype == PropType::Interval {
            cols.push(Column {
                name: format!("__{name}_int__"),
                sql_type: "BIGINT",
                kind: ColumnKind::IntervalSeconds(name.to_string()),
            });
        }
    }
    cols.sort_by(|a, b| a.name.cmp(&b.name));
    cols
}

/// `CREATE TABLE` for the item table followed by its indexes.
pub fn create_class_table(class: &ClassDef, dialect: &dyn Dialect) -> Vec<String> {
    let mut defs: Vec<String> = class_columns(class, dialect)
        .into_iter()
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect();
    defs.push("id INTEGER PRIMARY KEY".to_string());
    defs.push("__retired__ INTEGER DEFAULT 0".to_string());
    let cn = &class.name;
    let mut out = vec![format!("create table _{cn} ({})", defs.join(","))];
    out.push(format!(
        "create index _{cn}_retired_idx on _{cn}(__retired__)"
    ));
    if let Some(key) = &class.key {
        out.extend(create_key_indexes(cn, key));
    }
    out
}

/// The two indexes Roundup keeps for a key property.
pub fn create_key_indexes(class: &str, key: &str) -> Vec<String> {
    vec![
        format!("create index _{class}_{key}_idx on _{class}(_{key})"),
        format!("create unique index _{class}_key_retired_idx\n            on _{class}(__retired__, _{key})"),
    ]
}

/// Names of the indexes of an item table (whether or not they exist).
pub fn class_index_names(class: &str, key: Option<&str>) -> Vec<String> {
    let mut out = vec![format!("_{class}_id_idx"), format!("_{class}_retired_idx")];
    if let Some(k) = key {
        out.push(format!("_{class}_{k}_idx"));
        out.push(format!("_{class}_key_retired_idx"));
    }
    out
}

/// Journal table and its index.
pub fn create_journal_table(class: &str, dialect: &dyn Dialect) -> Vec<String> {
    vec![
        format!(
            "create table {class}__journal (\n            nodeid integer, date {}, tag varchar(255),\n            action varchar(255), params text)",
            dialect.column_type(PropType::Date, false)
        ),
        format!("create index {class}_journ_idx on {class}__journal(nodeid)"),
    ]
}

/// Link table of a multilink and its two indexes.
pub fn create_multilink_table(class: &str, prop: &str) -> Vec<String> {
    let t = multilink_table(class, prop);
    vec![
        format!("create table {t} (linkid INTEGER, nodeid INTEGER)"),
        format!("create index {t}_l_idx on {t}(linkid)"),
        format!("create index {t}_n_idx on {t}(nodeid)"),
    ]
}

// ---------------------------------------------------------------------
// The `schema` table
// ---------------------------------------------------------------------

/// What the database implements for one class: key property name (empty
/// when none) and `(property, repr)` pairs as Roundup lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    pub key: String,
    pub props: Vec<(String, String)>,
}

impl TableSpec {
    /// The spec Roundup records for a class: stored (non-computed)
    /// properties in declaration order.
    pub fn of_class(class: &ClassDef) -> TableSpec {
        TableSpec {
            key: class.key.clone().unwrap_or_default(),
            props: class
                .props
                .iter()
                .filter(|(_, p)| !p.is_computed())
                .map(|(n, p)| (n.clone(), p.schema_repr()))
                .collect(),
        }
    }

    /// Equal up to the order of the properties (Roundup compares sorted).
    pub fn same_as(&self, other: &TableSpec) -> bool {
        let mut a = self.props.clone();
        let mut b = other.props.clone();
        a.sort();
        b.sort();
        self.key == other.key && a == b
    }

    /// Whether the recorded property `name` is a multilink.
    pub fn is_multilink(&self, name: &str) -> bool {
        self.props
            .iter()
            .any(|(n, r)| n == name && r.starts_with("<roundup.hyperdb.Multilink"))
    }

    /// Whether the recorded property `name` has a column (exists and is
    /// not a multilink).
    pub fn has_column(&self, name: &str) -> bool {
        self.props
            .iter()
            .any(|(n, r)| n == name && !r.starts_with("<roundup.hyperdb.Multilink"))
    }

    /// Whether the recorded property `name` is an Interval.
    pub fn is_interval(&self, name: &str) -> bool {
        self.props
            .iter()
            .any(|(n, r)| n == name && r == "<roundup.hyperdb.Interval>")
    }

    pub fn multilinks(&self) -> Vec<String> {
        self.props
            .iter()
            .filter(|(n, _)| self.is_multilink(n))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// The content of the `schema` table: layout version and, per class in
/// the order they were recorded, the implemented [`TableSpec`].
#[derive(Clone, Debug, PartialEq)]
pub struct DbSchema {
    pub version: i64,
    pub tables: IndexMap<String, TableSpec>,
}

impl Default for DbSchema {
    fn default() -> DbSchema {
        DbSchema {
            version: DB_VERSION,
            tables: IndexMap::new(),
        }
    }
}

fn schema_err(what: impl std::fmt::Display) -> Error {
    Error::storage(format!("unreadable schema table: {what}"))
}

fn py_str(v: &PyValue, what: &str) -> Result<String> {
    match v {
        PyValue::Str(s) => Ok(s.clone()),
        // Python 2 era key of a keyless class.
        PyValue::None => Ok(String::new()),
        other => Err(schema_err(format!(
            "{what} should be a string, found {}",
            pyrepr::repr(other)
        ))),
    }
}

impl DbSchema {
    /// Parse the Python repr Roundup stores in the `schema` table.
    pub fn parse(text: &str) -> Result<DbSchema> {
        let value = pyrepr::parse(text).map_err(schema_err)?;
        let PyValue::Dict(items) = value else {
            return Err(schema_err("the stored value is not a dict"));
        };
        let mut version = None;
        let mut tables_value = None;
        for (k, v) in items {
            match (k, v) {
                (PyValue::Str(k), PyValue::Int(n)) if k == "version" => version = Some(n),
                (PyValue::Str(k), v) if k == "tables" => tables_value = Some(v),
                _ => {}
            }
        }
        let Some(version) = version else {
            return Err(schema_err(
                "no 'version' entry: this database predates layout version 2; upgrade it with Roundup first",
            ));
        };
        let mut tables = IndexMap::new();
        match tables_value {
            Some(PyValue::Dict(entries)) => {
                for (name, spec) in entries {
                    let name = py_str(&name, "class name")?;
                    let (key, props) = match spec {
                        PyValue::Tuple(parts) | PyValue::List(parts) if parts.len() == 2 => {
                            let mut it = parts.into_iter();
                            match (it.next(), it.next()) {
                                (Some(k), Some(p)) => (k, p),
                                _ => {
                                    return Err(schema_err(format!("class \"{name}\": bad entry")))
                                }
                            }
                        }
                        other => {
                            return Err(schema_err(format!(
                                "class \"{name}\": expected (key, properties), found {}",
                                pyrepr::repr(&other)
                            )))
                        }
                    };
                    let key = py_str(&key, "key property")?;
                    let PyValue::List(plist) = props else {
                        return Err(schema_err(format!(
                            "class \"{name}\": properties are not a list"
                        )));
                    };
                    let mut pairs = Vec::with_capacity(plist.len());
                    for p in plist {
                        match p {
                            PyValue::Tuple(pair) | PyValue::List(pair) if pair.len() == 2 => {
                                pairs.push((
                                    py_str(&pair[0], "property name")?,
                                    py_str(&pair[1], "property type")?,
                                ));
                            }
                            other => {
                                return Err(schema_err(format!(
                                    "class \"{name}\": bad property entry {}",
                                    pyrepr::repr(&other)
                                )))
                            }
                        }
                    }
                    tables.insert(name, TableSpec { key, props: pairs });
                }
            }
            None => {}
            Some(other) => {
                return Err(schema_err(format!(
                    "'tables' is not a dict: {}",
                    pyrepr::repr(&other)
                )));
            }
        }
        Ok(DbSchema { version, tables })
    }

    /// The Python repr stored in the `schema` table.
    pub fn to_repr(&self) -> String {
        let tables = self
            .tables
            .iter()
            .map(|(name, spec)| {
                let props = spec
                    .props
                    .iter()
                    .map(|(n, r)| {
                        PyValue::Tuple(vec![PyValue::Str(n.clone()), PyValue::Str(r.clone())])
                    })
                    .collect();
                (
                    PyValue::Str(name.clone()),
                    PyValue::Tuple(vec![PyValue::Str(spec.key.clone()), PyValue::List(props)]),
                )
            })
            .collect();
        pyrepr::repr(&PyValue::Dict(vec![
            (PyValue::Str("version".into()), PyValue::Int(self.version)),
            (PyValue::Str("tables".into()), PyValue::Dict(tables)),
        ]))
    }
}

/// What [`plan_sync`] decided for one class.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassChange {
    /// Not in the database yet.
    Create(String),
    /// Recorded with a different spec (the old one is given).
    Alter(String, TableSpec),
    /// Recorded but no longer in the schema.
    Drop(String, TableSpec),
}

/// Compare the recorded schema with the wanted one.
pub fn plan_sync(stored: &DbSchema, schema: &Schema) -> Vec<ClassChange> {
    let mut out = Vec::new();
    for (name, class) in &schema.classes {
        match stored.tables.get(name) {
            None => out.push(ClassChange::Create(name.clone())),
            Some(old) if !old.same_as(&TableSpec::of_class(class)) => {
                out.push(ClassChange::Alter(name.clone(), old.clone()))
            }
            Some(_) => {}
        }
    }
    for (name, spec) in &stored.tables {
        if !schema.classes.contains_key(name) {
            out.push(ClassChange::Drop(name.clone(), spec.clone()));
        }
    }
    out
}

// ---------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------

/// Parse an item id (decimal) for use in SQL.
pub fn parse_id(class: &str, id: &str) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 || id == "0")
        .ok_or_else(|| Error::value(format!("\"{id}\" is not a valid {class} id")))
}

/// The column value of a property value. Interval seconds are produced
/// separately by [`interval_seconds`].
pub fn value_to_sql(
    dialect: &dyn Dialect,
    class: &str,
    prop: &str,
    ptype: PropType,
    value: &Value,
) -> Result<SqlValue> {
    let mismatch = || {
        Error::value(format!(
            "{class}.{prop} is a {} property but was given a {} value",
            ptype.name(),
            value.ptype().name()
        ))
    };
    Ok(match (ptype, value) {
        (PropType::String, Value::String(s)) => SqlValue::Text(s.clone()),
        (PropType::Password, Value::Password(p)) => SqlValue::Text(p.as_str().to_string()),
        (PropType::Date, Value::Date(d)) => dialect.date_bound(d),
        (PropType::Interval, Value::Interval(i)) => SqlValue::Text(i.to_string()),
        (PropType::Link, Value::Link(id)) => SqlValue::Int(parse_id(prop, id)?),
        (PropType::Boolean, Value::Boolean(b)) => dialect.bool_value(*b),
        (PropType::Number, Value::Number(n)) => SqlValue::Real(*n),
        (PropType::Integer, Value::Integer(n)) => SqlValue::Int(*n),
        _ => return Err(mismatch()),
    })
}

/// The `__p_int__` column value of an Interval value.
pub fn interval_seconds(value: Option<&Value>) -> SqlValue {
    match value {
        Some(Value::Interval(i)) => SqlValue::Int(i.as_seconds()),
        _ => SqlValue::Null,
    }
}

fn sql_text(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => String::new(),
        SqlValue::Int(n) => n.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Text(s) => s.clone(),
    }
}

/// Turn a column value back into a property value (dates as the dialect
/// stores them). `what` names the column for error messages.
pub fn value_from_sql(
    dialect: &dyn Dialect,
    ptype: PropType,
    v: SqlValue,
    what: &dyn Fn() -> String,
) -> Result<Option<Value>> {
    if v == SqlValue::Null {
        return Ok(None);
    }
    // `what` names the value in errors only: it is not formatted for
    // every value read.
    let bad = |why: &str| Error::storage(format!("{}: stored value {v:?} {why}", what()));
    let value = match ptype {
        PropType::String => Value::String(sql_text(&v)),
        PropType::Password => Value::Password(
            Password::from_encrypted(&sql_text(&v))
                .map_err(|e| bad(&format!("is not a password: {e}")))?,
        ),
        PropType::Date => match dialect.date_from_sql(&v).map_err(|e| bad(&e.to_string()))? {
            Some(d) => Value::Date(d),
            None => return Ok(None),
        },
        PropType::Interval => {
            let text = sql_text(&v);
            let parsed = Interval::parse(&text).or_else(|_| Interval::from_serialised(&text));
            Value::Interval(parsed.map_err(|e| bad(&format!("is not an interval: {e}")))?)
        }
        PropType::Link => match &v {
            SqlValue::Int(n) => Value::Link(n.to_string()),
            SqlValue::Real(f) if f.fract() == 0.0 => Value::Link(format!("{}", *f as i64)),
            SqlValue::Text(s) if s.trim().parse::<i64>().is_ok() => {
                Value::Link(s.trim().to_string())
            }
            _ => return Err(bad("is not an item id")),
        },
        PropType::Boolean => match &v {
            SqlValue::Int(n) => Value::Boolean(*n != 0),
            SqlValue::Real(f) => Value::Boolean(*f != 0.0),
            SqlValue::Text(s) => match s.trim() {
                "TRUE" | "True" | "true" | "1" => Value::Boolean(true),
                "FALSE" | "False" | "false" | "0" => Value::Boolean(false),
                _ => return Err(bad("is not a boolean")),
            },
            SqlValue::Null => return Ok(None),
        },
        PropType::Number => match &v {
            SqlValue::Int(n) => Value::Number(*n as f64),
            SqlValue::Real(f) => Value::Number(*f),
            SqlValue::Text(s) => {
                Value::Number(s.trim().parse().map_err(|_| bad("is not a number"))?)
            }
            SqlValue::Null => return Ok(None),
        },
        PropType::Integer => match &v {
            SqlValue::Int(n) => Value::Integer(*n),
            SqlValue::Real(f) if f.fract() == 0.0 => Value::Integer(*f as i64),
            SqlValue::Text(s) => {
                Value::Integer(s.trim().parse().map_err(|_| bad("is not an integer"))?)
            }
            _ => return Err(bad("is not an integer")),
        },
        PropType::Multilink => return Err(bad("belongs to a multilink, which has no column")),
    };
    Ok(Some(value))
}

/// An id column value as Roundup's string id.
pub fn id_from_sql(v: &SqlValue) -> Option<String> {
    int_id_from_sql(v).map(|n| n.to_string())
}

/// An id column value as a number.
pub fn int_id_from_sql(v: &SqlValue) -> Option<i64> {
    match v {
        SqlValue::Int(n) => Some(*n),
        SqlValue::Real(f) if f.fract() == 0.0 => Some(*f as i64),
        SqlValue::Text(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------
// Full-text index words (Roundup's "native" indexer)
// ---------------------------------------------------------------------

/// Words the native indexer never stores.
pub const STOPWORDS: [&str; 32] = [
    "A", "AND", "ARE", "AS", "AT", "BE", "BUT", "BY", "FOR", "IF", "IN", "INTO", "IS", "IT", "NO",
    "NOT", "OF", "ON", "OR", "SUCH", "THAT", "THE", "THEIR", "THEN", "THERE", "THESE", "THEY",
    "THIS", "TO", "WAS", "WILL", "WITH",
];
/// Shortest and longest indexed word, in characters.
pub const MIN_WORD: usize = 2;
pub const MAX_WORD: usize = 50;

/// The default stopword set (upper case).
pub fn default_stopwords() -> HashSet<String> {
    STOPWORDS.iter().map(|s| s.to_string()).collect()
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The distinct words of `text` that the index stores: maximal runs of
/// word characters of the allowed length, upper-cased, minus stopwords.
pub fn index_words(text: &str, stopwords: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for_each_index_word(text, stopwords, |w| out.push(w.to_string()));
    out
}

/// Call `f` with each word [`index_words`] returns, in the same order,
/// without building the list.
pub fn for_each_index_word(text: &str, stopwords: &HashSet<String>, mut f: impl FnMut(&str)) {
    let upper = text.to_uppercase();
    let mut seen: HashSet<&str> = HashSet::new();
    for word in upper.split(|c: char| !word_char(c)) {
        // Cheap length bounds first: a word of n chars has n to 4n bytes.
        if word.len() < MIN_WORD || word.len() > 4 * MAX_WORD {
            continue;
        }
        let n = if word.is_ascii() {
            word.len()
        } else {
            word.chars().count()
        };
        if (MIN_WORD..=MAX_WORD).contains(&n) && !stopwords.contains(word) && seen.insert(word) {
            f(word);
        }
    }
}

/// Every word of `text` the index could store, upper-cased, in text
/// order and with repeats, stopwords not yet removed: the first steps of
/// [`index_words`], for callers that remove repeats and stopwords their
/// own way (bulk indexing).
pub fn for_each_word_candidate(text: &str, mut f: impl FnMut(&str)) {
    let mut emit = |w: &str, n: usize| {
        if (MIN_WORD..=MAX_WORD).contains(&n) {
            f(w);
        }
    };
    if text.is_ascii() {
        // The usual case, byte by byte: same result, much faster.
        let upper = text.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        let mut start = 0;
        for (i, b) in bytes.iter().enumerate() {
            if !(b.is_ascii_alphanumeric() || *b == b'_') {
                emit(&upper[start..i], i - start);
                start = i + 1;
            }
        }
        emit(&upper[start..], bytes.len() - start);
    } else {
        let upper = text.to_uppercase();
        for w in upper.split(|c: char| !word_char(c)) {
            emit(w, w.chars().count());
        }
    }
}

/// Search words as the index stores them; words the index would never
/// hold (too short/long, stopwords) are dropped.
pub fn query_words(words: &[String], stopwords: &HashSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let w = w.to_uppercase();
        let n = w.chars().count();
        if (MIN_WORD..=MAX_WORD).contains(&n) && !stopwords.contains(&w) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_candidates_less_repeats_and_stopwords_are_the_words() {
        let sw = default_stopwords();
        for text in [
            "The quick brown fox, a fox! snake_case 42 \u{e9} ab",
            "Stra\u{df}e und STRASSE; \u{c9}t\u{e9} \u{e9}t\u{e9} x",
            &format!("{} {} ok", "y".repeat(50), "z".repeat(51)),
            "snake_case 42, Ab-cd x9 THE the [brackets] tab\there",
            "",
        ] {
            let mut got: Vec<String> = Vec::new();
            for_each_word_candidate(text, |w| {
                if !sw.contains(w) && !got.iter().any(|g| g == w) {
                    got.push(w.to_string());
                }
            });
            assert_eq!(got, index_words(text, &sw), "{text:?}");
        }
    }

    #[test]
    fn words_follow_native_indexer_rules() {
        let sw = default_stopwords();
        let long = "x".repeat(51);
        let words = index_words(
            &format!("The quick brown fox, a fox! snake_case 42 é {long} ab"),
            &sw,
        );
        assert_eq!(
            words,
            vec!["QUICK", "BROWN", "FOX", "SNAKE_CASE", "42", "AB"]
        );
        assert_eq!(
            query_words(&["Fox".into(), "the".into(), "x".into()], &sw),
            vec!["FOX"]
        );
    }

    #[test]
    fn table_spec_compare_ignores_order() {
        let a = TableSpec {
            key: "name".into(),
            props: vec![("a".into(), "x".into()), ("b".into(), "y".into())],
        };
        let mut b = a.clone();
        b.props.reverse();
        assert!(a.same_as(&b));
        b.key = String::new();
        assert!(!a.same_as(&b));
    }
}
