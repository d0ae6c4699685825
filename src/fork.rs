//! `fork` safety for the process-wide heap.
//!
//! A `fork` copies the whole address space but only the calling thread. A
//! lock held by any other thread at that instant stays held in the child for
//! ever, so a child that then allocates waits for ever (the backend mutex in
//! Stage 3 was the symptom: 6 to 52 hangs in 100 forks). The heap therefore
//! installs `pthread_atfork` handlers when it is first initialised (after
//! the heap is ready, so a `pthread_atfork` that itself allocated would find
//! it ready), which
//! * **prepare**: take every allocator lock, so no other thread is inside a
//!   critical section at the fork: the thread-exit key's creation
//!   (`platform`), the abandoned-slab list (`heap`), the pool backend (which
//!   also serialises registry and page-map growth; `pool::fork`), the
//!   large-block cache and the ring of unmapped large blocks (`large`).
//!   Elsewhere only two pairs nest, abandoned list -> pool backend (a sweep
//!   releasing slabs) and large cache -> unmapped ring (an eviction), both in
//!   the order taken here, so taking them all in this fixed order cannot
//!   deadlock;
//! * **parent**: release them;
//! * **child**: release them (the forking thread is their holder in the
//!   child too), which leaves every structure consistent: all other shared
//!   state is lock-free, and a lock-free operation cut short by the fork
//!   loses at most a slot or a block (a leak, never a hang).
//!
//! Slabs owned by threads that do not exist in the child stay theirs (the
//! child cannot flush caches it cannot reach); the child's own thread keeps
//! its cache. Prepare handlers registered *before* ours run after it and
//! must not allocate from a slow path (ours is the first a process
//! registers when the heap starts with its first allocation).

use crate::global::heap;
use crate::heap::HeapForkGuard;
use core::cell::UnsafeCell;

/// The guards taken by `prepare`, held until `parent` / `child`. Only the
/// forking thread touches it, between its prepare and parent/child handlers.
struct Held(UnsafeCell<Option<(bool, HeapForkGuard<'static>)>>);

// SAFETY: only the thread inside `fork()` reads or writes the cell, and the
// heap locks it holds serialise concurrent forks (a second forking thread's
// prepare blocks on them until the first has released).
unsafe impl Sync for Held {}

static HELD: Held = Held(UnsafeCell::new(None));

/// Install the handlers (once, from heap initialisation). The diagnostic
/// `HAKMEM_NO_ATFORK=1` skips them: the pre-fix design, which the fork test's
/// negative control runs to show that it hangs.
pub(crate) fn install() {
    if crate::platform::getenv(c"HAKMEM_NO_ATFORK").is_some_and(|v| v == b"1") {
        return;
    }
    if !crate::platform::on_fork(prepare, release, release) {
        crate::out::eprintln(format_args!("hakmem: pthread_atfork failed; fork while threads allocate may hang"));
    }
}

unsafe extern "C" fn prepare() {
    let key = crate::platform::thread_exit_key_fork_lock();
    let g = heap().fork_lock();
    // SAFETY: see `Held`: this thread is inside fork(), and the heap locks
    // just taken keep any other forking thread out of this cell.
    unsafe { *HELD.0.get() = Some((key, g)) };
}

/// `parent` and `child` both release: in the child the forking thread is the
/// holder of every lock taken in `prepare`.
unsafe extern "C" fn release() {
    // SAFETY: as in `prepare`; the locks are still held.
    let held = unsafe { (*HELD.0.get()).take() };
    if let Some((key, g)) = held {
        drop(g);
        crate::platform::thread_exit_key_fork_unlock(key);
    }
}
