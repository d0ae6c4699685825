//! `UnsafeCell` with loom's closure API (`with` / `with_mut`), so owner-only
//! state is checked for concurrent access by loom and costs nothing otherwise.

#[cfg(feature = "loom")]
pub use loom::cell::UnsafeCell;

/// A `core::cell::UnsafeCell` exposing loom's access API.
#[cfg(not(feature = "loom"))]
#[derive(Debug)]
pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(feature = "loom"))]
impl<T> UnsafeCell<T> {
    /// Wrap a value.
    #[inline]
    pub const fn new(v: T) -> Self {
        Self(core::cell::UnsafeCell::new(v))
    }

    /// Run `f` with a shared raw pointer to the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Run `f` with a mutable raw pointer to the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
