//! The running transfer tasks, one per transferred list, and how a
//! configuration reload (SIGHUP) re-points them: a list whose
//! `[lists.transfer]` (primaries, zone, key file or its content, timers)
//! changed gets a new task with the new settings, starting from its seed;
//! a list that lost its `[lists.transfer]` or left the configuration stops
//! its task (its last version keeps being enforced until a restart, as any
//! list change needs). NOTIFY routing follows at once.

use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;
use tracing::info;

use super::{run_secondary, secondaries_at, NotifyRouter, Secondary};
use crate::config::ListConfig;
use crate::metrics::Metrics;
use crate::policy::store::PolicyStore;

/// What a reload did to one list's transfer task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repoint {
    /// Restarted with the list's new `[lists.transfer]`.
    Repointed,
    /// Stopped: the list or its `[lists.transfer]` is gone.
    Stopped,
    /// A list that gained a `[lists.transfer]`: it starts at a restart.
    AddedUntilRestart,
}

/// One list's [`Repoint`], as the reload reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepointedList {
    /// The list's name.
    pub list: String,
    /// What happened to its task.
    pub what: Repoint,
}

impl RepointedList {
    /// The change line, keyed as the config diff keys it.
    pub fn line(&self) -> String {
        let what = match self.what {
            Repoint::Repointed => "re-pointed",
            Repoint::Stopped => "stopped",
            Repoint::AddedUntilRestart => "added, not started until restart",
        };
        format!("{}: {what}", self.key())
    }

    /// `lists[NAME].transfer`: the diff's lines for this list's transfer
    /// start with it.
    pub fn key(&self) -> String {
        format!("lists[{}].transfer", self.list)
    }

    /// In force now (else it waits for a restart).
    pub fn applied(&self) -> bool {
        self.what != Repoint::AddedUntilRestart
    }
}

/// The transfer tasks of a running server.
pub struct Transfers {
    store: Arc<PolicyStore>,
    metrics: Arc<Metrics>,
    tasks: Mutex<Vec<(Arc<Secondary>, AbortHandle)>>,
}

impl Transfers {
    /// Start one task per secondary (on the current runtime).
    pub fn start(
        secondaries: &[Arc<Secondary>],
        store: Arc<PolicyStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let t = Self {
            store,
            metrics,
            tasks: Mutex::new(Vec::new()),
        };
        let started: Vec<_> = secondaries.iter().map(|s| t.spawn(s.clone())).collect();
        if let Ok(mut tasks) = t.tasks.lock() {
            *tasks = started;
        }
        t
    }

    fn spawn(&self, s: Arc<Secondary>) -> (Arc<Secondary>, AbortHandle) {
        let h = tokio::spawn(run_secondary(
            s.clone(),
            self.store.clone(),
            self.metrics.clone(),
        ));
        (s, h.abort_handle())
    }

    /// Re-point the tasks to a re-read list set; `router` then routes
    /// NOTIFY to the new set. Lists are matched by name; a list that is
    /// not in the serving policy (added since the start) waits for a
    /// restart. Returns what happened to each list whose task changed.
    pub fn repoint(&self, lists: &[ListConfig], router: &NotifyRouter) -> Vec<RepointedList> {
        let wanted = secondaries_at(lists, |_, name| self.store.index_of(name));
        let mut lines = Vec::new();
        let Ok(mut tasks) = self.tasks.lock() else {
            return lines;
        };
        let mut next = Vec::with_capacity(wanted.len());
        for (old, handle) in tasks.drain(..) {
            match wanted.iter().find(|w| w.name == old.name) {
                Some(w) if same(w, &old) => next.push((old, handle)),
                Some(w) => {
                    handle.abort();
                    info!(list = %w.name, zone = %w.zone, primaries = ?w.primaries, "transfer re-pointed");
                    lines.push(RepointedList {
                        list: w.name.clone(),
                        what: Repoint::Repointed,
                    });
                    next.push(self.spawn(w.clone()));
                }
                None => {
                    handle.abort();
                    info!(list = %old.name, "transfer stopped: no [lists.transfer] for it any more; its last version is enforced until restart");
                    lines.push(RepointedList {
                        list: old.name.clone(),
                        what: Repoint::Stopped,
                    });
                }
            }
        }
        for w in &wanted {
            if !next.iter().any(|(s, _)| s.name == w.name) {
                // A list that had no transfer at start: the policy
                // compiled it as a file list; a restart makes it one.
                lines.push(RepointedList {
                    list: w.name.clone(),
                    what: Repoint::AddedUntilRestart,
                });
            }
        }
        router.set(next.iter().map(|(s, _)| s.clone()).collect());
        *tasks = next;
        lines
    }

    /// Stop every task (shutdown).
    pub fn abort_all(&self) {
        if let Ok(tasks) = self.tasks.lock() {
            for (_, h) in tasks.iter() {
                h.abort();
            }
        }
    }
}

fn same(a: &Secondary, b: &Secondary) -> bool {
    a.cfg == b.cfg && a.seed == b.seed && a.key_text == b.key_text && a.index == b.index
}
