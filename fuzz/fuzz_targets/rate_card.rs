//! Fuzz target `rate_card`: the properties of `domain::fuzz::rate_card`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| domain::fuzz::rate_card(data));
