//! dnsward: a recursive DNS resolver for ISPs that enforces block lists.
//!
//! The query path lives in [`pipeline`]; each stage is a module named for
//! what it does: [`policy`] (lists, matching, hot reload), [`sinkhole`]
//! (blocked answers), [`blockpage`] (the HTTP 451 page), [`resolve`]
//! (cache, recursor, forwarder), [`server`] (UDP/TCP listeners) with
//! [`conntrack`] (their connection table), [`http`] and [`metrics`]
//! (operations), [`app`] (wiring) and [`config`]. `unsafe` is confined to [`hugepages`]
//! (`madvise`, `mallopt`, the prefetch hint) and `udpbatch` (`recvmmsg`/`sendmmsg`/`poll`), each
//! justified and measured there.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod acl;
pub mod app;
pub mod blockpage;
pub mod chain;
pub mod config;
pub mod conntrack;
pub mod fastpath;
pub mod http;
pub mod hugepages;
pub mod logcap;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod querylog;
pub mod ratelimit;
pub mod report;
pub mod resolve;
pub mod server;
pub mod sinkhole;
pub mod transfer;
#[cfg(target_os = "linux")]
pub mod udpbatch;
