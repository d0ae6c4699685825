//! Writes the hand-written seeds of `hakmem_fuzz::seeds` to
//! `corpus-seed/<target>/<name>` (run from anywhere:
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds`).

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus-seed");
    let heap = hakmem_fuzz::seeds::heap_seeds();
    let sets = [
        ("heap_ops", heap.clone()),
        ("global_ops", heap),
        ("pool_ops", hakmem_fuzz::seeds::pool_seeds()),
        ("size_class", hakmem_fuzz::seeds::size_class_seeds()),
    ];
    for (target, seeds) in sets {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes)?;
        }
        println!("{}: written", dir.display());
    }
    Ok(())
}
