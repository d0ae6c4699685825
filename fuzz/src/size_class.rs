//! `size_class`: round trips and bounds of the size-class tables
//! (`hakmem_alloc::size_class`), for arbitrary sizes and alignments.
//!
//! Checked for every input:
//! * `CLASS_SIZES` strictly increases, ends at `MAX_SMALL`, and every class
//!   (but the 8-byte one) is a multiple of 16;
//! * `class_of_size(class_size(c)) == c` (round trip), and `class_of_size(s)`
//!   is the *smallest* class holding `s`, wasting at most 12.5% above 128
//!   bytes and less than 16 bytes below;
//! * `class_of(size, align)`: natural alignments (`align <= 8`, or `<= 16`
//!   for sizes above 8) get `class_of_size(size)`, larger ones exactly the
//!   power of two `max(size, align).next_power_of_two()`; `None` exactly when
//!   that exceeds `MAX_SMALL` (or overflows); a class block at any index of a
//!   64 KiB-aligned slab is aligned as asked (`class_size % align == 0`);
//! * `class_of` is monotone in the size for a fixed alignment.

use arbitrary::Arbitrary;
use hakmem_alloc::config::{MAX_SMALL, SLAB_SIZE};
use hakmem_alloc::size_class::{class_of, class_of_size, class_size, CLASS_SIZES, NUM_CLASSES};

/// One input: a raw size, a class-relative size and an alignment.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeInput {
    /// Any size (also huge ones, for overflow paths).
    pub size: u64,
    /// A class index (modulo `NUM_CLASSES`) ...
    pub near_class: u8,
    /// ... and an offset from its size.
    pub delta: i8,
    /// log2 of the alignment (modulo the pointer width).
    pub align_shift: u8,
}

fn check_tables() {
    assert_eq!(CLASS_SIZES.len(), NUM_CLASSES);
    assert_eq!(class_size(NUM_CLASSES - 1), MAX_SMALL);
    assert_eq!(class_size(0), 8);
    for w in CLASS_SIZES.windows(2) {
        assert!(w[0] < w[1], "class sizes must strictly increase: {w:?}");
    }
    for c in 1..NUM_CLASSES {
        assert_eq!(class_size(c) % 16, 0, "class {c} ({}) not a multiple of 16", class_size(c));
    }
    const { assert!(MAX_SMALL * 2 <= SLAB_SIZE) };
}

fn check_round_trip(c: usize) {
    let cs = class_size(c);
    assert_eq!(class_of_size(cs), c, "class_of_size(class_size({c}) = {cs})");
    assert_eq!(class_of(cs, 8), Some(c), "class_of({cs}, 8)");
    if cs > 8 {
        assert_eq!(class_of_size(cs - 1), c, "size {} belongs to class {c}", cs - 1);
    }
    if c + 1 < NUM_CLASSES {
        assert_eq!(class_of_size(cs + 1), c + 1, "size {} belongs to class {}", cs + 1, c + 1);
    }
}

fn check_class_of_size(size: usize) {
    if size > MAX_SMALL {
        return;
    }
    let c = class_of_size(size);
    assert!(c < NUM_CLASSES);
    let cs = class_size(c);
    assert!(cs >= size.max(1), "size {size} -> class {c} ({cs}) too small");
    if c > 0 {
        assert!(
            class_size(c - 1) < size,
            "size {size} -> class {c} ({cs}) but class {} ({}) fits",
            c - 1,
            class_size(c - 1)
        );
    }
    if size > 128 {
        assert!((cs - size) * 8 <= size, "size {size} -> {cs} wastes more than 12.5%");
    } else {
        assert!(cs - size.max(1) < 16, "size {size} -> {cs} wastes 16 bytes or more");
    }
    if size > 1 {
        assert!(class_of_size(size - 1) <= c, "class_of_size not monotone at {size}");
    }
}

fn check_class_of(size: usize, align: usize) {
    let got = class_of(size, align);
    let natural = align <= 8 || (align <= 16 && size > 8);
    let want = if natural {
        (size <= MAX_SMALL).then(|| class_of_size(size))
    } else {
        match size.max(align).checked_next_power_of_two() {
            Some(n) if n <= MAX_SMALL => {
                let c = class_of_size(n);
                assert_eq!(class_size(c), n, "power of two {n} is not a class");
                Some(c)
            }
            _ => None,
        }
    };
    assert_eq!(got, want, "class_of({size}, {align})");
    if let Some(c) = got {
        let cs = class_size(c);
        assert!(cs >= size, "class_of({size}, {align}) = {cs} too small");
        assert!(
            cs.is_multiple_of(align) && align <= SLAB_SIZE,
            "class_of({size}, {align}) = {cs}: blocks would be misaligned"
        );
    }
    // Monotone in size.
    if let Some(bigger) = size.checked_add(1) {
        match (got, class_of(bigger, align)) {
            (None, Some(c)) => panic!("class_of({size}, {align}) = None but class_of({bigger}, {align}) = {c}"),
            (Some(a), Some(b)) => assert!(a <= b, "class_of not monotone at ({size}, {align})"),
            _ => {}
        }
    }
}

/// Run one `size_class` input.
pub fn run(input: &SizeInput) {
    check_tables();
    let c = usize::from(input.near_class) % NUM_CLASSES;
    check_round_trip(c);
    let align = 1usize << (u32::from(input.align_shift) % usize::BITS);
    let near = class_size(c).saturating_add_signed(isize::from(input.delta));
    let raw = input.size as usize;
    for size in [raw, raw % (2 * MAX_SMALL + 1), near, raw % 257] {
        check_class_of_size(size);
        check_class_of(size, align);
        check_class_of(size, 1);
        check_class_of(size, 16);
    }
}

/// Run one `size_class` input from raw bytes (as libFuzzer does).
pub fn run_bytes(data: &[u8]) {
    if let Ok(input) = SizeInput::arbitrary_take_rest(arbitrary::Unstructured::new(data)) {
        run(&input);
    }
}
