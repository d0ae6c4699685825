//! loom models of the shared pool (exhaustive interleavings, small worlds).
//!
//! Run: `cargo test --release --features loom --test loom_pool`.
//! See `verify/README.md` for what each model proves, its bounds and run time.

use hakmem_alloc::config::SLAB_SIZE;
use hakmem_alloc::pool::{SlotState, Stage1Variant};
use hakmem_alloc::{Generation, Heap, MockPages, Options, PageSource, Pool, Stage, ThreadCache};
use loom::sync::Arc;
use loom::thread;
use std::alloc::Layout;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Size class used by the pool-level models (any class index works).
const CLASS: usize = 3;

/// Options of every model: retired SuperSlabs are unmapped at once, so any
/// later use of one is caught by the mock page source.
fn opts() -> Options {
    Options { retain_bytes: 0, ..Options::DEFAULT }
}

/// A slab handed out by the pool, as plain data (sendable between threads).
#[derive(Clone, Copy, Debug)]
struct Got {
    meta: u32,
    slot: u32,
    gen: Generation,
    base: usize,
    stage: Stage,
}

/// The pool under test plus a shadow of the slots the model believes owned.
struct World {
    pool: Pool<MockPages>,
    /// `(record, slot)` of every slab currently held by some model thread.
    owned: Mutex<HashSet<(u32, u32)>>,
}

impl World {
    fn new(variant: Stage1Variant) -> Self {
        let mut pool = Pool::new(MockPages::new(), opts());
        pool.set_stage1_variant(variant);
        World { pool, owned: Mutex::new(HashSet::new()) }
    }

    /// Check, from a quiescent point (no model thread running), everything
    /// the owner of `g` may rely on: mapped, record live in `g`'s generation,
    /// slot ACTIVE, base derived from the record's SuperSlab.
    ///
    /// Model threads only do the unmodelled checks of [`World::acquire`]:
    /// every modelled load they added would be one more preemption point.
    fn check_owned(&self, g: Got) {
        self.pool.pages().check_mapped(g.base as *const u8, SLAB_SIZE);
        let m = self.pool.meta(g.meta);
        let w_live = m.is_live();
        let w_gen = m.generation();
        let state = m.slot_state(g.slot);
        assert!(
            w_live && w_gen == g.gen && state == SlotState::Active,
            "model invariant: owned slab {g:?} but record is live={w_live} gen={w_gen:?} slot={state:?}"
        );
        assert_eq!(m.superslab() as usize + g.slot as usize * SLAB_SIZE, g.base, "model invariant: slab base moved");
    }

    /// Acquire a slab and take ownership of it in the shadow set. The mock
    /// page source and the shadow set are unmodelled, so these checks add no
    /// interleavings.
    fn acquire(&self) -> Got {
        let a = self.pool.acquire(CLASS).expect("mock page source is never out of memory here");
        let g = Got { meta: a.meta, slot: a.slot, gen: a.gen, base: a.base as usize, stage: a.stage };
        // The seed's crash: a slab inside an unmapped SuperSlab.
        self.pool.pages().check_mapped(a.base, SLAB_SIZE);
        assert!(self.owned.lock().unwrap().insert((g.meta, g.slot)), "model invariant: slot {g:?} handed out twice");
        g
    }

    /// Give up ownership in the shadow set, then release to the pool.
    fn release(&self, g: Got) {
        self.pool.pages().check_mapped(g.base as *const u8, SLAB_SIZE);
        assert!(self.owned.lock().unwrap().remove(&(g.meta, g.slot)), "model invariant: release of {g:?} not owned");
        self.pool.release(g.meta, g.slot, CLASS);
    }

    /// Pop every freelist entry from a quiescent pool (after all model threads
    /// joined): valid ones are handed out (and checked) then kept, stale ones
    /// are dropped by the pool. Returns the slabs handed out (including the
    /// final Stage 2/3 one that proves the list was empty).
    fn drain(&self) -> Vec<Got> {
        let mut got = Vec::new();
        for _ in 0..64 {
            let g = self.acquire();
            self.check_owned(g);
            got.push(g);
            if g.stage != Stage::Reuse {
                return got;
            }
        }
        panic!("model invariant: freelist did not run dry after 64 pops (cycle?)");
    }
}

/// Stack of every model thread: the pool and loom's bookkeeping overflow
/// loom's default coroutine stack.
const STACK: usize = 1 << 20;

/// `loom::thread::spawn` with a big stack.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new().stack_size(STACK).spawn(f).expect("loom spawn")
}

/// Runs a loom model, counting and printing its executions.
fn run(name: &str, preemption_bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if preemption_bound.is_some() {
        b.preemption_bound = preemption_bound;
    }
    let n = std::sync::Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let t = Instant::now();
    let f = std::sync::Arc::new(f);
    b.check(move || {
        n2.fetch_add(1, Ordering::Relaxed);
        // The model's own main thread has a small coroutine stack: run the
        // body on a spawned thread with a big one.
        let f = f.clone();
        spawn(move || f()).join().unwrap();
    });
    eprintln!(
        "loom model {name}: {} executions (preemption bound {:?}) in {:.1?}",
        n.load(Ordering::Relaxed),
        b.preemption_bound,
        t.elapsed()
    );
}

/// Runs a model that must fail (a negative control) and checks that it
/// failed with one of the symptoms of handing out a slab of a retired
/// SuperSlab: the mock's "touched unmapped memory" (the seed's SEGV) or a
/// violated model invariant (slot owned twice, record not live / wrong
/// generation for an owned slot). Anything else (a loom error, a deadlock)
/// does not count. Re-panics with a fixed message for `should_panic`.
fn expect_caught(name: &str, preemption_bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(name, preemption_bound, f)));
    let Err(e) = r else { return };
    let msg = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        msg.contains("touched unmapped memory") || msg.contains("model invariant"),
        "{name}: unexpected failure: {msg}"
    );
    panic!("negative control {name}: stale SuperSlab use caught: {msg}");
}

// ---------------------------------------------------------------------------
// Model 1: the crash report's timeline.
// ---------------------------------------------------------------------------

/// Thread A releases the only active slot of a SuperSlab (push the EMPTY
/// entry, retirement CAS, generation bump, unmap) while thread B acquires.
/// B must end with a valid slab: the entry itself if its activation won the
/// race, otherwise one from Stage 2 (before the retirement) or Stage 3.
fn crash_timeline(variant: Stage1Variant) {
    let w = Arc::new(World::new(variant));
    let first = w.acquire();
    assert_eq!((first.meta, first.slot, first.stage), (0, 0, Stage::Map));
    let old_base = first.base - first.slot as usize * SLAB_SIZE;

    let wa = w.clone();
    let a = spawn(move || wa.release(first));
    let wb = w.clone();
    let b = spawn(move || wb.acquire());
    a.join().unwrap();
    let g = b.join().unwrap();

    // Quiescent: B still owns its slab, which must be intact.
    w.check_owned(g);
    // Generations only grow: at most the one retirement.
    assert!(w.pool.meta(0).generation() <= Generation::new(1));
    let s = w.pool.stats();
    assert_eq!(s.stage1 + s.stage2 + s.stage3, 2);
    assert_eq!(s.stage1, u64::from(g.stage == Stage::Reuse));
    assert!(s.stale_dropped <= 1);
    match g.stage {
        Stage::Reuse => {
            // B's activation landed before the retirement CAS, which then failed.
            assert_eq!((g.meta, g.slot, g.gen, s.retired), (0, 0, Generation::ZERO, 0));
        }
        Stage::Claim => {
            // Claimed an UNUSED slot of the still-live SuperSlab: no retirement.
            assert_eq!((g.meta, g.gen, s.retired), (0, Generation::ZERO, 0));
            assert_ne!(g.slot, 0, "slot 0 is EMPTY, not UNUSED");
        }
        Stage::Map => {
            // Only reachable once the SuperSlab retired.
            assert_eq!(s.retired, 1);
            assert_eq!(g.slot, 0);
        }
    }
    if s.retired == 1 {
        assert_eq!(w.pool.meta(0).generation(), Generation::new(1));
        // retain_bytes 0: the retired SuperSlab was unmapped (its address may
        // since have been mapped again by Stage 3).
        assert_eq!(w.pool.pages().counts().1, 1, "retired SuperSlab not unmapped");
        let ss = w.pool.meta(g.meta).superslab() as usize;
        assert!(ss == old_base || !w.pool.pages().is_mapped(old_base as *const u8, 1));
    } else {
        assert!(w.pool.meta(0).is_live());
    }

    // Every entry pushed (A's release) was popped exactly once.
    let mut held = vec![g];
    held.extend(w.drain());
    let s = w.pool.stats();
    assert_eq!(s.stage1 + s.stale_dropped, 1, "freelist accounting: {s:?}");
    for g in held {
        w.release(g);
    }
    let s = w.pool.stats();
    assert_eq!(s.live_superslabs, 0, "everything released retires: {s:?}");
}

#[test]
fn loom_crash_timeline() {
    run("crash_timeline", None, || crash_timeline(Stage1Variant::Validated));
}

#[test]
#[should_panic(expected = "stale SuperSlab use caught")]
fn loom_crash_timeline_catches_unvalidated() {
    expect_caught("crash_timeline/Unvalidated", None, || crash_timeline(Stage1Variant::Unvalidated));
}

#[test]
#[should_panic(expected = "stale SuperSlab use caught")]
fn loom_crash_timeline_catches_check_then_load() {
    expect_caught("crash_timeline/CheckThenLoad", None, || crash_timeline(Stage1Variant::CheckThenLoad));
}

// ---------------------------------------------------------------------------
// Model 2: three threads, two SuperSlabs, ABA on the freelist head + a retire.
// ---------------------------------------------------------------------------

/// SuperSlab 0 has slots 1..=3 EMPTY on the freelist and slot 0 active;
/// SuperSlab 1 has slot 0 active (held by the model's main thread), so
/// Stage 2 can claim its UNUSED slots. Thread A releases SuperSlab 0's last
/// slot (push + retire: every entry of SuperSlab 0 goes stale) while B and C
/// each acquire and release a slab: their pops race with each other and with
/// the pushes, and a popped node is recycled through the spare-node stack
/// and pushed back, which is the ABA pattern the head's tag must defeat.
fn aba_retire(variant: Stage1Variant) {
    let w = Arc::new(World::new(variant));
    let ss0: Vec<Got> = (0..4).map(|_| w.acquire()).collect();
    assert!(ss0.iter().all(|g| g.meta == 0));
    let keep = w.acquire();
    assert_eq!((keep.meta, keep.slot, keep.stage), (1, 0, Stage::Map));
    for &g in &ss0[1..] {
        w.release(g);
    }
    let mut pushes = 3;
    let last = ss0[0];

    let wa = w.clone();
    let a = spawn(move || wa.release(last));
    let churn = |w: Arc<World>| {
        move || {
            let g = w.acquire();
            w.release(g);
            g
        }
    };
    let b = spawn(churn(w.clone()));
    let c = spawn(churn(w.clone()));
    a.join().unwrap();
    let gb = b.join().unwrap();
    let gc = c.join().unwrap();
    pushes += 3;

    let s = w.pool.stats();
    // The retirement CAS can only fail if B or C activated a slot of SuperSlab 0 first.
    let reused_ss0 = [gb, gc].iter().any(|g| g.meta == 0 && g.gen == Generation::ZERO);
    if !reused_ss0 {
        assert_eq!(s.retired, 1, "{s:?} {gb:?} {gc:?}");
    }
    assert!(w.pool.meta(0).generation() <= Generation::new(2));
    assert!(w.pool.meta(1).is_live(), "main still holds SuperSlab 1");

    // Freelist accounting: every entry pushed is popped exactly once.
    let mut held = vec![keep];
    held.extend(w.drain());
    let s = w.pool.stats();
    assert_eq!(s.stage1 + s.stale_dropped, pushes, "freelist accounting: {s:?}");
    for g in held {
        w.release(g);
    }
    assert_eq!(w.pool.stats().live_superslabs, 0);
}

#[test]
fn loom_aba_retire() {
    run("aba_retire", Some(2), || aba_retire(Stage1Variant::Validated));
}

#[test]
#[should_panic(expected = "stale SuperSlab use caught")]
fn loom_aba_retire_catches_unvalidated() {
    expect_caught("aba_retire/Unvalidated", Some(2), || aba_retire(Stage1Variant::Unvalidated));
}

#[test]
#[should_panic(expected = "stale SuperSlab use caught")]
fn loom_aba_retire_catches_check_then_load() {
    expect_caught("aba_retire/CheckThenLoad", Some(2), || aba_retire(Stage1Variant::CheckThenLoad));
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
        let p = self.heap.alloc(tc, Self::layout());
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

/// The owner allocates two blocks `p` and `q` from its slab. Thread R frees
/// `p` (a remote free: pushed on the slab's remote list when R's cache
/// drains at exit), then allocates, frees and exits again. Thread O frees
/// `q` and exits: it collects the remote list, and releases the slab (which
/// retires its SuperSlab) if `p` already arrived, or abandons it. Afterwards
/// a third cache adopts whatever was abandoned; at the end every block is
/// free and every SuperSlab retired.
fn cross_thread_free() {
    let opts = Options { drain_interval: 2, ..opts() };
    let w = Arc::new(HeapWorld { heap: Heap::with_options(MockPages::new(), opts), live: Mutex::new(HashSet::new()) });
    let mut tco = ThreadCache::new();
    let p = w.alloc(&mut tco, 1);
    let q = w.alloc(&mut tco, 2);

    let wr = w.clone();
    let r = spawn(move || {
        let mut tc = ThreadCache::new();
        wr.free(&mut tc, p, 1);
        wr.heap.thread_exit(&mut tc);
        let x = wr.alloc(&mut tc, 3);
        wr.free(&mut tc, x, 3);
        wr.heap.thread_exit(&mut tc);
    });
    let wo = w.clone();
    let o = spawn(move || {
        let mut tco = tco;
        wo.free(&mut tco, q, 2);
        wo.heap.thread_exit(&mut tco);
    });
    r.join().unwrap();
    o.join().unwrap();

    assert!(w.live.lock().unwrap().is_empty());
    let abandoned = w.heap.abandoned_slabs();
    assert!(abandoned <= 1);
    if abandoned == 1 {
        // The owner exited before `p` arrived: adopt the slab, whose remote
        // list now holds `p`, and give it back.
        let mut tc = ThreadCache::new();
        let x = w.alloc(&mut tc, 4);
        assert_eq!(w.heap.abandoned_slabs(), 0);
        w.free(&mut tc, x, 4);
        w.heap.thread_exit(&mut tc);
    }
    let s = w.heap.pool().stats();
    assert_eq!((s.live_superslabs, w.heap.abandoned_slabs()), (0, 0), "everything free must retire: {s:?}");
    assert_eq!(s.retired, s.stage3, "every SuperSlab mapped was retired: {s:?}");
}

#[test]
fn loom_cross_thread_free() {
    run("cross_thread_free", None, cross_thread_free);
}
