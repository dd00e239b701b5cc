//! The policy stage: is a query name allowed, blocked, or not listed — and
//! by which list, line and legal order?
//!
//! Lists are compiled into immutable [`matcher::DomainSet`]s off the request
//! path and published together as one [`Policy`] through an `ArcSwap`
//! ([`store::PolicyStore`]); a query loads the current policy once and never
//! sees a half-built list. Compilation is guarded ([`compile_list`]): a
//! checksum mismatch, an unusable or mostly malformed file or a large
//! shrink is refused and the serving version stays.

pub mod feed;
pub mod matcher;
pub mod parse;
pub mod store;
pub mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{ListConfig, ListKind, ListMode, ListState};
use matcher::{is_anchor, DomainSet, DomainSetBuilder, Hit, LookupKey};
use parse::{EntryAction, Format, Item, LocalData, ParseOptions, ParseReport, Scope};

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

fn diff(old: Option<&DomainSet>, new: &DomainSet) -> Diff {
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
    if let Some(percent) = report.too_many_rejected(cfg.max_rejected_percent) {
        if !force {
            return Err(ListError::TooManyRejected {
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
            });
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
    Ok((
        CompiledList {
            cfg: cfg.clone(),
            set,
            local,
            report,
            loaded_at: SystemTime::now(),
            fingerprint,
            ede_text: ede_text_for(cfg),
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

/// The lists in force, in configuration order.
#[derive(Debug, Default)]
pub struct Policy {
    /// Compiled lists in force; an entry is `None` if it never loaded or
    /// is outside its dates (then it is in `held`). Queries are decided
    /// on these alone, so a date costs the query path nothing: the store
    /// republishes the policy when a list's window opens or closes.
    pub lists: Vec<Option<Arc<CompiledList>>>,
    /// Loaded lists outside their `effective_from`/`expires_at` window,
    /// kept for `explain` and for the next reload to diff against.
    pub held: Vec<HeldList>,
}

/// A loaded list that is not enforced because of its dates.
#[derive(Debug, Clone)]
pub struct HeldList {
    /// Its index in the configuration (and in [`Policy::lists`]).
    pub index: usize,
    /// The compiled list.
    pub list: Arc<CompiledList>,
    /// `Pending` or `Expired`.
    pub state: ListState,
}

/// A block list rule that matched.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// The list.
    pub list: &'a CompiledList,
    /// Labels between the query name and the listed name (0 = exact).
    pub depth: usize,
    /// The rule's source line and action.
    pub hit: Hit,
}

/// Outcome of the policy stage.
#[derive(Debug)]
pub enum Decision<'a> {
    /// No list mentions the name.
    NotListed,
    /// An allow list or a passthru rule covers the name; resolve normally.
    Allowed {
        /// The list.
        list: &'a CompiledList,
        /// The rule's source line.
        line: u32,
    },
    /// An enforcing block list covers the name.
    Blocked(Block<'a>),
}

/// The decision plus what dry-run lists would have done.
#[derive(Debug)]
pub struct Verdict<'a> {
    /// What to do.
    pub decision: Decision<'a>,
    /// The dry-run rule that would have blocked, had its list enforced.
    pub would_block: Option<Block<'a>>,
}

/// Bit for list `i` in an active-lists mask (lists past 64 are always
/// probed).
fn bit(i: usize) -> u64 {
    if i < 64 {
        1 << i
    } else {
        0
    }
}

impl Policy {
    /// Decide for a prepared name. Allow lists and passthru rules beat any
    /// block; among block rules the most specific listed name wins, then
    /// configuration order. One pass over the suffixes, TLD first; lists
    /// whose anchor (two-label suffix) is absent are not probed deeper.
    /// Allocation-free, the re-check below included (`tests/alloc_free.rs`).
    ///
    /// A query label may hold a dot (any byte is legal in a label), and
    /// the key's dotted text cannot tell `ads\.example` under `zz` from
    /// `ads.example.zz`. List names never hold one, so a decision that
    /// found a rule is checked once more on such a name with its in-label
    /// dots made unmatchable: only a parent to the right of the odd label
    /// can then match. The check runs only when some rule matched.
    pub fn decide(&self, key: &LookupKey) -> Verdict<'_> {
        let v = self.decide_labels(key);
        if v.would_block.is_none() && matches!(v.decision, Decision::NotListed)
            || !key.has_label_dots()
        {
            return v;
        }
        self.decide_labels(&key.without_label_dots())
    }

    /// [`Policy::decide`] taking the key's dotted text at its word.
    fn decide_labels(&self, key: &LookupKey) -> Verdict<'_> {
        let Some(hs) = key.suffix_hashes() else {
            return self.decide_walk(key);
        };
        // Each list scans its table first (independent reads the CPU
        // overlaps), then confirms its few candidates in the arena. The
        // order rules are those of `decide_walk`, written as comparisons:
        // `i` counts suffixes TLD first, so deeper means larger `i`, and
        // lists are visited in order so ties keep the earlier list.
        let mut best: Option<(usize, Block<'_>)> = None;
        let mut dry: Option<(usize, Block<'_>)> = None;
        let mut allowed: Option<(usize, &CompiledList, u32)> = None;
        for list in self.lists.iter().flatten() {
            let list = list.as_ref();
            let scan = list.set.scan(hs);
            for i in scan.tld_first() {
                let Some(hit) = list.set.confirm(key, hs, &scan, i) else {
                    continue;
                };
                if list.cfg.kind == ListKind::Allow || hit.action == EntryAction::Passthru {
                    if allowed.is_none_or(|(j, _, _)| i < j) {
                        allowed = Some((i, list, hit.line));
                    }
                    continue;
                }
                let b = Block {
                    list,
                    depth: hs.depth(i),
                    hit,
                };
                let slot = if list.cfg.mode == ListMode::DryRun {
                    &mut dry
                } else {
                    &mut best
                };
                if slot.as_ref().is_none_or(|(j, _)| i > *j) {
                    *slot = Some((i, b));
                }
            }
        }
        if let Some((_, list, line)) = allowed {
            return Verdict {
                decision: Decision::Allowed { list, line },
                would_block: None,
            };
        }
        let best = best.map(|(_, b)| b);
        Verdict {
            would_block: if best.is_none() {
                dry.map(|(_, b)| b)
            } else {
                None
            },
            decision: best.map_or(Decision::NotListed, Decision::Blocked),
        }
    }

    /// Bring the table slots this name's decision will read into cache,
    /// for every list (see [`DomainSet::touch`]); no effect on answers.
    pub fn touch(&self, key: &LookupKey) {
        if let Some(hs) = key.suffix_hashes() {
            for list in self.lists.iter().flatten() {
                list.set.touch(hs);
            }
        }
    }

    /// Second step after [`Policy::touch`], for every list: start loading
    /// what the decision reads next, deeper slots or the record to confirm
    /// (see [`DomainSet::touch_next`]); no effect on answers.
    pub fn touch_next(&self, key: &LookupKey) {
        if let Some(hs) = key.suffix_hashes() {
            for list in self.lists.iter().flatten() {
                list.set.touch_next(hs);
            }
        }
    }

    /// [`Policy::decide`] as one pass over the suffixes, TLD first, every
    /// list probed at each; lists whose anchor (two-label suffix) is absent
    /// are not probed deeper. Used for names deeper than the two-pass
    /// lookup handles, and as the reference the two-pass one is tested
    /// against.
    pub fn decide_walk(&self, key: &LookupKey) -> Verdict<'_> {
        let mut best: Option<Block<'_>> = None;
        let mut dry: Option<Block<'_>> = None;
        let mut active = u64::MAX;
        let mut allowed = None;
        for sfx in key.suffixes() {
            let anchor = is_anchor(key, &sfx);
            let mut found_here = false;
            let mut dry_here = false;
            for (i, list) in self.lists.iter().enumerate() {
                let Some(list) = list.as_deref() else {
                    continue;
                };
                if active & bit(i) == 0 && i < 64 {
                    continue;
                }
                let probe = list.set.probe(&sfx);
                if anchor && !probe.deeper {
                    active &= !bit(i);
                }
                let Some(hit) = probe.hit else {
                    continue;
                };
                if list.cfg.kind == ListKind::Allow || hit.action == EntryAction::Passthru {
                    if allowed.is_none() {
                        allowed = Some((list, hit.line));
                    }
                    continue;
                }
                // Suffixes come least specific first: a rule found at this
                // depth replaces one found higher up, and the first list in
                // order wins at equal depth.
                let b = Block {
                    list,
                    depth: sfx.depth,
                    hit,
                };
                if list.cfg.mode == ListMode::DryRun {
                    if !dry_here {
                        dry = Some(b);
                        dry_here = true;
                    }
                } else if !found_here {
                    best = Some(b);
                    found_here = true;
                }
            }
            if active == 0 {
                break;
            }
        }
        if let Some((list, line)) = allowed {
            return Verdict {
                decision: Decision::Allowed { list, line },
                would_block: None,
            };
        }
        Verdict {
            would_block: if best.is_none() { dry } else { None },
            decision: best.map_or(Decision::NotListed, Decision::Blocked),
        }
    }

    /// Every rule of every list that covers the name, most specific first:
    /// the full chain behind a decision, for `explain`.
    pub fn explain(&self, key: &LookupKey) -> Vec<Match> {
        let mut out = Vec::new();
        // Every loaded list in configuration order, with its state.
        let mut all: Vec<(usize, &Arc<CompiledList>, ListState)> = self
            .lists
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|l| (i, l, ListState::Active)))
            .chain(self.held.iter().map(|h| (h.index, &h.list, h.state)))
            .collect();
        all.sort_by_key(|(i, _, _)| *i);
        for sfx in key.suffixes() {
            let mut here = Vec::new();
            for &(_, list, state) in &all {
                if let Some(hit) = list.set.covers(&sfx) {
                    let name = String::from_utf8_lossy(sfx.name).into_owned();
                    // A subtree rule sets both positions from one line; a
                    // hit whose other position comes from elsewhere (or is
                    // empty) is an exact-only or below-only rule.
                    let (exact, below) = list.set.rules(&name);
                    let other = if sfx.depth == 0 { below } else { exact };
                    let scope = match (sfx.depth, other.map(|h| h.line) == Some(hit.line)) {
                        (_, true) => Scope::Subtree,
                        (0, false) => Scope::Exact,
                        _ => Scope::Below,
                    };
                    here.push(Match {
                        list: list.clone(),
                        name,
                        scope,
                        line: hit.line,
                        action: hit.action,
                        depth: sfx.depth,
                        state,
                    });
                }
            }
            out.splice(0..0, here);
        }
        out
    }

    /// Total entries over all lists.
    pub fn entries(&self) -> usize {
        self.lists.iter().flatten().map(|l| l.set.len()).sum()
    }

    /// True when every configured list has loaded at least once.
    pub fn complete(&self) -> bool {
        self.lists
            .iter()
            .enumerate()
            .all(|(i, l)| l.is_some() || self.held.iter().any(|h| h.index == i))
    }

    /// The shared handle of a list in force (a decision borrows the list;
    /// the query log keeps it past the decision). A scan of a few lists.
    pub fn shared(&self, list: &CompiledList) -> Option<Arc<CompiledList>> {
        self.lists
            .iter()
            .flatten()
            .find(|l| std::ptr::eq(l.as_ref(), list))
            .cloned()
    }

    /// List `i` as loaded, in force or held by its dates.
    pub fn loaded(&self, i: usize) -> Option<&Arc<CompiledList>> {
        self.lists
            .get(i)
            .and_then(Option::as_ref)
            .or_else(|| self.held.iter().find(|h| h.index == i).map(|h| &h.list))
    }
}

/// One rule that matched a name (for `explain`).
#[derive(Debug, Clone)]
pub struct Match {
    /// The list.
    pub list: Arc<CompiledList>,
    /// The listed name that matched (the query name or a parent).
    pub name: String,
    /// Which names the rule covers (`*.name` is `Below`).
    pub scope: Scope,
    /// Source line of that rule.
    pub line: u32,
    /// The rule's own action (`List` = the list's configured action).
    pub action: EntryAction,
    /// Labels between the query name and the entry (0 = exact).
    pub depth: usize,
    /// Whether the list is in force or outside its dates.
    pub state: ListState,
}

impl Match {
    /// Human description of what this rule does.
    pub fn effect(&self) -> String {
        if self.list.cfg.kind == ListKind::Allow || self.action == EntryAction::Passthru {
            return "allow".into();
        }
        let what = match self.action {
            EntryAction::List => self.list.cfg.action.as_str(),
            EntryAction::Nxdomain => "nxdomain (rpz)",
            EntryAction::Nodata => "nodata (rpz)",
            EntryAction::Drop => "drop (rpz)",
            EntryAction::TcpOnly => "tcp-only (rpz)",
            EntryAction::LocalData => "local data (rpz)",
            EntryAction::Passthru => "allow",
        };
        let what = match self.list.cfg.mode {
            ListMode::DryRun => format!("{what}, dry-run"),
            ListMode::Enforce => what.to_string(),
        };
        let cfg = &self.list.cfg;
        match self.state {
            ListState::Active => what,
            ListState::Pending => format!(
                "{what}, pending: not enforced before {}",
                cfg.effective_from.as_deref().unwrap_or("?")
            ),
            ListState::Expired => format!(
                "{what}, expired: not enforced since {}",
                cfg.expires_at.as_deref().unwrap_or("?")
            ),
        }
    }
}

/// One rule in an explanation, ready to print or serialise.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleView {
    /// List name.
    pub list: String,
    /// `block` or `allow`.
    pub kind: &'static str,
    /// Source file.
    pub file: String,
    /// Source line.
    pub line: u32,
    /// The rule as written: `name` (the name and below), `*.name` (only
    /// below) or, for an exact-name rule, `name`.
    pub entry: String,
    /// `subtree` (the name and everything below), `below` (only names
    /// below it) or `exact` (the name alone).
    pub scope: &'static str,
    /// What the rule does.
    pub effect: String,
    /// Legal order reference of the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// `active`, `pending` (before `effective_from`) or `expired`.
    pub state: &'static str,
    /// The list's `effective_from`, if dated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<String>,
    /// The list's `expires_at`, if dated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl From<&Match> for RuleView {
    fn from(m: &Match) -> Self {
        Self {
            list: m.list.name().to_string(),
            kind: match m.list.cfg.kind {
                ListKind::Allow => "allow",
                ListKind::Block => "block",
            },
            file: m.list.cfg.path.display().to_string(),
            line: m.line,
            entry: match m.scope {
                Scope::Below => format!("*.{}", m.name),
                Scope::Exact | Scope::Subtree => m.name.clone(),
            },
            scope: match m.scope {
                Scope::Subtree => "subtree",
                Scope::Below => "below",
                Scope::Exact => "exact",
            },
            effect: m.effect(),
            order_id: m.list.cfg.order_id.clone(),
            state: m.state.as_str(),
            effective_from: m.list.cfg.effective_from.clone(),
            expires_at: m.list.cfg.expires_at.clone(),
        }
    }
}

/// The normalised form of a name to explain, or what is wrong with it
/// (`invalid name ...: reason`).
pub fn explain_query_name(name: &str) -> Result<String, String> {
    parse::normalize_name(name)
        .map_err(|why| format!("invalid name `{}`: {why}", name.escape_debug()))
}

/// Why a name is (not) blocked: the verdict, the rule that decided it and
/// every rule that matched (most specific first).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    /// The name asked about, normalised (lowercase, no trailing dot).
    pub name: String,
    /// `blocked`, `allowed`, `not listed` or `not listed (dry-run would block)`.
    pub verdict: &'static str,
    /// The deciding rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<RuleView>,
    /// Every matching rule, most specific first.
    pub chain: Vec<RuleView>,
}

impl Policy {
    /// Explain the decision for `name`. A name that could never be asked
    /// (empty, an empty label, over 253 bytes, a label over 63, a character
    /// outside a host name, an IP address) is an error saying what is
    /// wrong, not "not listed".
    pub fn explain_name(&self, name: &str) -> Result<Explanation, String> {
        let name = explain_query_name(name)?;
        let key = LookupKey::from_dotted(&name);
        let chain = self.explain(&key);
        let v = self.decide(&key);
        let find = |list: &CompiledList, line: u32| {
            chain
                .iter()
                .find(|m| std::ptr::eq(m.list.as_ref(), list) && m.line == line)
                .map(RuleView::from)
        };
        let (verdict, decided_by) = match v.decision {
            Decision::Blocked(b) => ("blocked", find(b.list, b.hit.line)),
            Decision::Allowed { list, line } => ("allowed", find(list, line)),
            Decision::NotListed => match v.would_block {
                Some(b) => ("not listed (dry-run would block)", find(b.list, b.hit.line)),
                None => ("not listed", None),
            },
        };
        Ok(Explanation {
            name,
            verdict,
            decided_by,
            chain: chain.iter().map(RuleView::from).collect(),
        })
    }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = |r: &RuleView| {
            format!(
                "{} list {} `{}`{} ({}:{}){}: {}",
                r.kind,
                r.list,
                r.entry,
                if r.scope == "exact" {
                    " (exact name only)"
                } else {
                    ""
                },
                r.file,
                r.line,
                r.order_id
                    .as_deref()
                    .map(|o| format!(" order {o}"))
                    .unwrap_or_default(),
                r.effect
            )
        };
        match &self.decided_by {
            Some(r) => writeln!(f, "{}: {} by {}", self.name, self.verdict, rule(r))?,
            None => writeln!(f, "{}: {}", self.name, self.verdict)?,
        }
        for r in &self.chain {
            writeln!(f, "  matched: {}", rule(r))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Action;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dnsward-policy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    fn cfg(dir: &Path, name: &str, kind: ListKind, body: &str) -> ListConfig {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("write");
        let mut c = ListConfig::simple(name, path, kind);
        c.action = Action::Nxdomain;
        // The matching tests use one-label entries (`c`, `example`).
        c.allow_tld_entries = true;
        c
    }

    fn list(dir: &Path, name: &str, kind: ListKind, body: &str) -> Arc<CompiledList> {
        Arc::new(
            compile_list(&cfg(dir, name, kind, body), None, false)
                .expect("compile")
                .0,
        )
    }

    fn describe(policy: &Policy, q: &str) -> String {
        match policy.decide(&LookupKey::from_dotted(q)).decision {
            Decision::NotListed => "none".to_string(),
            Decision::Allowed { list, .. } => format!("allow:{}", list.name()),
            Decision::Blocked(b) => format!("block:{}:{}", b.list.name(), b.hit.line),
        }
    }

    fn verdict_text(v: &Verdict<'_>) -> String {
        let block = |b: &Block<'_>| format!("{}:{}:{}", b.list.name(), b.depth, b.hit.line);
        let d = match &v.decision {
            Decision::NotListed => "none".to_string(),
            Decision::Allowed { list, line } => format!("allow:{}:{line}", list.name()),
            Decision::Blocked(b) => format!("block:{}", block(b)),
        };
        format!("{d} dry:{:?}", v.would_block.as_ref().map(block))
    }

    #[test]
    fn two_pass_decide_agrees_with_the_walk() {
        let d = tmpdir("twopass");
        let mut dry = cfg(&d, "dry", ListKind::Block, "b.example\nz.a.example\n");
        dry.mode = ListMode::DryRun;
        let dry = Arc::new(compile_list(&dry, None, false).expect("compile").0);
        let policy = Policy {
            lists: vec![
                Some(list(
                    &d,
                    "one",
                    ListKind::Block,
                    "a.example\nx.y.b.example\nc\n",
                )),
                None,
                Some(list(
                    &d,
                    "two",
                    ListKind::Block,
                    "y.b.example\nq.a.example\n",
                )),
                Some(list(&d, "allow", ListKind::Allow, "ok.a.example\nc\n")),
                Some(dry),
                Some(list(
                    &d,
                    "rpz",
                    ListKind::Block,
                    "$ORIGIN rpz.\n*.w.a.example CNAME rpz-passthru.\nv.b.example CNAME *.\n",
                )),
            ],
            held: vec![],
        };
        let labels = ["a", "b", "c", "example", "x", "y", "z", "q", "ok", "w", "v"];
        let mut n = 0;
        // Every name of up to five labels over a small alphabet, so every
        // mix of depths, lists, anchors and allow rules is met.
        let mut stack: Vec<Vec<&str>> = labels.iter().map(|l| vec![*l]).collect();
        while let Some(name) = stack.pop() {
            let dotted = name.iter().rev().copied().collect::<Vec<_>>().join(".");
            let key = LookupKey::from_dotted(&dotted);
            // The batch preparation steps are hints: answers stay the same.
            policy.touch(&key);
            policy.touch_next(&key);
            assert_eq!(
                verdict_text(&policy.decide(&key)),
                verdict_text(&policy.decide_walk(&key)),
                "{dotted}"
            );
            n += 1;
            if name.len() < 5 {
                for l in labels {
                    let mut longer = name.clone();
                    longer.push(l);
                    stack.push(longer);
                }
            }
        }
        assert!(n > 100_000, "{n} names checked");
    }

    #[test]
    fn allow_beats_block_and_specific_beats_general() {
        let d = tmpdir("decide");
        let policy = Policy {
            lists: vec![
                Some(list(&d, "broad", ListKind::Block, "example\n")),
                Some(list(&d, "narrow", ListKind::Block, "ads.example\n")),
                Some(list(&d, "allow", ListKind::Allow, "ok.ads.example\n")),
                Some(list(&d, "deep", ListKind::Block, "a.b.c.d.example\n")),
            ],
            held: vec![],
        };
        assert_eq!(describe(&policy, "x.ads.example"), "block:narrow:1");
        assert_eq!(describe(&policy, "www.example"), "block:broad:1");
        assert_eq!(describe(&policy, "ok.ads.example"), "allow:allow");
        assert_eq!(describe(&policy, "deep.ok.ads.example"), "allow:allow");
        assert_eq!(describe(&policy, "z.a.b.c.d.example"), "block:deep:1");
        assert_eq!(describe(&policy, "other.test"), "none");
        let chain = policy.explain(&LookupKey::from_dotted("ok.ads.example"));
        let names: Vec<_> = chain.iter().map(|m| (m.list.name(), m.depth)).collect();
        assert_eq!(names, vec![("allow", 0), ("narrow", 1), ("broad", 2)]);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn passthru_and_dry_run() {
        let d = tmpdir("passthru");
        let mut dry = cfg(&d, "trial", ListKind::Block, "new-order.example\n");
        dry.mode = ListMode::DryRun;
        let policy = Policy {
            lists: vec![
                Some(list(&d, "rpz", ListKind::Block, "$TTL 60\n@ SOA a. b. 1 2 3 4 5\nx.example CNAME .\nok.x.example CNAME rpz-passthru.\n")),
                Some(Arc::new(compile_list(&dry, None, false).expect("c").0)),
            ],
            held: vec![],
        };
        assert_eq!(describe(&policy, "x.example"), "block:rpz:3");
        assert_eq!(describe(&policy, "ok.x.example"), "allow:rpz");
        let v = policy.decide(&LookupKey::from_dotted("www.new-order.example"));
        assert!(matches!(v.decision, Decision::NotListed));
        assert_eq!(
            v.would_block.map(|b| b.list.name().to_string()),
            Some("trial".into())
        );
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn garbage_emptied_shrunk_and_bad_checksum_are_refused() {
        let d = tmpdir("refuse");
        let c = cfg(&d, "l", ListKind::Block, "not a name!\nalso bad?\n");
        let err = compile_list(&c, None, false).expect_err("garbage");
        assert!(err.to_string().contains(":1: "), "{err}");
        assert_eq!(err.reason(), "no_usable_entries");

        std::fs::write(&c.path, "a.example\nb.example\nc.example\nd.example\n").expect("w");
        let (v1, diff1) = compile_list(&c, None, false).expect("v1");
        assert_eq!(diff1.added, 4);
        std::fs::write(&c.path, "# only a comment\n").expect("w");
        assert!(matches!(
            compile_list(&c, Some(&v1), false),
            Err(ListError::Emptied { previous: 4, .. })
        ));
        // 3 of 4 removed (75% > 50%): refused unless forced.
        std::fs::write(&c.path, "a.example\ne.example\n").expect("w");
        let err = compile_list(&c, Some(&v1), false).expect_err("shrink");
        assert_eq!(err.reason(), "shrink");
        let (_, d2) = compile_list(&c, Some(&v1), true).expect("forced");
        assert_eq!((d2.before, d2.after, d2.added, d2.removed), (4, 2, 1, 3));

        // Sidecar checksum: a mismatch is refused even when forced.
        let (v2, _) = compile_list(&c, None, false).expect("v2");
        std::fs::write(sidecar_path(&c.path), format!("{}  l\n", "0".repeat(64))).expect("w");
        let err = compile_list(&c, None, true).expect_err("checksum");
        assert_eq!(err.reason(), "checksum");
        std::fs::write(sidecar_path(&c.path), format!("{}  l\n", v2.report.sha256)).expect("w");
        assert!(compile_list(&c, None, false).is_ok());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn mostly_garbage_is_refused_and_the_good_file_then_accepted() {
        let d = tmpdir("rejected");
        let good = "a.example\nb.example\n";
        let c = cfg(&d, "l", ListKind::Block, good);
        let (v1, _) = compile_list(&c, None, false).expect("good");
        let mut garbage = good.to_string();
        for i in 0..300 {
            garbage.push_str(if i % 10 == 0 {
                "junk.example\n"
            } else {
                "<p>junk</p>\n"
            });
        }
        std::fs::write(&c.path, &garbage).expect("w");
        let err = compile_list(&c, Some(&v1), false).expect_err("garbage");
        assert_eq!(err.reason(), "too_many_rejected", "{err}");
        assert!(err.to_string().contains("max_rejected_percent 50"), "{err}");
        let cand = err.candidate().expect("candidate");
        assert_eq!((cand.entries, cand.added, cand.removed), (3, 1, 0));
        assert_eq!((cand.malformed_lines, cand.significant_lines), (270, 302));
        // Refused on a first load too, accepted when forced or disabled.
        assert!(compile_list(&c, None, false).is_err());
        assert!(compile_list(&c, Some(&v1), true).is_ok());
        let mut off = c.clone();
        off.max_rejected_percent = 100;
        assert!(compile_list(&off, Some(&v1), false).is_ok());
        // The good file again, against the serving (good) version.
        std::fs::write(&c.path, good).expect("w");
        let (_, diff) = compile_list(&c, Some(&v1), false).expect("restored");
        assert_eq!((diff.added, diff.removed), (0, 0));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn explain_validates_the_name_and_shows_scope() {
        let d = tmpdir("explain");
        let mut c = cfg(
            &d,
            "l",
            ListKind::Block,
            "$ORIGIN rpz.\n*.below.example CNAME .\nexact.example CNAME .\nboth.example CNAME .\n*.both.example CNAME .\n",
        );
        c.format = Format::Rpz;
        let policy = Policy {
            lists: vec![Some(Arc::new(compile_list(&c, None, false).expect("c").0))],
            held: vec![],
        };
        let scope = |q: &str| {
            let e = policy.explain_name(q).expect("valid");
            let r = e.decided_by.expect("decided");
            format!("{} {}", r.entry, r.scope)
        };
        assert_eq!(scope("x.below.example"), "*.below.example below");
        assert_eq!(scope("exact.example"), "exact.example exact");
        // RPZ writes a subtree as two rules, each shown with its own scope.
        assert_eq!(scope("both.example"), "both.example exact");
        assert_eq!(scope("x.both.example"), "*.both.example below");
        let sub = list(&d, "sub", ListKind::Block, "tree.example\n");
        let e = Policy {
            lists: vec![Some(sub)],
            held: vec![],
        }
        .explain_name("x.Tree.example.")
        .expect("valid");
        assert_eq!(e.name, "x.tree.example");
        let r = e.decided_by.expect("decided");
        assert_eq!((r.entry.as_str(), r.scope), ("tree.example", "subtree"));
        let text = policy.explain_name("exact.example").expect("v").to_string();
        assert!(text.contains("`exact.example` (exact name only)"), "{text}");
        for bad in [
            "",
            "a..b",
            &format!("{}.example", "a".repeat(292)),
            "bad name",
        ] {
            let err = policy.explain_name(bad).expect_err(bad);
            assert!(err.starts_with("invalid name"), "{err}");
        }
        let _ = std::fs::remove_dir_all(d);
    }
}
