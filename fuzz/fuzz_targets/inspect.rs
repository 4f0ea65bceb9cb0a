#![no_main]
//! Fuzz target of the `inspect` loader (see `ringvault_core::testing::wire::load_and_encode`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringvault_fuzz::check("inspect", data));
