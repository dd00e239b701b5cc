//! The `rpz` format: a DNS zone file (RFC 8499 response policy zone) read
//! line by line, with `$ORIGIN`/`$TTL`, multi-line records and relative
//! owners.

use super::*;

#[derive(Default)]
pub(super) struct RpzState {
    pub(super) origin: Option<String>,
    /// The zone apex (SOA owner) when it is known; triggers are relative
    /// to it, while relative owners are relative to the current `$ORIGIN`.
    pub(super) apex: Option<String>,
    pub(super) ttl: u32,
    pub(super) last_owner: Option<String>,
    /// Inside a `( ... )` multi-line record.
    pub(super) in_parens: bool,
}

impl Parser {
    pub(super) fn rpz_line(
        &mut self,
        text: &str,
        line: u32,
        r: &mut ParseReport,
        emit: &mut Emit<'_>,
    ) {
        let t = strip_rpz_comment(text);
        if self.rpz.in_parens {
            if t.contains(')') {
                self.rpz.in_parens = false;
            }
            r.comments += 1;
            return;
        }
        if t.trim().is_empty() {
            r.comments += 1;
            return;
        }
        let starts_blank = t.starts_with(' ') || t.starts_with('\t');
        let fields: Vec<&str> = t.split_whitespace().collect();
        if let Some(directive) = fields.first().filter(|f| f.starts_with('$')) {
            self.directive(directive, fields.get(1).copied(), line, r);
            return;
        }
        // owner [ttl] [class] type rdata...
        let mut i = 0;
        let owner = if starts_blank {
            match &self.rpz.last_owner {
                Some(o) => o.clone(),
                None => {
                    r.reject(line, "record without an owner name");
                    return;
                }
            }
        } else {
            i = 1;
            fields[0].to_string()
        };
        let mut ttl = self.rpz.ttl;
        while let Some(f) = fields.get(i) {
            if let Ok(n) = f.parse::<u32>() {
                ttl = n;
                i += 1;
            } else if matches!(f.to_ascii_uppercase().as_str(), "IN" | "CH" | "HS") {
                i += 1;
            } else {
                break;
            }
        }
        let Some(rtype) = fields.get(i).map(|f| f.to_ascii_uppercase()) else {
            r.reject(line, "record without a type");
            return;
        };
        let rdata = &fields[i + 1..];
        if t.contains('(') && !t.contains(')') {
            self.rpz.in_parens = true;
        }
        self.rpz.last_owner = Some(owner.clone());
        if rtype == "SOA" {
            let apex = match (owner.strip_suffix('.'), &self.rpz.origin) {
                (Some(abs), _) => Some(abs.to_ascii_lowercase()),
                (None, Some(o)) => Some(absolute(&owner, o)),
                (None, None) => None,
            };
            if self.rpz.origin.is_none() {
                self.rpz.origin.clone_from(&apex);
            }
            self.rpz.apex = apex;
            r.comments += 1;
            return;
        }
        // The trigger: the owner relative to the zone origin.
        let trigger = match self.trigger(&owner) {
            Ok(Some(t)) => t,
            Ok(None) => {
                // Zone apex records (NS): housekeeping.
                r.comments += 1;
                return;
            }
            Err(e) => {
                r.reject(line, e);
                return;
            }
        };
        let lower = trigger.to_ascii_lowercase();
        for special in ["rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip"] {
            if lower == special
                || lower.ends_with(&format!(".{special}"))
                || lower.starts_with(&format!("{special}."))
            {
                r.reject_unsupported(
                    line,
                    format!("{special} trigger is not supported yet; rule not applied"),
                );
                return;
            }
        }
        let (name, below) = match trigger.strip_prefix("*.") {
            Some(rest) => (rest.to_string(), true),
            None if trigger == "*" => {
                r.reject_unsupported(
                    line,
                    "root wildcard `*` would match every name; not applied",
                );
                return;
            }
            None => (trigger, false),
        };
        let scope = if below { Scope::Below } else { Scope::Exact };
        let Some((action, data)) = self.rule_action(&rtype, rdata, line, r) else {
            return;
        };
        if let Err(e) = self.accept(&name, scope, action, line, r, emit) {
            Self::reject(r, line, e);
            return;
        }
        if let Some(data) = data {
            emit(Item::Local {
                name: &self.name,
                below,
                ttl,
                data,
            });
        }
    }

    /// A `$ORIGIN`, `$TTL` or other `$` directive line.
    fn directive(&mut self, directive: &str, arg: Option<&str>, line: u32, r: &mut ParseReport) {
        match directive.to_ascii_uppercase().as_str() {
            "$ORIGIN" => match arg {
                Some(o) => {
                    let o = o.trim_end_matches('.').to_ascii_lowercase();
                    self.rpz.origin = Some(o);
                    r.comments += 1;
                }
                None => r.reject(line, "$ORIGIN without a name"),
            },
            "$TTL" => match arg.and_then(|v| v.parse().ok()) {
                Some(ttl) => {
                    self.rpz.ttl = ttl;
                    r.comments += 1;
                }
                None => r.reject(line, "$TTL without a number"),
            },
            "$INCLUDE" => r.reject_unsupported(line, "$INCLUDE is not supported: inline the file"),
            other => r.reject(line, format!("unknown directive {other}")),
        }
    }

    /// What an RPZ record of type `rtype` (upper case) with `rdata` does:
    /// the action and any local data, or None once the line is rejected.
    fn rule_action(
        &self,
        rtype: &str,
        rdata: &[&str],
        line: u32,
        r: &mut ParseReport,
    ) -> Option<(EntryAction, Option<LocalData>)> {
        let local = |data: LocalData| (EntryAction::LocalData, Some(data));
        let rule = match rtype {
            "NS" | "DNAME" if rtype == "DNAME" => {
                r.reject_unsupported(line, "DNAME policy records are not supported");
                return None;
            }
            "NS" => {
                r.reject(line, "NS record below the zone apex: not a policy rule");
                return None;
            }
            "CNAME" => {
                let target = rdata
                    .first()
                    .copied()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                match target.as_str() {
                    "." => (EntryAction::Nxdomain, None),
                    "*." => (EntryAction::Nodata, None),
                    "rpz-passthru." | "rpz-passthru" => (EntryAction::Passthru, None),
                    "rpz-drop." | "rpz-drop" => (EntryAction::Drop, None),
                    "rpz-tcp-only." | "rpz-tcp-only" => (EntryAction::TcpOnly, None),
                    "" => {
                        r.reject(line, "CNAME without a target");
                        return None;
                    }
                    t if t.starts_with("*.") => {
                        r.reject_unsupported(
                            line,
                            "wildcard CNAME rewrite (`*.target`) is not supported",
                        );
                        return None;
                    }
                    t => {
                        let abs = if t.ends_with('.') {
                            t.trim_end_matches('.').to_string()
                        } else {
                            match &self.rpz.origin {
                                Some(o) => format!("{t}.{o}"),
                                None => t.to_string(),
                            }
                        };
                        match normalize_name(&abs) {
                            Ok(n) => local(LocalData::Cname(n)),
                            Err(e) => {
                                r.reject(line, format!("CNAME target: {e}"));
                                return None;
                            }
                        }
                    }
                }
            }
            "A" => match rdata.first().and_then(|v| v.parse::<Ipv4Addr>().ok()) {
                Some(a) => local(LocalData::A(a)),
                None => {
                    r.reject(line, "A record without a valid IPv4 address");
                    return None;
                }
            },
            "AAAA" => match rdata.first().and_then(|v| v.parse::<Ipv6Addr>().ok()) {
                Some(a) => local(LocalData::Aaaa(a)),
                None => {
                    r.reject(line, "AAAA record without a valid IPv6 address");
                    return None;
                }
            },
            "TXT" => {
                let joined = rdata.join(" ");
                let text = joined.trim_matches('"');
                if text.len() > 255 {
                    r.reject_unsupported(line, "TXT local data over 255 bytes cannot be sent");
                    return None;
                }
                local(LocalData::Txt(text.to_string()))
            }
            other => {
                r.reject_unsupported(
                    line,
                    format!("local data of type {other} is not supported (A, AAAA, TXT, CNAME)"),
                );
                return None;
            }
        };
        Some(rule)
    }

    /// Owner name -> trigger name relative to the zone apex (the SOA
    /// owner, else the origin). `Ok(None)` for the apex itself.
    fn trigger(&self, owner: &str) -> Result<Option<String>, String> {
        let origin = self.rpz.origin.as_deref();
        let apex = self.rpz.apex.as_deref().or(origin);
        let abs = match (owner.strip_suffix('.'), origin) {
            (Some(abs), _) => abs.to_ascii_lowercase(),
            // Relative to an origin that is the apex (the usual case), or
            // to an unknown one: the owner is the trigger as written.
            (None, None) => return Ok((owner != "@").then(|| owner.to_string())),
            (None, Some(o)) if Some(o) == apex => {
                return Ok((owner != "@").then(|| owner.to_string()))
            }
            // `$ORIGIN` moved away from the apex (`$ORIGIN example.com.`
            // before `rpz SOA ...`).
            (None, Some(o)) => absolute(owner, o),
        };
        match apex {
            Some(z) if abs == z => Ok(None),
            Some(z) => match abs.strip_suffix(&format!(".{z}")) {
                Some(rel) => Ok(Some(rel.to_string())),
                None => Err(format!("`{owner}` is outside the policy zone `{z}.`")),
            },
            None => Err(format!(
                "`{owner}` is absolute but the zone has no origin ($ORIGIN or SOA)"
            )),
        }
    }
}

/// A relative owner (or `@`) made absolute against `origin`, lowercase,
/// without the trailing dot.
fn absolute(owner: &str, origin: &str) -> String {
    match owner {
        "@" => origin.to_string(),
        _ if origin.is_empty() => owner.to_ascii_lowercase(),
        _ => format!("{}.{origin}", owner.to_ascii_lowercase()),
    }
}

fn strip_rpz_comment(line: &str) -> &str {
    // `;` starts a comment unless inside quotes.
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line.trim_end_matches(['\r', '\n'])
}
