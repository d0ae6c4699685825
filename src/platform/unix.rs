//! Unix platform: `mmap`-backed [`OsPages`] and process services, all through
//! `libc` and none of them allocating.

use super::PageSource;
use crate::config::PAGE_SIZE;
use crate::sync::unmodeled::{AtomicBool, AtomicU8, Ordering};
use core::ffi::CStr;
use core::ptr::null_mut;

/// Production page source: anonymous private mappings from the kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsPages;

fn mmap_anon(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at a kernel-chosen address aliases
    // nothing; failure is reported as MAP_FAILED and handled below.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        null_mut()
    } else {
        p.cast()
    }
}

// SAFETY: mmap memory is zeroed, aligned as requested (trimmed below), owned by
// the caller and never comes from the Rust global allocator.
unsafe impl PageSource for OsPages {
    fn map(&self, len: usize, align: usize) -> *mut u8 {
        debug_assert!(len % PAGE_SIZE == 0 && align.is_power_of_two());
        if align <= PAGE_SIZE {
            return mmap_anon(len);
        }
        // Over-map by `align` and trim both ends to get an aligned range.
        let Some(total) = len.checked_add(align) else { return null_mut() };
        let raw = mmap_anon(total);
        if raw.is_null() {
            return raw;
        }
        let start = raw as usize;
        let aligned = (start + align - 1) & !(align - 1);
        let head = aligned - start;
        let tail = total - head - len;
        // SAFETY: both trimmed pieces lie inside the mapping made just above
        // and are outside the range handed out.
        unsafe {
            if head > 0 {
                libc::munmap(raw.cast(), head);
            }
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
        }
        aligned as *mut u8
    }

    unsafe fn unmap(&self, ptr: *mut u8, len: usize) {
        // SAFETY: caller passes a whole live mapping of ours (trait contract).
        unsafe { libc::munmap(ptr.cast(), len) };
    }

    unsafe fn purge(&self, ptr: *mut u8, len: usize) {
        // SAFETY: range inside a live private anonymous mapping (trait
        // contract); MADV_DONTNEED makes it read back as zero.
        unsafe { libc::madvise(ptr.cast(), len, libc::MADV_DONTNEED) };
    }

    #[cfg(target_os = "linux")]
    unsafe fn hint_dense(&self, ptr: *mut u8, len: usize) {
        // SAFETY: range inside a live mapping of ours (trait contract); the
        // advice changes no contents.
        unsafe { libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE) };
    }

    unsafe fn prefault(&self, ptr: *mut u8, len: usize) {
        // SAFETY: whole pages inside a live mapping of ours (trait contract).
        unsafe { populate_write(ptr, len) };
    }

    unsafe fn protect(&self, ptr: *mut u8, len: usize, accessible: bool) {
        let prot = if accessible { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_NONE };
        // SAFETY: whole pages inside a live mapping of ours (trait contract).
        unsafe { libc::mprotect(ptr.cast(), len, prot) };
    }

    #[cfg(target_os = "linux")]
    unsafe fn remap(&self, ptr: *mut u8, old_len: usize, new_len: usize) -> *mut u8 {
        // SAFETY: ptr/old_len is a live mapping of ours (trait contract); on
        // failure the old mapping is left as it was.
        let p = unsafe { libc::mremap(ptr.cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
        if p == libc::MAP_FAILED {
            null_mut()
        } else {
            p.cast()
        }
    }

    fn now_ns(&self) -> u64 {
        now_ns()
    }

    fn resident_bytes(&self) -> u64 {
        resident_bytes()
    }
}

/// Set once `madvise(MADV_POPULATE_WRITE)` has been refused as unknown
/// (`EINVAL` before Linux 5.14, or `ENOSYS`) or forbidden (`EPERM`, a
/// seccomp filter): later calls make no system call.
static POPULATE_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// What one [`populate_write`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Populated {
    /// The kernel mapped the range in.
    Done,
    /// The kernel does not know (or forbids) the advice: noted, and no later
    /// call asks again.
    Unsupported,
    /// No system call: an earlier call found the advice unsupported (or this
    /// is not Linux).
    Skipped,
    /// The kernel knows the advice but did not finish (out of memory, a
    /// signal): nothing to do, the pages fault in when touched.
    Failed,
}

/// Map `[ptr, ptr + len)` in for writing (`madvise(MADV_POPULATE_WRITE)`,
/// Linux 5.14+) without changing its contents; on a kernel that does not
/// know the advice, do nothing, now and later. Leaves `errno` as it was.
///
/// # Safety
/// The range is whole pages inside a live private anonymous mapping of ours.
pub unsafe fn populate_write(ptr: *mut u8, len: usize) -> Populated {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: caller contract.
        unsafe { populate_with(ptr, len, libc::MADV_POPULATE_WRITE, &POPULATE_UNSUPPORTED) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, len, &POPULATE_UNSUPPORTED);
        Populated::Skipped
    }
}

/// [`populate_write`] with the advice and the "unsupported" flag as
/// parameters, so a test can force the fallback with an advice the kernel
/// refuses, without touching the process-wide flag.
///
/// # Safety
/// As [`populate_write`].
#[cfg(target_os = "linux")]
unsafe fn populate_with(ptr: *mut u8, len: usize, advice: libc::c_int, unsupported: &AtomicBool) -> Populated {
    if unsupported.load(Ordering::Relaxed) {
        return Populated::Skipped;
    }
    // SAFETY: errno's location is this thread's; the range is whole pages of
    // a live mapping of ours (caller contract) and populating keeps contents.
    unsafe {
        let e = *libc::__errno_location();
        let r = libc::madvise(ptr.cast(), len, advice);
        let err = *libc::__errno_location();
        *libc::__errno_location() = e;
        if r == 0 {
            Populated::Done
        } else if err == libc::EINVAL || err == libc::ENOSYS || err == libc::EPERM {
            unsupported.store(true, Ordering::Relaxed);
            Populated::Unsupported
        } else {
            Populated::Failed
        }
    }
}

/// The clock [`now_ns`] reads: on Linux the coarse monotonic clock, which
/// reads the time of the last timer tick (1-4 ms old) without asking the
/// hardware: 7 ns a call instead of 25 on this project's VM. It only times
/// purge delays of milliseconds, read on every slow path while anything is
/// retained (1.5 % of the `calloc` case's time with the precise clock).
#[cfg(target_os = "linux")]
const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
#[cfg(not(target_os = "linux"))]
const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;

/// Monotonic clock in nanoseconds, to within a timer tick (see [`CLOCK`]).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A random word from the kernel (`getrandom(2)`, non-blocking, no
/// allocation); if that fails, a mix of the clock and an ASLR'd address.
pub fn random_word() -> u64 {
    let mut w: u64 = 0;
    // SAFETY: `w` is a valid 8-byte out-buffer for getrandom.
    let n = unsafe { libc::getrandom((&mut w as *mut u64).cast(), 8, libc::GRND_NONBLOCK) };
    if n == 8 {
        return w;
    }
    let local = 0u8;
    let mut x = now_ns() ^ (&local as *const u8 as u64).rotate_left(32) ^ (random_word as *const () as u64);
    // splitmix64 finaliser: spread the few varying bits over the word.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Look up an environment variable without allocating.
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv returns null or a NUL-terminated string in the process
    // environment; the allocator never calls setenv, and programs that mutate
    // the environment concurrently are outside what libc supports anyway.
    unsafe {
        let p = libc::getenv(name.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p).to_bytes())
        }
    }
}

/// Write bytes to stderr, ignoring errors (diagnostics only).
pub fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer/length pair describes a live byte slice.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

static mut EXIT_KEY: libc::pthread_key_t = 0;
static KEY_STATE: AtomicU8 = AtomicU8::new(0);

/// Arrange for `hook` to run when the calling thread exits (pthread TSD
/// destructor; `pthread_key_create` does not allocate). Returns false if the
/// key could not be created. May call `calloc` inside glibc for high key
/// numbers, so callers must tolerate re-entry.
pub fn register_thread_exit(hook: unsafe extern "C" fn(*mut libc::c_void)) -> bool {
    use Ordering::*;
    // 0 = uncreated, 1 = creating, 2 = ready, 3 = failed
    loop {
        match KEY_STATE.compare_exchange(0, 1, Acquire, Acquire) {
            Ok(_) => {
                let mut k: libc::pthread_key_t = 0;
                // SAFETY: valid out-pointer and a destructor with the C ABI.
                let rc = unsafe { libc::pthread_key_create(&mut k, Some(hook)) };
                if rc == 0 {
                    // SAFETY: written once, before KEY_STATE publishes it with Release.
                    unsafe { EXIT_KEY = k };
                    KEY_STATE.store(2, Release);
                } else {
                    KEY_STATE.store(3, Release);
                }
            }
            Err(1) => core::hint::spin_loop(),
            Err(2) => break,
            Err(_) => return false,
        }
    }
    // SAFETY: KEY_STATE == 2 (Acquire) means EXIT_KEY was written and published.
    let key = unsafe { EXIT_KEY };
    // SAFETY: key is a live key; any non-null value makes the destructor run.
    unsafe { libc::pthread_setspecific(key, 1 as *const libc::c_void) == 0 }
}

/// The kernel's page size in bytes (`sysconf(_SC_PAGESIZE)`), or 0 if unknown.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions and does not allocate.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        0
    }
}

/// Hold the thread-exit key's creation across a `fork`: waits while another
/// thread is creating it, and claims creation itself if nobody has created
/// it yet, so the child never inherits a creation in progress by a thread it
/// does not have. Returns whether it claimed (pass that to
/// [`thread_exit_key_fork_unlock`]).
pub fn thread_exit_key_fork_lock() -> bool {
    use Ordering::*;
    loop {
        match KEY_STATE.compare_exchange(0, 1, Acquire, Acquire) {
            Ok(_) => return true,
            Err(1) => core::hint::spin_loop(),
            Err(_) => return false,
        }
    }
}

/// Undo [`thread_exit_key_fork_lock`] (in the parent and in the child).
pub fn thread_exit_key_fork_unlock(claimed: bool) {
    if claimed {
        KEY_STATE.store(0, Ordering::Release);
    }
}

/// Register `fork` handlers (`pthread_atfork`). False if glibc refused.
pub fn on_fork(prepare: unsafe extern "C" fn(), parent: unsafe extern "C" fn(), child: unsafe extern "C" fn()) -> bool {
    // SAFETY: registering plain C-ABI function pointers that live forever.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
}

/// Whether the page at `page` (page aligned) is mapped (`mincore`), without
/// changing `errno`.
pub fn is_mapped(page: *const u8) -> bool {
    let mut v = 0u8;
    // SAFETY: errno location is this thread's; mincore only writes one byte
    // into `v` for one page.
    unsafe {
        let e = *libc::__errno_location();
        let r = libc::mincore(page as *mut libc::c_void, PAGE_SIZE, &mut v);
        *libc::__errno_location() = e;
        r == 0
    }
}

/// Set this thread's `errno`.
pub fn set_errno(e: i32) {
    // SAFETY: errno location is this thread's.
    unsafe { *libc::__errno_location() = e };
}

/// Run `f` at process exit (`atexit`).
pub fn on_process_exit(f: extern "C" fn()) {
    // SAFETY: registering a plain C-ABI function pointer.
    unsafe { libc::atexit(f) };
}

/// Resident set size of this process in bytes (from `/proc/self/statm`), or 0.
pub fn resident_bytes() -> u64 {
    let mut buf = [0u8; 128];
    // SAFETY: a NUL-terminated path; read into a stack buffer of known size.
    let n = unsafe {
        let fd = libc::open(c"/proc/self/statm".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return 0;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    if n <= 0 {
        return 0;
    }
    let s = &buf[..n as usize];
    let mut fields = s.split(|&b| b == b' ');
    let _size = fields.next();
    fields.next().and_then(crate::options::parse_u64).map_or(0, |pages| pages * PAGE_SIZE as u64)
}

// Real mmap/madvise/mincore: not executable under Miri (see .ci/miri.sh).
#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;

    const LEN: usize = 16 * PAGE_SIZE;

    /// Pages of `[p, p + LEN)` that are resident (`mincore`).
    fn resident_pages(p: *mut u8) -> usize {
        let mut v = [0u8; LEN / PAGE_SIZE];
        // SAFETY: `p` is a live page-aligned mapping of LEN bytes; `v` has one byte per page.
        assert_eq!(unsafe { libc::mincore(p.cast(), LEN, v.as_mut_ptr()) }, 0);
        v.iter().filter(|&&b| b & 1 != 0).count()
    }

    #[test]
    fn populate_maps_the_range_in_and_keeps_it_zero() {
        let p = OsPages.map(LEN, PAGE_SIZE);
        assert!(!p.is_null());
        assert_eq!(resident_pages(p), 0, "a fresh mapping starts empty");
        let flag = AtomicBool::new(false);
        // SAFETY: a live mapping of ours, whole pages.
        let r = unsafe { populate_with(p, LEN, libc::MADV_POPULATE_WRITE, &flag) };
        // This test machine runs Linux >= 5.14 (see the README's Platforms).
        assert_eq!(r, Populated::Done);
        assert_eq!(resident_pages(p), LEN / PAGE_SIZE);
        // SAFETY: LEN readable bytes.
        assert!(unsafe { core::slice::from_raw_parts(p, LEN) }.iter().all(|&b| b == 0));
        // SAFETY: the mapping made above.
        unsafe { OsPages.unmap(p, LEN) };
    }

    #[test]
    fn an_unknown_advice_falls_back_once_and_then_makes_no_call() {
        let p = OsPages.map(LEN, PAGE_SIZE);
        assert!(!p.is_null());
        let flag = AtomicBool::new(false);
        set_errno(42);
        // An advice no kernel knows stands for MADV_POPULATE_WRITE before 5.14.
        // SAFETY: a live mapping of ours, whole pages.
        let first = unsafe { populate_with(p, LEN, 0x7fff, &flag) };
        assert_eq!(first, Populated::Unsupported);
        // SAFETY: errno's location is this thread's.
        assert_eq!(unsafe { *libc::__errno_location() }, 42, "errno is left as it was");
        assert!(flag.load(Ordering::Relaxed));
        // SAFETY: as above.
        let second = unsafe { populate_with(p, LEN, libc::MADV_POPULATE_WRITE, &flag) };
        assert_eq!(second, Populated::Skipped, "no second system call once refused");
        assert_eq!(resident_pages(p), 0, "the fallback does nothing");
        // SAFETY: the mapping made above.
        unsafe { OsPages.unmap(p, LEN) };
    }
}
