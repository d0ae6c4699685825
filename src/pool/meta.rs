//! `SharedSSMeta`: the registry record of one SuperSlab.
//!
//! The record outlives every SuperSlab it has described: it sits in an
//! [`crate::arena::Arena`] that never moves or frees, so stale references to
//! it (freelist entries, page-map lookups) always point at valid memory and
//! are told apart by the generation in [`SlotWord`].

use crate::arena::Record;
use crate::config::SLOTS;
use crate::slab::Slab;
use crate::sync::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use crate::tag::{Generation, SlotWord};

/// Per-slot state as seen by the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Never handed out in the current generation (Stage 2 may claim it).
    Unused,
    /// Owned by a thread (or abandoned with live blocks).
    Active,
    /// Released; its entry waits on a freelist (Stage 1 may reuse it).
    Empty,
}

/// Registry record of one SuperSlab.
pub struct SharedSSMeta {
    /// `(generation, live, active mask)`: every activation and every retirement
    /// is a CAS on this word.
    pub(crate) word: AtomicU64,
    /// Hint: slots activated at least once in this generation (EMPTY vs UNUSED).
    pub(crate) touched: AtomicU32,
    /// SuperSlab base; null while retired. Only read after activating a slot.
    pub(crate) ss: AtomicPtr<u8>,
    /// Link in the backend's list of retired records (under the backend lock).
    pub(crate) next_free: AtomicU32,
    /// The SuperSlab read as zero when this generation mapped it (a new or
    /// purged mapping), so its untouched slots still do. Written before the
    /// word's publishing store, read after activating a slot.
    pub(crate) zeroed: AtomicBool,
    /// The SuperSlab's mapping was advised huge pages (`MADV_HUGEPAGE`,
    /// which stays on the mapping while it is retained): its first touch
    /// maps 2 MiB, so pre-faulting zeroed blocks is wasted work there.
    /// Written before the word's publishing store, read after activating a
    /// slot.
    pub(crate) dense: AtomicBool,
    /// Per-slab block bookkeeping, owned by whoever holds the slot.
    pub(crate) slabs: [Slab; SLOTS],
}

// SAFETY: outside the models (see FRESH_IS_ZERO) every field `fresh` writes
// is zero: the word (generation 0, not live, no slot active), the flags, the
// null base, and each `Slab::new` (see there); atomics are plain integers.
// The test below checks a zeroed record reads as a fresh one.
unsafe impl Record for SharedSSMeta {
    const FRESH_IS_ZERO: bool = crate::sync::ATOMICS_ARE_PLAIN;
    fn fresh() -> Self {
        SharedSSMeta {
            word: AtomicU64::new(SlotWord::new(Generation::ZERO, false, 0).0),
            touched: AtomicU32::new(0),
            ss: AtomicPtr::new(core::ptr::null_mut()),
            next_free: AtomicU32::new(0),
            zeroed: AtomicBool::new(false),
            dense: AtomicBool::new(false),
            slabs: core::array::from_fn(|_| Slab::new()),
        }
    }
}

impl SharedSSMeta {
    /// Current state word.
    #[inline]
    pub fn word(&self) -> SlotWord {
        SlotWord(self.word.load(Ordering::Acquire))
    }

    /// Current generation.
    pub fn generation(&self) -> Generation {
        self.word().gen()
    }

    /// Whether the record describes a mapped SuperSlab.
    pub fn is_live(&self) -> bool {
        self.word().live()
    }

    /// State of `slot` (a snapshot; EMPTY/UNUSED come from a hint word).
    pub fn slot_state(&self, slot: u32) -> SlotState {
        if self.word().active() & (1 << slot) != 0 {
            SlotState::Active
        } else if self.touched.load(Ordering::Relaxed) & (1 << slot) != 0 {
            SlotState::Empty
        } else {
            SlotState::Unused
        }
    }

    /// SuperSlab base, null while retired.
    pub fn superslab(&self) -> *mut u8 {
        self.ss.load(Ordering::Acquire)
    }

    /// The slab bookkeeping of `slot`.
    #[inline]
    pub fn slab(&self, slot: u32) -> &Slab {
        &self.slabs[slot as usize]
    }
}

#[cfg(all(test, not(any(feature = "loom", feature = "shuttle"))))]
mod tests {
    use super::*;
    use crate::slab::SlabLocal;

    /// Every field of a slab's owner-only state, as integers.
    fn local(s: &Slab) -> [usize; 13] {
        // SAFETY: the record is this test's own; nothing else touches it.
        unsafe {
            s.local(|l: &mut SlabLocal| {
                let SlabLocal { free, bump, end, used, zero_tail, populated, bsize, class, list, prev, next, meta, slot } = *l;
                [
                    free as usize,
                    bump as usize,
                    end as usize,
                    used as usize,
                    zero_tail as usize,
                    populated as usize,
                    bsize as usize,
                    class as usize,
                    list as u8 as usize,
                    prev as usize,
                    next as usize,
                    meta as usize,
                    slot as usize,
                ]
            })
        }
    }

    #[test]
    fn a_zeroed_record_reads_as_a_fresh_one() {
        const { assert!(<SharedSSMeta as Record>::FRESH_IS_ZERO) };
        let fresh = SharedSSMeta::fresh();
        let zeroed = core::mem::MaybeUninit::<SharedSSMeta>::zeroed();
        // SAFETY: what this test checks: all-zero bytes are a valid record
        // (atomics, raw pointers, bools, integers and a `repr(u8)` enum whose
        // zero is a variant).
        let zeroed = unsafe { zeroed.assume_init() };
        let SharedSSMeta { word, touched, ss, next_free, zeroed: z, dense, slabs } = &zeroed;
        assert_eq!(word.load(Ordering::Relaxed), fresh.word.load(Ordering::Relaxed));
        assert_eq!(touched.load(Ordering::Relaxed), fresh.touched.load(Ordering::Relaxed));
        assert_eq!(ss.load(Ordering::Relaxed), fresh.ss.load(Ordering::Relaxed));
        assert_eq!(next_free.load(Ordering::Relaxed), fresh.next_free.load(Ordering::Relaxed));
        assert_eq!(z.load(Ordering::Relaxed), fresh.zeroed.load(Ordering::Relaxed));
        assert_eq!(dense.load(Ordering::Relaxed), fresh.dense.load(Ordering::Relaxed));
        assert!(!zeroed.is_live());
        for (slot, s) in slabs.iter().enumerate() {
            let f = fresh.slab(slot as u32);
            assert_eq!(zeroed.slot_state(slot as u32), SlotState::Unused);
            assert_eq!(s.owner(), f.owner());
            assert_eq!(s.class(), f.class());
            assert_eq!(s.class(), u32::MAX as usize, "an unset slab's class is not a class");
            assert!(s.remote.is_empty() && f.remote.is_empty());
            assert_eq!(local(s), local(f));
        }
    }
}
