//! The iterator's side of DNSSEC validation: DS and DNSKEY sets fetched
//! by iterating ([`Fetch`]), referrals' DS sets kept for the validator,
//! and one answer handed to [`Validator::validate`] with the zones the
//! iteration asked as hints for unsigned records.

use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Ctx, Iterative, Resolved};
use crate::resolve::validate::{BoxFut, Fetch, Fetched, Validator, Work};
use crate::resolve::Status;

/// Referral DS sets kept at most.
pub(super) const REFERRAL_DS_SIZE: usize = 50_000;

impl Fetch for Iterative {
    type State = Ctx;

    fn fetch<'a>(
        &'a self,
        name: &'a Name,
        qtype: RecordType,
        ctx: &'a mut Ctx,
    ) -> BoxFut<'a, Option<Fetched>> {
        Box::pin(async move {
            if qtype == RecordType::DS && ctx.avoid.is_empty() {
                if let Some(e) = self.referral_ds.get(name) {
                    if e.1 > Instant::now() {
                        return Some(e.0.clone());
                    }
                }
            }
            let r = self.resolve_boxed(name, qtype, ctx).await.ok()?;
            Some(Fetched {
                rcode: Some(r.rcode),
                answers: r.answers,
                authority: r.authority,
            })
        })
    }
}

impl Iterative {
    /// Keep what a referral to `child` says about its DS set: the DS
    /// records and their signatures, or the NSEC/NSEC3 records (and
    /// signatures) denying one. Only when validating.
    pub(super) fn note_referral(&self, msg: &Message, child: &Name) {
        if self.validator.is_none() {
            return;
        }
        let is_ds = |r: &Record| {
            r.name == *child
                && (r.record_type() == RecordType::DS
                    || matches!(&r.data, RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) if s.input().type_covered == RecordType::DS))
        };
        let answers: Vec<Record> = msg
            .authorities
            .iter()
            .filter(|r| is_ds(r))
            .cloned()
            .collect();
        let authority: Vec<Record> = if answers.is_empty() {
            msg.authorities
                .iter()
                .filter(|r| {
                    matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3)
                        || matches!(&r.data, RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) if matches!(s.input().type_covered, RecordType::NSEC | RecordType::NSEC3))
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        if answers.is_empty() && authority.is_empty() {
            return;
        }
        let ttl = answers
            .iter()
            .chain(&authority)
            .map(|r| r.ttl)
            .min()
            .unwrap_or(0)
            .min(86_400);
        if self.referral_ds.len() >= REFERRAL_DS_SIZE {
            self.referral_ds.clear();
        }
        self.referral_ds.insert(
            child.clone(),
            (
                Fetched {
                    rcode: Some(ResponseCode::NoError),
                    answers,
                    authority,
                },
                Instant::now() + Duration::from_secs(u64::from(ttl)),
            ),
        );
    }

    /// Validate the resolution `r` of `name`/`qtype` (one budget for it).
    pub(super) async fn validated(
        &self,
        v: &Validator,
        work: &mut Work,
        name: &Name,
        qtype: RecordType,
        r: &Resolved,
        ctx: &mut Ctx,
    ) -> (Status, Option<crate::resolve::Ede>) {
        let zones = r.zones.clone();
        let hint = move |owner: &Name| {
            zones
                .iter()
                .filter(|z| z.zone_of(owner))
                .max_by_key(|z| z.num_labels())
                .cloned()
        };
        let (status, ede) = v
            .validate(
                self,
                ctx,
                work,
                name,
                qtype,
                r.rcode,
                &r.answers,
                &r.authority,
                &hint,
            )
            .await;
        (status, ede)
    }

    /// Validate the resolution `r` of `name`/`qtype`. A bogus answer may
    /// be one server's fault (a stale or tampered copy): it is resolved
    /// once more from the zones' other servers, the bogus chain states
    /// forgotten (Unbound's blacklist and refetch).
    pub(super) async fn validate_answer(
        &self,
        v: &Validator,
        name: &Name,
        qtype: RecordType,
        mut r: Resolved,
        ctx: &mut Ctx,
    ) -> (Resolved, Status, Option<crate::resolve::Ede>) {
        // One budget for the whole client query, second attempt
        // included.
        let mut work = v.work();
        let (status, ede) = self.validated(v, &mut work, name, qtype, &r, ctx).await;
        let (status, ede) =
            if status != Status::Bogus || ctx.answered.is_empty() || work.budget.exceeded() {
                (status, ede)
            } else {
                // A bogus answer may be one server's fault (a stale or
                // tampered copy): once more, from the zones' other
                // servers, the chain looked up again.
                ctx.avoid = std::mem::take(&mut ctx.answered);
                v.forget_bogus();
                match self.resolve_chain(name, qtype, ctx).await {
                    Ok(again) => {
                        let (s2, e2) = self.validated(v, &mut work, name, qtype, &again, ctx).await;
                        if s2 != Status::Bogus {
                            r = again;
                        }
                        (s2, e2)
                    }
                    Err(_) => (status, ede),
                }
            };
        v.finish(&work, status, ede.as_ref());
        (r, status, ede)
    }
}
