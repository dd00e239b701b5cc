//! Why a query was dropped or refused before it reached resolution. The
//! wire checks, admission, the listeners and the NOTIFY router all name
//! their refusals with it, and metrics counts it, so it lives on the
//! ground floor where every one of them can import it without importing
//! each other.

/// Why a query was dropped or refused before resolution: the `reason`
/// label of `dnsward_rejected_queries_total`. One enum, so every call site
/// names a variant and the label set is bounded and listed in one place
/// (docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Packet under 12 bytes: dropped.
    Short,
    /// QR=1 (a response sent to us): dropped.
    Response,
    /// Opcode other than QUERY: NOTIMP.
    Opcode,
    /// No question, several, answer records, or too many other records:
    /// FORMERR.
    Counts,
    /// Undecodable message: FORMERR (or an unreadable datagram: dropped).
    Malformed,
    /// Class other than IN: REFUSED.
    Class,
    /// AXFR, IXFR or OPT as the question type: REFUSED.
    Qtype,
    /// Client outside `acl.allow`: REFUSED + EDE 18.
    AclNotAllowed,
    /// Client inside `acl.deny`: REFUSED + EDE 18.
    AclDenied,
    /// Over the rate limit: dropped.
    RatelimitDrop,
    /// Over the rate limit: empty TC=1 answer.
    RatelimitSlip,
    /// `resolver.max_inflight` resolutions already running: SERVFAIL.
    ResolverBusy,
    /// Too many UDP queries in flight: dropped.
    Overload,
    /// `server.tcp_max_connections` reached: connection closed.
    TcpLimit,
    /// `server.tcp_max_per_client` reached: connection closed.
    TcpClientLimit,
    /// TCP length prefix out of range: connection closed.
    TcpLength,
    /// NOTIFY from an address that is not a primary of the zone: REFUSED.
    NotifyNotPrimary,
    /// NOTIFY for a zone no list transfers: REFUSED.
    NotifyUnknownZone,
    /// NOTIFY without a valid TSIG for a zone with a key: REFUSED.
    NotifyTsig,
    /// NOTIFY without a readable single question: dropped.
    NotifyMalformed,
}

impl Reject {
    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            Reject::Short => "short",
            Reject::Response => "response",
            Reject::Opcode => "opcode",
            Reject::Counts => "counts",
            Reject::Malformed => "malformed",
            Reject::Class => "class",
            Reject::Qtype => "qtype",
            Reject::AclNotAllowed => "acl_not_allowed",
            Reject::AclDenied => "acl_denied",
            Reject::RatelimitDrop => "ratelimit_drop",
            Reject::RatelimitSlip => "ratelimit_slip",
            Reject::ResolverBusy => "resolver_busy",
            Reject::Overload => "overload",
            Reject::TcpLimit => "tcp_limit",
            Reject::TcpClientLimit => "tcp_client_limit",
            Reject::TcpLength => "tcp_length",
            Reject::NotifyNotPrimary => "notify_not_primary",
            Reject::NotifyUnknownZone => "notify_unknown_zone",
            Reject::NotifyTsig => "notify_tsig",
            Reject::NotifyMalformed => "notify_malformed",
        }
    }
}
