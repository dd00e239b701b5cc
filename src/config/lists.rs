//! The `[[lists]]` section: one entry per list, its kind, action and mode,
//! its dates (`effective_from`, `expires_at`) and, for an RPZ zone
//! secondary, `[lists.transfer]`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// List file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Sniff the file's first significant lines.
    #[default]
    Auto,
    /// One name per line, `#` comments, `*.name` for "below name only".
    Domains,
    /// `0.0.0.0 name [name...]` hosts-file lines.
    Hosts,
    /// Adblock/AdGuard DNS syntax: `||name^`, `@@||name^`, `!` comments.
    Adblock,
    /// URLs or host/path lines as legal orders list them.
    Urls,
    /// A Response Policy Zone master file.
    Rpz,
}

impl Format {
    /// Every concrete format (for fuzzing and docs).
    pub const ALL: [Format; 5] = [
        Format::Domains,
        Format::Hosts,
        Format::Adblock,
        Format::Urls,
        Format::Rpz,
    ];
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Format::Auto),
            "domains" => Ok(Format::Domains),
            "hosts" => Ok(Format::Hosts),
            "adblock" => Ok(Format::Adblock),
            "urls" => Ok(Format::Urls),
            "rpz" => Ok(Format::Rpz),
            _ => Err(format!(
                "unknown format `{s}` (auto, domains, hosts, adblock, urls, rpz)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Domains => "domains",
            Format::Hosts => "hosts",
            Format::Adblock => "adblock",
            Format::Urls => "urls",
            Format::Rpz => "rpz",
        })
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
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
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
