//! `bench_random_mixed ITER [--alloc A] [--threads N] [--ws WORKSET]
//! [--seed S]`: the seed's random-size benchmark (see
//! `workloads::random_mixed`).

use hakmem_bench::{cli, workloads};

/// The runtime allocator switch (`--alloc NAME`, see `hakmem_bench::dispatch`).
#[global_allocator]
static GLOBAL: hakmem_bench::dispatch::Dispatch = hakmem_bench::dispatch::Dispatch;

fn main() {
    cli::exit_on_error(cli::start().and_then(|(args, alloc)| workloads::run_program("random_mixed", args, alloc)));
}
