//! The UDP fast path (`wire/quick.rs`, `wire/template.rs`, `pipeline/fast.rs`) against hickory, its reference: a
//! query the fast path parses must decode the same way through
//! `wire::check::check_wire`, and every answer it renders on the wire (cached
//! templates, blocked answers) must decode with hickory to what it claims.
//!
//! Input: a 15-byte control prefix, an EDE text, then the client packet.
//!
//! | bytes | use |
//! |---|---|
//! | 0..4 | TTL (big-endian u32): template records, blocked answers and their SOA |
//! | 4..8 | `age` for `WireTemplate::render` (big-endian u32) |
//! | 8..10 | `limit` for `render`/`render_block` (big-endian u16) |
//! | 10 | SOA depth of blocked answers, `% (labels + 1)` |
//! | 11..13 | EDE info code (big-endian u16) |
//! | 13 | EDE text length, `% 101` |
//! | 14 | bit 0: the template also has an SOA authority; bit 1: its rcode is NXDOMAIN |
//! | 15.. | EDE text (lossy UTF-8, at most 100 bytes), then the packet |
//!
//! Invariants checked (besides "nothing panics"):
//! - `parse_quick(packet) == Some(q)` implies `check_wire(packet)` is Ok
//!   with one question whose wire name is `q.qname` (labels too), same ID,
//!   qtype, qclass, RD, CD, and an OPT iff `q.edns`, with the same DO bit
//!   and payload (RFC 6891: hickory reads a payload under 512 as 512, and
//!   `try_fast` clamps the same way);
//! - a `WireTemplate` built for the lowercase question (one A record owned
//!   by it, optionally an SOA authority) renders for `q` (its lowercase
//!   form has the same wire length); `render` under `limit` is that output
//!   iff it fits; the output decodes with hickory with the query's ID,
//!   QR=1, RD/CD copied, RA, the template's rcode, the client's question
//!   bytes (case kept), every TTL `ttl.saturating_sub(age)`, owners in the
//!   client's case, and an OPT (payload 1232, DO copied) iff the query had
//!   EDNS;
//! - `render_block` for every `BlockShape` renders (any depth up to the
//!   label count); under `limit` it is that output iff it fits; it decodes
//!   with the query's ID, the shape's rcode (NXDOMAIN, REFUSED, else
//!   NOERROR), the sinkhole A/AAAA for Sinkhole A/AAAA queries, otherwise
//!   (not REFUSED) an SOA owned by the question's suffix at `depth` with the
//!   sinkhole MNAME/RNAME and `ttl` as TTL and minimum, and with EDNS exactly
//!   one option: EDE (15) carrying the info code and text.
//!
//! Known open bug (seeds/fastpath/crash-ecs-*): `parse_quick` checks only
//! the framing of EDNS options, while hickory also parses the content of
//! an ECS option (code 8) and `check_wire` FORMERRs one it cannot read
//! (empty, family not 1/2, source prefix longer than the address, address
//! bytes missing), so the fast path answers queries the normal path
//! rejects. With `DNSWARD_FUZZ_SKIP_KNOWN` set (run.sh's fuzzing phase)
//! exactly that is carved out: such an option's code is changed to 65001
//! (opaque to hickory) and every check runs on the resulting message.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::ClientSubnet;
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record};
use libfuzzer_sys::fuzz_target;

use dnsward::config::SinkholeConfig;
use dnsward::wire::quick::{parse_quick, QuickQuery};
use dnsward::wire::ede::Ede;
use dnsward::wire::template::{lower_query, render_block, BlockAnswer, BlockShape, WireTemplate};
use dnsward::wire::check::check_wire;
use dnsward::sinkhole::Sinkhole;

const CONTROL: usize = 15;
const MAX_PAYLOAD: u16 = 1232;
const IPV4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IPV6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const TEMPLATE_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const SHAPES: [BlockShape; 4] = [
    BlockShape::Sinkhole,
    BlockShape::Nxdomain,
    BlockShape::Nodata,
    BlockShape::Refused,
];

fn skip_known() -> bool {
    static S: OnceLock<bool> = OnceLock::new();
    *S.get_or_init(|| std::env::var_os("DNSWARD_FUZZ_SKIP_KNOWN").is_some())
}

/// The known bug: `packet` (accepted by `parse_quick` as `q`) with the code
/// of every ECS option hickory cannot parse changed to 65001, or None if it
/// has no such option.
fn defuse_bad_ecs(packet: &[u8], q: &QuickQuery<'_>) -> Option<Vec<u8>> {
    q.edns?;
    let be16 = |i: usize| usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    // Header, question, then the OPT's owner, type, class, TTL, RDLENGTH;
    // parse_quick checked that its options exactly fill the packet.
    let mut o = 12 + q.qname.len() + 4 + 11;
    let mut out = packet.to_vec();
    let mut any = false;
    while o < packet.len() {
        let len = be16(o + 2);
        if be16(o) == 8 && ClientSubnet::try_from(&packet[o + 4..o + 4 + len]).is_err() {
            out[o..o + 2].copy_from_slice(&65001u16.to_be_bytes());
            any = true;
        }
        o += 4 + len;
    }
    any.then_some(out)
}

fn sinkhole() -> &'static Sinkhole {
    static S: OnceLock<Sinkhole> = OnceLock::new();
    S.get_or_init(|| Sinkhole::new(&SinkholeConfig::default()))
}

/// Uncompressed wire form of a decoded name (label bytes as received).
fn wire(name: &Name) -> Vec<u8> {
    let mut v = Vec::with_capacity(name.len() + 1);
    for l in name.iter() {
        v.push(l.len() as u8);
        v.extend_from_slice(l);
    }
    v.push(0);
    v
}

/// The suffix of a wire name after `depth` labels.
fn wire_suffix(qname: &[u8], depth: usize) -> &[u8] {
    let mut i = 0;
    for _ in 0..depth {
        i += 1 + usize::from(qname[i]);
    }
    &qname[i..]
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The common header/question/OPT checks of a rendered response.
fn check_response(out: &[u8], q: &QuickQuery<'_>, what: &str) -> Message {
    let m = Message::from_vec(out)
        .unwrap_or_else(|e| panic!("{what}: hickory cannot decode the output: {e}"));
    let md = &m.metadata;
    assert_eq!(md.id, q.id, "{what}: ID");
    assert_eq!(md.message_type, MessageType::Response, "{what}: QR");
    assert_eq!(md.op_code, OpCode::Query, "{what}: opcode");
    assert_eq!(md.recursion_desired, q.rd, "{what}: RD");
    assert_eq!(md.checking_disabled, q.cd, "{what}: CD");
    assert!(md.recursion_available, "{what}: RA");
    assert_eq!(m.queries.len(), 1, "{what}: question count");
    let qq = &m.queries[0];
    assert_eq!(wire(qq.name()), q.qname, "{what}: question name bytes");
    assert_eq!(u16::from(qq.query_type()), q.qtype, "{what}: qtype");
    assert_eq!(u16::from(qq.query_class()), q.qclass, "{what}: qclass");
    assert!(m.additionals.is_empty(), "{what}: stray additional records");
    match (&m.edns, q.edns) {
        (None, None) => {}
        (Some(e), Some((_, dnssec_ok))) => {
            assert_eq!(e.max_payload(), MAX_PAYLOAD, "{what}: OPT payload");
            assert_eq!(e.flags().dnssec_ok, dnssec_ok, "{what}: DO bit");
            assert_eq!(e.version(), 0, "{what}: EDNS version");
            assert_eq!(e.rcode_high(), 0, "{what}: extended rcode");
        }
        (got, _) => panic!(
            "{what}: OPT present = {}, query had EDNS = {}",
            got.is_some(),
            q.edns.is_some()
        ),
    }
    m
}

fuzz_target!(|data: &[u8]| {
    if data.len() < CONTROL {
        return;
    }
    let (c, rest) = data.split_at(CONTROL);
    let ttl = be32(&c[0..4]);
    let age = be32(&c[4..8]);
    let limit = usize::from(u16::from_be_bytes([c[8], c[9]]));
    let depth_byte = c[10];
    let ede_code = u16::from_be_bytes([c[11], c[12]]);
    let text_len = usize::from(c[13] % 101).min(rest.len());
    let flags = c[14];
    let (text_raw, packet) = rest.split_at(text_len);
    let mut ede_text = String::from_utf8_lossy(text_raw).into_owned();
    while ede_text.len() > 100 {
        ede_text.pop();
    }

    let Some(q) = parse_quick(packet) else {
        // The converse need not hold: the normal path takes these.
        return;
    };

    // (1) The fast parser agrees with the normal path's decoder.
    let message = match check_wire(packet) {
        Ok(m) => m,
        Err(r) => {
            let defused = defuse_bad_ecs(packet, &q);
            let known = defused.is_some();
            match defused.filter(|_| skip_known()).map(|p| check_wire(&p)) {
                Some(Ok(m)) => m,
                _ => panic!(
                    "parse_quick accepted a packet check_wire rejects ({}, reply rcode {:?}){}",
                    r.reason.label(),
                    r.reply.as_deref().and_then(|b| b.get(3)).map(|x| x & 0x0f),
                    if known {
                        ": malformed ECS option, known bug seeds/fastpath/crash-ecs-*"
                    } else {
                        ""
                    }
                ),
            }
        }
    };
    assert_eq!(message.metadata.id, q.id, "ID");
    assert_eq!(message.queries.len(), 1, "check_wire: question count");
    let query = &message.queries[0];
    assert_eq!(wire(query.name()), q.qname, "question name bytes");
    assert!(
        q.labels().eq(query.name().iter()),
        "QuickQuery::labels != hickory's labels"
    );
    assert_eq!(u16::from(query.query_type()), q.qtype, "qtype");
    assert_eq!(u16::from(query.query_class()), q.qclass, "qclass");
    assert_eq!(message.metadata.recursion_desired, q.rd, "RD");
    assert_eq!(message.metadata.checking_disabled, q.cd, "CD");
    match (&message.edns, q.edns) {
        (None, None) => {}
        (Some(e), Some((payload, dnssec_ok))) => {
            assert_eq!(e.max_payload(), payload.max(512), "EDNS payload");
            assert_eq!(e.flags().dnssec_ok, dnssec_ok, "DO bit");
        }
        (got, want) => panic!(
            "check_wire OPT present = {}, parse_quick EDNS = {want:?}",
            got.is_some()
        ),
    }

    // (2) A cached answer for the lowercase question, rendered for `q`.
    let lower = lower_query(query);
    let owner = lower.name().clone();
    let nxdomain = flags & 2 != 0;
    let mut response = Message::response(0, OpCode::Query);
    if nxdomain {
        response.metadata.response_code = ResponseCode::NXDomain;
    }
    response.answers.push(Record::from_rdata(
        owner.clone(),
        ttl,
        RData::A(A(TEMPLATE_A)),
    ));
    let with_soa = flags & 1 != 0;
    if with_soa {
        let soa = SOA::new(
            Name::from_ascii("ns.example.").expect("mname"),
            Name::from_ascii("hostmaster.example.").expect("rname"),
            1,
            3600,
            600,
            86_400,
            ttl,
        );
        response
            .authorities
            .push(Record::from_rdata(owner.clone(), ttl, RData::SOA(soa)));
    }
    if let Some(template) = WireTemplate::build(&lower, &response) {
        assert_eq!(
            template.rcode(),
            if nxdomain { 3 } else { 0 },
            "template rcode"
        );
        let full = template
            .render(&q, age, MAX_PAYLOAD, usize::MAX)
            .expect("render refused a query of the template's own name");
        let limited = template.render(&q, age, MAX_PAYLOAD, limit);
        if full.len() <= limit {
            assert_eq!(limited.as_deref(), Some(&full[..]), "render under limit");
        } else {
            assert!(
                limited.is_none(),
                "render over limit ({} > {limit})",
                full.len()
            );
        }
        let m = check_response(&full, &q, "render");
        let rcode = if nxdomain {
            ResponseCode::NXDomain
        } else {
            ResponseCode::NoError
        };
        assert_eq!(m.metadata.response_code, rcode, "render: rcode");
        let want_ttl = ttl.saturating_sub(age);
        assert_eq!(m.answers.len(), 1, "render: answers");
        let a = &m.answers[0];
        assert_eq!(a.ttl, want_ttl, "render: answer TTL");
        assert_eq!(a.data, RData::A(A(TEMPLATE_A)), "render: answer data");
        assert_eq!(wire(&a.name), q.qname, "render: answer owner bytes");
        assert_eq!(
            m.authorities.len(),
            usize::from(with_soa),
            "render: authorities"
        );
        if let Some(s) = m.authorities.first() {
            assert_eq!(s.ttl, want_ttl, "render: SOA TTL");
            assert_eq!(wire(&s.name), q.qname, "render: SOA owner bytes");
            match &s.data {
                RData::SOA(soa) => assert_eq!(soa.minimum, ttl, "render: SOA minimum"),
                other => panic!("render: authority is not an SOA: {other:?}"),
            }
        }
    }

    // (3) Blocked answers built on the wire.
    let labels = q.labels().count();
    let depth = usize::from(depth_byte) % (labels + 1);
    let zone = wire_suffix(q.qname, depth);
    let soa_names = sinkhole().soa_names_wire();
    for shape in SHAPES {
        let b = BlockAnswer {
            shape,
            depth,
            ttl,
            ipv4: IPV4.octets(),
            ipv6: IPV6.octets(),
            soa_names,
            ede: Ede::new(ede_code, &ede_text),
        };
        let what = format!("render_block({shape:?}, depth {depth})");
        let full = render_block(&q, &b, MAX_PAYLOAD, usize::MAX)
            .unwrap_or_else(|| panic!("{what}: no output without a limit"));
        let limited = render_block(&q, &b, MAX_PAYLOAD, limit);
        if full.len() <= limit {
            assert_eq!(limited.as_deref(), Some(&full[..]), "{what}: under limit");
        } else {
            assert!(
                limited.is_none(),
                "{what}: over limit ({} > {limit})",
                full.len()
            );
        }
        let m = check_response(&full, &q, &what);
        let rcode = match shape {
            BlockShape::Nxdomain => ResponseCode::NXDomain,
            BlockShape::Refused => ResponseCode::Refused,
            BlockShape::Sinkhole | BlockShape::Nodata => ResponseCode::NoError,
        };
        assert_eq!(m.metadata.response_code, rcode, "{what}: rcode");
        let answer = match (shape, q.qtype) {
            (BlockShape::Sinkhole, 1) => Some(RData::A(A(IPV4))),
            (BlockShape::Sinkhole, 28) => Some(RData::AAAA(AAAA(IPV6))),
            _ => None,
        };
        match &answer {
            Some(rdata) => {
                assert_eq!(m.answers.len(), 1, "{what}: answers");
                let a = &m.answers[0];
                assert_eq!(&a.data, rdata, "{what}: sinkhole address");
                assert_eq!(a.ttl, ttl, "{what}: answer TTL");
                assert_eq!(wire(&a.name), q.qname, "{what}: answer owner bytes");
            }
            None => assert!(m.answers.is_empty(), "{what}: unexpected answers"),
        }
        if shape == BlockShape::Refused || answer.is_some() {
            assert!(m.authorities.is_empty(), "{what}: unexpected authority");
        } else {
            assert_eq!(m.authorities.len(), 1, "{what}: authorities");
            let s = &m.authorities[0];
            assert_eq!(
                wire(&s.name),
                zone,
                "{what}: SOA owner is not the suffix at depth"
            );
            assert_eq!(s.ttl, ttl, "{what}: SOA TTL");
            match &s.data {
                RData::SOA(soa) => {
                    let mut names = wire(&soa.mname);
                    names.extend(wire(&soa.rname));
                    assert_eq!(names, soa_names, "{what}: SOA MNAME/RNAME");
                    assert_eq!(
                        (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
                        (1, 3600, 600, 86_400, ttl),
                        "{what}: SOA fields"
                    );
                }
                other => panic!("{what}: authority is not an SOA: {other:?}"),
            }
        }
        if let Some(e) = &m.edns {
            let opts = &e.options().options;
            assert_eq!(opts.len(), 1, "{what}: OPT options {opts:?}");
            let (code, opt) = &opts[0];
            assert_eq!(u16::from(*code), 15, "{what}: option is not EDE");
            let mut want = ede_code.to_be_bytes().to_vec();
            want.extend_from_slice(ede_text.as_bytes());
            match opt {
                hickory_proto::rr::rdata::opt::EdnsOption::Unknown(15, d) => {
                    assert_eq!(d, &want, "{what}: EDE payload")
                }
                other => panic!("{what}: EDE decoded as {other:?}"),
            }
        }
    }
});
