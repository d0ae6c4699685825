//! A tiny test-and-set lock on an unmodelled atomic.
//!
//! Only for critical sections that perform no modelled (loom/shuttle)
//! operation: a model scheduler switches threads only at modelled operations,
//! so such a section is never observed contended under a model, and under std
//! it is an ordinary spin lock.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// A spin lock guarding a `T`.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (acquire on lock,
// release on unlock), so sharing the lock shares `T` only one thread at a time.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new unlocked lock.
    pub const fn new(v: T) -> Self {
        Self { locked: AtomicBool::new(false), value: UnsafeCell::new(v) }
    }

    /// Run `f` with exclusive access.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _u = Unlock(&self.locked);
        // SAFETY: the CAS above made this thread the only holder until `_u` drops.
        f(unsafe { &mut *self.value.get() })
    }
}
