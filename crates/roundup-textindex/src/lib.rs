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

mod directory;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use directory::IndexDirectory;
use roundup_core::backend::Backend;
use roundup_core::date::Date;
use roundup_core::error::{Error, Result};
use roundup_core::filter::{IdSet, Query};
use roundup_core::mail::{Envelope, OutboxEntry};
use roundup_core::schema::{ClassDef, PropType, Schema};
use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::storage::{
    JournalEntry, MultilinkChange, NodeValues, Storage, StoredNode, TextHit,
};
use roundup_core::value::Value;
use std::collections::HashMap;
use tantivy::collector::{Collector, DocSetCollector};
use tantivy::query::{BooleanQuery, Occur, Query as TQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
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
/// Segments of fewer texts than this are small: see
/// [`TextEngine::merge_small_segments`].
const SMALL_SEGMENT_DOCS: u32 = 1_000;
/// How many small segments a commit leaves before it merges them.
const SMALL_SEGMENTS: usize = 8;
/// Segments of more texts than this are not merged again: a merge maps
/// the files of every segment it takes in until it ends, so this bounds
/// the memory of the largest merge (see [`directory`] for the stores).
const MAX_MERGE_INPUT_DOCS: usize = 200_000;
/// Buffered texts after which a bulk load (import, reindex) hands them to
/// the index writer before its commit.
const BULK_FLUSH: usize = 5_000;

/// A new, empty index in `dir`.
fn create_index(dir: &Path, schema: &tantivy::schema::Schema) -> Result<Index> {
    let d = IndexDirectory::open(dir).map_err(|e| index_error(dir, "creating", e))?;
    Index::create(d, schema.clone(), tantivy::IndexSettings::default())
        .map_err(|e| index_error(dir, "creating", e))
}

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
    /// [`owner_key`]s of the item itself and of every item of another
    /// class pointing to it by a stored Link or Multilink.
    owner: Field,
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
    /// Between `rebuild_started` and `rebuild_done`: the index was emptied,
    /// so no text written meanwhile replaces one from before.
    rebuilding: std::sync::atomic::AtomicBool,
    /// The `meta.json` the reader last loaded (see [`TextEngine::refresh`]).
    loaded: Mutex<Option<MetaStamp>>,
    /// Bitmaps of earlier searches, for the next (see [`Scratch`]).
    scratch: Scratch,
    /// Parts of segments decoded for searches, kept (see [`Decoded`]).
    decoded: Mutex<Decoded>,
}

/// What searches of common words decode from a segment, kept within a
/// byte budget (`[main] text_cache_size`) while the segment lives (tantivy
/// segments never change; deletes are applied at each search from the
/// segment's alive bitmap): the bitmap of a word found in many of its
/// texts, and the owners of one class of every text (a flat array, read
/// once per text instead of three column look-ups). Owners are decoded
/// the second time a class is searched in a segment, so a process that
/// searches once (an admin command, the mail gateway) does not pay for it.
struct Decoded {
    parts: roundup_core::clock_cache::ClockCache<DecodedKey, DecodedPart>,
    /// Segments and classes searched once since their owners were last
    /// decoded or dropped.
    asked: HashSet<(tantivy::SegmentId, u64)>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum DecodedKey {
    Word(tantivy::SegmentId, String),
    Owners(tantivy::SegmentId, u64),
}

#[derive(Clone)]
enum DecodedPart {
    Word(Arc<Vec<u64>>),
    Owners(Arc<SegmentClassOwners>),
}

/// The owners of one class of every text of a segment: `first[doc]` is
/// the owner's id (0: none), with [`MORE`](SegmentClassOwners::MORE) set
/// when the text has other owners of the class too, listed in `more`.
struct SegmentClassOwners {
    first: Vec<u32>,
    more: HashMap<u32, Vec<u32>>,
}

impl SegmentClassOwners {
    const MORE: u32 = 1 << 31;

    fn bytes(&self) -> usize {
        self.first.len() * 4 + self.more.values().map(|v| 48 + v.len() * 4).sum::<usize>()
    }

    /// Decodes the owners of class `code` from a segment's owner column,
    /// `None` when an id does not fit below [`Self::MORE`].
    fn decode(column: &tantivy::columnar::Column<u64>, max_doc: u32, code: u64) -> Option<Self> {
        let mut first = vec![0u32; max_doc as usize];
        let mut more: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut values = Vec::new();
        for doc in 0..max_doc {
            values.clear();
            values.extend(
                column
                    .values_for_doc(doc)
                    .filter(|o| o >> 32 == code)
                    .map(|o| o as u32),
            );
            let Some((&one, rest)) = values.split_first() else {
                continue;
            };
            if one >= Self::MORE || rest.iter().any(|&r| r >= Self::MORE) {
                return None;
            }
            if rest.is_empty() {
                first[doc as usize] = one;
            } else {
                first[doc as usize] = one | Self::MORE;
                more.insert(doc, rest.to_vec());
            }
        }
        Some(SegmentClassOwners { first, more })
    }
}

impl Decoded {
    fn new(budget: usize) -> Decoded {
        Decoded {
            parts: roundup_core::clock_cache::ClockCache::new(budget).with_max_entry(budget),
            asked: HashSet::new(),
        }
    }
}

/// Bitmaps a search of common words fills (a segment's texts, the class's
/// owners), kept for the next search: the server's allocator hands large
/// freed blocks back to the system at once, and taking them again cost a
/// page fault per 4 KB, a quarter of a search's time at a million issues.
/// At most [`Scratch::KEEP`] are kept, each as large as the largest
/// segment's or class's bitmap (an eighth of a byte per text or id).
#[derive(Default)]
struct Scratch(Mutex<Vec<Vec<u64>>>);

impl Scratch {
    const KEEP: usize = 4;

    /// A bitmap of `words` zeroed words.
    fn take(&self, words: usize) -> Vec<u64> {
        let mut v = self
            .0
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default();
        v.clear();
        v.resize(words, 0);
        v
    }

    fn give(&self, v: Vec<u64>) {
        if let Ok(mut pool) = self.0.lock() {
            if pool.len() < Self::KEEP {
                pool.push(v);
            }
        }
    }
}

/// The `meta.json` a reader loaded, as it was read: it lists every
/// segment with its deletes and the last commit's stamp, so the same
/// bytes mean the same index (reading them costs a few microseconds;
/// opening the segments again costs far more).
#[derive(Clone, PartialEq, Eq, Debug)]
struct MetaStamp(Vec<u8>);

impl MetaStamp {
    fn of(dir: &Path) -> Option<MetaStamp> {
        fs::read(dir.join("meta.json")).ok().map(MetaStamp)
    }
}

/// Collects the owners of class `code` of every matching text, segment by
/// segment, straight from the `owner` column (no document addresses
/// gathered first).
struct OwnerCollector {
    code: u64,
}

struct SegmentOwners {
    code: u64,
    column: Option<tantivy::columnar::Column<u64>>,
    found: Owners,
}

/// Owner ids found by a search. A common word matches most texts and
/// they name each owner many times over, so ids below [`BITMAP_IDS`] are
/// marked in a bitmap (no sorting, no duplicates, an eighth of a byte per
/// possible id); larger ones, which a tracker rarely has, are listed.
#[derive(Default)]
struct Owners {
    bits: Vec<u64>,
    others: Vec<u32>,
}

/// Ids below this go into the bitmap (at most 8 MB of it).
const BITMAP_IDS: u32 = 1 << 26;

impl Owners {
    fn add(&mut self, id: u32) {
        if id < BITMAP_IDS {
            let word = (id / 64) as usize;
            if word >= self.bits.len() {
                self.bits.resize(word + 1, 0);
            }
            self.bits[word] |= 1 << (id % 64);
        } else {
            self.others.push(id);
        }
    }

    fn merge(&mut self, other: Owners) {
        if other.bits.len() > self.bits.len() {
            self.bits.resize(other.bits.len(), 0);
        }
        for (mine, theirs) in self.bits.iter_mut().zip(other.bits) {
            *mine |= theirs;
        }
        self.others.extend(other.others);
    }

    /// The ids found, and the bitmap's storage for reuse.
    fn into_set(self) -> (IdSet, Vec<u64>) {
        let mut ids: Vec<u32> = Vec::new();
        for_each_bit(&self.bits, |id| ids.push(id));
        // The bitmap's ids come out ascending and distinct; IdSet::new
        // sorts only when listed ones are added.
        let set = if self.others.is_empty() {
            IdSet::from_sorted(ids)
        } else {
            ids.extend(self.others);
            IdSet::new(ids)
        };
        (set, self.bits)
    }
}

impl tantivy::collector::Collector for OwnerCollector {
    type Fruit = Owners;
    type Child = SegmentOwners;

    fn for_segment(
        &self,
        _segment: tantivy::SegmentOrdinal,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<SegmentOwners> {
        Ok(SegmentOwners {
            code: self.code,
            column: owner_column(reader)?,
            found: Owners::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Owners>) -> tantivy::Result<Owners> {
        let mut all = Owners::default();
        fruits.into_iter().for_each(|f| all.merge(f));
        Ok(all)
    }
}

impl tantivy::collector::SegmentCollector for SegmentOwners {
    type Fruit = Owners;

    fn collect(&mut self, doc: tantivy::DocId, _score: tantivy::Score) {
        if let Some(column) = &self.column {
            let code = self.code;
            for o in column.values_for_doc(doc) {
                if o >> 32 == code {
                    self.found.add(o as u32);
                }
            }
        }
    }

    fn harvest(self) -> Owners {
        self.found
    }
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
        let prop = sb.add_text_field("prop", STRING | FAST | STORED);
        let words = sb.add_text_field(
            "words",
            TextOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(WORDS_TOKENIZER)
                        .set_index_option(IndexRecordOption::Basic),
                )
                // kept, so that a text whose owners change is put back as it was
                .set_stored(),
        );
        let owner = sb.add_u64_field("owner", FAST);
        let schema = sb.build();
        let existed = dir.join("meta.json").is_file();
        let index = if existed {
            let d = IndexDirectory::open(dir).map_err(|e| index_error(dir, "opening", e))?;
            Index::open(d).map_err(|e| index_error(dir, "opening", e))?
        } else {
            fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            if !fresh {
                mark_stale(dir)?;
            }
            create_index(dir, &schema)?
        };
        let index = if index.schema() == schema {
            index
        } else {
            // Made by an earlier version: started again, empty and stale
            // (searches use the word tables) until `reindex` fills it.
            drop(index);
            roundup_core::errln!(
                "full-text index {}: made by an earlier version with other fields; \
                 it is emptied, and searches use the database's word tables until \
                 `roundup-admin reindex`",
                dir.display()
            );
            fs::remove_dir_all(dir)
                .and_then(|()| fs::create_dir_all(dir))
                .map_err(|e| Error::io(format!("emptying {}", dir.display()), e))?;
            mark_stale(dir)?;
            create_index(dir, &schema)?
        };
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
            scratch: Scratch::default(),
            decoded: Mutex::new(Decoded::new(DEFAULT_TEXT_CACHE)),
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
                owner,
            },
            writing: Mutex::new(None),
            stopwords,
            rebuilding: std::sync::atomic::AtomicBool::new(false),
            loaded: Mutex::new(None),
        })
    }

    /// Show searches the index as last committed, by this process or
    /// another. Opening a searcher reads every segment's files, so it is
    /// done only when `meta.json` (which every commit of any process
    /// replaces) changed since the last time.
    fn refresh(&self) -> Result<()> {
        let now = MetaStamp::of(&self.dir);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if now.is_some() && *loaded == now {
            return Ok(());
        }
        // Read before the reload: a commit in between makes the next call
        // reload again, never skip one.
        self.reader
            .reload()
            .map_err(|e| index_error(&self.dir, "reloading", e))?;
        *loaded = now;
        // What was decoded from segments a merge replaced goes with them.
        let live: HashSet<tantivy::SegmentId> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        if let Ok(mut d) = self.decoded.lock() {
            d.parts.retain_mut(|k, _| match k {
                DecodedKey::Word(sid, _) | DecodedKey::Owners(sid, _) => live.contains(sid),
            });
            d.asked.retain(|(sid, _)| live.contains(sid));
        }
        Ok(())
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
        self.rebuilding
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.with_writer(|w| {
            w.delete_all_documents()?;
            Ok(())
        })
    }

    /// The rebuild's texts are committed: searches use the index again.
    pub fn rebuild_done(&self) -> Result<()> {
        self.rebuilding
            .store(false, std::sync::atomic::Ordering::Relaxed);
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
        self.merge_small_segments(&mut writer);
        self.put_back(writer);
        self.refresh()
    }

    /// Merge the small segments commits leave behind, once there are
    /// [`SMALL_SEGMENTS`] of them. Each commit of a few texts (a web edit,
    /// an admin command, a mail) makes a segment of its own; every search
    /// opens and walks every segment, and tantivy's background merges do
    /// not finish in the short-lived processes that make most of them.
    /// A merge that fails (another merge has one of the segments) leaves
    /// them as they were: nothing is lost, the next commit tries again.
    fn merge_small_segments(&self, writer: &mut IndexWriter) {
        let Ok(metas) = self.index.searchable_segment_metas() else {
            return;
        };
        let small: Vec<tantivy::SegmentId> = metas
            .iter()
            .filter(|m| m.max_doc() < SMALL_SEGMENT_DOCS)
            .map(|m| m.id())
            .collect();
        if small.len() >= SMALL_SEGMENTS {
            let _ = writer.merge(&small).wait();
        }
    }

    /// The segments searches read now, as (id, texts in it, deleted
    /// among them): for tests and statistics.
    pub fn segments(&self) -> Result<Vec<(String, u32, u32)>> {
        self.index
            .searchable_segment_metas()
            .map(|metas| {
                metas
                    .iter()
                    .map(|m| (m.id().uuid_string(), m.max_doc(), m.num_deleted_docs()))
                    .collect()
            })
            .map_err(|e| index_error(&self.dir, "reading segments", e))
    }

    /// A writer, waiting for one held by another process.
    fn writer(&self) -> Result<IndexWriter> {
        let start = Instant::now();
        loop {
            match self
                .index
                .writer_with_num_threads::<TantivyDocument>(1, WRITER_MEMORY)
            {
                Ok(w) => {
                    // tantivy's default counts every segment under 10,000
                    // texts as that big: in a tracker whose index has a
                    // few segments of ~15,000, each commit's small segment
                    // put them all in one merge that short-lived processes
                    // never finished, and the small segments piled up
                    // (121 after a minute of two edits a second). Small
                    // segments are merged among themselves instead
                    // ([`TextEngine::merge_small_segments`]).
                    let mut policy = tantivy::indexer::LogMergePolicy::default();
                    policy.set_min_layer_size(SMALL_SEGMENT_DOCS);
                    policy.set_max_docs_before_merge(MAX_MERGE_INPUT_DOCS);
                    w.set_merge_policy(Box::new(policy));
                    return Ok(w);
                }
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
                    owners,
                    replace,
                } => {
                    if *replace {
                        w.delete_term(Term::from_field_text(f.key, key));
                    }
                    if !words.is_empty() {
                        let mut d = doc!(
                            f.key => key.as_str(),
                            f.item => item.as_str(),
                            f.class => class.as_str(),
                            f.id => *id,
                            f.prop => prop.as_str(),
                            f.words => words.as_str(),
                        );
                        match owners {
                            Some(list) => list.iter().for_each(|o| d.add_u64(f.owner, *o)),
                            None => d.add_u64(f.owner, owner_key(class, *id)),
                        }
                        w.add_document(d)?;
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
            owners: None,
            replace: true,
        })
    }

    /// The indexed texts of `class`/`id` as they are in the index now
    /// (their owners to be worked out again).
    fn stored_texts(&self, class: &str, id: u64) -> Result<Vec<Op>> {
        use tantivy::schema::OwnedValue;
        let f = self.fields;
        let item = format!("{class}/{id}");
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(f.item, &item),
            IndexRecordOption::Basic,
        );
        let docs = searcher
            .search(&query, &DocSetCollector)
            .map_err(|e| index_error(&self.dir, "searching", e))?;
        let mut out = Vec::new();
        for addr in docs {
            let d: TantivyDocument = searcher
                .doc(addr)
                .map_err(|e| index_error(&self.dir, "reading a stored text", e))?;
            let text = |field| match d.get_first(field) {
                Some(OwnedValue::Str(s)) => s.clone(),
                _ => String::new(),
            };
            let prop = text(f.prop);
            out.push(Op::Text {
                key: format!("{item}/{prop}"),
                item: item.clone(),
                class: class.to_string(),
                id,
                prop,
                words: text(f.words),
                owners: None,
                replace: true,
            });
        }
        Ok(out)
    }

    /// The items of `class` that own a text holding all `words` (see
    /// [`Storage::search_text_owners`]).
    pub fn search_owners(&self, words: &[String], class: &str) -> Result<IdSet> {
        let words = roundup_rdbms::layout::query_words(words, &self.stopwords);
        if words.is_empty() {
            return Ok(IdSet::default());
        }
        self.refresh()?;
        let err = |e: &dyn std::fmt::Display| index_error(&self.dir, "searching", e);
        let field = self.fields.words;
        let terms: Vec<Term> = words
            .iter()
            .map(|w| Term::from_field_text(field, w.as_ref()))
            .collect();
        let searcher = self.reader.searcher();
        let collector = OwnerCollector {
            code: class_code(class),
        };
        // tantivy's own intersection, made for the first segment of rare words
        let mut weight = None;
        let mut found = Owners {
            bits: self.scratch.take(0),
            others: Vec::new(),
        };
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let index = segment.inverted_index(field).map_err(|e| err(&e))?;
            let mut found_terms = Vec::with_capacity(terms.len());
            for (t, w) in terms.iter().zip(words.iter()) {
                match index.get_term_info(t).map_err(|e| err(&e))? {
                    Some(info) => found_terms.push((info, w.as_str())),
                    None => break,
                }
            }
            if found_terms.len() < terms.len() {
                continue; // a word this segment lacks: no text in it has all
            }
            found_terms.sort_by_key(|(i, _)| i.doc_freq);
            let (infos, words_of): (Vec<_>, Vec<&str>) = found_terms.into_iter().unzip();
            if dense_postings(infos[0].doc_freq, segment.max_doc()) {
                let mut docs = self.scratch.take((segment.max_doc() as usize).div_ceil(64));
                let done = self
                    .intersect_segment(segment, &index, &infos, &words_of, &mut docs)
                    .map_err(|e| err(&e))
                    .and_then(|()| {
                        if let Some(owners) = self.class_owners(segment, collector.code) {
                            mark_owners(&owners, segment.alive_bitset(), &docs, &mut found);
                            return Ok(());
                        }
                        let column = owner_column(segment).map_err(|e| err(&e))?;
                        if let Some(column) = column {
                            collect_owners(
                                &column,
                                segment.alive_bitset(),
                                &docs,
                                collector.code,
                                &mut found,
                            );
                        }
                        Ok(())
                    });
                self.scratch.give(docs);
                done?;
            } else {
                if weight.is_none() {
                    let parts =
                        term_queries(field, &mut words.iter().map(|w| w.as_str()), Occur::Must);
                    let scoring = tantivy::query::EnableScoring::disabled_from_searcher(&searcher);
                    weight = Some(
                        BooleanQuery::new(parts)
                            .weight(scoring)
                            .map_err(|e| err(&e))?,
                    );
                }
                let w = weight.as_deref().expect("made just above");
                let fruit = collector
                    .collect_segment(w, ord as u32, segment)
                    .map_err(|e| err(&e))?;
                found.merge(fruit);
            }
        }
        let (set, bits) = found.into_set();
        self.scratch.give(bits);
        Ok(set)
    }

    /// Sets the bytes kept of decoded segments (`[main] text_cache_size`;
    /// 0: none), dropping what was kept.
    pub fn set_cache_budget(&self, bytes: usize) {
        if let Ok(mut d) = self.decoded.lock() {
            *d = Decoded::new(bytes);
        }
    }

    /// The decoded segments kept: bytes, budget, entries, hit rate.
    pub fn cache_stats(&self) -> roundup_core::clock_cache::CacheStats {
        self.decoded
            .lock()
            .map(|d| d.parts.stats())
            .unwrap_or_default()
    }

    /// [`intersect_dense`] with the bitmaps of words kept from earlier
    /// searches of the segment (a word's bitmap is copied or masked in;
    /// one not kept is decoded and kept).
    fn intersect_segment(
        &self,
        segment: &tantivy::SegmentReader,
        index: &tantivy::InvertedIndexReader,
        infos: &[tantivy::postings::TermInfo],
        words: &[&str],
        acc: &mut [u64],
    ) -> std::io::Result<()> {
        let budget = self.decoded.lock().map(|d| d.parts.budget()).unwrap_or(0);
        if budget == 0 {
            return intersect_dense(index, infos, acc);
        }
        let sid = segment.segment_id();
        for (n, (info, word)) in infos.iter().zip(words).enumerate() {
            let key = DecodedKey::Word(sid, (*word).to_string());
            let kept = self
                .decoded
                .lock()
                .ok()
                .and_then(|mut d| match d.parts.get(&key) {
                    Some(DecodedPart::Word(b)) => Some(b.clone()),
                    _ => {
                        d.parts.count_miss();
                        None
                    }
                });
            let bits = match kept {
                Some(b) => b,
                None => {
                    let mut b = vec![0u64; acc.len()];
                    intersect_dense(index, std::slice::from_ref(info), &mut b)?;
                    let b = Arc::new(b);
                    if let Ok(mut d) = self.decoded.lock() {
                        let size = b.len() * 8;
                        d.parts.insert(key, DecodedPart::Word(b.clone()), size);
                    }
                    b
                }
            };
            if n == 0 {
                acc.copy_from_slice(&bits[..acc.len()]);
            } else {
                for (a, b) in acc.iter_mut().zip(bits.iter()) {
                    *a &= *b;
                }
            }
        }
        Ok(())
    }

    /// The owners of class `code` of every text of `segment`, when kept,
    /// or decoded now because the class was searched in it before.
    fn class_owners(
        &self,
        segment: &tantivy::SegmentReader,
        code: u64,
    ) -> Option<Arc<SegmentClassOwners>> {
        let sid = segment.segment_id();
        let key = DecodedKey::Owners(sid, code);
        {
            let mut d = self.decoded.lock().ok()?;
            if d.parts.budget() == 0 {
                return None;
            }
            if let Some(DecodedPart::Owners(o)) = d.parts.get(&key) {
                return Some(o.clone());
            }
            d.parts.count_miss();
            if d.asked.insert((sid, code)) {
                // the first search of the class here reads the column
                if d.asked.len() > 4096 {
                    d.asked.clear();
                }
                return None;
            }
        }
        let column = owner_column(segment).ok()??;
        let owners = Arc::new(SegmentClassOwners::decode(
            &column,
            segment.max_doc(),
            code,
        )?);
        let mut d = self.decoded.lock().ok()?;
        d.asked.remove(&(sid, code));
        let size = owners.bytes();
        d.parts
            .insert(key, DecodedPart::Owners(owners.clone()), size);
        Some(owners)
    }

    /// Texts holding all `words` (Roundup's query word rules), limited to
    /// `classes` when given.
    pub fn search(&self, words: &[String], classes: Option<&[String]>) -> Result<Vec<TextHit>> {
        let words = roundup_rdbms::layout::query_words(words, &self.stopwords);
        if words.is_empty() || classes.is_some_and(|c| c.is_empty()) {
            return Ok(Vec::new());
        }
        self.refresh()?;
        let f = self.fields;
        let mut parts = term_queries(f.words, &mut words.iter().map(|w| w.as_ref()), Occur::Must);
        if let Some(classes) = classes {
            let any = term_queries(
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

/// One term query per value of `field`, each with the given occurrence.
fn term_queries(
    field: Field,
    values: &mut dyn Iterator<Item = &str>,
    occur: Occur,
) -> Vec<(Occur, Box<dyn TQuery>)> {
    values
        .map(|v| {
            let q: Box<dyn TQuery> = Box::new(TermQuery::new(
                Term::from_field_text(field, v),
                IndexRecordOption::Basic,
            ));
            (occur, q)
        })
        .collect()
}

/// Whether a word found in `doc_freq` of a segment's `max_doc` texts is
/// common enough that its whole posting list, decoded into a bitmap, costs
/// less than stepping through it beside the others: a word in more than
/// one text in 32 (a bitmap of a segment is `max_doc` bits; walking a
/// posting list costs a seek per text in it).
fn dense_postings(doc_freq: u32, max_doc: u32) -> bool {
    u64::from(doc_freq) * 32 >= u64::from(max_doc) && doc_freq >= 4096
}

/// The texts of one segment holding every term of `infos` (the rarest
/// first), marked in `acc` (zeroed, a bit per document): each posting
/// list is decoded a block of 128 at a time (SIMD bit-unpacking); the
/// first sets its bits, each later one keeps only the bits it has too,
/// word by word as its ascending ids pass. Deleted texts are not taken
/// out here.
fn intersect_dense(
    index: &tantivy::InvertedIndexReader,
    infos: &[tantivy::postings::TermInfo],
    acc: &mut [u64],
) -> std::io::Result<()> {
    for (n, info) in infos.iter().enumerate() {
        let mut postings =
            index.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
        // the word being masked, and the bits of this term in it
        let (mut at, mut mask) = (0usize, 0u64);
        loop {
            let docs = postings.docs();
            if docs.is_empty() {
                break;
            }
            for &d in docs {
                let w = (d / 64) as usize;
                if n == 0 {
                    if let Some(word) = acc.get_mut(w) {
                        *word |= 1 << (d % 64);
                    }
                    continue;
                }
                if w != at {
                    if let Some(word) = acc.get_mut(at) {
                        *word &= mask;
                    }
                    // words between hold none of this term's texts
                    let gap = acc.get_mut(at + 1..w.min(acc.len())).unwrap_or_default();
                    gap.fill(0);
                    (at, mask) = (w, 0);
                }
                mask |= 1 << (d % 64);
            }
            postings.advance();
        }
        if n > 0 {
            if let Some(word) = acc.get_mut(at) {
                *word &= mask;
            }
            if let Some(rest) = acc.get_mut(at + 1..) {
                rest.fill(0);
            }
        }
    }
    Ok(())
}

/// Bytes of decoded segments a search engine keeps unless told otherwise
/// ([`TextEngine::set_cache_budget`]; `[main] text_cache_size`).
pub const DEFAULT_TEXT_CACHE: usize = 32 << 20;

/// Marks in `found` the owners (decoded) of the texts set in `docs` that
/// are alive.
fn mark_owners(
    owners: &SegmentClassOwners,
    alive: Option<&tantivy::fastfield::AliveBitSet>,
    docs: &[u64],
    found: &mut Owners,
) {
    for_each_bit(docs, |doc| {
        let Some(&first) = owners.first.get(doc as usize) else {
            return;
        };
        if first == 0 || alive.is_some_and(|a| a.is_deleted(doc)) {
            return;
        }
        found.add(first & !SegmentClassOwners::MORE);
        if first & SegmentClassOwners::MORE != 0 {
            for &o in owners.more.get(&doc).into_iter().flatten() {
                found.add(o);
            }
        }
    });
}

/// Marks in `found` the owners of class `code` of the texts set in
/// `docs` that are alive, reading the owner column a batch of texts at a
/// time (one call into the column per batch instead of three per text).
fn collect_owners(
    column: &tantivy::columnar::Column<u64>,
    alive: Option<&tantivy::fastfield::AliveBitSet>,
    docs: &[u64],
    code: u64,
    found: &mut Owners,
) {
    use tantivy::columnar::ColumnIndex;
    const BATCH: usize = 1024;
    let mut batch: Vec<u32> = Vec::with_capacity(BATCH);
    let mut rows: Vec<u32> = Vec::with_capacity(BATCH);
    let mut values: Vec<u64> = Vec::new();
    let (mut starts, mut ends) = (vec![0u32; BATCH], vec![0u32; BATCH]);
    let mut flush = |batch: &mut Vec<u32>, found: &mut Owners| {
        rows.clear();
        match &column.index {
            ColumnIndex::Multivalued(multi) => {
                let n = batch.len();
                multi.start_index_column.get_vals(batch, &mut starts[..n]);
                for d in batch.iter_mut() {
                    *d += 1;
                }
                multi.start_index_column.get_vals(batch, &mut ends[..n]);
                for (s, e) in starts[..n].iter().zip(&ends[..n]) {
                    rows.extend(*s..*e);
                }
            }
            _ => {
                for &d in batch.iter() {
                    rows.extend(column.index.value_row_ids(d));
                }
            }
        }
        values.clear();
        values.resize(rows.len(), 0);
        column.values.get_vals(&rows, &mut values);
        for &o in &values {
            if o >> 32 == code {
                found.add(o as u32);
            }
        }
        batch.clear();
    };
    for_each_bit(docs, |doc| {
        if alive.is_none_or(|a| a.is_alive(doc)) {
            batch.push(doc);
            if batch.len() == BATCH {
                flush(&mut batch, found);
            }
        }
    });
    if !batch.is_empty() {
        flush(&mut batch, found);
    }
}

/// Calls `f` with the position of every set bit of `bits`, ascending.
fn for_each_bit(bits: &[u64], mut f: impl FnMut(u32)) {
    for (w, &word) in bits.iter().enumerate() {
        let mut rest = word;
        while rest != 0 {
            f(w as u32 * 64 + rest.trailing_zeros());
            rest &= rest - 1;
        }
    }
}

/// A segment's `owner` column: each text's owners as [`owner_key`]s.
fn owner_column(
    segment: &tantivy::SegmentReader,
) -> tantivy::Result<Option<tantivy::columnar::Column<u64>>> {
    segment.fast_fields().column_opt::<u64>("owner")
}

/// A class name as 32 bits (FNV-1a), the upper half of an [`owner_key`].
fn class_code(class: &str) -> u64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in class.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    u64::from(h)
}

/// One item as a number: its class's code and its id.
fn owner_key(class: &str, id: u64) -> u64 {
    class_code(class) << 32 | (id & 0xffff_ffff)
}

/// Which items point to the items that have indexed texts, from the
/// schema: what a text's owners are made of.
#[derive(Debug, Default)]
struct Links {
    /// Class with indexed texts -> the stored Link and Multilink
    /// properties of other classes pointing to it.
    into: HashMap<String, Vec<(Arc<ClassDef>, String)>>,
    /// Linking class -> (property, class with indexed texts it points to,
    /// whether a Multilink).
    from: HashMap<String, Vec<(String, String, bool)>>,
    /// No two classes of the schema share a [`class_code`] (else searches
    /// follow the links in SQL).
    codes_distinct: bool,
}

impl Links {
    fn of(schema: &Schema) -> Links {
        let texts: HashSet<&str> = schema
            .classes
            .values()
            .filter(|c| {
                c.props
                    .values()
                    .any(|p| p.ptype == PropType::String && p.indexme)
            })
            .map(|c| c.name.as_str())
            .collect();
        let mut links = Links::default();
        for c in schema.classes.values() {
            let shared = Arc::new(c.clone());
            for (name, p) in &c.props {
                let Some(target) = &p.link_class else {
                    continue;
                };
                if p.is_computed() || target == &c.name || !texts.contains(target.as_str()) {
                    continue;
                }
                links
                    .into
                    .entry(target.clone())
                    .or_default()
                    .push((shared.clone(), name.clone()));
                links.from.entry(c.name.clone()).or_default().push((
                    name.clone(),
                    target.clone(),
                    p.ptype == PropType::Multilink,
                ));
            }
        }
        let codes: HashSet<u64> = schema.classes.keys().map(|c| class_code(c)).collect();
        links.codes_distinct = codes.len() == schema.classes.len();
        links
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
        /// Worked out just before the commit ([`TextIndexedStorage::resolve_owners`]).
        owners: Option<Vec<u64>>,
        /// Whether an earlier text under `key` may be in the index (else
        /// no delete is queued: tantivy keeps every queued delete in
        /// memory until the commit, a kilobyte each, which a million-item
        /// import cannot afford).
        replace: bool,
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
    /// From the schema: what a text's owners are (set by `sync_schema`).
    links: Option<Arc<Links>>,
    /// Texts whose owners this transaction resolved (handed to a bulk
    /// writer, or about to be).
    resolved: ItemBits,
    /// Items with texts whose owners changed, to be worked out again
    /// before the commit unless their texts are (re)written anyway.
    relink: ItemBits,
    /// The same, for texts a bulk load had already handed to its writer:
    /// put back again after the commit.
    late: ItemBits,
    /// Items this transaction created (their texts are new to the index
    /// unless handed over before), and items whose texts it handed over.
    created: ItemBits,
    handed: ItemBits,
}

/// Items of several classes as per-class id sets (bits for the ids a
/// tracker really has, a hash set beyond).
#[derive(Debug, Default)]
struct ItemBits(HashMap<String, (Vec<u64>, HashSet<u64>)>);

impl ItemBits {
    /// Ids below this are bits (8 MB at most a class).
    const DENSE: u64 = 1 << 26;

    fn insert(&mut self, class: &str, id: u64) {
        if !self.0.contains_key(class) {
            self.0.insert(class.to_string(), Default::default());
        }
        let Some((bits, sparse)) = self.0.get_mut(class) else {
            return;
        };
        if id < Self::DENSE {
            let word = (id / 64) as usize;
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= 1 << (id % 64);
        } else {
            sparse.insert(id);
        }
    }

    fn contains(&self, class: &str, id: u64) -> bool {
        let Some((bits, sparse)) = self.0.get(class) else {
            return false;
        };
        if id < Self::DENSE {
            bits.get((id / 64) as usize)
                .is_some_and(|w| w & (1 << (id % 64)) != 0)
        } else {
            sparse.contains(&id)
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every item, class by class in ascending ids.
    fn for_each(&self, mut f: impl FnMut(&str, u64)) {
        for (class, (bits, sparse)) in &self.0 {
            for (w, word) in bits.iter().enumerate() {
                let mut rest = *word;
                while rest != 0 {
                    f(class, w as u64 * 64 + u64::from(rest.trailing_zeros()));
                    rest &= rest - 1;
                }
            }
            let mut big: Vec<u64> = sparse.iter().copied().collect();
            big.sort_unstable();
            big.into_iter().for_each(|id| f(class, id));
        }
    }

    /// The items `keep` accepts, listed.
    fn items_where(&self, mut keep: impl FnMut(&str, u64) -> bool) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        self.for_each(|class, id| {
            if keep(class, id) {
                out.push((class.to_string(), id));
            }
        });
        out
    }

    fn clear(&mut self) {
        self.0.clear();
    }
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
            links: None,
            resolved: ItemBits::default(),
            relink: ItemBits::default(),
            late: ItemBits::default(),
            created: ItemBits::default(),
            handed: ItemBits::default(),
        }
    }

    /// Mark which of `ops` may replace a text in the index, and note their
    /// items as handed over: a text of an item this transaction created
    /// (or of any item during a rebuild), the first of its item in `ops`
    /// and not handed over before, is new.
    fn mark_replacing(&mut self, ops: &mut [Op]) {
        // A rebuild emptied the index: every item is new to it.
        let emptied = self
            .engine
            .rebuilding
            .load(std::sync::atomic::Ordering::Relaxed);
        let mut first: HashSet<(&str, u64)> = HashSet::new();
        for op in ops.iter_mut() {
            if let Op::Text {
                class, id, replace, ..
            } = op
            {
                let new = (emptied || self.created.contains(class, *id))
                    && !self.handed.contains(class, *id)
                    && first.insert((class.as_str(), *id));
                *replace = !new;
            }
        }
        for op in ops.iter() {
            if let Op::Text { class, id, .. } = op {
                self.handed.insert(class, *id);
            }
        }
    }

    /// Items of `class` pointed to by `values` through the properties
    /// that make texts' owners.
    fn pointed_to(&self, class: &str, values: &NodeValues) -> Vec<(String, u64)> {
        let Some(links) = &self.links else {
            return Vec::new();
        };
        let Some(props) = links.from.get(class) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (prop, target, _) in props {
            match values.get(prop) {
                Some(Some(Value::Link(id))) => {
                    out.extend(id.parse().ok().map(|n| (target.clone(), n)))
                }
                Some(Some(Value::Multilink(ids))) => out.extend(
                    ids.iter()
                        .filter_map(|id| id.parse().ok())
                        .map(|n| (target.clone(), n)),
                ),
                _ => {}
            }
        }
        out
    }

    /// `target`'s texts have other owners now.
    fn owners_changed(&mut self, target: &str, id: u64) {
        if self.resolved.contains(target, id) {
            self.late.insert(target, id);
        } else {
            self.relink.insert(target, id);
        }
    }

    /// Work out the owners of every text change not yet resolved, in the
    /// transaction's own view of the database.
    fn resolve_owners(&mut self) -> Result<()> {
        let Some(links) = self.links.clone() else {
            // Without the schema the owners are unknown: the index is
            // rebuilt rather than left answering wrongly.
            self.lost = true;
            return Ok(());
        };
        let mut wanted: HashMap<String, Vec<u32>> = HashMap::new();
        for op in &self.pending {
            if let Op::Text {
                class,
                id,
                owners: None,
                ..
            } = op
            {
                if links.into.contains_key(class) {
                    if let Ok(n) = u32::try_from(*id) {
                        wanted.entry(class.clone()).or_default().push(n);
                    }
                }
            }
        }
        let mut found: HashMap<u64, Vec<u64>> = HashMap::new();
        for (class, mut ids) in wanted {
            ids.sort_unstable();
            ids.dedup();
            for (linking, prop) in links.into.get(&class).into_iter().flatten() {
                for chunk in ids.chunks(10_000) {
                    for (target, owner) in self.inner.linking_pairs(linking, prop, chunk)? {
                        found
                            .entry(owner_key(&class, u64::from(target)))
                            .or_default()
                            .push(owner_key(&linking.name, u64::from(owner)));
                    }
                }
            }
        }
        for op in &mut self.pending {
            if let Op::Text {
                class, id, owners, ..
            } = op
            {
                if owners.is_none() {
                    let own = owner_key(class, *id);
                    let mut list = found.remove(&own).unwrap_or_default();
                    list.push(own);
                    list.sort_unstable();
                    list.dedup();
                    *owners = Some(list);
                    self.resolved.insert(class, *id);
                }
            }
        }
        Ok(())
    }

    /// Before the commit: texts whose owners changed and that this
    /// transaction does not rewrite are taken from the index as they are,
    /// and every text change gets its owners.
    fn prepare_commit(&mut self) -> Result<()> {
        if !self.relink.is_empty() {
            let mut rewritten = ItemBits::default();
            for op in &self.pending {
                if let Op::Text { class, id, .. } = op {
                    rewritten.insert(class, *id);
                }
            }
            // Listed only when needed: an import relinks every message
            // of every issue, and nearly all were written in it anyway.
            let resolved = &self.resolved;
            let wanted = self.relink.items_where(|class, id| {
                !rewritten.contains(class, id) && !resolved.contains(class, id)
            });
            self.relink.clear();
            for (class, id) in wanted {
                let texts = self.engine.stored_texts(&class, id)?;
                self.pending.extend(texts);
            }
        }
        self.resolve_owners()
    }

    /// After a bulk load's commit: texts it had handed to its writer
    /// before their owners changed are put back with their owners.
    fn fix_late_owners(&mut self) -> Result<()> {
        if self.late.is_empty() {
            return Ok(());
        }
        let late = std::mem::take(&mut self.late);
        self.resolved.clear();
        for (class, id) in late.items_where(|_, _| true) {
            let texts = self.engine.stored_texts(&class, id)?;
            self.pending.extend(texts);
            if self.pending.len() >= BULK_FLUSH {
                self.resolve_owners()?;
                let ops = std::mem::take(&mut self.pending);
                let engine = self.engine.clone();
                engine.with_writer(|w| engine.apply(w, &ops))?;
            }
        }
        self.resolve_owners()?;
        let ops = std::mem::take(&mut self.pending);
        self.resolved.clear();
        if ops.is_empty() {
            return Ok(());
        }
        let engine = self.engine.clone();
        engine.with_writer(|w| engine.apply(w, &ops))
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
        self.resolve_owners()?;
        let mut ops = std::mem::take(&mut self.pending);
        self.mark_replacing(&mut ops);
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
        let mut ops = std::mem::take(&mut self.pending);
        self.mark_replacing(&mut ops);
        self.created.clear();
        self.handed.clear();
        let lost = std::mem::take(&mut self.lost);
        self.flushed = 0;
        self.savepoints.clear();
        if self.late.is_empty() {
            self.resolved.clear();
        }
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
        self.resolved.clear();
        self.relink.clear();
        self.late.clear();
        self.created.clear();
        self.handed.clear();
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
        self.links = Some(Arc::new(Links::of(schema)));
        self.inner.sync_schema(schema)
    }
    fn new_id(&mut self, class: &str) -> Result<u64> {
        self.inner.new_id(class)
    }
    fn set_last_id(&mut self, class: &str, last_used: u64) -> Result<()> {
        self.inner.set_last_id(class, last_used)
    }
    fn add_node(&mut self, class: &ClassDef, id: &str, values: &NodeValues) -> Result<()> {
        self.inner.add_node(class, id, values)?;
        if let Ok(n) = id.parse() {
            self.created.insert(&class.name, n);
        }
        for (target, n) in self.pointed_to(&class.name, values) {
            self.owners_changed(&target, n);
        }
        Ok(())
    }
    fn set_node(
        &mut self,
        class: &ClassDef,
        id: &str,
        values: &NodeValues,
        multilinks: &HashMap<String, MultilinkChange>,
    ) -> Result<()> {
        // Targets that gain or lose this item as an owner.
        let mut changed: Vec<(String, u64)> = Vec::new();
        let props = self
            .links
            .as_ref()
            .and_then(|l| l.from.get(&class.name).cloned())
            .unwrap_or_default();
        let mut before: Option<NodeValues> = None;
        for (prop, target, _) in &props {
            if let Some(change) = multilinks.get(prop) {
                changed.extend(
                    change
                        .add
                        .iter()
                        .chain(&change.remove)
                        .filter_map(|i| i.parse().ok())
                        .map(|n| (target.clone(), n)),
                );
            } else if values.contains_key(prop) {
                if before.is_none() {
                    before = Some(
                        self.inner
                            .get_node(class, id)?
                            .map(|n| n.values)
                            .unwrap_or_default(),
                    );
                }
                let one = |v: &NodeValues| -> HashSet<u64> {
                    match v.get(prop) {
                        Some(Some(Value::Link(i))) => i.parse().ok().into_iter().collect(),
                        Some(Some(Value::Multilink(ids))) => {
                            ids.iter().filter_map(|i| i.parse().ok()).collect()
                        }
                        _ => HashSet::new(),
                    }
                };
                let old = before.as_ref().map(one).unwrap_or_default();
                let new = one(values);
                changed.extend(old.symmetric_difference(&new).map(|n| (target.clone(), *n)));
            }
        }
        self.inner.set_node(class, id, values, multilinks)?;
        for (target, n) in changed {
            self.owners_changed(&target, n);
        }
        Ok(())
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
    fn get_node_columns(
        &mut self,
        class: &ClassDef,
        ids: &[String],
        props: &[&str],
    ) -> Result<HashMap<String, StoredNode>> {
        self.inner.get_node_columns(class, ids, props)
    }
    fn has_node(&mut self, class: &str, id: &str) -> Result<bool> {
        self.inner.has_node(class, id)
    }
    fn set_retired(&mut self, class: &ClassDef, id: &str, retired: bool) -> Result<()> {
        self.inner.set_retired(class, id, retired)
    }
    fn destroy_node(&mut self, class: &ClassDef, id: &str) -> Result<()> {
        let pointed = match self
            .links
            .as_ref()
            .is_some_and(|l| l.from.contains_key(&class.name))
        {
            true => match self.inner.get_node(class, id)? {
                Some(node) => self.pointed_to(&class.name, &node.values),
                None => Vec::new(),
            },
            false => Vec::new(),
        };
        self.inner.destroy_node(class, id)?;
        for (target, n) in pointed {
            self.owners_changed(&target, n);
        }
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
    fn filter_order(&mut self, schema: &Schema, query: &Query) -> Result<Option<Vec<u32>>> {
        self.inner.filter_order(schema, query)
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
    fn search_text_owners(&mut self, words: &[String], class: &str) -> Result<Option<IdSet>> {
        let usable = self.pending.is_empty()
            && self.flushed == 0
            && self.relink.is_empty()
            && self.late.is_empty()
            && !self.engine.is_stale()
            && self.links.as_ref().is_some_and(|l| l.codes_distinct);
        if !usable {
            return self.inner.search_text_owners(words, class);
        }
        self.engine.search_owners(words, class).map(Some)
    }
    fn linking_pairs(
        &mut self,
        class: &ClassDef,
        prop: &str,
        ids: &[u32],
    ) -> Result<Vec<(u32, u32)>> {
        self.inner.linking_pairs(class, prop, ids)
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
        if let Err(e) = self.prepare_commit() {
            // The change itself goes ahead; the index will be behind it.
            roundup_core::errln!("{e}");
            self.lost = true;
        }
        if let Err(e) = self.inner.commit() {
            self.discard();
            return Err(e);
        }
        if let Err(e) = self.commit_index().and_then(|()| self.fix_late_owners()) {
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
    fn changes_since(&mut self, after: Option<i64>) -> Result<roundup_core::storage::Changes> {
        self.inner.changes_since(after)
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
    cache_budget: usize,
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
            cache_budget: DEFAULT_TEXT_CACHE,
        }
    }

    /// Keep at most `bytes` of decoded segments for searches
    /// (`[main] text_cache_size`; see [`TextEngine::set_cache_budget`]).
    pub fn with_cache_budget(mut self, bytes: usize) -> TextIndexedBackend {
        self.cache_budget = bytes;
        self
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
        e.set_cache_budget(self.cache_budget);
        *slot = Some(e.clone());
        Ok(e)
    }
}

/// Remove an index folder and everything in it, if there is one.
fn remove_index_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", dir.display()), e)),
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
        let existed = self.inner.exists()?;
        self.inner.create()?;
        if existed {
            return Ok(());
        }
        // A new, empty database: its index is complete from the start (an
        // index left from an earlier database goes).
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
        remove_index_dir(&self.dir)?;
        *slot = Some(TextEngine::open(&self.dir, true, &self.stopwords)?);
        Ok(())
    }
    fn nuke(&self) -> Result<()> {
        self.inner.nuke()?;
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
        remove_index_dir(&self.dir)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_come_out_ascending_and_distinct_from_both_stores() {
        let mut a = Owners::default();
        for id in [5, 64, 3, 5, 0, 63, BITMAP_IDS + 7, 127] {
            a.add(id);
        }
        let mut b = Owners::default();
        for id in [1000, 3, BITMAP_IDS, u32::MAX, 64] {
            b.add(id);
        }
        a.merge(b);
        assert_eq!(
            a.into_set().0.as_slice(),
            &[
                0,
                3,
                5,
                63,
                64,
                127,
                1000,
                BITMAP_IDS,
                BITMAP_IDS + 7,
                u32::MAX
            ]
        );
        // A bitmap alone, including a merge into a shorter one.
        let mut short = Owners::default();
        short.add(2);
        let mut long = Owners::default();
        long.add(70_000);
        long.add(2);
        short.merge(long);
        assert_eq!(short.into_set().0.as_slice(), &[2, 70_000]);
        assert!(Owners::default().into_set().0.is_empty());
    }
}
