//! Plaintexts and ciphertexts.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroize;

use super::params::Parameters;
use crate::backend::Backend;
use crate::ring::Ntt;
use crate::Error;

/// A plaintext polynomial: `n` coefficients modulo `t`. Zeroized on drop (a decrypted
/// plaintext is secret); its `Debug` shows no coefficient.
#[derive(Clone)]
pub struct Plaintext {
    pub(crate) params: Arc<Parameters>,
    pub(crate) coeffs: Vec<u32>,
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.coeffs.zeroize();
    }
}

impl PartialEq for Plaintext {
    fn eq(&self, other: &Self) -> bool {
        self.params.literal() == other.params.literal() && self.coeffs == other.coeffs
    }
}

impl Eq for Plaintext {}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext {{ n: {}, t: {}, .. }}", self.params.n(), self.params.plaintext().value())
    }
}

impl Plaintext {
    /// A plaintext from coefficients modulo `t` (at most `n`; missing ones are zero).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for more than `n` coefficients; [`Error::ResidueOutOfRange`] for
    /// a coefficient `≥ t`.
    pub fn new(params: &Arc<Parameters>, coeffs: &[u32]) -> Result<Self, Error> {
        let n = params.n();
        let t = params.plaintext().value();
        if coeffs.len() > n {
            return Err(Error::ShapeMismatch { what: "plaintext coefficients", expected: n, found: coeffs.len() });
        }
        if let Some(&bad) = coeffs.iter().find(|&&c| c >= t) {
            return Err(Error::ResidueOutOfRange { value: bad, q: t });
        }
        let mut v = coeffs.to_vec();
        v.resize(n, 0);
        Ok(Self { params: params.clone(), coeffs: v })
    }

    /// A plaintext from signed coefficients, reduced modulo `t`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for more than `n` coefficients.
    pub fn from_signed(params: &Arc<Parameters>, coeffs: &[i64]) -> Result<Self, Error> {
        let t = params.plaintext();
        let reduced: Vec<u32> = coeffs.iter().map(|&c| t.from_i64(c)).collect();
        Self::new(params, &reduced)
    }

    /// The zero plaintext.
    pub fn zero(params: &Arc<Parameters>) -> Self {
        Self { params: params.clone(), coeffs: vec![0; params.n()] }
    }

    /// The coefficients modulo `t`.
    pub fn coeffs(&self) -> &[u32] {
        &self.coeffs
    }

    /// The coefficients centered into `(−t/2, t/2]`.
    pub fn centered(&self) -> Vec<i64> {
        let t = self.params.plaintext();
        self.coeffs.iter().map(|&c| t.center(c)).collect()
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
}

/// `count` ciphertexts of the same length and level, held on the backend in the NTT domain.
///
/// Part `j` of every ciphertext is one backend batch of `count` polynomials over the first
/// `level` ciphertext primes, so one backend call acts on all of them. Each ciphertext
/// decrypts to `factor · m` (the factor changes with modulus switching; decryption removes
/// it). A single ciphertext is a batch with `count = 1`.
pub struct Ciphertext<B: Backend> {
    pub(crate) params: Arc<Parameters>,
    pub(crate) parts: Vec<B::Batch<Ntt>>,
    pub(crate) level: usize,
    pub(crate) factor: u32,
    pub(crate) count: usize,
    /// Seeds of `c₁` for fresh secret-key ciphertexts (one per ciphertext); dropped on any
    /// change.
    pub(crate) seeds: Option<Vec<[u8; 32]>>,
}

impl<B: Backend> fmt::Debug for Ciphertext<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ciphertext {{ count: {}, len: {}, level: {}, factor: {} }}", self.count, self.parts.len(), self.level, self.factor)
    }
}

impl<B: Backend> Ciphertext<B> {
    /// Hands the ciphertext's memory back to `backend` for reuse ([`Backend::recycle`]): for
    /// bulk work that serializes ciphertexts and drops them, so that the next ones are made
    /// in warm memory instead of freshly faulted pages. Ciphertexts are public: nothing needs
    /// wiping.
    pub fn recycle(self, backend: &B) {
        self.parts.into_iter().for_each(|p| backend.recycle(p));
    }

    /// Number of ciphertexts in the batch.
    pub fn count(&self) -> usize {
        self.count
    }
    /// Number of polynomials per ciphertext (2 when fresh or relinearized; `k + l − 1` after a
    /// product in the paper's mode).
    pub fn len(&self) -> usize {
        self.parts.len()
    }
    /// Always false: a ciphertext has at least two parts.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
    /// The level: how many ciphertext primes remain.
    pub fn level(&self) -> usize {
        self.level
    }
    /// The plaintext factor modulo `t` (1 until a modulus switch).
    pub fn factor(&self) -> u32 {
        self.factor
    }
    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
    /// Whether `c₁` is still the expansion of a seed (fresh secret-key encryption).
    pub fn is_seeded(&self) -> bool {
        self.seeds.is_some()
    }
    /// The backend batches, part by part.
    pub fn parts(&self) -> &[B::Batch<Ntt>] {
        &self.parts
    }
}
