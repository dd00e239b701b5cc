//! Prefetch (`cache.prefetch`): an answer asked for in the last tenth of
//! its TTL is resolved again in the background and replaces its cache
//! entry, so names in steady use never expire.

use super::*;

impl Handler {
    /// Start a background refresh of `hit` if it was asked for in the last
    /// tenth of its TTL ([`crate::resolve::prefetch`]).
    pub(super) fn maybe_prefetch(&self, hit: &Arc<CachedAnswer>, now: Instant) {
        let Some(spawner) = &self.prefetch else {
            return;
        };
        if !hit.claim_prefetch(now) {
            return;
        }
        let Some((query, dnssec_ok)) = prefetch::query_of_key(hit.key_bytes()) else {
            return;
        };
        let hit = hit.clone();
        spawner.spawn(move |h| async move { h.refresh(&query, dnssec_ok, &hit).await });
    }

    /// Resolve `query` again and replace `old`'s cache entry with the
    /// answer. A failure leaves `old` to expire (then serve-stale applies).
    async fn refresh(&self, query: &Query, dnssec_ok: bool, old: &CachedAnswer) {
        let Ok(_slot) = self.resolve_slots.try_acquire() else {
            // Client queries first: a later hit may try again.
            old.release_prefetch();
            self.metrics.cache_prefetches_dropped.inc();
            return;
        };
        self.metrics.cache_prefetches.inc();
        let key = CacheKey::from_bytes(old.key_bytes());
        match self
            .upstream
            .resolve(query, dnssec_ok, self.resolve_timeout)
            .await
        {
            Ok(answer) => {
                let msg = self.client_view(query, dnssec_ok, answer.msg);
                self.cache.insert_validated(
                    &key,
                    query,
                    &msg,
                    answer.status,
                    answer.ede,
                    Instant::now(),
                );
                self.metrics.cache_entries.set(self.cache.len() as i64);
            }
            Err(e) => {
                self.metrics
                    .upstream_errors
                    .with_label_values(&[self.upstream.mode(), e.kind()])
                    .inc();
                debug!(qtype = %query.query_type(), "prefetch failed: {e}");
            }
        }
    }
}
