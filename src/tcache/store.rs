//! A thread cache's magazine storage: one mapping per cache (from the
//! heap's page source, never from the allocator), made on the cache's first
//! slow path and given back at [`crate::Heap::thread_exit`]. Bins take their
//! arrays from it by bumping an offset: a bin's array holds a power of two
//! of entries (at least [`MIN_CAP`]), and when its limit outgrows it a
//! bigger one is taken and the entries copied (the old one is not reused).
//! A class's arrays therefore add up to less than twice its largest, which
//! [`bytes_for`] reserves. Arrays are taken in first-use order, so a thread
//! that touches each class once touches a few pages of it; the rest of the
//! mapping stays untouched (not resident).

use crate::config::PAGE_SIZE;
use crate::slab::Block;

/// Smallest array, in entries.
pub(crate) const MIN_CAP: u32 = 4;

/// The entries of the array a bin with limit `limit` gets.
#[inline]
pub(crate) fn cap_for(limit: u32) -> u32 {
    limit.next_power_of_two().max(MIN_CAP)
}

/// Bytes a cache's storage needs when each class `c`'s limit never exceeds
/// `max_limit(c)` (its arrays' growth included), in whole pages.
pub(crate) fn bytes_for(classes: usize, max_limit: impl Fn(usize) -> u32) -> usize {
    let entries: usize = (0..classes).map(|c| 2 * cap_for(max_limit(c)) as usize).sum();
    (entries * core::mem::size_of::<*mut Block>()).next_multiple_of(PAGE_SIZE)
}

/// The mapping and how much of it is handed out.
#[derive(Clone, Copy)]
pub(crate) struct Store {
    pub base: *mut u8,
    pub len: usize,
    pub used: usize,
}

impl Store {
    /// No mapping yet.
    pub const fn new() -> Self {
        Store { base: core::ptr::null_mut(), len: 0, used: 0 }
    }

    /// Whether the mapping exists.
    #[inline]
    pub fn ready(&self) -> bool {
        !self.base.is_null()
    }

    /// An array of `cap` entries, or null when the mapping is missing or used up.
    pub fn take(&mut self, cap: u32) -> *mut *mut Block {
        let bytes = cap as usize * core::mem::size_of::<*mut Block>();
        if !self.ready() || self.len - self.used < bytes {
            return core::ptr::null_mut();
        }
        let p = self.base.wrapping_add(self.used).cast::<*mut Block>();
        self.used += bytes;
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_by_doubling_fits_the_reservation() {
        let max = |c: usize| [2u32, 100, 2048][c];
        let len = bytes_for(3, max);
        let mut buf = vec![0u64; len / 8];
        let mut s = Store { base: buf.as_mut_ptr().cast(), len, used: 0 };
        for c in 0..3 {
            // Worst case: every power of two on the way to the largest.
            let mut cap = MIN_CAP;
            loop {
                assert!(!s.take(cap).is_null(), "class {c}, cap {cap}");
                if cap >= cap_for(max(c)) {
                    break;
                }
                cap *= 2;
            }
        }
        assert!(s.used <= len);
        assert_eq!(cap_for(0), MIN_CAP);
        assert_eq!(cap_for(5), 8);
        assert_eq!(cap_for(2048), 2048);
    }
}
