//! `dnsward report` end to end: a server with two ordered lists, a list
//! change reloaded, blocked queries, then the report in md, csv and json
//! with the numbers checked per order id, and `--since` cutting them.

use std::process::Command;
use std::time::Duration;

use crate::common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_dnsward");

fn report(config: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("report")
        .arg("--config")
        .arg(config)
        .args(extra)
        .output()
        .expect("run dnsward report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_counts_changes_and_blocks_per_order() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("report");
    let court = dir.write("court.txt", "banned.zz\nalso.zz\n");
    dir.write("nx.txt", "nx.zz\n");
    let (audit, qlog) = (dir.path().join("audit.jsonl"), dir.path().join("q.jsonl"));
    let toml = base_toml(&format!(
        "{}\n[audit]\nlog = \"{}\"\n[querylog]\npath = \"{}\"\n\
         [[lists]]\nname = \"court\"\npath = \"court.txt\"\norder_id = \"2026/77\"\n\
         [[lists]]\nname = \"nx\"\npath = \"nx.txt\"\naction = \"nxdomain\"\norder_id = \"ORD-2\"\n",
        h.resolver_toml(),
        audit.display(),
        qlog.display()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    for _ in 0..3 {
        query(s, Proto::Udp, "banned.zz.", RecordType::A).await;
    }
    query(s, Proto::Tcp, "nx.zz.", RecordType::A).await;
    query(s, Proto::Udp, "www.example.zz.", RecordType::A).await;

    // A change to the order: one name added, reloaded (SIGHUP's path).
    std::fs::write(&court, "banned.zz\nalso.zz\nthird.zz\n").expect("write");
    d.reload_all();
    wait_until("third.zz blocked", || async {
        let (m, _) = query(s, Proto::Udp, "third.zz.", RecordType::A).await;
        ede_of(&m).is_some()
    })
    .await;
    query(s, Proto::Udp, "third.zz.", RecordType::AAAA).await;
    // 3 + 1 + 2 blocked (the wait's own successful query included).
    let count = || {
        std::fs::read_to_string(&qlog)
            .unwrap_or_default()
            .lines()
            .count()
    };
    wait_until("six query log lines", || async { count() >= 6 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(), 6);
    let config = dir.path().join("dnsward.toml");
    let today = dnsward::policy::store::rfc3339(dnsward::policy::store::unix_secs() as u64)[..10]
        .to_string();

    let json: Value = serde_json::from_str(&report(&config, &["--format", "json"])).expect("json");
    let orders = json["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), 2, "{json:#}");
    let order = |id: &str| {
        orders
            .iter()
            .find(|o| o["order_id"] == id)
            .unwrap_or_else(|| panic!("order {id} in {json:#}"))
    };
    let c = order("2026/77");
    assert_eq!(c["list"], "court");
    assert_eq!(c["state"], "active");
    assert_eq!(c["entries_now"], 3);
    assert_eq!(c["blocked_total"], 5);
    assert_eq!(c["blocked_per_day"][&today], 5);
    let changes = c["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{c:#}");
    assert_eq!(
        (
            changes[0]["event"].as_str(),
            changes[0]["added"].as_u64(),
            changes[0]["removed"].as_u64()
        ),
        (Some("reloaded"), Some(2), Some(0))
    );
    assert_eq!(
        (
            changes[1]["added"].as_u64(),
            changes[1]["removed"].as_u64(),
            changes[1]["entries"].as_u64()
        ),
        (Some(1), Some(0), Some(3))
    );
    assert_ne!(changes[0]["sha256"], changes[1]["sha256"]);
    assert_eq!(c["sha256_now"], changes[1]["sha256"]);
    assert_eq!(c["first_enforced"], changes[0]["time"]);
    let n = order("ORD-2");
    assert_eq!(
        (n["list"].as_str(), n["entries_now"].as_u64()),
        (Some("nx"), Some(1))
    );
    assert_eq!(n["blocked_total"], 1);
    assert_eq!(n["changes"].as_array().map(Vec::len), Some(1));

    let md = report(&config, &["--format", "md"]);
    assert!(md.contains("## Order 2026/77 (list court)"), "{md}");
    assert!(md.contains("| Entries now | 3 |"), "{md}");
    assert!(md.contains("| Blocked queries | 5 |"), "{md}");
    assert!(md.contains(&format!("| {today} | 5 |")), "{md}");
    assert!(md.contains("## Order ORD-2 (list nx)"), "{md}");
    assert!(md.contains("| Blocked queries | 1 |"), "{md}");

    let csv = report(&config, &["--format", "csv"]);
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][0], "order_id");
    let court_rows: Vec<_> = rows.iter().filter(|r| r[0] == "2026/77").collect();
    let summary = court_rows
        .iter()
        .find(|r| r[2] == "summary")
        .expect("summary");
    assert_eq!((summary[7], summary[9]), ("3", "5"), "{csv}");
    assert_eq!(court_rows.iter().filter(|r| r[2] == "change").count(), 2);
    let day = court_rows
        .iter()
        .find(|r| r[2] == "blocked_day")
        .expect("day");
    assert_eq!((day[3], day[9]), (today.as_str(), "5"));
    assert!(
        rows.iter()
            .any(|r| r[0] == "ORD-2" && r[2] == "summary" && r[9] == "1"),
        "{csv}"
    );

    // Nothing happened after tomorrow.
    let tomorrow =
        dnsward::policy::store::rfc3339(dnsward::policy::store::unix_secs() as u64 + 86_400)[..10]
            .to_string();
    let later: Value = serde_json::from_str(&report(
        &config,
        &["--format", "json", "--since", &tomorrow],
    ))
    .expect("json");
    for o in later["orders"].as_array().expect("orders") {
        assert_eq!(o["blocked_total"], 0, "{o:#}");
        assert_eq!(o["changes"].as_array().map(Vec::len), Some(0));
        assert_eq!(o["entries_now"], if o["list"] == "court" { 3 } else { 1 });
    }
    d.shutdown(Duration::ZERO).await;
}
