//! Fuzz target `send_request`: the properties of `wa::fuzz::send_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wa::fuzz::send_request(data));
