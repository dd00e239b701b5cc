//! `explain`: every rule of every list that covers a name, with the line,
//! the scope and the effect, for the CLI and the HTTP endpoint.

use std::net::IpAddr;
use std::sync::Arc;

use super::compile::CompiledList;
use super::decide::{Decision, Policy};
use super::groups::Groups;
use super::matcher::LookupKey;
use super::parse;
use super::rule::{EntryAction, Scope};
use crate::config::{ListKind, ListMode, ListState};

impl Policy {
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
    /// The policy groups that add the list; empty when it applies to
    /// every client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// False when the list does not apply to the explained client's group
    /// (the rule matched but cannot decide for that client).
    pub applies: bool,
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
            groups: Vec::new(),
            applies: true,
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
    /// The client explained, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The policy group whose lists decided (`default`: clients in no
    /// group, or every client when no groups are configured).
    pub group: String,
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
        self.explain_for(name, &Groups::none(), None)
    }

    /// [`Policy::explain_name`] for a client: the decision over the lists
    /// of its policy group (without a client, the default group's: the
    /// lists no group names), each matching rule saying which groups add
    /// its list and whether it applies.
    pub fn explain_for(
        &self,
        name: &str,
        groups: &Groups,
        client: Option<IpAddr>,
    ) -> Result<Explanation, String> {
        let name = explain_query_name(name)?;
        let key = LookupKey::from_dotted(&name);
        let chain = self.explain(&key);
        // No client: the default group, an address no group holds.
        let group = match client {
            Some(c) => groups.of(c),
            None => groups.of_default(),
        };
        let v = self.decide_for(&key, group);
        let index = |list: &CompiledList| {
            (0..self.lists.len()).find(|&i| {
                self.loaded(i)
                    .is_some_and(|l| std::ptr::eq(l.as_ref(), list))
            })
        };
        let view = |m: &Match| {
            let mut r = RuleView::from(m);
            if let Some(i) = index(&m.list) {
                r.groups = groups.naming(i).into_iter().map(String::from).collect();
                r.applies = group.applies(i);
            }
            r
        };
        let find = |list: &CompiledList, line: u32| {
            chain
                .iter()
                .find(|m| std::ptr::eq(m.list.as_ref(), list) && m.line == line)
                .map(view)
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
            client: client.map(|c| c.to_string()),
            group: group.name.to_string(),
            decided_by,
            chain: chain.iter().map(view).collect(),
        })
    }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = |r: &RuleView| {
            let groups = if r.groups.is_empty() {
                String::new()
            } else {
                format!(" [groups {}]", r.groups.join(", "))
            };
            let applies = if r.applies {
                ""
            } else {
                ", not applied to this group"
            };
            format!(
                "{} list {}{groups} `{}`{} ({}:{}){}: {}{applies}",
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
        if let Some(c) = &self.client {
            writeln!(f, "  client {c}: group {}", self.group)?;
        }
        for r in &self.chain {
            writeln!(f, "  matched: {}", rule(r))?;
        }
        Ok(())
    }
}
