//! Platform layer: the [`PageSource`] trait through which every byte of memory
//! (SuperSlabs, metadata, large blocks) is obtained, and the few process
//! services the allocator needs (environment, stderr, thread-exit hook, clock).
//!
//! No other module calls the OS. [`OsPages`] is the production source (libc
//! `mmap`/`munmap`/`madvise`/`mremap`); [`MockPages`] is a heap-backed source
//! for tests, models and miri that also checks every SuperSlab access against
//! its set of live mappings, so "a retired SuperSlab is never touched" is an
//! assertion rather than a hope.

mod mock;
#[cfg(unix)]
mod unix;

pub use mock::MockPages;
#[cfg(unix)]
pub use unix::{
    getenv, is_mapped, now_ns, on_fork, on_process_exit, page_size, populate_write, random_word, Populated, register_thread_exit,
    resident_bytes, set_errno,
    thread_exit_key_fork_lock, thread_exit_key_fork_unlock, write_stderr, OsPages,
};

/// Stop the process with one line on stderr unless the kernel's pages are
/// the [`PAGE_SIZE`](crate::config::PAGE_SIZE) bytes the allocator is built
/// for (large-block headers, mapping alignment and trimming all assume it).
/// Called once, when the global heap starts.
#[cfg(unix)]
#[cfg_attr(any(feature = "loom", feature = "shuttle"), allow(dead_code))]
pub(crate) fn check_page_size() {
    if let Err(size) = page_size_ok(page_size()) {
        crate::out::eprintln(format_args!(
            "hakmem: unsupported page size {size} bytes (built for {} bytes); see the README, Platforms",
            crate::config::PAGE_SIZE
        ));
        std::process::abort();
    }
}

/// `Ok` if the allocator works on pages of `size` bytes, `Err(size)` if not.
pub(crate) fn page_size_ok(size: usize) -> Result<(), usize> {
    if size == crate::config::PAGE_SIZE {
        Ok(())
    } else {
        Err(size)
    }
}

/// A source of zeroed, page-aligned memory.
///
/// # Safety
/// Implementations must return memory that is zeroed, aligned as asked,
/// exclusively owned by the caller until passed back to `unmap`, and never
/// obtained through Rust's global allocator (the allocator may *be* the global
/// allocator).
pub unsafe trait PageSource: Sync {
    /// Map `len` bytes (a multiple of the page size), aligned to `align` (a power
    /// of two, at least the page size), zero-filled. Null on failure.
    fn map(&self, len: usize, align: usize) -> *mut u8;

    /// Give a mapping back.
    ///
    /// # Safety
    /// `ptr`/`len` must be exactly a mapping returned by `map` (or `remap`) of
    /// this source, not yet unmapped, and nothing may touch it afterwards.
    unsafe fn unmap(&self, ptr: *mut u8, len: usize);

    /// Return the physical pages of a range to the OS; it reads as zero later.
    ///
    /// # Safety
    /// The range must lie inside a live mapping of this source and hold no data
    /// anyone still needs.
    unsafe fn purge(&self, ptr: *mut u8, len: usize);

    /// Resize a mapping, moving it if needed; null if unsupported or failed (the
    /// old mapping is then untouched).
    ///
    /// # Safety
    /// `ptr`/`old_len` must be a live mapping of this source.
    unsafe fn remap(&self, _ptr: *mut u8, _old_len: usize, _new_len: usize) -> *mut u8 {
        core::ptr::null_mut()
    }

    /// Hint that a range will be used densely (transparent huge pages where
    /// the OS offers them on request). Default: nothing.
    ///
    /// # Safety
    /// The range must lie inside a live mapping of this source.
    unsafe fn hint_dense(&self, _ptr: *mut u8, _len: usize) {}

    /// Map a range's pages in for writing now, leaving its contents as they
    /// are (a program about to read and then write fresh zeroed memory takes
    /// one system call instead of two page faults per page). Best effort:
    /// where the OS cannot do it, nothing happens. Default: nothing.
    ///
    /// # Safety
    /// The range must be whole pages inside a live mapping of this source.
    unsafe fn prefault(&self, _ptr: *mut u8, _len: usize) {}

    /// Make whole pages inaccessible (a guard page) or accessible again.
    /// Default: nothing (a source without protection has no guard pages).
    ///
    /// # Safety
    /// The range must be whole pages inside a live mapping of this source
    /// that nobody accesses while it is inaccessible.
    unsafe fn protect(&self, _ptr: *mut u8, _len: usize, _accessible: bool) {}

    /// Checking hook called before the pool hands out a slab at `ptr`: a checking
    /// source panics if the range is not inside a live mapping. The OS source
    /// does nothing.
    #[inline(always)]
    fn check_mapped(&self, _ptr: *const u8, _len: usize) {}

    /// A monotonic clock in nanoseconds (drives the purge delay).
    fn now_ns(&self) -> u64;

    /// Resident memory of the process, in bytes, for statistics; 0 where the
    /// source cannot tell (the default).
    fn resident_bytes(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_4k_pages_are_accepted() {
        assert_eq!(super::page_size_ok(4096), Ok(()));
        for other in [16 << 10, 64 << 10, 0] {
            assert_eq!(super::page_size_ok(other), Err(other));
        }
    }

    #[cfg(unix)]
    #[test]
    fn this_machine_passes_the_start_up_check() {
        assert_eq!(super::page_size(), 4096);
        super::check_page_size();
    }
}
