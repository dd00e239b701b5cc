//! RPZ and per-list policy over the wire: every RPZ action answered over
//! UDP and TCP against the loopback hierarchy, unsupported triggers left
//! unapplied and reported, per-list EDE / order id / redirect / drop / TTL /
//! dry-run, the `/explain` API, and guarded swaps (shrink, checksum
//! sidecar, forced reload) with their metrics and audit lines.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use sha2::Digest;

const BIN: &str = env!("CARGO_BIN_EXE_dnsward");

/// The owner of the single SOA in the authority section.
fn soa_owner(m: &Message) -> Option<String> {
    match &m.authorities[..] {
        [r] if matches!(r.data, RData::SOA(_)) => Some(r.name.to_ascii()),
        _ => None,
    }
}

/// Is `name` answered by a block list (EDE present)?
async fn blocked(server: SocketAddr, name: &str) -> bool {
    let (m, _) = query(server, Proto::Udp, name, RecordType::A).await;
    assert_ne!(m.metadata.response_code, ResponseCode::ServFail, "{name}");
    ede_of(&m).is_some()
}

/// One sample of `/metrics` whose labels include all of `labels`.
async fn metric(addr: SocketAddr, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    parse_metrics(&body)
        .into_iter()
        .filter(|(k, _)| {
            k.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| v)
        .sum()
}

/// Run the real binary (blocking) off the runtime.
async fn run_bin(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .expect("run dnsward")
    })
    .await
    .expect("join")
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in the file"))
}

/// A policy zone exercising every action on names of the test hierarchy
/// (real answers exist for most, so a block is distinguishable from the
/// name simply not resolving).
const ZONE: &str = "$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
  NS localhost.
; NXDOMAIN for a name that exists (TXT \"hello world\")
txt.example.zz CNAME .
; only the names below www
*.www.example.zz CNAME .
; NODATA (the real name has an MX)
mail.example.zz CNAME *.
; never blocked, though the `court` list covers ads.example.zz
ads.example.zz CNAME rpz-passthru.
drop.example.zz CNAME rpz-drop.
alias.example.zz CNAME rpz-tcp-only.
local.example.zz A 10.0.0.1
  AAAA 2001:db8::1
walled.example.zz CNAME www.example.zz.
; unsupported triggers: www.example.zz's address, and the name server of
; everything in example.zz
32.10.2.0.192.rpz-ip CNAME .
ns1.example.zz.rpz-nsdname CNAME .
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpz_actions_over_udp_and_tcp() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("rpz");
    dir.write("court.txt", "ads.example.zz\n");
    let zone = dir.write("policy.rpz", ZONE);
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"court\"\npath = \"court.txt\"\n[[lists]]\nname = \"rpz\"\npath = \"policy.rpz\"\nformat = \"rpz\"\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    let rpz_ede = Some((15, "blocked by list rpz".to_string()));

    for proto in [Proto::Udp, Proto::Tcp] {
        // `x CNAME .`: NXDOMAIN with a synthetic SOA owned by the trigger,
        // for every qtype; the exact trigger does not cover names below.
        for qtype in [RecordType::TXT, RecordType::A] {
            let (m, _) = query(s, proto, "txt.example.zz.", qtype).await;
            assert_eq!(
                m.metadata.response_code,
                ResponseCode::NXDomain,
                "{proto:?} {qtype}"
            );
            assert!(m.answers.is_empty());
            assert_eq!(soa_owner(&m).as_deref(), Some("txt.example.zz."));
            assert_eq!(ede_of(&m), rpz_ede);
        }
        let (m, _) = query(s, proto, "x.txt.example.zz.", RecordType::A).await;
        assert_eq!(ede_of(&m), None, "exact trigger covers x.txt");
        assert_eq!(
            soa_owner(&m).as_deref(),
            Some("example.zz."),
            "the real zone's SOA"
        );

        // `*.x CNAME .` alone: names below are NXDOMAIN, x itself resolves.
        let (m, _) = query(s, proto, "a.www.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(soa_owner(&m).as_deref(), Some("www.example.zz."));
        assert_eq!(ede_of(&m), rpz_ede);
        let (m, _) = query(s, proto, "b.a.www.example.zz.", RecordType::AAAA).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let (m, _) = query(s, proto, "www.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            rdata(&m),
            vec!["192.0.2.10"],
            "apex of *.www is not blocked"
        );
        assert_eq!(ede_of(&m), None);

        // `x CNAME *.`: NODATA.
        let (m, _) = query(s, proto, "mail.example.zz.", RecordType::MX).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty(), "{:?}", m.answers);
        assert_eq!(soa_owner(&m).as_deref(), Some("mail.example.zz."));
        assert_eq!(ede_of(&m), rpz_ede);

        // `rpz-passthru.` beats the other block list (exact name only).
        let (m, _) = query(s, proto, "ads.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["192.0.2.66"]);
        assert_eq!(ede_of(&m), None);
        let (m, _) = query(s, proto, "tracker.ads.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["0.0.0.0"]);
        assert_eq!(ede_of(&m), Some((15, "blocked by list court".into())));

        // Local data: the records, with the zone's $TTL; other types NODATA.
        let (m, _) = query(s, proto, "local.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(rdata(&m), vec!["10.0.0.1"]);
        assert_eq!(m.answers[0].ttl, 60);
        assert_eq!(m.answers[0].name.to_ascii(), "local.example.zz.");
        assert_eq!(ede_of(&m), rpz_ede);
        let (m, _) = query(s, proto, "local.example.zz.", RecordType::AAAA).await;
        assert_eq!(rdata(&m), vec!["2001:db8::1"]);
        let (m, _) = query(s, proto, "local.example.zz.", RecordType::MX).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert_eq!(soa_owner(&m).as_deref(), Some("local.example.zz."));

        // CNAME rewrite into the hierarchy: the CNAME, then the target's A.
        let (m, _) = query(s, proto, "walled.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let got: Vec<_> = m
            .answers
            .iter()
            .map(|r| (r.name.to_ascii(), r.data.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "walled.example.zz.".to_string(),
                    "www.example.zz.".to_string()
                ),
                ("www.example.zz.".to_string(), "192.0.2.10".to_string()),
            ]
        );
        assert!(matches!(m.answers[0].data, RData::CNAME(_)));

        // Unsupported triggers are not applied: www.example.zz's address
        // (rpz-ip) and names served by ns1.example.zz (rpz-nsdname) resolve.
        let (m, _) = query(s, proto, "deep.sub.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["192.0.2.12"]);
        assert_eq!(ede_of(&m), None);
    }

    // `rpz-tcp-only.`: TC=1 and nothing else over UDP, the full normal
    // answer over TCP.
    let (m, _) = query(s, Proto::Udp, "alias.example.zz.", RecordType::A).await;
    assert!(m.metadata.truncation, "TC over UDP");
    assert!(m.answers.is_empty());
    let (m, _) = query(s, Proto::Tcp, "alias.example.zz.", RecordType::A).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&m), vec!["www.example.zz.", "192.0.2.10"]);
    assert_eq!(ede_of(&m), None);

    // `rpz-drop.`: no reply at all, on either transport.
    let q = make_query("drop.example.zz.", RecordType::A, Some(1232))
        .to_vec()
        .expect("encode");
    let t0 = Instant::now();
    assert_eq!(udp_raw(s, &q, Duration::from_secs(1)).await, None);
    assert!(t0.elapsed() >= Duration::from_millis(900));
    assert_eq!(tcp_raw(s, &q, Duration::from_secs(1)).await, None);
    // The server is still answering.
    let (m, _) = query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["192.0.2.10"]);
    let addr = d.metrics_addr.expect("metrics");
    assert_eq!(
        metric(
            addr,
            "dnsward_blocked_total",
            &[("list", "rpz"), ("action", "drop")]
        )
        .await,
        2.0
    );

    // `dnsward check-list --format rpz` counts the unsupported triggers as
    // rejected lines, naming file and line.
    let out = run_bin(vec![
        "check-list".into(),
        zone.display().to_string(),
        "--format".into(),
        "rpz".into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for (needle, why) in [
        ("rpz-ip CNAME", "rpz-ip trigger is not supported"),
        ("rpz-nsdname CNAME", "rpz-nsdname trigger is not supported"),
    ] {
        let want = format!("{}:{}: {why}", zone.display(), line_of(ZONE, needle));
        assert!(stdout.contains(&want), "missing `{want}` in:\n{stdout}");
    }
    // 9 entries on 9 lines (the AAAA continuation line included) for 8
    // names; $TTL, SOA, apex NS and 6 comments; 2 rejected.
    assert!(
        stdout.contains(
            "format rpz, 20 lines: 9 entries accepted (8 distinct names) on 9 lines, 9 comments/blank, 0 skipped placeholders, 2 rejected (0 IP addresses)"
        ),
        "{stdout}"
    );
    // The compiled list holds the same 8 names.
    let p = d.store.load();
    let rpz = p.lists[1].as_ref().expect("rpz loaded");
    assert_eq!(rpz.set.len(), 8);
    assert_eq!(rpz.report.rejected, 2);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_list_policy_over_the_wire_and_explain() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("perlist");
    dir.write("court.txt", "# order 2026/17\nads.example.zz\n");
    dir.write("allow.txt", "ok.ads.example.zz\n");
    dir.write("garden.txt", "txt.example.zz\n");
    dir.write("drop.txt", "deep.sub.example.zz\n");
    dir.write("ttl.txt", "mail.example.zz\n");
    dir.write("trial.txt", "alias.example.zz\n");
    let lists = r#"
[[lists]]
name = "court"
path = "court.txt"
ede = 16
ede_text = "Blocked by court order"
order_id = "ORD-2026-17"

[[lists]]
name = "exempt"
path = "allow.txt"
kind = "allow"

[[lists]]
name = "garden"
path = "garden.txt"
action = "redirect"
redirect_to = "www.example.zz"

[[lists]]
name = "dropped"
path = "drop.txt"
action = "drop"

[[lists]]
name = "short"
path = "ttl.txt"
ttl_secs = 42

[[lists]]
name = "trial"
path = "trial.txt"
mode = "dry-run"
"#;
    let toml = base_toml(&format!("{}{lists}", h.resolver_toml()));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    let addr = d.metrics_addr.expect("metrics");

    for proto in [Proto::Udp, Proto::Tcp] {
        // EDE 16 Censored, the list's text, name and order reference.
        let (m, _) = query(s, proto, "tracker.ads.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["0.0.0.0"]);
        let (code, text) = ede_of(&m).expect("EDE");
        assert_eq!(code, 16);
        assert_eq!(
            text,
            "Blocked by court order (list court), order ORD-2026-17"
        );
        // The allow list wins.
        let (m, _) = query(s, proto, "ok.ads.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["192.0.2.68"]);
        assert_eq!(ede_of(&m), None);

        // Redirect to a walled garden, resolved as usual.
        let (m, _) = query(s, proto, "txt.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(rdata(&m), vec!["www.example.zz.", "192.0.2.10"]);
        assert_eq!(m.answers[0].name.to_ascii(), "txt.example.zz.");
        assert_eq!(ede_of(&m), Some((15, "blocked by list garden".into())));

        // ttl_secs: the blocked answer's TTL and the negative TTL.
        let (m, _) = query(s, proto, "mail.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["0.0.0.0"]);
        assert_eq!(m.answers[0].ttl, 42);
        let (m, _) = query(s, proto, "mail.example.zz.", RecordType::MX).await;
        assert!(m.answers.is_empty());
        match &m.authorities[..] {
            [soa] => match &soa.data {
                RData::SOA(x) => assert_eq!((soa.ttl, x.minimum), (42, 42)),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    // Drop: silence on both transports, for the name and below it.
    for name in ["deep.sub.example.zz.", "x.deep.sub.example.zz."] {
        let q = make_query(name, RecordType::A, Some(1232))
            .to_vec()
            .expect("encode");
        assert_eq!(udp_raw(s, &q, Duration::from_secs(1)).await, None, "{name}");
        assert_eq!(tcp_raw(s, &q, Duration::from_secs(1)).await, None, "{name}");
    }

    // Dry-run: the real answer, and the would-be block counted.
    let before = metric(addr, "dnsward_dry_run_matches_total", &[("list", "trial")]).await;
    for proto in [Proto::Udp, Proto::Tcp] {
        let (m, _) = query(s, proto, "alias.example.zz.", RecordType::A).await;
        assert_eq!(rdata(&m), vec!["www.example.zz.", "192.0.2.10"]);
        assert_eq!(ede_of(&m), None);
    }
    let after = metric(addr, "dnsward_dry_run_matches_total", &[("list", "trial")]).await;
    assert_eq!(after - before, 2.0);
    assert_eq!(
        metric(addr, "dnsward_blocked_total", &[("list", "trial")]).await,
        0.0
    );

    // /explain: the deciding rule with list, file line and order id.
    let explain = |name: &'static str| async move {
        let (status, body) = http_get(addr, &format!("/explain?name={name}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")
    };
    let e = explain("tracker.ads.example.zz").await;
    assert_eq!(e["verdict"], "blocked");
    let by = &e["decided_by"];
    assert_eq!(by["list"], "court");
    assert_eq!(by["kind"], "block");
    assert_eq!(by["line"], 2);
    assert_eq!(by["entry"], "ads.example.zz");
    assert_eq!(by["order_id"], "ORD-2026-17");
    assert!(by["file"].as_str().unwrap_or("").ends_with("court.txt"));

    let e = explain("ok.ads.example.zz").await;
    assert_eq!(e["verdict"], "allowed");
    assert_eq!(e["decided_by"]["list"], "exempt");
    assert_eq!(e["decided_by"]["kind"], "allow");
    let chain: Vec<(String, String)> = e["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|r| {
            (
                r["list"].as_str().unwrap_or("").to_string(),
                r["order_id"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        vec![
            ("exempt".to_string(), "-".to_string()),
            ("court".to_string(), "ORD-2026-17".to_string())
        ],
        "the overridden court rule is shown too"
    );

    let e = explain("alias.example.zz").await;
    assert_eq!(e["verdict"], "not listed (dry-run would block)");
    assert_eq!(e["decided_by"]["list"], "trial");
    let e = explain("www.example.zz").await;
    assert_eq!(e["verdict"], "not listed");
    assert!(e["chain"].as_array().expect("chain").is_empty());
    let (status, _) = http_get(addr, "/explain").await;
    assert_eq!(status, 400);
    d.shutdown(Duration::from_secs(1)).await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The complete (newline-terminated) lines of the audit log.
fn audit_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line `{l}`: {e}")))
        .collect()
}

/// Wait until the audit log has a line matching `pred` (metrics are
/// counted just before the line is written); return the first such line.
async fn audit_line(
    path: &std::path::Path,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = audit_lines(path).into_iter().find(|l| pred(l)) {
            return l;
        }
        assert!(Instant::now() < deadline, "no audit line: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_swaps_shrink_checksum_force_and_audit() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("guarded");
    let names: Vec<String> = (0..10).map(|i| format!("o{i}.example.zz")).collect();
    let ten = names.join("\n") + "\n";
    let list = dir.write("orders.txt", &ten);
    let toml = base_toml(&format!(
        "{}[audit]\nlog = \"audit.jsonl\"\n[[lists]]\nname = \"orders\"\npath = \"orders.txt\"\norder_id = \"ORD-9\"\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    let addr = d.metrics_addr.expect("metrics");
    let audit = dir.path().join("audit.jsonl");
    let failures = |reason: &'static str| async move {
        metric(
            addr,
            "dnsward_list_reload_failures_total",
            &[("list", "orders"), ("reason", reason)],
        )
        .await
    };
    for n in &names {
        assert!(blocked(s, &format!("{n}.")).await, "{n}");
    }
    let a = audit_lines(&audit);
    assert_eq!(a.len(), 1, "start-up load audited: {a:?}");
    assert_eq!(a[0]["result"], "reloaded");
    assert_eq!(a[0]["list"], "orders");
    assert_eq!(a[0]["order_id"], "ORD-9");
    assert_eq!(
        (
            a[0]["entries_before"].as_u64(),
            a[0]["entries_after"].as_u64()
        ),
        (Some(0), Some(10))
    );
    assert_eq!(a[0]["added"], 10);
    assert_eq!(a[0]["sha256"], sha256_hex(ten.as_bytes()));

    // 1. Shrink 10 -> 2 (80% > max_shrink_percent 50): refused, the ten
    //    names stay blocked.
    let two = "o0.example.zz\no1.example.zz\n";
    std::fs::write(&list, two).expect("shrink");
    wait_until("shrink refused", || async {
        failures("shrink").await >= 1.0
    })
    .await;
    assert!(blocked(s, "o5.example.zz.").await, "old version kept");
    let r = &audit_line(&audit, "refused", |l| l["result"] == "refused").await;
    assert_eq!(r["reason"], "shrink");
    assert_eq!(
        (r["entries_before"].as_u64(), r["entries_after"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(
        (r["added"].as_u64(), r["removed"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["sha256"], sha256_hex(ten.as_bytes()), "serving version");
    assert_eq!(r["forced"], false);
    assert!(
        r["error"].as_str().unwrap_or("").contains("remove 8 of 10"),
        "{r}"
    );

    // `dnsward reload` without --force is refused too (exit status 1).
    let out = run_bin(vec!["reload".into(), "--admin".into(), addr.to_string()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("\"reason\": \"shrink\""), "{stdout}");
    assert!(blocked(s, "o9.example.zz.").await);

    // 2. Forced: accepted.
    let (status, body) = http_post(addr, "/admin/reload?force=1").await;
    assert_eq!(status, 200, "{body}");
    let out: serde_json::Value = serde_json::from_str(&body).expect("json");
    let o = &out["lists"][0];
    assert_eq!(o["result"], "reloaded");
    assert_eq!(
        (
            o["entries_before"].as_u64(),
            o["entries_after"].as_u64(),
            o["added"].as_u64(),
            o["removed"].as_u64()
        ),
        (Some(10), Some(2), Some(0), Some(8))
    );
    assert!(
        !blocked(s, "o5.example.zz.").await,
        "forced version serving"
    );
    assert!(blocked(s, "o1.example.zz.").await);
    let last = audit_lines(&audit).pop().expect("line");
    assert_eq!(last["result"], "reloaded");
    assert_eq!(last["forced"], true);
    assert_eq!(last["entries_after"], 2);
    assert_eq!(last["removed"], 8);
    assert_eq!(last["sha256"], sha256_hex(two.as_bytes()));

    // 3. A sidecar with the wrong digest: refused (reason checksum). The
    //    sidecar is written first, so every reload the watcher runs in
    //    between is refused as well.
    let three = "o0.example.zz\no1.example.zz\no2.example.zz\n";
    let sidecar = dir.path().join("orders.txt.sha256");
    std::fs::write(&sidecar, format!("{}  orders.txt\n", "ab".repeat(32))).expect("sidecar");
    std::fs::write(&list, three).expect("grow");
    wait_until("checksum refused", || async {
        failures("checksum").await >= 1.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !blocked(s, "o2.example.zz.").await,
        "unverified version not served"
    );
    assert!(blocked(s, "o0.example.zz.").await);
    let bad = audit_line(&audit, "checksum", |l| l["reason"] == "checksum").await;
    assert_eq!(bad["result"], "refused");
    assert_eq!(bad["sha256"], sha256_hex(two.as_bytes()), "serving version");
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or("")
            .contains("does not match"),
        "{bad}"
    );
    // A forced reload does not skip the checksum.
    let (status, _) = http_post(addr, "/admin/reload?force=1").await;
    assert_eq!(status, 409);
    assert!(!blocked(s, "o2.example.zz.").await);

    // 4. The right digest, `sha256sum` style: accepted.
    std::fs::write(
        &sidecar,
        format!("{}  orders.txt\n", sha256_hex(three.as_bytes())),
    )
    .expect("sidecar");
    wait_until("verified version serving", || blocked(s, "o2.example.zz.")).await;
    let last = audit_lines(&audit).pop().expect("line");
    assert_eq!(last["result"], "reloaded");
    assert_eq!(last["sha256"], sha256_hex(three.as_bytes()));
    assert_eq!(
        (
            last["entries_before"].as_u64(),
            last["entries_after"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(last["added"], 1);

    // One audit line per accepted and per refused reload, no more.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let a = audit_lines(&audit);
    let mut by_result: HashMap<String, u64> = HashMap::new();
    for l in &a {
        assert_eq!(l["list"], "orders");
        assert!(l["time"].as_str().unwrap_or("").ends_with('Z'));
        *by_result
            .entry(l["result"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let reloads = metric(addr, "dnsward_list_reloads_total", &[("list", "orders")]).await;
    let refusals = failures("shrink").await + failures("checksum").await;
    assert_eq!(
        by_result.get("reloaded").copied().unwrap_or(0) as f64,
        reloads
    );
    assert_eq!(
        by_result.get("refused").copied().unwrap_or(0) as f64,
        refusals
    );
    assert_eq!(by_result.len(), 2, "{by_result:?}");
    assert_eq!(reloads, 3.0, "start-up, forced, verified");
    d.shutdown(Duration::from_secs(1)).await;
}
