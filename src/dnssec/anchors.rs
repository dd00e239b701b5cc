//! Trust anchors: the DS or DNSKEY records a validation chain starts from.
//!
//! The built-in set is the root zone's KSK-2017 (key tag 20326) and KSK-2024
//! (key tag 38696) as DS records, the digests IANA publishes in
//! `root-anchors.xml`. Operators replace them with `dnssec.trust_anchors`
//! (presentation lines) and `dnssec.trust_anchor_file` (Unbound's
//! trust-anchor-file format: one record per line, `;` comments, parentheses
//! across lines, `$ORIGIN`). Every problem names its origin (config entry or
//! file), line and reason, and all problems are reported at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKey, PublicKeyBuf};
use hickory_proto::rr::Name;

/// DNSKEY flag: the key is a zone key (RFC 4034 2.1.1); only zone keys sign.
pub const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flag: the key is revoked (RFC 5011 3).
pub const FLAG_REVOKE: u16 = 0x0080;
/// DNSKEY flag: secure entry point, the KSK hint (RFC 3757).
pub const FLAG_SEP: u16 = 0x0001;

/// The root KSK-2017 digest (SHA-256), as in IANA's root-anchors.xml.
const ROOT_KSK_2017_DS: &str = "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";
/// The root KSK-2024 digest (SHA-256), as in IANA's root-anchors.xml.
const ROOT_KSK_2024_DS: &str = "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16";

/// The anchor type is the validation library's ([`super::Anchor`]): a DS
/// (digest of the key) or the DNSKEY itself, as operators copy either from
/// IANA or from their own signer.
pub use super::Anchor;

impl Anchor {
    /// The key tag of the key this anchor names (RFC 4034 appendix B).
    pub fn key_tag(&self) -> u16 {
        match self {
            Anchor::Ds(ds) => ds.key_tag(),
            Anchor::Dnskey(key) => key_tag(key),
        }
    }

    /// The algorithm of the key this anchor names.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Anchor::Ds(ds) => ds.algorithm(),
            Anchor::Dnskey(key) => key.public_key().algorithm(),
        }
    }

    /// Whether `key`, published at `zone`, is the key this anchor names.
    ///
    /// A revoked key never matches (RFC 5011 2.1: it must not be used to
    /// validate anything but its own revocation).
    pub fn matches(&self, zone: &Name, key: &DNSKEY) -> bool {
        if key.flags() & FLAG_REVOKE != 0 || key.flags() & FLAG_ZONE == 0 {
            return false;
        }
        match self {
            Anchor::Ds(ds) => {
                ds.key_tag() == key_tag(key)
                    && ds.algorithm() == key.public_key().algorithm()
                    && ds.covers(zone, key).unwrap_or(false)
            }
            Anchor::Dnskey(anchor) => same_key(anchor, key),
        }
    }

    /// Presentation form of the record data, e.g. `DS 20326 8 2 E06D...`.
    pub fn rdata_text(&self) -> String {
        match self {
            Anchor::Ds(ds) => format!(
                "DS {} {} {} {}",
                ds.key_tag(),
                u8::from(ds.algorithm()),
                u8::from(ds.digest_type()),
                data_encoding::HEXUPPER.encode(ds.digest())
            ),
            Anchor::Dnskey(key) => format!("DNSKEY {}", dnskey_rdata_text(key)),
        }
    }
}

/// The key tag of a DNSKEY (RFC 4034 appendix B), computed from its RDATA.
///
/// Written here rather than taken from hickory's `calculate_key_tag`, which
/// returns a `Result` for an encoding that cannot fail on our own keys.
pub fn key_tag(key: &DNSKEY) -> u16 {
    let mut rdata = Vec::with_capacity(4 + key.public_key().public_bytes().len());
    rdata.extend_from_slice(&key.flags().to_be_bytes());
    rdata.push(3);
    rdata.push(u8::from(key.public_key().algorithm()));
    rdata.extend_from_slice(key.public_key().public_bytes());
    let mut acc: u32 = 0;
    for (i, byte) in rdata.iter().enumerate() {
        acc += if i & 1 == 0 {
            u32::from(*byte) << 8
        } else {
            u32::from(*byte)
        };
    }
    acc += acc >> 16;
    (acc & 0xFFFF) as u16
}

/// Whether two DNSKEYs are the same key (flags, algorithm and key bytes).
pub fn same_key(a: &DNSKEY, b: &DNSKEY) -> bool {
    a.flags() == b.flags() && same_key_ignoring_revoke(a, b)
}

/// Whether two DNSKEYs are the same key apart from the REVOKE bit: a
/// revoked key is the old key with one flag set (RFC 5011 2.1).
pub fn same_key_ignoring_revoke(a: &DNSKEY, b: &DNSKEY) -> bool {
    (a.flags() | FLAG_REVOKE) == (b.flags() | FLAG_REVOKE)
        && a.public_key().algorithm() == b.public_key().algorithm()
        && a.public_key().public_bytes() == b.public_key().public_bytes()
}

/// `257 3 8 AwEAA...`: the DNSKEY RDATA in presentation form.
pub fn dnskey_rdata_text(key: &DNSKEY) -> String {
    format!(
        "{} 3 {} {}",
        key.flags(),
        u8::from(key.public_key().algorithm()),
        data_encoding::BASE64.encode(key.public_key().public_bytes())
    )
}

/// Trust anchors by zone (owner name, lowercased); several zones may be
/// anchored, the validator starts from the closest one above a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorSet {
    zones: BTreeMap<Name, Vec<Anchor>>,
}

impl AnchorSet {
    /// An empty set (nothing is anchored: every answer is insecure).
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in root anchors: KSK-2017 and KSK-2024 as DS (algorithm 8,
    /// digest 2), used when no anchors are configured.
    pub fn builtin() -> Self {
        let mut set = Self::new();
        for (tag, hex) in [(20326, ROOT_KSK_2017_DS), (38696, ROOT_KSK_2024_DS)] {
            // The constants are valid hex; a typo would show as an empty
            // digest that the unit test against hickory's keys catches.
            let digest = data_encoding::HEXUPPER
                .decode(hex.as_bytes())
                .unwrap_or_default();
            set.insert(
                Name::root(),
                Anchor::Ds(DS::new(
                    tag,
                    Algorithm::RSASHA256,
                    DigestType::SHA256,
                    digest,
                )),
            );
        }
        set
    }

    /// The anchors of `[dnssec]`: `trust_anchors` entries and the records of
    /// `trust_anchor_file` together replace the built-in set; with neither
    /// given it is the built-in set. Every problem is returned, not just
    /// the first.
    pub fn from_config(entries: &[String], file: Option<&Path>) -> Result<Self, Vec<AnchorError>> {
        let file = file.filter(|p| !p.as_os_str().is_empty());
        if entries.is_empty() && file.is_none() {
            return Ok(Self::builtin());
        }
        let mut set = Self::new();
        let mut errors = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let origin = Origin::Inline { index };
            let before = set.len();
            parse_into(entry, &origin, &mut set, &mut errors);
            if set.len() == before && !errors.iter().any(|e| e.origin() == &origin) {
                errors.push(AnchorError::Empty { origin });
            }
        }
        if let Some(path) = file {
            match Self::from_file(path) {
                Ok(found) => set.extend(found),
                Err(mut file_errors) => errors.append(&mut file_errors),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Reads a trust-anchor file (Unbound's trust-anchor-file format).
    pub fn from_file(path: &Path) -> Result<Self, Vec<AnchorError>> {
        let origin = Origin::File {
            path: path.to_path_buf(),
        };
        let text = std::fs::read_to_string(path).map_err(|source| {
            vec![AnchorError::Read {
                origin: origin.clone(),
                reason: source.to_string(),
            }]
        })?;
        let mut set = Self::new();
        let mut errors = Vec::new();
        parse_into(&text, &origin, &mut set, &mut errors);
        if errors.is_empty() && set.is_empty() {
            errors.push(AnchorError::Empty { origin });
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Parses presentation-format text (one or more records) from `origin`.
    pub fn parse(text: &str, origin: &Origin) -> Result<Self, Vec<AnchorError>> {
        let mut set = Self::new();
        let mut errors = Vec::new();
        parse_into(text, origin, &mut set, &mut errors);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Adds an anchor for `zone` (duplicates are kept once).
    pub fn insert(&mut self, zone: Name, anchor: Anchor) {
        let list = self.zones.entry(zone.to_lowercase()).or_default();
        if !list.contains(&anchor) {
            list.push(anchor);
        }
    }

    /// Adds every anchor of `other`.
    pub fn extend(&mut self, other: AnchorSet) {
        for (zone, anchors) in other.zones {
            for anchor in anchors {
                self.insert(zone.clone(), anchor);
            }
        }
    }

    /// The anchors of exactly `zone` (empty when it is not anchored).
    pub fn get(&self, zone: &Name) -> &[Anchor] {
        self.zones.get(zone).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The anchored zone closest above (or at) `name`, where validation of
    /// `name` starts, with its anchors.
    pub fn closest_enclosing(&self, name: &Name) -> Option<(&Name, &[Anchor])> {
        let mut candidate = name.to_lowercase();
        loop {
            if let Some((zone, anchors)) = self.zones.get_key_value(&candidate) {
                return Some((zone, anchors.as_slice()));
            }
            if candidate.is_root() {
                return None;
            }
            candidate = candidate.base_name();
        }
    }

    /// The anchored zones.
    pub fn zones(&self) -> impl Iterator<Item = &Name> {
        self.zones.keys()
    }

    /// Every (zone, anchor) pair.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Anchor)> {
        self.zones
            .iter()
            .flat_map(|(zone, anchors)| anchors.iter().map(move |a| (zone, a)))
    }

    /// Number of anchors over all zones.
    pub fn len(&self) -> usize {
        self.zones.values().map(Vec::len).sum()
    }

    /// Whether no zone is anchored.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Replaces the anchors of `zone` (none: the zone is no longer anchored).
    pub fn set_zone(&mut self, zone: Name, anchors: Vec<Anchor>) {
        let zone = zone.to_lowercase();
        if anchors.is_empty() {
            self.zones.remove(&zone);
        } else {
            self.zones.insert(zone, anchors);
        }
    }
}

/// Where anchor text came from, so an error names the config key or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Entry `index` (from 0) of `dnssec.trust_anchors`.
    Inline {
        /// Position in the list.
        index: usize,
    },
    /// The file of `dnssec.trust_anchor_file`.
    File {
        /// The file as configured.
        path: PathBuf,
    },
    /// An RFC 5011 state file in `dnssec.state_dir`.
    State {
        /// The state file.
        path: PathBuf,
    },
}

impl Origin {
    /// The configuration key this origin belongs to, for the config report.
    pub fn config_key(&self) -> String {
        match self {
            Origin::Inline { index } => format!("dnssec.trust_anchors[{index}]"),
            Origin::File { .. } => "dnssec.trust_anchor_file".to_string(),
            Origin::State { .. } => "dnssec.state_dir".to_string(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Inline { index } => write!(f, "dnssec.trust_anchors[{index}]"),
            Origin::File { path } | Origin::State { path } => write!(f, "{}", path.display()),
        }
    }
}

/// A trust anchor that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// A record that does not parse or cannot be an anchor.
    #[error("{origin}: line {line}: {reason}")]
    Syntax {
        /// Config entry or file.
        origin: Origin,
        /// Line number from 1 (of the entry's text for inline entries).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file cannot be read.
    #[error("{origin}: cannot read: {reason}")]
    Read {
        /// The file.
        origin: Origin,
        /// The I/O error.
        reason: String,
    },
    /// Text without any DS or DNSKEY record.
    #[error("{origin}: no DS or DNSKEY record")]
    Empty {
        /// Config entry or file.
        origin: Origin,
    },
}

impl AnchorError {
    /// Where the problem is.
    pub fn origin(&self) -> &Origin {
        match self {
            AnchorError::Syntax { origin, .. }
            | AnchorError::Read { origin, .. }
            | AnchorError::Empty { origin } => origin,
        }
    }

    /// The configuration key to report the problem under.
    pub fn config_key(&self) -> String {
        self.origin().config_key()
    }

    /// The problem without the key: for a file, the file and line are part
    /// of it (`/etc/dnsward/root.key: line 3: ...`).
    pub fn reason(&self) -> String {
        match self {
            AnchorError::Syntax {
                origin: Origin::Inline { .. },
                line: 1,
                reason,
            } => reason.clone(),
            AnchorError::Syntax {
                origin: Origin::Inline { .. },
                line,
                reason,
            } => format!("line {line}: {reason}"),
            AnchorError::Syntax {
                origin,
                line,
                reason,
            } => format!("{origin}: line {line}: {reason}"),
            AnchorError::Read { origin, reason } => format!("{origin}: cannot read: {reason}"),
            AnchorError::Empty { origin } => match origin {
                Origin::Inline { .. } => "no DS or DNSKEY record".to_string(),
                _ => format!("{origin}: no DS or DNSKEY record"),
            },
        }
    }
}

/// One logical record: its tokens (comments removed, parentheses joined)
/// and the line it starts on.
pub(crate) struct Logical<'t> {
    /// Line number (from 1) of the record's first line.
    pub(crate) line: usize,
    /// Whether the record's first line starts with blank space (owner
    /// omitted: the previous record's owner).
    pub(crate) continues_owner: bool,
    /// The tokens.
    pub(crate) tokens: Vec<&'t str>,
    /// The comment of the record's last line (after `;`), where the RFC 5011
    /// state file keeps a key's state.
    pub(crate) comment: &'t str,
}

/// Splits zone-file text into logical records. Unbalanced parentheses are
/// reported against the line that opened them.
pub(crate) fn logical_records<'t>(
    text: &'t str,
    mut on_error: impl FnMut(usize, String),
) -> Vec<Logical<'t>> {
    let mut records = Vec::new();
    let mut current: Option<Logical<'t>> = None;
    let mut depth = 0usize;
    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        let (data, comment) = match raw.find(';') {
            Some(at) => (&raw[..at], &raw[at + 1..]),
            None => (raw, ""),
        };
        if current.is_none() {
            if data.trim().is_empty() {
                continue;
            }
            current = Some(Logical {
                line: number,
                continues_owner: data.starts_with([' ', '\t']),
                tokens: Vec::new(),
                comment: "",
            });
        }
        let Some(record) = current.as_mut() else {
            continue;
        };
        for piece in data.split_whitespace() {
            let mut rest = piece;
            while !rest.is_empty() {
                let at = rest.find(['(', ')']).unwrap_or(rest.len());
                if at > 0 {
                    record.tokens.push(&rest[..at]);
                }
                match rest[at..].chars().next() {
                    Some('(') => depth += 1,
                    Some(')') => {
                        if depth == 0 {
                            on_error(number, "')' without '('".to_string());
                        } else {
                            depth -= 1;
                        }
                    }
                    _ => {}
                }
                rest = rest.get(at + 1..).unwrap_or("");
            }
        }
        record.comment = comment;
        if depth == 0 {
            if let Some(done) = current.take() {
                records.push(done);
            }
        }
    }
    if let Some(open) = current {
        on_error(open.line, "'(' not closed".to_string());
    }
    records
}

/// A parsed record: its owner, TTL and anchor.
pub(crate) struct ParsedRecord {
    pub(crate) owner: Name,
    pub(crate) ttl: Option<u32>,
    pub(crate) anchor: Anchor,
}

/// What one logical record turned out to be.
pub(crate) enum RecordLine {
    /// A DS or DNSKEY record.
    Record(ParsedRecord),
    /// A record type that is no anchor but is tolerated in anchor files
    /// (RRSIG, as `dig DNSKEY . +dnssec` prints it): skipped.
    Skipped,
    /// `$ORIGIN` or `$TTL`, handled by the caller's state.
    Directive,
}

/// Parser state across records: `$ORIGIN` and the previous owner.
pub(crate) struct ZoneText {
    pub(crate) origin: Name,
    pub(crate) previous_owner: Option<Name>,
    /// Accept DNSKEYs with the REVOKE bit: the RFC 5011 state file keeps
    /// revoked keys through their remove hold-down; configured anchors
    /// must not be revoked.
    pub(crate) allow_revoked: bool,
}

impl ZoneText {
    pub(crate) fn new(allow_revoked: bool) -> Self {
        Self {
            origin: Name::root(),
            previous_owner: None,
            allow_revoked,
        }
    }

    /// Parses one logical record, DS or DNSKEY; the error is the reason.
    pub(crate) fn record(&mut self, record: &Logical<'_>) -> Result<RecordLine, String> {
        let mut tokens = record.tokens.iter().copied().peekable();
        if let Some(first) = tokens.peek().copied() {
            if first.eq_ignore_ascii_case("$ORIGIN") {
                tokens.next();
                let name = tokens.next().ok_or("$ORIGIN without a name")?;
                self.origin = self.name(name)?;
                return Ok(RecordLine::Directive);
            }
            if first.eq_ignore_ascii_case("$TTL") {
                return Ok(RecordLine::Directive);
            }
            if first.starts_with('$') {
                return Err(format!("unsupported directive {first}"));
            }
        }
        let owner = if record.continues_owner {
            self.previous_owner
                .clone()
                .ok_or("record without an owner name")?
        } else {
            let text = tokens.next().ok_or("empty record")?;
            self.name(text)?
        };
        self.previous_owner = Some(owner.clone());
        let mut ttl = None;
        let mut rtype = None;
        for token in tokens.by_ref() {
            if token.bytes().all(|b| b.is_ascii_digit()) {
                if ttl.is_some() {
                    return Err(format!("unexpected number {token} before the type"));
                }
                ttl = Some(
                    token
                        .parse::<u32>()
                        .map_err(|_| format!("TTL {token} too large"))?,
                );
            } else if token.eq_ignore_ascii_case("IN") {
                continue;
            } else if ["CH", "HS", "CS", "NONE", "ANY"]
                .iter()
                .any(|c| token.eq_ignore_ascii_case(c))
                || token.to_ascii_uppercase().starts_with("CLASS")
            {
                return Err(format!("class {token}: trust anchors are class IN"));
            } else {
                rtype = Some(token);
                break;
            }
        }
        let rtype = rtype.ok_or("no record type (expected DS or DNSKEY)")?;
        let rdata: Vec<&str> = tokens.collect();
        let anchor = if rtype.eq_ignore_ascii_case("DS") {
            Anchor::Ds(parse_ds(&rdata)?)
        } else if rtype.eq_ignore_ascii_case("DNSKEY") {
            Anchor::Dnskey(parse_dnskey(&rdata, self.allow_revoked)?)
        } else if rtype.eq_ignore_ascii_case("RRSIG") {
            return Ok(RecordLine::Skipped);
        } else {
            return Err(format!(
                "record type {rtype}: a trust anchor is a DS or DNSKEY record"
            ));
        };
        Ok(RecordLine::Record(ParsedRecord { owner, ttl, anchor }))
    }

    /// A name, relative ones completed with `$ORIGIN`; `@` is the origin.
    fn name(&self, text: &str) -> Result<Name, String> {
        if text == "@" {
            return Ok(self.origin.clone());
        }
        let name = Name::from_ascii(text).map_err(|e| format!("owner name {text}: {e}"))?;
        let name = if name.is_fqdn() {
            name
        } else {
            name.append_domain(&self.origin)
                .map_err(|e| format!("owner name {text}: {e}"))?
        };
        Ok(name.to_lowercase())
    }
}

/// Parses anchor text into `set`, pushing one error per bad record.
fn parse_into(text: &str, origin: &Origin, set: &mut AnchorSet, errors: &mut Vec<AnchorError>) {
    let records = logical_records(text, |line, reason| {
        errors.push(AnchorError::Syntax {
            origin: origin.clone(),
            line,
            reason,
        })
    });
    let mut state = ZoneText::new(false);
    for record in &records {
        match state.record(record) {
            Ok(RecordLine::Record(parsed)) => set.insert(parsed.owner, parsed.anchor),
            Ok(RecordLine::Skipped | RecordLine::Directive) => {}
            Err(reason) => errors.push(AnchorError::Syntax {
                origin: origin.clone(),
                line: record.line,
                reason,
            }),
        }
    }
}

/// An algorithm by number or mnemonic (RFC 4034 appendix A.1, RFC 8624).
fn parse_algorithm(text: &str) -> Result<Algorithm, String> {
    if let Ok(number) = text.parse::<u8>() {
        return Ok(Algorithm::from_u8(number));
    }
    let number = match text.to_ascii_uppercase().as_str() {
        "RSASHA1" => 5,
        "RSASHA1-NSEC3-SHA1" => 7,
        "RSASHA256" => 8,
        "RSASHA512" => 10,
        "ECDSAP256SHA256" => 13,
        "ECDSAP384SHA384" => 14,
        "ED25519" => 15,
        "ED448" => 16,
        _ => return Err(format!("unknown algorithm {text}")),
    };
    Ok(Algorithm::from_u8(number))
}

/// DS RDATA: key tag, algorithm, digest type, digest in hex (spaces allowed).
fn parse_ds(rdata: &[&str]) -> Result<DS, String> {
    let [tag, algorithm, digest_type, digest @ ..] = rdata else {
        return Err("DS needs key tag, algorithm, digest type and digest".to_string());
    };
    let tag: u16 = tag
        .parse()
        .map_err(|_| format!("DS key tag {tag} is not a number 0-65535"))?;
    let algorithm = parse_algorithm(algorithm)?;
    let digest_type: u8 = digest_type
        .parse()
        .map_err(|_| format!("DS digest type {digest_type} is not a number 0-255"))?;
    let hex = digest.concat();
    if hex.is_empty() {
        return Err("DS without a digest".to_string());
    }
    let digest = data_encoding::HEXUPPER_PERMISSIVE
        .decode(hex.as_bytes())
        .map_err(|_| "DS digest is not hexadecimal".to_string())?;
    // A digest whose length does not fit its type (20 bytes for SHA-1, 32
    // for SHA-256, 48 for SHA-384) is accepted, as Unbound does: it matches
    // no key, so the zone fails closed (bogus) rather than the whole
    // configuration being refused.
    Ok(DS::new(
        tag,
        algorithm,
        DigestType::from(digest_type),
        digest,
    ))
}

/// DNSKEY RDATA: flags, protocol 3, algorithm, key in base64 (spaces allowed).
fn parse_dnskey(rdata: &[&str], allow_revoked: bool) -> Result<DNSKEY, String> {
    let [flags, protocol, algorithm, key @ ..] = rdata else {
        return Err("DNSKEY needs flags, protocol, algorithm and key".to_string());
    };
    let flags: u16 = flags
        .parse()
        .map_err(|_| format!("DNSKEY flags {flags} is not a number 0-65535"))?;
    if *protocol != "3" {
        return Err(format!("DNSKEY protocol {protocol} (must be 3)"));
    }
    let algorithm = parse_algorithm(algorithm)?;
    let text = key.concat();
    if text.is_empty() {
        return Err("DNSKEY without a key".to_string());
    }
    let bytes = data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|_| "DNSKEY key is not base64".to_string())?;
    if flags & FLAG_ZONE == 0 {
        return Err(format!(
            "DNSKEY flags {flags} lack the zone key bit (256): not a zone key"
        ));
    }
    if flags & FLAG_REVOKE != 0 && !allow_revoked {
        return Err(format!(
            "DNSKEY flags {flags} have the REVOKE bit (128): a revoked key is no anchor"
        ));
    }
    Ok(DNSKEY::with_flags(
        flags,
        PublicKeyBuf::new(bytes, algorithm),
    ))
}

#[cfg(test)]
#[path = "anchors_tests.rs"]
mod tests;
