//! DNSSEC: trust anchors and their RFC 5011 rollover (the validation library joins here).

pub mod anchors;
pub mod rfc5011;
