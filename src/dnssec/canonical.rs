//! The data an RRSIG signs (RFC 4034 §3.1.8.1, §6; RFC 4035 §5.3.2;
//! RFC 6840 §5.1): RRSIG RDATA without the signature, then every RR of the
//! set in canonical form and order, duplicates removed.
//!
//! Written here rather than taken from hickory's `TBS`, which sorts the
//! set by TTL before RDATA (RFC 4034 §6.3 orders by RDATA alone), sorts by
//! a compressing encoding of the RDATA (an SOA's RNAME can point into its
//! MNAME) and leaves names inside the RDATA of types hickory keeps as raw
//! bytes (DNAME, RP, AFSDB ...) in their received case. Names inside NSEC
//! RDATA keep their case (RFC 6840 §5.1); hickory's NSEC encoder already
//! does so.

use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// Why the signed data could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The RRSIG labels field exceeds the owner's label count (RFC 4035
    /// §5.3.1): the RRSIG cannot cover this owner.
    #[error("RRSIG labels field exceeds the owner name's labels")]
    Labels,
    /// A record could not be encoded (oversized RDATA, bad name).
    #[error("record cannot be encoded: {0}")]
    Encode(String),
}

/// The owner name the RRset was signed under: the owner itself, or `*.`
/// and its rightmost `labels` labels when it was synthesised from a
/// wildcard (RFC 4035 §5.3.2). Lowercased.
pub fn signed_owner(owner: &Name, labels: u8) -> Result<Name, CanonicalError> {
    let have = owner.num_labels();
    if labels > have {
        return Err(CanonicalError::Labels);
    }
    let lower = owner.to_lowercase();
    if labels == have {
        return Ok(lower);
    }
    let mut wild = lower
        .trim_to(usize::from(labels))
        .prepend_label("*")
        .map_err(|e| CanonicalError::Encode(e.to_string()))?;
    wild.set_fqdn(true);
    Ok(wild)
}

/// The RDATA of `data` in canonical form: uncompressed, and with the names
/// of the RFC 4034 §6.2 types lowercased (RFC 6840 §5.1 excepts NSEC).
pub fn canonical_rdata(data: &RData) -> Result<Vec<u8>, CanonicalError> {
    let mut buf = Vec::with_capacity(64);
    {
        let mut enc = BinEncoder::new(&mut buf);
        enc.set_canonical_form(true);
        enc.set_name_encoding(NameEncoding::Uncompressed);
        data.emit(&mut enc)
            .map_err(|e| CanonicalError::Encode(e.to_string()))?;
    }
    if let RData::Unknown { code, .. } = data {
        lowercase_raw_names(*code, &mut buf);
    }
    Ok(buf)
}

/// Lowercases in place the names inside raw RDATA of the RFC 4034 §6.2
/// types hickory does not decode. Names that do not parse (a compression
/// pointer, a truncated label) are left as they are: the signature then
/// fails, which is the right outcome for malformed data.
fn lowercase_raw_names(code: RecordType, rdata: &mut [u8]) {
    // (offset of the first name, how many names follow each other)
    let layout: (usize, usize) = match u16::from(code) {
        // MD, MF, MB, MG, MR, DNAME: one name.
        3 | 4 | 7 | 8 | 9 | 39 => (0, 1),
        // MINFO, RP: two names.
        14 | 17 => (0, 2),
        // AFSDB, RT, KX: preference then a name.
        18 | 21 | 36 => (2, 1),
        // PX: preference then two names.
        26 => (2, 2),
        _ => return,
    };
    let (mut at, count) = layout;
    for _ in 0..count {
        match lowercase_name_at(rdata, at) {
            Some(end) => at = end,
            None => return,
        }
    }
}

/// Lowercases the uncompressed name starting at `at`; returns the offset
/// after it.
fn lowercase_name_at(buf: &mut [u8], mut at: usize) -> Option<usize> {
    loop {
        let len = usize::from(*buf.get(at)?);
        if len == 0 {
            return Some(at + 1);
        }
        if len > 63 {
            return None;
        }
        let label = buf.get_mut(at + 1..at + 1 + len)?;
        label.make_ascii_lowercase();
        at += 1 + len;
    }
}

/// The RRSIG RDATA minus the signature, signer name lowercased (RFC 4034
/// §3.1.8.1, RFC 6840 §5.1).
fn rrsig_prefix(input: &SigInput, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    out.extend_from_slice(&u16::from(input.type_covered).to_be_bytes());
    out.push(u8::from(input.algorithm));
    out.push(input.num_labels);
    out.extend_from_slice(&input.original_ttl.to_be_bytes());
    out.extend_from_slice(&input.sig_expiration.get().to_be_bytes());
    out.extend_from_slice(&input.sig_inception.get().to_be_bytes());
    out.extend_from_slice(&input.key_tag.to_be_bytes());
    emit_lower_name(&input.signer_name, out)
}

/// Appends `name` lowercased and uncompressed. (A `BinEncoder` writes from
/// the start of its buffer, so the name is encoded apart and appended.)
fn emit_lower_name(name: &Name, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let mut buf = Vec::with_capacity(64);
    let mut enc = BinEncoder::new(&mut buf);
    enc.set_name_encoding(NameEncoding::UncompressedLowercase);
    name.emit(&mut enc)
        .map_err(|e| CanonicalError::Encode(e.to_string()))?;
    out.extend_from_slice(&buf);
    Ok(())
}

/// The signed data for the RRset `rrset` under the RRSIG fields `input`:
/// `RRSIG_RDATA | RR(1) | RR(2) ...` with every RR as `owner | type |
/// class | original TTL | RDLENGTH | RDATA` (RFC 4034 §3.1.8.1), ordered
/// by canonical RDATA, duplicates dropped (RFC 4034 §6.3). The records
/// must share owner, type and class; the caller groups them.
pub fn signed_data(input: &SigInput, rrset: &[Record]) -> Result<Vec<u8>, CanonicalError> {
    let Some(first) = rrset.first() else {
        return Err(CanonicalError::Encode("empty RRset".into()));
    };
    let owner = signed_owner(&first.name, input.num_labels)?;
    let mut rdatas = rrset
        .iter()
        .map(|r| canonical_rdata(&r.data))
        .collect::<Result<Vec<_>, _>>()?;
    rdatas.sort_unstable();
    rdatas.dedup();

    let mut out = Vec::with_capacity(128 + rdatas.iter().map(|r| r.len() + 64).sum::<usize>());
    rrsig_prefix(input, &mut out)?;
    let mut head = Vec::with_capacity(64);
    emit_lower_name(&owner, &mut head)?;
    head.extend_from_slice(&u16::from(first.record_type()).to_be_bytes());
    head.extend_from_slice(&u16::from(first.dns_class).to_be_bytes());
    head.extend_from_slice(&input.original_ttl.to_be_bytes());
    for rdata in &rdatas {
        let len = u16::try_from(rdata.len())
            .map_err(|_| CanonicalError::Encode("RDATA longer than 65535".into()))?;
        out.extend_from_slice(&head);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(rdata);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{NS, NULL, SOA};
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    #[test]
    fn wildcard_owner_is_star_and_rightmost_labels() {
        assert_eq!(
            signed_owner(&n("a.b.Example.com."), 2),
            Ok(n("*.example.com."))
        );
        assert_eq!(
            signed_owner(&n("a.b.Example.com."), 4),
            Ok(n("a.b.example.com."))
        );
        assert_eq!(signed_owner(&n("x."), 0), Ok(n("*.")));
        assert_eq!(
            signed_owner(&n("example.com."), 3),
            Err(CanonicalError::Labels)
        );
        // The "*" label does not count (RFC 4034 §3.1.3).
        assert_eq!(
            signed_owner(&n("*.example.com."), 2),
            Ok(n("*.example.com."))
        );
    }

    #[test]
    fn names_in_rdata_are_lowercased_and_uncompressed() {
        let ns = canonical_rdata(&RData::NS(NS(n("NS1.Example.COM.")))).expect("ns");
        assert_eq!(ns, b"\x03ns1\x07example\x03com\x00".to_vec());
        // SOA: RNAME shares a suffix with MNAME; must not be compressed.
        let soa = SOA::new(n("ns.EX."), n("host.ex."), 1, 2, 3, 4, 5);
        let bytes = canonical_rdata(&RData::SOA(soa)).expect("soa");
        assert_eq!(&bytes[..16], b"\x02ns\x02ex\x00\x04host\x02ex\x00");
    }

    #[test]
    fn signed_data_is_rrsig_fields_then_records() {
        use hickory_proto::dnssec::Algorithm;
        use hickory_proto::rr::rdata::A;
        use hickory_proto::rr::SerialNumber;
        let input = SigInput {
            type_covered: RecordType::A,
            algorithm: Algorithm::ED25519,
            num_labels: 2,
            original_ttl: 300,
            sig_expiration: SerialNumber::new(2),
            sig_inception: SerialNumber::new(1),
            key_tag: 7,
            signer_name: n("Ex."),
        };
        let rr = Record::from_rdata(n("W.ex."), 60, RData::A(A::new(192, 0, 2, 1)));
        let data = signed_data(&input, &[rr]).expect("data");
        let mut want = vec![0, 1, 15, 2, 0, 0, 1, 44, 0, 0, 0, 2, 0, 0, 0, 1, 0, 7];
        want.extend_from_slice(b"\x02ex\x00");
        want.extend_from_slice(b"\x01w\x02ex\x00");
        want.extend_from_slice(&[0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);
        assert_eq!(data, want);
    }

    #[test]
    fn raw_dname_target_is_lowercased() {
        let rdata = RData::Unknown {
            code: RecordType::DNAME,
            rdata: NULL::with(b"\x03Foo\x03NET\x00".to_vec()),
        };
        assert_eq!(
            canonical_rdata(&rdata).expect("dname"),
            b"\x03foo\x03net\x00".to_vec()
        );
        // A compression pointer is left alone.
        let mut bad = b"\xc0\x0c".to_vec();
        lowercase_raw_names(RecordType::DNAME, &mut bad);
        assert_eq!(bad, b"\xc0\x0c".to_vec());
    }
}
