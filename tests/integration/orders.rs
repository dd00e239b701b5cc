//! Dated orders over the wire: a list with `effective_from` and
//! `expires_at` a few seconds ahead blocks nothing before its start,
//! blocks inside its window and stops on its own at its end, with no
//! reload; `explain`, `dnsward_list_state` and the audit log follow.

use crate::common::*;
use dnsward::policy::store::{rfc3339, unix_secs};
use hickory_proto::rr::RecordType;

async fn blocked(server: std::net::SocketAddr, name: &str) -> bool {
    let (m, _) = query(server, Proto::Udp, name, RecordType::A).await;
    ede_of(&m).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dated_list_starts_and_expires_without_reload() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("orders");
    dir.write("court.txt", "banned.zz\n");
    dir.write("always.txt", "always.zz\n");
    let now = unix_secs() as u64;
    let (from, until) = (rfc3339(now + 3), rfc3339(now + 6));
    let audit = dir.path().join("audit.jsonl");
    let toml = base_toml(&format!(
        "{}\n[audit]\nlog = \"{}\"\n\
         [[lists]]\nname = \"court\"\npath = \"court.txt\"\norder_id = \"2026/77\"\n\
         effective_from = \"{from}\"\nexpires_at = \"{until}\"\n\
         [[lists]]\nname = \"always\"\npath = \"always.txt\"\n",
        h.resolver_toml(),
        audit.display()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    let m = d.metrics_addr.expect("metrics");
    let state = |text: &str, st: &str| {
        parse_metrics(text)
            .get(&format!(
                "dnsward_list_state{{list=\"court\",state=\"{st}\"}}"
            ))
            .copied()
    };

    // Pending: loaded, explained, counted, not enforced.
    assert!(
        !blocked(s, "banned.zz.").await,
        "pending list must not block"
    );
    assert!(blocked(s, "always.zz.").await, "undated list blocks");
    let (_, text) = http_get(m, "/metrics").await;
    assert_eq!(state(&text, "pending"), Some(1.0), "{text}");
    assert_eq!(state(&text, "active"), Some(0.0));
    let (code, body) = http_get(m, "/explain?name=banned.zz").await;
    assert_eq!(code, 200);
    let e: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(e["verdict"], "not listed", "{body}");
    assert_eq!(e["chain"][0]["list"], "court");
    assert_eq!(e["chain"][0]["state"], "pending");
    assert_eq!(e["chain"][0]["effective_from"], from.as_str());
    assert_eq!(e["chain"][0]["expires_at"], until.as_str());

    // Effective at its start, without a reload.
    wait_until("order effective", || async {
        blocked(s, "banned.zz.").await
    })
    .await;
    let (_, text) = http_get(m, "/metrics").await;
    assert_eq!(state(&text, "active"), Some(1.0), "{text}");
    let (_, body) = http_get(m, "/explain?name=banned.zz").await;
    assert!(body.contains("\"verdict\": \"blocked\""), "{body}");

    // And lifted at its end.
    wait_until("order expired", || async {
        !blocked(s, "banned.zz.").await
    })
    .await;
    assert!(unix_secs() as u64 >= now + 6, "lifted before expires_at");
    let (_, text) = http_get(m, "/metrics").await;
    assert_eq!(state(&text, "expired"), Some(1.0), "{text}");
    assert!(blocked(s, "always.zz.").await);
    let (_, body) = http_get(m, "/explain?name=banned.zz").await;
    assert!(body.contains("\"state\": \"expired\""), "{body}");

    // Both moments are in the audit log, with the order and its dates.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .expect("audit")
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit json"))
        .collect();
    let events: Vec<_> = lines
        .iter()
        .filter(|l| l["list"] == "court" && l.get("event").is_some())
        .collect();
    assert_eq!(events.len(), 2, "{lines:?}");
    assert_eq!(events[0]["event"], "order effective");
    assert_eq!(events[1]["event"], "order expired");
    for e in &events {
        assert_eq!(e["order_id"], "2026/77");
        assert_eq!(e["effective_from"], from.as_str());
        assert_eq!(e["expires_at"], until.as_str());
    }
    assert!(events[0]["unix"].as_u64() >= Some(now + 3));
    assert!(events[1]["unix"].as_u64() >= Some(now + 6));
    d.shutdown(std::time::Duration::ZERO).await;
}
