//! DNSSEC validation (RFC 4033/4034/4035 with the RFC 6840 clarifications,
//! NSEC3 per RFC 5155 and RFC 9276): pure, synchronous functions over
//! records the resolver already holds. No network and no runtime here: the
//! resolver walks the chain of trust, fetches DNSKEY/DS sets and keeps the
//! key cache; this module only says whether what it was handed proves
//! what it claims.
//!
//! Crypto and record types come from hickory-proto (`dnssec-ring`), with
//! RSA keys below ring's 1024-bit floor checked by `rsa_small.rs`; the
//! rules are ours, so that every signature check and NSEC3 hash is counted
//! against a per-query [`Budget`] (KeyTrap, CVE-2023-50387; NSEC3
//! closest-encloser, CVE-2023-50868). hickory's own `TBS` is not used for
//! the signed data: it orders the RRset by TTL before RDATA, encodes RDATA
//! with name compression and leaves DNAME targets in their original case,
//! each of which breaks RFC 4034 §6 for some real RRset ([`canonical`]).
//!
//! Entry points: [`validate_dnskeys`] (a zone's DNSKEY RRset against the
//! parent's DS set or a trust anchor), [`verify_rrset`] (one RRset with a
//! zone's keys), and the denial proofs [`prove_nxdomain`],
//! [`prove_nodata`], [`prove_wildcard_expansion`], [`prove_no_ds`] over
//! NSEC/NSEC3 records that [`verify_rrset`] already accepted.

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::rr::Name;

mod budget;
pub mod canonical;
mod denial;
#[cfg(test)]
mod interop;
mod keys;
mod nsec;
mod nsec3;
mod rsa_small;
#[cfg(test)]
mod testkit;
mod verify;

pub use budget::{Budget, Limits};
pub use denial::{prove_no_ds, prove_nodata, prove_nxdomain, prove_wildcard_expansion};
pub use keys::{ds_matches, supported_digest, validate_dnskeys};
pub use verify::{signer, supported_algorithm, verify_rrset, verify_signature};

// Trust anchors and RFC 5011 rollover live in their own modules, declared
// below this line.
pub mod anchors;
pub mod rfc5011;
pub mod settings;

/// Result of validating one answer (RFC 4033 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Every RRset and denial proof chains to a trust anchor.
    Secure,
    /// Proven unsigned: no DS at a delegation (or NSEC3 opt-out), an
    /// unsupported algorithm or digest (RFC 6840 §5.2), NSEC3 iterations
    /// above the limit (RFC 9276), or below a negative trust anchor.
    Insecure,
    /// Should be signed and is not, or signatures fail: SERVFAIL.
    Bogus,
    /// No trust anchor covers the name (validation off for it).
    Indeterminate,
}

impl Security {
    /// The `result` label of `dnsward_dnssec_results_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Secure => "secure",
            Security::Insecure => "insecure",
            Security::Bogus => "bogus",
            Security::Indeterminate => "indeterminate",
        }
    }
}

/// Why an answer is bogus: the EDE info code to send (RFC 8914; codes in
/// [`crate::wire::ede`]), the zone whose data failed, and a short text for
/// the EXTRA-TEXT, the log and the bogus cache. Static text so a failure
/// costs no allocation beyond the zone name, whatever an attacker sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{zone}: {text} (EDE {ede})")]
pub struct Failure {
    /// EDE info code.
    pub ede: u16,
    /// The zone whose records failed.
    pub zone: Name,
    /// What failed, for operators.
    pub text: &'static str,
}

impl Failure {
    /// A failure of `zone` with `ede` and `text`.
    pub fn new(ede: u16, zone: &Name, text: &'static str) -> Self {
        Failure {
            ede,
            zone: zone.clone(),
            text,
        }
    }
}

/// Validation time in seconds since the epoch, truncated to 32 bits: RRSIG
/// windows compare in serial-number arithmetic (RFC 4034 §3.1.5), so the
/// wrap in 2106 is harmless. Passed in, never read from the clock here, so
/// tests and faked time agree.
pub type Now = u32;

/// A trust anchor or a parent's DS record: what a zone's DNSKEY RRset is
/// checked against. Configured anchors may be either form (Unbound
/// `trust-anchor-file` lines); a delegation gives DS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// A DS record (from the parent zone, or a configured DS anchor).
    Ds(DS),
    /// A configured DNSKEY anchor: trusted as is (its REVOKE bit excepted).
    Dnskey(DNSKEY),
}

/// The trusted keys of one zone after its DNSKEY RRset validated against
/// DS or a trust anchor: every DNSKEY of the validated RRset (RFC 4035
/// §5.3.1 lets any zone key sign data), revoked ones excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneKeys {
    /// The zone apex the keys belong to (the RRSIG signer name).
    pub zone: Name,
    /// The keys.
    pub keys: Vec<DNSKEY>,
    /// How long the keys may be cached: the validated DNSKEY RRset's TTL
    /// ([`Verified::ttl`]).
    pub ttl: u32,
}

/// What [`validate_dnskeys`] concluded about a zone's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysOutcome {
    /// The DNSKEY RRset is signed by a DS- or anchor-matched key.
    Secure(ZoneKeys),
    /// No DS/anchor with a supported algorithm and digest: the zone is
    /// treated as unsigned (RFC 6840 §5.2, RFC 4035 §5.2). The reason
    /// (EDE 1 or 2) is left in [`Budget::insecure_ede`].
    Insecure,
    /// Supported DS/anchors exist but no matching key signs the set.
    Bogus(Failure),
}

/// What a successful [`verify_rrset`] learnt besides "signed".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// TTL to cache the RRset with: min(RRset TTL, RRSIG TTL, RRSIG
    /// original TTL, seconds until the signature expires), RFC 4035 §5.3.3.
    pub ttl: u32,
    /// When the RRSIG labels count is below the owner's: the answer was
    /// synthesised from this wildcard (`*.` + the closest encloser), and
    /// the caller must also prove the qname itself does not exist
    /// ([`prove_wildcard_expansion`], RFC 4035 §5.3.4).
    pub wildcard: Option<Name>,
}
