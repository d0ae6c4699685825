//! Blocks above the largest size class: straight from the page source, one
//! mapping each, with a header page in front of the payload that records the
//! mapping, and a small cache of recently freed mappings so that workloads
//! cycling through large buffers do not pay a syscall per call.
//!
//! `alloc_zeroed` stays lazy: a fresh mapping reads as zero and is not
//! touched; a cached mapping is cleared only over the bytes that can be dirty
//! (its old length: a mapping grown with `remap` gets zero pages past it).
//!
//! Layout of one large block (`off = max(PAGE, align)`):
//! `[ ... | header (last PAGE before payload) | payload ... ]`, mapping aligned
//! to `max(PAGE, align)`, payload at `base + off`. With
//! [`crate::mitigations::LARGE_GUARD_PAGE`] the page after the payload's last
//! page is made inaccessible while the block is live.
//!
//! Misuse: a freed header reads `DEAD` (a second free while the mapping is
//! cached); the payload addresses of the last [`GONE_SLOTS`] mappings given
//! back to the OS are remembered, so a second free of one of them aborts
//! before its (unmapped) header is read.

use crate::config::PAGE_SIZE;
use crate::platform::PageSource;
use crate::sync::{lock, AtomicBool, AtomicU64, Mutex, Ordering};

const MAGIC: usize = 0x4841_4b4d_4c52_4745; // "HAKMLRGE"
const DEAD: usize = 0x4841_4b4d_4445_4144; // "HAKMDEAD"
const CACHE_SLOTS: usize = 16;
const CACHE_MAX_BYTES: usize = 64 << 20;
const CACHE_MAX_ONE: usize = 16 << 20;
const HUGE: usize = 2 << 20;
const SHRINK_ABOVE: usize = 4 << 20;
/// How many unmapped payload addresses are remembered (see the module docs).
pub(crate) const GONE_SLOTS: usize = 64;
const GUARD: usize = if crate::mitigations::LARGE_GUARD_PAGE { PAGE_SIZE } else { 0 };

/// Payload addresses of recently unmapped large blocks (a ring).
struct Gone {
    addr: [usize; GONE_SLOTS],
    next: usize,
}

#[repr(C)]
struct Header {
    magic: usize,
    base: *mut u8,
    len: usize,
    size: usize,
}

#[derive(Clone, Copy)]
struct Cached {
    base: *mut u8,
    len: usize,
    /// When it was cached (page-source clock, ns).
    since: u64,
}

struct Cache {
    e: [Cached; CACHE_SLOTS],
    n: usize,
    bytes: usize,
}

// SAFETY: the cached mappings are owned by the cache and used under its lock.
unsafe impl Send for Cache {}

/// The large-block cache lock, held across a `fork`; dropping it unlocks.
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub(crate) struct LargeForkGuard<'a> {
    _cache: crate::sync::MutexGuard<'a, Cache>,
    _gone: crate::sync::MutexGuard<'a, Gone>,
}

/// Large-block manager.
pub struct Large {
    cache: Mutex<Cache>,
    /// Oldest `since` in the cache (`u64::MAX` = empty), read without the lock
    /// by [`Large::release_if_due`].
    oldest: AtomicU64,
    gone: Mutex<Gone>,
    gone_any: AtomicBool,
    live_bytes: AtomicU64,
    mapped_bytes: AtomicU64,
}

fn layout_of(size: usize, align: usize) -> Option<(usize, usize)> {
    let off = align.max(PAGE_SIZE);
    let len = off.checked_add(size)?.checked_next_multiple_of(PAGE_SIZE)?;
    (len <= isize::MAX as usize).then_some((off, len))
}

impl Large {
    /// An empty manager.
    pub fn new() -> Self {
        Self {
            cache: Mutex::new(Cache {
                e: [Cached { base: core::ptr::null_mut(), len: 0, since: 0 }; CACHE_SLOTS],
                n: 0,
                bytes: 0,
            }),
            oldest: AtomicU64::new(u64::MAX),
            gone: Mutex::new(Gone { addr: [0; GONE_SLOTS], next: 0 }),
            gone_any: AtomicBool::new(false),
            live_bytes: AtomicU64::new(0),
            mapped_bytes: AtomicU64::new(0),
        }
    }

    /// Bytes requested by live large blocks, and bytes mapped for large blocks.
    pub fn bytes(&self) -> (u64, u64) {
        (self.live_bytes.load(Ordering::Relaxed), self.mapped_bytes.load(Ordering::Relaxed))
    }

    /// Bytes of freed mappings kept in the cache for reuse.
    pub fn cached_bytes(&self) -> u64 {
        lock(&self.cache).bytes as u64
    }

    /// Allocate `size` bytes at `align`; zeroed if `zero`. Null on failure.
    #[cold]
    pub fn alloc<P: PageSource>(&self, pages: &P, size: usize, align: usize, zero: bool) -> *mut u8 {
        let Some((off, len)) = layout_of(size, align) else { return core::ptr::null_mut() };
        let Some(len) = len.checked_add(GUARD) else { return core::ptr::null_mut() };
        // `dirty`: bytes from `base` that may hold old data (0 = fresh).
        let (base, map_len, dirty) = match self.cache_take(pages, len, off) {
            Some((c, dirty)) => (c.base, c.len, dirty),
            None => {
                // Big blocks get 2 MiB-aligned mappings advised for huge pages:
                // one fault per 2 MiB instead of 512.
                let huge = len >= HUGE;
                let p = pages.map(len, if huge { off.max(HUGE) } else { off });
                if p.is_null() {
                    return p;
                }
                if huge {
                    // SAFETY: the whole fresh mapping.
                    unsafe { pages.hint_dense(p, len) };
                }
                self.mapped_bytes.fetch_add(len as u64, Ordering::Relaxed);
                (p, len, 0)
            }
        };
        // SAFETY: [base, base+map_len) is a mapping we own; off >= PAGE so the
        // header page lies inside it, before the payload.
        unsafe {
            let payload = base.add(off);
            let h = payload.sub(PAGE_SIZE).cast::<Header>();
            h.write(Header { magic: MAGIC, base, len: map_len, size });
            if zero {
                // Only the part of the payload that lies below the dirty
                // length; pages past it are zero pages the kernel has not
                // even backed yet, and must stay that way.
                let dirty_payload = dirty.saturating_sub(off).min(size);
                core::ptr::write_bytes(payload, 0, dirty_payload);
            }
            if GUARD != 0 {
                pages.protect(guard_of(payload, size), GUARD, false);
            }
            self.forget_gone(payload);
            self.live_bytes.fetch_add(size as u64, Ordering::Relaxed);
            payload
        }
    }

    /// Take a cached mapping for `len` bytes at alignment `align`: the best fit
    /// among those large enough, else (page alignment only) the largest one
    /// resized with `remap`, whose resident pages then need no new faults.
    /// Returns the mapping and how many bytes from its base may be dirty: the
    /// whole of a mapping taken as it is, only the old length of one grown
    /// (`remap` extends it with zero pages).
    fn cache_take<P: PageSource>(&self, pages: &P, len: usize, align: usize) -> Option<(Cached, usize)> {
        let mut c = lock(&self.cache);
        let n = c.n;
        let aligned = |e: &Cached| (e.base as usize) % align == 0;
        let fit = (0..n).filter(|&i| c.e[i].len >= len && aligned(&c.e[i])).min_by_key(|&i| c.e[i].len);
        let i = match fit {
            Some(i) => i,
            // Guard pages stay where they were put: no remap (mremap cannot
            // span areas of different protections).
            None if align <= PAGE_SIZE && GUARD == 0 => (0..n).max_by_key(|&i| c.e[i].len)?,
            None => return None,
        };
        let e = c.e[i];
        c.e.copy_within(i + 1..n, i);
        c.n -= 1;
        c.bytes -= e.len;
        self.oldest.store(if c.n == 0 { u64::MAX } else { c.e[0].since }, Ordering::Relaxed);
        drop(c);
        // Shrink only mappings that are both much larger and big: a few MiB of
        // resident slack is cheaper than faulting the pages in again.
        if GUARD == 0 && (e.len < len || (e.len > len * 4 && e.len > SHRINK_ABOVE && align <= PAGE_SIZE)) {
            // SAFETY: a whole cached mapping that nobody references.
            let nb = unsafe { pages.remap(e.base, e.len, len) };
            if nb.is_null() {
                if e.len < len {
                    // Could not grow it: give it back to the OS, map afresh.
                    self.mapped_bytes.fetch_sub(e.len as u64, Ordering::Relaxed);
                    // SAFETY: as above.
                    unsafe { pages.unmap(e.base, e.len) };
                    return None;
                }
            } else {
                self.mapped_bytes.fetch_add(len as u64, Ordering::Relaxed);
                self.mapped_bytes.fetch_sub(e.len as u64, Ordering::Relaxed);
                if len > e.len && len >= HUGE {
                    // SAFETY: the whole remapped range is ours. The advice a
                    // fresh mapping of this size would have had.
                    unsafe { pages.hint_dense(nb, len) };
                }
                let dirty = e.len.min(len);
                return Some((Cached { base: nb, len, since: e.since }, dirty));
            }
        }
        Some((e, e.len))
    }

    /// Header of a large block, validated: `dead` is the report for a block
    /// already freed.
    ///
    /// # Safety
    /// `p` must be a pointer this manager returned (else the check may fault;
    /// a block it returned and gave back to the OS since is caught by
    /// the `gone` ring while it is remembered).
    unsafe fn header(&self, p: *mut u8, dead: &str) -> *mut Header {
        if p as usize % PAGE_SIZE != 0 {
            crate::out::fatal("free of a pointer that is not an allocation", p);
        }
        if self.gone_any.load(Ordering::Relaxed) && lock(&self.gone).addr.contains(&(p as usize)) {
            crate::out::fatal(dead, p);
        }
        // SAFETY: per the caller, the page before `p` is our header page.
        let h = unsafe { p.sub(PAGE_SIZE).cast::<Header>() };
        // SAFETY: as above.
        let magic = unsafe { (*h).magic };
        if magic != MAGIC {
            crate::out::fatal(if magic == DEAD { dead } else { "free of a pointer that is not an allocation" }, p);
        }
        h
    }

    /// Usable size of a live large block.
    ///
    /// # Safety
    /// `p` was returned by [`Large::alloc`] and not freed.
    pub unsafe fn usable_size(&self, p: *mut u8) -> usize {
        // SAFETY: caller contract.
        unsafe {
            let h = self.header(p, "usable size of a freed block");
            if GUARD != 0 {
                // The guard page follows the pages of the requested size
                // (a reused mapping may be longer than that).
                return guard_of(p, (*h).size) as usize - p as usize;
            }
            (*h).base as usize + (*h).len - p as usize
        }
    }

    /// Free a large block.
    ///
    /// # Safety
    /// `p` was returned by [`Large::alloc`] on this manager and is not used afterwards.
    #[cold]
    pub unsafe fn free<P: PageSource>(&self, pages: &P, p: *mut u8) {
        // SAFETY: caller contract.
        let h = unsafe { self.header(p, "double free detected") };
        // SAFETY: `h` is our validated header.
        let (base, len, size) = unsafe { ((*h).base, (*h).len, (*h).size) };
        // SAFETY: as above; marking it catches a second free while cached.
        unsafe { (*h).magic = DEAD };
        if GUARD != 0 {
            // SAFETY: the guard page this block's alloc protected.
            unsafe { pages.protect(guard_of(p, size), GUARD, true) };
        }
        self.live_bytes.fetch_sub(size as u64, Ordering::Relaxed);
        if len <= CACHE_MAX_ONE {
            let mut c = lock(&self.cache);
            if (c.n == CACHE_SLOTS || c.bytes + len > CACHE_MAX_BYTES) && c.n > 0 {
                {
                    let old = c.e[0];
                    let n = c.n;
                    c.e.copy_within(1..n, 0);
                    c.n -= 1;
                    c.bytes -= old.len;
                    self.mapped_bytes.fetch_sub(old.len as u64, Ordering::Relaxed);
                    // Its last payload was most likely page-aligned. Noted
                    // before the unmap, so a new mapping at the address
                    // (after it) is never taken for a freed one.
                    self.remember_gone(old.base.wrapping_add(PAGE_SIZE));
                    // SAFETY: cached mappings are whole and unreferenced.
                    unsafe { pages.unmap(old.base, old.len) };
                }
            }
            if c.n < CACHE_SLOTS && c.bytes + len <= CACHE_MAX_BYTES {
                let n = c.n;
                let since = pages.now_ns();
                c.e[n] = Cached { base, len, since };
                c.n += 1;
                c.bytes += len;
                self.oldest.store(c.e[0].since, Ordering::Relaxed);
                return;
            }
        }
        self.mapped_bytes.fetch_sub(len as u64, Ordering::Relaxed);
        // Before the unmap: see the eviction above.
        self.remember_gone(p);
        // SAFETY: the whole mapping of a block the caller gave up.
        unsafe { pages.unmap(base, len) };
    }

    /// Remember that the block at payload `p` went back to the OS.
    fn remember_gone(&self, p: *mut u8) {
        let mut g = lock(&self.gone);
        let i = g.next;
        g.addr[i] = p as usize;
        g.next = (i + 1) % GONE_SLOTS;
        self.gone_any.store(true, Ordering::Relaxed);
    }

    /// Payload `p` is live again (a new mapping at the same address).
    fn forget_gone(&self, p: *mut u8) {
        if !self.gone_any.load(Ordering::Relaxed) {
            return;
        }
        for a in lock(&self.gone).addr.iter_mut() {
            if *a == p as usize {
                *a = 0;
            }
        }
    }

    /// Resize a large block in place or by remapping. Null if not possible
    /// (the block is then unchanged and the caller copies).
    ///
    /// # Safety
    /// `p` was returned by [`Large::alloc`] with alignment `align` and is live.
    #[cold]
    pub unsafe fn realloc<P: PageSource>(&self, pages: &P, p: *mut u8, new_size: usize, align: usize) -> *mut u8 {
        // SAFETY: caller contract.
        let h = unsafe { self.header(p, "realloc of a freed block detected") };
        if GUARD != 0 {
            // The caller moves the block (and its guard page) instead.
            return core::ptr::null_mut();
        }
        // SAFETY: validated header.
        let (base, len, size) = unsafe { ((*h).base, (*h).len, (*h).size) };
        let off = p as usize - base as usize;
        let Some(need) = off.checked_add(new_size).and_then(|n| n.checked_next_multiple_of(PAGE_SIZE)) else {
            return core::ptr::null_mut();
        };
        // In place when it fits and either wastes at most half the mapping or
        // the block is growing: a growing block (a `Vec` taking a larger
        // cached mapping) must not have its resident pages cut off by a
        // shrinking `mremap`, only for the next growth to fault them in again
        // (the `medium` compare case: 224 faults per 1 MiB `Vec`). A real
        // shrink still gives the tail back.
        if need <= len && (need * 2 >= len || new_size >= size) {
            // SAFETY: validated header of a live block.
            unsafe { (*h).size = new_size };
            self.live_bytes.fetch_add(new_size as u64, Ordering::Relaxed);
            self.live_bytes.fetch_sub(size as u64, Ordering::Relaxed);
            return p;
        }
        if align > PAGE_SIZE {
            return core::ptr::null_mut();
        }
        // SAFETY: base/len is the block's whole live mapping.
        let nb = unsafe { pages.remap(base, len, need) };
        if nb.is_null() {
            return core::ptr::null_mut();
        }
        if need >= HUGE && len < need {
            // A block that grew big (a growing Vec) gets the huge-page advice
            // its fresh mapping would have had: the new tail then faults in
            // 2 MiB at a time.
            // SAFETY: the whole remapped range is ours.
            unsafe { pages.hint_dense(nb, need) };
        }
        // SAFETY: the remapped range holds the header page at offset off - PAGE.
        unsafe {
            let np = nb.add(off);
            self.forget_gone(np);
            let nh = np.sub(PAGE_SIZE).cast::<Header>();
            (*nh).base = nb;
            (*nh).len = need;
            (*nh).size = new_size;
            self.live_bytes.fetch_add(new_size as u64, Ordering::Relaxed);
            self.live_bytes.fetch_sub(size as u64, Ordering::Relaxed);
            self.mapped_bytes.fetch_add(need as u64, Ordering::Relaxed);
            self.mapped_bytes.fetch_sub(len as u64, Ordering::Relaxed);
            np
        }
    }

    /// Take the cache lock and the `gone` ring's lock for the duration of a
    /// `fork` (see `crate::fork`).
    #[cfg(not(any(feature = "loom", feature = "shuttle")))]
    pub(crate) fn fork_lock(&self) -> LargeForkGuard<'_> {
        // Cache, then `gone`: the order `free` nests them in (an eviction
        // remembers the unmapped block under the cache lock).
        LargeForkGuard { _cache: lock(&self.cache), _gone: lock(&self.gone) }
    }

    /// Unmap every cached mapping.
    pub fn trim<P: PageSource>(&self, pages: &P) {
        let mut c = lock(&self.cache);
        for e in &c.e[..c.n] {
            self.mapped_bytes.fetch_sub(e.len as u64, Ordering::Relaxed);
            // SAFETY: cached mappings are whole and unreferenced.
            unsafe { pages.unmap(e.base, e.len) };
        }
        c.n = 0;
        c.bytes = 0;
        self.oldest.store(u64::MAX, Ordering::Relaxed);
    }

    /// Unmap cached mappings idle for at least `delay` ns, if any is: one
    /// relaxed load while the cache is empty or young. Called from the heap's
    /// slow paths, so an idle process does not keep them.
    pub fn release_if_due<P: PageSource>(&self, pages: &P, delay: u64) {
        let oldest = self.oldest.load(Ordering::Relaxed);
        if oldest == u64::MAX {
            return;
        }
        let now = pages.now_ns();
        if now.saturating_sub(oldest) < delay {
            return;
        }
        let mut c = lock(&self.cache);
        // Entries are in caching order (oldest first).
        let n = c.n;
        let k = c.e[..n].iter().take_while(|e| now.saturating_sub(e.since) >= delay).count();
        for i in 0..k {
            let e = c.e[i];
            self.mapped_bytes.fetch_sub(e.len as u64, Ordering::Relaxed);
            // SAFETY: cached mappings are whole and unreferenced.
            unsafe { pages.unmap(e.base, e.len) };
            c.bytes -= e.len;
        }
        c.e.copy_within(k..n, 0);
        c.n -= k;
        self.oldest.store(if c.n == 0 { u64::MAX } else { c.e[0].since }, Ordering::Relaxed);
    }
}

/// Where the guard page of the large block at payload `p` of `size` bytes
/// goes: the page after the payload's last page.
fn guard_of(p: *mut u8, size: usize) -> *mut u8 {
    p.wrapping_add(size.next_multiple_of(PAGE_SIZE))
}

impl Default for Large {
    fn default() -> Self {
        Self::new()
    }
}
