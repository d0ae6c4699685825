//! `pool_ops`: the shared pool (`Pool<MockPages>`, single thread) against a
//! reference model of its protocol (see the `//!` header of `src/pool/mod.rs`).
//!
//! The model keeps, per record, `(generation, live, active mask, touched
//! mask)`, the per-class freelists as LIFO stacks of entries, the record
//! Stage 2 looks at, and the retired-record stack. With it every acquire is
//! predicted exactly: which stale entries Stage 1 drops, which entry it
//! activates, or which slot Stage 2 claims, or which record Stage 3 revives.
//! Checked after every op:
//!
//! * a stale entry is never activated, and no slot is live twice (also by
//!   markers written into each acquired slab and checked at release: two live
//!   slots sharing memory overwrite each other's markers);
//! * generations only grow, by exactly one per retirement, and every record's
//!   state and slot states match the model;
//! * `Acquired::zeroed` slabs read as zero, and the pool's counters
//!   (stage hits, stale drops, retirements, live SuperSlabs) match;
//! * with `retain_bytes == 0` a retired SuperSlab is unmapped at once (and the
//!   mock page source panics if the pool ever hands out a slab of one).
//!
//! Out-of-memory injection (`FailAfter`) makes the pool drop freelist entries
//! it cannot store and may leak a record; from then on the model only checks
//! that Stage 1 activates *some* pushed, valid entry rather than predicting
//! which one.
//!
//! # Byte format
//! Byte 0: bits 0-1 pick `retain_bytes` (0, 2 MiB, 16 MiB, 0), bits 2-3 the
//! purge delay (10 ms, 0, 1 ms, never). Then ops, opcode byte modulo 16:
//!
//! | opcode | op | operands |
//! |---|---|---|
//! | 0-3 | [`PoolOp::Acquire`] | class (1 byte, modulo `NUM_CLASSES`) |
//! | 4-6 | [`PoolOp::Release`] | index (2 bytes LE, modulo live slots) |
//! | 7 | [`PoolOp::Retire`] | index (2 bytes, modulo live SuperSlabs) |
//! | 8, 9 | [`PoolOp::RePushStale`] | index (2 bytes, modulo entries seen), class |
//! | 10 | [`PoolOp::PushForged`] | record, slot, generation delta (`byte % 5 - 2`), class |
//! | 11 | [`PoolOp::Trim`] | - |
//! | 12 | [`PoolOp::AdvanceClock`] | milliseconds |
//! | 13 | [`PoolOp::FailAfter`] | n (255 = stop failing) |
//! | 14 | [`PoolOp::Check`] | - |
//! | 15 | [`PoolOp::AcquireMany`] | class, count (modulo 48) |

use crate::bytes::{Reader, Writer};
use arbitrary::{Arbitrary, Unstructured};
use hakmem_alloc::config::{ALL_SLOTS, SLAB_SIZE, SLOTS, SUPERSLAB_SIZE};
use hakmem_alloc::size_class::NUM_CLASSES;
use hakmem_alloc::{Acquired, Entry, Generation, MockPages, Options, Pool, SlotState, Stage};

/// Most live slots; acquires beyond are skipped.
pub const MAX_LIVE_SLOTS: usize = 160;
/// Most entries remembered for re-pushing.
pub const MAX_HISTORY: usize = 4096;
/// `fail_after` count that means "never fail again".
const HEAL: u64 = 1 << 62;
const MARK: u64 = 0x6861_6b6d_0000_0000;

/// Pool options from the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// `Options::retain_bytes`.
    pub retain_bytes: usize,
    /// `Options::purge_delay_ns`.
    pub purge_delay_ns: u64,
}

/// One pool operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolOp {
    /// `acquire(class)`.
    Acquire {
        /// Size class.
        class: u8,
    },
    /// `release` live slot `i % live`.
    Release {
        /// Slot index.
        i: u16,
    },
    /// Release every active slot of live SuperSlab `i % live`, retiring it.
    Retire {
        /// SuperSlab index.
        i: u16,
    },
    /// Push an entry seen earlier (usually stale by now) again.
    RePushStale {
        /// History index.
        i: u16,
        /// Freelist to push on.
        class: u8,
    },
    /// Push a made-up entry for an existing record.
    PushForged {
        /// Record (modulo records).
        record: u8,
        /// Slot (modulo slots).
        slot: u8,
        /// Generation relative to the record's current one, -2..=2.
        gen_delta: i8,
        /// Freelist to push on.
        class: u8,
    },
    /// `trim()`.
    Trim,
    /// Advance the mock clock; odd values also call `purge_expired()`.
    AdvanceClock {
        /// Milliseconds.
        ms: u8,
    },
    /// Make mappings fail after `n % 8` more (255: stop failing).
    FailAfter {
        /// Count.
        n: u8,
    },
    /// Check every live slab's markers and every record.
    Check,
    /// `count` acquires of `class`.
    AcquireMany {
        /// Size class.
        class: u8,
        /// How many (modulo 48).
        count: u8,
    },
}

/// A decoded `pool_ops` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolInput {
    /// Options.
    pub config: PoolConfig,
    /// Operations.
    pub ops: Vec<PoolOp>,
}

impl PoolInput {
    /// Decode bytes (any byte string is a valid input).
    pub fn decode(data: &[u8]) -> Self {
        let mut r = Reader::new(data);
        let c = r.u8();
        let config = PoolConfig {
            retain_bytes: [0, 2 << 20, 16 << 20, 0][usize::from(c & 3)],
            purge_delay_ns: [10_000_000, 0, 1_000_000, u64::MAX][usize::from((c >> 2) & 3)],
        };
        let mut ops = Vec::new();
        while !r.is_empty() && ops.len() < crate::ops::MAX_OPS {
            ops.push(match r.u8() % 16 {
                0..=3 => PoolOp::Acquire { class: r.u8() },
                4..=6 => PoolOp::Release { i: r.u16() },
                7 => PoolOp::Retire { i: r.u16() },
                8 | 9 => PoolOp::RePushStale { i: r.u16(), class: r.u8() },
                10 => PoolOp::PushForged {
                    record: r.u8(),
                    slot: r.u8(),
                    gen_delta: (r.u8() % 5) as i8 - 2,
                    class: r.u8(),
                },
                11 => PoolOp::Trim,
                12 => PoolOp::AdvanceClock { ms: r.u8() },
                13 => PoolOp::FailAfter { n: r.u8() },
                14 => PoolOp::Check,
                _ => PoolOp::AcquireMany { class: r.u8(), count: r.u8() },
            });
        }
        PoolInput { config, ops }
    }

    /// Encode (config byte `config`, see the module docs).
    pub fn encode(config: u8, ops: &[PoolOp]) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(config);
        for op in ops {
            match *op {
                PoolOp::Acquire { class } => w.u8(0).u8(class),
                PoolOp::Release { i } => w.u8(4).u16(i),
                PoolOp::Retire { i } => w.u8(7).u16(i),
                PoolOp::RePushStale { i, class } => w.u8(8).u16(i).u8(class),
                PoolOp::PushForged { record, slot, gen_delta, class } => {
                    assert!((-2..=2).contains(&gen_delta));
                    w.u8(10).u8(record).u8(slot).u8((gen_delta + 2) as u8).u8(class)
                }
                PoolOp::Trim => w.u8(11),
                PoolOp::AdvanceClock { ms } => w.u8(12).u8(ms),
                PoolOp::FailAfter { n } => w.u8(13).u8(n),
                PoolOp::Check => w.u8(14),
                PoolOp::AcquireMany { class, count } => w.u8(15).u8(class).u8(count),
            };
        }
        w.0
    }
}

impl<'a> Arbitrary<'a> for PoolInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.len();
        Ok(PoolInput::decode(u.bytes(n)?))
    }

    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(PoolInput::decode(u.take_rest()))
    }
}

/// Model of one record.
#[derive(Clone, Copy, Debug, Default)]
struct Rec {
    gen: u32,
    live: bool,
    active: u32,
    touched: u32,
    /// SuperSlab base while live.
    base: usize,
}

impl Rec {
    fn admits(&self, e: Entry) -> bool {
        self.live && self.gen == e.gen.get() && self.active & (1 << e.slot) == 0
    }
}

#[derive(Clone, Copy, Debug)]
struct Live {
    meta: u32,
    slot: u32,
    gen: u32,
    class: usize,
    base: *mut u8,
}

/// The class `Pool::purge_empty_slabs` pushes a purged slab's entry on
/// when the slab's header names no class (as in this model, which never
/// writes one).
const PURGE_CLASS: usize = 0;

struct Model {
    pool: Pool<MockPages>,
    retain_bytes: usize,
    recs: Vec<Rec>,
    free: Vec<Vec<Entry>>,
    live: Vec<Live>,
    history: Vec<Entry>,
    fresh: Option<u32>,
    retired_stack: Vec<u32>,
    bases: Vec<usize>,
    stale: u64,
    retired: u64,
    stages: [u64; 3],
    /// False once out-of-memory was injected (see the module docs).
    exact: bool,
    /// Entries `trim`'s purge of EMPTY slabs may have pushed (on the class
    /// of the slab's header, which this pool-level model never writes).
    purged: Vec<Entry>,
    failing: bool,
}

fn marker(l: &Live) -> u64 {
    MARK ^ u64::from(l.meta) << 40 ^ u64::from(l.slot) << 32 ^ u64::from(l.gen)
}

impl Model {
    fn new(cfg: PoolConfig) -> Self {
        crate::tune_malloc();
        let opts = Options::DEFAULT.with_retain_bytes(cfg.retain_bytes).with_purge_delay_ns(cfg.purge_delay_ns);
        Model {
            pool: Pool::new(MockPages::new(), opts),
            retain_bytes: cfg.retain_bytes,
            recs: Vec::new(),
            free: vec![Vec::new(); NUM_CLASSES],
            live: Vec::new(),
            history: Vec::new(),
            fresh: None,
            retired_stack: Vec::new(),
            bases: Vec::new(),
            stale: 0,
            retired: 0,
            stages: [0; 3],
            exact: true,
            purged: Vec::new(),
            failing: false,
        }
    }

    fn rec(&mut self, i: u32) -> &mut Rec {
        let i = i as usize;
        if self.recs.len() <= i {
            self.recs.resize(i + 1, Rec::default());
        }
        &mut self.recs[i]
    }

    /// The record Stage 2 would look at, after it gives up on an exhausted one.
    fn stage2_record(&mut self) -> Option<u32> {
        let f = self.fresh?;
        let r = self.recs[f as usize];
        if !r.live {
            return None;
        }
        if !r.active & !r.touched & ALL_SLOTS == 0 {
            self.fresh = None;
            return None;
        }
        Some(f)
    }

    fn acquire(&mut self, class: usize) {
        if self.live.len() >= MAX_LIVE_SLOTS {
            return;
        }
        let stale_before = self.pool.stats().stale_dropped;
        // Predict Stage 1.
        let mut expect_stale = 0;
        let mut expect = None;
        if self.exact {
            while let Some(e) = self.free[class].pop() {
                if self.recs[e.index as usize].admits(e) {
                    expect = Some(e);
                    break;
                }
                expect_stale += 1;
            }
        }
        let got = self.pool.acquire(class);
        let stale_now = self.pool.stats().stale_dropped;
        if self.exact {
            assert_eq!(
                stale_now - stale_before,
                expect_stale,
                "Stage 1 dropped a different number of stale entries than the model"
            );
        }
        self.stale = stale_now;
        let Some(a) = got else {
            assert!(self.failing, "acquire({class}) failed without injected out-of-memory");
            assert!(expect.is_none(), "acquire failed although entry {expect:?} was valid");
            // Stage 1 popped every entry of the class (all stale); Stage 2 gave up.
            self.free[class].clear();
            let _ = self.stage2_record();
            return;
        };
        self.check_acquired(class, &a, expect);
    }

    fn check_acquired(&mut self, class: usize, a: &Acquired, expect: Option<Entry>) {
        let what = format!("acquire({class}) -> {a:?}");
        assert!((a.slot as usize) < SLOTS, "{what}: slot out of range");
        assert!(a.meta < self.pool.records(), "{what}: record out of range");
        let got = Entry { index: a.meta, slot: a.slot, gen: a.gen };
        assert!(
            !self.live.iter().any(|l| l.meta == a.meta && l.slot == a.slot),
            "{what}: slot handed out while already live"
        );
        match a.stage {
            Stage::Reuse => {
                if self.exact {
                    assert_eq!(
                        Some(got),
                        expect,
                        "{what}: Stage 1 activated another entry than the model's first valid one"
                    );
                } else {
                    // Some pushed entry, valid now; the real stack is a
                    // subsequence of the model's, so drop everything above it.
                    let list = &mut self.free[class];
                    match list.iter().rposition(|e| *e == got) {
                        Some(j) => list.truncate(j),
                        // Pushed by a purge (on whatever class the slab's
                        // header held); still valid: checked below.
                        None => assert!(
                            self.purged.contains(&got),
                            "{what}: Stage 1 activated an entry never pushed on class {class}"
                        ),
                    }
                }
                let r = self.recs[a.meta as usize];
                assert!(r.admits(got), "{what}: stale entry activated (record {r:?})");
                let r = self.rec(a.meta);
                r.active |= 1 << a.slot;
                r.touched |= 1 << a.slot;
            }
            Stage::Claim => {
                assert!(expect.is_none(), "{what}: Stage 2 served although entry {expect:?} was valid");
                let f = self.stage2_record();
                assert_eq!(f, Some(a.meta), "{what}: Stage 2 claimed from a record other than the last mapped one");
                let r = self.recs[a.meta as usize];
                let free = !r.active & !r.touched & ALL_SLOTS;
                assert_eq!(
                    a.slot,
                    free.trailing_zeros(),
                    "{what}: Stage 2 did not claim the lowest UNUSED slot (record {r:?})"
                );
                assert_eq!(a.gen.get(), r.gen, "{what}: Stage 2 generation");
                if !self.exact {
                    // Stage 1 found nothing valid: whatever the model still
                    // holds for the class is gone.
                    self.free[class].clear();
                }
                let r = self.rec(a.meta);
                r.active |= 1 << a.slot;
                r.touched |= 1 << a.slot;
            }
            Stage::Map => {
                assert!(expect.is_none(), "{what}: Stage 3 served although entry {expect:?} was valid");
                let _ = self.stage2_record();
                assert_eq!(a.slot, 0, "{what}: Stage 3 must hand out slot 0");
                assert_eq!(a.base as usize % SUPERSLAB_SIZE, 0, "{what}: SuperSlab not aligned");
                if self.exact {
                    let want = self.retired_stack.last().copied().unwrap_or(self.recs.len() as u32);
                    assert_eq!(a.meta, want, "{what}: Stage 3 took another record than the model");
                    if self.retired_stack.last() == Some(&a.meta) {
                        self.retired_stack.pop();
                    }
                } else {
                    self.free[class].clear();
                    self.retired_stack.retain(|&i| i != a.meta);
                }
                let r = *self.rec(a.meta);
                assert!(!r.live, "{what}: Stage 3 reused a live record");
                assert_eq!(a.gen.get(), r.gen, "{what}: a revived record must keep its generation");
                *self.rec(a.meta) = Rec { gen: r.gen, live: true, active: 1, touched: 1, base: a.base as usize };
                self.fresh = Some(a.meta);
                if !self.bases.contains(&(a.base as usize)) {
                    self.bases.push(a.base as usize);
                }
            }
        }
        self.stages[a.stage as usize] += 1;
        let r = self.recs[a.meta as usize];
        assert_eq!(a.base as usize, r.base + a.slot as usize * SLAB_SIZE, "{what}: slab base");
        assert!(self.pool.pages().is_mapped(a.base, SLAB_SIZE), "{what}: slab not mapped");
        if a.zeroed {
            // SAFETY: the slab is ours (just acquired) and mapped (checked above).
            let slab = unsafe { core::slice::from_raw_parts(a.base, SLAB_SIZE) };
            if !crate::shadow::is_zero(slab) {
                let i = slab.iter().position(|&b| b != 0).unwrap();
                panic!("{what}: claims zeroed memory but byte {i} is {:#x}", slab[i]);
            }
        }
        let l = Live { meta: a.meta, slot: a.slot, gen: a.gen.get(), class, base: a.base };
        let m = marker(&l);
        // SAFETY: the slab is ours and SLAB_SIZE bytes long; unaligned-safe writes.
        unsafe {
            a.base.cast::<u64>().write_unaligned(m);
            a.base.add(SLAB_SIZE - 8).cast::<u64>().write_unaligned(!m);
        }
        self.live.push(l);
        self.verify_record(a.meta);
    }

    fn check_markers(&self, l: &Live, what: &str) {
        let m = marker(l);
        // SAFETY: `l` is a live slot of ours: its slab is mapped and only we write it.
        let (a, b) = unsafe {
            (l.base.cast::<u64>().read_unaligned(), l.base.add(SLAB_SIZE - 8).cast::<u64>().read_unaligned())
        };
        assert!(
            a == m && b == !m,
            "{what}: slab of record {} slot {} overwritten (two live slots share memory?)",
            l.meta,
            l.slot
        );
    }

    fn release_at(&mut self, k: usize) {
        let l = self.live.swap_remove(k);
        self.check_markers(&l, "release");
        let before = self.pool.meta(l.meta).generation().get();
        unsafe { self.pool.release(l.meta, l.slot, l.class) };
        let e = Entry { index: l.meta, slot: l.slot, gen: Generation::new(l.gen) };
        self.free[l.class].push(e);
        if self.history.len() < MAX_HISTORY {
            self.history.push(e);
        }
        let r = self.rec(l.meta);
        r.active &= !(1 << l.slot);
        if r.active == 0 {
            let base = r.base;
            r.live = false;
            r.gen = Generation::new(r.gen).next().get();
            r.base = 0;
            self.retired += 1;
            self.retired_stack.push(l.meta);
            if self.fresh == Some(l.meta) {
                self.fresh = None;
            }
            let after = self.pool.meta(l.meta).generation().get();
            assert_eq!(after, Generation::new(before).next().get(), "retirement must bump the generation by one");
            assert!(self.pool.meta(l.meta).superslab().is_null(), "retired record keeps its SuperSlab pointer");
            if self.retain_bytes == 0 {
                assert!(
                    !self.pool.pages().is_mapped(base as *const u8, 1),
                    "retired SuperSlab {base:#x} still mapped with retain_bytes = 0"
                );
            }
        }
        self.verify_record(l.meta);
    }

    fn verify_record(&self, i: u32) {
        let m = self.pool.meta(i);
        let r = self.recs.get(i as usize).copied().unwrap_or_default();
        let g = m.generation().get();
        assert_eq!(g, r.gen, "record {i}: generation {g}, model {}", r.gen);
        assert_eq!(m.is_live(), r.live, "record {i}: liveness");
        assert_eq!(m.superslab().is_null(), !r.live, "record {i}: SuperSlab pointer vs liveness");
        if r.live {
            assert_eq!(m.superslab() as usize, r.base, "record {i}: SuperSlab base");
        }
        for s in 0..SLOTS as u32 {
            let want = if r.active & (1 << s) != 0 {
                SlotState::Active
            } else if r.touched & (1 << s) != 0 {
                SlotState::Empty
            } else {
                SlotState::Unused
            };
            assert_eq!(m.slot_state(s), want, "record {i} slot {s}: state (model {r:?})");
        }
    }

    fn verify_all(&mut self) {
        let n = self.pool.records();
        assert!(n as usize >= self.recs.len(), "records disappeared");
        if n as usize > self.recs.len() {
            // Only out-of-memory paths create records nobody is handed.
            assert!(!self.exact, "record created without an acquire");
            self.rec(n - 1);
        }
        for i in 0..n {
            self.verify_record(i);
        }
        for l in &self.live {
            self.check_markers(l, "check");
        }
        let st = self.pool.stats();
        assert_eq!(st.retired, self.retired, "retirement counter");
        assert_eq!([st.stage1, st.stage2, st.stage3], self.stages, "stage counters");
        assert_eq!(st.live_superslabs, self.recs.iter().filter(|r| r.live).count() as u64, "live SuperSlab counter");
        if self.exact {
            assert_eq!(st.stale_dropped, self.stale, "stale counter");
        }
    }

    fn op(&mut self, op: PoolOp) {
        match op {
            PoolOp::Acquire { class } => self.acquire(usize::from(class) % NUM_CLASSES),
            PoolOp::AcquireMany { class, count } => {
                for _ in 0..count % 48 {
                    self.acquire(usize::from(class) % NUM_CLASSES);
                }
            }
            PoolOp::Release { i } => {
                if !self.live.is_empty() {
                    self.release_at(usize::from(i) % self.live.len());
                }
            }
            PoolOp::Retire { i } => {
                let mut ss: Vec<u32> = self.live.iter().map(|l| l.meta).collect();
                ss.sort_unstable();
                ss.dedup();
                if ss.is_empty() {
                    return;
                }
                let meta = ss[usize::from(i) % ss.len()];
                while let Some(k) = self.live.iter().position(|l| l.meta == meta) {
                    self.release_at(k);
                }
                assert!(!self.pool.meta(meta).is_live(), "record {meta} still live after releasing all its slots");
            }
            PoolOp::RePushStale { i, class } => {
                if self.history.is_empty() {
                    return;
                }
                let e = self.history[usize::from(i) % self.history.len()];
                let c = usize::from(class) % NUM_CLASSES;
                unsafe { self.pool.push_entry(c, e) };
                self.free[c].push(e);
            }
            PoolOp::PushForged { record, slot, gen_delta, class } => {
                if self.recs.is_empty() {
                    return;
                }
                let index = u32::from(record) % self.recs.len() as u32;
                let g = self.recs[index as usize].gen as i64 + i64::from(gen_delta);
                let e = Entry {
                    index,
                    slot: u32::from(slot) % SLOTS as u32,
                    gen: Generation::new(g.rem_euclid(1 << 31) as u32),
                };
                let c = usize::from(class) % NUM_CLASSES;
                unsafe { self.pool.push_entry(c, e) };
                self.free[c].push(e);
            }
            PoolOp::Trim => {
                // `trim` first purges every EMPTY slab of the live
                // SuperSlabs and releases each with a fresh freelist entry
                // (its old one may still be listed): the lists are no longer
                // predicted entry by entry once it purged any.
                // Each purged slab's fresh entry goes on top of the class
                // list its header names: this pool-level model never sets a
                // header, so class 0 (`PURGE_CLASS`), in the pool's order.
                // The model lists them there too, so that a later Stage 1
                // pop of one of them is matched to that copy, not to an
                // older copy of the same entry further down (matching the
                // older one dropped every entry in between from the model,
                // a forged entry among them, which the pool then served).
                if self.pool.purge_empty_slabs() > 0 {
                    self.exact = false;
                    for (i, r) in self.recs.iter().enumerate() {
                        for slot in 0..SLOTS as u32 {
                            if r.live && r.active & (1 << slot) == 0 && r.touched & (1 << slot) != 0 {
                                let e = Entry { index: i as u32, slot, gen: Generation::new(r.gen) };
                                self.purged.push(e);
                                self.free[PURGE_CLASS].push(e);
                            }
                        }
                    }
                }
                self.pool.trim();
                assert_eq!(self.pool.stats().cached_superslabs, 0, "trim left cached SuperSlabs");
            }
            PoolOp::AdvanceClock { ms } => {
                self.pool.pages().advance_clock(u64::from(ms) * 1_000_000);
                if ms & 1 == 1 {
                    self.pool.purge_expired();
                }
            }
            PoolOp::FailAfter { n } => {
                if n == 255 {
                    self.pool.pages().fail_after(HEAL);
                    self.failing = false;
                } else {
                    self.pool.pages().fail_after(u64::from(n % 8));
                    self.failing = true;
                    self.exact = false;
                }
            }
            PoolOp::Check => self.verify_all(),
        }
    }

    fn finish(&mut self) {
        self.pool.pages().fail_after(HEAL);
        self.failing = false;
        self.verify_all();
        while !self.live.is_empty() {
            self.release_at(self.live.len() - 1);
        }
        self.verify_all();
        let st = self.pool.stats();
        assert_eq!(st.live_superslabs, 0, "SuperSlabs live after every slot was released");
        self.pool.trim();
        assert_eq!(self.pool.stats().cached_superslabs, 0);
        for &b in &self.bases {
            assert!(
                !self.pool.pages().is_mapped(b as *const u8, SUPERSLAB_SIZE),
                "SuperSlab {b:#x} still mapped after release and trim"
            );
        }
        // Memory is reusable: every entry left is stale, so this maps afresh.
        let left = self.free[0].len() as u64;
        let stale = self.pool.stats().stale_dropped;
        let a = self.pool.acquire(0).expect("acquire after the run");
        assert_eq!(a.stage, Stage::Map, "only stale entries and no live SuperSlab are left");
        if self.exact {
            assert_eq!(self.pool.stats().stale_dropped - stale, left, "every leftover entry of class 0 is stale");
        }
        unsafe { self.pool.release(a.meta, a.slot, 0) };
        assert_eq!(self.pool.stats().live_superslabs, 0);
    }
}

/// Run one `pool_ops` input.
pub fn run(input: &PoolInput) {
    let mut m = Model::new(input.config);
    for (n, op) in input.ops.iter().enumerate() {
        m.op(*op);
        if n % 64 == 63 {
            m.verify_all();
        }
    }
    m.finish();
}

/// Run one `pool_ops` input from raw bytes.
pub fn run_bytes(data: &[u8]) {
    run(&PoolInput::decode(data));
}
