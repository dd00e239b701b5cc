//! A small authoritative DNS server over UDP and TCP: zones from text,
//! real referrals with glue, and misbehaviours on request (silence,
//! delay, forged replies) for the resolver's defences.

use super::*;

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

pub(super) fn lower(n: &Name) -> String {
    n.to_ascii().to_ascii_lowercase()
}

/// RFC 1034 4.3.2, reduced: referral at a delegation below the zone apex,
/// authoritative answer, CNAME, NODATA or NXDOMAIN with the SOA.
pub(super) fn answer(zones: &[Zone], req: &Message) -> Message {
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

pub(super) fn encode_for_udp(resp: &Message, req: &Message) -> Vec<u8> {
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
pub(super) async fn send_forgeries(
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
