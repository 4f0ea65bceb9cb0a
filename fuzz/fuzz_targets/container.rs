#![no_main]
//! Fuzz target of the command line's file container (`ringvault::files::parse`; the property
//! is `ringvault::app::container::check_fuzz_input`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringvault::app::container::check_fuzz_input(data));
