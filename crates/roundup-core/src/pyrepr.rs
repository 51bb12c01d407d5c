//! pyrepr (in progress)
