//! Reading a plain query without decoding it: one pass over the header and
//! the question (and an OPT record, if any) that yields the lowercase name,
//! type, class and EDNS facts the fast path needs, or `None` for anything
//! of another shape, which then takes the full decode.

/// The parts of a plain query the fast path needs.
#[derive(Debug, Clone, Copy)]
pub struct QuickQuery<'a> {
    /// Message ID.
    pub id: u16,
    /// Recursion desired.
    pub rd: bool,
    /// Checking disabled.
    pub cd: bool,
    /// Authentic data (a client asking for the AD bit, RFC 6840 5.7).
    pub ad: bool,
    /// The question name in wire form (labels, terminating zero).
    pub qname: &'a [u8],
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// EDNS(0): (UDP payload size, DO bit), if the query had an OPT.
    pub edns: Option<(u16, bool)>,
}

impl<'a> QuickQuery<'a> {
    /// The question's labels (for [`crate::policy::matcher::LookupKey`]).
    pub fn labels(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let q = self.qname;
        let mut i = 0;
        std::iter::from_fn(move || {
            let n = usize::from(*q.get(i)?);
            if n == 0 {
                return None;
            }
            let l = q.get(i + 1..i + 1 + n)?;
            i += 1 + n;
            Some(l)
        })
    }
}

/// Header length, where the question name starts.
const HEADER_LEN: usize = 12;

pub(crate) fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Parse a plain query cheaply, or None for anything the normal path must
/// handle (including every malformed packet). The listeners call it once
/// per message, through [`Packet::read`].
pub fn parse_quick(p: &[u8]) -> Option<QuickQuery<'_>> {
    #[cfg(test)]
    tests::PARSES.with(|n| n.set(n.get() + 1));
    if p.len() < 17 || p[2] & 0xf8 != 0 {
        // QR=1 or opcode != QUERY (AA/TC/RD are fine).
        return None;
    }
    if be16(p, 4)? != 1 || be16(p, 6)? != 0 || be16(p, 8)? != 0 {
        return None;
    }
    let ar = be16(p, 10)?;
    if ar > 1 {
        return None;
    }
    // Question name: plain labels only (queries never compress).
    let mut i = 12;
    loop {
        let n = usize::from(*p.get(i)?);
        if n == 0 {
            i += 1;
            break;
        }
        if n > 63 || i + 1 + n - 12 > 254 {
            return None;
        }
        i += 1 + n;
    }
    let qname = &p[12..i];
    let qtype = be16(p, i)?;
    let qclass = be16(p, i + 2)?;
    i += 4;
    let edns = if ar == 1 {
        // Root owner, TYPE 41.
        if *p.get(i)? != 0 || be16(p, i + 1)? != 41 {
            return None;
        }
        let payload = be16(p, i + 3)?;
        let version = *p.get(i + 6)?;
        let flags = be16(p, i + 7)?;
        let rdlen = usize::from(be16(p, i + 9)?);
        if version != 0 || i + 11 + rdlen != p.len() {
            return None;
        }
        // Options must exactly fill the RDATA (the normal path FORMERRs a
        // bad option length; so must we, by sending it there).
        let mut o = i + 11;
        while o < p.len() {
            // Client Subnet (8) has a structure the normal path validates
            // (and FORMERRs when broken): leave such queries to it.
            if be16(p, o)? == 8 {
                return None;
            }
            o += 4 + usize::from(be16(p, o + 2)?);
        }
        if o != p.len() {
            return None;
        }
        Some((payload, flags & 0x8000 != 0))
    } else {
        if i != p.len() {
            return None;
        }
        None
    };
    Some(QuickQuery {
        id: be16(p, 0)?,
        rd: p[2] & 0x01 != 0,
        cd: p[3] & 0x10 != 0,
        ad: p[3] & 0x20 != 0,
        qname,
        qtype,
        qclass,
        edns,
    })
}

/// A received message and its quick parse, made once by the listener that
/// read it and handed down the query path, so no stage parses the same
/// bytes again.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The message as received.
    pub bytes: &'a [u8],
    /// Its quick parse; None when it is not a plain query.
    pub quick: Option<QuickQuery<'a>>,
}

impl<'a> Packet<'a> {
    /// Read a received message: the one [`parse_quick`] of its bytes.
    pub fn read(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            quick: parse_quick(bytes),
        }
    }

    /// A copy that outlives the receive buffer (for a task on the normal
    /// path), keeping the parse instead of repeating it.
    pub fn to_buf(&self) -> PacketBuf {
        PacketBuf {
            bytes: self.bytes.to_vec(),
            quick: self
                .quick
                .map(|q| (QuickQuery { qname: &[], ..q }, q.qname.len())),
        }
    }
}

/// An owned [`Packet`]: the bytes and their parse, the question name kept
/// as its length (it always starts right after the header).
#[derive(Debug, Clone)]
pub struct PacketBuf {
    bytes: Vec<u8>,
    quick: Option<(QuickQuery<'static>, usize)>,
}

impl PacketBuf {
    /// The packet, its parse pointing into these bytes.
    pub fn view(&self) -> Packet<'_> {
        let quick = self.quick.and_then(|(q, len)| {
            Some(QuickQuery {
                qname: self.bytes.get(HEADER_LEN..HEADER_LEN + len)?,
                ..q
            })
        });
        Packet {
            bytes: &self.bytes,
            quick,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    thread_local! {
        /// Calls of [`parse_quick`] on this thread, so tests can show a
        /// message is parsed once.
        pub(crate) static PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// [`parse_quick`] calls on this thread so far.
    pub(crate) fn parses() -> usize {
        PARSES.with(std::cell::Cell::get)
    }

    #[test]
    fn a_copied_packet_keeps_its_parse_without_parsing_again() {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03Ads\x07example\x00\x00\x01\x00\x01");
        let before = parses();
        let p = Packet::read(&q);
        let buf = p.to_buf();
        let copy = buf.view();
        assert_eq!(parses(), before + 1);
        let (a, b) = (p.quick.expect("plain"), copy.quick.expect("kept"));
        assert_eq!(b.qname, a.qname);
        assert_eq!(
            (b.id, b.qtype, b.qclass, b.rd),
            (a.id, a.qtype, a.qclass, a.rd)
        );
        assert_eq!(copy.bytes, &q[..]);
    }
}
