//! Transparent huge pages for the big, randomly probed list tables.
//!
//! A lookup probes a random slot of a table that is hundreds of megabytes
//! at 10M entries; with 4 KiB pages nearly every probe is also a TLB miss,
//! and under virtualisation a TLB miss is a two-dimensional page walk.
//! Asking the kernel for 2 MiB pages (`MADV_HUGEPAGE`, honoured when
//! `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or `always`)
//! spares most of those page walks.
//!
//! The same module pins glibc's mmap threshold ([`return_large_frees`]):
//! by default glibc raises it after a large block is freed, so the next
//! list version's tables come from the heap and freed versions are never
//! returned to the OS; the soak test saw RSS climb with every reload.
//!
//! And it holds the cache prefetch hint ([`prefetch`]) the batched lookups
//! use to overlap their cache misses on those tables.
//!
//! These are the crate's only `unsafe` calls besides [`super::batch`]: `madvise`
//! on memory the caller owns, `mallopt` at start-up and the prefetch hint.
//! None changes memory contents or ownership, so they cannot break Rust's
//! guarantees; failure is ignored (the tables stay on small pages / the
//! default threshold applies).
#![allow(unsafe_code)]

/// Smallest region worth advising: one huge page.
const HUGE: usize = 2 << 20;

/// Advise the kernel to back the allocation of `v` (its whole capacity)
/// with huge pages. Call it before filling the vector: pages touched
/// afterwards are faulted in as huge pages.
pub fn advise<T>(v: &Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 2 * HUGE {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let page = 4096usize;
        let start = (v.as_ptr() as usize + page - 1) & !(page - 1);
        let end = (v.as_ptr() as usize + bytes) & !(page - 1);
        if end > start {
            // SAFETY: [start, end) lies inside the allocation owned by `v`
            // (rounded inwards to page boundaries); MADV_HUGEPAGE only
            // changes how the kernel backs those pages, never their
            // contents or mapping permissions.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Serve allocations of 1 MiB and more with their own mappings, returned
/// to the OS when freed, so replaced list versions do not stay resident.
/// Call once at start-up, before threads allocate.
pub fn return_large_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes an allocator tuning parameter; it is
        // called before the runtime starts its threads.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

/// Ask the CPU to start loading the cache line holding `slice[i]` (no
/// effect when `i` is out of range). Unlike a plain read, a prefetch
/// retires at once: a loop can put the cache misses of a whole batch of
/// lookups in flight together instead of stalling behind the first few
/// (a miss to DRAM costs ~200 ns on this kind of machine).
#[inline(always)]
pub fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = slice.get(i) {
        // SAFETY: PREFETCHT0 is a hint: it never faults, reads nothing into
        // the program's state and writes nothing; `x` is a valid reference
        // anyway. SSE is part of the x86_64 baseline.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}

/// A zeroed vector of `n` elements advised for huge pages before any page
/// is touched.
pub fn zeroed_u64(n: usize) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::with_capacity(n);
    advise(&v);
    v.resize(n, 0);
    v
}

/// A copy of `src` in a fresh allocation advised for huge pages.
pub fn copy_bytes(src: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(src.len());
    advise(&v);
    v.extend_from_slice(src);
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn advised_vectors_hold_their_values() {
        let v = super::zeroed_u64(1 << 20);
        assert!(v.iter().all(|x| *x == 0));
        let src: Vec<u8> = (0..(5 << 20)).map(|i| i as u8).collect();
        assert_eq!(super::copy_bytes(&src), src);
    }
}
