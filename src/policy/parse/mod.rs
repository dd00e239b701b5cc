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

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

pub use crate::policy::rule::{EntryAction, Format, LocalData, Scope};
use rpz::RpzState;

/// How many rejected lines are kept verbatim; the rest are only counted, so
/// a garbage file cannot make a reload use unbounded memory.
pub const MAX_KEPT_REJECTS: usize = 1000;

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

mod names;
mod rpz;
#[cfg(test)]
mod tests;
