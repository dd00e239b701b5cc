//! Lists fetched over HTTPS (`[[lists]] url = ...`).
//!
//! One task per feed list. The version at `path` (the cache and seed) is
//! loaded at start like any file list, so blocking works during a feed
//! outage; then the feed is fetched every `refresh_secs`. A fetch is
//! conditional (`If-None-Match` / `If-Modified-Since` from `path.meta`), so
//! an unchanged feed costs a 304. A 200 body is streamed to `path.part`
//! beside `path` with a size cap, checked (complete, not an HTML page,
//! optional published SHA-256), then offered to the store, which compiles
//! it with the list's own guards (shrink, emptied, too many rejected
//! lines); only an accepted version is renamed onto `path`. Any failure
//! keeps the serving version, is counted, logged and audited, and the
//! next attempt backs off exponentially (with jitter) up to
//! `refresh_secs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

use super::store::PolicyStore;
use crate::config::ListConfig;
use crate::metrics::Metrics;

/// `refresh_secs` when not set.
pub const DEFAULT_REFRESH_SECS: u64 = 600;
/// `timeout_secs` when not set.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// `max_size_mb` when not set.
pub const DEFAULT_MAX_SIZE_MB: u64 = 64;
/// First retry delay after a failed fetch; doubles up to `refresh_secs`.
pub const RETRY_START_SECS: u64 = 30;
/// Largest published digest file read from `sha256_url`.
const MAX_DIGEST_BYTES: u64 = 4096;
/// The `kind` label of feed fetches in `dnsward_list_transfer_total`.
pub const KIND: &str = "http";

/// Why a fetch produced no version to offer. [`FeedError::reason`] is the
/// `result` label and the audit reason.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The whole fetch took longer than `timeout_secs`.
    #[error("no complete answer within {0} s")]
    Timeout(u64),
    /// Connection, TLS or protocol failure.
    #[error("{0}")]
    Network(String),
    /// A status other than 200 or 304.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body grew past `max_size_mb`.
    #[error("body larger than {0} MiB")]
    TooLarge(u64),
    /// The body ended before its announced length.
    #[error("body ended after {got} of {want} bytes")]
    Truncated {
        /// Bytes received.
        got: u64,
        /// Content-Length.
        want: u64,
    },
    /// An HTML page (a portal or error page) instead of a list.
    #[error("body is an HTML page, not a list")]
    Html,
    /// The body does not match the digest published at `sha256_url`.
    #[error("body SHA-256 {actual} does not match {expected} published at {url}")]
    Checksum {
        /// Published digest.
        expected: String,
        /// Digest of the body.
        actual: String,
        /// Where it was published.
        url: String,
    },
    /// `sha256_url` could not be fetched or held no digest.
    #[error("digest at {url}: {reason}")]
    Digest {
        /// `sha256_url`.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the cache file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl FeedError {
    /// Low-cardinality label for metrics and the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            FeedError::Timeout(_) => "timeout",
            FeedError::Network(_) => "network",
            FeedError::Status(_) => "status",
            FeedError::TooLarge(_) => "too_large",
            FeedError::Truncated { .. } => "truncated",
            FeedError::Html => "html",
            FeedError::Checksum { .. } | FeedError::Digest { .. } => "checksum",
            FeedError::Io { .. } => "write",
        }
    }
}

/// Problems with a list's feed keys, as (key, reason), for
/// [`crate::config`] validation.
pub fn validate(l: &ListConfig) -> Vec<(&'static str, String)> {
    let mut bad = Vec::new();
    let Some(url) = &l.url else {
        for (key, set) in [
            ("refresh_secs", l.refresh_secs.is_some()),
            ("timeout_secs", l.timeout_secs.is_some()),
            ("max_size_mb", l.max_size_mb.is_some()),
            ("sha256_url", l.sha256_url.is_some()),
            ("ca_file", l.ca_file.is_some()),
        ] {
            if set {
                bad.push((key, "only used with `url`".to_string()));
            }
        }
        return bad;
    };
    for (key, u) in [("url", Some(url)), ("sha256_url", l.sha256_url.as_ref())] {
        if let Some(u) = u {
            match reqwest::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "https" | "http") && p.host().is_some() => {}
                Ok(p) => bad.push((
                    key,
                    format!("`{u}`: scheme `{}` is not https or http", p.scheme()),
                )),
                Err(e) => bad.push((key, format!("`{u}`: {e}"))),
            }
        }
    }
    if l.refresh_secs == Some(0) {
        bad.push(("refresh_secs", "must be at least 1".into()));
    }
    if l.timeout_secs == Some(0) {
        bad.push(("timeout_secs", "must be at least 1".into()));
    }
    if matches!(l.max_size_mb, Some(0) | Some(4097..)) {
        bad.push(("max_size_mb", "must be 1-4096".into()));
    }
    bad
}

/// The conditional-request state kept in `path.meta` beside the cache, so
/// a restart still sends `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    /// The URL these validators belong to; another URL starts afresh.
    pub url: String,
    /// `ETag` of the version at `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified` of the version at `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// `path.meta`: the validators of the cached version.
pub fn meta_path(path: &Path) -> PathBuf {
    with_suffix(path, ".meta")
}

/// `path.part`: a download being checked.
pub fn part_path(path: &Path) -> PathBuf {
    with_suffix(path, ".part")
}

fn read_meta(path: &Path, url: &str) -> Meta {
    std::fs::read(meta_path(path))
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .filter(|m| m.url == url && path.is_file())
        .unwrap_or_else(|| Meta {
            url: url.to_string(),
            ..Meta::default()
        })
}

/// What one fetch brought.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the cached version is current.
    NotModified,
    /// A complete, checked body at `path.part`, with its validators.
    Body(Meta),
}

/// One feed list's settings, resolved from its config.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Index of the list in the store.
    pub index: usize,
    /// List name (logs, labels).
    pub name: String,
    /// Feed URL.
    pub url: String,
    /// Cache and seed.
    pub path: PathBuf,
    /// Published digest.
    pub sha256_url: Option<String>,
    /// Time between fetches.
    pub refresh: Duration,
    /// Whole-fetch timeout.
    pub timeout: Duration,
    /// Body cap in bytes.
    pub max_bytes: u64,
    client: reqwest::Client,
}

impl Feed {
    /// The feed of list `index`, or `None` for a file list. Errors name
    /// the list and `ca_file`.
    pub fn new(index: usize, cfg: &ListConfig) -> Result<Option<Self>, String> {
        let Some(url) = &cfg.url else {
            return Ok(None);
        };
        if url.starts_with("http://") {
            warn!(list = %cfg.name, %url, "feed over plain http: anyone on the path can change the list (use https or sha256_url)");
        }
        let timeout = Duration::from_secs(cfg.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("dnsward/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout);
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no PEM certificate", ca.display()));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        // The cache directory may be new (`state/`): made here, before the
        // list watcher looks for it.
        if let Some(dir) = cfg.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let client = b
            .build()
            .map_err(|e| format!("list {}: HTTP client: {e}", cfg.name))?;
        Ok(Some(Self {
            index,
            name: cfg.name.clone(),
            url: url.clone(),
            path: cfg.path.clone(),
            sha256_url: cfg.sha256_url.clone(),
            refresh: Duration::from_secs(cfg.refresh_secs.unwrap_or(DEFAULT_REFRESH_SECS).max(1)),
            timeout,
            max_bytes: cfg.max_size_mb.unwrap_or(DEFAULT_MAX_SIZE_MB) * 1024 * 1024,
            client,
        }))
    }

    /// Fetch once (bounded by the timeout). On [`Fetched::Body`] the body
    /// is at [`part_path`]; on error no `.part` file is left.
    pub async fn fetch(&self) -> Result<Fetched, FeedError> {
        let secs = self.timeout.as_secs();
        let r = match tokio::time::timeout(self.timeout, self.fetch_inner()).await {
            Ok(r) => r,
            Err(_) => Err(FeedError::Timeout(secs)),
        };
        if r.is_err() {
            let _ = tokio::fs::remove_file(part_path(&self.path)).await;
        }
        r
    }

    fn net(&self, e: reqwest::Error) -> FeedError {
        if e.is_timeout() {
            FeedError::Timeout(self.timeout.as_secs())
        } else {
            FeedError::Network(error_chain(&e))
        }
    }

    async fn fetch_inner(&self) -> Result<Fetched, FeedError> {
        let old = read_meta(&self.path, &self.url);
        let mut req = self.client.get(&self.url);
        if let Some(e) = &old.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(m) = &old.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
        }
        let mut resp = req.send().await.map_err(|e| self.net(e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED && self.path.is_file() {
            return Ok(Fetched::NotModified);
        }
        if status != reqwest::StatusCode::OK {
            return Err(FeedError::Status(status.as_u16()));
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let meta = Meta {
            url: self.url.clone(),
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        if header(reqwest::header::CONTENT_TYPE)
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"))
        {
            return Err(FeedError::Html);
        }
        let want = resp.content_length();
        if want.is_some_and(|n| n > self.max_bytes) {
            return Err(FeedError::TooLarge(self.max_bytes / 1024 / 1024));
        }
        let part = part_path(&self.path);
        let io = |source| FeedError::Io {
            path: part.clone(),
            source,
        };
        let mut file = tokio::fs::File::create(&part).await.map_err(io)?;
        let mut hash = Sha256::new();
        let mut got: u64 = 0;
        let mut head: Vec<u8> = Vec::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(FeedError::Timeout(self.timeout.as_secs())),
                Err(e) => {
                    return Err(match want {
                        Some(want) if got < want => FeedError::Truncated { got, want },
                        _ => self.net(e),
                    })
                }
            };
            got += chunk.len() as u64;
            if got > self.max_bytes {
                return Err(FeedError::TooLarge(self.max_bytes / 1024 / 1024));
            }
            if head.len() < 64 {
                head.extend_from_slice(&chunk[..chunk.len().min(64)]);
            }
            hash.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
        }
        if let Some(want) = want {
            if got != want {
                return Err(FeedError::Truncated { got, want });
            }
        }
        if looks_like_html(&head) {
            return Err(FeedError::Html);
        }
        file.sync_all().await.map_err(io)?;
        drop(file);
        if let Some(url) = &self.sha256_url {
            let expected = self.digest(url).await?;
            let actual = hex(&hash.finalize());
            if expected != actual {
                return Err(FeedError::Checksum {
                    expected,
                    actual,
                    url: url.clone(),
                });
            }
        }
        Ok(Fetched::Body(meta))
    }

    /// The first 64-hex-digit token published at `url`, lowercased.
    async fn digest(&self, url: &str) -> Result<String, FeedError> {
        let bad = |reason: String| FeedError::Digest {
            url: url.to_string(),
            reason,
        };
        let mut resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| bad(error_chain(&e)))?;
        if !resp.status().is_success() {
            return Err(bad(format!("HTTP status {}", resp.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(c) = resp.chunk().await.map_err(|e| bad(error_chain(&e)))? {
            body.extend_from_slice(&c);
            if body.len() as u64 > MAX_DIGEST_BYTES {
                return Err(bad(format!("larger than {MAX_DIGEST_BYTES} bytes")));
            }
        }
        String::from_utf8_lossy(&body)
            .split_whitespace()
            .next()
            .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| bad("no SHA-256 hex digest as first token".into()))
    }
}

/// A body whose first bytes (after whitespace) open an HTML document.
pub fn looks_like_html(head: &[u8]) -> bool {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let rest = head[start..].to_ascii_lowercase();
    // A UTF-8 byte order mark before the tag.
    let rest = rest.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&rest);
    rest.starts_with(b"<!doctype html") || rest.starts_with(b"<html")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An error with its causes (reqwest hides the useful part in `source`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Delay before retry number `failures` (1 = first): 30 s doubling, capped
/// at `refresh`, with up to a quarter added at random so many resolvers
/// behind one feed do not retry in step.
pub fn backoff(failures: u32, refresh: Duration) -> Duration {
    let base = Duration::from_secs(RETRY_START_SECS)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(refresh);
    let jitter = base.mul_f64(f64::from(rand::random::<u16>()) / f64::from(u16::MAX) / 4.0);
    base + jitter
}

/// Fetch once and offer the result to the store; returns the `result`
/// label recorded (`success`, `not_modified`, `refused` or a [`FeedError`]
/// reason) and whether it counts as success for the retry schedule.
pub async fn run_once(
    feed: &Feed,
    store: &Arc<PolicyStore>,
    metrics: &Metrics,
) -> (&'static str, bool) {
    let (result, ok) = match feed.fetch().await {
        Ok(Fetched::NotModified) => ("not_modified", true),
        Ok(Fetched::Body(meta)) => {
            let (store, f) = (store.clone(), feed.clone());
            let offered = tokio::task::spawn_blocking(move || {
                let part = part_path(&f.path);
                let out = store.offer_file(f.index, &part, || std::fs::rename(&part, &f.path));
                let _ = std::fs::remove_file(&part);
                if out.as_ref().is_some_and(|o| o.result != "refused") {
                    // Without it the next fetch is unconditional: a cost,
                    // not a failure.
                    let json = serde_json::to_vec(&meta).unwrap_or_default();
                    if let Err(e) = std::fs::write(meta_path(&f.path), json) {
                        warn!(list = %f.name, "{}: {e}", meta_path(&f.path).display());
                    }
                }
                out
            })
            .await
            .ok()
            .flatten();
            match offered {
                Some(o) if o.result == "refused" => ("refused", false),
                Some(o) => {
                    info!(list = %feed.name, url = %feed.url, result = o.result, entries = o.entries_after, "feed fetched");
                    ("success", true)
                }
                None => ("refused", false),
            }
        }
        Err(e) => {
            let reason = e.reason();
            warn!(list = %feed.name, url = %feed.url, reason, "feed fetch failed, keeping the serving version: {e}");
            let (store, index, text) = (store.clone(), feed.index, format!("{}: {e}", feed.url));
            let _ =
                tokio::task::spawn_blocking(move || store.refuse_fetch(index, reason, text)).await;
            (reason, false)
        }
    };
    metrics.record_transfer(&feed.name, KIND, result);
    (result, ok)
}

/// Fetch `feed` forever: every `refresh` after a success, with backoff
/// after failures. Aborted at shutdown.
pub async fn run(feed: Feed, store: Arc<PolicyStore>, metrics: Arc<Metrics>) {
    let mut failures = 0u32;
    loop {
        let (_, ok) = run_once(&feed, &store, &metrics).await;
        let wait = if ok {
            failures = 0;
            feed.refresh
        } else {
            failures = failures.saturating_add(1);
            backoff(failures, feed.refresh)
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_sniffing() {
        assert!(looks_like_html(b"  \n<!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<HTML><body>"));
        assert!(looks_like_html(b"\xef\xbb\xbf<html>"));
        assert!(!looks_like_html(b"example.com\n<html>"));
        assert!(!looks_like_html(b""));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = Duration::from_secs(600);
        let b1 = backoff(1, r);
        assert!(b1 >= Duration::from_secs(30) && b1 <= Duration::from_millis(37_500));
        let b2 = backoff(2, r);
        assert!(b2 >= Duration::from_secs(60) && b2 <= Duration::from_secs(75));
        let b9 = backoff(40, r);
        assert!(b9 >= r && b9 <= r + r / 4);
        assert!(backoff(3, Duration::from_secs(1)) <= Duration::from_millis(1250));
    }

    #[test]
    fn validate_names_keys() {
        let mut l = ListConfig::simple("f", PathBuf::from("f.txt"), crate::config::ListKind::Block);
        l.refresh_secs = Some(5);
        assert_eq!(validate(&l)[0].0, "refresh_secs");
        l.url = Some("ftp://x.example/l".into());
        l.refresh_secs = Some(0);
        let keys: Vec<_> = validate(&l).into_iter().map(|p| p.0).collect();
        assert_eq!(keys, ["url", "refresh_secs"]);
        l.url = Some("https://feeds.example/blocked.txt".into());
        l.refresh_secs = Some(600);
        assert!(validate(&l).is_empty());
    }

    #[test]
    fn meta_for_another_url_is_ignored() {
        let dir = std::env::temp_dir().join(format!("dnsward-feedmeta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("l.txt");
        std::fs::write(&path, "a.example\n").expect("write");
        let m = Meta {
            url: "https://a.example/l".into(),
            etag: Some("\"1\"".into()),
            last_modified: None,
        };
        std::fs::write(meta_path(&path), serde_json::to_vec(&m).expect("json")).expect("write");
        assert_eq!(read_meta(&path, "https://a.example/l"), m);
        assert_eq!(read_meta(&path, "https://b.example/l").etag, None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
