//! roundup-api's integration tests, one module per file, all in one test
//! binary (every test binary links the whole dependency tree again). They
//! call the REST and XML-RPC handlers directly on a real tracker home, and
//! compare with Roundup 2.6 and Python's own XML-RPC client where that is
//! the reference; the HTTP server's own API tests are in roundup-web.

mod rest_api;
mod rest_auth;
mod rest_conformance;
mod rest_support;
mod xmlrpc_python;
