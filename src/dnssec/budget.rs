//! The work budget of one client query: every signature verification and
//! every NSEC3 hash is counted against limits, so that a zone built to
//! make validators work (many keys with one tag, many signatures, long
//! NSEC3 closest-encloser searches) costs a bounded amount of CPU.

use hickory_proto::rr::Name;

use super::Failure;
use crate::wire::ede;

/// Work limits per client query (KeyTrap CVE-2023-50387, NSEC3
/// CVE-2023-50868).
///
/// The defaults follow what the validators did after the 2024 disclosure.
/// PowerDNS Recursor (4.8.6/4.9.3/5.0.2) caps a query at 30 signature
/// validations (`max-signature-validations-per-query`), 600 NSEC3 hash
/// computations and 2 DNSKEYs per key tag and algorithm (`max-dnskeys`);
/// Unbound 1.19.1 tries at most 8 RRSIGs per RRset and 8 validations at
/// once before suspending, 16 suspensions per query, and 1.26 makes the
/// per-query caps settable at 32 validation and 32 hash attempts.
/// dnsward counts per client query, the whole chain of trust included
/// (the resolver's key cache keeps that to a few checks once warm), so
/// 32 checks leave room for a cold chain through a CNAME into other
/// signed zones, and bound the worst case to 32 public-key operations
/// (a few milliseconds even for RSA-4096). NSEC3 hashes are counted per
/// hashed name; the closest-encloser search walks down from the zone, so
/// a real NXDOMAIN costs its closest encloser's depth plus two, and 64
/// covers a reverse ip6.arpa name below a /32 zone with room to spare
/// (each hash is at most `nsec3_max_iterations` + 1 SHA-1 rounds).
/// Iterations above 150 make the answer insecure rather than bogus
/// (RFC 9276 §3.2; 150 is the Unbound and BIND limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Signature verifications per client query.
    pub max_signature_checks: u32,
    /// NSEC3 owner-name hashes per client query.
    pub max_nsec3_hashes: u32,
    /// NSEC3 iterations above this make a proof insecure (EDE 27).
    pub nsec3_max_iterations: u16,
    /// DNSKEYs tried for one RRSIG whose key tag and algorithm they share.
    pub max_keys_per_tag: u32,
}

/// Default of [`Limits::max_signature_checks`].
pub const DEFAULT_MAX_SIGNATURE_CHECKS: u32 = 32;
/// Default of [`Limits::max_nsec3_hashes`].
pub const DEFAULT_MAX_NSEC3_HASHES: u32 = 64;
/// Default of [`Limits::nsec3_max_iterations`].
pub const DEFAULT_NSEC3_MAX_ITERATIONS: u16 = 150;
/// Default of [`Limits::max_keys_per_tag`].
pub const DEFAULT_MAX_KEYS_PER_TAG: u32 = 2;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_signature_checks: DEFAULT_MAX_SIGNATURE_CHECKS,
            max_nsec3_hashes: DEFAULT_MAX_NSEC3_HASHES,
            nsec3_max_iterations: DEFAULT_NSEC3_MAX_ITERATIONS,
            max_keys_per_tag: DEFAULT_MAX_KEYS_PER_TAG,
        }
    }
}

/// The text of the failure when the budget runs out.
pub const BUDGET_TEXT: &str = "validation work limit";

/// The counters of one client query. Create one per client query and pass
/// it to every call validating data for it; read the counters afterwards
/// for the metrics.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    signature_checks: u32,
    nsec3_hashes: u32,
    exceeded: bool,
    insecure_ede: Option<u16>,
}

impl Budget {
    /// A fresh budget under `limits`.
    pub fn new(limits: &Limits) -> Self {
        Budget {
            limits: *limits,
            signature_checks: 0,
            nsec3_hashes: 0,
            exceeded: false,
            insecure_ede: None,
        }
    }

    /// The limits this budget counts against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Signature verifications done so far.
    pub fn signature_checks(&self) -> u32 {
        self.signature_checks
    }

    /// NSEC3 hashes computed so far.
    pub fn nsec3_hashes(&self) -> u32 {
        self.nsec3_hashes
    }

    /// Whether a limit was hit (for `dnsward_dnssec_budget_exceeded_total`).
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The EDE explaining the last insecure outcome that had one: 1
    /// (unsupported DNSKEY algorithm), 2 (unsupported DS digest) or 27
    /// (NSEC3 iterations above the limit).
    pub fn insecure_ede(&self) -> Option<u16> {
        self.insecure_ede
    }

    /// Records why something was judged insecure.
    pub fn set_insecure_ede(&mut self, code: u16) {
        self.insecure_ede = Some(code);
    }

    /// Takes one signature verification from the budget, or fails (EDE 6)
    /// when none is left.
    pub fn charge_signature(&mut self, zone: &Name) -> Result<(), Failure> {
        if self.signature_checks >= self.limits.max_signature_checks {
            self.exceeded = true;
            return Err(Failure::new(ede::EDE_DNSSEC_BOGUS, zone, BUDGET_TEXT));
        }
        self.signature_checks += 1;
        Ok(())
    }

    /// Takes one NSEC3 hash from the budget, or fails (EDE 6).
    pub fn charge_nsec3_hash(&mut self, zone: &Name) -> Result<(), Failure> {
        if self.nsec3_hashes >= self.limits.max_nsec3_hashes {
            self.exceeded = true;
            return Err(Failure::new(ede::EDE_DNSSEC_BOGUS, zone, BUDGET_TEXT));
        }
        self.nsec3_hashes += 1;
        Ok(())
    }
}
