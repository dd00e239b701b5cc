//! Blocklist lookup speed at ISP scale.
//!
//! Loads the 1,038,838 real names of `../shared/data/blocklists/aggregate-1m`
//! (or, without it, 1M generated names) and measures a full policy check of
//! a query name: hits on listed names, hits on names below a listed one,
//! and misses with real popular names (`../shared/data/query-names`).
//! `DNSWARD_BENCH_10M=1` adds a 10M-entry set (the real 1M plus 9M
//! generated names shaped like them).
//!
//! Run: `cargo bench --bench blocklist`

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dnsward::policy::matcher::{DomainSet, DomainSetBuilder, LookupKey};
use dnsward::policy::parse::{EntryAction, Scope};

fn real_names() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/blocklists/aggregate-1m/aggregate.domains.txt.gz");
    match std::fs::File::open(&p) {
        Ok(f) => BufReader::new(flate2::read::GzDecoder::new(f))
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .collect(),
        Err(_) => (0..1_000_000)
            .map(|i| format!("host{i}.example{}.com", i % 5000))
            .collect(),
    }
}

fn popular_names() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/query-names/umbrella-top-100k/umbrella-top-100k.txt");
    std::fs::read_to_string(p)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_else(|_| (0..100_000).map(|i| format!("www.site{i}.org")).collect())
}

fn build(names: &[String], extra: usize) -> DomainSet {
    let t = Instant::now();
    let mut b = DomainSetBuilder::with_capacity(names.len() + extra);
    for (i, n) in names.iter().enumerate() {
        let _ = b.insert(n, Scope::Subtree, EntryAction::List, i as u32 + 1);
    }
    // Generated names reuse the real ones' shapes with a new first label.
    for i in 0..extra {
        let base = &names[i % names.len()];
        let n = format!("g{}-{}", i / names.len(), base);
        let _ = b.insert(&n, Scope::Subtree, EntryAction::List, 0);
    }
    let s = b.finish().expect("set fits");
    eprintln!(
        "built {} entries (+{} anchor markers) in {:.2?}: {} heap bytes = {:.1} B/entry",
        s.len(),
        s.markers(),
        t.elapsed(),
        s.heap_bytes(),
        s.heap_bytes() as f64 / s.len() as f64
    );
    s
}

fn decide(set: &DomainSet, key: &LookupKey) -> bool {
    set.lookup(key).is_some()
}

fn bench_set(c: &mut Criterion, label: &str, set: &DomainSet, names: &[String], misses: &[String]) {
    let hits: Vec<String> = names.iter().step_by(97).take(10_000).cloned().collect();
    let below: Vec<String> = hits.iter().map(|n| format!("cdn.img.{n}")).collect();
    let misses: Vec<String> = misses
        .iter()
        .filter(|n| !decide(set, &LookupKey::from_dotted(n)))
        .take(10_000)
        .cloned()
        .collect();
    let mut g = c.benchmark_group(label);
    g.throughput(Throughput::Elements(1));
    for (what, qs) in [
        ("hit_exact", &hits),
        ("hit_below", &below),
        ("miss", &misses),
    ] {
        let mut i = 0;
        g.bench_function(what, |b| {
            b.iter(|| {
                let q = &qs[i % qs.len()];
                i += 1;
                let key = LookupKey::from_dotted(black_box(q));
                black_box(decide(set, &key))
            })
        });
    }
    g.finish();
}

fn lookups(c: &mut Criterion) {
    let names = real_names();
    let misses = popular_names();
    let set = build(&names, 0);
    bench_set(c, "lookup_1m", &set, &names, &misses);
    drop(set);
    if std::env::var_os("DNSWARD_BENCH_10M").is_some() {
        let extra = 10_000_000usize.saturating_sub(names.len());
        let set = build(&names, extra);
        bench_set(c, "lookup_10m", &set, &names, &misses);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = lookups
}
criterion_main!(benches);
