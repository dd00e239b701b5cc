//! Configuration: the TOML file an operator writes, its built-in defaults,
//! and the validation that runs before anything is served.
//!
//! Validation collects *every* problem, each naming its key (`lists[2].path`),
//! so `dnsward check-config` shows an operator the whole picture in one run
//! instead of one error per edit-and-retry cycle.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::policy::parse::Format;
use crate::resolve::servers::AddressPolicy;

mod collect;
pub mod diff;

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
    pub acl: crate::acl::AclConfig,
    /// Per-client-prefix rate limiting (UDP).
    pub ratelimit: crate::ratelimit::RateLimitConfig,
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

/// One configuration problem, named by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `lists[1].path`.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
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

    /// Check every value, collecting all problems before failing.
    pub fn validate(self, path: &Path, base: &Path) -> Result<Validated, ConfigError> {
        let mut problems = Vec::new();
        let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });

        let mut listen = Vec::new();
        if self.server.listen.is_empty() {
            bad(
                "server.listen".into(),
                "at least one address is needed".into(),
            );
        }
        for (i, s) in self.server.listen.iter().enumerate() {
            match parse_addr(s, 53) {
                Ok(a) => listen.push(a),
                Err(e) => bad(format!("server.listen[{i}]"), e),
            }
        }
        if self.server.max_udp_payload < 512 {
            bad(
                "server.max_udp_payload".into(),
                "must be at least 512 (RFC 1035)".into(),
            );
        }
        if self.server.tcp_idle_timeout_secs == 0 {
            bad(
                "server.tcp_idle_timeout_secs".into(),
                "must be at least 1".into(),
            );
        }

        for (key, v) in [
            (
                "server.tcp_max_connections",
                self.server.tcp_max_connections,
            ),
            ("server.tcp_max_per_client", self.server.tcp_max_per_client),
            ("resolver.max_inflight", self.resolver.max_inflight),
            (
                "resolver.delegation_cache_size",
                self.resolver.delegation_cache_size,
            ),
        ] {
            if v == 0 {
                bad(key.into(), "must be at least 1".into());
            }
        }
        for p in self
            .acl
            .validate()
            .into_iter()
            .chain(self.ratelimit.validate())
        {
            bad(p.key, p.reason);
        }
        let exempt = crate::acl::AclConfig {
            allow: self.ratelimit.exempt.clone(),
            deny: Vec::new(),
        };
        for p in exempt.validate() {
            bad(p.key.replace("acl.allow", "ratelimit.exempt"), p.reason);
        }

        let mut root_servers = Vec::new();
        for (i, s) in self.resolver.root_servers.iter().enumerate() {
            match parse_addr(s, 53) {
                Ok(a) => root_servers.push(a),
                Err(e) => bad(format!("resolver.root_servers[{i}]"), e),
            }
        }
        let mut upstreams = Vec::new();
        for (i, s) in self.resolver.upstreams.iter().enumerate() {
            match parse_addr(s, 53) {
                Ok(a) => upstreams.push(a),
                Err(e) => bad(format!("resolver.upstreams[{i}]"), e),
            }
        }
        let mut authority_allow = Vec::new();
        for (i, s) in self.resolver.authority_allow.iter().enumerate() {
            match s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(n) => authority_allow.push(n),
                Err(_) => bad(
                    format!("resolver.authority_allow[{i}]"),
                    format!("`{s}` is not a CIDR network"),
                ),
            }
        }
        if self.resolver.mode == ResolverMode::Recursive {
            // The iterator never queries a default-denied address: a root
            // server there would make every query SERVFAIL with nothing
            // in the log saying why.
            let policy = AddressPolicy::new(authority_allow.clone());
            let hints = match &self.resolver.root_hints {
                Some(p) if root_servers.is_empty() && base.join(p).is_file() => {
                    match crate::resolve::roothints::read_hints(&base.join(p)) {
                        Ok(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 53)).collect(),
                        Err(e) => {
                            bad("resolver.root_hints".into(), e.to_string());
                            Vec::new()
                        }
                    }
                }
                _ => Vec::new(),
            };
            let servers = self
                .resolver
                .root_servers
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    Some((
                        format!("resolver.root_servers[{i}]"),
                        parse_addr(s, 53).ok()?,
                    ))
                })
                .chain(
                    hints
                        .into_iter()
                        .map(|a| ("resolver.root_hints".to_string(), a)),
                );
            for (key, addr) in servers {
                if let Some(net) = policy.denied_by(addr.ip()) {
                    bad(
                        key,
                        format!(
                            "{} is in {net}, which the recursor never queries unless allowed: add \"{net}\" to resolver.authority_allow",
                            addr.ip()
                        ),
                    );
                }
            }
        }
        if self.resolver.mode == ResolverMode::Forward && self.resolver.upstreams.is_empty() {
            bad(
                "resolver.upstreams".into(),
                "forward mode needs at least one upstream".into(),
            );
        }
        if !(1..=200).contains(&self.resolver.max_upstream_queries) {
            bad(
                "resolver.max_upstream_queries".into(),
                "must be between 1 and 200".into(),
            );
        }
        if !(1..=1000).contains(&self.resolver.socket_reuse) {
            bad(
                "resolver.socket_reuse".into(),
                "must be between 1 and 1000".into(),
            );
        }
        if self.resolver.timeout_ms == 0 {
            bad("resolver.timeout_ms".into(), "must be at least 1".into());
        }
        if self.resolver.upstream_timeout_ms == 0 {
            bad(
                "resolver.upstream_timeout_ms".into(),
                "must be at least 1".into(),
            );
        }
        let root_hints = self.resolver.root_hints.as_ref().map(|p| base.join(p));
        if let Some(p) = &root_hints {
            if !p.is_file() {
                bad(
                    "resolver.root_hints".into(),
                    format!("{}: no such file", p.display()),
                );
            }
        }

        let audit_log = self.audit.log.as_ref().map(|p| base.join(p));
        if let Some(p) = &audit_log {
            if p.parent()
                .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir())
            {
                bad(
                    "audit.log".into(),
                    format!("{}: directory does not exist", p.display()),
                );
            }
        }
        let querylog = self.querylog.path.as_ref().map(|p| base.join(p));
        if let Some(p) = &querylog {
            if p.parent()
                .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir())
            {
                bad(
                    "querylog.path".into(),
                    format!("{}: directory does not exist", p.display()),
                );
            }
        }
        let q = &self.querylog;
        if q.client_ipv4_prefix > 32 {
            bad(
                "querylog.client_ipv4_prefix".into(),
                format!(
                    "{} is not an IPv4 prefix length (0-32)",
                    q.client_ipv4_prefix
                ),
            );
        }
        if q.client_ipv6_prefix > 128 {
            bad(
                "querylog.client_ipv6_prefix".into(),
                format!(
                    "{} is not an IPv6 prefix length (0-128)",
                    q.client_ipv6_prefix
                ),
            );
        }
        if q.max_size_mb == 0 {
            bad("querylog.max_size_mb".into(), "must be at least 1".into());
        }
        if q.queue == 0 {
            bad("querylog.queue".into(), "must be at least 1".into());
        }
        if self.cache.min_ttl_secs > self.cache.max_ttl_secs {
            bad(
                "cache.min_ttl_secs".into(),
                "must not exceed cache.max_ttl_secs".into(),
            );
        }

        let mut lists = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, l) in self.lists.iter().enumerate() {
            if l.name.is_empty()
                || !l
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                bad(
                    format!("lists[{i}].name"),
                    format!(
                        "`{}` must be non-empty and use only A-Z a-z 0-9 - _ .",
                        l.name
                    ),
                );
            }
            if !names.insert(l.name.clone()) {
                bad(
                    format!("lists[{i}].name"),
                    format!("`{}` is used by another list", l.name),
                );
            }
            if !matches!(l.ede, 15..=17) {
                bad(
                    format!("lists[{i}].ede"),
                    format!(
                        "{} is not 15 (Blocked), 16 (Censored) or 17 (Filtered)",
                        l.ede
                    ),
                );
            }
            if l.max_shrink_percent > 100 {
                bad(
                    format!("lists[{i}].max_shrink_percent"),
                    format!("{} is not a percentage (0-100)", l.max_shrink_percent),
                );
            }
            if l.max_rejected_percent > 100 {
                bad(
                    format!("lists[{i}].max_rejected_percent"),
                    format!("{} is not a percentage (0-100)", l.max_rejected_percent),
                );
            }
            match (&l.action, &l.redirect_to) {
                (Action::Redirect, None) => bad(
                    format!("lists[{i}].redirect_to"),
                    "action = \"redirect\" needs a target name".into(),
                ),
                (Action::Redirect, Some(t)) => {
                    if let Err(e) = crate::policy::parse::normalize_name(t) {
                        bad(format!("lists[{i}].redirect_to"), e);
                    }
                }
                (_, Some(_)) => bad(
                    format!("lists[{i}].redirect_to"),
                    "only used with action = \"redirect\"".into(),
                ),
                _ => {}
            }
            for (key, text) in [
                ("ede_text", &l.ede_text),
                ("order_id", &l.order_id),
                ("description", &l.description),
            ] {
                if let Some(t) = text {
                    if t.len() > 200 || t.chars().any(char::is_control) {
                        bad(
                            format!("lists[{i}].{key}"),
                            "at most 200 characters, no control characters".into(),
                        );
                    }
                }
            }
            for (key, reason) in crate::policy::feed::validate(l) {
                bad(format!("lists[{i}].{key}"), reason);
            }
            if l.url.is_some() && l.transfer.is_some() {
                bad(
                    format!("lists[{i}].url"),
                    "a list comes from one source: `url` (a feed) or `transfer` (a zone), not both"
                        .into(),
                );
            }
            let mut l = l.clone();
            let mut when = |key: &str, v: &Option<String>| match v.as_deref().map(parse_rfc3339) {
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => {
                    bad(format!("lists[{i}].{key}"), e);
                    None
                }
                None => None,
            };
            l.window = Window {
                from: when("effective_from", &l.effective_from),
                until: when("expires_at", &l.expires_at),
            };
            if let Window {
                from: Some(f),
                until: Some(u),
            } = l.window
            {
                if u <= f {
                    bad(
                        format!("lists[{i}].expires_at"),
                        "must be after effective_from".into(),
                    );
                }
            }
            l.path = base.join(&l.path);
            l.authority_url = Some(self.blockpage.authority_url.clone()).filter(|u| !u.is_empty());
            l.ca_file = l.ca_file.map(|p| base.join(p));
            // A feed's cache may not exist before its first fetch.
            if let Some(t) = l.transfer.as_mut() {
                if l.format != Format::Rpz {
                    bad(
                        format!("lists[{i}].format"),
                        "a list with [lists.transfer] must be format = \"rpz\"".into(),
                    );
                }
                if t.primaries.is_empty() {
                    bad(
                        format!("lists[{i}].transfer.primaries"),
                        "at least one primary is needed".into(),
                    );
                }
                for (j, p) in t.primaries.iter().enumerate() {
                    if let Err(e) = parse_addr(p, 53) {
                        bad(format!("lists[{i}].transfer.primaries[{j}]"), e);
                    }
                }
                if let Err(e) = hickory_proto::rr::Name::from_ascii(&t.zone) {
                    bad(
                        format!("lists[{i}].transfer.zone"),
                        format!("`{}` is not a zone name: {e}", t.zone),
                    );
                } else if t.zone.trim_end_matches('.').is_empty() {
                    bad(
                        format!("lists[{i}].transfer.zone"),
                        "the root is not an RPZ zone".into(),
                    );
                }
                if t.timeout_secs == 0 {
                    bad(
                        format!("lists[{i}].transfer.timeout_secs"),
                        "must be at least 1".into(),
                    );
                }
                if let Some(k) = &t.tsig_key_file {
                    let k = base.join(k);
                    if let Err(e) = crate::transfer::tsig::TsigKey::load(&k) {
                        bad(format!("lists[{i}].transfer.tsig_key_file"), e.to_string());
                    }
                    t.tsig_key_file = Some(k);
                }
            } else if !l.path.is_file() && l.url.is_none() {
                bad(
                    format!("lists[{i}].path"),
                    format!("{}: no such file", l.path.display()),
                );
            }
            lists.push(l);
        }

        let metrics_listen = if self.metrics.listen.is_empty() {
            None
        } else {
            match parse_addr(&self.metrics.listen, 9153) {
                Ok(a) => Some(a),
                Err(e) => {
                    bad("metrics.listen".into(), e);
                    None
                }
            }
        };

        let admin_token_file = self.metrics.admin_token_file.as_ref().map(|p| base.join(p));
        match (&admin_token_file, metrics_listen) {
            (Some(p), _) => {
                if let Err(e) = crate::http::read_admin_token(p) {
                    bad("metrics.admin_token_file".into(), e);
                }
            }
            (None, Some(a)) if !a.ip().is_loopback() => bad(
                "metrics.admin_token_file".into(),
                format!(
                    "required because metrics.listen {a} is not a loopback address: \
                     without a token anyone who reaches it can POST /admin/reload"
                ),
            ),
            (None, _) => {}
        }

        let blockpage = crate::blockpage::prepare(&self.blockpage, base, &mut problems);

        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(Validated {
            blockpage,
            config: self,
            listen,
            root_servers,
            upstreams,
            authority_allow,
            metrics_listen,
            admin_token_file,
            lists,
            root_hints,
            audit_log,
            querylog,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(toml_text: &str) -> Vec<String> {
        let c: Config = toml::from_str(toml_text).expect("toml");
        match c.validate(Path::new("t.toml"), Path::new(".")) {
            Ok(_) => vec![],
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| p.key).collect()
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_list_is_a_feed_or_a_zone_secondary_not_both() {
        let both = problems(
            r#"
            [[lists]]
            name = "court"
            format = "rpz"
            url = "https://feeds.example/court.rpz"
            path = "state/no-such-court.rpz"
            [lists.transfer]
            primaries = ["192.0.2.53"]
            zone = "rpz.court.example."
            "#,
        );
        assert_eq!(both, ["lists[0].url"]);
    }

    #[test]
    fn feed_lists_need_no_cached_file_and_check_their_keys() {
        // The issue's example: valid before its first fetch.
        let ok = r#"
            [[lists]]
            name = "ministry"
            url = "https://feeds.example/blocked.txt"
            path = "state/no-such-ministry.txt"
            format = "auto"
            refresh_secs = 600
            "#;
        assert!(problems(ok).is_empty(), "{:?}", problems(ok));
        let c: Config = toml::from_str(ok).expect("toml");
        let v = c
            .validate(Path::new("t.toml"), Path::new("."))
            .expect("valid");
        let printed = v.effective_toml().expect("print");
        assert!(printed.contains("refresh_secs = 600"), "{printed}");
        assert!(!printed.contains("sha256_url"), "unset keys stay out");
        let keys = problems(
            r#"
            [[lists]]
            name = "a"
            url = "gopher://feeds.example/x"
            path = "state/a.txt"
            refresh_secs = 0
            [[lists]]
            name = "b"
            path = "state/no-such-b.txt"
            sha256_url = "https://feeds.example/x.sha256"
            "#,
        );
        assert_eq!(
            keys,
            [
                "lists[0].url",
                "lists[0].refresh_secs",
                "lists[1].sha256_url",
                "lists[1].path"
            ]
        );
    }

    #[test]
    fn list_dates_are_parsed_and_ordered() {
        let dir = std::env::temp_dir().join(format!("dnsward-cfg-dates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("l.txt"), "a.example\n").expect("write");
        let check = |from: &str, until: &str| {
            let text = format!(
                "[[lists]]\nname = \"l\"\npath = \"l.txt\"\neffective_from = \"{from}\"\nexpires_at = \"{until}\"\n"
            );
            let c: Config = toml::from_str(&text).expect("toml");
            match c.validate(Path::new("t.toml"), &dir) {
                Ok(v) => Ok(v.lists[0].window),
                Err(ConfigError::Invalid { problems, .. }) => Err(problems
                    .into_iter()
                    .map(|p| format!("{}: {}", p.key, p.reason))
                    .collect::<Vec<_>>()),
                Err(e) => panic!("{e}"),
            }
        };
        let w = check("2026-12-01T00:00:00Z", "2026-12-31T23:00:00+01:00").expect("valid");
        assert_eq!(w.from, Some(1_796_083_200));
        assert_eq!(w.until, Some(1_798_754_400));
        assert_eq!(w.state(1_796_083_199), ListState::Pending);
        assert_eq!(w.state(1_796_083_200), ListState::Active);
        assert_eq!(w.state(1_798_754_400), ListState::Expired);

        let e = check("1 December", "2026-12-01T00:00:00Z").expect_err("bad date");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("lists[0].effective_from: `1 December` is not an RFC 3339"),
            "{e:?}"
        );
        let e = check("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z").expect_err("order");
        assert_eq!(e, ["lists[0].expires_at: must be after effective_from"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn defaults_are_valid() {
        assert!(problems("").is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let keys = problems(
            r#"
            [server]
            listen = ["nope", "127.0.0.1:53"]
            max_udp_payload = 100
            [resolver]
            mode = "forward"
            [[lists]]
            name = "a b"
            path = "/nonexistent/list"
            ede = 3
            "#,
        );
        assert_eq!(
            keys,
            vec![
                "server.listen[0]",
                "server.max_udp_payload",
                "resolver.upstreams",
                "lists[0].name",
                "lists[0].ede",
                "lists[0].path"
            ]
        );
    }

    #[test]
    fn transfer_tables_are_checked() {
        let keys = problems(
            r#"
            [[lists]]
            name = "court"
            format = "domains"
            path = "/nonexistent/seed.rpz"
            [lists.transfer]
            primaries = ["192.0.2.53:53", "not an address"]
            zone = "bad..zone"
            tsig_key_file = "/nonexistent/court.key"
            timeout_secs = 0
            "#,
        );
        assert_eq!(
            keys,
            vec![
                "lists[0].format",
                "lists[0].transfer.primaries[1]",
                "lists[0].transfer.zone",
                "lists[0].transfer.timeout_secs",
                "lists[0].transfer.tsig_key_file",
            ]
        );
        // A missing seed is fine: the list is empty until its first transfer.
        assert!(problems(
            "[[lists]]\nname = \"c\"\nformat = \"rpz\"\npath = \"/nonexistent/seed.rpz\"\n[lists.transfer]\nprimaries = [\"127.0.0.1\"]\nzone = \"rpz.c.\"\nexpire_policy = \"drop\"\n"
        )
        .is_empty());
    }

    #[test]
    fn iterator_limits_are_checked() {
        let keys = problems(
            "[resolver]\nmax_upstream_queries = 0\ndelegation_cache_size = 0\nsocket_reuse = 5000\n",
        );
        assert_eq!(
            keys,
            vec![
                "resolver.delegation_cache_size",
                "resolver.max_upstream_queries",
                "resolver.socket_reuse"
            ]
        );
        assert!(problems("[resolver]\nmax_upstream_queries = 200\nsocket_reuse = 1\n").is_empty());
    }

    #[test]
    fn denied_root_servers_name_the_key_to_add() {
        let c: Config =
            toml::from_str("[resolver]\nroot_servers = [\"192.0.2.7\", \"127.0.0.1:5300\"]\n")
                .expect("toml");
        let Err(ConfigError::Invalid {
            problems: found, ..
        }) = c.validate(Path::new("t"), Path::new("."))
        else {
            panic!("a loopback root server must be refused");
        };
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "resolver.root_servers[1]");
        assert!(
            found[0]
                .reason
                .contains("add \"127.0.0.0/8\" to resolver.authority_allow"),
            "{}",
            found[0].reason
        );
        assert!(problems(
            "[resolver]\nroot_servers = [\"127.0.0.1:5300\"]\nauthority_allow = [\"127.0.0.0/8\"]\n"
        )
        .is_empty());
        // Forwarding to a private resolver is normal: no such rule there.
        assert!(
            problems("[resolver]\nmode = \"forward\"\nupstreams = [\"10.0.0.53\"]\n").is_empty()
        );
    }

    #[test]
    fn effective_toml_is_a_config_with_every_default() {
        let v = Config::default()
            .validate(Path::new("t"), Path::new("."))
            .expect("valid");
        let text = v.effective_toml().expect("serialize");
        for key in [
            "tcp_idle_timeout_secs = 10",
            "qps = 200",
            "blocked_queries_max_per_sec = 10",
        ] {
            assert!(text.contains(key), "{key} missing:\n{text}");
        }
        let back: Config = toml::from_str(&text).expect("parses as a config");
        let again = back
            .validate(Path::new("t"), Path::new("."))
            .expect("valid")
            .effective_toml()
            .expect("serialize");
        assert_eq!(text, again);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<Config>("[server]\nlisten_addr = []").is_err());
    }

    #[test]
    fn addresses_default_their_port() {
        assert_eq!(
            parse_addr("127.0.0.1", 53).ok(),
            "127.0.0.1:53".parse().ok()
        );
        assert_eq!(parse_addr("[::1]:5300", 53).ok(), "[::1]:5300".parse().ok());
        assert!(parse_addr("localhost", 53).is_err());
    }
}
