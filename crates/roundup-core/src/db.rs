//! The hyperdb API with Roundup's semantics, over any [`Storage`].
//!
//! A [`Db`] is one open connection for one user (Roundup's `db` object): it
//! is used from one thread, and every method takes `&self` so that detectors
//! (which receive the same `Db`) can call back into it while an operation
//! is in progress. Changes accumulate in one transaction until
//! [`Db::commit`]; [`Db::rollback`] discards them. Each top-level operation
//! runs under a savepoint, so a failed or rejected operation leaves the
//! transaction exactly as it was before that operation began.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::clock_cache::{node_size, CacheStats, ClockCache};
use crate::date::{Date, Interval, Timezone};
use crate::detectors::{Detectors, Op};
use crate::error::{Error, Result};
use crate::filter::Query;
use crate::password::{Password, Scheme};
use crate::pyrepr::PyValue;
use crate::schema::{ClassDef, ClassKind, PropType, Property, Schema};
use crate::security::{parse_roles, Security};
use crate::shared_cache::{QueryResult, SharedCache};

/// How many bytes of items one connection keeps between its commits when
/// its opener sets no budget (`[main] connection_cache_size`).
pub const DEFAULT_CONNECTION_CACHE: usize = 2 << 20;

/// What one cached item costs besides its values: the key's two strings.
fn keyed_node_size(key: &(String, String), n: &StoredNode) -> usize {
    crate::clock_cache::str_size(&key.0) + crate::clock_cache::str_size(&key.1) + node_size(n)
}
use crate::storage::{JournalEntry, MultilinkChange, NodeValues, Storage, StoredNode, TextHit};
use crate::value::{sort_ids, Value};

/// Property values in the order given (for create/set and detectors).
pub type Values = IndexMap<String, Option<Value>>;

/// What a tracker defines once and every connection shares.
#[derive(Debug)]
pub struct TrackerDef {
    pub schema: Schema,
    pub security: Security,
    pub detectors: Detectors,
}

/// Settings a connection needs from the tracker configuration.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// The tracker's database directory (`[main] database`); file contents
    /// live in its `files/` subdirectory.
    pub db_dir: PathBuf,
    /// Scheme and rounds for newly hashed passwords.
    pub password_scheme: Scheme,
    pub password_rounds: u32,
    /// Time zone used to read date input when the user has none.
    pub timezone: Timezone,
    /// Whether text is added to the full-text index.
    pub indexing: bool,
}

/// Delivered outbox entries are removed this many at a time (one commit
/// each): a crash between handing messages over and removing them sends
/// at most these again.
const OUTBOX_REMOVE_BATCH: usize = 32;

/// Hand `entries` to the mailer, on up to `mailer.connections()` threads
/// at once; `done` hears of each result on the calling thread (which
/// owns the database), as they come.
fn hand_over(
    mailer: &dyn crate::mail::Mailer,
    entries: &[crate::mail::OutboxEntry],
    mut done: impl FnMut(&crate::mail::OutboxEntry, std::result::Result<(), String>),
) {
    let threads = mailer.connections().clamp(1, entries.len().max(1));
    if threads == 1 {
        for e in entries {
            done(e, mailer.deliver(&e.envelope));
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(e) = entries.get(i) else { break };
                if tx.send((i, mailer.deliver(&e.envelope))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            done(&entries[i], r);
        }
    });
}

/// The mail a commit queued, waiting for [`Db::deliver_queued`].
#[derive(Debug, Default)]
#[must_use = "mail of a commit is delivered with Db::deliver_queued"]
pub struct QueuedMail(Vec<crate::mail::OutboxEntry>);

impl QueuedMail {
    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sync the data of files just written: writeback of all of them is
/// started first, then each is waited for, so that the disk sees one
/// batch of writes rather than a flush per file.
fn sync_files(paths: &[PathBuf]) -> Result<()> {
    // A few hundred open at a time, well below the usual limit of 1024
    // descriptors.
    for chunk in paths.chunks(256) {
        sync_some_files(chunk)?;
    }
    Ok(())
}

fn sync_some_files(paths: &[PathBuf]) -> Result<()> {
    let mut open = Vec::with_capacity(paths.len());
    for p in paths {
        let f = fs::File::open(p).map_err(|e| Error::io(format!("syncing {}", p.display()), e))?;
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: a valid open descriptor; the call only starts
            // writeback of its dirty pages (errors show in sync_data).
            unsafe {
                libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
        open.push((p, f));
    }
    for (p, f) in open {
        f.sync_data()
            .map_err(|e| Error::io(format!("syncing {}", p.display()), e))?;
    }
    Ok(())
}

/// A point in the open transaction set by [`Db::mark`]: give it back to
/// [`Db::release`] or [`Db::rollback_to`].
#[derive(Debug)]
#[must_use = "a mark is released or rolled back to"]
pub struct Mark {
    /// The savepoint's name.
    name: String,
    /// How many pending files and queued messages there were.
    files: FilesMark,
    mail: usize,
}

/// Where the changes of a connection come from: Roundup's `db.tx_Source`,
/// which detectors read to tell a web edit from a mail or a script. Each
/// front end sets it where Roundup 2.6 does; a connection nobody set it on
/// (a script, a test, `roundup-demo`) has none (Python's `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxSource {
    /// The HTML user interface (`"web"`).
    Web,
    /// The REST API (`"rest"`).
    Rest,
    /// The XML-RPC API (`"xmlrpc"`).
    Xmlrpc,
    /// `roundup-admin`, its commands and `initialise` (`"cli"`).
    Cli,
    /// The mail gateway (`"email"`).
    Email,
    /// The mail gateway, for a message whose PGP signature by its author
    /// was verified (`"email-sig-openpgp"`).
    EmailSigOpenpgp,
}

impl TxSource {
    pub const ALL: [TxSource; 6] = [
        TxSource::Web,
        TxSource::Rest,
        TxSource::Xmlrpc,
        TxSource::Cli,
        TxSource::Email,
        TxSource::EmailSigOpenpgp,
    ];

    /// The string Roundup's `db.tx_Source` holds.
    pub fn as_str(self) -> &'static str {
        match self {
            TxSource::Web => "web",
            TxSource::Rest => "rest",
            TxSource::Xmlrpc => "xmlrpc",
            TxSource::Cli => "cli",
            TxSource::Email => "email",
            TxSource::EmailSigOpenpgp => "email-sig-openpgp",
        }
    }

    /// The source Roundup names `name`, if it names one.
    pub fn from_name(name: &str) -> Option<TxSource> {
        TxSource::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for TxSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One open tracker database connection acting as one user.
pub struct Db {
    def: Arc<TrackerDef>,
    opts: Arc<DbOptions>,
    store: RefCell<Box<dyn Storage>>,
    uid: RefCell<String>,
    /// Where this connection's changes come from (`db.tx_Source`).
    tx_source: Cell<Option<TxSource>>,
    /// A name tracker code gave `db.tx_Source` that is none of
    /// Roundup's sources (Roundup takes any string).
    tx_source_other: RefCell<Option<String>>,
    /// Final paths of file contents written in this transaction (their
    /// data sits in `<path>.tmp` until commit).
    pending_files: RefCell<PendingFiles>,
    /// Items read by this connection since its last commit or rollback
    /// (bounded by bytes: [`Db::with_cache_budget`]).
    cache: RefCell<ClockCache<(String, String), Arc<StoredNode>>>,
    depth: Cell<u32>,
    savepoints: Cell<u64>,
    /// The process-wide read cache, when this connection takes part.
    shared: Option<Arc<SharedCache>>,
    /// The shared cache's generation this request may use (`None`: not
    /// usable now; see [`Db::refresh_shared_cache`]).
    shared_gen: Cell<Option<u64>>,
    /// The storage's change marker as this connection saw it last.
    seen_version: Cell<Option<i64>>,
    /// From how many matches a count keeps its matches as a whole order
    /// (see [`Db::count_query`]).
    count_order_min: u64,
    /// Whether the open transaction has written anything.
    wrote: Cell<bool>,
    /// How mail is composed and sent, when the tracker sends mail.
    mail: Option<Arc<crate::mail::MailSetup>>,
    /// Outbox entries the open transaction queued (delivered after its
    /// commit; older ones are left to the retry of the server or admin).
    queued_mail: RefCell<Vec<crate::mail::OutboxEntry>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.store.borrow().backend_name())
            .field("uid", &self.uid.borrow())
            .field("tx_source", &self.tx_source.get())
            .finish()
    }
}

const TEMP_EXT: &str = "tmp";

/// The MIME type a file name suggests, `application/octet-stream` when
/// it suggests none (uploads and attachments stored without a type).
pub fn guess_type(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// How long an outbox entry is held by the connection delivering it
/// (seconds): queued entries are their own connection's until then.
const OUTBOX_LEASE: f64 = 600.0;

/// File contents written in the open transaction, in the order written,
/// with an index for quick membership tests (imports write thousands).
/// Most wait as `<name>.tmp` for the commit; "fresh" ones (new files
/// written by an import) are in place already and are deleted on rollback.
#[derive(Default)]
struct PendingFiles {
    /// Paths and whether each is fresh.
    order: Vec<(PathBuf, bool)>,
    /// Position in `order` by path (as plain bytes: hashing a `Path`
    /// walks its components).
    index: HashMap<std::ffi::OsString, usize>,
    /// Directories known to exist (saves a mkdir per file).
    dirs: std::collections::HashSet<PathBuf>,
    /// Contents an import placed as new files at their usual path
    /// ([`content_path`] under `placed_dir`): (class number in
    /// `placed_classes`, id) in the order placed. Eight bytes a file
    /// rather than two copies of its path: a million-issue import places
    /// a million and a half.
    placed: Vec<(u32, u32)>,
    placed_classes: Vec<String>,
    placed_dir: PathBuf,
}

/// How many pending files there were (see [`Db::mark`]).
#[derive(Clone, Copy, Debug)]
struct FilesMark {
    order: usize,
    placed: usize,
}

/// Undo one pending file: its `.tmp`, or the fresh file itself.
fn discard_file(path: &Path, fresh: bool) {
    if fresh {
        let _ = fs::remove_file(path);
    } else {
        let _ = fs::remove_file(temp_path(path));
    }
}

impl PendingFiles {
    fn dir_known(&self, d: &Path) -> bool {
        self.dirs.contains(d)
    }
    fn add_dir(&mut self, d: &Path) {
        self.dirs.insert(d.to_path_buf());
    }
    fn get(&self, p: &Path) -> Option<bool> {
        self.index.get(p.as_os_str()).map(|&i| self.order[i].1)
    }
    /// Whether the content waits in a `.tmp` file.
    fn is_staged(&self, p: &Path) -> bool {
        self.get(p) == Some(false)
    }
    fn contains(&self, p: &Path) -> bool {
        self.get(p).is_some()
    }
    fn mark(&self) -> FilesMark {
        FilesMark {
            order: self.order.len(),
            placed: self.placed.len(),
        }
    }
    /// Record content an import placed as a new file at its usual path.
    fn push_placed(&mut self, files_dir: &Path, class: &str, id: u32) {
        let n = match self.placed_classes.iter().position(|c| c == class) {
            Some(n) => n,
            None => {
                self.placed_classes.push(class.to_string());
                self.placed_classes.len() - 1
            }
        };
        if self.placed_dir.as_os_str().is_empty() {
            self.placed_dir = files_dir.to_path_buf();
        }
        self.placed.push((n as u32, id));
    }
    /// The paths of placed contents from position `from` on.
    fn placed_paths(&self, from: usize) -> impl Iterator<Item = PathBuf> + '_ {
        self.placed[from.min(self.placed.len())..]
            .iter()
            .map(|(c, id)| {
                let class = &self.placed_classes[*c as usize];
                bucketed_path(
                    &self.placed_dir,
                    class,
                    class,
                    u64::from(*id),
                    &id.to_string(),
                )
            })
    }
    /// Delete every pending file (rollback) and forget them.
    fn discard_all(&mut self) {
        for (path, fresh) in self.take_all() {
            discard_file(&path, fresh);
        }
    }
    /// Record a file: `fresh` when written in place (new), else staged.
    /// A path already recorded keeps its entry, except that content
    /// staged for a fresh file gets an entry of its own after it: the
    /// commit then moves the newer content over the fresh file, and
    /// undoing only the later step leaves the fresh file as it was.
    fn add(&mut self, p: PathBuf, fresh: bool) {
        match self.index.entry(p.as_os_str().to_owned()) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.order.len());
                self.order.push((p, fresh));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if !fresh && self.order[*e.get()].1 {
                    e.insert(self.order.len());
                    self.order.push((p, false));
                }
            }
        }
    }
    fn push_fresh(&mut self, p: PathBuf) {
        self.add(p, true);
    }
    fn push(&mut self, p: PathBuf) {
        self.add(p, false);
    }
    fn remove(&mut self, p: &Path) {
        if self.index.remove(p.as_os_str()).is_some() {
            self.order.retain(|(x, _)| x != p);
            self.reindex();
        }
    }
    fn reindex(&mut self) {
        self.index = self
            .order
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.as_os_str().to_owned(), i))
            .collect();
    }
    /// Every pending file with whether it is fresh; the list is emptied.
    fn take_all(&mut self) -> Vec<(PathBuf, bool)> {
        self.index.clear();
        let mut all = std::mem::take(&mut self.order);
        all.extend(self.placed_paths(0).map(|p| (p, true)));
        self.placed.clear();
        all
    }
    /// The staged files (content waiting as `.tmp`), the others forgotten:
    /// what a commit moves into place.
    fn take_staged(&mut self) -> Vec<PathBuf> {
        self.index.clear();
        self.placed.clear();
        std::mem::take(&mut self.order)
            .into_iter()
            .filter(|(_, fresh)| !fresh)
            .map(|(p, _)| p)
            .collect()
    }
    fn drain_from(&mut self, mark: FilesMark) -> Vec<(PathBuf, bool)> {
        let mut placed: Vec<(PathBuf, bool)> =
            self.placed_paths(mark.placed).map(|p| (p, true)).collect();
        self.placed.truncate(mark.placed.min(self.placed.len()));
        let mut out: Vec<(PathBuf, bool)> = self
            .order
            .drain(mark.order.min(self.order.len())..)
            .collect();
        for (p, _) in &out {
            self.index.remove(p.as_os_str());
        }
        if out.iter().any(|(_, fresh)| !fresh) {
            // A staged entry may have stood for a fresh file kept above
            // the mark: the path is known by that entry again.
            self.reindex();
        }
        out.append(&mut placed);
        out
    }
}

impl Db {
    /// Open a connection: bring the storage up to the schema (committing
    /// any table changes) and act as user `uid`.
    pub fn open(
        def: Arc<TrackerDef>,
        opts: Arc<DbOptions>,
        mut store: Box<dyn Storage>,
        uid: &str,
    ) -> Result<Db> {
        if store.sync_schema(&def.schema)? {
            store.commit()?;
        }
        Ok(Db {
            def,
            opts,
            store: RefCell::new(store),
            uid: RefCell::new(uid.to_string()),
            tx_source: Cell::new(None),
            tx_source_other: RefCell::new(None),
            pending_files: RefCell::new(PendingFiles::default()),
            cache: RefCell::new(ClockCache::new(DEFAULT_CONNECTION_CACHE)),
            depth: Cell::new(0),
            savepoints: Cell::new(0),
            shared: None,
            shared_gen: Cell::new(None),
            seen_version: Cell::new(None),
            count_order_min: DEFAULT_COUNT_ORDER_MIN,
            wrote: Cell::new(false),
            mail: None,
            queued_mail: RefCell::new(Vec::new()),
        })
    }

    /// Send mail with this setup (see [`crate::mail`]): notifications are
    /// queued in the outbox and delivered after each commit.
    pub fn with_mail(mut self, setup: Arc<crate::mail::MailSetup>) -> Db {
        self.mail = Some(setup);
        self
    }

    /// The mail setup of this connection, if the tracker sends mail.
    pub fn mail(&self) -> Option<&Arc<crate::mail::MailSetup>> {
        self.mail.as_ref()
    }

    /// Queue a composed message in the outbox, in the open transaction:
    /// it goes out after the commit, and never if the transaction is
    /// rolled back.
    pub fn queue_mail(&self, envelope: &crate::mail::Envelope) -> Result<i64> {
        let queued = crate::mail::now();
        // The connection that queues a message delivers it after its
        // commit; for others it is due only if that did not happen (the
        // process died) within ten minutes.
        let id = self
            .store
            .borrow_mut()
            .outbox_add(envelope, queued, queued + OUTBOX_LEASE)?;
        self.wrote.set(true);
        self.queued_mail
            .borrow_mut()
            .push(crate::mail::OutboxEntry {
                id,
                queued,
                envelope: envelope.clone(),
                attempts: 0,
                next_try: queued + OUTBOX_LEASE,
                last_error: None,
            });
        Ok(id)
    }

    /// The messages waiting in the outbox (all, or those due now).
    pub fn outbox(&self, due_only: bool) -> Result<Vec<crate::mail::OutboxEntry>> {
        let due = due_only.then(crate::mail::now);
        self.store.borrow_mut().outbox_list(due)
    }

    /// Try to deliver the outbox's due messages (all waiting ones when
    /// `all`) through the mailer: each delivered one is removed, each
    /// failure is recorded with a later retry time. Call outside a
    /// transaction. Returns (delivered, failed).
    pub fn deliver_outbox(&self, all: bool) -> Result<(usize, usize)> {
        let now = crate::mail::now();
        let entries = self.store.borrow_mut().outbox_list((!all).then_some(now))?;
        self.deliver_entries(entries, false)
    }

    /// Deliver the given outbox entries (see [`Db::deliver_outbox`]).
    /// `claimed`: the entries are this connection's own, just committed
    /// and not due for anyone else yet, so they need no claim. They are
    /// handed over on as many connections at once as the mailer takes
    /// ([`crate::mail::Mailer::connections`]); delivered ones leave the
    /// outbox in batches as they go.
    fn deliver_entries(
        &self,
        entries: Vec<crate::mail::OutboxEntry>,
        claimed: bool,
    ) -> Result<(usize, usize)> {
        let Some(setup) = self.mail.clone() else {
            return Ok((0, 0));
        };
        let now = crate::mail::now();
        let mut mine = Vec::with_capacity(entries.len());
        for e in entries {
            // Hold the entry for ten minutes while it is being delivered,
            // so that another process does not send it too.
            if claimed
                || self
                    .store
                    .borrow_mut()
                    .outbox_claim(e.id, e.next_try, now + OUTBOX_LEASE)?
            {
                mine.push(e);
            }
        }
        let (mut sent, mut failed) = (0, 0);
        let mut done: Vec<i64> = Vec::new();
        let mut store_err = None;
        hand_over(setup.mailer.as_ref(), &mine, |e, r| {
            if store_err.is_some() {
                return;
            }
            let step = match r {
                Ok(()) => {
                    sent += 1;
                    done.push(e.id);
                    if done.len() >= OUTBOX_REMOVE_BATCH {
                        self.store
                            .borrow_mut()
                            .outbox_remove_many(&std::mem::take(&mut done))
                    } else {
                        Ok(())
                    }
                }
                Err(why) => {
                    failed += 1;
                    let retry = crate::mail::now() + crate::mail::retry_delay(e.attempts);
                    crate::errln!(
                        "mail to {} not delivered (try {}): {why}; kept in the outbox for a retry",
                        e.envelope.recipients.join(", "),
                        e.attempts + 1
                    );
                    self.store.borrow_mut().outbox_failed(e.id, &why, retry)
                }
            };
            if let Err(err) = step {
                store_err = Some(err);
            }
        });
        if let Some(e) = store_err {
            return Err(e);
        }
        self.store.borrow_mut().outbox_remove_many(&done)?;
        Ok((sent, failed))
    }

    /// Take part in a process-wide read cache shared with other
    /// connections (see [`crate::shared_cache`]). Call
    /// [`Db::refresh_shared_cache`] at the start of every request.
    pub fn with_shared_cache(mut self, cache: Arc<SharedCache>) -> Db {
        self.shared = Some(cache);
        self
    }

    /// Counts of at least `n` matches keep their matches as a whole order
    /// in the shared cache (default [`DEFAULT_COUNT_ORDER_MIN`]; see
    /// [`Db::count_query`]).
    pub fn with_count_orders_from(mut self, n: u64) -> Db {
        self.count_order_min = n;
        self
    }

    /// Start of a request: notice commits made since this connection last
    /// looked (by anyone, in any process) and empty the shared cache if
    /// there were any; then allow its use for this request.
    pub fn refresh_shared_cache(&self) -> Result<()> {
        let Some(cache) = &self.shared else {
            return Ok(());
        };
        self.shared_gen.set(None);
        let Some(v) = self.store.borrow_mut().data_version()? else {
            return Ok(());
        };
        if self.seen_version.get() != Some(v) {
            // Someone committed: drop what they changed (everything, when
            // the backend keeps no change log). On a connection's first
            // look the cache's own log position tells what it missed.
            self.catch_up(cache);
            self.seen_version.set(Some(v));
        }
        self.shared_gen.set(Some(cache.generation()));
        Ok(())
    }

    /// Drop from the shared cache what commits changed since it was last
    /// brought up to date (all of it when the backend cannot say).
    fn catch_up(&self, cache: &SharedCache) {
        match self.store.borrow_mut().changes_since(cache.log_position()) {
            Ok(changes) => cache.apply(&changes),
            Err(e) => {
                crate::errln!("reading the change log failed, the read cache starts over: {e}");
                cache.invalidate();
            }
        }
    }

    /// The shared cache and generation usable right now: not while this
    /// transaction has uncommitted writes of its own.
    fn shared_now(&self) -> Option<(&SharedCache, u64)> {
        if self.wrote.get() {
            return None;
        }
        Some((self.shared.as_deref()?, self.shared_gen.get()?))
    }

    /// A set of ids computed by `f` from the database alone (nothing
    /// user-specific may go into it), kept in the shared cache under `key`
    /// until the next commit.
    pub fn cached_id_set(
        &self,
        key: &str,
        f: impl FnOnce() -> Result<crate::filter::IdSet>,
    ) -> Result<Arc<crate::filter::IdSet>> {
        self.through_shared(
            format!("user\0{key}"),
            |r| match r {
                QueryResult::IdSet(ids) => Some(ids),
                _ => None,
            },
            |ids| QueryResult::IdSet(ids.clone()),
            || Ok(Arc::new(f()?)),
        )
    }

    /// A result derived from the database alone: taken from the shared
    /// cache under `key` when it is there (`read` picks it out of the
    /// stored form), else computed and kept (`keep` makes the stored form)
    /// until the next commit. Errors are not kept.
    fn through_shared<T>(
        &self,
        key: String,
        read: impl FnOnce(QueryResult) -> Option<T>,
        keep: impl FnOnce(&T) -> QueryResult,
        compute: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let shared = self.shared_now();
        if let Some((sc, gen)) = shared {
            if let Some(v) = sc.query(gen, &key).and_then(read) {
                return Ok(v);
            }
        }
        let v = compute()?;
        if let Some((sc, gen)) = shared {
            sc.put_query(gen, key, keep(&v));
        }
        Ok(v)
    }

    /// The shared cache generation this request reads in, when the shared
    /// cache is in use and this transaction has not written: results
    /// derived from the database alone stay valid while it is current.
    pub fn shared_generation(&self) -> Option<u64> {
        self.shared_now().map(|(_, g)| g)
    }

    /// Note that the open transaction writes.
    fn mark_write(&self) {
        self.wrote.set(true);
    }

    pub fn schema(&self) -> &Schema {
        &self.def.schema
    }
    pub fn security(&self) -> &Security {
        &self.def.security
    }
    pub fn tracker(&self) -> &Arc<TrackerDef> {
        &self.def
    }
    pub fn options(&self) -> &DbOptions {
        &self.opts
    }
    pub fn backend_name(&self) -> &'static str {
        self.store.borrow().backend_name()
    }

    /// The id of the user this connection acts for (Roundup's `getuid()`).
    pub fn getuid(&self) -> String {
        self.uid.borrow().clone()
    }
    /// Act as another user from now on (login).
    pub fn set_uid(&self, uid: &str) {
        *self.uid.borrow_mut() = uid.to_string();
    }

    /// Where this connection's changes come from (Roundup's
    /// `db.tx_Source`), as its front end said.
    pub fn tx_source(&self) -> Option<TxSource> {
        self.tx_source.get()
    }
    /// Say where the changes made from now on come from: each front end
    /// does when it starts a unit of work (see [`TxSource`]); it lasts
    /// until set again (a pooled connection is reset when returned).
    pub fn set_tx_source(&self, source: Option<TxSource>) {
        self.tx_source.set(source);
        self.tx_source_other.borrow_mut().take();
    }

    /// `db.tx_Source` as tracker code sees it: a source's name, or the
    /// string tracker code set, or `None`.
    pub fn tx_source_name(&self) -> Option<String> {
        match self.tx_source.get() {
            Some(s) => Some(s.as_str().to_string()),
            None => self.tx_source_other.borrow().clone(),
        }
    }

    /// Tracker code setting `db.tx_Source`: one of Roundup's names sets
    /// that source; any other string is kept as it is, as Roundup does.
    pub fn set_tx_source_name(&self, name: Option<&str>) {
        let known = name.and_then(TxSource::from_name);
        self.set_tx_source(known);
        if known.is_none() {
            *self.tx_source_other.borrow_mut() = name.map(str::to_string);
        }
    }

    pub fn class(&self, name: &str) -> Result<&ClassDef> {
        self.def.schema.class(name)
    }

    /// The lower-cased roles of a user (from its `roles` property).
    pub fn user_roles(&self, userid: &str) -> Result<Vec<String>> {
        if !self.def.schema.classes.contains_key("user") || !self.has_node("user", userid)? {
            // no such user: no roles, so no permissions
            return Ok(Vec::new());
        }
        match self.get("user", userid, "roles")? {
            Some(Value::String(r)) => Ok(parse_roles(&r)),
            _ => Ok(Vec::new()),
        }
    }

    /// Shorthand for the permission check of the current user.
    pub fn has_permission(
        &self,
        permission: &str,
        classname: Option<&str>,
        property: Option<&str>,
        itemid: Option<&str>,
    ) -> Result<bool> {
        let uid = self.getuid();
        self.def
            .security
            .has_permission(self, permission, &uid, classname, property, itemid)
    }

    // ----------------------------------------------------------------------
    // transactions

    /// Make every change since the last commit permanent, then hand the
    /// mail it queued to the mail server.
    pub fn commit(&self) -> Result<()> {
        let mail = self.commit_holding_mail()?;
        if !mail.0.is_empty() {
            // The change is committed whatever happens to its mail: a
            // message that cannot go now stays in the outbox. Only this
            // transaction's messages are tried here, so that a commit
            // never waits for a backlog.
            if let Err(e) = self.deliver_queued(mail) {
                crate::errln!("the outbox could not be delivered: {e}");
            }
        }
        Ok(())
    }

    /// Make every change since the last commit permanent, keeping back
    /// the mail it queued: it waits in the outbox (no other process
    /// sends it within the lease) until [`Db::deliver_queued`] hands it
    /// over. A caller with something to do between the two (the mail
    /// gateway empties its mailbox) uses this; [`Db::commit`] does both.
    ///
    /// File contents written in the transaction are synced to disk
    /// before the database commits (all of them started at once, then
    /// waited for), and moved into place after it; their directories are
    /// synced then too. So a commit that returned has its files on disk.
    pub fn commit_holding_mail(&self) -> Result<QueuedMail> {
        let staged: Vec<PathBuf> = self
            .pending_files
            .borrow()
            .order
            .iter()
            .filter(|(_, fresh)| !fresh)
            .map(|(p, _)| temp_path(p))
            .collect();
        sync_files(&staged)?;
        self.store.borrow_mut().commit()?;
        self.wrote.set(false);
        if let Some(cache) = &self.shared {
            // What this commit changed is now old in everyone's cached view.
            self.catch_up(cache);
            self.shared_gen.set(None);
        }
        let files = self.pending_files.borrow_mut().take_staged();
        let mut first_err = None;
        let mut dirs: Vec<&Path> = Vec::new();
        for path in &files {
            let tmp = temp_path(path);
            if let Err(e) = fs::rename(&tmp, path) {
                first_err
                    .get_or_insert(Error::io(format!("moving {} into place", tmp.display()), e));
            }
            if let Some(d) = path.parent() {
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
        for d in dirs {
            if let Err(e) = fs::File::open(d).and_then(|f| f.sync_all()) {
                first_err.get_or_insert(Error::io(format!("syncing {}", d.display()), e));
            }
        }
        let queued = std::mem::take(&mut *self.queued_mail.borrow_mut());
        match first_err {
            Some(e) => Err(e),
            None => Ok(QueuedMail(queued)),
        }
    }

    /// Hand the mail of a commit ([`Db::commit_holding_mail`]) to the
    /// mail server. Returns (delivered, failed); what failed stays in
    /// the outbox with a later retry time.
    pub fn deliver_queued(&self, mail: QueuedMail) -> Result<(usize, usize)> {
        self.deliver_entries(mail.0, true)
    }

    /// Discard every change since the last commit.
    pub fn rollback(&self) -> Result<()> {
        self.cache.borrow_mut().clear();
        self.wrote.set(false);
        self.queued_mail.borrow_mut().clear();
        self.pending_files.borrow_mut().discard_all();
        self.store.borrow_mut().rollback()
    }

    /// Set a point in the open transaction (starting one) that
    /// [`Db::rollback_to`] can come back to: a batch of units of work in
    /// one transaction (the mail gateway's messages of one mailbox run)
    /// marks each unit's start, so that one refused unit is undone alone
    /// while the others wait for the one commit. Operations inside run
    /// under savepoints of their own as usual. Marks nest: release or
    /// roll back the latest first.
    pub fn mark(&self) -> Result<Mark> {
        let n = self.savepoints.get() + 1;
        self.savepoints.set(n);
        let name = format!("rr_mark_{n}");
        self.store.borrow_mut().savepoint(&name)?;
        self.mark_write();
        Ok(Mark {
            name,
            files: self.pending_files.borrow().mark(),
            mail: self.queued_mail.borrow().len(),
        })
    }

    /// Keep the changes made since `mark` (they stay uncommitted, part of
    /// the open transaction).
    pub fn release(&self, mark: Mark) -> Result<()> {
        self.store.borrow_mut().release_savepoint(&mark.name)
    }

    /// Undo every change made since `mark`: rows, file contents written
    /// (their staged files are deleted) and mail queued. Earlier changes
    /// of the transaction stay; the mark is gone.
    pub fn rollback_to(&self, mark: Mark) -> Result<()> {
        self.cache.borrow_mut().clear();
        self.queued_mail.borrow_mut().truncate(mark.mail);
        let dropped = self.pending_files.borrow_mut().drain_from(mark.files);
        for (p, fresh) in dropped {
            discard_file(&p, fresh);
        }
        self.store.borrow_mut().rollback_to_savepoint(&mark.name)
    }

    /// Run `f` as one all-or-nothing step of the open transaction (for
    /// bulk work such as an import): when it fails, every change it made
    /// is undone and earlier uncommitted changes are kept.
    pub fn unit<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.atomic(f)
    }

    /// Run `f` as one unit: if it fails, everything it changed is undone
    /// and the transaction is as it was before. Nested calls join the
    /// outermost unit.
    fn atomic<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.depth.get() > 0 {
            self.depth.set(self.depth.get() + 1);
            let r = f();
            self.depth.set(self.depth.get() - 1);
            return r;
        }
        self.mark_write();
        let n = self.savepoints.get() + 1;
        self.savepoints.set(n);
        let name = format!("rr_op_{n}");
        self.store.borrow_mut().savepoint(&name)?;
        let files_mark = self.pending_files.borrow().mark();
        let mail_mark = self.queued_mail.borrow().len();
        self.depth.set(1);
        let r = f();
        self.depth.set(0);
        match r {
            Ok(v) => {
                self.store.borrow_mut().release_savepoint(&name)?;
                Ok(v)
            }
            Err(e) => {
                self.cache.borrow_mut().clear();
                // Mail queued by a reactor of the failed step goes with its
                // outbox rows.
                self.queued_mail.borrow_mut().truncate(mail_mark);
                let dropped = self.pending_files.borrow_mut().drain_from(files_mark);
                for (p, fresh) in dropped {
                    discard_file(&p, fresh);
                }
                if let Err(e2) = self.store.borrow_mut().rollback_to_savepoint(&name) {
                    return Err(Error::storage(format!("{e}; and undoing it failed: {e2}")));
                }
                Err(e)
            }
        }
    }

    // ----------------------------------------------------------------------
    // reading

    fn load(&self, class: &ClassDef, id: &str) -> Result<Arc<StoredNode>> {
        check_id(&class.name, id)?;
        let key = (class.name.clone(), id.to_string());
        if let Some(n) = self.cache.borrow_mut().get(&key) {
            return Ok(n.clone());
        }
        let shared = self.shared_now();
        if let Some((cache, gen)) = shared {
            if let Some(n) = cache.node(gen, &key.0, &key.1) {
                self.keep(key, n.clone());
                return Ok(n);
            }
        }
        let node = self.store.borrow_mut().get_node(class, id)?;
        match node {
            Some(n) => {
                let n = Arc::new(n);
                if let Some((cache, gen)) = shared {
                    cache.put_nodes(gen, &key.0, [(&key.1, &n)]);
                }
                self.keep(key, n.clone());
                Ok(n)
            }
            None => Err(Error::NoSuchNode {
                class: class.name.clone(),
                id: id.to_string(),
            }),
        }
    }

    /// Keep an item read in this connection's cache.
    fn keep(&self, key: (String, String), n: Arc<StoredNode>) {
        let size = keyed_node_size(&key, &n);
        self.cache.borrow_mut().insert(key, n, size);
    }

    /// Hold at most about `bytes` of items read between two commits
    /// (default [`DEFAULT_CONNECTION_CACHE`]); the least recently used
    /// are read again when needed.
    pub fn with_cache_budget(self, bytes: usize) -> Db {
        *self.cache.borrow_mut() = ClockCache::new(bytes);
        self
    }

    /// This connection's item cache: size and hit counts.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.borrow().stats()
    }

    fn forget(&self, class: &str, id: &str) {
        self.cache
            .borrow_mut()
            .remove(&(class.to_string(), id.to_string()));
    }

    /// Run `f` with the storage in bulk mode (see
    /// [`Storage::set_bulk`]): faster for many writes, but a failure may
    /// leave a half-done write behind, so the caller must roll back (or
    /// run `f` inside [`Db::unit`]) when `f` fails.
    pub fn bulk<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.store.borrow_mut().set_bulk(true)?;
        let r = f();
        let ended = self.store.borrow_mut().set_bulk(false);
        // The first failure is the one to report.
        let v = r?;
        ended?;
        Ok(v)
    }

    /// Forget the items kept in memory since they were read. Long reads
    /// over many items (an export) call it now and then to stay small.
    pub fn clear_cache(&self) {
        self.cache.borrow_mut().clear();
    }

    /// Whether the item exists (retired or not).
    pub fn has_node(&self, class: &str, id: &str) -> Result<bool> {
        self.class(class)?;
        if id.parse::<u64>().is_err() {
            return Ok(false);
        }
        if self
            .cache
            .borrow()
            .contains_key(&(class.to_string(), id.to_string()))
        {
            return Ok(true);
        }
        if let Some((cache, gen)) = self.shared_now() {
            if let Some(n) = cache.node(gen, class, id) {
                self.keep((class.to_string(), id.to_string()), n);
                return Ok(true);
            }
        }
        self.store.borrow_mut().has_node(class, id)
    }

    /// A property value (`None` when unset; `[]` for an empty multilink).
    pub fn get(&self, class: &str, id: &str, prop: &str) -> Result<Option<Value>> {
        let cls = self.class(class)?;
        if prop == "id" {
            check_id(class, id)?;
            if !self.has_node(class, id)? {
                return Err(Error::NoSuchNode {
                    class: class.into(),
                    id: id.into(),
                });
            }
            return Ok(Some(Value::String(id.to_string())));
        }
        let p = cls.require_prop(prop)?;
        if cls.is_file_content(prop) {
            let content = self.file_content(class, id)?;
            return Ok(Some(bytes_value(content)));
        }
        if let Some(from) = &p.computed {
            check_id(class, id)?;
            let source = self.class(&from.class)?;
            let ids =
                self.store
                    .borrow_mut()
                    .find_linking(source, &from.prop, &[id.to_string()])?;
            return Ok(Some(Value::Multilink(ids)));
        }
        let node = self.load(cls, id)?;
        let v = node.values.get(prop).cloned().flatten();
        Ok(empty_multilink_as_list(v, p.ptype))
    }

    /// All stored values of an item (no file content), shared with the
    /// connection's cache.
    pub fn get_node(&self, class: &str, id: &str) -> Result<Arc<StoredNode>> {
        let cls = self.class(class)?;
        self.load(cls, id)
    }

    /// Those of `ids` neither cache holds; the ones the shared cache
    /// holds are kept in this connection's on the way.
    fn uncached(&self, class: &str, ids: &[String]) -> Vec<String> {
        // One key buffer for all the look-ups: no allocation per id.
        let mut key = (class.to_string(), String::new());
        let mut held = |cache: &ClockCache<(String, String), Arc<StoredNode>>, id: &String| {
            key.1.clone_from(id);
            cache.contains_key(&key)
        };
        let missing: Vec<String> = {
            let cache = self.cache.borrow();
            ids.iter().filter(|id| !held(&cache, id)).cloned().collect()
        };
        let Some((sc, gen)) = self.shared_now() else {
            return missing;
        };
        if missing.is_empty() {
            return missing;
        }
        let found = sc.nodes(gen, class, &missing);
        if found.is_empty() {
            return missing;
        }
        for (id, node) in found {
            self.keep((class.to_string(), id), node);
        }
        let cache = self.cache.borrow();
        missing.into_iter().filter(|id| !held(&cache, id)).collect()
    }

    /// Load many items of a class in one storage round trip, so that the
    /// `get`s that follow (an index page's cells) are served from the cache.
    pub fn prefetch(&self, class: &str, ids: &[String]) -> Result<()> {
        let cls = self.class(class)?;
        let shared = self.shared_now();
        let missing = self.uncached(class, ids);
        if missing.is_empty() {
            return Ok(());
        }
        let loaded: Vec<(String, Arc<StoredNode>)> = self
            .store
            .borrow_mut()
            .get_nodes(cls, &missing)?
            .into_iter()
            .map(|(id, n)| (id, Arc::new(n)))
            .collect();
        if let Some((sc, gen)) = shared {
            sc.put_nodes(gen, class, loaded.iter().map(|(id, n)| (id, n)));
        }
        for (id, node) in loaded {
            self.keep((class.to_string(), id), node);
        }
        Ok(())
    }

    /// For a list that shows only `props` of `ids`: the items neither
    /// cache holds, read with only those columns (see
    /// [`Storage::get_node_columns`]). They are not cached: the caller
    /// keeps them for its page and reads whole items through
    /// [`Db::get_node`] for anything else (the ids left out, which the
    /// caches hold, are served whole from there).
    pub fn read_columns(
        &self,
        class: &str,
        ids: &[String],
        props: &[&str],
    ) -> Result<HashMap<String, StoredNode>> {
        let cls = self.class(class)?;
        let missing = self.uncached(class, ids);
        if missing.is_empty() {
            return Ok(HashMap::new());
        }
        self.store
            .borrow_mut()
            .get_node_columns(cls, &missing, props)
    }

    pub fn is_retired(&self, class: &str, id: &str) -> Result<bool> {
        Ok(self.get_node(class, id)?.retired)
    }

    /// Ids of active items, numerically sorted (Roundup's `list()`).
    pub fn list(&self, class: &str) -> Result<Vec<String>> {
        self.class(class)?;
        self.store.borrow_mut().node_ids(class, Some(false))
    }

    /// Ids with a retired filter: `None` all, `Some(true)` only retired.
    pub fn getnodeids(&self, class: &str, retired: Option<bool>) -> Result<Vec<String>> {
        self.class(class)?;
        self.store.borrow_mut().node_ids(class, retired)
    }

    /// Number of active items.
    pub fn count(&self, class: &str) -> Result<u64> {
        self.class(class)?;
        self.store.borrow_mut().count(class)
    }

    /// Id of the active item with this key value.
    pub fn lookup(&self, class: &str, key: &str) -> Result<String> {
        let cls = self.class(class)?;
        if cls.key.is_none() {
            return Err(Error::value(format!(
                "class \"{class}\" has no key property"
            )));
        }
        self.through_shared(
            format!("lookup\0{class}\0{key}"),
            |r| match r {
                QueryResult::Ids(ids) => ids.first().cloned(),
                _ => None,
            },
            |id| QueryResult::Ids(Arc::new(vec![id.clone()])),
            || {
                self.store
                    .borrow_mut()
                    .lookup_key(cls, key)?
                    .ok_or_else(|| Error::NoSuchKey {
                        class: class.into(),
                        key: key.into(),
                    })
            },
        )
    }

    /// Roundup's `find`: active items linking to any of the given ids.
    ///
    /// As in Roundup, the Link properties must all match (each to any of
    /// its ids) and every Multilink property adds the items linking to any
    /// of its ids. For a Link, `-1` (or an empty value) means "not set"
    /// and may stand beside ids; for a Multilink it matches nothing, as in
    /// Roundup, where it names no item.
    pub fn find(&self, class: &str, spec: &[(&str, Vec<String>)]) -> Result<Vec<String>> {
        let cls = self.class(class)?;
        // Sets, not lists: a full-text search asks for the items linking
        // to thousands of messages at once.
        let mut out: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut links: Option<std::collections::HashSet<String>> = None;
        for (prop, ids) in spec {
            let p = cls.require_prop(prop)?;
            if !p.is_pointer() {
                return Err(Error::value(format!(
                    "{class}.{prop} is a {}, find needs a Link or Multilink",
                    p.ptype.name()
                )));
            }
            let target = p.link_class.as_deref().unwrap_or_default();
            let mut resolved = Vec::new();
            let mut unset = false;
            for id in ids {
                if p.ptype == PropType::Link && p.raw_means_unset(id) {
                    unset = true;
                } else if p.ptype == PropType::Multilink && p.try_id_parsing && id.trim() == "-1" {
                    continue;
                } else {
                    resolved.push(self.resolve_link(target, id, prop)?);
                }
            }
            let mut found: std::collections::HashSet<String> = if resolved.is_empty() {
                Default::default()
            } else {
                self.store
                    .borrow_mut()
                    .find_linking(cls, prop, &resolved)?
                    .into_iter()
                    .collect()
            };
            if unset {
                let mut q = Query::all(class);
                q.filters.push(crate::filter::Filter {
                    path: vec![prop.to_string()],
                    cond: crate::filter::Condition::Empty,
                });
                found.extend(self.filter_query(&q)?);
            }
            if p.ptype == PropType::Link {
                links = Some(match links {
                    None => found,
                    Some(before) => before.into_iter().filter(|id| found.contains(id)).collect(),
                });
            } else {
                out.extend(found);
            }
        }
        out.extend(links.unwrap_or_default());
        let mut out: Vec<String> = out.into_iter().collect();
        sort_ids(&mut out);
        Ok(out)
    }

    /// Active items of `class` whose Link or Multilink `prop` points at
    /// any of `ids`, sorted by id: `find` for ids that came from the
    /// database itself (a full-text search's messages), so neither looked
    /// up as keys nor checked one by one; an id naming nothing matches
    /// nothing.
    pub fn find_linking_ids(&self, class: &str, prop: &str, ids: &[String]) -> Result<Vec<String>> {
        let cls = self.class(class)?;
        if !cls.require_prop(prop)?.is_pointer() {
            return Err(Error::value(format!(
                "{class}.{prop} is not a Link or Multilink property"
            )));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = self.store.borrow_mut().find_linking(cls, prop, ids)?;
        sort_ids(&mut out);
        out.dedup();
        Ok(out)
    }

    /// Active items whose String properties equal all the given values
    /// exactly (Roundup's `stringFind`).
    pub fn stringfind(&self, class: &str, spec: &[(&str, &str)]) -> Result<Vec<String>> {
        let cls = self.class(class)?;
        let mut q = Query::all(class);
        for (prop, value) in spec {
            let p = cls.require_prop(prop)?;
            if p.ptype != PropType::String {
                return Err(Error::value(format!(
                    "{class}.{prop} is not a String property"
                )));
            }
            q.filters.push(crate::filter::Filter {
                path: vec![prop.to_string()],
                cond: crate::filter::Condition::Exact(vec![value.to_string()]),
            });
        }
        self.filter_query(&q)
    }

    /// Roundup's `filter()`: resolve a raw filterspec (values as typed in a
    /// URL or on the command line, dates in the user's time zone) and run it.
    pub fn filter(&self, class: &str, spec: &crate::filter::FilterSpec) -> Result<Vec<String>> {
        let q = self.resolve_spec(class, spec)?;
        self.filter_query(&q)
    }

    /// A raw filterspec resolved against the schema, keys looked up and
    /// dates read in the user's time zone.
    fn resolve_spec(&self, class: &str, spec: &crate::filter::FilterSpec) -> Result<Query> {
        let tz = self.user_timezone()?;
        let lookup = |cls: &str, key: &str| -> Result<Option<String>> {
            let c = self.class(cls)?;
            if c.key.is_none() {
                return Ok(None);
            }
            self.store.borrow_mut().lookup_key(c, key)
        };
        crate::filter::parse_query(&self.def.schema, class, spec, &tz, &lookup)
    }

    /// How many items Roundup's `filter()` would return for this spec
    /// (ignoring its sort and paging), without fetching them.
    pub fn filter_count(&self, class: &str, spec: &crate::filter::FilterSpec) -> Result<u64> {
        let q = self.resolve_spec(class, spec)?;
        self.count_query(&q)
    }

    /// How many items a resolved query matches (its order and paging
    /// ignored), kept in the shared cache until the next commit. A large
    /// count also keeps the query's matches in id order as a whole order
    /// (repaired after commits like any other), so that after a commit it
    /// is that order's length instead of another walk of an index.
    fn count_query(&self, q: &Query) -> Result<u64> {
        let shared = self
            .shared_now()
            .filter(|_| q.search_ids.is_none() && q.limit.is_none());
        let Some((sc, gen)) = shared else {
            return self.count_in_database(q);
        };
        let by_id = Query {
            sort: vec![(crate::filter::Direction::Asc, vec!["id".to_string()])],
            ..q.unordered()
        };
        let key = query_key("ids", &by_id);
        let kept = sc.kept_order(gen, &key);
        match kept {
            Some((n, true)) => return Ok(n as u64),
            Some((_, false)) => {
                if let Some(_turn) = sc.order_turn() {
                    if self.bring_order_up_to_date(sc, gen, &key, &by_id)? {
                        if let Some((n, true)) = sc.kept_order(gen, &key) {
                            return Ok(n as u64);
                        }
                    }
                }
            }
            None => {
                if let Some(n) = self.count_by_fetching(sc, gen, q, &key, &by_id)? {
                    return Ok(n);
                }
            }
        }
        let n = self.count_in_database(q)?;
        if kept.is_none()
            && n >= self.count_order_min
            && sc.fits_order(usize::try_from(n).unwrap_or(usize::MAX), &key)
        {
            if let Some(_turn) = sc.order_turn() {
                self.keep_whole_order(sc, gen, &key, &by_id)?;
            }
        }
        Ok(n)
    }

    /// A count not known yet, taken in one walk: the matches are fetched
    /// in id order, their number is the count, and a large enough set is
    /// kept as [`Db::count_query`] keeps one (counting, then fetching
    /// what was counted, walked a million-item class twice). Only while
    /// no other connection fetches a whole order (the fetch holds every
    /// match at once); `None` then, or when the database keeps no orders,
    /// and the count is the database's.
    fn count_by_fetching(
        &self,
        sc: &SharedCache,
        gen: u64,
        q: &Query,
        key: &str,
        by_id: &Query,
    ) -> Result<Option<u64>> {
        let count_key = query_key("count", q);
        if let Some(QueryResult::Count(n)) = sc.query(gen, &count_key) {
            return Ok(Some(n));
        }
        let Some(_turn) = sc.order_turn() else {
            return Ok(None);
        };
        let Some(order) = self
            .store
            .borrow_mut()
            .filter_order(&self.def.schema, by_id)?
        else {
            return Ok(None);
        };
        let n = order.len();
        sc.put_query(gen, count_key, QueryResult::Count(n as u64));
        if n as u64 >= self.count_order_min && sc.fits_order(n, key) {
            self.put_whole_order(sc, gen, key, by_id, order);
        }
        Ok(Some(n as u64))
    }

    /// [`Db::count_query`] as the database counts, kept in the shared
    /// cache until the next commit.
    fn count_in_database(&self, q: &Query) -> Result<u64> {
        self.through_shared(
            query_key("count", q),
            |r| match r {
                QueryResult::Count(n) => Some(n),
                _ => None,
            },
            |n| QueryResult::Count(*n),
            || self.store.borrow_mut().filter_count(&self.def.schema, q),
        )
    }

    /// Run a resolved filter query.
    pub fn filter_query(&self, q: &Query) -> Result<Vec<String>> {
        self.class(&q.class)?;
        if let Some(page) = self.matched_page(q)? {
            return Ok(page);
        }
        if let Some(page) = self.deep_page(q)? {
            return Ok(page);
        }
        self.through_shared(
            query_key("ids", q),
            |r| match r {
                QueryResult::Ids(ids) => Some(ids.as_ref().clone()),
                _ => None,
            },
            |ids| QueryResult::Ids(Arc::new(ids.clone())),
            || self.store.borrow_mut().filter(&self.def.schema, q),
        )
    }

    /// A deep page (`@startwith` past the first few hundred) cut from the
    /// whole order, which the shared cache keeps until the next commit
    /// (within `[main] order_cache_size`): the database walks an index
    /// from the start to reach a deep offset, and sorts everything for a
    /// property without one, so random pages of one order cost one walk
    /// per commit instead of one each. An order kept already serves any
    /// page, shallow ones too. `None`: the page is the database's (a
    /// shallow page, an order too long to keep, or another connection
    /// fetching an order: see [`SharedCache::order_turn`]).
    fn deep_page(&self, q: &Query) -> Result<Option<Vec<String>>> {
        /// Pages before this offset cost the database next to nothing.
        const DEEP: u64 = 500;
        let Some(limit) = q.limit else {
            return Ok(None);
        };
        let Some((sc, gen)) = self.shared_now() else {
            return Ok(None);
        };
        let whole = Query {
            limit: None,
            offset: 0,
            ..q.clone()
        };
        let key = query_key("ids", &whole);
        let (offset, len) = (
            usize::try_from(q.offset).unwrap_or(usize::MAX),
            usize::try_from(limit).unwrap_or(usize::MAX),
        );
        if let Some(page) = sc.order_slice(gen, &key, offset, len) {
            return Ok(Some(page));
        }
        if q.offset < DEEP {
            return Ok(None);
        }
        if sc.kept_order(gen, &key).is_none() {
            let n = self.count_query(&whole.unordered())?;
            if !sc.fits_order(usize::try_from(n).unwrap_or(usize::MAX), &key) {
                return Ok(None);
            }
        }
        let Some(_turn) = sc.order_turn() else {
            return Ok(None);
        };
        // kept by the connection whose turn just ended?
        if let Some(page) = sc.order_slice(gen, &key, offset, len) {
            return Ok(Some(page));
        }
        if !self.bring_order_up_to_date(sc, gen, &key, &whole)? {
            return Ok(None);
        }
        Ok(sc.order_slice(gen, &key, offset, len))
    }

    /// Make the whole order of `whole` under `key` the current one: a kept
    /// order behind by some commits is repaired ([`Db::repair_order`]),
    /// else (or when the repair fails) the order is fetched whole. Called
    /// with the order turn held. False when nothing could be kept.
    fn bring_order_up_to_date(
        &self,
        sc: &SharedCache,
        gen: u64,
        key: &str,
        whole: &Query,
    ) -> Result<bool> {
        let kept = match sc.stale_order(gen, key) {
            Some(stale) => match self.repair_order(sc, gen, key, whole, stale)? {
                Repair::Done => true,
                Repair::Raced => return Ok(false),
                Repair::Misfit => self.keep_whole_order(sc, gen, key, whole)?,
            },
            None => self.keep_whole_order(sc, gen, key, whole)?,
        };
        // The order's length is its query's count: at a million items a
        // count walks an index (tens of milliseconds), after every commit.
        if let Some((n, true)) = sc.kept_order(gen, key) {
            sc.put_query(
                gen,
                query_key("count", &whole.unordered()),
                QueryResult::Count(n as u64),
            );
        }
        Ok(kept)
    }

    /// Repair a kept order that commits left behind: the items they
    /// changed leave it, and each that still matches is placed again by
    /// the database's own order: asked for the item among up to
    /// [`PIVOTS`](Self::repair_order) evenly spaced ids of the order, it
    /// says which stretch the item falls in, and the next question is
    /// about that stretch alone (four questions of 49 ids place an item in
    /// a million). The order's `ORDER BY` ends with the id, so every
    /// answer is one total order's, provided every answer sees the same
    /// database: the one the cache's marks describe. So nothing is kept
    /// when another connection committed since this request looked
    /// ([`Repair::Raced`]: the next request repairs), nor when an answer
    /// does not fit the order as kept ([`Repair::Misfit`]).
    fn repair_order(
        &self,
        sc: &SharedCache,
        gen: u64,
        key: &str,
        whole: &Query,
        stale: crate::shared_cache::StaleOrder,
    ) -> Result<Repair> {
        use crate::filter::IdSet;
        const PIVOTS: usize = 48;
        let changed = IdSet::from_sorted(stale.changed);
        let mut ids: Vec<u32> = Vec::with_capacity(stale.ids.len() + changed.len());
        ids.extend(stale.ids.iter().copied().filter(|&i| !changed.contains(i)));
        drop(stale.ids);
        let among = |set: IdSet| -> Result<Option<Vec<u32>>> {
            let q = Query {
                search_ids: Some(Arc::new(set)),
                ..whole.clone()
            };
            self.store.borrow_mut().filter_order(&self.def.schema, &q)
        };
        let Some(present) = among(changed)? else {
            return Ok(Repair::Misfit);
        };
        // the items come back in the order's order: each goes after the last
        let mut from = 0usize;
        for x in present {
            let (mut lo, mut hi) = (from, ids.len());
            while lo < hi {
                let n = hi - lo;
                let pivots: Vec<usize> = if n <= PIVOTS {
                    (lo..hi).collect()
                } else {
                    (0..PIVOTS).map(|k| lo + k * n / PIVOTS).collect()
                };
                let mut set: Vec<u32> = pivots.iter().map(|&p| ids[p]).collect();
                set.push(x);
                let Some(got) = among(IdSet::new(set))? else {
                    return Ok(Repair::Misfit);
                };
                let Some(before) = got.iter().position(|&i| i == x) else {
                    return Ok(Repair::Misfit);
                };
                let fits = got.len() == pivots.len() + 1
                    && got
                        .iter()
                        .filter(|&&i| i != x)
                        .eq(pivots.iter().map(|&p| &ids[p]));
                if !fits {
                    return Ok(Repair::Misfit);
                }
                if before > 0 {
                    lo = pivots[before - 1] + 1;
                }
                hi = pivots.get(before).copied().unwrap_or(hi);
            }
            ids.insert(lo, x);
            from = lo + 1;
        }
        // Reads outside a transaction each see the latest commit: were
        // there any since this request looked, the answers may mix two
        // databases (a pivot moved by one of them misplaces an item).
        if self.store.borrow_mut().data_version()? != self.seen_version.get() {
            return Ok(Repair::Raced);
        }
        Ok(if sc.put_repaired(gen, key, ids) {
            Repair::Done
        } else {
            Repair::Raced
        })
    }

    /// The classes `q` reads: its own first, then every class its filter,
    /// sort and group paths lead through (a Link sort goes on through the
    /// linked class's order property). `None` when a path goes through a
    /// computed property (it may read anything) or is not the schema's.
    fn query_reads(&self, q: &Query) -> Option<Vec<String>> {
        let schema = &self.def.schema;
        let root = schema.class(&q.class).ok()?;
        let mut reads = vec![q.class.clone()];
        let paths = q
            .filters
            .iter()
            .map(|f| &f.path)
            .chain(q.sort.iter().chain(&q.group).map(|(_, p)| p));
        for path in paths {
            let mut cls = root;
            let mut steps: Vec<String> = path.clone();
            let mut i = 0;
            while i < steps.len() {
                let prop = cls.prop(&steps[i])?;
                if prop.is_computed() {
                    return None;
                }
                if prop.is_pointer() {
                    let target = schema.class(prop.link_class.as_deref()?).ok()?;
                    if !reads.contains(&target.name) {
                        reads.push(target.name.clone());
                    }
                    if i + 1 == steps.len() && prop.is_link() {
                        // sorted by the linked class's order property
                        if steps.len() > 16 {
                            return None;
                        }
                        steps.push(target.order_prop());
                    }
                    cls = target;
                }
                i += 1;
            }
        }
        Some(reads)
    }

    /// Fetch the whole order of `whole` (a query without a page) and keep
    /// it in the shared cache under `key`: false when its ids are not
    /// plain numbers or a commit started a new generation meanwhile.
    fn keep_whole_order(
        &self,
        sc: &SharedCache,
        gen: u64,
        key: &str,
        whole: &Query,
    ) -> Result<bool> {
        let order = self
            .store
            .borrow_mut()
            .filter_order(&self.def.schema, whole)?;
        Ok(order.is_some_and(|o| self.put_whole_order(sc, gen, key, whole, o)))
    }

    /// Keep `order`, the whole order of `whole`, under `key` (false when
    /// the cache refuses it: see [`SharedCache::put_order`]).
    fn put_whole_order(
        &self,
        sc: &SharedCache,
        gen: u64,
        key: &str,
        whole: &Query,
        order: Vec<u32>,
    ) -> bool {
        let reads = self.query_reads(whole);
        let names: Option<Vec<&str>> = reads
            .as_ref()
            .map(|r| r.iter().map(String::as_str).collect());
        sc.put_order(gen, key, order.into_boxed_slice(), names.as_deref())
    }

    /// A page of a full-text search with many matches, cut from the
    /// whole order of the same query without the matches (the shared
    /// cache's; when it is not kept, fetched as [`Db::deep_page`] fetches
    /// one if the class is small or the database would walk far for the
    /// page): the order is walked keeping the matches, so a search costs
    /// its page, not a sort of every match. Index pages of the same sort
    /// share the order. `None`: the database answers (few matches, no
    /// order to be had, or the matches too sparse early in the order).
    fn matched_page(&self, q: &Query) -> Result<Option<Vec<String>>> {
        /// Below this many matches the database's `IN` list is cheap.
        const MIN_MATCHES: usize = 256;
        /// Up to this many items a whole order is fetched for any search.
        const ORDER_FETCH_ALWAYS: usize = 100_000;
        /// Rows the database would walk for the page, past which the
        /// order is fetched whatever its length.
        const DEEP_WALK: usize = 500;
        let (Some(limit), Some(ids)) = (q.limit, &q.search_ids) else {
            return Ok(None);
        };
        if ids.len() < MIN_MATCHES {
            return Ok(None);
        }
        let Some((sc, gen)) = self.shared_now() else {
            return Ok(None);
        };
        let whole = Query {
            search_ids: None,
            limit: None,
            offset: 0,
            ..q.clone()
        };
        let key = query_key("ids", &whole);
        let page = (
            usize::try_from(q.offset).unwrap_or(usize::MAX),
            usize::try_from(limit).unwrap_or(usize::MAX),
        );
        let kept = sc.kept_order(gen, &key);
        let total = match kept {
            Some((n, _)) => n,
            None => usize::try_from(self.count_query(&whole.unordered())?).unwrap_or(usize::MAX),
        };
        // Entries to walk if the matches are spread evenly, with room for
        // unevenness; a walk that goes further is left to the database.
        let need = page.0.saturating_add(page.1);
        let expected = need.saturating_mul(total) / ids.len().max(1);
        let max_walk = expected.saturating_mul(4).max(10_000);
        if let Some(found) = sc.order_matches(gen, &key, ids, page, max_walk) {
            return Ok(Some(found));
        }
        match kept {
            // kept and current: the walk was too long
            Some((_, true)) => return Ok(None),
            // behind by some commits: a repair costs a few queries
            Some((_, false)) => {}
            // Fetching a whole order costs a walk of every item (a second
            // at a million): worth it when that is cheap, or when the
            // database would walk far for this page anyway.
            None => {
                if (total > ORDER_FETCH_ALWAYS && expected < DEEP_WALK)
                    || !sc.fits_order(total, &key)
                {
                    return Ok(None);
                }
            }
        }
        let Some(_turn) = sc.order_turn() else {
            return Ok(None);
        };
        if let Some(found) = sc.order_matches(gen, &key, ids, page, max_walk) {
            return Ok(Some(found));
        }
        if !self.bring_order_up_to_date(sc, gen, &key, &whole)? {
            return Ok(None);
        }
        Ok(sc.order_matches(gen, &key, ids, page, max_walk))
    }

    /// The journal of an item, oldest first.
    pub fn history(&self, class: &str, id: &str) -> Result<Vec<JournalEntry>> {
        self.class(class)?;
        if !self.has_node(class, id)? {
            return Err(Error::NoSuchNode {
                class: class.into(),
                id: id.into(),
            });
        }
        self.store.borrow_mut().get_journal(class, id)
    }

    /// Full-text search over indexed properties.
    pub fn search_text(
        &self,
        words: &[String],
        classes: Option<&[String]>,
    ) -> Result<Vec<TextHit>> {
        self.through_shared(
            format!("text\0{words:?}\0{classes:?}"),
            |r| match r {
                QueryResult::Hits(h) => Some(h.as_ref().clone()),
                _ => None,
            },
            |hits| QueryResult::Hits(Arc::new(hits.clone())),
            || self.store.borrow_mut().search_text(words, classes),
        )
    }

    /// The items of `class` a search for all `words` finds, when the
    /// storage keeps texts with the items that point to them
    /// ([`Storage::search_text_owners`]); `None`: see
    /// [`crate::query_args::full_text_matches`].
    pub fn search_text_owners(
        &self,
        words: &[String],
        class: &str,
    ) -> Result<Option<crate::filter::IdSet>> {
        self.class(class)?;
        self.store.borrow_mut().search_text_owners(words, class)
    }

    // ----------------------------------------------------------------------
    // file contents

    /// Where the content of a FileClass item lives: `files/<class>/<id/1000>/<class><id>`.
    pub fn file_path(&self, class: &str, id: &str) -> Result<PathBuf> {
        content_path(&self.files_dir(), class, id)
    }

    /// The directory holding the file contents (`db/files`).
    pub fn files_dir(&self) -> PathBuf {
        self.opts.db_dir.join("files")
    }

    /// Whether this transaction has written (or staged) content for the
    /// item already.
    pub fn file_pending(&self, class: &str, id: &str) -> Result<bool> {
        let path = self.file_path(class, id)?;
        Ok(self.pending_files.borrow().contains(&path))
    }

    /// The content of a FileClass item (including content written in the
    /// current, uncommitted transaction).
    pub fn file_content(&self, class: &str, id: &str) -> Result<Vec<u8>> {
        let path = self.file_path(class, id)?;
        if self.pending_files.borrow().is_staged(&path) {
            let tmp = temp_path(&path);
            return fs::read(&tmp).map_err(|e| Error::io(format!("reading {}", tmp.display()), e));
        }
        match fs::read(&path) {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Roundup's older flat layout: files/<class>/<class><id>
                let flat = self
                    .opts
                    .db_dir
                    .join("files")
                    .join(class)
                    .join(format!("{class}{id}"));
                fs::read(&flat).map_err(|_| {
                    Error::io(
                        format!(
                            "content file for {class}{id} not found at {}",
                            path.display()
                        ),
                        e,
                    )
                })
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// Write file content for the open transaction: next to its place as
    /// `<name>.tmp`, moved there at commit. With `direct` (imports), a file
    /// that does not exist yet is written in place at once (nothing to
    /// keep for a rollback, which deletes it again).
    fn store_file(&self, class: &str, id: &str, content: &[u8], direct: bool) -> Result<()> {
        let path = self.file_path(class, id)?;
        if let Some(dir) = path.parent() {
            if !self.pending_files.borrow().dir_known(dir) {
                fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                self.pending_files.borrow_mut().add_dir(dir);
            }
        }
        if direct
            && !self.pending_files.borrow().contains(&path)
            && place_new_file(&path, content)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?
        {
            self.pending_files.borrow_mut().push_fresh(path);
            return Ok(());
        }
        let tmp = temp_path(&path);
        fs::write(&tmp, content).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        self.pending_files.borrow_mut().push(path);
        Ok(())
    }

    // ----------------------------------------------------------------------
    // writing

    /// Create an item; returns its id. Auditors may change `values` or
    /// reject; reactors run after the item is written.
    pub fn create(&self, class: &str, values: Values) -> Result<String> {
        self.atomic(|| self.create_inner(class, values, None))
    }

    /// Create a FileClass item with binary content. Auditors see the content
    /// as `content` when it is UTF-8 text.
    pub fn create_with_content(
        &self,
        class: &str,
        mut values: Values,
        content: Vec<u8>,
    ) -> Result<String> {
        match String::from_utf8(content) {
            Ok(text) => {
                values.insert("content".into(), Some(Value::String(text)));
                self.create(class, values)
            }
            Err(e) => self.atomic(|| self.create_inner(class, values, Some(e.into_bytes()))),
        }
    }

    fn create_inner(
        &self,
        class: &str,
        mut values: Values,
        binary: Option<Vec<u8>>,
    ) -> Result<String> {
        let cls = self.class(class)?;
        for name in values.keys() {
            check_settable(cls, name)?;
        }
        for auditor in self.def.detectors.auditors(class, Op::Create) {
            auditor.audit(self, class, None, Some(&mut values))?;
        }
        for name in values.keys() {
            check_settable(cls, name)?;
        }

        let mut content: Option<Vec<u8>> = binary;
        let mut resolved: Values = IndexMap::new();
        for (name, value) in values {
            if cls.is_file_content(&name) {
                content = match value {
                    Some(v) => Some(value_bytes(v)?),
                    None => None,
                };
                continue;
            }
            let p = cls.require_prop(&name)?;
            let v = self.validate(cls, &name, p, value)?;
            resolved.insert(name, v);
        }
        if let Some(key) = &cls.key {
            match resolved.get(key) {
                Some(Some(Value::String(k))) => {
                    if self.store.borrow_mut().lookup_key(cls, k)?.is_some() {
                        return Err(Error::value(format!("node with key \"{k}\" exists")));
                    }
                }
                _ => return Err(Error::value(format!("key property \"{key}\" is required"))),
            }
        }

        let newid = self.store.borrow_mut().new_id(class)?.to_string();
        let uid = self.getuid();
        let now = Date::now();

        let mut row: NodeValues = NodeValues::default();
        for (name, p) in &cls.props {
            if p.is_computed() || cls.is_file_content(name) {
                continue;
            }
            let v = resolved.get(name).cloned().flatten();
            let v = empty_multilink_as_list(v, p.ptype);
            row.insert(name.clone(), v);
        }
        row.insert("creation".into(), Some(Value::Date(now)));
        row.insert("activity".into(), Some(Value::Date(now)));
        row.insert("creator".into(), Some(Value::Link(uid.clone())));
        row.insert("actor".into(), Some(Value::Link(uid.clone())));
        self.store.borrow_mut().add_node(cls, &newid, &row)?;

        if let Some(c) = &content {
            self.store_file(class, &newid, c, false)?;
        }

        // link events on the targets, then the item's own create entry
        if cls.do_journal {
            for (name, p) in &cls.props {
                if !p.is_pointer() || !p.do_journal {
                    continue;
                }
                let target = p.link_class.as_deref().unwrap_or_default();
                let ids: Vec<String> = match row.get(name) {
                    Some(Some(Value::Link(id))) => vec![id.clone()],
                    Some(Some(Value::Multilink(ids))) => ids.clone(),
                    _ => continue,
                };
                for tid in ids {
                    self.journal_link(target, &tid, "link", class, &newid, name, now)?;
                }
            }
            self.write_journal(class, &newid, "create", PyValue::Dict(Vec::new()), now)?;
        }

        self.index_item(cls, &newid, &resolved, content.as_deref())?;

        for reactor in self.def.detectors.reactors(class, Op::Create) {
            reactor.react(self, class, &newid, None)?;
        }
        Ok(newid)
    }

    /// Change properties of an item; returns the properties that actually
    /// changed (quiet ones left out, as Roundup does).
    pub fn set(&self, class: &str, id: &str, values: Values) -> Result<Values> {
        self.atomic(|| self.set_inner(class, id, values))
    }

    fn set_inner(&self, class: &str, id: &str, mut values: Values) -> Result<Values> {
        let cls = self.class(class)?;
        for name in values.keys() {
            check_settable(cls, name)?;
        }
        let node = self.load(cls, id)?;
        if node.retired {
            return Err(Error::value(format!(
                "{class}{id} is retired; restore it before changing it"
            )));
        }
        for auditor in self.def.detectors.auditors(class, Op::Set) {
            auditor.audit(self, class, Some(id), Some(&mut values))?;
        }
        for name in values.keys() {
            check_settable(cls, name)?;
        }
        let node = self.load(cls, id)?;
        let oldvalues = self.full_values(cls, &node);

        let mut changes: NodeValues = NodeValues::default();
        let mut ml_changes: HashMap<String, MultilinkChange> = HashMap::new();
        let mut journal: Vec<(PyValue, PyValue)> = Vec::new();
        let mut changed: Values = IndexMap::new();
        let mut new_content: Option<Vec<u8>> = None;
        let mut link_events: Vec<(String, String, &'static str, String)> = Vec::new();
        let mut index_values: Values = IndexMap::new();

        for (name, value) in values {
            if cls.is_file_content(&name) {
                if let Some(v) = value {
                    new_content = Some(value_bytes(v)?);
                }
                continue;
            }
            let p = cls.require_prop(&name)?;
            let value = self.validate(cls, &name, p, value)?;
            let current = node.values.get(&name).cloned().flatten();
            let current = empty_multilink_as_list(current, p.ptype);
            if same_value(&value, &current, p.ptype) {
                continue;
            }
            if cls.key.as_deref() == Some(name.as_str()) {
                match &value {
                    Some(Value::String(k)) => {
                        if let Some(other) = self.store.borrow_mut().lookup_key(cls, k)? {
                            if other != id {
                                return Err(Error::value(format!("node with key \"{k}\" exists")));
                            }
                        }
                    }
                    _ => {
                        return Err(Error::value(format!(
                            "key property \"{name}\" may not be empty"
                        )))
                    }
                }
            }
            let target = p.link_class.clone().unwrap_or_default();
            match p.ptype {
                PropType::Multilink => {
                    let old: Vec<String> = current
                        .as_ref()
                        .and_then(|v| v.as_ids())
                        .unwrap_or(&[])
                        .to_vec();
                    let new: Vec<String> = value
                        .as_ref()
                        .and_then(|v| v.as_ids())
                        .unwrap_or(&[])
                        .to_vec();
                    let remove: Vec<String> =
                        old.iter().filter(|x| !new.contains(x)).cloned().collect();
                    let mut add: Vec<String> = Vec::new();
                    for x in &new {
                        if !old.contains(x) && !add.contains(x) {
                            add.push(x.clone());
                        }
                    }
                    if p.do_journal {
                        for r in &remove {
                            link_events.push((target.clone(), r.clone(), "unlink", name.clone()));
                        }
                        for a in &add {
                            link_events.push((target.clone(), a.clone(), "link", name.clone()));
                        }
                    }
                    let mut parts = Vec::new();
                    if !add.is_empty() {
                        parts.push(PyValue::Tuple(vec![
                            PyValue::Str("+".into()),
                            str_list(&add),
                        ]));
                    }
                    if !remove.is_empty() {
                        parts.push(PyValue::Tuple(vec![
                            PyValue::Str("-".into()),
                            str_list(&remove),
                        ]));
                    }
                    if !parts.is_empty() {
                        journal.push((PyValue::Str(name.clone()), PyValue::Tuple(parts)));
                    }
                    ml_changes.insert(name.clone(), MultilinkChange { add, remove });
                }
                PropType::Link => {
                    if p.do_journal {
                        if let Some(Value::Link(old)) = &current {
                            link_events.push((target.clone(), old.clone(), "unlink", name.clone()));
                        }
                        if let Some(Value::Link(new)) = &value {
                            link_events.push((target.clone(), new.clone(), "link", name.clone()));
                        }
                    }
                    journal.push((PyValue::Str(name.clone()), journal_value(&current)));
                    changes.insert(name.clone(), value.clone());
                }
                _ => {
                    journal.push((PyValue::Str(name.clone()), journal_value(&current)));
                    changes.insert(name.clone(), value.clone());
                }
            }
            if p.ptype == PropType::String && p.indexme {
                index_values.insert(name.clone(), value.clone());
            }
            if !p.quiet {
                changed.insert(name.clone(), value);
            }
        }

        if changes.is_empty() && ml_changes.is_empty() && new_content.is_none() {
            return Ok(changed);
        }
        let now = Date::now();
        let uid = self.getuid();
        changes.insert("activity".into(), Some(Value::Date(now)));
        changes.insert("actor".into(), Some(Value::Link(uid)));
        self.forget(class, id);
        self.store
            .borrow_mut()
            .set_node(cls, id, &changes, &ml_changes)?;
        if let Some(c) = &new_content {
            self.store_file(class, id, c, false)?;
        }
        if cls.do_journal {
            for (target, tid, action, prop) in &link_events {
                self.journal_link(target, tid, action, class, id, prop, now)?;
            }
            if !journal.is_empty() {
                self.write_journal(class, id, "set", PyValue::Dict(journal), now)?;
            }
        }
        self.index_item(cls, id, &index_values, new_content.as_deref())?;

        for reactor in self.def.detectors.reactors(class, Op::Set) {
            reactor.react(self, class, id, Some(&oldvalues))?;
        }
        Ok(changed)
    }

    /// Retire an item: it keeps its values but leaves lists, finds and
    /// lookups, and its key may be reused.
    pub fn retire(&self, class: &str, id: &str) -> Result<()> {
        self.atomic(|| {
            let cls = self.class(class)?;
            let node = self.load(cls, id)?;
            if node.retired {
                return Ok(());
            }
            for auditor in self.def.detectors.auditors(class, Op::Retire) {
                auditor.audit(self, class, Some(id), None)?;
            }
            self.forget(class, id);
            self.store.borrow_mut().set_retired(cls, id, true)?;
            if cls.do_journal {
                self.write_journal(class, id, "retired", PyValue::None, Date::now())?;
            }
            for reactor in self.def.detectors.reactors(class, Op::Retire) {
                reactor.react(self, class, id, None)?;
            }
            Ok(())
        })
    }

    /// Bring a retired item back; fails if its key is now taken.
    pub fn restore(&self, class: &str, id: &str) -> Result<()> {
        self.atomic(|| {
            let cls = self.class(class)?;
            let node = self.load(cls, id)?;
            if !node.retired {
                return Ok(());
            }
            if let Some(key) = &cls.key {
                if let Some(Some(Value::String(k))) = node.values.get(key) {
                    if self.store.borrow_mut().lookup_key(cls, k)?.is_some() {
                        return Err(Error::value(format!(
                            "Key property ({key}) of retired node clashes with existing one ({k})"
                        )));
                    }
                }
            }
            for auditor in self.def.detectors.auditors(class, Op::Restore) {
                auditor.audit(self, class, Some(id), None)?;
            }
            self.forget(class, id);
            self.store.borrow_mut().set_retired(cls, id, false)?;
            if cls.do_journal {
                self.write_journal(class, id, "restored", PyValue::None, Date::now())?;
            }
            for reactor in self.def.detectors.reactors(class, Op::Restore) {
                reactor.react(self, class, id, None)?;
            }
            Ok(())
        })
    }

    /// Remove an item and its journal for good (Roundup warns: prefer retire).
    pub fn destroy(&self, class: &str, id: &str) -> Result<()> {
        self.atomic(|| {
            let cls = self.class(class)?;
            self.load(cls, id)?;
            self.forget(class, id);
            self.store.borrow_mut().destroy_node(cls, id)?;
            if cls.kind == ClassKind::File {
                let path = self.file_path(class, id)?;
                self.pending_files.borrow_mut().remove(&path);
                let _ = fs::remove_file(temp_path(&path));
                // The committed file is removed now; a rollback of the
                // destroy cannot bring it back, as in Roundup.
                let _ = fs::remove_file(&path);
            }
            Ok(())
        })
    }

    /// Add a journal entry of the caller's own (e.g. a custom action).
    pub fn add_journal(&self, class: &str, id: &str, action: &str, params: PyValue) -> Result<()> {
        self.class(class)?;
        self.write_journal(class, id, action, params, Date::now())
    }

    /// Delete journal entries older than `before` (except creates).
    pub fn pack(&self, before: &Date) -> Result<()> {
        self.mark_write();
        self.store.borrow_mut().pack(&self.def.schema, before)
    }

    fn write_journal(
        &self,
        class: &str,
        id: &str,
        action: &str,
        params: PyValue,
        date: Date,
    ) -> Result<()> {
        self.mark_write();
        let entry = JournalEntry {
            nodeid: id.to_string(),
            date,
            tag: self.getuid(),
            action: action.to_string(),
            params,
        };
        self.store.borrow_mut().add_journal(class, &entry)
    }

    #[allow(clippy::too_many_arguments)]
    fn journal_link(
        &self,
        target_class: &str,
        target_id: &str,
        action: &str,
        class: &str,
        id: &str,
        prop: &str,
        date: Date,
    ) -> Result<()> {
        let target = self.class(target_class)?;
        if !target.do_journal {
            return Ok(());
        }
        let params = PyValue::Tuple(vec![
            PyValue::Str(class.to_string()),
            PyValue::Str(id.to_string()),
            PyValue::Str(prop.to_string()),
        ]);
        self.write_journal(target_class, target_id, action, params, date)
    }

    fn index_item(
        &self,
        cls: &ClassDef,
        id: &str,
        values: &Values,
        content: Option<&[u8]>,
    ) -> Result<()> {
        if !self.opts.indexing {
            return Ok(());
        }
        for (name, v) in values {
            let Some(p) = cls.props.get(name) else {
                continue;
            };
            if p.ptype == PropType::String && p.indexme && !cls.is_file_content(name) {
                let text = match v {
                    Some(Value::String(s)) => s.as_str(),
                    _ => "",
                };
                self.store
                    .borrow_mut()
                    .index_text(&cls.name, id, name, text)?;
            }
        }
        if let Some(c) = content {
            let indexme = cls.props.get("content").is_some_and(|p| p.indexme);
            let mime = match self.get(&cls.name, id, "type") {
                Ok(Some(Value::String(t))) => t,
                _ => "text/plain".to_string(),
            };
            if indexme && mime.starts_with("text/") {
                let text = String::from_utf8_lossy(c);
                self.store
                    .borrow_mut()
                    .index_text(&cls.name, id, "content", &text)?;
            }
        }
        Ok(())
    }

    /// Old values for reactors: every declared property (empty multilinks
    /// as `[]`) plus the automatic ones.
    fn full_values(&self, cls: &ClassDef, node: &StoredNode) -> Values {
        let mut out: Values = IndexMap::new();
        for (name, p) in &cls.props {
            if p.is_computed() || cls.is_file_content(name) {
                continue;
            }
            let v = node.values.get(name).cloned().flatten();
            let v = empty_multilink_as_list(v, p.ptype);
            out.insert(name.clone(), v);
        }
        for auto in ["creation", "activity", "creator", "actor"] {
            out.insert(auto.into(), node.values.get(auto).cloned().flatten());
        }
        out
    }

    /// Check a value against its property and normalise links (keys to
    /// ids, existence, numeric multilink order of first appearance kept).
    fn validate(
        &self,
        cls: &ClassDef,
        name: &str,
        p: &Property,
        value: Option<Value>,
    ) -> Result<Option<Value>> {
        let class = &cls.name;
        let Some(value) = value else {
            return Ok(empty_multilink_as_list(None, p.ptype));
        };
        let wrong = |v: &Value| {
            Error::value(format!(
                "{class}.{name} is a {} property; got a {} value",
                p.ptype.name(),
                v.ptype().name()
            ))
        };
        let target = p.link_class.as_deref().unwrap_or_default();
        match (p.ptype, value) {
            (PropType::Link, Value::Link(id) | Value::String(id)) => {
                Ok(Some(Value::Link(self.resolve_link(target, &id, name)?)))
            }
            (PropType::Multilink, Value::Multilink(ids)) => {
                let mut out: Vec<String> = Vec::new();
                for id in ids {
                    let id = self.resolve_link(target, &id, name)?;
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
                Ok(Some(Value::Multilink(out)))
            }
            (PropType::String, Value::String(s)) => Ok(Some(Value::String(s))),
            (PropType::Password, Value::Password(pw)) => Ok(Some(Value::Password(pw))),
            (PropType::Password, Value::String(plain)) => {
                Ok(Some(Value::Password(Password::hash(
                    &plain,
                    p.scheme.unwrap_or(self.opts.password_scheme),
                    self.opts.password_rounds,
                ))))
            }
            (PropType::Date, Value::Date(d)) => Ok(Some(Value::Date(d))),
            (PropType::Interval, Value::Interval(i)) => Ok(Some(Value::Interval(i))),
            (PropType::Boolean, Value::Boolean(b)) => Ok(Some(Value::Boolean(b))),
            (PropType::Number, Value::Number(n)) if n.is_finite() => Ok(Some(Value::Number(n))),
            (PropType::Number, Value::Integer(i)) => Ok(Some(Value::Number(i as f64))),
            (PropType::Integer, Value::Integer(i)) => Ok(Some(Value::Integer(i))),
            (_, v) => Err(wrong(&v)),
        }
    }

    /// A link value given as an id or a key of the target class.
    fn resolve_link(&self, target: &str, value: &str, prop: &str) -> Result<String> {
        self.resolve_link_as(target, value, prop, true)
    }

    /// Like [`Db::resolve_link`]; with `ids_allowed` false (a property with
    /// `try_id_parsing='no'`) a number is only ever a key value.
    fn resolve_link_as(
        &self,
        target: &str,
        value: &str,
        prop: &str,
        ids_allowed: bool,
    ) -> Result<String> {
        let tcls = self.class(target)?;
        if ids_allowed && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = value.parse::<u64>() {
                let id = n.to_string();
                if self.has_node(target, &id)? {
                    return Ok(id);
                }
            }
            if tcls.key.is_none() {
                return Err(Error::value(format!("{target} has no node {value}")));
            }
        }
        if tcls.key.is_some() {
            if let Some(id) = self.store.borrow_mut().lookup_key(tcls, value)? {
                return Ok(id);
            }
        }
        Err(Error::value(format!(
            "property {prop}: {value:?} is not a {target}."
        )))
    }

    // ----------------------------------------------------------------------
    // raw (string) input, as typed on the command line or in a web form

    /// Convert text input to a value of property `prop` (Roundup's
    /// `rawToHyperdb`): links by id or key, multilinks as comma lists (with
    /// `+x`/`-x` editing the current value of `itemid`), dates in the
    /// user's time zone, passwords hashed, booleans from yes/no/true/false/1/0.
    /// An empty string means "unset" (`None`, or `[]` for a multilink).
    pub fn raw_to_value(
        &self,
        class: &str,
        prop: &str,
        raw: &str,
        itemid: Option<&str>,
    ) -> Result<Option<Value>> {
        let cls = self.class(class)?;
        let p = cls.require_prop(prop)?;
        let raw_trim = raw.trim();
        let bad = |what: &str, why: String| {
            Error::value(format!(
                "property {prop}: {what:?} is not a {}: {why}",
                p.ptype.name()
            ))
        };
        if p.raw_means_unset(raw) {
            return Ok(empty_multilink_as_list(None, p.ptype));
        }
        let target = p.link_class.as_deref().unwrap_or_default();
        Ok(Some(match p.ptype {
            PropType::String => {
                if raw.is_empty() {
                    return Ok(None);
                }
                Value::String(raw.to_string())
            }
            PropType::Password => Value::Password(Password::hash(
                raw,
                p.scheme.unwrap_or(self.opts.password_scheme),
                self.opts.password_rounds,
            )),
            PropType::Date => {
                let tz = self.user_timezone()?;
                Value::Date(Date::parse(raw_trim, &tz).map_err(|e| bad(raw_trim, e.to_string()))?)
            }
            PropType::Interval => Value::Interval(
                Interval::parse(raw_trim).map_err(|e| bad(raw_trim, e.to_string()))?,
            ),
            PropType::Link => {
                Value::Link(self.resolve_link_as(target, raw_trim, prop, p.try_id_parsing)?)
            }
            PropType::Multilink => {
                let mut current: Vec<String> = match itemid {
                    Some(id) => match self.get(class, id, prop)? {
                        Some(Value::Multilink(v)) => v,
                        _ => Vec::new(),
                    },
                    None => Vec::new(),
                };
                let mut fresh: Vec<String> = Vec::new();
                let mut edited = false;
                for part in raw_trim.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if let Some(rest) = part.strip_prefix('+') {
                        edited = true;
                        let id =
                            self.resolve_link_as(target, rest.trim(), prop, p.try_id_parsing)?;
                        if !current.contains(&id) {
                            current.push(id);
                        }
                    } else if let Some(rest) = part.strip_prefix('-') {
                        edited = true;
                        let id =
                            self.resolve_link_as(target, rest.trim(), prop, p.try_id_parsing)?;
                        current.retain(|x| x != &id);
                    } else {
                        let id = self.resolve_link_as(target, part, prop, p.try_id_parsing)?;
                        if !fresh.contains(&id) {
                            fresh.push(id);
                        }
                    }
                }
                let mut ids = if edited {
                    for f in fresh {
                        if !current.contains(&f) {
                            current.push(f);
                        }
                    }
                    current
                } else {
                    fresh
                };
                sort_ids(&mut ids);
                Value::Multilink(ids)
            }
            PropType::Boolean => match raw_trim.to_lowercase().as_str() {
                "yes" | "true" | "on" | "1" => Value::Boolean(true),
                "no" | "false" | "off" | "0" => Value::Boolean(false),
                _ => return Err(bad(raw_trim, "use yes/no, true/false or 1/0".into())),
            },
            PropType::Number => {
                let n: f64 = raw_trim
                    .parse()
                    .map_err(|_| bad(raw_trim, "not a number".into()))?;
                if !n.is_finite() {
                    return Err(bad(raw_trim, "not a finite number".into()));
                }
                Value::Number(n)
            }
            PropType::Integer => Value::Integer(
                raw_trim
                    .parse()
                    .map_err(|_| bad(raw_trim, "not an integer".into()))?,
            ),
        }))
    }

    /// Check a password: the id of the active user called `username`
    /// when `plain` is their password. `migrate` and `allow_empty` are
    /// `[web] migrate_passwords` and `login_empty_passwords`. The rule is
    /// [`crate::auth::check_password`]; front ends log users in with
    /// [`crate::auth::login`], which adds rate limits and the access check.
    pub fn authenticate(
        &self,
        username: &str,
        plain: &str,
        migrate: bool,
        allow_empty: bool,
    ) -> Result<Option<String>> {
        let Ok(uid) = self.lookup("user", username) else {
            return Ok(None);
        };
        let policy = crate::auth::LoginPolicy {
            migrate_passwords: migrate,
            empty_passwords: allow_empty,
            ..crate::auth::LoginPolicy::default()
        };
        Ok(crate::auth::check_password(self, &uid, plain, &policy)?.then_some(uid))
    }

    /// The current user's time zone (its `timezone` property when the
    /// schema has one, else the tracker default).
    pub fn user_timezone(&self) -> Result<Timezone> {
        self.timezone_of(&self.getuid())
    }

    /// A user's time zone: its `timezone` property when the schema has one
    /// and it names a valid zone, else the tracker default.
    pub fn timezone_of(&self, userid: &str) -> Result<Timezone> {
        let has_tz = self
            .def
            .schema
            .classes
            .get("user")
            .is_some_and(|c| c.props.contains_key("timezone"));
        if has_tz && self.has_node("user", userid)? {
            if let Some(Value::String(tz)) = self.get("user", userid, "timezone")? {
                if let Ok(tz) = Timezone::parse(&tz) {
                    return Ok(tz);
                }
            }
        }
        Ok(self.opts.timezone.clone())
    }

    // ----------------------------------------------------------------------
    // import support (roundup-admin import, migrations)

    /// Write an item exactly as given (id, automatic properties, retired
    /// state) without detectors or journal: for importing exported data.
    /// Its indexed text (and text file content) goes into the full-text
    /// index.
    ///
    /// An existing item with the same id is replaced (its journal goes
    /// too; import the journal afterwards). A retired item may carry the
    /// key of an active one, as Roundup allows: the active item steps
    /// aside while the retired one is written.
    pub fn import_node(
        &self,
        class: &str,
        id: &str,
        values: &NodeValues,
        retired: bool,
        content: Option<ImportContent<'_>>,
    ) -> Result<()> {
        let cls = self.class(class)?;
        check_id(class, id)?;
        self.mark_write();
        self.forget(class, id);
        let mut store = self.store.borrow_mut();
        if store.has_node(class, id)? {
            store.destroy_node(cls, id)?;
        }
        let mut stepped_aside = None;
        if let (true, Some(key)) = (retired, &cls.key) {
            if let Some(Some(Value::String(k))) = values.get(key) {
                if let Some(active) = store.lookup_key(cls, k)? {
                    store.set_retired(cls, &active, true)?;
                    stepped_aside = Some(active);
                }
            }
        }
        store.add_node(cls, id, values)?;
        if retired {
            store.set_retired(cls, id, true)?;
        }
        if let Some(active) = stepped_aside {
            self.forget(class, &active);
            store.set_retired(cls, &active, false)?;
        }
        if self.opts.indexing {
            for (name, p) in &cls.props {
                if p.ptype != PropType::String || !p.indexme || cls.is_file_content(name) {
                    continue;
                }
                if let Some(Some(Value::String(text))) = values.get(name) {
                    store.index_text(class, id, name, text)?;
                }
            }
            if let Some(c) = content.map(|c| c.bytes()) {
                let indexme = cls.props.get("content").is_some_and(|p| p.indexme);
                let textual = match values.get("type") {
                    Some(Some(Value::String(t))) => t.starts_with("text/"),
                    _ => true,
                };
                if indexme && textual {
                    store.index_text(class, id, "content", &String::from_utf8_lossy(c))?;
                }
            }
        }
        drop(store);
        match content {
            Some(ImportContent::Bytes(c)) => self.store_file(class, id, c, true)?,
            Some(ImportContent::Placed(c)) => {
                let path = self.file_path(class, id)?;
                if self.pending_files.borrow().contains(&path) {
                    // This transaction already wrote content for the item
                    // (waiting as .tmp): the usual way keeps that in order.
                    let _ = fs::remove_file(&path);
                    self.store_file(class, id, c, true)?;
                } else {
                    match id.parse::<u32>() {
                        // the path the number gives back (no leading zeros)
                        Ok(n) if n.to_string() == id => self
                            .pending_files
                            .borrow_mut()
                            .push_placed(&self.files_dir(), class, n),
                        _ => self.pending_files.borrow_mut().push_fresh(path),
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Replace an item's journal (import).
    pub fn import_journal(&self, class: &str, id: &str, entries: &[JournalEntry]) -> Result<()> {
        self.class(class)?;
        self.mark_write();
        self.store.borrow_mut().set_journal(class, id, entries)
    }

    /// Add entries to an item's journal as they are (import).
    pub fn append_journal(&self, class: &str, entries: &[JournalEntry]) -> Result<()> {
        self.class(class)?;
        let mut store = self.store.borrow_mut();
        for e in entries {
            store.add_journal(class, e)?;
        }
        Ok(())
    }

    /// Make the next id of `class` follow `last_used` (import).
    pub fn set_last_id(&self, class: &str, last_used: u64) -> Result<()> {
        self.class(class)?;
        self.mark_write();
        self.store.borrow_mut().set_last_id(class, last_used)
    }

    /// Re-index one item's indexed properties (reindex command).
    pub fn reindex_item(&self, class: &str, id: &str) -> Result<()> {
        let cls = self.class(class)?;
        self.mark_write();
        let node = self.load(cls, id)?;
        let mut values: Values = IndexMap::new();
        for (name, p) in &cls.props {
            if p.ptype == PropType::String && p.indexme && !cls.is_file_content(name) {
                values.insert(name.clone(), node.values.get(name).cloned().flatten());
            }
        }
        let content = if cls.kind == ClassKind::File {
            self.file_content(class, id).ok()
        } else {
            None
        };
        self.index_item(cls, id, &values, content.as_deref())
    }
}

/// Below this many matches a count costs the database little, and is not
/// kept as an order ([`Db::with_count_orders_from`]).
pub const DEFAULT_COUNT_ORDER_MIN: u64 = 10_000;

/// How a repair of a kept order ended ([`Db::repair_order`]).
enum Repair {
    Done,
    /// Commits came in meanwhile: nothing kept, the order stays marked.
    Raced,
    /// The database's answers do not fit the order as kept.
    Misfit,
}

/// The shared-cache key of a resolved query. A full-text search's id
/// list goes in as its length and two hashes rather than spelled out.
fn query_key(kind: &str, q: &Query) -> String {
    use std::hash::Hasher;
    // Destructured so that a new field cannot be forgotten here.
    let Query {
        class,
        filters,
        search_ids,
        group,
        sort,
        retired,
        limit,
        offset,
    } = q;
    let ids = match search_ids {
        None => "-".to_string(),
        Some(ids) => {
            // Two independent 64-bit hashes of the ids' bytes; a full-text
            // match can list thousands of ids and this runs for every
            // query of a search page, so the hash is a fast one fed in
            // blocks rather than SipHash id by id.
            use std::hash::BuildHasher;
            let fingerprint = |seed: u64| {
                let mut h = foldhash::quality::FixedState::with_seed(seed).build_hasher();
                let mut buf = [0u8; 256];
                for chunk in ids.as_slice().chunks(buf.len() / 4) {
                    for (i, n) in chunk.iter().enumerate() {
                        buf[i * 4..i * 4 + 4].copy_from_slice(&n.to_le_bytes());
                    }
                    h.write(&buf[..chunk.len() * 4]);
                }
                h.finish()
            };
            format!(
                "{}:{:016x}{:016x}",
                ids.len(),
                fingerprint(0x5eed_0001),
                fingerprint(0x5eed_0002)
            )
        }
    };
    format!("{kind}\0{class}\0{filters:?}\0{group:?}\0{sort:?}\0{retired:?}\0{limit:?}\0{offset}\0{ids}")
}

/// Where the content of item `id` of FileClass `class` lives below the
/// files directory (see [`Db::files_dir`]): `<class>/<id // 1000>/<class><id>`.
pub fn content_path(files_dir: &Path, class: &str, id: &str) -> Result<PathBuf> {
    let n: u64 = id
        .parse()
        .map_err(|_| Error::value(format!("{class}: \"{id}\" is not an item id")))?;
    Ok(bucketed_path(files_dir, class, class, n, id))
}

/// `<base>/<folder>/<n // 1000>/<class><id>`: the layout of file contents
/// in a tracker (`folder` is the class) and in an export (`<class>-files`).
pub fn bucketed_path(base: &Path, folder: &str, class: &str, n: u64, id: &str) -> PathBuf {
    // Built in one buffer: imports ask for thousands of these.
    let bucket = (n / 1000).to_string();
    if base.as_os_str().is_empty() {
        return Path::new(folder).join(bucket).join(format!("{class}{id}"));
    }
    let mut path = base.as_os_str().to_owned();
    path.reserve(folder.len() + class.len() + bucket.len() + id.len() + 3);
    for part in [folder, bucket.as_str()] {
        path.push(std::path::MAIN_SEPARATOR_STR);
        path.push(part);
    }
    path.push(std::path::MAIN_SEPARATOR_STR);
    path.push(class);
    path.push(id);
    PathBuf::from(path)
}

/// Write `content` to `path` only if no file is there yet (its directory
/// must exist). Returns whether it wrote; on a write error the partial
/// file is removed again.
pub fn place_new_file(path: &Path, content: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    let mut f = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    if let Err(e) = f.write_all(content) {
        drop(f);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(true)
}

/// File content handed to [`Db::import_node`].
#[derive(Clone, Copy, Debug)]
pub enum ImportContent<'a> {
    /// Store these bytes as the item's content.
    Bytes(&'a [u8]),
    /// The importer has already written these bytes to the item's
    /// [`Db::file_path`] with [`place_new_file`] (so no file was there
    /// before). The file joins the transaction: a rollback deletes it.
    Placed(&'a [u8]),
}

impl<'a> ImportContent<'a> {
    /// The content itself.
    pub fn bytes(&self) -> &'a [u8] {
        match self {
            ImportContent::Bytes(b) | ImportContent::Placed(b) => b,
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(TEMP_EXT);
    PathBuf::from(s)
}

fn check_id(class: &str, id: &str) -> Result<()> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::value(format!("class {class}: {id:?} is not an id")))
    }
}

fn check_settable(cls: &ClassDef, name: &str) -> Result<()> {
    match name {
        "id" => Err(Error::value("\"id\" is reserved")),
        "creation" | "activity" | "creator" | "actor" => Err(Error::value(format!(
            "\"{name}\" is set automatically (creator, actor, creation and activity are reserved)"
        ))),
        _ => {
            let p = cls.props.get(name).ok_or_else(|| Error::NoSuchProperty {
                class: cls.name.clone(),
                prop: name.to_string(),
            })?;
            if p.is_computed() {
                return Err(Error::value(format!("\"{name}\" is a computed property")));
            }
            Ok(())
        }
    }
}

fn same_value(new: &Option<Value>, old: &Option<Value>, ptype: PropType) -> bool {
    match (new, old, ptype) {
        (Some(Value::Multilink(a)), Some(Value::Multilink(b)), _) => {
            let mut a = a.clone();
            let mut b = b.clone();
            sort_ids(&mut a);
            sort_ids(&mut b);
            a == b
        }
        (None, Some(Value::Multilink(b)), PropType::Multilink) => b.is_empty(),
        _ => new == old,
    }
}

/// Roundup reads an unset Multilink as `[]`, never as `None`.
fn empty_multilink_as_list(v: Option<Value>, ptype: PropType) -> Option<Value> {
    match (v, ptype) {
        (None, PropType::Multilink) => Some(Value::Multilink(Vec::new())),
        (v, _) => v,
    }
}

fn str_list(ids: &[String]) -> PyValue {
    PyValue::List(ids.iter().map(|s| PyValue::Str(s.clone())).collect())
}

/// An old value as Roundup marshals it into journal params.
fn journal_value(v: &Option<Value>) -> PyValue {
    match v {
        None => PyValue::None,
        Some(Value::String(s)) | Some(Value::Link(s)) => PyValue::Str(s.clone()),
        // Roundup never writes the old hash into history, only its scheme.
        Some(Value::Password(p)) => PyValue::Str(p.journal_placeholder()),
        Some(Value::Date(d)) => PyValue::Str(d.serialise()),
        Some(Value::Interval(i)) => PyValue::Str(i.to_string()),
        Some(Value::Multilink(ids)) => str_list(ids),
        Some(Value::Boolean(b)) => PyValue::Int(i64::from(*b)),
        Some(Value::Number(n)) => PyValue::Float(*n),
        Some(Value::Integer(i)) => PyValue::Int(*i),
    }
}

/// File content travels in values as a String when it is UTF-8.
fn bytes_value(content: Vec<u8>) -> Value {
    match String::from_utf8(content) {
        Ok(s) => Value::String(s),
        Err(e) => Value::String(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn value_bytes(v: Value) -> Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.into_bytes()),
        other => Err(Error::value(format!(
            "file content must be text or bytes, not a {} value",
            other.ptype().name()
        ))),
    }
}
