//! Exact results beyond one plaintext modulus: several plaintext moduli `t₁ … t_k` over the
//! same ring and ciphertext primes, one ciphertext per modulus, recombined by CRT.

use std::sync::Arc;

use num_bigint::{BigInt, BigUint};

use crate::prime::ntt_primes;
use crate::rns::RnsBasis;
use crate::scheme::{Parameters, ParametersLiteral};
use crate::Error;

/// A plaintext space `Z_T`, `T = t₁·…·t_k`, as `k` parameter sets that differ only in `t`.
/// A value `x` with `|x| < T/2` is encoded as `x mod tᵢ` under each; decoding recombines the
/// residues by CRT into the centered representative.
#[derive(Clone, Debug)]
pub struct CrtPlaintextSpace {
    params: Vec<Arc<Parameters>>,
    basis: RnsBasis,
}

impl CrtPlaintextSpace {
    /// `k` batching-friendly plaintext primes (`≡ 1 mod 2n`, the largest below `2^bits`) on
    /// top of `base` (whose own `t` is replaced).
    ///
    /// # Errors
    /// Prime generation errors; [`Parameters::new`] errors (e.g. `bits` too large for the
    /// ciphertext primes).
    pub fn batching(base: &ParametersLiteral, bits: u32, k: usize) -> Result<Self, Error> {
        let ts = ntt_primes(bits, base.n, k)?;
        Self::new(base, &ts)
    }

    /// The space for the given plaintext moduli (pairwise coprime) on top of `base`.
    ///
    /// # Errors
    /// [`Error::EmptyBasis`]; [`Error::NotInvertible`] if two moduli share a factor;
    /// [`Parameters::new`] errors.
    pub fn new(base: &ParametersLiteral, moduli: &[u32]) -> Result<Self, Error> {
        let params = moduli
            .iter()
            .map(|&t| Parameters::new(ParametersLiteral { plaintext_modulus: t, ..base.clone() }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { params, basis: RnsBasis::new(moduli)? })
    }

    /// The space of the first `k` moduli (sharing their parameter sets).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for `k` outside `1..=moduli`.
    pub fn prefix(&self, k: usize) -> Result<Self, Error> {
        if k == 0 || k > self.params.len() {
            return Err(Error::ShapeMismatch { what: "plaintext moduli of a prefix", expected: self.params.len(), found: k });
        }
        let moduli: Vec<u32> = self.params[..k].iter().map(|p| p.plaintext().value()).collect();
        Ok(Self { params: self.params[..k].to_vec(), basis: RnsBasis::new(&moduli)? })
    }

    /// One parameter set per plaintext modulus.
    pub fn params(&self) -> &[Arc<Parameters>] {
        &self.params
    }

    /// `T`, the product of the plaintext moduli.
    pub fn modulus(&self) -> &BigUint {
        self.basis.product()
    }

    /// Largest magnitude represented exactly: `⌊(T − 1)/2⌋`.
    pub fn max_magnitude(&self) -> BigUint {
        (self.basis.product() - 1u32) >> 1u32
    }

    /// `x mod tᵢ` for each modulus.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if `|x| > (T − 1)/2`.
    pub fn encode(&self, x: &BigInt) -> Result<Vec<u32>, Error> {
        if x.magnitude() > &self.max_magnitude() {
            return Err(Error::ValueOutOfRange { what: "CRT plaintext", value: x.to_string(), limit: self.max_magnitude().to_string() });
        }
        let t = BigInt::from(self.basis.product().clone());
        let non_negative = ((x % &t) + &t) % &t;
        let magnitude = non_negative.magnitude().clone();
        Ok(self.basis.decompose(&magnitude))
    }

    /// The centered value with these residues.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] or [`Error::ResidueOutOfRange`] for malformed residues.
    pub fn decode(&self, residues: &[u32]) -> Result<BigInt, Error> {
        let x = self.basis.reconstruct(residues)?;
        let t = self.basis.product();
        Ok(if x > self.max_magnitude() { BigInt::from(x) - BigInt::from(t.clone()) } else { BigInt::from(x) })
    }

    /// Decodes, checking `|x| ≤ bound` (the bound the computation guarantees).
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if `bound` is not below `T/2`; [`Error::PlaintextOverflow`]
    /// (index 0) if the decoded value exceeds it; as [`Self::decode`].
    pub fn decode_checked(&self, residues: &[u32], bound: &BigUint) -> Result<BigInt, Error> {
        if bound > &self.max_magnitude() {
            return Err(Error::ValueOutOfRange { what: "CRT bound", value: bound.to_string(), limit: self.max_magnitude().to_string() });
        }
        let x = self.decode(residues)?;
        if x.magnitude() > bound {
            return Err(Error::PlaintextOverflow { index: 0 });
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Preset;

    #[test]
    fn crt_round_trip_beyond_one_modulus() {
        let base = Preset::N8192.literal(65537).unwrap();
        let space = CrtPlaintextSpace::batching(&base, 20, 3).unwrap();
        assert_eq!(space.params().len(), 3);
        assert!(space.modulus().bits() > 57);
        for x in [BigInt::from(0), BigInt::from(-1), BigInt::from(1u64 << 55), -BigInt::from(123_456_789_012_345_678u64)] {
            let r = space.encode(&x).unwrap();
            assert_eq!(space.decode(&r).unwrap(), x);
        }
        let too_big = BigInt::from(space.max_magnitude()) + 1;
        assert!(space.encode(&too_big).is_err());
        let r = space.encode(&BigInt::from(1000)).unwrap();
        assert!(space.decode_checked(&r, &BigUint::from(1000u32)).is_ok());
        assert!(matches!(space.decode_checked(&r, &BigUint::from(999u32)), Err(Error::PlaintextOverflow { .. })));
    }

    #[test]
    fn rejects_shared_factors_and_large_moduli() {
        let base = Preset::N4096.literal(65537).unwrap();
        assert!(CrtPlaintextSpace::new(&base, &[65537, 65537]).is_err());
        assert!(CrtPlaintextSpace::batching(&base, 30, 2).is_err());
    }
}
