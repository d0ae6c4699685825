//! `child_jemalloc WORKLOAD [args]`: one workload on jemalloc, installed
//! statically as the `#[global_allocator]` (no runtime switch on the
//! allocation path). `compare` runs these; see `hakmem_bench::cli::child_main`.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    hakmem_bench::cli::child_main(hakmem_bench::dispatch::Alloc::Jemalloc);
}
