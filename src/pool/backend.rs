//! The pool's slow side, under one lock: retired records waiting for reuse,
//! and retired SuperSlabs kept mapped for a while (dirty up to a byte cap,
//! purged after a delay, unmapped beyond a count cap).
//!
//! When a retained SuperSlab is purged: once it has waited the purge delay
//! *and* the pool has retired or reused no SuperSlab for that long, or at
//! the latest after [`BUSY_FACTOR`] times the delay. A program whose heap
//! swings by a few SuperSlabs from one phase to the next (each round of a
//! batch, each burst of requests) keeps them dirty while it runs instead of
//! having them purged between two peaks and faulted back in (the kernel
//! zeroes each 2 MiB again: 9-14 % of the `calloc` case's time with a plain
//! 10 ms delay); a program that goes quiet gives them back after the delay
//! as before. mimalloc pushes its arena purges back the same way while
//! the arena is busy.

use crate::config::SUPERSLAB_SIZE;
use crate::platform::PageSource;

const CACHE_MAX: usize = 64;

/// How many purge delays a retained SuperSlab waits at most while the pool
/// stays busy (see the module header).
pub(crate) const BUSY_FACTOR: u64 = 10;

#[derive(Clone, Copy)]
struct Cached {
    base: *mut u8,
    since: u64,
    purged: bool,
    /// The mapping was advised huge pages (see `SharedSSMeta::dense`).
    dense: bool,
}

/// State guarded by the pool's backend lock.
pub(crate) struct Backend {
    /// Head of the retired-record list (index + 1, 0 = empty).
    pub(crate) free_head: u32,
    cache: [Cached; CACHE_MAX],
    len: usize,
    dirty: usize,
    /// When a SuperSlab was last retired into the cache or reused from it.
    last: u64,
}

// SAFETY: the raw SuperSlab pointers are owned by the backend and only used
// under its lock.
unsafe impl Send for Backend {}

impl Backend {
    pub(crate) const fn new() -> Self {
        Self {
            free_head: 0,
            cache: [Cached { base: core::ptr::null_mut(), since: 0, purged: false, dense: false }; CACHE_MAX],
            len: 0,
            dirty: 0,
            last: 0,
        }
    }

    /// Take a cached SuperSlab at time `now`: `(base, reads_as_zero,
    /// advised_huge_pages)`. Most recent first.
    pub(crate) fn pop(&mut self, now: u64) -> Option<(*mut u8, bool, bool)> {
        if self.len == 0 {
            return None;
        }
        self.last = self.last.max(now);
        self.len -= 1;
        let c = self.cache[self.len];
        if !c.purged {
            self.dirty -= SUPERSLAB_SIZE;
        }
        Some((c.base, c.purged, c.dense))
    }

    /// Keep a retired SuperSlab (`dense`: its mapping was advised huge
    /// pages), or unmap it when over the caps.
    ///
    /// # Safety
    /// `base` is a whole SuperSlab mapping of `pages` that nothing references.
    pub(crate) unsafe fn push<P: PageSource>(&mut self, pages: &P, base: *mut u8, now: u64, retain: usize, dense: bool) {
        self.last = self.last.max(now);
        if self.dirty + SUPERSLAB_SIZE > retain {
            // SAFETY: caller hands over an unreferenced whole mapping.
            unsafe { pages.unmap(base, SUPERSLAB_SIZE) };
            return;
        }
        if self.len == CACHE_MAX {
            let old = self.cache[0];
            self.cache.copy_within(1.., 0);
            self.len -= 1;
            if !old.purged {
                self.dirty -= SUPERSLAB_SIZE;
            }
            // SAFETY: cached entries are unreferenced whole mappings.
            unsafe { pages.unmap(old.base, SUPERSLAB_SIZE) };
        }
        self.cache[self.len] = Cached { base, since: now, purged: false, dense };
        self.len += 1;
        self.dirty += SUPERSLAB_SIZE;
    }

    /// When cached entry `c` (dirty) is due for its purge: `delay` ns after
    /// the later of its retirement and the pool's last SuperSlab traffic,
    /// at most [`BUSY_FACTOR`] delays after its retirement.
    fn due(&self, c: &Cached, delay: u64) -> u64 {
        let quiet = self.last.max(c.since).saturating_add(delay);
        quiet.min(c.since.saturating_add(delay.saturating_mul(BUSY_FACTOR)))
    }

    /// Purge the cached SuperSlabs that are due (see [`Backend::due`]).
    /// Returns bytes purged.
    pub(crate) fn purge_expired<P: PageSource>(&mut self, pages: &P, now: u64, delay: u64) -> usize {
        let mut n = 0;
        for i in 0..self.len {
            let c = self.cache[i];
            if !c.purged && now >= self.due(&c, delay) {
                let c = &mut self.cache[i];
                // SAFETY: cached entries are unreferenced whole mappings of `pages`.
                unsafe { pages.purge(c.base, SUPERSLAB_SIZE) };
                c.purged = true;
                self.dirty -= SUPERSLAB_SIZE;
                n += SUPERSLAB_SIZE;
            }
        }
        n
    }

    /// When the next purge is due: the earliest [`Backend::due`] of a dirty
    /// cached SuperSlab, `u64::MAX` when none is dirty.
    pub(crate) fn next_purge(&self, delay: u64) -> u64 {
        self.cache[..self.len]
            .iter()
            .filter(|c| !c.purged)
            .map(|c| self.due(c, delay))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Unmap every cached SuperSlab. Returns how many.
    pub(crate) fn trim<P: PageSource>(&mut self, pages: &P) -> usize {
        let n = self.len;
        for c in &self.cache[..self.len] {
            // SAFETY: cached entries are unreferenced whole mappings of `pages`.
            unsafe { pages.unmap(c.base, SUPERSLAB_SIZE) };
        }
        self.len = 0;
        self.dirty = 0;
        n
    }

    /// Cached SuperSlabs and how many of their bytes are dirty.
    pub(crate) fn cached(&self) -> (usize, usize) {
        (self.len, self.dirty)
    }
}
