//! The wire-level tests, one binary: each module starts the real server on
//! loopback ports (in-process or as the built binary) and talks DNS to it,
//! against the loopback authoritative hierarchy in [`common`]. One binary
//! compiles the harness once instead of once per test file.
//!
//! `tests/alloc_free.rs` stays a binary of its own: it installs a counting
//! global allocator, which would count every other test's allocations.

mod common;

mod blocking;
mod blockpage;
mod blockpage_chain;
mod chains;
mod cli;
mod dnssec;
mod dnssec_aggressive;
mod dnssec_rollover;
mod dnstap;
mod feed;
mod groups;
mod hardening;
mod lists;
mod orders;
mod querylog;
mod reload;
mod report;
mod resolution;
mod rpz;
mod transfer;
mod transfer_bench;
mod unbound_front;
mod validation;
mod wire;
