//! What an authoritative reply means and what in it may be believed:
//! [`classify`] sorts a reply into answer, negative, referral, lame or
//! failed for the question asked; [`referral`] and the extraction below
//! take glue, answer, chain and negative records only from inside the zone
//! the server was asked about (the scrubbing rules in [`super::iterate`]'s
//! module docs).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::delegation::{Delegation, NameServer};

/// Longest CNAME/DNAME chain followed for one question.
pub const MAX_CHAIN: usize = 12;

/// What one authoritative reply means for the question asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Data (or a CNAME/DNAME) for the name.
    Answer,
    /// The name does not exist.
    NxDomain,
    /// The name exists without data of the type.
    NoData,
    /// A delegation to this zone, strictly below the one asked.
    Referral(Name),
    /// Unusable: an upward or sideways referral, data outside the zone, or
    /// neither answer nor referral nor SOA.
    Lame(&'static str),
    /// An error rcode (SERVFAIL, REFUSED, NOTIMP, FORMERR...).
    Failed(ResponseCode),
}

/// Where one iteration for a name ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Final: rcode, answer records (chain included), authority records.
    Done {
        records: Vec<Record>,
        rcode: ResponseCode,
        authority: Vec<Record>,
    },
    /// The chain goes on at `next`, which this zone cannot answer.
    Follow { records: Vec<Record>, next: Name },
}

/// Does record `r` answer `name`/`qtype` (directly or by alias)?
pub(super) fn answers_name(r: &Record, name: &Name, qtype: RecordType) -> bool {
    let t = r.record_type();
    if r.name == *name {
        t == qtype || t == RecordType::CNAME || (qtype == RecordType::ANY && t != RecordType::RRSIG)
    } else {
        t == RecordType::DNAME && r.name.zone_of(name)
    }
}

/// What `msg`, from a server of `zone`, means for `name`/`qtype`.
pub fn classify(msg: &Message, zone: &Name, name: &Name, qtype: RecordType) -> Reply {
    let rcode = msg.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Reply::Failed(rcode);
    }
    let mut out_of_zone = false;
    for r in &msg.answers {
        if answers_name(r, name, qtype) {
            if zone.zone_of(&r.name) {
                return Reply::Answer;
            }
            out_of_zone = true;
        }
    }
    if out_of_zone {
        return Reply::Lame("answer for a name outside the zone asked");
    }
    if rcode == ResponseCode::NoError
        && msg
            .answers
            .iter()
            .any(|r| r.name == *name && zone.zone_of(&r.name))
    {
        // Data of other types only (an A for an AAAA question): the name
        // exists without the type asked. The records are not used.
        return Reply::NoData;
    }
    let soa = msg.authorities.iter().any(|r| {
        r.record_type() == RecordType::SOA && zone.zone_of(&r.name) && r.name.zone_of(name)
    });
    if rcode == ResponseCode::NXDomain {
        // A server of the zone says so with AA or the zone's SOA. Without
        // either, the reply is not the zone speaking but something in its
        // place (a recursive resolver, a middlebox on a network without
        // a route out); believing it would deny the name to every client
        // (Unbound calls such replies "recursive lame" too).
        if !msg.metadata.authoritative && !soa {
            return Reply::Lame("NXDOMAIN neither authoritative nor with the zone's SOA");
        }
        return Reply::NxDomain;
    }
    let ns_owner = msg
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::NS)
        .map(|r| &r.name);
    if let (Some(child), false) = (ns_owner, soa) {
        if !zone.zone_of(child) {
            // NS records of a zone above the one asked (the root's, say),
            // AA or not: an upward referral, never the zone's NODATA.
            return Reply::Lame("referral not below the zone asked (upward)");
        }
        if child.num_labels() > zone.num_labels() && child.zone_of(name) {
            let mut child = child.to_lowercase();
            child.set_fqdn(true);
            return Reply::Referral(child);
        }
        if !msg.metadata.authoritative {
            return Reply::Lame("referral not below the zone asked");
        }
    }
    if soa || msg.metadata.authoritative {
        return Reply::NoData;
    }
    Reply::Lame("neither answer, referral nor SOA")
}

/// The delegation a referral to `child`, sent by a server of `parent`,
/// describes: its NS names, with glue only for names inside `parent`
/// (RFC 9471: in-domain glue, inside `child`, and sibling glue, elsewhere
/// in `parent`, such as `a.gtld-servers.net.` in the root's referral to
/// `com.`). Glue for a name outside `parent` could be a poisoning attempt
/// for a zone the sender does not serve: that name is resolved on its own.
/// The glue only addresses this delegation's servers; it never answers a
/// question for the name itself.
pub fn referral(msg: &Message, parent: &Name, child: &Name, now: Instant) -> Delegation {
    let mut ttl = u32::MAX;
    let mut servers: Vec<NameServer> = Vec::new();
    for r in &msg.authorities {
        if r.name != *child {
            continue;
        }
        if let RData::NS(NS(ns)) = &r.data {
            let mut ns = ns.to_lowercase();
            ns.set_fqdn(true);
            if servers.iter().any(|s| s.name == ns) {
                continue;
            }
            ttl = ttl.min(r.ttl);
            servers.push(NameServer {
                name: ns,
                addrs: Vec::new(),
            });
        }
    }
    for s in &mut servers {
        if !parent.zone_of(&s.name) {
            continue;
        }
        for r in msg.additionals.iter().filter(|r| r.name == s.name) {
            let ip = match &r.data {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => continue,
            };
            if !s.addrs.contains(&ip) {
                s.addrs.push(ip);
                ttl = ttl.min(r.ttl);
            }
        }
    }
    Delegation::new(child, servers, Duration::from_secs(u64::from(ttl)), now)
}

pub(super) use crate::wire::chain::dname_target;

/// `name` with its `owner` suffix replaced by `target` (DNAME substitution).
pub(super) fn substitute(name: &Name, owner: &Name, target: &Name) -> Option<Name> {
    let keep = name.iter().count().checked_sub(owner.iter().count())?;
    Name::from_labels(name.iter().take(keep).chain(target.iter())).ok()
}

/// [`extract`] for a reply it may consume. When every answer record is
/// data of the asked type owned by the name itself inside the zone (the
/// usual reply), extract would return exactly those records, in order:
/// they are moved out instead of cloned. (RRSIG questions excepted:
/// extract adds signatures of the owner, so it could list them twice.)
pub(super) fn extract_owned(
    mut msg: Message,
    zone: &Name,
    name: &Name,
    qtype: RecordType,
    dnssec_ok: bool,
) -> Step {
    let direct = qtype != RecordType::RRSIG
        && !msg.answers.is_empty()
        && msg
            .answers
            .iter()
            .all(|r| r.record_type() == qtype && r.name == *name && zone.zone_of(&r.name));
    if !direct {
        return extract(&msg, zone, name, qtype, dnssec_ok);
    }
    Step::Done {
        records: std::mem::take(&mut msg.answers),
        rcode: ResponseCode::NoError,
        authority: Vec::new(),
    }
}

/// Answer records of `msg` (from a server of `zone`) for `name`: the
/// CNAME/DNAME chain as far as it stays inside `zone`, then either the
/// data, a negative answer, or the name to continue with.
pub(super) fn extract(
    msg: &Message,
    zone: &Name,
    name: &Name,
    qtype: RecordType,
    dnssec_ok: bool,
) -> Step {
    let in_zone = |r: &&Record| zone.zone_of(&r.name);
    let sigs = |out: &mut Vec<Record>, owner: &Name| {
        if dnssec_ok {
            out.extend(
                msg.answers
                    .iter()
                    .filter(|r| r.record_type() == RecordType::RRSIG && r.name == *owner)
                    .cloned(),
            );
        }
    };
    let mut out: Vec<Record> = Vec::new();
    let mut cur = name.clone();
    for _ in 0..=MAX_CHAIN {
        let before = out.len();
        out.extend(
            msg.answers
                .iter()
                .filter(in_zone)
                .filter(|r| {
                    r.name == cur
                        && (r.record_type() == qtype
                            || (qtype == RecordType::ANY && r.record_type() != RecordType::RRSIG))
                })
                .cloned(),
        );
        if out.len() > before {
            sigs(&mut out, &cur);
            return Step::Done {
                records: out,
                rcode: ResponseCode::NoError,
                authority: proof_records(msg, zone, dnssec_ok),
            };
        }
        let cname = msg
            .answers
            .iter()
            .filter(in_zone)
            .find_map(|r| match &r.data {
                RData::CNAME(CNAME(t)) if r.name == cur => Some((r.clone(), t.clone())),
                _ => None,
            });
        let next = if let Some((rec, target)) = cname {
            // A CNAME the server synthesised from a DNAME (RFC 6672 3.4):
            // the DNAME goes first, as in the server's answer.
            if let Some(dname) = msg.answers.iter().filter(in_zone).find(|r| {
                r.name != cur
                    && r.name.zone_of(&cur)
                    && dname_target(r)
                        .and_then(|t| substitute(&cur, &r.name, &t))
                        .is_some_and(|s| s == target)
            }) {
                if !out.contains(dname) {
                    out.push(dname.clone());
                    sigs(&mut out, &dname.name);
                }
            }
            out.push(rec);
            sigs(&mut out, &cur);
            target
        } else if let Some((rec, target)) = msg
            .answers
            .iter()
            .filter(in_zone)
            .filter(|r| r.name != cur && r.name.zone_of(&cur))
            .find_map(|r| dname_target(r).map(|t| (r.clone(), t)))
        {
            let Some(synth) = substitute(&cur, &rec.name, &target) else {
                // RFC 6672 2.2: the substituted name is too long.
                out.push(rec);
                return Step::Done {
                    records: out,
                    rcode: ResponseCode::YXDomain,
                    authority: Vec::new(),
                };
            };
            let cname =
                Record::from_rdata(cur.clone(), rec.ttl, RData::CNAME(CNAME(synth.clone())));
            let owner = rec.name.clone();
            out.push(rec);
            sigs(&mut out, &owner);
            out.push(cname);
            synth
        } else {
            break;
        };
        let mut next = next;
        next.set_fqdn(true);
        if !zone.zone_of(&next) || out.iter().any(|r| r.name == next) {
            // Another zone's data (or a loop, which the caller reports).
            return Step::Follow { records: out, next };
        }
        cur = next;
    }
    // The chain stopped inside the zone at `cur`, without data for it.
    let authority = negative_authority(msg, zone, &cur, dnssec_ok);
    if msg.metadata.response_code == ResponseCode::NXDomain {
        return Step::Done {
            records: out,
            rcode: ResponseCode::NXDomain,
            authority,
        };
    }
    if msg.metadata.authoritative && !authority.is_empty() {
        return Step::Done {
            records: out,
            rcode: ResponseCode::NoError,
            authority,
        };
    }
    // The server gave the alias only; ask again for the target.
    Step::Follow {
        records: out,
        next: cur,
    }
}

/// With DO, the NSEC/NSEC3 records (and their RRSIGs) of a positive
/// answer's authority section, from inside `zone`: the proof that a
/// wildcard answer was rightly expanded (RFC 4035 3.1.3.3).
fn proof_records(msg: &Message, zone: &Name, dnssec_ok: bool) -> Vec<Record> {
    if !dnssec_ok {
        return Vec::new();
    }
    let proof = |t: RecordType| matches!(t, RecordType::NSEC | RecordType::NSEC3);
    msg.authorities
        .iter()
        .filter(|r| zone.zone_of(&r.name))
        .filter(|r| {
            proof(r.record_type())
                || matches!(&r.data, RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) if proof(s.input().type_covered))
        })
        .cloned()
        .collect()
}

/// The SOA (and with DO the NSEC/NSEC3/RRSIG proofs) of a negative answer,
/// from inside `zone` only.
pub(super) fn negative_authority(
    msg: &Message,
    zone: &Name,
    name: &Name,
    dnssec_ok: bool,
) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    for r in msg.authorities.iter().filter(|r| zone.zone_of(&r.name)) {
        match r.record_type() {
            RecordType::SOA
                if r.name.zone_of(name)
                    && !out.iter().any(|o| o.record_type() == RecordType::SOA) =>
            {
                out.push(r.clone())
            }
            RecordType::NSEC | RecordType::NSEC3 | RecordType::RRSIG if dnssec_ok => {
                out.push(r.clone())
            }
            // The zone's own NS set, as the server gave it beside its
            // SOA (what Unbound passes on too).
            RecordType::NS if r.name == *zone => out.push(r.clone()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::rdata::{A, SOA};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn rec(owner: &str, data: RData) -> Record {
        Record::from_rdata(n(owner), 300, data)
    }

    fn a(owner: &str, ip: &str) -> Record {
        rec(owner, RData::A(A(ip.parse().expect("ip"))))
    }

    fn ns(owner: &str, target: &str) -> Record {
        rec(owner, RData::NS(NS(n(target))))
    }

    fn cname(owner: &str, target: &str) -> Record {
        rec(owner, RData::CNAME(CNAME(n(target))))
    }

    fn soa(owner: &str) -> Record {
        rec(
            owner,
            RData::SOA(SOA::new(n(owner), n(owner), 1, 3600, 600, 86400, 300)),
        )
    }

    fn reply(rcode: ResponseCode, aa: bool) -> Message {
        let mut m = Message::response(1, OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.authoritative = aa;
        m
    }

    #[test]
    fn referral_must_go_down_and_cover_the_name() {
        let name = n("www.example.zz.");
        let mut m = reply(ResponseCode::NoError, false);
        m.authorities.push(ns("example.zz.", "ns1.example.zz."));
        assert_eq!(
            classify(&m, &n("zz."), &name, RecordType::A),
            Reply::Referral(n("example.zz."))
        );
        // Same referral from the root: skipping a level is fine.
        assert_eq!(
            classify(&m, &Name::root(), &name, RecordType::A),
            Reply::Referral(n("example.zz."))
        );
        // Upward: the example.zz servers send us back to zz.
        let mut up = reply(ResponseCode::NoError, false);
        up.authorities.push(ns("zz.", "ns1.zz."));
        assert!(matches!(
            classify(&up, &n("example.zz."), &name, RecordType::A),
            Reply::Lame(_)
        ));
        // Sideways: a delegation not covering the name.
        let mut side = reply(ResponseCode::NoError, false);
        side.authorities.push(ns("other.zz.", "ns1.other.zz."));
        assert!(matches!(
            classify(&side, &n("zz."), &name, RecordType::A),
            Reply::Lame(_)
        ));
        // Upward with AA (the root's NS in an empty AA answer): still
        // lame, not NODATA.
        let mut up_aa = reply(ResponseCode::NoError, true);
        up_aa.authorities.push(ns(".", "a.root-servers.net."));
        assert!(matches!(
            classify(&up_aa, &n("example.zz."), &name, RecordType::AAAA),
            Reply::Lame(_)
        ));
        // Same-level "referral" to the zone itself.
        let mut same = reply(ResponseCode::NoError, false);
        same.authorities.push(ns("zz.", "ns1.zz."));
        assert!(matches!(
            classify(&same, &n("zz."), &name, RecordType::A),
            Reply::Lame(_)
        ));
    }

    #[test]
    fn nxdomain_without_aa_or_the_zones_soa_is_lame() {
        let zone = n(".");
        let name = n("www.example.com.");
        // What a middlebox or a recursive resolver answering in the
        // root's place sends: RA, no AA, no SOA.
        let mut fake = reply(ResponseCode::NXDomain, false);
        fake.metadata.recursion_available = true;
        assert!(matches!(
            classify(&fake, &zone, &name, RecordType::A),
            Reply::Lame(_)
        ));
        // An SOA of another zone does not make it the zone's answer.
        fake.authorities.push(soa("example.zz."));
        assert!(matches!(
            classify(&fake, &zone, &name, RecordType::A),
            Reply::Lame(_)
        ));
        // With AA, or with the zone's SOA, the zone has spoken.
        let aa = reply(ResponseCode::NXDomain, true);
        assert_eq!(classify(&aa, &zone, &name, RecordType::A), Reply::NxDomain);
        let mut with_soa = reply(ResponseCode::NXDomain, false);
        with_soa.authorities.push(soa("."));
        assert_eq!(
            classify(&with_soa, &zone, &name, RecordType::A),
            Reply::NxDomain
        );
    }

    #[test]
    fn answers_negatives_and_failures_are_told_apart() {
        let zone = n("example.zz.");
        let name = n("www.example.zz.");
        let mut m = reply(ResponseCode::NoError, true);
        m.answers.push(a("www.example.zz.", "192.0.2.1"));
        assert_eq!(classify(&m, &zone, &name, RecordType::A), Reply::Answer);
        // The same answer from a server asked about another zone is not
        // trusted.
        assert!(matches!(
            classify(&m, &n("other.zz."), &name, RecordType::A),
            Reply::Lame(_)
        ));
        // Only data of another type for the name: NODATA, not lame.
        assert_eq!(classify(&m, &zone, &name, RecordType::AAAA), Reply::NoData);
        let mut nx = reply(ResponseCode::NXDomain, true);
        nx.authorities.push(soa("example.zz."));
        assert_eq!(classify(&nx, &zone, &name, RecordType::A), Reply::NxDomain);
        // The zone's NS set beside the SOA is passed on; others are not.
        nx.authorities.push(ns("example.zz.", "ns1.example.zz."));
        nx.authorities.push(ns("zz.", "ns1.zz."));
        let auth = negative_authority(&nx, &zone, &name, false);
        assert_eq!(auth.len(), 2, "{auth:?}");
        assert_eq!(auth[1].record_type(), RecordType::NS);
        assert_eq!(auth[1].name, zone);
        let mut nodata = reply(ResponseCode::NoError, true);
        nodata.authorities.push(soa("example.zz."));
        assert_eq!(
            classify(&nodata, &zone, &name, RecordType::MX),
            Reply::NoData
        );
        // AA NODATA that lists the zone's own NS is still NODATA.
        let mut nodata_ns = reply(ResponseCode::NoError, true);
        nodata_ns
            .authorities
            .push(ns("example.zz.", "ns1.example.zz."));
        assert_eq!(
            classify(&nodata_ns, &zone, &name, RecordType::MX),
            Reply::NoData
        );
        assert_eq!(
            classify(
                &reply(ResponseCode::ServFail, false),
                &zone,
                &name,
                RecordType::A
            ),
            Reply::Failed(ResponseCode::ServFail)
        );
        assert!(matches!(
            classify(
                &reply(ResponseCode::NoError, false),
                &zone,
                &name,
                RecordType::A
            ),
            Reply::Lame(_)
        ));
    }

    #[test]
    fn glue_is_taken_only_inside_the_sending_zone() {
        let mut m = reply(ResponseCode::NoError, false);
        m.authorities.push(ns("example.zz.", "ns1.example.zz."));
        m.authorities.push(ns("example.zz.", "ns.other.yy."));
        m.authorities.push(ns("example.zz.", "NS1.example.zz."));
        m.authorities.push(ns("example.zz.", "ns.sibling.zz."));
        m.additionals.push(a("ns1.example.zz.", "192.0.2.53"));
        m.additionals.push(a("ns.other.yy.", "192.0.2.66"));
        m.additionals.push(a("ns.sibling.zz.", "192.0.2.77"));
        let now = Instant::now();
        let d = referral(&m, &n("zz."), &n("example.zz."), now);
        assert_eq!(d.servers.len(), 3, "duplicates merged: {:?}", d.servers);
        assert_eq!(
            d.servers[0].addrs,
            vec!["192.0.2.53".parse::<IpAddr>().expect("ip")],
            "in-domain glue"
        );
        assert!(
            d.servers[1].addrs.is_empty(),
            "out-of-bailiwick glue ignored"
        );
        assert_eq!(
            d.servers[2].addrs,
            vec!["192.0.2.77".parse::<IpAddr>().expect("ip")],
            "sibling glue (inside the sending zone zz.) is used"
        );
        assert_eq!(d.expires, now + Duration::from_secs(300));
        // The same referral from a server of another zone: only what is
        // inside that zone counts.
        let d = referral(&m, &n("example.zz."), &n("example.zz."), now);
        assert!(d.servers[2].addrs.is_empty());
    }

    #[test]
    fn chains_stay_in_zone_and_continue_elsewhere() {
        let zone = n("example.zz.");
        let mut m = reply(ResponseCode::NoError, true);
        m.answers
            .push(cname("chain.example.zz.", "alias.example.zz."));
        m.answers.push(cname("alias.example.zz.", "www.other.yy."));
        m.answers.push(a("www.other.yy.", "6.6.6.6"));
        match extract(&m, &zone, &n("chain.example.zz."), RecordType::A, false) {
            Step::Follow { records, next } => {
                assert_eq!(records.len(), 2);
                assert_eq!(next, n("www.other.yy."), "out-of-zone A not trusted");
            }
            s => panic!("{s:?}"),
        }
        // Whole chain inside the zone.
        let mut m = reply(ResponseCode::NoError, true);
        m.answers
            .push(cname("alias.example.zz.", "www.example.zz."));
        m.answers.push(a("www.example.zz.", "192.0.2.10"));
        match extract(&m, &zone, &n("alias.example.zz."), RecordType::A, false) {
            Step::Done { records, rcode, .. } => {
                assert_eq!(rcode, ResponseCode::NoError);
                assert_eq!(records.len(), 2);
            }
            s => panic!("{s:?}"),
        }
        // The alias alone: ask again for the target.
        let mut m = reply(ResponseCode::NoError, true);
        m.answers
            .push(cname("alias.example.zz.", "www.example.zz."));
        assert!(matches!(
            extract(&m, &zone, &n("alias.example.zz."), RecordType::A, false),
            Step::Follow { next, .. } if next == n("www.example.zz.")
        ));
        // NXDOMAIN for the target.
        let mut m = reply(ResponseCode::NXDomain, true);
        m.answers
            .push(cname("alias.example.zz.", "gone.example.zz."));
        m.authorities.push(soa("example.zz."));
        match extract(&m, &zone, &n("alias.example.zz."), RecordType::A, false) {
            Step::Done {
                records,
                rcode,
                authority,
            } => {
                assert_eq!(rcode, ResponseCode::NXDomain);
                assert_eq!(records.len(), 1);
                assert_eq!(authority.len(), 1);
            }
            s => panic!("{s:?}"),
        }
        // A loop inside one reply stops.
        let mut m = reply(ResponseCode::NoError, true);
        m.answers.push(cname("a.example.zz.", "b.example.zz."));
        m.answers.push(cname("b.example.zz.", "a.example.zz."));
        assert!(matches!(
            extract(&m, &zone, &n("a.example.zz."), RecordType::A, false),
            Step::Follow { next, .. } if next == n("a.example.zz.")
        ));
    }

    #[test]
    fn owned_extraction_gives_what_extract_gives() {
        let zone = n("example.zz.");
        let name = n("www.example.zz.");
        let mut plain = reply(ResponseCode::NoError, true);
        plain.answers.push(a("www.example.zz.", "192.0.2.1"));
        plain.answers.push(a("WWW.example.zz.", "192.0.2.2"));
        let mut chain = reply(ResponseCode::NoError, true);
        chain
            .answers
            .push(cname("www.example.zz.", "alias.example.zz."));
        chain.answers.push(a("alias.example.zz.", "192.0.2.3"));
        let mut outside = reply(ResponseCode::NoError, true);
        outside.answers.push(a("www.example.zz.", "192.0.2.1"));
        outside.answers.push(a("www.other.zz.", "192.0.2.9"));
        let mut other_type = reply(ResponseCode::NoError, true);
        other_type.answers.push(a("www.example.zz.", "192.0.2.1"));
        other_type
            .answers
            .push(cname("www.example.zz.", "x.example.zz."));
        for m in [
            plain,
            chain,
            outside,
            other_type,
            reply(ResponseCode::NoError, true),
        ] {
            for (qtype, dnssec_ok) in [
                (RecordType::A, false),
                (RecordType::A, true),
                (RecordType::CNAME, false),
                (RecordType::RRSIG, true),
            ] {
                assert_eq!(
                    extract_owned(m.clone(), &zone, &name, qtype, dnssec_ok),
                    extract(&m, &zone, &name, qtype, dnssec_ok),
                    "{qtype} {:?}",
                    m.answers
                );
            }
        }
    }

    #[test]
    fn dname_is_substituted() {
        let target = n("example.net.");
        let mut bytes = Vec::new();
        {
            use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
            let mut enc = BinEncoder::new(&mut bytes);
            target.emit(&mut enc).expect("emit");
        }
        let dname = Record::from_rdata(
            n("example.zz."),
            300,
            RData::Unknown {
                code: RecordType::DNAME,
                rdata: hickory_proto::rr::rdata::NULL::with(bytes),
            },
        );
        let mut m = reply(ResponseCode::NoError, true);
        m.answers.push(dname.clone());
        let zone = n("example.zz.");
        // The server's own synthesised CNAME, beside its DNAME: both kept,
        // DNAME first.
        let mut synth = reply(ResponseCode::NoError, true);
        synth
            .answers
            .push(cname("a.b.example.zz.", "a.b.example.net."));
        synth.answers.push(dname.clone());
        match extract(&synth, &zone, &n("a.b.example.zz."), RecordType::A, false) {
            Step::Follow { records, next } => {
                assert_eq!(next, n("a.b.example.net."));
                assert_eq!(records[0], dname);
                assert_eq!(records[1].record_type(), RecordType::CNAME);
                assert_eq!(records.len(), 2);
            }
            s => panic!("{s:?}"),
        }
        let name = n("a.b.example.zz.");
        assert_eq!(classify(&m, &zone, &name, RecordType::A), Reply::Answer);
        match extract(&m, &zone, &name, RecordType::A, false) {
            Step::Follow { records, next } => {
                assert_eq!(next, n("a.b.example.net."));
                assert_eq!(records.len(), 2, "DNAME + synthesised CNAME");
            }
            s => panic!("{s:?}"),
        }
    }
}
