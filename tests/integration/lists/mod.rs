//! List parsers against the real public lists in `../shared/data`: every
//! line accounted for, the accepted counts the publishers document (or the
//! reason they differ), `auto` picking the right format, cross-format
//! agreement (the same publisher's list in several syntaxes yields the same
//! names), URL-with-path rules rejected instead of widened, the RPZ zones
//! of unbound's and BIND's own test suites, and a 1M-name aggregate
//! compiled and queried against an independent oracle.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::shared;
use dnsward::config::{ListConfig, ListKind};
use dnsward::policy::matcher::LookupKey;
use dnsward::policy::parse::{
    self, EntryAction, Format, Item, LocalData, ParseOptions, ParseReport, Scope,
};
use dnsward::policy::{check_list, compile_list, Decision, Policy};

mod peers;
mod scale;

/// One parsed entry, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    name: String,
    scope: Scope,
    action: EntryAction,
    line: u32,
}

/// Everything a parse produced.
struct Parsed {
    report: ParseReport,
    entries: Vec<Got>,
    /// (trigger, below, data)
    local: Vec<(String, bool, LocalData)>,
}

impl Parsed {
    fn names(&self) -> BTreeSet<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    fn find(&self, name: &str) -> Vec<&Got> {
        self.entries.iter().filter(|e| e.name == name).collect()
    }

    fn local_for(&self, name: &str) -> Vec<&LocalData> {
        self.local
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, _, d)| d)
            .collect()
    }

    fn reasons(&self) -> Vec<(u32, &str)> {
        self.report
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect()
    }
}

fn data(rel: &str) -> PathBuf {
    let p = shared(rel);
    assert!(
        p.exists(),
        "shared test data missing: {} (tests need ../shared/data beside the checkout)",
        p.display()
    );
    p
}

fn parse_path(path: &Path, format: Format) -> Parsed {
    parse_path_with(path, format, ParseOptions::default())
}

/// The peer suites' test zones use one-label test names (`baddomain`,
/// `*.allowed`): read them as a list with `allow_tld_entries = true`.
const PEER: ParseOptions = ParseOptions {
    allow_tld_entries: true,
};

fn parse_path_with(path: &Path, format: Format, opts: ParseOptions) -> Parsed {
    let mut entries = Vec::new();
    let mut local = Vec::new();
    let report = parse::parse_file_with(path, format, opts, &mut |item| match item {
        Item::Entry(e) => entries.push(Got {
            name: e.name.to_string(),
            scope: e.scope,
            action: e.action,
            line: e.line,
        }),
        Item::Local {
            name, below, data, ..
        } => local.push((name.to_string(), below, data)),
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        report.balanced(),
        "{}: lines not all accounted for: {report:?}",
        path.display()
    );
    assert_eq!(
        report.accepted as usize,
        entries.len(),
        "{}: accepted count vs entries emitted",
        path.display()
    );
    Parsed {
        report,
        entries,
        local,
    }
}

fn parse_rel(rel: &str, format: Format) -> Parsed {
    parse_path(&data(rel), format)
}

/// (lines, accepted, comments, skipped, rejected, ip_literals)
fn counts(r: &ParseReport) -> (u64, u64, u64, u64, u64, u64) {
    (
        r.lines,
        r.accepted,
        r.comments,
        r.skipped,
        r.rejected,
        r.ip_literals,
    )
}

/// Parse `rel` as `format`, check the counts, and check that `auto` (via
/// `check_list`, what `dnsward check-list` and `format = "auto"` use) picks
/// the same format with the same result. Returns the explicit parse.
fn check_file(rel: &str, format: Format, want: (u64, u64, u64, u64, u64, u64)) -> Parsed {
    let p = parse_rel(rel, format);
    assert_eq!(p.report.format, Some(format), "{rel}");
    assert_eq!(
        counts(&p.report),
        want,
        "{rel}: (lines, accepted, comments, skipped, rejected, ip_literals)"
    );
    let (auto, distinct) = check_list(&data(rel), Format::Auto).expect("check_list");
    assert_eq!(
        auto.format,
        Some(format),
        "{rel}: auto sniffed the wrong format"
    );
    assert_eq!(counts(&auto), want, "{rel}: auto parse differs");
    assert_eq!(auto.sha256, p.report.sha256, "{rel}");
    assert_eq!(distinct, p.names().len(), "{rel}: distinct names");
    p
}

fn all_scope(p: &Parsed, scope: Scope, action: EntryAction) {
    if let Some(e) = p
        .entries
        .iter()
        .find(|e| e.scope != scope || e.action != action)
    {
        panic!(
            "{}: expected {scope:?}/{action:?}, got {e:?}",
            p.report.path.display()
        );
    }
}

/// The first significant line of a file that is a plain entry (for
/// spot checks that a known name parsed with its line number).
fn first_entry_line(path: &Path, pick: impl Fn(&str) -> Option<String>) -> (u32, String) {
    let f = std::fs::File::open(path).expect("open");
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .enumerate()
        .find_map(|(i, l)| pick(&l).map(|n| (i as u32 + 1, n)))
        .expect("an entry")
}

// ---------------------------------------------------------------- domains

#[test]
fn stevenblack_unified_domains() {
    // SOURCE.md: 83,808 unique domains (header: "Number of unique domains:
    // 83,808"); the rest are the `#` header and per-source section comments
    // (7,119 lines including blanks).
    let p = check_file(
        "blocklists/stevenblack-unified-domains/unified.domains.txt",
        Format::Domains,
        (90_927, 83_808, 7_119, 0, 0, 0),
    );
    assert_eq!(p.names().len(), 83_808, "entries are unique");
    all_scope(&p, Scope::Subtree, EntryAction::List);
    let (line, name) = first_entry_line(&p.report.path, |l| {
        let t = l.trim();
        (!t.is_empty() && !t.starts_with('#')).then(|| t.to_string())
    });
    assert_eq!(p.entries[0].name, name);
    assert_eq!(p.entries[0].line, line);
}

// ------------------------------------------------------------------ hosts

#[test]
fn onehosts_lite_hosts_and_domains_agree() {
    // SOURCE.md: 73,878 domains "+6 localhost lines". The real header has
    // 14 placeholder lines, all skipped, none blocked: 127.0.0.1 localhost,
    // localhost.localdomain, local; 255.255.255.255 broadcasthost; ::1
    // localhost, ip6-localhost, ip6-loopback; fe80::1%lo0 localhost (a
    // scoped IPv6 address); ff00::0 ip6-localnet, ip6-mcastprefix; ff02::1/2/3
    // ip6-allnodes/allrouters/allhosts; `0.0.0.0 0.0.0.0`.
    let hosts = check_file(
        "blocklists/1hosts-lite-hosts-format/hosts.txt",
        Format::Hosts,
        (73_911, 73_878, 19, 14, 0, 0),
    );
    all_scope(&hosts, Scope::Subtree, EntryAction::List);
    for placeholder in [
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
    ] {
        assert!(
            hosts.find(placeholder).is_empty(),
            "{placeholder} was accepted"
        );
    }
    assert!(hosts.entries.iter().all(|e| !e.name.starts_with("ip6-")));
    let domains = check_file(
        "blocklists/1hosts-lite-hosts-format/domains.txt",
        Format::Domains,
        (73_897, 73_878, 19, 0, 0, 0),
    );
    assert_eq!(hosts.names(), domains.names(), "same list, two syntaxes");
}

#[test]
fn hagezi_2022_hosts_files() {
    // SOURCE.md: fake 14,043, personal 12,305 (header `# Domains:`); the
    // 10 other lines are the `#` header.
    let fake = check_file(
        "blocklists/hagezi-2022-hosts-format/fake.hosts.txt",
        Format::Hosts,
        (14_053, 14_043, 10, 0, 0, 0),
    );
    assert!(!fake.find("11trikots.com").is_empty());
    check_file(
        "blocklists/hagezi-2022-hosts-format/personal.hosts.txt",
        Format::Hosts,
        (12_315, 12_305, 10, 0, 0, 0),
    );
}

// ---------------------------------------- hagezi 2023: one list, 4 syntaxes

#[test]
fn hagezi_2023_adblock_wildcard_and_rpz_agree() {
    let ab = |f: &str, n: u64| {
        let p = check_file(
            &format!("blocklists/hagezi-2023/adblock/{f}"),
            Format::Adblock,
            (n + 10, n, 10, 0, 0, 0),
        );
        // `||name^` = the name and everything below it.
        all_scope(&p, Scope::Subtree, EntryAction::List);
        p
    };
    // SOURCE.md: 7,179 / 10,001 / 168,582 / 69,751 rules; 10 `!` header lines.
    let anti_ab = ab("anti.piracy.txt", 7_179);
    let fake_ab = ab("fake.txt", 10_001);
    let gambling_ab = ab("gambling.txt", 168_582);
    ab("light.txt", 69_751);

    // `*-onlydomains.txt` are plain names despite the folder name.
    let plain = |f: &str, n: u64| {
        let p = check_file(
            &format!("blocklists/hagezi-2023/wildcard/{f}"),
            Format::Domains,
            (n + 10, n, 10, 0, 0, 0),
        );
        all_scope(&p, Scope::Subtree, EntryAction::List);
        p
    };
    let anti_plain = plain("anti.piracy-onlydomains.txt", 7_179);
    let gambling_plain = plain("gambling-onlydomains.txt", 168_582);
    plain("tif.normal-onlydomains.txt", 58_004);
    assert_eq!(anti_ab.names(), anti_plain.names());
    assert_eq!(gambling_ab.names(), gambling_plain.names());

    // wildcard/fake.txt is `*.name`: below the name only.
    let fake_wc = check_file(
        "blocklists/hagezi-2023/wildcard/fake.txt",
        Format::Domains,
        (10_011, 10_001, 10, 0, 0, 0),
    );
    all_scope(&fake_wc, Scope::Below, EntryAction::List);
    assert_eq!(fake_wc.names(), fake_ab.names());

    // RPZ: every name twice (apex + `*.` wildcard), all `CNAME .`.
    // SOURCE.md: anti.piracy 14,358 records = 7,179 names x 2. For fake and
    // doh SOURCE.md says 20,005 and 1,451: those count the $TTL, SOA and NS
    // lines too (the zone headers say 20,002 and 1,448 entries).
    let rpz = |f: &str, records: u64, lines: u64, comments: u64| {
        let p = check_file(
            &format!("blocklists/hagezi-2023/rpz/{f}"),
            Format::Rpz,
            (lines, records, comments, 0, 0, 0),
        );
        assert!(p.entries.iter().all(|e| e.action == EntryAction::Nxdomain));
        assert!(p.local.is_empty());
        assert_eq!(p.names().len() as u64 * 2, records);
        let mut scopes: HashMap<&str, Vec<Scope>> = HashMap::new();
        for e in &p.entries {
            scopes.entry(e.name.as_str()).or_default().push(e.scope);
        }
        for (name, s) in &scopes {
            assert_eq!(s, &[Scope::Exact, Scope::Below], "{f}: {name}");
        }
        p
    };
    let anti_rpz = rpz("anti.piracy.txt", 14_358, 14_372, 14);
    let fake_rpz = rpz("fake.txt", 20_002, 20_016, 14);
    rpz("doh.txt", 1_448, 1_463, 15);
    assert_eq!(anti_rpz.names(), anti_ab.names());
    assert_eq!(fake_rpz.names(), fake_ab.names());
    // Line numbers: `animehub.ac CNAME .` is line 15, its wildcard line 16.
    let lines: Vec<_> = anti_rpz
        .find("animehub.ac")
        .iter()
        .map(|e| (e.scope, e.line))
        .collect();
    assert_eq!(lines, vec![(Scope::Exact, 15), (Scope::Below, 16)]);

    // doh in hosts and domains syntax: 850 each (SOURCE.md).
    let h = check_file(
        "blocklists/hagezi-2023/hosts/doh.txt",
        Format::Hosts,
        (861, 850, 11, 0, 0, 0),
    );
    let d = check_file(
        "blocklists/hagezi-2023/domains/doh.txt",
        Format::Domains,
        (861, 850, 11, 0, 0, 0),
    );
    assert_eq!(h.names(), d.names());
}

#[test]
fn hagezi_rpz_compiles_to_exact_and_below_nxdomain_rules() {
    let path = data("blocklists/hagezi-2023/rpz/anti.piracy.txt");
    let cfg = ListConfig::simple("anti-piracy", path, ListKind::Block);
    let (list, diff) = compile_list(&cfg, None, false).expect("compile");
    assert_eq!(list.set.len(), 7_179);
    assert_eq!((diff.before, diff.after, diff.added), (0, 7_179, 7_179));
    let policy = Policy {
        lists: vec![Some(Arc::new(list))],
        held: vec![],
    };
    for (q, depth) in [
        ("animehub.ac", 0),
        ("www.animehub.ac", 1),
        ("a.b.animehub.ac", 2),
    ] {
        match policy.decide(&LookupKey::from_dotted(q)).decision {
            Decision::Blocked(b) => {
                assert_eq!(b.depth, depth, "{q}");
                assert_eq!(b.hit.action, EntryAction::Nxdomain, "{q}");
                assert_eq!(b.hit.line, if depth == 0 { 15 } else { 16 }, "{q}");
            }
            other => panic!("{q}: {other:?}"),
        }
    }
    assert!(matches!(
        policy
            .decide(&LookupKey::from_dotted("notanimehub.ac"))
            .decision,
        Decision::NotListed
    ));
}

// ------------------------------------------------------------- urlhaus

/// Hosts written as their own rule in urlhaus-filter*.txt: plain lines and
/// `||host^$all` rules without a path.
fn urlhaus_host_rules(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .filter(|l| !l.starts_with('!') && !l.is_empty() && !l.contains('/'))
        .map(|l| {
            l.trim_start_matches("||")
                .trim_end_matches("^$all")
                .to_string()
        })
        .filter(|l| l.parse::<std::net::IpAddr>().is_err())
        .collect()
}

#[test]
fn urlhaus_filter_adblock_rejects_path_rules_instead_of_widening_them() {
    // SOURCE.md: 31,822 entries of which 6,054 are `||host...^$all` rules.
    // Measured: 2,689 plain host names + 23,079 IPv4 literals + 6,054 `||`
    // rules, of which 3 have no path (`||bedoueroom.top^$all`,
    // `||extranet-listing.com^$all`, `||wegrowcoaching.com^$all`, accepted
    // as whole-host rules: `$all` does not narrow) and 6,051 carry a path
    // and are rejected. 2,689 + 3 = 2,692 accepted; 23,079 + 6,051 = 29,130
    // rejected.
    let rel = "blocklists/urlhaus-filter/urlhaus-filter.txt";
    let p = check_file(rel, Format::Adblock, (31_828, 2_692, 6, 0, 29_130, 23_079));
    let exact: Vec<_> = p
        .entries
        .iter()
        .filter(|e| e.scope == Scope::Exact)
        .collect();
    let subtree: BTreeSet<_> = p
        .entries
        .iter()
        .filter(|e| e.scope == Scope::Subtree)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(exact.len(), 2_689);
    assert_eq!(
        subtree,
        [
            "bedoueroom.top",
            "extranet-listing.com",
            "wegrowcoaching.com"
        ]
        .into_iter()
        .collect()
    );
    // Every accepted name is a host rule of its own; no host that only
    // appears with a path (github.com, raw.githubusercontent.com, 0x0.st,
    // 4sync.com, ...) was widened into a whole-domain block.
    assert_eq!(p.names(), urlhaus_host_rules(&p.report.path));
    for widened in [
        "github.com",
        "raw.githubusercontent.com",
        "0x0.st",
        "4sync.com",
        "2024.sci-hub.se",
    ] {
        assert!(
            p.find(widened).is_empty(),
            "{widened} widened from a path rule"
        );
    }
    // The kept reject reasons: IP literals and path rules, nothing else.
    let path_rejects = p
        .report
        .rejects
        .iter()
        .filter(|r| r.reason.contains("path"))
        .count();
    let ip_rejects = p
        .report
        .rejects
        .iter()
        .filter(|r| r.reason.contains("is an IP address"))
        .count();
    assert_eq!(path_rejects + ip_rejects, p.report.rejects.len());
    assert_eq!(p.report.rejects.len(), parse::MAX_KEPT_REJECTS);
    assert_eq!(
        p.report.rejected - p.report.ip_literals,
        6_051,
        "path rules"
    );

    // The online subset: 619 hosts + 2,234 IPs + 3,510 path rules
    // (SOURCE.md: 6,363 entries; the CSV says 3,510 rows have a path), plus
    // `||wegrowcoaching.com^$all`.
    let online = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-online.txt",
        Format::Adblock,
        (6_369, 620, 6, 0, 5_743, 2_234),
    );
    assert_eq!(online.names(), urlhaus_host_rules(&online.report.path));
    let rpz_online = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-rpz-online.conf",
        Format::Rpz,
        (630, 619, 11, 0, 0, 0),
    );
    all_scope(&rpz_online, Scope::Exact, EntryAction::Nxdomain);
    let exact_online: BTreeSet<_> = online
        .entries
        .iter()
        .filter(|e| e.scope == Scope::Exact)
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(exact_online, rpz_online.names());
}

#[test]
fn urlhaus_domains_hosts_rpz_and_agh_agree() {
    // SOURCE.md: domains 25,768 "incl. bare IPs" = 2,689 names + 23,079
    // IPv4 literals (reported in ip_literals, never blocked).
    let domains = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-domains.txt",
        Format::Domains,
        (25_774, 2_689, 6, 0, 23_079, 23_079),
    );
    assert!(domains
        .report
        .rejects
        .iter()
        .all(|r| r.reason.contains("is an IP address")));
    assert!(domains.find("1.1.109.99").is_empty());
    // SOURCE.md: hosts 2,689.
    let hosts = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-hosts.txt",
        Format::Hosts,
        (2_695, 2_689, 6, 0, 0, 0),
    );
    // SOURCE.md: "2,692 lines": 2,689 `CNAME .` records + $TTL, SOA, NS.
    let rpz = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-rpz.conf",
        Format::Rpz,
        (2_700, 2_689, 11, 0, 0, 0),
    );
    all_scope(&rpz, Scope::Exact, EntryAction::Nxdomain);
    // AdGuard Home syntax: `||x^`, IPs as `||1.2.3.4^`.
    let agh = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-agh.txt",
        Format::Adblock,
        (25_774, 2_689, 6, 0, 23_079, 23_079),
    );
    assert_eq!(domains.names(), hosts.names());
    assert_eq!(domains.names(), rpz.names());
    assert_eq!(domains.names(), agh.names());
}

#[test]
fn urlhaus_splunk_csv_as_urls() {
    // SOURCE.md: 6,363 rows `"host","path","message","updated"`. The first
    // field is the host: 2,234 rows are IPv4 literals (rejected, counted),
    // 4,129 rows name 684 distinct hosts. 7 comment lines: the `#` header
    // and the CSV header row.
    let p = check_file(
        "blocklists/urlhaus-filter/urlhaus-filter-splunk-online.csv",
        Format::Urls,
        (6_370, 4_129, 7, 0, 2_234, 2_234),
    );
    assert_eq!(p.names().len(), 684);
    all_scope(&p, Scope::Subtree, EntryAction::List);
    assert!(p.find("host").is_empty(), "CSV header is not an entry");
    // Every host of the online RPZ list (619 names) has a row.
    let online = parse_rel(
        "blocklists/urlhaus-filter/urlhaus-filter-rpz-online.conf",
        Format::Rpz,
    );
    assert!(online.names().is_subset(&p.names()));
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}
