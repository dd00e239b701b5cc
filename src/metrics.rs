//! Prometheus metrics. Handles are built once; the query path only bumps
//! counters. Labels are bounded sets (protocol, qtype, rcode, list, action,
//! mode, reason, result, transport): never a query name or a client address.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::wire::Reject;

/// Queries received, by `protocol` (udp, tcp) and `qtype`.
pub const QUERIES: &str = "dnsward_queries_total";
/// Responses sent, by `rcode`.
pub const RESPONSES: &str = "dnsward_responses_total";
/// Blocked answers, by `list` and `action`.
pub const BLOCKED: &str = "dnsward_blocked_total";
/// Of [`BLOCKED`], the answers blocked at a name that a CNAME/DNAME chain
/// led to rather than at the question name, by `list` and `action`.
pub const CHAIN_BLOCKED: &str = "dnsward_chain_blocked_total";
/// Answers served from the cache.
pub const CACHE_HITS: &str = "dnsward_cache_hits_total";
/// Lookups that missed the cache.
pub const CACHE_MISSES: &str = "dnsward_cache_misses_total";
/// Entries in the cache.
pub const CACHE_ENTRIES: &str = "dnsward_cache_entries";
/// Upstream/recursive resolution time, by `mode`.
pub const UPSTREAM_DURATION: &str = "dnsward_upstream_duration_seconds";
/// Failed resolutions, by `mode` and `kind` (timeout, network, other).
pub const UPSTREAM_ERRORS: &str = "dnsward_upstream_errors_total";
/// Entries per list, by `list`.
pub const LIST_ENTRIES: &str = "dnsward_list_entries";
/// Successful list loads, by `list`.
pub const LIST_RELOADS: &str = "dnsward_list_reloads_total";
/// Refused list loads (old version kept), by `list` and `reason`.
pub const LIST_RELOAD_FAILURES: &str = "dnsward_list_reload_failures_total";
/// List fetches and transfers, by `list`, `kind` (`http`, ...) and
/// `result` (`success`, `not_modified` for a feed answered 304, or the failure reason).
pub const LIST_TRANSFER: &str = "dnsward_list_transfer_total";
/// Always 1, labelled with each list's content hash.
pub const LIST_INFO: &str = "dnsward_list_info";
/// Gauge: 1 for each list's current date state (`pending`, `active`,
/// `expired`), 0 for the other two.
pub const LIST_STATE: &str = "dnsward_list_state";
/// SOA serial of the serving version of a transferred list.
pub const LIST_SERIAL: &str = "dnsward_list_serial";
/// Unix time of the last successful transfer or download of a list.
pub const LIST_LAST_SUCCESS: &str = "dnsward_list_last_success_timestamp_seconds";
/// 1 while a transferred list is past its SOA expire (still enforced
/// under `expire_policy = "keep"`).
pub const LIST_EXPIRED: &str = "dnsward_list_expired";
/// Would-be blocks of dry-run lists, by `list`.
pub const DRY_RUN: &str = "dnsward_dry_run_matches_total";
/// Unix time of the last successful load, by `list`.
pub const LIST_LAST_RELOAD: &str = "dnsward_list_last_reload_timestamp_seconds";
/// Packets not answered or answered with an error before resolution, by `reason`.
pub const REJECTED: &str = "dnsward_rejected_queries_total";
/// Queries the iterator sent to authoritative servers, by `result` and
/// `transport` (tcp: retried over TCP after TC=1).
pub const AUTHORITY_QUERIES: &str = "dnsward_authority_queries_total";
/// Minimised questions (RFC 9156) that failed and were asked again with
/// the full name (`resolver.qname_minimisation = "relaxed"`).
pub const QNAME_MINIMISATION_FALLBACKS: &str = "dnsward_qname_minimisation_fallbacks_total";
/// Background refreshes of cached answers asked for in the last 10% of
/// their TTL (`cache.prefetch`).
pub const CACHE_PREFETCHES: &str = "dnsward_cache_prefetches_total";
/// Prefetches not started because `resolver.max_inflight` resolutions
/// were already running.
pub const CACHE_PREFETCHES_DROPPED: &str = "dnsward_cache_prefetches_dropped_total";
/// Round-trip time of authoritative queries that got a reply.
pub const AUTHORITY_RTT: &str = "dnsward_authority_rtt_seconds";
/// Stream connections open now, by `protocol` (tcp).
pub const TCP_CONNECTIONS: &str = "dnsward_tcp_connections";
/// Idle connections closed early to make room, by `protocol` and
/// `reason` (limit: evicted to admit a new connection at the limit;
/// pressure: closed by the idle timeout shortened under pressure).
pub const TCP_EVICTIONS: &str = "dnsward_tcp_evictions_total";
/// Always 1, with the `version` label.
pub const BUILD_INFO: &str = "dnsward_build_info";
/// 1 while `/readyz` would answer 200, else 0; set at scrape time from the
/// same check, so the two never disagree.
pub const READY: &str = "dnsward_ready";
/// Log lines left out by a rate cap, by `log` (`blocked`: the
/// blocked-query log, `logging.blocked_queries_max_per_sec`).
pub const LOG_SUPPRESSED: &str = "dnsward_log_suppressed_total";
/// Counter: query log lines written.
pub const QUERYLOG_LINES: &str = "dnsward_querylog_lines_total";
/// Counter: query log entries dropped because the writer's queue was full.
pub const QUERYLOG_DROPPED: &str = "dnsward_querylog_dropped_total";
/// Counter: query log write, rotate or reopen errors.
pub const QUERYLOG_ERRORS: &str = "dnsward_querylog_errors_total";
/// Counter: dnstap messages written to the collector.
pub const DNSTAP_SENT: &str = "dnsward_dnstap_sent_total";
/// Counter: dnstap entries dropped (queue full, or no collector connected).
pub const DNSTAP_DROPPED: &str = "dnsward_dnstap_dropped_total";
/// Gauge: 1 while a dnstap collector is connected.
pub const DNSTAP_CONNECTED: &str = "dnsward_dnstap_connected";
/// Counter: validated resolutions by result (`secure`, `insecure`,
/// `bogus`, `indeterminate`).
pub const DNSSEC_RESULTS: &str = "dnsward_dnssec_results_total";
/// Counter: bogus resolutions by the EDE code sent (6, 7, 8, 9, 10, 12...).
pub const DNSSEC_BOGUS: &str = "dnsward_dnssec_bogus_total";
/// Histogram: signature verifications one client query's resolution cost.
pub const DNSSEC_SIGNATURE_CHECKS: &str = "dnsward_dnssec_signature_checks";
/// Counter: resolutions stopped by the per-query validation budget
/// (KeyTrap / NSEC3 work limits).
pub const DNSSEC_BUDGET_EXCEEDED: &str = "dnsward_dnssec_budget_exceeded_total";
/// Negative answers synthesised from cached validated NSEC records
/// (RFC 8198), without an upstream query.
pub const DNSSEC_AGGRESSIVE_ANSWERS: &str = "dnsward_dnssec_aggressive_answers_total";
/// Gauge (1): the trust anchors in use, by zone, key tag and RFC 5011 state.
pub const DNSSEC_TRUST_ANCHOR_INFO: &str = "dnsward_dnssec_trust_anchor_info";

/// Query types given their own label value; others are `other`, so a
/// client sending random qtypes cannot inflate the series count.
const QTYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "HTTPS", "SVCB", "ANY", "CAA",
    "DS", "DNSKEY", "NAPTR",
];

/// Type codes of [`QTYPES`], same order.
const QTYPE_CODES: &[u16] = &[1, 28, 5, 15, 2, 12, 6, 33, 16, 65, 64, 255, 257, 43, 48, 35];

/// Counters of the query log.
#[derive(Clone)]
pub struct QueryLogMetrics {
    /// Lines written.
    pub lines: IntCounter,
    /// Entries dropped because the queue was full.
    pub dropped: IntCounter,
    /// Write, rotate or reopen errors.
    pub errors: IntCounter,
}

/// Counters of the dnstap output.
#[derive(Clone)]
pub struct DnstapMetrics {
    /// Messages written to the collector.
    pub sent: IntCounter,
    /// Entries dropped: queue full, or queued while no collector was
    /// connected.
    pub dropped: IntCounter,
    /// 1 while a collector is connected.
    pub connected: IntGauge,
}

/// DNSSEC validation metrics.
#[derive(Clone)]
pub struct DnssecMetrics {
    /// See [`DNSSEC_RESULTS`].
    pub results: IntCounterVec,
    /// See [`DNSSEC_BOGUS`].
    pub bogus: IntCounterVec,
    /// See [`DNSSEC_SIGNATURE_CHECKS`].
    pub signature_checks: Histogram,
    /// See [`DNSSEC_BUDGET_EXCEEDED`].
    pub budget_exceeded: IntCounter,
    /// See [`DNSSEC_AGGRESSIVE_ANSWERS`].
    pub aggressive_answers: IntCounter,
    /// See [`DNSSEC_TRUST_ANCHOR_INFO`].
    pub trust_anchor_info: IntGaugeVec,
}

impl DnssecMetrics {
    /// Count one validated resolution: its result label, the EDE code
    /// of a bogus one, and the signature checks it cost.
    pub fn count(&self, result: &'static str, bogus_ede: Option<u16>, checks: u32) {
        self.results.with_label_values(&[result]).inc();
        if let Some(code) = bogus_ede {
            // Bounded: the EDE codes a validator sends are a dozen.
            self.bogus
                .with_label_values(&[code.to_string().as_str()])
                .inc();
        }
        self.signature_checks.observe(f64::from(checks));
    }
}

/// What became of one query to an authoritative server (bounded label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityOutcome {
    /// Data or an alias for the name.
    Answer,
    /// A delegation further down.
    Referral,
    /// NXDOMAIN or NODATA.
    Negative,
    /// Upward/sideways referral, out-of-zone data, or nothing usable.
    Lame,
    /// SERVFAIL, REFUSED, NOTIMP, FORMERR...
    Rcode,
    /// No reply in time.
    Timeout,
    /// Unreachable, refused connection, undecodable TCP reply.
    Network,
}

const AUTHORITY_RESULTS: &[&str] = &[
    "answer", "referral", "negative", "lame", "rcode", "timeout", "network",
];

impl AuthorityOutcome {
    fn index(self) -> usize {
        self as usize
    }
}

/// Rcode label values, indexed by [`rcode_index`].
const RCODES: &[&str] = &[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other",
];

fn qtype_index(code: u16) -> usize {
    QTYPE_CODES
        .iter()
        .position(|c| *c == code)
        .unwrap_or(QTYPES.len())
}

/// Index into the rcode label table.
fn rcode_index(code: u16) -> usize {
    match code {
        0..=5 => usize::from(code),
        16 => 6,
        _ => 7,
    }
}

/// All metric handles.
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// See [`QUERIES`].
    pub queries: IntCounterVec,
    /// See [`RESPONSES`].
    pub responses: IntCounterVec,
    /// See [`BLOCKED`].
    pub blocked: IntCounterVec,
    /// See [`CHAIN_BLOCKED`].
    pub chain_blocked: IntCounterVec,
    /// See [`CACHE_HITS`].
    pub cache_hits: IntCounter,
    /// See [`CACHE_MISSES`].
    pub cache_misses: IntCounter,
    /// See [`CACHE_ENTRIES`].
    pub cache_entries: IntGauge,
    /// See [`UPSTREAM_DURATION`].
    pub upstream_duration: HistogramVec,
    /// See [`UPSTREAM_ERRORS`].
    pub upstream_errors: IntCounterVec,
    /// See [`LIST_ENTRIES`].
    pub list_entries: IntGaugeVec,
    /// See [`LIST_RELOADS`].
    pub list_reloads: IntCounterVec,
    /// See [`LIST_RELOAD_FAILURES`].
    pub list_reload_failures: IntCounterVec,
    /// See [`LIST_TRANSFER`].
    pub list_transfer: IntCounterVec,
    /// See [`LIST_LAST_RELOAD`].
    pub list_last_reload: GaugeVec,
    /// See [`LIST_INFO`].
    pub list_info: IntGaugeVec,
    /// [`LIST_STATE`].
    pub list_state: IntGaugeVec,
    /// See [`LIST_SERIAL`].
    pub list_serial: IntGaugeVec,
    /// See [`LIST_LAST_SUCCESS`].
    pub list_last_success: GaugeVec,
    /// See [`LIST_EXPIRED`].
    pub list_expired: IntGaugeVec,
    /// See [`DRY_RUN`].
    pub dry_run: IntCounterVec,
    /// See [`REJECTED`].
    pub rejected: IntCounterVec,
    /// Stale answers served because resolution failed (RFC 8767).
    pub stale_answers: IntCounter,
    /// See [`AUTHORITY_QUERIES`].
    pub authority_queries: IntCounterVec,
    /// See [`AUTHORITY_RTT`].
    pub authority_rtt: Histogram,
    /// See [`QNAME_MINIMISATION_FALLBACKS`].
    pub qname_minimisation_fallbacks: IntCounter,
    /// See [`CACHE_PREFETCHES`].
    pub cache_prefetches: IntCounter,
    /// See [`CACHE_PREFETCHES_DROPPED`].
    pub cache_prefetches_dropped: IntCounter,
    /// See [`LOG_SUPPRESSED`].
    pub log_suppressed: IntCounterVec,
    /// See [`QUERYLOG_LINES`], [`QUERYLOG_DROPPED`], [`QUERYLOG_ERRORS`].
    pub querylog: QueryLogMetrics,
    /// See [`DNSTAP_SENT`], [`DNSTAP_DROPPED`], [`DNSTAP_CONNECTED`].
    pub dnstap: DnstapMetrics,
    /// See [`DNSSEC_RESULTS`] and the other `DNSSEC_*` names.
    pub dnssec: DnssecMetrics,
    /// See [`TCP_CONNECTIONS`].
    pub tcp_connections: IntGaugeVec,
    /// See [`TCP_EVICTIONS`].
    pub tcp_evictions: IntCounterVec,
    /// `authority_queries{result,transport}` children: [udp.., tcp..].
    authority_handles: Vec<IntCounter>,
    /// Process start time, for dashboards.
    pub start_time: Gauge,
    /// Readiness as `/readyz` sees it; the HTTP listener sets it before
    /// each scrape.
    pub ready: IntGauge,
    /// `queries{protocol,qtype}` children resolved once: [udp.., tcp..].
    query_handles: Vec<IntCounter>,
    /// `responses{rcode}` children resolved once.
    response_handles: Vec<IntCounter>,
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    // Names are constants and unique: registration cannot fail except by a
    // programming error, which the unit test below catches.
    let _ = r.register(Box::new(c.clone()));
    c
}

impl Metrics {
    /// Build and register every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        let cv = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).map(|c| reg(&r, c))
        };
        let m = Metrics {
            queries: cv(QUERIES, "DNS queries received.", &["protocol", "qtype"])?,
            responses: cv(RESPONSES, "DNS responses sent.", &["rcode"])?,
            blocked: cv(
                BLOCKED,
                "Queries answered by a block list, by the client's policy group.",
                &["list", "action", "group"],
            )?,
            chain_blocked: cv(
                CHAIN_BLOCKED,
                "Queries blocked at a name their CNAME/DNAME chain led to (also in dnsward_blocked_total).",
                &["list", "action", "group"],
            )?,
            cache_hits: reg(
                &r,
                IntCounter::new(CACHE_HITS, "Answers served from cache.")?,
            ),
            cache_misses: reg(
                &r,
                IntCounter::new(CACHE_MISSES, "Cache lookups that missed.")?,
            ),
            cache_entries: reg(&r, IntGauge::new(CACHE_ENTRIES, "Answers held in cache.")?),
            upstream_duration: reg(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(UPSTREAM_DURATION, "Time to resolve a cache miss.").buckets(
                        vec![
                            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                            2.5, 5.0,
                        ],
                    ),
                    &["mode"],
                )?,
            ),
            upstream_errors: cv(
                UPSTREAM_ERRORS,
                "Resolutions that failed (client got SERVFAIL).",
                &["mode", "kind"],
            )?,
            list_entries: reg(
                &r,
                IntGaugeVec::new(Opts::new(LIST_ENTRIES, "Entries in each list."), &["list"])?,
            ),
            list_reloads: cv(LIST_RELOADS, "Successful list loads.", &["list"])?,
            list_reload_failures: cv(
                LIST_RELOAD_FAILURES,
                "List loads refused; the previous version kept serving.",
                &["list", "reason"],
            )?,
            list_transfer: cv(
                LIST_TRANSFER,
                "List fetches and zone transfers, by result.",
                &["list", "kind", "result"],
            )?,
            list_state: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        LIST_STATE,
                        "Date state of each list: 1 on its current state (pending, active, expired).",
                    ),
                    &["list", "state"],
                )?,
            ),
            list_info: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        LIST_INFO,
                        "Serving version of each list (sha256 of its file).",
                    ),
                    &["list", "sha256"],
                )?,
            ),
            list_serial: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(LIST_SERIAL, "SOA serial of the serving version of a transferred list."),
                    &["list"],
                )?,
            ),
            list_last_success: reg(
                &r,
                GaugeVec::new(
                    Opts::new(
                        LIST_LAST_SUCCESS,
                        "Unix time of the last successful transfer or download.",
                    ),
                    &["list"],
                )?,
            ),
            list_expired: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        LIST_EXPIRED,
                        "1 while a transferred list is past its SOA expire.",
                    ),
                    &["list"],
                )?,
            ),
            dry_run: cv(
                DRY_RUN,
                "Queries a dry-run list would have blocked.",
                &["list"],
            )?,
            list_last_reload: reg(
                &r,
                GaugeVec::new(
                    Opts::new(LIST_LAST_RELOAD, "Unix time of the last successful load."),
                    &["list"],
                )?,
            ),
            rejected: cv(
                REJECTED,
                "Queries dropped or refused before resolution.",
                &["reason"],
            )?,
            stale_answers: reg(
                &r,
                IntCounter::new(
                    "dnsward_stale_answers_total",
                    "Expired answers served because resolution failed (RFC 8767).",
                )?,
            ),
            authority_queries: cv(
                AUTHORITY_QUERIES,
                "Queries sent to authoritative servers, by outcome.",
                &["result", "transport"],
            )?,
            authority_rtt: reg(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        AUTHORITY_RTT,
                        "Round-trip time of answered authoritative queries.",
                    )
                    .buckets(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    ]),
                )?,
            ),
            qname_minimisation_fallbacks: reg(
                &r,
                IntCounter::new(
                    QNAME_MINIMISATION_FALLBACKS,
                    "Minimised questions that failed and were asked again with the full name.",
                )?,
            ),
            cache_prefetches: reg(
                &r,
                IntCounter::new(
                    CACHE_PREFETCHES,
                    "Cached answers refreshed in the background near the end of their TTL.",
                )?,
            ),
            cache_prefetches_dropped: reg(
                &r,
                IntCounter::new(
                    CACHE_PREFETCHES_DROPPED,
                    "Prefetches not started because max_inflight resolutions were running.",
                )?,
            ),
            querylog: QueryLogMetrics {
                lines: reg(
                    &r,
                    IntCounter::new(QUERYLOG_LINES, "Query log lines written.")?,
                ),
                dropped: reg(
                    &r,
                    IntCounter::new(
                        QUERYLOG_DROPPED,
                        "Query log entries dropped because the writer's queue was full (answering never waits).",
                    )?,
                ),
                errors: reg(
                    &r,
                    IntCounter::new(
                        QUERYLOG_ERRORS,
                        "Query log write, rotate or reopen errors.",
                    )?,
                ),
            },
            dnstap: DnstapMetrics {
                sent: reg(
                    &r,
                    IntCounter::new(DNSTAP_SENT, "dnstap messages written to the collector.")?,
                ),
                dropped: reg(
                    &r,
                    IntCounter::new(
                        DNSTAP_DROPPED,
                        "dnstap entries dropped: queue full or no collector connected (answering never waits).",
                    )?,
                ),
                connected: reg(
                    &r,
                    IntGauge::new(DNSTAP_CONNECTED, "1 while a dnstap collector is connected.")?,
                ),
            },
            dnssec: DnssecMetrics {
                results: cv(
                    DNSSEC_RESULTS,
                    "Validated resolutions by DNSSEC result.",
                    &["result"],
                )?,
                bogus: cv(
                    DNSSEC_BOGUS,
                    "Bogus resolutions by the EDE code answered.",
                    &["ede"],
                )?,
                signature_checks: reg(
                    &r,
                    Histogram::with_opts(
                        HistogramOpts::new(
                            DNSSEC_SIGNATURE_CHECKS,
                            "Signature verifications per validated client query.",
                        )
                        .buckets(vec![0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
                    )?,
                ),
                budget_exceeded: reg(
                    &r,
                    IntCounter::new(
                        DNSSEC_BUDGET_EXCEEDED,
                        "Validations stopped by the per-query signature or NSEC3 hash budget.",
                    )?,
                ),
                aggressive_answers: reg(
                    &r,
                    IntCounter::new(
                        DNSSEC_AGGRESSIVE_ANSWERS,
                        "NXDOMAIN and NODATA answers synthesised from cached validated NSEC records (RFC 8198).",
                    )?,
                ),
                trust_anchor_info: reg(
                    &r,
                    IntGaugeVec::new(
                        Opts::new(DNSSEC_TRUST_ANCHOR_INFO, "Trust anchors in use (value 1)."),
                        &["zone", "key_tag", "state"],
                    )?,
                ),
            },
            log_suppressed: cv(
                LOG_SUPPRESSED,
                "Log lines left out by a rate cap; metrics still count every event.",
                &["log"],
            )?,
            tcp_connections: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(TCP_CONNECTIONS, "Stream connections open now."),
                    &["protocol"],
                )?,
            ),
            tcp_evictions: cv(
                TCP_EVICTIONS,
                "Idle connections closed early to make room (RFC 7766 6.2.3).",
                &["protocol", "reason"],
            )?,
            start_time: reg(
                &r,
                Gauge::new(
                    "dnsward_start_time_seconds",
                    "Unix time the process started.",
                )?,
            ),
            ready: reg(
                &r,
                IntGauge::new(
                    READY,
                    "1 while /readyz answers 200 (every list loaded, not shutting down), else 0.",
                )?,
            ),
            registry: r,
            query_handles: Vec::new(),
            response_handles: Vec::new(),
            authority_handles: Vec::new(),
        };
        let mut m = m;
        for proto in ["udp", "tcp"] {
            for q in QTYPES.iter().chain(std::iter::once(&"other")) {
                m.query_handles
                    .push(m.queries.with_label_values(&[proto, q]));
            }
        }
        for r in RCODES {
            m.response_handles.push(m.responses.with_label_values(&[r]));
        }
        for transport in ["udp", "tcp"] {
            for r in AUTHORITY_RESULTS {
                m.authority_handles
                    .push(m.authority_queries.with_label_values(&[r, transport]));
            }
        }
        // Present from the start, so a dashboard sees 0 rather than nothing.
        m.log_suppressed.with_label_values(&["blocked"]);
        let info = IntGaugeVec::new(Opts::new(BUILD_INFO, "Build information."), &["version"])?;
        info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        reg(&m.registry, info);
        m.start_time.set(unix_now());
        Ok(m)
    }

    /// Count a query dropped or refused before resolution: the one place
    /// [`REJECTED`] is fed.
    pub fn reject(&self, reason: Reject) {
        self.rejected.with_label_values(&[reason.label()]).inc();
    }

    /// Count a query without a label lookup (hot path). `tcp` selects
    /// the protocol, `qtype` is the numeric type.
    #[inline]
    pub fn count_query(&self, tcp: bool, qtype: u16) {
        let i = usize::from(tcp) * (QTYPES.len() + 1) + qtype_index(qtype);
        if let Some(c) = self.query_handles.get(i) {
            c.inc();
        }
    }

    /// Count a response by numeric rcode without a label lookup.
    #[inline]
    pub fn count_response(&self, rcode: u16) {
        if let Some(c) = self.response_handles.get(rcode_index(rcode)) {
            c.inc();
        }
    }

    /// Count one authoritative query (no label lookup: the iterator calls
    /// this per upstream query).
    #[inline]
    pub fn count_authority(&self, outcome: AuthorityOutcome, tcp: bool) {
        let i = usize::from(tcp) * AUTHORITY_RESULTS.len() + outcome.index();
        if let Some(c) = self.authority_handles.get(i) {
            c.inc();
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Metrics {
    /// Record one transfer or feed download of `list`: `kind` is `axfr`,
    /// `ixfr` or `http`; `result` is `success` or a short failure reason
    /// (`refused`, `timeout`, `tsig`, `truncated`, `serial_backwards`,
    /// ...). A success also moves the last-success timestamp. Shared by the
    /// zone-transfer and HTTPS feed code so both report alike.
    pub fn record_transfer(&self, list: &str, kind: &str, result: &str) {
        self.list_transfer
            .with_label_values(&[list, kind, result])
            .inc();
        // A 304 from a feed confirms the serving version is current too.
        if result == "success" || result == "not_modified" {
            self.list_last_success
                .with_label_values(&[list])
                .set(unix_now());
        }
    }
}

/// Seconds since the Unix epoch, as Prometheus timestamps want.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_names_register_and_render() {
        let m = Metrics::new().expect("metrics");
        m.queries.with_label_values(&["udp", "A"]).inc();
        m.cache_hits.inc();
        m.count_authority(AuthorityOutcome::Network, true);
        // The label sets `server::conntrack::ConnMetrics` resolves; a vec
        // renders only once a label set exists.
        m.tcp_connections.with_label_values(&["tcp"]).set(0);
        m.tcp_evictions.with_label_values(&["tcp", "limit"]).inc();
        assert_eq!(
            m.authority_queries
                .with_label_values(&["network", "tcp"])
                .get(),
            1
        );
        let text = m.render();
        for name in [
            QUERIES,
            CACHE_HITS,
            BUILD_INFO,
            CACHE_ENTRIES,
            AUTHORITY_QUERIES,
            LOG_SUPPRESSED,
            TCP_CONNECTIONS,
            TCP_EVICTIONS,
            READY,
        ] {
            assert!(text.contains(name), "{name} missing");
        }
    }

    #[test]
    fn unknown_qtypes_and_rcodes_share_one_label() {
        let m = Metrics::new().expect("metrics");
        m.count_query(false, 1);
        m.count_query(true, 65000);
        m.count_query(true, 65001);
        m.count_response(3);
        m.count_response(23);
        let q = |p: &str, t: &str| m.queries.with_label_values(&[p, t]).get();
        assert_eq!(q("udp", "A"), 1);
        assert_eq!(q("tcp", "other"), 2);
        assert_eq!(m.responses.with_label_values(&["NXDOMAIN"]).get(), 1);
        assert_eq!(m.responses.with_label_values(&["other"]).get(), 1);
    }
}
