//! One slab: a 64 KiB slot of a SuperSlab serving a single size class.
//!
//! Blocks are carved lazily from a bump region, recycled through an owner-only
//! intrusive free list, and come back from other threads through a
//! [`RemoteList`]. The bookkeeping lives in the registry record (never in the
//! SuperSlab itself), so a stray write into user memory cannot corrupt it and
//! a retired SuperSlab leaves no dangling metadata behind.

use crate::pool::Acquired;
use crate::remote::RemoteList;
use crate::size_class::class_size;
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// A free block: its first word links to the next.
#[repr(C)]
pub struct Block {
    /// Next free block.
    pub next: *mut Block,
}

/// Which owner-side list a slab is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListTag {
    None,
    Current,
    Partial,
    Full,
    Abandoned,
}

/// Owner-only state of a slab.
pub(crate) struct SlabLocal {
    pub free: *mut Block,
    pub bump: *mut u8,
    pub end: *mut u8,
    pub used: u32,
    /// The bytes from `bump` to `end` read as zero (the slab came from the
    /// OS zeroed and nothing there was handed out since).
    pub zero_tail: bool,
    pub bsize: u32,
    pub class: u32,
    pub list: ListTag,
    pub prev: *const Slab,
    pub next: *const Slab,
    pub meta: u32,
    pub slot: u32,
}

/// Owner-only state on a cache line of its own.
#[repr(align(64))]
struct LocalLine(UnsafeCell<SlabLocal>);

/// Per-slab bookkeeping: the line other threads touch (owner id, remote
/// list) is kept apart from the owner's hot line, so remote frees do not
/// false-share with the owner's allocations.
#[repr(C, align(64))]
pub struct Slab {
    owner: AtomicUsize,
    pub(crate) remote: RemoteList,
    local: LocalLine,
}

// SAFETY: `local` is only touched by the slab's owner (or under the heap's
// abandoned-list lock while it has none); ownership hand-offs synchronise
// through the pool's slot CAS or that lock.
unsafe impl Sync for Slab {}
// SAFETY: as above.
unsafe impl Send for Slab {}

impl Slab {
    pub(crate) fn new() -> Self {
        Slab {
            owner: AtomicUsize::new(0),
            remote: RemoteList::new(),
            local: LocalLine(UnsafeCell::new(SlabLocal {
                free: core::ptr::null_mut(),
                bump: core::ptr::null_mut(),
                end: core::ptr::null_mut(),
                used: 0,
                zero_tail: false,
                bsize: 0,
                class: 0,
                list: ListTag::None,
                prev: core::ptr::null(),
                next: core::ptr::null(),
                meta: 0,
                slot: 0,
            })),
        }
    }

    /// Owner id (0 = none / abandoned).
    #[inline]
    pub fn owner(&self) -> usize {
        self.owner.load(Ordering::Relaxed)
    }

    /// The size class of a slab that holds a live block, read by any thread
    /// (an unsized `free` or `malloc_usable_size` from C). The class is
    /// written only when the slab is acquired, which happens before any of
    /// its blocks is handed out, and cannot change while a block is live.
    ///
    /// # Safety
    /// The slab holds a live block that the caller may use (so the slab is
    /// active and the write of its class happened before the caller got it).
    #[cfg(not(any(feature = "loom", feature = "shuttle")))]
    #[inline]
    pub(crate) unsafe fn class_shared(&self) -> usize {
        // SAFETY: reads only the `class` field through a raw pointer (no
        // reference to the owner's state); per the caller, no write to it
        // can be concurrent.
        self.local.0.with(|l| unsafe { core::ptr::addr_of!((*l).class).read() }) as usize
    }

    /// Set the owner id.
    #[inline]
    pub(crate) fn set_owner(&self, id: usize) {
        self.owner.store(id, Ordering::Relaxed);
    }

    /// Run `f` on the owner-only state.
    ///
    /// # Safety
    /// The caller owns the slab (its id is `owner`, or it holds the slab through
    /// the abandoned-list lock or a fresh acquire), and `f` does not re-enter.
    #[inline(always)]
    pub(crate) unsafe fn local<R>(&self, f: impl FnOnce(&mut SlabLocal) -> R) -> R {
        // SAFETY: exclusive access per the caller's ownership (see above).
        self.local.0.with_mut(|l| f(unsafe { &mut *l }))
    }

    /// Prepare a freshly acquired slab for `class`, owned by `owner`.
    ///
    /// # Safety
    /// The caller has just acquired the slot `a` from the pool and owns it.
    pub(crate) unsafe fn init(&self, a: &Acquired, class: usize, owner: usize) {
        let bsize = class_size(class);
        let count = crate::config::SLAB_SIZE / bsize;
        // SAFETY: fresh acquire => exclusive owner.
        unsafe {
            self.local(|l| {
                l.free = core::ptr::null_mut();
                l.bump = a.base;
                l.end = a.base.wrapping_add(count * bsize);
                l.used = 0;
                l.zero_tail = a.zeroed;
                l.bsize = bsize as u32;
                l.class = class as u32;
                l.list = ListTag::None;
                l.prev = core::ptr::null();
                l.next = core::ptr::null();
                l.meta = a.meta;
                l.slot = a.slot;
            })
        };
        debug_assert!(self.remote.is_empty(), "hakmem: acquired slab has pending remote frees");
        self.set_owner(owner);
    }

    /// Move remote frees onto the local free list. Returns how many.
    ///
    /// # Safety
    /// Caller owns the slab.
    pub(crate) unsafe fn collect_remote(&self) -> u32 {
        match self.take_remote() {
            // SAFETY: owner (caller contract); the chain is ours.
            Some((h, t, n)) => unsafe {
                self.splice_free(h, t, n);
                n
            },
            None => 0,
        }
    }

    /// Take the whole remote list: `(head, tail, count)`.
    fn take_remote(&self) -> Option<(*mut Block, *mut Block, u32)> {
        let head = self.remote.take_all();
        if head.is_null() {
            return None;
        }
        let (mut tail, mut n) = (head, 1u32);
        // SAFETY: the chain is ours after take_all: blocks freed by other threads.
        unsafe {
            while !(*tail).next.is_null() {
                tail = (*tail).next;
                n += 1;
            }
        }
        Some((head, tail, n))
    }

    /// Put a chain of `n` returned blocks on the local free list.
    ///
    /// # Safety
    /// Caller owns the slab and the chain (blocks of this slab, handed out before).
    unsafe fn splice_free(&self, head: *mut Block, tail: *mut Block, n: u32) {
        // SAFETY: caller contract.
        unsafe {
            self.local(|l| {
                if n > l.used {
                    crate::out::fatal("double free (remote) detected in slab", head as *const u8);
                }
                (*tail).next = l.free;
                l.free = head;
                l.used -= n;
            })
        }
    }

    /// Take up to `max` blocks as a null-terminated chain. Returns (head, count).
    ///
    /// # Safety
    /// Caller owns the slab.
    pub(crate) unsafe fn take(&self, max: u32) -> (*mut Block, u32) {
        // SAFETY: owner-only state and the slab's own free blocks.
        unsafe {
            if self.local(|l| l.free.is_null()) {
                if let Some((h, t, n)) = self.take_remote() {
                    // A modest remote chain goes straight to the caller: one
                    // walk, and `used` is unchanged (collected and re-taken).
                    if n <= max.saturating_mul(2) {
                        return (h, n);
                    }
                    self.splice_free(h, t, n);
                }
            }
            self.local(|l| {
                let mut head: *mut Block = core::ptr::null_mut();
                let mut n = 0u32;
                // From the free list: detach up to `max`.
                if !l.free.is_null() {
                    head = l.free;
                    let mut tail = head;
                    n = 1;
                    while n < max && !(*tail).next.is_null() {
                        tail = (*tail).next;
                        n += 1;
                    }
                    l.free = (*tail).next;
                    (*tail).next = core::ptr::null_mut();
                }
                // Only when nothing was recycled, carve fresh blocks: reusing
                // returned (cache-warm) blocks first keeps the footprint small.
                if n == 0 {
                    let bs = l.bsize as usize;
                    while n < max && l.bump < l.end {
                        let b = l.bump.cast::<Block>();
                        (*b).next = head;
                        head = b;
                        l.bump = l.bump.wrapping_add(bs);
                        n += 1;
                    }
                }
                l.used += n;
                (head, n)
            })
        }
    }

    /// One never-used block from the bump region if that region is known to
    /// be zero (see [`SlabLocal::zero_tail`]); its link word is not written,
    /// so the whole block reads as zero. Null otherwise.
    ///
    /// # Safety
    /// Caller owns the slab.
    pub(crate) unsafe fn carve_zeroed(&self) -> *mut u8 {
        // SAFETY: owner-only state.
        unsafe {
            self.local(|l| {
                if !l.zero_tail || l.bump >= l.end {
                    return core::ptr::null_mut();
                }
                let b = l.bump;
                l.bump = l.bump.wrapping_add(l.bsize as usize);
                l.used += 1;
                b
            })
        }
    }

    /// Whether `take` could still serve a block: recycled, remote or fresh.
    ///
    /// # Safety
    /// Caller owns the slab.
    pub(crate) unsafe fn has_blocks(&self) -> bool {
        // SAFETY: owner-only state.
        unsafe { self.local(|l| !l.free.is_null() || l.bump < l.end) || !self.remote.is_empty() }
    }

    /// Return a block freed by the owner. Returns `used` afterwards.
    ///
    /// # Safety
    /// Caller owns the slab; `b` is a block of it that was handed out.
    #[inline]
    pub(crate) unsafe fn free_local(&self, b: *mut Block) -> u32 {
        // SAFETY: owner-only state; `b` is ours again.
        unsafe {
            self.local(|l| {
                let off = b as usize & (crate::config::SLAB_SIZE - 1);
                if l.used == 0 || (b as usize) >= l.bump as usize || off % l.bsize as usize != 0 {
                    crate::out::fatal(
                        if l.used == 0 { "double free detected" } else { "free of a pointer that is not a block" },
                        b as *const u8,
                    );
                }
                (*b).next = l.free;
                l.free = b;
                l.used -= 1;
                l.used
            })
        }
    }
}
