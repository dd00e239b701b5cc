//! The operations HTTP listener: `GET /metrics`, `/healthz`, `/readyz`,
//! `/explain?name=NAME` (each also answers `HEAD`), and
//! `POST /admin/reload[?force=1]`.
//!
//! With `metrics.admin_token_file` set, every `/admin/*` request needs
//! `Authorization: Bearer TOKEN` (401 otherwise); the read-only endpoints
//! stay open for scrapers and probes. Config validation refuses a
//! non-loopback listener without a token file.
//!
//! A deliberately tiny HTTP/1.1 server (one request per connection, 8 KiB
//! request limit, 5 s deadline to send it): it serves scrapes, probes and
//! operator requests on a loopback or management address, so a web
//! framework would only add build time and attack surface. It binds to
//! loopback by default because `/admin/reload` changes state.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::warn;

use crate::metrics::Metrics;
use crate::policy::store::{PolicyStore, ReloadRequest};

/// What the endpoints report on.
pub struct OpsState {
    /// Metrics to render.
    pub metrics: Arc<Metrics>,
    /// Lists: readiness, explain, reload.
    pub store: Arc<PolicyStore>,
    /// False once shutdown begins, so load balancers withdraw the node
    /// before listeners close.
    pub serving: AtomicBool,
    /// `metrics.admin_token_file`: when set, `/admin/*` needs its token.
    pub admin_token_file: Option<PathBuf>,
    /// Run on `POST /admin/reload` besides the list reload: re-reads the
    /// config file's negative trust anchors (blocking; None when there is
    /// nothing to re-read).
    pub on_reload: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// Shortest token accepted: shorter ones are guessable over the network.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// The admin token in `path`, surrounding whitespace removed. Errors say
/// why in words fit for `check-config` output.
pub fn read_admin_token(path: &Path) -> Result<String, String> {
    let raw = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = raw.trim();
    if token.len() < MIN_ADMIN_TOKEN_LEN {
        return Err(format!(
            "{}: token has {} characters, want at least {MIN_ADMIN_TOKEN_LEN}",
            path.display(),
            token.len()
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{}: token must be printable ASCII without spaces (it travels in an HTTP header)",
            path.display()
        ));
    }
    Ok(token.to_string())
}

/// The `Authorization: Bearer` credential of a request head, if any.
fn bearer(head: &str) -> Option<&str> {
    let mut headers = head.lines().skip(1).take_while(|l| !l.trim().is_empty());
    headers.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("authorization") {
            return None;
        }
        let value = value.trim();
        let (scheme, cred) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| cred.trim())
    })
}

/// Equal, in time independent of where the first difference is.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why an `/admin/*` request may not proceed, as a response; None when
/// no token is configured or the request carries it.
fn admin_refusal(state: &OpsState, head: &str) -> Option<(&'static str, &'static str, String)> {
    let file = state.admin_token_file.as_ref()?;
    let want = match read_admin_token(file) {
        Ok(t) => t,
        Err(e) => {
            warn!("admin request refused: cannot read metrics.admin_token_file: {e}");
            return Some((
                "503 Service Unavailable",
                "text/plain",
                "admin token unavailable\n".to_string(),
            ));
        }
    };
    match bearer(head) {
        Some(given) if same_token(given.as_bytes(), want.as_bytes()) => None,
        given => {
            warn!(
                credential = if given.is_some() { "wrong" } else { "missing" },
                "admin request refused: bad bearer token"
            );
            Some((
                "401 Unauthorized",
                "text/plain",
                "admin requests need Authorization: Bearer TOKEN\n".to_string(),
            ))
        }
    }
}

impl OpsState {
    /// Ready: every list loaded at least once and not shutting down.
    pub fn ready(&self) -> bool {
        self.serving.load(Ordering::Relaxed) && self.store.load().complete()
    }
}

/// Serve until `stop` turns true. Each connection may carry one request.
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
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // HEAD is GET without the body (RFC 9110 section 9.3.2): probes and
    // load balancers that use it must see the same status and headers.
    let head_only = method == "HEAD";
    let method = if head_only { "GET" } else { method };
    let refusal = if path.starts_with("/admin/") {
        admin_refusal(state, &head)
    } else {
        None
    };
    let (status, ctype, body) = match (method, path) {
        // First: without the token an /admin/* request learns nothing, not
        // even which methods exist.
        _ if refusal.is_some() => refusal.unwrap_or_default(),
        ("GET", "/metrics") => {
            // Computed now from the same check as /readyz, so the gauge
            // cannot lag behind or contradict it.
            state.metrics.ready.set(i64::from(state.ready()));
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                state.metrics.render(),
            )
        }
        ("GET", "/healthz") => ("200 OK", "text/plain", "ok\n".to_string()),
        ("GET", "/readyz") if state.ready() => ("200 OK", "text/plain", "ready\n".to_string()),
        ("GET", "/readyz") => (
            "503 Service Unavailable",
            "text/plain",
            "not ready\n".to_string(),
        ),
        ("GET", "/explain") => match param(query, "name") {
            Some(name) => match state.store.load().explain_name(&name) {
                Ok(e) => (
                    "200 OK",
                    "application/json",
                    serde_json::to_string_pretty(&e).unwrap_or_default() + "\n",
                ),
                // The reason (empty label, too long, IP address ...), not
                // a guess that the caller got the URL wrong.
                Err(why) => ("400 Bad Request", "text/plain", why + "\n"),
            },
            None => (
                "400 Bad Request",
                "text/plain",
                "want /explain?name=NAME\n".to_string(),
            ),
        },
        ("POST", "/admin/reload") => {
            let req = ReloadRequest {
                reread: true,
                force: param(query, "force").is_some_and(|v| v == "1" || v == "true"),
            };
            let store = state.store.clone();
            let hook = state.on_reload.clone();
            let work = move || {
                if let Some(h) = hook {
                    h();
                }
                store.reload(req)
            };
            match tokio::task::spawn_blocking(work).await {
                Ok(out) => {
                    let status = if out.failed().is_empty() {
                        "200 OK"
                    } else {
                        "409 Conflict"
                    };
                    (
                        status,
                        "application/json",
                        serde_json::to_string_pretty(&out).unwrap_or_default() + "\n",
                    )
                }
                Err(e) => (
                    "500 Internal Server Error",
                    "text/plain",
                    format!("reload failed: {e}\n"),
                ),
            }
        }
        (_, "/metrics" | "/healthz" | "/readyz" | "/explain" | "/admin/reload") => (
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed\n".to_string(),
        ),
        _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
    };
    let allow = match path {
        _ if !status.starts_with("405") => "",
        "/admin/reload" => "Allow: POST\r\n",
        _ => "Allow: GET, HEAD\r\n",
    };
    let challenge = if status.starts_with("401") {
        "WWW-Authenticate: Bearer realm=\"dnsward admin\"\r\n"
    } else {
        ""
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{allow}{challenge}Connection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        resp.push_str(&body);
    }
    s.write_all(resp.as_bytes()).await?;
    s.shutdown().await
}

/// A query-string parameter, percent-decoded.
fn param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Bind the listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            param("name=a.example&x=1", "name").as_deref(),
            Some("a.example")
        );
        assert_eq!(
            param("name=b%2Eexample", "name").as_deref(),
            Some("b.example")
        );
        assert_eq!(param("force", "force").as_deref(), Some(""));
        assert_eq!(param("x=%zz%", "x").as_deref(), Some("%zz%"));
        assert_eq!(param("", "name"), None);
    }

    #[test]
    fn bearer_credentials_are_found_case_insensitively() {
        let head = "POST /admin/reload HTTP/1.1\r\nHost: x\r\nauthorization: bearer  abc \r\n\r\n";
        assert_eq!(bearer(head), Some("abc"));
        assert_eq!(
            bearer("POST / HTTP/1.1\r\nAuthorization: Basic abc\r\n"),
            None
        );
        assert_eq!(
            bearer("POST / HTTP/1.1\r\nX-Authorization: Bearer abc\r\n"),
            None
        );
        assert_eq!(
            bearer("Authorization: Bearer abc\r\n"),
            None,
            "not on the request line"
        );
        assert_eq!(
            bearer("POST / HTTP/1.1\r\n\r\nAuthorization: Bearer abc\r\n"),
            None,
            "not in the body"
        );
        assert!(same_token(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!same_token(b"0123456789abcdef", b"0123456789abcdeF"));
        assert!(!same_token(b"0123456789abcdef", b"0123456789abcde"));
    }
}
