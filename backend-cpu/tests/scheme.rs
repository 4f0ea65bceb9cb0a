//! The core scheme suite at every CPU level (see `common` for missing levels).

#[macro_use]
mod common;

mod scalar {
    use ringvault_backend_cpu::CpuLevel;
    ringvault_core::scheme_tests!(suite, at_level!(CpuLevel::Scalar));
}
mod avx2 {
    use ringvault_backend_cpu::CpuLevel;
    ringvault_core::scheme_tests!(suite, at_level!(CpuLevel::Avx2));
}
mod avx512 {
    use ringvault_backend_cpu::CpuLevel;
    ringvault_core::scheme_tests!(suite, at_level!(CpuLevel::Avx512));
}
