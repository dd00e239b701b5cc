//! Heap bytes per cached answer: what `cache.max_entries` costs in memory.
//!
//! Inserts 100,000 answers of three common shapes (one A record; a CNAME
//! and its target's A; NXDOMAIN with the zone's SOA) into an
//! `AnswerCache`, counting live heap bytes with a wrapping global
//! allocator, and prints the growth per entry: the records, the wire
//! template of the fast path, the key, the map's share. Allocator
//! overhead (glibc rounds each block up) comes on top in RSS.
//!
//! Run: `cargo bench --bench cache_memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use dnsward::config::CacheConfig;
use dnsward::policy::matcher::LookupKey;
use dnsward::resolve::cache::{AnswerCache, CacheKey};
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The system allocator, keeping a count of live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counter is only arithmetic on the sizes.
// The one `unsafe` of this binary: a counting global allocator is `unsafe` by its trait.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("bench names are valid")
}

/// The response to `qn` in the given shape.
fn response(kind: &str, i: usize, q: &Query, qn: &str) -> Message {
    let mut m = Message::response(1, OpCode::Query);
    m.add_query(q.clone());
    match kind {
        "one A record" => m.answers.push(Record::from_rdata(
            name(qn),
            300,
            RData::A(A::new(192, 0, 2, (i % 250) as u8)),
        )),
        "CNAME + A" => {
            let t = format!("edge{i}.cdn{}.net.", i % 97);
            m.answers.push(Record::from_rdata(
                name(qn),
                300,
                RData::CNAME(CNAME(name(&t))),
            ));
            m.answers.push(Record::from_rdata(
                name(&t),
                60,
                RData::A(A::new(192, 0, 2, 7)),
            ));
        }
        _ => {
            m.metadata.response_code = ResponseCode::NXDomain;
            let z = format!("example{}.com.", i % 977);
            let soa = SOA::new(
                name(&format!("ns1.{z}")),
                name(&format!("hostmaster.{z}")),
                1,
                7200,
                900,
                1_209_600,
                300,
            );
            m.authorities
                .push(Record::from_rdata(name(&z), 900, RData::SOA(soa)));
        }
    }
    m
}

fn main() {
    let n = 100_000;
    for kind in ["one A record", "CNAME + A", "NXDOMAIN + SOA"] {
        let cache = AnswerCache::new(CacheConfig {
            max_entries: 2 * n,
            ..CacheConfig::default()
        });
        let before = LIVE.load(Ordering::Relaxed);
        let now = Instant::now();
        for i in 0..n {
            let qn = format!("www{i}.example{}.com.", i % 977);
            let q = Query::query(name(&qn), RecordType::A);
            let m = response(kind, i, &q, &qn);
            let key = LookupKey::from_dotted(&qn);
            let k = CacheKey::with_name(|out| key.wire_name(out).len(), 1, 1, false);
            cache.insert(&k, &q, &m, now);
        }
        let grown = LIVE.load(Ordering::Relaxed) - before;
        println!(
            "{kind}: {} answers cached, {:.0} heap bytes each",
            cache.len(),
            grown as f64 / cache.len() as f64
        );
    }
}
