//! hakmem-alloc (skeleton; filled in by the foundation work).
pub mod global;
pub use global::HakMem;
