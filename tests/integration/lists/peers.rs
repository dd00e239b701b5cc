//! The RPZ zones of unbound's and BIND's own test suites.

use super::*;

fn peer_files(rel: &str, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(&data(rel), &mut all);
    let mut v: Vec<_> = all
        .into_iter()
        .filter(|p| keep(p.file_name().and_then(|n| n.to_str()).unwrap_or("")))
        .collect();
    v.sort();
    v
}

fn peer(rel: &str) -> Parsed {
    parse_path_with(&data(&format!("peer-suites/{rel}")), Format::Rpz, PEER)
}

fn actions(p: &Parsed, name: &str) -> Vec<(Scope, EntryAction)> {
    p.find(name).iter().map(|e| (e.scope, e.action)).collect()
}

#[test]
fn unbound_rpz_zone_files() {
    let files = peer_files("peer-suites/unbound-rpz-testdata/testdata", |n| {
        n.ends_with(".zone")
    });
    assert_eq!(files.len(), 6, "{files:?}");
    for f in &files {
        let p = parse_path_with(f, Format::Rpz, PEER);
        assert_eq!(p.report.rejected, 0, "{}: {:?}", f.display(), p.reasons());
    }

    let p = peer("unbound-rpz-testdata/testdata/rpz_reload.tdir/rpz.example.com.zone");
    assert_eq!(counts(&p.report), (6, 2, 4, 0, 0, 0));
    assert_eq!(
        actions(&p, "foo.example.net"),
        vec![(Scope::Exact, EntryAction::Nxdomain)]
    );
    assert_eq!(
        actions(&p, "www.example.net"),
        vec![(Scope::Exact, EntryAction::LocalData)]
    );
    assert_eq!(
        p.local_for("www.example.net"),
        vec![&LocalData::A("1.2.3.4".parse().expect("ip"))]
    );

    let p =
        peer("unbound-rpz-testdata/testdata/fast_reload_most_options.tdir/rpz.nlnetlabs.nl.zone");
    assert_eq!(
        actions(&p, "nxdomain.nlnetlabs.nl"),
        vec![(Scope::Exact, EntryAction::Nxdomain)]
    );
    assert_eq!(
        p.local_for("rpzdata.nlnetlabs.nl"),
        vec![&LocalData::A("0.0.0.0".parse().expect("ip"))]
    );

    let p = peer("unbound-rpz-testdata/testdata/acl_interface.tdir/rpz-nx.zone");
    assert_eq!(
        actions(&p, "local"),
        vec![(Scope::Exact, EntryAction::Nxdomain)]
    );
    let p = peer("unbound-rpz-testdata/testdata/acl_interface.tdir/rpz-one.zone");
    assert_eq!(
        p.local_for("local"),
        vec![&LocalData::A("11.11.11.11".parse().expect("ip"))]
    );
}

/// The policy zones inlined in unbound's `.rpl` replay tests
/// (`TEMPFILE_CONTENTS` ... `TEMPFILE_END`).
fn rpl_zones() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in peer_files("peer-suites/unbound-rpz-testdata/testdata", |n| {
        n.ends_with(".rpl")
    }) {
        let text = std::fs::read_to_string(&f).expect("read");
        let mut cur: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("TEMPFILE_CONTENTS ") {
                let file = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                cur = Some((format!("{file}:{name}"), String::new()));
            } else if line.starts_with("TEMPFILE_END") {
                out.extend(cur.take());
            } else if let Some((_, body)) = cur.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

#[test]
fn unbound_rpl_inline_zones() {
    let zones = rpl_zones();
    assert!(zones.len() >= 50, "{}", zones.len());
    let mut by_name = HashMap::new();
    for (name, body) in &zones {
        let mut entries = Vec::new();
        let mut local = Vec::new();
        let r = parse::parse_reader_with(
            body.as_bytes(),
            Path::new(name),
            Format::Rpz,
            PEER,
            &mut |i| match i {
                Item::Entry(e) => entries.push(Got {
                    name: e.name.to_string(),
                    scope: e.scope,
                    action: e.action,
                    line: e.line,
                }),
                Item::Local {
                    name, below, data, ..
                } => local.push((name.to_string(), below, data)),
            },
        )
        .expect("parse");
        assert!(r.balanced(), "{name}: {r:?}");
        // These zones start `$ORIGIN example.com.` / `rpz SOA ...` / apex
        // NS records / `$ORIGIN rpz.example.com.`: the NS records are zone
        // housekeeping. The only rejects are what dnsward does not support.
        for rej in &r.rejects {
            assert!(
                rej.reason.contains("trigger is not supported")
                    || rej.reason.contains("wildcard CNAME rewrite")
                    || rej.reason.contains("root wildcard"),
                "{name}:{}: {}",
                rej.line,
                rej.reason
            );
        }
        by_name.insert(
            name.clone(),
            Parsed {
                report: r,
                entries,
                local,
            },
        );
    }
    let q = &by_name["rpz_qname.rpl:rpz.example.com"];
    assert_eq!(
        actions(q, "a"),
        vec![
            (Scope::Exact, EntryAction::Nxdomain),
            // `a CNAME *.`: "duplicate CNAME here on purpose" (the first
            // rule for a name and scope wins when compiled).
            (Scope::Exact, EntryAction::Nodata),
            // `*.a TXT "wildcard local data"`
            (Scope::Below, EntryAction::LocalData)
        ]
    );
    assert_eq!(actions(q, "b.a"), vec![(Scope::Exact, EntryAction::Nodata)]);
    assert_eq!(
        actions(q, "c.a"),
        vec![(Scope::Exact, EntryAction::Passthru)]
    );
    assert!(q.local.contains(&(
        "a".into(),
        true,
        LocalData::Txt("wildcard local data".into())
    )));
    let q2 = &by_name["rpz_qname.rpl:rpz2.example.com"];
    assert_eq!(actions(q2, "drop"), vec![(Scope::Exact, EntryAction::Drop)]);
    assert_eq!(
        actions(q2, "tcp"),
        vec![(Scope::Exact, EntryAction::TcpOnly)]
    );
    assert_eq!(
        actions(q2, "c.g"),
        vec![(Scope::Exact, EntryAction::Nxdomain)]
    );
    let t = &by_name["rpz_qname_tcponly.rpl:rpz.example.com"];
    assert!(t.entries.iter().any(|e| e.action == EntryAction::TcpOnly));
    let n = &by_name["rpz_nsdname.rpl:rpz.example.com"];
    assert!(n.entries.is_empty());
    assert!(n
        .report
        .rejects
        .iter()
        .any(|r| r.reason.contains("rpz-nsdname")));
}

#[test]
fn bind9_rpz_zone_files() {
    let files = peer_files("peer-suites/bind9-rpz-system-test-data", |n| {
        n.ends_with(".db")
            || n.ends_with(".db.in")
            || n.starts_with("db.")
            || n.starts_with("crash")
    });
    assert!(files.len() >= 50, "{}", files.len());
    for f in &files {
        // No panic, every line accounted for (parse_path asserts it), and
        // every reject comes with a line number inside the file.
        let p = parse_path_with(f, Format::Rpz, PEER);
        for r in &p.report.rejects {
            assert!(
                r.line >= 1 && u64::from(r.line) <= p.report.lines,
                "{}",
                f.display()
            );
        }
    }
    let sys = "bind9-rpz-system-test-data/bin/tests/system";

    // The zones that once crashed named: parsed without a panic. crash1 is
    // only SOA + NS (zone housekeeping, nothing to reject); crash2 holds
    // three local-data A records.
    let c1 = peer(&format!("{sys}/rpz/ns3/crash1"));
    assert_eq!(counts(&c1.report), (18, 0, 18, 0, 0, 0));
    let c2 = peer(&format!("{sys}/rpz/ns3/crash2"));
    assert_eq!(counts(&c2.report), (24, 3, 21, 0, 0, 0));
    assert_eq!(
        c2.local_for("c1"),
        vec![&LocalData::A("172.16.1.24".parse().expect("ip"))]
    );
    // broken.db.in ("foobar"): a rejected line, not a crash.
    let b = peer(&format!("{sys}/rpz/ns3/broken.db.in"));
    assert_eq!((b.report.accepted, b.report.rejected), (0, 1));
    assert!(b.reasons()[0].1.contains("without a type"));

    let p = peer(&format!("{sys}/rpz/ns2/bl.tld2.db.in"));
    assert_eq!(
        p.reasons(),
        vec![(10, "rpz-ip trigger is not supported yet; rule not applied")]
    );
    let p = peer(&format!("{sys}/rpzrecurse/ns3/policy.db"));
    assert_eq!(p.report.accepted, 0);
    let why: Vec<_> = p.reasons().iter().map(|(_, r)| r.to_string()).collect();
    assert!(
        why[0].contains("rpz-nsip") && why[1].contains("rpz-nsdname"),
        "{why:?}"
    );

    let p = peer(&format!("{sys}/rpz/ns3/evil-cname.db.in"));
    assert_eq!(
        actions(&p, "evil.tld2"),
        vec![(Scope::Exact, EntryAction::LocalData)]
    );
    assert_eq!(
        p.local_for("evil.tld2"),
        vec![&LocalData::Cname("a12.tld2".into())]
    );
    let p = peer(&format!("{sys}/rpz/ns3/wild-cname.db.in"));
    assert_eq!(p.report.accepted, 0);
    assert!(p.reasons()[0].1.contains("wildcard CNAME rewrite"));
    let p = peer(&format!("{sys}/rpz/ns3/mixed-case-rpz-1.db.in"));
    assert_eq!(
        actions(&p, "a6-2.tld2"),
        vec![(Scope::Exact, EntryAction::Nxdomain)]
    );
    let p = peer(&format!("{sys}/rpz/ns3/include-rpz.db.in"));
    assert!(p.reasons()[0].1.contains("$INCLUDE"));
    let p = peer(&format!("{sys}/rpz/ns3/slow-rpz.db.in"));
    assert!(p.reasons()[0].1.contains("$GENERATE"));
    let p = peer(&format!("{sys}/rpz/ns9/rpz.db"));
    assert_eq!(
        actions(&p, "a-only.example"),
        vec![(Scope::Exact, EntryAction::Nodata)]
    );

    let p = peer(&format!("{sys}/rpzrecurse/ns2/db.passthru"));
    assert_eq!(
        actions(&p, "example.com"),
        vec![
            (Scope::Exact, EntryAction::Passthru),
            (Scope::Below, EntryAction::Passthru)
        ]
    );
    let p = peer(&format!("{sys}/rpzrecurse/ns2/db.wildcard1"));
    assert_eq!(
        actions(&p, "test1.example.net"),
        vec![
            (Scope::Below, EntryAction::Nxdomain),
            (Scope::Exact, EntryAction::Nxdomain)
        ]
    );
    // Multi-line SOA with `;` comments inside the parentheses.
    let p = peer(&format!("{sys}/rpzextra/ns3/first-rpz.local.db"));
    assert_eq!(p.report.rejected, 0, "{:?}", p.reasons());
    assert_eq!(
        actions(&p, "allowed"),
        vec![
            (Scope::Exact, EntryAction::Passthru),
            (Scope::Below, EntryAction::Passthru)
        ]
    );
    assert_eq!(
        actions(&p, "baddomain"),
        vec![
            (Scope::Exact, EntryAction::Nxdomain),
            (Scope::Below, EntryAction::Nxdomain)
        ]
    );
    // BIND takes the origin from named.conf; a file naming absolute owners
    // without `$ORIGIN` or an absolute SOA owner cannot be placed: rejected.
    let p = peer(&format!("{sys}/rpz/ns3/manual-update-rpz.db.in"));
    assert!(p.reasons()[0].1.contains("no origin"), "{:?}", p.reasons());
}
