//! Forward mode: send the question to upstream resolvers, in order.
//!
//! Written directly on sockets rather than with hickory's `Resolver` because
//! the stub resolver filters answers to the asked type and hides the
//! authority section; a forwarding resolver must pass the whole answer
//! (CNAME chains, negative SOA) through. Each attempt uses a fresh UDP
//! socket (random source port) and a random ID, checks that the reply
//! matches both and the question, and retries over TCP when truncated.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::ResolveError;

/// The forwarder.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    attempt_timeout: Duration,
}

impl Forwarder {
    /// Upstreams are tried in order, each for at most `attempt_timeout`.
    pub fn new(upstreams: Vec<SocketAddr>, attempt_timeout: Duration) -> Self {
        Self {
            upstreams,
            attempt_timeout,
        }
    }

    /// Resolve one question. SERVFAIL/REFUSED from one upstream moves on to
    /// the next; the last failure is reported if all fail.
    pub async fn resolve(&self, query: &Query, dnssec_ok: bool) -> Result<Message, ResolveError> {
        let mut last = ResolveError::Network("no upstream configured".into());
        for &up in &self.upstreams {
            match self.exchange(up, query, dnssec_ok).await {
                Ok(m)
                    if matches!(
                        m.metadata.response_code,
                        ResponseCode::ServFail | ResponseCode::Refused | ResponseCode::NotImp
                    ) =>
                {
                    last = ResolveError::NoAuthority(format!(
                        "upstream {up} answered {}",
                        m.metadata.response_code
                    ));
                }
                Ok(m) => return Ok(m),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn exchange(
        &self,
        up: SocketAddr,
        query: &Query,
        dnssec_ok: bool,
    ) -> Result<Message, ResolveError> {
        let id: u16 = rand::random();
        let mut req = Message::new(id, MessageType::Query, OpCode::Query);
        req.metadata.recursion_desired = true;
        req.add_query(query.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(dnssec_ok);
        req.set_edns(edns);
        let bytes = req
            .to_vec()
            .map_err(|e| ResolveError::Network(format!("encode: {e}")))?;
        let deadline = Instant::now() + self.attempt_timeout;
        let m = tokio::time::timeout_at(deadline.into(), udp_exchange(up, &bytes, id, query))
            .await
            .map_err(|_| ResolveError::Timeout(self.attempt_timeout))??;
        if !m.metadata.truncation {
            return Ok(m);
        }
        tokio::time::timeout_at(deadline.into(), tcp_exchange(up, &bytes, id, query))
            .await
            .map_err(|_| ResolveError::Timeout(self.attempt_timeout))?
    }
}

fn matches(m: &Message, id: u16, query: &Query) -> bool {
    m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && m.queries[0].query_type() == query.query_type()
        && m.queries[0].query_class() == query.query_class()
        && m.queries[0].name().eq_ignore_root(query.name())
}

async fn udp_exchange(
    up: SocketAddr,
    bytes: &[u8],
    id: u16,
    query: &Query,
) -> Result<Message, ResolveError> {
    let bind: SocketAddr = if up.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let net = |e: std::io::Error| ResolveError::Network(format!("{up}: {e}"));
    let sock = UdpSocket::bind(bind).await.map_err(net)?;
    sock.connect(up).await.map_err(net)?;
    sock.send(bytes).await.map_err(net)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(net)?;
        // Anything that is not the reply to this question (spoofing
        // attempts, late replies) is ignored, not trusted.
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if matches(&m, id, query) {
                return Ok(m);
            }
        }
    }
}

async fn tcp_exchange(
    up: SocketAddr,
    bytes: &[u8],
    id: u16,
    query: &Query,
) -> Result<Message, ResolveError> {
    let net = |e: std::io::Error| ResolveError::Network(format!("{up} (tcp): {e}"));
    let mut s = TcpStream::connect(up).await.map_err(net)?;
    let len =
        u16::try_from(bytes.len()).map_err(|_| ResolveError::Network("query too long".into()))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.map_err(net)?;
    let n = s.read_u16().await.map_err(net)?;
    let mut buf = vec![0u8; usize::from(n)];
    s.read_exact(&mut buf).await.map_err(net)?;
    let m = Message::from_vec(&buf)
        .map_err(|e| ResolveError::Network(format!("{up} (tcp): bad reply: {e}")))?;
    if matches(&m, id, query) {
        Ok(m)
    } else {
        Err(ResolveError::Network(format!(
            "{up} (tcp): reply does not match"
        )))
    }
}
