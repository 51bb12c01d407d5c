//! Roundup's relational storage over any SQL engine: item rows,
//! journals, multilinks, schema sync, ids and the word index, written once
//! over a [`Connection`] and its [`Dialect`] (the `rdbms_common` of
//! Roundup).
//!
//! Writes run inside one transaction per connection, opened by the first
//! write and ended by [`Storage::commit`] / [`Storage::rollback`]; reads
//! outside a transaction see the latest committed state. Every trait
//! method that writes runs inside a savepoint, so a failing call leaves the
//! transaction as it was before the call (except in bulk mode, see
//! [`Storage::set_bulk`]).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use roundup_core::date::Date;
use roundup_core::filter::Query;
use roundup_core::mail::{Envelope, OutboxEntry};
use roundup_core::pyrepr;
use roundup_core::schema::{ClassDef, ComputedFrom, PropType, Schema};
use roundup_core::storage::{
    Changes, JournalEntry, MultilinkChange, NodeValues, Storage, StoredNode, TextHit,
};
use roundup_core::value::sort_ids;
use roundup_core::{Error, Result, Value};

use crate::change_log;
use crate::filter_sql::{count_sql, filter_sql};
use crate::layout::{self, ClassChange, ColumnKind, DbSchema, TableSpec, DB_VERSION};
use crate::sql::{Connection, Dialect, SqlRef, SqlValue};

fn int_list(ids: &[String]) -> String {
    let nums: Vec<i64> = ids.iter().filter_map(|i| i.parse().ok()).collect();
    int_list_of(&nums)
}

/// Numbers as an SQL list, `1,2,3`.
fn int_list_of(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Roundup's storage on one database connection.
pub struct RdbmsStorage<C: Connection> {
    conn: C,
    d: C::Dialect,
    /// Whether this connection has an open (write) transaction.
    in_tx: bool,
    /// Id counters advanced inside the open transaction: name -> the next
    /// number to hand out. Re-applied after a rollback (see `new_id`).
    allocated: HashMap<String, i64>,
    stopwords: HashSet<String>,
    /// Length in bytes of the longest stopword.
    max_stopword: usize,
    /// Bulk mode: writes skip their own savepoint (see `Storage::set_bulk`).
    bulk: bool,
    /// Counts this connection computed (`filter_count`), by statement and
    /// parameters, with the database state they were computed in (see
    /// `Connection::state_marker`). A paged list asks for the same count
    /// again and again, and counting is the costly part of a page.
    counts: HashMap<String, ((i64, u64), u64)>,
    /// Full-text words indexed in bulk mode, not yet written.
    pending_words: PendingWords,
    /// Statements of each class, built once per schema (see `class_sql`).
    class_sql: HashMap<String, Arc<ClassSql>>,
    /// The class whose statements were asked for last.
    last_class_sql: RefCell<Option<(String, Arc<ClassSql>)>>,
    /// In bulk mode: per class, a number no item id (`.0`) or journal item
    /// number (`.1`) in the tables exceeds, learnt on first use and raised
    /// by every insert; it saves looking for items an import brings anew.
    bulk_max: HashMap<String, (Option<i64>, Option<i64>)>,
    /// In bulk mode: classes whose tables were looked at for
    /// `defer_indexes`, and the `create` statements of the indexes dropped
    /// there, run when the load ends (`restore_deferred_indexes`).
    deferred_checked: HashSet<String>,
    deferred_indexes: Vec<String>,
    /// Fixed statements in the dialect's words, built once.
    fixed: Fixed,
    /// The change log's triggers the schema wants (see `change_log`),
    /// by name; empty where the engine keeps no log.
    change_triggers: std::collections::BTreeMap<String, change_log::Trigger>,
    /// The schema version the triggers were last checked at, and whether
    /// they were all there then.
    change_log_checked: Option<(i64, bool)>,
}

/// Statements the storage runs often whose text comes from the dialect.
struct Fixed {
    /// The savepoint around each write: start, keep, undo.
    op_savepoint: String,
    op_release: String,
    op_rollback: String,
    /// `update ids` raising counter `?2` to at least `?1`.
    raise_counter: String,
    /// Add a `__textids` row unless one exists (bulk indexing).
    add_textid: String,
}

impl Fixed {
    fn new(d: &dyn Dialect) -> Fixed {
        let op = "roundup_op";
        let raise_counter = format!(
            "update ids set num={} where name=?2",
            d.greatest("num", "?1")
        );
        let add_textid = d.insert_ignore(
            "__textids",
            "_textid, _class, _itemid, _prop",
            "?1, ?2, ?3, ?4",
        );
        Fixed {
            op_savepoint: d.savepoint(op),
            op_release: d.release_savepoint(op),
            op_rollback: d.rollback_to_savepoint(op),
            raise_counter: d.numbered(&raise_counter).into_owned(),
            add_textid: d.numbered(&add_textid).into_owned(),
        }
    }
}

/// The statements item writes of one class use over and over.
struct ClassSql {
    /// The item table's data columns (`layout::class_columns`).
    columns: Vec<layout::Column>,
    /// `insert` of a whole row: the columns, then `id`.
    insert: String,
    has_node: String,
    /// Stored multilinks: property name and plain `insert` statements of
    /// 1 to ROWS_PER_INSERT links (index n - 1 for n rows).
    link_inserts: Vec<(String, Vec<String>)>,
    journal: Arc<JournalSql>,
    /// Largest id / journal item number the tables may hold, while in
    /// bulk mode (see `bulk_may_exist`).
    max_id: String,
    max_journal_id: String,
}

/// The statements of one class's journal table.
struct JournalSql {
    /// `delete` of an item's entries.
    delete: String,
    /// `insert` of 1 to ROWS_PER_INSERT entries (index n - 1 for n).
    inserts: Vec<String>,
}

impl JournalSql {
    fn new(table: &str) -> JournalSql {
        JournalSql {
            delete: format!("delete from {table} where nodeid=?1"),
            inserts: multi_row_inserts(table, "nodeid,date,tag,action,params", 5),
        }
    }
}

/// Rows per multi-row `insert` of links and journal entries.
const ROWS_PER_INSERT: usize = 4;

/// `insert into {table} ({cols}) values (...)` for 1 to ROWS_PER_INSERT
/// rows of `ncols` parameters each.
fn multi_row_inserts(table: &str, cols: &str, ncols: usize) -> Vec<String> {
    (1..=ROWS_PER_INSERT)
        .map(|rows| {
            let tuples: Vec<String> = (0..rows)
                .map(|r| {
                    format!(
                        "({})",
                        (1..=ncols)
                            .map(|c| format!("?{}", r * ncols + c))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            format!("insert into {table} ({cols}) values {}", tuples.join(","))
        })
        .collect()
}

impl ClassSql {
    fn new(class: &ClassDef, dialect: &dyn Dialect) -> ClassSql {
        let columns = layout::class_columns(class, dialect);
        let table = layout::class_table(&class.name);
        let mut names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        names.push("id");
        let insert = format!(
            "insert into {table} ({}) values ({})",
            names.join(","),
            placeholders(names.len())
        );
        let link_inserts = class
            .multilink_props()
            .into_iter()
            .map(|(ml, _)| {
                let t = layout::multilink_table(&class.name, ml);
                (ml.to_string(), multi_row_inserts(&t, "linkid, nodeid", 2))
            })
            .collect();
        let journal = layout::journal_table(&class.name);
        ClassSql {
            columns,
            insert,
            has_node: format!("select 1 from {table} where id=?1"),
            link_inserts,
            journal: Arc::new(JournalSql::new(&journal)),
            max_id: format!("select max(id) from {table}"),
            max_journal_id: format!("select max(nodeid) from {journal}"),
        }
    }
}

/// How many buffered `(word, text)` pairs trigger a write to `__words`.
const WORDS_BATCH: usize = 1 << 16;
/// Rows per multi-row `insert into __words`.
const WORDS_PER_INSERT: usize = 128;
/// Roundup's index of `__words` by word, dropped while a bulk load fills
/// an empty table and built again at its end. (The one by text id stays:
/// the load adds text ids in ascending order, which only appends to it.)
const WORD_INDEX: (&str, &str, &str) = ("words_word_ids", "__words", "_word");

/// Words of the full-text index held back in bulk mode: inserting them in
/// large sorted batches (into an index-less table, when it started empty)
/// costs a fraction of one statement per word.
#[derive(Default)]
struct PendingWords {
    /// Distinct words seen, and their positions in `words` (STOPWORD for
    /// stopwords).
    vocab: HashMap<String, u32, BuildHasherDefault<WordHasher>>,
    words: Vec<String>,
    /// For each word, the last text it was buffered for.
    last_text: Vec<Option<i64>>,
    /// (word position, text id) pairs to insert.
    pairs: Vec<(u32, i64)>,
    /// The next `__textids` id, handed out in memory during bulk mode and
    /// written back to the `ids` table with the words.
    next_textid: Option<i64>,
    /// Whether the first batch was checked for an empty `__words` table.
    checked_empty: bool,
    /// Whether this bulk load dropped the word index of `__words` (it may
    /// be back already if a savepoint was rolled back; it is recreated
    /// with `if not exists`).
    indexes_dropped: bool,
}

/// Position of stopwords in `PendingWords::vocab`.
const STOPWORD: u32 = u32::MAX;

/// A quick hash for the words of one import (FxHash's mixing step): the
/// standard SipHash costs more than the rest of buffering a word.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl PendingWords {
    /// Buffer the words of one text: each distinct word once, stopwords
    /// left out. Repeats are told apart by the text id last seen with a
    /// word, so nothing is sorted or hashed twice.
    fn add_text(&mut self, textid: i64, text: &str, stopwords: &HashSet<String>, max_stop: usize) {
        let PendingWords {
            vocab,
            words,
            last_text,
            pairs,
            ..
        } = self;
        layout::for_each_word_candidate(text, |w| {
            let n = match vocab.get(w) {
                Some(n) => *n,
                None => {
                    let n = if w.len() <= max_stop && stopwords.contains(w) {
                        STOPWORD
                    } else {
                        words.push(w.to_string());
                        last_text.push(None);
                        (words.len() - 1) as u32
                    };
                    vocab.insert(w.to_string(), n);
                    n
                }
            };
            if n != STOPWORD && last_text[n as usize] != Some(textid) {
                last_text[n as usize] = Some(textid);
                pairs.push((n, textid));
            }
        });
    }
}

/// Remembered counts per connection, at most.
const MAX_COUNTS: usize = 256;

impl<C: Connection> RdbmsStorage<C> {
    /// Roundup's storage on `conn`. A database without Roundup's base
    /// tables gets them (classes are created by [`Storage::sync_schema`]).
    pub fn new(conn: C) -> Result<RdbmsStorage<C>> {
        let d = conn.dialect();
        let fixed = Fixed::new(&d);
        let mut st = RdbmsStorage {
            conn,
            d,
            in_tx: false,
            allocated: HashMap::new(),
            max_stopword: layout::STOPWORDS.iter().map(|w| w.len()).max().unwrap_or(0),
            stopwords: layout::default_stopwords(),
            bulk: false,
            counts: HashMap::new(),
            pending_words: PendingWords::default(),
            class_sql: HashMap::new(),
            last_class_sql: RefCell::new(None),
            bulk_max: HashMap::new(),
            deferred_checked: HashSet::new(),
            deferred_indexes: Vec::new(),
            change_triggers: Default::default(),
            change_log_checked: None,
            fixed,
        };
        if !st.conn.table_exists("schema")? {
            st.create_base_tables()?;
        }
        Ok(st)
    }

    /// The connection underneath.
    pub fn connection(&self) -> &C {
        &self.conn
    }

    /// Add stopwords for the full-text index (config `[main]
    /// indexer_stopwords`); compared case-insensitively.
    pub fn add_stopwords(&mut self, words: &[String]) {
        self.stopwords
            .extend(words.iter().map(|w| w.to_uppercase()));
        self.max_stopword = self.stopwords.iter().map(|w| w.len()).max().unwrap_or(0);
    }

    /// The schema the database records (layout version and tables).
    pub fn stored_schema(&self) -> Result<DbSchema> {
        let rows = self.rows("select schema from schema", &[])?;
        match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(SqlValue::Text(text)) => DbSchema::parse(&text),
            Some(other) => Err(Error::storage(format!(
                "schema table holds {other:?} instead of text"
            ))),
            None => Ok(DbSchema::default()),
        }
    }

    fn create_base_tables(&mut self) -> Result<()> {
        self.conn.begin()?;
        let result = (|| {
            // Someone else may have created it while we waited for the lock.
            if self.conn.table_exists("schema")? {
                return Ok(());
            }
            for sql in layout::BASE_TABLES {
                self.exec(sql, &[])?;
            }
            if let Some(fts) = self.d.fts_table() {
                self.exec(fts, &[])?;
            }
            Ok(())
        })();
        let ended = match result {
            Ok(()) => self.conn.commit(),
            Err(e) => {
                let _ = self.conn.rollback();
                Err(e)
            }
        };
        self.conn.transaction_ended();
        ended?;
        self.conn.database_created()
    }

    // ---- statement helpers ----

    fn batch(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql)
    }

    /// Run a statement written with `?N` placeholders.
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<usize> {
        self.conn.execute(&self.d.numbered(sql), params)
    }

    /// A count kept until the connection sees the next write.
    fn count_cached(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64> {
        let Some(state) = self.conn.state_marker()? else {
            return self.count_native(sql, params);
        };
        let key = format!("{sql}\0{params:?}");
        if let Some((seen, n)) = self.counts.get(&key) {
            if *seen == state {
                return Ok(*n);
            }
        }
        let n = self.count_native(sql, params)?;
        if self.counts.len() >= MAX_COUNTS {
            self.counts.clear();
        }
        self.counts.insert(key, (state, n));
        Ok(n)
    }

    /// The count of a query whose one restriction is a long list of
    /// full-text matches, without handing the list to SQL: the matches
    /// that exist, less (or only) the retired ones. Every id up to the
    /// class's largest exists when the class has as many rows as that id
    /// (nothing destroyed); otherwise `None`, and SQL counts.
    fn count_search_matches(&mut self, query: &Query) -> Result<Option<u64>> {
        /// Below this many matches SQL's `IN` list costs next to nothing.
        const MIN_MATCHES: usize = 256;
        let Some(ids) = &query.search_ids else {
            return Ok(None);
        };
        if !query.filters.is_empty() || ids.len() < MIN_MATCHES {
            return Ok(None);
        }
        let ct = layout::class_table(&query.class);
        let rows = self.count_cached(&format!("select count(*) from {ct}"), &[])?;
        let largest = self.count_cached(&format!("select coalesce(max(id), 0) from {ct}"), &[])?;
        if rows != largest {
            return Ok(None);
        }
        let retired = self.retired_ids(&ct)?;
        let existing = ids
            .as_slice()
            .iter()
            .take_while(|&&n| u64::from(n) <= largest);
        let mut all = 0u64;
        let mut gone = 0u64;
        for &n in existing {
            all += 1;
            if retired.contains(&i64::from(n)) {
                gone += 1;
            }
        }
        Ok(Some(match query.retired {
            Some(false) => all - gone,
            Some(true) => gone,
            None => all,
        }))
    }

    /// A page of a query restricted to many full-text matches, read by
    /// walking the query's order without the restriction and keeping the
    /// matches: when a fifth of the issues match two common words, the
    /// first page is a few hundred index entries away, where an `IN` list
    /// of thousands of ids would fetch and sort every match. `None` when
    /// the matches are few or sparse enough that the list is cheaper.
    fn filter_by_walking_search(
        &mut self,
        schema: &Schema,
        query: &Query,
    ) -> Result<Option<Vec<String>>> {
        /// Below this many matches the `IN` list costs next to nothing.
        const MIN_MATCHES: usize = 256;
        let (Some(limit), Some(ids)) = (query.limit, &query.search_ids) else {
            return Ok(None);
        };
        if ids.len() < MIN_MATCHES {
            return Ok(None);
        }
        let mut base = Query {
            search_ids: None,
            limit: None,
            offset: 0,
            ..query.clone()
        };
        let total = self.filter_count(schema, &base)?;
        let need = query.offset.saturating_add(limit);
        if total == 0 || need == 0 {
            return Ok(Some(Vec::new()));
        }
        // Rows to read for `need` matches if they are spread evenly.
        let density = (ids.len() as f64 / total as f64).min(1.0);
        let expected = need as f64 / density;
        if expected > 4.0 * ids.len() as f64 {
            return Ok(None);
        }
        let mut fetch = (expected * 1.5) as u64 + 100;
        loop {
            base.limit = Some(fetch);
            let rows = self.filter(schema, &base)?;
            let read = rows.len() as u64;
            let page: Vec<String> = rows
                .into_iter()
                .filter(|id| id.parse::<u32>().is_ok_and(|n| ids.contains(n)))
                .skip(query.offset as usize)
                .take(limit as usize)
                .collect();
            if page.len() as u64 == limit || read < fetch {
                return Ok(Some(page));
            }
            fetch = fetch.saturating_mul(4);
        }
    }

    /// A page of a query ordered first by a Link, read one linked value
    /// at a time (`filter_sql::link_group_plan`): whole groups before the
    /// page are skipped by their counts (kept until the next write), and
    /// the page's rows come from the groups' index ranges. `None` when the
    /// query has another shape or the linked class is too big for it.
    fn filter_by_link_groups(
        &mut self,
        schema: &Schema,
        query: &Query,
    ) -> Result<Option<Vec<String>>> {
        use roundup_core::filter::{Condition, Filter, LinkExpr};
        /// More linked items than this and counting each group costs more
        /// than the sort it saves.
        const MAX_GROUPS: usize = 64;
        let Some(limit) = query.limit else {
            return Ok(None);
        };
        let Some(plan) = crate::filter_sql::link_group_plan(schema, query)? else {
            return Ok(None);
        };
        let rows = self.conn.query(&plan.targets_sql, &[])?;
        if rows.len() > MAX_GROUPS * 4 {
            return Ok(None);
        }
        // Consecutive targets with equal keys are one group: their rows
        // interleave by the rest of the order.
        let same = |a: &SqlValue, b: &SqlValue| match (a, b) {
            (SqlValue::Int(x), SqlValue::Real(y)) | (SqlValue::Real(y), SqlValue::Int(x)) => {
                (*x as f64) == *y
            }
            _ => a == b,
        };
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut last_key: Option<SqlValue> = None;
        for row in rows {
            let mut it = row.into_iter();
            let (Some(id), Some(key)) =
                (it.next().and_then(|v| layout::id_from_sql(&v)), it.next())
            else {
                continue;
            };
            match (&last_key, groups.last_mut()) {
                (Some(k), Some(g)) if same(k, &key) => g.push(id),
                _ => groups.push(vec![id]),
            }
            last_key = Some(key);
        }
        if groups.len() > MAX_GROUPS {
            return Ok(None);
        }
        let keyed: Vec<LinkExpr> = groups.iter().flatten().cloned().map(LinkExpr::Id).collect();
        let with = |cond: LinkExpr| {
            let mut q = plan.rest.clone();
            q.filters.push(Filter {
                path: vec![plan.prop.clone()],
                cond: Condition::Links(cond),
            });
            q
        };
        // (query, rows in it): the unset group's size is what the others
        // leave of the total.
        let total = self.filter_count(schema, &plan.rest)?;
        let mut ordered: Vec<(Query, u64)> = Vec::with_capacity(groups.len() + 1);
        let mut keyed_rows = 0;
        for g in &groups {
            let q = with(LinkExpr::Or(g.iter().cloned().map(LinkExpr::Id).collect()));
            let n = self.filter_count(schema, &q)?;
            keyed_rows += n;
            ordered.push((q, n));
        }
        let unset = (
            with(LinkExpr::Not(Box::new(LinkExpr::Or(keyed)))),
            total.saturating_sub(keyed_rows),
        );
        if plan.nulls_first {
            ordered.insert(0, unset);
        } else {
            ordered.push(unset);
        }
        let mut skip = query.offset;
        let mut out: Vec<String> = Vec::new();
        for (mut q, n) in ordered {
            if out.len() as u64 >= limit {
                break;
            }
            if skip >= n {
                skip -= n;
                continue;
            }
            q.offset = skip;
            q.limit = Some(limit - out.len() as u64);
            skip = 0;
            let (sql, params) = filter_sql(schema, &q, &self.d)?;
            out.extend(self.ids_native(&sql, &params)?);
        }
        Ok(Some(out))
    }

    /// First column of every row as ids, for a statement already in the
    /// dialect's placeholders (as `filter_sql` writes them).
    fn ids_native(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<String>> {
        Ok(self
            .conn
            .query(sql, params)?
            .iter()
            .filter_map(|r| r.first().and_then(layout::id_from_sql))
            .collect())
    }

    /// `ids` as the right side of `IN (...)` with its parameters: one
    /// bound array where the dialect has one, else literals.
    /// Read the rows of the items in the bound id list (`params`, `list`:
    /// [`Self::bound_id_list`]) with the columns `cols` into `out` (ids
    /// that have no row are left out), each item's map sized for
    /// `capacity` values.
    fn read_node_rows(
        &self,
        class: &ClassDef,
        cols: &[layout::Column],
        (params, list): (&[SqlValue], &str),
        capacity: usize,
        out: &mut HashMap<String, StoredNode>,
    ) -> Result<()> {
        let mut sql = String::from("select id");
        for c in cols {
            sql.push(',');
            sql.push_str(&c.name);
        }
        sql.push_str(&format!(
            ",__retired__ from {} where id in ({list})",
            layout::class_table(&class.name)
        ));
        for row in self.rows(&sql, params)? {
            let mut row = row.into_iter();
            let Some(id) = row.next().as_ref().and_then(layout::id_from_sql) else {
                continue;
            };
            let (values, retired) =
                decode_node_row(&self.d, class, cols, row.collect(), &id, capacity)?;
            out.insert(id, StoredNode { values, retired });
        }
        Ok(())
    }

    fn bound_id_list(&self, ids: &[i64]) -> (Vec<SqlValue>, String) {
        match self.d.id_list_param(ids, &self.d.placeholder(1)) {
            Some((value, subquery)) => (vec![value], subquery),
            None => (Vec::new(), int_list_of(ids)),
        }
    }

    /// The retired items of a class table (read from its retired index).
    fn retired_ids(&self, table: &str) -> Result<HashSet<i64>> {
        Ok(self
            .int_ids_native(
                &format!("select id from {table} where __retired__ > 0 or __retired__ < 0"),
                &[],
            )?
            .into_iter()
            .collect())
    }

    /// [`Self::ids_native`] as numbers.
    fn int_ids_native(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<i64>> {
        Ok(self
            .conn
            .query(sql, params)?
            .iter()
            .filter_map(|r| r.first().and_then(layout::int_id_from_sql))
            .collect())
    }

    /// Run a `count(*)` statement already in the dialect's placeholders.
    fn count_native(&self, sql: &str, params: &[SqlValue]) -> Result<u64> {
        match self
            .conn
            .query(sql, params)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
        {
            Some(SqlValue::Int(n)) => Ok(u64::try_from(n).unwrap_or(0)),
            other => Err(Error::storage(format!(
                "{sql}: expected a count, got {other:?}"
            ))),
        }
    }

    /// Run a query written with `?N` placeholders.
    fn rows(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>> {
        self.conn.query(&self.d.numbered(sql), params)
    }

    /// First column of every row, as ids.
    fn ids(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<String>> {
        Ok(self
            .rows(sql, params)?
            .iter()
            .filter_map(|r| r.first().and_then(layout::id_from_sql))
            .collect())
    }

    fn table_exists(&self, name: &str) -> Result<bool> {
        self.conn.table_exists(name)
    }

    // ---- transactions ----

    /// Notice a transaction the database has rolled back on its own (after I/O
    /// errors, disk full and the like).
    fn check_lost_transaction(&mut self) -> Result<()> {
        if self.in_tx && !self.conn.in_transaction() {
            self.end_tx();
            self.forget_bulk_work();
            let restore = self.restore_allocated_ids();
            let mut msg = "the database rolled back the open transaction after an error: every change since the last commit is lost".to_string();
            if let Err(e) = restore {
                msg.push_str(&format!(" (and re-reserving allocated ids failed: {e})"));
            }
            return Err(Error::storage(msg));
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.check_lost_transaction()?;
        if !self.in_tx {
            self.conn.begin()?;
            self.in_tx = true;
        }
        Ok(())
    }

    /// The transaction is being undone: words not yet written go, and the
    /// indexes a bulk load dropped come back with the rollback itself.
    fn forget_bulk_work(&mut self) {
        self.pending_words = PendingWords::default();
        self.deferred_indexes.clear();
        self.deferred_checked.clear();
    }

    /// The transaction has ended: the connection releases what `begin`
    /// took.
    fn end_tx(&mut self) {
        self.in_tx = false;
        self.conn.transaction_ended();
    }

    /// Run a write operation atomically inside the transaction.
    fn write<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.begin()?;
        if self.bulk {
            // The caller undoes everything on failure (see set_bulk).
            return f(self);
        }
        self.batch(&self.fixed.op_savepoint)?;
        match f(self) {
            Ok(v) => {
                self.batch(&self.fixed.op_release)?;
                Ok(v)
            }
            Err(e) => {
                if !self.conn.in_transaction() {
                    let lost = self.check_lost_transaction().err();
                    let extra = lost.map(|l| format!("; {l}")).unwrap_or_default();
                    return Err(match e {
                        Error::Storage(se) => Error::storage_kind(se.kind, format!("{se}{extra}")),
                        other => Error::storage(format!("{other}{extra}")),
                    });
                }
                self.batch(&self.fixed.op_rollback)?;
                self.batch(&self.fixed.op_release)?;
                self.reserve_allocated_in_tx()?;
                Err(e)
            }
        }
    }

    /// After rolling back to a savepoint, keep the id counters past the
    /// ids handed out in this transaction.
    fn reserve_allocated_in_tx(&mut self) -> Result<()> {
        let allocated: Vec<(String, i64)> = self
            .allocated
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let sql = self.fixed.raise_counter.clone();
        for (name, next) in allocated {
            self.exec(&sql, &[SqlValue::Int(next), SqlValue::Text(name)])?;
        }
        Ok(())
    }

    /// After a rollback, move the id counters past every id handed out in
    /// the rolled-back transaction, in a transaction of their own.
    fn restore_allocated_ids(&mut self) -> Result<()> {
        if self.allocated.is_empty() {
            return Ok(());
        }
        let allocated: Vec<(String, i64)> = self.allocated.drain().collect();
        let sql = self.fixed.raise_counter.clone();
        self.conn.begin()?;
        let res = (|| {
            for (name, next) in &allocated {
                self.exec(&sql, &[SqlValue::Int(*next), SqlValue::Text(name.clone())])?;
            }
            Ok(())
        })();
        let ended = match res {
            Ok(()) => self.conn.commit(),
            Err(e) => {
                let _ = self.conn.rollback();
                Err(e)
            }
        };
        self.conn.transaction_ended();
        ended
    }

    /// The current value of a counter of the `ids` table.
    fn counter(&self, name: &str) -> Result<i64> {
        let rows = self.rows(
            "select num from ids where name=?1",
            &[SqlValue::Text(name.to_string())],
        )?;
        match rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Int(n)) => Ok(*n),
            Some(SqlValue::Text(t)) => t.trim().parse().map_err(|_| {
                Error::storage(format!(
                    "ids table: counter of \"{name}\" is not a number: {t:?}"
                ))
            }),
            Some(other) => Err(Error::storage(format!(
                "ids table: counter of \"{name}\" is {other:?}"
            ))),
            None => Err(Error::storage(format!(
                "ids table has no counter for \"{name}\""
            ))),
        }
    }

    /// Read and advance a counter of the `ids` table (inside whatever
    /// transaction is open).
    fn bump_counter(&mut self, name: &str) -> Result<i64> {
        let num = self.counter(name)?;
        self.exec(
            "update ids set num=num+1 where name=?1",
            &[SqlValue::Text(name.to_string())],
        )?;
        Ok(num)
    }

    // ---- full-text words in bulk mode ----

    /// Whether bulk indexing left anything to write or to rebuild.
    fn words_pending(&self) -> bool {
        let pw = &self.pending_words;
        !pw.pairs.is_empty() || pw.next_textid.is_some() || pw.indexes_dropped
    }

    /// The next `__textids` id in bulk mode (see `bulk_textid_used`):
    /// counted in memory, the `ids` row is brought up to date by
    /// `flush_words`.
    fn bulk_textid(&mut self) -> Result<i64> {
        let n = match self.pending_words.next_textid {
            Some(n) => n,
            None => self.counter("__textids")?,
        };
        self.pending_words.next_textid = Some(n);
        Ok(n)
    }

    /// The id `bulk_textid` offered was taken.
    fn bulk_textid_used(&mut self, n: i64) {
        self.pending_words.next_textid = Some(n + 1);
        let next = self
            .allocated
            .entry("__textids".to_string())
            .or_insert(n + 1);
        *next = (*next).max(n + 1);
    }

    /// Write the buffered words to `__words` and the text id counter to
    /// `ids`. The first batch of a bulk load into an empty `__words` drops
    /// its index by word: filling the table and indexing the words once at
    /// the end (`restore_word_indexes`) is much cheaper than updating that
    /// index for every word.
    fn flush_words(&mut self) -> Result<()> {
        if let Some(next) = self.pending_words.next_textid.take() {
            self.conn.execute(
                &self.fixed.raise_counter,
                &[SqlValue::Int(next), SqlValue::Text("__textids".into())],
            )?;
        }
        if self.pending_words.pairs.is_empty() {
            return Ok(());
        }
        if !self.pending_words.checked_empty {
            self.pending_words.checked_empty = true;
            if self.is_empty_table("__words")? {
                let (name, table, _) = WORD_INDEX;
                self.exec(&self.d.drop_index_if_exists(name, table), &[])?;
                self.pending_words.indexes_dropped = true;
            }
        }
        let pw = std::mem::take(&mut self.pending_words);
        let PendingWords {
            words,
            mut pairs,
            checked_empty,
            indexes_dropped,
            ..
        } = pw;
        self.pending_words.checked_empty = checked_empty;
        self.pending_words.indexes_dropped = indexes_dropped;
        if indexes_dropped {
            // In text id order, as buffered: appends to the text id index.
            return self.insert_words(&words, &pairs);
        }
        // Sorted by word, then text: fewer jumps around the word index.
        let mut order: Vec<u32> = (0..words.len() as u32).collect();
        order.sort_unstable_by(|a, b| words[*a as usize].cmp(&words[*b as usize]));
        let mut rank = vec![0u32; words.len()];
        for (r, w) in order.iter().enumerate() {
            rank[*w as usize] = r as u32;
        }
        pairs.sort_unstable_by_key(|(w, t)| (rank[*w as usize], *t));
        self.insert_words(&words, &pairs)
    }

    /// Insert `(word, text id)` rows, many per statement.
    fn insert_words(&self, words: &[String], pairs: &[(u32, i64)]) -> Result<()> {
        let one = self
            .d
            .numbered("insert into __words (_word, _textid) values (?1, ?2)");
        let tuples: Vec<String> = (0..WORDS_PER_INSERT)
            .map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2))
            .collect();
        let many = format!(
            "insert into __words (_word, _textid) values {}",
            tuples.join(",")
        );
        let many = self.d.numbered(&many);
        let mut params: Vec<SqlRef<'_>> = Vec::with_capacity(2 * WORDS_PER_INSERT);
        let mut chunks = pairs.chunks_exact(WORDS_PER_INSERT);
        for chunk in &mut chunks {
            params.clear();
            for (w, t) in chunk {
                params.push(SqlRef::Text(words[*w as usize].as_str()));
                params.push(SqlRef::Int(*t));
            }
            self.conn.execute_refs(&many, &params)?;
        }
        for (w, t) in chunks.remainder() {
            self.conn.execute_refs(
                &one,
                &[SqlRef::Text(words[*w as usize].as_str()), SqlRef::Int(*t)],
            )?;
        }
        Ok(())
    }

    /// Write buffered words and rebuild the word index of `__words` if a
    /// bulk load dropped it: before anything reads or deletes words, and
    /// when bulk mode ends.
    fn restore_word_indexes(&mut self) -> Result<()> {
        if !self.words_pending() {
            return Ok(());
        }
        self.flush_words()?;
        if self.pending_words.indexes_dropped {
            let (name, table, columns) = WORD_INDEX;
            let create = self.d.create_index_if_missing(name, table, columns);
            self.build_indexes(&[create])?;
        }
        self.pending_words = PendingWords::default();
        Ok(())
    }

    /// In bulk mode, before the first item of `class` is written: when its
    /// table is empty, drop the ordinary (not unique) indexes of the table,
    /// its multilink tables and its journal (each only when empty) until
    /// the load ends. Sorting all entries once at the end is much cheaper
    /// than updating every index for every row, and an import into a new
    /// tracker is exactly such a load. Unique indexes stay, so a duplicate
    /// key is still refused at its row.
    fn defer_indexes(&mut self, class: &ClassDef) -> Result<()> {
        if !self.bulk || !self.deferred_checked.insert(class.name.clone()) {
            return Ok(());
        }
        let table = layout::class_table(&class.name);
        if !self.is_empty_table(&table)? {
            return Ok(());
        }
        self.drop_plain_indexes(&table, false)?;
        let mut others = vec![layout::journal_table(&class.name)];
        for (name, prop) in &class.props {
            if prop.ptype == PropType::Multilink {
                others.push(layout::multilink_table(&class.name, name));
            }
        }
        // Their index by item stays: a load writes them item by item in
        // ascending order, so that index only grows at its end.
        for t in others {
            if self.table_exists(&t)? && self.is_empty_table(&t)? {
                self.drop_plain_indexes(&t, true)?;
            }
        }
        Ok(())
    }

    fn is_empty_table(&self, table: &str) -> Result<bool> {
        let sql = format!("select 1 from {table}{}", self.d.limit_offset(Some(1), 0));
        Ok(self.rows(&sql, &[])?.is_empty())
    }

    /// Drop the indexes of `table` made by `create index` without
    /// `unique`, remembering how to make them again; with `keep_by_item`
    /// not the one on `nodeid` alone.
    fn drop_plain_indexes(&mut self, table: &str, keep_by_item: bool) -> Result<()> {
        for index in self.conn.plain_indexes(table)? {
            if keep_by_item && index.columns == "nodeid" {
                continue;
            }
            self.begin()?;
            let name = self.d.quote_ident(&index.name);
            self.exec(&self.d.drop_index_if_exists(&name, table), &[])?;
            self.deferred_indexes.push(index.recreate);
        }
        Ok(())
    }

    /// Make the indexes `defer_indexes` dropped again.
    fn restore_deferred_indexes(&mut self) -> Result<()> {
        let creates = std::mem::take(&mut self.deferred_indexes);
        self.build_indexes(&creates)
    }

    /// Run `create index` statements of a bulk load's end.
    fn build_indexes(&mut self, creates: &[String]) -> Result<()> {
        if creates.is_empty() {
            return Ok(());
        }
        self.conn.build_indexes(creates)
    }

    /// `index_text` in bulk mode: the text id is settled at once, the
    /// words wait in `pending_words`.
    fn index_text_bulk(&mut self, class: &str, id: &str, prop: &str, text: &str) -> Result<()> {
        self.begin()?;
        let t = self.bulk_textid()?;
        // Usually the text is new; a unique index says when it is not.
        let added = self.conn.execute_refs(
            &self.fixed.add_textid,
            &[
                SqlRef::Int(t),
                SqlRef::Text(class),
                SqlRef::Text(id),
                SqlRef::Text(prop),
            ],
        )?;
        let textid = if added == 1 {
            self.bulk_textid_used(t);
            t
        } else {
            let key = [
                SqlValue::Text(class.to_string()),
                SqlValue::Text(id.to_string()),
                SqlValue::Text(prop.to_string()),
            ];
            let found = self.rows(
                "select _textid from __textids where _class=?1 and _itemid=?2 and _prop=?3",
                &key,
            )?;
            let Some(SqlValue::Int(old)) = found.first().and_then(|r| r.first()).cloned() else {
                return Err(Error::storage(format!(
                    "__textids already holds text id {t}: the \"__textids\" counter of the ids table is behind"
                )));
            };
            // Re-indexing a text: its old words (perhaps still buffered)
            // go first.
            self.restore_word_indexes()?;
            self.exec(
                "delete from __words where _textid=?1",
                &[SqlValue::Int(old)],
            )?;
            old
        };
        self.pending_words
            .add_text(textid, text, &self.stopwords, self.max_stopword);
        if self.pending_words.pairs.len() >= WORDS_BATCH {
            self.flush_words()?;
        }
        Ok(())
    }

    /// Forget buffered words after a rollback (to a savepoint taken after
    /// the last flush, or of the whole transaction). The text ids handed
    /// out stay reserved through `allocated`.
    fn discard_words(&mut self) {
        let pw = &mut self.pending_words;
        pw.pairs.clear();
        pw.words.clear();
        pw.last_text.clear();
        pw.vocab.clear();
        pw.next_textid = None;
    }

    // ---- schema changes ----

    fn run_all(&self, stmts: &[String]) -> Result<()> {
        for s in stmts {
            self.exec(s, &[])?;
        }
        Ok(())
    }

    fn create_class(&mut self, class: &ClassDef) -> Result<()> {
        self.run_all(&layout::create_class_table(class, &self.d))?;
        self.run_all(&layout::create_journal_table(&class.name, &self.d))?;
        for (ml, _) in class.multilink_props() {
            self.create_multilink(&class.name, ml)?;
        }
        let name = SqlValue::Text(class.name.clone());
        // A class that existed before keeps its counter so ids stay unique.
        if self
            .rows(
                "select num from ids where name=?1",
                std::slice::from_ref(&name),
            )?
            .is_empty()
        {
            self.exec(
                "insert into ids (name, num) values (?1, ?2)",
                &[name, SqlValue::Int(1)],
            )?;
        }
        Ok(())
    }

    fn create_multilink(&mut self, class: &str, prop: &str) -> Result<()> {
        // Roundup 2.6 leaves link tables behind when it drops a class or
        // property; such leftovers would hold stale links.
        self.exec(
            &format!(
                "drop table if exists {}",
                layout::multilink_table(class, prop)
            ),
            &[],
        )?;
        self.run_all(&layout::create_multilink_table(class, prop))
    }

    fn drop_class(&mut self, name: &str, old: &TableSpec) -> Result<()> {
        self.exec(
            &format!("drop table if exists {}", layout::class_table(name)),
            &[],
        )?;
        self.exec(
            &format!("drop table if exists {}", layout::journal_table(name)),
            &[],
        )?;
        for ml in old.multilinks() {
            self.exec(
                &format!(
                    "drop table if exists {}",
                    layout::multilink_table(name, &ml)
                ),
                &[],
            )?;
        }
        Ok(())
    }

    /// Bring the tables of `class` from the recorded spec `old` to the
    /// class definition, keeping the data of properties present in both.
    fn alter_class(&mut self, class: &ClassDef, old: &TableSpec) -> Result<()> {
        let cn = &class.name;
        let new_mls: Vec<&str> = class
            .multilink_props()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for ml in old.multilinks() {
            if !new_mls.contains(&ml.as_str()) {
                self.exec(
                    &format!("drop table if exists {}", layout::multilink_table(cn, &ml)),
                    &[],
                )?;
            }
        }
        for ml in &new_mls {
            if !old.is_multilink(ml) {
                self.create_multilink(cn, ml)?;
            }
        }

        // Does the item table itself change (columns, their types, key)?
        let new_spec = TableSpec::of_class(class);
        let column_spec = |s: &TableSpec| {
            let mut v: Vec<(String, String)> = s
                .props
                .iter()
                .filter(|(n, _)| s.has_column(n))
                .cloned()
                .collect();
            v.sort();
            v
        };
        if old.key == new_spec.key && column_spec(old) == column_spec(&new_spec) {
            return Ok(());
        }

        // Rebuild the table the way Roundup's sqlite backend does (SQLite
        // cannot change columns in place; the statements are portable),
        // copying the surviving columns.
        let table = layout::class_table(cn);
        let scratch = format!("{table}__rebuild");
        self.exec(&format!("alter table {table} rename to {scratch}"), &[])?;
        let old_key = if old.key.is_empty() {
            None
        } else {
            Some(old.key.as_str())
        };
        for idx in layout::class_index_names(cn, old_key) {
            self.exec(&self.d.drop_index_if_exists(&idx, &scratch), &[])?;
        }
        self.run_all(&layout::create_class_table(class, &self.d))?;
        let mut copy: Vec<String> = [
            "id",
            "__retired__",
            "_actor",
            "_activity",
            "_creation",
            "_creator",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut reparse = Vec::new();
        for (name, prop) in class.column_props() {
            if !old.has_column(name) {
                continue;
            }
            copy.push(format!("_{name}"));
            if prop.ptype == PropType::Interval {
                if old.is_interval(name) {
                    copy.push(format!("__{name}_int__"));
                } else {
                    reparse.push(name.to_string());
                }
            }
        }
        let cols = copy.join(",");
        self.exec(
            &format!("insert into {table} ({cols}) select {cols} from {scratch}"),
            &[],
        )?;
        self.exec(&format!("drop table {scratch}"), &[])?;

        // A column that became an Interval needs its seconds column filled.
        for name in reparse {
            let rows = self.rows(
                &format!("select id, _{name} from {table} where _{name} is not null"),
                &[],
            )?;
            for row in rows {
                let (Some(id), Some(text)) = (row.first(), row.get(1)) else {
                    continue;
                };
                let secs =
                    match layout::value_from_sql(&self.d, PropType::Interval, text.clone(), &|| {
                        name.clone()
                    }) {
                        Ok(Some(v)) => layout::interval_seconds(Some(&v)),
                        _ => SqlValue::Null,
                    };
                self.exec(
                    &format!("update {table} set __{name}_int__=?1 where id=?2"),
                    &[secs, id.clone()],
                )?;
            }
        }
        Ok(())
    }

    fn save_schema(&self, stored: &DbSchema) -> Result<()> {
        self.exec("delete from schema", &[])?;
        self.exec(
            "insert into schema values (?1)",
            &[SqlValue::Text(stored.to_repr())],
        )?;
        Ok(())
    }

    fn apply_sync(&mut self, schema: &Schema) -> Result<bool> {
        let mut stored = self.stored_schema()?;
        let mut changed = false;
        if stored.version > DB_VERSION {
            return Err(Error::storage(format!(
                "database layout version {} is newer than the supported version {DB_VERSION}",
                stored.version
            )));
        }
        if stored.version < DB_VERSION {
            if stored.version < 6 {
                return Err(Error::storage(format!(
                    "database layout version {} is too old: open it once with Roundup 2.6 to upgrade it to version {DB_VERSION}",
                    stored.version
                )));
            }
            // Version 7 added the full-text search table; 8 changed
            // nothing for SQLite.
            if let Some(fts) = self.d.fts_table() {
                if !self.table_exists("__fts")? {
                    self.exec(fts, &[])?;
                }
            }
            stored.version = DB_VERSION;
            changed = true;
        }
        for change in layout::plan_sync(&stored, schema) {
            changed = true;
            match change {
                ClassChange::Create(name) => {
                    let class = schema.class(&name)?;
                    self.create_class(class)?;
                    stored.tables.insert(name, TableSpec::of_class(class));
                }
                ClassChange::Alter(name, old) => {
                    let class = schema.class(&name)?;
                    self.alter_class(class, &old)?;
                    stored.tables.insert(name, TableSpec::of_class(class));
                }
                ClassChange::Drop(name, old) => {
                    self.drop_class(&name, &old)?;
                    stored.tables.shift_remove(&name);
                }
            }
        }
        if changed {
            self.save_schema(&stored)?;
        }
        Ok(changed)
    }

    // ---- items ----

    fn encode(
        &self,
        class: &ClassDef,
        prop: &str,
        ptype: PropType,
        value: Option<&Value>,
    ) -> Result<SqlValue> {
        match value {
            None => Ok(SqlValue::Null),
            Some(v) => layout::value_to_sql(&self.d, &class.name, prop, ptype, v),
        }
    }

    fn replace_links(&self, class: &str, prop: &str, nid: i64, ids: &[String]) -> Result<()> {
        let t = layout::multilink_table(class, prop);
        self.exec(
            &format!("delete from {t} where nodeid=?1"),
            &[SqlValue::Int(nid)],
        )?;
        self.add_links(class, prop, nid, ids)
    }

    fn add_links(&self, class: &str, prop: &str, nid: i64, ids: &[String]) -> Result<()> {
        let t = layout::multilink_table(class, prop);
        let sql = format!(
            "insert into {t} (linkid, nodeid) select ?1, ?2 where not exists (select 1 from {t} where linkid=?1 and nodeid=?2)"
        );
        for id in ids {
            let lid = layout::parse_id(prop, id)?;
            self.exec(&sql, &[SqlValue::Int(lid), SqlValue::Int(nid)])?;
        }
        Ok(())
    }

    /// Indexes beyond Roundup's layout that index pages need: on
    /// `(__retired__, _activity)` (the default sort) and on every Link column (filters
    /// such as `status=2`, sorting by a link). Named `rr_<class>_<col>_idx`,
    /// they never collide with Roundup's own index names; Roundup ignores
    /// them, and recreating a table drops them (they come back here).
    fn ensure_lookup_indexes(&mut self, schema: &Schema) -> Result<bool> {
        let existing = self.conn.index_names("rr_")?;
        let mut wanted = Vec::new();
        for class in schema.classes.values() {
            let mut cols = vec!["activity".to_string()];
            cols.extend(
                class
                    .props
                    .iter()
                    .filter(|(_, p)| p.is_link() && !p.is_computed())
                    .map(|(n, _)| n.clone()),
            );
            // Sorting by a column: `(__retired__, <sort expression>)`
            // serves `WHERE __retired__ = 0 ORDER BY <expr>, id` walking
            // the index (the row id ends every index), so a page, deep
            // or not, reads only index entries and no table rows.
            for (key, name) in sort_index_keys(class) {
                if !existing.contains(&name) {
                    wanted.push(self.d.create_index_if_missing(
                        &name,
                        &layout::class_table(&class.name),
                        &key,
                    ));
                }
            }
            for col in cols {
                let name = format!("rr_{}_{col}_idx", class.name);
                if !existing.contains(&name) {
                    // Index pages list active items (`__retired__ = 0`)
                    // newest first: with the retired flag leading, SQLite
                    // walks this index in order and stops after one page
                    // instead of sorting every row.
                    let key = if col == "activity" {
                        "__retired__, _activity".to_string()
                    } else {
                        format!("_{col}")
                    };
                    wanted.push(self.d.create_index_if_missing(
                        &name,
                        &layout::class_table(&class.name),
                        &key,
                    ));
                }
            }
        }
        // A multilink's rows by target with their owner in the key: the
        // items linking to thousands of messages (a full-text search) are
        // read from the index alone, one lookup per message. The other
        // way round, an item's links are read from an index led by an
        // expression of the owner (`Dialect::multilink_owner_expr`): a
        // plain `nodeid, linkid` index would serve them as well, but
        // Roundup 2.6's own queries on the same database then pick it (its
        // random search pages fell from 4.9 a second to none, its index
        // pages by half); the expression index leaves them as they were
        // (measured: search 5.8 / 6.0, index 36.9 / 37.9, item 74.3 / 74.2
        // req/s without / with it).
        for class in schema.classes.values() {
            for (pname, _) in class.multilink_props() {
                if let Some(expr) = self.d.multilink_owner_expr() {
                    let name = format!("rr_{}_{pname}_rows_idx", class.name);
                    if !existing.contains(&name) {
                        wanted.push(self.d.create_index_if_missing(
                            &name,
                            &layout::multilink_table(&class.name, pname),
                            &format!("({expr}), linkid, nodeid"),
                        ));
                    }
                }
                let name = format!("rr_{}_{pname}_owner_idx", class.name);
                if !existing.contains(&name) {
                    wanted.push(self.d.create_index_if_missing(
                        &name,
                        &layout::multilink_table(&class.name, pname),
                        "linkid, nodeid",
                    ));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(false);
        }
        self.write(|s| {
            for sql in &wanted {
                s.exec(sql, &[])?;
            }
            Ok(())
        })?;
        Ok(true)
    }

    /// Make the change log and its triggers what the schema wants (see
    /// `change_log`), where the engine keeps one. Looks first without
    /// writing; true when it wrote.
    fn ensure_change_log(&mut self, schema: &Schema) -> Result<bool> {
        let Some(engine) = self.d.change_log() else {
            return Ok(false);
        };
        self.change_triggers = change_log::triggers(schema, engine);
        self.change_log_checked = None;
        let existing = self.change_trigger_names()?;
        if existing.len() == self.change_triggers.len()
            && change_log::complete(&self.change_triggers, &existing)
        {
            return Ok(false);
        }
        self.write(|s| {
            // Triggers of another schema go (their names differ).
            for (name, table) in &existing {
                if !s.change_triggers.contains_key(name) {
                    s.exec(&engine_of(&s.d)?.drop_trigger(name, table), &[])?;
                }
            }
            s.create_change_triggers()
        })?;
        Ok(true)
    }

    /// The change log's triggers in the database: name, table.
    fn change_trigger_names(&self) -> Result<HashMap<String, String>> {
        let Some(engine) = self.d.change_log() else {
            return Ok(HashMap::new());
        };
        Ok(self
            .rows(&engine.trigger_names(change_log::PREFIX), &[])?
            .iter()
            .filter_map(|r| Some((text_of(r.first()?), text_of(r.get(1)?))))
            .collect())
    }

    /// Drop every trigger of the change log (the schema's or older ones).
    fn drop_change_triggers(&mut self) -> Result<()> {
        if self.change_triggers.is_empty() {
            return Ok(());
        }
        let existing = self.change_trigger_names()?;
        if existing.is_empty() {
            return Ok(());
        }
        self.write(|s| {
            for (name, table) in &existing {
                s.exec(&engine_of(&s.d)?.drop_trigger(name, table), &[])?;
            }
            Ok(())
        })
    }

    /// Create the triggers the schema wants that are missing, logging that
    /// anything may have changed while they were.
    fn create_change_triggers(&mut self) -> Result<()> {
        if self.change_triggers.is_empty() {
            return Ok(());
        }
        let existing = self.change_trigger_names()?;
        let missing: Vec<String> = self
            .change_triggers
            .iter()
            .filter(|(n, _)| !existing.contains_key(*n))
            .map(|(_, t)| t.sql.clone())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.write(|s| {
            s.exec(engine_of(&s.d)?.create_table(), &[])?;
            for sql in &missing {
                s.exec(sql, &[])?;
            }
            // Whatever was written while they were missing went unlogged:
            // a reader that passes this row starts over.
            s.exec(change_log::EVERYTHING_ROW, &[])?;
            Ok(())
        })
    }

    /// Whether the change log can be trusted now: the engine keeps one and
    /// every trigger the schema wants is there. Checked again only when the
    /// schema version moved (any trigger dropped or table rebuilt moves it).
    fn change_log_complete(&mut self) -> Result<bool> {
        let Some(engine) = self.d.change_log() else {
            return Ok(false);
        };
        if self.change_triggers.is_empty() {
            return Ok(false);
        }
        let Some(version) = self.first_int(engine.schema_version(), &[])? else {
            return Ok(false);
        };
        if let Some((at, complete)) = self.change_log_checked {
            if at == version {
                return Ok(complete);
            }
        }
        let complete = change_log::complete(&self.change_triggers, &self.change_trigger_names()?);
        self.change_log_checked = Some((version, complete));
        Ok(complete)
    }

    /// The change log's last position (0 when it is empty).
    fn change_log_end(&self) -> Result<i64> {
        Ok(self
            .first_int(&format!("select max(seq) from {}", change_log::TABLE), &[])?
            .unwrap_or(0))
    }

    /// The first column of the first row of `sql`, when that is an integer.
    fn first_int(&self, sql: &str, params: &[SqlValue]) -> Result<Option<i64>> {
        Ok(
            match self.rows(sql, params)?.first().and_then(|r| r.first()) {
                Some(SqlValue::Int(n)) => Some(*n),
                _ => None,
            },
        )
    }

    /// How reads of an item's links name the owner column: through our
    /// owner index's expression, except during a bulk load (which may
    /// have dropped the indexes of the tables it fills until it ends).
    fn owner_expr(&self) -> &'static str {
        match self.d.multilink_owner_expr() {
            Some(expr) if !self.bulk => expr,
            _ => "nodeid",
        }
    }

    /// An item's stored multilinks, every property's in one statement (an
    /// item page would otherwise cost one per property): each property
    /// with its ids in id order.
    fn stored_links<'c>(
        &self,
        class: &'c ClassDef,
        nid: i64,
    ) -> Result<Vec<(&'c str, Vec<String>)>> {
        let mut out: Vec<(&str, Vec<String>)> = class
            .props
            .iter()
            .filter(|(_, p)| p.is_multilink() && !p.is_computed())
            .map(|(name, _)| (name.as_str(), Vec::new()))
            .collect();
        if out.is_empty() {
            return Ok(out);
        }
        let owner = self.owner_expr();
        let sql = out
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                format!(
                    "select {i}, linkid from {} where {owner}=?1",
                    layout::multilink_table(&class.name, name)
                )
            })
            .collect::<Vec<_>>()
            .join(" union all ");
        for row in self.rows(&sql, &[SqlValue::Int(nid)])? {
            let (Some(SqlValue::Int(i)), Some(link)) = (row.first(), row.get(1)) else {
                continue;
            };
            if let (Some(slot), Some(id)) = (
                usize::try_from(*i).ok().and_then(|i| out.get_mut(i)),
                layout::id_from_sql(link),
            ) {
                slot.1.push(id);
            }
        }
        for (_, ids) in &mut out {
            sort_ids(ids);
            ids.dedup();
        }
        Ok(out)
    }

    /// The ids a computed (reverse) multilink lists for item `nid`: the
    /// active items whose `from` property links to it.
    fn computed_links(&self, from: &ComputedFrom, nid: i64) -> Result<Vec<String>> {
        let arg = [SqlValue::Int(nid)];
        let mut ids = if from.multilink {
            let t = layout::multilink_table(&from.class, &from.prop);
            let ft = layout::class_table(&from.class);
            self.ids(
                &format!(
                    "select {t}.nodeid from {t}, {ft} where {t}.linkid=?1 and {ft}.id={t}.nodeid and {ft}.__retired__=0"
                ),
                &arg,
            )?
        } else {
            self.ids(
                &format!(
                    "select id from {} where _{}=?1 and __retired__=0",
                    layout::class_table(&from.class),
                    from.prop
                ),
                &arg,
            )?
        };
        sort_ids(&mut ids);
        ids.dedup();
        Ok(ids)
    }

    fn journal_row(&self, class: &str, entry: &JournalEntry) -> Result<[SqlValue; 5]> {
        let nid = layout::parse_id(class, &entry.nodeid)?;
        Ok([
            SqlValue::Int(nid),
            self.d.date_bound(&entry.date),
            SqlValue::Text(entry.tag.clone()),
            SqlValue::Text(entry.action.clone()),
            SqlValue::Text(pyrepr::repr_export(&entry.params)),
        ])
    }
}

fn auto_type(name: &str) -> PropType {
    if name == "actor" || name == "creator" {
        PropType::Link
    } else {
        PropType::Date
    }
}

/// The engine's change-log statements (only asked for where the schema's
/// triggers were made, so the engine has them).
fn engine_of(d: &dyn Dialect) -> Result<&dyn crate::sql::ChangeLogSql> {
    d.change_log()
        .ok_or_else(|| Error::storage(format!("the {} backend keeps no change log", d.name())))
}

fn text_of(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => String::new(),
        SqlValue::Int(n) => n.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Text(t) => t.clone(),
    }
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A savepoint name checked to be a plain identifier, quoted for SQL.
fn savepoint_name(d: &dyn Dialect, name: &str) -> Result<String> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(d.quote_ident(name))
    } else {
        Err(Error::value(format!(
            "invalid savepoint name \"{name}\": use letters, digits and underscores"
        )))
    }
}

fn no_node(class: &str, id: &str) -> Error {
    Error::NoSuchNode {
        class: class.to_string(),
        id: id.to_string(),
    }
}

impl<C: Connection> RdbmsStorage<C> {
    /// The statements of `class` (built on first use).
    fn class_sql(&mut self, class: &ClassDef) -> Arc<ClassSql> {
        if let Some(c) = self.class_sql_named(&class.name) {
            return c;
        }
        let c = Arc::new(ClassSql::new(class, &self.d));
        self.class_sql.insert(class.name.clone(), c.clone());
        c
    }

    /// The journal statements of `class`.
    fn journal_sql(&self, class: &str) -> Arc<JournalSql> {
        match self.class_sql_named(class) {
            Some(c) => c.journal.clone(),
            None => Arc::new(JournalSql::new(&layout::journal_table(class))),
        }
    }

    /// In bulk mode, whether item `nid` of `class` (with `journal`: a
    /// journal entry of it) may be in the tables at all; outside bulk
    /// mode always true.
    fn bulk_may_exist(&mut self, class: &str, nid: i64, journal: bool) -> Result<bool> {
        if !self.bulk {
            return Ok(true);
        }
        let known = self.bulk_max.get(class).copied().unwrap_or_default();
        let max = match if journal { known.1 } else { known.0 } {
            Some(m) => m,
            None => {
                let sql = match (self.class_sql_named(class), journal) {
                    (Some(c), false) => c.max_id.clone(),
                    (Some(c), true) => c.max_journal_id.clone(),
                    (None, false) => format!("select max(id) from {}", layout::class_table(class)),
                    (None, true) => {
                        format!("select max(nodeid) from {}", layout::journal_table(class))
                    }
                };
                let m = match self.rows(&sql, &[])?.first().and_then(|r| r.first()) {
                    None | Some(SqlValue::Null) => 0,
                    Some(SqlValue::Int(n)) => *n,
                    // Not stored as numbers: no shortcut.
                    Some(_) => i64::MAX,
                };
                let entry = self.bulk_max.entry(class.to_string()).or_default();
                if journal {
                    entry.1 = Some(m);
                } else {
                    entry.0 = Some(m);
                }
                m
            }
        };
        Ok(nid <= max)
    }

    /// In bulk mode, note that item `nid` of `class` (or a journal entry
    /// of it) was written.
    fn bulk_wrote(&mut self, class: &str, nid: i64, journal: bool) {
        if let Some(entry) = self.bulk_max.get_mut(class) {
            if let Some(m) = if journal { &mut entry.1 } else { &mut entry.0 } {
                *m = (*m).max(nid);
            }
        }
    }

    /// The statements of the class named `name`, if built already.
    fn class_sql_named(&self, name: &str) -> Option<Arc<ClassSql>> {
        // Imports ask for one class many times in a row.
        if let Some((last, c)) = &*self.last_class_sql.borrow() {
            if last == name {
                return Some(c.clone());
            }
        }
        let found = self.class_sql.get(name).cloned();
        if let Some(c) = &found {
            *self.last_class_sql.borrow_mut() = Some((name.to_string(), c.clone()));
        }
        found
    }

    /// Advance a counter inside the open transaction, remembering it so a
    /// rollback cannot hand the same id out again.
    fn allocate_in_tx(&mut self, name: &str) -> Result<i64> {
        let n = self.bump_counter(name)?;
        let next = self.allocated.entry(name.to_string()).or_insert(n + 1);
        *next = (*next).max(n + 1);
        Ok(n)
    }

    fn check_prop_names(class: &ClassDef, values: &NodeValues) -> Result<()> {
        for name in values.keys() {
            if name != "id" && class.prop(name).is_none() {
                return Err(Error::NoSuchProperty {
                    class: class.name.clone(),
                    prop: name.clone(),
                });
            }
        }
        Ok(())
    }

    fn multilink_value<'a>(class: &ClassDef, prop: &str, v: &'a Value) -> Result<&'a [String]> {
        v.as_ids().ok_or_else(|| {
            Error::value(format!(
                "{}.{prop} is a Multilink property but was given a {} value",
                class.name,
                v.ptype().name()
            ))
        })
    }
}

impl<C: Connection> Storage for RdbmsStorage<C> {
    fn backend_name(&self) -> &'static str {
        self.d.name()
    }

    fn sync_schema(&mut self, schema: &Schema) -> Result<bool> {
        self.class_sql.clear();
        *self.last_class_sql.borrow_mut() = None;
        // Look first without taking the write lock: opening an unchanged
        // database must not write anything.
        let stored = self.stored_schema()?;
        let changed =
            if stored.version == DB_VERSION && layout::plan_sync(&stored, schema).is_empty() {
                false
            } else {
                // Decide again under the lock, in case another process changed it.
                self.write(|s| s.apply_sync(schema))?
            };
        let indexed = self.ensure_lookup_indexes(schema)?;
        let logged = self.ensure_change_log(schema)?;
        Ok(changed || indexed || logged)
    }

    /// Roundup allocates an id by reading and incrementing the `ids` row
    /// under `BEGIN IMMEDIATE` and committing at once, so the id survives a
    /// later rollback; an item made outside a transaction thus costs two
    /// commits, each a sync of the log to disk. We take the id inside the
    /// transaction that then writes the item (opening it if needed), so
    /// creating costs one, and remember the counter: [`Storage::rollback`]
    /// (or the engine aborting the transaction) re-applies it in a short
    /// transaction of its own, so an id handed out is never handed out
    /// again. Other connections cannot allocate meanwhile because we hold
    /// the write lock. Only a crash before commit loses the increment, and
    /// then no committed data refers to the id either.
    fn new_id(&mut self, class: &str) -> Result<u64> {
        self.check_lost_transaction()?;
        let n = self.write(|s| s.allocate_in_tx(class))?;
        u64::try_from(n).map_err(|_| {
            Error::storage(format!(
                "ids table: counter of \"{class}\" is negative ({n})"
            ))
        })
    }

    fn set_last_id(&mut self, class: &str, last_used: u64) -> Result<()> {
        let next = i64::try_from(last_used)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| Error::value(format!("id {last_used} of class {class} is too large")))?;
        self.write(|s| {
            let args = [SqlValue::Int(next), SqlValue::Text(class.to_string())];
            if s.exec("update ids set num=?1 where name=?2", &args)? == 0 {
                s.exec("insert into ids (num, name) values (?1, ?2)", &args)?;
            }
            Ok(())
        })
    }

    fn add_node(&mut self, class: &ClassDef, id: &str, values: &NodeValues) -> Result<()> {
        let nid = layout::parse_id(&class.name, id)?;
        self.defer_indexes(class)?;
        let sql = self.class_sql(class);
        // Values for names that are no column or multilink are an error;
        // counting the names used spares looking each one up.
        let mut used = 0;
        let mut get = |name: &str, first: bool| match values.get(name) {
            Some(v) => {
                used += usize::from(first);
                v.as_ref()
            }
            None => None,
        };
        let mut params = Vec::with_capacity(sql.columns.len() + 1);
        for col in &sql.columns {
            let v = match &col.kind {
                ColumnKind::Automatic(a) => self.encode(class, a, auto_type(a), get(a, true))?,
                ColumnKind::Prop(name, _) if class.is_file_content(name) => {
                    get(name, true);
                    SqlValue::Null
                }
                ColumnKind::Prop(name, pt) => self.encode(class, name, *pt, get(name, true))?,
                ColumnKind::IntervalSeconds(name) => layout::interval_seconds(get(name, false)),
            };
            params.push(v);
        }
        params.push(SqlValue::Int(nid));
        // A new item has no links yet: plain inserts, each link once.
        let mut links = Vec::new();
        for (ml, inserts) in &sql.link_inserts {
            if let Some(v) = get(ml, true) {
                let mut ids = Vec::new();
                for id in Self::multilink_value(class, ml, v)? {
                    ids.push(layout::parse_id(ml, id)?);
                }
                ids.sort_unstable();
                ids.dedup();
                links.push((inserts, ids));
            }
        }
        if used != values.len() {
            Self::check_prop_names(class, values)?;
        }
        self.write(|s| {
            s.exec(&sql.insert, &params)?;
            for (inserts, ids) in links {
                for chunk in ids.chunks(ROWS_PER_INSERT) {
                    let params: Vec<SqlValue> = chunk
                        .iter()
                        .flat_map(|lid| [SqlValue::Int(*lid), SqlValue::Int(nid)])
                        .collect();
                    s.exec(&inserts[chunk.len() - 1], &params)?;
                }
            }
            Ok(())
        })?;
        self.bulk_wrote(&class.name, nid, false);
        Ok(())
    }

    fn set_node(
        &mut self,
        class: &ClassDef,
        id: &str,
        values: &NodeValues,
        multilinks: &HashMap<String, MultilinkChange>,
    ) -> Result<()> {
        let nid = layout::parse_id(&class.name, id)?;
        Self::check_prop_names(class, values)?;
        let mut sets = Vec::new();
        let mut params = Vec::new();
        let mut replace = Vec::new();
        let mut names: Vec<&String> = values.keys().collect();
        names.sort();
        for name in names {
            let value = values.get(name).and_then(|v| v.as_ref());
            if name == "id" || class.is_file_content(name) {
                continue;
            }
            let ptype = match class.props.get(name) {
                Some(p) if p.is_computed() => continue,
                Some(p) => p.ptype,
                None => auto_type(name),
            };
            if ptype == PropType::Multilink {
                if !multilinks.contains_key(name) {
                    let ids = match value {
                        Some(v) => Self::multilink_value(class, name, v)?,
                        None => &[],
                    };
                    replace.push((name.as_str(), ids));
                }
                continue;
            }
            sets.push(format!("_{name}=?{}", params.len() + 1));
            params.push(self.encode(class, name, ptype, value)?);
            if ptype == PropType::Interval {
                sets.push(format!("__{name}_int__=?{}", params.len() + 1));
                params.push(layout::interval_seconds(value));
            }
        }
        for name in multilinks.keys() {
            match class.props.get(name) {
                Some(p) if p.is_multilink() && !p.is_computed() => {}
                _ => {
                    return Err(Error::value(format!(
                        "{}.{name} is not a stored Multilink property; cannot add or remove links",
                        class.name
                    )))
                }
            }
        }
        let table = layout::class_table(&class.name);
        self.write(|s| {
            if sets.is_empty() {
                if !s.has_node(&class.name, id)? {
                    return Err(no_node(&class.name, id));
                }
            } else {
                params.push(SqlValue::Int(nid));
                let sql = format!(
                    "update {table} set {} where id=?{}",
                    sets.join(","),
                    params.len()
                );
                if s.exec(&sql, &params)? == 0 {
                    return Err(no_node(&class.name, id));
                }
            }
            for (name, ids) in replace {
                s.replace_links(&class.name, name, nid, ids)?;
            }
            for (name, change) in multilinks {
                s.add_links(&class.name, name, nid, &change.add)?;
                if !change.remove.is_empty() {
                    let t = layout::multilink_table(&class.name, name);
                    let list = int_list(&change.remove);
                    if !list.is_empty() {
                        s.exec(
                            &format!("delete from {t} where nodeid=?1 and linkid in ({list})"),
                            &[SqlValue::Int(nid)],
                        )?;
                    }
                }
            }
            Ok(())
        })
    }

    fn get_node(&mut self, class: &ClassDef, id: &str) -> Result<Option<StoredNode>> {
        let Ok(nid) = id.parse::<i64>() else {
            return Ok(None);
        };
        let cols = layout::class_columns(class, &self.d);
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let sql = format!(
            "select {},__retired__ from {} where id=?1",
            names.join(","),
            layout::class_table(&class.name)
        );
        let Some(row) = self.rows(&sql, &[SqlValue::Int(nid)])?.into_iter().next() else {
            return Ok(None);
        };
        let (mut values, retired) =
            decode_node_row(&self.d, class, &cols, row, id, whole_item_size(class))?;
        for (name, ids) in self.stored_links(class, nid)? {
            values.insert(name.to_string(), Some(Value::Multilink(ids)));
        }
        for (name, prop) in &class.props {
            if let Some(from) = prop.computed.as_ref().filter(|_| prop.is_multilink()) {
                let ids = self.computed_links(from, nid)?;
                values.insert(name.clone(), Some(Value::Multilink(ids)));
            }
        }
        Ok(Some(StoredNode { values, retired }))
    }

    /// Batch form of `get_node`: one query for the rows and one per stored
    /// multilink property, for chunks of up to 500 ids (index pages).
    fn get_nodes(
        &mut self,
        class: &ClassDef,
        ids: &[String],
    ) -> Result<HashMap<String, StoredNode>> {
        let mut out: HashMap<String, StoredNode> = HashMap::new();
        let nids: Vec<i64> = ids.iter().filter_map(|i| i.parse::<i64>().ok()).collect();
        let cols = layout::class_columns(class, &self.d);
        for chunk in nids.chunks(500) {
            // One bound list where the engine has one: the statements keep
            // one text whatever the number of ids (an index page misses a
            // different number of items each time), so they stay prepared.
            let (params, list) = self.bound_id_list(chunk);
            self.read_node_rows(
                class,
                &cols,
                (&params, &list),
                whole_item_size(class),
                &mut out,
            )?;
            for (name, prop) in &class.props {
                if !prop.is_multilink() {
                    continue;
                }
                if let Some(from) = &prop.computed {
                    for n in chunk {
                        let links = self.computed_links(from, *n)?;
                        if let Some(node) = out.get_mut(&n.to_string()) {
                            node.values
                                .insert(name.clone(), Some(Value::Multilink(links)));
                        }
                    }
                    continue;
                }
                for node in out.values_mut() {
                    node.values
                        .entry(name.clone())
                        .or_insert_with(|| Some(Value::Multilink(Vec::new())));
                }
                let owner = self.owner_expr();
                let sql = format!(
                    "select nodeid, linkid from {} where {owner} in ({list}) order by {owner}, linkid",
                    layout::multilink_table(&class.name, name),
                );
                for row in self.rows(&sql, &params)? {
                    let mut row = row.into_iter();
                    let (Some(node), Some(link)) = (row.next(), row.next()) else {
                        continue;
                    };
                    let (Some(node), Some(link)) =
                        (layout::id_from_sql(&node), layout::id_from_sql(&link))
                    else {
                        continue;
                    };
                    if let Some(Some(Value::Multilink(list))) =
                        out.get_mut(&node).and_then(|n| n.values.get_mut(name))
                    {
                        list.push(link);
                    }
                }
            }
        }
        Ok(out)
    }

    fn get_node_columns(
        &mut self,
        class: &ClassDef,
        ids: &[String],
        props: &[&str],
    ) -> Result<HashMap<String, StoredNode>> {
        // Only the columns of the named properties; no Multilink table is
        // read (an index page of fifty rows read six statements' worth of
        // rows for five cells each).
        let cols: Vec<layout::Column> = layout::class_columns(class, &self.d)
            .into_iter()
            .filter(|c| match &c.kind {
                ColumnKind::Automatic(a) => props.contains(a),
                ColumnKind::Prop(name, _) => {
                    props.contains(&name.as_str()) && !class.is_file_content(name)
                }
                ColumnKind::IntervalSeconds(_) => false,
            })
            .collect();
        let mut out: HashMap<String, StoredNode> = HashMap::with_capacity(ids.len());
        let nids: Vec<i64> = ids.iter().filter_map(|i| i.parse::<i64>().ok()).collect();
        for chunk in nids.chunks(500) {
            let (params, list) = self.bound_id_list(chunk);
            self.read_node_rows(class, &cols, (&params, &list), cols.len(), &mut out)?;
        }
        Ok(out)
    }

    fn has_node(&mut self, class: &str, id: &str) -> Result<bool> {
        let Ok(nid) = id.parse::<i64>() else {
            return Ok(false);
        };
        if !self.bulk_may_exist(class, nid, false)? {
            return Ok(false);
        }
        let sql = match self.class_sql_named(class) {
            Some(c) => c.has_node.clone(),
            None => format!("select 1 from {} where id=?1", layout::class_table(class)),
        };
        Ok(!self.rows(&sql, &[SqlValue::Int(nid)])?.is_empty())
    }

    fn set_retired(&mut self, class: &ClassDef, id: &str, retired: bool) -> Result<()> {
        let nid = layout::parse_id(&class.name, id)?;
        let sql = format!(
            "update {} set __retired__=?1 where id=?2",
            layout::class_table(&class.name)
        );
        let flag = if retired { nid } else { 0 };
        self.write(|s| {
            if s.exec(&sql, &[SqlValue::Int(flag), SqlValue::Int(nid)])? == 0 {
                return Err(no_node(&class.name, id));
            }
            Ok(())
        })
    }

    fn destroy_node(&mut self, class: &ClassDef, id: &str) -> Result<()> {
        let nid = layout::parse_id(&class.name, id)?;
        let cn = &class.name;
        // Most items have no indexed text yet; only those that do need
        // the word index (which a bulk load may have dropped).
        let indexed = !self
            .rows(
                "select 1 from __textids where _class=?1 and _itemid=?2 limit 1",
                &[SqlValue::Text(cn.clone()), SqlValue::Text(nid.to_string())],
            )?
            .is_empty();
        if indexed {
            self.restore_word_indexes()?;
        }
        self.write(|s| {
            let arg = [SqlValue::Int(nid)];
            if s.exec(&format!("delete from {} where id=?1", layout::class_table(cn)), &arg)? == 0 {
                return Err(no_node(cn, id));
            }
            for (ml, _) in class.multilink_props() {
                s.exec(&format!("delete from {} where nodeid=?1", layout::multilink_table(cn, ml)), &arg)?;
            }
            s.exec(&format!("delete from {} where nodeid=?1", layout::journal_table(cn)), &arg)?;
            if !indexed {
                return Ok(());
            }
            let key = [SqlValue::Text(cn.clone()), SqlValue::Text(nid.to_string())];
            s.exec(
                "delete from __words where _textid in (select _textid from __textids where _class=?1 and _itemid=?2)",
                &key,
            )?;
            s.exec("delete from __textids where _class=?1 and _itemid=?2", &key)?;
            Ok(())
        })
    }

    fn node_ids(&mut self, class: &str, retired: Option<bool>) -> Result<Vec<String>> {
        let cond = match retired {
            None => "",
            Some(false) => " where __retired__=0",
            Some(true) => " where __retired__>0",
        };
        self.ids(
            &format!(
                "select id from {}{cond} order by id",
                layout::class_table(class)
            ),
            &[],
        )
    }

    fn count(&mut self, class: &str) -> Result<u64> {
        let sql = format!(
            "select count(*) from {} where __retired__=0",
            layout::class_table(class)
        );
        match self.rows(&sql, &[])?.first().and_then(|r| r.first()) {
            Some(SqlValue::Int(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            other => Err(Error::storage(format!("{sql} returned {other:?}"))),
        }
    }

    fn lookup_key(&mut self, class: &ClassDef, key: &str) -> Result<Option<String>> {
        let Some(kp) = &class.key else {
            return Err(Error::value(format!(
                "class \"{}\" has no key property",
                class.name
            )));
        };
        let sql = format!(
            "select id from {} where _{kp}=?1 and __retired__=0",
            layout::class_table(&class.name)
        );
        Ok(self
            .ids(&sql, &[SqlValue::Text(key.to_string())])?
            .into_iter()
            .next())
    }

    fn find_linking(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[String],
    ) -> Result<Vec<String>> {
        let p = class.require_prop(prop)?;
        let nums: Vec<i64> = ids.iter().filter_map(|i| i.parse().ok()).collect();
        if nums.is_empty() {
            return Ok(Vec::new());
        }
        let list = int_list_of(&nums);
        let cn = &class.name;
        let ct = layout::class_table(cn);
        let sql = match (&p.computed, p.ptype) {
            (None, PropType::Link) => {
                format!(
                    "select id from {ct} where __retired__=0 and _{prop} in ({list}) order by id"
                )
            }
            (None, PropType::Multilink) => {
                // Thousands of linked ids (a full-text search's messages):
                // duplicates are dropped and the ids sorted here, which
                // costs a fraction of SQL's DISTINCT and ORDER BY, and the
                // rows come from the (linkid, nodeid) index alone.
                let t = layout::multilink_table(cn, prop);
                let (params, list) = self.bound_id_list(&nums);
                let sql = format!("select nodeid from {t} where linkid in ({list})");
                // Rows of destroyed items are deleted with them; retired
                // ones are few and left out here.
                let mut seen = self.retired_ids(&ct)?;
                let mut ids: Vec<i64> = self
                    .int_ids_native(&sql, &params)?
                    .into_iter()
                    .filter(|n| seen.insert(*n))
                    .collect();
                ids.sort_unstable();
                return Ok(ids.into_iter().map(|n| n.to_string()).collect());
            }
            (Some(from), _) if from.multilink => {
                let t = layout::multilink_table(&from.class, &from.prop);
                format!(
                    "select distinct {ct}.id from {ct}, {t} where {ct}.__retired__=0 and {ct}.id={t}.linkid and {t}.nodeid in ({list}) order by {ct}.id"
                )
            }
            (Some(from), _) => {
                let ft = layout::class_table(&from.class);
                format!(
                    "select distinct {ct}.id from {ct}, {ft} where {ct}.__retired__=0 and {ft}._{}={ct}.id and {ft}.id in ({list}) order by {ct}.id",
                    from.prop
                )
            }
            _ => {
                return Err(Error::value(format!(
                    "{cn}.{prop} is a {} property, not a Link or Multilink",
                    p.ptype.name()
                )))
            }
        };
        self.ids(&sql, &[])
    }

    fn linking_pairs(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[u32],
    ) -> Result<Vec<(u32, u32)>> {
        let p = class.require_prop(prop)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let nums: Vec<i64> = ids.iter().map(|&n| i64::from(n)).collect();
        let (params, list) = self.bound_id_list(&nums);
        let sql = match (&p.computed, p.ptype) {
            (None, PropType::Link) => format!(
                "select _{prop}, id from {} where _{prop} in ({list})",
                layout::class_table(&class.name)
            ),
            (None, PropType::Multilink) => format!(
                "select linkid, nodeid from {} where linkid in ({list})",
                layout::multilink_table(&class.name, prop)
            ),
            _ => {
                return Err(Error::value(format!(
                    "{}.{prop} is not a stored Link or Multilink property",
                    class.name
                )))
            }
        };
        let num = |v: Option<&SqlValue>| {
            v.and_then(layout::int_id_from_sql)
                .and_then(|n| u32::try_from(n).ok())
        };
        Ok(self
            .conn
            .query(&sql, &params)?
            .iter()
            .filter_map(|r| Some((num(r.first())?, num(r.get(1))?)))
            .collect())
    }

    fn filter(&mut self, schema: &Schema, query: &Query) -> Result<Vec<String>> {
        if let Some(ids) = self.filter_by_walking_search(schema, query)? {
            return Ok(ids);
        }
        if let Some(ids) = self.filter_by_link_groups(schema, query)? {
            return Ok(ids);
        }
        // Built in the dialect's own placeholders already.
        let (sql, params) = filter_sql(schema, query, &self.d)?;
        self.ids_native(&sql, &params)
    }

    fn filter_order(&mut self, schema: &Schema, query: &Query) -> Result<Option<Vec<u32>>> {
        if query.limit.is_some() || query.offset > 0 {
            return Ok(roundup_core::shared_cache::numeric_ids(
                &self.filter(schema, query)?,
            ));
        }
        // A whole order takes none of `filter`'s paged plans: its SQL, the
        // ids read as integers straight from the rows.
        let (sql, params) = filter_sql(schema, query, &self.d)?;
        Ok(self
            .conn
            .query_first_ints(&sql, &params)?
            .and_then(|ints| ints.into_iter().map(|n| u32::try_from(n).ok()).collect()))
    }

    fn filter_count(&mut self, schema: &Schema, query: &Query) -> Result<u64> {
        if let Some(n) = self.count_search_matches(query)? {
            return Ok(n);
        }
        let (sql, params) = count_sql(schema, query, &self.d)?;
        self.count_cached(&sql, &params)
    }

    fn add_journal(&mut self, class: &str, entry: &JournalEntry) -> Result<()> {
        let row = self.journal_row(class, entry)?;
        let sql = self.journal_sql(class);
        self.write(|s| s.exec(&sql.inserts[0], &row).map(|_| ()))?;
        if let SqlValue::Int(nid) = row[0] {
            self.bulk_wrote(class, nid, true);
        }
        Ok(())
    }

    fn get_journal(&mut self, class: &str, id: &str) -> Result<Vec<JournalEntry>> {
        let Ok(nid) = id.parse::<i64>() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "select nodeid,date,tag,action,params from {} where nodeid=?1 order by {}",
            layout::journal_table(class),
            self.d.journal_order()
        );
        let mut out = Vec::new();
        for row in self.rows(&sql, &[SqlValue::Int(nid)])? {
            let [nodeid, date, tag, action, params] = <[SqlValue; 5]>::try_from(row)
                .map_err(|_| Error::storage(format!("{sql}: wrong number of columns")))?;
            let what = |field: &str| format!("journal of {class}{id}: {field}");
            let date = self
                .d
                .date_from_sql(&date)?
                .ok_or_else(|| Error::storage(what("entry without a date")))?;
            let params_text = text_of(&params);
            let params = pyrepr::eval_import(&params_text).map_err(|e| {
                Error::storage(format!(
                    "{}: unreadable params {params_text:?}: {e}",
                    what("entry")
                ))
            })?;
            out.push(JournalEntry {
                nodeid: layout::id_from_sql(&nodeid).unwrap_or_else(|| id.to_string()),
                date,
                tag: text_of(&tag),
                action: text_of(&action),
                params,
            });
        }
        Ok(out)
    }

    fn set_journal(&mut self, class: &str, id: &str, entries: &[JournalEntry]) -> Result<()> {
        let nid = layout::parse_id(class, id)?;
        let sql = self.journal_sql(class);
        let mut chunks: Vec<(usize, Vec<SqlValue>)> = Vec::new();
        for group in entries.chunks(ROWS_PER_INSERT) {
            let mut params = Vec::with_capacity(group.len() * 5);
            for e in group {
                let mut row = self.journal_row(class, e)?;
                row[0] = SqlValue::Int(nid);
                params.extend(row);
            }
            chunks.push((group.len(), params));
        }
        let may_exist = self.bulk_may_exist(class, nid, true)?;
        self.write(|s| {
            if may_exist {
                s.exec(&sql.delete, &[SqlValue::Int(nid)])?;
            }
            for (n, params) in &chunks {
                s.exec(&sql.inserts[n - 1], params)?;
            }
            Ok(())
        })?;
        if !entries.is_empty() {
            self.bulk_wrote(class, nid, true);
        }
        Ok(())
    }

    fn pack(&mut self, schema: &Schema, before: &Date) -> Result<()> {
        let stamp = self.d.date_bound(before);
        self.write(|s| {
            for name in schema.classes.keys() {
                let sql = format!(
                    "delete from {} where date<?1 and action<>'create'",
                    layout::journal_table(name)
                );
                s.exec(&sql, std::slice::from_ref(&stamp))?;
            }
            Ok(())
        })
    }

    fn index_text(&mut self, class: &str, id: &str, prop: &str, text: &str) -> Result<()> {
        if self.bulk {
            return self.index_text_bulk(class, id, prop, text);
        }
        let words = layout::index_words(text, &self.stopwords);
        self.restore_word_indexes()?;
        self.write(|s| {
            let key = [
                SqlValue::Text(class.to_string()),
                SqlValue::Text(id.to_string()),
                SqlValue::Text(prop.to_string()),
            ];
            let found = s.rows(
                "select _textid from __textids where _class=?1 and _itemid=?2 and _prop=?3",
                &key,
            )?;
            let textid = match found.first().and_then(|r| r.first()) {
                Some(SqlValue::Int(t)) => {
                    s.exec("delete from __words where _textid=?1", &[SqlValue::Int(*t)])?;
                    *t
                }
                _ => {
                    let t = s.allocate_in_tx("__textids")?;
                    let [c, i, p] = key;
                    s.exec(
                        "insert into __textids (_textid, _class, _itemid, _prop) values (?1, ?2, ?3, ?4)",
                        &[SqlValue::Int(t), c, i, p],
                    )?;
                    t
                }
            };
            for w in words {
                s.exec(
                    "insert into __words (_word, _textid) values (?1, ?2)",
                    &[SqlValue::Text(w), SqlValue::Int(textid)],
                )?;
            }
            Ok(())
        })
    }

    fn search_text(
        &mut self,
        words: &[String],
        classes: Option<&[String]>,
    ) -> Result<Vec<TextHit>> {
        let words = layout::query_words(words, &self.stopwords);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        self.restore_word_indexes()?;
        let mut params: Vec<SqlValue> = words.into_iter().map(SqlValue::Text).collect();
        let inner = (1..=params.len())
            .map(|n| format!("select _textid from __words where _word=?{n}"))
            .collect::<Vec<_>>()
            .join(" intersect ");
        let mut sql =
            format!("select _class, _itemid, _prop from __textids where _textid in ({inner})");
        if let Some(cls) = classes {
            if cls.is_empty() {
                return Ok(Vec::new());
            }
            let first = params.len() + 1;
            let ph: Vec<String> = (first..first + cls.len())
                .map(|n| format!("?{n}"))
                .collect();
            sql.push_str(&format!(" and _class in ({})", ph.join(",")));
            params.extend(cls.iter().map(|c| SqlValue::Text(c.clone())));
        }
        sql.push_str(&format!(
            " order by _class, {}, _prop",
            self.d.cast_integer("_itemid")
        ));
        Ok(self
            .rows(&sql, &params)?
            .into_iter()
            .map(|r| TextHit {
                class: r.first().map(text_of).unwrap_or_default(),
                id: r.get(1).map(text_of).unwrap_or_default(),
                prop: r.get(2).map(text_of).unwrap_or_default(),
            })
            .collect())
    }

    fn set_bulk(&mut self, on: bool) -> Result<()> {
        self.bulk = on;
        self.bulk_max.clear();
        self.deferred_checked.clear();
        if on {
            self.conn.bulk_load_starts(self.in_tx)?;
            // Every row loaded would add a row to the change log; readers
            // see the triggers gone and start over instead.
            self.drop_change_triggers()
        } else {
            self.restore_word_indexes()?;
            self.restore_deferred_indexes()?;
            self.create_change_triggers()
        }
    }

    fn savepoint(&mut self, name: &str) -> Result<()> {
        let name = savepoint_name(&self.d, name)?;
        self.begin()?;
        // Buffered words belong before the savepoint.
        self.flush_words()?;
        self.batch(&self.d.savepoint(&name))
    }

    fn release_savepoint(&mut self, name: &str) -> Result<()> {
        let name = savepoint_name(&self.d, name)?;
        self.check_lost_transaction()?;
        self.batch(&self.d.release_savepoint(&name))
    }

    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        let name = savepoint_name(&self.d, name)?;
        self.check_lost_transaction()?;
        self.batch(&self.d.rollback_to_savepoint(&name))?;
        self.batch(&self.d.release_savepoint(&name))?;
        // Words buffered since (all of them: the savepoint flushed) go.
        self.discard_words();
        // Ids handed out since the savepoint stay used.
        self.reserve_allocated_in_tx()
    }

    fn commit(&mut self) -> Result<()> {
        self.check_lost_transaction()?;
        if !self.in_tx {
            return Ok(());
        }
        self.restore_word_indexes()?;
        self.restore_deferred_indexes()?;
        match self.conn.commit() {
            Ok(()) => {
                self.end_tx();
                self.allocated.clear();
                self.conn.after_commit()
            }
            Err(e) => {
                // A busy database leaves the transaction open (retry or roll
                // back); anything that ended it is reported as a loss.
                if !self.conn.in_transaction() {
                    let lost = self.check_lost_transaction().err();
                    return Err(Error::storage(format!(
                        "{e}; {}",
                        lost.map(|l| l.to_string()).unwrap_or_default()
                    )));
                }
                Err(e)
            }
        }
    }

    fn rollback(&mut self) -> Result<()> {
        self.forget_bulk_work();
        self.bulk_max.clear();
        if self.in_tx {
            if self.conn.in_transaction() {
                let undone = self.conn.rollback();
                if undone.is_err() && self.conn.in_transaction() {
                    return undone;
                }
            }
            self.end_tx();
        }
        let restored = self.restore_allocated_ids();
        self.conn.after_rollback()?;
        restored
    }

    fn data_version(&mut self) -> Result<Option<i64>> {
        self.conn.data_version()
    }

    fn changes_since(&mut self, after: Option<i64>) -> Result<Changes> {
        let everything = |upto| Ok(Changes::Everything { upto });
        if !self.change_log_complete()? {
            return everything(None);
        }
        let Some(after) = after else {
            return everything(Some(self.change_log_end()?));
        };
        // From the row at the reader's position on: while it is there,
        // nothing after it was cut (the log is cut from its start).
        let rows = self.rows(
            &self.d.numbered(&format!(
                "select seq, class, nodeid from {} where seq >= ?1 order by seq limit {}",
                change_log::TABLE,
                change_log::MAX_ITEMS + 2
            )),
            &[SqlValue::Int(after)],
        )?;
        let seq = |r: &Vec<SqlValue>| match r.first() {
            Some(SqlValue::Int(n)) => Some(*n),
            _ => None,
        };
        let first = rows.first().and_then(seq);
        let anchored = if after == 0 {
            // an empty log at the last look: its first row will be 1
            first.is_none_or(|n| n <= 1)
        } else {
            first == Some(after)
        };
        if !anchored || rows.len() > change_log::MAX_ITEMS + 1 {
            return everything(Some(self.change_log_end()?));
        }
        let mut upto = after;
        let mut items = Vec::new();
        for r in &rows {
            let Some(n) = seq(r) else { continue };
            if n <= after {
                continue;
            }
            upto = n;
            let class = r.get(1).map(text_of).unwrap_or_default();
            if class == change_log::EVERYTHING {
                return everything(Some(self.change_log_end()?));
            }
            let id = match r.get(2) {
                Some(SqlValue::Int(i)) => Some(i.to_string()),
                _ => None,
            };
            items.push((class, id));
        }
        Ok(Changes::Items { upto, items })
    }

    fn outbox_add(&mut self, envelope: &Envelope, queued: f64, next_try: f64) -> Result<i64> {
        let recipients = envelope.recipients.join("\n");
        self.write(|s| {
            s.exec(OUTBOX_TABLE, &[])?;
            let id = s
                .first_int("select max(id) from __outbox", &[])?
                .map_or(1, |n| n + 1);
            s.exec(
                "insert into __outbox (id, queued, sender, recipients, message, attempts, next_try, last_error) \
                 values (?1, ?2, ?3, ?4, ?5, 0, ?6, NULL)",
                &[
                    SqlValue::Int(id),
                    SqlValue::Real(queued),
                    SqlValue::Text(envelope.sender.clone()),
                    SqlValue::Text(recipients.clone()),
                    SqlValue::Text(envelope.message.clone()),
                    SqlValue::Real(next_try),
                ],
            )?;
            Ok(id)
        })
    }

    fn outbox_list(&mut self, due_at: Option<f64>) -> Result<Vec<OutboxEntry>> {
        if !self.table_exists("__outbox")? {
            return Ok(Vec::new());
        }
        let cols = "select id, queued, sender, recipients, message, attempts, next_try, last_error from __outbox";
        let rows = match due_at {
            Some(t) => self.rows(
                &format!("{cols} where next_try <= ?1 order by id"),
                &[SqlValue::Real(t)],
            )?,
            None => self.rows(&format!("{cols} order by id"), &[])?,
        };
        rows.into_iter().map(outbox_entry).collect()
    }

    fn outbox_claim(&mut self, id: i64, next_try: f64, until: f64) -> Result<bool> {
        let n = self.write(|s| {
            s.exec(
                "update __outbox set next_try=?1 where id=?2 and next_try=?3",
                &[
                    SqlValue::Real(until),
                    SqlValue::Int(id),
                    SqlValue::Real(next_try),
                ],
            )
        })?;
        self.commit()?;
        Ok(n == 1)
    }

    fn outbox_remove(&mut self, id: i64) -> Result<()> {
        self.write(|s| s.exec("delete from __outbox where id=?1", &[SqlValue::Int(id)]))?;
        self.commit()
    }

    fn outbox_remove_many(&mut self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(|s| {
            for id in ids {
                s.exec("delete from __outbox where id=?1", &[SqlValue::Int(*id)])?;
            }
            Ok(())
        })?;
        self.commit()
    }

    fn outbox_failed(&mut self, id: i64, error: &str, next_try: f64) -> Result<()> {
        self.write(|s| {
            s.exec(
                "update __outbox set attempts=attempts+1, next_try=?1, last_error=?2 where id=?3",
                &[
                    SqlValue::Real(next_try),
                    SqlValue::Text(error.to_string()),
                    SqlValue::Int(id),
                ],
            )
        })?;
        self.commit()
    }
}

/// The outbox of mail waiting to be sent (see `roundup_core::mail`). Not
/// a Roundup table: Roundup 2.6 opening the database ignores it.
const OUTBOX_TABLE: &str = "create table if not exists __outbox (id integer primary key, \
     queued real, sender varchar(255), recipients text, message text, \
     attempts integer, next_try real, last_error text)";

fn outbox_entry(row: Vec<SqlValue>) -> Result<OutboxEntry> {
    let bad = || Error::storage("__outbox: a row of unexpected shape");
    let [id, queued, sender, recipients, message, attempts, next_try, last_error] =
        <[SqlValue; 8]>::try_from(row).map_err(|_| bad())?;
    let int = |v: SqlValue| match v {
        SqlValue::Int(n) => Ok(n),
        SqlValue::Real(r) => Ok(r as i64),
        _ => Err(bad()),
    };
    let real = |v: SqlValue| match v {
        SqlValue::Real(r) => Ok(r),
        SqlValue::Int(n) => Ok(n as f64),
        _ => Err(bad()),
    };
    let text = |v: SqlValue| match v {
        SqlValue::Text(t) => Ok(Some(t)),
        SqlValue::Null => Ok(None),
        _ => Err(bad()),
    };
    Ok(OutboxEntry {
        id: int(id)?,
        queued: real(queued)?,
        envelope: Envelope {
            sender: text(sender)?.unwrap_or_default(),
            recipients: text(recipients)?
                .unwrap_or_default()
                .split('\n')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            message: text(message)?.unwrap_or_default(),
        },
        attempts: int(attempts)?,
        next_try: real(next_try)?,
        last_error: text(last_error)?,
    })
}

impl<C: Connection> Drop for RdbmsStorage<C> {
    /// A connection closed inside a transaction rolls it back as
    /// [`Storage::rollback`] does (so the ids it took stay used) and lets
    /// the connection release what the transaction held; the connection
    /// itself undoes bulk-load tuning when it is dropped.
    fn drop(&mut self) {
        if self.in_tx {
            if self.conn.in_transaction() {
                let _ = self.conn.rollback();
            }
            self.end_tx();
        }
        let _ = self.restore_allocated_ids();
    }
}

/// How many values a whole item holds: its properties and the four
/// automatic ones (a decoded row's map is sized for them at once).
fn whole_item_size(class: &ClassDef) -> usize {
    class.props.len() + 4
}

/// Turn one `_<class>` row (the columns `cols`, all of
/// `layout::class_columns` or some of them, then `__retired__`) into node
/// values, in a map sized for `capacity`, and the retired flag.
fn decode_node_row(
    d: &dyn Dialect,
    class: &ClassDef,
    cols: &[layout::Column],
    row: Vec<SqlValue>,
    id: &str,
    capacity: usize,
) -> Result<(NodeValues, bool)> {
    let mut values = NodeValues::with_capacity_and_hasher(capacity, Default::default());
    let mut row = row.into_iter();
    for col in cols {
        let v = row.next().unwrap_or(SqlValue::Null);
        let what = || format!("{}{id}.{}", class.name, &col.name[1..]);
        match &col.kind {
            ColumnKind::Automatic(a) => {
                values.insert(
                    a.to_string(),
                    layout::value_from_sql(d, auto_type(a), v, &what)?,
                );
            }
            ColumnKind::Prop(name, _) if class.is_file_content(name) => {}
            ColumnKind::Prop(name, pt) => {
                values.insert(name.clone(), layout::value_from_sql(d, *pt, v, &what)?);
            }
            ColumnKind::IntervalSeconds(_) => {}
        }
    }
    let retired = match row.next() {
        None | Some(SqlValue::Null) | Some(SqlValue::Int(0)) => false,
        Some(SqlValue::Real(f)) => f != 0.0,
        Some(SqlValue::Text(t)) => !matches!(t.trim(), "" | "0"),
        Some(SqlValue::Int(_)) => true,
    };
    Ok((values, retired))
}

/// The sort indexes of a class's item table as (key columns, name): one
/// per property an index page can sort or group by with a plain column
/// (String, Date, Number, Integer, Boolean, Interval, and `creation`;
/// `activity` has its own, see `ensure_lookup_indexes`). A Link's index
/// holds the active rows of each linked value in id order: one group of a
/// Link sort (`RdbmsStorage::filter_by_link_groups`).
/// The key repeats the sort expression of [`crate::filter_sql`] (strings
/// lower-cased, intervals by length) so the engine can match the two.
pub fn sort_index_keys(class: &ClassDef) -> Vec<(String, String)> {
    use roundup_core::schema::PropType;
    let mut out = vec![(
        "__retired__, _creation".to_string(),
        format!("rr_{}_creation_sort_idx", class.name),
    )];
    for (pname, p) in &class.props {
        if p.is_computed() {
            continue;
        }
        let expr = match p.ptype {
            PropType::String => format!("lower(_{pname})"),
            PropType::Interval => format!("__{pname}_int__"),
            PropType::Date
            | PropType::Number
            | PropType::Integer
            | PropType::Boolean
            | PropType::Link => format!("_{pname}"),
            _ => continue,
        };
        out.push((
            format!("__retired__, {expr}"),
            format!("rr_{}_{pname}_sort_idx", class.name),
        ));
    }
    out
}
