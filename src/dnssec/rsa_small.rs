//! RSA signatures with moduli of 512 to 1023 bits, which ring refuses
//! (its smallest accepted modulus is 1024 bits). Such keys still sign
//! real and test zones (the RFC 5155 appendix B examples use 512-bit
//! keys, as do many resolver test suites); Unbound and BIND validate them.
//! The key is pinned by the parent's DS, so accepting it only keeps the
//! zone resolvable: refusing it would make it bogus, not safer.
//!
//! Verification only, on public data, so no constant-time concerns:
//! RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.2) with SHA-1 (algorithms 5, 7) or
//! SHA-256 (8).

use hickory_proto::dnssec::crypto::Digest;
use hickory_proto::dnssec::DigestType;
use num_bigint::BigUint;

/// DER DigestInfo prefixes (RFC 8017 §9.2 note 1).
const SHA1_PREFIX: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
const SHA256_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Exponent and modulus of an RFC 3110 public key.
fn split_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = key.split_first()?;
    let (len, rest) = if first == 0 {
        let (hi, rest) = rest.split_first()?;
        let (lo, rest) = rest.split_first()?;
        (usize::from(*hi) << 8 | usize::from(*lo), rest)
    } else {
        (usize::from(first), rest)
    };
    if len == 0 || rest.len() <= len {
        return None;
    }
    Some(rest.split_at(len))
}

/// The modulus size in bits of the RFC 3110 key `key`, if it parses.
/// Computed from the bytes, without allocating: it runs before every RSA
/// verification.
pub(super) fn modulus_bits(key: &[u8]) -> Option<usize> {
    let (_, n) = split_key(key)?;
    let start = n.iter().position(|b| *b != 0)?;
    let first = n[start];
    Some((n.len() - start - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// Whether `key` (algorithm `alg`) is a small RSA key this module handles.
pub(super) fn handles(alg: u8, key: &[u8]) -> bool {
    matches!(alg, 5 | 7 | 8) && modulus_bits(key).is_some_and(|b| (512..1024).contains(&b))
}

/// Verifies `sig` over `message` with the small RSA key `key`.
pub(super) fn verify(alg: u8, key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let (prefix, digest_type) = match alg {
        5 | 7 => (SHA1_PREFIX, DigestType::SHA1),
        8 => (SHA256_PREFIX, DigestType::SHA256),
        _ => return false,
    };
    let Some((e, n)) = split_key(key) else {
        return false;
    };
    let n = BigUint::from_bytes_be(n);
    let e = BigUint::from_bytes_be(e);
    let k = usize::try_from(n.bits().div_ceil(8)).unwrap_or(usize::MAX);
    let s = BigUint::from_bytes_be(sig);
    if sig.len() > k || s >= n {
        return false;
    }
    let Ok(hash) = Digest::new(message, digest_type) else {
        return false;
    };
    let m = s.modpow(&e, &n).to_bytes_be();
    // EM = 0x00 || 0x01 || PS (0xff...) || 0x00 || DigestInfo || H, k bytes.
    let t_len = prefix.len() + hash.as_ref().len();
    if k < t_len + 11 {
        return false;
    }
    let mut em = vec![0u8; k];
    em[1] = 1;
    em[2..k - t_len - 1].fill(0xff);
    em[k - t_len..k - hash.as_ref().len()].copy_from_slice(prefix);
    em[k - hash.as_ref().len()..].copy_from_slice(hash.as_ref());
    // m lacks the leading zero octet(s) of EM.
    m.len() <= k && em[k - m.len()..] == m[..] && em[..k - m.len()].iter().all(|b| *b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 512-bit key made with `openssl genpkey -algorithm RSA -pkeyopt
    /// rsa_keygen_bits:512`, in RFC 3110 form, and its signatures over
    /// MESSAGE by `openssl dgst -sha1|-sha256 -sign`.
    const MODULUS: &str = "a83022c9e32f7c1dd86f95e6118f7dc84b50cf5334110fe4d7c213785e8ab9e5\
                           26cba2b080af7b6c21dcbd0510203f407fe7d3e6190c520c8b55e3dafd5eac01";
    const SIG_SHA1: &str = "52d6b67fc1ee74a3d0483a3eb349140fe8400beb9181c3833396326f48889df8\
                            e38df03e0853575fe27e714cfd99ae40a1caa8668c52911a173009d38ff99cfd";
    const SIG_SHA256: &str = "60b757f7f8c17dd4d62fb0fb079fa99ee97fc343053a4d9e5ecc79f257498210\
                              adb5290b7b364d27d9fb3858eb8e483e02fb480d0435a9f937ea9178f8190498";
    const MESSAGE: &[u8] = b"dnsward small rsa";

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(s.as_bytes()).expect("hex")
    }

    fn key() -> Vec<u8> {
        let mut k = vec![3, 1, 0, 1];
        k.extend(hex(MODULUS));
        k
    }

    #[test]
    fn openssl_signatures_verify() {
        assert_eq!(modulus_bits(&key()), Some(512));
        assert!(handles(5, &key()) && handles(7, &key()) && handles(8, &key()));
        assert!(!handles(10, &key()) && !handles(13, &key()));
        assert!(verify(5, &key(), MESSAGE, &hex(SIG_SHA1)));
        assert!(verify(7, &key(), MESSAGE, &hex(SIG_SHA1)));
        assert!(verify(8, &key(), MESSAGE, &hex(SIG_SHA256)));
    }

    #[test]
    fn wrong_message_digest_or_signature_fails() {
        assert!(!verify(5, &key(), b"dnsward small rsb", &hex(SIG_SHA1)));
        assert!(!verify(8, &key(), MESSAGE, &hex(SIG_SHA1)));
        let mut bad = hex(SIG_SHA1);
        bad[10] ^= 1;
        assert!(!verify(5, &key(), MESSAGE, &bad));
        assert!(!verify(5, &key(), MESSAGE, &[]));
        assert!(!verify(5, &[], MESSAGE, &hex(SIG_SHA1)));
        assert!(!verify(5, &[0, 0], MESSAGE, &hex(SIG_SHA1)));
    }
}
