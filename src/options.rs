//! `HAKMEM_*` options: one table, read once when the heap starts, parsed
//! without allocating (libc `getenv` through the platform layer; the heap does
//! not exist yet). A value that does not parse, or lies outside its range, is
//! reported with one line on stderr and the field keeps (or is clamped to) a
//! valid value.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HAKMEM_SS_ACQUIRE_DEBUG` | 0 | 1 = one stderr line per shared-pool stage decision |
//! | `HAKMEM_TCACHE_DRAIN` | 2048 | most blocks a thread cache bin holds before draining half back to slabs (the seed's drain interval; a bin also holds at most 256 KiB of its class); 2..=65536 |
//! | `HAKMEM_TCACHE_KB` | 4096 | per-thread budget for blocks held in thread-cache bins, in KiB (bins start small and grow with use while the budget allows; at most two blocks per class beyond it) |
//! | `HAKMEM_RETAIN_MB` | 16 | retired SuperSlabs kept mapped for reuse, in MiB; beyond this they are unmapped at once |
//! | `HAKMEM_PURGE_DELAY_MS` | 10 | a retained SuperSlab (or cached large mapping) idle this long is purged (a SuperSlab only once the pool has retired or reused none for as long, at most after ten times this long) (`madvise(DONTNEED)`) or unmapped at the next allocator slow path (refill, drain, large alloc/free, thread exit) or `trim()`; there is no background thread |
//! | `HAKMEM_STATS` | 0 | 1 = print the statistics at process exit (always available; per-class counts need feature `stats`) |
//! | `HAKMEM_ORPHAN` | 1 | 1 = a thread gives up each slab it has exhausted, so the thread that frees the slab's blocks takes it over and the last free releases it (memory freed by other threads goes back while its owner is idle); 0 = exhausted slabs stay with their owner until it allocates again or exits (the behaviour before; for comparison) |
//! | `HAKMEM_THP` | 0 | 1 = ask for transparent huge pages on each new SuperSlab (`madvise(HUGEPAGE)`): one fault per 2 MiB instead of 512, but with the kernel's usual `defrag=madvise` each such fault may compact memory synchronously (a JSON batch job's parse phase ran 2.5x slower), and every SuperSlab touched costs 2 MiB resident (a thread touching each class once: +4.1 MiB instead of +0.6 MiB). Off by default |
//! | `HAKMEM_THP_FROM_KB` | 0 | with `HAKMEM_THP=0`: ask for huge pages only on new SuperSlabs mapped for blocks of at least this many KiB (1..=32; 0 = never), once the heap is past `HAKMEM_THP_AFTER_MB`. Buffers of 1 KiB and more fill their pages, so a huge page costs one fault instead of 512 (the `calloc` case 1.35x faster with 1). Off by default: the batch job ran 1.10x faster without it. Other classes may later share such a SuperSlab |
//! | `HAKMEM_THP_ZEROED_KB` | 1 | ask for huge pages on a new SuperSlab mapped for a zeroed allocation (`alloc_zeroed`, C `calloc`) of a class of at least this many KiB (1..=32; 0 = never), once the heap is past `HAKMEM_THP_AFTER_MB` or 1 MiB of slabs went to such allocations (`pool::ZEROED_FLOOR`). A program that asks for many zeroed buffers has the kernel zero 2 MiB at a time instead of 4 KiB pages or a memset (the `calloc` case about 1.5x faster); the JSON batch job and the service do not map SuperSlabs this way, so they keep 4 KiB pages. Other classes may later share such a SuperSlab |
//! | `HAKMEM_THP_AFTER_MB` | 4 | `HAKMEM_THP_FROM_KB` and `HAKMEM_THP_ZEROED_KB` apply once this many MiB of SuperSlabs are live: a small heap (a short thread, a small tool) keeps 4 KiB pages and its footprint |
//! | `HAKMEM_POPULATE` | 1 | 1 = when `alloc_zeroed` hands out a never-used block of a fresh (zeroed) slab, map its pages in for writing with one `madvise(MADV_POPULATE_WRITE)` (Linux 5.14+; nothing on older kernels): a program that reads a zeroed block before writing it would otherwise fault twice per page (zero page, then copy). The populated part of a slab stays within twice what `alloc_zeroed` carved from it. Not done on a SuperSlab advised huge pages |
//!
//! Programs set the same fields before the heap starts with
//! `HakMem::configure`; the environment still overrides them, variable by
//! variable.

use core::ffi::CStr;
use core::fmt;

/// Runtime options of one heap.
///
/// Start from [`Options::DEFAULT`] (or `Default::default()`) and change fields
/// or use the `with_*` methods; the struct may gain fields in a minor release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Trace shared-pool stage decisions to stderr (`HAKMEM_SS_ACQUIRE_DEBUG`).
    pub acquire_debug: bool,
    /// Thread-cache bin capacity before a drain, in blocks (`HAKMEM_TCACHE_DRAIN`).
    pub drain_interval: u32,
    /// Per-thread budget, in bytes, for blocks held in thread-cache bins (`HAKMEM_TCACHE_KB`).
    pub tcache_bytes: usize,
    /// Bytes of retired SuperSlabs kept mapped for reuse (`HAKMEM_RETAIN_MB`).
    pub retain_bytes: usize,
    /// Idle time after which a retained SuperSlab may be purged, in
    /// nanoseconds (`HAKMEM_PURGE_DELAY_MS`): once the pool has retired or
    /// reused no SuperSlab for as long, at most after ten times this long. The check runs on the
    /// allocator's slow paths and in `trim()`; there is no background thread.
    pub purge_delay_ns: u64,
    /// Print statistics at exit (`HAKMEM_STATS`).
    pub stats_at_exit: bool,
    /// Hint transparent huge pages on new SuperSlabs (`HAKMEM_THP`).
    pub huge_pages: bool,
    /// Give up exhausted slabs to whoever frees into them (`HAKMEM_ORPHAN`).
    pub orphan_full_slabs: bool,
    /// Hint transparent huge pages on new SuperSlabs mapped for a class of
    /// at least this many bytes; 0 = none (`HAKMEM_THP_FROM_KB`).
    pub huge_pages_from: usize,
    /// Hint transparent huge pages on new SuperSlabs mapped for a zeroed
    /// allocation of a class of at least this many bytes; 0 = none
    /// (`HAKMEM_THP_ZEROED_KB`).
    pub huge_pages_zeroed_from: usize,
    /// Live SuperSlab bytes before [`huge_pages_from`](Self::huge_pages_from)
    /// and [`huge_pages_zeroed_from`](Self::huge_pages_zeroed_from) apply
    /// (`HAKMEM_THP_AFTER_MB`).
    pub huge_pages_after: usize,
    /// Pre-fault the pages of never-used zeroed blocks (`HAKMEM_POPULATE`).
    pub populate_zeroed: bool,
}

/// One `HAKMEM_*` variable: its name, the range it accepts (in its own unit)
/// and how it maps onto [`Options`].
struct Var {
    name: &'static CStr,
    min: u64,
    max: u64,
    get: fn(&Options) -> u64,
    set: fn(&mut Options, u64),
}

/// The option table, in the order of the module's documentation.
const VARS: [Var; 12] = [
    Var {
        name: c"HAKMEM_SS_ACQUIRE_DEBUG",
        min: 0,
        max: 1,
        get: |o| o.acquire_debug as u64,
        set: |o, v| o.acquire_debug = v != 0,
    },
    Var {
        name: c"HAKMEM_TCACHE_DRAIN",
        min: 2,
        max: 1 << 16,
        get: |o| o.drain_interval as u64,
        set: |o, v| o.drain_interval = v as u32,
    },
    Var {
        name: c"HAKMEM_TCACHE_KB",
        min: 0,
        max: 1 << 30,
        get: |o| (o.tcache_bytes >> 10) as u64,
        set: |o, v| o.tcache_bytes = (v as usize) << 10,
    },
    Var {
        name: c"HAKMEM_RETAIN_MB",
        min: 0,
        max: 1 << 20,
        get: |o| (o.retain_bytes >> 20) as u64,
        set: |o, v| o.retain_bytes = (v as usize) << 20,
    },
    Var {
        name: c"HAKMEM_PURGE_DELAY_MS",
        min: 0,
        max: 1 << 30,
        get: |o| o.purge_delay_ns / 1_000_000,
        set: |o, v| o.purge_delay_ns = v * 1_000_000,
    },
    Var {
        name: c"HAKMEM_STATS",
        min: 0,
        max: 1,
        get: |o| o.stats_at_exit as u64,
        set: |o, v| o.stats_at_exit = v != 0,
    },
    Var { name: c"HAKMEM_THP", min: 0, max: 1, get: |o| o.huge_pages as u64, set: |o, v| o.huge_pages = v != 0 },
    Var {
        name: c"HAKMEM_ORPHAN",
        min: 0,
        max: 1,
        get: |o| o.orphan_full_slabs as u64,
        set: |o, v| o.orphan_full_slabs = v != 0,
    },
    Var {
        name: c"HAKMEM_THP_FROM_KB",
        min: 0,
        max: 32,
        get: |o| (o.huge_pages_from >> 10) as u64,
        set: |o, v| o.huge_pages_from = (v as usize) << 10,
    },
    Var {
        name: c"HAKMEM_THP_ZEROED_KB",
        min: 0,
        max: 32,
        get: |o| (o.huge_pages_zeroed_from >> 10) as u64,
        set: |o, v| o.huge_pages_zeroed_from = (v as usize) << 10,
    },
    Var {
        name: c"HAKMEM_THP_AFTER_MB",
        min: 0,
        max: 1 << 20,
        get: |o| (o.huge_pages_after >> 20) as u64,
        set: |o, v| o.huge_pages_after = (v as usize) << 20,
    },
    Var {
        name: c"HAKMEM_POPULATE",
        min: 0,
        max: 1,
        get: |o| o.populate_zeroed as u64,
        set: |o, v| o.populate_zeroed = v != 0,
    },
];

/// What was wrong with one variable's value. Printed as one line, e.g.
/// `hakmem: HAKMEM_THP=off is not a number; using 0`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BadValue<'a> {
    name: &'static CStr,
    value: &'a [u8],
    /// `Some((min, max))` if the number was out of range (and clamped).
    range: Option<(u64, u64)>,
    using: u64,
}

impl fmt::Display for BadValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.to_str().unwrap_or("HAKMEM_?");
        let value = core::str::from_utf8(self.value).unwrap_or("<not UTF-8>");
        match self.range {
            None => write!(f, "hakmem: {name}={value} is not a number; using {}", self.using),
            Some((lo, hi)) => write!(f, "hakmem: {name}={value} is outside {lo}..={hi}; using {}", self.using),
        }
    }
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
        orphan_full_slabs: true,
        // Off: issue 17's batch case ran 1.10x faster without it (7 rounds,
        // quick) and its full-size total 4% slower with it; `calloc` alone
        // gains. See the table above.
        huge_pages_from: 0,
        // On from 1 KiB: the `calloc` case gains, the macro cases do not map
        // SuperSlabs for zeroed carving (see the table above).
        huge_pages_zeroed_from: 1 << 10,
        // 4 MiB: past a service's heap (5 MiB peak, which maps no SuperSlab
        // for zeroed blocks of 1 KiB and more anyway); the `calloc` case ran
        // 1.30x faster than with 16 (see the table above).
        huge_pages_after: 4 << 20,
        // On: the `calloc` case's first round (issue 17), see the table above.
        populate_zeroed: true,
    };

    /// The defaults overridden by the `HAKMEM_*` environment. Does not allocate.
    pub fn from_env() -> Options {
        Self::DEFAULT.with_env()
    }

    /// These options with every `HAKMEM_*` variable that is set overriding its
    /// field. A value that does not parse is ignored and one that is out of
    /// range is clamped, each with one line on stderr. Does not allocate.
    pub fn with_env(self) -> Options {
        self.with_vars(read, |bad| crate::out::eprintln(format_args!("{bad}")))
    }

    /// [`with_env`](Self::with_env) over any variable lookup, reporting bad
    /// values to `warn`.
    pub(crate) fn with_vars<'a>(
        mut self,
        lookup: impl Fn(&CStr) -> Option<&'a [u8]>,
        mut warn: impl FnMut(BadValue<'a>),
    ) -> Options {
        for var in &VARS {
            let Some(value) = lookup(var.name) else { continue };
            match parse_u64(value) {
                None => warn(BadValue { name: var.name, value, range: None, using: (var.get)(&self) }),
                Some(v) => {
                    let clamped = v.clamp(var.min, var.max);
                    (var.set)(&mut self, clamped);
                    if clamped != v {
                        warn(BadValue { name: var.name, value, range: Some((var.min, var.max)), using: clamped });
                    }
                }
            }
        }
        self
    }

    /// With shared-pool tracing on or off.
    pub const fn with_acquire_debug(mut self, on: bool) -> Self {
        self.acquire_debug = on;
        self
    }

    /// With a thread-cache bin capacity of `blocks` (clamped to 2..=65536).
    pub const fn with_drain_interval(mut self, blocks: u32) -> Self {
        self.drain_interval = if blocks < 2 {
            2
        } else if blocks > 1 << 16 {
            1 << 16
        } else {
            blocks
        };
        self
    }

    /// With a per-thread budget of `bytes` for blocks held in thread-cache bins.
    pub const fn with_tcache_bytes(mut self, bytes: usize) -> Self {
        self.tcache_bytes = bytes;
        self
    }

    /// With `bytes` of retired SuperSlabs kept mapped for reuse.
    pub const fn with_retain_bytes(mut self, bytes: usize) -> Self {
        self.retain_bytes = bytes;
        self
    }

    /// With a purge delay of `ns` nanoseconds.
    pub const fn with_purge_delay_ns(mut self, ns: u64) -> Self {
        self.purge_delay_ns = ns;
        self
    }

    /// With statistics printed at exit, or not.
    pub const fn with_stats_at_exit(mut self, on: bool) -> Self {
        self.stats_at_exit = on;
        self
    }

    /// With transparent huge pages advised on new SuperSlabs, or not.
    pub const fn with_huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// With exhausted slabs given up to whoever frees into them, or kept by
    /// their owner.
    pub const fn with_orphan_full_slabs(mut self, on: bool) -> Self {
        self.orphan_full_slabs = on;
        self
    }

    /// With huge pages advised on new SuperSlabs mapped for classes of at
    /// least `bytes` (0 = none).
    pub const fn with_huge_pages_from(mut self, bytes: usize) -> Self {
        self.huge_pages_from = bytes;
        self
    }

    /// With huge pages advised on new SuperSlabs mapped for zeroed
    /// allocations of classes of at least `bytes` (0 = none).
    pub const fn with_huge_pages_zeroed_from(mut self, bytes: usize) -> Self {
        self.huge_pages_zeroed_from = bytes;
        self
    }

    /// With the class-based huge-page advice starting once `bytes` of
    /// SuperSlabs are live.
    pub const fn with_huge_pages_after(mut self, bytes: usize) -> Self {
        self.huge_pages_after = bytes;
        self
    }

    /// With the pages of never-used zeroed blocks pre-faulted, or not.
    pub const fn with_populate_zeroed(mut self, on: bool) -> Self {
        self.populate_zeroed = on;
        self
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

    fn vars<'a>(env: &'a [(&'a CStr, &'a [u8])]) -> impl Fn(&CStr) -> Option<&'a [u8]> + 'a {
        move |name| env.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn apply(base: Options, env: &[(&CStr, &[u8])]) -> (Options, Vec<String>) {
        let mut lines = Vec::new();
        let o = base.with_vars(vars(env), |bad| lines.push(bad.to_string()));
        (o, lines)
    }

    #[test]
    fn every_variable_sets_its_field() {
        let env: &[(&CStr, &[u8])] = &[
            (c"HAKMEM_SS_ACQUIRE_DEBUG", b"1"),
            (c"HAKMEM_TCACHE_DRAIN", b"100"),
            (c"HAKMEM_RETAIN_MB", b"3"),
            (c"HAKMEM_PURGE_DELAY_MS", b"7"),
            (c"HAKMEM_STATS", b"1"),
            (c"HAKMEM_THP", b"0"),
            (c"HAKMEM_ORPHAN", b"0"),
            (c"HAKMEM_POPULATE", b"0"),
            (c"HAKMEM_THP_FROM_KB", b"4"),
            (c"HAKMEM_THP_AFTER_MB", b"64"),
            (c"HAKMEM_THP_ZEROED_KB", b"0"),
        ];
        let (o, lines) = apply(Options::DEFAULT, env);
        assert!(lines.is_empty(), "{lines:?}");
        let want = Options::DEFAULT
            .with_acquire_debug(true)
            .with_drain_interval(100)
            .with_retain_bytes(3 << 20)
            .with_purge_delay_ns(7_000_000)
            .with_stats_at_exit(true)
            .with_huge_pages(false)
            .with_orphan_full_slabs(false)
            .with_populate_zeroed(false)
            .with_huge_pages_from(4 << 10)
            .with_huge_pages_after(64 << 20)
            .with_huge_pages_zeroed_from(0);
        assert_eq!(o, want);
    }

    #[test]
    fn a_bad_value_is_ignored_with_one_line() {
        let base = Options::DEFAULT.with_drain_interval(500);
        let (o, lines) = apply(base, &[(c"HAKMEM_THP", b"off"), (c"HAKMEM_TCACHE_DRAIN", b"")]);
        assert_eq!(o, base, "unparsable values change nothing");
        assert_eq!(
            lines,
            [
                "hakmem: HAKMEM_TCACHE_DRAIN= is not a number; using 500",
                "hakmem: HAKMEM_THP=off is not a number; using 0"
            ]
        );
    }

    #[test]
    fn an_out_of_range_value_is_clamped_with_one_line() {
        let (o, lines) = apply(Options::DEFAULT, &[(c"HAKMEM_TCACHE_DRAIN", b"1"), (c"HAKMEM_STATS", b"2")]);
        assert_eq!(o.drain_interval, 2);
        assert!(o.stats_at_exit);
        assert_eq!(
            lines,
            [
                "hakmem: HAKMEM_TCACHE_DRAIN=1 is outside 2..=65536; using 2",
                "hakmem: HAKMEM_STATS=2 is outside 0..=1; using 1"
            ]
        );
    }

    #[test]
    fn the_environment_overrides_configured_fields_only_where_set() {
        let base = Options::DEFAULT.with_retain_bytes(0).with_huge_pages(false);
        let (o, _) = apply(base, &[(c"HAKMEM_THP", b"1")]);
        assert_eq!(o, base.with_huge_pages(true));
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
