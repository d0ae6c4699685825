//! Which misuse checks this build runs, by name. The code asks these
//! constants (`if mitigations::CANARY { .. }`, folded away by the compiler)
//! instead of scattering `#[cfg(feature = "secure")]` over the allocator, so
//! every hardening decision is listed here and can be read in one place.
//!
//! Always on (the default build), at a cost to the free fast path of an
//! alignment test, a load of the block's first word, a compare and a store
//! (the free mark), and to the allocation fast path of a compare and a
//! store (the mark checked, then replaced by the live mark); see `src/block.rs` and `src/tcache`:
//! * thread caches hold blocks in arrays (magazines), each cached block
//!   carrying the free mark (a fixed word, never an address or a link;
//!   random per process with [`RANDOM_FREE_MARK`]): freeing a cached block again (a double free, however
//!   delayed, on any thread, after reuse by others) aborts at the free, and
//!   a write into a cached block aborts before the block is handed out;
//! * slab free lists and remote chains link blocks with encoded links
//!   (secret and block address), validated before they are followed; a
//!   block that is on a list twice aborts when the list is walked (it holds
//!   the live mark, the free mark or user data, not a link); an unaligned
//!   pointer aborts at the free;
//! * pointers that are not blocks of ours are caught when their bin drains
//!   (every block is looked up in the page map there) or at once when the
//!   bin was empty; `realloc` of a free block aborts;
//! * every walk of a list is bounded by the slab's counts;
//! * large blocks: a freed header reads `DEAD`, and recently unmapped ones
//!   are remembered.
//!
//! The `secure` cargo feature adds the checks below whose constant is
//! `SECURE`; each one's measured cost is in the README ("Misuse and
//! hardening").

/// The fast paths check the free mark: a `free` aborts on a block that holds
/// it already (a double free), an allocation on a cached block that lost it
/// (a write after free). Always on; the one way to turn it off is
/// `RUSTFLAGS="--cfg hakmem_unchecked_marks"`, which exists to measure what
/// the two checks cost (both stores stay, so the slow paths still see the
/// marks they expect): `benches/README.md`, "What the default's checks
/// cost". A build made that way detects neither misuse at once: never
/// ship one.
pub const CHECK_MARKS: bool = !cfg!(hakmem_unchecked_marks);

/// The `secure` feature is on.
pub const SECURE: bool = cfg!(feature = "secure");

/// Small frees: the pointer is looked up in the page map (it must lie in a
/// live SuperSlab) and must sit on a block boundary of its size class.
/// Without it such pointers are caught when their bin drains (the drain
/// looks every block up).
pub const CHECK_FREE_POINTER: bool = SECURE;

/// Small frees: a block whose first word still decodes as a free-list link
/// (it is on a slab's free list or a remote chain) is reported at the second
/// `free` (a cached block is, in every build: it holds the free mark).
/// Without it (the default), such a block is reported when that list is
/// walked, which costs the fast path nothing extra (see `src/block.rs`).
pub const CHECK_DOUBLE_FREE_ON_FREE: bool = SECURE;

/// Small frees: the size class the page map records for the block's slab
/// must equal the class of the `Layout` passed to `dealloc`.
pub const CHECK_FREE_CLASS: bool = SECURE;

/// Small blocks get one more byte than asked; it holds a canary, checked
/// when the block is freed or reallocated (a one-byte overflow aborts).
/// (Large blocks rely on [`LARGE_GUARD_PAGE`].)
pub const CANARY: bool = SECURE;

/// The free mark (see `src/block.rs`) is drawn per process from the OS's
/// random source. Without it (the default) the mark is a fixed word, a
/// constant the compiler keeps in a register: an allocation and a free
/// each load one word fewer (35 instructions per alloc+free pair in the
/// fat-LTO fixed loop, as before the hardening, against 37; llvm-mca's
/// Zen 3 model puts the loop at 9.0 cycles a pair against 10.0). What the
/// fixed word gives up: it is known (it is in the binary), so a program can
/// write it into a live block on purpose, whose free then reports a double
/// free, and a write after free that writes exactly the mark into a cached
/// block's first word is not reported (it leaves that word as it was; a
/// write elsewhere in the block is not checked in either case). It is not
/// derived from the link secret, so it forges no link.
pub const RANDOM_FREE_MARK: bool = SECURE;

/// Fresh blocks are linked into a slab's free list in a random order.
pub const RANDOMIZE_FREE_LIST: bool = SECURE;

/// Freed small blocks are filled with [`POISON_BYTE`] (past the link word).
pub const POISON_FREED: bool = SECURE;

/// The byte freed memory is filled with when [`POISON_FREED`] is on.
pub const POISON_BYTE: u8 = 0xDF;

/// Large blocks end in an inaccessible guard page.
pub const LARGE_GUARD_PAGE: bool = SECURE;
