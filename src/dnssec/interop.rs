//! The validator against zones signed by a real signer (ldns-signzone,
//! see testdata/README.md): every RRset of every zone verifies, the
//! DNSKEY RRset validates from the DS ldns-keygen printed, and the zone's
//! own NSEC/NSEC3 chain proves names absent. Records go through the wire
//! format first, so they are typed as the resolver will see them.

use hickory_proto::dnssec::rdata::DS;
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::testkit::{budget, n, NOW};
use super::verify::rrsig_of;
use super::*;

/// Records written one after the other in wire format (testdata/to-wire.py).
fn load(wire: &[u8]) -> Vec<Record> {
    let mut decoder = BinDecoder::new(wire);
    let mut out = Vec::new();
    while !decoder.is_empty() {
        out.push(Record::read(&mut decoder).expect("record decodes"));
    }
    out
}

/// The DS of the KSK of algorithm `alg` from ds.txt (presentation lines).
fn ds_for(alg: u8) -> Anchor {
    let line = include_str!("testdata/ds.txt")
        .lines()
        .find(|l| l.split_whitespace().nth(5) == Some(&alg.to_string()))
        .expect("ds line");
    let f: Vec<&str> = line.split_whitespace().collect();
    let digest = data_encoding::HEXLOWER_PERMISSIVE
        .decode(f[7].as_bytes())
        .expect("hex");
    Anchor::Ds(DS::new(
        f[4].parse().expect("tag"),
        Algorithm::from_u8(alg),
        DigestType::from(f[6].parse::<u8>().expect("digest")),
        digest,
    ))
}

/// The RRsets of `records` (RRSIGs apart), by owner and type.
fn rrsets(records: &[Record]) -> Vec<Vec<Record>> {
    let mut sets: Vec<Vec<Record>> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
    {
        match sets
            .iter_mut()
            .find(|s| s[0].name == r.name && s[0].record_type() == r.record_type())
        {
            Some(s) => s.push(r.clone()),
            None => sets.push(vec![r.clone()]),
        }
    }
    sets
}

fn check_zone(wire: &[u8], alg: u8) {
    let zone = n("example.");
    let records = load(wire);
    let sigs: Vec<Record> = records
        .iter()
        .filter(|r| rrsig_of(r).is_some())
        .cloned()
        .collect();
    let dnskeys: Vec<Record> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY)
        .cloned()
        .collect();
    let mut b = budget();
    let keys = match validate_dnskeys(&zone, &dnskeys, &sigs, &[ds_for(alg)], NOW, &mut b) {
        KeysOutcome::Secure(k) => k,
        o => panic!("algorithm {alg}: DNSKEY RRset: {o:?}"),
    };
    let mut verified = 0;
    for set in rrsets(&records) {
        let owner = &set[0].name;
        // Delegation NS and glue are not signed by the parent.
        if (set[0].record_type() == RecordType::NS && *owner != zone)
            || n("ns.sub.example.") == *owner
        {
            continue;
        }
        let mut b = budget();
        verify_rrset(&set, &sigs, &keys, NOW, &mut b)
            .unwrap_or_else(|f| panic!("algorithm {alg}: {owner} {}: {f}", set[0].record_type()));
        verified += 1;
    }
    assert!(verified >= 14, "algorithm {alg}: only {verified} RRsets");

    // A wildcard answer as a server synthesises it: owner rewritten, the
    // RRSIG labels field left at the wildcard's.
    let expand = |r: &Record| {
        let mut r = r.clone();
        r.name = n("x.wild.example.");
        r
    };
    let wild_owner = n("*.wild.example.");
    let synth: Vec<Record> = records
        .iter()
        .filter(|r| r.name == wild_owner && r.record_type() == RecordType::TXT)
        .map(expand)
        .collect();
    let synth_sigs: Vec<Record> = sigs
        .iter()
        .filter(|r| r.name == wild_owner)
        .map(expand)
        .collect();
    let v = verify_rrset(&synth, &synth_sigs, &keys, NOW, &mut budget()).expect("wildcard answer");
    assert_eq!(v.wildcard, Some(wild_owner), "algorithm {alg}");

    let denial: Vec<Record> = records
        .iter()
        .filter(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3))
        .cloned()
        .collect();
    let mut b = budget();
    let nx = prove_nxdomain(&n("nothere.example."), &zone, &denial, &mut b);
    let nx_deep = prove_nxdomain(&n("a.b.c.www.example."), &zone, &denial, &mut b);
    let nodata = prove_nodata(&n("www.example."), RecordType::AAAA, &zone, &denial, &mut b);
    let ent = prove_nodata(&n("e.example."), RecordType::A, &zone, &denial, &mut b);
    let wild = prove_wildcard_expansion(
        &n("x.wild.example."),
        &n("*.wild.example."),
        &zone,
        &denial,
        &mut b,
    );
    let no_ds = prove_no_ds(&n("sub.example."), &zone, &denial, &mut b);
    let opt_out = records.iter().any(|r| {
        matches!(&r.data, RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::NSEC3(x)) if x.opt_out())
    });
    let nx_expect = if opt_out {
        Security::Insecure
    } else {
        Security::Secure
    };
    assert_eq!(nx, Ok(nx_expect), "algorithm {alg}: NXDOMAIN");
    assert_eq!(
        nx_deep,
        Ok(nx_expect),
        "algorithm {alg}: NXDOMAIN below www"
    );
    assert_eq!(nodata, Ok(Security::Secure), "algorithm {alg}: NODATA");
    assert_eq!(
        ent,
        Ok(Security::Secure),
        "algorithm {alg}: empty non-terminal"
    );
    assert_eq!(wild, Ok(nx_expect), "algorithm {alg}: wildcard");
    assert_eq!(
        no_ds,
        Ok(Security::Insecure),
        "algorithm {alg}: unsigned delegation"
    );
    assert!(!b.exceeded());
}

#[test]
fn rsasha1_nsec_zone_validates() {
    check_zone(include_bytes!("testdata/rsasha1.wire"), 5);
}

#[test]
fn rsasha256_nsec3_zone_validates() {
    check_zone(include_bytes!("testdata/rsasha256-nsec3.wire"), 8);
}

#[test]
fn ecdsa_nsec3_opt_out_zone_validates() {
    check_zone(include_bytes!("testdata/ecdsa-nsec3-optout.wire"), 13);
}

#[test]
fn ed25519_nsec_zone_validates() {
    check_zone(include_bytes!("testdata/ed25519.wire"), 15);
}

#[test]
fn a_tampered_record_of_a_real_zone_is_bogus() {
    let zone = n("example.");
    let records = load(include_bytes!("testdata/ed25519.wire"));
    let sigs: Vec<Record> = records
        .iter()
        .filter(|r| rrsig_of(r).is_some())
        .cloned()
        .collect();
    let dnskeys: Vec<Record> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY)
        .cloned()
        .collect();
    let KeysOutcome::Secure(keys) =
        validate_dnskeys(&zone, &dnskeys, &sigs, &[ds_for(15)], NOW, &mut budget())
    else {
        panic!("keys");
    };
    let www: Vec<Record> = records
        .iter()
        .filter(|r| r.name == n("www.example.") && r.record_type() == RecordType::A)
        .map(|r| {
            let mut r = r.clone();
            if r.data == RData::A("192.0.2.10".parse().expect("ip")) {
                r.data = RData::A("192.0.2.11".parse().expect("ip"));
            }
            r
        })
        .collect();
    let f = verify_rrset(&www, &sigs, &keys, NOW, &mut budget()).expect_err("tampered");
    assert_eq!(f.ede, crate::wire::ede::EDE_DNSSEC_BOGUS);
    let _: &Name = &f.zone;
}

/// RFC 5155 appendix B.1 (as the Deckard scenario val_nsec3_b1_nameerror
/// serves it): 512-bit RSASHA1-NSEC3-SHA1 keys, 12 iterations, salt
/// aabbccdd; the NXDOMAIN proof for a.c.x.w.example.
#[test]
fn rfc5155_appendix_b1_name_error() {
    let zone = n("example.");
    let records = load(include_bytes!("testdata/rfc5155-b1.wire"));
    let now = 1_334_966_399; // 2012-04-20 23:59:59
    let sigs: Vec<Record> = records
        .iter()
        .filter(|r| rrsig_of(r).is_some())
        .cloned()
        .collect();
    let dnskeys: Vec<Record> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::DNSKEY)
        .cloned()
        .collect();
    let ksk = dnskeys
        .iter()
        .find_map(|r| {
            super::verify::dnskey_of(r)
                .filter(|k| k.secure_entry_point())
                .cloned()
        })
        .expect("ksk");
    let mut b = budget();
    let KeysOutcome::Secure(keys) =
        validate_dnskeys(&zone, &dnskeys, &sigs, &[Anchor::Dnskey(ksk)], now, &mut b)
    else {
        panic!("512-bit keys validate");
    };
    for set in rrsets(&records)
        .into_iter()
        .filter(|s| s[0].record_type() != RecordType::DNSKEY)
    {
        verify_rrset(&set, &sigs, &keys, now, &mut b)
            .unwrap_or_else(|f| panic!("{} {}: {f}", set[0].name, set[0].record_type()));
    }
    let denial: Vec<Record> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::NSEC3)
        .cloned()
        .collect();
    // The appendix zone uses opt-out: no AD (RFC 5155 §9.2), as the
    // scenario expects.
    assert_eq!(
        prove_nxdomain(&n("a.c.x.w.example."), &zone, &denial, &mut b),
        Ok(Security::Insecure)
    );
    assert_eq!(b.signature_checks(), 5);
}
