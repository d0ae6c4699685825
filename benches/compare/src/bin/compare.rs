//! `compare`: THE benchmark command. Without `--child` it runs every
//! workload case on every allocator (as children: this same executable with
//! `--child WORKLOAD ... --alloc NAME`) and writes the report to
//! `bench-results/`. With `--child` it is one such child.
//! The allocator switch is installed by the `hakmem_bench` library.

use hakmem_bench::{cli, compare, workloads};

fn main() {
    cli::exit_on_error(run());
}

fn run() -> Result<(), String> {
    let (mut args, alloc) = cli::start()?;
    match args.take("child") {
        Some(workload) => workloads::run_program(&workload, args, alloc),
        None => compare::main(args),
    }
}
