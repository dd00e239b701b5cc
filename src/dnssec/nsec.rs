//! NSEC denial proofs (RFC 4035 §3.1.3, §5.4; RFC 6840 §4.1, §4.3, §4.4).
//!
//! An NSEC proves a name absent when it *covers* it (owner < name < next
//! in canonical order, the last NSEC wrapping to the apex) and present
//! when it *matches* it. Two traps are closed here: an NSEC owned by a
//! delegation point (NS without SOA) or a DNAME says nothing about names
//! below it (RFC 6840 §4.1), and a name that is an ancestor of the next
//! name is an empty non-terminal, so it exists (RFC 6840 §4.3).

use hickory_proto::dnssec::rdata::NSEC;
use hickory_proto::rr::{Name, RecordType};

use super::{Failure, Security};
use crate::wire::ede;

/// One NSEC record: owner and rdata.
pub(super) type Nsec<'a> = (&'a Name, &'a NSEC);

/// Label count of `name`, a leading `*` included.
pub(super) fn labels(name: &Name) -> usize {
    name.iter().len()
}

/// How many rightmost labels `a` and `b` share.
pub(super) fn common_labels(a: &Name, b: &Name) -> usize {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count()
}

/// `*.` + `name`.
pub(super) fn wildcard_of(name: &Name) -> Option<Name> {
    let mut w = name.prepend_label("*").ok()?;
    w.set_fqdn(true);
    Some(w)
}

/// Whether an RRset of these types at `owner` makes it a zone cut or a
/// DNAME, hiding every name below it.
fn hides_below(types: impl Fn(RecordType) -> bool) -> bool {
    (types(RecordType::NS) && !types(RecordType::SOA)) || types(RecordType::DNAME)
}

/// Whether `nsec` at `owner` proves that `name` does not exist.
fn covers(owner: &Name, nsec: &NSEC, name: &Name) -> bool {
    let next = nsec.next_domain_name();
    let between = if owner < next {
        owner < name && name < next
    } else {
        // The last NSEC of the zone: its next name is the apex.
        owner < name || name < next
    };
    let above = owner.zone_of(name) && owner != name;
    between && !(above && hides_below(|t| nsec.type_set().contains(t)))
}

fn matching<'a>(nsecs: &[Nsec<'a>], name: &Name) -> Option<&'a NSEC> {
    nsecs.iter().find(|(o, _)| *o == name).map(|(_, n)| *n)
}

fn covering<'a>(nsecs: &[Nsec<'a>], name: &Name) -> Option<Nsec<'a>> {
    nsecs.iter().find(|(o, n)| covers(o, n, name)).copied()
}

/// The closest encloser an NSEC covering `qname` implies: the longest
/// ancestor of `qname` shared with the NSEC's owner or next name, never
/// above the zone.
fn closest_encloser(qname: &Name, (owner, nsec): Nsec<'_>, zone: &Name) -> Name {
    let shared = common_labels(qname, owner)
        .max(common_labels(qname, nsec.next_domain_name()))
        .max(labels(zone));
    qname.trim_to(shared)
}

fn missing(zone: &Name, text: &'static str) -> Failure {
    Failure::new(ede::EDE_NSEC_MISSING, zone, text)
}

/// Whether `qname` is an empty non-terminal: an NSEC covers it and its
/// next name lies below it.
fn is_empty_non_terminal(nsecs: &[Nsec<'_>], qname: &Name) -> bool {
    nsecs.iter().any(|(o, n)| {
        covers(o, n, qname) && qname.zone_of(n.next_domain_name()) && n.next_domain_name() != qname
    })
}

/// NXDOMAIN: an NSEC covers `qname`, `qname` is no empty non-terminal,
/// and an NSEC covers the wildcard at the closest encloser.
pub(super) fn nxdomain(qname: &Name, zone: &Name, nsecs: &[Nsec<'_>]) -> Result<Security, Failure> {
    let cover = covering(nsecs, qname).ok_or_else(|| missing(zone, "no NSEC covers the name"))?;
    if is_empty_non_terminal(nsecs, qname) {
        return Err(missing(
            zone,
            "NSEC shows the name is an empty non-terminal",
        ));
    }
    let ce = closest_encloser(qname, cover, zone);
    let wild = wildcard_of(&ce).ok_or_else(|| missing(zone, "bad closest encloser"))?;
    if covering(nsecs, &wild).is_none() {
        return Err(missing(zone, "no NSEC denies the wildcard"));
    }
    Ok(Security::Secure)
}

/// Whether an NSEC bitmap denies `qtype` (and a CNAME in its place).
fn denies_type(nsec: &NSEC, qtype: RecordType) -> bool {
    let has = |t| nsec.type_set().contains(t);
    !has(qtype) && (qtype == RecordType::CNAME || !has(RecordType::CNAME))
}

/// NODATA: an NSEC at `qname` without `qtype` (from the parent side only
/// for DS, RFC 6840 §4.4), or `qname` an empty non-terminal, or a wildcard
/// NODATA (RFC 4035 §3.1.3.4).
pub(super) fn nodata(
    qname: &Name,
    qtype: RecordType,
    zone: &Name,
    nsecs: &[Nsec<'_>],
) -> Result<Security, Failure> {
    if let Some(nsec) = matching(nsecs, qname) {
        let has = |t| nsec.type_set().contains(t);
        if !denies_type(nsec, qtype) {
            return Err(Failure::new(
                ede::EDE_DNSSEC_BOGUS,
                zone,
                "NSEC shows the type exists",
            ));
        }
        let parent_side = has(RecordType::NS) && !has(RecordType::SOA);
        if qtype == RecordType::DS {
            // The child apex's NSEC (SOA set) cannot deny the parent's DS.
            if has(RecordType::SOA) && !qname.is_root() {
                return Err(missing(zone, "NSEC for DS is from the child zone"));
            }
        } else if parent_side {
            return Err(missing(
                zone,
                "NSEC is from the parent side of a delegation",
            ));
        }
        return Ok(Security::Secure);
    }
    if is_empty_non_terminal(nsecs, qname) {
        return Ok(Security::Secure);
    }
    // Wildcard NODATA: qname absent, the wildcard present without qtype.
    if let Some(cover) = covering(nsecs, qname) {
        let ce = closest_encloser(qname, cover, zone);
        if let Some(wild) = wildcard_of(&ce) {
            if let Some(w) = matching(nsecs, &wild) {
                if denies_type(w, qtype) {
                    return Ok(Security::Secure);
                }
                return Err(Failure::new(
                    ede::EDE_DNSSEC_BOGUS,
                    zone,
                    "NSEC shows the wildcard has the type",
                ));
            }
        }
    }
    Err(missing(zone, "no NSEC proves the type absent"))
}

/// Wildcard answer: an NSEC covers `qname` and the closest encloser it
/// implies is the wildcard's own (no closer name exists).
pub(super) fn wildcard(
    qname: &Name,
    wildcard: &Name,
    zone: &Name,
    nsecs: &[Nsec<'_>],
) -> Result<Security, Failure> {
    let ce = wildcard.base_name();
    let cover = covering(nsecs, qname)
        .ok_or_else(|| missing(zone, "no NSEC denies the name a wildcard answered"))?;
    if labels(&closest_encloser(qname, cover, zone)) > labels(&ce) {
        return Err(missing(zone, "NSEC shows a closer name than the wildcard"));
    }
    Ok(Security::Secure)
}

/// No DS at the delegation `child`: an NSEC at `child` with NS and
/// neither DS nor SOA (RFC 4035 §5.2).
pub(super) fn no_ds(child: &Name, zone: &Name, nsecs: &[Nsec<'_>]) -> Result<Security, Failure> {
    let nsec = matching(nsecs, child).ok_or_else(|| missing(zone, "no NSEC at the delegation"))?;
    let has = |t| nsec.type_set().contains(t);
    if has(RecordType::DS) {
        return Err(Failure::new(
            ede::EDE_DNSSEC_BOGUS,
            zone,
            "NSEC shows a DS exists",
        ));
    }
    if !has(RecordType::NS) || has(RecordType::SOA) {
        return Err(missing(zone, "NSEC does not show a delegation"));
    }
    Ok(Security::Insecure)
}

#[cfg(test)]
mod tests {
    use crate::dnssec::testkit::*;
    use crate::dnssec::{
        prove_no_ds, prove_nodata, prove_nxdomain, prove_wildcard_expansion, Security,
    };
    use crate::wire::ede;
    use hickory_proto::rr::{Record, RecordType as T};

    // The zone: example. a c d.e (e is an empty non-terminal) sec (signed
    // delegation) sub (unsigned delegation) *.w (w is an empty
    // non-terminal).
    fn chain() -> Vec<Record> {
        vec![
            nsec(
                "example.",
                "a.example.",
                &[T::SOA, T::NS, T::DNSKEY, T::NSEC, T::RRSIG],
            ),
            nsec("a.example.", "c.example.", &[T::A, T::NSEC, T::RRSIG]),
            nsec("c.example.", "d.e.example.", &[T::A, T::NSEC, T::RRSIG]),
            nsec("d.e.example.", "sec.example.", &[T::A, T::NSEC, T::RRSIG]),
            nsec(
                "sec.example.",
                "sub.example.",
                &[T::NS, T::DS, T::NSEC, T::RRSIG],
            ),
            nsec("sub.example.", "*.w.example.", &[T::NS, T::NSEC, T::RRSIG]),
            nsec("*.w.example.", "example.", &[T::TXT, T::NSEC, T::RRSIG]),
        ]
    }

    fn pick(owners: &[&str]) -> Vec<Record> {
        chain()
            .into_iter()
            .filter(|r| owners.iter().any(|o| r.name == n(o)))
            .collect()
    }

    fn z() -> hickory_proto::rr::Name {
        n("example.")
    }

    #[test]
    fn nxdomain_needs_the_name_and_the_wildcard_denied() {
        let both = pick(&["a.example.", "example."]);
        assert_eq!(
            prove_nxdomain(&n("b.example."), &z(), &both, &mut budget()),
            Ok(Security::Secure)
        );
        let f = prove_nxdomain(
            &n("b.example."),
            &z(),
            &pick(&["a.example."]),
            &mut budget(),
        )
        .expect_err("wildcard not denied");
        assert_eq!(f.ede, ede::EDE_NSEC_MISSING);
        assert!(prove_nxdomain(&n("b.example."), &z(), &[], &mut budget()).is_err());
    }

    #[test]
    fn nxdomain_is_refused_where_a_wildcard_or_a_non_terminal_exists() {
        // x.w.example. would be answered by *.w.example.
        assert!(prove_nxdomain(&n("x.w.example."), &z(), &chain(), &mut budget()).is_err());
        // e.example. is an empty non-terminal (d.e.example. exists).
        assert!(prove_nxdomain(&n("e.example."), &z(), &chain(), &mut budget()).is_err());
        assert_eq!(
            prove_nodata(
                &n("e.example."),
                T::A,
                &z(),
                &pick(&["c.example."]),
                &mut budget()
            ),
            Ok(Security::Secure)
        );
    }

    #[test]
    fn a_delegation_nsec_denies_nothing_below_it() {
        // sub.example. < x.sub.example. < *.w.example. canonically, but the
        // NSEC at the cut is the parent's and x.sub is the child's.
        let f = prove_nxdomain(&n("x.sub.example."), &z(), &chain(), &mut budget());
        assert!(f.is_err(), "{f:?}");
        assert!(prove_nodata(&n("sub.example."), T::A, &z(), &chain(), &mut budget()).is_err());
        assert_eq!(
            prove_nodata(&n("sub.example."), T::DS, &z(), &chain(), &mut budget()),
            Ok(Security::Secure)
        );
    }

    #[test]
    fn nodata_by_matching_nsec() {
        let c = chain();
        assert_eq!(
            prove_nodata(&n("a.example."), T::AAAA, &z(), &c, &mut budget()),
            Ok(Security::Secure)
        );
        let f = prove_nodata(&n("a.example."), T::A, &z(), &c, &mut budget()).expect_err("has A");
        assert_eq!(f.ede, ede::EDE_DNSSEC_BOGUS);
        // The CNAME bit would have been followed instead.
        let cn = vec![nsec(
            "cn.example.",
            "d.e.example.",
            &[T::CNAME, T::NSEC, T::RRSIG],
        )];
        assert!(prove_nodata(&n("cn.example."), T::A, &z(), &cn, &mut budget()).is_err());
        // The child apex NSEC cannot deny the parent's DS.
        let apex = vec![nsec(
            "sub.example.",
            "a.sub.example.",
            &[T::SOA, T::NS, T::NSEC, T::RRSIG],
        )];
        assert!(prove_nodata(&n("sub.example."), T::DS, &z(), &apex, &mut budget()).is_err());
    }

    #[test]
    fn wildcard_nodata() {
        let c = chain();
        assert_eq!(
            prove_nodata(&n("y.w.example."), T::A, &z(), &c, &mut budget()),
            Ok(Security::Secure)
        );
        assert!(prove_nodata(&n("y.w.example."), T::TXT, &z(), &c, &mut budget()).is_err());
    }

    #[test]
    fn wildcard_expansion_needs_no_closer_name() {
        let c = chain();
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
        // z.e.example. from *.example.: but e.example. exists, closer.
        let wild = vec![nsec("d.e.example.", "sec.example.", &[T::A])];
        assert!(prove_wildcard_expansion(
            &n("z.e.example."),
            &n("*.example."),
            &z(),
            &wild,
            &mut budget()
        )
        .is_err());
        // No NSEC at all: the name may exist.
        assert!(prove_wildcard_expansion(
            &n("x.w.example."),
            &n("*.w.example."),
            &z(),
            &[],
            &mut budget()
        )
        .is_err());
    }

    #[test]
    fn insecure_delegation_by_nsec() {
        let c = chain();
        assert_eq!(
            prove_no_ds(&n("sub.example."), &z(), &c, &mut budget()),
            Ok(Security::Insecure)
        );
        let f = prove_no_ds(&n("sec.example."), &z(), &c, &mut budget()).expect_err("has DS");
        assert_eq!(f.ede, ede::EDE_DNSSEC_BOGUS);
        assert!(prove_no_ds(&n("a.example."), &z(), &c, &mut budget()).is_err());
        assert!(prove_no_ds(&n("none.example."), &z(), &c, &mut budget()).is_err());
    }

    #[test]
    fn records_and_names_outside_the_zone_prove_nothing() {
        let other = vec![nsec("a.example.net.", "c.example.net.", &[T::A])];
        assert!(prove_nxdomain(&n("b.example."), &z(), &other, &mut budget()).is_err());
        // The wrapping last NSEC would "cover" any name outside the zone.
        let f = prove_nxdomain(&n("b.example.org."), &z(), &chain(), &mut budget())
            .expect_err("outside");
        assert_eq!(f.text, "name is not in the zone");
    }
}
