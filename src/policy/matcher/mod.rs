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

use super::rule::{EntryAction, Scope};
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
mod build;
mod key;
mod patch;
mod table;
#[cfg(any(test, feature = "bench"))]
mod walk;

pub use build::{BuildError, DomainSetBuilder};
pub use key::{hash_name, LookupKey, Suffix, SuffixHashes};
pub use patch::{NameRules, PatchStats};
pub use table::{is_anchor, DomainSet, Hit, Probe, Scan};

#[cfg(test)]
mod tests;
