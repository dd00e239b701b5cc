//! The vocabulary every part of the policy shares: list formats, what a
//! rule covers ([`Scope`]), what it does ([`EntryAction`]) and the local
//! data an RPZ rule answers with. The parsers produce these, the matcher
//! stores them and the decision reads them, so none of those owns them.

use std::net::{Ipv4Addr, Ipv6Addr};

/// List file format: defined beside `[[lists]]`, whose `format` key it is,
/// so the config types need nothing from the policy.
pub use crate::config::Format;

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
