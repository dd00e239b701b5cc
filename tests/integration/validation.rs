//! DNSSEC integration on the unsigned loopback hierarchy: with the root's
//! trust anchors every answer is bogus (the root has no DNSKEY), which
//! shows the SERVFAIL + EDE path, CD=1, the bogus cache, negative trust
//! anchors and their reload, the metrics and the config checks. Signed
//! hierarchies (secure, insecure, bogus zones) are in `dnssec.rs`.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::*;

/// Validation on with the built-in root anchors, and `extra` lines in
/// `[dnssec]`.
fn validating(h: &Hierarchy, extra: &str) -> String {
    base_toml(&format!(
        "{}\n[dnssec]\nvalidation = true\n{extra}\n",
        h.resolver_toml()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bogus_is_servfail_with_ede_cd_gets_the_data_and_it_is_counted() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("val-bogus");
    let d = start_dnsward(&dir, &validating(&h, "")).await;
    let s = d.dns[0];
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
    assert!(!m.metadata.authentic_data);
    let (code, text) = ede_of(&m).expect("EDE");
    assert_eq!(code, 9, "DNSKEY Missing: {text}");
    assert!(text.contains("(.)"), "names the zone: {text}");
    // From the bogus cache (a hit, counted below): the same SERVFAIL.
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede_of(&m).map(|e| e.0), Some(9));
    // CD=1: the data, unvalidated, without AD.
    let mut q = make_query("www.example.zz.", RecordType::A, Some(1232));
    q.metadata.checking_disabled = true;
    let (m, _) = ask(s, Proto::Udp, &q).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    assert!(m.metadata.checking_disabled);
    assert!(!m.metadata.authentic_data);
    let addr = d.metrics_addr.expect("metrics");
    let (_, body) = http_get(addr, "/metrics").await;
    let m = parse_metrics(&body);
    assert!(
        m.get("dnsward_cache_hits_total").is_some_and(|v| *v >= 2.0),
        "bogus answer and CD=1 served from the cache: {body}"
    );
    assert!(
        m.get("dnsward_dnssec_results_total{result=\"bogus\"}")
            .is_some_and(|v| *v >= 1.0),
        "{body}"
    );
    assert!(
        m.contains_key("dnsward_dnssec_bogus_total{ede=\"9\"}"),
        "{body}"
    );
    assert!(
        body.contains("dnsward_dnssec_signature_checks_count"),
        "{body}"
    );
    assert!(
        body.contains("dnsward_dnssec_budget_exceeded_total"),
        "{body}"
    );
    assert!(
        body.contains(
            "dnsward_dnssec_trust_anchor_info{key_tag=\"20326\",state=\"configured\",zone=\".\"} 1"
        ),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_trust_anchor_makes_answers_insecure_and_reloads_on_sighup() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("val-nta");
    let d = start_dnsward(&dir, &validating(&h, "negative_trust_anchors = [\"zz\"]")).await;
    let s = d.dns[0];
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    assert!(!m.metadata.authentic_data, "insecure: no AD");
    // The anchor removed (what SIGHUP does): validated again, bogus.
    let path = dir.write("dnsward.toml", &validating(&h, ""));
    let cfg = dnsward::config::Config::load(&path).expect("config");
    let changes = d.reload_config(&cfg).expect("reload");
    assert!(
        changes
            .applied
            .iter()
            .any(|c| c.starts_with("dnssec.negative_trust_anchors")),
        "{changes:?}"
    );
    let (m, _) = query(s, Proto::Udp, "other.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // And back, through POST /admin/reload: the bogus answers cached are
    // dropped, the name resolves at once.
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    dir.write(
        "dnsward.toml",
        &validating(&h, "negative_trust_anchors = [\"example.zz\", \"zz\"]"),
    );
    let addr = d.metrics_addr.expect("metrics");
    let (status, body) = http_post(addr, "/admin/reload").await;
    assert_eq!(status, 200, "{body}");
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn dnssec_config_errors_name_their_keys() {
    let dir = TempDir::new("val-config");
    let path = dir.write(
        "dnsward.toml",
        "[dnssec]\ntrust_anchors = [\". IN A 192.0.2.1\"]\nnegative_trust_anchors = [\"a..b\"]\nbogus_ttl_secs = 0\nnsec3_max_iterations = 9000\ntrust_anchor_file = \"missing.keys\"\n",
    );
    let err = dnsward::config::Config::load(&path)
        .expect_err("invalid")
        .to_string();
    for key in [
        "dnssec.trust_anchors[0]",
        "dnssec.negative_trust_anchors[0]",
        "dnssec.bogus_ttl_secs",
        "dnssec.nsec3_max_iterations",
        "dnssec.trust_anchor_file",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
}

/// A query for `name`/A with these bits (EDNS with DO, or no EDNS).
fn flagged(name: &str, dnssec_ok: Option<bool>, ad: bool, cd: bool) -> hickory_proto::op::Message {
    let mut q = make_query(name, RecordType::A, dnssec_ok.map(|_| 1232));
    if let (Some(e), Some(true)) = (q.edns.as_mut(), dnssec_ok) {
        e.set_dnssec_ok(true);
    }
    q.metadata.authentic_data = ad;
    q.metadata.checking_disabled = cd;
    q
}

/// (AD bit from the raw header, RRSIGs in the answer) of one UDP answer.
async fn bits(s: std::net::SocketAddr, q: &hickory_proto::op::Message) -> (bool, bool) {
    let (m, raw) = ask(s, Proto::Udp, q).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let sigs = m
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::RRSIG);
    (raw[3] & 0x20 != 0, sigs)
}

/// The UDP fast path serves a secure answer's variants as the normal
/// path does: AD for DO or AD queries (not with CD), RRSIGs only with DO.
/// Each question is asked cold (normal path) and again (cache hit, fast
/// path), on a signed hierarchy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_serves_the_ad_and_rrsig_variants_of_a_secure_answer() {
    if !crate::common::signed_servers::have_signing_tools() {
        eprintln!("SKIPPED: needs ldns-keygen/ldns-signzone (ldnsutils) and nsd");
        return;
    }
    let h = crate::common::signed_servers::SignedHierarchy::start().await;
    let dir = TempDir::new("val-fast");
    let d = start_dnsward(&dir, &h.dnsward_toml("")).await;
    let s = d.dns[0];
    let name = "www.nsec.tst.";
    // (DO, AD, CD) -> (AD in the answer, RRSIGs in the answer)
    let cases = [
        ((Some(true), false, false), (true, true)),
        ((None, false, false), (false, false)),
        ((Some(false), false, false), (false, false)),
        ((Some(false), true, false), (true, false)),
        ((None, true, false), (true, false)),
        ((Some(true), false, true), (false, true)),
    ];
    for round in ["cold", "cached"] {
        for ((dnssec_ok, ad, cd), want) in cases {
            let got = bits(s, &flagged(name, dnssec_ok, ad, cd)).await;
            assert_eq!(got, want, "{round}: DO {dnssec_ok:?} AD {ad} CD {cd}");
        }
    }
    d.shutdown(std::time::Duration::from_secs(1)).await;
}
