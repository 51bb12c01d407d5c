//! HTTP serving (being written on the web-server branch).
