//! # hakmem-alloc
//!
//! A general-purpose memory allocator: size classes served from 64 KiB slabs
//! carved out of 2 MiB-aligned SuperSlabs, thread-local caches in front, a
//! shared pool that hands slabs to threads in three stages (reuse an EMPTY slot
//! from a generation-validated lock-free freelist, claim an UNUSED slot, map a
//! SuperSlab), cross-thread frees through per-slab atomic lists, large blocks
//! straight from the OS, and empty SuperSlabs given back to the OS.
//!
//! ```no_run
//! # #[cfg(not(any(feature = "loom", feature = "shuttle")))]
//! #[global_allocator]
//! static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;
//! ```
//!
//! The allocator is a plain value, [`Heap<P: PageSource>`](Heap), over a page
//! source: [`HakMem`] wraps one static `Heap<OsPages>`; tests, the loom and
//! shuttle models (`verify/`) and the fuzzers (`fuzz/`) build a fresh
//! `Heap<MockPages>` and run the same code.
//!
//! Modules, in layer order: `sync` (the only door to atomics) and `platform`
//! (the only door to the OS); plain data (`config`, `options`, `size_class`,
//! `tag`); metadata storage (`arena`, `pagemap`); the shared `pool`; blocks
//! (`remote`, `slab`, `tcache`, `large`); the `heap`; the `global` front door.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod platform;
pub mod sync;

pub mod config;
pub mod options;
pub mod size_class;
pub mod tag;

mod arena;
mod block;
pub mod mitigations;
mod out;
mod pagemap;

pub mod pool;

mod large;
mod remote;
mod slab;
mod tcache;

mod heap;
pub mod stats;

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod global;

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub use global::{heap as global_heap, HakMem};
pub use heap::Heap;
pub use options::Options;
#[cfg(unix)]
pub use platform::OsPages;
pub use platform::{MockPages, PageSource};
pub use pool::{Acquired, Pool, PoolStats, SlotState, Stage};
pub use stats::Stats;
pub use tag::{Entry, Generation};
pub use tcache::ThreadCache;
