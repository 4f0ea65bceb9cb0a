//! Shared by the fuzz targets: the scheme (CPU backend, the small test parameters of
//! `ringvault_core::testing::wire`) built once, and the property every input must satisfy.

use std::sync::{Arc, OnceLock};

use ringvault_backend_cpu::CpuBackend;
use ringvault_core::scheme::Scheme;
use ringvault_core::testing::wire::{check_input, small_parameters};

/// The scheme every target loads with.
pub fn scheme() -> &'static Scheme<CpuBackend> {
    static SCHEME: OnceLock<Scheme<CpuBackend>> = OnceLock::new();
    SCHEME.get_or_init(|| Scheme::new(Arc::new(CpuBackend::new()), small_parameters()).expect("scheme"))
}

/// Runs the loader of `target` on `data`: it must return (never panic), and an uncompressed
/// input that loads must be its own canonical encoding.
pub fn check(target: &str, data: &[u8]) {
    check_input(target, scheme(), data);
}
