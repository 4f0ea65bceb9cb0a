//! The CPU's SIMD level, detected once.

use std::fmt;

/// Which kernels the CPU backend runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuLevel {
    /// Portable scalar code (the twin every SIMD kernel is tested against).
    Scalar,
    /// AVX2 (256-bit, 8 × u32 lanes).
    Avx2,
    /// AVX-512 F + BW + DQ + VL (512-bit, 16 × u32 lanes).
    Avx512,
}

impl CpuLevel {
    /// The best level this CPU supports.
    pub fn detect() -> Self {
        if Self::Avx512.is_supported() {
            Self::Avx512
        } else if Self::Avx2.is_supported() {
            Self::Avx2
        } else {
            Self::Scalar
        }
    }

    /// Whether this CPU can run the level's kernels.
    pub fn is_supported(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every level this CPU supports, lowest first.
    pub fn supported() -> Vec<Self> {
        [Self::Scalar, Self::Avx2, Self::Avx512].into_iter().filter(|l| l.is_supported()).collect()
    }

    /// The environment variable that makes a test of this level fail, instead of skip, on a CPU
    /// without it: `RINGVAULT_REQUIRE_AVX2` or `RINGVAULT_REQUIRE_AVX512` (`None` for scalar,
    /// which every CPU runs).
    pub const fn require_variable(self) -> Option<&'static str> {
        match self {
            Self::Scalar => None,
            Self::Avx2 => Some("RINGVAULT_REQUIRE_AVX2"),
            Self::Avx512 => Some("RINGVAULT_REQUIRE_AVX512"),
        }
    }

    /// For tests: whether this CPU runs the level. When it does not, prints a skip note, or
    /// panics if the level's [`require_variable`](Self::require_variable) is `1` (so that a
    /// machine that must test the kernels never passes without running them).
    #[doc(hidden)]
    pub fn available_for_tests(self) -> bool {
        if self.is_supported() {
            return true;
        }
        if let Some(var) = self.require_variable() {
            let required = std::env::var(var).is_ok_and(|v| v == "1");
            assert!(!required, "{var}=1 but this CPU cannot run {self} kernels");
        }
        eprintln!("skipping: this CPU cannot run {self} kernels");
        false
    }

    /// `scalar`, `avx2` or `avx512`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }
}

impl fmt::Display for CpuLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
