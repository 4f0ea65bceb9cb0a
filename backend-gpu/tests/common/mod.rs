//! Shared by the integration tests: the GPU backend, or a skip. With `RINGVAULT_REQUIRE_GPU=1`
//! (as in CI, where lavapipe provides a software Vulkan adapter) a missing adapter fails the
//! test instead. Software adapters are accepted: they prove the arithmetic.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::io::Write;
use std::sync::OnceLock;

use ringvault_backend_gpu::{GpuBackend, GpuOptions};

/// Options of the shared backend: defaults, software adapters allowed.
pub(crate) fn default_options() -> GpuOptions {
    GpuOptions { allow_software: true, ..GpuOptions::default() }
}

/// Options that split every batch of the test rings into chunks of a few polynomials and run
/// the NTT's large stages in register passes from 256 residues on (every radix up to 16).
pub(crate) fn split_options() -> GpuOptions {
    GpuOptions { max_chunk_bytes: 200 << 10, ntt_tile_log: 8, ..default_options() }
}

/// Options that keep the 16-bit-half products even where the adapter has 64-bit integers
/// (the fallback path, tested on the same adapter), with every runtime check wgpu adds (the
/// checked configuration).
pub(crate) fn narrow_options() -> GpuOptions {
    GpuOptions { int64: false, checked_shaders: true, ..default_options() }
}

/// A backend with `options`, or `None` (with a note) when there is no adapter and CI does not
/// require one.
pub(crate) fn open(options: GpuOptions) -> Option<GpuBackend> {
    match GpuBackend::with_options(options) {
        Ok(b) => Some(b),
        Err(e) => {
            let required = std::env::var("RINGVAULT_REQUIRE_GPU").is_ok_and(|v| v == "1");
            assert!(!required, "RINGVAULT_REQUIRE_GPU=1 but no GPU backend could be built: {e}");
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// Prints the adapter once per test binary, past the harness's output capture.
fn announce(b: &GpuBackend) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let a = b.adapter();
        let _ = writeln!(std::io::stderr().lock(), "GPU adapter: {} ({}, {}, driver {}; 64-bit shader integers: {})", a.name, a.backend, a.device_type, a.driver, if b.uses_int64() { "used" } else if b.adapter_offers_int64() { "offered, not used" } else { "not offered" });
    });
}

/// The backend shared by the tests of one binary (one device, pipelines built once).
pub(crate) fn shared() -> Option<GpuBackend> {
    static SHARED: OnceLock<Option<GpuBackend>> = OnceLock::new();
    let b = SHARED.get_or_init(|| open(default_options())).clone();
    if let Some(b) = &b {
        announce(b);
    }
    b
}

/// A shared backend with [`split_options`].
pub(crate) fn shared_split() -> Option<GpuBackend> {
    static SHARED: OnceLock<Option<GpuBackend>> = OnceLock::new();
    let b = SHARED.get_or_init(|| open(split_options())).clone();
    if let Some(b) = &b {
        announce(b);
    }
    b
}

/// A shared backend with [`narrow_options`].
pub(crate) fn shared_narrow() -> Option<GpuBackend> {
    static SHARED: OnceLock<Option<GpuBackend>> = OnceLock::new();
    SHARED.get_or_init(|| open(narrow_options())).clone()
}

/// The shared backend, or return from the test.
#[allow(unused_macros, reason = "each test binary uses a part")]
macro_rules! gpu {
    () => {
        match crate::common::shared() {
            Some(b) => b,
            None => return,
        }
    };
}

/// The shared split backend, or return from the test.
#[allow(unused_macros, reason = "each test binary uses a part")]
macro_rules! gpu_split {
    () => {
        match crate::common::shared_split() {
            Some(b) => b,
            None => return,
        }
    };
}

/// The shared backend without 64-bit products, or return from the test.
#[allow(unused_macros, reason = "each test binary uses a part")]
macro_rules! gpu_narrow {
    () => {
        match crate::common::shared_narrow() {
            Some(b) => b,
            None => return,
        }
    };
}
