//! Decryption of ciphertexts of any length, and the noise-budget measurement (owner side).

use num_bigint::BigUint;
use num_traits::ToPrimitive;

use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::{SecretKey, select_limbs};
use super::{Scheme, zeroize_host};
use crate::backend::Backend;
use crate::ring::{Coeff, PolyBatch};
use crate::Error;

/// Decrypts with a secret key whose powers it keeps on the backend. Owner side only.
pub struct Decryptor<'a, B: Backend> {
    scheme: &'a Scheme<B>,
    sk: &'a SecretKey,
}

impl<B: Backend> Scheme<B> {
    /// A decryptor for `sk`.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`].
    pub fn decryptor<'a>(&'a self, sk: &'a SecretKey) -> Result<Decryptor<'a, B>, Error> {
        if sk.params().literal() != self.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        Ok(Decryptor { scheme: self, sk })
    }
}

impl<B: Backend> Decryptor<'_, B> {
    /// `c₀ + c₁·s + c₂·s² + …` of every ciphertext of the batch, in coefficients, on the host.
    fn inner_products(&self, ct: &Ciphertext<B>) -> Result<PolyBatch<Coeff>, Error> {
        let s = self.scheme;
        let (be, plan) = (&s.backend, &s.plan);
        if ct.params.literal() != s.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        let limbs = s.level_limbs(ct.level);
        let s_host = select_limbs(self.sk.ntt(), &limbs)?;
        let s1 = s.upload_ntt(&s_host)?;
        zeroize_host(s_host);
        let mut acc = be.duplicate(plan, &ct.parts[0])?;
        let mut power = be.duplicate(plan, &s1)?;
        for (j, part) in ct.parts.iter().enumerate().skip(1) {
            if j > 1 {
                be.mul_pointwise_assign(plan, &mut power, &s1)?;
            }
            // acc += part ⊙ s^j, s^j broadcast over the batch.
            be.mul_pointwise_acc(plan, part, &power, &mut acc)?;
        }
        be.download(plan, &be.ntt_inverse(plan, acc)?)
    }

    /// Decrypts one ciphertext (the first of the batch).
    ///
    /// # Errors
    /// As [`Self::decrypt_many`].
    pub fn decrypt(&self, ct: &Ciphertext<B>) -> Result<Plaintext, Error> {
        self.decrypt_many(ct)?.into_iter().next().ok_or(Error::ShapeMismatch { what: "ciphertexts", expected: 1, found: 0 })
    }

    /// Decrypts every ciphertext of a batch.
    ///
    /// For each coefficient, `v = [c₀ + c₁s + …]_Q` is recovered in its centered form from the
    /// residues by the rounding of fast basis conversion (`α = ⌊Σ yᵢ/qᵢ⌉`, exact while
    /// `|v| < Q/4`), then reduced mod `t` and multiplied by the ciphertext's factor⁻¹.
    ///
    /// # Errors
    /// [`Error::NoiseBudgetExhausted`] when some coefficient has `|v| ≥ Q/4` (less than one bit
    /// of budget left): the noise may have wrapped, so no value is returned.
    /// [`Error::ParameterMismatch`]; backend failures.
    pub fn decrypt_many(&self, ct: &Ciphertext<B>) -> Result<Vec<Plaintext>, Error> {
        let params = &self.scheme.params;
        let v = self.inner_products(ct)?;
        let n = params.n();
        let level = params.level(ct.level);
        let t = params.plaintext();
        let factor_inv = t.inv(ct.factor)?;
        let l = ct.level;
        let moduli = level.basis.moduli();
        let mut out = Vec::with_capacity(ct.count);
        let mut y = vec![0u32; l];
        for p in 0..ct.count {
            let rows = v.poly(p);
            let mut coeffs = vec![0u32; n];
            for (i, c) in coeffs.iter_mut().enumerate() {
                let mut frac_sum = 0.0f64;
                for (k, yk) in y.iter_mut().enumerate() {
                    let (f, fs) = level.basis.punctured_inverse(k);
                    *yk = moduli[k].mul_shoup(rows[k * n + i], f, fs);
                    frac_sum += f64::from(*yk) * level.inv_primes[k];
                }
                let alpha = frac_sum.round();
                if (frac_sum - alpha).abs() >= 0.25 {
                    zeroize_host(v);
                    return Err(Error::NoiseBudgetExhausted);
                }
                let mut acc = 0u32;
                for (k, &yk) in y.iter().enumerate() {
                    acc = t.add(acc, t.reduce_u64(u64::from(yk) * u64::from(level.punctured_mod_t[k])));
                }
                let correction = t.reduce_u64(alpha as u64 * u64::from(level.q_mod_t));
                *c = t.mul(t.sub(acc, correction), factor_inv);
            }
            out.push(Plaintext { params: params.clone(), coeffs });
        }
        zeroize_host(v);
        Ok(out)
    }

    /// The remaining noise budget in bits of each ciphertext of the batch: `log₂(Q/2) −
    /// log₂ ‖c₀ + c₁s + …‖∞`, computed exactly with big integers. Decryption succeeds while it
    /// is at least 1. An owner-side diagnostic.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`]; backend failures.
    pub fn noise_budget(&self, ct: &Ciphertext<B>) -> Result<Vec<f64>, Error> {
        let params = &self.scheme.params;
        let v = self.inner_products(ct)?;
        let n = params.n();
        let basis = &params.level(ct.level).basis;
        let q = basis.product();
        let half = q >> 1u32;
        let log_half = params.level(ct.level).log_q - 1.0;
        let mut budgets = Vec::with_capacity(ct.count);
        let l = ct.level;
        let mut residues = vec![0u32; l];
        for p in 0..ct.count {
            let rows = v.poly(p);
            let mut max = BigUint::default();
            for i in 0..n {
                for (k, r) in residues.iter_mut().enumerate() {
                    *r = rows[k * n + i];
                }
                let x = basis.reconstruct(&residues)?;
                let centered = if x > half { q - &x } else { x };
                if centered > max {
                    max = centered;
                }
            }
            let bits = if max.bits() == 0 { 0.0 } else { log2_big(&max) };
            budgets.push((log_half - bits).max(0.0));
        }
        zeroize_host(v);
        Ok(budgets)
    }
}

/// `log₂ x` of a big integer.
fn log2_big(x: &BigUint) -> f64 {
    let bits = x.bits();
    if bits <= 53 {
        return x.to_f64().unwrap_or(0.0).log2();
    }
    let shift = bits - 53;
    (x >> shift).to_f64().unwrap_or(1.0).log2() + shift as f64
}

