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

use crate::heap::{poison, set_canary, Heap, SIZE_UNKNOWN};
use crate::lookup::Kind;
use crate::mitigations;
use crate::options::Options;
use crate::platform::OsPages;
use crate::size_class::{class_of, class_or_uncommon, UNCOMMON};
use crate::stats::Stats;
use crate::sync::{AtomicU8, Ordering, UnsafeCell};
use crate::tcache::tls;
use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;

/// The hakmem global allocator. `#[global_allocator] static G: HakMem = HakMem;`
#[derive(Clone, Copy, Debug, Default)]
pub struct HakMem;

/// All zero bytes, so the static lands in `.bss`: its pages are the kernel's
/// zero pages until written (see `init_heap`).
struct LazyHeap {
    state: AtomicU8,
    heap: UnsafeCell<MaybeUninit<Heap<OsPages>>>,
}

/// Options from [`HakMem::configure`], the base the environment overrides;
/// guarded by [`HEAP`]'s `state` (only the thread that moved it from
/// UNINIT to BUSY touches it). Apart from the heap, whose static would
/// otherwise leave `.bss`.
struct Config(UnsafeCell<Options>);

// SAFETY: the heap is written once before `state` becomes READY (Release) and
// only read after observing READY (Acquire); Heap itself is Sync.
unsafe impl Sync for LazyHeap {}
// SAFETY: see `Config`: one thread at a time, serialised by `HEAP.state`.
unsafe impl Sync for Config {}

const UNINIT: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

static HEAP: LazyHeap = LazyHeap {
    state: AtomicU8::new(UNINIT),
    // Zeroed, not uninit: `init_heap` builds the heap in place and leaves
    // the page map's zero bytes (an empty map) as they are.
    heap: UnsafeCell::new(MaybeUninit::zeroed()),
};

static CONFIG: Config = Config(UnsafeCell::new(Options::DEFAULT));

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
                crate::platform::check_page_size();
                // SAFETY: BUSY gives this thread exclusive access to `config`.
                let opts = CONFIG.0.with(|c| unsafe { *c }).with_env();
                // In place: a heap by value would pass its 70 KiB through the
                // stack and write every page of the static (the page map's
                // top level is 64 KiB, nearly all of it never used).
                // SAFETY: BUSY gives this thread exclusive access; nobody reads
                // the cell before READY. The cell holds no heap yet and is
                // zeroed (its initialiser), the page map included.
                HEAP.heap.with_mut(|p| unsafe { Heap::init_at((*p).as_mut_ptr(), OsPages, opts, true) });
                // SAFETY: initialised just above; still exclusive.
                let stats_at_exit =
                    HEAP.heap.with(|p| unsafe { (*p).assume_init_ref() }).pool().options().stats_at_exit;
                HEAP.state.store(READY, Ordering::Release);
                #[cfg(unix)]
                crate::fork::install();
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

/// [`HakMem::configure`] was called after the global heap started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigureError {
    /// The heap is already serving allocations with the options it started
    /// with (the first allocation, or a `stats`/`trim` call, starts it).
    HeapLive,
}

impl core::fmt::Display for ConfigureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigureError::HeapLive => {
                f.write_str("hakmem: the heap is already live; configure it before the first allocation")
            }
        }
    }
}

impl std::error::Error for ConfigureError {}

extern "C" fn print_stats_at_exit() {
    crate::stats::print(&heap().stats());
}

unsafe extern "C" fn on_thread_exit(_: *mut libc::c_void) {
    let tc = tls::cache();
    // SAFETY: the exit hook runs on the exiting thread, which holds no other
    // reference to its cache at this point; the thread's cache is only ever
    // used with the global heap.
    unsafe { heap().thread_exit(&mut *tc) };
    tls::mark_unregistered();
    tls::mark_exited();
}

/// After this thread's exit hook has run (a free or allocation made by a
/// later TLS destructor), flush the cache after each slow-path operation:
/// the hook may never run again. Such a thread's every operation takes the
/// slow path (its bins have limit 0), so nothing is left cached.
#[inline]
fn flush_if_exited() {
    if tls::exited() {
        late_flush();
    }
}

#[cold]
#[inline(never)]
fn late_flush() {
    // SAFETY: no other reference to this thread's cache is live here, and
    // it is only ever used with the global heap.
    unsafe { heap().thread_exit(&mut *tls::cache()) };
}

#[cold]
#[inline(never)]
fn alloc_small_slow(c: usize) -> *mut u8 {
    // SAFETY: the thread's cache, no other reference live; first, before a
    // nested allocation can use the bin the pop left below its array.
    unsafe { (*tls::cache()).after_empty_pop(c) };
    tls::ensure_registered(on_thread_exit);
    // SAFETY: no other reference to this thread's cache is live (the caller
    // dropped its use before calling; registration may re-enter and finish).
    let p = heap().refill(unsafe { &mut *tls::cache() }, c);
    flush_if_exited();
    p
}

/// The free slow path (see [`Heap::drain`]).
///
/// # Safety
/// As [`free_class`].
#[cold]
#[inline(never)]
unsafe fn free_small_slow(c: usize, p: *mut u8) {
    // SAFETY: the thread's cache, no other reference live; first, before a
    // nested call can use the bin the declined push left one entry high.
    unsafe { (*tls::cache()).after_declined_push(c) };
    tls::ensure_registered(on_thread_exit);
    // SAFETY: as in alloc_small_slow; `p` per the caller's contract.
    unsafe { heap().drain(&mut *tls::cache(), c, p.cast()) };
    flush_if_exited();
}

#[cold]
#[inline(never)]
fn alloc_large(layout: Layout, zero: bool) -> *mut u8 {
    heap().alloc_large(layout, zero)
}

/// The class of a common layout, or [`UNCOMMON`] (see
/// [`class_or_uncommon`]): with the canary on, one byte more than asked.
#[inline(always)]
fn common_class(layout: Layout) -> usize {
    class_or_uncommon(layout.size() + mitigations::CANARY as usize, layout.align())
}

/// Whether a free runs checks before its push (they need a real class, so
/// an [`UNCOMMON`] layout goes to [`dealloc_uncommon`] first).
const CHECKS_BEFORE_PUSH: bool = mitigations::CHECK_FREE_POINTER
    || mitigations::CHECK_FREE_CLASS
    || mitigations::CANARY
    || mitigations::POISON_FREED;

/// `alloc`'s slow path: the layout is not served by a class's bin
/// ([`UNCOMMON`]: its bin is always empty), or the bin is empty.
#[cold]
#[inline(never)]
fn alloc_common_slow(c: usize, layout: Layout) -> *mut u8 {
    if c == UNCOMMON {
        // SAFETY: as in `alloc_small_slow` (which does this for a class).
        unsafe { (*tls::cache()).after_empty_pop(c) };
        return alloc_uncommon(layout);
    }
    let p = alloc_small_slow(c);
    if mitigations::CANARY && !p.is_null() {
        // SAFETY: a fresh block of class c, which holds size + 1 bytes.
        unsafe { set_canary(p, layout.size()) };
    }
    p
}

/// `dealloc`'s slow path: the layout is not served by a class's bin
/// ([`UNCOMMON`]: its pushes always decline, leaving `p` untouched), or the
/// push asks for a drain.
///
/// # Safety
/// As [`GlobalAlloc::dealloc`].
#[cold]
#[inline(never)]
unsafe fn dealloc_common_slow(c: usize, p: *mut u8, layout: Layout) {
    if c == UNCOMMON {
        // SAFETY: caller contract; the thread's cache, no other reference
        // live (`free_small_slow` does this for a class).
        unsafe {
            (*tls::cache()).after_declined_push(c);
            return dealloc_uncommon(p, layout);
        }
    }
    // SAFETY: caller contract: a live block of class c (checked by the push).
    unsafe { free_small_slow(c, p) }
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
            free_small_slow(c, p);
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
    // The thread's cache is only ever used with the global heap.
    let p = unsafe { heap().alloc_zeroed(&mut *tls::cache(), layout) };
    flush_if_exited();
    p
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
    /// The fast path: a table lookup and a thread-local magazine pop. Every other
    /// case is a tail call, so the inline part needs no stack frame.
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let c = common_class(layout);
        // SAFETY: the thread's cache, used only for the duration of this call.
        let p = unsafe { (*tls::cache()).pop(c) };
        if p.is_null() {
            return alloc_common_slow(c, layout);
        }
        if mitigations::CANARY {
            // SAFETY: a fresh block of class c, which holds size + 1 bytes.
            unsafe { set_canary(p, layout.size()) };
        }
        p
    }

    /// The fast path: a table lookup and a thread-local magazine push.
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let c = common_class(layout);
        if CHECKS_BEFORE_PUSH && c == UNCOMMON {
            // SAFETY: caller contract.
            return unsafe { dealloc_uncommon(ptr, layout) };
        }
        // SAFETY: caller contract: `ptr` is a live block of class c from us
        // (or, for UNCOMMON, a block the push leaves untouched); the checks
        // abort on pointers that are not.
        unsafe {
            heap_checks(ptr, c, layout.size());
            poison(ptr, c);
            if (*tls::cache()).push(c, ptr, |b, d| heap().suspect_double_free(b, d, "double free detected")) {
                dealloc_common_slow(c, ptr, layout);
            }
        }
    }

    /// Small requests below 1 KiB: the fast path and a memset. Others: the
    /// heap, which skips the memset for memory known fresh from the OS.
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() < crate::heap::ZERO_CARVE_MIN {
            let c = common_class(layout);
            if c != UNCOMMON {
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
        let q = unsafe { heap().realloc(&mut *tls::cache(), ptr, layout, new_size) };
        flush_if_exited();
        q
    }
}

/// Free a block known only by its address (C `free`, `realloc`): the page
/// map gives a small block's class, the header a large block's mapping; a
/// pointer that is neither aborts with `hakmem: invalid free at <p>`.
///
/// # Safety
/// `p` is non-null; if it is a block of ours, it is live and not used afterwards.
pub(crate) unsafe fn free_unsized(p: *mut u8) {
    match crate::lookup::classify(heap(), p, true) {
        // SAFETY: classify checked that `p` is a block boundary of class c in
        // an active slab; the caller gives it up.
        Kind::Small(c) => unsafe { free_class(c, p, SIZE_UNKNOWN) },
        // SAFETY: a page-aligned pointer whose header page is mapped; the
        // large manager validates the header (and aborts on a bad one).
        Kind::Large => unsafe { heap().free_large(p) },
    }
}

/// Give back small block `p` of class `c` (already classified).
///
/// # Safety
/// As [`free_class`].
pub(crate) unsafe fn free_small(c: usize, p: *mut u8) {
    // SAFETY: caller contract.
    unsafe { free_class(c, p, SIZE_UNKNOWN) }
}

impl HakMem {
    /// Set the options the global heap starts with. It must run before the
    /// first allocation, and the Rust runtime allocates before `main` (std
    /// names the main thread), so call it from a constructor: a function in
    /// `.init_array`, which the C runtime runs before Rust's `main` wrapper.
    /// The `HAKMEM_*` environment still overrides each variable that is set,
    /// so an operator can tune a deployed binary. Calling it again before the
    /// heap starts replaces the earlier options.
    ///
    /// ```no_run
    /// use hakmem_alloc::{HakMem, Options};
    ///
    /// #[global_allocator]
    /// static GLOBAL: HakMem = HakMem;
    ///
    /// // Edition 2024 spells the attribute `#[unsafe(link_section = ".init_array")]`.
    /// #[used]
    /// #[link_section = ".init_array"]
    /// static CONFIGURE_HAKMEM: extern "C" fn() = {
    ///     extern "C" fn configure() {
    ///         let opts = Options::DEFAULT.with_retain_bytes(64 << 20).with_huge_pages(false);
    ///         if HakMem::configure(opts).is_err() {
    ///             // Something allocated earlier (another constructor):
    ///             // the heap runs with the environment's options.
    ///         }
    ///     }
    ///     configure
    /// };
    ///
    /// fn main() {
    ///     assert!(!HakMem::options().huge_pages);
    /// }
    /// ```
    ///
    /// # Errors
    /// [`ConfigureError::HeapLive`] once the heap has started; the options are
    /// then left as they are.
    pub fn configure(opts: Options) -> Result<(), ConfigureError> {
        loop {
            match HEAP.state.compare_exchange(UNINIT, BUSY, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => {
                    // SAFETY: BUSY gives this thread exclusive access to `config`.
                    CONFIG.0.with_mut(|c| unsafe { *c = opts });
                    HEAP.state.store(UNINIT, Ordering::Release);
                    return Ok(());
                }
                Err(READY) => return Err(ConfigureError::HeapLive),
                Err(_) => crate::sync::spin_loop(),
            }
        }
    }

    /// The options the global heap runs with (starting it if needed): the
    /// configured ones with the environment applied.
    pub fn options() -> Options {
        *heap().pool().options()
    }

    /// Usable size of a live block from its address alone (what C's
    /// `malloc_usable_size` returns): the class size for a small block (its
    /// SuperSlab found through the page map), the rest of the mapping for a
    /// large one (from its header). 0 for null. A pointer that is not a
    /// block of ours aborts with `hakmem: invalid free at <ptr>`.
    ///
    /// With the `secure` feature a small block carries a canary byte right
    /// after the size it was allocated with: the bytes past that size are
    /// reported but not writable, and a write there aborts at the `dealloc`
    /// (C's `free`, which knows no size, does not check the canary).
    ///
    /// # Safety
    /// `ptr` is null or a live block allocated through `HakMem` (or the C API).
    pub unsafe fn usable_size(ptr: *const u8) -> usize {
        if ptr.is_null() {
            return 0;
        }
        match crate::lookup::classify(heap(), ptr, true) {
            Kind::Small(c) => crate::size_class::class_size(c),
            // SAFETY: a page-aligned pointer whose header page is mapped; the
            // header is validated before use.
            Kind::Large => unsafe { heap().large().usable_size(ptr.cast_mut()) },
        }
    }

    /// Statistics of the global heap.
    pub fn stats() -> Stats {
        heap().stats()
    }

    /// Print the statistics of the global heap to stderr.
    pub fn print_stats() {
        crate::stats::print(&heap().stats());
    }

    /// Give back to the OS now everything that can go: abandoned slabs whose
    /// blocks have all come back, retained SuperSlabs, cached large mappings.
    /// Blocks cached by live threads stay (each thread's
    /// [`HakMem::flush_thread_cache`] returns its own).
    pub fn trim() {
        heap().trim();
    }

    /// Flush the calling thread's cache now (what thread exit does) and
    /// release the abandoned slabs whose blocks have all come back.
    pub fn flush_thread_cache() {
        // SAFETY: no other reference to this thread's cache is live here,
        // and it is only ever used with the global heap.
        unsafe { heap().flush(&mut *tls::cache()) };
    }
}
