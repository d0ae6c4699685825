//! `child_hakmem WORKLOAD [args]`: one workload on hakmem, installed
//! statically as the `#[global_allocator]` (no runtime switch on the
//! allocation path). `compare` runs these; see `hakmem_bench::cli::child_main`.

#[global_allocator]
static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;

fn main() {
    hakmem_bench::cli::child_main(hakmem_bench::dispatch::Alloc::Hakmem);
}
