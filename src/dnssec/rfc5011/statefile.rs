//! The RFC 5011 state file: Unbound's auto-trust-anchor-file format, so an
//! operator can read it, seed it with `unbound-anchor`'s output, or hand it
//! to Unbound.
//!
//! (tabs between the fields in the file)
//! ```text
//! ; autotrust trust anchor file
//! ;;id: . 1
//! ;;last_queried: 1764694800 ;;Tue Dec  2 17:00:00 2025
//! ;;last_success: 1764694800 ;;Tue Dec  2 17:00:00 2025
//! ;;next_probe_time: 1764738000 ;;Wed Dec  3 05:00:00 2025
//! ;;query_failed: 0
//! ;;query_interval: 43200
//! ;;retry_time: 8640
//! .  172800  IN  DNSKEY  257 3 8 AwEAAa... ;{id = 20326 (ksk)} ;;state=2 [  VALID  ] ;;count=0 ;;lastchange=1502366229 ;;Thu Aug 10 11:57:09 2017
//! ```
//! A file that holds only DS or DNSKEY records (as `unbound-anchor` or IANA
//! give them) is a valid seed: its DNSKEYs are Valid, its DS records wait
//! for the first probe.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

use super::{KeyState, TrackedKey, TrustPoint};
use crate::dnssec::anchors::{
    dnskey_rdata_text, key_tag, logical_records, Anchor, RecordLine, ZoneText, FLAG_SEP,
};

/// A state file that cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The file's content is not a state file for its zone.
    #[error("{}: line {line}: {reason}", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// Line number from 1 (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file exists but cannot be read.
    #[error("{}: cannot read: {reason}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The new state cannot be written.
    #[error("{}: cannot write: {reason}", path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// The state file's name for `zone` in the state directory: `root.key` for
/// the root (Unbound's usual name), `<zone>.key` otherwise; characters that
/// do not belong in a file name become `_`.
pub(super) fn file_name(zone: &Name) -> String {
    if zone.is_root() {
        return "root.key".to_string();
    }
    let text = zone.to_lowercase().to_ascii();
    let text = text.trim_end_matches('.');
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.key")
}

/// Reads the state of `zone`; `Ok(None)` when there is no file yet.
pub(super) fn read(path: &Path, zone: &Name) -> Result<Option<TrustPoint>, StateError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    parse(&text, path, zone).map(Some)
}

/// Parses state-file text for `zone` (`path` only names errors).
pub(super) fn parse(text: &str, path: &Path, zone: &Name) -> Result<TrustPoint, StateError> {
    let corrupt = |line: usize, reason: String| StateError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let zone = zone.to_lowercase();
    let mut point = TrustPoint::from_anchors(&zone, &[]);
    let mut seen_data = false;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        let line = line.trim_end();
        if !line.starts_with(";;") {
            if !line.trim().is_empty() && !line.starts_with(';') {
                seen_data = true;
            }
            continue;
        }
        let var = &line[2..];
        if var.starts_with("REVOKED") {
            if seen_data {
                return Err(corrupt(number, ";;REVOKED after the first record".into()));
            }
            point.revoked = true;
        } else if let Some(rest) = var.strip_prefix("id:") {
            let mut parts = rest.split_whitespace();
            let name = parts
                .next()
                .ok_or_else(|| corrupt(number, ";;id: without a zone".into()))?;
            let name = Name::from_ascii(name)
                .map_err(|e| corrupt(number, format!(";;id: zone {name}: {e}")))?;
            if name.to_lowercase() != zone {
                return Err(corrupt(
                    number,
                    format!("state for zone {name}, expected {}", zone.to_ascii()),
                ));
            }
            if let Some(class) = parts.next() {
                if class != "1" {
                    return Err(corrupt(
                        number,
                        format!(";;id: class {class} (must be 1, IN)"),
                    ));
                }
            }
        } else {
            let Some((key, value)) = var.split_once(':') else {
                continue;
            };
            let slot = match key {
                "last_queried" => &mut point.last_queried,
                "last_success" => &mut point.last_success,
                "next_probe_time" => &mut point.next_probe_time,
                "query_interval" => &mut point.query_interval,
                "retry_time" => &mut point.retry_time,
                "query_failed" => {
                    let n = leading_number(value)
                        .ok_or_else(|| corrupt(number, format!(";;{key}: not a number")))?;
                    point.query_failed = n.min(255) as u8;
                    continue;
                }
                _ => continue,
            };
            *slot = leading_number(value)
                .ok_or_else(|| corrupt(number, format!(";;{key}: not a number")))?;
        }
    }

    let mut first_error = None;
    let records = logical_records(text, |line, reason| {
        first_error.get_or_insert(corrupt(line, reason));
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut zone_text = ZoneText::new(true);
    for record in &records {
        let parsed = match zone_text.record(record) {
            Ok(RecordLine::Record(parsed)) => parsed,
            Ok(RecordLine::Skipped | RecordLine::Directive) => continue,
            Err(reason) => return Err(corrupt(record.line, reason)),
        };
        if parsed.owner != zone {
            return Err(corrupt(
                record.line,
                format!(
                    "record for {}, the file is for {}",
                    parsed.owner.to_ascii(),
                    zone.to_ascii()
                ),
            ));
        }
        match parsed.anchor {
            Anchor::Ds(ds) => {
                if !point.ds.contains(&ds) {
                    point.ds.push(ds);
                }
            }
            Anchor::Dnskey(key) => {
                let state = match field(record.comment, "state=") {
                    None => KeyState::Valid,
                    Some(n) => u8::try_from(n)
                        .ok()
                        .and_then(KeyState::from_number)
                        .ok_or_else(|| corrupt(record.line, format!("unknown key state {n}")))?,
                };
                if matches!(state, KeyState::Start | KeyState::Removed) {
                    continue;
                }
                let mut tracked = TrackedKey::new(key, parsed.ttl.unwrap_or(0), state);
                tracked.pending_count = field(record.comment, "count=").unwrap_or(0).min(250) as u8;
                tracked.last_change = field(record.comment, "lastchange=").unwrap_or(0);
                point.keys.push(tracked);
            }
        }
    }
    if !point.revoked && point.ds.is_empty() && point.keys.is_empty() {
        return Err(corrupt(0, "no DS or DNSKEY record".into()));
    }
    Ok(point)
}

/// The number right after `name` in a key's comment (`state=2`, `count=0`).
fn field(comment: &str, name: &str) -> Option<u64> {
    let at = comment.find(name)?;
    leading_number(&comment[at + name.len()..])
}

/// The decimal number a value starts with (`1764694800 ;;Tue Dec ...`).
fn leading_number(text: &str) -> Option<u64> {
    let text = text.trim_start();
    let digits: &str = &text[..text.bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse().ok()
}

/// `Thu Aug 10 11:57:09 2017` in UTC, the comment after a timestamp (Unbound
/// writes ctime's local time; the number before it is what is read back).
fn ctime(t: u64) -> String {
    let Ok(format) = time::format_description::parse_borrowed::<1>(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]",
    ) else {
        return String::new();
    };
    i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

fn unbound_state_text(state: KeyState) -> &'static str {
    match state {
        KeyState::Start => "  START  ",
        KeyState::AddPend => " ADDPEND ",
        KeyState::Valid => "  VALID  ",
        KeyState::Missing => " MISSING ",
        KeyState::Revoked => " REVOKED ",
        KeyState::Removed => " REMOVED ",
    }
}

/// The state file text of `point`.
pub(super) fn render(point: &TrustPoint) -> String {
    let zone = point.zone.to_ascii();
    let mut out = String::from("; autotrust trust anchor file\n");
    if point.revoked {
        out.push_str(
            ";;REVOKED\n\
             ; The zone has all keys revoked, and is\n\
             ; considered as if it has no trust anchors.\n\
             ; the remainder of the file is the last probe.\n\
             ; to restart the trust anchor, overwrite this file.\n\
             ; with one containing valid DNSKEYs or DSes.\n",
        );
    }
    out.push_str(&format!(";;id: {zone} 1\n"));
    for (name, t) in [
        ("last_queried", point.last_queried),
        ("last_success", point.last_success),
        ("next_probe_time", point.next_probe_time),
    ] {
        out.push_str(&format!(";;{name}: {t} ;;{}\n", ctime(t)));
    }
    out.push_str(&format!(";;query_failed: {}\n", point.query_failed));
    out.push_str(&format!(";;query_interval: {}\n", point.query_interval));
    out.push_str(&format!(";;retry_time: {}\n", point.retry_time));
    for ds in &point.ds {
        out.push_str(&format!(
            "{zone}\t0\tIN\t{}\n",
            Anchor::Ds(ds.clone()).rdata_text()
        ));
    }
    for key in &point.keys {
        if matches!(key.state, KeyState::Start | KeyState::Removed) {
            continue;
        }
        let kind = if key.key.flags() & FLAG_SEP != 0 {
            "ksk"
        } else {
            "zsk"
        };
        out.push_str(&format!(
            "{zone}\t{}\tIN\tDNSKEY\t{} ;{{id = {} ({kind})}} ;;state={} [{}] ;;count={} ;;lastchange={} ;;{}\n",
            key.ttl,
            dnskey_rdata_text(&key.key),
            key_tag(&key.key),
            key.state as u8,
            unbound_state_text(key.state),
            key.pending_count,
            key.last_change,
            ctime(key.last_change),
        ));
    }
    out
}

/// Writes `point` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over the old one, so a crash
/// leaves either the old or the new state, never half of one.
pub(super) fn write(path: &Path, point: &TrustPoint) -> Result<(), StateError> {
    let error = |e: std::io::Error| StateError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(render(point).as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // The rename itself is durable once the directory is synced; a
        // failure here leaves a complete file, so it is not an error.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(error)
}
