//! List file parsers. The first byte picks the format (domains, hosts, or
//! auto = what `sniff` says), the rest is the file.
//!
//! Invariants checked (besides "nothing panics"):
//! - `sniff` never answers `Auto`; the report names the format used;
//! - every entry's name is 1..=253 bytes of lowercase LDH/`_` ASCII without
//!   empty labels or labels over 63 bytes, not an IP address, and
//!   re-normalises to itself;
//! - entries come in line order, with valid line numbers, and their count
//!   is `report.accepted`;
//! - `report.lines` is the number of lines in the input, and every line is
//!   accounted for exactly once: comment/blank, placeholder, rejected, or
//!   (only) accepted; a hosts line with good and bad names is both
//!   rejected and has entries;
//! - kept rejects are the first `MAX_KEPT_REJECTS`, in line order;
//! - every entry goes into a `DomainSetBuilder`, and the finished set finds
//!   each one with at least its coverage and its first line.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

use dnsward::policy::matcher::{DomainSetBuilder, LookupKey};
use dnsward::policy::parse::{normalize_name, parse_reader, sniff, Coverage, Entry, Format, MAX_KEPT_REJECTS};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let sniffed = sniff(text);
    assert_ne!(sniffed, Format::Auto, "sniff answered Auto");
    let format = match selector % 3 {
        0 => Format::Domains,
        1 => Format::Hosts,
        _ => sniffed,
    };

    let mut entries: Vec<Entry> = Vec::new();
    let report = parse_reader(text, Path::new("fuzz"), format, &mut |e| entries.push(e))
        .expect("reading from a slice cannot fail");
    assert_eq!(report.format, Some(format));

    // Line count.
    let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    let expected_lines = newlines + u64::from(!text.is_empty() && !text.ends_with(b"\n"));
    assert_eq!(report.lines, expected_lines, "report.lines");

    // Entries.
    assert_eq!(entries.len() as u64, report.accepted, "entries emitted != accepted");
    let mut last_line = 0;
    for e in &entries {
        let n = e.name.as_bytes();
        assert!(!n.is_empty(), "empty name at line {}", e.line);
        assert!(n.len() <= 253, "name over 253 bytes at line {}", e.line);
        assert!(
            n.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_' || *b == b'.'),
            "bad byte in {:?}",
            e.name
        );
        assert!(
            e.name.split('.').all(|l| !l.is_empty() && l.len() <= 63),
            "bad label in {:?}",
            e.name
        );
        assert!(e.name.parse::<IpAddr>().is_err(), "IP address accepted: {:?}", e.name);
        assert_eq!(normalize_name(&e.name).as_deref(), Ok(e.name.as_str()));
        assert!(e.coverage.below, "entry covers nothing below itself");
        if format == Format::Hosts {
            assert_eq!(e.coverage, Coverage::SUBTREE);
        }
        assert!(e.line >= 1 && u64::from(e.line) <= report.lines);
        assert!(e.line >= last_line, "entries out of line order");
        last_line = e.line;
        // The parsed name must survive the lookup key unchanged.
        let key = LookupKey::from_dotted(&e.name);
        assert_eq!(key.name_bytes(), n);
    }

    // Every line accounted for.
    assert_eq!(report.rejects.len() as u64, report.rejected.min(MAX_KEPT_REJECTS as u64));
    assert!(report.rejects.windows(2).all(|w| w[0].line < w[1].line), "rejects not in line order");
    let entry_lines: BTreeSet<u32> = entries.iter().map(|e| e.line).collect();
    let others = report.comments + report.skipped + report.rejected;
    assert!(others <= report.lines, "more comment/skipped/rejected lines than lines");
    assert!(others + entry_lines.len() as u64 >= report.lines, "some line is not accounted for");
    if report.rejected <= MAX_KEPT_REJECTS as u64 && report.lines < u64::from(u32::MAX) {
        let rejected_lines: BTreeSet<u32> = report.rejects.iter().map(|r| r.line).collect();
        let only_accepted = entry_lines.difference(&rejected_lines).count() as u64;
        assert_eq!(others + only_accepted, report.lines, "line accounting");
        if format == Format::Domains {
            assert!(entry_lines.is_disjoint(&rejected_lines));
        }
    }
    if format == Format::Domains {
        // (A hosts line with good and bad names is counted as rejected and
        // still yields entries, so there `others` may equal `lines`.)
        if report.accepted > 0 {
            assert!(others < report.lines, "accepted entries but no line left for them");
        }
        assert_eq!(entry_lines.len(), entries.len(), "two domains entries on one line");
        assert_eq!(report.skipped, 0, "domains format skipped a placeholder");
    }
    for line in report.reject_lines() {
        assert!(line.starts_with("fuzz:"));
    }

    // Into a set, and back out.
    let mut builder = DomainSetBuilder::default();
    let mut want: BTreeMap<&str, (Coverage, u32)> = BTreeMap::new();
    for e in &entries {
        builder.insert(&e.name, e.coverage, e.line).expect("insert a parsed name");
        let w = want.entry(&e.name).or_insert((Coverage { exact: false, below: false }, e.line));
        w.0.exact |= e.coverage.exact;
        w.0.below |= e.coverage.below;
    }
    assert_eq!(builder.len(), want.len());
    let set = builder.finish();
    assert_eq!(set.len(), want.len());
    for (name, (cov, line)) in &want {
        let hit = set.get_name(name).unwrap_or_else(|| panic!("{name:?} not found after insert"));
        assert_eq!(hit.coverage, *cov, "coverage of {name:?}");
        assert_eq!(hit.line, *line, "line of {name:?}");
    }
    assert_eq!(set.iter().count(), want.len());
});
