//! Configuration: the TOML file an operator writes, its built-in defaults,
//! and the validation that runs before anything is served.
//!
//! Validation collects *every* problem, each naming its key (`lists[2].path`),
//! so `dnsward check-config` shows an operator the whole picture in one run
//! instead of one error per edit-and-retry cycle.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::policy::rule::Format;

mod collect;
pub mod diff;
mod problem;
mod validate;

pub use problem::Problem;

/// Default DNS listen address: loopback and an unprivileged port, so the
/// built-in config can run without root and never exposes an open resolver.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";
/// Default metrics/health listener: loopback only.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9153";
/// Default directory scanned for lists when no `[[lists]]` are configured.
pub const DEFAULT_LIST_DIR: &str = "blocklists";
/// File-name patterns the built-in config loads from [`DEFAULT_LIST_DIR`]
/// (case-sensitive: `ADS.TXT` is not loaded), so operators and the start-up
/// warning can say exactly what was looked for.
pub const BUILTIN_LIST_PATTERNS: &[&str] = &["*.txt", "*.hosts", "*.list"];

/// Whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners and wire limits.
    pub server: ServerConfig,
    /// How names that are not blocked get resolved.
    pub resolver: ResolverConfig,
    /// Answer cache in front of the resolver.
    pub cache: CacheConfig,
    /// Block and allow lists, in priority order.
    pub lists: Vec<ListConfig>,
    /// What blocked names resolve to.
    pub sinkhole: SinkholeConfig,
    /// Prometheus and health endpoints.
    pub metrics: MetricsConfig,
    /// List file watching.
    pub reload: ReloadConfig,
    /// Audit trail of list changes.
    pub audit: AuditConfig,
    /// Log settings beyond `DNSWARD_LOG`.
    pub logging: LoggingConfig,
    /// Which clients may query.
    pub acl: AclConfig,
    /// Per-client-prefix rate limiting (UDP).
    pub ratelimit: RateLimitConfig,
    /// The HTTP 451 page served on the sinkhole addresses.
    pub blockpage: BlockPageConfig,
    /// Query log of blocked (or all) answers; off by default.
    pub querylog: crate::querylog::QueryLogConfig,
}

/// `[blockpage]`: the HTTP server that answers browsers sent to the
/// sinkhole address with `451 Unavailable For Legal Reasons` (RFC 7725),
/// naming the list, the order and the authority. Point `sinkhole.ipv4` /
/// `sinkhole.ipv6` at these addresses.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockPageConfig {
    /// Addresses served, `ip` or `ip:port` (port 80 when left out). Each
    /// address speaks plain HTTP and, on connections that open with a TLS
    /// handshake, HTTPS: list the `:443` addresses too. Default empty: off.
    pub listen: Vec<String>,
    /// The authority's page about blocking orders: the `Link:
    /// <URL>; rel="blocked-by"` header of every 451, shown on the page and
    /// added to the EDE text. Needed when `listen` is set.
    pub authority_url: String,
    /// How to contest the order (one sentence, shown on the page).
    pub appeal: String,
    /// Operator HTML template (minijinja syntax, values HTML-escaped);
    /// relative to the config file. Default empty: the built-in English
    /// and Vietnamese pages.
    pub template: String,
    /// PEM certificate chain for HTTPS; the page is then served over TLS
    /// for the names the certificate covers. Default empty: TLS
    /// connections are closed at once.
    pub tls_cert: String,
    /// PEM private key of `tls_cert`.
    pub tls_key: String,
    /// Most connections open at once; more are closed on accept and
    /// counted. Default 10000.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes; larger
    /// gets 431. Default 8192.
    pub max_header_bytes: usize,
    /// Most request header fields; more gets 431. Default 32.
    pub max_headers: usize,
    /// Time a client has to send a whole request head (or a TLS
    /// handshake), counted from the connection's start or the end of the
    /// previous response, so it is also the keep-alive idle time, in
    /// milliseconds. Default 5000 (slow-loris bound).
    pub header_timeout_ms: u64,
    /// Longest life of one connection, in seconds; it is then closed after
    /// the response in progress. Default 60.
    pub max_connection_secs: u64,
}

impl Default for BlockPageConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            authority_url: String::new(),
            appeal: String::new(),
            template: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            max_connections: 10_000,
            max_header_bytes: 8192,
            max_headers: 32,
            header_timeout_ms: 5000,
            max_connection_secs: 60,
        }
    }
}

/// `[audit]`: where every list change is recorded.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// JSON-lines file appended on every reload (accepted or refused).
    /// Default: none (audit lines then go to the log only).
    pub log: Option<PathBuf>,
}

/// `[logging]`: optional per-event log lines.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// Log one line per blocked query (list, line, order id, action, qtype;
    /// never the client address). Default false: at ISP rates this is a
    /// firehose; the metrics count blocks without it.
    pub blocked_queries: bool,
    /// Most blocked-query lines written per second, in lines; the rest are
    /// counted in `dnsward_log_suppressed_total{log="blocked"}` and the
    /// next line written says how many were left out. Default 10, so a
    /// flood of blocked queries cannot fill the disk or starve the
    /// logger; 0 removes the cap.
    pub blocked_queries_max_per_sec: u32,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            blocked_queries: false,
            blocked_queries_max_per_sec: 10,
        }
    }
}

/// `[server]`: where DNS is served and the limits on the wire.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Addresses served on both UDP and TCP. Default `["127.0.0.1:5353"]`.
    pub listen: Vec<String>,
    /// Largest UDP response we send even if a client advertises more, in
    /// bytes. Default 1232 (DNS Flag Day 2020: avoids IP fragmentation).
    pub max_udp_payload: u16,
    /// Idle time after which a TCP connection is closed, in seconds; a
    /// query must also arrive whole within it (slow-loris). Default 10.
    pub tcp_idle_timeout_secs: u64,
    /// Most TCP connections open at once. Default 1000.
    pub tcp_max_connections: usize,
    /// Most TCP connections open at once from one client address. Default 16.
    pub tcp_max_per_client: usize,
    /// On SIGTERM, time between `/readyz` turning false and the listeners
    /// closing, in milliseconds, so a load balancer can withdraw the node.
    /// Default 1000.
    pub shutdown_delay_ms: u64,
    /// On SIGTERM, longest wait for in-flight queries after the listeners
    /// close, in seconds. Default 5.
    pub drain_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![DEFAULT_LISTEN.to_string()],
            max_udp_payload: 1232,
            tcp_idle_timeout_secs: 10,
            tcp_max_connections: 1000,
            tcp_max_per_client: 16,
            shutdown_delay_ms: 1000,
            drain_secs: 5,
        }
    }
}

/// Resolution strategy for names that pass the policy.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResolverMode {
    /// Iterate from the root servers.
    #[default]
    Recursive,
    /// Send every query to the configured upstreams.
    Forward,
}

/// `resolver.qname_minimisation`: how much of a name the recursor shows
/// to the servers above its zone (RFC 9156).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum QnameMinimisation {
    /// The full name to every server.
    Off,
    /// Each server sees one label more than the zone it serves; a
    /// minimised query that gets NXDOMAIN or an error (servers broken on
    /// empty non-terminals) is asked again with the full name (Unbound's
    /// default).
    #[default]
    Relaxed,
    /// As `relaxed`, never falling back: an NXDOMAIN for a minimised name
    /// is the answer for every name below it (RFC 8020).
    Strict,
}

/// `[resolver]`: recursion or forwarding.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolverConfig {
    /// `recursive` (default) or `forward`.
    pub mode: ResolverMode,
    /// Root hints file (master-file format); the IANA hints compiled into
    /// the binary are used when neither this nor `root_servers` is set.
    pub root_hints: Option<PathBuf>,
    /// Explicit root servers, `ip` or `ip:port`; overrides `root_hints`.
    pub root_servers: Vec<String>,
    /// Port used for every authoritative server (referrals carry no port).
    /// Defaults to the port of `root_servers`, else 53. Lab and test use.
    pub authority_port: Option<u16>,
    /// Networks the recursor may send queries to even though they are in
    /// the default deny list (loopback, RFC 1918, ...). Default empty.
    pub authority_allow: Vec<String>,
    /// Forward-mode upstreams, `ip` or `ip:port`, tried in order.
    pub upstreams: Vec<String>,
    /// Upper bound on one client query's whole resolution, in milliseconds.
    /// Default 3000: the client gets SERVFAIL instead of a hang.
    pub timeout_ms: u64,
    /// Per-attempt timeout for one forward upstream, in milliseconds. Default 1000.
    pub upstream_timeout_ms: u64,
    /// Most cache-miss resolutions in progress at once; more get SERVFAIL
    /// at once (counted) so a random-subdomain flood cannot exhaust
    /// memory. Default 2000.
    pub max_inflight: usize,
    /// Recursive mode: most queries to authoritative servers that one
    /// client query may cause, name-server lookups and retries included.
    /// Bounds the traffic a malicious zone can make us send. Default 30.
    pub max_upstream_queries: u32,
    /// Recursive mode: zone cuts (zone -> name servers and addresses) kept
    /// in the delegation cache. Default 100000.
    pub delegation_cache_size: usize,
    /// Recursive mode: queries one outgoing UDP socket (one random source
    /// port) serves, one at a time, before it is closed and a new port
    /// bound; sockets also retire after 10 s, and are reused only for the
    /// server they first asked (a port is never shown to two servers).
    /// 1 = a fresh port per query
    /// (most unpredictable; ~1.5x the CPU per cold name). Default 8.
    pub socket_reuse: u32,
    /// Recursive mode: QNAME minimisation (RFC 9156), `relaxed`
    /// (default), `strict` or `off`.
    pub qname_minimisation: QnameMinimisation,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            mode: ResolverMode::Recursive,
            root_hints: None,
            root_servers: Vec::new(),
            authority_port: None,
            authority_allow: Vec::new(),
            upstreams: Vec::new(),
            timeout_ms: 3000,
            upstream_timeout_ms: 1000,
            max_inflight: 2000,
            max_upstream_queries: 30,
            delegation_cache_size: 100_000,
            socket_reuse: 8,
            qname_minimisation: QnameMinimisation::Relaxed,
        }
    }
}

/// `[cache]`: the answer cache.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Maximum number of cached answers. Default 200000; 0 disables the cache.
    pub max_entries: usize,
    /// Longest time an answer is kept, in seconds. Default 86400.
    pub max_ttl_secs: u32,
    /// Shortest time an answer is kept, in seconds. Default 0.
    pub min_ttl_secs: u32,
    /// Longest time a NXDOMAIN/NODATA answer is kept, in seconds. Default 3600.
    pub negative_max_ttl_secs: u32,
    /// How long past expiry an answer may still be served (TTL 30, EDE 3)
    /// when resolution fails (RFC 8767), in seconds. Default 86400; 0 disables.
    pub serve_stale_secs: u32,
    /// Refresh an answer asked for in the last 10% of its TTL in the
    /// background (within `resolver.max_inflight`), so names in steady use
    /// never expire from the cache. Default true.
    pub prefetch: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            max_ttl_secs: 86_400,
            min_ttl_secs: 0,
            negative_max_ttl_secs: 3_600,
            serve_stale_secs: 86_400,
            prefetch: true,
        }
    }
}

/// Whether a list blocks or exempts names.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// Names on the list are blocked.
    #[default]
    Block,
    /// Names on the list are never blocked, whatever a block list says.
    Allow,
}

/// What a blocked query is answered with.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A/AAAA get the sinkhole address, other types NODATA.
    #[default]
    Sinkhole,
    /// NXDOMAIN with a synthetic SOA.
    Nxdomain,
    /// NOERROR, no answer, synthetic SOA.
    Nodata,
    /// REFUSED.
    Refused,
    /// No answer at all (the client times out).
    Drop,
    /// A CNAME to `redirect_to` (a walled garden), resolved as usual.
    Redirect,
}

impl Action {
    /// Lowercase name used in metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Sinkhole => "sinkhole",
            Action::Nxdomain => "nxdomain",
            Action::Nodata => "nodata",
            Action::Refused => "refused",
            Action::Drop => "drop",
            Action::Redirect => "redirect",
        }
    }
}

/// Whether a list's blocks are applied.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ListMode {
    /// Block.
    #[default]
    Enforce,
    /// Only log and count would-be blocks; answer normally. For trying a
    /// new order before it takes effect.
    DryRun,
}

/// One `[[lists]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// Short name used in metrics, logs and EDE text. Must be unique.
    pub name: String,
    /// File path; relative paths are relative to the config file.
    pub path: PathBuf,
    /// `auto` (default), `domains`, `hosts`, `adblock`, `urls` or `rpz`.
    #[serde(default)]
    pub format: Format,
    /// `block` (default) or `allow`.
    #[serde(default)]
    pub kind: ListKind,
    /// `sinkhole` (default), `nxdomain`, `nodata`, `refused`, `drop` or
    /// `redirect`. RPZ entries carry their own action and ignore it.
    #[serde(default)]
    pub action: Action,
    /// Target name for `action = "redirect"`.
    #[serde(default)]
    pub redirect_to: Option<String>,
    /// TTL of this list's blocked answers, seconds. Default `sinkhole.ttl_secs`.
    #[serde(default)]
    pub ttl_secs: Option<u32>,
    /// Extended DNS Error code on blocked answers: 15 Blocked (default),
    /// 16 Censored or 17 Filtered.
    #[serde(default = "default_ede")]
    pub ede: u16,
    /// EDE extra text; default `blocked by list NAME`. The list name and
    /// order id are always appended.
    #[serde(default)]
    pub ede_text: Option<String>,
    /// Reference of the legal order behind the list, shown in EDE text,
    /// logs, `explain` and audit lines.
    #[serde(default)]
    pub order_id: Option<String>,
    /// What the list is, in words for subscribers ("Online gambling
    /// sites, Ministry order 17/2024"): shown on the block page and used
    /// as the EDE text when `ede_text` is not set.
    #[serde(default)]
    pub description: Option<String>,
    /// `blockpage.authority_url`, copied in at validation so the EDE text
    /// can name it; not a list key.
    #[serde(skip)]
    pub authority_url: Option<String>,
    /// `enforce` (default) or `dry-run`.
    #[serde(default)]
    pub mode: ListMode,
    /// A reload that would remove more than this percentage of the list's
    /// entries is refused unless forced. Default 50; 100 disables the guard.
    #[serde(default = "default_max_shrink")]
    pub max_shrink_percent: u8,
    /// A file whose malformed lines exceed this percentage of its
    /// significant (non-blank, non-comment) lines is refused
    /// (`too_many_rejected`): a download that is mostly garbage must not
    /// turn its few accidental names into blocks. Default 50; 100 disables
    /// the guard.
    #[serde(default = "default_max_rejected")]
    pub max_rejected_percent: u8,
    /// Accept single-label entries (`com`, `*.com`) that block or allow a
    /// whole TLD. Default false: they are rejected with a reason.
    #[serde(default)]
    pub allow_tld_entries: bool,
    /// Fetch the list from this `https://` (or `http://`) URL; `path` is
    /// then the cache of the last accepted version and the seed loaded at
    /// start. See [`crate::policy::feed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Seconds between fetches of `url`. Default 600, minimum 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_secs: Option<u64>,
    /// Whole-fetch timeout for `url`, seconds. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// A body from `url` larger than this many MiB is refused. Default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_mb: Option<u64>,
    /// URL of the published SHA-256 of the body (first hex token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_url: Option<String>,
    /// PEM file of extra trust roots for `url` (a private feed CA); the
    /// built-in web roots stay trusted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// RFC 3339 time (`2026-12-01T00:00:00Z`, quoted) from which the list
    /// is enforced. Before it the list is loaded and shown by `explain`
    /// as `pending`, but blocks nothing. Default: enforced from loading.
    #[serde(default)]
    pub effective_from: Option<String>,
    /// RFC 3339 time at which the list stops blocking on its own (no
    /// reload needed); it is then `expired`. Must be after
    /// `effective_from`. Default: never.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// `effective_from` and `expires_at` parsed (filled by validation).
    #[serde(skip)]
    pub window: Window,
    /// `[lists.transfer]`: keep this RPZ list as a secondary of a zone
    /// (AXFR/IXFR with NOTIFY); `path` is then the seed, rewritten after
    /// every accepted transfer. None: the list is a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferConfig>,
}

/// Where a dated list stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListState {
    /// Before `effective_from`: loaded, not enforced.
    Pending,
    /// In force.
    Active,
    /// At or after `expires_at`: loaded, not enforced.
    Expired,
}

impl ListState {
    /// Every state, in the order of the `dnsward_list_state` series.
    pub const ALL: [ListState; 3] = [ListState::Pending, ListState::Active, ListState::Expired];

    /// `pending`, `active` or `expired` (metric label, audit and explain text).
    pub fn as_str(self) -> &'static str {
        match self {
            ListState::Pending => "pending",
            ListState::Active => "active",
            ListState::Expired => "expired",
        }
    }
}

/// A list's enforcement window in Unix seconds: `[from, until)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// First second enforced (None: from loading).
    pub from: Option<i64>,
    /// First second no longer enforced (None: never).
    pub until: Option<i64>,
}

impl Window {
    /// The state at Unix time `now`.
    pub fn state(&self, now: i64) -> ListState {
        if self.from.is_some_and(|f| now < f) {
            ListState::Pending
        } else if self.until.is_some_and(|u| now >= u) {
            ListState::Expired
        } else {
            ListState::Active
        }
    }

    /// True when the list has a date at all (a scheduler is needed).
    pub fn is_dated(&self) -> bool {
        self.from.is_some() || self.until.is_some()
    }
}

/// Unix seconds of an RFC 3339 time, or why it is not one.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| {
            format!(
                "`{}` is not an RFC 3339 time (like 2026-12-01T00:00:00Z): {e}",
                s.escape_debug()
            )
        })
}

/// `[lists.transfer]`: where an RPZ list's zone comes from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TransferConfig {
    /// Primaries, `ip` or `ip:port` (port 53 by default), tried in order.
    /// NOTIFY is accepted only from these addresses.
    pub primaries: Vec<String>,
    /// The RPZ zone's name, e.g. `rpz.court.example.`.
    pub zone: String,
    /// BIND key file (`key "n" { algorithm hmac-sha256; secret "..."; };`).
    /// When set, every transfer, SOA query and NOTIFY must carry a valid
    /// TSIG with this key. Relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_file: Option<PathBuf>,
    /// Seconds between SOA checks; 0 (default) uses the zone's SOA refresh.
    #[serde(default)]
    pub refresh_secs: u32,
    /// Seconds between attempts after a failure; 0 (default) uses the
    /// zone's SOA retry.
    #[serde(default)]
    pub retry_secs: u32,
    /// Seconds without a successful check after which the zone counts as
    /// expired; 0 (default) uses the zone's SOA expire.
    #[serde(default)]
    pub expire_secs: u32,
    /// What an expired zone does: `keep` (default) keeps enforcing the last
    /// good policy and sets `dnsward_list_expired`; `drop` stops enforcing
    /// the list until a transfer succeeds again.
    #[serde(default)]
    pub expire_policy: ExpirePolicy,
    /// Time budget for one SOA query or transfer, seconds. Default 30.
    #[serde(default = "default_transfer_timeout")]
    pub timeout_secs: u32,
}

fn default_transfer_timeout() -> u32 {
    30
}

/// What happens when a transferred zone passes its SOA expire.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExpirePolicy {
    /// Keep enforcing the last good version (court orders do not lapse
    /// because a primary is down); the expired gauge says so.
    #[default]
    Keep,
    /// Stop enforcing the list until the next successful transfer.
    Drop,
}

fn default_max_rejected() -> u8 {
    50
}

fn default_ede() -> u16 {
    15
}

fn default_max_shrink() -> u8 {
    50
}

impl ListConfig {
    /// A block list with every optional setting at its default.
    pub fn simple(name: &str, path: PathBuf, kind: ListKind) -> Self {
        Self {
            name: name.to_string(),
            path,
            format: Format::Auto,
            kind,
            action: Action::Sinkhole,
            redirect_to: None,
            ttl_secs: None,
            ede: 15,
            ede_text: None,
            order_id: None,
            description: None,
            authority_url: None,
            mode: ListMode::Enforce,
            max_shrink_percent: 50,
            max_rejected_percent: 50,
            allow_tld_entries: false,
            url: None,
            refresh_secs: None,
            timeout_secs: None,
            max_size_mb: None,
            sha256_url: None,
            ca_file: None,
            effective_from: None,
            expires_at: None,
            window: Window::default(),
            transfer: None,
        }
    }
}

/// `[sinkhole]`: the addresses and TTL of blocked answers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinkholeConfig {
    /// Address for blocked A queries. Default 0.0.0.0.
    pub ipv4: Ipv4Addr,
    /// Address for blocked AAAA queries. Default ::.
    pub ipv6: Ipv6Addr,
    /// TTL of blocked answers and negative TTL of their SOA, in seconds. Default 300.
    pub ttl_secs: u32,
}

impl Default for SinkholeConfig {
    fn default() -> Self {
        Self {
            ipv4: Ipv4Addr::UNSPECIFIED,
            ipv6: Ipv6Addr::UNSPECIFIED,
            ttl_secs: 300,
        }
    }
}

/// `[metrics]`: the HTTP listener for `/metrics`, `/healthz`, `/readyz`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Listen address; empty string disables it. Default 127.0.0.1:9153.
    pub listen: String,
    /// File holding the bearer token every `/admin/*` request must carry
    /// (`Authorization: Bearer TOKEN`), because those requests change state.
    /// Required when `listen` is not a loopback address; relative to the
    /// config file. Re-read on each admin request, so rotating it needs no
    /// restart. Default none (admin open to whoever reaches loopback).
    pub admin_token_file: Option<PathBuf>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_METRICS_LISTEN.to_string(),
            admin_token_file: None,
        }
    }
}

/// `[reload]`: list file watching.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch list files and reload on change. Default true. SIGHUP always reloads.
    pub watch: bool,
    /// Quiet time after the last file event before reloading, in
    /// milliseconds. Default 500: editors and `cp` write in several steps.
    pub settle_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self {
            watch: true,
            settle_ms: 500,
        }
    }
}

/// Networks allowed when `acl.allow` is not configured: loopback, RFC 1918,
/// CGNAT (RFC 6598), IPv6 unique local (RFC 4193) and link-local — address
/// space that is never reachable from the public internet, so the default
/// is not an open resolver.
pub const DEFAULT_ALLOW: &[&str] = &[
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
    "fe80::/10",
];

/// `[acl]`: which clients may query the resolver.
///
/// Entries are CIDR networks (`10.0.0.0/8`, `2001:db8::/32`) or bare
/// addresses (`192.0.2.1`, `::1`, meaning /32 or /128). A network with host
/// bits set (`10.1.2.3/8`) is rejected rather than silently widened, since
/// in an access list it is usually a typo. IPv4-mapped IPv6 entries
/// (`::ffff:192.0.2.0/120`) are treated as the IPv4 network they denote;
/// other IPv6 entries, even `::/0`, never match IPv4 clients.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AclConfig {
    /// Networks whose clients are answered. Default: [`DEFAULT_ALLOW`]
    /// (loopback, RFC 1918, 100.64.0.0/10, fc00::/7, fe80::/10).
    pub allow: Vec<String>,
    /// Networks whose clients are refused even inside an allowed network,
    /// unless a longer allow entry covers them. Default empty.
    pub deny: Vec<String>,
}

impl Default for AclConfig {
    fn default() -> Self {
        Self {
            allow: DEFAULT_ALLOW.iter().map(|s| (*s).to_string()).collect(),
            deny: Vec::new(),
        }
    }
}

/// `[ratelimit]`: per-client-prefix query rate limiting.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Whether queries are rate limited at all. Default true.
    pub enabled: bool,
    /// Sustained rate each prefix may send, in queries per second.
    /// Default 200 (a busy CGNAT /24 stays well below it; a reflection
    /// flood does not).
    pub qps: u32,
    /// Queries a prefix may send at once after being quiet (bucket size),
    /// in queries. Default 400 (two seconds at the default rate).
    pub burst: u32,
    /// IPv4 clients are grouped by this prefix length, in bits (0..=32).
    /// Default 24.
    pub ipv4_prefix: u8,
    /// IPv6 clients are grouped by this prefix length, in bits (0..=128).
    /// Default 56 (a typical subscriber delegation).
    pub ipv6_prefix: u8,
    /// Most prefixes tracked at once, in prefixes (about 100 bytes each).
    /// Default 100000. Beyond it the idlest buckets are evicted.
    pub max_tracked: usize,
    /// Every `slip`-th over-limit query is answered with TC=1 instead of
    /// dropped, in queries. Default 2; 0 = always drop, 1 = always TC.
    pub slip: u32,
    /// Client networks never rate limited (monitoring probes, the
    /// operator's own tools). Default loopback (127.0.0.0/8, ::1).
    pub exempt: Vec<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            qps: 200,
            burst: 400,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            max_tracked: 100_000,
            slip: 2,
            exempt: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    /// (The I/O error is the `source()`, not repeated in the message.)
    #[error("{path}: cannot read")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("{path}: {message}")]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// The file parsed but some values are unusable.
    #[error("{path}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The config file (or `<built-in>`).
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// A configuration that passed validation, with addresses parsed and paths
/// resolved, so the rest of the program never re-parses strings.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The raw configuration.
    pub config: Config,
    /// Parsed `server.listen`.
    pub listen: Vec<SocketAddr>,
    /// Parsed `resolver.root_servers` (empty means hints).
    pub root_servers: Vec<SocketAddr>,
    /// Parsed `resolver.upstreams`.
    pub upstreams: Vec<SocketAddr>,
    /// Parsed `resolver.authority_allow`.
    pub authority_allow: Vec<IpNet>,
    /// Parsed `metrics.listen` (None when disabled).
    pub metrics_listen: Option<SocketAddr>,
    /// `metrics.admin_token_file` resolved, if any.
    pub admin_token_file: Option<PathBuf>,
    /// Lists with paths resolved against the config file's directory.
    pub lists: Vec<ListConfig>,
    /// Root hints path resolved, if any.
    pub root_hints: Option<PathBuf>,
    /// Audit log path resolved, if any.
    pub audit_log: Option<PathBuf>,
    /// The block page, checked and ready (None when `blockpage.listen`
    /// is empty).
    pub blockpage: Option<crate::blockpage::Prepared>,
    /// Query log path resolved, if the query log is on.
    pub querylog: Option<PathBuf>,
}

impl Validated {
    /// Total time budget for resolving one query.
    pub fn resolve_timeout(&self) -> Duration {
        Duration::from_millis(self.config.resolver.timeout_ms)
    }

    /// The configuration in force as TOML (`dnsward config --print`):
    /// every key with its value, defaults included, and every file path
    /// made absolute, so the output is itself a config file that works
    /// from any directory.
    pub fn effective_toml(&self) -> Result<String, toml::ser::Error> {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut c = self.config.clone();
        c.lists = self
            .lists
            .iter()
            .map(|l| ListConfig {
                path: abs(&l.path),
                ca_file: l.ca_file.as_deref().map(abs),
                transfer: l.transfer.clone().map(|mut t| {
                    t.tsig_key_file = t.tsig_key_file.as_deref().map(abs);
                    t
                }),
                ..l.clone()
            })
            .collect();
        c.resolver.root_hints = self.root_hints.as_deref().map(abs);
        c.audit.log = self.audit_log.as_deref().map(abs);
        c.querylog.path = self.querylog.as_deref().map(abs);
        c.metrics.admin_token_file = self.admin_token_file.as_deref().map(abs);
        if let Some(bp) = &self.blockpage {
            let show = |p: &Option<PathBuf>, raw: &mut String| {
                if let Some(p) = p {
                    *raw = abs(p).display().to_string();
                }
            };
            show(&bp.template_path, &mut c.blockpage.template);
            show(&bp.tls_cert_path, &mut c.blockpage.tls_cert);
            show(&bp.tls_key_path, &mut c.blockpage.tls_key);
        }
        toml::to_string(&c)
    }
}

/// Parse `ip` or `ip:port` (IPv6 as `[ip]:port`), defaulting the port.
pub fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    Err(format!(
        "`{s}` is not an address (want ip, ip:port or [ipv6]:port)"
    ))
}

impl Config {
    /// Read and validate a config file.
    ///
    /// Every wrong type and unknown key is reported with its key and line
    /// (see [`collect`]); when none of them removed a whole array element,
    /// the value checks of [`Config::validate`] are reported in the same
    /// run.
    pub fn load(path: &Path) -> Result<Validated, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let collected =
            collect::deserialize_collecting::<Config>(&text).map_err(|e| ConfigError::Syntax {
                path: path.to_path_buf(),
                message: e.to_string().trim_end().to_string(),
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut problems = collected.problems;
        let config = match collected.value {
            Some(c) if problems.is_empty() => return c.validate(path, base),
            Some(c) if !collected.shifted => c,
            _ => {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    problems,
                })
            }
        };
        if let Err(ConfigError::Invalid { problems: more, .. }) = config.validate(path, base) {
            problems.extend(more);
        }
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// The built-in configuration used by `dnsward run` without `--config`:
    /// loopback listener, recursion from the compiled-in root hints, and
    /// every list file found in `blocklists/` under `base`.
    pub fn builtin(base: &Path) -> Result<Validated, ConfigError> {
        let mut config = Config::default();
        let dir = base.join(DEFAULT_LIST_DIR);
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| {
                        p.is_file()
                            && p.extension().is_some_and(|e| {
                                BUILTIN_LIST_PATTERNS
                                    .iter()
                                    .any(|pat| pat.strip_prefix("*.") == e.to_str())
                            })
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        for path in found {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "list".into());
            let kind = if stem.starts_with("allow") {
                ListKind::Allow
            } else {
                ListKind::Block
            };
            config.lists.push(ListConfig::simple(&stem, path, kind));
        }
        config.validate(Path::new("<built-in>"), base)
    }
}

#[cfg(test)]
mod tests;
