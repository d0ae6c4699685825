//! The shared SuperSlab pool: hands slabs (slots of 2 MiB SuperSlabs) to
//! threads and takes them back.
//!
//! # Acquire, in three stages
//! 1. **Stage 1** pops an entry `(record, slot, generation)` from the class's
//!    lock-free freelist of EMPTY slots and tries to activate it.
//! 2. **Stage 2** claims an UNUSED slot of the most recently mapped SuperSlab.
//! 3. **Stage 3** takes a retired SuperSlab from the cache (or maps a new one)
//!    and a record (a retired one, or a new one from the registry).
//!
//! # The protocol that makes a stale entry harmless
//! Each record has one state word `(generation, live, active mask)`
//! ([`SlotWord`]). The *only* ways to change it are CASes:
//! * activation (Stage 1 and 2): `(g, live, A)` -> `(g, live, A | slot)`, which
//!   requires the record to be live, the slot inactive, and, for Stage 1, `g`
//!   to equal the entry's generation;
//! * release: `(g, live, A)` -> `(g, live, A & !slot)` by the slot's owner;
//! * retirement: `(g, live, 0)` -> `(g + 1, dead, 0)`, only with nothing active.
//!
//! Activation and retirement CAS the same word, so they are totally ordered:
//! either the activation lands first, and then the active bit makes the
//! retirement CAS fail, or the retirement lands first, and then the generation
//! no longer matches and the activation CAS fails. There is no window between
//! "check" and "use": the check *is* the activation. Only after a successful
//! activation does Stage 1 read the SuperSlab pointer, which cannot change
//! while a slot is active. A stale entry is dropped, counted, and the pop
//! continues; when the freelist runs dry the acquire falls through to Stage 2/3.
//!
//! The seed's crash (no validation), the seed's own fix (a state-checked
//! activation under a lock, then a NULL check of `ss`), a generation check
//! followed by a separate activation and load, and the real CAS without the
//! generation are kept as test-only variants in model builds
//! ([`Stage1Variant`]), with Stage 2's pre-issue-13 use of the `touched`
//! hint ([`Stage2Variant`]), so the loom and shuttle models can show which
//! fail and how (verify/README.md).
//!
//! # Metadata
//! Records and freelist nodes live in `Arena`s mapped from the page source;
//! they never move and are never freed while the pool lives, and nothing here
//! allocates through the Rust global allocator.

mod backend;
#[cfg(not(any(feature = "loom", feature = "shuttle")))]
pub(crate) mod fork;
mod freelist;
mod meta;

pub use freelist::Node;
pub use meta::{SharedSSMeta, SlotState};

use crate::arena::Arena;
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
use crate::config::{SLAB_SIZE, SLOTS, SUPERSLAB_SIZE};
use crate::options::Options;
use crate::pagemap::PageMap;
use crate::platform::PageSource;
use crate::size_class::NUM_CLASSES;
use crate::slab::Slab;
use crate::sync::{lock, AtomicU32, AtomicU64, Mutex, Ordering};
use crate::tag::{Entry, Generation, SlotWord, MAX_INDEX};
use backend::Backend;
use freelist::IndexStack;

/// Which stage served an acquire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Reused an EMPTY slot from the freelist.
    Reuse,
    /// Claimed an UNUSED slot of a live SuperSlab.
    Claim,
    /// Mapped (or took from the cache) a SuperSlab.
    Map,
}

/// A slot handed out by [`Pool::acquire`]; the caller owns it until `release`.
#[derive(Clone, Copy, Debug)]
pub struct Acquired {
    /// Record index.
    pub meta: u32,
    /// Slot in the SuperSlab.
    pub slot: u32,
    /// Generation the slot was activated in.
    pub gen: Generation,
    /// First byte of the slab.
    pub base: *mut u8,
    /// Which stage served it.
    pub stage: Stage,
    /// Whether the slab memory is known to read as zero.
    pub zeroed: bool,
}

/// How Stage 1 validates a popped entry. Model builds only: the buggy variants
/// are negative controls for verify/.
#[cfg(any(feature = "loom", feature = "shuttle"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage1Variant {
    /// The real protocol: validate and activate in one CAS.
    Validated,
    /// The seed's crash: no validation at all.
    Unvalidated,
    /// A generation check followed by a separate activation and load: check
    /// `ss != NULL` and the generation, then activate and load separately.
    CheckThenLoad,
    /// The seed's fix: under the allocation lock, a state-checked
    /// transition of the slot to ACTIVE, then load `ss` and NULL-check it
    /// (see `activate_seed_fix`).
    SeedFix,
    /// The real CAS without the generation: the record must be live and the
    /// slot inactive, the entry's generation is not compared.
    NoGeneration,
}

/// How Stage 2 decides that a claimed slot is UNUSED (and so, in a SuperSlab
/// mapped zeroed, still zero). Model builds only: the buggy variant is a
/// negative control for verify/.
#[cfg(any(feature = "loom", feature = "shuttle"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage2Variant {
    /// The real protocol: the previous value of the slot's `touched` bit,
    /// claimed with `fetch_or` after the activating CAS.
    Claimed,
    /// Before issue 13: the `touched` hint read before the CAS. A claim that
    /// raced a claim-use-release of the same slot reports a dirty slab as
    /// zeroed.
    TouchedHint,
}

/// How [`Pool::purge_empty_slabs`] takes an EMPTY slab before purging it.
/// Model builds only: the buggy variant is a negative control for verify/.
#[cfg(any(feature = "loom", feature = "shuttle"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeVariant {
    /// The real protocol: activate the slot (one CAS on the record's word),
    /// purge, release it.
    Owned,
    /// Purge every slot that looks EMPTY (inactive, touched) without
    /// activating it: a Stage 1 acquire can take the slot and write into it
    /// meanwhile, and the purge zeroes what it wrote.
    Unowned,
}

/// Counters of the pool (always on: they are on cold paths only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Acquires served by Stage 1.
    pub stage1: u64,
    /// Acquires served by Stage 2.
    pub stage2: u64,
    /// Acquires served by Stage 3.
    pub stage3: u64,
    /// Stale freelist entries dropped.
    pub stale_dropped: u64,
    /// SuperSlabs retired.
    pub retired: u64,
    /// SuperSlabs freshly mapped from the page source.
    pub mapped: u64,
    /// SuperSlabs currently live.
    pub live_superslabs: u64,
    /// Retired SuperSlabs kept mapped for reuse.
    pub cached_superslabs: u64,
    /// Bytes of those that are dirty (not purged).
    pub cached_dirty_bytes: u64,
    /// Records in the registry.
    pub records: u64,
}

struct Counters {
    stage: [AtomicU64; 3],
    stale: AtomicU64,
    retired: AtomicU64,
    mapped: AtomicU64,
    live: AtomicU64,
    /// Slab acquisitions under the zeroed rule (see [`Pool::dense_for`]).
    zeroed: AtomicU64,
}

/// The shared pool of SuperSlabs.
pub struct Pool<P: PageSource> {
    pages: P,
    metas: Arena<SharedSSMeta>,
    nodes: Arena<Node>,
    freelists: [IndexStack; NUM_CLASSES],
    spare_nodes: IndexStack,
    /// Record index + 1 of the SuperSlab Stage 2 looks at (0 = none).
    fresh: AtomicU32,
    backend: Mutex<Backend>,
    /// When the backend's next purge is due (ns, `u64::MAX` = nothing dirty);
    /// written under the backend lock, read without it by [`Pool::purge_if_due`].
    purge_at: AtomicU64,
    pagemap: PageMap,
    counters: Counters,
    opts: Options,
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    variant: Stage1Variant,
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    stage2_variant: Stage2Variant,
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    purge_variant: PurgeVariant,
}

// SAFETY: all shared state is atomics, arenas of Sync records, or behind the
// backend mutex; raw pointers inside refer to page-source memory.
unsafe impl<P: PageSource> Sync for Pool<P> {}
// SAFETY: as above; the pool owns its mappings.
unsafe impl<P: PageSource + Send> Send for Pool<P> {}

/// A pool invariant found broken on a cold path (misuse through the unsafe
/// internals, or a bug): one line `hakmem: WHAT at ADDR` and abort, never a
/// panic that could unwind out of `GlobalAlloc`. Model builds panic with the
/// same line instead, so loom and shuttle can report the schedule.
#[cold]
#[inline(never)]
fn broken(what: &str, addr: *const u8) -> ! {
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    panic!("hakmem: {what} at {addr:p}");
    #[cfg(not(any(feature = "loom", feature = "shuttle")))]
    crate::out::fatal(what, addr)
}

macro_rules! trace {
    ($pool:expr, $($arg:tt)*) => {
        if $pool.opts.acquire_debug {
            $crate::out::eprintln(format_args!($($arg)*));
        }
    };
}

/// Bytes of slabs taken for zeroed blocks (under `HAKMEM_THP_ZEROED_KB`)
/// after which a SuperSlab mapped for them gets huge-page advice even while
/// the heap is below `HAKMEM_THP_AFTER_MB`: a program that has asked for
/// this much in zeroed buffers of 1 KiB and more fills what it gets, and
/// one 2 MiB fault costs less than 512 small ones pre-faulted (the
/// `calloc` case's first round spent 2.5 ms in `MADV_POPULATE_WRITE` on
/// 4 KiB pages). A program that never gets there keeps its footprint.
pub const ZEROED_FLOOR: u64 = 1 << 20;

#[cfg(feature = "loom")]
const FIRST_RECORDS: u32 = 2;
#[cfg(not(feature = "loom"))]
const FIRST_RECORDS: u32 = 16;

impl<P: PageSource> Pool<P> {
    /// A pool with no SuperSlabs yet.
    pub fn new(pages: P, opts: Options) -> Self {
        let mut pool = MaybeUninit::<Self>::uninit();
        // SAFETY: `init_at` writes every field of the pool at `pool` (its
        // page map too, not being told it is zeroed).
        unsafe {
            Self::init_at(pool.as_mut_ptr(), pages, opts, false);
            pool.assume_init()
        }
    }

    /// Build a pool with no SuperSlabs at `dst`, field by field, so that
    /// nothing as big as the pool passes through the stack. With
    /// `pagemap_zeroed` the page map's 64 KiB top level is left as it is
    /// (zero bytes are an empty map in builds without the model checkers):
    /// the global heap lives in a zeroed static, whose pages the page map
    /// then touches only where it gets entries.
    ///
    /// # Safety
    /// `dst` is valid for writes of a `Pool<P>` and holds no live pool
    /// (nothing there is dropped). With `pagemap_zeroed`, the bytes of its
    /// `pagemap` field are all zero, and this is not a model build.
    pub(crate) unsafe fn init_at(dst: *mut Self, pages: P, opts: Options, pagemap_zeroed: bool) {
        debug_assert!(!(pagemap_zeroed && cfg!(any(feature = "loom", feature = "shuttle"))));
        // SAFETY: caller contract: every write below is to a field of `dst`,
        // valid for writes; none reads or drops what was there.
        unsafe {
            addr_of_mut!((*dst).pages).write(pages);
            addr_of_mut!((*dst).metas).write(Arena::new(FIRST_RECORDS));
            addr_of_mut!((*dst).nodes).write(Arena::new(FIRST_RECORDS * 8));
            addr_of_mut!((*dst).freelists).write(core::array::from_fn(|_| IndexStack::new()));
            addr_of_mut!((*dst).spare_nodes).write(IndexStack::new());
            addr_of_mut!((*dst).fresh).write(AtomicU32::new(0));
            addr_of_mut!((*dst).backend).write(Mutex::new(Backend::new()));
            addr_of_mut!((*dst).purge_at).write(AtomicU64::new(u64::MAX));
            if !pagemap_zeroed {
                addr_of_mut!((*dst).pagemap).write(PageMap::new());
            }
            addr_of_mut!((*dst).counters).write(Counters {
                stage: core::array::from_fn(|_| AtomicU64::new(0)),
                stale: AtomicU64::new(0),
                retired: AtomicU64::new(0),
                mapped: AtomicU64::new(0),
                live: AtomicU64::new(0),
                zeroed: AtomicU64::new(0),
            });
            addr_of_mut!((*dst).opts).write(opts);
            #[cfg(any(feature = "loom", feature = "shuttle"))]
            {
                addr_of_mut!((*dst).variant).write(Stage1Variant::Validated);
                addr_of_mut!((*dst).stage2_variant).write(Stage2Variant::Claimed);
                addr_of_mut!((*dst).purge_variant).write(PurgeVariant::Owned);
            }
        }
        // The pattern names every field (no `..`): a field added to `Pool`
        // fails to compile here until `init_at` writes it.
        let _every_field_written = |p: &Self| {
            let Pool {
                pages: _,
                metas: _,
                nodes: _,
                freelists: _,
                spare_nodes: _,
                fresh: _,
                backend: _,
                purge_at: _,
                pagemap: _,
                counters: _,
                opts: _,
                #[cfg(any(feature = "loom", feature = "shuttle"))]
                    variant: _,
                #[cfg(any(feature = "loom", feature = "shuttle"))]
                    stage2_variant: _,
                #[cfg(any(feature = "loom", feature = "shuttle"))]
                    purge_variant: _,
            } = p;
        };
    }

    /// Select how EMPTY slabs are taken for a purge (model builds only;
    /// negative controls).
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    pub fn set_purge_variant(&mut self, v: PurgeVariant) {
        self.purge_variant = v;
    }

    /// Select the Stage 1 validation (model builds only; negative controls).
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    pub fn set_stage1_variant(&mut self, v: Stage1Variant) {
        self.variant = v;
    }

    /// Select how Stage 2 decides UNUSED (model builds only; negative controls).
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    pub fn set_stage2_variant(&mut self, v: Stage2Variant) {
        self.stage2_variant = v;
    }

    /// The page source.
    #[inline]
    pub fn pages(&self) -> &P {
        &self.pages
    }

    /// The options the pool was built with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Record `idx`.
    #[inline]
    pub fn meta(&self, idx: u32) -> &SharedSSMeta {
        self.metas.get(idx)
    }

    /// Number of records in the registry.
    pub fn records(&self) -> u32 {
        self.metas.len()
    }

    /// The slab bookkeeping for `(meta, slot)`.
    #[inline]
    pub fn slab(&self, meta: u32, slot: u32) -> &Slab {
        self.metas.get(meta).slab(slot)
    }

    /// `class + 1` if `addr` lies in a slab that is active for `class`, 0 if
    /// it does not or that is not known (the slot may be activating): two
    /// loads, for unsized frees (see `crate::pagemap`).
    #[inline]
    pub fn active_class(&self, addr: *const u8) -> u8 {
        self.pagemap.class(addr as usize)
    }

    /// Whether the SuperSlab holding `addr` (a slab of it that the caller
    /// owns) was advised huge pages: pre-faulting its pages is wasted work.
    #[inline]
    pub fn advised_huge_pages(&self, addr: *const u8) -> bool {
        self.lookup(addr).is_some_and(|(m, _)| self.metas.get(m).dense.load(Ordering::Relaxed))
    }

    /// Find the record and slot of an address inside a live SuperSlab.
    #[inline]
    pub fn lookup(&self, addr: *const u8) -> Option<(u32, u32)> {
        let v = self.pagemap.get(addr as usize);
        if v == 0 {
            return None;
        }
        let slot = (addr as usize & (SUPERSLAB_SIZE - 1)) >> crate::config::SLAB_SHIFT;
        Some((v - 1, slot as u32))
    }

    /// Acquire a slab for `class`. `None` only when the page source is out of memory.
    #[cold]
    pub fn acquire(&self, class: usize) -> Option<Acquired> {
        self.acquire_for(class, false)
    }

    /// [`acquire`](Self::acquire), saying whether the slab is wanted for
    /// zeroed blocks: a SuperSlab Stage 3 maps for them may get huge-page
    /// advice (see [`Options::huge_pages_zeroed_from`]).
    #[cold]
    pub fn acquire_for(&self, class: usize, zeroed: bool) -> Option<Acquired> {
        if self.zeroed_rule(class, zeroed) {
            self.counters.zeroed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(a) = self.stage1(class) {
            return Some(a);
        }
        // A zeroed request that Stage 3 would map a huge-page SuperSlab for
        // takes no UNUSED slot of one on 4 KiB pages: such a slab is filled
        // from fresh pages, 16 faults per 64 KiB instead of one per 2 MiB.
        // (The heap's first SuperSlab is mapped before a program's zeroed
        // buffers pass `ZEROED_FLOOR`; the `calloc` case took up to 2 MiB
        // of them from it.) Other requests claim those slots as before.
        let dense = self.zeroed_rule(class, zeroed) && self.dense_for(class, zeroed);
        if let Some(a) = self.stage2(class, dense) {
            return Some(a);
        }
        self.stage3(class, zeroed, dense)
    }

    /// Whether Stage 3 advises huge pages on a SuperSlab it maps for
    /// `class` (for zeroed blocks if `zeroed`): always with
    /// `HAKMEM_THP=1`; else for a big enough class once the heap is past
    /// `HAKMEM_THP_AFTER_MB`, or, for zeroed blocks, once
    /// [`ZEROED_FLOOR`] bytes of slabs have gone to zeroed blocks.
    fn dense_for(&self, class: usize, zeroed: bool) -> bool {
        let o = &self.opts;
        if o.huge_pages {
            return true;
        }
        let size = crate::size_class::class_size(class);
        let big_heap = self.counters.live.load(Ordering::Relaxed) * SUPERSLAB_SIZE as u64 >= o.huge_pages_after as u64;
        if o.huge_pages_from != 0 && size >= o.huge_pages_from && big_heap {
            return true;
        }
        self.zeroed_rule(class, zeroed)
            && (big_heap || self.counters.zeroed.load(Ordering::Relaxed) * SLAB_SIZE as u64 >= ZEROED_FLOOR)
    }

    /// Whether an acquisition for `class` falls under the zeroed rule
    /// (`HAKMEM_THP_ZEROED_KB`): for zeroed blocks of a big enough class.
    fn zeroed_rule(&self, class: usize, zeroed: bool) -> bool {
        let z = self.opts.huge_pages_zeroed_from;
        zeroed && z != 0 && crate::size_class::class_size(class) >= z
    }

    fn finish(&self, class: usize, meta_idx: u32, slot: u32, gen: Generation, stage: Stage, zeroed: bool) -> Acquired {
        let meta = self.metas.get(meta_idx);
        let ss = meta.ss.load(Ordering::Acquire);
        let base = ss.wrapping_add(slot as usize * SLAB_SIZE);
        // The seed crashed here, dereferencing a freed SuperSlab. The checking
        // page source turns any such access into a panic.
        self.pages.check_mapped(base, SLAB_SIZE);
        // The slot is active (our CAS) and ours: publish its class for
        // unsized frees; `release` clears it before the slot can change hands.
        self.pagemap.set_class(base as usize, class as u8 + 1);
        self.counters.stage[stage as usize].fetch_add(1, Ordering::Relaxed);
        match stage {
            Stage::Reuse => trace!(
                self,
                "[SP_ACQUIRE_STAGE1_LOCKFREE] class={} reusing EMPTY slot (ss={:p} slab={})",
                class,
                ss,
                slot
            ),
            Stage::Claim => trace!(
                self,
                "[SP_ACQUIRE_STAGE2_LOCKFREE] class={} claimed UNUSED slot (ss={:p} slab={})",
                class,
                ss,
                slot
            ),
            Stage::Map => trace!(
                self,
                "[SP_ACQUIRE_STAGE3] class={} new SuperSlab (ss={:p} from_lru={})",
                class,
                ss,
                !zeroed as u8
            ),
        }
        Acquired { meta: meta_idx, slot, gen, base, stage, zeroed }
    }

    fn stage1(&self, class: usize) -> Option<Acquired> {
        loop {
            let node = self.freelists[class].pop(&self.nodes)?;
            let e = Entry::unpack(self.nodes.get(node).entry.load(Ordering::Relaxed));
            self.spare_nodes.push(&self.nodes, node);
            if let Some(gen) = self.activate_entry(e) {
                return Some(self.finish(class, e.index, e.slot, gen, Stage::Reuse, false));
            }
            self.counters.stale.fetch_add(1, Ordering::Relaxed);
            trace!(
                self,
                "[SP_ACQUIRE_STAGE1_STALE] class={} dropped stale entry (meta={} slab={} gen={} now={})",
                class,
                e.index,
                e.slot,
                e.gen.get(),
                self.metas.get(e.index).generation().get()
            );
        }
    }

    /// Validate `e` and activate its slot in one CAS (see the module docs).
    /// Returns the generation the slot was activated in.
    fn activate_entry(&self, e: Entry) -> Option<Generation> {
        let meta = self.metas.get(e.index);
        #[cfg(any(feature = "loom", feature = "shuttle"))]
        match self.variant {
            Stage1Variant::Validated => {}
            Stage1Variant::Unvalidated => {
                meta.word.fetch_or(1 << e.slot, Ordering::AcqRel);
                return Some(e.gen);
            }
            Stage1Variant::CheckThenLoad => {
                if meta.ss.load(Ordering::Acquire).is_null() || meta.word().gen() != e.gen {
                    return None;
                }
                meta.word.fetch_or(1 << e.slot, Ordering::AcqRel);
                return Some(e.gen);
            }
            Stage1Variant::SeedFix => return self.activate_seed_fix(e),
            Stage1Variant::NoGeneration => {
                let mut w = SlotWord(meta.word.load(Ordering::Acquire));
                loop {
                    if !w.live() || w.active() & (1 << e.slot) != 0 {
                        return None;
                    }
                    match meta.word.compare_exchange_weak(
                        w.0,
                        w.with_active(e.slot).0,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            meta.touched.fetch_or(1 << e.slot, Ordering::Relaxed);
                            return Some(w.gen());
                        }
                        Err(cur) => w = SlotWord(cur),
                    }
                }
            }
        }
        let mut w = SlotWord(meta.word.load(Ordering::Acquire));
        loop {
            if !w.admits(e.gen, e.slot) {
                return None;
            }
            match meta.word.compare_exchange_weak(w.0, w.with_active(e.slot).0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    meta.touched.fetch_or(1 << e.slot, Ordering::Relaxed);
                    return Some(e.gen);
                }
                Err(cur) => w = SlotWord(cur),
            }
        }
    }

    /// The seed's own fix of its crash, as faithfully as this pool allows:
    /// under the allocation lock (here the backend lock, the pool's only
    /// lock), a state-checked transition of the slot to ACTIVE (the seed's
    /// `sp_slot_mark_active`: the slot must not be active; no generation, no
    /// liveness check), then load `ss` (Relaxed, as the seed) and, if it is
    /// null, undo the activation and fall through to Stage 2.
    #[cfg(any(feature = "loom", feature = "shuttle"))]
    fn activate_seed_fix(&self, e: Entry) -> Option<Generation> {
        let meta = self.metas.get(e.index);
        let b = lock(&self.backend);
        let mut w = SlotWord(meta.word.load(Ordering::Acquire));
        loop {
            if w.active() & (1 << e.slot) != 0 {
                return None;
            }
            match meta.word.compare_exchange_weak(w.0, w.with_active(e.slot).0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(cur) => w = SlotWord(cur),
            }
        }
        if meta.ss.load(Ordering::Relaxed).is_null() {
            meta.word.fetch_and(!(1u64 << e.slot), Ordering::AcqRel);
            return None;
        }
        drop(b);
        meta.touched.fetch_or(1 << e.slot, Ordering::Relaxed);
        Some(e.gen)
    }

    /// Claim an UNUSED slot of the record Stage 3 published last; with
    /// `dense`, only if its SuperSlab was advised huge pages.
    fn stage2(&self, class: usize, dense: bool) -> Option<Acquired> {
        let f = self.fresh.load(Ordering::Acquire);
        if f == 0 || (dense && !self.is_dense(f - 1)) {
            return None;
        }
        self.claim_unused(class, f)
    }

    /// Whether record `i`'s SuperSlab was advised huge pages. A hint (read
    /// outside the word's CAS, so possibly of another generation): it only
    /// steers which UNUSED slot a claim tries.
    fn is_dense(&self, i: u32) -> bool {
        self.metas.get(i).dense.load(Ordering::Relaxed)
    }

    /// Claim an UNUSED slot of record `f - 1` (a hint: the record may be
    /// full, retired, or reused since).
    fn claim_unused(&self, class: usize, f: u32) -> Option<Acquired> {
        let meta = self.metas.get(f - 1);
        let mut w = SlotWord(meta.word.load(Ordering::Acquire));
        loop {
            if !w.live() {
                return None;
            }
            // Only a hint: `touched` is read outside the CAS below, and the
            // word can go `A -> A|s -> A` (another thread claims s, uses it,
            // releases it) between this read and the CAS.
            let seen = meta.touched.load(Ordering::Relaxed);
            let free = !w.active() & !seen & crate::config::ALL_SLOTS;
            if free == 0 {
                let _ = self.fresh.compare_exchange(f, 0, Ordering::Relaxed, Ordering::Relaxed);
                return None;
            }
            let slot = free.trailing_zeros();
            match meta.word.compare_exchange_weak(w.0, w.with_active(slot).0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // Whether the slot is still UNUSED is decided here, by
                    // claiming its touched bit and looking at the bit's
                    // previous value, not by the hint above. Every activation
                    // of `slot` in this generation set the bit (after its
                    // activating CAS) before the release CAS that made the
                    // slot inactive again. Our CAS succeeded with the slot
                    // inactive, so it comes after any such release in the
                    // word's modification order and, as an AcqRel RMW, reads
                    // from that release's release sequence: the releaser's
                    // `fetch_or` happens-before ours, and by coherence ours
                    // returns a value with the bit set. Bits of earlier
                    // generations cannot leak in: Stage 3 stores `touched`
                    // before the Release store that publishes the word our
                    // CAS read from. So Relaxed suffices on `touched`; the
                    // ordering comes from `word`.
                    let before = meta.touched.fetch_or(1 << slot, Ordering::Relaxed);
                    #[cfg(any(feature = "loom", feature = "shuttle"))]
                    let before = match self.stage2_variant {
                        Stage2Variant::Claimed => before,
                        Stage2Variant::TouchedHint => seen,
                    };
                    // A slab never used in this generation of a SuperSlab
                    // mapped zeroed is still zero; a used one (lost the race
                    // above) is ours all the same, just not zeroed.
                    let zeroed = before & (1 << slot) == 0 && meta.zeroed.load(Ordering::Relaxed);
                    return Some(self.finish(class, f - 1, slot, w.gen(), Stage::Claim, zeroed));
                }
                Err(cur) => w = SlotWord(cur),
            }
        }
    }

    /// A live record with a slot that is neither active nor touched in its
    /// generation (an UNUSED slot), if any; with `dense`, only one whose
    /// SuperSlab was advised huge pages. A snapshot, read under the backend
    /// lock by Stage 3.
    fn find_unused(&self, dense: bool) -> Option<u32> {
        (0..self.metas.len()).find(|&i| {
            let m = self.metas.get(i);
            let w = SlotWord(m.word.load(Ordering::Acquire));
            w.live()
                && !w.active() & !m.touched.load(Ordering::Relaxed) & crate::config::ALL_SLOTS != 0
                && (!dense || self.is_dense(i))
        })
    }

    /// Map a SuperSlab (or take a retained one) and claim its first slot,
    /// unless a live one has an UNUSED slot (with `dense`: one advised huge
    /// pages, see [`Pool::acquire_for`]; a SuperSlab mapped here then gets
    /// the advice).
    fn stage3(&self, class: usize, for_zeroed: bool, dense: bool) -> Option<Acquired> {
        let mut b = lock(&self.backend);
        // Stage 2 looked at one hint, which another Stage 3 may have moved
        // on (or cleared with a CAS that can ABA when a record is reused),
        // and another thread may have mapped a SuperSlab while this one
        // waited for the lock. Re-check under the lock: while any live
        // SuperSlab has an UNUSED slot, claim one instead of mapping (every
        // failed claim means another thread took a slot or the record
        // retired, so this ends).
        while let Some(i) = self.find_unused(dense) {
            drop(b);
            self.fresh.store(i + 1, Ordering::Release);
            if let Some(a) = self.claim_unused(class, i + 1) {
                return Some(a);
            }
            b = lock(&self.backend);
        }
        let now = self.pages.now_ns();
        b.purge_expired(&self.pages, now, self.opts.purge_delay_ns);
        let popped = b.pop(now);
        self.purge_at.store(b.next_purge(self.opts.purge_delay_ns), Ordering::Relaxed);
        let (base, zeroed, dense) = match popped {
            Some((p, zeroed, was_dense)) => {
                // A retained SuperSlab on 4 KiB pages, taken for a zeroed
                // request that wants huge ones, is advised now: its purged
                // (zeroed) pages come back 2 MiB at a time, and the next
                // such request claims its UNUSED slots instead of skipping
                // them for yet another SuperSlab.
                if dense && !was_dense {
                    // SAFETY: `p` is a whole retained SuperSlab, mapped and
                    // ours; the hint changes no contents.
                    unsafe { self.pages.hint_dense(p, SUPERSLAB_SIZE) };
                }
                (p, zeroed, was_dense || dense)
            }
            None => {
                let p = self.pages.map(SUPERSLAB_SIZE, SUPERSLAB_SIZE);
                if p.is_null() {
                    trace!(self, "[SP_ACQUIRE_STAGE3] class={} out of memory", class);
                    return None;
                }
                let dense = dense || self.dense_for(class, for_zeroed);
                if dense {
                    // SAFETY: `p` is the whole SuperSlab just mapped; the
                    // hint changes no contents.
                    unsafe { self.pages.hint_dense(p, SUPERSLAB_SIZE) };
                }
                self.counters.mapped.fetch_add(1, Ordering::Relaxed);
                (p, true, dense)
            }
        };
        let idx = if b.free_head != 0 {
            let idx = b.free_head - 1;
            b.free_head = self.metas.get(idx).next_free.load(Ordering::Relaxed);
            Some(idx)
        } else {
            self.metas.grow(&self.pages).filter(|&i| i <= MAX_INDEX)
        };
        let mapped = idx.filter(|&i| self.pagemap.set(&self.pages, base as usize, i + 1));
        let Some(idx) = mapped else {
            if let Some(i) = idx {
                // The page map could not grow: give the record back for the next Stage 3.
                self.metas.get(i).next_free.store(b.free_head, Ordering::Relaxed);
                b.free_head = i + 1;
            }
            // Out of memory for metadata: keep the SuperSlab for later.
            // SAFETY: `base` is a whole unreferenced SuperSlab of ours.
            unsafe { b.push(&self.pages, base, now, usize::MAX, dense) };
            return None;
        };
        let meta = self.metas.get(idx);
        let w = SlotWord(meta.word.load(Ordering::Relaxed));
        if w.live() || w.active() != 0 {
            broken("pool record reused while live", meta.ss.load(Ordering::Relaxed));
        }
        meta.ss.store(base, Ordering::Relaxed);
        meta.touched.store(1, Ordering::Relaxed);
        meta.zeroed.store(zeroed, Ordering::Relaxed);
        meta.dense.store(dense, Ordering::Relaxed);
        // Publishes ss/touched/slab state: every reader reads `word` with Acquire
        // (or CASes it) before using them.
        meta.word.store(SlotWord::new(w.gen(), true, 1).0, Ordering::Release);
        drop(b);
        self.counters.live.fetch_add(1, Ordering::Relaxed);
        self.fresh.store(idx + 1, Ordering::Release);
        Some(self.finish(class, idx, 0, w.gen(), Stage::Map, zeroed))
    }

    /// Give back slot `slot` of record `meta`, which the caller owns, as EMPTY
    /// on the freelist of `class`; retire the SuperSlab if it was the last.
    ///
    /// A release of a slot that is not active (released twice, or never
    /// acquired) is detected and aborts: `hakmem: release of a slot that is
    /// not active at <slab>`.
    ///
    /// # Safety
    /// The caller owns the slot: it was handed out by [`Pool::acquire`] of
    /// this pool as `(meta, slot)` and not released since, and the caller
    /// (and anyone it lent the slab to) no longer uses the slab's memory or
    /// its `Slab` bookkeeping: once released, the slot may be handed to
    /// another thread, and the SuperSlab unmapped.
    #[cold]
    pub unsafe fn release(&self, meta_idx: u32, slot: u32, class: usize) {
        let meta = self.metas.get(meta_idx);
        let base = meta.ss.load(Ordering::Relaxed).wrapping_add(slot as usize * SLAB_SIZE);
        let mut w = SlotWord(meta.word.load(Ordering::Relaxed));
        let after = loop {
            if !w.live() || w.active() & (1 << slot) == 0 {
                broken("release of a slot that is not active", base);
            }
            // Clear the class byte while the slot is still active and ours:
            // once the CAS below lands, another thread may activate the slot
            // for another class (and set the byte after its own CAS).
            self.pagemap.set_class(base as usize, 0);
            let n = w.without_active(slot);
            match meta.word.compare_exchange_weak(w.0, n.0, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break n,
                Err(cur) => w = SlotWord(cur),
            }
        };
        // SAFETY: `meta_idx` is a record of this pool (its word was live).
        unsafe { self.push_entry(class, Entry { index: meta_idx, slot, gen: after.gen() }) };
        trace!(
            self,
            "[SP_RELEASE] class={} slot EMPTY (meta={} slab={} active_left={})",
            class,
            meta_idx,
            slot,
            after.active().count_ones()
        );
        if after.active() == 0 {
            self.try_retire(meta_idx, after);
        }
    }

    /// Push an entry on the freelist of `class`. Entries need not be valid: a
    /// stale one is dropped when popped. Exposed for models and fuzzing.
    ///
    /// # Safety
    /// `e.index` is a record of this pool (below [`Pool::records`]) and
    /// `class` below `NUM_CLASSES`: the entry is dereferenced when popped.
    /// Any slot and generation are fine.
    pub unsafe fn push_entry(&self, class: usize, e: Entry) {
        let node = match self.spare_nodes.pop(&self.nodes) {
            Some(n) => n,
            None => {
                let b = lock(&self.backend);
                let n = self.nodes.grow(&self.pages);
                drop(b);
                match n {
                    Some(n) => n,
                    // Out of memory for a node: the slot is simply not
                    // advertised; it is reclaimed when its SuperSlab retires.
                    None => return,
                }
            }
        };
        self.nodes.get(node).entry.store(e.pack(), Ordering::Relaxed);
        self.freelists[class].push(&self.nodes, node);
    }

    /// Retire the SuperSlab of `meta_idx` if its word is still `w` (live, nothing active).
    fn try_retire(&self, meta_idx: u32, w: SlotWord) {
        let meta = self.metas.get(meta_idx);
        if meta.word.compare_exchange(w.0, w.retired().0, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        // From here this thread owns the record and the SuperSlab: no slot can
        // be activated any more (generation moved, not live).
        let ss = meta.ss.swap(core::ptr::null_mut(), Ordering::Relaxed);
        if ss.is_null() {
            // A live record always has its SuperSlab: this one was retired
            // already (and may sit on the record list: a second push would
            // make it a cycle).
            broken("pool record retired twice", ss);
        }
        let _ = self.fresh.compare_exchange(meta_idx + 1, 0, Ordering::Relaxed, Ordering::Relaxed);
        let mut b = lock(&self.backend);
        self.pagemap.set(&self.pages, ss as usize, 0);
        meta.next_free.store(b.free_head, Ordering::Relaxed);
        b.free_head = meta_idx + 1;
        let now = self.pages.now_ns();
        // SAFETY: the retirement CAS made `ss` unreachable from the pool.
        unsafe { b.push(&self.pages, ss, now, self.opts.retain_bytes, meta.dense.load(Ordering::Relaxed)) };
        b.purge_expired(&self.pages, now, self.opts.purge_delay_ns);
        self.purge_at.store(b.next_purge(self.opts.purge_delay_ns), Ordering::Relaxed);
        drop(b);
        self.counters.retired.fetch_add(1, Ordering::Relaxed);
        self.counters.live.fetch_sub(1, Ordering::Relaxed);
        trace!(self, "[SP_RETIRE] SuperSlab retired (ss={:p} meta={} gen={})", ss, meta_idx, w.retired().gen().get());
    }

    /// Set the generation of a *retired* record (tests of generation
    /// wrap-around; a no-op returning false on a live record).
    ///
    /// # Safety
    /// `meta_idx` is a record of this pool. Freelist entries of the record
    /// whose generation is `gen` become valid again when the record is
    /// reused: the caller accepts that they then activate slots of the new
    /// SuperSlab (exactly what a generation wrap after 2^31 retirements
    /// would do).
    pub unsafe fn set_retired_generation(&self, meta_idx: u32, gen: Generation) -> bool {
        let meta = self.metas.get(meta_idx);
        let w = SlotWord(meta.word.load(Ordering::Acquire));
        !w.live()
            && meta
                .word
                .compare_exchange(w.0, SlotWord::new(gen, false, 0).0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Purge (`MADV_DONTNEED`) every EMPTY slab of every live SuperSlab:
    /// slabs released to the freelists while their SuperSlab still holds
    /// other slabs keep their pages otherwise. Each is taken as an acquire
    /// takes a slot, by activating it with one CAS on its record's word (so
    /// no Stage 1 acquire can hold it meanwhile, and the record cannot
    /// retire), purged, and released again with a fresh freelist entry (its
    /// old entry may have been popped and dropped as stale while it was
    /// held). Purged slabs are not reported zeroed: Stage 1 never reports
    /// zeroed, and the slot stays `touched`, so Stage 2 does not take it for
    /// UNUSED. Returns how many slabs were purged (one entry pushed each).
    pub fn purge_empty_slabs(&self) -> usize {
        let mut purged = 0;
        for i in 0..self.metas.len() {
            let meta = self.metas.get(i);
            let mut slot = 0;
            while slot < SLOTS as u32 {
                let w = SlotWord(meta.word.load(Ordering::Acquire));
                if !w.live() {
                    break;
                }
                let empty = w.active() & (1 << slot) == 0 && meta.touched.load(Ordering::Relaxed) & (1 << slot) != 0;
                if !empty {
                    slot += 1;
                    continue;
                }
                #[cfg(any(feature = "loom", feature = "shuttle"))]
                if self.purge_variant == PurgeVariant::Unowned {
                    let ss = meta.ss.load(Ordering::Acquire);
                    if !ss.is_null() {
                        // SAFETY: none: this is the negative control's bug
                        // (the slab may be owned by now; the mock zeroes it).
                        unsafe { self.pages.purge(ss.wrapping_add(slot as usize * SLAB_SIZE), SLAB_SIZE) };
                    }
                    slot += 1;
                    continue;
                }
                if meta
                    .word
                    .compare_exchange(w.0, w.with_active(slot).0, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    // The word moved (an acquire, a release, a retirement):
                    // look at this slot again in the new word.
                    continue;
                }
                // As every activation: mark the slot used in this generation
                // before the release below makes it inactive again.
                meta.touched.fetch_or(1 << slot, Ordering::Relaxed);
                // Non-null while a slot is active; published by the store
                // that made the word live, which our CAS read from.
                let ss = meta.ss.load(Ordering::Acquire);
                let base = ss.wrapping_add(slot as usize * SLAB_SIZE);
                self.pages.check_mapped(base, SLAB_SIZE);
                // SAFETY: we hold the slot (activated above): nobody else
                // uses the slab's memory, and its SuperSlab stays mapped.
                unsafe { self.pages.purge(base, SLAB_SIZE) };
                let class = meta.slab(slot).class();
                let class = if class < NUM_CLASSES { class } else { 0 };
                // SAFETY: we activated the slot and no longer use it.
                unsafe { self.release(i, slot, class) };
                purged += 1;
                slot += 1;
            }
        }
        purged
    }

    /// Purge every EMPTY slab of the live SuperSlabs
    /// ([`Pool::purge_empty_slabs`]), then unmap every retained SuperSlab.
    /// Returns how many SuperSlabs were unmapped.
    pub fn trim(&self) -> usize {
        self.purge_empty_slabs();
        let mut b = lock(&self.backend);
        let n = b.trim(&self.pages);
        self.purge_at.store(u64::MAX, Ordering::Relaxed);
        n
    }

    /// Purge retained SuperSlabs idle past the purge delay.
    pub fn purge_expired(&self) -> usize {
        let now = self.pages.now_ns();
        let mut b = lock(&self.backend);
        let n = b.purge_expired(&self.pages, now, self.opts.purge_delay_ns);
        self.purge_at.store(b.next_purge(self.opts.purge_delay_ns), Ordering::Relaxed);
        n
    }

    /// Purge retained SuperSlabs whose delay has passed, if any is due: one
    /// relaxed load when nothing is retained dirty, a clock read otherwise.
    /// Called from the heap's slow paths, so memory goes back to the OS
    /// after the delay without a background thread.
    #[inline]
    pub fn purge_if_due(&self) {
        let at = self.purge_at.load(Ordering::Relaxed);
        if at != u64::MAX && self.pages.now_ns() >= at {
            self.purge_expired();
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> PoolStats {
        let c = &self.counters;
        let (cached, dirty) = lock(&self.backend).cached();
        PoolStats {
            stage1: c.stage[0].load(Ordering::Relaxed),
            stage2: c.stage[1].load(Ordering::Relaxed),
            stage3: c.stage[2].load(Ordering::Relaxed),
            stale_dropped: c.stale.load(Ordering::Relaxed),
            retired: c.retired.load(Ordering::Relaxed),
            mapped: c.mapped.load(Ordering::Relaxed),
            live_superslabs: c.live.load(Ordering::Relaxed),
            cached_superslabs: cached as u64,
            cached_dirty_bytes: dirty as u64,
            records: self.metas.len() as u64,
        }
    }

    /// Number of slots per SuperSlab.
    pub const SLOTS: usize = SLOTS;
}

impl<P: PageSource> Drop for Pool<P> {
    fn drop(&mut self) {
        let b = self.backend.get_mut();
        #[cfg(not(feature = "loom"))]
        let b = match b {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        #[cfg(feature = "loom")]
        let b = b.unwrap();
        b.trim(&self.pages);
        for i in 0..self.metas.len() {
            let m = self.metas.get(i);
            let ss = m.ss.load(Ordering::Relaxed);
            if !ss.is_null() && m.word().live() {
                // SAFETY: the pool is being dropped: nobody references its SuperSlabs.
                unsafe { self.pages.unmap(ss, SUPERSLAB_SIZE) };
            }
        }
        // SAFETY: no further use; same page source.
        unsafe {
            self.metas.destroy(&self.pages);
            self.nodes.destroy(&self.pages);
            self.pagemap.destroy(&self.pages);
        }
    }
}
