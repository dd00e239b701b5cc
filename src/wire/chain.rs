//! The alias chain of an answer: the names a CNAME/DNAME chain leads the
//! client to, so the pipeline can put each of them through the policy.
//!
//! Without this stage a listed name is reachable through any alias of it:
//! `alias.example CNAME blocked.example` in a zone anyone controls (or a
//! CDN alias) would hand out the listed name's addresses. Like RPZ in BIND
//! and Unbound, every name of the chain is checked, not only the question;
//! at the first one blocked, the answer keeps the records that lead to it
//! and ends with that name's block answer (see
//! [`crate::pipeline::Handler`]). This module only reads the chain out of
//! an answer and cuts it; deciding is the policy's business.
//!
//! The chain is followed as the client would: from the question name, the
//! CNAME owned by the current name, else a DNAME owned by one of its
//! ancestors (RFC 6672 substitution, for upstreams that send a DNAME
//! without the synthesised CNAME). Recursive and forwarded answers are
//! read the same way.

use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Longest chain read out of one answer. Above the iterator's own limit
/// (its chains are shorter), so a forwarded answer with a longer chain is
/// still checked hop by hop as far as any client would follow it.
pub const MAX_HOPS: usize = 32;

/// Whether an answer to a `qtype` question may lead the client to names
/// other than the question's: it holds a CNAME or DNAME, and the question
/// did not ask for that record itself (an answer to a CNAME question is
/// the alias, not its target; the client asks for the target next, and
/// that question is checked). An answer without aliases needs no chain
/// check: the cache records this once per entry, so the fast path's
/// common case costs one flag test.
pub fn may_chain(qtype: RecordType, answers: &[Record]) -> bool {
    !matches!(qtype, RecordType::CNAME | RecordType::DNAME)
        && answers
            .iter()
            .any(|r| matches!(r.record_type(), RecordType::CNAME | RecordType::DNAME))
}

/// The DNAME target of record `r`, if it is one and decodes (hickory keeps
/// DNAME rdata as raw bytes; RFC 6672 forbids compressing the target).
pub(crate) fn dname_target(r: &Record) -> Option<Name> {
    match &r.data {
        RData::Unknown { code, rdata } if *code == RecordType::DNAME => {
            Name::read(&mut BinDecoder::new(&rdata.anything)).ok()
        }
        _ => None,
    }
}

/// `name` with its `owner` suffix replaced by `target` (DNAME
/// substitution); None when the result is too long (RFC 6672 2.2).
fn substitute(name: &Name, owner: &Name, target: &Name) -> Option<Name> {
    let keep = name.num_labels().checked_sub(owner.num_labels())?;
    let mut n = Name::from_labels(name.iter().take(usize::from(keep)).chain(target.iter())).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// The names the chain in `answers` leads to from `qname`, in order (the
/// question itself not included). Stops at the first name without an
/// alias, at a name already seen (a loop) and after [`MAX_HOPS`].
pub fn targets(qname: &Name, answers: &[Record]) -> Vec<Name> {
    let mut out: Vec<Name> = Vec::new();
    let mut cur = qname.clone();
    cur.set_fqdn(true);
    while out.len() < MAX_HOPS {
        let cname = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(CNAME(t)) if r.name == cur => Some(t.clone()),
            _ => None,
        });
        let next = cname.or_else(|| {
            answers
                .iter()
                .filter(|r| r.name != cur && r.name.zone_of(&cur))
                .find_map(|r| substitute(&cur, &r.name, &dname_target(r)?))
        });
        let Some(mut next) = next else {
            break;
        };
        next.set_fqdn(true);
        if next == *qname || out.contains(&next) {
            break;
        }
        out.push(next.clone());
        cur = next;
    }
    out
}

/// Cut `answers` to the records that lead from `qname` to `targets[hop]`:
/// the aliases owned by the names before it (with their signatures) and
/// the DNAMEs above those names. The target's own records and everything
/// after go.
pub fn keep_chain_to(answers: &mut Vec<Record>, qname: &Name, targets: &[Name], hop: usize) {
    let before: Vec<&Name> = std::iter::once(qname)
        .chain(targets.iter().take(hop))
        .collect();
    answers.retain(|r| {
        let owned = before.iter().any(|n| **n == r.name);
        let above = matches!(r.record_type(), RecordType::DNAME | RecordType::RRSIG)
            && before.iter().any(|n| **n != r.name && r.name.zone_of(n));
        owned || above
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::rdata::NULL;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(n(owner), 300, RData::CNAME(CNAME(n(target))))
    }

    fn a(owner: &str) -> Record {
        Record::from_rdata(n(owner), 300, RData::A(A::new(192, 0, 2, 9)))
    }

    fn dname(owner: &str, target: &str) -> Record {
        let mut wire = Vec::new();
        for l in n(target).iter() {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        Record::from_rdata(
            n(owner),
            300,
            RData::Unknown {
                code: RecordType::DNAME,
                rdata: NULL::with(wire),
            },
        )
    }

    fn names(v: &[Name]) -> Vec<String> {
        v.iter().map(Name::to_ascii).collect()
    }

    #[test]
    fn a_chain_is_read_in_order_whatever_the_record_order() {
        let answers = vec![
            a("www.c.zz."),
            cname("b.zz.", "www.c.zz."),
            cname("A.zz.", "b.zz."),
        ];
        assert_eq!(
            names(&targets(&n("a.zz."), &answers)),
            ["b.zz.", "www.c.zz."]
        );
        assert!(targets(&n("www.c.zz."), &answers).is_empty());
        assert!(may_chain(RecordType::A, &answers));
        assert!(!may_chain(RecordType::CNAME, &answers));
        assert!(!may_chain(RecordType::A, &[a("x.zz.")]));
    }

    #[test]
    fn a_dname_alone_is_substituted() {
        let answers = vec![dname("old.zz.", "new.yy."), a("www.new.yy.")];
        assert_eq!(
            names(&targets(&n("www.old.zz."), &answers)),
            ["www.new.yy."]
        );
        // With the synthesised CNAME, the CNAME is taken (same target).
        let mut with = answers.clone();
        with.insert(1, cname("www.old.zz.", "www.new.yy."));
        assert_eq!(names(&targets(&n("www.old.zz."), &with)), ["www.new.yy."]);
    }

    #[test]
    fn loops_end_the_chain() {
        let answers = vec![cname("a.zz.", "b.zz."), cname("b.zz.", "a.zz.")];
        assert_eq!(names(&targets(&n("a.zz."), &answers)), ["b.zz."]);
    }

    #[test]
    fn the_cut_keeps_the_records_leading_to_the_hop() {
        let q = n("a.zz.");
        let answers = vec![
            dname("zz.", "yy."),
            cname("a.zz.", "b.yy."),
            cname("b.yy.", "c.yy."),
            a("c.yy."),
        ];
        let t = targets(&q, &answers);
        assert_eq!(names(&t), ["b.yy.", "c.yy."]);
        let owners = |hop| {
            let mut kept = answers.clone();
            keep_chain_to(&mut kept, &q, &t, hop);
            kept.iter().map(|r| r.name.to_ascii()).collect::<Vec<_>>()
        };
        assert_eq!(owners(0), ["zz.", "a.zz."]);
        assert_eq!(owners(1), ["zz.", "a.zz.", "b.yy."]);
    }
}
