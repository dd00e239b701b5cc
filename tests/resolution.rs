//! Recursion from a loopback root through referrals with glue, forward
//! mode, caching, and failure answers — all over real UDP/TCP.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_answers_a_aaaa_cname_chain_nxdomain_nodata() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("recursion");
    let d = start_dnsward(&dir, &base_toml(&h.resolver_toml())).await;
    let s = d.dns[0];

    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_available);
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);

    let (m, _) = query(s, Proto::Tcp, "www.example.zz.", RecordType::AAAA).await;
    assert_eq!(rdata(&m), vec!["2001:db8::10"]);

    let (m, _) = query(s, Proto::Udp, "chain.example.zz.", RecordType::A).await;
    let answers = rdata(&m);
    assert_eq!(
        answers,
        vec!["alias.example.zz.", "www.example.zz.", "192.0.2.10"],
        "CNAME chain followed to the address"
    );

    let (m, _) = query(s, Proto::Udp, "nope.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        m.authorities
            .iter()
            .any(|r| matches!(r.data, RData::SOA(_)) && r.name.to_ascii() == "example.zz."),
        "NXDOMAIN carries the zone SOA: {:?}",
        m.authorities
    );

    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::MX).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert!(m
        .authorities
        .iter()
        .any(|r| matches!(r.data, RData::SOA(_))));

    let (m, _) = query(s, Proto::Udp, "mail.example.zz.", RecordType::MX).await;
    assert_eq!(rdata(&m), vec!["10 www.example.zz."]);

    let (m, _) = query(s, Proto::Udp, "nosuchtld.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_cached_with_decreasing_ttl() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("cache");
    let d = start_dnsward(&dir, &base_toml(&h.resolver_toml())).await;
    let s = d.dns[0];
    let (first, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&first), vec!["192.0.2.10"]);
    let before = h.leaf.stats.queries.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (second, _) = query(s, Proto::Udp, "WWW.Example.ZZ.", RecordType::A).await;
    assert_eq!(rdata(&second), vec!["192.0.2.10"]);
    assert_eq!(
        h.leaf.stats.queries.load(Ordering::Relaxed),
        before,
        "second query served from cache"
    );
    assert!(second.answers[0].ttl < first.answers[0].ttl);
    assert!(d.metrics.cache_hits.get() >= 1);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_mode_passes_whole_answers_through() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("forward");
    let toml = base_toml(&format!(
        "[resolver]\nmode = \"forward\"\nupstreams = [\"{}\"]\n",
        h.leaf.addr
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    let (m, _) = query(s, Proto::Udp, "alias.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["www.example.zz."]);
    let (m, _) = query(s, Proto::Tcp, "missing.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m
        .authorities
        .iter()
        .any(|r| matches!(r.data, RData::SOA(_))));
    // A large answer the upstream truncates over UDP is fetched over TCP.
    let (m, _) = query(s, Proto::Tcp, "big.example.zz.", RecordType::TXT).await;
    assert_eq!(m.answers.len(), 40);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_upstream_gives_servfail_with_ede_not_a_hang() {
    // An address with nobody listening: every attempt fails or times out.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let dir = TempDir::new("deadup");
    let toml = base_toml(&format!(
        "[resolver]\nmode = \"forward\"\nupstreams = [\"{addr}\"]\ntimeout_ms = 800\nupstream_timeout_ms = 300\n"
    ));
    let d = start_dnsward(&dir, &toml).await;
    let started = std::time::Instant::now();
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let (code, _) = ede_of(&m).expect("EDE on SERVFAIL");
    assert!(code == 22 || code == 23, "EDE {code}");
    drop(silent);

    // Recursion towards a root that never answers.
    let dir2 = TempDir::new("deadroot");
    let toml = base_toml(&format!(
        "[resolver]\nroot_servers = [\"{addr}\"]\nauthority_allow = [\"127.0.0.0/8\"]\ntimeout_ms = 800\n"
    ));
    let d2 = start_dnsward(&dir2, &toml).await;
    let (m, _) = query(d2.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(ede_of(&m).is_some());
    d.shutdown(Duration::from_secs(1)).await;
    d2.shutdown(Duration::from_secs(1)).await;
}
