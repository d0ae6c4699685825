//! Replays every committed `global_ops` input (`corpus-seed/global_ops/*` and
//! `regressions/global_ops/*`) with `HakMem` as this test binary's global
//! allocator, as in the fuzz target.

use std::path::Path;

#[global_allocator]
static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;

#[test]
fn global_ops_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["corpus-seed", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join("global_ops")) else { continue };
        files.extend(rd.map(|e| e.unwrap().path()).filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md")));
    }
    files.sort();
    assert!(!files.is_empty(), "no global_ops inputs");
    for f in files {
        eprintln!("replay {}", f.display());
        hakmem_fuzz::global_ops::run_bytes(&std::fs::read(&f).unwrap());
    }
}
