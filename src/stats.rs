//! Statistics: pool stage counters and memory figures (always available) and
//! per-class allocation counts (feature `stats`: counted in the thread cache
//! without atomics, folded into shared counters on every refill, drain and
//! thread exit, so they lag by at most one bin per thread).

use crate::platform::PageSource;
use crate::pool::PoolStats;
use crate::size_class::{class_size, NUM_CLASSES};
use crate::heap::Heap;
use core::fmt::Write;

/// A snapshot of a heap's statistics.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Shared-pool counters: Stage 1/2/3 hits, stale entries dropped, retirements.
    pub pool: PoolStats,
    /// Bytes requested by live large blocks.
    pub large_live_bytes: u64,
    /// Bytes mapped for large blocks (live and cached).
    pub large_mapped_bytes: u64,
    /// Bytes mapped for SuperSlabs (live and retained).
    pub superslab_mapped_bytes: u64,
    /// All bytes this heap has mapped for blocks.
    pub mapped_bytes: u64,
    /// Bytes in live small blocks (feature `stats`; 0 otherwise).
    pub allocated_small_bytes: u64,
    /// Allocations per size class (feature `stats`; zeros otherwise).
    pub class_allocs: [u64; NUM_CLASSES],
    /// Frees per size class (feature `stats`; zeros otherwise).
    pub class_frees: [u64; NUM_CLASSES],
    /// Large allocations (feature `stats`; 0 otherwise).
    pub large_allocs: u64,
}

#[cfg(feature = "stats")]
pub(crate) struct Counters {
    class: [[crate::sync::AtomicU64; 2]; NUM_CLASSES],
    large: crate::sync::AtomicU64,
}

#[cfg(feature = "stats")]
impl Counters {
    pub(crate) fn new() -> Self {
        use crate::sync::AtomicU64;
        Self { class: core::array::from_fn(|_| [AtomicU64::new(0), AtomicU64::new(0)]), large: AtomicU64::new(0) }
    }

    pub(crate) fn flush(&self, tc: &mut crate::tcache::ThreadCache) {
        use crate::sync::Ordering::Relaxed;
        for (c, n) in tc.counts.iter_mut().enumerate() {
            if n[0] != 0 {
                self.class[c][0].fetch_add(n[0], Relaxed);
            }
            if n[1] != 0 {
                self.class[c][1].fetch_add(n[1], Relaxed);
            }
            *n = [0, 0];
        }
    }

    pub(crate) fn large_alloc(&self) {
        self.large.fetch_add(1, crate::sync::Ordering::Relaxed);
    }
}

impl<P: PageSource> Heap<P> {
    /// A snapshot of this heap's statistics.
    pub fn stats(&self) -> Stats {
        let pool = self.pool().stats();
        let (large_live_bytes, large_mapped_bytes) = self.large().bytes();
        let ss = (pool.live_superslabs + pool.cached_superslabs) * crate::config::SUPERSLAB_SIZE as u64;
        #[allow(unused_mut)]
        let mut s = Stats {
            pool,
            large_live_bytes,
            large_mapped_bytes,
            superslab_mapped_bytes: ss,
            mapped_bytes: ss + large_mapped_bytes,
            allocated_small_bytes: 0,
            class_allocs: [0; NUM_CLASSES],
            class_frees: [0; NUM_CLASSES],
            large_allocs: 0,
        };
        #[cfg(feature = "stats")]
        {
            use crate::sync::Ordering::Relaxed;
            for c in 0..NUM_CLASSES {
                s.class_allocs[c] = self.counters.class[c][0].load(Relaxed);
                s.class_frees[c] = self.counters.class[c][1].load(Relaxed);
                s.allocated_small_bytes += s.class_allocs[c].saturating_sub(s.class_frees[c]) * class_size(c) as u64;
            }
            s.large_allocs = self.counters.large.load(Relaxed);
        }
        s
    }
}

/// Print a statistics report to stderr, one line at a time, without allocating.
pub fn print(s: &Stats) {
    let p = &s.pool;
    crate::out::eprintln(format_args!(
        "hakmem stats: mapped {} KiB (superslabs {} KiB, large {} KiB), small live {} KiB, large live {} KiB",
        s.mapped_bytes >> 10,
        s.superslab_mapped_bytes >> 10,
        s.large_mapped_bytes >> 10,
        s.allocated_small_bytes >> 10,
        s.large_live_bytes >> 10
    ));
    crate::out::eprintln(format_args!(
        "hakmem stats: pool stage1 {} stage2 {} stage3 {} stale_dropped {} retired {} mapped {} live_ss {} cached_ss {} records {}",
        p.stage1, p.stage2, p.stage3, p.stale_dropped, p.retired, p.mapped, p.live_superslabs, p.cached_superslabs, p.records
    ));
    for c in 0..NUM_CLASSES {
        if s.class_allocs[c] != 0 {
            let mut b = crate::out::LineBuf::new();
            let _ = write!(
                b,
                "hakmem stats: class {:>2} ({:>5} B) allocs {} frees {}",
                c,
                class_size(c),
                s.class_allocs[c],
                s.class_frees[c]
            );
            crate::out::eprintln(format_args!("{}", core::str::from_utf8(b.as_bytes()).unwrap_or("")));
        }
    }
}
