//! `medium`: medium blocks (32 KiB..=2 MiB), as programs use them for
//! request bodies and growing byte buffers. Each iteration replaces a random
//! slot of a small working set (WS) with a new block of random size,
//! writing one byte per 4 KiB page of it; every VEC_EVERY-th iteration also
//! reads a "body" into a fresh `Vec<u8>` by 4 KiB appends until it holds
//! VEC_KIB KiB, then drops it, so growth passes through every size up to
//! that. ops = allocator calls: allocations + frees of the slots, plus, per
//! body, one per capacity change (allocation or `realloc`) and its free.

use std::hint::black_box;

use super::{positive, size_range, Slots, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "medium",
    usage: "[--iters 20000] [--ws 8] [--min 32768] [--max 2097152] [--vec-every 4] [--vec-kib 1024] [--seed 42]",
    about: "random 32 KiB..2 MiB blocks in a working set of 8 (one write per page) + Vec<u8> growth to 1 MiB",
    run,
    uses_allocator: true,
};

/// Bytes between the writes into a new block (one per page).
const PAGE: usize = 4096;

fn run(mut args: Args) -> Result<Outcome, String> {
    let iters: usize = args.take_or("iters", 20_000)?;
    let ws = positive("--ws", args.take_or("ws", 8)?)?;
    let (min, max) = size_range(&mut args, 32 * 1024, 2 * 1024 * 1024)?;
    let vec_every = positive("--vec-every", args.take_or("vec-every", 4)?)?;
    let vec_bytes = positive("--vec-kib", args.take_or("vec-kib", 1024)?)? * 1024;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;
    let piece = vec![7u8; PAGE];
    Ok(run_threads(1, |_| {
        let mut rng = Rng::new(seed, 0);
        let mut slots = Slots::new(ws);
        let mut ops = 0u64;
        for i in 0..iters {
            ops += slots.replace(&mut rng, min, max, PAGE);
            if i % vec_every == 0 {
                let mut body: Vec<u8> = Vec::new();
                let mut cap = 0;
                while body.len() < vec_bytes {
                    body.extend_from_slice(black_box(&piece));
                    if body.capacity() != cap {
                        cap = body.capacity();
                        ops += 1;
                    }
                }
                black_box(&body);
                ops += 1;
            }
        }
        ops += slots.free_all();
        ops
    }))
}
