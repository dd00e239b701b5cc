//! Whole-name lookups built from the two passes: the one-pass walk, the
//! single and the batched lookup. The server does not call them (it runs
//! [`DomainSet::scan`] and [`DomainSet::confirm`] per list itself); they
//! are the oracle the unit tests hold the passes to and what the benches
//! measure, so they are compiled for tests and the `bench` feature only.

use super::build::BATCH;
use super::key::{LookupKey, SuffixHashes};
use super::table::is_anchor;
use super::*;

impl DomainSet {
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
}
