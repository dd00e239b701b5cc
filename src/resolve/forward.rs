//! Forward mode: send the question to upstream resolvers, in order.
//!
//! Written directly on sockets rather than with hickory's `Resolver` because
//! the stub resolver filters answers to the asked type and hides the
//! authority section; a forwarding resolver must pass the whole answer
//! (CNAME chains, negative SOA) through. Each attempt is one
//! [`exchange`](super::exchange): fresh UDP socket (random source port) and
//! random ID, reply matched on both and the question, TCP on truncation.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};

use super::{exchange, Answer, ResolveError};

/// The forwarder.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    attempt_timeout: Duration,
    sockets: exchange::SocketPool,
}

impl Forwarder {
    /// Upstreams are tried in order, each for at most `attempt_timeout`.
    pub fn new(upstreams: Vec<SocketAddr>, attempt_timeout: Duration) -> Self {
        Self {
            upstreams,
            attempt_timeout,
            // A fresh source port per attempt: forwarding rates are low
            // enough that socket setup does not matter.
            sockets: exchange::SocketPool::new(1),
        }
    }

    /// Resolve one question. SERVFAIL/REFUSED from one upstream moves on to
    /// the next; the last failure is reported if all fail.
    pub async fn resolve(&self, query: &Query, dnssec_ok: bool) -> Result<Answer, ResolveError> {
        let mut last = ResolveError::network("no upstream configured", "no upstream configured");
        for &up in &self.upstreams {
            match self.exchange(up, query, dnssec_ok).await {
                Ok(m)
                    if matches!(
                        m.metadata.response_code,
                        ResponseCode::ServFail | ResponseCode::Refused | ResponseCode::NotImp
                    ) =>
                {
                    let rcode = m.metadata.response_code;
                    last = ResolveError::no_authority(
                        format!("upstream {up} answered {rcode}"),
                        format!("upstream answered {rcode}"),
                    );
                }
                Ok(m) => return Ok(Answer::unchecked(m)),
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
        let (m, _tcp) = exchange::exchange(
            &self.sockets,
            up,
            query,
            true,
            Some(dnssec_ok),
            self.attempt_timeout,
        )
        .await?;
        Ok(m)
    }
}
