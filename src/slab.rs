//! One slab: a 64 KiB slot of a SuperSlab serving a single size class.
//!
//! Blocks are carved lazily from a bump region, recycled through an owner-only
//! intrusive free list, and come back from other threads through a
//! [`RemoteList`]. The bookkeeping lives in the registry record (never in the
//! SuperSlab itself), so a stray write into user memory cannot corrupt it and
//! a retired SuperSlab leaves no dangling metadata behind.

pub use crate::block::Block;
use crate::block::{next, set_next};
use crate::config::SLAB_SIZE;
use crate::platform::PageSource;
use crate::pool::Acquired;
use crate::remote::RemoteList;
use crate::size_class::{class_size, CLASS_SIZES, NUM_CLASSES};
use crate::sync::{AtomicU32, AtomicUsize, Ordering, UnsafeCell};

/// Per class, `ceil(2^64 / size)`: `off` (below 2^32) is a multiple of the
/// class size iff `off * M < M` (wrapping; Lemire, Kaser and Kurz,
/// "Faster remainder by direct computation"), a multiply instead of a divide.
static DIV_MAGIC: [u64; NUM_CLASSES] = {
    let mut m = [0u64; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        m[c] = u64::MAX / CLASS_SIZES[c] as u64 + 1;
        c += 1;
    }
    m
};

/// Whether `p` sits on a block boundary of a class-`c` slab (slabs are
/// `SLAB_SIZE`-aligned and start with a block).
#[inline(always)]
pub(crate) fn on_block_boundary(p: *const u8, c: usize) -> bool {
    let off = (p as usize & (SLAB_SIZE - 1)) as u64;
    let m = match DIV_MAGIC.get(c) {
        Some(&m) => m,
        None => return false,
    };
    off.wrapping_mul(m) < m
}

/// The owner id of an orphaned slab: its owner parked it full and gave it
/// up (the orphan bit on its remote list says so; see `heap_reclaim`). No
/// cache has this id (ids count up from 1).
pub(crate) const ORPHANED: usize = usize::MAX;

/// Which owner-side list a slab is on. `#[repr(u8)]` with `None` = 0, so
/// that a zeroed [`Slab`] reads `None` (see [`Slab::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ListTag {
    None = 0,
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
    /// End of the part of the slab [`Slab::carve_zeroed`] has pre-faulted
    /// (page aligned; the slab's base until its first zeroed carve).
    pub populated: *mut u8,
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
    /// The slab's size class plus one, readable by any thread (the `secure`
    /// build's dealloc check, the page-map lookup); set when the slab is
    /// acquired, 0 before (so that a zeroed `Slab` reads unset).
    class: AtomicU32,
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
    /// A slab that was never acquired. Every field is zero (null, false,
    /// [`ListTag::None`]): outside the loom and shuttle models, whose atomics
    /// are not plain integers, zeroed memory is such a slab, which lets the
    /// registry leave fresh records untouched (see
    /// [`crate::arena::Record::FRESH_IS_ZERO`]); a test in `src/pool/meta.rs`
    /// checks it.
    pub(crate) fn new() -> Self {
        Slab {
            owner: AtomicUsize::new(0),
            class: AtomicU32::new(0),
            remote: RemoteList::new(),
            local: LocalLine(UnsafeCell::new(SlabLocal {
                free: core::ptr::null_mut(),
                bump: core::ptr::null_mut(),
                end: core::ptr::null_mut(),
                used: 0,
                zero_tail: false,
                populated: core::ptr::null_mut(),
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

    /// Owner id (0 = none / abandoned, [`ORPHANED`] = given up while full).
    #[inline]
    pub fn owner(&self) -> usize {
        self.owner.load(Ordering::Relaxed)
    }

    /// The size class of the blocks the slab was last set up for (any
    /// thread); `u32::MAX` (not a class) if it was never set up.
    #[inline]
    pub(crate) fn class(&self) -> usize {
        self.class.load(Ordering::Relaxed).wrapping_sub(1) as usize
    }

    /// Whether blocks wait on this slab's remote list while it is orphaned
    /// (never true at a quiescent point; the models check it).
    #[cfg(feature = "internals")]
    pub fn stranded(&self) -> bool {
        self.remote.stranded()
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
                l.populated = a.base;
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
        self.class.store(class as u32 + 1, Ordering::Relaxed);
        self.set_owner(owner);
    }

    /// Move remote frees onto the local free list. Returns how many.
    ///
    /// # Safety
    /// Caller owns the slab.
    pub(crate) unsafe fn collect_remote(&self) -> u32 {
        // SAFETY: owner (caller contract).
        match unsafe { self.take_remote() } {
            // SAFETY: owner (caller contract); the chain is ours.
            Some((h, t, n)) => unsafe {
                self.splice_free(h, t, n);
                n
            },
            None => 0,
        }
    }

    /// Take the whole remote list: `(head, tail, count)`. Every link is
    /// checked to stay inside this slab, and the walk stops with `fatal` once
    /// it has seen more blocks than the slab has handed out (a cycle from a
    /// cross-thread double free, or a corrupted link), so it cannot spin.
    ///
    /// # Safety
    /// Caller owns the slab.
    unsafe fn take_remote(&self) -> Option<(*mut Block, *mut Block, u32)> {
        let head = self.remote.take_all();
        if head.is_null() {
            return None;
        }
        // SAFETY: owner (caller contract); the chain is ours after take_all.
        Some(unsafe { self.walk_remote(head) })
    }

    /// Put a chain taken from the remote list (by a claim of an orphaned
    /// slab) on the local free list, checked as [`Slab::collect_remote`] does.
    ///
    /// # Safety
    /// Caller owns the slab and the non-null chain at `head` (blocks of this
    /// slab freed by other threads).
    pub(crate) unsafe fn splice_remote(&self, head: *mut Block) {
        // SAFETY: caller contract.
        unsafe {
            let (h, t, n) = self.walk_remote(head);
            self.splice_free(h, t, n);
        }
    }

    /// Walk a remote chain: `(head, tail, count)`, every link checked, the
    /// walk bounded by the blocks handed out (see [`Slab::take_remote`]).
    ///
    /// # Safety
    /// Caller owns the slab and the non-null chain at `head`.
    unsafe fn walk_remote(&self, head: *mut Block) -> (*mut Block, *mut Block, u32) {
        // SAFETY: owner (caller contract); blocks of this slab freed by other
        // threads, each link checked before it is followed.
        unsafe {
            self.local(|l| {
                check_link(l, head, head);
                let (mut tail, mut n) = (head, 1u32);
                loop {
                    if n > l.used {
                        crate::out::fatal("double free detected", tail as *const u8);
                    }
                    let nx = next(tail);
                    if nx.is_null() {
                        break;
                    }
                    check_link(l, tail, nx);
                    tail = nx;
                    n += 1;
                }
                (head, tail, n)
            })
        }
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
                    crate::out::fatal("double free detected", head as *const u8);
                }
                set_next(tail, l.free);
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
                    let mut nx = next(tail);
                    while n < max && !nx.is_null() {
                        check_link(l, tail, nx);
                        tail = nx;
                        nx = next(tail);
                        n += 1;
                    }
                    if !nx.is_null() {
                        check_link(l, tail, nx);
                    }
                    l.free = nx;
                    set_next(tail, core::ptr::null_mut());
                    if n > SLAB_SIZE as u32 / l.bsize - l.used {
                        crate::out::fatal("double free detected", head as *const u8);
                    }
                }
                // Only when nothing was recycled, carve fresh blocks: reusing
                // returned (cache-warm) blocks first keeps the footprint small.
                if n == 0 {
                    let bs = l.bsize as usize;
                    if crate::mitigations::RANDOMIZE_FREE_LIST {
                        head = carve_shuffled(l, max, &mut n);
                    } else {
                        // In address order, lowest first: the blocks go out
                        // in chain order, and a program that fills each
                        // block it gets then writes memory as forward
                        // streams, which the hardware prefetches (a
                        // descending order made the `calloc` case's clears
                        // ~1.5x slower on the same addresses).
                        let k = (max as usize).min((l.end as usize).saturating_sub(l.bump as usize) / bs);
                        if k > 0 {
                            head = l.bump.cast::<Block>();
                            for i in 0..k - 1 {
                                let b = l.bump.wrapping_add(i * bs).cast::<Block>();
                                set_next(b, b.cast::<u8>().wrapping_add(bs).cast());
                            }
                            set_next(l.bump.wrapping_add((k - 1) * bs).cast(), core::ptr::null_mut());
                            l.bump = l.bump.wrapping_add(k * bs);
                            n = k as u32;
                        }
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
    /// Where `populate(b)` says so for the carved block `b` (not on a
    /// huge-page SuperSlab, whose first touch maps 2 MiB), its pages are
    /// mapped in for writing first (`pages.prefault`), together with a
    /// window ahead as large as what the
    /// slab has carved before it: a program that reads a zeroed block before
    /// writing it (a `calloc`'d buffer checked, then filled) then takes no
    /// page fault at all instead of two per page (the shared zero page, then
    /// the copy), and a slab used for one block populates only that block's
    /// pages. The pre-faulted part of a slab stays within twice the bytes
    /// carved from it (plus one page), and within the slab.
    ///
    /// # Safety
    /// Caller owns the slab, and `pages` is the source of its SuperSlab.
    pub(crate) unsafe fn carve_zeroed<P: PageSource>(
        &self,
        pages: &P,
        populate: impl FnOnce(*mut u8) -> bool,
    ) -> *mut u8 {
        // SAFETY: owner-only state.
        let (b, window) = unsafe {
            self.local(|l| {
                if !l.zero_tail || l.bump >= l.end {
                    return (core::ptr::null_mut(), None);
                }
                let b = l.bump;
                l.bump = l.bump.wrapping_add(l.bsize as usize);
                l.used += 1;
                (b, if populate(b) { populate_window(l, b) } else { None })
            })
        };
        if let Some((start, len)) = window {
            // SAFETY: whole pages between the block's page and the end of
            // the slab's blocks (rounded up to a page, still inside the
            // slab): part of the live SuperSlab of `pages` the caller owns.
            unsafe { pages.prefault(start, len) };
        }
        b
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
                set_next(b, l.free);
                l.free = b;
                l.used -= 1;
                l.used
            })
        }
    }
}

/// The pages to pre-fault for block `b`, just carved zeroed from the slab
/// `l` describes: from the block's first page not yet populated to the end of
/// the block plus as many bytes as were carved before it (rounded up to a
/// page, at most to the page holding the slab's last block). Advances
/// `l.populated`. None if the block's pages are populated already.
fn populate_window(l: &mut SlabLocal, b: *mut u8) -> Option<(*mut u8, usize)> {
    const PAGE: usize = crate::config::PAGE_SIZE;
    let base = b as usize & !(SLAB_SIZE - 1);
    let block_end = b as usize + l.bsize as usize;
    if block_end <= l.populated as usize {
        return None;
    }
    let start = (l.populated as usize).max(b as usize & !(PAGE - 1));
    let limit = (l.end as usize).next_multiple_of(PAGE);
    let want = (block_end + (b as usize - base)).next_multiple_of(PAGE).min(limit);
    // Pointers derived from `b` (keeps its provenance); `start` may lie
    // before the block (its first page) or inside it (a populated prefix).
    l.populated = b.wrapping_add(want - b as usize);
    Some((b.wrapping_offset(start as isize - b as isize), want - start))
}

/// Abort unless `nx`, the link found in block `b` of the slab described by
/// `l`, is a block of the same slab that was carved before: a corrupted link
/// or a foreign block on a slab's list is reported, not followed.
#[inline]
fn check_link(l: &SlabLocal, b: *mut Block, nx: *mut Block) {
    let same_slab = (b as usize ^ nx as usize) < SLAB_SIZE;
    let off = nx as usize & (SLAB_SIZE - 1);
    if !same_slab || off % l.bsize as usize != 0 || nx as usize >= l.bump as usize {
        crate::block::corrupted(b);
    }
}

/// The `secure` build's carving: up to `max` fresh blocks, linked in a
/// random order (mimalloc's secure extend): the range is cut into up to 8
/// slices, and each next block comes from a slice picked by a xorshift
/// state seeded from the secret and the bump pointer. Sets `*n` to the count.
///
/// # Safety
/// `l` is the owner-only state of a slab the caller owns.
unsafe fn carve_shuffled(l: &mut SlabLocal, max: u32, n: &mut u32) -> *mut Block {
    const SLICES: usize = 8;
    let bs = l.bsize as usize;
    let avail = (l.end as usize - l.bump as usize) / bs;
    let k = avail.min(max as usize);
    if k == 0 {
        return core::ptr::null_mut();
    }
    // Slice i covers blocks [start[i], end[i]) of the k.
    let per = k.div_ceil(SLICES);
    let mut next_i = [0usize; SLICES];
    let mut end_i = [0usize; SLICES];
    for i in 0..SLICES {
        next_i[i] = (i * per).min(k);
        end_i[i] = ((i + 1) * per).min(k);
    }
    let base = l.bump;
    let mut x = crate::block::secret_hash(base) | 1;
    let mut head: *mut Block = core::ptr::null_mut();
    let mut tail: *mut Block = core::ptr::null_mut();
    for _ in 0..k {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut s = (x >> 32) as usize % SLICES;
        while next_i[s] == end_i[s] {
            s = (s + 1) % SLICES;
        }
        let b = base.wrapping_add(next_i[s] * bs).cast::<Block>();
        next_i[s] += 1;
        // SAFETY: `b` is a fresh block of this slab, `tail` one linked before.
        unsafe {
            set_next(b, core::ptr::null_mut());
            if head.is_null() {
                head = b;
            } else {
                set_next(tail, b);
            }
        }
        tail = b;
    }
    l.bump = base.wrapping_add(k * bs);
    *n = k as u32;
    head
}
