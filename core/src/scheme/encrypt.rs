//! Encryption with the public key and with the secret key (seeded).

use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};

use super::cache::DeviceCache;
use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::{PublicKey, SecretKey, expand_uniform, select_limbs};
use zeroize::Zeroize;

use super::sampling::{CBD_ETA, centered_binomial, noise_rng, small_to_residue, ternary};
use super::{Scheme, zeroize_host};
use crate::backend::Backend;
use crate::ring::{BatchShape, Coeff, Ntt, PolyBatch};
use crate::Error;

/// The public key `(b, a)` on the device, restricted to one level's primes.
type DevicePublicKey<B> = (<B as Backend>::Batch<Ntt>, <B as Backend>::Batch<Ntt>);

/// Encrypts with a public key kept on the backend (uploaded once per level used). Usable by
/// anyone holding the public key.
pub struct Encryptor<'a, B: Backend> {
    scheme: &'a Scheme<B>,
    pk: &'a PublicKey,
    levels: Arc<DeviceCache<usize, DevicePublicKey<B>>>,
}

/// A public key that keeps its device forms (one per level, uploaded on first use) for every
/// encryptor made from it ([`Scheme::encryptor_sharing`]): a long-lived owner of a key, such
/// as an upload pipeline making one encryptor per task, uploads each level once.
pub struct SharedPublicKey<B: Backend> {
    pk: PublicKey,
    levels: Arc<DeviceCache<usize, DevicePublicKey<B>>>,
}

impl<B: Backend> SharedPublicKey<B> {
    /// The key.
    pub fn public_key(&self) -> &PublicKey {
        &self.pk
    }
}

impl<B: Backend> Scheme<B> {
    /// An encryptor for `pk` (uploads it once).
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`]; backend failures.
    pub fn encryptor<'a>(&'a self, pk: &'a PublicKey) -> Result<Encryptor<'a, B>, Error> {
        self.check_public_key(pk)?;
        let encryptor = Encryptor { scheme: self, pk, levels: Arc::new(DeviceCache::new()) };
        encryptor.public_key_at(self.params.max_level())?;
        Ok(encryptor)
    }

    /// `pk`, to share its device forms between encryptors ([`Self::encryptor_sharing`]).
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`].
    pub fn share_public_key(&self, pk: PublicKey) -> Result<SharedPublicKey<B>, Error> {
        self.check_public_key(&pk)?;
        Ok(SharedPublicKey { pk, levels: Arc::new(DeviceCache::new()) })
    }

    /// An encryptor for `key` that uploads only the levels no earlier encryptor of `key`
    /// uploaded (none on creation).
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`] when `key` was shared for other parameters.
    pub fn encryptor_sharing<'a>(&'a self, key: &'a SharedPublicKey<B>) -> Result<Encryptor<'a, B>, Error> {
        self.check_public_key(&key.pk)?;
        Ok(Encryptor { scheme: self, pk: &key.pk, levels: key.levels.clone() })
    }

    fn check_public_key(&self, pk: &PublicKey) -> Result<(), Error> {
        if !Arc::ptr_eq(pk.params(), &self.params) && pk.params().literal() != self.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        Ok(())
    }

    /// Residues over `limbs` of `t·e + m` for each plaintext (`n` errors per plaintext), in
    /// the coefficient domain: the message-and-noise term of an encryption.
    ///
    /// # Preconditions
    /// Every error is a centered-binomial sample, `|e| ≤ CBD_ETA` (checked in debug builds):
    /// where `21·t < q` the product `t·e` is then formed without a reduction.
    pub(crate) fn noise_and_message(&self, pts: &[&Plaintext], errors: &[i8], limbs: &[usize]) -> Result<PolyBatch<Coeff>, Error> {
        debug_assert!(errors.iter().all(|e| e.unsigned_abs() as u32 <= CBD_ETA));
        let n = self.params.n();
        let ring = self.params.ring();
        let t = self.params.plaintext().value();
        // Rows appended in order (polynomial-major, then limb), so the buffer is never zeroed.
        let mut data = self.backend.host_buffer(pts.len() * limbs.len() * n);
        for (p, pt) in pts.iter().enumerate() {
            if pt.params.literal() != self.params.literal() {
                return Err(Error::ParameterMismatch);
            }
            let errors = &errors[p * n..(p + 1) * n];
            for &l in limbs {
                let m = ring.modulus(l);
                // t < q, so the message coefficient is already a residue.
                if u64::from(t) * u64::from(CBD_ETA) < u64::from(m.value()) {
                    // |t·e| ≤ 21·t < q: t·e is a small signed value, no product mod q.
                    let t = t as i32;
                    data.extend(pt.coeffs.iter().zip(errors).map(|(&c, &x)| m.add(small_to_residue(t * i32::from(x), m), c)));
                } else {
                    let t_mod = m.reduce(t);
                    let t_shoup = m.shoup(t_mod);
                    data.extend(pt.coeffs.iter().zip(errors).map(|(&c, &x)| m.add(m.mul_shoup(small_to_residue(i32::from(x), m), t_mod, t_shoup), c)));
                }
            }
        }
        Ok(PolyBatch::from_parts_unchecked(BatchShape::new(pts.len(), n, limbs.to_vec()), data))
    }

    /// Encrypts with the secret key: `(−a·s + t·e + m, a)` with `a` expanded from a fresh
    /// 32-byte seed per ciphertext, so the ciphertext travels as `c₀` and the seed (half size).
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`]; backend failures.
    pub fn encrypt_symmetric<R: RngCore + CryptoRng>(&self, sk: &SecretKey, pts: &[&Plaintext], rng: &mut R) -> Result<Ciphertext<B>, Error> {
        let count = pts.len();
        let limbs = self.level_limbs(self.params.max_level());
        let seeds: Vec<[u8; 32]> = (0..count)
            .map(|_| {
                let mut s = [0u8; 32];
                rng.fill_bytes(&mut s);
                s
            })
            .collect();
        let a_host = expand_uniform(&self.params, &seeds, &limbs)?;
        let a = self.upload_ntt(&a_host)?;
        let s_host = select_limbs(sk.ntt(), &limbs)?;
        let s = self.upload_ntt(&s_host)?;
        zeroize_host(s_host);
        let mut c0 = self.backend.duplicate(&self.plan, &a)?;
        self.backend.mul_pointwise_assign(&self.plan, &mut c0, &s)?;
        self.backend.negate_assign(&self.plan, &mut c0)?;
        self.backend.wipe(s);
        let mut e = centered_binomial(rng, count * self.params.n());
        let w = self.noise_and_message(pts, &e, &limbs)?;
        e.zeroize();
        let w = self.backend.ntt_forward(&self.plan, self.backend.upload_owned(&self.plan, w)?)?;
        self.backend.add_assign(&self.plan, &mut c0, &w)?;
        self.backend.recycle(w);
        Ok(Ciphertext { params: self.params.clone(), parts: vec![c0, a], level: limbs.len(), factor: 1, count, seeds: Some(seeds) })
    }
}

impl<'a, B: Backend> Encryptor<'a, B> {
    /// The scheme it encrypts under.
    pub fn scheme(&self) -> &'a Scheme<B> {
        self.scheme
    }
}

impl<B: Backend> Encryptor<'_, B> {
    /// The public key over the first `level` primes, uploaded on first use.
    fn public_key_at(&self, level: usize) -> Result<Arc<DevicePublicKey<B>>, Error> {
        let s = self.scheme;
        if level == 0 || level > s.params.max_level() {
            return Err(Error::ShapeMismatch { what: "encryption level", expected: s.params.max_level(), found: level });
        }
        self.levels.get_or_try_insert(level, || {
            let limbs = s.level_limbs(level);
            Ok((s.upload_ntt(&select_limbs(&self.pk.b, &limbs)?)?, s.upload_ntt(&select_limbs(&self.pk.a, &limbs)?)?))
        })
    }

    /// Encrypts one plaintext.
    ///
    /// # Errors
    /// As [`Self::encrypt_many`].
    pub fn encrypt<R: RngCore + CryptoRng>(&self, pt: &Plaintext, rng: &mut R) -> Result<Ciphertext<B>, Error> {
        self.encrypt_many(&[pt], rng)
    }

    /// Encrypts many plaintexts as one batch: `(b·u + t·e₁ + m, a·u + t·e₂)` with `u` ternary
    /// and `e₁, e₂` centered binomial, all in one backend call per step.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`] for a plaintext of other parameters; backend failures.
    pub fn encrypt_many<R: RngCore + CryptoRng>(&self, pts: &[&Plaintext], rng: &mut R) -> Result<Ciphertext<B>, Error> {
        self.encrypt_many_at_level(pts, self.scheme.params.max_level(), rng)
    }

    /// Encrypts directly at `level` (the first `level` ciphertext primes): a smaller, faster
    /// ciphertext for circuits that need less noise budget, such as sums
    /// ([`Parameters::level_for_additions`](super::Parameters::level_for_additions)).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a level outside `1..=L`; as [`Self::encrypt_many`].
    pub fn encrypt_many_at_level<R: RngCore + CryptoRng>(&self, pts: &[&Plaintext], level: usize, rng: &mut R) -> Result<Ciphertext<B>, Error> {
        let s = self.scheme;
        let (be, plan) = (&s.backend, &s.plan);
        let n = s.params.n();
        let count = pts.len();
        let pk = self.public_key_at(level)?;
        let limbs = s.level_limbs(level);
        let rng = &mut noise_rng(rng);
        let mut u: Vec<i32> = ternary(rng, count * n).into_iter().map(i32::from).collect();
        let mut c1 = s.small_to_ntt(&u, count, &limbs)?;
        u.zeroize();
        let mut c0 = be.duplicate(plan, &c1)?;
        be.mul_pointwise_assign(plan, &mut c0, &pk.0)?;
        be.mul_pointwise_assign(plan, &mut c1, &pk.1)?;
        let mut e1 = centered_binomial(rng, count * n);
        let host = s.noise_and_message(pts, &e1, &limbs)?;
        e1.zeroize();
        let w1 = be.ntt_forward(plan, be.upload_owned(plan, host)?)?;
        be.add_assign(plan, &mut c0, &w1)?;
        let mut e2 = centered_binomial(rng, count * n);
        let zero = Plaintext::zero(&s.params);
        let zeros: Vec<&Plaintext> = vec![&zero; count];
        let host = s.noise_and_message(&zeros, &e2, &limbs)?;
        e2.zeroize();
        let w2 = be.ntt_forward(plan, be.upload_owned(plan, host)?)?;
        be.add_assign(plan, &mut c1, &w2)?;
        be.recycle(w1);
        be.recycle(w2);
        Ok(Ciphertext { params: s.params.clone(), parts: vec![c0, c1], level: limbs.len(), factor: 1, count, seeds: None })
    }
}
