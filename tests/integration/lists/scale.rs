//! A 1M-name aggregate against an independent oracle, and every shared
//! list under the default guards.

use super::*;

fn gunzip_to(src: &Path, dst: &Path) {
    let f = std::fs::File::open(src).expect("open gz");
    let mut d = flate2::read::GzDecoder::new(BufReader::new(f));
    let mut out = std::io::BufWriter::new(std::fs::File::create(dst).expect("create"));
    std::io::copy(&mut d, &mut out).expect("gunzip");
    out.flush().expect("flush");
}

#[test]
fn aggregate_1m_compiles_and_decides_like_an_oracle() {
    let dir = crate::common::TempDir::new("agg1m");
    let path = dir.path().join("aggregate.domains.txt");
    gunzip_to(
        &data("blocklists/aggregate-1m/aggregate.domains.txt.gz"),
        &path,
    );
    let text = std::fs::read_to_string(&path).expect("read");
    let names: Vec<&str> = text.lines().collect();
    assert_eq!(names.len(), 1_038_838);

    let mut cfg = ListConfig::simple("agg", path.clone(), ListKind::Block);
    cfg.format = Format::Auto;
    let (list, diff) = compile_list(&cfg, None, false).expect("compile 1M");
    assert_eq!(list.report.format, Some(Format::Domains));
    assert!(list.report.balanced());
    assert_eq!(
        counts(&list.report),
        (1_038_838, 1_038_838, 0, 0, 0, 0),
        "SOURCE.md: 1,038,838 domains, all valid"
    );
    assert_eq!(list.set.len(), 1_038_838);
    assert_eq!(diff.added, 1_038_838);
    let policy = Policy {
        lists: vec![Some(Arc::new(list))],
        held: vec![],
    };

    // 1,000 listed names, spread over the file: blocked at depth 0 by
    // their own line; a name below each is blocked by the same line.
    let step = names.len() / 1_000;
    for i in (0..names.len()).step_by(step).take(1_000) {
        let line = i as u32 + 1;
        for (q, depth) in [
            (names[i].to_string(), 0),
            (format!("zz-sub.{}", names[i]), 1),
        ] {
            match policy.decide(&LookupKey::from_dotted(&q)).decision {
                Decision::Blocked(b) => {
                    // A more specific listed parent may not exist for q at
                    // depth 1 (zz-sub. is not listed), so the hit is ours.
                    assert_eq!((b.depth, b.hit.line), (depth, line), "{q}");
                }
                other => panic!("{q} not blocked: {other:?}"),
            }
        }
    }

    // Oracle for popular names: listed iff the name or a parent is in the
    // set; the most specific listed suffix decides.
    let set: HashSet<&str> = names.iter().copied().collect();
    let umbrella =
        std::fs::read_to_string(data("query-names/umbrella-top-100k/umbrella-top-100k.txt"))
            .expect("umbrella");
    let (mut listed, mut unlisted) = (0, 0);
    for raw in umbrella.lines() {
        let q = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if q.is_empty() || parse::normalize_name(&q).is_err() {
            continue;
        }
        let labels: Vec<&str> = q.split('.').collect();
        let expected = (0..labels.len()).find(|&d| set.contains(labels[d..].join(".").as_str()));
        match (
            policy.decide(&LookupKey::from_dotted(&q)).decision,
            expected,
        ) {
            (Decision::NotListed, None) => unlisted += 1,
            (Decision::Blocked(b), Some(d)) => {
                assert_eq!(b.depth, d, "{q}");
                listed += 1;
            }
            (got, want) => panic!("{q}: got {got:?}, oracle says {want:?}"),
        }
    }
    assert!(unlisted >= 1_000, "only {unlisted} unlisted popular names");
    assert!(listed >= 100, "only {listed} listed popular names");
}

// ------------------------------------------------------ guards, all lists

/// Every list file under `../shared/data/blocklists` in a format dnsward
/// reads, loaded as an operator would (`format = "auto"`, every setting at
/// its default): none may trip the `max_rejected_percent` guard or lose
/// entries to the single-label rule, however many well-formed rules it has
/// that DNS cannot enforce (urlhaus' URL-path and IP rules). The unbound
/// and dnsmasq configuration exports are not list formats and stay refused
/// as unusable.
#[test]
fn every_shared_list_loads_with_default_guards() {
    let dir = crate::common::TempDir::new("alllists");
    let mut files = Vec::new();
    walk(&data("blocklists"), &mut files);
    files.sort();
    let mut loaded = 0;
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".md") || name.starts_with("LICENSE") {
            continue;
        }
        let path = if name.ends_with(".gz") {
            let out = dir.path().join(name.trim_end_matches(".gz"));
            gunzip_to(&f, &out);
            out
        } else {
            f.clone()
        };
        let cfg = ListConfig::simple("l", path.clone(), ListKind::Block);
        let result = compile_list(&cfg, None, false);
        if name.ends_with("-unbound.conf") || name.ends_with("-dnsmasq.conf") {
            let err = result.expect_err("not a list format");
            assert_eq!(err.reason(), "no_usable_entries", "{}", f.display());
            continue;
        }
        let (list, _) = result.unwrap_or_else(|e| panic!("{}: refused: {e}", f.display()));
        assert_eq!(
            list.report.tld_entries,
            0,
            "{}: single-label entries {:?}",
            f.display(),
            list.report.first_tld_line
        );
        assert!(list.set.len() > 100, "{}", f.display());
        loaded += 1;
    }
    assert!(loaded >= 30, "only {loaded} lists found");
}
