//! The policy stage: is a query name allowed, blocked, or not listed?
//!
//! Lists are compiled into immutable [`matcher::DomainSet`]s off the request
//! path and published together as one [`Policy`] through an `ArcSwap`
//! ([`store::PolicyStore`]); a query loads the current policy once and never
//! sees a half-built list.

pub mod matcher;
pub mod parse;
pub mod store;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{Action, ListConfig, ListKind};
use matcher::{DomainSet, DomainSetBuilder, LookupKey};
use parse::{Format, ParseReport};

/// One list, compiled and ready to match.
#[derive(Debug)]
pub struct CompiledList {
    /// Operator-chosen name (metrics label, EDE text).
    pub name: String,
    /// Block or allow.
    pub kind: ListKind,
    /// Answer given to names it blocks.
    pub action: Action,
    /// Extended DNS Error code for blocked answers.
    pub ede: u16,
    /// The file it came from.
    pub path: PathBuf,
    /// The names.
    pub set: DomainSet,
    /// What the parser saw.
    pub report: ParseReport,
    /// When this version was compiled.
    pub loaded_at: SystemTime,
    /// File identity when it was read, to skip reloading unchanged files.
    pub fingerprint: Option<Fingerprint>,
}

/// Cheap identity of a file version: size, mtime and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    mtime: Option<SystemTime>,
    inode: u64,
}

impl Fingerprint {
    /// Read the file's metadata (None if it cannot be read).
    pub fn of(path: &Path) -> Option<Self> {
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

/// Why a list could not be compiled. The previous version keeps serving.
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
    /// The matcher could not store the names.
    #[error("{path}: {source}")]
    Build {
        /// The file.
        path: PathBuf,
        /// Why.
        source: matcher::BuildError,
    },
}

/// Compile one list file. `previous` is the serving version's entry count
/// (None at start-up).
pub fn compile_list(cfg: &ListConfig, previous: Option<usize>) -> Result<CompiledList, ListError> {
    let fingerprint = Fingerprint::of(&cfg.path);
    let mut builder = DomainSetBuilder::with_capacity(previous.unwrap_or(1024));
    let mut build_err = None;
    let report = parse::parse_file(&cfg.path, cfg.format, &mut |e| {
        if build_err.is_none() {
            if let Err(err) = builder.insert(&e.name, e.coverage, e.line) {
                build_err = Some(err);
            }
        }
    })?;
    if let Some(source) = build_err {
        return Err(ListError::Build {
            path: cfg.path.clone(),
            source,
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
        if builder.is_empty() && prev > 0 {
            return Err(ListError::Emptied {
                path: cfg.path.clone(),
                previous: prev,
            });
        }
    }
    Ok(CompiledList {
        name: cfg.name.clone(),
        kind: cfg.kind,
        action: cfg.action,
        ede: cfg.ede,
        path: cfg.path.clone(),
        set: builder.finish(),
        report,
        loaded_at: SystemTime::now(),
        fingerprint,
    })
}

/// Parse a list for `check-list`: the report plus the compiled set size.
pub fn check_list(path: &Path, format: Format) -> Result<(ParseReport, usize), ListError> {
    let cfg = ListConfig {
        name: "check".into(),
        path: path.to_path_buf(),
        format,
        kind: ListKind::Block,
        action: Action::Sinkhole,
        ede: 15,
    };
    let mut builder = DomainSetBuilder::default();
    let report = parse::parse_file(&cfg.path, format, &mut |e| {
        let _ = builder.insert(&e.name, e.coverage, e.line);
    })?;
    Ok((report, builder.len()))
}

/// The lists in force, in configuration order.
#[derive(Debug, Default)]
pub struct Policy {
    /// Compiled lists; an entry is `None` if it never loaded.
    pub lists: Vec<Option<Arc<CompiledList>>>,
}

/// One list entry that matched a name.
#[derive(Debug, Clone)]
pub struct Match {
    /// The list.
    pub list: Arc<CompiledList>,
    /// The listed name that matched (the query name or a parent).
    pub name: String,
    /// Source line of that entry.
    pub line: u32,
    /// Labels between the query name and the entry (0 = exact).
    pub depth: usize,
}

/// Outcome of the policy stage.
#[derive(Debug)]
pub enum Decision<'a> {
    /// No list mentions the name.
    NotListed,
    /// An allow list covers the name; resolve it normally.
    Allowed {
        /// The allow list.
        list: &'a CompiledList,
    },
    /// A block list covers the name.
    Blocked {
        /// The block list that decided.
        list: &'a CompiledList,
        /// Which suffix of the key matched (0 = exact).
        suffix: usize,
        /// Source line of the entry.
        line: u32,
    },
}

impl Policy {
    fn present(&self) -> impl Iterator<Item = &CompiledList> {
        self.lists.iter().flatten().map(|l| l.as_ref())
    }

    /// Decide for a prepared name. Allow lists beat any block; among block
    /// lists the most specific listed name wins, then configuration order.
    /// One pass over the suffixes, TLD first; allocation-free.
    pub fn decide(&self, key: &LookupKey) -> Decision<'_> {
        let mut best: Option<(&CompiledList, usize, u32)> = None;
        for sfx in key.suffixes() {
            let mut found_here = false;
            for list in self.present() {
                let Some(hit) = list.set.covers(&sfx) else {
                    continue;
                };
                match list.kind {
                    ListKind::Allow => return Decision::Allowed { list },
                    // Suffixes come least specific first: a block found at
                    // this depth replaces one found at a shallower depth,
                    // and the first list in order wins at equal depth.
                    ListKind::Block if !found_here => {
                        best = Some((list, sfx.depth, hit.line));
                        found_here = true;
                    }
                    ListKind::Block => {}
                }
            }
        }
        match best {
            Some((list, suffix, line)) => Decision::Blocked { list, suffix, line },
            None => Decision::NotListed,
        }
    }

    /// Every entry of every list that covers the name, most specific first:
    /// the full chain behind a decision, for `explain`.
    pub fn explain(&self, key: &LookupKey) -> Vec<Match> {
        let mut out = Vec::new();
        for sfx in key.suffixes() {
            let mut here = Vec::new();
            for list in self.lists.iter().flatten() {
                if let Some(hit) = list.set.covers(&sfx) {
                    here.push(Match {
                        list: list.clone(),
                        name: String::from_utf8_lossy(sfx.name).into_owned(),
                        line: hit.line,
                        depth: sfx.depth,
                    });
                }
            }
            out.splice(0..0, here);
        }
        out
    }

    /// Total entries over all lists.
    pub fn entries(&self) -> usize {
        self.present().map(|l| l.set.len()).sum()
    }

    /// True when every configured list has loaded at least once.
    pub fn complete(&self) -> bool {
        self.lists.iter().all(Option::is_some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn list(dir: &Path, name: &str, kind: ListKind, body: &str) -> Arc<CompiledList> {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(body.as_bytes()).expect("write");
        let cfg = ListConfig {
            name: name.into(),
            path,
            format: Format::Auto,
            kind,
            action: Action::Nxdomain,
            ede: 15,
        };
        Arc::new(compile_list(&cfg, None).expect("compile"))
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dnsward-policy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn allow_beats_block_and_specific_beats_general() {
        let d = tmpdir("decide");
        let policy = Policy {
            lists: vec![
                Some(list(&d, "broad", ListKind::Block, "example\n")),
                Some(list(&d, "narrow", ListKind::Block, "ads.example\n")),
                Some(list(&d, "allow", ListKind::Allow, "ok.ads.example\n")),
            ],
        };
        let name_of = |q: &str| match policy.decide(&LookupKey::from_dotted(q)) {
            Decision::NotListed => "none".to_string(),
            Decision::Allowed { list } => format!("allow:{}", list.name),
            Decision::Blocked { list, line, .. } => format!("block:{}:{line}", list.name),
        };
        assert_eq!(name_of("x.ads.example"), "block:narrow:1");
        assert_eq!(name_of("www.example"), "block:broad:1");
        assert_eq!(name_of("ok.ads.example"), "allow:allow");
        assert_eq!(name_of("deep.ok.ads.example"), "allow:allow");
        assert_eq!(name_of("other.test"), "none");
        let chain = policy.explain(&LookupKey::from_dotted("ok.ads.example"));
        let names: Vec<_> = chain
            .iter()
            .map(|m| (m.list.name.as_str(), m.depth))
            .collect();
        assert_eq!(names, vec![("allow", 0), ("narrow", 1), ("broad", 2)]);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn garbage_and_emptied_files_are_refused() {
        let d = tmpdir("refuse");
        let path = d.join("l");
        std::fs::write(&path, "not a name!\nalso bad?\n").expect("write");
        let cfg = ListConfig {
            name: "l".into(),
            path: path.clone(),
            format: Format::Domains,
            kind: ListKind::Block,
            action: Action::Sinkhole,
            ede: 15,
        };
        let err = compile_list(&cfg, None).expect_err("garbage");
        assert!(err.to_string().contains(":1: "), "{err}");
        std::fs::write(&path, "# only a comment\n").expect("write");
        assert!(matches!(
            compile_list(&cfg, Some(10)),
            Err(ListError::Emptied { previous: 10, .. })
        ));
        assert!(compile_list(&cfg, None).is_ok());
        let _ = std::fs::remove_dir_all(d);
    }
}
