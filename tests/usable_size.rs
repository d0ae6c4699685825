//! `HakMem::usable_size`: the size of a block from its address alone (page
//! map for small blocks, header for large ones), as C's `malloc_usable_size`.
#![cfg(all(unix, not(any(feature = "loom", feature = "shuttle"))))]

use hakmem_alloc::size_class::{class_of, class_size};
use hakmem_alloc::HakMem;
use std::alloc::{GlobalAlloc, Layout};

#[test]
fn usable_size_from_the_address_alone() {
    // SAFETY: a null pointer is allowed.
    assert_eq!(unsafe { HakMem::usable_size(core::ptr::null()) }, 0);
    for align in [1usize, 8, 16, 64, 4096, 1 << 16] {
        let mut size = 1;
        while size < 3 << 20 {
            let l = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size; the block is freed with the same layout.
            unsafe {
                let p = HakMem.alloc(l);
                assert!(!p.is_null());
                let u = HakMem::usable_size(p);
                match class_of(size, align) {
                    Some(c) => assert_eq!(u, class_size(c), "size {size} align {align}"),
                    // The rest of the mapping, which may be a larger cached one.
                    None => assert!(u >= size, "size {size} align {align}: {u}"),
                }
                // All of it is usable (with `secure`, small blocks keep a
                // canary right after the requested size: only that much).
                let writable = if cfg!(feature = "secure") && class_of(size, align).is_some() { size } else { u };
                core::ptr::write_bytes(p, 0xA5, writable);
                HakMem.dealloc(p, l);
            }
            size = size * 5 / 3 + 1;
        }
    }
}
