//! One question to one server: UDP first, TCP when the reply is truncated.
//!
//! Shared by the forwarder (RD=1 to a resolver) and the iterator (RD=0 to
//! authoritative servers). Every exchange uses a fresh random ID and a fresh
//! UDP socket, so the source port is chosen anew by the kernel (random on
//! Linux); the socket is connected, so the kernel drops datagrams from any
//! other address or port, and a reply is accepted only if its ID and
//! question match the request. Anything else is ignored, not trusted.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
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

/// A question on the wire plus what the reply must echo.
pub struct Request<'q> {
    id: u16,
    bytes: Vec<u8>,
    query: &'q Query,
}

impl<'q> Request<'q> {
    /// Encode `query` with a random ID, EDNS0 ([`EDNS_PAYLOAD`], DO as the
    /// client asked) and RD as given.
    pub fn new(
        query: &'q Query,
        recursion_desired: bool,
        dnssec_ok: bool,
    ) -> Result<Self, ExchangeError> {
        let id: u16 = rand::random();
        let mut req = Message::new(id, MessageType::Query, OpCode::Query);
        req.metadata.recursion_desired = recursion_desired;
        req.add_query(query.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        edns.set_dnssec_ok(dnssec_ok);
        req.set_edns(edns);
        let bytes = req
            .to_vec()
            .map_err(|e| ExchangeError::Encode(e.to_string()))?;
        Ok(Self { id, bytes, query })
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

/// Ask `server` within `timeout`: UDP, then TCP (same deadline) if the UDP
/// reply has TC=1. Returns the reply and whether TCP was used.
pub async fn exchange(
    server: SocketAddr,
    query: &Query,
    recursion_desired: bool,
    dnssec_ok: bool,
    timeout: Duration,
) -> Result<(Message, bool), ExchangeError> {
    let req = Request::new(query, recursion_desired, dnssec_ok)?;
    let deadline = Instant::now() + timeout;
    let timed_out = |_| ExchangeError::Timeout {
        server,
        after: timeout,
    };
    let m = tokio::time::timeout_at(deadline.into(), udp(server, &req))
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

/// One UDP exchange on a fresh connected socket. Waits until a matching
/// reply arrives (the caller bounds the wait).
pub async fn udp(server: SocketAddr, req: &Request<'_>) -> Result<Message, ExchangeError> {
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |source| ExchangeError::Io { server, source };
    let sock = UdpSocket::bind(bind).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    sock.send(&req.bytes).await.map_err(io)?;
    let mut buf = [0u8; UDP_BUFFER];
    loop {
        let n = sock.recv(&mut buf).await.map_err(io)?;
        // Late replies, spoofing attempts and garbage are skipped; the
        // real answer may still come.
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if req.matches(&m) {
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
