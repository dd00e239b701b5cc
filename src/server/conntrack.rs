//! The table of open stream connections (TCP now; DoT and DoH reuse it):
//! who is connected, since when idle, and who goes when the table is full.
//!
//! RFC 7766 6.2.3: a server under connection pressure should shorten idle
//! timeouts and close idle connections rather than refuse new clients.
//! Without that, a few hundred addresses each holding a dozen idle
//! connections (under the per-client cap) fill every slot for the whole
//! idle timeout and every new client gets EOF. So:
//! - at or above the high-water mark ([`HIGH_WATER_PERCENT`] of the
//!   limit) idle connections get [`PRESSURE_IDLE`] (Unbound's 200 ms)
//!   instead of the configured idle timeout, and connections already
//!   waiting are told to recompute their deadline;
//! - at the limit, admitting a connection closes the longest-idle one;
//!   a connection with a query in progress is never chosen, so no client
//!   loses an answer it is waiting for. Only when every connection is
//!   busy is the newcomer refused.
//!
//! The per-client cap is checked first and never evicts anyone: one
//! address cannot push others out beyond its own share.
//!
//! Clocks are passed in (`now`), so the policy is tested without sleeping.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntGauge};
use tokio::sync::{watch, Notify};

use crate::metrics::Metrics;

/// Share of the connection limit at which the table is under pressure
/// and idle timeouts shrink, in percent.
pub const HIGH_WATER_PERCENT: usize = 75;
/// Idle timeout under pressure (Unbound's `tcp-idle-timeout` under load).
pub const PRESSURE_IDLE: Duration = Duration::from_millis(200);

/// Limits of one connection table.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Connections open at once, over every listener sharing the table.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_per_client: usize,
    /// Idle timeout without pressure.
    pub idle: Duration,
}

impl ConnLimits {
    /// Open connections at which the table is under pressure.
    pub fn high_water(&self) -> usize {
        (self.max_connections * HIGH_WATER_PERCENT)
            .div_ceil(100)
            .max(1)
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its address already holds `max_per_client` connections.
    ClientLimit,
    /// The table is full and every connection has a query in progress.
    Full,
}

/// Metric handles of one table, resolved once for its protocol label.
#[derive(Clone)]
pub struct ConnMetrics {
    /// `dnsward_tcp_connections{protocol}`.
    pub open: IntGauge,
    /// `dnsward_tcp_evictions_total{protocol,reason="limit"}`.
    pub evicted_limit: IntCounter,
    /// `dnsward_tcp_evictions_total{protocol,reason="pressure"}`.
    pub evicted_pressure: IntCounter,
}

impl ConnMetrics {
    /// The handles for `protocol` (`tcp`; later `dot`, `doh`).
    pub fn new(m: &Metrics, protocol: &str) -> Self {
        Self {
            open: m.tcp_connections.with_label_values(&[protocol]),
            evicted_limit: m.tcp_evictions.with_label_values(&[protocol, "limit"]),
            evicted_pressure: m.tcp_evictions.with_label_values(&[protocol, "pressure"]),
        }
    }
}

/// One tracked connection.
struct Entry {
    ip: IpAddr,
    last_active: Instant,
    busy: bool,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    conns: HashMap<u64, Entry>,
    /// Connections without a query in progress, oldest activity first:
    /// the eviction order.
    idle: BTreeSet<(Instant, u64)>,
    per_client: HashMap<IpAddr, usize>,
}

impl State {
    fn release_client(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_client.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&ip);
            }
        }
    }
}

/// The connection table shared by the listeners of one protocol.
pub struct ConnTracker {
    limits: ConnLimits,
    high_water: usize,
    state: Mutex<State>,
    /// Bumped each time the table crosses the high-water mark upwards, so
    /// connections waiting with the long idle timeout shorten it now.
    /// Falling back below needs no signal: a connection whose short
    /// deadline fires recomputes it and finds the long one.
    pressure: watch::Sender<u64>,
    metrics: ConnMetrics,
}

impl ConnTracker {
    /// An empty table.
    pub fn new(limits: ConnLimits, metrics: ConnMetrics) -> Arc<Self> {
        metrics.open.set(0);
        Arc::new(Self {
            limits,
            high_water: limits.high_water(),
            state: Mutex::new(State::default()),
            pressure: watch::channel(0).0,
            metrics,
        })
    }

    /// The table's limits.
    pub fn limits(&self) -> ConnLimits {
        self.limits
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.lock().conns.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough counts
        // (every update is a few field writes); keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn idle_timeout_at(&self, open: usize) -> Duration {
        if open >= self.high_water {
            PRESSURE_IDLE.min(self.limits.idle)
        } else {
            self.limits.idle
        }
    }

    /// Admit a new connection from `ip`. At the limit the longest-idle
    /// connection is evicted (told to close, its slot given to this one).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<Tracked, Refused> {
        let mut s = self.lock();
        if s.per_client.get(&ip).copied().unwrap_or(0) >= self.limits.max_per_client {
            return Err(Refused::ClientLimit);
        }
        let before = s.conns.len();
        if before >= self.limits.max_connections {
            let Some(&oldest) = s.idle.iter().next() else {
                return Err(Refused::Full);
            };
            s.idle.remove(&oldest);
            if let Some(victim) = s.conns.remove(&oldest.1) {
                s.release_client(victim.ip);
                victim.evict.notify_one();
                self.metrics.evicted_limit.inc();
            }
        }
        let id = s.next_id;
        s.next_id += 1;
        let evict = Arc::new(Notify::new());
        s.conns.insert(
            id,
            Entry {
                ip,
                last_active: now,
                busy: false,
                evict: evict.clone(),
            },
        );
        s.idle.insert((now, id));
        *s.per_client.entry(ip).or_insert(0) += 1;
        let open = s.conns.len();
        self.metrics.open.set(open as i64);
        if before < self.high_water && open >= self.high_water {
            self.pressure.send_modify(|n| *n += 1);
        }
        Ok(Tracked {
            table: self.clone(),
            id,
            evict,
        })
    }
}

/// A connection's place in the table; dropping it frees the place.
pub struct Tracked {
    table: Arc<ConnTracker>,
    id: u64,
    evict: Arc<Notify>,
}

impl Tracked {
    /// When the connection, idle now, should be closed: its last activity
    /// plus the idle timeout that applies at the current load. None once
    /// it has been evicted.
    pub fn idle_deadline(&self) -> Option<Instant> {
        let s = self.table.lock();
        let e = s.conns.get(&self.id)?;
        Some(e.last_active + self.table.idle_timeout_at(s.conns.len()))
    }

    /// The idle timeout at the current load (also the time a started
    /// query has to arrive whole).
    pub fn idle_timeout(&self) -> Duration {
        self.table.idle_timeout_at(self.table.open())
    }

    /// Whether the connection still holds its place (not evicted).
    pub fn is_open(&self) -> bool {
        self.table.lock().conns.contains_key(&self.id)
    }

    /// A query arrived whole: from now until [`Tracked::end_query`] the
    /// connection cannot be evicted. False if it was evicted already (the
    /// caller closes it without answering).
    pub fn begin_query(&self, now: Instant) -> bool {
        let mut s = self.table.lock();
        let Some(e) = s.conns.get_mut(&self.id) else {
            return false;
        };
        let key = (e.last_active, self.id);
        e.busy = true;
        e.last_active = now;
        s.idle.remove(&key);
        true
    }

    /// The answer is written: the connection is idle again, as of `now`.
    pub fn end_query(&self, now: Instant) {
        let mut s = self.table.lock();
        let Some(e) = s.conns.get_mut(&self.id) else {
            return;
        };
        let was_busy = std::mem::replace(&mut e.busy, false);
        let old = std::mem::replace(&mut e.last_active, now);
        if !was_busy {
            s.idle.remove(&(old, self.id));
        }
        s.idle.insert((now, self.id));
    }

    /// The idle deadline passed: count it as a pressure eviction when the
    /// timeout without pressure would not have closed it yet.
    pub fn closed_idle(&self, now: Instant) {
        let s = self.table.lock();
        if let Some(e) = s.conns.get(&self.id) {
            if now.saturating_duration_since(e.last_active) < self.table.limits.idle {
                self.table.metrics.evicted_pressure.inc();
            }
        }
    }

    /// Resolves when the connection is evicted to make room; a connection
    /// evicted while not waiting here finds out on its next wait.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// Changes each time the table comes under pressure: a connection
    /// waiting for its idle deadline recomputes it on a change.
    pub fn pressure_changes(&self) -> watch::Receiver<u64> {
        self.table.pressure.subscribe()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let t = &self.table;
        let mut s = t.lock();
        if let Some(e) = s.conns.remove(&self.id) {
            s.idle.remove(&(e.last_active, self.id));
            s.release_client(e.ip);
            t.metrics.open.set(s.conns.len() as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max: usize, per_client: usize) -> (Arc<ConnTracker>, ConnMetrics) {
        let m = Metrics::new().expect("metrics");
        let cm = ConnMetrics::new(&m, "tcp");
        let limits = ConnLimits {
            max_connections: max,
            max_per_client: per_client,
            idle: Duration::from_secs(10),
        };
        (ConnTracker::new(limits, cm.clone()), cm)
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 1, 0, n])
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_full_table_evicts_the_longest_idle_connection() {
        let (t, m) = table(3, 16);
        let t0 = Instant::now();
        let a = t.admit(ip(1), at(t0, 0)).expect("a");
        let b = t.admit(ip(2), at(t0, 10)).expect("b");
        let c = t.admit(ip(3), at(t0, 20)).expect("c");
        // `a` answered a query most recently: `b` is now the longest idle.
        assert!(a.begin_query(at(t0, 30)));
        a.end_query(at(t0, 40));
        let d = t.admit(ip(4), at(t0, 50)).expect("d admitted at the limit");
        assert!(!b.is_open(), "longest-idle evicted");
        assert!(a.is_open() && c.is_open() && d.is_open());
        assert_eq!(b.idle_deadline(), None);
        assert!(
            !b.begin_query(at(t0, 60)),
            "an evicted connection answers nothing"
        );
        assert_eq!(m.evicted_limit.get(), 1);
        assert_eq!(m.open.get(), 3);
        assert_eq!(t.open(), 3);
        // The evicted connection's drop does not free a second slot.
        drop(b);
        assert_eq!(t.open(), 3);
        assert_eq!(m.open.get(), 3);
    }

    #[test]
    fn a_connection_with_a_query_in_progress_is_never_evicted() {
        let (t, m) = table(2, 16);
        let t0 = Instant::now();
        let a = t.admit(ip(1), at(t0, 0)).expect("a");
        let b = t.admit(ip(2), at(t0, 10)).expect("b");
        assert!(a.begin_query(at(t0, 20)));
        let c = t.admit(ip(3), at(t0, 30)).expect("c");
        assert!(a.is_open(), "busy connection kept");
        assert!(!b.is_open(), "idle one evicted instead");
        assert!(c.begin_query(at(t0, 40)));
        // Both busy: the newcomer is refused, nobody is cut off.
        assert_eq!(t.admit(ip(4), at(t0, 50)).err(), Some(Refused::Full));
        assert!(a.is_open() && c.is_open());
        assert_eq!(m.evicted_limit.get(), 1);
        a.end_query(at(t0, 60));
        assert!(t.admit(ip(4), at(t0, 70)).is_ok());
        assert!(!a.is_open(), "idle again, so evictable again");
    }

    #[test]
    fn the_per_client_cap_refuses_without_evicting() {
        let (t, m) = table(3, 2);
        let t0 = Instant::now();
        let a = t.admit(ip(1), t0).expect("a");
        let _b = t.admit(ip(1), t0).expect("b");
        let _c = t.admit(ip(2), t0).expect("c");
        assert_eq!(t.admit(ip(1), t0).err(), Some(Refused::ClientLimit));
        assert_eq!(m.evicted_limit.get(), 0);
        drop(a);
        assert!(
            t.admit(ip(1), t0).is_ok(),
            "a closed connection frees its client slot"
        );
    }

    #[test]
    fn an_evicted_connection_frees_its_client_slot_at_once() {
        let (t, _) = table(1, 1);
        let t0 = Instant::now();
        let a = t.admit(ip(1), at(t0, 0)).expect("a");
        let _b = t.admit(ip(2), at(t0, 10)).expect("b evicts a");
        assert!(!a.is_open());
        // ip(1) holds nothing now, although `a` is not dropped yet.
        let _c = t.admit(ip(1), at(t0, 20)).expect("ip(1) again");
    }

    #[test]
    fn idle_timeout_shrinks_above_the_high_water_mark() {
        let (t, _) = table(4, 16);
        assert_eq!(t.limits().high_water(), 3);
        let t0 = Instant::now();
        let a = t.admit(ip(1), t0).expect("a");
        let pressure = a.pressure_changes();
        let b = t.admit(ip(2), t0).expect("b");
        assert_eq!(a.idle_deadline(), Some(t0 + Duration::from_secs(10)));
        assert!(!pressure.has_changed().expect("open"));
        let c = t.admit(ip(3), t0).expect("c");
        assert!(pressure.has_changed().expect("open"), "waiters told");
        assert_eq!(a.idle_deadline(), Some(t0 + PRESSURE_IDLE));
        assert_eq!(c.idle_timeout(), PRESSURE_IDLE);
        drop(c);
        assert_eq!(b.idle_deadline(), Some(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn only_early_idle_closes_count_as_pressure_evictions() {
        let (t, m) = table(4, 16);
        let t0 = Instant::now();
        let a = t.admit(ip(1), t0).expect("a");
        a.closed_idle(at(t0, 10_000));
        assert_eq!(m.evicted_pressure.get(), 0, "normal idle close");
        a.closed_idle(at(t0, 200));
        assert_eq!(m.evicted_pressure.get(), 1);
    }

    #[test]
    fn drops_bring_the_gauge_back_to_zero() {
        let (t, m) = table(10, 16);
        let t0 = Instant::now();
        let conns: Vec<_> = (0..10)
            .map(|i| t.admit(ip(i), t0).expect("admit"))
            .collect();
        assert_eq!(m.open.get(), 10);
        drop(conns);
        assert_eq!(m.open.get(), 0);
        assert_eq!(t.open(), 0);
    }
}
