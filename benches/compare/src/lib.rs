//! `hakmem-bench`: the benchmark programs comparing hakmem with the system
//! allocator, mimalloc and jemalloc. This library owns what the binaries
//! share: the runtime allocator switch ([`dispatch`], installed here as the
//! `#[global_allocator]` of every binary of the package), argument parsing
//! ([`cli`]), timing and RSS ([`measure`]), the workloads ([`workloads`])
//! and the `compare` driver with its reports ([`compare`]).
//!
//! Binaries: `compare` (the main command), `bench_fixed_size`,
//! `bench_random_mixed` and `workloads`. See `benches/README.md`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod cli;
pub mod compare;
pub mod dispatch;
pub mod measure;
pub mod rng;
pub mod workloads;

/// Every binary linking this library allocates through the runtime switch;
/// which allocator it forwards to is fixed by `HAKMEM_BENCH_ALLOC`.
#[global_allocator]
static GLOBAL: dispatch::Dispatch = dispatch::Dispatch;
