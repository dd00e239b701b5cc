//! Blocked answers: what a subscriber's stub receives for a listed name,
//! and the Extended DNS Error (RFC 8914) that says why.
//!
//! Negative blocked answers carry a synthetic SOA whose owner is the listed
//! name, so caches downstream keep the block for `ttl_secs` (RFC 2308) and
//! no longer.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::config::{Action, SinkholeConfig};

/// RFC 8914 option code.
pub const EDE_OPTION: u16 = 15;
/// EDE 3: Stale Answer.
pub const EDE_STALE: u16 = 3;
/// EDE 15: Blocked.
pub const EDE_BLOCKED: u16 = 15;
/// EDE 18: Prohibited.
pub const EDE_PROHIBITED: u16 = 18;
/// EDE 22: No Reachable Authority.
pub const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;
/// EDE 23: Network Error.
pub const EDE_NETWORK_ERROR: u16 = 23;

/// An EDE option: INFO-CODE then UTF-8 EXTRA-TEXT (hickory 0.26 has no
/// typed EDE, so it travels as an unknown option with the right code).
pub fn ede(info_code: u16, extra_text: &str) -> EdnsOption {
    let mut data = Vec::with_capacity(2 + extra_text.len());
    data.extend_from_slice(&info_code.to_be_bytes());
    data.extend_from_slice(extra_text.as_bytes());
    EdnsOption::Unknown(EDE_OPTION, data)
}

/// Builds blocked answers from the `[sinkhole]` settings.
#[derive(Debug, Clone)]
pub struct Sinkhole {
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
    ttl: u32,
    mname: Name,
    rname: Name,
}

impl Sinkhole {
    /// From configuration.
    pub fn new(cfg: &SinkholeConfig) -> Self {
        Self {
            ipv4: cfg.ipv4,
            ipv6: cfg.ipv6,
            ttl: cfg.ttl_secs,
            mname: Name::from_ascii("sinkhole.dnsward.invalid.").unwrap_or_else(|_| Name::root()),
            rname: Name::from_ascii("hostmaster.dnsward.invalid.").unwrap_or_else(|_| Name::root()),
        }
    }

    /// TTL of blocked answers.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Synthetic SOA for `zone` (the listed name that matched).
    pub fn soa(&self, zone: Name) -> Record {
        let soa = SOA::new(
            self.mname.clone(),
            self.rname.clone(),
            1,
            3600,
            600,
            86_400,
            self.ttl,
        );
        Record::from_rdata(zone, self.ttl, RData::SOA(soa))
    }

    /// Fill `resp` (header, question and OPT already set) for a blocked
    /// query. `zone` is the listed name that matched.
    pub fn answer(
        &self,
        resp: &mut Message,
        qname: &Name,
        qtype: RecordType,
        action: Action,
        zone: Name,
    ) {
        match action {
            Action::Refused => {
                resp.metadata.response_code = ResponseCode::Refused;
            }
            Action::Nxdomain => {
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.authorities.push(self.soa(zone));
            }
            Action::Nodata => {
                resp.authorities.push(self.soa(zone));
            }
            Action::Sinkhole => match qtype {
                RecordType::A => resp.answers.push(Record::from_rdata(
                    qname.clone(),
                    self.ttl,
                    RData::A(A(self.ipv4)),
                )),
                RecordType::AAAA => resp.answers.push(Record::from_rdata(
                    qname.clone(),
                    self.ttl,
                    RData::AAAA(AAAA(self.ipv6)),
                )),
                _ => resp.authorities.push(self.soa(zone)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;

    #[test]
    fn ede_bytes_are_code_then_text() {
        match ede(16, "x") {
            EdnsOption::Unknown(15, d) => assert_eq!(d, vec![0, 16, b'x']),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn each_action_shapes_the_answer() {
        let s = Sinkhole::new(&SinkholeConfig::default());
        let q = Name::from_ascii("a.ads.example.").expect("name");
        let zone = Name::from_ascii("ads.example.").expect("name");
        let run = |action, qtype| {
            let mut m = Message::response(1, OpCode::Query);
            s.answer(&mut m, &q, qtype, action, zone.clone());
            (
                m.metadata.response_code,
                m.answers.len(),
                m.authorities.len(),
            )
        };
        assert_eq!(
            run(Action::Sinkhole, RecordType::A),
            (ResponseCode::NoError, 1, 0)
        );
        assert_eq!(
            run(Action::Sinkhole, RecordType::AAAA),
            (ResponseCode::NoError, 1, 0)
        );
        assert_eq!(
            run(Action::Sinkhole, RecordType::MX),
            (ResponseCode::NoError, 0, 1)
        );
        assert_eq!(
            run(Action::Nxdomain, RecordType::A),
            (ResponseCode::NXDomain, 0, 1)
        );
        assert_eq!(
            run(Action::Nodata, RecordType::A),
            (ResponseCode::NoError, 0, 1)
        );
        assert_eq!(
            run(Action::Refused, RecordType::A),
            (ResponseCode::Refused, 0, 0)
        );
    }
}
