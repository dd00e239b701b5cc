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

#[test]
fn check_config_reports_every_problem_by_key() {
    let dir = TempDir::new("checkcfg");
    dir.write("l.txt", "ads.example\n");
    let good = dir.write(
        "good.toml",
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    );
    let (ok, text) = run_cli(&["check-config", good.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    assert!(text.contains("list l: 1 entries"), "{text}");

    let bad = dir.write(
        "bad.toml",
        "[server]\nlisten = [\"not-an-address\"]\n[resolver]\nmode = \"forward\"\n[[lists]]\nname = \"l\"\npath = \"missing.txt\"\nede = 99\n",
    );
    let (ok, text) = run_cli(&["check-config", bad.to_str().expect("utf8")]);
    assert!(!ok);
    for key in [
        "server.listen[0]",
        "resolver.upstreams",
        "lists[0].path",
        "lists[0].ede",
    ] {
        assert!(text.contains(key), "{key} not named in:\n{text}");
    }

    let typo = dir.write("typo.toml", "[server]\nlisen = []\n");
    let (ok, text) = run_cli(&["check-config", typo.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(text.contains("lisen") && text.contains("line 2"), "{text}");

    dir.write("garbage.txt", "<html>\n</html>\n");
    let bad_list = dir.write(
        "badlist.toml",
        "[[lists]]\nname = \"g\"\npath = \"garbage.txt\"\n",
    );
    let (ok, text) = run_cli(&["check-config", bad_list.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(text.contains("garbage.txt:1:"), "{text}");
}

#[test]
fn check_list_prints_file_line_reason_and_counts() {
    let dir = TempDir::new("checklist");
    let f = dir.write(
        "l.txt",
        "# comment\ngood.example\nbad..example\n192.0.2.1\n*.wild.example\n",
    );
    let (ok, text) = run_cli(&["check-list", f.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    let p = f.display().to_string();
    assert!(text.contains(&format!("{p}:3: ")), "{text}");
    assert!(text.contains(&format!("{p}:4: ")), "{text}");
    assert!(text.contains("2 entries accepted"), "{text}");
    assert!(text.contains("2 rejected"), "{text}");

    let g = dir.write("g.txt", "!!!\n???\n");
    let (ok, _) = run_cli(&["check-list", g.to_str().expect("utf8")]);
    assert!(!ok, "nothing usable must fail");

    // A real hosts list: every line is accounted for.
    let real = shared("blocklists/1hosts-lite-hosts-format/hosts.txt");
    let (ok, text) = run_cli(&["check-list", real.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    assert!(text.contains("format hosts"), "{text}");
    assert!(text.contains("73878 entries accepted"), "{text}");
}

#[test]
fn explain_names_the_list_line_and_the_overriding_allow() {
    let dir = TempDir::new("explain");
    dir.write("block.txt", "# order\nads.example\n");
    dir.write("allow.txt", "ok.ads.example\n");
    let cfg = dir.write(
        "c.toml",
        "[[lists]]\nname = \"court\"\npath = \"block.txt\"\n[[lists]]\nname = \"exempt\"\npath = \"allow.txt\"\nkind = \"allow\"\n",
    );
    let c = cfg.to_str().expect("utf8");
    let (ok, text) = run_cli(&["explain", "x.ads.example", "--config", c]);
    assert!(ok);
    assert!(
        text.contains("x.ads.example: blocked by block list court `ads.example`")
            && text.contains("block.txt:2)"),
        "{text}"
    );
    let (_, text) = run_cli(&["explain", "ok.ads.example", "--config", c]);
    assert!(
        text.contains("allowed by allow list exempt `ok.ads.example`"),
        "{text}"
    );
    assert!(
        text.contains("matched: block list court `ads.example`"),
        "{text}"
    );
    let (_, text) = run_cli(&["explain", "other.example", "--config", c]);
    assert!(text.contains("not listed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_acl_without_restart() {
    let h = Hierarchy::start().await;
    let dir = TempDir::new("aclhup");
    let body = |acl: &str| base_toml(&format!("{}[acl]\nallow = [{acl}]\n", h.resolver_toml()));
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
fn config_print_shows_every_default_and_round_trips_through_check_config() {
    let a = TempDir::new("cfgprint-a");
    a.write("l.txt", "ads.example\n");
    let cfg = a.write(
        "c.toml",
        "[ratelimit]\nqps = 50\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    );
    let (ok, text) = run_cli(&["config", "--print", "--config", cfg.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    let table: toml::Table = toml::from_str(&text).expect("output parses as TOML");
    // Defaults the file never mentioned are there, with their values.
    assert_eq!(
        table["server"]["tcp_idle_timeout_secs"].as_integer(),
        Some(10)
    );
    assert_eq!(table["ratelimit"]["qps"].as_integer(), Some(50));
    assert_eq!(
        table["logging"]["blocked_queries_max_per_sec"].as_integer(),
        Some(10)
    );
    // The relative list path became absolute, so the output works elsewhere.
    let path = table["lists"][0]["path"].as_str().expect("path");
    assert_eq!(std::path::Path::new(path), a.path().join("l.txt"));

    let b = TempDir::new("cfgprint-b");
    let copy = b.write("effective.toml", &text);
    let (ok, out) = run_cli(&["check-config", copy.to_str().expect("utf8")]);
    assert!(ok && out.contains("list l: 1 entries"), "{out}");
    let (ok, again) = run_cli(&[
        "config",
        "--print",
        "--config",
        copy.to_str().expect("utf8"),
    ]);
    assert!(ok);
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&text), body(&again), "printing is a fixed point");

    // Without --config: the built-in default, lists found in ./blocklists.
    let c = TempDir::new("cfgprint-c");
    std::fs::create_dir(c.path().join("blocklists")).expect("mkdir");
    c.write("blocklists/court.txt", "ads.example\n");
    c.write("blocklists/ignored.TXT", "x.example\n");
    let out = Command::new(BIN)
        .args(["config", "--print"])
        .current_dir(c.path())
        .output()
        .expect("run");
    assert!(out.status.success());
    let table: toml::Table =
        toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("built-in parses");
    let lists = table["lists"].as_array().expect("lists");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0]["name"].as_str(), Some("court"));
    assert_eq!(
        table["server"]["listen"][0].as_str(),
        Some("127.0.0.1:5353")
    );
}

#[test]
fn check_config_names_authority_allow_for_a_denied_root_server() {
    let dir = TempDir::new("deniedroot");
    let cfg = dir.write(
        "c.toml",
        "[resolver]\nroot_servers = [\"127.0.0.1:5300\"]\n",
    );
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("resolver.root_servers[0]")
            && text.contains("add \"127.0.0.0/8\" to resolver.authority_allow"),
        "{text}"
    );
    // Start-up refuses it with the same words instead of serving SERVFAIL.
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resolver.authority_allow"), "{err}");
}

#[test]
fn check_config_lists_every_type_error_with_its_key() {
    let dir = TempDir::new("typeerrs");
    let cfg = dir.write(
        "c.toml",
        "[server]\nmax_udp_payload = \"big\"\ntcp_idle_timeout_secs = -1\n[cache]\nmax_entries = \"lots\"\n[resolver]\nmode = \"forwad\"\n[acl]\nallow = [\"10.0.0.0/8\", 7]\n",
    );
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(!ok);
    for (key, line) in [
        ("server.max_udp_payload", 2),
        ("server.tcp_idle_timeout_secs", 3),
        ("cache.max_entries", 5),
        ("resolver.mode", 7),
        ("acl.allow[1]", 9),
    ] {
        assert!(
            text.contains(&format!("{key}: line {line}: ")),
            "{key} (line {line}) not listed in:\n{text}"
        );
    }
    assert!(text.contains("5 problem(s)"), "{text}");

    // Type errors and value errors come in the same report.
    let mixed = dir.write(
        "m.toml",
        "[server]\nlisten = [\"nope\"]\nmax_udp_payload = \"big\"\n",
    );
    let (ok, text) = run_cli(&["check-config", mixed.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(
        text.contains("server.max_udp_payload: line 3") && text.contains("server.listen[0]"),
        "{text}"
    );
}

#[test]
fn check_config_says_a_config_without_lists_blocks_nothing() {
    let dir = TempDir::new("nolists");
    let cfg = dir.write("c.toml", "");
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    assert!(text.contains("no lists: nothing will be blocked"), "{text}");
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

/// Deterministic pseudo-random bytes (xorshift), no dependency.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn check_list_fails_on_mostly_garbage_even_with_a_few_good_names() {
    let dir = TempDir::new("checkgarbage");
    let mut body = b"ads.example\nwww.example\n".to_vec();
    body.extend(random_bytes(256 * 1024));
    let f = dir.path().join("random.txt");
    std::fs::write(&f, &body).expect("write");
    let (ok, text) = run_cli(&["check-list", f.to_str().expect("utf8")]);
    assert!(
        !ok,
        "random bytes accepted:\n{}",
        text.lines().last().unwrap_or("")
    );
    assert!(text.contains("too_many_rejected"), "{text}");
    assert!(text.contains("max_rejected_percent 50"), "{text}");
    // The guard is the list setting: 100 turns it off.
    let (ok, _) = run_cli(&[
        "check-list",
        f.to_str().expect("utf8"),
        "--max-rejected-percent",
        "100",
    ]);
    assert!(ok);
}

#[test]
fn single_label_entries_are_rejected_with_a_reason_unless_allowed() {
    let dir = TempDir::new("tld");
    let f = dir.write("l.txt", "com\nads.example\n*.net\n");
    let p = f.display().to_string();
    let (ok, text) = run_cli(&["check-list", &p]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("{p}:1: `com` is a single label"))
            && text.contains(&format!("{p}:3: `net` is a single label"))
            && text.contains("allow_tld_entries = true"),
        "{text}"
    );
    assert!(text.contains("1 entries accepted"), "{text}");
    assert!(
        text.contains(&format!("warning: 2 single-label entries (first at {p}:1)")),
        "{text}"
    );
    let (ok, text) = run_cli(&["check-list", &p, "--allow-tld-entries"]);
    assert!(ok, "{text}");
    assert!(text.contains("3 entries accepted"), "{text}");
    assert!(text.contains("warning: 2 single-label entries"), "{text}");

    // The list setting, through check-config.
    let cfg = dir.write("c.toml", "[[lists]]\nname = \"l\"\npath = \"l.txt\"\n");
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(
        ok && text.contains("list l: 1 entries, 2 rejected"),
        "{text}"
    );
    let cfg = dir.write(
        "c2.toml",
        "[[lists]]\nname = \"l\"\npath = \"l.txt\"\nallow_tld_entries = true\n",
    );
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(
        ok && text.contains("list l: 3 entries, 0 rejected"),
        "{text}"
    );
}

#[test]
fn explain_refuses_invalid_names_and_shows_the_rule_scope() {
    let dir = TempDir::new("explainbad");
    dir.write("block.txt", "*.ads.example\nexact.example\n");
    let cfg = dir.write(
        "c.toml",
        "[[lists]]\nname = \"court\"\npath = \"block.txt\"\nformat = \"domains\"\n",
    );
    let c = cfg.to_str().expect("utf8");
    let long = format!("{}.example", "a".repeat(292));
    for (name, why) in [
        ("", "empty name"),
        ("a..b", "empty label"),
        (long.as_str(), "300 bytes long (max 253)"),
        ("192.0.2.1", "IP address"),
    ] {
        let (ok, text) = run_cli(&["explain", name, "--config", c]);
        assert!(!ok, "`{name}` explained: {text}");
        assert!(
            text.contains("invalid name") && text.contains(why),
            "`{name}`: {text}"
        );
        assert!(!text.contains("not listed"), "{text}");
    }
    let (ok, text) = run_cli(&["explain", "x.ads.example", "--config", c]);
    assert!(ok, "{text}");
    assert!(
        text.contains("blocked by block list court `*.ads.example` ("),
        "{text}"
    );
    let (_, text) = run_cli(&["explain", "ads.example", "--config", c]);
    assert!(text.contains("ads.example: not listed"), "{text}");
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
fn the_try_forward_config_of_the_readme_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/try-forward.toml");
    let (ok, text) = run_cli(&["check-config", path]);
    assert!(ok, "{text}");
    assert!(text.contains("list court-orders: "), "{text}");
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
