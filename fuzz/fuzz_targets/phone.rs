//! Fuzz target `phone`: the properties of `wa::fuzz::phone`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wa::fuzz::phone(data));
