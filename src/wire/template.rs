//! The UDP fast path: answer a plain query whose answer is cached, straight
//! from the receive loop, without decoding it into a `Message`, without a
//! task spawn and without encoding a response.
//!
//! Only the common shape takes this path: QUERY opcode, one IN question,
//! no answer/authority records, at most one additional record which must
//! be an EDNS(0) OPT. Everything else (and every miss, block, dry-run match
//! or answer too large for the client) goes to the normal path, which does
//! the same stages with full decoding. The fast path still applies every
//! stage that matters for a hit: access control and rate limiting happen
//! before it (in the listener), the policy is checked on every query (a
//! reload applies at once to cached names), an answer with a CNAME/DNAME
//! chain is served only if its chain was checked under the serving
//! policy's generation (else the normal path checks it), and the query,
//! cache and rcode counters move exactly as on the normal path.
//!
//! Cached answers carry a wire template ([`WireTemplate`]): the response
//! encoded once with ID 0 and a lowercase question, plus the offsets of
//! every TTL. A hit copies the template, patches ID, flags, the question's
//! letter case (the client's, for 0x20-randomising clients) and the TTLs
//! (decremented by the time spent in cache), and appends an OPT record when
//! the client sent one.

use std::net::IpAddr;

use hickory_proto::op::{emit_message_parts, Message, MessageType, Metadata, OpCode, Query};
use hickory_proto::rr::{RData, Record};
use hickory_proto::serialize::binary::BinEncoder;

use super::ede::Ede;
use super::quick::{be16, QuickQuery};

/// A cached answer pre-encoded for the fast path.
#[derive(Debug)]
pub struct WireTemplate {
    bytes: Box<[u8]>,
    ttl_offsets: Box<[u16]>,
    qname_len: usize,
}

/// Skip a (possibly compressed) name starting at `i`; returns the index
/// after it.
fn skip_name(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let n = *b.get(i)?;
        match n {
            0 => return Some(i + 1),
            0xc0..=0xff => return Some(i + 2),
            1..=63 => i += 1 + usize::from(n),
            _ => return None,
        }
    }
}

impl WireTemplate {
    /// Encode an answer (rcode, answer and authority records) for the
    /// question `query` (whose name must be lowercase). None if it cannot
    /// be encoded or is too large to be worth it.
    pub fn build(query: &Query, response: &Message) -> Option<Self> {
        let bytes = match encode_addresses(query, response) {
            Some(b) => b,
            None => encode_with_hickory(query, response)?,
        };
        if bytes.len() > 4096 {
            return None;
        }
        let qname_len = skip_name(&bytes, 12)? - 12;
        let mut i = 12 + qname_len + 4;
        let rrs = usize::from(be16(&bytes, 6)?) + usize::from(be16(&bytes, 8)?);
        let mut ttl_offsets = Vec::with_capacity(rrs);
        for _ in 0..rrs {
            i = skip_name(&bytes, i)?;
            ttl_offsets.push(u16::try_from(i + 4).ok()?);
            let rdlen = usize::from(be16(&bytes, i + 8)?);
            i += 10 + rdlen;
        }
        if i != bytes.len() {
            return None;
        }
        Some(Self {
            bytes: bytes.into_boxed_slice(),
            ttl_offsets: ttl_offsets.into_boxed_slice(),
            qname_len,
        })
    }

    /// The response code of the template.
    pub fn rcode(&self) -> u8 {
        self.bytes[3] & 0x0f
    }

    /// Render for `q`, `age` seconds after caching, or None if it would
    /// exceed `limit` bytes (the normal path then truncates properly).
    ///
    /// `ad`: set the AD bit (a secure answer to a client that set DO or
    /// AD); one template serves both variants.
    pub fn render(
        &self,
        q: &QuickQuery<'_>,
        age: u32,
        max_payload: u16,
        limit: usize,
        ad: bool,
    ) -> Option<Vec<u8>> {
        if q.qname.len() != self.qname_len {
            return None;
        }
        let opt_len = if q.edns.is_some() { 11 } else { 0 };
        if self.bytes.len() + opt_len > limit {
            return None;
        }
        let mut out = Vec::with_capacity(self.bytes.len() + opt_len);
        out.extend_from_slice(&self.bytes);
        out[0..2].copy_from_slice(&q.id.to_be_bytes());
        out[2] = 0x80 | u8::from(q.rd);
        out[3] =
            0x80 | if ad { 0x20 } else { 0 } | if q.cd { 0x10 } else { 0 } | (self.bytes[3] & 0x0f);
        out[12..12 + self.qname_len].copy_from_slice(q.qname);
        for &off in self.ttl_offsets.iter() {
            let o = usize::from(off);
            let ttl = u32::from_be_bytes([out[o], out[o + 1], out[o + 2], out[o + 3]]);
            out[o..o + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
        }
        if let Some((_, dnssec_ok)) = q.edns {
            let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
            out[10..12].copy_from_slice(&ar.to_be_bytes());
            out.push(0);
            out.extend_from_slice(&41u16.to_be_bytes());
            out.extend_from_slice(&max_payload.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(if dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        Some(out)
    }
}

/// The template's bytes through hickory's encoder (name compression
/// everywhere, any record type). Encoded from borrowed sections: building
/// a `Message` to encode cloned every record (and dropped the clones).
fn encode_with_hickory(query: &Query, response: &Message) -> Option<Vec<u8>> {
    let mut meta = Metadata::new(0, MessageType::Response, OpCode::Query);
    meta.recursion_available = true;
    meta.response_code = response.metadata.response_code;
    let mut bytes = Vec::with_capacity(512);
    emit_message_parts(
        &meta,
        &mut std::iter::once(query),
        &mut response.answers.iter(),
        &mut response.authorities.iter(),
        &mut std::iter::empty::<&Record>(),
        None,
        None,
        &mut BinEncoder::new(&mut bytes),
    )
    .ok()?;
    Some(bytes)
}

/// Most answers drawn from the cache: one to a few A or AAAA records
/// owned by the question name, nothing else. Encoded here byte for byte
/// as [`encode_with_hickory`] would (each owner a pointer to the question,
/// which hickory finds by comparing bytes, so only owners written exactly
/// like the question qualify), without hickory's compression bookkeeping,
/// which keeps a heap copy of every name suffix written and cost more
/// than the rest of a cold query's template (callgrind). None for
/// anything else.
fn encode_addresses(query: &Query, response: &Message) -> Option<Vec<u8>> {
    let rcode = u16::from(response.metadata.response_code);
    let count = u16::try_from(response.answers.len()).ok()?;
    let qname = query.name();
    if rcode > 0x0f
        || count == 0
        || count > 64
        || !response.authorities.is_empty()
        || qname.is_root()
    {
        return None;
    }
    let mut out = Vec::with_capacity(12 + 256 + 4 + response.answers.len() * 28);
    out.extend_from_slice(&[0, 0, 0x80, 0x80 | rcode as u8, 0, 1]);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    for label in qname.iter() {
        out.push(
            u8::try_from(label.len())
                .ok()
                .filter(|&n| (1..=63).contains(&n))?,
        );
        out.extend_from_slice(label);
    }
    out.push(0);
    if out.len() - 12 > 255 {
        return None;
    }
    out.extend_from_slice(&u16::from(query.query_type()).to_be_bytes());
    out.extend_from_slice(&u16::from(query.query_class()).to_be_bytes());
    for r in &response.answers {
        let ip = match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => return None,
        };
        let same_owner = r.name.num_labels() == qname.num_labels()
            && r.name.iter().zip(qname.iter()).all(|(a, b)| a == b);
        if !same_owner {
            return None;
        }
        out.extend_from_slice(&0xc00cu16.to_be_bytes());
        out.extend_from_slice(&u16::from(r.record_type()).to_be_bytes());
        out.extend_from_slice(&u16::from(r.dns_class).to_be_bytes());
        out.extend_from_slice(&r.ttl.to_be_bytes());
        match ip {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&16u16.to_be_bytes());
                out.extend_from_slice(&v6.octets());
            }
        }
    }
    Some(out)
}

/// What a blocked answer looks like on the wire (the simple effects only;
/// redirects, RPZ local data, drop and tcp-only take the normal path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockShape {
    /// A/AAAA sinkhole address, other types NODATA with SOA.
    Sinkhole,
    /// NXDOMAIN with SOA.
    Nxdomain,
    /// NODATA with SOA.
    Nodata,
    /// REFUSED.
    Refused,
}

/// Everything a blocked answer needs besides the query.
pub struct BlockAnswer<'a> {
    /// The answer's shape.
    pub shape: BlockShape,
    /// Labels between the query name and the listed name (SOA owner).
    pub depth: usize,
    /// TTL of the answer and negative TTL of the SOA.
    pub ttl: u32,
    /// Sinkhole addresses.
    pub ipv4: [u8; 4],
    /// Sinkhole addresses.
    pub ipv6: [u8; 16],
    /// SOA MNAME and RNAME, uncompressed wire form.
    pub soa_names: &'a [u8],
    /// The EDE the answer carries (in its OPT, when the client sent EDNS).
    pub ede: Ede<'a>,
}

fn push_rr_header(out: &mut Vec<u8>, owner_ptr: u16, rtype: u16, ttl: u32, rdlen: u16) {
    out.extend_from_slice(&(0xc000 | owner_ptr).to_be_bytes());
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&rdlen.to_be_bytes());
}

/// Encode a blocked answer for `q` directly (no `Message`): the question
/// copied, the answer or SOA owned by compression pointers into it, and an
/// OPT carrying the EDE when the client sent EDNS. None if over `limit`.
pub fn render_block(
    q: &QuickQuery<'_>,
    b: &BlockAnswer<'_>,
    max_payload: u16,
    limit: usize,
) -> Option<Vec<u8>> {
    // Offset of the listed name inside the question (compression target).
    let mut zone_off = 12usize;
    for _ in 0..b.depth {
        zone_off += 1 + usize::from(*q.qname.get(zone_off - 12)?);
    }
    let zone_ptr = u16::try_from(zone_off).ok()?;
    let (rcode, answer) = match (b.shape, q.qtype) {
        (BlockShape::Refused, _) => (5u8, None),
        (BlockShape::Nxdomain, _) => (3, None),
        (BlockShape::Sinkhole, 1) => (0, Some((1u16, &b.ipv4[..]))),
        (BlockShape::Sinkhole, 28) => (0, Some((28, &b.ipv6[..]))),
        _ => (0, None),
    };
    let soa = b.shape != BlockShape::Refused && answer.is_none();
    let mut out = Vec::with_capacity(128 + b.soa_names.len() + b.ede.option_len());
    out.extend_from_slice(&q.id.to_be_bytes());
    out.push(0x80 | u8::from(q.rd));
    out.push(0x80 | if q.cd { 0x10 } else { 0 } | rcode);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::from(answer.is_some()).to_be_bytes());
    out.extend_from_slice(&u16::from(soa).to_be_bytes());
    out.extend_from_slice(&u16::from(q.edns.is_some()).to_be_bytes());
    out.extend_from_slice(q.qname);
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&q.qclass.to_be_bytes());
    if let Some((rtype, addr)) = answer {
        push_rr_header(&mut out, 12, rtype, b.ttl, addr.len() as u16);
        out.extend_from_slice(addr);
    }
    if soa {
        let rdlen = u16::try_from(b.soa_names.len() + 20).ok()?;
        push_rr_header(&mut out, zone_ptr, 6, b.ttl, rdlen);
        out.extend_from_slice(b.soa_names);
        for v in [1u32, 3600, 600, 86_400, b.ttl] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    if let Some((_, dnssec_ok)) = q.edns {
        let rdlen = u16::try_from(b.ede.option_len()).ok()?;
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&max_payload.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(if dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&rdlen.to_be_bytes());
        b.ede.write_option(&mut out)?;
    }
    (out.len() <= limit).then_some(out)
}

/// The lowercase question used for templates.
pub fn lower_query(query: &Query) -> Query {
    let mut q = query.clone();
    q.set_name(query.name().to_lowercase());
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::quick::parse_quick;
    use hickory_proto::op::{Edns, MessageType, ResponseCode};
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    fn query_bytes(name: &str, edns: bool) -> Vec<u8> {
        let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(
            Name::from_ascii(name).expect("n"),
            RecordType::A,
        ));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            e.set_dnssec_ok(true);
            m.set_edns(e);
        }
        m.to_vec().expect("enc")
    }

    #[test]
    fn plain_queries_parse_and_odd_ones_do_not() {
        let b = query_bytes("WwW.Example.com.", true);
        let q = parse_quick(&b).expect("quick");
        assert_eq!((q.id, q.rd, q.qtype, q.qclass), (0x1234, true, 1, 1));
        assert_eq!(q.edns, Some((1232, true)));
        let labels: Vec<_> = q.labels().collect();
        assert_eq!(labels, vec![&b"WwW"[..], b"Example", b"com"]);
        assert!(parse_quick(&query_bytes("a.b.", false)).is_some());
        let mut resp = b.clone();
        resp[2] |= 0x80;
        assert!(parse_quick(&resp).is_none(), "QR=1");
        let mut trailing = query_bytes("a.b.", false);
        trailing.push(0);
        assert!(parse_quick(&trailing).is_none(), "trailing junk");
        assert!(parse_quick(&b[..b.len() - 1]).is_none(), "truncated OPT");
        // An EDNS option whose length runs past the RDATA.
        let mut bad = b.clone();
        let n = bad.len();
        bad[n - 2..].copy_from_slice(&4u16.to_be_bytes());
        bad.extend_from_slice(&[0, 10, 0, 200, 1, 2, 3, 4]);
        assert!(parse_quick(&bad).is_none(), "bad option length");
        let mut good = b.clone();
        good[n - 2..].copy_from_slice(&8u16.to_be_bytes());
        good.extend_from_slice(&[0, 10, 0, 4, 1, 2, 3, 4]);
        assert!(parse_quick(&good).is_some(), "cookie option");
        assert!(parse_quick(&[0u8; 11]).is_none());
    }

    #[test]
    fn templates_render_with_id_case_ttl_and_opt_patched() {
        let name = Name::from_ascii("www.example.com.").expect("n");
        let mut resp = Message::response(0, OpCode::Query);
        resp.answers.push(Record::from_rdata(
            name.clone(),
            300,
            RData::CNAME(CNAME(Name::from_ascii("cdn.example.net.").expect("n"))),
        ));
        resp.answers.push(Record::from_rdata(
            Name::from_ascii("cdn.example.net.").expect("n"),
            60,
            RData::A(A::new(192, 0, 2, 7)),
        ));
        let t = WireTemplate::build(&Query::query(name, RecordType::A), &resp).expect("template");
        let qb = query_bytes("WWW.Example.COM.", true);
        let q = parse_quick(&qb).expect("quick");
        let out = t.render(&q, 10, 1232, 1232, false).expect("render");
        let m = Message::from_vec(&out).expect("decode");
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.recursion_desired && m.metadata.recursion_available);
        assert_eq!(m.queries[0].name().to_ascii(), "WWW.Example.COM.");
        assert_eq!(
            m.answers.iter().map(|r| r.ttl).collect::<Vec<_>>(),
            vec![290, 50]
        );
        assert!(m
            .edns
            .as_ref()
            .is_some_and(|e| e.flags().dnssec_ok && e.max_payload() == 1232));
        assert!(
            t.render(&q, 10, 1232, 40, false).is_none(),
            "over the limit"
        );
        let b2 = query_bytes("www.example.com.", false);
        let q2 = parse_quick(&b2).expect("q");
        assert!(
            Message::from_vec(&t.render(&q2, 0, 1232, 512, false).expect("r"))
                .expect("d")
                .edns
                .is_none()
        );
    }

    /// The hand encoder writes exactly hickory's bytes where it applies,
    /// and declines everything else.
    #[test]
    fn address_answers_encode_as_hickory_does() {
        use hickory_proto::rr::rdata::{AAAA, SOA};
        let n = |s: &str| Name::from_ascii(s).expect("name");
        let a = |owner: &str, ttl, last| {
            Record::from_rdata(n(owner), ttl, RData::A(A::new(192, 0, 2, last)))
        };
        let q = Query::query(n("www.example.com."), RecordType::A);
        let mut two = Message::response(0, OpCode::Query);
        two.answers.push(a("www.example.com.", 300, 1));
        two.answers.push(a("www.example.com.", 60, 2));
        let mut six = Message::response(0, OpCode::Query);
        six.answers.push(Record::from_rdata(
            n("www.example.com."),
            30,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ));
        let q6 = Query::query(n("www.example.com."), RecordType::AAAA);
        let mut servfail = Message::response(0, OpCode::Query);
        servfail.metadata.response_code = ResponseCode::ServFail;
        servfail.answers.push(a("www.example.com.", 1, 3));
        for (q, m) in [(&q, &two), (&q6, &six), (&q, &servfail)] {
            let mine = encode_addresses(q, m).expect("handled");
            assert_eq!(Some(mine), encode_with_hickory(q, m));
        }
        // Declined: an owner spelt differently, an alias, a negative
        // answer, an empty answer, the root.
        let mut case = Message::response(0, OpCode::Query);
        case.answers.push(a("WWW.example.com.", 300, 1));
        let mut alias = Message::response(0, OpCode::Query);
        alias.answers.push(Record::from_rdata(
            n("www.example.com."),
            300,
            RData::CNAME(CNAME(n("x.example.net."))),
        ));
        let mut nx = Message::response(0, OpCode::Query);
        nx.metadata.response_code = ResponseCode::NXDomain;
        nx.authorities.push(Record::from_rdata(
            n("example.com."),
            300,
            RData::SOA(SOA::new(
                n("ns.example.com."),
                n("h.example.com."),
                1,
                2,
                3,
                4,
                5,
            )),
        ));
        let mut root = Message::response(0, OpCode::Query);
        root.answers.push(a(".", 300, 1));
        let rq = Query::query(Name::root(), RecordType::A);
        for (q, m) in [
            (&q, &case),
            (&q, &alias),
            (&q, &nx),
            (&rq, &root),
            (&q, &Message::response(0, OpCode::Query)),
        ] {
            assert!(encode_addresses(q, m).is_none());
            let t = WireTemplate::build(q, m).expect("hickory builds it");
            assert_eq!(&t.bytes[..], &encode_with_hickory(q, m).expect("bytes")[..]);
        }
        let t = WireTemplate::build(&q, &two).expect("template");
        assert_eq!(t.ttl_offsets.len(), 2);
        assert_eq!(t.qname_len, 17);
    }

    #[test]
    fn blocked_answers_encode_like_the_normal_path() {
        let mut soa_names = Vec::new();
        for n in ["sinkhole.dnsward.invalid.", "hostmaster.dnsward.invalid."] {
            for l in n.trim_end_matches('.').split('.') {
                soa_names.push(l.len() as u8);
                soa_names.extend_from_slice(l.as_bytes());
            }
            soa_names.push(0);
        }
        let qb = query_bytes("X.Ads.Example.com.", true);
        let q = parse_quick(&qb).expect("quick");
        let block = |shape| BlockAnswer {
            shape,
            depth: 1,
            ttl: 120,
            ipv4: [192, 0, 2, 1],
            ipv6: [0; 16],
            soa_names: &soa_names,
            ede: Ede::new(16, "blocked by list court, order 7"),
        };
        let m = Message::from_vec(
            &render_block(&q, &block(BlockShape::Sinkhole), 1232, 1232).expect("r"),
        )
        .expect("decode");
        assert_eq!(m.answers[0].data.to_string(), "192.0.2.1");
        assert_eq!(m.answers[0].ttl, 120);
        assert_eq!(m.queries[0].name().to_ascii(), "X.Ads.Example.com.");
        let opt = m.edns.as_ref().expect("opt");
        assert!(opt.flags().dnssec_ok);
        // The very option a decoded reply gets from `Ede::attach`.
        let ede = Ede::new(16, "blocked by list court, order 7").option();
        assert_eq!(opt.options().options, vec![((&ede).into(), ede)]);
        let m = Message::from_vec(
            &render_block(&q, &block(BlockShape::Nxdomain), 1232, 1232).expect("r"),
        )
        .expect("decode");
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities[0].name.to_ascii(), "Ads.Example.com.");
        match &m.authorities[0].data {
            RData::SOA(soa) => assert_eq!(soa.minimum, 120),
            other => panic!("{other:?}"),
        }
        let m = Message::from_vec(
            &render_block(&q, &block(BlockShape::Refused), 1232, 1232).expect("r"),
        )
        .expect("decode");
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.authorities.is_empty());
        assert!(render_block(&q, &block(BlockShape::Nxdomain), 1232, 60).is_none());
    }
}
