//! Patching a frozen set: a copy of the serving set with a few names'
//! rules changed (an IXFR diff), in time proportional to the copy and the
//! change, not to a rebuild. Lookups on the result run exactly as on a
//! built set: same layout, same probe invariants.
//!
//! - A changed name already stored keeps its record; its action byte,
//!   line and slot meta bits are rewritten in place (in the copy).
//! - A new name is appended to the arena and placed on its probe run like
//!   a build insert (marking same-tag slots it walks past as shared); a
//!   deep one makes sure its two-label anchor is flagged `DEEPER`.
//! - A removed name's record stays, action-less (a marker): a probe that
//!   meets it finds no rule. Anchors are never unflagged, which costs a
//!   miss under them one more probe, never a wrong answer.
//!
//! When the copy would pass a 0.7 load factor the patch is declined and
//! the caller rebuilds the set whole.

use super::build::place;
use super::key::hash_name;
use super::table::{anchor_of, slot_index, slot_offset, slot_tag, slot_value, tag_of};
use super::*;

/// One name's complete rules after a change; `None` = no rule at that
/// depth. Both `None` removes the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRules {
    /// Normalised name (lowercase, no final dot).
    pub name: String,
    /// The rule for the name itself, and its source line.
    pub exact: Option<(EntryAction, u32)>,
    /// The rule for names below it, and its source line.
    pub below: Option<(EntryAction, u32)>,
}

/// What a patch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PatchStats {
    /// Names listed now that were not before.
    pub added: usize,
    /// Names listed before that are not now.
    pub removed: usize,
}

fn meta_of(actions: u8, flags: u8) -> u8 {
    let mut meta = 0;
    if actions & 0x0f != 0 {
        meta |= META_EXACT;
    }
    if actions >> 4 != 0 {
        meta |= META_BELOW;
    }
    if flags & FLAG_DEEPER != 0 {
        meta |= META_DEEPER;
    }
    meta
}

impl DomainSet {
    /// Every entry (not markers): its name and action byte (exact rule in
    /// the low nibble, below rule in the high one), in arena order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], u8)> + '_ {
        let mut off = 0;
        std::iter::from_fn(move || {
            while off < self.arena.len() {
                let r = self.record(off);
                off += RECORD_OVERHEAD + r.name.len();
                if r.actions != 0 {
                    return Some((r.name, r.actions));
                }
            }
            None
        })
    }

    /// The action byte of `name` (0 when not listed).
    pub fn actions_of(&self, name: &str) -> u8 {
        self.find(name.as_bytes(), hash_name(name.as_bytes()))
            .map_or(0, |r| r.actions)
    }

    /// A copy of this set with `changes` applied, or `None` when the copy
    /// would be too crowded to stay fast (rebuild instead). A name longer
    /// than 255 bytes is an error, as in a build.
    pub fn patched(
        &self,
        changes: &[NameRules],
    ) -> Result<Option<(DomainSet, PatchStats)>, BuildError> {
        let grows = changes.len() * 2;
        if (self.len + self.markers + grows) * 10 > self.homes * 7 {
            return Ok(None);
        }
        let mut set = DomainSet {
            arena: crate::sys::memory::copy_bytes(&self.arena),
            table: self.table.clone(),
            homes: self.homes,
            one_label: self.one_label,
            len: self.len,
            markers: self.markers,
            below_lines: self.below_lines.clone(),
        };
        let mut stats = PatchStats::default();
        for c in changes {
            set.patch_one(c, &mut stats)?;
        }
        Ok(Some((set, stats)))
    }

    fn patch_one(&mut self, c: &NameRules, stats: &mut PatchStats) -> Result<(), BuildError> {
        let name = c.name.as_bytes();
        if name.len() > 255 {
            return Err(BuildError::NameTooLong);
        }
        let exact = c.exact.map_or(0, |(a, _)| a as u8);
        let below = c.below.map_or(0, |(a, _)| a as u8);
        let actions = exact | (below << 4);
        // The record's line is the exact rule's, else the below rule's;
        // a below rule from another line goes to `below_lines`.
        let line = c.exact.or(c.below).map_or(0, |(_, l)| l);
        let below_line = match (c.exact, c.below) {
            (Some((_, le)), Some((_, lb))) if le != lb => Some(lb),
            _ => None,
        };
        let h = hash_name(name);
        let found = self
            .find(name, h)
            .map(|r| (r.offset as usize, r.actions != 0));
        let off = match found {
            Some((off, was)) => {
                match (was, actions != 0) {
                    (true, false) => {
                        stats.removed += 1;
                        self.len -= 1;
                        self.markers += 1;
                    }
                    (false, true) => {
                        stats.added += 1;
                        self.len += 1;
                        self.markers -= 1;
                    }
                    _ => {}
                }
                off
            }
            None if actions == 0 => return Ok(()),
            None => {
                stats.added += 1;
                self.len += 1;
                if !name.contains(&b'.') {
                    self.one_label = true;
                }
                self.append(name, h, 0, 0)?
            }
        };
        let n = name.len();
        self.arena[off + 1 + n] = actions;
        self.arena[off + 3 + n..off + 7 + n].copy_from_slice(&line.to_le_bytes());
        match below_line {
            Some(l) => {
                self.below_lines.insert(off as u32, l);
            }
            None => {
                self.below_lines.remove(&(off as u32));
            }
        }
        self.refresh_meta(off, h);
        if actions != 0 {
            if let Some(anchor) = anchor_of(name) {
                let anchor = anchor.to_vec();
                self.flag_deeper(&anchor)?;
            }
        }
        Ok(())
    }

    /// Append a record and place its slot; returns its offset.
    fn append(&mut self, name: &[u8], h: u64, actions: u8, flags: u8) -> Result<usize, BuildError> {
        let off = self.arena.len();
        if off + RECORD_OVERHEAD + name.len() >= u32::MAX as usize {
            return Err(BuildError::TooLarge);
        }
        self.arena.push(name.len() as u8);
        self.arena.extend_from_slice(name);
        self.arena.extend_from_slice(&[actions, flags, 0, 0, 0, 0]);
        place(
            &mut self.table,
            self.homes,
            h,
            slot_value(h, meta_of(actions, flags), off),
        );
        Ok(off)
    }

    /// Make sure the two-label `anchor` is stored and flagged `DEEPER`.
    fn flag_deeper(&mut self, anchor: &[u8]) -> Result<(), BuildError> {
        let h = hash_name(anchor);
        match self.find(anchor, h).map(|r| (r.offset as usize, r.flags)) {
            Some((_, flags)) if flags & FLAG_DEEPER != 0 => {}
            Some((off, _)) => {
                self.arena[off + 2 + anchor.len()] |= FLAG_DEEPER;
                self.refresh_meta(off, h);
            }
            None => {
                self.markers += 1;
                self.append(anchor, h, 0, FLAG_DEEPER)?;
            }
        }
        Ok(())
    }

    /// Rewrite the meta bits of the slot pointing at record `off` (hash
    /// `h`) from the record, keeping its `SHARED` bit.
    fn refresh_meta(&mut self, off: usize, h: u64) {
        let n = usize::from(self.arena[off]);
        let meta = meta_of(self.arena[off + 1 + n], self.arena[off + 2 + n]);
        let tag = tag_of(h);
        let mut i = slot_index(h, self.homes);
        while let Some(s) = self.table.get_mut(i) {
            if *s == 0 {
                return;
            }
            if slot_tag(*s) == tag && slot_offset(*s) == off {
                let shared = *s & (u64::from(META_SHARED) << META_SHIFT);
                *s = slot_value(h, meta, off) | shared;
                return;
            }
            i += 1;
        }
    }
}
