//! Negacyclic number-theoretic transform over `Z_q[x]/(x^n + 1)`: tables and the scalar
//! reference kernels every other backend is compared against.
//!
//! # The transform
//! With `ψ` the table's primitive `2n`-th root of unity and `brv` the `log₂ n`-bit reversal,
//! the forward transform maps coefficients `a` to evaluations
//!
//! `â[k] = Σ_j a[j] · ψ^{(2·brv(k) + 1)·j}  (mod q)`,
//!
//! i.e. the output is in **bit-reversed order** (Cooley–Tukey, the `ψ`-twist merged into the
//! butterflies; Longa–Naehrig 2016, Algorithm 1). The inverse (Gentleman–Sande, Algorithm 2)
//! takes that order back to natural coefficients and includes the `n⁻¹` scaling. Every
//! backend must produce exactly these values, fully reduced into `[0, q)`.
//!
//! Butterflies are Harvey's lazy ones (Harvey 2014): forward values stay in `[0, 4q)`,
//! inverse values in `[0, 2q)`, with Shoup products against precomputed twiddle companions.

use crate::Error;
use crate::zq::reduce_once;
use crate::prime::{check_degree, primitive_root_2n};
use crate::zq::Modulus;

/// `x` reversed in its low `bits` bits.
#[inline]
pub const fn bit_reverse(x: usize, bits: u32) -> usize {
    if bits == 0 { 0 } else { x.reverse_bits() >> (usize::BITS - bits) }
}

/// Precomputed tables for the negacyclic NTT of one `(n, q)`.
///
/// `psi_rev[k] = ψ^{brv(k)}` and `psi_inv_rev[k] = ψ^{−brv(k)}` for `k < n`, each with its
/// Shoup companion; index `m + i` is the twiddle of block `i` in the stage with `m` blocks.
#[derive(Clone, Debug)]
pub struct NttTable {
    n: usize,
    log_n: u32,
    modulus: Modulus,
    psi: u32,
    psi_rev: Vec<u32>,
    psi_rev_shoup: Vec<u32>,
    psi_inv_rev: Vec<u32>,
    psi_inv_rev_shoup: Vec<u32>,
    n_inv: u32,
    n_inv_shoup: u32,
}

impl NttTable {
    /// Builds the tables for degree `n` (a power of two, `2 ≤ n ≤ 2^16`) and prime `q`.
    ///
    /// # Errors
    /// [`Error::InvalidDegree`], [`Error::ModulusTooLarge`], or [`Error::NotNttFriendly`] if `q`
    /// is not a prime `≡ 1 (mod 2n)`.
    pub fn new(n: usize, q: u32) -> Result<Self, Error> {
        check_degree(n)?;
        let modulus = Modulus::new(q)?;
        let psi = primitive_root_2n(q, n)?;
        let psi_inv = modulus.inv(psi)?;
        let log_n = n.trailing_zeros();
        let powers = |root: u32| {
            let mut natural = Vec::with_capacity(n);
            let mut acc = 1u32;
            for _ in 0..n {
                natural.push(acc);
                acc = modulus.mul(acc, root);
            }
            (0..n).map(|k| natural[bit_reverse(k, log_n)]).collect::<Vec<_>>()
        };
        let psi_rev = powers(psi);
        let psi_inv_rev = powers(psi_inv);
        let psi_rev_shoup = psi_rev.iter().map(|&w| modulus.shoup(w)).collect();
        let psi_inv_rev_shoup = psi_inv_rev.iter().map(|&w| modulus.shoup(w)).collect();
        let n_inv = modulus.inv(n as u32)?;
        Ok(Self {
            n,
            log_n,
            modulus,
            psi,
            psi_rev,
            psi_rev_shoup,
            psi_inv_rev,
            psi_inv_rev_shoup,
            n_inv,
            n_inv_shoup: modulus.shoup(n_inv),
        })
    }

    /// Ring degree `n`.
    pub const fn n(&self) -> usize {
        self.n
    }
    /// `log₂ n`.
    pub const fn log_n(&self) -> u32 {
        self.log_n
    }
    /// The modulus.
    pub const fn modulus(&self) -> &Modulus {
        &self.modulus
    }
    /// The primitive `2n`-th root of unity `ψ` (the smallest one).
    pub const fn psi(&self) -> u32 {
        self.psi
    }
    /// `ψ^{brv(k)}`, `k < n`.
    pub fn psi_rev(&self) -> &[u32] {
        &self.psi_rev
    }
    /// Shoup companions of [`Self::psi_rev`].
    pub fn psi_rev_shoup(&self) -> &[u32] {
        &self.psi_rev_shoup
    }
    /// `ψ^{−brv(k)}`, `k < n`.
    pub fn psi_inv_rev(&self) -> &[u32] {
        &self.psi_inv_rev
    }
    /// Shoup companions of [`Self::psi_inv_rev`].
    pub fn psi_inv_rev_shoup(&self) -> &[u32] {
        &self.psi_inv_rev_shoup
    }
    /// `n⁻¹ mod q`.
    pub const fn n_inv(&self) -> u32 {
        self.n_inv
    }
    /// Shoup companion of `n⁻¹`.
    pub const fn n_inv_shoup(&self) -> u32 {
        self.n_inv_shoup
    }

    /// Scalar reference forward NTT, in place.
    ///
    /// # Preconditions
    /// `a.len() == n`, every `a[i] < q`.
    /// # Postconditions
    /// `a` holds the bit-reversed evaluations of the module docs, every value in `[0, q)`.
    /// Constant time (no data-dependent branches in the butterflies).
    pub fn forward(&self, a: &mut [u32]) {
        self.forward_lazy(a);
        let q = self.modulus.value();
        for x in a.iter_mut() {
            *x = reduce_once(reduce_once(*x, 2 * q), q);
        }
    }

    /// Scalar reference forward NTT without the final reduction.
    ///
    /// # Preconditions
    /// `a.len() == n`, every `a[i] < 4q`.
    /// # Postconditions
    /// Values `≡` the forward transform, each in `[0, 4q)`.
    pub fn forward_lazy(&self, a: &mut [u32]) {
        debug_assert_eq!(a.len(), self.n);
        let q = self.modulus.value();
        let two_q = 2 * q;
        let mut t = self.n;
        let mut m = 1;
        while m < self.n {
            t >>= 1;
            for i in 0..m {
                let w = self.psi_rev[m + i];
                let ws = self.psi_rev_shoup[m + i];
                let (lo, hi) = a[2 * i * t..2 * (i + 1) * t].split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    let u = reduce_once(*x, two_q);
                    let v = self.modulus.mul_shoup_lazy(*y, w, ws);
                    *x = u + v;
                    *y = u + two_q - v;
                }
            }
            m <<= 1;
        }
    }

    /// Scalar reference inverse NTT (with the `n⁻¹` scaling), in place.
    ///
    /// # Preconditions
    /// `a.len() == n`, every `a[i] < q` (bit-reversed evaluations).
    /// # Postconditions
    /// `a` holds the coefficients, every value in `[0, q)`. Constant time.
    pub fn inverse(&self, a: &mut [u32]) {
        debug_assert_eq!(a.len(), self.n);
        let q = self.modulus.value();
        let two_q = 2 * q;
        let mut t = 1;
        let mut m = self.n;
        while m > 1 {
            let h = m >> 1;
            for i in 0..h {
                let w = self.psi_inv_rev[h + i];
                let ws = self.psi_inv_rev_shoup[h + i];
                let (lo, hi) = a[2 * i * t..2 * (i + 1) * t].split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    // x, y ∈ [0, 2q)
                    let u = *x;
                    let v = *y;
                    *x = reduce_once(u + v, two_q);
                    *y = self.modulus.mul_shoup_lazy(u + two_q - v, w, ws);
                }
            }
            t <<= 1;
            m = h;
        }
        for x in a.iter_mut() {
            *x = self.modulus.mul_shoup(*x, self.n_inv, self.n_inv_shoup);
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;
    use proptest::prelude::*;

    /// The defining formula of the module docs, evaluated directly (`O(n²)`).
    fn dft_by_definition(a: &[u32], table: &NttTable) -> Vec<u32> {
        let m = table.modulus();
        let n = a.len();
        (0..n)
            .map(|k| {
                let e = 2 * bit_reverse(k, table.log_n()) as u64 + 1;
                let root = m.pow(table.psi(), e);
                a.iter().rev().fold(0u32, |acc, &c| m.add(m.mul(acc, root), c))
            })
            .collect()
    }

    /// Schoolbook product in `Z_q[x]/(x^n + 1)`.
    #[allow(clippy::needless_range_loop, reason = "index arithmetic is the point")]
    fn negacyclic_schoolbook(a: &[u32], b: &[u32], m: &Modulus) -> Vec<u32> {
        let n = a.len();
        let mut c = vec![0u32; n];
        for i in 0..n {
            for j in 0..n {
                let p = m.mul(a[i], b[j]);
                let k = i + j;
                if k < n { c[k] = m.add(c[k], p) } else { c[k - n] = m.sub(c[k - n], p) }
            }
        }
        c
    }

    #[test]
    fn known_answer_n8_q17() {
        // n = 8, q = 17, ψ = 3 (order 16). a = 1 + x: â[k] = 1 + ψ^{2·brv(k)+1}.
        // brv over 3 bits: [0,4,2,6,1,5,3,7] → exponents [1,9,5,13,3,11,7,15];
        // 3^e mod 17 for those: [3,14,5,12,10,7,11,6] → plus one: [4,15,6,13,11,8,12,7].
        let t = NttTable::new(8, 17).unwrap();
        assert_eq!(t.psi(), 3);
        let mut a = vec![1, 1, 0, 0, 0, 0, 0, 0];
        t.forward(&mut a);
        assert_eq!(a, vec![4, 15, 6, 13, 11, 8, 12, 7]);
        t.inverse(&mut a);
        assert_eq!(a, vec![1, 1, 0, 0, 0, 0, 0, 0]);
        // x^7 · x = x^8 = −1 in the negacyclic ring.
        let mut x7 = vec![0, 0, 0, 0, 0, 0, 0, 1];
        let mut x1 = vec![0, 1, 0, 0, 0, 0, 0, 0];
        t.forward(&mut x7);
        t.forward(&mut x1);
        let mut p: Vec<u32> = x7.iter().zip(&x1).map(|(&u, &v)| t.modulus().mul(u, v)).collect();
        t.inverse(&mut p);
        assert_eq!(p, vec![16, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn rejects_unfriendly_inputs() {
        assert!(matches!(NttTable::new(12, 17), Err(Error::InvalidDegree { n: 12 })));
        assert!(matches!(NttTable::new(16, 17), Err(Error::NotNttFriendly { q: 17, n: 16 })));
        assert!(matches!(NttTable::new(8, 1 << 30), Err(Error::ModulusTooLarge { .. })));
    }

    fn ring() -> impl Strategy<Value = (usize, u32)> {
        (1u32..=7, 20u32..=30, 0usize..4).prop_map(|(log_n, bits, idx)| {
            let n = 1usize << log_n;
            (n, ntt_primes(bits, n, idx + 1).unwrap()[idx])
        })
    }

    fn ring_with_poly() -> impl Strategy<Value = (usize, u32, Vec<u32>, Vec<u32>)> {
        ring().prop_flat_map(|(n, q)| {
            (Just(n), Just(q), prop::collection::vec(0..q, n), prop::collection::vec(0..q, n))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn forward_matches_definition_and_round_trips((n, q, a, _b) in ring_with_poly()) {
            let t = NttTable::new(n, q).unwrap();
            let mut x = a.clone();
            t.forward(&mut x);
            prop_assert_eq!(&x, &dft_by_definition(&a, &t));
            t.inverse(&mut x);
            prop_assert_eq!(x, a);
        }

        #[test]
        fn ntt_product_is_negacyclic_schoolbook((n, q, a, b) in ring_with_poly()) {
            let t = NttTable::new(n, q).unwrap();
            let (mut x, mut y) = (a.clone(), b.clone());
            t.forward(&mut x);
            t.forward(&mut y);
            let mut p: Vec<u32> = x.iter().zip(&y).map(|(&u, &v)| t.modulus().mul(u, v)).collect();
            t.inverse(&mut p);
            prop_assert_eq!(p, negacyclic_schoolbook(&a, &b, t.modulus()));
        }

        #[test]
        fn lazy_forward_stays_below_4q((n, q, a, _b) in ring_with_poly()) {
            let t = NttTable::new(n, q).unwrap();
            // Worst-case lazy inputs: push every value up by a multiple of q within [0, 4q).
            let mut x: Vec<u32> = a.iter().enumerate().map(|(i, &v)| v + (i as u32 % 4) * q).collect();
            t.forward_lazy(&mut x);
            prop_assert!(x.iter().all(|&v| v < 4 * q));
            let mut y = a.clone();
            t.forward(&mut y);
            let m = t.modulus();
            prop_assert!(x.iter().zip(&y).all(|(&l, &r)| m.reduce(l) == r));
        }
    }

    #[test]
    fn large_ring_round_trip() {
        for &n in &[1024usize, 1 << 15, 1 << 16] {
            let q = ntt_primes(30, n, 1).unwrap()[0];
            let t = NttTable::new(n, q).unwrap();
            let a: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2654435761) % q).collect();
            let mut x = a.clone();
            t.forward(&mut x);
            assert!(x.iter().all(|&v| v < q));
            t.inverse(&mut x);
            assert_eq!(x, a);
        }
    }
}
