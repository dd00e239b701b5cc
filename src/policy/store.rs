//! The published policy and how it is replaced.
//!
//! Readers call [`PolicyStore::load`] (a lock-free `ArcSwap` load). A reload
//! compiles lists on the calling (blocking) thread, keeps the serving
//! version of every list that fails or is refused by a guard, and
//! publishes the result with one `store`, so a query sees either the old
//! policy or the new one, never a mix. Every accepted or refused change is
//! written to the audit log, with the list file's absolute path; a list
//! whose content did not change (same SHA-256 as the serving version) is
//! reported as `unchanged` and not audited.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use serde::Serialize;
use tracing::{info, warn};

use super::compile::Diff;
use super::matcher::LookupKey;
use super::{
    compile_list, Candidate, CompiledList, Fingerprint, GroupRef, Groups, HeldList, Policy, Verdict,
};
use crate::config::{ListConfig, ListState};
use crate::metrics::{unix_now, Metrics};

/// What a reload should do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadRequest {
    /// Re-read every list even if its file looks unchanged (SIGHUP).
    pub reread: bool,
    /// Skip the shrink, emptied and too-many-rejected guards (operator
    /// override). Checksums are never skipped.
    pub force: bool,
}

/// One list's result in a reload.
#[derive(Debug, Clone, Serialize)]
pub struct ListOutcome {
    /// The list.
    pub list: String,
    /// `reloaded`, `unchanged` (file not changed, or re-read with the same
    /// content) or `refused`.
    pub result: &'static str,
    /// Refusal reason label (`shrink`, `checksum`, ...), if refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The full error text, if refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Entries serving before.
    pub entries_before: usize,
    /// Entries serving after (for a refused list: still the old version's).
    pub entries_after: usize,
    /// Names added to the serving version (0 when refused).
    pub added: usize,
    /// Names removed from the serving version (0 when refused).
    pub removed: usize,
    /// Content hash of the serving version after the reload.
    pub sha256: String,
    /// For a refused list: what the refused file would have made of the
    /// list (entries, added, removed, rejected lines, its hash), so the
    /// figures above are not mistaken for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_version: Option<Candidate>,
}

impl ListOutcome {
    /// The outcome of a version that compiled (`reloaded`, or `unchanged`
    /// when it was re-read with the same content), with its diff `d`.
    fn compiled(list: &str, result: &'static str, d: &Diff, sha256: String) -> Self {
        Self {
            list: list.to_string(),
            result,
            reason: None,
            error: None,
            entries_before: d.before,
            entries_after: d.after,
            added: d.added,
            removed: d.removed,
            sha256,
            refused_version: None,
        }
    }

    /// `unchanged` without reading anything: the serving version (of
    /// `entries` names, hash `sha256`) stays as it is.
    fn untouched(list: &str, entries: usize, sha256: String) -> Self {
        Self {
            list: list.to_string(),
            result: "unchanged",
            reason: None,
            error: None,
            entries_before: entries,
            entries_after: entries,
            added: 0,
            removed: 0,
            sha256,
            refused_version: None,
        }
    }
}

/// What [`PolicyStore::offer_patch`] did.
#[derive(Debug)]
pub enum Patched {
    /// Applied (or refused by a guard): the outcome.
    Done(Box<ListOutcome>),
    /// Not applicable as a patch; compile the version whole.
    Rebuild,
}

/// What one reload did.
#[derive(Debug, Default, Serialize)]
pub struct ReloadOutcome {
    /// Per list, in configuration order.
    pub lists: Vec<ListOutcome>,
}

impl ReloadOutcome {
    fn with(&self, result: &str) -> impl Iterator<Item = &ListOutcome> {
        let result = result.to_string();
        self.lists.iter().filter(move |l| l.result == result)
    }

    /// Lists recompiled and swapped in.
    pub fn reloaded(&self) -> Vec<&ListOutcome> {
        self.with("reloaded").collect()
    }

    /// Lists whose new version was refused (old version kept).
    pub fn failed(&self) -> Vec<&ListOutcome> {
        self.with("refused").collect()
    }

    /// Lists left alone because their files did not change.
    pub fn unchanged(&self) -> Vec<&ListOutcome> {
        self.with("unchanged").collect()
    }
}

/// An audit line: one per list change, accepted or refused. The list's
/// name comes from the flattened outcome (one `list` key per line).
#[derive(Serialize)]
struct AuditLine<'a> {
    time: String,
    unix: u64,
    path: String,
    order_id: Option<&'a str>,
    forced: bool,
    #[serde(flatten)]
    outcome: &'a ListOutcome,
}

/// A published [`Policy`] and its generation: a number that every
/// publication raises by one, so anything checked against a policy (a
/// cached CNAME chain, see [`crate::wire::chain`]) can tell, with one integer
/// compare, whether the policy has changed since. Derefs to the policy.
#[derive(Debug)]
pub struct Published {
    /// The lists in force.
    pub policy: Policy,
    /// 0 for the empty policy before the first load, then +1 per swap.
    pub generation: u64,
    /// Each configured list's date state when published (configuration
    /// order); `Active` for undated lists.
    pub states: Vec<ListState>,
    /// The policy groups in force: published with the lists, so a query
    /// sees list indices and group masks of the same configuration.
    pub groups: Arc<Groups>,
}

impl Published {
    /// The decision for `client`: its group (longest prefix, or the
    /// default group), then the lists that apply to it. Without groups,
    /// no lookup: every list applies.
    #[inline]
    pub fn decide_client(&self, key: &LookupKey, client: IpAddr) -> (Verdict<'_>, GroupRef<'_>) {
        let group = self.groups.of(client);
        (self.policy.decide_for(key, group), group)
    }
}

impl std::ops::Deref for Published {
    type Target = Policy;

    fn deref(&self) -> &Policy {
        &self.policy
    }
}

/// Owner of the current [`Policy`].
pub struct PolicyStore {
    current: ArcSwap<Published>,
    lists: Vec<ListConfig>,
    metrics: Arc<Metrics>,
    audit: Option<PathBuf>,
    /// Serialises reloads (watcher, SIGHUP and admin requests can coincide).
    reload_lock: Mutex<()>,
    /// File identity of the last refused version of each list: the same
    /// file is not re-read (and re-refused) until it changes.
    refused: Mutex<Vec<Option<Fingerprint>>>,
}

impl PolicyStore {
    /// An empty store for these lists; call [`PolicyStore::reload`] to load them.
    pub fn new(lists: Vec<ListConfig>, metrics: Arc<Metrics>, audit: Option<PathBuf>) -> Self {
        let n = lists.len();
        let empty = Policy {
            lists: vec![None; lists.len()],
            held: Vec::new(),
        };
        Self {
            current: ArcSwap::from_pointee(Published {
                policy: empty,
                generation: 0,
                states: vec![ListState::Active; n],
                groups: Arc::new(Groups::none()),
            }),
            lists,
            metrics,
            audit,
            reload_lock: Mutex::new(()),
            refused: Mutex::new(vec![None; n]),
        }
    }

    /// Position of list `name` in the policy (configuration order at
    /// start).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.lists.iter().position(|l| l.name == name)
    }

    /// The serving policy. Hold the guard only for the decision, never
    /// across an `.await`.
    pub fn load(&self) -> Guard<Arc<Published>> {
        self.current.load()
    }

    /// Recompile lists and publish. Blocking: run it off the runtime.
    /// Peak memory is the old policy plus one list being compiled.
    pub fn reload(&self, req: ReloadRequest) -> ReloadOutcome {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let mut outcome = ReloadOutcome::default();
        let mut next: Vec<Option<Arc<CompiledList>>> = Vec::with_capacity(self.lists.len());
        let mut changed = false;
        for (i, cfg) in self.lists.iter().enumerate() {
            let prev = old.loaded(i).cloned();
            let before = prev.as_ref().map_or(0, |p| p.set.len());
            let prev_sha = prev
                .as_ref()
                .map(|p| p.report.sha256.clone())
                .unwrap_or_default();
            let prev_content = prev
                .as_ref()
                .map(|p| p.content_sha256.clone())
                .unwrap_or_default();
            if cfg.transfer.is_some() && !cfg.path.exists() {
                // A secondary with no seed yet: empty until its first
                // transfer, which is not a failure.
                outcome
                    .lists
                    .push(ListOutcome::untouched(&cfg.name, before, prev_sha));
                next.push(prev);
                continue;
            }
            if !req.reread {
                let now = Fingerprint::of(&cfg.path);
                let last_refused = self
                    .refused
                    .lock()
                    .map(|r| r.get(i).copied().flatten())
                    .unwrap_or(None);
                if let Some(p) = &prev {
                    if now.is_some() && (now == p.fingerprint || now == last_refused) {
                        outcome
                            .lists
                            .push(ListOutcome::untouched(&cfg.name, before, prev_sha));
                        next.push(prev);
                        continue;
                    }
                }
            }
            let started = std::time::Instant::now();
            let result = compile_list(cfg, prev.as_deref(), req.force);
            match result {
                // Re-read (SIGHUP, `dnsward reload`, a touched file) with the
                // content already serving: nothing changed, so nothing is
                // audited; the new copy is kept for its file identity.
                Ok((list, d)) if prev.is_some() && list.report.sha256 == prev_sha => {
                    if let Ok(mut r) = self.refused.lock() {
                        if let Some(slot) = r.get_mut(i) {
                            *slot = None;
                        }
                    }
                    info!(list = %cfg.name, entries = list.set.len(), "list re-read, content unchanged");
                    outcome
                        .lists
                        .push(ListOutcome::compiled(&cfg.name, "unchanged", &d, prev_sha));
                    next.push(Some(Arc::new(list)));
                    changed = true;
                }
                Ok((list, d)) => {
                    if let Ok(mut r) = self.refused.lock() {
                        if let Some(slot) = r.get_mut(i) {
                            *slot = None;
                        }
                    }
                    self.publish_list_metrics(&list, &prev_content);
                    for line in list.report.reject_lines().take(20) {
                        warn!(list = %cfg.name, "{line}");
                    }
                    if list.report.rejected > 20 {
                        warn!(list = %cfg.name, "... {} rejected lines in all (see `dnsward check-list`)", list.report.rejected);
                    }
                    info!(
                        list = %cfg.name,
                        entries = list.set.len(),
                        added = d.added,
                        removed = d.removed,
                        rejected = list.report.rejected,
                        ms = started.elapsed().as_millis() as u64,
                        parse_ms = d.ms[0],
                        freeze_ms = d.ms[1],
                        diff_ms = d.ms[2],
                        "list loaded"
                    );
                    let o = ListOutcome::compiled(
                        &cfg.name,
                        "reloaded",
                        &d,
                        list.report.sha256.clone(),
                    );
                    self.audit(cfg, &o, req.force);
                    outcome.lists.push(o);
                    next.push(Some(Arc::new(list)));
                    changed = true;
                }
                Err(e) => {
                    if let Ok(mut r) = self.refused.lock() {
                        if let Some(slot) = r.get_mut(i) {
                            *slot = Fingerprint::of(&cfg.path);
                        }
                    }
                    self.metrics
                        .list_reload_failures
                        .with_label_values(&[&cfg.name, e.reason()])
                        .inc();
                    warn!(list = %cfg.name, reason = e.reason(), "reload refused, keeping the serving version: {e}");
                    let o = ListOutcome {
                        list: cfg.name.clone(),
                        result: "refused",
                        reason: Some(e.reason()),
                        error: Some(e.to_string()),
                        entries_before: before,
                        entries_after: before,
                        added: 0,
                        removed: 0,
                        sha256: prev_sha,
                        refused_version: e.candidate().cloned(),
                    };
                    self.audit(cfg, &o, req.force);
                    outcome.lists.push(o);
                    next.push(prev);
                }
            }
        }
        if changed {
            // Reloads are serialised, so `old` is the serving version and
            // generations never repeat.
            self.publish(next, &old, unix_secs());
        }
        outcome
    }

    /// Offer a downloaded version of list `index` (a feed, see
    /// [`super::feed`]): `candidate` is compiled with the list's own guards
    /// against the serving version, exactly as a changed file would be; if
    /// accepted, `commit` moves it onto the list's `path` and the new
    /// version is published, so `path` always holds the version serving.
    /// A refusal is counted, logged and audited like a file's, and the
    /// candidate is left for the caller to delete. Blocking.
    pub fn offer_file(
        &self,
        index: usize,
        candidate: &std::path::Path,
        commit: impl FnOnce() -> std::io::Result<()>,
    ) -> Option<ListOutcome> {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let cfg = self.lists.get(index)?;
        let old = self.current.load_full();
        let prev = old.loaded(index).cloned();
        let before = prev.as_ref().map_or(0, |p| p.set.len());
        let prev_sha = prev
            .as_ref()
            .map(|p| p.report.sha256.clone())
            .unwrap_or_default();
        let prev_content = prev
            .as_ref()
            .map(|p| p.content_sha256.clone())
            .unwrap_or_default();
        let mut from = cfg.clone();
        from.path = candidate.to_path_buf();
        let refused = |reason: &'static str, error: String, version: Option<Candidate>| {
            self.refuse(cfg, before, prev_sha.clone(), reason, error, version)
        };
        let (mut list, d) = match compile_list(&from, prev.as_deref(), false) {
            Ok(v) => v,
            Err(e) => return Some(refused(e.reason(), e.to_string(), e.candidate().cloned())),
        };
        if let Err(e) = commit() {
            return Some(refused(
                "write",
                format!("{}: {e}", cfg.path.display()),
                None,
            ));
        }
        list.cfg = cfg.clone();
        list.fingerprint = Fingerprint::of(&cfg.path);
        let unchanged = prev.is_some() && list.report.sha256 == prev_sha;
        let o = ListOutcome::compiled(
            &cfg.name,
            if unchanged { "unchanged" } else { "reloaded" },
            &d,
            list.report.sha256.clone(),
        );
        if !unchanged {
            self.publish_list_metrics(&list, &prev_content);
            info!(list = %cfg.name, entries = list.set.len(), added = d.added, removed = d.removed, "fetched list loaded");
            self.audit(cfg, &o, false);
        }
        if let Ok(mut r) = self.refused.lock() {
            if let Some(slot) = r.get_mut(index) {
                *slot = None;
            }
        }
        let mut all: Vec<_> = (0..self.lists.len())
            .map(|i| old.loaded(i).cloned())
            .collect();
        if let Some(slot) = all.get_mut(index) {
            *slot = Some(Arc::new(list));
        }
        self.publish(all, &old, unix_secs());
        Some(o)
    }

    /// Apply an IXFR to list `index` without recompiling it (see
    /// [`super::patch_list`]): guarded like a compile, published at once.
    /// [`Patched::Rebuild`] when the list is not loaded or its set has no
    /// room: the caller then offers the whole version by
    /// [`PolicyStore::offer_file`]. Blocking.
    pub fn offer_patch(&self, index: usize, patch: &super::RpzPatch) -> Patched {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let Some(cfg) = self.lists.get(index) else {
            return Patched::Rebuild;
        };
        let old = self.current.load_full();
        let Some(prev) = old.loaded(index).cloned() else {
            return Patched::Rebuild;
        };
        let before = prev.set.len();
        let prev_sha = prev.report.sha256.clone();
        let started = std::time::Instant::now();
        let (list, d) = match super::patch_list(&prev, patch) {
            Ok(Some(v)) => v,
            Ok(None) => return Patched::Rebuild,
            Err(e) => {
                return Patched::Done(Box::new(self.refuse(
                    cfg,
                    before,
                    prev_sha,
                    e.reason(),
                    e.to_string(),
                    e.candidate().cloned(),
                )))
            }
        };
        let unchanged = list.report.sha256 == prev_sha;
        let o = ListOutcome::compiled(
            &cfg.name,
            if unchanged { "unchanged" } else { "reloaded" },
            &d,
            list.report.sha256.clone(),
        );
        if !unchanged {
            self.publish_list_metrics(&list, &prev.content_sha256);
            info!(list = %cfg.name, entries = list.set.len(), added = d.added, removed = d.removed, ms = started.elapsed().as_millis() as u64, "IXFR patched into the serving list");
            self.audit(cfg, &o, false);
        }
        let mut all: Vec<_> = (0..self.lists.len())
            .map(|i| old.loaded(i).cloned())
            .collect();
        if let Some(slot) = all.get_mut(index) {
            *slot = Some(Arc::new(list));
        }
        self.publish(all, &old, unix_secs());
        Patched::Done(Box::new(o))
    }

    /// Stop enforcing list `index` (`expire_policy = "drop"` after SOA
    /// expire): it serves nothing until the next accepted transfer.
    pub fn withdraw(&self, index: usize) {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let Some(list) = old.loaded(index) else {
            return;
        };
        let _ = self
            .metrics
            .list_info
            .remove_label_values(&[list.name(), &list.content_sha256]);
        let mut all: Vec<_> = (0..self.lists.len())
            .map(|i| old.loaded(i).cloned())
            .collect();
        all[index] = None;
        self.publish(all, &old, unix_secs());
    }

    /// Record a feed fetch of list `index` that failed before there was
    /// a version to compile (timeout, HTML page, truncated body, ...):
    /// counted, logged and audited like a refused file. Blocking (writes
    /// the audit log).
    pub fn refuse_fetch(&self, index: usize, reason: &'static str, error: String) {
        let Some(cfg) = self.lists.get(index) else {
            return;
        };
        let old = self.current.load();
        let prev = old.loaded(index).cloned();
        let before = prev.as_ref().map_or(0, |p| p.set.len());
        let sha = prev.map(|p| p.report.sha256.clone()).unwrap_or_default();
        self.refuse(cfg, before, sha, reason, error, None);
    }

    fn refuse(
        &self,
        cfg: &ListConfig,
        before: usize,
        prev_sha: String,
        reason: &'static str,
        error: String,
        version: Option<Candidate>,
    ) -> ListOutcome {
        self.metrics
            .list_reload_failures
            .with_label_values(&[&cfg.name, reason])
            .inc();
        warn!(list = %cfg.name, reason, "new version refused, keeping the serving version: {error}");
        let o = ListOutcome {
            list: cfg.name.clone(),
            result: "refused",
            reason: Some(reason),
            error: Some(error),
            entries_before: before,
            entries_after: before,
            added: 0,
            removed: 0,
            sha256: prev_sha,
            refused_version: version,
        };
        self.audit(cfg, &o, false);
        o
    }

    /// Republish when a dated list's window opened or closed since the
    /// serving policy was built (the scheduler calls this every second).
    /// The query path never looks at a clock: a list out of its window is
    /// simply not among [`Policy::lists`]. Returns true if it republished.
    pub fn tick(&self, now: i64) -> bool {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let moved = self
            .lists
            .iter()
            .zip(&old.states)
            .any(|(cfg, s)| cfg.window.state(now) != *s);
        if !moved {
            return false;
        }
        let all = (0..self.lists.len())
            .map(|i| old.loaded(i).cloned())
            .collect();
        self.publish(all, &old, now);
        true
    }

    /// True when some list has `effective_from` or `expires_at`, so a
    /// scheduler must call [`PolicyStore::tick`].
    pub fn has_dates(&self) -> bool {
        self.lists.iter().any(|l| l.window.is_dated())
    }

    /// Store `all` (every loaded list, configuration order) split by each
    /// list's dates at `now`; audit every date transition from `old`
    /// (`order effective`, `order expired`) and set `dnsward_list_state`.
    /// The caller holds `reload_lock`. The generation always rises, so
    /// cached CNAME-chain checks re-run against the new set of lists.
    fn publish(&self, all: Vec<Option<Arc<CompiledList>>>, old: &Published, now: i64) {
        let mut lists = Vec::with_capacity(all.len());
        let mut held = Vec::new();
        let mut states = Vec::with_capacity(all.len());
        for (i, (cfg, list)) in self.lists.iter().zip(all).enumerate() {
            let state = cfg.window.state(now);
            states.push(state);
            match (state, list) {
                (ListState::Active, l) => lists.push(l),
                (state, Some(list)) => {
                    lists.push(None);
                    held.push(HeldList {
                        index: i,
                        list,
                        state,
                    });
                }
                (_, None) => lists.push(None),
            }
            // The first publication has no earlier state to move from: a
            // list already in force at start is recorded by its load line.
            let before = old.states.get(i).copied();
            if old.generation > 0 && before != Some(state) {
                let event = match state {
                    ListState::Active => "order effective",
                    ListState::Expired => "order expired",
                    ListState::Pending => "order pending",
                };
                info!(list = %cfg.name, order_id = cfg.order_id.as_deref().unwrap_or(""), "{event}");
                self.audit_event(cfg, event, now);
            }
            for s in ListState::ALL {
                self.metrics
                    .list_state
                    .with_label_values(&[&cfg.name, s.as_str()])
                    .set(i64::from(s == state));
            }
        }
        self.current.store(Arc::new(Published {
            policy: Policy { lists, held },
            generation: old.generation + 1,
            states,
            groups: old.groups.clone(),
        }));
    }

    /// The configured list names, in configuration order (what groups are
    /// compiled against: the running lists, which change only at restart).
    pub fn list_names(&self) -> Vec<&str> {
        self.lists.iter().map(|l| l.name.as_str()).collect()
    }

    /// Publish new policy groups with the serving lists (start-up, SIGHUP).
    /// The generation stays: a cached chain is marked clean only when no
    /// rule of any list matched it, which no group change can alter.
    pub fn set_groups(&self, groups: Groups) {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        self.current.store(Arc::new(Published {
            policy: Policy {
                lists: old.policy.lists.clone(),
                held: old.policy.held.clone(),
            },
            generation: old.generation,
            states: old.states.clone(),
            groups: Arc::new(groups),
        }));
    }

    /// One audit line for a date transition of a list.
    fn audit_event(&self, cfg: &ListConfig, event: &str, now: i64) {
        let unix = now.max(0) as u64;
        let line = serde_json::json!({
            "time": rfc3339(unix),
            "unix": unix,
            "event": event,
            "list": cfg.name,
            "path": std::path::absolute(&cfg.path)
                .unwrap_or_else(|_| cfg.path.clone())
                .display()
                .to_string(),
            "order_id": cfg.order_id,
            "effective_from": cfg.effective_from,
            "expires_at": cfg.expires_at,
        });
        self.write_audit(&line.to_string());
    }

    fn publish_list_metrics(&self, list: &CompiledList, prev_sha: &str) {
        let m = &self.metrics;
        let name = list.name();
        m.list_entries
            .with_label_values(&[name])
            .set(list.set.len() as i64);
        m.list_reloads.with_label_values(&[name]).inc();
        m.list_last_reload
            .with_label_values(&[name])
            .set(unix_now());
        if !prev_sha.is_empty() && prev_sha != list.content_sha256 {
            let _ = m.list_info.remove_label_values(&[name, prev_sha]);
        }
        m.list_info
            .with_label_values(&[name, &list.content_sha256])
            .set(1);
    }

    fn audit(&self, cfg: &ListConfig, outcome: &ListOutcome, forced: bool) {
        let unix = unix_now() as u64;
        let line = AuditLine {
            time: rfc3339(unix),
            unix,
            // Absolute, so the trail names the file whatever directory
            // the server was started from.
            path: std::path::absolute(&cfg.path)
                .unwrap_or_else(|_| cfg.path.clone())
                .display()
                .to_string(),
            order_id: cfg.order_id.as_deref(),
            forced,
            outcome,
        };
        let Ok(json) = serde_json::to_string(&line) else {
            return;
        };
        self.write_audit(&json);
    }

    /// Append one JSON line to the audit log (and the `dnsward::audit` log target).
    fn write_audit(&self, json: &str) {
        info!(target: "dnsward::audit", "{json}");
        if let Some(path) = &self.audit {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{json}"));
            if let Err(e) = written {
                warn!("audit log {}: {e}", path.display());
            }
        }
    }
}

/// The current Unix time in whole seconds (the clock dated lists are
/// judged by).
pub fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (UTC), without a date crate.
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
