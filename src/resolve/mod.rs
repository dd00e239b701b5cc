//! Resolution of names that pass the policy: recursion from the root or
//! forwarding to upstreams, behind one interface and one time budget.

pub mod aggressive;
pub mod cache;
pub mod classify;
pub mod coalesce;
pub mod delegation;
pub mod exchange;
pub mod forward;
pub mod iterate;
pub mod minimise;
pub mod prefetch;
pub mod rollover;
pub mod roothints;
pub mod servers;
pub mod validate;

use std::time::Duration;

use hickory_proto::op::{Message, Query};

use crate::wire::ede::{EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY};

/// The DNSSEC status of one resolution (RFC 4033 5), as the cache keeps
/// it and the response flags show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Validation is off (`dnssec.validation = false`): answered exactly
    /// as a non-validating resolver does.
    #[default]
    Unchecked,
    /// A chain of trust from an anchor proves it: AD when asked for.
    Secure,
    /// Proven unsigned (a delegation without DS), under a negative trust
    /// anchor, or without an anchor above it.
    Insecure,
    /// Should be signed and is not, or its signatures fail: SERVFAIL with
    /// EDE (the data only for CD=1).
    Bogus,
    /// Could not be decided (a chain-of-trust fetch failed).
    Indeterminate,
}

impl Status {
    /// Bounded metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Status::Unchecked => "unchecked",
            Status::Secure => "secure",
            Status::Insecure => "insecure",
            Status::Bogus => "bogus",
            Status::Indeterminate => "indeterminate",
        }
    }

    /// The weaker of two parts of one answer: a whole answer is only as
    /// secure as its least secure RRset.
    pub fn and(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Bogus => 0,
                Status::Indeterminate => 1,
                Status::Insecure => 2,
                Status::Unchecked => 3,
                Status::Secure => 4,
            }
        }
        if rank(other) < rank(self) {
            other
        } else {
            self
        }
    }
}

/// An Extended DNS Error a validation result carries: for a bogus answer
/// the reason for its SERVFAIL, for an insecure one a note (EDE 27 for
/// NSEC3 iterations over the limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ede {
    /// RFC 8914 info code.
    pub code: u16,
    /// EXTRA-TEXT: names the zone, never a server address.
    pub text: std::sync::Arc<str>,
}

impl Ede {
    /// The EDE as the reply writers take it.
    pub fn wire(&self) -> crate::wire::ede::Ede<'_> {
        crate::wire::ede::Ede::new(self.code, &self.text)
    }
}

/// One resolved answer with its DNSSEC status.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Rcode and sections (NXDOMAIN and NODATA are answers).
    pub msg: Message,
    /// What validation found.
    pub status: Status,
    /// Why, when bogus (or the EDE of an insecure answer).
    pub ede: Option<Ede>,
}

impl Answer {
    /// An answer nobody validated.
    pub fn unchecked(msg: Message) -> Self {
        Self {
            msg,
            status: Status::Unchecked,
            ede: None,
        }
    }
}

/// Why a resolution failed; each maps to SERVFAIL with an EDE code.
/// `Clone` so one failure can answer every client waiting on it.
///
/// `Display` is the full reason, server addresses included, for logs;
/// [`ResolveError::public_text`] is what a subscriber may read in the
/// EDE text: addresses of upstreams and name servers say nothing to a
/// subscriber and map the operator's network to anyone who asks.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// The whole resolution exceeded its time budget, or every server
    /// timed out.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No authoritative server could be reached or gave a usable answer.
    #[error("no reachable authority: {detail}")]
    NoAuthority {
        /// The full reason, addresses included (logs only).
        detail: String,
        /// The reason without addresses (EDE text).
        public: String,
    },
    /// A network-level failure talking to another server.
    #[error("network error: {detail}")]
    Network {
        /// The full reason, addresses included (logs only).
        detail: String,
        /// The reason without addresses (EDE text).
        public: String,
    },
}

impl ResolveError {
    /// A [`ResolveError::NoAuthority`]: `detail` for logs, `public` (no
    /// addresses) for the client.
    pub fn no_authority(detail: impl Into<String>, public: impl Into<String>) -> Self {
        ResolveError::NoAuthority {
            detail: detail.into(),
            public: public.into(),
        }
    }

    /// A [`ResolveError::Network`]: `detail` for logs, `public` (no
    /// addresses) for the client.
    pub fn network(detail: impl Into<String>, public: impl Into<String>) -> Self {
        ResolveError::Network {
            detail: detail.into(),
            public: public.into(),
        }
    }

    /// RFC 8914 code to attach to the SERVFAIL.
    pub fn ede_code(&self) -> u16 {
        match self {
            ResolveError::Timeout(_) | ResolveError::NoAuthority { .. } => {
                EDE_NO_REACHABLE_AUTHORITY
            }
            ResolveError::Network { .. } => EDE_NETWORK_ERROR,
        }
    }

    /// The EDE extra text of the SERVFAIL: the reason without any server
    /// address (those stay in the logs and metrics).
    pub fn public_text(&self) -> String {
        match self {
            ResolveError::Timeout(d) if d.is_zero() => "no name server answered in time".into(),
            ResolveError::Timeout(d) => format!("timed out after {d:?}"),
            ResolveError::NoAuthority { public, .. } | ResolveError::Network { public, .. } => {
                public.clone()
            }
        }
    }

    /// Bounded metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            ResolveError::Timeout(_) => "timeout",
            ResolveError::NoAuthority { .. } => "no_authority",
            ResolveError::Network { .. } => "network",
        }
    }
}

impl From<exchange::ExchangeError> for ResolveError {
    fn from(e: exchange::ExchangeError) -> Self {
        match e {
            exchange::ExchangeError::Timeout { after, .. } => ResolveError::Timeout(after),
            other => ResolveError::network(
                other.to_string(),
                format!("upstream: {}", other.public_text()),
            ),
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

    /// The DNSSEC validator, when validation is on.
    pub fn validator(&self) -> Option<&std::sync::Arc<validate::Validator>> {
        match self {
            Upstream::Recursive(r, _) => r.validator(),
            Upstream::Forward(f, _) => f.validator(),
        }
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
    ) -> Result<Answer, ResolveError> {
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
