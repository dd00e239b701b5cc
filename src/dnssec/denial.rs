//! Denial of existence from already-verified NSEC or NSEC3 records: which
//! kind the zone uses is read from the records, then [`super::nsec`] or
//! [`super::nsec3`] does the proof.

use hickory_proto::rr::{Name, Record, RecordType};

use super::{Budget, Failure, Security};
use crate::wire::ede;

/// Proves `qname` does not exist in `zone` (RFC 4035 §5.4, RFC 5155 §8.4):
/// no such name and no wildcard that could have matched it.
pub fn prove_nxdomain(
    qname: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    let _ = (qname, denial, budget);
    Err(Failure::new(ede::EDE_NSEC_MISSING, zone, "not implemented"))
}

/// Proves `qname` exists without `qtype` (RFC 4035 §5.4, RFC 5155 §8.5-8.7,
/// wildcard NODATA included).
pub fn prove_nodata(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    let _ = (qname, qtype, denial, budget);
    Err(Failure::new(ede::EDE_NSEC_MISSING, zone, "not implemented"))
}

/// Proves an answer synthesised from `wildcard` was rightly synthesised:
/// `qname` itself does not exist (RFC 4035 §5.3.4, RFC 5155 §8.8).
pub fn prove_wildcard_expansion(
    qname: &Name,
    wildcard: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    let _ = (qname, wildcard, denial, budget);
    Err(Failure::new(ede::EDE_NSEC_MISSING, zone, "not implemented"))
}

/// Proves the delegation to `child` from `zone` has no DS: `Ok(Insecure)`
/// when proven (NSEC3 opt-out included), so the child is unsigned.
pub fn prove_no_ds(
    child: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    let _ = (child, denial, budget);
    Err(Failure::new(ede::EDE_NSEC_MISSING, zone, "not implemented"))
}
