//! `dnsward report`: what an operator hands a regulator. For every order
//! (a list's `order_id`), from the audit log and the query log (rotated
//! files included): the list, its entries now, when it was first
//! enforced, every change (accepted or refused, with added and removed
//! counts and content hashes, and the dated-order moments), and the
//! blocked queries per day.
//!
//! The report reads files only; it works on a copy of the logs as well
//! as on a live server's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config::ListState;
use crate::policy::store::rfc3339;
use crate::validate::Validated;

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown: a section per order, with tables.
    Md,
    /// CSV: one row per fact (`summary`, `change`, `blocked_day`).
    Csv,
    /// JSON: one object, `orders` an array.
    Json,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A log could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `--since` is neither a date nor an RFC 3339 time.
    #[error("--since {0}: want YYYY-MM-DD or an RFC 3339 time")]
    Since(String),
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When it was made (UTC).
    pub generated: String,
    /// The `--since` bound, if any (UTC).
    pub since: Option<String>,
    /// Audit log read, if configured.
    pub audit_log: Option<String>,
    /// Query log files read (current and rotated).
    pub query_logs: Vec<String>,
    /// Query log lines that could not be parsed (left out, counted).
    pub unreadable_lines: u64,
    /// One entry per order.
    pub orders: Vec<Order>,
}

/// One order's record.
#[derive(Debug, Serialize)]
pub struct Order {
    /// Order reference (None for a list without one).
    pub order_id: Option<String>,
    /// The list that carries it.
    pub list: String,
    /// `active`, `pending` or `expired` now; `not configured` for an
    /// order only the logs know.
    pub state: &'static str,
    /// Dates of the order, if any.
    pub effective_from: Option<String>,
    /// Dates of the order, if any.
    pub expires_at: Option<String>,
    /// Entries of the serving version (last accepted load).
    pub entries_now: Option<u64>,
    /// SHA-256 of the serving version.
    pub sha256_now: Option<String>,
    /// First moment the order was enforced (a load inside its dates or
    /// its `order effective` moment).
    pub first_enforced: Option<String>,
    /// Every audited change, oldest first.
    pub changes: Vec<Change>,
    /// Blocked queries over the period.
    pub blocked_total: u64,
    /// Blocked queries per UTC day (`YYYY-MM-DD`).
    pub blocked_per_day: BTreeMap<String, u64>,
    /// Blocked queries per policy group (`default`: clients in no group,
    /// and lines written before groups were configured).
    pub blocked_per_group: BTreeMap<String, u64>,
}

/// One audit line, as the report shows it.
#[derive(Debug, Serialize)]
pub struct Change {
    /// When (UTC).
    pub time: String,
    /// `reloaded`, `refused`, `order effective`, `order expired`, ...
    pub event: String,
    /// Names added.
    pub added: u64,
    /// Names removed.
    pub removed: u64,
    /// Entries after the change.
    pub entries: u64,
    /// Content hash after the change (for a refused version: the
    /// refused file's).
    pub sha256: String,
    /// Refusal reason, if refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Accepted by an operator's override of the guards.
    pub forced: bool,
}

/// `YYYY-MM-DD` (start of that UTC day) or RFC 3339, as Unix seconds.
pub fn parse_since(s: &str) -> Result<i64, ReportError> {
    if let Ok(t) = crate::config::parse_rfc3339(s) {
        return Ok(t);
    }
    crate::config::parse_rfc3339(&format!("{s}T00:00:00Z"))
        .map_err(|_| ReportError::Since(s.into()))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Group key: the order id, else the list name (a list without an order).
fn key(order: Option<&str>, list: &str) -> (Option<String>, String) {
    (order.map(str::to_string), list.to_string())
}

/// Read every line of `path` (missing file: none).
fn read_lines(path: &Path, mut f: impl FnMut(&str)) -> Result<bool, ReportError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(ReportError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        f(&line);
    }
    Ok(true)
}

/// Build the report for `cfg` at Unix time `now`.
pub fn build(cfg: &Validated, since: Option<i64>, now: i64) -> Result<Report, ReportError> {
    let mut orders: BTreeMap<(Option<String>, String), Order> = BTreeMap::new();
    let order_of = |k: (Option<String>, String)| -> Order {
        Order {
            order_id: k.0,
            list: k.1,
            state: "not configured",
            effective_from: None,
            expires_at: None,
            entries_now: None,
            sha256_now: None,
            first_enforced: None,
            changes: Vec::new(),
            blocked_total: 0,
            blocked_per_day: BTreeMap::new(),
            blocked_per_group: BTreeMap::new(),
        }
    };
    for l in &cfg.lists {
        let k = key(l.order_id.as_deref(), &l.name);
        let mut o = order_of(k.clone());
        o.state = l.window.state(now).as_str();
        o.effective_from = l.effective_from.clone();
        o.expires_at = l.expires_at.clone();
        orders.insert(k, o);
    }
    let windows: BTreeMap<&str, _> = cfg
        .lists
        .iter()
        .map(|l| (l.name.as_str(), l.window))
        .collect();

    if let Some(path) = &cfg.audit_log {
        let mut first: BTreeMap<(Option<String>, String), u64> = BTreeMap::new();
        read_lines(path, |line| {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                return;
            };
            let Some(list) = v["list"].as_str() else {
                return;
            };
            let k = key(v["order_id"].as_str(), list);
            let unix = u(&v["unix"]);
            let o = orders
                .entry(k.clone())
                .or_insert_with(|| order_of(k.clone()));
            let event = s(&v["event"])
                .or_else(|| s(&v["result"]))
                .unwrap_or_default();
            let accepted = event == "reloaded";
            if accepted {
                o.entries_now = Some(u(&v["entries_after"]));
                o.sha256_now = s(&v["sha256"]);
            }
            // Enforced from this moment: its dates opened, or a load
            // happened inside them.
            let inside = windows
                .get(list)
                .is_none_or(|w| w.state(unix as i64) == ListState::Active);
            if event == "order effective" || accepted && inside {
                first.entry(k.clone()).or_insert(unix);
            }
            if since.is_some_and(|t| (unix as i64) < t) {
                return;
            }
            let refused = &v["refused_version"];
            let (added, removed, entries, sha) = if refused.is_object() {
                (
                    u(&refused["added"]),
                    u(&refused["removed"]),
                    u(&refused["entries"]),
                    s(&refused["sha256"]).unwrap_or_default(),
                )
            } else {
                (
                    u(&v["added"]),
                    u(&v["removed"]),
                    u(&v["entries_after"]),
                    s(&v["sha256"]).unwrap_or_default(),
                )
            };
            o.changes.push(Change {
                time: s(&v["time"]).unwrap_or_else(|| rfc3339(unix)),
                event,
                added,
                removed,
                entries,
                sha256: sha,
                reason: s(&v["reason"]),
                forced: v["forced"].as_bool().unwrap_or(false),
            });
        })?;
        for (k, t) in first {
            if let Some(o) = orders.get_mut(&k) {
                o.first_enforced = Some(rfc3339(t));
            }
        }
    }

    let mut query_logs = Vec::new();
    let mut unreadable = 0u64;
    if let Some(path) = &cfg.querylog {
        // Oldest rotated file first, so days come out in order whatever
        // the files; `keep` may have been lowered since, so look further.
        let keep = cfg.config.querylog.keep.max(1);
        let mut files: Vec<PathBuf> = (1..=keep + 10)
            .rev()
            .map(|i| crate::querylog::numbered(path, i))
            .collect();
        files.push(path.clone());
        for f in files {
            let found = read_lines(&f, |line| {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    unreadable += 1;
                    return;
                };
                let Some(list) = v["list"].as_str() else {
                    return; // not blocked (`what = "all"`)
                };
                let Some(time) = v["time"].as_str() else {
                    unreadable += 1;
                    return;
                };
                if let Some(t) = since {
                    match crate::config::parse_rfc3339(time) {
                        Ok(at) if at >= t => {}
                        Ok(_) => return,
                        Err(_) => {
                            unreadable += 1;
                            return;
                        }
                    }
                }
                let k = key(v["order_id"].as_str(), list);
                let o = orders
                    .entry(k.clone())
                    .or_insert_with(|| order_of(k.clone()));
                o.blocked_total += 1;
                let day = time.get(..10).unwrap_or(time).to_string();
                *o.blocked_per_day.entry(day).or_default() += 1;
                let group = v["group"].as_str().unwrap_or(crate::policy::DEFAULT_GROUP);
                *o.blocked_per_group.entry(group.to_string()).or_default() += 1;
            })?;
            if found {
                query_logs.push(f.display().to_string());
            }
        }
    }

    Ok(Report {
        generated: rfc3339(now.max(0) as u64),
        since: since.map(|t| rfc3339(t.max(0) as u64)),
        audit_log: cfg.audit_log.as_ref().map(|p| p.display().to_string()),
        query_logs,
        unreadable_lines: unreadable,
        orders: orders.into_values().collect(),
    })
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

impl Report {
    /// The report in `format`.
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            ReportFormat::Md => self.markdown(),
            ReportFormat::Csv => self.csv(),
        }
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# dnsward compliance report\n");
        let _ = writeln!(out, "- Generated: {}", self.generated);
        let _ = writeln!(
            out,
            "- Period: from {} to {}",
            self.since
                .as_deref()
                .unwrap_or("the first line of the logs"),
            self.generated
        );
        let _ = writeln!(out, "- Audit log: {}", or_dash(&self.audit_log));
        let _ = writeln!(
            out,
            "- Query log files: {}",
            if self.query_logs.is_empty() {
                "-".to_string()
            } else {
                self.query_logs.join(", ")
            }
        );
        if self.unreadable_lines > 0 {
            let _ = writeln!(
                out,
                "- Unreadable query log lines (left out): {}",
                self.unreadable_lines
            );
        }
        for o in &self.orders {
            let _ = writeln!(
                out,
                "\n## Order {} (list {})\n",
                o.order_id.as_deref().unwrap_or("(none)"),
                o.list
            );
            let _ = writeln!(out, "| | |\n|---|---|");
            let _ = writeln!(out, "| State | {} |", o.state);
            let _ = writeln!(out, "| Effective from | {} |", or_dash(&o.effective_from));
            let _ = writeln!(out, "| Expires at | {} |", or_dash(&o.expires_at));
            let _ = writeln!(
                out,
                "| Entries now | {} |",
                o.entries_now.map_or("-".into(), |n| n.to_string())
            );
            let _ = writeln!(out, "| SHA-256 now | {} |", or_dash(&o.sha256_now));
            let _ = writeln!(out, "| First enforced | {} |", or_dash(&o.first_enforced));
            let _ = writeln!(out, "| Blocked queries | {} |", o.blocked_total);
            if !o.changes.is_empty() {
                let _ = writeln!(out, "\n### Changes\n");
                let _ = writeln!(out, "| Time | Event | Added | Removed | Entries | SHA-256 | Note |\n|---|---|---|---|---|---|---|");
                for c in &o.changes {
                    let note = match (&c.reason, c.forced) {
                        (Some(r), _) => format!("refused: {r}"),
                        (None, true) => "forced".into(),
                        (None, false) => String::new(),
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        c.time, c.event, c.added, c.removed, c.entries, c.sha256, note
                    );
                }
            }
            if !o.blocked_per_day.is_empty() {
                let _ = writeln!(out, "\n### Blocked queries per day (UTC)\n");
                let _ = writeln!(out, "| Day | Blocked |\n|---|---|");
                for (d, n) in &o.blocked_per_day {
                    let _ = writeln!(out, "| {d} | {n} |");
                }
            }
            // Only with policy groups: otherwise every query is `default`.
            if o.blocked_per_group
                .keys()
                .any(|g| g != crate::policy::DEFAULT_GROUP)
            {
                let _ = writeln!(out, "\n### Blocked queries per policy group\n");
                let _ = writeln!(out, "| Group | Blocked |\n|---|---|");
                for (g, n) in &o.blocked_per_group {
                    let _ = writeln!(out, "| {g} | {n} |");
                }
            }
        }
        out
    }

    fn csv(&self) -> String {
        fn field(s: &str) -> String {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        let mut out =
            String::from("order_id,list,record,time,event,added,removed,entries,sha256,blocked\n");
        for o in &self.orders {
            let id = field(o.order_id.as_deref().unwrap_or(""));
            let list = field(&o.list);
            let _ = writeln!(
                out,
                "{id},{list},summary,{},{},,,{},{},{}",
                o.first_enforced.as_deref().unwrap_or(""),
                o.state,
                o.entries_now.map_or(String::new(), |n| n.to_string()),
                o.sha256_now.as_deref().unwrap_or(""),
                o.blocked_total
            );
            for c in &o.changes {
                let _ = writeln!(
                    out,
                    "{id},{list},change,{},{},{},{},{},{},",
                    c.time,
                    field(&c.event),
                    c.added,
                    c.removed,
                    c.entries,
                    c.sha256
                );
            }
            for (d, n) in &o.blocked_per_day {
                let _ = writeln!(out, "{id},{list},blocked_day,{d},,,,,,{n}");
            }
            for (g, n) in &o.blocked_per_group {
                let _ = writeln!(out, "{id},{list},blocked_group,,{},,,,,{n}", field(g));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_day_or_a_time() {
        assert_eq!(parse_since("2026-12-01").ok(), Some(1_796_083_200));
        assert_eq!(
            parse_since("2026-12-01T00:00:01Z").ok(),
            Some(1_796_083_201)
        );
        assert!(parse_since("yesterday").is_err());
    }
}
