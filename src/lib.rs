//! dnsward: a recursive DNS resolver for ISPs that enforces block lists.
//!
//! The query path reads top to bottom in [`pipeline`], from the listeners
//! in [`server`] (UDP/TCP and their connection table). Below it: [`policy`]
//! (lists, matching, hot reload), [`sinkhole`] (blocked answers) and
//! [`blockpage`] (the HTTP 451 page for browsers sent to the sinkhole),
//! [`resolve`] (cache, recursor, forwarder), all built on [`wire`], the
//! ground floor of DNS wire vocabulary (quick parse, pre-encoded answers,
//! EDE codes, CNAME chains); [`dnssec`] holds the validation rules the
//! resolver applies, without I/O. [`http`] and [`metrics`] serve operations,
//! [`app`] wires everything together and [`config`] holds every setting.
//! `unsafe` is confined to [`sys`] (`recvmmsg`/`sendmmsg`/`poll`,
//! `madvise`, `mallopt`, the prefetch hint), each call justified and
//! measured there.
#![warn(missing_docs)]

pub mod app;
pub mod blockpage;
pub mod config;
pub mod dnssec;
pub mod http;
pub mod logcap;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod querylog;
pub mod report;
pub mod resolve;
pub mod server;
pub mod sinkhole;
pub mod sys;
pub mod transfer;
pub mod validate;
pub mod wire;
