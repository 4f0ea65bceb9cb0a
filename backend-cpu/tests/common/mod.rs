//! Shared by the integration tests: the backend at a level, or a skip (a failure when CI
//! requires the level: `RINGVAULT_REQUIRE_AVX2=1` for AVX2, `RINGVAULT_REQUIRE_AVX512=1` for
//! AVX-512).

#![allow(clippy::expect_used)]

use ringvault_backend_cpu::{CpuBackend, CpuLevel};

/// The backend at `level`, or `None` (with a note) when the CPU lacks it and CI does not
/// require it.
pub(crate) fn backend(level: CpuLevel) -> Option<CpuBackend> {
    if !level.available_for_tests() {
        return None;
    }
    Some(CpuBackend::with_level(level).expect("a supported level builds a backend"))
}

/// The backend at a level, or return from the test.
macro_rules! at_level {
    ($level:expr) => {
        match crate::common::backend($level) {
            Some(b) => b,
            None => return,
        }
    };
}
