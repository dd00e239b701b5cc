//! The query log: JSON lines of blocked queries (or of every answer),
//! for the compliance report and for an operator asked "was this name
//! blocked for that subscriber range on that day".
//!
//! Answering never waits for the disk: the query path puts a small
//! [`Entry`] into a bounded queue with `try_send` and goes on; a full
//! queue drops the entry and counts it (`dnsward_querylog_dropped_total`).
//! One writer thread formats the lines, writes them through a buffer,
//! rotates the file by size (`queries.jsonl` -> `.1` ... `.keep`) and
//! reopens it when asked (SIGHUP, for logrotate's `create` and `move`).
//!
//! Client addresses are truncated to a prefix in the writer before
//! anything is written (default /24 and /56; 0 leaves the client out).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use prometheus::IntCounter;
use serde::Serialize;
use tracing::warn;

pub use crate::config::{QueryLogConfig, QueryLogWhat};
pub use crate::metrics::QueryLogMetrics;
use crate::policy::CompiledList;

/// One answered query, as the query path hands it over: no formatting,
/// no truncation, one `Arc` clone for a blocked one.
#[derive(Debug)]
pub struct Entry {
    /// When it was answered.
    pub time: SystemTime,
    /// The client's full address (truncated by the writer).
    pub client: IpAddr,
    /// Query name, lowercase, no trailing dot.
    pub qname: String,
    /// Query type code.
    pub qtype: u16,
    /// The block list that decided, if blocked.
    pub list: Option<Arc<CompiledList>>,
    /// `sinkhole`, `nxdomain`, ... for a blocked query; `resolved` for
    /// any other answer (with `what = "all"`).
    pub action: &'static str,
    /// Response code, for answers that were not blocked.
    pub rcode: Option<u16>,
    /// The client's policy group (`default` for clients in no group).
    pub group: Arc<str>,
}

/// One JSON line (the documented format).
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    qname: &'a str,
    qtype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<&'a str>,
    action: &'a str,
    group: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcode: Option<String>,
}

/// The query path's handle on the query log.
pub struct QueryLog {
    tx: SyncSender<Entry>,
    all: bool,
    reopen: Arc<AtomicBool>,
    dropped: IntCounter,
}

impl QueryLog {
    /// Open the file and start the writer thread.
    pub fn start(cfg: &QueryLogConfig, path: PathBuf, m: QueryLogMetrics) -> std::io::Result<Self> {
        let (log, rx) = Self::queue(cfg, m.dropped.clone());
        let mut w = Writer::open(cfg, path, m)?;
        let reopen = log.reopen.clone();
        std::thread::Builder::new()
            .name("dnsward-querylog".into())
            .spawn(move || w.run(&rx, &reopen))?;
        Ok(log)
    }

    /// The handle and the receiving end, without a writer (tests).
    fn queue(cfg: &QueryLogConfig, dropped: IntCounter) -> (Self, Receiver<Entry>) {
        let (tx, rx) = sync_channel(cfg.queue.max(1));
        (
            Self {
                tx,
                all: cfg.what == QueryLogWhat::All,
                reopen: Arc::new(AtomicBool::new(false)),
                dropped,
            },
            rx,
        )
    }

    /// True when every answer is logged, not only blocked ones.
    pub fn logs_all(&self) -> bool {
        self.all
    }

    /// Queue an entry; never blocks. A full queue drops it and counts it.
    pub fn record(&self, e: Entry) {
        match self.tx.try_send(e) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped.inc(),
        }
    }

    /// A blocked answer, as the pipeline and the fast path see it.
    pub fn blocked(
        &self,
        client: IpAddr,
        qname: &str,
        qtype: u16,
        list: Option<Arc<CompiledList>>,
        action: &'static str,
        group: &Arc<str>,
    ) {
        self.record(Entry {
            time: SystemTime::now(),
            client,
            qname: qname.to_string(),
            qtype,
            list,
            action,
            rcode: None,
            group: group.clone(),
        });
    }

    /// An answer that no list blocked (logged only with `what = "all"`).
    pub fn resolved(&self, client: IpAddr, qname: &str, qtype: u16, rcode: u16, group: &Arc<str>) {
        if self.all {
            self.record(Entry {
                time: SystemTime::now(),
                client,
                qname: qname.to_string(),
                qtype,
                list: None,
                action: "resolved",
                rcode: Some(rcode),
                group: group.clone(),
            });
        }
    }

    /// Close and reopen the file at its path (after logrotate moved it).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }
}

/// The writer thread's state.
struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    max: u64,
    keep: u32,
    v4: u8,
    v6: u8,
    m: QueryLogMetrics,
    /// `YYYY-MM-DDTHH:MM:SS` of the last line's second (lines come in
    /// time order, so it is formatted once a second, not once a line).
    second: (u64, String),
}

impl Writer {
    fn open(cfg: &QueryLogConfig, path: PathBuf, m: QueryLogMetrics) -> std::io::Result<Self> {
        let (out, size) = open_append(&path)?;
        Ok(Self {
            path,
            out,
            size,
            max: cfg.max_size_mb.saturating_mul(1024 * 1024).max(1),
            keep: cfg.keep,
            v4: cfg.client_ipv4_prefix.min(32),
            v6: cfg.client_ipv6_prefix.min(128),
            m,
            second: (u64::MAX, String::new()),
        })
    }

    /// Until every handle is gone: every 20 ms, write what has arrived,
    /// flush, and reopen when asked. The writer never blocks on the
    /// queue, so a sender never has to wake it: at high rates one wake-up
    /// drains thousands of entries instead of a context switch per query.
    fn run(&mut self, rx: &Receiver<Entry>, reopen: &AtomicBool) {
        loop {
            if reopen.swap(false, Ordering::AcqRel) {
                self.reopen();
            }
            let mut wrote = false;
            loop {
                match rx.try_recv() {
                    Ok(e) => {
                        self.write(&e);
                        wrote = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush();
                        return;
                    }
                }
            }
            if wrote {
                self.flush();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn write(&mut self, e: &Entry) {
        let d = e
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        if self.second.0 != d.as_secs() {
            let mut t = rfc3339_millis(e.time);
            t.truncate(19);
            self.second = (d.as_secs(), t);
        }
        let line = self.format_at(e, &self.second.1, d.subsec_millis());
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > self.max {
            self.rotate();
        }
        match self.out.write_all(line.as_bytes()) {
            Ok(()) => {
                self.size += len;
                self.m.lines.inc();
            }
            Err(err) => self.error("write", &err),
        }
    }

    /// One line, newline included.
    #[cfg(test)]
    fn format(&self, e: &Entry) -> String {
        let d = e
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut t = rfc3339_millis(e.time);
        t.truncate(19);
        self.format_at(e, &t, d.subsec_millis())
    }

    /// One line, newline included, `second` being the time to the second.
    fn format_at(&self, e: &Entry, second: &str, millis: u32) -> String {
        let cfg = e.list.as_ref().map(|l| &l.cfg);
        let line = Line {
            time: format!("{second}.{millis:03}Z"),
            client: truncate(e.client, self.v4, self.v6).map(|n| n.to_string()),
            qname: &e.qname,
            qtype: qtype_name(e.qtype),
            list: cfg.map(|c| c.name.as_str()),
            order_id: cfg.and_then(|c| c.order_id.as_deref()),
            action: e.action,
            group: &e.group,
            rcode: e.rcode.map(rcode_name),
        };
        let mut s = serde_json::to_string(&line).unwrap_or_default();
        s.push('\n');
        s
    }

    fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            self.error("flush", &e);
        }
    }

    /// `path.(keep-1)` -> `path.keep`, ..., `path` -> `path.1`, then a
    /// fresh `path`. With keep = 0 the file is truncated instead.
    fn rotate(&mut self) {
        self.flush();
        if self.keep > 0 {
            for i in (1..self.keep).rev() {
                let from = numbered(&self.path, i);
                if from.exists() {
                    if let Err(e) = std::fs::rename(&from, numbered(&self.path, i + 1)) {
                        self.error("rotate", &e);
                    }
                }
            }
            if let Err(e) = std::fs::rename(&self.path, numbered(&self.path, 1)) {
                self.error("rotate", &e);
            }
        } else if let Err(e) = File::create(&self.path) {
            self.error("rotate", &e);
        }
        self.reopen();
    }

    fn reopen(&mut self) {
        self.flush();
        match open_append(&self.path) {
            Ok((out, size)) => {
                self.out = out;
                self.size = size;
            }
            Err(e) => self.error("reopen", &e),
        }
    }

    fn error(&self, what: &str, e: &std::io::Error) {
        self.m.errors.inc();
        warn!("query log {} {what}: {e}", self.path.display());
    }
}

fn open_append(path: &Path) -> std::io::Result<(BufWriter<File>, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata().map_or(0, |m| m.len());
    Ok((BufWriter::with_capacity(64 * 1024, f), size))
}

/// `queries.jsonl.3` for `queries.jsonl` and 3.
pub fn numbered(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// The client's network at the configured prefix; None when the prefix
/// for its family is 0 (no client written).
pub fn truncate(ip: IpAddr, v4: u8, v6: u8) -> Option<IpNet> {
    // An IPv4-mapped IPv6 source (dual-stack socket) is an IPv4 client.
    let ip = match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let bits = if ip.is_ipv4() { v4 } else { v6 };
    if bits == 0 {
        return None;
    }
    IpNet::new(ip, bits).ok().map(|n| n.trunc())
}

/// The type's mnemonic, or `TYPE65534` (RFC 3597) for one without a name.
fn qtype_name(code: u16) -> String {
    match hickory_proto::rr::RecordType::from(code) {
        hickory_proto::rr::RecordType::Unknown(n) => format!("TYPE{n}"),
        t => t.to_string(),
    }
}

/// The RFC 1035 mnemonic (`NOERROR`, `NXDOMAIN`, ...), or `RCODE23`.
fn rcode_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

/// `2026-12-02T15:04:05.123Z`.
fn rfc3339_millis(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128 * 1_000_000);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ListConfig, ListKind};

    fn metrics() -> QueryLogMetrics {
        QueryLogMetrics {
            lines: IntCounter::new("l", "l").expect("c"),
            dropped: IntCounter::new("d", "d").expect("c"),
            errors: IntCounter::new("e", "e").expect("c"),
        }
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dnsward-qlog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    fn list(dir: &Path) -> Arc<CompiledList> {
        let path = dir.join("court.txt");
        std::fs::write(&path, "banned.example\n").expect("write");
        let mut cfg = ListConfig::simple("court", path, ListKind::Block);
        cfg.order_id = Some("2026/77".into());
        Arc::new(
            crate::policy::compile_list(&cfg, None, false)
                .expect("compile")
                .0,
        )
    }

    fn entry(list: Option<Arc<CompiledList>>, client: &str) -> Entry {
        Entry {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_083_200_123),
            client: client.parse().expect("ip"),
            qname: "www.banned.example".into(),
            qtype: 28,
            list,
            action: "sinkhole",
            rcode: None,
            group: Arc::from("family"),
        }
    }

    #[test]
    fn clients_are_truncated_to_the_prefix_or_left_out() {
        let t = |ip: &str, a, b| truncate(ip.parse().expect("ip"), a, b).map(|n| n.to_string());
        assert_eq!(t("192.0.2.77", 24, 56).as_deref(), Some("192.0.2.0/24"));
        assert_eq!(
            t("2001:db8:1:2ff:1::9", 24, 56).as_deref(),
            Some("2001:db8:1:200::/56")
        );
        assert_eq!(
            t("::ffff:198.51.100.9", 16, 56).as_deref(),
            Some("198.51.0.0/16")
        );
        assert_eq!(t("192.0.2.77", 0, 56), None);
        assert_eq!(t("2001:db8::1", 24, 0), None);
        assert_eq!(t("192.0.2.77", 32, 56).as_deref(), Some("192.0.2.77/32"));
    }

    #[test]
    fn a_line_has_every_field() {
        let dir = tmpdir("fields");
        let w =
            Writer::open(&QueryLogConfig::default(), dir.join("q.jsonl"), metrics()).expect("open");
        let line = w.format(&entry(Some(list(&dir)), "192.0.2.77"));
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["time"], "2026-12-01T00:00:00.123Z");
        assert_eq!(v["client"], "192.0.2.0/24");
        assert_eq!(v["qname"], "www.banned.example");
        assert_eq!(v["qtype"], "AAAA");
        assert_eq!(v["list"], "court");
        assert_eq!(v["order_id"], "2026/77");
        assert_eq!(v["action"], "sinkhole");
        assert_eq!(v["group"], "family");
        assert!(v.get("rcode").is_none(), "{line}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let cfg = QueryLogConfig {
            queue: 4,
            ..QueryLogConfig::default()
        };
        let m = metrics();
        let (log, rx) = QueryLog::queue(&cfg, m.dropped.clone());
        for _ in 0..10 {
            log.record(entry(None, "192.0.2.1"));
        }
        assert_eq!(m.dropped.get(), 6);
        assert_eq!(rx.try_iter().count(), 4);
        log.record(entry(None, "192.0.2.1"));
        assert_eq!(
            m.dropped.get(),
            6,
            "room again once the writer took entries"
        );
    }

    #[test]
    fn rotation_keeps_the_newest_files() {
        let dir = tmpdir("rotate");
        let path = dir.join("q.jsonl");
        let cfg = QueryLogConfig {
            keep: 2,
            ..QueryLogConfig::default()
        };
        let m = metrics();
        let mut w = Writer::open(&cfg, path.clone(), m.clone()).expect("open");
        let l = list(&dir);
        let one = w.format(&entry(Some(l.clone()), "192.0.2.1")).len() as u64;
        // Three lines per file.
        w.max = one * 3;
        for _ in 0..14 {
            w.write(&entry(Some(l.clone()), "192.0.2.1"));
        }
        w.flush();
        let lines = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
        assert_eq!(lines(&path), 2);
        assert_eq!(lines(&numbered(&path, 1)), 3);
        assert_eq!(lines(&numbered(&path, 2)), 3);
        assert!(!numbered(&path, 3).exists());
        assert_eq!(m.lines.get(), 14);
        assert_eq!(m.errors.get(), 0);

        // Reopen after an outside move (logrotate): a new file at the path.
        std::fs::rename(&path, dir.join("moved")).expect("mv");
        w.reopen();
        w.write(&entry(Some(l), "192.0.2.1"));
        w.flush();
        assert_eq!(lines(&path), 1);
        assert_eq!(lines(&dir.join("moved")), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
