//! password (in progress)
