//! The thread of an import that creates the FileClass content files in
//! the tracker (`db/files/<class>/<n>/<class><id>`).
//!
//! Creating thousands of small files is mostly kernel work, and none of
//! the rest of the import waits for it: the database thread needs the
//! bytes (for the full-text index), not the file. So the files are
//! written here, behind the rest, at the lowest scheduling priority: the
//! thread uses the processor time the reading and database threads leave
//! over, and finishes its backlog while the database thread builds its
//! indexes at the end of the load. One thread also means one writer per
//! directory (several contend for the directory's lock).
//!
//! The import waits for it (closes the queue, joins the thread) before it reports
//! success, and so before anything is committed. Every file created here
//! is new (the placer only sends paths where no file is); when the import
//! fails, all of them are removed again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use roundup_core::Error;

/// Bytes of content that may wait for the writer: past that, the placer
/// waits (and with it the reading side), which leaves the processor to
/// the writer.
const QUEUED_BYTES: usize = 8 << 20;

/// Runs of consecutive ids (first, last) per class.
type Created = HashMap<std::sync::Arc<str>, Vec<(u64, u64)>>;

/// One file to create.
pub(crate) struct WriteJob {
    /// Where the row is, for messages: the class file and line.
    pub csv: std::sync::Arc<Path>,
    pub line: usize,
    pub class: std::sync::Arc<str>,
    pub id: u64,
    pub dest: PathBuf,
    pub content: std::sync::Arc<Vec<u8>>,
}

impl WriteJob {
    /// The memory the job holds while it waits, about.
    fn cost(&self) -> usize {
        self.content.len() + self.dest.as_os_str().len() + JOB_OVERHEAD
    }
}

/// A queued job's own size and its allocations' bookkeeping.
const JOB_OVERHEAD: usize = 160;

#[derive(Default)]
struct State {
    /// Jobs handed over, and jobs done (written or skipped).
    queued: u64,
    done: u64,
    /// Bytes of the jobs not done yet.
    bytes: usize,
    failure: Option<Failure>,
    /// Threads waiting on `changed` (a wake-up is a system call, made only
    /// when someone waits).
    waiting: usize,
}

/// Why the writer stopped: where (file, line, item, path) and the
/// system's error, kept to make an [`Error`] for each thread that asks.
struct Failure {
    context: String,
    kind: std::io::ErrorKind,
    reason: String,
}

impl Failure {
    fn error(&self) -> Error {
        Error::io(
            &self.context,
            std::io::Error::new(self.kind, self.reason.clone()),
        )
    }
}

/// The side of the writer the other import threads see.
pub(crate) struct FileWriter {
    files_dir: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
    tx: Mutex<Option<mpsc::Sender<WriteJob>>>,
    rx: Mutex<Option<mpsc::Receiver<WriteJob>>>,
    /// The files created, as runs of consecutive ids per class.
    created: Mutex<Created>,
}

impl FileWriter {
    pub(crate) fn new(files_dir: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel();
        FileWriter {
            files_dir,
            state: Mutex::default(),
            changed: Condvar::new(),
            tx: Mutex::new(Some(tx)),
            rx: Mutex::new(Some(rx)),
            created: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue a file. Waits while too many bytes are queued (unless the
    /// import is stopping). False when the writer has failed or ended.
    pub(crate) fn send(&self, job: WriteJob, stop: &AtomicBool) -> bool {
        let n = job.cost();
        {
            let mut st = self.state();
            while st.bytes > 0
                && st.bytes + n > QUEUED_BYTES
                && st.failure.is_none()
                && !stop.load(Ordering::Relaxed)
            {
                st.waiting += 1;
                st = self
                    .changed
                    .wait_timeout(st, std::time::Duration::from_millis(50))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                st.waiting -= 1;
            }
            if st.failure.is_some() {
                return false;
            }
            st.queued += 1;
            st.bytes += n;
        }
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let sent = tx.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        if !sent {
            let mut st = self.state();
            st.queued -= 1;
            st.bytes -= n;
        }
        sent
    }

    /// Wait until every file queued so far is written; the writer's
    /// failure, if it failed.
    pub(crate) fn wait_idle(&self) -> Result<(), Error> {
        let mut st = self.state();
        while st.done < st.queued && st.failure.is_none() {
            st.waiting += 1;
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            st.waiting -= 1;
        }
        match &st.failure {
            Some(f) => Err(f.error()),
            None => Ok(()),
        }
    }

    /// The writing thread's body: until [`FileWriter::finish`] closes the
    /// queue. After a failure (its own, or `stop` set by another thread)
    /// it only empties the queue.
    pub(crate) fn run(&self, stop: &AtomicBool) {
        let Some(rx) = self.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        lower_priority();
        for job in rx {
            let skip = stop.load(Ordering::Relaxed) || self.state().failure.is_some();
            let failure = if skip {
                None
            } else {
                match roundup_core::db::place_new_file(&job.dest, &job.content) {
                    Ok(true) => {
                        self.record(&job.class, job.id);
                        None
                    }
                    Ok(false) => Some(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "a file appeared there during the import",
                    )),
                    Err(e) => Some(e),
                }
            };
            let mut st = self.state();
            st.done += 1;
            st.bytes = st.bytes.saturating_sub(job.cost());
            if let Some(e) = failure {
                stop.store(true, Ordering::Relaxed);
                st.failure.get_or_insert(Failure {
                    context: format!(
                        "{}, line {}: {}{}: writing {}",
                        job.csv.display(),
                        job.line,
                        job.class,
                        job.id,
                        job.dest.display()
                    ),
                    kind: e.kind(),
                    reason: e.to_string(),
                });
            }
            // A waiting placer is woken once a quarter of the queue is
            // free, not for every file (each wake-up costs both threads a
            // system call and a switch).
            let wake = st.waiting > 0
                && (st.bytes <= QUEUED_BYTES / 4 * 3
                    || st.done == st.queued
                    || st.failure.is_some());
            drop(st);
            if wake {
                self.changed.notify_all();
            }
        }
    }

    fn record(&self, class: &std::sync::Arc<str>, id: u64) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        let runs = created.entry(class.clone()).or_default();
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == id => *end = id,
            _ => runs.push((id, id)),
        }
    }

    /// Close the queue: the thread running [`FileWriter::run`] ends once
    /// it has written (or skipped) what is queued.
    pub(crate) fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The writer's failure, if any (after the thread has ended).
    pub(crate) fn failure(&self) -> Option<Error> {
        self.state().failure.as_ref().map(Failure::error)
    }

    /// Remove every file the writer created (the import failed; the
    /// thread has ended).
    pub(crate) fn remove_created(&self) {
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        for (class, runs) in created {
            for (start, end) in runs {
                for id in start..=end {
                    if let Ok(p) =
                        roundup_core::db::content_path(&self.files_dir, &class, &id.to_string())
                    {
                        let _ = std::fs::remove_file(p);
                    }
                }
            }
        }
    }
}

/// Run the calling thread at the lowest priority: `SCHED_IDLE`, whose
/// processors also count as free when the scheduler places a waking
/// thread (a merely niced thread keeps its processor from the others);
/// else nice 19. Failing both, it runs as it is.
fn lower_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain system calls on the calling thread (0 / its own id)
    // with a valid parameter block.
    unsafe {
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
        }
    }
}
