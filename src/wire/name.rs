//! Names as the maps key them. A query name is held in lowercase wire
//! form in three shapes, each for its own lookups: [`LowerName`] (label
//! starts, every enclosing zone a slice: the resolver's zone-cut and
//! in-flight maps), [`crate::policy::matcher::LookupKey`] (the hash of
//! every suffix: the list matcher) and [`crate::resolve::cache::CacheKey`]
//! (the name with type, class and DO: the answer cache).

use hickory_proto::rr::Name;

/// A name in lowercase wire form without the root's zero byte
/// (`\x03www\x07example\x02zz`), on the stack: the key form of the
/// resolver's maps (zone cuts, questions in flight). Hashing it is one
/// pass over a few bytes, where hashing a `Name` lowercases and hashes
/// label by label, and every suffix (each enclosing zone) is a slice of
/// it, where `Name::trim_to` builds a new name per suffix (together ~8% of
/// the instructions of a cold query, callgrind).
pub struct LowerName {
    buf: [u8; 255],
    len: u8,
    starts: [u8; 128],
    labels: u8,
}

impl LowerName {
    /// Encode `name`. A name longer than 254 wire bytes (which `Name`
    /// does not allow) is cut at the last label that fits.
    pub fn new(name: &Name) -> Self {
        let mut w = Self {
            buf: [0; 255],
            len: 0,
            starts: [0; 128],
            labels: 0,
        };
        let mut len = 0usize;
        for (i, label) in name.iter().enumerate() {
            let end = len + 1 + label.len();
            let (Ok(n), true) = (u8::try_from(label.len()), end <= 254 && i < 128) else {
                break;
            };
            w.starts[i] = len as u8;
            w.buf[len] = n;
            w.buf[len + 1..end].copy_from_slice(label);
            w.buf[len + 1..end].make_ascii_lowercase();
            len = end;
            w.labels = (i + 1) as u8;
        }
        w.len = len as u8;
        w
    }

    /// The whole name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The name and each enclosing name, longest first (the root, empty,
    /// not included).
    pub fn suffixes(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.starts[..usize::from(self.labels)]
            .iter()
            .map(|&s| &self.buf[usize::from(s)..usize::from(self.len)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_wire_keys_fold_case_and_slice_into_enclosing_zones() {
        let a = LowerName::new(&Name::from_ascii("WwW.Example.ZZ.").expect("name"));
        let b = LowerName::new(&Name::from_ascii("www.example.zz").expect("name"));
        assert_eq!(a.as_bytes(), b"\x03www\x07example\x02zz");
        assert_eq!(
            a.as_bytes(),
            b.as_bytes(),
            "case and the root dot do not matter"
        );
        let sfx: Vec<&[u8]> = a.suffixes().collect();
        assert_eq!(
            sfx,
            vec![
                &b"\x03www\x07example\x02zz"[..],
                &b"\x07example\x02zz"[..],
                &b"\x02zz"[..]
            ]
        );
        let zone = LowerName::new(&Name::from_ascii("EXAMPLE.zz.").expect("name"));
        assert_eq!(sfx[1], zone.as_bytes(), "a suffix is the zone's own key");
        let root = LowerName::new(&Name::root());
        assert!(root.as_bytes().is_empty() && root.suffixes().next().is_none());
        // The longest names hickory accepts fit whole.
        let long = Name::from_ascii(format!(
            "{}.{}.{}.{}.",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        ))
        .expect("253-character name");
        let w = LowerName::new(&long);
        assert_eq!(w.as_bytes().len(), 254);
        assert_eq!(w.suffixes().count(), 4);
        // 127 one-letter labels: the most labels a name can have.
        let many = Name::from_ascii("a.".repeat(127)).expect("127 labels");
        let w = LowerName::new(&many);
        assert_eq!(w.suffixes().count(), 127);
        assert_eq!(w.suffixes().last(), Some(&b"\x01a"[..]));
    }
}
