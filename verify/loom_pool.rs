//! loom models of the shared pool: small worlds, every interleaving (within
//! the stated preemption bound), and loom's C11 memory model, so weak
//! orderings are explored too.
//!
//! * Model 1, `crash_timeline`: the seed's crash, a release retiring a
//!   SuperSlab while a Stage 1 acquire pops its entry (2 threads, unbounded).
//! * Model 2, `aba_retire`: three threads pushing and popping the freelist
//!   and spare-node stack heads (node recycling, the ABA pattern) while a
//!   SuperSlab retires (preemption bound 2).
//! * Model 3, `cross_thread_free`: a remote free through the Heap API racing
//!   the owner's exit, adoption and retirement (preemption bound 4).
//! * Model 5, `orphan_claim`: an owner giving up an exhausted slab (the
//!   orphan bit) while two threads free blocks of it and race to take it
//!   over; with two negative controls (a push that ignores the bit, a claim
//!   by load-then-store).
//! * Model 6, `purge_empty`: `trim`'s purge of EMPTY slabs in live
//!   SuperSlabs racing a Stage 1 acquire of the same slab; with a negative
//!   control (purge without taking the slot).
//! * Model 7, `free_abandoned`: a free into an abandoned slab (in place,
//!   under the abandoned lock) racing its adoption by a refill; with a
//!   negative control (a free that does not look at the owner again under
//!   the lock).
//!
//! Models 1 and 2 also run as negative controls with the seed's two broken
//! Stage 1 variants and must fail. Every model asserts, per execution: no
//! slot owned twice (shadow set), every slab handed out lies in a mapped
//! SuperSlab whose record is live in the slab's generation, exact stage,
//! retirement and freelist counters, and that everything retires at the end.
//!
//! Run: `cargo test --release --features loom --test loom_pool` (see
//! `verify/README.md` for bounds, run times and what is not covered).

#[path = "common.rs"]
mod common;

use common::{
    assert_heap_retired, dirty, opts, pin_mmap_threshold, symptom_caught, Flavour, Got, Report, Symptom, World, DIRTY,
};
use hakmem_alloc::config::SLAB_SIZE;
use hakmem_alloc::pool::{PurgeVariant, Stage1Variant, Stage2Variant};
use hakmem_alloc::{Entry, Generation, Heap, MockPages, ReclaimVariant, Stage, ThreadCache};
use loom::sync::Arc;
use loom::thread;
use std::alloc::Layout;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// The loom models' [`World`]: size class 3 (any index works); model threads
/// do only unmodelled checks, the record-state checks run at quiescent points
/// (each modelled load in a thread would add preemption points); a small
/// world, so 64 pops without the freelist running dry mean a cycle.
const LOOM: Flavour = Flavour {
    class: 3,
    check_every_op: false,
    max_pops: 64,
    dry_msg: "model invariant: freelist did not run dry after 64 pops (cycle?)",
};

/// Stack of every model thread: the pool and loom's bookkeeping overflow
/// loom's default coroutine stack.
const STACK: usize = 1 << 20;

/// `loom::thread::spawn` with a big stack.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new().stack_size(STACK).spawn(f).expect("loom spawn")
}

/// Outcomes a model reached, collected over all its executions, so a test
/// can assert that the interesting interleavings were explored at all.
type Coverage = std::sync::Arc<Mutex<BTreeSet<String>>>;

fn cover(c: &Coverage, what: impl Into<String>) {
    c.lock().unwrap().insert(what.into());
}

fn assert_covered(c: &Coverage, want: &[&str]) {
    let got = c.lock().unwrap();
    eprintln!("outcomes reached: {got:#?}");
    for w in want {
        assert!(got.contains(*w), "model never reached outcome {w:?}; reached {got:?}");
    }
}

/// Runs a loom model, counting and printing its executions.
fn run(name: &str, preemption_bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    pin_mmap_threshold();
    let mut b = loom::model::Builder::new();
    // Some executions (CAS retries that yield, the final drain) are long.
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        b.max_branches = 20_000;
    }
    // LOOM_MAX_PREEMPTIONS, when set, overrides the model's own bound.
    if preemption_bound.is_some() && std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = preemption_bound;
    }
    let r = Report::new(format!("loom model {name} (preemption bound {:?})", b.preemption_bound), "execution");
    let n = r.n.clone();
    let f = std::sync::Arc::new(f);
    b.check(move || {
        n.fetch_add(1, Ordering::Relaxed);
        // The model's own main thread has a small coroutine stack: run the
        // body on a spawned thread with a big one.
        let f = f.clone();
        spawn(move || f()).join().unwrap();
    });
}

/// Runs a model that must fail (a negative control) and checks that it
/// failed with `want`, its own symptom ([`Symptom`]): anything else (another
/// symptom, a loom error, a deadlock) does not count. Re-panics with
/// `negative control NAME: caught SYMPTOM` for `should_panic`.
fn expect_caught(name: &str, want: Symptom, preemption_bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(name, preemption_bound, f)));
    let Err(e) = r else {
        panic!("negative control {name}: NOT caught (expected {})", want.name());
    };
    symptom_caught(name, want, &*e);
}

// ---------------------------------------------------------------------------
// Model 1: the crash report's timeline.
// ---------------------------------------------------------------------------

/// Thread A releases the only active slot of a SuperSlab (push the EMPTY
/// entry, retirement CAS, generation bump, unmap) while thread B acquires.
/// B must end with a valid slab: the entry itself if its activation won the
/// race, otherwise one from Stage 2 (before the retirement) or Stage 3.
fn crash_timeline(variant: Stage1Variant, cov: &Coverage) {
    let w = Arc::new(World::new(LOOM, variant));
    let first = w.acquire();
    assert_eq!((first.meta, first.slot, first.stage), (0, 0, Stage::Map));
    let old_base = first.base - first.slot as usize * SLAB_SIZE;

    let wa = w.clone();
    let a = spawn(move || wa.release(first));
    let wb = w.clone();
    let b = spawn(move || wb.acquire());
    a.join().unwrap();
    let g = b.join().unwrap();

    // Quiescent from here: B still owns its slab.
    let s = w.pool.stats();
    assert_eq!(s.stage1 + s.stage2 + s.stage3, 2, "{s:?}");
    assert_eq!(s.stage1, u64::from(g.stage == Stage::Reuse), "{s:?}");
    assert!(s.stale_dropped <= 1, "{s:?}");
    match g.stage {
        // B's activation landed before the retirement CAS, which then failed.
        Stage::Reuse => {
            assert_eq!(s.retired, 0, "slot of a retired SuperSlab activated: B reused {g:?} but {s:?}");
            assert_eq!((g.meta, g.slot, g.gen), (0, 0, Generation::ZERO));
        }
        // An UNUSED slot of the still-live SuperSlab: the retirement failed.
        Stage::Claim => {
            assert_eq!((g.meta, g.gen, s.retired), (0, Generation::ZERO, 0));
            assert_ne!(g.slot, 0, "slot 0 is EMPTY, not UNUSED");
        }
        // Only reachable once the SuperSlab retired.
        Stage::Map => assert_eq!((g.slot, s.retired), (0, 1)),
    }
    // Generations only grow, by one per retirement.
    assert_eq!(w.pool.meta(0).generation(), Generation::new(s.retired as u32));
    if s.retired == 1 {
        // retain_bytes 0: the retired SuperSlab was unmapped (Stage 3 may
        // since have mapped the same address again).
        assert_eq!(w.pool.pages().counts().1, 1, "retired SuperSlab not unmapped");
        let ss = w.pool.meta(g.meta).superslab() as usize;
        assert!(ss == old_base || !w.pool.pages().is_mapped(old_base as *const u8, 1));
    }
    cover(cov, format!("B {:?} record {} stale_dropped {} retired {}", g.stage, g.meta, s.stale_dropped, s.retired));
    w.finish(vec![g]);
}

#[test]
fn loom_crash_timeline() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("crash_timeline", None, move || crash_timeline(Stage1Variant::Validated, &c));
    assert_covered(
        &cov,
        &[
            // B's pop won the race and reused the entry.
            "B Reuse record 0 stale_dropped 0 retired 0",
            // B's Stage 1 ran before the push: claimed an UNUSED slot.
            "B Claim record 0 stale_dropped 0 retired 0",
            // B popped the entry after the retirement, dropped it as stale,
            // and mapped a new SuperSlab: new record, or record 0 reused.
            "B Map record 1 stale_dropped 1 retired 1",
            "B Map record 0 stale_dropped 1 retired 1",
            // B's Stage 1 ran before the push, Stage 2 after the retirement.
            "B Map record 1 stale_dropped 0 retired 1",
            "B Map record 0 stale_dropped 0 retired 1",
        ],
    );
}

#[test]
#[should_panic(expected = "caught slot owned twice")]
fn loom_crash_timeline_catches_unvalidated() {
    expect_caught("crash_timeline/Unvalidated", Symptom::OwnedTwice, None, || {
        crash_timeline(Stage1Variant::Unvalidated, &Coverage::default())
    });
}

#[test]
#[should_panic(expected = "caught activation of a slot of a retired SuperSlab")]
fn loom_crash_timeline_catches_check_then_load() {
    expect_caught("crash_timeline/CheckThenLoad", Symptom::RetiredActivated, None, || {
        crash_timeline(Stage1Variant::CheckThenLoad, &Coverage::default())
    });
}

/// The seed's fix: a state-checked activation under the allocation lock,
/// then a NULL check of `ss`.
#[test]
#[should_panic(expected = "caught activation of a slot of a retired SuperSlab")]
fn loom_crash_timeline_catches_seed_fix() {
    expect_caught("crash_timeline/SeedFix", Symptom::RetiredActivated, None, || {
        crash_timeline(Stage1Variant::SeedFix, &Coverage::default())
    });
}

// ---------------------------------------------------------------------------
// Model 2: three threads, two SuperSlabs, racing stack heads + a retire.
// ---------------------------------------------------------------------------

/// SuperSlab 0 is full (its four slots touched): slots 0 and 1 are held,
/// slots 2 and 3 are EMPTY on the freelist. Four entries stale for good were
/// pushed and popped first, so the spare-node stack holds recycled nodes.
/// SuperSlab 1, mapped next, has slot 0 active. Then, concurrently:
/// * A releases SuperSlab 1's slot: push (a spare node), retirement CAS
///   (its entry goes stale), generation bump, unmap;
/// * B acquires: pops the freelist (dropping a stale entry, or reusing one,
///   or falling to Stage 2/3) and pushes the popped node on the spare stack;
/// * C releases SuperSlab 0's slot 1: pops a spare node, pushes it on the
///   freelist.
///
/// Both stack heads see concurrent pops and pushes, and nodes leave a head
/// and come back to it (B moves a freelist node to the spare stack, A and C
/// move spare nodes to the freelist) while another thread may hold a stale
/// view of that head: the ABA pattern, which the head's tag must defeat.
fn aba_retire(variant: Stage1Variant, cov: &Coverage) {
    let w = Arc::new(World::new(LOOM, variant));
    let ss0: Vec<Got> = (0..4).map(|_| w.acquire()).collect();
    assert!(ss0.iter().all(|g| g.meta == 0));
    for slot in 0..4 {
        // Stale for good: record 0 stays in generation 0 throughout.
        w.push(Entry { index: 0, slot, gen: Generation::new(1) });
    }
    let last = w.acquire();
    assert_eq!((last.meta, last.slot, last.stage), (1, 0, Stage::Map));
    assert_eq!(w.pool.stats().stale_dropped, 4);
    w.release(ss0[2]);
    w.release(ss0[3]);
    let s0 = w.pool.stats();

    let wa = w.clone();
    let a = spawn(move || wa.release(last));
    let wb = w.clone();
    let b = spawn(move || wb.acquire());
    let wc = w.clone();
    let c1 = ss0[1];
    let c = spawn(move || wc.release(c1));
    a.join().unwrap();
    let gb = b.join().unwrap();
    c.join().unwrap();

    let s = w.pool.stats();
    // B's activation of SuperSlab 1 (reuse or claim) is the only thing that
    // can make the retirement CAS fail.
    let b_on_ss1 = gb.meta == 1 && gb.gen == Generation::ZERO;
    assert_eq!(s.retired, u64::from(!b_on_ss1), "{s:?} {gb:?}");
    assert_eq!(w.pool.meta(1).generation(), Generation::new(s.retired as u32));
    assert!(w.pool.meta(0).is_live() && w.pool.meta(0).generation() == Generation::ZERO);
    cover(
        cov,
        format!(
            "B {:?} record {} stale_dropped {} retired {}",
            gb.stage,
            gb.meta,
            s.stale_dropped - s0.stale_dropped,
            s.retired
        ),
    );
    w.finish(vec![ss0[0], gb]);
}

#[test]
fn loom_aba_retire() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("aba_retire", Some(2), move || aba_retire(Stage1Variant::Validated, &c));
    assert_covered(
        &cov,
        &[
            // B reused SuperSlab 1's entry before the retirement CAS.
            "B Reuse record 1 stale_dropped 0 retired 0",
            // B dropped it as stale and reused an entry of SuperSlab 0.
            "B Reuse record 0 stale_dropped 1 retired 1",
            // B reused an entry of SuperSlab 0 before A's push.
            "B Reuse record 0 stale_dropped 0 retired 1",
        ],
    );
}

#[test]
#[should_panic(expected = "caught slot owned twice")]
fn loom_aba_retire_catches_unvalidated() {
    expect_caught("aba_retire/Unvalidated", Symptom::OwnedTwice, Some(2), || {
        aba_retire(Stage1Variant::Unvalidated, &Coverage::default())
    });
}

#[test]
#[should_panic(expected = "caught activation of a slot of a retired SuperSlab")]
fn loom_aba_retire_catches_check_then_load() {
    expect_caught("aba_retire/CheckThenLoad", Symptom::RetiredActivated, Some(2), || {
        aba_retire(Stage1Variant::CheckThenLoad, &Coverage::default())
    });
}

// ---------------------------------------------------------------------------
// Model 3: cross-thread free through the Heap API.
// ---------------------------------------------------------------------------

/// Largest small block: 16 per slab under loom, so few blocks, real slabs.
const BIG: usize = hakmem_alloc::config::MAX_SMALL;

struct HeapWorld {
    heap: Heap<MockPages>,
    /// Addresses of blocks currently allocated.
    live: Mutex<HashSet<usize>>,
}

/// A block pointer that may cross threads (the model hands it over).
#[derive(Clone, Copy)]
struct Blk(usize);

impl HeapWorld {
    fn layout() -> Layout {
        Layout::from_size_align(BIG, 8).unwrap()
    }

    fn alloc(&self, tc: &mut ThreadCache, tag: u64) -> Blk {
        // SAFETY: every cache of this model is used with this one heap, by
        // one thread at a time.
        let p = unsafe { self.heap.alloc(tc, Self::layout()) };
        assert!(!p.is_null());
        assert!(self.heap.pages().is_mapped(p, BIG), "model invariant: block {p:p} outside a live mapping");
        assert!(self.live.lock().unwrap().insert(p as usize), "model invariant: block {p:p} handed out twice");
        // SAFETY: a fresh block of BIG bytes, mapped (checked above), ours.
        unsafe {
            p.cast::<u64>().write(tag);
            p.add(BIG - 8).cast::<u64>().write(!tag);
        }
        Blk(p as usize)
    }

    fn free(&self, tc: &mut ThreadCache, b: Blk, tag: u64) {
        let p = b.0 as *mut u8;
        assert!(self.heap.pages().is_mapped(p, BIG), "model invariant: live block {p:p} unmapped");
        // SAFETY: a live block of ours (in the shadow set), BIG bytes, mapped.
        let (h, t) = unsafe { (p.cast::<u64>().read(), p.add(BIG - 8).cast::<u64>().read()) };
        assert_eq!((h, t), (tag, !tag), "model invariant: block {p:p} overwritten (overlap)");
        assert!(self.live.lock().unwrap().remove(&b.0), "model invariant: free of {p:p} not live");
        // SAFETY: allocated by this heap with this layout, not used afterwards.
        unsafe { self.heap.dealloc(tc, p, Self::layout()) };
    }
}

/// The owner O allocates two blocks `p` and `q` from its slab. Then,
/// concurrently:
/// * R frees `p` (a remote free: pushed on the slab's remote list when R's
///   cache drains at exit), then allocates a block, frees it and exits
///   again (its refill may adopt O's abandoned slab, or acquire from the
///   pool, popping O's entry, valid or stale);
/// * O frees `q` and exits: it collects the remote list and releases the slab
///   (retiring the SuperSlab) if `p` already arrived, or abandons it.
///
/// Afterwards a third cache adopts whatever is still abandoned (its remote
/// list now holds `p`); at the end every block is free and every SuperSlab
/// retired. loom also checks that the slabs' owner-only state (a loom
/// `UnsafeCell`) is never accessed by two threads without synchronisation.
fn cross_thread_free(cov: &Coverage) {
    let opts = opts().with_drain_interval(2);
    let w = Arc::new(HeapWorld { heap: Heap::with_options(MockPages::new(), opts), live: Mutex::new(HashSet::new()) });
    let mut tco = ThreadCache::new();
    let p = w.alloc(&mut tco, 1);
    let q = w.alloc(&mut tco, 2);

    let wr = w.clone();
    let r = spawn(move || {
        let mut tc = ThreadCache::new();
        wr.free(&mut tc, p, 1);
        unsafe { wr.heap.thread_exit(&mut tc) };
        let x = wr.alloc(&mut tc, 3);
        wr.free(&mut tc, x, 3);
        unsafe { wr.heap.thread_exit(&mut tc) };
    });
    let wo = w.clone();
    let o = spawn(move || {
        let mut tco = tco;
        wo.free(&mut tco, q, 2);
        unsafe { wo.heap.thread_exit(&mut tco) };
    });
    r.join().unwrap();
    o.join().unwrap();

    assert!(w.live.lock().unwrap().is_empty());
    let abandoned = w.heap.abandoned_slabs();
    assert!(abandoned <= 1);
    let s = w.heap.pool().stats();
    cover(
        cov,
        format!("abandoned {abandoned} retired {} stage1 {} stale_dropped {}", s.retired, s.stage1, s.stale_dropped),
    );
    if abandoned == 1 {
        let mut tc = ThreadCache::new();
        let x = w.alloc(&mut tc, 4);
        assert_eq!(w.heap.abandoned_slabs(), 0);
        w.free(&mut tc, x, 4);
        unsafe { w.heap.thread_exit(&mut tc) };
    }
    assert_heap_retired(&w.heap);
}

#[test]
fn loom_cross_thread_free() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("cross_thread_free", Some(4), move || cross_thread_free(&c));
    assert_covered(
        &cov,
        &[
            // O exited before `p` arrived and abandoned the slab; main adopted it.
            "abandoned 1 retired 0 stage1 0 stale_dropped 0",
            // R adopted O's slab (or claimed a slot next to it) and retired it.
            "abandoned 0 retired 1 stage1 0 stale_dropped 0",
            // R's acquire reused the entry of O's released slab.
            "abandoned 0 retired 1 stage1 1 stale_dropped 0",
            // O retired the SuperSlab; R popped its entry, stale, and mapped anew.
            "abandoned 0 retired 2 stage1 0 stale_dropped 1",
            // O retired it before R's Stage 1; R mapped anew.
            "abandoned 0 retired 2 stage1 0 stale_dropped 0",
        ],
    );
}

// ---------------------------------------------------------------------------
// Model 5: an owner orphans an exhausted slab while others free into it.
// ---------------------------------------------------------------------------

/// The owner O allocates every block of one slab (16 under loom) in the
/// setup, so the slab is exhausted. Then, concurrently:
/// * O allocates once more: its refill finds the slab exhausted and gives
///   it up (owner id `ORPHANED`, then the orphan bit on the empty remote
///   list with one CAS), or, if a block came back first, keeps it and
///   reuses that block; then O frees its new block and stays idle (alive,
///   no exit);
/// * R and S each free one block of the slab and exit: each reads the owner
///   id (O's, stale or not, or `ORPHANED`) and either pushes its block onto
///   the remote list (and, finding the bit set, claims the slab) or claims
///   the orphaned slab directly; a claimer that exits with live blocks in it
///   abandons it.
///
/// At the join: no block waits on the list of a slab nobody owns (the
/// stranded check). Then the main thread frees the other 14 blocks and O's
/// cache is flushed: everything must be released and retired. loom checks
/// that the slab's owner-only state is never touched by two threads without
/// synchronisation (two owners at once).
fn orphan_claim(variant: ReclaimVariant, cov: &Coverage) {
    let opts = opts().with_drain_interval(2);
    let mut heap = Heap::with_options(MockPages::new(), opts);
    heap.set_reclaim_variant(variant);
    let w = Arc::new(HeapWorld { heap, live: Mutex::new(HashSet::new()) });
    let mut tco = ThreadCache::new();
    let per_slab = SLAB_SIZE / BIG;
    let blocks: Vec<Blk> = (0..per_slab).map(|i| w.alloc(&mut tco, 100 + i as u64)).collect();
    let slab0 = blocks[0].0 & !(SLAB_SIZE - 1);
    assert!(blocks.iter().all(|b| b.0 & !(SLAB_SIZE - 1) == slab0), "model setup: blocks not in one slab");
    let (meta, slot) = w.heap.pool().lookup(slab0 as *const u8).expect("model setup: slab not live");

    let wo = w.clone();
    let o = spawn(move || {
        let mut tco = tco;
        let x = wo.alloc(&mut tco, 1);
        let reused = x.0 & !(SLAB_SIZE - 1) == slab0;
        wo.free(&mut tco, x, 1);
        (tco, reused)
    });
    let (p, q) = (blocks[0], blocks[1]);
    let wr = w.clone();
    let r = spawn(move || {
        let mut tc = ThreadCache::new();
        wr.free(&mut tc, p, 100);
        unsafe { wr.heap.thread_exit(&mut tc) };
    });
    let ws = w.clone();
    let t = spawn(move || {
        let mut tc = ThreadCache::new();
        ws.free(&mut tc, q, 101);
        unsafe { ws.heap.thread_exit(&mut tc) };
    });
    let (mut tco, reused) = o.join().unwrap();
    r.join().unwrap();
    t.join().unwrap();

    let s0 = w.heap.pool().slab(meta, slot);
    assert!(
        !s0.stranded(),
        "model invariant: block stranded on an orphaned slab (nobody owns it, nobody will claim it)"
    );
    let owner = match s0.owner() {
        0 => "abandoned",
        usize::MAX => "orphaned",
        _ => "owner",
    };
    cover(cov, format!("slab 0 {owner}, O reused a block of it: {reused}"));

    let mut tc = ThreadCache::new();
    for (i, b) in blocks.iter().enumerate().skip(2) {
        w.free(&mut tc, *b, 100 + i as u64);
    }
    unsafe {
        w.heap.thread_exit(&mut tc);
        w.heap.thread_exit(&mut tco);
    }
    assert!(w.live.lock().unwrap().is_empty());
    assert_heap_retired(&w.heap);
}

#[test]
fn loom_orphan_claim() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("orphan_claim", Some(2), move || orphan_claim(ReclaimVariant::Real, &c));
    assert_covered(
        &cov,
        &[
            // A block came back before the give-up: O kept the slab and reused it.
            "slab 0 owner, O reused a block of it: true",
            // O gave it up; R or S claimed it and abandoned it at exit.
            "slab 0 abandoned, O reused a block of it: false",
        ],
    );
}

/// A push that finds the orphan bit set leaves its block there: the block
/// waits on a slab that nobody owns.
#[test]
#[should_panic(expected = "caught block stranded on an orphaned slab")]
fn loom_orphan_claim_catches_ignored_orphan_bit() {
    expect_caught("orphan_claim/IgnoreOrphanOnPush", Symptom::Stranded, Some(2), || {
        orphan_claim(ReclaimVariant::IgnoreOrphanOnPush, &Coverage::default())
    });
}

/// A claim that checks the bit with a load and clears it with a store: R
/// and S can both see it set and both take the slab.
#[test]
#[should_panic(expected = "caught slab owned twice")]
fn loom_orphan_claim_catches_check_then_store() {
    expect_caught("orphan_claim/CheckThenStore", Symptom::SlabOwnedTwice, Some(2), || {
        orphan_claim(ReclaimVariant::CheckThenStore, &Coverage::default())
    });
}

// ---------------------------------------------------------------------------
// Model 6: purging EMPTY slabs of a live SuperSlab while they are reused.
// ---------------------------------------------------------------------------

/// Class 0: a purge re-pushes each slab on the freelist of its slab's
/// class, which is 0 for slabs the pool models never set up.
const LOOM_CLASS0: Flavour = Flavour { class: 0, ..LOOM };

/// Slot 0 of a zeroed SuperSlab is held by the main thread (the SuperSlab
/// stays live); slot 1 was used and released (EMPTY, dirtied, its entry on
/// the freelist). Then, concurrently:
/// * A acquires (Stage 1 on slot 1's entry, or, if the purge holds slot 1,
///   drops the entry as stale and claims slot 2 in Stage 2), writes into
///   the slab, checks its write is still there, releases;
/// * P runs `purge_empty_slabs` (what `trim` does first): takes each EMPTY
///   slot with the activating CAS, purges it (the mock zeroes it), releases
///   it with a fresh entry.
///
/// A slab must never be purged while someone owns it ("slab purged while
/// owned"); every entry pushed is popped exactly once, zeroed slabs read
/// zero, and everything retires at the end (`World::finish`).
fn purge_empty(variant: PurgeVariant, cov: &Coverage) {
    let mut w = World::new(LOOM_CLASS0, Stage1Variant::Validated);
    w.pool.set_purge_variant(variant);
    let w = Arc::new(w);
    let first = w.acquire();
    let used = w.acquire();
    assert_eq!((first.slot, used.slot), (0, 1));
    w.release(used);

    let wa = w.clone();
    let a = spawn(move || {
        let g = wa.acquire();
        dirty(&g);
        // The owner uses the slab a while: let P run in between.
        thread::yield_now();
        // SAFETY: the slab is mapped and owned by this thread.
        let v = unsafe { (g.base as *const u64).read() };
        assert_eq!(v, u64::from_ne_bytes([DIRTY; 8]), "model invariant: slab purged while owned: {g:?}");
        wa.release(g);
        g
    });
    let wp = w.clone();
    let p = spawn(move || {
        let n = wp.pool.purge_empty_slabs();
        wp.add_pushes(n);
        n
    });
    let g = a.join().unwrap();
    let n = p.join().unwrap();
    cover(cov, format!("A {:?} slot {} purged {n}", g.stage, g.slot));
    w.finish(vec![first]);
}

#[test]
fn loom_purge_empty() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("purge_empty", Some(3), move || purge_empty(PurgeVariant::Owned, &c));
    assert_covered(
        &cov,
        &[
            // A held slot 1 through P's scan: nothing EMPTY to purge.
            "A Reuse slot 1 purged 0",
            // P purged slot 1 before or after A's use of it.
            "A Reuse slot 1 purged 1",
            // P held slot 1: A's entry was stale, A claimed slot 2 ...
            "A Claim slot 2 purged 1",
            // ... and released it before P's scan reached it.
            "A Claim slot 2 purged 2",
        ],
    );
}

/// A purge that zeroes every slab that looks EMPTY without taking it.
#[test]
#[should_panic(expected = "caught slab purged while owned")]
fn loom_purge_empty_catches_unowned_purge() {
    expect_caught("purge_empty/Unowned", Symptom::PurgedOwned, Some(3), || {
        purge_empty(PurgeVariant::Unowned, &Coverage::default())
    });
}

// ---------------------------------------------------------------------------
// Model 7: a free into an abandoned slab racing its adoption.
// ---------------------------------------------------------------------------

/// O allocates `p` and `q` from one slab and exits: the slab is abandoned
/// with both live. Then, concurrently:
/// * R frees `p` and stays alive (its empty bin sends the block home at
///   once): it reads the owner id, and if it reads 0 it takes the abandoned
///   lock and, if the slab is still abandoned, puts `p` on its free list in
///   place; if the slab was adopted meanwhile, `p` goes to its new owner's
///   remote list;
/// * A allocates a block: its refill adopts the abandoned slab (which holds
///   `p` again if R came first).
///
/// At the join nothing may be lost or handed out twice: A gets `p` back
/// exactly when R's in-place free came first. Then everything is freed and
/// must retire. loom checks that the slab's owner-only state is never
/// touched by A (its owner) and R (holding the lock) without
/// synchronisation.
fn free_abandoned(variant: ReclaimVariant, cov: &Coverage) {
    let opts = opts().with_drain_interval(2);
    let mut heap = Heap::with_options(MockPages::new(), opts);
    heap.set_reclaim_variant(variant);
    let w = Arc::new(HeapWorld { heap, live: Mutex::new(HashSet::new()) });
    let mut tco = ThreadCache::new();
    let p = w.alloc(&mut tco, 1);
    let q = w.alloc(&mut tco, 2);
    unsafe { w.heap.thread_exit(&mut tco) };
    assert_eq!(w.heap.abandoned_slabs(), 1, "model setup: O's slab not abandoned");

    let wr = w.clone();
    let r = spawn(move || {
        let mut tc = ThreadCache::new();
        wr.free(&mut tc, p, 1);
        tc
    });
    let wa = w.clone();
    let a = spawn(move || {
        let mut tc = ThreadCache::new();
        let x = wa.alloc(&mut tc, 3);
        (tc, x)
    });
    let mut tcr = r.join().unwrap();
    let (mut tca, x) = a.join().unwrap();

    assert_eq!(w.heap.abandoned_slabs(), 0, "model invariant: A's refill did not adopt the abandoned slab");
    let lost = w.heap.in_place_lost();
    cover(cov, format!("A got p back: {}, in-place free found the slab adopted: {}", x.0 == p.0, lost));
    if lost == 1 {
        assert_ne!(x.0, p.0, "model invariant: p handed out by A although R's free went remotely");
    }

    w.free(&mut tca, x, 3);
    w.free(&mut tca, q, 2);
    unsafe {
        w.heap.thread_exit(&mut tcr);
        w.heap.thread_exit(&mut tca);
    }
    assert!(w.live.lock().unwrap().is_empty());
    assert_heap_retired(&w.heap);
}

#[test]
fn loom_free_abandoned() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("free_abandoned", Some(3), move || free_abandoned(ReclaimVariant::Real, &c));
    assert_covered(
        &cov,
        &[
            // R freed p in place before A adopted the slab: A's refill took it.
            "A got p back: true, in-place free found the slab adopted: 0",
            // A adopted first; R read the owner as A's and freed remotely.
            "A got p back: false, in-place free found the slab adopted: 0",
            // R read owner 0, A adopted before R took the lock: R's recheck
            // under the lock sent p to A remotely.
            "A got p back: false, in-place free found the slab adopted: 1",
        ],
    );
}

/// A free that trusts the owner id it read before taking the lock frees in
/// place into a slab A has adopted meanwhile: both touch its owner-only
/// state.
#[test]
#[should_panic(expected = "caught slab owned twice")]
fn loom_free_abandoned_catches_unchecked_in_place() {
    expect_caught("free_abandoned/UncheckedInPlace", Symptom::SlabOwnedTwice, Some(3), || {
        free_abandoned(ReclaimVariant::UncheckedInPlace, &Coverage::default())
    });
}

// ---------------------------------------------------------------------------
// Model 4: Stage 2's UNUSED claim racing a claim-use-release of the same slot.
// ---------------------------------------------------------------------------

/// A fresh (zeroed) SuperSlab, slot 0 held by the main thread so it stays
/// live. Then, concurrently:
/// * A acquires (Stage 2 claims an UNUSED slot), dirties the slab, releases;
/// * B acquires (Stage 1 reuses A's entry, or Stage 2 claims a slot).
///
/// The record's word goes `A -> A|s -> A` within one generation while B may
/// sit between its reads of the word and the `touched` hint and its CAS. A
/// slab B is handed as `zeroed` must read all-zero (the check in
/// `World::acquire`, symptom "dirty zeroed slab").
fn stage2_zeroed(variant: Stage2Variant, cov: &Coverage) {
    let w = Arc::new(World::with_variants(LOOM, Stage1Variant::Validated, variant));
    let first = w.acquire();
    assert_eq!((first.meta, first.slot, first.stage, first.zeroed), (0, 0, Stage::Map, true));

    let wa = w.clone();
    let a = spawn(move || {
        let g = wa.acquire();
        wa.release(g);
        g
    });
    let wb = w.clone();
    let b = spawn(move || wb.acquire());
    let ga = a.join().unwrap();
    let gb = b.join().unwrap();
    cover(cov, format!("A {:?} slot {} B {:?} slot {} zeroed {}", ga.stage, ga.slot, gb.stage, gb.slot, gb.zeroed));
    w.finish(vec![first, gb]);
}

#[test]
fn loom_stage2_zeroed() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("stage2_zeroed", Some(2), move || stage2_zeroed(Stage2Variant::Claimed, &c));
    assert_covered(
        &cov,
        &[
            // The race: B's Stage 2 read the word and the hint before A's
            // claim of slot 1 and CASed after A's release. B owns slot 1,
            // and learns from the touched bit it claimed that it is used.
            "A Claim slot 1 B Claim slot 1 zeroed false",
            // No race: B claims another UNUSED slot, zeroed.
            "A Claim slot 1 B Claim slot 2 zeroed true",
            "A Claim slot 2 B Claim slot 1 zeroed true",
            // B's Stage 1 reused A's entry (never reported zeroed).
            "A Claim slot 1 B Reuse slot 1 zeroed false",
        ],
    );
}

/// Before issue 13, Stage 2 trusted the `touched` hint it read before its CAS.
#[test]
#[should_panic(expected = "caught dirty zeroed slab")]
fn loom_stage2_zeroed_catches_touched_hint() {
    expect_caught("stage2_zeroed/TouchedHint", Symptom::DirtyZeroed, Some(2), || {
        stage2_zeroed(Stage2Variant::TouchedHint, &Coverage::default())
    });
}

// ---------------------------------------------------------------------------
// Model 5: the whole pool: Stage 1 and Stage 2 acquirers racing a release
// and a retirement.
// ---------------------------------------------------------------------------

/// One SuperSlab, mapped zeroed, record 0: slot 0 held by R, slot 1 EMPTY
/// (claimed, dirtied, released: its entry is on the freelist), slots 2 and 3
/// UNUSED. Then, concurrently:
/// * R dirties and releases slot 0: push its entry, then (nothing else
///   active) the retirement CAS, generation bump, unmap;
/// * S and T acquire: Stage 1 pops slot 1's or slot 0's entry (valid, or
///   stale after the retirement), Stage 2 claims slot 2 or 3 (if before the
///   retirement), Stage 3 maps a SuperSlab (record 0 reused, or record 1).
///
/// Checked in every execution: no slot owned twice (shadow set), every slab
/// reported zeroed reads all-zero, every slab handed out mapped; at the
/// quiescent end, each owned slab's record live in its generation (no slot
/// of a retired SuperSlab activated), then the freelist drained, everything
/// released and retired.
fn pool_race(variant: Stage1Variant, cov: &Coverage) {
    let w = Arc::new(World::new(LOOM, variant));
    let g0 = w.acquire();
    let g1 = w.acquire();
    assert_eq!((g0.slot, g0.stage, g1.slot, g1.stage), (0, Stage::Map, 1, Stage::Claim));
    w.release(g1);

    let wr = w.clone();
    let r = spawn(move || wr.release(g0));
    let ws = w.clone();
    let s = spawn(move || ws.acquire());
    let wt = w.clone();
    let t = spawn(move || wt.acquire());
    r.join().unwrap();
    let gs = s.join().unwrap();
    let gt = t.join().unwrap();

    let st = w.pool.stats();
    let one = |g: &Got| {
        format!("{:?} {}:{} gen {}{}", g.stage, g.meta, g.slot, g.gen.get(), if g.zeroed { " zeroed" } else { "" })
    };
    let (a, b) = if (gs.meta, gs.slot) <= (gt.meta, gt.slot) { (gs, gt) } else { (gt, gs) };
    cover(cov, format!("{} / {} retired {} stale {}", one(&a), one(&b), st.retired, st.stale_dropped));
    w.finish(vec![gs, gt]);
}

#[test]
fn loom_pool_race() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("pool_race", Some(1), move || pool_race(Stage1Variant::Validated, &c));
    assert_covered(
        &cov,
        &[
            // Both reused entries before R's retirement CAS (which failed).
            "Reuse 0:0 gen 0 / Reuse 0:1 gen 0 retired 0 stale 0",
            // Stage 1 and Stage 2 before the retirement.
            "Reuse 0:1 gen 0 / Claim 0:2 gen 0 zeroed retired 0 stale 0",
            // Both entries dropped as stale after the retirement; record 0
            // reused by Stage 3 (new SuperSlab, zeroed), then Stage 2 on it.
            "Map 0:0 gen 1 zeroed / Claim 0:1 gen 1 zeroed retired 1 stale 2",
            "Map 1:0 gen 0 zeroed / Claim 1:1 gen 0 zeroed retired 1 stale 2",
        ],
    );
    // Stage 3 re-checks under the backend lock: the second acquirer to reach
    // Stage 3 claims an UNUSED slot of the SuperSlab the first just mapped
    // instead of mapping another (before that fix this model reached
    // "Map 0:0 gen 1 zeroed / Map 1:0 gen 0 zeroed retired 1 stale 2").
    assert!(!cov.lock().unwrap().iter().any(|o| o.starts_with("Map") && o.contains("/ Map")), "two SuperSlabs mapped");
    // With the generation, an entry of generation 0 never activates a slot
    // of the SuperSlab record 0 describes in generation 1.
    assert!(!cov.lock().unwrap().iter().any(|o| o.contains("Reuse 0:1 gen 1")), "stale entry revived");
}

/// The seed's fix (state-checked activation under the lock, then a NULL
/// check of `ss`) activates a slot of a SuperSlab that retired between the
/// pop and the activation, while `ss` is still set.
#[test]
#[should_panic(expected = "caught activation of a slot of a retired SuperSlab")]
fn loom_pool_race_catches_seed_fix() {
    expect_caught("pool_race/SeedFix", Symptom::RetiredActivated, Some(1), || {
        pool_race(Stage1Variant::SeedFix, &Coverage::default())
    });
}

#[test]
#[should_panic(expected = "caught activation of a slot of a retired SuperSlab")]
fn loom_pool_race_catches_check_then_load() {
    expect_caught("pool_race/CheckThenLoad", Symptom::RetiredActivated, Some(1), || {
        pool_race(Stage1Variant::CheckThenLoad, &Coverage::default())
    });
}

/// Without the generation (live bit and inactive bit only) every model
/// passes: what the generation adds is shown by the outcomes reached here.
#[test]
fn loom_pool_race_no_generation() {
    let cov = Coverage::default();
    let c = cov.clone();
    run("pool_race/NoGeneration", Some(1), move || pool_race(Stage1Variant::NoGeneration, &c));
    // Safe (every check passed), but a generation-0 entry revived slot 1 in
    // generation 1: an UNUSED slot of a new, zeroed SuperSlab handed out by
    // Stage 1 as a reused (not zeroed) one.
    assert_covered(&cov, &["Map 0:0 gen 1 zeroed / Reuse 0:1 gen 1 retired 1 stale 0"]);
}
