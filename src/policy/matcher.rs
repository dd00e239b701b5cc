//! A compact, immutable set of domain names answering "is this name, or
//! one of its parents, listed?" without allocating.
//!
//! Layout, chosen for ISP-sized lists (millions of names):
//! - one byte arena holding every record as
//!   `[len u8][name bytes][coverage u8][line u32 LE]`;
//! - one open-addressing table of `u64` slots, each `(tag << 32) | (offset + 1)`,
//!   sized for a 0.6 load factor with linear probing.
//!
//! A miss usually stops at an empty slot or a tag mismatch without touching
//! the arena. Hashes are computed over the name *from its last byte to its
//! first*, so one right-to-left pass over a query name yields the hash of
//! every parent suffix: checking all of a name's parents costs one pass plus
//! one probe per label.

use super::parse::Coverage;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Most labels a DNS name can have (255-byte wire limit).
pub const MAX_LABELS: usize = 128;

const COVER_EXACT: u8 = 1;
const COVER_BELOW: u8 = 2;

#[inline]
fn step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

/// Final avalanche so both the table index and the tag are well mixed.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hash of a normalised name, consistent with [`LookupKey`]'s suffix hashes.
pub fn hash_name(name: &[u8]) -> u64 {
    finish(name.iter().rev().fold(FNV_OFFSET, |h, &b| step(h, b)))
}

/// A query name prepared once for probing every list: the lowercase
/// dotted form and where each label starts. Suffix hashes are computed on
/// the fly by [`LookupKey::suffixes`], so building a key writes ~400 bytes
/// and allocates nothing.
pub struct LookupKey {
    buf: [u8; 256],
    len: usize,
    starts: [u8; MAX_LABELS],
    labels: usize,
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
    /// Build from wire labels (as `hickory_proto::rr::Name::iter()` yields
    /// them). Names longer than the DNS limits are truncated to what fits,
    /// which can only make them match less.
    pub fn from_labels<'a, I: IntoIterator<Item = &'a [u8]>>(labels: I) -> Self {
        let mut k = LookupKey {
            buf: [0; 256],
            len: 0,
            starts: [0; MAX_LABELS],
            labels: 0,
        };
        for label in labels {
            let need = label.len() + usize::from(k.len > 0);
            if k.labels == MAX_LABELS || k.len + need > k.buf.len() {
                break;
            }
            if k.len > 0 {
                k.buf[k.len] = b'.';
                k.len += 1;
            }
            k.starts[k.labels] = k.len as u8;
            let dst = &mut k.buf[k.len..k.len + label.len()];
            dst.copy_from_slice(label);
            dst.make_ascii_lowercase();
            k.len += label.len();
            k.labels += 1;
        }
        k
    }

    /// Build from a dotted string (tests, CLI); trailing dot optional.
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
    pub fn suffixes(&self) -> impl Iterator<Item = Suffix<'_>> + '_ {
        let mut h = FNV_OFFSET;
        let mut pos = self.len;
        (0..self.labels).rev().map(move |i| {
            let start = usize::from(self.starts[i]);
            for &b in self.buf[start..pos].iter().rev() {
                h = step(h, b);
            }
            let hash = finish(h);
            // Fold in the dot that separates this label from the one before.
            h = step(h, b'.');
            pos = start.saturating_sub(1);
            Suffix {
                depth: i,
                name: &self.buf[start..self.len],
                hash,
            }
        })
    }

    /// The whole lowercase dotted name (empty for the root).
    pub fn name_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Number of labels (suffixes to probe).
    pub fn labels(&self) -> usize {
        self.labels
    }

    /// The suffix starting at label `i` (0 = the whole name).
    pub fn suffix(&self, i: usize) -> &[u8] {
        &self.buf[usize::from(self.starts[i])..self.len]
    }

    /// The suffix as text (names are ASCII after lowercasing; anything
    /// else is shown lossily).
    pub fn suffix_str(&self, i: usize) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.suffix(i))
    }
}

/// What a set knows about one listed name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Which names the entry covers.
    pub coverage: Coverage,
    /// Source line of the first occurrence.
    pub line: u32,
}

/// The immutable compiled set.
#[derive(Default)]
pub struct DomainSet {
    arena: Vec<u8>,
    table: Vec<u64>,
    len: usize,
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

    fn record(&self, offset: usize) -> (&[u8], Hit) {
        let n = usize::from(self.arena[offset]);
        let name = &self.arena[offset + 1..offset + 1 + n];
        let c = self.arena[offset + 1 + n];
        let mut line = [0u8; 4];
        line.copy_from_slice(&self.arena[offset + 2 + n..offset + 6 + n]);
        (
            name,
            Hit {
                coverage: Coverage {
                    exact: c & COVER_EXACT != 0,
                    below: c & COVER_BELOW != 0,
                },
                line: u32::from_le_bytes(line),
            },
        )
    }

    /// Look up one exact name given its hash (from [`LookupKey`]).
    #[inline]
    pub fn get_hashed(&self, name: &[u8], hash: u64) -> Option<Hit> {
        let cap = self.table.len();
        if cap == 0 {
            return None;
        }
        let tag = hash >> 32;
        let mut i = slot_index(hash, cap);
        loop {
            let slot = self.table[i];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == tag {
                let (n, hit) = self.record((slot as u32 - 1) as usize);
                if n == name {
                    return Some(hit);
                }
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    /// Look up a normalised name.
    pub fn get_name(&self, name: &str) -> Option<Hit> {
        self.get_hashed(name.as_bytes(), hash_name(name.as_bytes()))
    }

    /// Does the set cover this suffix of a query name? The query name
    /// itself (depth 0) needs an entry covering the exact name, a parent
    /// an entry covering names below it.
    #[inline]
    pub fn covers(&self, s: &Suffix<'_>) -> Option<Hit> {
        self.get_hashed(s.name, s.hash).filter(|h| {
            if s.depth == 0 {
                h.coverage.exact
            } else {
                h.coverage.below
            }
        })
    }

    /// Iterate all (name, hit) pairs (in arena order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Hit)> + '_ {
        let mut off = 0;
        std::iter::from_fn(move || {
            if off >= self.arena.len() {
                return None;
            }
            let r = self.record(off);
            off += 6 + r.0.len();
            Some(r)
        })
    }
}

/// Why a set could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// Names longer than 255 bytes cannot be stored (the parser already
    /// rejects anything over 253).
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// The arena passed 4 GiB (about 150M names).
    #[error("list too large: arena passed 4 GiB")]
    TooLarge,
}

/// Accumulates names, merging duplicates, then freezes into a [`DomainSet`].
#[derive(Default)]
pub struct DomainSetBuilder {
    set: DomainSet,
}

impl DomainSetBuilder {
    /// A builder expecting about `n` names.
    pub fn with_capacity(n: usize) -> Self {
        let mut b = Self::default();
        b.set.arena.reserve(n * 26);
        b.set.table = vec![0; (n * 2).next_power_of_two().max(16)];
        b
    }

    fn grow(&mut self) {
        let cap = (self.set.table.len() * 2).max(16);
        self.rehash(cap);
    }

    fn rehash(&mut self, cap: usize) {
        let mut table = vec![0u64; cap];
        let mut off = 0;
        while off < self.set.arena.len() {
            let n = usize::from(self.set.arena[off]);
            let h = hash_name(&self.set.arena[off + 1..off + 1 + n]);
            let mut i = slot_index(h, cap);
            while table[i] != 0 {
                i = if i + 1 == cap { 0 } else { i + 1 };
            }
            table[i] = ((h >> 32) << 32) | (off as u64 + 1);
            off += 6 + n;
        }
        self.set.table = table;
    }

    /// Add a normalised name. A repeated name widens its coverage and
    /// keeps the first line number.
    pub fn insert(&mut self, name: &str, coverage: Coverage, line: u32) -> Result<(), BuildError> {
        let bytes = name.as_bytes();
        if bytes.len() > 255 {
            return Err(BuildError::NameTooLong);
        }
        if (self.set.len + 1) * 5 > self.set.table.len() * 4 {
            self.grow();
        }
        let c = (u8::from(coverage.exact) * COVER_EXACT) | (u8::from(coverage.below) * COVER_BELOW);
        let h = hash_name(bytes);
        let cap = self.set.table.len();
        let mut i = slot_index(h, cap);
        loop {
            let slot = self.set.table[i];
            if slot == 0 {
                break;
            }
            if slot >> 32 == h >> 32 {
                let off = (slot as u32 - 1) as usize;
                let n = usize::from(self.set.arena[off]);
                if &self.set.arena[off + 1..off + 1 + n] == bytes {
                    self.set.arena[off + 1 + n] |= c;
                    return Ok(());
                }
            }
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
        let off = self.set.arena.len();
        if off + 6 + bytes.len() >= u32::MAX as usize {
            return Err(BuildError::TooLarge);
        }
        self.set.arena.push(bytes.len() as u8);
        self.set.arena.extend_from_slice(bytes);
        self.set.arena.push(c);
        self.set.arena.extend_from_slice(&line.to_le_bytes());
        self.set.table[i] = ((h >> 32) << 32) | (off as u64 + 1);
        self.set.len += 1;
        Ok(())
    }

    /// Names added so far.
    pub fn len(&self) -> usize {
        self.set.len
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.set.len == 0
    }

    /// Freeze: trim the arena and size the table for a 0.6 load factor.
    pub fn finish(mut self) -> DomainSet {
        self.set.arena.shrink_to_fit();
        let cap = (self.set.len * 5 / 3 + 1).max(4);
        self.rehash(cap);
        self.set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[(&str, Coverage)]) -> DomainSet {
        let mut b = DomainSetBuilder::default();
        for (i, (n, c)) in names.iter().enumerate() {
            b.insert(n, *c, i as u32 + 1).expect("insert");
        }
        b.finish()
    }

    fn covered(s: &DomainSet, q: &str) -> Option<String> {
        let k = LookupKey::from_dotted(q);
        let mut best = None;
        for sfx in k.suffixes() {
            if s.covers(&sfx).is_some() {
                best = Some(String::from_utf8_lossy(sfx.name).into_owned());
            }
        }
        best
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
        assert_eq!(k.suffix(3), b"com");
    }

    #[test]
    fn subtree_and_below_only_coverage() {
        let s = set(&[
            ("ads.example", Coverage::SUBTREE),
            ("track.example", Coverage::BELOW),
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
        assert_eq!(covered(&s, "example"), None);
        assert_eq!(covered(&s, "notads.example"), None);
        assert_eq!(covered(&s, "."), None);
    }

    #[test]
    fn duplicates_merge_coverage_and_keep_first_line() {
        let s = set(&[
            ("a.example", Coverage::BELOW),
            ("a.example", Coverage::SUBTREE),
        ]);
        assert_eq!(s.len(), 1);
        let h = s.get_name("a.example").expect("hit");
        assert_eq!(h.line, 1);
        assert!(h.coverage.exact && h.coverage.below);
    }

    #[test]
    fn many_names_all_found_and_misses_missed() {
        let mut b = DomainSetBuilder::default();
        for i in 0..50_000u32 {
            b.insert(
                &format!("host{i}.zone{}.example", i % 97),
                Coverage::SUBTREE,
                i,
            )
            .expect("insert");
        }
        let s = b.finish();
        assert_eq!(s.len(), 50_000);
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
    fn empty_set_misses() {
        let s = DomainSetBuilder::default().finish();
        assert!(s.is_empty());
        assert_eq!(covered(&s, "a.b"), None);
    }
}
