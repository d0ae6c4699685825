//! Runs an [`Op`] sequence against a [`Target`], checking every result against
//! the [`Shadow`] map:
//!
//! * every block is non-null (unless the target is out of memory on purpose),
//!   aligned, and overlaps no live block;
//! * `alloc_zeroed` memory reads as zero;
//! * a block's fill pattern is intact when it is freed or reallocated (from
//!   any thread), and `realloc` keeps the prefix;
//! * the target's own invariants after every op ([`Target::after_op`]);
//! * at the end every block is freed and [`Target::finish`] checks that the
//!   memory came back and can be allocated again.
//!
//! Consecutive other-thread ops run as one batch, so a target that uses real
//! threads spawns one per batch.

use crate::ops::Op;
use crate::shadow::{Block, Shadow};
use core::alloc::Layout;
use hakmem_alloc::size_class::{class_of, NUM_CLASSES};

/// Most live blocks; allocations beyond are skipped.
pub const MAX_LIVE: usize = 1000;
/// Most live bytes; allocations beyond are skipped.
pub const MAX_LIVE_BYTES: usize = 48 << 20;
/// Most requests in one other-thread batch.
pub const MAX_BATCH: usize = 256;

/// A request run on the other thread.
#[derive(Clone, Copy, Debug)]
pub enum OtherReq {
    /// Free a block (its pattern was checked on the calling thread).
    Free {
        /// Block address.
        p: *mut u8,
        /// Its layout.
        layout: Layout,
    },
    /// Allocate; the result is written to `out`.
    Alloc {
        /// Layout.
        layout: Layout,
        /// Zeroed?
        zeroed: bool,
        /// Result (null on failure).
        out: *mut u8,
    },
}

/// An allocator under test.
pub trait Target {
    /// Smallest size passed to the target (`GlobalAlloc` forbids 0).
    const MIN_SIZE: usize;

    /// Allocate on the main thread.
    fn alloc(&mut self, layout: Layout, zeroed: bool) -> *mut u8;

    /// Free on the main thread.
    ///
    /// # Safety
    /// `p` is a live block of this target allocated with `layout`.
    unsafe fn dealloc(&mut self, p: *mut u8, layout: Layout);

    /// Resize on the main thread.
    ///
    /// # Safety
    /// As `dealloc`; `new_size >= MIN_SIZE`.
    unsafe fn realloc(&mut self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8;

    /// Run requests on the other thread, in order.
    ///
    /// # Safety
    /// Every `Free` names a live block of this target that nobody uses any more.
    unsafe fn other(&mut self, batch: &mut [OtherReq]);

    /// Flush the other thread's cache.
    fn flush_other(&mut self);

    /// Flush the main thread's cache while blocks may be live.
    fn exit_thread(&mut self);

    /// Give retained memory back.
    fn trim(&mut self);

    /// Advance the page source's clock.
    fn advance_clock(&mut self, ms: u8);

    /// Make mappings fail after `n` more (`None`: stop failing). Returns
    /// whether the target can inject failures at all.
    fn fail_after(&mut self, n: Option<u64>) -> bool;

    /// Usable size of a live block, if the target can tell.
    ///
    /// # Safety
    /// `p` is a live block allocated with `layout`.
    unsafe fn usable_size(&self, _p: *mut u8, _layout: Layout) -> Option<usize> {
        None
    }

    /// Check target invariants after an op.
    fn after_op(&mut self, _shadow: &Shadow) {}

    /// Every block has been freed: flush, check the memory came back and can
    /// be allocated again. `classes` holds the small classes used.
    fn finish(&mut self, classes: &[bool; NUM_CLASSES]);
}

struct Run<'t, T: Target> {
    t: &'t mut T,
    s: Shadow,
    classes: [bool; NUM_CLASSES],
    oom: bool,
}

impl<T: Target> Run<'_, T> {
    fn layout(&self, size: usize, align: usize) -> Layout {
        Layout::from_size_align(size.max(T::MIN_SIZE), align)
            .expect("sizes and alignments of the op language are valid layouts")
    }

    fn room_for(&self, size: usize) -> bool {
        self.s.len() < MAX_LIVE && self.s.bytes() + size <= MAX_LIVE_BYTES
    }

    fn note_class(&mut self, l: Layout) {
        if let Some(c) = class_of(l.size(), l.align()) {
            self.classes[c] = true;
        }
    }

    /// Check and record a fresh block.
    fn adopt(&mut self, p: *mut u8, l: Layout, zeroed: bool, what: &str) {
        if p.is_null() {
            assert!(
                self.oom,
                "{what}: {} bytes at align {} returned null without injected out-of-memory",
                l.size(),
                l.align()
            );
            return;
        }
        let b = Block { p, size: l.size(), align: l.align(), tag: self.s.tag() };
        self.s.insert(b, what);
        // SAFETY: `p` was just returned for `l` and is only ours.
        unsafe {
            if zeroed {
                b.verify_zero(what);
            }
            if let Some(u) = self.t.usable_size(p, l) {
                assert!(u >= l.size(), "{what}: usable size {u} below requested {}", l.size());
            }
            b.fill_from(0);
        }
    }

    fn alloc(&mut self, size: usize, align: usize, zeroed: bool) {
        let l = self.layout(size, align);
        if !self.room_for(l.size()) {
            return;
        }
        self.note_class(l);
        let p = self.t.alloc(l, zeroed);
        self.adopt(p, l, zeroed, if zeroed { "alloc_zeroed" } else { "alloc" });
    }

    fn free(&mut self, i: u16) {
        let Some(b) = self.s.take(i) else { return };
        let l = self.layout(b.size, b.align);
        // SAFETY: `b` is live and ours; after the check we give it up.
        unsafe {
            b.verify(b.size, "free");
            self.t.dealloc(b.p, l);
        }
    }

    fn realloc(&mut self, i: u16, size: usize) {
        let Some(b) = self.s.take(i) else { return };
        let l = self.layout(b.size, b.align);
        let new_size = size.max(T::MIN_SIZE);
        // SAFETY: `b` is live and ours.
        unsafe { b.verify(b.size, "realloc (before)") };
        if !self.room_for(new_size) {
            self.s.insert(b, "realloc (skipped)");
            return;
        }
        let nl = self.layout(new_size, b.align);
        self.note_class(nl);
        // SAFETY: `b` is live, allocated with `l`; new_size >= MIN_SIZE.
        let q = unsafe { self.t.realloc(b.p, l, new_size) };
        if q.is_null() {
            assert!(
                self.oom,
                "realloc {} -> {new_size} (align {}) returned null without injected out-of-memory",
                b.size, b.align
            );
            // The old block must be untouched.
            // SAFETY: still live and ours.
            unsafe { b.verify(b.size, "realloc (failed, old block)") };
            self.s.insert(b, "realloc (failed)");
            return;
        }
        let nb = Block { p: q, size: new_size, align: b.align, tag: b.tag };
        self.s.insert(nb, "realloc");
        // SAFETY: `q` is the live resized block, only ours.
        unsafe {
            nb.verify(b.size.min(new_size), "realloc (prefix)");
            if let Some(u) = self.t.usable_size(q, nl) {
                assert!(u >= new_size, "realloc: usable size {u} below requested {new_size}");
            }
            nb.fill_from(b.size.min(new_size));
        }
    }

    fn other_batch(&mut self, ops: &[Op]) {
        let mut batch = Vec::with_capacity(ops.len());
        for op in ops {
            match *op {
                Op::FreeOnOtherThread { i } => {
                    if let Some(b) = self.s.take(i) {
                        // SAFETY: live and ours until handed to the other thread.
                        unsafe { b.verify(b.size, "free on other thread") };
                        batch.push(OtherReq::Free { p: b.p, layout: self.layout(b.size, b.align) });
                    }
                }
                Op::AllocOnOtherThread { size, align } => {
                    let layout = self.layout(size, align);
                    self.note_class(layout);
                    batch.push(OtherReq::Alloc { layout, zeroed: size % 3 == 0, out: core::ptr::null_mut() });
                }
                _ => unreachable!("not an other-thread op"),
            }
        }
        // SAFETY: every Free names a live block taken out of the shadow above.
        unsafe { self.t.other(&mut batch) };
        for r in batch {
            if let OtherReq::Alloc { layout, zeroed, out } = r {
                if !self.room_for(layout.size()) {
                    if !out.is_null() {
                        // SAFETY: fresh block of ours that we do not keep.
                        unsafe { self.t.dealloc(out, layout) };
                    }
                    continue;
                }
                self.adopt(out, layout, zeroed, "alloc on other thread");
            }
        }
    }
}

/// Run `ops` on `t`, then free everything and call [`Target::finish`].
pub fn run<T: Target>(t: &mut T, ops: &[Op]) {
    let mut r = Run { t, s: Shadow::with_capacity(MAX_LIVE), classes: [false; NUM_CLASSES], oom: false };
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i];
        if op.is_other() {
            let start = i;
            while i < ops.len() && ops[i].is_other() && i - start < MAX_BATCH {
                i += 1;
            }
            r.other_batch(&ops[start..i]);
            r.t.after_op(&r.s);
            continue;
        }
        match op {
            Op::Alloc { size, align } => r.alloc(size, align, false),
            Op::AllocZeroed { size, align } => r.alloc(size, align, true),
            Op::Free { i } => r.free(i),
            Op::Realloc { i, size } => r.realloc(i, size),
            Op::FlushOtherThread => r.t.flush_other(),
            Op::ExitThread => r.t.exit_thread(),
            Op::Trim => r.t.trim(),
            Op::AdvanceClock { ms } => r.t.advance_clock(ms),
            Op::FailAfter { n } => {
                let n = (n != 255).then_some(u64::from(n % 8));
                if r.t.fail_after(n) {
                    r.oom = n.is_some();
                }
            }
            Op::FreeOnOtherThread { .. } | Op::AllocOnOtherThread { .. } => unreachable!(),
        }
        r.t.after_op(&r.s);
        i += 1;
    }
    // Stop failing, then free everything (checking every block) and hand over.
    if r.oom {
        r.t.fail_after(None);
        r.oom = false;
    }
    while !r.s.is_empty() {
        r.free(0);
    }
    r.t.after_op(&r.s);
    let Run { t, s, classes, .. } = r;
    drop(s);
    t.finish(&classes);
}
