//! Policy groups (`[[groups]]`): which lists apply to which client.
//!
//! A list that no group names applies to every client (the mandatory
//! orders); a list named by groups applies only to their clients. Each
//! group is compiled once into a bit mask over the configured lists, so
//! the decision skips a list with one bit test, and client networks into a
//! prefix table: one sorted array per prefix length, longest first, each
//! searched with a binary search, so thousands of subscriber ranges cost a
//! few dozen compares. Without groups the table is empty and the query path
//! never looks a client up.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::config::{parse_network, GroupConfig, Problem};

/// The group name of clients in no group (and of every client when no
/// groups are configured): reserved, so a metrics label never means two
/// things.
pub const DEFAULT_GROUP: &str = "default";

/// A set of list indices (configuration order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMask(Box<[u64]>);

impl ListMask {
    /// No list.
    pub fn empty(lists: usize) -> Self {
        Self(vec![0; lists.div_ceil(64).max(1)].into_boxed_slice())
    }

    /// Every list.
    pub fn full(lists: usize) -> Self {
        let mut m = Self::empty(lists);
        for i in 0..lists {
            m.insert(i);
        }
        m
    }

    /// Add list `i`.
    pub fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Does the set hold list `i`?
    #[inline]
    pub fn has(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
}

/// The group a client belongs to.
#[derive(Debug, Clone, Copy)]
pub struct GroupRef<'a> {
    /// Its name ([`DEFAULT_GROUP`] for clients in no group).
    pub name: &'a Arc<str>,
    /// The lists that apply; None: every list (no groups configured).
    pub mask: Option<&'a ListMask>,
}

impl GroupRef<'_> {
    /// Does list `i` apply to this group's clients?
    #[inline]
    pub fn applies(&self, i: usize) -> bool {
        self.mask.is_none_or(|m| m.has(i))
    }
}

/// One prefix length's networks, sorted by network, with their group.
#[derive(Debug, Clone)]
struct Level<T> {
    mask: T,
    nets: Vec<(T, u16)>,
}

/// The compiled `[[groups]]`.
#[derive(Debug, Clone)]
pub struct Groups {
    names: Vec<Arc<str>>,
    masks: Vec<ListMask>,
    /// For clients in no group: the lists no group names.
    default_mask: ListMask,
    default_name: Arc<str>,
    /// Which groups add each list (configuration order), for `explain`.
    named_by: Vec<Vec<usize>>,
    v4: Vec<Level<u32>>,
    v6: Vec<Level<u128>>,
}

impl Default for Groups {
    fn default() -> Self {
        Self::none()
    }
}

impl Groups {
    /// No groups: every list applies to every client.
    pub fn none() -> Self {
        Self {
            names: Vec::new(),
            masks: Vec::new(),
            default_mask: ListMask::empty(0),
            default_name: Arc::from(DEFAULT_GROUP),
            named_by: Vec::new(),
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }

    /// Compile `groups` against the configured list names (configuration
    /// order). Every problem is reported, keyed like `groups[1].clients[0]`:
    /// an unknown list, a bad network, a duplicate or reserved name, the
    /// same network in two places.
    pub fn build(groups: &[GroupConfig], lists: &[&str]) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut masks = Vec::new();
        let mut named_by = vec![Vec::new(); lists.len()];
        let mut seen: Vec<(IpNet, String)> = Vec::new();
        let mut v4: Vec<(u8, u32, u16)> = Vec::new();
        let mut v6: Vec<(u8, u128, u16)> = Vec::new();
        if groups.len() > usize::from(u16::MAX) {
            bad("groups".into(), "at most 65535 groups".into());
        }
        for (g, cfg) in groups.iter().enumerate() {
            let key = |field: &str| format!("groups[{g}].{field}");
            if cfg.name.trim().is_empty() {
                bad(key("name"), "must not be empty".into());
            } else if cfg.name == DEFAULT_GROUP {
                bad(
                    key("name"),
                    format!("`{DEFAULT_GROUP}` is reserved for clients in no group"),
                );
            } else if let Some(first) = groups[..g].iter().position(|o| o.name == cfg.name) {
                bad(
                    key("name"),
                    format!("duplicate group name `{}` (also groups[{first}])", cfg.name),
                );
            }
            let mut mask = ListMask::empty(lists.len());
            for (j, name) in cfg.lists.iter().enumerate() {
                match lists.iter().position(|l| l == name) {
                    Some(i) => {
                        mask.insert(i);
                        if !named_by[i].contains(&g) {
                            named_by[i].push(g);
                        }
                    }
                    None => bad(
                        key(&format!("lists[{j}]")),
                        format!("no [[lists]] entry is named `{name}`"),
                    ),
                }
            }
            if cfg.clients.is_empty() {
                bad(key("clients"), "must name at least one network".into());
            }
            for (j, entry) in cfg.clients.iter().enumerate() {
                let here = key(&format!("clients[{j}]"));
                let net = match parse_network(entry) {
                    Ok(n) => n,
                    Err(why) => {
                        bad(here, why);
                        continue;
                    }
                };
                if let Some((_, other)) = seen.iter().find(|(n, _)| *n == net) {
                    bad(
                        here.clone(),
                        format!("network {net} is also listed at {other}: a client must belong to one group"),
                    );
                    continue;
                }
                seen.push((net, here));
                let gi = u16::try_from(g).unwrap_or(u16::MAX);
                match net {
                    IpNet::V4(n) => v4.push((n.prefix_len(), u32::from(n.network()), gi)),
                    IpNet::V6(n) => v6.push((n.prefix_len(), u128::from(n.network()), gi)),
                }
            }
            names.push(Arc::from(cfg.name.as_str()));
            masks.push(mask);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // The mandatory lists apply to every group as well.
        let mut default_mask = ListMask::empty(lists.len());
        for (i, by) in named_by.iter().enumerate() {
            if by.is_empty() {
                default_mask.insert(i);
                for m in &mut masks {
                    m.insert(i);
                }
            }
        }
        Ok(Self {
            names,
            masks,
            default_mask,
            default_name: Arc::from(DEFAULT_GROUP),
            named_by,
            v4: levels(v4, |len| {
                u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
            }),
            v6: levels(v6, |len| {
                u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
            }),
        })
    }

    /// True when no groups are configured.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Group names in configuration order, then [`DEFAULT_GROUP`]: every
    /// value the `group` metrics label can take.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(|n| n.as_ref())
            .chain(std::iter::once(DEFAULT_GROUP))
    }

    /// The group of `client`: the longest configured prefix covering it
    /// (IPv4-mapped IPv6 addresses as the IPv4 address they carry), else
    /// the default group. Without groups: the default group with every
    /// list, and no lookup at all.
    #[inline]
    pub fn of(&self, client: IpAddr) -> GroupRef<'_> {
        if self.names.is_empty() {
            return GroupRef {
                name: &self.default_name,
                mask: None,
            };
        }
        let g = match client.to_canonical() {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        };
        match g {
            Some(g) => GroupRef {
                name: &self.names[g],
                mask: Some(&self.masks[g]),
            },
            None => GroupRef {
                name: &self.default_name,
                mask: Some(&self.default_mask),
            },
        }
    }

    /// The group of a client in no group: the mandatory lists (every
    /// list when no groups are configured).
    pub fn of_default(&self) -> GroupRef<'_> {
        GroupRef {
            name: &self.default_name,
            mask: (!self.names.is_empty()).then_some(&self.default_mask),
        }
    }

    /// The groups that add list `i`; empty when the list applies to every
    /// client.
    pub fn naming(&self, i: usize) -> Vec<&str> {
        self.named_by
            .get(i)
            .map(|by| by.iter().map(|&g| self.names[g].as_ref()).collect())
            .unwrap_or_default()
    }
}

/// Group the networks by prefix length, longest first, each level sorted
/// for a binary search.
fn levels<T: Copy + Ord>(mut nets: Vec<(u8, T, u16)>, mask: impl Fn(u8) -> T) -> Vec<Level<T>> {
    nets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<(u8, Level<T>)> = Vec::new();
    for (len, net, g) in nets {
        match out.last_mut() {
            Some((l, level)) if *l == len => level.nets.push((net, g)),
            _ => out.push((
                len,
                Level {
                    mask: mask(len),
                    nets: vec![(net, g)],
                },
            )),
        }
    }
    out.into_iter().map(|(_, l)| l).collect()
}

fn find<T>(levels: &[Level<T>], addr: T) -> Option<usize>
where
    T: Copy + Ord + std::ops::BitAnd<Output = T>,
{
    levels.iter().find_map(|l| {
        let net = addr & l.mask;
        l.nets
            .binary_search_by(|(n, _)| n.cmp(&net))
            .ok()
            .map(|i| usize::from(l.nets[i].1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, clients: &[&str], lists: &[&str]) -> GroupConfig {
        GroupConfig {
            name: name.into(),
            clients: clients.iter().map(|s| s.to_string()).collect(),
            lists: lists.iter().map(|s| s.to_string()).collect(),
        }
    }

    const LISTS: &[&str] = &["court", "adult", "gambling", "malware"];

    #[test]
    fn longest_prefix_wins_and_unnamed_lists_are_mandatory() {
        let g = Groups::build(
            &[
                group(
                    "family",
                    &["10.8.0.0/16", "2001:db8:8::/48"],
                    &["adult", "gambling"],
                ),
                group("secure", &["10.8.1.0/24"], &["malware"]),
            ],
            LISTS,
        )
        .expect("valid");
        let of = |a: &str| g.of(a.parse().expect("ip"));
        let fam = of("10.8.2.3");
        assert_eq!(fam.name.as_ref(), "family");
        assert!(fam.applies(0) && fam.applies(1) && fam.applies(2) && !fam.applies(3));
        let sec = of("10.8.1.2");
        assert_eq!(sec.name.as_ref(), "secure");
        assert!(sec.applies(0) && !sec.applies(1) && sec.applies(3));
        assert_eq!(of("2001:db8:8:1::5").name.as_ref(), "family");
        assert_eq!(of("::ffff:10.8.2.3").name.as_ref(), "family");
        let none = of("192.0.2.1");
        assert_eq!(none.name.as_ref(), DEFAULT_GROUP);
        assert!(none.applies(0) && !none.applies(1) && !none.applies(3));
        assert_eq!(g.naming(1), vec!["family"]);
        assert!(g.naming(0).is_empty());
        assert_eq!(
            g.labels().collect::<Vec<_>>(),
            vec!["family", "secure", "default"]
        );
    }

    #[test]
    fn no_groups_means_every_list_for_everyone() {
        let g = Groups::build(&[], LISTS).expect("valid");
        assert!(g.is_empty());
        let r = g.of("10.0.0.1".parse().expect("ip"));
        assert!(r.mask.is_none() && r.applies(3) && r.applies(500));
    }

    #[test]
    fn every_problem_names_its_key() {
        let err = Groups::build(
            &[
                group(
                    "family",
                    &["10.8.0.0/16", "10.8.0.1/16", "nonsense"],
                    &["adult", "nope"],
                ),
                group("family", &["10.8.0.0/16"], &[]),
                group("default", &[], &[]),
            ],
            LISTS,
        )
        .expect_err("invalid");
        let keys: Vec<&str> = err.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "groups[0].lists[1]",
                "groups[0].clients[1]",
                "groups[0].clients[2]",
                "groups[1].name",
                "groups[1].clients[0]",
                "groups[2].name",
                "groups[2].clients",
            ],
            "{err:?}"
        );
        assert!(err[0].reason.contains("`nope`"));
        assert!(
            err[4].reason.contains("groups[0].clients[0]"),
            "{}",
            err[4].reason
        );
    }

    #[test]
    fn masks_cover_more_than_64_lists() {
        let names: Vec<String> = (0..130).map(|i| format!("l{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let g = Groups::build(&[group("g", &["10.0.0.0/8"], &["l129"])], &refs).expect("valid");
        let r = g.of("10.1.2.3".parse().expect("ip"));
        assert!(r.applies(129) && r.applies(0) && r.applies(128));
        let d = g.of("11.1.2.3".parse().expect("ip"));
        assert!(!d.applies(129) && d.applies(128));
    }
}
