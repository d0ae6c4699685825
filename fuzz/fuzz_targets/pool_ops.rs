//! libFuzzer entry point of `pool_ops`: the shared pool against a reference
//! model of its protocol (see `src/pool_ops.rs`).
#![no_main]

use hakmem_fuzz::pool_ops::PoolInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: PoolInput| hakmem_fuzz::pool_ops::run(&input));
