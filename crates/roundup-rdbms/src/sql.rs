//! Backend-neutral SQL building blocks: values, the [`Dialect`] (what the
//! text of SQL differs in between engines) and the [`Connection`] (what a
//! database driver provides to the generic storage).
//!
//! Statements of the generic layer are written with numbered placeholders
//! `?1`, `?2`, ... and portable SQL; [`Dialect::numbered`] turns them into
//! the engine's placeholders and every engine-specific construct comes from
//! a dialect method.

use std::borrow::Cow;
use std::collections::HashSet;

use roundup_core::date::Date;
use roundup_core::schema::PropType;
use roundup_core::{Error, Result};

/// A value bound to a statement parameter or read from a result column.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A statement parameter borrowing its text (bulk inserts bind many words
/// without copying them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SqlRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

impl SqlValue {
    /// The value as a borrowed parameter.
    pub fn as_ref(&self) -> SqlRef<'_> {
        match self {
            SqlValue::Null => SqlRef::Null,
            SqlValue::Int(n) => SqlRef::Int(*n),
            SqlValue::Real(f) => SqlRef::Real(*f),
            SqlValue::Text(t) => SqlRef::Text(t),
        }
    }
}

/// What the change log ([`crate::change_log`]) needs from an engine
/// beyond portable SQL: its table, triggers, a schema version that moves
/// with every DDL, and the list of its triggers.
pub trait ChangeLogSql {
    /// `create table if not exists rr_changes (seq <ascending integer key
    /// the engine assigns as max + 1>, class varchar(255) not null, nodeid integer)`.
    fn create_table(&self) -> &'static str;
    /// A row-level trigger `name` running `body` (statements, each ending
    /// with `;`, that may name the row as `new`/`old`) after `event`
    /// (insert, update, delete) on `table`, only `when` that holds.
    fn trigger(
        &self,
        name: &str,
        event: &str,
        table: &str,
        when: Option<&str>,
        body: &str,
    ) -> String;
    /// A statement dropping trigger `name` (of `table`) if it exists.
    fn drop_trigger(&self, name: &str, table: &str) -> String;
    /// A query of one integer that changes whenever the schema does
    /// (tables rebuilt, triggers dropped or created).
    fn schema_version(&self) -> &'static str;
    /// A query of (trigger name, table) for every trigger whose name
    /// starts with `prefix`.
    fn trigger_names(&self, prefix: &str) -> String;
}

/// What differs between SQL engines, as far as Roundup's layout goes.
pub trait Dialect: Send + Sync {
    /// Backend name as in config.ini.
    fn name(&self) -> &'static str;
    /// Placeholder for the `n`th (1-based) statement parameter.
    fn placeholder(&self, n: usize) -> String;
    /// A case-insensitive substring test of `expr` against a bound pattern
    /// that already contains the `%` wildcards (escape character `\`).
    fn like_ci(&self, expr: &str, placeholder: &str) -> String;

    // ---- filter support (filter branch) ----------------------------------
    // Defaults are portable SQL accepted by SQLite, PostgreSQL and MySQL;
    // backends override where their engine needs or allows better.

    /// The bound value compared against a Date column for a range bound.
    /// Default: Roundup's serialised text form (`YYYYMMDDHHMMSS.mmm`), which
    /// orders correctly as text.
    /// Dates are stored in this form too (columns and journal dates), so
    /// bounds and stored values always compare alike.
    fn date_bound(&self, date: &Date) -> SqlValue {
        SqlValue::Text(date.serialise())
    }

    /// The bound value compared against a Boolean column. Default: 0/1.
    fn bool_value(&self, value: bool) -> SqlValue {
        SqlValue::Int(i64::from(value))
    }

    /// What follows the queried table's alias in a query restricted to
    /// listed ids (a full-text search's matches, an order's repair) so
    /// that the rows are read by id. Default: nothing (the planner's
    /// statistics choose).
    fn by_listed_ids_hint(&self) -> &'static str {
        ""
    }

    /// A list of many integer ids as one bound value and the subquery
    /// reading it back (`expr IN (<subquery>)`), so that a list of
    /// thousands (a full-text search's matches) is neither parsed as SQL
    /// nor a new statement each time. `None` (the default): the ids are
    /// written into the statement as literals.
    fn id_list_param(&self, ids: &[i64], placeholder: &str) -> Option<(SqlValue, String)> {
        let _ = (ids, placeholder);
        None
    }

    /// A case-sensitive equality test of `expr` against a bound value.
    fn eq_case_sensitive(&self, expr: &str, placeholder: &str) -> String {
        format!("{expr} = {placeholder}")
    }

    /// Whether the engine sorts NULL before every value in ascending
    /// order (SQLite, MySQL), as Roundup wants. When false (the safe
    /// default), filter SQL adds an explicit NULL-ordering key.
    fn nulls_sort_first(&self) -> bool {
        false
    }

    /// The LIMIT/OFFSET tail of a query (empty when neither applies).
    fn limit_offset(&self, limit: Option<u64>, offset: u64) -> String {
        match (limit, offset) {
            (None, 0) => String::new(),
            (Some(l), 0) => format!(" LIMIT {l}"),
            (Some(l), o) => format!(" LIMIT {l} OFFSET {o}"),
            // SQLite and MySQL need a LIMIT before OFFSET.
            (None, o) => format!(" LIMIT {} OFFSET {o}", i64::MAX),
        }
    }
    // ---- end of filter support -------------------------------------------

    // ---- storage layout (storage branch) ---------------------------------
    // Item values are stored with `date_bound` (dates) and `bool_value`
    // (booleans) above, so filter bounds and stored values always agree.

    /// SQL column type of a stored (non-multilink) property. The default is
    /// the generic mapping of Roundup's rdbms layer (PostgreSQL uses it).
    fn column_type(&self, ptype: PropType, use_double: bool) -> &'static str {
        match ptype {
            PropType::String => "TEXT",
            PropType::Date => "TIMESTAMP",
            PropType::Link | PropType::Integer => "INTEGER",
            PropType::Interval | PropType::Password => "VARCHAR(255)",
            PropType::Boolean => "BOOLEAN",
            PropType::Number if use_double => "DOUBLE PRECISION",
            PropType::Number => "REAL",
            // Multilinks have their own tables; never a column.
            PropType::Multilink => "INTEGER",
        }
    }

    /// Read a stored Date back. Default: Roundup's serialised text form,
    /// as `date_bound` writes it.
    fn date_from_sql(&self, value: &SqlValue) -> Result<Option<Date>> {
        let text = match value {
            SqlValue::Null => return Ok(None),
            SqlValue::Text(t) => Cow::Borrowed(t.as_str()),
            SqlValue::Int(n) => Cow::Owned(n.to_string()),
            SqlValue::Real(f) => Cow::Owned(f.to_string()),
        };
        Date::from_serialised(text.trim())
            .map(Some)
            .map_err(|e| Error::storage(format!("stored date \"{text}\" is unreadable: {e}")))
    }

    /// `sql` (written with `?1`, `?2`, ... placeholders) with this
    /// engine's placeholders. The default rewrites each `?N` to
    /// [`Dialect::placeholder`]`(N)`; engines that take `?N` as it is
    /// return it unchanged.
    fn numbered<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        if !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut rest = sql;
        while let Some(pos) = rest.find('?') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            match after[..digits].parse::<usize>() {
                Ok(n) => out.push_str(&self.placeholder(n)),
                Err(_) => out.push('?'),
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    /// A quoted identifier (savepoint names, index names found in the
    /// catalogue). Default: SQL's double quotes.
    fn quote_ident(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// Start, keep and undo a savepoint (its name already quoted).
    fn savepoint(&self, name: &str) -> String {
        format!("SAVEPOINT {name}")
    }
    fn release_savepoint(&self, name: &str) -> String {
        format!("RELEASE SAVEPOINT {name}")
    }
    fn rollback_to_savepoint(&self, name: &str) -> String {
        format!("ROLLBACK TO SAVEPOINT {name}")
    }

    /// The larger of two expressions (`greatest(a, b)` in PostgreSQL and
    /// MySQL; SQLite spells it `max`).
    fn greatest(&self, a: &str, b: &str) -> String {
        format!("greatest({a}, {b})")
    }

    /// An `insert` that silently skips a row a unique index refuses.
    /// Default: PostgreSQL's `on conflict do nothing`.
    fn insert_ignore(&self, table: &str, columns: &str, values: &str) -> String {
        format!("insert into {table} ({columns}) values ({values}) on conflict do nothing")
    }

    /// An expression's text as an integer, for sorting ids stored as text.
    fn cast_integer(&self, expr: &str) -> String {
        format!("cast({expr} as integer)")
    }

    /// The `order by` terms of a journal: by date, and entries of equal
    /// dates in the order they were written where the engine can tell.
    fn journal_order(&self) -> &'static str {
        "date"
    }

    /// The engine's words for the change log of [`crate::change_log`],
    /// or `None` when it keeps none (readers are then told that anything
    /// may have changed after every commit).
    fn change_log(&self) -> Option<&dyn ChangeLogSql> {
        None
    }

    /// An expression equal to a multilink table's `nodeid` that Roundup
    /// 2.6's own statements never write, for an index of ours on
    /// `(<expr>, linkid, nodeid)`: our reads of an item's links by owner
    /// are then answered from that index alone, while the engine's planner
    /// cannot pick it for Roundup's queries on the same database (a plain
    /// `(nodeid, linkid)` index made it plan Roundup's searches badly).
    /// `None`: no such index; reads go through Roundup's `nodeid` index.
    fn multilink_owner_expr(&self) -> Option<&'static str> {
        None
    }

    /// `create index` that does nothing when the index exists.
    fn create_index_if_missing(&self, name: &str, table: &str, columns: &str) -> String {
        format!("create index if not exists {name} on {table}({columns})")
    }

    /// `drop index` that does nothing when there is none (MySQL names the
    /// table, hence `table`).
    fn drop_index_if_exists(&self, name: &str, _table: &str) -> String {
        format!("drop index if exists {name}")
    }

    /// The table of Roundup's full-text search (the `[main] indexer`
    /// engines other than native), created with the base tables and by
    /// the layout upgrade to version 7; `None` when the engine has none.
    fn fts_table(&self) -> Option<&'static str> {
        None
    }
    // ---- end of storage layout -------------------------------------------
}

/// Information about an ordinary (not unique) index of a table, for bulk
/// loads that drop indexes and build them again at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainIndex {
    pub name: String,
    /// The indexed columns, comma-separated.
    pub columns: String,
    /// The statement that makes the index again when it is missing.
    pub recreate: String,
}

/// A connection to one database, as the generic storage
/// ([`crate::storage::RdbmsStorage`]) uses it. The statement methods take
/// `&self` (SQL drivers keep their statement caches behind it; a driver
/// whose client needs `&mut` keeps it in a `RefCell`).
///
/// Statements passed in are already in the engine's placeholder style
/// (see [`Dialect::numbered`]). Prepared statements should be cached:
/// the storage runs the same few statements over and over.
pub trait Connection: Send {
    /// The engine's dialect.
    type Dialect: Dialect + Clone;
    fn dialect(&self) -> Self::Dialect;

    /// Run one statement with parameters; the number of rows changed.
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<usize>;
    /// The same with borrowed parameters.
    fn execute_refs(&self, sql: &str, params: &[SqlRef<'_>]) -> Result<usize>;
    /// Run a query and collect its rows.
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>>;
    /// Run a query and collect the first column of its rows as item ids
    /// ([`crate::layout::int_id_from_sql`]); `None` when one is not an
    /// id. Drivers override it to read long id lists without a row of
    /// values each.
    fn query_first_ints(&self, sql: &str, params: &[SqlValue]) -> Result<Option<Vec<i64>>> {
        Ok(self
            .query(sql, params)?
            .iter()
            .map(|r| r.first().and_then(crate::layout::int_id_from_sql))
            .collect())
    }
    /// Run statements without parameters or results, uncached (DDL,
    /// savepoints).
    fn execute_batch(&self, sql: &str) -> Result<()>;

    /// Whether the engine has a transaction open; false once it rolled
    /// one back on its own (after a disk error, a deadlock).
    fn in_transaction(&self) -> bool;
    /// Open the write transaction (taking whatever lock the engine needs
    /// so that the transaction's writes can proceed).
    fn begin(&mut self) -> Result<()>;
    /// Commit the open transaction. On failure the transaction may still
    /// be open ([`Connection::in_transaction`] says).
    fn commit(&mut self) -> Result<()>;
    /// Roll the open transaction back.
    fn rollback(&mut self) -> Result<()>;
    /// The transaction begun by [`Connection::begin`] is over (committed,
    /// rolled back, or lost): release what `begin` took.
    fn transaction_ended(&mut self) {}
    /// After a successful commit and `transaction_ended`: make the commit
    /// durable if the engine left that to the caller, and undo tuning a
    /// bulk load made.
    fn after_commit(&mut self) -> Result<()> {
        Ok(())
    }
    /// After a rollback: undo tuning a bulk load made.
    fn after_rollback(&mut self) -> Result<()> {
        Ok(())
    }

    /// Whether a table exists.
    fn table_exists(&self, name: &str) -> Result<bool>;
    /// Names of the existing indexes that start with `prefix`.
    fn index_names(&self, prefix: &str) -> Result<HashSet<String>>;
    /// The new database's base tables were just created.
    fn database_created(&mut self) -> Result<()> {
        Ok(())
    }

    /// A marker of what this connection sees: it changes whenever another
    /// connection commits or this one writes; `None` when the engine
    /// cannot tell (then nothing is cached across statements).
    fn state_marker(&self) -> Result<Option<(i64, u64)>> {
        Ok(None)
    }
    /// See [`roundup_core::storage::Storage::data_version`].
    fn data_version(&self) -> Result<Option<i64>> {
        Ok(None)
    }

    /// A bulk load starts (`in_transaction`: inside an open transaction
    /// of this connection); the engine may tune itself for it until the
    /// transaction ends.
    fn bulk_load_starts(&mut self, _in_transaction: bool) -> Result<()> {
        Ok(())
    }
    /// The ordinary indexes of `table` that a bulk load into it, while it
    /// is empty, may drop and build again at the end. Default: none (no
    /// indexes are deferred).
    fn plain_indexes(&self, _table: &str) -> Result<Vec<PlainIndex>> {
        Ok(Vec::new())
    }
    /// Run the `create index` statements a bulk load deferred.
    fn build_indexes(&self, creates: &[String]) -> Result<()> {
        for sql in creates {
            self.execute(sql, &[])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine with `$N` placeholders (PostgreSQL's style).
    struct Dollar;

    impl Dialect for Dollar {
        fn name(&self) -> &'static str {
            "dollar"
        }
        fn placeholder(&self, n: usize) -> String {
            format!("${n}")
        }
        fn like_ci(&self, expr: &str, placeholder: &str) -> String {
            format!("{expr} ILIKE {placeholder}")
        }
    }

    #[test]
    fn numbered_placeholders_become_the_engines() {
        let d = Dollar;
        assert_eq!(
            d.numbered("update ids set num=greatest(num, ?1) where name=?2"),
            "update ids set num=greatest(num, $1) where name=$2"
        );
        assert_eq!(
            d.numbered("insert into t (a) select ?10, ?1 where x=?1"),
            "insert into t (a) select $10, $1 where x=$1"
        );
        // no placeholder: the text itself, not a copy
        assert!(matches!(d.numbered("select 1"), Cow::Borrowed("select 1")));
        // a lone question mark is left alone
        assert_eq!(d.numbered("select '?' from t"), "select '?' from t");
    }

    #[test]
    fn default_dates_are_roundups_serialised_text() {
        let d = Dollar;
        let date = Date::from_serialised("20240102030405.500").unwrap();
        let stored = d.date_bound(&date);
        assert_eq!(stored, SqlValue::Text("20240102030405.500".into()));
        assert_eq!(d.date_from_sql(&stored).unwrap(), Some(date));
        assert_eq!(d.date_from_sql(&SqlValue::Null).unwrap(), None);
        let err = d.date_from_sql(&SqlValue::Text("soon".into())).unwrap_err();
        assert!(err.to_string().contains("\"soon\""), "{err}");
    }
}
