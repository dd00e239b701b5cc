//! Aggressive use of the DNSSEC-validated cache (RFC 8198, NSEC only):
//! the NSEC records of secure negative and wildcard answers are kept per
//! zone, and a later question whose name or type they already deny is
//! answered NXDOMAIN or NODATA without an upstream query. A flood of
//! random subdomains of one signed zone then costs one upstream query
//! per NSEC span, not one per name.
//!
//! Only records the validator verified with the zone's secure keys are
//! stored ([`super::validate::Validator`] calls [`NsecCache::store`]
//! after a denial proof succeeded), each with its RRSIGs so that a DO
//! client gets the proof, and with the zone's signed SOA from the same
//! answer. NSEC3 records are not used: opt-out spans prove nothing
//! about the names they cover.
//!
//! Bounded: [`MAX_ENTRIES`] NSEC records in all, [`MAX_PER_ZONE`] per
//! zone; every entry expires after min(NSEC TTL, RRSIG validity, SOA
//! TTL, SOA minimum) (RFC 8198 §5.4, RFC 9077), and a full cache first
//! drops what expired, then refuses new entries rather than grow.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::validate::{Validator, ZoneState};
use super::{Answer, Status};
use crate::dnssec::{self, Budget, Security};

/// NSEC records kept at most, all zones together.
pub const MAX_ENTRIES: usize = 100_000;
/// NSEC records kept at most for one zone.
pub const MAX_PER_ZONE: usize = 10_000;

/// One cached NSEC RRset (one record: an owner has one NSEC).
struct Entry {
    nsec: Record,
    sigs: Vec<Record>,
    expires: Instant,
}

/// What one zone's negative answers left.
struct ZoneNsecs {
    /// The zone's SOA and its RRSIGs, from the newest negative answer.
    soa: Vec<Record>,
    soa_expires: Instant,
    /// By owner, in canonical order (hickory's `Name` order).
    by_owner: BTreeMap<Name, Entry>,
}

/// What the cache holds that may prove something about one name: the
/// zone's SOA and candidate NSEC records, each with its RRSIGs, TTLs
/// lowered to the time left.
#[derive(Debug, Clone)]
pub struct Candidates {
    /// The SOA and its RRSIGs.
    pub soa: Vec<Record>,
    /// NSEC records with their RRSIGs.
    pub nsecs: Vec<(Record, Vec<Record>)>,
}

impl Candidates {
    /// The NSEC records alone (the input of a denial proof).
    pub fn records(&self, chosen: &[usize]) -> Vec<Record> {
        chosen
            .iter()
            .filter_map(|&i| self.nsecs.get(i).map(|(r, _)| r.clone()))
            .collect()
    }

    /// The authority section of an answer proven by the `chosen` NSEC
    /// records: SOA, then each NSEC with its RRSIGs.
    pub fn authority(&self, chosen: &[usize]) -> Vec<Record> {
        let mut out = self.soa.clone();
        for (r, sigs) in chosen.iter().filter_map(|&i| self.nsecs.get(i)) {
            out.push(r.clone());
            out.extend(sigs.iter().cloned());
        }
        out
    }
}

/// The per-zone cache of validated NSEC records.
#[derive(Default)]
pub struct NsecCache {
    zones: Mutex<HashMap<Name, ZoneNsecs>>,
}

fn nsec_of(r: &Record) -> Option<&NSEC> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::NSEC(n)) => Some(n),
        _ => None,
    }
}

/// The SOA minimum of the first SOA in `soa`.
fn soa_minimum(soa: &[Record]) -> Option<(u32, u32)> {
    soa.iter().find_map(|r| match &r.data {
        RData::SOA(s) => Some((r.ttl, s.minimum)),
        _ => None,
    })
}

fn with_ttl(r: &Record, ttl: u32) -> Record {
    let mut r = r.clone();
    r.ttl = r.ttl.min(ttl);
    r
}

impl NsecCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, ZoneNsecs>> {
        self.zones.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// NSEC records cached, all zones (tests, metrics).
    pub fn len(&self) -> usize {
        self.lock().values().map(|z| z.by_owner.len()).sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget everything (the trust anchors or negative trust anchors
    /// changed, so what was secure may no longer be).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Keep the verified NSEC records of `zone` from one secure answer.
    /// `nsecs` are the records the denial proof accepted (each verified
    /// with `ttl` from [`crate::dnssec::Verified`] folded in by the caller
    /// as `max_ttl`), `authority` the answer's authority section (for the
    /// RRSIGs and the SOA).
    pub fn store(&self, zone: &Name, nsecs: &[Record], authority: &[Record], max_ttl: u32) {
        let soa: Vec<Record> = authority
            .iter()
            .filter(|r| {
                r.name == *zone
                    && (r.record_type() == RecordType::SOA || covered(r) == Some(RecordType::SOA))
            })
            .cloned()
            .collect();
        // Without the zone's SOA a synthesised answer has no negative TTL.
        let Some((soa_ttl, minimum)) = soa_minimum(&soa) else {
            return;
        };
        let now = Instant::now();
        let neg = soa_ttl.min(minimum).min(max_ttl);
        if neg == 0 {
            return;
        }
        let mut zones = self.lock();
        let mut total: usize = zones.values().map(|z| z.by_owner.len()).sum();
        if total + nsecs.len() > MAX_ENTRIES {
            for z in zones.values_mut() {
                z.by_owner.retain(|_, e| e.expires > now);
            }
            zones.retain(|_, z| !z.by_owner.is_empty());
            total = zones.values().map(|z| z.by_owner.len()).sum();
            if total + nsecs.len() > MAX_ENTRIES {
                return;
            }
        }
        let z = zones.entry(zone.clone()).or_insert_with(|| ZoneNsecs {
            soa: Vec::new(),
            soa_expires: now,
            by_owner: BTreeMap::new(),
        });
        z.soa = soa;
        z.soa_expires = now + Duration::from_secs(u64::from(soa_ttl.min(max_ttl)));
        for r in nsecs.iter().filter(|r| nsec_of(r).is_some()) {
            let ttl = r.ttl.min(neg);
            if z.by_owner.len() >= MAX_PER_ZONE && !z.by_owner.contains_key(&r.name) {
                z.by_owner.retain(|_, e| e.expires > now);
                if z.by_owner.len() >= MAX_PER_ZONE {
                    break;
                }
            }
            let sigs = authority
                .iter()
                .filter(|s| s.name == r.name && covered(s) == Some(RecordType::NSEC))
                .cloned()
                .collect();
            z.by_owner.insert(
                r.name.clone(),
                Entry {
                    nsec: r.clone(),
                    sigs,
                    expires: now + Duration::from_secs(u64::from(ttl)),
                },
            );
        }
    }

    /// The closest cached zone at or above `name`.
    pub fn zone_for(&self, name: &Name) -> Option<Name> {
        let zones = self.lock();
        let mut n = name.clone();
        loop {
            if zones.contains_key(&n) {
                return Some(n);
            }
            if n.is_root() {
                return None;
            }
            n = n.base_name();
        }
    }

    /// The cached NSEC records of `zone` that could take part in a proof
    /// about `qname`: the one at or before `qname`, the one at or before
    /// each `*.` + ancestor of `qname` in the zone, and the zone's last
    /// one when it wraps to the apex. With their RRSIGs and the zone's
    /// SOA, TTLs lowered to the time left. None when the SOA expired.
    pub fn candidates(&self, zone: &Name, qname: &Name) -> Option<Candidates> {
        let now = Instant::now();
        let mut zones = self.lock();
        let z = zones.get_mut(zone)?;
        if z.soa_expires <= now {
            zones.remove(zone);
            return None;
        }
        z.by_owner.retain(|_, e| e.expires > now);
        let left = |at: Instant| at.saturating_duration_since(now).as_secs() as u32;
        let mut picked: Vec<&Entry> = Vec::new();
        fn pick<'e>(e: &'e Entry, picked: &mut Vec<&'e Entry>) {
            if !picked.iter().any(|p| p.nsec.name == e.nsec.name) {
                picked.push(e);
            }
        }
        let mut probes = vec![qname.clone()];
        let mut n = qname.clone();
        while n.num_labels() > zone.num_labels() {
            n = n.base_name();
            if let Ok(mut w) = n.prepend_label("*") {
                w.set_fqdn(true);
                probes.push(w);
            }
        }
        for p in &probes {
            if let Some((_, e)) = z.by_owner.range(..=p.clone()).next_back() {
                pick(e, &mut picked);
            }
        }
        if let Some((_, e)) = z.by_owner.iter().next_back() {
            if nsec_of(&e.nsec).is_some_and(|n| *n.next_domain_name() <= e.nsec.name) {
                pick(e, &mut picked);
            }
        }
        let soa_left = left(z.soa_expires);
        Some(Candidates {
            soa: z.soa.iter().map(|r| with_ttl(r, soa_left)).collect(),
            nsecs: picked
                .into_iter()
                .map(|e| {
                    let t = left(e.expires);
                    (
                        with_ttl(&e.nsec, t),
                        e.sigs.iter().map(|s| with_ttl(s, t)).collect(),
                    )
                })
                .collect(),
        })
    }
}

impl Validator {
    /// Keep the NSEC records of a secure denial for RFC 8198 answers
    /// (NSEC3 is left out: its opt-out spans deny nothing).
    pub(super) fn keep_nsecs(
        &self,
        zone: &Name,
        denial: &[Record],
        authority: &[Record],
        ttl: u32,
    ) {
        let Some(cache) = &self.aggressive else {
            return;
        };
        if denial.is_empty()
            || self.under_negative(zone)
            || denial.iter().any(|r| r.record_type() != RecordType::NSEC)
        {
            return;
        }
        cache.store(zone, denial, authority, ttl);
    }

    /// An NXDOMAIN or NODATA answer for `qname`/`qtype` proven by cached
    /// validated NSEC records of a zone whose keys are cached secure
    /// (RFC 8198 §5.1), without asking upstream; None when the cache
    /// proves nothing (or aggressive use is off). Counted in
    /// `dnsward_dnssec_aggressive_answers_total`.
    pub fn aggressive_answer(&self, qname: &Name, qtype: RecordType) -> Option<Answer> {
        let cache = self.aggressive.as_ref()?;
        // Meta and DNSSEC types a denial proof does not speak for. DS is
        // fine: the closest cached zone at or above a child apex is the
        // child, whose apex NSEC denies no DS (RFC 6840 §4.4).
        if matches!(
            qtype,
            RecordType::ANY | RecordType::RRSIG | RecordType::NSEC
        ) {
            return None;
        }
        let qname = qname.to_lowercase();
        if self.under_negative(&qname) {
            return None;
        }
        let zone = cache.zone_for(&qname)?;
        if self.under_negative(&zone) || !matches!(self.cached(&zone), Some(ZoneState::Secure(_))) {
            return None;
        }
        let cands = cache.candidates(&zone, &qname)?;
        let (rcode, chosen) = self.smallest_proof(&qname, qtype, &zone, &cands)?;
        if let Some(m) = &self.metrics {
            m.dnssec.aggressive_answers.inc();
        }
        tracing::debug!(%qname, %qtype, %zone, %rcode, "answered from cached NSEC (RFC 8198)");
        let mut msg = hickory_proto::op::Message::response(0, hickory_proto::op::OpCode::Query);
        msg.metadata.response_code = rcode;
        msg.metadata.authentic_data = true;
        msg.authorities = cands.authority(&chosen);
        Some(Answer {
            msg,
            status: Status::Secure,
            ede: None,
        })
    }

    /// The fewest cached NSEC records (one or two) that prove `qname`
    /// absent (NXDOMAIN) or without `qtype` (NODATA, rcode NOERROR), so
    /// the answer carries the proof a server would send and no more.
    fn smallest_proof(
        &self,
        qname: &Name,
        qtype: RecordType,
        zone: &Name,
        cands: &Candidates,
    ) -> Option<(ResponseCode, Vec<usize>)> {
        // At most 16 candidates (120 pairs): a name of many labels
        // cannot make one query cost more.
        let n = cands.nsecs.len().min(16);
        let mut subsets: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
        for i in 0..n {
            for j in i + 1..n {
                subsets.push(vec![i, j]);
            }
        }
        let mut budget = Budget::new(&self.limits);
        for rcode in [ResponseCode::NXDomain, ResponseCode::NoError] {
            for set in &subsets {
                let recs = cands.records(set);
                let proof = if rcode == ResponseCode::NXDomain {
                    dnssec::prove_nxdomain(qname, zone, &recs, &mut budget)
                } else {
                    dnssec::prove_nodata(qname, qtype, zone, &recs, &mut budget)
                };
                if proof == Ok(Security::Secure) {
                    return Some((rcode, set.clone()));
                }
            }
        }
        None
    }

    /// NSEC records kept for RFC 8198 answers (tests).
    pub fn cached_nsecs(&self) -> usize {
        self.aggressive.as_ref().map_or(0, NsecCache::len)
    }
}

/// The type an RRSIG record covers.
fn covered(r: &Record) -> Option<RecordType> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().type_covered),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::SOA;
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    fn nsec(owner: &str, next: &str, ttl: u32) -> Record {
        Record::from_rdata(
            n(owner),
            ttl,
            RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(
                n(next),
                vec![RecordType::A, RecordType::NSEC, RecordType::RRSIG],
            ))),
        )
    }

    fn soa(minimum: u32) -> Record {
        Record::from_rdata(
            n("example."),
            3600,
            RData::SOA(SOA::new(
                n("ns.example."),
                n("h.example."),
                1,
                3600,
                600,
                86400,
                minimum,
            )),
        )
    }

    #[test]
    fn stores_and_picks_the_spans_around_a_name() {
        let c = NsecCache::default();
        let recs = vec![
            nsec("a.example.", "m.example.", 300),
            nsec("m.example.", "example.", 300),
        ];
        let mut auth = recs.clone();
        auth.push(soa(60));
        c.store(&n("example."), &recs, &auth, 3600);
        assert_eq!(c.len(), 2);
        assert_eq!(c.zone_for(&n("x.y.example.")), Some(n("example.")));
        assert_eq!(c.zone_for(&n("example.org.")), None);
        let got = c
            .candidates(&n("example."), &n("b.example."))
            .expect("cached");
        // a. covers b. and *.example. ; m. wraps to the apex.
        assert_eq!(got.nsecs.len(), 2);
        // TTL capped by the SOA minimum (RFC 9077).
        assert!(got.records(&[0, 1]).iter().all(|r| r.ttl <= 60));
        assert_eq!(got.authority(&[1])[0].record_type(), RecordType::SOA);
        assert_eq!(got.authority(&[1]).len(), 2);
    }

    #[test]
    fn without_soa_nothing_is_kept_and_limits_hold() {
        let c = NsecCache::default();
        let recs = vec![nsec("a.example.", "m.example.", 300)];
        c.store(&n("example."), &recs, &recs, 3600);
        assert!(c.is_empty());
        let many: Vec<Record> = (0..MAX_PER_ZONE + 10)
            .map(|i| nsec(&format!("a{i}.example."), &format!("a{i}x.example."), 300))
            .collect();
        let mut auth = vec![soa(60)];
        auth.extend(many.iter().cloned());
        c.store(&n("example."), &many, &auth, 3600);
        assert_eq!(c.len(), MAX_PER_ZONE);
        c.clear();
        assert!(c.is_empty());
    }

    fn validator(aggressive: bool) -> Validator {
        let cfg = crate::config::DnssecConfig {
            aggressive_nsec: aggressive,
            ..Default::default()
        };
        Validator::new(&Default::default(), &cfg, None).expect("validation on")
    }

    fn span() -> (Vec<Record>, Vec<Record>) {
        let recs = vec![nsec("example.", "m.example.", 300)];
        let mut auth = recs.clone();
        auth.push(soa(60));
        (recs, auth)
    }

    #[test]
    fn only_nsec_outside_negative_anchors_is_kept() {
        let v = validator(true);
        let (recs, auth) = span();
        v.keep_nsecs(&n("example."), &recs, &auth, 3600);
        assert_eq!(v.cached_nsecs(), 1);
        // The zone's keys are not cached secure: nothing is synthesised.
        assert!(v
            .aggressive_answer(&n("b.example."), RecordType::A)
            .is_none());
        // Negative trust anchors empty the cache and keep it empty.
        v.set_negative(vec![n("example.")]);
        assert_eq!(v.cached_nsecs(), 0);
        v.keep_nsecs(&n("example."), &recs, &auth, 3600);
        assert_eq!(v.cached_nsecs(), 0);
        // NSEC3 is never kept (opt-out spans deny nothing).
        let v = validator(true);
        let nsec3 = Record::from_rdata(
            n("abc.example."),
            300,
            RData::DNSSEC(DNSSECRData::NSEC3(
                hickory_proto::dnssec::rdata::NSEC3::new(
                    hickory_proto::dnssec::Nsec3HashAlgorithm::SHA1,
                    true,
                    0,
                    Vec::new(),
                    vec![1; 20],
                    [RecordType::A],
                ),
            )),
        );
        v.keep_nsecs(&n("example."), &[nsec3], &auth, 3600);
        assert_eq!(v.cached_nsecs(), 0);
    }

    #[test]
    fn nothing_is_kept_with_aggressive_nsec_off() {
        let v = validator(false);
        let (recs, auth) = span();
        v.keep_nsecs(&n("example."), &recs, &auth, 3600);
        assert_eq!(v.cached_nsecs(), 0);
        assert!(v
            .aggressive_answer(&n("b.example."), RecordType::A)
            .is_none());
    }
}
