//! The paper's integer encoding (Lauter–Naehrig–Vaikuntanathan 2011, §4.1).

use std::sync::Arc;

use num_bigint::{BigInt, Sign};
use num_traits::Zero;

use crate::scheme::{Parameters, Plaintext};
use crate::Error;

/// Encodes an integer as the base-`2^k` digits of its absolute value placed in the
/// coefficients (digit `i` in coefficient `i`), each carrying the integer's sign. Sums and
/// products of encodings are encodings of the sums and products as long as no coefficient
/// reaches `t/2` in absolute value; [`Self::decode`] evaluates the polynomial at `2^k`.
#[derive(Clone, Debug)]
pub struct IntegerEncoder {
    params: Arc<Parameters>,
    digit_bits: u32,
}

impl IntegerEncoder {
    /// An encoder with digits of `digit_bits` bits (1 = the paper's binary encoding).
    ///
    /// # Errors
    /// [`Error::EncodingUnavailable`] if a digit does not fit below `t/2`
    /// (`2^digit_bits > t/2`) or `digit_bits` is 0.
    pub fn new(params: &Arc<Parameters>, digit_bits: u32) -> Result<Self, Error> {
        let t = u64::from(params.plaintext().value());
        if digit_bits == 0 || digit_bits >= 32 || (1u64 << digit_bits) > t / 2 {
            return Err(Error::EncodingUnavailable { encoding: "integer", requirement: "0 < digit bits with 2^bits ≤ t/2" });
        }
        Ok(Self { params: params.clone(), digit_bits })
    }

    /// The largest absolute value encodable: `2^(k·n) − 1`.
    pub fn max_bits(&self) -> u64 {
        u64::from(self.digit_bits) * self.params.n() as u64
    }

    /// Encodes `x`.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if `|x|` needs more than `k·n` bits.
    pub fn encode(&self, x: &BigInt) -> Result<Plaintext, Error> {
        let magnitude = x.magnitude();
        if magnitude.bits() > self.max_bits() {
            return Err(Error::ValueOutOfRange { what: "integer encoding", value: format!("{} bits", magnitude.bits()), limit: format!("{} bits", self.max_bits()) });
        }
        let negative = x.sign() == Sign::Minus;
        let t = self.params.plaintext().value();
        let digits = magnitude.to_radix_le(1 << self.digit_bits);
        let coeffs: Vec<u32> = digits
            .iter()
            .map(|&d| {
                let d = u32::from(d);
                if negative && d != 0 { t - d } else { d }
            })
            .collect();
        if magnitude.is_zero() {
            return Ok(Plaintext::zero(&self.params));
        }
        Plaintext::new(&self.params, &coeffs)
    }

    /// Decodes by evaluating the centered coefficients at `2^k` with big integers.
    pub fn decode(&self, pt: &Plaintext) -> BigInt {
        let mut acc = BigInt::zero();
        for &c in pt.centered().iter().rev() {
            acc = (acc << self.digit_bits) + BigInt::from(c);
        }
        acc
    }

    /// Decodes, first checking that no coefficient exceeds `coefficient_bound` in absolute
    /// value (the bound the computation guarantees; e.g. `k` for a sum of `k` binary encodings):
    /// a larger coefficient means the result wrapped modulo `t`.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if the bound itself reaches `t/2` (a wrap could not be
    /// detected); [`Error::PlaintextOverflow`] naming the first coefficient beyond the bound.
    pub fn decode_checked(&self, pt: &Plaintext, coefficient_bound: u64) -> Result<BigInt, Error> {
        let t = u64::from(self.params.plaintext().value());
        if coefficient_bound >= t / 2 {
            return Err(Error::ValueOutOfRange { what: "coefficient bound", value: coefficient_bound.to_string(), limit: (t / 2 - 1).to_string() });
        }
        if let Some(index) = pt.centered().iter().position(|&c| c.unsigned_abs() > coefficient_bound) {
            return Err(Error::PlaintextOverflow { index });
        }
        Ok(self.decode(pt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::Preset;

    #[test]
    fn round_trips_128_bit_and_larger_signed_values() {
        let params = Preset::N4096.parameters(65537).unwrap();
        for bits in [1u32, 2, 4] {
            let enc = IntegerEncoder::new(&params, bits).unwrap();
            for x in [BigInt::from(0), BigInt::from(u128::MAX), -BigInt::from(u128::MAX), BigInt::from(1) << 1000u32, -(BigInt::from(12345) << 300u32)] {
                assert_eq!(enc.decode(&enc.encode(&x).unwrap()), x, "digit bits {bits}");
            }
        }
    }

    #[test]
    fn sums_of_encodings_decode_to_sums_and_wraps_are_detected() {
        let params = Preset::N4096.parameters(257).unwrap();
        let enc = IntegerEncoder::new(&params, 1).unwrap();
        let t = params.plaintext();
        let values: Vec<BigInt> = (0..100u32).map(|i| (BigInt::from(u128::MAX) >> (i % 7)) - i).collect();
        let mut acc = vec![0u32; params.n()];
        for v in &values {
            for (a, &c) in acc.iter_mut().zip(enc.encode(v).unwrap().coeffs()) {
                *a = t.add(*a, c);
            }
        }
        let sum = Plaintext::new(&params, &acc).unwrap();
        let expected: BigInt = values.iter().sum();
        assert_eq!(enc.decode_checked(&sum, 100).unwrap(), expected);
        // 200 binary encodings can reach 200 > t/2 = 128 in a coefficient: refused.
        assert!(matches!(enc.decode_checked(&sum, 200), Err(Error::ValueOutOfRange { .. })));
        // A coefficient beyond the stated bound is reported as a wrap.
        let mut wrapped = acc.clone();
        wrapped[3] = 120;
        assert!(matches!(enc.decode_checked(&Plaintext::new(&params, &wrapped).unwrap(), 100), Err(Error::PlaintextOverflow { index: 3 })));
    }

    #[test]
    fn rejects_oversized_values_and_digits() {
        let params = Preset::N2048Additive.parameters(65537).unwrap();
        let enc = IntegerEncoder::new(&params, 1).unwrap();
        assert!(enc.encode(&(BigInt::from(1) << 2048u32)).is_err());
        assert!(enc.encode(&((BigInt::from(1) << 2048u32) - 1)).is_ok());
        assert!(IntegerEncoder::new(&params, 16).is_err());
        assert!(IntegerEncoder::new(&params, 0).is_err());
    }
}
