//! [`MockPages`]: a page source backed by `std::alloc::System` (never the Rust
//! global allocator), for tests, loom/shuttle models, the fuzzer and miri.
//!
//! It records every live mapping and panics with `hakmem mock: touched
//! unmapped memory at ...` when the pool is about to hand out a slab that is
//! not inside one: the observable form of the seed's crash (a Stage 1 pop that
//! uses a retired SuperSlab). It can also fail on demand to test out-of-memory
//! paths.

use super::PageSource;
use crate::sync::unmodeled::SpinLock;
use std::alloc::{GlobalAlloc, Layout, System};

/// A growable array of `Copy` values stored in `System` memory.
struct SysVec<T: Copy> {
    ptr: *mut T,
    len: usize,
    cap: usize,
}

impl<T: Copy> SysVec<T> {
    const fn new() -> Self {
        Self { ptr: core::ptr::null_mut(), len: 0, cap: 0 }
    }

    fn as_slice(&self) -> &[T] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: ptr holds `len` initialised values (maintained by insert/remove).
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn insert(&mut self, at: usize, v: T) {
        if self.len == self.cap {
            let cap = (self.cap * 2).max(16);
            let new = Layout::array::<T>(cap).expect("mock bookkeeping size");
            // SAFETY: System is a valid allocator; old block (if any) was made
            // with the layout for `self.cap` elements.
            let p = unsafe {
                if self.ptr.is_null() {
                    System.alloc(new)
                } else {
                    System.realloc(self.ptr.cast(), Layout::array::<T>(self.cap).unwrap(), new.size())
                }
            };
            assert!(!p.is_null(), "mock bookkeeping out of memory");
            self.ptr = p.cast();
            self.cap = cap;
        }
        // SAFETY: at <= len < cap; shifting the initialised tail by one stays in bounds.
        unsafe {
            core::ptr::copy(self.ptr.add(at), self.ptr.add(at + 1), self.len - at);
            self.ptr.add(at).write(v);
        }
        self.len += 1;
    }

    fn remove(&mut self, at: usize) {
        assert!(at < self.len);
        // SAFETY: at < len; the shifted tail is initialised.
        unsafe { core::ptr::copy(self.ptr.add(at + 1), self.ptr.add(at), self.len - at - 1) };
        self.len -= 1;
    }
}

impl<T: Copy> Drop for SysVec<T> {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: allocated by System with this layout.
            unsafe { System.dealloc(self.ptr.cast(), Layout::array::<T>(self.cap).unwrap()) };
        }
    }
}

#[derive(Clone, Copy)]
struct Region {
    base: usize,
    len: usize,
    /// What System returned (the aligned base lies inside it).
    raw: usize,
    raw_len: usize,
}

struct State {
    live: SysVec<Region>,
    mapped: usize,
    maps: u64,
    unmaps: u64,
    fail_after: Option<u64>,
    clock: u64,
    hinted: usize,
    prefaulted: usize,
}

/// Heap-backed, self-checking page source.
pub struct MockPages {
    st: SpinLock<State>,
}

// SAFETY: SysVec holds raw pointers to System memory owned by the lock's state.
unsafe impl Send for State {}

impl Default for MockPages {
    fn default() -> Self {
        Self::new()
    }
}

impl MockPages {
    /// A new source with no mappings.
    pub const fn new() -> Self {
        Self {
            st: SpinLock::new(State {
                live: SysVec::new(),
                mapped: 0,
                maps: 0,
                unmaps: 0,
                fail_after: None,
                clock: 0,
                hinted: 0,
                prefaulted: 0,
            }),
        }
    }

    /// Make every `map` after the next `n` successful ones fail (out of memory).
    pub fn fail_after(&self, n: u64) {
        self.st.with(|s| s.fail_after = Some(s.maps + n));
    }

    /// Bytes currently mapped.
    pub fn mapped_bytes(&self) -> usize {
        self.st.with(|s| s.mapped)
    }

    /// Number of live mappings.
    pub fn live_mappings(&self) -> usize {
        self.st.with(|s| s.live.len)
    }

    /// Total successful `map` and `unmap` calls.
    pub fn counts(&self) -> (u64, u64) {
        self.st.with(|s| (s.maps, s.unmaps))
    }

    /// Whether `[ptr, ptr+len)` lies inside one live mapping.
    pub fn is_mapped(&self, ptr: *const u8, len: usize) -> bool {
        let p = ptr as usize;
        self.st.with(|s| {
            let v = s.live.as_slice();
            let i = v.partition_point(|r| r.base <= p);
            i > 0 && {
                let r = v[i - 1];
                p + len <= r.base + r.len
            }
        })
    }

    /// Total bytes passed to `hint_dense` (huge-page advice) so far.
    pub fn hinted_bytes(&self) -> usize {
        self.st.with(|s| s.hinted)
    }

    /// Total bytes passed to `prefault` so far.
    pub fn prefaulted_bytes(&self) -> usize {
        self.st.with(|s| s.prefaulted)
    }

    /// Advance the mock clock (purge-delay tests).
    pub fn advance_clock(&self, ns: u64) {
        self.st.with(|s| s.clock += ns);
    }
}

// SAFETY: memory comes from System (not the global allocator), zeroed and
// aligned as requested, and is tracked until unmapped.
unsafe impl PageSource for MockPages {
    fn map(&self, len: usize, align: usize) -> *mut u8 {
        if self.st.with(|s| s.fail_after.is_some_and(|f| s.maps >= f)) {
            return core::ptr::null_mut();
        }
        // Over-allocate with a small alignment so System takes its calloc path
        // (fresh zero pages, no memset), then align by hand.
        let Some(raw_len) = len.checked_add(align) else { return core::ptr::null_mut() };
        let Ok(layout) = Layout::from_size_align(raw_len, 16) else { return core::ptr::null_mut() };
        // SAFETY: raw_len > 0.
        let raw = unsafe { System.alloc_zeroed(layout) };
        if raw.is_null() {
            return raw;
        }
        // Keep the pointer's provenance (Miri): offset `raw` rather than cast an integer.
        let p = raw.wrapping_add((align - (raw as usize & (align - 1))) & (align - 1));
        self.st.with(|s| {
            let at = s.live.as_slice().partition_point(|r| r.base < p as usize);
            s.live.insert(at, Region { base: p as usize, len, raw: raw as usize, raw_len });
            s.mapped += len;
            s.maps += 1;
        });
        p
    }

    unsafe fn unmap(&self, ptr: *mut u8, len: usize) {
        let region = self.st.with(|s| {
            let v = s.live.as_slice();
            let at = v.partition_point(|r| r.base < ptr as usize);
            assert!(
                at < v.len() && v[at].base == ptr as usize && v[at].len == len,
                "hakmem mock: unmap of a range that is not a mapping at {ptr:p}"
            );
            let r = v[at];
            s.live.remove(at);
            s.mapped -= len;
            s.unmaps += 1;
            r
        });
        // SAFETY: the region was allocated by System with exactly this layout.
        unsafe { System.dealloc(region.raw as *mut u8, Layout::from_size_align_unchecked(region.raw_len, 16)) };
    }

    unsafe fn purge(&self, ptr: *mut u8, len: usize) {
        assert!(self.is_mapped(ptr, len), "hakmem mock: purge of unmapped memory at {ptr:p}");
        // SAFETY: inside a live mapping (checked above); purge zeroes like MADV_DONTNEED.
        unsafe { core::ptr::write_bytes(ptr, 0, len) };
    }

    unsafe fn hint_dense(&self, ptr: *mut u8, len: usize) {
        assert!(self.is_mapped(ptr, len), "hakmem mock: advice on unmapped memory at {ptr:p}");
        self.st.with(|s| s.hinted += len);
    }

    unsafe fn prefault(&self, ptr: *mut u8, len: usize) {
        assert!(
            ptr as usize % crate::config::PAGE_SIZE == 0 && len % crate::config::PAGE_SIZE == 0 && len > 0,
            "hakmem mock: prefault of a range that is not whole pages at {ptr:p}"
        );
        assert!(self.is_mapped(ptr, len), "hakmem mock: prefault of unmapped memory at {ptr:p}");
        self.st.with(|s| s.prefaulted += len);
    }

    fn check_mapped(&self, ptr: *const u8, len: usize) {
        if !self.is_mapped(ptr, len) {
            panic!("hakmem mock: touched unmapped memory at {ptr:p}");
        }
    }

    fn now_ns(&self) -> u64 {
        self.st.with(|s| s.clock)
    }
}

impl Drop for MockPages {
    fn drop(&mut self) {
        self.st.with(|s| {
            for r in s.live.as_slice() {
                // SAFETY: each live region was allocated by System with this layout.
                unsafe { System.dealloc(r.raw as *mut u8, Layout::from_size_align_unchecked(r.raw_len, 16)) };
            }
            s.live.len = 0;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_tracks_and_checks_mappings() {
        let m = MockPages::new();
        let a = m.map(2 << 20, 2 << 20);
        assert_eq!(a as usize % (2 << 20), 0);
        assert!(m.is_mapped(a, 2 << 20));
        // SAFETY: a is a live mapping of m.
        unsafe { m.unmap(a, 2 << 20) };
        assert!(!m.is_mapped(a, 1));
        assert_eq!(m.mapped_bytes(), 0);
    }

    #[test]
    #[should_panic(expected = "touched unmapped memory")]
    fn mock_panics_on_touching_unmapped() {
        let m = MockPages::new();
        m.check_mapped(core::ptr::null(), 64);
    }

    #[test]
    fn mock_fail_after_injects_oom() {
        let m = MockPages::new();
        m.fail_after(1);
        assert!(!m.map(4096, 4096).is_null());
        assert!(m.map(4096, 4096).is_null());
    }
}
