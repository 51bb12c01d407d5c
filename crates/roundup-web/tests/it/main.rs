//! roundup-web's integration tests, one module per file, all in one test
//! binary. They drive the server as a user would: over HTTP on loopback
//! (`server_*`), as the roundup-server and roundup-demo processes
//! (`server_binaries`, `server_rules`), through headless Chromium
//! (`browser_e2e`), and with schemathesis against the served OpenAPI
//! document (`rest_schemathesis`).

mod action_messages;
mod browser_e2e;
mod chameleon_pages;
mod kept_orders_roundup26;
mod layers;
mod rest_schemathesis;
mod server_actions;
mod server_api;
mod server_binaries;
mod server_extensions;
mod server_http;
mod server_memory;
mod server_page_cache;
mod server_rules;
mod server_support;
mod stock_homes;
mod tal_pages;
