//! `larson`: the server simulation of Larson & Krishnan. Every thread owns
//! an array of WS blocks (8..=1000 bytes) and, each round, replaces ITERS
//! random blocks (free + allocate + write). Between rounds the arrays move
//! on to the next thread, so blocks allocated by one thread are freed by
//! another, as when a server hands a connection's objects to a new worker.
//! The arrays are filled by the main thread before timing. ops = 2 per
//! replacement.

use std::sync::{Barrier, Mutex};

use super::{alloc_block, free_block, positive, touch, Workload};
use crate::cli::Args;
use crate::measure::{run_threads, Outcome};
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "larson",
    usage: "[--threads 2] [--ws 1000] [--rounds 20] [--iters 20000 (per round per thread)] [--seed 42]",
    about: "threads replace random blocks in arrays that move to another thread every round",
    run,
    uses_allocator: true,
};

const MIN: usize = 8;
const MAX: usize = 1000;

/// Blocks as (address, size): addresses, so that arrays can cross threads.
type Array = Vec<(usize, usize)>;

fn fill(ws: usize, rng: &mut Rng) -> Array {
    (0..ws)
        .map(|_| {
            let size = rng.range(MIN, MAX);
            // SAFETY: kept in the array, freed later with the same size.
            let p = unsafe { alloc_block(size) };
            // SAFETY: `p` is a live block of `size >= 1` bytes.
            unsafe { touch(p, 7) };
            (p as usize, size)
        })
        .collect()
}

fn round(array: &mut Array, iters: usize, rng: &mut Rng) {
    let n = array.len();
    for _ in 0..iters {
        let slot = &mut array[rng.below(n)];
        // SAFETY: every array entry is a live block of the recorded size.
        unsafe { free_block(slot.0 as *mut u8, slot.1) };
        let size = rng.range(MIN, MAX);
        // SAFETY: stored back in the array, freed later with its size.
        let p = unsafe { alloc_block(size) };
        // SAFETY: `p` is a live block of `size >= 8` bytes.
        unsafe {
            touch(p, size as u8);
            touch(p.add(size - 1), 3);
        }
        *slot = (p as usize, size);
    }
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let threads = positive("--threads", args.take_or("threads", 2)?)?;
    let ws = positive("--ws", args.take_or("ws", 1000)?)?;
    let rounds: usize = args.take_or("rounds", 20)?;
    let iters: usize = args.take_or("iters", 20_000)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;

    let mut main_rng = Rng::new(seed, u64::MAX);
    let arrays: Vec<Mutex<Array>> = (0..threads).map(|_| Mutex::new(fill(ws, &mut main_rng))).collect();
    let barrier = Barrier::new(threads);
    let outcome = run_threads(threads, |t| {
        let mut rng = Rng::new(seed, t as u64);
        for r in 0..rounds {
            // Round r: thread t works on array (t + r) mod threads; the
            // barrier makes sure its previous user is done with it.
            let mut array = arrays[(t + r) % threads].lock().expect("array lock");
            round(&mut array, iters, &mut rng);
            drop(array);
            barrier.wait();
        }
        2 * (rounds as u64) * (iters as u64)
    });
    for array in arrays {
        for (p, size) in array.into_inner().expect("array lock") {
            // SAFETY: every remaining entry is a live block, freed once.
            unsafe { free_block(p as *mut u8, size) };
        }
    }
    Ok(outcome)
}
