//! Wiring: build every stage from a validated config, load the lists,
//! bind the listeners, start the background tasks, and stop them again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;
use tracing::info;

use crate::blockpage::{self, BlockPage};
use crate::config::diff::{self, Changes};
use crate::config::AclConfig;
use crate::config::{Config, ResolverMode};
use crate::http::{self, OpsState};
use crate::metrics::Metrics;
use crate::pipeline::acl::Acl;
use crate::pipeline::ratelimit::RateLimiter;
use crate::pipeline::Handler;
use crate::policy::feed;
use crate::policy::store::{PolicyStore, ReloadRequest};
use crate::policy::watch::{self as listwatch, ListWatcher};
use crate::querylog::QueryLog;
use crate::resolve::cache::AnswerCache;
use crate::resolve::forward::Forwarder;
use crate::resolve::iterate::{Iterative, RecursiveSettings};
use crate::resolve::prefetch::Spawner;
use crate::resolve::validate::Validator;
use crate::resolve::{roothints, Upstream};
use crate::server;
use crate::server::conntrack::{ConnLimits, ConnMetrics, ConnTracker};
use crate::sinkhole::Sinkhole;
use crate::validate::Validated;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Metrics registry failure (a bug).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// Root hints unusable.
    #[error(transparent)]
    Hints(#[from] roothints::HintsError),
    /// Some lists failed their first load.
    #[error("lists failed to load:\n{}", .0.join("\n"))]
    Lists(Vec<String>),
    /// A listener could not bind.
    #[error(transparent)]
    Bind(#[from] server::BindError),
    /// A block-page listener could not bind.
    #[error("cannot listen on {addr} (blockpage): {source}")]
    BlockPageBind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The metrics listener could not bind.
    #[error("cannot listen on {addr} (metrics)")]
    MetricsBind {
        /// The address.
        addr: SocketAddr,
        /// The OS error: the `source()`, left out of the message so a
        /// chain printer (`{:#}`) shows it once.
        source: std::io::Error,
    },
    /// List watching could not start.
    #[error(transparent)]
    Watch(#[from] listwatch::WatchError),
    /// ACL or rate-limit settings unusable.
    #[error("access control: {0}")]
    Access(String),
    /// The dnstap writer thread could not start.
    #[error("dnstap.socket {}: cannot start the writer", path.display())]
    Dnstap {
        /// The socket path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The query log file could not be opened.
    #[error("querylog.path {}", path.display())]
    QueryLog {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A started server.
pub struct Running {
    /// DNS addresses actually bound (UDP and TCP share each).
    pub dns: Vec<SocketAddr>,
    /// Metrics address actually bound.
    pub metrics_addr: Option<SocketAddr>,
    /// Block-page addresses actually bound (empty when off).
    pub blockpage: Vec<SocketAddr>,
    /// The policy store.
    pub store: Arc<PolicyStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    hup: Arc<Notify>,
    /// The configuration in force (for reload diffs).
    config: std::sync::Mutex<Config>,
    ops: Arc<OpsState>,
    handler: Arc<Handler>,
    page: Option<Arc<BlockPage>>,
    shutdown_delay: Duration,
    drain: Duration,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _watcher: Option<ListWatcher>,
    transfers: Arc<crate::transfer::Transfers>,
}

impl Running {
    /// Woken when `POST /admin/reload` asks for the configuration file to
    /// be re-read (the caller owns the file's path; see
    /// [`Running::reload_config`]).
    pub fn config_reread(&self) -> Arc<tokio::sync::Notify> {
        self.ops.config_reread.clone()
    }

    /// Re-read every list now (what SIGHUP does).
    pub fn reload_all(&self) {
        self.hup.notify_one();
        // logrotate moved the query log: write to a new file at its path.
        if let Some(q) = &self.handler.querylog {
            q.reopen();
        }
    }

    /// Apply the parts of a re-read config that can change without a
    /// restart: ACL, rate limits and policy groups (SIGHUP). Lists, listeners and the
    /// resolver need a restart.
    ///
    /// Every change is logged, one line per key ("acl.allow: 2 -> 3
    /// networks (+198.51.100.0/24)"), at info when applied and at warn
    /// when it waits for a restart, and returned for callers and tests.
    pub fn reload_config(&self, cfg: &Validated) -> Result<Changes, StartError> {
        let (acl, limiter, exempt) = access_stages(cfg)?;
        // Groups are compiled against the running lists (a list added to
        // the file serves only after a restart); if they do not fit, the
        // serving groups stay and every problem is logged with its key.
        let groups = crate::policy::Groups::build(&cfg.config.groups, &self.store.list_names());
        let mut running = self
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut changes = diff::changes(&running, &cfg.config);
        // Transfers follow their `[lists.transfer]` at once; the diff's
        // lines for those keys move to "applied".
        let repointed = self.transfers.repoint(&cfg.lists, &self.handler.notify);
        if !repointed.is_empty() {
            let keys: Vec<String> = repointed
                .iter()
                .filter(|r| r.what == crate::transfer::Repoint::Repointed)
                .map(|r| r.key())
                .collect();
            let is_transfer = |l: &String| keys.iter().any(|k| l.starts_with(k.as_str()));
            let (moved, kept): (Vec<_>, Vec<_>) =
                changes.need_restart.drain(..).partition(is_transfer);
            changes.need_restart = kept;
            changes.applied.extend(moved);
            for r in repointed {
                if r.applied() {
                    changes.applied.push(r.line());
                } else {
                    changes.need_restart.push(r.line());
                }
            }
        }
        self.handler.acl.store(Arc::new(acl));
        self.handler.limiter.store(Arc::new(limiter));
        self.handler.limiter_exempt.store(Arc::new(exempt));
        // The page's texts and template are live; a template that fails
        // to render never got here (validation refused the config).
        if let (Some(bp), Some(p)) = (&self.page, &cfg.blockpage) {
            bp.set_page(p.page.clone());
            running.blockpage.authority_url = cfg.config.blockpage.authority_url.clone();
            running.blockpage.appeal = cfg.config.blockpage.appeal.clone();
            running.blockpage.template = cfg.config.blockpage.template.clone();
        }
        // Only the live sections are now in force; keep the others as
        // running, so the next reload still reports them as pending.
        running.acl = cfg.config.acl.clone();
        running.ratelimit = cfg.config.ratelimit.clone();
        match groups {
            Ok(g) => {
                self.store.set_groups(g);
                running.groups = cfg.config.groups.clone();
            }
            Err(problems) => {
                for p in problems {
                    tracing::error!("groups not reloaded, keeping the serving ones: {p}");
                }
            }
        }
        if running.groups != cfg.config.groups {
            let (g, rest): (Vec<_>, Vec<_>) = changes
                .applied
                .into_iter()
                .partition(|c| c.starts_with("groups"));
            changes.applied = rest;
            changes.need_restart.extend(g);
        }
        apply_negative_anchors(&self.handler, cfg.dnssec.negative.clone());
        running.dnssec.negative_trust_anchors = cfg.config.dnssec.negative_trust_anchors.clone();
        if changes.is_empty() {
            info!("config re-read: no changes");
        }
        for c in &changes.applied {
            info!("config reloaded: {c}");
        }
        for c in &changes.need_restart {
            tracing::warn!("config changed, not applied until restart: {c}");
        }
        Ok(changes)
    }

    /// Queries being answered right now.
    pub fn inflight(&self) -> usize {
        self.handler.inflight.load(Ordering::Relaxed)
    }

    /// Graceful stop with the configured delays: `/readyz` turns false,
    /// after `server.shutdown_delay_ms` the listeners close, then in-flight
    /// queries get up to `server.drain_secs` to finish.
    pub async fn shutdown_gracefully(self) {
        let (delay, drain) = (self.shutdown_delay, self.drain);
        self.ops.serving.store(false, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        self.shutdown(drain).await;
    }

    /// Stop now: report not-ready, close listeners, give in-flight queries
    /// up to `drain` to finish.
    pub async fn shutdown(self, drain: Duration) {
        self.ops.serving.store(false, Ordering::Relaxed);
        let _ = self.stop.send(true);
        let deadline = Instant::now() + drain;
        for t in self.tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, t).await.is_err() {
                break;
            }
        }
        while self.handler.inflight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = self.handler.inflight.load(Ordering::Relaxed);
        if left > 0 {
            tracing::warn!(
                queries = left,
                "drain time over; abandoning in-flight queries"
            );
        }
    }
}

/// The trust points of the configured anchors (RFC 5011 state read from
/// `dnssec.state_dir` when set, which wins over the config), put in force
/// in the validator; with a state directory, the probe task that follows
/// rollovers.
fn trust_points(cfg: &Validated, handler: &Arc<Handler>) -> Option<JoinHandle<()>> {
    use crate::dnssec::rfc5011::{Rfc5011, Timers};
    let v = handler.upstream.validator()?.clone();
    let (rfc, errors) = Rfc5011::new(
        &cfg.dnssec.anchors,
        cfg.dnssec.state_dir.as_deref(),
        Timers::default(),
    );
    for e in errors {
        tracing::error!("dnssec.state_dir: {e}; using the configured anchors for that zone");
    }
    crate::resolve::rollover::publish(&rfc, &v);
    if !rfc.tracking() {
        return None;
    }
    let h = Arc::downgrade(handler);
    Some(tokio::spawn(crate::resolve::rollover::run(
        rfc,
        v,
        move |q| {
            let h = h.clone();
            async move {
                let Some(h) = h.upgrade() else {
                    return Err(crate::resolve::ResolveError::network(
                        "shutting down",
                        "shutting down",
                    ));
                };
                h.upstream.resolve(&q, true, h.resolve_timeout).await
            }
        },
    )))
}

/// The `POST /admin/reload` hook that re-reads the negative trust
/// anchors from the config file (the rest of the file waits for SIGHUP or
/// a restart). A file that no longer validates changes nothing.
fn negative_anchor_reload(
    handler: &Arc<Handler>,
    source: Option<std::path::PathBuf>,
) -> Option<Arc<dyn Fn() + Send + Sync>> {
    let path = source?;
    handler.upstream.validator()?;
    let handler = Arc::downgrade(handler);
    Some(Arc::new(move || {
        let Some(h) = handler.upgrade() else {
            return;
        };
        match Config::load(&path) {
            Ok(cfg) => apply_negative_anchors(&h, cfg.dnssec.negative),
            Err(e) => tracing::error!("negative trust anchors not reloaded: {e}"),
        }
    }))
}

/// Put `zones` in force as the negative trust anchors; a change drops the
/// bogus answers cached, so names under a new anchor resolve at once.
fn apply_negative_anchors(h: &Handler, zones: Vec<hickory_proto::rr::Name>) {
    let Some(v) = h.upstream.validator() else {
        return;
    };
    if v.negative() == zones {
        return;
    }
    info!(
        "dnssec.negative_trust_anchors: {} zone(s) now in force",
        zones.len()
    );
    v.set_negative(zones);
    h.cache.drop_bogus();
}

fn build_upstream(cfg: &Validated, metrics: &Arc<Metrics>) -> Result<Upstream, StartError> {
    let r = &cfg.config.resolver;
    Ok(match r.mode {
        ResolverMode::Forward => Upstream::forward(
            Forwarder::new(
                cfg.upstreams.clone(),
                Duration::from_millis(r.upstream_timeout_ms),
            )
            .with_validator(
                Validator::new(&cfg.dnssec, &cfg.config.dnssec, Some(metrics.clone()))
                    .map(Arc::new),
            ),
        ),
        ResolverMode::Recursive => {
            let (roots, ports): (Vec<IpAddr>, HashMap<IpAddr, u16>) =
                if !cfg.root_servers.is_empty() {
                    (
                        cfg.root_servers.iter().map(|s| s.ip()).collect(),
                        cfg.root_servers
                            .iter()
                            .map(|s| (s.ip(), s.port()))
                            .collect(),
                    )
                } else if let Some(p) = &cfg.root_hints {
                    (roothints::read_hints(p)?, HashMap::new())
                } else {
                    (roothints::IANA_ROOTS.to_vec(), HashMap::new())
                };
            let default_port = r.authority_port.unwrap_or_else(|| {
                let mut it = cfg.root_servers.iter().map(|s| s.port());
                match it.next() {
                    Some(p) if it.all(|q| q == p) => p,
                    _ => 53,
                }
            });
            Upstream::recursive(Iterative::new(RecursiveSettings {
                roots,
                ports,
                default_port,
                allow: cfg.authority_allow.clone(),
                max_queries: r.max_upstream_queries,
                delegation_cache_size: r.delegation_cache_size,
                socket_reuse: r.socket_reuse,
                metrics: Some(metrics.clone()),
                qname_minimisation: r.qname_minimisation,
                validator: Validator::new(&cfg.dnssec, &cfg.config.dnssec, Some(metrics.clone()))
                    .map(Arc::new),
            }))
        }
    })
}

/// The access-control stages of a config: ACL, rate limiter and the
/// rate-limit exemptions (validated already; errors here are bugs).
fn access_stages(cfg: &Validated) -> Result<(Acl, RateLimiter, Acl), StartError> {
    let c = &cfg.config;
    let join = |p: Vec<crate::config::Problem>| {
        StartError::Access(
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    let acl = Acl::new(&c.acl).map_err(join)?;
    let limiter = RateLimiter::new(&c.ratelimit).map_err(join)?;
    let exempt = Acl::new(&AclConfig {
        allow: c.ratelimit.exempt.clone(),
        deny: Vec::new(),
    })
    .map_err(join)?;
    Ok((acl, limiter, exempt))
}

/// Build everything and start serving.
pub async fn start(cfg: Validated) -> Result<Running, StartError> {
    let metrics = Arc::new(Metrics::new()?);
    let store = Arc::new(PolicyStore::new(
        cfg.lists.clone(),
        metrics.clone(),
        cfg.audit_log.clone(),
    ));
    store.set_groups(cfg.groups.clone());
    {
        let s = store.clone();
        let out = tokio::task::spawn_blocking(move || {
            s.reload(ReloadRequest {
                reread: true,
                force: false,
            })
        })
        .await
        .map_err(|e| StartError::Lists(vec![e.to_string()]))?;
        // A feed without a cached version yet waits for its first fetch
        // instead of stopping the server.
        let failed: Vec<_> = out
            .failed()
            .into_iter()
            .filter(|o| {
                !cfg.lists
                    .iter()
                    .any(|l| l.name == o.list && l.url.is_some() && !l.path.exists())
            })
            .collect();
        if !failed.is_empty() {
            return Err(StartError::Lists(
                failed
                    .into_iter()
                    .map(|o| format!("  {}: {}", o.list, o.error.as_deref().unwrap_or("")))
                    .collect(),
            ));
        }
    }
    // Built before anything binds, so a bad `ca_file` stops the start
    // cleanly; the tasks start once the server is up.
    let mut feeds = Vec::new();
    for (i, l) in cfg.lists.iter().enumerate() {
        if let Some(f) = feed::Feed::new(i, l)
            .map_err(|e| StartError::Lists(vec![format!("  {}: {e}", l.name)]))?
        {
            feeds.push(f);
        }
    }
    let (acl, limiter, exempt) = access_stages(&cfg)?;
    let querylog = match &cfg.querylog {
        Some(path) => Some(
            QueryLog::start(&cfg.config.querylog, path.clone(), metrics.querylog.clone()).map_err(
                |source| StartError::QueryLog {
                    path: path.clone(),
                    source,
                },
            )?,
        ),
        None => None,
    };
    let secondaries = crate::transfer::secondaries(&cfg.lists);
    let prefetch = cfg.config.cache.prefetch;
    let runtime = tokio::runtime::Handle::current();
    let upstream = build_upstream(&cfg, &metrics)?;
    let dnstap = match &cfg.dnstap {
        Some(path) => Some(
            crate::dnstap::Dnstap::start(&cfg.config.dnstap, path.clone(), metrics.dnstap.clone())
                .map_err(|source| StartError::Dnstap {
                    path: path.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let chained = cfg
        .blockpage
        .as_ref()
        .map(|_| Arc::new(crate::policy::chained::ChainMemo::default()));
    let handler = Arc::new_cyclic(|me| Handler {
        policy: store.clone(),
        cache: AnswerCache::new(cfg.config.cache.clone())
            .with_bogus_ttl(cfg.config.dnssec.bogus_ttl_secs),
        upstream,
        sinkhole: Sinkhole::new(&cfg.config.sinkhole),
        metrics: metrics.clone(),
        max_udp_payload: cfg.config.server.max_udp_payload,
        resolve_timeout: cfg.resolve_timeout(),
        log_blocked: cfg.config.logging.blocked_queries,
        blocked_log_cap: crate::logcap::LineCap::new(
            cfg.config.logging.blocked_queries_max_per_sec,
            metrics.log_suppressed.with_label_values(&["blocked"]),
            Instant::now(),
        ),
        querylog,
        acl: ArcSwap::from_pointee(acl),
        limiter: ArcSwap::from_pointee(limiter),
        limiter_exempt: ArcSwap::from_pointee(exempt),
        resolve_slots: Semaphore::new(cfg.config.resolver.max_inflight),
        inflight: AtomicUsize::new(0),
        prefetch: prefetch.then(|| Spawner::new(me.clone(), runtime)),
        notify: crate::transfer::NotifyRouter::new(secondaries.clone()),
        chained: chained.clone(),
        dnstap,
    });

    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut dns = Vec::new();
    let idle = Duration::from_secs(cfg.config.server.tcp_idle_timeout_secs);
    // One connection table for every TCP listener: the limits bound the
    // process's connections (file descriptors), not each address's.
    let tcp_conns = ConnTracker::new(
        ConnLimits {
            max_connections: cfg.config.server.tcp_max_connections,
            max_per_client: cfg.config.server.tcp_max_per_client,
            idle,
        },
        ConnMetrics::new(&metrics, "tcp"),
    );
    // One UDP socket per core, sharing the port (SO_REUSEPORT).
    let sockets = std::thread::available_parallelism().map_or(2, |n| n.get());
    for addr in &cfg.listen {
        let (udp, tcp) = server::bind_pair(*addr, sockets).await?;
        let bound = tcp.local_addr().map_err(|source| server::BindError {
            addr: *addr,
            source,
        })?;
        dns.push(bound);
        for sock in udp {
            let task =
                server::spawn_udp(sock, handler.clone(), stop_rx.clone()).map_err(|source| {
                    server::BindError {
                        addr: *addr,
                        source,
                    }
                })?;
            tasks.push(task);
        }
        tasks.push(tokio::spawn(server::serve_tcp(
            tcp,
            handler.clone(),
            tcp_conns.clone(),
            stop_rx.clone(),
        )));
    }

    let ops = Arc::new(OpsState {
        metrics: metrics.clone(),
        store: store.clone(),
        serving: true.into(),
        admin_token_file: cfg.admin_token_file.clone(),
        config_reread: Arc::new(tokio::sync::Notify::new()),
        on_reload: negative_anchor_reload(&handler, cfg.source.clone()),
    });
    let metrics_addr = match cfg.metrics_listen {
        Some(addr) => {
            let l = http::bind(addr)
                .await
                .map_err(|source| StartError::MetricsBind { addr, source })?;
            let bound = l.local_addr().ok();
            tasks.push(tokio::spawn(http::serve(l, ops.clone(), stop_rx.clone())));
            bound
        }
        None => None,
    };

    let mut page_addrs = Vec::new();
    let page = match &cfg.blockpage {
        Some(p) => {
            let memo = chained.clone().unwrap_or_default();
            let bp = Arc::new(BlockPage::new(p, store.clone(), memo, &metrics)?);
            for addr in &p.listen {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::BlockPageBind {
                        addr: *addr,
                        source,
                    })?;
                page_addrs.push(l.local_addr().unwrap_or(*addr));
                tasks.push(tokio::spawn(blockpage::serve(
                    l,
                    bp.clone(),
                    stop_rx.clone(),
                )));
            }
            Some(bp)
        }
        None => None,
    };

    let changed = Arc::new(Notify::new());
    let hup = Arc::new(Notify::new());
    // Transferred lists are written by their own task, not watched.
    let paths: Vec<_> = cfg
        .lists
        .iter()
        .filter(|l| l.transfer.is_none())
        .map(|l| l.path.clone())
        .collect();
    let watcher = if cfg.config.reload.watch && !paths.is_empty() {
        Some(listwatch::watch(&paths, changed.clone())?)
    } else {
        None
    };
    // Background tasks that never finish on their own are aborted at
    // shutdown rather than awaited.
    let reloader = tokio::spawn(listwatch::run_reloader(
        store.clone(),
        changed,
        hup.clone(),
        Duration::from_millis(cfg.config.reload.settle_ms),
    ));
    let sweeper = {
        let h = handler.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                h.cache.sweep(Instant::now());
                h.metrics.cache_entries.set(h.cache.len() as i64);
            }
        })
    };
    let feeds: Vec<_> = feeds
        .into_iter()
        .map(|f| tokio::spawn(feed::run(f, store.clone(), metrics.clone())))
        .collect();
    // Dated lists: once a second, republish if a window opened or closed
    // (the query path never reads a clock for dates). Only when some list
    // has a date.
    let scheduler = store.has_dates().then(|| {
        let s = store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = s.clone();
                let _ =
                    tokio::task::spawn_blocking(move || s.tick(crate::policy::store::unix_secs()))
                        .await;
            }
        })
    });
    let transfers = Arc::new(crate::transfer::Transfers::start(
        &secondaries,
        store.clone(),
        metrics.clone(),
    ));
    let rollover = trust_points(&cfg, &handler);
    let mut stop_bg = stop_rx.clone();
    let bg_transfers = transfers.clone();
    tasks.push(tokio::spawn(async move {
        let _ = stop_bg.changed().await;
        if let Some(r) = rollover {
            r.abort();
        }
        reloader.abort();
        sweeper.abort();
        for f in feeds {
            f.abort();
        }
        if let Some(s) = scheduler {
            s.abort();
        }
        bg_transfers.abort_all();
    }));

    if cfg.lists.is_empty() {
        // Allowed (a resolver before its first court order), but never
        // silently: readiness stays true, so only the log can tell.
        tracing::warn!("no lists configured: nothing will be blocked");
    }
    info!(
        dns = ?dns,
        metrics = ?metrics_addr,
        blockpage = ?page_addrs,
        lists = cfg.lists.len(),
        entries = store.load().entries(),
        mode = ?cfg.config.resolver.mode,
        "dnsward serving"
    );
    Ok(Running {
        dns,
        metrics_addr,
        blockpage: page_addrs,
        store,
        metrics,
        hup,
        config: std::sync::Mutex::new(cfg.config.clone()),
        ops,
        handler,
        page,
        shutdown_delay: Duration::from_millis(cfg.config.server.shutdown_delay_ms),
        drain: Duration::from_secs(cfg.config.server.drain_secs),
        stop,
        tasks,
        _watcher: watcher,
        transfers,
    })
}
