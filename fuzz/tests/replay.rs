//! Replays every committed input of `heap_ops`, `pool_ops` and `size_class`
//! (`corpus-seed/<target>/*` and `regressions/<target>/*`) through the same
//! code the fuzz targets run, on stable `cargo test`, and checks that the
//! committed seeds match `hakmem_fuzz::seeds`. `global_ops` is replayed by
//! `replay_global.rs`, which installs `HakMem` as its global allocator.

use std::path::{Path, PathBuf};

/// Every file under `corpus-seed/<target>` and `regressions/<target>`.
pub fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    for dir in ["corpus-seed", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_file() && p.extension().is_none_or(|x| x != "md") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for {target}");
    for f in files {
        eprintln!("replay {}", f.display());
        run(&std::fs::read(&f).unwrap());
    }
}

#[test]
fn heap_ops_inputs() {
    replay("heap_ops", hakmem_fuzz::heap_ops::run_bytes);
}

#[test]
fn pool_ops_inputs() {
    replay("pool_ops", hakmem_fuzz::pool_ops::run_bytes);
}

#[test]
fn size_class_inputs() {
    replay("size_class", hakmem_fuzz::size_class::run_bytes);
}

#[test]
fn committed_seeds_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus-seed");
    let heap = hakmem_fuzz::seeds::heap_seeds();
    for (target, seeds) in [
        ("heap_ops", heap.clone()),
        ("global_ops", heap),
        ("pool_ops", hakmem_fuzz::seeds::pool_seeds()),
        ("size_class", hakmem_fuzz::seeds::size_class_seeds()),
    ] {
        for (name, bytes) in seeds {
            let p = root.join(target).join(name);
            let got = std::fs::read(&p)
                .unwrap_or_else(|e| panic!("{}: {e} (run `cargo run --example gen_seeds`)", p.display()));
            assert_eq!(got, bytes, "{} is stale (run `cargo run --example gen_seeds`)", p.display());
        }
    }
}

#[test]
fn empty_and_tiny_inputs() {
    for data in [&[][..], &[0], &[0xff], &[0, 0], &[0xff; 7]] {
        hakmem_fuzz::heap_ops::run_bytes(data);
        hakmem_fuzz::pool_ops::run_bytes(data);
        hakmem_fuzz::size_class::run_bytes(data);
    }
}
