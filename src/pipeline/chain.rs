//! Stage 4b: policy for every name an answer's CNAME/DNAME chain leads to
//! (the chain itself is read by [`crate::wire::chain`]).

use super::*;

impl Handler {
    /// Stage 4b: every name the answer's CNAME/DNAME chain leads to goes
    /// through the policy, as the question name did in stage 2b (allow
    /// rules, per-list and per-rule actions, dry-run), so an alias of a
    /// listed name (anyone's zone can hold one) does not reach it. At the
    /// first name blocked, the answer keeps the records leading to it and
    /// gets that name's block answer, EDE and order included, exactly as
    /// a direct query for it would (`Continue(Some(target))` for a
    /// redirect still to resolve; `Respond` when done). `Continue(None)`:
    /// serve `resp` as is.
    ///
    /// `entry` is the cache entry `resp` was filled from, if any: a chain
    /// found clean is marked with the policy generation, so the fast path
    /// serves it without this walk until the next list change. Answers
    /// without aliases skip it all on one flag.
    pub(super) fn chain_stage(
        &self,
        query: &Query,
        transport: Transport,
        resp: &mut Message,
        entry: Option<&CachedAnswer>,
        client: IpAddr,
    ) -> Verdict<Option<Name>> {
        let qtype = query.query_type();
        match entry {
            Some(e) if !e.chained => return Verdict::Continue(None),
            None if !crate::wire::chain::may_chain(qtype, &resp.answers) => {
                return Verdict::Continue(None)
            }
            _ => {}
        }
        let policy = self.policy.load();
        if entry.is_some_and(|e| e.chain_cleared(policy.generation)) {
            return Verdict::Continue(None);
        }
        let qname = query.name();
        let targets = crate::wire::chain::targets(qname, &resp.answers);
        // Clean only if no rule matched at all: a tcp-only rule lets the
        // chain through over TCP but not over UDP (the fast path), and a
        // dry-run match is counted on every query.
        //
        // With policy groups the mark is shared by every group, so the
        // chain is clean only if no rule of any list matched: an allow
        // list of one group must not clear a chain another group's lists
        // block, nor a chain one group passes clear it for a group that
        // blocks it.
        let mut clean = true;
        let group = policy.groups.of(client);
        for (hop, target) in targets.iter().enumerate() {
            let key = LookupKey::from_labels(target.iter());
            let verdict = policy.decide_for(&key, group);
            if clean && group.mask.is_some() {
                let all = policy.decide(&key);
                clean = all.would_block.is_none() && matches!(all.decision, Decision::NotListed);
            }
            if let Some(b) = verdict.would_block {
                clean = false;
                self.count_dry_run(&b, qtype);
            }
            let Decision::Blocked(b) = verdict.decision else {
                continue;
            };
            clean = false;
            let zone_text = key.suffix_str(b.depth);
            let Some(effect) = effect_of(&b, &zone_text, transport) else {
                continue;
            };
            let label = effect.label();
            self.metrics
                .blocked
                .with_label_values(&[b.list.name(), label, group.name])
                .inc();
            self.metrics
                .chain_blocked
                .with_label_values(&[b.list.name(), label, group.name])
                .inc();
            if let Some(log) = &self.querylog {
                let qname = LookupKey::from_labels(qname.iter());
                log.blocked(
                    client,
                    &qname.suffix_str(0),
                    u16::from(qtype),
                    policy.shared(b.list),
                    label,
                    group.name,
                );
            }
            if self.log_blocked {
                info!(
                    target: "dnsward::blocked",
                    list = b.list.name(),
                    line = b.hit.line,
                    order = b.list.cfg.order_id.as_deref().unwrap_or("-"),
                    action = label,
                    qtype = %qtype,
                    hop = hop + 1,
                    "blocked via CNAME/DNAME chain"
                );
            }
            if matches!(effect, Effect::Drop) {
                return Verdict::Drop;
            }
            crate::wire::chain::keep_chain_to(&mut resp.answers, qname, &targets, hop);
            resp.authorities.clear();
            resp.additionals.clear();
            resp.metadata.response_code = ResponseCode::NoError;
            resp.metadata.authentic_data = false;
            b.ede().attach(resp);
            let ttl = self.block_ttl(&b);
            return match effect {
                Effect::Redirect(to) => {
                    resp.answers.push(Record::from_rdata(
                        target.clone(),
                        self.sinkhole.ttl(),
                        RData::CNAME(CNAME(to.clone())),
                    ));
                    Verdict::Continue(Some(to))
                }
                Effect::Truncate => {
                    resp.answers.clear();
                    resp.metadata.truncation = true;
                    Verdict::Respond
                }
                other => {
                    if let (Some(memo), Effect::Sinkhole) = (&self.chained, &other) {
                        let asked = LookupKey::from_labels(qname.iter());
                        memo.record(
                            &asked.suffix_str(0),
                            &key.suffix_str(0),
                            ttl,
                            Instant::now(),
                        );
                    }
                    let zone = dotted_name(&zone_text).unwrap_or_else(Name::root);
                    self.sinkhole.apply(resp, target, qtype, &other, zone, ttl);
                    Verdict::Respond
                }
            };
        }
        if clean {
            if let Some(e) = entry {
                e.mark_chain_clean(policy.generation);
            }
        }
        Verdict::Continue(None)
    }
}
