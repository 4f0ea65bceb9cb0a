//! AVX2 negacyclic NTT (8 × u32 lanes). PLACEHOLDER: forwards to the scalar reference
//! until the vector kernels land.

use ringvault_core::ntt::NttTable;

/// Twiddle tables laid out for the AVX2 kernels of one `(n, q)`.
#[derive(Clone, Debug)]
pub(crate) struct Avx2Ntt {
    table: NttTable,
}

impl Avx2Ntt {
    /// Smallest `n` these kernels handle; the dispatcher uses the scalar path below it.
    pub(crate) const MIN_N: usize = 32;

    pub(crate) fn new(table: &NttTable) -> Self {
        Self { table: table.clone() }
    }

    /// Forward NTT, same output as [`NttTable::forward`].
    ///
    /// Calling it is `unsafe` only because of `target_feature`: the CPU must have the
    /// features.
    ///
    /// # Preconditions
    /// The CPU supports AVX2; `a.len() == n ≥ MIN_N`; every `a[i] < q`.
    #[target_feature(enable = "avx2")]
    pub(crate) fn forward(&self, a: &mut [u32]) {
        self.table.forward(a);
    }

    /// Inverse NTT, same output as [`NttTable::inverse`].
    ///
    /// # Preconditions
    /// As [`Self::forward`].
    #[target_feature(enable = "avx2")]
    pub(crate) fn inverse(&self, a: &mut [u32]) {
        self.table.inverse(a);
    }
}
