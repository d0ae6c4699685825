//! Which misuse checks this build runs, by name. The code asks these
//! constants (`if mitigations::CANARY { .. }`, folded away by the compiler)
//! instead of scattering `#[cfg(feature = "secure")]` over the allocator, so
//! every hardening decision is listed here and can be read in one place.
//!
//! Always on (the default build), at a cost to the free fast path of a
//! secret load, an XOR and an add (the encode) and an alignment test, and to
//! the allocation fast path of a secret load, an XOR and a subtraction (the
//! decode), one test and one store (see `src/block.rs`):
//! * free-list links are encoded with a per-process secret and the block's
//!   address, and validated before they are followed (a write after free
//!   aborts instead of handing out a wild pointer);
//! * a block handed out is marked live, so a block that is on free lists
//!   twice (a double free, however delayed, on any thread) aborts when it is
//!   taken off the second time; freeing the bin's head again, or an
//!   unaligned pointer, aborts at once;
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

/// The `secure` feature is on.
pub const SECURE: bool = cfg!(feature = "secure");

/// Blocks handed out get a live mark in their first word (one store on the
/// allocation fast path), so a block that is on a free list twice aborts
/// when it would be handed out the second time, and `realloc` of a freed
/// block aborts. The store costs 0-4% on the tightest benchmark
/// (`fixed_16`, CPU time, instruction counts with callgrind); most of the
/// default build's cost there (about 0.8x of the allocator before these
/// checks) is the link encode/decode (see the README). Must
/// stay on in the `secure` build, whose double-free check at `free` relies
/// on the mark.
pub const MARK_LIVE: bool = true;

/// Small frees: the pointer is looked up in the page map (it must lie in a
/// live SuperSlab) and must sit on a block boundary of its size class.
/// Without it such pointers are caught when their bin drains (the drain
/// looks every block up).
pub const CHECK_FREE_POINTER: bool = SECURE;

/// Small frees: a block whose first word still decodes as a free-list link
/// is reported at the second `free`. Without it (the default), a block on a
/// list twice is reported when it is taken off the second time, which costs
/// the fast path nothing extra (see `src/block.rs`).
pub const CHECK_DOUBLE_FREE_ON_FREE: bool = SECURE && MARK_LIVE;

/// Small frees: the size class the page map records for the block's slab
/// must equal the class of the `Layout` passed to `dealloc`.
pub const CHECK_FREE_CLASS: bool = SECURE;

/// Small blocks get one more byte than asked; it holds a canary, checked
/// when the block is freed or reallocated (a one-byte overflow aborts).
/// (Large blocks rely on [`LARGE_GUARD_PAGE`].)
pub const CANARY: bool = SECURE;

/// Fresh blocks are linked into a slab's free list in a random order.
pub const RANDOMIZE_FREE_LIST: bool = SECURE;

/// Freed small blocks are filled with [`POISON_BYTE`] (past the link word).
pub const POISON_FREED: bool = SECURE;

/// The byte freed memory is filled with when [`POISON_FREED`] is on.
pub const POISON_BYTE: u8 = 0xDF;

/// Large blocks end in an inaccessible guard page.
pub const LARGE_GUARD_PAGE: bool = SECURE;
const _: () = assert!(!SECURE || MARK_LIVE, "the secure build relies on the live mark");
