//! Answer cache in front of the recursor/forwarder.
//!
//! Keyed by (lowercase name, qtype, qclass, DO bit); values are the answer
//! sections with the instant they were stored, and TTLs are decremented on
//! the way out so clients never see a TTL longer than what remains.
//! Positive answers live for their smallest record TTL, negative ones for
//! the SOA-derived negative TTL (RFC 2308), both clamped by `[cache]`.
//! SERVFAIL is never cached. Expired answers are kept for
//! `serve_stale_secs` more so that, when resolution fails, a stale answer
//! can be served (RFC 8767) instead of SERVFAIL. Lookups do not allocate:
//! the key is built in a stack buffer and borrowed as `[u8]`.
//!
//! A full cache (the normal state of an ISP resolver: `max_entries` is
//! reached within minutes and stale answers are kept for a day) evicts
//! with CLOCK, an approximation of least-recently-used: answers wait in
//! insertion order, a lookup marks its answer used, and eviction takes
//! the oldest answer not used since it was last passed over, giving the
//! used ones a second round. So the names subscribers keep asking for
//! stay cached while one-off names cycle through.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use dashmap::DashMap;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};

use super::{Ede, Status};
use crate::config::CacheConfig;
use crate::wire::template::{lower_query, WireTemplate};

/// Largest encoded key: 256-byte wire name (no root label) + root label +
/// type + class + DO.
const KEY_MAX: usize = 262;

/// A cache key built on the stack.
pub struct CacheKey {
    buf: [u8; KEY_MAX],
    len: usize,
}

impl CacheKey {
    /// Encode a lowercase name in wire form without its root label
    /// ([`crate::policy::matcher::LookupKey::wire_name`]: one encoding per
    /// name, where dotted text is ambiguous) and the question's other
    /// fields.
    pub fn new(lower_name: &[u8], qtype: u16, qclass: u16, dnssec_ok: bool) -> Self {
        let n = lower_name.len().min(KEY_MAX - 6);
        Self::with_name(
            |out| {
                out[..n].copy_from_slice(&lower_name[..n]);
                n
            },
            qtype,
            qclass,
            dnssec_ok,
        )
    }

    /// [`CacheKey::new`] with the name written straight into the key by
    /// `write_name` (given the first 256 bytes, it returns how many it
    /// wrote), so the per-query path builds the key without a scratch
    /// copy of the name.
    pub fn with_name(
        write_name: impl FnOnce(&mut [u8]) -> usize,
        qtype: u16,
        qclass: u16,
        dnssec_ok: bool,
    ) -> Self {
        let mut buf = [0u8; KEY_MAX];
        let n = write_name(&mut buf[..KEY_MAX - 6]).min(KEY_MAX - 6);
        buf[n] = 0;
        buf[n + 1..n + 3].copy_from_slice(&qtype.to_be_bytes());
        buf[n + 3..n + 5].copy_from_slice(&qclass.to_be_bytes());
        buf[n + 5] = u8::from(dnssec_ok);
        Self { buf, len: n + 6 }
    }

    /// A key from the bytes of another ([`CacheKey::as_bytes`],
    /// [`CachedAnswer::key_bytes`]); cut to the longest key.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let len = bytes.len().min(KEY_MAX);
        let mut buf = [0u8; KEY_MAX];
        buf[..len].copy_from_slice(&bytes[..len]);
        Self { buf, len }
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// One cached answer.
#[derive(Debug)]
pub struct CachedAnswer {
    /// NOERROR or NXDOMAIN.
    pub response_code: ResponseCode,
    /// Answer section. A boxed slice, not a `Vec`: collecting a filtered
    /// iterator gives a `Vec` room for four records (1,088 bytes), most of
    /// it unused by the typical one-record answer, and a cache holds
    /// hundreds of thousands of these.
    pub answers: Box<[Record]>,
    /// Authority section (the SOA of negative answers).
    pub authorities: Box<[Record]>,
    /// When it was stored.
    pub stored: Instant,
    /// Seconds it may be served.
    pub ttl: u32,
    /// Pre-encoded response for the UDP fast path.
    pub wire: Option<WireTemplate>,
    /// The answer holds a CNAME/DNAME chain ([`crate::wire::chain::may_chain`]):
    /// it may be served only once its chain is checked against the
    /// serving policy. False for the usual answer, which then needs no
    /// check at all.
    pub chained: bool,
    /// Generation of the policy ([`crate::policy::store::Published`]) the
    /// chain was last found clean under; `u64::MAX` until then. A list
    /// change raises the generation, so the next hit re-checks.
    chain_clean_at: AtomicU64,
    /// What DNSSEC validation found: AD on secure answers, SERVFAIL for
    /// bogus ones (their data kept for CD=1 clients).
    pub status: Status,
    /// The EDE of a bogus answer's SERVFAIL (or an insecure one's note).
    pub ede: Option<Ede>,
    /// Its key, shared with the map, so eviction can find the map entry.
    key: Arc<[u8]>,
    /// Looked up since eviction last passed over it (CLOCK's bit).
    used: AtomicBool,
    /// A background refresh was started for it ([`super::prefetch`]):
    /// one per answer, however many hits come in its last 10%.
    prefetching: AtomicBool,
}

impl CachedAnswer {
    /// Mark it used. A load first: the flag is written once per eviction
    /// round, not on every hit, so hits on a popular answer from several
    /// threads do not bounce its cache line between cores.
    fn touch(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }

    /// May it be served as is under policy `generation`: no chain, or a
    /// chain found clean under that very policy. One flag test for an
    /// answer without aliases (the fast path's common case).
    pub fn chain_cleared(&self, generation: u64) -> bool {
        !self.chained || self.chain_clean_at.load(Ordering::Relaxed) == generation
    }

    /// Record that every name of the chain passed policy `generation`.
    /// Racing writers store generations each found clean under its own
    /// check, so a stored value is never wrong, only perhaps stale (and
    /// a stale one only sends the next hit to the check again).
    pub fn mark_chain_clean(&self, generation: u64) {
        self.chain_clean_at.store(generation, Ordering::Relaxed);
    }

    /// Asked for at `now`, in the last tenth of its TTL, with no refresh
    /// started yet: true once, for the caller that starts it.
    pub fn claim_prefetch(&self, now: Instant) -> bool {
        self.remaining(now)
            .is_some_and(|left| super::prefetch::due(self.ttl, left))
            && !self.prefetching.swap(true, Ordering::Relaxed)
    }

    /// The refresh claimed could not start: a later hit may try again.
    pub fn release_prefetch(&self) {
        self.prefetching.store(false, Ordering::Relaxed);
    }

    /// Its cache key ([`CacheKey`] bytes).
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// Seconds since it was stored.
    pub fn age(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.stored).as_secs()).unwrap_or(u32::MAX)
    }

    /// Seconds left at `now`, or None if expired.
    pub fn remaining(&self, now: Instant) -> Option<u32> {
        let age = self.age(now);
        (age < self.ttl).then(|| self.ttl - age)
    }

    /// Still usable as a stale answer at `now` with this window?
    pub fn within_stale(&self, now: Instant, window: u32) -> bool {
        self.age(now) < self.ttl.saturating_add(window)
    }

    /// Copy the sections into `resp` with every TTL set to `ttl` (stale
    /// answers go out with TTL 30, RFC 8767 section 4).
    pub fn fill_stale(&self, resp: &mut Message, ttl: u32) {
        let with_ttl = |r: &Record| {
            let mut r = r.clone();
            r.ttl = ttl;
            r
        };
        resp.metadata.response_code = self.response_code;
        resp.answers.extend(self.answers.iter().map(with_ttl));
        resp.authorities
            .extend(self.authorities.iter().map(with_ttl));
    }

    /// Copy the sections into `resp`, TTLs reduced by the time spent in
    /// cache.
    pub fn fill(&self, resp: &mut Message, now: Instant) {
        let age =
            u32::try_from(now.saturating_duration_since(self.stored).as_secs()).unwrap_or(u32::MAX);
        let aged = |r: &Record| {
            let mut r = r.clone();
            r.ttl = r.ttl.saturating_sub(age);
            r
        };
        resp.metadata.response_code = self.response_code;
        resp.answers.extend(self.answers.iter().map(aged));
        resp.authorities.extend(self.authorities.iter().map(aged));
    }
}

/// Second rounds one eviction may grant before it takes the next answer
/// regardless: bounds the time an insert holds the eviction lock when
/// every answer is in use.
const MAX_SECOND_CHANCES: usize = 64;

/// The cache.
pub struct AnswerCache {
    map: DashMap<Arc<[u8]>, Arc<CachedAnswer>>,
    /// Seconds a bogus answer is kept (`dnssec.bogus_ttl_secs`): long
    /// enough that a broken zone is not re-fetched per query, short
    /// enough that a fixed one recovers soon.
    bogus_ttl: u32,
    /// Every stored answer in insertion order (CLOCK's hand at the
    /// front). Weak: an answer replaced or swept is freed at once and its
    /// slot skipped (and dropped by the next sweep).
    clock: Mutex<VecDeque<Weak<CachedAnswer>>>,
    cfg: CacheConfig,
}

impl AnswerCache {
    /// An empty cache with these limits.
    pub fn new(cfg: CacheConfig) -> Self {
        Self {
            map: DashMap::with_shard_amount(64),
            bogus_ttl: 60,
            clock: Mutex::new(VecDeque::new()),
            cfg,
        }
    }

    /// The same cache keeping bogus answers `secs` seconds.
    pub fn with_bogus_ttl(mut self, secs: u32) -> Self {
        self.bogus_ttl = secs.max(1);
        self
    }

    /// Remove every bogus answer (a negative trust anchor was added: the
    /// zone's answers must be validated again, not served as SERVFAIL
    /// for the rest of their bogus TTL).
    pub fn drop_bogus(&self) {
        self.map.retain(|_, v| v.status != Status::Bogus);
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A live entry for `key`. Expired entries stay (for serve-stale)
    /// until the sweeper removes them.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<CachedAnswer>> {
        self.found(key, |a| a.remaining(now).is_some())
    }

    /// An expired entry still inside the serve-stale window.
    pub fn get_stale(&self, key: &CacheKey, now: Instant) -> Option<Arc<CachedAnswer>> {
        if self.cfg.serve_stale_secs == 0 {
            return None;
        }
        self.found(key, |a| a.within_stale(now, self.cfg.serve_stale_secs))
    }

    /// The entry for `key` if `usable`, marked used for eviction: every
    /// lookup that serves an answer goes through here.
    fn found(
        &self,
        key: &CacheKey,
        usable: impl FnOnce(&CachedAnswer) -> bool,
    ) -> Option<Arc<CachedAnswer>> {
        if self.cfg.max_entries == 0 {
            return None;
        }
        let hit = self.map.get(key.as_bytes()).map(|e| e.value().clone())?;
        if !usable(&hit) {
            return None;
        }
        hit.touch();
        Some(hit)
    }

    /// How long `msg` may be cached, or None if it must not be.
    pub fn ttl_for(&self, msg: &Message) -> Option<u32> {
        let rcode = msg.metadata.response_code;
        let negative_soa = || {
            msg.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
        };
        let ttl = match rcode {
            ResponseCode::NoError if !msg.answers.is_empty() => {
                msg.answers.iter().map(|r| r.ttl).min()?
            }
            // Without an SOA a negative answer has no TTL of its own
            // (RFC 2308 says not to cache it); `min_ttl_secs`, when set,
            // still holds it that long, so a burst of questions for it
            // does not go upstream each time (Knot Resolver does so too).
            ResponseCode::NoError | ResponseCode::NXDomain => negative_soa()
                .unwrap_or(0)
                .min(self.cfg.negative_max_ttl_secs),
            _ => return None,
        };
        let ttl = ttl.clamp(self.cfg.min_ttl_secs, self.cfg.max_ttl_secs);
        (ttl > 0).then_some(ttl)
    }

    /// Store the answer part of an upstream response to `query`, with a
    /// wire template for the fast path. Returns the stored entry (None if
    /// nothing was stored), so the query that resolved it can be answered
    /// from its template too instead of encoding the answer a second time.
    pub fn insert(
        &self,
        key: &CacheKey,
        query: &Query,
        msg: &Message,
        now: Instant,
    ) -> Option<Arc<CachedAnswer>> {
        self.insert_validated(key, query, msg, Status::Unchecked, None, now)
    }

    /// [`AnswerCache::insert`] with the answer's DNSSEC status: a bogus
    /// answer is kept `dnssec.bogus_ttl_secs`, whatever its records say.
    pub fn insert_validated(
        &self,
        key: &CacheKey,
        query: &Query,
        msg: &Message,
        status: Status,
        ede: Option<Ede>,
        now: Instant,
    ) -> Option<Arc<CachedAnswer>> {
        if self.cfg.max_entries == 0 {
            return None;
        }
        let ttl = match status {
            Status::Bogus => self.bogus_ttl,
            _ => self.ttl_for(msg)?,
        };
        let held = self.map.len();
        if held >= self.cfg.max_entries {
            self.evict_one();
        }
        let keep = |r: &&Record| r.record_type() != RecordType::OPT;
        // A refresh reuses the key the map already holds (the map keeps
        // its own key on replace): one key buffer per name, not two.
        let key: Arc<[u8]> = self
            .map
            .get(key.as_bytes())
            .map_or_else(|| Arc::from(key.as_bytes()), |e| e.key().clone());
        let answers: Box<[Record]> = msg.answers.iter().filter(keep).cloned().collect();
        let entry = CachedAnswer {
            response_code: msg.metadata.response_code,
            chained: crate::wire::chain::may_chain(query.query_type(), &answers),
            chain_clean_at: AtomicU64::new(u64::MAX),
            answers,
            authorities: msg.authorities.iter().filter(keep).cloned().collect(),
            stored: now,
            ttl,
            wire: WireTemplate::build(&lower_query(query), msg),
            status,
            ede,
            key: key.clone(),
            used: AtomicBool::new(false),
            prefetching: AtomicBool::new(false),
        };
        let entry = Arc::new(entry);
        self.map.insert(key, entry.clone());
        let mut clock = self.clock_hand();
        clock.push_back(Arc::downgrade(&entry));
        // A refreshed answer leaves its old slot behind, holding the old
        // answer's allocation (its records are freed at once). Under
        // steady refreshes that would pile up until the next sweep, so
        // drop dead slots once they pass 1/32 of the live answers: a pass
        // over the queue (a reference count read per slot, ~0.2 ms for
        // 200,000) every n/32 refreshes or more.
        if clock.len() > held + held / 32 + 256 {
            drop_dead_slots(&mut clock);
        }
        drop(clock);
        Some(entry)
    }

    /// The eviction queue. A panic elsewhere while it was held leaves it
    /// consistent (every operation on it is a single push, pop or
    /// retain), so a poisoned lock is taken as is.
    fn clock_hand(&self) -> std::sync::MutexGuard<'_, VecDeque<Weak<CachedAnswer>>> {
        self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Make room for one entry (CLOCK): from the oldest, skip answers
    /// already gone (replaced or swept), send answers used since the last
    /// pass to the back with their mark cleared, and remove the first one
    /// not used. After [`MAX_SECOND_CHANCES`] second rounds the next
    /// answer goes, used or not.
    fn evict_one(&self) {
        let mut clock = self.clock_hand();
        let mut chances = 0;
        while let Some(weak) = clock.pop_front() {
            let Some(entry) = weak.upgrade() else {
                continue;
            };
            if entry.used.swap(false, Ordering::Relaxed) && chances < MAX_SECOND_CHANCES {
                chances += 1;
                clock.push_back(weak);
                continue;
            }
            // Only this very answer: the key may hold a newer one.
            if self
                .map
                .remove_if(&entry.key, |_, v| Arc::ptr_eq(v, &entry))
                .is_some()
            {
                return;
            }
        }
    }

    /// Slots in the eviction queue, live or not (tests).
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.clock_hand().len()
    }

    /// Drop every entry past its TTL and the serve-stale window (run
    /// periodically off the query path), and the eviction queue's slots
    /// of answers no longer held.
    pub fn sweep(&self, now: Instant) {
        let window = self.cfg.serve_stale_secs;
        self.map.retain(|_, v| v.within_stale(now, window));
        drop_dead_slots(&mut self.clock_hand());
    }
}

/// Keep only the eviction queue's slots of answers still held.
fn drop_dead_slots(clock: &mut VecDeque<Weak<CachedAnswer>>) {
    clock.retain(|w| w.strong_count() > 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::Name;
    use std::time::Duration;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn q() -> Query {
        Query::query(name("www.example."), RecordType::A)
    }

    fn answer(ttl: u32) -> Message {
        let mut m = Message::response(1, OpCode::Query);
        m.answers.push(Record::from_rdata(
            name("www.example."),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        m
    }

    #[test]
    fn ttls_count_down_and_entries_expire() {
        let c = AnswerCache::new(CacheConfig::default());
        let k = CacheKey::new(b"www.example", 1, 1, false);
        let t0 = Instant::now();
        c.insert(&k, &q(), &answer(60), t0);
        let hit = c.get(&k, t0 + Duration::from_secs(20)).expect("hit");
        let mut out = Message::response(1, OpCode::Query);
        hit.fill(&mut out, t0 + Duration::from_secs(20));
        assert_eq!(out.answers[0].ttl, 40);
        assert!(c.get(&k, t0 + Duration::from_secs(61)).is_none());
        // Kept for serve-stale until the window closes.
        assert!(c.get_stale(&k, t0 + Duration::from_secs(61)).is_some());
        let mut out = Message::response(1, OpCode::Query);
        c.get_stale(&k, t0 + Duration::from_secs(61))
            .expect("stale")
            .fill_stale(&mut out, 30);
        assert_eq!(out.answers[0].ttl, 30);
        c.sweep(t0 + Duration::from_secs(61));
        assert_eq!(c.len(), 1);
        let end = t0 + Duration::from_secs(60 + 86_400);
        assert!(c.get_stale(&k, end).is_none());
        c.sweep(end);
        assert!(c.is_empty());
    }

    #[test]
    fn negative_ttl_comes_from_soa_and_servfail_is_not_cached() {
        let c = AnswerCache::new(CacheConfig::default());
        let mut nx = Message::response(1, OpCode::Query);
        nx.metadata.response_code = ResponseCode::NXDomain;
        nx.authorities.push(Record::from_rdata(
            name("example."),
            900,
            RData::SOA(SOA::new(name("ns."), name("h."), 1, 1, 1, 1, 120)),
        ));
        assert_eq!(c.ttl_for(&nx), Some(120));
        let mut sf = Message::response(1, OpCode::Query);
        sf.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(c.ttl_for(&sf), None);
        let mut nodata_no_soa = Message::response(1, OpCode::Query);
        nodata_no_soa.metadata.response_code = ResponseCode::NoError;
        assert_eq!(c.ttl_for(&nodata_no_soa), None);
        // ... unless min_ttl_secs asks for a floor.
        let floored = AnswerCache::new(CacheConfig {
            min_ttl_secs: 5,
            ..CacheConfig::default()
        });
        assert_eq!(floored.ttl_for(&nodata_no_soa), Some(5));
    }

    #[test]
    fn capacity_is_bounded() {
        let c = holding(10);
        let t0 = Instant::now();
        for i in 0..100 {
            c.insert(&key(&format!("n{i}.example")), &q(), &answer(60), t0);
        }
        assert!(c.len() <= 10);
    }

    fn key(name: &str) -> CacheKey {
        CacheKey::new(name.as_bytes(), 1, 1, false)
    }

    fn holding(max_entries: usize) -> AnswerCache {
        AnswerCache::new(CacheConfig {
            max_entries,
            ..CacheConfig::default()
        })
    }

    #[test]
    fn a_full_cache_evicts_the_oldest_first() {
        let cap = 2_000;
        let c = holding(cap);
        let t0 = Instant::now();
        let n = 50_000;
        for i in 0..n {
            c.insert(&key(&format!("n{i}.example")), &q(), &answer(3600), t0);
        }
        assert!(c.len() <= cap);
        // Nothing was looked up: first in, first out, so the newest half
        // is all there. (The eviction this replaced drained the map's
        // first shard, then the next: 14 of these 1,000 survived.)
        let newest = (n - cap / 2..n)
            .filter(|i| c.get(&key(&format!("n{i}.example")), t0).is_some())
            .count();
        assert_eq!(newest, cap / 2);
    }

    #[test]
    fn a_full_cache_keeps_the_answers_asked_for() {
        let cap = 2_000;
        let c = holding(cap);
        let t0 = Instant::now();
        // 200 popular names asked for between one-off names, as a
        // resolver sees them: each miss on a popular name stores it.
        let (mut asked, mut hits) = (0, 0);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for i in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let hot = key(&format!("hot{}.example", x % 200));
            asked += 1;
            if c.get(&hot, t0).is_some() {
                hits += 1;
            } else {
                c.insert(&hot, &q(), &answer(3600), t0);
            }
            c.insert(&key(&format!("once{i}.example")), &q(), &answer(3600), t0);
        }
        assert!(c.len() <= cap);
        // 200 first misses of 50,000; the replaced eviction kept 0.2%.
        let rate = f64::from(hits) / f64::from(asked);
        assert!(rate > 0.99, "popular names hit {rate:.3} of the time");
    }

    #[test]
    fn replaced_and_swept_answers_leave_the_eviction_queue() {
        let c = AnswerCache::new(CacheConfig::default());
        let t0 = Instant::now();
        let k = key("www.example");
        for _ in 0..200 {
            c.insert(&k, &q(), &answer(60), t0);
        }
        assert_eq!(c.len(), 1);
        assert_eq!(c.queued(), 200);
        c.sweep(t0);
        assert_eq!(c.queued(), 1, "only the live answer's slot stays");
        // Between sweeps, refreshes do not pile up past the slack.
        for _ in 0..5_000 {
            c.insert(&k, &q(), &answer(60), t0);
        }
        assert!(c.queued() <= 1 + 256 + 1, "{} slots", c.queued());
        c.sweep(t0 + Duration::from_secs(60 + 86_400));
        assert!(c.is_empty());
        assert_eq!(c.queued(), 0);
    }
}
