//! Extended DNS Errors (RFC 8914): the option code, the info codes dnsward
//! sends and the option itself. The blocked answers, the stale answers and
//! the resolver's failures all attach one, so the codes live here rather
//! than with any of them.

use hickory_proto::rr::rdata::opt::EdnsOption;

/// RFC 8914 option code.
pub const EDE_OPTION: u16 = 15;
/// EDE 1: Unsupported DNSKEY Algorithm (zone treated as insecure).
pub const EDE_UNSUPPORTED_DNSKEY_ALGORITHM: u16 = 1;
/// EDE 2: Unsupported DS Digest Type (zone treated as insecure).
pub const EDE_UNSUPPORTED_DS_DIGEST: u16 = 2;
/// EDE 3: Stale Answer.
pub const EDE_STALE: u16 = 3;
/// EDE 6: DNSSEC Bogus (also: the validation work limit was hit).
pub const EDE_DNSSEC_BOGUS: u16 = 6;
/// EDE 7: Signature Expired.
pub const EDE_SIGNATURE_EXPIRED: u16 = 7;
/// EDE 8: Signature Not Yet Valid.
pub const EDE_SIGNATURE_NOT_YET_VALID: u16 = 8;
/// EDE 9: DNSKEY Missing (no DS-matched key signs the DNSKEY RRset).
pub const EDE_DNSKEY_MISSING: u16 = 9;
/// EDE 10: RRSIGs Missing.
pub const EDE_RRSIGS_MISSING: u16 = 10;
/// EDE 11: No Zone Key Bit Set.
pub const EDE_NO_ZONE_KEY_BIT: u16 = 11;
/// EDE 12: NSEC Missing (no denial proof where one is needed).
pub const EDE_NSEC_MISSING: u16 = 12;
/// EDE 15: Blocked.
pub const EDE_BLOCKED: u16 = 15;
/// EDE 18: Prohibited.
pub const EDE_PROHIBITED: u16 = 18;
/// EDE 22: No Reachable Authority.
pub const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;
/// EDE 23: Network Error.
pub const EDE_NETWORK_ERROR: u16 = 23;
/// EDE 27: Unsupported NSEC3 Iterations Value (RFC 9276: insecure).
pub const EDE_UNSUPPORTED_NSEC3_ITERATIONS: u16 = 27;

/// An EDE option: INFO-CODE then UTF-8 EXTRA-TEXT (hickory 0.26 has no
/// typed EDE, so it travels as an unknown option with the right code).
pub fn ede(info_code: u16, extra_text: &str) -> EdnsOption {
    let mut data = Vec::with_capacity(2 + extra_text.len());
    data.extend_from_slice(&info_code.to_be_bytes());
    data.extend_from_slice(extra_text.as_bytes());
    EdnsOption::Unknown(EDE_OPTION, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ede_bytes_are_code_then_text() {
        match ede(16, "x") {
            EdnsOption::Unknown(15, d) => assert_eq!(d, vec![0, 16, b'x']),
            o => panic!("{o:?}"),
        }
    }
}
