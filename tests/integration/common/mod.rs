//! Shared harness for wire-level tests: a small authoritative DNS server
//! that gives real referrals with glue, a loopback test hierarchy built from
//! it, a DNS client over UDP/TCP, and helpers to start dnsward in-process or
//! as the real binary.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

mod auth;
mod hierarchy;
pub mod signed;
pub mod signed_servers;

pub use auth::*;
pub use hierarchy::*;

/// `[resolver]` TOML for a loopback hierarchy whose root server listens
/// on [`ROOT_IP`]:`port`, waiting `timeout_ms` per server, with `extra`
/// lines added to the table.
pub fn resolver_toml_at(port: u16, timeout_ms: u32, extra: &str) -> String {
    format!(
        "[resolver]\nmode = \"recursive\"\nroot_servers = [\"{ROOT_IP}:{port}\"]\nauthority_allow = [\"127.0.0.0/8\"]\ntimeout_ms = {timeout_ms}\n{extra}"
    )
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "dnsward-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, body).expect("write");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Start dnsward in-process from a TOML config written into `dir`.
///
/// The fake hierarchies are unsigned, and validation (on by default, with
/// the root's trust anchors) would find them bogus: a config without a
/// `[dnssec]` section gets `validation = false`.
pub async fn start_dnsward(dir: &TempDir, toml: &str) -> dnsward::app::Running {
    let path = dir.write("dnsward.toml", &unvalidated(toml));
    let cfg = dnsward::config::Config::load(&path).expect("config");
    dnsward::app::start(cfg).await.expect("start")
}

/// `toml` with `validation = false` unless it has a `[dnssec]` section.
pub fn unvalidated(toml: &str) -> String {
    if toml.contains("[dnssec]") {
        toml.to_string()
    } else {
        format!("{toml}\n[dnssec]\nvalidation = false\n")
    }
}

/// The usual test config: loopback listeners, metrics on, quick settle.
pub fn base_toml(extra: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\nlisten = \"127.0.0.1:0\"\n[reload]\nsettle_ms = 200\n{extra}"
    )
}

pub fn make_query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    query_for(Name::from_ascii(name).expect("name"), qtype, edns)
}

/// [`make_query`] for a name built some other way (from raw labels).
pub fn query_for(name: Name, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name, qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

fn rand_id() -> u16 {
    static N: AtomicU64 = AtomicU64::new(1);
    (N.fetch_add(7919, Ordering::Relaxed) & 0xffff) as u16
}

/// Send raw bytes over UDP, return the raw reply (None on timeout).
pub async fn udp_raw(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let bind: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().expect("addr")
    } else {
        "[::1]:0".parse().expect("addr")
    };
    let s = UdpSocket::bind(bind).await.ok()?;
    s.send_to(bytes, server).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(wait, s.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(buf[..n].to_vec())
}

/// Send raw bytes over TCP with framing, return the raw reply.
pub async fn tcp_raw(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(server).await.ok()?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.ok()?;
    let len = tokio::time::timeout(wait, s.read_u16()).await.ok()?.ok()?;
    let mut buf = vec![0u8; usize::from(len)];
    tokio::time::timeout(wait, s.read_exact(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(buf)
}

#[derive(Clone, Copy, Debug)]
pub enum Proto {
    Udp,
    Tcp,
}

/// Query and decode; panics on timeout (a test that expects silence uses
/// `udp_raw`).
pub async fn ask(server: SocketAddr, proto: Proto, msg: &Message) -> (Message, Vec<u8>) {
    let bytes = msg.to_vec().expect("encode");
    let wait = Duration::from_secs(5);
    let raw = match proto {
        Proto::Udp => udp_raw(server, &bytes, wait).await,
        Proto::Tcp => tcp_raw(server, &bytes, wait).await,
    }
    .unwrap_or_else(|| panic!("no answer over {proto:?} for {:?}", msg.queries));
    let m = Message::from_vec(&raw).expect("decode reply");
    assert_eq!(m.metadata.id, msg.metadata.id, "reply id");
    (m, raw)
}

pub async fn query(
    server: SocketAddr,
    proto: Proto,
    name: &str,
    qtype: RecordType,
) -> (Message, Vec<u8>) {
    ask(server, proto, &make_query(name, qtype, Some(1232))).await
}

/// Answer-section rdata as strings.
pub fn rdata(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

/// The EDE (code, text) in a reply, if any.
pub fn ede_of(m: &Message) -> Option<(u16, String)> {
    use hickory_proto::rr::rdata::opt::EdnsOption;
    let e = m.edns.as_ref()?;
    e.options().options.iter().find_map(|(_, o)| match o {
        EdnsOption::Unknown(15, d) if d.len() >= 2 => Some((
            u16::from_be_bytes([d[0], d[1]]),
            String::from_utf8_lossy(&d[2..]).into_owned(),
        )),
        _ => None,
    })
}

/// One HTTP/1.1 request to the metrics listener; (status, body).
pub async fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// GET a path from the metrics listener; (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path).await
}

/// POST to a path of the metrics listener; (status, body).
pub async fn http_post(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "POST", path).await
}

/// Poll `f` every 50 ms until it holds; panic after 10 s.
pub async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Parse Prometheus text into `name{labels}` -> value.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// Path of a shared test-data file, relative to the crate root.
pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}
