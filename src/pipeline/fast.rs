//! The UDP fast path, run from the receive loop: a plain query (see
//! [`crate::wire::quick`]) whose answer is cached, or whose name a list
//! blocks with a simple answer, is answered from pre-encoded bytes
//! without decoding, a task spawn or an encoder; anything else returns
//! `None` and takes the normal path in [`super`].

use super::*;

impl Handler {
    /// Bring the table slots, then the records, that the policy's
    /// decisions on a batch's keys will read into cache
    /// ([`crate::policy::Policy::touch`], then `touch_next`), before any of
    /// its queries is answered, so the batch's cache misses on a large list
    /// overlap. `keys` hold the names of the batch's plain queries (the
    /// listener filled them from each packet's one quick parse). One
    /// policy load for the batch; decides nothing.
    pub fn prepare_keys<'k>(&self, keys: impl Iterator<Item = &'k LookupKey> + Clone) {
        let policy = self.policy.load();
        for key in keys.clone() {
            policy.touch(key);
        }
        for key in keys {
            policy.touch_next(key);
        }
    }

    /// The fast path for an admitted UDP query whose answer is cached (see
    /// [`crate::wire::template`]) or simply blocked. None: take the normal
    /// path. `q` is the packet's quick parse and `key` its name, both made
    /// once by the listener; `packet` is kept only for dnstap.
    pub fn try_fast(
        &self,
        packet: &[u8],
        q: &QuickQuery<'_>,
        key: &LookupKey,
        src: SocketAddr,
    ) -> Option<Vec<u8>> {
        let client = src.ip();
        if q.qclass != 1 || matches!(q.qtype, 41 | 251 | 252 | 255) {
            return None;
        }
        let limit = q
            .edns
            .map_or(512, |(p, _)| p.clamp(512, self.max_udp_payload));
        let (generation, group) = {
            let policy = self.policy.load();
            let (v, group) = policy.decide_client(key, client);
            if v.would_block.is_some() {
                return None;
            }
            if let Decision::Blocked(b) = v.decision {
                let out = self.fast_block(q, key, &b, group.name, usize::from(limit))?;
                self.log_blocked_query(&policy, client, key, q.qtype, &b, group.name);
                self.tap(src, Transport::Udp, packet, Some(&out), true);
                return Some(out);
            }
            // The group's name outlives the policy guard only for the log.
            (
                policy.generation,
                self.querylog.as_ref().map(|_| group.name.clone()),
            )
        };
        let dnssec_ok = q.edns.is_some_and(|(_, d)| d);
        let ckey = wire_cache_key(key, q.qtype, q.qclass, dnssec_ok);
        let now = Instant::now();
        let hit = self.cache.get(&ckey, now)?;
        // A chain not yet checked under this policy (new answer, or a list
        // changed since) takes the normal path, which checks it. A chain is
        // marked only when no rule of any list matched it, so the mark holds
        // for every policy group.
        if !hit.chain_cleared(generation) {
            return None;
        }
        // Bogus answers (SERVFAIL, or data for CD=1) and answers with an
        // EDE take the normal path; secure ones get AD here as there.
        if hit.status == Status::Bogus || hit.ede.is_some() {
            return None;
        }
        let ad = hit.status == Status::Secure && (dnssec_ok || q.ad) && !q.cd;
        let template = hit.wire.as_ref()?;
        let out = template.render(
            q,
            hit.age(now),
            self.max_udp_payload,
            usize::from(limit),
            ad,
        )?;
        self.metrics.count_query(false, q.qtype);
        self.metrics.cache_hits.inc();
        self.metrics.count_response(u16::from(template.rcode()));
        if let (Some(log), Some(group)) = (&self.querylog, &group) {
            log.resolved(
                client,
                &key.suffix_str(0),
                q.qtype,
                u16::from(template.rcode()),
                group,
            );
        }
        self.tap(src, Transport::Udp, packet, Some(&out), false);
        self.maybe_prefetch(&hit, now);
        Some(out)
    }

    /// A blocked answer built straight on the wire, for the simple effects
    /// (sinkhole, NXDOMAIN, NODATA, REFUSED) and when blocked queries are
    /// not logged one by one; None sends the query down the normal path.
    pub(super) fn fast_block(
        &self,
        q: &QuickQuery<'_>,
        key: &LookupKey,
        b: &Block<'_>,
        group: &str,
        limit: usize,
    ) -> Option<Vec<u8>> {
        if self.log_blocked {
            return None;
        }
        let effect = effect_of(b, &key.suffix_str(b.depth), Transport::Udp)?;
        let shape = match effect {
            Effect::Sinkhole => BlockShape::Sinkhole,
            Effect::Nxdomain => BlockShape::Nxdomain,
            Effect::Nodata => BlockShape::Nodata,
            Effect::Refused => BlockShape::Refused,
            _ => return None,
        };
        let (ipv4, ipv6) = self.sinkhole.addresses();
        let answer = BlockAnswer {
            shape,
            depth: b.depth,
            ttl: self.block_ttl(b),
            ipv4: ipv4.octets(),
            ipv6: ipv6.octets(),
            soa_names: self.sinkhole.soa_names_wire(),
            ede: b.ede(),
        };
        let out = render_block(q, &answer, self.max_udp_payload, limit)?;
        self.metrics.count_query(false, q.qtype);
        self.metrics
            .blocked
            .with_label_values(&[b.list.name(), effect.label(), group])
            .inc();
        self.metrics.count_response(u16::from(out[3] & 0x0f));
        Some(out)
    }

    /// TTL of a block rule's answers (the list's, else the sinkhole's).
    pub(super) fn block_ttl(&self, b: &Block<'_>) -> u32 {
        b.list.cfg.ttl_secs.unwrap_or(self.sinkhole.ttl())
    }
}
