//! `workloads NAME [args] [--alloc A]`: runs any single workload by name
//! (`workloads --list` shows them).

use hakmem_bench::{cli, workloads};

/// The runtime allocator switch (`--alloc NAME`, see `hakmem_bench::dispatch`).
#[global_allocator]
static GLOBAL: hakmem_bench::dispatch::Dispatch = hakmem_bench::dispatch::Dispatch;

fn main() {
    cli::exit_on_error(run());
}

fn run() -> Result<(), String> {
    let (mut args, alloc) = cli::start()?;
    if args.take_switch("--help") || args.take_switch("-h") || args.take_switch("--list") {
        print!("usage: workloads NAME [args]\n{}", workloads::usage());
        return Ok(());
    }
    match args.next_positional() {
        Some(name) => workloads::run_program(&name, args, alloc),
        None => {
            print!("usage: workloads NAME [args]\n{}", workloads::usage());
            Ok(())
        }
    }
}
