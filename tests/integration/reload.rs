//! Hot reload while serving: rewrite in place, `mv` over the file, a bad
//! file that must keep the old list — with a client querying the whole
//! time and not one query failing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Queries `names` in a loop until stopped; counts answers and failures
/// (no reply within 2 s, or SERVFAIL).
pub struct Prober {
    pub sent: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Prober {
    pub fn start(server: SocketAddr, names: &[&str]) -> Self {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, f2, st2) = (sent.clone(), failed.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut i = 0usize;
            while !st2.load(Ordering::Relaxed) {
                let q = make_query(&names[i % names.len()], RecordType::A, Some(1232));
                let bytes = q.to_vec().expect("encode");
                s2.fetch_add(1, Ordering::Relaxed);
                match udp_raw(server, &bytes, Duration::from_secs(2)).await {
                    Some(r) if (r[3] & 0x0f) != 2 => {}
                    _ => {
                        f2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        Self {
            sent,
            failed,
            stop,
            task,
        }
    }

    pub async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Is `name` answered by the block list (EDE present)?
async fn blocked(server: SocketAddr, name: &str) -> bool {
    let (m, _) = query(server, Proto::Udp, name, RecordType::A).await;
    assert_ne!(m.metadata.response_code, ResponseCode::ServFail, "{name}");
    ede_of(&m).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_list_reloads_on_rewrite_and_mv_and_keeps_old_on_bad_file() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("reload");
    let list = dir.write("orders.txt", "ads.example.zz\n");
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"orders\"\npath = \"orders.txt\"\nmax_shrink_percent = 100\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    assert!(blocked(s, "ads.example.zz.").await);
    assert!(!blocked(s, "www.example.zz.").await);

    let prober = Prober::start(
        s,
        &["ads.example.zz.", "www.example.zz.", "alias.example.zz."],
    );

    // 1. Rewrite in place.
    std::fs::write(&list, "www.example.zz\n").expect("rewrite");
    wait_until("www blocked after rewrite", || {
        blocked(s, "www.example.zz.")
    })
    .await;
    assert!(!blocked(s, "ads.example.zz.").await, "old entry gone");

    // 2. Write a new file and mv it over the old one (new inode).
    let tmp = dir.write("orders.txt.new", "alias.example.zz\nads.example.zz\n");
    std::fs::rename(&tmp, &list).expect("mv");
    // Waiting on ads, not alias: alias is a CNAME to www, so it was
    // already blocked through its chain under the previous list.
    wait_until("ads blocked after mv", || blocked(s, "ads.example.zz.")).await;
    assert!(blocked(s, "alias.example.zz.").await);
    assert!(!blocked(s, "www.example.zz.").await);

    // 3. A garbage file: counted as a failure, the old list keeps serving.
    let failures = || {
        ["no_usable_entries", "emptied"]
            .iter()
            .map(|r| {
                d.metrics
                    .list_reload_failures
                    .with_label_values(&["orders", r])
                    .get()
            })
            .sum::<u64>()
    };
    std::fs::write(&list, "<html>502 Bad Gateway</html>\n").expect("garbage");
    wait_until("failure counted", || {
        let n = failures();
        async move { n >= 1 }
    })
    .await;
    assert!(blocked(s, "alias.example.zz.").await, "old list kept");
    assert!(blocked(s, "ads.example.zz.").await);

    // 4. An emptied file (truncated download) is refused too.
    std::fs::write(&list, "").expect("truncate");
    wait_until("second failure counted", || {
        let n = failures();
        async move { n >= 2 }
    })
    .await;
    assert!(blocked(s, "alias.example.zz.").await);

    // 5. A good file again.
    std::fs::write(&list, "deep.sub.example.zz\n").expect("good");
    wait_until("recovered", || blocked(s, "deep.sub.example.zz.")).await;

    let (sent, failed) = prober.finish().await;
    assert!(sent > 100, "prober sent {sent}");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} queries failed during reloads"
    );
    assert!(d.metrics.list_reloads.with_label_values(&["orders"]).get() >= 4);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_real_list_swaps_without_dropping_queries() {
    let src = shared(
        "blocklists/stevenblack-unified-domains/fakenews-gambling-porn-social.part0.domains.txt",
    );
    let src = if src.exists() {
        src
    } else {
        shared("blocklists/stevenblack-unified-domains/unified.domains.txt")
    };
    let h = Hierarchy::start().await;
    let dir = TempDir::new("bigreload");
    let list = dir.path().join("big.txt");
    std::fs::copy(&src, &list).expect("copy list");
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"big\"\npath = \"big.txt\"\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let s = d.dns[0];
    let before = d.store.load().entries();
    assert!(before > 50_000);
    let prober = Prober::start(s, &["www.example.zz.", "ads.example.zz."]);
    for round in 0..3 {
        let mut body = std::fs::read_to_string(&src).expect("read");
        body.push_str(&format!("round{round}.example.zz\n"));
        let tmp = dir.path().join("big.txt.tmp");
        std::fs::write(&tmp, body).expect("write");
        std::fs::rename(&tmp, &list).expect("mv");
        let name = format!("round{round}.example.zz.");
        wait_until("big list swapped", || {
            let n = name.clone();
            async move { blocked(s, &n).await }
        })
        .await;
    }
    let (sent, failed) = prober.finish().await;
    assert_eq!(failed, 0, "{failed} of {sent} failed");
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reload_reports_what_changed_and_applies_the_acl() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("cfgdiff");
    let text = |acl: &str, idle: u32| {
        unvalidated(&format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ntcp_idle_timeout_secs = {idle}\n[metrics]\nlisten = \"127.0.0.1:0\"\n{}[acl]\nallow = [{acl}]\n",
            h.resolver_toml()
        ))
    };
    let d = start_dnsward(&dir, &text("\"10.0.0.0/8\", \"192.0.2.0/24\"", 10)).await;
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);

    let path = dir.write(
        "dnsward.toml",
        &text("\"10.0.0.0/8\", \"192.0.2.0/24\", \"127.0.0.0/8\"", 20),
    );
    let cfg = dnsward::config::Config::load(&path).expect("config");
    let changes = d.reload_config(&cfg).expect("reload");
    assert_eq!(
        changes.applied,
        vec!["acl.allow: 2 -> 3 networks (+127.0.0.0/8)"]
    );
    assert_eq!(
        changes.need_restart,
        vec!["server.tcp_idle_timeout_secs: 10 -> 20"]
    );
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);

    // The same file again: the ACL is in force, the restart-only change
    // is still pending and still reported.
    let changes = d.reload_config(&cfg).expect("reload");
    assert!(changes.applied.is_empty(), "{changes:?}");
    assert_eq!(
        changes.need_restart,
        vec!["server.tcp_idle_timeout_secs: 10 -> 20"]
    );
    d.shutdown(Duration::from_secs(1)).await;
}
/// A good two-line list with 100,000 lines of garbage appended (some of
/// which happen to be valid names): refused as `too_many_rejected`, the
/// good version keeps blocking and the junk names do not; the reload JSON
/// shows the refused version's figures apart from the serving ones; the
/// good file restored afterwards is compared with the serving version (not
/// the refused one) and accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mostly_garbage_list_is_refused_and_the_good_file_restores() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("garbage");
    let good = "ads.example.zz\nwww.example.zz\n";
    let list = dir.write("orders.txt", good);
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"orders\"\npath = \"orders.txt\"\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let (s, http) = (d.dns[0], d.metrics_addr.expect("http"));
    assert!(blocked(s, "ads.example.zz.").await);

    // Deterministic junk: short runs of bytes from an alphabet of letters,
    // dots, punctuation and invalid UTF-8; every 30th line a valid name.
    let mut body = good.as_bytes().to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"abcxyz.-_!?/ ;<>%\xff\xfe";
    for i in 0..100_000 {
        if i % 30 == 0 {
            body.extend_from_slice(format!("junk{i}.example.zz\n").as_bytes());
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for k in 0..(3 + x % 20) {
            body.push(alphabet[((x >> (k * 3)) % alphabet.len() as u64) as usize]);
        }
        body.push(b'\n');
    }
    std::fs::write(&list, &body).expect("garbage");
    let (status, json) = http_post(http, "/admin/reload").await;
    assert_eq!(status, 409, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let o = &v["lists"][0];
    assert_eq!(o["result"], "refused", "{json}");
    assert_eq!(o["reason"], "too_many_rejected", "{json}");
    assert_eq!(
        (o["entries_after"].as_u64(), o["added"].as_u64()),
        (Some(2), Some(0))
    );
    let r = &o["refused_version"];
    assert!(r["entries"].as_u64() > Some(3000), "{json}");
    assert!(r["added"].as_u64() > Some(3000), "{json}");
    assert!(r["malformed_lines"].as_u64() > Some(80_000), "{json}");
    assert_ne!(r["sha256"], o["sha256"], "{json}");

    assert!(blocked(s, "ads.example.zz.").await, "old list kept");
    assert!(!blocked(s, "junk30.example.zz.").await, "junk not applied");
    assert!(
        d.metrics
            .list_reload_failures
            .with_label_values(&["orders", "too_many_rejected"])
            .get()
            >= 1
    );

    // Restore the good file: same content as the serving version.
    std::fs::write(&list, good).expect("restore");
    let (status, json) = http_post(http, "/admin/reload").await;
    assert_eq!(status, 200, "{json}");
    assert_ne!(
        serde_json::from_str::<serde_json::Value>(&json).expect("json")["lists"][0]["result"],
        "refused"
    );
    assert!(blocked(s, "ads.example.zz.").await);
    // And a real change after it is accepted too.
    std::fs::write(&list, "ads.example.zz\nwww.example.zz\nnew.example.zz\n").expect("w");
    let (status, json) = http_post(http, "/admin/reload").await;
    assert_eq!(status, 200, "{json}");
    assert!(blocked(s, "new.example.zz.").await);
    d.shutdown(Duration::from_secs(1)).await;
}

/// The shrink guard's refusal reports what the refused version would have
/// been (2 entries, 3 removed), marked as such, while `entries_after` stays
/// the serving version's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_shrink_reports_the_would_be_figures_apart() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("shrinkjson");
    let list = dir.write(
        "l.txt",
        "a.example.zz\nb.example.zz\nc.example.zz\nd.example.zz\n",
    );
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let http = d.metrics_addr.expect("http");
    std::fs::write(&list, "a.example.zz\ne.example.zz\n").expect("w");
    let (status, json) = http_post(http, "/admin/reload").await;
    assert_eq!(status, 409, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let o = &v["lists"][0];
    assert_eq!(o["reason"], "shrink", "{json}");
    assert_eq!(o["entries_after"], 4, "{json}");
    let r = &o["refused_version"];
    assert_eq!(
        (
            r["entries"].as_u64(),
            r["added"].as_u64(),
            r["removed"].as_u64()
        ),
        (Some(2), Some(1), Some(3)),
        "{json}"
    );
    d.shutdown(Duration::from_secs(1)).await;
}

/// `/explain` says what is wrong with a name it cannot answer for (400
/// with the reason), and shows a `*.name` rule with its scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_endpoint_validates_names_and_shows_rule_scope() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("explainhttp");
    dir.write("l.txt", "*.ads.example.zz\n");
    let toml = base_toml(&format!(
        "{}[[lists]]\nname = \"l\"\npath = \"l.txt\"\nformat = \"domains\"\n",
        h.resolver_toml()
    ));
    let d = start_dnsward(&dir, &toml).await;
    let http = d.metrics_addr.expect("http");
    let long = format!("{}.example", "a".repeat(292));
    for (name, why) in [
        ("a..b", "empty label"),
        (long.as_str(), "300 bytes long (max 253)"),
        ("", "empty name"),
    ] {
        let (status, body) = http_get(http, &format!("/explain?name={name}")).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body.contains("invalid name") && body.contains(why),
            "{name}: {body}"
        );
    }
    let (status, body) = http_get(http, "/explain?name=x.ads.example.zz").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["verdict"], "blocked");
    assert_eq!(v["decided_by"]["entry"], "*.ads.example.zz");
    assert_eq!(v["decided_by"]["scope"], "below");
    d.shutdown(Duration::from_secs(1)).await;
}
