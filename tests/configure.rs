//! `HakMem::configure` before anything allocates. The Rust runtime allocates
//! before `main` (std names the main thread for its stack-overflow handler),
//! so the program configures from a constructor in `.init_array`, which the
//! C runtime runs before Rust's `main` wrapper: the snippet the README shows.
//! Checked: the options are taken, a second call before the start replaces
//! them, the `HAKMEM_*` environment overrides them variable by variable, a
//! bad value costs one stderr line, and once the heap is live `configure` is
//! refused. No libtest harness: it would allocate on its own threads anyway.
fn main() {
    // Model builds (loom, shuttle) have no global allocator.
    #[cfg(not(any(feature = "loom", feature = "shuttle")))]
    checks::main();
}

#[cfg(not(any(feature = "loom", feature = "shuttle")))]
mod checks {
    use hakmem_alloc::{ConfigureError, HakMem, Options};
    use std::process::Command;
    use std::sync::atomic::{AtomicU8, Ordering};

    #[global_allocator]
    static GLOBAL: HakMem = HakMem;

    /// Results of the two `configure` calls in the constructor: 1 = Ok, 2 = Err.
    static FIRST: AtomicU8 = AtomicU8::new(0);
    static SECOND: AtomicU8 = AtomicU8::new(0);

    #[used]
    #[link_section = ".init_array"]
    static CONFIGURE: extern "C" fn() = {
        extern "C" fn configure() {
            let code = |r: Result<(), ConfigureError>| if r.is_ok() { 1 } else { 2 };
            FIRST.store(code(HakMem::configure(Options::DEFAULT.with_drain_interval(500))), Ordering::Relaxed);
            let second = HakMem::configure(Options::DEFAULT.with_drain_interval(300).with_huge_pages(false));
            SECOND.store(code(second), Ordering::Relaxed);
        }
        configure
    };

    pub fn main() {
        let first = FIRST.load(Ordering::Relaxed);
        let second = SECOND.load(Ordering::Relaxed);
        if std::env::var("HAKMEM_CONFIGURE_CHILD").is_ok() {
            let o = HakMem::options();
            println!("{first} {second} drain={} thp={}", o.drain_interval, o.huge_pages);
            return;
        }

        assert_eq!((first, second), (1, 1), "the constructor ran first and both calls were taken");
        let o = HakMem::options();
        if std::env::var_os("HAKMEM_TCACHE_DRAIN").is_none() && std::env::var_os("HAKMEM_THP").is_none() {
            assert_eq!((o.drain_interval, o.huge_pages), (300, false), "the second configure wins");
        }
        let v: Vec<u64> = (0..1000).collect();
        assert_eq!(v.iter().sum::<u64>(), 499_500);

        let s = HakMem::stats();
        assert!(s.resident_bytes > 0, "the process's resident set is read: {s:?}");
        assert!(s.to_string().starts_with("hakmem stats: mapped "), "{s}");

        let late = HakMem::configure(Options::DEFAULT.with_drain_interval(64));
        assert_eq!(late, Err(ConfigureError::HeapLive));
        assert_eq!(HakMem::options(), o, "a refused configure changes nothing");
        assert!(late.unwrap_err().to_string().contains("already live"));

        // The environment overrides the configured drain interval; `off` is not
        // a number, so HAKMEM_THP keeps the configured value, with one warning.
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("HAKMEM_") {
                cmd.env_remove(k);
            }
        }
        let out =
            cmd.env("HAKMEM_CONFIGURE_CHILD", "1").env("HAKMEM_TCACHE_DRAIN", "100").env("HAKMEM_THP", "off").output();
        let out = out.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed: {stderr}");
        assert_eq!(stdout.trim(), "1 1 drain=100 thp=false");
        assert_eq!(stderr, "hakmem: HAKMEM_THP=off is not a number; using 0\n");

        println!(
            "configure: before first use, replaced, refused when live, environment overrides, bad value warned: ok"
        );
    }
}
