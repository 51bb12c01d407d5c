//! roundup-redis's integration tests, one module per file, all in one test
//! binary (every binary links the whole dependency tree again): a new test
//! file becomes a module here, not a binary of its own.

mod redis_store;
