//! The shadow map: every live block with its size, alignment and fill tag,
//! indexed by address so that a new block can be checked against all live
//! ones for overlap in O(log n).
//!
//! Each block is filled with the pseudo-random `PATTERN` (period 4099, a
//! prime, so a copy shifted by a page or a slab never compares equal), rotated
//! by an offset derived from the block's tag, which differs between
//! neighbouring blocks. A block handed out twice, a shifted `realloc` copy, or
//! a stray allocator write into a live block all show up as a pattern mismatch
//! at free, realloc or the final check. Fills and checks are `memcpy`/`memcmp`
//! of whole chunks against a doubled copy of the pattern, so they stay cheap
//! under coverage instrumentation (a byte loop would be traced per compare).

use hakmem_alloc::size_class::class_of;
use std::collections::BTreeMap;

/// Pattern period (a prime).
pub const PERIOD: usize = 4099;

/// The fill pattern, twice in a row (so any rotation is one contiguous slice).
pub static PATTERN: [u8; 2 * PERIOD] = {
    let mut t = [0u8; 2 * PERIOD];
    let mut x: u32 = 0x9e37_79b9;
    let mut i = 0;
    while i < PERIOD {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        t[i] = (x >> 11) as u8;
        t[i + PERIOD] = t[i];
        i += 1;
    }
    t
};

static ZERO: [u8; PERIOD] = [0; PERIOD];

/// A live block.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    /// Address.
    pub p: *mut u8,
    /// Requested size.
    pub size: usize,
    /// Requested alignment.
    pub align: usize,
    /// Fill tag.
    pub tag: u8,
}

impl Block {
    /// Whether the block is served by the large path.
    pub fn is_large(&self) -> bool {
        class_of(self.size, self.align).is_none()
    }

    /// The block's bytes.
    ///
    /// # Safety
    /// The block is live and nobody else uses it.
    pub unsafe fn bytes<'a>(&self) -> &'a mut [u8] {
        if self.size == 0 {
            return &mut [];
        }
        // SAFETY: caller contract: `p` is a live allocation of `size` bytes,
        // exclusively ours.
        unsafe { core::slice::from_raw_parts_mut(self.p, self.size) }
    }

    /// Expected byte at offset `i`.
    pub fn expected(&self, i: usize) -> u8 {
        PATTERN[(self.rotation() + i) % PERIOD]
    }

    fn rotation(&self) -> usize {
        usize::from(self.tag) * 16 % PERIOD
    }

    /// Fill `[from, size)` with the block's pattern.
    ///
    /// # Safety
    /// As [`Block::bytes`].
    pub unsafe fn fill_from(&self, from: usize) {
        // SAFETY: caller contract.
        let b = unsafe { self.bytes() };
        let mut off = from;
        while off < b.len() {
            let k = (self.rotation() + off) % PERIOD;
            let n = PERIOD.min(b.len() - off);
            b[off..off + n].copy_from_slice(&PATTERN[k..k + n]);
            off += n;
        }
    }

    /// Panic unless `[0, upto)` holds the block's pattern.
    ///
    /// # Safety
    /// As [`Block::bytes`]; `upto <= size`.
    pub unsafe fn verify(&self, upto: usize, what: &str) {
        // SAFETY: caller contract.
        let b = unsafe { self.bytes() };
        let b = &b[..upto];
        let mut off = 0;
        while off < b.len() {
            let k = (self.rotation() + off) % PERIOD;
            let n = PERIOD.min(b.len() - off);
            if b[off..off + n] != PATTERN[k..k + n] {
                let i = (off..off + n).find(|&i| b[i] != self.expected(i)).unwrap();
                panic!(
                    "{what}: block {:p} (size {}, align {}) corrupted at offset {i}: {:#04x}, expected {:#04x}",
                    self.p,
                    self.size,
                    self.align,
                    b[i],
                    self.expected(i)
                );
            }
            off += n;
        }
    }

    /// Panic unless the block reads as zero.
    ///
    /// # Safety
    /// As [`Block::bytes`].
    pub unsafe fn verify_zero(&self, what: &str) {
        // SAFETY: caller contract.
        let b = unsafe { self.bytes() };
        if !is_zero(b) {
            let i = b.iter().position(|&x| x != 0).unwrap();
            panic!(
                "{what}: block {:p} (size {}, align {}) not zeroed at offset {i}: {:#04x}",
                self.p, self.size, self.align, b[i]
            );
        }
    }
}

/// Whether `b` is all zero (chunked `memcmp`, cheap under instrumentation).
pub fn is_zero(b: &[u8]) -> bool {
    b.chunks(PERIOD).all(|c| c == &ZERO[..c.len()])
}

/// All live blocks.
#[derive(Debug, Default)]
pub struct Shadow {
    blocks: Vec<Block>,
    /// start -> end (exclusive; zero-size blocks count as one byte).
    by_addr: BTreeMap<usize, usize>,
    bytes: usize,
    large_bytes: usize,
    next_tag: u8,
}

impl Shadow {
    /// An empty shadow with room for `cap` blocks.
    pub fn with_capacity(cap: usize) -> Self {
        Shadow { blocks: Vec::with_capacity(cap), ..Default::default() }
    }

    /// Live blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether nothing is live.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Bytes requested by live blocks.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes requested by live large blocks (what the heap reports as `large_live_bytes`).
    pub fn large_bytes(&self) -> usize {
        self.large_bytes
    }

    /// A fresh tag.
    pub fn tag(&mut self) -> u8 {
        self.next_tag = self.next_tag.wrapping_add(0x3b);
        self.next_tag
    }

    /// The live blocks.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Record a new block after checking that it is non-null, aligned and
    /// overlaps no live block.
    pub fn insert(&mut self, b: Block, what: &str) {
        let start = b.p as usize;
        assert!(start != 0, "{what}: null block recorded");
        assert!(start.is_multiple_of(b.align), "{what}: block {:p} (size {}) not aligned to {}", b.p, b.size, b.align);
        let end = start
            .checked_add(b.size.max(1))
            .unwrap_or_else(|| panic!("{what}: block {:p} size {} wraps the address space", b.p, b.size));
        if let Some((&s, &e)) = self.by_addr.range(..end).next_back() {
            assert!(
                e <= start,
                "{what}: block [{start:#x}, {end:#x}) (size {}, align {}) overlaps live block [{s:#x}, {e:#x})",
                b.size,
                b.align
            );
        }
        self.by_addr.insert(start, end);
        self.blocks.push(b);
        self.bytes += b.size;
        if b.is_large() {
            self.large_bytes += b.size;
        }
    }

    /// Forget live block `i % len` and return it (`None` if nothing is live).
    pub fn take(&mut self, i: u16) -> Option<Block> {
        if self.blocks.is_empty() {
            return None;
        }
        let b = self.blocks.swap_remove(usize::from(i) % self.blocks.len());
        self.by_addr.remove(&(b.p as usize)).expect("shadow index out of sync");
        self.bytes -= b.size;
        if b.is_large() {
            self.large_bytes -= b.size;
        }
        Some(b)
    }
}
