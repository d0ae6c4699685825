//! Cross-thread frees: a per-slab atomic stack of blocks that any thread may
//! push onto and only the slab's owner empties, with one `swap` (mimalloc's
//! thread-free list, sharded-slab's `TransferStack`). Taking the whole list
//! at once means pops never race with each other, so there is no ABA.

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

    /// Push a chain `head ..= tail` (linked through [`crate::block`]) with one CAS.
    ///
    /// # Safety
    /// The chain consists of free blocks of this slab that the caller holds
    /// exclusively and gives up; `tail` is reachable from `head`.
    #[inline]
    pub unsafe fn push_chain(&self, head: *mut Block, tail: *mut Block) {
        let mut h = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the caller owns the chain until the CAS below publishes it.
            unsafe { set_next(tail, h) };
            match self.head.compare_exchange_weak(h, head, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(cur) => {
                    h = cur;
                    spin_loop();
                }
            }
        }
    }

    /// Take every block pushed so far (owner only). Null if none.
    #[inline]
    pub fn take_all(&self) -> *mut Block {
        if self.head.load(Ordering::Relaxed).is_null() {
            return core::ptr::null_mut();
        }
        self.head.swap(core::ptr::null_mut(), Ordering::Acquire)
    }

    /// Whether anything is waiting (a hint).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }
}

impl Default for RemoteList {
    fn default() -> Self {
        Self::new()
    }
}
