//! dnsward's iterative resolver: from the closest known zone cut down
//! through referrals to the authoritative answer (RFC 1034 5.3.3).
//!
//! Why our own rather than hickory's recursor: cold resolution is where a
//! resolver spends its CPU, and hickory's sends an extra NS query per name
//! (its QNAME minimisation does not use the known cuts) and builds heavy
//! per-query state. Here a name in a known zone costs exactly one upstream
//! exchange, minimised or not.
//!
//! What it checks, because authoritative servers are untrusted input:
//! * a referral must delegate a zone strictly below the zone asked and at
//!   or above the name, else the server is lame (upward or sideways
//!   referrals are how loops and poisoning start);
//! * glue is taken only for name servers inside the zone that sent the
//!   referral (RFC 9471 in-domain and sibling glue); any other NS name is
//!   resolved on its own (depth-limited, each name at most once per chain,
//!   so A-needs-B-needs-A loops end);
//! * answer, CNAME and negative records are taken only from inside the
//!   zone the server was asked about; a CNAME leading elsewhere is followed
//!   by a new iteration from that name's own closest cut;
//! * every client query has a budget of upstream queries (shared by its
//!   sub-resolutions) and a CNAME/DNAME chain limit, so a malicious zone
//!   cannot make one query cost more than a bounded amount of traffic;
//! * server addresses in private, loopback and similar networks are never
//!   queried unless allowed ([`AddressPolicy`]).
//!
//! Server selection: lowest smoothed RTT first, unknown servers in random
//! order, timed-out servers last ([`ServerStats`]); SERVFAIL, REFUSED,
//! lame answers and timeouts move on to the next server; a zone's servers
//! get a second round only for those that timed out (packet loss).
//!
//! QNAME minimisation (RFC 9156, `resolver.qname_minimisation`, on by
//! default as in Unbound and Knot Resolver): servers above the name's zone
//! are asked only about the next label ([`super::minimise`]). With the
//! zone's cut cached, a name costs one upstream exchange all the same.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ipnet::IpNet;

use crate::config::QnameMinimisation;
use crate::metrics::{AuthorityOutcome, Metrics};

pub use super::classify::MAX_CHAIN;

mod dnssec;
use super::classify::{classify, extract_owned, negative_authority, referral, Reply, Step};
use super::delegation::{CutCache, Delegation, FailedZones, NameServer};
use super::exchange::{self, ExchangeError, SocketPool};
use super::minimise::{self, Minimiser};
use super::servers::{shuffle, AddressPolicy, ServerStats};
use super::validate::{Fetched, Validator};
use super::{Answer, ResolveError, Status};

/// Deepest nesting of name-server-address resolutions.
pub const MAX_DEPTH: u8 = 4;
/// Server addresses whose RTT is remembered.
const RTT_TABLE_SIZE: usize = 10_000;
/// Rounds over a zone's servers (the second only for those that timed out).
const ROUNDS: usize = 2;
/// Failed zones remembered (RFC 9520 hold-down).
const FAILED_ZONES: usize = 10_000;

/// Settings the iterator needs from the configuration.
pub struct RecursiveSettings {
    /// Root server addresses.
    pub roots: Vec<IpAddr>,
    /// Per-address port overrides (for the roots; labs and tests).
    pub ports: HashMap<IpAddr, u16>,
    /// Port for every other authoritative server.
    pub default_port: u16,
    /// Networks exempt from the private-address deny list.
    pub allow: Vec<IpNet>,
    /// Upstream queries one client query may cause, sub-resolutions
    /// included.
    pub max_queries: u32,
    /// Zone cuts kept in the delegation cache.
    pub delegation_cache_size: usize,
    /// Exchanges one UDP socket (source port) serves before it is replaced.
    pub socket_reuse: u32,
    /// Where to count authoritative queries (none in unit tests).
    pub metrics: Option<Arc<Metrics>>,
    /// QNAME minimisation mode (RFC 9156).
    pub qname_minimisation: QnameMinimisation,
    /// DNSSEC validation (None: off, answers unchecked).
    pub validator: Option<Arc<Validator>>,
}

/// Why an iteration failed. Each maps to a [`ResolveError`] (SERVFAIL + EDE).
#[derive(Debug, thiserror::Error)]
pub enum IterateError {
    /// The per-query upstream query budget ran out.
    #[error("gave up after {0} upstream queries")]
    Budget(u32),
    /// Name-server address resolutions nested too deep.
    #[error("name servers of {zone} need resolutions nested deeper than {MAX_DEPTH}")]
    Depth {
        /// The zone whose servers had no address.
        zone: Name,
    },
    /// No name server of a zone has an address we may use.
    #[error("no usable address for any name server of {zone}")]
    NoAddress {
        /// The zone.
        zone: Name,
    },
    /// Every server of a zone failed.
    #[error("no server of {zone} gave a usable answer ({last})")]
    AllFailed {
        /// The zone.
        zone: Name,
        /// The last failure, server address included (logs).
        last: String,
        /// The same without the server's address (EDE text).
        last_public: String,
        /// True if every failure was a timeout.
        timeouts_only: bool,
        /// True if a failure was a network error.
        network: bool,
    },
    /// Every server of the zone failed moments ago; not asked again yet.
    #[error("servers of {zone} failed recently; held down (RFC 9520)")]
    Held {
        /// The zone.
        zone: Name,
    },
    /// The CNAME/DNAME chain is longer than [`MAX_CHAIN`].
    #[error("CNAME chain longer than {MAX_CHAIN}")]
    ChainTooLong,
    /// The CNAME/DNAME chain comes back to a name already in it.
    #[error("CNAME loop at {0}")]
    Loop(Name),
    /// Our own question could not be encoded.
    #[error(transparent)]
    Encode(ExchangeError),
}

impl IterateError {
    /// The reason as a client may read it: zones and names, never a
    /// server address (only `AllFailed` carries one, in `last`; `Display`
    /// keeps it for the logs).
    pub fn public_text(&self) -> String {
        match self {
            IterateError::AllFailed {
                zone, last_public, ..
            } => format!("no server of {zone} gave a usable answer ({last_public})"),
            IterateError::Encode(e) => e.public_text(),
            IterateError::Budget(_)
            | IterateError::Depth { .. }
            | IterateError::NoAddress { .. }
            | IterateError::Held { .. }
            | IterateError::ChainTooLong
            | IterateError::Loop(_) => self.to_string(),
        }
    }
}

impl From<IterateError> for ResolveError {
    fn from(e: IterateError) -> Self {
        match &e {
            IterateError::AllFailed {
                timeouts_only: true,
                ..
            } => ResolveError::Timeout(Duration::ZERO),
            IterateError::AllFailed { network: true, .. } | IterateError::Encode(_) => {
                ResolveError::network(e.to_string(), e.public_text())
            }
            _ => ResolveError::no_authority(e.to_string(), e.public_text()),
        }
    }
}

/// The outcome of a whole question, CNAMEs followed.
struct Resolved {
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
    /// The zone each iteration of the chain was answered by, in order
    /// (the validator's hint for unsigned records).
    zones: Vec<Name>,
}

/// Per-client-query state shared by its sub-resolutions.
pub struct Ctx {
    queries_left: u32,
    /// The zone the last iteration's answer came from.
    last_zone: Name,
    depth: u8,
    dnssec_ok: bool,
    /// NS names being resolved up the stack (loop guard).
    pending_ns: Vec<Name>,
    /// Servers that gave usable replies in this query (the ones a bogus
    /// answer may have come from).
    answered: Vec<SocketAddr>,
    /// Servers not to ask again: the second attempt after a bogus answer
    /// asks the zone's other servers (Unbound's blacklist and refetch).
    avoid: Vec<SocketAddr>,
}

type BoxedResolve<'a> = Pin<Box<dyn Future<Output = Result<Resolved, IterateError>> + Send + 'a>>;

/// The iterative resolver.
pub struct Iterative {
    cuts: CutCache,
    failed: FailedZones,
    sockets: SocketPool,
    stats: ServerStats,
    policy: AddressPolicy,
    ports: HashMap<IpAddr, u16>,
    default_port: u16,
    max_queries: u32,
    metrics: Option<Arc<Metrics>>,
    qname_minimisation: QnameMinimisation,
    validator: Option<Arc<Validator>>,
    /// DS sets (or the NSEC/NSEC3 proofs of none) that referrals carried,
    /// by child zone: a validator reads a delegation's DS from the
    /// referral that followed it instead of asking again.
    referral_ds: dashmap::DashMap<Name, (Fetched, Instant)>,
}

impl Iterative {
    /// Start from the root hints in `s`.
    pub fn new(s: RecursiveSettings) -> Self {
        let now = Instant::now();
        let root = Delegation {
            zone: Name::root(),
            servers: s
                .roots
                .iter()
                .map(|ip| NameServer {
                    name: Name::root(),
                    addrs: vec![*ip],
                })
                .collect(),
            expires: now,
        };
        Self {
            cuts: CutCache::new(root, s.delegation_cache_size),
            failed: FailedZones::new(FAILED_ZONES),
            sockets: SocketPool::new(s.socket_reuse),
            stats: ServerStats::new(RTT_TABLE_SIZE),
            policy: AddressPolicy::new(s.allow),
            ports: s.ports,
            default_port: s.default_port,
            max_queries: s.max_queries.max(1),
            metrics: s.metrics,
            qname_minimisation: s.qname_minimisation,
            validator: s.validator,
            referral_ds: dashmap::DashMap::new(),
        }
    }

    /// The validator, when validation is on.
    pub fn validator(&self) -> Option<&Arc<Validator>> {
        self.validator.as_ref()
    }

    /// Resolve one question: rcode, answer section (CNAME chain included)
    /// and, for NXDOMAIN/NODATA, the zone's SOA.
    pub async fn resolve(&self, query: &Query, dnssec_ok: bool) -> Result<Answer, ResolveError> {
        let mut name = query.name().clone();
        name.set_fqdn(true);
        let mut ctx = Ctx {
            queries_left: self.max_queries,
            last_zone: Name::root(),
            depth: 0,
            // A validator needs the signatures whatever the client asked.
            dnssec_ok: dnssec_ok || self.validator.is_some(),
            pending_ns: Vec::new(),
            answered: Vec::new(),
            avoid: Vec::new(),
        };
        let qtype = query.query_type();
        if let Some(a) = self
            .validator
            .as_ref()
            .and_then(|v| v.aggressive_answer(&name, qtype))
        {
            return Ok(a);
        }
        let r = self.resolve_chain(&name, qtype, &mut ctx).await?;
        let (r, status, ede) = match &self.validator {
            None => (r, Status::Unchecked, None),
            Some(v) => self.validate_answer(v, &name, qtype, r, &mut ctx).await,
        };
        let mut m = Message::response(0, OpCode::Query);
        m.metadata.response_code = r.rcode;
        m.answers = r.answers;
        m.authorities = r.authority;
        Ok(Answer {
            msg: m,
            status,
            ede,
        })
    }

    /// Delegation cuts cached (for tests and metrics).
    pub fn cached_cuts(&self) -> usize {
        self.cuts.len()
    }

    /// A boxed [`Self::resolve_chain`]: name-server addresses are resolved
    /// by the same code, and a recursive async call needs the indirection.
    fn resolve_boxed<'a>(
        &'a self,
        name: &'a Name,
        qtype: RecordType,
        ctx: &'a mut Ctx,
    ) -> BoxedResolve<'a> {
        Box::pin(self.resolve_chain(name, qtype, ctx))
    }

    /// Iterate for `qname`, then for each CNAME/DNAME target that its zone
    /// could not answer.
    async fn resolve_chain(
        &self,
        qname: &Name,
        qtype: RecordType,
        ctx: &mut Ctx,
    ) -> Result<Resolved, IterateError> {
        let mut answers: Vec<Record> = Vec::new();
        let mut zones: Vec<Name> = Vec::new();
        let mut name = qname.clone();
        loop {
            let step = self.resolve_step(&name, qtype, ctx).await?;
            if !zones.contains(&ctx.last_zone) {
                zones.push(ctx.last_zone.clone());
            }
            match step {
                Step::Done {
                    records,
                    rcode,
                    authority,
                } => {
                    answers.extend(records);
                    return Ok(Resolved {
                        rcode,
                        answers,
                        authority,
                        zones,
                    });
                }
                Step::Follow { records, next } => {
                    if records.is_empty() && next == name {
                        // The zone claimed an answer but gave nothing to
                        // follow (say, an undecodable DNAME): asking again
                        // would only repeat it.
                        return Err(IterateError::Loop(next));
                    }
                    answers.extend(records);
                    let hops = answers
                        .iter()
                        .filter(|r| r.record_type() == RecordType::CNAME)
                        .count();
                    if hops > MAX_CHAIN {
                        return Err(IterateError::ChainTooLong);
                    }
                    if next == *qname || answers.iter().any(|r| r.name == next) {
                        return Err(IterateError::Loop(next));
                    }
                    name = next;
                }
            }
        }
    }

    /// One iteration: closest cut, then referrals until a server of the
    /// name's zone answers.
    async fn resolve_step(
        &self,
        name: &Name,
        qtype: RecordType,
        ctx: &mut Ctx,
    ) -> Result<Step, IterateError> {
        // DS lives in the parent zone: start above the cut at the name.
        let start = if qtype == RecordType::DS && !name.is_root() {
            name.base_name()
        } else {
            name.clone()
        };
        let mut cut = self.cuts.closest(&start, Instant::now());
        let mut minimiser = Minimiser::new(self.qname_minimisation);
        loop {
            if self.failed.is_held(&cut.zone, Instant::now()) {
                return Err(IterateError::Held {
                    zone: cut.zone.clone(),
                });
            }
            // The minimised name to ask about (QTYPE NS), or the question.
            let minimised = minimiser.next(&cut.zone, name);
            let (ask_name, ask_type) = match &minimised {
                Some(child) => (child, RecordType::NS),
                None => (name, qtype),
            };
            let mut attempted: Vec<Name> = Vec::new();
            let mut servers = self.server_addresses(&mut cut, &mut attempted, ctx).await?;
            if !ctx.avoid.is_empty() && servers.iter().all(|a| ctx.avoid.contains(a)) {
                // Every known address gave the bogus answer: find the
                // zone's other servers.
                if let Some(more) = self.untried_addresses(&mut cut, &mut attempted, ctx).await {
                    servers.extend(more);
                }
            }
            let asked = loop {
                match self
                    .ask(
                        &cut.zone,
                        servers,
                        ask_name,
                        ask_type,
                        minimised.is_some(),
                        ctx,
                    )
                    .await
                {
                    Ok(r) => {
                        self.failed.succeeded(&cut.zone);
                        break Some(r);
                    }
                    Err(IterateError::AllFailed {
                        timeouts_only: false,
                        ..
                    }) if minimised.is_some() && !minimiser.strict() => {
                        // Servers broken on minimised names (errors or
                        // nonsense for an empty non-terminal): ask them the
                        // full question instead (relaxed mode).
                        minimiser.give_up();
                        self.count_minimisation_fallback();
                        break None;
                    }
                    Err(e @ IterateError::AllFailed { .. }) => {
                        match self.untried_addresses(&mut cut, &mut attempted, ctx).await {
                            Some(more) => servers = more,
                            None => {
                                self.failed.failed(&cut.zone, Instant::now());
                                return Err(e);
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            let Some((reply, msg)) = asked else {
                continue;
            };
            ctx.last_zone = cut.zone.clone();
            if let Some(child) = minimised {
                match reply {
                    Reply::Referral(zone) => {
                        self.note_referral(&msg, &zone);
                        let now = Instant::now();
                        cut = self.cuts.insert(referral(&msg, &cut.zone, &zone, now), now);
                    }
                    // No cut at `child`: one step deeper, same servers.
                    Reply::Answer | Reply::NoData => minimiser.passed(child),
                    Reply::NxDomain if minimiser.strict() => {
                        // RFC 8020: nothing exists below a name that does
                        // not exist.
                        return Ok(Step::Done {
                            records: Vec::new(),
                            rcode: ResponseCode::NXDomain,
                            authority: negative_authority(&msg, &cut.zone, &child, ctx.dnssec_ok),
                        });
                    }
                    // Relaxed: many servers answer NXDOMAIN for an empty
                    // non-terminal; the full name decides.
                    Reply::NxDomain | Reply::Lame(_) | Reply::Failed(_) => {
                        minimiser.give_up();
                        self.count_minimisation_fallback();
                    }
                }
                continue;
            }
            match reply {
                Reply::Referral(child) => {
                    self.note_referral(&msg, &child);
                    let now = Instant::now();
                    cut = self
                        .cuts
                        .insert(referral(&msg, &cut.zone, &child, now), now);
                }
                Reply::Answer => {
                    return Ok(extract_owned(msg, &cut.zone, name, qtype, ctx.dnssec_ok))
                }
                Reply::NxDomain | Reply::NoData => {
                    return Ok(Step::Done {
                        records: Vec::new(),
                        rcode: msg.metadata.response_code,
                        authority: negative_authority(&msg, &cut.zone, name, ctx.dnssec_ok),
                    })
                }
                // `ask` only returns usable replies.
                Reply::Lame(_) | Reply::Failed(_) => {
                    return Err(IterateError::NoAddress {
                        zone: cut.zone.clone(),
                    })
                }
            }
        }
    }

    /// A minimised question failed and the full name is asked instead.
    fn count_minimisation_fallback(&self) {
        if let Some(m) = &self.metrics {
            m.qname_minimisation_fallbacks.inc();
        }
    }

    /// One exchange with `server`; if it answers FORMERR without an OPT
    /// record it does not speak EDNS (RFC 6891 7): ask once more without
    /// (from the same query budget).
    async fn exchange(
        &self,
        server: SocketAddr,
        query: &Query,
        ctx: &mut Ctx,
        wait: Duration,
    ) -> Result<(Message, bool), ExchangeError> {
        let first = exchange::exchange(
            &self.sockets,
            server,
            query,
            false,
            Some(ctx.dnssec_ok),
            wait,
        )
        .await?;
        let m = &first.0;
        if m.metadata.response_code != ResponseCode::FormErr
            || m.edns.is_some()
            || ctx.queries_left == 0
        {
            return Ok(first);
        }
        ctx.queries_left -= 1;
        exchange::exchange(&self.sockets, server, query, false, None, wait).await
    }

    fn count(&self, outcome: AuthorityOutcome, tcp: bool, rtt: Option<Duration>) {
        if let Some(m) = &self.metrics {
            m.count_authority(outcome, tcp);
            if let Some(rtt) = rtt {
                m.authority_rtt.observe(rtt.as_secs_f64());
            }
        }
    }

    fn socket_addr(&self, ip: IpAddr) -> SocketAddr {
        SocketAddr::new(
            ip,
            self.ports.get(&ip).copied().unwrap_or(self.default_port),
        )
    }

    /// Append the server addresses of `ips` that the address policy
    /// permits, each once.
    fn add_permitted(&self, v: &mut Vec<SocketAddr>, ips: impl IntoIterator<Item = IpAddr>) {
        for ip in ips.into_iter().filter(|ip| self.policy.permits(*ip)) {
            let a = self.socket_addr(ip);
            if !v.contains(&a) {
                v.push(a);
            }
        }
    }

    /// The addresses to ask for `cut`'s zone; resolves the NS names of a
    /// glue-less delegation first (and remembers what it found).
    async fn server_addresses(
        &self,
        cut: &mut Arc<Delegation>,
        attempted: &mut Vec<Name>,
        ctx: &mut Ctx,
    ) -> Result<Vec<SocketAddr>, IterateError> {
        let mut v: Vec<SocketAddr> = Vec::new();
        self.add_permitted(&mut v, cut.addresses());
        if !v.is_empty() {
            return Ok(v);
        }
        self.resolve_unaddressed(cut, attempted, ctx).await
    }

    /// Every address known for `cut` was just asked and failed: resolve
    /// the zone's NS names that have no address yet, one at a time, until
    /// one gives an address not among those. Without this a glue-less zone
    /// stayed unreachable for as long as its cut was cached (up to a day)
    /// once the one NS name resolved first stopped answering, however many
    /// others it had. `None` when no name is left to try.
    async fn untried_addresses(
        &self,
        cut: &mut Arc<Delegation>,
        attempted: &mut Vec<Name>,
        ctx: &mut Ctx,
    ) -> Option<Vec<SocketAddr>> {
        // The cut holds every address asked so far: those it had, and each
        // resolved NS name's, recorded as found. (Any the address policy
        // refused are in it too, never asked; `more` cannot hold them.)
        let tried: Vec<IpAddr> = cut.addresses().collect();
        loop {
            let mut more = self.resolve_unaddressed(cut, attempted, ctx).await.ok()?;
            more.retain(|a| !tried.contains(&a.ip()));
            if !more.is_empty() {
                return Some(more);
            }
        }
    }

    /// Resolve `cut`'s NS names that have no address and are not in
    /// `attempted` (each is added as it is tried), in random order, until
    /// one yields a permitted address. The addresses found are recorded in
    /// `cut`, and in the cut cache while the cut is live.
    async fn resolve_unaddressed(
        &self,
        cut: &mut Arc<Delegation>,
        attempted: &mut Vec<Name>,
        ctx: &mut Ctx,
    ) -> Result<Vec<SocketAddr>, IterateError> {
        let mut v: Vec<SocketAddr> = Vec::new();
        if ctx.depth >= MAX_DEPTH {
            return Err(IterateError::Depth {
                zone: cut.zone.clone(),
            });
        }
        // An NS name inside the zone itself cannot be resolved without the
        // glue we lack; one being resolved further up would loop.
        let mut names: Vec<Name> = cut
            .servers
            .iter()
            .filter(|s| s.addrs.is_empty())
            .map(|s| s.name.clone())
            .filter(|ns| {
                !cut.zone.zone_of(ns) && !ctx.pending_ns.contains(ns) && !attempted.contains(ns)
            })
            .collect();
        shuffle(&mut names);
        let mut last: Option<IterateError> = None;
        for ns in names {
            attempted.push(ns.clone());
            ctx.depth += 1;
            ctx.pending_ns.push(ns.clone());
            let mut addrs: Vec<IpAddr> = Vec::new();
            for t in [RecordType::A, RecordType::AAAA] {
                match self.resolve_boxed(&ns, t, ctx).await {
                    Ok(r) => addrs.extend(r.answers.iter().filter_map(|rec| match &rec.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    })),
                    Err(e) => {
                        let stop = matches!(e, IterateError::Budget(_));
                        last = Some(e);
                        if stop {
                            break;
                        }
                    }
                }
                if !addrs.is_empty() {
                    break;
                }
            }
            ctx.pending_ns.pop();
            ctx.depth -= 1;
            if let Some(IterateError::Budget(n)) = last {
                return Err(IterateError::Budget(n));
            }
            // The parent's glue for the name, if a referral gave some:
            // the child's own answer may differ from it and point at a
            // dead server, or be no answer at all (a bogus referral).
            for ip in self.parent_glue(&ns) {
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
            if addrs.is_empty() {
                continue;
            }
            let now = Instant::now();
            let known = cut.with_addresses(&ns, &addrs);
            *cut = if !cut.zone.is_root() && cut.expires > now {
                self.cuts.insert(known, now)
            } else {
                Arc::new(known)
            };
            self.add_permitted(&mut v, addrs);
            if !v.is_empty() {
                return Ok(v);
            }
        }
        Err(match last {
            Some(IterateError::Depth { .. }) | None => IterateError::NoAddress {
                zone: cut.zone.clone(),
            },
            Some(e) => e,
        })
    }

    /// Addresses a referral gave as glue for the name server `ns`: in
    /// the cached cut of the zone `ns` is in, if that zone lists `ns`
    /// (or of the zone above, when `ns` itself was delegated, bogus
    /// referrals included).
    fn parent_glue(&self, ns: &Name) -> Vec<IpAddr> {
        let now = Instant::now();
        let mut cut = self.cuts.closest(ns, now);
        if cut.zone == *ns && !ns.is_root() {
            cut = self.cuts.closest(&ns.base_name(), now);
        }
        cut.servers
            .iter()
            .filter(|s| s.name == *ns && !cut.zone.is_root())
            .flat_map(|s| s.addrs.iter().copied())
            .collect()
    }

    /// Ask `zone`'s servers, best first, until one gives a usable reply.
    /// `minimised`: the question is a minimised one, whose "no cut here"
    /// replies some servers give in a form otherwise lame.
    async fn ask(
        &self,
        zone: &Name,
        mut servers: Vec<SocketAddr>,
        name: &Name,
        qtype: RecordType,
        minimised: bool,
        ctx: &mut Ctx,
    ) -> Result<(Reply, Message), IterateError> {
        let query = Query::query(name.clone(), qtype);
        if servers.iter().any(|s| !ctx.avoid.contains(s)) {
            servers.retain(|s| !ctx.avoid.contains(s));
        }
        self.stats.order(&mut servers, |s| s.ip(), Instant::now());
        let mut last = String::from("no server tried");
        let mut last_public = last.clone();
        let (mut timeouts, mut others, mut network) = (0usize, 0usize, false);
        for round in 0..ROUNDS {
            let mut timed_out: Vec<SocketAddr> = Vec::new();
            for &server in &servers {
                if ctx.queries_left == 0 {
                    return Err(IterateError::Budget(self.max_queries));
                }
                ctx.queries_left -= 1;
                let sent = Instant::now();
                let wait = self.stats.timeout_for(server.ip(), sent);
                match self.exchange(server, &query, ctx, wait).await {
                    Ok((msg, tcp)) => {
                        let now = Instant::now();
                        let rtt = now.saturating_duration_since(sent);
                        let mut reply = classify(&msg, zone, name, qtype);
                        if minimised {
                            reply = minimise::reclassify(reply, &msg, zone);
                        }
                        self.count(outcome_of(&reply), tcp, Some(rtt));
                        match reply {
                            Reply::Lame(why) => {
                                self.stats.failed(server.ip(), now);
                                others += 1;
                                last = format!("{server}: lame: {why}");
                                last_public = format!("lame: {why}");
                            }
                            Reply::Failed(rcode) => {
                                self.stats.failed(server.ip(), now);
                                others += 1;
                                last = format!("{server}: {rcode}");
                                last_public = rcode.to_string();
                            }
                            usable => {
                                self.stats.answered(server.ip(), rtt, now);
                                if self.validator.is_some() && !ctx.answered.contains(&server) {
                                    ctx.answered.push(server);
                                }
                                return Ok((usable, msg));
                            }
                        }
                    }
                    Err(e @ ExchangeError::Encode(_)) => return Err(IterateError::Encode(e)),
                    Err(e) => {
                        self.stats.failed(server.ip(), Instant::now());
                        if matches!(e, ExchangeError::Timeout { .. }) {
                            self.count(AuthorityOutcome::Timeout, false, None);
                            timeouts += 1;
                            timed_out.push(server);
                        } else {
                            self.count(AuthorityOutcome::Network, false, None);
                            others += 1;
                            network |= matches!(e, ExchangeError::Io { .. });
                        }
                        last = e.to_string();
                        last_public = e.public_text();
                    }
                }
            }
            if timed_out.is_empty() || round + 1 == ROUNDS {
                break;
            }
            servers = timed_out;
        }
        Err(IterateError::AllFailed {
            zone: zone.clone(),
            last,
            last_public,
            timeouts_only: timeouts > 0 && others == 0,
            network,
        })
    }
}

fn outcome_of(reply: &Reply) -> AuthorityOutcome {
    match reply {
        Reply::Answer => AuthorityOutcome::Answer,
        Reply::Referral(_) => AuthorityOutcome::Referral,
        Reply::NxDomain | Reply::NoData => AuthorityOutcome::Negative,
        Reply::Lame(_) => AuthorityOutcome::Lame,
        Reply::Failed(_) => AuthorityOutcome::Rcode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    #[test]
    fn public_text_names_zones_never_servers() {
        let addr: SocketAddr = "192.0.2.53:53".parse().expect("addr");
        let all_failed = IterateError::AllFailed {
            zone: n("example.zz."),
            last: format!("{addr}: lame: no"),
            last_public: "lame: no".into(),
            timeouts_only: false,
            network: false,
        };
        assert!(
            all_failed.to_string().contains("192.0.2.53"),
            "logs keep it"
        );
        assert_eq!(
            all_failed.public_text(),
            "no server of example.zz. gave a usable answer (lame: no)"
        );
        let unreachable = IterateError::AllFailed {
            zone: n("example.zz."),
            last: format!("{addr}: Connection refused"),
            last_public: "connection refused".into(),
            timeouts_only: false,
            network: true,
        };
        let e = ResolveError::from(unreachable);
        assert_eq!(e.ede_code(), crate::wire::ede::EDE_NETWORK_ERROR);
        assert!(e.to_string().contains("192.0.2.53"));
        assert_eq!(
            e.public_text(),
            "no server of example.zz. gave a usable answer (connection refused)"
        );
    }
}
