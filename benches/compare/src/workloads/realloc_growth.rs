//! `realloc-growth`: a `Vec<u8>` grown by appending CHUNK-byte pieces until
//! it holds MB mebibytes, dropped, and again, REPEATS times. Growth goes
//! through `realloc` (Vec doubles its capacity), so allocators that grow in
//! place or remap instead of copying win. ops = appends (not allocator
//! calls): the rate at which the program gets its data stored.

use std::hint::black_box;

use super::{positive, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "realloc-growth",
    usage: "[--mb 100] [--repeats 5] [--chunk 64]",
    about: "Vec<u8> grown by 64-byte appends to 100 MiB, repeated (realloc growth)",
    run,
    uses_allocator: true,
};

fn run(mut args: Args) -> Result<Outcome, String> {
    let mb = positive("--mb", args.take_or("mb", 100)?)?;
    let repeats: usize = args.take_or("repeats", 5)?;
    let chunk = positive("--chunk", args.take_or("chunk", 64)?)?;
    args.finish()?;
    let piece: Vec<u8> = (0..chunk).map(|i| i as u8).collect();
    let target = mb * 1024 * 1024;
    Ok(run_threads(1, |_| {
        let mut ops = 0u64;
        for _ in 0..repeats {
            let mut v: Vec<u8> = Vec::new();
            while v.len() < target {
                v.extend_from_slice(black_box(&piece));
                ops += 1;
            }
            black_box(&v);
        }
        ops
    }))
}
