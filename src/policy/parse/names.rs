//! The name-per-line formats: `domains`, `hosts`, `adblock` and `urls`.

use super::*;

impl Parser {
    pub(super) fn domains(
        &mut self,
        text: &str,
        line: u32,
        r: &mut ParseReport,
        emit: &mut Emit<'_>,
    ) {
        let t = strip_hash_comment(text).trim();
        if t.is_empty() {
            r.comments += 1;
            return;
        }
        if t.split_whitespace().nth(1).is_some() {
            r.reject(line, "more than one field (is this a hosts file?)");
            return;
        }
        let (raw, scope) = match t.strip_prefix("*.") {
            Some(rest) => (rest, Scope::Below),
            None => (t, Scope::Subtree),
        };
        if let Err(e) = self.accept(raw, scope, EntryAction::List, line, r, emit) {
            Self::reject(r, line, e);
        }
    }

    pub(super) fn hosts(
        &mut self,
        text: &str,
        line: u32,
        r: &mut ParseReport,
        emit: &mut Emit<'_>,
    ) {
        let t = strip_hash_comment(text).trim();
        if t.is_empty() {
            r.comments += 1;
            return;
        }
        let mut fields = t.split_whitespace();
        let addr = fields.next().unwrap_or_default();
        // A scoped IPv6 address (`fe80::1%lo0` in hosts-file headers) is
        // still an address.
        let bare = addr.split_once('%').map_or(addr, |(a, _)| a);
        if bare.parse::<IpAddr>().is_err() {
            r.reject(
                line,
                format!("`{addr}` is not an IP address (hosts format)"),
            );
            return;
        }
        let (mut any, mut bad, mut placeholder) = (false, None, false);
        for name in fields {
            if is_hosts_placeholder(name) {
                placeholder = true;
                continue;
            }
            match self.accept(name, Scope::Subtree, EntryAction::List, line, r, emit) {
                Ok(()) => any = true,
                Err(e) => bad = Some(e),
            }
        }
        match (any, bad, placeholder) {
            // A line with good and bad names keeps the good ones; it is an
            // entry line, and the bad name is only logged via the count of
            // accepted names being lower than the fields.
            (true, _, _) => {}
            (false, Some(e), _) => Self::reject(r, line, e),
            (false, None, true) => r.skipped += 1,
            (false, None, false) => r.reject(line, "address without a name"),
        }
    }

    pub(super) fn adblock(
        &mut self,
        text: &str,
        line: u32,
        r: &mut ParseReport,
        emit: &mut Emit<'_>,
    ) {
        let t = text.trim();
        if t.is_empty() || t.starts_with('!') || t.starts_with('#') || t.starts_with('[') {
            r.comments += 1;
            return;
        }
        if t.contains("##") || t.contains("#@#") || t.contains("#?#") || t.contains("#$#") {
            r.reject_unsupported(line, "cosmetic (element hiding) rule: not a DNS rule");
            return;
        }
        let (allow, rule) = match t.strip_prefix("@@") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (body, modifiers) = match rule.split_once('$') {
            Some((b, m)) => (b, Some(m)),
            None => (rule, None),
        };
        if let Some(m) = modifiers {
            // Modifiers that do not narrow the rule are harmless; any other
            // would make the DNS block wider than the rule asks.
            if let Some(bad) = m
                .split(',')
                .map(str::trim)
                .find(|m| !matches!(*m, "important" | "all" | ""))
            {
                r.reject_unsupported(
                    line,
                    format!("modifier `${bad}` cannot be honoured by DNS; rule not applied"),
                );
                return;
            }
        }
        if body.starts_with('/') && body.ends_with('/') && body.len() > 1 {
            r.reject_unsupported(line, "regular-expression rule is not supported");
            return;
        }
        let (host, scope) = if let Some(rest) = body.strip_prefix("||") {
            let host = rest.strip_suffix('^').unwrap_or(rest);
            if host.contains('/') || host.contains('^') {
                r.reject_unsupported(line, "rule has a path; DNS can only block whole host names");
                return;
            }
            (host, Scope::Subtree)
        } else if body.starts_with('|') || body.contains('/') {
            r.reject_unsupported(
                line,
                "URL rule; DNS can only block host names (use ||host^)",
            );
            return;
        } else {
            (body.strip_suffix('^').unwrap_or(body), Scope::Exact)
        };
        if host.contains('*') {
            r.reject_unsupported(line, "wildcard inside a name is not supported");
            return;
        }
        let action = if allow {
            EntryAction::Passthru
        } else {
            EntryAction::List
        };
        if let Err(e) = self.accept(host, scope, action, line, r, emit) {
            Self::reject(r, line, e);
        }
    }

    pub(super) fn urls(&mut self, text: &str, line: u32, r: &mut ParseReport, emit: &mut Emit<'_>) {
        let t = strip_hash_comment(text).trim();
        if t.is_empty() {
            r.comments += 1;
            return;
        }
        // CSV exports (`"host","path",...`): the first field is the host.
        let t = if let Some(rest) = t.strip_prefix('"') {
            match rest.split_once('"') {
                Some((first, _)) => first,
                None => rest,
            }
        } else {
            t.split_whitespace().next().unwrap_or(t)
        };
        let host = match url_host(t) {
            Ok(h) => h,
            Err(e) => {
                Self::reject(r, line, e);
                return;
            }
        };
        if host == "host" && text.trim_start().starts_with('"') {
            // CSV header line.
            r.comments += 1;
            return;
        }
        let ascii;
        let host = if host.is_ascii() {
            host
        } else {
            match idna::domain_to_ascii(host) {
                Ok(a) => {
                    ascii = a;
                    ascii.as_str()
                }
                Err(_) => {
                    r.reject(
                        line,
                        format!("`{host}` is not a valid internationalised name"),
                    );
                    return;
                }
            }
        };
        if let Err(e) = self.accept(host, Scope::Subtree, EntryAction::List, line, r, emit) {
            Self::reject(r, line, e);
        }
    }
}

/// The host of a URL-ish string: scheme, userinfo, port, path, query and
/// fragment are stripped. IP literals are refused.
pub fn url_host(s: &str) -> Result<&str, String> {
    let rest = match s.find("://") {
        Some(i) => &s[i + 3..],
        None => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        let inner = v6.split(']').next().unwrap_or(v6);
        return Err(ip_reason(inner));
    }
    let host = match hostport.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => hostport,
    };
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    if host.parse::<IpAddr>().is_ok() || hostport.parse::<IpAddr>().is_ok() {
        return Err(ip_reason(host));
    }
    Ok(host)
}
