//! `Heap<P: PageSource>`: the whole allocator as a plain value.
//!
//! It owns the shared [`Pool`], the [`Large`] manager and the list of slabs
//! abandoned by exited threads. Threads talk to it through their own
//! [`ThreadCache`]. The global allocator ([`crate::HakMem`]) is one static
//! `Heap<OsPages>` plus a thread-local cache; tests, loom/shuttle models and
//! fuzzers build a fresh `Heap<MockPages>` and run the same code.
//!
//! Slow paths live here: refilling a cache bin from the thread's slabs
//! (current slab, then partially free ones, then full ones that received
//! remote frees, then abandoned ones, then the pool), and draining a bin back
//! to slabs (locally owned ones directly, others through their remote list),
//! releasing slabs that become empty, which is what feeds Stage 1.

use crate::block;
use crate::config::SLAB_SIZE;
use crate::large::Large;
use crate::mitigations;
use crate::options::Options;
use crate::platform::PageSource;
use crate::pool::Pool;
use crate::size_class::{class_of, class_size, NUM_CLASSES};
use crate::slab::{Block, ListTag, Slab, ORPHANED};
use crate::sync::unmodeled::{AtomicPtr as UnmodeledPtr, Ordering as UOrd};
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::tcache::store::{self, cap_for};
use crate::tcache::{ClassSlabs, ThreadCache};
use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
use core::ptr::null;

/// How many full slabs a refill inspects for remote frees before asking the pool.
const FULL_SCAN: usize = 16;
/// Bytes a cache bin may hold before draining (capped by the drain interval).
const BIN_BYTES: usize = 256 << 10;
/// Bytes a bin starts with: its first refill carves about this much (or one
/// block), so a thread that touches a class once touches only that.
const START_BYTES: usize = 8 << 10;
/// Magazine storage mappings of exited caches kept for the next caches (a
/// thread started after another ended takes its mapping instead of making
/// one: no `mmap`/`munmap` pair and no fresh page faults per thread).
const SPARE_STORES: usize = 2;
/// Smallest bin capacity a bin of mostly foreign frees shrinks to (or the
/// class's full capacity, if smaller).
const MIN_LIMIT: u32 = 64;
/// From this size up, `alloc_zeroed` takes never-used blocks of zeroed slabs
/// (no memset); below it, clearing a cache-warm block is cheaper.
pub(crate) const ZERO_CARVE_MIN: usize = 1024;

#[path = "heap_reclaim.rs"]
mod reclaim;
use reclaim::Abandoned;
#[cfg(any(feature = "loom", feature = "shuttle"))]
pub use reclaim::ReclaimVariant;

/// Where [`Heap::return_blocks`] sends a block: its slab is the caller's
/// (or just taken over), abandoned (freed in place under the lock), or
/// another thread's (its remote list).
#[derive(Clone, Copy)]
enum Dest {
    Local,
    Abandoned,
    Remote,
}

/// Every heap lock, held across a `fork`; dropping it unlocks them all.
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub(crate) struct HeapForkGuard<'a> {
    _abandoned: crate::sync::MutexGuard<'a, Abandoned>,
    _pool: crate::pool::fork::PoolForkGuard<'a>,
    _large: crate::large::LargeForkGuard<'a>,
}

/// The allocator state.
pub struct Heap<P: PageSource> {
    pool: Pool<P>,
    large: Large,
    abandoned: Mutex<Abandoned>,
    abandoned_n: AtomicUsize,
    /// Slabs given up by their owner while exhausted (see `heap_reclaim`).
    orphaned_n: AtomicUsize,
    next_id: AtomicUsize,
    drain_interval: u32,
    tcache_bytes: usize,
    /// Model builds: the orphan protocol or a negative control of it.
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    reclaim_variant: ReclaimVariant,
    /// Model builds: frees into an abandoned slab that found it adopted
    /// once they held the lock (and went remotely). Unmodeled: a count
    /// the models read at the end, for their coverage.
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    in_place_lost: std::sync::atomic::AtomicUsize,
    /// Bytes of each thread cache's magazine storage (see `tcache::store`).
    mag_bytes: usize,
    /// Storage mappings of exited caches, each owned by whoever swaps it
    /// out of its slot (null: empty slot). Unmodeled atomics: a slot hands
    /// over a whole mapping that holds no modelled state, and the models'
    /// caches would otherwise add interleavings that prove nothing.
    spare_stores: [UnmodeledPtr<u8>; SPARE_STORES],
    #[cfg(feature = "stats")]
    pub(crate) counters: crate::stats::Counters,
}

// SAFETY: shared state is atomics, the Sync pool, or behind mutexes.
unsafe impl<P: PageSource> Sync for Heap<P> {}
// SAFETY: the heap owns its memory.
unsafe impl<P: PageSource + Send> Send for Heap<P> {}

// Owner-side slab lists (doubly linked through the slabs' owner-only links).
// SAFETY (all three): the caller owns every slab on the list and `s`.
unsafe fn list_push(head: &mut *const Slab, s: &Slab, tag: ListTag) {
    // SAFETY: caller owns `s` and the list.
    unsafe {
        s.local(|l| {
            l.prev = null();
            l.next = *head;
            l.list = tag;
        });
        if let Some(h) = head.as_ref() {
            h.local(|l| l.prev = s);
        }
    }
    *head = s;
}

unsafe fn list_remove(head: &mut *const Slab, s: &Slab) {
    // SAFETY: caller owns `s`, its neighbours and the list.
    unsafe {
        let (p, n) = s.local(|l| (l.prev, l.next));
        match p.as_ref() {
            None => *head = n,
            Some(p) => p.local(|l| l.next = n),
        }
        if let Some(n) = n.as_ref() {
            n.local(|l| l.prev = p);
        }
        s.local(|l| {
            l.prev = null();
            l.next = null();
            l.list = ListTag::None;
        });
    }
}

// The full list also keeps its tail, so a refill can rotate it in O(1).
// SAFETY (both): the caller owns `s` and every slab on `cs`'s lists.
unsafe fn full_push(cs: &mut ClassSlabs, s: &Slab) {
    // SAFETY: caller contract.
    unsafe { list_push(&mut cs.full, s, ListTag::Full) };
    if cs.full_tail.is_null() {
        cs.full_tail = s;
    }
}

unsafe fn full_remove(cs: &mut ClassSlabs, s: &Slab) {
    if core::ptr::eq(cs.full_tail, s) {
        // SAFETY: caller contract.
        cs.full_tail = unsafe { s.local(|l| l.prev) };
    }
    // SAFETY: caller contract.
    unsafe { list_remove(&mut cs.full, s) };
}

impl<P: PageSource> Heap<P> {
    /// A heap on `pages` with options from the `HAKMEM_*` environment.
    pub fn new(pages: P) -> Self {
        Self::with_options(pages, Options::from_env())
    }

    /// A heap with explicit options.
    pub fn with_options(pages: P, opts: Options) -> Self {
        let mut heap = MaybeUninit::<Self>::uninit();
        // SAFETY: `init_at` writes every field of the heap at `heap` (its
        // pool's page map too, not being told it is zeroed).
        unsafe {
            Self::init_at(heap.as_mut_ptr(), pages, opts, false);
            heap.assume_init()
        }
    }

    /// Build a heap at `dst`, field by field (see [`Pool::init_at`]: the
    /// global heap, in a zeroed static, so leaves its page map untouched).
    ///
    /// # Safety
    /// As [`Pool::init_at`], for a `Heap<P>` at `dst` and its pool's page map.
    pub(crate) unsafe fn init_at(dst: *mut Self, pages: P, opts: Options, pagemap_zeroed: bool) {
        block::init();
        let drain_interval = opts.drain_interval.max(2);
        // SAFETY: caller contract: every write below is to a field of `dst`,
        // valid for writes; none reads or drops what was there.
        unsafe {
            Pool::init_at(addr_of_mut!((*dst).pool), pages, opts, pagemap_zeroed);
            addr_of_mut!((*dst).large).write(Large::new());
            addr_of_mut!((*dst).abandoned).write(Mutex::new(Abandoned::new()));
            addr_of_mut!((*dst).abandoned_n).write(AtomicUsize::new(0));
            addr_of_mut!((*dst).orphaned_n).write(AtomicUsize::new(0));
            addr_of_mut!((*dst).next_id).write(AtomicUsize::new(1));
            addr_of_mut!((*dst).drain_interval).write(drain_interval);
            addr_of_mut!((*dst).tcache_bytes).write(opts.tcache_bytes);
            #[cfg(any(feature = "loom", feature = "shuttle"))]
            {
                addr_of_mut!((*dst).reclaim_variant).write(ReclaimVariant::Real);
                addr_of_mut!((*dst).in_place_lost).write(std::sync::atomic::AtomicUsize::new(0));
            }
            addr_of_mut!((*dst).mag_bytes).write(store::bytes_for(NUM_CLASSES, |c| bin_limit(c, drain_interval)));
            addr_of_mut!((*dst).spare_stores).write(core::array::from_fn(|_| UnmodeledPtr::new(core::ptr::null_mut())));
            #[cfg(feature = "stats")]
            addr_of_mut!((*dst).counters).write(crate::stats::Counters::new());
        }
        // The pattern names every field (no `..`): a field added to `Heap`
        // fails to compile here until `init_at` writes it.
        let _every_field_written = |h: &Self| {
            let Heap {
                pool: _,
                large: _,
                abandoned: _,
                abandoned_n: _,
                orphaned_n: _,
                next_id: _,
                drain_interval: _,
                tcache_bytes: _,
                #[cfg(any(feature = "loom", feature = "shuttle"))]
                    reclaim_variant: _,
                #[cfg(any(feature = "loom", feature = "shuttle"))]
                    in_place_lost: _,
                mag_bytes: _,
                spare_stores: _,
                #[cfg(feature = "stats")]
                    counters: _,
            } = h;
        };
    }

    /// Model builds: run the orphan protocol's negative control `v`.
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    pub fn set_reclaim_variant(&mut self, v: ReclaimVariant) {
        self.reclaim_variant = v;
    }

    /// Model builds: how many frees into an abandoned slab found it adopted
    /// once they held the abandoned lock (they went to its new owner
    /// remotely).
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    pub fn in_place_lost(&self) -> usize {
        self.in_place_lost.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The shared pool.
    pub fn pool(&self) -> &Pool<P> {
        &self.pool
    }

    /// The shared pool, mutably (model builds use it to pick a Stage 1 variant).
    pub fn pool_mut(&mut self) -> &mut Pool<P> {
        &mut self.pool
    }

    /// The page source.
    pub fn pages(&self) -> &P {
        self.pool.pages()
    }

    /// The large-block manager.
    pub fn large(&self) -> &Large {
        &self.large
    }

    /// Allocate. Null when out of memory or the layout cannot be served.
    ///
    /// # Safety
    /// `tc` is a cache of this heap: it was only ever used with this heap
    /// (a fresh `ThreadCache`, or one used with `self` before), and no other
    /// thread uses it during the call. A cache of another heap holds blocks
    /// and slabs of that heap, which this heap would hand out or return to
    /// its own pool.
    #[inline]
    pub unsafe fn alloc(&self, tc: &mut ThreadCache, layout: Layout) -> *mut u8 {
        match small_class(layout) {
            Some(c) => {
                let mut p = tc.pop(c);
                if p.is_null() {
                    tc.after_empty_pop(c);
                    p = self.refill(tc, c);
                }
                if mitigations::CANARY && !p.is_null() {
                    // SAFETY: a fresh block of at least layout.size() + 1 bytes.
                    unsafe { set_canary(p, layout.size()) };
                }
                p
            }
            None => self.alloc_large(layout, false),
        }
    }

    /// Allocate zeroed memory. No memset where the memory is known fresh
    /// from the OS: large blocks on new mappings, and (from 1 KiB up) small
    /// blocks carved one at a time from the untouched tail of a slab that
    /// came zeroed (from a new or purged SuperSlab). Cached and recycled
    /// blocks are cleared.
    ///
    /// # Safety
    /// `tc` is a cache of this heap: it was only ever used with this heap
    /// (a fresh `ThreadCache`, or one used with `self` before), and no other
    /// thread uses it during the call. A cache of another heap holds blocks
    /// and slabs of that heap, which this heap would hand out or return to
    /// its own pool.
    pub unsafe fn alloc_zeroed(&self, tc: &mut ThreadCache, layout: Layout) -> *mut u8 {
        let Some(c) = small_class(layout) else {
            return self.alloc_large(layout, true);
        };
        if layout.size() >= ZERO_CARVE_MIN {
            let p = self.carve_zeroed(tc, c);
            if !p.is_null() {
                if mitigations::CANARY {
                    // SAFETY: a fresh block of at least layout.size() + 1 bytes.
                    unsafe { set_canary(p, layout.size()) };
                }
                return p;
            }
        }
        // SAFETY: `tc` is a cache of this heap (caller contract).
        let p = unsafe { self.alloc(tc, layout) };
        if !p.is_null() {
            // Whole cache lines where the block has them (every class from
            // 1 KiB up is a multiple of 128): a clear that ends inside a
            // line has to read that line first. The secure build's canary
            // sits right after the requested size.
            let n = if mitigations::CANARY { layout.size() } else { ((layout.size() + 63) & !63).min(class_size(c)) };
            // SAFETY: `p` is a fresh block of class c: at least n bytes.
            unsafe { core::ptr::write_bytes(p, 0, n) };
        }
        p
    }

    /// A block of class `c` that is known to read as zero, from the current
    /// slab's zero tail; when the bin is empty and the current slab has
    /// nothing left at all, moves on to the next slab first (without filling
    /// the bin, which would spend the tail on blocks that need clearing).
    /// Null when there is none: the caller allocates and clears.
    #[cold]
    fn carve_zeroed(&self, tc: &mut ThreadCache, c: usize) -> *mut u8 {
        let bin_empty = tc.bins[c].n() == 0;
        if bin_empty {
            self.init_cache(tc);
        }
        loop {
            let cur = tc.slabs[c].current;
            // SAFETY: the current slab of tc's class-c lists is owned by tc.
            match unsafe { cur.as_ref() } {
                Some(s) => {
                    // Pre-faulting is wasted on a huge-page SuperSlab (its
                    // first touch maps 2 MiB).
                    let populate = |b: *mut u8| self.pool.options().populate_zeroed && !self.pool.advised_huge_pages(b);
                    // SAFETY: owned slab, of a SuperSlab of this pool's source.
                    let p = unsafe { s.carve_zeroed(self.pool.pages(), populate) };
                    // SAFETY: owned slab.
                    if !p.is_null() || !bin_empty || unsafe { s.has_blocks() } {
                        return p;
                    }
                    tc.slabs[c].current = null();
                    // SAFETY: owned slab with nothing left, on no list.
                    unsafe { self.park_full(tc, c, s) };
                }
                None if bin_empty => {
                    let next = self.next_slab(tc, c, true);
                    if next.is_null() {
                        return core::ptr::null_mut();
                    }
                    // SAFETY: next_slab returns a slab owned by `tc` and on no list.
                    unsafe { (*next).local(|l| l.list = ListTag::Current) };
                    tc.slabs[c].current = next;
                }
                None => return core::ptr::null_mut(),
            }
        }
    }

    /// Free.
    ///
    /// # Safety
    /// `p` was returned by this heap for `layout` and is not used afterwards;
    /// `tc` is only ever used with this heap.
    #[inline]
    pub unsafe fn dealloc(&self, tc: &mut ThreadCache, p: *mut u8, layout: Layout) {
        match small_class(layout) {
            // SAFETY: caller contract: `p` is a block of class c; `check_free`
            // aborts on pointers that are not.
            Some(c) => unsafe {
                self.check_free(p, c, layout.size());
                poison(p, c);
                if tc.push(c, p, |b, d| self.suspect_double_free(b, d, "double free detected")) {
                    tc.after_declined_push(c);
                    self.drain(tc, c, p.cast());
                }
            },
            // SAFETY: caller contract: `p` is a large block of ours.
            None => unsafe { self.free_large(p) },
        }
    }

    /// Resize, keeping the prefix. Null on failure (the old block stays valid).
    ///
    /// # Safety
    /// As [`Heap::dealloc`] for `p`/`layout`; `new_size` rounded up to
    /// `layout.align()` must not overflow `isize`.
    pub unsafe fn realloc(&self, tc: &mut ThreadCache, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let old_c = small_class(layout);
        let new_c = class_of(new_size + mitigations::CANARY as usize, align);
        if let Some(c) = old_c {
            // SAFETY: caller contract (checked: misuse aborts here).
            unsafe { self.check_realloc(p, c, layout.size()) };
        }
        match (old_c, new_c) {
            (Some(a), Some(b)) if a == b => {
                if mitigations::CANARY {
                    // SAFETY: a live block of class a, which holds new_size + 1 bytes.
                    unsafe { set_canary(p, new_size) };
                }
                return p;
            }
            (None, None) => {
                // SAFETY: `p` is a live large block with this alignment.
                let q = unsafe { self.large.realloc(self.pool.pages(), p, new_size, align) };
                if !q.is_null() {
                    return q;
                }
            }
            _ => {}
        }
        let Ok(nl) = Layout::from_size_align(new_size, align) else { return core::ptr::null_mut() };
        // SAFETY: `tc` is a cache of this heap (caller contract, as dealloc).
        let q = unsafe { self.alloc(tc, nl) };
        if !q.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe {
                core::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(tc, p, layout);
            }
        }
        q
    }

    /// Usable size of a block allocated with `layout`.
    ///
    /// # Safety
    /// `p` is a live block of this heap allocated with `layout`.
    pub unsafe fn usable_size(&self, p: *mut u8, layout: Layout) -> usize {
        match small_class(layout) {
            Some(c) => class_size(c) - mitigations::CANARY as usize,
            // SAFETY: caller contract.
            None => unsafe { self.large.usable_size(p) },
        }
    }

    #[cold]
    pub(crate) fn alloc_large(&self, layout: Layout, zero: bool) -> *mut u8 {
        self.purge_if_due();
        let p = self.large.alloc(self.pool.pages(), layout.size(), layout.align(), zero);
        #[cfg(feature = "stats")]
        if !p.is_null() {
            self.counters.large_alloc();
        }
        p
    }

    /// # Safety
    /// `p` is a live large block of this heap.
    #[cold]
    pub(crate) unsafe fn free_large(&self, p: *mut u8) {
        if self.pool.lookup(p).is_some() {
            crate::out::fatal("free of a small block with a large layout", p);
        }
        // SAFETY: caller contract.
        unsafe { self.large.free(self.pool.pages(), p) };
        self.purge_if_due();
    }

    /// Give back retained memory whose purge delay has passed: retired
    /// SuperSlabs are purged, cached large mappings unmapped. Nearly free
    /// when nothing is retained (two relaxed loads); called from every slow
    /// path (refill, drain, large alloc and free, thread exit), so memory
    /// goes back after the delay without a background thread.
    #[inline]
    fn purge_if_due(&self) {
        self.pool.purge_if_due();
        self.large.release_if_due(self.pool.pages(), self.pool.options().purge_delay_ns);
    }

    /// The checks every small free runs before the block goes on a bin (see
    /// [`crate::mitigations`]): the pointer lies in a live SuperSlab, on a
    /// block boundary of class `c`; with `secure`, the slab is of class `c`
    /// and the canary after `size` bytes is intact. Aborts otherwise.
    ///
    /// # Safety
    /// None beyond `p` being a pointer value; it is only dereferenced once
    /// the page map says it lies in a live SuperSlab.
    #[inline(always)]
    pub(crate) unsafe fn check_free(&self, p: *mut u8, c: usize, size: usize) {
        if !mitigations::CHECK_FREE_POINTER && !mitigations::CHECK_FREE_CLASS && !mitigations::CANARY {
            return;
        }
        let Some((m, slot)) = self.pool.lookup(p) else { invalid_free(p, "free of a pointer not allocated by hakmem") };
        if mitigations::CHECK_FREE_CLASS && self.pool.slab(m, slot).class() != c {
            invalid_free(p, "dealloc with a layout of another size class");
        }
        if !crate::slab::on_block_boundary(p, c) {
            invalid_free(p, "free of a pointer that is not a block");
        }
        if mitigations::CANARY && size != SIZE_UNKNOWN {
            // A free block's canary may be poisoned: a second free of it is
            // reported as a double free by the push.
            // SAFETY: `p` is a block of class c in a live SuperSlab: readable.
            let free = unsafe { block::is_marked_free(p.cast()) || block::looks_free(p.cast()).is_some() };
            // SAFETY: as above; the block holds `size + 1` bytes.
            if !free && unsafe { !canary_ok(p, size) } {
                invalid_free(p, "buffer overflow detected (canary) on free");
            }
        }
    }

    /// A small block whose link word decodes as a link (see [`crate::block`]):
    /// a null link or one into a live SuperSlab of ours means it is on a
    /// free list, so this is a second free. Anything else was user data that
    /// happened to decode, and the free goes ahead.
    #[cold]
    #[inline(never)]
    pub(crate) fn suspect_double_free(&self, b: *mut Block, d: usize, what: &str) {
        if d == 0 || self.pool.lookup(d as *const u8).is_some() {
            crate::out::fatal(what, b.cast());
        }
    }

    /// `realloc`'s checks of a small block: those of a free, and that the
    /// block is not free already.
    ///
    /// # Safety
    /// As [`Heap::check_free`].
    unsafe fn check_realloc(&self, p: *mut u8, c: usize, size: usize) {
        // SAFETY: caller contract.
        unsafe { self.check_free(p, c, size) };
        // A cached block (in some thread's magazine) holds its free mark.
        // SAFETY: caller contract: `p` is a block of ours, readable.
        if p.cast::<Block>().is_aligned() && unsafe { block::is_marked_free(p.cast()) } {
            invalid_free(p, "realloc of a freed block detected");
        }
        // SAFETY: `p` passed check_free: a block of a live SuperSlab.
        if let Some(d) = unsafe { block::looks_free(p.cast()) } {
            self.suspect_double_free(p.cast(), d, "realloc of a freed block detected");
        }
    }

    fn init_cache(&self, tc: &mut ThreadCache) {
        if tc.id == 0 {
            tc.id = self.next_id.fetch_add(1, Ordering::Relaxed);
            tc.heap = self as *const Self as usize;
            tc.free_mark = block::free_mark();
        }
        debug_assert_eq!(tc.heap, self as *const Self as usize, "a ThreadCache was used with two heaps");
        if !tc.store.ready() {
            // The magazines' storage. Out of memory: the bins keep limit 0,
            // so every free and allocation takes the slow path, which then
            // moves single blocks (and tries again next time).
            let base = self.take_spare_store();
            let base =
                if base.is_null() { self.pool.pages().map(self.mag_bytes, crate::config::PAGE_SIZE) } else { base };
            if !base.is_null() {
                tc.store = store::Store { base, len: self.mag_bytes, used: 0 };
            }
        }
        // Bins get their limits on first use (see `start_bin`): limit 0
        // sends the first pop and push of a class to the slow path.
    }

    /// A spare storage mapping (of `mag_bytes`), or null.
    fn take_spare_store(&self) -> *mut u8 {
        for slot in &self.spare_stores {
            if !slot.load(UOrd::Relaxed).is_null() {
                let p = slot.swap(core::ptr::null_mut(), UOrd::Acquire);
                if !p.is_null() {
                    return p;
                }
            }
        }
        core::ptr::null_mut()
    }

    /// Keep storage mapping `base` (of `mag_bytes`, used by no cache any
    /// more) for the next cache. False when every slot is taken.
    fn keep_spare_store(&self, base: *mut u8) -> bool {
        self.spare_stores.iter().any(|slot| {
            slot.load(UOrd::Relaxed).is_null()
                && slot.compare_exchange(core::ptr::null_mut(), base, UOrd::Release, UOrd::Relaxed).is_ok()
        })
    }

    /// Give bin `c` its starting limit if it has none yet (first use of the
    /// class by this cache).
    #[inline]
    fn start_bin(&self, tc: &mut ThreadCache, c: usize) {
        if tc.limits[c] == 0 {
            let start = ((START_BYTES / class_size(c)) as u32).clamp(2, self.bin_limit(c));
            self.set_limit(tc, c, start);
        }
    }

    /// Ask for limit `want` for bin `c` (see [`Heap::grant`]) and set what
    /// is granted. Without storage the limit stays 0. The array grows when
    /// it fills up ([`Heap::ensure_cap`]), not here: a bin that is never
    /// filled never touches the memory for its limit.
    fn set_limit(&self, tc: &mut ThreadCache, c: usize, want: u32) {
        if !tc.store.ready() {
            return;
        }
        tc.limits[c] = self.grant(tc, c, want);
        tc.bins[c].set_top(tc.limits[c].min(tc.caps[c]));
    }

    /// Make bin `c`'s array hold at least `need` entries (at most its limit
    /// rounded up to a power of two): at least double the old one, the
    /// entries copied over. False when there is no storage (or, which
    /// cannot happen, it is used up).
    fn ensure_cap(&self, tc: &mut ThreadCache, c: usize, need: u32) -> bool {
        let old = tc.caps[c];
        if need <= old {
            return true;
        }
        let most = cap_for(self.bin_limit(c));
        let cap = cap_for(need).max(old.saturating_mul(2).min(most));
        let arr = tc.store.take(cap);
        if arr.is_null() {
            // Without storage; with it, cannot happen: it holds every
            // class's arrays at their largest (`store::bytes_for`).
            debug_assert!(!tc.store.ready(), "magazine storage used up");
            return false;
        }
        let bin = tc.bins[c];
        if bin.n() > 0 {
            // SAFETY: both arrays are in the storage, distinct, and hold at
            // least `n` entries.
            unsafe { core::ptr::copy_nonoverlapping(bin.arr(), arr, bin.n() as usize) };
        }
        if old > 0 {
            // The old array is not used again: give back the whole pages it
            // spans (arrays of 1024 entries and more), so a bin that grew to
            // its full limit does not keep every smaller array resident.
            let page = crate::config::PAGE_SIZE;
            let a = bin.arr() as usize;
            let start = a.next_multiple_of(page);
            let end = (a + old as usize * core::mem::size_of::<*mut Block>()) & !(page - 1);
            if start < end {
                let p = bin.arr().cast::<u8>().wrapping_add(start - a);
                // SAFETY: whole pages inside the storage mapping, holding
                // only the outgrown array, which nothing reads any more.
                unsafe { self.pool.pages().purge(p, end - start) };
            }
        }
        tc.bins[c].set_arr(arr);
        tc.caps[c] = cap;
        tc.bins[c].set_top(tc.limits[c].min(cap));
        true
    }

    /// The limit bin `c` may have when it asks for `want`: anything smaller
    /// than its current one, or growth while the thread's granted bytes stay
    /// within the budget (a bin always gets two blocks). Records the grant;
    /// the caller sets the limit. Slow paths only.
    fn grant(&self, tc: &mut ThreadCache, c: usize, want: u32) -> u32 {
        let size = class_size(c);
        let old = tc.limits[c];
        let new = if want > old {
            let room = (self.tcache_bytes.saturating_sub(tc.granted) / size).min(u32::MAX as usize) as u32;
            want.min(old.saturating_add(room)).max(want.min(2))
        } else {
            want
        };
        tc.granted = tc.granted + new as usize * size - old as usize * size;
        new
    }

    /// Refill bin `c` and return one block (null when out of memory).
    #[cold]
    #[inline(never)]
    pub(crate) fn refill(&self, tc: &mut ThreadCache, c: usize) -> *mut u8 {
        self.init_cache(tc);
        self.purge_if_due();
        // A refill is demand: the bin grows (up to its class's capacity,
        // within the budget), so a class in steady use refills in big
        // batches while one touched once stays small.
        if tc.limits[c] == 0 {
            self.start_bin(tc, c);
        } else {
            let want = tc.limits[c].saturating_mul(2).min(self.bin_limit(c));
            self.set_limit(tc, c, want);
        }
        #[cfg(feature = "stats")]
        self.counters.flush(tc);
        // Without storage (limit 0), one block.
        let want = (tc.limits[c] / 2).max(1);
        tc.slabs[c].sent_home = false;
        loop {
            let cur = tc.slabs[c].current;
            // SAFETY: slabs on this cache's lists are owned by it.
            if let Some(s) = unsafe { cur.as_ref() } {
                // SAFETY: owned slab.
                let (head, n) = unsafe { s.take(want) };
                if n > 0 {
                    #[cfg(feature = "stats")]
                    {
                        tc.counts[c][0] += 1;
                    }
                    // SAFETY: `head` starts a chain of `n` free blocks of `s`.
                    return unsafe { self.fill(tc, c, s, head, n) };
                }
                tc.slabs[c].current = null();
                // SAFETY: owned slab, exhausted, on no list.
                unsafe { self.park_full(tc, c, s) };
            }
            let next = self.next_slab(tc, c, false);
            if next.is_null() {
                return core::ptr::null_mut();
            }
            // SAFETY: next_slab returns a slab owned by `tc` and on no list.
            unsafe { (*next).local(|l| l.list = ListTag::Current) };
            tc.slabs[c].current = next;
        }
    }

    /// Put a chain of `n` blocks just taken from slab `s` into bin `c` and
    /// hand out its head: the rest go into the array (the chain's second
    /// block on top, as a list bin would pop them), each with its free mark.
    /// Blocks the array has no room for go back to the slab.
    ///
    /// # Safety
    /// `head` starts a null-terminated chain of `n` (>= 1) free blocks of
    /// `s`, which `tc` owns; the blocks count as handed out (`used`).
    unsafe fn fill(&self, tc: &mut ThreadCache, c: usize, s: &Slab, head: *mut Block, n: u32) -> *mut u8 {
        let base = tc.bins[c].n();
        // At most limit - 1 cached: a push needs room for one more.
        let mut k = tc.limits[c].saturating_sub(base + 1).min(n - 1);
        if k > 0 && !self.ensure_cap(tc, c, base + k) {
            k = 0;
        }
        // SAFETY: caller contract: the chain's links were written or checked
        // by `take`; each is decoded (validated) before its block is reused.
        unsafe {
            let mut b = block::next(head);
            block::clear(head);
            let bin = &mut tc.bins[c];
            let top = base + k;
            for i in 0..n - 1 {
                let nx = block::next(b);
                if i < k {
                    block::mark_free(b);
                    *bin.arr().add((top - 1 - i) as usize) = b;
                } else if s.free_local(b) == 0 {
                    debug_assert!(false, "a slab emptied by a refill");
                }
                b = nx;
            }
            bin.set_n(top);
        }
        head.cast()
    }

    /// Find the next slab to allocate from for class `c`, owned by `tc`, on no list
    /// (`zeroed`: for zeroed blocks, see [`Pool::acquire_for`]).
    fn next_slab(&self, tc: &mut ThreadCache, c: usize, zeroed: bool) -> *const Slab {
        let cs = &mut tc.slabs[c];
        // SAFETY: every slab reached through cs is owned by tc.
        unsafe {
            if let Some(s) = cs.partial.as_ref() {
                list_remove(&mut cs.partial, s);
                return s;
            }
            // Full slabs that got blocks back from other threads.
            let mut s = cs.full;
            let mut seen = 0;
            while let Some(r) = s.as_ref() {
                if seen == FULL_SCAN {
                    break;
                }
                if !r.remote.is_empty() {
                    full_remove(cs, r);
                    r.collect_remote();
                    return r;
                }
                s = r.local(|l| l.next);
                seen += 1;
            }
            // Rotate so the next scan looks at older slabs: [h..prev][s..tail] -> [s..tail][h..prev].
            if seen == FULL_SCAN && !s.is_null() {
                let prev = (*s).local(|l| l.prev);
                let (h, t) = (cs.full, cs.full_tail);
                (*prev).local(|l| l.next = null());
                (*s).local(|l| l.prev = null());
                (*t).local(|l| l.next = h);
                (*h).local(|l| l.prev = t);
                cs.full = s;
                cs.full_tail = prev;
            }
        }
        if let Some(s) = self.adopt(tc.id, c) {
            return s;
        }
        match self.pool.acquire_for(c, zeroed) {
            Some(a) => {
                let s = self.pool.slab(a.meta, a.slot);
                // SAFETY: just acquired: we own the slot.
                unsafe { s.init(&a, c, tc.id) };
                s
            }
            None => null(),
        }
    }

    /// The free slow path, when [`ThreadCache::push`] declined: check and
    /// mark block `b` (as the push would), and push it onto bin `c`, which
    /// was empty or is full (or whose array is). A full bin drains down to
    /// half its limit, returning blocks to their slabs; the newest go, so
    /// nothing is touched that is not returned.
    ///
    /// # Safety
    /// As [`ThreadCache::push`]: `b` is a block of class `c` of this heap
    /// that the caller gives up (or a misused pointer readable and writable
    /// for 8 bytes, which the checks report).
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn drain(&self, tc: &mut ThreadCache, c: usize, b: *mut Block) {
        self.init_cache(tc);
        // SAFETY: the caller (a free) gives `b` up; the push left its checks
        // and mark to this path.
        unsafe {
            crate::tcache::check_and_mark(b.cast(), tc.mark(), |b, d| {
                self.suspect_double_free(b, d, "double free detected")
            })
        };
        self.start_bin(tc, c);
        #[cfg(feature = "stats")]
        self.counters.flush(tc);
        let n0 = tc.bins[c].n();
        if tc.limits[c] == 0 || !self.ensure_cap(tc, c, n0 + 1) {
            // No storage (out of memory): straight back to its slab.
            let one = [b];
            self.return_blocks(tc, one.as_ptr(), 1);
            return;
        }
        let bin = &mut tc.bins[c];
        let arr = bin.arr();
        // SAFETY: the array holds more than n0 entries (ensured above).
        unsafe { *arr.add(n0 as usize) = b };
        let count = n0 + 1;
        bin.set_n(count);
        let limit = tc.limits[c];
        if count < limit {
            if count + 1 >= tc.caps[c] {
                // The array is full, the bin is not: grow the array.
                let _ = self.ensure_cap(tc, c, (count + 2).min(limit));
            }
            // The bin was empty (or the cache fresh) before this free, so the
            // next allocation would hand this very block out again. If it is
            // another thread's, send it home instead: this thread's writes
            // would share cache lines with the owner's neighbouring blocks
            // (Hoard's passive false sharing, the `cache-scratch` benchmark).
            // Only once between refills of this class: a thread that frees
            // other threads' blocks without allocating (a consumer) keeps the
            // next one, so its bin fills and drains them home in batches
            // instead of taking this path, a lookup and a CAS per free. Such
            // a bin starts at the smallest limit, as a drain of mostly
            // foreign blocks would set it.
            // (`sent_home` first: a consumer may own the slab by now, having
            // taken it over when it was orphaned; see `heap_reclaim`.)
            if count == 1 && (tc.slabs[c].sent_home || !self.owned_by(tc, b)) {
                if tc.slabs[c].sent_home {
                    self.set_limit(tc, c, MIN_LIMIT.min(self.bin_limit(c)));
                } else {
                    tc.slabs[c].sent_home = true;
                    tc.bins[c].set_n(0);
                    self.return_blocks(tc, arr, 1);
                }
            }
            return;
        }
        let n = count - limit / 2;
        let mut count = count - n;
        // SAFETY: the bin's array holds `count + n` blocks.
        let foreign = unsafe { self.drain_oldest(tc, c, arr, count, n) };
        // Here, not on the early return above: that one can run once per
        // free (a bin that keeps going empty); this one once per batch.
        self.purge_if_due();
        // Adapt: a bin that mostly frees other threads' blocks drains in small
        // batches, so those blocks flow back to their owners while still hot;
        // one that frees its own grows back to the full limit.
        // A thread that has only freed into this class since its last refill
        // (a consumer) counts as foreign too: the slabs it frees into may be
        // ones it took over (orphaned, see `heap_reclaim`), so its blocks
        // look local, but holding them only delays the slabs' release.
        let limit = if foreign * 2 > n as usize || tc.slabs[c].sent_home {
            (limit / 2).max(MIN_LIMIT.min(self.bin_limit(c)))
        } else if foreign == 0 {
            (limit * 2).min(self.bin_limit(c))
        } else {
            limit
        };
        self.set_limit(tc, c, limit);
        let limit = tc.limits[c];
        if count >= limit {
            // The limit shrank to the count: drain to half of the new one, so
            // the bin has room again (the fast path needs `n + 1 < limit`).
            let more = count - limit / 2;
            count -= more;
            let arr = tc.bins[c].arr();
            // SAFETY: as above.
            unsafe { self.drain_oldest(tc, c, arr, count, more) };
        }
    }

    /// Return the `n` oldest blocks of bin `c` (the bottom of its array of
    /// `keep + n`) to their slabs and move the `keep` newest down, upside
    /// down. The bin keeps the blocks freed last, the ones most likely
    /// still in cache, and hands them out in the order they were freed: a
    /// program that frees blocks in the order it got them (a batch, a
    /// round) gets them back in address order, and fills them as forward
    /// streams the hardware prefetches (the `calloc` case 1.14x faster with
    /// the ascending carve of [`Slab::take`], against 1.06x for the carve
    /// alone). Returns how many were other threads' blocks (see
    /// [`Heap::return_blocks`]).
    ///
    /// # Safety
    /// `arr` is bin `c`'s array of `tc`, holding `keep + n` blocks.
    unsafe fn drain_oldest(&self, tc: &mut ThreadCache, c: usize, arr: *mut *mut Block, keep: u32, n: u32) -> usize {
        tc.bins[c].set_n(keep);
        let foreign = self.return_blocks(tc, arr, n as usize);
        // SAFETY: caller contract: arr[..keep + n] lie in the array; the
        // ranges may overlap (`copy` is a memmove).
        unsafe {
            core::ptr::copy(arr.add(n as usize), arr, keep as usize);
            core::slice::from_raw_parts_mut(arr, keep as usize).reverse();
        }
        foreign
    }

    /// Whether block `b` (freed into one of `tc`'s bins) lies in a slab `tc` owns.
    fn owned_by(&self, tc: &ThreadCache, b: *mut Block) -> bool {
        match self.pool.lookup(b.cast()) {
            Some((m, slot)) => self.pool.slab(m, slot).owner() == tc.id,
            None => crate::out::fatal("free of a pointer not allocated by hakmem", b.cast()),
        }
    }

    /// The full capacity of a bin of class `c`: [`BIN_BYTES`] of blocks (at
    /// least two), at most the drain interval.
    fn bin_limit(&self, c: usize) -> u32 {
        bin_limit(c, self.drain_interval)
    }

    /// Return the `n` blocks at `arr[..n]` (taken off a bin: the caller has
    /// lowered its count) to their slabs, the newest (highest) first.
    /// Consecutive blocks bound for the same foreign slab are pushed onto
    /// its remote list with one CAS. Returns how many went to other
    /// threads' slabs.
    fn return_blocks(&self, tc: &mut ThreadCache, arr: *const *mut Block, n: usize) -> usize {
        let mut batch: Option<(&Slab, *mut Block, *mut Block)> = None;
        let mut foreign = 0;
        // The slab of the previous block: consecutive blocks mostly share a
        // slab, so most skip the page-map lookup. Whether it is ours is
        // cached too: its owner cannot change under us to or from `tc` (a
        // claim in `push_remote` happens once `last` has moved on). An
        // abandoned slab is checked again under the lock at each free.
        let mut last: Option<(usize, &Slab, Dest)> = None;
        // Blocks `arr[lo..=hi]` of one abandoned slab, to free in place.
        let mut run: Option<(&Slab, usize, usize)> = None;
        for i in (0..n).rev() {
            // SAFETY: caller contract: `arr[..n]` are blocks off a bin; the
            // array is in the cache's storage, which stays mapped.
            let b = unsafe { *arr.add(i) };
            let key = b as usize >> crate::config::SLAB_SHIFT;
            let (s, dest) = match last {
                Some((k, s, dest)) if k == key => (s, dest),
                _ => {
                    let Some((m, slot)) = self.pool.lookup(b.cast()) else {
                        crate::out::fatal("free of a pointer not allocated by hakmem", b.cast());
                    };
                    let s = self.pool.slab(m, slot);
                    let owner = s.owner();
                    // A block for an orphaned slab: take the slab over, so
                    // its last free releases it; one for an abandoned slab
                    // is freed in place (see `heap_reclaim`).
                    let dest = if owner == tc.id || (owner == ORPHANED && self.claim_orphan(tc, s, false)) {
                        Dest::Local
                    } else if owner == 0 {
                        Dest::Abandoned
                    } else {
                        Dest::Remote
                    };
                    last = Some((key, s, dest));
                    (s, dest)
                }
            };
            match dest {
                Dest::Local => {
                    if self.return_local(tc, s, b) {
                        // Released to the pool: no block of it is left anywhere.
                        last = None;
                    }
                    continue;
                }
                Dest::Abandoned => {
                    // Consecutive blocks of one abandoned slab are freed
                    // under one hold of the lock.
                    run = match run {
                        Some((rs, lo, hi)) if core::ptr::eq(rs, s) && lo == i + 1 => Some((rs, i, hi)),
                        other => {
                            if let Some((rs, lo, hi)) = other {
                                // SAFETY: arr[lo..=hi] are blocks of rs off the bin.
                                foreign += unsafe { self.free_run(tc, rs, arr, lo, hi) };
                            }
                            Some((s, i, i))
                        }
                    };
                    continue;
                }
                Dest::Remote => {}
            }
            foreign += 1;
            batch = match batch {
                Some((bs, h, t)) if core::ptr::eq(bs, s) => {
                    // SAFETY: `b` is ours to link into the pending chain.
                    unsafe { block::set_next(b, h) };
                    Some((bs, b, t))
                }
                other => {
                    if let Some((bs, h, t)) = other {
                        // SAFETY: h..t is a chain of free blocks of slab bs.
                        unsafe { self.push_remote(tc, bs, h, t) };
                    }
                    // SAFETY: as above.
                    unsafe { block::set_next(b, core::ptr::null_mut()) };
                    Some((s, b, b))
                }
            };
        }
        if let Some((rs, lo, hi)) = run {
            // SAFETY: arr[lo..=hi] are blocks of rs off the bin.
            foreign += unsafe { self.free_run(tc, rs, arr, lo, hi) };
        }
        if let Some((bs, h, t)) = batch {
            // SAFETY: h..t is a chain of free blocks of slab bs.
            unsafe { self.push_remote(tc, bs, h, t) };
        }
        foreign
    }

    /// Free `arr[lo..=hi]`, blocks of slab `s` that read as abandoned, in
    /// place ([`Heap::free_abandoned`]); if a thread adopted the slab
    /// meanwhile, push them onto its remote list instead. Returns how many
    /// went remotely.
    ///
    /// # Safety
    /// `arr[lo..=hi]` are blocks of `s` taken off one of `tc`'s bins.
    unsafe fn free_run(&self, tc: &mut ThreadCache, s: &Slab, arr: *const *mut Block, lo: usize, hi: usize) -> usize {
        // SAFETY: caller contract: the entries lie in the bin's array.
        let blocks = unsafe { core::slice::from_raw_parts(arr.add(lo), hi - lo + 1) };
        // SAFETY: caller contract.
        if unsafe { self.free_abandoned(s, blocks) }.is_some() {
            return 0;
        }
        let mut h: *mut Block = core::ptr::null_mut();
        for &b in blocks {
            // SAFETY: blocks given up by the caller; linked into our chain.
            unsafe { block::set_next(b, h) };
            h = b;
        }
        // SAFETY: h ..= blocks[0] is a chain of free blocks of `s` (the
        // first one linked ends it).
        unsafe { self.push_remote(tc, s, h, blocks[0]) };
        blocks.len()
    }

    /// Return block `b` to slab `s`, which `tc` owns. True when that emptied
    /// the slab and it went back to the pool.
    fn return_local(&self, tc: &mut ThreadCache, s: &Slab, b: *mut Block) -> bool {
        // SAFETY: we own this slab (owner == tc.id).
        unsafe {
            let used = s.free_local(b);
            let (list, class) = s.local(|l| (l.list, l.class as usize));
            let cs = &mut tc.slabs[class];
            if used == 0 && list != ListTag::Current {
                match list {
                    ListTag::Full => full_remove(cs, s),
                    ListTag::Partial => list_remove(&mut cs.partial, s),
                    _ => {}
                }
                self.release_slab(s);
                return true;
            } else if list == ListTag::Full {
                full_remove(cs, s);
                list_push(&mut cs.partial, s, ListTag::Partial);
            }
        }
        false
    }

    /// Hand an empty, owned, unlisted slab back to the pool.
    ///
    /// # Safety
    /// Caller owns `s`, which holds no live block and is on no list.
    unsafe fn release_slab(&self, s: &Slab) {
        // SAFETY: owned.
        let (meta, slot, class) = unsafe { s.local(|l| (l.meta, l.slot, l.class as usize)) };
        s.set_owner(0);
        // SAFETY: the caller owns the slot, which is empty and on no list:
        // nothing refers to the slab any more.
        unsafe { self.pool.release(meta, slot, class) };
    }

    /// Flush a cache whose thread is exiting: every cached block goes back to
    /// its slab, empty slabs go back to the pool, and slabs that still hold
    /// live blocks are abandoned for other threads to adopt. The cache can be
    /// used again afterwards (it gets a new id).
    ///
    /// # Safety
    /// `tc` is a cache of this heap: it was only ever used with this heap
    /// (a fresh `ThreadCache`, or one used with `self` before), and no other
    /// thread uses it during the call. A cache of another heap holds blocks
    /// and slabs of that heap, which this heap would hand out or return to
    /// its own pool.
    #[cold]
    pub unsafe fn thread_exit(&self, tc: &mut ThreadCache) {
        if tc.id == 0 {
            return;
        }
        #[cfg(feature = "stats")]
        self.counters.flush(tc);
        for c in 0..NUM_CLASSES {
            let n = tc.bins[c].n() as usize;
            tc.bins[c].set_n(0);
            let _ = self.return_blocks(tc, tc.bins[c].arr(), n);
        }
        for c in 0..NUM_CLASSES {
            let cs = tc.slabs[c];
            for head in [cs.current, cs.partial, cs.full] {
                let mut s = head;
                // SAFETY: all slabs on our lists are ours.
                while let Some(r) = unsafe { s.as_ref() } {
                    // SAFETY: owned.
                    unsafe {
                        s = r.local(|l| l.next);
                        r.local(|l| {
                            l.prev = null();
                            l.next = null();
                            l.list = ListTag::None;
                        });
                        r.collect_remote();
                        if r.local(|l| l.used) == 0 {
                            self.release_slab(r);
                        } else {
                            self.abandon(r, c);
                        }
                    }
                }
            }
            tc.slabs[c].current = null();
            tc.slabs[c].partial = null();
            tc.slabs[c].full = null();
            tc.slabs[c].full_tail = null();
            tc.slabs[c].sent_home = false;
        }
        self.purge_if_due();
        for bin in &mut tc.bins {
            // Limit 0 and count 0: the first free takes the cold path,
            // which sets the limit and array again.
            debug_assert_eq!(bin.n(), 0);
            *bin = crate::tcache::Bin::EMPTY;
        }
        tc.limits = [0; NUM_CLASSES];
        tc.caps = [0; NUM_CLASSES];
        if tc.store.ready() && !self.keep_spare_store(tc.store.base) {
            // SAFETY: the storage is a mapping of this heap's page source of
            // `len` bytes, and no bin refers to it any more.
            unsafe { self.pool.pages().unmap(tc.store.base, tc.store.len) };
        }
        tc.store = store::Store::new();
        tc.granted = 0;
        tc.id = 0;
    }

    /// Flush a cache (as [`Heap::thread_exit`]) and release the abandoned
    /// slabs whose blocks have all come back, this thread's included.
    ///
    /// # Safety
    /// As [`Heap::thread_exit`]: `tc` is a cache of this heap, used by no
    /// other thread during the call.
    pub unsafe fn flush(&self, tc: &mut ThreadCache) {
        // SAFETY: caller contract.
        unsafe { self.thread_exit(tc) };
        self.sweep_abandoned();
    }

    /// Give back to the OS everything that can go now: abandoned slabs whose
    /// blocks have all come back are released (and their SuperSlabs retired),
    /// then retained SuperSlabs and cached large mappings are unmapped.
    pub fn trim(&self) {
        self.sweep_abandoned();
        self.pool.trim();
        self.large.trim(self.pool.pages());
    }

    /// Take every lock of the heap (abandoned slabs, pool backend, large
    /// cache and its ring of unmapped blocks), for the duration of a `fork`;
    /// see `crate::fork`. The only nestings elsewhere are abandoned list ->
    /// pool backend (a sweep releasing slabs) and large cache -> unmapped
    /// ring (an eviction), in the same order as here, so this cannot deadlock.
    #[cfg(not(any(feature = "loom", feature = "shuttle")))]
    pub(crate) fn fork_lock(&self) -> HeapForkGuard<'_> {
        HeapForkGuard {
            _abandoned: crate::sync::lock(&self.abandoned),
            _pool: self.pool.fork_lock(),
            _large: self.large.fork_lock(),
        }
    }

    /// Whether `p` points into a live SuperSlab of this heap.
    pub fn owns_small(&self, p: *const u8) -> bool {
        self.pool.lookup(p).is_some()
    }

    /// Slab size (re-exported for tests).
    pub const SLAB_SIZE: usize = SLAB_SIZE;
}

/// The full capacity of a bin of class `c` with drain interval `drain`.
fn bin_limit(c: usize, drain: u32) -> u32 {
    ((BIN_BYTES / class_size(c)) as u32).clamp(2, drain.max(2))
}

/// The small size class a layout is served from: with the canary on, one
/// byte more than asked, for the canary.
#[inline(always)]
pub(crate) fn small_class(layout: Layout) -> Option<usize> {
    class_of(layout.size() + mitigations::CANARY as usize, layout.align())
}

/// The `size` of a free that does not know the block's requested size (C's
/// `free`): the canary after it cannot be checked.
pub(crate) const SIZE_UNKNOWN: usize = usize::MAX;

/// Write the canary after the first `size` bytes of block `p`.
///
/// # Safety
/// `p` is a live block of at least `size + 1` bytes.
#[inline]
pub(crate) unsafe fn set_canary(p: *mut u8, size: usize) {
    // SAFETY: caller contract.
    unsafe { p.add(size).write(block::canary(p)) };
}

/// Whether the canary after the first `size` bytes of block `p` is intact.
///
/// # Safety
/// As [`set_canary`].
#[inline]
unsafe fn canary_ok(p: *mut u8, size: usize) -> bool {
    // SAFETY: caller contract.
    unsafe { p.add(size).read() == block::canary(p) }
}

/// With [`mitigations::POISON_FREED`], fill freed block `p` of class `c`
/// (past its link word) with the poison byte.
///
/// # Safety
/// `p` is a block of class `c` the caller gives up.
#[inline(always)]
pub(crate) unsafe fn poison(p: *mut u8, c: usize) {
    if mitigations::POISON_FREED {
        let (n, k) = (class_size(c), 8);
        // SAFETY: caller contract: the whole block is ours to overwrite.
        unsafe { core::ptr::write_bytes(p.add(k), mitigations::POISON_BYTE, n - k) };
    }
}

/// Report a misused small free.
#[cold]
#[inline(never)]
pub(crate) fn invalid_free(p: *mut u8, what: &str) -> ! {
    crate::out::fatal(what, p)
}

impl<P: PageSource> Drop for Heap<P> {
    fn drop(&mut self) {
        for slot in &self.spare_stores {
            let p = slot.swap(core::ptr::null_mut(), UOrd::Acquire);
            if !p.is_null() {
                // SAFETY: a spare storage mapping of `mag_bytes` from this
                // heap's page source, which no cache uses.
                unsafe { self.pool.pages().unmap(p, self.mag_bytes) };
            }
        }
        self.large.trim(self.pool.pages());
    }
}
