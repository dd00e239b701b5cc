//! What a block rule does to a query ([`effect_of`]), one mapping for
//! the normal path, the alias-chain stage, the fast path and the `packet`
//! fuzz target, and the list-text names it needs ([`dotted_name`]).

use super::*;

/// An absolute name from dotted text of list origin. Built from raw
/// labels: list names may break host-name syntax (`-x.example`) that
/// `Name::from_ascii` refuses, and a trailing dot is optional.
pub fn dotted_name(text: &str) -> Option<Name> {
    let t = text.strip_suffix('.').unwrap_or(text);
    if t.is_empty() {
        return Some(Name::root());
    }
    let mut n = Name::from_labels(t.split('.').map(str::as_bytes)).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// What a block rule does to a query: the rule's own RPZ action or its
/// list's. `zone` is the listed name that matched. None: resolve normally
/// (RPZ tcp-only over TCP, passthru). One mapping for the normal path and
/// the fast path, and the one the `packet` fuzz target checks.
pub fn effect_of<'a>(b: &Block<'a>, zone: &str, transport: Transport) -> Option<Effect<'a>> {
    let list = b.list;
    let cfg = &list.cfg;
    Some(match b.hit.action {
        EntryAction::List => match cfg.action {
            Action::Drop => Effect::Drop,
            Action::Redirect => cfg
                .redirect_to
                .as_deref()
                .and_then(dotted_name)
                .map_or(Effect::Nxdomain, Effect::Redirect),
            Action::Sinkhole => Effect::Sinkhole,
            Action::Nxdomain => Effect::Nxdomain,
            Action::Nodata => Effect::Nodata,
            Action::Refused => Effect::Refused,
        },
        EntryAction::Nxdomain => Effect::Nxdomain,
        EntryAction::Nodata => Effect::Nodata,
        EntryAction::Drop => Effect::Drop,
        EntryAction::TcpOnly if transport == Transport::Tcp => return None,
        EntryAction::TcpOnly => Effect::Truncate,
        EntryAction::LocalData => {
            let data = list.local_data(zone, b.depth > 0);
            match data.iter().find_map(|(_, d)| match d {
                LocalData::Cname(t) => dotted_name(t),
                _ => None,
            }) {
                Some(target) => Effect::Redirect(target),
                None => Effect::Local(data),
            }
        }
        EntryAction::Passthru => return None,
    })
}
