//! A lock-free Treiber stack of node indices with an ABA-tagged head.
//!
//! Nodes live in an [`Arena`] that never frees, so a popper that reads a node
//! another thread has just popped and recycled reads valid (if stale) memory,
//! and its CAS then fails because the head's tag moved on. The same type is
//! used for the per-class freelists of EMPTY slots and for the stack of spare
//! nodes.

use crate::arena::{Arena, Record};
use crate::sync::{spin_loop, AtomicU32, AtomicU64, Ordering};
use crate::tag::StackHead;

/// A freelist node: one packed [`crate::tag::Entry`] and a link.
pub struct Node {
    /// The packed entry carried by this node.
    pub entry: AtomicU64,
    next: AtomicU32,
}

// SAFETY: outside the models (see FRESH_IS_ZERO) a zero `AtomicU64` and
// `AtomicU32` are plain zero integers, the values `fresh` writes.
unsafe impl Record for Node {
    const FRESH_IS_ZERO: bool = crate::sync::ATOMICS_ARE_PLAIN;
    fn fresh() -> Self {
        Node { entry: AtomicU64::new(0), next: AtomicU32::new(0) }
    }
}

/// A Treiber stack of node indices.
pub struct IndexStack {
    head: AtomicU64,
}

impl IndexStack {
    /// An empty stack.
    pub fn new() -> Self {
        Self { head: AtomicU64::new(StackHead::EMPTY.0) }
    }

    /// Push node `idx` (which the caller exclusively holds).
    pub fn push(&self, nodes: &Arena<Node>, idx: u32) {
        let node = nodes.get(idx);
        let mut h = StackHead(self.head.load(Ordering::Relaxed));
        loop {
            node.next.store(h.top().map_or(0, |t| t + 1), Ordering::Relaxed);
            match self.head.compare_exchange_weak(h.0, h.successor(Some(idx)).0, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(cur) => {
                    h = StackHead(cur);
                    spin_loop();
                }
            }
        }
    }

    /// Pop a node index, or `None` if empty.
    pub fn pop(&self, nodes: &Arena<Node>) -> Option<u32> {
        let mut h = StackHead(self.head.load(Ordering::Acquire));
        loop {
            let top = h.top()?;
            // May read a node that was popped and re-pushed meanwhile: the value
            // is then wrong, but the tag has moved, so the CAS below fails.
            let next = nodes.get(top).next.load(Ordering::Relaxed);
            let next = next.checked_sub(1);
            match self.head.compare_exchange_weak(h.0, h.successor(next).0, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Some(top),
                Err(cur) => {
                    h = StackHead(cur);
                    spin_loop();
                }
            }
        }
    }
}

impl Default for IndexStack {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(any(feature = "loom", feature = "shuttle"))))]
mod tests {
    use super::*;
    use crate::platform::MockPages;

    fn nodes(n: u32) -> (MockPages, Arena<Node>) {
        let pages = MockPages::new();
        let a = Arena::new(4);
        for _ in 0..n {
            a.grow(&pages).unwrap();
        }
        (pages, a)
    }

    #[test]
    fn aba_stack_head_stale_cas_fails_after_pop_pop_push() {
        let (pages, mut a) = nodes(3);
        let s = IndexStack::new();
        s.push(&a, 0);
        s.push(&a, 1); // stack: 1 -> 0
                       // Thread 1 starts a pop: reads head (top 1) and its next (0) ...
        let seen = StackHead(s.head.load(Ordering::Acquire));
        assert_eq!(seen.top(), Some(1));
        let next = a.get(1).next.load(Ordering::Relaxed).checked_sub(1);
        assert_eq!(next, Some(0));
        // ... thread 2 pops 1 and 0, then pushes 1 back: top is 1 again (ABA).
        assert_eq!(s.pop(&a), Some(1));
        assert_eq!(s.pop(&a), Some(0));
        s.push(&a, 1);
        assert_eq!(StackHead(s.head.load(Ordering::Acquire)).top(), Some(1));
        // Thread 1's CAS would install node 0 (now owned by thread 2) as the top.
        // The tag makes it fail.
        let r = s.head.compare_exchange(seen.0, seen.successor(next).0, Ordering::AcqRel, Ordering::Acquire);
        assert!(r.is_err(), "ABA: a stale head must not be CASed in");
        assert_eq!(s.pop(&a), Some(1));
        assert_eq!(s.pop(&a), None, "node 0 must not reappear");
        // SAFETY: no further use.
        unsafe { a.destroy(&pages) };
    }

    #[test]
    fn aba_stack_push_pop_lifo_order() {
        let (pages, mut a) = nodes(3);
        let s = IndexStack::new();
        for i in 0..3 {
            s.push(&a, i);
        }
        assert_eq!((s.pop(&a), s.pop(&a), s.pop(&a), s.pop(&a)), (Some(2), Some(1), Some(0), None));
        // SAFETY: no further use.
        unsafe { a.destroy(&pages) };
    }
}
