//! Slabs without an owner, and how they come back.
//!
//! **Orphaned slabs** (lock-free): when an owner finds a slab exhausted (no
//! free, no fresh and no remote block left) it gives the slab up instead of
//! parking it on its full list: it sets the owner id to
//! [`ORPHANED`] and then the orphan bit on the slab's
//! empty remote list with one CAS ([`RemoteList::try_orphan`]; if blocks
//! arrived first, the CAS fails and the owner keeps the slab). The slab is on
//! no list. Whoever next returns a block to it, the old owner included,
//! claims it by clearing the bit with a CAS ([`RemoteList::claim_orphan`]),
//! which also hands it every block pushed meanwhile; a thread that pushed a
//! chain and found the bit set claims it the same way
//! ([`Heap::push_remote`]). So the blocks of a slab filled by a thread that
//! then goes idle come home to whoever frees them, and the free of the last
//! one releases the slab, without the idle owner running at all. Every
//! transition is on the remote list's one word, so a push and a give-up are
//! totally ordered, and exactly one claimer wins (`loom_orphan_claim` in
//! `verify/`, with two negative controls).
//!
//! **Abandoned slabs**: slabs that still hold live blocks when their thread
//! exits (or flushes its cache), kept on per-class lists under one lock, and
//! the three ways they come back:
//!
//! * **adopt**: a thread whose class `c` needs a slab takes an abandoned one
//!   before asking the pool (refill);
//! * **free in place**: a thread that frees a block into an abandoned slab
//!   puts it on the slab's free list under the abandoned lock, and the free
//!   of its last block releases the slab to the pool at once, without
//!   waiting for a refill of its class. The slab stays on its list, so a
//!   refill can still adopt it. (It used to be claimed: the freeing thread
//!   became its owner. A thread that only frees, like a main thread taking
//!   back what its short-lived workers made, then held such slabs partly
//!   used where no worker could adopt them, and the workers mapped new
//!   ones: the thread-churn case's RSS growth);
//! * **sweep**: `trim` (and a cache flush) collects every abandoned slab's
//!   remote frees and releases those whose blocks have all come back.
//!
//! Ownership: a slab's owner-only state is touched by its owner thread, or,
//! while its owner id is 0 and it is on an abandoned list, by the holder of
//! the abandoned lock, or, while it is orphaned, by nobody. The owner id goes
//! to 0 and back only under that lock, so a thread that reads 0 under the
//! lock knows the slab is on a list (a slab holding a live block is never
//! released, and only such slabs are claimed). An orphaned slab's id is
//! `ORPHANED`, never 0, so the lock's claim never touches it; the id is a
//! hint there, the orphan bit decides.

use super::{full_push, list_push, list_remove, Heap};
use crate::block::Block;
use crate::platform::PageSource;
#[cfg(doc)]
use crate::remote::RemoteList;
use crate::size_class::NUM_CLASSES;
use crate::slab::{ListTag, Slab, ORPHANED};
use crate::sync::{lock, Ordering};
use crate::tcache::ThreadCache;
use core::ptr::null;

/// Model builds only: the orphan protocol as shipped, or one of its negative
/// controls (`verify/loom_pool.rs`, `loom_orphan_claim_*`).
#[cfg(any(feature = "loom", feature = "shuttle"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReclaimVariant {
    /// The shipped protocol.
    Real,
    /// A push that finds the orphan bit set does not claim the slab: its
    /// blocks wait on a slab nobody owns (symptom: stranded blocks).
    IgnoreOrphanOnPush,
    /// The claim checks the bit with one load and clears it with a plain
    /// store (symptom: a slab owned twice).
    CheckThenStore,
    /// A free into an abandoned slab trusts the owner id it read before
    /// taking the abandoned lock and frees in place without looking again
    /// (symptom: the slab's owner-only state touched by the thread that
    /// adopted it meanwhile and by the freeing thread, a slab owned twice).
    UncheckedInPlace,
}

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

    /// The owner found `s` (class `c`, on no list) exhausted: give it up
    /// (orphan it) so that whoever frees into it takes it over; if blocks
    /// came back first, keep it on the full list (a refill's scan collects
    /// them).
    ///
    /// # Safety
    /// `tc` owns `s`, which is on no list.
    pub(super) unsafe fn park_full(&self, tc: &mut ThreadCache, c: usize, s: &Slab) {
        if !self.pool.options().orphan_full_slabs {
            // SAFETY: caller contract.
            unsafe { full_push(&mut tc.slabs[c], s) };
            return;
        }
        // SAFETY: owner; the Release CAS in try_orphan publishes this write.
        unsafe { s.local(|l| l.list = ListTag::None) };
        // Id first: once the bit is set a claimer may write its own id, which
        // must not be overwritten. Until the bit is set, a free that reads
        // ORPHANED finds no bit, fails its claim and pushes remotely.
        s.set_owner(ORPHANED);
        if s.remote.try_orphan() {
            self.orphaned_n.fetch_add(1, Ordering::Relaxed);
            return;
        }
        s.set_owner(tc.id);
        // SAFETY: owner again (nobody could claim: the bit was never set).
        unsafe { full_push(&mut tc.slabs[c], s) };
    }

    /// Take orphaned slab `s` over for `tc` if its orphan bit is still set:
    /// the blocks pushed onto it meanwhile come back on its free list; the
    /// slab is released if that was all of them, else it goes on `tc`'s full
    /// list (`partial`: to the partial list). True if `tc` owns it now (or
    /// released it).
    pub(super) fn claim_orphan(&self, tc: &mut ThreadCache, s: &Slab, partial: bool) -> bool {
        #[cfg(any(feature = "loom", feature = "shuttle"))]
        let got = match self.reclaim_variant {
            ReclaimVariant::CheckThenStore => s.remote.claim_orphan_check_then_store(),
            _ => s.remote.claim_orphan(),
        };
        #[cfg(not(any(feature = "loom", feature = "shuttle")))]
        let got = s.remote.claim_orphan();
        let Some(chain) = got else { return false };
        s.set_owner(tc.id);
        self.orphaned_n.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: clearing the bit made `tc` the owner (the Acquire CAS saw
        // the old owner's writes, released by its give-up); the chain holds
        // blocks of `s` freed by other threads.
        unsafe {
            if !chain.is_null() {
                s.splice_remote(chain);
            }
            let (used, c) = s.local(|l| (l.used, l.class as usize));
            if used == 0 {
                self.release_slab(s);
            } else if partial {
                list_push(&mut tc.slabs[c].partial, s, ListTag::Partial);
            } else {
                full_push(&mut tc.slabs[c], s);
            }
        }
        true
    }

    /// Push the chain `h ..= t` of blocks of `s` onto its remote list; if
    /// `s` turned out to be orphaned, claim it (the chain would otherwise
    /// wait on a slab nobody owns).
    ///
    /// # Safety
    /// As [`RemoteList::push_chain`](crate::remote::RemoteList::push_chain).
    pub(super) unsafe fn push_remote(&self, tc: &mut ThreadCache, s: &Slab, h: *mut Block, t: *mut Block) {
        // SAFETY: caller contract.
        let orphaned = unsafe { s.remote.push_chain(h, t) };
        #[cfg(any(feature = "loom", feature = "shuttle"))]
        if self.reclaim_variant == ReclaimVariant::IgnoreOrphanOnPush {
            return;
        }
        if orphaned {
            self.init_cache(tc);
            self.claim_orphan(tc, s, true);
        }
    }

    /// Blocks are being freed into `s`, whose owner read as 0 (abandoned):
    /// if it still is (owner 0 under the abandoned lock), put them on its
    /// free list there, under one hold of the lock, leaving the slab on its
    /// list for a refill to adopt; release it if they were its last blocks.
    /// `Some(released)`; `None` if a thread adopted it first (the caller
    /// frees them remotely).
    ///
    /// # Safety
    /// `blocks` are blocks of `s` that were handed out and that the caller
    /// gives up (the checks of [`Slab::free_local`] abort on a double free).
    pub(super) unsafe fn free_abandoned(&self, s: &Slab, blocks: &[*mut Block]) -> Option<bool> {
        let mut ab = lock(&self.abandoned);
        #[cfg(any(feature = "loom", feature = "shuttle"))]
        let recheck = self.reclaim_variant != ReclaimVariant::UncheckedInPlace;
        #[cfg(not(any(feature = "loom", feature = "shuttle")))]
        let recheck = true;
        if recheck && s.owner() != 0 {
            #[cfg(any(feature = "loom", feature = "shuttle"))]
            self.in_place_lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        // SAFETY: owner 0 under the lock: `s` is abandoned (it holds the
        // blocks being freed, so it is not released) and the lock holder
        // owns its local state; `blocks` per the caller contract.
        let (c, used) = unsafe {
            let (list, c) = s.local(|l| (l.list, l.class as usize));
            if recheck && list != ListTag::Abandoned {
                crate::out::fatal("free of a block in a slab that is not in use", s as *const Slab as *const u8);
            }
            let mut used = 0;
            for &b in blocks {
                used = s.free_local(b);
            }
            if used != 0 && !s.remote.is_empty() {
                s.collect_remote();
                used = s.local(|l| l.used);
            }
            (c, used)
        };
        if used != 0 {
            return Some(false);
        }
        // SAFETY: lock holder; on list c.
        unsafe { ab.unlink(s, c) };
        drop(ab);
        self.abandoned_n.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: unlisted, no live block, and nobody else can reach it (a
        // free into it would need a live block; adopt needs it listed).
        unsafe { self.release_slab(s) };
        Some(true)
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

    /// Slabs currently orphaned: given up by their owner while exhausted,
    /// waiting for a free into them.
    pub fn orphaned_slabs(&self) -> usize {
        self.orphaned_n.load(Ordering::Relaxed)
    }
}
