//! `bench_fixed_size ITER SIZE WORKSET [--alloc A] [--threads N]`: the
//! seed's fixed-size benchmark (see `workloads::fixed`). The allocator
//! switch is installed by the `hakmem_bench` library.

use hakmem_bench::{cli, workloads};

fn main() {
    cli::exit_on_error(cli::start().and_then(|(args, alloc)| workloads::run_program("fixed", args, alloc)));
}
