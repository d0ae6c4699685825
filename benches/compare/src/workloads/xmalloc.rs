//! `xmalloc`: the producer/consumer test of Lever & Boreham. In each of N
//! pairs, a producer thread allocates blocks (16..=512 bytes, the size
//! stored in the block) and passes them through a bounded lock-free ring to
//! a consumer thread, which reads the size and frees the block: every free
//! is a cross-thread (remote) free. ops = 2 * ITEMS per pair.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use super::{alloc_block, free_block, positive, touch, Workload};
use crate::cli::Args;
use crate::measure::Outcome;
use crate::rng::Rng;

/// The workload entry.
pub const WORKLOAD: Workload = Workload {
    name: "xmalloc",
    usage: "[--iters 1000000] [--threads 1 (pairs)] [--seed 42]",
    about: "producer allocates, consumer frees, through a bounded SPSC ring (remote frees)",
    run,
    uses_allocator: true,
};

const MIN: usize = 16;
const MAX: usize = 512;
const RING: usize = 1024;

/// Keeps producer and consumer indices on separate cache lines.
#[repr(align(128))]
struct Padded(AtomicUsize);

/// A bounded single-producer single-consumer ring of block addresses.
struct Ring {
    slots: Box<[AtomicUsize]>,
    /// Next slot to write; written by the producer only.
    tail: Padded,
    /// Next slot to read; written by the consumer only.
    head: Padded,
}

/// Spins briefly, then yields (there may be more threads than cores).
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

impl Ring {
    fn new() -> Ring {
        Ring {
            slots: (0..RING).map(|_| AtomicUsize::new(0)).collect(),
            tail: Padded(AtomicUsize::new(0)),
            head: Padded(AtomicUsize::new(0)),
        }
    }

    /// Producer side: waits for room, then publishes `v`.
    fn push(&self, v: usize) {
        let t = self.tail.0.load(Ordering::Relaxed);
        let mut spins = 0;
        while t.wrapping_sub(self.head.0.load(Ordering::Acquire)) == RING {
            backoff(&mut spins);
        }
        self.slots[t % RING].store(v, Ordering::Relaxed);
        self.tail.0.store(t.wrapping_add(1), Ordering::Release);
    }

    /// Consumer side: waits for an item and takes it.
    fn pop(&self) -> usize {
        let h = self.head.0.load(Ordering::Relaxed);
        let mut spins = 0;
        while self.tail.0.load(Ordering::Acquire) == h {
            backoff(&mut spins);
        }
        let v = self.slots[h % RING].load(Ordering::Relaxed);
        self.head.0.store(h.wrapping_add(1), Ordering::Release);
        v
    }
}

fn produce(ring: &Ring, items: usize, rng: &mut Rng) {
    for _ in 0..items {
        let size = rng.range(MIN, MAX);
        // SAFETY: the consumer frees it with the size stored in it.
        let p = unsafe { alloc_block(size) };
        // SAFETY: `p` is a live, 8-aligned block of at least 16 bytes.
        unsafe {
            p.cast::<usize>().write(size);
            touch(p.add(size - 1), 1);
        }
        ring.push(p as usize);
    }
}

fn consume(ring: &Ring, items: usize) {
    for _ in 0..items {
        let p = ring.pop() as *mut u8;
        // SAFETY: the producer wrote the block's size into its first word
        // and published it with a release store that `pop` acquired.
        let size = unsafe { p.cast::<usize>().read() };
        // SAFETY: `p` was allocated with `size` and is freed exactly once.
        unsafe { free_block(p, size) };
    }
}

fn run(mut args: Args) -> Result<Outcome, String> {
    let items = args.take_or("iters", 1_000_000usize)?;
    let pairs = positive("--threads", args.take_or("threads", 1)?)?;
    let seed: u64 = args.take_or("seed", 42)?;
    args.finish()?;
    let rings: Vec<Ring> = (0..pairs).map(|_| Ring::new()).collect();
    let barrier = Barrier::new(2 * pairs + 1);
    let secs = std::thread::scope(|s| {
        for (i, ring) in rings.iter().enumerate() {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                produce(ring, items, &mut Rng::new(seed, i as u64));
            });
            s.spawn(move || {
                barrier.wait();
                consume(ring, items);
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins every thread before returning.
        start
    })
    .elapsed()
    .as_secs_f64();
    Ok(Outcome { ops: 2 * (items as u64) * (pairs as u64), secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_passes_values_in_order() {
        let ring = Ring::new();
        std::thread::scope(|s| {
            s.spawn(|| (1..=5000).for_each(|v| ring.push(v)));
            for v in 1..=5000 {
                assert_eq!(ring.pop(), v);
            }
        });
    }
}
