//! `dnssec.*`: trust anchors parsed (from the config, a file, or the
//! built-in root anchors), negative trust anchors as names, limits in
//! range. Each problem names its key (`dnssec.trust_anchors[1]`) and,
//! for the file, its line.

use std::path::Path;

use hickory_proto::rr::Name;

use crate::dnssec::anchors::AnchorSet;

use crate::config::{Config, Problem};

pub use crate::dnssec::settings::DnssecSettings;

/// A zone name for `dnssec.negative_trust_anchors`.
pub fn parse_zone(text: &str) -> Result<Name, String> {
    let mut n = Name::from_ascii(text.trim())
        .map_err(|e| format!("`{text}` is not a domain name: {e}"))?
        .to_lowercase();
    n.set_fqdn(true);
    Ok(n)
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
    let file = (!d.trust_anchor_file.is_empty()).then(|| base.join(&d.trust_anchor_file));
    let mut anchors = match AnchorSet::from_config(&d.trust_anchors, file.as_deref()) {
        Ok(set) => set,
        Err(errors) => {
            for e in errors {
                bad(e.config_key(), e.reason());
            }
            AnchorSet::new()
        }
    };
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
        anchors = AnchorSet::new();
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
    fn anchors_and_negative_anchors_are_checked_with_their_keys() {
        let mut c = Config::default();
        c.dnssec.trust_anchors = vec![". IN A 192.0.2.1".into()];
        c.dnssec.negative_trust_anchors = vec!["ok.zz".into(), "bad..zz".into()];
        c.dnssec.bogus_ttl_secs = 0;
        let mut problems = Vec::new();
        let s = dnssec(&c, Path::new("."), &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"dnssec.trust_anchors[0]"), "{problems:?}");
        assert!(
            keys.contains(&"dnssec.negative_trust_anchors[1]"),
            "{problems:?}"
        );
        assert!(keys.contains(&"dnssec.bogus_ttl_secs"), "{problems:?}");
        assert_eq!(s.negative, vec![Name::from_ascii("ok.zz.").expect("n")]);
        // No anchors configured: the built-in root anchors.
        let mut problems = Vec::new();
        let s = dnssec(&Config::default(), Path::new("."), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.anchors.get(&Name::root()).len(), 2);
        assert_eq!(
            parse_zone("Example.ZZ").expect("zone"),
            Name::from_ascii("example.zz.").expect("n")
        );
    }
}
