//! The decision for one name over every list in force: allow beats block,
//! the most specific rule wins, dry-run lists only count.

use std::sync::Arc;

use super::compile::CompiledList;
use super::groups::GroupRef;
use super::matcher::{is_anchor, Hit, LookupKey};
use super::rule::EntryAction;
use crate::config::{ListKind, ListMode, ListState};
use crate::wire::ede::Ede;

/// The lists in force, in configuration order.
#[derive(Debug, Default)]
pub struct Policy {
    /// Compiled lists in force; an entry is `None` if it never loaded or
    /// is outside its dates (then it is in `held`). Queries are decided
    /// on these alone, so a date costs the query path nothing: the store
    /// republishes the policy when a list's window opens or closes.
    pub lists: Vec<Option<Arc<CompiledList>>>,
    /// Loaded lists outside their `effective_from`/`expires_at` window,
    /// kept for `explain` and for the next reload to diff against.
    pub held: Vec<HeldList>,
}

/// A loaded list that is not enforced because of its dates.
#[derive(Debug, Clone)]
pub struct HeldList {
    /// Its index in the configuration (and in [`Policy::lists`]).
    pub index: usize,
    /// The compiled list.
    pub list: Arc<CompiledList>,
    /// `Pending` or `Expired`.
    pub state: ListState,
}

/// A block list rule that matched.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// The list.
    pub list: &'a CompiledList,
    /// Labels between the query name and the listed name (0 = exact).
    pub depth: usize,
    /// The rule's source line and action.
    pub hit: Hit,
}

impl Block<'_> {
    /// The EDE a blocked answer carries: the list's code (15, 16 or 17)
    /// and text. The one source for the normal path, the alias-chain stage
    /// and the fast path's answers built on the wire.
    pub fn ede(&self) -> Ede<'_> {
        Ede::new(self.list.cfg.ede, &self.list.ede_text)
    }
}

/// Outcome of the policy stage.
#[derive(Debug)]
pub enum Decision<'a> {
    /// No list mentions the name.
    NotListed,
    /// An allow list or a passthru rule covers the name; resolve normally.
    Allowed {
        /// The list.
        list: &'a CompiledList,
        /// The rule's source line.
        line: u32,
    },
    /// An enforcing block list covers the name.
    Blocked(Block<'a>),
}

/// The decision plus what dry-run lists would have done.
#[derive(Debug)]
pub struct Verdict<'a> {
    /// What to do.
    pub decision: Decision<'a>,
    /// The dry-run rule that would have blocked, had its list enforced.
    pub would_block: Option<Block<'a>>,
}

/// Bit for list `i` in an active-lists mask (lists past 64 are always
/// probed).
fn bit(i: usize) -> u64 {
    if i < 64 {
        1 << i
    } else {
        0
    }
}

impl Policy {
    /// Decide for a prepared name. Allow lists and passthru rules beat any
    /// block; among block rules the most specific listed name wins, then
    /// configuration order. One pass over the suffixes, TLD first; lists
    /// whose anchor (two-label suffix) is absent are not probed deeper.
    /// Allocation-free, the re-check below included (`tests/alloc_free.rs`).
    ///
    /// A query label may hold a dot (any byte is legal in a label), and
    /// the key's dotted text cannot tell `ads\.example` under `zz` from
    /// `ads.example.zz`. List names never hold one, so a decision that
    /// found a rule is checked once more on such a name with its in-label
    /// dots made unmatchable: only a parent to the right of the odd label
    /// can then match. The check runs only when some rule matched.
    pub fn decide(&self, key: &LookupKey) -> Verdict<'_> {
        self.decide_among(key, |_| true)
    }

    /// [`Policy::decide`] over the lists that apply to a client's group
    /// (see [`super::groups`]): a list outside the group's mask is skipped
    /// before its table is read. Without groups this is
    /// [`Policy::decide`] itself, not one bit test more.
    #[inline]
    pub fn decide_for(&self, key: &LookupKey, group: GroupRef<'_>) -> Verdict<'_> {
        match group.mask {
            None => self.decide(key),
            Some(m) => self.decide_among(key, |i| m.has(i)),
        }
    }

    #[inline]
    fn decide_among(&self, key: &LookupKey, applies: impl Fn(usize) -> bool + Copy) -> Verdict<'_> {
        let v = self.decide_labels(key, applies);
        if v.would_block.is_none() && matches!(v.decision, Decision::NotListed)
            || !key.has_label_dots()
        {
            return v;
        }
        self.decide_labels(&key.without_label_dots(), applies)
    }

    /// [`Policy::decide`] taking the key's dotted text at its word.
    fn decide_labels(
        &self,
        key: &LookupKey,
        applies: impl Fn(usize) -> bool + Copy,
    ) -> Verdict<'_> {
        let Some(hs) = key.suffix_hashes() else {
            return self.walk_among(key, applies);
        };
        // Each list scans its table first (independent reads the CPU
        // overlaps), then confirms its few candidates in the arena. The
        // order rules are those of `decide_walk`, written as comparisons:
        // `i` counts suffixes TLD first, so deeper means larger `i`, and
        // lists are visited in order so ties keep the earlier list.
        let mut best: Option<(usize, Block<'_>)> = None;
        let mut dry: Option<(usize, Block<'_>)> = None;
        let mut allowed: Option<(usize, &CompiledList, u32)> = None;
        for (idx, list) in self.lists.iter().enumerate() {
            let Some(list) = list.as_deref() else {
                continue;
            };
            if !applies(idx) {
                continue;
            }
            let scan = list.set.scan(hs);
            for i in scan.tld_first() {
                let Some(hit) = list.set.confirm(key, hs, &scan, i) else {
                    continue;
                };
                if list.cfg.kind == ListKind::Allow || hit.action == EntryAction::Passthru {
                    if allowed.is_none_or(|(j, _, _)| i < j) {
                        allowed = Some((i, list, hit.line));
                    }
                    continue;
                }
                let b = Block {
                    list,
                    depth: hs.depth(i),
                    hit,
                };
                let slot = if list.cfg.mode == ListMode::DryRun {
                    &mut dry
                } else {
                    &mut best
                };
                if slot.as_ref().is_none_or(|(j, _)| i > *j) {
                    *slot = Some((i, b));
                }
            }
        }
        if let Some((_, list, line)) = allowed {
            return Verdict {
                decision: Decision::Allowed { list, line },
                would_block: None,
            };
        }
        let best = best.map(|(_, b)| b);
        Verdict {
            would_block: if best.is_none() {
                dry.map(|(_, b)| b)
            } else {
                None
            },
            decision: best.map_or(Decision::NotListed, Decision::Blocked),
        }
    }

    /// Bring the table slots this name's decision will read into cache,
    /// for every list (see [`DomainSet::touch`]); no effect on answers.
    pub fn touch(&self, key: &LookupKey) {
        if let Some(hs) = key.suffix_hashes() {
            for list in self.lists.iter().flatten() {
                list.set.touch(hs);
            }
        }
    }

    /// Second step after [`Policy::touch`], for every list: start loading
    /// what the decision reads next, deeper slots or the record to confirm
    /// (see [`DomainSet::touch_next`]); no effect on answers.
    pub fn touch_next(&self, key: &LookupKey) {
        if let Some(hs) = key.suffix_hashes() {
            for list in self.lists.iter().flatten() {
                list.set.touch_next(hs);
            }
        }
    }

    /// [`Policy::decide`] as one pass over the suffixes, TLD first, every
    /// list probed at each; lists whose anchor (two-label suffix) is absent
    /// are not probed deeper. Used for names deeper than the two-pass
    /// lookup handles, and as the reference the two-pass one is tested
    /// against.
    pub fn decide_walk(&self, key: &LookupKey) -> Verdict<'_> {
        self.walk_among(key, |_| true)
    }

    /// [`Policy::decide_walk`] over the lists for which `applies` holds.
    fn walk_among(&self, key: &LookupKey, applies: impl Fn(usize) -> bool) -> Verdict<'_> {
        let mut best: Option<Block<'_>> = None;
        let mut dry: Option<Block<'_>> = None;
        let mut active = u64::MAX;
        let mut allowed = None;
        for sfx in key.suffixes() {
            let anchor = is_anchor(key, &sfx);
            let mut found_here = false;
            let mut dry_here = false;
            for (i, list) in self.lists.iter().enumerate() {
                let Some(list) = list.as_deref() else {
                    continue;
                };
                if active & bit(i) == 0 && i < 64 || !applies(i) {
                    continue;
                }
                let probe = list.set.probe(&sfx);
                if anchor && !probe.deeper {
                    active &= !bit(i);
                }
                let Some(hit) = probe.hit else {
                    continue;
                };
                if list.cfg.kind == ListKind::Allow || hit.action == EntryAction::Passthru {
                    if allowed.is_none() {
                        allowed = Some((list, hit.line));
                    }
                    continue;
                }
                // Suffixes come least specific first: a rule found at this
                // depth replaces one found higher up, and the first list in
                // order wins at equal depth.
                let b = Block {
                    list,
                    depth: sfx.depth,
                    hit,
                };
                if list.cfg.mode == ListMode::DryRun {
                    if !dry_here {
                        dry = Some(b);
                        dry_here = true;
                    }
                } else if !found_here {
                    best = Some(b);
                    found_here = true;
                }
            }
            if active == 0 {
                break;
            }
        }
        if let Some((list, line)) = allowed {
            return Verdict {
                decision: Decision::Allowed { list, line },
                would_block: None,
            };
        }
        Verdict {
            would_block: if best.is_none() { dry } else { None },
            decision: best.map_or(Decision::NotListed, Decision::Blocked),
        }
    }

    /// Total entries over all lists.
    pub fn entries(&self) -> usize {
        self.lists.iter().flatten().map(|l| l.set.len()).sum()
    }

    /// True when every configured list has loaded at least once.
    pub fn complete(&self) -> bool {
        self.lists
            .iter()
            .enumerate()
            .all(|(i, l)| l.is_some() || self.held.iter().any(|h| h.index == i))
    }

    /// The shared handle of a list in force (a decision borrows the list;
    /// the query log keeps it past the decision). A scan of a few lists.
    pub fn shared(&self, list: &CompiledList) -> Option<Arc<CompiledList>> {
        self.lists
            .iter()
            .flatten()
            .find(|l| std::ptr::eq(l.as_ref(), list))
            .cloned()
    }

    /// List `i` as loaded, in force or held by its dates.
    pub fn loaded(&self, i: usize) -> Option<&Arc<CompiledList>> {
        self.lists
            .get(i)
            .and_then(Option::as_ref)
            .or_else(|| self.held.iter().find(|h| h.index == i).map(|h| &h.list))
    }
}
