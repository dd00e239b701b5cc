//! Lists fetched from a feed URL: a small HTTP/1.1 server in the test
//! process (plain or TLS on 127.0.0.1) plays the feed; dnsward is queried
//! over DNS to see which version serves, and its metrics say why.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the feed answers `GET /list.txt`.
#[derive(Clone, Debug)]
enum Reply {
    /// 200 with this body and ETag; 304 when `If-None-Match` matches.
    Ok { body: String, etag: String },
    /// This status, a short text body.
    Status(u16),
    /// 200 with `Content-Type: text/html`.
    HtmlTyped,
    /// 200 `text/plain` whose body is an HTML page.
    HtmlBody,
    /// 200 announcing more bytes than are sent, then close.
    Truncated,
    /// 200 with the body sent a byte every 200 ms.
    Slow,
}

#[derive(Default)]
struct State {
    reply: Option<Reply>,
    /// What `GET /list.txt.sha256` returns.
    digest: Option<String>,
    /// Request heads received, lowercased.
    requests: Vec<String>,
}

/// The feed server; stops when dropped.
struct FeedServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FeedServer {
    async fn start(reply: Reply, tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            reply: Some(reply),
            ..State::default()
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = l.accept().await else {
                    return;
                };
                let st = st.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(cfg) => {
                            let acc = tokio_rustls::TlsAcceptor::from(cfg);
                            if let Ok(s) = acc.accept(sock).await {
                                serve(s, st).await;
                            }
                        }
                        None => serve(sock, st).await,
                    }
                });
            }
        });
        Self { addr, state, task }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/list.txt", self.addr)
    }

    fn set(&self, reply: Reply) {
        self.state.lock().expect("lock").reply = Some(reply);
    }

    fn set_digest(&self, d: &str) {
        self.state.lock().expect("lock").digest = Some(d.to_string());
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().expect("lock").requests.clone()
    }
}

/// One request per connection (`Connection: close`).
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, st: Arc<Mutex<State>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let (reply, digest) = {
        let mut g = st.lock().expect("lock");
        g.requests.push(head.clone());
        (g.reply.clone(), g.digest.clone())
    };
    let send = |status: &str, ctype: &str, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    let out = if path == "/list.txt.sha256" {
        match digest {
            Some(d) => send("200 OK", "text/plain", "", &format!("{d}  list.txt\n")),
            None => send("404 Not Found", "text/plain", "", "no digest\n"),
        }
    } else {
        match reply {
            Some(Reply::Ok { body, etag }) => {
                if head.contains(&format!("if-none-match: {}", etag.to_ascii_lowercase())) {
                    format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                } else {
                    send("200 OK", "text/plain", &format!("ETag: {etag}\r\n"), &body)
                }
            }
            Some(Reply::Status(code)) => send(&format!("{code} Oops"), "text/plain", "", "error\n"),
            Some(Reply::HtmlTyped) => send(
                "200 OK",
                "text/html; charset=utf-8",
                "",
                "maintenance.example.zz\n",
            ),
            Some(Reply::HtmlBody) => send(
                "200 OK",
                "text/plain",
                "",
                "\n  <!DOCTYPE html><html><body>portal.example.zz</body></html>\n",
            ),
            Some(Reply::Truncated) => {
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\nConnection: close\r\n\r\ncut.example.zz\n".to_string()
            }
            Some(Reply::Slow) => {
                let body = "slow.example.zz\n".repeat(4);
                let headers = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                if s.write_all(headers.as_bytes()).await.is_err() {
                    return;
                }
                // Bounded: at most 64 bytes at 200 ms each.
                for b in body.bytes() {
                    if s.write_all(&[b]).await.is_err() || s.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                return;
            }
            None => send("404 Not Found", "text/plain", "", ""),
        }
    };
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// Is `name` answered by a block list (EDE present)?
async fn blocked(server: SocketAddr, name: &str) -> bool {
    let (m, _) = query(server, Proto::Udp, name, RecordType::A).await;
    assert_ne!(m.metadata.response_code, ResponseCode::ServFail, "{name}");
    ede_of(&m).is_some()
}

/// Sum of the samples of `metric` whose labels contain every `labels` pair.
async fn metric(d: &dnsward::app::Running, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, text) = http_get(d.metrics_addr.expect("metrics"), "/metrics").await;
    parse_metrics(&text)
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

async fn transfers(d: &dnsward::app::Running, result: &str) -> f64 {
    metric(
        d,
        "dnsward_list_transfer_total",
        &[("list", "feed"), ("kind", "http"), ("result", result)],
    )
    .await
}

async fn wait_transfer(d: &dnsward::app::Running, result: &str, at_least: f64) {
    wait_until(&format!("transfer result {result}"), || async {
        transfers(d, result).await >= at_least
    })
    .await;
}

fn feed_toml(h: &Hierarchy, url: &str, extra: &str) -> String {
    base_toml(&format!(
        "{}[[lists]]\nname = \"feed\"\nurl = \"{url}\"\npath = \"state/feed.txt\"\nformat = \"auto\"\nrefresh_secs = 1\n{extra}",
        h.resolver_toml()
    ))
}

fn ok(body: &str, etag: &str) -> Reply {
    Reply::Ok {
        body: body.to_string(),
        etag: format!("\"{etag}\""),
    }
}

/// Twenty names, so the shrink guard has something to guard.
fn twenty() -> String {
    (0..20).map(|i| format!("n{i}.example.zz\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_then_not_modified_keeps_the_list_and_sends_the_etag() {
    let h = Hierarchy::start().await;
    let feed = FeedServer::start(ok("ads.example.zz\n", "v1"), None).await;
    // No `state/` yet: it is made for the cache.
    let dir = TempDir::new("feed-ok");
    let d = start_dnsward(&dir, &feed_toml(&h, &feed.url("http"), "")).await;
    let s = d.dns[0];
    wait_until("first fetch blocks", || blocked(s, "ads.example.zz.")).await;
    assert!(!blocked(s, "www.example.zz.").await);
    wait_transfer(&d, "not_modified", 1.0).await;
    assert!(
        feed.requests()
            .iter()
            .any(|r| r.contains("if-none-match: \"v1\"")),
        "conditional request sent"
    );
    assert!(blocked(s, "ads.example.zz.").await, "304 keeps the list");
    assert_eq!(transfers(&d, "success").await, 1.0);
    let cached = dir.path().join("state/feed.txt");
    assert_eq!(
        std::fs::read_to_string(&cached).expect("cache"),
        "ads.example.zz\n"
    );
    let meta = std::fs::read_to_string(dir.path().join("state/feed.txt.meta")).expect("meta");
    assert!(meta.contains("\\\"v1\\\""), "{meta}");
    assert!(!dir.path().join("state/feed.txt.part").exists());

    // A new version replaces the old one (and is fetched in full: its
    // ETag differs).
    feed.set(ok("ads.example.zz\nnew.example.zz\n", "v2"));
    wait_until("second version", || blocked(s, "new.example.zz.")).await;
    assert!(blocked(s, "ads.example.zz.").await);
    assert_eq!(transfers(&d, "success").await, 2.0);
    d.shutdown(Duration::from_secs(1)).await;
}

/// Start with `first` served, wait until it blocks, switch the feed to
/// `bad`, and check the failure is counted under `result` (and, for a
/// fetch failure, `reason`) while the first version keeps serving.
async fn refused_keeps_serving(bad: Reply, result: &str, reason: &str, extra: &str) {
    let h = Hierarchy::start().await;
    let feed = FeedServer::start(ok(&twenty(), "v1"), None).await;
    let dir = TempDir::new("feed-bad");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    let d = start_dnsward(&dir, &feed_toml(&h, &feed.url("http"), extra)).await;
    let s = d.dns[0];
    wait_until("first version", || blocked(s, "n7.example.zz.")).await;
    feed.set(bad);
    let started = Instant::now();
    wait_transfer(&d, result, 1.0).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        metric(
            &d,
            "dnsward_list_reload_failures_total",
            &[("list", "feed"), ("reason", reason)]
        )
        .await
            >= 1.0,
        "reload failure counted as {reason}"
    );
    for n in ["n0.example.zz.", "n19.example.zz."] {
        assert!(blocked(s, n).await, "old list keeps serving: {n}");
    }
    for n in [
        "maintenance.example.zz.",
        "portal.example.zz.",
        "cut.example.zz.",
        "slow.example.zz.",
        "only.example.zz.",
    ] {
        assert!(!blocked(s, n).await, "nothing from the bad fetch: {n}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state/feed.txt")).expect("cache"),
        twenty(),
        "path keeps the last good version"
    );
    assert!(!dir.path().join("state/feed.txt.part").exists());
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_keeps_the_old_list() {
    refused_keeps_serving(Reply::Status(500), "status", "status", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_content_type_is_refused() {
    refused_keeps_serving(Reply::HtmlTyped, "html", "html", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_body_is_refused() {
    refused_keeps_serving(Reply::HtmlBody, "html", "html", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_is_refused() {
    refused_keeps_serving(Reply::Truncated, "truncated", "truncated", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_times_out() {
    refused_keeps_serving(Reply::Slow, "timeout", "timeout", "timeout_secs = 1\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninety_percent_shrink_is_refused_by_the_guard() {
    refused_keeps_serving(
        ok("only.example.zz\nn1.example.zz\n", "v2"),
        "refused",
        "shrink",
        "",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_digest_mismatch_is_refused() {
    let h = Hierarchy::start().await;
    let v1 = "ads.example.zz\n";
    let feed = FeedServer::start(ok(v1, "v1"), None).await;
    feed.set_digest(&format!("{:x}", Sha256::digest(v1.as_bytes())));
    let dir = TempDir::new("feed-sha");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    let extra = format!("sha256_url = \"{}.sha256\"\n", feed.url("http"));
    let d = start_dnsward(&dir, &feed_toml(&h, &feed.url("http"), &extra)).await;
    let s = d.dns[0];
    wait_until("digest matches", || blocked(s, "ads.example.zz.")).await;
    // A new body, the old digest.
    feed.set(ok("ads.example.zz\nevil.example.zz\n", "v2"));
    wait_transfer(&d, "checksum", 1.0).await;
    assert!(blocked(s, "ads.example.zz.").await);
    assert!(!blocked(s, "evil.example.zz.").await);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_the_feed_down_serves_the_cached_seed() {
    let h = Hierarchy::start().await;
    let feed = FeedServer::start(ok("ads.example.zz\n", "v1"), None).await;
    let url = feed.url("http");
    let dir = TempDir::new("feed-seed");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    let toml = feed_toml(&h, &url, "");
    let d = start_dnsward(&dir, &toml).await;
    wait_until("fetched", || blocked(d.dns[0], "ads.example.zz.")).await;
    d.shutdown(Duration::from_secs(1)).await;
    drop(feed);

    let d = start_dnsward(&dir, &toml).await;
    assert!(
        blocked(d.dns[0], "ads.example.zz.").await,
        "seed serves at once"
    );
    wait_transfer(&d, "network", 1.0).await;
    assert!(blocked(d.dns[0], "ads.example.zz.").await);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_file() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use tokio_rustls::rustls;
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
    )
    .expect("server config");

    let h = Hierarchy::start().await;
    let feed = FeedServer::start(ok("tls.example.zz\n", "v1"), Some(Arc::new(tls))).await;
    let dir = TempDir::new("feed-tls");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    dir.write("ca.pem", &ca.pem());
    let d = start_dnsward(
        &dir,
        &feed_toml(&h, &feed.url("https"), "ca_file = \"ca.pem\"\n"),
    )
    .await;
    wait_until("fetched over TLS", || blocked(d.dns[0], "tls.example.zz.")).await;
    assert_eq!(transfers(&d, "success").await, 1.0);
    d.shutdown(Duration::from_secs(1)).await;

    // Without the CA the same server is not trusted.
    let dir2 = TempDir::new("feed-tls-untrusted");
    std::fs::create_dir_all(dir2.path().join("state")).expect("mkdir");
    let d = start_dnsward(&dir2, &feed_toml(&h, &feed.url("https"), "")).await;
    wait_transfer(&d, "network", 1.0).await;
    assert!(!blocked(d.dns[0], "tls.example.zz.").await);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_size_cap_is_refused() {
    let big: String = (0..80_000)
        .map(|i| format!("big{i}.example.zz\n"))
        .collect();
    assert!(big.len() > 1024 * 1024);
    refused_keeps_serving(
        ok(&big, "v2"),
        "too_large",
        "too_large",
        "max_size_mb = 1\n",
    )
    .await;
}
