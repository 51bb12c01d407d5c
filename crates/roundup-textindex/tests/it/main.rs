//! roundup-textindex's integration tests in one binary: the backend
//! suite with the inverted index in front of SQLite, and the search
//! semantics and transaction behaviour of the index itself.

mod backend_suite;
mod search;
