//! The workload registry: every benchmark body, by name, plus the raw block
//! helpers they share. `bench_fixed_size`, `bench_random_mixed`, `workloads`
//! and `compare --child` all run workloads through [`run_program`].
//!
//! Conventions: a workload reads its parameters from [`Args`], rejects
//! leftovers with [`Args::finish`], times only the measured part and returns
//! an [`Outcome`] whose `ops` are allocations + frees (see each module for
//! exceptions). Blocks are allocated through the global allocator (the
//! runtime [`crate::dispatch::Dispatch`]) with alignment [`ALIGN`].

use std::alloc::Layout;

use crate::cli::Args;
use crate::dispatch::Alloc;
use crate::measure::{self, Outcome};
use crate::rng::Rng;

#[cfg(feature = "macro")]
pub mod batch;
pub mod cache_scratch;
pub mod calloc;
pub mod fixed;
pub mod floor;
pub mod larson;
pub mod malloc_large;
pub mod medium;
pub mod random_mixed;
pub mod realloc_growth;
#[cfg(feature = "macro")]
pub mod service;
pub mod thread_churn;
pub mod xmalloc;

/// Alignment of every block the workloads request (that of `u64`/`usize`).
pub const ALIGN: usize = 8;

/// One runnable workload.
pub struct Workload {
    /// Name on the command line.
    pub name: &'static str,
    /// Argument synopsis.
    pub usage: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// The body: parses its arguments, runs, returns what it measured.
    pub run: fn(Args) -> Result<Outcome, String>,
    /// False for `floor`, which never calls the allocator under test.
    pub uses_allocator: bool,
}

/// Every workload, in report order.
pub const WORKLOADS: &[Workload] = &[
    fixed::WORKLOAD,
    floor::WORKLOAD,
    random_mixed::WORKLOAD,
    xmalloc::WORKLOAD,
    larson::WORKLOAD,
    cache_scratch::WORKLOAD,
    malloc_large::WORKLOAD,
    medium::WORKLOAD,
    realloc_growth::WORKLOAD,
    calloc::WORKLOAD,
    thread_churn::WORKLOAD,
    #[cfg(feature = "macro")]
    service::WORKLOAD,
    #[cfg(feature = "macro")]
    batch::WORKLOAD,
];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// The usage text listing every workload.
pub fn usage() -> String {
    let mut s = String::from("workloads (all take [--alloc hakmem|system|mimalloc|jemalloc]):\n");
    for w in WORKLOADS {
        s.push_str(&format!("  {} {}\n      {}\n", w.name, w.usage, w.about));
    }
    s
}

/// Runs workload `name` with `args` on allocator `alloc` and prints the
/// result lines.
pub fn run_program(name: &str, args: Args, alloc: Alloc) -> Result<(), String> {
    let w = find(name).ok_or_else(|| format!("unknown workload {name:?}\n{}", usage()))?;
    let outcome = (w.run)(args)?;
    measure::report(name, w.uses_allocator.then_some(alloc), outcome);
    Ok(())
}

/// The layout of a workload block of `size` bytes.
#[inline(always)]
pub fn layout(size: usize) -> Layout {
    match Layout::from_size_align(size.max(1), ALIGN) {
        Ok(l) => l,
        Err(_) => panic!("block size {size} too large"),
    }
}

/// Allocates `size` bytes through the global allocator; aborts on failure.
///
/// # Safety
/// The block must later be freed with [`free_block`] and the same `size`.
#[inline(always)]
pub unsafe fn alloc_block(size: usize) -> *mut u8 {
    let l = layout(size);
    // SAFETY: `l` has a non-zero size.
    let p = unsafe { std::alloc::alloc(l) };
    if p.is_null() {
        std::alloc::handle_alloc_error(l);
    }
    p
}

/// Frees a block from [`alloc_block`].
///
/// # Safety
/// `p` must come from `alloc_block(size)` (on any thread) and not be freed yet.
#[inline(always)]
pub unsafe fn free_block(p: *mut u8, size: usize) {
    // SAFETY: the caller guarantees `p` was allocated with `layout(size)`.
    unsafe { std::alloc::dealloc(p, layout(size)) }
}

/// Writes `v` to `p` so that the store cannot be optimised away.
///
/// # Safety
/// `p` must be valid for a one-byte write.
#[inline(always)]
pub unsafe fn touch(p: *mut u8, v: u8) {
    // SAFETY: the caller guarantees `p` is writable.
    unsafe { p.write_volatile(v) }
}

/// A working set of large blocks replaced at random (`malloc-large`,
/// `medium`): each slot holds a live block and its size, or null.
pub struct Slots(Vec<(*mut u8, usize)>);

impl Slots {
    /// `n` empty slots.
    pub fn new(n: usize) -> Self {
        Slots(vec![(std::ptr::null_mut(), 0); n])
    }

    /// Frees a random slot's block (if any) and puts a new block of
    /// `min..=max` bytes there, writing one byte every `page` bytes of it
    /// (none if `page` is 0). Returns the allocator calls made.
    #[inline(always)]
    pub fn replace(&mut self, rng: &mut Rng, min: usize, max: usize, page: usize) -> u64 {
        let mut ops = 0;
        let i = rng.below(self.0.len());
        let slot = &mut self.0[i];
        if !slot.0.is_null() {
            // SAFETY: the slot holds a live block of `slot.1` bytes.
            unsafe { free_block(slot.0, slot.1) };
            ops += 1;
        }
        let size = rng.range(min, max);
        // SAFETY: kept in the slot, freed later with the same size.
        let p = unsafe { alloc_block(size) };
        if page > 0 {
            for off in (0..size).step_by(page) {
                // SAFETY: `off < size`, inside the live block.
                unsafe { touch(p.add(off), 1) };
            }
        }
        *slot = (p, size);
        ops + 1
    }

    /// Frees every block left; returns how many.
    pub fn free_all(&mut self) -> u64 {
        let mut ops = 0;
        for slot in &mut self.0 {
            if !slot.0.is_null() {
                // SAFETY: live block, freed once (the slot is emptied).
                unsafe { free_block(slot.0, slot.1) };
                *slot = (std::ptr::null_mut(), 0);
                ops += 1;
            }
        }
        ops
    }
}

/// Reads `--min` (positive) and `--max` (at least `--min`) block sizes.
pub fn size_range(args: &mut Args, min: usize, max: usize) -> Result<(usize, usize), String> {
    let min = positive("--min", args.take_or("min", min)?)?;
    let max: usize = args.take_or("max", max)?;
    if max < min {
        return Err("--max must be >= --min".into());
    }
    Ok((min, max))
}

/// Checks that a count parameter is positive.
pub fn positive(name: &str, v: usize) -> Result<usize, String> {
    if v == 0 {
        Err(format!("{name} must be > 0"))
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, args: &str) -> Result<Outcome, String> {
        let w = find(name).ok_or_else(|| format!("no workload {name}"))?;
        (w.run)(Args::parse(args.split_whitespace().map(String::from))?)
    }

    /// Every workload, with small arguments, runs and counts the operations
    /// its header promises (the compare plan uses these names).
    #[test]
    fn every_workload_runs_small() {
        let small: &[(&str, &str, u64)] = &[
            ("fixed", "10 16 8", 10 * 8 * 2),
            ("floor", "10 16 8", 10 * 8 * 2),
            ("random_mixed", "1000 --ws 16", 0),
            ("xmalloc", "--iters 1000", 2000),
            ("larson", "--threads 2 --ws 16 --rounds 2 --iters 100", 0),
            ("cache-scratch", "--threads 2 --iters 100 --size 8 --reps 1", 0),
            ("malloc-large", "--iters 10 --ws 4 --max 262144", 0),
            // 10 slot allocations + 10 frees; 3 bodies of 16 KiB by 4 KiB
            // appends: capacities 4, 8, 16 KiB, so 3 allocator calls + 1 free each.
            ("medium", "--iters 10 --ws 4 --vec-every 4 --vec-kib 16", 20 + 3 * 4),
            ("realloc-growth", "--mb 1 --repeats 1 --chunk 64", 16384),
            ("calloc", "--rounds 3 --count 50 --min 1 --max 40000", 3 * 50 * 2),
            ("thread-churn", "--threads 20 --concurrent 3 --blocks 50 --keep 5", 20 * 50 * 2),
            #[cfg(feature = "macro")]
            ("service", "--conns 4 --secs 0.3 --warmup 0.1", 0),
            #[cfg(feature = "macro")]
            ("batch", "--records 2000", 2000),
        ];
        assert_eq!(small.len(), WORKLOADS.len(), "a workload is missing here");
        for &(name, args, want) in small {
            let out = run(name, args).unwrap_or_else(|e| panic!("{name} {args}: {e}"));
            assert!(out.ops > 0, "{name} counted no operations");
            if want > 0 {
                assert_eq!(out.ops, want, "{name} {args}");
            }
        }
    }

    #[test]
    fn calloc_rejects_inverted_bounds_and_leftovers() {
        assert!(run("calloc", "--min 100 --max 10").is_err());
        assert!(run("calloc", "--count 0").is_err());
        assert!(run("calloc", "--bogus 1").is_err());
    }
}
