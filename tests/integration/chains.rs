//! CNAME and DNAME chains go through the policy: an alias of a listed
//! name gets the chain up to that name and then its block answer (EDE and
//! order included), in recursive and forward mode, over UDP and TCP, from
//! the cache and the fast path, and a list change applies at once to
//! chains already cached.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::*;
use dnsward::policy::store::ReloadRequest;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NULL};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

const ZZ: &str = "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 300
     zz. 86400 NS ns1.zz.
     ns1.zz. 86400 A 127.0.1.2
     alias.zz. 300 CNAME evil.lab.zz.
     evil.lab.zz. 300 A 192.0.2.66
     evil.lab.zz. 300 AAAA 2001:db8::66
     evil.lab.zz. 300 MX 10 evil.lab.zz.
     two.zz. 300 CNAME mid.zz.
     mid.zz. 300 CNAME end.yy.
     okalias.zz. 300 CNAME fine.evil.lab.zz.
     fine.evil.lab.zz. 300 A 192.0.2.67
     nxalias.zz. 300 CNAME gone.yy.
     swap.zz. 300 CNAME target.yy.
     plain.zz. 300 A 192.0.2.70
     wall.zz. 300 CNAME walled.yy.";

const YY: &str = "yy. 86400 SOA ns1.yy. hostmaster.yy. 1 300
     yy. 86400 NS ns1.yy.
     ns1.yy. 86400 A 127.0.1.4
     end.yy. 300 A 192.0.2.68
     gone.yy. 300 A 192.0.2.69
     target.yy. 300 A 192.0.2.77
     walled.yy. 300 A 192.0.2.99";

/// A root, `zz.` on [`TLD_IP`] and `yy.` on [`YY_IP`], all one port.
async fn hierarchy() -> (AuthServer, [AuthServer; 2]) {
    start_on_one_port(|| {
        [
            (TLD_IP, vec![zone("zz.", ZZ)]),
            (YY_IP, vec![zone("yy.", YY)]),
        ]
    })
    .await
}

fn lists_toml(dir: &TempDir) -> String {
    dir.write("court.txt", "evil.lab.zz\nmid.zz\n");
    dir.write("nx.txt", "gone.yy\n");
    dir.write("allow.txt", "fine.evil.lab.zz\n");
    dir.write("swap.txt", "keep.zz\n");
    dir.write("garden.txt", "walled.yy\n");
    r#"
[sinkhole]
ipv4 = "192.0.2.1"
ipv6 = "2001:db8::1"
ttl_secs = 120

[[lists]]
name = "court"
path = "court.txt"
order_id = "ORD-15"

[[lists]]
name = "nx"
path = "nx.txt"
action = "nxdomain"
order_id = "ORD-NX"

[[lists]]
name = "swap"
path = "swap.txt"

[[lists]]
name = "garden"
path = "garden.txt"
action = "redirect"
redirect_to = "plain.zz"

[[lists]]
name = "exempt"
path = "allow.txt"
kind = "allow"
"#
    .to_string()
}

fn recursive_toml(port: u16) -> String {
    resolver_toml_at(port, 3000, "")
}

fn forward_toml(upstream: SocketAddr) -> String {
    format!(
        "[resolver]\nmode = \"forward\"\nupstreams = [\"{upstream}\"]\ntimeout_ms = 3000\nupstream_timeout_ms = 2000\n"
    )
}

/// dnsward with the lists above and this `[resolver]` table.
async fn start_filtering(tag: &str, resolver: &str) -> (TempDir, dnsward::app::Running) {
    let dir = TempDir::new(tag);
    let toml = base_toml(&format!("{resolver}\n{}", lists_toml(&dir)));
    let d = start_dnsward(&dir, &toml).await;
    (dir, d)
}

/// The answer section as `owner TYPE rdata` lines.
fn answer_lines(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .collect()
}

const COURT_EDE: (u16, &str) = (15, "blocked by list court, order ORD-15");

/// The alias, the 2-hop chain blocked in the middle, an allow rule on a
/// target and an NXDOMAIN list, each asked three times (the first
/// resolves, the next come from the cache; over UDP the fast path) over
/// both transports.
async fn check_blocked_chains(s: SocketAddr) {
    let ede = Some((COURT_EDE.0, COURT_EDE.1.to_string()));
    for proto in [Proto::Udp, Proto::Tcp, Proto::Udp, Proto::Udp] {
        let (m, _) = query(s, proto, "alias.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            answer_lines(&m),
            ["alias.zz. CNAME evil.lab.zz.", "evil.lab.zz. A 192.0.2.1"],
            "{proto:?}"
        );
        assert_eq!(m.answers[1].ttl, 120);
        assert_eq!(ede_of(&m), ede, "{proto:?}");

        let (m, _) = query(s, proto, "alias.zz.", RecordType::AAAA).await;
        assert_eq!(
            answer_lines(&m),
            [
                "alias.zz. CNAME evil.lab.zz.",
                "evil.lab.zz. AAAA 2001:db8::1"
            ]
        );

        // Other types: the chain, then NODATA with the listed name's SOA.
        let (m, _) = query(s, proto, "alias.zz.", RecordType::MX).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(answer_lines(&m), ["alias.zz. CNAME evil.lab.zz."]);
        assert_eq!(m.authorities.len(), 1, "{:?}", m.authorities);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(m.authorities[0].name.to_ascii(), "evil.lab.zz.");
        assert_eq!(ede_of(&m), ede);

        // Listed in the middle: the chain stops there.
        let (m, _) = query(s, proto, "two.zz.", RecordType::A).await;
        assert_eq!(
            answer_lines(&m),
            ["two.zz. CNAME mid.zz.", "mid.zz. A 192.0.2.1"],
            "{proto:?}"
        );
        assert_eq!(ede_of(&m), ede);

        // An allow rule on the target lets it through.
        let (m, _) = query(s, proto, "okalias.zz.", RecordType::A).await;
        assert_eq!(
            answer_lines(&m),
            [
                "okalias.zz. CNAME fine.evil.lab.zz.",
                "fine.evil.lab.zz. A 192.0.2.67"
            ]
        );
        assert_eq!(ede_of(&m), None);

        // An NXDOMAIN list: the chain, NXDOMAIN, the listed name's SOA.
        let (m, _) = query(s, proto, "nxalias.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(answer_lines(&m), ["nxalias.zz. CNAME gone.yy."]);
        assert_eq!(m.authorities[0].name.to_ascii(), "gone.yy.");
        assert_eq!(
            ede_of(&m),
            Some((15, "blocked by list nx, order ORD-NX".into()))
        );

        // A redirect list: the chain, then the redirect's CNAME and the
        // records of its target.
        let (m, _) = query(s, proto, "wall.zz.", RecordType::A).await;
        assert_eq!(
            answer_lines(&m),
            [
                "wall.zz. CNAME walled.yy.",
                "walled.yy. CNAME plain.zz.",
                "plain.zz. A 192.0.2.70"
            ],
            "{proto:?}"
        );
        assert_eq!(ede_of(&m).map(|e| e.0), Some(15));

        // A CNAME question gets the alias itself (the client asks for the
        // target next, and that is blocked).
        let (m, _) = query(s, proto, "alias.zz.", RecordType::CNAME).await;
        assert_eq!(answer_lines(&m), ["alias.zz. CNAME evil.lab.zz."]);
        assert_eq!(ede_of(&m), None);
    }
}

fn chain_blocked(d: &dnsward::app::Running, list: &str, action: &str) -> u64 {
    d.metrics
        .chain_blocked
        .with_label_values(&[list, action, "default"])
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_chains_to_listed_names_are_blocked() {
    let (root, _servers) = hierarchy().await;
    let (_dir, d) = start_filtering("chain-rec", &recursive_toml(root.addr.port())).await;
    check_blocked_chains(d.dns[0]).await;
    // 4 rounds x (A, AAAA, MX of alias, A of two).
    assert_eq!(chain_blocked(&d, "court", "sinkhole"), 16);
    assert_eq!(chain_blocked(&d, "nx", "nxdomain"), 4);
    assert!(
        d.metrics
            .blocked
            .with_label_values(&["court", "sinkhole", "default"])
            .get()
            >= 16,
        "chain blocks are blocks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_chains_to_listed_names_are_blocked() {
    // The upstream: a second dnsward, no lists, recursing from the
    // hierarchy (a forwarded answer carries the whole chain).
    let (root, _servers) = hierarchy().await;
    let up_dir = TempDir::new("chain-up");
    let upstream = start_dnsward(&up_dir, &base_toml(&recursive_toml(root.addr.port()))).await;
    let (_dir, d) = start_filtering("chain-fwd", &forward_toml(upstream.dns[0])).await;
    check_blocked_chains(d.dns[0]).await;
    assert_eq!(chain_blocked(&d, "court", "sinkhole"), 16);
}

/// A cached chain is checked against the policy serving now: a target
/// added to a list blocks the cached alias at once, a target removed
/// unblocks it at once, without asking upstream again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_chains_follow_list_changes_at_once() {
    let (root, servers) = hierarchy().await;
    let (dir, d) = start_filtering("chain-reload", &recursive_toml(root.addr.port())).await;
    let s = d.dns[0];
    let open = [
        "swap.zz. CNAME target.yy.".to_string(),
        "target.yy. A 192.0.2.77".to_string(),
    ];
    for proto in [Proto::Udp, Proto::Udp, Proto::Tcp] {
        let (m, _) = query(s, proto, "swap.zz.", RecordType::A).await;
        assert_eq!(answer_lines(&m), open);
    }
    let upstream_queries = || {
        servers
            .iter()
            .map(|s| s.stats.queries.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let asked = upstream_queries();
    let reload = |body: &str| {
        dir.write("swap.txt", body);
        let out = d.store.reload(ReloadRequest {
            reread: true,
            force: true,
        });
        assert!(out.failed().is_empty(), "{out:?}");
    };

    reload("keep.zz\ntarget.yy\n");
    for proto in [Proto::Udp, Proto::Udp, Proto::Tcp] {
        let (m, _) = query(s, proto, "swap.zz.", RecordType::A).await;
        assert_eq!(
            answer_lines(&m),
            ["swap.zz. CNAME target.yy.", "target.yy. A 192.0.2.1"],
            "blocked after the list gained the target ({proto:?})"
        );
        assert_eq!(ede_of(&m), Some((15, "blocked by list swap".into())));
    }

    reload("keep.zz\n");
    for proto in [Proto::Udp, Proto::Udp, Proto::Tcp] {
        let (m, _) = query(s, proto, "swap.zz.", RecordType::A).await;
        assert_eq!(answer_lines(&m), open, "open again ({proto:?})");
        assert_eq!(ede_of(&m), None);
    }
    assert_eq!(upstream_queries(), asked, "all from the cache");
}

/// A forward upstream that answers each question from a fixed table (DNAME
/// answers, which the test hierarchy cannot serve), over UDP only.
async fn canned_upstream(
    answers: Vec<(Name, Vec<Record>)>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = udp.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, src)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::response(req.metadata.id, OpCode::Query);
            resp.metadata.recursion_desired = req.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.queries = req.queries.clone();
            let asked = req.queries.first().map(|q| q.name().clone());
            match answers.iter().find(|(n, _)| Some(n) == asked.as_ref()) {
                Some((_, records)) => resp.answers = records.clone(),
                None => resp.metadata.response_code = ResponseCode::Refused,
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = udp.send_to(&bytes, src).await;
            }
        }
    });
    (addr, task)
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn dname(owner: &str, target: &str) -> Record {
    let mut wire = Vec::new();
    for l in name(target).iter() {
        wire.push(l.len() as u8);
        wire.extend_from_slice(l);
    }
    wire.push(0);
    Record::from_rdata(
        name(owner),
        300,
        RData::Unknown {
            code: RecordType::DNAME,
            rdata: NULL::with(wire),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dname_chains_to_listed_names_are_blocked() {
    let evil_a = || Record::from_rdata(name("evil.lab.zz."), 300, RData::A(A::new(192, 0, 2, 66)));
    let (up, task) = canned_upstream(vec![
        // DNAME with the synthesised CNAME (RFC 6672 section 3).
        (
            name("evil.dn.zz."),
            vec![
                dname("dn.zz.", "lab.zz."),
                Record::from_rdata(
                    name("evil.dn.zz."),
                    300,
                    RData::CNAME(CNAME(name("evil.lab.zz."))),
                ),
                evil_a(),
            ],
        ),
        // DNAME alone.
        (
            name("evil.dn2.zz."),
            vec![dname("dn2.zz.", "lab.zz."), evil_a()],
        ),
    ])
    .await;
    let (_dir, d) = start_filtering("chain-dname", &forward_toml(up)).await;
    let s = d.dns[0];
    let ede = Some((COURT_EDE.0, COURT_EDE.1.to_string()));
    for proto in [Proto::Udp, Proto::Tcp, Proto::Udp] {
        let (m, _) = query(s, proto, "evil.dn.zz.", RecordType::A).await;
        let lines = answer_lines(&m);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("dn.zz. DNAME"), "{lines:?}");
        assert_eq!(lines[1], "evil.dn.zz. CNAME evil.lab.zz.");
        assert_eq!(lines[2], "evil.lab.zz. A 192.0.2.1", "{proto:?}");
        assert_eq!(ede_of(&m), ede);

        let (m, _) = query(s, proto, "evil.dn2.zz.", RecordType::A).await;
        let lines = answer_lines(&m);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("dn2.zz. DNAME"), "{lines:?}");
        assert_eq!(lines[1], "evil.lab.zz. A 192.0.2.1", "{proto:?}");
        assert_eq!(ede_of(&m), ede);
    }
    task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
}

/// An answer without aliases is untouched, and still served by the fast
/// path (a cache hit there counts as one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answers_are_untouched() {
    let (root, _servers) = hierarchy().await;
    let (_dir, d) = start_filtering("chain-plain", &recursive_toml(root.addr.port())).await;
    for _ in 0..3 {
        let (m, _) = query(d.dns[0], Proto::Udp, "plain.zz.", RecordType::A).await;
        assert_eq!(answer_lines(&m), ["plain.zz. A 192.0.2.70"]);
        assert_eq!(ede_of(&m), None);
    }
    assert_eq!(d.metrics.cache_hits.get(), 2);
}
