//! `bench_fixed_size ITER SIZE WORKSET [--alloc A] [--threads N]`: the
//! seed's fixed-size benchmark (see `workloads::fixed`).

use hakmem_bench::{cli, workloads};

/// The runtime allocator switch (`--alloc NAME`, see `hakmem_bench::dispatch`).
#[global_allocator]
static GLOBAL: hakmem_bench::dispatch::Dispatch = hakmem_bench::dispatch::Dispatch;

fn main() {
    cli::exit_on_error(cli::start().and_then(|(args, alloc)| workloads::run_program("fixed", args, alloc)));
}
