//! Configuration: the TOML file an operator writes and its built-in
//! defaults. Every stage imports its section's type from here, so this
//! module imports no stage; the value checks that need a stage's own parser
//! live above the stages, in [`crate::validate`].
//!
//! Validation collects *every* problem, each naming its key (`lists[2].path`),
//! so `dnsward check-config` shows an operator the whole picture in one run
//! instead of one error per edit-and-retry cycle.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) mod collect;
pub mod diff;
mod dnssec;
mod lists;
mod problem;

pub use dnssec::*;
pub use lists::*;
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
    pub querylog: QueryLogConfig,
    /// Policy groups: client networks and the optional lists they add.
    pub groups: Vec<GroupConfig>,
    /// dnstap output over a Frame Streams unix socket; off by default.
    pub dnstap: DnstapConfig,
    /// DNSSEC validation, trust anchors and their limits.
    pub dnssec: DnssecConfig,
}

/// `[[groups]]`: subscribers who chose optional lists. A list that no group
/// names applies to every client (the mandatory orders); a list named by
/// groups applies only to their clients. A client belongs to the group
/// whose `clients` network covers it most specifically; a client in no
/// group gets the mandatory lists only.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// Group name: the `group` label of the blocked counters and the
    /// query log's `group` field. Unique; `default` is reserved for
    /// clients in no group.
    pub name: String,
    /// Client networks (CIDR or single addresses), IPv4 and IPv6.
    pub clients: Vec<String>,
    /// Names of `[[lists]]` this group adds.
    pub lists: Vec<String>,
}

/// `[dnstap]`: a copy of answered queries as dnstap messages (Frame
/// Streams, bidirectional handshake) to a collector's unix socket, written
/// off the request path through a bounded queue.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DnstapConfig {
    /// The collector's unix socket. Default: none (dnstap off; the query
    /// path then does no work for it at all).
    pub socket: Option<PathBuf>,
    /// `blocked` (default): blocked answers only; `all`: every answer.
    pub what: QueryLogWhat,
    /// The `identity` field of every message. Default: the host name.
    pub identity: String,
    /// Messages waiting for the writer, at most; past this, messages are
    /// dropped and counted. Default 16384.
    pub queue: usize,
    /// Wait between attempts to (re)connect to the collector, in
    /// milliseconds. Default 1000.
    pub reconnect_ms: u64,
}

impl Default for DnstapConfig {
    fn default() -> Self {
        Self {
            socket: None,
            what: QueryLogWhat::Blocked,
            identity: String::new(),
            queue: 16_384,
            reconnect_ms: 1000,
        }
    }
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

/// `[querylog]`: the per-query log (off unless `path` is set).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryLogConfig {
    /// JSON-lines file. Default: none (no query log; the query path then
    /// does no work for it at all).
    pub path: Option<PathBuf>,
    /// `blocked` (default): blocked answers only; `all`: every answer.
    pub what: QueryLogWhat,
    /// IPv4 client addresses are written as this prefix, in bits.
    /// Default 24; 0 writes no client at all.
    pub client_ipv4_prefix: u8,
    /// IPv6 client addresses are written as this prefix, in bits.
    /// Default 56; 0 writes no client at all.
    pub client_ipv6_prefix: u8,
    /// The file is rotated when it would grow past this many MiB.
    /// Default 100.
    pub max_size_mb: u64,
    /// Rotated files kept (`path.1` newest ... `path.keep`). Default 10;
    /// 0 keeps none (the file is truncated when full).
    pub keep: u32,
    /// Entries waiting for the writer, at most; past this, entries are
    /// dropped and counted rather than slowing answers. Default 65536.
    pub queue: usize,
}

impl Default for QueryLogConfig {
    fn default() -> Self {
        Self {
            path: None,
            what: QueryLogWhat::Blocked,
            client_ipv4_prefix: 24,
            client_ipv6_prefix: 56,
            max_size_mb: 100,
            keep: 10,
            queue: 65_536,
        }
    }
}

/// Which answers the query log records.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QueryLogWhat {
    /// Blocked answers only.
    #[default]
    Blocked,
    /// Every answer.
    All,
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

/// Parse an ACL or group entry (CIDR or single address) into a canonical network (IPv4-mapped ranges become
/// IPv4), or say why it is unusable.
pub fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let net = match s.parse::<ipnet::IpNet>() {
        Ok(n) => n,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(a) => ipnet::IpNet::from(a),
            Err(_) => return Err(format!("`{s}` is not an IP address or CIDR network")),
        },
    };
    if net.trunc() != net {
        return Err(format!(
            "`{s}` has host bits set; write the network as {}",
            net.trunc()
        ));
    }
    Ok(unmap(net))
}

/// `::ffff:a.b.c.d/n` with n >= 96 is the IPv4 network `a.b.c.d/(n-96)`:
/// clients are canonicalised the same way, so such an entry would
/// otherwise never match.
fn unmap(net: ipnet::IpNet) -> ipnet::IpNet {
    const MAPPED_PREFIX: u8 = 96;
    if let ipnet::IpNet::V6(n) = net {
        if let (Some(v4), true) = (
            n.network().to_ipv4_mapped(),
            n.prefix_len() >= MAPPED_PREFIX,
        ) {
            if let Ok(v4net) = ipnet::Ipv4Net::new(v4, n.prefix_len() - MAPPED_PREFIX) {
                return ipnet::IpNet::V4(v4net);
            }
        }
    }
    net
}

impl RateLimitConfig {
    /// Every unusable value, keyed `ratelimit.<field>`, so `check-config`
    /// reports them all at once. Values are checked even when `enabled` is
    /// false, so turning the limiter on later cannot fail at start-up.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |key: &str, reason: &str| {
            problems.push(Problem {
                key: format!("ratelimit.{key}"),
                reason: reason.to_string(),
            })
        };
        if self.qps == 0 {
            bad(
                "qps",
                "must be at least 1 (use enabled = false to turn limiting off)",
            );
        }
        if self.burst == 0 {
            bad("burst", "must be at least 1");
        }
        if self.ipv4_prefix > 32 {
            bad("ipv4_prefix", "must be between 0 and 32");
        }
        if self.ipv6_prefix > 128 {
            bad("ipv6_prefix", "must be between 0 and 128");
        }
        if self.max_tracked == 0 {
            bad("max_tracked", "must be at least 1");
        }
        problems
    }
}
