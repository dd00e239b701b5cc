//! The query log over the wire: each line checked field by field for the
//! fast path (UDP) and the normal path (TCP), rotation under load with
//! `keep` files, `what = "all"` without clients, and reopening after
//! logrotate moved the file (what SIGHUP does).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn numbered(path: &Path, i: u32) -> PathBuf {
    dnsward::querylog::numbered(path, i)
}

/// dnsward with a court list (sinkhole, order 2026/77), an nxdomain list
/// and the given `[querylog]` body.
async fn start(tag: &str, querylog: &str) -> (Hierarchy, TempDir, dnsward::app::Running, PathBuf) {
    let h = Hierarchy::start().await;
    let dir = TempDir::new(tag);
    dir.write("court.txt", "banned.zz\n");
    dir.write("nx.txt", "nx.zz\n");
    let path = dir.path().join("queries.jsonl");
    let toml = base_toml(&format!(
        "{}\n[querylog]\npath = \"{}\"\n{querylog}\n\
         [[lists]]\nname = \"court\"\npath = \"court.txt\"\norder_id = \"2026/77\"\n\
         [[lists]]\nname = \"nx\"\npath = \"nx.txt\"\naction = \"nxdomain\"\n",
        h.resolver_toml(),
        path.display()
    ));
    let d = start_dnsward(&dir, &toml).await;
    (h, dir, d, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_queries_are_logged_field_by_field() {
    let (_h, _dir, d, path) = start("qlog-fields", "").await;
    let s = d.dns[0];
    let before = dnsward::policy::store::unix_secs();
    query(s, Proto::Udp, "www.Banned.zz.", RecordType::A).await;
    query(s, Proto::Tcp, "banned.zz.", RecordType::AAAA).await;
    query(s, Proto::Udp, "a.nx.zz.", RecordType::TXT).await;
    // Not blocked: not in a `what = "blocked"` log.
    query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    wait_until("three lines", || async { lines(&path).len() >= 3 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = lines(&path);
    assert_eq!(got.len(), 3, "{got:?}");
    let want = [
        ("www.banned.zz", "A", "court", Some("2026/77"), "sinkhole"),
        ("banned.zz", "AAAA", "court", Some("2026/77"), "sinkhole"),
        ("a.nx.zz", "TXT", "nx", None, "nxdomain"),
    ];
    for (l, (qname, qtype, list, order, action)) in got.iter().zip(want) {
        let obj = l.as_object().expect("object");
        assert_eq!(l["qname"], qname, "{l}");
        assert_eq!(l["qtype"], qtype, "{l}");
        assert_eq!(l["list"], list, "{l}");
        assert_eq!(l["action"], action, "{l}");
        assert_eq!(l["client"], "127.0.0.0/24", "{l}");
        match order {
            Some(o) => assert_eq!(l["order_id"], o, "{l}"),
            None => assert!(!obj.contains_key("order_id"), "{l}"),
        }
        let t = l["time"].as_str().expect("time");
        let secs = dnsward::config::parse_rfc3339(t).expect("rfc 3339");
        assert!(secs >= before && secs <= before + 30, "{t}");
        assert!(
            t.ends_with('Z') && t.contains('.'),
            "millisecond UTC time: {t}"
        );
        let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            l["group"], "default",
            "no [[groups]]: every client is in the default group"
        );
        let mut expect = vec![
            "action", "client", "group", "list", "qname", "qtype", "time",
        ];
        if order.is_some() {
            expect.push("order_id");
            expect.sort_unstable();
        }
        assert_eq!(keys, expect, "no other field");
    }
    let (_, text) = http_get(d.metrics_addr.expect("metrics"), "/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(m.get("dnsward_querylog_lines_total"), Some(&3.0), "{text}");
    assert_eq!(m.get("dnsward_querylog_dropped_total"), Some(&0.0));
    d.shutdown(Duration::ZERO).await;
}

/// `rounds` bursts of 100 blocked UDP queries, each burst's answers read
/// before the next; returns how many were answered.
async fn blast(s: std::net::SocketAddr, rounds: usize) -> u64 {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let packet = make_query("x.banned.zz.", RecordType::A, None)
        .to_vec()
        .expect("encode");
    let mut answered = 0u64;
    let mut buf = [0u8; 512];
    for _ in 0..rounds {
        for _ in 0..100 {
            sock.send_to(&packet, s).await.expect("send");
        }
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), sock.recv(&mut buf)).await
        {
            answered += 1;
            if answered.is_multiple_of(100) {
                break;
            }
        }
    }
    // Late answers of the last bursts (a loaded machine).
    let sent = (rounds * 100) as u64;
    while answered < sent {
        match tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await {
            Ok(Ok(_)) => answered += 1,
            _ => break,
        }
    }
    answered
}

/// (lines written, entries dropped) from `/metrics`.
async fn counts(m: std::net::SocketAddr) -> (u64, u64) {
    let (_, text) = http_get(m, "/metrics").await;
    let p = parse_metrics(&text);
    let get = |k: &str| p.get(k).copied().unwrap_or(0.0) as u64;
    (
        get("dnsward_querylog_lines_total"),
        get("dnsward_querylog_dropped_total"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_but_answers_everything() {
    let (_h, _dir, d, path) = start(
        "qlog-full",
        "queue = 1
",
    )
    .await;
    let answered = blast(d.dns[0], 50).await;
    assert_eq!(answered, 5_000, "a full log queue must not cost answers");
    let m = d.metrics_addr.expect("metrics");
    wait_until("every answer logged or counted", || async {
        let (l, dr) = counts(m).await;
        l + dr == answered
    })
    .await;
    let (written, dropped) = counts(m).await;
    assert!(dropped > 0, "a one-entry queue under bursts must overflow");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lines(&path).len() as u64, written);
    d.shutdown(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_rotates_under_load_and_keeps_its_files() {
    let (_h, _dir, d, path) = start("qlog-rotate", "max_size_mb = 1\nkeep = 2\n").await;
    let s = d.dns[0];
    // About 140 bytes a line, 7,500 a file: 30,000 lines rotate three times.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let packet = make_query("x.banned.zz.", RecordType::A, None)
        .to_vec()
        .expect("encode");
    let mut answered = 0u64;
    let mut buf = [0u8; 512];
    for _ in 0..300 {
        for _ in 0..100 {
            sock.send_to(&packet, s).await.expect("send");
        }
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), sock.recv(&mut buf)).await
        {
            answered += 1;
            if answered.is_multiple_of(100) {
                break;
            }
        }
    }
    assert!(answered > 25_000, "answered {answered}");
    let m = d.metrics_addr.expect("metrics");
    let counts = || async move {
        let (_, text) = http_get(m, "/metrics").await;
        let p = parse_metrics(&text);
        let get = |k: &str| p.get(k).copied().unwrap_or(0.0) as u64;
        (
            get("dnsward_querylog_lines_total"),
            get("dnsward_querylog_dropped_total"),
        )
    };
    wait_until("every answered query logged or counted", || async {
        let (l, dr) = counts().await;
        l + dr >= answered
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (written, _) = counts().await;
    let (cur, one, two) = (
        lines(&path),
        lines(&numbered(&path, 1)),
        lines(&numbered(&path, 2)),
    );
    assert!(!numbered(&path, 3).exists(), "keep = 2");
    for f in [&path, &numbered(&path, 1), &numbered(&path, 2)] {
        let size = std::fs::metadata(f).expect("file").len();
        assert!(size <= 1024 * 1024, "{}: {size} bytes", f.display());
    }
    // Full rotated files, and no line lost or cut among those kept.
    assert!(
        one.len() > 5_000 && two.len() > 5_000,
        "{} {}",
        one.len(),
        two.len()
    );
    let kept = (cur.len() + one.len() + two.len()) as u64;
    assert!(kept < written, "older files were rotated away");
    for l in cur.iter().chain(&one).chain(&two) {
        assert_eq!(l["qname"], "x.banned.zz");
        assert_eq!(l["order_id"], "2026/77");
    }
    d.shutdown(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_answers_without_clients_and_reopen_after_a_move() {
    let (_h, dir, d, path) = start(
        "qlog-all",
        "what = \"all\"\nclient_ipv4_prefix = 0\nclient_ipv6_prefix = 0\n",
    )
    .await;
    let s = d.dns[0];
    query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    // The second one is a cache hit on the fast path.
    query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;
    query(s, Proto::Udp, "banned.zz.", RecordType::A).await;
    wait_until("three lines", || async { lines(&path).len() >= 3 }).await;
    let got = lines(&path);
    for l in &got[..2] {
        assert_eq!(l["action"], "resolved", "{l}");
        assert_eq!(l["rcode"], "NOERROR", "{l}");
        assert!(l.get("list").is_none(), "{l}");
    }
    assert_eq!(got[2]["action"], "sinkhole");
    assert!(
        got.iter().all(|l| l.get("client").is_none()),
        "prefix 0: no client"
    );

    // logrotate: move the file away, then SIGHUP (reload_all).
    let moved = dir.path().join("queries.jsonl.moved");
    std::fs::rename(&path, &moved).expect("mv");
    d.reload_all();
    tokio::time::sleep(Duration::from_millis(500)).await;
    query(s, Proto::Udp, "banned.zz.", RecordType::AAAA).await;
    wait_until("a line in the new file", || async {
        lines(&path).len() == 1
    })
    .await;
    assert_eq!(lines(&path)[0]["qtype"], "AAAA");
    assert_eq!(lines(&moved).len(), 3);
    d.shutdown(Duration::ZERO).await;
}
