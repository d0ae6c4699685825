//! Cross-thread frees: a per-slab atomic stack of blocks that any thread may
//! push onto and only the slab's owner empties, with one `swap` (mimalloc's
//! thread-free list, sharded-slab's `TransferStack`). Taking the whole list
//! at once means pops never race with each other, so there is no ABA.
//!
//! The head word also carries the slab's **orphan bit** (bit 0; blocks are
//! 8-aligned): a slab whose owner parked it full gives it up by setting the
//! bit on an empty list (`try_orphan`), and whoever clears the bit with a CAS
//! (`claim_orphan`) owns the slab and takes whatever was pushed meanwhile.
//! Ownership changes on this one word, so a push and a give-up are totally
//! ordered: a push either lands before the give-up (which then fails and the
//! owner keeps the slab) or sees the bit (and its pusher claims the slab), so
//! no block can wait on a slab that nobody owns (see `heap_reclaim`).

use crate::block::{set_next, Block};
use crate::sync::{spin_loop, AtomicPtr, Ordering};

/// A multi-producer, single-consumer block list.
pub struct RemoteList {
    head: AtomicPtr<Block>,
}

impl RemoteList {
    /// An empty list.
    pub fn new() -> Self {
        Self { head: AtomicPtr::new(core::ptr::null_mut()) }
    }

    /// Push a chain `head ..= tail` (linked through [`crate::block`]) with
    /// one CAS. Returns whether the slab was orphaned (the bit was set): the
    /// chain then waits for a claim, which the caller must attempt
    /// (`Heap::push_remote`).
    ///
    /// # Safety
    /// The chain consists of free blocks of this slab that the caller holds
    /// exclusively and gives up; `tail` is reachable from `head`.
    #[inline]
    pub unsafe fn push_chain(&self, head: *mut Block, tail: *mut Block) -> bool {
        let mut h = self.head.load(Ordering::Relaxed);
        loop {
            let orphan = is_orphan(h);
            // SAFETY: the caller owns the chain until the CAS below publishes it.
            unsafe { set_next(tail, untag(h)) };
            let new = if orphan { tag(head) } else { head };
            match self.head.compare_exchange_weak(h, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return orphan,
                Err(cur) => {
                    h = cur;
                    spin_loop();
                }
            }
        }
    }

    /// Take every block pushed so far (owner only: the orphan bit is clear
    /// while the slab has an owner). Null if none.
    #[inline]
    pub fn take_all(&self) -> *mut Block {
        if self.head.load(Ordering::Relaxed).is_null() {
            return core::ptr::null_mut();
        }
        let h = self.head.swap(core::ptr::null_mut(), Ordering::Acquire);
        debug_assert!(!is_orphan(h), "hakmem: owner collected an orphaned slab's list");
        h
    }

    /// Whether anything is waiting (a hint; an orphaned list is not empty).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// The owner gives the slab up: set the orphan bit if the list is empty.
    /// Release: the claimer's Acquire CAS (through any pushes in between,
    /// which continue the release sequence) sees the owner's last writes to
    /// the slab's owner-only state. False if blocks are waiting: the caller
    /// keeps the slab (it has free blocks after all).
    #[inline]
    pub fn try_orphan(&self) -> bool {
        self.head
            .compare_exchange(core::ptr::null_mut(), tag(core::ptr::null_mut()), Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// Claim an orphaned slab: clear the orphan bit with a CAS, taking every
    /// block pushed since it was set. `None` if the bit is clear (the slab
    /// has an owner, perhaps one that claimed it first); `Some(chain)`, the
    /// chain possibly null, if this call made the caller the owner.
    #[inline]
    pub fn claim_orphan(&self) -> Option<*mut Block> {
        let mut h = self.head.load(Ordering::Relaxed);
        loop {
            if !is_orphan(h) {
                return None;
            }
            match self.head.compare_exchange_weak(h, core::ptr::null_mut(), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(untag(h)),
                Err(cur) => {
                    h = cur;
                    spin_loop();
                }
            }
        }
    }

    /// The negative control's claim (model builds only): the bit checked by
    /// one load and cleared by a plain store, not one CAS, so two claimers
    /// can both see it set and both take the slab.
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    pub fn claim_orphan_check_then_store(&self) -> Option<*mut Block> {
        let h = self.head.load(Ordering::Acquire);
        if !is_orphan(h) {
            return None;
        }
        self.head.store(core::ptr::null_mut(), Ordering::Relaxed);
        Some(untag(h))
    }

    /// Whether the slab is orphaned and blocks wait on its list: at a
    /// quiescent point this never holds (every push onto an orphaned list
    /// is followed by a claim), so the models check it.
    #[cfg(feature = "internals")]
    pub fn stranded(&self) -> bool {
        let h = self.head.load(Ordering::Acquire);
        is_orphan(h) && !untag(h).is_null()
    }
}

/// Whether a head word carries the orphan bit.
#[inline(always)]
fn is_orphan(h: *mut Block) -> bool {
    h as usize & 1 != 0
}

/// `p` with the orphan bit set (keeps provenance).
#[inline(always)]
fn tag(p: *mut Block) -> *mut Block {
    p.cast::<u8>().wrapping_add(1).cast()
}

/// A head word without the orphan bit.
#[inline(always)]
fn untag(h: *mut Block) -> *mut Block {
    if is_orphan(h) {
        h.cast::<u8>().wrapping_sub(1).cast()
    } else {
        h
    }
}

impl Default for RemoteList {
    fn default() -> Self {
        Self::new()
    }
}
