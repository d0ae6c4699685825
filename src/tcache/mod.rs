//! Thread caches: per thread, per size class, a singly linked list of free
//! blocks. The alloc and free fast paths below touch only this struct: no
//! atomics, no locks, no syscalls. Refill and drain (in [`crate::heap`]) are
//! `#[cold]`.
//!
//! A `ThreadCache` is a plain value: the global allocator keeps one per
//! thread in a `thread_local!` (see [`tls`]); tests, models and fuzzers make
//! their own and pass it to a [`crate::Heap`]. It is `const`-constructible and
//! has no destructor, so thread-local set-up never allocates; the owner must
//! call [`crate::Heap::thread_exit`] to hand its blocks and slabs back.

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub(crate) mod tls;

use crate::mitigations;
use crate::size_class::NUM_CLASSES;
use crate::slab::{Block, Slab};

#[derive(Clone, Copy)]
pub(crate) struct Bin {
    pub head: *mut Block,
    /// Frees left before the bin must drain: `limit - count`, kept instead of
    /// the count so that the free fast path is one decrement and a zero test.
    /// Wrapping arithmetic: on an uninitialised cache (limit 0) it goes
    /// "negative", and `limit - room` is still the number of cached blocks.
    pub room: u32,
    /// Drain when the bin holds this many blocks. 0 until the cache is
    /// initialised (its bins are empty then, so the first free takes the cold
    /// path).
    pub limit: u32,
}

impl Bin {
    /// Blocks on the bin.
    #[inline]
    pub fn count(&self) -> u32 {
        self.limit.wrapping_sub(self.room)
    }

    /// Record that the bin holds `n` blocks.
    #[inline]
    pub fn set_count(&mut self, n: u32) {
        self.room = self.limit.wrapping_sub(n);
    }

    /// Change the limit, keeping the count.
    #[inline]
    pub fn set_limit(&mut self, limit: u32) {
        let n = self.count();
        self.limit = limit;
        self.set_count(n);
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
    pub(crate) bins: [Bin; NUM_CLASSES],
    pub(crate) slabs: [ClassSlabs; NUM_CLASSES],
    /// Owner id stamped on slabs (0 = not yet initialised).
    pub(crate) id: usize,
    /// Address of the heap this cache belongs to (checked in debug builds).
    pub(crate) heap: usize,
    /// Bytes granted to the bins: the sum of `limit × class size`, kept
    /// within the heap's per-thread budget (slow paths only).
    pub(crate) granted: usize,
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
            bins: [Bin { head: core::ptr::null_mut(), room: 0, limit: 0 }; NUM_CLASSES],
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
            #[cfg(feature = "stats")]
            counts: [[0; 2]; NUM_CLASSES],
        }
    }

    /// Owner id of this cache (0 until first use).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Blocks currently cached for class `c`.
    pub fn cached(&self, c: usize) -> u32 {
        self.bins[c].count()
    }

    /// Pop a cached block of class `c`, if any.
    #[inline(always)]
    pub(crate) fn pop(&mut self, c: usize) -> *mut u8 {
        debug_assert!(c < NUM_CLASSES);
        // SAFETY: class indices come from `size_class::class_of` (< NUM_CLASSES).
        let bin = unsafe { self.bins.get_unchecked_mut(c) };
        let b = bin.head;
        if !b.is_null() {
            // SAFETY: every block on a bin is a free block whose first word is
            // its encoded link (validated by `next`); clearing it marks the
            // block live (see `crate::block`).
            unsafe {
                bin.head = crate::block::next(b);
                if mitigations::MARK_LIVE {
                    crate::block::clear(b);
                }
            }
            bin.room = bin.room.wrapping_add(1);
            #[cfg(feature = "stats")]
            {
                self.counts[c][0] += 1;
            }
        }
        b.cast()
    }

    /// Push a freed block of class `c`. Returns true when the slow path must
    /// run: the bin reached its limit (drain); or it was empty (the block may
    /// be another thread's, which must not be handed out here next; see
    /// [`crate::Heap`]'s drain), which includes every bin of an uninitialised
    /// cache.
    ///
    /// Double frees: the block already at the bin's head aborts here (as
    /// does a pointer that is not 8-byte aligned, which no block is); any
    /// other block that is on a list twice aborts when it is popped the
    /// second time (see [`crate::block`]). With
    /// [`mitigations::CHECK_DOUBLE_FREE_ON_FREE`], a block whose first word
    /// still decodes as a link is reported now: `suspect` (cold) gets it and
    /// the decoded link, confirms against the page map and aborts.
    ///
    /// # Safety
    /// `p` is a block of class `c` from the same heap, no longer used by the caller.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, c: usize, p: *mut u8, suspect: impl FnOnce(*mut Block, usize)) -> bool {
        debug_assert!(c < NUM_CLASSES);
        let b = p.cast::<Block>();
        if mitigations::CHECK_DOUBLE_FREE_ON_FREE {
            // SAFETY: the caller hands over a block of ours: readable.
            if let Some(d) = unsafe { crate::block::looks_free(b) } {
                suspect(b, d);
            }
        }
        // SAFETY: see `pop`.
        let bin = unsafe { self.bins.get_unchecked_mut(c) };
        let h = bin.head;
        // An unaligned pointer must not get a link written through it.
        if (b == h) | (p as usize & 7 != 0) {
            bad_push(p);
        }
        // SAFETY: the caller gives the block up; its first word becomes the link.
        unsafe { crate::block::set_next(b, h) };
        bin.head = b;
        bin.room = bin.room.wrapping_sub(1);
        #[cfg(feature = "stats")]
        {
            self.counts[c][1] += 1;
        }
        (bin.room == 0) | h.is_null()
    }
}

/// Report a push of the bin's head again, or of an unaligned pointer.
#[cold]
#[inline(never)]
fn bad_push(p: *mut u8) -> ! {
    if p as usize & 7 != 0 {
        crate::out::fatal("free of a pointer that is not a block", p)
    }
    crate::out::fatal("double free detected", p)
}
