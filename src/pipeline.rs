//! The query path, top to bottom, for one packet:
//!
//! 1. wire checks (too short, a response, bad opcode, bad counts, undecodable)
//!    before anything is allocated for the query;
//! 2. policy (allow/block) — before the cache, because a reload must take
//!    effect at once for names already cached;
//! 3. cache;
//! 4. recursor/forwarder, within the configured time budget;
//! 5. response: EDNS, EDE, truncation to the client's UDP size; metrics.
//!
//! Every stage returns a [`Verdict`]: either the query goes on, or the
//! stage has produced the answer (or decided to send none).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tracing::debug;

use crate::metrics::{qtype_label, Metrics};
use crate::policy::matcher::LookupKey;
use crate::policy::store::PolicyStore;
use crate::policy::Decision;
use crate::resolve::cache::{AnswerCache, KeyBuf};
use crate::resolve::Upstream;
use crate::sinkhole::{ede, Sinkhole};

/// How the query arrived; decides truncation and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagram: the answer must fit the client's UDP size.
    Udp,
    /// Stream: no size limit below 64 KiB.
    Tcp,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Result of one stage.
#[derive(Debug)]
pub enum Verdict<T> {
    /// Go on to the next stage with this value.
    Continue(T),
    /// Send these bytes (already encoded).
    Respond(Vec<u8>),
    /// Send nothing.
    Drop,
}

/// The smallest DNS header.
const HEADER_LEN: usize = 12;
/// A query has one question, no answers and at most a few additional
/// records; larger counts are hostile and get FORMERR before decoding
/// (hickory pre-allocates by count).
const MAX_OTHER_RECORDS: u16 = 8;

/// Everything a query needs, shared by all listeners.
pub struct Handler {
    /// The policy store (hot-swapped).
    pub policy: Arc<PolicyStore>,
    /// Answer cache.
    pub cache: AnswerCache,
    /// Recursor or forwarder.
    pub upstream: Upstream,
    /// Blocked-answer builder.
    pub sinkhole: Sinkhole,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Largest UDP response we send.
    pub max_udp_payload: u16,
    /// Time budget for one resolution.
    pub resolve_timeout: Duration,
}

/// A header-only reply (FORMERR, NOTIMP) built from the raw request bytes,
/// for packets that cannot or should not be decoded.
fn header_reply(packet: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN];
    out[0] = packet[0];
    out[1] = packet[1];
    // QR=1, keep opcode and RD.
    out[2] = 0x80 | (packet[2] & 0x79);
    out[3] = 0x80 | (u16::from(rcode) as u8 & 0x0f);
    out
}

impl Handler {
    /// Answer one packet. `None` means send nothing.
    pub async fn handle(
        &self,
        packet: &[u8],
        transport: Transport,
        _src: SocketAddr,
    ) -> Option<Vec<u8>> {
        let request = match self.check_wire(packet) {
            Verdict::Continue(m) => m,
            Verdict::Respond(bytes) => return Some(bytes),
            Verdict::Drop => return None,
        };
        let out = self.answer(&request, transport).await;
        Some(self.encode(out, &request, transport))
    }

    fn reject(&self, reason: &str) {
        self.metrics.rejected.with_label_values(&[reason]).inc();
    }

    fn count_rcode(&self, rcode: ResponseCode) {
        self.metrics
            .responses
            .with_label_values(&[rcode_label(rcode)])
            .inc();
    }

    /// Stage 1: wire checks and decoding.
    fn check_wire(&self, packet: &[u8]) -> Verdict<Message> {
        if packet.len() < HEADER_LEN {
            self.reject("short");
            return Verdict::Drop;
        }
        if packet[2] & 0x80 != 0 {
            // A response sent to us: answering could start a loop.
            self.reject("response");
            return Verdict::Drop;
        }
        let opcode = (packet[2] >> 3) & 0x0f;
        if opcode != 0 {
            self.reject("opcode");
            self.count_rcode(ResponseCode::NotImp);
            return Verdict::Respond(header_reply(packet, ResponseCode::NotImp));
        }
        let count = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
        let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
        if qd != 1 || an > 0 || ns > MAX_OTHER_RECORDS || ar > MAX_OTHER_RECORDS {
            self.reject("counts");
            self.count_rcode(ResponseCode::FormErr);
            return Verdict::Respond(header_reply(packet, ResponseCode::FormErr));
        }
        match Message::from_vec(packet) {
            Ok(m) => Verdict::Continue(m),
            Err(_) => {
                self.reject("malformed");
                self.count_rcode(ResponseCode::FormErr);
                Verdict::Respond(header_reply(packet, ResponseCode::FormErr))
            }
        }
    }

    /// A response skeleton: header flags, question and OPT mirrored.
    fn skeleton(&self, request: &Message) -> Message {
        let mut resp = Message::response(request.metadata.id, OpCode::Query);
        resp.metadata.recursion_desired = request.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.metadata.checking_disabled = request.metadata.checking_disabled;
        resp.queries = request.queries.clone();
        if let Some(req_edns) = &request.edns {
            let mut e = Edns::new();
            e.set_max_payload(self.max_udp_payload);
            e.set_dnssec_ok(req_edns.flags().dnssec_ok);
            resp.edns = Some(e);
        }
        resp
    }

    /// Stages 2-4.
    async fn answer(&self, request: &Message, transport: Transport) -> Message {
        let mut resp = self.skeleton(request);
        let Some(query) = request.queries.first() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp;
        };
        let qtype = query.query_type();
        self.metrics
            .queries
            .with_label_values(&[transport.label(), qtype_label(qtype)])
            .inc();
        if let Some(e) = &request.edns {
            if e.version() > 0 {
                resp.metadata.response_code = ResponseCode::BADVERS;
                return resp;
            }
        }
        if query.query_class() != DNSClass::IN {
            self.reject("class");
            resp.metadata.response_code = ResponseCode::Refused;
            return resp;
        }
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR | RecordType::OPT) {
            self.reject("qtype");
            resp.metadata.response_code = ResponseCode::Refused;
            return resp;
        }

        let qname = query.name();
        let key = LookupKey::from_labels(qname.iter());

        // Stage 2: policy.
        {
            let policy = self.policy.load();
            if let Decision::Blocked { list, suffix, line } = policy.decide(&key) {
                let zone = Name::from_ascii(format!("{}.", key.suffix_str(suffix)))
                    .unwrap_or_else(|_| Name::root());
                self.sinkhole
                    .answer(&mut resp, qname, qtype, list.action, zone);
                if let Some(e) = resp.edns.as_mut() {
                    e.options_mut()
                        .insert(ede(list.ede, &format!("blocked by list {}", list.name)));
                }
                self.metrics
                    .blocked
                    .with_label_values(&[&list.name, list.action.as_str()])
                    .inc();
                debug!(list = %list.name, line, action = list.action.as_str(), "blocked");
                return resp;
            }
        }

        // Stage 3: cache.
        let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        let ckey = KeyBuf::new(
            key.name_bytes(),
            u16::from(qtype),
            u16::from(query.query_class()),
            dnssec_ok,
        );
        let now = Instant::now();
        if let Some(hit) = self.cache.get(&ckey, now) {
            self.metrics.cache_hits.inc();
            hit.fill(&mut resp, now);
            return resp;
        }
        self.metrics.cache_misses.inc();

        // Stage 4: resolution.
        let mode = self.upstream.mode();
        let started = Instant::now();
        let result = self
            .upstream
            .resolve(query, dnssec_ok, self.resolve_timeout)
            .await;
        self.metrics
            .upstream_duration
            .with_label_values(&[mode])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(msg) => {
                self.cache.insert(&ckey, &msg, Instant::now());
                self.metrics.cache_entries.set(self.cache.len() as i64);
                resp.metadata.response_code = msg.metadata.response_code;
                resp.metadata.authentic_data = false;
                resp.answers = msg.answers;
                resp.authorities = msg.authorities;
                resp.additionals = msg
                    .additionals
                    .into_iter()
                    .filter(|r| r.record_type() != RecordType::OPT)
                    .collect();
            }
            Err(e) => {
                self.metrics
                    .upstream_errors
                    .with_label_values(&[mode, e.kind()])
                    .inc();
                debug!(qtype = %qtype, "resolution failed: {e}");
                resp.metadata.response_code = ResponseCode::ServFail;
                if let Some(edns) = resp.edns.as_mut() {
                    edns.options_mut().insert(ede(e.ede_code(), &e.to_string()));
                }
            }
        }
        resp
    }

    /// Stage 5: encode, truncating over UDP when the answer does not fit.
    fn encode(&self, resp: Message, request: &Message, transport: Transport) -> Vec<u8> {
        self.count_rcode(resp.metadata.response_code);
        let limit = match transport {
            Transport::Tcp => usize::from(u16::MAX),
            Transport::Udp => usize::from(
                request
                    .edns
                    .as_ref()
                    .map(|e| e.max_payload().clamp(512, self.max_udp_payload))
                    .unwrap_or(512),
            ),
        };
        match resp.to_vec() {
            Ok(bytes) if bytes.len() <= limit => bytes,
            Ok(_) => {
                // Empty sections and TC=1: the client retries over TCP
                // (RFC 7766); a partial RRset would be worse than none.
                let mut t = resp.truncate();
                if let Some(e) = t.edns.as_mut() {
                    e.options_mut().options.clear();
                }
                t.to_vec()
                    .unwrap_or_else(|_| header_only(&resp, ResponseCode::ServFail))
            }
            Err(_) => header_only(&resp, ResponseCode::ServFail),
        }
    }
}

fn header_only(resp: &Message, rcode: ResponseCode) -> Vec<u8> {
    let mut m = Message::response(resp.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.recursion_available = true;
    m.metadata.recursion_desired = resp.metadata.recursion_desired;
    m.to_vec().unwrap_or_default()
}

/// Bounded label for an rcode.
pub fn rcode_label(r: ResponseCode) -> &'static str {
    match r {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::BADVERS => "BADVERS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reply_keeps_id_opcode_rd() {
        let q = [0xab, 0xcd, 0x29, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        let r = header_reply(&q, ResponseCode::NotImp);
        assert_eq!(&r[..2], &[0xab, 0xcd]);
        assert_eq!(r[2], 0x80 | 0x29);
        assert_eq!(r[3] & 0x0f, 4);
        assert_eq!(&r[4..], &[0; 8]);
    }
}
