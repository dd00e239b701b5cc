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

pub(crate) fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Parse a plain query cheaply, or None for anything the normal path must
/// handle (including every malformed packet).
pub fn parse_quick(p: &[u8]) -> Option<QuickQuery<'_>> {
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
