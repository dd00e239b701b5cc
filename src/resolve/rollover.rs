//! RFC 5011 automated trust-anchor rollover in the running server: the
//! tracker ([`crate::dnssec::rfc5011`]) says which anchored zones are due
//! a probe; their DNSKEY set is resolved like any question, handed to the
//! tracker, and when the trusted keys change the validator gets the new
//! set. The tracker writes its state files itself.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::Query;
use hickory_proto::rr::{Record, RecordType};
use tracing::{info, warn};

use super::validate::Validator;
use super::{Answer, ResolveError};
use crate::dnssec::rfc5011::{Rfc5011, UnixTime};

/// Longest sleep between looks at the schedule: probes are due hours
/// apart, but a clock moved forward (faked in tests, or corrected by NTP)
/// is noticed within seconds. A look is one comparison per trust point.
const TICK: Duration = Duration::from_secs(5);

fn unix_now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Put the tracker's view in force: trusted keys in the validator, one
/// `dnsward_dnssec_trust_anchor_info` row per key.
pub fn publish(rfc: &Rfc5011, v: &Validator) {
    v.set_anchors(&rfc.trusted());
    let rows: Vec<(String, u16, &'static str)> = rfc
        .info()
        .into_iter()
        .map(|i| (i.zone, i.key_tag, i.state))
        .collect();
    v.show_anchors(&rows);
}

/// Probe every due trust point forever (the caller aborts the task at
/// shutdown). `resolve` asks one question with DO set.
pub async fn run<F, Fut>(mut rfc: Rfc5011, v: Arc<Validator>, resolve: F)
where
    F: Fn(Query) -> Fut,
    Fut: Future<Output = Result<Answer, ResolveError>>,
{
    loop {
        let now = unix_now();
        for zone in rfc.due(now) {
            match resolve(Query::query(zone.clone(), RecordType::DNSKEY)).await {
                Ok(a) => {
                    let pick = |t: RecordType| -> Vec<Record> {
                        a.msg
                            .answers
                            .iter()
                            .filter(|r| r.name == zone && r.record_type() == t)
                            .cloned()
                            .collect()
                    };
                    let (keys, sigs) = (pick(RecordType::DNSKEY), pick(RecordType::RRSIG));
                    let seen = rfc.observe(&zone, &keys, &sigs, now);
                    if let Some(e) = seen.persist_error {
                        warn!(%zone, "RFC 5011 state not written: {e}");
                    }
                    if !seen.transitions.is_empty() {
                        info!(
                            %zone,
                            changes = seen.transitions.len(),
                            "trust anchor keys changed (RFC 5011)"
                        );
                    }
                    publish(&rfc, &v);
                }
                Err(e) => {
                    warn!(%zone, "RFC 5011 probe failed: {e}");
                    rfc.probe_failed(&zone, now);
                }
            }
        }
        let wait = rfc
            .next_due()
            .map_or(TICK, |t| Duration::from_secs(t.saturating_sub(unix_now())))
            .clamp(Duration::from_secs(1), TICK);
        tokio::time::sleep(wait).await;
    }
}
