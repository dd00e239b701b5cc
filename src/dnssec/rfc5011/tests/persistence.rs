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
        ("example. IN DS 1 13 2 0G\n", "line 1: DS digest is not hexadecimal"),
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

#[test]
fn state_dir_check() {
    let dir = state_dir("check");
    assert_eq!(check_state_dir(&dir), Ok(()));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let file = dir.join("plain");
    std::fs::write(&file, "").unwrap();
    assert!(check_state_dir(&file)
        .unwrap_err()
        .ends_with("not a directory"));
    let missing = dir.join("missing");
    assert!(check_state_dir(&missing).unwrap_err().contains("missing"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A root DNSKEY RRset made by a real signer (RSA/SHA-256, Deckard's
/// val_minimal_noerror, dated 2017-04-01) is accepted by the tracker with
/// the scenario's DS anchor: the KSK becomes Valid, the ZSK is not
/// tracked, and the refresh interval follows the signature expiry.
#[test]
fn real_signed_root_rrset_from_deckard() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../shared/data/peer-suites/deckard-resolver-scenarios/sets/resolver/val_minimal_noerror.rpl",
    );
    let text = std::fs::read_to_string(&path).unwrap();
    // The answer of the `. IN DNSKEY` entry.
    let start = text.find("\n. IN DNSKEY\nSECTION ANSWER\n").unwrap();
    let body = &text[start..];
    let body = &body["\n. IN DNSKEY\nSECTION ANSWER\n".len()..body.find("ENTRY_END").unwrap()];
    let root = Name::root();
    let mut records = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields
            .iter()
            .position(|f| *f == "DNSKEY" || *f == "RRSIG")
            .unwrap();
        if fields[at] == "DNSKEY" {
            let set = AnchorSet::parse(line, &crate::dnssec::anchors::Origin::Inline { index: 0 })
                .unwrap();
            let key = match &set.get(&root)[0] {
                Anchor::Dnskey(k) => k.clone(),
                Anchor::Ds(_) => unreachable!(),
            };
            records.push(Record::from_rdata(
                root.clone(),
                3600,
                RData::DNSSEC(DNSSECRData::DNSKEY(key)),
            ));
            continue;
        }
        // RRSIG DNSKEY 8 0 3600000 20170409093827 20170310093827 49060 . <base64>
        let r = &fields[at + 1..];
        let time = |t: &str| {
            let format = time::format_description::parse_borrowed::<1>(
                "[year][month][day][hour][minute][second]",
            )
            .unwrap();
            time::PrimitiveDateTime::parse(t, &format)
                .unwrap()
                .assume_utc()
                .unix_timestamp() as u32
        };
        let input = SigInput {
            type_covered: RecordType::DNSKEY,
            algorithm: Algorithm::from_u8(r[1].parse().unwrap()),
            num_labels: r[2].parse().unwrap(),
            original_ttl: r[3].parse().unwrap(),
            sig_expiration: SerialNumber::new(time(r[4])),
            sig_inception: SerialNumber::new(time(r[5])),
            key_tag: r[6].parse().unwrap(),
            signer_name: root.clone(),
        };
        let sig = data_encoding::BASE64
            .decode(r[8..].concat().as_bytes())
            .unwrap();
        records.push(Record::from_rdata(
            root.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
        ));
    }
    let anchors = AnchorSet::from_config(
        &[
            ". IN DS 49060 8 2 E7B1EB56D7D5791B3D45630FEAA9C823DB84B385ACEEAC5F44DD08885C36700F"
                .to_string(),
        ],
        None,
    )
    .unwrap();
    let dir = state_dir("deckard");
    let mut t = tracker(&anchors, &dir);
    // 2017-04-01 00:00:00 UTC, the scenario's val-override-date.
    let now = 1_491_004_800;
    let seen = t.observe(&root, &records, &records, now);
    assert_eq!(seen.outcome, Outcome::Updated, "{records:#?}");
    let point = t.point(&root).unwrap();
    assert_eq!(point.keys.len(), 1);
    assert_eq!(key_tag(&point.keys[0].key), 49060);
    assert_eq!(point.keys[0].state, KeyState::Valid);
    // TTL 3600 -> the one-hour floor.
    assert_eq!(point.query_interval, 3600);
    // A day after the signature expired (2017-04-09) nothing verifies.
    let seen = t.observe(&root, &records, &records, 1_491_782_400);
    assert_eq!(seen.outcome, Outcome::NotValidated);
    std::fs::remove_dir_all(&dir).unwrap();
}
