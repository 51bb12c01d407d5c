//! The error type shared by the core and everything built on it.

use std::fmt;

/// What went wrong in a tracker operation.
///
/// The variants follow the kinds of failure a Roundup user sees: a missing
/// item, a bad value, a rejected change, a permission refusal. Every message
/// names the class, item or property concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A class that the schema does not define.
    #[error("no such class \"{0}\"")]
    NoSuchClass(String),
    /// A property that the class does not have.
    #[error("class \"{class}\" has no property \"{prop}\"")]
    NoSuchProperty { class: String, prop: String },
    /// An item id that does not exist in the class.
    #[error("{class} has no node {id}")]
    NoSuchNode { class: String, id: String },
    /// A key value that no (active) item has.
    #[error("no {class} with key \"{key}\"")]
    NoSuchKey { class: String, key: String },
    /// A value of the wrong form for its property.
    #[error("{0}")]
    Value(String),
    /// An auditor (or other check) refused the change; nothing was written.
    #[error("{0}")]
    Reject(String),
    /// The user lacks the permission for the operation.
    #[error("{0}")]
    Unauthorised(String),
    /// Schema definition problems (from schema.py or its Rust equivalent).
    #[error("schema error: {0}")]
    Schema(String),
    /// A detector, schema or initial-data script failed.
    #[error("{0}")]
    Script(String),
    /// The tracker configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The storage backend failed; the [`StorageError`] says how (busy,
    /// conflict, constraint, connection or other) and what happened.
    #[error("database error: {0}")]
    Storage(StorageError),
    /// File-system problems (file contents under db/files, tracker home).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A value error with a formatted message.
    pub fn value(msg: impl fmt::Display) -> Error {
        Error::Value(msg.to_string())
    }

    /// A storage error wrapping a backend message (kind
    /// [`StorageKind::Other`]).
    pub fn storage(msg: impl fmt::Display) -> Error {
        Error::storage_kind(StorageKind::Other, msg)
    }

    /// A storage error of a given kind.
    pub fn storage_kind(kind: StorageKind, msg: impl fmt::Display) -> Error {
        Error::Storage(StorageError {
            kind,
            message: msg.to_string(),
        })
    }

    /// The database was busy (locked by another writer, or a deadlock was
    /// broken): trying the same work again later can succeed.
    pub fn busy(msg: impl fmt::Display) -> Error {
        Error::storage_kind(StorageKind::Busy, msg)
    }

    /// A concurrent change conflicted with this transaction
    /// (serialization failure): the transaction must be redone.
    pub fn conflict(msg: impl fmt::Display) -> Error {
        Error::storage_kind(StorageKind::Conflict, msg)
    }

    /// The database refused a write that breaks one of its constraints
    /// (a unique index, NOT NULL, a check).
    pub fn constraint(msg: impl fmt::Display) -> Error {
        Error::storage_kind(StorageKind::Constraint, msg)
    }

    /// The database could not be reached or opened.
    pub fn connection(msg: impl fmt::Display) -> Error {
        Error::storage_kind(StorageKind::Connection, msg)
    }

    /// The kind of a storage error (`None` for every other error).
    pub fn storage_error_kind(&self) -> Option<StorageKind> {
        match self {
            Error::Storage(e) => Some(e.kind),
            _ => None,
        }
    }

    /// Whether doing the same work again may succeed: the database was
    /// busy, or the transaction lost a conflict with another one.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.storage_error_kind(),
            Some(StorageKind::Busy | StorageKind::Conflict)
        )
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }
}

/// How a storage operation failed, as far as a caller can act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageKind {
    /// Locked or busy; retrying later may succeed.
    Busy,
    /// Lost against a concurrent transaction; redo the transaction.
    Conflict,
    /// A constraint (unique index, NOT NULL, check) refused the write.
    Constraint,
    /// The database could not be opened or reached.
    Connection,
    /// Anything else.
    Other,
}

impl StorageKind {
    /// A lower-case name for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            StorageKind::Busy => "busy",
            StorageKind::Conflict => "conflict",
            StorageKind::Constraint => "constraint",
            StorageKind::Connection => "connection",
            StorageKind::Other => "other",
        }
    }
}

/// A storage failure: its kind and the backend's message (naming the
/// statement or file concerned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    pub kind: StorageKind,
    pub message: String,
}

impl StorageError {
    /// The same failure with `context` put before its message.
    pub fn with_context(self, context: impl fmt::Display) -> StorageError {
        StorageError {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Result alias for core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_keep_their_kind_and_roundups_wording() {
        let e = Error::storage("disk I/O error");
        assert_eq!(e.storage_error_kind(), Some(StorageKind::Other));
        assert_eq!(e.to_string(), "database error: disk I/O error");
        assert!(!e.is_retryable());
        assert!(Error::busy("locked").is_retryable());
        assert!(Error::conflict("serialization failure").is_retryable());
        assert!(!Error::constraint("UNIQUE").is_retryable());
        assert!(!Error::connection("refused").is_retryable());
        assert_eq!(
            Error::constraint("x").storage_error_kind(),
            Some(StorageKind::Constraint)
        );
        assert_eq!(Error::value("bad").storage_error_kind(), None);
        assert!(!Error::value("bad").is_retryable());
        let wrapped = match Error::busy("locked") {
            Error::Storage(s) => s.with_context("opening db"),
            _ => unreachable!(),
        };
        assert_eq!(wrapped.kind, StorageKind::Busy);
        assert_eq!(wrapped.to_string(), "opening db: locked");
    }
}
