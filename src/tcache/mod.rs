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

use crate::size_class::NUM_CLASSES;
use crate::slab::{Block, Slab};

#[derive(Clone, Copy)]
pub(crate) struct Bin {
    pub head: *mut Block,
    pub count: u32,
    /// Drain when `count` reaches this. 0 until the cache is initialised, so
    /// the first free on a fresh cache takes the cold path.
    pub limit: u32,
}

/// The slabs a thread owns for one class.
#[derive(Clone, Copy)]
pub(crate) struct ClassSlabs {
    pub current: *const Slab,
    pub partial: *const Slab,
    pub full: *const Slab,
    pub full_tail: *const Slab,
}

/// Per-thread allocation state.
pub struct ThreadCache {
    pub(crate) bins: [Bin; NUM_CLASSES],
    pub(crate) slabs: [ClassSlabs; NUM_CLASSES],
    /// Owner id stamped on slabs (0 = not yet initialised).
    pub(crate) id: usize,
    /// Address of the heap this cache belongs to (checked in debug builds).
    pub(crate) heap: usize,
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
            bins: [Bin { head: core::ptr::null_mut(), count: 0, limit: 0 }; NUM_CLASSES],
            slabs: [ClassSlabs {
                current: core::ptr::null(),
                partial: core::ptr::null(),
                full: core::ptr::null(),
                full_tail: core::ptr::null(),
            }; NUM_CLASSES],
            id: 0,
            heap: 0,
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
        self.bins[c].count
    }

    /// Pop a cached block of class `c`, if any.
    #[inline(always)]
    pub(crate) fn pop(&mut self, c: usize) -> *mut u8 {
        debug_assert!(c < NUM_CLASSES);
        // SAFETY: class indices come from `size_class::class_of` (< NUM_CLASSES).
        let bin = unsafe { self.bins.get_unchecked_mut(c) };
        let b = bin.head;
        if !b.is_null() {
            // SAFETY: every block on a bin is a free block whose first word is its link.
            bin.head = unsafe { (*b).next };
            bin.count -= 1;
            #[cfg(feature = "stats")]
            {
                self.counts[c][0] += 1;
            }
        }
        b.cast()
    }

    /// Push a freed block of class `c`. Returns true when the slow path must
    /// run: the bin reached its limit (drain), or it was empty (the block may
    /// be another thread's, which must not be handed out here next; see
    /// [`crate::Heap`]'s drain), or the cache is not initialised yet.
    ///
    /// # Safety
    /// `p` is a block of class `c` from the same heap, no longer used by the caller.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, c: usize, p: *mut u8) -> bool {
        debug_assert!(c < NUM_CLASSES);
        // SAFETY: see `pop`.
        let bin = unsafe { self.bins.get_unchecked_mut(c) };
        let b = p.cast::<Block>();
        if b == bin.head {
            crate::out::fatal("double free detected", p);
        }
        // SAFETY: the caller gives the block up; its first word becomes the link.
        unsafe { (*b).next = bin.head };
        bin.head = b;
        let before = bin.count;
        bin.count = before + 1;
        #[cfg(feature = "stats")]
        {
            self.counts[c][1] += 1;
        }
        // One unsigned compare for both cases: before == 0 wraps to the
        // maximum; otherwise it is `before + 1 >= limit`. A fresh cache has
        // limit 0, which wraps too, so its first free is cold.
        before.wrapping_sub(1) >= bin.limit.wrapping_sub(2)
    }
}
