//! What the loom (`loom_pool.rs`) and shuttle (`shuttle_pool.rs`) models
//! share: the models' [`opts`], [`pin_mmap_threshold`] and run [`Report`],
//! the negative controls' check of a caught failure ([`stale_use_caught`]),
//! the pool-level [`World`]: the pool under test plus its bookkeeping (a
//! shadow set of the slots owned, the entries pushed, the highest generation
//! seen per record) with acquire / release / push / check_owned / finish,
//! and the Heap models' final check ([`assert_heap_retired`]).
//!
//! Included by both test targets with `#[path = "common.rs"] mod common;`.
//! It uses only `std` synchronisation (a `Mutex` and atomics that neither
//! loom nor shuttle models, so they add no interleavings) and hakmem types,
//! so it runs under either checker. What differs between the two models is
//! a [`Flavour`] (size class, where the record-state checks run, the
//! freelist-dry guard), passed to [`World::new`].

use hakmem_alloc::config::SLAB_SIZE;
use hakmem_alloc::pool::{SlotState, Stage1Variant, Stage2Variant};
use hakmem_alloc::{Entry, Generation, Heap, MockPages, Options, PageSource, Pool, PoolStats, Stage};
use std::any::Any;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Options of every model: retired SuperSlabs are unmapped at once, so any
/// later use of one is caught by the mock page source.
pub fn opts() -> Options {
    Options::DEFAULT.with_retain_bytes(0)
}

/// Pin glibc's mmap threshold (128 KiB, its default) so it stops adapting.
///
/// The mock page source takes SuperSlabs from `System` (4 MiB `calloc`s).
/// Once one is freed, glibc raises its dynamic mmap threshold above 4 MiB and
/// later `calloc`s come from the heap and must be zeroed by hand: every
/// Stage 3 then faults in 4 MiB, which made these models spend most of their
/// time in the kernel. A fixed threshold keeps every SuperSlab a fresh,
/// lazily zeroed mapping. Only this test binary's allocator is affected.
pub fn pin_mmap_threshold() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if !cfg!(debug_assertions) {
            eprintln!("note: debug assertions are off in this build: the pool's debug_assert!s are not checked (verify/README.md)");
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes a malloc tuning parameter; glibc
        // serialises it with its arena locks.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        }
    });
}

/// Prints a model's run count (executions, schedules) and time when dropped,
/// also while unwinding from a failing run (then the count includes it):
/// `WHAT: UNITs: N in T`, or `WHAT: FAILED at UNIT N in T`.
pub struct Report {
    what: String,
    unit: &'static str,
    /// Runs started: the model's body counts them.
    pub n: std::sync::Arc<AtomicU64>,
    t: Instant,
}

impl Report {
    /// Starts the clock. `what` names the model (and its checker's bounds),
    /// `unit` is what one run is called (`execution`, `schedule`).
    pub fn new(what: String, unit: &'static str) -> Self {
        Report { what, unit, n: Default::default(), t: Instant::now() }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let (n, unit) = (self.n.load(Ordering::Relaxed), self.unit);
        let how = if std::thread::panicking() { format!("FAILED at {unit}") } else { format!("{unit}s:") };
        eprintln!("{}: {how} {n} in {:.1?}", self.what, self.t.elapsed());
    }
}

/// The message of a caught panic (its `String` or `&str` payload; empty for
/// any other payload).
pub fn panic_message(e: &(dyn Any + Send)) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// The failure a negative control must show: each broken variant is named
/// after the one thing it gets wrong, and must fail for that, not for any
/// other panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symptom {
    /// A slot of a retired SuperSlab was activated and handed out: the
    /// owner's record is no longer live in the slab's generation
    /// ([`World::check_owned`]: "slot of a retired SuperSlab activated"), or
    /// the slab lies in memory already unmapped (the mock's "touched unmapped
    /// memory", the seed's SEGV).
    RetiredActivated,
    /// One slot handed to two owners at once (the shadow set's "handed out
    /// twice"). Only loom's controls fail with it (shuttle's Unvalidated
    /// controls touch an unmapped SuperSlab first).
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    OwnedTwice,
    /// A slab reported zeroed that does not read all-zero ("dirty zeroed
    /// slab", [`check_zeroed`]).
    DirtyZeroed,
    /// Blocks wait on the remote list of an orphaned slab at a quiescent
    /// point: nobody owns the slab and nobody will claim it for them
    /// ("block stranded on an orphaned slab"; if they were its last live
    /// blocks, the slab would never be released).
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    Stranded,
    /// A slab taken over by two threads at once: both touch its owner-only
    /// state (loom's "Causality violation: Concurrent ... `UnsafeCell`") or
    /// both hand out one of its blocks ("handed out twice").
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    SlabOwnedTwice,
    /// A slab purged (zeroed) while a thread owned it and had written into
    /// it ("slab purged while owned").
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    PurgedOwned,
}

impl Symptom {
    /// The words `should_panic` expects after "caught ".
    pub fn name(self) -> &'static str {
        match self {
            Symptom::RetiredActivated => "activation of a slot of a retired SuperSlab",
            Symptom::OwnedTwice => "slot owned twice",
            Symptom::DirtyZeroed => "dirty zeroed slab",
            Symptom::Stranded => "block stranded on an orphaned slab",
            Symptom::SlabOwnedTwice => "slab owned twice",
            Symptom::PurgedOwned => "slab purged while owned",
        }
    }

    fn matches(self, msg: &str) -> bool {
        match self {
            Symptom::RetiredActivated => {
                msg.contains("touched unmapped memory") || msg.contains("slot of a retired SuperSlab activated")
            }
            Symptom::OwnedTwice => msg.contains("handed out twice"),
            Symptom::DirtyZeroed => msg.contains("dirty zeroed slab"),
            Symptom::Stranded => msg.contains("block stranded on an orphaned slab"),
            Symptom::PurgedOwned => msg.contains("slab purged while owned"),
            Symptom::SlabOwnedTwice => {
                (msg.contains("Causality violation: Concurrent") && msg.contains("UnsafeCell"))
                    || msg.contains("handed out twice")
            }
        }
    }
}

/// A negative control failed with the panic `e`: check that the failure is
/// `want`, not any other panic (another symptom, a loom error, a deadlock);
/// then re-panic with `negative control NAME: caught SYMPTOM` for
/// `should_panic`.
pub fn symptom_caught(name: &str, want: Symptom, e: &(dyn Any + Send)) -> ! {
    let msg = panic_message(e);
    assert!(want.matches(&msg), "{name}: failed, but not with its symptom ({}): {msg}", want.name());
    panic!("negative control {name}: caught {}: {msg}", want.name());
}

/// A slab handed out by the pool, as plain data (sendable between threads).
#[derive(Clone, Copy, Debug)]
pub struct Got {
    pub meta: u32,
    pub slot: u32,
    pub gen: Generation,
    pub base: usize,
    pub stage: Stage,
    /// The pool reported the slab as reading all-zero.
    pub zeroed: bool,
}

/// What every model release writes into its slab first (the owner used it).
pub const DIRTY: u8 = 0xAA;

/// Check that the slab of `g`, which the pool reported `zeroed`, reads zero
/// wherever a model ever writes ([`dirty`]: its first and last words).
/// Panics with the symptom "dirty zeroed slab" (what a broken Stage 2 would
/// hand to `alloc_zeroed` without a memset). Reading only the bytes the
/// models write keeps it cheap: a whole-slab scan faulted in every page of
/// every fresh mock SuperSlab and made the loom suite several times slower;
/// nothing else writes slab memory in the pool models.
pub fn check_zeroed(g: &Got) {
    for off in [0, SLAB_SIZE - 8] {
        // SAFETY: the slab is mapped (checked by the caller) and owned by
        // this model thread; the pool's memory is plain bytes.
        let v = unsafe { ((g.base + off) as *const u64).read() };
        if v != 0 {
            panic!("dirty zeroed slab: {g:?} reported zeroed but the word at offset {off} reads {v:#x}");
        }
    }
}

/// The owner of `g` used its slab: write [`DIRTY`] into its first and last
/// bytes (the model's stand-in for blocks and links written by a heap).
pub fn dirty(g: &Got) {
    // SAFETY: the slab is mapped and owned by this model thread.
    unsafe {
        core::ptr::write_bytes(g.base as *mut u8, DIRTY, 8);
        core::ptr::write_bytes((g.base + SLAB_SIZE - 8) as *mut u8, DIRTY, 8);
    }
}

/// How a checker drives a [`World`]: the real differences between the loom
/// and the shuttle models.
#[derive(Clone, Copy, Debug)]
pub struct Flavour {
    /// Size class of every acquire, release and push (any index works).
    pub class: usize,
    /// Run [`World::check_owned`] on every acquire and release, and check
    /// that generations only grow (shuttle). Without it (loom), model threads
    /// do only the unmodelled checks (mock page source, shadow set) and the
    /// record-state checks run at quiescent points ([`World::finish`]):
    /// under loom every modelled load they added would be one more
    /// preemption point, and a generation read inside a model thread may be
    /// an older value (weak memory), so there is no history to compare with.
    pub check_every_op: bool,
    /// [`World::finish`] fails once this many of its acquires have reused
    /// an entry (the freelist should have run dry before)...
    pub max_pops: usize,
    /// ...and the message if it did not (a cycle in the list?).
    pub dry_msg: &'static str,
}

/// The pool under test plus a shadow of the slots the model believes owned.
pub struct World {
    pub pool: Pool<MockPages>,
    /// `(record, slot)` of every slab currently held by some model thread.
    owned: Mutex<HashSet<(u32, u32)>>,
    /// Entries pushed on the freelist (releases and explicit pushes).
    pushes: AtomicU64,
    /// Highest generation observed per record: generations only grow
    /// (tracked only with [`Flavour::check_every_op`]).
    gens: Mutex<Vec<u32>>,
    flavour: Flavour,
}

impl World {
    pub fn new(flavour: Flavour, variant: Stage1Variant) -> Self {
        Self::with_variants(flavour, variant, Stage2Variant::Claimed)
    }

    /// A world whose pool runs the given Stage 1 and Stage 2 variants.
    pub fn with_variants(flavour: Flavour, variant: Stage1Variant, stage2: Stage2Variant) -> Self {
        let mut pool = Pool::new(MockPages::new(), opts());
        pool.set_stage1_variant(variant);
        pool.set_stage2_variant(stage2);
        World {
            pool,
            owned: Mutex::new(HashSet::new()),
            pushes: AtomicU64::new(0),
            gens: Mutex::new(Vec::new()),
            flavour,
        }
    }

    /// Check everything the owner of `g` may rely on: mapped, record live in
    /// `g`'s generation, slot ACTIVE, base derived from the record's
    /// SuperSlab; with [`Flavour::check_every_op`], also that the record's
    /// generation never went back.
    ///
    /// Under loom, call this only from a quiescent point (no model thread
    /// running; see [`Flavour::check_every_op`]). Shuttle runs every atomic
    /// as SeqCst and switches threads only at modelled operations, so there
    /// this is valid at any time, and the generation read here can be
    /// compared with every earlier one.
    pub fn check_owned(&self, g: Got) {
        // The seed's crash: a slab inside an unmapped SuperSlab.
        self.pool.pages().check_mapped(g.base as *const u8, SLAB_SIZE);
        let m = self.pool.meta(g.meta);
        let (live, gen, state) = (m.is_live(), m.generation(), m.slot_state(g.slot));
        if self.flavour.check_every_op {
            let mut gens = self.gens.lock().unwrap();
            let i = g.meta as usize;
            if gens.len() <= i {
                gens.resize(i + 1, 0);
            }
            assert!(
                gen.get() >= gens[i],
                "model invariant: record {i} went back from generation {} to {gen:?}",
                gens[i]
            );
            gens[i] = gen.get();
        }
        assert!(
            live && gen == g.gen,
            "slot of a retired SuperSlab activated: owned slab {g:?} but record is live={live} gen={gen:?}"
        );
        assert!(state == SlotState::Active, "model invariant: owned slab {g:?} but slot is {state:?}");
        assert_eq!(m.superslab() as usize + g.slot as usize * SLAB_SIZE, g.base, "model invariant: slab base moved");
    }

    /// Acquire a slab and take ownership of it in the shadow set. The mock
    /// page source and the shadow set are unmodelled, so these checks add no
    /// interleavings; [`World::check_owned`] only with
    /// [`Flavour::check_every_op`].
    pub fn acquire(&self) -> Got {
        let a = self.pool.acquire(self.flavour.class).expect("mock page source is never out of memory here");
        let g = Got { meta: a.meta, slot: a.slot, gen: a.gen, base: a.base as usize, stage: a.stage, zeroed: a.zeroed };
        // The seed's crash: a slab inside an unmapped SuperSlab.
        self.pool.pages().check_mapped(a.base, SLAB_SIZE);
        assert!(self.owned.lock().unwrap().insert((g.meta, g.slot)), "model invariant: slot {g:?} handed out twice");
        if g.zeroed {
            check_zeroed(&g);
        }
        if self.flavour.check_every_op {
            self.check_owned(g);
        }
        g
    }

    /// Give up ownership in the shadow set, then release to the pool.
    pub fn release(&self, g: Got) {
        if self.flavour.check_every_op {
            self.check_owned(g);
        } else {
            self.pool.pages().check_mapped(g.base as *const u8, SLAB_SIZE);
        }
        // Still ours: use it before giving it back.
        dirty(&g);
        assert!(self.owned.lock().unwrap().remove(&(g.meta, g.slot)), "model invariant: release of {g:?} not owned");
        self.pushes.fetch_add(1, Ordering::Relaxed);
        unsafe { self.pool.release(g.meta, g.slot, self.flavour.class) };
    }

    /// Count `n` entries pushed by the pool itself (a purge of EMPTY slabs
    /// re-pushes one per slab).
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    pub fn add_pushes(&self, n: usize) {
        self.pushes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Push an explicit entry on the freelist.
    pub fn push(&self, e: Entry) {
        self.pushes.fetch_add(1, Ordering::Relaxed);
        unsafe { self.pool.push_entry(self.flavour.class, e) };
    }

    /// From a quiescent pool (all model threads joined), with `held` the
    /// slabs still owned: check them; pop every freelist entry (valid ones
    /// are handed out and checked, stale ones dropped) until an acquire falls
    /// through to Stage 2/3, which proves the list empty; check that every
    /// entry pushed was popped exactly once; release everything and check
    /// that every SuperSlab retired. Returns the pool's final counters.
    pub fn finish(&self, mut held: Vec<Got>) -> PoolStats {
        for &g in &held {
            self.check_owned(g);
        }
        let mut pops = 0;
        loop {
            let g = self.acquire();
            if !self.flavour.check_every_op {
                // Quiescent: the record-state check `acquire` left out.
                self.check_owned(g);
            }
            held.push(g);
            if g.stage != Stage::Reuse {
                break;
            }
            pops += 1;
            assert!(pops < self.flavour.max_pops, "{}", self.flavour.dry_msg);
        }
        let s = self.pool.stats();
        assert_eq!(
            s.stage1 + s.stale_dropped,
            self.pushes.load(Ordering::Relaxed),
            "model invariant: freelist accounting {s:?}"
        );
        for g in held {
            self.release(g);
        }
        let s = self.pool.stats();
        assert_eq!(s.live_superslabs, 0, "model invariant: everything released but not retired: {s:?}");
        assert_eq!(s.retired, s.stage3, "model invariant: mapped SuperSlabs not all retired: {s:?}");
        s
    }
}

/// The end of a Heap model, from a quiescent heap (all model threads joined,
/// every block freed, every abandoned slab adopted): no SuperSlab live, none
/// abandoned, every SuperSlab mapped also retired. Returns the pool's final
/// counters.
pub fn assert_heap_retired(heap: &Heap<MockPages>) -> PoolStats {
    let s = heap.pool().stats();
    assert_eq!(
        (s.live_superslabs, heap.abandoned_slabs()),
        (0, 0),
        "model invariant: everything free must retire: {s:?}"
    );
    assert_eq!(s.retired, s.stage3, "model invariant: mapped SuperSlabs not all retired: {s:?}");
    s
}
