//! A zone's DNSKEY RRset against its DS set or trust anchors (RFC 4035
//! §5.2, RFC 4509 §3, RFC 6840 §5.2, RFC 5011 §7 REVOKE).

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::DigestType;
use hickory_proto::rr::{Name, Record};

use super::{Anchor, Budget, KeysOutcome, Now};

/// Whether dnsward can check DS digests of `digest`: SHA-1 (1), SHA-256
/// (2), SHA-384 (4).
pub fn supported_digest(digest: DigestType) -> bool {
    matches!(u8::from(digest), 1 | 2 | 4)
}

/// Whether `ds` is the digest of `key` owned by `zone` (key tag,
/// algorithm and digest all match).
pub fn ds_matches(ds: &DS, zone: &Name, key: &DNSKEY) -> bool {
    let _ = (ds, zone, key);
    false
}

/// Validates the DNSKEY RRset of `zone` against `anchors` (the parent's
/// validated DS RRset, or configured trust anchors for the zone).
pub fn validate_dnskeys(
    zone: &Name,
    dnskey_rrset: &[Record],
    rrsigs: &[Record],
    anchors: &[Anchor],
    now: Now,
    budget: &mut Budget,
) -> KeysOutcome {
    let _ = (zone, dnskey_rrset, rrsigs, anchors, now, budget);
    KeysOutcome::Insecure
}
