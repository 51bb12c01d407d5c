//! The tracker's full-text index as an inverted index (tantivy: posting
//! lists bit-packed in blocks, a finite-state term dictionary), kept in
//! `<db>/text-index/` beside Roundup's own `__words`/`__textids` tables.
//!
//! [`TextIndexedStorage`] wraps any backend's [`Storage`]: every call goes
//! to the backend unchanged (so Roundup's word tables stay correct and
//! Roundup 2.6 can still search the database), and in addition the words of
//! every indexed text are buffered for the open transaction and written to
//! the inverted index after the backend's commit. Searches are answered
//! from the inverted index: one document per indexed text (class, item,
//! property), its words exactly those Roundup's splitting keeps
//! (`roundup_rdbms::layout::index_words`: upper-cased, length limits,
//! stopwords), all query words required.
//!
//! Crash safety: the SQL commit comes first. When writing the inverted
//! index fails afterwards (or the process dies in between), the index is
//! marked stale (a `STALE` file) and searches fall back to the backend's
//! word tables, which are always correct, until `roundup-admin reindex`
//! rebuilds it ([`TextEngine::rebuild_started`] / [`TextEngine::rebuild_done`]).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roundup_core::backend::Backend;
use roundup_core::date::Date;
use roundup_core::error::{Error, Result};
use roundup_core::filter::Query;
use roundup_core::mail::{Envelope, OutboxEntry};
use roundup_core::schema::{ClassDef, Schema};
use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::storage::{
    JournalEntry, MultilinkChange, NodeValues, Storage, StoredNode, TextHit,
};
use std::collections::HashMap;
use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query as TQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TextFieldIndexing, TextOptions, FAST, STRING};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Name of the word tokenizer: the text given to the index is already the
/// words Roundup's splitting keeps, separated by spaces.
const WORDS_TOKENIZER: &str = "rr_words";
/// The file whose presence says the index may miss changes.
const STALE_MARKER: &str = "STALE";
/// How long a commit waits for another process's index writer.
const WRITER_WAIT: Duration = Duration::from_secs(30);
/// Memory of the one indexing thread (tantivy's minimum is 15 MB).
const WRITER_MEMORY: usize = 15_000_000;
/// How long an unused writer is kept.
const WRITER_IDLE: Duration = Duration::from_millis(500);
/// Buffered texts after which a bulk load (import, reindex) hands them to
/// the index writer before its commit.
const BULK_FLUSH: usize = 5_000;

struct HeldWriter {
    writer: IndexWriter,
    last_used: Instant,
}

#[derive(Clone, Copy)]
struct Fields {
    /// `class/id/prop`: one document per indexed text (replace by key).
    key: Field,
    /// `class/id`: every text of one item (removal of the item).
    item: Field,
    /// The hit's parts, read from columns (fast fields) for each match.
    class: Field,
    id: Field,
    prop: Field,
    words: Field,
}

/// One tracker's inverted index, shared by the connections of a process.
pub struct TextEngine {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// The process's writer between commits (tantivy's lock file keeps
    /// other processes out): opening one per commit cost more than the
    /// commit. It is let go after `WRITER_IDLE` without use, so another
    /// process (roundup-admin, the mail gateway) gets its turn.
    writing: Mutex<Option<HeldWriter>>,
    stopwords: HashSet<String>,
}

impl std::fmt::Debug for TextEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEngine")
            .field("dir", &self.dir)
            .finish()
    }
}

fn index_error(dir: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::storage(format!("full-text index {}: {what}: {e}", dir.display()))
}

impl TextEngine {
    /// Open (or create) the index in `dir`. A new index for a database
    /// that already holds data (`fresh` false) starts marked stale:
    /// searches use the backend's word tables until `reindex` fills it.
    /// `extra_stopwords` are `[main] indexer_stopwords`.
    pub fn open(dir: &Path, fresh: bool, extra_stopwords: &[String]) -> Result<Arc<TextEngine>> {
        let engine = Arc::new(TextEngine::open_unshared(dir, fresh, extra_stopwords)?);
        // Lets the writer go once idle; ends with the engine.
        let weak = Arc::downgrade(&engine);
        let spawned = std::thread::Builder::new()
            .name("text-index-writer".into())
            .spawn(move || loop {
                std::thread::sleep(WRITER_IDLE / 2);
                let Some(engine) = weak.upgrade() else {
                    return;
                };
                engine.release_idle_writer();
            });
        if let Err(e) = spawned {
            return Err(Error::io("starting the full-text index's writer thread", e));
        }
        Ok(engine)
    }

    fn open_unshared(dir: &Path, fresh: bool, extra_stopwords: &[String]) -> Result<TextEngine> {
        let mut sb = tantivy::schema::Schema::builder();
        let key = sb.add_text_field("key", STRING);
        let item = sb.add_text_field("item", STRING);
        let class = sb.add_text_field("class", STRING | FAST);
        let id = sb.add_u64_field("id", FAST);
        let prop = sb.add_text_field("prop", STRING | FAST);
        let words = sb.add_text_field(
            "words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(WORDS_TOKENIZER)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
        let schema = sb.build();
        let existed = dir.join("meta.json").is_file();
        let index = if existed {
            Index::open_in_dir(dir).map_err(|e| index_error(dir, "opening", e))?
        } else {
            fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            if !fresh {
                mark_stale(dir)?;
            }
            Index::create_in_dir(dir, schema.clone())
                .map_err(|e| index_error(dir, "creating", e))?
        };
        if index.schema() != schema {
            return Err(index_error(
                dir,
                "opening",
                "it was made with other fields; remove the directory and run `roundup-admin reindex`",
            ));
        }
        index.tokenizers().register(
            WORDS_TOKENIZER,
            TextAnalyzer::from(WhitespaceTokenizer::default()),
        );
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| index_error(dir, "reading", e))?;
        let mut stopwords = roundup_rdbms::layout::default_stopwords();
        stopwords.extend(extra_stopwords.iter().map(|w| w.to_uppercase()));
        Ok(TextEngine {
            dir: dir.to_path_buf(),
            index,
            reader,
            fields: Fields {
                key,
                item,
                class,
                id,
                prop,
                words,
            },
            writing: Mutex::new(None),
            stopwords,
        })
    }

    /// Where the index lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the index may miss changes (then searches use the backend).
    pub fn is_stale(&self) -> bool {
        self.dir.join(STALE_MARKER).exists()
    }

    /// A full rebuild begins: the index is emptied and marked stale until
    /// [`TextEngine::rebuild_done`].
    pub fn rebuild_started(&self) -> Result<()> {
        mark_stale(&self.dir)?;
        self.with_writer(|w| {
            w.delete_all_documents()?;
            Ok(())
        })
    }

    /// The rebuild's texts are committed: searches use the index again.
    pub fn rebuild_done(&self) -> Result<()> {
        match fs::remove_file(self.dir.join(STALE_MARKER)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(
                format!("removing {}", self.dir.join(STALE_MARKER).display()),
                e,
            )),
        }
    }

    /// Let the writer go when it has not been used for a while (after
    /// the merges it started).
    fn release_idle_writer(&self) {
        let idle = {
            let mut slot = self.writing.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(h) if h.last_used.elapsed() >= WRITER_IDLE => slot.take(),
                _ => None,
            }
        };
        if let Some(h) = idle {
            if let Err(e) = h.writer.wait_merging_threads() {
                roundup_core::errln!("{}", index_error(&self.dir, "merging", e));
            }
        }
    }

    /// The process's writer, for this caller alone until [`Self::put_back`].
    fn take_writer(&self) -> Result<IndexWriter> {
        let held = self
            .writing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match held {
            Some(h) => Ok(h.writer),
            None => self.writer(),
        }
    }

    fn put_back(&self, writer: IndexWriter) {
        let mut slot = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(HeldWriter {
            writer,
            last_used: Instant::now(),
        });
    }

    /// Run `f` on the writer, commit, and show the result to searches.
    /// A writer that failed is dropped (its uncommitted changes with it).
    fn with_writer(&self, f: impl FnOnce(&mut IndexWriter) -> tantivy::Result<()>) -> Result<()> {
        let mut writer = self.take_writer()?;
        f(&mut writer).map_err(|e| index_error(&self.dir, "writing", e))?;
        self.commit_writer(writer)
    }

    fn commit_writer(&self, mut writer: IndexWriter) -> Result<()> {
        writer
            .commit()
            .map_err(|e| index_error(&self.dir, "committing", e))?;
        self.put_back(writer);
        self.reader
            .reload()
            .map_err(|e| index_error(&self.dir, "reloading", e))
    }

    /// A writer, waiting for one held by another process.
    fn writer(&self) -> Result<IndexWriter> {
        let start = Instant::now();
        loop {
            match self
                .index
                .writer_with_num_threads::<TantivyDocument>(1, WRITER_MEMORY)
            {
                Ok(w) => return Ok(w),
                Err(tantivy::TantivyError::LockFailure(..)) if start.elapsed() < WRITER_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(index_error(&self.dir, "opening a writer", e)),
            }
        }
    }

    fn apply(&self, w: &mut IndexWriter, ops: &[Op]) -> tantivy::Result<()> {
        let f = self.fields;
        for op in ops {
            match op {
                Op::Text {
                    key,
                    item,
                    class,
                    id,
                    prop,
                    words,
                } => {
                    w.delete_term(Term::from_field_text(f.key, key));
                    if !words.is_empty() {
                        w.add_document(doc!(
                            f.key => key.as_str(),
                            f.item => item.as_str(),
                            f.class => class.as_str(),
                            f.id => *id,
                            f.prop => prop.as_str(),
                            f.words => words.as_str(),
                        ))?;
                    }
                }
                Op::Destroy { item } => {
                    w.delete_term(Term::from_field_text(f.item, item));
                }
            }
        }
        Ok(())
    }

    fn text_op(&self, class: &str, id: &str, prop: &str, text: &str) -> Result<Op> {
        let num = id.parse::<u64>().map_err(|_| {
            Error::value(format!(
                "indexing {class}{id}.{prop}: \"{id}\" is not an item id"
            ))
        })?;
        Ok(Op::Text {
            key: format!("{class}/{id}/{prop}"),
            item: format!("{class}/{id}"),
            class: class.to_string(),
            id: num,
            prop: prop.to_string(),
            words: roundup_rdbms::layout::index_words(text, &self.stopwords).join(" "),
        })
    }

    /// Texts holding all `words` (Roundup's query word rules), limited to
    /// `classes` when given.
    pub fn search(&self, words: &[String], classes: Option<&[String]>) -> Result<Vec<TextHit>> {
        let words = roundup_rdbms::layout::query_words(words, &self.stopwords);
        if words.is_empty() || classes.is_some_and(|c| c.is_empty()) {
            return Ok(Vec::new());
        }
        self.reader
            .reload()
            .map_err(|e| index_error(&self.dir, "reloading", e))?;
        let f = self.fields;
        // one term query per value, each with the given occurrence
        let terms = |field, values: &mut dyn Iterator<Item = &str>, occur: Occur| {
            values
                .map(|v| {
                    let q: Box<dyn TQuery> = Box::new(TermQuery::new(
                        Term::from_field_text(field, v),
                        IndexRecordOption::Basic,
                    ));
                    (occur, q)
                })
                .collect::<Vec<(Occur, Box<dyn TQuery>)>>()
        };
        let mut parts = terms(f.words, &mut words.iter().map(|w| w.as_ref()), Occur::Must);
        if let Some(classes) = classes {
            let any = terms(
                f.class,
                &mut classes.iter().map(|c| c.as_ref()),
                Occur::Should,
            );
            parts.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        let query = BooleanQuery::new(parts);
        let searcher = self.reader.searcher();
        let docs = searcher
            .search(&query, &DocSetCollector)
            .map_err(|e| index_error(&self.dir, "searching", e))?;
        let mut by_segment: HashMap<u32, Vec<u32>> = HashMap::new();
        for d in docs {
            by_segment.entry(d.segment_ord).or_default().push(d.doc_id);
        }
        let mut hits: Vec<(String, u64, String)> = Vec::new();
        let err = |e: &dyn std::fmt::Display| index_error(&self.dir, "reading hits", e);
        for (seg, docs) in by_segment {
            let ff = searcher.segment_reader(seg).fast_fields();
            let classes = StrColumnNames::new(ff.str("class").map_err(|e| err(&e))?);
            let props = StrColumnNames::new(ff.str("prop").map_err(|e| err(&e))?);
            let ids = ff.u64("id").map_err(|e| err(&e))?;
            for d in docs {
                let (Some(class), Some(id), Some(prop)) =
                    (classes.get(d)?, ids.first(d), props.get(d)?)
                else {
                    continue;
                };
                hits.push((class, id, prop));
            }
        }
        hits.sort();
        Ok(hits
            .into_iter()
            .map(|(class, id, prop)| TextHit {
                class,
                id: id.to_string(),
                prop,
            })
            .collect())
    }
}

/// The values of a string column of one segment, each distinct one
/// turned into text once (a segment holds few classes and properties).
struct StrColumnNames {
    column: Option<tantivy::columnar::StrColumn>,
    names: std::cell::RefCell<HashMap<u64, String>>,
}

impl StrColumnNames {
    fn new(column: Option<tantivy::columnar::StrColumn>) -> StrColumnNames {
        StrColumnNames {
            column,
            names: Default::default(),
        }
    }

    fn get(&self, doc: u32) -> Result<Option<String>> {
        let Some(col) = &self.column else {
            return Ok(None);
        };
        let Some(ord) = col.term_ords(doc).next() else {
            return Ok(None);
        };
        let mut names = self.names.borrow_mut();
        if let Some(n) = names.get(&ord) {
            return Ok(Some(n.clone()));
        }
        let mut s = String::new();
        col.ord_to_str(ord, &mut s)
            .map_err(|e| Error::storage(format!("full-text index: reading a hit: {e}")))?;
        names.insert(ord, s.clone());
        Ok(Some(s))
    }
}

fn mark_stale(dir: &Path) -> Result<()> {
    let path = dir.join(STALE_MARKER);
    fs::write(
        &path,
        "The full-text index may miss changes: run `roundup-admin reindex`.\n",
    )
    .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// One change to the index, waiting for the transaction's commit.
#[derive(Clone, Debug)]
enum Op {
    Text {
        key: String,
        item: String,
        class: String,
        id: u64,
        prop: String,
        words: String,
    },
    Destroy {
        item: String,
    },
}

/// A backend's [`Storage`] whose full-text search is answered by a
/// [`TextEngine`] (see the module documentation).
pub struct TextIndexedStorage {
    inner: Box<dyn Storage>,
    engine: std::sync::Arc<TextEngine>,
    /// Changes of the open transaction not yet handed to a writer.
    pending: Vec<Op>,
    /// Changes handed to `bulk_writer` (bulk loads), uncommitted.
    flushed: usize,
    bulk_writer: Option<IndexWriter>,
    bulk: bool,
    /// Open savepoints and the number of changes before each.
    savepoints: Vec<(String, usize)>,
    /// A rollback could not be applied to changes already handed to the
    /// writer: the index is marked stale at the end of the transaction.
    lost: bool,
}

impl TextIndexedStorage {
    pub fn new(inner: Box<dyn Storage>, engine: std::sync::Arc<TextEngine>) -> TextIndexedStorage {
        TextIndexedStorage {
            inner,
            engine,
            pending: Vec::new(),
            flushed: 0,
            bulk_writer: None,
            bulk: false,
            savepoints: Vec::new(),
            lost: false,
        }
    }

    fn push(&mut self, op: Op) -> Result<()> {
        self.pending.push(op);
        if self.bulk && self.pending.len() >= BULK_FLUSH {
            self.flush_bulk()?;
        }
        Ok(())
    }

    /// Hand buffered changes of a bulk load to a writer held until the
    /// transaction ends.
    fn flush_bulk(&mut self) -> Result<()> {
        if self.bulk_writer.is_none() {
            self.bulk_writer = Some(self.engine.take_writer()?);
        }
        let ops = std::mem::take(&mut self.pending);
        if let Some(w) = self.bulk_writer.as_mut() {
            self.engine
                .apply(w, &ops)
                .map_err(|e| index_error(&self.engine.dir, "writing", e))?;
        }
        self.flushed += ops.len();
        Ok(())
    }

    /// After the backend committed: write the transaction's changes.
    fn commit_index(&mut self) -> Result<()> {
        let ops = std::mem::take(&mut self.pending);
        let lost = std::mem::take(&mut self.lost);
        self.flushed = 0;
        self.savepoints.clear();
        if lost {
            mark_stale(&self.engine.dir)?;
        }
        if let Some(mut w) = self.bulk_writer.take() {
            self.engine
                .apply(&mut w, &ops)
                .map_err(|e| index_error(&self.engine.dir, "writing", e))?;
            return self.engine.commit_writer(w);
        }
        if ops.is_empty() {
            return Ok(());
        }
        let engine = self.engine.clone();
        engine.with_writer(|w| engine.apply(w, &ops))
    }

    fn discard(&mut self) {
        self.pending.clear();
        self.flushed = 0;
        self.savepoints.clear();
        self.lost = false;
        if let Some(mut w) = self.bulk_writer.take() {
            // Nothing of it was committed: undone, the writer serves again.
            if w.rollback().is_ok() {
                self.engine.put_back(w);
            }
        }
    }
}

impl Storage for TextIndexedStorage {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    fn sync_schema(&mut self, schema: &Schema) -> Result<bool> {
        self.inner.sync_schema(schema)
    }
    fn new_id(&mut self, class: &str) -> Result<u64> {
        self.inner.new_id(class)
    }
    fn set_last_id(&mut self, class: &str, last_used: u64) -> Result<()> {
        self.inner.set_last_id(class, last_used)
    }
    fn add_node(&mut self, class: &ClassDef, id: &str, values: &NodeValues) -> Result<()> {
        self.inner.add_node(class, id, values)
    }
    fn set_node(
        &mut self,
        class: &ClassDef,
        id: &str,
        values: &NodeValues,
        multilinks: &HashMap<String, MultilinkChange>,
    ) -> Result<()> {
        self.inner.set_node(class, id, values, multilinks)
    }
    fn get_node(&mut self, class: &ClassDef, id: &str) -> Result<Option<StoredNode>> {
        self.inner.get_node(class, id)
    }
    fn get_nodes(
        &mut self,
        class: &ClassDef,
        ids: &[String],
    ) -> Result<HashMap<String, StoredNode>> {
        self.inner.get_nodes(class, ids)
    }
    fn has_node(&mut self, class: &str, id: &str) -> Result<bool> {
        self.inner.has_node(class, id)
    }
    fn set_retired(&mut self, class: &ClassDef, id: &str, retired: bool) -> Result<()> {
        self.inner.set_retired(class, id, retired)
    }
    fn destroy_node(&mut self, class: &ClassDef, id: &str) -> Result<()> {
        self.inner.destroy_node(class, id)?;
        self.push(Op::Destroy {
            item: format!("{}/{id}", class.name),
        })
    }
    fn node_ids(&mut self, class: &str, retired: Option<bool>) -> Result<Vec<String>> {
        self.inner.node_ids(class, retired)
    }
    fn count(&mut self, class: &str) -> Result<u64> {
        self.inner.count(class)
    }
    fn lookup_key(&mut self, class: &ClassDef, key: &str) -> Result<Option<String>> {
        self.inner.lookup_key(class, key)
    }
    fn find_linking(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[String],
    ) -> Result<Vec<String>> {
        self.inner.find_linking(class, prop, ids)
    }
    fn filter(&mut self, schema: &Schema, query: &Query) -> Result<Vec<String>> {
        self.inner.filter(schema, query)
    }
    fn filter_count(&mut self, schema: &Schema, query: &Query) -> Result<u64> {
        self.inner.filter_count(schema, query)
    }
    fn add_journal(&mut self, class: &str, entry: &JournalEntry) -> Result<()> {
        self.inner.add_journal(class, entry)
    }
    fn get_journal(&mut self, class: &str, id: &str) -> Result<Vec<JournalEntry>> {
        self.inner.get_journal(class, id)
    }
    fn set_journal(&mut self, class: &str, id: &str, entries: &[JournalEntry]) -> Result<()> {
        self.inner.set_journal(class, id, entries)
    }
    fn pack(&mut self, schema: &Schema, before: &Date) -> Result<()> {
        self.inner.pack(schema, before)
    }
    fn index_text(&mut self, class: &str, id: &str, prop: &str, text: &str) -> Result<()> {
        self.inner.index_text(class, id, prop, text)?;
        let op = self.engine.text_op(class, id, prop, text)?;
        self.push(op)
    }
    fn search_text(
        &mut self,
        words: &[String],
        classes: Option<&[String]>,
    ) -> Result<Vec<TextHit>> {
        // Uncommitted texts of this transaction are only in the backend's
        // tables, as are changes a stale index may miss.
        if !self.pending.is_empty() || self.flushed > 0 || self.engine.is_stale() {
            return self.inner.search_text(words, classes);
        }
        self.engine.search(words, classes)
    }
    fn set_bulk(&mut self, on: bool) -> Result<()> {
        self.bulk = on;
        self.inner.set_bulk(on)
    }
    fn savepoint(&mut self, name: &str) -> Result<()> {
        self.inner.savepoint(name)?;
        self.savepoints
            .push((name.to_string(), self.flushed + self.pending.len()));
        Ok(())
    }
    fn release_savepoint(&mut self, name: &str) -> Result<()> {
        self.inner.release_savepoint(name)?;
        if let Some(at) = self.savepoints.iter().rposition(|(n, _)| n == name) {
            self.savepoints.truncate(at);
        }
        Ok(())
    }
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        self.inner.rollback_to_savepoint(name)?;
        if let Some(at) = self.savepoints.iter().rposition(|(n, _)| n == name) {
            let mark = self.savepoints[at].1;
            self.savepoints.truncate(at);
            if mark >= self.flushed {
                self.pending.truncate(mark - self.flushed);
            } else {
                // Already in the bulk writer: cannot be taken back alone.
                self.lost = true;
                self.pending.clear();
            }
        }
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        if let Err(e) = self.inner.commit() {
            self.discard();
            return Err(e);
        }
        if let Err(e) = self.commit_index() {
            // The change itself is committed; the index is behind it.
            self.discard();
            let _ = mark_stale(&self.engine.dir);
            roundup_core::errln!(
                "{e}; searches use the database's word tables until `roundup-admin reindex`"
            );
        }
        Ok(())
    }
    fn rollback(&mut self) -> Result<()> {
        self.discard();
        self.inner.rollback()
    }
    fn data_version(&mut self) -> Result<Option<i64>> {
        self.inner.data_version()
    }
    fn outbox_add(&mut self, envelope: &Envelope, queued: f64, next_try: f64) -> Result<i64> {
        self.inner.outbox_add(envelope, queued, next_try)
    }
    fn outbox_list(&mut self, due_at: Option<f64>) -> Result<Vec<OutboxEntry>> {
        self.inner.outbox_list(due_at)
    }
    fn outbox_claim(&mut self, id: i64, next_try: f64, until: f64) -> Result<bool> {
        self.inner.outbox_claim(id, next_try, until)
    }
    fn outbox_remove(&mut self, id: i64) -> Result<()> {
        self.inner.outbox_remove(id)
    }
    fn outbox_remove_many(&mut self, ids: &[i64]) -> Result<()> {
        self.inner.outbox_remove_many(ids)
    }
    fn outbox_failed(&mut self, id: i64, error: &str, next_try: f64) -> Result<()> {
        self.inner.outbox_failed(id, error, next_try)
    }
}

/// A database [`Backend`] whose connections keep and search the inverted
/// index in `dir` (see [`TextIndexedStorage`]). The index opens with the
/// first connection; when it cannot, the reason is logged once and the
/// connections search the database's word tables instead.
pub struct TextIndexedBackend {
    inner: std::sync::Arc<dyn Backend>,
    dir: PathBuf,
    stopwords: Vec<String>,
    engine: Mutex<Option<std::sync::Arc<TextEngine>>>,
    failed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for TextIndexedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndexedBackend")
            .field("inner", &self.inner)
            .field("dir", &self.dir)
            .finish()
    }
}

impl TextIndexedBackend {
    /// `inner` with its full-text index in `dir` (usually
    /// `<db>/text-index`), ignoring `stopwords` besides Roundup's list.
    pub fn new(
        inner: std::sync::Arc<dyn Backend>,
        dir: PathBuf,
        stopwords: Vec<String>,
    ) -> TextIndexedBackend {
        TextIndexedBackend {
            inner,
            dir,
            stopwords,
            engine: Mutex::new(None),
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The index, opened (or created) now if it is not yet.
    pub fn engine(&self) -> Result<std::sync::Arc<TextEngine>> {
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        // An index made with the database is complete; one added to a
        // database that holds data already waits for `reindex`.
        let fresh = !self.dir.exists() && !self.inner.exists()?;
        let e = TextEngine::open(&self.dir, fresh, &self.stopwords)?;
        *slot = Some(e.clone());
        Ok(e)
    }
}

impl Backend for TextIndexedBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn exists(&self) -> Result<bool> {
        self.inner.exists()
    }
    fn create(&self) -> Result<()> {
        self.inner.create()
    }
    fn nuke(&self) -> Result<()> {
        self.inner.nuke()?;
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", self.dir.display()), e)),
        }
    }
    fn open(&self) -> Result<Box<dyn Storage>> {
        let engine = match self.engine() {
            Ok(e) => Some(e),
            Err(e) => {
                if !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    roundup_core::errln!("{e}; full-text searches use the database's word tables");
                }
                None
            }
        };
        let store = self.inner.open()?;
        Ok(match engine {
            Some(e) => Box::new(TextIndexedStorage::new(store, e)),
            None => store,
        })
    }
    fn stored_layout_version(&self) -> Result<Option<i64>> {
        self.inner.stored_layout_version()
    }
    fn current_layout_version(&self) -> i64 {
        self.inner.current_layout_version()
    }
    fn open_key_store(&self, kind: StoreKind) -> Result<Box<dyn KeyStore>> {
        self.inner.open_key_store(kind)
    }
    fn limit_process_memory(&self, bytes: i64) -> Result<()> {
        self.inner.limit_process_memory(bytes)
    }
}
