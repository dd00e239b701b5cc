//! Loading a config file and checking every value, one function per
//! section, each naming the key of every problem it finds;
//! [`Config::validate`] runs them in file order and fails once with all of
//! them.
//!
//! This sits above the stages, not inside [`crate::config`]: the checks
//! use the stages' own parsers (`Acl::new`, `AddressPolicy`, `read_hints`,
//! `normalize_name`, `read_admin_token`, `blockpage::prepare`,
//! `TsigKey::load`), so `check-config` and start-up can never disagree,
//! while the section types stay a leaf every stage can import.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use std::time::Duration;

use crate::config::collect;
use crate::config::{
    parse_addr, parse_rfc3339, AclConfig, Action, Config, ConfigError, Format, ListConfig,
    ListKind, Problem, ResolverMode, Window, BUILTIN_LIST_PATTERNS, DEFAULT_LIST_DIR,
};
use crate::resolve::servers::AddressPolicy;

pub mod dnssec;
pub use dnssec::DnssecSettings;

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
    /// `[dnssec]`: trust anchors parsed, negative trust anchors as names.
    pub dnssec: DnssecSettings,
    /// The directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The file it was read from (None for the built-in config): what
    /// `POST /admin/reload` re-reads the negative trust anchors from.
    pub source: Option<PathBuf>,
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
        if !c.dnssec.trust_anchor_file.is_empty() {
            c.dnssec.trust_anchor_file = abs(&self.base_dir.join(&c.dnssec.trust_anchor_file))
                .display()
                .to_string();
        }
        if let Some(p) = &self.dnssec.state_dir {
            c.dnssec.state_dir = abs(p).display().to_string();
        }
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
            Some(c) if problems.is_empty() => {
                return c.validate(path, base).map(|mut v| {
                    v.source = Some(path.to_path_buf());
                    v
                })
            }
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

impl Config {
    /// Check every value, collecting all problems before failing.
    pub fn validate(self, path: &Path, base: &Path) -> Result<Validated, ConfigError> {
        let mut problems = Vec::new();
        let listen = server(&self, &mut problems);
        access(&self, &mut problems);
        let Resolver {
            root_servers,
            upstreams,
            authority_allow,
            root_hints,
        } = resolver(&self, base, &mut problems);
        let (audit_log, querylog) = files(&self, base, &mut problems);
        let lists = lists(&self, base, &mut problems);
        let metrics_listen = metrics(&self, &mut problems);
        let admin_token_file = admin_token(&self, base, metrics_listen, &mut problems);
        let blockpage = crate::blockpage::prepare(&self.blockpage, base, &mut problems);
        let dnssec = dnssec::dnssec(&self, base, &mut problems);

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
            dnssec,
            base_dir: base.to_path_buf(),
            source: None,
        })
    }
}

/// The parsed `resolver.*` values [`Validated`] keeps.
struct Resolver {
    root_servers: Vec<SocketAddr>,
    upstreams: Vec<SocketAddr>,
    authority_allow: Vec<IpNet>,
    root_hints: Option<PathBuf>,
}

/// `server.*`, and the counts that must be at least 1.
fn server(c: &Config, problems: &mut Vec<Problem>) -> Vec<SocketAddr> {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    let mut listen = Vec::new();
    if c.server.listen.is_empty() {
        bad(
            "server.listen".into(),
            "at least one address is needed".into(),
        );
    }
    for (i, s) in c.server.listen.iter().enumerate() {
        match parse_addr(s, 53) {
            Ok(a) => listen.push(a),
            Err(e) => bad(format!("server.listen[{i}]"), e),
        }
    }
    if c.server.max_udp_payload < 512 {
        bad(
            "server.max_udp_payload".into(),
            "must be at least 512 (RFC 1035)".into(),
        );
    }
    if c.server.tcp_idle_timeout_secs == 0 {
        bad(
            "server.tcp_idle_timeout_secs".into(),
            "must be at least 1".into(),
        );
    }

    for (key, v) in [
        ("server.tcp_max_connections", c.server.tcp_max_connections),
        ("server.tcp_max_per_client", c.server.tcp_max_per_client),
        ("resolver.max_inflight", c.resolver.max_inflight),
        (
            "resolver.delegation_cache_size",
            c.resolver.delegation_cache_size,
        ),
    ] {
        if v == 0 {
            bad(key.into(), "must be at least 1".into());
        }
    }
    listen
}

/// `acl.*`, `ratelimit.*` (its `exempt` entries are checked as ACL entries).
fn access(c: &Config, problems: &mut Vec<Problem>) {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    for p in c.acl.validate().into_iter().chain(c.ratelimit.validate()) {
        bad(p.key, p.reason);
    }
    let exempt = AclConfig {
        allow: c.ratelimit.exempt.clone(),
        deny: Vec::new(),
    };
    for p in exempt.validate() {
        bad(p.key.replace("acl.allow", "ratelimit.exempt"), p.reason);
    }
}

/// `resolver.*`: addresses, limits, hints, and root servers the address policy would never query.
fn resolver(c: &Config, base: &Path, problems: &mut Vec<Problem>) -> Resolver {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    let mut root_servers = Vec::new();
    for (i, s) in c.resolver.root_servers.iter().enumerate() {
        match parse_addr(s, 53) {
            Ok(a) => root_servers.push(a),
            Err(e) => bad(format!("resolver.root_servers[{i}]"), e),
        }
    }
    let mut upstreams = Vec::new();
    for (i, s) in c.resolver.upstreams.iter().enumerate() {
        match parse_addr(s, 53) {
            Ok(a) => upstreams.push(a),
            Err(e) => bad(format!("resolver.upstreams[{i}]"), e),
        }
    }
    let mut authority_allow = Vec::new();
    for (i, s) in c.resolver.authority_allow.iter().enumerate() {
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
    if c.resolver.mode == ResolverMode::Recursive {
        // The iterator never queries a default-denied address: a root
        // server there would make every query SERVFAIL with nothing
        // in the log saying why.
        let policy = AddressPolicy::new(authority_allow.clone());
        let hints = match &c.resolver.root_hints {
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
        let servers = c
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
    if c.resolver.mode == ResolverMode::Forward && c.resolver.upstreams.is_empty() {
        bad(
            "resolver.upstreams".into(),
            "forward mode needs at least one upstream".into(),
        );
    }
    if !(1..=200).contains(&c.resolver.max_upstream_queries) {
        bad(
            "resolver.max_upstream_queries".into(),
            "must be between 1 and 200".into(),
        );
    }
    if !(1..=1000).contains(&c.resolver.socket_reuse) {
        bad(
            "resolver.socket_reuse".into(),
            "must be between 1 and 1000".into(),
        );
    }
    if c.resolver.timeout_ms == 0 {
        bad("resolver.timeout_ms".into(), "must be at least 1".into());
    }
    if c.resolver.upstream_timeout_ms == 0 {
        bad(
            "resolver.upstream_timeout_ms".into(),
            "must be at least 1".into(),
        );
    }
    let root_hints = c.resolver.root_hints.as_ref().map(|p| base.join(p));
    if let Some(p) = &root_hints {
        if !p.is_file() {
            bad(
                "resolver.root_hints".into(),
                format!("{}: no such file", p.display()),
            );
        }
    }
    Resolver {
        root_servers,
        upstreams,
        authority_allow,
        root_hints,
    }
}

/// `audit.log`, `querylog.*` and `cache.*`; the audit and query log paths resolved.
fn files(
    c: &Config,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    let audit_log = c.audit.log.as_ref().map(|p| base.join(p));
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
    let querylog = c.querylog.path.as_ref().map(|p| base.join(p));
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
    let q = &c.querylog;
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
    if c.cache.min_ttl_secs > c.cache.max_ttl_secs {
        bad(
            "cache.min_ttl_secs".into(),
            "must not exceed cache.max_ttl_secs".into(),
        );
    }
    (audit_log, querylog)
}

/// `[[lists]]`, with paths resolved against `base`.
fn lists(c: &Config, base: &Path, problems: &mut Vec<Problem>) -> Vec<ListConfig> {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    let mut lists = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, l) in c.lists.iter().enumerate() {
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
        l.authority_url = Some(c.blockpage.authority_url.clone()).filter(|u| !u.is_empty());
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
    lists
}

/// `metrics.listen`.
fn metrics(c: &Config, problems: &mut Vec<Problem>) -> Option<SocketAddr> {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    if c.metrics.listen.is_empty() {
        None
    } else {
        match parse_addr(&c.metrics.listen, 9153) {
            Ok(a) => Some(a),
            Err(e) => {
                bad("metrics.listen".into(), e);
                None
            }
        }
    }
}

/// `metrics.admin_token_file`: readable when set, required when the
/// metrics listener is not on loopback.
fn admin_token(
    c: &Config,
    base: &Path,
    metrics_listen: Option<SocketAddr>,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    let admin_token_file = c.metrics.admin_token_file.as_ref().map(|p| base.join(p));
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
    admin_token_file
}

#[cfg(test)]
mod tests;
