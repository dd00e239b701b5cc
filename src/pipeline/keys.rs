//! Cache keys from the lookup key the policy stage already built, so a
//! query's name is lowered and laid out in wire form once for both.

use super::*;

pub(super) fn cache_key(query: &Query, dnssec_ok: bool) -> CacheKey {
    cache_key_of(
        &LookupKey::from_labels(query.name().iter()),
        query,
        dnssec_ok,
    )
}

/// The cache key of `query` from the lookup key of its name (lowercase,
/// in wire form), when the policy stage has already built that.
pub(super) fn cache_key_of(key: &LookupKey, query: &Query, dnssec_ok: bool) -> CacheKey {
    wire_cache_key(
        key,
        u16::from(query.query_type()),
        u16::from(query.query_class()),
        dnssec_ok,
    )
}

/// The one place a lookup key becomes a cache key (its name in wire form,
/// written straight into the key), for the normal path and the fast path.
pub(super) fn wire_cache_key(
    key: &LookupKey,
    qtype: u16,
    qclass: u16,
    dnssec_ok: bool,
) -> CacheKey {
    CacheKey::with_name(|out| key.wire_name(out).len(), qtype, qclass, dnssec_ok)
}
