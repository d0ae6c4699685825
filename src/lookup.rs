//! Untrusted pointers: what a pointer that arrives without a size (C `free`,
//! `realloc`, `malloc_usable_size`, [`HakMem::usable_size`](crate::HakMem))
//! is, found from the pointer alone.
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
use crate::size_class::class_size;

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
pub(crate) fn classify<P: PageSource>(heap: &Heap<P>, p: *const u8, probe: bool) -> Kind {
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
    // SAFETY: the slot is active, so its class was set when it was acquired;
    // a caller that frees a live block of it synchronised with that.
    let c = unsafe { s.class_shared() };
    let off = p as usize & (SLAB_SIZE - 1);
    let size = class_size(c);
    if off % size != 0 || off + size > SLAB_SIZE {
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
