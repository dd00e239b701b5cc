//! What a failure tells the client and the log: SERVFAIL EDE texts that
//! name zones, never server addresses, and negative answers not believed.

use super::*;

/// True if `text` holds something shaped like an IPv4 address
/// (`a.b.c.d`, with or without a port) or an IPv6 one (`x:y::z`).
fn shows_an_address(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .any(|tok| {
            let v4 = tok.split(':').any(|part| {
                let parts: Vec<&str> = part.split('.').collect();
                parts.len() == 4
                    && parts.iter().all(|p| {
                        !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
                    })
            });
            let v6 = tok.matches(':').count() >= 2;
            v4 || v6
        })
}

#[test]
fn the_address_detector_sees_what_it_must() {
    assert!(shows_an_address(
        "network error: 127.0.0.3:5400: Connection refused"
    ));
    assert!(shows_an_address("upstream [::1]:53 answered SERVFAIL"));
    assert!(shows_an_address("at 192.0.2.1"));
    assert!(!shows_an_address(
        "no server of example.zz. gave a usable answer"
    ));
    assert!(!shows_an_address("timed out after 3s"));
    assert!(!shows_an_address("upstream unreachable"));
}

/// A UDP server on loopback answering every query with `rcode`, RA set,
/// AA clear, no records: a recursive resolver or a middlebox, not an
/// authority.
async fn answer_everything_with(
    rcode: ResponseCode,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use hickory_proto::op::{Message, OpCode};
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = sock.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, src)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::response(req.metadata.id, OpCode::Query);
            resp.queries = req.queries.clone();
            resp.metadata.recursion_desired = req.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.metadata.response_code = rcode;
            if let Ok(b) = resp.to_vec() {
                let _ = sock.send_to(&b, src).await;
            }
        }
    });
    (addr, task)
}

/// A loopback UDP port with nothing bound to it (queries get ICMP port
/// unreachable: "Connection refused").
fn closed_port() -> std::net::SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_ede_text_shows_no_server_address() {
    // Forward mode, upstream port closed: a network error.
    let refused = closed_port();
    let dir = TempDir::new("ede-noaddr-fwd");
    let d = start_dnsward(
        &dir,
        &base_toml(&format!(
            "[resolver]\nmode = \"forward\"\nupstreams = [\"{refused}\"]\ntimeout_ms = 1000\nupstream_timeout_ms = 300\n"
        )),
    )
    .await;
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let (code, text) = ede_of(&m).expect("EDE on SERVFAIL");
    assert!(code == 22 || code == 23, "EDE {code}");
    assert!(!shows_an_address(&text), "forward, refused: {text:?}");
    assert!(!text.is_empty());

    // Forward mode, the upstream answers SERVFAIL.
    let (servfailing, task) = answer_everything_with(ResponseCode::ServFail).await;
    let dir2 = TempDir::new("ede-noaddr-fwd2");
    let d2 = start_dnsward(
        &dir2,
        &base_toml(&format!(
            "[resolver]\nmode = \"forward\"\nupstreams = [\"{servfailing}\"]\ntimeout_ms = 1000\n"
        )),
    )
    .await;
    let (m, _) = query(d2.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let (_, text) = ede_of(&m).expect("EDE on SERVFAIL");
    assert!(!shows_an_address(&text), "forward, SERVFAIL: {text:?}");
    assert_eq!(text, "upstream answered Server Failure");

    // Recursion: the only root refuses, then the only root's port is closed.
    let (refusing, task2) = answer_everything_with(ResponseCode::Refused).await;
    for (tag, root, want) in [
        (
            "rec-refused",
            refusing,
            "no server of . gave a usable answer (Query Refused)",
        ),
        (
            "rec-closed",
            refused,
            "no server of . gave a usable answer (connection refused)",
        ),
    ] {
        let dir = TempDir::new(tag);
        let d = start_dnsward(
            &dir,
            &base_toml(&format!(
                "[resolver]\nroot_servers = [\"{root}\"]\nauthority_allow = [\"127.0.0.0/8\"]\ntimeout_ms = 1500\n"
            )),
        )
        .await;
        let (m, _) = query(d.dns[0], Proto::Udp, "www.example.zz.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{tag}");
        let (_, text) = ede_of(&m).expect("EDE on SERVFAIL");
        assert!(!shows_an_address(&text), "{tag}: {text:?}");
        assert!(text.starts_with(want), "{tag}: {text:?}");
        d.shutdown(Duration::from_secs(1)).await;
    }
    task.abort();
    task2.abort();
    d.shutdown(Duration::from_secs(1)).await;
    d2.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_keeps_the_address_the_ede_text_leaves_out() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let refused = closed_port();
    let dir = TempDir::new("ede-log");
    let cfg = dir.write(
        "c.toml",
        &base_toml(&format!(
            "[resolver]\nmode = \"forward\"\nupstreams = [\"{refused}\"]\ntimeout_ms = 1000\nupstream_timeout_ms = 300\n"
        )),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["run", "--config"])
        .arg(&cfg)
        .env("DNSWARD_LOG", "dnsward=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dnsward");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let dns: std::net::SocketAddr = loop {
        let line = lines.next().expect("dnsward exited").expect("read");
        if let Some(a) = line.strip_prefix("listening dns udp+tcp ") {
            break a.parse().expect("addr");
        }
    };
    let (m, _) = query(dns, Proto::Udp, "www.example.zz.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let (_, text) = ede_of(&m).expect("EDE");
    assert!(!text.contains(&refused.to_string()), "{text:?}");
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("read stderr");
    assert!(
        log.contains(&refused.to_string()),
        "the debug log names the upstream: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_authoritative_nxdomain_without_soa_is_not_believed() {
    // What a machine without a route out can see: the first root address
    // never answers (800 ms for an unknown server), and something that is
    // not the root answers NXDOMAIN, RA set, no AA, no SOA. That used to
    // reach the client as NXDOMAIN without SOA or EDE.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let (fake, task) = answer_everything_with(ResponseCode::NXDomain).await;
    let dir = TempDir::new("fake-nx");
    let d = start_dnsward(
        &dir,
        &base_toml(&format!(
            "[resolver]\nroot_servers = [\"{silent_addr}\", \"{fake}\"]\nauthority_allow = [\"127.0.0.0/8\"]\ntimeout_ms = 2500\n"
        )),
    )
    .await;
    let (m, _) = query(d.dns[0], Proto::Udp, "www.example.com.", RecordType::A).await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::ServFail,
        "not NXDOMAIN: {m:?}"
    );
    let (code, text) = ede_of(&m).expect("EDE on SERVFAIL");
    assert_eq!(code, 22, "No Reachable Authority: {text}");
    assert!(!shows_an_address(&text), "{text:?}");
    task.abort();
    drop(silent);
    d.shutdown(Duration::from_secs(1)).await;
}
