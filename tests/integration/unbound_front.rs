//! A real Unbound between the subscriber and dnsward (`forward-zone` to
//! dnsward on loopback, `ede: yes`): the sinkhole answer passes through,
//! the EDE naming the list and the order does not, because EDE is
//! hop-by-hop (RFC 8914 defines no forwarding of a server's EDE by the
//! resolver that asked it). docs/operations.md tells operators to point
//! subscribers straight at dnsward for that reason; this test keeps the
//! claim true. Skipped, with a message, when `unbound` is not installed.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

const UNBOUND: &str = "/usr/sbin/unbound";

/// The Unbound process, stopped by PID when dropped.
struct Unbound(Child);

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback UDP port free right now (Unbound binds it next).
fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// Unbound on 127.0.0.1:`port`, forwarding everything to `dnsward`.
fn start_unbound(dir: &TempDir, port: u16, dnsward: SocketAddr) -> Unbound {
    let conf = dir.write(
        "unbound.conf",
        &format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  \
             username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  num-threads: 1\n  ede: yes\n  \
             do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
             module-config: \"iterator\"\n\
             forward-zone:\n  name: \".\"\n  forward-addr: {ip}@{dport}\n",
            dir = dir.path().display(),
            ip = dnsward.ip(),
            dport = dnsward.port(),
        ),
    );
    let child = Command::new(UNBOUND)
        .args(["-d", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn unbound");
    Unbound(child)
}

/// Ask `server` over UDP until it answers (Unbound needs a moment to
/// bind), at most ~5 s.
async fn ask_until_answered(server: SocketAddr, name: &str) -> Message {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let q = make_query(name, RecordType::A, Some(1232));
        let bytes = q.to_vec().expect("encode");
        if let Some(raw) = udp_raw(server, &bytes, Duration::from_millis(500)).await {
            if let Ok(m) = Message::from_vec(&raw) {
                return m;
            }
        }
        assert!(Instant::now() < deadline, "unbound never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_unbound_the_sinkhole_arrives_and_the_ede_does_not() {
    if !std::path::Path::new(UNBOUND).exists() {
        eprintln!("SKIPPED: {UNBOUND} is not installed (apt-get install unbound)");
        return;
    }
    let dir = TempDir::new("unbound-front");
    dir.write("court.txt", "blocked.example\n");
    let d = start_dnsward(
        &dir,
        &base_toml(
            "[[lists]]\nname = \"court\"\npath = \"court.txt\"\n\
             ede_text = \"Blocked by court order\"\norder_id = \"ORD-2026-17\"\n",
        ),
    )
    .await;

    // Straight from dnsward: sinkhole and EDE 15 with list and order.
    let (direct, _) = query(d.dns[0], Proto::Udp, "x.blocked.example.", RecordType::A).await;
    assert_eq!(rdata(&direct), vec!["0.0.0.0"]);
    assert_eq!(
        ede_of(&direct),
        Some((
            15,
            "Blocked by court order (list court), order ORD-2026-17".into()
        ))
    );

    let port = free_port();
    let _unbound = start_unbound(&dir, port, d.dns[0]);
    let via = ask_until_answered(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "x.blocked.example.",
    )
    .await;
    assert_eq!(via.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rdata(&via), vec!["0.0.0.0"], "the sinkhole passes through");
    assert!(
        ede_of(&via).is_none(),
        "Unbound now passes dnsward's EDE on ({:?}): update docs/operations.md",
        ede_of(&via)
    );
    d.shutdown(Duration::from_secs(1)).await;
}
