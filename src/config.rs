//! Compile-time geometry of the allocator, checked by const asserts.

/// Size of a SuperSlab: the unit the shared pool maps from the OS.
pub const SUPERSLAB_SIZE: usize = 2 << 20;
/// log2 of [`SUPERSLAB_SIZE`].
pub const SUPERSLAB_SHIFT: u32 = SUPERSLAB_SIZE.trailing_zeros();
/// Size of one slab (one slot of a SuperSlab); a slab serves one size class.
#[cfg(not(feature = "loom"))]
pub const SLAB_SIZE: usize = 64 << 10;
/// Size of one slab. Under loom a SuperSlab has 4 slots instead of 32, which
/// keeps each exhaustive model's object count small; the protocol is the same.
#[cfg(feature = "loom")]
pub const SLAB_SIZE: usize = 512 << 10;
/// log2 of [`SLAB_SIZE`].
pub const SLAB_SHIFT: u32 = SLAB_SIZE.trailing_zeros();
/// Slots (slabs) per SuperSlab.
pub const SLOTS: usize = SUPERSLAB_SIZE / SLAB_SIZE;
/// Bit mask with one bit per slot.
pub const ALL_SLOTS: u32 = if SLOTS == 32 { u32::MAX } else { (1u32 << SLOTS) - 1 };
/// The OS page size the allocator is built for; the global heap checks the
/// kernel's (`sysconf`) when it starts and aborts with one line on any other.
pub const PAGE_SIZE: usize = 4096;
/// Largest request served from slabs; above it blocks come from the OS.
pub const MAX_SMALL: usize = 32 << 10;

const _: () = assert!(SUPERSLAB_SIZE.is_power_of_two() && SLAB_SIZE.is_power_of_two());
const _: () = assert!(SLOTS <= 32, "slot masks are u32");
const _: () = assert!(MAX_SMALL * 2 <= SLAB_SIZE, "a slab holds at least two blocks");
const _: () = assert!(SUPERSLAB_SIZE % PAGE_SIZE == 0);
