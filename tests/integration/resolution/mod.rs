//! Recursion from a loopback root through referrals with glue, forward
//! mode, caching, and failure answers — all over real UDP/TCP.

use std::sync::atomic::Ordering;
use std::time::Duration;

mod asked;
mod errors;

use crate::common::*;
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

/// At capacity (an ISP resolver's normal state) the cache must keep the
/// names asked for again and again while one-off names cycle through. The
/// eviction this test came with drained the map one shard after another,
/// so a popular name was evicted as soon as its shard came up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cache_keeps_the_names_asked_for_often() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("cache-full");
    let toml = format!("{}[cache]\nmax_entries = 32\n", h.resolver_toml());
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    let s = d.dns[0];
    let leaf = || h.leaf.stats.queries.load(Ordering::Relaxed);
    let (first, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&first), vec!["192.0.2.10"]);
    let mut refetched = 0;
    for i in 0..240 {
        let proto = if i % 2 == 0 { Proto::Udp } else { Proto::Tcp };
        let once = format!("once{i}.example.zz.");
        let (r, _) = query(s, proto, &once, RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{once}");
        if i % 4 == 3 {
            let before = leaf();
            let (r, _) = query(s, proto, "www.example.zz.", RecordType::A).await;
            assert_eq!(rdata(&r), vec!["192.0.2.10"]);
            refetched += usize::from(leaf() > before);
        }
    }
    // The one-off names were cached too: the cache really was full.
    let before = leaf();
    let (r, _) = query(s, Proto::Udp, "once239.example.zz.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(leaf(), before, "the last one-off name was cached");
    assert_eq!(refetched, 0, "the popular name was fetched again");
    d.shutdown(Duration::from_secs(1)).await;
}

/// Root, `zz.` and `zones` zones `dN.zz.` under it (all on one leaf server),
/// sharing one port: a hierarchy whose cuts overflow a small delegation
/// cache. Returns (root, tld, leaf).
async fn many_zones(zones: usize) -> (AuthServer, AuthServer, AuthServer) {
    let mut tld = String::from(
        "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 900
         zz. 172800 NS ns1.zz.
         ns1.zz. 172800 A 127.0.1.2\n",
    );
    for i in 0..zones {
        tld += &format!("d{i}.zz. 172800 NS ns.d{i}.zz.\nns.d{i}.zz. 172800 A 127.0.1.3\n");
    }
    let leaf = || {
        (0..zones)
            .map(|i| {
                zone(
                    &format!("d{i}.zz."),
                    &format!(
                        "d{i}.zz. 3600 SOA ns.d{i}.zz. h.d{i}.zz. 1 300
                         d{i}.zz. 3600 NS ns.d{i}.zz.
                         ns.d{i}.zz. 3600 A 127.0.1.3
                         www.d{i}.zz. 300 A 192.0.2.{i}"
                    ),
                )
            })
            .collect()
    };
    let (root, [t, l]) =
        start_on_one_port(|| [(TLD_IP, vec![zone("zz.", &tld)]), (LEAF_IP, leaf())]).await;
    (root, t, l)
}

/// One-off zones keep filling a delegation cache of 8 (an eviction round
/// on every insert), while the `zz.` cut and four popular zones' cuts are
/// used between rounds: those five must stay, so the root is asked once
/// and the TLD once per zone. The old eviction dropped whatever came first
/// in table order; with five of the eight cuts in use, one of them went in
/// most rounds and was learnt again by a referral.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_delegation_cache_keeps_the_cuts_in_use() {
    let (root, tld, leaf) = many_zones(44).await;
    let dir = TempDir::new("cuts-full");
    let toml = resolver_toml_at(root.addr.port(), 3000, "delegation_cache_size = 8\n");
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    let s = d.dns[0];
    for i in 0..40 {
        let proto = if i % 2 == 0 { Proto::Udp } else { Proto::Tcp };
        let (r, _) = query(s, proto, &format!("www.d{i}.zz."), RecordType::A).await;
        assert_eq!(rdata(&r), vec![format!("192.0.2.{i}")], "d{i}");
        // New names under the popular zones (never cached answers).
        for p in 40..44 {
            let (r, _) = query(s, proto, &format!("n{i}.d{p}.zz."), RecordType::A).await;
            assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "d{p}");
        }
    }
    assert_eq!(leaf.stats.queries.load(Ordering::Relaxed), 40 * 5);
    let referrals = (
        root.stats.queries.load(Ordering::Relaxed),
        tld.stats.queries.load(Ordering::Relaxed),
    );
    assert_eq!(referrals, (1, 44), "cuts in use were evicted (root, TLD)");
    d.shutdown(Duration::from_secs(1)).await;
}

/// `two.zz.` has two name servers outside it, `a.yy.` (on 127.0.1.3) and
/// `b.yy.` (on 127.0.1.7), and no glue. Whichever NS name dnsward resolves
/// first is stopped after the first answer: the next name must come from
/// the other. (Before, the cut kept only the first name's address, and
/// the zone gave SERVFAIL for as long as the cut stayed cached.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glueless_zone_falls_back_to_its_other_name_servers() {
    let two = || {
        zone(
            "two.zz.",
            "two.zz. 3600 SOA a.yy. h.two.zz. 1 300
             two.zz. 3600 NS a.yy.
             two.zz. 3600 NS b.yy.
             www.two.zz. 300 A 192.0.2.20
             www2.two.zz. 300 A 192.0.2.21",
        )
    };
    let tld = "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 900
               zz. 172800 NS ns1.zz.
               ns1.zz. 172800 A 127.0.1.2
               two.zz. 172800 NS a.yy.
               two.zz. 172800 NS b.yy.";
    let yy = "yy. 86400 SOA ns1.yy. hostmaster.yy. 1 900
              yy. 172800 NS ns1.yy.
              ns1.yy. 172800 A 127.0.1.4
              a.yy. 3600 A 127.0.1.3
              b.yy. 3600 A 127.0.1.7";
    let b_ip = std::net::Ipv4Addr::new(127, 0, 1, 7);
    let (root, [_tld, _yy, a, b]) = start_on_one_port(|| {
        [
            (TLD_IP, vec![zone("zz.", tld)]),
            (YY_IP, vec![zone("yy.", yy)]),
            (LEAF_IP, vec![two()]),
            (b_ip, vec![two()]),
        ]
    })
    .await;
    let dir = TempDir::new("glueless-fallback");
    let toml = resolver_toml_at(root.addr.port(), 500, "");
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    let s = d.dns[0];
    let (r, _) = query(s, Proto::Udp, "www.two.zz.", RecordType::A).await;
    assert_eq!(rdata(&r), vec!["192.0.2.20"]);
    let asked = |srv: &AuthServer| srv.stats.queries.load(Ordering::Relaxed);
    let (first, other) = if asked(&a) > 0 { (a, b) } else { (b, a) };
    assert_eq!(asked(&other), 0, "only one NS name was needed");
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        let (r, _) = query(s, proto, "www2.two.zz.", RecordType::A).await;
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NoError,
            "the zone's other name server was not tried ({proto:?})"
        );
        assert_eq!(rdata(&r), vec!["192.0.2.21"]);
    }
    assert!(asked(&other) >= 1);
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

/// dnsward in recursive mode against the test hierarchy.
async fn recursive_dnsward(h: &Hierarchy, tag: &str) -> (TempDir, dnsward::app::Running) {
    let dir = TempDir::new(tag);
    let d = start_dnsward(&dir, &base_toml(&h.resolver_toml())).await;
    (dir, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glueless_delegation_and_cname_into_another_zone() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "glueless").await;
    let s = d.dns[0];

    // zz. delegates glueless.zz. to dns.yy. without glue: the iterator
    // resolves dns.yy. from the root first, then asks it.
    let (m, _) = query(s, Proto::Udp, "www.glueless.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["192.0.2.50"]);
    assert!(h.yy.stats.queries.load(Ordering::Relaxed) >= 1);
    assert!(h.glueless.stats.queries.load(Ordering::Relaxed) >= 1);

    // The resolved address is remembered with the delegation: a second
    // name in the zone costs no lookup of dns.yy. again.
    let yy_before = h.yy.stats.queries.load(Ordering::Relaxed);
    let (m, _) = query(s, Proto::Udp, "nope.glueless.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(h.yy.stats.queries.load(Ordering::Relaxed), yy_before);

    // A CNAME from example.zz. into yy.: the target is resolved from its
    // own zone, and the client gets the whole chain.
    let (m, _) = query(s, Proto::Udp, "out.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["www.yy.", "192.0.2.40"]);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_lame_servers_fail_over_to_the_working_one() {
    let h = Hierarchy::start().await;
    // failover.zz. has three servers, tried in random order while unknown:
    // one never answers, one answers REFUSED, one works. Fresh resolvers
    // until both bad servers have been tried first at least once.
    let (mut saw_silent, mut saw_lame) = (false, false);
    for attempt in 0..20 {
        let (_dir, d) = recursive_dnsward(&h, "failover").await;
        let s = d.dns[0];
        let lame_before = h.yy.stats.queries.load(Ordering::Relaxed);
        let started = std::time::Instant::now();
        let (m, _) = query(s, Proto::Udp, "www.failover.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["192.0.2.60"], "attempt {attempt}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
        saw_silent |= h.silent_queries() > 0;
        saw_lame |= h.yy.stats.queries.load(Ordering::Relaxed) > lame_before;
        // The working server is now preferred: later names are quick and
        // reach neither bad server.
        let lame_before = h.yy.stats.queries.load(Ordering::Relaxed);
        for name in ["www2.failover.zz.", "none.failover.zz."] {
            let started = std::time::Instant::now();
            let (m, _) = query(s, Proto::Udp, name, RecordType::A).await;
            assert_ne!(m.metadata.response_code, ResponseCode::ServFail);
            assert!(
                started.elapsed() < Duration::from_millis(300),
                "{name}: {:?}",
                started.elapsed()
            );
        }
        assert_eq!(h.silent_queries(), 0, "silent server avoided");
        assert_eq!(
            h.yy.stats.queries.load(Ordering::Relaxed),
            lame_before,
            "lame server avoided"
        );
        d.shutdown(Duration::from_secs(1)).await;
        if saw_silent && saw_lame {
            return;
        }
    }
    panic!(
        "in 20 tries the bad servers were never asked first (silent {saw_silent}, lame {saw_lame})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_authoritative_answers_are_fetched_over_tcp() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "tc").await;
    // 40 TXT records do not fit the 1232 bytes we advertise: the leaf
    // answers TC=1 over UDP and the iterator asks again over TCP.
    let (m, _) = query(d.dns[0], Proto::Tcp, "big.example.zz.", RecordType::TXT).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 40);
    assert!(h.leaf.stats.tcp_queries.load(Ordering::Relaxed) >= 1);
    // The upstream queries are counted by outcome and transport.
    let (_, text) = http_get(d.metrics_addr.expect("metrics"), "/metrics").await;
    let m = parse_metrics(&text);
    let count = |result: &str, transport: &str| {
        m.iter()
            .filter(|(k, _)| {
                k.starts_with("dnsward_authority_queries_total{")
                    && k.contains(&format!("result=\"{result}\""))
                    && k.contains(&format!("transport=\"{transport}\""))
            })
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    assert!(count("referral", "udp") >= 2.0, "root and zz. referrals");
    assert!(count("answer", "tcp") >= 1.0, "the TXT answer over TCP");
    assert!(m
        .get("dnsward_authority_rtt_seconds_count")
        .is_some_and(|v| *v >= 3.0));
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upward_referrals_delegation_and_cname_loops_and_private_servers_fail_fast() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "lame").await;
    let s = d.dns[0];
    let all = |h: &Hierarchy| -> u64 {
        [
            &h.root,
            &h.tld,
            &h.leaf,
            &h.yy,
            &h.glueless,
            &h.failover,
            &h.up,
            &h.spoof,
        ]
        .iter()
        .map(|a| a.stats.queries.load(Ordering::Relaxed))
        .sum()
    };
    for (name, why) in [
        ("www.up.zz.", "lame: referral not below the zone"),
        (
            "www.cyc1.zz.",
            "no usable address for any name server of cyc",
        ),
        (
            "www.priv.zz.",
            "no usable address for any name server of priv.zz.",
        ),
        ("loop1.example.zz.", "CNAME loop at loop1.example.zz."),
    ] {
        let before = all(&h);
        let started = std::time::Instant::now();
        let (m, _) = query(s, Proto::Udp, name, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{name}");
        let (_, text) = ede_of(&m).expect("SERVFAIL carries an EDE");
        assert!(text.contains(why), "{name}: {text}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{name}: {:?}",
            started.elapsed()
        );
        // Bounded by the per-query budget (30), far below it in fact.
        let sent = all(&h) - before;
        assert!(sent <= 30, "{name}: {sent} upstream queries");
    }
    // The server referring upwards was asked, then given up on.
    assert!(h.up.stats.queries.load(Ordering::Relaxed) >= 1);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replies_are_ignored() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "spoof").await;
    // Before each real answer the server sends 6.6.6.6 from another port,
    // with a wrong ID, and for another question: none may be taken.
    for (name, want) in [
        ("www.spoof.zz.", "192.0.2.70"),
        ("WWW2.Spoof.ZZ.", "192.0.2.71"),
    ] {
        let (m, _) = query(d.dns[0], Proto::Udp, name, RecordType::A).await;
        assert_eq!(rdata(&m), vec![want], "{name}");
    }
    assert!(h.spoof.stats.forged.load(Ordering::Relaxed) >= 6);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_bit_is_passed_on_and_rd_is_never_set() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "dobit").await;
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    assert_eq!(h.leaf.stats.dnssec_ok.load(Ordering::Relaxed), 0);
    let mut q = make_query("mail.example.zz.", RecordType::MX, Some(1232));
    if let Some(e) = q.edns.as_mut() {
        e.set_dnssec_ok(true);
    }
    let (m, _) = ask(d.dns[0], Proto::Udp, &q).await;
    assert_eq!(rdata(&m), vec!["10 www.example.zz."]);
    assert_eq!(h.leaf.stats.dnssec_ok.load(Ordering::Relaxed), 1);
    for a in [&h.root, &h.tld, &h.leaf] {
        assert_eq!(a.stats.recursion_desired.load(Ordering::Relaxed), 0);
    }
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_query_budget_is_enforced() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("budget");
    let toml = base_toml(&format!("{}max_upstream_queries = 2\n", h.resolver_toml()));
    let d = start_dnsward(&dir, &toml).await;
    // Cold, www.example.zz. needs three queries (root, zz., example.zz.).
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let (_, text) = ede_of(&m).expect("EDE");
    assert!(text.contains("gave up after 2 upstream queries"), "{text}");
    let sent: u64 = [&h.root, &h.tld, &h.leaf]
        .iter()
        .map(|a| a.stats.queries.load(Ordering::Relaxed))
        .sum();
    assert_eq!(sent, 2);
    // The referrals learnt are kept: now one query reaches the leaf.
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_cache_misses_share_one_upstream_query() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "coalesce").await;
    let s = d.dns[0];
    // Learn the slow.zz. cut first (its server answers after 300 ms).
    let (m, _) = query(s, Proto::Udp, "warm.slow.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let before = h.slow.stats.queries.load(Ordering::Relaxed);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        tasks.push(tokio::spawn(async move {
            query(s, Proto::Udp, "www.slow.zz.", RecordType::A).await.0
        }));
    }
    for t in tasks {
        assert_eq!(rdata(&t.await.expect("join")), vec!["192.0.2.80"]);
    }
    assert_eq!(
        h.slow.stats.queries.load(Ordering::Relaxed) - before,
        1,
        "20 clients, one upstream query"
    );
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_without_edns_are_asked_again_without_it() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "noedns").await;
    // old.zz.'s server answers FORMERR (no OPT) to any EDNS query.
    let (m, _) = query(d.dns[0], Proto::Udp, "www.old.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["192.0.2.90"]);
    assert_eq!(h.old.stats.queries.load(Ordering::Relaxed), 2);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_zone_is_held_down_after_failing() {
    let h = Hierarchy::start().await;
    let (_dir, d) = recursive_dnsward(&h, "dead").await;
    let s = d.dns[0];
    // dead.zz.'s only server never answers: timeouts, then SERVFAIL.
    let (m, _) = query(s, Proto::Udp, "www.dead.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(h.silent_queries() >= 1);
    // Right after, another name in the zone fails at once without a
    // packet to the dead server (RFC 9520).
    let started = std::time::Instant::now();
    let (m, _) = query(s, Proto::Udp, "mail.dead.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(started.elapsed() < Duration::from_millis(200));
    let (_, text) = ede_of(&m).expect("EDE");
    assert!(text.contains("held down"), "{text}");
    assert_eq!(h.silent_queries(), 0);
    d.shutdown(Duration::from_secs(1)).await;
}
