//! Per-client-prefix rate limiting: one token bucket per IPv4 /24 or IPv6
//! /56 (configurable), in the spirit of BIND/Knot response-rate-limiting.
//!
//! Why per prefix and not per address: one subscriber (or one abuser) owns
//! a whole IPv6 /56 and can rotate addresses inside it at will, and
//! reflection attacks spray spoofed sources across a victim's range; the
//! prefix is the unit that matches a real customer.
//!
//! Over-limit UDP queries are mostly dropped, but every `slip`-th one is
//! answered with TC=1 and no records (a "slip"): a spoofed victim receives
//! only a small answer, while a real client that was caught by the limit
//! retries over TCP, where its address is proven. The limiter is meant for
//! UDP queries; like RRL, the query path should not apply it to TCP (the
//! handshake already proves the source, and TCP has its own connection
//! limit), or should map [`RateDecision::Slip`] to a drop there.
//!
//! Memory is bounded by `max_tracked` whatever the traffic: a flood from
//! random spoofed sources evicts idle buckets rather than growing the table.
//! The clock is passed in so tests can use a fake one.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::config::{Problem, RateLimitConfig};

/// Outcome of [`RateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateDecision {
    /// Within the limit: serve the query.
    Allow,
    /// Over the limit: send nothing.
    Drop,
    /// Over the limit: answer with TC=1 and empty sections, so a real
    /// client retries over TCP while a spoofed victim gets only a small
    /// packet.
    Slip,
}

impl RateDecision {
    /// Label value for metrics (`allow`, `drop`, `slip`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RateDecision::Allow => "allow",
            RateDecision::Drop => "drop",
            RateDecision::Slip => "slip",
        }
    }
}

/// One token, in nanotokens. A bucket refills `qps` nanotokens per
/// nanosecond, so refill is exact integer arithmetic: no float drift, and
/// tests can count queries exactly.
const TOKEN: u64 = 1_000_000_000;

/// Buckets looked at to find an eviction victim when the table is full.
const EVICTION_SAMPLE: usize = 8;

/// Evictions tried before a new prefix is served untracked (only under
/// heavy contention with a tiny `max_tracked`).
const RESERVE_ATTEMPTS: usize = 4;

/// A client prefix: the masked address. IPv4 and IPv6 never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PrefixKey {
    V4(u32),
    V6(u128),
}

#[derive(Debug)]
struct Bucket {
    /// Available tokens, in nanotokens (at most the burst).
    tokens: u64,
    /// When `tokens` was last brought up to date.
    last: Instant,
    /// Over-limit queries so far; decides which ones slip.
    over: u32,
}

/// Per-prefix token buckets with bounded memory; shared by all listeners.
///
/// Cost per [`check`](RateLimiter::check) for a prefix already tracked: one
/// SipHash of the prefix and one DashMap shard write lock held for a few
/// integer operations; no allocation. A new prefix takes a second lookup,
/// and, when the table is full, one eviction (a read-locked peek at up to
/// 8 buckets, then one removal). SipHash with a random key keeps attackers
/// who choose source addresses from aiming at one hash chain.
#[derive(Debug)]
pub struct RateLimiter {
    enabled: bool,
    qps: u64,
    /// Bucket size, in nanotokens.
    capacity: u64,
    v4_mask: u32,
    v6_mask: u128,
    slip: u32,
    max_tracked: usize,
    buckets: DashMap<PrefixKey, Bucket>,
    /// Slots taken in `buckets`, counted apart from the map so the bound
    /// holds under concurrent inserts: a slot is reserved before an insert
    /// and released after a removal, so `buckets.len() <= tracked <=
    /// max_tracked` at every instant.
    tracked: AtomicUsize,
}

impl RateLimiter {
    /// Build a limiter; fails with the same problems as
    /// [`RateLimitConfig::validate`].
    pub fn new(config: &RateLimitConfig) -> Result<RateLimiter, Vec<Problem>> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(RateLimiter {
            enabled: config.enabled,
            qps: u64::from(config.qps),
            capacity: u64::from(config.burst) * TOKEN,
            v4_mask: u32::MAX
                .checked_shl(32 - u32::from(config.ipv4_prefix))
                .unwrap_or(0),
            v6_mask: u128::MAX
                .checked_shl(128 - u32::from(config.ipv6_prefix))
                .unwrap_or(0),
            slip: config.slip,
            max_tracked: config.max_tracked,
            buckets: DashMap::new(),
            tracked: AtomicUsize::new(0),
        })
    }

    /// Charge one query from `ip` at time `now` and say what to do with
    /// it. IPv4-mapped IPv6 sources count against their IPv4 prefix. A
    /// `now` earlier than the bucket's last update (threads racing with
    /// slightly older clock readings) refills nothing.
    pub fn check(&self, ip: IpAddr, now: Instant) -> RateDecision {
        if !self.enabled {
            return RateDecision::Allow;
        }
        let key = self.key(ip);
        if let Some(mut bucket) = self.buckets.get_mut(&key) {
            return self.take(&mut bucket, now);
        }
        self.check_new(key, now)
    }

    /// Prefixes currently tracked (including ones being inserted right
    /// now); never more than `max_tracked`. For a metrics gauge.
    pub fn tracked(&self) -> usize {
        self.tracked.load(Ordering::Relaxed)
    }

    fn key(&self, ip: IpAddr) -> PrefixKey {
        match ip.to_canonical() {
            IpAddr::V4(a) => PrefixKey::V4(u32::from(a) & self.v4_mask),
            IpAddr::V6(a) => PrefixKey::V6(u128::from(a) & self.v6_mask),
        }
    }

    /// First query from a prefix not in the table (or evicted from it).
    fn check_new(&self, key: PrefixKey, now: Instant) -> RateDecision {
        // Make room before taking the shard lock: eviction locks shards
        // itself, and DashMap locks are not reentrant.
        let reserved = self.reserve(now);
        match self.buckets.entry(key) {
            Entry::Occupied(mut e) => {
                // Another thread inserted it meanwhile.
                if reserved {
                    self.tracked.fetch_sub(1, Ordering::Relaxed);
                }
                self.take(e.get_mut(), now)
            }
            Entry::Vacant(e) => {
                let mut bucket = Bucket {
                    tokens: self.capacity,
                    last: now,
                    over: 0,
                };
                let decision = self.take(&mut bucket, now);
                if reserved {
                    e.insert(bucket);
                }
                // Unreserved: served untracked, which is what a tracked
                // fresh (full) bucket would have decided anyway.
                decision
            }
        }
    }

    /// Take a slot in the table, evicting to make one if it is full.
    fn reserve(&self, now: Instant) -> bool {
        for _ in 0..RESERVE_ATTEMPTS {
            // Relaxed: the counter only bounds how many entries exist; the
            // entries themselves are ordered by the map's locks.
            let taken = self
                .tracked
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n < self.max_tracked).then_some(n + 1)
                });
            if taken.is_ok() {
                return true;
            }
            self.evict_one(now);
        }
        false
    }

    /// Remove one bucket: the first idle one (full again, so forgetting it
    /// changes nothing) among a small sample, else the fullest sampled,
    /// which gives the fewest free queries back to a prefix that is being
    /// limited.
    fn evict_one(&self, now: Instant) {
        let mut victim: Option<(PrefixKey, u64)> = None;
        for entry in self.buckets.iter().take(EVICTION_SAMPLE) {
            let fill = self.refilled(entry.value(), now);
            if victim.is_none_or(|(_, best)| fill > best) {
                victim = Some((*entry.key(), fill));
            }
            if fill >= self.capacity {
                break;
            }
        }
        // The iterator's shard read lock is released here; removing while
        // it was held would deadlock on that shard.
        if let Some((key, _)) = victim {
            if self.buckets.remove(&key).is_some() {
                self.tracked.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Tokens `bucket` holds at `now`, in nanotokens, without changing it.
    fn refilled(&self, bucket: &Bucket, now: Instant) -> u64 {
        let Some(elapsed) = now.checked_duration_since(bucket.last) else {
            return bucket.tokens;
        };
        let added = elapsed.as_nanos().saturating_mul(u128::from(self.qps));
        let total = u128::from(bucket.tokens).saturating_add(added);
        u64::try_from(total.min(u128::from(self.capacity))).unwrap_or(self.capacity)
    }

    fn take(&self, bucket: &mut Bucket, now: Instant) -> RateDecision {
        bucket.tokens = self.refilled(bucket, now);
        if now > bucket.last {
            bucket.last = now;
        }
        if bucket.tokens >= TOKEN {
            bucket.tokens -= TOKEN;
            return RateDecision::Allow;
        }
        // Counting per bucket (never reset) keeps the slip ratio exact
        // even for a client that hovers around the limit.
        let n = bucket.over;
        bucket.over = n.wrapping_add(1);
        match self.slip {
            0 => RateDecision::Drop,
            s if n.is_multiple_of(s) => RateDecision::Slip,
            _ => RateDecision::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(f: impl FnOnce(&mut RateLimitConfig)) -> RateLimiter {
        let mut c = RateLimitConfig::default();
        f(&mut c);
        RateLimiter::new(&c).expect("valid config")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    /// Queries from `ip` at `now` until the first non-Allow; returns how
    /// many were allowed (bounded, so a broken limiter fails, not hangs).
    fn allowed_run(l: &RateLimiter, ip: IpAddr, now: Instant) -> usize {
        (0..100_000)
            .take_while(|_| l.check(ip, now) == RateDecision::Allow)
            .count()
    }

    /// Deterministic pseudo-random numbers (splitmix64) for source addresses.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn random_ip(state: &mut u64) -> IpAddr {
        let r = splitmix(state);
        if r & 1 == 0 {
            IpAddr::from(std::net::Ipv4Addr::from((r >> 32) as u32))
        } else {
            IpAddr::from(std::net::Ipv6Addr::from(
                (u128::from(r) << 64) | u128::from(splitmix(state)),
            ))
        }
    }

    #[test]
    fn burst_passes_then_queries_are_limited() {
        let l = limiter(|_| {});
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for i in 0..400 {
            assert_eq!(l.check(a, t0), RateDecision::Allow, "query {i}");
        }
        assert_ne!(l.check(a, t0), RateDecision::Allow);
        assert_ne!(l.check(a, t0), RateDecision::Allow);
    }

    #[test]
    fn tokens_refill_at_qps_up_to_burst() {
        let l = limiter(|_| {});
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert_eq!(allowed_run(&l, a, t0), 400);
        assert_eq!(allowed_run(&l, a, t0 + Duration::from_secs(1)), 200);
        // One token every 5 ms at 200 qps.
        assert_eq!(allowed_run(&l, a, t0 + Duration::from_millis(1004)), 0);
        assert_eq!(allowed_run(&l, a, t0 + Duration::from_millis(1005)), 1);
        assert_eq!(allowed_run(&l, a, t0 + Duration::from_millis(1500)), 99);
        // A long pause refills to the burst, no more.
        assert_eq!(allowed_run(&l, a, t0 + Duration::from_secs(3600)), 400);
    }

    #[test]
    fn partial_tokens_accumulate_exactly() {
        // burst 2 so the cap never clips the remainder in this test.
        let l = limiter(|c| {
            c.qps = 3;
            c.burst = 2;
        });
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert_eq!(allowed_run(&l, a, t0), 2);
        // 1/3 s is not a whole number of ns; the remainder carries over,
        // so 3 s at 3 qps is exactly 9 queries, the 9th at 3000 ms.
        let mut allowed = Vec::new();
        for ms in 1..=3000 {
            if l.check(a, t0 + Duration::from_millis(ms)) == RateDecision::Allow {
                allowed.push(ms);
            }
        }
        assert_eq!(
            allowed,
            [334, 667, 1000, 1334, 1667, 2000, 2334, 2667, 3000]
        );
    }

    #[test]
    fn clock_going_backwards_refills_nothing() {
        let l = limiter(|c| c.burst = 2);
        let t0 = Instant::now() + Duration::from_secs(10);
        let a = ip("192.0.2.1");
        assert_eq!(allowed_run(&l, a, t0), 2);
        assert_eq!(allowed_run(&l, a, t0 - Duration::from_secs(5)), 0);
        assert_eq!(allowed_run(&l, a, t0 + Duration::from_millis(5)), 1);
    }

    #[test]
    fn ipv4_prefix_shares_a_bucket() {
        let l = limiter(|c| c.burst = 10);
        let t0 = Instant::now();
        assert_eq!(allowed_run(&l, ip("198.51.100.1"), t0), 10);
        // Same /24, also as an IPv4-mapped source: already exhausted.
        assert_eq!(allowed_run(&l, ip("198.51.100.254"), t0), 0);
        assert_eq!(allowed_run(&l, ip("::ffff:198.51.100.77"), t0), 0);
        // Neighbouring /24s have their own buckets.
        assert_eq!(allowed_run(&l, ip("198.51.101.1"), t0), 10);
        assert_eq!(allowed_run(&l, ip("198.51.99.255"), t0), 10);
        assert_eq!(l.tracked(), 3);
    }

    #[test]
    fn ipv6_prefix_shares_a_bucket() {
        let l = limiter(|c| c.burst = 10);
        let t0 = Instant::now();
        assert_eq!(allowed_run(&l, ip("2001:db8:0:1::1"), t0), 10);
        // 2001:db8:0:0000::/56 covers 2001:db8:0:0..=ff::.
        assert_eq!(allowed_run(&l, ip("2001:db8:0:ff:1:2:3:4"), t0), 0);
        assert_eq!(allowed_run(&l, ip("2001:db8::"), t0), 0);
        assert_eq!(allowed_run(&l, ip("2001:db8:0:100::1"), t0), 10);
        assert_eq!(allowed_run(&l, ip("2001:db8:1::1"), t0), 10);
    }

    #[test]
    fn prefix_lengths_at_their_bounds() {
        let t0 = Instant::now();
        let everyone = limiter(|c| {
            c.burst = 1;
            c.ipv4_prefix = 0;
            c.ipv6_prefix = 0;
        });
        assert_eq!(allowed_run(&everyone, ip("192.0.2.1"), t0), 1);
        assert_eq!(allowed_run(&everyone, ip("203.0.113.1"), t0), 0);
        assert_eq!(allowed_run(&everyone, ip("2001:db8::1"), t0), 1);
        assert_eq!(allowed_run(&everyone, ip("2a00::1"), t0), 0);

        let hosts = limiter(|c| {
            c.burst = 1;
            c.ipv4_prefix = 32;
            c.ipv6_prefix = 128;
        });
        assert_eq!(allowed_run(&hosts, ip("192.0.2.1"), t0), 1);
        assert_eq!(allowed_run(&hosts, ip("192.0.2.2"), t0), 1);
        assert_eq!(allowed_run(&hosts, ip("2001:db8::1"), t0), 1);
        assert_eq!(allowed_run(&hosts, ip("2001:db8::2"), t0), 1);
    }

    #[test]
    fn slip_ratio() {
        let over_limit = |slip: u32| -> Vec<RateDecision> {
            let l = limiter(|c| {
                c.burst = 3;
                c.slip = slip;
            });
            let t0 = Instant::now();
            let a = ip("192.0.2.1");
            assert_eq!(allowed_run(&l, a, t0), 3);
            // allowed_run consumed the first over-limit decision.
            (0..6).map(|_| l.check(a, t0)).collect()
        };
        use RateDecision::{Drop as D, Slip as S};
        assert_eq!(over_limit(2), [D, S, D, S, D, S]);
        assert_eq!(over_limit(0), [D, D, D, D, D, D]);
        assert_eq!(over_limit(1), [S, S, S, S, S, S]);
        assert_eq!(over_limit(3), [D, D, S, D, D, S]);
    }

    #[test]
    fn slip_two_starts_with_slip() {
        let l = limiter(|c| c.burst = 1);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert_eq!(l.check(a, t0), RateDecision::Allow);
        let seq: Vec<_> = (0..4).map(|_| l.check(a, t0)).collect();
        use RateDecision::{Drop as D, Slip as S};
        assert_eq!(seq, [S, D, S, D]);
    }

    #[test]
    fn random_sources_never_grow_past_max_tracked() {
        let max = 1000;
        let l = limiter(|c| c.max_tracked = max);
        let t0 = Instant::now();
        let mut seed = 1;
        for i in 0..1_000_000u64 {
            // Half the run with a frozen clock (no bucket is ever idle, so
            // eviction falls back to the fullest), half with time moving.
            let now = if i < 500_000 {
                t0
            } else {
                t0 + Duration::from_micros(i)
            };
            assert_eq!(l.check(random_ip(&mut seed), now), RateDecision::Allow);
            assert!(l.tracked() <= max, "tracked {} at query {i}", l.tracked());
        }
        assert_eq!(l.tracked(), max);
        assert_eq!(l.buckets.len(), max);
    }

    #[test]
    fn concurrent_random_sources_never_grow_past_max_tracked() {
        let max = 100;
        let l = limiter(|c| c.max_tracked = max);
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for thread in 0..2u64 {
                let l = &l;
                s.spawn(move || {
                    let mut seed = thread;
                    for i in 0..100_000u64 {
                        l.check(random_ip(&mut seed), t0 + Duration::from_micros(i));
                        // (`buckets.len()` sums shards one by one, so it is
                        // only exact once the threads are done.)
                        assert!(l.tracked() <= max);
                    }
                });
            }
        });
        assert!(l.tracked() <= max);
        assert_eq!(l.buckets.len(), l.tracked());
    }

    #[test]
    fn a_flood_does_not_evict_a_limited_client() {
        // 1000 qps from one prefix against a 200 qps limit, under a flood of
        // one-off spoofed sources that keeps the table full. The table is
        // small enough that every bucket is in the eviction sample, so
        // evicting blindly would hand the abuser a fresh burst.
        for (max_tracked, flood_every_ms) in [(4, 1), (4, 20)] {
            // Every 1 ms: no flood bucket is idle yet (5 ms per token), so
            // the fullest goes. Every 20 ms: flood buckets are idle.
            let l = limiter(|c| c.max_tracked = max_tracked);
            let t0 = Instant::now();
            let abuser = ip("203.0.113.9");
            let mut seed = 7;
            let mut allowed = 0;
            for ms in 0..10_000 {
                let now = t0 + Duration::from_millis(ms);
                if ms % flood_every_ms == 0 {
                    l.check(random_ip(&mut seed), now);
                }
                if l.check(abuser, now) == RateDecision::Allow {
                    allowed += 1;
                }
            }
            // Burst plus 10 s at 200 qps; an eviction would give 400 more.
            assert!(
                (2000..=2401).contains(&allowed),
                "allowed {allowed} (max_tracked {max_tracked}, flood every {flood_every_ms} ms)"
            );
        }
    }

    #[test]
    fn disabled_limiter_always_allows() {
        let l = limiter(|c| {
            c.enabled = false;
            c.burst = 1;
        });
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(l.check(ip("192.0.2.1"), t0), RateDecision::Allow);
        }
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn bad_values_are_reported_with_their_key() {
        let c = RateLimitConfig {
            enabled: false,
            qps: 0,
            burst: 0,
            ipv4_prefix: 33,
            ipv6_prefix: 129,
            max_tracked: 0,
            slip: 0,
            exempt: Vec::new(),
        };
        let problems = c.validate();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ratelimit.qps",
                "ratelimit.burst",
                "ratelimit.ipv4_prefix",
                "ratelimit.ipv6_prefix",
                "ratelimit.max_tracked"
            ]
        );
        assert_eq!(RateLimiter::new(&c).err(), Some(problems));
        assert!(RateLimitConfig::default().validate().is_empty());
    }

    #[test]
    fn toml_table_parses_and_rejects_unknown_keys() {
        let c: RateLimitConfig = toml::from_str("qps = 50\nipv6_prefix = 64").expect("toml");
        assert_eq!((c.qps, c.ipv6_prefix, c.burst, c.slip), (50, 64, 400, 2));
        assert!(toml::from_str::<RateLimitConfig>("rate = 5").is_err());
    }

    #[test]
    fn decisions_have_metric_labels() {
        assert_eq!(RateDecision::Allow.as_str(), "allow");
        assert_eq!(RateDecision::Drop.as_str(), "drop");
        assert_eq!(RateDecision::Slip.as_str(), "slip");
    }
}
