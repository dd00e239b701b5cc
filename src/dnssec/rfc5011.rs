//! RFC 5011 automated trust anchor rollover, one state machine per anchored
//! zone ("trust point"), as Unbound's autotrust does it.
//!
//! The resolver drives it and keeps the network out of here: it asks
//! [`Rfc5011::due`] which zones to probe, queries their DNSKEY RRset (DO=1)
//! and hands the answer to [`Rfc5011::observe`], or reports
//! [`Rfc5011::probe_failed`]. The clock is passed in (seconds since the
//! epoch), so every transition is tested without waiting. The refresh task
//! is, in outline:
//!
//! ```text
//! loop {
//!     let now = unix_now();
//!     for zone in tracker.lock().due(now) {
//!         match query_dnskey(&zone).await {           // DO=1, CD=1 is fine
//!             Ok(answer) => tracker.lock().observe(&zone, &answer, &answer, now),
//!             Err(_) => tracker.lock().probe_failed(&zone, now),
//!         };
//!         validator_anchors.store(Arc::new(tracker.lock().trusted()));
//!     }
//!     sleep_until(tracker.lock().next_due()).await;   // None: nothing tracked
//! }
//! ```
//!
//! Hand in the answer even when it did not validate: the tracker checks
//! the signatures itself against the keys it trusts, and a self-signed
//! revocation must be seen in an RRset that may no longer validate.
//!
//! Keys move Start -> AddPend -> Valid (after the add hold-down, 30 days or
//! the DNSKEY TTL if longer, and seen in at least two probes) -> Missing
//! (absent from the RRset) -> Valid again, or -> Revoked (published with the
//! REVOKE bit and signing the RRset itself) -> Removed after the remove
//! hold-down (30 days). Only keys with the SEP bit (KSKs) are tracked. The
//! RRset must verify with a key trusted now before a new key is noticed;
//! a self-signed revocation is honoured even when the RRset does not
//! otherwise verify, because it proves itself.
//!
//! The state of each trust point is written (temporary file, fsync, rename)
//! to `dnssec.state_dir` in Unbound's auto-trust-anchor-file format after
//! every probe, and read at start: once a state file exists it wins over the
//! configured anchors. A state file that cannot be read is reported and
//! counted, and the configured anchors are used instead.

mod statefile;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::rr::{Name, Record};

use super::anchors::{key_tag, same_key_ignoring_revoke, Anchor, AnchorSet, FLAG_SEP};

pub use statefile::StateError;
use table::process;
pub use table::refresh_intervals;

/// Seconds since the Unix epoch: the clock every call is given.
pub type UnixTime = u64;

const DAY: u64 = 24 * 3600;
const HOUR: u64 = 3600;

/// Probes in which a new key must have been seen before it becomes Valid
/// (Unbound's MIN_PENDINGCOUNT): one lucky spoofed answer is not enough.
const MIN_PENDING_COUNT: u8 = 2;

/// Signature verifications one probe may spend (a KeyTrap-style DNSKEY
/// RRset with many colliding key tags stays bounded).
const MAX_VERIFICATIONS: u32 = 16;

/// The hold-down and retention times. The defaults are RFC 5011's (add and
/// remove hold-down 30 days) and Unbound's keep-missing (366 days); tests
/// and the operators of a lab hierarchy may shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// A new key becomes Valid this long after first seen (RFC 5011 2.4.1;
    /// the DNSKEY TTL applies instead when longer).
    pub add_holddown_secs: u64,
    /// A revoked key is forgotten this long after its revocation was seen
    /// (RFC 5011 2.4.2).
    pub remove_holddown_secs: u64,
    /// A key missing this long is forgotten when another key is Valid;
    /// 0 keeps missing keys for ever.
    pub keep_missing_secs: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            add_holddown_secs: 30 * DAY,
            remove_holddown_secs: 30 * DAY,
            keep_missing_secs: 366 * DAY,
        }
    }
}

/// RFC 5011 4 key states, numbered as in Unbound's state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    /// Seen for the first time in this probe, not yet pending.
    Start = 0,
    /// Waiting out the add hold-down; not trusted.
    AddPend = 1,
    /// Trusted.
    Valid = 2,
    /// Trusted but absent from the last RRset.
    Missing = 3,
    /// Revoked by its own signature; not trusted, kept for the remove
    /// hold-down.
    Revoked = 4,
    /// Forgotten (not written to the state file).
    Removed = 5,
}

impl KeyState {
    /// The label of the `state` label in `dnsward_dnssec_trust_anchor_info`.
    pub fn label(self) -> &'static str {
        match self {
            KeyState::Start => "start",
            KeyState::AddPend => "addpend",
            KeyState::Valid => "valid",
            KeyState::Missing => "missing",
            KeyState::Revoked => "revoked",
            KeyState::Removed => "removed",
        }
    }

    /// Whether a key in this state is a trust anchor now.
    pub fn trusted(self) -> bool {
        matches!(self, KeyState::Valid | KeyState::Missing)
    }

    pub(crate) fn from_number(n: u8) -> Option<Self> {
        Some(match n {
            0 => KeyState::Start,
            1 => KeyState::AddPend,
            2 => KeyState::Valid,
            3 => KeyState::Missing,
            4 => KeyState::Revoked,
            5 => KeyState::Removed,
            _ => return None,
        })
    }
}

/// One KSK of a trust point and its RFC 5011 state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedKey {
    /// The key as last stored (with the REVOKE bit once revoked).
    pub key: DNSKEY,
    /// TTL of the RRset the key was last seen in.
    pub ttl: u32,
    /// Its state.
    pub state: KeyState,
    /// Probes that saw it while pending.
    pub pending_count: u8,
    /// When the state last changed (0: configured, never probed).
    pub last_change: UnixTime,
    /// Seen (without REVOKE) in the current probe.
    fetched: bool,
}

impl TrackedKey {
    fn new(key: DNSKEY, ttl: u32, state: KeyState) -> Self {
        Self {
            key,
            ttl,
            state,
            pending_count: 0,
            last_change: 0,
            fetched: false,
        }
    }

    fn is_sep(&self) -> bool {
        self.key.flags() & FLAG_SEP != 0
    }
}

/// A state change of one key, for the log and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Key tag after the change (a revoked key has a new tag).
    pub key_tag: u16,
    /// State before.
    pub from: KeyState,
    /// State after.
    pub to: KeyState,
}

/// One anchored zone's RFC 5011 data (Unbound's `autr_point_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPoint {
    /// The zone (lowercase).
    pub zone: Name,
    /// DS anchors not yet turned into tracked keys by a successful probe.
    pub ds: Vec<DS>,
    /// Tracked keys.
    pub keys: Vec<TrackedKey>,
    /// Last probe answer handed in.
    pub last_queried: UnixTime,
    /// Last probe whose RRset verified.
    pub last_success: UnixTime,
    /// When to probe next.
    pub next_probe_time: UnixTime,
    /// Probes that failed to verify since the last success.
    pub query_failed: u8,
    /// RFC 5011 2.3 active refresh interval, from the last good probe.
    pub query_interval: u64,
    /// Retry interval after a failed probe.
    pub retry_time: u64,
    /// Every key was revoked: the zone is no longer anchored.
    pub revoked: bool,
}

impl TrustPoint {
    fn from_anchors(zone: &Name, anchors: &[Anchor]) -> Self {
        let mut point = Self {
            zone: zone.to_lowercase(),
            ds: Vec::new(),
            keys: Vec::new(),
            last_queried: 0,
            last_success: 0,
            next_probe_time: 0,
            query_failed: 0,
            query_interval: 0,
            retry_time: 0,
            revoked: false,
        };
        for anchor in anchors {
            match anchor {
                Anchor::Ds(ds) => point.ds.push(ds.clone()),
                Anchor::Dnskey(key) => {
                    point
                        .keys
                        .push(TrackedKey::new(key.clone(), 0, KeyState::Valid))
                }
            }
        }
        point
    }

    /// The anchors trusted now: pending DS records and Valid/Missing keys.
    pub fn anchors(&self) -> Vec<Anchor> {
        if self.revoked {
            return Vec::new();
        }
        let mut out: Vec<Anchor> = self.ds.iter().cloned().map(Anchor::Ds).collect();
        out.extend(
            self.keys
                .iter()
                .filter(|k| k.state.trusted())
                .map(|k| Anchor::Dnskey(k.key.clone())),
        );
        out
    }

    fn find(&self, key: &DNSKEY) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| same_key_ignoring_revoke(&k.key, key))
    }

    fn set_state(&mut self, i: usize, to: KeyState, now: UnixTime, out: &mut Vec<Transition>) {
        let key = &mut self.keys[i];
        let from = key.state;
        key.state = to;
        key.last_change = now;
        if from != to {
            out.push(Transition {
                key_tag: key_tag(&key.key),
                from,
                to,
            });
        }
    }
}

/// What an observation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The RRset verified; the state table ran.
    Updated,
    /// The RRset did not verify with a trusted key: nothing new is
    /// believed (self-signed revocations excepted), the probe is retried.
    NotValidated,
    /// Every key is revoked: the zone has no trust anchor any more.
    TrustPointRevoked,
    /// The zone is not anchored, its trust point was revoked earlier, or
    /// rollover tracking is off (no `state_dir`).
    Ignored,
}

/// The result of [`Rfc5011::observe`].
#[derive(Debug, Clone)]
pub struct Observed {
    /// What happened.
    pub outcome: Outcome,
    /// Key state changes, in order.
    pub transitions: Vec<Transition>,
    /// The state file could not be written (the new state is kept in
    /// memory and written again after the next probe).
    pub persist_error: Option<StateError>,
}

/// One row of `dnsward_dnssec_trust_anchor_info{zone,key_tag,state}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorInfo {
    /// Zone, e.g. `.` or `example.`.
    pub zone: String,
    /// Key tag (of the DS, or the key as now published).
    pub key_tag: u16,
    /// `configured` (from the configuration, not yet confirmed by a probe,
    /// or tracking off) or a [`KeyState::label`].
    pub state: &'static str,
}

/// Counters for metrics and the health report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// State files that could not be read at start (configured anchors
    /// used instead).
    pub state_errors: u64,
    /// State file writes that failed.
    pub write_errors: u64,
    /// Probe answers handed in.
    pub probes: u64,
    /// Probes that failed (no answer, or an RRset that did not verify).
    pub probe_failures: u64,
}

/// The RFC 5011 trust anchor tracker for every anchored zone.
#[derive(Debug, Clone)]
pub struct Rfc5011 {
    points: BTreeMap<Name, TrustPoint>,
    state_dir: Option<PathBuf>,
    timers: Timers,
    stats: Stats,
}

impl Rfc5011 {
    /// Tracks the zones of `configured`. With a `state_dir`, a state file
    /// found there replaces a zone's configured anchors; unreadable state
    /// files are returned (and counted) and the configured anchors used.
    /// Without one, the configured anchors are used as they are and no
    /// probe is ever due.
    pub fn new(
        configured: &AnchorSet,
        state_dir: Option<&Path>,
        timers: Timers,
    ) -> (Self, Vec<StateError>) {
        let state_dir = state_dir
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        let mut errors = Vec::new();
        let mut points = BTreeMap::new();
        for zone in configured.zones() {
            let mut point = TrustPoint::from_anchors(zone, configured.get(zone));
            if let Some(dir) = &state_dir {
                let path = dir.join(statefile::file_name(zone));
                match statefile::read(&path, zone) {
                    Ok(Some(loaded)) => point = loaded,
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
            points.insert(point.zone.clone(), point);
        }
        let stats = Stats {
            state_errors: errors.len() as u64,
            ..Stats::default()
        };
        (
            Self {
                points,
                state_dir,
                timers,
                stats,
            },
            errors,
        )
    }

    /// Whether rollover is tracked (a `state_dir` is configured).
    pub fn tracking(&self) -> bool {
        self.state_dir.is_some()
    }

    /// The state file of `zone` (when tracking).
    pub fn state_file(&self, zone: &Name) -> Option<PathBuf> {
        self.state_dir
            .as_ref()
            .map(|dir| dir.join(statefile::file_name(zone)))
    }

    /// The zones to probe now. Each returned zone is rescheduled at its
    /// retry time, so a probe that never reports back is retried rather than
    /// repeated in a loop; a good answer then sets the refresh interval.
    pub fn due(&mut self, now: UnixTime) -> Vec<Name> {
        if !self.tracking() {
            return Vec::new();
        }
        let mut due = Vec::new();
        for point in self.points.values_mut() {
            if !point.revoked && point.next_probe_time <= now {
                point.next_probe_time = now + point.retry_time.max(HOUR);
                due.push(point.zone.clone());
            }
        }
        due
    }

    /// The earliest time a probe is due (None: nothing to probe).
    pub fn next_due(&self) -> Option<UnixTime> {
        if !self.tracking() {
            return None;
        }
        self.points
            .values()
            .filter(|p| !p.revoked)
            .map(|p| p.next_probe_time)
            .min()
    }

    /// A probe of `zone` got no usable answer (timeout, SERVFAIL): it is
    /// retried at the retry time.
    pub fn probe_failed(&mut self, zone: &Name, now: UnixTime) {
        if let Some(point) = self.points.get_mut(&zone.to_lowercase()) {
            point.next_probe_time = now + point.retry_time.max(HOUR);
            self.stats.probe_failures += 1;
        }
    }

    /// Hands in the answer of a DNSKEY probe of `zone`: the DNSKEY records
    /// and the RRSIGs covering them (other records are ignored, so the whole
    /// answer section may be passed for both).
    pub fn observe(
        &mut self,
        zone: &Name,
        dnskeys: &[Record],
        rrsigs: &[Record],
        now: UnixTime,
    ) -> Observed {
        let zone = zone.to_lowercase();
        let mut transitions = Vec::new();
        let timers = self.timers;
        let Some(point) = self.points.get_mut(&zone) else {
            return ignored();
        };
        if point.revoked || self.state_dir.is_none() {
            return ignored();
        }
        self.stats.probes += 1;
        let outcome = process(point, dnskeys, rrsigs, now, timers, &mut transitions);
        if outcome == Outcome::NotValidated {
            self.stats.probe_failures += 1;
        }
        let persist_error = self.persist(&zone);
        Observed {
            outcome,
            transitions,
            persist_error,
        }
    }

    fn persist(&mut self, zone: &Name) -> Option<StateError> {
        let path = self.state_file(zone)?;
        let point = self.points.get(zone)?;
        match statefile::write(&path, point) {
            Ok(()) => None,
            Err(e) => {
                self.stats.write_errors += 1;
                Some(e)
            }
        }
    }

    /// The anchors of `zone` trusted now (configured ones, or those RFC 5011
    /// tracking trusts: DS not yet probed, Valid and Missing keys).
    pub fn anchors_for(&self, zone: &Name) -> Vec<Anchor> {
        self.points
            .get(&zone.to_lowercase())
            .map(TrustPoint::anchors)
            .unwrap_or_default()
    }

    /// Every zone's trusted anchors, for the validator to swap in after a
    /// probe changed something. A revoked trust point is left out.
    pub fn trusted(&self) -> AnchorSet {
        let mut set = AnchorSet::new();
        for point in self.points.values() {
            set.set_zone(point.zone.clone(), point.anchors());
        }
        set
    }

    /// The trust point of `zone`, for inspection.
    pub fn point(&self, zone: &Name) -> Option<&TrustPoint> {
        self.points.get(&zone.to_lowercase())
    }

    /// Rows for `dnsward_dnssec_trust_anchor_info{zone,key_tag,state}`.
    pub fn info(&self) -> Vec<AnchorInfo> {
        let mut rows = Vec::new();
        for point in self.points.values() {
            let zone = point.zone.to_ascii();
            for ds in &point.ds {
                rows.push(AnchorInfo {
                    zone: zone.clone(),
                    key_tag: ds.key_tag(),
                    state: "configured",
                });
            }
            for key in &point.keys {
                let state = if !self.tracking() || (key.last_change == 0 && point.last_success == 0)
                {
                    "configured"
                } else {
                    key.state.label()
                };
                rows.push(AnchorInfo {
                    zone: zone.clone(),
                    key_tag: key_tag(&key.key),
                    state,
                });
            }
        }
        rows
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

/// Whether `dir` can hold the state files: an existing directory where a
/// file can be created. For the configuration check, so a bad
/// `dnssec.state_dir` is refused at start rather than at the first probe.
pub fn check_state_dir(dir: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let probe = dir.join(format!(".dnsward-write-check-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| format!("{}: not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn ignored() -> Observed {
    Observed {
        outcome: Outcome::Ignored,
        transitions: Vec::new(),
        persist_error: None,
    }
}

#[cfg(test)]
mod tests;
