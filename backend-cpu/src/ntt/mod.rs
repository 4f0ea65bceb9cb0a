//! NTT dispatch: one [`NttKernel`] per prime holds the scalar table and the vector layout of
//! the backend's level.

use ringvault_core::ntt::NttTable;

use crate::CpuLevel;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

/// The transforms of one `(n, q)` at one level.
#[derive(Clone, Debug)]
pub(crate) struct NttKernel {
    table: NttTable,
    level: CpuLevel,
    #[cfg(target_arch = "x86_64")]
    avx2: Option<avx2::Avx2Ntt>,
    #[cfg(target_arch = "x86_64")]
    avx512: Option<avx512::Avx512Ntt>,
}

impl NttKernel {
    /// Builds the tables `level` needs (vector layouts only where `n` is large enough).
    pub(crate) fn new(table: &NttTable, level: CpuLevel) -> Self {
        let n = table.n();
        Self {
            table: table.clone(),
            level,
            #[cfg(target_arch = "x86_64")]
            avx2: (level == CpuLevel::Avx2 && n >= avx2::Avx2Ntt::MIN_N).then(|| avx2::Avx2Ntt::new(table)),
            #[cfg(target_arch = "x86_64")]
            avx512: (level == CpuLevel::Avx512 && n >= avx512::Avx512Ntt::MIN_N).then(|| avx512::Avx512Ntt::new(table)),
        }
    }

    /// Forward NTT of one row (`[0, q)` in and out).
    pub(crate) fn forward(&self, a: &mut [u32]) {
        debug_assert_eq!(a.len(), self.table.n());
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = &self.avx512 {
                // SAFETY: built only at level Avx512, which exists only where detected.
                return unsafe { k.forward(a) };
            }
            if let Some(k) = &self.avx2 {
                // SAFETY: built only at level Avx2, which exists only where detected.
                return unsafe { k.forward(a) };
            }
        }
        let _ = self.level;
        self.table.forward(a)
    }

    /// Inverse NTT of one row (`[0, q)` in and out, `n⁻¹` included).
    pub(crate) fn inverse(&self, a: &mut [u32]) {
        debug_assert_eq!(a.len(), self.table.n());
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = &self.avx512 {
                // SAFETY: built only at level Avx512, which exists only where detected.
                return unsafe { k.inverse(a) };
            }
            if let Some(k) = &self.avx2 {
                // SAFETY: built only at level Avx2, which exists only where detected.
                return unsafe { k.inverse(a) };
            }
        }
        self.table.inverse(a)
    }
}
