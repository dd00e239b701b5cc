//! `[lists.transfer]` against real primaries: Knot (NOTIFY, IXFR from its
//! journal, TSIG) and NSD (AXFR), plus a scripted primary for the failure
//! cases a real server will not produce on demand (a serial going
//! backwards, a stream cut mid-transfer). Skipped with a message when
//! knotd or nsd is not installed (`.ci/run` installs both).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
const OTHER_SECRET: &str = "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItb3Q=";

/// A child process killed (by its PID, through `Child`) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(bin: &str) -> bool {
    let found = ["/usr/sbin", "/usr/bin", "/sbin"]
        .iter()
        .any(|d| Path::new(d).join(bin).is_file());
    if !found {
        eprintln!("SKIPPED: `{bin}` not installed (apt-get install knot nsd)");
    }
    found
}

pub(crate) fn free_port() -> u16 {
    // Bound on UDP and TCP at once so both are free for the primary.
    loop {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn zone_text(serial: u32, names: &[&str]) -> String {
    let mut z = format!(
        "$ORIGIN rpz.test.\n@ 300 IN SOA ns.rpz.test. h.rpz.test. {serial} 3600 1 86400 30\n@ 300 IN NS ns.rpz.test.\n"
    );
    for n in names {
        z.push_str(&format!("{n} 300 IN CNAME .\n"));
    }
    z
}

struct Knot {
    _proc: Proc,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Knot {
    /// knotd on a loopback port, its zone requiring TSIG key `xfr-key`,
    /// sending NOTIFY (signed) to `notify`.
    fn start(dir: &TempDir, port: u16, serial: u32, names: &[&str], notify: &[SocketAddr]) -> Knot {
        let d = dir.path().join("knot");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("rpz.test.zone"), zone_text(serial, names)).unwrap();
        let mut remotes = String::new();
        let mut ids = Vec::new();
        for (i, a) in notify.iter().enumerate() {
            remotes.push_str(&format!(
                "  - id: dw{i}\n    address: {}@{}\n    key: xfr-key\n",
                a.ip(),
                a.port()
            ));
            ids.push(format!("dw{i}"));
        }
        let notify_line = if ids.is_empty() {
            String::new()
        } else {
            format!("    notify: [{}]\n", ids.join(", "))
        };
        let remote_section = if remotes.is_empty() {
            String::new()
        } else {
            format!("remote:\n{remotes}")
        };
        let conf = format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\ncontrol:\n    listen: \"{d}/knot.sock\"\nlog:\n  - target: stderr\n    any: info\ndatabase:\n    storage: \"{d}\"\nkey:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n{remote_section}acl:\n  - id: xfr\n    address: 127.0.0.0/8\n    key: xfr-key\n    action: transfer\ntemplate:\n  - id: default\n    storage: \"{d}\"\n    zonefile-load: difference\n    journal-content: changes\n    semantic-checks: off\nzone:\n  - domain: rpz.test.\n    file: \"{d}/rpz.test.zone\"\n    acl: xfr\n{notify_line}",
            d = d.display()
        );
        std::fs::write(d.join("knot.conf"), conf).unwrap();
        let log = std::fs::File::create(d.join("knot.log")).unwrap();
        let child = Command::new("knotd")
            .arg("-c")
            .arg(d.join("knot.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "knotd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Knot {
            _proc: Proc(child),
            dir: d,
            addr,
        }
    }

    /// New zone content at a new serial; knotd computes the IXFR diff
    /// into its journal and sends NOTIFY.
    fn update(&self, serial: u32, names: &[&str]) {
        std::fs::write(self.dir.join("rpz.test.zone"), zone_text(serial, names)).unwrap();
        let ok = Command::new("knotc")
            .arg("-s")
            .arg(self.dir.join("knot.sock"))
            .args(["zone-reload", "rpz.test."])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "knotc zone-reload");
    }
}

fn key_file(dir: &TempDir, name: &str, secret: &str) -> PathBuf {
    dir.write(
        name,
        &format!("key \"xfr-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n"),
    )
}

pub(crate) fn list_toml(
    seed: &Path,
    primary: SocketAddr,
    key: Option<&Path>,
    extra: &str,
) -> String {
    let key = key.map_or(String::new(), |k| {
        format!("tsig_key_file = \"{}\"\n", k.display())
    });
    format!(
        "[[lists]]\nname = \"court\"\nformat = \"rpz\"\npath = \"{}\"\norder_id = \"ORDER-7\"\n[lists.transfer]\nprimaries = [\"{primary}\"]\nzone = \"rpz.test.\"\n{key}refresh_secs = 3600\nretry_secs = 1\ntimeout_secs = 5\n{extra}",
        seed.display()
    )
}

/// A node's config: the list, and a resolver pointed at a loopback port
/// where nothing answers, so names the list does not block never leave
/// the machine (they get SERVFAIL).
pub(crate) fn node_toml(list: &str) -> String {
    base_toml(&format!("{}{list}", resolver_toml_at(free_port(), 200, "")))
}

pub(crate) fn serial(r: &dnsward::app::Running) -> i64 {
    r.metrics.list_serial.with_label_values(&["court"]).get()
}

pub(crate) fn transfers(r: &dnsward::app::Running, kind: &str, result: &str) -> u64 {
    r.metrics
        .list_transfer
        .with_label_values(&["court", kind, result])
        .get()
}

fn hash(r: &dnsward::app::Running) -> Option<String> {
    r.store
        .load()
        .lists
        .first()
        .cloned()
        .flatten()
        .map(|l| l.report.sha256.clone())
}

pub(crate) async fn rcode(r: &dnsward::app::Running, name: &str) -> ResponseCode {
    let (m, _) = query(r.dns[0], Proto::Udp, name, RecordType::A).await;
    m.metadata.response_code
}

async fn wait_serial(r: &dnsward::app::Running, s: i64) {
    wait_until(&format!("serial {s}"), || async { serial(r) == s }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knot_notify_makes_three_nodes_converge_by_ixfr_with_tsig() {
    if !have("knotd") {
        return;
    }
    let dir = TempDir::new("xfr-knot");
    let key = key_file(&dir, "court.key", SECRET);
    // The nodes first, so knotd can be told where to send NOTIFY; until
    // it runs their first AXFR fails and is retried every second.
    let port = free_port();
    let primary: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let sub = TempDir::new(&format!("xfr-node{i}"));
        let seed = sub.path().join("state/court.rpz");
        let toml = node_toml(&list_toml(&seed, primary, Some(&key), ""));
        nodes.push((start_dnsward(&sub, &toml).await, sub));
    }
    let notify: Vec<SocketAddr> = nodes.iter().map(|(r, _)| r.dns[0]).collect();
    // knotd on the port the nodes were given.
    // Enough names that the AXFR spans several messages, each signed and
    // chained to the previous MAC (RFC 8945 5.3.1).
    let many: Vec<String> = (0..5000).map(|i| format!("n{i}.example")).collect();
    let mut v1: Vec<&str> = many.iter().map(String::as_str).collect();
    v1.push("bad.example");
    let mut v2 = v1.clone();
    v2.push("worse.example");
    let knot = Knot::start(&dir, port, 1, &v1, &notify);
    for (r, _) in &nodes {
        wait_serial(r, 1).await;
        assert_eq!(rcode(r, "bad.example").await, ResponseCode::NXDomain);
        assert_eq!(transfers(r, "axfr", "success"), 1);
    }

    // Queries run throughout the swap; every one must be answered.
    let prober = NxProber::start(nodes[0].0.dns[0], "bad.example", Duration::from_millis(2));
    let t0 = Instant::now();
    knot.update(2, &v2);
    let deadline = t0 + Duration::from_secs(2);
    loop {
        let hashes: Vec<_> = nodes.iter().map(|(r, _)| (serial(r), hash(r))).collect();
        if hashes.iter().all(|h| h.0 == 2) && hashes.windows(2).all(|w| w[0].1 == w[1].1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nodes did not converge within 2 s of the change: {hashes:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Convergence takes tens of milliseconds: probe a little after it too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (sent, lost) = prober.finish().await;
    assert!(sent > 10, "{sent} probes");
    assert_eq!(
        lost, 0,
        "{lost} of {sent} queries unanswered or not blocked during the swap"
    );
    for (r, sub) in &nodes {
        assert_eq!(rcode(r, "worse.example").await, ResponseCode::NXDomain);
        assert_eq!(transfers(r, "ixfr", "success"), 1, "counted as IXFR");
        // Patched into the serving set, not recompiled: a patched rule has
        // no source line (a compiled one has its seed line).
        let p = r.store.load();
        let v = p.decide(&dnsward::policy::matcher::LookupKey::from_dotted(
            "worse.example",
        ));
        let dnsward::policy::Decision::Blocked(b) = v.decision else {
            panic!("worse.example not blocked");
        };
        assert_eq!(b.hit.line, 0, "IXFR patched in");
        // The seed is the accepted version, rewritten.
        let seed = std::fs::read_to_string(sub.path().join("state/court.rpz")).unwrap();
        assert!(seed.contains(" 2 3600 1 86400 30"), "{seed}");
        assert!(seed.contains("worse.example.rpz.test."), "{seed}");
        let text = r.metrics.render();
        assert!(
            text.contains("dnsward_list_serial{list=\"court\"} 2"),
            "{text}"
        );
        assert!(text.contains("dnsward_list_last_success_timestamp_seconds{list=\"court\"}"));
        assert!(text.contains("dnsward_list_expired{list=\"court\"} 0"));
    }
    // A fourth node started now gets serial 2 by AXFR, not by IXFR, and
    // shows the same content hash as the others.
    let late_dir = TempDir::new("xfr-late");
    let late_seed = late_dir.path().join("state/court.rpz");
    let late = start_dnsward(
        &late_dir,
        &node_toml(&list_toml(&late_seed, primary, Some(&key), "")),
    )
    .await;
    wait_serial(&late, 2).await;
    assert_eq!(transfers(&late, "axfr", "success"), 1);
    assert_eq!(hash(&late), hash(&nodes[0].0), "same policy, same hash");
    // NOTIFY from somewhere else is refused and counted.
    let r = &nodes[0].0;
    let mut m = Message::new(7, hickory_proto::op::MessageType::Query, OpCode::Notify);
    m.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("rpz.test.").unwrap(),
        RecordType::SOA,
    ));
    let raw = udp_raw(r.dns[0], &m.to_vec().unwrap(), Duration::from_secs(2))
        .await
        .expect("answered");
    assert_eq!(
        raw[3] & 0x0f,
        5,
        "REFUSED: unsigned NOTIFY with a key configured"
    );
    assert!(r.metrics.rejected.with_label_values(&["notify_tsig"]).get() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knot_tsig_mismatch_is_refused_and_counted() {
    if !have("knotd") {
        return;
    }
    let dir = TempDir::new("xfr-badkey");
    let knot = Knot::start(&dir, free_port(), 1, &["bad.example"], &[]);
    let key = key_file(&dir, "wrong.key", OTHER_SECRET);
    let seed = dir.path().join("court.rpz");
    let r = start_dnsward(
        &dir,
        &node_toml(&list_toml(&seed, knot.addr, Some(&key), "")),
    )
    .await;
    wait_until("a refused transfer", || async {
        transfers(&r, "axfr", "tsig") >= 1
    })
    .await;
    assert_eq!(transfers(&r, "axfr", "success"), 0);
    assert!(hash(&r).is_none(), "nothing loaded from a refused transfer");
    assert!(!seed.exists(), "no seed written");
    let (status, _) = http_get(r.metrics_addr.unwrap(), "/readyz").await;
    assert_eq!(status, 503, "no seed and no transfer yet: not ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_zone_keeps_enforcing_by_default_and_drop_stops() {
    for (policy, still_blocked) in [("keep", true), ("drop", false)] {
        let dir = TempDir::new("xfr-expire");
        let seed = dir.write("court.rpz", SEED);
        let primary: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let extra = format!("expire_secs = 1\nexpire_policy = \"{policy}\"\n");
        let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, &extra))).await;
        wait_until("expired", || async {
            r.metrics.list_expired.with_label_values(&["court"]).get() == 1
        })
        .await;
        let blocked = rcode(&r, "old.example").await == ResponseCode::NXDomain;
        assert_eq!(blocked, still_blocked, "expire_policy = {policy}");
    }
}

/// nsd on a loopback port serving `rpz.test.` by AXFR to loopback, without
/// an IXFR journal: an IXFR is answered with the whole zone.
fn start_nsd(dir: &TempDir, serial: u32, names: &[&str]) -> (Proc, SocketAddr) {
    let d = dir.path().join("nsd");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("rpz.test.zone"), zone_text(serial, names)).unwrap();
    let port = free_port();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  username: \"\"\n  chroot: \"\"\n  server-count: 1\nremote-control:\n  control-enable: no\nzone:\n  name: rpz.test\n  zonefile: \"{d}/rpz.test.zone\"\n  provide-xfr: 127.0.0.0/8 NOKEY\n",
        d = d.display()
    );
    std::fs::write(d.join("nsd.conf"), conf).unwrap();
    let nsd = Proc(
        Command::new("nsd")
            .arg("-c")
            .arg(d.join("nsd.conf"))
            .arg("-d")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nsd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (nsd, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsd_serves_axfr() {
    if !have("nsd") {
        return;
    }
    let dir = TempDir::new("xfr-nsd");
    let (_nsd, primary) = start_nsd(&dir, 5, &["nsd.example"]);
    let seed = dir.path().join("court.rpz");
    let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, ""))).await;
    wait_serial(&r, 5).await;
    assert_eq!(rcode(&r, "nsd.example").await, ResponseCode::NXDomain);
    assert_eq!(transfers(&r, "axfr", "success"), 1);
}

/// NSD keeps no IXFR journal: an IXFR from an older serial is answered
/// with the whole zone (AXFR-style), which is applied as such. From a seed
/// dnsward wrote, the request is an IXFR; from an operator's zone file
/// (relative names, as `tests/deploy/lib.sh` starts from) it is an AXFR
/// (such a file's SOA cannot be sent back; NSD answers an IXFR without one
/// by a bare FORMERR header).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsd_answers_ixfr_from_an_older_seed_with_the_whole_zone() {
    if !have("nsd") {
        return;
    }
    let dir = TempDir::new("xfr-nsd-ixfr");
    let (_nsd, primary) = start_nsd(&dir, 7, &["kept.example", "added.example"]);
    let rendered = "$ORIGIN rpz.test.\nrpz.test. 300 IN SOA ns.rpz.test. h.rpz.test. 6 3600 1 86400 30\nkept.example.rpz.test. 300 IN CNAME .\nrpz.test. 300 IN NS ns.rpz.test.\n";
    let operator = "$ORIGIN rpz.test.\n@ 300 IN SOA ns.rpz.test. h.rpz.test. 6 3600 1 86400 30\n@ 300 IN NS ns.rpz.test.\nkept.example 300 IN CNAME .\n";
    for (seed_text, kind) in [(rendered, "ixfr"), (operator, "axfr")] {
        let sub = TempDir::new("xfr-nsd-node");
        let seed = sub.write("court.rpz", seed_text);
        let r = start_dnsward(&sub, &node_toml(&list_toml(&seed, primary, None, ""))).await;
        assert_eq!(rcode(&r, "kept.example").await, ResponseCode::NXDomain);
        wait_serial(&r, 7).await;
        assert_eq!(rcode(&r, "added.example").await, ResponseCode::NXDomain);
        assert_eq!(transfers(&r, kind, "success"), 1, "{kind} from {seed_text}");
        for k in ["ixfr", "axfr"] {
            assert_eq!(transfers(&r, k, "malformed"), 0);
            assert_eq!(transfers(&r, k, "rcode"), 0);
        }
        let written = std::fs::read_to_string(&seed).unwrap();
        assert!(
            written.contains("added.example.rpz.test. 300 IN CNAME ."),
            "{written}"
        );
    }
}

/// A primary whose IXFR answers cannot be used (a bare header, as NSD's
/// FORMERR; a header that claims a question it does not carry) but which
/// serves AXFR: each failure is counted with its reason, then the zone is
/// fetched whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_ixfr_answer_falls_back_to_axfr() {
    for (rcode_byte, reason) in [(1u8, "rcode"), (0u8, "malformed")] {
        let dir = TempDir::new("xfr-ixfr-bad");
        let seed = dir.write("court.rpz", SEED);
        let primary = scripted_primary(move |q| {
            if q.queries[0].query_type == RecordType::IXFR {
                let id = q.metadata.id.to_be_bytes();
                vec![vec![id[0], id[1], 0x80, rcode_byte, 0, 1, 0, 0, 0, 0, 0, 0]]
            } else {
                vec![answer(
                    &q,
                    &zone_records(11, &["old.example", "new.example"]),
                )]
            }
        })
        .await;
        let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, ""))).await;
        wait_serial(&r, 11).await;
        assert!(transfers(&r, "ixfr", reason) >= 1, "ixfr {reason} counted");
        assert_eq!(transfers(&r, "axfr", "success"), 1);
        assert_eq!(rcode(&r, "new.example").await, ResponseCode::NXDomain);
    }
}

/// An IXFR answered by one newer SOA and nothing more (RFC 1995 section 4)
/// is followed by an AXFR, not waited on until the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_newer_soa_answer_is_followed_by_axfr() {
    let dir = TempDir::new("xfr-ixfr-soa");
    let seed = dir.write("court.rpz", SEED);
    let primary = scripted_primary(|q| {
        let z = zone_records(12, &["old.example", "new.example"]);
        if q.queries[0].query_type == RecordType::IXFR {
            vec![answer(&q, z.lines().next().unwrap())]
        } else {
            vec![answer(&q, &z)]
        }
    })
    .await;
    let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, ""))).await;
    wait_serial(&r, 12).await;
    assert_eq!(transfers(&r, "ixfr", "axfr_only"), 1);
    assert_eq!(transfers(&r, "axfr", "success"), 1);
    assert_eq!(rcode(&r, "new.example").await, ResponseCode::NXDomain);
}

/// SIGHUP re-points a transfer: `court` moves to another primary and
/// gets its zone from there without a restart; `other`, removed from the
/// configuration, stops asking its primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_repoints_a_transfer_and_stops_a_removed_one() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let counted = |serial: u32, names: &'static [&'static str]| {
        let n = std::sync::Arc::new(AtomicUsize::new(0));
        let c = n.clone();
        let script = move |q: Message| {
            c.fetch_add(1, Ordering::Relaxed);
            vec![answer(&q, &zone_records(serial, names))]
        };
        (n, script)
    };
    let (a_count, a) = counted(11, &["a.example"]);
    let (b_count, b) = counted(12, &["a.example", "b.example"]);
    let (c_count, c) = counted(11, &["c.example"]);
    let (a, b, c) = (
        scripted_primary(a).await,
        scripted_primary(b).await,
        scripted_primary(c).await,
    );
    let dir = TempDir::new("xfr-repoint");
    let court = |primary| {
        list_toml(&dir.path().join("court.rpz"), primary, None, "")
            .replace("refresh_secs = 3600", "refresh_secs = 1")
    };
    let other = list_toml(&dir.path().join("other.rpz"), c, None, "")
        .replace("name = \"court\"", "name = \"other\"")
        .replace("refresh_secs = 3600", "refresh_secs = 1");
    let resolver = resolver_toml_at(free_port(), 200, "");
    let toml = |lists: &str| base_toml(&format!("{resolver}{lists}"));
    let r = start_dnsward(&dir, &toml(&format!("{}{other}", court(a)))).await;
    wait_serial(&r, 11).await;
    wait_until("other loaded", || async {
        r.metrics.list_serial.with_label_values(&["other"]).get() == 11
    })
    .await;
    assert_ne!(rcode(&r, "b.example").await, ResponseCode::NXDomain);

    dir.write("dnsward.toml", &toml(&court(b)));
    let cfg = dnsward::config::Config::load(&dir.path().join("dnsward.toml")).unwrap();
    let changes = r.reload_config(&cfg).unwrap();
    assert!(
        changes
            .applied
            .iter()
            .any(|l| l == "lists[court].transfer: re-pointed"),
        "{changes:?}"
    );
    assert!(
        changes
            .applied
            .iter()
            .any(|l| l.starts_with("lists[court].transfer.primaries")),
        "{changes:?}"
    );
    assert!(
        changes
            .applied
            .iter()
            .any(|l| l == "lists[other].transfer: stopped"),
        "{changes:?}"
    );
    wait_serial(&r, 12).await;
    assert_eq!(rcode(&r, "b.example").await, ResponseCode::NXDomain);
    assert!(b_count.load(Ordering::Relaxed) >= 1);
    // Neither the old primary nor the removed list's is asked again
    // (both were asked every second before).
    let (a_then, c_then) = (
        a_count.load(Ordering::Relaxed),
        c_count.load(Ordering::Relaxed),
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        a_count.load(Ordering::Relaxed),
        a_then,
        "old primary still asked"
    );
    assert_eq!(
        c_count.load(Ordering::Relaxed),
        c_then,
        "removed list still transferring"
    );
    // The removed list's last version is enforced until a restart.
    assert_eq!(rcode(&r, "c.example").await, ResponseCode::NXDomain);
}

/// The published `sha256` of `dnsward_list_info` for list `court`.
fn list_info(r: &dnsward::app::Running) -> Option<String> {
    let text = r.metrics.render();
    let line = text
        .lines()
        .find(|l| l.starts_with("dnsward_list_info{") && l.contains("list=\"court\""))?;
    let at = line.find("sha256=\"")? + 8;
    Some(line[at..at + 64].to_string())
}

/// Two nodes with the same policy, one from a hand-written zone file, one
/// by transfer, publish the same `dnsward_list_info` hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_info_hash_agrees_between_a_file_and_a_transfer() {
    let dir = TempDir::new("xfr-hash");
    let file = dir.write(
        "court.rpz",
        "; by hand\n$ORIGIN rpz.test.\n$TTL 300\n@ SOA ns h 1 3600 1 86400 30\nz.example CNAME .\na.example CNAME .\n",
    );
    let by_file = start_dnsward(
        &dir,
        &node_toml(&format!(
            "[[lists]]\nname = \"court\"\nformat = \"rpz\"\npath = \"{}\"\n",
            file.display()
        )),
    )
    .await;
    let primary =
        scripted_primary(|q| vec![answer(&q, &zone_records(8, &["a.example", "z.example"]))]).await;
    let sub = TempDir::new("xfr-hash-node");
    let by_xfr = start_dnsward(
        &sub,
        &node_toml(&list_toml(&sub.path().join("court.rpz"), primary, None, "")),
    )
    .await;
    wait_serial(&by_xfr, 8).await;
    let h = list_info(&by_file).expect("file list hash");
    assert_eq!(list_info(&by_xfr).as_deref(), Some(h.as_str()));
    // Not the file's bytes: the hash of its content.
    let bytes = std::fs::read(&file).unwrap();
    use sha2::Digest;
    let file_sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(h, file_sha);
}

/// A response message to `q` carrying `text`'s records, framed for TCP.
fn answer(q: &Message, text: &str) -> Vec<u8> {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.authoritative = true;
    m.queries = q.queries.clone();
    m.answers = records(text);
    m.to_vec().unwrap()
}

/// One length-prefixed DNS message (RFC 1035 4.2.2) from a transfer
/// client; None at the end of the stream or on bytes that do not decode.
pub(crate) async fn read_request(s: &mut tokio::net::TcpStream) -> Option<Message> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.ok()?;
    let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut q).await.ok()?;
    Message::from_vec(&q).ok()
}

/// `body` behind its two-byte length, as DNS over TCP frames a message.
pub(crate) fn framed(body: Vec<u8>) -> Vec<u8> {
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// Queries for a blocked name sent one after another while a list is
/// swapped, counting those not answered NXDOMAIN.
pub(crate) struct NxProber {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<(u32, u32)>,
}

impl NxProber {
    /// Start probing `name` at `server`, pausing `every` between queries.
    pub(crate) fn start(server: SocketAddr, name: &'static str, every: Duration) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let (mut sent, mut lost) = (0u32, 0u32);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let q = make_query(name, RecordType::A, Some(1232));
                let raw = udp_raw(server, &q.to_vec().unwrap(), Duration::from_secs(1)).await;
                sent += 1;
                if raw.is_none_or(|r| r.len() < 4 || r[3] & 0x0f != 3) {
                    lost += 1;
                }
                tokio::time::sleep(every).await;
            }
            (sent, lost)
        });
        Self { stop, task }
    }

    /// Stop, and give (queries sent, queries not answered NXDOMAIN).
    pub(crate) async fn finish(self) -> (u32, u32) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// A scripted primary: each request is answered by the messages `script`
/// returns for it; the connection then stays open, as a real primary's
/// does, until the client closes it.
async fn scripted_primary<F>(script: F) -> SocketAddr
where
    F: Fn(Message) -> Vec<Vec<u8>> + Send + Sync + 'static,
{
    let script = std::sync::Arc::new(script);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let Some(q) = read_request(&mut s).await else {
                    return;
                };
                for body in script(q) {
                    let out = framed(body);
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest).await;
            });
        }
    });
    addr
}

const SEED: &str = "$ORIGIN rpz.test.\nrpz.test. 300 IN SOA ns.rpz.test. h.rpz.test. 10 3600 1 86400 30\nold.example.rpz.test. 300 IN CNAME .\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_down_at_start_enforces_the_seed() {
    let dir = TempDir::new("xfr-seed");
    let seed = dir.write("court.rpz", SEED);
    // Nothing listens there.
    let primary: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, ""))).await;
    assert_eq!(rcode(&r, "old.example").await, ResponseCode::NXDomain);
    wait_until("a failed IXFR", || async {
        transfers(&r, "ixfr", "connect") >= 1
    })
    .await;
    assert_eq!(serial(&r), 10);
    let (status, _) = http_get(r.metrics_addr.unwrap(), "/readyz").await;
    assert_eq!(status, 200, "a seed makes the node ready");
    assert_eq!(
        std::fs::read_to_string(&seed).unwrap(),
        SEED,
        "seed untouched"
    );
}

/// A scripted primary: answers every transfer request with `answers`
/// (one message), cut after `cut` bytes when set.
async fn fake_primary(answers: String, cut: Option<usize>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let answers = answers.clone();
            tokio::spawn(async move {
                let Some(q) = read_request(&mut s).await else {
                    return;
                };
                let mut m = Message::response(q.metadata.id, OpCode::Query);
                m.metadata.authoritative = true;
                m.queries = q.queries.clone();
                m.answers = records(&answers);
                let mut out = framed(m.to_vec().unwrap());
                if let Some(n) = cut {
                    out.truncate(n);
                }
                let _ = s.write_all(&out).await;
            });
        }
    });
    addr
}

fn zone_records(serial: u32, names: &[&str]) -> String {
    let soa = format!("rpz.test. 300 SOA ns.rpz.test. h.rpz.test. {serial} 30\n");
    let mut z = soa.clone();
    for n in names {
        z.push_str(&format!("{n}.rpz.test. 300 CNAME .\n"));
    }
    z.push_str(&soa);
    z
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_going_backwards_is_refused() {
    let dir = TempDir::new("xfr-back");
    let seed = dir.write("court.rpz", SEED);
    let primary = fake_primary(zone_records(5, &["new.example"]), None).await;
    let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, ""))).await;
    wait_until("a refused transfer", || async {
        transfers(&r, "ixfr", "serial_backwards") >= 1
    })
    .await;
    assert_eq!(serial(&r), 10);
    assert_eq!(rcode(&r, "old.example").await, ResponseCode::NXDomain);
    assert_ne!(rcode(&r, "new.example").await, ResponseCode::NXDomain);
    assert!(
        r.metrics
            .list_reload_failures
            .with_label_values(&["court", "serial_backwards"])
            .get()
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_cut_mid_stream_keeps_the_old_policy() {
    let dir = TempDir::new("xfr-cut");
    let seed = dir.write("court.rpz", SEED);
    let names: Vec<String> = (0..200).map(|i| format!("n{i}.example")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let primary = fake_primary(zone_records(11, &refs), Some(1500)).await;
    let r = start_dnsward(&dir, &node_toml(&list_toml(&seed, primary, None, ""))).await;
    wait_until("a cut transfer", || async {
        transfers(&r, "ixfr", "truncated") >= 1
    })
    .await;
    assert_eq!(serial(&r), 10);
    assert_eq!(rcode(&r, "old.example").await, ResponseCode::NXDomain);
    assert_ne!(rcode(&r, "n1.example").await, ResponseCode::NXDomain);
    assert_eq!(std::fs::read_to_string(&seed).unwrap(), SEED);
}
