//! The frozen set: arena records, the open-addressing slot table and the
//! two-pass lookup over them (see the parent module for the layout).

use super::key::{same_prefix, LookupKey, Suffix, SuffixHashes};
use super::*;

/// First-pass result for one set: which suffixes may hold a rule that
/// applies at their depth, TLD first, up to where the walk stopped.
#[derive(Clone, Copy, Default)]
pub struct Scan {
    pub(super) candidates: u32,
    /// Per candidate, the first slot with its tag (offset + 1): nearly
    /// always the record itself, so confirming does not probe again.
    pub(super) first: [u32; FAST_LABELS],
}

impl Scan {
    /// Indexes (TLD first) of the suffixes to confirm, deepest first.
    pub fn deepest_first(self) -> impl Iterator<Item = usize> {
        let mut bits = self.candidates;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = 31 - bits.leading_zeros() as usize;
            bits &= !(1 << i);
            Some(i)
        })
    }

    /// Indexes (TLD first) of the suffixes to confirm, TLD first.
    pub fn tld_first(self) -> impl Iterator<Item = usize> {
        let mut bits = self.candidates;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(i)
        })
    }
}

/// What a set says about one suffix of a query name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The entry's action for this position (exact or below).
    pub action: EntryAction,
    /// Source line of the rule that set it.
    pub line: u32,
}

/// Result of probing one suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The rule covering this suffix at this depth, if any.
    pub hit: Option<Hit>,
    /// Whether names deeper than this suffix are listed (anchors only).
    pub deeper: bool,
}

/// The immutable compiled set.
#[derive(Default)]
pub struct DomainSet {
    pub(super) arena: Vec<u8>,
    pub(super) table: Vec<u64>,
    /// Home slots: a hash's probe run starts in `0..homes`; the table has
    /// at least [`PAD`] slots more.
    pub(super) homes: usize,
    /// Some name has a single label (a TLD): only then does a lookup probe
    /// the query's TLD.
    pub(super) one_label: bool,
    pub(super) len: usize,
    pub(super) markers: usize,
    /// Line of the below-scope rule where it differs from the record's
    /// (RPZ `x` and `*.x` on separate lines), keyed by record offset.
    pub(super) below_lines: HashMap<u32, u32>,
}

impl std::fmt::Debug for DomainSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainSet")
            .field("len", &self.len)
            .field("bytes", &self.heap_bytes())
            .finish()
    }
}

#[inline]
pub(super) fn tag_of(hash: u64) -> u64 {
    hash >> TAG_SHIFT
}

#[inline]
pub(super) fn slot_tag(slot: u64) -> u64 {
    slot >> TAG_SHIFT
}

#[inline]
pub(super) fn slot_meta(slot: u64) -> u8 {
    ((slot >> META_SHIFT) & 0xf) as u8
}

#[inline]
pub(super) fn slot_offset(slot: u64) -> usize {
    (slot as u32 - 1) as usize
}

#[inline]
pub(super) fn slot_value(hash: u64, meta: u8, offset: usize) -> u64 {
    (tag_of(hash) << TAG_SHIFT) | (u64::from(meta) << META_SHIFT) | (offset as u64 + 1)
}

#[inline]
pub(super) fn slot_index(hash: u64, cap: usize) -> usize {
    // Lemire's range reduction over the low 32 bits (the high 32 are the
    // tag, so index and tag stay independent): any table size, no modulo.
    ((u64::from(hash as u32) * cap as u64) >> 32) as usize
}

impl DomainSet {
    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no name is listed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (arena + table), for memory reporting.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * 8
    }

    /// Names marked only to speed up misses (not entries).
    pub fn markers(&self) -> usize {
        self.markers
    }

    pub(super) fn record(&self, offset: usize) -> Record<'_> {
        let rec = &self.arena[offset..];
        Record::decode(rec, offset, usize::from(rec[0]))
    }

    /// The slots along `hash`'s probe sequence whose tag matches, up to
    /// the first empty slot (or the table's end): every place the name can
    /// be.
    #[inline]
    pub(super) fn tagged_slots(&self, hash: u64) -> impl Iterator<Item = u64> + '_ {
        let tag = tag_of(hash);
        let mut i = slot_index(hash, self.homes);
        std::iter::from_fn(move || loop {
            let slot = *self.table.get(i)?;
            if slot == 0 {
                return None;
            }
            i += 1;
            if slot_tag(slot) == tag {
                return Some(slot);
            }
        })
    }

    #[inline]
    pub(super) fn find(&self, name: &[u8], hash: u64) -> Option<Record<'_>> {
        self.tagged_slots(hash)
            .map(|slot| self.record(slot_offset(slot)))
            .find(|r| r.name == name)
    }

    /// Table-only look at one hash: the union of the meta bits of every
    /// slot with its tag plus [`PEEK_FOUND`] (0 when the name is certainly
    /// absent), and the first such slot's `offset + 1`.
    ///
    /// The walk ends at the first slot with the tag unless that slot is
    /// marked [`META_SHARED`]: the build marks every slot that a later
    /// insert with the same tag walked past, and with linear probing and
    /// no deletions that is every slot a lookup could meet before its own
    /// name's slot. So a present name's probe usually reads one slot.
    #[inline]
    pub(super) fn peek(&self, hash: u64) -> (u8, u32) {
        let mut slots = self.tagged_slots(hash);
        let Some(first) = slots.next() else {
            return (0, 0);
        };
        // Rare when shared: present or a collision, which the second pass
        // rejects; take the union over the rest of the run.
        let mut meta = slot_meta(first) | PEEK_FOUND;
        if meta & META_SHARED != 0 {
            meta = slots.fold(meta, |meta, slot| meta | slot_meta(slot));
        }
        (meta, first as u32)
    }

    /// First pass of a lookup: table reads only, no arena. The walk stops
    /// after the two-label anchor unless the table says deeper names are
    /// listed (a collision can only make it walk further, never less).
    #[inline]
    pub fn scan(&self, hs: &SuffixHashes) -> Scan {
        let mut scan = Scan::default();
        for i in self.first_probed(hs)..hs.len {
            let (meta, first) = self.peek(hs.hashes[i]);
            let wanted = if i + 1 == hs.len {
                META_EXACT
            } else {
                META_BELOW
            };
            if meta & wanted != 0 {
                scan.candidates |= 1 << i;
                scan.first[i] = first;
            }
            // Index 1 is the two-label suffix: the anchor of longer names.
            if i == 1 && hs.len > 2 && meta & META_DEEPER == 0 {
                break;
            }
        }
        scan
    }

    /// Index of the first suffix worth probing: without single-label names
    /// in the set the TLD cannot match, so its probe is skipped (unless the
    /// query is a TLD itself).
    #[inline]
    pub(super) fn first_probed(&self, hs: &SuffixHashes) -> usize {
        usize::from(!self.one_label && hs.len > 1)
    }

    /// Second pass for candidate `i` of `scan`: read its record and return
    /// the rule if the suffix really is listed with a rule for its depth.
    #[inline]
    pub fn confirm(
        &self,
        key: &LookupKey,
        hs: &SuffixHashes,
        scan: &Scan,
        i: usize,
    ) -> Option<Hit> {
        let i = i & (FAST_LABELS - 1);
        let depth = hs.depth(i);
        let start = usize::from(key.starts[depth & (MAX_LABELS - 1)]);
        let n = key.len.saturating_sub(start);
        // The scan's first tagged slot: the record, unless two names share
        // a tag (then probe the whole sequence, out of line).
        let first = scan.first[i] as usize;
        if let Some(rec) = first
            .checked_sub(1)
            .and_then(|off| self.arena.get(off..off + n + 8))
        {
            // The record and a byte to spare (the next record's) for the
            // word compare.
            if usize::from(rec[0]) == n && same_prefix(&rec[1..], &key.buf, start, n) {
                return self.hit(&Record::decode(rec, first - 1, n), depth > 0);
            }
        }
        self.confirm_by_probe(key, hs, i)
    }

    /// [`DomainSet::confirm`] when the scan's first slot is not the name:
    /// a tag shared with another name, or the arena's last record.
    #[cold]
    #[inline(never)]
    pub(super) fn confirm_by_probe(
        &self,
        key: &LookupKey,
        hs: &SuffixHashes,
        i: usize,
    ) -> Option<Hit> {
        let depth = hs.depth(i);
        let r = self.find(key.suffix(depth), hs.hashes[i])?;
        self.hit(&r, depth > 0)
    }

    /// The rule record `r` holds for a name at its depth (`below`: a
    /// parent of the query).
    #[inline(always)]
    pub(super) fn hit(&self, r: &Record<'_>, below: bool) -> Option<Hit> {
        let code = if below {
            r.actions >> 4
        } else {
            r.actions & 0x0f
        };
        let action = EntryAction::from_code(code)?;
        let line = if below && !self.below_lines.is_empty() {
            self.below_lines.get(&r.offset).copied().unwrap_or(r.line)
        } else {
            r.line
        };
        Some(Hit { action, line })
    }

    /// Probe one suffix of a query name: depth 0 is the name itself and
    /// needs an exact-scope rule, a parent needs a below-scope rule.
    #[inline]
    pub fn probe(&self, s: &Suffix<'_>) -> Probe {
        match self.find(s.name, s.hash) {
            None => Probe {
                hit: None,
                deeper: false,
            },
            Some(r) => Probe {
                hit: self.hit(&r, s.depth > 0),
                deeper: r.flags & FLAG_DEEPER != 0,
            },
        }
    }

    /// The rule covering this suffix, if any.
    #[inline]
    pub fn covers(&self, s: &Suffix<'_>) -> Option<Hit> {
        self.probe(s).hit
    }

    /// Look up a normalised name: its exact-scope rule.
    pub fn get_name(&self, name: &str) -> Option<Hit> {
        let r = self.find(name.as_bytes(), hash_name(name.as_bytes()))?;
        self.hit(&r, false).or_else(|| self.hit(&r, true))
    }

    /// The rules stored for a name: (exact, below).
    pub fn rules(&self, name: &str) -> (Option<Hit>, Option<Hit>) {
        match self.find(name.as_bytes(), hash_name(name.as_bytes())) {
            Some(r) => (self.hit(&r, false), self.hit(&r, true)),
            None => (None, None),
        }
    }

    /// Prefetch the slots every lookup of `hs` reads (the two-label
    /// anchor's, and the TLD's when the set has single-label names) so that
    /// a lookup soon after finds them in cache. The server calls this for every query of a received batch
    /// before answering any: the batch's cache misses then overlap instead
    /// of stalling one query after another. Deeper slots wait for
    /// [`DomainSet::touch_next`]: most lookups stop at the anchor, and
    /// prefetching lines nobody reads only crowds the cache.
    #[inline]
    pub fn touch(&self, hs: &SuffixHashes) {
        touch_slots(
            &self.table,
            self.homes,
            hs.hashes[self.first_probed(hs)..hs.len.min(2)]
                .iter()
                .copied(),
        );
    }

    /// Second step after [`DomainSet::touch`] (whose slots are in cache by
    /// now): under an anchor with deeper names listed, prefetch the deeper
    /// suffixes' slots; otherwise the scan is complete, so prefetch the
    /// record the lookup will confirm first.
    #[inline]
    pub fn touch_next(&self, hs: &SuffixHashes) {
        self.scan_or_touch_deeper(hs);
    }

    /// Start loading the record a lookup after `scan` confirms first (its
    /// deepest candidate), so that a batch's record misses overlap too.
    #[inline]
    pub(super) fn touch_record(&self, scan: &Scan) {
        if let Some(i) = scan.deepest_first().next() {
            if let Some(off) = (scan.first[i] as usize).checked_sub(1) {
                crate::sys::memory::prefetch(&self.arena, off);
            }
        }
    }

    /// The step after [`DomainSet::touch`]: under an anchor with deeper
    /// names listed, prefetch the deeper suffixes' slots and return `None`
    /// (the scan must wait for them); otherwise the scan reads only slots
    /// already touched, so run it, prefetch the record it will confirm
    /// first and return it.
    #[inline(always)]
    pub(super) fn scan_or_touch_deeper(&self, hs: &SuffixHashes) -> Option<Scan> {
        if hs.len > 2 && self.peek(hs.hashes[1]).0 & META_DEEPER != 0 {
            touch_slots(
                &self.table,
                self.homes,
                hs.hashes[2..hs.len].iter().copied(),
            );
            return None;
        }
        let scan = self.scan(hs);
        self.touch_record(&scan);
        Some(scan)
    }

    /// How many of this set's entries `other` does not list (markers do
    /// not count). Both sets keep their names in file order, and a reload
    /// usually changes a few lines of a long file, so the two arenas are
    /// walked side by side: while names agree nothing is hashed and every
    /// read is sequential. A name that differs is looked up in `other` by
    /// hash, and when found there the walk in `other` resumes after it, so
    /// an insertion or a deletion costs one lookup, not one per later name.
    pub fn count_missing_from(&self, other: &DomainSet) -> usize {
        let mut missing = 0;
        let mut cursor = other.next_entry(0);
        let mut off = 0;
        while off < self.arena.len() {
            let r = self.record(off);
            off += RECORD_OVERHEAD + r.name.len();
            if r.actions == 0 {
                continue;
            }
            if let Some(c) = cursor {
                let theirs = other.record(c);
                if theirs.name == r.name {
                    cursor = other.next_entry(c + RECORD_OVERHEAD + theirs.name.len());
                    continue;
                }
            }
            match other.find(r.name, hash_name(r.name)) {
                Some(found) if found.actions != 0 => {
                    let at = found.offset as usize;
                    cursor = other.next_entry(at + RECORD_OVERHEAD + found.name.len());
                }
                _ => missing += 1,
            }
        }
        missing
    }

    /// Offset of the first entry (not marker) at or after `off`.
    pub(super) fn next_entry(&self, mut off: usize) -> Option<usize> {
        while off < self.arena.len() {
            let r = self.record(off);
            if r.actions != 0 {
                return Some(off);
            }
            off += RECORD_OVERHEAD + r.name.len();
        }
        None
    }

    /// Iterate entries (markers excluded) as (name, exact rule, below rule).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<Hit>, Option<Hit>)> + '_ {
        let mut off = 0;
        std::iter::from_fn(move || loop {
            if off >= self.arena.len() {
                return None;
            }
            let r = self.record(off);
            off += RECORD_OVERHEAD + r.name.len();
            if r.actions != 0 {
                return Some((r.name, self.hit(&r, false), self.hit(&r, true)));
            }
        })
    }
}

/// A decoded arena record.
pub(super) struct Record<'a> {
    pub(super) offset: u32,
    pub(super) name: &'a [u8],
    pub(super) actions: u8,
    pub(super) flags: u8,
    pub(super) line: u32,
}

impl<'a> Record<'a> {
    /// Decode the record whose bytes start `rec` (at arena `offset`), its
    /// name `n` bytes long: the one place that knows the record layout.
    #[inline(always)]
    pub(super) fn decode(rec: &'a [u8], offset: usize, n: usize) -> Self {
        let mut line = [0u8; 4];
        line.copy_from_slice(&rec[n + 3..n + 7]);
        Record {
            offset: offset as u32,
            name: &rec[1..1 + n],
            actions: rec[1 + n],
            flags: rec[2 + n],
            line: u32::from_le_bytes(line),
        }
    }
}

/// Is this suffix the two-label anchor of a name with more labels?
#[inline]
pub fn is_anchor(key: &LookupKey, s: &Suffix<'_>) -> bool {
    key.labels() > 2 && s.depth + 2 == key.labels()
}

/// The two-label anchor of a name with three or more labels.
pub(super) fn anchor_of(name: &[u8]) -> Option<&[u8]> {
    let mut dots = name.iter().enumerate().rev().filter(|(_, b)| **b == b'.');
    let _last = dots.next()?;
    let (i, _) = dots.next()?;
    Some(&name[i + 1..])
}

/// Read the home slot of every hash before any of them is needed, so the
/// cache misses overlap instead of queueing one behind another.
#[inline]
pub(super) fn touch_slots(table: &[u64], homes: usize, hashes: impl Iterator<Item = u64>) {
    if homes == 0 {
        return;
    }
    for h in hashes {
        crate::sys::memory::prefetch(table, slot_index(h, homes));
    }
}
