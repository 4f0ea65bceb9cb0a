//! What the AVX2 and AVX-512 kernels share and neither instruction set owns: the constants of
//! the vector Barrett and Shoup products, and the scalar tails past the last full vector.

use ringvault_core::ring::kernels::{self, DropLimb};
use ringvault_core::rns::BasisConversion;
use ringvault_core::zq::Modulus;

/// Constants of the Barrett reduction of a product `x = a·b` with `a, b < q`, shaped for
/// `vpmuludq`: the quotient estimate is the high word of a 32 × 32 → 64-bit product.
///
/// With a shift `s1` and `μ = ⌊2^(s1+32)/q⌋`, the estimate `q̂ = ⌊⌊x/2^s1⌋·μ / 2^32⌋`
/// satisfies `⌊x/q⌋ − 1 ≤ q̂ ≤ ⌊x/q⌋`, so `r = x − q̂·q ∈ [0, 2q) ⊂ [0, 2^31)`: it is computed
/// with wrapping 32-bit arithmetic from the low words of `x` and `q̂·q`, and one conditional
/// subtraction reduces it fully.
///
/// Let `k = ⌈log₂ q⌉ ≤ 30` (`2^(k−1) < q ≤ 2^k` for `q ≥ 3`; `q = 2` has `k = 1`). The shift is
/// - `s1 = 0` for `k ≤ 15`;
/// - `s1 = 2k − 31` for `16 ≤ k ≤ 29`, and for `k = 30` with `q ≥ 2^32/5` (`= 1.6·2^29`);
/// - `s1 = 28` for `k = 30` with `q < 2^32/5`.
///
/// *Upper bound*: `⌊x/2^s1⌋ ≤ x/2^s1` and `μ ≤ 2^(s1+32)/q`, so `q̂ ≤ x/q`.
///
/// *Lower bound*: if `x < 2^s1` then `q̂ = 0` and `x < 2^s1 ≤ 2^(k−1) < q` (every case has
/// `s1 ≤ k − 1`). Otherwise `x/2^s1 − 1` and `2^(s1+32)/q − 1` are non-negative lower bounds of the
/// two factors, so the product over `2^32` is at least `x/q − E` with
/// `E = x/2^(s1+32) + 2^s1/q`, and `E ≤ 1` gives `q̂ ≥ ⌊x/q⌋ − 1`. With `x < q²` and
/// `v = q/2^(k−1) ∈ (1, 2)`:
/// - `s1 = 0`: `E < q²/2^32 + 1/q ≤ 1/4 + 1/2`;
/// - `s1 = 2k − 31`, `k ≤ 29`: `E < q²/2^(2k+1) + 2^(2k−31)/2^(k−1) ≤ 1/2 + 1/2`;
/// - `s1 = 29`, `k = 30`: `E < v²/8 + 1/v`, which is below 1 on `[1.6, 2)` (it is below
///   `0.95` at `1.6`, has a single minimum near `1.59` and tends to 1 at 2);
/// - `s1 = 28`, `k = 30`: `E < v²/4 + 1/(2v)`, increasing on `(1, 1.6)` up to `0.9525`.
///
/// *Widths*: `⌊x/2^s1⌋ < 2^32` (`x < 2^30` for `s1 = 0`; `< q²/2^(2k−31) ≤ 2^31` for
/// `s1 = 2k − 31`; `< 2.56·2^30` for `s1 = 28`); `μ < 2^(s1+32)/2^(k−1) ≤ 2^32` (`μ ≤ 2^31`
/// for `s1 = 0`); `q̂ ≤ x/q < q`. Every product is one `vpmuludq` of 32-bit values into a
/// 64-bit lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BarrettParams {
    /// `μ = ⌊2^(s1+32)/q⌋`.
    pub(super) mu: u32,
    /// The shift `s1` (see the type's documentation).
    pub(super) s1: u32,
}

impl BarrettParams {
    /// The constants for `m` (any `2 ≤ q < 2^30`).
    pub(super) fn new(m: &Modulus) -> Self {
        let q = m.value();
        // ⌈log₂ q⌉ for q ≥ 2 is the bit width of q − 1.
        let k = 32 - (q - 1).leading_zeros();
        let s1 = match k {
            0..=15 => 0,
            30 if 5 * u64::from(q) < 1 << 32 => 28,
            _ => 2 * k - 31,
        };
        // μ < 2^32 (see the type's documentation); the conversion never fails.
        let mu = u32::try_from((1u64 << (s1 + 32)) / u64::from(q)).unwrap_or(u32::MAX);
        Self { mu, s1 }
    }
}

/// A constant operand `w < q` with its Shoup companion `⌊w·2^32/q⌋`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ShoupConst {
    /// `w`.
    pub(super) w: u32,
    /// `⌊w·2^32/q⌋`.
    pub(super) shoup: u32,
}

impl ShoupConst {
    /// `w` with its companion modulo `m`.
    ///
    /// # Preconditions
    /// `w < q`.
    pub(super) fn new(w: u32, m: &Modulus) -> Self {
        Self { w, shoup: m.shoup(w) }
    }

    /// `1` with its companion `⌊2^32/q⌋`: the Shoup product by it reduces any `x < 2^32` into
    /// `[0, 2q)`.
    pub(super) fn one(m: &Modulus) -> Self {
        Self::new(1, m)
    }
}

/// Converts coefficients `start..n` of one polynomial with `BasisConversion::convert_one` (the
/// tail past the last full vector; empty unless `n` is not a multiple of the vector width).
pub(super) fn convert_tail_scalar(conv: &BasisConversion, src: &[u32], out: &mut [u32], n: usize, start: usize) {
    if start >= n {
        return;
    }
    let (lf, lt) = (conv.from().len(), conv.to().len());
    let (mut x, mut scratch, mut y) = (vec![0; lf], vec![0; lf], vec![0; lt]);
    for c in start..n {
        for (l, xl) in x.iter_mut().enumerate() {
            *xl = src[l * n + c];
        }
        conv.convert_one(&x, &mut scratch, &mut y);
        for (j, &yj) in y.iter().enumerate() {
            out[j * n + c] = yj;
        }
    }
}

/// Runs `kernels::drop_last_limb_poly` on coefficients `start..n` of one polynomial (the tail
/// past the last full vector), through a compact copy of those columns.
pub(super) fn drop_tail_scalar(rows: &[u32], out: &mut [u32], n: usize, start: usize, drop: &DropLimb<'_>) {
    if start >= n {
        return;
    }
    let (l, w) = (drop.remaining.len(), n - start);
    let tail_rows: Vec<u32> = rows.chunks_exact(n).flat_map(|r| r[start..].iter().copied()).collect();
    let mut tail_out = vec![0; l * w];
    kernels::drop_last_limb_poly(&tail_rows, &mut tail_out, w, drop);
    for (dst, src) in out.chunks_exact_mut(n).zip(tail_out.chunks_exact(w)) {
        dst[start..].copy_from_slice(src);
    }
}
