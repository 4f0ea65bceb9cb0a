//! Residue number system: a basis of word-sized primes, exact CRT to big integers, and fast
//! basis conversion between two bases.
//!
//! An integer `x ∈ [0, Q)`, `Q = q₀·…·q_{L−1}`, is stored as its residues `xᵢ = x mod qᵢ`.
//! CRT reconstruction is `x = Σ [xᵢ·q̃ᵢ]_{qᵢ} · Q/qᵢ mod Q` with `q̃ᵢ = (Q/qᵢ)⁻¹ mod qᵢ`.
//! **Fast basis conversion** (Bajard–Eynard–Hasan–Zucca 2016) drops the final `mod Q`:
//! for a target prime `p`, `conv(x)_p = Σ [xᵢ·q̃ᵢ]_{qᵢ} · (Q/qᵢ mod p) mod p`, which is
//! `(x + α·Q) mod p` for an integer `0 ≤ α < L`.

use num_bigint::BigUint;
use num_traits::{ToPrimitive, Zero};

use crate::Error;
use crate::zq::Modulus;

/// A basis of distinct primes below `2^30` with the CRT constants.
#[derive(Clone, Debug)]
pub struct RnsBasis {
    moduli: Vec<Modulus>,
    product: BigUint,
    /// `Q / qᵢ`.
    punctured: Vec<BigUint>,
    /// `(Q / qᵢ)⁻¹ mod qᵢ` and its Shoup companion.
    punctured_inv: Vec<(u32, u32)>,
}

impl RnsBasis {
    /// Builds a basis from distinct primes.
    ///
    /// # Errors
    /// [`Error::EmptyBasis`], a modulus error, or [`Error::NotInvertible`] if two moduli share a
    /// factor (e.g. a repeated prime).
    pub fn new(primes: &[u32]) -> Result<Self, Error> {
        if primes.is_empty() {
            return Err(Error::EmptyBasis);
        }
        let moduli = primes.iter().map(|&q| Modulus::new(q)).collect::<Result<Vec<_>, _>>()?;
        let product = primes.iter().fold(BigUint::from(1u32), |acc, &q| acc * q);
        let punctured: Vec<BigUint> = primes.iter().map(|&q| &product / q).collect();
        let punctured_inv = moduli
            .iter()
            .zip(&punctured)
            .map(|(m, p)| {
                let r = big_mod(p, m);
                let inv = m.inv(r)?;
                Ok((inv, m.shoup(inv)))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self { moduli, product, punctured, punctured_inv })
    }

    /// The moduli.
    pub fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }
    /// Number of primes `L`.
    pub fn len(&self) -> usize {
        self.moduli.len()
    }
    /// Always false: a basis has at least one prime.
    pub fn is_empty(&self) -> bool {
        self.moduli.is_empty()
    }
    /// `Q`, the product of the primes.
    pub fn product(&self) -> &BigUint {
        &self.product
    }

    /// `((Q/qᵢ)⁻¹ mod qᵢ, shoup)`, the CRT factor of prime `i`.
    pub fn punctured_inverse(&self, i: usize) -> (u32, u32) {
        self.punctured_inv[i]
    }

    /// Residues of `x mod Q`.
    pub fn decompose(&self, x: &BigUint) -> Vec<u32> {
        self.moduli.iter().map(|m| big_mod(x, m)).collect()
    }

    /// Exact CRT reconstruction: the unique `x ∈ [0, Q)` with the given residues.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `residues.len() != L`; [`Error::ResidueOutOfRange`] if a
    /// residue is not below its prime.
    pub fn reconstruct(&self, residues: &[u32]) -> Result<BigUint, Error> {
        if residues.len() != self.len() {
            return Err(Error::ShapeMismatch { what: "residues", expected: self.len(), found: residues.len() });
        }
        let mut acc = BigUint::zero();
        for (i, (&x, m)) in residues.iter().zip(&self.moduli).enumerate() {
            if x >= m.value() {
                return Err(Error::ResidueOutOfRange { value: x, q: m.value() });
            }
            let (inv, inv_shoup) = self.punctured_inv[i];
            acc += &self.punctured[i] * m.mul_shoup(x, inv, inv_shoup);
        }
        Ok(acc % &self.product)
    }
}

/// `x mod q` for a big integer.
fn big_mod(x: &BigUint, m: &Modulus) -> u32 {
    (x % m.value()).to_u32().unwrap_or(0)
}

/// Precomputed constants of the fast basis conversion from a basis `Q` to a basis `P`.
///
/// Backends use [`Self::source_factors`] (`q̃ᵢ` with Shoup companions) and
/// [`Self::cross_factors`] (`Q/qᵢ mod pⱼ`, row `j`, column `i`, with companions).
#[derive(Clone, Debug)]
pub struct BasisConversion {
    from: RnsBasis,
    to: Vec<Modulus>,
    source_factors: Vec<(u32, u32)>,
    cross_factors: Vec<Vec<(u32, u32)>>,
}

impl BasisConversion {
    /// Conversion constants from `from` to the primes `to`.
    ///
    /// # Errors
    /// [`Error::EmptyBasis`] or a modulus error for `to`.
    pub fn new(from: &RnsBasis, to: &[u32]) -> Result<Self, Error> {
        if to.is_empty() {
            return Err(Error::EmptyBasis);
        }
        let to = to.iter().map(|&p| Modulus::new(p)).collect::<Result<Vec<_>, _>>()?;
        let cross_factors = to
            .iter()
            .map(|p| {
                from.punctured
                    .iter()
                    .map(|qi_hat| {
                        let c = big_mod(qi_hat, p);
                        (c, p.shoup(c))
                    })
                    .collect()
            })
            .collect();
        Ok(Self { from: from.clone(), to, source_factors: from.punctured_inv.clone(), cross_factors })
    }

    /// The source basis `Q`.
    pub fn from(&self) -> &RnsBasis {
        &self.from
    }
    /// The target primes `P`.
    pub fn to(&self) -> &[Modulus] {
        &self.to
    }
    /// `(q̃ᵢ, shoup)` for each source prime.
    pub fn source_factors(&self) -> &[(u32, u32)] {
        &self.source_factors
    }
    /// `(Q/qᵢ mod pⱼ, shoup)`: row `j` (target), column `i` (source).
    pub fn cross_factors(&self) -> &[Vec<(u32, u32)>] {
        &self.cross_factors
    }

    /// Scalar reference: converts one coefficient given by its source residues into `out`
    /// (one value per target prime).
    ///
    /// # Preconditions
    /// `x.len() == |Q|`, `out.len() == |P|`, every `xᵢ < qᵢ`.
    /// # Postconditions
    /// `out[j] = (Σᵢ [xᵢ·q̃ᵢ]_{qᵢ} · (Q/qᵢ)) mod pⱼ`, fully reduced. Constant time.
    pub fn convert_one(&self, x: &[u32], scratch: &mut [u32], out: &mut [u32]) {
        for ((y, &xi), (m, &(f, fs))) in scratch.iter_mut().zip(x).zip(self.from.moduli.iter().zip(&self.source_factors)) {
            *y = m.mul_shoup(xi, f, fs);
        }
        for ((o, p), row) in out.iter_mut().zip(&self.to).zip(&self.cross_factors) {
            let two_p = 2 * p.value();
            let mut acc = 0u32;
            for (&y, &(c, cs)) in scratch.iter().zip(row) {
                // acc < 2p, term < 2p: sum < 4p < 2^32, then back below 2p.
                acc = crate::zq::reduce_once(acc + p.mul_shoup_lazy(y, c, cs), two_p);
            }
            *o = crate::zq::reduce_once(acc, p.value());
        }
    }
}

/// Constants of the division by the special modulus `P = p₀·…·p_{K−1}` that ends a key
/// switch at one level (BGV, `t`-preserving): for `x` over the level's primes `qᵢ` and the
/// special primes, `yⱼ = [xⱼ·t⁻¹]_{pⱼ}`, `δ = t·conv_{P→Q}(y)` (the fast basis conversion, so
/// `δ ≡ x (mod P)`, `δ ≡ 0 (mod t)` and `0 ≤ δ < t·K·P`), and the result is
/// `(xᵢ − δᵢ)·P⁻¹ mod qᵢ`: exact division, `≡ x·P⁻¹ (mod t)`, with a rounding error below
/// `t·K`. One inverse transform per special prime and one forward per level prime, where
/// dropping the special primes one at a time costs `K` of each.
#[derive(Clone, Debug)]
pub struct SpecialDivision {
    /// The fast basis conversion from the special primes to the level's primes.
    pub conv: BasisConversion,
    /// `t⁻¹ mod pⱼ`.
    pub t_inv_special: Vec<u32>,
    /// `t mod qᵢ`.
    pub t_mod_q: Vec<u32>,
    /// `P⁻¹ mod qᵢ`.
    pub p_inv_q: Vec<u32>,
}

impl SpecialDivision {
    /// The constants for the level primes `q` and special primes `p`, plaintext modulus `t`.
    ///
    /// # Errors
    /// Basis errors; [`Error::NotInvertible`] if `t` or `P` shares a factor with a prime.
    pub fn new(q: &[u32], p: &[u32], t: u32) -> Result<Self, Error> {
        let special = RnsBasis::new(p)?;
        let conv = BasisConversion::new(&special, q)?;
        let t_inv_special = special.moduli().iter().map(|m| m.inv(m.reduce(t))).collect::<Result<Vec<_>, _>>()?;
        let level: Vec<Modulus> = q.iter().map(|&x| Modulus::new(x)).collect::<Result<_, _>>()?;
        let t_mod_q = level.iter().map(|m| m.reduce(t)).collect();
        let p_inv_q = level.iter().map(|m| m.inv(big_mod(special.product(), m))).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { conv, t_inv_special, t_mod_q, p_inv_q })
    }

    /// The number of special primes `K`.
    pub fn special_count(&self) -> usize {
        self.t_inv_special.len()
    }
    /// The number of level primes.
    pub fn level(&self) -> usize {
        self.t_mod_q.len()
    }
}

/// One RNS digit of a key switch: a run of consecutive source rows, and how it is extended to
/// the output primes.
#[derive(Clone, Debug)]
pub struct Digit {
    /// The digit's rows in the source batch.
    pub rows: std::ops::Range<usize>,
    /// For a digit of two primes or more, the fast basis conversion from its primes to every
    /// output prime at once (on the digit's own primes it returns the input, since `Qⱼ ≡ 0`
    /// there); `None` for one prime, whose extension is a plain reduction.
    pub to_all: Option<BasisConversion>,
    /// The same conversion to one output prime each (in output order), for kernels that
    /// build one output row at a time; empty for one prime.
    pub to_each: Vec<BasisConversion>,
}

/// The digits of a key switch at one level: the source (the ciphertext primes of the level)
/// cut into runs of `α` rows, each extended to the output primes (the level's primes and the
/// special primes). Built once per level by [`crate::scheme::Parameters::digits`].
#[derive(Clone, Debug)]
pub struct DigitDecomposition {
    digits: Vec<Digit>,
    out_limbs: Vec<usize>,
}

impl DigitDecomposition {
    /// The digits of a source over `primes` (ring order) in runs of `digit_primes`, extended to
    /// the ring indices `out_limbs` whose primes are `out_primes`.
    ///
    /// # Errors
    /// [`Error::EmptyBasis`] for no prime or `digit_primes == 0`; basis errors.
    pub fn new(primes: &[u32], digit_primes: usize, out_limbs: Vec<usize>, out_primes: &[u32]) -> Result<Self, Error> {
        if primes.is_empty() || digit_primes == 0 {
            return Err(Error::EmptyBasis);
        }
        let digits = (0..primes.len())
            .step_by(digit_primes)
            .map(|start| {
                let rows = start..(start + digit_primes).min(primes.len());
                if rows.len() == 1 {
                    return Ok(Digit { rows, to_all: None, to_each: Vec::new() });
                }
                let basis = RnsBasis::new(&primes[rows.clone()])?;
                let to_each = out_primes.iter().map(|&p| BasisConversion::new(&basis, &[p])).collect::<Result<Vec<_>, _>>()?;
                Ok(Digit { rows, to_all: Some(BasisConversion::new(&basis, out_primes)?), to_each })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self { digits, out_limbs })
    }

    /// The digits, in source order.
    pub fn digits(&self) -> &[Digit] {
        &self.digits
    }
    /// The output ring indices.
    pub fn out_limbs(&self) -> &[usize] {
        &self.out_limbs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;
    use proptest::prelude::*;

    fn basis() -> impl Strategy<Value = Vec<u32>> {
        (1usize..8, 20u32..=30).prop_map(|(l, bits)| ntt_primes(bits, 1024, l).unwrap())
    }

    #[test]
    fn known_answer_small_crt() {
        // Q = 17·97 = 1649; x = 1000: 1000 mod 17 = 14, 1000 mod 97 = 30.
        let b = RnsBasis::new(&[17, 97]).unwrap();
        assert_eq!(b.decompose(&BigUint::from(1000u32)), vec![14, 30]);
        assert_eq!(b.reconstruct(&[14, 30]).unwrap(), BigUint::from(1000u32));
        assert!(matches!(b.reconstruct(&[17, 0]), Err(Error::ResidueOutOfRange { value: 17, q: 17 })));
        assert!(matches!(RnsBasis::new(&[17, 17]), Err(Error::NotInvertible { .. })));
    }

    proptest! {
        #[test]
        fn crt_round_trip(primes in basis(), seed: u64) {
            let b = RnsBasis::new(&primes).unwrap();
            let x = (BigUint::from(seed) * BigUint::from(seed | 1)).pow(3) % b.product();
            let r = b.decompose(&x);
            prop_assert_eq!(b.reconstruct(&r).unwrap(), x);
        }

        #[test]
        fn fast_conversion_is_exact_against_big_integers(primes in basis(), seed: u64) {
            let src = RnsBasis::new(&primes).unwrap();
            let dst = ntt_primes(29, 1024, 3).unwrap();
            let conv = BasisConversion::new(&src, &dst).unwrap();
            let x = (BigUint::from(seed) << 40u32 | BigUint::from(seed.rotate_left(17))) % src.product();
            let residues = src.decompose(&x);
            let mut scratch = vec![0; primes.len()];
            let mut out = vec![0; dst.len()];
            conv.convert_one(&residues, &mut scratch, &mut out);
            // Exact big-integer value of the un-reduced CRT sum.
            let sum: BigUint = residues.iter().enumerate().map(|(i, &xi)| {
                let m = src.moduli()[i];
                let (f, _) = src.punctured_inv[i];
                &src.punctured[i] * m.mul(xi, f)
            }).sum();
            let alpha = (&sum - &x) / src.product();
            prop_assert_eq!(&alpha * src.product() + &x, sum.clone());
            prop_assert!(alpha < BigUint::from(primes.len()));
            for (j, &p) in dst.iter().enumerate() {
                prop_assert_eq!(BigUint::from(out[j]), &sum % p);
            }
        }
    }
}
