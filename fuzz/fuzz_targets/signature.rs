//! Fuzz target `signature`: the properties of `wa::fuzz::signature`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wa::fuzz::signature(data));
