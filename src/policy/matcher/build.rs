//! Building a set: names are queued, merged and placed in batches, then
//! frozen into a [`DomainSet`].

use super::key::hash_name;
use super::table::{anchor_of, slot_index, slot_tag, slot_value, tag_of, touch_slots};
use super::*;

/// Why a set could not be built.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// Names longer than 255 bytes cannot be stored (the parser already
    /// rejects anything over 253).
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// The arena passed 4 GiB (about 150M names).
    #[error("list too large: arena passed 4 GiB")]
    TooLarge,
}

/// Names inserted at once. Each insert probes a random slot of a table
/// far larger than the CPU caches (~250 ns when the reads depend on each
/// other on this machine, ~17 ns when independent ones overlap), so
/// inserts are queued and each batch first reads every home slot it will
/// need, then inserts in order.
pub(super) const BATCH: usize = 32;

/// A queued insert; its name sits in `DomainSetBuilder::pending_names`.
pub(super) struct Pending {
    pub(super) end: usize,
    pub(super) hash: u64,
    pub(super) scope: Scope,
    pub(super) action: EntryAction,
    pub(super) line: u32,
}

/// Accumulates names, merging duplicates, then freezes into a [`DomainSet`].
#[derive(Default)]
pub struct DomainSetBuilder {
    pub(super) set: DomainSet,
    pub(super) pending: Vec<Pending>,
    pub(super) pending_names: Vec<u8>,
    /// The first build error; later inserts are ignored.
    pub(super) error: Option<BuildError>,
}

/// Home slots of a finished set holding `names` (entries and markers): a
/// 0.5 load factor.
pub(super) fn final_homes(names: usize) -> usize {
    (names * 2 + 1).max(4)
}

/// Place `slot` on `hash`'s probe run: the first empty slot from its home
/// on, appending a slot in the (astronomically rare) case that the run
/// passes the padding. Every occupied slot walked past that has the same
/// tag is marked [`META_SHARED`] (see [`DomainSet::peek`]).
pub(super) fn place(table: &mut Vec<u64>, homes: usize, hash: u64, slot: u64) {
    let tag = tag_of(hash);
    let mut i = slot_index(hash, homes);
    loop {
        match table.get_mut(i) {
            None => table.push(0),
            Some(s) if *s == 0 => {
                *s = slot;
                return;
            }
            Some(s) => {
                if slot_tag(*s) == tag {
                    *s |= u64::from(META_SHARED) << META_SHIFT;
                }
                i += 1;
            }
        }
    }
}

impl DomainSetBuilder {
    /// A builder expecting about `n` names.
    pub fn with_capacity(n: usize) -> Self {
        let mut b = Self::default();
        // Advised before the first byte is written, so the arena is on
        // huge pages from the start and, if the estimate holds, never
        // reallocated.
        b.set.arena = Vec::with_capacity(n * 26);
        crate::sys::memory::advise(&b.set.arena);
        b.set.homes = (n * 2).next_power_of_two().max(16);
        b.set.table = crate::sys::memory::zeroed_u64(b.set.homes + PAD);
        b
    }

    /// Would `more` names push the table past a 0.8 load factor?
    pub(super) fn crowded(&self, more: usize) -> bool {
        (self.set.len + self.set.markers + more) * 5 > self.set.homes * 4
    }

    pub(super) fn grow(&mut self) {
        let homes = (self.set.homes * 2).max(16);
        self.rehash(homes);
    }

    pub(super) fn rehash(&mut self, homes: usize) {
        let mut table = crate::sys::memory::zeroed_u64(homes + PAD);
        let arena = &self.set.arena;
        let mut batch = [(0u64, 0usize, 0u8); BATCH];
        let mut off = 0;
        while off < arena.len() {
            // Gather a batch of records, read their home slots together,
            // then place them (the same order as one at a time).
            let mut n_batch = 0;
            while n_batch < BATCH && off < arena.len() {
                let n = usize::from(arena[off]);
                let h = hash_name(&arena[off + 1..off + 1 + n]);
                let (actions, flags) = (arena[off + 1 + n], arena[off + 2 + n]);
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
                batch[n_batch] = (h, off, meta);
                n_batch += 1;
                off += RECORD_OVERHEAD + n;
            }
            touch_slots(&table, homes, batch[..n_batch].iter().map(|b| b.0));
            for &(h, at, meta) in &batch[..n_batch] {
                place(&mut table, homes, h, slot_value(h, meta, at));
            }
        }
        self.set.table = table;
        self.set.homes = homes;
    }

    /// Find or append the record for `bytes`; returns its offset and
    /// whether it is new.
    pub(super) fn slot_for(&mut self, bytes: &[u8], h: u64) -> Result<(usize, bool), BuildError> {
        if bytes.len() > 255 {
            return Err(BuildError::NameTooLong);
        }
        if self.crowded(1) {
            self.grow();
        }
        if let Some(r) = self.set.find(bytes, h) {
            return Ok((r.offset as usize, false));
        }
        let off = self.set.arena.len();
        if off + RECORD_OVERHEAD + bytes.len() >= u32::MAX as usize {
            return Err(BuildError::TooLarge);
        }
        self.set.arena.push(bytes.len() as u8);
        self.set.arena.extend_from_slice(bytes);
        self.set.arena.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        // Meta bits are filled in by the final rehash in `finish`.
        place(
            &mut self.set.table,
            self.set.homes,
            h,
            slot_value(h, 0, off),
        );
        Ok((off, true))
    }

    /// Add a normalised name. The first rule for a scope wins (a repeated
    /// name keeps its first line); a later rule may add the other scope.
    /// Inserts are queued and applied in batches (in order); an error from
    /// a queued insert is returned by a later call or by
    /// [`DomainSetBuilder::finish`], and the builder then ignores the rest.
    pub fn insert(
        &mut self,
        name: &str,
        scope: Scope,
        action: EntryAction,
        line: u32,
    ) -> Result<(), BuildError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if name.len() > 255 {
            return Err(BuildError::NameTooLong);
        }
        self.pending_names.extend_from_slice(name.as_bytes());
        self.pending.push(Pending {
            end: self.pending_names.len(),
            hash: hash_name(name.as_bytes()),
            scope,
            action,
            line,
        });
        if self.pending.len() == BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Apply the queued inserts.
    pub(super) fn flush(&mut self) -> Result<(), BuildError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        while self.crowded(self.pending.len()) {
            self.grow();
        }
        touch_slots(
            &self.set.table,
            self.set.homes,
            self.pending.iter().map(|p| p.hash),
        );
        let pending = std::mem::take(&mut self.pending);
        let names = std::mem::take(&mut self.pending_names);
        let mut start = 0;
        let mut result = Ok(());
        for p in &pending {
            let name = &names[start..p.end];
            start = p.end;
            if let Err(e) = self.apply(name, p.hash, p.scope, p.action, p.line) {
                self.error = Some(e.clone());
                result = Err(e);
                break;
            }
        }
        // Keep the buffers' capacity for the next batch.
        self.pending = pending;
        self.pending.clear();
        self.pending_names = names;
        self.pending_names.clear();
        result
    }

    pub(super) fn apply(
        &mut self,
        name: &[u8],
        hash: u64,
        scope: Scope,
        action: EntryAction,
        line: u32,
    ) -> Result<(), BuildError> {
        let (off, _) = self.slot_for(name, hash)?;
        let n = name.len();
        let code = action as u8;
        let actions = self.set.arena[off + 1 + n];
        let (mut exact, mut below) = (actions & 0x0f, actions >> 4);
        let line_at = off + 3 + n..off + 7 + n;
        let mut recorded = [0u8; 4];
        recorded.copy_from_slice(&self.set.arena[line_at.clone()]);
        let recorded = u32::from_le_bytes(recorded);
        // The record's line is the exact rule's line when there is one,
        // else the below rule's; a below rule from another line goes to
        // `below_lines`. Rules may come in either order (`*.x` before `x`).
        let sets_exact = matches!(scope, Scope::Exact | Scope::Subtree) && exact == 0;
        let sets_below = matches!(scope, Scope::Below | Scope::Subtree) && below == 0;
        if actions == 0 {
            self.set.len += 1;
            self.set.arena[line_at].copy_from_slice(&line.to_le_bytes());
        } else if sets_exact {
            // Only a below rule so far: its line moves aside.
            if recorded != line {
                self.set.below_lines.insert(off as u32, recorded);
            }
            self.set.arena[line_at].copy_from_slice(&line.to_le_bytes());
        } else if sets_below && recorded != line {
            self.set.below_lines.insert(off as u32, line);
        }
        if sets_exact {
            exact = code;
        }
        if sets_below {
            below = code;
        }
        self.set.arena[off + 1 + n] = exact | (below << 4);
        Ok(())
    }

    /// Distinct names added so far (applies queued inserts first).
    pub fn len(&mut self) -> usize {
        // An error is kept in `self.error` and reported by `finish`.
        let _ = self.flush();
        self.set.len
    }

    /// True when nothing was added (applies queued inserts first).
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Freeze: add anchor markers, trim the arena, size the table for a
    /// 0.5 load factor.
    pub fn finish(mut self) -> Result<DomainSet, BuildError> {
        self.flush()?;
        // (offset, length) of each deep entry's anchor inside the arena;
        // copied to a stack buffer before insertion since inserting grows
        // the arena.
        let mut anchors: Vec<(u32, u8)> = Vec::new();
        let mut off = 0;
        let end = self.set.arena.len();
        while off < end {
            let n = usize::from(self.set.arena[off]);
            let name = &self.set.arena[off + 1..off + 1 + n];
            if let Some(a) = anchor_of(name) {
                anchors.push(((off + 1 + n - a.len()) as u32, a.len() as u8));
            } else if !name.contains(&b'.') {
                self.set.one_label = true;
            }
            off += RECORD_OVERHEAD + n;
        }
        let mut buf = [0u8; 255];
        for chunk in anchors.chunks(BATCH) {
            let mut hashes = [0u64; BATCH];
            for (h, &(start, len)) in hashes.iter_mut().zip(chunk) {
                let (start, len) = (start as usize, usize::from(len));
                *h = hash_name(&self.set.arena[start..start + len]);
            }
            // Grow before touching, so the slots read are the ones used.
            while self.crowded(chunk.len()) {
                self.grow();
            }
            touch_slots(
                &self.set.table,
                self.set.homes,
                hashes[..chunk.len()].iter().copied(),
            );
            for (&h, &(start, len)) in hashes.iter().zip(chunk) {
                let (start, len) = (start as usize, usize::from(len));
                buf[..len].copy_from_slice(&self.set.arena[start..start + len]);
                let (off, new) = self.slot_for(&buf[..len], h)?;
                let flags = off + 2 + len;
                if new {
                    self.set.markers += 1;
                }
                self.set.arena[flags] |= FLAG_DEEPER;
            }
        }
        // Trim the arena: in place when the estimate was close, otherwise
        // into a fresh allocation advised for huge pages.
        let (len, capacity) = (self.set.arena.len(), self.set.arena.capacity());
        if capacity - len > len / 4 {
            self.set.arena = crate::sys::memory::copy_bytes(&self.set.arena);
        } else {
            self.set.arena.shrink_to_fit();
        }
        self.set.below_lines.shrink_to_fit();
        let homes = final_homes(self.set.len + self.set.markers);
        // Free the build table before allocating the final one, so peak
        // memory is one table, not two.
        self.set.table = Vec::new();
        self.rehash(homes);
        Ok(self.set)
    }
}
