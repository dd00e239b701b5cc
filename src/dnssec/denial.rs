//! Denial of existence from already-verified NSEC or NSEC3 records: which
//! kind the zone uses is read from the records, then [`super::nsec`] or
//! [`super::nsec3`] does the proof. Records of other owners (outside the
//! zone) and other types (RRSIG, SOA) in `denial` are ignored, so the
//! caller may pass the whole authority section.

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC, NSEC3};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::nsec::{self, Nsec};
use super::nsec3::{self, Prover};
use super::{Budget, Failure, Security};
use crate::wire::ede;

/// The denial records of `zone`, split by kind.
struct Denial<'a> {
    nsec: Vec<Nsec<'a>>,
    nsec3: Vec<(&'a Name, &'a NSEC3)>,
}

fn split<'a>(zone: &Name, denial: &'a [Record]) -> Denial<'a> {
    let mut d = Denial {
        nsec: Vec::new(),
        nsec3: Vec::new(),
    };
    for r in denial.iter().filter(|r| zone.zone_of(&r.name)) {
        match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(n)) => d.nsec.push((&r.name, n as &NSEC)),
            RData::DNSSEC(DNSSECRData::NSEC3(n)) => d.nsec3.push((&r.name, n)),
            _ => {}
        }
    }
    d
}

/// Runs the NSEC proof when the zone sent NSEC, else the NSEC3 one, for
/// `name` (which must be in `zone`: a zone proves nothing about others).
fn prove(
    name: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
    by_nsec: impl FnOnce(&[Nsec<'_>]) -> Result<Security, Failure>,
    by_nsec3: impl FnOnce(&mut Prover<'_, '_>) -> Result<Security, Failure>,
) -> Result<Security, Failure> {
    if !zone.zone_of(name) {
        return Err(Failure::new(
            ede::EDE_DNSSEC_BOGUS,
            zone,
            "name is not in the zone",
        ));
    }
    let d = split(zone, denial);
    if !d.nsec.is_empty() {
        return by_nsec(&d.nsec);
    }
    if d.nsec3.is_empty() {
        return Err(Failure::new(
            ede::EDE_NSEC_MISSING,
            zone,
            "no NSEC or NSEC3 records",
        ));
    }
    let set = nsec3::usable(zone, &d.nsec3);
    if set.is_empty() {
        // Only unknown hash algorithms or flags: RFC 5155 §8.1 says to
        // ignore them, which leaves the answer unprovable, so insecure.
        return Ok(Security::Insecure);
    }
    match Prover::new(zone, &set, budget) {
        Ok(mut p) => by_nsec3(&mut p),
        Err(outcome) => outcome,
    }
}

/// Proves `qname` does not exist in `zone` (RFC 4035 §5.4, RFC 5155 §8.4):
/// no such name and no wildcard that could have matched it. `Insecure`
/// for NSEC3 opt-out over the name or iterations above the limit.
pub fn prove_nxdomain(
    qname: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    prove(
        qname,
        zone,
        denial,
        budget,
        |n| nsec::nxdomain(qname, zone, n),
        |p| p.nxdomain(qname),
    )
}

/// Proves `qname` exists without `qtype` (RFC 4035 §5.4, RFC 5155 §8.5-8.7;
/// empty non-terminals and wildcard NODATA included). `Insecure` for a DS
/// question answered by NSEC3 opt-out.
pub fn prove_nodata(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    prove(
        qname,
        zone,
        denial,
        budget,
        |n| nsec::nodata(qname, qtype, zone, n),
        |p| p.nodata(qname, qtype),
    )
}

/// Proves an answer synthesised from `wildcard` (as [`super::Verified`]
/// reports it) was rightly synthesised: no closer name matches `qname`
/// (RFC 4035 §5.3.4, RFC 5155 §8.8).
pub fn prove_wildcard_expansion(
    qname: &Name,
    wildcard: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    prove(
        qname,
        zone,
        denial,
        budget,
        |n| nsec::wildcard(qname, wildcard, zone, n),
        |p| p.wildcard(qname, wildcard),
    )
}

/// Proves the delegation to `child` from `zone` has no DS: `Ok(Insecure)`
/// when proven (NSEC3 opt-out included), so the child is unsigned.
pub fn prove_no_ds(
    child: &Name,
    zone: &Name,
    denial: &[Record],
    budget: &mut Budget,
) -> Result<Security, Failure> {
    prove(
        child,
        zone,
        denial,
        budget,
        |n| nsec::no_ds(child, zone, n),
        |p| p.no_ds(child),
    )
}
