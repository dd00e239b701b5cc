use super::*;

use hickory_proto::dnssec::TrustAnchors;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn inline(entries: &[&str]) -> Result<AnchorSet, Vec<AnchorError>> {
    let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
    AnchorSet::from_config(&entries, None)
}

const KSK_2017_DS: &str =
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";

/// The built-in DS digests are those of the root KSKs hickory compiles in
/// (an independent copy of the keys): SHA-256 over owner and RDATA.
#[test]
fn builtin_ds_match_hickory_root_keys() {
    let builtin = AnchorSet::builtin();
    let root = Name::root();
    let hickory = TrustAnchors::default();
    assert_eq!(hickory.len(), 2);
    let mut tags = Vec::new();
    for i in 0..hickory.len() {
        let key = DNSKEY::with_flags(257, hickory.get(i).unwrap().clone());
        let tag = key_tag(&key);
        assert_eq!(tag, key.calculate_key_tag().unwrap());
        let digest = key.to_digest(&root, DigestType::SHA256).unwrap();
        let expected = Anchor::Ds(DS::new(
            tag,
            Algorithm::RSASHA256,
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        ));
        assert!(builtin.get(&root).contains(&expected), "key tag {tag}");
        assert!(builtin
            .get(&root)
            .iter()
            .any(|a| a.matches(&root, &key) && a.key_tag() == tag));
        tags.push(tag);
    }
    tags.sort_unstable();
    assert_eq!(tags, [20326, 38696]);
    assert_eq!(builtin.len(), 2);
}

#[test]
fn no_configured_anchor_means_builtin() {
    assert_eq!(inline(&[]).unwrap(), AnchorSet::builtin());
    let empty_path = AnchorSet::from_config(&[], Some(Path::new(""))).unwrap();
    assert_eq!(empty_path, AnchorSet::builtin());
}

#[test]
fn configured_anchors_replace_builtin() {
    let set = inline(&["example. IN DS 12345 13 2 0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789ABCDEF"]).unwrap();
    assert!(set.get(&Name::root()).is_empty());
    assert_eq!(set.get(&name("example.")).len(), 1);
    assert_eq!(set.get(&name("example."))[0].key_tag(), 12345);
}

#[test]
fn ds_with_and_without_class_and_ttl() {
    for text in [
        KSK_2017_DS,
        ". DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
        ". 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
        ". IN 172800 DS 20326 RSASHA256 2 e06d44b80b8f1d39a95c0b0d7c65d084 58e880409bbc683457104237c7f8ec8d",
    ] {
        let set = inline(&[text]).unwrap();
        assert_eq!(
            set.get(&Name::root()),
            AnchorSet::builtin().get(&Name::root())[..1].to_vec().as_slice(),
            "{text}"
        );
    }
}

#[test]
fn several_zones_in_one_set() {
    let set = inline(&[
        KSK_2017_DS,
        "Example.COM. IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
    ])
    .unwrap();
    let zones: Vec<String> = set.zones().map(|z| z.to_ascii()).collect();
    assert_eq!(zones, [".", "example.com."]);
    let (zone, anchors) = set.closest_enclosing(&name("www.EXAMPLE.com.")).unwrap();
    assert_eq!(zone, &name("example.com."));
    assert!(matches!(anchors[0], Anchor::Dnskey(_)));
    let (zone, _) = set.closest_enclosing(&name("example.net.")).unwrap();
    assert!(zone.is_root());
}

#[test]
fn closest_enclosing_without_root_anchor() {
    let set = inline(&[
        "example. DS 1 13 2 0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789ABCDEF",
    ])
    .unwrap();
    assert!(set.closest_enclosing(&name("example.net.")).is_none());
    assert!(set.closest_enclosing(&name("a.b.example.")).is_some());
}

#[test]
fn file_in_unbound_format() {
    let dir = std::env::temp_dir().join(format!("dnsward-anchors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("anchors.txt");
    std::fs::write(
        &path,
        "; root anchors, as unbound-anchor writes them\n\
         \n\
         . 172800 IN DNSKEY 257 3 8 (\n\
         \tAwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3\n\
         \t+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kv\n\
         \tArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF\n\
         \t0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+e\n\
         \toZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfd\n\
         \tRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwN\n\
         \tR1AkUTV74bU= ) ; key id = 20326\n\
         $ORIGIN example.\n\
         @ IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n\
         \x20 IN DS 12346 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n\
         sub IN DS 1 13 4 ( 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n\
         0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF )\n",
    )
    .unwrap();
    let set = AnchorSet::from_config(&[], Some(&path)).unwrap();
    let root = set.get(&Name::root());
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].key_tag(), 20326);
    // The DNSKEY is the key the built-in KSK-2017 DS names.
    let Anchor::Dnskey(key) = &root[0] else {
        panic!("not a DNSKEY")
    };
    assert!(AnchorSet::builtin().get(&Name::root())[0].matches(&Name::root(), key));
    assert_eq!(set.get(&name("example.")).len(), 2);
    assert_eq!(set.get(&name("sub.example.")).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_name_entry_line_and_reason_all_at_once() {
    let errors = inline(&[
        KSK_2017_DS,
        ". IN DS 20326 8 2 XYZ",
        ". IN A 192.0.2.1",
        "",
        ". CH DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
        ". IN DNSKEY 256 2 8 AwEAAQ==",
        ". IN DNSKEY 385 3 8 AwEAAQ==",
        ". IN DNSKEY 1 3 8 AwEAAQ==",
        ". IN DS 20326 8 2 ( E06D",
    ])
    .unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 8, "{text:#?}");
    assert_eq!(errors[0].config_key(), "dnssec.trust_anchors[1]");
    assert_eq!(errors[0].reason(), "DS digest is not hexadecimal");
    assert!(text[1].contains("record type A"), "{}", text[1]);
    assert_eq!(errors[2].reason(), "no DS or DNSKEY record");
    assert_eq!(errors[2].config_key(), "dnssec.trust_anchors[3]");
    assert!(text[3].contains("class CH"), "{}", text[3]);
    assert!(text[4].contains("protocol 2"), "{}", text[4]);
    assert!(text[5].contains("REVOKE"), "{}", text[5]);
    assert!(text[6].contains("zone key bit"), "{}", text[6]);
    assert!(text[7].contains("'(' not closed"), "{}", text[7]);
}

#[test]
fn file_errors_name_file_and_line() {
    let dir = std::env::temp_dir().join(format!("dnsward-anchors-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.key");
    std::fs::write(&path, "; comment\n\n. IN DS 20326 8 2 E06DX\n").unwrap();
    let errors = AnchorSet::from_config(&[], Some(&path)).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].config_key(), "dnssec.trust_anchor_file");
    let reason = errors[0].reason();
    assert!(
        reason.starts_with(&format!("{}: line 3: ", path.display())),
        "{reason}"
    );

    std::fs::write(&path, "; nothing but comments\n").unwrap();
    let errors = AnchorSet::from_config(&[], Some(&path)).unwrap_err();
    assert!(matches!(errors[0], AnchorError::Empty { .. }));

    let missing = dir.join("missing.key");
    let errors = AnchorSet::from_config(&[], Some(&missing)).unwrap_err();
    assert!(matches!(errors[0], AnchorError::Read { .. }));
    assert!(errors[0].reason().contains("missing.key"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A digest of the wrong length for its type is kept: it matches no key
/// (the zone fails closed), as in Unbound and Deckard's
/// val_minimal_baddsdigesttype.
#[test]
fn digest_of_the_wrong_length_matches_nothing() {
    let set = inline(&[
        ". IN DS 20326 8 1 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ])
    .unwrap();
    let hickory = TrustAnchors::default();
    let key = DNSKEY::with_flags(257, hickory.get(0).unwrap().clone());
    assert_eq!(set.len(), 1);
    assert!(!set.get(&Name::root())[0].matches(&Name::root(), &key));
}

#[test]
fn rrsig_lines_are_skipped_in_files() {
    let set = AnchorSet::parse(
        &format!("{KSK_2017_DS}\n. IN RRSIG DNSKEY 8 0 172800 20260101000000 20251201000000 20326 . AAAA\n"),
        &Origin::Inline { index: 0 },
    )
    .unwrap();
    assert_eq!(set.len(), 1);
}

#[test]
fn revoked_key_never_matches() {
    let hickory = TrustAnchors::default();
    let key = DNSKEY::with_flags(257, hickory.get(0).unwrap().clone());
    let revoked = DNSKEY::with_flags(257 | FLAG_REVOKE, hickory.get(0).unwrap().clone());
    let anchor = Anchor::Dnskey(key.clone());
    assert!(anchor.matches(&Name::root(), &key));
    assert!(!anchor.matches(&Name::root(), &revoked));
    assert!(same_key_ignoring_revoke(&key, &revoked));
    assert!(!same_key(&key, &revoked));
    assert_ne!(key_tag(&key), key_tag(&revoked));
}

#[test]
fn rdata_text_round_trips() {
    let set = AnchorSet::builtin();
    for (zone, anchor) in set.iter() {
        let text = format!("{} IN {}", zone.to_ascii(), anchor.rdata_text());
        let again = inline(&[&text]).unwrap();
        assert_eq!(again.get(zone), std::slice::from_ref(anchor));
    }
}

/// Every `trust-anchor:` line of the Deckard scenarios (the replayer puts
/// them in `dnssec.trust_anchors` as they are) parses, per scenario.
#[test]
fn deckard_scenario_anchors_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/peer-suites/deckard-resolver-scenarios/sets/resolver");
    let mut scenarios = 0;
    let mut anchors = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rpl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("trust-anchor:"))
            // Unbound config syntax: a quoted value, then maybe `# ...`.
            .map(|l| {
                let l = l.trim();
                match l.strip_prefix('"') {
                    Some(rest) => rest.split('"').next().unwrap_or("").to_string(),
                    None => l.split('#').next().unwrap_or("").to_string(),
                }
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let set = AnchorSet::from_config(&lines, None)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        scenarios += 1;
        anchors += set.len();
    }
    assert!(scenarios >= 100, "{scenarios} scenarios with anchors");
    assert!(anchors >= scenarios);
}
