//! List file parsers. The first byte picks the format (`Format::ALL`, or
//! auto = what `sniff` says), the rest is the file.
//!
//! Invariants checked (besides "nothing panics"):
//! - `sniff` never answers `Auto`; the report names the format used;
//! - every entry's name is 1..=253 bytes of lowercase LDH/`_` ASCII without
//!   empty labels or labels over 63 bytes, not an IP address, and
//!   re-normalises to itself; `pipeline::dotted_name` turns it into the
//!   same labels (the blocked answer's SOA owner); a hosts file's entries
//!   are never its placeholders (`localhost`, single-label `ip6-*`...);
//!   entries come in line order with valid line numbers, and their count is
//!   `report.accepted`;
//! - local data follows an entry for the same name, its CNAME target is a
//!   normalised name `dotted_name` accepts, TXT data is at most 255 bytes,
//!   and it can be served (`Sinkhole::apply` + encode);
//! - `report.lines` is the number of lines of the input, `report.balanced()`
//!   (each line is exactly one of: entry line, comment, skipped, rejected),
//!   `entry_lines` is the number of distinct lines with entries, kept
//!   rejects are the first `MAX_KEPT_REJECTS` in line order, and the SHA-256
//!   is 64 lowercase hex digits;
//! - every entry goes into a `DomainSetBuilder`; the finished set holds, per
//!   name, the first rule of each scope (action and line), `get_name`
//!   finds it, `iter` lists exactly the names, and `lookup` (anchor early
//!   exit) agrees with a walk over every suffix, for each name and a child.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;

use dnsward::config::SinkholeConfig;
use dnsward::pipeline::dotted_name;
use dnsward::policy::matcher::{DomainSet, DomainSetBuilder, Hit, LookupKey};
use dnsward::policy::parse::{
    normalize_name, parse_reader, sniff, EntryAction, Format, Item, LocalData, Scope,
    MAX_KEPT_REJECTS,
};
use dnsward::sinkhole::{Effect, Sinkhole};

#[derive(Debug)]
struct Got {
    name: String,
    scope: Scope,
    action: EntryAction,
    line: u32,
}

/// The most specific covering suffix, probing every suffix.
fn walk(set: &DomainSet, key: &LookupKey) -> Option<(usize, Hit)> {
    key.suffixes()
        .filter_map(|s| set.covers(&s).map(|h| (s.depth, h)))
        .last()
}

/// pipeline/mod.rs builds answer names from list text (the synthetic SOA's
/// owner, RPZ CNAME rewrite targets) with `dotted_name`: it must succeed
/// for every normalised name and keep its labels. (Names with a label
/// starting with `-` are fine: regress-domains-leading-hyphen,
/// regress-rpz-cname-leading-hyphen.)
fn pipeline_name(name: &str, what: &str) -> Name {
    let n = dotted_name(name)
        .unwrap_or_else(|| panic!("{what} {name:?} is not usable by the pipeline"));
    assert!(n.is_fqdn());
    assert!(
        n.iter().eq(name.split('.').map(str::as_bytes)),
        "{what} {name:?} became {n}"
    );
    n
}

/// Names hosts files carry for the local machine, which the hosts parser
/// skips (trailing dot or not; `ip6-*` only as a single label).
fn hosts_placeholder(name: &str) -> bool {
    matches!(
        name,
        "localhost" | "localhost.localdomain" | "broadcasthost" | "local"
    ) || (name.starts_with("ip6-") && !name.contains('.'))
}

/// A normalised name as a hickory `Name`, label by label (any byte).
fn wire_name(name: &str) -> Name {
    Name::from_labels(name.split('.').map(str::as_bytes)).expect("normalised name is a DNS name")
}

fn check_lookup(set: &DomainSet, dotted: &str) {
    let key = LookupKey::from_dotted(dotted);
    assert_eq!(
        set.lookup(&key),
        walk(set, &key),
        "lookup({dotted:?}) != walk over covers"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let sniffed = sniff(text);
    assert_ne!(sniffed, Format::Auto, "sniff answered Auto");
    let format = Format::ALL
        .get(usize::from(selector))
        .copied()
        .unwrap_or(sniffed);

    let mut entries: Vec<Got> = Vec::new();
    let mut locals: Vec<(String, bool, u32, LocalData)> = Vec::new();
    let report = parse_reader(text, Path::new("fuzz"), format, &mut |item| match item {
        Item::Entry(e) => entries.push(Got {
            name: e.name.to_string(),
            scope: e.scope,
            action: e.action,
            line: e.line,
        }),
        Item::Local {
            name,
            below,
            ttl,
            data,
        } => {
            let last = entries.last().expect("local data before any entry");
            assert_eq!(
                last.name, name,
                "local data for another name than the last entry"
            );
            assert_eq!(last.action, EntryAction::LocalData);
            assert_eq!(last.scope == Scope::Below, below);
            locals.push((name.to_string(), below, ttl, data));
        }
    })
    .expect("reading from a slice cannot fail");
    assert_eq!(report.format, Some(format));
    assert_eq!(report.sha256.len(), 64);
    assert!(report
        .sha256
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

    // Line accounting.
    let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    let expected_lines = newlines + u64::from(!text.is_empty() && !text.ends_with(b"\n"));
    assert_eq!(report.lines, expected_lines, "report.lines");
    assert!(report.balanced(), "unbalanced report: {report:?}");
    let entry_lines: BTreeSet<u32> = entries.iter().map(|e| e.line).collect();
    assert_eq!(report.entry_lines, entry_lines.len() as u64, "entry_lines");
    assert_eq!(
        entries.len() as u64,
        report.accepted,
        "entries emitted != accepted"
    );
    assert_eq!(
        report.rejects.len() as u64,
        report.rejected.min(MAX_KEPT_REJECTS as u64)
    );
    assert!(
        report.rejects.windows(2).all(|w| w[0].line < w[1].line),
        "rejects not in line order"
    );
    assert!(report.ip_literals <= report.rejected);
    let rejected_lines: BTreeSet<u32> = report.rejects.iter().map(|r| r.line).collect();
    assert!(
        entry_lines.is_disjoint(&rejected_lines),
        "a line is both an entry line and rejected"
    );
    for line in report.reject_lines() {
        assert!(line.starts_with("fuzz:"));
    }

    // Entries.
    let mut last_line = 0;
    for e in &entries {
        let n = e.name.as_bytes();
        assert!(!n.is_empty(), "empty name at line {}", e.line);
        assert!(n.len() <= 253, "name over 253 bytes at line {}", e.line);
        assert!(
            n.iter().all(|b| b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'-' | b'_' | b'.')),
            "bad byte in {:?}",
            e.name
        );
        assert!(
            e.name.split('.').all(|l| !l.is_empty() && l.len() <= 63),
            "bad label in {:?}",
            e.name
        );
        assert!(
            e.name.parse::<IpAddr>().is_err(),
            "IP address accepted: {:?}",
            e.name
        );
        assert_eq!(normalize_name(&e.name).as_deref(), Ok(e.name.as_str()));
        assert!(e.line >= 1 && u64::from(e.line) <= report.lines);
        assert!(e.line >= last_line, "entries out of line order");
        last_line = e.line;
        match format {
            Format::Hosts | Format::Urls => {
                assert_eq!((e.scope, e.action), (Scope::Subtree, EntryAction::List))
            }
            Format::Domains => {
                assert_ne!(e.scope, Scope::Exact);
                assert_eq!(e.action, EntryAction::List);
            }
            Format::Adblock => {
                assert_ne!(e.scope, Scope::Below);
                assert!(matches!(
                    e.action,
                    EntryAction::List | EntryAction::Passthru
                ));
            }
            Format::Rpz => {
                assert_ne!(e.scope, Scope::Subtree);
                assert_ne!(e.action, EntryAction::List);
            }
            Format::Auto => unreachable!(),
        }
        if format != Format::Hosts {
            assert_eq!(
                entries.iter().filter(|x| x.line == e.line).count(),
                1,
                "two entries on one line"
            );
        }
        let key = LookupKey::from_dotted(&e.name);
        assert_eq!(key.name_bytes(), n);
        // pipeline/mod.rs builds the synthetic SOA's owner with
        // `dotted_name(zone_text)` and falls back to the root when that
        // fails.
        pipeline_name(&e.name, "accepted name (SOA owner)");
        if format == Format::Hosts {
            assert!(
                !hosts_placeholder(&e.name),
                "hosts placeholder {:?} became an entry",
                e.name
            );
        }
    }

    // Local data can be served.
    let sinkhole = Sinkhole::new(&SinkholeConfig::default());
    for (name, below, ttl, d) in &locals {
        if let LocalData::Cname(t) = d {
            assert_eq!(
                normalize_name(t).as_deref(),
                Ok(t.as_str()),
                "CNAME target not normalised"
            );
            // pipeline/mod.rs: `dotted_name(t)`; on failure the rewrite
            // silently becomes NODATA.
            pipeline_name(t, "CNAME target");
            continue;
        }
        // TXT over 255 bytes is rejected at parse time (regress-rpz-long-txt):
        // one character-string is all the pipeline sends.
        if let LocalData::Txt(t) = d {
            assert!(
                t.len() <= 255,
                "TXT local data of {} bytes accepted",
                t.len()
            );
        }
        let zone = wire_name(name);
        let qname = if *below {
            wire_name(&format!("x.{name}"))
        } else {
            zone.clone()
        };
        let mut resp = Message::response(1, OpCode::Query);
        let records = [(*ttl, d.clone())];
        sinkhole.apply(
            &mut resp,
            &qname,
            RecordType::ANY,
            &Effect::Local(&records),
            zone,
            300,
        );
        if let Err(e) = resp.to_vec() {
            panic!("local data {d:?} of {name:?} cannot be served: {e}");
        }
    }

    // Into a set, and back out. Expected: per name, the first rule of each
    // scope (a `Subtree` rule is both).
    let mut builder = DomainSetBuilder::default();
    let mut want: BTreeMap<&str, (Option<Hit>, Option<Hit>)> = BTreeMap::new();
    for e in &entries {
        builder
            .insert(&e.name, e.scope, e.action, e.line)
            .expect("insert a parsed name");
        let w = want.entry(&e.name).or_default();
        let hit = Hit {
            action: e.action,
            line: e.line,
        };
        if matches!(e.scope, Scope::Exact | Scope::Subtree) && w.0.is_none() {
            w.0 = Some(hit);
        }
        if matches!(e.scope, Scope::Below | Scope::Subtree) && w.1.is_none() {
            w.1 = Some(hit);
        }
    }
    assert_eq!(builder.len(), want.len());
    let set = builder.finish().expect("finish");
    assert_eq!(set.len(), want.len());
    for (name, rules) in &want {
        let got = set.rules(name);
        // Each scope keeps its own line (regress-exact-after-below-line).
        assert_eq!(got, *rules, "rules of {name:?}");
        let hit = set
            .get_name(name)
            .unwrap_or_else(|| panic!("{name:?} not found after insert"));
        assert_eq!(Some(hit), got.0.or(got.1));
        check_lookup(&set, name);
        if name.len() < 250 {
            check_lookup(&set, &format!("zz.{name}"));
        }
    }
    let listed: BTreeSet<&[u8]> = set.iter().map(|(n, _, _)| n).collect();
    assert_eq!(listed.len(), set.iter().count());
    assert_eq!(
        listed,
        want.keys().map(|k| k.as_bytes()).collect::<BTreeSet<_>>()
    );
    for (name, exact, below) in set.iter() {
        assert!(
            exact.is_some() || below.is_some(),
            "entry {:?} without a rule",
            String::from_utf8_lossy(name)
        );
    }
});
