//! Integration tests of cloudflare-images-mock: a real HTTP client (reqwest) against a real
//! mock server, one per test.

mod auth;
mod body;
mod concurrency;
mod delivery;
mod deterministic;
#[cfg(feature = "proptest")]
mod direct_generated;
mod direct_upload;
mod expect;
mod fuzz_corpus;
mod harness;
mod helpers;
mod hostile;
mod images;
mod journal;
mod keys;
mod lifecycle;
mod load;
mod loaded_fixtures;
mod memory;
mod metadata;
#[cfg(feature = "proptest")]
mod operations;
#[cfg(feature = "proptest")]
mod properties;
mod recorded;
mod routes;
mod rules;
mod runtime;
mod script;
mod sdk;
mod snapshot;
mod upload;
mod url;
mod variants;
