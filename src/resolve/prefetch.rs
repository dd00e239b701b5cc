//! Prefetch (`cache.prefetch`, Unbound `prefetch: yes`, PowerDNS
//! refresh-almost-expired): an answer asked for in the last 10% of its TTL
//! is served from the cache as usual and resolved again in the background,
//! so a name in steady use is replaced before it expires and its askers
//! never wait for a cold resolution. Names nobody asks for near their
//! expiry are not refreshed: the cost follows use.
//!
//! Bounds: one refresh per cached answer ([`super::cache::CachedAnswer::claim_prefetch`]);
//! each holds one of the `resolver.max_inflight` resolution slots, and a
//! refresh that finds none free is not started (counted) so prefetching
//! never takes slots from client queries waiting on a cold answer.

use std::future::Future;
use std::sync::{Arc, Weak};

use hickory_proto::op::Query;
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// Refresh once this fraction (1/n) of the TTL is left.
pub const DIVISOR: u32 = 10;

/// True if an answer stored for `ttl` seconds with `left` seconds to go is
/// in its last tenth (never for a TTL under 10 s: its last tenth is under a
/// second, shorter than the refresh).
pub fn due(ttl: u32, left: u32) -> bool {
    left > 0 && u64::from(left) * u64::from(DIVISOR) <= u64::from(ttl)
}

/// The question and DO bit a cache key ([`super::cache::CacheKey`]) was
/// built from: the lowercase wire name without its root label, a zero
/// byte, type, class and DO.
pub fn query_of_key(key: &[u8]) -> Option<(Query, bool)> {
    let (name_part, rest) = key.split_at(key.len().checked_sub(6)?);
    let [0, t0, t1, c0, c1, dnssec_ok] = *rest else {
        return None;
    };
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while i < name_part.len() {
        let n = usize::from(name_part[i]);
        labels.push(name_part.get(i + 1..i + 1 + n)?);
        i += 1 + n;
    }
    let mut name = Name::from_labels(labels).ok()?;
    name.set_fqdn(true);
    let mut q = Query::query(name, RecordType::from(u16::from_be_bytes([t0, t1])));
    q.set_query_class(DNSClass::from(u16::from_be_bytes([c0, c1])));
    Some((q, dnssec_ok != 0))
}

/// Starts background refreshes on the runtime with a handle to their
/// owner (the query handler, which owns the cache and the resolver).
/// Weak: the owner holds this, so a strong handle would keep it alive.
pub struct Spawner<T> {
    owner: Weak<T>,
    runtime: tokio::runtime::Handle,
}

impl<T: Send + Sync + 'static> Spawner<T> {
    /// Spawn on `runtime` with `owner` (from `Arc::new_cyclic`).
    pub fn new(owner: Weak<T>, runtime: tokio::runtime::Handle) -> Self {
        Self { owner, runtime }
    }

    /// Run `task(owner)` in the background, unless the owner is gone
    /// (shutting down).
    pub fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(Arc<T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if let Some(owner) = self.owner.upgrade() {
            self.runtime.spawn(task(owner));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::cache::CacheKey;

    #[test]
    fn last_tenth_of_the_ttl() {
        assert!(!due(300, 31));
        assert!(due(300, 30));
        assert!(due(300, 1));
        assert!(!due(300, 0), "expired: a miss, not a prefetch");
        assert!(!due(9, 1), "too short to be worth it");
        assert!(due(10, 1));
        assert!(due(u32::MAX, 1));
    }

    #[test]
    fn the_question_comes_back_from_its_key() {
        let key = CacheKey::new(b"\x03www\x07example\x02zz", 28, 1, true);
        let (q, dnssec_ok) = query_of_key(key.as_bytes()).expect("decodes");
        assert_eq!(
            q.name(),
            &Name::from_ascii("www.example.zz.").expect("name")
        );
        assert_eq!(q.query_type(), RecordType::AAAA);
        assert_eq!(q.query_class(), DNSClass::IN);
        assert!(dnssec_ok);
        let root = CacheKey::new(b"", 2, 1, false);
        let (q, _) = query_of_key(root.as_bytes()).expect("root");
        assert!(q.name().is_root());
        // Garbage does not panic.
        assert!(query_of_key(b"\x09ab\x00\x00\x01\x00\x01\x00").is_none());
        assert!(query_of_key(b"").is_none());
    }
}
