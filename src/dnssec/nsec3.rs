//! NSEC3 denial proofs (RFC 5155 §8.3-8.8, RFC 9276 §3.2).
//!
//! Names are hashed at most once per proof and every hash is charged to
//! the [`Budget`]. The closest encloser is searched from the zone down,
//! stopping at the first name an NSEC3 covers (nothing below a
//! non-existent name exists): a real NXDOMAIN costs the closest encloser's
//! depth plus two hashes, not the query name's depth, which is what a
//! random-subdomain or CVE-2023-50868 style query controls. NSEC3 with
//! iterations above the limit are not hashed at all: the answer is
//! insecure with EDE 27 (RFC 9276).

use hickory_proto::dnssec::rdata::NSEC3;
use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::rr::{Name, RecordType};

use super::nsec::{labels, wildcard_of};
use super::{Budget, Failure, Security};
use crate::wire::ede;

/// One usable NSEC3 record: its owner hash (decoded) and rdata.
pub(super) struct Nsec3<'a> {
    hash: Vec<u8>,
    rdata: &'a NSEC3,
}

/// The NSEC3 records of `zone` a proof may use: one label below the apex,
/// SHA-1, flags 0 or 1 (RFC 5155 §8.1-8.2), and the salt and iterations of
/// the first such record (a zone has one parameter set).
pub(super) fn usable<'a>(zone: &Name, records: &[(&'a Name, &'a NSEC3)]) -> Vec<Nsec3<'a>> {
    let mut out: Vec<Nsec3<'a>> = Vec::new();
    for (owner, rdata) in records {
        if labels(owner) != labels(zone) + 1 || !zone.zone_of(owner) {
            continue;
        }
        if rdata.hash_algorithm() != Nsec3HashAlgorithm::SHA1 || rdata.flags() > 1 {
            continue;
        }
        if let Some(first) = out.first() {
            if first.rdata.salt() != rdata.salt() || first.rdata.iterations() != rdata.iterations()
            {
                continue;
            }
        }
        let Some(label) = owner.iter().next() else {
            continue;
        };
        let upper = label.to_ascii_uppercase();
        let Ok(hash) = data_encoding::BASE32HEX_NOPAD.decode(&upper) else {
            continue;
        };
        out.push(Nsec3 { hash, rdata });
    }
    out
}

/// A proof in progress: the records, the zone, the hashes computed so far.
pub(super) struct Prover<'a, 'b> {
    zone: &'b Name,
    set: &'b [Nsec3<'a>],
    budget: &'b mut Budget,
    hashed: Vec<(Name, Vec<u8>)>,
}

/// What the NSEC3 records say about one name.
enum Seen<'a> {
    Matched(&'a NSEC3),
    Covered(&'a NSEC3),
    Unknown,
}

/// Where the closest-encloser search ended.
struct Encloser<'a> {
    ce: Name,
    /// The NSEC3 covering the next closer name.
    cover: &'a NSEC3,
}

impl<'a, 'b> Prover<'a, 'b> {
    /// A prover, or `Ok(Insecure)` (EDE 27 noted) when the iterations are
    /// above the limit, or the EDE 12 failure when there is no record.
    pub(super) fn new(
        zone: &'b Name,
        set: &'b [Nsec3<'a>],
        budget: &'b mut Budget,
    ) -> Result<Self, Result<Security, Failure>> {
        let Some(first) = set.first() else {
            return Err(Err(missing(zone, "no usable NSEC3 records")));
        };
        if first.rdata.iterations() > budget.limits().nsec3_max_iterations {
            budget.set_insecure_ede(ede::EDE_UNSUPPORTED_NSEC3_ITERATIONS);
            return Err(Ok(Security::Insecure));
        }
        Ok(Prover {
            zone,
            set,
            budget,
            hashed: Vec::new(),
        })
    }

    fn hash(&mut self, name: &Name) -> Result<Vec<u8>, Failure> {
        if let Some((_, h)) = self.hashed.iter().find(|(n, _)| n == name) {
            return Ok(h.clone());
        }
        self.budget.charge_nsec3_hash(self.zone)?;
        let first = self.set.first().map(|s| s.rdata);
        let (salt, iterations) = first
            .map(|r| (r.salt(), r.iterations()))
            .unwrap_or((&[], 0));
        let h = Nsec3HashAlgorithm::SHA1
            .hash(salt, name, iterations)
            .map_err(|_| Failure::new(ede::EDE_DNSSEC_BOGUS, self.zone, "NSEC3 hash failed"))?
            .as_ref()
            .to_vec();
        self.hashed.push((name.clone(), h.clone()));
        Ok(h)
    }

    fn seen(&mut self, name: &Name) -> Result<Seen<'a>, Failure> {
        let h = self.hash(name)?;
        if let Some(m) = self.set.iter().find(|s| s.hash == h) {
            return Ok(Seen::Matched(m.rdata));
        }
        let covered = self.set.iter().find(|s| {
            let next = s.rdata.next_hashed_owner_name();
            if s.hash.as_slice() < next {
                s.hash.as_slice() < h.as_slice() && h.as_slice() < next
            } else {
                // The last NSEC3 of the chain wraps around.
                s.hash.as_slice() < h.as_slice() || h.as_slice() < next
            }
        });
        Ok(covered.map_or(Seen::Unknown, |c| Seen::Covered(c.rdata)))
    }

    /// The closest provable encloser of `qname` (RFC 5155 §8.3): the
    /// deepest ancestor an NSEC3 matches whose child toward `qname` an
    /// NSEC3 covers. `Ok(None)` when `qname` itself is matched.
    fn closest_encloser(&mut self, qname: &Name) -> Result<Option<Encloser<'a>>, Failure> {
        let top = labels(self.zone);
        let bottom = labels(qname);
        let mut parent: Option<(Name, &'a NSEC3)> = None;
        for depth in top..=bottom {
            let name = qname.trim_to(depth);
            match self.seen(&name)? {
                Seen::Matched(m) => {
                    if depth == bottom {
                        return Ok(None);
                    }
                    // No proof below a zone cut or a DNAME (RFC 5155 §8.3).
                    let has = |t| m.type_set().contains(t);
                    let cut =
                        (has(RecordType::NS) && !has(RecordType::SOA)) || has(RecordType::DNAME);
                    parent = (!cut).then_some((name, m));
                }
                Seen::Covered(cover) => {
                    let Some((ce, _)) = parent else {
                        return Err(missing(self.zone, "no NSEC3 matches the closest encloser"));
                    };
                    return Ok(Some(Encloser { ce, cover }));
                }
                Seen::Unknown => parent = None,
            }
        }
        Err(missing(self.zone, "no NSEC3 covers the next closer name"))
    }

    /// RFC 5155 §8.4 (NXDOMAIN); opt-out over the next closer name leaves
    /// it insecure (an unsigned delegation may hide there).
    pub(super) fn nxdomain(&mut self, qname: &Name) -> Result<Security, Failure> {
        let Some(enc) = self.closest_encloser(qname)? else {
            return Err(Failure::new(
                ede::EDE_DNSSEC_BOGUS,
                self.zone,
                "NSEC3 shows the name exists",
            ));
        };
        let wild =
            wildcard_of(&enc.ce).ok_or_else(|| missing(self.zone, "bad closest encloser"))?;
        match self.seen(&wild)? {
            Seen::Covered(_) => {}
            Seen::Matched(_) => {
                return Err(Failure::new(
                    ede::EDE_DNSSEC_BOGUS,
                    self.zone,
                    "NSEC3 shows the wildcard exists",
                ))
            }
            Seen::Unknown => return Err(missing(self.zone, "no NSEC3 denies the wildcard")),
        }
        Ok(if enc.cover.opt_out() {
            Security::Insecure
        } else {
            Security::Secure
        })
    }

    /// RFC 5155 §8.5-8.7 (NODATA, DS NODATA with opt-out, wildcard NODATA);
    /// insecure when the name is not matched and opt-out covers its next
    /// closer name.
    pub(super) fn nodata(&mut self, qname: &Name, qtype: RecordType) -> Result<Security, Failure> {
        let denies = |n: &NSEC3| {
            let has = |t| n.type_set().contains(t);
            !has(qtype) && (qtype == RecordType::CNAME || !has(RecordType::CNAME))
        };
        if let Seen::Matched(m) = self.seen(qname)? {
            let has = |t| m.type_set().contains(t);
            if !denies(m) {
                return Err(Failure::new(
                    ede::EDE_DNSSEC_BOGUS,
                    self.zone,
                    "NSEC3 shows the type exists",
                ));
            }
            if qtype == RecordType::DS {
                if has(RecordType::SOA) && !qname.is_root() {
                    return Err(missing(self.zone, "NSEC3 for DS is from the child zone"));
                }
            } else if has(RecordType::NS) && !has(RecordType::SOA) {
                return Err(missing(
                    self.zone,
                    "NSEC3 is from the parent side of a delegation",
                ));
            }
            return Ok(Security::Secure);
        }
        let Some(enc) = self.closest_encloser(qname)? else {
            return Err(missing(self.zone, "no NSEC3 proves the type absent"));
        };
        // Opt-out over the next closer name: an unsigned delegation may
        // hold the name, so the answer cannot be proven (RFC 5155 §9.2;
        // §8.6 for DS). Insecure, whatever the wildcard says.
        if enc.cover.opt_out() {
            return Ok(Security::Insecure);
        }
        let wild =
            wildcard_of(&enc.ce).ok_or_else(|| missing(self.zone, "bad closest encloser"))?;
        match self.seen(&wild)? {
            Seen::Matched(w) if denies(w) => Ok(Security::Secure),
            Seen::Matched(_) => Err(Failure::new(
                ede::EDE_DNSSEC_BOGUS,
                self.zone,
                "NSEC3 shows the wildcard has the type",
            )),
            _ => Err(missing(self.zone, "no NSEC3 proves the type absent")),
        }
    }

    /// RFC 5155 §8.8: the next closer name below the wildcard's closest
    /// encloser is covered, so no closer match exists.
    pub(super) fn wildcard(&mut self, qname: &Name, wildcard: &Name) -> Result<Security, Failure> {
        let ce = wildcard.base_name();
        if labels(qname) <= labels(&ce) || !ce.zone_of(qname) {
            return Err(Failure::new(
                ede::EDE_DNSSEC_BOGUS,
                self.zone,
                "wildcard does not cover the name",
            ));
        }
        let next_closer = qname.trim_to(labels(&ce) + 1);
        match self.seen(&next_closer)? {
            // Opt-out: the name may sit under an unsigned delegation
            // (RFC 5155 §9.2), so the expansion is not proven secure.
            Seen::Covered(c) if c.opt_out() => Ok(Security::Insecure),
            Seen::Covered(_) => Ok(Security::Secure),
            Seen::Matched(_) => Err(Failure::new(
                ede::EDE_DNSSEC_BOGUS,
                self.zone,
                "NSEC3 shows a closer name than the wildcard",
            )),
            Seen::Unknown => Err(missing(
                self.zone,
                "no NSEC3 denies the name a wildcard answered",
            )),
        }
    }

    /// RFC 5155 §8.6 for a referral: an NSEC3 at `child` with NS and
    /// neither DS nor SOA, or an opt-out NSEC3 over the next closer name.
    pub(super) fn no_ds(&mut self, child: &Name) -> Result<Security, Failure> {
        if let Seen::Matched(m) = self.seen(child)? {
            let has = |t| m.type_set().contains(t);
            if has(RecordType::DS) {
                return Err(Failure::new(
                    ede::EDE_DNSSEC_BOGUS,
                    self.zone,
                    "NSEC3 shows a DS exists",
                ));
            }
            if !has(RecordType::NS) || has(RecordType::SOA) {
                return Err(missing(self.zone, "NSEC3 does not show a delegation"));
            }
            return Ok(Security::Insecure);
        }
        match self.closest_encloser(child)? {
            Some(enc) if enc.cover.opt_out() => Ok(Security::Insecure),
            _ => Err(missing(
                self.zone,
                "no NSEC3 proves the delegation unsigned",
            )),
        }
    }
}

fn missing(zone: &Name, text: &'static str) -> Failure {
    Failure::new(ede::EDE_NSEC_MISSING, zone, text)
}

#[cfg(test)]
mod tests {
    use crate::dnssec::testkit::*;
    use crate::dnssec::{
        prove_no_ds, prove_nodata, prove_nxdomain, prove_wildcard_expansion, Budget, Limits,
        Security,
    };
    use crate::wire::ede;
    use hickory_proto::rr::{Name, Record, RecordType as T};

    const SALT: &[u8] = &[0xab, 0xcd];

    /// The NSEC3 chain of a zone holding `names`.
    fn chain(zone: &Name, names: &[(&str, &[T])], iterations: u16, opt_out: bool) -> Vec<Record> {
        let mut hashed: Vec<(Vec<u8>, &[T])> = names
            .iter()
            .map(|(name, types)| (nsec3_hash(&n(name), SALT, iterations), *types))
            .collect();
        hashed.sort();
        (0..hashed.len())
            .map(|i| {
                let next = &hashed[(i + 1) % hashed.len()].0;
                nsec3(
                    zone,
                    &hashed[i].0,
                    next,
                    hashed[i].1,
                    opt_out,
                    SALT,
                    iterations,
                )
            })
            .collect()
    }

    fn z() -> Name {
        n("example.")
    }

    fn zone(iterations: u16, opt_out: bool) -> Vec<Record> {
        let mut names: Vec<(&str, &[T])> = vec![
            (
                "example.",
                &[T::SOA, T::NS, T::DNSKEY, T::NSEC3PARAM, T::RRSIG],
            ),
            ("a.example.", &[T::A, T::RRSIG]),
            ("e.example.", &[]),
            ("d.e.example.", &[T::A, T::RRSIG]),
            ("w.example.", &[]),
            ("*.w.example.", &[T::TXT, T::RRSIG]),
            ("sec.example.", &[T::NS, T::DS, T::RRSIG]),
        ];
        if !opt_out {
            names.push(("sub.example.", &[T::NS]));
        }
        chain(&z(), &names, iterations, opt_out)
    }

    #[test]
    fn nxdomain_with_closest_encloser_next_closer_and_wildcard() {
        let mut b = budget();
        assert_eq!(
            prove_nxdomain(&n("b.example."), &z(), &zone(0, false), &mut b),
            Ok(Security::Secure)
        );
        assert_eq!(b.nsec3_hashes(), 3);
        assert!(prove_nxdomain(&n("a.example."), &z(), &zone(0, false), &mut budget()).is_err());
        // *.w.example. exists: x.w.example. is no NXDOMAIN.
        assert!(prove_nxdomain(&n("x.w.example."), &z(), &zone(0, false), &mut budget()).is_err());
        // e.example. exists as an empty non-terminal.
        assert!(prove_nxdomain(&n("e.example."), &z(), &zone(0, false), &mut budget()).is_err());
    }

    #[test]
    fn deep_names_cost_the_encloser_depth_not_the_name_depth() {
        let labels: Vec<String> = (0..60).map(|i| format!("q{i}")).collect();
        let deep = n(&format!("{}.a.example.", labels.join(".")));
        let mut b = budget();
        assert_eq!(
            prove_nxdomain(&deep, &z(), &zone(10, false), &mut b),
            Ok(Security::Secure)
        );
        // example., a.example., q59.a.example., *.a.example.
        assert_eq!(b.nsec3_hashes(), 4);
    }

    #[test]
    fn hashes_are_budgeted() {
        let limits = Limits {
            max_nsec3_hashes: 2,
            ..Limits::default()
        };
        let mut b = Budget::new(&limits);
        let f =
            prove_nxdomain(&n("b.example."), &z(), &zone(0, false), &mut b).expect_err("budget");
        assert_eq!(
            (f.ede, f.text),
            (ede::EDE_DNSSEC_BOGUS, crate::dnssec::budget::BUDGET_TEXT)
        );
        assert!(b.exceeded());
        assert_eq!(b.nsec3_hashes(), 2);
    }

    #[test]
    fn iterations_above_the_limit_are_insecure_with_ede_27() {
        let records = zone(151, false);
        let mut b = budget();
        assert_eq!(
            prove_nxdomain(&n("b.example."), &z(), &records, &mut b),
            Ok(Security::Insecure)
        );
        assert_eq!(
            b.insecure_ede(),
            Some(ede::EDE_UNSUPPORTED_NSEC3_ITERATIONS)
        );
        assert_eq!(b.nsec3_hashes(), 0);
        let mut b = budget();
        assert_eq!(
            prove_nxdomain(&n("b.example."), &z(), &zone(150, false), &mut b),
            Ok(Security::Secure)
        );
        assert_eq!(b.insecure_ede(), None);
    }

    #[test]
    fn nodata_matching_empty_non_terminal_and_wildcard() {
        let c = zone(0, false);
        assert_eq!(
            prove_nodata(&n("a.example."), T::AAAA, &z(), &c, &mut budget()),
            Ok(Security::Secure)
        );
        assert!(prove_nodata(&n("a.example."), T::A, &z(), &c, &mut budget()).is_err());
        assert_eq!(
            prove_nodata(&n("e.example."), T::A, &z(), &c, &mut budget()),
            Ok(Security::Secure)
        );
        assert_eq!(
            prove_nodata(&n("y.w.example."), T::A, &z(), &c, &mut budget()),
            Ok(Security::Secure)
        );
        assert!(prove_nodata(&n("y.w.example."), T::TXT, &z(), &c, &mut budget()).is_err());
        // The delegation's NSEC3 denies DS only.
        assert!(prove_nodata(&n("sub.example."), T::A, &z(), &c, &mut budget()).is_err());
        assert_eq!(
            prove_nodata(&n("sub.example."), T::DS, &z(), &c, &mut budget()),
            Ok(Security::Secure)
        );
    }

    #[test]
    fn wildcard_expansion_by_next_closer() {
        let c = zone(0, false);
        assert_eq!(
            prove_wildcard_expansion(
                &n("x.w.example."),
                &n("*.w.example."),
                &z(),
                &c,
                &mut budget()
            ),
            Ok(Security::Secure)
        );
        // d.e.example. exists: no wildcard answer for it from *.e.example.
        assert!(prove_wildcard_expansion(
            &n("d.e.example."),
            &n("*.e.example."),
            &z(),
            &c,
            &mut budget()
        )
        .is_err());
    }

    #[test]
    fn opt_out_makes_unsigned_delegations_insecure() {
        let c = zone(0, true);
        assert_eq!(
            prove_no_ds(&n("sub.example."), &z(), &c, &mut budget()),
            Ok(Security::Insecure)
        );
        assert_eq!(
            prove_nxdomain(&n("b.example."), &z(), &c, &mut budget()),
            Ok(Security::Insecure)
        );
        assert_eq!(
            prove_nodata(&n("sub.example."), T::DS, &z(), &c, &mut budget()),
            Ok(Security::Insecure)
        );
        // Any NODATA or wildcard answer resting on an opt-out span is
        // insecure (RFC 5155 §9.2), as Unbound answers without AD.
        let nodata = |q: &str, t| prove_nodata(&n(q), t, &z(), &c, &mut budget());
        assert_eq!(nodata("sub.example.", T::MX), Ok(Security::Insecure));
        assert_eq!(nodata("y.w.example.", T::A), Ok(Security::Insecure));
        // A matching record proves NODATA whatever its flags.
        assert_eq!(nodata("a.example.", T::AAAA), Ok(Security::Secure));
        let wild = prove_wildcard_expansion(
            &n("x.w.example."),
            &n("*.w.example."),
            &z(),
            &c,
            &mut budget(),
        );
        assert_eq!(wild, Ok(Security::Insecure));
        // Without opt-out the unsigned delegation has its own NSEC3.
        let c = zone(0, false);
        assert_eq!(
            prove_no_ds(&n("sub.example."), &z(), &c, &mut budget()),
            Ok(Security::Insecure)
        );
        let f = prove_no_ds(&n("sec.example."), &z(), &c, &mut budget()).expect_err("has DS");
        assert_eq!(f.ede, ede::EDE_DNSSEC_BOGUS);
        assert!(prove_no_ds(&n("nothere.example."), &z(), &c, &mut budget()).is_err());
    }

    #[test]
    fn missing_records_are_nsec_missing() {
        let f = prove_nxdomain(&n("b.example."), &z(), &[], &mut budget()).expect_err("none");
        assert_eq!(f.ede, ede::EDE_NSEC_MISSING);
        // Only the covering record, not the closest encloser's.
        let all = zone(0, false);
        let h = nsec3_hash(&n("b.example."), SALT, 0);
        let only: Vec<Record> = all
            .into_iter()
            .filter(|r| match &r.data {
                hickory_proto::rr::RData::DNSSEC(
                    hickory_proto::dnssec::rdata::DNSSECRData::NSEC3(x),
                ) => {
                    let owner = r
                        .name
                        .iter()
                        .next()
                        .map(|l| l.to_ascii_uppercase())
                        .unwrap_or_default();
                    let oh = data_encoding::BASE32HEX_NOPAD
                        .decode(&owner)
                        .unwrap_or_default();
                    let next = x.next_hashed_owner_name();
                    if oh.as_slice() < next {
                        oh < h && h.as_slice() < next
                    } else {
                        oh < h || h.as_slice() < next
                    }
                }
                _ => false,
            })
            .collect();
        assert_eq!(only.len(), 1);
        assert!(prove_nxdomain(&n("b.example."), &z(), &only, &mut budget()).is_err());
    }
}
