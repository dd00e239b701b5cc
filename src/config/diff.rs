//! What changed between the running configuration and a re-read one, so
//! every SIGHUP reload says in the log what it did ("acl.allow: 2 -> 3
//! networks (+198.51.100.0/24)") and what it could not do without a
//! restart. Silence after an ACL edit left operators guessing whether the
//! new subscriber range was live.
//!
//! Both configs are compared as TOML values, key by key, so a key added to
//! any section is covered without touching this module.

use toml::{Table, Value};

use super::Config;

/// Sections a reload applies to the running server; every other section
/// takes effect at the next start.
pub const LIVE_SECTIONS: &[&str] = &["acl", "ratelimit", "groups"];

/// Keys outside [`LIVE_SECTIONS`] that a reload also applies: what the
/// block page says (its listeners and certificate need a restart).
pub const LIVE_KEYS: &[&str] = &[
    "blockpage.authority_url",
    "blockpage.appeal",
    "blockpage.template",
    "dnssec.negative_trust_anchors",
];

/// Keys whose entries are networks, so counts read "3 networks".
const NETWORK_KEYS: &[&str] = &[
    "acl.allow",
    "acl.deny",
    "ratelimit.exempt",
    "resolver.authority_allow",
];

/// The differences, one human-readable line each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Changes in [`LIVE_SECTIONS`]: in force once the reload returns.
    pub applied: Vec<String>,
    /// Changes elsewhere: written in the file, not in force until restart.
    pub need_restart: Vec<String>,
}

impl Changes {
    /// True when the two configs are the same.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.need_restart.is_empty()
    }
}

/// Compare `old` (running) with `new` (just read).
pub fn changes(old: &Config, new: &Config) -> Changes {
    let (old, new) = (as_table(old), as_table(new));
    let mut out = Changes::default();
    for section in union(&old, &new) {
        let mut lines = Vec::new();
        let (o, n) = (old.get(&section), new.get(&section));
        if section == "lists" || section == "groups" {
            named_changes(&section, o, n, &mut lines);
        } else {
            value_changes(&section, o, n, &mut lines);
        }
        if LIVE_SECTIONS.contains(&section.as_str()) {
            out.applied.extend(lines);
            continue;
        }
        for line in lines {
            if LIVE_KEYS
                .iter()
                .any(|k| line.strip_prefix(k).is_some_and(|r| r.starts_with(':')))
            {
                out.applied.push(line);
            } else {
                out.need_restart.push(line);
            }
        }
    }
    out
}

fn as_table(c: &Config) -> Table {
    // Serializing plain config structs cannot fail; an empty table would
    // only make the log say less.
    Table::try_from(c).unwrap_or_default()
}

fn union(a: &Table, b: &Table) -> Vec<String> {
    let mut keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}

fn value_changes(key: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Some(Value::Table(o)), Some(Value::Table(n))) => {
            for k in union(o, n) {
                value_changes(&format!("{key}.{k}"), o.get(&k), n.get(&k), out);
            }
        }
        (Some(Value::Array(o)), Some(Value::Array(n))) if o.iter().chain(n).all(is_scalar) => {
            let unit = if NETWORK_KEYS.contains(&key) || key.ends_with("].clients") {
                "networks"
            } else {
                "entries"
            };
            let added: Vec<String> = n.iter().filter(|v| !o.contains(v)).map(show).collect();
            let removed: Vec<String> = o.iter().filter(|v| !n.contains(v)).map(show).collect();
            let mut detail: Vec<String> = added.iter().map(|a| format!("+{a}")).collect();
            detail.extend(removed.iter().map(|r| format!("-{r}")));
            let detail = if detail.is_empty() {
                " (reordered)".to_string()
            } else {
                format!(" ({})", detail.join(", "))
            };
            out.push(format!("{key}: {} -> {} {unit}{detail}", o.len(), n.len()));
        }
        (o, n) => out.push(format!("{key}: {} -> {}", show_opt(o), show_opt(n))),
    }
}

/// Lists and groups are matched by name, so inserting one does not read
/// as every later one changing.
fn named_changes(section: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<String>) {
    let by_name = |v: Option<&Value>| -> Vec<(String, Value)> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|l| {
                        let name = l.get("name").map(show).unwrap_or_default();
                        (name, l.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (o, n) = (by_name(old), by_name(new));
    let find = |set: &[(String, Value)], name: &str| {
        set.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    };
    for (name, _) in &o {
        if find(&n, name).is_none() {
            out.push(format!("{section}: removed {name}"));
        }
    }
    for (name, v) in &n {
        match find(&o, name) {
            None => out.push(format!("{section}: added {name}")),
            Some(before) => {
                value_changes(&format!("{section}[{name}]"), Some(&before), Some(v), out)
            }
        }
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Table(_))
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn show_opt(v: Option<&Value>) -> String {
    v.map(show).unwrap_or_else(|| "(unset)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn acl_changes_name_counts_and_networks() {
        let c = changes(
            &cfg("[acl]\nallow = [\"10.0.0.0/8\", \"192.0.2.0/24\"]\n"),
            &cfg("[acl]\nallow = [\"10.0.0.0/8\", \"198.51.100.0/24\", \"2001:db8::/32\"]\n"),
        );
        assert_eq!(
            c.applied,
            vec!["acl.allow: 2 -> 3 networks (+198.51.100.0/24, +2001:db8::/32, -192.0.2.0/24)"]
        );
        assert!(c.need_restart.is_empty());
    }

    #[test]
    fn sections_needing_a_restart_are_told_apart() {
        let c = changes(
            &cfg("[ratelimit]\nqps = 200\n[server]\ntcp_idle_timeout_secs = 10\n"),
            &cfg("[ratelimit]\nqps = 100\n[server]\ntcp_idle_timeout_secs = 20\n[audit]\nlog = \"a.log\"\n"),
        );
        assert_eq!(c.applied, vec!["ratelimit.qps: 200 -> 100"]);
        assert_eq!(
            c.need_restart,
            vec![
                "audit.log: (unset) -> a.log",
                "server.tcp_idle_timeout_secs: 10 -> 20"
            ]
        );
    }

    #[test]
    fn block_page_texts_are_live_its_listeners_are_not() {
        let c = changes(
            &cfg("[blockpage]\nappeal = \"a\"\nlisten = [\"127.0.0.1:80\"]\n"),
            &cfg("[blockpage]\nappeal = \"b\"\nlisten = [\"127.0.0.1:8080\"]\ntemplate = \"p.html\"\n"),
        );
        assert_eq!(
            c.applied,
            vec!["blockpage.appeal: a -> b", "blockpage.template:  -> p.html"]
        );
        assert_eq!(
            c.need_restart,
            vec!["blockpage.listen: 1 -> 1 entries (+127.0.0.1:8080, -127.0.0.1:80)"]
        );
    }

    #[test]
    fn lists_are_matched_by_name() {
        let a = "[[lists]]\nname = \"a\"\npath = \"a.txt\"\n";
        let b = "[[lists]]\nname = \"b\"\npath = \"b.txt\"\naction = \"nxdomain\"\n";
        let b2 = "[[lists]]\nname = \"b\"\npath = \"b.txt\"\n";
        let c = changes(&cfg(&format!("{a}{b}")), &cfg(b2));
        assert_eq!(
            c.need_restart,
            vec!["lists: removed a", "lists[b].action: nxdomain -> sinkhole"]
        );
    }

    #[test]
    fn groups_are_live_and_matched_by_name() {
        let fam = |nets: &str| {
            format!("[[groups]]\nname = \"family\"\nclients = [{nets}]\nlists = [\"adult\"]\n")
        };
        let sec = "[[groups]]\nname = \"secure\"\nclients = [\"10.9.0.0/16\"]\n";
        let c = changes(
            &cfg(&format!("{}{sec}", fam("\"10.8.0.0/16\""))),
            &cfg(&fam("\"10.8.0.0/16\", \"10.7.0.0/16\"")),
        );
        assert_eq!(
            c.applied,
            vec![
                "groups: removed secure",
                "groups[family].clients: 1 -> 2 networks (+10.7.0.0/16)"
            ]
        );
        assert!(c.need_restart.is_empty());
    }

    #[test]
    fn the_same_config_has_no_changes() {
        assert!(changes(&Config::default(), &Config::default()).is_empty());
    }
}
