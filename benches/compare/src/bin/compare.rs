//! `compare`: THE benchmark command. Without `--child` it runs every
//! workload case on every allocator as a child process (`child_NAME
//! WORKLOAD ...`, one binary per allocator, built on demand; see
//! `hakmem_bench::compare`) and writes the report to `bench-results/`.
//! `--child WORKLOAD ... --alloc NAME` runs one workload in this process,
//! through the runtime switch.

use hakmem_bench::{cli, compare, workloads};

/// The runtime allocator switch (`--alloc NAME`, see `hakmem_bench::dispatch`).
#[global_allocator]
static GLOBAL: hakmem_bench::dispatch::Dispatch = hakmem_bench::dispatch::Dispatch;

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
