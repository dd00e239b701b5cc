//! A compact, immutable set of domain names answering "is this name, or
//! one of its parents, listed?" without allocating.
//!
//! Layout, chosen for ISP-sized lists (millions of names):
//! - one byte arena holding every record as
//!   `[len u8][name bytes][actions u8][flags u8][line u32 LE]`, where
//!   `actions` holds a 4-bit [`EntryAction`] code for the name itself (low
//!   nibble) and one for the names below it (high nibble), 0 meaning "not
//!   covered";
//! - one open-addressing table of `u64` slots, each
//!   `(tag << 36) | (meta << 32) | (offset + 1)`, sized for a 0.5 load
//!   factor with linear probing (runs never wrap: the table has spare
//!   slots past the last home slot). `tag` is 28 bits of the name's hash;
//!   `meta` copies three bits of the record (has an exact rule, has a below
//!   rule, is a `DEEPER` anchor) and has a fourth, `SHARED`, set by the
//!   build when a later slot of the same run has the same tag: a probe
//!   stops at the first slot with its tag unless that slot is shared.
//!
//! A lookup runs in two passes. The first reads only the table: for every
//! suffix of the query name it learns whether the suffix may be listed and
//! with which scopes. Those reads do not depend on each other, so the CPU
//! overlaps their cache misses (on this kind of machine a miss to DRAM
//! costs ~200 ns: one round of misses instead of one per label). The
//! second pass confirms only the suffixes that could match, reading their
//! records in the arena; a tag collision fails there and is ignored. A miss
//! usually never touches the arena. Hashes are computed over the name *from its last byte to its
//! first*, so one right-to-left pass over a query name yields the hash of
//! every parent suffix.
//!
//! Anchors: every listed name of three or more labels makes sure its
//! two-label suffix (`example.com` for `ads.cdn.example.com`) is in the
//! table, as an entry or as an action-less marker, flagged `DEEPER`. A
//! lookup walks TLD first and stops at the anchor when it is absent or not
//! flagged: most misses cost one probe, the anchor's, instead of one per
//! label (the TLD is probed only when the set lists a single-label name).

use super::parse::{EntryAction, Scope};
use std::collections::HashMap;

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;
/// Key buffer: 255 name bytes plus room for an 8-byte read at any start.
const KEY_BUF: usize = 264;
/// Most labels a DNS name can have (255-byte wire limit).
pub const MAX_LABELS: usize = 128;

/// Record flag: names deeper than this two-label anchor are listed.
const FLAG_DEEPER: u8 = 1;
/// Slot bits: where the tag and the meta bits sit.
const TAG_SHIFT: u32 = 36;
const META_SHIFT: u32 = 32;
/// Slot meta bit: the record has an exact-scope rule.
const META_EXACT: u8 = 1;
/// Slot meta bit: the record has a below-scope rule.
const META_BELOW: u8 = 2;
/// Slot meta bit: the record is an anchor with deeper names listed.
const META_DEEPER: u8 = 4;
/// Slot meta bit: a later slot of this probe run has the same tag, so a
/// probe that meets this slot must look further (see [`DomainSet::peek`]).
const META_SHARED: u8 = 8;
/// [`DomainSet::peek`] result bit: some slot carries the tag.
const PEEK_FOUND: u8 = 16;
/// Slots past the last home slot: a probe run that starts near the end
/// continues into them instead of wrapping to the start, so a probe loop
/// needs no wrap check (and the table grows by a slot in the astronomically
/// rare case that a run passes them too).
const PAD: usize = 64;
/// Labels a name may have for the two-pass lookup; deeper names (rare,
/// never seen in real traffic but legal) take the one-pass walk.
pub const FAST_LABELS: usize = 16;
/// Bytes of a record besides the name.
const RECORD_OVERHEAD: usize = 7;

#[inline]
fn step(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(HASH_MUL).rotate_left(31)
}

/// Mask keeping the first `n` (0..8, never 8) bytes of a little-endian
/// word. Branch-free: every caller passes the bytes left after its whole
/// words.
#[inline]
fn low_bytes(n: usize) -> u64 {
    debug_assert!(n < 8);
    (1u64 << ((8 * n) & 63)) - 1
}

/// The eight bytes of a key buffer at `at` (< 256), as a little-endian
/// word. Masking the index lets the compiler see the read is in bounds
/// (255 + 8 < `KEY_BUF`), so the hot loops carry no bounds checks.
#[inline]
fn key_word(buf: &[u8; KEY_BUF], at: usize) -> u64 {
    let at = at & 0xff;
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The hash of an `len`-byte name from the state after its whole 8-byte
/// words (counted from the end) and the word holding its first
/// `len % 8` bytes. Those bytes fill at most the low seven bytes of
/// `leading`, so the length goes in the top byte and one multiply (in
/// [`finish`]) seals all three.
#[inline]
fn seal(state: u64, leading: u64, len: usize) -> u64 {
    finish(state ^ leading ^ ((len as u64) << 56))
}

/// Final mix so both the table index (low 32 bits) and the tag (high
/// bits) depend on every input bit: the full 128-bit product folded onto
/// itself, one multiply where a murmur finaliser takes two and five
/// shifts (a key hashes every suffix, so this runs once per label).
#[inline]
fn finish(h: u64) -> u64 {
    let m = u128::from(h) * u128::from(0xff51_afd7_ed55_8ccd_u64);
    (m as u64) ^ ((m >> 64) as u64)
}

/// Right-to-left hashing state over a key's buffer: feed it suffix starts
/// in decreasing order and it returns each suffix's [`hash_name`].
struct SuffixHasher {
    state: u64,
    /// Start of the leftmost whole word taken so far.
    words_from: usize,
    len: usize,
}

impl SuffixHasher {
    #[inline]
    fn new(len: usize) -> Self {
        Self {
            state: HASH_SEED,
            words_from: len,
            len,
        }
    }

    /// Hash of `buf[start..len]`.
    #[inline]
    fn suffix(&mut self, buf: &[u8; KEY_BUF], start: usize) -> u64 {
        while self.words_from >= start + 8 {
            self.words_from -= 8;
            self.state = step(self.state, key_word(buf, self.words_from));
        }
        // The bytes before the whole words: read eight (the buffer has
        // room) and keep those that belong to the suffix.
        let leading = key_word(buf, start) & low_bytes(self.words_from - start);
        seal(self.state, leading, self.len - start)
    }
}

/// Do `a` (from its start) and the key buffer `b` (from `from`) agree on
/// `n` bytes? `a` must have seven bytes of room past `n`: whole words are
/// compared, the last one masked.
#[inline]
fn same_prefix(a: &[u8], b: &[u8; KEY_BUF], from: usize, n: usize) -> bool {
    let mut at = 0;
    while at + 8 <= n {
        if word_at(a, at) != key_word(b, from + at) {
            return false;
        }
        at += 8;
    }
    at == n || (word_at(a, at) ^ key_word(b, from + at)) & low_bytes(n - at) == 0
}

/// Copy `wire[1..n]` (a question name after its first length byte) to the
/// start of a key buffer. Names of 8 to 32 bytes, nearly all of them, take
/// two fixed-size copies that may overlap (a few vector moves) instead of a
/// call to `memcpy` with a variable length.
#[inline]
fn copy_name(buf: &mut [u8; KEY_BUF], wire: &[u8], n: usize) {
    let m = n.saturating_sub(1);
    match (m, wire.get(1..n)) {
        (16..=32, Some(src)) => {
            buf[..16].copy_from_slice(&src[..16]);
            buf[m - 16..m].copy_from_slice(&src[m - 16..m]);
        }
        (8..=15, Some(src)) => {
            buf[..8].copy_from_slice(&src[..8]);
            buf[m - 8..m].copy_from_slice(&src[m - 8..m]);
        }
        (_, Some(src)) => buf[..m].copy_from_slice(src),
        (_, None) => {}
    }
}

/// Hash of a normalised name, consistent with [`LookupKey`]'s suffix
/// hashes: the name's bytes are taken eight at a time *from the end*, then
/// the 0..7 bytes left at the front, then the length. Words aligned to the
/// end are shared by every suffix of a name, so one right-to-left pass
/// over a query name gives every suffix's hash for one multiply per eight
/// bytes plus a few operations per label.
pub fn hash_name(name: &[u8]) -> u64 {
    let mut h = HASH_SEED;
    let mut end = name.len();
    while end >= 8 {
        h = step(h, word_at(name, end - 8));
        end -= 8;
    }
    let mut w = [0u8; 8];
    w[..end].copy_from_slice(&name[..end]);
    seal(h, u64::from_le_bytes(w), name.len())
}

/// A query name prepared once for probing every list: the lowercase
/// dotted form, where each label starts and, for names of up to
/// [`FAST_LABELS`] labels, the hash of every suffix (computed once here and
/// shared by every list). Building a key writes ~520 bytes and allocates
/// nothing.
#[derive(Clone)]
pub struct LookupKey {
    buf: [u8; KEY_BUF],
    len: usize,
    starts: [u8; MAX_LABELS],
    labels: usize,
    hashes: SuffixHashes,
}

impl Default for LookupKey {
    fn default() -> Self {
        Self::new()
    }
}

/// One suffix of a key: label index (0 = whole name), bytes, hash.
#[derive(Clone, Copy)]
pub struct Suffix<'a> {
    /// Labels removed from the front (0 = the query name itself).
    pub depth: usize,
    /// The suffix text.
    pub name: &'a [u8],
    /// Its hash, consistent with [`hash_name`].
    pub hash: u64,
}

impl LookupKey {
    /// An empty key (the root name), to be filled by
    /// [`LookupKey::assign`].
    pub fn new() -> Self {
        LookupKey {
            buf: [0; KEY_BUF],
            len: 0,
            starts: [0; MAX_LABELS],
            labels: 0,
            hashes: SuffixHashes {
                hashes: [0; FAST_LABELS],
                len: 0,
            },
        }
    }

    /// Build from wire labels (as `hickory_proto::rr::Name::iter()` yields
    /// them). Names longer than the DNS limits are truncated to what fits,
    /// which can only make them match less.
    #[inline]
    pub fn from_labels<'a, I: IntoIterator<Item = &'a [u8]>>(labels: I) -> Self {
        let mut k = Self::new();
        k.assign(labels);
        k
    }

    /// Refill this key from wire labels, as [`LookupKey::from_labels`]
    /// does. A loop that reuses one key skips zeroing and moving ~540
    /// bytes per query: nothing reads past the parts written here.
    #[inline]
    pub fn assign<'a, I: IntoIterator<Item = &'a [u8]>>(&mut self, labels: I) {
        self.len = 0;
        self.labels = 0;
        for label in labels {
            // Wire names have no empty labels; dotted input (`explain`) may.
            if label.is_empty() {
                continue;
            }
            let need = label.len() + usize::from(self.len > 0);
            // At most 255 bytes, so every label start fits the u8 offsets
            // and an 8-byte read at any start stays inside the buffer.
            if self.labels == MAX_LABELS || self.len + need > 255 {
                break;
            }
            if self.len > 0 {
                self.buf[self.len] = b'.';
                self.len += 1;
            }
            self.starts[self.labels] = self.len as u8;
            self.buf[self.len..self.len + label.len()].copy_from_slice(label);
            self.len += label.len();
            self.labels += 1;
        }
        self.finish_key();
    }

    /// Refill this key from a question name in wire form (length-prefixed
    /// labels up to the zero label, no compression: what
    /// [`crate::wire::template::parse_quick`] hands over). The same key as
    /// [`LookupKey::assign`] over the name's labels, built with one copy
    /// of the whole name instead of one per label: the length bytes sit
    /// exactly where the dots go. A length over 63 (a compression pointer)
    /// or one that overruns `wire` ends the name there, as the zero label
    /// does.
    #[inline]
    pub fn assign_wire(&mut self, wire: &[u8]) {
        let n = wire.len().min(256);
        copy_name(&mut self.buf, wire, n);
        // Counters in locals: stores into `buf` would otherwise make the
        // compiler reload them from `self` on every label.
        let (mut labels, mut pos) = (0, 0);
        while let Some(&l) = wire.get(pos) {
            let l = usize::from(l);
            // 1..=63, inside `wire`, and the dotted name (`pos + l` bytes
            // so far) within 255.
            if l.wrapping_sub(1) > 62 || pos + 1 + l > n {
                break;
            }
            // Each label takes two bytes or more of at most 256, so there
            // are at most 128 (the mask only spares a bounds check).
            self.starts[labels & (MAX_LABELS - 1)] = pos as u8;
            // The byte after the label (the next label's length) is the
            // dot; after the last label it lies past the name, unread.
            self.buf[(pos + l) & 0xff] = b'.';
            labels += 1;
            pos += 1 + l;
        }
        self.labels = labels;
        self.len = pos.saturating_sub(1);
        self.finish_key();
    }

    /// Lowercase the name and hash its suffixes: the part of building a
    /// key that does not depend on the input's form.
    #[inline]
    fn finish_key(&mut self) {
        // Sixteen bytes at a time (the compiler makes each chunk a few
        // vector instructions); the buffer has room past the name.
        for chunk in self.buf.chunks_exact_mut(16).take(self.len.div_ceil(16)) {
            for b in chunk {
                *b |= u8::from(b.wrapping_sub(b'A') < 26) << 5;
            }
        }
        self.hashes.len = 0;
        if self.labels <= FAST_LABELS {
            let mut hasher = SuffixHasher::new(self.len);
            for (slot, &start) in self
                .hashes
                .hashes
                .iter_mut()
                .zip(self.starts[..self.labels].iter().rev())
            {
                *slot = hasher.suffix(&self.buf, usize::from(start));
            }
            self.hashes.len = self.labels;
        }
    }

    /// Build from a dotted string (tests, CLI); trailing dot optional.
    #[inline]
    pub fn from_dotted(name: &str) -> Self {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return Self::from_labels(std::iter::empty());
        }
        Self::from_labels(name.split('.').map(str::as_bytes))
    }

    /// Every suffix, least specific (the TLD) first, each with its hash.
    /// One right-to-left pass: when the cursor reaches a label start, the
    /// running hash is the hash of the suffix beginning there.
    #[inline]
    pub fn suffixes(&self) -> impl Iterator<Item = Suffix<'_>> + '_ {
        let mut hasher = SuffixHasher::new(self.len);
        (0..self.labels).rev().map(move |i| {
            let start = usize::from(self.starts[i]);
            let hash = hasher.suffix(&self.buf, start);
            Suffix {
                depth: i,
                name: &self.buf[start..self.len],
                hash,
            }
        })
    }

    /// The whole lowercase dotted name (empty for the root). Ambiguous
    /// when a label holds a dot (see [`LookupKey::has_label_dots`]): key
    /// caches with [`LookupKey::wire_name`] instead.
    pub fn name_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The lowercase name in wire form without the root label (each label
    /// after its length byte), written to the start of `out` (at most 256
    /// bytes; `out` must hold them): unlike the dotted text, one form per
    /// name, so a label holding a dot cannot pass for two labels.
    pub fn wire_name<'a>(&self, out: &'a mut [u8]) -> &'a [u8] {
        if self.labels == 0 {
            return &out[..0];
        }
        // At most 255 dotted bytes, so at most 256 here.
        let n = self.len + 1;
        out[1..n].copy_from_slice(&self.buf[..self.len]);
        // Each label's length byte goes where the dot before it sits in
        // the dotted text (shifted by one), the first one at 0.
        for i in 0..self.labels {
            let label = self.label_range(i);
            out[label.start] = label.len() as u8;
        }
        &out[..n]
    }

    /// Where label `i` (0 = leftmost, `< labels()`) sits in the dotted
    /// text.
    fn label_range(&self, i: usize) -> std::ops::Range<usize> {
        let start = usize::from(self.starts[i]);
        let end = if i + 1 < self.labels {
            usize::from(self.starts[i + 1]) - 1
        } else {
            self.len
        };
        start..end
    }

    /// Does some label hold a dot? Its dotted text then spells another
    /// name (`ads\.example` under `zz` reads `ads.example.zz`).
    pub fn has_label_dots(&self) -> bool {
        let dots = self.buf[..self.len].iter().filter(|&&b| b == b'.').count();
        dots != self.labels.saturating_sub(1)
    }

    /// This key with every dot inside a label replaced by a zero byte,
    /// which no list name holds: the suffixes through such a label then
    /// match nothing, the parents to its right match as before. For the
    /// rare name with [`LookupKey::has_label_dots`]; a copy of the key
    /// with its hashes recomputed, no allocation.
    pub fn without_label_dots(&self) -> LookupKey {
        let mut k = self.clone();
        for i in 0..k.labels {
            let label = k.label_range(i);
            for b in &mut k.buf[label] {
                if *b == b'.' {
                    *b = 0;
                }
            }
        }
        k.finish_key();
        k
    }

    /// Number of labels (suffixes to probe).
    pub fn labels(&self) -> usize {
        self.labels
    }

    /// The suffix starting at label `i` (0 = the whole name).
    pub fn suffix(&self, i: usize) -> &[u8] {
        &self.buf[usize::from(self.starts[i])..self.len]
    }

    /// The hash of every suffix, TLD first, for the two-pass lookup; `None`
    /// when the name has more than [`FAST_LABELS`] labels.
    #[inline]
    pub fn suffix_hashes(&self) -> Option<&SuffixHashes> {
        (self.labels <= FAST_LABELS).then_some(&self.hashes)
    }

    /// The suffix as text (names are ASCII after lowercasing; anything
    /// else is shown lossily).
    pub fn suffix_str(&self, i: usize) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.suffix(i))
    }
}

/// Suffix hashes of one key, computed once and shared by every list.
/// Index 0 is the TLD; index `len - 1` the whole name.
#[derive(Clone, Copy)]
pub struct SuffixHashes {
    hashes: [u64; FAST_LABELS],
    len: usize,
}

impl SuffixHashes {
    /// Number of suffixes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the root name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Depth (labels removed from the front) of the suffix at index `i`.
    pub fn depth(&self, i: usize) -> usize {
        self.len - 1 - i
    }
}

/// First-pass result for one set: which suffixes may hold a rule that
/// applies at their depth, TLD first, up to where the walk stopped.
#[derive(Clone, Copy, Default)]
pub struct Scan {
    candidates: u32,
    /// Per candidate, the first slot with its tag (offset + 1): nearly
    /// always the record itself, so confirming does not probe again.
    first: [u32; FAST_LABELS],
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
    arena: Vec<u8>,
    table: Vec<u64>,
    /// Home slots: a hash's probe run starts in `0..homes`; the table has
    /// at least [`PAD`] slots more.
    homes: usize,
    /// Some name has a single label (a TLD): only then does a lookup probe
    /// the query's TLD.
    one_label: bool,
    len: usize,
    markers: usize,
    /// Line of the below-scope rule where it differs from the record's
    /// (RPZ `x` and `*.x` on separate lines), keyed by record offset.
    below_lines: HashMap<u32, u32>,
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
fn tag_of(hash: u64) -> u64 {
    hash >> TAG_SHIFT
}

#[inline]
fn slot_tag(slot: u64) -> u64 {
    slot >> TAG_SHIFT
}

#[inline]
fn slot_meta(slot: u64) -> u8 {
    ((slot >> META_SHIFT) & 0xf) as u8
}

#[inline]
fn slot_offset(slot: u64) -> usize {
    (slot as u32 - 1) as usize
}

#[inline]
fn slot_value(hash: u64, meta: u8, offset: usize) -> u64 {
    (tag_of(hash) << TAG_SHIFT) | (u64::from(meta) << META_SHIFT) | (offset as u64 + 1)
}

#[inline]
fn slot_index(hash: u64, cap: usize) -> usize {
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

    fn record(&self, offset: usize) -> Record<'_> {
        let rec = &self.arena[offset..];
        Record::decode(rec, offset, usize::from(rec[0]))
    }

    /// The slots along `hash`'s probe sequence whose tag matches, up to
    /// the first empty slot (or the table's end): every place the name can
    /// be.
    #[inline]
    fn tagged_slots(&self, hash: u64) -> impl Iterator<Item = u64> + '_ {
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
    fn find(&self, name: &[u8], hash: u64) -> Option<Record<'_>> {
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
    fn peek(&self, hash: u64) -> (u8, u32) {
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
    fn first_probed(&self, hs: &SuffixHashes) -> usize {
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
    fn confirm_by_probe(&self, key: &LookupKey, hs: &SuffixHashes, i: usize) -> Option<Hit> {
        let depth = hs.depth(i);
        let r = self.find(key.suffix(depth), hs.hashes[i])?;
        self.hit(&r, depth > 0)
    }

    /// The rule record `r` holds for a name at its depth (`below`: a
    /// parent of the query).
    #[inline(always)]
    fn hit(&self, r: &Record<'_>, below: bool) -> Option<Hit> {
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

    /// Does the set cover the query name? Returns the most specific hit
    /// and its depth. Two passes (see the module docs); names deeper than
    /// [`FAST_LABELS`] take [`DomainSet::lookup_walk`].
    pub fn lookup(&self, key: &LookupKey) -> Option<(usize, Hit)> {
        let Some(hs) = key.suffix_hashes() else {
            return self.lookup_walk(key);
        };
        self.most_specific(key, hs, self.scan(hs))
    }

    /// Second pass of [`DomainSet::lookup`]: the deepest candidate that
    /// confirms, with its depth.
    #[inline]
    fn most_specific(
        &self,
        key: &LookupKey,
        hs: &SuffixHashes,
        scan: Scan,
    ) -> Option<(usize, Hit)> {
        scan.deepest_first()
            .find_map(|i| self.confirm(key, hs, &scan, i).map(|h| (hs.depth(i), h)))
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

    /// The step after [`DomainSet::touch`]: under an anchor with deeper
    /// names listed, prefetch the deeper suffixes' slots and return `None`
    /// (the scan must wait for them); otherwise the scan reads only slots
    /// already touched, so run it, prefetch the record it will confirm
    /// first and return it.
    #[inline(always)]
    fn scan_or_touch_deeper(&self, hs: &SuffixHashes) -> Option<Scan> {
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

    /// [`DomainSet::lookup`] for many names at once, in passes over each
    /// chunk of the batch, so that each pass's cache misses overlap
    /// instead of stalling one name after another:
    /// 1. [`DomainSet::touch`] every name (its anchor slot);
    /// 2. scan every name whose anchor has no deeper names listed (most
    ///    of them: the scan is then complete) and prefetch the record it
    ///    will confirm; for the others prefetch the deeper slots;
    /// 3. scan those others (their slots are in cache by now) and
    ///    prefetch their records;
    /// 4. confirm every scan.
    ///
    /// Each name is scanned once, as [`DomainSet::lookup`] does. Callers
    /// that build keys one by one (the UDP loop, the bench) may call
    /// [`DomainSet::touch`] as each key is built, so pass 1 finds the
    /// slots on their way. `out[i]` receives the answer for `keys[i]`.
    pub fn lookup_batch(&self, keys: &[LookupKey], out: &mut [Option<(usize, Hit)>]) {
        for (chunk, out) in keys.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
            for h in chunk.iter().filter_map(LookupKey::suffix_hashes) {
                self.touch(h);
            }
            let mut scans = [Scan::default(); BATCH];
            // Names whose scan waits for pass 3.
            let mut deep: u32 = 0;
            for (j, k) in chunk.iter().enumerate() {
                let Some(hs) = k.suffix_hashes() else {
                    continue;
                };
                match self.scan_or_touch_deeper(hs) {
                    Some(scan) => scans[j] = scan,
                    None => deep |= 1 << j,
                }
            }
            while deep != 0 {
                let j = deep.trailing_zeros() as usize;
                deep &= deep - 1;
                if let Some(hs) = chunk.get(j).and_then(LookupKey::suffix_hashes) {
                    scans[j] = self.scan(hs);
                    self.touch_record(&scans[j]);
                }
            }
            for ((k, o), scan) in chunk.iter().zip(out.iter_mut()).zip(&scans) {
                *o = match k.suffix_hashes() {
                    Some(hs) => self.most_specific(k, hs, *scan),
                    None => self.lookup_walk(k),
                };
            }
        }
    }

    /// Start loading the record a lookup after `scan` confirms first (its
    /// deepest candidate), so that a batch's record misses overlap too.
    #[inline]
    fn touch_record(&self, scan: &Scan) {
        if let Some(i) = scan.deepest_first().next() {
            if let Some(off) = (scan.first[i] as usize).checked_sub(1) {
                crate::sys::memory::prefetch(&self.arena, off);
            }
        }
    }

    /// One-pass lookup: probe each suffix, TLD first, reading the record
    /// of every present suffix. Same answer as [`DomainSet::lookup`].
    pub fn lookup_walk(&self, key: &LookupKey) -> Option<(usize, Hit)> {
        let mut best = None;
        for s in key.suffixes() {
            let p = self.probe(&s);
            if let Some(h) = p.hit {
                best = Some((s.depth, h));
            }
            if is_anchor(key, &s) && !p.deeper {
                break;
            }
        }
        best
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
    fn next_entry(&self, mut off: usize) -> Option<usize> {
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
struct Record<'a> {
    offset: u32,
    name: &'a [u8],
    actions: u8,
    flags: u8,
    line: u32,
}

impl<'a> Record<'a> {
    /// Decode the record whose bytes start `rec` (at arena `offset`), its
    /// name `n` bytes long: the one place that knows the record layout.
    #[inline(always)]
    fn decode(rec: &'a [u8], offset: usize, n: usize) -> Self {
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
fn anchor_of(name: &[u8]) -> Option<&[u8]> {
    let mut dots = name.iter().enumerate().rev().filter(|(_, b)| **b == b'.');
    let _last = dots.next()?;
    let (i, _) = dots.next()?;
    Some(&name[i + 1..])
}

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
const BATCH: usize = 32;

/// A queued insert; its name sits in `DomainSetBuilder::pending_names`.
struct Pending {
    end: usize,
    hash: u64,
    scope: Scope,
    action: EntryAction,
    line: u32,
}

/// Accumulates names, merging duplicates, then freezes into a [`DomainSet`].
#[derive(Default)]
pub struct DomainSetBuilder {
    set: DomainSet,
    pending: Vec<Pending>,
    pending_names: Vec<u8>,
    /// The first build error; later inserts are ignored.
    error: Option<BuildError>,
}

/// Read the home slot of every hash before any of them is needed, so the
/// cache misses overlap instead of queueing one behind another.
#[inline]
fn touch_slots(table: &[u64], homes: usize, hashes: impl Iterator<Item = u64>) {
    if homes == 0 {
        return;
    }
    for h in hashes {
        crate::sys::memory::prefetch(table, slot_index(h, homes));
    }
}

/// Home slots of a finished set holding `names` (entries and markers): a
/// 0.5 load factor.
fn final_homes(names: usize) -> usize {
    (names * 2 + 1).max(4)
}

/// Place `slot` on `hash`'s probe run: the first empty slot from its home
/// on, appending a slot in the (astronomically rare) case that the run
/// passes the padding. Every occupied slot walked past that has the same
/// tag is marked [`META_SHARED`] (see [`DomainSet::peek`]).
fn place(table: &mut Vec<u64>, homes: usize, hash: u64, slot: u64) {
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
    fn crowded(&self, more: usize) -> bool {
        (self.set.len + self.set.markers + more) * 5 > self.set.homes * 4
    }

    fn grow(&mut self) {
        let homes = (self.set.homes * 2).max(16);
        self.rehash(homes);
    }

    fn rehash(&mut self, homes: usize) {
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
    fn slot_for(&mut self, bytes: &[u8], h: u64) -> Result<(usize, bool), BuildError> {
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
    fn flush(&mut self) -> Result<(), BuildError> {
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

    fn apply(
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

#[cfg(test)]
mod tests {
    use super::*;

    const L: EntryAction = EntryAction::List;

    fn set(names: &[(&str, Scope)]) -> DomainSet {
        let mut b = DomainSetBuilder::default();
        for (i, (n, c)) in names.iter().enumerate() {
            b.insert(n, *c, L, i as u32 + 1).expect("insert");
        }
        b.finish().expect("finish")
    }

    fn covered(s: &DomainSet, q: &str) -> Option<String> {
        let k = LookupKey::from_dotted(q);
        s.lookup(&k).map(|(d, _)| k.suffix_str(d).into_owned())
    }

    #[test]
    fn suffix_hashes_match_whole_name_hashes() {
        let k = LookupKey::from_dotted("A.b.Example.COM.");
        assert_eq!(k.labels(), 4);
        let all: Vec<_> = k.suffixes().collect();
        assert_eq!(all.len(), 4);
        for sfx in &all {
            assert_eq!(sfx.hash, hash_name(sfx.name), "suffix {}", sfx.depth);
            assert_eq!(sfx.name, k.suffix(sfx.depth));
        }
        assert_eq!(all[0].name, b"com");
        assert_eq!(k.suffix(0), b"a.b.example.com");
    }

    #[test]
    fn a_reused_key_equals_a_fresh_one() {
        let mut k = LookupKey::new();
        for name in [
            "a.very-long-label-to-leave-bytes-behind.example.com",
            "x.y",
            "Mixed.CASE.example",
            "",
            &"q.".repeat(FAST_LABELS + 3),
            "b.example",
        ] {
            k.assign(name.split('.').map(str::as_bytes));
            let fresh = LookupKey::from_dotted(name);
            assert_eq!(k.name_bytes(), fresh.name_bytes());
            assert_eq!(k.labels(), fresh.labels());
            let a: Vec<_> = k.suffixes().map(|s| (s.depth, s.name, s.hash)).collect();
            let b: Vec<_> = fresh
                .suffixes()
                .map(|s| (s.depth, s.name, s.hash))
                .collect();
            assert_eq!(a, b, "{name}");
            match (k.suffix_hashes(), fresh.suffix_hashes()) {
                (Some(x), Some(y)) => {
                    assert_eq!(x.len(), y.len());
                    assert_eq!(x.hashes[..x.len()], y.hashes[..y.len()]);
                }
                (None, None) => {}
                _ => panic!("fast hashes differ for {name}"),
            }
        }
    }

    /// Everything a key holds that lookups read, for comparing two keys.
    #[derive(Debug, PartialEq)]
    struct KeyParts {
        name: Vec<u8>,
        labels: usize,
        suffixes: Vec<(usize, Vec<u8>, u64)>,
        fast: Option<Vec<u64>>,
    }

    fn key_parts(k: &LookupKey) -> KeyParts {
        KeyParts {
            name: k.name_bytes().to_vec(),
            labels: k.labels(),
            suffixes: k
                .suffixes()
                .map(|s| (s.depth, s.name.to_vec(), s.hash))
                .collect(),
            fast: k.suffix_hashes().map(|h| h.hashes[..h.len()].to_vec()),
        }
    }

    /// The labels `assign_wire` reads: up to the zero label, a length over
    /// 63 or one running past the input.
    fn wire_labels(w: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&l) = w.get(i) {
            let l = usize::from(l);
            if l == 0 || l > 63 || i + 1 + l > w.len() {
                break;
            }
            out.push(&w[i + 1..i + 1 + l]);
            i += 1 + l;
        }
        out
    }

    #[test]
    fn key_lowercasing_matches_bytewise() {
        // 40 bytes: three 16-byte chunks, the last one partly past the name.
        let base = *b"AzZ.9\xc3@[`{ABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123";
        for b in 0..=255u8 {
            for pos in 0..base.len() {
                let mut label = base;
                label[pos] = b;
                let mut wire = vec![label.len() as u8];
                wire.extend_from_slice(&label);
                wire.push(0);
                let mut k = LookupKey::new();
                k.assign_wire(&wire);
                let want: Vec<u8> = label.iter().map(u8::to_ascii_lowercase).collect();
                assert_eq!(k.name_bytes(), &want[..], "byte {b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn a_wire_key_equals_a_label_key() {
        // Fixed cases, then random wire input (lengths, case, bytes,
        // truncation, pointers, over-long names), against `assign`.
        let mut cases: Vec<Vec<u8>> = vec![
            b"\x03WwW\x07Example\x03COM\x00".to_vec(),
            b"\x00".to_vec(),
            Vec::new(),
            b"\x03abc".to_vec(),
            b"\x05ab".to_vec(),
            b"\x02ab\xc0\x0c".to_vec(),
            [
                &[63u8][..],
                &[b'A'; 63],
                &[63],
                &[b'b'; 63],
                &[63],
                &[b'c'; 63],
                &[63],
                &[b'd'; 63],
                &[0],
            ]
            .concat(),
            [1u8, b'x'].repeat(130),
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut w = Vec::new();
            let labels = next() % 12;
            for _ in 0..labels {
                let l = (next() % 70) as usize;
                w.push(l as u8);
                for _ in 0..l {
                    let r = next();
                    w.push(if r % 4 == 0 {
                        (r >> 8) as u8
                    } else {
                        b'A' + (r >> 8) as u8 % 58
                    });
                }
            }
            if next() % 4 != 0 {
                w.push(0);
            }
            let cut = (next() as usize) % (w.len() + 1);
            if next() % 8 == 0 {
                w.truncate(cut);
            }
            cases.push(w);
        }
        let mut by_wire = LookupKey::new();
        let mut by_labels = LookupKey::new();
        for w in &cases {
            by_wire.assign_wire(w);
            by_labels.assign(wire_labels(w));
            assert_eq!(key_parts(&by_wire), key_parts(&by_labels), "{w:?}");
        }
    }

    #[test]
    fn a_dot_inside_a_label_is_told_apart() {
        let plain = LookupKey::from_dotted("www.Example.com");
        let mut out = [0; 256];
        assert_eq!(plain.wire_name(&mut out), b"\x03www\x07example\x03com");
        assert!(!plain.has_label_dots());
        assert!(LookupKey::new().wire_name(&mut out).is_empty());
        assert!(!LookupKey::new().has_label_dots());

        // One label `a.b` under `c`: the same dotted text as `a.b.c`, a
        // different wire name. Built from labels and from the wire alike.
        let odd = LookupKey::from_labels([&b"a.B"[..], b"c"]);
        let mut from_wire = LookupKey::new();
        from_wire.assign_wire(b"\x03a.B\x01c\x00");
        for k in [&odd, &from_wire] {
            assert_eq!(k.name_bytes(), b"a.b.c");
            assert!(k.has_label_dots());
            assert_eq!(k.wire_name(&mut out), b"\x03a.b\x01c");
        }
        let three = LookupKey::from_dotted("a.b.c");
        assert_eq!(three.wire_name(&mut out), b"\x01a\x01b\x01c");

        // Made unmatchable, the odd label keeps its place: parents to its
        // right match as before, the suffixes through it match nothing.
        let s = set(&[("a.b.c", Scope::Subtree), ("c", Scope::Subtree)]);
        assert_eq!(covered(&s, "a.b.c").as_deref(), Some("a.b.c"));
        let fixed = odd.without_label_dots();
        assert_eq!(fixed.labels(), 2);
        assert_eq!(fixed.suffix(1), b"c");
        assert_eq!(fixed.suffix(0), b"a\x00b.c");
        assert_eq!(s.lookup(&fixed).map(|(d, _)| d), Some(1));
        let deep = LookupKey::from_labels([&b"x.y"[..], b"a", b"b", b"c"]).without_label_dots();
        assert_eq!(s.lookup(&deep).map(|(d, _)| d), Some(1), "a.b.c covers it");
    }

    #[test]
    fn odd_dotted_input_is_safe() {
        for name in [
            ".b.example",
            "a..b",
            "...",
            &("a".repeat(254) + "..."),
            &"x.".repeat(200),
        ] {
            let k = LookupKey::from_dotted(name);
            for sfx in k.suffixes() {
                assert_eq!(sfx.hash, hash_name(sfx.name), "{name}");
            }
        }
        assert_eq!(
            LookupKey::from_dotted(".b.example").name_bytes(),
            b"b.example"
        );
    }

    #[test]
    fn subtree_exact_and_below_scopes() {
        let s = set(&[
            ("ads.example", Scope::Subtree),
            ("track.example", Scope::Below),
            ("only.example", Scope::Exact),
        ]);
        assert_eq!(covered(&s, "ads.example").as_deref(), Some("ads.example"));
        assert_eq!(
            covered(&s, "x.y.ADS.example.").as_deref(),
            Some("ads.example")
        );
        assert_eq!(covered(&s, "track.example"), None);
        assert_eq!(
            covered(&s, "a.track.example").as_deref(),
            Some("track.example")
        );
        assert_eq!(covered(&s, "only.example").as_deref(), Some("only.example"));
        assert_eq!(covered(&s, "a.only.example"), None);
        assert_eq!(covered(&s, "example"), None);
        assert_eq!(covered(&s, "notads.example"), None);
        assert_eq!(covered(&s, "."), None);
    }

    #[test]
    fn deep_entries_are_found_past_their_anchor_marker() {
        let s = set(&[
            ("a.b.c.example.com", Scope::Subtree),
            ("x.org", Scope::Subtree),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.markers(), 1, "example.com marker");
        assert_eq!(
            covered(&s, "z.a.b.c.example.com").as_deref(),
            Some("a.b.c.example.com")
        );
        assert_eq!(covered(&s, "b.c.example.com"), None);
        assert_eq!(covered(&s, "example.com"), None, "a marker blocks nothing");
        assert_eq!(covered(&s, "www.x.org").as_deref(), Some("x.org"));
        assert_eq!(s.iter().count(), 2, "markers are not entries");
    }

    #[test]
    fn per_scope_actions_and_lines() {
        let mut b = DomainSetBuilder::default();
        b.insert("x.example", Scope::Exact, EntryAction::Nxdomain, 10)
            .expect("i");
        b.insert("x.example", Scope::Below, EntryAction::Nodata, 11)
            .expect("i");
        b.insert("x.example", Scope::Exact, EntryAction::Drop, 12)
            .expect("i");
        let s = b.finish().expect("finish");
        assert_eq!(
            s.rules("x.example"),
            (
                Some(Hit {
                    action: EntryAction::Nxdomain,
                    line: 10
                }),
                Some(Hit {
                    action: EntryAction::Nodata,
                    line: 11
                })
            )
        );
        assert_eq!(s.len(), 1);

        // Wildcard first, then the exact rule: each keeps its own line.
        let mut b = DomainSetBuilder::default();
        b.insert("y.example", Scope::Below, EntryAction::Nxdomain, 3)
            .expect("i");
        b.insert("y.example", Scope::Exact, EntryAction::Nodata, 4)
            .expect("i");
        let s = b.finish().expect("finish");
        assert_eq!(
            s.rules("y.example"),
            (
                Some(Hit {
                    action: EntryAction::Nodata,
                    line: 4
                }),
                Some(Hit {
                    action: EntryAction::Nxdomain,
                    line: 3
                })
            )
        );
    }

    #[test]
    fn many_names_all_found_and_misses_missed() {
        let mut b = DomainSetBuilder::default();
        for i in 0..50_000u32 {
            b.insert(
                &format!("host{i}.zone{}.example", i % 97),
                Scope::Subtree,
                L,
                i,
            )
            .expect("insert");
        }
        let s = b.finish().expect("finish");
        assert_eq!(s.len(), 50_000);
        assert_eq!(s.markers(), 97);
        for i in (0..50_000u32).step_by(7) {
            let h = s.get_name(&format!("host{i}.zone{}.example", i % 97));
            assert_eq!(h.map(|h| h.line), Some(i));
            assert!(s
                .get_name(&format!("host{i}.zone{}.example", (i + 1) % 97))
                .is_none());
        }
        assert_eq!(s.iter().count(), 50_000);
    }

    #[test]
    fn two_pass_lookup_agrees_with_the_walk() {
        let mut b = DomainSetBuilder::default();
        let mut line = 0;
        for i in 0..3_000u32 {
            let scope = [Scope::Subtree, Scope::Exact, Scope::Below][(i % 3) as usize];
            line += 1;
            b.insert(&format!("n{i}.d{}.example", i % 50), scope, L, line)
                .expect("insert");
            if i % 7 == 0 {
                line += 1;
                b.insert(&format!("d{}.example", i % 50), Scope::Below, L, line)
                    .expect("insert");
            }
            // Anchors with nothing listed below them: the batch scans
            // their names in its second pass, not its third.
            if i % 30 == 0 {
                line += 1;
                b.insert(&format!("p{i}.test"), Scope::Subtree, L, line)
                    .expect("insert");
            }
        }
        let s = b.finish().expect("finish");
        for i in 0..6_000u32 {
            for q in [
                format!("n{i}.d{}.example", i % 50),
                format!("x.n{i}.d{}.example", i % 50),
                format!("d{}.example", i % 60),
                format!("a.b.c.d.e.f.d{}.example", i % 60),
            ] {
                let k = LookupKey::from_dotted(&q);
                assert_eq!(s.lookup(&k), s.lookup_walk(&k), "{q}");
            }
        }
        // The batched form gives the same answers, in order, across chunks.
        let keys: Vec<LookupKey> = (0..200u32)
            .map(|i| match i % 6 {
                0 => format!("n{i}.d{}.example", i % 50),
                1 => format!("x.n{i}.d{}.example", i % 50),
                2 => format!("{}n{i}.d{}.example", "l.".repeat(FAST_LABELS), i % 50),
                3 => format!("x.p{}.test", i / 6 * 30),
                4 => format!("x.p{i}.test"),
                _ => format!("miss{i}.example"),
            })
            .map(|q| LookupKey::from_dotted(&q))
            .collect();
        let mut out = vec![None; keys.len()];
        s.lookup_batch(&keys, &mut out);
        for (k, o) in keys.iter().zip(&out) {
            assert_eq!(*o, s.lookup_walk(k));
        }
        assert!(out.iter().filter(|o| o.is_some()).count() > 50);
        let below_plain = keys
            .iter()
            .zip(&out)
            .filter(|(k, o)| o.is_some() && k.name_bytes().ends_with(b".test") && k.labels() == 3);
        assert!(below_plain.count() > 20);
        // Deeper than the two-pass limit: the walk answers.
        let deep = format!("{}n3.d3.example", "l.".repeat(FAST_LABELS));
        let k = LookupKey::from_dotted(&deep);
        assert!(k.suffix_hashes().is_none());
        assert_eq!(s.lookup(&k), s.lookup_walk(&k));
    }

    #[test]
    fn missing_count_matches_brute_force_across_edits() {
        let names: Vec<String> = (0..5_000)
            .map(|i| format!("h{i}.z{}.example", i % 40))
            .collect();
        let build = |v: &[String]| {
            let mut b = DomainSetBuilder::default();
            for (i, n) in v.iter().enumerate() {
                b.insert(n, Scope::Subtree, L, i as u32 + 1)
                    .expect("insert");
            }
            b.finish().expect("finish")
        };
        let old = build(&names);
        // Deletions, insertions, a moved block and a rewrite of the tail.
        let mut edited: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 11 != 3)
            .map(|(_, n)| n.clone())
            .collect();
        edited.insert(100, "new1.example".into());
        edited.insert(2_000, "new2.example".into());
        let moved: Vec<String> = edited.drain(300..400).collect();
        edited.extend(moved);
        for n in edited.iter_mut().skip(4_500) {
            n.push_str(".changed");
        }
        let new = build(&edited);
        let brute = |a: &DomainSet, b: &DomainSet| {
            a.iter()
                .filter(|(n, _, _)| {
                    std::str::from_utf8(n).map_or(true, |n| b.rules(n) == (None, None))
                })
                .count()
        };
        assert_eq!(old.count_missing_from(&new), brute(&old, &new));
        assert_eq!(new.count_missing_from(&old), brute(&new, &old));
        assert_eq!(old.count_missing_from(&old), 0);
        let empty = build(&[]);
        assert_eq!(old.count_missing_from(&empty), old.len());
        assert_eq!(empty.count_missing_from(&old), 0);
    }

    #[test]
    fn empty_set_misses() {
        let s = DomainSetBuilder::default().finish().expect("finish");
        assert!(s.is_empty());
        assert_eq!(covered(&s, "a.b"), None);
    }

    /// Two names whose tags are equal and whose probe runs start at the
    /// same home slot of a two-name set: the first one placed is met first
    /// by a probe for the second, so the early stop in `peek` must not
    /// return its meta bits alone. Without `META_SHARED` the below rule of
    /// the second name is never seen.
    #[test]
    fn equal_tags_in_one_probe_run_are_both_found() {
        let homes = final_homes(2);
        let mut by_tag: HashMap<(u64, usize), String> = HashMap::new();
        let (a, b) = (0..400_000)
            .find_map(|i| {
                let name = format!("n{i}.test");
                let h = hash_name(name.as_bytes());
                let k = (tag_of(h), slot_index(h, homes));
                match by_tag.get(&k) {
                    Some(other) => Some((other.clone(), name)),
                    None => {
                        by_tag.insert(k, name);
                        None
                    }
                }
            })
            .expect("a tag and home collision among 400k names");
        let s = set(&[(&a, Scope::Exact), (&b, Scope::Subtree)]);
        let first = s.peek(hash_name(a.as_bytes()));
        assert_ne!(first.0 & META_SHARED, 0, "{a} was walked past by {b}");
        assert_eq!(covered(&s, &a), Some(a.clone()));
        assert_eq!(covered(&s, &b), Some(b.clone()));
        assert_eq!(covered(&s, &format!("x.{b}")), Some(b.clone()));
        assert_eq!(covered(&s, &format!("x.{a}")), None);
    }
}
