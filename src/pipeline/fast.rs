//! The UDP fast path, run from the receive loop: a plain query (see
//! [`crate::wire::quick`]) whose answer is cached, or whose name a list
//! blocks with a simple answer, is answered from pre-encoded bytes
//! without decoding, a task spawn or an encoder; anything else returns
//! `None` and takes the normal path in [`super`].

use super::*;

impl Handler {
    /// Prepare a batch's lookup keys before any of its queries is
    /// answered: quick-parse `packets[i]` into `quick[i]` (None: not a
    /// plain query), fill `keys[i]` from it and bring the table slots, then
    /// the records, that the policy's decisions will read into cache
    /// ([`crate::policy::Policy::touch`], then `touch_next`), so the
    /// batch's cache misses on a large list overlap. The parsed queries go
    /// on to [`Handler::try_fast`], so a datagram is quick-parsed once. One
    /// policy load for the batch; decides nothing.
    pub fn prepare_keys<'p>(
        &self,
        packets: impl Iterator<Item = Option<&'p [u8]>>,
        keys: &mut [LookupKey],
        quick: &mut [Option<QuickQuery<'p>>],
    ) {
        let policy = self.policy.load();
        for ((packet, key), slot) in packets.zip(keys.iter_mut()).zip(quick.iter_mut()) {
            *slot = packet.and_then(parse_quick);
            if let Some(q) = slot {
                key.assign_wire(q.qname);
                policy.touch(key);
            }
        }
        for (key, _) in keys.iter().zip(quick.iter()).filter(|(_, q)| q.is_some()) {
            policy.touch_next(key);
        }
    }

    /// The fast path for admitted UDP queries whose answer is cached (see
    /// [`crate::wire::template`]). None: take the normal path. `key` is scratch
    /// space (reused across queries); `prepared` is the packet's quick parse
    /// when [`Handler::prepare_keys`] already did it and put its name in
    /// `key`, else the packet is parsed here.
    pub fn try_fast(
        &self,
        packet: &[u8],
        key: &mut LookupKey,
        prepared: Option<QuickQuery<'_>>,
        client: IpAddr,
    ) -> Option<Vec<u8>> {
        let q = match prepared {
            Some(q) => q,
            None => parse_quick(packet)?,
        };
        if q.qclass != 1 || matches!(q.qtype, 41 | 251 | 252 | 255) {
            return None;
        }
        if prepared.is_none() {
            key.assign_wire(q.qname);
        }
        let key = &*key;
        let limit = q
            .edns
            .map_or(512, |(p, _)| p.clamp(512, self.max_udp_payload));
        let generation = {
            let policy = self.policy.load();
            let v = policy.decide(key);
            if v.would_block.is_some() {
                return None;
            }
            if let Decision::Blocked(b) = v.decision {
                let out = self.fast_block(&q, key, &b, usize::from(limit))?;
                self.log_blocked_query(&policy, client, key, q.qtype, &b);
                return Some(out);
            }
            policy.generation
        };
        let dnssec_ok = q.edns.is_some_and(|(_, d)| d);
        let ckey = wire_cache_key(key, q.qtype, q.qclass, dnssec_ok);
        let now = Instant::now();
        let hit = self.cache.get(&ckey, now)?;
        // A chain not yet checked under this policy (new answer, or a list
        // changed since) takes the normal path, which checks it.
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
            &q,
            hit.age(now),
            self.max_udp_payload,
            usize::from(limit),
            ad,
        )?;
        self.metrics.count_query(false, q.qtype);
        self.metrics.cache_hits.inc();
        self.metrics.count_response(u16::from(template.rcode()));
        if let Some(log) = &self.querylog {
            log.resolved(
                client,
                &key.suffix_str(0),
                q.qtype,
                u16::from(template.rcode()),
            );
        }
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
        limit: usize,
    ) -> Option<Vec<u8>> {
        if self.log_blocked {
            return None;
        }
        let cfg = &b.list.cfg;
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
            ede: (cfg.ede, &b.list.ede_text),
        };
        let out = render_block(q, &answer, self.max_udp_payload, limit)?;
        self.metrics.count_query(false, q.qtype);
        self.metrics
            .blocked
            .with_label_values(&[b.list.name(), effect.label()])
            .inc();
        self.metrics.count_response(u16::from(out[3] & 0x0f));
        Some(out)
    }

    /// TTL of a block rule's answers (the list's, else the sinkhole's).
    pub(super) fn block_ttl(&self, b: &Block<'_>) -> u32 {
        b.list.cfg.ttl_secs.unwrap_or(self.sinkhole.ttl())
    }
}
