//! The lookup key: a name as lowercase wire labels with the hash of every
//! suffix, computed in one right-to-left pass (see the parent module).

use super::{FAST_LABELS, HASH_MUL, HASH_SEED, KEY_BUF, MAX_LABELS};

#[inline]
pub(super) fn step(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(HASH_MUL).rotate_left(31)
}

/// Mask keeping the first `n` (0..8, never 8) bytes of a little-endian
/// word. Branch-free: every caller passes the bytes left after its whole
/// words.
#[inline]
pub(super) fn low_bytes(n: usize) -> u64 {
    debug_assert!(n < 8);
    (1u64 << ((8 * n) & 63)) - 1
}

/// The eight bytes of a key buffer at `at` (< 256), as a little-endian
/// word. Masking the index lets the compiler see the read is in bounds
/// (255 + 8 < `KEY_BUF`), so the hot loops carry no bounds checks.
#[inline]
pub(super) fn key_word(buf: &[u8; KEY_BUF], at: usize) -> u64 {
    let at = at & 0xff;
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline]
pub(super) fn word_at(bytes: &[u8], at: usize) -> u64 {
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
pub(super) fn seal(state: u64, leading: u64, len: usize) -> u64 {
    finish(state ^ leading ^ ((len as u64) << 56))
}

/// Final mix so both the table index (low 32 bits) and the tag (high
/// bits) depend on every input bit: the full 128-bit product folded onto
/// itself, one multiply where a murmur finaliser takes two and five
/// shifts (a key hashes every suffix, so this runs once per label).
#[inline]
pub(super) fn finish(h: u64) -> u64 {
    let m = u128::from(h) * u128::from(0xff51_afd7_ed55_8ccd_u64);
    (m as u64) ^ ((m >> 64) as u64)
}

/// Right-to-left hashing state over a key's buffer: feed it suffix starts
/// in decreasing order and it returns each suffix's [`hash_name`].
pub(super) struct SuffixHasher {
    pub(super) state: u64,
    /// Start of the leftmost whole word taken so far.
    pub(super) words_from: usize,
    pub(super) len: usize,
}

impl SuffixHasher {
    #[inline]
    pub(super) fn new(len: usize) -> Self {
        Self {
            state: HASH_SEED,
            words_from: len,
            len,
        }
    }

    /// Hash of `buf[start..len]`.
    #[inline]
    pub(super) fn suffix(&mut self, buf: &[u8; KEY_BUF], start: usize) -> u64 {
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
pub(super) fn same_prefix(a: &[u8], b: &[u8; KEY_BUF], from: usize, n: usize) -> bool {
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
pub(super) fn copy_name(buf: &mut [u8; KEY_BUF], wire: &[u8], n: usize) {
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
    pub(super) buf: [u8; KEY_BUF],
    pub(super) len: usize,
    pub(super) starts: [u8; MAX_LABELS],
    pub(super) labels: usize,
    pub(super) hashes: SuffixHashes,
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
    /// [`crate::wire::quick::parse_quick`] hands over). The same key as
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
    pub(super) fn finish_key(&mut self) {
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
    pub(super) fn label_range(&self, i: usize) -> std::ops::Range<usize> {
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
    pub(super) hashes: [u64; FAST_LABELS],
    pub(super) len: usize,
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
