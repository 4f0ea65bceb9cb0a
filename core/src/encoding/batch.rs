//! Batch (SIMD) encoding: `n` slots modulo a prime `t ≡ 1 (mod 2n)`.

use std::sync::Arc;

use crate::ntt::{NttTable, bit_reverse};
use crate::scheme::{Parameters, Plaintext};
use crate::Error;

/// Places `n` values modulo `t` in slots: the plaintext polynomial `m` with `m(ζ^{eⱼ}) = vⱼ`
/// for the `2n`-th root of unity `ζ` of the NTT modulo `t`, where slot `j < n/2` of row 0 uses
/// `eⱼ = 3^j mod 2n` and slot `n/2 + j` of row 1 uses `−3^j mod 2n`. Then a row rotation by `r`
/// is the automorphism `x → x^{3^r}` and the row swap is `x → x^{−1}`.
#[derive(Clone, Debug)]
pub struct BatchEncoder {
    params: Arc<Parameters>,
    table: NttTable,
    /// Slot `j` lives at NTT index `slot_index[j]`.
    slot_index: Vec<usize>,
}

impl BatchEncoder {
    /// An encoder for the parameters' plaintext modulus.
    ///
    /// # Errors
    /// [`Error::EncodingUnavailable`] unless `t` is a prime `≡ 1 (mod 2n)`.
    pub fn new(params: &Arc<Parameters>) -> Result<Self, Error> {
        let n = params.n();
        let t = params.plaintext().value();
        let table = NttTable::new(n, t).map_err(|_| Error::EncodingUnavailable { encoding: "batch", requirement: "a prime plaintext modulus t ≡ 1 (mod 2n)" })?;
        let log_n = n.trailing_zeros();
        let two_n = 2 * n;
        let mut slot_index = vec![0; n];
        let mut e = 1usize;
        for j in 0..n / 2 {
            slot_index[j] = bit_reverse((e - 1) / 2, log_n);
            slot_index[n / 2 + j] = bit_reverse((two_n - e - 1) / 2, log_n);
            e = e * 3 % two_n;
        }
        Ok(Self { params: params.clone(), table, slot_index })
    }

    /// Number of slots (`n`): two rows of `n/2`.
    pub fn slots(&self) -> usize {
        self.params.n()
    }

    /// Encodes up to `n` values modulo `t` (missing slots are zero).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for more than `n` values; [`Error::ResidueOutOfRange`] for a
    /// value `≥ t`.
    pub fn encode(&self, values: &[u32]) -> Result<Plaintext, Error> {
        let n = self.params.n();
        let t = self.params.plaintext().value();
        if values.len() > n {
            return Err(Error::ShapeMismatch { what: "slots", expected: n, found: values.len() });
        }
        let mut evals = vec![0u32; n];
        for (j, &v) in values.iter().enumerate() {
            if v >= t {
                return Err(Error::ResidueOutOfRange { value: v, q: t });
            }
            evals[self.slot_index[j]] = v;
        }
        self.table.inverse(&mut evals);
        Plaintext::new(&self.params, &evals)
    }

    /// Encodes signed values (reduced modulo `t`).
    ///
    /// # Errors
    /// As [`Self::encode`].
    pub fn encode_signed(&self, values: &[i64]) -> Result<Plaintext, Error> {
        let t = self.params.plaintext();
        let reduced: Vec<u32> = values.iter().map(|&v| t.from_i64(v)).collect();
        self.encode(&reduced)
    }

    /// The slot values modulo `t`.
    pub fn decode(&self, pt: &Plaintext) -> Vec<u32> {
        let mut evals = pt.coeffs().to_vec();
        self.table.forward(&mut evals);
        self.slot_index.iter().map(|&k| evals[k]).collect()
    }

    /// The slot values centered into `(−t/2, t/2]`.
    pub fn decode_signed(&self, pt: &Plaintext) -> Vec<i64> {
        let t = self.params.plaintext();
        self.decode(pt).into_iter().map(|v| t.center(v)).collect()
    }

    /// Decodes signed values, checking each against `|v| ≤ bound`, the bound the computation
    /// guarantees: a value beyond it wrapped modulo `t`.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if `bound ≥ t/2`; [`Error::PlaintextOverflow`] naming the
    /// first slot beyond the bound.
    pub fn decode_signed_checked(&self, pt: &Plaintext, bound: u64) -> Result<Vec<i64>, Error> {
        let half = u64::from(self.params.plaintext().value() / 2);
        if bound >= half {
            return Err(Error::ValueOutOfRange { what: "slot bound", value: bound.to_string(), limit: (half - 1).to_string() });
        }
        let v = self.decode_signed(pt);
        if let Some(index) = v.iter().position(|x| x.unsigned_abs() > bound) {
            return Err(Error::PlaintextOverflow { index });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::kernels::automorphism_coeff_row;
    use crate::scheme::GaloisElement;
    use crate::testing::scheme::plain_mul;

    fn setup() -> (Arc<Parameters>, BatchEncoder) {
        let t = crate::prime::ntt_primes(20, 4096, 1).unwrap()[0];
        let params = crate::scheme::Preset::N4096.parameters(t).unwrap();
        let enc = BatchEncoder::new(&params).unwrap();
        (params, enc)
    }

    fn values(n: usize, seed: u32, t: u32) -> Vec<u32> {
        (0..n as u32).map(|i| (i.wrapping_mul(2654435761) ^ seed) % t).collect()
    }

    #[test]
    fn round_trip_and_slotwise_product() {
        let (params, enc) = setup();
        let (n, t) = (params.n(), params.plaintext().value());
        let (a, b) = (values(n, 1, t), values(n, 99, t));
        let (pa, pb) = (enc.encode(&a).unwrap(), enc.encode(&b).unwrap());
        assert_eq!(enc.decode(&pa), a);
        let prod = enc.decode(&plain_mul(&pa, &pb));
        let m = params.plaintext();
        assert!(prod.iter().zip(a.iter().zip(&b)).all(|(&p, (&x, &y))| p == m.mul(x, y)));
        assert_eq!(enc.decode_signed(&enc.encode_signed(&[-5, 7, -1]).unwrap())[..4], [-5, 7, -1, 0]);
    }

    #[test]
    fn automorphisms_rotate_rows_and_swap_them() {
        let (params, enc) = setup();
        let (n, t) = (params.n(), params.plaintext());
        let v = values(n, 5, t.value());
        let pt = enc.encode(&v).unwrap();
        let apply = |k: usize| {
            let mut out = vec![0; n];
            automorphism_coeff_row(pt.coeffs(), k, &mut out, t);
            enc.decode(&Plaintext::new(&params, &out).unwrap())
        };
        let half = n / 2;
        for steps in [1isize, 3, -1, 100] {
            let got = apply(GaloisElement::row_rotation(n, steps));
            for j in 0..half {
                let src = (j as isize + steps).rem_euclid(half as isize) as usize;
                assert_eq!(got[j], v[src], "row 0, steps {steps}");
                assert_eq!(got[half + j], v[half + src], "row 1, steps {steps}");
            }
        }
        let swapped = apply(GaloisElement::column_swap(n));
        assert_eq!(&swapped[..half], &v[half..]);
        assert_eq!(&swapped[half..], &v[..half]);
    }

    #[test]
    fn needs_a_batching_modulus_and_checks_bounds() {
        let params = crate::scheme::Preset::N4096.parameters(65539).unwrap();
        assert!(BatchEncoder::new(&params).is_err());
        let (params, enc) = setup();
        let pt = enc.encode_signed(&[1000, -3]).unwrap();
        assert!(enc.decode_signed_checked(&pt, 1000).is_ok());
        assert!(matches!(enc.decode_signed_checked(&pt, 999), Err(Error::PlaintextOverflow { index: 0 })));
        assert!(enc.decode_signed_checked(&pt, u64::from(params.plaintext().value())).is_err());
        assert!(enc.encode(&vec![0; params.n() + 1]).is_err());
    }
}
