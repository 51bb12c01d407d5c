//! roundup-core's integration tests, one module per file, all in one test
//! binary: every binary links the whole dependency tree again, so one
//! binary per crate keeps builds short and target directories small.
//! Fixtures stay in `tests/data/`.

mod config_behaviour;
mod config_roundup26;
mod date_behaviour;
mod date_vectors;
mod filter_parse;
mod i18n_roundup26;
mod password_vectors;
mod pyrepr_cases;
mod pyrepr_codec;
mod pyrepr_python;
