//! Names blocked only through their CNAME/DNAME chain, remembered for the
//! block page.
//!
//! A subscriber's browser asks for `www.shop.example`; its own name is on
//! no list, but its CNAME leads to a listed name, so the resolver answers
//! the sinkhole address. The browser then asks the block page for
//! `Host: www.shop.example`, which the page's own policy check would call
//! not blocked (404). The resolver records such names here, with the
//! chain's blocked name, for about as long as the client may cache the
//! sinkhole answer; the page looks the host up and decides the recorded
//! target again under the policy serving now, so an entry never outlives
//! the rule that made it. Bounded: when full, expired entries go first,
//! then an arbitrary one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most.
pub const CHAIN_MEMO_CAPACITY: usize = 16_384;

/// Slack past the answer's TTL, for clients that keep answers a little
/// longer (browsers' own caches).
const GRACE: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Entry {
    target: String,
    until: Instant,
}

/// A bounded, expiring map: chain-blocked name -> the blocked name its
/// chain led to (both lowercase, no trailing dot).
#[derive(Debug)]
pub struct ChainMemo {
    map: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

impl Default for ChainMemo {
    fn default() -> Self {
        Self::new(CHAIN_MEMO_CAPACITY)
    }
}

impl ChainMemo {
    /// An empty memo holding at most `capacity` names.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Remember that `name` was blocked at `target` with an answer of
    /// `ttl` seconds, as of `now`.
    pub fn record(&self, name: &str, target: &str, ttl: u32, now: Instant) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        let until = now + Duration::from_secs(u64::from(ttl)) + GRACE;
        if let Some(e) = map.get_mut(name) {
            e.target.clear();
            e.target.push_str(target);
            e.until = until;
            return;
        }
        if map.len() >= self.capacity {
            map.retain(|_, e| e.until > now);
            if map.len() >= self.capacity {
                if let Some(k) = map.keys().next().cloned() {
                    map.remove(&k);
                }
            }
        }
        map.insert(
            name.to_string(),
            Entry {
                target: target.to_string(),
                until,
            },
        );
    }

    /// The blocked name `name`'s chain led to, if recorded and not expired.
    pub fn target(&self, name: &str, now: Instant) -> Option<String> {
        let map = self.map.lock().ok()?;
        map.get(name)
            .filter(|e| e.until > now)
            .map(|e| e.target.clone())
    }

    /// Names held now (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let m = ChainMemo::new(2);
        let t0 = Instant::now();
        m.record("www.shop.example", "tracker.bad.example", 60, t0);
        assert_eq!(
            m.target("www.shop.example", t0).as_deref(),
            Some("tracker.bad.example")
        );
        assert_eq!(
            m.target("www.shop.example", t0 + GRACE + Duration::from_secs(61)),
            None
        );
        m.record("a.example", "x.example", 60, t0);
        m.record("b.example", "x.example", 60, t0);
        assert_eq!(m.len(), 2);
        // Full of live entries: one makes room.
        let later = t0 + Duration::from_secs(1);
        m.record("c.example", "x.example", 60, later);
        assert_eq!(m.len(), 2);
        assert!(m.target("c.example", later).is_some());
    }
}
