//! The server side: homomorphic operations with evaluation keys only.

use std::sync::Arc;

use super::cache::DeviceCache;
use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::{EvaluationKeys, GaloisElement, KeySwitchKey, KeyTarget, append_limbs};
use super::Scheme;
use crate::backend::Backend;
use crate::ring::{BatchShape, Coeff, HasShape, Ntt, PolyBatch};
use crate::Error;

/// One key-switching key on the device at one level: per digit of the level, `(bⱼ, aⱼ)` over
/// the level's primes and the special primes.
struct DeviceKey<B: Backend> {
    b: Vec<B::Batch<Ntt>>,
    a: Vec<B::Batch<Ntt>>,
}

/// A plaintext in the evaluation (NTT) form of one level, for multiplying many ciphertexts
/// ([`Evaluator::prepare_plaintext`], [`Evaluator::mul_prepared_assign`]) or adding it to
/// many ciphertexts of one plaintext factor ([`Evaluator::prepare_addend`],
/// [`Evaluator::add_prepared_assign`]).
pub struct PreparedPlaintext<B: Backend> {
    ntt: B::Batch<Ntt>,
    level: usize,
    /// The factor its coefficients were multiplied by (1 for a product's operand).
    factor: u32,
    plain: Plaintext,
}

impl<B: Backend> PreparedPlaintext<B> {
    /// The level it was prepared at.
    pub fn level(&self) -> usize {
        self.level
    }
}

/// A key-switching result `(u₀, u₁)`.
type SwitchedPair<B> = (<B as Backend>::Batch<Ntt>, <B as Backend>::Batch<Ntt>);

/// Evaluates homomorphic operations. Built from [`EvaluationKeys`] only, or from no keys at
/// all ([`Scheme::arithmetic`]: additions, plaintext and monomial products, modulus
/// switching): it cannot decrypt.
///
/// Every operation takes batches ([`Ciphertext`] holds `count` ciphertexts): a second operand
/// may have the same count or count 1 (then it applies to every ciphertext). Operands at
/// different levels are first switched to the lower level; different plaintext factors are
/// reconciled by a constant multiplication.
pub struct Evaluator<'a, B: Backend> {
    scheme: &'a Scheme<B>,
    /// `None` for [`Scheme::arithmetic`]: relinearization and rotations are refused.
    keys: Option<&'a EvaluationKeys>,
    /// Key-switching keys on the device, by target and level.
    device_keys: DeviceKeysRef<'a, B>,
}

/// The device form of one set of evaluation keys (key-switching keys by target and level,
/// built on first use), kept beside the keys so that evaluators built one after another
/// (a server's queries) share it instead of uploading the keys again
/// ([`Scheme::evaluator_sharing`]). Thread safe: evaluators on several threads may share it.
pub struct DeviceKeys<B: Backend> {
    cache: DeviceCache<(KeyTarget, usize), DeviceKey<B>>,
    /// The address of the keys it was first used with: another key set is refused.
    owner: std::sync::OnceLock<usize>,
}

impl<B: Backend> Default for DeviceKeys<B> {
    fn default() -> Self {
        Self { cache: DeviceCache::new(), owner: std::sync::OnceLock::new() }
    }
}

enum DeviceKeysRef<'a, B: Backend> {
    Own(DeviceKeys<B>),
    Shared(&'a DeviceKeys<B>),
}

impl<B: Backend> DeviceKeysRef<'_, B> {
    fn get(&self) -> &DeviceKeys<B> {
        match self {
            Self::Own(d) => d,
            Self::Shared(d) => d,
        }
    }
}

impl<B: Backend> Scheme<B> {
    /// An evaluator over these evaluation keys.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`] for keys of other parameters.
    pub fn evaluator<'a>(&'a self, keys: &'a EvaluationKeys) -> Result<Evaluator<'a, B>, Error> {
        if keys.params().literal() != self.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        Ok(Evaluator { scheme: self, keys: Some(keys), device_keys: DeviceKeysRef::Own(DeviceKeys::default()) })
    }

    /// An evaluator whose device form of the keys lives in `device` (kept by the caller for
    /// the keys' lifetime): the second and later evaluators over the same keys upload nothing.
    ///
    /// # Preconditions
    /// `device` is used with these `keys` only (checked: the keys' address is recorded).
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`] for keys of other parameters or a `device` cache of
    /// another key set.
    pub fn evaluator_sharing<'a>(&'a self, keys: &'a EvaluationKeys, device: &'a DeviceKeys<B>) -> Result<Evaluator<'a, B>, Error> {
        if keys.params().literal() != self.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        let address = keys as *const EvaluationKeys as usize;
        if *device.owner.get_or_init(|| address) != address {
            return Err(Error::ParameterMismatch);
        }
        Ok(Evaluator { scheme: self, keys: Some(keys), device_keys: DeviceKeysRef::Shared(device) })
    }

    /// An evaluator without keys, for circuits that never switch keys: additions, products
    /// with plaintexts and monomials, modulus switching (a device switching its fresh
    /// ciphertexts down; a server summing row-packed records). Relinearization and rotations
    /// return [`Error::MissingRelinearizationKey`] / [`Error::MissingGaloisKey`].
    pub fn arithmetic(&self) -> Evaluator<'_, B> {
        Evaluator { scheme: self, keys: None, device_keys: DeviceKeysRef::Own(DeviceKeys::default()) }
    }
}

impl<'a, B: Backend> Evaluator<'a, B> {
    fn be(&self) -> &B {
        &self.scheme.backend
    }
    fn plan(&self) -> &B::Plan {
        &self.scheme.plan
    }

    /// The scheme this evaluator runs on.
    pub fn scheme(&self) -> &'a Scheme<B> {
        self.scheme
    }

    /// A copy of a ciphertext batch on the device.
    ///
    /// # Errors
    /// Backend failures.
    pub fn duplicate(&self, ct: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        let parts = ct.parts.iter().map(|p| self.be().duplicate(self.plan(), p)).collect::<Result<Vec<_>, _>>()?;
        Ok(Ciphertext { params: ct.params.clone(), parts, level: ct.level, factor: ct.factor, count: ct.count, seeds: ct.seeds.clone() })
    }

    fn check(&self, ct: &Ciphertext<B>) -> Result<(), Error> {
        if ct.params.literal() != self.scheme.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        Ok(())
    }

    /// Brings `acc` and `other` to a common level and factor; returns `other` switched down when
    /// it had to be copied.
    /// A copy of `x` switched down to `level`, or `None` when it is already there or below.
    fn switched_to(&self, x: &Ciphertext<B>, level: usize) -> Result<Option<Ciphertext<B>>, Error> {
        if x.level <= level {
            return Ok(None);
        }
        let mut copy = self.duplicate(x)?;
        while copy.level > level {
            self.mod_switch_assign(&mut copy)?;
        }
        Ok(Some(copy))
    }

    fn align(&self, acc: &mut Ciphertext<B>, other: &Ciphertext<B>) -> Result<Option<Ciphertext<B>>, Error> {
        self.check(acc)?;
        self.check(other)?;
        while acc.level > other.level {
            self.mod_switch_assign(acc)?;
        }
        let switched = self.switched_to(other, acc.level)?;
        let factor = switched.as_ref().map_or(other.factor, |c| c.factor);
        if acc.factor != factor {
            let t = self.scheme.params.plaintext();
            let c = t.mul(factor, t.inv(acc.factor)?);
            self.mul_residue_assign(acc, c)?;
            acc.factor = factor;
        }
        Ok(switched)
    }

    fn combine(&self, acc: &mut Ciphertext<B>, other: &Ciphertext<B>, subtract: bool) -> Result<(), Error> {
        let switched = self.align(acc, other)?;
        let other = switched.as_ref().unwrap_or(other);
        for (j, part) in other.parts.iter().enumerate() {
            if j < acc.parts.len() {
                if subtract {
                    self.be().sub_assign(self.plan(), &mut acc.parts[j], part)?;
                } else {
                    self.be().add_assign(self.plan(), &mut acc.parts[j], part)?;
                }
            } else {
                let mut extra = self.be().zeros::<Ntt>(self.plan(), acc.parts[0].shape().clone())?;
                if subtract {
                    self.be().sub_assign(self.plan(), &mut extra, part)?;
                } else {
                    self.be().add_assign(self.plan(), &mut extra, part)?;
                }
                acc.parts.push(extra);
            }
        }
        acc.seeds = None;
        Ok(())
    }

    /// `acc += b`.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`]; shape errors for incompatible counts; backend failures.
    pub fn add_assign(&self, acc: &mut Ciphertext<B>, b: &Ciphertext<B>) -> Result<(), Error> {
        self.combine(acc, b, false)
    }

    /// `a + b` as a new ciphertext.
    ///
    /// # Errors
    /// As [`Self::add_assign`].
    pub fn add(&self, a: &Ciphertext<B>, b: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        let mut out = self.duplicate(a)?;
        self.add_assign(&mut out, b)?;
        Ok(out)
    }

    /// `acc −= b`.
    ///
    /// # Errors
    /// As [`Self::add_assign`].
    pub fn sub_assign(&self, acc: &mut Ciphertext<B>, b: &Ciphertext<B>) -> Result<(), Error> {
        self.combine(acc, b, true)
    }

    /// `a − b` as a new ciphertext.
    ///
    /// # Errors
    /// As [`Self::add_assign`].
    pub fn sub(&self, a: &Ciphertext<B>, b: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        let mut out = self.duplicate(a)?;
        self.sub_assign(&mut out, b)?;
        Ok(out)
    }

    /// `a = −a`.
    ///
    /// # Errors
    /// Backend failures.
    pub fn negate_assign(&self, a: &mut Ciphertext<B>) -> Result<(), Error> {
        self.check(a)?;
        for p in &mut a.parts {
            self.be().negate_assign(self.plan(), p)?;
        }
        a.seeds = None;
        Ok(())
    }

    /// Multiplies every part by the integer `c` (a residue mod `t`, lifted centered).
    fn mul_residue_assign(&self, a: &mut Ciphertext<B>, c: u32) -> Result<(), Error> {
        let t = self.scheme.params.plaintext();
        let centered = t.center(t.reduce(c));
        let ring = self.scheme.params.ring();
        let constants: Vec<u32> = (0..a.level).map(|l| ring.modulus(l).from_i64(centered)).collect();
        for p in &mut a.parts {
            self.be().mul_limb_constants_assign(self.plan(), p, &constants)?;
        }
        a.seeds = None;
        Ok(())
    }

    /// `a ·= c` for an integer constant (taken mod `t`).
    ///
    /// # Errors
    /// Backend failures.
    pub fn mul_constant_assign(&self, a: &mut Ciphertext<B>, c: i64) -> Result<(), Error> {
        self.check(a)?;
        let t = self.scheme.params.plaintext();
        self.mul_residue_assign(a, t.from_i64(c))
    }

    /// Plaintexts (one, or one per ciphertext) as an NTT batch over level `level`, each
    /// coefficient multiplied by `scale` mod `t` and lifted centered.
    fn plain_to_ntt(&self, pts: &[&Plaintext], level: usize, scale: u32) -> Result<B::Batch<Ntt>, Error> {
        let params = &self.scheme.params;
        let n = params.n();
        let t = params.plaintext();
        let ring = params.ring();
        let mut data = self.be().host_buffer(pts.len() * level * n);
        data.resize(pts.len() * level * n, 0);
        for (p, pt) in pts.iter().enumerate() {
            if pt.params.literal() != params.literal() {
                return Err(Error::ParameterMismatch);
            }
            let centered: Vec<i64> = pt.coeffs.iter().map(|&c| t.center(t.mul(c, scale))).collect();
            for l in 0..level {
                let m = ring.modulus(l);
                let row = &mut data[(p * level + l) * n..(p * level + l + 1) * n];
                for (o, &c) in row.iter_mut().zip(&centered) {
                    *o = m.from_i64(c);
                }
            }
        }
        let host = PolyBatch::<Coeff>::from_parts_unchecked(BatchShape::new(pts.len(), n, (0..level).collect()), data);
        self.be().ntt_forward(self.plan(), self.be().upload_owned(self.plan(), host)?)
    }

    fn check_plain_count(a: &Ciphertext<B>, pts: &[&Plaintext]) -> Result<(), Error> {
        if pts.len() == 1 || pts.len() == a.count {
            Ok(())
        } else {
            Err(Error::ShapeMismatch { what: "plaintexts per ciphertext batch", expected: a.count, found: pts.len() })
        }
    }

    /// `a += m` for one plaintext (applied to every ciphertext) or one per ciphertext.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for another plaintext count; [`Error::ParameterMismatch`].
    pub fn add_plain_assign(&self, a: &mut Ciphertext<B>, pts: &[&Plaintext]) -> Result<(), Error> {
        self.check(a)?;
        Self::check_plain_count(a, pts)?;
        let m = self.plain_to_ntt(pts, a.level, a.factor)?;
        self.be().add_assign(self.plan(), &mut a.parts[0], &m)?;
        a.seeds = None;
        Ok(())
    }

    /// `a ·= m` for one plaintext (applied to every ciphertext) or one per ciphertext.
    ///
    /// # Errors
    /// As [`Self::add_plain_assign`].
    pub fn mul_plain_assign(&self, a: &mut Ciphertext<B>, pts: &[&Plaintext]) -> Result<(), Error> {
        self.check(a)?;
        Self::check_plain_count(a, pts)?;
        let m = self.plain_to_ntt(pts, a.level, 1)?;
        self.mul_ntt_assign(a, &m)
    }

    fn mul_ntt_assign(&self, a: &mut Ciphertext<B>, m: &B::Batch<Ntt>) -> Result<(), Error> {
        for p in &mut a.parts {
            self.be().mul_pointwise_assign(self.plan(), p, m)?;
        }
        a.seeds = None;
        Ok(())
    }

    /// `pt` lifted and transformed once at `level` (`1 ≤ level ≤ max_level`), for
    /// [`Self::mul_prepared_assign`] on many ciphertexts: the lift and the forward NTTs that
    /// [`Self::mul_plain_assign`] repeats per call are paid once.
    ///
    /// # Errors
    /// [`Error::ParameterMismatch`] for a plaintext of other parameters;
    /// [`Error::InvalidInput`] for a level outside `1..=max_level`; backend failures.
    pub fn prepare_plaintext(&self, pt: &Plaintext, level: usize) -> Result<PreparedPlaintext<B>, Error> {
        self.prepare_addend(pt, level, 1)
    }

    /// `pt` times `factor` (mod `t`), lifted and transformed once at `level`, for
    /// [`Self::add_prepared_assign`] on many ciphertexts at that level and plaintext factor
    /// (a fresh ciphertext's factor is 1; see [`Ciphertext::factor`]).
    ///
    /// # Errors
    /// As [`Self::prepare_plaintext`].
    pub fn prepare_addend(&self, pt: &Plaintext, level: usize, factor: u32) -> Result<PreparedPlaintext<B>, Error> {
        if level == 0 || level > self.scheme.params.max_level() {
            return Err(Error::InvalidInput { what: format!("a plaintext prepared at level {level} (levels 1 to {})", self.scheme.params.max_level()) });
        }
        let factor = self.scheme.params.plaintext().reduce(factor);
        Ok(PreparedPlaintext { ntt: self.plain_to_ntt(&[pt], level, factor)?, level, factor, plain: pt.clone() })
    }

    /// `a += m` for a prepared plaintext (applied to every ciphertext of `a`): the same
    /// result as [`Self::add_plain_assign`] with `m`'s plaintext. A ciphertext at another
    /// level or factor than `m`'s is added through the plaintext (correct, not faster).
    ///
    /// # Errors
    /// As [`Self::add_plain_assign`].
    pub fn add_prepared_assign(&self, a: &mut Ciphertext<B>, m: &PreparedPlaintext<B>) -> Result<(), Error> {
        self.check(a)?;
        if m.plain.params.literal() != self.scheme.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        if a.level != m.level || a.factor != m.factor {
            return self.add_plain_assign(a, &[&m.plain]);
        }
        self.be().add_assign(self.plan(), &mut a.parts[0], &m.ntt)?;
        a.seeds = None;
        Ok(())
    }

    /// `a ·= m` for a prepared plaintext (applied to every ciphertext of `a`): the same
    /// result as [`Self::mul_plain_assign`] with `m`'s plaintext. A ciphertext at another
    /// level than `m`'s is multiplied through the plaintext (correct, not faster).
    ///
    /// # Errors
    /// As [`Self::mul_plain_assign`].
    pub fn mul_prepared_assign(&self, a: &mut Ciphertext<B>, m: &PreparedPlaintext<B>) -> Result<(), Error> {
        self.check(a)?;
        if m.plain.params.literal() != self.scheme.params.literal() {
            return Err(Error::ParameterMismatch);
        }
        if a.level != m.level || m.factor != 1 {
            return self.mul_plain_assign(a, &[&m.plain]);
        }
        self.mul_ntt_assign(a, &m.ntt)
    }

    /// `a ·= x^k` (a negacyclic coefficient rotation; `x^n = −1`), `k` taken mod `2n`.
    ///
    /// # Errors
    /// Backend failures.
    pub fn mul_monomial_assign(&self, a: &mut Ciphertext<B>, k: usize) -> Result<(), Error> {
        let params = self.scheme.params.clone();
        let n = params.n();
        let k = k % (2 * n);
        let t = params.plaintext().value();
        let mut coeffs = vec![0u32; n];
        coeffs[k % n] = if k < n { 1 } else { t - 1 };
        let mono = Plaintext::new(&params, &coeffs)?;
        self.mul_plain_assign(a, &[&mono])
    }

    /// The product in the paper's (somewhat homomorphic) mode: lengths `k` and `l` give
    /// `k + l − 1`, no relinearization. Factors multiply.
    ///
    /// # Errors
    /// Shape errors for incompatible counts; [`Error::ParameterMismatch`]; backend failures.
    pub fn mul(&self, a: &Ciphertext<B>, b: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        self.check(a)?;
        self.check(b)?;
        // Bring both to the lower level (factors stay: a product multiplies them); only the
        // operand that switches is copied.
        let level = a.level.min(b.level);
        let (sa, sb) = (self.switched_to(a, level)?, self.switched_to(b, level)?);
        let (a, b) = (sa.as_ref().unwrap_or(a), sb.as_ref().unwrap_or(b));
        // The operand with the larger count drives the shape; the other may broadcast.
        let (big, small) = if a.count >= b.count { (a, b) } else { (b, a) };
        let shape = big.parts[0].shape().clone();
        let len = a.parts.len() + b.parts.len() - 1;
        let mut parts = (0..len).map(|_| self.be().zeros::<Ntt>(self.plan(), shape.clone())).collect::<Result<Vec<_>, _>>()?;
        self.tensor_acc(big, small, &mut parts)?;
        let t = self.scheme.params.plaintext();
        Ok(Ciphertext { params: a.params.clone(), parts, level: a.level, factor: t.mul(a.factor, b.factor), count: big.count, seeds: None })
    }

    /// Relinearizes a length-3 ciphertext back to length 2 with the relinearization key.
    ///
    /// # Errors
    /// [`Error::CiphertextLength`] for another length; [`Error::MissingRelinearizationKey`];
    /// backend failures.
    pub fn relinearize_assign(&self, a: &mut Ciphertext<B>) -> Result<(), Error> {
        self.check(a)?;
        if a.parts.len() == 2 {
            return Ok(());
        }
        if a.parts.len() != 3 {
            return Err(Error::CiphertextLength { operation: "relinearize", expected: 3, found: a.parts.len() });
        }
        let key = self.keys.and_then(|k| k.relin.as_ref()).ok_or(Error::MissingRelinearizationKey)?;
        let dk = self.device_key(key, a.level)?;
        let c2 = a.parts.pop().ok_or(Error::CiphertextLength { operation: "relinearize", expected: 3, found: 0 })?;
        let (u0, u1) = self.key_switch(&c2, &dk, a.level)?;
        self.be().add_assign(self.plan(), &mut a.parts[0], &u0)?;
        self.be().add_assign(self.plan(), &mut a.parts[1], &u1)?;
        for x in [c2, u0, u1] {
            self.be().recycle(x);
        }
        Ok(())
    }

    /// `acc += a · b` without relinearizing: a sum of products pays one relinearization
    /// ([`Self::relinearize_assign`] on the sum) instead of one per product, and its
    /// key-switching noise once. `acc` is typically a first [`Self::mul`]. When the product's
    /// level, factor, count or length differ from `acc`'s, it is formed apart and added
    /// (correct, not faster).
    ///
    /// # Errors
    /// As [`Self::mul`] and [`Self::add_assign`].
    pub fn mul_add_assign(&self, acc: &mut Ciphertext<B>, a: &Ciphertext<B>, b: &Ciphertext<B>) -> Result<(), Error> {
        self.check(acc)?;
        self.check(a)?;
        self.check(b)?;
        let (big, small) = if a.count >= b.count { (a, b) } else { (b, a) };
        let t = self.scheme.params.plaintext();
        let fits = a.level == acc.level
            && b.level == acc.level
            && t.mul(a.factor, b.factor) == acc.factor
            && big.count == acc.count
            && a.parts.len() + b.parts.len() - 1 == acc.parts.len()
            && big.parts[0].shape() == acc.parts[0].shape();
        if !fits {
            let p = self.mul(a, b)?;
            return self.add_assign(acc, &p);
        }
        self.tensor_acc(big, small, &mut acc.parts)?;
        acc.seeds = None;
        Ok(())
    }

    /// `parts[i + j] += big_i · small_j` (the tensor product, pointwise in the NTT domain;
    /// `small` may broadcast). `parts` holds at least `big.len() + small.len() − 1` batches.
    fn tensor_acc(&self, big: &Ciphertext<B>, small: &Ciphertext<B>, parts: &mut [B::Batch<Ntt>]) -> Result<(), Error> {
        for (i, x) in big.parts.iter().enumerate() {
            for (j, y) in small.parts.iter().enumerate() {
                self.be().mul_pointwise_acc(self.plan(), x, y, &mut parts[i + j])?;
            }
        }
        Ok(())
    }

    /// `a · b` relinearized to length 2 (the leveled mode's product).
    ///
    /// # Errors
    /// As [`Self::mul`] and [`Self::relinearize_assign`].
    pub fn mul_relin(&self, a: &Ciphertext<B>, b: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        let mut out = self.mul(a, b)?;
        self.relinearize_assign(&mut out)?;
        Ok(out)
    }

    /// Modulus switching: divides by the last remaining ciphertext prime (with the
    /// `t`-preserving rounding of Gentry–Halevi–Smart), lowering the level by one and the noise
    /// by about that prime's size. The factor becomes `factor · q_l⁻¹ mod t`.
    ///
    /// # Errors
    /// [`Error::LevelExhausted`] at level 1; backend failures.
    pub fn mod_switch_assign(&self, a: &mut Ciphertext<B>) -> Result<(), Error> {
        self.check(a)?;
        if a.level <= 1 {
            return Err(Error::LevelExhausted);
        }
        let t = self.scheme.params.plaintext();
        let q_last = self.scheme.params.ring().modulus(a.level - 1).value();
        let parts = std::mem::take(&mut a.parts);
        for p in parts {
            a.parts.push(self.be().drop_last_limb_ntt(self.plan(), p, t.value())?);
        }
        a.level -= 1;
        a.factor = t.mul(a.factor, t.inv(t.reduce(q_last))?);
        a.seeds = None;
        Ok(())
    }

    /// Applies `x → x^k` and switches back to the secret key with the Galois key for `k`.
    ///
    /// # Errors
    /// [`Error::CiphertextLength`] unless length 2; [`Error::MissingGaloisKey`]; backend
    /// failures.
    pub fn apply_galois(&self, a: &Ciphertext<B>, k: usize) -> Result<Ciphertext<B>, Error> {
        self.check(a)?;
        if a.parts.len() != 2 {
            return Err(Error::CiphertextLength { operation: "rotation", expected: 2, found: a.parts.len() });
        }
        if k == 1 {
            return self.duplicate(a);
        }
        let key = self.keys.and_then(|keys| keys.galois.get(&k)).ok_or(Error::MissingGaloisKey { k })?;
        let dk = self.device_key(key, a.level)?;
        let shape = a.parts[0].shape().clone();
        let mut c0 = self.be().zeros::<Ntt>(self.plan(), shape.clone())?;
        let mut c1 = self.be().zeros::<Ntt>(self.plan(), shape)?;
        self.be().automorphism_into(self.plan(), &a.parts[0], k, &mut c0)?;
        self.be().automorphism_into(self.plan(), &a.parts[1], k, &mut c1)?;
        let (u0, u1) = self.key_switch(&c1, &dk, a.level)?;
        self.be().add_assign(self.plan(), &mut c0, &u0)?;
        self.be().recycle(c1);
        self.be().recycle(u0);
        Ok(Ciphertext { params: a.params.clone(), parts: vec![c0, u1], level: a.level, factor: a.factor, count: a.count, seeds: None })
    }

    /// Rotates both rows of batch slots left by `steps` (right when negative).
    ///
    /// # Errors
    /// As [`Self::apply_galois`].
    pub fn rotate_rows(&self, a: &Ciphertext<B>, steps: isize) -> Result<Ciphertext<B>, Error> {
        self.apply_galois(a, GaloisElement::row_rotation(self.scheme.params.n(), steps))
    }

    /// Swaps the two rows of batch slots.
    ///
    /// # Errors
    /// As [`Self::apply_galois`].
    pub fn rotate_columns(&self, a: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        self.apply_galois(a, GaloisElement::column_swap(self.scheme.params.n()))
    }

    /// Every slot becomes the sum of all `n` slots: `log₂(n/2)` row rotations by powers of two
    /// and one column swap, each followed by an addition. Needs the keys of
    /// [`Scheme::power_of_two_rotation_elements`].
    ///
    /// # Errors
    /// As [`Self::apply_galois`].
    pub fn sum_slots(&self, a: &Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
        let n = self.scheme.params.n();
        let mut acc = self.duplicate(a)?;
        let mut step = 1;
        while step < n / 2 {
            let r = self.rotate_rows(&acc, step as isize)?;
            self.add_assign(&mut acc, &r)?;
            step *= 2;
        }
        let r = self.rotate_columns(&acc)?;
        self.add_assign(&mut acc, &r)?;
        Ok(acc)
    }

    /// The device copy of a key-switching key at `level`, uploaded on first use: one batch per
    /// digit, the level's primes and the special primes, copied once from the key's rows into
    /// the backend's (recycled) host buffers.
    ///
    /// # Errors
    /// [`Error::KeyLevelNotCovered`] above the key's levels; backend failures.
    fn device_key(&self, key: &KeySwitchKey, level: usize) -> Result<Arc<DeviceKey<B>>, Error> {
        if level > key.levels {
            return Err(Error::KeyLevelNotCovered { level, covered: key.levels });
        }
        self.device_keys.get().cache.get_or_try_insert((key.target, level), || {
            let limbs = self.scheme.params.key_limbs(level);
            let count = self.scheme.params.digit_count(level);
            let digits = |full: &PolyBatch<Ntt>| -> Result<Vec<B::Batch<Ntt>>, Error> {
                let n = full.shape_ref().n;
                (0..count)
                    .map(|i| {
                        let mut data = self.be().host_buffer(limbs.len() * n);
                        append_limbs(full, i, &limbs, &mut data)?;
                        self.be().upload_owned(self.plan(), PolyBatch::<Ntt>::from_parts_unchecked(BatchShape::new(1, n, limbs.clone()), data))
                    })
                    .collect()
            };
            Ok(DeviceKey { b: digits(&key.b)?, a: digits(&key.a)? })
        })
    }

    /// Key switching of `c` (count `m`, level `l`): returns `(u₀, u₁)` with
    /// `u₀ + u₁·s ≈ c·s'` where the key switches `s'` to `s`.
    ///
    /// Digits are the residues of `c` over runs of `α` primes ([`Parameters::digits`]),
    /// extended to the level's primes and the special primes, multiplied with the key and
    /// summed; the sum is divided by `P` with the `t`-preserving rounding (one prime dropped
    /// with a centered lift when `P` is one prime, else all at once:
    /// [`crate::rns::SpecialDivision`]).
    ///
    /// [`Parameters::digits`]: crate::scheme::Parameters::digits
    fn key_switch(&self, c: &B::Batch<Ntt>, key: &DeviceKey<B>, level: usize) -> Result<SwitchedPair<B>, Error> {
        let (be, plan) = (self.be(), self.plan());
        let params = &self.scheme.params;
        let digits = params.digits(level)?;
        let coeff = be.ntt_inverse(plan, be.duplicate(plan, c)?)?;
        let kb: Vec<&B::Batch<Ntt>> = key.b.iter().collect();
        let ka: Vec<&B::Batch<Ntt>> = key.a.iter().collect();
        let (acc0, acc1) = be.key_switch_inner(plan, &coeff, c, digits, &kb, &ka)?;
        be.recycle(coeff);
        let t = params.plaintext().value();
        let special = params.special_limbs();
        let mod_down = |acc: B::Batch<Ntt>| -> Result<B::Batch<Ntt>, Error> {
            if special.len() == 1 {
                be.drop_last_limb_ntt(plan, acc, t)
            } else {
                be.divide_by_special_ntt(plan, params.ring(), acc, &special, params.special_division(level)?)
            }
        };
        Ok((mod_down(acc0)?, mod_down(acc1)?))
    }
}
