//! The block page: an HTTP server on the sinkhole addresses that tells a
//! subscriber's browser why a site is unavailable.
//!
//! Every request whose host (the absolute URI's, else the `Host` header's)
//! is blocked gets `451 Unavailable For Legal Reasons` (RFC 7725) with
//! `Link: <authority_url>; rel="blocked-by"`, `Cache-Control: no-store`
//! and a page naming the host, the list, the order and the appeal route
//! ([`page`]). Any other host gets 404: the server never claims a block
//! DNS would not make. The decision is [`Policy::decide`] on the same
//! [`PolicyStore`] the DNS path reads, so a list reload changes both at
//! the same instant.
//!
//! It faces every subscriber, so everything is bounded: connections open
//! at once, request head size and header count (431), the time to send a
//! request head or a TLS handshake (which is also the keep-alive idle
//! time) and a connection's whole life. HTTP parsing is hyper's.
//!
//! One listener serves both HTTP and HTTPS: a connection whose first byte
//! is a TLS handshake record (0x16, never the first byte of an HTTP
//! method) is TLS ([`tls`]), served with the operator's certificate when
//! one is configured and closed at once otherwise.

pub mod page;
pub mod tls;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::policy::chained::ChainMemo;
use arc_swap::ArcSwap;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{IntCounterVec, IntGauge, Opts};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::{parse_addr, BlockPageConfig, Problem};
use crate::metrics::Metrics;
use crate::policy::matcher::LookupKey;
use crate::policy::store::PolicyStore;
use crate::policy::Decision;
use page::{Facts, Page};

/// Block-page responses, by `status` (451, 404, and the 431/400 hyper
/// sends for requests over the limits or malformed).
pub const REQUESTS: &str = "dnsward_blockpage_requests_total";
/// Connections or requests refused by a limit, by `reason`:
/// `connections` (max_connections), `header_too_large` (max_header_bytes
/// or max_headers), `bad_request`, `timeout` (header_timeout_ms, idle
/// keep-alive connections included), `tls_no_cert`, `tls_handshake`.
pub const REJECTED: &str = "dnsward_blockpage_rejected_total";
/// Block-page connections open now.
pub const CONNECTIONS: &str = "dnsward_blockpage_connections";

const STATUSES: &[&str] = &["451", "404", "431", "400"];
const REASONS: &[&str] = &[
    "connections",
    "header_too_large",
    "bad_request",
    "timeout",
    "tls_no_cert",
    "tls_handshake",
];

/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE: u8 = 0x16;

/// Bounds on what one client may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `blockpage.max_connections`.
    pub max_connections: usize,
    /// `blockpage.max_header_bytes`.
    pub max_header_bytes: usize,
    /// `blockpage.max_headers`.
    pub max_headers: usize,
    /// `blockpage.header_timeout_ms`.
    pub header_timeout: Duration,
    /// `blockpage.max_connection_secs`.
    pub max_connection: Duration,
}

/// A `[blockpage]` section that passed validation: addresses parsed,
/// template compiled and test-rendered, certificate and key loaded.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Parsed `blockpage.listen`.
    pub listen: Vec<SocketAddr>,
    /// The page renderer.
    pub page: Arc<Page>,
    /// TLS settings, when `tls_cert` is set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The limits.
    pub limits: Limits,
    /// `template` resolved against the config file's directory.
    pub template_path: Option<PathBuf>,
    /// `tls_cert` resolved.
    pub tls_cert_path: Option<PathBuf>,
    /// `tls_key` resolved.
    pub tls_key_path: Option<PathBuf>,
}

/// Check an operator-supplied text shown on the page or in a header.
fn plain_text(s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(format!("at most {max} characters, no control characters"));
    }
    Ok(())
}

/// `authority_url` goes into a `Link` header and an EDE text: an
/// http(s) URL of visible ASCII without `<`, `>` or quotes.
fn check_url(s: &str) -> Result<(), String> {
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not an http(s) URL of at most 200 visible ASCII characters without <, >, \" or \\"
        ))
    }
}

/// Validate `[blockpage]`, pushing every problem (keys `blockpage.*`);
/// None when the page is off (`listen` empty) or a problem was found.
pub fn prepare(
    cfg: &BlockPageConfig,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Prepared> {
    let before = problems.len();
    let mut bad = |key: &str, reason: String| {
        problems.push(Problem {
            key: format!("blockpage.{key}"),
            reason,
        })
    };
    if !cfg.authority_url.is_empty() {
        if let Err(e) = check_url(&cfg.authority_url) {
            bad("authority_url", e);
        }
    }
    if let Err(e) = plain_text(&cfg.appeal, 500) {
        bad("appeal", e);
    }
    if cfg.listen.is_empty() {
        return None;
    }
    let mut listen = Vec::new();
    for (i, s) in cfg.listen.iter().enumerate() {
        match parse_addr(s, 80) {
            Ok(a) => listen.push(a),
            Err(e) => bad(&format!("listen[{i}]"), e),
        }
    }
    if cfg.authority_url.is_empty() {
        bad(
            "authority_url",
            "needed when blockpage.listen is set: every 451 names its authority (RFC 7725 Link rel=\"blocked-by\")".into(),
        );
    }
    for (key, v, min, max) in [
        ("max_connections", cfg.max_connections, 1, 1_000_000),
        ("max_header_bytes", cfg.max_header_bytes, 1024, 65_536),
        ("max_headers", cfg.max_headers, 4, 1000),
    ] {
        if !(min..=max).contains(&v) {
            bad(key, format!("must be between {min} and {max}"));
        }
    }
    if cfg.header_timeout_ms == 0 {
        bad("header_timeout_ms", "must be at least 1".into());
    }
    if cfg.max_connection_secs == 0 {
        bad("max_connection_secs", "must be at least 1".into());
    }
    let resolve = |s: &str| (!s.is_empty()).then(|| base.join(s));
    let template_path = resolve(&cfg.template);
    let source = match &template_path {
        None => None,
        Some(p) => match std::fs::read(p) {
            Ok(b) if b.len() > page::MAX_TEMPLATE_BYTES => {
                bad(
                    "template",
                    format!(
                        "{}: larger than {} bytes",
                        p.display(),
                        page::MAX_TEMPLATE_BYTES
                    ),
                );
                None
            }
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => Some(s),
                Err(_) => {
                    bad("template", format!("{}: not UTF-8", p.display()));
                    None
                }
            },
            Err(e) => {
                bad("template", format!("{}: {e}", p.display()));
                None
            }
        },
    };
    let page = if template_path.is_some() && source.is_none() {
        None
    } else {
        match Page::new(source, &cfg.authority_url, &cfg.appeal) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                let file = template_path
                    .as_deref()
                    .map_or("<built-in>".to_string(), |p| p.display().to_string());
                let hint = if e.kind() == minijinja::ErrorKind::UndefinedError {
                    format!(" (the variables are {})", page::VARIABLES.join(", "))
                } else {
                    String::new()
                };
                bad("template", format!("{file}: {e}{hint}"));
                None
            }
        }
    };
    let (tls_cert_path, tls_key_path) = (resolve(&cfg.tls_cert), resolve(&cfg.tls_key));
    let tls = match (&tls_cert_path, &tls_key_path) {
        (None, None) => None,
        (Some(_), None) => {
            bad("tls_key", "needed with blockpage.tls_cert".into());
            None
        }
        (None, Some(_)) => {
            bad("tls_cert", "needed with blockpage.tls_key".into());
            None
        }
        (Some(c), Some(k)) => match tls::server_config(c, k) {
            Ok(t) => Some(t),
            Err(e @ tls::TlsError::Key { .. }) => {
                bad("tls_key", e.to_string());
                None
            }
            Err(e) => {
                bad("tls_cert", e.to_string());
                None
            }
        },
    };
    if problems.len() > before {
        return None;
    }
    Some(Prepared {
        listen,
        page: page?,
        tls,
        limits: Limits {
            max_connections: cfg.max_connections,
            max_header_bytes: cfg.max_header_bytes,
            max_headers: cfg.max_headers,
            header_timeout: Duration::from_millis(cfg.header_timeout_ms),
            max_connection: Duration::from_secs(cfg.max_connection_secs),
        },
        template_path,
        tls_cert_path,
        tls_key_path,
    })
}

/// The host a request is for, lower case without port or trailing dot;
/// None unless it is a syntactically plain DNS name (an IP literal or
/// anything with other bytes is never on a list, and never reflected).
pub fn request_host(req: &Request<Incoming>) -> Option<String> {
    // RFC 9112 section 3.2.2: an absolute-form target overrides Host.
    let raw = match req.uri().host() {
        Some(h) => h,
        None => req.headers().get(header::HOST)?.to_str().ok()?,
    };
    normalize_host(raw)
}

/// See [`request_host`].
pub fn normalize_host(raw: &str) -> Option<String> {
    let name = match raw.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => raw,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let plain = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plain.then(|| name.to_ascii_lowercase())
}

struct PageMetrics {
    requests: IntCounterVec,
    rejected: IntCounterVec,
    connections: IntGauge,
}

/// The running block page: policy, renderer, TLS and limits.
pub struct BlockPage {
    store: Arc<PolicyStore>,
    chained: Arc<ChainMemo>,
    page: ArcSwap<Page>,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    http: http1::Builder,
    slots: Arc<Semaphore>,
    metrics: PageMetrics,
}

impl BlockPage {
    /// Build from a validated section; registers the block-page metrics
    /// in `metrics`' registry.
    pub fn new(
        p: &Prepared,
        store: Arc<PolicyStore>,
        chained: Arc<ChainMemo>,
        metrics: &Metrics,
    ) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(REQUESTS, "Block-page responses by HTTP status."),
            &["status"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                REJECTED,
                "Block-page connections or requests refused by a limit.",
            ),
            &["reason"],
        )?;
        let connections = IntGauge::new(CONNECTIONS, "Block-page connections open now.")?;
        metrics.registry.register(Box::new(requests.clone()))?;
        metrics.registry.register(Box::new(rejected.clone()))?;
        metrics.registry.register(Box::new(connections.clone()))?;
        for s in STATUSES {
            requests.with_label_values(&[s]);
        }
        for r in REASONS {
            rejected.with_label_values(&[r]);
        }
        let l = p.limits;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(l.header_timeout)
            .max_headers(l.max_headers)
            .max_header_size(l.max_header_bytes)
            .max_buf_size(l.max_header_bytes.max(8192))
            .keep_alive(true);
        Ok(Self {
            store,
            chained,
            page: ArcSwap::new(p.page.clone()),
            tls: p.tls.clone().map(TlsAcceptor::from),
            limits: l,
            http,
            slots: Arc::new(Semaphore::new(l.max_connections)),
            metrics: PageMetrics {
                requests,
                rejected,
                connections,
            },
        })
    }

    /// Replace the page (a config reload with a new template, authority
    /// or appeal); requests in progress finish with the old one.
    pub fn set_page(&self, page: Arc<Page>) {
        self.page.store(page);
    }

    /// Whether `host` is blocked for `client` (the lists of its policy
    /// group; every list when the peer is unknown), and what the page
    /// should say: the same decision the DNS path makes for the name, or
    /// for the listed name its CNAME/DNAME chain led to when the resolver
    /// blocked it through the chain (see [`ChainMemo`]).
    pub fn lookup(&self, host: &str, client: Option<IpAddr>) -> Option<Facts> {
        let policy = self.store.load();
        let decide = |name: &str| {
            let key = LookupKey::from_dotted(name);
            match client {
                Some(c) => policy.decide_client(&key, c).0,
                None => policy.decide(&key),
            }
            .decision
        };
        let decision = match decide(host) {
            Decision::Blocked(b) => Decision::Blocked(b),
            Decision::Allowed { list, line } => Decision::Allowed { list, line },
            Decision::NotListed => match self.chained.target(host, Instant::now()) {
                Some(target) => decide(&target),
                None => Decision::NotListed,
            },
        };
        let Decision::Blocked(b) = decision else {
            return None;
        };
        let cfg = &b.list.cfg;
        Some(Facts {
            host: host.to_string(),
            list: cfg.name.clone(),
            description: cfg.description.clone().unwrap_or_default(),
            order_id: cfg.order_id.clone().unwrap_or_default(),
            summary: b.list.ede_text.clone(),
        })
    }

    fn reject(&self, reason: &str) {
        self.metrics.rejected.with_label_values(&[reason]).inc();
    }

    /// The response to one request.
    pub fn respond<B>(
        &self,
        req: &Request<B>,
        host: Option<String>,
        client: Option<IpAddr>,
    ) -> Response<Full<Bytes>> {
        let facts = host.as_deref().and_then(|h| self.lookup(h, client));
        let mut resp = match facts {
            Some(f) => self.blocked(req, &f),
            None => {
                let mut r = Response::new(Full::new(Bytes::from_static(b"Not found\n")));
                *r.status_mut() = StatusCode::NOT_FOUND;
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
        };
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        self.metrics
            .requests
            .with_label_values(&[resp.status().as_str()])
            .inc();
        resp
    }

    fn blocked<B>(&self, req: &Request<B>, f: &Facts) -> Response<Full<Bytes>> {
        let lang = page::negotiate(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let page = self.page.load();
        let (body, ctype) = match page.render(f, lang) {
            Ok(html) => (Bytes::from(html), "text/html; charset=utf-8"),
            Err(e) => {
                tracing::warn!("block page template failed: {e:#}");
                (
                    Bytes::from_static(b"451 Unavailable For Legal Reasons\n"),
                    "text/plain; charset=utf-8",
                )
            }
        };
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS;
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        h.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.tag()),
        );
        h.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("<{}>; rel=\"blocked-by\"", page.authority_url()))
        {
            h.insert(header::LINK, v);
        }
        r
    }
}

/// Accept connections until `stop` turns true.
pub async fn serve(listener: TcpListener, bp: Arc<BlockPage>, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    // Out of file descriptors or similar: back off briefly
                    // instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let Ok(permit) = bp.slots.clone().try_acquire_owned() else {
            bp.reject("connections");
            continue;
        };
        let bp = bp.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            bp.metrics.connections.inc();
            connection(&bp, stream, stop).await;
            bp.metrics.connections.dec();
            drop(permit);
        });
    }
}

async fn connection(bp: &Arc<BlockPage>, stream: TcpStream, stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok().map(|a| a.ip());
    let wait = bp.limits.header_timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout(wait, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => {}
        Ok(_) => return,
        Err(_) => {
            bp.reject("timeout");
            return;
        }
    }
    if first[0] != TLS_HANDSHAKE {
        return http(bp, TokioIo::new(stream), stop, peer).await;
    }
    let Some(acceptor) = &bp.tls else {
        // No certificate: nothing honest can be said over TLS (see
        // `tls`), so close before the handshake goes any further.
        bp.reject("tls_no_cert");
        return;
    };
    match tokio::time::timeout(wait, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => http(bp, TokioIo::new(tls), stop, peer).await,
        Ok(Err(_)) => bp.reject("tls_handshake"),
        Err(_) => bp.reject("timeout"),
    }
}

async fn http<I>(bp: &Arc<BlockPage>, io: I, mut stop: watch::Receiver<bool>, peer: Option<IpAddr>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = {
        let bp = bp.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let host = request_host(&req);
            let resp = bp.respond(&req, host, peer);
            async move { Ok::<_, Infallible>(resp) }
        })
    };
    let conn = bp.http.serve_connection(io, svc);
    tokio::pin!(conn);
    let life = tokio::time::sleep(bp.limits.max_connection);
    tokio::pin!(life);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = &mut life => finish(conn.as_mut(), bp.limits.header_timeout).await,
        _ = stop.changed() => finish(conn.as_mut(), bp.limits.header_timeout).await,
    };
    if let Err(e) = result {
        if e.is_parse_too_large() {
            bp.metrics.requests.with_label_values(&["431"]).inc();
            bp.reject("header_too_large");
        } else if e.is_parse() {
            bp.metrics.requests.with_label_values(&["400"]).inc();
            bp.reject("bad_request");
        } else if e.is_timeout() {
            bp.reject("timeout");
        }
    }
}

/// Let the response in progress finish, then close; bounded.
async fn finish<I, S>(
    mut conn: std::pin::Pin<&mut http1::Connection<I, S>>,
    wait: Duration,
) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    conn.as_mut().graceful_shutdown();
    tokio::time::timeout(wait, conn).await.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_plain_names_or_nothing() {
        for (raw, want) in [
            ("Blocked.Example", Some("blocked.example")),
            ("blocked.example:8080", Some("blocked.example")),
            ("blocked.example.", Some("blocked.example")),
            ("_dmarc.example", Some("_dmarc.example")),
            ("[::1]:80", None),
            ("<script>alert(1)</script>", None),
            ("a.example\"><img src=x>", None),
            ("a.example:80x", None),
            ("a..example", None),
            ("", None),
            (":80", None),
        ] {
            assert_eq!(normalize_host(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn url_and_texts_are_checked() {
        assert!(check_url("https://authority.example/orders?id=1").is_ok());
        for bad in [
            "ftp://x",
            "https://a b",
            "https://a>b",
            "https://x\r\nSet-Cookie: a",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(plain_text("Apply to the court.", 500).is_ok());
        assert!(plain_text("line\nbreak", 500).is_err());
    }
}
