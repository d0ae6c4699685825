//! `hakmem-bench`: the benchmark programs comparing hakmem with the system
//! allocator, mimalloc and jemalloc. This library owns what the binaries
//! share: the runtime allocator switch ([`dispatch`]), argument parsing
//! ([`cli`]), timing and RSS ([`measure`]), the workloads ([`workloads`])
//! and the `compare` driver with its reports ([`compare`]).
//!
//! Binaries: `compare` (the main command), `bench_fixed_size`,
//! `bench_random_mixed` and `workloads` install the runtime switch as their
//! `#[global_allocator]` (`--alloc NAME`); `child_hakmem`, `child_system`,
//! `child_mimalloc` and `child_jemalloc` each install one allocator
//! statically, with no switch on the allocation path, and are what
//! `compare` measures. See `benches/README.md`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod cli;
pub mod compare;
pub mod dispatch;
pub mod measure;
pub mod rng;
pub mod workloads;
