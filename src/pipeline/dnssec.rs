//! DNSSEC in the response: what a validation status does to the answer
//! (AD, SERVFAIL with EDE, CD=1) and which DNSSEC records a client
//! without DO sees.

use super::*;

impl Handler {
    /// The answer as a client with this DO bit may see it: without DO,
    /// no RRSIG, NSEC or NSEC3 records unless asked for by type (RFC 4035
    /// 3.2.1). The upstream query carried DO whenever validating, so the
    /// validator had them.
    pub(super) fn client_view(&self, query: &Query, dnssec_ok: bool, mut msg: Message) -> Message {
        if dnssec_ok {
            return msg;
        }
        let qtype = query.query_type();
        let keep = |r: &Record| {
            let t = r.record_type();
            t == qtype || !matches!(t, RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3)
        };
        msg.answers.retain(keep);
        msg.authorities.retain(|r| {
            !matches!(
                r.record_type(),
                RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3
            )
        });
        msg.additionals
            .retain(|r| r.record_type() != RecordType::RRSIG);
        msg
    }
}

/// What a validation status does to a response: a bogus answer becomes
/// SERVFAIL with its EDE unless the client set CD (RFC 4035 3.2.2: then it
/// gets the data, unvalidated); a secure one gets AD when the client asked
/// for it (`ad_wanted`: DO or AD set, RFC 6840 5.7).
pub(super) fn apply_status(
    resp: &mut Message,
    status: Status,
    ede_of: Option<&crate::resolve::Ede>,
    ad_wanted: bool,
) {
    match status {
        Status::Bogus if !resp.metadata.checking_disabled => {
            resp.answers.clear();
            resp.authorities.clear();
            resp.additionals.clear();
            resp.metadata.response_code = ResponseCode::ServFail;
            resp.metadata.authentic_data = false;
            match ede_of {
                Some(e) => e.wire().attach(resp),
                // EDE 6: DNSSEC Bogus.
                None => Ede::new(EDE_DNSSEC_BOGUS, "DNSSEC validation failed").attach(resp),
            }
        }
        // With CD the client validates itself: no AD from us (as Unbound).
        Status::Secure => {
            resp.metadata.authentic_data = ad_wanted && !resp.metadata.checking_disabled
        }
        Status::Insecure => {
            resp.metadata.authentic_data = false;
            if let Some(e) = ede_of {
                e.wire().attach(resp);
            }
        }
        _ => resp.metadata.authentic_data = false,
    }
}
