//! Extended DNS Errors (RFC 8914): the option code, the info codes dnsward
//! sends and the option itself. The blocked answers, the stale answers and
//! the resolver's failures all attach one, so the codes live here rather
//! than with any of them.

use hickory_proto::op::Message;
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

/// EDE 0: Other (the resolver's own overload).
pub const EDE_OTHER: u16 = 0;

/// One Extended DNS Error as dnsward sends it: the info code and the
/// extra text. Every reply that carries one, decoded or pre-encoded, gets
/// it from this type: [`Ede::attach`] for a decoded reply,
/// [`Ede::write_option`] for an answer built on the wire, and both write
/// the same bytes ([`Ede::option`] is made by `write_option`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ede<'a> {
    /// INFO-CODE (RFC 8914 section 4).
    pub code: u16,
    /// EXTRA-TEXT, UTF-8.
    pub text: &'a str,
}

impl<'a> Ede<'a> {
    /// An EDE with this code and text.
    pub const fn new(code: u16, text: &'a str) -> Self {
        Self { code, text }
    }

    /// Attach this EDE to `resp`, if the client sent EDNS (without it
    /// there is nowhere to put one): the one way a decoded reply gets an
    /// EDE.
    pub fn attach(self, resp: &mut Message) {
        if let Some(e) = resp.edns.as_mut() {
            e.options_mut().insert(self.option());
        }
    }

    /// The bytes [`Ede::write_option`] appends.
    pub fn option_len(self) -> usize {
        4 + 2 + self.text.len()
    }

    /// Append the option in wire form (OPTION-CODE 15, OPTION-LENGTH,
    /// then [`Ede::write_data`]) to an OPT record's RDATA being written.
    /// None (nothing written) when the text cannot fit an option.
    pub fn write_option(self, out: &mut Vec<u8>) -> Option<()> {
        let len = u16::try_from(2 + self.text.len()).ok()?;
        out.extend_from_slice(&EDE_OPTION.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        self.write_data(out);
        Some(())
    }

    /// The option's data: INFO-CODE, then EXTRA-TEXT.
    fn write_data(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code.to_be_bytes());
        out.extend_from_slice(self.text.as_bytes());
    }

    /// The option as hickory holds it (0.26 has no typed EDE, so it is an
    /// unknown option with the right code), its data written by
    /// [`Ede::write_data`] as on the wire.
    pub fn option(self) -> EdnsOption {
        let mut data = Vec::with_capacity(2 + self.text.len());
        self.write_data(&mut data);
        EdnsOption::Unknown(EDE_OPTION, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ede_bytes_are_code_then_text() {
        match Ede::new(16, "x").option() {
            EdnsOption::Unknown(15, d) => assert_eq!(d, vec![0, 16, b'x']),
            o => panic!("{o:?}"),
        }
        let mut wire = Vec::new();
        Ede::new(16, "x").write_option(&mut wire).expect("fits");
        assert_eq!(wire, [0, 15, 0, 3, 0, 16, b'x']);
        assert_eq!(wire.len(), Ede::new(16, "x").option_len());
    }

    #[test]
    fn attached_only_when_the_client_sent_edns() {
        let mut plain = Message::query();
        Ede::new(15, "blocked").attach(&mut plain);
        assert!(plain.edns.is_none());
        let mut with = Message::query();
        with.edns = Some(hickory_proto::op::Edns::new());
        Ede::new(15, "blocked").attach(&mut with);
        let opts = &with.edns.as_ref().expect("edns").options().options;
        assert_eq!(opts.len(), 1);
    }
}
