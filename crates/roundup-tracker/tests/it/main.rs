//! roundup-tracker's integration tests, one module per file, all in one
//! test binary: backend selection from config.ini, the core's rules (login,
//! rate limits, CSRF, authorisation, designators, index arguments) on a
//! real tracker home, the read cache shared between connections, and
//! `[logging] config` files.

mod backend_selection;
mod core_rules;
mod logging;
mod memory_budgets;
mod shared_cache;
mod tx_source;
