//! The pool's part in `fork` safety: the one lock the pool owns (the backend
//! mutex, which also serialises registry and page-map growth) taken before
//! `fork` and held across it, so the child never inherits it held by a
//! thread that no longer exists there.
//!
//! The process-wide protocol (which locks, in which order, and the
//! `pthread_atfork` handlers that run it) lives in `crate::fork`.

use super::{Backend, Pool};
use crate::platform::PageSource;
use crate::sync::{lock, MutexGuard};

/// The pool's backend lock, held across a `fork`. Dropping it unlocks (in the
/// parent, and in the child, where the forking thread is the holder).
pub(crate) struct PoolForkGuard<'a> {
    _backend: MutexGuard<'a, Backend>,
}

impl<P: PageSource> Pool<P> {
    /// Take every lock the pool owns, for the duration of a `fork`. With it
    /// held, no other thread is inside Stage 3, a retirement, a trim, or
    /// registry / page-map growth, so the memory the child inherits has none
    /// of those half done.
    pub(crate) fn fork_lock(&self) -> PoolForkGuard<'_> {
        PoolForkGuard { _backend: lock(&self.backend) }
    }
}
