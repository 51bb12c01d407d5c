//! The tracker core: Roundup's "hyperdb" data model and its transactional API.
pub mod date;
pub mod password;
pub mod pyrepr;
pub mod config;
