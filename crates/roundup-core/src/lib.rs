//! The tracker core: Roundup's "hyperdb" data model and its transactional API.
pub mod config;
pub mod date;
pub mod password;
pub mod pyrepr;
