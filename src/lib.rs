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
//! The allocator is a plain value, `Heap<P: PageSource>`, over a page
//! source: [`HakMem`] wraps one static `Heap<OsPages>`; tests, the loom and
//! shuttle models (`verify/`) and the fuzzers (`fuzz/`) build a fresh
//! `Heap<MockPages>` and run the same code.
//!
//! # Public API
//! [`HakMem`] (with [`HakMem::stats`], [`HakMem::trim`],
//! [`HakMem::flush_thread_cache`], [`HakMem::configure`], ...),
//! [`ConfigureError`], [`Stats`], [`PoolStats`], [`Options`], the
//! [`mitigations`] constants and the C API's functions in [`capi`] (whose
//! `free` and `realloc` are `unsafe fn`). Safe code cannot corrupt the
//! allocator through them.
//! Everything else (`sync`, `platform`, `config`, `size_class`, `tag`,
//! `pool`, `Heap`, `ThreadCache`, ...) is crate-private unless the
//! non-default, doc-hidden feature `internals` is on, which `verify/`,
//! `fuzz/` and the tests use; there, every function that can break an
//! invariant of the allocator is an `unsafe fn` with its contract. So safe
//! code cannot give a slot back to the pool:
//!
//! ```compile_fail
//! fn give_back<P: hakmem_alloc::PageSource>(pool: &hakmem_alloc::Pool<P>) {
//!     pool.release(0, 0, 0); // error[E0133] with `internals`; not nameable without
//! }
//! ```
//!
//! while the same call in an `unsafe` block, which takes on its contract,
//! compiles (with `internals`, which `cargo test` turns on):
//!
//! ```no_run
//! # #[cfg(feature = "internals")]
//! fn give_back<P: hakmem_alloc::PageSource>(pool: &hakmem_alloc::Pool<P>) {
//!     // SAFETY: (not run) the caller would own slot 0 of record 0.
//!     unsafe { pool.release(0, 0, 0) };
//! }
//! ```
//!
//! Modules, in layer order: `sync` (the only door to atomics) and `platform`
//! (the only door to the OS); plain data (`config`, `options`, `size_class`,
//! `tag`); metadata storage (`arena`, `pagemap`); the shared `pool`; blocks
//! (`remote`, `slab`, `tcache`, `large`); the `heap`; the `global` front door.
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

// Supported platforms: Linux on x86_64 and aarch64 (README, "Platforms").
// Anything else stops here with one message instead of a page of unresolved
// imports or, worse, a build that links and then breaks the no-recursion rule
// (std's `Mutex` may allocate on macOS; there is no `mremap` or futex there).
#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!(concat!(
    "hakmem-alloc supports Linux on x86_64 and aarch64 only. ",
    "For a project that also builds elsewhere, make the dependency and the allocator target-specific:\n",
    "  # Cargo.toml\n",
    "  [target.'cfg(all(target_os = \"linux\", any(target_arch = \"x86_64\", target_arch = \"aarch64\")))'.dependencies]\n",
    "  hakmem-alloc = \"0.1\"\n",
    "  // main.rs\n",
    "  #[cfg(all(target_os = \"linux\", any(target_arch = \"x86_64\", target_arch = \"aarch64\")))]\n",
    "  #[global_allocator]\n",
    "  static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;"
));

// The README's Rust snippets compile and run as doctests.
#[cfg(all(doctest, not(any(feature = "loom", feature = "shuttle"))))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Declares a module that is crate-private, or `pub` and `#[doc(hidden)]`
/// with the `internals` feature (for verify/, fuzz/ and the tests).
macro_rules! internal_mod {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        #[allow(dead_code, unused_imports)]
        pub(crate) mod $name;
    )*};
}

internal_mod!(platform, sync, config, options, size_class, tag);

mod arena;
mod block;
pub mod mitigations;
mod out;
mod pagemap;

internal_mod!(pool);

// Parts of these are only reached from the `internals` API.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
mod large;
mod remote;
mod slab;
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
mod tcache;

#[cfg_attr(not(feature = "internals"), allow(dead_code))]
mod heap;
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod lookup;
internal_mod!(stats);

#[cfg(all(unix, not(any(feature = "loom", feature = "shuttle"))))]
pub mod capi;
#[cfg(all(unix, not(any(feature = "loom", feature = "shuttle"))))]
mod fork;
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod global;

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub use global::{ConfigureError, HakMem};
pub use options::Options;
pub use pool::PoolStats;
pub use stats::Stats;

#[cfg(all(feature = "internals", not(any(feature = "loom", feature = "shuttle"))))]
#[doc(hidden)]
pub use global::heap as global_heap;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use heap::Heap;
#[cfg(all(feature = "internals", any(feature = "loom", feature = "shuttle")))]
#[doc(hidden)]
pub use heap::ReclaimVariant;
#[cfg(all(feature = "internals", unix))]
#[doc(hidden)]
pub use platform::OsPages;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use platform::{MockPages, PageSource};
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use pool::{Acquired, Pool, SlotState, Stage};
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use tag::{Entry, Generation};
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use tcache::ThreadCache;

// The `override` feature: this crate itself exports the C malloc symbols.
#[cfg(all(feature = "override", unix, not(any(feature = "loom", feature = "shuttle"))))]
export_c_api!();
