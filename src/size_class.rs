//! Size classes: request size <-> class index, from const tables. No `unsafe`.
//!
//! Classes, smallest first: 8, 16, 32, 48, ..., 128 (16-byte steps), then eight
//! classes per power of two up to [`MAX_SMALL`] (32 KiB), so a request above
//! 128 bytes never wastes more than 12.5%. The seed allocator's tiny classes
//! C0..C7 (8, 16, 32, 64, 128, 256, 512, 1024 bytes) are all classes here
//! ([`SEED_TINY`]). Every class size is a multiple of 16 (except 8), and every
//! power of two is a class, which is how over-aligned small requests are served:
//! a block of size 2^k sits at a multiple of 2^k inside its 64 KiB slab.

use crate::config::MAX_SMALL;

/// Number of size classes.
pub const NUM_CLASSES: usize = 9 + 8 * 8;

/// Byte size of each class.
pub const CLASS_SIZES: [u32; NUM_CLASSES] = build_sizes();

/// The seed allocator's tiny classes C0..C7.
pub const SEED_TINY: [usize; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];

const fn build_sizes() -> [u32; NUM_CLASSES] {
    let mut s = [0u32; NUM_CLASSES];
    s[0] = 8;
    let mut i = 1;
    while i <= 8 {
        s[i] = 16 * i as u32;
        i += 1;
    }
    let mut base = 128u32;
    while i < NUM_CLASSES {
        let step = base / 8;
        let mut k = 1;
        while k <= 8 {
            s[i] = base + step * k;
            i += 1;
            k += 1;
        }
        base *= 2;
    }
    s
}

const fn class_by_scan(size: usize) -> u8 {
    let mut c = 0;
    while c < NUM_CLASSES {
        if CLASS_SIZES[c] as usize >= size {
            return c as u8;
        }
        c += 1;
    }
    panic!("size above MAX_SMALL")
}

// One lookup table for every size, in 8-byte steps (every class size is a
// multiple of 8): entry `i` is the class of sizes `8i - 7 ..= 8i` (entry 0:
// size 0), and the last entry, for every size above [`MAX_SMALL`], is
// [`UNCOMMON`]. 4 KiB of read-only data, of which a program touches the
// lines of the sizes it uses.
const TABLE_LEN: usize = (MAX_SMALL + 1).div_ceil(8) + 1;
const _: () = assert!(UNCOMMON < u8::MAX as usize);

/// What [`class_or_uncommon`] gives for a layout the fast paths do not
/// serve: one past the last class. A thread cache has a bin for it that is
/// always empty and always sends a free to the slow path, so the fast paths
/// need no test of their own for it (the slow paths make it).
pub const UNCOMMON: usize = NUM_CLASSES;

const CLASS_TABLE: [u8; TABLE_LEN] = {
    let mut t = [0u8; TABLE_LEN];
    let mut i = 0;
    while i < TABLE_LEN {
        // The largest size that maps to entry i: every size that does has
        // the same class, as class sizes are multiples of 8.
        let size = i * 8;
        t[i] = if size > MAX_SMALL { UNCOMMON as u8 } else { class_by_scan(size) };
        i += 1;
    }
    t
};

/// Index into `CLASS_TABLE` for any `size`: always in bounds, branch free
/// (a compare, a conditional move, an add and a shift), so a lookup with a
/// loop-invariant size is itself loop-invariant (the compiler hoists it out
/// of an allocation loop, and the thread-cache bin's address becomes a
/// constant offset).
#[inline(always)]
fn table_index(size: usize) -> usize {
    (size.min(MAX_SMALL + 1) + 7) >> 3
}

const _: () = assert!(CLASS_SIZES[NUM_CLASSES - 1] as usize == MAX_SMALL);

/// Class of a request of `size` bytes (`1..=MAX_SMALL`; 0 is treated as 1).
#[inline]
pub fn class_of_size(size: usize) -> usize {
    debug_assert!(size <= MAX_SMALL);
    CLASS_TABLE[table_index(size)] as usize
}

/// Class serving `size` bytes at alignment `align`, or `None` for the large path.
///
/// Alignments up to 16 are natural for every class of at least 16 bytes;
/// larger ones round the request up to a power of two (itself a class).
#[inline]
pub fn class_of(size: usize, align: usize) -> Option<usize> {
    if natural(size, align) {
        if size <= MAX_SMALL {
            return Some(class_of_size(size));
        }
        return None;
    }
    class_of_aligned(size, align)
}

/// The class of a layout, or [`UNCOMMON`] where [`class_of`] gives none
/// or needs its alignment rule (alignments above 16).
///
/// Without LTO, `__rust_alloc` and `__rust_dealloc` run this on every call,
/// so it is short and branch free: two conditional moves and the table
/// load. With a loop-invariant layout the whole lookup is loop-invariant,
/// and no per-operation branch is left for the uncommon case (it is the
/// bin's). An alignment of up to 16 is served by the class of
/// `max(size, align)`: every class of 16 bytes or more is a multiple of 16,
/// and the class of sizes up to 8 is only asked for 8-byte alignment, so
/// this is the class [`class_of`] gives.
#[inline(always)]
pub fn class_or_uncommon(size: usize, align: usize) -> usize {
    let s = if align <= 16 { size.max(align) } else { usize::MAX };
    CLASS_TABLE[table_index(s)] as usize
}

/// Whether every class serving `size` bytes is aligned to `align`.
#[inline(always)]
fn natural(size: usize, align: usize) -> bool {
    // `align <= 8 || (align <= 16 && size > 8)` as one compare against a
    // limit chosen without a branch (without LTO, `__rust_alloc` and
    // `__rust_dealloc` evaluate it on every call).
    align <= 8usize << (size > 8) as u32
}

#[cold]
fn class_of_aligned(size: usize, align: usize) -> Option<usize> {
    let need = size.max(align).checked_next_power_of_two()?;
    if need <= MAX_SMALL {
        Some(class_of_size(need))
    } else {
        None
    }
}

/// Byte size of class `c`.
#[inline]
pub fn class_size(c: usize) -> usize {
    CLASS_SIZES[c] as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_strictly_increase_and_are_16_aligned() {
        for w in CLASS_SIZES.windows(2) {
            assert!(w[0] < w[1]);
        }
        for &s in &CLASS_SIZES[1..] {
            assert_eq!(s % 16, 0, "{s}");
        }
    }

    #[test]
    fn seed_tiny_classes_are_exact_classes() {
        for &s in &SEED_TINY {
            assert_eq!(class_size(class_of_size(s)), s);
        }
    }

    #[test]
    fn every_size_fits_smallest_class_and_waste_bound_holds() {
        for size in 1..=MAX_SMALL {
            let c = class_of_size(size);
            let cs = class_size(c);
            assert!(cs >= size, "size {size} class {cs}");
            if c > 0 {
                assert!(class_size(c - 1) < size, "size {size} not in smallest class");
            }
            if size > 128 {
                assert!((cs - size) * 8 <= size, "size {size} -> {cs} wastes more than 12.5%");
            }
        }
    }

    #[test]
    fn aligned_requests_get_aligned_classes() {
        for shift in 0..=16 {
            let align = 1usize << shift;
            for size in [1, 7, 8, 9, 100, 1000, 5000, 20000, MAX_SMALL] {
                match class_of(size, align) {
                    Some(c) => {
                        let cs = class_size(c);
                        assert!(cs >= size);
                        // blocks sit at i * cs from a 64 KiB-aligned slab base
                        let natural = 1usize << cs.trailing_zeros().min(16);
                        assert!(
                            natural >= align.min(16) && (align <= 16 || cs % align == 0),
                            "size {size} align {align} class {cs}"
                        );
                    }
                    None => assert!(size.max(align) > MAX_SMALL || align > MAX_SMALL),
                }
            }
        }
    }

    #[test]
    fn fast_lookup_agrees_with_class_of_for_every_size() {
        let edges = [MAX_SMALL + 1, MAX_SMALL + 128, MAX_SMALL + 129, 1 << 20, usize::MAX / 2, usize::MAX];
        for size in (0..=MAX_SMALL + 300).chain(edges) {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let any = if align <= 16 { class_of(size, align) } else { None };
                assert_eq!(class_or_uncommon(size, align), any.unwrap_or(UNCOMMON), "size {size} align {align}");
                assert_eq!(natural(size, align), align <= 8 || (align <= 16 && size > 8), "size {size} align {align}");
            }
            let small = (size <= MAX_SMALL).then(|| class_of_size(size));
            assert_eq!(class_of(size, 8), small, "size {size}");
        }
    }

    #[test]
    fn zero_size_maps_to_smallest_class() {
        assert_eq!(class_of(0, 1), Some(0));
    }
}
