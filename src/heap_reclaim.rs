//! Abandoned slabs: slabs that still hold live blocks when their thread
//! exits (or flushes its cache), kept on per-class lists under one lock, and
//! the three ways they come back:
//!
//! * **adopt**: a thread whose class `c` needs a slab takes an abandoned one
//!   before asking the pool (refill);
//! * **claim**: a thread that frees a block into an abandoned slab takes the
//!   slab over (it becomes the owner, the free becomes a local one), so the
//!   free of its last block releases it to the pool at once, without waiting
//!   for a refill of its class (mimalloc reclaims abandoned pages on free the
//!   same way);
//! * **sweep**: `trim` (and a cache flush) collects every abandoned slab's
//!   remote frees and releases those whose blocks have all come back.
//!
//! Ownership: a slab's owner-only state is touched by its owner thread, or,
//! while its owner id is 0 and it is on an abandoned list, by the holder of
//! the abandoned lock. The owner id goes to 0 and back only under that lock,
//! so a thread that reads 0 under the lock knows the slab is on a list (a
//! slab holding a live block is never released, and only such slabs are
//! claimed).

use super::{full_push, list_push, list_remove, Heap};
use crate::platform::PageSource;
use crate::size_class::NUM_CLASSES;
use crate::slab::{ListTag, Slab};
use crate::sync::{lock, Ordering};
use crate::tcache::ThreadCache;
use core::ptr::null;

/// Per-class doubly linked lists of abandoned slabs (through the slabs'
/// owner-only `prev`/`next`), guarded by the heap's abandoned lock.
pub(super) struct Abandoned {
    pub(super) heads: [*const Slab; NUM_CLASSES],
}

// SAFETY: the slab pointers refer to registry records that outlive the heap's
// users; they are only followed under the mutex.
unsafe impl Send for Abandoned {}

impl Abandoned {
    pub(super) const fn new() -> Self {
        Abandoned { heads: [null(); NUM_CLASSES] }
    }

    /// # Safety
    /// The caller holds the abandoned lock; `s` is owned by nobody and on no list.
    unsafe fn push(&mut self, s: &Slab, c: usize) {
        // SAFETY: lock holder; `s` and the list's slabs are abandoned, so the
        // lock holder owns them as `list_push` requires.
        unsafe { list_push(&mut self.heads[c], s, ListTag::Abandoned) };
    }

    /// # Safety
    /// The caller holds the abandoned lock; `s` is on list `c`.
    unsafe fn unlink(&mut self, s: &Slab, c: usize) {
        // SAFETY: lock holder; `s` and its neighbours are abandoned.
        unsafe { list_remove(&mut self.heads[c], s) };
    }
}

impl<P: PageSource> Heap<P> {
    /// Abandon slab `s` of class `c`: it holds live blocks and its owner is
    /// leaving. If its last blocks came back meanwhile (remote frees that
    /// landed after the owner's last look), it is released instead.
    ///
    /// # Safety
    /// Caller owns `s`, which is on no list.
    pub(super) unsafe fn abandon(&self, s: &Slab, c: usize) {
        let mut ab = lock(&self.abandoned);
        // SAFETY: caller owns `s`; from here the lock guards it.
        unsafe { ab.push(s, c) };
        s.set_owner(0);
        // SAFETY: lock holder of an abandoned slab.
        let empty = unsafe {
            s.collect_remote();
            s.local(|l| l.used) == 0
        };
        if empty {
            // SAFETY: lock holder; `s` is on list c.
            unsafe { ab.unlink(s, c) };
            drop(ab);
            // SAFETY: unlisted, no live block, and nobody else can reach it
            // (a free into it would need a live block).
            unsafe { self.release_slab(s) };
            return;
        }
        drop(ab);
        self.abandoned_n.fetch_add(1, Ordering::Relaxed);
    }

    /// Take an abandoned slab of class `c` for the cache with id `id`.
    pub(super) fn adopt(&self, id: usize, c: usize) -> Option<&Slab> {
        if self.abandoned_n.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut ab = lock(&self.abandoned);
        // SAFETY: abandoned slabs are owned by the lock holder.
        let s = unsafe { ab.heads[c].as_ref()? };
        // SAFETY: as above; `s` heads list c.
        unsafe { ab.unlink(s, c) };
        s.set_owner(id);
        drop(ab);
        self.abandoned_n.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: now owned by `id`.
        unsafe { s.collect_remote() };
        Some(s)
    }

    /// A block is being freed into `s`, whose owner read as 0: take the slab
    /// over for `tc`, onto its full list (the caller's local free then moves
    /// it to the partial list, or releases it if that was its last block).
    /// False if another thread took it first (the caller frees remotely).
    pub(super) fn claim(&self, tc: &mut ThreadCache, s: &Slab) -> bool {
        let mut ab = lock(&self.abandoned);
        if s.owner() != 0 {
            return false;
        }
        // SAFETY: owner 0 under the lock: `s` is abandoned (it holds the
        // block being freed, so it is not released) and the lock guards it.
        let (list, c) = unsafe { s.local(|l| (l.list, l.class as usize)) };
        if list != ListTag::Abandoned {
            crate::out::fatal("free of a block in a slab that is not in use", s as *const Slab as *const u8);
        }
        // SAFETY: lock holder; on list c.
        unsafe { ab.unlink(s, c) };
        s.set_owner(tc.id);
        drop(ab);
        self.abandoned_n.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: now owned by tc, on no list.
        unsafe {
            s.collect_remote();
            full_push(&mut tc.slabs[c], s);
        }
        true
    }

    /// Collect the remote frees of every abandoned slab and release those
    /// whose blocks have all come back. Returns how many were released.
    pub(super) fn sweep_abandoned(&self) -> usize {
        if self.abandoned_n.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let mut ab = lock(&self.abandoned);
        let mut released = 0;
        for c in 0..NUM_CLASSES {
            let mut s = ab.heads[c];
            // SAFETY: every slab on the lists is abandoned: the lock holder owns it.
            while let Some(r) = unsafe { s.as_ref() } {
                // SAFETY: as above.
                unsafe {
                    s = r.local(|l| l.next);
                    r.collect_remote();
                    if r.local(|l| l.used) == 0 {
                        ab.unlink(r, c);
                        self.release_slab(r);
                        released += 1;
                    }
                }
            }
        }
        drop(ab);
        self.abandoned_n.fetch_sub(released, Ordering::Relaxed);
        released
    }

    /// Slabs currently abandoned by exited threads.
    pub fn abandoned_slabs(&self) -> usize {
        self.abandoned_n.load(Ordering::Relaxed)
    }
}
