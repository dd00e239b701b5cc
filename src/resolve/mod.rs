//! Resolution of names that pass the policy: recursion from the root or
//! forwarding to upstreams, behind one interface and one time budget.

pub mod cache;
pub mod coalesce;
pub mod delegation;
pub mod exchange;
pub mod forward;
pub mod iterate;
pub mod roothints;
pub mod servers;

use std::time::Duration;

use hickory_proto::op::{Message, Query};

use crate::sinkhole::{EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY};

/// Why a resolution failed; each maps to SERVFAIL with an EDE code.
/// `Clone` so one failure can answer every client waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// The whole resolution exceeded its time budget, or every server
    /// timed out.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No authoritative server could be reached or gave a usable answer.
    #[error("no reachable authority: {0}")]
    NoAuthority(String),
    /// A network-level failure talking to another server.
    #[error("network error: {0}")]
    Network(String),
}

impl ResolveError {
    /// RFC 8914 code to attach to the SERVFAIL.
    pub fn ede_code(&self) -> u16 {
        match self {
            ResolveError::Timeout(_) | ResolveError::NoAuthority(_) => EDE_NO_REACHABLE_AUTHORITY,
            ResolveError::Network(_) => EDE_NETWORK_ERROR,
        }
    }

    /// Bounded metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            ResolveError::Timeout(_) => "timeout",
            ResolveError::NoAuthority(_) => "no_authority",
            ResolveError::Network(_) => "network",
        }
    }
}

impl From<exchange::ExchangeError> for ResolveError {
    fn from(e: exchange::ExchangeError) -> Self {
        match e {
            exchange::ExchangeError::Timeout { after, .. } => ResolveError::Timeout(after),
            other => ResolveError::Network(other.to_string()),
        }
    }
}

/// The configured resolution strategy.
pub enum Upstream {
    /// Iterative resolution from the root.
    Recursive(Box<iterate::Iterative>, coalesce::InFlight),
    /// Forwarding to upstream resolvers.
    Forward(forward::Forwarder, coalesce::InFlight),
}

impl Upstream {
    /// Recursion with `it`.
    pub fn recursive(it: iterate::Iterative) -> Self {
        Upstream::Recursive(Box::new(it), coalesce::InFlight::default())
    }

    /// Forwarding with `f`.
    pub fn forward(f: forward::Forwarder) -> Self {
        Upstream::Forward(f, coalesce::InFlight::default())
    }

    /// Metrics label of the mode.
    pub fn mode(&self) -> &'static str {
        match self {
            Upstream::Recursive(..) => "recursive",
            Upstream::Forward(..) => "forward",
        }
    }

    /// Resolve one question within `budget`. The returned message carries
    /// the rcode and the answer/authority sections (NXDOMAIN and NODATA are
    /// answers, not errors).
    pub async fn resolve(
        &self,
        query: &Query,
        dnssec_ok: bool,
        budget: Duration,
    ) -> Result<Message, ResolveError> {
        // Boxed: an iteration's state machine is kilobytes, and inline it
        // would make every spawned query task that big, cache hits
        // included (tokio copies a task's future on spawn and completion;
        // perf showed those copies at ~3% of cold-recursion CPU).
        // Identical questions in flight share one resolution.
        let fut: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>> = match self {
            Upstream::Recursive(r, flights) => {
                Box::pin(flights.run(query, dnssec_ok, r.resolve(query, dnssec_ok)))
            }
            Upstream::Forward(f, flights) => {
                Box::pin(flights.run(query, dnssec_ok, f.resolve(query, dnssec_ok)))
            }
        };
        match tokio::time::timeout(budget, fut).await {
            Ok(r) => r,
            Err(_) => Err(ResolveError::Timeout(budget)),
        }
    }
}
