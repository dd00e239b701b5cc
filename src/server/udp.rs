//! UDP: one receive loop per `SO_REUSEPORT` socket, batched receive and
//! send on Linux, the fast path from the loop, and a task per query that
//! takes the normal path (capped, so a flood sheds load).

use super::*;
use crate::wire::quick::Packet;
use crate::wire::Reject;

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
/// ([`crate::sys::batch`]). The socket is not registered with the async
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
    let mut batch = crate::sys::batch::Batch::new();
    let mut out: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(crate::sys::batch::BATCH);
    // One lookup key per batch slot, reused for the life of the loop.
    let mut keys: Vec<LookupKey> = (0..crate::sys::batch::BATCH)
        .map(|_| LookupKey::new())
        .collect();
    let reply = Responder::Thread(sock.clone(), rt);
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
            match crate::sys::batch::wait(fd, false, STOP_CHECK_MS) {
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
        // Every datagram is quick-parsed here, once, and its name put in
        // its slot's lookup key; the parse travels down the query path.
        let n = n.min(keys.len());
        let mut packets: [Option<(Packet<'_>, SocketAddr)>; crate::sys::batch::BATCH] =
            [None; crate::sys::batch::BATCH];
        for (i, (slot, key)) in packets.iter_mut().zip(keys.iter_mut()).take(n).enumerate() {
            *slot = batch.get(i).map(|(bytes, src)| (Packet::read(bytes), src));
            if let Some((Packet { quick: Some(q), .. }, _)) = slot {
                key.assign_wire(q.qname);
            }
        }
        // With more than one datagram, prepare every key first: the
        // policy's table reads for the whole batch overlap in memory
        // instead of stalling query after query (large lists).
        if n > 1 {
            let plain = packets[..n]
                .iter()
                .zip(&keys[..n])
                .filter(|(p, _)| matches!(p, Some((Packet { quick: Some(_), .. }, _))))
                .map(|(_, key)| key);
            handler.prepare_keys(plain);
        }
        for (slot, key) in packets[..n].iter().zip(&keys[..n]) {
            let Some((packet, src)) = *slot else {
                handler.metrics.reject(Reject::Malformed);
                continue;
            };
            if let Some(resp) = dispatch(&handler, &reply, &slots, packet, src, key) {
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
        match crate::sys::batch::send(fd, &out[sent..]) {
            Ok(0) => break,
            Ok(k) => sent += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && waits < 3 => {
                waits += 1;
                let _ = crate::sys::batch::wait(fd, true, 10);
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
    let reply = Responder::Async(sock.clone());
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
        let packet = Packet::read(&buf[..n]);
        if let Some(q) = &packet.quick {
            key.assign_wire(q.qname);
        }
        if let Some(resp) = dispatch(&handler, &reply, &slots, packet, src, &key) {
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
enum Responder {
    #[cfg(target_os = "linux")]
    Thread(Arc<std::net::UdpSocket>, tokio::runtime::Handle),
    #[cfg(not(target_os = "linux"))]
    Async(Arc<UdpSocket>),
}

impl Responder {
    /// The runtime to run the task on: the receive thread has none of its
    /// own, the async loop runs inside one.
    fn runtime(&self) -> Option<tokio::runtime::Handle> {
        match self {
            #[cfg(target_os = "linux")]
            Responder::Thread(_, rt) => Some(rt.clone()),
            #[cfg(not(target_os = "linux"))]
            Responder::Async(_) => None,
        }
    }

    /// Send one answer; takes it by value so the Linux path can hand the
    /// buffer to `sendmmsg` without copying it.
    async fn send(&self, resp: Vec<u8>, src: SocketAddr) {
        match self {
            #[cfg(target_os = "linux")]
            Responder::Thread(sock, _) => {
                use std::os::fd::AsRawFd;
                let msg = [(resp, src)];
                // Non-blocking; on a full buffer retry briefly, then drop.
                for _ in 0..3 {
                    match crate::sys::batch::send(sock.as_raw_fd(), &msg) {
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
            Responder::Async(sock) => {
                if let Err(e) = sock.send_to(&resp, src).await {
                    debug!("udp send to {src}: {e}");
                }
            }
        }
    }
}

/// One datagram: admission, then the fast path (returns the answer to send
/// now) or a task on the normal path (returns None). `packet` carries the
/// loop's quick parse and `key` the name it found (when it is a plain
/// query); neither is made again below.
fn dispatch(
    handler: &Arc<Handler>,
    reply: &Responder,
    slots: &Arc<Semaphore>,
    packet: Packet<'_>,
    src: SocketAddr,
    key: &LookupKey,
) -> Option<Vec<u8>> {
    if let Some(reply) = handler.notify_hook(packet.bytes, src) {
        return reply;
    }
    let admission = handler.admit(src, Transport::Udp);
    if admission == Admission::Allow {
        if let Some(q) = &packet.quick {
            if let Some(resp) = handler.try_fast(packet.bytes, q, key, src) {
                return Some(resp);
            }
        }
    }
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        handler.metrics.reject(Reject::Overload);
        return None;
    };
    let packet = packet.to_buf();
    let handler = handler.clone();
    let rt = reply.runtime();
    let reply = reply.clone();
    let task = async move {
        if let Some(resp) = handler
            .handle_admitted(packet.view(), Transport::Udp, admission, src)
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
