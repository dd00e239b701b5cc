//! Which authoritative servers the iterator may ask, and in what order.
//!
//! [`AddressPolicy`]: a recursor that follows referrals to any address can
//! be aimed at the operator's own network (a zone whose NS points at
//! 10.0.0.1 makes the resolver send packets there), so private, loopback,
//! link-local and multicast addresses are refused unless explicitly
//! allowed.
//!
//! [`ServerStats`]: a smoothed round-trip time per server address, so the
//! fastest server of a zone is asked first, servers never measured are
//! tried in random order (spreading load and discovering them), and a
//! server that timed out drops behind the others until it answers again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Networks an authoritative server must not be in unless allowed: this
/// host, private and shared address space, link-local, multicast, reserved
/// and documentation-free special ranges (RFC 6890).
pub const DEFAULT_DENY: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Which server addresses may be queried.
#[derive(Debug, Clone)]
pub struct AddressPolicy {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// [`DEFAULT_DENY`] minus the `allow` networks.
    pub fn new(allow: Vec<IpNet>) -> Self {
        let deny = DEFAULT_DENY
            .iter()
            .filter_map(|s| s.parse::<IpNet>().ok())
            .collect();
        Self { deny, allow }
    }

    /// True if the iterator may send a query to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.denied_by(ip).is_none()
    }

    /// The default-deny network that refuses `ip`, if any: lets config
    /// validation tell an operator which network to allow.
    pub fn denied_by(&self, ip: IpAddr) -> Option<IpNet> {
        // An IPv4-mapped address reaches the IPv4 host: judge that one.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return None;
        }
        self.deny.iter().find(|n| n.contains(&ip)).copied()
    }
}

/// Score of a server never measured (or forgotten): behind every server
/// known to answer in under this, ahead of every penalised one.
const UNKNOWN_RTT_US: u32 = 200_000;
/// Smoothed RTT a timeout pushes a server to at least.
const TIMEOUT_PENALTY_US: u32 = 1_000_000;
/// Ceiling of the smoothed RTT.
const MAX_RTT_US: u32 = 5_000_000;
/// Measurements older than this are forgotten, so a penalised server gets
/// another chance and a changed network is re-measured.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Bounds of the per-attempt timeout derived from the smoothed RTT.
const MIN_TIMEOUT: Duration = Duration::from_millis(200);
const MAX_TIMEOUT: Duration = Duration::from_millis(1500);
/// Timeout for a server with no usable measurement.
const UNKNOWN_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Copy)]
struct Rtt {
    srtt_us: u32,
    updated: Instant,
}

/// Smoothed RTTs per server address, bounded in size.
pub struct ServerStats {
    map: Mutex<HashMap<IpAddr, Rtt>>,
    max: usize,
}

impl ServerStats {
    /// Remember at most `max` servers (the oldest half is dropped when
    /// full).
    pub fn new(max: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            max: max.max(2),
        }
    }

    fn current(&self, ip: IpAddr, now: Instant) -> Option<Rtt> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&ip)
            .copied()
            .filter(|r| now.saturating_duration_since(r.updated) < FORGET_AFTER)
    }

    /// Sort `addrs` best first: lowest smoothed RTT; unknown servers in
    /// random order among themselves.
    pub fn order<T>(&self, addrs: &mut [T], ip_of: impl Fn(&T) -> IpAddr, now: Instant) {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut keyed: Vec<(u64, usize)> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let known = map
                    .get(&ip_of(a))
                    .filter(|r| now.saturating_duration_since(r.updated) < FORGET_AFTER);
                (score(known.map(|r| r.srtt_us), rand::random::<u16>()), i)
            })
            .collect();
        drop(map);
        keyed.sort_unstable();
        let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        apply_permutation(addrs, &order);
    }

    /// Time to wait for `ip` before trying the next server.
    pub fn timeout_for(&self, ip: IpAddr, now: Instant) -> Duration {
        match self.current(ip, now) {
            Some(r) => timeout_from_srtt(r.srtt_us),
            None => UNKNOWN_TIMEOUT,
        }
    }

    /// `ip` answered after `rtt`.
    pub fn answered(&self, ip: IpAddr, rtt: Duration, now: Instant) {
        let sample = u32::try_from(rtt.as_micros()).unwrap_or(MAX_RTT_US);
        self.update(ip, now, |old| match old {
            Some(s) => smooth(s, sample),
            None => sample,
        });
    }

    /// `ip` did not answer in time, could not be reached, or answered
    /// uselessly (SERVFAIL, REFUSED, lame): other servers go first.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        self.update(ip, now, penalise);
    }

    fn update(&self, ip: IpAddr, now: Instant, f: impl FnOnce(Option<u32>) -> u32) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.max && !map.contains_key(&ip) {
            // Drop the stalest half; cheap enough at this rate (only when
            // full) and it never lets the map grow past `max`.
            let mut ages: Vec<Instant> = map.values().map(|r| r.updated).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            map.retain(|_, r| r.updated > cut);
        }
        let old = map
            .get(&ip)
            .filter(|r| now.saturating_duration_since(r.updated) < FORGET_AFTER)
            .map(|r| r.srtt_us);
        map.insert(
            ip,
            Rtt {
                srtt_us: f(old).min(MAX_RTT_US),
                updated: now,
            },
        );
    }

    /// Servers remembered.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sort key: known servers by RTT; unknown ones at [`UNKNOWN_RTT_US`]; the
/// random low bits break ties so equal servers share the load.
fn score(srtt_us: Option<u32>, tiebreak: u16) -> u64 {
    let base = u64::from(srtt_us.unwrap_or(UNKNOWN_RTT_US));
    (base << 16) | u64::from(tiebreak)
}

/// Exponentially weighted moving average, 7/8 old + 1/8 new (RFC 6298).
fn smooth(old: u32, sample: u32) -> u32 {
    ((u64::from(old) * 7 + u64::from(sample)) / 8) as u32
}

fn penalise(old: Option<u32>) -> u32 {
    old.map_or(TIMEOUT_PENALTY_US, |s| {
        s.saturating_mul(2).max(TIMEOUT_PENALTY_US)
    })
}

fn timeout_from_srtt(srtt_us: u32) -> Duration {
    if srtt_us >= TIMEOUT_PENALTY_US {
        // Penalised: it failed recently; a long wait would only delay the
        // fall-back to other servers or the SERVFAIL.
        return UNKNOWN_TIMEOUT;
    }
    (Duration::from_micros(u64::from(srtt_us)) * 4).clamp(MIN_TIMEOUT, MAX_TIMEOUT)
}

fn apply_permutation<T>(items: &mut [T], order: &[usize]) {
    // `order[k]` is the index of the item that belongs at position k.
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        if placed[start] {
            continue;
        }
        // Follow the cycle through `start`, swapping items into place.
        let mut k = start;
        loop {
            placed[k] = true;
            let from = order[k];
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// Shuffle in place (Fisher-Yates).
pub fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (rand::random::<u32>() as usize) % (i + 1);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        let p = AddressPolicy::new(Vec::new());
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!p.permits(ip(bad)), "{bad} must be refused");
        }
        for good in ["198.41.0.4", "2001:503:ba3e::2:30", "::ffff:198.41.0.4"] {
            assert!(p.permits(ip(good)), "{good} must be allowed");
        }
        let p = AddressPolicy::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert!(p.permits(ip("127.0.1.1")));
        assert!(!p.permits(ip("10.0.0.1")));
    }

    #[test]
    fn fastest_known_server_first_unknown_before_penalised() {
        let s = ServerStats::new(100);
        let now = Instant::now();
        let (fast, slow, dead, new) = (ip("1.1.1.1"), ip("2.2.2.2"), ip("3.3.3.3"), ip("4.4.4.4"));
        s.answered(fast, Duration::from_millis(5), now);
        s.answered(slow, Duration::from_millis(80), now);
        s.failed(dead, now);
        for _ in 0..20 {
            let mut v = vec![dead, new, slow, fast];
            s.order(&mut v, |a| *a, now);
            assert_eq!(v, vec![fast, slow, new, dead]);
        }
        // Forgotten after a while: the dead server gets another chance.
        let later = now + FORGET_AFTER + Duration::from_secs(1);
        assert_eq!(s.timeout_for(dead, later), UNKNOWN_TIMEOUT);
    }

    #[test]
    fn unknown_servers_are_tried_in_random_order() {
        let s = ServerStats::new(100);
        let now = Instant::now();
        let (a, b) = (ip("1.1.1.1"), ip("2.2.2.2"));
        let firsts: std::collections::HashSet<IpAddr> = (0..64)
            .map(|_| {
                let mut v = vec![a, b];
                s.order(&mut v, |x| *x, now);
                v[0]
            })
            .collect();
        assert_eq!(firsts.len(), 2, "both unknown servers get picked first");
    }

    #[test]
    fn rtt_is_smoothed_and_timeouts_follow_it() {
        assert_eq!(smooth(8000, 16000), 9000);
        assert_eq!(penalise(None), TIMEOUT_PENALTY_US);
        assert_eq!(penalise(Some(3_000_000)), 6_000_000);
        assert_eq!(timeout_from_srtt(100), MIN_TIMEOUT);
        assert_eq!(timeout_from_srtt(100_000), Duration::from_millis(400));
        assert_eq!(timeout_from_srtt(400_000), MAX_TIMEOUT);
        assert_eq!(timeout_from_srtt(TIMEOUT_PENALTY_US), UNKNOWN_TIMEOUT);
    }

    #[test]
    fn table_stays_bounded() {
        let s = ServerStats::new(10);
        let now = Instant::now();
        for i in 0..100u32 {
            s.answered(
                IpAddr::from(i.to_be_bytes()),
                Duration::from_millis(1),
                now + Duration::from_millis(u64::from(i)),
            );
            assert!(s.len() <= 10);
        }
    }

    #[test]
    fn permutation_is_applied() {
        let mut v = vec!['a', 'b', 'c', 'd'];
        apply_permutation(&mut v, &[2, 0, 3, 1]);
        assert_eq!(v, vec!['c', 'a', 'd', 'b']);
    }
}
