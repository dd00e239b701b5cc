//! Shared harness for wire-level tests: a small authoritative DNS server
//! that gives real referrals with glue, a loopback test hierarchy built from
//! it, a DNS client over UDP/TCP, and helpers to start dnsward in-process or
//! as the real binary.
#![allow(dead_code)]

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

/// Parse `name ttl TYPE rdata...` lines (absolute names) into records.
pub fn records(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || f[0].starts_with(';') {
            continue;
        }
        let name = Name::from_ascii(f[0]).expect("owner");
        let ttl: u32 = f[1].parse().expect("ttl");
        let n = |i: usize| Name::from_ascii(f[i]).expect("name");
        let data = match f[2] {
            "A" => RData::A(A(f[3].parse().expect("a"))),
            "AAAA" => RData::AAAA(AAAA(f[3].parse().expect("aaaa"))),
            "NS" => RData::NS(NS(n(3))),
            "CNAME" => RData::CNAME(CNAME(n(3))),
            "MX" => RData::MX(MX::new(f[3].parse().expect("pref"), n(4))),
            "TXT" => RData::TXT(TXT::new(vec![f[3..].join(" ")])),
            "SOA" => RData::SOA(SOA::new(
                n(3),
                n(4),
                f[5].parse().expect("serial"),
                3600,
                600,
                86400,
                f[6].parse().expect("minimum"),
            )),
            t => panic!("type {t} not supported by the test server"),
        };
        out.push(Record::from_rdata(name, ttl, data));
    }
    out
}

/// An authoritative server for one or more zones.
pub struct Zone {
    pub origin: Name,
    pub records: Vec<Record>,
}

/// Counts queries so tests can tell cache hits from upstream traffic.
#[derive(Default)]
pub struct AuthStats {
    pub queries: AtomicU64,
    /// Of `queries`, those that came over TCP.
    pub tcp_queries: AtomicU64,
    /// Forged replies sent (spoofing servers only).
    pub forged: AtomicU64,
    /// Queries that carried EDNS with the DO bit.
    pub dnssec_ok: AtomicU64,
    /// Queries with RD=1 (an iterator must send RD=0).
    pub recursion_desired: AtomicU64,
    /// Every question asked, in order: lowercase name and type.
    pub seen: std::sync::Mutex<Vec<(String, RecordType)>>,
}

impl AuthStats {
    /// The questions asked so far ([`AuthStats::seen`]).
    pub fn questions(&self) -> Vec<(String, RecordType)> {
        self.seen.lock().expect("seen").clone()
    }

    fn count(&self, req: &Message) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        if let Some(q) = req.queries.first() {
            self.seen
                .lock()
                .expect("seen")
                .push((lower(q.name()), q.query_type()));
        }
        if req.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok) {
            self.dnssec_ok.fetch_add(1, Ordering::Relaxed);
        }
        if req.metadata.recursion_desired {
            self.recursion_desired.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct AuthServer {
    pub addr: SocketAddr,
    pub stats: Arc<AuthStats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lower(n: &Name) -> String {
    n.to_ascii().to_ascii_lowercase()
}

/// RFC 1034 4.3.2, reduced: referral at a delegation below the zone apex,
/// authoritative answer, CNAME, NODATA or NXDOMAIN with the SOA.
fn answer(zones: &[Zone], req: &Message) -> Message {
    let mut resp = Message::response(req.metadata.id, OpCode::Query);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.queries = req.queries.clone();
    if let Some(e) = &req.edns {
        let mut r = Edns::new();
        r.set_max_payload(e.max_payload().max(512));
        resp.edns = Some(r);
    }
    let Some(q) = req.queries.first() else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp;
    };
    let qname = q.name();
    let Some(zone) = zones
        .iter()
        .filter(|z| z.origin.zone_of(qname))
        .max_by_key(|z| z.origin.num_labels())
    else {
        resp.metadata.response_code = ResponseCode::Refused;
        return resp;
    };
    let at = |name: &Name| -> Vec<&Record> {
        let n = lower(name);
        zone.records
            .iter()
            .filter(|r| lower(&r.name) == n)
            .collect()
    };
    let glue = |resp: &mut Message, ns_records: &[Record]| {
        for ns in ns_records {
            if let RData::NS(NS(target)) = &ns.data {
                resp.additionals.extend(
                    zone.records
                        .iter()
                        .filter(|r| {
                            lower(&r.name) == lower(target)
                                && matches!(r.record_type(), RecordType::A | RecordType::AAAA)
                        })
                        .cloned(),
                );
            }
        }
    };
    // Delegation: the closest cut between the apex (exclusive) and qname.
    let depth = qname.num_labels();
    for keep in (zone.origin.num_labels() + 1..=depth).rev() {
        let cut = qname.trim_to(keep as usize);
        let ns: Vec<Record> = at(&cut)
            .into_iter()
            .filter(|r| r.record_type() == RecordType::NS)
            .cloned()
            .collect();
        let ds_at_cut = cut == *qname && q.query_type() == RecordType::DS;
        if !ns.is_empty() && !ds_at_cut {
            resp.authorities.extend(ns.iter().cloned());
            glue(&mut resp, &ns);
            return resp;
        }
    }
    resp.metadata.authoritative = true;
    let here: Vec<Record> = at(qname).into_iter().cloned().collect();
    let matching: Vec<Record> = here
        .iter()
        .filter(|r| r.record_type() == q.query_type() || q.query_type() == RecordType::ANY)
        .cloned()
        .collect();
    let soa = || {
        zone.records
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .cloned()
    };
    if !matching.is_empty() {
        resp.answers = matching;
        if q.query_type() == RecordType::NS {
            glue(&mut resp, &here);
        }
    } else if let Some(c) = here.iter().find(|r| r.record_type() == RecordType::CNAME) {
        resp.answers.push(c.clone());
    } else if !here.is_empty()
        || zone
            .records
            .iter()
            .any(|r| qname.zone_of(&r.name) && lower(&r.name) != lower(qname))
    {
        resp.authorities.extend(soa());
    } else {
        resp.metadata.response_code = ResponseCode::NXDomain;
        resp.authorities.extend(soa());
    }
    resp
}

fn encode_for_udp(resp: &Message, req: &Message) -> Vec<u8> {
    let bytes = resp.to_vec().expect("encode");
    let limit = req
        .edns
        .as_ref()
        .map(|e| usize::from(e.max_payload().max(512)))
        .unwrap_or(512);
    if bytes.len() > limit {
        resp.truncate().to_vec().expect("encode")
    } else {
        bytes
    }
}

/// Replies an off-path attacker would race against the real one: the real
/// answer with its A records replaced by 6.6.6.6, sent (1) with the right
/// ID from another port, (2) from the right port with a wrong ID, and (3)
/// from the right port with the right ID for another question.
async fn send_forgeries(
    udp: &UdpSocket,
    other_port: &UdpSocket,
    resp: &Message,
    req: &Message,
    src: SocketAddr,
) -> u64 {
    let mut forged = resp.clone();
    for r in forged.answers.iter_mut() {
        if r.record_type() == RecordType::A {
            r.data = RData::A(A(Ipv4Addr::new(6, 6, 6, 6)));
        }
    }
    let mut sent = 0;
    if let Ok(b) = forged.to_vec() {
        if other_port.send_to(&b, src).await.is_ok() {
            sent += 1;
        }
    }
    forged.metadata.id = req.metadata.id.wrapping_add(1);
    if let Ok(b) = forged.to_vec() {
        if udp.send_to(&b, src).await.is_ok() {
            sent += 1;
        }
    }
    forged.metadata.id = req.metadata.id;
    if let Some(q) = forged.queries.first_mut() {
        q.set_name(Name::from_ascii("other.spoof.zz.").expect("name"));
    }
    if let Ok(b) = forged.to_vec() {
        if udp.send_to(&b, src).await.is_ok() {
            sent += 1;
        }
    }
    sent
}

/// How a test server misbehaves.
#[derive(Clone, Copy, Default)]
pub struct Behaviour {
    /// Send forged replies before each real UDP answer (`send_forgeries`).
    pub forge: bool,
    /// Answer UDP queries only after this long.
    pub delay: Duration,
    /// Answer FORMERR, without OPT, to queries carrying EDNS (a server
    /// from before RFC 6891).
    pub no_edns: bool,
}

impl AuthServer {
    /// Serve `zones` on UDP and TCP at `addr` (port 0 picks one).
    pub async fn start(addr: SocketAddr, zones: Vec<Zone>) -> std::io::Result<Self> {
        Self::start_with(addr, zones, Behaviour::default()).await
    }

    /// Like [`AuthServer::start`], misbehaving as told.
    pub async fn start_with(
        addr: SocketAddr,
        zones: Vec<Zone>,
        behaviour: Behaviour,
    ) -> std::io::Result<Self> {
        let udp = Arc::new(UdpSocket::bind(addr).await?);
        let other_port = UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).await?;
        let addr = udp.local_addr()?;
        let tcp = TcpListener::bind(addr).await?;
        let zones = Arc::new(zones);
        let stats = Arc::new(AuthStats::default());
        let (z1, s1) = (zones.clone(), stats.clone());
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, src)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                s1.count(&req);
                let resp = if behaviour.no_edns && req.edns.is_some() {
                    let mut r = Message::response(req.metadata.id, OpCode::Query);
                    r.queries = req.queries.clone();
                    r.metadata.response_code = ResponseCode::FormErr;
                    r
                } else {
                    answer(&z1, &req)
                };
                if behaviour.forge {
                    let n = send_forgeries(&udp, &other_port, &resp, &req, src).await;
                    s1.forged.fetch_add(n, Ordering::Relaxed);
                }
                let bytes = encode_for_udp(&resp, &req);
                if behaviour.delay.is_zero() {
                    let _ = udp.send_to(&bytes, src).await;
                } else {
                    let udp = udp.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(behaviour.delay).await;
                        let _ = udp.send_to(&bytes, src).await;
                    });
                }
            }
        });
        let (z2, s2) = (zones, stats.clone());
        let tcp_task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    continue;
                };
                let (z, st) = (z2.clone(), s2.clone());
                tokio::spawn(async move {
                    while let Ok(len) = s.read_u16().await {
                        let mut buf = vec![0u8; usize::from(len)];
                        if s.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        let Ok(req) = Message::from_vec(&buf) else {
                            return;
                        };
                        st.count(&req);
                        st.tcp_queries.fetch_add(1, Ordering::Relaxed);
                        let bytes = answer(&z, &req).to_vec().expect("encode");
                        let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
                        out.extend_from_slice(&bytes);
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            stats,
            tasks: vec![udp_task, tcp_task],
        })
    }
}

/// A three-level hierarchy on loopback: root (127.0.1.1), `zz.` (127.0.1.2)
/// and `example.zz.` (127.0.1.3), all on one ephemeral port, plus servers
/// for the iterator's harder cases (same port):
/// * `yy.` on 127.0.1.4 (`www.yy.`, and `dns.yy.`, the name server of
///   `glueless.zz.`; it answers REFUSED for anything else);
/// * `glueless.zz.` on 127.0.1.5, delegated by `zz.` to `dns.yy.` with no
///   glue;
/// * `failover.zz.`: NS 127.0.1.6 (a socket that never answers), 127.0.1.4
///   (REFUSED: lame) and 127.0.1.7 (the real server);
/// * `up.zz.` on 127.0.1.8, which serves a copy of the root zone and so
///   refers every question back up to `zz.`;
/// * `spoof.zz.` on 127.0.1.9, which sends forged replies before each real
///   one;
/// * `slow.zz.` on 127.0.1.10, which answers UDP after 300 ms;
/// * `old.zz.` on 127.0.1.11, which answers FORMERR to EDNS queries;
/// * `dead.zz.`, whose only server is the silent 127.0.1.6;
/// * `cyc1.zz.`/`cyc2.zz.`, each delegated to a name server inside the
///   other, with no glue (a loop); `priv.zz.`, delegated to 0.1.2.3 (never
///   to be queried).
pub struct Hierarchy {
    pub port: u16,
    pub root: AuthServer,
    pub tld: AuthServer,
    pub leaf: AuthServer,
    pub yy: AuthServer,
    pub glueless: AuthServer,
    pub failover: AuthServer,
    pub up: AuthServer,
    pub spoof: AuthServer,
    pub slow: AuthServer,
    pub old: AuthServer,
    /// Bound, never read: the silent server of `failover.zz.`.
    pub silent: std::net::UdpSocket,
}

pub const ROOT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 1);
pub const TLD_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 2);
pub const LEAF_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 3);
pub const YY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 4);
pub const GLUELESS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 5);
pub const SILENT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 6);
pub const FAILOVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 7);
pub const UP_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 8);
pub const SPOOF_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 9);
pub const SLOW_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 10);
pub const OLD_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 11);

/// A root server ([`root_zone`] on [`ROOT_IP`]) and one server per
/// `(address, zones)` of `others()`, all on the root's ephemeral port (the
/// resolver reaches every server on one port), started again on a new port
/// until every address can bind it. For hierarchies a test shapes itself.
pub async fn start_on_one_port<const N: usize>(
    others: impl Fn() -> [(Ipv4Addr, Vec<Zone>); N],
) -> (AuthServer, [AuthServer; N]) {
    'port: for _ in 0..50 {
        let root = AuthServer::start(SocketAddr::new(ROOT_IP.into(), 0), vec![root_zone()])
            .await
            .expect("root server");
        let port = root.addr.port();
        let mut started = Vec::with_capacity(N);
        for (ip, zones) in others() {
            match AuthServer::start(SocketAddr::new(ip.into(), port), zones).await {
                Ok(server) => started.push(server),
                Err(_) => continue 'port,
            }
        }
        if let Ok(servers) = <[AuthServer; N]>::try_from(started) {
            return (root, servers);
        }
    }
    panic!("no port free on every address of the hierarchy");
}

pub fn root_zone() -> Zone {
    Zone {
        origin: Name::root(),
        records: records(
            ". 86400 SOA a.root-servers.zz. hostmaster.zz. 1 3600
             . 518400 NS a.root-servers.zz.
             zz. 172800 NS ns1.zz.
             ns1.zz. 172800 A 127.0.1.2
             yy. 172800 NS ns1.yy.
             ns1.yy. 172800 A 127.0.1.4
             a.root-servers.zz. 518400 A 127.0.1.1",
        ),
    }
}

pub fn tld_zone() -> Zone {
    Zone {
        origin: Name::from_ascii("zz.").expect("name"),
        records: records(
            "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 900
             zz. 172800 NS ns1.zz.
             ns1.zz. 172800 A 127.0.1.2
             a.root-servers.zz. 518400 A 127.0.1.1
             example.zz. 172800 NS ns1.example.zz.
             ns1.example.zz. 172800 A 127.0.1.3
             glueless.zz. 172800 NS dns.yy.
             failover.zz. 172800 NS ns1.failover.zz.
             failover.zz. 172800 NS ns2.failover.zz.
             failover.zz. 172800 NS ns3.failover.zz.
             ns1.failover.zz. 172800 A 127.0.1.6
             ns2.failover.zz. 172800 A 127.0.1.4
             ns3.failover.zz. 172800 A 127.0.1.7
             up.zz. 172800 NS ns1.up.zz.
             ns1.up.zz. 172800 A 127.0.1.8
             spoof.zz. 172800 NS ns1.spoof.zz.
             ns1.spoof.zz. 172800 A 127.0.1.9
             slow.zz. 172800 NS ns1.slow.zz.
             ns1.slow.zz. 172800 A 127.0.1.10
             dead.zz. 172800 NS ns1.dead.zz.
             ns1.dead.zz. 172800 A 127.0.1.6
             old.zz. 172800 NS ns1.old.zz.
             ns1.old.zz. 172800 A 127.0.1.11
             cyc1.zz. 172800 NS ns.cyc2.zz.
             cyc2.zz. 172800 NS ns.cyc1.zz.
             priv.zz. 172800 NS ns1.priv.zz.
             ns1.priv.zz. 172800 A 0.1.2.3",
        ),
    }
}

pub fn leaf_zone() -> Zone {
    let mut text = String::from(
        "example.zz. 3600 SOA ns1.example.zz. hostmaster.example.zz. 1 300
         example.zz. 3600 NS ns1.example.zz.
         ns1.example.zz. 3600 A 127.0.1.3
         www.example.zz. 300 A 192.0.2.10
         www.example.zz. 300 AAAA 2001:db8::10
         alias.example.zz. 300 CNAME www.example.zz.
         chain.example.zz. 300 CNAME alias.example.zz.
         out.example.zz. 300 CNAME www.yy.
         loop1.example.zz. 300 CNAME loop2.example.zz.
         loop2.example.zz. 300 CNAME loop1.example.zz.
         mail.example.zz. 300 MX 10 www.example.zz.
         txt.example.zz. 300 TXT hello world
         ads.example.zz. 300 A 192.0.2.66
         tracker.ads.example.zz. 300 A 192.0.2.67
         ok.ads.example.zz. 300 A 192.0.2.68
         short.example.zz. 1 A 192.0.2.11
         deep.sub.example.zz. 300 A 192.0.2.12\n",
    );
    for i in 0..40 {
        text.push_str(&format!(
            "big.example.zz. 300 TXT record-number-{i:02}-padding-padding-padding-padding\n"
        ));
    }
    Zone {
        origin: Name::from_ascii("example.zz.").expect("name"),
        records: records(&text),
    }
}

/// A zone from master-file lines (see [`records`]).
pub fn zone(origin: &str, text: &str) -> Zone {
    Zone {
        origin: Name::from_ascii(origin).expect("name"),
        records: records(text),
    }
}

fn yy_zone() -> Zone {
    zone(
        "yy.",
        "yy. 86400 SOA ns1.yy. hostmaster.yy. 1 300
         yy. 86400 NS ns1.yy.
         ns1.yy. 86400 A 127.0.1.4
         dns.yy. 86400 A 127.0.1.5
         www.yy. 300 A 192.0.2.40",
    )
}

fn glueless_zone() -> Zone {
    zone(
        "glueless.zz.",
        "glueless.zz. 3600 SOA dns.yy. hostmaster.glueless.zz. 1 300
         glueless.zz. 3600 NS dns.yy.
         www.glueless.zz. 300 A 192.0.2.50",
    )
}

fn failover_zone() -> Zone {
    zone(
        "failover.zz.",
        "failover.zz. 3600 SOA ns3.failover.zz. hostmaster.failover.zz. 1 300
         failover.zz. 3600 NS ns1.failover.zz.
         failover.zz. 3600 NS ns2.failover.zz.
         failover.zz. 3600 NS ns3.failover.zz.
         www.failover.zz. 300 A 192.0.2.60
         www2.failover.zz. 300 A 192.0.2.61",
    )
}

fn spoof_zone() -> Zone {
    zone(
        "spoof.zz.",
        "spoof.zz. 3600 SOA ns1.spoof.zz. hostmaster.spoof.zz. 1 300
         spoof.zz. 3600 NS ns1.spoof.zz.
         ns1.spoof.zz. 3600 A 127.0.1.9
         www.spoof.zz. 300 A 192.0.2.70
         www2.spoof.zz. 300 A 192.0.2.71",
    )
}

fn slow_zone() -> Zone {
    zone(
        "slow.zz.",
        "slow.zz. 3600 SOA ns1.slow.zz. hostmaster.slow.zz. 1 300
         slow.zz. 3600 NS ns1.slow.zz.
         ns1.slow.zz. 3600 A 127.0.1.10
         www.slow.zz. 300 A 192.0.2.80",
    )
}

fn old_zone() -> Zone {
    zone(
        "old.zz.",
        "old.zz. 3600 SOA ns1.old.zz. hostmaster.old.zz. 1 300
         old.zz. 3600 NS ns1.old.zz.
         ns1.old.zz. 3600 A 127.0.1.11
         www.old.zz. 300 A 192.0.2.90",
    )
}

impl Hierarchy {
    /// How many queries reached the silent server since the last call
    /// (drains its socket without blocking; it never answers them).
    pub fn silent_queries(&self) -> usize {
        self.silent.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 512];
        let mut n = 0;
        while self.silent.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    }

    pub async fn start() -> Self {
        for _ in 0..50 {
            let root = AuthServer::start(SocketAddr::new(ROOT_IP.into(), 0), vec![root_zone()])
                .await
                .expect("root server");
            let port = root.addr.port();
            let at = |ip: Ipv4Addr| SocketAddr::new(ip.into(), port);
            let (
                Ok(tld),
                Ok(leaf),
                Ok(yy),
                Ok(glueless),
                Ok(failover),
                Ok(up),
                Ok(spoof),
                Ok(silent),
            ) = (
                AuthServer::start(at(TLD_IP), vec![tld_zone()]).await,
                AuthServer::start(at(LEAF_IP), vec![leaf_zone()]).await,
                AuthServer::start(at(YY_IP), vec![yy_zone()]).await,
                AuthServer::start(at(GLUELESS_IP), vec![glueless_zone()]).await,
                AuthServer::start(at(FAILOVER_IP), vec![failover_zone()]).await,
                AuthServer::start(at(UP_IP), vec![root_zone()]).await,
                AuthServer::start_with(
                    at(SPOOF_IP),
                    vec![spoof_zone()],
                    Behaviour {
                        forge: true,
                        ..Behaviour::default()
                    },
                )
                .await,
                std::net::UdpSocket::bind(at(SILENT_IP)),
            )
            else {
                continue;
            };
            let Ok(slow) = AuthServer::start_with(
                at(SLOW_IP),
                vec![slow_zone()],
                Behaviour {
                    delay: Duration::from_millis(300),
                    ..Behaviour::default()
                },
            )
            .await
            else {
                continue;
            };
            let Ok(old) = AuthServer::start_with(
                at(OLD_IP),
                vec![old_zone()],
                Behaviour {
                    no_edns: true,
                    ..Behaviour::default()
                },
            )
            .await
            else {
                continue;
            };
            return Self {
                port,
                root,
                tld,
                leaf,
                yy,
                glueless,
                failover,
                up,
                spoof,
                slow,
                old,
                silent,
            };
        }
        panic!("no free port for the test hierarchy");
    }

    /// `[resolver]` TOML pointing dnsward at this hierarchy.
    pub fn resolver_toml(&self) -> String {
        resolver_toml_at(self.port, 3000, "")
    }
}

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
pub async fn start_dnsward(dir: &TempDir, toml: &str) -> dnsward::app::Running {
    let path = dir.write("dnsward.toml", toml);
    let cfg = dnsward::config::Config::load(&path).expect("config");
    dnsward::app::start(cfg).await.expect("start")
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
