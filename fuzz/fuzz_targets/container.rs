#![no_main]
//! Fuzz target of the file container (`ringvault_app::container::parse`; the property is
//! `ringvault::app::container::check_fuzz_input`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringvault::app::container::check_fuzz_input(data));
