//! Resolution of names that pass the policy: recursion from the root or
//! forwarding to upstreams, behind one interface and one time budget.

pub mod cache;
pub mod coalesce;
pub mod delegation;
pub mod exchange;
pub mod forward;
pub mod iterate;
pub mod minimise;
pub mod prefetch;
pub mod roothints;
pub mod servers;

use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::Name;

use crate::sinkhole::{EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY};

/// A name in lowercase wire form without the root's zero byte
/// (`\x03www\x07example\x02zz`), on the stack: the key form of the
/// resolver's maps (zone cuts, questions in flight). Hashing it is one
/// pass over a few bytes, where hashing a `Name` lowercases and hashes
/// label by label, and every suffix (each enclosing zone) is a slice of
/// it, where `Name::trim_to` builds a new name per suffix (together ~8% of
/// the instructions of a cold query, callgrind).
pub struct LowerWire {
    buf: [u8; 255],
    len: u8,
    starts: [u8; 128],
    labels: u8,
}

impl LowerWire {
    /// Encode `name`. A name longer than 254 wire bytes (which `Name`
    /// does not allow) is cut at the last label that fits.
    pub fn new(name: &Name) -> Self {
        let mut w = Self {
            buf: [0; 255],
            len: 0,
            starts: [0; 128],
            labels: 0,
        };
        let mut len = 0usize;
        for (i, label) in name.iter().enumerate() {
            let end = len + 1 + label.len();
            let (Ok(n), true) = (u8::try_from(label.len()), end <= 254 && i < 128) else {
                break;
            };
            w.starts[i] = len as u8;
            w.buf[len] = n;
            w.buf[len + 1..end].copy_from_slice(label);
            w.buf[len + 1..end].make_ascii_lowercase();
            len = end;
            w.labels = (i + 1) as u8;
        }
        w.len = len as u8;
        w
    }

    /// The whole name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The name and each enclosing name, longest first (the root, empty,
    /// not included).
    pub fn suffixes(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.starts[..usize::from(self.labels)]
            .iter()
            .map(|&s| &self.buf[usize::from(s)..usize::from(self.len)])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_wire_keys_fold_case_and_slice_into_enclosing_zones() {
        let a = LowerWire::new(&Name::from_ascii("WwW.Example.ZZ.").expect("name"));
        let b = LowerWire::new(&Name::from_ascii("www.example.zz").expect("name"));
        assert_eq!(a.as_bytes(), b"\x03www\x07example\x02zz");
        assert_eq!(
            a.as_bytes(),
            b.as_bytes(),
            "case and the root dot do not matter"
        );
        let sfx: Vec<&[u8]> = a.suffixes().collect();
        assert_eq!(
            sfx,
            vec![
                &b"\x03www\x07example\x02zz"[..],
                &b"\x07example\x02zz"[..],
                &b"\x02zz"[..]
            ]
        );
        let zone = LowerWire::new(&Name::from_ascii("EXAMPLE.zz.").expect("name"));
        assert_eq!(sfx[1], zone.as_bytes(), "a suffix is the zone's own key");
        let root = LowerWire::new(&Name::root());
        assert!(root.as_bytes().is_empty() && root.suffixes().next().is_none());
        // The longest names hickory accepts fit whole.
        let long = Name::from_ascii(format!(
            "{}.{}.{}.{}.",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        ))
        .expect("253-character name");
        let w = LowerWire::new(&long);
        assert_eq!(w.as_bytes().len(), 254);
        assert_eq!(w.suffixes().count(), 4);
        // 127 one-letter labels: the most labels a name can have.
        let many = Name::from_ascii("a.".repeat(127)).expect("127 labels");
        let w = LowerWire::new(&many);
        assert_eq!(w.suffixes().count(), 127);
        assert_eq!(w.suffixes().last(), Some(&b"\x01a"[..]));
    }
}
