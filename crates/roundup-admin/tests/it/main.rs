//! roundup-admin's integration tests, one module per file, all in one test
//! binary: every binary links the whole dependency tree again, so one
//! binary per crate keeps builds short and target directories small.
//! They run the roundup-admin binary in child processes (the file size
//! limit of the import test is set in the child, between fork and exec),
//! so sharing this process is safe. The Roundup 2.6 transcripts stay in
//! `tests/reference/`.

mod cli;
mod commands2;
mod host_access;
mod nosy_mail;
mod reference;
mod roundtrip_roundup26;
mod stock_homes;
