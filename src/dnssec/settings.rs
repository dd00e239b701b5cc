//! What the `[dnssec]` section resolved to at load: the form the
//! resolver takes. It lives here, below the resolver, so that the
//! resolver does not import the config layer (`validate` builds it).

use std::path::PathBuf;

use hickory_proto::rr::Name;

use crate::dnssec::anchors::AnchorSet;

/// What `[dnssec]` resolved to.
#[derive(Debug, Clone, Default)]
pub struct DnssecSettings {
    /// The trust anchors to start chains of trust from: the configured
    /// ones, else the built-in root anchors (empty when validation is off).
    pub anchors: AnchorSet,
    /// Negative trust anchors (RFC 7646), lowercase, absolute.
    pub negative: Vec<Name>,
    /// `dnssec.state_dir` resolved, if set.
    pub state_dir: Option<PathBuf>,
}
