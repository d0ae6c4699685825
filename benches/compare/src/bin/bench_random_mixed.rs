//! `bench_random_mixed ITER [--alloc A] [--threads N] [--ws WORKSET]
//! [--seed S]`: the seed's random-size benchmark (see
//! `workloads::random_mixed`). The allocator switch is installed by the
//! `hakmem_bench` library.

use hakmem_bench::{cli, workloads};

fn main() {
    cli::exit_on_error(cli::start().and_then(|(args, alloc)| workloads::run_program("random_mixed", args, alloc)));
}
