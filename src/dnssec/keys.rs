//! A zone's DNSKEY RRset against its DS set or trust anchors (RFC 4035
//! §5.2, RFC 4509 §3, RFC 6840 §5.2, RFC 5011 §2.1 REVOKE).
//!
//! The entry keys are the zone keys a supported DS (or a DNSKEY anchor)
//! names; at least one must sign the DNSKEY RRset, and then every zone key
//! of that set may sign the zone's data. The SEP flag is only a hint
//! (RFC 4034 §2.1.2) and is not required. A revoked key is never trusted,
//! neither as an entry key nor for data.

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{DigestType, PublicKey};
use hickory_proto::rr::{Name, Record, RecordType};

use super::verify::{dnskey_of, supported_algorithm, verify_rrset};
use super::{Anchor, Budget, Failure, KeysOutcome, Now, ZoneKeys};
use crate::wire::ede;

/// Whether dnsward can check DS digests of `digest`: SHA-1 (1), SHA-256
/// (2), SHA-384 (4). GOST (3) is not in ring: such DS are unsupported.
pub fn supported_digest(digest: DigestType) -> bool {
    matches!(u8::from(digest), 1 | 2 | 4)
}

/// Whether `ds` is the digest of the zone key `key` owned by `zone`: key
/// tag, algorithm and digest all match.
pub fn ds_matches(ds: &DS, zone: &Name, key: &DNSKEY) -> bool {
    key.zone_key()
        && key.public_key().algorithm() == ds.algorithm()
        && key.calculate_key_tag().ok() == Some(ds.key_tag())
        && supported_digest(ds.digest_type())
        && key
            .to_digest(zone, ds.digest_type())
            .is_ok_and(|d| d.as_ref() == ds.digest())
}

/// The DS records worth checking: supported algorithm and digest, and
/// SHA-1 only for a key (tag and algorithm) no SHA-256/384 DS names, so a
/// forged SHA-1 match cannot stand in for a stronger digest that fails
/// (RFC 4509 §3, RFC 6840 §5.2).
fn usable_ds(anchors: &[Anchor]) -> Vec<&DS> {
    let supported: Vec<&DS> = anchors
        .iter()
        .filter_map(|a| match a {
            Anchor::Ds(ds) => Some(ds),
            Anchor::Dnskey(_) => None,
        })
        .filter(|ds| supported_algorithm(ds.algorithm()) && supported_digest(ds.digest_type()))
        .collect();
    let stronger = |ds: &DS| {
        supported.iter().any(|o| {
            o.key_tag() == ds.key_tag()
                && o.algorithm() == ds.algorithm()
                && u8::from(o.digest_type()) != 1
        })
    };
    supported
        .iter()
        .copied()
        .filter(|ds| u8::from(ds.digest_type()) != 1 || !stronger(ds))
        .collect()
}

/// Why no anchor is usable, as an EDE: an algorithm dnsward lacks (1) when
/// any anchor has one, otherwise a digest it lacks (2).
fn unsupported_reason(anchors: &[Anchor]) -> u16 {
    let bad_alg = anchors.iter().any(|a| match a {
        Anchor::Ds(ds) => !supported_algorithm(ds.algorithm()),
        Anchor::Dnskey(k) => !supported_algorithm(k.public_key().algorithm()),
    });
    if bad_alg {
        ede::EDE_UNSUPPORTED_DNSKEY_ALGORITHM
    } else {
        ede::EDE_UNSUPPORTED_DS_DIGEST
    }
}

/// DS digests computed per DNSKEY RRset at most. Unbound (1.19.1) gives up
/// after 4 DS that match no key; dnsward counts every digest instead, so
/// a legitimate set with a key-tag collision or a few DS during a
/// rollover still finds its key, while a set of colliding keys times a
/// long DS list costs at most this many SHA-256/384 runs.
pub const MAX_DS_DIGESTS: usize = 16;

/// Validates the DNSKEY RRset of `zone` against `anchors` (the parent's
/// validated DS RRset, or the configured trust anchors of the zone).
///
/// `Insecure` when no anchor has a supported algorithm and digest (the
/// reason in [`Budget::insecure_ede`]); `Bogus` when supported anchors
/// exist but no key they name signs the set (EDE 9), or the signatures
/// fail (the EDE of [`verify_rrset`]).
pub fn validate_dnskeys(
    zone: &Name,
    dnskey_rrset: &[Record],
    rrsigs: &[Record],
    anchors: &[Anchor],
    now: Now,
    budget: &mut Budget,
) -> KeysOutcome {
    if anchors.is_empty() {
        return KeysOutcome::Bogus(Failure::new(
            ede::EDE_DNSSEC_BOGUS,
            zone,
            "no DS or trust anchor to check the DNSKEY RRset against",
        ));
    }
    let ds_set = usable_ds(anchors);
    let key_anchors: Vec<&DNSKEY> = anchors
        .iter()
        .filter_map(|a| match a {
            Anchor::Dnskey(k) => Some(k),
            Anchor::Ds(_) => None,
        })
        .filter(|k| supported_algorithm(k.public_key().algorithm()) && !k.revoke())
        .collect();
    let revoked_anchor_only = ds_set.is_empty()
        && key_anchors.is_empty()
        && anchors
            .iter()
            .any(|a| matches!(a, Anchor::Dnskey(k) if k.revoke()));
    if ds_set.is_empty() && key_anchors.is_empty() && !revoked_anchor_only {
        budget.set_insecure_ede(unsupported_reason(anchors));
        return KeysOutcome::Insecure;
    }

    let dnskeys: Vec<(&Record, &DNSKEY)> = dnskey_rrset
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY && r.name == *zone)
        .filter_map(|r| dnskey_of(r).map(|k| (r, k)))
        .collect();
    if dnskeys.is_empty() {
        return KeysOutcome::Bogus(Failure::new(
            ede::EDE_DNSKEY_MISSING,
            zone,
            "no DNSKEY RRset",
        ));
    }

    // Entry keys: zone keys a usable DS names, and DNSKEY anchors (which
    // need not be in the set: the anchor itself is the trust). Digests are
    // cheap next to signatures but not free: at most MAX_DS_DIGESTS per
    // RRset, however many DS and colliding key tags the zone publishes.
    let mut digests = 0;
    let mut entry: Vec<DNSKEY> = Vec::new();
    'ds: for ds in &ds_set {
        let candidates = dnskeys.iter().map(|(_, k)| *k).filter(|k| {
            k.zone_key()
                && !k.revoke()
                && k.public_key().algorithm() == ds.algorithm()
                && k.calculate_key_tag().ok() == Some(ds.key_tag())
        });
        for k in candidates {
            if digests == MAX_DS_DIGESTS {
                break 'ds;
            }
            digests += 1;
            if ds_matches(ds, zone, k) && !entry.contains(k) {
                entry.push(k.clone());
            }
        }
    }
    for k in &key_anchors {
        if !entry.contains(k) {
            entry.push((*k).clone());
        }
    }
    if entry.is_empty() {
        return KeysOutcome::Bogus(Failure::new(
            ede::EDE_DNSKEY_MISSING,
            zone,
            "no DNSKEY matches the DS or trust anchor",
        ));
    }

    let rrset: Vec<Record> = dnskeys.iter().map(|(r, _)| (*r).clone()).collect();
    let entry_keys = ZoneKeys {
        zone: zone.clone(),
        keys: entry,
        ttl: 0,
    };
    match verify_rrset(&rrset, rrsigs, &entry_keys, now, budget) {
        Ok(v) => KeysOutcome::Secure(ZoneKeys {
            zone: zone.clone(),
            keys: dnskeys
                .iter()
                .map(|(_, k)| *k)
                .filter(|k| k.zone_key() && !k.revoke())
                .cloned()
                .collect(),
            ttl: v.ttl,
        }),
        Err(f) => KeysOutcome::Bogus(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::testkit::*;
    use crate::dnssec::Limits;
    use hickory_proto::dnssec::Algorithm;
    use hickory_proto::rr::RData;

    struct Zone {
        name: Name,
        ksk: Key,
        zsk: Key,
        set: Vec<Record>,
        sigs: Vec<Record>,
    }

    /// A zone whose DNSKEY RRset (KSK + ZSK) is signed by the KSK.
    fn zone(alg: u8) -> Zone {
        let name = n("example.");
        let ksk = Key::new(alg, 257);
        let zsk = Key::new(if alg == 8 { 13 } else { alg }, 256);
        let set = vec![ksk.record(&name), zsk.record(&name)];
        let sigs = vec![sign(&set, &name, &ksk, Window::default())];
        Zone {
            name,
            ksk,
            zsk,
            set,
            sigs,
        }
    }

    fn run(z: &Zone, anchors: &[Anchor]) -> (KeysOutcome, Budget) {
        let mut b = budget();
        let out = validate_dnskeys(&z.name, &z.set, &z.sigs, anchors, NOW, &mut b);
        (out, b)
    }

    #[test]
    fn ds_sha256_and_sha384_and_dnskey_anchors_validate() {
        let z = zone(13);
        for anchor in [
            Anchor::Ds(z.ksk.ds(&z.name, DigestType::SHA256)),
            Anchor::Ds(z.ksk.ds(&z.name, DigestType::SHA384)),
            Anchor::Ds(z.ksk.ds(&z.name, DigestType::SHA1)),
            Anchor::Dnskey(z.ksk.dnskey.clone()),
        ] {
            match run(&z, std::slice::from_ref(&anchor)).0 {
                KeysOutcome::Secure(keys) => {
                    assert_eq!(keys.keys.len(), 2, "{anchor:?}");
                    assert_eq!(keys.ttl, 3600);
                    assert_eq!(keys.zone, z.name);
                }
                o => panic!("{anchor:?}: {o:?}"),
            }
        }
        assert!(matches!(
            run(&zone(8), &[zone(8).ksk.anchor(&n("example."))]).0,
            KeysOutcome::Secure(_)
        ));
    }

    #[test]
    fn the_ds_matched_key_must_sign_the_set() {
        let mut z = zone(13);
        // Signed by the ZSK only, while the DS names the KSK.
        z.sigs = vec![sign(&z.set, &z.name, &z.zsk, Window::default())];
        match run(&z, &[z.ksk.anchor(&z.name)]).0 {
            KeysOutcome::Bogus(f) => assert_eq!(f.ede, ede::EDE_DNSKEY_MISSING),
            o => panic!("{o:?}"),
        }
        // A DS naming a key absent from the set.
        let z = zone(13);
        let other = Key::new(13, 257);
        match run(&z, &[other.anchor(&z.name)]).0 {
            KeysOutcome::Bogus(f) => assert_eq!(f.ede, ede::EDE_DNSKEY_MISSING),
            o => panic!("{o:?}"),
        }
        // No RRSIG at all over the DNSKEY RRset.
        let mut z = zone(13);
        z.sigs.clear();
        match run(&z, &[z.ksk.anchor(&z.name)]).0 {
            KeysOutcome::Bogus(f) => assert_eq!(f.ede, ede::EDE_RRSIGS_MISSING),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_failing_sha256_ds_is_not_rescued_by_sha1() {
        let z = zone(13);
        let mut bad = z.ksk.ds(&z.name, DigestType::SHA256).digest().to_vec();
        bad[0] ^= 1;
        let wrong = DS::new(
            z.ksk.tag(),
            Algorithm::ECDSAP256SHA256,
            DigestType::SHA256,
            bad,
        );
        let sha1 = z.ksk.ds(&z.name, DigestType::SHA1);
        match run(&z, &[Anchor::Ds(wrong.clone()), Anchor::Ds(sha1.clone())]).0 {
            KeysOutcome::Bogus(f) => assert_eq!(f.ede, ede::EDE_DNSKEY_MISSING),
            o => panic!("{o:?}"),
        }
        // SHA-1 alone is accepted (RFC 6840: digest 1 where nothing stronger).
        assert!(matches!(
            run(&z, &[Anchor::Ds(sha1)]).0,
            KeysOutcome::Secure(_)
        ));
    }

    #[test]
    fn unsupported_algorithms_and_digests_are_insecure() {
        let z = zone(13);
        let d = z.ksk.ds(&z.name, DigestType::SHA256).digest().to_vec();
        let ed448 = DS::new(
            z.ksk.tag(),
            Algorithm::from_u8(16),
            DigestType::SHA256,
            d.clone(),
        );
        let (out, b) = run(&z, &[Anchor::Ds(ed448)]);
        assert_eq!(out, KeysOutcome::Insecure);
        assert_eq!(
            b.insecure_ede(),
            Some(ede::EDE_UNSUPPORTED_DNSKEY_ALGORITHM)
        );
        let gost = DS::new(
            z.ksk.tag(),
            Algorithm::ECDSAP256SHA256,
            DigestType::from(3),
            d,
        );
        let (out, b) = run(&z, &[Anchor::Ds(gost.clone())]);
        assert_eq!(out, KeysOutcome::Insecure);
        assert_eq!(b.insecure_ede(), Some(ede::EDE_UNSUPPORTED_DS_DIGEST));
        // One supported DS beside the unsupported one: validated normally.
        let (out, _) = run(&z, &[Anchor::Ds(gost), z.ksk.anchor(&z.name)]);
        assert!(matches!(out, KeysOutcome::Secure(_)));
    }

    #[test]
    fn revoked_keys_are_never_trusted() {
        let name = n("example.");
        let revoked = Key::new(13, 257 | 128);
        let set = vec![revoked.record(&name)];
        let sigs = vec![sign(&set, &name, &revoked, Window::default())];
        for anchor in [
            Anchor::Dnskey(revoked.dnskey.clone()),
            revoked.anchor(&name),
        ] {
            let out = validate_dnskeys(&name, &set, &sigs, &[anchor], NOW, &mut budget());
            assert!(matches!(out, KeysOutcome::Bogus(_)), "{out:?}");
        }
        // A revoked key beside a good one is left out of the trusted keys.
        let ksk = Key::new(13, 257);
        let set = vec![ksk.record(&name), revoked.record(&name)];
        let sigs = vec![sign(&set, &name, &ksk, Window::default())];
        match validate_dnskeys(&name, &set, &sigs, &[ksk.anchor(&name)], NOW, &mut budget()) {
            KeysOutcome::Secure(k) => assert_eq!(k.keys, vec![ksk.dnskey.clone()]),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn empty_anchor_list_and_missing_dnskeys_fail() {
        let z = zone(13);
        assert!(matches!(run(&z, &[]).0, KeysOutcome::Bogus(_)));
        let out = validate_dnskeys(
            &z.name,
            &[],
            &[],
            &[z.ksk.anchor(&z.name)],
            NOW,
            &mut budget(),
        );
        match out {
            KeysOutcome::Bogus(f) => assert_eq!(f.ede, ede::EDE_DNSKEY_MISSING),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn many_signatures_over_the_dnskey_set_hit_the_budget() {
        let mut z = zone(13);
        // 40 RRSIGs by the KSK over other data, relabelled onto the set.
        let junk = vec![txt("example.", "junk")];
        let mut sigs: Vec<Record> = (0..40)
            .map(|_| {
                let mut s = sign(&junk, &z.name, &z.ksk, Window::default());
                if let RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(r)) =
                    &mut s.data
                {
                    let mut input = r.input().clone();
                    input.type_covered = RecordType::DNSKEY;
                    *r = hickory_proto::dnssec::rdata::RRSIG::from_sig(input, r.sig().to_vec());
                }
                s
            })
            .collect();
        sigs.append(&mut z.sigs);
        z.sigs = sigs;
        let limits = Limits::default();
        let mut b = Budget::new(&limits);
        let out = validate_dnskeys(
            &z.name,
            &z.set,
            &z.sigs,
            &[z.ksk.anchor(&z.name)],
            NOW,
            &mut b,
        );
        match out {
            KeysOutcome::Bogus(f) => assert_eq!(f.text, crate::dnssec::budget::BUDGET_TEXT),
            o => panic!("{o:?}"),
        }
        assert_eq!(b.signature_checks(), limits.max_signature_checks);
    }

    #[test]
    fn colliding_key_tags_before_the_real_key_are_hashed_within_a_bound() {
        let name = n("example.");
        let ksk = Key::new(15, 257);
        let with_fakes = |count: u8| {
            let mut set: Vec<Record> = (0..count)
                .map(|i| {
                    Record::from_rdata(
                        name.clone(),
                        3600,
                        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(
                            colliding(ksk.tag(), i),
                        )),
                    )
                })
                .collect();
            set.push(ksk.record(&name));
            let sigs = vec![sign(&set, &name, &ksk, Window::default())];
            validate_dnskeys(&name, &set, &sigs, &[ksk.anchor(&name)], NOW, &mut budget())
        };
        assert!(matches!(with_fakes(3), KeysOutcome::Secure(_)));
        match with_fakes(MAX_DS_DIGESTS as u8) {
            KeysOutcome::Bogus(f) => assert_eq!(f.ede, ede::EDE_DNSKEY_MISSING),
            o => panic!("{o:?}"),
        }
    }
}
