//! Verifying one RRset with a zone's keys (RFC 4035 §5.3, RFC 6840).

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::{Name, Record, RecordType};

use super::{Budget, Failure, Now, Verified, ZoneKeys};
use crate::wire::ede;

/// Whether dnsward validates signatures of `alg`: RSA/SHA-1 (5, 7; RFC
/// 8624 keeps validating them), RSA/SHA-256 (8), RSA/SHA-512 (10), ECDSA
/// P-256 (13), P-384 (14) and Ed25519 (15). Ed448 (16) is missing from
/// ring, so zones signed only with it are insecure (RFC 6840 §5.2).
pub fn supported_algorithm(alg: Algorithm) -> bool {
    matches!(u8::from(alg), 5 | 7 | 8 | 10 | 13 | 14 | 15)
}

/// The signer name of the first RRSIG in `rrsigs` covering `covered`: the
/// zone whose keys the caller must fetch.
pub fn signer(rrsigs: &[Record], covered: RecordType) -> Option<&Name> {
    let _ = (rrsigs, covered);
    None
}

/// Verifies one RRset (all records of one owner, type and class) with the
/// zone's keys: accepts the first RRSIG that checks (RFC 6840 §5.11: any
/// one valid path), charging each verification to `budget`.
pub fn verify_rrset(
    rrset: &[Record],
    rrsigs: &[Record],
    keys: &ZoneKeys,
    now: Now,
    budget: &mut Budget,
) -> Result<Verified, Failure> {
    let _ = (rrset, rrsigs, now, budget);
    Err(Failure::new(
        ede::EDE_DNSSEC_BOGUS,
        &keys.zone,
        "not implemented",
    ))
}
