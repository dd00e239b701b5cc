//! What the query path records besides answering, one hook each for the
//! normal path, the chain stage and the fast path: dry-run counts, the
//! query log and dnstap. With the query log and dnstap off each hook is
//! one branch.

use super::*;

impl Handler {
    /// The query log hook for a blocked answer (one branch when the query
    /// log is off).
    pub(super) fn log_blocked_query(
        &self,
        policy: &Policy,
        client: IpAddr,
        key: &LookupKey,
        qtype: u16,
        b: &Block<'_>,
        group: &Arc<str>,
    ) {
        if let Some(log) = &self.querylog {
            let action = effect_of(b, &key.suffix_str(b.depth), Transport::Udp)
                .map_or("blocked", |e| e.label());
            log.blocked(
                client,
                &key.suffix_str(0),
                qtype,
                policy.shared(b.list),
                action,
                group,
            );
        }
    }

    /// Count and log a dry-run list's would-be block.
    pub(super) fn count_dry_run(&self, b: &Block<'_>, qtype: RecordType) {
        self.metrics
            .dry_run
            .with_label_values(&[b.list.name()])
            .inc();
        info!(
            target: "dnsward::blocked",
            list = b.list.name(),
            line = b.hit.line,
            order = b.list.cfg.order_id.as_deref().unwrap_or("-"),
            qtype = %qtype,
            "dry-run: would block"
        );
    }

    /// The dnstap hook for an answered query (`response` None: nothing
    /// was sent).
    #[inline]
    pub(super) fn tap(
        &self,
        src: SocketAddr,
        transport: Transport,
        packet: &[u8],
        response: Option<&[u8]>,
        blocked: bool,
    ) {
        if let Some(tap) = &self.dnstap {
            tap.record(src, transport == Transport::Tcp, packet, response, blocked);
        }
    }
}
