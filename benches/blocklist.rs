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

/// Query names in wire format (length-prefixed labels) packed back to
/// back and read in order: like a name in a packet that has just arrived,
/// the bytes are in cache (the hardware prefetcher streams them) and the
/// key is built from the wire name as the server does, so the measurement is
/// the lookup, not a cache miss on a `String` scattered over the heap.
struct Queries {
    wire: Vec<u8>,
    starts: Vec<u32>,
}

impl Queries {
    fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut q = Queries {
            wire: Vec::new(),
            starts: Vec::new(),
        };
        for n in names {
            q.starts.push(q.wire.len() as u32);
            for label in n.split('.').filter(|l| !l.is_empty()) {
                q.wire.push(label.len() as u8);
                q.wire.extend_from_slice(label.as_bytes());
            }
            q.wire.push(0);
        }
        q
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    /// Name `i` in wire form, as the server's quick parser hands it over.
    fn wire(&self, i: usize) -> &[u8] {
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.wire.len(), |&e| e as usize);
        &self.wire[self.starts[i] as usize..end]
    }
}

/// The next of a fixed, dependency-free pseudo-random sequence
/// (xorshift64), for repeatable draws.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// `n` draws from `pool` with Zipf(1) popularity by position: the shape
/// of real resolver traffic, where a few names make most queries.
fn zipf(pool: &[String], n: usize) -> Vec<&str> {
    let weights: Vec<f64> = (1..=pool.len()).map(|r| 1.0 / r as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(pool.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            let u = (xorshift(&mut x) >> 11) as f64 / (1u64 << 53) as f64;
            let i = cdf.partition_point(|&c| c < u).min(pool.len() - 1);
            pool[i].as_str()
        })
        .collect()
}

/// Percentile `p` (0..1) of sorted clock readings, interpolated between
/// the values the clock can show. This VM's clock moves in steps of ~10 ns
/// (the TSC advances ~24.5 ticks at a time), so a plain median of
/// per-lookup readings jumps a whole step and the target sits on a step.
/// A reading starts at a random phase of the step, so it is the true time
/// rounded up or down with odds that make its expected value the true
/// time: readings within 4 ns of each other are taken as one step value
/// (their mean), each step stands for the middle of its share of the
/// readings, and the percentile is interpolated linearly between steps
/// (the usual median of grouped data). On simulated lognormal times
/// quantised this way it lands within 0.5 ns of the true median, where the
/// plain median of the readings minus the median empty reading was off by
/// -1 to +7 ns. On a clock with finer steps it is a plain percentile with
/// a little smoothing.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    // (sum of the values, count, last value) per step.
    let mut steps: Vec<(u64, u64, u64)> = Vec::new();
    for &v in sorted {
        match steps.last_mut() {
            Some(s) if v - s.2 <= 4 => *s = (s.0 + v, s.1 + 1, v),
            _ => steps.push((v, 1, v)),
        }
    }
    let target = p * sorted.len() as f64;
    let mut before = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    for &(sum, n, _) in &steps {
        let (value, mid) = (sum as f64 / n as f64, before + n as f64 / 2.0);
        before += n as f64;
        match prev {
            _ if mid < target => prev = Some((value, mid)),
            Some((v0, m0)) => return v0 + (target - m0) / (mid - m0) * (value - v0),
            None => return value,
        }
    }
    prev.map_or(0.0, |(v, _)| v)
}

/// Criterion reports the mean; the goal is about the median, and the
/// mean of a skewed stream is set by its tail. So time every lookup on its
/// own (two `Instant::now()` reads, ~34 ns here; the mean of empty pairs
/// is subtracted: a mean, because a reading's expected value is the true
/// time, see [`percentile`]) and print p50/p90/p99.
fn percentiles(label: &str, what: &str, set: &DomainSet, qs: &Queries) {
    let rounds = 7;
    let empty = 100_000;
    let mut total = 0u64;
    for _ in 0..empty {
        let t = Instant::now();
        total += black_box(t).elapsed().as_nanos() as u64;
    }
    let overhead = total as f64 / f64::from(empty);
    let mut ns = Vec::with_capacity(qs.len() * rounds);
    let mut round_p50 = Vec::with_capacity(rounds);
    let mut key = LookupKey::new();
    for round in 0..rounds {
        let from = ns.len();
        for i in 0..qs.len() {
            let t = Instant::now();
            key.assign_wire(qs.wire(black_box(i)));
            black_box(decide(set, &key));
            ns.push(t.elapsed().as_nanos() as u64);
        }
        // The first round warms the caches as a running server's are.
        if round == 0 {
            ns.clear();
            continue;
        }
        let this = &mut ns[from..];
        this.sort_unstable();
        round_p50.push(format!("{:.1}", percentile(this, 0.5) - overhead));
    }
    ns.sort_unstable();
    let at = |p: f64| percentile(&ns, p) - overhead;
    eprintln!(
        "{label}/{what}: per-lookup p50 {:.1} ns, p90 {:.1} ns, p99 {:.1} ns (timer overhead {overhead:.1} ns subtracted, {} lookups); p50 of each round [{}]",
        at(0.5),
        at(0.9),
        at(0.99),
        ns.len(),
        round_p50.join(", ")
    );
    // The same names sixteen at a time, as the UDP loop meets them in one
    // received batch: each batch timed on its own, the figure per name
    // (sixteen names to a reading, so the clock's steps matter little).
    let mut keys: Vec<LookupKey> = (0..16).map(|_| LookupKey::new()).collect();
    let mut out = vec![None; 16];
    let mut per_name = Vec::with_capacity(qs.len() / 16 * rounds);
    for round in 0..rounds {
        for b in 0..qs.len() / 16 {
            let t = Instant::now();
            batch(set, qs, b * 16, &mut keys, &mut out);
            black_box(&out);
            let d = t.elapsed().as_nanos() as f64;
            if round > 0 {
                per_name.push((d - overhead) / 16.0);
            }
        }
    }
    per_name.sort_unstable_by(f64::total_cmp);
    let at = |p: usize| per_name[(per_name.len() * p / 100).min(per_name.len() - 1)];
    eprintln!(
        "{label}/{what}: batch of 16, per name p50 {:.0} ns, p90 {:.0} ns, p99 {:.0} ns ({} batches)",
        at(50),
        at(90),
        at(99),
        per_name.len()
    );
}

/// Build the keys of names `from..from + keys.len()` and look them up
/// together, as the server's UDP loop does: each key's anchor slot is
/// prefetched as soon as the key is built, then [`DomainSet::lookup_batch`]
/// overlaps the rest of the batch's cache misses.
fn batch(
    set: &DomainSet,
    qs: &Queries,
    from: usize,
    keys: &mut [LookupKey],
    out: &mut [Option<(usize, dnsward::policy::matcher::Hit)>],
) {
    for (j, k) in keys.iter_mut().enumerate() {
        k.assign_wire(qs.wire((from + j) % qs.len()));
        if let Some(h) = k.suffix_hashes() {
            set.touch(h);
        }
    }
    set.lookup_batch(keys, out);
}

fn bench_set(c: &mut Criterion, label: &str, set: &DomainSet, names: &[String], misses: &[String]) {
    let hits: Vec<String> = names.iter().step_by(97).take(10_000).cloned().collect();
    let below: Vec<String> = hits.iter().map(|n| format!("cdn.img.{n}")).collect();
    let misses: Vec<String> = misses
        .iter()
        .filter(|n| !decide(set, &LookupKey::from_dotted(n)))
        .cloned()
        .collect();
    // Uniform over 10k distinct names: a working set larger than this
    // machine's L2, so most lookups pay DRAM misses (worst case).
    let uniform = |v: &[String]| Queries::new(v.iter().take(10_000).map(String::as_str));
    // Zipf over the whole pool, 100k draws: real traffic's skew.
    let skewed = |v: &[String]| Queries::new(zipf(v, 100_000));
    let listed: Vec<String> = names.iter().step_by(10).cloned().collect();
    let cases = [
        ("hit_exact", uniform(&hits)),
        ("hit_below", uniform(&below)),
        ("miss", uniform(&misses)),
        ("zipf_hit", skewed(&listed)),
        ("zipf_miss", skewed(&misses)),
    ];
    for (what, qs) in &cases {
        // The Zipf medians are the figures the targets are about.
        if what.starts_with("zipf") {
            memory_latency();
        }
        percentiles(label, what, set, qs);
    }
    let mut g = c.benchmark_group(label);
    g.throughput(Throughput::Elements(1));
    for (what, qs) in &cases {
        let mut i = 0;
        // One key reused, as the server's receive loop does.
        let mut key = LookupKey::new();
        g.bench_function(*what, |b| {
            b.iter(|| {
                key.assign_wire(qs.wire(black_box(i)));
                i += 1;
                if i == qs.len() {
                    i = 0;
                }
                black_box(decide(set, &key))
            })
        });
    }
    // Sixteen names at a time, as the UDP loop meets them in one received
    // batch (keys reused, as the loop reuses its own): the figure is the
    // cost per name.
    for (what, qs) in &cases {
        let mut keys: Vec<LookupKey> = (0..16).map(|_| LookupKey::new()).collect();
        let mut out = vec![None; 16];
        let mut i = 0;
        g.throughput(Throughput::Elements(16));
        g.bench_function(format!("batch16_{what}"), |b| {
            b.iter(|| {
                batch(set, qs, black_box(i), &mut keys, &mut out);
                i = (i + 16) % qs.len();
                black_box(&out);
            })
        });
    }
    g.finish();
}

/// Dependent-read latency over regions of growing size: a pointer chase,
/// one read per 64-byte line in a random single cycle (Sattolo's shuffle),
/// over memory advised for huge pages as the list tables are. Printed
/// before each Zipf case because on this VM it moves with the host,
/// from one minute to the next (the 4 MiB figure between ~20 ns, when the
/// L3 serves this VM, and ~150-200 ns, when it does not), and a 10M
/// lookup's median often moves with it (not always: docs/benchmarks.md,
/// "Lists at scale"): read the lookup figures next to these.
fn memory_latency() {
    let mut line = String::from("memory: dependent read");
    for kib in [256usize, 4 << 10, 32 << 10, 256 << 10] {
        let lines = kib * 1024 / 64;
        let mut next: Vec<usize> = (0..lines).collect();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for i in (1..lines).rev() {
            next.swap(i, (xorshift(&mut x) % i as u64) as usize);
        }
        let mut chain = dnsward::sys::memory::zeroed_u64(lines * 8);
        for (i, &n) in next.iter().enumerate() {
            chain[i * 8] = (n * 8) as u64;
        }
        drop(next);
        let mut p = 0usize;
        for _ in 0..lines.min(1 << 20) {
            p = chain[p] as usize;
        }
        let steps = 2_000_000;
        let t = Instant::now();
        for _ in 0..steps {
            p = chain[p] as usize;
        }
        let ns = t.elapsed().as_nanos() as f64 / steps as f64;
        black_box(p);
        line.push_str(&format!(", {} KiB {ns:.1} ns", kib));
    }
    eprintln!("{line}");
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
