//! The block page over the wire: 451 with its headers and page for blocked
//! hosts, 404 for the rest, hostile Host headers, the absolute-URI form,
//! HEAD, Accept-Language, the limits (header size and count, slow
//! clients, connection count), HTTPS with a certificate generated here
//! and without one, agreement with DNS across a reload, curl, and config
//! validation.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::rr::RecordType;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AUTHORITY: &str = "https://authority.example/orders";
const APPEAL: &str = "Apply to the People's Court of Hanoi to vary or discharge this order.";

/// The page's escaping (minijinja's HTML auto-escape).
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn config(dir: &TempDir, blockpage_extra: &str) -> String {
    dir.write("court.txt", "blocked.example\nother-blocked.example\n");
    dir.write("hostile.txt", "hostile.example\n");
    dir.write("allow.txt", "ok.blocked.example\n");
    dir.write("dry.txt", "dry.example\n");
    base_toml(&format!(
        r#"
# Only blocked names are asked over DNS here; anything else would go to
# this dead loopback port, never off the machine.
[resolver]
mode = "forward"
upstreams = ["127.0.0.1:9"]
timeout_ms = 300

[sinkhole]
ipv4 = "127.0.0.1"

[blockpage]
listen = ["127.0.0.1:0"]
authority_url = "{AUTHORITY}"
appeal = "{APPEAL}"
{blockpage_extra}

[[lists]]
name = "court"
path = "court.txt"
description = "Online gambling sites"
order_id = "17/2024/QD-TA"

[[lists]]
name = "hostile"
path = "hostile.txt"
description = "<script>alert('x')</script> & co"

[[lists]]
name = "exempt"
path = "allow.txt"
kind = "allow"

[[lists]]
name = "trial"
path = "dry.txt"
mode = "dry-run"
"#
    ))
}

async fn start(blockpage_extra: &str) -> (TempDir, dnsward::app::Running, SocketAddr) {
    let dir = TempDir::new("blockpage");
    let toml = config(&dir, blockpage_extra);
    let running = start_dnsward(&dir, &toml).await;
    let addr = running.blockpage[0];
    (dir, running, addr)
}

/// A raw HTTP exchange: write `req`, read until the server closes (or 5 s).
async fn raw(addr: SocketAddr, req: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(req).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    split(&buf)
}

fn split(buf: &[u8]) -> (u16, String, Vec<u8>) {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, buf[end..].to_vec())
}

fn get(host: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// One request with hyper's client: (status, headers, body).
async fn hyper_get(
    addr: SocketAddr,
    host: &str,
    method: &str,
    lang: Option<&str>,
) -> (u16, hyper::HeaderMap, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri("/some/path?q=1")
        .header("host", host);
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    let resp = send
        .send_request(req.body(Empty::<Bytes>::new()).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

async fn metric(running: &dnsward::app::Running, key: &str) -> f64 {
    let addr = running.metrics_addr.expect("metrics");
    let (_, text) = http_get(addr, "/metrics").await;
    parse_metrics(&text).get(key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn blocked_host_gets_451_with_link_and_the_page() {
    let (_dir, running, addr) = start("").await;
    let (status, h, body) = hyper_get(addr, "www.Blocked.Example:80", "GET", None).await;
    assert_eq!(status, 451, "{body}");
    assert_eq!(
        h.get("link").and_then(|v| v.to_str().ok()),
        Some(format!("<{AUTHORITY}>; rel=\"blocked-by\"").as_str())
    );
    assert_eq!(
        h.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        h.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        h.get("content-language").and_then(|v| v.to_str().ok()),
        Some("en")
    );
    for want in [
        "www.blocked.example",
        "Online gambling sites",
        &html("17/2024/QD-TA"),
        &html(AUTHORITY),
        &html(APPEAL),
        "451",
    ] {
        assert!(body.contains(want), "{want} missing:\n{body}");
    }
    assert!(body.contains("<html lang=\"en\">"));
    assert!(metric(&running, "dnsward_blockpage_requests_total{status=\"451\"}").await >= 1.0);
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn hosts_dns_does_not_block_get_404() {
    let (_dir, running, addr) = start("").await;
    // Not listed, allow-listed under a blocked name, dry-run only, no
    // Host at all, an IP literal.
    for host in [
        "fine.example",
        "ok.blocked.example",
        "dry.example",
        "127.0.0.1",
    ] {
        let (status, h, body) = hyper_get(addr, host, "GET", None).await;
        assert_eq!(status, 404, "{host}: {body}");
        assert!(h.get("link").is_none(), "{host}");
        assert!(!body.contains("blocked"), "{host}: {body}");
    }
    let (status, _, _) = raw(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 404);
    assert!(metric(&running, "dnsward_blockpage_requests_total{status=\"404\"}").await >= 5.0);
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn hostile_values_are_escaped_never_reflected_raw() {
    let (_dir, running, addr) = start("").await;
    for host in [
        "<script>alert(1)</script>",
        "blocked.example\"><script>alert(1)</script>",
        "blocked.example:80<script>",
        "blocked.example/<script>",
        "%3Cscript%3E.blocked.example",
    ] {
        let (status, head, body) = raw(addr, &get(host)).await;
        let text = String::from_utf8_lossy(&body);
        assert!(status == 404 || status == 400, "{host}: {status}");
        assert!(
            !text.contains("<script") && !head.contains("<script"),
            "{host} reflected:\n{head}{text}"
        );
    }
    // A list description is operator data, still escaped on the page.
    let (status, _, body) = hyper_get(addr, "hostile.example", "GET", None).await;
    assert_eq!(status, 451);
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(
        body.contains(&html("<script>alert('x')</script> & co")),
        "{body}"
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn absolute_uri_names_the_host() {
    let (_dir, running, addr) = start("").await;
    let (status, _, body) = raw(
        addr,
        b"GET http://blocked.example/path HTTP/1.1\r\nHost: fine.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 451);
    assert!(String::from_utf8_lossy(&body).contains("blocked.example"));
    let (status, _, _) = raw(
        addr,
        b"GET http://fine.example/ HTTP/1.1\r\nHost: blocked.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404);
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let (_dir, running, addr) = start("").await;
    let (_, get_h, get_body) = hyper_get(addr, "blocked.example", "GET", None).await;
    let (status, head, body) = raw(
        addr,
        b"HEAD / HTTP/1.1\r\nHost: blocked.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 451);
    assert!(body.is_empty(), "HEAD sent {} body bytes", body.len());
    let head = head.to_ascii_lowercase();
    assert!(head.contains("link: <https://authority.example/orders>; rel=\"blocked-by\""));
    assert!(head.contains("cache-control: no-store"));
    assert!(
        head.contains(&format!("content-length: {}", get_body.len())),
        "{head}"
    );
    assert_eq!(
        get_h.get("content-length").and_then(|v| v.to_str().ok()),
        Some(get_body.len().to_string().as_str())
    );
    let (status, _, body) = hyper_get(addr, "fine.example", "HEAD", None).await;
    assert_eq!((status, body.as_str()), (404, ""));
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn accept_language_picks_vietnamese() {
    let (_dir, running, addr) = start("").await;
    let (status, h, body) = hyper_get(
        addr,
        "blocked.example",
        "GET",
        Some("vi-VN,vi;q=0.9,en;q=0.8"),
    )
    .await;
    assert_eq!(status, 451);
    assert_eq!(
        h.get("content-language").and_then(|v| v.to_str().ok()),
        Some("vi")
    );
    assert!(body.contains("<html lang=\"vi\">"));
    assert!(body.contains("bị chặn"), "{body}");
    assert!(body.contains("Online gambling sites"));
    let (_, h, body) = hyper_get(addr, "blocked.example", "GET", Some("en-GB, vi;q=0.3")).await;
    assert_eq!(
        h.get("content-language").and_then(|v| v.to_str().ok()),
        Some("en")
    );
    assert!(body.contains("blocked by legal order"));
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn oversized_requests_are_refused_with_431() {
    let (_dir, running, addr) = start("max_header_bytes = 4096\nmax_headers = 16\n").await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: blocked.example\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(6000)
    );
    let (status, _, body) = raw(addr, big.as_bytes()).await;
    assert_eq!(status, 431, "{}", String::from_utf8_lossy(&body));
    let mut many = String::from("GET / HTTP/1.1\r\nHost: blocked.example\r\n");
    for i in 0..40 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (status, _, _) = raw(addr, many.as_bytes()).await;
    assert_eq!(status, 431);
    // Within the limits the same request is served.
    let (status, _, _) = raw(addr, &get("blocked.example")).await;
    assert_eq!(status, 451);
    wait_until("431 counted", || async {
        metric(
            &running,
            "dnsward_blockpage_rejected_total{reason=\"header_too_large\"}",
        )
        .await
            >= 2.0
    })
    .await;
    running.shutdown(Duration::from_secs(1)).await;
}

/// Read until the server closes; the time it took.
async fn time_to_close(s: &mut TcpStream, limit: Duration) -> Duration {
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return t.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("connection still open after {limit:?}"),
        }
    }
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let (_dir, running, addr) = start("header_timeout_ms = 400\n").await;
    // Slow loris: a header trickled a byte at a time never completes.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: blocked.example\r\nX-Slow: ")
        .await
        .expect("write");
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            if s.write_all(b"a").await.is_err() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    });
    let s = tokio::time::timeout(Duration::from_secs(5), trickle)
        .await
        .expect("bounded")
        .expect("task");
    // The server hung up well before the client's 2 s of trickling.
    assert!(s.is_some(), "slow client was never cut off");

    // Connected, nothing sent.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let took = time_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(300), "{took:?}");

    // Keep-alive: one answer, then idle until the same bound.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n")
        .await
        .expect("write");
    time_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(
        metric(
            &running,
            "dnsward_blockpage_rejected_total{reason=\"timeout\"}"
        )
        .await
            >= 2.0
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let (_dir, running, addr) = start("max_connections = 3\nheader_timeout_ms = 3000\n").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        // A keep-alive exchange proves each holds a slot.
        s.write_all(b"GET / HTTP/1.1\r\nHost: fine.example\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.expect("read");
        assert!(buf[..n].starts_with(b"HTTP/1.1 404"));
        held.push(s);
    }
    let mut extra = TcpStream::connect(addr).await.expect("connect");
    let _ = extra.write_all(&get("blocked.example")).await;
    let took = time_to_close(&mut extra, Duration::from_secs(2)).await;
    assert!(took < Duration::from_secs(2));
    assert!(
        metric(
            &running,
            "dnsward_blockpage_rejected_total{reason=\"connections\"}"
        )
        .await
            >= 1.0
    );
    assert_eq!(metric(&running, "dnsward_blockpage_connections").await, 3.0);
    drop(held);
    wait_until("slots freed", || async {
        raw(addr, &get("blocked.example")).await.0 == 451
    })
    .await;
    running.shutdown(Duration::from_secs(1)).await;
}

fn client_config(root_pem: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = root_pem {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");
        roots.add(der).expect("root");
    }
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    cfg: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from(sni.to_string()).expect("sni");
    tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
}

fn write_cert(dir: &TempDir, names: &[&str]) -> String {
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("rcgen");
    let pem = ck.cert.pem();
    dir.write("page.crt", &pem);
    dir.write("page.key", &ck.signing_key.serialize_pem());
    pem
}

#[tokio::test]
async fn https_is_served_for_the_names_the_certificate_covers() {
    let dir = TempDir::new("blockpage-tls");
    let pem = write_cert(&dir, &["blocked.example", "*.blocked.example"]);
    let toml = config(&dir, "tls_cert = \"page.crt\"\ntls_key = \"page.key\"\n");
    let running = start_dnsward(&dir, &toml).await;
    let addr = running.blockpage[0];
    let cfg = client_config(Some(&pem));

    let mut tls = tls_connect(addr, "www.blocked.example", cfg.clone())
        .await
        .expect("handshake for a covered name");
    tls.write_all(&get("www.blocked.example"))
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    let (status, head, body) = split(&buf);
    assert_eq!(status, 451, "{head}");
    assert!(head.to_ascii_lowercase().contains("rel=\"blocked-by\""));
    assert!(String::from_utf8_lossy(&body).contains("www.blocked.example"));

    // Plain HTTP on the same listener still works.
    assert_eq!(raw(addr, &get("blocked.example")).await.0, 451);

    // A name the certificate does not cover gets no certificate at all.
    let err = tls_connect(addr, "other-blocked.example", cfg)
        .await
        .expect_err("no certificate for an uncovered name");
    assert!(!err.to_string().is_empty());
    assert!(
        metric(
            &running,
            "dnsward_blockpage_rejected_total{reason=\"tls_handshake\"}"
        )
        .await
            >= 1.0
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn tls_without_a_certificate_is_closed_at_once() {
    let (_dir, running, addr) = start("header_timeout_ms = 10000\n").await;
    let t = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        tls_connect(addr, "blocked.example", client_config(None)),
    )
    .await
    .expect("closed, not left hanging");
    assert!(r.is_err());
    // Far inside the 10 s the server would wait for a request head.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(
        metric(
            &running,
            "dnsward_blockpage_rejected_total{reason=\"tls_no_cert\"}"
        )
        .await
            >= 1.0
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn page_and_dns_agree_across_a_reload() {
    let (dir, running, addr) = start("").await;
    let dns = running.dns[0];
    let (m, _) = query(dns, Proto::Udp, "blocked.example.", RecordType::A).await;
    assert_eq!(rdata(&m), vec!["127.0.0.1"]);
    let (_, text) = ede_of(&m).expect("EDE");
    assert_eq!(
        text,
        format!("Online gambling sites (list court), order 17/2024/QD-TA, authority {AUTHORITY}")
    );
    assert_eq!(raw(addr, &get("blocked.example")).await.0, 451);

    // Half the list changes (within max_shrink_percent).
    dir.write(
        "court.txt",
        "other-blocked.example\nnewly-blocked.example\n",
    );
    running.reload_all();
    wait_until("list reloaded", || async {
        let (m, _) = query(dns, Proto::Udp, "newly-blocked.example.", RecordType::A).await;
        ede_of(&m).is_some_and(|(code, _)| code == 15)
    })
    .await;
    assert_eq!(raw(addr, &get("blocked.example")).await.0, 404);
    assert_eq!(raw(addr, &get("newly-blocked.example")).await.0, 451);
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn operator_template_is_used_and_a_broken_one_is_refused() {
    let dir = TempDir::new("blockpage-tpl");
    dir.write(
        "page.html",
        "<h1>{{ host }}</h1><p>{{ description }}|{{ order_id }}|{{ lang }}</p>",
    );
    let toml = config(&dir, "template = \"page.html\"\n");
    let running = start_dnsward(&dir, &toml).await;
    let addr = running.blockpage[0];
    let (status, _, body) = hyper_get(addr, "hostile.example", "GET", Some("vi")).await;
    assert_eq!(status, 451);
    assert_eq!(
        body,
        format!(
            "<h1>hostile.example</h1><p>{}||vi</p>",
            html("<script>alert('x')</script> & co")
        )
    );

    // A reload with a changed template applies it; a broken one is
    // refused with its key and the old page keeps serving.
    dir.write("page.html", "<b>{{ host }}</b>");
    let cfg = dnsward::config::Config::load(&dir.path().join("dnsward.toml")).expect("config");
    let changes = running.reload_config(&cfg).expect("reload");
    assert!(changes.need_restart.is_empty(), "{changes:?}");
    assert_eq!(
        hyper_get(addr, "blocked.example", "GET", None).await.2,
        "<b>blocked.example</b>"
    );
    dir.write("page.html", "<b>{{ host </b>");
    let err = dnsward::config::Config::load(&dir.path().join("dnsward.toml"))
        .expect_err("broken template");
    let msg = err.to_string();
    assert!(msg.contains("blockpage.template"), "{msg}");
    assert!(msg.contains("syntax error"), "{msg}");
    assert_eq!(
        hyper_get(addr, "blocked.example", "GET", None).await.2,
        "<b>blocked.example</b>"
    );
    running.shutdown(Duration::from_secs(1)).await;
}

fn load_problems(dir: &TempDir, toml: &str) -> Vec<String> {
    let path = dir.write("check.toml", toml);
    match dnsward::config::Config::load(&path) {
        Ok(_) => Vec::new(),
        Err(dnsward::config::ConfigError::Invalid { problems, .. }) => {
            problems.into_iter().map(|p| p.to_string()).collect()
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn config_problems_name_their_keys() {
    let dir = TempDir::new("blockpage-cfg");
    let p = load_problems(
        &dir,
        "[blockpage]\nlisten = [\"nope\"]\nmax_headers = 0\ntemplate = \"missing.html\"\ntls_cert = \"c.pem\"\n",
    );
    let keys: Vec<&str> = p
        .iter()
        .map(|s| s.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        vec![
            "blockpage.listen[0]",
            "blockpage.authority_url",
            "blockpage.max_headers",
            "blockpage.template",
            "blockpage.tls_key"
        ],
        "{p:#?}"
    );

    // A key that belongs to another certificate.
    write_cert(&dir, &["blocked.example"]);
    let other = rcgen::KeyPair::generate().expect("key");
    dir.write("other.key", &other.serialize_pem());
    let p = load_problems(
        &dir,
        &format!("[blockpage]\nlisten = [\"127.0.0.1:0\"]\nauthority_url = \"{AUTHORITY}\"\ntls_cert = \"page.crt\"\ntls_key = \"other.key\"\n"),
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("blockpage.tls_cert: key does not fit"),
        "{p:?}"
    );
    let p = load_problems(
        &dir,
        &format!("[blockpage]\nlisten = [\"127.0.0.1:0\"]\nauthority_url = \"{AUTHORITY}\"\ntls_cert = \"page.crt\"\ntls_key = \"page.key\"\n"),
    );
    assert!(p.is_empty(), "{p:?}");
    assert!(load_problems(
        &dir,
        "[blockpage]\nauthority_url = \"javascript:alert(1)\"\n"
    )[0]
    .starts_with("blockpage.authority_url"));

    // An unknown variable is named as such, with the ones there are.
    dir.write("typo.html", "<p>{{ hots }}</p>");
    let p = load_problems(
        &dir,
        &format!("[blockpage]\nlisten = [\"127.0.0.1:0\"]\nauthority_url = \"{AUTHORITY}\"\ntemplate = \"typo.html\"\n"),
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("blockpage.template: "), "{p:?}");
    assert!(p[0].contains("typo.html: undefined value"), "{p:?}");
    assert!(p[0].contains("the variables are host, list,"), "{p:?}");
}

fn curl_available() -> bool {
    std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn curl_sees_451_over_http_and_https() {
    if !curl_available() {
        eprintln!("curl not installed; skipped (.ci/run installs it)");
        return;
    }
    let dir = TempDir::new("blockpage-curl");
    write_cert(&dir, &["blocked.example"]);
    let toml = config(&dir, "tls_cert = \"page.crt\"\ntls_key = \"page.key\"\n");
    let running = start_dnsward(&dir, &toml).await;
    let addr = running.blockpage[0];
    let curl = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("curl")
            .args(["-s", "-S", "-i", "--max-time", "5"])
            .args(&args)
            .output()
            .await
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = curl(vec![
        "-H".into(),
        "Host: blocked.example".into(),
        format!("http://{addr}/"),
    ])
    .await;
    assert!(out.starts_with("HTTP/1.1 451"), "{out}");
    assert!(
        out.contains(&format!("link: <{AUTHORITY}>; rel=\"blocked-by\"")),
        "{out}"
    );
    assert!(out.contains("Online gambling sites"));
    let out = curl(vec![
        "-I".into(),
        "-H".into(),
        "Host: fine.example".into(),
        format!("http://{addr}/"),
    ])
    .await;
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    let crt = dir.path().join("page.crt");
    let out = curl(vec![
        "--cacert".into(),
        Path::new(&crt).display().to_string(),
        "--resolve".into(),
        format!("blocked.example:{}:127.0.0.1", addr.port()),
        format!("https://blocked.example:{}/", addr.port()),
    ])
    .await;
    assert!(out.starts_with("HTTP/1.1 451"), "{out}");
    assert!(out.contains("Online gambling sites"), "{out}");
    running.shutdown(Duration::from_secs(1)).await;
}
