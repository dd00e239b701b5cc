//! DNS listeners: UDP and TCP on every configured address.
//!
//! UDP: one receive loop per `SO_REUSEPORT` socket (one per core),
//! receiving in batches; cached and simply blocked answers are sent from
//! the loop (fast path, batched too), every other query is answered in a
//! task of its own, with a cap on tasks in flight so a flood sheds load
//! (counted) instead of growing memory. TCP: one task per connection, RFC 7766
//! framing, queries on a connection answered in order, idle and slow
//! (slow-loris) connections closed, oversized length prefixes refused;
//! open connections are admitted, capped per client and evicted under
//! pressure by a [`ConnTracker`] shared by every TCP listener. IPv6
//! sockets are IPv6-only, so `0.0.0.0:53` and `[::]:53` bind side by side.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(not(target_os = "linux"))]
use tokio::net::UdpSocket;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::{debug, warn};

use crate::conntrack::{ConnTracker, Refused, Tracked};
use crate::pipeline::{Admission, Handler, Transport};
use crate::policy::matcher::LookupKey;

/// Most UDP queries being answered at once.
pub const MAX_UDP_IN_FLIGHT: usize = 10_000;
/// Longest query accepted over TCP; a larger length prefix closes the
/// connection (queries are small; a 64 KiB "query" is an attack).
pub const MAX_TCP_QUERY: usize = 4096;

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// The OS error.
    pub source: std::io::Error,
}

/// One UDP socket with `SO_REUSEPORT` (so several can share a port and
/// the kernel spreads datagrams across them) and a 4 MiB receive buffer
/// (bursts queue in the kernel instead of being dropped).
fn udp_reuseport(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    let _ = s.set_recv_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Backlog of a TCP listener: room for a burst of connects while the
/// accept loop catches up.
const TCP_BACKLOG: i32 = 1024;

/// One TCP listener. An IPv6 socket is IPv6-only: otherwise `[::]:53`
/// also claims IPv4 port 53 on Linux (`bindv6only=0`) and cannot bind
/// beside `0.0.0.0:53` (EADDRINUSE), and which of the two gets IPv4
/// traffic would depend on bind order. `SO_REUSEADDR` as tokio sets it:
/// a restart can bind while old connections sit in TIME_WAIT.
fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(TCP_BACKLOG)?;
    TcpListener::from_std(s.into())
}

/// Bind `sockets` UDP sockets and one TCP listener on `addr`. With port 0
/// all get the same ephemeral port (tests rely on it), retrying if TCP
/// finds it taken.
pub async fn bind_pair(
    addr: SocketAddr,
    sockets: usize,
) -> Result<(Vec<std::net::UdpSocket>, TcpListener), BindError> {
    let err = |source| BindError { addr, source };
    let mut last = None;
    for _ in 0..20 {
        let first = udp_reuseport(addr).map_err(err)?;
        let port = first.local_addr().map_err(err)?.port();
        let bound = SocketAddr::new(addr.ip(), port);
        match tcp_listener(bound) {
            Ok(tcp) => {
                let mut udp = vec![first];
                for _ in 1..sockets.max(1) {
                    udp.push(udp_reuseport(bound).map_err(err)?);
                }
                return Ok((udp, tcp));
            }
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(err(e)),
        }
    }
    Err(err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free port pair")
    })))
}

/// Start serving one UDP socket until `stop` turns true; the returned
/// handle finishes when it has stopped. On Linux the socket gets a thread
/// of its own ([`serve_udp_thread`]); elsewhere an async loop.
pub fn spawn_udp(
    sock: std::net::UdpSocket,
    handler: Arc<Handler>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    #[cfg(target_os = "linux")]
    {
        let rt = tokio::runtime::Handle::current();
        Ok(tokio::task::spawn_blocking(move || {
            serve_udp_thread(sock, handler, stop, rt)
        }))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let sock = UdpSocket::from_std(sock)?;
        Ok(tokio::spawn(serve_udp(sock, handler, stop)))
    }
}

/// How often a receive thread with nothing to read checks `stop`.
#[cfg(target_os = "linux")]
const STOP_CHECK_MS: i32 = 100;

/// Serve UDP on a thread of its own until `stop` turns true (Linux).
/// Admission (ACL, rate limit) runs here for every datagram; cached and
/// simply blocked answers go out from this loop through the fast path,
/// everything else is answered in a task on `rt`. The thread sleeps in
/// `recvmmsg` on the socket (blocking socket, `MSG_WAITFORONE`, the
/// receive timeout as the stop check), so an arriving query wakes the
/// thread that reads it directly, with no async scheduler in between (the
/// tail latency, docs/benchmarks.md);
/// datagrams are received and fast answers sent in batches
/// ([`crate::udpbatch`]). The socket is not registered with the async
/// runtime; tasks on the normal path send their answer with a `sendmmsg`
/// of one that never blocks (`MSG_DONTWAIT`).
#[cfg(target_os = "linux")]
pub fn serve_udp_thread(
    sock: std::net::UdpSocket,
    handler: Arc<Handler>,
    stop: watch::Receiver<bool>,
    rt: tokio::runtime::Handle,
) {
    use std::os::fd::AsRawFd;
    let sock = Arc::new(sock);
    let fd = sock.as_raw_fd();
    let slots = Arc::new(Semaphore::new(MAX_UDP_IN_FLIGHT));
    let mut batch = crate::udpbatch::Batch::new();
    let mut out: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(crate::udpbatch::BATCH);
    // One lookup key per batch slot, reused for the life of the loop.
    let mut keys: Vec<LookupKey> = (0..crate::udpbatch::BATCH)
        .map(|_| LookupKey::new())
        .collect();
    let mut prepared = [false; crate::udpbatch::BATCH];
    let reply = Reply::Thread(sock.clone(), rt);
    // Sleep in `recvmmsg` itself: a blocking socket whose receive timeout
    // is the stop-check interval (every send on it passes MSG_DONTWAIT, so
    // only this thread ever blocks on it). One system call per wake-up
    // instead of `poll` and `recvmmsg`. If the socket refuses, poll.
    let blocking = sock
        .set_read_timeout(Some(Duration::from_millis(STOP_CHECK_MS as u64)))
        .and_then(|()| sock.set_nonblocking(false))
        .is_ok();
    // Stop when told to, or when the sender is gone (the server was
    // dropped without a shutdown): a thread must never outlive it.
    while !*stop.borrow() && stop.has_changed().is_ok() {
        if !blocking {
            match crate::udpbatch::wait(fd, false, STOP_CHECK_MS) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    debug!("udp poll: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let n = match batch.recv(fd, blocking) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                debug!("udp recvmmsg: {e}");
                continue;
            }
        };
        // With more than one datagram, prepare every key first: the
        // policy's table reads for the whole batch overlap in memory
        // instead of stalling query after query (large lists).
        let n = n.min(keys.len());
        if n > 1 {
            let packets = (0..n).map(|i| batch.get(i).map(|(packet, _)| packet));
            handler.prepare_keys(packets, &mut keys[..n], &mut prepared[..n]);
        } else {
            prepared[0] = false;
        }
        for i in 0..n {
            let Some((packet, src)) = batch.get(i) else {
                handler
                    .metrics
                    .rejected
                    .with_label_values(&["malformed"])
                    .inc();
                continue;
            };
            let scratch = (&mut keys[i], prepared[i]);
            if let Some(resp) = dispatch(&handler, &reply, &slots, packet, src, scratch) {
                out.push((resp, src));
            }
        }
        send_all(fd, &out);
        out.clear();
    }
}

/// Send every datagram of `out`, in batches; when the socket buffer is
/// full, wait (bounded) for room, then give up on the rest (UDP clients
/// retry; the alternative is unbounded memory).
#[cfg(target_os = "linux")]
fn send_all(fd: std::os::fd::RawFd, out: &[(Vec<u8>, SocketAddr)]) {
    let mut sent = 0;
    let mut waits = 0;
    while sent < out.len() {
        match crate::udpbatch::send(fd, &out[sent..]) {
            Ok(0) => break,
            Ok(k) => sent += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && waits < 3 => {
                waits += 1;
                let _ = crate::udpbatch::wait(fd, true, 10);
            }
            Err(e) => {
                debug!("udp sendmmsg: {e}; {} answers dropped", out.len() - sent);
                break;
            }
        }
    }
}

/// Serve UDP until `stop` turns true, as an async loop (non-Linux).
#[cfg(not(target_os = "linux"))]
pub async fn serve_udp(sock: UdpSocket, handler: Arc<Handler>, mut stop: watch::Receiver<bool>) {
    let sock = Arc::new(sock);
    let slots = Arc::new(Semaphore::new(MAX_UDP_IN_FLIGHT));
    let mut buf = vec![0u8; 65_535];
    let mut key = LookupKey::new();
    let reply = Reply::Async(sock.clone());
    loop {
        let (n, src) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(v) => v,
                Err(e) => {
                    debug!("udp recv: {e}");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        if let Some(resp) = dispatch(&handler, &reply, &slots, &buf[..n], src, (&mut key, false)) {
            if let Err(e) = sock.send_to(&resp, src).await {
                debug!("udp send to {src}: {e}");
            }
        }
    }
}

/// How a normal-path task sends its answer: through the receive thread's
/// socket (Linux) or the async socket. Cloned only for queries that take
/// the normal path.
#[derive(Clone)]
enum Reply {
    #[cfg(target_os = "linux")]
    Thread(Arc<std::net::UdpSocket>, tokio::runtime::Handle),
    #[cfg(not(target_os = "linux"))]
    Async(Arc<UdpSocket>),
}

impl Reply {
    /// The runtime to run the task on: the receive thread has none of its
    /// own, the async loop runs inside one.
    fn runtime(&self) -> Option<tokio::runtime::Handle> {
        match self {
            #[cfg(target_os = "linux")]
            Reply::Thread(_, rt) => Some(rt.clone()),
            #[cfg(not(target_os = "linux"))]
            Reply::Async(_) => None,
        }
    }

    /// Send one answer; takes it by value so the Linux path can hand the
    /// buffer to `sendmmsg` without copying it.
    async fn send(&self, resp: Vec<u8>, src: SocketAddr) {
        match self {
            #[cfg(target_os = "linux")]
            Reply::Thread(sock, _) => {
                use std::os::fd::AsRawFd;
                let msg = [(resp, src)];
                // Non-blocking; on a full buffer retry briefly, then drop.
                for _ in 0..3 {
                    match crate::udpbatch::send(sock.as_raw_fd(), &msg) {
                        Ok(1) => return,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            debug!("udp send to {src}: {e}");
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                debug!("udp send to {src}: socket buffer full, answer dropped");
            }
            #[cfg(not(target_os = "linux"))]
            Reply::Async(sock) => {
                if let Err(e) = sock.send_to(&resp, src).await {
                    debug!("udp send to {src}: {e}");
                }
            }
        }
    }
}

/// One datagram: admission, then the fast path (returns the answer to send
/// now) or a task on the normal path (returns None). `key` is the loop's
/// scratch lookup key and whether it already holds this packet's name.
fn dispatch(
    handler: &Arc<Handler>,
    reply: &Reply,
    slots: &Arc<Semaphore>,
    packet: &[u8],
    src: SocketAddr,
    key: (&mut LookupKey, bool),
) -> Option<Vec<u8>> {
    if let Some(reply) = handler.notify_hook(packet, src) {
        return reply;
    }
    let admission = handler.admit(src, Transport::Udp);
    if admission == Admission::Allow {
        if let Some(resp) = handler.try_fast(packet, key.0, key.1, src.ip()) {
            return Some(resp);
        }
    }
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        handler
            .metrics
            .rejected
            .with_label_values(&["overload"])
            .inc();
        return None;
    };
    let packet = packet.to_vec();
    let handler = handler.clone();
    let rt = reply.runtime();
    let reply = reply.clone();
    let task = async move {
        if let Some(resp) = handler
            .handle_admitted(&packet, Transport::Udp, admission, src.ip())
            .await
        {
            reply.send(resp, src).await;
        }
        drop(permit);
    };
    match rt {
        Some(rt) => drop(rt.spawn(task)),
        None => drop(tokio::spawn(task)),
    }
    None
}

/// Serve TCP until `stop` turns true. `conns` is the connection table
/// (shared by every TCP listener): it applies the per-client cap, and at
/// the limit evicts the longest-idle connection instead of turning the
/// newcomer away.
pub async fn serve_tcp(
    listener: TcpListener,
    handler: Arc<Handler>,
    conns: Arc<ConnTracker>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, src) = tokio::select! {
            r = listener.accept() => match r {
                Ok(v) => v,
                Err(e) => {
                    warn!("tcp accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let conn = match conns.admit(src.ip(), Instant::now()) {
            Ok(c) => c,
            Err(refused) => {
                let reason = match refused {
                    Refused::ClientLimit => "tcp_client_limit",
                    Refused::Full => "tcp_limit",
                };
                handler.metrics.rejected.with_label_values(&[reason]).inc();
                continue;
            }
        };
        let handler = handler.clone();
        let stop = stop.clone();
        let write_timeout = conns.limits().idle;
        tokio::spawn(async move {
            if let Err(e) = serve_conn(stream, src, &handler, &conn, write_timeout, stop).await {
                debug!("tcp {src}: {e}");
            }
            drop(conn);
        });
    }
}

/// Wait for the next query's length prefix until the connection's idle
/// deadline, which moves when the table comes under pressure. None: close
/// (deadline passed, EOF, evicted, or shutdown).
async fn next_length(
    stream: &mut TcpStream,
    conn: &Tracked,
    stop: &mut watch::Receiver<bool>,
) -> Option<u16> {
    let mut pressure = conn.pressure_changes();
    // `read_u16` is not cancel-safe (a first byte read would be lost), so
    // one read lives across every recomputation of the deadline.
    let read = stream.read_u16();
    tokio::pin!(read);
    loop {
        let deadline = conn.idle_deadline()?;
        tokio::select! {
            r = &mut read => return r.ok(),
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                if conn.idle_deadline().is_some_and(|d| d <= now) {
                    conn.closed_idle(now);
                    return None;
                }
            }
            r = pressure.changed() => {
                if r.is_err() {
                    return None;
                }
            }
            () = conn.evicted() => return None,
            _ = stop.changed() => return None,
        }
    }
}

async fn serve_conn(
    mut stream: TcpStream,
    src: SocketAddr,
    handler: &Handler,
    conn: &Tracked,
    write_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    loop {
        let Some(len) = next_length(&mut stream, conn, &mut stop).await else {
            return Ok(());
        };
        if usize::from(len) < 12 || usize::from(len) > MAX_TCP_QUERY {
            handler
                .metrics
                .rejected
                .with_label_values(&["tcp_length"])
                .inc();
            return Ok(());
        }
        let mut packet = vec![0u8; usize::from(len)];
        // The whole message must arrive within the idle time: a client
        // dribbling bytes cannot hold the connection forever. Until it has,
        // the connection is idle and may be evicted.
        let body = tokio::time::timeout(conn.idle_timeout(), stream.read_exact(&mut packet));
        tokio::select! {
            r = body => match r {
                Ok(Ok(_)) => {}
                _ => return Ok(()),
            },
            () = conn.evicted() => return Ok(()),
        }
        // From here to the written answer the connection is not evictable.
        if !conn.begin_query(Instant::now()) {
            return Ok(());
        }
        if let Some(resp) = handler.handle(&packet, Transport::Tcp, src).await {
            let n = u16::try_from(resp.len()).unwrap_or(u16::MAX);
            let mut framed = Vec::with_capacity(resp.len() + 2);
            framed.extend_from_slice(&n.to_be_bytes());
            framed.extend_from_slice(&resp[..usize::from(n)]);
            tokio::time::timeout(write_timeout, stream.write_all(&framed))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        }
        conn.end_query(Instant::now());
    }
}
