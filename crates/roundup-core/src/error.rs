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
    /// The storage backend failed.
    #[error("database error: {0}")]
    Storage(String),
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

    /// A storage error wrapping a backend message.
    pub fn storage(msg: impl fmt::Display) -> Error {
        Error::Storage(msg.to_string())
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }
}

/// Result alias for core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
