//! Applying an IXFR to a compiled RPZ list without recompiling it: the
//! records of the triggers the diff touched are parsed as a small zone
//! file, and the serving set is copied with just those names' rules
//! rewritten ([`DomainSet::patched`]). Local data and the content hash are
//! updated the same way. The guards are those of a full compile.
//!
//! Source lines of patched rules are 0: the seed is re-rendered after each
//! change, so there is no line to point at until the list is next compiled
//! whole (at restart, `dnsward reload`, or when a patch is declined).

use std::collections::HashMap;
use std::time::SystemTime;

use super::compile::{Candidate, CompiledList, Diff, ListError, LocalDataMap};
use super::matcher::{DomainSet, NameRules};
use super::parse::{self, Item, ParseOptions};
use super::rule::{Format, Scope};

/// The changed triggers of an RPZ list: their records now (an RPZ zone
/// text holding `$ORIGIN`, the SOA and those records) and their names.
#[derive(Debug, Clone)]
pub struct RpzPatch {
    /// Zone text of the touched triggers' current records.
    pub text: String,
    /// Every trigger touched (normalised), present or gone.
    pub triggers: Vec<String>,
}

/// Patch `prev` with `patch`. `Ok(None)`: the set has no room for it;
/// compile the list whole instead.
pub fn patch_list(
    prev: &CompiledList,
    patch: &RpzPatch,
) -> Result<Option<(CompiledList, Diff)>, ListError> {
    let t0 = std::time::Instant::now();
    let cfg = &prev.cfg;
    let mut rules: HashMap<String, NameRules> = patch
        .triggers
        .iter()
        .map(|t| {
            (
                t.clone(),
                NameRules {
                    name: t.clone(),
                    exact: None,
                    below: None,
                },
            )
        })
        .collect();
    let mut local: LocalDataMap = HashMap::new();
    let opts = ParseOptions {
        allow_tld_entries: cfg.allow_tld_entries,
    };
    let report = parse::parse_reader_with(
        patch.text.as_bytes(),
        &cfg.path,
        Format::Rpz,
        opts,
        &mut |item| match item {
            Item::Entry(e) => {
                let r = rules
                    .entry(e.name.to_string())
                    .or_insert_with(|| NameRules {
                        name: e.name.to_string(),
                        exact: None,
                        below: None,
                    });
                // As in a build: the first rule for a scope wins.
                if matches!(e.scope, Scope::Exact | Scope::Subtree) && r.exact.is_none() {
                    r.exact = Some((e.action, 0));
                }
                if matches!(e.scope, Scope::Below | Scope::Subtree) && r.below.is_none() {
                    r.below = Some((e.action, 0));
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
        },
    )?;
    let mut changes: Vec<NameRules> = rules.into_values().collect();
    changes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let Some((set, stats)) = prev
        .set
        .patched(&changes)
        .map_err(|error| ListError::Build {
            path: cfg.path.clone(),
            error,
        })?
    else {
        return Ok(None);
    };
    // Content hash and local data: take out what the touched triggers
    // had, put in what they have now.
    let mut content = prev.content;
    let mut buf = Vec::with_capacity(300);
    let mut all_local = prev.local.clone();
    for c in &changes {
        content.entry(
            c.name.as_bytes(),
            prev.set.actions_of(&c.name),
            false,
            &mut buf,
        );
        content.entry(c.name.as_bytes(), set.actions_of(&c.name), true, &mut buf);
        for below in [false, true] {
            let key = (Box::<str>::from(c.name.as_str()), below);
            if let Some(old) = all_local.remove(&key) {
                for (ttl, data) in &old {
                    content.local(&c.name, below, *ttl, data, false, &mut buf);
                }
            }
            if let Some(new) = local.remove(&key) {
                for (ttl, data) in &new {
                    content.local(&c.name, below, *ttl, data, true, &mut buf);
                }
                all_local.insert(key, new);
            }
        }
    }
    let d = Diff {
        before: prev.set.len(),
        after: set.len(),
        added: stats.added,
        removed: stats.removed,
        ms: [0, t0.elapsed().as_millis() as u64, 0],
    };
    guards(prev, &set, &report, &d, content.hex())?;
    let content_sha256 = content.hex();
    let mut full_report = prev.report.clone();
    full_report.sha256.clone_from(&content_sha256);
    Ok(Some((
        CompiledList {
            cfg: cfg.clone(),
            set,
            local: all_local,
            report: full_report,
            loaded_at: SystemTime::now(),
            fingerprint: None,
            ede_text: prev.ede_text.clone(),
            content,
            content_sha256,
        },
        d,
    )))
}

/// The emptied, too-many-rejected and shrink guards, over the patch.
fn guards(
    prev: &CompiledList,
    set: &DomainSet,
    report: &parse::ParseReport,
    d: &Diff,
    sha256: String,
) -> Result<(), ListError> {
    let cfg = &prev.cfg;
    let candidate = || {
        Box::new(Candidate {
            entries: d.after,
            added: d.added,
            removed: d.removed,
            rejected_lines: report.rejected,
            malformed_lines: report.malformed(),
            significant_lines: report.significant(),
            sha256: sha256.clone(),
        })
    };
    if set.is_empty() && !prev.set.is_empty() {
        return Err(ListError::Emptied {
            path: cfg.path.clone(),
            previous: prev.set.len(),
        });
    }
    if let Some(e) = super::compile::too_many_rejected(cfg, report, candidate) {
        return Err(e);
    }
    if d.before > 0
        && cfg.max_shrink_percent < 100
        && d.removed * 100 > d.before * usize::from(cfg.max_shrink_percent)
    {
        return Err(ListError::Shrink {
            path: cfg.path.clone(),
            before: d.before,
            removed: d.removed,
            percent: (d.removed as u64 * 100) / d.before as u64,
            max: cfg.max_shrink_percent,
            candidate: candidate(),
        });
    }
    Ok(())
}
