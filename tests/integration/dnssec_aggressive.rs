//! Aggressive use of the validated NSEC cache (RFC 8198,
//! `dnssec.aggressive_nsec`) on the signed loopback hierarchy: after one
//! secure NXDOMAIN (or NODATA) from nsec.tst., the server of nsec.tst. is
//! stopped, and another name in the same NSEC span must still be answered
//! NXDOMAIN with AD (and the proof when DO is set), counted in
//! `dnsward_dnssec_aggressive_answers_total`. With the key off the same
//! question goes upstream and fails, the server being gone.
//!
//! Skipped, with a message, when ldnsutils or NSD are missing (`.ci/run`
//! installs them).

use std::time::Duration;

use crate::common::signed::*;
use crate::common::signed_servers::*;
use crate::common::*;
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

/// Ask `qname`/`qtype` with DO=1.
async fn ask_do(server: std::net::SocketAddr, qname: &str, qtype: RecordType) -> Message {
    let mut m = query_for(Name::from_ascii(qname).expect("name"), qtype, None);
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    m.set_edns(e);
    let (mut r, _) = ask(server, Proto::Udp, &m).await;
    if r.metadata.truncation {
        r = ask(server, Proto::Tcp, &m).await.0;
    }
    r
}

fn has(m: &Message, t: RecordType) -> bool {
    m.authorities.iter().any(|r| r.record_type() == t)
}

/// Both names sort between the apex and `mail.` (and so does the
/// wildcard `*.nsec.tst.`): the apex NSEC denies all three.
const FIRST: &str = "aaa-first.nsec.tst.";
const SECOND: &str = "aaa-second.nsec.tst.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_nsec_answers_another_name_of_the_span_without_the_server() {
    if !have_signing_tools() {
        eprintln!("SKIPPED: needs ldnsutils and nsd");
        return;
    }
    let mut h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-aggressive");
    let d = start_dnsward(&dir, &h.dnsward_toml("")).await;
    let first = ask_do(d.dns[0], FIRST, RecordType::A).await;
    assert_eq!(first.metadata.response_code, ResponseCode::NXDomain);
    assert!(first.metadata.authentic_data, "first NXDOMAIN secure");
    let nodata = ask_do(d.dns[0], "mail.nsec.tst.", RecordType::AAAA).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty() && nodata.metadata.authentic_data);
    let counter = &d.metrics.dnssec.aggressive_answers;
    assert_eq!(counter.get(), 0, "nothing synthesised yet");

    h.stop_host(CHILD_HOST).await;
    let second = ask_do(d.dns[0], SECOND, RecordType::A).await;
    assert_eq!(
        second.metadata.response_code,
        ResponseCode::NXDomain,
        "{second:?}"
    );
    assert!(second.metadata.authentic_data, "synthesised NXDOMAIN is AD");
    assert!(has(&second, RecordType::SOA) && has(&second, RecordType::NSEC));
    assert!(has(&second, RecordType::RRSIG), "DO: the proof is signed");
    // NODATA from the matching NSEC at mail. (A and RRSIG/NSEC only).
    let txt = ask_do(d.dns[0], "mail.nsec.tst.", RecordType::TXT).await;
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError, "{txt:?}");
    assert!(txt.answers.is_empty() && txt.metadata.authentic_data);
    assert_eq!(counter.get(), 2, "both answered from the NSEC cache");
    // The name exists: the cache proves nothing, so it goes upstream
    // (NSD's server processes may outlive its main one for a moment, so
    // the rcode is not checked).
    let _ = ask_do(d.dns[0], "www.nsec.tst.", RecordType::A).await;
    assert_eq!(counter.get(), 2);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_aggressive_nsec_off_the_same_name_goes_upstream() {
    if !have_signing_tools() {
        eprintln!("SKIPPED: needs ldnsutils and nsd");
        return;
    }
    let mut h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-aggressive-off");
    let d = start_dnsward(&dir, &h.dnsward_toml("aggressive_nsec = false\n")).await;
    let first = ask_do(d.dns[0], FIRST, RecordType::A).await;
    assert_eq!(first.metadata.response_code, ResponseCode::NXDomain);
    assert!(first.metadata.authentic_data);
    h.stop_host(CHILD_HOST).await;
    let second = ask_do(d.dns[0], SECOND, RecordType::A).await;
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(d.metrics.dnssec.aggressive_answers.get(), 0);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_synthesised_under_a_negative_trust_anchor() {
    if !have_signing_tools() {
        eprintln!("SKIPPED: needs ldnsutils and nsd");
        return;
    }
    let mut h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-aggressive-nta");
    let d = start_dnsward(
        &dir,
        &h.dnsward_toml("negative_trust_anchors = [\"nsec.tst.\"]\n"),
    )
    .await;
    let first = ask_do(d.dns[0], FIRST, RecordType::A).await;
    assert_eq!(first.metadata.response_code, ResponseCode::NXDomain);
    assert!(!first.metadata.authentic_data, "under an NTA: insecure");
    h.stop_host(CHILD_HOST).await;
    let second = ask_do(d.dns[0], SECOND, RecordType::A).await;
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(d.metrics.dnssec.aggressive_answers.get(), 0);
    d.shutdown(Duration::from_secs(1)).await;
}
