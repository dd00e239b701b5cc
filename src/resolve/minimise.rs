//! QNAME minimisation (RFC 9156): each server is asked only about the
//! name one label below the zone it serves (`example.zz. NS` to the `zz.`
//! servers for `www.example.zz. A`), until the servers of the name's own
//! zone get the full question. The root and TLD operators then learn which
//! domains subscribers use, not which names in them.
//!
//! The state lives per iteration (one name of a CNAME chain): how deep the
//! names asked so far went without meeting a zone cut, how many minimised
//! queries were sent (capped as RFC 9156 2.3 suggests: one label at a time
//! for the first [`ONE_LABEL_STEPS`], then bigger steps so that at most
//! [`MAX_MINIMISED`] are sent), and whether minimising was given up for a
//! broken zone (relaxed mode).
//!
//! Minimised questions use QTYPE NS (RFC 7816, as Knot Resolver does): a
//! referral, an NS answer or NODATA all say what is needed (is there a
//! cut here?), and no data of the client's type is asked for under a name
//! the client did not ask about.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::config::QnameMinimisation;

use super::classify::Reply;

/// Most minimised queries for one name (RFC 9156 MAX_MINIMISE_COUNT).
pub const MAX_MINIMISED: u8 = 10;
/// Minimised queries that add one label each before steps grow (RFC 9156
/// MINIMISE_ONE_LAB).
pub const ONE_LABEL_STEPS: u8 = 4;

/// Minimisation state of one iteration.
#[derive(Debug)]
pub struct Minimiser {
    mode: QnameMinimisation,
    /// The deepest name asked that turned out to be no zone cut.
    passed: Option<Name>,
    /// Minimised queries chosen so far.
    sent: u8,
}

impl Minimiser {
    /// Minimise in `mode`. (A DS question needs nothing apart: the name
    /// itself is never asked minimised, so its parent's servers, where the
    /// DS lives, get the full question.)
    pub fn new(mode: QnameMinimisation) -> Self {
        Self {
            mode,
            passed: None,
            sent: 0,
        }
    }

    /// True in strict mode (no fall-back to the full name).
    pub fn strict(&self) -> bool {
        self.mode == QnameMinimisation::Strict
    }

    /// Stop minimising for the rest of this iteration: the zone's servers
    /// failed a minimised question (relaxed mode).
    pub fn give_up(&mut self) {
        self.mode = QnameMinimisation::Off;
    }

    /// The name to ask `zone`'s servers about with QTYPE NS on the way to
    /// `name`, or `None` when they get the full question.
    pub fn next(&mut self, zone: &Name, name: &Name) -> Option<Name> {
        if self.mode == QnameMinimisation::Off {
            return None;
        }
        let base = match &self.passed {
            Some(p) if zone.zone_of(p) && p.num_labels() > zone.num_labels() => p.num_labels(),
            _ => zone.num_labels(),
        };
        let total = name.num_labels();
        // Never the name itself: its own question goes to its zone.
        let left = total.checked_sub(base)?;
        if left <= 1 || self.sent >= MAX_MINIMISED {
            return None;
        }
        let add = if self.sent < ONE_LABEL_STEPS {
            1
        } else {
            // Spread what is left over the queries that remain.
            let queries_left = MAX_MINIMISED - self.sent;
            left.div_ceil(queries_left).max(1)
        };
        let labels = base + add;
        if labels >= total {
            return None;
        }
        self.sent += 1;
        let mut child = name.trim_to(usize::from(labels)).to_lowercase();
        child.set_fqdn(true);
        Some(child)
    }

    /// The minimised name `child` is no zone cut (NODATA or an answer):
    /// the next question goes one step deeper at the same servers.
    pub fn passed(&mut self, child: Name) {
        self.passed = Some(child);
    }
}

/// A minimised reply the plain classification calls lame that is the
/// zone saying "no cut here": NOERROR, not authoritative, with the zone's
/// own NS set (or nothing else) in the authority section, as some servers
/// answer for a name without a delegation.
pub fn reclassify(reply: Reply, msg: &Message, zone: &Name) -> Reply {
    match reply {
        Reply::Lame(_)
            if msg.metadata.response_code == ResponseCode::NoError
                && msg.answers.is_empty()
                && msg
                    .authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::NS && r.name == *zone)
                && msg
                    .authorities
                    .iter()
                    .filter(|r| r.record_type() == RecordType::NS)
                    .all(|r| r.name == *zone) =>
        {
            Reply::NoData
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::rdata::NS;
    use hickory_proto::rr::{RData, Record};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    #[test]
    fn one_label_below_the_zone_then_the_full_name() {
        let mut m = Minimiser::new(QnameMinimisation::Relaxed);
        let name = n("www.Example.zz.");
        assert_eq!(m.next(&Name::root(), &name), Some(n("zz.")));
        assert_eq!(m.next(&n("zz."), &name), Some(n("example.zz.")));
        // The name's own zone gets the full question.
        assert_eq!(m.next(&n("example.zz."), &name), None);
        // An empty non-terminal: the next label at the same servers.
        let mut m = Minimiser::new(QnameMinimisation::Strict);
        let deep = n("a.b.example.zz.");
        assert_eq!(m.next(&n("zz."), &deep), Some(n("example.zz.")));
        m.passed(n("example.zz."));
        assert_eq!(m.next(&n("zz."), &deep), Some(n("b.example.zz.")));
        m.passed(n("b.example.zz."));
        assert_eq!(m.next(&n("zz."), &deep), None);
        // A referral below what was passed starts from the new cut.
        assert_eq!(m.next(&n("b.example.zz."), &deep), None);
    }

    #[test]
    fn off_and_given_up_ask_the_full_name() {
        let name = n("www.example.zz.");
        let mut off = Minimiser::new(QnameMinimisation::Off);
        assert_eq!(off.next(&Name::root(), &name), None);
        let mut m = Minimiser::new(QnameMinimisation::Relaxed);
        m.give_up();
        assert_eq!(m.next(&Name::root(), &name), None);
        // DS: never the name's own label (its parent's servers answer).
        let mut ds = Minimiser::new(QnameMinimisation::Relaxed);
        assert_eq!(ds.next(&n("zz."), &n("example.zz.")), None);
    }

    #[test]
    fn long_names_cost_at_most_the_cap() {
        let name = Name::from_ascii("a.".repeat(40)).expect("40 labels");
        let mut m = Minimiser::new(QnameMinimisation::Strict);
        let mut asked = 0;
        while let Some(child) = m.next(&Name::root(), &name) {
            asked += 1;
            assert!(child.num_labels() < name.num_labels());
            m.passed(child);
        }
        assert!(
            asked <= usize::from(MAX_MINIMISED),
            "{asked} minimised queries"
        );
        assert!(asked >= usize::from(ONE_LABEL_STEPS));
    }

    #[test]
    fn the_zones_own_ns_without_aa_means_no_cut() {
        let zone = n("zz.");
        let mut m = Message::response(1, OpCode::Query);
        m.authorities.push(Record::from_rdata(
            zone.clone(),
            300,
            RData::NS(NS(n("ns.zz."))),
        ));
        let lame = Reply::Lame("referral not below the zone asked");
        assert_eq!(reclassify(lame.clone(), &m, &zone), Reply::NoData);
        // The root's NS from the zz servers stays lame.
        let mut up = Message::response(1, OpCode::Query);
        up.authorities.push(Record::from_rdata(
            Name::root(),
            300,
            RData::NS(NS(n("a.root."))),
        ));
        assert_eq!(reclassify(lame.clone(), &up, &zone), lame);
    }
}
