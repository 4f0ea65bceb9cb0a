//! The core scheme suite on the GPU: every homomorphic operation against the same operation on
//! plaintexts.

#[macro_use]
mod common;

ringvault_core::scheme_tests!(suite, gpu!());
