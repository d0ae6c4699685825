//! `HAKMEM_*` environment options: one table, read once, parsed without
//! allocating (libc `getenv` through the platform layer).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HAKMEM_SS_ACQUIRE_DEBUG` | 0 | 1 = one stderr line per shared-pool stage decision |
//! | `HAKMEM_TCACHE_DRAIN` | 2048 | most blocks a thread cache bin holds before draining half back to slabs (the seed's drain interval) |
//! | `HAKMEM_TCACHE_KB` | 4096 | per-thread budget for blocks held in thread-cache bins, in KiB (bins start small and grow with use while the budget allows; at most two blocks per class beyond it) |
//! | `HAKMEM_RETAIN_MB` | 16 | retired SuperSlabs kept mapped (dirty) for reuse, in MiB; beyond this they are unmapped |
//! | `HAKMEM_PURGE_DELAY_MS` | 10 | a retained SuperSlab idle this long is purged (`madvise(DONTNEED)`) |
//! | `HAKMEM_STATS` | 0 | 1 = print the statistics at process exit (feature `stats`) |
//! | `HAKMEM_THP` | 0 | 1 = ask for transparent huge pages on each new SuperSlab (`madvise(HUGEPAGE)`): one fault per 2 MiB instead of 512, but with the kernel's usual `defrag=madvise` each such fault may compact memory synchronously (a JSON batch job's parse phase ran 2.5x slower), and every SuperSlab touched costs 2 MiB resident (a thread touching each class once: +4.1 MiB instead of +0.6 MiB). Off by default |

use core::ffi::CStr;

/// Runtime options of one heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Trace shared-pool stage decisions to stderr.
    pub acquire_debug: bool,
    /// Thread-cache bin capacity before a drain (count of blocks).
    pub drain_interval: u32,
    /// Per-thread budget, in bytes, for blocks held in thread-cache bins.
    pub tcache_bytes: usize,
    /// Dirty bytes of retired SuperSlabs kept for reuse.
    pub retain_bytes: usize,
    /// Idle time after which a retained SuperSlab is purged, in nanoseconds.
    pub purge_delay_ns: u64,
    /// Print statistics at exit.
    pub stats_at_exit: bool,
    /// Hint transparent huge pages on new SuperSlabs.
    pub huge_pages: bool,
}

impl Options {
    /// Built-in defaults.
    pub const DEFAULT: Options = Options {
        acquire_debug: false,
        drain_interval: 2048,
        tcache_bytes: 4 << 20,
        retain_bytes: 16 << 20,
        purge_delay_ns: 10_000_000,
        stats_at_exit: false,
        // Off: see the table above (issue 17's batch and footprint figures).
        huge_pages: false,
    };

    /// Defaults overridden by `HAKMEM_*` variables. Does not allocate.
    pub fn from_env() -> Options {
        let mut o = Self::DEFAULT;
        let num = |name: &CStr| read(name).and_then(parse_u64);
        if let Some(v) = num(c"HAKMEM_SS_ACQUIRE_DEBUG") {
            o.acquire_debug = v != 0;
        }
        if let Some(v) = num(c"HAKMEM_TCACHE_DRAIN") {
            o.drain_interval = v.clamp(2, 1 << 16) as u32;
        }
        if let Some(v) = num(c"HAKMEM_TCACHE_KB") {
            o.tcache_bytes = (v.min(1 << 30) as usize) << 10;
        }
        if let Some(v) = num(c"HAKMEM_RETAIN_MB") {
            o.retain_bytes = (v.min(1 << 20) as usize) << 20;
        }
        if let Some(v) = num(c"HAKMEM_PURGE_DELAY_MS") {
            o.purge_delay_ns = v.min(1 << 30).saturating_mul(1_000_000);
        }
        if let Some(v) = num(c"HAKMEM_STATS") {
            o.stats_at_exit = v != 0;
        }
        if let Some(v) = num(c"HAKMEM_THP") {
            o.huge_pages = v != 0;
        }
        o
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(unix)]
fn read(name: &CStr) -> Option<&'static [u8]> {
    crate::platform::getenv(name)
}

#[cfg(not(unix))]
fn read(_: &CStr) -> Option<&'static [u8]> {
    None
}

/// Parse a decimal `u64`; `None` on anything else (empty, sign, overflow).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_u64_accepts_digits_only() {
        assert_eq!(parse_u64(b"2048"), Some(2048));
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
    }

    #[test]
    #[allow(clippy::bool_assert_comparison)]
    fn defaults_match_the_seed() {
        assert_eq!(Options::DEFAULT.drain_interval, 2048);
        assert_eq!(Options::DEFAULT.acquire_debug, false);
    }

    #[test]
    #[allow(clippy::bool_assert_comparison)]
    fn huge_pages_are_opt_in() {
        assert_eq!(Options::DEFAULT.huge_pages, false);
    }
}
