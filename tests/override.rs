//! The `override` feature: a Rust program with `HakMem` as its global
//! allocator exports the C malloc symbols too, so C code in the process
//! (here glibc's own `strdup`, and direct `malloc`/`free` calls) uses the
//! same heap: blocks cross between Rust and C in both directions.
//! Run: `cargo test --features override --test override`.

use hakmem_alloc::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

#[test]
fn c_allocations_come_from_the_same_heap() {
    // SAFETY: plain C allocation calls on valid arguments; every block is
    // freed once, by the other side.
    unsafe {
        let p = libc::malloc(100).cast::<u8>();
        assert!(!p.is_null());
        // Aborts ("invalid free") if the block were glibc's.
        assert!(HakMem::usable_size(p) >= 100);
        libc::free(p.cast());

        // glibc's strdup calls malloc internally: it must reach us.
        let s = libc::strdup(c"hello".as_ptr());
        assert!(HakMem::usable_size(s.cast()) >= 6);
        libc::free(s.cast());

        // A Rust allocation freed by C's unsized free, and a C one by Rust.
        let b = Box::into_raw(Box::new([7u8; 3000]));
        libc::free(b.cast());
        let big = libc::calloc(1, 1 << 20).cast::<u8>();
        assert!(HakMem::usable_size(big) >= 1 << 20);
        drop(Vec::from_raw_parts(big, 0, 1 << 20));
    }
}
