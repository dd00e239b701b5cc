//! The policy check allocates nothing per query, whatever the name: every
//! query pays it before anything else, so an allocation there would be a
//! malloc per packet at ISP rates. A counting global allocator (this test
//! binary's only) watches the key build and the decision for hits, misses,
//! allow-list overrides, dry-run would-blocks, names deeper than the
//! two-pass lookup takes, and names whose labels hold dots (the re-check
//! that tells `ads\.example` under `zz` from `ads.example.zz`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use dnsward::config::{Action, ListConfig, ListKind, ListMode};
use dnsward::policy::matcher::LookupKey;
use dnsward::policy::{compile_list, Decision, Policy};

thread_local! {
    /// Allocations made by this thread (other test threads do not count).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

fn count() {
    // `try_with`: the slot may be gone while the thread shuts down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// The one `unsafe` of this binary: a counting global allocator is `unsafe` by its trait.
// SAFETY: every call forwards to `System` with the caller's arguments; the
// counter is a plain thread-local cell that does not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> usize {
    ALLOCS.with(Cell::get)
}

fn list(dir: &std::path::Path, name: &str, kind: ListKind, mode: ListMode, body: &str) -> Policy {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, body).expect("write list");
    let mut cfg = ListConfig::simple(name, path, kind);
    cfg.action = Action::Nxdomain;
    cfg.mode = mode;
    let (compiled, _) = compile_list(&cfg, None, false).expect("compile");
    Policy {
        lists: vec![Some(Arc::new(compiled))],
        held: vec![],
    }
}

/// A name in wire form from its labels, as a packet carries it.
fn wire(labels: &[&[u8]]) -> Vec<u8> {
    let mut w = Vec::new();
    for l in labels {
        w.push(l.len() as u8);
        w.extend_from_slice(l);
    }
    w.push(0);
    w
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    None,
    Allowed,
    Blocked(usize),
    WouldBlock,
}

#[test]
fn deciding_a_query_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("dnsward-alloc-free-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut policy = list(
        &dir,
        "allow",
        ListKind::Allow,
        ListMode::Enforce,
        "ok.ads.example.zz\n",
    );
    let block = list(
        &dir,
        "block",
        ListKind::Block,
        ListMode::Enforce,
        "ads.example.zz\nexample.zz\n*.wild.zz\nd.c.b.a.deep.zz\n",
    );
    let dry = list(&dir, "dry", ListKind::Block, ListMode::DryRun, "trial.zz\n");
    policy.lists.extend(block.lists);
    policy.lists.extend(dry.lists);

    let deep: Vec<&[u8]> = std::iter::repeat_n(&b"x"[..], 20)
        .chain([&b"ads"[..], b"example", b"zz"])
        .collect();
    let cases: Vec<(Vec<u8>, Seen)> = vec![
        (wire(&[b"ads", b"example", b"zz"]), Seen::Blocked(0)),
        (wire(&[b"WWW", b"Ads", b"Example", b"ZZ"]), Seen::Blocked(1)),
        (wire(&[b"ok", b"ads", b"example", b"zz"]), Seen::Allowed),
        (wire(&[b"a", b"wild", b"zz"]), Seen::Blocked(1)),
        (
            wire(&[b"d", b"c", b"b", b"a", b"deep", b"zz"]),
            Seen::Blocked(0),
        ),
        (wire(&[b"www", b"trial", b"zz"]), Seen::WouldBlock),
        (wire(&[b"example", b"org"]), Seen::None),
        (wire(&[b"zz"]), Seen::None),
        (wire(&[]), Seen::None),
        // More labels than the two-pass lookup takes: the one-pass walk.
        (wire(&deep), Seen::Blocked(20)),
        // A label holding a dot: only `example.zz`, to its right, matches.
        (wire(&[b"ads.example", b"zz"]), Seen::None),
        (wire(&[b"ads.example", b"example", b"zz"]), Seen::Blocked(1)),
    ];

    let mut key = LookupKey::new();
    let mut seen = Vec::with_capacity(cases.len());
    let before = allocations();
    for _ in 0..3 {
        seen.clear();
        for (w, _) in &cases {
            key.assign_wire(black_box(w));
            let v = policy.decide(&key);
            let s = match (&v.decision, &v.would_block) {
                (Decision::Blocked(b), _) => Seen::Blocked(b.depth),
                (Decision::Allowed { .. }, _) => Seen::Allowed,
                (Decision::NotListed, Some(_)) => Seen::WouldBlock,
                (Decision::NotListed, None) => Seen::None,
            };
            seen.push(s);
        }
    }
    let made = allocations() - before;
    let expected: Vec<&Seen> = cases.iter().map(|(_, s)| s).collect();
    assert_eq!(seen.iter().collect::<Vec<_>>(), expected);
    assert_eq!(made, 0, "the policy check allocated {made} times");
    let _ = std::fs::remove_dir_all(&dir);
}
