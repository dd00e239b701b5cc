//! Stage 1 of the query path: cheap checks on the raw bytes, then one
//! decode, before anything is allocated for the query.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::wire::Reject;

/// The smallest DNS header.
pub(crate) const HEADER_LEN: usize = 12;

/// A query has one question, no answers and at most a few additional
/// records; larger counts are hostile and get FORMERR before decoding
/// (hickory pre-allocates by count).
const MAX_OTHER_RECORDS: u16 = 8;

/// A header-only reply (FORMERR, NOTIMP) built from the raw request bytes,
/// for packets that cannot or should not be decoded.
fn header_reply(packet: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN];
    out[0] = packet[0];
    out[1] = packet[1];
    // QR=1, keep opcode and RD.
    out[2] = 0x80 | (packet[2] & 0x79);
    out[3] = 0x80 | (u16::from(rcode) as u8 & 0x0f);
    out
}

/// A packet refused by the wire checks: why (a metrics label) and the
/// header-only reply to send, if any.
#[derive(Debug)]
pub struct WireReject {
    /// Why, as counted.
    pub reason: Reject,
    /// FORMERR/NOTIMP reply, or None to stay silent.
    pub reply: Option<Vec<u8>>,
}

/// Stage 1: cheap checks on the raw bytes, then decoding. Pure and
/// allocation-bounded (counts are checked before hickory pre-allocates by
/// them), so it is also the fuzzing entry point for the packet path.
pub fn check_wire(packet: &[u8]) -> Result<Message, WireReject> {
    let reject = |reason, rcode: Option<ResponseCode>| WireReject {
        reason,
        reply: rcode.map(|r| header_reply(packet, r)),
    };
    if packet.len() < HEADER_LEN {
        return Err(reject(Reject::Short, None));
    }
    if packet[2] & 0x80 != 0 {
        // A response sent to us: answering could start a loop.
        return Err(reject(Reject::Response, None));
    }
    let opcode = (packet[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Err(reject(Reject::Opcode, Some(ResponseCode::NotImp)));
    }
    let count = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    if qd != 1 || an > 0 || ns > MAX_OTHER_RECORDS || ar > MAX_OTHER_RECORDS {
        return Err(reject(Reject::Counts, Some(ResponseCode::FormErr)));
    }
    let mut decoder = BinDecoder::new(packet);
    let message = Message::read(&mut decoder)
        .map_err(|_| reject(Reject::Malformed, Some(ResponseCode::FormErr)))?;
    if !decoder.is_empty() {
        // Bytes after the last record: not a DNS message we understand.
        return Err(reject(Reject::Malformed, Some(ResponseCode::FormErr)));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reply_keeps_id_opcode_rd() {
        let q = [0xab, 0xcd, 0x29, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        let r = header_reply(&q, ResponseCode::NotImp);
        assert_eq!(&r[..2], &[0xab, 0xcd]);
        assert_eq!(r[2], 0x80 | 0x29);
        assert_eq!(r[3] & 0x0f, 4);
        assert_eq!(&r[4..], &[0; 8]);
    }
}
