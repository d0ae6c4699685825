//! `libhakmem.so`: the C malloc API of `hakmem-alloc` (`malloc`, `free`,
//! `calloc`, `realloc`, the aligned family, `malloc_usable_size`, C23
//! `free_sized`, glibc's `__libc_*` names, `malloc_trim`, `mallopt`,
//! `mallinfo2`), for `LD_PRELOAD=target/release/libhakmem.so program` or
//! linking with `-lhakmem`. Built by `cargo build --release -p hakmem-capi`.
//!
//! The semantics live in `hakmem_alloc::capi`; this crate only exports them
//! (and makes Rust's own allocations inside the library use the same heap).
//! Panics cannot cross the exports: every export is `extern "C"`, where an
//! unwinding panic aborts the process.

#[global_allocator]
static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;

hakmem_alloc::export_c_api!();
