//! Bit packing of the pool's atomic words. No `unsafe`, no atomics: plain
//! values that the pool stores in `AtomicU64`s.
//!
//! * [`Entry`]: a freelist entry `(meta index, slot, generation)` in one `u64`.
//! * [`SlotWord`]: a `SharedSSMeta`'s state word `(generation, live, active mask)`;
//!   every slot activation and every retirement is a CAS on this one word.
//! * [`StackHead`]: a Treiber stack head `(top node + 1, ABA tag)`.
//!
//! Generations are 31 bits and wrap; an entry is stale unless its generation
//! equals the record's *current* generation, so a wrap can only alias after
//! exactly 2^31 retirements of one record while the entry sits on a freelist.

/// Bits of a generation.
pub const GEN_BITS: u32 = 31;
/// Mask of a generation.
pub const GEN_MASK: u32 = (1 << GEN_BITS) - 1;
/// Bits of a meta index in an entry.
pub const INDEX_BITS: u32 = 28;
/// Largest meta index an entry can carry.
pub const MAX_INDEX: u32 = (1 << INDEX_BITS) - 1;
const SLOT_BITS: u32 = 5;

const _: () = assert!(INDEX_BITS + SLOT_BITS + GEN_BITS <= 64);
const _: () = assert!(crate::config::SLOTS <= 1 << SLOT_BITS);

/// A generation counter value (31 bits, wrapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(u32);

impl Generation {
    /// The first generation of a record.
    pub const ZERO: Generation = Generation(0);

    /// A generation from raw bits (masked to 31 bits).
    #[inline]
    pub const fn new(raw: u32) -> Self {
        Generation(raw & GEN_MASK)
    }

    /// Raw bits.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The next generation, wrapping at 2^31.
    #[inline]
    pub const fn next(self) -> Self {
        Generation(self.0.wrapping_add(1) & GEN_MASK)
    }
}

/// A freelist entry naming slot `slot` of record `index` in generation `gen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Record index in the registry.
    pub index: u32,
    /// Slot within the SuperSlab.
    pub slot: u32,
    /// Generation of the record when the entry was pushed.
    pub gen: Generation,
}

impl Entry {
    /// Pack into one word.
    #[inline]
    pub const fn pack(self) -> u64 {
        debug_assert!(self.index <= MAX_INDEX);
        (self.gen.0 as u64) << (INDEX_BITS + SLOT_BITS) | (self.slot as u64) << INDEX_BITS | self.index as u64
    }

    /// Unpack a word made by [`Entry::pack`].
    #[inline]
    pub const fn unpack(w: u64) -> Self {
        Entry {
            index: (w & MAX_INDEX as u64) as u32,
            slot: ((w >> INDEX_BITS) & ((1 << SLOT_BITS) - 1)) as u32,
            gen: Generation::new((w >> (INDEX_BITS + SLOT_BITS)) as u32),
        }
    }
}

/// A record's state word: generation (31 bits) | live (1 bit) | active slots (32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotWord(pub u64);

impl SlotWord {
    const LIVE: u64 = 1 << 32;

    /// Build a word.
    #[inline]
    pub const fn new(gen: Generation, live: bool, active: u32) -> Self {
        SlotWord((gen.0 as u64) << 33 | if live { Self::LIVE } else { 0 } | active as u64)
    }

    /// Generation.
    #[inline]
    pub const fn gen(self) -> Generation {
        Generation::new((self.0 >> 33) as u32)
    }

    /// Whether the record currently describes a mapped SuperSlab.
    #[inline]
    pub const fn live(self) -> bool {
        self.0 & Self::LIVE != 0
    }

    /// Mask of ACTIVE slots.
    #[inline]
    pub const fn active(self) -> u32 {
        self.0 as u32
    }

    /// The same word with `slot` marked active.
    #[inline]
    pub const fn with_active(self, slot: u32) -> Self {
        SlotWord(self.0 | 1 << slot)
    }

    /// The same word with `slot` cleared.
    #[inline]
    pub const fn without_active(self, slot: u32) -> Self {
        SlotWord(self.0 & !(1 << slot))
    }

    /// Whether an entry of generation `gen` for `slot` may activate it now.
    #[inline]
    pub const fn admits(self, gen: Generation, slot: u32) -> bool {
        self.live() && self.gen().0 == gen.0 && self.active() & (1 << slot) == 0
    }

    /// The word after retirement: next generation, not live, nothing active.
    #[inline]
    pub const fn retired(self) -> Self {
        SlotWord::new(self.gen().next(), false, 0)
    }
}

/// Head of a Treiber stack of node indices: `top + 1` (0 = empty) and an ABA tag
/// bumped by every successful push and pop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackHead(pub u64);

impl StackHead {
    /// The empty stack.
    pub const EMPTY: StackHead = StackHead(0);

    /// Top node index, if any.
    #[inline]
    pub const fn top(self) -> Option<u32> {
        match self.0 as u32 {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// ABA tag.
    #[inline]
    pub const fn tag(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// A new head with `top` (or empty) and the tag advanced.
    #[inline]
    pub const fn successor(self, top: Option<u32>) -> Self {
        let t = match top {
            Some(i) => i + 1,
            None => 0,
        };
        StackHead((self.tag().wrapping_add(1) as u64) << 32 | t as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip_extremes() {
        for &(index, slot, gen) in &[(0, 0, 0), (MAX_INDEX, 31, GEN_MASK), (12345, 7, 99), (1, 31, 1 << 30)] {
            let e = Entry { index, slot, gen: Generation::new(gen) };
            assert_eq!(Entry::unpack(e.pack()), e);
        }
    }

    #[test]
    fn generation_wraps_at_31_bits() {
        let g = Generation::new(GEN_MASK);
        assert_eq!(g.next(), Generation::ZERO);
        let w = SlotWord::new(g, true, 0);
        assert_eq!(w.retired().gen(), Generation::ZERO);
        assert!(!w.retired().live());
    }

    #[test]
    fn generation_wrap_makes_old_entry_stale() {
        let old = Generation::new(GEN_MASK);
        let w = SlotWord::new(old, true, 0).retired();
        let w = SlotWord::new(w.gen(), true, 0);
        assert!(!w.admits(old, 3), "entry of the pre-wrap generation must be stale");
        assert!(w.admits(Generation::ZERO, 3));
    }

    #[test]
    fn slot_word_admits_only_free_live_matching() {
        let g = Generation::new(5);
        let w = SlotWord::new(g, true, 0b1010);
        assert!(w.admits(g, 0));
        assert!(!w.admits(g, 1), "active slot");
        assert!(!w.admits(g.next(), 0), "wrong generation");
        assert!(!SlotWord::new(g, false, 0).admits(g, 0), "not live");
        assert_eq!(w.with_active(0).active(), 0b1011);
        assert_eq!(w.without_active(3).active(), 0b0010);
    }

    #[test]
    fn stack_head_tag_advances() {
        let h = StackHead::EMPTY;
        assert_eq!(h.top(), None);
        let h1 = h.successor(Some(0));
        assert_eq!(h1.top(), Some(0));
        let h2 = h1.successor(None).successor(Some(0));
        assert_eq!(h2.top(), Some(0));
        assert_ne!(h1, h2, "same top, different tag: ABA is visible");
    }
}
