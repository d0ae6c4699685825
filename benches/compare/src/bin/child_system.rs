//! `child_system WORKLOAD [args]`: one workload on system, installed
//! statically as the `#[global_allocator]` (no runtime switch on the
//! allocation path). `compare` runs these; see `hakmem_bench::cli::child_main`.

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    hakmem_bench::cli::child_main(hakmem_bench::dispatch::Alloc::System);
}
