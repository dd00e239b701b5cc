//! The canonical content hash of a compiled list (`dnsward_list_info`'s
//! `sha256`): what the list enforces, independent of how it arrived (a
//! file, a feed, an AXFR, a chain of IXFRs), of line order, comments,
//! TTL-less syntax or relative names.
//!
//! Each entry (name, the action for the name, the action for names below
//! it) and each local-data record contributes the SHA-256 of its canonical
//! bytes; the contributions are summed lane-wise (4 x u64, wrapping), a
//! multiset hash, so an IXFR updates it by subtracting what it removes and
//! adding what it adds, without touching the other million entries. The
//! published hex is the SHA-256 of the entry count and that sum.

use sha2::{Digest, Sha256};

use super::rule::LocalData;

/// A running multiset hash of a list's entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentDigest {
    sum: [u64; 4],
    count: u64,
}

fn lanes(bytes: &[u8]) -> [u64; 4] {
    let d = Sha256::digest(bytes);
    let mut out = [0u64; 4];
    for (lane, chunk) in out.iter_mut().zip(d.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *lane = u64::from_le_bytes(b);
    }
    out
}

/// Canonical bytes of a name entry: the name, a 0, the matcher's action
/// byte (exact in the low nibble, below in the high one).
fn entry_bytes(name: &[u8], actions: u8, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'E');
    out.extend_from_slice(name);
    out.push(0);
    out.push(actions);
}

/// Canonical bytes of one local-data record of a trigger.
fn local_bytes(name: &str, below: bool, ttl: u32, data: &LocalData, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'L');
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.push(u8::from(below));
    out.extend_from_slice(&ttl.to_le_bytes());
    let text = match data {
        LocalData::A(a) => format!("A {a}"),
        LocalData::Aaaa(a) => format!("AAAA {a}"),
        LocalData::Txt(t) => format!("TXT {t:?}"),
        LocalData::Cname(c) => format!("CNAME {c}"),
    };
    out.extend_from_slice(text.as_bytes());
}

impl ContentDigest {
    fn apply(&mut self, bytes: &[u8], add: bool) {
        let l = lanes(bytes);
        for (s, v) in self.sum.iter_mut().zip(l) {
            *s = if add {
                s.wrapping_add(v)
            } else {
                s.wrapping_sub(v)
            };
        }
        self.count = if add {
            self.count.wrapping_add(1)
        } else {
            self.count.wrapping_sub(1)
        };
    }

    /// Add (`add`) or take out a name entry.
    pub fn entry(&mut self, name: &[u8], actions: u8, add: bool, buf: &mut Vec<u8>) {
        if actions != 0 {
            entry_bytes(name, actions, buf);
            self.apply(buf, add);
        }
    }

    /// Add or take out a local-data record.
    pub fn local(
        &mut self,
        name: &str,
        below: bool,
        ttl: u32,
        data: &LocalData,
        add: bool,
        buf: &mut Vec<u8>,
    ) {
        local_bytes(name, below, ttl, data, buf);
        self.apply(buf, add);
    }

    /// The published hex digest.
    pub fn hex(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.count.to_le_bytes());
        for s in self.sum {
            h.update(s.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_free_and_reversible() {
        let mut buf = Vec::new();
        let (mut a, mut b) = (ContentDigest::default(), ContentDigest::default());
        a.entry(b"x.example", 0x22, true, &mut buf);
        a.entry(b"y.example", 0x01, true, &mut buf);
        b.entry(b"y.example", 0x01, true, &mut buf);
        b.entry(b"x.example", 0x22, true, &mut buf);
        assert_eq!(a.hex(), b.hex());
        let before = a;
        a.entry(b"z.example", 0x02, true, &mut buf);
        assert_ne!(a.hex(), before.hex());
        a.entry(b"z.example", 0x02, false, &mut buf);
        assert_eq!(a, before);
        // The action is content: the same name blocked otherwise differs.
        let mut c = ContentDigest::default();
        c.entry(b"x.example", 0x02, true, &mut buf);
        c.entry(b"y.example", 0x01, true, &mut buf);
        assert_ne!(c.hex(), b.hex());
    }
}
