//! The real binary: `run` with SIGHUP reload and SIGTERM exit, the metrics
//! endpoints as a scraper sees them, and the offline commands
//! `check-config`, `check-list` and `explain`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const BIN: &str = env!("CARGO_BIN_EXE_dnsward");

struct Proc {
    child: Child,
    dns: SocketAddr,
    http: SocketAddr,
    /// Everything the process wrote to stderr (its log) so far.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

mod offline;

/// Collect a child's stderr on a thread, so the pipe never fills and the
/// test can read the log at any point.
fn collect_stderr(child: &mut Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = sink.lock().expect("log");
            l.push_str(&line);
            l.push('\n');
        }
    });
    log
}

impl Proc {
    fn start(config: &std::path::Path) -> Self {
        Self::start_with(config, None)
    }

    /// Start in `cwd` (so a relative `--config` stays relative).
    fn start_with(config: &std::path::Path, cwd: Option<&std::path::Path>) -> Self {
        // The fake hierarchies are unsigned: no validation unless asked.
        let file = cwd.map_or_else(|| config.to_path_buf(), |d| d.join(config));
        if let Ok(text) = std::fs::read_to_string(&file) {
            std::fs::write(&file, crate::common::unvalidated(&text)).expect("rewrite config");
        }
        let mut cmd = Command::new(BIN);
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dnsward");
        let log = collect_stderr(&mut child);
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut dns, mut http) = (None, None);
        while dns.is_none() || http.is_none() {
            let line = lines
                .next()
                .expect("dnsward exited before listening")
                .expect("read");
            if let Some(a) = line.strip_prefix("listening dns udp+tcp ") {
                dns = a.parse().ok();
            } else if let Some(a) = line.strip_prefix("listening http ") {
                http = a.parse().ok();
            }
        }
        Self {
            child,
            dns: dns.expect("dns"),
            http: http.expect("http"),
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Wait (up to 10 s) until the log holds `needle`; the whole log.
    fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "log never said `{needle}`:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_unwatched_lists_and_sigterm_exits_cleanly() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("sighup");
    let list = dir.write("l.txt", "ads.example.zz\n");
    let cfg = dir.write(
        "c.toml",
        &base_toml(&format!(
            "{}[reload]\nwatch = false\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
            h.resolver_toml()
        ))
        .replace("[reload]\nsettle_ms = 200\n", ""),
    );
    let mut p = Proc::start(&cfg);
    let (m, _) = query(p.dns, Proto::Udp, "ads.example.zz.", RecordType::A).await;
    assert!(ede_of(&m).is_some());

    let prober = ProberLite::start(p.dns);
    // Add a name (removing the only one would trip the shrink guard).
    std::fs::write(&list, "ads.example.zz\nwww.example.zz\n").expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (m, _) = query(p.dns, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert!(ede_of(&m).is_none(), "not watched: no reload before SIGHUP");
    p.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (m, _) = query(p.dns, Proto::Udp, "www.example.zz.", RecordType::A).await;
        if ede_of(&m).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sent, failed) = prober.finish().await;
    assert_eq!(failed, 0, "{failed}/{sent} queries failed around SIGHUP");

    // Metrics from the real process, parsed.
    let (status, body) = http_get(p.http, "/metrics").await;
    assert_eq!(status, 200);
    let m = parse_metrics(&body);
    assert_eq!(m.get("dnsward_list_entries{list=\"l\"}"), Some(&2.0));
    assert!(
        m.get("dnsward_list_reloads_total{list=\"l\"}")
            .copied()
            .unwrap_or(0.0)
            >= 2.0
    );

    p.signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = p.child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

/// A minimal continuous querier for the binary test.
struct ProberLite {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<(u64, u64)>,
}

impl ProberLite {
    fn start(server: SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let task = tokio::spawn(async move {
            let (mut sent, mut failed) = (0, 0);
            while !st.load(Ordering::Relaxed) {
                let q = make_query("www.example.zz.", RecordType::A, Some(1232));
                sent += 1;
                match udp_raw(server, &q.to_vec().expect("enc"), Duration::from_secs(2)).await {
                    Some(r) if r[3] & 0x0f != 2 => {}
                    _ => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (sent, failed)
        });
        Self { stop, task }
    }
    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.expect("prober")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_counts_this_tests_queries() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("metrics");
    dir.write("l.txt", "ads.example.zz\n");
    let d = start_dnsward(
        &dir,
        &base_toml(&format!(
            "{}[[lists]]\nname = \"court\"\npath = \"l.txt\"\naction = \"nxdomain\"\n",
            h.resolver_toml()
        )),
    )
    .await;
    let http = d.metrics_addr.expect("metrics listener");
    let scrape = || async { parse_metrics(&http_get(http, "/metrics").await.1) };
    let get =
        |m: &std::collections::HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let before = scrape().await;
    for _ in 0..5 {
        query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    }
    for _ in 0..3 {
        query(d.dns[0], Proto::Tcp, "x.ads.example.zz.", RecordType::AAAA).await;
    }
    let after = scrape().await;
    let delta = |k: &str| get(&after, k) - get(&before, k);
    assert_eq!(
        delta("dnsward_queries_total{protocol=\"udp\",qtype=\"A\"}"),
        5.0
    );
    assert_eq!(
        delta("dnsward_queries_total{protocol=\"tcp\",qtype=\"AAAA\"}"),
        3.0
    );
    assert_eq!(
        delta("dnsward_blocked_total{action=\"nxdomain\",list=\"court\"}"),
        3.0
    );
    assert_eq!(delta("dnsward_responses_total{rcode=\"NXDOMAIN\"}"), 3.0);
    assert_eq!(delta("dnsward_cache_hits_total"), 4.0);
    assert_eq!(delta("dnsward_cache_misses_total"), 1.0);
    assert_eq!(
        delta("dnsward_upstream_duration_seconds_count{mode=\"recursive\"}"),
        1.0
    );
    assert_eq!(get(&after, "dnsward_list_entries{list=\"court\"}"), 1.0);
    assert!(
        get(
            &after,
            "dnsward_list_last_reload_timestamp_seconds{list=\"court\"}"
        ) > 1.7e9
    );
    assert_eq!(
        get(
            &after,
            &format!(
                "dnsward_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    // No query name or client address ever appears in a label.
    let text = http_get(http, "/metrics").await.1;
    assert!(!text.contains("example.zz") && !text.contains("127.0.0.1"));

    assert_eq!(http_get(http, "/healthz").await.0, 200);
    assert_eq!(http_get(http, "/readyz").await.0, 200);
    assert_eq!(http_get(http, "/nope").await.0, 404);
    d.shutdown(Duration::from_secs(1)).await;
}

fn run_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_acl_without_restart() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("aclhup");
    let body = |acl: &str| {
        unvalidated(&base_toml(&format!(
            "{}[acl]\nallow = [{acl}]\n",
            h.resolver_toml()
        )))
    };
    let cfg = dir.write("c.toml", &body("\"10.0.0.0/8\""));
    let p = Proc::start(&cfg);
    let (m, _) = query(p.dns, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // A broken config is refused on SIGHUP and the running ACL stays.
    std::fs::write(&cfg, body("\"not-a-network\"")).expect("write");
    p.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (m, _) = query(p.dns, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // A good one takes effect without a restart.
    std::fs::write(&cfg, body("\"127.0.0.0/8\"")).expect("write");
    p.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (m, _) = query(p.dns, Proto::Udp, "www.example.zz.", RecordType::A).await;
        if m.metadata.response_code == ResponseCode::NoError {
            assert_eq!(rdata(&m), vec!["192.0.2.10"]);
            break;
        }
        assert!(Instant::now() < deadline, "ACL not reloaded by SIGHUP");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The log says what the reload changed, not just that it happened.
    let log = p.wait_log("acl.allow:");
    assert!(
        log.contains("config reloaded: acl.allow: 1 -> 1 networks (+127.0.0.0/8, -10.0.0.0/8)"),
        "{log}"
    );
    assert!(log.contains("config not reloaded"), "{log}");
    // A SIGHUP with nothing changed says so.
    p.signal("-HUP");
    p.wait_log("config re-read: no changes");
}

#[test]
fn run_without_a_lists_directory_warns_naming_it() {
    // The built-in config (no --config) from a directory with no
    // ./blocklists. It binds the built-in loopback ports, which may be
    // taken: the warning comes before binding either way.
    let dir = TempDir::new("emptyrun");
    let mut child = Command::new(BIN)
        .arg("run")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let log = collect_stderr(&mut child);
    let want = format!(
        "no list files in {}",
        dir.path().join("blocklists").display()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = log.lock().expect("log").clone();
        if text.contains(&want) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains(&want), "{text}");
    assert!(
        text.contains("WARN") && text.contains("*.txt, *.hosts, *.list, case-sensitive"),
        "{text}"
    );
}

/// One raw HTTP exchange: (head, body) as sent by the server.
async fn http_raw(addr: SocketAddr, method: &str, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    (head.to_string(), body.to_string())
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("Content-Length")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_every_get_endpoint_without_a_body() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("head");
    dir.write("l.txt", "ads.example.zz\n");
    let d = start_dnsward(
        &dir,
        &base_toml(&format!(
            "{}[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
            h.resolver_toml()
        )),
    )
    .await;
    let http = d.metrics_addr.expect("metrics listener");
    for path in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/explain?name=ads.example.zz",
    ] {
        let (get_head, get_body) = http_raw(http, "GET", path).await;
        let (head, body) = http_raw(http, "HEAD", path).await;
        assert!(head.starts_with("HTTP/1.1 200 "), "HEAD {path}: {head}");
        assert!(body.is_empty(), "HEAD {path} sent a body: {body}");
        let ctype = |h: &str| {
            h.lines()
                .find(|l| l.starts_with("Content-Type:"))
                .map(str::to_string)
        };
        assert_eq!(ctype(&head), ctype(&get_head), "{path}");
        if path == "/metrics" {
            assert!(content_length(&head) > 1000, "{head}");
        } else {
            assert_eq!(content_length(&head), get_body.len(), "{path}");
        }
    }
    let (head, body) = http_raw(http, "HEAD", "/admin/reload").await;
    assert!(
        head.starts_with("HTTP/1.1 405 ") && head.contains("Allow: POST"),
        "{head}"
    );
    assert!(body.is_empty());
    let (head, _) = http_raw(http, "DELETE", "/metrics").await;
    assert!(
        head.starts_with("HTTP/1.1 405 ") && head.contains("Allow: GET, HEAD"),
        "{head}"
    );
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_query_log_is_capped_and_the_rest_counted() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("logcap");
    dir.write("l.txt", "ads.example.zz\n");
    let cfg = dir.write(
        "c.toml",
        &base_toml(&format!(
            "{}[logging]\nblocked_queries = true\nblocked_queries_max_per_sec = 2\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
            h.resolver_toml()
        )),
    );
    let p = Proc::start(&cfg);
    const SENT: usize = 30;
    for i in 0..SENT {
        let (m, _) = query(
            p.dns,
            Proto::Udp,
            &format!("q{i}.ads.example.zz."),
            RecordType::A,
        )
        .await;
        assert!(ede_of(&m).is_some(), "every query is still blocked");
    }
    let (_, body) = http_get(p.http, "/metrics").await;
    let m = parse_metrics(&body);
    let suppressed = m
        .get("dnsward_log_suppressed_total{log=\"blocked\"}")
        .copied()
        .unwrap_or(0.0) as usize;
    assert_eq!(
        m.get("dnsward_blocked_total{action=\"sinkhole\",list=\"l\"}"),
        Some(&(SENT as f64))
    );
    // Lines written plus lines counted as left out are every block.
    let deadline = Instant::now() + Duration::from_secs(10);
    let written = loop {
        let n = p
            .log()
            .lines()
            .filter(|l| l.contains("dnsward::blocked"))
            .count();
        if n + suppressed >= SENT || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        written + suppressed,
        SENT,
        "written {written}, suppressed {suppressed}"
    );
    // 2 a second: however slow the machine, far fewer than one per query.
    assert!(
        suppressed >= SENT / 2,
        "only {suppressed} of {SENT} suppressed"
    );
}

#[test]
fn deploy_example_answers_public_subscriber_prefixes() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dnsward.toml"),
    )
    .expect("deploy/dnsward.toml");
    let cfg: dnsward::config::Config = toml::from_str(&text).expect("parses");
    let acl = dnsward::pipeline::acl::Acl::new(&cfg.acl).expect("valid acl");
    use dnsward::pipeline::acl::AclDecision::{Allow, Deny};
    for (client, allowed) in [
        ("192.0.2.77", true),
        ("198.51.100.5", true),
        ("198.51.100.200", false),
        ("2001:db8:1234::1", true),
        ("100.64.1.1", true),
        ("203.0.113.9", false),
    ] {
        let d = acl.check(ip(client));
        assert_eq!(matches!(d, Allow), allowed, "{client}: {d:?}");
        if !allowed {
            assert!(matches!(d, Deny(_)));
        }
    }
}

#[test]
fn os_errors_are_printed_once() {
    let dir = TempDir::new("oserr");
    let missing = dir.path().join("missing.txt");
    let (ok, text) = run_cli(&["check-list", missing.to_str().expect("utf8")]);
    assert!(!ok);
    assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    assert!(text.contains("missing.txt: cannot read: "), "{text}");

    let (ok, text) = run_cli(&["check-config", missing.to_str().expect("utf8")]);
    assert!(!ok);
    assert_eq!(text.matches("os error 2").count(), 1, "{text}");

    // A DNS and a metrics address some other socket holds.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    dir.write("l.txt", "ads.example\n");
    for (tag, toml) in [
        (
            "dns",
            format!("[server]\nlisten = [\"127.0.0.1:{port}\"]\n[metrics]\nlisten = \"\"\n"),
        ),
        (
            "metrics",
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"
            ),
        ),
    ] {
        let cfg = dir.write(
            &format!("{tag}.toml"),
            &format!("{toml}[[lists]]\nname = \"l\"\npath = \"l.txt\"\n"),
        );
        let out = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&cfg)
            .env("DNSWARD_LOG", "error")
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{tag}: {text}");
        assert!(
            text.contains("cannot listen on 127.0.0.1:"),
            "{tag}: {text}"
        );
        assert_eq!(text.matches("(os error 98)").count(), 1, "{tag}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_config_error_prints_the_os_error_once() {
    let dir = TempDir::new("hupcfg");
    dir.write("l.txt", "ads.example\n");
    let cfg = dir.write(
        "c.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\nlisten = \"127.0.0.1:0\"\n[reload]\nwatch = false\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    );
    let p = Proc::start(&cfg);
    std::fs::remove_file(&cfg).expect("rm config");
    p.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = p.log();
        if let Some(l) = text.lines().find(|l| l.contains("config not reloaded")) {
            break l.to_string();
        }
        assert!(Instant::now() < deadline, "no config error logged:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(line.matches("os error 2").count(), 1, "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_has_absolute_paths_and_no_line_for_unchanged_lists() {
    let dir = TempDir::new("auditabs");
    let list = dir.write("l.txt", "ads.example\n");
    dir.write(
        "c.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\nlisten = \"127.0.0.1:0\"\n[reload]\nwatch = false\n[audit]\nlog = \"audit.jsonl\"\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    );
    // Relative config path, run from its directory: list and audit paths
    // are relative as written.
    let p = Proc::start_with(std::path::Path::new("c.toml"), Some(dir.path()));
    let audit = dir.path().join("audit.jsonl");
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    };
    assert_eq!(lines().len(), 1, "initial load audited");
    for _ in 0..2 {
        let (status, json) = http_post(p.http, "/admin/reload").await;
        assert_eq!(status, 200, "{json}");
        assert!(json.contains("\"result\": \"unchanged\""), "{json}");
    }
    assert_eq!(
        lines().len(),
        1,
        "no line for a reload that changed nothing"
    );
    std::fs::write(&list, "ads.example\nwww.example\n").expect("w");
    let (status, json) = http_post(p.http, "/admin/reload").await;
    assert_eq!(status, 200, "{json}");
    let got = lines();
    assert_eq!(got.len(), 2, "{got:?}");
    let want = list.display().to_string();
    for l in &got {
        assert_eq!(l["path"], want.as_str(), "{l}");
    }
    assert_eq!(got[1]["result"], "reloaded");
    assert_eq!(got[1]["entries_after"], 2);
}

#[test]
fn an_admin_listener_off_loopback_needs_a_token_file() {
    let dir = TempDir::new("admintoken");
    dir.write("l.txt", "ads.example\n");
    let conf = |metrics: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\n{metrics}\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n"
        )
    };
    let open = dir.write("open.toml", &conf("listen = \"0.0.0.0:0\""));
    let open = open.to_str().expect("utf8");
    let (ok, text) = run_cli(&["check-config", open]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("metrics.admin_token_file") && text.contains("not a loopback address"),
        "{text}"
    );
    // `run` refuses to start with the same reason (before binding anything).
    let (ok, text) = run_cli(&["run", "--config", open]);
    assert!(!ok, "{text}");
    assert!(text.contains("metrics.admin_token_file"), "{text}");

    dir.write("short", "abc\n");
    let short = dir.write(
        "short.toml",
        &conf("listen = \"0.0.0.0:0\"\nadmin_token_file = \"short\""),
    );
    let (ok, text) = run_cli(&["check-config", short.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(text.contains("at least 16"), "{text}");

    let missing = dir.write(
        "missing.toml",
        &conf("listen = \"127.0.0.1:0\"\nadmin_token_file = \"nope\""),
    );
    let (ok, text) = run_cli(&["check-config", missing.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(
        text.contains("metrics.admin_token_file") && text.contains("nope"),
        "{text}"
    );

    dir.write("token", "  0123456789abcdef0123  \n");
    let good = dir.write(
        "good.toml",
        &conf("listen = \"0.0.0.0:0\"\nadmin_token_file = \"token\""),
    );
    let (ok, text) = run_cli(&["check-config", good.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    // `config --print` output works from any directory: the path is absolute.
    let (ok, text) = run_cli(&[
        "config",
        "--print",
        "--config",
        good.to_str().expect("utf8"),
    ]);
    assert!(ok, "{text}");
    let want = format!(
        "admin_token_file = \"{}\"",
        dir.path().join("token").display()
    );
    assert!(text.contains(&want), "{want} not in:\n{text}");
}

/// One request with extra header lines; (status, whole response).
async fn http_with(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_need_the_bearer_token_and_reads_do_not() {
    let dir = TempDir::new("adminauth");
    dir.write("l.txt", "ads.example\n");
    let token = dir.write("token", "first-token-0123456789\n");
    let d = start_dnsward(
        &dir,
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\nadmin_token_file = \"token\"\n\
         [[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    )
    .await;
    let http = d.metrics_addr.expect("metrics");

    let (status, text) = http_with(http, "POST", "/admin/reload", "").await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("WWW-Authenticate: Bearer"), "{text}");
    let wrong = "Authorization: Bearer first-token-0123456780\r\n";
    assert_eq!(http_with(http, "POST", "/admin/reload", wrong).await.0, 401);
    let right = "Authorization: Bearer first-token-0123456789\r\n";
    let (status, text) = http_with(http, "POST", "/admin/reload", right).await;
    assert_eq!(status, 200, "{text}");
    // Any method on /admin/ is refused before it is routed.
    assert_eq!(http_with(http, "GET", "/admin/reload", "").await.0, 401);
    // Scrapes, probes and explain stay open.
    for path in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/explain?name=ads.example",
    ] {
        assert_eq!(http_get(http, path).await.0, 200, "{path}");
    }

    // The file is read per request: a rotated token takes effect at once.
    std::fs::write(&token, "second-token-0123456789\n").expect("rotate");
    assert_eq!(http_with(http, "POST", "/admin/reload", right).await.0, 401);
    let rotated = "authorization: bearer second-token-0123456789\r\n";
    assert_eq!(
        http_with(http, "POST", "/admin/reload", rotated).await.0,
        200
    );

    // `dnsward reload` sends it from --token-file.
    let admin = http.to_string();
    let tok = token.to_str().expect("utf8").to_string();
    let (ok, text) = tokio::task::spawn_blocking(move || {
        let with = run_cli(&["reload", "--admin", &admin, "--token-file", &tok]);
        let without = run_cli(&["reload", "--admin", &admin]);
        (
            with.0 && !without.0,
            format!("{}\n---\n{}", with.1, without.1),
        )
    })
    .await
    .expect("join");
    assert!(ok, "{text}");
    d.shutdown(Duration::from_secs(1)).await;
}
