//! Where mail comes from: mbox files and maildirs.
//!
//! An mbox is read the way Python's `mailbox.mbox` reads it for Roundup:
//! every line starting with `From ` begins a message (a blank line before
//! it is dropped, but not required), and the text before the first one is
//! ignored. `>From ` lines are left as they are: Python's reader does not
//! unquote them. The file is locked like Python locks it, with an
//! exclusive `fcntl` lock and a `<mbox>.lock` file, both released when the
//! [`Mbox`] is closed or dropped.
//!
//! A maildir (which Roundup itself does not read) is handled the usual
//! way: messages are files in `new/` and `cur/`; a message is done when
//! it is in `cur/` with the `S` (seen) flag in its `:2,` info.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::MailError;

/// One message of an mbox file.
#[derive(Clone, PartialEq, Eq)]
pub struct MboxMessage {
    /// The `From ` line that starts it, without its line end.
    pub from_line: String,
    /// The message itself (headers and body), as stored.
    pub data: Vec<u8>,
    /// Where its `From ` line starts and where it ends in the file.
    span: (usize, usize),
}

impl std::fmt::Debug for MboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MboxMessage")
            .field("from_line", &self.from_line)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .finish()
    }
}

/// A locked mbox file and the messages in it.
///
/// Mark the messages that were handled with [`Mbox::remove`] and call
/// [`Mbox::close`] to write back only the others (all handled: the file
/// is emptied), or [`Mbox::empty`] to empty it outright. Dropping it
/// without either leaves the file as it was and releases the locks.
#[derive(Debug)]
pub struct Mbox {
    path: PathBuf,
    file: File,
    /// The whole file as read, for writing kept messages back.
    contents: Vec<u8>,
    messages: Vec<MboxMessage>,
    removed: Vec<bool>,
    dotlock: Option<PathBuf>,
}

/// Opens and locks the mbox at `path` and splits it into messages.
///
/// Errors: [`MailError::MailboxLocked`] when another program holds
/// either lock (nothing is waited for, as in Roundup), [`MailError::Io`]
/// when the file cannot be opened or read (a missing file is an error,
/// not an empty mailbox).
pub fn read_mbox(path: impl AsRef<Path>) -> Result<Mbox, MailError> {
    let path = path.as_ref().to_path_buf();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| MailError::io("opening the mailbox", &path, e))?;
    lock_fcntl(&file, &path)?;
    let mut mbox = Mbox {
        dotlock: None,
        file,
        path,
        contents: Vec::new(),
        messages: Vec::new(),
        removed: Vec::new(),
    };
    // From here on, dropping `mbox` releases what was taken.
    mbox.dotlock = dotlock(&mbox.path)?;
    let mut contents = Vec::new();
    mbox.file
        .read_to_end(&mut contents)
        .map_err(|e| MailError::io("reading the mailbox", &mbox.path, e))?;
    mbox.messages = split_mbox(&contents);
    mbox.removed = vec![false; mbox.messages.len()];
    mbox.contents = contents;
    Ok(mbox)
}

/// Splits mbox contents into messages (see the module documentation).
fn split_mbox(contents: &[u8]) -> Vec<MboxMessage> {
    // (start of the From line, end of the message)
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut open: Option<usize> = None;
    let mut last_was_empty = false;
    let mut pos = 0;
    while pos < contents.len() {
        let end = contents[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(contents.len(), |i| pos + i + 1);
        let line = &contents[pos..end];
        if line.starts_with(b"From ") {
            if let Some(start) = open.take() {
                // The blank line before a From line belongs to no message.
                spans.push((start, if last_was_empty { pos - 1 } else { pos }));
            }
            open = Some(pos);
            last_was_empty = false;
        } else {
            last_was_empty = line == b"\n";
        }
        pos = end;
    }
    if let Some(start) = open {
        let end = if last_was_empty {
            contents.len() - 1
        } else {
            contents.len()
        };
        spans.push((start, end));
    }
    spans
        .into_iter()
        .map(|(start, end)| {
            let from_end = contents[start..end]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(end, |i| start + i);
            let body_start = (from_end + 1).min(end);
            let from_line = String::from_utf8_lossy(&contents[start..from_end])
                .trim_end_matches('\r')
                .to_string();
            MboxMessage {
                from_line,
                data: contents[body_start..end].to_vec(),
                span: (start, end),
            }
        })
        .collect()
}

impl Mbox {
    /// The mailbox file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The messages, in file order.
    pub fn messages(&self) -> &[MboxMessage] {
        &self.messages
    }

    /// How many messages the file holds.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the file holds no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Marks message `index` as handled: [`Mbox::close`] does not write
    /// it back. Out-of-range indexes are ignored.
    pub fn remove(&mut self, index: usize) {
        if let Some(flag) = self.removed.get_mut(index) {
            *flag = true;
        }
    }

    /// Writes back the messages not removed (each followed by a blank
    /// line, as Python writes them) and releases the locks. Fails with
    /// [`MailError::MailboxChanged`], leaving the file alone, when its
    /// size changed since it was read.
    pub fn close(mut self) -> Result<(), MailError> {
        if !self.removed.iter().any(|&r| r) {
            return Ok(());
        }
        let mut kept = Vec::new();
        for (message, _) in self
            .messages
            .iter()
            .zip(&self.removed)
            .filter(|(_, &removed)| !removed)
        {
            let (start, end) = message.span;
            kept.extend_from_slice(&self.contents[start..end]);
            if !kept.ends_with(b"\n") {
                kept.push(b'\n');
            }
            kept.push(b'\n');
        }
        self.rewrite(&kept)
    }

    /// Empties the file (all its messages were handled) and releases the
    /// locks; see [`Mbox::close`] for the size check.
    pub fn empty(mut self) -> Result<(), MailError> {
        self.rewrite(&[])
    }

    /// Replaces the file's contents in place, under the locks.
    fn rewrite(&mut self, contents: &[u8]) -> Result<(), MailError> {
        let io = |e| MailError::io("rewriting the mailbox", &self.path, e);
        let found = self.file.metadata().map_err(io)?.len();
        let expected = self.contents.len() as u64;
        if found != expected {
            return Err(MailError::MailboxChanged {
                path: self.path.clone(),
                expected,
                found,
            });
        }
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(contents).map_err(io)?;
        self.file.set_len(contents.len() as u64).map_err(io)?;
        self.file.sync_all().map_err(io)?;
        Ok(())
    }
}

impl Drop for Mbox {
    fn drop(&mut self) {
        unlock_fcntl(&self.file);
        if let Some(lock) = self.dotlock.take() {
            let _ = fs::remove_file(lock);
        }
    }
}

fn fcntl_lock(file: &File, kind: libc::c_short) -> std::io::Result<()> {
    // SAFETY: flock is a plain C struct for which all-zero is valid; the
    // descriptor stays open for the duration of the call.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0;
    // SAFETY: F_SETLK with a valid descriptor and a pointer to a live flock.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
    if rc == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Takes the exclusive fcntl (POSIX record) lock on the whole file,
/// without waiting, as Python's `fcntl.lockf(f, LOCK_EX | LOCK_NB)`.
fn lock_fcntl(file: &File, path: &Path) -> Result<(), MailError> {
    fcntl_lock(file, libc::F_WRLCK as libc::c_short).map_err(|e| match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => MailError::MailboxLocked {
            path: path.to_path_buf(),
            how: "its fcntl lock is taken",
        },
        _ => MailError::io("locking the mailbox", path, e),
    })
}

fn unlock_fcntl(file: &File) {
    let _ = fcntl_lock(file, libc::F_UNLCK as libc::c_short);
}

/// Creates `<path>.lock` the NFS-safe way (a unique file hard-linked to
/// the lock name). Without write access to the directory there is no
/// dot-lock, as in Python.
fn dotlock(path: &Path) -> Result<Option<PathBuf>, MailError> {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut temp = lock.as_os_str().to_owned();
    temp.push(format!(".{}.{nanos}", std::process::id()));
    let temp = PathBuf::from(temp);
    match OpenOptions::new().write(true).create_new(true).open(&temp) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => return Ok(None),
        Err(e) => return Err(MailError::io("creating the mailbox's lock file", &temp, e)),
    }
    let linked = fs::hard_link(&temp, &lock);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(Some(lock)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(MailError::MailboxLocked {
            path: path.to_path_buf(),
            how: "its .lock file exists",
        }),
        Err(e) => Err(MailError::io("creating the mailbox's lock file", &lock, e)),
    }
}

/// The maildir info of a file name: the flags after `:2,`, if any.
fn maildir_flags(name: &str) -> Option<&str> {
    name.rsplit_once(":2,").map(|(_, flags)| flags)
}

/// The messages of the maildir `dir` still to be handled: every file in
/// `new/`, and those in `cur/` without the seen (`S`) flag, in name order
/// (which is delivery order for the usual `time.unique.host` names).
/// Files whose name starts with a dot are skipped.
pub fn maildir_messages(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, MailError> {
    let dir = dir.as_ref();
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let sub_dir = dir.join(sub);
        if !sub_dir.is_dir() {
            return Err(MailError::NotAMaildir {
                path: dir.to_path_buf(),
                missing: sub,
            });
        }
        let entries = fs::read_dir(&sub_dir)
            .map_err(|e| MailError::io("listing the maildir", &sub_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| MailError::io("listing the maildir", &sub_dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !entry.path().is_file() {
                continue;
            }
            let seen = sub == "cur" && maildir_flags(&name).is_some_and(|f| f.contains('S'));
            if !seen {
                found.push((name.into_owned(), entry.path()));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

/// Marks a maildir message as handled: moves it from `new/` to `cur/` and
/// adds the `S` flag to its info (`:2,S`, or the flags it had plus `S`,
/// kept in ASCII order). Returns the new path.
pub fn mark_done(path: impl AsRef<Path>) -> Result<PathBuf, MailError> {
    let path = path.as_ref();
    let bad = || {
        MailError::io(
            "marking a maildir message",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file in a maildir's new/ or cur/",
            ),
        )
    };
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
    let sub = path.parent().ok_or_else(bad)?;
    let maildir = match sub.file_name().and_then(|n| n.to_str()) {
        Some("new" | "cur") => sub.parent().ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let new_name = match name.rsplit_once(":2,") {
        Some((base, flags)) => {
            let mut flags: Vec<char> = flags.chars().filter(|&c| c != 'S').collect();
            flags.push('S');
            flags.sort_unstable();
            format!("{base}:2,{}", flags.into_iter().collect::<String>())
        }
        None => format!("{name}:2,S"),
    };
    let target = maildir.join("cur").join(new_name);
    if target != path {
        fs::rename(path, &target)
            .map_err(|e| MailError::io("moving a maildir message to cur/", path, e))?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_python_mailbox() {
        let contents = b"junk before\nFrom a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From here\n\nFrom c@d Tue Jan  2 00:00:00 2024\nSubject: two\n\nsecond\nFrom e@f Wed Jan  3 00:00:00 2024\nSubject: three\n\nthird\n\n";
        let messages = split_mbox(contents);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].from_line, "From a@b Mon Jan  1 00:00:00 2024");
        assert_eq!(messages[0].data, b"Subject: one\n\nbody\n>From here\n");
        // no blank line before the next From: still a new message
        assert_eq!(messages[1].data, b"Subject: two\n\nsecond\n");
        assert_eq!(messages[2].data, b"Subject: three\n\nthird\n");
        assert!(split_mbox(b"").is_empty());
        assert!(split_mbox(b"no from line\n").is_empty());
    }

    #[test]
    fn maildir_flags_are_read() {
        assert_eq!(maildir_flags("123.abc.host:2,RS"), Some("RS"));
        assert_eq!(maildir_flags("123.abc.host"), None);
    }
}
