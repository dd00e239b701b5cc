use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::matcher::LookupKey;
use super::rule::Format;
use super::*;
use crate::config::Action;
use crate::config::{ListConfig, ListKind, ListMode};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dnsward-policy-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn cfg(dir: &Path, name: &str, kind: ListKind, body: &str) -> ListConfig {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write");
    let mut c = ListConfig::simple(name, path, kind);
    c.action = Action::Nxdomain;
    // The matching tests use one-label entries (`c`, `example`).
    c.allow_tld_entries = true;
    c
}

fn list(dir: &Path, name: &str, kind: ListKind, body: &str) -> Arc<CompiledList> {
    Arc::new(
        compile_list(&cfg(dir, name, kind, body), None, false)
            .expect("compile")
            .0,
    )
}

fn describe(policy: &Policy, q: &str) -> String {
    match policy.decide(&LookupKey::from_dotted(q)).decision {
        Decision::NotListed => "none".to_string(),
        Decision::Allowed { list, .. } => format!("allow:{}", list.name()),
        Decision::Blocked(b) => format!("block:{}:{}", b.list.name(), b.hit.line),
    }
}

fn verdict_text(v: &Verdict<'_>) -> String {
    let block = |b: &Block<'_>| format!("{}:{}:{}", b.list.name(), b.depth, b.hit.line);
    let d = match &v.decision {
        Decision::NotListed => "none".to_string(),
        Decision::Allowed { list, line } => format!("allow:{}:{line}", list.name()),
        Decision::Blocked(b) => format!("block:{}", block(b)),
    };
    format!("{d} dry:{:?}", v.would_block.as_ref().map(block))
}

#[test]
fn two_pass_decide_agrees_with_the_walk() {
    let d = tmpdir("twopass");
    let mut dry = cfg(&d, "dry", ListKind::Block, "b.example\nz.a.example\n");
    dry.mode = ListMode::DryRun;
    let dry = Arc::new(compile_list(&dry, None, false).expect("compile").0);
    let policy = Policy {
        lists: vec![
            Some(list(
                &d,
                "one",
                ListKind::Block,
                "a.example\nx.y.b.example\nc\n",
            )),
            None,
            Some(list(
                &d,
                "two",
                ListKind::Block,
                "y.b.example\nq.a.example\n",
            )),
            Some(list(&d, "allow", ListKind::Allow, "ok.a.example\nc\n")),
            Some(dry),
            Some(list(
                &d,
                "rpz",
                ListKind::Block,
                "$ORIGIN rpz.\n*.w.a.example CNAME rpz-passthru.\nv.b.example CNAME *.\n",
            )),
        ],
        held: vec![],
    };
    let labels = ["a", "b", "c", "example", "x", "y", "z", "q", "ok", "w", "v"];
    let mut n = 0;
    // Every name of up to five labels over a small alphabet, so every
    // mix of depths, lists, anchors and allow rules is met.
    let mut stack: Vec<Vec<&str>> = labels.iter().map(|l| vec![*l]).collect();
    while let Some(name) = stack.pop() {
        let dotted = name.iter().rev().copied().collect::<Vec<_>>().join(".");
        let key = LookupKey::from_dotted(&dotted);
        // The batch preparation steps are hints: answers stay the same.
        policy.touch(&key);
        policy.touch_next(&key);
        assert_eq!(
            verdict_text(&policy.decide(&key)),
            verdict_text(&policy.decide_walk(&key)),
            "{dotted}"
        );
        n += 1;
        if name.len() < 5 {
            for l in labels {
                let mut longer = name.clone();
                longer.push(l);
                stack.push(longer);
            }
        }
    }
    assert!(n > 100_000, "{n} names checked");
}

#[test]
fn allow_beats_block_and_specific_beats_general() {
    let d = tmpdir("decide");
    let policy = Policy {
        lists: vec![
            Some(list(&d, "broad", ListKind::Block, "example\n")),
            Some(list(&d, "narrow", ListKind::Block, "ads.example\n")),
            Some(list(&d, "allow", ListKind::Allow, "ok.ads.example\n")),
            Some(list(&d, "deep", ListKind::Block, "a.b.c.d.example\n")),
        ],
        held: vec![],
    };
    assert_eq!(describe(&policy, "x.ads.example"), "block:narrow:1");
    assert_eq!(describe(&policy, "www.example"), "block:broad:1");
    assert_eq!(describe(&policy, "ok.ads.example"), "allow:allow");
    assert_eq!(describe(&policy, "deep.ok.ads.example"), "allow:allow");
    assert_eq!(describe(&policy, "z.a.b.c.d.example"), "block:deep:1");
    assert_eq!(describe(&policy, "other.test"), "none");
    let chain = policy.explain(&LookupKey::from_dotted("ok.ads.example"));
    let names: Vec<_> = chain.iter().map(|m| (m.list.name(), m.depth)).collect();
    assert_eq!(names, vec![("allow", 0), ("narrow", 1), ("broad", 2)]);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn passthru_and_dry_run() {
    let d = tmpdir("passthru");
    let mut dry = cfg(&d, "trial", ListKind::Block, "new-order.example\n");
    dry.mode = ListMode::DryRun;
    let policy = Policy {
        lists: vec![
            Some(list(&d, "rpz", ListKind::Block, "$TTL 60\n@ SOA a. b. 1 2 3 4 5\nx.example CNAME .\nok.x.example CNAME rpz-passthru.\n")),
            Some(Arc::new(compile_list(&dry, None, false).expect("c").0)),
        ],
        held: vec![],
    };
    assert_eq!(describe(&policy, "x.example"), "block:rpz:3");
    assert_eq!(describe(&policy, "ok.x.example"), "allow:rpz");
    let v = policy.decide(&LookupKey::from_dotted("www.new-order.example"));
    assert!(matches!(v.decision, Decision::NotListed));
    assert_eq!(
        v.would_block.map(|b| b.list.name().to_string()),
        Some("trial".into())
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn garbage_emptied_shrunk_and_bad_checksum_are_refused() {
    let d = tmpdir("refuse");
    let c = cfg(&d, "l", ListKind::Block, "not a name!\nalso bad?\n");
    let err = compile_list(&c, None, false).expect_err("garbage");
    assert!(err.to_string().contains(":1: "), "{err}");
    assert_eq!(err.reason(), "no_usable_entries");

    std::fs::write(&c.path, "a.example\nb.example\nc.example\nd.example\n").expect("w");
    let (v1, diff1) = compile_list(&c, None, false).expect("v1");
    assert_eq!(diff1.added, 4);
    std::fs::write(&c.path, "# only a comment\n").expect("w");
    assert!(matches!(
        compile_list(&c, Some(&v1), false),
        Err(ListError::Emptied { previous: 4, .. })
    ));
    // 3 of 4 removed (75% > 50%): refused unless forced.
    std::fs::write(&c.path, "a.example\ne.example\n").expect("w");
    let err = compile_list(&c, Some(&v1), false).expect_err("shrink");
    assert_eq!(err.reason(), "shrink");
    let (_, d2) = compile_list(&c, Some(&v1), true).expect("forced");
    assert_eq!((d2.before, d2.after, d2.added, d2.removed), (4, 2, 1, 3));

    // Sidecar checksum: a mismatch is refused even when forced.
    let (v2, _) = compile_list(&c, None, false).expect("v2");
    std::fs::write(sidecar_path(&c.path), format!("{}  l\n", "0".repeat(64))).expect("w");
    let err = compile_list(&c, None, true).expect_err("checksum");
    assert_eq!(err.reason(), "checksum");
    std::fs::write(sidecar_path(&c.path), format!("{}  l\n", v2.report.sha256)).expect("w");
    assert!(compile_list(&c, None, false).is_ok());
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn mostly_garbage_is_refused_and_the_good_file_then_accepted() {
    let d = tmpdir("rejected");
    let good = "a.example\nb.example\n";
    let c = cfg(&d, "l", ListKind::Block, good);
    let (v1, _) = compile_list(&c, None, false).expect("good");
    let mut garbage = good.to_string();
    for i in 0..300 {
        garbage.push_str(if i % 10 == 0 {
            "junk.example\n"
        } else {
            "<p>junk</p>\n"
        });
    }
    std::fs::write(&c.path, &garbage).expect("w");
    let err = compile_list(&c, Some(&v1), false).expect_err("garbage");
    assert_eq!(err.reason(), "too_many_rejected", "{err}");
    assert!(err.to_string().contains("max_rejected_percent 50"), "{err}");
    let cand = err.candidate().expect("candidate");
    assert_eq!((cand.entries, cand.added, cand.removed), (3, 1, 0));
    assert_eq!((cand.malformed_lines, cand.significant_lines), (270, 302));
    // Refused on a first load too, accepted when forced or disabled.
    assert!(compile_list(&c, None, false).is_err());
    assert!(compile_list(&c, Some(&v1), true).is_ok());
    let mut off = c.clone();
    off.max_rejected_percent = 100;
    assert!(compile_list(&off, Some(&v1), false).is_ok());
    // The good file again, against the serving (good) version.
    std::fs::write(&c.path, good).expect("w");
    let (_, diff) = compile_list(&c, Some(&v1), false).expect("restored");
    assert_eq!((diff.added, diff.removed), (0, 0));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn explain_validates_the_name_and_shows_scope() {
    let d = tmpdir("explain");
    let mut c = cfg(
        &d,
        "l",
        ListKind::Block,
        "$ORIGIN rpz.\n*.below.example CNAME .\nexact.example CNAME .\nboth.example CNAME .\n*.both.example CNAME .\n",
    );
    c.format = Format::Rpz;
    let policy = Policy {
        lists: vec![Some(Arc::new(compile_list(&c, None, false).expect("c").0))],
        held: vec![],
    };
    let scope = |q: &str| {
        let e = policy.explain_name(q).expect("valid");
        let r = e.decided_by.expect("decided");
        format!("{} {}", r.entry, r.scope)
    };
    assert_eq!(scope("x.below.example"), "*.below.example below");
    assert_eq!(scope("exact.example"), "exact.example exact");
    // RPZ writes a subtree as two rules, each shown with its own scope.
    assert_eq!(scope("both.example"), "both.example exact");
    assert_eq!(scope("x.both.example"), "*.both.example below");
    let sub = list(&d, "sub", ListKind::Block, "tree.example\n");
    let e = Policy {
        lists: vec![Some(sub)],
        held: vec![],
    }
    .explain_name("x.Tree.example.")
    .expect("valid");
    assert_eq!(e.name, "x.tree.example");
    let r = e.decided_by.expect("decided");
    assert_eq!((r.entry.as_str(), r.scope), ("tree.example", "subtree"));
    let text = policy.explain_name("exact.example").expect("v").to_string();
    assert!(text.contains("`exact.example` (exact name only)"), "{text}");
    for bad in [
        "",
        "a..b",
        &format!("{}.example", "a".repeat(292)),
        "bad name",
    ] {
        let err = policy.explain_name(bad).expect_err(bad);
        assert!(err.starts_with("invalid name"), "{err}");
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_group_mask_skips_lists_on_both_lookups() {
    let d = tmpdir("groupmask");
    let policy = Policy {
        lists: vec![
            Some(list(&d, "court", ListKind::Block, "court.example\n")),
            Some(list(&d, "adult", ListKind::Block, "adult.example\n")),
            Some(list(&d, "fam-allow", ListKind::Allow, "court.example\n")),
        ],
        held: Vec::new(),
    };
    let groups = Groups::build(
        &[crate::config::GroupConfig {
            name: "family".into(),
            clients: vec!["10.8.0.0/16".into()],
            lists: vec!["adult".into(), "fam-allow".into()],
        }],
        &["court", "adult", "fam-allow"],
    )
    .expect("groups");
    let family = groups.of("10.8.1.1".parse().expect("ip"));
    let other = groups.of("192.0.2.1".parse().expect("ip"));
    // A name deeper than the two-pass lookup takes the walk.
    let deep = format!("{}adult.example", "x.".repeat(30));
    for (q, fam, oth) in [
        ("www.adult.example", "allowed-or-blocked:adult", "none"),
        (deep.as_str(), "allowed-or-blocked:adult", "none"),
        // The group's allow list beats the mandatory block for it only.
        (
            "court.example",
            "allowed-or-blocked:fam-allow",
            "allowed-or-blocked:court",
        ),
    ] {
        let key = LookupKey::from_dotted(q);
        let show = |v: Verdict<'_>| match v.decision {
            Decision::NotListed => "none".to_string(),
            Decision::Allowed { list, .. } | Decision::Blocked(Block { list, .. }) => {
                format!("allowed-or-blocked:{}", list.name())
            }
        };
        assert_eq!(show(policy.decide_for(&key, family)), fam, "{q}");
        assert_eq!(show(policy.decide_for(&key, other)), oth, "{q}");
    }
}

/// An IXFR patched into a compiled RPZ list gives the list a whole
/// compile of the new version gives: same answers, local data, entry count
/// and content hash.
#[test]
fn ixfr_patch_equals_a_whole_compile() {
    let dir = tmpdir("patch");
    let soa =
        "$ORIGIN rpz.test.\nrpz.test. 300 IN SOA ns.rpz.test. h.rpz.test. 1 3600 1 86400 30\n";
    // Enough names that the set has room for a patch (a tiny one is
    // rebuilt instead).
    let filler: String = (0..100)
        .map(|i| format!("f{i}.rpz.test. 300 IN CNAME .\n"))
        .collect();
    let head = format!("{soa}{filler}");
    let v1 = format!(
        "{head}a.rpz.test. 300 IN CNAME .\n*.b.rpz.test. 300 IN CNAME *.\nc.rpz.test. 300 IN A 192.0.2.1\nd.rpz.test. 300 IN CNAME rpz-passthru.\nkeep.rpz.test. 300 IN CNAME .\n"
    );
    let v2 = format!(
        "{head}*.b.rpz.test. 300 IN CNAME *.\nb.rpz.test. 300 IN CNAME .\nc.rpz.test. 300 IN A 192.0.2.5\nc.rpz.test. 300 IN AAAA 2001:db8::1\nd.rpz.test. 300 IN CNAME rpz-passthru.\ne.x.rpz.test. 300 IN CNAME .\nkeep.rpz.test. 300 IN CNAME .\n"
    );
    let patch = RpzPatch {
        text: format!(
            "{soa}b.rpz.test. 300 IN CNAME .\n*.b.rpz.test. 300 IN CNAME *.\nc.rpz.test. 300 IN A 192.0.2.5\nc.rpz.test. 300 IN AAAA 2001:db8::1\ne.x.rpz.test. 300 IN CNAME .\n"
        ),
        triggers: ["a", "b", "c", "e.x"].map(String::from).to_vec(),
    };
    let transfer = |mut c: ListConfig| {
        c.format = Format::Rpz;
        c.transfer = Some(crate::config::TransferConfig {
            primaries: vec!["127.0.0.1:53".into()],
            zone: "rpz.test.".into(),
            tsig_key_file: None,
            refresh_secs: 0,
            retry_secs: 0,
            expire_secs: 0,
            expire_policy: crate::config::ExpirePolicy::Keep,
            timeout_secs: 5,
        });
        c
    };
    let c1 = transfer(cfg(&dir, "v1.rpz", ListKind::Block, &v1));
    let (old, _) = compile_list(&c1, None, false).expect("v1");
    let (patched, d) = patch_list(&old, &patch).expect("patch").expect("room");
    let c2 = transfer(cfg(&dir, "v2.rpz", ListKind::Block, &v2));
    let (whole, _) = compile_list(&c2, None, false).expect("v2");
    assert_eq!(
        (d.added, d.removed),
        (1, 1),
        "e.x new, a gone, b and c changed"
    );
    assert_eq!(patched.set.len(), whole.set.len());
    assert_eq!(patched.content_sha256, whole.content_sha256);
    assert_eq!(patched.report.sha256, whole.report.sha256);
    assert_ne!(patched.content_sha256, old.content_sha256);
    assert_eq!(patched.local_data("c", false), whole.local_data("c", false));
    let describe = |l: &CompiledList, q: &str| {
        let p = Policy {
            lists: vec![Some(Arc::new(CompiledList {
                cfg: l.cfg.clone(),
                set: l.set.patched(&[]).expect("copy").expect("room").0,
                local: l.local.clone(),
                report: l.report.clone(),
                loaded_at: l.loaded_at,
                fingerprint: None,
                ede_text: l.ede_text.clone(),
                content: l.content,
                content_sha256: l.content_sha256.clone(),
            }))],
            held: Vec::new(),
        };
        match p.decide(&LookupKey::from_dotted(q)).decision {
            Decision::NotListed => "none".to_string(),
            Decision::Allowed { .. } => "allow".to_string(),
            Decision::Blocked(b) => format!("{:?}@{}", b.hit.action, b.depth),
        }
    };
    for q in [
        "a", "b", "x.b", "c", "d", "e.x", "y.e.x", "keep", "x.keep", "other",
    ] {
        assert_eq!(describe(&patched, q), describe(&whole, q), "{q}");
    }
    assert_eq!(describe(&patched, "a"), "none");
    let _ = std::fs::remove_dir_all(dir);
}

/// `dnsward_list_info`'s hash is of what a list enforces: the same policy
/// from a hand-written zone file (comments, relative names, another order)
/// and from the seed a transfer writes, or two orderings of a domain list,
/// hash the same; another action does not.
#[test]
fn content_hash_is_canonical_across_sources() {
    let dir = tmpdir("canon");
    let by_hand = "; court order 7\n$ORIGIN rpz.test.\n$TTL 300\n@ IN SOA ns h 3 3600 1 86400 30\n@ IN NS ns\nz.example CNAME .\n*.a.example CNAME *.\n; local data\nc.example A 192.0.2.1\na.example CNAME .\n";
    let rendered = "$ORIGIN rpz.test.\nrpz.test. 300 IN SOA ns.rpz.test. h.rpz.test. 9 3600 1 86400 30\n*.a.example.rpz.test. 300 IN CNAME *.\na.example.rpz.test. 300 IN CNAME .\nc.example.rpz.test. 300 IN A 192.0.2.1\nrpz.test. 300 IN NS ns.rpz.test.\nz.example.rpz.test. 300 IN CNAME .\n";
    let hash = |name: &str, body: &str, format: Format| {
        let mut c = cfg(&dir, name, ListKind::Block, body);
        c.format = format;
        compile_list(&c, None, false)
            .expect("compile")
            .0
            .content_sha256
    };
    assert_eq!(
        hash("hand.rpz", by_hand, Format::Rpz),
        hash("seed.rpz", rendered, Format::Rpz)
    );
    assert_ne!(
        hash("hand.rpz", by_hand, Format::Rpz),
        hash(
            "other.rpz",
            &rendered.replace(
                "z.example.rpz.test. 300 IN CNAME .",
                "z.example.rpz.test. 300 IN CNAME *."
            ),
            Format::Rpz
        )
    );
    assert_eq!(
        hash("a.txt", "x.example\ny.example\n", Format::Domains),
        hash(
            "b.txt",
            "# feed v2\ny.example\n\nX.Example.\n",
            Format::Domains
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}
