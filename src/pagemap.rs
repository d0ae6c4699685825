//! The page map: which 2 MiB chunk of the address space is a live SuperSlab,
//! and which registry record describes it; and, per slab, the size class it
//! is active for. Lets `free` tell our pointers from foreign ones and find a
//! block's slab (or straight away its class) without touching the block.
//!
//! Two levels over a 47-bit address space: an inline top array of 8192 leaf
//! pointers and leaves mapped on demand from the page source (never from the
//! allocator), kept until the owning heap is dropped. A leaf covers 16 GiB:
//! * one entry per 2 MiB chunk holding `record index + 1`, 0 for "not ours";
//! * one byte per slab holding `class + 1` while the slab is active for that
//!   class, 0 otherwise (the *class table*). The pool writes the byte right
//!   after the CAS that activates the slot and clears it right before the CAS
//!   that releases it, so a non-zero byte is always the class of an active
//!   slab: C's `free` finds a block's class with two dependent loads (top,
//!   byte) instead of five (top, entry, record segment, active word, slab
//!   class). A zero byte proves nothing (the slab may be activating): the
//!   caller falls back to the record.
//!
//! 72 pages per leaf, of which the untouched ones never become resident (one
//! page of the class table covers 256 MiB of address space).

use crate::config::{SLAB_SHIFT, SLOTS, SUPERSLAB_SHIFT};
use crate::platform::PageSource;
use crate::size_class::NUM_CLASSES;
use crate::sync::unmodeled::{AtomicPtr, AtomicU32, AtomicU8, Ordering};

const ADDR_BITS: u32 = 47;
const LEAF_BITS: u32 = 13;
const TOP_BITS: u32 = ADDR_BITS - SUPERSLAB_SHIFT - LEAF_BITS;
const LEAF: usize = 1 << LEAF_BITS;
const TOP: usize = 1 << TOP_BITS;
/// Slabs per leaf (the class table's entries).
const LEAF_SLABS: usize = LEAF * SLOTS;
const LEAF_BYTES: usize = core::mem::size_of::<Leaf>();

const _: () = assert!(NUM_CLASSES < u8::MAX as usize, "class + 1 fits a byte");
const _: () = assert!(LEAF_BYTES % crate::config::PAGE_SIZE == 0);

/// One leaf; all-zero bytes are a valid empty leaf (fresh mappings are zero).
#[repr(C)]
struct Leaf {
    /// Per chunk: record index + 1, or 0.
    chunks: [AtomicU32; LEAF],
    /// Per slab: class + 1 while active for it, or 0.
    classes: [AtomicU8; LEAF_SLABS],
}

/// Address -> SuperSlab record map.
pub struct PageMap {
    top: [AtomicPtr<Leaf>; TOP],
}

impl PageMap {
    /// An empty map.
    pub fn new() -> Self {
        // A const array, not `array::from_fn`: under Miri's borrow tracker
        // from_fn over 8192 interior-mutable elements takes minutes.
        Self { top: [const { AtomicPtr::new(core::ptr::null_mut()) }; TOP] }
    }

    #[inline]
    fn split(addr: usize) -> Option<(usize, usize)> {
        let chunk = addr >> SUPERSLAB_SHIFT;
        let hi = chunk >> LEAF_BITS;
        (hi < TOP).then_some((hi, chunk & (LEAF - 1)))
    }

    /// Index of the slab containing `addr` in its leaf's class table.
    #[inline]
    fn slab_index(addr: usize) -> usize {
        (addr >> SLAB_SHIFT) & (LEAF_SLABS - 1)
    }

    /// Record index + 1 of the SuperSlab containing `addr`, or 0.
    #[inline]
    pub fn get(&self, addr: usize) -> u32 {
        let Some((hi, lo)) = Self::split(addr) else { return 0 };
        let leaf = self.top[hi].load(Ordering::Acquire);
        if leaf.is_null() {
            return 0;
        }
        // SAFETY: published leaves are initialised (zeroed) and live until drop.
        unsafe { (*leaf).chunks[lo].load(Ordering::Acquire) }
    }

    /// `class + 1` if the slab containing `addr` is active for `class`; 0 if
    /// it is not, or not known to be (see the module docs).
    #[inline]
    pub fn class(&self, addr: usize) -> u8 {
        let Some((hi, _)) = Self::split(addr) else { return 0 };
        let leaf = self.top[hi].load(Ordering::Acquire);
        if leaf.is_null() {
            return 0;
        }
        // SAFETY: published leaves are initialised (zeroed) and live until drop.
        unsafe { (*leaf).classes[Self::slab_index(addr)].load(Ordering::Acquire) }
    }

    /// Set the class byte of the slab at `addr` to `value` (`class + 1`, or 0
    /// to clear). The slab's chunk must have been [`set`](Self::set) (so its
    /// leaf exists); otherwise nothing is written, which readers take as "not
    /// known". The caller keeps the byte's rule: non-zero only while the
    /// slab is active for that class.
    #[inline]
    pub fn set_class(&self, addr: usize, value: u8) {
        let Some((hi, _)) = Self::split(addr) else { return };
        let leaf = self.top[hi].load(Ordering::Acquire);
        if !leaf.is_null() {
            // SAFETY: published leaves are initialised (zeroed) and live until drop.
            unsafe { (*leaf).classes[Self::slab_index(addr)].store(value, Ordering::Release) };
        }
    }

    /// Map the chunk at `base` to `value` (record index + 1, or 0 to clear).
    /// Callers serialise setters (the pool's backend lock). False if the
    /// address is outside the map or a leaf could not be mapped.
    pub fn set<P: PageSource>(&self, pages: &P, base: usize, value: u32) -> bool {
        let Some((hi, lo)) = Self::split(base) else { return false };
        let mut leaf = self.top[hi].load(Ordering::Acquire);
        if leaf.is_null() {
            if value == 0 {
                return true;
            }
            leaf = pages.map(LEAF_BYTES, crate::config::PAGE_SIZE).cast();
            if leaf.is_null() {
                return false;
            }
            // Zeroed memory is a valid `Leaf`: every entry and class byte 0.
            self.top[hi].store(leaf, Ordering::Release);
        }
        // SAFETY: the leaf is live and initialised (see above).
        unsafe { (*leaf).chunks[lo].store(value, Ordering::Release) };
        true
    }

    /// Give all leaves back.
    ///
    /// # Safety
    /// No lookups may follow, and `pages` must be the source used by `set`.
    pub unsafe fn destroy<P: PageSource>(&mut self, pages: &P) {
        for t in &self.top {
            let leaf = t.swap(core::ptr::null_mut(), Ordering::Relaxed);
            if !leaf.is_null() {
                // SAFETY: mapped by `set` with LEAF_BYTES and unused from now on.
                unsafe { pages.unmap(leaf.cast(), LEAF_BYTES) };
            }
        }
    }
}

impl Default for PageMap {
    fn default() -> Self {
        Self::new()
    }
}
