//! The global allocator's thread-local slot: one [`ThreadCache`] per thread,
//! const-initialised with no destructor (so touching it never allocates or
//! registers anything), plus a pthread-key hook that flushes it at thread exit.
//!
//! Re-entrancy: registering the exit hook may call `calloc` inside glibc,
//! which may be us. Registration therefore happens before the caller takes a
//! reference to the cache, and a nested call simply uses the cache itself.

use super::ThreadCache;
use crate::sync::{thread_local, UnsafeCell};
use core::cell::Cell;

thread_local! {
    static CACHE: UnsafeCell<ThreadCache> = const { UnsafeCell::new(ThreadCache::new()) };
    static REGISTERED: Cell<u8> = const { Cell::new(0) };
    static EXITED: Cell<bool> = const { Cell::new(false) };
}

/// Raw pointer to this thread's cache. Never null.
#[inline(always)]
pub(crate) fn cache() -> *mut ThreadCache {
    CACHE.with(|c| c.with_mut(|p| p))
}

/// Make sure this thread's exit flushes its cache. Cheap after the first call.
#[inline]
pub(crate) fn ensure_registered(hook: unsafe extern "C" fn(*mut libc::c_void)) {
    if REGISTERED.with(|r| r.get()) == 0 {
        register(hook);
    }
}

#[cold]
fn register(hook: unsafe extern "C" fn(*mut libc::c_void)) {
    REGISTERED.with(|r| r.set(1));
    crate::platform::register_thread_exit(hook);
}

/// Called from the exit hook: the next allocation on this thread (by a later
/// destructor) registers again, so its blocks are flushed too.
pub(crate) fn mark_unregistered() {
    REGISTERED.with(|r| r.set(0));
}

/// Called from the exit hook: from now on this thread is exiting, and every
/// slow path flushes the cache right away. A free made by a later TLS
/// destructor may come after the last round of destructors, when a
/// re-registered hook never runs: nothing may stay cached then.
pub(crate) fn mark_exited() {
    EXITED.with(|e| e.set(true));
}

/// Whether this thread's exit hook has run (see [`mark_exited`]).
#[inline]
pub(crate) fn exited() -> bool {
    EXITED.with(|e| e.get())
}
