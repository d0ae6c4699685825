//! The runtime allocator switch: a `GlobalAlloc` that forwards every call to
//! one of hakmem, the system allocator, mimalloc or jemalloc.
//!
//! The choice comes from the environment variable `HAKMEM_BENCH_ALLOC`, read
//! with `libc::getenv` (no allocation) on the very first allocator call and
//! never changed afterwards, so every block of the process is allocated and
//! freed by the same allocator. Programs that take `--alloc NAME` on the
//! command line re-exec themselves with the variable set (see
//! [`crate::cli::start`]); the `compare` driver sets it for its children.
//!
//! All four routes pay the same single predictable branch, so the switch does
//! not favour any allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::CStr;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// Environment variable naming the allocator of the process.
pub const ENV_VAR: &str = "HAKMEM_BENCH_ALLOC";
/// The same name, NUL-terminated, for `getenv`.
const ENV_VAR_C: &CStr = c"HAKMEM_BENCH_ALLOC";

/// One of the allocators under comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Alloc {
    /// `hakmem_alloc::HakMem`, the allocator of this project.
    Hakmem = 1,
    /// `std::alloc::System` (glibc malloc on Linux).
    System = 2,
    /// `mimalloc::MiMalloc`.
    Mimalloc = 3,
    /// `tikv_jemallocator::Jemalloc`.
    Jemalloc = 4,
}

impl Alloc {
    /// Every allocator, hakmem first, in the order reports use.
    pub const ALL: [Alloc; 4] = [Alloc::Hakmem, Alloc::System, Alloc::Mimalloc, Alloc::Jemalloc];

    /// The command-line / environment name.
    pub const fn name(self) -> &'static str {
        match self {
            Alloc::Hakmem => "hakmem",
            Alloc::System => "system",
            Alloc::Mimalloc => "mimalloc",
            Alloc::Jemalloc => "jemalloc",
        }
    }

    /// Parses a command-line / environment name.
    pub fn from_name(name: &[u8]) -> Option<Alloc> {
        match name {
            b"hakmem" => Some(Alloc::Hakmem),
            b"system" => Some(Alloc::System),
            b"mimalloc" => Some(Alloc::Mimalloc),
            b"jemalloc" => Some(Alloc::Jemalloc),
            _ => None,
        }
    }

    const fn from_code(code: u8) -> Option<Alloc> {
        match code {
            1 => Some(Alloc::Hakmem),
            2 => Some(Alloc::System),
            3 => Some(Alloc::Mimalloc),
            4 => Some(Alloc::Jemalloc),
            _ => None,
        }
    }
}

impl fmt::Display for Alloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Not resolved yet.
const UNSET: u8 = 0;
/// The variable held an unknown name; calls go to the system allocator and
/// [`active`] reports the error.
const INVALID: u8 = 0xff;

static CHOICE: AtomicU8 = AtomicU8::new(UNSET);

/// The code of the chosen allocator, resolving it on first use.
#[inline(always)]
fn choice() -> u8 {
    let code = CHOICE.load(Ordering::Relaxed);
    if code != UNSET {
        code
    } else {
        resolve()
    }
}

/// Reads the environment once. Racing first calls read the same environment
/// and store the same value, so the choice is stable from the first call on.
#[cold]
#[inline(never)]
fn resolve() -> u8 {
    // SAFETY: `ENV_VAR_C` is NUL-terminated; nothing in these programs calls
    // `setenv`, so the environment is not mutated concurrently.
    let value = unsafe { libc::getenv(ENV_VAR_C.as_ptr()) };
    let code = if value.is_null() {
        Alloc::System as u8
    } else {
        // SAFETY: a non-null `getenv` result is a NUL-terminated string that
        // stays valid while the environment is not modified.
        let bytes = unsafe { CStr::from_ptr(value) }.to_bytes();
        Alloc::from_name(bytes).map_or(INVALID, |a| a as u8)
    };
    CHOICE.store(code, Ordering::Relaxed);
    code
}

/// The allocator this process runs on, or an error naming the bad value of
/// [`ENV_VAR`].
pub fn active() -> Result<Alloc, String> {
    Alloc::from_code(choice()).ok_or_else(|| {
        let shown = std::env::var_os(ENV_VAR).unwrap_or_default();
        format!("{ENV_VAR}={} is not one of hakmem|system|mimalloc|jemalloc", shown.to_string_lossy())
    })
}

/// The `#[global_allocator]` of every bench program (declared in `lib.rs`).
pub struct Dispatch;

macro_rules! route {
    ($method:ident($($arg:expr),*)) => {
        match choice() {
            1 => hakmem_alloc::HakMem.$method($($arg),*),
            3 => mimalloc::MiMalloc.$method($($arg),*),
            4 => tikv_jemallocator::Jemalloc.$method($($arg),*),
            _ => System.$method($($arg),*),
        }
    };
}

// SAFETY: every method forwards to the same allocator for the whole life of
// the process (`choice` never changes once resolved), and each target
// implements `GlobalAlloc` correctly, so the contract is inherited.
unsafe impl GlobalAlloc for Dispatch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract; forwarded unchanged.
        unsafe { route!(alloc(layout)) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this same route (the choice is fixed)
        // with `layout`, as the caller guarantees.
        unsafe { route!(dealloc(ptr, layout)) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc_zeroed`'s contract; forwarded.
        unsafe { route!(alloc_zeroed(layout)) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this same route with `layout`; the caller
        // upholds `realloc`'s contract for `new_size`.
        unsafe { route!(realloc(ptr, layout, new_size)) }
    }
}
