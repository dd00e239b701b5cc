//! Blocking over the wire: exact and sub-names, allow beats block, every
//! action and several qtypes, EDE bytes, and real public lists.

use std::time::Duration;

use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

fn lists_toml(dir: &TempDir) -> String {
    dir.write(
        "court.txt",
        "# court order 2026/123\nads.example.zz\nbanned.zz\n*.wild.example.zz\n",
    );
    dir.write("nx.txt", "nx.example.zz\n");
    dir.write("nodata.txt", "nodata.example.zz\n");
    dir.write("refused.txt", "refused.example.zz\n");
    dir.write("allow.txt", "ok.ads.example.zz\n");
    dir.write("censored.hosts", "0.0.0.0 censored.example.zz\n");
    r#"
[sinkhole]
ipv4 = "192.0.2.1"
ipv6 = "2001:db8::1"
ttl_secs = 120

[[lists]]
name = "court"
path = "court.txt"

[[lists]]
name = "nx"
path = "nx.txt"
action = "nxdomain"

[[lists]]
name = "nodata"
path = "nodata.txt"
action = "nodata"

[[lists]]
name = "refused"
path = "refused.txt"
action = "refused"

[[lists]]
name = "censored"
path = "censored.hosts"
format = "hosts"
ede = 16

[[lists]]
name = "exempt"
path = "allow.txt"
kind = "allow"
"#
    .to_string()
}

/// The loopback hierarchy and dnsward recursing from it with the lists
/// above (keep all three alive for the test).
async fn start_with_lists(tag: &str) -> (Hierarchy, TempDir, dnsward::app::Running) {
    let h = Hierarchy::start().await;
    let dir = TempDir::new(tag);
    let toml = base_toml(&format!("{}\n{}", h.resolver_toml(), lists_toml(&dir)));
    let d = start_dnsward(&dir, &toml).await;
    (h, dir, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_names_get_sinkhole_answers_with_ede() {
    let (_h, _dir, d) = start_with_lists("block").await;
    let s = d.dns[0];

    for proto in [Proto::Udp, Proto::Tcp] {
        // Exact name, a sub-name, case and trailing-dot variations.
        for name in [
            "ads.example.zz.",
            "tracker.ads.example.zz.",
            "X.Y.ADS.Example.ZZ.",
        ] {
            let (m, _) = query(s, proto, name, RecordType::A).await;
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
            assert_eq!(rdata(&m), vec!["192.0.2.1"], "{name} over {proto:?}");
            assert_eq!(m.answers[0].ttl, 120);
            assert_eq!(ede_of(&m), Some((15, "blocked by list court".into())));
        }
    }
    let (m, _) = query(s, Proto::Udp, "ads.example.zz.", RecordType::AAAA).await;
    assert_eq!(rdata(&m), vec!["2001:db8::1"]);

    // Every other qtype: NODATA with a synthetic SOA (negative TTL = ttl_secs).
    for qtype in [
        RecordType::MX,
        RecordType::TXT,
        RecordType::HTTPS,
        RecordType::SVCB,
        RecordType::ANY,
        RecordType::NS,
    ] {
        let (m, _) = query(s, Proto::Udp, "ads.example.zz.", qtype).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{qtype}");
        assert!(m.answers.is_empty(), "{qtype}");
        match &m.authorities[..] {
            [soa] => match &soa.data {
                RData::SOA(s) => {
                    assert_eq!(s.minimum, 120);
                    assert_eq!(soa.name.to_ascii(), "ads.example.zz.");
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{qtype}: {other:?}"),
        }
        assert_eq!(ede_of(&m).map(|e| e.0), Some(15));
    }

    // Below-only wildcard entries.
    let (m, _) = query(s, Proto::Udp, "a.wild.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.1"]);
    let (m, _) = query(s, Proto::Udp, "wild.example.zz.", RecordType::A).await;
    assert!(ede_of(&m).is_none(), "apex of *.wild is not blocked");

    // Each action.
    let (m, _) = query(s, Proto::Udp, "www.nx.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    assert_eq!(m.authorities[0].name.to_ascii(), "nx.example.zz.");
    let (m, _) = query(s, Proto::Udp, "nodata.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
    let (m, _) = query(s, Proto::Tcp, "refused.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert_eq!(ede_of(&m).map(|e| e.0), Some(15));
    let (m, _) = query(s, Proto::Udp, "censored.example.zz.", RecordType::A).await;
    assert_eq!(ede_of(&m), Some((16, "blocked by list censored".into())));

    // Allow beats block; unlisted names resolve.
    let (m, _) = query(s, Proto::Udp, "ok.ads.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.68"]);
    assert!(ede_of(&m).is_none());
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    // A name that merely ends with a listed label string is not below it.
    let (m, _) = query(s, Proto::Udp, "notads.example.zz.", RecordType::A).await;
    assert!(ede_of(&m).is_none());
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ede_bytes_on_the_wire_and_no_opt_without_edns() {
    let (_h, _dir, d) = start_with_lists("edebytes").await;
    let (_, raw) = query(d.dns[0], Proto::Udp, "ads.example.zz.", RecordType::A).await;
    let text = b"blocked by list court";
    let mut want = vec![0x00, 0x0f];
    want.extend_from_slice(&((2 + text.len()) as u16).to_be_bytes());
    want.extend_from_slice(&[0x00, 0x0f]);
    want.extend_from_slice(text);
    assert!(
        raw.windows(want.len()).any(|w| w == want.as_slice()),
        "option 15, length, INFO-CODE 15, EXTRA-TEXT"
    );

    // No EDNS in the query: no OPT in the answer, still blocked.
    let q = make_query("ads.example.zz.", RecordType::A, None);
    let (m, _) = ask(d.dns[0], Proto::Udp, &q).await;
    assert!(m.edns.is_none());
    assert_eq!(rdata(&m), vec!["192.0.2.1"]);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_public_lists_block_over_the_wire() {
    // StevenBlack (domains, with the header comments) and 1Hosts (hosts
    // format with localhost lines) as operators receive them.
    let sb = shared("blocklists/stevenblack-unified-domains/unified.domains.txt");
    let oneh = shared("blocklists/1hosts-lite-hosts-format/hosts.txt");
    if !sb.exists() || !oneh.exists() {
        panic!("shared test data missing: {}", sb.display());
    }
    let first_entry = |p: &std::path::Path, hosts: bool| -> String {
        std::fs::read_to_string(p)
            .expect("read")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let name = if hosts {
                    l.split_whitespace().nth(1)?
                } else {
                    l
                };
                (!name.contains("localhost")
                    && name != "local"
                    && name != "broadcasthost"
                    && !name.starts_with("ip6-")
                    && name.contains('.')
                    && name != "0.0.0.0")
                    .then(|| name.to_string())
            })
            .nth(100)
            .expect("entry")
    };
    let sb_name = first_entry(&sb, false);
    let oneh_name = first_entry(&oneh, true);
    let h = Hierarchy::start().await;
    let dir = TempDir::new("public");
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"stevenblack\"\npath = \"{}\"\n[[lists]]\nname = \"onehosts\"\npath = \"{}\"\naction = \"nxdomain\"\n",
        h.resolver_toml(),
        sb.display(),
        oneh.display()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let (m, _) = query(d.dns[0], Proto::Udp, &format!("{sb_name}."), RecordType::A).await;
    assert_eq!(rdata(&m), vec!["0.0.0.0"], "{sb_name}");
    let (m, _) = query(
        d.dns[0],
        Proto::Udp,
        &format!("sub.{oneh_name}."),
        RecordType::A,
    )
    .await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NXDomain,
        "{oneh_name}"
    );
    assert_eq!(
        ede_of(&m).map(|e| e.1),
        Some("blocked by list onehosts".into())
    );
    // localhost from the hosts file header is not blocked.
    let policy = d.store.load();
    let key = dnsward::policy::matcher::LookupKey::from_dotted("localhost");
    assert!(matches!(
        policy.decide(&key).decision,
        dnsward::policy::Decision::NotListed
    ));
    assert!(policy.entries() > 100_000);
    d.shutdown(Duration::from_secs(1)).await;
}

/// Many datagrams in one burst from one socket: the UDP loop receives
/// them in one batch and prepares every lookup key before answering any.
/// Each answer must still be the one for its own query (blocked with the
/// right action, allowed, or resolved), matched by ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_received_as_one_batch_is_answered_query_by_query() {
    let (_h, _dir, d) = start_with_lists("burst").await;
    let s = d.dns[0];
    // Warm the cache so the allowed names are answered on the fast path too.
    for name in ["www.example.zz.", "ok.ads.example.zz."] {
        let _ = query(s, Proto::Udp, name, RecordType::A).await;
    }
    let cases: [(&str, ResponseCode, Option<&str>); 6] = [
        ("ads.example.zz.", ResponseCode::NoError, Some("192.0.2.1")),
        ("www.example.zz.", ResponseCode::NoError, Some("192.0.2.10")),
        ("nx.example.zz.", ResponseCode::NXDomain, None),
        ("x.banned.zz.", ResponseCode::NoError, Some("192.0.2.1")),
        (
            "ok.ads.example.zz.",
            ResponseCode::NoError,
            Some("192.0.2.68"),
        ),
        ("refused.example.zz.", ResponseCode::Refused, None),
    ];
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut want = std::collections::HashMap::new();
    for round in 0..8 {
        for (name, rcode, addr) in cases {
            let m = make_query(name, RecordType::A, Some(1232));
            want.insert(m.metadata.id, (name, rcode, addr, round));
            sock.send_to(&m.to_vec().expect("encode"), s)
                .await
                .expect("send");
        }
    }
    let mut buf = vec![0u8; 4096];
    let mut answered = 0;
    while answered < want.len() {
        let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
            .await
            .expect("every query answered")
            .expect("recv");
        let m = hickory_proto::op::Message::from_vec(&buf[..n]).expect("decode");
        let (name, rcode, addr, _) = want
            .get(&m.metadata.id)
            .copied()
            .expect("answer to a query we sent");
        assert_eq!(m.queries[0].name().to_ascii(), name, "question echoed");
        assert_eq!(m.metadata.response_code, rcode, "{name}");
        if let Some(addr) = addr {
            assert_eq!(rdata(&m), vec![addr.to_string()], "{name}");
        }
        answered += 1;
    }
    d.shutdown(Duration::from_secs(1)).await;
}

/// A label may hold any byte, a dot included: the one-label name
/// `ads\.example` under `zz` is not `ads.example.zz`, though its text
/// spells it. It must not take that name's block, nor share its cache
/// entry (an NXDOMAIN cached for the odd name would otherwise be served
/// for the real one: any client could blank out any name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_holding_a_dot_is_not_the_name_its_text_spells() {
    use hickory_proto::rr::Name;
    let (_h, _dir, d) = start_with_lists("dotlabel").await;
    let s = d.dns[0];
    // With EDNS, so that a block would show its EDE.
    let odd = |labels: &[&[u8]]| {
        let name = Name::from_labels(labels.iter().copied()).expect("odd name");
        query_for(name, RecordType::A, Some(1232))
    };

    for proto in [Proto::Udp, Proto::Tcp] {
        // Not blocked: `zz` has no label `ads\.example`.
        let (m, _) = ask(s, proto, &odd(&[b"ads.example", b"zz"])).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NXDomain,
            "{proto:?}"
        );
        assert!(ede_of(&m).is_none(), "{proto:?}: {:?}", ede_of(&m));
        // Still blocked when the odd label sits below a listed name.
        let (m, _) = ask(s, proto, &odd(&[b"x.y", b"ads", b"example", b"zz"])).await;
        assert_eq!(rdata(&m), vec!["192.0.2.1"], "{proto:?}");
        assert_eq!(ede_of(&m).map(|e| e.0), Some(15), "{proto:?}");
    }

    // The odd name's NXDOMAIN is cached under its own key only.
    let (m, _) = ask(s, Proto::Udp, &odd(&[b"www.example", b"zz"])).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    for proto in [Proto::Udp, Proto::Tcp] {
        let (m, _) = query(s, proto, "www.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{proto:?}");
        assert_eq!(rdata(&m), vec!["192.0.2.10"], "{proto:?}");
    }
    // The root name has no label at all: resolved, then from the cache.
    for _ in 0..2 {
        let (m, _) = query(s, Proto::Udp, ".", RecordType::NS).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(!m.answers.is_empty());
    }
    d.shutdown(Duration::from_secs(1)).await;
}
