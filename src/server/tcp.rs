//! TCP: one task per connection, RFC 7766 framing, queries on a
//! connection answered in order, idle and slow connections closed, the
//! connection table deciding who may stay.

use super::*;
use crate::wire::quick::Packet;
use crate::wire::Reject;

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
                handler.metrics.reject(match refused {
                    Refused::ClientLimit => Reject::TcpClientLimit,
                    Refused::Full => Reject::TcpLimit,
                });
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
            handler.metrics.reject(Reject::TcpLength);
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
        if let Some(resp) = handler
            .handle(Packet::read(&packet), Transport::Tcp, src)
            .await
        {
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
