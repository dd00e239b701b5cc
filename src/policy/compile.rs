//! Compiling one list: parse the file, check it against the guards
//! (checksum sidecar, garbage, emptied, shrunk) and build its
//! [`DomainSet`]; a refused candidate leaves the serving version in place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::digest::ContentDigest;
use super::matcher::{self, DomainSet, DomainSetBuilder};
use super::parse::{self, Item, ParseOptions, ParseReport};
use super::rule::{Format, LocalData};
use crate::config::ListConfig;

/// RPZ local data of one list: (trigger name, below?) -> records.
pub type LocalDataMap = HashMap<(Box<str>, bool), Vec<(u32, LocalData)>>;

/// One list, compiled and ready to match.
#[derive(Debug)]
pub struct CompiledList {
    /// The configuration it was compiled with.
    pub cfg: ListConfig,
    /// The names.
    pub set: DomainSet,
    /// RPZ local data.
    pub local: LocalDataMap,
    /// What the parser saw (includes the content SHA-256).
    pub report: ParseReport,
    /// When this version was compiled.
    pub loaded_at: SystemTime,
    /// File identity when it was read, to skip reloading unchanged files.
    pub fingerprint: Option<Fingerprint>,
    /// EDE extra text of this list's blocked answers (built once).
    pub ede_text: String,
    /// Canonical content hash, kept up to date by IXFR patches.
    pub content: ContentDigest,
    /// `content` as hex: `dnsward_list_info{sha256}`.
    pub content_sha256: String,
}

/// The canonical content hash of a set and its local data (see
/// [`super::digest`]).
pub fn content_digest(set: &DomainSet, local: &LocalDataMap) -> ContentDigest {
    let mut d = ContentDigest::default();
    let mut buf = Vec::with_capacity(300);
    for (name, actions) in set.entries() {
        d.entry(name, actions, true, &mut buf);
    }
    for ((name, below), records) in local {
        for (ttl, data) in records {
            d.local(name, *below, *ttl, data, true, &mut buf);
        }
    }
    d
}

/// The EDE extra text of a list's blocked answers: its own text, else its
/// description, else `blocked by list NAME`; then the order reference and
/// the authority (`blockpage.authority_url`) when there are ones, so a
/// client that shows EXTRA-TEXT says what the block page says.
pub fn ede_text_for(cfg: &ListConfig) -> String {
    let mut text = match cfg.ede_text.as_ref().or(cfg.description.as_ref()) {
        Some(t) => format!("{t} (list {})", cfg.name),
        None => format!("blocked by list {}", cfg.name),
    };
    if let Some(o) = &cfg.order_id {
        text = format!("{text}, order {o}");
    }
    if let Some(a) = &cfg.authority_url {
        text = format!("{text}, authority {a}");
    }
    text
}

impl CompiledList {
    /// The list's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Local data for a trigger.
    pub fn local_data(&self, name: &str, below: bool) -> &[(u32, LocalData)] {
        self.local
            .get(&(Box::<str>::from(name), below))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Cheap identity of a list file version (and its `.sha256` sidecar):
/// size, mtime and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    file: FileId,
    sidecar: Option<FileId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    len: u64,
    mtime: Option<SystemTime>,
    inode: u64,
}

impl FileId {
    fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self {
            len: m.len(),
            mtime: m.modified().ok(),
            inode,
        })
    }
}

/// The checksum sidecar of a list file: `FILE.sha256`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".sha256");
    PathBuf::from(s)
}

impl Fingerprint {
    /// Read the file's (and sidecar's) metadata; None if the file is missing.
    pub fn of(path: &Path) -> Option<Self> {
        Some(Self {
            file: FileId::of(path)?,
            sidecar: FileId::of(&sidecar_path(path)),
        })
    }
}

/// What a refused version would have been, had it been accepted: the
/// figures behind the refusal, reported beside the serving version's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// Entries it holds.
    pub entries: usize,
    /// Names it would have added to the serving version.
    pub added: usize,
    /// Names it would have removed from the serving version.
    pub removed: usize,
    /// Its rejected lines (all kinds).
    pub rejected_lines: u64,
    /// Of those, malformed lines (what `max_rejected_percent` counts).
    pub malformed_lines: u64,
    /// Its significant (non-blank, non-comment) lines.
    pub significant_lines: u64,
    /// Content hash of the refused file.
    pub sha256: String,
}

/// Why a list version was refused. The previous version keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The file could not be read.
    #[error(transparent)]
    Parse(#[from] parse::ParseError),
    /// Lines were present but none was usable: most likely the wrong
    /// format or a corrupted download, never an intended empty list.
    #[error("{path}: no usable entry in {lines} lines ({rejected} rejected){first}")]
    NothingUsable {
        /// The file.
        path: PathBuf,
        /// Lines read.
        lines: u64,
        /// Lines rejected.
        rejected: u64,
        /// The first rejected line, `\n`-prefixed.
        first: String,
    },
    /// The file is now empty while the serving version had entries: a
    /// truncated write must not silently unblock everything.
    #[error("{path}: file has no entries but the serving version has {previous}; keeping it")]
    Emptied {
        /// The file.
        path: PathBuf,
        /// Entries of the serving version.
        previous: usize,
    },
    /// Most significant lines are malformed: a corrupted download or the
    /// wrong file, whose few lines that happen to look like names must not
    /// become blocks.
    #[error("{path}: {malformed} of {significant} significant lines are malformed ({percent}% > max_rejected_percent {max}); refused{first}")]
    TooManyRejected {
        /// The file.
        path: PathBuf,
        /// Malformed lines.
        malformed: u64,
        /// Non-blank, non-comment lines.
        significant: u64,
        /// `malformed` as a percentage of `significant`.
        percent: u64,
        /// The configured limit.
        max: u8,
        /// The first rejected line, `\n`-prefixed.
        first: String,
        /// What the refused version held.
        candidate: Box<Candidate>,
    },
    /// The new version would remove too much of the list.
    #[error("{path}: reload would remove {removed} of {before} entries ({percent}% > max_shrink_percent {max}); refused, force it with `dnsward reload --force`")]
    Shrink {
        /// The file.
        path: PathBuf,
        /// Entries serving now.
        before: usize,
        /// Entries that would go.
        removed: usize,
        /// `removed` as a percentage of `before`.
        percent: u64,
        /// The configured limit.
        max: u8,
        /// What the refused version held.
        candidate: Box<Candidate>,
    },
    /// The `.sha256` sidecar does not match the content.
    #[error("{path}: sha256 {actual} does not match {sidecar} ({expected}); refused")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The sidecar file.
        sidecar: PathBuf,
        /// What the sidecar says.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// The sidecar exists but holds no SHA-256.
    #[error("{sidecar}: no sha256 hex digest in the file")]
    BadSidecar {
        /// The sidecar file.
        sidecar: PathBuf,
    },
    /// The matcher could not store the names. (The cause is in the
    /// message and not a `source()`, so a chain printer shows it once.)
    #[error("{path}: {error}")]
    Build {
        /// The file.
        path: PathBuf,
        /// Why.
        error: matcher::BuildError,
    },
}

impl ListError {
    /// Bounded reason label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ListError::Parse(_) => "unreadable",
            ListError::NothingUsable { .. } => "no_usable_entries",
            ListError::Emptied { .. } => "emptied",
            ListError::TooManyRejected { .. } => "too_many_rejected",
            ListError::Shrink { .. } => "shrink",
            ListError::Checksum { .. } | ListError::BadSidecar { .. } => "checksum",
            ListError::Build { .. } => "too_large",
        }
    }

    /// What the refused version would have been, when it was read far
    /// enough to tell.
    pub fn candidate(&self) -> Option<&Candidate> {
        match self {
            ListError::TooManyRejected { candidate, .. } | ListError::Shrink { candidate, .. } => {
                Some(candidate)
            }
            _ => None,
        }
    }
}

/// How a new version differs from the serving one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Diff {
    /// Entries before.
    pub before: usize,
    /// Entries after.
    pub after: usize,
    /// Names new in this version.
    pub added: usize,
    /// Names gone in this version.
    pub removed: usize,
    /// Milliseconds spent reading and parsing (with inserts), freezing the
    /// set, and diffing against the serving version.
    pub ms: [u64; 3],
}

pub(super) fn diff(old: Option<&DomainSet>, new: &DomainSet) -> Diff {
    let Some(old) = old else {
        return Diff {
            before: 0,
            after: new.len(),
            added: new.len(),
            removed: 0,
            ms: [0; 3],
        };
    };
    // One pass: both are sets, so added = after - (before - removed).
    let removed = old.count_missing_from(new);
    Diff {
        before: old.len(),
        after: new.len(),
        added: new.len() - (old.len() - removed),
        removed,
        ms: [0; 3],
    }
}

fn read_sidecar(path: &Path) -> Result<Option<String>, ListError> {
    let sidecar = sidecar_path(path);
    let Ok(text) = std::fs::read_to_string(&sidecar) else {
        return Ok(None);
    };
    let hex = text.split_whitespace().next().unwrap_or_default();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(Some(hex.to_ascii_lowercase()))
    } else {
        Err(ListError::BadSidecar { sidecar })
    }
}

/// Compile one list file. `previous` is the serving version (None at
/// start-up): the guards compare with it, never with a refused version.
/// `force` skips the emptied, shrink and too-many-rejected guards (never
/// the checksum).
pub fn compile_list(
    cfg: &ListConfig,
    previous: Option<&CompiledList>,
    force: bool,
) -> Result<(CompiledList, Diff), ListError> {
    let fingerprint = Fingerprint::of(&cfg.path);
    let expected = read_sidecar(&cfg.path)?;
    // Size the builder from the serving version, or from the file size
    // (about 20 bytes a line in real lists) on first load, so the table is
    // not rehashed a dozen times while growing.
    let estimate = previous.map_or_else(
        || {
            std::fs::metadata(&cfg.path)
                .map_or(1024, |m| (m.len() / 20) as usize)
                .clamp(1024, 20_000_000)
        },
        |p| p.set.len() + p.set.len() / 16,
    );
    let mut builder = DomainSetBuilder::with_capacity(estimate);
    let mut local: LocalDataMap = HashMap::new();
    let mut build_err = None;
    let t0 = std::time::Instant::now();
    let opts = ParseOptions {
        allow_tld_entries: cfg.allow_tld_entries,
    };
    let report = parse::parse_file_with(&cfg.path, cfg.format, opts, &mut |item| match item {
        Item::Entry(e) => {
            if build_err.is_none() {
                if let Err(err) = builder.insert(e.name, e.scope, e.action, e.line) {
                    build_err = Some(err);
                }
            }
        }
        Item::Local {
            name,
            below,
            ttl,
            data,
        } => local
            .entry((Box::from(name), below))
            .or_default()
            .push((ttl, data)),
    })?;
    if let Some(expected) = expected {
        if expected != report.sha256 {
            return Err(ListError::Checksum {
                path: cfg.path.clone(),
                sidecar: sidecar_path(&cfg.path),
                expected,
                actual: report.sha256,
            });
        }
    }
    if let Some(error) = build_err {
        return Err(ListError::Build {
            path: cfg.path.clone(),
            error,
        });
    }
    if builder.is_empty() && report.had_content() {
        return Err(ListError::NothingUsable {
            path: cfg.path.clone(),
            lines: report.lines,
            rejected: report.rejected,
            first: report
                .reject_lines()
                .next()
                .map(|l| format!("\n{l}"))
                .unwrap_or_default(),
        });
    }
    if let Some(prev) = previous {
        if builder.is_empty() && !prev.set.is_empty() && !force {
            return Err(ListError::Emptied {
                path: cfg.path.clone(),
                previous: prev.set.len(),
            });
        }
    }
    let t1 = std::time::Instant::now();
    let set = builder.finish().map_err(|error| ListError::Build {
        path: cfg.path.clone(),
        error,
    })?;
    let t2 = std::time::Instant::now();
    let mut d = diff(previous.map(|p| &p.set), &set);
    d.ms = [
        (t1 - t0).as_millis() as u64,
        (t2 - t1).as_millis() as u64,
        t2.elapsed().as_millis() as u64,
    ];
    let candidate = || {
        Box::new(Candidate {
            entries: d.after,
            added: d.added,
            removed: d.removed,
            rejected_lines: report.rejected,
            malformed_lines: report.malformed(),
            significant_lines: report.significant(),
            sha256: report.sha256.clone(),
        })
    };
    // Checked on first load too (nothing good to keep then, but a garbage
    // file must not become the policy); `--force` accepts it on reload.
    if !force {
        if let Some(e) = too_many_rejected(cfg, &report, candidate) {
            return Err(e);
        }
    }
    if d.before > 0 && !force && cfg.max_shrink_percent < 100 {
        let percent = (d.removed as u64 * 100) / d.before as u64;
        if d.removed * 100 > d.before * usize::from(cfg.max_shrink_percent) {
            return Err(ListError::Shrink {
                path: cfg.path.clone(),
                before: d.before,
                removed: d.removed,
                percent,
                max: cfg.max_shrink_percent,
                candidate: candidate(),
            });
        }
    }
    let content = content_digest(&set, &local);
    let content_sha256 = content.hex();
    let mut report = report;
    if cfg.transfer.is_some() {
        // A transferred version has no file of record: its identity is
        // its content, whether compiled whole or patched by an IXFR.
        report.sha256.clone_from(&content_sha256);
    }
    Ok((
        CompiledList {
            cfg: cfg.clone(),
            set,
            local,
            report,
            loaded_at: SystemTime::now(),
            fingerprint,
            ede_text: ede_text_for(cfg),
            content,
            content_sha256,
        },
        d,
    ))
}

/// Parse a list for `check-list` with default list settings: the report
/// plus the compiled set size.
pub fn check_list(path: &Path, format: Format) -> Result<(ParseReport, usize), ListError> {
    check_list_with(path, format, ParseOptions::default())
}

/// [`check_list`] with a list's parse settings.
pub fn check_list_with(
    path: &Path,
    format: Format,
    opts: ParseOptions,
) -> Result<(ParseReport, usize), ListError> {
    let mut builder = DomainSetBuilder::default();
    let report = parse::parse_file_with(path, format, opts, &mut |item| {
        if let Item::Entry(e) = item {
            let _ = builder.insert(e.name, e.scope, e.action, e.line);
        }
    })?;
    Ok((report, builder.len()))
}

/// The `too_many_rejected` refusal when `report`'s malformed share is above
/// the list's `max_rejected_percent`: one construction for a whole compile
/// and an IXFR patch.
pub(super) fn too_many_rejected(
    cfg: &ListConfig,
    report: &ParseReport,
    candidate: impl FnOnce() -> Box<Candidate>,
) -> Option<ListError> {
    let percent = report.too_many_rejected(cfg.max_rejected_percent)?;
    Some(ListError::TooManyRejected {
        path: cfg.path.clone(),
        malformed: report.malformed(),
        significant: report.significant(),
        percent,
        max: cfg.max_rejected_percent,
        first: report
            .reject_lines()
            .next()
            .map(|l| format!("\n{l}"))
            .unwrap_or_default(),
        candidate: candidate(),
    })
}
