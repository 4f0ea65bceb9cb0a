//! The core conformance suite at every CPU level. A level this CPU lacks fails the test when
//! CI requires it (`RINGVAULT_REQUIRE_AVX2=1` for AVX2, `RINGVAULT_REQUIRE_AVX512=1` for
//! AVX-512), and is reported and skipped otherwise.

use ringvault_backend_cpu::{CpuBackend, CpuLevel};

/// The backend at `level`, or `None` (with a note) when the CPU lacks it and CI does not
/// require it.
fn backend(level: CpuLevel) -> Option<CpuBackend> {
    match CpuBackend::with_level(level) {
        Ok(b) => Some(b),
        Err(e) => {
            let var = match level {
                CpuLevel::Avx512 => "RINGVAULT_REQUIRE_AVX512",
                _ => "RINGVAULT_REQUIRE_AVX2",
            };
            let required = std::env::var(var).is_ok_and(|v| v == "1");
            assert!(!required, "{var}=1 but {level} is unavailable: {e}");
            eprintln!("skipping {level}: {e}");
            None
        }
    }
}

/// Runs a suite function if the level exists.
macro_rules! at_level {
    ($level:expr) => {
        match backend($level) {
            Some(b) => b,
            None => return,
        }
    };
}

mod scalar {
    use super::*;
    ringvault_core::backend_conformance_tests!(suite, at_level!(CpuLevel::Scalar));
}
mod avx2 {
    use super::*;
    ringvault_core::backend_conformance_tests!(suite, at_level!(CpuLevel::Avx2));
}
mod avx512 {
    use super::*;
    ringvault_core::backend_conformance_tests!(suite, at_level!(CpuLevel::Avx512));
}
