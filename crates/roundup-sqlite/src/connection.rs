//! SQLite under Roundup's layout: the [`SqliteDialect`] and the
//! [`SqliteConnection`] that [`roundup_rdbms::RdbmsStorage`] runs on.
//!
//! The database is the single file `<tracker>/db/db`, in write-ahead-log
//! mode as Roundup makes it. A write transaction starts with
//! `BEGIN IMMEDIATE` after queueing behind this process's other writers of
//! the file, and a commit is made durable by a log flush shared with other
//! committers (see [`crate::local_writers`]). A bulk load that starts its
//! own transaction switches the file to a rollback journal until that
//! transaction ends.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, ToSql};

use roundup_core::schema::PropType;
use roundup_core::{Error, Result, StorageKind};
use roundup_rdbms::sql::{ChangeLogSql, Connection, Dialect, PlainIndex, SqlRef, SqlValue};

use crate::local_writers::LocalWriters;

/// SQLite's flavour of SQL for the generic layout and filter code.
#[derive(Clone, Copy, Debug, Default)]
pub struct SqliteDialect;

/// Roundup's SQLite full-text search table (layout version 7).
const FTS_TABLE: &str = "CREATE virtual TABLE __fts USING fts5(_class, _itemid, _prop, _textblob)";

/// SQLite keeps the change log with `rowid` keys and triggers; its
/// `schema_version` moves with every DDL statement.
impl ChangeLogSql for SqliteDialect {
    fn create_table(&self) -> &'static str {
        "create table if not exists rr_changes (seq integer primary key, class varchar(255) not null, nodeid integer)"
    }

    fn trigger(
        &self,
        name: &str,
        event: &str,
        table: &str,
        when: Option<&str>,
        body: &str,
    ) -> String {
        let when = when.map(|w| format!(" when {w}")).unwrap_or_default();
        format!("create trigger {name} after {event} on {table}{when} begin {body} end")
    }

    fn drop_trigger(&self, name: &str, _table: &str) -> String {
        format!("drop trigger if exists {name}")
    }

    fn schema_version(&self) -> &'static str {
        "pragma schema_version"
    }

    fn trigger_names(&self, prefix: &str) -> String {
        format!(
            "select name, tbl_name from sqlite_master where type = 'trigger' and substr(name, 1, {}) = '{}'",
            prefix.len(),
            prefix.replace('\'', "''")
        )
    }
}

impl Dialect for SqliteDialect {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn change_log(&self) -> Option<&dyn ChangeLogSql> {
        Some(self)
    }

    /// `nodeid+0`: SQLite matches an expression index only to the same
    /// expression, so Roundup's `nodeid = ?` keeps its own index.
    fn multilink_owner_expr(&self) -> Option<&'static str> {
        Some("nodeid+0")
    }

    /// Without statistics SQLite walks a sort index over every row
    /// checking each id rather than read the listed ids' rows and sort
    /// those (`EXPLAIN QUERY PLAN`: two ids by `-activity` scanned the
    /// whole `(__retired__, _activity)` index): `NOT INDEXED` leaves it the
    /// row ids.
    fn by_listed_ids_hint(&self) -> &'static str {
        " NOT INDEXED"
    }

    /// A JSON array read back by `json_each` (built into SQLite).
    fn id_list_param(&self, ids: &[i64], placeholder: &str) -> Option<(SqlValue, String)> {
        let mut json = String::with_capacity(ids.len() * 7 + 2);
        json.push('[');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&id.to_string());
        }
        json.push(']');
        Some((
            SqlValue::Text(json),
            format!("SELECT value FROM json_each({placeholder})"),
        ))
    }

    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    fn numbered<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        // SQLite takes `?N` as it is.
        std::borrow::Cow::Borrowed(sql)
    }

    fn like_ci(&self, expr: &str, placeholder: &str) -> String {
        // SQLite's LIKE ignores ASCII case already.
        format!("{expr} LIKE {placeholder} ESCAPE '\\'")
    }

    fn nulls_sort_first(&self) -> bool {
        // SQLite orders NULL before everything else, as Roundup expects.
        true
    }

    fn column_type(&self, ptype: PropType, _use_double: bool) -> &'static str {
        // REAL is already double precision in SQLite.
        match ptype {
            PropType::String | PropType::Interval | PropType::Password => "VARCHAR(255)",
            PropType::Date => "VARCHAR(30)",
            PropType::Link | PropType::Integer | PropType::Multilink => "INTEGER",
            PropType::Boolean => "BOOLEAN",
            PropType::Number => "REAL",
        }
    }

    fn greatest(&self, a: &str, b: &str) -> String {
        format!("max({a}, {b})")
    }

    fn insert_ignore(&self, table: &str, columns: &str, values: &str) -> String {
        format!("insert or ignore into {table} ({columns}) values ({values})")
    }

    fn journal_order(&self) -> &'static str {
        // rowid: entries of equal dates in the order they were written.
        "date, rowid"
    }

    fn savepoint(&self, name: &str) -> String {
        format!("SAVEPOINT {name}")
    }

    fn release_savepoint(&self, name: &str) -> String {
        format!("RELEASE {name}")
    }

    fn rollback_to_savepoint(&self, name: &str) -> String {
        format!("ROLLBACK TO {name}")
    }

    fn fts_table(&self) -> Option<&'static str> {
        Some(FTS_TABLE)
    }
}

/// What kind of storage failure an SQLite error is.
pub fn error_kind(e: &rusqlite::Error) -> StorageKind {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => StorageKind::Busy,
        Some(C::ConstraintViolation) => StorageKind::Constraint,
        Some(C::CannotOpen | C::NotADatabase | C::PermissionDenied) => StorageKind::Connection,
        _ => StorageKind::Other,
    }
}

/// A storage error naming the statement (and so the operation and table).
fn sql_err(sql: &str, e: rusqlite::Error) -> Error {
    let mut text: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 160 {
        text = text.chars().take(160).collect::<String>() + "...";
    }
    Error::storage_kind(
        error_kind(&e),
        format!("SQLite statement `{text}` failed: {e}"),
    )
}

struct Param<'a>(SqlRef<'a>);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlRef::Null => ValueRef::Null,
            SqlRef::Int(n) => ValueRef::Integer(n),
            SqlRef::Real(f) => ValueRef::Real(f),
            SqlRef::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn from_ref(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Int(n),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            SqlValue::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}

/// Ask SQLite to keep the memory of all its connections in this process
/// (page caches above all) under about `bytes`, giving cached pages back
/// before growing past it. Long-running servers with a pool of
/// connections call it once; it is advisory (SQLite may exceed it
/// briefly rather than fail).
pub fn limit_process_memory(bytes: i64) -> Result<()> {
    let conn = rusqlite::Connection::open_in_memory()
        .map_err(|e| Error::connection(format!("opening SQLite in memory: {e}")))?;
    conn.query_row(&format!("PRAGMA soft_heap_limit = {bytes}"), [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| sql_err("PRAGMA soft_heap_limit", e))?;
    Ok(())
}

/// A connection to a tracker's SQLite database file.
pub struct SqliteConnection {
    conn: rusqlite::Connection,
    path: PathBuf,
    /// The write queue and log flushes this process's connections to the
    /// file share (see `local_writers`).
    shared: Arc<LocalWriters>,
    /// Where the write-ahead log is, when the database uses one (then
    /// commits are synced by group commit, see `local_writers`).
    wal: Option<PathBuf>,
    /// Whether the open transaction passed the gate (and must release it).
    gate_held: bool,
    /// How long to wait for the write lock (`[rdbms] sqlite_timeout`).
    timeout: Duration,
    /// Whether a bulk load switched the journal mode (see
    /// `bulk_load_starts`).
    journal_switched: bool,
}

impl SqliteConnection {
    /// Open (creating if needed) the database `<db_dir>/db`. `timeout` is
    /// how long to wait for another connection's lock (`[rdbms]
    /// sqlite_timeout`).
    pub fn open(db_dir: &Path, timeout: Duration) -> Result<SqliteConnection> {
        std::fs::create_dir_all(db_dir).map_err(|e| {
            Error::io(
                format!("creating database directory {}", db_dir.display()),
                e,
            )
        })?;
        let path = db_dir.join("db");
        let conn = rusqlite::Connection::open(&path).map_err(|e| {
            Error::storage_kind(
                error_kind(&e),
                format!("cannot open SQLite database {}: {e}", path.display()),
            )
        })?;
        conn.busy_timeout(timeout).map_err(|e| {
            Error::storage(format!(
                "setting the busy timeout on {}: {e}",
                path.display()
            ))
        })?;
        // Savepoints (one per write operation) copy the pages they change
        // to a sub-journal; keep it in memory instead of a temporary file,
        // which for bulk work (imports) means millions of small writes.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(|e| {
                Error::storage_kind(
                    error_kind(&e),
                    format!("setting temp_store on {}: {e}", path.display()),
                )
            })?;
        // Room for every statement an import or a page cycles through.
        conn.set_prepared_statement_cache_capacity(64);
        let shared = LocalWriters::for_path(&path);
        let mut c = SqliteConnection {
            conn,
            path,
            shared,
            wal: None,
            gate_held: false,
            timeout,
            journal_switched: false,
        };
        c.set_durability()?;
        Ok(c)
    }

    /// Keep about `bytes` of database pages cached on this connection
    /// (`PRAGMA cache_size` in KiB; at least 64 KiB).
    pub fn set_page_cache(&self, bytes: usize) -> Result<()> {
        let kib = (bytes / 1024).max(64);
        self.conn
            .pragma_update(
                None,
                "cache_size",
                -(i64::try_from(kib).unwrap_or(i64::MAX)),
            )
            .map_err(|e| {
                Error::storage_kind(
                    error_kind(&e),
                    format!("setting cache_size on {}: {e}", self.path.display()),
                )
            })
    }

    /// The page cache size in KiB (`PRAGMA cache_size`, negated).
    pub fn page_cache_kib(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0))
            .map(|n| -n)
            .map_err(|e| sql_err("PRAGMA cache_size", e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn mode(&self, sql: &str) -> Result<String> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, String>(0))
            .map_err(|e| sql_err(sql, e))
    }

    fn release_gate(&mut self) {
        if std::mem::take(&mut self.gate_held) {
            self.shared.gate.release();
        }
    }

    /// How commits reach the disk, by journal mode. With a write-ahead log
    /// SQLite writes the log at commit without syncing it
    /// (`synchronous=NORMAL`) and `after_commit` syncs it afterwards,
    /// outside the write lock, in a flush shared with other commits (see
    /// `local_writers`). With a rollback journal SQLite syncs at every
    /// commit itself (`FULL`).
    fn set_durability(&mut self) -> Result<()> {
        let wal = self
            .mode("pragma journal_mode")?
            .eq_ignore_ascii_case("wal");
        let level = if wal { "NORMAL" } else { "FULL" };
        self.conn
            .pragma_update(None, "synchronous", level)
            .map_err(|e| sql_err(&format!("pragma synchronous={level}"), e))?;
        self.wal = wal.then(|| {
            let mut p = self.path.clone().into_os_string();
            p.push("-wal");
            PathBuf::from(p)
        });
        Ok(())
    }

    /// Make the commit just made durable: return once the log has been
    /// synced after it (by this thread or another committer).
    fn sync_log(&self) -> Result<()> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        self.shared
            .wal_sync
            .sync(|| match std::fs::File::open(wal) {
                Ok(f) => f.sync_data(),
                // No log any more: the last connection checkpointed it into
                // the database (syncing that) and removed it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            })
            .map_err(|e| {
                Error::io(
                    format!(
                        "the transaction was committed, but syncing {} to disk failed",
                        wal.display()
                    ),
                    e,
                )
            })
    }

    /// Back to the write-ahead log after a bulk load's transaction.
    fn restore_wal(&mut self) -> Result<()> {
        if !self.journal_switched || !self.conn.is_autocommit() {
            return Ok(());
        }
        let now = self.mode("pragma journal_mode=wal")?;
        if !now.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(format!(
                "the transaction ended, but {} could not be switched back to write-ahead logging (journal mode {now}); run `pragma journal_mode=wal` on it",
                self.path.display()
            )));
        }
        self.journal_switched = false;
        self.set_durability()
    }
}

impl Connection for SqliteConnection {
    type Dialect = SqliteDialect;

    fn dialect(&self) -> SqliteDialect {
        SqliteDialect
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        stmt.execute(params_from_iter(params.iter().map(|p| Param(p.as_ref()))))
            .map_err(|e| sql_err(sql, e))
    }

    fn execute_refs(&self, sql: &str, params: &[SqlRef<'_>]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        for (i, p) in params.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, Param(*p))
                .map_err(|e| sql_err(sql, e))?;
        }
        stmt.raw_execute().map_err(|e| sql_err(sql, e))
    }

    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        let n = stmt.column_count();
        let mut rows = stmt
            .query(params_from_iter(params.iter().map(|p| Param(p.as_ref()))))
            .map_err(|e| sql_err(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sql_err(sql, e))? {
            let mut r = Vec::with_capacity(n);
            for i in 0..n {
                r.push(from_ref(row.get_ref(i).map_err(|e| sql_err(sql, e))?));
            }
            out.push(r);
        }
        Ok(out)
    }

    fn query_first_ints(&self, sql: &str, params: &[SqlValue]) -> Result<Option<Vec<i64>>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        let mut rows = stmt
            .query(params_from_iter(params.iter().map(|p| Param(p.as_ref()))))
            .map_err(|e| sql_err(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sql_err(sql, e))? {
            let id = match row.get_ref(0).map_err(|e| sql_err(sql, e))? {
                ValueRef::Integer(n) => Some(n),
                // ids stored otherwise are read as `filter` reads them
                v => roundup_rdbms::layout::int_id_from_sql(&from_ref(v)),
            };
            match id {
                Some(n) => out.push(n),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|e| sql_err(sql, e))
    }

    fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    fn begin(&mut self) -> Result<()> {
        self.gate_held = self.shared.gate.acquire(self.timeout);
        if let Err(e) = self.execute_batch("BEGIN IMMEDIATE") {
            self.release_gate();
            return Err(e);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.execute_batch("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        self.execute_batch("ROLLBACK")
    }

    fn transaction_ended(&mut self) {
        // The next writer of this process may go.
        self.release_gate();
    }

    fn after_commit(&mut self) -> Result<()> {
        let synced = self.sync_log();
        self.restore_wal()?;
        synced
    }

    fn after_rollback(&mut self) -> Result<()> {
        self.restore_wal()
    }

    fn table_exists(&self, name: &str) -> Result<bool> {
        let rows = self.query(
            "select 1 from sqlite_master where type='table' and name=?1",
            &[SqlValue::Text(name.to_string())],
        )?;
        Ok(!rows.is_empty())
    }

    fn index_names(&self, prefix: &str) -> Result<HashSet<String>> {
        let rows = self.query(
            "select name from sqlite_master where type='index' and substr(name, 1, length(?1)) = ?1",
            &[SqlValue::Text(prefix.to_string())],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.into_iter().next() {
                Some(SqlValue::Text(t)) => Some(t),
                _ => None,
            })
            .collect())
    }

    fn database_created(&mut self) -> Result<()> {
        // Roundup switches new databases to write-ahead logging.
        self.mode("pragma journal_mode=wal")?;
        self.set_durability()
    }

    /// `data_version` changes when another connection (of any process)
    /// commits, `total_changes` when this one writes. While both stay,
    /// every query has the same answer.
    fn state_marker(&self) -> Result<Option<(i64, u64)>> {
        let data_version = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
            .map_err(|e| sql_err("PRAGMA data_version", e))?;
        Ok(Some((data_version, self.conn.total_changes())))
    }

    fn data_version(&self) -> Result<Option<i64>> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| Error::storage(format!("reading the data version: {e}")))?;
        Ok(Some(v))
    }

    /// For a bulk load that starts its own transaction on a database no
    /// other connection has open: switch from the write-ahead log to a
    /// rollback journal until the transaction ends. The pages then go to
    /// the database file once, instead of into the log, out of it and into
    /// the file at the checkpoint; a load into a new tracker journals
    /// almost nothing, as new pages need no copy. Still all or nothing,
    /// also across a crash (the journal rolls it back).
    fn bulk_load_starts(&mut self, in_transaction: bool) -> Result<()> {
        if in_transaction || self.journal_switched {
            return Ok(());
        }
        if self
            .mode("pragma journal_mode")?
            .eq_ignore_ascii_case("wal")
        {
            // Refused ("database is locked", or the old mode comes back)
            // while other connections use the log: then it stays.
            self.journal_switched = self
                .mode("pragma journal_mode=truncate")
                .is_ok_and(|now| now.eq_ignore_ascii_case("truncate"));
            if !self.journal_switched {
                let now = self.mode("pragma journal_mode")?;
                if !now.eq_ignore_ascii_case("wal") {
                    return Err(Error::storage(format!(
                        "{}: journal mode {now} after a refused switch",
                        self.path.display()
                    )));
                }
            } else {
                self.set_durability()?;
            }
        }
        Ok(())
    }

    /// The indexes of `table` made by `create index` without `unique`, and
    /// how to make each again if still missing (a rolled-back savepoint
    /// may have brought it back already).
    fn plain_indexes(&self, table: &str) -> Result<Vec<PlainIndex>> {
        let found = self.query(
            "select m.name, m.sql, \
             (select group_concat(i.name, ',') from pragma_index_info(m.name) i) \
             from sqlite_master m, pragma_index_list(?1) l \
             where m.type='index' and m.name=l.name and l.\"unique\"=0 and l.origin='c' \
             and m.sql is not null",
            &[SqlValue::Text(table.to_string())],
        )?;
        let mut out = Vec::new();
        for row in found {
            let mut row = row.into_iter();
            let (Some(SqlValue::Text(name)), Some(SqlValue::Text(sql)), columns) =
                (row.next(), row.next(), row.next())
            else {
                continue;
            };
            let Some(rest) = sql
                .get(..13)
                .filter(|head| head.eq_ignore_ascii_case("create index "))
                .map(|_| &sql[13..])
            else {
                continue;
            };
            out.push(PlainIndex {
                recreate: format!("create index if not exists {rest}"),
                columns: match columns {
                    Some(SqlValue::Text(c)) => c,
                    _ => String::new(),
                },
                name,
            });
        }
        Ok(out)
    }

    /// Sorting the entries in memory (temp_store is MEMORY for the
    /// statement journals) would hold all of them at once; a temporary
    /// file keeps the peak small.
    fn build_indexes(&self, creates: &[String]) -> Result<()> {
        self.execute_batch("pragma temp_store=FILE")?;
        let built = creates
            .iter()
            .try_for_each(|sql| self.execute(sql, &[]).map(|_| ()));
        self.execute_batch("pragma temp_store=MEMORY")?;
        built
    }
}

impl Drop for SqliteConnection {
    /// Lets the next writer of this process in; after a bulk load the
    /// database goes back to write-ahead logging.
    fn drop(&mut self) {
        self.release_gate();
        if self.journal_switched {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            let _ = self.restore_wal();
        }
    }
}
