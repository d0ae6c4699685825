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

impl Record for Node {
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
