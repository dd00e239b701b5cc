//! Policy groups over the wire: queries from two loopback source
//! addresses (127.0.0.2 in group `family`, 127.0.0.3 in no group), one
//! blocked by the group's list and the other answered, through the normal
//! path, the fast path and the cache (a name one client's answer cached
//! stays blocked for the other), through a CNAME chain, the `group` label
//! of the blocked counter, the query log's `group` field, `/explain?client=`
//! and a reload moving a network from one client to the other.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

pub const FAMILY: &str = "127.0.0.2";
pub const OTHER: &str = "127.0.0.3";

const ZZ: &str = "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 300
     zz. 86400 NS ns1.zz.
     ns1.zz. 86400 A 127.0.0.1
     adult.zz. 300 A 192.0.2.80
     court.zz. 300 A 192.0.2.81
     alias.zz. 300 CNAME adult.zz.
     free.zz. 300 A 192.0.2.82";

/// An authoritative `zz.` on loopback, used as dnsward's forwarder.
pub async fn upstream() -> AuthServer {
    AuthServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone("zz.", ZZ)])
        .await
        .expect("auth server")
}

/// The config: `court` for everyone, `adult` only for `family`, whose
/// clients are `family_clients`.
pub fn config(dir: &TempDir, upstream: SocketAddr, family_clients: &str, extra: &str) -> String {
    dir.write("court.txt", "court.zz\n");
    dir.write("adult.txt", "adult.zz\n");
    base_toml(&format!(
        r#"
[resolver]
mode = "forward"
upstreams = ["{upstream}"]
timeout_ms = 2000

[sinkhole]
ipv4 = "192.0.2.1"

[[lists]]
name = "court"
path = "court.txt"
order_id = "ORD-1"

[[lists]]
name = "adult"
path = "adult.txt"
description = "Adult content (opt-in family filter)"

[[groups]]
name = "family"
clients = [{family_clients}]
lists = ["adult"]
{extra}
"#
    ))
}

/// One A query over UDP from the loopback address `src`.
pub async fn ask_from(src: &str, server: SocketAddr, name: &str) -> Message {
    let s = UdpSocket::bind((src, 0)).await.expect("bind client");
    let q = make_query(name, RecordType::A, Some(1232));
    s.send_to(&q.to_vec().expect("encode"), server)
        .await
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.recv(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no answer for {name} from {src}"))
        .expect("recv");
    let m = Message::from_vec(&buf[..n]).expect("decode");
    assert_eq!(m.metadata.id, q.metadata.id);
    m
}

pub fn sinkholed(m: &Message) -> bool {
    rdata(m) == vec!["192.0.2.1".to_string()] && ede_of(m).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_list_blocks_its_clients_only_on_every_path() {
    let auth = upstream().await;
    let dir = TempDir::new("groups-wire");
    let qlog = dir.path().join("q.jsonl");
    let extra = format!(
        "[querylog]\npath = \"{}\"\nwhat = \"all\"\n",
        qlog.display()
    );
    let d = start_dnsward(
        &dir,
        &config(&dir, auth.addr, &format!("\"{FAMILY}/32\""), &extra),
    )
    .await;
    let dns = d.dns[0];

    // The other client first: its answer is cached (and served from the
    // fast path on the second ask) ...
    for _ in 0..2 {
        let m = ask_from(OTHER, dns, "adult.zz.").await;
        assert_eq!(rdata(&m), vec!["192.0.2.80"], "not blocked for {OTHER}");
        assert!(ede_of(&m).is_none());
    }
    // ... and never reaches the family client, first or fast path.
    for _ in 0..3 {
        let m = ask_from(FAMILY, dns, "adult.zz.").await;
        assert!(sinkholed(&m), "blocked for {FAMILY}: {m:?}");
    }
    // A CNAME to the group's name: resolved for the other client, cached,
    // and still blocked for the family client at the chain's target.
    // (The loopback forwarder answers the CNAME alone.)
    let m = ask_from(OTHER, dns, "alias.zz.").await;
    assert_eq!(rdata(&m), vec!["adult.zz."]);
    for _ in 0..2 {
        let m = ask_from(FAMILY, dns, "alias.zz.").await;
        assert_eq!(rdata(&m), vec!["adult.zz.", "192.0.2.1"], "{m:?}");
        let m = ask_from(OTHER, dns, "alias.zz.").await;
        assert_eq!(rdata(&m), vec!["adult.zz."], "{m:?}");
        assert!(ede_of(&m).is_none());
    }
    // The mandatory list blocks both.
    for src in [FAMILY, OTHER] {
        assert!(sinkholed(&ask_from(src, dns, "court.zz.").await), "{src}");
    }

    let http = d.metrics_addr.expect("metrics");
    let (_, body) = http_get(http, "/metrics").await;
    let m = parse_metrics(&body);
    let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
    assert_eq!(
        get("dnsward_blocked_total{action=\"sinkhole\",group=\"family\",list=\"adult\"}"),
        5.0
    );
    assert_eq!(
        get("dnsward_blocked_total{action=\"sinkhole\",group=\"family\",list=\"court\"}"),
        1.0
    );
    assert_eq!(
        get("dnsward_blocked_total{action=\"sinkhole\",group=\"default\",list=\"court\"}"),
        1.0
    );
    assert_eq!(
        get("dnsward_blocked_total{action=\"sinkhole\",group=\"default\",list=\"adult\"}"),
        0.0
    );

    // /explain says which group applied.
    let (status, body) = http_get(http, &format!("/explain?name=adult.zz&client={FAMILY}")).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["verdict"], "blocked");
    assert_eq!(v["group"], "family");
    assert_eq!(v["client"], FAMILY);
    assert_eq!(v["decided_by"]["groups"][0], "family");
    let (_, body) = http_get(http, &format!("/explain?name=adult.zz&client={OTHER}")).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["verdict"], "not listed", "{v:#}");
    assert_eq!(v["group"], "default");
    assert_eq!(v["chain"][0]["applies"], false);
    let (status, _) = http_get(http, "/explain?name=adult.zz&client=nonsense").await;
    assert_eq!(status, 400);

    // The query log carries the group of every line.
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&qlog)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    wait_until("query log lines", || {
        let n = lines().len();
        async move { n >= 12 }
    })
    .await;
    let all = lines();
    assert_eq!(all.len(), 12, "{all:#?}");
    // Both clients share the logged /24; the group tells them apart.
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| all.iter().filter(|l| f(l)).count();
    assert_eq!(
        count(&|l| l["list"] == "adult" && l["group"] == "family"),
        5
    );
    assert_eq!(
        count(&|l| l["list"] == "adult" && l["group"] != "family"),
        0
    );
    assert_eq!(
        count(&|l| l["action"] == "resolved" && l["group"] == "default"),
        5
    );
    assert_eq!(count(&|l| l["list"] == "court"), 2);
    assert!(all.iter().all(|l| l["group"].is_string()), "{all:#?}");

    // The compliance report counts blocks per group.
    let cfg = dnsward::config::Config::load(&dir.path().join("dnsward.toml")).expect("config");
    let report =
        dnsward::report::build(&cfg, None, dnsward::policy::store::unix_secs()).expect("report");
    let per_group = |list: &str| {
        report
            .orders
            .iter()
            .find(|o| o.list == list)
            .map(|o| o.blocked_per_group.clone())
            .unwrap_or_default()
    };
    assert_eq!(per_group("adult").get("family"), Some(&5));
    assert_eq!(per_group("adult").get("default"), None);
    assert_eq!(per_group("court").get("family"), Some(&1));
    assert_eq!(per_group("court").get("default"), Some(&1));
    let md = report.render(dnsward::report::ReportFormat::Md);
    assert!(md.contains("### Blocked queries per policy group"), "{md}");
    assert!(md.contains("| family | 5 |"), "{md}");
    let csv = report.render(dnsward::report::ReportFormat::Csv);
    assert!(csv.contains(",adult,blocked_group,,family,,,,,5"), "{csv}");
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_moves_a_network_between_clients() {
    let auth = upstream().await;
    let dir = TempDir::new("groups-move");
    let d = start_dnsward(
        &dir,
        &config(&dir, auth.addr, &format!("\"{FAMILY}/32\""), ""),
    )
    .await;
    let dns = d.dns[0];
    assert!(sinkholed(&ask_from(FAMILY, dns, "adult.zz.").await));
    assert!(!sinkholed(&ask_from(OTHER, dns, "adult.zz.").await));

    let path = dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, &format!("\"{OTHER}/32\""), ""),
    );
    let cfg = dnsward::config::Config::load(&path).expect("config");
    let changes = d.reload_config(&cfg).expect("reload");
    assert_eq!(
        changes.applied,
        vec![format!(
            "groups[family].clients: 1 -> 1 networks (+{OTHER}/32, -{FAMILY}/32)"
        )]
    );
    assert!(!sinkholed(&ask_from(FAMILY, dns, "adult.zz.").await));
    assert!(sinkholed(&ask_from(OTHER, dns, "adult.zz.").await));

    // A group naming a list that is not running keeps the serving groups
    // and says the change waits for a restart.
    let path = dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, &format!("\"{FAMILY}/32\""), "")
            .replace("lists = [\"adult\"]", "lists = [\"adult\", \"later\"]")
            .replace(
                "[[groups]]",
                "[[lists]]\nname = \"later\"\npath = \"court.txt\"\n\n[[groups]]",
            ),
    );
    let cfg = dnsward::config::Config::load(&path).expect("config");
    let changes = d.reload_config(&cfg).expect("reload");
    assert!(changes.applied.is_empty(), "{changes:?}");
    assert!(
        changes
            .need_restart
            .iter()
            .any(|c| c.starts_with("groups[family]")),
        "{changes:?}"
    );
    assert!(sinkholed(&ask_from(OTHER, dns, "adult.zz.").await));
    d.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn bad_groups_are_refused_naming_the_key() {
    let dir = TempDir::new("groups-bad");
    dir.write("a.txt", "a.zz\n");
    let path = dir.write(
        "dnsward.toml",
        &base_toml(
            r#"
[[lists]]
name = "a"
path = "a.txt"

[[groups]]
name = "family"
clients = ["10.8.0.0/16", "10.8.0.0/33"]
lists = ["a", "missing"]

[[groups]]
name = "family"
clients = ["10.8.0.0/16"]
"#,
        ),
    );
    let Err(err) = dnsward::config::Config::load(&path) else {
        panic!("bad groups accepted");
    };
    let err = err.to_string();
    for want in [
        "groups[0].clients[1]",
        "groups[0].lists[1]",
        "`missing`",
        "groups[1].name",
        "duplicate group name `family`",
        "groups[1].clients[0]",
        "also listed at groups[0].clients[0]",
    ] {
        assert!(err.contains(want), "{want} missing from: {err}");
    }
}
