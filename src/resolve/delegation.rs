//! Zone cuts the iterator has learnt: zone -> name servers and their
//! addresses, with the TTL of the referral.
//!
//! Every resolution starts at the closest cached cut above the name (the
//! root hints at worst), so a warm resolver asks the leaf zone's servers
//! directly: one upstream query per cold name. Only NS names and addresses
//! live here; answers go to the answer cache (`resolve::cache`), whose
//! entries the pipeline owns.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;

use crate::wire::name::LowerName;

/// Most name servers kept per zone: a referral listing hundreds must not
/// make one query cost hundreds of attempts.
pub const MAX_SERVERS_PER_ZONE: usize = 13;
/// Most addresses kept per name server.
pub const MAX_ADDRS_PER_SERVER: usize = 8;
/// Bounds of a cut's lifetime: at least a few seconds so a zero TTL does not
/// force a referral per query; at most a day.
const MIN_CUT_TTL: Duration = Duration::from_secs(5);
const MAX_CUT_TTL: Duration = Duration::from_secs(86_400);

/// One name server of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    /// Its host name (the root hints have none: `.`).
    pub name: Name,
    /// Addresses known for it: in-bailiwick glue or the result of resolving
    /// `name`. Empty until resolved.
    pub addrs: Vec<IpAddr>,
}

/// The servers of one zone.
#[derive(Debug, Clone)]
pub struct Delegation {
    /// The zone (lower case, fully qualified).
    pub zone: Name,
    /// Its name servers, at most [`MAX_SERVERS_PER_ZONE`].
    pub servers: Vec<NameServer>,
    /// When the referral's TTL runs out.
    pub expires: Instant,
}

impl Delegation {
    /// A delegation valid for `ttl` from `now` (clamped to sane bounds).
    pub fn new(zone: &Name, mut servers: Vec<NameServer>, ttl: Duration, now: Instant) -> Self {
        servers.truncate(MAX_SERVERS_PER_ZONE);
        for s in &mut servers {
            s.addrs.truncate(MAX_ADDRS_PER_SERVER);
        }
        let mut zone = zone.to_lowercase();
        zone.set_fqdn(true);
        Self {
            zone,
            servers,
            expires: now + ttl.clamp(MIN_CUT_TTL, MAX_CUT_TTL),
        }
    }

    /// Every known address of every server.
    pub fn addresses(&self) -> impl std::iter::Iterator<Item = IpAddr> + '_ {
        self.servers.iter().flat_map(|s| s.addrs.iter().copied())
    }

    /// A copy with `addrs` recorded for the server named `ns`.
    pub fn with_addresses(&self, ns: &Name, addrs: &[IpAddr]) -> Self {
        let mut d = self.clone();
        for s in d.servers.iter_mut().filter(|s| s.name == *ns) {
            s.addrs = addrs.iter().copied().take(MAX_ADDRS_PER_SERVER).collect();
        }
        d
    }
}

/// The cut cache: bounded, shared by all resolutions. Keyed by the zone
/// in lowercase wire form ([`LowerName`]), so finding the closest cut is a
/// lookup per enclosing name, each a slice of one buffer.
pub struct CutCache {
    root: Arc<Delegation>,
    map: Mutex<HashMap<Box<[u8]>, Held>>,
    max: usize,
}

/// A cached cut and whether a resolution started from it since the last
/// eviction round (the second chance that keeps popular cuts, such as a
/// big TLD's, when the cache is full).
struct Held {
    cut: Arc<Delegation>,
    used: bool,
}

impl CutCache {
    /// `root` is the root hints' delegation (never expires, never evicted);
    /// at most `max` other cuts are kept.
    pub fn new(root: Delegation, max: usize) -> Self {
        Self {
            root: Arc::new(root),
            map: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    /// The deepest unexpired cut at or above `name` (the root if none).
    pub fn closest(&self, name: &Name, now: Instant) -> Arc<Delegation> {
        let key = LowerName::new(name);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.is_empty() {
            return self.root.clone();
        }
        for zone in key.suffixes() {
            if let Some(h) = map.get_mut(zone) {
                if h.cut.expires > now {
                    h.used = true;
                    return h.cut.clone();
                }
            }
        }
        self.root.clone()
    }

    /// Remember a cut (replacing an older one for the same zone).
    pub fn insert(&self, d: Delegation, now: Instant) -> Arc<Delegation> {
        let d = Arc::new(d);
        if d.zone.is_root() {
            // The root is the configured hints; a referral to it is bogus.
            return self.root.clone();
        }
        let key: Box<[u8]> = LowerName::new(&d.zone).as_bytes().into();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.max && !map.contains_key(&key) {
            map.retain(|_, h| h.cut.expires > now);
            if map.len() >= self.max {
                evict_unused(&mut map, (self.max / 8).max(1));
            }
        }
        map.insert(
            key,
            Held {
                cut: d.clone(),
                used: false,
            },
        );
        d
    }

    /// Cuts cached (the root not counted).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when only the root is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Make room in a cache full of live cuts: drop `n` cuts that no
/// resolution started from since the last round, and clear the marks of
/// the rest, so a cut stays as long as it is used between rounds. Dropping
/// in table order instead (as this did before) took the same region of the
/// table every round, whatever sat there: a big TLD's cut could go on
/// every round and cost a referral from the root each time. Only when
/// every cut was used since the last round does table order decide.
fn evict_unused(map: &mut HashMap<Box<[u8]>, Held>, n: usize) {
    let mut left = n;
    map.retain(|_, h| {
        if std::mem::take(&mut h.used) || left == 0 {
            return true;
        }
        left -= 1;
        false
    });
    if left > 0 {
        let victims: Vec<Box<[u8]>> = map.keys().take(left).cloned().collect();
        for v in victims {
            map.remove(&v);
        }
    }
}

/// First hold of a zone whose servers all failed; doubled on each further
/// failure up to [`MAX_HOLD`].
pub const FIRST_HOLD: Duration = Duration::from_secs(1);
/// Longest hold: a zone that comes back is asked again within this.
pub const MAX_HOLD: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Failure {
    until: Instant,
    hold: Duration,
}

/// Zones none of whose servers gave a usable answer, not asked again for a
/// while (RFC 9520: resolution failures are cached, with backoff). Without
/// this, every new question for a dead zone costs its full round of
/// timeouts and sends the dead servers more queries.
pub struct FailedZones {
    map: Mutex<HashMap<Name, Failure>>,
    /// Entries present, read without the lock on the hot path.
    count: std::sync::atomic::AtomicUsize,
    max: usize,
}

impl FailedZones {
    /// Remember at most `max` failed zones.
    pub fn new(max: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            count: std::sync::atomic::AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, Failure>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_empty(&self) -> bool {
        self.count.load(std::sync::atomic::Ordering::Relaxed) == 0
    }

    /// True while `zone` is held after a failure.
    pub fn is_held(&self, zone: &Name, now: Instant) -> bool {
        !self.is_empty() && self.lock().get(zone).is_some_and(|f| f.until > now)
    }

    /// Every server of `zone` failed at `now`.
    pub fn failed(&self, zone: &Name, now: Instant) {
        let mut map = self.lock();
        let hold = match map.get(zone) {
            // Failing again soon after the last hold: back off further.
            Some(f) if now.saturating_duration_since(f.until) < MAX_HOLD => {
                (f.hold * 2).min(MAX_HOLD)
            }
            _ => FIRST_HOLD,
        };
        if map.len() >= self.max && !map.contains_key(zone) {
            map.retain(|_, f| f.until > now);
            if map.len() >= self.max {
                return;
            }
        }
        map.insert(
            zone.clone(),
            Failure {
                until: now + hold,
                hold,
            },
        );
        self.count
            .store(map.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// A server of `zone` answered: forget its failures.
    pub fn succeeded(&self, zone: &Name) {
        if self.is_empty() {
            return;
        }
        let mut map = self.lock();
        if map.remove(zone).is_some() {
            self.count
                .store(map.len(), std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn cut(zone: &str, ttl: u64, now: Instant) -> Delegation {
        Delegation::new(
            &n(zone),
            vec![NameServer {
                name: n(&if zone == "." {
                    "ns.".to_string()
                } else {
                    format!("ns.{zone}")
                }),
                addrs: vec!["192.0.2.1".parse().expect("ip")],
            }],
            Duration::from_secs(ttl),
            now,
        )
    }

    #[test]
    fn closest_cut_is_the_deepest_live_one() {
        let now = Instant::now();
        let c = CutCache::new(cut(".", 3600, now), 100);
        assert!(c.closest(&n("www.example.zz."), now).zone.is_root());
        c.insert(cut("zz.", 3600, now), now);
        c.insert(cut("Example.ZZ.", 60, now), now);
        assert_eq!(
            c.closest(&n("a.b.WWW.example.zz."), now).zone,
            n("example.zz.")
        );
        assert_eq!(c.closest(&n("example.zz."), now).zone, n("example.zz."));
        assert_eq!(c.closest(&n("other.zz."), now).zone, n("zz."));
        // Expired: fall back to the parent.
        let later = now + Duration::from_secs(61);
        assert_eq!(c.closest(&n("www.example.zz."), later).zone, n("zz."));
    }

    #[test]
    fn ttl_is_clamped_and_size_bounded() {
        let now = Instant::now();
        let d = cut("zz.", 0, now);
        assert_eq!(d.expires, now + MIN_CUT_TTL);
        let c = CutCache::new(cut(".", 1, now), 16);
        for i in 0..100 {
            c.insert(cut(&format!("z{i}.zz."), 3600, now), now);
            assert!(c.len() <= 16);
        }
        // A referral to the root never replaces the hints.
        c.insert(cut(".", 3600, now), now);
        assert!(c.closest(&n("x.nothere."), now).servers[0].name == n("ns."));
    }

    #[test]
    fn cuts_in_use_survive_a_full_cache() {
        // 40 zones that resolutions keep starting from, in a cache of 64
        // that one-off cuts keep filling: every eighth insert is an
        // eviction round. Dropping in table order lost some of the 40
        // in nearly every run; the second chance keeps all of them.
        let now = Instant::now();
        let c = CutCache::new(cut(".", 3600, now), 64);
        let popular: Vec<String> = (0..40).map(|i| format!("p{i}.zz.")).collect();
        for z in &popular {
            c.insert(cut(z, 3600, now), now);
        }
        for i in 0..2_000 {
            c.insert(cut(&format!("once{i}.zz."), 3600, now), now);
            assert!(c.len() <= 64);
            for z in &popular {
                let d = c.closest(&n(&format!("www.{z}")), now);
                assert_eq!(d.zone, n(z), "{z} dropped after {i} one-off cuts");
            }
        }
        // With every cut in use, a round still makes room (table order).
        let c = CutCache::new(cut(".", 3600, now), 8);
        for i in 0..20 {
            c.insert(cut(&format!("z{i}.zz."), 3600, now), now);
            for j in 0..=i {
                c.closest(&n(&format!("www.z{j}.zz.")), now);
            }
            assert!(c.len() <= 8);
        }
    }

    #[test]
    fn addresses_are_recorded_per_server() {
        let now = Instant::now();
        let d = Delegation::new(
            &n("zz."),
            vec![
                NameServer {
                    name: n("a.ns.yy."),
                    addrs: vec![],
                },
                NameServer {
                    name: n("b.ns.yy."),
                    addrs: vec![],
                },
            ],
            Duration::from_secs(60),
            now,
        );
        assert_eq!(d.addresses().count(), 0);
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let d = d.with_addresses(&n("B.ns.yy."), &[ip]);
        assert_eq!(d.addresses().collect::<Vec<_>>(), vec![ip]);
    }

    #[test]
    fn failed_zones_are_held_with_backoff() {
        let f = FailedZones::new(4);
        let z = n("dead.zz.");
        let t0 = Instant::now();
        assert!(!f.is_held(&z, t0));
        f.failed(&z, t0);
        assert!(f.is_held(&n("DEAD.zz."), t0 + Duration::from_millis(999)));
        assert!(!f.is_held(&z, t0 + FIRST_HOLD));
        // Failing again right after: twice as long, up to the cap.
        let t1 = t0 + FIRST_HOLD;
        f.failed(&z, t1);
        assert!(f.is_held(&z, t1 + Duration::from_millis(1999)));
        assert!(!f.is_held(&z, t1 + 2 * FIRST_HOLD));
        let mut t = t1;
        for _ in 0..10 {
            t += MAX_HOLD;
            f.failed(&z, t);
        }
        assert!(!f.is_held(&z, t + MAX_HOLD));
        // An answer clears it; a failure long after starts over.
        f.succeeded(&z);
        assert!(!f.is_held(&z, t));
        f.failed(&z, t + Duration::from_secs(3600));
        assert!(!f.is_held(&z, t + Duration::from_secs(3600) + FIRST_HOLD));
        // Bounded.
        for i in 0..20 {
            f.failed(&n(&format!("z{i}.zz.")), t);
        }
        assert!(f.lock().len() <= 4);
    }
}
