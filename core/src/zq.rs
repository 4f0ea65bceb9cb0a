//! Arithmetic modulo one word-sized prime `q < 2^30`.
//!
//! Every residue in RingVault is a `u32` below its modulus. Restricting moduli to 30 bits lets
//! lazy values live in `[0, 4q) ⊂ [0, 2^32)`, so the CPU and the GPU run the same `u32`
//! arithmetic and produce bit-identical results (see `DESIGN.md`).
//!
//! Two precomputed-constant reductions are used:
//! - **Shoup** multiplication by a fixed operand `w`: with `w' = ⌊w·2^32/q⌋`,
//!   `x·w − ⌊x·w'/2^32⌋·q ∈ [0, 2q)` for every `x < 2^32` (Shoup; Harvey 2014, Lemma 1).
//! - **Barrett** reduction of a 64-bit value with `⌊2^64/q⌋`, used where both operands vary.

use crate::Error;

/// Largest supported modulus width in bits: every modulus is below `2^30`.
pub const MAX_MODULUS_BITS: u32 = 30;

/// A prime modulus `q < 2^30` with its reduction constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modulus {
    q: u32,
    /// `⌊2^64 / q⌋`, the Barrett constant for 64-bit inputs.
    barrett: u64,
}

impl Modulus {
    /// Builds a modulus.
    ///
    /// # Errors
    /// [`Error::ModulusTooLarge`] if `q ≥ 2^30`, [`Error::ModulusTooSmall`] if `q < 2`.
    pub fn new(q: u32) -> Result<Self, Error> {
        if q < 2 {
            return Err(Error::ModulusTooSmall { q });
        }
        if q >> MAX_MODULUS_BITS != 0 {
            return Err(Error::ModulusTooLarge { q, bits: 32 - q.leading_zeros(), max: MAX_MODULUS_BITS });
        }
        Ok(Self { q, barrett: u64::MAX / u64::from(q) })
    }

    /// The modulus value.
    #[inline]
    pub const fn value(&self) -> u32 {
        self.q
    }

    /// Bit width of `q`.
    pub const fn bits(&self) -> u32 {
        32 - self.q.leading_zeros()
    }

    /// `(a + b) mod q`.
    ///
    /// # Preconditions
    /// `a, b < q`.
    #[inline]
    pub const fn add(&self, a: u32, b: u32) -> u32 {
        let s = a + b;
        if s >= self.q { s - self.q } else { s }
    }

    /// `(a − b) mod q`.
    ///
    /// # Preconditions
    /// `a, b < q`.
    #[inline]
    pub const fn sub(&self, a: u32, b: u32) -> u32 {
        if a >= b { a - b } else { a + self.q - b }
    }

    /// `(−a) mod q`.
    ///
    /// # Preconditions
    /// `a < q`.
    #[inline]
    pub const fn neg(&self, a: u32) -> u32 {
        if a == 0 { 0 } else { self.q - a }
    }

    /// Barrett reduction of any 64-bit value: `x mod q`. Constant time.
    #[inline]
    pub const fn reduce_u64(&self, x: u64) -> u32 {
        let quot = ((x as u128 * self.barrett as u128) >> 64) as u64;
        // The estimate is short by at most 2: r < 3q < 2^32, two branch-free subtractions.
        let r = (x - quot * self.q as u64) as u32;
        let r = reduce_once(r, 2 * self.q);
        reduce_once(r, self.q)
    }

    /// `x mod q` for any `u32`.
    #[inline]
    pub const fn reduce(&self, x: u32) -> u32 {
        self.reduce_u64(x as u64)
    }

    /// `(a · b) mod q` for any `a, b < 2^32`.
    #[inline]
    pub const fn mul(&self, a: u32, b: u32) -> u32 {
        self.reduce_u64(a as u64 * b as u64)
    }

    /// The Shoup companion `⌊w·2^32 / q⌋` of a constant operand.
    ///
    /// # Preconditions
    /// `w < q`.
    #[inline]
    pub const fn shoup(&self, w: u32) -> u32 {
        (((w as u64) << 32) / self.q as u64) as u32
    }

    /// Lazy Shoup product `x·w mod q`, in `[0, 2q)`.
    ///
    /// # Preconditions
    /// `w < q`, `w_shoup = self.shoup(w)`; any `x < 2^32`.
    /// # Postconditions
    /// Result `≡ x·w (mod q)` and `< 2q`. Constant time.
    #[inline]
    pub const fn mul_shoup_lazy(&self, x: u32, w: u32, w_shoup: u32) -> u32 {
        let hi = ((x as u64 * w_shoup as u64) >> 32) as u32;
        x.wrapping_mul(w).wrapping_sub(hi.wrapping_mul(self.q))
    }

    /// Shoup product `x·w mod q`, fully reduced.
    ///
    /// # Preconditions
    /// As [`Self::mul_shoup_lazy`].
    #[inline]
    pub const fn mul_shoup(&self, x: u32, w: u32, w_shoup: u32) -> u32 {
        let r = self.mul_shoup_lazy(x, w, w_shoup);
        if r >= self.q { r - self.q } else { r }
    }

    /// `a^e mod q` by square-and-multiply.
    pub const fn pow(&self, a: u32, mut e: u64) -> u32 {
        let mut base = self.reduce(a);
        let mut acc = 1 % self.q;
        while e > 0 {
            if e & 1 == 1 {
                acc = self.mul(acc, base);
            }
            base = self.mul(base, base);
            e >>= 1;
        }
        acc
    }

    /// The inverse of `a` modulo `q` (extended Euclid, so `q` need not be prime).
    ///
    /// # Errors
    /// [`Error::NotInvertible`] if `gcd(a, q) ≠ 1`.
    pub fn inv(&self, a: u32) -> Result<u32, Error> {
        let a = self.reduce(a);
        let (mut r0, mut r1) = (i64::from(self.q), i64::from(a));
        let (mut s0, mut s1) = (0i64, 1i64);
        while r1 != 0 {
            let k = r0 / r1;
            (r0, r1) = (r1, r0 - k * r1);
            (s0, s1) = (s1, s0 - k * s1);
        }
        if r0 != 1 {
            return Err(Error::NotInvertible { value: a, q: self.q });
        }
        Ok(self.from_i64(s0))
    }

    /// Centered representative of `a ∈ [0, q)` in `(−q/2, q/2]`.
    #[inline]
    pub const fn center(&self, a: u32) -> i64 {
        if a > self.q / 2 { a as i64 - self.q as i64 } else { a as i64 }
    }

    /// `a mod q` for a signed integer: Barrett reduction of `|a|`, negated for a negative `a`
    /// by a mask rather than a branch. Constant time (no division).
    #[inline]
    pub const fn from_i64(&self, a: i64) -> u32 {
        let r = self.reduce_u64(a.unsigned_abs());
        let negative = 0u32.wrapping_sub((a >> 63) as u32 & 1);
        (self.neg(r) & negative) | (r & !negative)
    }
}

/// `x − bound` if `x ≥ bound`, else `x`; branch-free. The one conditional subtraction every
/// lazy-reduction kernel (NTT butterflies, basis conversion, Shoup products) ends with.
#[inline]
pub const fn reduce_once(x: u32, bound: u32) -> u32 {
    let y = x.wrapping_sub(bound);
    if y < x { y } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_out_of_range_moduli() {
        assert!(matches!(Modulus::new(1 << 30), Err(Error::ModulusTooLarge { bits: 31, max: 30, .. })));
        assert!(matches!(Modulus::new(1), Err(Error::ModulusTooSmall { q: 1 })));
        assert!(Modulus::new((1 << 30) - 35).is_ok());
    }

    #[test]
    fn known_answers_mod_17() {
        // Hand-checked: 17 is prime, 3 is a generator; 3·6 = 18 ≡ 1, so 3⁻¹ = 6.
        let m = Modulus::new(17).unwrap();
        assert_eq!(m.add(16, 5), 4);
        assert_eq!(m.sub(3, 5), 15);
        assert_eq!(m.neg(0), 0);
        assert_eq!(m.mul(16, 16), 1);
        assert_eq!(m.inv(3).unwrap(), 6);
        assert_eq!(m.pow(3, 16), 1);
        assert_eq!(m.pow(3, 8), 16);
        assert_eq!(m.center(9), -8);
        assert_eq!(m.center(8), 8);
        for (a, r) in [(0, 0), (-1, 16), (-17, 0), (-18, 16), (17, 0), (35, 1), (i64::MIN, (i64::MIN.rem_euclid(17)) as u32), (i64::MAX, (i64::MAX % 17) as u32)] {
            assert_eq!(m.from_i64(a), r, "{a} mod 17");
        }
        assert!(m.inv(34).is_err());
        // Composite moduli: 7·13 = 91 ≡ 1 (mod 30); 6 has no inverse mod 30.
        let c = Modulus::new(30).unwrap();
        assert_eq!(c.inv(7).unwrap(), 13);
        assert!(c.inv(6).is_err());
    }

    proptest! {
        #[test]
        fn shoup_and_barrett_agree_with_u64(q in 2u32..(1 << 30), x: u32, w: u32, y: u64) {
            let m = Modulus::new(q).unwrap();
            let w = w % q;
            let ws = m.shoup(w);
            let lazy = m.mul_shoup_lazy(x, w, ws);
            prop_assert!(lazy < 2 * q);
            prop_assert_eq!(u64::from(lazy) % u64::from(q), u64::from(x) * u64::from(w) % u64::from(q));
            prop_assert_eq!(m.mul_shoup(x, w, ws), m.mul(x, w));
            prop_assert_eq!(u64::from(m.reduce_u64(y)), y % u64::from(q));
            let signed = y as i64;
            prop_assert_eq!(i64::from(m.from_i64(signed)), signed.rem_euclid(i64::from(q)));
        }
    }
}
