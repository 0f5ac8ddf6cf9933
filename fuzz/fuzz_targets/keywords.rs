//! Fuzz target `keywords`: the properties of `domain::fuzz::keywords`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domain::fuzz::keywords(data));
