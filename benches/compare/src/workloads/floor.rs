//! `floor`: the physical limit of an allocator fast path. The same pattern
//! as `fixed`, served by a plain, fully inlined thread-local singly linked
//! free list for ONE size class, refilled by carving 64 KiB chunks taken
//! straight from the system allocator. No size lookup, no atomics, no
//! ownership check: an allocator can only approach this number.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::ptr;

use super::fixed::{self, Blocks, Params};
use super::Workload;
use crate::cli::Args;
use crate::measure::Outcome;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "floor",
    usage: "[ITER=10000] [SIZE=16] [WORKSET=64] [--threads 1]",
    about: "fixed pattern on an inlined thread-local free list for one size class (the fast-path limit)",
    run,
    uses_allocator: false,
};

const CHUNK: usize = 64 * 1024;

struct Node {
    next: *mut Node,
}

thread_local! {
    static HEAD: Cell<*mut Node> = const { Cell::new(ptr::null_mut()) };
    static STRIDE: Cell<usize> = const { Cell::new(0) };
    static CHUNKS: RefCell<Vec<(*mut u8, Layout)>> = const { RefCell::new(Vec::new()) };
}

/// The thread-local free list (one size class per thread until [`release`]).
pub struct Floor;

impl Blocks for Floor {
    #[inline(always)]
    unsafe fn get(size: usize) -> *mut u8 {
        HEAD.with(|head| {
            let p = head.get();
            if !p.is_null() {
                // SAFETY: `p` is a free block on this thread's list, so it
                // holds a valid `Node`.
                head.set(unsafe { (*p).next });
                p.cast()
            } else {
                refill(size)
            }
        })
    }

    #[inline(always)]
    unsafe fn put(p: *mut u8, _size: usize) {
        HEAD.with(|head| {
            let node = p.cast::<Node>();
            // SAFETY: the caller returns a block of this list's class, which
            // is at least a `Node` large and aligned and no longer in use.
            unsafe { node.write(Node { next: head.get() }) };
            head.set(node);
        })
    }
}

/// Slow path: carves a new chunk into blocks, keeps all but one on the list.
#[cold]
#[inline(never)]
fn refill(size: usize) -> *mut u8 {
    let stride = size.max(std::mem::size_of::<Node>()).next_multiple_of(std::mem::align_of::<Node>());
    let known = STRIDE.with(|s| s.replace(stride));
    assert!(known == 0 || known == stride, "floor serves one size class per thread");
    let bytes = CHUNK.max(stride * 16);
    let layout = Layout::from_size_align(bytes, 64).expect("chunk layout");
    // SAFETY: `layout` has a non-zero size.
    let base = unsafe { System.alloc(layout) };
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    CHUNKS.with(|c| c.borrow_mut().push((base, layout)));
    let count = bytes / stride;
    let mut list = ptr::null_mut::<Node>();
    for i in (1..count).rev() {
        // SAFETY: block `i` lies inside the chunk and is `Node`-aligned.
        let node = unsafe { base.add(i * stride) }.cast::<Node>();
        // SAFETY: `node` points to unused chunk memory.
        unsafe { node.write(Node { next: list }) };
        list = node;
    }
    HEAD.with(|h| h.set(list));
    base
}

/// Drops this thread's list and returns its chunks to the system.
pub fn release() {
    HEAD.with(|h| h.set(ptr::null_mut()));
    STRIDE.with(|s| s.set(0));
    let chunks = CHUNKS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    for (base, layout) in chunks {
        // SAFETY: each chunk came from `System.alloc(layout)` in `refill`;
        // the list that pointed into it was dropped above.
        unsafe { System.dealloc(base, layout) };
    }
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let p = Params::parse(&mut args, 16, 64)?;
    args.finish()?;
    let out = crate::measure::run_threads(p.threads, |_| {
        let ops = fixed::fixed_loop::<Floor>(p.iters, p.size, p.workset);
        release();
        ops
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_reuses_blocks() {
        // SAFETY: blocks are returned with the same size on this thread.
        unsafe {
            let a = Floor::get(16);
            Floor::put(a, 16);
            let b = Floor::get(16);
            assert_eq!(a, b);
            Floor::put(b, 16);
        }
        release();
    }
}
