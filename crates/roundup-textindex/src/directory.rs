//! Where the index's files are read from: tantivy's memory-mapped
//! directory, except for the document stores.
//!
//! A segment's `.store` file keeps the words of every text in it (so that
//! a text whose owners change can be put back as it was). Nothing reads a
//! store but that, and merges: a merge copies the stores of all the
//! segments it takes in from start to end. Mapped, every page it touched
//! stayed in the process's resident set until the whole merge ended: a
//! 1,000,000-issue import peaked at 268 MB, 170 MB of which were the
//! stores of one merge's segments. Read with positioned reads instead,
//! one segment's store at a time is in memory, and a look-up of one text
//! reads one block.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{
    DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError,
};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback,
    WatchHandle, WritePtr,
};
use tantivy::HasLen;

/// The index directory; see the module documentation.
#[derive(Clone, Debug)]
pub(crate) struct IndexDirectory {
    root: PathBuf,
    mapped: MmapDirectory,
}

impl IndexDirectory {
    pub(crate) fn open(root: &Path) -> Result<IndexDirectory, OpenDirectoryError> {
        Ok(IndexDirectory {
            root: root.to_path_buf(),
            mapped: MmapDirectory::open(root)?,
        })
    }
}

/// A file read with positioned reads (`pread`), each read its own buffer.
#[derive(Debug)]
struct ReadAtFile {
    file: File,
    len: usize,
}

impl HasLen for ReadAtFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for ReadAtFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        let mut buf = vec![0u8; end - start];
        self.file.read_exact_at(&mut buf, start as u64)?;
        Ok(OwnedBytes::new(buf))
    }
}

fn is_store(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "store")
}

impl Directory for IndexDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if !is_store(path) {
            return self.mapped.get_file_handle(path);
        }
        let full = self.root.join(path);
        let file = File::open(&full).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                OpenReadError::FileDoesNotExist(path.to_path_buf())
            } else {
                OpenReadError::wrap_io_error(e, full.clone())
            }
        })?;
        let len = file
            .metadata()
            .map_err(|e| OpenReadError::wrap_io_error(e, full.clone()))?
            .len();
        let len = usize::try_from(len).map_err(|_| {
            OpenReadError::wrap_io_error(
                io::Error::new(io::ErrorKind::InvalidData, "file too large"),
                full,
            )
        })?;
        Ok(Arc::new(ReadAtFile { file, len }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mapped.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mapped.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mapped.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mapped.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mapped.acquire_lock(lock)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mapped.watch(callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_read_by_range_and_other_files_mapped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.store"), b"0123456789").unwrap();
        std::fs::write(dir.path().join("a.idx"), b"abcdef").unwrap();
        let d = IndexDirectory::open(dir.path()).unwrap();
        let store = d.get_file_handle(Path::new("a.store")).unwrap();
        assert_eq!(store.len(), 10);
        assert_eq!(store.read_bytes(2..5).unwrap().as_slice(), b"234");
        // a range past the end is cut at it, as the mapped files do
        assert_eq!(store.read_bytes(8..20).unwrap().as_slice(), b"89");
        let idx = d.get_file_handle(Path::new("a.idx")).unwrap();
        assert_eq!(idx.read_bytes(0..6).unwrap().as_slice(), b"abcdef");
        assert!(matches!(
            d.get_file_handle(Path::new("b.store")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
    }
}
