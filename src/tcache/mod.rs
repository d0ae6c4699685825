//! Thread caches: per thread, per size class, a *magazine*: an array of
//! free block pointers used as a stack. The alloc and free fast paths below
//! touch only this struct, the array and the block's first word: no atomics,
//! no locks, no syscalls. Refill and drain (in [`crate::heap`]) are `#[cold]`.
//!
//! Why an array and not a linked list: a list's pop reads the next block's
//! address out of the block it hands out, so with encoded links (see
//! [`crate::block`]) every pop waits on a load and a decode of the one
//! before. A magazine pop is `n -= 1; arr[n]`, independent of the block's
//! contents. Cached blocks carry the free mark instead of a link: a free
//! checks it is not there already (a double free), an allocation checks it
//! is still there (a write after free) and replaces it with the live mark.
//! Links stay encoded and validated on slab free lists and remote chains.
//!
//! A `ThreadCache` is a plain value: the global allocator keeps one per
//! thread in a `thread_local!` (see [`tls`]); tests, models and fuzzers make
//! their own and pass it to a [`crate::Heap`]. It is `const`-constructible and
//! has no destructor, so thread-local set-up never allocates; the owner must
//! call [`crate::Heap::thread_exit`] to hand its blocks, slabs and magazine
//! storage back. The arrays live in one mapping per cache, made on its first
//! slow path (see [`store`]).

pub(crate) mod store;
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub(crate) mod tls;

use crate::mitigations;
use crate::size_class::NUM_CLASSES;
use crate::slab::{Block, Slab};
use store::Store;

/// One size class's magazine: an array `arr` whose first `n` entries are
/// the cached blocks, the newest on top (`ThreadCache::caps[c]` entries;
/// none while that is 0). Kept as two pointers and a span, so that a pop is
/// a compare, a load and a decrement of `top`, and a push's slow-path test
/// is one subtraction and one compare.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Bin {
    /// `arr + n`: where the next push goes.
    top: *mut *mut Block,
    /// `arr + 1` (an address, even while `arr` is null): the bin is empty
    /// when `top < lo`.
    lo: *mut *mut Block,
    /// `(t - 2) * 8`, wrapping, where `t` is the smaller of the bin's limit
    /// (it drains when it holds that many blocks) and its array's capacity
    /// (the array grows when full, up to the limit): a push takes the slow
    /// path when `top - lo >= span` (wrapping), i.e. when `n == 0` or
    /// `n + 1 >= t`. `t` is 0 until the bin has a limit and an array, so
    /// every push takes the slow path then.
    span: usize,
}

const WORD: usize = core::mem::size_of::<*mut Block>();

impl Bin {
    /// An empty bin with no array and limit 0.
    pub const EMPTY: Bin = Bin {
        top: core::ptr::null_mut(),
        lo: core::ptr::null_mut::<*mut Block>().wrapping_add(1),
        span: 0usize.wrapping_sub(2 * WORD),
    };

    /// The array (null while there is none).
    #[inline]
    pub fn arr(&self) -> *mut *mut Block {
        self.lo.wrapping_sub(1)
    }

    /// Blocks cached.
    #[inline]
    pub fn n(&self) -> u32 {
        ((self.top as usize - self.arr() as usize) / WORD) as u32
    }

    /// Record that the bin holds `n` blocks.
    #[inline]
    pub fn set_n(&mut self, n: u32) {
        self.top = self.arr().wrapping_add(n as usize);
    }

    /// Move the bin to array `arr` (which holds its `n` blocks already).
    #[inline]
    pub fn set_arr(&mut self, arr: *mut *mut Block) {
        let n = self.n();
        self.lo = arr.wrapping_add(1);
        self.set_n(n);
    }

    /// Set the push threshold `t` (see `span`).
    #[inline]
    pub fn set_top(&mut self, t: u32) {
        self.span = (t as usize).wrapping_sub(2).wrapping_mul(WORD);
    }
}

/// The slabs a thread owns for one class.
#[derive(Clone, Copy)]
pub(crate) struct ClassSlabs {
    pub current: *const Slab,
    pub partial: *const Slab,
    pub full: *const Slab,
    pub full_tail: *const Slab,
    /// A block of another thread's, freed into this class's empty bin, was
    /// sent home since this class last refilled (see [`crate::Heap`]'s
    /// drain): a second one is kept, since this thread is only freeing.
    pub sent_home: bool,
}

/// Per-thread allocation state.
pub struct ThreadCache {
    /// [`crate::block::free_mark`], copied when the cache is initialised (0
    /// before: every push and pop of an uninitialised cache takes the slow
    /// path, which sets it first).
    pub(crate) free_mark: usize,
    /// One bin per class, and one for [`crate::size_class::UNCOMMON`] that
    /// never gets an array or a limit (its pops find it empty, its pushes
    /// take the slow path).
    pub(crate) bins: [Bin; NUM_CLASSES + 1],
    pub(crate) slabs: [ClassSlabs; NUM_CLASSES],
    /// Owner id stamped on slabs (0 = not yet initialised).
    pub(crate) id: usize,
    /// Address of the heap this cache belongs to (checked in debug builds).
    pub(crate) heap: usize,
    /// Bytes granted to the bins: the sum of `limit × class size`, kept
    /// within the heap's per-thread budget (slow paths only).
    pub(crate) granted: usize,
    /// Each bin's limit: it drains when it holds that many blocks (at least
    /// 2 once set; 0 until the bin is first used, or without storage).
    pub(crate) limits: [u32; NUM_CLASSES],
    /// Entries each bin's array holds (0: none yet). Grows on demand, up to
    /// the limit rounded up to a power of two.
    pub(crate) caps: [u32; NUM_CLASSES],
    /// Where the arrays live.
    pub(crate) store: Store,
    #[cfg(feature = "stats")]
    pub(crate) counts: [[u64; 2]; NUM_CLASSES],
}

// SAFETY: a cache is used by one thread at a time; moving it to another thread
// moves ownership of its blocks and slabs with it.
unsafe impl Send for ThreadCache {}

impl Default for ThreadCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadCache {
    /// An empty, uninitialised cache.
    pub const fn new() -> Self {
        ThreadCache {
            free_mark: 0,
            bins: [Bin::EMPTY; NUM_CLASSES + 1],
            slabs: [ClassSlabs {
                current: core::ptr::null(),
                partial: core::ptr::null(),
                full: core::ptr::null(),
                full_tail: core::ptr::null(),
                sent_home: false,
            }; NUM_CLASSES],
            id: 0,
            heap: 0,
            granted: 0,
            limits: [0; NUM_CLASSES],
            caps: [0; NUM_CLASSES],
            store: Store::new(),
            #[cfg(feature = "stats")]
            counts: [[0; 2]; NUM_CLASSES],
        }
    }

    /// The free mark the fast paths compare and write: with
    /// [`mitigations::RANDOM_FREE_MARK`] the copy in `free_mark` (a
    /// thread-local load), else the fixed mark, a constant the compiler
    /// keeps in a register.
    #[inline(always)]
    pub(crate) fn mark(&self) -> usize {
        if mitigations::RANDOM_FREE_MARK {
            self.free_mark
        } else {
            crate::block::FIXED_MARK
        }
    }

    /// Owner id of this cache (0 until first use).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Blocks currently cached for class `c`.
    pub fn cached(&self, c: usize) -> u32 {
        self.bins[c].n()
    }

    /// Pop a cached block of class `c`, if any. Its free mark must be intact
    /// (a write after free aborts), and it becomes live. On null, the caller
    /// calls [`after_empty_pop`](Self::after_empty_pop) before anything else
    /// touches the cache.
    #[inline(always)]
    pub(crate) fn pop(&mut self, c: usize) -> *mut u8 {
        debug_assert!(c <= crate::size_class::UNCOMMON);
        // SAFETY: class indices come from `size_class` (<= UNCOMMON: a bin each).
        let bin = unsafe { self.bins.get_unchecked_mut(c) };
        let t0 = bin.top;
        let t = t0.wrapping_sub(1);
        // The new top is stored first, in the block that reads the bin: there
        // LLVM folds the bin's thread-local address into the store. An empty
        // bin is left one entry below its array, for the slow path to put
        // right ([`ThreadCache::after_empty_pop`]): a store here would make
        // LLVM materialise the thread-local address on the fast path too.
        bin.top = t;
        if t0 < bin.lo {
            return core::ptr::null_mut();
        }
        // SAFETY: `t` is `arr + n - 1` with n >= 1: a cached block (see
        // `Bin`), a free block of ours whose first word was set by `mark_free`.
        let b = unsafe {
            let b = *t;
            if mitigations::CHECK_MARKS {
                crate::block::take_marked(b, self.mark());
            } else {
                crate::block::clear(b);
            }
            b
        };
        #[cfg(feature = "stats")]
        {
            self.counts[c][0] += 1;
        }
        b.cast()
    }

    /// Put bin `c` right after a [`pop`](Self::pop) that found it empty
    /// (which leaves its top one entry below its array). The slow path of
    /// such a pop calls it before anything else can touch the cache (a
    /// nested allocation, say); calling it twice is harmless.
    #[inline]
    pub(crate) fn after_empty_pop(&mut self, c: usize) {
        let bin = &mut self.bins[c];
        debug_assert!(bin.top == bin.arr().wrapping_sub(1) || bin.top == bin.arr());
        bin.set_n(0);
    }

    /// Put bin `c` right after a [`push`](Self::push) that declined (which
    /// leaves its top one entry too high). The slow path of such a push
    /// calls it exactly once, before anything else can touch the cache.
    #[inline]
    pub(crate) fn after_declined_push(&mut self, c: usize) {
        let bin = &mut self.bins[c];
        bin.top = bin.top.wrapping_sub(1);
    }

    /// Free block `p` of class `c`: checked (a pointer that is not 8-byte
    /// aligned, or a block that holds its free mark already, i.e. is cached
    /// by some thread: a double free, aborts), marked free, and pushed
    /// (see [`check_and_mark`]). Returns true, without touching `p`, when
    /// the slow path must do all of that instead ([`crate::Heap`]'s drain):
    /// the bin or its array is full; or it was empty (the block may be
    /// another thread's, which must not be handed out here next), which
    /// includes every bin of an uninitialised cache. That slow path first
    /// calls [`after_declined_push`](Self::after_declined_push).
    ///
    /// With [`mitigations::CHECK_DOUBLE_FREE_ON_FREE`], a block whose first
    /// word decodes as a link (it is on a slab's free list or a remote
    /// chain) is reported too: `suspect` (cold) gets it and the decoded
    /// link, confirms against the page map and aborts. Without it, such a
    /// block aborts when that list is walked.
    ///
    /// # Safety
    /// `p` is a block of class `c` from the same heap, no longer used by the
    /// caller (or a misused pointer that is readable and writable for 8
    /// bytes: the checks here and in the drain report it).
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, c: usize, p: *mut u8, suspect: impl FnOnce(*mut Block, usize)) -> bool {
        debug_assert!(c <= crate::size_class::UNCOMMON);
        // (The UNCOMMON bin's frees are counted when the slow path frees
        // them into their class.)
        #[cfg(feature = "stats")]
        if c < NUM_CLASSES {
            self.counts[c][1] += 1;
        }
        // SAFETY: see `pop`.
        let bin = unsafe { self.bins.get_unchecked_mut(c) };
        let t = bin.top;
        // As in `pop`: the new top first; a declined push leaves it one entry
        // too high, for the slow path to put back
        // ([`ThreadCache::after_declined_push`]); a check below that fails
        // aborts.
        bin.top = t.wrapping_add(1);
        // Slow when n == 0 (wraps) or n + 1 >= t (see `Bin`); a bin of an
        // uninitialised cache is always slow. The slow path runs the checks
        // below itself, with the mark set.
        if (t as usize).wrapping_sub(bin.lo as usize) >= bin.span {
            return true;
        }
        // SAFETY: caller contract.
        unsafe {
            if mitigations::CHECK_MARKS {
                check_and_mark(p, self.mark(), suspect);
            } else {
                crate::block::mark_free_with(p.cast(), self.mark());
            }
        }
        // SAFETY: n + 1 < t <= the array's capacity: `t` is in it.
        unsafe { *t = p.cast() };
        false
    }
}

/// A free's checks, then its free mark: a pointer that is not 8-byte
/// aligned, or a block that holds its free mark already (cached by some
/// thread: a double free), aborts; with
/// [`mitigations::CHECK_DOUBLE_FREE_ON_FREE`], so does a block whose first
/// word decodes as a link (`suspect`, cold, confirms against the page map).
///
/// # Safety
/// `p` is readable and writable for 8 bytes; the caller gives it up. `m`
/// is [`crate::block::free_mark`].
#[inline(always)]
pub(crate) unsafe fn check_and_mark(p: *mut u8, m: usize, suspect: impl FnOnce(*mut Block, usize)) {
    let b = p.cast::<Block>();
    // An unaligned pointer must not be read as a block (read_unaligned is
    // a plain load), nor get a mark written.
    // SAFETY: caller contract: readable for 8 bytes.
    let w = unsafe { b.cast::<usize>().read_unaligned() };
    if (p as usize & 7 != 0) | (w == m) {
        bad_push(p);
    }
    if mitigations::CHECK_DOUBLE_FREE_ON_FREE {
        // SAFETY: the caller hands over a block of ours: readable.
        if let Some(d) = unsafe { crate::block::looks_free(b) } {
            suspect(b, d);
        }
    }
    // SAFETY: the caller gives the block up; its first word is the mark.
    unsafe { crate::block::mark_free_with(b, m) };
}

/// Report a free of an unaligned pointer, or of a block that holds its free
/// mark (cached already).
#[cold]
#[inline(never)]
fn bad_push(p: *mut u8) -> ! {
    if p as usize & 7 != 0 {
        crate::out::fatal("free of a pointer that is not a block", p)
    }
    crate::out::fatal("double free detected", p)
}
