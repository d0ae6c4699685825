//! The C malloc API over the global heap, with glibc's semantics: the one
//! implementation behind both `libhakmem.so` (the `capi/` package) and the
//! `override` feature, which export it under the C names through
//! [`export_c_api!`](crate::export_c_api) (one-line forwards, as snmalloc's
//! `override/` shims over its `libc.h`).
//!
//! Rules (glibc's, x86-64):
//! * every block is aligned to 16; `malloc(0)` returns a unique pointer;
//!   `free(NULL)` does nothing;
//! * a request that cannot be served returns null with `errno = ENOMEM`,
//!   including `calloc`/`reallocarray` whose product overflows;
//! * `realloc(p, 0)` with `p` non-null frees `p` and returns null;
//!   `realloc(NULL, n)` is `malloc(n)`; a failed `realloc` leaves `p` intact;
//! * `posix_memalign` with an alignment that is not a power of two multiple
//!   of `sizeof(void *)` returns `EINVAL` and leaves `errno` alone;
//!   `aligned_alloc` with a non-power-of-two alignment returns null with
//!   `errno = EINVAL`; `memalign` rounds such an alignment up;
//!   `valloc`/`pvalloc` align to the page (`pvalloc` also rounds the size);
//! * `malloc_usable_size(NULL)` is 0; `free_sized`/`free_aligned_sized` free
//!   (a small block too small for the size given aborts);
//! * `malloc_trim` gives retained memory back (returns 1 if any went);
//!   `mallopt` accepts and ignores; `mallinfo2`/`mallinfo` report our figures.
//!
//! A pointer that arrives here is untrusted until the page map (small
//! blocks) or a mapped large-block header accepts it (`crate::lookup`);
//! otherwise the process aborts with `hakmem: invalid free at 0x...`.
//! Nothing here panics, and nothing unwinds across `extern "C"` (an
//! unwinding panic there aborts).

mod export;

use crate::config::{MAX_SMALL, PAGE_SIZE};
use crate::global::{free_small, free_unsized, heap};
use crate::lookup::{classify, Kind};
use crate::platform::set_errno;
use crate::size_class::class_size;
use crate::HakMem;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_int, c_void};
use core::ptr::null_mut;

/// glibc's `MALLOC_ALIGNMENT` on 64-bit targets.
const MIN_ALIGN: usize = 16;

#[cold]
fn fail(e: c_int) -> *mut c_void {
    set_errno(e);
    null_mut()
}

/// A block of `size` bytes at `align` (a power of two), or null (errno untouched).
#[inline]
fn alloc_raw(size: usize, align: usize, zero: bool) -> *mut c_void {
    // At least 16 bytes, so the fast path's 16-byte-aligned classes serve it.
    let Ok(layout) = Layout::from_size_align(size.max(MIN_ALIGN), align.max(MIN_ALIGN)) else {
        return null_mut();
    };
    // SAFETY: the layout has a non-zero size.
    unsafe {
        if zero {
            HakMem.alloc_zeroed(layout).cast()
        } else {
            HakMem.alloc(layout).cast()
        }
    }
}

#[inline]
fn alloc_or_enomem(size: usize, align: usize, zero: bool) -> *mut c_void {
    let p = alloc_raw(size, align, zero);
    if p.is_null() {
        return fail(libc::ENOMEM);
    }
    p
}

/// C `malloc`.
#[inline]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    alloc_or_enomem(size, MIN_ALIGN, false)
}

/// C `calloc`.
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => alloc_or_enomem(total, MIN_ALIGN, true),
        None => fail(libc::ENOMEM),
    }
}

/// C `free`.
///
/// # Safety
/// `p` is null or a live block of this allocator that is not used afterwards
/// (anything else aborts, or is undefined as in C).
#[inline]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: caller contract.
        unsafe { free_unsized(p.cast()) };
    }
}

/// C23 `free_sized`: frees; a small block whose class cannot hold `size`
/// aborts with `hakmem: free_sized with a size larger than the block at 0x...`.
///
/// The size does not pick the class: a block's class is not a function of
/// the size the program passes (a `realloc` that shrinks in place keeps the
/// block, `aligned_alloc` picks a class for size and alignment), so the
/// class comes from the pointer as in [`free`], and the size is only checked
/// against it (one compare). Large blocks are not checked: their size is in
/// the header, which the large manager reads (and validates) when it frees.
///
/// # Safety
/// As [`free`].
pub unsafe extern "C" fn free_sized(p: *mut c_void, size: usize) {
    if p.is_null() {
        return;
    }
    let q: *mut u8 = p.cast();
    match classify(heap(), q, true) {
        Kind::Small(c) => {
            if size > class_size(c) {
                wrong_size(q);
            }
            // SAFETY: classify checked that `q` is a block boundary of class
            // c in an active slab; the caller gives it up.
            unsafe { free_small(c, q) }
        }
        // SAFETY: a page-aligned pointer whose header page is mapped; the
        // large manager validates the header (and aborts on a bad one).
        Kind::Large => unsafe { heap().free_large(q) },
    }
}

#[cold]
fn wrong_size(p: *const u8) -> ! {
    crate::out::fatal("free_sized with a size larger than the block", p)
}

/// C23 `free_aligned_sized`: frees, with [`free_sized`]'s size check.
///
/// # Safety
/// As [`free`].
pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, _align: usize, size: usize) {
    // SAFETY: caller contract.
    unsafe { free_sized(p, size) }
}

/// C `realloc`.
///
/// # Safety
/// `p` is null or a live block of this allocator; on success it is not used afterwards.
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return malloc(size);
    }
    if size == 0 {
        // glibc: realloc(p, 0) frees and returns NULL.
        // SAFETY: caller contract.
        unsafe { free(p) };
        return null_mut();
    }
    let old: *mut u8 = p.cast();
    let kind = classify(heap(), old, true);
    let usable = match kind {
        Kind::Small(c) => {
            let cs = class_size(c);
            // Fits, and not so much smaller that half the block is wasted.
            if size <= cs && size >= cs / 2 {
                return p;
            }
            cs
        }
        Kind::Large => {
            if size > MAX_SMALL {
                // SAFETY: a page-aligned pointer with a mapped header page,
                // which the large manager validates; at page alignment the
                // block may be resized in place or remapped (C's realloc
                // promises only malloc's alignment).
                let q = unsafe { heap().large().realloc(heap().pages(), old, size, PAGE_SIZE) };
                if !q.is_null() {
                    return q.cast();
                }
            }
            // SAFETY: as above.
            unsafe { heap().large().usable_size(old) }
        }
    };
    let q = alloc_raw(size, MIN_ALIGN, false);
    if q.is_null() {
        return fail(libc::ENOMEM);
    }
    // SAFETY: both blocks are live and distinct; the old one holds `usable`
    // bytes and the new one at least `size`.
    unsafe {
        core::ptr::copy_nonoverlapping(old, q.cast::<u8>(), usable.min(size));
        match kind {
            Kind::Small(c) => free_small(c, old),
            Kind::Large => heap().free_large(old),
        }
    }
    q
}

/// C `reallocarray` (glibc, BSD).
///
/// # Safety
/// As [`realloc`].
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: caller contract.
        Some(total) => unsafe { realloc(p, total) },
        None => fail(libc::ENOMEM),
    }
}

/// POSIX `posix_memalign`: 0, `EINVAL` (bad alignment; `errno` untouched) or `ENOMEM`.
///
/// # Safety
/// `out` is valid for writing a pointer.
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    let p = alloc_raw(size, align, false);
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: caller contract.
    unsafe { *out = p };
    0
}

/// C11 `aligned_alloc`: a non-power-of-two alignment fails with `EINVAL` (glibc 2.38).
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        return fail(libc::EINVAL);
    }
    alloc_or_enomem(size, align, false)
}

/// `memalign`: an alignment that is not a power of two is rounded up to one;
/// one above `SIZE_MAX / 2 + 1` fails with `EINVAL` (glibc).
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    match align.checked_next_power_of_two() {
        Some(a) => alloc_or_enomem(size, a, false),
        None => fail(libc::EINVAL),
    }
}

/// `valloc`: page-aligned.
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    alloc_or_enomem(size, PAGE_SIZE, false)
}

/// `pvalloc`: page-aligned, the size rounded up to whole pages (0 -> one page).
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    match size.max(1).checked_next_multiple_of(PAGE_SIZE) {
        Some(s) => alloc_or_enomem(s, PAGE_SIZE, false),
        None => fail(libc::ENOMEM),
    }
}

/// `malloc_usable_size`: 0 for null.
///
/// # Safety
/// `p` is null or a live block of this allocator.
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    // SAFETY: caller contract.
    unsafe { HakMem::usable_size(p.cast()) }
}

/// `malloc_trim`: give retained memory back now; 1 if any went back.
pub extern "C" fn malloc_trim(_pad: usize) -> c_int {
    let before = heap().stats().mapped_bytes;
    heap().trim();
    c_int::from(heap().stats().mapped_bytes < before)
}

/// `mallopt`: accepted and ignored (returns 1, success).
pub extern "C" fn mallopt(_param: c_int, _value: c_int) -> c_int {
    1
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MallInfo2 {
    /// Bytes mapped for small blocks (SuperSlabs, live and cached).
    pub arena: usize,
    /// Live SuperSlabs.
    pub ordblks: usize,
    /// Cached (retained) SuperSlabs.
    pub smblks: usize,
    /// Not tracked: 0.
    pub hblks: usize,
    /// Bytes mapped for large blocks.
    pub hblkhd: usize,
    /// Unused: 0.
    pub usmblks: usize,
    /// Unused: 0.
    pub fsmblks: usize,
    /// Bytes in use: large blocks' requested bytes, plus small blocks' with the `stats` feature.
    pub uordblks: usize,
    /// Mapped bytes not in use.
    pub fordblks: usize,
    /// Bytes `malloc_trim` could give back: retained SuperSlabs.
    pub keepcost: usize,
}

/// glibc's `mallinfo2`, from our statistics.
pub extern "C" fn mallinfo2() -> MallInfo2 {
    let s = heap().stats();
    let ss = crate::config::SUPERSLAB_SIZE as u64;
    let used = s.large_live_bytes + s.allocated_small_bytes;
    let z = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    MallInfo2 {
        arena: z(s.superslab_mapped_bytes),
        ordblks: z(s.pool.live_superslabs),
        smblks: z(s.pool.cached_superslabs),
        hblks: 0,
        hblkhd: z(s.large_mapped_bytes),
        usmblks: 0,
        fsmblks: 0,
        uordblks: z(used),
        fordblks: z(s.mapped_bytes.saturating_sub(used)),
        keepcost: z(s.pool.cached_superslabs * ss),
    }
}

/// glibc's deprecated `struct mallinfo` (`int` fields, saturated).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MallInfo {
    /// As [`MallInfo2`], each field saturated to `int`.
    pub fields: [c_int; 10],
}

/// glibc's deprecated `mallinfo`.
pub extern "C" fn mallinfo() -> MallInfo {
    let m = mallinfo2();
    let v = [m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks, m.fordblks, m.keepcost];
    MallInfo { fields: v.map(|x| c_int::try_from(x).unwrap_or(c_int::MAX)) }
}
