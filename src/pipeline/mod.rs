//! The query path, top to bottom, for one packet:
//!
//! The listener reads each message once ([`Packet::read`]: the quick
//! parse of a plain query) and hands that view down; no stage parses the
//! same bytes again.
//!
//! 0. access control, then rate limiting (UDP), on the source address
//!    alone: a refused or flooding client costs no decoding;
//! 1. wire checks (too short, a response, bad opcode, bad counts, undecodable)
//!    before anything is allocated for the query;
//! 2. policy (allow/block) — before the cache, because a reload must take
//!    effect at once for names already cached;
//! 3. cache;
//! 4. recursor/forwarder, within the configured time budget and the cap
//!    on resolutions in flight; on failure a stale answer if one is kept;
//!    4b. policy again for every name the answer's CNAME/DNAME chain leads
//!    to (cached, fresh or stale alike), so an alias cannot reach a listed
//!    name; a cached chain found clean is marked with the policy's
//!    generation and served by the fast path until the next list change;
//! 5. response: EDNS, EDE, truncation to the client's UDP size; metrics.
//!
//! Every stage returns a [`Verdict`]: either the query goes on, or the
//! stage has produced the answer (or decided to send none).
//!
//! Where the stages live: 0 in [`acl`] and [`ratelimit`], 1 in
//! [`crate::wire::check`], 4b in `chain.rs`, 5 in `reply.rs` (skeleton,
//! encode and truncation, cached answers from their templates); the UDP
//! fast path (cached and simply blocked answers straight from the receive
//! loop) in `fast.rs`; what a block rule does in `effect.rs`, cache keys in
//! `keys.rs`, what every path records (dry-run counts, the query log, dnstap) in
//! `record.rs`, prefetch
//! in `refresh.rs`; the stages themselves in this file, in the order
//! above.

pub mod acl;
mod chain;
mod dnssec;
mod effect;
mod fast;
mod keys;
pub mod ratelimit;
mod record;
mod refresh;
mod reply;

pub use effect::{dotted_name, effect_of};
use keys::{cache_key, cache_key_of, wire_cache_key};

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, HINFO};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::sync::Semaphore;
use tracing::{debug, info};

use crate::config::Action;
use crate::metrics::Metrics;
use crate::pipeline::acl::{Acl, AclDecision, DenyReason};
use crate::pipeline::ratelimit::{RateDecision, RateLimiter};
use crate::policy::matcher::LookupKey;
use crate::policy::rule::{EntryAction, LocalData};
use crate::policy::store::PolicyStore;
use crate::policy::{Block, Decision, Policy};
use crate::resolve::cache::{AnswerCache, CacheKey, CachedAnswer};
use crate::resolve::prefetch::{self, Spawner};
use crate::resolve::{Status, Upstream};
use crate::sinkhole::{Effect, Sinkhole};
use crate::wire::check::{check_wire, WireReject, HEADER_LEN};
use crate::wire::ede::{Ede, EDE_DNSSEC_BOGUS, EDE_OTHER, EDE_PROHIBITED, EDE_STALE};
use crate::wire::quick::{Packet, QuickQuery};
use crate::wire::template::{render_block, BlockAnswer, BlockShape};
use crate::wire::Reject;
use dnssec::apply_status;

/// How the query arrived; decides truncation and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagram: the answer must fit the client's UDP size.
    Udp,
    /// Stream: no size limit below 64 KiB.
    Tcp,
}

/// Result of one stage.
#[derive(Debug)]
pub enum Verdict<T> {
    /// Go on to the next stage with this value.
    Continue(T),
    /// The response is complete: send it.
    Respond,
    /// Send nothing (RPZ drop, rate limiting).
    Drop,
}

/// TTL of stale answers (RFC 8767 section 4 recommends 30 s).
pub const STALE_TTL: u32 = 30;

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
    /// Log one line per blocked query.
    pub log_blocked: bool,
    /// Rate cap on those lines (`logging.blocked_queries_max_per_sec`).
    pub blocked_log_cap: crate::logcap::LineCap,
    /// The query log (`[querylog]`), None when off: then the hooks below
    /// cost one branch.
    pub querylog: Option<crate::querylog::QueryLog>,
    /// Access control (swapped on SIGHUP).
    pub acl: ArcSwap<Acl>,
    /// Rate limiter (swapped on SIGHUP).
    pub limiter: ArcSwap<RateLimiter>,
    /// Clients exempt from rate limiting.
    pub limiter_exempt: ArcSwap<Acl>,
    /// Cache-miss resolutions allowed at once.
    pub resolve_slots: Semaphore,
    /// Queries being answered now (for the shutdown drain).
    pub inflight: AtomicUsize,
    /// Background refreshes of answers near expiry (`cache.prefetch`);
    /// None when off.
    pub prefetch: Option<Spawner<Handler>>,
    /// NOTIFY from the primaries of `[lists.transfer]` zones.
    pub notify: crate::transfer::NotifyRouter,
    /// The dnstap output (`[dnstap]`), None when off.
    pub dnstap: Option<crate::dnstap::Dnstap>,
    /// Names sinkholed only through their CNAME/DNAME chain, for the block
    /// page (None when the page is off).
    pub chained: Option<Arc<crate::policy::chained::ChainMemo>>,
}

/// What stage 0 decided about a source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go on.
    Allow,
    /// Answer REFUSED with EDE 18.
    Refuse(DenyReason),
    /// Over the rate limit: answer an empty TC=1.
    Slip,
    /// Over the rate limit: no answer.
    Drop,
}

/// Counts a query as in flight until dropped.
pub struct InFlightGuard<'a>(&'a AtomicUsize);

impl<'a> InFlightGuard<'a> {
    /// Start counting.
    pub fn new(c: &'a AtomicUsize) -> Self {
        c.fetch_add(1, Ordering::Relaxed);
        Self(c)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Handler {
    /// Answer one packet from `src`, read (and quick-parsed) by its
    /// listener. `None` means send nothing.
    pub async fn handle(
        &self,
        packet: Packet<'_>,
        transport: Transport,
        src: SocketAddr,
    ) -> Option<Vec<u8>> {
        if let Some(reply) = self.notify_hook(packet.bytes, src) {
            return reply;
        }
        let admission = self.admit(src, transport);
        self.handle_admitted(packet, transport, admission, src)
            .await
    }

    /// A NOTIFY request (opcode 4, QR=0) goes to the zone-transfer code
    /// instead of the query path: `Some(reply)` for those, `None` for
    /// everything else. It runs before access control because primaries
    /// need not be resolver clients; the router answers only a configured
    /// primary of a configured zone (TSIG-valid when a key is set) and
    /// REFUSED anyone else, each refusal counted.
    pub fn notify_hook(&self, packet: &[u8], src: SocketAddr) -> Option<Option<Vec<u8>>> {
        if packet.len() < HEADER_LEN
            || packet[2] & 0x80 != 0
            || (packet[2] >> 3) & 0x0f != 4
            || self.notify.is_empty()
        {
            // Without transfer lists NOTIFY stays an unsupported opcode.
            return None;
        }
        let (reply, outcome) = self.notify.handle(packet, src.ip());
        match outcome {
            crate::transfer::NotifyOutcome::Accepted => {
                self.count_rcode(ResponseCode::NoError);
            }
            crate::transfer::NotifyOutcome::Refused(reason) => {
                self.metrics.reject(reason);
                if reply.is_some() {
                    self.count_rcode(ResponseCode::Refused);
                }
            }
        }
        Some(reply)
    }

    /// Stage 0: access control and rate limiting (UDP), on the source
    /// address alone, before any decoding. Exactly once per query.
    pub fn admit(&self, src: SocketAddr, transport: Transport) -> Admission {
        if let AclDecision::Deny(reason) = self.acl.load().check(src.ip()) {
            return Admission::Refuse(reason);
        }
        if transport == Transport::Udp
            && self.limiter_exempt.load().check(src.ip()) != AclDecision::Allow
        {
            match self.limiter.load().check(src.ip(), Instant::now()) {
                RateDecision::Allow => {}
                RateDecision::Drop => return Admission::Drop,
                RateDecision::Slip => return Admission::Slip,
            }
        }
        Admission::Allow
    }

    /// Answer a packet whose source was already admitted.
    pub async fn handle_admitted(
        &self,
        packet: Packet<'_>,
        transport: Transport,
        admission: Admission,
        src: SocketAddr,
    ) -> Option<Vec<u8>> {
        let client = src.ip();
        let _inflight = InFlightGuard::new(&self.inflight);
        let (denied, slip) = match admission {
            Admission::Allow => (None, false),
            Admission::Refuse(r) => (Some(r), false),
            Admission::Slip => (None, true),
            Admission::Drop => {
                self.metrics.reject(Reject::RatelimitDrop);
                return None;
            }
        };
        // Stage 1: wire checks.
        let request = match check_wire(packet.bytes) {
            Ok(m) => m,
            Err(WireReject { reason, reply }) => {
                self.metrics.reject(reason);
                if denied.is_some() || slip {
                    return None;
                }
                if let Some(bytes) = &reply {
                    if bytes.len() >= 4 {
                        self.count_rcode(ResponseCode::from(0, bytes[3] & 0x0f));
                    }
                }
                return reply;
            }
        };
        let mut resp = self.skeleton(&request);
        if let Some(reason) = denied {
            self.metrics.reject(match reason {
                DenyReason::NotAllowed => Reject::AclNotAllowed,
                DenyReason::Denied => Reject::AclDenied,
            });
            resp.metadata.response_code = ResponseCode::Refused;
            Ede::new(EDE_PROHIBITED, "client not allowed to use this resolver").attach(&mut resp);
            return Some(self.encode(resp, &request, transport));
        }
        if slip {
            // Rate limited: an empty TC=1 answer sends a real client to TCP,
            // where its address is proven; a spoofed flood gets no payload.
            self.metrics.reject(Reject::RatelimitSlip);
            resp.metadata.truncation = true;
            return Some(self.encode(resp, &request, transport));
        }
        let mut blocked = false;
        let answered = self
            .answer(&request, transport, resp, client, &mut blocked)
            .await;
        let bytes = answered.map(|(out, cached)| {
            cached
                .and_then(|c| self.render_cached(packet, &out, &c, transport))
                .unwrap_or_else(|| self.encode(out, &request, transport))
        });
        self.tap(src, transport, packet.bytes, bytes.as_deref(), blocked);
        bytes
    }

    /// Stages 2-4, in order. Returns None when the answer is to be dropped;
    /// otherwise the response, and the cache entry it was filled from
    /// unchanged, if any (see [`Handler::render_cached`]).
    async fn answer(
        &self,
        request: &Message,
        transport: Transport,
        mut resp: Message,
        client: IpAddr,
        blocked: &mut bool,
    ) -> Option<(Message, Option<Arc<CachedAnswer>>)> {
        let query = match self.screen(request, transport, &mut resp) {
            Verdict::Continue(q) => q,
            Verdict::Respond => return Some((resp, None)),
            Verdict::Drop => return None,
        };
        let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        // RFC 6840 5.7: AD on a secure answer when the client set DO or AD.
        let ad_wanted = dnssec_ok || request.metadata.authentic_data;
        // One lookup key for the policy and the cache key.
        let key = LookupKey::from_labels(query.name().iter());
        // Policy before cache: a list change applies at once to names
        // already cached.
        // Every outcome of the policy stages but `Continue(None)` is a
        // block (for dnstap's `what = "blocked"`).
        let redirect = match self.policy_stage(query, &key, transport, &mut resp, client) {
            Verdict::Continue(r) => {
                *blocked = r.is_some();
                r
            }
            Verdict::Respond => {
                *blocked = true;
                return Some((resp, None));
            }
            Verdict::Drop => {
                *blocked = true;
                return None;
            }
        };
        if query.query_type() == RecordType::ANY && transport == Transport::Udp {
            // RFC 8482: no full ANY over UDP (an amplification favourite).
            resp.answers.push(Record::from_rdata(
                query.name().clone(),
                3600,
                RData::HINFO(HINFO::new("RFC8482".into(), String::new())),
            ));
            return Some((resp, None));
        }
        match redirect {
            None => {
                let ckey = cache_key_of(&key, query, dnssec_ok);
                let cached = self
                    .resolve_into(query, &ckey, dnssec_ok, ad_wanted, &mut resp)
                    .await;
                // After the cache and the upstream, whichever answered: a
                // cached chain is checked against the policy serving now.
                match self.chain_stage(query, transport, &mut resp, cached.as_deref(), client) {
                    Verdict::Continue(None) => {
                        if let Some(log) = &self.querylog {
                            let rcode = u16::from(resp.metadata.response_code);
                            let group = self.policy.load().groups.of(client).name.clone();
                            log.resolved(
                                client,
                                &key.suffix_str(0),
                                u16::from(query.query_type()),
                                rcode,
                                &group,
                            );
                        }
                        return Some((resp, cached));
                    }
                    Verdict::Continue(Some(target)) => {
                        *blocked = true;
                        self.resolve_redirect(query, target, dnssec_ok, &mut resp)
                            .await;
                    }
                    Verdict::Respond => *blocked = true,
                    Verdict::Drop => {
                        *blocked = true;
                        return None;
                    }
                }
            }
            Some(target) => {
                // CNAME rewrite: answer the CNAME, then the target's records.
                let qname = query.name().clone();
                resp.answers.push(Record::from_rdata(
                    qname,
                    self.sinkhole.ttl(),
                    RData::CNAME(CNAME(target.clone())),
                ));
                self.resolve_redirect(query, target, dnssec_ok, &mut resp)
                    .await;
            }
        }
        Some((resp, None))
    }

    /// The records of a redirect `target` (its CNAME already in `resp`)
    /// for `query`'s type, resolved as a question of their own, appended
    /// to `resp`. A CNAME question ends at the CNAME.
    async fn resolve_redirect(
        &self,
        query: &Query,
        target: Name,
        dnssec_ok: bool,
        resp: &mut Message,
    ) {
        if query.query_type() == RecordType::CNAME {
            return;
        }
        let mut q = query.clone();
        q.set_name(target);
        let ckey = cache_key(&q, dnssec_ok);
        let mut sub = Message::response(0, OpCode::Query);
        sub.metadata.checking_disabled = resp.metadata.checking_disabled;
        // A rewritten answer is ours, never authenticated: no AD.
        let _ = self
            .resolve_into(&q, &ckey, dnssec_ok, false, &mut sub)
            .await;
        resp.metadata.response_code = sub.metadata.response_code;
        resp.answers.extend(sub.answers);
        resp.authorities = sub.authorities;
        if let (Some(e), Some(sub_e)) = (resp.edns.as_mut(), sub.edns) {
            e.options_mut()
                .options
                .extend(sub_e.options().options.clone());
        }
    }

    /// Stage 2a: per-question screening (EDNS version, class, qtype) and
    /// the query counter.
    fn screen<'m>(
        &self,
        request: &'m Message,
        transport: Transport,
        resp: &mut Message,
    ) -> Verdict<&'m Query> {
        let Some(query) = request.queries.first() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return Verdict::Respond;
        };
        let qtype = query.query_type();
        self.metrics
            .count_query(transport == Transport::Tcp, u16::from(qtype));
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            resp.metadata.response_code = ResponseCode::BADVERS;
            return Verdict::Respond;
        }
        if query.query_class() != DNSClass::IN {
            self.metrics.reject(Reject::Class);
            resp.metadata.response_code = ResponseCode::Refused;
            return Verdict::Respond;
        }
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR | RecordType::OPT) {
            self.metrics.reject(Reject::Qtype);
            resp.metadata.response_code = ResponseCode::Refused;
            return Verdict::Respond;
        }
        Verdict::Continue(query)
    }

    /// Stage 2b: policy. `Continue(None)` resolves normally,
    /// `Continue(Some(target))` resolves a CNAME rewrite.
    fn policy_stage(
        &self,
        query: &Query,
        key: &LookupKey,
        transport: Transport,
        resp: &mut Message,
        client: IpAddr,
    ) -> Verdict<Option<Name>> {
        let qname = query.name();
        let qtype = query.query_type();
        let policy = self.policy.load();
        let (verdict, group) = policy.decide_client(key, client);
        if let Some(b) = verdict.would_block {
            self.count_dry_run(&b, qtype);
        }
        let Decision::Blocked(b) = verdict.decision else {
            return Verdict::Continue(None);
        };
        let list = b.list;
        let cfg = &list.cfg;
        let zone_text = key.suffix_str(b.depth);
        let Some(effect) = effect_of(&b, &zone_text, transport) else {
            return Verdict::Continue(None);
        };
        let label = effect.label();
        self.metrics
            .blocked
            .with_label_values(&[list.name(), label, group.name])
            .inc();
        self.log_blocked_query(&policy, client, key, u16::from(qtype), &b, group.name);
        if self.log_blocked {
            if let Some(suppressed) = self.blocked_log_cap.admit(Instant::now()) {
                info!(
                    target: "dnsward::blocked",
                    list = list.name(),
                    line = b.hit.line,
                    order = cfg.order_id.as_deref().unwrap_or("-"),
                    action = label,
                    qtype = %qtype,
                    suppressed,
                    "blocked"
                );
            }
        }
        if matches!(effect, Effect::Drop) {
            return Verdict::Drop;
        }
        b.ede().attach(resp);
        let zone = dotted_name(&zone_text).unwrap_or_else(Name::root);
        let ttl = self.block_ttl(&b);
        match effect {
            Effect::Redirect(target) => Verdict::Continue(Some(target)),
            other => {
                self.sinkhole.apply(resp, qname, qtype, &other, zone, ttl);
                Verdict::Respond
            }
        }
    }

    /// Stages 3-4: the cache, then the recursor/forwarder; fills `resp`
    /// with the answer or a SERVFAIL carrying an EDE. Returns the cache
    /// entry whose sections `resp` now holds exactly (a hit, or the answer
    /// just resolved and stored), None otherwise.
    async fn resolve_into(
        &self,
        query: &Query,
        ckey: &CacheKey,
        dnssec_ok: bool,
        ad_wanted: bool,
        resp: &mut Message,
    ) -> Option<Arc<CachedAnswer>> {
        let now = Instant::now();
        if let Some(hit) = self.cache.get(ckey, now) {
            self.metrics.cache_hits.inc();
            hit.fill(resp, now);
            self.maybe_prefetch(&hit, now);
            apply_status(resp, hit.status, hit.ede.as_ref(), ad_wanted);
            return Some(hit);
        }
        self.metrics.cache_misses.inc();
        let mode = self.upstream.mode();
        let Ok(_slot) = self.resolve_slots.try_acquire() else {
            // Overloaded: fail fast rather than queue without bound.
            self.metrics.reject(Reject::ResolverBusy);
            if !self.serve_stale(ckey, resp) {
                resp.metadata.response_code = ResponseCode::ServFail;
                Ede::new(EDE_OTHER, "resolver overloaded").attach(resp);
            }
            return None;
        };
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
            Ok(answer) => {
                let msg = self.client_view(query, dnssec_ok, answer.msg);
                let stored = self.cache.insert_validated(
                    ckey,
                    query,
                    &msg,
                    answer.status,
                    answer.ede.clone(),
                    Instant::now(),
                );
                self.metrics.cache_entries.set(self.cache.len() as i64);
                resp.metadata.response_code = msg.metadata.response_code;
                resp.metadata.authentic_data = false;
                resp.answers.extend(msg.answers);
                resp.authorities = msg.authorities;
                resp.additionals = msg
                    .additionals
                    .into_iter()
                    .filter(|r| r.record_type() != RecordType::OPT)
                    .collect();
                apply_status(resp, answer.status, answer.ede.as_ref(), ad_wanted);
                // The entry holds no additional records: with any, `resp`
                // is not the entry's answer.
                stored.filter(|_| resp.additionals.is_empty())
            }
            Err(e) => {
                self.metrics
                    .upstream_errors
                    .with_label_values(&[mode, e.kind()])
                    .inc();
                debug!(qtype = %query.query_type(), "resolution failed: {e}");
                if self.serve_stale(ckey, resp) {
                    return None;
                }
                resp.metadata.response_code = ResponseCode::ServFail;
                Ede::new(e.ede_code(), &e.public_text()).attach(resp);
                None
            }
        }
    }

    /// RFC 8767: answer from an expired cache entry (TTL 30, EDE 3 Stale
    /// Answer) when resolution failed. True if it did.
    fn serve_stale(&self, ckey: &CacheKey, resp: &mut Message) -> bool {
        let Some(stale) = self.cache.get_stale(ckey, Instant::now()) else {
            return false;
        };
        self.metrics.stale_answers.inc();
        stale.fill_stale(resp, STALE_TTL);
        Ede::new(EDE_STALE, "served stale: resolution failed").attach(resp);
        true
    }
}

#[cfg(test)]
mod tests;
