use super::build::*;
use super::key::*;
use super::table::*;
use super::*;

const L: EntryAction = EntryAction::List;

fn set(names: &[(&str, Scope)]) -> DomainSet {
    let mut b = DomainSetBuilder::default();
    for (i, (n, c)) in names.iter().enumerate() {
        b.insert(n, *c, L, i as u32 + 1).expect("insert");
    }
    b.finish().expect("finish")
}

fn covered(s: &DomainSet, q: &str) -> Option<String> {
    let k = LookupKey::from_dotted(q);
    s.lookup(&k).map(|(d, _)| k.suffix_str(d).into_owned())
}

#[test]
fn suffix_hashes_match_whole_name_hashes() {
    let k = LookupKey::from_dotted("A.b.Example.COM.");
    assert_eq!(k.labels(), 4);
    let all: Vec<_> = k.suffixes().collect();
    assert_eq!(all.len(), 4);
    for sfx in &all {
        assert_eq!(sfx.hash, hash_name(sfx.name), "suffix {}", sfx.depth);
        assert_eq!(sfx.name, k.suffix(sfx.depth));
    }
    assert_eq!(all[0].name, b"com");
    assert_eq!(k.suffix(0), b"a.b.example.com");
}

#[test]
fn a_reused_key_equals_a_fresh_one() {
    let mut k = LookupKey::new();
    for name in [
        "a.very-long-label-to-leave-bytes-behind.example.com",
        "x.y",
        "Mixed.CASE.example",
        "",
        &"q.".repeat(FAST_LABELS + 3),
        "b.example",
    ] {
        k.assign(name.split('.').map(str::as_bytes));
        let fresh = LookupKey::from_dotted(name);
        assert_eq!(k.name_bytes(), fresh.name_bytes());
        assert_eq!(k.labels(), fresh.labels());
        let a: Vec<_> = k.suffixes().map(|s| (s.depth, s.name, s.hash)).collect();
        let b: Vec<_> = fresh
            .suffixes()
            .map(|s| (s.depth, s.name, s.hash))
            .collect();
        assert_eq!(a, b, "{name}");
        match (k.suffix_hashes(), fresh.suffix_hashes()) {
            (Some(x), Some(y)) => {
                assert_eq!(x.len(), y.len());
                assert_eq!(x.hashes[..x.len()], y.hashes[..y.len()]);
            }
            (None, None) => {}
            _ => panic!("fast hashes differ for {name}"),
        }
    }
}

/// Everything a key holds that lookups read, for comparing two keys.
#[derive(Debug, PartialEq)]
struct KeyParts {
    name: Vec<u8>,
    labels: usize,
    suffixes: Vec<(usize, Vec<u8>, u64)>,
    fast: Option<Vec<u64>>,
}

fn key_parts(k: &LookupKey) -> KeyParts {
    KeyParts {
        name: k.name_bytes().to_vec(),
        labels: k.labels(),
        suffixes: k
            .suffixes()
            .map(|s| (s.depth, s.name.to_vec(), s.hash))
            .collect(),
        fast: k.suffix_hashes().map(|h| h.hashes[..h.len()].to_vec()),
    }
}

/// The labels `assign_wire` reads: up to the zero label, a length over
/// 63 or one running past the input.
fn wire_labels(w: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&l) = w.get(i) {
        let l = usize::from(l);
        if l == 0 || l > 63 || i + 1 + l > w.len() {
            break;
        }
        out.push(&w[i + 1..i + 1 + l]);
        i += 1 + l;
    }
    out
}

#[test]
fn key_lowercasing_matches_bytewise() {
    // 40 bytes: three 16-byte chunks, the last one partly past the name.
    let base = *b"AzZ.9\xc3@[`{ABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123";
    for b in 0..=255u8 {
        for pos in 0..base.len() {
            let mut label = base;
            label[pos] = b;
            let mut wire = vec![label.len() as u8];
            wire.extend_from_slice(&label);
            wire.push(0);
            let mut k = LookupKey::new();
            k.assign_wire(&wire);
            let want: Vec<u8> = label.iter().map(u8::to_ascii_lowercase).collect();
            assert_eq!(k.name_bytes(), &want[..], "byte {b:#x} at {pos}");
        }
    }
}

#[test]
fn a_wire_key_equals_a_label_key() {
    // Fixed cases, then random wire input (lengths, case, bytes,
    // truncation, pointers, over-long names), against `assign`.
    let mut cases: Vec<Vec<u8>> = vec![
        b"\x03WwW\x07Example\x03COM\x00".to_vec(),
        b"\x00".to_vec(),
        Vec::new(),
        b"\x03abc".to_vec(),
        b"\x05ab".to_vec(),
        b"\x02ab\xc0\x0c".to_vec(),
        [
            &[63u8][..],
            &[b'A'; 63],
            &[63],
            &[b'b'; 63],
            &[63],
            &[b'c'; 63],
            &[63],
            &[b'd'; 63],
            &[0],
        ]
        .concat(),
        [1u8, b'x'].repeat(130),
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let mut w = Vec::new();
        let labels = next() % 12;
        for _ in 0..labels {
            let l = (next() % 70) as usize;
            w.push(l as u8);
            for _ in 0..l {
                let r = next();
                w.push(if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    b'A' + (r >> 8) as u8 % 58
                });
            }
        }
        if next() % 4 != 0 {
            w.push(0);
        }
        let cut = (next() as usize) % (w.len() + 1);
        if next() % 8 == 0 {
            w.truncate(cut);
        }
        cases.push(w);
    }
    let mut by_wire = LookupKey::new();
    let mut by_labels = LookupKey::new();
    for w in &cases {
        by_wire.assign_wire(w);
        by_labels.assign(wire_labels(w));
        assert_eq!(key_parts(&by_wire), key_parts(&by_labels), "{w:?}");
    }
}

#[test]
fn a_dot_inside_a_label_is_told_apart() {
    let plain = LookupKey::from_dotted("www.Example.com");
    let mut out = [0; 256];
    assert_eq!(plain.wire_name(&mut out), b"\x03www\x07example\x03com");
    assert!(!plain.has_label_dots());
    assert!(LookupKey::new().wire_name(&mut out).is_empty());
    assert!(!LookupKey::new().has_label_dots());

    // One label `a.b` under `c`: the same dotted text as `a.b.c`, a
    // different wire name. Built from labels and from the wire alike.
    let odd = LookupKey::from_labels([&b"a.B"[..], b"c"]);
    let mut from_wire = LookupKey::new();
    from_wire.assign_wire(b"\x03a.B\x01c\x00");
    for k in [&odd, &from_wire] {
        assert_eq!(k.name_bytes(), b"a.b.c");
        assert!(k.has_label_dots());
        assert_eq!(k.wire_name(&mut out), b"\x03a.b\x01c");
    }
    let three = LookupKey::from_dotted("a.b.c");
    assert_eq!(three.wire_name(&mut out), b"\x01a\x01b\x01c");

    // Made unmatchable, the odd label keeps its place: parents to its
    // right match as before, the suffixes through it match nothing.
    let s = set(&[("a.b.c", Scope::Subtree), ("c", Scope::Subtree)]);
    assert_eq!(covered(&s, "a.b.c").as_deref(), Some("a.b.c"));
    let fixed = odd.without_label_dots();
    assert_eq!(fixed.labels(), 2);
    assert_eq!(fixed.suffix(1), b"c");
    assert_eq!(fixed.suffix(0), b"a\x00b.c");
    assert_eq!(s.lookup(&fixed).map(|(d, _)| d), Some(1));
    let deep = LookupKey::from_labels([&b"x.y"[..], b"a", b"b", b"c"]).without_label_dots();
    assert_eq!(s.lookup(&deep).map(|(d, _)| d), Some(1), "a.b.c covers it");
}

#[test]
fn odd_dotted_input_is_safe() {
    for name in [
        ".b.example",
        "a..b",
        "...",
        &("a".repeat(254) + "..."),
        &"x.".repeat(200),
    ] {
        let k = LookupKey::from_dotted(name);
        for sfx in k.suffixes() {
            assert_eq!(sfx.hash, hash_name(sfx.name), "{name}");
        }
    }
    assert_eq!(
        LookupKey::from_dotted(".b.example").name_bytes(),
        b"b.example"
    );
}

#[test]
fn subtree_exact_and_below_scopes() {
    let s = set(&[
        ("ads.example", Scope::Subtree),
        ("track.example", Scope::Below),
        ("only.example", Scope::Exact),
    ]);
    assert_eq!(covered(&s, "ads.example").as_deref(), Some("ads.example"));
    assert_eq!(
        covered(&s, "x.y.ADS.example.").as_deref(),
        Some("ads.example")
    );
    assert_eq!(covered(&s, "track.example"), None);
    assert_eq!(
        covered(&s, "a.track.example").as_deref(),
        Some("track.example")
    );
    assert_eq!(covered(&s, "only.example").as_deref(), Some("only.example"));
    assert_eq!(covered(&s, "a.only.example"), None);
    assert_eq!(covered(&s, "example"), None);
    assert_eq!(covered(&s, "notads.example"), None);
    assert_eq!(covered(&s, "."), None);
}

#[test]
fn deep_entries_are_found_past_their_anchor_marker() {
    let s = set(&[
        ("a.b.c.example.com", Scope::Subtree),
        ("x.org", Scope::Subtree),
    ]);
    assert_eq!(s.len(), 2);
    assert_eq!(s.markers(), 1, "example.com marker");
    assert_eq!(
        covered(&s, "z.a.b.c.example.com").as_deref(),
        Some("a.b.c.example.com")
    );
    assert_eq!(covered(&s, "b.c.example.com"), None);
    assert_eq!(covered(&s, "example.com"), None, "a marker blocks nothing");
    assert_eq!(covered(&s, "www.x.org").as_deref(), Some("x.org"));
    assert_eq!(s.iter().count(), 2, "markers are not entries");
}

#[test]
fn per_scope_actions_and_lines() {
    let mut b = DomainSetBuilder::default();
    b.insert("x.example", Scope::Exact, EntryAction::Nxdomain, 10)
        .expect("i");
    b.insert("x.example", Scope::Below, EntryAction::Nodata, 11)
        .expect("i");
    b.insert("x.example", Scope::Exact, EntryAction::Drop, 12)
        .expect("i");
    let s = b.finish().expect("finish");
    assert_eq!(
        s.rules("x.example"),
        (
            Some(Hit {
                action: EntryAction::Nxdomain,
                line: 10
            }),
            Some(Hit {
                action: EntryAction::Nodata,
                line: 11
            })
        )
    );
    assert_eq!(s.len(), 1);

    // Wildcard first, then the exact rule: each keeps its own line.
    let mut b = DomainSetBuilder::default();
    b.insert("y.example", Scope::Below, EntryAction::Nxdomain, 3)
        .expect("i");
    b.insert("y.example", Scope::Exact, EntryAction::Nodata, 4)
        .expect("i");
    let s = b.finish().expect("finish");
    assert_eq!(
        s.rules("y.example"),
        (
            Some(Hit {
                action: EntryAction::Nodata,
                line: 4
            }),
            Some(Hit {
                action: EntryAction::Nxdomain,
                line: 3
            })
        )
    );
}

#[test]
fn many_names_all_found_and_misses_missed() {
    let mut b = DomainSetBuilder::default();
    for i in 0..50_000u32 {
        b.insert(
            &format!("host{i}.zone{}.example", i % 97),
            Scope::Subtree,
            L,
            i,
        )
        .expect("insert");
    }
    let s = b.finish().expect("finish");
    assert_eq!(s.len(), 50_000);
    assert_eq!(s.markers(), 97);
    for i in (0..50_000u32).step_by(7) {
        let h = s.get_name(&format!("host{i}.zone{}.example", i % 97));
        assert_eq!(h.map(|h| h.line), Some(i));
        assert!(s
            .get_name(&format!("host{i}.zone{}.example", (i + 1) % 97))
            .is_none());
    }
    assert_eq!(s.iter().count(), 50_000);
}

#[test]
fn two_pass_lookup_agrees_with_the_walk() {
    let mut b = DomainSetBuilder::default();
    let mut line = 0;
    for i in 0..3_000u32 {
        let scope = [Scope::Subtree, Scope::Exact, Scope::Below][(i % 3) as usize];
        line += 1;
        b.insert(&format!("n{i}.d{}.example", i % 50), scope, L, line)
            .expect("insert");
        if i % 7 == 0 {
            line += 1;
            b.insert(&format!("d{}.example", i % 50), Scope::Below, L, line)
                .expect("insert");
        }
        // Anchors with nothing listed below them: the batch scans
        // their names in its second pass, not its third.
        if i % 30 == 0 {
            line += 1;
            b.insert(&format!("p{i}.test"), Scope::Subtree, L, line)
                .expect("insert");
        }
    }
    let s = b.finish().expect("finish");
    for i in 0..6_000u32 {
        for q in [
            format!("n{i}.d{}.example", i % 50),
            format!("x.n{i}.d{}.example", i % 50),
            format!("d{}.example", i % 60),
            format!("a.b.c.d.e.f.d{}.example", i % 60),
        ] {
            let k = LookupKey::from_dotted(&q);
            assert_eq!(s.lookup(&k), s.lookup_walk(&k), "{q}");
        }
    }
    // The batched form gives the same answers, in order, across chunks.
    let keys: Vec<LookupKey> = (0..200u32)
        .map(|i| match i % 6 {
            0 => format!("n{i}.d{}.example", i % 50),
            1 => format!("x.n{i}.d{}.example", i % 50),
            2 => format!("{}n{i}.d{}.example", "l.".repeat(FAST_LABELS), i % 50),
            3 => format!("x.p{}.test", i / 6 * 30),
            4 => format!("x.p{i}.test"),
            _ => format!("miss{i}.example"),
        })
        .map(|q| LookupKey::from_dotted(&q))
        .collect();
    let mut out = vec![None; keys.len()];
    s.lookup_batch(&keys, &mut out);
    for (k, o) in keys.iter().zip(&out) {
        assert_eq!(*o, s.lookup_walk(k));
    }
    assert!(out.iter().filter(|o| o.is_some()).count() > 50);
    let below_plain = keys
        .iter()
        .zip(&out)
        .filter(|(k, o)| o.is_some() && k.name_bytes().ends_with(b".test") && k.labels() == 3);
    assert!(below_plain.count() > 20);
    // Deeper than the two-pass limit: the walk answers.
    let deep = format!("{}n3.d3.example", "l.".repeat(FAST_LABELS));
    let k = LookupKey::from_dotted(&deep);
    assert!(k.suffix_hashes().is_none());
    assert_eq!(s.lookup(&k), s.lookup_walk(&k));
}

#[test]
fn missing_count_matches_brute_force_across_edits() {
    let names: Vec<String> = (0..5_000)
        .map(|i| format!("h{i}.z{}.example", i % 40))
        .collect();
    let build = |v: &[String]| {
        let mut b = DomainSetBuilder::default();
        for (i, n) in v.iter().enumerate() {
            b.insert(n, Scope::Subtree, L, i as u32 + 1)
                .expect("insert");
        }
        b.finish().expect("finish")
    };
    let old = build(&names);
    // Deletions, insertions, a moved block and a rewrite of the tail.
    let mut edited: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 11 != 3)
        .map(|(_, n)| n.clone())
        .collect();
    edited.insert(100, "new1.example".into());
    edited.insert(2_000, "new2.example".into());
    let moved: Vec<String> = edited.drain(300..400).collect();
    edited.extend(moved);
    for n in edited.iter_mut().skip(4_500) {
        n.push_str(".changed");
    }
    let new = build(&edited);
    let brute = |a: &DomainSet, b: &DomainSet| {
        a.iter()
            .filter(|(n, _, _)| std::str::from_utf8(n).map_or(true, |n| b.rules(n) == (None, None)))
            .count()
    };
    assert_eq!(old.count_missing_from(&new), brute(&old, &new));
    assert_eq!(new.count_missing_from(&old), brute(&new, &old));
    assert_eq!(old.count_missing_from(&old), 0);
    let empty = build(&[]);
    assert_eq!(old.count_missing_from(&empty), old.len());
    assert_eq!(empty.count_missing_from(&old), 0);
}

#[test]
fn empty_set_misses() {
    let s = DomainSetBuilder::default().finish().expect("finish");
    assert!(s.is_empty());
    assert_eq!(covered(&s, "a.b"), None);
}

/// Two names whose tags are equal and whose probe runs start at the
/// same home slot of a two-name set: the first one placed is met first
/// by a probe for the second, so the early stop in `peek` must not
/// return its meta bits alone. Without `META_SHARED` the below rule of
/// the second name is never seen.
#[test]
fn equal_tags_in_one_probe_run_are_both_found() {
    let homes = final_homes(2);
    let mut by_tag: HashMap<(u64, usize), String> = HashMap::new();
    let (a, b) = (0..400_000)
        .find_map(|i| {
            let name = format!("n{i}.test");
            let h = hash_name(name.as_bytes());
            let k = (tag_of(h), slot_index(h, homes));
            match by_tag.get(&k) {
                Some(other) => Some((other.clone(), name)),
                None => {
                    by_tag.insert(k, name);
                    None
                }
            }
        })
        .expect("a tag and home collision among 400k names");
    let s = set(&[(&a, Scope::Exact), (&b, Scope::Subtree)]);
    let first = s.peek(hash_name(a.as_bytes()));
    assert_ne!(first.0 & META_SHARED, 0, "{a} was walked past by {b}");
    assert_eq!(covered(&s, &a), Some(a.clone()));
    assert_eq!(covered(&s, &b), Some(b.clone()));
    assert_eq!(covered(&s, &format!("x.{b}")), Some(b.clone()));
    assert_eq!(covered(&s, &format!("x.{a}")), None);
}

/// A patched set answers every lookup, the fast two-pass one and the
/// walk, as a set built from the patched rules does.
#[test]
fn a_patched_set_answers_as_a_rebuilt_one() {
    let mut before: Vec<String> = (0..3000).map(|i| format!("n{i}.example")).collect();
    before.push("deep.a.b.example".into());
    before.push("keep.example".into());
    let mut b = DomainSetBuilder::default();
    for (i, n) in before.iter().enumerate() {
        b.insert(n, Scope::Exact, L, i as u32 + 1).expect("insert");
    }
    let old = b.finish().expect("finish");
    let rules = |name: &str, exact: bool, below: bool| NameRules {
        name: name.into(),
        exact: exact.then_some((EntryAction::Nxdomain, 0)),
        below: below.then_some((EntryAction::Nodata, 0)),
    };
    let changes = vec![
        rules("n1.example", false, false),
        rules("deep.a.b.example", false, false),
        rules("n2.example", true, true),
        rules("new.deep.other.test", true, false),
        rules("fresh.example", false, true),
        rules("tld", true, false),
        rules("absent.example", false, false),
    ];
    let (new, stats) = old.patched(&changes).expect("ok").expect("room");
    assert_eq!(stats.added, 3);
    assert_eq!(stats.removed, 2);
    assert_eq!(new.len(), old.len() + 1);
    let mut after = DomainSetBuilder::default();
    for (i, n) in before.iter().enumerate() {
        if changes.iter().all(|c| c.name != *n) {
            after
                .insert(n, Scope::Exact, L, i as u32 + 1)
                .expect("insert");
        }
    }
    for c in &changes {
        if let Some((a, l)) = c.exact {
            after.insert(&c.name, Scope::Exact, a, l).expect("insert");
        }
        if let Some((a, l)) = c.below {
            after.insert(&c.name, Scope::Below, a, l).expect("insert");
        }
    }
    let rebuilt = after.finish().expect("finish");
    assert_eq!(new.len(), rebuilt.len());
    let mut queries: Vec<String> = before.iter().map(|n| format!("x.{n}")).collect();
    queries.extend(before.iter().cloned());
    for q in [
        "n2.example",
        "a.n2.example",
        "new.deep.other.test",
        "x.new.deep.other.test",
        "fresh.example",
        "y.fresh.example",
        "tld",
        "a.tld",
        "deep.a.b.example",
        "absent.example",
        "other.test",
    ] {
        queries.push(q.into());
    }
    for q in &queries {
        let k = LookupKey::from_dotted(q);
        let want = rebuilt.lookup(&k).map(|(d, h)| (d, h.action));
        assert_eq!(new.lookup(&k).map(|(d, h)| (d, h.action)), want, "{q}");
        assert_eq!(new.lookup_walk(&k).map(|(d, h)| (d, h.action)), want, "{q}");
    }
    // The serving set is untouched.
    assert!(old.lookup(&LookupKey::from_dotted("n1.example")).is_some());
    // No room: declined, for a rebuild.
    let many: Vec<NameRules> = (0..old.len() * 2)
        .map(|i| rules(&format!("m{i}.test"), true, false))
        .collect();
    assert!(old.patched(&many).expect("ok").is_none());
}
