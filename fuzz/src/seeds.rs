//! Hand-written seed inputs, one small scenario each, written to
//! `corpus-seed/<target>/<name>` by `cargo run --example gen_seeds` (and
//! replayed by `tests/replay.rs`). libFuzzer mutates from these, so each one
//! reaches a path a random byte string rarely does: every class boundary,
//! over-aligned blocks, large blocks, realloc across the small/large border,
//! remote frees, abandoned-slab adoption, retirement and stale entries.

use crate::ops::{Encoder, Op};
use crate::pool_ops::{PoolInput, PoolOp};
use hakmem_alloc::config::MAX_SMALL;
use hakmem_alloc::size_class::{class_size, NUM_CLASSES};

/// `(name, bytes)` seeds of `heap_ops` and `global_ops` (same format).
pub fn heap_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();

    // Every class boundary: class_size - 1, class_size, class_size + 1.
    let mut e = Encoder::new(0);
    for c in 0..NUM_CLASSES {
        let s = class_size(c);
        for size in [s - 1, s, s + 1] {
            e.op(Op::Alloc { size, align: 8 });
        }
        e.op(Op::Free { i: 1 });
    }
    v.push(("class_boundaries", e.finish()));

    // Over-aligned small and large blocks, zeroed and not.
    let mut e = Encoder::new(0);
    for k in 0..=16 {
        e.op(Op::Alloc { size: 24, align: 1 << k });
        e.op(Op::AllocZeroed { size: 3000, align: 1 << k });
        e.op(Op::Alloc { size: MAX_SMALL + 1, align: 1 << k });
    }
    for i in 0..20 {
        e.op(Op::Free { i: i * 7 });
    }
    v.push(("alignments", e.finish()));

    // Realloc up and down across the small/large border, keeping the prefix.
    let mut e = Encoder::new(0);
    e.op(Op::Alloc { size: 100, align: 8 });
    for size in [200, 4000, MAX_SMALL, MAX_SMALL + 1, 200_704, 1 << 20, 69_632, 5000, 16, 1] {
        e.op(Op::Realloc { i: 0, size });
    }
    e.op(Op::Alloc { size: 65536, align: 4096 });
    e.op(Op::Realloc { i: 1, size: 299_008 });
    e.op(Op::Realloc { i: 1, size: 10 });
    v.push(("realloc_chain", e.finish()));

    // Cross-thread frees with a tiny drain interval: remote lists on every drain.
    let mut e = Encoder::new(1);
    for _ in 0..64 {
        e.op(Op::Alloc { size: 48, align: 8 });
    }
    for i in 0..32 {
        e.op(Op::FreeOnOtherThread { i: i * 3 });
    }
    e.op(Op::FlushOtherThread);
    for _ in 0..32 {
        e.op(Op::Alloc { size: 48, align: 8 });
    }
    v.push(("remote_frees", e.finish()));

    // Blocks allocated on the other thread, which exits; the main thread frees
    // them (remote frees onto abandoned slabs), then exits with blocks live.
    let mut e = Encoder::new(1);
    for k in 0..40 {
        e.op(Op::AllocOnOtherThread { size: 16 + 32 * (k % 5), align: 8 });
    }
    e.op(Op::FlushOtherThread);
    for k in 0..20 {
        e.op(Op::Free { i: k });
    }
    e.op(Op::ExitThread);
    for _ in 0..10 {
        e.op(Op::Alloc { size: 48, align: 8 });
    }
    e.op(Op::Free { i: 5 });
    v.push(("abandon_adopt", e.finish()));

    // Fill whole slabs of a big class so SuperSlabs retire and get reused,
    // with retain 0 (unmap at once) and purge-at-once variants.
    for (name, cfg) in [("retire_unmap", 0b0100u8), ("retire_purge", 0b1_0000u8)] {
        let mut e = Encoder::new(cfg);
        for _ in 0..80 {
            e.op(Op::Alloc { size: MAX_SMALL, align: 8 });
        }
        for _ in 0..80 {
            e.op(Op::Free { i: 0 });
        }
        e.op(Op::AdvanceClock { ms: 21 });
        e.op(Op::Trim);
        for _ in 0..10 {
            e.op(Op::AllocZeroed { size: MAX_SMALL, align: 8 });
        }
        v.push((name, e.finish()));
    }

    // Out of memory in the middle, then recovery.
    let mut e = Encoder::new(0);
    e.op(Op::Alloc { size: 64, align: 8 });
    e.op(Op::FailAfter { n: 1 });
    for k in 0..10 {
        e.op(Op::Alloc { size: 2000 * (k + 1), align: 8 });
        e.op(Op::Alloc { size: MAX_SMALL + 1 + 4096 * (k + 1), align: 8 });
    }
    e.op(Op::Realloc { i: 0, size: 499_712 });
    e.op(Op::FailAfter { n: 255 });
    e.op(Op::Alloc { size: 64, align: 8 });
    v.push(("oom_recover", e.finish()));

    // Large blocks: the cache, in-place realloc, page multiples.
    let mut e = Encoder::new(0);
    for k in 1..=12 {
        e.op(Op::Alloc { size: 4096 * k * 9, align: 8 });
    }
    for k in 0..12 {
        e.op(Op::Realloc { i: k, size: 4096 * (k as usize + 1) * 5 });
    }
    for _ in 0..12 {
        e.op(Op::Free { i: 3 });
    }
    for k in 1..=6 {
        e.op(Op::AllocZeroed { size: 4096 * k * 9, align: 4096 });
    }
    v.push(("large_cache", e.finish()));
    v
}

/// `(name, bytes)` seeds of `pool_ops`.
pub fn pool_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use PoolOp::*;
    let mut v = Vec::new();
    // The seed's crash timeline: release (push), retire, pop the stale entry.
    v.push((
        "stale_after_retire",
        PoolInput::encode(0, &[Acquire { class: 2 }, Release { i: 0 }, Acquire { class: 2 }, Check]),
    ));
    // A stale entry that outlives its SuperSlab's retirement *and* the
    // record's revival: slot 1's entry (generation 0) waits on class 2's
    // freelist while class 3 revives the record (generation 1, slot 0). The
    // pop must drop it: live record, free slot, but the wrong generation.
    v.push((
        "stale_across_revival",
        PoolInput::encode(
            0,
            &[
                Acquire { class: 2 },
                Acquire { class: 2 },
                Release { i: 1 },
                Release { i: 0 },
                Acquire { class: 3 },
                Acquire { class: 2 },
                Check,
            ],
        ),
    ));
    // Stage order: reuse, then claim, then map; fill a SuperSlab.
    v.push((
        "stages",
        PoolInput::encode(
            2,
            &[AcquireMany { class: 1, count: 33 }, Release { i: 4 }, Acquire { class: 1 }, Acquire { class: 1 }, Check],
        ),
    ));
    // Retire several SuperSlabs and re-push every entry seen.
    let mut ops = vec![AcquireMany { class: 3, count: 40 }, AcquireMany { class: 5, count: 40 }];
    for i in 0..3 {
        ops.push(Retire { i });
    }
    for i in 0..24 {
        ops.push(RePushStale { i: i * 5, class: 3 });
    }
    ops.extend([AcquireMany { class: 3, count: 10 }, Check]);
    v.push(("retire_repush", PoolInput::encode(0, &ops)));
    // Forged entries of every generation delta, with revival of records.
    let mut ops = vec![AcquireMany { class: 0, count: 3 }, Retire { i: 0 }];
    for d in -2..=2 {
        ops.push(PushForged { record: 0, slot: 5, gen_delta: d, class: 0 });
    }
    ops.extend([Acquire { class: 0 }, Acquire { class: 0 }, Acquire { class: 0 }, Check]);
    v.push(("forged", PoolInput::encode(1, &ops)));
    // Retained SuperSlabs, purge and trim, then out of memory.
    v.push((
        "retain_purge_oom",
        PoolInput::encode(
            0b0110,
            &[
                AcquireMany { class: 7, count: 5 },
                Retire { i: 0 },
                AdvanceClock { ms: 3 },
                Acquire { class: 7 },
                Retire { i: 0 },
                Trim,
                FailAfter { n: 0 },
                Acquire { class: 9 },
                FailAfter { n: 255 },
                Acquire { class: 9 },
                Check,
            ],
        ),
    ));
    v
}

/// `(name, bytes)` seeds of `size_class` (the derived `Arbitrary` format:
/// `size` u64 LE, `near_class`, `delta`, `align_shift`).
pub fn size_class_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mk = |size: u64, near: u8, delta: i8, shift: u8| {
        let mut b = size.to_le_bytes().to_vec();
        b.extend([near, delta as u8, shift]);
        b
    };
    vec![
        ("zero", mk(0, 0, 0, 0)),
        ("max_small", mk(MAX_SMALL as u64, (NUM_CLASSES - 1) as u8, 1, 4)),
        ("align16_tiny", mk(8, 1, -1, 4)),
        ("huge_align", mk(u64::MAX, 40, -1, 63)),
        ("page_align", mk(4097, 20, 1, 12)),
    ]
}
