//! The vocabulary every part of the policy shares: list formats, what a
//! rule covers ([`Scope`]), what it does ([`EntryAction`]) and the local
//! data an RPZ rule answers with. The parsers produce these, the matcher
//! stores them and the decision reads them, so none of those owns them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

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
