//! Batched UDP receive and send (`recvmmsg`/`sendmmsg`, Linux).
//!
//! A `perf` profile of cache hits showed 80% of the server's time in the
//! kernel, most of it the two system calls per query. Under load many
//! queries are queued on the socket at once; receiving up to [`BATCH`] of
//! them in one call and sending the fast-path answers in one call cuts the
//! system calls per query accordingly (docs/benchmarks.md).
//!
//! This module holds the crate's FFI for it. Every pointer handed to the
//! kernel points into buffers owned by [`Batch`] (or the caller's slice)
//! that outlive the call, with lengths taken from those buffers; the kernel
//! writes only within them. Addresses are converted with explicit length
//! and family checks.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// Largest query accepted over UDP (larger ones are truncated by the
/// kernel and dropped).
pub const MAX_QUERY: usize = 4096;

/// Reusable receive buffers for one socket.
pub struct Batch {
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    truncated: Vec<bool>,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    /// Buffers for [`BATCH`] datagrams of [`MAX_QUERY`] bytes.
    pub fn new() -> Self {
        Self {
            bufs: vec![0; BATCH * MAX_QUERY],
            // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
            addrs: vec![unsafe { zeroed() }; BATCH],
            lens: vec![0; BATCH],
            truncated: vec![false; BATCH],
        }
    }

    /// Receive up to [`BATCH`] datagrams; returns how many. With `wait`
    /// false it never blocks (`WouldBlock` when none is queued); with
    /// `wait` true it sleeps until the first datagram arrives
    /// (`MSG_WAITFORONE`; a blocking socket's `SO_RCVTIMEO` bounds the
    /// sleep, then `WouldBlock`) and takes whatever else is queued: one
    /// system call per wake-up instead of `poll` and then `recvmmsg`.
    pub fn recv(&mut self, fd: RawFd, wait: bool) -> io::Result<usize> {
        // SAFETY: zeroed iovec/mmsghdr are valid; each is then pointed at
        // a distinct MAX_QUERY slice of `self.bufs` and a distinct
        // sockaddr_storage of `self.addrs`, all alive for the call.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: as for `iovs`: an all-zero mmsghdr is a valid value.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..BATCH {
            iovs[i].iov_base = self.bufs[i * MAX_QUERY..].as_mut_ptr().cast();
            iovs[i].iov_len = MAX_QUERY;
            hdrs[i].msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `hdrs` holds BATCH initialised headers as above.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                if wait {
                    libc::MSG_WAITFORONE
                } else {
                    libc::MSG_DONTWAIT
                },
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (i, h) in hdrs.iter().take(n).enumerate() {
            self.lens[i] = (h.msg_len as usize).min(MAX_QUERY);
            self.truncated[i] = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        }
        Ok(n)
    }

    /// Datagram `i` of the last [`Batch::recv`]: bytes and source, or None
    /// if it was truncated or its address family is unknown.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        if self.truncated[i] {
            return None;
        }
        let addr = from_storage(&self.addrs[i])?;
        Some((
            &self.bufs[i * MAX_QUERY..i * MAX_QUERY + self.lens[i]],
            addr,
        ))
    }
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero sockaddr_storage is valid; the matching sockaddr_in
    // or sockaddr_in6 is written at its start (it is large and aligned
    // enough for either).
    let mut s: libc::sockaddr_storage = unsafe { zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let p = (&mut s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>();
            // SAFETY: see above.
            unsafe {
                (*p).sin_family = libc::AF_INET as libc::sa_family_t;
                (*p).sin_port = a.port().to_be();
                (*p).sin_addr.s_addr = u32::from(*a.ip()).to_be();
            }
            (s, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(a) => {
            let p = (&mut s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
            // SAFETY: see above.
            unsafe {
                (*p).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*p).sin6_port = a.port().to_be();
                (*p).sin6_addr.s6_addr = a.ip().octets();
                (*p).sin6_flowinfo = a.flowinfo();
                (*p).sin6_scope_id = a.scope_id();
            }
            (s, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

/// Send up to [`BATCH`] datagrams in one call without blocking; returns
/// how many were sent (the rest are the caller's to retry).
pub fn send(fd: RawFd, msgs: &[(Vec<u8>, SocketAddr)]) -> io::Result<usize> {
    let n = msgs.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // Only the first `n` entries are written: zeroing all BATCH headers
    // and addresses (6.6 KB) for the single answer a normal-path task
    // sends was 6% of the instructions of a cold query (callgrind).
    let mut names = [const { MaybeUninit::<libc::sockaddr_storage>::uninit() }; BATCH];
    let mut iovs = [const { MaybeUninit::<libc::iovec>::uninit() }; BATCH];
    let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; BATCH];
    for (i, (bytes, addr)) in msgs.iter().take(n).enumerate() {
        let (storage, len) = to_storage(addr);
        let name = names[i].write(storage);
        let iov = iovs[i].write(libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        });
        // SAFETY: an all-zero mmsghdr is valid; it is then pointed at the
        // caller's message bytes (read-only for the kernel) and at the
        // address storage and iovec above, all alive for the call.
        let mut h: libc::mmsghdr = unsafe { zeroed() };
        h.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
        h.msg_hdr.msg_namelen = len;
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        hdrs[i].write(h);
    }
    // SAFETY: the first `n` headers are initialised as above, and the
    // kernel reads only those (`vlen` = n); MaybeUninit<T> has T's layout.
    let sent = unsafe {
        libc::sendmmsg(
            fd,
            hdrs.as_mut_ptr().cast::<libc::mmsghdr>(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// Block until `fd` is readable (`for_write` false) or writable, or
/// `timeout_ms` passes; returns whether it is ready. The UDP receive
/// threads sleep here instead of in an async runtime: the kernel wakes the
/// thread that will read, with no scheduler hop in between.
pub fn wait(fd: RawFd, for_write: bool, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: if for_write {
            libc::POLLOUT
        } else {
            libc::POLLIN
        },
        revents: 0,
    };
    // SAFETY: one valid pollfd, alive for the call.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    match r {
        r if r < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn batches_round_trip_on_loopback() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = server.local_addr().expect("addr");
        for i in 0..5u8 {
            client.send_to(&[i; 20], to).expect("send");
        }
        // Loopback delivery is synchronous: all five are queued already.
        let mut b = Batch::new();
        let n = b.recv(server.as_raw_fd(), false).expect("recv");
        assert_eq!(n, 5);
        let mut replies = Vec::new();
        for i in 0..n {
            let (bytes, from) = b.get(i).expect("datagram");
            assert_eq!(bytes, &[i as u8; 20]);
            assert_eq!(from, client.local_addr().expect("addr"));
            replies.push((bytes.to_vec(), from));
        }
        assert_eq!(send(server.as_raw_fd(), &replies).expect("send"), 5);
        let mut buf = [0u8; 64];
        for i in 0..5u8 {
            let (len, _) = client.recv_from(&mut buf).expect("reply");
            assert_eq!(&buf[..len], &[i; 20]);
        }
        server.set_nonblocking(true).expect("nb");
        assert_eq!(
            b.recv(server.as_raw_fd(), false).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        // Waiting on a blocking socket: the receive timeout ends an empty
        // wait; a queued datagram and whatever follows it come at once.
        server.set_nonblocking(false).expect("blocking");
        server
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .expect("timeout");
        let t = std::time::Instant::now();
        assert_eq!(
            b.recv(server.as_raw_fd(), true).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        assert!(t.elapsed() >= std::time::Duration::from_millis(40));
        for i in 0..3u8 {
            client.send_to(&[i; 7], to).expect("send");
        }
        assert_eq!(b.recv(server.as_raw_fd(), true).expect("recv"), 3);
        assert_eq!(b.get(2).map(|(d, _)| d.to_vec()), Some(vec![2u8; 7]));
        server.set_nonblocking(true).expect("nb");
        // poll: nothing to read times out; a datagram makes it ready.
        let t = std::time::Instant::now();
        assert!(!wait(server.as_raw_fd(), false, 50).expect("poll"));
        assert!(t.elapsed() >= std::time::Duration::from_millis(40));
        assert!(
            wait(server.as_raw_fd(), true, 50).expect("poll"),
            "writable"
        );
        client.send_to(&[1], to).expect("send");
        assert!(wait(server.as_raw_fd(), false, 1000).expect("poll"));
        let v6 = SocketAddr::from(([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 53));
        let (s, _) = to_storage(&v6);
        assert_eq!(from_storage(&s), Some(v6));
    }
}
