//! roundup-ui's integration tests, one module per file, all in one test
//! binary: the page templates of every shipped tracker template rendered
//! against real tracker homes, the templating object model, and the
//! storage reads a page costs (`templating_perf`, run with
//! `cargo test --release -p roundup-ui --test it templating_perf --
//! --ignored` for the full size).

mod templating_common;
mod templating_load;
mod templating_model;
mod templating_pages;
mod templating_perf;
mod templating_smoke;
