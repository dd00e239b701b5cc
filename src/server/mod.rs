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

pub mod conntrack;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(not(target_os = "linux"))]
use tokio::net::UdpSocket;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::{debug, warn};

use crate::pipeline::{Admission, Handler, Transport};
use crate::policy::matcher::LookupKey;
use crate::server::conntrack::{ConnTracker, Refused, Tracked};

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
mod tcp;
mod udp;

pub use tcp::serve_tcp;
#[cfg(not(target_os = "linux"))]
pub use udp::serve_udp;
#[cfg(target_os = "linux")]
pub use udp::serve_udp_thread;
pub use udp::spawn_udp;
