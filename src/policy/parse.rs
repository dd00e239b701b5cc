//! List file parsers: turn the text operators receive into normalised names.
//!
//! Parsing never stops at a bad line: each one is recorded as
//! `file:line: reason` and counted, so an operator sees exactly what was
//! dropped and every line of the file is accounted for (accepted, skipped as
//! a comment/blank/placeholder, or rejected).

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How many rejected lines are kept verbatim; the rest are only counted, so
/// a garbage file cannot make a reload use unbounded memory.
pub const MAX_KEPT_REJECTS: usize = 1000;

/// List file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Sniff the file: hosts if its first entries start with an address.
    #[default]
    Auto,
    /// One name per line, `#` comments, `*.name` for "below name only".
    Domains,
    /// `0.0.0.0 name [name...]` hosts-file lines.
    Hosts,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Format::Auto),
            "domains" => Ok(Format::Domains),
            "hosts" => Ok(Format::Hosts),
            _ => Err(format!("unknown format `{s}` (auto, domains, hosts)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Domains => "domains",
            Format::Hosts => "hosts",
        })
    }
}

/// Which names an entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// The name itself.
    pub exact: bool,
    /// Every name below it.
    pub below: bool,
}

impl Coverage {
    /// `name`: the name and its whole subtree (the operator's usual meaning).
    pub const SUBTREE: Coverage = Coverage {
        exact: true,
        below: true,
    };
    /// `*.name`: strictly below the name.
    pub const BELOW: Coverage = Coverage {
        exact: false,
        below: true,
    };
}

/// One accepted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Lowercase ASCII name without trailing dot.
    pub name: String,
    /// What it covers.
    pub coverage: Coverage,
    /// 1-based source line.
    pub line: u32,
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
    /// Entries accepted (a hosts line may hold several).
    pub accepted: u64,
    /// Comment and blank lines.
    pub comments: u64,
    /// Well-known placeholder names skipped on purpose (`localhost` ...).
    pub skipped: u64,
    /// Rejected lines (all counted; the first `MAX_KEPT_REJECTS` kept).
    pub rejected: u64,
    /// The kept rejected lines.
    pub rejects: Vec<Reject>,
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

    /// Lines that were neither comments nor placeholders: if there were some
    /// but none was accepted, the file is not a list of this format.
    pub fn had_content(&self) -> bool {
        self.accepted + self.rejected > 0
    }

    /// Iterate `file:line: reason` strings.
    pub fn reject_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.rejects
            .iter()
            .map(|r| format!("{}:{}: {}", self.path.display(), r.line, r.reason))
    }
}

/// Why a list file could not be parsed at all.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Validate and normalise one name: lowercase, no trailing dot, LDH plus
/// `_` labels of 1..=63 bytes, at most 253 bytes. IP literals are rejected
/// because a resolver only ever sees names.
pub fn normalize_name(raw: &str) -> Result<String, String> {
    let s = raw.strip_suffix('.').unwrap_or(raw);
    if s.is_empty() {
        return Err("empty name".into());
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "`{raw}` is an IP address; a DNS resolver can only block names"
        ));
    }
    if !s.is_ascii() {
        return Err(format!(
            "`{raw}` is not ASCII; write internationalised names in punycode (xn--)"
        ));
    }
    if s.len() > 253 {
        return Err(format!("name is {} bytes long (max 253)", s.len()));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(format!("`{raw}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("`{raw}` has a label over 63 bytes"));
        }
        if let Some(c) = label
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'))
        {
            return Err(format!(
                "`{raw}` contains `{}`, not allowed in a host name",
                c as char
            ));
        }
    }
    Ok(s.to_ascii_lowercase())
}

/// Names hosts files carry for the local machine; skipped, never blocked.
fn is_hosts_placeholder(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "localhost" | "localhost.localdomain" | "broadcasthost" | "local" | "0.0.0.0"
    ) || n.starts_with("ip6-")
}

/// Strip an inline `#` comment.
fn strip_comment(line: &str) -> &str {
    match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Guess the format from the first significant lines.
pub fn sniff<R: BufRead>(reader: R) -> Format {
    let mut hosts = 0;
    let mut seen = 0;
    for line in reader.lines().map_while(Result::ok) {
        let t = strip_comment(&line).trim();
        if t.is_empty() {
            continue;
        }
        seen += 1;
        if let Some(first) = t.split_whitespace().next() {
            if first.parse::<IpAddr>().is_ok() && t.split_whitespace().nth(1).is_some() {
                hosts += 1;
            }
        }
        if seen >= 100 {
            break;
        }
    }
    if seen > 0 && hosts * 2 >= seen {
        Format::Hosts
    } else {
        Format::Domains
    }
}

/// Parse one line of the given concrete format, calling `emit` for each entry.
fn parse_line(
    format: Format,
    text: &str,
    line: u32,
    report: &mut ParseReport,
    emit: &mut dyn FnMut(Entry),
) {
    let t = strip_comment(text).trim();
    if t.is_empty() {
        report.comments += 1;
        return;
    }
    match format {
        Format::Hosts => {
            let mut fields = t.split_whitespace();
            let addr = fields.next().unwrap_or_default();
            if addr.parse::<IpAddr>().is_err() {
                report.reject(
                    line,
                    format!("`{addr}` is not an IP address (hosts format)"),
                );
                return;
            }
            let mut any = false;
            let mut bad = None;
            let mut placeholder = false;
            for name in fields {
                if is_hosts_placeholder(name) {
                    placeholder = true;
                    continue;
                }
                match normalize_name(name) {
                    Ok(n) => {
                        any = true;
                        report.accepted += 1;
                        emit(Entry {
                            name: n,
                            coverage: Coverage::SUBTREE,
                            line,
                        });
                    }
                    Err(e) => bad = Some(e),
                }
            }
            if let Some(e) = bad {
                report.reject(line, e);
            } else if !any {
                if placeholder {
                    report.skipped += 1;
                } else {
                    report.reject(line, "address without a name");
                }
            }
        }
        Format::Domains | Format::Auto => {
            if t.split_whitespace().nth(1).is_some() {
                report.reject(line, "more than one field (is this a hosts file?)");
                return;
            }
            let (raw, coverage) = match t.strip_prefix("*.") {
                Some(rest) => (rest, Coverage::BELOW),
                None => (t, Coverage::SUBTREE),
            };
            match normalize_name(raw) {
                Ok(n) => {
                    report.accepted += 1;
                    emit(Entry {
                        name: n,
                        coverage,
                        line,
                    });
                }
                Err(e) => report.reject(line, e),
            }
        }
    }
}

/// Parse from a reader, streaming entries to `emit`; memory use does not
/// depend on the file size beyond one line.
pub fn parse_reader<R: Read>(
    reader: R,
    path: &Path,
    format: Format,
    emit: &mut dyn FnMut(Entry),
) -> Result<ParseReport, ParseError> {
    let mut report = ParseReport {
        path: path.to_path_buf(),
        format: Some(format),
        ..ParseReport::default()
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::with_capacity(256);
    let mut line_no: u32 = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| ParseError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no = line_no.saturating_add(1);
        report.lines += 1;
        match std::str::from_utf8(&buf) {
            Ok(text) => {
                let text = text.trim_start_matches('\u{feff}');
                parse_line(format, text, line_no, &mut report, emit)
            }
            Err(_) => report.reject(line_no, "not valid UTF-8"),
        }
    }
    Ok(report)
}

/// Parse a file, resolving `Auto` by sniffing its head first.
pub fn parse_file(
    path: &Path,
    format: Format,
    emit: &mut dyn FnMut(Entry),
) -> Result<ParseReport, ParseError> {
    let open = || {
        std::fs::File::open(path).map_err(|source| ParseError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let format = match format {
        Format::Auto => sniff(BufReader::new(open()?)),
        f => f,
    };
    parse_reader(open()?, path, format, emit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, format: Format) -> (Vec<Entry>, ParseReport) {
        let mut out = Vec::new();
        let r = parse_reader(text.as_bytes(), Path::new("t"), format, &mut |e| {
            out.push(e)
        })
        .expect("parse");
        (out, r)
    }

    #[test]
    fn domains_with_comments_wildcards_and_junk() {
        let (e, r) = parse(
            "# header\n\nAds.Example.COM.\n*.track.example\nbad name here\n1.2.3.4\nxn--bcher-kva.example\n",
            Format::Domains,
        );
        let names: Vec<_> = e
            .iter()
            .map(|e| (e.name.as_str(), e.coverage, e.line))
            .collect();
        assert_eq!(
            names,
            vec![
                ("ads.example.com", Coverage::SUBTREE, 3),
                ("track.example", Coverage::BELOW, 4),
                ("xn--bcher-kva.example", Coverage::SUBTREE, 7)
            ]
        );
        assert_eq!((r.lines, r.comments, r.rejected), (7, 2, 2));
        assert_eq!(r.rejects[0].line, 5);
        assert!(r.rejects[1].reason.contains("IP address"));
    }

    #[test]
    fn hosts_lines_tabs_multi_names_and_placeholders() {
        let (e, r) = parse(
            "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n0.0.0.0\ta.example b.example # x\n255.255.255.255 broadcasthost\nnot-an-ip x.example\n",
            Format::Hosts,
        );
        assert_eq!(
            e.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            vec!["a.example", "b.example"]
        );
        assert_eq!((r.accepted, r.skipped, r.rejected), (2, 3, 1));
        assert_eq!(r.lines, r.comments + r.skipped + r.rejected + 1);
    }

    #[test]
    fn sniffing_picks_the_right_format() {
        assert_eq!(
            sniff("# c\n0.0.0.0 a.b\n0.0.0.0 c.d\n".as_bytes()),
            Format::Hosts
        );
        assert_eq!(sniff("a.b\nc.d\n".as_bytes()), Format::Domains);
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
    fn invalid_utf8_is_a_rejected_line_not_an_error() {
        let mut out = Vec::new();
        let r = parse_reader(
            &b"ok.example\n\xff\xfe\n"[..],
            Path::new("t"),
            Format::Domains,
            &mut |e| out.push(e),
        )
        .expect("parse");
        assert_eq!((out.len(), r.rejected), (1, 1));
    }
}
