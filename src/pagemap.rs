//! The page map: which 2 MiB chunk of the address space is a live SuperSlab,
//! and which registry record describes it. Lets `free` tell our pointers from
//! foreign ones and find a block's slab without touching the block.
//!
//! Two levels over a 47-bit address space: an inline top array of 8192 leaf
//! pointers and 32 KiB leaves mapped on demand from the page source (never
//! from the allocator). Leaves are kept until the owning heap is dropped.
//! Entries hold `record index + 1`, 0 for "not ours".

use crate::config::SUPERSLAB_SHIFT;
use crate::platform::PageSource;
use crate::sync::unmodeled::{AtomicPtr, AtomicU32, Ordering};

const ADDR_BITS: u32 = 47;
const LEAF_BITS: u32 = 13;
const TOP_BITS: u32 = ADDR_BITS - SUPERSLAB_SHIFT - LEAF_BITS;
const LEAF: usize = 1 << LEAF_BITS;
const TOP: usize = 1 << TOP_BITS;
const LEAF_BYTES: usize = LEAF * 4;

type Leaf = [AtomicU32; LEAF];

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

    /// Record index + 1 of the SuperSlab containing `addr`, or 0.
    #[inline]
    pub fn get(&self, addr: usize) -> u32 {
        let Some((hi, lo)) = Self::split(addr) else { return 0 };
        let leaf = self.top[hi].load(Ordering::Acquire);
        if leaf.is_null() {
            return 0;
        }
        // SAFETY: published leaves are initialised (zeroed) and live until drop.
        unsafe { (*leaf)[lo].load(Ordering::Acquire) }
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
            // Zeroed memory is a valid array of AtomicU32 zeros.
            self.top[hi].store(leaf, Ordering::Release);
        }
        // SAFETY: the leaf is live and initialised (see above).
        unsafe { (*leaf)[lo].store(value, Ordering::Release) };
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
