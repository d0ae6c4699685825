//! libFuzzer entry point of `size_class`: round trips and bounds of the
//! size-class tables (see `src/size_class.rs`).
#![no_main]

use hakmem_fuzz::size_class::SizeInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: SizeInput| hakmem_fuzz::size_class::run(&input));
