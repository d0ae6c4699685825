//! Command-line handling shared by every bench program: a tiny
//! `--flag value` parser and [`start`], which makes sure the process runs on
//! the allocator named by `--alloc` (re-executing itself when it does not).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::str::FromStr;

use crate::dispatch::{self, Alloc};

/// Set on a re-executed process, so a mismatch after re-exec is an error
/// instead of a loop.
const REEXEC_VAR: &str = "HAKMEM_BENCH_REEXEC";

/// Positional arguments plus `--name value` flags, consumed by the workload
/// that reads them; [`Args::finish`] rejects anything left over.
#[derive(Debug, Default, Clone)]
pub struct Args {
    positional: Vec<String>,
    flags: Vec<(String, String)>,
    switches: Vec<String>,
}

/// Flags that take no value.
const SWITCHES: &[&str] = &["--quick", "--help", "-h", "--list", "--allow-fallback", "--no-secure"];

impl Args {
    /// Splits `raw` into positionals and flags. `--name=value` and
    /// `--name value` are both accepted; the names in [`SWITCHES`] take none.
    pub fn parse<I: IntoIterator<Item = String>>(raw: I) -> Result<Args, String> {
        let mut args = Args::default();
        let mut it = raw.into_iter();
        while let Some(arg) = it.next() {
            if SWITCHES.contains(&arg.as_str()) {
                args.switches.push(arg);
            } else if let Some(name) = arg.strip_prefix("--") {
                let (name, value) = match name.split_once('=') {
                    Some((n, v)) => (n.to_string(), v.to_string()),
                    None => {
                        let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                        (name.to_string(), v)
                    }
                };
                args.flags.push((name, value));
            } else {
                args.positional.push(arg);
            }
        }
        Ok(args)
    }

    /// Removes and returns the value of `--name` (the last one wins).
    pub fn take(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        self.flags.retain(|(n, v)| {
            if n == name {
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        found
    }

    /// Removes `--name` and parses it, or returns `default`.
    pub fn take_or<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
        match self.take(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: cannot parse {v:?}")),
        }
    }

    /// Removes the switch `name` (e.g. `--quick`), saying whether it was given.
    pub fn take_switch(&mut self, name: &str) -> bool {
        let before = self.switches.len();
        self.switches.retain(|s| s != name);
        before != self.switches.len()
    }

    /// Removes and parses the next positional argument, or returns `default`
    /// when there is none.
    pub fn positional_or<T: FromStr>(&mut self, what: &str, default: T) -> Result<T, String> {
        if self.positional.is_empty() {
            return Ok(default);
        }
        let v = self.positional.remove(0);
        v.parse().map_err(|_| format!("{what}: cannot parse {v:?}"))
    }

    /// Removes the next positional argument.
    pub fn next_positional(&mut self) -> Option<String> {
        if self.positional.is_empty() {
            None
        } else {
            Some(self.positional.remove(0))
        }
    }

    /// Errors if anything was not consumed.
    pub fn finish(self) -> Result<(), String> {
        let mut extra: Vec<String> = self.positional;
        extra.extend(self.flags.into_iter().map(|(n, v)| format!("--{n} {v}")));
        extra.extend(self.switches);
        if extra.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected arguments: {}", extra.join(" ")))
        }
    }
}

/// Parses the process arguments (after the program name), honours
/// `--alloc NAME` and returns the remaining arguments together with the
/// allocator the process runs on.
///
/// The allocator is fixed by [`dispatch::ENV_VAR`] at the first allocation,
/// long before `main` could parse anything. When `--alloc` names another
/// allocator, the program replaces itself (`exec`) with a copy of itself
/// whose environment names the right one; this call then does not return.
pub fn start() -> Result<(Args, Alloc), String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut args = Args::parse(raw)?;
    let active = dispatch::active()?;
    let Some(wanted) = args.take("alloc") else {
        return Ok((args, active));
    };
    let wanted = Alloc::from_name(wanted.as_bytes())
        .ok_or_else(|| format!("--alloc {wanted}: expected hakmem|system|mimalloc|jemalloc"))?;
    if wanted == active {
        return Ok((args, active));
    }
    if std::env::var_os(REEXEC_VAR).is_some() {
        return Err(format!("re-executed with {}={wanted} but the process runs on {active}", dispatch::ENV_VAR));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let err = Command::new(exe).args(argv).env(dispatch::ENV_VAR, wanted.name()).env(REEXEC_VAR, "1").exec();
    Err(format!("re-exec for --alloc {wanted} failed: {err}"))
}

/// Runs a program body: prints the error and exits with status 2 on failure.
pub fn exit_on_error(result: Result<(), String>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// The body of a `child_NAME` binary, whose `#[global_allocator]` is `alloc`
/// installed statically: `child_NAME WORKLOAD [workload args]`. An `--alloc`
/// argument, if given, must name the same allocator. Exits with status 2 on
/// error.
pub fn child_main(alloc: Alloc) {
    let run = || -> Result<(), String> {
        let raw: Vec<String> = std::env::args().skip(1).collect();
        let mut args = Args::parse(raw)?;
        if let Some(named) = args.take("alloc") {
            if named != alloc.name() {
                return Err(format!("this program runs on {alloc}, not {named}"));
            }
        }
        let name = args
            .next_positional()
            .ok_or_else(|| format!("usage: child_{alloc} WORKLOAD [args]\n{}", crate::workloads::usage()))?;
        crate::workloads::run_program(&name, args, alloc)
    };
    exit_on_error(run());
}
