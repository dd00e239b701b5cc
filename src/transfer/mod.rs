//! RPZ lists kept as secondaries of a zone (`[lists.transfer]`).
//!
//! One task per transfer list ([`run_secondary`]) keeps the zone current:
//! an AXFR at start (after the seed, the last good version written to the
//! list's `path`, has been loaded like any file), then an IXFR from the
//! serving serial at every SOA refresh, every retry after a failure, and at
//! once when a primary sends NOTIFY ([`NotifyRouter`], called from the DNS
//! listeners). Each new version is rendered as a zone file beside the seed
//! and offered to the [`PolicyStore`], which compiles it off the request
//! path with the same guards, audit and atomic swap as a list file; only
//! an accepted version replaces the seed.

pub mod client;
mod registry;
pub mod tsig;
pub mod zone;

pub use registry::{Repoint, RepointedList, Transfers};

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::config::{parse_addr, ExpirePolicy, ListConfig, TransferConfig};
use crate::metrics::Metrics;
use crate::policy::store::{Patched, PolicyStore};
use crate::wire::Reject;
use client::{Answer, XfrError};
use tsig::TsigKey;
use zone::{serial_gt, Zone};

/// Defaults when there is no SOA yet (no seed, first transfer failing).
const DEFAULT_RETRY: Duration = Duration::from_secs(30);
/// SOA timers below this are raised to it (a zone with refresh 1 would
/// otherwise make every node hammer the primary).
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// One transfer list, as the NOTIFY hook and its task need it.
pub struct Secondary {
    /// Index of the list in the policy.
    pub index: usize,
    /// List name (metrics, logs).
    pub name: String,
    /// The zone, lowercase wire-comparable text without the final dot.
    pub zone: String,
    /// Its name.
    pub zone_name: Name,
    /// Primaries, in order.
    pub primaries: Vec<SocketAddr>,
    /// TSIG key, if any.
    pub key: Option<TsigKey>,
    /// Woken by NOTIFY.
    pub wake: Notify,
    cfg: TransferConfig,
    seed: PathBuf,
    /// The key file's bytes when loaded: a reload with a rewritten key
    /// file restarts the transfer with the new key.
    key_text: Option<Vec<u8>>,
}

/// Build the secondaries of a validated list set (lists with `transfer`).
pub fn secondaries(lists: &[ListConfig]) -> Vec<Arc<Secondary>> {
    secondaries_at(lists, |i, _| Some(i))
}

/// [`secondaries`], each list's policy index given by `index_of(position,
/// name)` (None: not in the serving policy, skipped).
pub(crate) fn secondaries_at(
    lists: &[ListConfig],
    index_of: impl Fn(usize, &str) -> Option<usize>,
) -> Vec<Arc<Secondary>> {
    let mut out = Vec::new();
    for (pos, l) in lists.iter().enumerate() {
        let Some(t) = &l.transfer else { continue };
        let Some(index) = index_of(pos, &l.name) else {
            continue;
        };
        let Ok(zone_name) = Name::from_ascii(&t.zone) else {
            continue;
        };
        let key = match &t.tsig_key_file {
            Some(p) => match TsigKey::load(p) {
                Ok(k) => Some(k),
                Err(e) => {
                    // Validation loaded it; a file changed since is not
                    // silently replaced by "no TSIG".
                    warn!(list = %l.name, "{e}; transfers disabled");
                    continue;
                }
            },
            None => None,
        };
        out.push(Arc::new(Secondary {
            key_text: t.tsig_key_file.as_ref().and_then(|p| std::fs::read(p).ok()),
            index,
            name: l.name.clone(),
            zone: t.zone.trim_end_matches('.').to_ascii_lowercase(),
            zone_name,
            primaries: t
                .primaries
                .iter()
                .filter_map(|p| parse_addr(p, 53).ok())
                .collect(),
            key,
            wake: Notify::new(),
            cfg: t.clone(),
            seed: l.path.clone(),
        }));
    }
    out
}

/// The transfer state of one list.
struct State {
    zone: Option<Zone>,
    /// When the zone was last confirmed current (a successful check), or
    /// the seed's mtime before the first.
    last_ok: Option<Instant>,
    expired: bool,
}

impl Secondary {
    fn refresh(&self, z: Option<&Zone>) -> Duration {
        let soa = z.map_or(0, |z| z.soa.data.refresh.max(0) as u32);
        pick(self.cfg.refresh_secs, soa, DEFAULT_RETRY)
    }

    fn retry(&self, z: Option<&Zone>) -> Duration {
        let soa = z.map_or(0, |z| z.soa.data.retry.max(0) as u32);
        pick(self.cfg.retry_secs, soa, DEFAULT_RETRY)
    }

    fn expire(&self, z: Option<&Zone>) -> Option<Duration> {
        let soa = z.map_or(0, |z| z.soa.data.expire.max(0) as u32);
        let s = if self.cfg.expire_secs > 0 {
            self.cfg.expire_secs
        } else {
            soa
        };
        (s > 0).then(|| Duration::from_secs(u64::from(s)))
    }
}

fn pick(configured: u32, soa: u32, fallback: Duration) -> Duration {
    let d = match (configured, soa) {
        (0, 0) => fallback,
        (0, s) => Duration::from_secs(u64::from(s)),
        (c, _) => Duration::from_secs(u64::from(c)),
    };
    d.max(MIN_INTERVAL)
}

/// Keep one list's zone current until the task is aborted.
pub async fn run_secondary(sec: Arc<Secondary>, store: Arc<PolicyStore>, metrics: Arc<Metrics>) {
    // A seed of another zone (the list was re-pointed) still serves, but
    // is no base for an IXFR of this one: the first transfer is an AXFR.
    let seed = Zone::read_seed(&sec.seed).filter(|z| {
        z.soa
            .owner
            .trim_end_matches('.')
            .eq_ignore_ascii_case(&sec.zone)
    });
    let mut st = State {
        last_ok: seed.as_ref().map(|_| seed_age(&sec.seed)),
        zone: seed,
        expired: false,
    };
    if let Some(z) = &st.zone {
        metrics
            .list_serial
            .with_label_values(&[&sec.name])
            .set(i64::from(z.soa.serial()));
        info!(list = %sec.name, serial = z.soa.serial(), "seed loaded; enforcing it until the first transfer");
    }
    metrics.list_expired.with_label_values(&[&sec.name]).set(0);
    loop {
        let ok = check_once(&sec, &store, &metrics, &mut st).await;
        if ok {
            st.last_ok = Some(Instant::now());
            if st.expired {
                st.expired = false;
                metrics.list_expired.with_label_values(&[&sec.name]).set(0);
                info!(list = %sec.name, "zone current again");
            }
        } else if let (Some(last), Some(exp)) = (st.last_ok, sec.expire(st.zone.as_ref())) {
            if !st.expired && last.elapsed() >= exp {
                st.expired = true;
                match sec.cfg.expire_policy {
                    ExpirePolicy::Keep => {
                        warn!(list = %sec.name, "zone past its SOA expire; still enforcing the last good version (expire_policy = keep)")
                    }
                    ExpirePolicy::Drop => {
                        warn!(list = %sec.name, "zone past its SOA expire; list no longer enforced (expire_policy = drop)");
                        let s = store.clone();
                        let i = sec.index;
                        let _ = tokio::task::spawn_blocking(move || s.withdraw(i)).await;
                        st.zone = None;
                    }
                }
                // After the withdrawal, so the gauge never runs ahead of
                // what is served.
                metrics.list_expired.with_label_values(&[&sec.name]).set(1);
            }
        }
        let wait = if ok {
            sec.refresh(st.zone.as_ref())
        } else {
            sec.retry(st.zone.as_ref())
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = sec.wake.notified() => {
                info!(list = %sec.name, "NOTIFY received; checking the primary now");
            }
        }
    }
}

/// An `Instant` as old as the seed file (its mtime), so the expire clock
/// survives a restart.
fn seed_age(path: &std::path::Path) -> Instant {
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .unwrap_or_default();
    Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
}

/// One refresh: try the primaries in order until one answers. True when
/// the zone is known current afterwards.
async fn check_once(
    sec: &Secondary,
    store: &Arc<PolicyStore>,
    metrics: &Arc<Metrics>,
    st: &mut State,
) -> bool {
    let timeout = Duration::from_secs(u64::from(sec.cfg.timeout_secs.max(1)));
    for primary in &sec.primaries {
        let have = st.zone.as_ref().map(|z| z.soa.clone());
        // The client asks by AXFR when the SOA cannot be sent.
        let kind = if have.as_ref().and_then(zone::Soa::record).is_some() {
            "ixfr"
        } else {
            "axfr"
        };
        let res = client::transfer(
            *primary,
            &sec.zone_name,
            have.as_ref(),
            sec.key.as_ref(),
            timeout,
        )
        .await;
        let new_zone = match res {
            Ok(Answer::UpToDate(serial)) => {
                if let Some(h) = &have {
                    if serial_gt(h.serial(), serial) {
                        refuse(
                            sec,
                            store,
                            metrics,
                            kind,
                            "serial_backwards",
                            format!(
                                "primary {primary} is at serial {serial}, behind the serving {}",
                                h.serial()
                            ),
                        )
                        .await;
                        continue;
                    }
                }
                // Confirmed current: not a transfer, but the freshness
                // alert must not fire on a zone that simply did not change.
                metrics
                    .list_last_success
                    .with_label_values(&[&sec.name])
                    .set(crate::metrics::unix_now());
                return true;
            }
            Ok(Answer::Incremental(records)) => {
                let Some(cur) = st.zone.take() else {
                    continue;
                };
                let (zone, out) = incremental(sec, store, metrics, cur, records).await;
                st.zone = zone;
                match out {
                    Inc::Applied { serial, entries } => {
                        info!(list = %sec.name, serial, kind = "ixfr", entries, "zone transfer applied");
                        return true;
                    }
                    Inc::Refused(reason) => {
                        metrics.record_transfer(&sec.name, "ixfr", reason);
                        return false;
                    }
                    Inc::Backwards(serial) => {
                        let serving = st.zone.as_ref().map_or(0, |z| z.soa.serial());
                        refuse(
                            sec,
                            store,
                            metrics,
                            "ixfr",
                            "serial_backwards",
                            format!("IXFR from {primary} has serial {serial}, behind the serving {serving}"),
                        )
                        .await;
                        continue;
                    }
                    Inc::Mismatch(e) => {
                        warn!(list = %sec.name, %primary, "IXFR does not apply ({e}); falling back to AXFR");
                        metrics.record_transfer(&sec.name, "ixfr", "diff_mismatch");
                        axfr(sec, *primary, timeout, metrics).await
                    }
                }
            }
            Ok(Answer::Newer(serial)) => {
                info!(list = %sec.name, %primary, serial, "primary offers serial {serial} by AXFR only");
                metrics.record_transfer(&sec.name, "ixfr", "axfr_only");
                axfr(sec, *primary, timeout, metrics).await
            }
            Ok(Answer::Full(records)) => Zone::from_axfr(&records).map(|z| (z, kind)),
            // A primary that cannot serve IXFR, or whose IXFR answer does
            // not parse, may still serve the zone whole: the AXFR's own
            // outcome (and guards) decide.
            Err(e @ (XfrError::Rcode(_) | XfrError::Malformed(_))) if kind == "ixfr" => {
                warn!(list = %sec.name, %primary, "IXFR not served ({e}); falling back to AXFR");
                metrics.record_transfer(&sec.name, "ixfr", e.reason());
                axfr(sec, *primary, timeout, metrics).await
            }
            Err(e) => {
                warn!(list = %sec.name, %primary, "{kind} failed: {e}; keeping the serving version");
                metrics.record_transfer(&sec.name, kind, e.reason());
                if matches!(
                    e,
                    XfrError::Tsig(_) | XfrError::Truncated | XfrError::Malformed(_)
                ) {
                    store.refuse_fetch(
                        sec.index,
                        e.reason(),
                        format!("{kind} from {primary}: {e}"),
                    );
                }
                continue;
            }
        };
        let Some((z, how)) = new_zone else { continue };
        if let Some(h) = &have {
            if z.soa.serial() == h.serial() {
                metrics.record_transfer(&sec.name, how, "success");
                return true;
            }
            if !serial_gt(z.soa.serial(), h.serial()) {
                refuse(
                    sec,
                    store,
                    metrics,
                    how,
                    "serial_backwards",
                    format!(
                        "{how} from {primary} has serial {}, behind the serving {}",
                        z.soa.serial(),
                        h.serial()
                    ),
                )
                .await;
                continue;
            }
        }
        if install(sec, store, metrics, &z, how).await {
            st.zone = Some(z);
            return true;
        }
        // Refused by a guard: the same version from the next primary
        // would be refused too.
        return false;
    }
    false
}

/// How an IXFR diff fared.
enum Inc {
    /// Serving the new version (patched in, or compiled whole).
    Applied { serial: u32, entries: usize },
    /// Refused by a guard (reason label); the serving version stays.
    Refused(&'static str),
    /// The diff leads to an older serial.
    Backwards(u32),
    /// The diff does not apply to the serving version.
    Mismatch(zone::DiffError),
}

/// Apply an IXFR to the serving zone, off the runtime: the diff is applied
/// to the zone in place, patched into the compiled list (the swap), and
/// only then the seed rewritten. Should the set have no room for a patch,
/// the new version is compiled whole as after an AXFR. A refused diff is
/// undone. Returns the zone (None only if the blocking task died, which
/// makes the next check an AXFR).
async fn incremental(
    sec: &Secondary,
    store: &Arc<PolicyStore>,
    metrics: &Arc<Metrics>,
    mut zone: Zone,
    records: Vec<hickory_proto::rr::Record>,
) -> (Option<Zone>, Inc) {
    let s = store.clone();
    let index = sec.index;
    let seed = sec.seed.clone();
    let name = sec.name.clone();
    let metrics = metrics.clone();
    let res = tokio::task::spawn_blocking(move || {
        let have = zone.soa.serial();
        let applied = match zone.apply_ixfr_in_place(&records) {
            Ok(a) => a,
            Err(e) => return (zone, Inc::Mismatch(e)),
        };
        let serial = zone.soa.serial();
        if !serial_gt(serial, have) {
            zone.undo(applied);
            return (zone, Inc::Backwards(serial));
        }
        let (text, triggers) = zone.rpz_patch(&applied.owners);
        let patch = crate::policy::RpzPatch { text, triggers };
        let outcome = match s.offer_patch(index, &patch) {
            Patched::Done(o) => {
                if o.result != "refused" {
                    // Serving already (the gauge says so now, not after
                    // the seed of a large zone is written); the seed
                    // follows.
                    metrics.record_transfer(&name, "ixfr", "success");
                    metrics
                        .list_serial
                        .with_label_values(&[&name])
                        .set(i64::from(serial));
                    if let Err(e) = write_seed(&seed, &zone) {
                        warn!(list = %name, "cannot write {}: {e}; the next restart starts from the previous seed", seed.display());
                    }
                }
                Some(*o)
            }
            Patched::Rebuild => {
                let o = offer_whole(&s, index, &seed, &zone);
                if o.as_ref().is_some_and(|o| o.result != "refused") {
                    metrics.record_transfer(&name, "ixfr", "success");
                    metrics
                        .list_serial
                        .with_label_values(&[&name])
                        .set(i64::from(serial));
                }
                o
            }
        };
        match outcome {
            Some(o) if o.result != "refused" => (
                zone,
                Inc::Applied {
                    serial,
                    entries: o.entries_after,
                },
            ),
            o => {
                zone.undo(applied);
                (
                    zone,
                    Inc::Refused(o.and_then(|o| o.reason).unwrap_or("refused")),
                )
            }
        }
    })
    .await;
    match res {
        Ok((z, inc)) => (Some(z), inc),
        Err(_) => (None, Inc::Refused("refused")),
    }
}

/// The seed path's temporary twin.
fn seed_tmp(seed: &std::path::Path) -> PathBuf {
    let mut tmp = seed.as_os_str().to_os_string();
    tmp.push(".xfr-tmp");
    PathBuf::from(tmp)
}

/// Render `z` over the seed, atomically.
fn write_seed(seed: &std::path::Path, z: &Zone) -> std::io::Result<()> {
    let tmp = seed_tmp(seed);
    if let Some(dir) = seed.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&tmp, z.render())?;
    std::fs::rename(&tmp, seed)
}

/// Offer the whole version `z` to the store, through a file beside the
/// seed renamed over it when accepted. Blocking.
fn offer_whole(
    store: &PolicyStore,
    index: usize,
    seed: &std::path::Path,
    z: &Zone,
) -> Option<crate::policy::store::ListOutcome> {
    let tmp = seed_tmp(seed);
    if let Some(dir) = seed.parent() {
        std::fs::create_dir_all(dir).ok()?;
    }
    std::fs::write(&tmp, z.render()).ok()?;
    let out = store.offer_file(index, &tmp, || std::fs::rename(&tmp, seed));
    // Refused: the candidate is ours to delete (gone once renamed).
    let _ = std::fs::remove_file(&tmp);
    out
}

async fn axfr(
    sec: &Secondary,
    primary: SocketAddr,
    timeout: Duration,
    metrics: &Metrics,
) -> Option<(Zone, &'static str)> {
    match client::transfer(primary, &sec.zone_name, None, sec.key.as_ref(), timeout).await {
        Ok(Answer::Full(r)) => Zone::from_axfr(&r).map(|z| (z, "axfr")),
        Ok(_) => None,
        Err(e) => {
            warn!(list = %sec.name, %primary, "axfr failed: {e}");
            metrics.record_transfer(&sec.name, "axfr", e.reason());
            None
        }
    }
}

async fn refuse(
    sec: &Secondary,
    store: &Arc<PolicyStore>,
    metrics: &Metrics,
    kind: &str,
    reason: &'static str,
    text: String,
) {
    warn!(list = %sec.name, "{text}; refused, keeping the serving version");
    metrics.record_transfer(&sec.name, kind, reason);
    // Counted in dnsward_list_reload_failures_total and audited there.
    store.refuse_fetch(sec.index, reason, text);
}

/// Render, offer to the store (blocking compile off the runtime). True if
/// accepted.
async fn install(
    sec: &Secondary,
    store: &Arc<PolicyStore>,
    metrics: &Metrics,
    z: &Zone,
    how: &'static str,
) -> bool {
    let text = z.render();
    let mut tmp = sec.seed.as_os_str().to_os_string();
    tmp.push(".xfr-tmp");
    let tmp = PathBuf::from(tmp);
    let s = store.clone();
    let index = sec.index;
    let seed = sec.seed.clone();
    let res = tokio::task::spawn_blocking(move || {
        if let Some(dir) = seed.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&tmp, text)?;
        let out = s.offer_file(index, &tmp, || std::fs::rename(&tmp, &seed));
        // Refused: the candidate is ours to delete (gone once renamed).
        let _ = std::fs::remove_file(&tmp);
        Ok::<_, std::io::Error>(out)
    })
    .await;
    match res {
        Ok(Ok(Some(o))) if o.result != "refused" => {
            metrics.record_transfer(&sec.name, how, "success");
            metrics
                .list_serial
                .with_label_values(&[&sec.name])
                .set(i64::from(z.soa.serial()));
            info!(list = %sec.name, serial = z.soa.serial(), kind = how, entries = o.entries_after, "zone transfer applied");
            true
        }
        Ok(Ok(Some(o))) => {
            metrics.record_transfer(&sec.name, how, o.reason.unwrap_or("refused"));
            false
        }
        Ok(Ok(None)) => false,
        Ok(Err(e)) => {
            warn!(list = %sec.name, "cannot write {}: {e}", sec.seed.display());
            metrics.record_transfer(&sec.name, how, "write");
            false
        }
        Err(_) => false,
    }
}

/// Routes NOTIFY messages arriving on the DNS listeners to the list whose
/// zone they name, if they come from one of its primaries.
#[derive(Default)]
pub struct NotifyRouter {
    /// Swapped when a reload re-points transfers.
    lists: arc_swap::ArcSwap<Vec<Arc<Secondary>>>,
}

/// A NOTIFY's fate (for the rejected-queries counter).
#[derive(Debug, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Answered and the list's task woken.
    Accepted,
    /// Refused (unknown zone, not a primary, bad TSIG, malformed).
    Refused(Reject),
}

impl NotifyRouter {
    /// A router for these secondaries.
    pub fn new(lists: Vec<Arc<Secondary>>) -> Self {
        Self {
            lists: arc_swap::ArcSwap::from_pointee(lists),
        }
    }

    /// Route to these secondaries from now on.
    pub fn set(&self, lists: Vec<Arc<Secondary>>) {
        self.lists.store(Arc::new(lists));
    }

    /// True when no list is transferred (NOTIFY is then NOTIMP, as any
    /// other unsupported opcode).
    pub fn is_empty(&self) -> bool {
        self.lists.load().is_empty()
    }

    /// Handle a NOTIFY request (opcode 4, QR=0) from `src`: the response
    /// bytes (always some: NOERROR+AA when accepted, else REFUSED) and the
    /// outcome.
    pub fn handle(&self, packet: &[u8], src: IpAddr) -> (Option<Vec<u8>>, NotifyOutcome) {
        let Some((qname, qend)) = question(packet) else {
            return (None, NotifyOutcome::Refused(Reject::NotifyMalformed));
        };
        let refused = |why| (Some(reply(packet, qend, 5)), NotifyOutcome::Refused(why));
        let lists = self.lists.load();
        let Some(sec) = lists.iter().find(|s| s.zone == qname) else {
            return refused(Reject::NotifyUnknownZone);
        };
        if !sec.primaries.iter().any(|p| same_ip(p.ip(), src)) {
            return refused(Reject::NotifyNotPrimary);
        }
        let mut resp = reply(packet, qend, 0);
        if let Some(key) = &sec.key {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            match key.verify_request(packet, now) {
                Ok(mac) => {
                    key.sign(&mut resp, Some(&mac), now);
                }
                Err(_) => return refused(Reject::NotifyTsig),
            }
        }
        sec.wake.notify_one();
        (Some(resp), NotifyOutcome::Accepted)
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    canon(a) == canon(b)
}

/// The single question's name (lowercase, no final dot) and where the
/// question section ends.
fn question(p: &[u8]) -> Option<(String, usize)> {
    if p.len() < 12 || u16::from_be_bytes([p[4], p[5]]) != 1 {
        return None;
    }
    let mut pos = 12;
    let mut name = String::new();
    loop {
        let len = usize::from(*p.get(pos)?);
        if len == 0 {
            pos += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        let label = p.get(pos + 1..pos + 1 + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += 1 + len;
    }
    (pos + 4 <= p.len()).then_some((name, pos + 4))
}

/// A NOTIFY response: the request's header and question, QR=1, AA=1 when
/// accepted, no records.
fn reply(p: &[u8], qend: usize, rcode: u8) -> Vec<u8> {
    let mut r = p[..qend].to_vec();
    r[2] = (r[2] & 0x78) | 0x80 | if rcode == 0 { 0x04 } else { 0 };
    r[3] = rcode;
    r[6..12].fill(0);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(zone: &str) -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in zone.split('.') {
            m.push(l.len() as u8);
            m.extend(l.bytes());
        }
        m.extend([0, 0, 6, 0, 1]);
        m
    }

    fn router(key: Option<TsigKey>) -> NotifyRouter {
        let mut l = ListConfig::simple(
            "court",
            "/nonexistent/court.rpz".into(),
            crate::config::ListKind::Block,
        );
        l.transfer = Some(TransferConfig {
            primaries: vec!["127.0.0.9:5300".into()],
            zone: "rpz.court.example.".into(),
            tsig_key_file: None,
            refresh_secs: 0,
            retry_secs: 0,
            expire_secs: 0,
            expire_policy: ExpirePolicy::Keep,
            timeout_secs: 5,
        });
        let mut s = secondaries(&[l]);
        if let Some(k) = key {
            if let Some(sec) = Arc::get_mut(&mut s[0]) {
                sec.key = Some(k);
            }
        }
        NotifyRouter::new(s)
    }

    #[test]
    fn notify_only_from_a_primary_for_a_known_zone() {
        let r = router(None);
        let ok: IpAddr = "127.0.0.9".parse().expect("ip");
        let (resp, out) = r.handle(&notify("rpz.Court.example"), ok);
        assert_eq!(out, NotifyOutcome::Accepted);
        let resp = resp.expect("answered");
        assert_eq!(resp[2] & 0x80, 0x80, "QR");
        assert_eq!(resp[2] & 0x04, 0x04, "AA");
        assert_eq!((resp[2] >> 3) & 0x0f, 4, "opcode NOTIFY");
        assert_eq!(resp[3] & 0x0f, 0);
        let (resp, out) = r.handle(
            &notify("rpz.court.example"),
            "127.0.0.8".parse().expect("ip"),
        );
        assert_eq!(out, NotifyOutcome::Refused(Reject::NotifyNotPrimary));
        assert_eq!(resp.expect("answered")[3] & 0x0f, 5);
        let (_, out) = r.handle(&notify("other.example"), ok);
        assert_eq!(out, NotifyOutcome::Refused(Reject::NotifyUnknownZone));
    }

    #[test]
    fn notify_needs_a_valid_tsig_when_a_key_is_set() {
        let key = TsigKey::new("k", tsig::Algorithm::Sha256, b"s3cret".to_vec()).expect("key");
        let r = router(Some(key.clone()));
        let ok: IpAddr = "127.0.0.9".parse().expect("ip");
        let (_, out) = r.handle(&notify("rpz.court.example"), ok);
        assert_eq!(out, NotifyOutcome::Refused(Reject::NotifyTsig));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut m = notify("rpz.court.example");
        let mac = key.sign(&mut m, None, now);
        let (resp, out) = r.handle(&m, ok);
        assert_eq!(out, NotifyOutcome::Accepted);
        // The response is signed over the request's MAC.
        let resp = resp.expect("answered");
        let mut v = tsig::StreamVerifier::new(&key, mac);
        v.message(&resp, now).expect("signed response");
    }
}
