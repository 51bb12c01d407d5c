//! How this process's connections to one SQLite database file coordinate
//! their writes: a queue for the write lock ([`WriteGate`]) and one sync
//! of the write-ahead log shared by the commits that are waiting for it
//! ([`WalSync`], group commit). [`LocalWriters::for_path`] gives the pair
//! for a file; every connection to it in this process shares them.
//!
//! ## The write queue
//!
//! SQLite has a single writer. A connection whose `BEGIN IMMEDIATE` finds
//! the lock taken waits in SQLite's busy handler, which sleeps 1, 2, 5, 10,
//! ... up to 100 ms between attempts: with several server threads creating
//! items at once, most of their time went to those sleeps, long after the
//! lock was free again. Connections of the same process therefore first
//! queue here and are woken the moment the previous writer ends its
//! transaction. Other processes (roundup-admin, the mail gateway) still
//! meet SQLite's own locking, which stays the authority: the gate only
//! orders this process's writers, it never replaces the database lock.
//!
//! Waiting is bounded by the connection's busy timeout. A thread that
//! holds a transaction on one connection and then writes through a second
//! connection of the same file would otherwise wait for itself; after the
//! timeout it goes on to SQLite, which reports the lock as busy, exactly
//! as without the gate.
//!
//! ## Group commit
//!
//! With SQLite's `synchronous=FULL` every commit syncs the log to disk
//! while it still holds the write lock, so commits are strictly one after
//! the other, each paying a full disk flush. The connections run with
//! `synchronous=NORMAL` instead (the log is written at commit but not
//! synced; SQLite keeps the database consistent either way and syncs the
//! log itself before every checkpoint), and the committer, after releasing
//! the lock, calls [`WalSync::sync`]: it returns once a flush of the log
//! file that began after this commit has finished. One flush covers every
//! commit made before it started, so commits that wait together share it.
//! A commit is reported as done only after that, so what a caller has been
//! told is committed survives a power cut, as with `FULL`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// What this process's connections to one database file share.
#[derive(Debug, Default)]
pub struct LocalWriters {
    pub gate: WriteGate,
    pub wal_sync: WalSync,
}

impl LocalWriters {
    /// The shared state for the database file at `path` (one per file per
    /// process).
    pub fn for_path(path: &Path) -> Arc<LocalWriters> {
        static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<LocalWriters>>>> = OnceLock::new();
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut files = FILES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        files.entry(key).or_default().clone()
    }
}

/// The queue for the write lock of one database file.
#[derive(Debug, Default)]
pub struct WriteGate {
    taken: Mutex<bool>,
    freed: Condvar,
}

impl WriteGate {
    /// Wait until no other connection of this process writes, for at most
    /// `timeout`. True when the gate was taken (then [`WriteGate::release`]
    /// must follow); false when the wait timed out.
    pub fn acquire(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        while *taken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            taken = self
                .freed
                .wait_timeout(taken, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *taken = true;
        true
    }

    /// Let the next writer in.
    pub fn release(&self) {
        *self.taken.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.freed.notify_one();
    }
}

/// Shared flushes of one database's write-ahead log (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct WalSync {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Commits announced so far.
    committed: u64,
    /// Every commit up to this number is on disk.
    synced: u64,
    /// Whether a flush is under way.
    syncing: bool,
}

impl WalSync {
    /// Called after a commit (and after releasing the write lock): return
    /// once a flush started after the commit has finished. `flush` syncs
    /// the log file; it runs on one of the waiting threads, at most one at
    /// a time. An error of the flush that should have covered this commit
    /// is returned.
    pub fn sync(&self, flush: impl Fn() -> std::io::Result<()>) -> std::io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.committed += 1;
        let mine = st.committed;
        loop {
            if st.synced >= mine {
                return Ok(());
            }
            if st.syncing {
                st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.syncing = true;
            let covers = st.committed;
            drop(st);
            let flushed = flush();
            st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.syncing = false;
            if flushed.is_ok() {
                st.synced = st.synced.max(covers);
            }
            self.done.notify_all();
            // A failed flush is this commit's failure; the others waiting
            // start a flush of their own.
            flushed?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_writer_at_a_time_and_waiters_wake_on_release() {
        let gate = Arc::new(WriteGate::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (gate, inside) = (gate.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        assert!(gate.acquire(Duration::from_secs(10)));
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        gate.release();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn waiting_is_bounded_by_the_timeout() {
        let gate = WriteGate::default();
        assert!(gate.acquire(Duration::from_millis(10)));
        let start = Instant::now();
        assert!(!gate.acquire(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50));
        gate.release();
        assert!(gate.acquire(Duration::ZERO));
    }

    #[test]
    fn the_same_file_shares_one_state() {
        let dir = std::env::temp_dir();
        let a = LocalWriters::for_path(&dir.join("rr-gate-test-db"));
        let b = LocalWriters::for_path(&dir.join("rr-gate-test-db"));
        let c = LocalWriters::for_path(&dir.join("rr-gate-test-other"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn commits_waiting_together_share_a_flush() {
        let sync = Arc::new(WalSync::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (sync, flushes) = (sync.clone(), flushes.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        sync.sync(|| {
                            flushes.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        // 400 commits; with eight threads waiting on 2 ms flushes most
        // share one.
        assert!(n < 200, "{n} flushes for 400 commits");
        assert!(n > 0);
    }

    #[test]
    fn each_commit_waits_for_a_flush_that_began_after_it() {
        let sync = WalSync::default();
        let flushes = AtomicUsize::new(0);
        let flush = || {
            flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        sync.sync(flush).unwrap();
        // Nothing was pending, so the next commit needs a flush of its own.
        sync.sync(flush).unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_flush_fails_its_commit_and_the_next_one_retries() {
        let sync = WalSync::default();
        let err = sync
            .sync(|| Err(std::io::Error::other("disk gone")))
            .unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
        let tries = AtomicUsize::new(0);
        sync.sync(|| {
            tries.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }
}
