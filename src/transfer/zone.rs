//! A transferred RPZ zone in memory, its IXFR diffs and its seed file.
//!
//! Records are kept in a sorted map keyed by owner, type and data (TTL is
//! not part of a record's identity), so the rendered seed is the same
//! bytes whichever way a node got the version (AXFR, IXFR, seed), and the
//! list's content hash (`dnsward_list_info`) agrees across a fleet.

use std::collections::BTreeMap;
use std::path::Path;

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The SOA fields the scheduler needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// Owner (the zone apex), lowercase, with the final dot.
    pub owner: String,
    /// TTL.
    pub ttl: u32,
    /// The record data.
    pub data: SOA,
}

impl Soa {
    /// From an SOA record.
    pub fn of(r: &Record) -> Option<Self> {
        match &r.data {
            RData::SOA(s) => Some(Self {
                owner: fqdn(&r.name),
                ttl: r.ttl,
                data: s.clone(),
            }),
            _ => None,
        }
    }

    /// Serial.
    pub fn serial(&self) -> u32 {
        self.data.serial
    }

    /// As a record (for the IXFR request's authority section).
    pub fn record(&self) -> Option<Record> {
        let name = Name::from_ascii(&self.owner).ok()?;
        Some(Record::from_rdata(
            name,
            self.ttl,
            RData::SOA(self.data.clone()),
        ))
    }

    fn line(&self) -> String {
        format!("{} {} IN SOA {}", self.owner, self.ttl, self.data)
    }
}

/// RFC 1982: is `a` later than `b`?
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

fn fqdn(n: &Name) -> String {
    let mut s = n.to_ascii().to_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// A record's identity (owner, type, data) and its TTL.
fn key_of(r: &Record) -> (String, u32) {
    (
        format!("{} {} {}", fqdn(&r.name), r.record_type(), r.data),
        r.ttl,
    )
}

/// Why an IXFR could not be applied (the caller falls back to AXFR).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    /// The diff does not start from the serving serial.
    #[error("diff starts at serial {found}, serving {serving}")]
    WrongBase {
        /// Serial in the diff.
        found: u32,
        /// Serving serial.
        serving: u32,
    },
    /// A deleted record is not in the zone.
    #[error("diff deletes a record the zone does not have: {0}")]
    Missing(String),
    /// The sequence of SOA records is not a diff.
    #[error("malformed IXFR sequence")]
    Malformed,
}

/// What [`Zone::apply_ixfr_in_place`] changed, to undo it or to patch
/// the compiled list.
#[derive(Debug)]
pub struct Applied {
    old_soa: Soa,
    /// (record key, its TTL before: None if it was not there).
    undo: Vec<(String, Option<u32>)>,
    /// Owners (lowercase, final dot) whose records changed.
    pub owners: Vec<String>,
}

/// One version of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Its SOA.
    pub soa: Soa,
    records: BTreeMap<String, u32>,
}

impl Zone {
    /// From a full transfer (AXFR, or an AXFR-style IXFR): the first
    /// record is the SOA, the last its repeat.
    pub fn from_axfr(records: &[Record]) -> Option<Self> {
        let soa = Soa::of(records.first()?)?;
        let mut map = BTreeMap::new();
        let body = records
            .get(1..records.len().saturating_sub(1))
            .unwrap_or(&[]);
        for r in body {
            if r.record_type() == RecordType::SOA {
                continue;
            }
            let (k, ttl) = key_of(r);
            map.insert(k, ttl);
        }
        Some(Self { soa, records: map })
    }

    /// Records besides the SOA.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True for a zone with only its SOA.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Apply an incremental IXFR answer (RFC 1995: new SOA, then for each
    /// step the old SOA, deletions, the new SOA, additions; then the new
    /// SOA again). Returns the new version; `self` is left untouched.
    pub fn apply_ixfr(&self, records: &[Record]) -> Result<Zone, DiffError> {
        let last = records.len().checked_sub(1).ok_or(DiffError::Malformed)?;
        let target = records
            .first()
            .and_then(Soa::of)
            .ok_or(DiffError::Malformed)?;
        let mut zone = self.clone();
        let mut i = 1;
        while i < last {
            let old = Soa::of(&records[i]).ok_or(DiffError::Malformed)?;
            if old.serial() != zone.soa.serial() {
                return Err(DiffError::WrongBase {
                    found: old.serial(),
                    serving: zone.soa.serial(),
                });
            }
            i += 1;
            while i < last && records[i].record_type() != RecordType::SOA {
                let (k, _) = key_of(&records[i]);
                if zone.records.remove(&k).is_none() {
                    return Err(DiffError::Missing(k));
                }
                i += 1;
            }
            zone.soa =
                Soa::of(records.get(i).ok_or(DiffError::Malformed)?).ok_or(DiffError::Malformed)?;
            i += 1;
            while i < last && records[i].record_type() != RecordType::SOA {
                let (k, ttl) = key_of(&records[i]);
                zone.records.insert(k, ttl);
                i += 1;
            }
        }
        if zone.soa.serial() != target.serial() {
            return Err(DiffError::Malformed);
        }
        zone.soa = target;
        Ok(zone)
    }

    /// Apply an incremental IXFR answer to this zone in place (no copy of
    /// a large zone). On error the zone is as it was; on success the
    /// returned [`Applied`] names the owners touched and can undo it
    /// ([`Zone::undo`]) if the new version is then refused.
    pub fn apply_ixfr_in_place(&mut self, records: &[Record]) -> Result<Applied, DiffError> {
        let mut applied = Applied {
            old_soa: self.soa.clone(),
            undo: Vec::new(),
            owners: Vec::new(),
        };
        let res = self.apply_steps(records, &mut applied);
        if let Err(e) = res {
            self.undo(applied);
            return Err(e);
        }
        applied.owners.sort_unstable();
        applied.owners.dedup();
        Ok(applied)
    }

    fn apply_steps(&mut self, records: &[Record], a: &mut Applied) -> Result<(), DiffError> {
        let last = records.len().checked_sub(1).ok_or(DiffError::Malformed)?;
        let target = records
            .first()
            .and_then(Soa::of)
            .ok_or(DiffError::Malformed)?;
        let mut i = 1;
        while i < last {
            let old = Soa::of(&records[i]).ok_or(DiffError::Malformed)?;
            if old.serial() != self.soa.serial() {
                return Err(DiffError::WrongBase {
                    found: old.serial(),
                    serving: self.soa.serial(),
                });
            }
            i += 1;
            while i < last && records[i].record_type() != RecordType::SOA {
                let (k, _) = key_of(&records[i]);
                let Some(ttl) = self.records.remove(&k) else {
                    return Err(DiffError::Missing(k));
                };
                a.owners.push(fqdn(&records[i].name));
                a.undo.push((k, Some(ttl)));
                i += 1;
            }
            self.soa =
                Soa::of(records.get(i).ok_or(DiffError::Malformed)?).ok_or(DiffError::Malformed)?;
            i += 1;
            while i < last && records[i].record_type() != RecordType::SOA {
                let (k, ttl) = key_of(&records[i]);
                let before = self.records.insert(k.clone(), ttl);
                a.owners.push(fqdn(&records[i].name));
                a.undo.push((k, before));
                i += 1;
            }
        }
        if self.soa.serial() != target.serial() {
            return Err(DiffError::Malformed);
        }
        self.soa = target;
        Ok(())
    }

    /// Take back an [`Zone::apply_ixfr_in_place`].
    pub fn undo(&mut self, applied: Applied) {
        for (k, before) in applied.undo.into_iter().rev() {
            match before {
                Some(ttl) => {
                    self.records.insert(k, ttl);
                }
                None => {
                    self.records.remove(&k);
                }
            }
        }
        self.soa = applied.old_soa;
    }

    /// The current records of the RPZ triggers behind `owners` (each
    /// owner and its `*.` twin, so both scopes of a name are recomputed),
    /// as a small zone file the RPZ parser reads like the seed, and the
    /// trigger names (relative to the apex, lowercase, no final dot).
    /// Apex records (SOA, NS) are housekeeping and left out.
    pub fn rpz_patch(&self, owners: &[String]) -> (String, Vec<String>) {
        let apex = self.soa.owner.as_str();
        let suffix = format!(".{apex}");
        let mut triggers: Vec<String> = owners
            .iter()
            .filter_map(|o| {
                let base = o.strip_prefix("*.").unwrap_or(o);
                base.strip_suffix(&suffix).map(str::to_string)
            })
            .collect();
        triggers.sort_unstable();
        triggers.dedup();
        let mut text = format!("$ORIGIN {apex}\n{}\n", self.soa.line());
        for t in &triggers {
            for owner in [format!("{t}{suffix}"), format!("*.{t}{suffix}")] {
                let prefix = format!("{owner} ");
                for (k, ttl) in self.records.range(prefix.clone()..) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let rest = &k[prefix.len()..];
                    text.push_str(&format!("{owner} {ttl} IN {rest}\n"));
                }
            }
        }
        (text, triggers)
    }

    /// The zone as an RPZ zone file, deterministic: `$ORIGIN`, the SOA,
    /// then every record in sorted order.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(64 + self.records.len() * 48);
        out.push_str(&format!(
            "$ORIGIN {}\n{}\n",
            self.soa.owner,
            self.soa.line()
        ));
        for (k, ttl) in &self.records {
            // k = "owner TYPE data"
            let (owner, rest) = k.split_once(' ').unwrap_or((k.as_str(), ""));
            out.push_str(&format!("{owner} {ttl} IN {rest}\n"));
        }
        out
    }

    /// Read a seed written by [`Zone::render`]. None if the file is not
    /// one (an operator-provided zone file is still loaded as the list,
    /// but the first transfer is then a full AXFR).
    pub fn read_seed(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let _origin = lines.next()?.strip_prefix("$ORIGIN ")?;
        let f: Vec<&str> = lines.next()?.split_whitespace().collect();
        // Names are absolute in a rendered seed; an operator's zone file
        // ("@", relative owners) is not one, and its SOA could not be sent
        // in an IXFR request.
        let absolute = |s: &str| s.ends_with('.');
        if f.len() != 11
            || f[2] != "IN"
            || f[3] != "SOA"
            || !absolute(f[0])
            || !absolute(f[4])
            || !absolute(f[5])
        {
            return None;
        }
        let num = |s: &str| s.parse::<u32>().ok();
        let soa = Soa {
            owner: f[0].to_string(),
            ttl: num(f[1])?,
            data: SOA::new(
                Name::from_ascii(f[4]).ok()?,
                Name::from_ascii(f[5]).ok()?,
                num(f[6])?,
                num(f[7])? as i32,
                num(f[8])? as i32,
                num(f[9])? as i32,
                num(f[10])?,
            ),
        };
        let mut records = BTreeMap::new();
        for l in lines {
            let mut p = l.splitn(4, ' ');
            let (Some(owner), Some(ttl), Some("IN"), Some(rest)) =
                (p.next(), p.next(), p.next(), p.next())
            else {
                return None;
            };
            if !absolute(owner) {
                return None;
            }
            records.insert(format!("{owner} {rest}"), num(ttl)?);
        }
        Some(Self { soa, records })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::CNAME;

    fn soa(serial: u32) -> Record {
        Record::from_rdata(
            Name::from_ascii("rpz.test.").expect("name"),
            300,
            RData::SOA(SOA::new(
                Name::from_ascii("ns.rpz.test.").expect("n"),
                Name::from_ascii("h.rpz.test.").expect("n"),
                serial,
                60,
                10,
                600,
                30,
            )),
        )
    }

    fn block(name: &str) -> Record {
        Record::from_rdata(
            Name::from_ascii(format!("{name}.rpz.test.")).expect("name"),
            300,
            RData::CNAME(CNAME(Name::root())),
        )
    }

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(serial_gt(1, u32::MAX));
        assert!(!serial_gt(5, 5));
    }

    #[test]
    fn ixfr_applies_and_renders_like_axfr() {
        let v1 = Zone::from_axfr(&[soa(1), block("a"), block("b"), soa(1)]).expect("zone");
        let diff = [
            soa(3),
            soa(1),
            block("a"),
            soa(2),
            block("c"),
            soa(2),
            soa(3),
            block("d"),
            soa(3),
        ];
        let v3 = v1.apply_ixfr(&diff).expect("applies");
        let full =
            Zone::from_axfr(&[soa(3), block("d"), block("c"), block("b"), soa(3)]).expect("zone");
        assert_eq!(v3.render(), full.render());
        assert_eq!(v3.soa.serial(), 3);
        // A diff from another base, or deleting what is not there, fails.
        assert!(matches!(
            full.apply_ixfr(&diff),
            Err(DiffError::WrongBase { .. })
        ));
        let bad = [soa(2), soa(1), block("zz"), soa(2), soa(2)];
        assert!(matches!(v1.apply_ixfr(&bad), Err(DiffError::Missing(_))));
    }

    #[test]
    fn ixfr_in_place_matches_the_copy_and_undoes() {
        let v1 = Zone::from_axfr(&[soa(1), block("a"), block("b"), soa(1)]).expect("zone");
        let diff = [soa(2), soa(1), block("a"), soa(2), block("c"), soa(2)];
        let mut z = v1.clone();
        let applied = z.apply_ixfr_in_place(&diff).expect("applies");
        assert_eq!(z, v1.apply_ixfr(&diff).expect("applies"));
        assert_eq!(
            applied.owners,
            vec!["a.rpz.test.".to_string(), "c.rpz.test.".to_string()]
        );
        let (text, triggers) = z.rpz_patch(&applied.owners);
        assert_eq!(triggers, vec!["a".to_string(), "c".to_string()]);
        assert!(text.contains("c.rpz.test. 300 IN CNAME ."), "{text}");
        assert!(!text.contains("b.rpz.test."), "{text}");
        z.undo(applied);
        assert_eq!(z, v1);
        // A failing diff leaves the zone as it was.
        let bad = [soa(2), soa(1), block("zz"), soa(2), soa(2)];
        assert!(z.apply_ixfr_in_place(&bad).is_err());
        assert_eq!(z, v1);
    }

    #[test]
    fn seed_round_trips() {
        let dir = std::env::temp_dir().join(format!("dnsward-zone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let z = Zone::from_axfr(&[soa(7), block("a"), block("b"), soa(7)]).expect("zone");
        let p = dir.join("seed.rpz");
        std::fs::write(&p, z.render()).expect("write");
        assert_eq!(Zone::read_seed(&p), Some(z));
        std::fs::write(&p, "x CNAME .\n").expect("write");
        assert_eq!(Zone::read_seed(&p), None);
        // An operator's zone file with relative names is not a seed.
        std::fs::write(
            &p,
            "$ORIGIN rpz.test.\n@ 300 IN SOA ns.rpz.test. h.rpz.test. 6 3600 60 86400 30\n@ 300 IN NS ns.rpz.test.\n",
        )
        .expect("write");
        assert_eq!(Zone::read_seed(&p), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
