//! Fuzz target `webhook`: the properties of `wa::fuzz::webhook`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wa::fuzz::webhook(data));
