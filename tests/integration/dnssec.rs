//! DNSSEC validation on a loopback hierarchy signed with real tools
//! ([`crate::common::signed`]: ldns-signzone, NSD): each case of [`CASES`]
//! is asked of dnsward (anchored at the fixture's root DS) and of a
//! validating Unbound with the same anchor. Unbound is the reference: a
//! case it does not answer as written is a fixture bug.
//!
//! Skipped, with a message, when ldnsutils, NSD or Unbound are missing
//! (`.ci/run` installs them).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::signed::*;
use crate::common::signed_servers::*;
use crate::common::*;
use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

/// What one question must get back.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub name: &'static str,
    pub qname: &'static str,
    pub qtype: RecordType,
    /// DO=1 in the query (else AD=1 alone, RFC 6840 5.7).
    pub dnssec_ok: bool,
    pub cd: bool,
    pub rcode: ResponseCode,
    pub ad: bool,
    /// The EDE info codes any one of which must be there (empty: no EDE
    /// required).
    pub ede: &'static [u16],
    /// Answer records expected (not counting RRSIGs).
    pub answers: bool,
    /// RRSIGs expected in answer or authority.
    pub rrsigs: bool,
}

const fn case(
    name: &'static str,
    qname: &'static str,
    qtype: RecordType,
    rcode: ResponseCode,
    ad: bool,
) -> Case {
    Case {
        name,
        qname,
        qtype,
        dnssec_ok: true,
        cd: false,
        rcode,
        ad,
        ede: &[],
        answers: matches!(rcode, ResponseCode::NoError),
        rrsigs: ad,
    }
}

const fn ede(c: Case, codes: &'static [u16]) -> Case {
    Case { ede: codes, ..c }
}

/// Insecure, yet signed: the RRSIGs are returned with DO.
const fn signed(c: Case) -> Case {
    Case { rrsigs: true, ..c }
}

const fn nodata(c: Case) -> Case {
    Case {
        answers: false,
        ..c
    }
}

use RecordType::{A, AAAA, TXT};
use ResponseCode::{NXDomain, NoError, ServFail};

/// Every validation case of the fixture, with its expected answer.
pub const CASES: &[Case] = &[
    case("secure RSASHA256 (tst.)", "www.tst.", A, NoError, true),
    case("secure ECDSAP256SHA256", "www.nsec.tst.", A, NoError, true),
    case("secure ED25519", "www.ed.tst.", A, NoError, true),
    Case {
        dnssec_ok: false,
        rrsigs: false,
        ..case(
            "secure, AD=1 without DO",
            "mail.nsec.tst.",
            A,
            NoError,
            true,
        )
    },
    case("insecure: no DS", "www.insec.tst.", A, NoError, false),
    ede(
        case(
            "bogus: tampered RRSIG",
            "www.bogus.tst.",
            A,
            ServFail,
            false,
        ),
        &[6],
    ),
    Case {
        cd: true,
        rrsigs: true,
        ..case(
            "bogus with CD=1: data, no AD",
            "www.bogus.tst.",
            A,
            NoError,
            false,
        )
    },
    ede(
        case("expired signatures", "www.expired.tst.", A, ServFail, false),
        &[7],
    ),
    ede(
        case(
            "signatures not yet valid",
            "www.future.tst.",
            A,
            ServFail,
            false,
        ),
        &[8],
    ),
    ede(
        case(
            "DS names an unpublished DNSKEY",
            "www.nokey.tst.",
            A,
            ServFail,
            false,
        ),
        &[9],
    ),
    case(
        "DS digest type 4 (SHA-384)",
        "www.ds4.tst.",
        A,
        NoError,
        true,
    ),
    signed(case(
        "only DS digest type unknown (200): insecure",
        "www.digest.tst.",
        A,
        NoError,
        false,
    )),
    case("NSEC NXDOMAIN", "nx.nsec.tst.", A, NXDomain, true),
    nodata(case("NSEC NODATA", "www.nsec.tst.", TXT, NoError, true)),
    case("NSEC3 NXDOMAIN", "nx.nsec3.tst.", A, NXDomain, true),
    nodata(case("NSEC3 NODATA", "www.nsec3.tst.", TXT, NoError, true)),
    case("NSEC wildcard answer", "a.w.nsec.tst.", A, NoError, true),
    nodata(case(
        "NSEC wildcard NODATA",
        "a.w.nsec.tst.",
        AAAA,
        NoError,
        true,
    )),
    case("NSEC3 wildcard answer", "a.w.nsec3.tst.", A, NoError, true),
    nodata(case(
        "NSEC3 wildcard NODATA",
        "a.w.nsec3.tst.",
        AAAA,
        NoError,
        true,
    )),
    case(
        "NSEC3 opt-out: insecure delegation",
        "www.ins.optout.tst.",
        A,
        NoError,
        false,
    ),
    case(
        "NSEC3 opt-out zone's own data",
        "www.optout.tst.",
        A,
        NoError,
        true,
    ),
    signed(ede(
        case(
            "NSEC3 iterations 200: insecure",
            "nx.iter.tst.",
            A,
            NXDomain,
            false,
        ),
        &[27],
    )),
    case(
        "NSEC3 iterations 200: positive answer secure",
        "www.iter.tst.",
        A,
        NoError,
        true,
    ),
    signed(case(
        "unsupported algorithm 253: insecure",
        "www.unsupp.tst.",
        A,
        NoError,
        false,
    )),
    // Unbound says 9 (no DNSKEY validated); 6 (bogus) fits as well.
    ede(
        case(
            "KeyTrap: colliding keys, bad signatures",
            "www.keytrap.tst.",
            A,
            ServFail,
            false,
        ),
        &[6, 9],
    ),
];

/// What came back for one case.
#[derive(Debug)]
pub struct Seen {
    pub rcode: ResponseCode,
    pub ad: bool,
    pub ede: Option<(u16, String)>,
    pub answers: usize,
    pub rrsigs: usize,
    pub took: Duration,
}

/// Ask `server` the case's question (UDP, TCP when truncated).
pub async fn ask_case(server: SocketAddr, c: &Case) -> Seen {
    let mut m = query_for(Name::from_ascii(c.qname).expect("name"), c.qtype, None);
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(c.dnssec_ok);
    m.set_edns(e);
    m.metadata.authentic_data = !c.dnssec_ok;
    m.metadata.checking_disabled = c.cd;
    let t0 = Instant::now();
    let (mut r, _) = ask(server, Proto::Udp, &m).await;
    if r.metadata.truncation {
        r = ask(server, Proto::Tcp, &m).await.0;
    }
    let sig = |rr: &&hickory_proto::rr::Record| rr.record_type() == RecordType::RRSIG;
    Seen {
        rcode: r.metadata.response_code,
        ad: r.metadata.authentic_data,
        ede: ede_of(&r),
        answers: r.answers.iter().filter(|x| !sig(x)).count(),
        rrsigs: r.answers.iter().chain(&r.authorities).filter(sig).count(),
        took: t0.elapsed(),
    }
}

/// The differences between `seen` and the case, empty when it matches.
/// EDE codes in `skip_ede` are not required (a peer that lacks them).
pub fn mismatches(c: &Case, s: &Seen, skip_ede: &[u16]) -> Vec<String> {
    let mut v = Vec::new();
    if s.rcode != c.rcode {
        v.push(format!("rcode {} (want {})", s.rcode, c.rcode));
    }
    if s.ad != c.ad {
        v.push(format!("AD {} (want {})", s.ad, c.ad));
    }
    let required = !c.ede.is_empty() && !c.ede.iter().any(|e| skip_ede.contains(e));
    if required && !s.ede.as_ref().is_some_and(|e| c.ede.contains(&e.0)) {
        v.push(format!("EDE {:?} (want one of {:?})", s.ede, c.ede));
    }
    if (s.answers > 0) != c.answers {
        v.push(format!(
            "{} answers (want {})",
            s.answers,
            if c.answers { "some" } else { "none" }
        ));
    }
    if (s.rrsigs > 0) != c.rrsigs && c.rcode != ServFail {
        v.push(format!(
            "{} RRSIGs (want {})",
            s.rrsigs,
            if c.rrsigs { "some" } else { "none" }
        ));
    }
    v
}

/// Run every case against `server`; a report line per case, and the
/// failing ones.
pub async fn run_cases(
    server: SocketAddr,
    cases: &[Case],
    skip_ede: &[u16],
) -> (Vec<String>, Vec<String>) {
    let (mut report, mut failed) = (Vec::new(), Vec::new());
    for c in cases {
        let s = ask_case(server, c).await;
        let bad = mismatches(c, &s, skip_ede);
        let line = format!(
            "{:<48} {:?} ad={} ede={:?} answers={} rrsigs={} {} ms{}",
            c.name,
            s.rcode,
            s.ad,
            s.ede,
            s.answers,
            s.rrsigs,
            s.took.as_millis(),
            if bad.is_empty() {
                String::new()
            } else {
                format!("  MISMATCH: {}", bad.join(", "))
            }
        );
        if !bad.is_empty() {
            failed.push(line.clone());
        }
        report.push(line);
    }
    (report, failed)
}

fn tools_or_skip() -> bool {
    if !have_signing_tools() || !Path::new("/usr/sbin/unbound").exists() {
        eprintln!(
            "SKIPPED: needs ldns-keygen/ldns-signzone/ldns-key2ds (ldnsutils), nsd and unbound"
        );
        return false;
    }
    true
}

use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_validates_the_signed_fixture_as_the_cases_say() {
    if !tools_or_skip() {
        return;
    }
    let h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-unbound");
    let (_unbound, addr) = start_unbound_validator(&dir, &h, "").await;
    // Unbound 1.17 does not send EDE 27 (Unsupported NSEC3 Iterations
    // Value): not required of it.
    let (report, failed) = run_cases(addr, CASES, &[27]).await;
    eprintln!("unbound:\n  {}", report.join("\n  "));
    assert!(
        failed.is_empty(),
        "fixture cases Unbound does not answer as written (fixture bugs); log {}/unbound.log:\n  {}",
        dir.path().display(),
        failed.join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsward_validates_the_signed_fixture_as_the_cases_say() {
    if !tools_or_skip() {
        return;
    }
    let h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-dnsward");
    let d = start_dnsward(&dir, &h.dnsward_toml("")).await;
    let (report, failed) = run_cases(d.dns[0], CASES, &[]).await;
    eprintln!("dnsward:\n  {}", report.join("\n  "));
    // The same questions again: now from the answer cache, which must keep
    // each answer's validation status (AD, EDE, RRSIGs).
    let (cached, failed_cached) = run_cases(d.dns[0], CASES, &[]).await;
    eprintln!("dnsward, cached:\n  {}", cached.join("\n  "));
    d.shutdown(Duration::from_secs(1)).await;
    assert!(
        failed.is_empty() && failed_cached.is_empty(),
        "dnsward answers unlike the validating reference:\n  {}\ncached:\n  {}",
        failed.join("\n  "),
        failed_cached.join("\n  ")
    );
}

/// A negative trust anchor (RFC 7646) on the bogus zone: its data is
/// served, insecure; the zones beside it still validate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_trust_anchor_serves_the_bogus_zone_insecure() {
    if !tools_or_skip() {
        return;
    }
    let nta = [
        case(
            "bogus zone under an NTA",
            "www.bogus.tst.",
            A,
            NoError,
            false,
        ),
        case("secure zone beside it", "www.nsec.tst.", A, NoError, true),
    ];
    let nta = [
        Case {
            rrsigs: true,
            ..nta[0]
        },
        nta[1],
    ];
    let h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-nta-unbound");
    let (unbound, addr) =
        start_unbound_validator(&dir, &h, "  domain-insecure: \"bogus.tst.\"\n").await;
    let (report, failed) = run_cases(addr, &nta, &[]).await;
    drop(unbound);
    assert!(
        failed.is_empty(),
        "unbound (fixture bug):\n  {}",
        report.join("\n  ")
    );
    let d = start_dnsward(
        &dir,
        &h.dnsward_toml("negative_trust_anchors = [\"bogus.tst.\"]\n"),
    )
    .await;
    let (report, failed) = run_cases(d.dns[0], &nta, &[]).await;
    d.shutdown(Duration::from_secs(1)).await;
    assert!(failed.is_empty(), "dnsward:\n  {}", report.join("\n  "));
}

/// KeyTrap (CVE-2023-50387): KEYTRAP_KEYS keys with one tag and
/// KEYTRAP_SIGS bad signatures could cost 576 RSA verifications; dnsward
/// answers SERVFAIL with an EDE at once, having spent at most its
/// `max_signature_checks` on the query (histogram
/// `dnsward_dnssec_signature_checks`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keytrap_zone_fails_fast_within_the_signature_budget() {
    if !tools_or_skip() {
        return;
    }
    const BUDGET: u32 = 64;
    let h = SignedHierarchy::start().await;
    let dir = TempDir::new("dnssec-keytrap");
    let d = start_dnsward(
        &dir,
        &h.dnsward_toml(&format!("max_signature_checks = {BUDGET}\n")),
    )
    .await;
    let c = CASES
        .iter()
        .find(|c| c.qname == "www.keytrap.tst.")
        .expect("keytrap case");
    let s = ask_case(d.dns[0], c).await;
    let bad = mismatches(c, &s, &[]);
    assert!(bad.is_empty(), "{s:?}: {}", bad.join(", "));
    assert!(s.took < Duration::from_secs(2), "took {:?}", s.took);
    let (_, body) = http_get(d.metrics_addr.expect("metrics"), "/metrics").await;
    let m = parse_metrics(&body);
    let sum = m
        .get("dnsward_dnssec_signature_checks_sum")
        .copied()
        .unwrap_or(-1.0);
    let count = m
        .get("dnsward_dnssec_signature_checks_count")
        .copied()
        .unwrap_or(0.0);
    d.shutdown(Duration::from_secs(1)).await;
    eprintln!("keytrap: {s:?}; {sum} signature checks over {count} client queries");
    assert!(
        count >= 1.0,
        "no dnsward_dnssec_signature_checks observation"
    );
    assert!(
        sum <= f64::from(BUDGET) * count && sum <= f64::from(BUDGET),
        "{sum} signature checks over {count} queries (budget {BUDGET} per query)"
    );
    assert!(
        (KEYTRAP_KEYS * KEYTRAP_SIGS) as f64 > 4.0 * f64::from(BUDGET),
        "the zone must be able to cost more than the budget"
    );
}
