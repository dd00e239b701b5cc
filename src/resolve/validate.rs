//! The chain of trust around [`crate::dnssec`]: for every answer the
//! iterator or the forwarder produced, the DNSKEY set of each signer zone
//! is fetched and checked against the parent's DS set (itself checked with
//! the parent's keys) up to a trust anchor; insecure delegations are
//! proven by the parent's NSEC/NSEC3 records ([`dnssec::prove_no_ds`]).
//! The keys found are cached per zone for their TTL (bogus zones for
//! `dnssec.bogus_ttl_secs`), and concurrent look-ups of one zone wait for
//! the first.
//!
//! Fetching is behind [`Fetch`], so the recursive and the forward mode
//! run the same validation: the iterator fetches DS and DNSKEY sets by
//! iterating (from the same per-query upstream budget), the forwarder by
//! asking its upstream. Every signature check and NSEC3 hash of one client
//! query, chain included, is counted in one [`Budget`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::aggressive::NsecCache;
use super::{Ede, Status};
use crate::config::DnssecConfig;
use crate::dnssec::anchors::AnchorSet;
use crate::dnssec::settings::DnssecSettings;
use crate::dnssec::{self, Anchor, Budget, Failure, KeysOutcome, Limits, Now, Security, ZoneKeys};
use crate::metrics::Metrics;
use crate::wire::ede::{
    EDE_DNSKEY_MISSING, EDE_DNSSEC_BOGUS, EDE_NSEC_MISSING, EDE_RRSIGS_MISSING,
};

/// Zones whose key state is cached at most (a bounded map: a flood of
/// random signed zones cannot grow memory without end).
const KEY_CACHE_SIZE: usize = 50_000;
/// Longest time an insecure or secure zone state is cached, in seconds.
const MAX_KEY_TTL: u32 = 86_400;
/// Nesting of chain-of-trust look-ups (zone, its parent, ...).
const MAX_CHAIN_DEPTH: u8 = 16;
/// Longest CNAME/DNAME chain followed to find the name a denial is about.
const MAX_ALIASES: usize = 16;

/// A fetched answer: what a DS or DNSKEY question returned.
#[derive(Debug, Default, Clone)]
pub struct Fetched {
    /// NOERROR or NXDOMAIN.
    pub rcode: Option<ResponseCode>,
    /// Answer records, signatures included.
    pub answers: Vec<Record>,
    /// Authority records: SOA, NSEC/NSEC3 and their signatures.
    pub authority: Vec<Record>,
}

/// A boxed future (the chain-of-trust walk recurses).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a validator gets DS and DNSKEY sets.
pub trait Fetch: Send + Sync {
    /// Per-client-query state (the iterator's upstream budget).
    type State: Send;
    /// Ask `name`/`qtype` with DO set; None when it could not be resolved.
    fn fetch<'a>(
        &'a self,
        name: &'a Name,
        qtype: RecordType,
        state: &'a mut Self::State,
    ) -> BoxFut<'a, Option<Fetched>>;
}

/// What is known of one zone's keys.
#[derive(Debug, Clone)]
pub(super) enum ZoneState {
    /// Validated keys.
    Secure(Arc<ZoneKeys>),
    /// Proven unsigned (or under a negative trust anchor, or no anchor).
    Insecure,
    /// Its keys or its delegation failed.
    Bogus(Failure),
    /// Not a zone cut: the parent answered for it (only the walk for an
    /// unsigned answer without a known zone asks about such names).
    NotZone,
}

struct CachedState {
    state: ZoneState,
    expires: Instant,
}

/// The work of one client query: its budget and its clock.
pub struct Work {
    /// Signature checks and NSEC3 hashes left.
    pub budget: Budget,
    /// Validation time.
    pub now: Now,
}

/// Validation settings and the key cache, shared by all queries.
pub struct Validator {
    /// Swapped when an RFC 5011 probe changes the trusted keys.
    anchors: ArcSwap<Vec<(Name, Anchor)>>,
    negative: ArcSwap<Vec<Name>>,
    keys: DashMap<Name, CachedState>,
    pending: DashMap<Name, Arc<tokio::sync::Mutex<()>>>,
    pub(super) limits: Limits,
    bogus_ttl: u32,
    pub(super) metrics: Option<Arc<Metrics>>,
    /// Validated NSEC records for RFC 8198 answers (None when
    /// `dnssec.aggressive_nsec` is off).
    pub(super) aggressive: Option<NsecCache>,
}

/// The RRSIG record data of `r`, if it is one.
fn rrsig_of(r: &Record) -> Option<&hickory_proto::dnssec::rdata::RRSIG> {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s),
        _ => None,
    }
}

/// The type an RRSIG record covers.
fn covered(r: &Record) -> Option<RecordType> {
    rrsig_of(r).map(|s| s.input().type_covered)
}

/// The signer of the first of `sigs` (the zone whose keys verify them).
fn signer_of(sigs: &[Record]) -> Option<Name> {
    sigs.iter()
        .find_map(rrsig_of)
        .map(|s| s.input().signer_name.to_lowercase())
}

/// The RRsets of `records` (owner and type, RRSIGs apart) with the
/// signatures covering each.
fn rrsets(records: &[Record]) -> Vec<(Vec<Record>, Vec<Record>)> {
    let mut out: Vec<(Vec<Record>, Vec<Record>)> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
    {
        let t = r.record_type();
        if let Some((set, _)) = out
            .iter_mut()
            .find(|(s, _)| s[0].record_type() == t && s[0].name == r.name)
        {
            set.push(r.clone());
            continue;
        }
        let sigs = records
            .iter()
            .filter(|s| s.name == r.name && covered(s) == Some(t))
            .cloned()
            .collect();
        out.push((vec![r.clone()], sigs));
    }
    out
}

fn bogus(code: u16, zone: &Name, text: &'static str) -> Failure {
    Failure::new(code, zone, text)
}

/// The EDE of a failure: its code, text naming the zone.
pub fn ede_of(f: &Failure) -> Ede {
    Ede {
        code: f.ede,
        text: Arc::from(format!("DNSSEC: {} ({})", f.text, f.zone)),
    }
}

/// Does a DS question's denial show a delegation (an NSEC/NSEC3 with NS
/// and without SOA in its type map)? Without one the name asked is no
/// zone cut.
fn shows_cut(denial: &[Record]) -> bool {
    denial.iter().any(|r| {
        let types: Vec<RecordType> = match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(n)) => n.type_bit_maps().collect(),
            RData::DNSSEC(DNSSECRData::NSEC3(n)) => {
                if n.opt_out() {
                    return true;
                }
                n.type_bit_maps().collect()
            }
            _ => return false,
        };
        types.contains(&RecordType::NS) && !types.contains(&RecordType::SOA)
    })
}

/// The name a denial in `answers` is about: `qname` after its CNAME and
/// DNAME chain.
fn final_name(qname: &Name, answers: &[Record]) -> Name {
    let mut cur = qname.clone();
    for _ in 0..MAX_ALIASES {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == cur => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) if n != cur => cur = n,
            _ => break,
        }
    }
    cur
}

/// Is `cname` one a server synthesised from a DNAME in `answers` (RFC
/// 6672: such CNAMEs are unsigned; the DNAME carries the signature)?
fn synthesised(cname: &Record, answers: &[Record]) -> bool {
    answers.iter().any(|d| {
        d.record_type() == RecordType::DNAME && d.name != cname.name && d.name.zone_of(&cname.name)
    })
}

/// Seconds since the epoch as a validation time.
pub fn now_secs() -> Now {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

impl Validator {
    /// From the checked `[dnssec]` settings; None when validation is off.
    pub fn new(
        settings: &DnssecSettings,
        cfg: &DnssecConfig,
        metrics: Option<Arc<Metrics>>,
    ) -> Option<Self> {
        if !cfg.validation {
            return None;
        }
        let anchors = anchor_list(&settings.anchors);
        Some(Self {
            anchors: ArcSwap::from_pointee(anchors),
            negative: ArcSwap::from_pointee(settings.negative.clone()),
            keys: DashMap::new(),
            pending: DashMap::new(),
            limits: Limits {
                max_signature_checks: cfg.max_signature_checks,
                max_nsec3_hashes: cfg.max_nsec3_hashes,
                nsec3_max_iterations: cfg.nsec3_max_iterations,
                max_keys_per_tag: cfg.max_keys_per_tag,
            },
            bogus_ttl: cfg.bogus_ttl_secs.max(1),
            metrics,
            aggressive: cfg.aggressive_nsec.then(NsecCache::default),
        })
    }

    /// Replace the negative trust anchors (SIGHUP, `POST /admin/reload`);
    /// the key cache is emptied so zones are judged again.
    pub fn set_negative(&self, zones: Vec<Name>) {
        self.negative.store(Arc::new(zones));
        self.keys.clear();
        if let Some(c) = &self.aggressive {
            c.clear();
        }
    }

    /// Trust `set` from now on (an RFC 5011 probe changed the keys): the
    /// key cache is emptied so chains are built from the new anchors.
    pub fn set_anchors(&self, set: &AnchorSet) {
        self.anchors.store(Arc::new(anchor_list(set)));
        self.keys.clear();
        if let Some(c) = &self.aggressive {
            c.clear();
        }
    }

    /// Show `rows` in `dnsward_dnssec_trust_anchor_info` (replacing what
    /// it showed).
    pub fn show_anchors(&self, rows: &[(String, u16, &'static str)]) {
        if let Some(m) = &self.metrics {
            let g = &m.dnssec.trust_anchor_info;
            g.reset();
            for (zone, tag, state) in rows {
                g.with_label_values(&[zone.as_str(), tag.to_string().as_str(), state])
                    .set(1);
            }
        }
    }

    /// Drop every bogus zone state, so a second attempt from other
    /// servers looks the chain up again.
    pub fn forget_bogus(&self) {
        self.keys
            .retain(|_, v| !matches!(v.state, ZoneState::Bogus(_)));
    }

    /// The negative trust anchors in force.
    pub fn negative(&self) -> Vec<Name> {
        self.negative.load().as_ref().clone()
    }

    /// Zone states cached (tests, metrics).
    pub fn cached_zones(&self) -> usize {
        self.keys.len()
    }

    /// The work of a new client query.
    pub fn work(&self) -> Work {
        Work {
            budget: Budget::new(&self.limits),
            now: now_secs(),
        }
    }

    /// Is `name` at or below a negative trust anchor?
    pub fn under_negative(&self, name: &Name) -> bool {
        self.negative.load().iter().any(|z| z.zone_of(name))
    }

    fn anchored(&self, name: &Name) -> bool {
        self.anchors.load().iter().any(|(z, _)| z.zone_of(name))
    }

    pub(super) fn cached(&self, zone: &Name) -> Option<ZoneState> {
        let e = self.keys.get(zone)?;
        (e.expires > Instant::now()).then(|| e.state.clone())
    }

    fn store(&self, zone: &Name, state: &ZoneState, ttl: u32) {
        if self.keys.len() >= KEY_CACHE_SIZE {
            let now = Instant::now();
            self.keys.retain(|_, v| v.expires > now);
            if self.keys.len() >= KEY_CACHE_SIZE {
                return;
            }
        }
        let ttl = match state {
            ZoneState::Bogus(_) => self.bogus_ttl,
            _ => ttl.clamp(1, MAX_KEY_TTL),
        };
        self.keys.insert(
            zone.clone(),
            CachedState {
                state: state.clone(),
                expires: Instant::now() + Duration::from_secs(u64::from(ttl)),
            },
        );
    }

    /// Count one validated client query in the metrics.
    pub fn finish(&self, work: &Work, status: Status, ede: Option<&Ede>) {
        if let Some(m) = &self.metrics {
            let bogus = (status == Status::Bogus).then(|| ede.map_or(EDE_DNSSEC_BOGUS, |e| e.code));
            m.dnssec
                .count(status.label(), bogus, work.budget.signature_checks());
            if work.budget.exceeded() {
                m.dnssec.budget_exceeded.inc();
            }
        }
    }

    /// The state of `zone`'s keys: cached, or established from its trust
    /// anchor or its parent's DS set.
    fn zone_state<'a, F: Fetch>(
        &'a self,
        f: &'a F,
        st: &'a mut F::State,
        w: &'a mut Work,
        zone: &'a Name,
        depth: u8,
    ) -> BoxFut<'a, ZoneState> {
        Box::pin(async move {
            if self.under_negative(zone) || !self.anchored(zone) {
                return ZoneState::Insecure;
            }
            if let Some(s) = self.cached(zone) {
                return s;
            }
            if depth > MAX_CHAIN_DEPTH {
                return ZoneState::Bogus(bogus(EDE_DNSSEC_BOGUS, zone, "chain of trust too deep"));
            }
            // One look-up per zone at a time: the others wait and read
            // the cache.
            let lock = self.pending.entry(zone.clone()).or_default().clone();
            let guard = lock.lock().await;
            if let Some(s) = self.cached(zone) {
                return s;
            }
            let (state, ttl) = self.establish(f, st, w, zone, depth).await;
            tracing::debug!(%zone, ttl, "zone keys: {}", match &state {
                ZoneState::Secure(_) => "secure".to_string(),
                ZoneState::Insecure => "insecure".to_string(),
                ZoneState::Bogus(e) => format!("bogus: {e}"),
                ZoneState::NotZone => "not a zone cut".to_string(),
            });
            // A budget that ran out says nothing about the zone.
            if !w.budget.exceeded() {
                self.store(zone, &state, ttl);
            }
            drop(guard);
            self.pending
                .remove_if(zone, |_, l| Arc::strong_count(l) <= 2);
            state
        })
    }

    async fn establish<F: Fetch>(
        &self,
        f: &F,
        st: &mut F::State,
        w: &mut Work,
        zone: &Name,
        depth: u8,
    ) -> (ZoneState, u32) {
        let here: Vec<Anchor> = self
            .anchors
            .load()
            .iter()
            .filter(|(z, _)| z == zone)
            .map(|(_, a)| a.clone())
            .collect();
        if !here.is_empty() {
            return self.keys_from(f, st, w, zone, &here).await;
        }
        let Some(ds) = f.fetch(zone, RecordType::DS, st).await else {
            return (
                ZoneState::Bogus(bogus(EDE_DNSKEY_MISSING, zone, "no answer for the DS set")),
                0,
            );
        };
        let ds_set: Vec<Record> = ds
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::DS && r.name == *zone)
            .cloned()
            .collect();
        let ds_sigs: Vec<Record> = ds
            .answers
            .iter()
            .filter(|r| r.name == *zone && covered(r) == Some(RecordType::DS))
            .cloned()
            .collect();
        let soa_owner = ds
            .authority
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.to_lowercase());
        let denial_sigs: Vec<Record> = ds
            .authority
            .iter()
            .filter(|r| matches!(covered(r), Some(RecordType::NSEC | RecordType::NSEC3)))
            .cloned()
            .collect();
        let parent = signer_of(&ds_sigs)
            .or_else(|| signer_of(&denial_sigs))
            .or(soa_owner.clone())
            .filter(|p| p != zone && p.zone_of(zone))
            .unwrap_or_else(|| zone.base_name());
        if !ds_set.is_empty() {
            // A DS set without signatures for a secure parent is bogus;
            // for an insecure one the zone is insecure, whatever it says.
            match self.zone_state(f, st, w, &parent, depth + 1).await {
                ZoneState::Secure(pk) => {
                    let v = match dnssec::verify_rrset(&ds_set, &ds_sigs, &pk, w.now, &mut w.budget)
                    {
                        Ok(v) => v,
                        Err(e) => return (ZoneState::Bogus(e), 0),
                    };
                    let anchors: Vec<Anchor> = ds_set
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::DNSSEC(DNSSECRData::DS(d)) => Some(Anchor::Ds(d.clone())),
                            _ => None,
                        })
                        .collect();
                    let (state, ttl) = self.keys_from(f, st, w, zone, &anchors).await;
                    return (state, ttl.min(v.ttl));
                }
                ZoneState::NotZone => {
                    return (
                        ZoneState::Bogus(bogus(EDE_DNSSEC_BOGUS, zone, "DS signed by no zone")),
                        0,
                    )
                }
                other => return (other, ds_set[0].ttl),
            }
        }
        // No DS: the parent must prove it.
        let ttl = ds.authority.iter().map(|r| r.ttl).min().unwrap_or(0);
        match self.zone_state(f, st, w, &parent, depth + 1).await {
            ZoneState::Secure(pk) => {
                let denial = match self.verify_denial(&ds.authority, &pk, w) {
                    Ok(d) => d,
                    Err(e) => return (ZoneState::Bogus(e), 0),
                };
                if !shows_cut(&denial)
                    && !denial.is_empty()
                    && soa_owner
                        .as_ref()
                        .is_some_and(|s| s.zone_of(zone) && s != zone)
                {
                    // The parent answered for the name itself: no cut here.
                    return (ZoneState::NotZone, ttl);
                }
                match dnssec::prove_no_ds(zone, &parent, &denial, &mut w.budget) {
                    Ok(Security::Insecure) => (ZoneState::Insecure, ttl),
                    Ok(_) => (
                        ZoneState::Bogus(bogus(
                            EDE_NSEC_MISSING,
                            zone,
                            "no proof of an unsigned delegation",
                        )),
                        0,
                    ),
                    Err(e) => (ZoneState::Bogus(e), 0),
                }
            }
            ZoneState::NotZone => (
                ZoneState::Bogus(bogus(EDE_DNSSEC_BOGUS, zone, "no signed parent")),
                0,
            ),
            other => (other, ttl),
        }
    }

    /// Fetch `zone`'s DNSKEY set and check it against `anchors` (DS set
    /// or trust anchors).
    async fn keys_from<F: Fetch>(
        &self,
        f: &F,
        st: &mut F::State,
        w: &mut Work,
        zone: &Name,
        anchors: &[Anchor],
    ) -> (ZoneState, u32) {
        let Some(got) = f.fetch(zone, RecordType::DNSKEY, st).await else {
            return (
                ZoneState::Bogus(bogus(
                    EDE_DNSKEY_MISSING,
                    zone,
                    "no answer for the DNSKEY set",
                )),
                0,
            );
        };
        let keys: Vec<Record> = got
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::DNSKEY && r.name == *zone)
            .cloned()
            .collect();
        if keys.is_empty() {
            return (
                ZoneState::Bogus(bogus(EDE_DNSKEY_MISSING, zone, "DNSKEY set missing")),
                0,
            );
        }
        let sigs: Vec<Record> = got
            .answers
            .iter()
            .filter(|r| r.name == *zone && covered(r) == Some(RecordType::DNSKEY))
            .cloned()
            .collect();
        match dnssec::validate_dnskeys(zone, &keys, &sigs, anchors, w.now, &mut w.budget) {
            KeysOutcome::Secure(k) => {
                let ttl = k.ttl;
                (ZoneState::Secure(Arc::new(k)), ttl)
            }
            KeysOutcome::Insecure => (ZoneState::Insecure, keys[0].ttl),
            KeysOutcome::Bogus(e) => {
                tracing::debug!(%zone, "DNSKEY set bogus: {e}");
                (ZoneState::Bogus(e), 0)
            }
        }
    }

    /// Verify every NSEC/NSEC3 RRset of `authority` with `keys`; the
    /// verified records (the input of the denial proofs).
    fn verify_denial(
        &self,
        authority: &[Record],
        keys: &ZoneKeys,
        w: &mut Work,
    ) -> Result<Vec<Record>, Failure> {
        self.verify_denial_ttl(authority, keys, w).map(|(d, _)| d)
    }

    /// [`Self::verify_denial`], with the lowest TTL the signatures allow
    /// ([`dnssec::Verified::ttl`]; `u32::MAX` for no records).
    fn verify_denial_ttl(
        &self,
        authority: &[Record],
        keys: &ZoneKeys,
        w: &mut Work,
    ) -> Result<(Vec<Record>, u32), Failure> {
        let mut ttl = u32::MAX;
        let mut out = Vec::new();
        for (set, sigs) in rrsets(authority) {
            let t = set[0].record_type();
            if !matches!(t, RecordType::NSEC | RecordType::NSEC3) {
                continue;
            }
            if sigs.is_empty() {
                return Err(bogus(
                    EDE_RRSIGS_MISSING,
                    &keys.zone,
                    "denial without signatures",
                ));
            }
            let v = dnssec::verify_rrset(&set, &sigs, keys, w.now, &mut w.budget)?;
            ttl = ttl.min(v.ttl);
            out.extend(set);
        }
        Ok((out, ttl))
    }

    /// The state of the zone an unsigned record of `owner` came from:
    /// `hint` (the zone the iterator asked) when known, else found by
    /// walking down from the closest trust anchor, one DS question per
    /// label (each answer cached).
    async fn owner_state<F: Fetch>(
        &self,
        f: &F,
        st: &mut F::State,
        w: &mut Work,
        owner: &Name,
        hint: Option<&Name>,
    ) -> ZoneState {
        if let Some(z) = hint {
            return self.zone_state(f, st, w, z, 0).await;
        }
        let Some(anchor) = self
            .anchors
            .load()
            .iter()
            .map(|(z, _)| z)
            .filter(|z| z.zone_of(owner))
            .max_by_key(|z| z.num_labels())
            .cloned()
        else {
            return ZoneState::Insecure;
        };
        let mut state = self.zone_state(f, st, w, &anchor, 0).await;
        let labels = owner.num_labels();
        for n in anchor.num_labels() + 1..=labels {
            if !matches!(state, ZoneState::Secure(_)) {
                break;
            }
            let name = owner.trim_to(usize::from(n));
            match self.zone_state(f, st, w, &name, 0).await {
                ZoneState::NotZone => {}
                s => state = s,
            }
        }
        state
    }

    /// Validate an answer to `qname`/`qtype`. `hint` names the zone a
    /// record owner's data came from, when the caller knows it.
    #[allow(clippy::too_many_arguments)]
    pub async fn validate<F: Fetch>(
        &self,
        f: &F,
        st: &mut F::State,
        w: &mut Work,
        qname: &Name,
        qtype: RecordType,
        rcode: ResponseCode,
        answers: &[Record],
        authority: &[Record],
        hint: &(dyn Fn(&Name) -> Option<Name> + Sync),
    ) -> (Status, Option<Ede>) {
        // RRSIG records are not RRsets one can validate (RFC 4035 3.2.3
        // asks AD only for authenticated RRsets): never AD for them.
        if self.under_negative(qname) || qtype == RecordType::RRSIG {
            return (Status::Insecure, None);
        }
        let mut status = Status::Secure;
        let mut ede: Option<Ede> = None;
        let mut fail = |status: &mut Status, e: Failure| {
            *status = Status::Bogus;
            if ede.is_none() {
                ede = Some(ede_of(&e));
            }
        };
        let target = final_name(qname, answers);
        let mut wildcards: Vec<(Name, Name, Arc<ZoneKeys>)> = Vec::new();
        for (set, sigs) in rrsets(answers) {
            let owner = set[0].name.clone();
            let t = set[0].record_type();
            if t == RecordType::CNAME && sigs.is_empty() && synthesised(&set[0], answers) {
                continue;
            }
            let state = match signer_of(&sigs) {
                Some(s) if s.zone_of(&owner) => self.zone_state(f, st, w, &s, 0).await,
                Some(_) => ZoneState::Bogus(bogus(
                    EDE_DNSSEC_BOGUS,
                    &owner,
                    "signer not above the owner",
                )),
                None => {
                    let z = hint(&owner);
                    match self.owner_state(f, st, w, &owner, z.as_ref()).await {
                        ZoneState::Secure(k) => {
                            ZoneState::Bogus(bogus(EDE_RRSIGS_MISSING, &k.zone, "RRSIGs missing"))
                        }
                        s => s,
                    }
                }
            };
            match state {
                ZoneState::Secure(keys) => {
                    match dnssec::verify_rrset(&set, &sigs, &keys, w.now, &mut w.budget) {
                        Ok(v) => {
                            if let Some(wc) = v.wildcard {
                                wildcards.push((owner, wc, keys));
                            }
                        }
                        Err(e) => {
                            tracing::debug!(%owner, rtype = %t, "RRset bogus: {e}");
                            fail(&mut status, e)
                        }
                    }
                }
                ZoneState::Insecure | ZoneState::NotZone => status = status.and(Status::Insecure),
                ZoneState::Bogus(e) => fail(&mut status, e),
            }
        }
        let positive = answers.iter().any(|r| {
            r.name == target
                && (r.record_type() == qtype
                    || qtype == RecordType::ANY
                    || (qtype == RecordType::CNAME && r.record_type() == RecordType::CNAME))
        });
        let denial_needed = !wildcards.is_empty() || !positive;
        if denial_needed && status != Status::Bogus {
            let part = self
                .validate_denial(
                    f, st, w, &target, qtype, rcode, positive, &wildcards, authority, hint,
                )
                .await;
            match part {
                Ok(s) => status = status.and(s),
                Err(e) => fail(&mut status, e),
            }
        }
        if status == Status::Insecure && ede.is_none() {
            if let Some(code) = w.budget.insecure_ede() {
                ede = Some(Ede {
                    code,
                    text: Arc::from("DNSSEC: answer treated as insecure"),
                });
            }
        }
        (status, ede)
    }

    /// The NXDOMAIN, NODATA or wildcard proof of an answer.
    #[allow(clippy::too_many_arguments)]
    async fn validate_denial<F: Fetch>(
        &self,
        f: &F,
        st: &mut F::State,
        w: &mut Work,
        target: &Name,
        qtype: RecordType,
        rcode: ResponseCode,
        positive: bool,
        wildcards: &[(Name, Name, Arc<ZoneKeys>)],
        authority: &[Record],
        hint: &(dyn Fn(&Name) -> Option<Name> + Sync),
    ) -> Result<Status, Failure> {
        let sigs: Vec<Record> = authority
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .cloned()
            .collect();
        let soa = authority
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.to_lowercase());
        let zone = match (wildcards.first(), signer_of(&sigs), soa) {
            (Some((_, _, k)), _, _) => Some(k.zone.clone()),
            (None, Some(s), _) => Some(s),
            (None, None, Some(s)) => Some(s),
            (None, None, None) => hint(target),
        };
        let state = match &zone {
            Some(z) => self.zone_state(f, st, w, z, 0).await,
            None => self.owner_state(f, st, w, target, None).await,
        };
        let keys = match state {
            ZoneState::Secure(k) => k,
            ZoneState::Bogus(e) => return Err(e),
            ZoneState::Insecure | ZoneState::NotZone => return Ok(Status::Insecure),
        };
        let zone = keys.zone.clone();
        // The SOA too must be signed (it carries the negative TTL).
        let mut soa_ttl = u32::MAX;
        for (set, ssigs) in rrsets(authority) {
            if set[0].record_type() == RecordType::SOA {
                let v = dnssec::verify_rrset(&set, &ssigs, &keys, w.now, &mut w.budget)?;
                soa_ttl = soa_ttl.min(v.ttl);
            }
        }
        let (denial, denial_ttl) = self.verify_denial_ttl(authority, &keys, w)?;
        let mut out = Status::Secure;
        for (owner, wc, _) in wildcards {
            out = out.and(security(dnssec::prove_wildcard_expansion(
                owner,
                wc,
                &zone,
                &denial,
                &mut w.budget,
            )?));
        }
        if !positive {
            let proof = if rcode == ResponseCode::NXDomain {
                dnssec::prove_nxdomain(target, &zone, &denial, &mut w.budget)?
            } else {
                dnssec::prove_nodata(target, qtype, &zone, &denial, &mut w.budget)?
            };
            out = out.and(security(proof));
        }
        if out == Status::Secure && soa_ttl != u32::MAX {
            self.keep_nsecs(&zone, &denial, authority, soa_ttl.min(denial_ttl));
        }
        Ok(out)
    }
}

/// The anchors of `set` in the library's form, zones lowercase.
fn anchor_list(set: &AnchorSet) -> Vec<(Name, Anchor)> {
    set.iter()
        .map(|(zone, a)| {
            let a = match a {
                crate::dnssec::anchors::Anchor::Ds(ds) => Anchor::Ds(ds.clone()),
                crate::dnssec::anchors::Anchor::Dnskey(k) => Anchor::Dnskey(k.clone()),
            };
            let mut zone = zone.to_lowercase();
            zone.set_fqdn(true);
            (zone, a)
        })
        .collect()
}

fn security(s: Security) -> Status {
    match s {
        Security::Secure => Status::Secure,
        Security::Insecure => Status::Insecure,
        Security::Bogus => Status::Bogus,
        Security::Indeterminate => Status::Indeterminate,
    }
}
