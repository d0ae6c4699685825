//! Untrusted pointers: what a pointer that arrives without a size (C `free`,
//! `realloc`, `malloc_usable_size`, [`HakMem::usable_size`](crate::HakMem))
//! is, found from the pointer alone.
//!
//! First the page map's class table (two loads): a non-zero byte is the class
//! of an active slab, and a pointer on a block boundary of that class is a
//! small block of it, which is all the full check below would prove. Any
//! other pointer takes the full check.
//!
//! A pointer inside a live SuperSlab (the page map says so) is a small
//! block: its slot must be active and the pointer must be a block boundary of
//! the slab's class (read from the slab, which any thread may do while one of
//! its blocks is live). Any other pointer must be a large block: page
//! aligned, with our header in the page before it; for pointers from C the
//! header page is first checked to be mapped, so a foreign pointer aborts
//! with one line instead of faulting. Anything else is
//! `hakmem: invalid free at 0x...`.

use crate::config::{PAGE_SIZE, SLAB_SIZE};
use crate::heap::Heap;
use crate::platform::PageSource;
use crate::size_class::{CLASS_SIZES, NUM_CLASSES};

/// Per class: `magic = ceil(2^64 / size)` and the offset of the slab's last
/// block. `off` (below 2^32) is a multiple of `size` iff `off * magic <
/// magic` (wrapping; Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation"), so the block-boundary check is one multiply and two
/// independent compares (no division, no dependent second multiply).
#[derive(Clone, Copy)]
struct Boundary {
    magic: u64,
    last: u64,
}

static BOUNDARY: [Boundary; NUM_CLASSES] = {
    let mut b = [Boundary { magic: 0, last: 0 }; NUM_CLASSES];
    let mut c = 0;
    while c < NUM_CLASSES {
        let size = CLASS_SIZES[c] as u64;
        b[c] = Boundary { magic: u64::MAX / size + 1, last: (SLAB_SIZE as u64 / size - 1) * size };
        c += 1;
    }
    b
};
const _: () = assert!((SLAB_SIZE as u64) < 1 << 32, "the divisibility test needs 32-bit offsets");

/// Whether `off` (an offset inside a slab) starts a block of class `c`
/// (false for a class out of range).
#[inline]
fn on_boundary(off: usize, c: usize) -> bool {
    let Some(b) = BOUNDARY.get(c) else { return false };
    let off = off as u64;
    off.wrapping_mul(b.magic) < b.magic && off <= b.last
}

/// What an untrusted pointer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A block of this size class.
    Small(usize),
    /// A large block (validate further with the large manager).
    Large,
}

/// Classify `p` (non-null), aborting with `hakmem: invalid free at <p>` if it
/// cannot be a block of `heap`. With `probe`, the header page of a would-be
/// large block is checked to be mapped before it is read.
#[inline]
pub(crate) fn classify<P: PageSource>(heap: &Heap<P>, p: *const u8, probe: bool) -> Kind {
    // The byte is non-zero only between the CAS that activated the slot for
    // this class and the clear before the CAS that releases it, so for a
    // boundary pointer the answer is the one `classify_full` would give. A
    // caller freeing a live block synchronised with the block's allocation,
    // which came after the byte was set, and the slot cannot be released
    // while the block is live: it always sees the byte.
    let v = heap.pool().active_class(p);
    if v != 0 {
        let c = v as usize - 1;
        if on_boundary(p as usize & (SLAB_SIZE - 1), c) {
            return Kind::Small(c);
        }
    }
    classify_full(heap, p, probe)
}

/// [`classify`] from the SuperSlab's record: large blocks, misuse, and small
/// blocks whose class byte was not (yet) seen.
#[cold]
#[inline(never)]
fn classify_full<P: PageSource>(heap: &Heap<P>, p: *const u8, probe: bool) -> Kind {
    let Some((m, slot)) = heap.pool().lookup(p) else {
        let a = p as usize;
        if a % PAGE_SIZE != 0 || a < PAGE_SIZE || (probe && !header_mapped(a - PAGE_SIZE)) {
            invalid(p);
        }
        return Kind::Large;
    };
    let meta = heap.pool().meta(m);
    if meta.word().active() & (1 << slot) == 0 {
        invalid(p);
    }
    let s = heap.pool().slab(m, slot);
    // The slot is active, so its class was set when it was acquired; a
    // caller that frees a live block of it synchronised with that.
    let c = s.class();
    if !on_boundary(p as usize & (SLAB_SIZE - 1), c) {
        invalid(p);
    }
    Kind::Small(c)
}

#[cfg(unix)]
fn header_mapped(a: usize) -> bool {
    crate::platform::is_mapped(a as *const u8)
}

#[cfg(not(unix))]
fn header_mapped(_: usize) -> bool {
    true
}

#[cold]
fn invalid(p: *const u8) -> ! {
    crate::out::fatal("invalid free", p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_class::class_size;

    /// The class table's rule through the pool's acquire and release: a
    /// byte is `class + 1` exactly while the slab is active for that class,
    /// over the whole slab and no further, and a SuperSlab retired and taken
    /// again (same address) for another class reads the new class.
    #[cfg(not(any(feature = "loom", feature = "shuttle")))]
    #[test]
    fn class_table_follows_acquire_and_release() {
        use crate::options::Options;
        use crate::platform::MockPages;
        use crate::pool::Pool;
        let pool = Pool::new(MockPages::new(), Options::DEFAULT);
        let a = pool.acquire(3).unwrap();
        let b = pool.acquire(5).unwrap();
        assert_eq!(b.meta, a.meta);
        for (s, c) in [(a, 4), (b, 6)] {
            assert_eq!(pool.active_class(s.base), c);
            assert_eq!(pool.active_class(s.base.wrapping_add(SLAB_SIZE - 1)), c);
        }
        // Never-activated slots, and addresses nowhere near a SuperSlab.
        let ss = a.base.wrapping_sub(a.slot as usize * SLAB_SIZE);
        assert_eq!(pool.active_class(ss.wrapping_add(5 * SLAB_SIZE)), 0);
        assert_eq!(pool.active_class(core::ptr::null()), 0);
        assert_eq!(pool.active_class(core::ptr::null::<u8>().wrapping_sub(1)), 0);
        // SAFETY: both slots are ours and unused.
        unsafe { pool.release(a.meta, a.slot, 3) };
        assert_eq!(pool.active_class(a.base), 0);
        assert_eq!(pool.active_class(b.base), 6);
        // SAFETY: as above.
        unsafe { pool.release(b.meta, b.slot, 5) };
        assert_eq!(pool.stats().retired, 1);
        // The cached SuperSlab comes back for another class.
        let c = pool.acquire(7).unwrap();
        assert_eq!((c.base, c.stage), (a.base, crate::pool::Stage::Map));
        assert_eq!(pool.active_class(c.base), 8);
        assert_eq!(pool.active_class(b.base), 0);
        // SAFETY: ours and unused.
        unsafe { pool.release(c.meta, c.slot, 7) };
        assert_eq!(pool.active_class(c.base), 0);
    }

    #[test]
    fn boundary_check_agrees_with_division_for_every_class_and_offset() {
        // Every offset natively; a sample under Miri (4.8 M checks are hours there).
        let step = if cfg!(miri) { 509 } else { 1 };
        for c in 0..NUM_CLASSES {
            let size = class_size(c);
            for off in (0..SLAB_SIZE).step_by(step) {
                assert_eq!(on_boundary(off, c), off % size == 0 && off + size <= SLAB_SIZE, "class {c} offset {off}");
            }
        }
        assert!(!on_boundary(0, NUM_CLASSES) && !on_boundary(0, usize::MAX));
    }
}
