//! Blocked answers: what a subscriber's stub receives for a listed name,
//! and the Extended DNS Error (RFC 8914) that says why.
//!
//! Negative blocked answers carry a synthetic SOA whose owner is the listed
//! name, so caches downstream keep the block for `ttl_secs` (RFC 2308) and
//! no longer.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::config::SinkholeConfig;
use crate::policy::rule::LocalData;

/// Builds blocked answers from the `[sinkhole]` settings.
#[derive(Debug, Clone)]
pub struct Sinkhole {
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
    ttl: u32,
    mname: Name,
    rname: Name,
    soa_names: Vec<u8>,
}

impl Sinkhole {
    /// From configuration.
    pub fn new(cfg: &SinkholeConfig) -> Self {
        let mname = Name::from_ascii("sinkhole.dnsward.invalid.").unwrap_or_else(|_| Name::root());
        let rname =
            Name::from_ascii("hostmaster.dnsward.invalid.").unwrap_or_else(|_| Name::root());
        let mut soa_names = Vec::new();
        for n in [&mname, &rname] {
            for label in n.iter() {
                soa_names.push(label.len() as u8);
                soa_names.extend_from_slice(label);
            }
            soa_names.push(0);
        }
        Self {
            ipv4: cfg.ipv4,
            ipv6: cfg.ipv6,
            ttl: cfg.ttl_secs,
            mname,
            rname,
            soa_names,
        }
    }

    /// The sinkhole addresses.
    pub fn addresses(&self) -> (Ipv4Addr, Ipv6Addr) {
        (self.ipv4, self.ipv6)
    }

    /// MNAME and RNAME of the synthetic SOA in uncompressed wire form (for
    /// answers encoded without a `Message`).
    pub fn soa_names_wire(&self) -> &[u8] {
        &self.soa_names
    }

    /// TTL of blocked answers.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Synthetic SOA for `zone` (the listed name that matched), with
    /// negative TTL `ttl` (RFC 2308).
    pub fn soa(&self, zone: Name, ttl: u32) -> Record {
        let soa = SOA::new(
            self.mname.clone(),
            self.rname.clone(),
            1,
            3600,
            600,
            86_400,
            ttl,
        );
        Record::from_rdata(zone, ttl, RData::SOA(soa))
    }

    /// Fill `resp` (header, question and OPT already set) for a blocked
    /// query. `zone` is the listed name that matched; `ttl` the list's TTL.
    pub fn apply(
        &self,
        resp: &mut Message,
        qname: &Name,
        qtype: RecordType,
        effect: &Effect<'_>,
        zone: Name,
        ttl: u32,
    ) {
        match effect {
            Effect::Refused => {
                resp.metadata.response_code = ResponseCode::Refused;
            }
            Effect::Nxdomain => {
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.authorities.push(self.soa(zone, ttl));
            }
            Effect::Nodata => resp.authorities.push(self.soa(zone, ttl)),
            Effect::Truncate => resp.metadata.truncation = true,
            Effect::Sinkhole => match qtype {
                RecordType::A => resp.answers.push(Record::from_rdata(
                    qname.clone(),
                    ttl,
                    RData::A(A(self.ipv4)),
                )),
                RecordType::AAAA => resp.answers.push(Record::from_rdata(
                    qname.clone(),
                    ttl,
                    RData::AAAA(AAAA(self.ipv6)),
                )),
                _ => resp.authorities.push(self.soa(zone, ttl)),
            },
            Effect::Local(data) => {
                // Records already there are the alias chain that led to
                // `qname` (see `crate::wire::chain`), not local data.
                let before = resp.answers.len();
                for (rttl, d) in data.iter() {
                    let rdata = match d {
                        LocalData::A(a) => RData::A(A(*a)),
                        LocalData::Aaaa(a) => RData::AAAA(AAAA(*a)),
                        LocalData::Txt(t) => RData::TXT(TXT::new(vec![t.clone()])),
                        LocalData::Cname(_) => continue,
                    };
                    if qtype == RecordType::ANY || rdata.record_type() == qtype {
                        resp.answers
                            .push(Record::from_rdata(qname.clone(), *rttl, rdata));
                    }
                }
                if resp.answers.len() == before {
                    resp.authorities.push(self.soa(zone, ttl));
                }
            }
            // Handled by the caller (no answer / a resolution).
            Effect::Drop | Effect::Redirect(_) => {}
        }
    }
}

/// What a blocked query gets, after list and entry actions are resolved.
#[derive(Debug, Clone)]
pub enum Effect<'a> {
    /// A/AAAA sinkhole address, other types NODATA.
    Sinkhole,
    /// NXDOMAIN with SOA.
    Nxdomain,
    /// NODATA with SOA.
    Nodata,
    /// REFUSED.
    Refused,
    /// No answer.
    Drop,
    /// TC=1 over UDP (RPZ tcp-only).
    Truncate,
    /// CNAME to this name, then resolve it.
    Redirect(Name),
    /// RPZ local data records.
    Local(&'a [(u32, LocalData)]),
}

impl Effect<'_> {
    /// Bounded metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Effect::Sinkhole => "sinkhole",
            Effect::Nxdomain => "nxdomain",
            Effect::Nodata => "nodata",
            Effect::Refused => "refused",
            Effect::Drop => "drop",
            Effect::Truncate => "tcp-only",
            Effect::Redirect(_) => "redirect",
            Effect::Local(_) => "local-data",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;

    #[test]
    fn each_effect_shapes_the_answer() {
        let s = Sinkhole::new(&SinkholeConfig::default());
        let q = Name::from_ascii("a.ads.example.").expect("name");
        let zone = Name::from_ascii("ads.example.").expect("name");
        let local = [
            (60, LocalData::A(std::net::Ipv4Addr::new(10, 0, 0, 1))),
            (60, LocalData::Txt("walled".into())),
        ];
        let run = |effect: Effect<'_>, qtype| {
            let mut m = Message::response(1, OpCode::Query);
            s.apply(&mut m, &q, qtype, &effect, zone.clone(), 300);
            (
                m.metadata.response_code,
                m.answers.len(),
                m.authorities.len(),
            )
        };
        use ResponseCode::*;
        assert_eq!(run(Effect::Sinkhole, RecordType::A), (NoError, 1, 0));
        assert_eq!(run(Effect::Sinkhole, RecordType::AAAA), (NoError, 1, 0));
        assert_eq!(run(Effect::Sinkhole, RecordType::MX), (NoError, 0, 1));
        assert_eq!(run(Effect::Nxdomain, RecordType::A), (NXDomain, 0, 1));
        assert_eq!(run(Effect::Nodata, RecordType::A), (NoError, 0, 1));
        assert_eq!(run(Effect::Refused, RecordType::A), (Refused, 0, 0));
        assert_eq!(run(Effect::Local(&local), RecordType::A), (NoError, 1, 0));
        assert_eq!(
            run(Effect::Local(&local), RecordType::AAAA),
            (NoError, 0, 1)
        );
        assert_eq!(run(Effect::Local(&local), RecordType::ANY), (NoError, 2, 0));
    }
}
