//! One question to one server: UDP first, TCP when the reply is truncated.
//!
//! Shared by the forwarder (RD=1 to a resolver) and the iterator (RD=0 to
//! authoritative servers). Every exchange uses a fresh random ID; the UDP
//! socket is connected to the server for the exchange, so the kernel drops
//! datagrams from any other address or port, and a reply is accepted only
//! if its ID and question match the request. Anything else is ignored, not
//! trusted.
//!
//! Source ports come from a [`SocketPool`]. Creating, registering and
//! closing a socket per query was a fifth of the CPU time of cold
//! recursion (perf: socket, bind, close, two epoll_ctl), so a socket may
//! serve a few queries, one at a time, before it is closed and a new one
//! bound on a new kernel-chosen random port. Which free socket a query gets
//! is random, so a port learnt by an attacker (say, from a query to their
//! own zone) is one of many and soon gone. `uses = 1` restores a fresh
//! port per query.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// EDNS payload size we advertise (DNS flag day 2020): fits an unfragmented
/// datagram on almost every path.
pub const EDNS_PAYLOAD: u16 = 1232;

/// Largest UDP reply we read; a compliant server sends at most
/// [`EDNS_PAYLOAD`] bytes, so anything longer is cut and then ignored.
const UDP_BUFFER: usize = 4096;

/// Why an exchange with one server failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Socket-level failure (unreachable network, refused connection...).
    #[error("{server}: {source}")]
    Io {
        /// The server.
        server: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No matching reply in time.
    #[error("{server}: no reply within {after:?}")]
    Timeout {
        /// The server.
        server: SocketAddr,
        /// The time waited.
        after: Duration,
    },
    /// A TCP reply that was not the answer to our question.
    #[error("{server} (tcp): reply does not match the question")]
    Mismatch {
        /// The server.
        server: SocketAddr,
    },
    /// A TCP reply that could not be decoded.
    #[error("{server} (tcp): undecodable reply: {reason}")]
    Malformed {
        /// The server.
        server: SocketAddr,
        /// The decoder's message.
        reason: String,
    },
    /// The question itself could not be encoded (a bug or an absurd name).
    #[error("cannot encode the question: {0}")]
    Encode(String),
}

impl ExchangeError {
    /// The failure without the server's address, for text a client
    /// reads (the EDE of a SERVFAIL); `Display` names the server, for
    /// logs.
    pub fn public_text(&self) -> String {
        match self {
            // The kind ("connection refused", "network unreachable"):
            // the OS error number adds nothing for a client.
            ExchangeError::Io { source, .. } => source.kind().to_string(),
            ExchangeError::Timeout { after, .. } => format!("no reply within {after:?}"),
            ExchangeError::Mismatch { .. } => "TCP reply does not match the question".into(),
            ExchangeError::Malformed { .. } => "undecodable TCP reply".into(),
            ExchangeError::Encode(_) => "the question could not be encoded".into(),
        }
    }
}

/// A question on the wire plus what the reply must echo.
pub struct Request<'q> {
    id: u16,
    bytes: Vec<u8>,
    query: &'q Query,
}

impl<'q> Request<'q> {
    /// Encode `query` with a random ID, RD as given, and EDNS0
    /// ([`EDNS_PAYLOAD`], DO as in `edns`) unless `edns` is `None` (for
    /// servers that answer FORMERR to an OPT record). Written by hand: the
    /// question is fixed-shape, and going through a `Message` cost an
    /// allocation-heavy encode per upstream query.
    pub fn new(
        query: &'q Query,
        recursion_desired: bool,
        edns: Option<bool>,
    ) -> Result<Self, ExchangeError> {
        let id: u16 = rand::random();
        let name = query.name();
        if name.len() > 255 {
            return Err(ExchangeError::Encode(format!("name too long: {name}")));
        }
        let mut b = Vec::with_capacity(12 + name.len() + 2 + 4 + 11);
        b.extend_from_slice(&id.to_be_bytes());
        // QR=0, OPCODE=QUERY, RD as asked; other flags clear.
        b.push(if recursion_desired { 0x01 } else { 0x00 });
        b.push(0x00);
        // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1 (the OPT record) or 0.
        b.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
        for label in name.iter() {
            // Labels of a decoded or validated `Name` are 1..=63 bytes.
            let len = u8::try_from(label.len())
                .ok()
                .filter(|l| (1..=63).contains(l))
                .ok_or_else(|| ExchangeError::Encode(format!("bad label in {name}")))?;
            b.push(len);
            b.extend_from_slice(label);
        }
        b.push(0);
        b.extend_from_slice(&u16::from(query.query_type()).to_be_bytes());
        b.extend_from_slice(&u16::from(query.query_class()).to_be_bytes());
        if let Some(dnssec_ok) = edns {
            // OPT (RFC 6891): root owner, TYPE 41, CLASS = payload size,
            // TTL = extended rcode 0, version 0, flags (DO = top bit), no
            // data.
            b.push(0);
            b.extend_from_slice(&41u16.to_be_bytes());
            b.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
            b.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0x00 }, 0]);
            b.extend_from_slice(&[0, 0]);
        }
        Ok(Self {
            id,
            bytes: b,
            query,
        })
    }

    /// True if `m` is the reply to this request: same ID, a response, and
    /// the same single question.
    pub fn matches(&self, m: &Message) -> bool {
        m.metadata.id == self.id
            && m.metadata.message_type == MessageType::Response
            && m.queries.len() == 1
            && m.queries[0].query_type() == self.query.query_type()
            && m.queries[0].query_class() == self.query.query_class()
            && m.queries[0].name().eq_ignore_root(self.query.name())
    }
}

/// Longest a pooled socket keeps its port, whatever its use count.
const MAX_SOCKET_AGE: Duration = Duration::from_secs(10);
/// Most idle sockets kept per address family.
const MAX_IDLE_SOCKETS: usize = 512;

/// A UDP socket with its receive buffer, lent to one exchange at a time.
pub struct PooledSocket {
    sock: UdpSocket,
    buf: Box<[u8]>,
    uses: u32,
    born: Instant,
    /// The server it is connected to (reconnecting to the same one is a
    /// wasted system call).
    peer: Option<SocketAddr>,
}

/// Idle UDP sockets, each used for at most `uses` exchanges (one at a
/// time) and [`MAX_SOCKET_AGE`], then closed.
///
/// A socket is only ever reused for the *same* server. Its source port is
/// known to that server (and to nobody off the path), so an attacker who
/// learns it by making us query a zone they run can only use it against
/// their own server, whose answers are confined to their own zones by the
/// bailiwick checks; queries to every other server keep ports the attacker
/// has never seen.
pub struct SocketPool {
    idle: Mutex<IdleSockets>,
    uses: u32,
}

/// Idle sockets by the server they are connected to, with their count.
#[derive(Default)]
struct IdleSockets {
    by_server: HashMap<SocketAddr, Vec<PooledSocket>>,
    total: usize,
}

impl SocketPool {
    /// A pool whose sockets serve at most `uses` exchanges (1: a fresh
    /// socket and port for every exchange).
    pub fn new(uses: u32) -> Self {
        Self {
            idle: Mutex::new(IdleSockets::default()),
            uses: uses.max(1),
        }
    }

    /// A random idle socket already used with `server`, or a new one.
    async fn take(&self, server: SocketAddr) -> std::io::Result<PooledSocket> {
        if self.uses > 1 {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let IdleSockets { by_server, total } = &mut *idle;
            if let Some(list) = by_server.get_mut(&server) {
                let i = (rand::random::<u32>() as usize) % list.len().max(1);
                let taken = (i < list.len()).then(|| list.swap_remove(i));
                if list.is_empty() {
                    by_server.remove(&server);
                }
                if let Some(s) = taken {
                    *total -= 1;
                    if s.born.elapsed() < MAX_SOCKET_AGE {
                        return Ok(s);
                    }
                }
            }
        }
        let bind: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(PooledSocket {
            sock: UdpSocket::bind(bind).await?,
            buf: vec![0u8; UDP_BUFFER].into_boxed_slice(),
            uses: 0,
            born: Instant::now(),
            peer: None,
        })
    }

    /// Return a socket after a clean exchange (a failed one is dropped:
    /// a late ICMP error could otherwise hit the next user).
    fn give_back(&self, mut s: PooledSocket) {
        s.uses += 1;
        if s.uses >= self.uses || s.born.elapsed() >= MAX_SOCKET_AGE {
            return;
        }
        let Some(peer) = s.peer else {
            return;
        };
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.total < MAX_IDLE_SOCKETS {
            idle.total += 1;
            idle.by_server.entry(peer).or_default().push(s);
        }
    }
}

/// Ask `server` within `timeout`: UDP, then TCP (same deadline) if the UDP
/// reply has TC=1. `edns`: `Some(DO bit)` to send EDNS0, `None` for none.
/// Returns the reply and whether TCP was used.
pub async fn exchange(
    pool: &SocketPool,
    server: SocketAddr,
    query: &Query,
    recursion_desired: bool,
    edns: Option<bool>,
    timeout: Duration,
) -> Result<(Message, bool), ExchangeError> {
    let req = Request::new(query, recursion_desired, edns)?;
    let deadline = Instant::now() + timeout;
    let timed_out = |_| ExchangeError::Timeout {
        server,
        after: timeout,
    };
    let m = tokio::time::timeout_at(deadline.into(), udp(pool, server, &req))
        .await
        .map_err(timed_out)??;
    if !m.metadata.truncation {
        return Ok((m, false));
    }
    let m = tokio::time::timeout_at(deadline.into(), tcp(server, &req))
        .await
        .map_err(timed_out)??;
    Ok((m, true))
}

/// One UDP exchange on a pooled socket connected to `server`. Waits until
/// a matching reply arrives (the caller bounds the wait; a socket whose
/// exchange is abandoned is closed, not pooled).
pub async fn udp(
    pool: &SocketPool,
    server: SocketAddr,
    req: &Request<'_>,
) -> Result<Message, ExchangeError> {
    let io = |source| ExchangeError::Io { server, source };
    let mut s = pool.take(server).await.map_err(io)?;
    if s.peer != Some(server) {
        s.sock.connect(server).await.map_err(io)?;
        s.peer = Some(server);
    }
    s.sock.send(&req.bytes).await.map_err(io)?;
    loop {
        let n = s.sock.recv(&mut s.buf).await.map_err(io)?;
        // Late replies (to an earlier user of the socket too), spoofing
        // attempts and garbage are skipped; the real answer may still come.
        if let Ok(m) = Message::from_vec(&s.buf[..n]) {
            if req.matches(&m) {
                pool.give_back(s);
                return Ok(m);
            }
        }
    }
}

/// One TCP exchange on a fresh connection (RFC 7766 length framing).
pub async fn tcp(server: SocketAddr, req: &Request<'_>) -> Result<Message, ExchangeError> {
    let io = |source| ExchangeError::Io { server, source };
    let mut s = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(req.bytes.len())
        .map_err(|_| ExchangeError::Encode("question longer than 65535 bytes".into()))?;
    let mut framed = Vec::with_capacity(req.bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&req.bytes);
    s.write_all(&framed).await.map_err(io)?;
    let n = s.read_u16().await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(n)];
    s.read_exact(&mut buf).await.map_err(io)?;
    let m = Message::from_vec(&buf).map_err(|e| ExchangeError::Malformed {
        server,
        reason: e.to_string(),
    })?;
    if req.matches(&m) {
        Ok(m)
    } else {
        Err(ExchangeError::Mismatch { server })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{Name, RecordType};

    /// A socket comes back only for the server it was used with, so a
    /// port one server has seen is never used to ask another.
    #[tokio::test]
    async fn pooled_sockets_are_reused_only_for_their_own_server() {
        let pool = SocketPool::new(8);
        let a: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let b: SocketAddr = "127.0.0.2:9".parse().expect("addr");
        let port = |s: &PooledSocket| s.sock.local_addr().expect("local").port();
        let mut first = pool.take(a).await.expect("socket");
        first.sock.connect(a).await.expect("connect");
        first.peer = Some(a);
        let port_a = port(&first);
        pool.give_back(first);
        let other = pool.take(b).await.expect("socket");
        assert_ne!(port(&other), port_a, "a fresh socket for another server");
        assert_eq!(other.peer, None);
        let again = pool.take(a).await.expect("socket");
        assert_eq!(port(&again), port_a, "reused for the same server");
        assert_eq!(again.peer, Some(a));
        // Used up: after `uses` exchanges the socket is closed, not pooled.
        // (A closed port may be handed out again by the kernel, so the
        // test looks at the use count of what comes back, not its port.)
        let mut s = again;
        let mut exchanges = 1;
        while s.uses != 0 {
            assert!(exchanges < 8, "still pooled after {exchanges} exchanges");
            pool.give_back(s);
            exchanges += 1;
            s = pool.take(a).await.expect("socket");
        }
        assert_eq!(exchanges, 8, "retired after exactly 8 exchanges");
        let lone = SocketPool::new(1);
        let mut x = lone.take(a).await.expect("socket");
        x.peer = Some(a);
        x.uses = 0;
        lone.give_back(x);
        let y = lone.take(a).await.expect("socket");
        assert_eq!((y.uses, y.peer), (0, None), "uses = 1: never reused");
    }

    #[test]
    fn hand_encoded_question_decodes_as_meant() {
        let q = Query::query(
            Name::from_ascii("WwW.Example.zz.").expect("name"),
            RecordType::AAAA,
        );
        for (rd, dnssec_ok) in [(false, false), (true, true)] {
            let r = Request::new(&q, rd, Some(dnssec_ok)).expect("encode");
            let m = Message::from_vec(&r.bytes).expect("decode");
            assert_eq!(m.metadata.id, r.id);
            assert_eq!(m.metadata.message_type, MessageType::Query);
            assert_eq!(m.metadata.recursion_desired, rd);
            assert!(!m.metadata.authoritative && !m.metadata.truncation);
            assert_eq!(m.queries.len(), 1);
            assert!(m.queries[0].name().eq_case(q.name()), "case kept");
            assert_eq!(m.queries[0].query_type(), RecordType::AAAA);
            let e = m.edns.as_ref().expect("OPT");
            assert_eq!(e.max_payload(), EDNS_PAYLOAD);
            assert_eq!(e.flags().dnssec_ok, dnssec_ok);
            assert!(m.answers.is_empty() && m.authorities.is_empty());
        }
        let plain = Request::new(&q, false, None).expect("encode");
        let m = Message::from_vec(&plain.bytes).expect("decode");
        assert!(m.edns.is_none() && m.additionals.is_empty());
        assert_eq!(m.queries[0].query_type(), RecordType::AAAA);
        let root = Query::query(Name::root(), RecordType::NS);
        let r = Request::new(&root, false, Some(false)).expect("encode");
        assert!(Message::from_vec(&r.bytes).expect("decode").queries[0]
            .name()
            .is_root());
    }
}
