use super::*;

#[derive(Debug, PartialEq)]
struct Got {
    name: String,
    scope: Scope,
    action: EntryAction,
    line: u32,
}

fn parse(text: &str, format: Format) -> (Vec<Got>, Vec<(String, LocalData)>, ParseReport) {
    let (mut out, mut local) = (Vec::new(), Vec::new());
    let r = parse_reader(text.as_bytes(), Path::new("t"), format, &mut |i| match i {
        Item::Entry(e) => out.push(Got {
            name: e.name.to_string(),
            scope: e.scope,
            action: e.action,
            line: e.line,
        }),
        Item::Local { name, data, .. } => local.push((name.to_string(), data)),
    })
    .expect("parse");
    assert!(r.balanced(), "{r:?}");
    (out, local, r)
}

fn names(v: &[Got]) -> Vec<&str> {
    v.iter().map(|g| g.name.as_str()).collect()
}

#[test]
fn domains_with_comments_wildcards_and_junk() {
    let (e, _, r) = parse(
            "# header\n\nAds.Example.COM.\n*.track.example\nbad name here\n1.2.3.4\nxn--bcher-kva.example # c\n",
            Format::Domains,
        );
    assert_eq!(
        names(&e),
        vec!["ads.example.com", "track.example", "xn--bcher-kva.example"]
    );
    assert_eq!(e[1].scope, Scope::Below);
    assert_eq!(e[2].line, 7);
    assert_eq!(
        (r.lines, r.comments, r.rejected, r.ip_literals),
        (7, 2, 2, 1)
    );
    assert_eq!(r.rejects[0].line, 5);
}

#[test]
fn hosts_lines_tabs_multi_names_and_placeholders() {
    let (e, _, r) = parse(
            "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n0.0.0.0\ta.example b.example # x\n255.255.255.255 broadcasthost\nnot-an-ip x.example\n",
            Format::Hosts,
        );
    assert_eq!(names(&e), vec!["a.example", "b.example"]);
    assert_eq!(
        (r.accepted, r.entry_lines, r.skipped, r.rejected),
        (2, 1, 3, 1)
    );
}

#[test]
fn adblock_rules_and_refused_modifiers() {
    let (e, _, r) = parse(
            "[Adblock Plus 2.0]\n! Title: x\n||ads.example^\n@@||ok.ads.example^\n||tracker.example^$important\n||x.example^$third-party\n||host.example/path/file.zip^$all\nplain.example\n/regex/\nexample.com##.banner\n||1.2.3.4^\n",
            Format::Adblock,
        );
    assert_eq!(
        e,
        vec![
            Got {
                name: "ads.example".into(),
                scope: Scope::Subtree,
                action: EntryAction::List,
                line: 3
            },
            Got {
                name: "ok.ads.example".into(),
                scope: Scope::Subtree,
                action: EntryAction::Passthru,
                line: 4
            },
            Got {
                name: "tracker.example".into(),
                scope: Scope::Subtree,
                action: EntryAction::List,
                line: 5
            },
            Got {
                name: "plain.example".into(),
                scope: Scope::Exact,
                action: EntryAction::List,
                line: 8
            },
        ]
    );
    let reasons: Vec<_> = r
        .rejects
        .iter()
        .map(|x| (x.line, x.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].1.contains("$third-party"));
    assert!(reasons[1].1.contains("path"));
    assert_eq!(r.ip_literals, 1);
}

#[test]
fn urls_are_reduced_to_hosts() {
    let (e, _, r) = parse(
            "https://user:pw@Example.COM:8443/path?q=1#frag\nhttp://x.example/y\nshop.example/y/z\nbücher.example/a\nhttp://192.0.2.1/x\n[2001:db8::1]:80/x\nhttps://[2001:db8::2]/\n\"host\",\"path\",\"message\"\n\"csv.example\",\"/a\",\"malware\"\n",
            Format::Urls,
        );
    assert_eq!(
        names(&e),
        vec![
            "example.com",
            "x.example",
            "shop.example",
            "xn--bcher-kva.example",
            "csv.example"
        ]
    );
    assert_eq!((r.rejected, r.ip_literals, r.comments), (3, 3, 1));
}

#[test]
fn rpz_actions_local_data_and_unsupported_triggers() {
    let zone = "$TTL 300\n@ SOA localhost. root.localhost. ( 1 2\n 3 4 5 )\n  NS localhost.\n; c\nnx.example CNAME .\n*.nx.example CNAME .\nnodata.example CNAME *.\npass.example CNAME rpz-passthru.\ndrop.example CNAME rpz-drop.\ntcp.example CNAME rpz-tcp-only.\nlocal.example A 10.0.0.1\n AAAA 2001:db8::1\nwalled.example CNAME garden.example.net.\n32.1.0.0.10.rpz-ip CNAME .\nns.rpz-nsdname CNAME .\nabs.example.rpz.test. CNAME .\n*.evil CNAME *.wc.tld4.\nmx.example MX 10 x.\n";
    let (e, local, r) = parse(zone, Format::Rpz);
    let got: Vec<_> = e
        .iter()
        .map(|g| (g.name.as_str(), g.scope, g.action))
        .collect();
    assert_eq!(
        got,
        vec![
            ("nx.example", Scope::Exact, EntryAction::Nxdomain),
            ("nx.example", Scope::Below, EntryAction::Nxdomain),
            ("nodata.example", Scope::Exact, EntryAction::Nodata),
            ("pass.example", Scope::Exact, EntryAction::Passthru),
            ("drop.example", Scope::Exact, EntryAction::Drop),
            ("tcp.example", Scope::Exact, EntryAction::TcpOnly),
            ("local.example", Scope::Exact, EntryAction::LocalData),
            ("local.example", Scope::Exact, EntryAction::LocalData),
            ("walled.example", Scope::Exact, EntryAction::LocalData),
        ]
    );
    assert_eq!(
        local,
        vec![
            (
                "local.example".to_string(),
                LocalData::A(Ipv4Addr::new(10, 0, 0, 1))
            ),
            (
                "local.example".to_string(),
                LocalData::Aaaa("2001:db8::1".parse().expect("v6"))
            ),
            (
                "walled.example".to_string(),
                LocalData::Cname("garden.example.net".into())
            ),
        ]
    );
    // rpz-ip, rpz-nsdname, absolute name without origin, wildcard
    // rewrite, MX local data.
    assert_eq!(r.rejected, 5, "{:?}", r.rejects);
}

#[test]
fn rpz_origin_from_directive_or_soa() {
    let (e, _, r) = parse(
            "$ORIGIN rpz.test.\n@ IN SOA a b 1 2 3 4 5\nx.example IN CNAME .\ny.example.rpz.test. CNAME .\nz.other. CNAME .\n",
            Format::Rpz,
        );
    assert_eq!(names(&e), vec!["x.example", "y.example"]);
    assert_eq!(r.rejected, 1);
    let (e, _, _) = parse(
            "rpz.example.com. 3600 IN SOA ns1. h. 1 2 3 4 5\n\tNS ns1.rpz.example.com.\nfoo.example.net\tCNAME .\n",
            Format::Rpz,
        );
    assert_eq!(names(&e), vec!["foo.example.net"]);
}

#[test]
fn sniffing_picks_the_right_format() {
    assert_eq!(
        sniff("# c\n0.0.0.0 a.b\n0.0.0.0 c.d\n".as_bytes()),
        Format::Hosts
    );
    assert_eq!(sniff("a.b\nc.d\n".as_bytes()), Format::Domains);
    assert_eq!(sniff("! x\n||a.b^\n||c.d^\n".as_bytes()), Format::Adblock);
    assert_eq!(
        sniff("$TTL 30\n@ SOA a. b. 1 2 3 4 5\nx CNAME .\n".as_bytes()),
        Format::Rpz
    );
    assert_eq!(
        sniff("https://a.b/x\nhttp://c.d/\n".as_bytes()),
        Format::Urls
    );
    assert_eq!(sniff("*.a.b\n*.c.d\n".as_bytes()), Format::Domains);
}

#[test]
fn rpz_triggers_are_relative_to_the_soa_owner_not_an_earlier_origin() {
    // unbound's test zones: `$ORIGIN example.com.` then `rpz SOA`, the
    // apex NS records, then `$ORIGIN rpz.example.com.`.
    let (e, _, r) = parse(
            "$ORIGIN example.com.\nrpz\t3600\tIN\tSOA\tns1.rpz.example.com. h.rpz.example.com. (\n\t\t1 2 3 4 5 )\n\t3600\tIN\tNS\tns1.rpz.example.com.\nother\tCNAME .\nx.rpz\tCNAME .\n$ORIGIN rpz.example.com.\na\tCNAME .\n@\tNS\tns2.rpz.example.com.\n",
            Format::Rpz,
        );
    assert_eq!(names(&e), vec!["x", "a"]);
    // Only `other` (other.example.com, outside the policy zone).
    assert_eq!(r.rejected, 1, "{:?}", r.rejects);
    assert!(r.rejects[0].reason.contains("outside the policy zone"));
    assert_eq!(r.comments, 6);
}

#[test]
fn sniffing_reads_adblock_headers_and_csv_exports() {
    // urlhaus-filter.txt: `!` header, then plain hosts and `||` rules.
    let ub = "! Title: x\n! Updated: y\n".to_string() + &"host.example\n".repeat(98);
    assert_eq!(sniff(ub.as_bytes()), Format::Adblock);
    // A domains list is not turned into adblock by a stray `!` line.
    let d = "a.example\n! oops\n".to_string() + &"b.example\n".repeat(98);
    assert_eq!(sniff(d.as_bytes()), Format::Domains);
    let csv = "# c\n\"host\",\"path\",\"message\"\n\"a.example\",\"\",\"bad site\"\n\"b.example\",\"/x\",\"bad site\"\n";
    assert_eq!(sniff(csv.as_bytes()), Format::Urls);
}

#[test]
fn scoped_ipv6_hosts_lines_are_placeholders_not_rejects() {
    let (e, _, r) = parse(
        "fe80::1%lo0 localhost\nfe80::1%lo0 x.example\n",
        Format::Hosts,
    );
    assert_eq!(names(&e), vec!["x.example"]);
    assert_eq!((r.skipped, r.rejected), (1, 0));
}

#[test]
fn names_are_validated() {
    assert!(normalize_name("a..b").is_err());
    assert!(normalize_name(&"a".repeat(64)).is_err());
    assert!(normalize_name("bücher.de").is_err());
    assert!(normalize_name("under_score.example").is_ok());
    assert_eq!(normalize_name("A.B.").as_deref(), Ok("a.b"));
}

#[test]
fn invalid_utf8_is_a_rejected_line_and_hash_is_recorded() {
    let mut n = 0;
    let r = parse_reader(
        &b"ok.example\n\xff\xfe\n"[..],
        Path::new("t"),
        Format::Domains,
        &mut |_| n += 1,
    )
    .expect("parse");
    assert_eq!((n, r.rejected), (1, 1));
    assert_eq!(r.sha256.len(), 64);
}

#[test]
fn single_label_entries_need_allow_tld_entries() {
    let text = "com\n*.net\nads.example\n";
    let (e, _, r) = parse(text, Format::Domains);
    assert_eq!(names(&e), vec!["ads.example"]);
    assert_eq!((r.rejected, r.unsupported, r.tld_entries), (2, 2, 2));
    assert_eq!(r.first_tld_line, Some(1));
    assert!(r.rejects[0].reason.contains("allow_tld_entries = true"));
    for (t, f) in [
        ("||org^\n", Format::Adblock),
        ("0.0.0.0 io\n", Format::Hosts),
    ] {
        let (e, _, r) = parse(t, f);
        assert!(e.is_empty() && r.tld_entries == 1, "{t}: {r:?}");
    }
    // An exact-name rule on a single label covers only that name.
    let (e, _, r) = parse("$ORIGIN rpz.\nzz CNAME .\n", Format::Rpz);
    assert_eq!((e.len(), r.tld_entries), (1, 0));

    let mut n = 0;
    let opts = ParseOptions {
        allow_tld_entries: true,
    };
    let r = parse_reader_with(
        text.as_bytes(),
        Path::new("t"),
        Format::Domains,
        opts,
        &mut |_| n += 1,
    )
    .expect("parse");
    assert_eq!((n, r.rejected, r.tld_entries), (3, 0, 2));
}

#[test]
fn only_malformed_lines_count_towards_the_rejected_guard() {
    // Well-formed rules DNS cannot enforce are not garbage.
    let (_, _, r) = parse(
        "||a.example^\n||b.example/path^\n|http://c.example/x\n||192.0.2.1^\nexample.org##.ad\n",
        Format::Adblock,
    );
    assert_eq!((r.rejected, r.malformed(), r.significant()), (4, 0, 5));
    assert_eq!(r.too_many_rejected(50), None);
    // Two good lines and three of garbage: 60% > 50%, not > 60%.
    let (_, _, r) = parse(
        "# c\n\na.example\nb.example\n<html>\n!!!\nx y z\n",
        Format::Domains,
    );
    assert_eq!((r.malformed(), r.significant()), (3, 5));
    assert_eq!(r.too_many_rejected(50), Some(60));
    assert_eq!(r.too_many_rejected(60), None);
    assert_eq!(r.too_many_rejected(100), None);
    assert_eq!(r.too_many_rejected(0), Some(60));
}
