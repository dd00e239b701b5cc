//! A cap on how many lines per second a per-query log writes.
//!
//! With `logging.blocked_queries` on, every blocked query was one log
//! line: a flood of queries for a blocked name (or a subscriber's malware
//! retrying forever) became a flood of lines that could fill the disk and
//! slow every other log writer. [`LineCap`] lets `max_per_sec` lines
//! through in each second and counts the rest, so the metrics still see
//! every block and the log says how much it left out.
//!
//! Lock-free on purpose: it sits on the query path, on every core. The
//! window is a whole second counted from the cap's creation; the count is
//! reset by whichever thread first sees the new second, so a line or two
//! may slip either way at the boundary. The clock is passed in, so the
//! behaviour is tested without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus::IntCounter;

/// Lets at most `max_per_sec` lines a second through.
#[derive(Debug)]
pub struct LineCap {
    max_per_sec: u64,
    origin: Instant,
    /// Second (since `origin`) the count belongs to.
    window: AtomicU64,
    /// Lines asked for in that second.
    used: AtomicU64,
    /// Lines refused since the last line let through.
    pending: AtomicU64,
    suppressed: IntCounter,
}

impl LineCap {
    /// A cap of `max_per_sec` lines a second (0 = no cap), counting refused
    /// lines in `suppressed`.
    pub fn new(max_per_sec: u32, suppressed: IntCounter, now: Instant) -> Self {
        Self {
            max_per_sec: u64::from(max_per_sec),
            origin: now,
            window: AtomicU64::new(0),
            used: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            suppressed,
        }
    }

    /// Whether to write a line now: `Some(n)` to write it, `n` being the
    /// lines left out since the previous one written (for the line to
    /// report); `None` to drop it (counted).
    pub fn admit(&self, now: Instant) -> Option<u64> {
        if self.max_per_sec == 0 {
            return Some(0);
        }
        let second = now.saturating_duration_since(self.origin).as_secs();
        let window = self.window.load(Ordering::Relaxed);
        if second > window
            && self
                .window
                .compare_exchange(window, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.used.store(0, Ordering::Relaxed);
        }
        if self.used.fetch_add(1, Ordering::Relaxed) < self.max_per_sec {
            Some(self.pending.swap(0, Ordering::Relaxed))
        } else {
            self.pending.fetch_add(1, Ordering::Relaxed);
            self.suppressed.inc();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_over_the_cap_are_counted_and_reported_by_the_next_line() {
        let t0 = Instant::now();
        let counter = IntCounter::new("t", "t").expect("counter");
        let cap = LineCap::new(2, counter.clone(), t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(cap.admit(at(0)), Some(0));
        assert_eq!(cap.admit(at(10)), Some(0));
        assert_eq!(cap.admit(at(20)), None);
        assert_eq!(cap.admit(at(999)), None);
        assert_eq!(counter.get(), 2);
        // A new second: the first line says two were left out.
        assert_eq!(cap.admit(at(1000)), Some(2));
        assert_eq!(cap.admit(at(1500)), Some(0));
        assert_eq!(cap.admit(at(1600)), None);
        assert_eq!(cap.admit(at(5000)), Some(1));
        assert_eq!(counter.get(), 3);
    }

    #[test]
    fn zero_means_no_cap() {
        let t0 = Instant::now();
        let counter = IntCounter::new("t", "t").expect("counter");
        let cap = LineCap::new(0, counter.clone(), t0);
        for _ in 0..1000 {
            assert_eq!(cap.admit(t0), Some(0));
        }
        assert_eq!(counter.get(), 0);
    }
}
