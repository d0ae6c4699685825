//! `child_hakmem_secure WORKLOAD [args]`: one workload on hakmem built with
//! its `secure` feature, installed statically as the `#[global_allocator]`.
//! Built only with this package's `secure` feature (`compare` builds it in a
//! second cargo invocation, so the plain `child_hakmem` stays plain).

#[global_allocator]
static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;

fn main() {
    hakmem_bench::cli::child_main(hakmem_bench::dispatch::Alloc::Hakmem);
}
