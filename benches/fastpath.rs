//! Divan micro-benchmarks of hakmem's fast paths, calling the `GlobalAlloc`
//! methods of a `hakmem_alloc::HakMem` value directly (it is not installed as
//! the global allocator here; this binary runs on the system allocator).
//!
//! - `hakmem::alloc_free` / `system::alloc_free`: one allocation immediately
//!   freed, per size: the thread-cache hit path, with `System` as reference.
//! - `hakmem::local_free_1000` / `remote_free_1000`: freeing a batch of 1000
//!   blocks that this thread allocated, versus 1000 blocks allocated by
//!   another, still running thread (the cross-thread free path). Only the
//!   frees are timed; the batches are prepared untimed.
//!
//! Run: `cargo bench --bench fastpath` (add `-- hakmem` to filter).

//!
//! Model-checking builds (`--features loom|shuttle`) have no `HakMem`; the
//! bench is then an empty program.

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
fn main() {
    divan::main();
}

#[cfg(any(feature = "loom", feature = "shuttle"))]
fn main() {}

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod benches {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::{Mutex, OnceLock};

    use divan::counter::ItemsCount;
    use divan::{black_box, Bencher};
    use hakmem_alloc::HakMem;

    /// Sizes of the alloc+free pair benchmarks, small classes to large.
    const SIZES: &[usize] = &[8, 16, 64, 256, 1024, 4096, 32768];

    /// Blocks per batch in the batch-free benchmarks.
    const BATCH: usize = 1000;

    /// Block size of the batch-free benchmarks.
    const BATCH_SIZE: usize = 64;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).expect("valid layout")
    }

    /// One allocation of `size` bytes, written to and freed, per iteration.
    fn alloc_free_pair<A: GlobalAlloc>(a: &A, bencher: Bencher, size: usize) {
        let l = layout(size);
        // Warm up first: lazy initialisation (heap, thread cache, first slab)
        // would otherwise make divan's calibration pick one iteration per
        // sample, which measures the timer instead of the allocator.
        free_batch_of(a, l, batch_of(a, l));
        bencher.bench_local(|| {
            // SAFETY: `l` has a non-zero size.
            let p = unsafe { a.alloc(black_box(l)) };
            assert!(!p.is_null());
            // SAFETY: `p` is a live block of at least one byte.
            unsafe { p.write_volatile(1) };
            // SAFETY: `p` came from `a.alloc(l)` and is freed once.
            unsafe { a.dealloc(black_box(p), l) };
        });
    }

    /// Allocates `BATCH` blocks of `BATCH_SIZE` bytes from `a` on this thread.
    fn batch<A: GlobalAlloc>(a: &A) -> Vec<usize> {
        batch_of(a, layout(BATCH_SIZE))
    }

    /// Allocates `BATCH` blocks of layout `l` from `a` on this thread.
    fn batch_of<A: GlobalAlloc>(a: &A, l: Layout) -> Vec<usize> {
        (0..BATCH)
            .map(|i| {
                // SAFETY: `l` has a non-zero size.
                let p = unsafe { a.alloc(l) };
                assert!(!p.is_null());
                // SAFETY: `p` is a live block of `l.size() >= 1` bytes.
                unsafe { p.write_volatile(i as u8) };
                p as usize
            })
            .collect()
    }

    /// Frees a batch from [`batch`]; returns the emptied vector so its own drop
    /// happens outside the timed loop.
    fn free_batch<A: GlobalAlloc>(a: &A, blocks: Vec<usize>) -> Vec<usize> {
        free_batch_of(a, layout(BATCH_SIZE), blocks)
    }

    /// Frees blocks of layout `l` from [`batch_of`]; returns the emptied vector.
    fn free_batch_of<A: GlobalAlloc>(a: &A, l: Layout, mut blocks: Vec<usize>) -> Vec<usize> {
        for &p in &blocks {
            // SAFETY: every entry came from `a.alloc(l)` in `batch_of` and is
            // freed exactly once.
            unsafe { a.dealloc(p as *mut u8, l) };
        }
        blocks.clear();
        blocks
    }

    /// A helper thread that stays alive and allocates hakmem batches on demand,
    /// so that the benchmark thread's frees are remote frees to a live owner.
    struct RemoteAllocator {
        requests: Sender<()>,
        batches: Receiver<Vec<usize>>,
    }

    fn remote() -> &'static Mutex<RemoteAllocator> {
        static REMOTE: OnceLock<Mutex<RemoteAllocator>> = OnceLock::new();
        REMOTE.get_or_init(|| {
            let (requests, incoming) = channel::<()>();
            let (outgoing, batches) = channel::<Vec<usize>>();
            std::thread::Builder::new()
                .name("hakmem-remote-alloc".into())
                .spawn(move || {
                    while incoming.recv().is_ok() {
                        if outgoing.send(batch(&HakMem)).is_err() {
                            break;
                        }
                    }
                })
                .expect("spawn helper thread");
            Mutex::new(RemoteAllocator { requests, batches })
        })
    }

    /// A batch allocated by the helper thread.
    fn remote_batch() -> Vec<usize> {
        let r = remote().lock().expect("helper lock");
        r.requests.send(()).expect("helper alive");
        r.batches.recv().expect("helper alive")
    }

    mod hakmem {
        use super::*;

        #[divan::bench(args = SIZES)]
        fn alloc_free(bencher: Bencher, size: usize) {
            alloc_free_pair(&HakMem, bencher, size);
        }

        /// Frees 1000 blocks this thread allocated.
        #[divan::bench]
        fn local_free_1000(bencher: Bencher) {
            bencher
                .counter(ItemsCount::new(BATCH))
                .with_inputs(|| batch(&HakMem))
                .bench_local_values(|blocks| free_batch(&HakMem, blocks));
        }

        /// Frees 1000 blocks allocated by another (live) thread.
        #[divan::bench]
        fn remote_free_1000(bencher: Bencher) {
            bencher
                .counter(ItemsCount::new(BATCH))
                .with_inputs(remote_batch)
                .bench_local_values(|blocks| free_batch(&HakMem, blocks));
        }
    }

    mod system {
        use super::*;

        #[divan::bench(args = SIZES)]
        fn alloc_free(bencher: Bencher, size: usize) {
            alloc_free_pair(&System, bencher, size);
        }

        /// Frees 1000 blocks this thread allocated.
        #[divan::bench]
        fn local_free_1000(bencher: Bencher) {
            bencher
                .counter(ItemsCount::new(BATCH))
                .with_inputs(|| batch(&System))
                .bench_local_values(|blocks| free_batch(&System, blocks));
        }
    }
}
