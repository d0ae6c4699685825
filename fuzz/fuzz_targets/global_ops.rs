//! libFuzzer entry point of `global_ops`: the op language through `HakMem`,
//! which is this binary's global allocator (see `src/global_ops.rs`), with
//! real threads for the other-thread ops.
#![no_main]

use hakmem_fuzz::ops::Input;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GLOBAL: hakmem_alloc::HakMem = hakmem_alloc::HakMem;

fuzz_target!(|input: Input| hakmem_fuzz::global_ops::run(&input));
