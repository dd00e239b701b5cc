//! Forward mode: send the question to upstream resolvers, in order.
//!
//! Written directly on sockets rather than with hickory's `Resolver` because
//! the stub resolver filters answers to the asked type and hides the
//! authority section; a forwarding resolver must pass the whole answer
//! (CNAME chains, negative SOA) through. Each attempt is one
//! [`exchange`](super::exchange): fresh UDP socket (random source port) and
//! random ID, reply matched on both and the question, TCP on truncation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};

use super::validate::{BoxFut, Fetch, Fetched, Validator};
use super::{exchange, Answer, ResolveError, Status};

/// The forwarder.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    attempt_timeout: Duration,
    sockets: exchange::SocketPool,
    validator: Option<Arc<Validator>>,
}

/// The chain of trust of a forwarded answer is fetched from the same
/// upstreams (DS and DNSKEY questions with DO set).
impl Fetch for Forwarder {
    type State = ();

    fn fetch<'a>(
        &'a self,
        name: &'a hickory_proto::rr::Name,
        qtype: hickory_proto::rr::RecordType,
        _: &'a mut (),
    ) -> BoxFut<'a, Option<Fetched>> {
        Box::pin(async move {
            let m = self
                .ask(&Query::query(name.clone(), qtype), true)
                .await
                .ok()?;
            Some(Fetched {
                rcode: Some(m.metadata.response_code),
                answers: m.answers,
                authority: m.authorities,
            })
        })
    }
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
            validator: None,
        }
    }

    /// The same forwarder validating with `v` (None: off).
    pub fn with_validator(mut self, v: Option<Arc<Validator>>) -> Self {
        self.validator = v;
        self
    }

    /// The validator, when validation is on.
    pub fn validator(&self) -> Option<&Arc<Validator>> {
        self.validator.as_ref()
    }

    /// Resolve one question. SERVFAIL/REFUSED from one upstream moves on to
    /// the next; the last failure is reported if all fail.
    pub async fn resolve(&self, query: &Query, dnssec_ok: bool) -> Result<Answer, ResolveError> {
        let Some(v) = &self.validator else {
            return self.ask(query, dnssec_ok).await.map(Answer::unchecked);
        };
        let mut name = query.name().clone();
        name.set_fqdn(true);
        if let Some(a) = v.aggressive_answer(&name, query.query_type()) {
            return Ok(a);
        }
        // A validator needs the signatures whatever the client asked.
        let msg = self.ask(query, true).await?;
        let mut work = v.work();
        let (status, ede) = v
            .validate(
                self,
                &mut (),
                &mut work,
                &name,
                query.query_type(),
                msg.metadata.response_code,
                &msg.answers,
                &msg.authorities,
                &|_| None,
            )
            .await;
        v.finish(&work, status, ede.as_ref());
        let mut msg = msg;
        msg.metadata.authentic_data = status == Status::Secure;
        Ok(Answer { msg, status, ede })
    }

    /// The answer of the first upstream that gives a usable one.
    async fn ask(&self, query: &Query, dnssec_ok: bool) -> Result<Message, ResolveError> {
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
