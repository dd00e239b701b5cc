//! Test keys and a signer, so the unit tests build signed RRsets on the
//! spot: ECDSA and Ed25519 keys are generated per test, the RSA key is a
//! fixed PKCS#8 file (ring cannot generate RSA keys).

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey, RsaSigningKey};
use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, NSEC, NSEC3, RRSIG};
use hickory_proto::dnssec::{
    Algorithm, DigestType, Nsec3HashAlgorithm, PublicKey, SigningKey, TBS,
};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType, SerialNumber};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::str::FromStr;

use super::canonical;
use super::{Anchor, Budget, Limits, ZoneKeys};

/// The validation time of the tests.
pub const NOW: u32 = 1_700_000_000;

pub fn n(s: &str) -> Name {
    Name::from_str(s).expect("name")
}

pub fn budget() -> Budget {
    Budget::new(&Limits::default())
}

/// A zone's signing key and its DNSKEY.
pub struct Key {
    pub signer: Box<dyn SigningKey>,
    pub dnskey: DNSKEY,
}

impl Key {
    /// A fresh key of `alg` (8 and 10 share the fixed RSA key) with
    /// DNSKEY `flags` (257 KSK, 256 ZSK).
    pub fn new(alg: u8, flags: u16) -> Key {
        let signer: Box<dyn SigningKey> = match alg {
            8 | 10 => {
                let der = include_bytes!("testdata/rsa2048.pk8").to_vec();
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der));
                let a = if alg == 8 {
                    Algorithm::RSASHA256
                } else {
                    Algorithm::RSASHA512
                };
                Box::new(RsaSigningKey::from_key_der(&key, a).expect("rsa"))
            }
            13 | 14 => {
                let a = if alg == 13 {
                    Algorithm::ECDSAP256SHA256
                } else {
                    Algorithm::ECDSAP384SHA384
                };
                let der = EcdsaSigningKey::generate_pkcs8(a).expect("gen");
                Box::new(EcdsaSigningKey::from_pkcs8(&der, a).expect("ecdsa"))
            }
            15 => {
                let der = Ed25519SigningKey::generate_pkcs8().expect("gen");
                Box::new(Ed25519SigningKey::from_pkcs8(&der).expect("ed25519"))
            }
            _ => panic!("no test signer for algorithm {alg}"),
        };
        let dnskey = DNSKEY::with_flags(flags, signer.to_public_key().expect("public"));
        Key { signer, dnskey }
    }

    pub fn tag(&self) -> u16 {
        self.dnskey.calculate_key_tag().expect("tag")
    }

    pub fn record(&self, zone: &Name) -> Record {
        Record::from_rdata(
            zone.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::DNSKEY(self.dnskey.clone())),
        )
    }

    pub fn ds(&self, zone: &Name, digest: DigestType) -> DS {
        let d = self.dnskey.to_digest(zone, digest).expect("digest");
        DS::new(
            self.tag(),
            self.dnskey.public_key().algorithm(),
            digest,
            d.as_ref().to_vec(),
        )
    }

    pub fn anchor(&self, zone: &Name) -> Anchor {
        Anchor::Ds(self.ds(zone, DigestType::SHA256))
    }
}

/// Signing parameters: the window and the labels field.
#[derive(Clone, Copy)]
pub struct Window {
    pub inception: u32,
    pub expiration: u32,
    /// Labels field; None = the owner's label count.
    pub labels: Option<u8>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            inception: NOW - 3600,
            expiration: NOW + 86_400,
            labels: None,
        }
    }
}

/// An RRSIG over `rrset` by `key` of `zone`.
pub fn sign(rrset: &[Record], zone: &Name, key: &Key, w: Window) -> Record {
    let first = &rrset[0];
    let input = SigInput {
        type_covered: first.record_type(),
        algorithm: key.dnskey.public_key().algorithm(),
        num_labels: w.labels.unwrap_or_else(|| first.name.num_labels()),
        original_ttl: first.ttl,
        sig_expiration: SerialNumber::new(w.expiration),
        sig_inception: SerialNumber::new(w.inception),
        key_tag: key.tag(),
        signer_name: zone.clone(),
    };
    // Labels beyond the owner cannot be signed: an empty input stands in.
    let data = canonical::signed_data(&input, rrset).unwrap_or_default();
    let sig = key.signer.sign(&TBS::from(&data[..])).expect("sign");
    Record::from_rdata(
        first.name.clone(),
        first.ttl,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
    )
}

pub fn a(owner: &str, ip: [u8; 4]) -> Record {
    Record::from_rdata(
        n(owner),
        300,
        RData::A(A::from(std::net::Ipv4Addr::from(ip))),
    )
}

pub fn txt(owner: &str, text: &str) -> Record {
    Record::from_rdata(n(owner), 300, RData::TXT(TXT::new(vec![text.to_string()])))
}

/// The keys of `zone` as the resolver holds them after validation.
pub fn zone_keys(zone: &Name, keys: &[&Key]) -> ZoneKeys {
    ZoneKeys {
        zone: zone.clone(),
        keys: keys.iter().map(|k| k.dnskey.clone()).collect(),
        ttl: 3600,
    }
}

pub fn nsec(owner: &str, next: &str, types: &[RecordType]) -> Record {
    Record::from_rdata(
        n(owner),
        300,
        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(n(next), types.iter().copied()))),
    )
}

/// The base32hex NSEC3 owner label of `name`.
pub fn nsec3_hash(name: &Name, salt: &[u8], iterations: u16) -> Vec<u8> {
    Nsec3HashAlgorithm::SHA1
        .hash(salt, name, iterations)
        .expect("hash")
        .as_ref()
        .to_vec()
}

/// An NSEC3 record at the hash of `owner` pointing at raw hash `next`.
pub fn nsec3(
    zone: &Name,
    owner_hash: &[u8],
    next_hash: &[u8],
    types: &[RecordType],
    opt_out: bool,
    salt: &[u8],
    iterations: u16,
) -> Record {
    let label = data_encoding::BASE32HEX_NOPAD
        .encode(owner_hash)
        .to_ascii_lowercase();
    let owner = zone.prepend_label(label.as_str()).expect("owner");
    Record::from_rdata(
        owner,
        300,
        RData::DNSSEC(DNSSECRData::NSEC3(NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            opt_out,
            iterations,
            salt.to_vec(),
            next_hash.to_vec(),
            types.iter().copied(),
        ))),
    )
}

/// A fake Ed25519 zone key (32 arbitrary bytes, no curve point) whose key
/// tag is `tag`: what a KeyTrap zone publishes beside its real key.
pub fn colliding(tag: u16, seed: u8) -> DNSKEY {
    use hickory_proto::dnssec::PublicKeyBuf;
    let mut bytes = [seed; 32];
    for w in 0..=u16::MAX {
        bytes[30..].copy_from_slice(&w.to_be_bytes());
        let k = DNSKEY::with_flags(257, PublicKeyBuf::new(bytes.to_vec(), Algorithm::ED25519));
        if k.calculate_key_tag().ok() == Some(tag) {
            return k;
        }
    }
    panic!("no collision for tag {tag}");
}
