//! What the authoritative servers are asked: QNAME minimisation, sibling
//! glue, and prefetch of answers near expiry.

use super::*;

/// Questions `server` saw, as "name type" strings.
fn asked(server: &AuthServer) -> Vec<String> {
    server
        .stats
        .questions()
        .into_iter()
        .map(|(n, t)| format!("{n} {t}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qname_minimisation_shows_each_server_one_label_more() {
    let h = Hierarchy::start().await;
    // Default: relaxed.
    let (_dir, d) = recursive_dnsward(&h, "qmin").await;
    let s = d.dns[0];
    let (m, _) = query(s, Proto::Udp, "deep.sub.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.12"]);
    assert_eq!(asked(&h.root), vec!["zz. NS"], "the root sees only the TLD");
    assert_eq!(asked(&h.tld), vec!["example.zz. NS"]);
    // sub.example.zz. is an empty non-terminal (NODATA): no cut, so the
    // same server gets the full question next.
    assert_eq!(
        asked(&h.leaf),
        vec!["sub.example.zz. NS", "deep.sub.example.zz. A"]
    );
    assert_eq!(d.metrics.qname_minimisation_fallbacks.get(), 0);
    // With the zone's cut cached, a name in it costs one query.
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    assert_eq!(asked(&h.leaf).len(), 3);
    assert_eq!(asked(&h.root).len() + asked(&h.tld).len(), 2);
    // Relaxed: an NXDOMAIN for a minimised name is checked with the full
    // name (servers that answer NXDOMAIN for empty non-terminals exist).
    let (m, _) = query(s, Proto::Udp, "a.b.nx.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        asked(&h.leaf)[3..],
        ["nx.example.zz. NS", "a.b.nx.example.zz. A"]
    );
    assert_eq!(d.metrics.qname_minimisation_fallbacks.get(), 1);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qname_minimisation_strict_and_off() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("qmin-strict");
    let toml = resolver_toml_at(h.port, 3000, "qname_minimisation = \"strict\"\n");
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    // Strict: NXDOMAIN for nx.example.zz. is the answer for every name
    // below it (RFC 8020); the full name is never sent.
    let (m, _) = query(d.dns[0], Proto::Udp, "a.b.nx.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(asked(&h.leaf), vec!["nx.example.zz. NS"]);
    assert_eq!(d.metrics.qname_minimisation_fallbacks.get(), 0);
    d.shutdown(Duration::from_secs(1)).await;

    let h = Hierarchy::start().await;
    let dir = TempDir::new("qmin-off");
    let toml = resolver_toml_at(h.port, 3000, "qname_minimisation = \"off\"\n");
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    assert_eq!(asked(&h.root), vec!["www.example.zz. A"]);
    assert_eq!(asked(&h.tld), vec!["www.example.zz. A"]);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_glue_is_used_without_resolving_the_name_server() {
    // zz. delegates sib.zz. to ns.host.zz., a name in the sibling zone
    // host.zz., and gives its address as glue (RFC 9471 sibling glue).
    let sib_ip = std::net::Ipv4Addr::new(127, 0, 1, 12);
    let (root, [tld, sib]) = start_on_one_port(|| {
        let mut tld = tld_zone();
        tld.records.extend(records(
            "sib.zz. 172800 NS ns.host.zz.
             host.zz. 172800 NS ns.host.zz.
             ns.host.zz. 172800 A 127.0.1.12",
        ));
        [
            (TLD_IP, vec![tld]),
            (
                sib_ip,
                vec![zone(
                    "sib.zz.",
                    "sib.zz. 3600 SOA ns.host.zz. hostmaster.sib.zz. 1 300
                     sib.zz. 3600 NS ns.host.zz.
                     www.sib.zz. 300 A 192.0.2.120",
                )],
            ),
        ]
    })
    .await;
    let dir = TempDir::new("sibling-glue");
    let toml = resolver_toml_at(root.addr.port(), 3000, "");
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    let (m, _) = query(d.dns[0], Proto::Udp, "www.sib.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["192.0.2.120"]);
    // No lookup of ns.host.zz.: the glue was enough.
    assert_eq!(asked(&tld), vec!["sib.zz. NS"]);
    assert_eq!(asked(&sib), vec!["www.sib.zz. A"]);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_asked_near_expiry_are_prefetched() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("prefetch");
    // Every answer lives 10 s: its last tenth is its last second.
    let toml = format!("{}\n[cache]\nmax_ttl_secs = 10\n", h.resolver_toml());
    let d = start_dnsward(&dir, &base_toml(&toml)).await;
    let s = d.dns[0];
    let stored = std::time::Instant::now();
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    let leaf = || h.leaf.stats.queries.load(Ordering::Relaxed);
    let cold = leaf();
    // Halfway: a plain hit, no refresh.
    tokio::time::sleep(Duration::from_secs(5)).await;
    query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(d.metrics.cache_prefetches.get(), 0);
    assert_eq!(leaf(), cold);
    // In the last second: served from the cache and refreshed behind it.
    tokio::time::sleep(
        (stored + Duration::from_millis(9_300))
            .saturating_duration_since(std::time::Instant::now()),
    )
    .await;
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    wait_until("the prefetch", || async {
        d.metrics.cache_prefetches.get() == 1 && leaf() == cold + 1
    })
    .await;
    // Past the first answer's expiry: still a hit, on the refreshed one.
    tokio::time::sleep(
        (stored + Duration::from_millis(10_500))
            .saturating_duration_since(std::time::Instant::now()),
    )
    .await;
    let hits = d.metrics.cache_hits.get();
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    assert_eq!(d.metrics.cache_hits.get(), hits + 1, "a cache hit");
    assert_eq!(leaf(), cold + 1, "no query upstream");
    assert_eq!(
        d.metrics.cache_prefetches.get(),
        1,
        "one refresh per answer"
    );
    d.shutdown(Duration::from_secs(1)).await;
}
