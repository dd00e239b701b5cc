//! The state file: it wins over the configuration, a corrupt one falls
//! back to it, plain anchor files seed it, Unbound's lines read back.

use super::*;

/// Once a state file exists it wins over the configured anchors.
#[test]
fn state_file_wins_over_configuration() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("wins");
    let a = Key::ksk();
    let b = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0),
        T0,
    );
    let t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(b.dnskey.clone())]),
        &dir,
    );
    assert!(trusts(&t, &zone, &a));
    assert!(!trusts(&t, &zone, &b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A state file that does not parse: a clear error naming file and line,
/// counted, and the configured anchors serve. A file for another zone or
/// without keys is refused the same way.
#[test]
fn corrupt_state_file_falls_back_to_configuration() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("corrupt");
    let a = Key::ksk();
    let configured = anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]);
    let path = dir.join("example.key");
    for (text, expect) in [
        ("; autotrust trust anchor file\n;;id: example. 1\nexample.\t0\tIN\tDNSKEY\t257 3 13 !!!\n", "line 3: DNSKEY key is not base64"),
        (";;id: other. 1\n", "line 1: state for zone other."),
        (";;id: example. 1\n;;last_queried: soon\n", "line 2: ;;last_queried: not a number"),
        ("; autotrust trust anchor file\n;;id: example. 1\n", "line 0: no DS or DNSKEY record"),
        ("example. IN DS 1 13 2 00\n", "line 1: DS digest type 2 needs 32 bytes"),
        ("other. IN DS 1 13 1 0000000000000000000000000000000000000000\n", "line 1: record for other."),
    ] {
        std::fs::write(&path, text).unwrap();
        let (t, errors) = Rfc5011::new(&configured, Some(&dir), Timers::default());
        assert_eq!(errors.len(), 1, "{text}");
        let message = errors[0].to_string();
        assert!(message.starts_with(&path.display().to_string()), "{message}");
        assert!(message.contains(expect), "{message} / {expect}");
        assert_eq!(t.stats().state_errors, 1);
        assert_eq!(t.anchors_for(&zone), vec![Anchor::Dnskey(a.dnskey.clone())]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A seed in plain trust-anchor format (what unbound-anchor or IANA give)
/// is a valid state file: DNSKEYs are Valid, DS wait for the first probe.
#[test]
fn plain_anchor_file_seeds_the_state() {
    let root = Name::root();
    let dir = state_dir("seed");
    let old = Key::ksk();
    std::fs::write(
        dir.join("root.key"),
        format!(". IN {}\n", Anchor::Ds(old.ds(&root)).rdata_text()),
    )
    .unwrap();
    // The configuration names another key: the seed wins.
    let other = Key::ksk();
    let mut t = tracker(&anchored(&root, vec![Anchor::Ds(other.ds(&root))]), &dir);
    assert_eq!(t.anchors_for(&root), vec![Anchor::Ds(old.ds(&root))]);
    observe(
        &mut t,
        &root,
        &answer(&root, &[&old.dnskey], &[(&old, &old.dnskey)], T0),
        T0,
    );
    assert_eq!(
        t.anchors_for(&root),
        vec![Anchor::Dnskey(old.dnskey.clone())]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The written file reads back to the same trust point, and an Unbound
/// state line (with its comments) parses.
#[test]
fn state_file_round_trip_and_unbound_lines() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("round-trip");
    let a = Key::ksk();
    let b = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    let both = answer(&zone, &[&a.dnskey, &b.dnskey], &[(&a, &a.dnskey)], T0);
    observe(&mut t, &zone, &both, T0);
    let before = t.point(&zone).unwrap().clone();
    let t = tracker(&anchored(&zone, vec![]), &dir);
    let after = t.point(&zone);
    assert!(after.is_none(), "only configured zones are tracked");
    let t2 = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(b.dnskey.clone())]),
        &dir,
    );
    assert_eq!(t2.point(&zone).unwrap(), &before);
    drop(t);

    let unbound = format!(
        "; autotrust trust anchor file\n\
         ;;id: example. 1\n\
         ;;last_queried: 1764694800 ;;Tue Dec  2 17:00:00 2025\n\
         ;;last_success: 1764694800 ;;Tue Dec  2 17:00:00 2025\n\
         ;;next_probe_time: 1764737343 ;;Wed Dec  3 04:49:03 2025\n\
         ;;query_failed: 0\n\
         ;;query_interval: 43200\n\
         ;;retry_time: 8640\n\
         example.\t172800\tIN\tDNSKEY\t{} ;{{id = {} (ksk), size = 256b}} ;;state=1 [ ADDPEND ] ;;count=2 ;;lastchange=1764000000 ;;Mon Nov 24 16:00:00 2025\n",
        crate::dnssec::anchors::dnskey_rdata_text(&a.dnskey),
        a.tag()
    );
    let point = statefile::parse(&unbound, Path::new("x"), &zone).unwrap();
    assert_eq!(point.query_interval, 43_200);
    assert_eq!(point.next_probe_time, 1_764_737_343);
    assert_eq!(point.keys.len(), 1);
    assert_eq!(point.keys[0].state, KeyState::AddPend);
    assert_eq!(point.keys[0].pending_count, 2);
    assert_eq!(point.keys[0].last_change, 1_764_000_000);
    assert_eq!(point.keys[0].ttl, 172_800);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The metric rows: configured until a probe confirms, then the states.
#[test]
fn info_rows() {
    let root = Name::root();
    let dir = state_dir("info");
    let old = Key::ksk();
    let new = Key::ksk();
    let mut t = tracker(&anchored(&root, vec![Anchor::Ds(old.ds(&root))]), &dir);
    let rows = t.info();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].zone.as_str(), rows[0].key_tag, rows[0].state),
        (".", old.tag(), "configured")
    );
    let both = answer(
        &root,
        &[&old.dnskey, &new.dnskey],
        &[(&old, &old.dnskey)],
        T0,
    );
    observe(&mut t, &root, &both, T0);
    let mut rows: Vec<(u16, &str)> = t.info().iter().map(|r| (r.key_tag, r.state)).collect();
    rows.sort_unstable();
    let mut expect = vec![(old.tag(), "valid"), (new.tag(), "addpend")];
    expect.sort_unstable();
    assert_eq!(rows, expect);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_state_dir_the_configured_anchors_serve_and_nothing_is_due() {
    let configured = AnchorSet::builtin();
    let (mut tracker, errors) = Rfc5011::new(&configured, None, Timers::default());
    assert!(errors.is_empty());
    assert!(!tracker.tracking());
    assert!(tracker.due(0).is_empty());
    assert_eq!(tracker.next_due(), None);
    assert_eq!(tracker.trusted(), configured);
    assert_eq!(tracker.anchors_for(&Name::root()).len(), 2);
    assert!(tracker.info().iter().all(|row| row.state == "configured"));
    assert_eq!(
        tracker.observe(&Name::root(), &[], &[], 0).outcome,
        Outcome::Ignored
    );
}
