//! `[dnssec]`: DNSSEC validation (RFC 4033-4035, RFC 5155, RFC 6840),
//! trust anchors, negative trust anchors (RFC 7646) and the work limits
//! against validation attacks (KeyTrap, CVE-2023-50387; NSEC3
//! closest-encloser, CVE-2023-50868).

use serde::{Deserialize, Serialize};

/// Most RRSIG verifications one client query may cost, DS and DNSKEY
/// sets of the whole chain included: the validation library's default
/// (`dnssec::Limits`), where a normal chain of trust (root, TLD, zone:
/// DS, DNSKEY, answer and denial proofs) needs under 20 and KeyTrap zones
/// need thousands per query.
pub const DEFAULT_MAX_SIGNATURE_CHECKS: u32 = 32;
/// Most NSEC3 hash computations one client query may cost (each costs
/// `iterations + 1` SHA-1 rounds, at most [`DEFAULT_NSEC3_MAX_ITERATIONS`]).
pub const DEFAULT_MAX_NSEC3_HASHES: u32 = 64;
/// NSEC3 iterations above this make the answer insecure with EDE 27
/// (RFC 9276; 150 as Unbound and BIND ship today).
pub const DEFAULT_NSEC3_MAX_ITERATIONS: u16 = 150;
/// DNSKEYs sharing one key tag tried for one signature (colliding tags
/// are how KeyTrap multiplies the work).
pub const DEFAULT_MAX_KEYS_PER_TAG: u32 = 2;

/// `[dnssec]`: validation of every recursive and forwarded answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnssecConfig {
    /// Validate answers (AD on secure answers, SERVFAIL with EDE on bogus
    /// ones). Default true, with the built-in root trust anchors. False:
    /// answers are passed through unvalidated, exactly as without DNSSEC.
    pub validation: bool,
    /// Trust anchors, DS or DNSKEY records in presentation format
    /// (`. IN DS 20326 8 2 E06D...`). When set (or `trust_anchor_file`)
    /// they replace the built-in root anchors. Default empty.
    pub trust_anchors: Vec<String>,
    /// File of trust anchors, one DS or DNSKEY record per line (Unbound's
    /// trust-anchor-file format); relative to the config file. Default
    /// "" (none).
    pub trust_anchor_file: String,
    /// Zones whose validation is skipped (RFC 7646): their answers are
    /// treated as insecure. Re-read on SIGHUP and `POST /admin/reload`.
    /// Default empty.
    pub negative_trust_anchors: Vec<String>,
    /// Directory for the RFC 5011 rollover state of the trust anchors
    /// (Unbound auto-trust-anchor-file format). Default "" (no rollover
    /// tracking: the configured or built-in anchors are used as they are).
    pub state_dir: String,
    /// Answer NXDOMAIN/NODATA from validated NSEC records already cached
    /// (RFC 8198; NSEC3 is not used).
    /// Default true.
    pub aggressive_nsec: bool,
    /// How long a bogus answer is cached (SERVFAIL served from cache, data
    /// for CD=1), in seconds. Default 60, as Unbound's val-bogus-ttl.
    pub bogus_ttl_secs: u32,
    /// Most signature verifications per client query, in verifications.
    /// Default 32.
    pub max_signature_checks: u32,
    /// Most NSEC3 hash computations per client query, in hashes. Default 64.
    pub max_nsec3_hashes: u32,
    /// NSEC3 iteration count above which an answer is insecure (EDE 27,
    /// RFC 9276). Default 150.
    pub nsec3_max_iterations: u16,
    /// DNSKEYs with the same key tag tried per signature. Default 2.
    pub max_keys_per_tag: u32,
}

impl Default for DnssecConfig {
    fn default() -> Self {
        Self {
            validation: true,
            trust_anchors: Vec::new(),
            trust_anchor_file: String::new(),
            negative_trust_anchors: Vec::new(),
            state_dir: String::new(),
            aggressive_nsec: true,
            bogus_ttl_secs: 60,
            max_signature_checks: DEFAULT_MAX_SIGNATURE_CHECKS,
            max_nsec3_hashes: DEFAULT_MAX_NSEC3_HASHES,
            nsec3_max_iterations: DEFAULT_NSEC3_MAX_ITERATIONS,
            max_keys_per_tag: DEFAULT_MAX_KEYS_PER_TAG,
        }
    }
}
