//! An append-only registry of records that never move and are never freed
//! while the owner lives, with memory straight from the [`PageSource`].
//!
//! Chunk `k` holds `FIRST << k` records, so 32 directory slots cover any index
//! and the registry grows without ever copying: a reader holding an index can
//! always dereference it, even while the registry grows. This is the seed's
//! first fix done structurally: pool metadata is never `realloc`ed, and never
//! comes from the allocator it describes.

use crate::platform::PageSource;
use crate::sync::{AtomicPtr, AtomicU32, Ordering};

/// A record type that can be built in place in fresh chunk memory.
///
/// # Safety
/// If [`FRESH_IS_ZERO`](Record::FRESH_IS_ZERO) is true, all-zero bytes must
/// be a valid `Self` that behaves exactly as [`fresh`](Record::fresh)'s value.
pub unsafe trait Record {
    /// All-zero bytes are a fresh record: a new chunk (zeroed by its
    /// [`PageSource`]) is left as it is, and each record's pages are touched
    /// only when the record is first used. A process that uses one SuperSlab
    /// then has one record resident, not the first chunk's sixteen (96 KiB).
    /// False where atomics are not plain integers (the loom and shuttle
    /// models).
    const FRESH_IS_ZERO: bool = false;
    /// A fresh record.
    fn fresh() -> Self;
}

const DIR: usize = 32;

/// An append-only registry of `T`.
pub struct Arena<T> {
    dir: [AtomicPtr<T>; DIR],
    len: AtomicU32,
    first: u32,
    /// `log2(first)`: `locate` shifts instead of dividing (a `div` on every
    /// page-map lookup cost a third of the remote-free drain).
    first_shift: u32,
}

// SAFETY: records are shared by reference across threads; T: Sync makes that sound.
unsafe impl<T: Sync> Sync for Arena<T> {}
// SAFETY: the arena owns its chunks; moving it moves ownership of T values.
unsafe impl<T: Send> Send for Arena<T> {}

impl<T: Record> Arena<T> {
    /// An empty registry whose first chunk holds `first` records (a power of two).
    pub fn new(first: u32) -> Self {
        assert!(first.is_power_of_two());
        Self {
            dir: core::array::from_fn(|_| AtomicPtr::new(core::ptr::null_mut())),
            len: AtomicU32::new(0),
            first,
            first_shift: first.trailing_zeros(),
        }
    }

    #[inline]
    fn locate(&self, i: u32) -> (usize, usize) {
        let j = (i >> self.first_shift) as u64 + 1;
        let k = 63 - j.leading_zeros() as usize;
        let base = ((1u64 << k) - 1) << self.first_shift;
        (k, (i as u64 - base) as usize)
    }

    fn chunk_bytes(&self, k: usize) -> usize {
        let n = (self.first as usize) << k;
        (n * core::mem::size_of::<T>()).next_multiple_of(crate::config::PAGE_SIZE)
    }

    /// Number of records created.
    #[inline]
    pub fn len(&self) -> u32 {
        self.len.load(Ordering::Acquire)
    }

    /// The record at `i`.
    ///
    /// Panics (debug) if `i` was never created; callers only pass indices they
    /// obtained from this registry.
    #[inline]
    pub fn get(&self, i: u32) -> &T {
        debug_assert!(i < self.len.load(Ordering::Relaxed), "arena index {i} out of range");
        let (k, off) = self.locate(i);
        let chunk = self.dir[k].load(Ordering::Acquire);
        if chunk.is_null() {
            // Only reachable through a corrupted index (e.g. a wild free):
            // abort rather than unwind out of the allocator.
            crate::out::fatal("registry index without a chunk", i as usize as *const u8);
        }
        // SAFETY: chunk k was fully initialised before being published with
        // Release (see `grow`), holds `first << k` records, `off` is below that,
        // and chunks are never freed while `self` lives.
        unsafe { &*chunk.add(off) }
    }

    /// Create one more record and return its index. The caller serialises
    /// calls (the pool's backend lock). `None` if the page source is out of memory.
    pub fn grow<P: PageSource>(&self, pages: &P) -> Option<u32> {
        let i = self.len.load(Ordering::Relaxed);
        if i == u32::MAX {
            return None;
        }
        let (k, off) = self.locate(i);
        if off == 0 {
            let bytes = self.chunk_bytes(k);
            let chunk = pages.map(bytes, crate::config::PAGE_SIZE).cast::<T>();
            if chunk.is_null() {
                return None;
            }
            // With FRESH_IS_ZERO the mapping's zero bytes are fresh records
            // already (the `Record` contract, and `PageSource` maps zeroed).
            if !T::FRESH_IS_ZERO {
                for r in 0..(self.first as usize) << k {
                    // SAFETY: `r` indexes inside the fresh mapping sized for these
                    // records; the mapping is page aligned, which satisfies T's alignment.
                    unsafe { chunk.add(r).write(T::fresh()) };
                }
            }
            self.dir[k].store(chunk, Ordering::Release);
        }
        self.len.store(i + 1, Ordering::Release);
        Some(i)
    }

    /// Drop every record and give the chunks back.
    ///
    /// # Safety
    /// Nothing may use the registry afterwards, and `pages` must be the source
    /// that `grow` was called with.
    pub unsafe fn destroy<P: PageSource>(&mut self, pages: &P) {
        for k in 0..DIR {
            let chunk = self.dir[k].load(Ordering::Acquire);
            if chunk.is_null() {
                continue;
            }
            let n = (self.first as usize) << k;
            // SAFETY: the chunk holds n initialised records that nobody uses any
            // more (caller contract), and was mapped with chunk_bytes(k).
            unsafe {
                for r in 0..n {
                    core::ptr::drop_in_place(chunk.add(r));
                }
                pages.unmap(chunk.cast(), self.chunk_bytes(k));
            }
            self.dir[k].store(core::ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, not(any(feature = "loom", feature = "shuttle"))))]
mod tests {
    use super::*;
    use crate::platform::MockPages;

    struct R(AtomicU32);
    // SAFETY: FRESH_IS_ZERO is false.
    unsafe impl Record for R {
        fn fresh() -> Self {
            R(AtomicU32::new(7))
        }
    }

    struct Z(AtomicU32);
    // SAFETY: a zero AtomicU32 is a valid value, the one `fresh` makes.
    unsafe impl Record for Z {
        const FRESH_IS_ZERO: bool = true;
        fn fresh() -> Self {
            Z(AtomicU32::new(0))
        }
    }

    #[test]
    fn zero_fresh_records_are_left_as_mapped() {
        let pages = MockPages::new();
        let mut a = Arena::<Z>::new(4);
        for _ in 0..100 {
            let i = a.grow(&pages).unwrap();
            assert_eq!(a.get(i).0.load(Ordering::Relaxed), 0);
            a.get(i).0.store(i + 1, Ordering::Relaxed);
        }
        for i in 0..a.len() {
            assert_eq!(a.get(i).0.load(Ordering::Relaxed), i + 1);
        }
        // SAFETY: nothing uses `a` afterwards.
        unsafe { a.destroy(&pages) };
        assert_eq!(pages.mapped_bytes(), 0);
    }

    #[test]
    fn arena_records_never_move_while_growing() {
        let pages = MockPages::new();
        let mut a = Arena::<R>::new(4);
        let first = a.grow(&pages).unwrap();
        let p0 = a.get(first) as *const R;
        for _ in 0..5000 {
            a.grow(&pages).unwrap();
        }
        assert_eq!(a.get(first) as *const R, p0);
        for i in 0..a.len() {
            assert_eq!(a.get(i).0.load(Ordering::Relaxed), 7);
        }
        // SAFETY: nothing uses `a` afterwards.
        unsafe { a.destroy(&pages) };
        assert_eq!(pages.mapped_bytes(), 0);
    }
}
