//! Free blocks and their links: the one place that reads or writes the
//! first word of a free block (mimalloc's `mi_block_next`/`mi_block_set_next`,
//! glibc's safe-linking, snmalloc's `freelist.h`).
//!
//! A free block's first word holds the next block's address plus (wrapping)
//! the block's key: a per-process secret XOR the block's own address. The
//! secret comes from the OS once ([`init`]); its top 17 bits are a fixed
//! pattern whose top bit is set. Decoding a word that was not written here
//! (user data, a write after free) therefore gives an address with high
//! bits set, or a misaligned one, which [`next`] reports instead of
//! following it.
//!
//! Why add and not XOR (glibc's safe-linking XORs): a list walk (a slab's
//! free list taken by a refill; thread-cache bins were lists too before
//! they became arrays) is a chain of dependent loads, and the decode sits
//! on it. With `word ^ secret ^ block` the compiler folds the load into the
//! first XOR and leaves two XORs between the load and the next address;
//! `word - (secret ^ block)` cannot be reassociated, so the key is computed
//! beside the load and one subtraction is left on the chain.
//!
//! Blocks handed to a user have their first word set to their own address
//! ([`clear`]), which decodes to `b - (secret ^ b)`: high bits set, not a
//! link. That makes a block that is on a free list twice (a double free,
//! on any thread, however delayed) abort when the list reaches it the second
//! time: its word then holds that mark or the free mark (`hakmem: double
//! free detected`) or user data (`hakmem: corrupted free list`), and does
//! not decode. [`looks_free`] tells a block on a list from a live one from
//! its word alone, for the checks that want to report at the second `free`.
//!
//! Blocks in a thread cache's magazine (see [`crate::tcache`]) are not
//! linked: their first word holds the *free mark* ([`mark_free`]): a fixed
//! word in the default build, a constant kept in a register (one load
//! fewer on each side of the fast path); with
//! [`crate::mitigations::RANDOM_FREE_MARK`] (`secure`) one random word per
//! process, drawn apart from the secret. A free finds it
//! there at a second free of a cached block (a double free, reported at
//! once); an allocation checks it is intact before handing the block out
//! ([`take_marked`]), so a write after free aborts instead of going
//! unnoticed. Its top 17 bits are the secret's pattern with the top bit
//! cleared, so it is never a live mark (an address), never an encoded link,
//! and decodes (as a link, at any block) to an address with high bits set:
//! a list walk that reaches a cached block reports it as a double free too.
//!
//! Why one mark for all blocks and not one per block (`key ^ block`): it
//! saves an XOR on each side of the fast path. What it gives up: a word
//! copied out of one cached block (a read after free) is the mark of every
//! block, so written into a live block's first word it makes that block's
//! free report a double free, and written into a cached block it passes the
//! allocation's check (it is the word that was there). The mark is not a
//! pointer and not derived from the secret: knowing it (the fixed one is in
//! the binary) forges no link.

use crate::sync::unmodeled::{AtomicUsize, Ordering};

/// A free block: its first word is an encoded link to the next.
#[repr(C)]
pub struct Block {
    link: usize,
}

/// Bits of user space addresses (x86-64 and AArch64 with 4-level tables;
/// the page map covers the same range).
const ADDR_BITS: u32 = 47;
const ADDR_MASK: usize = (1 << ADDR_BITS) - 1;
/// The secret's top 17 bits: top bit set, the rest mixed, so user data
/// (small integers, pointers, -1, text) never decodes to a plausible link.
const HIGH_PATTERN: usize = 0x1_6b4d;
/// Bits that are zero in every decoded link: above the address space, and
/// below the 8-byte alignment of the smallest class.
const INVALID_BITS: usize = !ADDR_MASK | 7;

static SECRET: AtomicUsize = AtomicUsize::new(0);
/// The free mark (see the module header); 0 until [`init`].
static FREE_MARK: AtomicUsize = AtomicUsize::new(0);

/// Draw the per-process secret (once; later calls do nothing). Every heap
/// calls it before it hands out a block. Does not allocate.
pub fn init() {
    if SECRET.load(Ordering::Relaxed) != 0 {
        return;
    }
    let r = crate::platform::random_word() as usize;
    let k = (r & ADDR_MASK) | (HIGH_PATTERN << ADDR_BITS);
    // Losing the race is fine: the winner's secret is the one used.
    let _ = SECRET.compare_exchange(0, k, Ordering::Relaxed, Ordering::Relaxed);
    // Drawn apart from the secret: a leaked mark tells nothing about it.
    let m = if crate::mitigations::RANDOM_FREE_MARK {
        (crate::platform::random_word() as usize & ADDR_MASK) | (MARK_PATTERN << ADDR_BITS)
    } else {
        FIXED_MARK
    };
    // As above: every racer uses the winner's mark from here on (a block is
    // only marked after its heap's init, which calls this first).
    let _ = FREE_MARK.compare_exchange(0, m, Ordering::Relaxed, Ordering::Relaxed);
}

/// The key for the link word of block `b`.
#[inline(always)]
fn key(b: *const Block) -> usize {
    SECRET.load(Ordering::Relaxed) ^ b as usize
}

/// Whether a decoded word is a plausible link (null or an aligned user address).
#[inline(always)]
fn plausible(d: usize) -> bool {
    d & INVALID_BITS == 0
}

/// Link free block `b` to `next` (null ends the list).
///
/// # Safety
/// `b` is a free block (at least 8 bytes) the caller holds exclusively.
#[inline(always)]
pub unsafe fn set_next(b: *mut Block, next: *mut Block) {
    // SAFETY: caller contract: `b` is writable and ours.
    unsafe { (*b).link = (next as usize).wrapping_add(key(b)) };
}

/// The block after free block `b` (null at the end). A link that does not
/// decode to an aligned address aborts: "double free detected" if the word
/// holds the mark of [`clear`] (the block was handed out, so it was on the
/// list twice), "corrupted free list" otherwise.
///
/// # Safety
/// `b` is a free block the caller holds (it was linked by [`set_next`]).
#[inline(always)]
pub unsafe fn next(b: *mut Block) -> *mut Block {
    // The key does not depend on the load: computed beside it, it leaves
    // one subtraction between the load and the next pop's address (see the
    // module header).
    let k = key(b);
    // SAFETY: caller contract: `b` is readable.
    let d = unsafe { (*b).link }.wrapping_sub(k);
    if !plausible(d) {
        bad_link(b);
    }
    d as *mut Block
}

/// Report the word of block `b`, which did not decode. Reads it again, so
/// that the fast path keeps no copy of it live.
#[cold]
#[inline(never)]
fn bad_link(b: *const Block) -> ! {
    // SAFETY: `next`'s caller contract: `b` is readable.
    let raw = unsafe { (*b).link };
    if raw == b as usize || raw == free_mark() {
        crate::out::fatal("double free detected", b.cast())
    }
    corrupted(b)
}

/// The free mark's top 17 bits: the secret's pattern with its top bit
/// cleared. Nonzero, so the mark is no address (no live mark); not the
/// pattern nor the pattern plus one, so no encoded link (`next + key`, whose
/// top bits are the pattern, plus a carry) equals it; and a decode of it
/// (`mark - key`) keeps high bits set (0x1_0000 or 0xFFFF), so it is no link.
const MARK_PATTERN: usize = HIGH_PATTERN ^ 0x1_0000;

/// The free mark of a build without [`crate::mitigations::RANDOM_FREE_MARK`]:
/// the pattern above, and fixed low bits that are no aligned address.
pub(crate) const FIXED_MARK: usize = (0x2d5b_e6a1_93c7 & ADDR_MASK) | (MARK_PATTERN << ADDR_BITS);

/// The free mark: what a block's first word holds while it sits in a
/// thread cache's magazine (the same for every block). 0 before [`init`].
#[inline(always)]
pub fn free_mark() -> usize {
    if !crate::mitigations::RANDOM_FREE_MARK {
        return FIXED_MARK;
    }
    FREE_MARK.load(Ordering::Relaxed)
}

/// Put the free mark into block `b`'s first word (it goes into a magazine).
///
/// # Safety
/// `b` is a block (at least 8 bytes, 8-byte aligned) the caller gives up.
#[inline(always)]
pub unsafe fn mark_free(b: *mut Block) {
    // SAFETY: caller contract.
    unsafe { (*b).link = free_mark() };
}

/// [`mark_free`] with the mark `m` ([`free_mark`]) loaded once by a free
/// that also compares it with the word it finds (a thread cache keeps a
/// copy: a thread-local load is direct where a static of another crate may
/// go through the GOT).
///
/// # Safety
/// As [`mark_free`]; `m` is [`free_mark`].
#[inline(always)]
pub unsafe fn mark_free_with(b: *mut Block, m: usize) {
    debug_assert_eq!(m, free_mark());
    // SAFETY: caller contract.
    unsafe { (*b).link = m };
}

/// Whether block `b` holds the free mark (it is cached: freed already).
///
/// # Safety
/// `b` is readable for 8 bytes and 8-byte aligned.
#[inline(always)]
pub unsafe fn is_marked_free(b: *const Block) -> bool {
    // SAFETY: caller contract.
    unsafe { (*b).link == free_mark() }
}

/// Take block `b` out of a magazine to hand it to a user: its free mark must
/// be intact (else a write after free: abort), and it is replaced by the
/// live mark of [`clear`].
///
/// # Safety
/// `b` is a block taken off a magazine (its word was written by
/// [`mark_free`]); `m` is [`free_mark`].
#[inline(always)]
pub unsafe fn take_marked(b: *mut Block, m: usize) {
    debug_assert_eq!(m, free_mark());
    // SAFETY: caller contract: `b` is a block of ours, readable and writable.
    unsafe {
        if (*b).link != m {
            corrupted(b);
        }
        (*b).link = b as usize;
    }
}

/// Mark block `b`, about to be handed to a user, as live: its first word
/// becomes its own address, which decodes to the secret (not a link).
///
/// # Safety
/// `b` is a block the caller holds.
#[inline(always)]
pub unsafe fn clear(b: *mut Block) {
    // SAFETY: caller contract.
    unsafe { (*b).link = b as usize };
}

/// If block `b`'s first word decodes to a plausible link, the decoded link
/// (the block is probably free already: confirm with the page map before
/// reporting). `None` for a live block.
///
/// # Safety
/// `b` is readable for 8 bytes.
#[inline(always)]
pub unsafe fn looks_free(b: *mut Block) -> Option<usize> {
    // SAFETY: caller contract.
    let d = unsafe { (*b).link }.wrapping_sub(key(b));
    plausible(d).then_some(d)
}

/// Report a link that fails to decode.
#[cold]
#[inline(never)]
pub fn corrupted(b: *const Block) -> ! {
    crate::out::fatal("corrupted free list (write after free?) detected", b.cast())
}

/// A hash of the secret and `p` (seeds the `secure` build's shuffles).
#[inline]
pub fn secret_hash(p: *const u8) -> u64 {
    let mut x = key(p.cast()) as u64;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The `secure` build's canary byte: drawn with the secret, never 0, 0xFF
/// or below 0x80 (the values a stray write most likely leaves). One byte per
/// process (not per block): a few instructions to check.
#[inline(always)]
pub fn canary(_p: *const u8) -> u8 {
    let b = ((SECRET.load(Ordering::Relaxed) >> 40) as u8) | 0x80;
    if b == 0xFF {
        0xA5
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_and_foreign_words_are_rejected() {
        init();
        let mut w = [Block { link: 0 }, Block { link: 0 }];
        let b = &mut w[0] as *mut Block;
        let n = &mut w[1] as *mut Block;
        // SAFETY: both are local, writable words.
        unsafe {
            // A cleared (live) block does not look free, nor does a fresh one.
            clear(b);
            assert!(looks_free(b).is_none());
            (*b).link = 0;
            assert!(looks_free(b).is_none());
            set_next(b, n);
            assert_eq!(next(b), n);
            assert_eq!(looks_free(b), Some(n as usize));
            set_next(b, core::ptr::null_mut());
            assert!(next(b).is_null());
            // Typical user data never decodes to a link.
            for v in [0usize, 1, usize::MAX, n as usize, 0x4141_4141_4141_4141, 0x8000_0000_0000_0000] {
                (*b).link = v;
                assert!(looks_free(b).is_none(), "{v:#x}");
            }
        }
    }

    #[test]
    fn free_mark_is_no_link_and_no_live_mark() {
        init();
        let mut w = [Block { link: 0 }];
        let b = &mut w[0] as *mut Block;
        // SAFETY: a local, writable word.
        unsafe {
            mark_free(b);
            assert!(is_marked_free(b));
            assert!(looks_free(b).is_none(), "the mark must not decode as a link");
            take_marked(b, free_mark());
            assert!(!is_marked_free(b));
            assert!(looks_free(b).is_none());
            set_next(b, core::ptr::null_mut());
            assert!(!is_marked_free(b), "an encoded null link must differ from the mark");
        }
        // The mark is the same word at every address: it must not decode as
        // a link at any block, nor equal a live mark or an encoded link.
        let m = free_mark();
        assert_ne!(m, 0);
        // The fixed mark where the build has no random one; the stored copy
        // (what `init` set) agrees with what the fast paths compare.
        assert_eq!(m == FIXED_MARK, !crate::mitigations::RANDOM_FREE_MARK);
        assert_eq!(m, FREE_MARK.load(Ordering::Relaxed));
        for a in
            [8usize, 0x10_0000, 0x7fff_ffff_fff8, 0x5555_5555_5550, SECRET.load(Ordering::Relaxed) & ADDR_MASK & !7]
        {
            // Only the address is used (the key): no block is read here.
            let b = a as *const Block;
            let d = m.wrapping_sub(key(b));
            assert!(!plausible(d), "{a:#x}");
            assert_ne!(m, a, "a live mark");
            for next in [0usize, 8, a, ADDR_MASK & !7] {
                assert_ne!(m, next.wrapping_add(key(b)), "an encoded link");
            }
        }
    }

    #[test]
    fn canary_avoids_common_bytes() {
        init();
        for a in (0..4096usize).step_by(8) {
            let c = canary((0x10_0000 + a) as *const u8);
            assert!(c >= 0x80 && c != 0xFF);
        }
    }
}
