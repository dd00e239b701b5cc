//! dnstap output (`[dnstap]`): a copy of answered queries as dnstap
//! `CLIENT_QUERY` / `CLIENT_RESPONSE` messages, sent as Frame Streams to a
//! collector's unix socket (`fstrm_capture`, dnstap-enabled log pipelines).
//!
//! Answering never waits for the collector: the query path copies the two
//! messages into a bounded queue with `try_send`; a full queue drops the
//! entry and counts it (`dnsward_dnstap_dropped_total`). One writer thread
//! connects, does the bidirectional Frame Streams handshake (READY ->
//! ACCEPT -> START), writes data frames, reconnects after
//! `dnstap.reconnect_ms` when the collector goes away, and sends STOP (and
//! waits briefly for FINISH) when the server stops.
//!
//! The protobuf is encoded by hand: the schema is two flat messages of
//! scalars and byte strings (`dnstap.proto` of the dnstap project, field
//! numbers below), and a protobuf code generator would need `protoc` at
//! build time for twenty lines of varints.

use std::io::{BufWriter, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use prometheus::IntCounter;
use tracing::{info, warn};

pub use crate::config::DnstapConfig;
use crate::config::QueryLogWhat;
pub use crate::metrics::DnstapMetrics;

/// The Frame Streams content type of dnstap.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

/// Largest control frame accepted from the collector, in bytes.
const MAX_CONTROL: u32 = 512;

// Frame Streams control frame types (fstrm `control.h`).
const CONTROL_ACCEPT: u32 = 0x01;
const CONTROL_START: u32 = 0x02;
const CONTROL_STOP: u32 = 0x03;
const CONTROL_READY: u32 = 0x04;
const CONTROL_FINISH: u32 = 0x05;
const FIELD_CONTENT_TYPE: u32 = 0x01;

/// One answered query as the query path hands it over.
struct Entry {
    time: SystemTime,
    client: IpAddr,
    port: u16,
    tcp: bool,
    query: Vec<u8>,
    response: Option<Vec<u8>>,
}

/// The query path's handle on the dnstap output.
pub struct Dnstap {
    tx: Option<SyncSender<Entry>>,
    all: bool,
    dropped: IntCounter,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Dnstap {
    /// Start the writer thread for `socket`; it connects in the background.
    pub fn start(cfg: &DnstapConfig, socket: PathBuf, m: DnstapMetrics) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(cfg.queue.max(1));
        let identity = if cfg.identity.is_empty() {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "dnsward".into())
        } else {
            cfg.identity.clone()
        };
        let w = Writer {
            socket,
            identity: identity.into_bytes(),
            version: concat!("dnsward ", env!("CARGO_PKG_VERSION")).as_bytes(),
            retry: Duration::from_millis(cfg.reconnect_ms.max(1)),
            metrics: m.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("dnstap".into())
            .spawn(move || w.run(&rx))?;
        Ok(Self {
            tx: Some(tx),
            all: cfg.what == QueryLogWhat::All,
            dropped: m.dropped,
            writer: Some(writer),
        })
    }

    /// Queue one answered query (`response` None: no answer was sent);
    /// never blocks. Answers that were not blocked are sent only with
    /// `what = "all"`.
    pub fn record(
        &self,
        client: std::net::SocketAddr,
        tcp: bool,
        query: &[u8],
        response: Option<&[u8]>,
        blocked: bool,
    ) {
        if !blocked && !self.all {
            return;
        }
        let Some(tx) = &self.tx else {
            return;
        };
        let e = Entry {
            time: SystemTime::now(),
            client: client.ip().to_canonical(),
            port: client.port(),
            tcp,
            query: query.to_vec(),
            response: response.map(<[u8]>::to_vec),
        };
        match tx.try_send(e) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped.inc(),
        }
    }
}

impl Drop for Dnstap {
    /// Close the queue; the writer sends what is queued, then STOP.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

struct Writer {
    socket: PathBuf,
    identity: Vec<u8>,
    version: &'static [u8],
    retry: Duration,
    metrics: DnstapMetrics,
}

impl Writer {
    fn run(&self, rx: &Receiver<Entry>) {
        let mut logged = false;
        loop {
            let mut out = match self.connect() {
                Ok(s) => {
                    info!(socket = %self.socket.display(), "dnstap: collector connected");
                    logged = false;
                    self.metrics.connected.set(1);
                    s
                }
                Err(e) => {
                    if !logged {
                        warn!(socket = %self.socket.display(), "dnstap: cannot connect, retrying: {e}");
                        logged = true;
                    }
                    // Entries queued meanwhile are dropped and counted, so a
                    // collector back after an hour gets fresh traffic.
                    let deadline = std::time::Instant::now() + self.retry;
                    loop {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        match rx.recv_timeout(left) {
                            Ok(_) => self.metrics.dropped.inc(),
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    continue;
                }
            };
            let done = self.pump(&mut out, rx);
            self.metrics.connected.set(0);
            if done {
                let _ = self.finish(out);
                return;
            }
            warn!(socket = %self.socket.display(), "dnstap: collector went away, reconnecting");
        }
    }

    /// Connect and do the bidirectional handshake: READY, ACCEPT, START.
    fn connect(&self) -> std::io::Result<BufWriter<UnixStream>> {
        let mut s = UnixStream::connect(&self.socket)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(&control(CONTROL_READY, Some(CONTENT_TYPE)))?;
        let (kind, types) = read_control(&mut s)?;
        if kind != CONTROL_ACCEPT || !types.iter().any(|t| t == CONTENT_TYPE) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "collector did not ACCEPT protobuf:dnstap.Dnstap",
            ));
        }
        s.write_all(&control(CONTROL_START, Some(CONTENT_TYPE)))?;
        Ok(BufWriter::with_capacity(64 * 1024, s))
    }

    /// Write entries until the queue closes (true) or a write fails
    /// (false). Flushes whenever the queue is momentarily empty. A
    /// collector that went away is noticed at the next flush; what was
    /// written since the last good one is counted dropped (the kernel may
    /// have taken some of it, so the count errs towards dropped).
    fn pump(&self, out: &mut BufWriter<UnixStream>, rx: &Receiver<Entry>) -> bool {
        let mut frame = Vec::with_capacity(1024);
        // Messages written since the last flush: counted sent once the
        // flush succeeds, dropped if it fails.
        let mut pending = 0u64;
        loop {
            let e = match rx.try_recv() {
                Ok(e) => e,
                Err(_) => {
                    if out.flush().is_err() {
                        self.metrics.dropped.inc_by(pending);
                        return false;
                    }
                    self.metrics.sent.inc_by(pending);
                    pending = 0;
                    match rx.recv() {
                        Ok(e) => e,
                        Err(_) => return true,
                    }
                }
            };
            let mut kinds = vec![(MESSAGE_CLIENT_QUERY, e.query.as_slice())];
            if let Some(r) = &e.response {
                kinds.push((MESSAGE_CLIENT_RESPONSE, r.as_slice()));
            }
            for (kind, bytes) in kinds {
                frame.clear();
                frame.extend_from_slice(&[0; 4]);
                encode(&mut frame, &self.identity, self.version, &e, kind, bytes);
                let len = (frame.len() - 4) as u32;
                frame[..4].copy_from_slice(&len.to_be_bytes());
                if out.write_all(&frame).is_err() {
                    self.metrics.dropped.inc_by(pending + 1);
                    return false;
                }
                pending += 1;
            }
        }
    }

    /// STOP, then wait (briefly) for the collector's FINISH.
    fn finish(&self, mut out: BufWriter<UnixStream>) -> std::io::Result<()> {
        out.write_all(&control(CONTROL_STOP, None))?;
        out.flush()?;
        let mut s = out.into_inner().map_err(|e| e.into_error())?;
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        let (kind, _) = read_control(&mut s)?;
        if kind != CONTROL_FINISH {
            warn!("dnstap: collector answered STOP with control frame {kind}");
        }
        Ok(())
    }
}

/// A control frame: escape (a zero length), the frame's length, its type,
/// and an optional content-type field.
fn control(kind: u32, content_type: Option<&[u8]>) -> Vec<u8> {
    let mut body = kind.to_be_bytes().to_vec();
    if let Some(t) = content_type {
        body.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        body.extend_from_slice(&(t.len() as u32).to_be_bytes());
        body.extend_from_slice(t);
    }
    let mut f = 0u32.to_be_bytes().to_vec();
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(&body);
    f
}

/// Read one control frame: its type and content types.
fn read_control(s: &mut impl Read) -> std::io::Result<(u32, Vec<Vec<u8>>)> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let mut w = [0u8; 4];
    s.read_exact(&mut w)?;
    if u32::from_be_bytes(w) != 0 {
        return Err(bad("expected a control frame"));
    }
    s.read_exact(&mut w)?;
    let len = u32::from_be_bytes(w);
    if !(4..=MAX_CONTROL).contains(&len) {
        return Err(bad("control frame length out of range"));
    }
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body)?;
    let kind = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let mut types = Vec::new();
    let mut rest = &body[4..];
    while rest.len() >= 8 {
        let field = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let n = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let Some(value) = rest.get(8..8 + n) else {
            return Err(bad("control field overruns its frame"));
        };
        if field == FIELD_CONTENT_TYPE {
            types.push(value.to_vec());
        }
        rest = &rest[8 + n..];
    }
    Ok((kind, types))
}

// dnstap.proto field numbers: Dnstap { identity 1, version 2, message 14,
// type 15 (MESSAGE = 1) }; Message { type 1, socket_family 2 (INET 1,
// INET6 2), socket_protocol 3 (UDP 1, TCP 2), query_address 4, query_port
// 6, query_time_sec 8, query_time_nsec 9 (fixed32), query_message 10,
// response_time_sec 12, response_time_nsec 13 (fixed32),
// response_message 14 }.
const MESSAGE_CLIENT_QUERY: u64 = 5;
const MESSAGE_CLIENT_RESPONSE: u64 = 6;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, v: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

fn field_fixed32(out: &mut Vec<u8>, field: u64, v: u32) {
    varint(out, field << 3 | 5);
    out.extend_from_slice(&v.to_le_bytes());
}

/// One `Dnstap` message of `kind` carrying `dns` (the query or the
/// response), appended to `out`.
fn encode(out: &mut Vec<u8>, identity: &[u8], version: &[u8], e: &Entry, kind: u64, dns: &[u8]) {
    let t = e
        .time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut m = Vec::with_capacity(dns.len() + 64);
    field_varint(&mut m, 1, kind);
    let (family, addr) = match e.client {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    field_varint(&mut m, 2, family);
    field_varint(&mut m, 3, if e.tcp { 2 } else { 1 });
    field_bytes(&mut m, 4, &addr);
    field_varint(&mut m, 6, u64::from(e.port));
    // Both messages carry the query time; the response its own as well.
    field_varint(&mut m, 8, t.as_secs());
    field_fixed32(&mut m, 9, t.subsec_nanos());
    if kind == MESSAGE_CLIENT_QUERY {
        field_bytes(&mut m, 10, dns);
    } else {
        field_varint(&mut m, 12, t.as_secs());
        field_fixed32(&mut m, 13, t.subsec_nanos());
        field_bytes(&mut m, 14, dns);
    }
    field_bytes(out, 1, identity);
    field_bytes(out, 2, version);
    field_bytes(out, 14, &m);
    field_varint(out, 15, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_are_protobuf() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let mut f = Vec::new();
        field_bytes(&mut f, 14, b"ab");
        assert_eq!(f, [114, 2, b'a', b'b']);
        let mut f = Vec::new();
        field_fixed32(&mut f, 9, 1);
        assert_eq!(f, [77, 1, 0, 0, 0]);
        let mut f = Vec::new();
        field_varint(&mut f, 15, 1);
        assert_eq!(f, [120, 1]);
    }

    #[test]
    fn control_frames_round_trip() {
        let f = control(CONTROL_READY, Some(CONTENT_TYPE));
        assert_eq!(&f[..4], &[0, 0, 0, 0]);
        let (kind, types) = read_control(&mut f.as_slice()).expect("parse");
        assert_eq!(kind, CONTROL_READY);
        assert_eq!(types, vec![CONTENT_TYPE.to_vec()]);
        let stop = control(CONTROL_STOP, None);
        assert_eq!(stop, [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
        // A data frame where a control frame belongs is refused.
        assert!(read_control(&mut [0u8, 0, 0, 9].as_slice()).is_err());
    }
}
