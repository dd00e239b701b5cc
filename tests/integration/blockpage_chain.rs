//! The block page for names the resolver blocked through their CNAME
//! chain (the host's own name is on no list) and for names only a policy
//! group's list blocks: the page decides as the DNS path did for the
//! browser's own address.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use crate::groups::{ask_from, sinkholed, FAMILY, OTHER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ZZ: &str = "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 300
     zz. 86400 NS ns1.zz.
     ns1.zz. 86400 A 127.0.0.1
     www.shop.zz. 300 CNAME tracker.bad.zz.
     tracker.bad.zz. 300 A 192.0.2.90
     adult.zz. 300 A 192.0.2.80
     plain.zz. 300 A 192.0.2.91";

async fn start(dir: &TempDir) -> (AuthServer, dnsward::app::Running) {
    let auth = AuthServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone("zz.", ZZ)])
        .await
        .expect("auth");
    dir.write("court.txt", "bad.zz\n");
    dir.write("adult.txt", "adult.zz\n");
    let toml = base_toml(&format!(
        r#"
[resolver]
mode = "forward"
upstreams = ["{}"]
timeout_ms = 2000

[sinkhole]
ipv4 = "192.0.2.1"

[blockpage]
listen = ["127.0.0.1:0"]
authority_url = "https://authority.example/orders"
appeal = "Apply to the court."

[[lists]]
name = "court"
path = "court.txt"
order_id = "ORD-CHAIN"
description = "Trackers"

[[lists]]
name = "adult"
path = "adult.txt"
order_id = "FAMILY-FILTER"

[[groups]]
name = "family"
clients = ["{FAMILY}/32"]
lists = ["adult"]
"#,
        auth.addr
    ));
    let d = start_dnsward(dir, &toml).await;
    (auth, d)
}

/// GET / with `Host: host` from the loopback address `src`: (status, body).
async fn page_from(src: &str, page: SocketAddr, host: &str) -> (u16, String) {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(ip(src), 0)).expect("bind");
    let mut s = sock.connect(page).await.expect("connect");
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_blocked_through_its_chain_gets_451() {
    let dir = TempDir::new("page-chain");
    let (_auth, d) = start(&dir).await;
    let page = d.blockpage[0];
    // Before any query the page knows nothing about the alias.
    assert_eq!(page_from(OTHER, page, "www.shop.zz").await.0, 404);
    let m = ask_from(OTHER, d.dns[0], "www.shop.zz.").await;
    assert_eq!(rdata(&m), vec!["tracker.bad.zz.", "192.0.2.1"], "{m:?}");
    let (status, body) = page_from(OTHER, page, "www.shop.zz").await;
    assert_eq!(status, 451, "{body}");
    assert!(body.contains("www.shop.zz"), "{body}");
    assert!(body.contains("ORD-CHAIN"), "{body}");
    // A name never blocked stays 404.
    let m = ask_from(OTHER, d.dns[0], "plain.zz.").await;
    assert_eq!(rdata(&m), vec!["192.0.2.91"]);
    assert_eq!(page_from(OTHER, page, "plain.zz").await.0, 404);
    // The memo is decided again under the serving policy: the list's entry
    // removed, the page says 404 at once.
    dir.write("court.txt", "other.zz\n");
    let store = d.store.clone();
    let out = tokio::task::spawn_blocking(move || {
        store.reload(dnsward::policy::store::ReloadRequest {
            reread: true,
            force: true,
        })
    })
    .await
    .expect("reload");
    assert_eq!(out.reloaded().len(), 1, "{out:?}");
    assert_eq!(page_from(OTHER, page, "www.shop.zz").await.0, 404);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_decides_for_the_browsers_group() {
    let dir = TempDir::new("page-group");
    let (_auth, d) = start(&dir).await;
    let page = d.blockpage[0];
    assert!(sinkholed(&ask_from(FAMILY, d.dns[0], "adult.zz.").await));
    let (status, body) = page_from(FAMILY, page, "adult.zz").await;
    assert_eq!(status, 451, "{body}");
    assert!(body.contains("FAMILY-FILTER"), "{body}");
    // Never a page claiming a block that does not apply to this client.
    assert!(!sinkholed(&ask_from(OTHER, d.dns[0], "adult.zz.").await));
    assert_eq!(page_from(OTHER, page, "adult.zz").await.0, 404);
    d.shutdown(Duration::from_secs(1)).await;
}
