//! The only place the crate takes atomics, cells, mutexes and `yield_now` from.
//!
//! * default build: `std`/`core`;
//! * `--features loom`: `loom`'s modelled types (exhaustive interleavings);
//! * `--features shuttle`: `shuttle`'s (random / PCT schedules).
//!
//! Every other module writes `use crate::sync::...` and never names `std::sync`
//! directly, so the models explore the production code. [`unmodeled`] holds the
//! few atomics that stay `std` even in model builds (see its docs for why).

#[cfg(all(feature = "loom", feature = "shuttle"))]
compile_error!("features `loom` and `shuttle` are mutually exclusive");

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod imp {
    pub use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    pub use std::sync::{Mutex, MutexGuard};
    pub use std::thread::yield_now;
    pub use std::thread_local;

    /// Busy-wait hint; a model yield under loom/shuttle.
    #[inline]
    pub fn spin_loop() {
        core::hint::spin_loop();
    }
}

#[cfg(feature = "loom")]
mod imp {
    pub use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    pub use loom::sync::{Mutex, MutexGuard};
    pub use loom::thread::yield_now;

    /// Busy-wait hint; a model yield under loom/shuttle.
    #[inline]
    pub fn spin_loop() {
        loom::thread::yield_now();
    }
}

#[cfg(feature = "shuttle")]
mod imp {
    pub use shuttle::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    pub use shuttle::sync::{Mutex, MutexGuard};
    pub use shuttle::thread::yield_now;

    /// Busy-wait hint; a model yield under loom/shuttle.
    #[inline]
    pub fn spin_loop() {
        shuttle::thread::yield_now();
    }
}

pub use imp::*;

/// The atomics above are plain integers (in memory, all-zero bytes are a
/// zero atomic or a null `AtomicPtr`): true except in the model builds,
/// whose atomics carry the model's bookkeeping.
pub const ATOMICS_ARE_PLAIN: bool = !cfg!(any(feature = "loom", feature = "shuttle"));

mod cell;
mod spin;
pub use cell::UnsafeCell;

/// Lock a shim mutex, ignoring poisoning (no allocator path panics while
/// holding one; a poisoned lock still guards consistent data).
#[inline]
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(feature = "loom")]
    {
        m.lock().unwrap()
    }
    #[cfg(not(feature = "loom"))]
    {
        match m.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Atomics that stay `std` in every build.
///
/// Used for process-wide statics (which loom forbids), the mock page source's
/// bookkeeping lock (whose critical sections contain no modelled operation, so
/// a model scheduler can never preempt inside one), and the page map (pointer -> SuperSlab record), whose leaves are
/// published once and never change shape: modelling its 8192-entry top level
/// would make every loom iteration allocate thousands of tracked objects while
/// proving nothing about the pool protocol. The pool protocol itself (records,
/// freelists, slot words, remote lists) uses the modelled types above.
pub mod unmodeled {
    pub use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering};

    pub use super::spin::SpinLock;
}
