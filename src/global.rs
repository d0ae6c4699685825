//! `HakMem`: placeholder forwarding to the system allocator until the heap lands.
use std::alloc::{GlobalAlloc, Layout, System};
/// The global allocator.
pub struct HakMem;
unsafe impl GlobalAlloc for HakMem {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { System.alloc(l) }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { System.dealloc(p, l) }
}
