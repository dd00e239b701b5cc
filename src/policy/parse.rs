//! List file parsers: turn the text operators receive into normalised names.
//!
//! Formats: `domains`, `hosts`, `adblock`, `urls` and `rpz` (see
//! [`Format`]). Parsing never stops at a bad line: each one is recorded as
//! `file:line: reason` and counted, so an operator sees exactly what was
//! dropped and every line of the file is accounted for (a line is an entry
//! line, a comment/blank line, a skipped placeholder, or rejected). Rules
//! dnsward cannot honour exactly (adblock rules with a path or a narrowing
//! modifier, RPZ IP triggers) are rejected, never widened into a
//! whole-domain block. Single-label entries that would cover a whole TLD
//! are rejected unless the list allows them ([`ParseOptions`]). Rejected
//! lines are either malformed or unsupported (see
//! [`ParseReport::unsupported`]); only malformed ones suggest the file is
//! garbage. The `urls` format is different on purpose: legal
//! orders name sites by URL, and the order is to block the site, so a URL
//! blocks its host (and below) whatever its path.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many rejected lines are kept verbatim; the rest are only counted, so
/// a garbage file cannot make a reload use unbounded memory.
pub const MAX_KEPT_REJECTS: usize = 1000;

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

/// Which names an entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The name only (RPZ `name`, adblock plain `name`).
    Exact,
    /// Strictly below the name (`*.name`).
    Below,
    /// The name and its whole subtree (the operator's usual meaning).
    Subtree,
}

/// What an entry asks for. `List` means "the action configured for the
/// list"; the others come from the entry itself (RPZ, adblock `@@`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryAction {
    /// The list's configured action.
    List = 1,
    /// RPZ `CNAME .`.
    Nxdomain = 2,
    /// RPZ `CNAME *.`.
    Nodata = 3,
    /// RPZ `rpz-passthru.` / adblock `@@`: never block.
    Passthru = 4,
    /// RPZ `rpz-drop.`: send no answer.
    Drop = 5,
    /// RPZ `rpz-tcp-only.`: TC=1 over UDP, normal answer over TCP.
    TcpOnly = 6,
    /// RPZ local data (records or a CNAME rewrite).
    LocalData = 7,
}

impl EntryAction {
    /// Decode the 4-bit code stored by the matcher.
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => EntryAction::List,
            2 => EntryAction::Nxdomain,
            3 => EntryAction::Nodata,
            4 => EntryAction::Passthru,
            5 => EntryAction::Drop,
            6 => EntryAction::TcpOnly,
            7 => EntryAction::LocalData,
            _ => return None,
        })
    }
}

/// One accepted entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Lowercase ASCII name without trailing dot.
    pub name: &'a str,
    /// Which names it covers.
    pub scope: Scope,
    /// What it asks for.
    pub action: EntryAction,
    /// 1-based source line.
    pub line: u32,
}

/// RPZ local data: what a rewritten name answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalData {
    /// An A record.
    A(Ipv4Addr),
    /// An AAAA record.
    Aaaa(Ipv6Addr),
    /// A TXT record (one string).
    Txt(String),
    /// A CNAME rewrite to this absolute name (lowercase, no trailing dot).
    Cname(String),
}

/// Something a parser produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// A name entry.
    Entry(Entry<'a>),
    /// Local data for a name (an `Entry` with `LocalData` comes too).
    Local {
        /// The trigger name.
        name: &'a str,
        /// True for a `*.name` trigger.
        below: bool,
        /// Record TTL.
        ttl: u32,
        /// The data.
        data: LocalData,
    },
}

/// One rejected line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based source line.
    pub line: u32,
    /// Why it was rejected.
    pub reason: String,
}

/// Everything a parse found, besides the entries themselves.
#[derive(Debug, Clone, Default)]
pub struct ParseReport {
    /// The file parsed (for messages).
    pub path: PathBuf,
    /// The format actually used (never `Auto`).
    pub format: Option<Format>,
    /// Lines in the file.
    pub lines: u64,
    /// Lines that produced at least one entry.
    pub entry_lines: u64,
    /// Entries accepted (a hosts line may hold several).
    pub accepted: u64,
    /// Comment and blank lines (and RPZ/adblock housekeeping: SOA, NS,
    /// `$TTL`, headers).
    pub comments: u64,
    /// Well-known placeholder names skipped on purpose (`localhost` ...).
    pub skipped: u64,
    /// Rejected lines (all counted; the first `MAX_KEPT_REJECTS` kept).
    pub rejected: u64,
    /// Of the rejected lines, those naming an IP address (a DNS resolver
    /// cannot block an address).
    pub ip_literals: u64,
    /// Of the rejected lines, those that are well-formed rules of the
    /// format which DNS cannot enforce or which dnsward refuses on purpose
    /// (IP addresses, URL paths, element hiding, `$modifiers`, RPZ IP
    /// triggers, single-label entries). The rest are malformed: they do not
    /// belong to the format at all and feed the `max_rejected_percent` guard.
    pub unsupported: u64,
    /// Single-label entries that would cover a whole TLD (`com`, `*.com`):
    /// rejected unless the list sets `allow_tld_entries = true`, counted
    /// either way so `check-list` can warn.
    pub tld_entries: u64,
    /// Source line of the first single-label entry.
    pub first_tld_line: Option<u32>,
    /// The kept rejected lines.
    pub rejects: Vec<Reject>,
    /// SHA-256 of the file content, lowercase hex.
    pub sha256: String,
}

impl ParseReport {
    fn reject(&mut self, line: u32, reason: impl Into<String>) {
        self.rejected += 1;
        if self.rejects.len() < MAX_KEPT_REJECTS {
            self.rejects.push(Reject {
                line,
                reason: reason.into(),
            });
        }
    }

    /// A well-formed rule that cannot be applied: rejected, but not evidence
    /// that the file is garbage.
    fn reject_unsupported(&mut self, line: u32, reason: impl Into<String>) {
        self.unsupported += 1;
        self.reject(line, reason);
    }

    /// Rejected lines that are not valid in the format at all.
    pub fn malformed(&self) -> u64 {
        self.rejected.saturating_sub(self.unsupported)
    }

    /// Lines that are neither blank nor comments (nor RPZ housekeeping):
    /// entry lines, skipped placeholders and rejected lines.
    pub fn significant(&self) -> u64 {
        self.lines.saturating_sub(self.comments)
    }

    /// Malformed lines as a whole percentage of the significant lines, when
    /// that exceeds `max` (the `max_rejected_percent` guard); `None` when
    /// the file is within the limit. `max >= 100` disables the guard.
    pub fn too_many_rejected(&self, max: u8) -> Option<u64> {
        let (bad, all) = (self.malformed(), self.significant());
        (max < 100 && all > 0 && bad * 100 > all * u64::from(max)).then(|| bad * 100 / all)
    }

    /// Lines that were neither comments nor placeholders: if there were some
    /// but none was accepted, the file is not a list of this format.
    pub fn had_content(&self) -> bool {
        self.accepted + self.rejected > 0
    }

    /// Every line accounted for exactly once.
    pub fn balanced(&self) -> bool {
        self.entry_lines + self.comments + self.skipped + self.rejected == self.lines
    }

    /// Iterate `file:line: reason` strings.
    pub fn reject_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.rejects
            .iter()
            .map(|r| format!("{}:{}: {}", self.path.display(), r.line, r.reason))
    }
}

/// Why a list file could not be parsed at all.
///
/// The OS error is part of the message and deliberately not exposed as
/// `source()`: list errors travel as one line (reload JSON, audit log,
/// `warn!`), and a chain printer (`{:#}`) would otherwise print it twice.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// Per-list parse settings that change what is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept single-label entries (`com`, `*.com`, `||com^`) that block
    /// or allow a whole TLD. Off by default: such a line is far more often
    /// a typo or garbage than an order to block a TLD.
    pub allow_tld_entries: bool,
}

/// The end of the reason given for a rejected single-label entry (also how
/// the parser recognises it when counting).
const TLD_HINT: &str = "set allow_tld_entries = true on the list if that is intended";

fn ip_reason(raw: &str) -> String {
    format!("`{raw}` is an IP address; a DNS resolver can only block names")
}

/// Validate and normalise one name into `out`: lowercase, no trailing dot,
/// LDH plus `_` labels of 1..=63 bytes, at most 253 bytes. IP literals are
/// rejected because a resolver only ever sees names.
pub fn normalize_into(raw: &str, out: &mut String) -> Result<(), String> {
    out.clear();
    let s = raw.strip_suffix('.').unwrap_or(raw);
    if s.is_empty() {
        return Err("empty name".into());
    }
    let b = s.as_bytes();
    // Only digit/dot or colon text can be an address: skip the parse
    // attempt for ordinary names (this runs once per list line).
    let maybe_ip = b.iter().all(|c| c.is_ascii_digit() || *c == b'.') || b.contains(&b':');
    if maybe_ip && s.parse::<IpAddr>().is_ok() {
        return Err(ip_reason(raw));
    }
    if !s.is_ascii() {
        return Err(format!(
            "`{raw}` is not ASCII; write internationalised names in punycode (xn--)"
        ));
    }
    if b.len() > 253 {
        return Err(format!("name is {} bytes long (max 253)", b.len()));
    }
    // One pass: label lengths and characters.
    let mut label = 0usize;
    for &c in b {
        if c == b'.' {
            if label == 0 {
                return Err(format!("`{raw}` has an empty label"));
            }
            label = 0;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
            return Err(format!(
                "`{raw}` contains `{}`, not allowed in a host name",
                c as char
            ));
        }
        label += 1;
        if label > 63 {
            return Err(format!("`{raw}` has a label over 63 bytes"));
        }
    }
    if label == 0 {
        return Err(format!("`{raw}` has an empty label"));
    }
    out.push_str(s);
    out.make_ascii_lowercase();
    Ok(())
}

/// Owned convenience form of [`normalize_into`].
pub fn normalize_name(raw: &str) -> Result<String, String> {
    let mut s = String::new();
    normalize_into(raw, &mut s).map(|_| s)
}

/// Names hosts files carry for the local machine; skipped, never blocked.
/// (`ip6-localhost`, `ip6-allnodes`... are single labels; a real name that
/// merely starts with `ip6-` is not a placeholder.)
fn is_hosts_placeholder(name: &str) -> bool {
    let n = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    matches!(
        n.as_str(),
        "localhost" | "localhost.localdomain" | "broadcasthost" | "local" | "0.0.0.0"
    ) || (n.starts_with("ip6-") && !n.contains('.'))
}

/// Strip an inline `#` comment.
fn strip_hash_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Guess the format from the first significant lines.
pub fn sniff<R: BufRead>(reader: R) -> Format {
    let (mut hosts, mut adblock, mut urls, mut rpz, mut seen) = (0, 0, 0, 0, 0);
    // An adblock header (`! Title: ...`, `[Adblock Plus 2.0]`) as the first
    // significant line: the rest may be plain names, which adblock reads too.
    let mut adblock_header = None;
    for line in reader.lines().map_while(Result::ok) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        adblock_header.get_or_insert(t.starts_with('!') || t.starts_with('['));
        if t.starts_with('$') || t.contains(" SOA ") || t.contains("\tSOA\t") {
            rpz += 5;
        }
        if t.starts_with(';') {
            continue;
        }
        if t.starts_with('!') || t.starts_with("||") || t.starts_with("@@") || t.starts_with('[') {
            adblock += 1;
        }
        let mut fields = t.split_whitespace();
        let first = fields.next().unwrap_or_default();
        let second = fields.next();
        if first.parse::<IpAddr>().is_ok() && second.is_some() {
            hosts += 1;
        }
        if let Some(kw) = second {
            let rest: Vec<&str> = t.split_whitespace().skip(1).collect();
            if rest.iter().any(|f| {
                matches!(
                    f.to_ascii_uppercase().as_str(),
                    "CNAME" | "A" | "AAAA" | "NS"
                )
            }) && kw.len() < 10
            {
                rpz += 1;
            }
        }
        if t.contains("://") || (second.is_none() && t.contains('/')) {
            urls += 1;
        }
        // CSV exports (`"host","path",...`), which the urls parser reads.
        if t.starts_with('"') && t.contains("\",\"") {
            urls += 1;
        }
        seen += 1;
        if seen >= 100 {
            break;
        }
    }
    let best = [
        (rpz, Format::Rpz),
        (adblock, Format::Adblock),
        (hosts, Format::Hosts),
        (urls, Format::Urls),
    ]
    .into_iter()
    .max_by_key(|(n, _)| *n)
    .filter(|(n, _)| seen > 0 && *n * 2 >= seen.min(100))
    .map(|(_, f)| f);
    best.unwrap_or(if adblock_header == Some(true) {
        Format::Adblock
    } else {
        Format::Domains
    })
}

/// Per-format parser state (RPZ needs origin and TTL across lines).
struct Parser {
    format: Format,
    opts: ParseOptions,
    name: String,
    rpz: RpzState,
}

#[derive(Default)]
struct RpzState {
    origin: Option<String>,
    /// The zone apex (SOA owner) when it is known; triggers are relative
    /// to it, while relative owners are relative to the current `$ORIGIN`.
    apex: Option<String>,
    ttl: u32,
    last_owner: Option<String>,
    /// Inside a `( ... )` multi-line record.
    in_parens: bool,
}

type Emit<'e> = dyn FnMut(Item<'_>) + 'e;

impl Parser {
    fn new(format: Format, opts: ParseOptions) -> Self {
        Self {
            format,
            opts,
            name: String::with_capacity(256),
            rpz: RpzState {
                ttl: 3600,
                ..RpzState::default()
            },
        }
    }

    fn line(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let before = r.accepted;
        match self.format {
            Format::Hosts => self.hosts(text, line, r, emit),
            Format::Adblock => self.adblock(text, line, r, emit),
            Format::Urls => self.urls(text, line, r, emit),
            Format::Rpz => self.rpz_line(text, line, r, emit),
            Format::Domains | Format::Auto => self.domains(text, line, r, emit),
        }
        if r.accepted > before {
            r.entry_lines += 1;
        }
    }

    fn accept(
        &mut self,
        raw: &str,
        scope: Scope,
        action: EntryAction,
        line: u32,
        r: &mut ParseReport,
        emit: &mut Emit<'_>,
    ) -> Result<(), String> {
        normalize_into(raw, &mut self.name)?;
        if !self.name.contains('.') && scope != Scope::Exact {
            r.tld_entries += 1;
            r.first_tld_line.get_or_insert(line);
            if !self.opts.allow_tld_entries {
                return Err(format!(
                    "`{}` is a single label: it would cover the whole TLD; {TLD_HINT}",
                    self.name
                ));
            }
        }
        r.accepted += 1;
        emit(Item::Entry(Entry {
            name: &self.name,
            scope,
            action,
            line,
        }));
        Ok(())
    }

    fn reject(r: &mut ParseReport, line: u32, reason: String) {
        if reason.contains("is an IP address") {
            r.ip_literals += 1;
            r.unsupported += 1;
        } else if reason.ends_with(TLD_HINT) {
            r.unsupported += 1;
        }
        r.reject(line, reason);
    }

    fn domains(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let t = strip_hash_comment(text).trim();
        if t.is_empty() {
            r.comments += 1;
            return;
        }
        if t.split_whitespace().nth(1).is_some() {
            r.reject(line, "more than one field (is this a hosts file?)");
            return;
        }
        let (raw, scope) = match t.strip_prefix("*.") {
            Some(rest) => (rest, Scope::Below),
            None => (t, Scope::Subtree),
        };
        if let Err(e) = self.accept(raw, scope, EntryAction::List, line, r, emit) {
            Self::reject(r, line, e);
        }
    }

    fn hosts(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let t = strip_hash_comment(text).trim();
        if t.is_empty() {
            r.comments += 1;
            return;
        }
        let mut fields = t.split_whitespace();
        let addr = fields.next().unwrap_or_default();
        // A scoped IPv6 address (`fe80::1%lo0` in hosts-file headers) is
        // still an address.
        let bare = addr.split_once('%').map_or(addr, |(a, _)| a);
        if bare.parse::<IpAddr>().is_err() {
            r.reject(
                line,
                format!("`{addr}` is not an IP address (hosts format)"),
            );
            return;
        }
        let (mut any, mut bad, mut placeholder) = (false, None, false);
        for name in fields {
            if is_hosts_placeholder(name) {
                placeholder = true;
                continue;
            }
            match self.accept(name, Scope::Subtree, EntryAction::List, line, r, emit) {
                Ok(()) => any = true,
                Err(e) => bad = Some(e),
            }
        }
        match (any, bad, placeholder) {
            // A line with good and bad names keeps the good ones; it is an
            // entry line, and the bad name is only logged via the count of
            // accepted names being lower than the fields.
            (true, _, _) => {}
            (false, Some(e), _) => Self::reject(r, line, e),
            (false, None, true) => r.skipped += 1,
            (false, None, false) => r.reject(line, "address without a name"),
        }
    }

    fn adblock(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let t = text.trim();
        if t.is_empty() || t.starts_with('!') || t.starts_with('#') || t.starts_with('[') {
            r.comments += 1;
            return;
        }
        if t.contains("##") || t.contains("#@#") || t.contains("#?#") || t.contains("#$#") {
            r.reject_unsupported(line, "cosmetic (element hiding) rule: not a DNS rule");
            return;
        }
        let (allow, rule) = match t.strip_prefix("@@") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (body, modifiers) = match rule.split_once('$') {
            Some((b, m)) => (b, Some(m)),
            None => (rule, None),
        };
        if let Some(m) = modifiers {
            // Modifiers that do not narrow the rule are harmless; any other
            // would make the DNS block wider than the rule asks.
            if let Some(bad) = m
                .split(',')
                .map(str::trim)
                .find(|m| !matches!(*m, "important" | "all" | ""))
            {
                r.reject_unsupported(
                    line,
                    format!("modifier `${bad}` cannot be honoured by DNS; rule not applied"),
                );
                return;
            }
        }
        if body.starts_with('/') && body.ends_with('/') && body.len() > 1 {
            r.reject_unsupported(line, "regular-expression rule is not supported");
            return;
        }
        let (host, scope) = if let Some(rest) = body.strip_prefix("||") {
            let host = rest.strip_suffix('^').unwrap_or(rest);
            if host.contains('/') || host.contains('^') {
                r.reject_unsupported(line, "rule has a path; DNS can only block whole host names");
                return;
            }
            (host, Scope::Subtree)
        } else if body.starts_with('|') || body.contains('/') {
            r.reject_unsupported(
                line,
                "URL rule; DNS can only block host names (use ||host^)",
            );
            return;
        } else {
            (body.strip_suffix('^').unwrap_or(body), Scope::Exact)
        };
        if host.contains('*') {
            r.reject_unsupported(line, "wildcard inside a name is not supported");
            return;
        }
        let action = if allow {
            EntryAction::Passthru
        } else {
            EntryAction::List
        };
        if let Err(e) = self.accept(host, scope, action, line, r, emit) {
            Self::reject(r, line, e);
        }
    }

    fn urls(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let t = strip_hash_comment(text).trim();
        if t.is_empty() {
            r.comments += 1;
            return;
        }
        // CSV exports (`"host","path",...`): the first field is the host.
        let t = if let Some(rest) = t.strip_prefix('"') {
            match rest.split_once('"') {
                Some((first, _)) => first,
                None => rest,
            }
        } else {
            t.split_whitespace().next().unwrap_or(t)
        };
        let host = match url_host(t) {
            Ok(h) => h,
            Err(e) => {
                Self::reject(r, line, e);
                return;
            }
        };
        if host == "host" && text.trim_start().starts_with('"') {
            // CSV header line.
            r.comments += 1;
            return;
        }
        let ascii;
        let host = if host.is_ascii() {
            host
        } else {
            match idna::domain_to_ascii(host) {
                Ok(a) => {
                    ascii = a;
                    ascii.as_str()
                }
                Err(_) => {
                    r.reject(
                        line,
                        format!("`{host}` is not a valid internationalised name"),
                    );
                    return;
                }
            }
        };
        if let Err(e) = self.accept(host, Scope::Subtree, EntryAction::List, line, r, emit) {
            Self::reject(r, line, e);
        }
    }

    fn rpz_line(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let t = strip_rpz_comment(text);
        if self.rpz.in_parens {
            if t.contains(')') {
                self.rpz.in_parens = false;
            }
            r.comments += 1;
            return;
        }
        if t.trim().is_empty() {
            r.comments += 1;
            return;
        }
        let starts_blank = t.starts_with(' ') || t.starts_with('\t');
        let fields: Vec<&str> = t.split_whitespace().collect();
        if let Some(directive) = fields.first().filter(|f| f.starts_with('$')) {
            match directive.to_ascii_uppercase().as_str() {
                "$ORIGIN" => match fields.get(1) {
                    Some(o) => {
                        let o = o.trim_end_matches('.').to_ascii_lowercase();
                        self.rpz.origin = Some(o);
                        r.comments += 1;
                    }
                    None => r.reject(line, "$ORIGIN without a name"),
                },
                "$TTL" => match fields.get(1).and_then(|v| v.parse().ok()) {
                    Some(ttl) => {
                        self.rpz.ttl = ttl;
                        r.comments += 1;
                    }
                    None => r.reject(line, "$TTL without a number"),
                },
                "$INCLUDE" => {
                    r.reject_unsupported(line, "$INCLUDE is not supported: inline the file")
                }
                other => r.reject(line, format!("unknown directive {other}")),
            }
            return;
        }
        // owner [ttl] [class] type rdata...
        let mut i = 0;
        let owner = if starts_blank {
            match &self.rpz.last_owner {
                Some(o) => o.clone(),
                None => {
                    r.reject(line, "record without an owner name");
                    return;
                }
            }
        } else {
            i = 1;
            fields[0].to_string()
        };
        let mut ttl = self.rpz.ttl;
        while let Some(f) = fields.get(i) {
            if let Ok(n) = f.parse::<u32>() {
                ttl = n;
                i += 1;
            } else if matches!(f.to_ascii_uppercase().as_str(), "IN" | "CH" | "HS") {
                i += 1;
            } else {
                break;
            }
        }
        let Some(rtype) = fields.get(i).map(|f| f.to_ascii_uppercase()) else {
            r.reject(line, "record without a type");
            return;
        };
        let rdata = &fields[i + 1..];
        if t.contains('(') && !t.contains(')') {
            self.rpz.in_parens = true;
        }
        self.rpz.last_owner = Some(owner.clone());
        if rtype == "SOA" {
            let apex = match (owner.strip_suffix('.'), &self.rpz.origin) {
                (Some(abs), _) => Some(abs.to_ascii_lowercase()),
                (None, Some(o)) => Some(absolute(&owner, o)),
                (None, None) => None,
            };
            if self.rpz.origin.is_none() {
                self.rpz.origin.clone_from(&apex);
            }
            self.rpz.apex = apex;
            r.comments += 1;
            return;
        }
        // The trigger: the owner relative to the zone origin.
        let trigger = match self.trigger(&owner) {
            Ok(Some(t)) => t,
            Ok(None) => {
                // Zone apex records (NS): housekeeping.
                r.comments += 1;
                return;
            }
            Err(e) => {
                r.reject(line, e);
                return;
            }
        };
        let lower = trigger.to_ascii_lowercase();
        for special in ["rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip"] {
            if lower == special
                || lower.ends_with(&format!(".{special}"))
                || lower.starts_with(&format!("{special}."))
            {
                r.reject_unsupported(
                    line,
                    format!("{special} trigger is not supported yet; rule not applied"),
                );
                return;
            }
        }
        let (name, below) = match trigger.strip_prefix("*.") {
            Some(rest) => (rest.to_string(), true),
            None if trigger == "*" => {
                r.reject_unsupported(
                    line,
                    "root wildcard `*` would match every name; not applied",
                );
                return;
            }
            None => (trigger, false),
        };
        let scope = if below { Scope::Below } else { Scope::Exact };
        let local = |data: LocalData| (EntryAction::LocalData, Some(data));
        let (action, data) = match rtype.as_str() {
            "NS" | "DNAME" if rtype == "DNAME" => {
                r.reject_unsupported(line, "DNAME policy records are not supported");
                return;
            }
            "NS" => {
                r.reject(line, "NS record below the zone apex: not a policy rule");
                return;
            }
            "CNAME" => {
                let target = rdata
                    .first()
                    .copied()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                match target.as_str() {
                    "." => (EntryAction::Nxdomain, None),
                    "*." => (EntryAction::Nodata, None),
                    "rpz-passthru." | "rpz-passthru" => (EntryAction::Passthru, None),
                    "rpz-drop." | "rpz-drop" => (EntryAction::Drop, None),
                    "rpz-tcp-only." | "rpz-tcp-only" => (EntryAction::TcpOnly, None),
                    "" => {
                        r.reject(line, "CNAME without a target");
                        return;
                    }
                    t if t.starts_with("*.") => {
                        r.reject_unsupported(
                            line,
                            "wildcard CNAME rewrite (`*.target`) is not supported",
                        );
                        return;
                    }
                    t => {
                        let abs = if t.ends_with('.') {
                            t.trim_end_matches('.').to_string()
                        } else {
                            match &self.rpz.origin {
                                Some(o) => format!("{t}.{o}"),
                                None => t.to_string(),
                            }
                        };
                        match normalize_name(&abs) {
                            Ok(n) => local(LocalData::Cname(n)),
                            Err(e) => {
                                r.reject(line, format!("CNAME target: {e}"));
                                return;
                            }
                        }
                    }
                }
            }
            "A" => match rdata.first().and_then(|v| v.parse::<Ipv4Addr>().ok()) {
                Some(a) => local(LocalData::A(a)),
                None => {
                    r.reject(line, "A record without a valid IPv4 address");
                    return;
                }
            },
            "AAAA" => match rdata.first().and_then(|v| v.parse::<Ipv6Addr>().ok()) {
                Some(a) => local(LocalData::Aaaa(a)),
                None => {
                    r.reject(line, "AAAA record without a valid IPv6 address");
                    return;
                }
            },
            "TXT" => {
                let joined = rdata.join(" ");
                let text = joined.trim_matches('"');
                if text.len() > 255 {
                    r.reject_unsupported(line, "TXT local data over 255 bytes cannot be sent");
                    return;
                }
                local(LocalData::Txt(text.to_string()))
            }
            other => {
                r.reject_unsupported(
                    line,
                    format!("local data of type {other} is not supported (A, AAAA, TXT, CNAME)"),
                );
                return;
            }
        };
        if let Err(e) = self.accept(&name, scope, action, line, r, emit) {
            Self::reject(r, line, e);
            return;
        }
        if let Some(data) = data {
            emit(Item::Local {
                name: &self.name,
                below,
                ttl,
                data,
            });
        }
    }

    /// Owner name -> trigger name relative to the zone apex (the SOA
    /// owner, else the origin). `Ok(None)` for the apex itself.
    fn trigger(&self, owner: &str) -> Result<Option<String>, String> {
        let origin = self.rpz.origin.as_deref();
        let apex = self.rpz.apex.as_deref().or(origin);
        let abs = match (owner.strip_suffix('.'), origin) {
            (Some(abs), _) => abs.to_ascii_lowercase(),
            // Relative to an origin that is the apex (the usual case), or
            // to an unknown one: the owner is the trigger as written.
            (None, None) => return Ok((owner != "@").then(|| owner.to_string())),
            (None, Some(o)) if Some(o) == apex => {
                return Ok((owner != "@").then(|| owner.to_string()))
            }
            // `$ORIGIN` moved away from the apex (`$ORIGIN example.com.`
            // before `rpz SOA ...`).
            (None, Some(o)) => absolute(owner, o),
        };
        match apex {
            Some(z) if abs == z => Ok(None),
            Some(z) => match abs.strip_suffix(&format!(".{z}")) {
                Some(rel) => Ok(Some(rel.to_string())),
                None => Err(format!("`{owner}` is outside the policy zone `{z}.`")),
            },
            None => Err(format!(
                "`{owner}` is absolute but the zone has no origin ($ORIGIN or SOA)"
            )),
        }
    }
}

/// A relative owner (or `@`) made absolute against `origin`, lowercase,
/// without the trailing dot.
fn absolute(owner: &str, origin: &str) -> String {
    match owner {
        "@" => origin.to_string(),
        _ if origin.is_empty() => owner.to_ascii_lowercase(),
        _ => format!("{}.{origin}", owner.to_ascii_lowercase()),
    }
}

fn strip_rpz_comment(line: &str) -> &str {
    // `;` starts a comment unless inside quotes.
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line.trim_end_matches(['\r', '\n'])
}

/// The host of a URL-ish string: scheme, userinfo, port, path, query and
/// fragment are stripped. IP literals are refused.
pub fn url_host(s: &str) -> Result<&str, String> {
    let rest = match s.find("://") {
        Some(i) => &s[i + 3..],
        None => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        let inner = v6.split(']').next().unwrap_or(v6);
        return Err(ip_reason(inner));
    }
    let host = match hostport.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => hostport,
    };
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    if host.parse::<IpAddr>().is_ok() || hostport.parse::<IpAddr>().is_ok() {
        return Err(ip_reason(host));
    }
    Ok(host)
}

/// Parse from a reader, streaming items to `emit`; memory use does not
/// depend on the file size beyond one line. The SHA-256 of the bytes read
/// is recorded in the report.
pub fn parse_reader<R: Read>(
    reader: R,
    path: &Path,
    format: Format,
    emit: &mut dyn FnMut(Item<'_>),
) -> Result<ParseReport, ParseError> {
    parse_reader_with(reader, path, format, ParseOptions::default(), emit)
}

/// [`parse_reader`] with a list's [`ParseOptions`].
pub fn parse_reader_with<R: Read>(
    reader: R,
    path: &Path,
    format: Format,
    opts: ParseOptions,
    emit: &mut dyn FnMut(Item<'_>),
) -> Result<ParseReport, ParseError> {
    use sha2::Digest;
    let mut report = ParseReport {
        path: path.to_path_buf(),
        format: Some(format),
        ..ParseReport::default()
    };
    let mut hasher = sha2::Sha256::new();
    let mut parser = Parser::new(format, opts);
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::with_capacity(256);
    let mut line_no: u32 = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|error| ParseError::Read {
                path: path.to_path_buf(),
                error,
            })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf);
        line_no = line_no.saturating_add(1);
        report.lines += 1;
        match std::str::from_utf8(&buf) {
            Ok(text) => {
                let text = text.trim_start_matches('\u{feff}');
                let text = text.trim_end_matches(['\n', '\r']);
                parser.line(text, line_no, &mut report, emit)
            }
            Err(_) => report.reject(line_no, "not valid UTF-8"),
        }
    }
    report.sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(report)
}

/// Parse a file, resolving `Auto` by sniffing its head first.
pub fn parse_file(
    path: &Path,
    format: Format,
    emit: &mut dyn FnMut(Item<'_>),
) -> Result<ParseReport, ParseError> {
    parse_file_with(path, format, ParseOptions::default(), emit)
}

/// [`parse_file`] with a list's [`ParseOptions`].
pub fn parse_file_with(
    path: &Path,
    format: Format,
    opts: ParseOptions,
    emit: &mut dyn FnMut(Item<'_>),
) -> Result<ParseReport, ParseError> {
    let open = || {
        std::fs::File::open(path).map_err(|error| ParseError::Read {
            path: path.to_path_buf(),
            error,
        })
    };
    let format = match format {
        Format::Auto => sniff(BufReader::new(open()?)),
        f => f,
    };
    parse_reader_with(open()?, path, format, opts, emit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Got {
        name: String,
        scope: Scope,
        action: EntryAction,
        line: u32,
    }

    fn parse(text: &str, format: Format) -> (Vec<Got>, Vec<(String, LocalData)>, ParseReport) {
        let (mut out, mut local) = (Vec::new(), Vec::new());
        let r = parse_reader(text.as_bytes(), Path::new("t"), format, &mut |i| match i {
            Item::Entry(e) => out.push(Got {
                name: e.name.to_string(),
                scope: e.scope,
                action: e.action,
                line: e.line,
            }),
            Item::Local { name, data, .. } => local.push((name.to_string(), data)),
        })
        .expect("parse");
        assert!(r.balanced(), "{r:?}");
        (out, local, r)
    }

    fn names(v: &[Got]) -> Vec<&str> {
        v.iter().map(|g| g.name.as_str()).collect()
    }

    #[test]
    fn domains_with_comments_wildcards_and_junk() {
        let (e, _, r) = parse(
            "# header\n\nAds.Example.COM.\n*.track.example\nbad name here\n1.2.3.4\nxn--bcher-kva.example # c\n",
            Format::Domains,
        );
        assert_eq!(
            names(&e),
            vec!["ads.example.com", "track.example", "xn--bcher-kva.example"]
        );
        assert_eq!(e[1].scope, Scope::Below);
        assert_eq!(e[2].line, 7);
        assert_eq!(
            (r.lines, r.comments, r.rejected, r.ip_literals),
            (7, 2, 2, 1)
        );
        assert_eq!(r.rejects[0].line, 5);
    }

    #[test]
    fn hosts_lines_tabs_multi_names_and_placeholders() {
        let (e, _, r) = parse(
            "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n0.0.0.0\ta.example b.example # x\n255.255.255.255 broadcasthost\nnot-an-ip x.example\n",
            Format::Hosts,
        );
        assert_eq!(names(&e), vec!["a.example", "b.example"]);
        assert_eq!(
            (r.accepted, r.entry_lines, r.skipped, r.rejected),
            (2, 1, 3, 1)
        );
    }

    #[test]
    fn adblock_rules_and_refused_modifiers() {
        let (e, _, r) = parse(
            "[Adblock Plus 2.0]\n! Title: x\n||ads.example^\n@@||ok.ads.example^\n||tracker.example^$important\n||x.example^$third-party\n||host.example/path/file.zip^$all\nplain.example\n/regex/\nexample.com##.banner\n||1.2.3.4^\n",
            Format::Adblock,
        );
        assert_eq!(
            e,
            vec![
                Got {
                    name: "ads.example".into(),
                    scope: Scope::Subtree,
                    action: EntryAction::List,
                    line: 3
                },
                Got {
                    name: "ok.ads.example".into(),
                    scope: Scope::Subtree,
                    action: EntryAction::Passthru,
                    line: 4
                },
                Got {
                    name: "tracker.example".into(),
                    scope: Scope::Subtree,
                    action: EntryAction::List,
                    line: 5
                },
                Got {
                    name: "plain.example".into(),
                    scope: Scope::Exact,
                    action: EntryAction::List,
                    line: 8
                },
            ]
        );
        let reasons: Vec<_> = r
            .rejects
            .iter()
            .map(|x| (x.line, x.reason.clone()))
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].1.contains("$third-party"));
        assert!(reasons[1].1.contains("path"));
        assert_eq!(r.ip_literals, 1);
    }

    #[test]
    fn urls_are_reduced_to_hosts() {
        let (e, _, r) = parse(
            "https://user:pw@Example.COM:8443/path?q=1#frag\nhttp://x.example/y\nshop.example/y/z\nbücher.example/a\nhttp://192.0.2.1/x\n[2001:db8::1]:80/x\nhttps://[2001:db8::2]/\n\"host\",\"path\",\"message\"\n\"csv.example\",\"/a\",\"malware\"\n",
            Format::Urls,
        );
        assert_eq!(
            names(&e),
            vec![
                "example.com",
                "x.example",
                "shop.example",
                "xn--bcher-kva.example",
                "csv.example"
            ]
        );
        assert_eq!((r.rejected, r.ip_literals, r.comments), (3, 3, 1));
    }

    #[test]
    fn rpz_actions_local_data_and_unsupported_triggers() {
        let zone = "$TTL 300\n@ SOA localhost. root.localhost. ( 1 2\n 3 4 5 )\n  NS localhost.\n; c\nnx.example CNAME .\n*.nx.example CNAME .\nnodata.example CNAME *.\npass.example CNAME rpz-passthru.\ndrop.example CNAME rpz-drop.\ntcp.example CNAME rpz-tcp-only.\nlocal.example A 10.0.0.1\n AAAA 2001:db8::1\nwalled.example CNAME garden.example.net.\n32.1.0.0.10.rpz-ip CNAME .\nns.rpz-nsdname CNAME .\nabs.example.rpz.test. CNAME .\n*.evil CNAME *.wc.tld4.\nmx.example MX 10 x.\n";
        let (e, local, r) = parse(zone, Format::Rpz);
        let got: Vec<_> = e
            .iter()
            .map(|g| (g.name.as_str(), g.scope, g.action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("nx.example", Scope::Exact, EntryAction::Nxdomain),
                ("nx.example", Scope::Below, EntryAction::Nxdomain),
                ("nodata.example", Scope::Exact, EntryAction::Nodata),
                ("pass.example", Scope::Exact, EntryAction::Passthru),
                ("drop.example", Scope::Exact, EntryAction::Drop),
                ("tcp.example", Scope::Exact, EntryAction::TcpOnly),
                ("local.example", Scope::Exact, EntryAction::LocalData),
                ("local.example", Scope::Exact, EntryAction::LocalData),
                ("walled.example", Scope::Exact, EntryAction::LocalData),
            ]
        );
        assert_eq!(
            local,
            vec![
                (
                    "local.example".to_string(),
                    LocalData::A(Ipv4Addr::new(10, 0, 0, 1))
                ),
                (
                    "local.example".to_string(),
                    LocalData::Aaaa("2001:db8::1".parse().expect("v6"))
                ),
                (
                    "walled.example".to_string(),
                    LocalData::Cname("garden.example.net".into())
                ),
            ]
        );
        // rpz-ip, rpz-nsdname, absolute name without origin, wildcard
        // rewrite, MX local data.
        assert_eq!(r.rejected, 5, "{:?}", r.rejects);
    }

    #[test]
    fn rpz_origin_from_directive_or_soa() {
        let (e, _, r) = parse(
            "$ORIGIN rpz.test.\n@ IN SOA a b 1 2 3 4 5\nx.example IN CNAME .\ny.example.rpz.test. CNAME .\nz.other. CNAME .\n",
            Format::Rpz,
        );
        assert_eq!(names(&e), vec!["x.example", "y.example"]);
        assert_eq!(r.rejected, 1);
        let (e, _, _) = parse(
            "rpz.example.com. 3600 IN SOA ns1. h. 1 2 3 4 5\n\tNS ns1.rpz.example.com.\nfoo.example.net\tCNAME .\n",
            Format::Rpz,
        );
        assert_eq!(names(&e), vec!["foo.example.net"]);
    }

    #[test]
    fn sniffing_picks_the_right_format() {
        assert_eq!(
            sniff("# c\n0.0.0.0 a.b\n0.0.0.0 c.d\n".as_bytes()),
            Format::Hosts
        );
        assert_eq!(sniff("a.b\nc.d\n".as_bytes()), Format::Domains);
        assert_eq!(sniff("! x\n||a.b^\n||c.d^\n".as_bytes()), Format::Adblock);
        assert_eq!(
            sniff("$TTL 30\n@ SOA a. b. 1 2 3 4 5\nx CNAME .\n".as_bytes()),
            Format::Rpz
        );
        assert_eq!(
            sniff("https://a.b/x\nhttp://c.d/\n".as_bytes()),
            Format::Urls
        );
        assert_eq!(sniff("*.a.b\n*.c.d\n".as_bytes()), Format::Domains);
    }

    #[test]
    fn rpz_triggers_are_relative_to_the_soa_owner_not_an_earlier_origin() {
        // unbound's test zones: `$ORIGIN example.com.` then `rpz SOA`, the
        // apex NS records, then `$ORIGIN rpz.example.com.`.
        let (e, _, r) = parse(
            "$ORIGIN example.com.\nrpz\t3600\tIN\tSOA\tns1.rpz.example.com. h.rpz.example.com. (\n\t\t1 2 3 4 5 )\n\t3600\tIN\tNS\tns1.rpz.example.com.\nother\tCNAME .\nx.rpz\tCNAME .\n$ORIGIN rpz.example.com.\na\tCNAME .\n@\tNS\tns2.rpz.example.com.\n",
            Format::Rpz,
        );
        assert_eq!(names(&e), vec!["x", "a"]);
        // Only `other` (other.example.com, outside the policy zone).
        assert_eq!(r.rejected, 1, "{:?}", r.rejects);
        assert!(r.rejects[0].reason.contains("outside the policy zone"));
        assert_eq!(r.comments, 6);
    }

    #[test]
    fn sniffing_reads_adblock_headers_and_csv_exports() {
        // urlhaus-filter.txt: `!` header, then plain hosts and `||` rules.
        let ub = "! Title: x\n! Updated: y\n".to_string() + &"host.example\n".repeat(98);
        assert_eq!(sniff(ub.as_bytes()), Format::Adblock);
        // A domains list is not turned into adblock by a stray `!` line.
        let d = "a.example\n! oops\n".to_string() + &"b.example\n".repeat(98);
        assert_eq!(sniff(d.as_bytes()), Format::Domains);
        let csv = "# c\n\"host\",\"path\",\"message\"\n\"a.example\",\"\",\"bad site\"\n\"b.example\",\"/x\",\"bad site\"\n";
        assert_eq!(sniff(csv.as_bytes()), Format::Urls);
    }

    #[test]
    fn scoped_ipv6_hosts_lines_are_placeholders_not_rejects() {
        let (e, _, r) = parse(
            "fe80::1%lo0 localhost\nfe80::1%lo0 x.example\n",
            Format::Hosts,
        );
        assert_eq!(names(&e), vec!["x.example"]);
        assert_eq!((r.skipped, r.rejected), (1, 0));
    }

    #[test]
    fn names_are_validated() {
        assert!(normalize_name("a..b").is_err());
        assert!(normalize_name(&"a".repeat(64)).is_err());
        assert!(normalize_name("bücher.de").is_err());
        assert!(normalize_name("under_score.example").is_ok());
        assert_eq!(normalize_name("A.B.").as_deref(), Ok("a.b"));
    }

    #[test]
    fn invalid_utf8_is_a_rejected_line_and_hash_is_recorded() {
        let mut n = 0;
        let r = parse_reader(
            &b"ok.example\n\xff\xfe\n"[..],
            Path::new("t"),
            Format::Domains,
            &mut |_| n += 1,
        )
        .expect("parse");
        assert_eq!((n, r.rejected), (1, 1));
        assert_eq!(r.sha256.len(), 64);
    }

    #[test]
    fn single_label_entries_need_allow_tld_entries() {
        let text = "com\n*.net\nads.example\n";
        let (e, _, r) = parse(text, Format::Domains);
        assert_eq!(names(&e), vec!["ads.example"]);
        assert_eq!((r.rejected, r.unsupported, r.tld_entries), (2, 2, 2));
        assert_eq!(r.first_tld_line, Some(1));
        assert!(r.rejects[0].reason.contains("allow_tld_entries = true"));
        for (t, f) in [
            ("||org^\n", Format::Adblock),
            ("0.0.0.0 io\n", Format::Hosts),
        ] {
            let (e, _, r) = parse(t, f);
            assert!(e.is_empty() && r.tld_entries == 1, "{t}: {r:?}");
        }
        // An exact-name rule on a single label covers only that name.
        let (e, _, r) = parse("$ORIGIN rpz.\nzz CNAME .\n", Format::Rpz);
        assert_eq!((e.len(), r.tld_entries), (1, 0));

        let mut n = 0;
        let opts = ParseOptions {
            allow_tld_entries: true,
        };
        let r = parse_reader_with(
            text.as_bytes(),
            Path::new("t"),
            Format::Domains,
            opts,
            &mut |_| n += 1,
        )
        .expect("parse");
        assert_eq!((n, r.rejected, r.tld_entries), (3, 0, 2));
    }

    #[test]
    fn only_malformed_lines_count_towards_the_rejected_guard() {
        // Well-formed rules DNS cannot enforce are not garbage.
        let (_, _, r) = parse(
            "||a.example^\n||b.example/path^\n|http://c.example/x\n||192.0.2.1^\nexample.org##.ad\n",
            Format::Adblock,
        );
        assert_eq!((r.rejected, r.malformed(), r.significant()), (4, 0, 5));
        assert_eq!(r.too_many_rejected(50), None);
        // Two good lines and three of garbage: 60% > 50%, not > 60%.
        let (_, _, r) = parse(
            "# c\n\na.example\nb.example\n<html>\n!!!\nx y z\n",
            Format::Domains,
        );
        assert_eq!((r.malformed(), r.significant()), (3, 5));
        assert_eq!(r.too_many_rejected(50), Some(60));
        assert_eq!(r.too_many_rejected(60), None);
        assert_eq!(r.too_many_rejected(100), None);
        assert_eq!(r.too_many_rejected(0), Some(60));
    }
}
