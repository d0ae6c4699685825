//! `child_mimalloc WORKLOAD [args]`: one workload on mimalloc, installed
//! statically as the `#[global_allocator]` (no runtime switch on the
//! allocation path). `compare` runs these; see `hakmem_bench::cli::child_main`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    hakmem_bench::cli::child_main(hakmem_bench::dispatch::Alloc::Mimalloc);
}
