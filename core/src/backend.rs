//! The `Backend` trait: what the scheme spends its time on, behind one interface that the CPU
//! (scalar, AVX2, AVX-512) and GPU backends implement.
//!
//! A backend owns device-resident batches ([`Backend::Batch`]) and per-ring precomputation
//! ([`Backend::Plan`]). Only [`Backend::upload`] and [`Backend::download`] cross the host/device
//! boundary. Every operation acts on a whole batch and returns `Result`. Outputs are fully
//! reduced (`< q`) unless the name says `_lazy`.
//!
//! # Shape rules, the same for every backend (checked by [`checks`])
//! - Element-wise ops need equal limb lists. A second operand `b` may have the same `count` as
//!   the output or `count == 1`, in which case it is broadcast to every polynomial (a key or a
//!   plaintext applied to many ciphertexts).
//! - The trait is deliberately not object-safe: dispatch happens once per batch call.

use std::sync::Arc;

use crate::Error;
use crate::ring::{BatchShape, Coeff, Domain, HasShape, Ntt, PolyBatch, RingContext};
use crate::rns::{BasisConversion, DigitDecomposition, SpecialDivision};

/// What a backend can hold and compute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Largest number of residues in one batch.
    pub max_batch_residues: usize,
    /// Residues per batch polynomial part beyond which batching gains nothing: a caller with
    /// many independent ciphertexts to make (bulk encryption) makes them in batches of at
    /// most this many residues per part. The CPU: what its caches hold (a batch larger than
    /// the cache makes every pass a trip to memory); the GPU: no bound.
    pub efficient_batch_residues: usize,
    /// Widest supported modulus, in bits.
    pub max_modulus_bits: u32,
    /// Largest ring degree.
    pub max_degree: usize,
}

/// A compute backend. See the module docs for the contract.
pub trait Backend: Send + Sync {
    /// Per-ring precomputation (twiddles, constants), built once by [`Backend::plan`].
    type Plan: AsRef<RingContext> + Send + Sync;
    /// A device-resident batch in domain `D`.
    type Batch<D: Domain>: HasShape + Send + Sync;

    /// A short name with the level, e.g. `cpu-avx512`.
    fn name(&self) -> String;

    /// The backend's limits.
    fn caps(&self) -> Caps;

    /// Builds the plan for a ring, checking it against [`Backend::caps`].
    ///
    /// # Errors
    /// A modulus or degree beyond the caps; device failures.
    fn plan(&self, ring: Arc<RingContext>) -> Result<Self::Plan, Error>;

    /// Copies a host batch to the device.
    ///
    /// # Errors
    /// A shape not of this plan's ring; device failures.
    fn upload<D: Domain>(&self, plan: &Self::Plan, host: &PolyBatch<D>) -> Result<Self::Batch<D>, Error>;

    /// Moves a host batch to the device; backends whose device memory is host memory take the
    /// buffer without copying (the default copies).
    ///
    /// # Errors
    /// As [`Backend::upload`].
    fn upload_owned<D: Domain>(&self, plan: &Self::Plan, host: PolyBatch<D>) -> Result<Self::Batch<D>, Error> {
        self.upload(plan, &host)
    }

    /// An empty host buffer with room for `len` residues, to fill and pass to
    /// [`Backend::upload_owned`] (the CPU backend hands out recycled memory).
    fn host_buffer(&self, len: usize) -> Vec<u32> {
        Vec::with_capacity(len)
    }

    /// Copies a batch back to the host (the only synchronisation point).
    ///
    /// # Errors
    /// Device failures.
    fn download<D: Domain>(&self, plan: &Self::Plan, batch: &Self::Batch<D>) -> Result<PolyBatch<D>, Error>;

    /// Calls `read` with the batch's residues on the host: what [`Backend::download`] returns,
    /// lent rather than copied where device memory is host memory (the CPU backend). For
    /// readers that only look (serialization). The default downloads.
    ///
    /// # Errors
    /// As [`Backend::download`].
    fn read_host<D: Domain, R>(&self, plan: &Self::Plan, batch: &Self::Batch<D>, read: impl FnOnce(&PolyBatch<D>) -> R) -> Result<R, Error> {
        Ok(read(&self.download(plan, batch)?))
    }

    /// Waits until every operation submitted so far has finished. Operations may run
    /// asynchronously (the GPU records and submits without waiting); results are always
    /// correct without this call, since [`Backend::download`] waits. Benchmarks call it to end
    /// a timed section. The default (synchronous backends) returns at once.
    ///
    /// # Errors
    /// Device failures (a lost device).
    fn synchronize(&self) -> Result<(), Error> {
        Ok(())
    }

    /// A batch of zeros on the device.
    ///
    /// # Errors
    /// A shape not of this plan's ring or beyond the caps; device failures.
    fn zeros<D: Domain>(&self, plan: &Self::Plan, shape: BatchShape) -> Result<Self::Batch<D>, Error>;

    /// A copy of a batch on the device.
    ///
    /// # Errors
    /// Device failures.
    fn duplicate<D: Domain>(&self, plan: &Self::Plan, a: &Self::Batch<D>) -> Result<Self::Batch<D>, Error>;

    /// Forward negacyclic NTT of every row ([`crate::ntt`] defines the output order).
    ///
    /// # Errors
    /// Device failures.
    fn ntt_forward(&self, plan: &Self::Plan, a: Self::Batch<Coeff>) -> Result<Self::Batch<Ntt>, Error>;

    /// Inverse NTT of every row, including the `n⁻¹` scaling.
    ///
    /// # Errors
    /// Device failures.
    fn ntt_inverse(&self, plan: &Self::Plan, a: Self::Batch<Ntt>) -> Result<Self::Batch<Coeff>, Error>;

    /// `acc += b` (b broadcast if `b.count == 1`).
    ///
    /// # Errors
    /// Shape errors of [`checks::elementwise`]; device failures.
    fn add_assign<D: Domain>(&self, plan: &Self::Plan, acc: &mut Self::Batch<D>, b: &Self::Batch<D>) -> Result<(), Error>;

    /// `acc −= b` (b broadcast if `b.count == 1`).
    ///
    /// # Errors
    /// As [`Backend::add_assign`].
    fn sub_assign<D: Domain>(&self, plan: &Self::Plan, acc: &mut Self::Batch<D>, b: &Self::Batch<D>) -> Result<(), Error>;

    /// `a = −a`.
    ///
    /// # Errors
    /// Device failures.
    fn negate_assign<D: Domain>(&self, plan: &Self::Plan, a: &mut Self::Batch<D>) -> Result<(), Error>;

    /// Pointwise product `acc ⊙= b` in the NTT domain (b broadcast if `b.count == 1`).
    ///
    /// # Errors
    /// As [`Backend::add_assign`].
    fn mul_pointwise_assign(&self, plan: &Self::Plan, acc: &mut Self::Batch<Ntt>, b: &Self::Batch<Ntt>) -> Result<(), Error>;

    /// Multiply-accumulate `acc += a ⊙ b` (b broadcast if `b.count == 1`; `a` has `acc`'s
    /// shape).
    ///
    /// # Errors
    /// As [`Backend::add_assign`].
    fn mul_pointwise_acc(&self, plan: &Self::Plan, a: &Self::Batch<Ntt>, b: &Self::Batch<Ntt>, acc: &mut Self::Batch<Ntt>) -> Result<(), Error>;

    /// The inner products of key switching: with `Dⱼ` the RNS digit `j` of every polynomial
    /// (the rows `digits.digits()[j].rows` of `coeff`, extended to `digits.out_limbs()` — a
    /// plain reduction for one prime, the digit's fast basis conversion for more — and
    /// transformed forward), returns `(Σⱼ Dⱼ ⊙ keys_b[j], Σⱼ Dⱼ ⊙ keys_a[j])` over the output
    /// limbs. There is one key part per digit; each has the output's limbs and count 1
    /// (broadcast) or the output's count.
    ///
    /// `ntt` must be the forward transform of `coeff`: where the output names one of a digit's
    /// own primes, that row of `Dⱼ` is `ntt`'s, and backends may take it instead of extending
    /// and transforming it again. The default composes [`Backend::reduce_limb_into`] or
    /// [`Backend::convert_basis_into`], [`Backend::ntt_forward`] and
    /// [`Backend::mul_pointwise_acc`]; backends fuse it (digits of one output row stay in
    /// cache, products are summed lazily and reduced once:
    /// [`crate::ring::kernels::mul_dot_row`]). The result is the same.
    ///
    /// # Errors
    /// Shape errors of [`checks::key_switch_inner`]; device failures.
    #[allow(clippy::type_complexity, reason = "a pair of the trait's own batch type")]
    fn key_switch_inner(
        &self,
        plan: &Self::Plan,
        coeff: &Self::Batch<Coeff>,
        ntt: &Self::Batch<Ntt>,
        digits: &DigitDecomposition,
        keys_b: &[&Self::Batch<Ntt>],
        keys_a: &[&Self::Batch<Ntt>],
    ) -> Result<(Self::Batch<Ntt>, Self::Batch<Ntt>), Error> {
        let shape = checks::key_switch_inner(coeff.shape(), ntt.shape(), digits, keys_b, keys_a)?;
        let mut acc_b = self.zeros::<Ntt>(plan, shape.clone())?;
        let mut acc_a = self.zeros::<Ntt>(plan, shape.clone())?;
        for ((d, kb), ka) in digits.digits().iter().zip(keys_b).zip(keys_a) {
            let mut digit = self.zeros::<Coeff>(plan, shape.clone())?;
            match &d.to_all {
                None => self.reduce_limb_into(plan, coeff, d.rows.start, &mut digit)?,
                Some(conv) => self.convert_basis_into(plan, conv, coeff, d.rows.start, &mut digit)?,
            }
            let digit = self.ntt_forward(plan, digit)?;
            self.mul_pointwise_acc(plan, &digit, kb, &mut acc_b)?;
            self.mul_pointwise_acc(plan, &digit, ka, &mut acc_a)?;
            self.recycle(digit);
        }
        Ok((acc_b, acc_a))
    }

    /// Multiplies limb `l` of every polynomial by `constants[l]` (each `< ` its prime).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `constants.len()` is not the limb count;
    /// [`Error::ResidueOutOfRange`] for a constant not below its prime; device failures.
    fn mul_limb_constants_assign<D: Domain>(&self, plan: &Self::Plan, a: &mut Self::Batch<D>, constants: &[u32]) -> Result<(), Error>;

    /// Basis extension of one limb: for every polynomial, limb `limb` of `a` (values `< q_limb`)
    /// reduced modulo each prime of `out`'s limbs. The digit step of key switching.
    ///
    /// # Errors
    /// Shape errors of [`checks::reduce_limb`]; device failures.
    fn reduce_limb_into(&self, plan: &Self::Plan, a: &Self::Batch<Coeff>, limb: usize, out: &mut Self::Batch<Coeff>) -> Result<(), Error>;

    /// Fast basis conversion ([`crate::rns`]) of every polynomial from the rows
    /// `first_row .. first_row + |conv.from()|` of `a`, which must be over `conv.from()`'s
    /// primes, to `out`, which must be over `conv.to()`.
    ///
    /// # Errors
    /// Shape errors of [`checks::convert_basis`]; device failures.
    fn convert_basis_into(&self, plan: &Self::Plan, conv: &BasisConversion, a: &Self::Batch<Coeff>, first_row: usize, out: &mut Self::Batch<Coeff>) -> Result<(), Error>;

    /// Modulus switching: drops the last limb of every polynomial, dividing by its prime with
    /// the rounding of [`crate::ring::kernels::drop_last_limb_poly`] (`t = 1`: plain rounding).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a one-limb batch; [`Error::NotInvertible`] if `t` shares a
    /// factor with the dropped prime; device failures.
    fn drop_last_limb(&self, plan: &Self::Plan, a: Self::Batch<Coeff>, t: u32) -> Result<Self::Batch<Coeff>, Error>;

    /// Modulus switching of an NTT-domain batch: the same result as
    /// [`Backend::ntt_inverse`], [`Backend::drop_last_limb`], [`Backend::ntt_forward`], which is
    /// this default. Backends override it to transform only the dropped limb back and the
    /// correction forward (one inverse NTT instead of `L`).
    ///
    /// # Errors
    /// As [`Backend::drop_last_limb`].
    fn drop_last_limb_ntt(&self, plan: &Self::Plan, a: Self::Batch<Ntt>, t: u32) -> Result<Self::Batch<Ntt>, Error> {
        let coeff = self.ntt_inverse(plan, a)?;
        let dropped = self.drop_last_limb(plan, coeff, t)?;
        self.ntt_forward(plan, dropped)
    }

    /// The division by the special modulus `P` that ends a key switch with `K ≥ 2` special
    /// primes, all at once ([`crate::rns::SpecialDivision`]; the reference is
    /// [`crate::ring::kernels::divide_by_special_poly`]): `a` is over the level's primes
    /// `0..l` followed by the special primes `special` (NTT domain) of `ring` (the plan's);
    /// the result is over `0..l`. The default computes the reference on the host (download,
    /// compute, upload); backends override it. The result is the same.
    ///
    /// # Errors
    /// Shape errors of [`checks::special_division`]; device failures.
    fn divide_by_special_ntt(&self, plan: &Self::Plan, ring: &RingContext, a: Self::Batch<Ntt>, special: &[usize], div: &SpecialDivision) -> Result<Self::Batch<Ntt>, Error> {
        let host = self.download(plan, &a)?;
        let shape = checks::special_division(host.shape_ref(), special, div)?;
        self.recycle(a);
        let (n, width) = (shape.n, host.shape_ref().limbs.len());
        let mut out = vec![0u32; shape.len()];
        for (p, poly) in out.chunks_exact_mut(div.level() * n).enumerate() {
            crate::ring::kernels::divide_by_special_poly(ring, special, div, &host.data()[p * width * n..(p + 1) * width * n], poly, n);
        }
        self.upload_owned(plan, PolyBatch::from_reduced(ring, shape, out)?)
    }

    /// Hands a batch that is no longer needed back to the backend, which may reuse its memory
    /// (the default drops it).
    fn recycle<D: Domain>(&self, batch: Self::Batch<D>) {
        drop(batch);
    }

    /// The same residues typed as domain `E`: no data moves, and the values mean nothing in
    /// the new domain. For benchmarks that apply a transform repeatedly to its own output.
    fn relabel<D: Domain, E: Domain>(&self, batch: Self::Batch<D>) -> Self::Batch<E>;

    /// Overwrites a batch that held secret-derived values (the secret key, its powers, keygen
    /// scratch) and releases it. Every backend must implement it: device memory is reused.
    fn wipe<D: Domain>(&self, batch: Self::Batch<D>);

    /// The Galois automorphism `x → x^k` (`k` odd, `< 2n`) of every row, in either domain.
    ///
    /// # Errors
    /// [`Error::InvalidGaloisElement`]; shape errors of [`checks::same_shape`]; device failures.
    fn automorphism_into<D: Domain>(&self, plan: &Self::Plan, a: &Self::Batch<D>, k: usize, out: &mut Self::Batch<D>) -> Result<(), Error>;
}

/// The shape checks of every op, shared so that all backends reject the same inputs.
pub mod checks {
    use super::*;

    /// `a` and `b` have the same limbs and degree.
    ///
    /// # Errors
    /// [`Error::LimbMismatch`] or [`Error::ShapeMismatch`].
    pub fn same_limbs(a: &BatchShape, b: &BatchShape) -> Result<(), Error> {
        if a.n != b.n {
            return Err(Error::ShapeMismatch { what: "ring degree", expected: a.n, found: b.n });
        }
        if a.limbs != b.limbs {
            return Err(Error::LimbMismatch { expected: a.limbs.clone(), found: b.limbs.clone() });
        }
        Ok(())
    }

    /// `a` and `b` have identical shapes.
    ///
    /// # Errors
    /// As [`same_limbs`], or a count mismatch.
    pub fn same_shape(a: &BatchShape, b: &BatchShape) -> Result<(), Error> {
        same_limbs(a, b)?;
        if a.count != b.count {
            return Err(Error::ShapeMismatch { what: "polynomial count", expected: a.count, found: b.count });
        }
        Ok(())
    }

    /// `b` can be combined element-wise into `acc`: same limbs, and `b.count` equal to
    /// `acc.count` or 1. Returns true when `b` is broadcast.
    ///
    /// # Errors
    /// As [`same_limbs`], or a count mismatch.
    pub fn elementwise(acc: &BatchShape, b: &BatchShape) -> Result<bool, Error> {
        same_limbs(acc, b)?;
        if b.count == acc.count {
            Ok(false)
        } else if b.count == 1 {
            Ok(true)
        } else {
            Err(Error::ShapeMismatch { what: "polynomial count", expected: acc.count, found: b.count })
        }
    }

    /// The operands of [`Backend::key_switch_inner`]: `coeff` and `ntt` of one shape; the
    /// digits' rows within `coeff`'s (whose limbs must be `0..L`, the ciphertext primes of a
    /// level) and the output's first limbs too; one `b` and one `a` part per digit; every part combinable element-wise into the
    /// output (`coeff`'s count and degree over the digits' output limbs; count 1 or the
    /// output's count, same limbs). Returns the output's shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::LimbMismatch`].
    pub fn key_switch_inner<T: HasShape>(coeff: &BatchShape, ntt: &BatchShape, digits: &DigitDecomposition, b: &[&T], a: &[&T]) -> Result<BatchShape, Error> {
        let out = BatchShape::new(coeff.count, coeff.n, digits.out_limbs().to_vec());
        same_shape(coeff, ntt)?;
        if a.len() != b.len() || b.len() != digits.digits().len() {
            return Err(Error::ShapeMismatch { what: "key parts (one b and one a per digit)", expected: digits.digits().len(), found: b.len().min(a.len()) });
        }
        let level: Vec<usize> = (0..coeff.limbs.len()).collect();
        if coeff.limbs != level {
            return Err(Error::LimbMismatch { expected: level, found: coeff.limbs.clone() });
        }
        if digits.out_limbs().get(..level.len()) != Some(&level[..]) {
            return Err(Error::LimbMismatch { expected: level, found: digits.out_limbs().to_vec() });
        }
        if let Some(d) = digits.digits().iter().find(|d| d.rows.end > coeff.limbs.len() || d.rows.is_empty()) {
            return Err(Error::LimbOutOfRange { limb: d.rows.end, primes: coeff.limbs.len() });
        }
        reduce_limb(coeff, 0, &out)?;
        for s in b.iter().chain(a) {
            elementwise(&out, s.shape())?;
        }
        Ok(out)
    }

    /// `constants` has one value per limb, each below its prime.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::ResidueOutOfRange`].
    pub fn limb_constants(ring: &RingContext, a: &BatchShape, constants: &[u32]) -> Result<(), Error> {
        if constants.len() != a.limbs.len() {
            return Err(Error::ShapeMismatch { what: "limb constants", expected: a.limbs.len(), found: constants.len() });
        }
        for (&c, &l) in constants.iter().zip(&a.limbs) {
            let q = ring.modulus(l).value();
            if c >= q {
                return Err(Error::ResidueOutOfRange { value: c, q });
            }
        }
        Ok(())
    }

    /// `limb` exists in `a`, and `out` has `a`'s count and degree.
    ///
    /// # Errors
    /// [`Error::LimbOutOfRange`], [`Error::ShapeMismatch`].
    pub fn reduce_limb(a: &BatchShape, limb: usize, out: &BatchShape) -> Result<(), Error> {
        if limb >= a.limbs.len() {
            return Err(Error::LimbOutOfRange { limb, primes: a.limbs.len() });
        }
        if a.n != out.n {
            return Err(Error::ShapeMismatch { what: "ring degree", expected: a.n, found: out.n });
        }
        if a.count != out.count {
            return Err(Error::ShapeMismatch { what: "polynomial count", expected: a.count, found: out.count });
        }
        Ok(())
    }

    /// `a`'s rows `first_row ..` are over `conv.from()`, `out` over `conv.to()`, same count
    /// and degree.
    ///
    /// # Errors
    /// [`Error::LimbMismatch`], [`Error::ShapeMismatch`], [`Error::LimbOutOfRange`].
    pub fn convert_basis(ring: &RingContext, conv: &BasisConversion, a: &BatchShape, first_row: usize, out: &BatchShape) -> Result<(), Error> {
        let primes = |limbs: &[usize]| limbs.iter().map(|&l| ring.modulus(l).value() as usize).collect::<Vec<_>>();
        let want_from: Vec<usize> = conv.from().moduli().iter().map(|m| m.value() as usize).collect();
        let want_to: Vec<usize> = conv.to().iter().map(|m| m.value() as usize).collect();
        let source = a.limbs.get(first_row..first_row + want_from.len()).ok_or(Error::LimbOutOfRange { limb: first_row + want_from.len(), primes: a.limbs.len() })?;
        if primes(source) != want_from {
            return Err(Error::LimbMismatch { expected: want_from, found: primes(source) });
        }
        if primes(&out.limbs) != want_to {
            return Err(Error::LimbMismatch { expected: want_to, found: primes(&out.limbs) });
        }
        reduce_limb(a, 0, out)
    }

    /// `a` is over `0..l` then `special` (`l` = the division's level, `K` = its special
    /// count); returns the result's shape (over `0..l`).
    ///
    /// # Errors
    /// [`Error::LimbMismatch`].
    pub fn special_division(a: &BatchShape, special: &[usize], div: &SpecialDivision) -> Result<BatchShape, Error> {
        let mut want: Vec<usize> = (0..div.level()).collect();
        want.extend_from_slice(special);
        if a.limbs != want || special.len() != div.special_count() {
            return Err(Error::LimbMismatch { expected: want, found: a.limbs.clone() });
        }
        Ok(BatchShape::new(a.count, a.n, (0..div.level()).collect()))
    }

    /// `k` is an odd element below `2n`.
    ///
    /// # Errors
    /// [`Error::InvalidGaloisElement`].
    pub fn galois_element(n: usize, k: usize) -> Result<(), Error> {
        if k % 2 == 1 && k < 2 * n {
            Ok(())
        } else {
            Err(Error::InvalidGaloisElement { k, two_n: 2 * n })
        }
    }

    /// `a` has at least two limbs.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`].
    pub fn droppable(a: &BatchShape) -> Result<(), Error> {
        if a.limbs.len() < 2 {
            return Err(Error::ShapeMismatch { what: "limbs to drop from (at least 2)", expected: 2, found: a.limbs.len() });
        }
        Ok(())
    }
}
