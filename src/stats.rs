//! Statistics: pool stage counters and memory figures (always available) and
//! per-class allocation counts (feature `stats`: counted in the thread cache
//! without atomics, folded into shared counters on every refill, drain and
//! thread exit, so they lag by at most one bin per thread).
//!
//! [`Stats`] prints as the `HAKMEM_STATS=1` report (`Display`); [`print()`]
//! writes that report to stderr line by line without allocating.

use crate::platform::PageSource;
use crate::pool::PoolStats;
use crate::size_class::{class_size, NUM_CLASSES};
use crate::heap::Heap;
use core::fmt::{self, Write};

/// A snapshot of a heap's statistics.
///
/// Prints (`Display`) as the multi-line `HAKMEM_STATS=1` report. The struct
/// may gain fields in a minor release.
#[derive(Clone, Debug)]
#[non_exhaustive]
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
    /// Bytes mapped but holding no live block, kept for reuse: retired
    /// SuperSlabs (up to `HAKMEM_RETAIN_MB`) and cached large mappings.
    /// [`HakMem::trim`](crate::HakMem::trim) gives them back. Of the
    /// SuperSlab part, [`PoolStats::cached_dirty_bytes`] are not yet purged
    /// and still count as resident.
    pub retained_bytes: u64,
    /// Resident set size of the whole process at the snapshot, in bytes
    /// (Linux `/proc/self/statm`; 0 for page sources that cannot tell).
    pub resident_bytes: u64,
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
        let ss_bytes = crate::config::SUPERSLAB_SIZE as u64;
        let ss = (pool.live_superslabs + pool.cached_superslabs) * ss_bytes;
        #[allow(unused_mut)]
        let mut s = Stats {
            pool,
            large_live_bytes,
            large_mapped_bytes,
            superslab_mapped_bytes: ss,
            mapped_bytes: ss + large_mapped_bytes,
            retained_bytes: pool.cached_superslabs * ss_bytes + self.large().cached_bytes(),
            resident_bytes: self.pool().pages().resident_bytes(),
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

impl fmt::Display for Stats {
    /// The `HAKMEM_STATS=1` report: memory, pool counters, then one line per
    /// size class that has allocated (feature `stats`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.pool;
        writeln!(
            f,
            "hakmem stats: mapped {} KiB (superslabs {} KiB, large {} KiB), retained {} KiB, resident {} KiB",
            self.mapped_bytes >> 10,
            self.superslab_mapped_bytes >> 10,
            self.large_mapped_bytes >> 10,
            self.retained_bytes >> 10,
            self.resident_bytes >> 10,
        )?;
        writeln!(
            f,
            "hakmem stats: live small {} KiB (feature stats), large {} KiB in {} allocations",
            self.allocated_small_bytes >> 10,
            self.large_live_bytes >> 10,
            self.large_allocs,
        )?;
        writeln!(
            f,
            "hakmem stats: pool stage1 {} stage2 {} stage3 {} stale_dropped {} retired {} mapped {} live_ss {} cached_ss {} records {}",
            p.stage1, p.stage2, p.stage3, p.stale_dropped, p.retired, p.mapped, p.live_superslabs, p.cached_superslabs, p.records
        )?;
        for c in 0..NUM_CLASSES {
            if self.class_allocs[c] != 0 {
                writeln!(
                    f,
                    "hakmem stats: class {:>2} ({:>5} B) allocs {} frees {}",
                    c,
                    class_size(c),
                    self.class_allocs[c],
                    self.class_frees[c]
                )?;
            }
        }
        Ok(())
    }
}

/// A `fmt::Write` that sends each completed line to stderr with one write,
/// through a stack buffer (lines longer than 255 bytes are cut).
struct StderrLines(crate::out::LineBuf);

impl Write for StderrLines {
    fn write_str(&mut self, mut s: &str) -> fmt::Result {
        while let Some(i) = s.find('\n') {
            self.0.write_str(&s[..=i])?;
            crate::platform::write_stderr(self.0.as_bytes());
            self.0 = crate::out::LineBuf::new();
            s = &s[i + 1..];
        }
        self.0.write_str(s)
    }
}

/// Print a statistics report to stderr, one line at a time, without allocating.
pub fn print(s: &Stats) {
    let mut w = StderrLines(crate::out::LineBuf::new());
    let _ = write!(w, "{s}");
    if !w.0.as_bytes().is_empty() {
        crate::platform::write_stderr(w.0.as_bytes());
    }
}

#[cfg(all(test, not(any(feature = "loom", feature = "shuttle"))))]
mod tests {
    use crate::heap::Heap;
    use crate::platform::MockPages;
    use core::alloc::Layout;

    #[test]
    fn display_is_the_stats_report() {
        let heap = Heap::new(MockPages::new());
        let mut tc = crate::tcache::ThreadCache::new();
        let big = Layout::from_size_align(1 << 20, 8).unwrap();
        // SAFETY: `tc` is used only with `heap`.
        let p = unsafe { heap.alloc(&mut tc, big) };
        assert!(!p.is_null());
        // SAFETY: a live block of `big` from this heap, freed once.
        unsafe { heap.dealloc(&mut tc, p, big) };
        // SAFETY: as above.
        unsafe { heap.thread_exit(&mut tc) };
        let s = heap.stats();
        assert!(s.retained_bytes >= 1 << 20, "the freed large mapping is cached: {s:?}");
        let text = s.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{text}");
        assert!(lines.iter().all(|l| l.starts_with("hakmem stats: ")), "{text}");
        assert!(lines[0].starts_with("hakmem stats: mapped "), "{text}");
        assert!(text.contains(&format!("retained {} KiB", s.retained_bytes >> 10)), "{text}");
        assert!(text.contains("hakmem stats: pool stage1 "), "{text}");
    }
}
