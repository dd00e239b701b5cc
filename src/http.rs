//! The operations HTTP listener: `/metrics`, `/healthz`, `/readyz`.
//!
//! A deliberately tiny HTTP/1.1 server (GET only, one request per
//! connection, 8 KiB request limit, 5 s deadline): it serves scrapes and
//! probes on a loopback or management address, so a web framework would
//! only add build time and attack surface.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::policy::store::PolicyStore;

/// What the endpoints report on.
pub struct OpsState {
    /// Metrics to render.
    pub metrics: Arc<Metrics>,
    /// Lists, for readiness.
    pub store: Arc<PolicyStore>,
    /// False once shutdown begins, so load balancers withdraw the node
    /// before listeners close.
    pub serving: AtomicBool,
}

impl OpsState {
    /// Ready: every list loaded at least once and not shutting down.
    pub fn ready(&self) -> bool {
        self.serving.load(Ordering::Relaxed) && self.store.load().complete()
    }
}

/// Serve until `stop` turns true.
pub async fn serve(listener: TcpListener, state: Arc<OpsState>, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), one(stream, &state)).await;
        });
    }
}

async fn one(mut s: TcpStream, state: &OpsState) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await?;
        if n == 0 || buf.len() + n > 8192 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = if method != "GET" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else {
        match path {
            "/metrics" => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                state.metrics.render(),
            ),
            "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
            "/readyz" if state.ready() => ("200 OK", "text/plain", "ready\n".to_string()),
            "/readyz" => (
                "503 Service Unavailable",
                "text/plain",
                "not ready\n".to_string(),
            ),
            _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
        }
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).await?;
    s.shutdown().await
}

/// Bind the listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
