//! The Ring-LWE scheme of Lauter–Naehrig–Vaikuntanathan 2011 (BGV-style: the message sits in
//! the low bits, `c₀ + c₁s + c₂s² + … = f·m + t·e (mod Q)` for a tracked factor `f`), in two
//! modes:
//!
//! - **somewhat homomorphic** (the paper's): multiplying ciphertexts of lengths `k` and `l`
//!   gives length `k + l − 1`; decryption handles any length;
//! - **leveled**: relinearization back to length 2 and modulus switching (dropping the last
//!   prime with rounding) to control noise; rotations of batch slots through Galois
//!   automorphisms.
//!
//! Everything is generic over the [`Backend`]: [`Scheme`] owns a backend and its plan for the
//! parameters' ring. Owner-side operations (key generation, decryption, noise measurement)
//! take a [`SecretKey`]; the server side ([`Evaluator`]) is built from [`EvaluationKeys`] only,
//! so the type system keeps a secret key out of it.
//!
//! Ciphertexts live on the backend in the NTT domain. A [`Ciphertext`] holds `count`
//! ciphertexts at once (component-major: part `j` of every ciphertext is one backend batch), so
//! every operation on many ciphertexts is one backend call per step.

mod cache;
mod ciphertext;
mod decrypt;
mod encrypt;
mod evaluator;
mod keys;
mod stack;
pub mod params;
pub mod sampling;

use std::sync::Arc;

use crate::backend::Backend;
use crate::ring::{BatchShape, Coeff, Ntt, PolyBatch};
use crate::Error;

pub use ciphertext::{Ciphertext, Plaintext};
pub use evaluator::{DeviceKeys, Evaluator, PreparedPlaintext};
pub use decrypt::Decryptor;
pub use encrypt::{Encryptor, SharedPublicKey};
pub use keys::{EvaluationKeys, GaloisElement, KeyPlan, KeySwitchKey, KeyTarget, PublicKey, SecretKey, power_of_two_rotation_elements};
pub(crate) use keys::expand_uniform;
pub use params::{MAX_PRIMES, NoiseModel, Parameters, ParametersLiteral, Preset, SecurityLevel};

/// The scheme on one backend: parameters, the backend and its plan for their ring.
pub struct Scheme<B: Backend> {
    params: Arc<Parameters>,
    backend: Arc<B>,
    plan: B::Plan,
}

impl<B: Backend> Scheme<B> {
    /// Builds the backend's plan for the parameters' ring.
    ///
    /// # Errors
    /// The backend's plan errors (for example a ring beyond its caps).
    pub fn new(backend: Arc<B>, params: Arc<Parameters>) -> Result<Self, Error> {
        let plan = backend.plan(params.ring().clone())?;
        Ok(Self { params, backend, plan })
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<Parameters> {
        &self.params
    }
    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }
    /// The backend's plan.
    pub fn plan(&self) -> &B::Plan {
        &self.plan
    }

    /// Limbs of a ciphertext at level `l`: the first `l` ciphertext primes.
    pub(crate) fn level_limbs(&self, level: usize) -> Vec<usize> {
        (0..level).collect()
    }

    /// Uploads `count` polynomials of small signed coefficients (`|x| <` every prime),
    /// `values[p·n + i]`, as residues over `limbs`, and transforms them to the NTT domain.
    pub(crate) fn small_to_ntt(&self, values: &[i32], count: usize, limbs: &[usize]) -> Result<B::Batch<Ntt>, Error> {
        let n = self.params.n();
        let ring = self.params.ring();
        // Rows appended in order (polynomial-major, then limb), so the buffer is never zeroed.
        let mut data = self.backend.host_buffer(count * limbs.len() * n);
        for p in 0..count {
            let src = &values[p * n..(p + 1) * n];
            for &l in limbs {
                let m = ring.modulus(l);
                data.extend(src.iter().map(|&x| sampling::small_to_residue(x, m)));
            }
        }
        // Small values in any limb are valid residues.
        let host = PolyBatch::<Coeff>::from_parts_unchecked(BatchShape::new(count, n, limbs.to_vec()), data);
        let device = self.backend.upload_owned(&self.plan, host)?;
        self.backend.ntt_forward(&self.plan, device)
    }

    /// Host NTT-domain residues over `limbs` uploaded as a batch.
    pub(crate) fn upload_ntt(&self, host: &PolyBatch<Ntt>) -> Result<B::Batch<Ntt>, Error> {
        self.backend.upload(&self.plan, host)
    }
}

/// Overwrites a host batch that held secret-derived values before freeing it.
pub(crate) fn zeroize_host<D: crate::ring::Domain>(mut batch: PolyBatch<D>) {
    use zeroize::Zeroize;
    batch.data_mut().zeroize();
}
