//! Wire behaviour: EDNS payload size and truncation, TCP full answers,
//! malformed packets, opcodes, and that nothing a client sends stops the
//! server from answering the next query.

use std::time::Duration;

use crate::common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RecordType;

async fn server() -> (Hierarchy, TempDir, dnsward::app::Running) {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("wire");
    let d = start_dnsward(&dir, &base_toml(&h.resolver_toml())).await;
    (h, dir, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let (_h, _dir, d) = server().await;
    let s = d.dns[0];
    // No EDNS: 512 bytes at most.
    let q = make_query("big.example.zz.", RecordType::TXT, None);
    let (m, raw) = ask(s, Proto::Udp, &q).await;
    assert!(m.metadata.truncation, "TC=1");
    assert!(raw.len() <= 512);
    assert!(m.answers.is_empty());
    // EDNS 1232 is still too small for ~2.5 KB.
    let q = make_query("big.example.zz.", RecordType::TXT, Some(1232));
    let (m, raw) = ask(s, Proto::Udp, &q).await;
    assert!(m.metadata.truncation);
    assert!(raw.len() <= 1232);
    assert!(m.edns.is_some(), "OPT kept on truncated answers");
    // A client offering 4096 still gets at most server.max_udp_payload (1232).
    let q = make_query("big.example.zz.", RecordType::TXT, Some(4096));
    let (m, raw) = ask(s, Proto::Udp, &q).await;
    assert!(m.metadata.truncation && raw.len() <= 1232);
    // TCP: the whole answer.
    let (m, raw) = ask(
        s,
        Proto::Tcp,
        &make_query("big.example.zz.", RecordType::TXT, Some(1232)),
    )
    .await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 40);
    assert!(raw.len() > 1232);
    // Small answers are not truncated.
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert!(!m.metadata.truncation);
    d.shutdown(Duration::from_secs(1)).await;
}

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [id, flags, qd, an, ns, ar]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_get_formerr_or_silence_and_never_kill_the_server() {
    let (_h, _dir, d) = server().await;
    let s = d.dns[0];
    let wait = Duration::from_millis(300);
    let q = |name: &[u8]| {
        let mut p = header(0x1234, 0x0100, 1, 0, 0, 0);
        p.extend_from_slice(name);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p
    };
    // (packet, expected: Some(rcode) or None for silence)
    let cases: Vec<(&str, Vec<u8>, Option<u8>)> = vec![
        ("empty", vec![], None),
        ("short header", vec![0x12, 0x34, 0x01], None),
        ("response bit set", header(1, 0x8100, 1, 0, 0, 0), None),
        ("no question", header(0x1234, 0x0100, 0, 0, 0, 0), Some(1)),
        (
            "two questions",
            {
                let mut p = header(0x1234, 0x0100, 2, 0, 0, 0);
                for _ in 0..2 {
                    p.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
                }
                p
            },
            Some(1),
        ),
        (
            "question count lies",
            header(0x1234, 0x0100, 1, 0, 0, 0),
            Some(1),
        ),
        (
            "huge counts",
            header(0x1234, 0x0100, 1, 0xffff, 0xffff, 0xffff),
            Some(1),
        ),
        ("compression loop", q(b"\xc0\x0c"), Some(1)),
        (
            "label too long",
            q(&[&[64u8][..], &[b'a'; 64][..], &[0][..]].concat()),
            Some(1),
        ),
        (
            "name too long",
            q(&[
                &[63u8][..],
                &[b'a'; 63][..],
                &[63u8][..],
                &[b'a'; 63][..],
                &[63u8][..],
                &[b'a'; 63][..],
                &[63u8][..],
                &[b'a'; 63][..],
                &[0][..],
            ]
            .concat()),
            Some(1),
        ),
        (
            "truncated question",
            {
                let mut p = header(0x1234, 0x0100, 1, 0, 0, 0);
                p.extend_from_slice(b"\x03www\x07exa");
                p
            },
            Some(1),
        ),
        (
            "garbage",
            (0..200u32).map(|i| (i * 37 % 251) as u8).collect(),
            None,
        ),
    ];
    for (what, packet, want) in &cases {
        let got = udp_raw(s, packet, wait).await;
        match (want, got) {
            (None, None) => {}
            (Some(rcode), Some(reply)) => {
                assert!(reply.len() >= 12, "{what}: reply too short");
                assert_eq!(&reply[..2], &packet[..2], "{what}: id echoed");
                assert_eq!(reply[2] & 0x80, 0x80, "{what}: QR set");
                assert_eq!(reply[3] & 0x0f, *rcode, "{what}: rcode");
            }
            (None, Some(reply)) => {
                // Garbage whose first 12 bytes happen to form a plausible
                // header may get FORMERR: acceptable, never a real answer.
                let m = Message::from_vec(&reply).expect("reply decodes");
                assert_ne!(m.metadata.response_code, ResponseCode::NoError, "{what}");
            }
            (Some(_), None) => panic!("{what}: no reply"),
        }
        // The same over TCP (where a reply is possible at all).
        if packet.len() >= 12 {
            let _ = tcp_raw(s, packet, wait).await;
        }
    }
    // Unknown opcode (UPDATE = 5) gets NOTIMP; unknown class gets REFUSED.
    let mut upd = header(0x4321, 5 << 11, 1, 0, 0, 0);
    upd.extend_from_slice(b"\x00\x00\x06\x00\x01");
    let r = udp_raw(s, &upd, wait).await.expect("reply");
    assert_eq!(r[3] & 0x0f, 4, "NOTIMP");
    assert_eq!((r[2] >> 3) & 0x0f, 5, "opcode echoed");
    let mut chaos = header(0x4322, 0x0100, 1, 0, 0, 0);
    chaos.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
    let r = udp_raw(s, &chaos, wait).await.expect("reply");
    assert_eq!(r[3] & 0x0f, 5, "REFUSED for CHAOS");

    // Still serving.
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    let (m, _) = query(s, Proto::Tcp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    // Now that www is cached (fast path), malformed variants of the same
    // query must still be refused, not answered from the cache.
    let good = make_query("www.example.zz.", RecordType::A, Some(1232))
        .to_vec()
        .expect("enc");
    let n = good.len();
    let mut bad_opt = good.clone();
    bad_opt[n - 2..].copy_from_slice(&4u16.to_be_bytes());
    bad_opt.extend_from_slice(&[0, 10, 0, 200, 1, 2, 3, 4]);
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    for (what, p) in [("option length", bad_opt), ("trailing bytes", trailing)] {
        let r = udp_raw(s, &p, wait).await.expect("reply");
        assert_eq!(r[3] & 0x0f, 1, "{what}: FORMERR");
    }
    assert!(d.metrics.rejected.with_label_values(&["malformed"]).get() >= 5);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edns_version_one_gets_badvers() {
    let (_h, _dir, d) = server().await;
    let mut q = make_query("www.example.zz.", RecordType::A, Some(1232));
    if let Some(e) = q.edns.as_mut() {
        e.set_version(1);
    }
    let (m, _) = ask(d.dns[0], Proto::Udp, &q).await;
    // RCODE 16 is both BADVERS and BADSIG; hickory decodes it as BADSIG.
    assert_eq!(u16::from(m.metadata.response_code), 16, "BADVERS");
    assert_eq!(m.edns.as_ref().map(|e| e.rcode_high()), Some(1));
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_pipelined_queries_all_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_h, _dir, d) = server().await;
    let mut s = tokio::net::TcpStream::connect(d.dns[0])
        .await
        .expect("connect");
    let mut ids = Vec::new();
    let mut out = Vec::new();
    for name in ["www.example.zz.", "alias.example.zz.", "ads.example.zz."] {
        let q = make_query(name, RecordType::A, Some(1232));
        ids.push(q.metadata.id);
        let b = q.to_vec().expect("encode");
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(&b);
    }
    s.write_all(&out).await.expect("write");
    let mut got = Vec::new();
    for _ in 0..3 {
        let n = s.read_u16().await.expect("len");
        let mut b = vec![0u8; usize::from(n)];
        s.read_exact(&mut b).await.expect("body");
        got.push(Message::from_vec(&b).expect("decode").metadata.id);
    }
    got.sort_unstable();
    ids.sort_unstable();
    assert_eq!(got, ids);
    d.shutdown(Duration::from_secs(1)).await;
}

/// A cold answer (rendered from the cache entry its resolution just
/// stored) is the answer a cache hit gives next: same header, question in
/// the client's letter case, sections and OPT; TTLs at most a second apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_answers_equal_the_cached_answers_that_follow() {
    let (_h, _dir, d) = server().await;
    let s = d.dns[0];
    let cases: [(&str, RecordType, Option<u16>, bool); 7] = [
        ("WwW.Example.zz.", RecordType::A, Some(1232), false),
        ("www.example.zz.", RecordType::AAAA, None, false),
        ("Chain.example.zz.", RecordType::A, Some(4096), false),
        ("nope.example.ZZ.", RecordType::A, Some(1232), true),
        ("www.example.zz.", RecordType::MX, Some(700), false),
        ("mail.example.zz.", RecordType::MX, None, false),
        ("txt.example.zz.", RecordType::TXT, Some(1232), true),
    ];
    let ttl_free = |raw: &[u8]| {
        let mut m = Message::from_vec(raw).expect("decode");
        for r in m.answers.iter_mut().chain(m.authorities.iter_mut()) {
            r.ttl = 0;
        }
        m
    };
    for (name, qtype, edns, dnssec_ok) in cases {
        let mut q = make_query(name, qtype, edns);
        if let Some(e) = q.edns.as_mut() {
            e.set_dnssec_ok(dnssec_ok);
        }
        // Vary the flags a response copies.
        q.metadata.checking_disabled = dnssec_ok;
        q.metadata.recursion_desired = qtype != RecordType::MX;
        let (cold, cold_raw) = ask(s, Proto::Udp, &q).await;
        let m = &cold.metadata;
        assert_eq!(m.message_type, MessageType::Response);
        assert!(m.recursion_available && !m.authoritative && !m.truncation && !m.authentic_data);
        assert_eq!(
            m.recursion_desired, q.metadata.recursion_desired,
            "{name}: RD copied"
        );
        assert_eq!(m.checking_disabled, dnssec_ok, "{name}: CD copied");
        assert_eq!(cold.queries, q.queries);
        let (hit, hit_raw) = ask(s, Proto::Udp, &q).await;
        assert_eq!(cold_raw.len(), hit_raw.len(), "{name} {qtype}");
        assert_eq!(
            ttl_free(&cold_raw),
            ttl_free(&hit_raw),
            "{name} {qtype}: cold and cached answers differ"
        );
        assert_eq!(
            &cold_raw[12..12 + name.len() + 1 + 4],
            &q.to_vec().expect("encode")[12..12 + name.len() + 1 + 4],
            "question bytes (case) kept"
        );
        for (a, b) in cold.answers.iter().zip(&hit.answers) {
            assert!(
                a.ttl >= b.ttl && a.ttl - b.ttl <= 1,
                "{name}: TTL {} then {}",
                a.ttl,
                b.ttl
            );
        }
        assert_eq!(cold.edns.is_some(), edns.is_some());
        if let Some(e) = &cold.edns {
            assert_eq!(e.flags().dnssec_ok, dnssec_ok);
            assert_eq!(e.max_payload(), 1232);
        }
    }
    // Over TCP a cold answer comes whole as well.
    let (m, _) = query(s, Proto::Tcp, "alias.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["www.example.zz.", "192.0.2.10"]);
    d.shutdown(Duration::from_secs(1)).await;
}
