//! libFuzzer entry point of `heap_ops`: the op language on a fresh
//! `Heap<MockPages>`, checked against a shadow map (see `src/heap_ops.rs`).
#![no_main]

use hakmem_fuzz::ops::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| hakmem_fuzz::heap_ops::run(&input));
