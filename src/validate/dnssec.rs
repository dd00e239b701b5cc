//! `dnssec.*`: trust anchors parsed (from the config, a file, or the
//! built-in root anchors), negative trust anchors as names, limits in
//! range. Each problem names its key (`dnssec.trust_anchors[1]`) and,
//! for the file, its line.

use std::path::{Path, PathBuf};

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

use crate::config::{Config, Problem};

/// The root zone's DS records of KSK-2017 (key tag 20326) and KSK-2024
/// (key tag 38696), as IANA publishes them (root-anchors.xml).
pub const BUILTIN_ROOT_ANCHORS: &[&str] = &[
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
];

/// What `[dnssec]` resolved to.
#[derive(Debug, Clone, Default)]
pub struct DnssecSettings {
    /// DS and DNSKEY records to start chains of trust from (empty when
    /// validation is off).
    pub anchors: Vec<Record>,
    /// Negative trust anchors (RFC 7646), lowercase, absolute.
    pub negative: Vec<Name>,
    /// `dnssec.state_dir` resolved, if set.
    pub state_dir: Option<PathBuf>,
}

/// Parse one DS or DNSKEY record in presentation format; the reason when
/// it is not one.
pub fn parse_anchor(line: &str) -> Result<Record, String> {
    if let Some(r) = parse_dnskey(line)? {
        return Ok(r);
    }
    let text = format!("$TTL 3600\n{}\n", line.trim());
    let (_, sets) = Parser::new(text, None, Some(Name::root()))
        .parse()
        .map_err(|e| format!("`{}`: {e}", line.trim()))?;
    let mut records: Vec<Record> = sets
        .into_values()
        .flat_map(|s| s.records_without_rrsigs().cloned().collect::<Vec<_>>())
        .collect();
    match (records.pop(), records.is_empty()) {
        (Some(r), true) if matches!(r.record_type(), RecordType::DS | RecordType::DNSKEY) => Ok(r),
        (Some(r), true) => Err(format!(
            "`{}`: a {} record; a trust anchor is a DS or DNSKEY record",
            line.trim(),
            r.record_type()
        )),
        _ => Err(format!("`{}`: not one DS or DNSKEY record", line.trim())),
    }
}

/// A DNSKEY line (`owner [ttl] [IN] DNSKEY flags 3 alg base64...`), by
/// hand: hickory's zone parser refuses DNSKEY text. `Ok(None)` when the
/// line is not a DNSKEY record.
fn parse_dnskey(line: &str) -> Result<Option<Record>, String> {
    let clean: String = line.chars().filter(|c| *c != '(' && *c != ')').collect();
    let toks: Vec<&str> = clean.split_whitespace().collect();
    let Some(at) = toks.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")) else {
        return Ok(None);
    };
    let bad = |why: &str| format!("`{}`: {why}", line.trim());
    let owner = toks
        .first()
        .filter(|_| at >= 1)
        .ok_or_else(|| bad("no owner name"))?;
    let mut name = Name::from_ascii(owner).map_err(|e| bad(&e.to_string()))?;
    name.set_fqdn(true);
    let ttl = toks[1..at]
        .iter()
        .find_map(|t| t.parse::<u32>().ok())
        .unwrap_or(3600);
    let field = |i: usize| {
        toks.get(at + i)
            .ok_or_else(|| bad("DNSKEY needs flags, protocol, algorithm and key"))
    };
    let flags: u16 = field(1)?
        .parse()
        .map_err(|_| bad("flags is not a number"))?;
    let protocol: u8 = field(2)?
        .parse()
        .map_err(|_| bad("protocol is not a number"))?;
    if protocol != 3 {
        return Err(bad("protocol must be 3 (RFC 4034 2.1.2)"));
    }
    let alg: u8 = field(3)?
        .parse()
        .map_err(|_| bad("algorithm is not a number"))?;
    field(4)?;
    let key: String = toks[at + 4..].concat();
    let key = data_encoding::BASE64
        .decode(key.as_bytes())
        .map_err(|e| bad(&format!("key is not base64: {e}")))?;
    let dnskey = DNSKEY::with_flags(flags, PublicKeyBuf::new(key, Algorithm::from_u8(alg)));
    Ok(Some(Record::from_rdata(
        name,
        ttl,
        RData::DNSSEC(DNSSECRData::DNSKEY(dnskey)),
    )))
}

/// A zone name for `dnssec.negative_trust_anchors`.
pub fn parse_zone(text: &str) -> Result<Name, String> {
    let mut n = Name::from_ascii(text.trim())
        .map_err(|e| format!("`{text}` is not a domain name: {e}"))?
        .to_lowercase();
    n.set_fqdn(true);
    Ok(n)
}

/// Anchor lines of a trust-anchor file: blank lines, `;` and `#`
/// comments skipped; (line number, text).
fn file_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.split(';').next().unwrap_or("").trim();
        (!l.is_empty() && !l.starts_with('#')).then_some((i + 1, l))
    })
}

/// The negative trust anchors of `c`, for a reload (already validated).
pub fn negative_anchors(c: &Config) -> Vec<Name> {
    c.dnssec
        .negative_trust_anchors
        .iter()
        .filter_map(|s| parse_zone(s).ok())
        .collect()
}

/// Check `dnssec.*` and build its settings.
pub fn dnssec(c: &Config, base: &Path, problems: &mut Vec<Problem>) -> DnssecSettings {
    let mut bad = |key: String, reason: String| problems.push(Problem { key, reason });
    let d = &c.dnssec;
    let mut anchors = Vec::new();
    for (i, line) in d.trust_anchors.iter().enumerate() {
        match parse_anchor(line) {
            Ok(r) => anchors.push(r),
            Err(e) => bad(format!("dnssec.trust_anchors[{i}]"), e),
        }
    }
    if !d.trust_anchor_file.is_empty() {
        let path = base.join(&d.trust_anchor_file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let before = anchors.len();
                for (n, line) in file_lines(&text) {
                    match parse_anchor(line) {
                        Ok(r) => anchors.push(r),
                        Err(e) => bad(
                            "dnssec.trust_anchor_file".into(),
                            format!("{}:{n}: {e}", path.display()),
                        ),
                    }
                }
                if anchors.len() == before {
                    bad(
                        "dnssec.trust_anchor_file".into(),
                        format!("{}: no DS or DNSKEY record", path.display()),
                    );
                }
            }
            Err(e) => bad(
                "dnssec.trust_anchor_file".into(),
                format!("{}: cannot read: {e}", path.display()),
            ),
        }
    }
    if d.trust_anchors.is_empty() && d.trust_anchor_file.is_empty() {
        anchors = BUILTIN_ROOT_ANCHORS
            .iter()
            .filter_map(|l| parse_anchor(l).ok())
            .collect();
    }
    let mut negative = Vec::new();
    for (i, z) in d.negative_trust_anchors.iter().enumerate() {
        match parse_zone(z) {
            Ok(n) => negative.push(n),
            Err(e) => bad(format!("dnssec.negative_trust_anchors[{i}]"), e),
        }
    }
    let state_dir = (!d.state_dir.is_empty()).then(|| base.join(&d.state_dir));
    if let Some(p) = &state_dir {
        if !p.is_dir() {
            bad(
                "dnssec.state_dir".into(),
                format!("{}: not a directory", p.display()),
            );
        }
    }
    for (key, v) in [
        ("dnssec.bogus_ttl_secs", d.bogus_ttl_secs),
        ("dnssec.max_signature_checks", d.max_signature_checks),
        ("dnssec.max_nsec3_hashes", d.max_nsec3_hashes),
        ("dnssec.max_keys_per_tag", d.max_keys_per_tag),
    ] {
        if v == 0 {
            bad(key.into(), "must be at least 1".into());
        }
    }
    if d.max_signature_checks > 10_000 {
        bad(
            "dnssec.max_signature_checks".into(),
            "must be at most 10000 (each costs a public-key operation)".into(),
        );
    }
    if d.nsec3_max_iterations > 2500 {
        bad(
            "dnssec.nsec3_max_iterations".into(),
            "must be at most 2500 (RFC 5155's largest for 4096-bit keys; RFC 9276 says 0)".into(),
        );
    }
    if !d.validation {
        anchors.clear();
    }
    DnssecSettings {
        anchors,
        negative,
        state_dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_parse_and_other_records_do_not() {
        for l in BUILTIN_ROOT_ANCHORS {
            let r = parse_anchor(l).expect("builtin");
            assert_eq!(r.record_type(), RecordType::DS);
            assert!(r.name.is_root());
        }
        let k = parse_anchor(
            "example.zz. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
        )
        .expect("dnskey");
        assert_eq!(k.record_type(), RecordType::DNSKEY);
        assert_eq!(k.name, Name::from_ascii("example.zz.").expect("n"));
        assert!(parse_anchor(". IN A 192.0.2.1").is_err());
        assert!(parse_anchor("not a record").is_err());
        assert!(parse_zone("bad..name").is_err());
        assert_eq!(
            parse_zone("Example.ZZ").expect("zone"),
            Name::from_ascii("example.zz.").expect("n")
        );
    }
}
