//! Verifying one RRset with a zone's keys (RFC 4035 §5.3, RFC 6840 §5.11).
//!
//! Every RRSIG that could cover the set is looked at in turn; the first
//! that verifies wins (any one valid path is enough). The checks before
//! the crypto are cheap and uncounted; each public-key operation is
//! charged to the [`Budget`], and at most `max_keys_per_tag` keys are
//! tried for one RRSIG, however many share its key tag (KeyTrap).

use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, PublicKey};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::canonical::{self, signed_owner};
use super::rsa_small;
use super::{Budget, Failure, Now, Verified, ZoneKeys};
use crate::wire::ede;

/// Whether dnsward validates signatures of `alg`: RSA/SHA-1 (5, 7; RFC
/// 8624 still requires validating them), RSA/SHA-256 (8), RSA/SHA-512
/// (10), ECDSA P-256 (13), P-384 (14) and Ed25519 (15). Ed448 (16) is not
/// in ring, so a zone signed only with it is insecure (RFC 6840 §5.2).
pub fn supported_algorithm(alg: Algorithm) -> bool {
    matches!(u8::from(alg), 5 | 7 | 8 | 10 | 13 | 14 | 15)
}

/// The RRSIG rdata of `r`, if it is one.
pub(crate) fn rrsig_of(r: &Record) -> Option<&RRSIG> {
    match &r.data {
        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) => Some(s),
        _ => None,
    }
}

/// The DNSKEY rdata of `r`, if it is one.
pub(crate) fn dnskey_of(r: &Record) -> Option<&DNSKEY> {
    match &r.data {
        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(k)) => Some(k),
        _ => None,
    }
}

/// The signer name of the first RRSIG in `rrsigs` covering `covered`: the
/// zone whose keys the caller must fetch.
pub fn signer(rrsigs: &[Record], covered: RecordType) -> Option<&Name> {
    rrsigs
        .iter()
        .filter_map(rrsig_of)
        .find(|s| s.input().type_covered == covered)
        .map(|s| &s.input().signer_name)
}

/// `a < b` in RFC 1982 serial-number arithmetic (32 bits).
fn serial_lt(a: u32, b: u32) -> bool {
    a != b && (b.wrapping_sub(a) as i32) > 0
}

/// Why one RRSIG did not verify, ranked so the most telling reason across
/// all RRSIGs becomes the failure: a signature that checked and failed
/// says more than a key that is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Miss {
    Unusable,
    NoKey,
    NoZoneBit,
    NotYetValid,
    Expired,
    BadSignature,
}

impl Miss {
    fn failure(self, zone: &Name) -> Failure {
        let (code, text) = match self {
            Miss::Unusable => (ede::EDE_DNSSEC_BOGUS, "no usable RRSIG"),
            Miss::NoKey => (ede::EDE_DNSKEY_MISSING, "no DNSKEY matches the RRSIG"),
            Miss::NoZoneBit => (ede::EDE_NO_ZONE_KEY_BIT, "matching DNSKEY has no zone bit"),
            Miss::NotYetValid => (ede::EDE_SIGNATURE_NOT_YET_VALID, "signature not yet valid"),
            Miss::Expired => (ede::EDE_SIGNATURE_EXPIRED, "signature expired"),
            Miss::BadSignature => (ede::EDE_DNSSEC_BOGUS, "signature does not verify"),
        };
        Failure::new(code, zone, text)
    }
}

/// Verifies one RRset (all records of one owner, type and class) with the
/// zone's keys: accepts the first RRSIG that checks, charging each
/// verification to `budget`. `rrsigs` may hold RRSIGs of other owners and
/// types; only those covering this set are used.
pub fn verify_rrset(
    rrset: &[Record],
    rrsigs: &[Record],
    keys: &ZoneKeys,
    now: Now,
    budget: &mut Budget,
) -> Result<Verified, Failure> {
    let zone = &keys.zone;
    let Some(first) = rrset.first() else {
        return Err(Failure::new(ede::EDE_DNSSEC_BOGUS, zone, "empty RRset"));
    };
    let owner = &first.name;
    let rtype = first.record_type();
    let class = first.dns_class;
    if rrset
        .iter()
        .any(|r| r.name != *owner || r.record_type() != rtype || r.dns_class != class)
    {
        return Err(Failure::new(ede::EDE_DNSSEC_BOGUS, zone, "mixed RRset"));
    }
    // Key tags once per call: computing one encodes the key.
    let tagged: Vec<(u16, &DNSKEY)> = keys
        .keys
        .iter()
        .filter_map(|k| k.calculate_key_tag().ok().map(|t| (t, k)))
        .collect();

    let mut best: Option<Miss> = None;
    let mut note = |m: Miss| best = best.max(Some(m));
    let covering = rrsigs
        .iter()
        .filter(|r| r.name == *owner && r.dns_class == class);
    for (sig_rr, sig) in covering.filter_map(|r| rrsig_of(r).map(|s| (r, s))) {
        let input = sig.input();
        if input.type_covered != rtype {
            continue;
        }
        // RFC 4035 §5.3.1: the signer is the zone holding the RRset, the
        // labels field at most the owner's, a supported algorithm.
        if input.signer_name != *zone
            || !zone.zone_of(owner)
            || input.num_labels > owner.num_labels()
            || !supported_algorithm(input.algorithm)
        {
            note(Miss::Unusable);
            continue;
        }
        if serial_lt(input.sig_expiration.get(), now) {
            note(Miss::Expired);
            continue;
        }
        if serial_lt(now, input.sig_inception.get()) {
            note(Miss::NotYetValid);
            continue;
        }
        let mut candidates = tagged
            .iter()
            .filter(|(t, k)| *t == input.key_tag && k.public_key().algorithm() == input.algorithm)
            .map(|(_, k)| *k)
            .peekable();
        if candidates.peek().is_none() {
            note(Miss::NoKey);
            continue;
        }
        let usable: Vec<&DNSKEY> = candidates
            .filter(|k| k.zone_key() && !k.revoke())
            .take(budget.limits().max_keys_per_tag as usize)
            .collect();
        if usable.is_empty() {
            note(Miss::NoZoneBit);
            continue;
        }
        let Ok(data) = canonical::signed_data(input, rrset) else {
            note(Miss::Unusable);
            continue;
        };
        for key in usable {
            budget.charge_signature(zone)?;
            if verify_signature(key, &data, sig.sig()) {
                return Ok(verified(rrset, sig_rr, sig, owner, now));
            }
            note(Miss::BadSignature);
        }
    }
    Err(match best {
        Some(m) => m.failure(zone),
        None => Failure::new(ede::EDE_RRSIGS_MISSING, zone, "no RRSIG covers the RRset"),
    })
}

/// One public-key verification of `sig` over `data` (the output of
/// [`canonical::signed_data`]) with `key`: ring, or `rsa_small` for RSA
/// moduli below the 1024 bits ring accepts. Uncounted: callers outside
/// [`verify_rrset`] (RFC 5011 self-signatures) charge
/// [`Budget::charge_signature`] themselves.
pub fn verify_signature(key: &DNSKEY, data: &[u8], sig: &[u8]) -> bool {
    let public = key.public_key();
    let alg = u8::from(public.algorithm());
    if rsa_small::handles(alg, public.public_bytes()) {
        return rsa_small::verify(alg, public.public_bytes(), data, sig);
    }
    public.verify(data, sig).is_ok()
}

/// The TTL and wildcard of an RRset that `sig` verified (RFC 4035 §5.3.3).
fn verified(rrset: &[Record], sig_rr: &Record, sig: &RRSIG, owner: &Name, now: Now) -> Verified {
    let input = sig.input();
    let until_expiry = input.sig_expiration.get().wrapping_sub(now);
    let ttl = rrset
        .iter()
        .map(|r| r.ttl)
        .min()
        .unwrap_or(0)
        .min(sig_rr.ttl)
        .min(input.original_ttl)
        .min(until_expiry);
    let wildcard = (input.num_labels < owner.num_labels())
        .then(|| signed_owner(owner, input.num_labels).ok())
        .flatten();
    Verified { ttl, wildcard }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::testkit::*;
    use crate::dnssec::Limits;

    fn zone() -> Name {
        n("example.")
    }

    fn check(alg: u8) {
        let z = zone();
        let key = Key::new(alg, 256);
        let set = vec![
            a("www.example.", [192, 0, 2, 1]),
            a("www.example.", [192, 0, 2, 2]),
        ];
        let sig = sign(&set, &z, &key, Window::default());
        let mut b = budget();
        let v = verify_rrset(&set, &[sig], &zone_keys(&z, &[&key]), NOW, &mut b)
            .unwrap_or_else(|f| panic!("algorithm {alg}: {f}"));
        assert_eq!(v.ttl, 300);
        assert_eq!(v.wildcard, None);
        assert_eq!(b.signature_checks(), 1);
    }

    #[test]
    fn every_supported_algorithm_verifies() {
        for alg in [8, 10, 13, 14, 15] {
            check(alg);
        }
    }

    #[test]
    fn record_order_and_case_do_not_matter() {
        let z = zone();
        let key = Key::new(13, 256);
        let set = vec![
            a("www.example.", [192, 0, 2, 1]),
            a("www.example.", [192, 0, 2, 2]),
        ];
        let sig = sign(&set, &z, &key, Window::default());
        let reversed = vec![
            a("WWW.Example.", [192, 0, 2, 2]),
            a("www.EXAMPLE.", [192, 0, 2, 1]),
        ];
        let keys = zone_keys(&z, &[&key]);
        assert!(verify_rrset(
            &reversed,
            std::slice::from_ref(&sig),
            &keys,
            NOW,
            &mut budget()
        )
        .is_ok());
        // A duplicate RR is dropped, as RFC 4034 §6.3 asks.
        let mut dup = set.clone();
        dup.push(set[0].clone());
        assert!(verify_rrset(&dup, &[sig], &keys, NOW, &mut budget()).is_ok());
    }

    #[test]
    fn tampered_data_is_bogus() {
        let z = zone();
        let key = Key::new(13, 256);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let sig = sign(&set, &z, &key, Window::default());
        let forged = vec![a("www.example.", [192, 0, 2, 66])];
        let f = verify_rrset(&forged, &[sig], &zone_keys(&z, &[&key]), NOW, &mut budget())
            .expect_err("forged");
        assert_eq!(
            (f.ede, f.text),
            (ede::EDE_DNSSEC_BOGUS, "signature does not verify")
        );
        assert_eq!(f.zone, z);
    }

    #[test]
    fn windows_use_serial_arithmetic() {
        let z = zone();
        let key = Key::new(15, 256);
        let keys = zone_keys(&z, &[&key]);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let expired = Window {
            inception: NOW - 200,
            expiration: NOW - 100,
            labels: None,
        };
        let f = verify_rrset(
            &set,
            &[sign(&set, &z, &key, expired)],
            &keys,
            NOW,
            &mut budget(),
        )
        .expect_err("expired");
        assert_eq!(f.ede, ede::EDE_SIGNATURE_EXPIRED);
        let early = Window {
            inception: NOW + 100,
            expiration: NOW + 200,
            labels: None,
        };
        let f = verify_rrset(
            &set,
            &[sign(&set, &z, &key, early)],
            &keys,
            NOW,
            &mut budget(),
        )
        .expect_err("early");
        assert_eq!(f.ede, ede::EDE_SIGNATURE_NOT_YET_VALID);
        // Across the 2^32 wrap: inception just before, expiration after.
        let wrap = Window {
            inception: u32::MAX - 10,
            expiration: 100,
            labels: None,
        };
        let sig = sign(&set, &z, &key, wrap);
        let v = verify_rrset(&set, &[sig], &keys, 5, &mut budget()).expect("wraps");
        assert_eq!(v.ttl, 95, "TTL capped by the time left before expiry");
        // The expired failure is not the answer when another RRSIG works.
        let both = [
            sign(&set, &z, &key, expired),
            sign(&set, &z, &key, Window::default()),
        ];
        assert!(verify_rrset(&set, &both, &keys, NOW, &mut budget()).is_ok());
    }

    #[test]
    fn missing_signatures_keys_and_zone_bit() {
        let z = zone();
        let key = Key::new(13, 256);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let keys = zone_keys(&z, &[&key]);
        let f = verify_rrset(&set, &[], &keys, NOW, &mut budget()).expect_err("none");
        assert_eq!(f.ede, ede::EDE_RRSIGS_MISSING);
        // An RRSIG for another type does not count.
        let other = vec![txt("www.example.", "x")];
        let f = verify_rrset(
            &set,
            &[sign(&other, &z, &key, Window::default())],
            &keys,
            NOW,
            &mut budget(),
        )
        .expect_err("other type");
        assert_eq!(f.ede, ede::EDE_RRSIGS_MISSING);
        let sig = sign(&set, &z, &key, Window::default());
        let stranger = Key::new(13, 256);
        let f = verify_rrset(
            &set,
            std::slice::from_ref(&sig),
            &zone_keys(&z, &[&stranger]),
            NOW,
            &mut budget(),
        )
        .expect_err("no key");
        assert_eq!(f.ede, ede::EDE_DNSKEY_MISSING);
        // The same key without the ZONE bit (flags 0) has another tag, so
        // sign with a non-zone key directly.
        let nonzone = Key::new(13, 0);
        let sig0 = sign(&set, &z, &nonzone, Window::default());
        let f = verify_rrset(
            &set,
            &[sig0],
            &zone_keys(&z, &[&nonzone]),
            NOW,
            &mut budget(),
        )
        .expect_err("no zone bit");
        assert_eq!(f.ede, ede::EDE_NO_ZONE_KEY_BIT);
        // A revoked key (flags 385) signs nothing.
        let revoked = Key::new(13, 256 | 128 | 1);
        let sigr = sign(&set, &z, &revoked, Window::default());
        assert!(verify_rrset(
            &set,
            &[sigr],
            &zone_keys(&z, &[&revoked]),
            NOW,
            &mut budget()
        )
        .is_err());
    }

    #[test]
    fn signer_must_be_the_zone_and_labels_fit() {
        let z = zone();
        let key = Key::new(13, 256);
        let keys = zone_keys(&z, &[&key]);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let sig = sign(&set, &n("other."), &key, Window::default());
        let f = verify_rrset(&set, &[sig], &keys, NOW, &mut budget()).expect_err("signer");
        assert_eq!(f.text, "no usable RRSIG");
        let big = Window {
            labels: Some(3),
            ..Window::default()
        };
        assert!(verify_rrset(
            &set,
            &[sign(&set, &z, &key, big)],
            &keys,
            NOW,
            &mut budget()
        )
        .is_err());
        // A name outside the zone is not the zone's to sign.
        let out = vec![a("www.example.net.", [192, 0, 2, 1])];
        assert!(verify_rrset(
            &out,
            &[sign(&out, &z, &key, Window::default())],
            &keys,
            NOW,
            &mut budget()
        )
        .is_err());
    }

    #[test]
    fn wildcard_expansion_is_reported() {
        let z = zone();
        let key = Key::new(13, 256);
        let keys = zone_keys(&z, &[&key]);
        // Signed at *.example. (labels 1), answered as a.b.example.
        let set = vec![a("a.b.example.", [192, 0, 2, 1])];
        let w = Window {
            labels: Some(1),
            ..Window::default()
        };
        let sig = sign(&set, &z, &key, w);
        let v = verify_rrset(&set, &[sig], &keys, NOW, &mut budget()).expect("wildcard");
        assert_eq!(v.wildcard, Some(n("*.example.")));
    }

    #[test]
    fn ttl_is_capped_by_original_ttl_and_rrsig_ttl() {
        let z = zone();
        let key = Key::new(13, 256);
        let keys = zone_keys(&z, &[&key]);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let mut sig = sign(&set, &z, &key, Window::default());
        sig.ttl = 120;
        let v = verify_rrset(&set, &[sig], &keys, NOW, &mut budget()).expect("ok");
        assert_eq!(v.ttl, 120);
        // A received TTL above the original one: capped, and still valid
        // (the signed data uses the original TTL).
        let mut longer = set.clone();
        longer[0].ttl = 9000;
        let sig = sign(&set, &z, &key, Window::default());
        let v = verify_rrset(&longer, &[sig], &keys, NOW, &mut budget()).expect("ok");
        assert_eq!(v.ttl, 300);
    }

    #[test]
    fn many_bad_signatures_stop_at_the_budget() {
        let z = zone();
        let real = Key::new(13, 256);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let sig = sign(&set, &z, &real, Window::default());
        // Keys that claim the real key's tag cannot be built, so forge the
        // RRSIG tag instead: 10 bad signatures with one key, one good last.
        let mut sigs: Vec<Record> = (0..10)
            .map(|i| {
                let other = vec![a("www.example.", [10, 0, 0, i])];
                let mut s = sign(&other, &z, &real, Window::default());
                s.name = n("www.example.");
                s
            })
            .collect();
        sigs.push(sig);
        let limits = Limits {
            max_signature_checks: 4,
            ..Limits::default()
        };
        let mut b = Budget::new(&limits);
        let f =
            verify_rrset(&set, &sigs, &zone_keys(&z, &[&real]), NOW, &mut b).expect_err("budget");
        assert_eq!(
            (f.ede, f.text),
            (ede::EDE_DNSSEC_BOGUS, crate::dnssec::budget::BUDGET_TEXT)
        );
        assert_eq!(b.signature_checks(), 4);
        assert!(b.exceeded());
    }

    #[test]
    fn colliding_key_tags_cost_at_most_max_keys_per_tag() {
        let z = zone();
        let real = Key::new(15, 256);
        let set = vec![a("www.example.", [192, 0, 2, 1])];
        let sig = sign(&set, &z, &real, Window::default());
        let mut keys = zone_keys(&z, &[]);
        keys.keys = (0..10).map(|i| colliding(real.tag(), i)).collect();
        keys.keys.push(real.dnskey.clone());
        // Ten keys share the RRSIG's tag ahead of the real one: two are
        // tried, then the RRSIG is given up.
        let mut b = budget();
        let f = verify_rrset(&set, std::slice::from_ref(&sig), &keys, NOW, &mut b)
            .expect_err("real key beyond the cap");
        assert_eq!(f.ede, ede::EDE_DNSSEC_BOGUS);
        assert_eq!(b.signature_checks(), Limits::default().max_keys_per_tag);
        // The real key within the cap verifies.
        keys.keys.rotate_right(1);
        let mut b = budget();
        assert!(verify_rrset(&set, &[sig], &keys, NOW, &mut b).is_ok());
        assert_eq!(b.signature_checks(), 1);
    }

    #[test]
    fn unsupported_algorithms_are_named() {
        assert!(supported_algorithm(Algorithm::from_u8(8)));
        assert!(supported_algorithm(Algorithm::from_u8(5)));
        assert!(!supported_algorithm(Algorithm::from_u8(16)));
        assert!(!supported_algorithm(Algorithm::from_u8(3)));
        assert!(!supported_algorithm(Algorithm::from_u8(253)));
    }

    #[test]
    fn serial_comparison_wraps() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 2));
        assert!(serial_lt(u32::MAX, 1));
        assert!(!serial_lt(1, u32::MAX));
    }
}
