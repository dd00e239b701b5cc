//! The published policy and how it is replaced.
//!
//! Readers call [`PolicyStore::load`] (a lock-free `ArcSwap` load). A reload
//! compiles lists on the calling (blocking) thread, keeps the serving
//! version of every list that fails, and publishes the result with one
//! `store`, so a query sees either the old policy or the new one, never a mix.

use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use tracing::{info, warn};

use super::{compile_list, CompiledList, Fingerprint, ListError, Policy};
use crate::config::ListConfig;
use crate::metrics::{unix_now, Metrics};

/// What one reload did, per list.
#[derive(Debug, Default)]
pub struct ReloadOutcome {
    /// Lists recompiled and swapped in: (name, entries).
    pub reloaded: Vec<(String, usize)>,
    /// Lists left as they were because their file did not change.
    pub unchanged: Vec<String>,
    /// Lists whose reload failed (old version kept): (name, error text).
    pub failed: Vec<(String, String)>,
}

/// Owner of the current [`Policy`].
pub struct PolicyStore {
    current: ArcSwap<Policy>,
    lists: Vec<ListConfig>,
    metrics: Arc<Metrics>,
    /// Serialises reloads (watcher and SIGHUP can fire together).
    reload_lock: Mutex<()>,
}

impl PolicyStore {
    /// An empty store for these lists; call [`PolicyStore::reload`] to load them.
    pub fn new(lists: Vec<ListConfig>, metrics: Arc<Metrics>) -> Self {
        let empty = Policy {
            lists: vec![None; lists.len()],
        };
        Self {
            current: ArcSwap::from_pointee(empty),
            lists,
            metrics,
            reload_lock: Mutex::new(()),
        }
    }

    /// The serving policy. Hold the guard only for the decision, never
    /// across an `.await`.
    pub fn load(&self) -> Guard<Arc<Policy>> {
        self.current.load()
    }

    /// A counted reference to the serving policy (for long-lived use).
    pub fn snapshot(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// The configured lists.
    pub fn list_configs(&self) -> &[ListConfig] {
        &self.lists
    }

    /// Recompile lists and publish. With `force` every list is re-read;
    /// otherwise lists whose file identity (size, mtime, inode) is
    /// unchanged are kept as they are. Blocking: run it off the runtime.
    pub fn reload(&self, force: bool) -> ReloadOutcome {
        let _guard = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let mut outcome = ReloadOutcome::default();
        let mut next: Vec<Option<Arc<CompiledList>>> = Vec::with_capacity(self.lists.len());
        for (i, cfg) in self.lists.iter().enumerate() {
            let prev = old.lists.get(i).cloned().flatten();
            if !force {
                if let Some(p) = &prev {
                    let now = Fingerprint::of(&cfg.path);
                    if now.is_some() && now == p.fingerprint {
                        outcome.unchanged.push(cfg.name.clone());
                        next.push(prev);
                        continue;
                    }
                }
            }
            match compile_list(cfg, prev.as_ref().map(|p| p.set.len())) {
                Ok(list) => {
                    self.publish_list_metrics(&list);
                    for line in list.report.reject_lines().take(20) {
                        warn!(list = %cfg.name, "{line}");
                    }
                    if list.report.rejected > 20 {
                        warn!(list = %cfg.name, "... {} rejected lines in all (see `dnsward check-list`)", list.report.rejected);
                    }
                    info!(list = %cfg.name, entries = list.set.len(), rejected = list.report.rejected, "list loaded");
                    outcome.reloaded.push((cfg.name.clone(), list.set.len()));
                    next.push(Some(Arc::new(list)));
                }
                Err(e) => {
                    self.metrics
                        .list_reload_failures
                        .with_label_values(&[&cfg.name])
                        .inc();
                    warn!(list = %cfg.name, "reload failed, keeping the serving version: {e}");
                    outcome.failed.push((cfg.name.clone(), error_text(&e)));
                    next.push(prev);
                }
            }
        }
        if !outcome.reloaded.is_empty() {
            self.current.store(Arc::new(Policy { lists: next }));
        }
        outcome
    }

    fn publish_list_metrics(&self, list: &CompiledList) {
        let m = &self.metrics;
        m.list_entries
            .with_label_values(&[&list.name])
            .set(list.set.len() as i64);
        m.list_reloads.with_label_values(&[&list.name]).inc();
        m.list_last_reload
            .with_label_values(&[&list.name])
            .set(unix_now());
    }
}

fn error_text(e: &ListError) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Action, ListKind};
    use crate::policy::matcher::LookupKey;
    use crate::policy::parse::Format;
    use crate::policy::Decision;

    #[test]
    fn failed_reload_keeps_old_version_and_counts() {
        let dir = std::env::temp_dir().join(format!("dnsward-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("l.txt");
        std::fs::write(&path, "blocked.example\n").expect("write");
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let store = PolicyStore::new(
            vec![ListConfig {
                name: "l".into(),
                path: path.clone(),
                format: Format::Domains,
                kind: ListKind::Block,
                action: Action::Sinkhole,
                ede: 15,
            }],
            metrics.clone(),
        );
        assert_eq!(store.reload(false).reloaded.len(), 1);
        assert_eq!(store.reload(false).unchanged, vec!["l".to_string()]);
        std::fs::write(&path, "!!! garbage !!!\n").expect("write");
        let out = store.reload(true);
        assert_eq!(out.failed.len(), 1);
        assert!(out.failed[0].1.contains(":1:"), "{:?}", out.failed);
        let p = store.load();
        assert!(matches!(
            p.decide(&LookupKey::from_dotted("www.blocked.example")),
            Decision::Blocked { .. }
        ));
        assert_eq!(
            metrics.list_reload_failures.with_label_values(&["l"]).get(),
            1
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
