//! RFC 5011 automated rollover of the root KSK, with faked time: the
//! signed hierarchy's root is re-signed with keys made here and served in
//! four stages while dnsward (the built binary under libfaketime, its
//! clock moved from a file) keeps its anchor state in `dnssec.state_dir`:
//!
//! 1. DNSKEY {K1}: K1 is the configured anchor, answers are secure;
//! 2. DNSKEY {K1, K2}, both signing: K2 is seen and held down (AddPend);
//! 3. 31 days later (hold-down 30 days, RFC 5011 2.4.1): K2 is trusted;
//! 4. DNSKEY {K1 revoked (REVOKE bit, self-signed), K2}: K1 is revoked;
//! 5. DNSKEY {K2}: still secure, and after a restart with K1 still in the
//!    config, the state directory (not the config) says what is trusted.
//!
//! States are read from `dnsward_dnssec_trust_anchor_info{zone, key_tag,
//! state}` and the state file (Unbound auto-trust-anchor-file format).
//! The same stages run against Unbound (auto-trust-anchor-file) as the
//! reference. Skipped, with a message, when libfaketime, the signing tools
//! or Unbound are missing.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::signed::*;
use crate::common::signed_servers::*;
use crate::common::*;
use crate::dnssec::{ask_case, mismatches, Case};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const BIN: &str = env!("CARGO_BIN_EXE_dnsward");

fn libfaketime() -> Option<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// dnsward as a process under libfaketime, its clock offset read from
/// `clock` at every call (FAKETIME_NO_CACHE).
struct Faked {
    proc: Proc,
    dns: SocketAddr,
    http: SocketAddr,
}

fn start_faked(config: &Path, clock: &Path, lib: &Path, log: &Path) -> Faked {
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env("LD_PRELOAD", lib)
        .env("FAKETIME_TIMESTAMP_FILE", clock)
        .env("FAKETIME_NO_CACHE", "1")
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(log)
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .expect("spawn dnsward");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc(child);
    let (mut dns, mut http) = (None, None);
    let mut lines = BufReader::new(stdout).lines();
    while dns.is_none() || http.is_none() {
        let Some(Ok(line)) = lines.next() else {
            panic!("dnsward exited before listening; log {}", log.display());
        };
        if let Some(a) = line.strip_prefix("listening dns udp+tcp ") {
            dns = a.parse().ok();
        } else if let Some(a) = line.strip_prefix("listening http ") {
            http = a.parse().ok();
        }
    }
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Faked {
        proc,
        dns: dns.expect("dns"),
        http: http.expect("http"),
    }
}

/// Move the faked clock to real time + `offset` (libfaketime syntax:
/// "+0", "+1h", "+31d").
fn set_clock(clock: &Path, offset: &str) {
    // Written aside and renamed: libfaketime never reads a half-written file.
    let tmp = clock.with_extension("new");
    std::fs::write(&tmp, format!("{offset}\n")).expect("clock file");
    std::fs::rename(&tmp, clock).expect("clock file");
}

/// `(key_tag, state)` of every root anchor dnsward reports.
async fn metric_states(http: SocketAddr) -> Vec<(u16, String)> {
    let (_, body) = http_get(http, "/metrics").await;
    body.lines()
        .filter(|l| l.starts_with("dnsward_dnssec_trust_anchor_info{"))
        .filter(|l| label(l, "zone").as_deref() == Some("."))
        .filter_map(|l| {
            Some((
                label(l, "key_tag")?.parse().ok()?,
                label(l, "state")?.to_ascii_lowercase(),
            ))
        })
        .collect()
}

fn label(line: &str, name: &str) -> Option<String> {
    let at = line.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &line[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Ask a new name (so its chain, the root DNSKEY included, is fetched
/// again once the faked clock has passed its TTLs) until `want` holds for
/// the anchor states, at most ~10 s.
async fn until_state(d: &Running, what: &str, mut want: impl FnMut(&[(u16, String)]) -> bool) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = udp_raw(
            d.dns,
            &make_query(&format!("probe{n}.nsec.tst."), RecordType::A, Some(1232))
                .to_vec()
                .expect("encode"),
            Duration::from_secs(2),
        )
        .await;
        let states = anchor_states(&d.states).await;
        if want(&states) {
            eprintln!("{what}: {states:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: anchor states {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn has(states: &[(u16, String)], tag: u16, state: &str) -> bool {
    states.iter().any(|(t, s)| *t == tag && s.contains(state))
}

/// The key tag in ldns-keygen's base name `K<zone>+<alg>+<tag>`.
fn tag_of(k: &Key) -> u16 {
    k.0.rsplit('+')
        .next()
        .and_then(|t| t.parse().ok())
        .expect("key tag")
}

/// The `.key` file's DNSKEY, one line, fields separated by single spaces.
fn dnskey_of(dir: &Path, k: &Key) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{}.key", k.0))).expect("key file");
    text.split(';')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Set the REVOKE bit (flags 257 -> 385) in the key's `.key` file, so
/// ldns-signzone publishes and signs with the revoked key (RFC 5011 2.1).
fn revoke(dir: &Path, k: &Key) -> Key {
    let path = dir.join(format!("{}.key", k.0));
    let text = std::fs::read_to_string(&path).expect("key file");
    std::fs::write(
        &path,
        text.replacen("DNSKEY\t257 ", "DNSKEY\t385 ", 1)
            .replacen("DNSKEY 257 ", "DNSKEY 385 ", 1),
    )
    .expect("key file");
    Key(k.0.clone())
}

/// Secure answer expected for a name of nsec.tst.
fn secure(qname: &'static str) -> Case {
    Case {
        name: "secure after the rollover",
        qname,
        qtype: RecordType::A,
        dnssec_ok: true,
        cd: false,
        rcode: ResponseCode::NoError,
        ad: true,
        ede: &[],
        answers: true,
        rrsigs: true,
    }
}

async fn assert_secure(dns: SocketAddr, qname: &'static str) {
    let c = secure(qname);
    let s = ask_case(dns, &c).await;
    let bad = mismatches(&c, &s, &[]);
    assert!(bad.is_empty(), "{qname}: {s:?}: {}", bad.join(", "));
}

/// Who rolls over: dnsward (states from its metrics) or the reference
/// Unbound (states from its auto-trust-anchor-file).
#[derive(Clone, Copy, PartialEq)]
enum Who {
    Dnsward,
    Unbound,
}

/// A resolver under the faked clock, and where its anchor states are read.
struct Running {
    _proc: Proc,
    dns: SocketAddr,
    states: Observer,
}

enum Observer {
    Metrics(SocketAddr),
    File(PathBuf),
}

async fn anchor_states(o: &Observer) -> Vec<(u16, String)> {
    match o {
        Observer::Metrics(http) => metric_states(*http).await,
        Observer::File(path) => unbound_states(path),
    }
}

/// `(key tag, state)` from Unbound's auto-trust-anchor-file lines
/// (`. 300 IN DNSKEY 257 3 13 ... ;{id = 1234 (ksk), size = 256b} ;;state=2 [  VALID  ] ...`).
fn unbound_states(path: &Path) -> Vec<(u16, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with(';') && l.contains("DNSKEY"))
        .filter_map(|l| {
            let id = l.split(";{id = ").nth(1)?.split(' ').next()?.parse().ok()?;
            let state = l
                .split(";;state=")
                .nth(1)?
                .split('[')
                .nth(1)?
                .split(']')
                .next()?;
            Some((id, state.trim().to_ascii_lowercase()))
        })
        .collect()
}

/// The resolver configured by `who`, anchored at `anchor` (K1's DNSKEY),
/// its state in `state`, its clock from `clock`.
async fn start(
    who: Who,
    h: &SignedHierarchy,
    dir: &TempDir,
    anchor: &str,
    clock: &Path,
    lib: &Path,
) -> Running {
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("mkdir");
    match who {
        Who::Dnsward => {
            let config = dir.write(
                "dnsward.toml",
                &h.dnsward_toml_anchored(anchor, &format!("state_dir = \"{}\"\n", state.display())),
            );
            let d = start_faked(&config, clock, lib, &dir.path().join("dnsward.log"));
            Running {
                _proc: d.proc,
                dns: d.dns,
                states: Observer::Metrics(d.http),
            }
        }
        Who::Unbound => {
            // The file is Unbound's own after the first start: written
            // only when missing, as an operator seeds it.
            let file = state.join("root.key");
            if !file.exists() {
                std::fs::write(&file, format!("{anchor}\n")).expect("anchor file");
            }
            let line = format!("auto-trust-anchor-file: \"{}\"", file.display());
            let env = [
                ("LD_PRELOAD", lib.as_os_str()),
                ("FAKETIME_TIMESTAMP_FILE", clock.as_os_str()),
                ("FAKETIME_NO_CACHE", std::ffi::OsStr::new("1")),
            ];
            let (proc, dns) = start_unbound_with(dir, h, &line, "", &env).await;
            Running {
                _proc: proc,
                dns,
                states: Observer::File(file),
            }
        }
    }
}

/// The whole rollover against `who`; panics naming the stage that failed.
async fn rollover(who: Who, lib: &Path) {
    let mut h = SignedHierarchy::start().await;
    let dir = TempDir::new("rfc5011");
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    let body = prepared().root_body.clone();
    let t = now();
    // Signatures valid across every faked jump (the children's: 90 days).
    let validity = window(t - 3600, t + 80 * DAY);
    let root = |signers: &[&Key]| {
        sign(
            &keys,
            ".",
            &zone_text(".", ROOT_HOST, &body),
            signers,
            &validity,
        )
        .expect("sign root")
    };
    let k1 = keygen(&keys, ".", "ECDSAP256SHA256").expect("K1");
    let k2 = keygen(&keys, ".", "ECDSAP256SHA256").expect("K2");
    let (tag1, tag2) = (tag_of(&k1), tag_of(&k2));
    let anchor = dnskey_of(&keys, &k1);
    let clock = dir.write("clock", "+0\n");

    // 1. Only K1, the configured anchor.
    h.restart_root(&root(&[&k1])).await;
    let r = start(who, &h, &dir, &anchor, &clock, lib).await;
    assert_secure(r.dns, "www.nsec.tst.").await;
    until_state(&r, "K1 valid", |s| has(s, tag1, "valid")).await;

    // 2. K2 published beside K1: seen, held down.
    h.restart_root(&root(&[&k1, &k2])).await;
    set_clock(&clock, "+1h");
    until_state(&r, "K2 added, pending", |s| has(s, tag2, "pend")).await;

    // 3. Past the hold-down (still seen at every probe): K2 trusted.
    set_clock(&clock, "+15d");
    until_state(&r, "K2 still pending at 15 days", |s| has(s, tag2, "pend")).await;
    set_clock(&clock, "+31d");
    until_state(&r, "K2 valid after 31 days", |s| has(s, tag2, "valid")).await;

    // 4. K1 revoked (self-signed with the REVOKE bit), K2 signs too.
    let k1r = revoke(&keys, &k1);
    h.restart_root(&root(&[&k1r, &k2])).await;
    set_clock(&clock, "+32d");
    let tag1r = tag1.wrapping_add(128);
    until_state(&r, "K1 revoked", |s| {
        has(s, tag1, "revoked") || has(s, tag1r, "revoked")
    })
    .await;
    assert_secure(r.dns, "mail.nsec.tst.").await;

    // 5. K2 alone; then a restart: the state directory, not the
    // configured K1, decides.
    h.restart_root(&root(&[&k2])).await;
    set_clock(&clock, "+33d");
    until_state(&r, "K2 still valid", |s| has(s, tag2, "valid")).await;
    assert_secure(r.dns, "www.nsec3.tst.").await;
    drop(r);
    let files: String = std::fs::read_dir(dir.path().join("state"))
        .expect("state dir")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let k2_key = dnskey_of(&keys, &k2);
    let k2_b64 = k2_key.rsplit(' ').next().unwrap_or_default();
    assert!(
        files.contains(k2_b64) && files.to_ascii_uppercase().contains("VALID"),
        "state directory does not hold K2 as VALID:\n{files}"
    );
    let r = start(who, &h, &dir, &anchor, &clock, lib).await;
    assert_secure(r.dns, "www.ed.tst.").await;
    let states = anchor_states(&r.states).await;
    assert!(
        has(&states, tag2, "valid"),
        "after a restart K2 is not trusted: {states:?}"
    );
}

/// The reference: Unbound's RFC 5011 (auto-trust-anchor-file) goes
/// through every stage of the fixture's rollover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_rolls_the_fixture_root_ksk_over_with_faked_time() {
    let Some(lib) = libfaketime() else {
        eprintln!("SKIPPED: libfaketime not installed (apt-get install faketime)");
        return;
    };
    if !have_signing_tools() || !Path::new("/usr/sbin/unbound").exists() {
        eprintln!("SKIPPED: needs ldnsutils, nsd and unbound");
        return;
    }
    rollover(Who::Unbound, &lib).await;
}

/// The same rollover against dnsward.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsward_rolls_the_root_ksk_over_by_rfc5011_with_faked_time() {
    let Some(lib) = libfaketime() else {
        eprintln!("SKIPPED: libfaketime not installed (apt-get install faketime)");
        return;
    };
    if !have_signing_tools() {
        return;
    }
    rollover(Who::Dnsward, &lib).await;
}
