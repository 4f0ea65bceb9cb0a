//! AVX2 element-wise kernels (8 × u32 lanes).
//!
//! Every function has the signature and exact results of its twin in
//! `ringvault_core::ring::kernels` (or `BasisConversion::convert_one` for the conversion):
//! outputs are fully reduced and bit-identical to the scalar kernels. Rows are processed
//! 8 residues at a time; a row shorter than a vector, and the tail of a row whose length is not
//! a multiple of 8, go through the scalar kernel.
//!
//! ## Arithmetic
//! Moduli are below `2^30`, so a sum of two reduced values, and every lazy value below `4q`,
//! fits a `u32` lane; conditional subtraction is the branch-free `min(x, x − q)` (unsigned: when
//! `x < q`, `x − q` wraps to `2^32 + x − q > x`). Products of two 32-bit lanes come from
//! `vpmuludq`, which multiplies the even lanes into 64-bit lanes; the odd lanes are shifted down
//! by 32 first and the two halves are blended back.
//! - **Shoup** (constant operand `w < q`, companion `w' = ⌊w·2^32/q⌋`):
//!   `x·w − ⌊x·w'/2^32⌋·q ∈ [0, 2q)` for every `x < 2^32`, computed with wrapping 32-bit
//!   arithmetic; one conditional subtraction reduces it fully.
//! - **Barrett** (both operands vary): see [`BarrettParams`]; the quotient estimate is the
//!   high word of one more `vpmuludq` and is short by at most one `q`, so one conditional
//!   subtraction reduces the remainder fully.
//!
//! Nothing in the vector loops branches on data or indexes memory with it. Tails shorter than
//! a vector (rows or polynomials with fewer than 8 residues left) run the scalar reference
//! kernel and inherit its timing behaviour.
//!
//! [`BarrettParams`], [`ShoupConst`] and the scalar tails live in `super::shared`, with the
//! AVX-512 kernels.

use core::arch::x86_64::*;

use ringvault_core::ring::kernels::{self, DropLimb};
use ringvault_core::rns::BasisConversion;
use ringvault_core::zq::Modulus;

use super::shared::{BarrettParams, ShoupConst, convert_tail_scalar, drop_tail_scalar};

/// Lanes per vector.
const LANES: usize = 8;


// ---------------------------------------------------------------------------------------------
// Vector helpers. All are `#[inline]` and carry the same target feature as their callers.
// ---------------------------------------------------------------------------------------------

/// Broadcast of a `u32`.
#[inline]
#[target_feature(enable = "avx2")]
fn splat(x: u32) -> __m256i {
    _mm256_set1_epi32(x as i32)
}

/// Loads 8 lanes from the start of `src`, which holds at least 8 elements.
#[inline]
#[target_feature(enable = "avx2")]
fn load(src: &[u32]) -> __m256i {
    // Free in practice: callers pass chunks_exact chunks or subslices of length LANES.
    assert!(src.len() >= LANES, "vector load from a short slice");
    // SAFETY: `src` holds at least LANES elements (asserted); loadu needs no alignment.
    unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
}

/// Stores 8 lanes at the start of `dst`, which holds at least 8 elements.
#[inline]
#[target_feature(enable = "avx2")]
fn store(dst: &mut [u32], v: __m256i) {
    assert!(dst.len() >= LANES, "vector store to a short slice");
    // SAFETY: `dst` holds at least LANES writable elements (asserted); storeu needs no
    // alignment.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// `x − q` where `x ≥ q`, else `x`, lane-wise, for any `x` and `q` (`min(x, x − q)`: when
/// `x < q`, `x − q` wraps to `2^32 + x − q > x`).
#[inline]
#[target_feature(enable = "avx2")]
fn reduce_once(x: __m256i, q: __m256i) -> __m256i {
    _mm256_min_epu32(x, _mm256_sub_epi32(x, q))
}

/// `(a + b) mod q` for `a, b < q`.
#[inline]
#[target_feature(enable = "avx2")]
fn add_mod(a: __m256i, b: __m256i, q: __m256i) -> __m256i {
    reduce_once(_mm256_add_epi32(a, b), q)
}

/// `(a − b) mod q` for `a, b < q`: the wrapped difference plus `q` where it wrapped.
#[inline]
#[target_feature(enable = "avx2")]
fn sub_mod(a: __m256i, b: __m256i, q: __m256i) -> __m256i {
    let d = _mm256_sub_epi32(a, b);
    // a ≥ b: d < q < d + q. a < b: d ≥ 2^32 − q, d + q wraps to a − b + q < q.
    _mm256_min_epu32(d, _mm256_add_epi32(d, q))
}

/// `⌊x·w'/2^32⌋` lane-wise, for a broadcast `w'`.
#[inline]
#[target_feature(enable = "avx2")]
fn mulhi_const(x: __m256i, w_shoup: __m256i) -> __m256i {
    let even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(x, w_shoup));
    // The broadcast constant has w' in both halves of each 64-bit lane.
    let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), w_shoup);
    _mm256_blend_epi32::<0b1010_1010>(even, odd)
}

/// Lazy Shoup product: `≡ x·w (mod q)`, in `[0, 2q)`, for any `x < 2^32`.
#[inline]
#[target_feature(enable = "avx2")]
fn mul_shoup_lazy(x: __m256i, w: __m256i, w_shoup: __m256i, q: __m256i) -> __m256i {
    let hi = mulhi_const(x, w_shoup);
    _mm256_sub_epi32(_mm256_mullo_epi32(x, w), _mm256_mullo_epi32(hi, q))
}

/// Shoup product `x·w mod q`, fully reduced, for any `x < 2^32`.
#[inline]
#[target_feature(enable = "avx2")]
fn mul_shoup(x: __m256i, w: __m256i, w_shoup: __m256i, q: __m256i) -> __m256i {
    reduce_once(mul_shoup_lazy(x, w, w_shoup, q), q)
}

/// `x mod q` for any `x < 2^32`: the Shoup product by `1` (companion `⌊2^32/q⌋`) lands in
/// `[0, 2q)`, then one conditional subtraction.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce_any(x: __m256i, one_shoup: __m256i, q: __m256i) -> __m256i {
    reduce_once(_mm256_sub_epi32(x, _mm256_mullo_epi32(mulhi_const(x, one_shoup), q)), q)
}

/// Broadcast Barrett constants (see [`BarrettParams`]).
#[derive(Clone, Copy)]
struct Barrett {
    q: __m256i,
    mu: __m256i,
    s1: __m128i,
}

impl Barrett {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(m: &Modulus) -> Self {
        let p = BarrettParams::new(m);
        Self { q: splat(m.value()), mu: splat(p.mu), s1: _mm_cvtsi32_si128(p.s1 as i32) }
    }

    /// Lazy product `≡ a·b (mod q)` in `[0, 2q)`, for `a, b < q`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul_lazy(&self, a: __m256i, b: __m256i) -> __m256i {
        // 64-bit products x of the even lanes, and of the odd lanes shifted down.
        let even = _mm256_mul_epu32(a, b);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(b));
        // x mod 2^32 in every lane (the low words, odd ones swapped up).
        let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_shuffle_epi32::<0b10_11_00_01>(odd));
        // q̂ = ⌊⌊x/2^s1⌋·μ/2^32⌋: the high words of the products (even ones swapped down).
        let he = _mm256_mul_epu32(_mm256_srl_epi64(even, self.s1), self.mu);
        let ho = _mm256_mul_epu32(_mm256_srl_epi64(odd, self.s1), self.mu);
        let qhat = _mm256_blend_epi32::<0b1010_1010>(_mm256_shuffle_epi32::<0b10_11_00_01>(he), ho);
        // r = x − q̂·q < 2q < 2^32, so the low words suffice.
        _mm256_sub_epi32(lo, _mm256_mullo_epi32(qhat, self.q))
    }

    /// `a·b mod q`, fully reduced, for `a, b < q`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul(&self, a: __m256i, b: __m256i) -> __m256i {
        reduce_once(self.mul_lazy(a, b), self.q)
    }
}

// ---------------------------------------------------------------------------------------------
// Row kernels.
// ---------------------------------------------------------------------------------------------

/// `a[i] = (a[i] + b[i]) mod q`: add, then one conditional subtraction (`min(s, s − q)`).
///
/// # Preconditions
/// The CPU supports AVX2; `a.len() == b.len()` (asserted); every `a[i], b[i] < q`.
/// # Postconditions
/// Each `a[i]` equals `kernels::add_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn add_row(a: &mut [u32], b: &[u32], m: &Modulus) {
    assert_eq!(a.len(), b.len(), "add_row: row lengths differ");
    let q = splat(m.value());
    let mut va = a.chunks_exact_mut(LANES);
    let mut vb = b.chunks_exact(LANES);
    for (x, y) in va.by_ref().zip(vb.by_ref()) {
        store(x, add_mod(load(x), load(y), q));
    }
    kernels::add_row(va.into_remainder(), vb.remainder(), m);
}

/// `a[i] = (a[i] − b[i]) mod q`: wrapping difference `d`, then `min(d, d + q)`.
///
/// # Preconditions
/// The CPU supports AVX2; `a.len() == b.len()` (asserted); every `a[i], b[i] < q`.
/// # Postconditions
/// Each `a[i]` equals `kernels::sub_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn sub_row(a: &mut [u32], b: &[u32], m: &Modulus) {
    assert_eq!(a.len(), b.len(), "sub_row: row lengths differ");
    let q = splat(m.value());
    let mut va = a.chunks_exact_mut(LANES);
    let mut vb = b.chunks_exact(LANES);
    for (x, y) in va.by_ref().zip(vb.by_ref()) {
        store(x, sub_mod(load(x), load(y), q));
    }
    kernels::sub_row(va.into_remainder(), vb.remainder(), m);
}

/// `a[i] = −a[i] mod q`: `d = q − a[i] ∈ (0, q]`, then `min(d, d − q)` maps `q` to `0`.
///
/// # Preconditions
/// The CPU supports AVX2; every `a[i] < q`.
/// # Postconditions
/// Each `a[i]` equals `kernels::negate_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn negate_row(a: &mut [u32], m: &Modulus) {
    let q = splat(m.value());
    let mut va = a.chunks_exact_mut(LANES);
    for x in va.by_ref() {
        store(x, reduce_once(_mm256_sub_epi32(q, load(x)), q));
    }
    kernels::negate_row(va.into_remainder(), m);
}

/// `a[i] = a[i]·b[i] mod q`: Barrett reduction of the 64-bit products ([`BarrettParams`]) into
/// `[0, 2q)`, then one conditional subtraction.
///
/// # Preconditions
/// The CPU supports AVX2; `a.len() == b.len()` (asserted); every `a[i], b[i] < q`.
/// # Postconditions
/// Each `a[i]` equals `kernels::mul_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_row(a: &mut [u32], b: &[u32], m: &Modulus) {
    assert_eq!(a.len(), b.len(), "mul_row: row lengths differ");
    let br = Barrett::new(m);
    let mut va = a.chunks_exact_mut(LANES);
    let mut vb = b.chunks_exact(LANES);
    for (x, y) in va.by_ref().zip(vb.by_ref()) {
        store(x, br.mul(load(x), load(y)));
    }
    kernels::mul_row(va.into_remainder(), vb.remainder(), m);
}

/// `acc[i] = (acc[i] + a[i]·b[i]) mod q`: Barrett product ([`BarrettParams`]) reduced into
/// `[0, q)`, then a modular addition.
///
/// # Preconditions
/// The CPU supports AVX2; `a`, `b`, `acc` have one length (asserted); every input `< q`.
/// # Postconditions
/// Each `acc[i]` equals `kernels::mul_acc_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_acc_row(a: &[u32], b: &[u32], acc: &mut [u32], m: &Modulus) {
    assert_eq!(a.len(), acc.len(), "mul_acc_row: row lengths differ");
    assert_eq!(b.len(), acc.len(), "mul_acc_row: row lengths differ");
    let br = Barrett::new(m);
    let mut vz = acc.chunks_exact_mut(LANES);
    let mut va = a.chunks_exact(LANES);
    let mut vb = b.chunks_exact(LANES);
    for ((z, x), y) in vz.by_ref().zip(va.by_ref()).zip(vb.by_ref()) {
        store(z, add_mod(load(z), br.mul(load(x), load(y)), br.q));
    }
    kernels::mul_acc_row(va.remainder(), vb.remainder(), vz.into_remainder(), m);
}

/// `acc[i] = (acc[i] + Σⱼ a[j][i]·b[j][i]) mod q`: per 8 residues, the 64-bit products of the
/// even and of the odd lanes are summed exactly in two vectors of 64-bit lanes and reduced once
/// per `kernels::DOT_CHUNK` terms (`q + 15·(q − 1)² < 2^64`). The reduction of a 64-bit sum
/// `h·2^32 + l` is `h·(2^32 mod q)` by Shoup (`[0, 2q)`) plus `l mod q` (`[0, q)`), then two
/// conditional subtractions (`< 3q < 2^32`).
///
/// # Preconditions
/// The CPU supports AVX2; `a.len() == b.len()` and every row has `acc`'s length (asserted);
/// every residue below `q`.
/// # Postconditions
/// Each `acc[i]` equals `kernels::mul_dot_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_dot_row(a: &[&[u32]], b: &[&[u32]], acc: &mut [u32], m: &Modulus) {
    assert_eq!(a.len(), b.len(), "mul_dot_row: term counts differ");
    assert!(a.iter().chain(b).all(|r| r.len() == acc.len()), "mul_dot_row: row lengths differ");
    let q = splat(m.value());
    let two_q = splat(2 * m.value());
    let wrap = ShoupConst::new(m.reduce_u64(1 << 32), m);
    let (w, ws) = (splat(wrap.w), splat(wrap.shoup));
    let one = splat(ShoupConst::one(m).shoup);
    let low_words = _mm256_set1_epi64x(0xFFFF_FFFF);
    let full = acc.len() / LANES * LANES;
    for start in (0..full).step_by(LANES) {
        let mut cur = load(&acc[start..]);
        for (ca, cb) in a.chunks(kernels::DOT_CHUNK).zip(b.chunks(kernels::DOT_CHUNK)) {
            let mut even = _mm256_and_si256(cur, low_words);
            let mut odd = _mm256_srli_epi64::<32>(cur);
            for (x, y) in ca.iter().zip(cb) {
                let (vx, vy) = (load(&x[start..]), load(&y[start..]));
                even = _mm256_add_epi64(even, _mm256_mul_epu32(vx, vy));
                odd = _mm256_add_epi64(odd, _mm256_mul_epu32(_mm256_srli_epi64::<32>(vx), _mm256_srli_epi64::<32>(vy)));
            }
            // Low words (odd ones swapped up) and high words (even ones swapped down).
            let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_shuffle_epi32::<0b10_11_00_01>(odd));
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_shuffle_epi32::<0b10_11_00_01>(even), odd);
            let sum = _mm256_add_epi32(mul_shoup_lazy(hi, w, ws, q), reduce_any(lo, one, q));
            cur = reduce_once(reduce_once(sum, two_q), q);
        }
        store(&mut acc[start..], cur);
    }
    let (ta, tb): (Vec<&[u32]>, Vec<&[u32]>) = (a.iter().map(|x| &x[full..]).collect(), b.iter().map(|x| &x[full..]).collect());
    kernels::mul_dot_row(&ta, &tb, &mut acc[full..], m);
}

/// `a[i] = a[i]·c mod q` for a constant `c < q`: Shoup multiplication with `⌊c·2^32/q⌋`, then
/// one conditional subtraction.
///
/// # Preconditions
/// The CPU supports AVX2; `c < q`. (Any `a[i] < 2^32` is reduced correctly.)
/// # Postconditions
/// Each `a[i]` equals `kernels::mul_constant_row`'s result, in `[0, q)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn mul_constant_row(a: &mut [u32], c: u32, m: &Modulus) {
    let k = ShoupConst::new(c, m);
    let (w, ws, q) = (splat(k.w), splat(k.shoup), splat(m.value()));
    let mut va = a.chunks_exact_mut(LANES);
    for x in va.by_ref() {
        store(x, mul_shoup(load(x), w, ws, q));
    }
    kernels::mul_constant_row(va.into_remainder(), c, m);
}

/// `out[i] = a[i] mod p` for any `a[i] < 2^32`: Shoup multiplication by `1` (companion
/// `⌊2^32/p⌋`), which lands in `[0, 2p)`, then one conditional subtraction.
///
/// # Preconditions
/// The CPU supports AVX2; `a.len() == out.len()` (asserted).
/// # Postconditions
/// Each `out[i]` equals `kernels::reduce_row`'s result, in `[0, p)`. Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn reduce_row(a: &[u32], out: &mut [u32], p: &Modulus) {
    assert_eq!(a.len(), out.len(), "reduce_row: row lengths differ");
    let one = ShoupConst::one(p);
    let (ws, q) = (splat(one.shoup), splat(p.value()));
    let mut vo = out.chunks_exact_mut(LANES);
    let mut va = a.chunks_exact(LANES);
    for (o, x) in vo.by_ref().zip(va.by_ref()) {
        store(o, reduce_any(load(x), ws, q));
    }
    kernels::reduce_row(va.remainder(), vo.into_remainder(), p);
}

/// Fast basis conversion of one polynomial: `src` holds `|Q|` rows of `n` (row `i` modulo
/// `qᵢ`), `out` receives `|P|` rows of `n` (row `j` modulo `pⱼ`).
///
/// For 8 coefficients at a time: `yᵢ = [xᵢ·q̃ᵢ]_{qᵢ}` (Shoup, fully reduced), then for each
/// target `pⱼ` the lazy sum `Σᵢ yᵢ·(Q/qᵢ mod pⱼ)` with Shoup products in `[0, 2pⱼ)` and the
/// accumulator kept below `2pⱼ` (sum `< 4pⱼ < 2^32`, one conditional subtraction of `2pⱼ`),
/// finally reduced below `pⱼ`. Coefficients past the last multiple of 8 use
/// `BasisConversion::convert_one`.
///
/// # Preconditions
/// The CPU supports AVX2; `src.len() == |Q|·n`, `out.len() == |P|·n` (asserted); every
/// `src[i·n + c] < qᵢ`.
/// # Postconditions
/// `out[j·n + c]` equals `convert_one`'s value `j` for coefficient `c`, in `[0, pⱼ)`.
/// Branch-free vector loop.
#[target_feature(enable = "avx2")]
pub(crate) fn convert_basis_poly(conv: &BasisConversion, src: &[u32], out: &mut [u32], n: usize) {
    let from = conv.from().moduli();
    let to = conv.to();
    let (sf, cf) = (conv.source_factors(), conv.cross_factors());
    assert_eq!(src.len(), from.len() * n, "convert_basis_poly: source length");
    assert_eq!(out.len(), to.len() * n, "convert_basis_poly: output length");
    assert_eq!(sf.len(), from.len(), "convert_basis_poly: source factors");
    assert_eq!(cf.len(), to.len(), "convert_basis_poly: cross factors");
    assert!(cf.iter().all(|row| row.len() == from.len()), "convert_basis_poly: cross factors");

    let main = n - n % LANES;
    let mut y = vec![_mm256_setzero_si256(); from.len()];
    for base in (0..main).step_by(LANES) {
        for (i, (yi, (m, &(f, fs)))) in y.iter_mut().zip(from.iter().zip(sf)).enumerate() {
            let x = load(&src[i * n + base..i * n + base + LANES]);
            *yi = mul_shoup(x, splat(f), splat(fs), splat(m.value()));
        }
        for (j, (p, row)) in to.iter().zip(cf).enumerate() {
            let (pv, two_p) = (splat(p.value()), splat(2 * p.value()));
            let mut acc = _mm256_setzero_si256();
            for (&yi, &(c, cs)) in y.iter().zip(row) {
                // acc < 2p, term < 2p: the sum is below 4p < 2^32, then back below 2p.
                acc = reduce_once(_mm256_add_epi32(acc, mul_shoup_lazy(yi, splat(c), splat(cs), pv)), two_p);
            }
            store(&mut out[j * n + base..j * n + base + LANES], reduce_once(acc, pv));
        }
    }
    convert_tail_scalar(conv, src, out, n, main);
}

/// Modulus switching of one polynomial, dropping its last prime `q_L`: the vector twin of
/// `kernels::drop_last_limb_poly` (same arguments, same results).
///
/// For 8 coefficients at a time: `y = [x_L·t⁻¹]_{q_L}` (Shoup), and for each remaining prime
/// `qᵢ`: `yᵢ = y mod qᵢ` (Shoup by 1), minus `q_L mod qᵢ` where `y > q_L/2` (the centered lift;
/// selected with a mask, no branch), `δ = yᵢ·t mod qᵢ` and `outᵢ = (xᵢ − δ)·q_L⁻¹ mod qᵢ`
/// (Shoup products by the constants, fully reduced).
///
/// # Preconditions
/// The CPU supports AVX2; `rows.len() == (L'+1)·n` and `out.len() == L'·n` with
/// `L' = drop.remaining.len() == drop.consts.len()` (asserted); constants from
/// `kernels::DropLimb::new`; every residue below its prime.
/// # Postconditions
/// `out` equals `kernels::drop_last_limb_poly`'s output, fully reduced. Branch-free vector loop
/// (the centered lift is a mask).
#[target_feature(enable = "avx2")]
pub(crate) fn drop_last_limb_poly(rows: &[u32], out: &mut [u32], n: usize, drop: &DropLimb<'_>) {
    let (last, t_inv_last, remaining, consts) = (drop.last, drop.t_inv_last, &drop.remaining[..], &drop.consts[..]);
    let l = remaining.len();
    assert_eq!(consts.len(), l, "drop_last_limb_poly: constants");
    assert_eq!(rows.len(), (l + 1) * n, "drop_last_limb_poly: input length");
    assert_eq!(out.len(), l * n, "drop_last_limb_poly: output length");
    let main = n - n % LANES;

    let t_inv = ShoupConst::new(t_inv_last, last);
    let (t_inv_w, t_inv_s, ql) = (splat(t_inv.w), splat(t_inv.shoup), splat(last.value()));
    // Residues stay below 2^30, so a signed comparison is an unsigned one.
    let half = splat(last.value() / 2);
    let prepared: Vec<_> = remaining
        .iter()
        .zip(consts)
        .map(|(m, c)| (m.value(), ShoupConst::one(m), c.ql_mod, ShoupConst::new(c.t_mod, m), ShoupConst::new(c.ql_inv, m)))
        .collect();

    let x_last = &rows[l * n..(l + 1) * n];
    for base in (0..main).step_by(LANES) {
        let y = mul_shoup(load(&x_last[base..base + LANES]), t_inv_w, t_inv_s, ql);
        let above = _mm256_cmpgt_epi32(y, half);
        for (i, &(qi, one, ql_mod, t_mod, ql_inv)) in prepared.iter().enumerate() {
            let q = splat(qi);
            let yi = reduce_any(y, splat(one.shoup), q);
            let yi = sub_mod(yi, _mm256_and_si256(above, splat(ql_mod)), q);
            let delta = mul_shoup(yi, splat(t_mod.w), splat(t_mod.shoup), q);
            let xi = load(&rows[i * n + base..i * n + base + LANES]);
            let o = mul_shoup(sub_mod(xi, delta, q), splat(ql_inv.w), splat(ql_inv.shoup), q);
            store(&mut out[i * n + base..i * n + base + LANES], o);
        }
    }
    drop_tail_scalar(rows, out, n, main, drop);
}

// ---------------------------------------------------------------------------------------------
// Scalar tails shared with the AVX-512 kernels.
// ---------------------------------------------------------------------------------------------


#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};
    use ringvault_core::prime::ntt_primes;
    use ringvault_core::rns::RnsBasis;

    const LENGTHS: [usize; 7] = [1, 7, 16, 17, 64, 1000, 4096];

    /// Whether this CPU runs the kernels (a skip note, or a failure when CI requires them).
    fn available() -> bool {
        crate::CpuLevel::Avx2.available_for_tests()
    }

    /// NTT primes of widths 30, 29, 24 and 20, plus small, extreme and random moduli (not all
    /// prime: the kernels' reductions hold for any modulus `2 ≤ q < 2^30`).
    fn moduli() -> Vec<Modulus> {
        let mut qs: Vec<u32> = [30, 29, 24, 20].iter().flat_map(|&b| ntt_primes(b, 4096, 2).unwrap()).collect();
        qs.extend([2, 3, 17, 30, 12289, 1 << 29, (1 << 29) + 1, (1 << 30) - 1]);
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
        qs.extend((0..6).map(|i| (rng.next_u32() >> (2 + 4 * i)).max(2)));
        qs.into_iter().map(|q| Modulus::new(q).unwrap()).collect()
    }

    /// A residue below `q`, often an edge value.
    fn residue(rng: &mut ChaCha8Rng, q: u32) -> u32 {
        match rng.next_u32() % 8 {
            0 => 0,
            1 => q - 1,
            2 => 1 % q,
            _ => rng.next_u32() % q,
        }
    }

    fn row(rng: &mut ChaCha8Rng, q: u32, len: usize) -> Vec<u32> {
        (0..len).map(|_| residue(rng, q)).collect()
    }

    /// Runs `check(rng, modulus, len)` over every modulus and length.
    fn for_cases(seed: u64, mut check: impl FnMut(&mut ChaCha8Rng, &Modulus, usize)) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for m in moduli() {
            for len in LENGTHS {
                check(&mut rng, &m, len);
            }
        }
    }

    #[test]
    fn mul_dot_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(15, |rng, m, len| {
            let q = m.value();
            for terms in [0, 1, 7, kernels::DOT_CHUNK, kernels::DOT_CHUNK + 1, 31] {
                // Random rows, and rows of q − 1 (the largest sums a chunk can hold).
                for max in [false, true] {
                    let make = |rng: &mut ChaCha8Rng| if max { vec![q - 1; len] } else { row(rng, q, len) };
                    let a: Vec<Vec<u32>> = (0..terms).map(|_| make(rng)).collect();
                    let b: Vec<Vec<u32>> = (0..terms).map(|_| make(rng)).collect();
                    let acc = make(rng);
                    let (ra, rb): (Vec<&[u32]>, Vec<&[u32]>) = (a.iter().map(Vec::as_slice).collect(), b.iter().map(Vec::as_slice).collect());
                    let mut expect = acc.clone();
                    kernels::mul_dot_row(&ra, &rb, &mut expect, m);
                    let mut got = acc.clone();
                    // SAFETY: AVX2 is supported (checked above).
                    unsafe { mul_dot_row(&ra, &rb, &mut got, m) };
                    assert_eq!(got, expect, "q = {q}, len = {len}, terms = {terms}, max = {max}");
                }
            }
        });
    }

    #[test]
    fn add_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(1, |rng, m, len| {
            let (a, b) = (row(rng, m.value(), len), row(rng, m.value(), len));
            let mut expect = a.clone();
            kernels::add_row(&mut expect, &b, m);
            let mut got = a.clone();
            // SAFETY: AVX2 is supported (checked above).
            unsafe { add_row(&mut got, &b, m) };
            assert_eq!(got, expect, "q = {}, len = {len}", m.value());
        });
    }

    #[test]
    fn sub_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(2, |rng, m, len| {
            let (a, b) = (row(rng, m.value(), len), row(rng, m.value(), len));
            let mut expect = a.clone();
            kernels::sub_row(&mut expect, &b, m);
            let mut got = a.clone();
            // SAFETY: AVX2 is supported (checked above).
            unsafe { sub_row(&mut got, &b, m) };
            assert_eq!(got, expect, "q = {}, len = {len}", m.value());
        });
    }

    #[test]
    fn negate_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(3, |rng, m, len| {
            let a = row(rng, m.value(), len);
            let mut expect = a.clone();
            kernels::negate_row(&mut expect, m);
            let mut got = a.clone();
            // SAFETY: AVX2 is supported (checked above).
            unsafe { negate_row(&mut got, m) };
            assert_eq!(got, expect, "q = {}, len = {len}", m.value());
        });
    }

    #[test]
    fn mul_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(4, |rng, m, len| {
            let (a, b) = (row(rng, m.value(), len), row(rng, m.value(), len));
            let mut expect = a.clone();
            kernels::mul_row(&mut expect, &b, m);
            let mut got = a.clone();
            // SAFETY: AVX2 is supported (checked above).
            unsafe { mul_row(&mut got, &b, m) };
            assert_eq!(got, expect, "q = {}, len = {len}", m.value());
        });
    }

    #[test]
    fn mul_acc_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(5, |rng, m, len| {
            let (a, b, acc) = (row(rng, m.value(), len), row(rng, m.value(), len), row(rng, m.value(), len));
            let mut expect = acc.clone();
            kernels::mul_acc_row(&a, &b, &mut expect, m);
            let mut got = acc.clone();
            // SAFETY: AVX2 is supported (checked above).
            unsafe { mul_acc_row(&a, &b, &mut got, m) };
            assert_eq!(got, expect, "q = {}, len = {len}", m.value());
        });
    }

    #[test]
    fn mul_constant_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(6, |rng, m, len| {
            let q = m.value();
            let a = row(rng, q, len);
            for c in [0, 1 % q, q - 1, residue(rng, q), rng.next_u32() % q] {
                let mut expect = a.clone();
                kernels::mul_constant_row(&mut expect, c, m);
                let mut got = a.clone();
                // SAFETY: AVX2 is supported (checked above).
                unsafe { mul_constant_row(&mut got, c, m) };
                assert_eq!(got, expect, "q = {q}, c = {c}, len = {len}");
            }
        });
    }

    #[test]
    fn reduce_row_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for_cases(7, |rng, p, len| {
            let a: Vec<u32> = (0..len)
                .map(|_| match rng.next_u32() % 8 {
                    0 => u32::MAX,
                    1 => (1 << 30) - 1,
                    2 => 0,
                    3 => p.value() - 1,
                    4 => p.value(),
                    5 => rng.next_u32() >> 2,
                    _ => rng.next_u32(),
                })
                .collect();
            let mut expect = vec![0; len];
            kernels::reduce_row(&a, &mut expect, p);
            let mut got = vec![u32::MAX; len];
            // SAFETY: AVX2 is supported (checked above).
            unsafe { reduce_row(&a, &mut got, p) };
            assert_eq!(got, expect, "p = {}, len = {len}", p.value());
        });
    }

    /// Source and target bases of 1..=6 and 1..=4 primes, of several width combinations.
    fn conversions() -> Vec<BasisConversion> {
        let mut convs = Vec::new();
        for (src_bits, dst_bits) in [(30, 29), (24, 30), (30, 20), (29, 29)] {
            let src_all = ntt_primes(src_bits, 4096, 6).unwrap();
            // Same widths: take targets past the sources so the bases stay coprime.
            let dst_all: Vec<u32> = ntt_primes(dst_bits, 4096, 10).unwrap().into_iter().filter(|p| !src_all.contains(p)).take(4).collect();
            for ls in 1..=6 {
                for lt in 1..=4 {
                    let from = RnsBasis::new(&src_all[..ls]).unwrap();
                    convs.push(BasisConversion::new(&from, &dst_all[..lt]).unwrap());
                }
            }
        }
        convs
    }

    #[test]
    fn convert_basis_poly_avx2_matches_scalar() {
        if !available() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for conv in conversions() {
            for n in [2, 4, 8, 16, 17, 64, 1000, 4096] {
                let src: Vec<u32> = conv.from().moduli().iter().flat_map(|m| row(&mut rng, m.value(), n)).collect();
                let mut expect = vec![0; conv.to().len() * n];
                crate::elementwise::convert_basis_poly_scalar(&conv, &src, &mut expect, n);
                let mut got = vec![u32::MAX; conv.to().len() * n];
                // SAFETY: AVX2 is supported (checked above).
                unsafe { convert_basis_poly(&conv, &src, &mut got, n) };
                assert_eq!(got, expect, "|Q| = {}, |P| = {}, n = {n}", conv.from().len(), conv.to().len());
            }
        }
    }

    #[test]
    fn drop_last_limb_poly_avx2_matches_scalar() {
        if !available() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for bits in [30, 29, 24, 20] {
            let primes = ntt_primes(bits, 4096, 5).unwrap();
            let moduli: Vec<Modulus> = primes.iter().map(|&q| Modulus::new(q).unwrap()).collect();
            for l in 2..=5 {
                let (last, remaining) = (&moduli[l - 1], moduli[..l - 1].iter().collect::<Vec<_>>());
                for t in [1, 2, 65537, 257] {
                    let drop = kernels::DropLimb::new(last, remaining.clone(), t).unwrap();
                    for n in [2, 8, 16, 17, 64, 1000, 4096] {
                        let rows: Vec<u32> = moduli[..l].iter().flat_map(|m| row(&mut rng, m.value(), n)).collect();
                        let mut expect = vec![0; (l - 1) * n];
                        kernels::drop_last_limb_poly(&rows, &mut expect, n, &drop);
                        let mut got = vec![u32::MAX; (l - 1) * n];
                        // SAFETY: AVX2 is supported (checked above).
                        unsafe { drop_last_limb_poly(&rows, &mut got, n, &drop) };
                        assert_eq!(got, expect, "bits = {bits}, L = {l}, t = {t}, n = {n}");
                    }
                }
            }
        }
    }

    /// `x − q̂·q` as the vector kernels compute it, checked against the documented bounds.
    fn barrett_remainder(m: &Modulus, a: u32, b: u32) -> u64 {
        let (q, p) = (u64::from(m.value()), BarrettParams::new(m));
        let x = u64::from(a) * u64::from(b);
        let t = x >> p.s1;
        assert!(t < 1 << 32, "q = {q}, a = {a}, b = {b}");
        let qhat = (t * u64::from(p.mu)) >> 32;
        let r = x - qhat * q;
        assert!(r < 2 * q && r % q == x % q, "q = {q}, a = {a}, b = {b}");
        r
    }

    #[test]
    fn barrett_params_bounds() {
        // Small, extreme and composite moduli with extreme operands.
        let fifth = ((1u64 << 32) / 5) as u32; // the k = 30 threshold, 2^32/5 rounded down
        let mut qs = vec![2u32, 3, 4, 5, 17, 30, 12289, 1 << 15, (1 << 15) + 1, (1 << 29) - 3, 1 << 29, (1 << 29) + 1];
        qs.extend([fifth - 1, fifth, fifth + 1, fifth + 2, (1 << 30) - 35, (1 << 30) - 3, (1 << 30) - 1]);
        for q in qs {
            let m = Modulus::new(q).unwrap();
            for (a, b) in [(q - 1, q - 1), (q - 1, q - 2), (q / 2, q - 1), (1, q - 1), (0, 0), (q - 1, 1)] {
                barrett_remainder(&m, a, b);
            }
        }
        // Random moduli of every width, random and extreme operands.
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        for i in 0..40_000u32 {
            // Every width; half of the 30-bit ones in (2^29, 2^30).
            let q = if i % 2 == 0 { (rng.next_u32() >> 2) | 1 << 29 } else { (rng.next_u32() >> (2 + i % 28)).max(2) };
            let m = Modulus::new(q).unwrap();
            for (a, b) in [(q - 1, q - 1), (rng.next_u32() % q, rng.next_u32() % q)] {
                barrett_remainder(&m, a, b);
            }
        }
    }
}
