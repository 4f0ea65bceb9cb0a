//! Decryption of ciphertexts of any length, and the noise-budget measurement (owner side).

use std::sync::Arc;

use num_bigint::BigUint;
use zeroize::Zeroize;
use num_traits::ToPrimitive;

use super::cache::DeviceCache;
use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::{SecretKey, select_limbs};
use super::{Scheme, zeroize_host};
use crate::backend::Backend;
use crate::ring::{Coeff, Ntt, PolyBatch};
use crate::Error;

/// Decrypts with a secret key whose powers it keeps on the backend (uploaded on first use per
/// level). Owner side only.
pub struct Decryptor<'a, B: Backend> {
    scheme: &'a Scheme<B>,
    sk: &'a SecretKey,
    /// `s^j` over the primes of level `l`, keyed by `(l, j)`, for those used so far.
    powers: DeviceCache<(usize, usize), B::Batch<Ntt>>,
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
        Ok(Decryptor { scheme: self, sk, powers: DeviceCache::new() })
    }
}

impl<B: Backend> Drop for Decryptor<'_, B> {
    fn drop(&mut self) {
        for power in self.powers.drain() {
            if let Ok(batch) = Arc::try_unwrap(power) {
                self.scheme.backend.wipe(batch);
            }
        }
    }
}

impl<B: Backend> Decryptor<'_, B> {
    /// `s^j` over the primes of `level`, on the device (`j ≥ 1`).
    fn secret_power(&self, level: usize, j: usize) -> Result<Arc<B::Batch<Ntt>>, Error> {
        let s = self.scheme;
        self.powers.get_or_try_insert((level, j), || {
            if j <= 1 {
                let s_host = select_limbs(self.sk.ntt(), &s.level_limbs(level))?;
                let s1 = s.upload_ntt(&s_host);
                zeroize_host(s_host);
                return s1;
            }
            let mut next = s.backend.duplicate(&s.plan, &*self.secret_power(level, j - 1)?)?;
            s.backend.mul_pointwise_assign(&s.plan, &mut next, &*self.secret_power(level, 1)?)?;
            Ok(next)
        })
    }

    /// `c₀ + c₁·s + c₂·s² + …` of every ciphertext of the batch, in coefficients, on the host.
    fn inner_products(&self, ct: &Ciphertext<B>) -> Result<PolyBatch<Coeff>, Error> {
        let s = self.scheme;
        let (be, plan) = (&s.backend, &s.plan);
        if ct.params.literal() != s.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        let mut acc = be.duplicate(plan, &ct.parts[0])?;
        for (j, part) in ct.parts.iter().enumerate().skip(1) {
            // acc += part ⊙ s^j, s^j broadcast over the batch.
            be.mul_pointwise_acc(plan, part, &*self.secret_power(ct.level, j)?, &mut acc)?;
        }
        let v = be.ntt_inverse(plan, acc)?;
        let host = be.download(plan, &v);
        be.wipe(v);
        host
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
        let factor_inv_shoup = t.shoup(factor_inv);
        let l = ct.level;
        let moduli = level.basis.moduli();
        let mut out = Vec::with_capacity(ct.count);
        // Per coefficient: y_k = [v_k·q̃_k]_{q_k}; Σ y_k/q_k (rounding estimate) and
        // Σ y_k·(Q/q_k mod t), limb by limb so the loops vectorize. Products are below 2^60, so
        // sixteen of them fit a u64 before a reduction.
        let mut frac = vec![0f64; n];
        let mut acc = vec![0u64; n];
        for p in 0..ct.count {
            let rows = v.poly(p);
            frac.iter_mut().for_each(|x| *x = 0.0);
            acc.iter_mut().for_each(|x| *x = 0);
            for k in 0..l {
                let (f, fs) = level.basis.punctured_inverse(k);
                let (m, inv_q, c) = (moduli[k], level.inv_primes[k], u64::from(level.punctured_mod_t[k]));
                for ((x, a), &r) in frac.iter_mut().zip(acc.iter_mut()).zip(&rows[k * n..(k + 1) * n]) {
                    let y = m.mul_shoup(r, f, fs);
                    *x += f64::from(y) * inv_q;
                    *a += u64::from(y) * c;
                }
                if k % 15 == 14 {
                    acc.iter_mut().for_each(|a| *a = u64::from(t.reduce_u64(*a)));
                }
            }
            let mut coeffs = vec![0u32; n];
            let mut exhausted = false;
            // −α·Q ≡ α·(t − Q mod t): with α ≤ l the sum stays below 2^36.
            let minus_q = u64::from(t.value() - level.q_mod_t);
            for ((c, &x), &a) in coeffs.iter_mut().zip(&frac).zip(&acc) {
                // Σ yₖ/qₖ ≥ 0, so truncating x + ½ rounds it (no libm call, vectorises).
                let alpha = (x + 0.5) as u64;
                exhausted |= (x - alpha as f64).abs() >= 0.25;
                let m = t.reduce_u64(u64::from(t.reduce_u64(a)) + alpha * minus_q);
                *c = t.mul_shoup(m, factor_inv, factor_inv_shoup);
            }
            if exhausted {
                frac.zeroize();
                acc.zeroize();
                coeffs.zeroize();
                zeroize_host(v);
                return Err(Error::NoiseBudgetExhausted);
            }
            out.push(Plaintext { params: params.clone(), coeffs });
        }
        frac.zeroize();
        acc.zeroize();
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

