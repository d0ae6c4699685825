//! [`HakMem`]: the `GlobalAlloc` front door. A thin wrapper over one static
//! `Heap<OsPages>` (initialised on first use, without allocating) and the
//! calling thread's [`ThreadCache`](crate::ThreadCache).
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;
//! ```
//!
//! Nothing here panics: an impossible or failed request returns null, and
//! detected misuse (double free, foreign pointer) aborts with one line on
//! stderr naming the error and the address.

use crate::heap::{poison, set_canary, Heap};
use crate::mitigations;
use crate::platform::OsPages;
use crate::size_class::{class_of, class_of_common};
use crate::stats::Stats;
use crate::sync::{AtomicU8, Ordering, UnsafeCell};
use crate::tcache::tls;
use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;

/// The hakmem global allocator. `#[global_allocator] static G: HakMem = HakMem;`
#[derive(Clone, Copy, Debug, Default)]
pub struct HakMem;

struct LazyHeap {
    state: AtomicU8,
    heap: UnsafeCell<MaybeUninit<Heap<OsPages>>>,
}

// SAFETY: the heap is written once before `state` becomes READY (Release) and
// only read after observing READY (Acquire); Heap itself is Sync.
unsafe impl Sync for LazyHeap {}

const UNINIT: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

static HEAP: LazyHeap = LazyHeap { state: AtomicU8::new(UNINIT), heap: UnsafeCell::new(MaybeUninit::uninit()) };

/// The process-wide heap behind [`HakMem`].
#[inline]
pub fn heap() -> &'static Heap<OsPages> {
    if HEAP.state.load(Ordering::Acquire) != READY {
        init_heap();
    }
    // SAFETY: READY was observed (here or in init_heap), so the heap is initialised.
    HEAP.heap.with(|p| unsafe { (*p).assume_init_ref() })
}

#[cold]
#[inline(never)]
fn init_heap() {
    loop {
        match HEAP.state.compare_exchange(UNINIT, BUSY, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                let h = Heap::new(OsPages);
                let stats_at_exit = h.pool().options().stats_at_exit;
                // SAFETY: BUSY gives this thread exclusive access; nobody reads
                // the cell before READY.
                HEAP.heap.with_mut(|p| unsafe { (*p).write(h) });
                HEAP.state.store(READY, Ordering::Release);
                if stats_at_exit {
                    crate::platform::on_process_exit(print_stats_at_exit);
                }
                return;
            }
            Err(READY) => return,
            Err(_) => crate::sync::spin_loop(),
        }
    }
}

extern "C" fn print_stats_at_exit() {
    crate::stats::print(&heap().stats());
}

unsafe extern "C" fn on_thread_exit(_: *mut libc::c_void) {
    let tc = tls::cache();
    // SAFETY: the exit hook runs on the exiting thread, which holds no other
    // reference to its cache at this point.
    heap().thread_exit(unsafe { &mut *tc });
    tls::mark_unregistered();
}

#[cold]
#[inline(never)]
fn alloc_small_slow(c: usize) -> *mut u8 {
    tls::ensure_registered(on_thread_exit);
    // SAFETY: no other reference to this thread's cache is live (the caller
    // dropped its use before calling; registration may re-enter and finish).
    heap().refill(unsafe { &mut *tls::cache() }, c)
}

#[cold]
#[inline(never)]
fn free_small_slow(c: usize) {
    tls::ensure_registered(on_thread_exit);
    // SAFETY: as in alloc_small_slow.
    heap().drain(unsafe { &mut *tls::cache() }, c)
}

#[cold]
#[inline(never)]
fn alloc_large(layout: Layout, zero: bool) -> *mut u8 {
    heap().alloc_large(layout, zero)
}

/// The class of a common layout (see [`class_of_common`]): with the canary
/// on, one byte more than asked.
#[inline(always)]
fn common_class(layout: Layout) -> Option<usize> {
    class_of_common(layout.size() + mitigations::CANARY as usize, layout.align())
}

/// A block of class `c` for `size` bytes: with the canary on, the canary is
/// written after them.
#[inline(always)]
fn alloc_sized(c: usize, size: usize) -> *mut u8 {
    let p = alloc_class(c);
    if mitigations::CANARY && !p.is_null() {
        // SAFETY: a fresh block of class c, which holds size + 1 bytes.
        unsafe { set_canary(p, size) };
    }
    p
}

/// A block of class `c`: a thread-cache pop, else (tail call) a refill.
#[inline(always)]
fn alloc_class(c: usize) -> *mut u8 {
    // SAFETY: the thread's cache, used only for the duration of this call.
    let p = unsafe { (*tls::cache()).pop(c) };
    if !p.is_null() {
        return p;
    }
    alloc_small_slow(c)
}

/// Free block `p` of class `c` (asked for with `size` bytes): the checks of
/// [`Heap::check_free`] (misuse aborts), a thread-cache push, then the slow
/// path if the push asks for it.
///
/// # Safety
/// `p` is a live block of class `c` of the global heap.
#[inline(always)]
unsafe fn free_class(c: usize, p: *mut u8, size: usize) {
    // SAFETY: caller contract: `p` is a live block of class c from us; the
    // checks abort on pointers that are not.
    unsafe {
        heap_checks(p, c, size);
        poison(p, c);
        if (*tls::cache()).push(c, p, |b, d| heap().suspect_double_free(b, d, "double free detected")) {
            free_small_slow(c);
        }
    }
}

/// The free-time checks the build has on (none in the default build).
///
/// # Safety
/// As [`Heap::check_free`].
#[inline(always)]
unsafe fn heap_checks(p: *mut u8, c: usize, size: usize) {
    if mitigations::CHECK_FREE_POINTER || mitigations::CHECK_FREE_CLASS || mitigations::CANARY {
        // SAFETY: caller contract.
        unsafe { heap().check_free(p, c, size) };
    }
}

/// Everything `alloc` does not serve inline: large sizes and alignments
/// above 16 (which may still map to a class).
#[cold]
#[inline(never)]
fn alloc_uncommon(layout: Layout) -> *mut u8 {
    match class_of(layout.size() + mitigations::CANARY as usize, layout.align()) {
        Some(c) => alloc_sized(c, layout.size()),
        None => alloc_large(layout, false),
    }
}

/// `alloc_zeroed` from 1 KiB up, and for big alignments (see
/// [`Heap::alloc_zeroed`]).
#[cold]
#[inline(never)]
fn alloc_zeroed_uncommon(layout: Layout) -> *mut u8 {
    tls::ensure_registered(on_thread_exit);
    // SAFETY: the thread's cache, used only for the duration of this call;
    // nothing below re-enters the global allocator.
    heap().alloc_zeroed(unsafe { &mut *tls::cache() }, layout)
}

/// Everything `dealloc` does not serve inline (see [`alloc_uncommon`]).
///
/// # Safety
/// `p` is a live block of ours allocated with `layout`.
#[cold]
#[inline(never)]
unsafe fn dealloc_uncommon(p: *mut u8, layout: Layout) {
    match class_of(layout.size() + mitigations::CANARY as usize, layout.align()) {
        // SAFETY: caller contract: `p` is a live block of class c from us.
        Some(c) => unsafe { free_class(c, p, layout.size()) },
        // SAFETY: caller contract: a large block of ours.
        None => unsafe { heap().free_large(p) },
    }
}

// SAFETY: every block returned is valid for its layout until freed, distinct
// from all other live blocks (slabs hand each block to one cache at a time),
// and aligned as asked (see size_class and large); failures return null.
unsafe impl GlobalAlloc for HakMem {
    /// The fast path: a table lookup and a thread-local list pop. Every other
    /// case is a tail call, so the inline part needs no stack frame.
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match common_class(layout) {
            Some(c) => alloc_sized(c, layout.size()),
            None => alloc_uncommon(layout),
        }
    }

    /// The fast path: a table lookup and a thread-local list push.
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match common_class(layout) {
            // SAFETY: caller contract: `ptr` is a live block of class c from us.
            Some(c) => unsafe { free_class(c, ptr, layout.size()) },
            // SAFETY: caller contract.
            None => unsafe { dealloc_uncommon(ptr, layout) },
        }
    }

    /// Small requests below 1 KiB: the fast path and a memset. Others: the
    /// heap, which skips the memset for memory known fresh from the OS.
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() < crate::heap::ZERO_CARVE_MIN {
            if let Some(c) = common_class(layout) {
                let p = alloc_sized(c, layout.size());
                if !p.is_null() {
                    // SAFETY: a block of at least layout.size() bytes.
                    unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
                }
                return p;
            }
        }
        alloc_zeroed_uncommon(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        tls::ensure_registered(on_thread_exit);
        // SAFETY: caller contract forwarded; the cache reference lives only
        // for this call and nothing below re-enters the global allocator.
        unsafe { heap().realloc(&mut *tls::cache(), ptr, layout, new_size) }
    }
}

impl HakMem {
    /// Statistics of the global heap.
    pub fn stats() -> Stats {
        heap().stats()
    }

    /// Print the statistics of the global heap to stderr.
    pub fn print_stats() {
        crate::stats::print(&heap().stats());
    }

    /// Give retained memory (cached SuperSlabs and large mappings) back to the OS now.
    pub fn trim() {
        heap().trim();
    }

    /// Flush the calling thread's cache now (what thread exit does).
    pub fn flush_thread_cache() {
        // SAFETY: no other reference to this thread's cache is live here.
        heap().thread_exit(unsafe { &mut *tls::cache() });
    }
}
