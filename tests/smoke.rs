//! Smoke test: a heap value on the mock page source serves many sizes.
#![cfg(not(any(feature = "loom", feature = "shuttle")))]

use hakmem_alloc::{Heap, MockPages, ThreadCache};
use std::alloc::Layout;

#[test]
fn smoke_alloc_free_many_sizes() {
    let heap = Heap::new(MockPages::new());
    let mut tc = ThreadCache::new();
    let mut v = Vec::new();
    for i in 0..20000usize {
        let size = 1 + (i * 37) % 40000;
        let l = Layout::from_size_align(size, 8).unwrap();
        let p = unsafe { heap.alloc(&mut tc, l) };
        assert!(!p.is_null());
        unsafe { p.write_bytes((i & 0xff) as u8, size) };
        v.push((p, l, i));
    }
    for (p, l, i) in v {
        unsafe {
            assert_eq!(*p, (i & 0xff) as u8);
            assert_eq!(*p.add(l.size() - 1), (i & 0xff) as u8);
            heap.dealloc(&mut tc, p, l);
        }
    }
    unsafe { heap.thread_exit(&mut tc) };
    let s = heap.stats();
    eprintln!("{:?}", s.pool);
}
