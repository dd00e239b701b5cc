//! Reload triggers: file-system events (notify) and SIGHUP.
//!
//! The watcher only signals; [`run_reloader`] decides. It watches the
//! *directories* holding the lists, not the files, because editors and
//! `mv new old` replace the inode and a file watch would go deaf after the
//! first such change. Events are debounced until the directory has been
//! quiet for `settle`, so a list written in several chunks is read once,
//! complete.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;
use tracing::{info, warn};

use super::store::{PolicyStore, ReloadRequest};

/// Why file watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// notify refused to watch a directory.
    /// (notify's error is the `source()`, not repeated in the message.)
    #[error("cannot watch {path}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// notify's error.
        source: notify::Error,
    },
}

/// Keeps the OS watcher alive; drop it to stop watching.
pub struct ListWatcher {
    _watcher: notify::RecommendedWatcher,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Watch the directories of `paths`; `changed` is notified on any event
/// that touches one of those files.
pub fn watch(paths: &[PathBuf], changed: Arc<Notify>) -> Result<ListWatcher, WatchError> {
    // Each list and its `.sha256` sidecar.
    let files: HashSet<PathBuf> = paths
        .iter()
        .flat_map(|p| [absolute(p), absolute(&super::sidecar_path(p))])
        .collect();
    let dirs: HashSet<PathBuf> = files
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let names: HashSet<std::ffi::OsString> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
        .collect();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        match res {
            Ok(ev) => {
                // Our own reads of the file (open/access) must not trigger
                // the next reload, or a refused file is re-read forever.
                if matches!(ev.kind, notify::EventKind::Access(_)) {
                    return;
                }
                let relevant = ev
                    .paths
                    .iter()
                    .any(|p| files.contains(p) || p.file_name().is_some_and(|n| names.contains(n)));
                if relevant {
                    changed.notify_one();
                }
            }
            // A watcher error (e.g. queue overflow) may have hidden an
            // event: reloading is the safe answer, unchanged lists are skipped.
            Err(_) => changed.notify_one(),
        }
    })
    .map_err(|source| WatchError::Watch {
        path: PathBuf::new(),
        source,
    })?;
    for d in &dirs {
        watcher
            .watch(d, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Watch {
                path: d.clone(),
                source,
            })?;
    }
    Ok(ListWatcher { _watcher: watcher })
}

/// Reload loop: file events (debounced by `settle`) reload changed lists;
/// SIGHUP (`hup`) re-reads every list. Compilation runs on the blocking
/// pool so serving threads never parse.
pub async fn run_reloader(
    store: Arc<PolicyStore>,
    changed: Arc<Notify>,
    hup: Arc<Notify>,
    settle: Duration,
) {
    loop {
        let force = tokio::select! {
            _ = changed.notified() => false,
            _ = hup.notified() => true,
        };
        if !force {
            // Wait until the files have been quiet for `settle`.
            while tokio::time::timeout(settle, changed.notified())
                .await
                .is_ok()
            {}
        }
        let s = store.clone();
        let req = ReloadRequest {
            reread: force,
            force: false,
        };
        match tokio::task::spawn_blocking(move || s.reload(req)).await {
            Ok(out) => {
                let (ok, refused) = (out.reloaded().len(), out.failed().len());
                if ok + refused > 0 {
                    info!(reloaded = ok, refused, sighup = force, "lists reloaded");
                }
            }
            Err(e) => warn!("reload task failed: {e}"),
        }
    }
}
