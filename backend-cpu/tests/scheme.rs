//! The core scheme suite at every CPU level (a level this CPU lacks fails when CI requires it).

use ringvault_backend_cpu::{CpuBackend, CpuLevel};

fn backend(level: CpuLevel) -> Option<CpuBackend> {
    match CpuBackend::with_level(level) {
        Ok(b) => Some(b),
        Err(e) => {
            let var = if level == CpuLevel::Avx512 { "RINGVAULT_REQUIRE_AVX512" } else { "RINGVAULT_REQUIRE_AVX2" };
            assert!(std::env::var(var).map_or(true, |v| v != "1"), "{var}=1 but {level} is unavailable: {e}");
            eprintln!("skipping {level}: {e}");
            None
        }
    }
}

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
    ringvault_core::scheme_tests!(suite, at_level!(CpuLevel::Scalar));
}
mod avx2 {
    use super::*;
    ringvault_core::scheme_tests!(suite, at_level!(CpuLevel::Avx2));
}
mod avx512 {
    use super::*;
    ringvault_core::scheme_tests!(suite, at_level!(CpuLevel::Avx512));
}
