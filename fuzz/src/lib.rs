//! Shared code of the hakmem-alloc fuzz campaigns (`cargo +nightly fuzz run <target>`).
//!
//! The fuzz targets in `fuzz_targets/` are thin libFuzzer entry points; all the
//! logic lives here so that `tests/` can replay the seed corpus and every saved
//! crash input on stable `cargo test`, without libFuzzer:
//!
//! * [`ops`]: the operation language of `heap_ops` and `global_ops` and its
//!   byte format (documented there, so seeds and regressions can be written
//!   by hand and read back with `cargo fuzz fmt`);
//! * [`shadow`]: the shadow map of live blocks and the fill patterns;
//! * [`driver`]: runs an op sequence against any [`driver::Target`], checking
//!   every result against the shadow map;
//! * [`heap_ops`] / [`global_ops`]: the two targets (`Heap<MockPages>` with two
//!   thread caches; `HakMem` as the process's global allocator with real threads);
//! * [`pool_ops`]: the shared pool against a reference model;
//! * [`size_class`]: the size-class tables;
//! * [`seeds`]: hand-written seed inputs (written to `corpus-seed/` by
//!   `cargo run --example gen_seeds`).

pub mod bytes;
pub mod driver;
pub mod global_ops;
pub mod heap_ops;
pub mod ops;
pub mod pool_ops;
pub mod seeds;
pub mod shadow;
pub mod size_class;

/// Make glibc serve the mock page source's multi-MiB `calloc`s with fresh
/// `mmap`s (zero pages, nothing touched) instead of recycling heap memory and
/// `memset`ting 4 MiB per SuperSlab, which otherwise dominates a run. A fixed
/// threshold also stops glibc's dynamic threshold from creeping up. Called
/// once per process by the targets that build a `MockPages`; no effect under
/// ASan (its allocator maps large chunks anyway).
pub fn tune_malloc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes glibc tunables; any value is accepted.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    });
}
