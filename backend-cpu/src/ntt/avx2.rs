//! AVX2 negacyclic NTT (8 × u32 lanes).
//!
//! # Algorithm
//! The same transform as [`NttTable::forward`] / [`NttTable::inverse`]: Cooley–Tukey forward
//! and Gentleman–Sande inverse with the `ψ`-twist merged into the butterflies
//! (Longa–Naehrig 2016), Harvey's lazy butterflies (Harvey 2014) and Shoup multiplication by
//! precomputed twiddle companions `w' = ⌊w·2^32/q⌋`. Forward values stay in `[0, 4q)`, inverse
//! values in `[0, 2q)`; `q < 2^30` keeps every lazy value below `2^32`. Because every output
//! is fully reduced into `[0, q)` and the transform is exact modulo `q`, the results are
//! bit-identical to the scalar reference.
//!
//! A Shoup product of 8 lanes costs two `vpmuludq` (even lanes, then odd lanes shifted down)
//! for `⌊x·w'/2^32⌋`, a shift and a blend to merge the two high halves, and two `vpmulld`.
//!
//! # Passes
//! With `G = 2^g` vectors per group (`g = min(3, log₂ n − 3)`):
//! - **Outer passes** (forward: first; inverse: last): radix-`2^k` passes (`k ≤ 3`), each
//!   doing `k` consecutive stages on `2^k` vectors held in registers, with broadcast twiddles
//!   (every stage with half-block `t ≥ 8G` has one twiddle per 8-lane vector).
//! - **Tail pass** (forward: last; inverse: first): groups of `G` consecutive vectors; the
//!   `g` stages with `t ∈ {4G, …, 8}` pair whole vectors, then each pair of vectors (two
//!   8-element chunks) runs the three stages `t = 4, 2, 1` in registers, the `G/2` pairs of a
//!   group in lockstep. Before each of these stages the two vectors of a pair are shuffled
//!   (`vperm2i128`, `vpunpck*qdq`, `vshufps`, `vpunpck*dq`, `vpermd`) so that the butterfly
//!   again pairs lane `i` of one register with lane `i` of the other. The forward tail ends
//!   with the reduction into `[0, q)`; the inverse's last stage multiplies by `n⁻¹` (merged
//!   into its twiddles), so the inverse needs no separate scaling pass.
//!
//! # Table layout
//! - `w`/`ws` (`winv`/`winvs`): copies of `psi_rev`/`psi_rev_shoup` (their inverses),
//!   indexed `m + i` as in the reference, for the broadcast stages.
//! - `ftail`/`itail`: one 192-byte record per pair of vectors: the 8-lane twiddles of the
//!   stages `t = 1, 2, 4` in the lane order of their layout, then their Shoup companions in
//!   the same places. `vpmuludq` reads only the even lanes, so the odd lanes' companions are
//!   loaded one element further on, which puts them on the even lanes (in the layouts of
//!   `t = 2, 4` both lanes of each pair share one twiddle).
//!
//! Every kernel runs in constant time: no branch or address depends on the data.

use std::arch::x86_64::*;

use ringvault_core::ntt::NttTable;

/// `u32` per pair-of-vectors record of the tail tables.
const REC: usize = 48;

/// Offsets (in `u32`) of the stages' twiddles inside a record.
const OFF_T1: usize = 0;
const OFF_T2: usize = 8;
const OFF_T4: usize = 16;
/// Offset of the Shoup companions.
const OFF_WS: usize = 24;

/// The bit of the element offset (within a pair: bits 0–2 inside an 8-element chunk, bit 3
/// the chunk) held by the register index (`R`) and lane bits `L0..L2` of a layout of two
/// vectors, in that order.
type Layout = [u32; 4];

/// Natural order: register = chunk, lane = offset in the chunk.
#[cfg(test)]
const NAT: Layout = [3, 0, 1, 2];
/// Before the stages `t = 4, 2, 1` (the register index is the butterfly bit).
const S4: Layout = [2, 0, 1, 3];
const S2: Layout = [1, 0, 2, 3];
const S1: Layout = [0, 2, 1, 3];

/// Element offset (0..16) held by lane `lane` of register `reg` in layout `l`.
fn element(l: &Layout, reg: usize, lane: usize) -> usize {
    let mut e = reg << l[0];
    for (k, &bit) in l[1..].iter().enumerate() {
        e |= ((lane >> k) & 1) << bit;
    }
    e
}

/// Radix exponents (each ≤ 3) of the outer passes covering `stages` stages, in forward
/// order.
fn outer_passes(stages: u32) -> Vec<u32> {
    match stages {
        0 => Vec::new(),
        4 => vec![2, 2],
        s if s <= 3 => vec![s],
        s => {
            let mut v = vec![3; (s / 3) as usize];
            match s % 3 {
                1 => {
                    v.pop();
                    v.extend([2, 2]);
                }
                2 => v.push(2),
                _ => {}
            }
            v
        }
    }
}

/// Twiddles and their layouts for the AVX2 kernels of one `(n, q)`.
#[derive(Clone, Debug)]
pub(crate) struct Avx2Ntt {
    n: usize,
    q: u32,
    /// `log₂` of the vectors per group in the tail pass.
    g: u32,
    /// Radix exponents of the outer passes, in forward order.
    passes: Vec<u32>,
    w: Vec<u32>,
    ws: Vec<u32>,
    winv: Vec<u32>,
    winvs: Vec<u32>,
    /// `n⁻¹` and `ψ^{-brv(1)}·n⁻¹` with their Shoup companions (the inverse's last stage).
    n_inv: [u32; 2],
    last: [u32; 2],
    ftail: Vec<u32>,
    itail: Vec<u32>,
}

/// A twiddle `w` with its Shoup companion for the even and the odd lanes (`vpmuludq` reads
/// the even 32-bit lanes of each operand).
#[derive(Clone, Copy)]
struct Tw {
    w: __m256i,
    se: __m256i,
    so: __m256i,
}

/// Per-kernel constants: `q` and `2q`.
#[derive(Clone, Copy)]
struct Cst {
    q: __m256i,
    q2: __m256i,
}

impl Avx2Ntt {
    /// Smallest `n` these kernels handle; the dispatcher uses the scalar path below it.
    pub(crate) const MIN_N: usize = 16;

    /// Builds the layouts for `table`'s `(n, q)`.
    ///
    /// # Panics
    /// If `n < MIN_N` (the dispatcher never builds one there).
    pub(crate) fn new(table: &NttTable) -> Self {
        let n = table.n();
        assert!(n >= Self::MIN_N, "Avx2Ntt needs n ≥ {}", Self::MIN_N);
        let log_n = table.log_n();
        let q = table.modulus().value();
        let g = (log_n - 3).min(3);
        let passes = outer_passes(log_n - 3 - g);
        let m = table.modulus();
        let n_inv = table.n_inv();
        let last_w = m.mul(table.psi_inv_rev()[1], n_inv);

        let tail = |tw: &[u32], tws: &[u32]| {
            let pairs = n / 16;
            let mut out = vec![0u32; pairs * REC];
            for (p, rec) in out.chunks_exact_mut(REC).enumerate() {
                for (t, layout, off) in [(1usize, &S1, OFF_T1), (2, &S2, OFF_T2), (4, &S4, OFF_T4)] {
                    for lane in 0..8 {
                        let g_idx = 16 * p + element(layout, 0, lane);
                        let k = n / (2 * t) + g_idx / (2 * t);
                        rec[off + lane] = tw[k];
                        rec[OFF_WS + off + lane] = tws[k];
                    }
                }
            }
            out
        };
        Self {
            n,
            q,
            g,
            passes,
            w: table.psi_rev().to_vec(),
            ws: table.psi_rev_shoup().to_vec(),
            winv: table.psi_inv_rev().to_vec(),
            winvs: table.psi_inv_rev_shoup().to_vec(),
            n_inv: [n_inv, table.n_inv_shoup()],
            last: [last_w, m.shoup(last_w)],
            ftail: tail(table.psi_rev(), table.psi_rev_shoup()),
            itail: tail(table.psi_inv_rev(), table.psi_inv_rev_shoup()),
        }
    }

    /// Forward NTT in place, same output as [`NttTable::forward`] (bit-reversed order).
    ///
    /// Lazy Harvey butterflies with Shoup products; outer radix-`2^k` passes, then the tail
    /// pass with the in-register stages and the final reduction (see the module docs).
    ///
    /// # Preconditions
    /// The CPU supports AVX2; `a.len() == n ≥ MIN_N` (asserted); every `a[i] < q`.
    /// # Postconditions
    /// `a` holds the forward transform, every value in `[0, q)`. Constant time: no branch or
    /// memory address depends on the values.
    #[target_feature(enable = "avx2")]
    pub(crate) fn forward(&self, a: &mut [u32]) {
        assert_eq!(a.len(), self.n);
        let ptr = a.as_mut_ptr();
        let mut m = 1;
        for &k in &self.passes {
            match k {
                1 => self.fwd_pass::<1>(ptr, m),
                2 => self.fwd_pass::<2>(ptr, m),
                _ => self.fwd_pass::<3>(ptr, m),
            }
            m <<= k;
        }
        match self.g {
            1 => self.fwd_tail::<1>(ptr, m),
            2 => self.fwd_tail::<2>(ptr, m),
            _ => self.fwd_tail::<3>(ptr, m),
        }
    }

    /// Inverse NTT in place (with the `n⁻¹` scaling), same output as [`NttTable::inverse`].
    ///
    /// Lazy Harvey (Gentleman–Sande) butterflies with Shoup products; the tail pass with the
    /// in-register stages first, then the outer passes; `n⁻¹` is merged into the last stage.
    ///
    /// # Preconditions
    /// As [`Self::forward`] (`a` in bit-reversed order).
    /// # Postconditions
    /// `a` holds the coefficients, every value in `[0, q)`. Constant time.
    #[target_feature(enable = "avx2")]
    pub(crate) fn inverse(&self, a: &mut [u32]) {
        assert_eq!(a.len(), self.n);
        let ptr = a.as_mut_ptr();
        let no_outer = self.passes.is_empty();
        match (self.g, no_outer) {
            (1, true) => self.inv_head::<1, true>(ptr),
            (1, false) => self.inv_head::<1, false>(ptr),
            (2, true) => self.inv_head::<2, true>(ptr),
            (2, false) => self.inv_head::<2, false>(ptr),
            (_, true) => self.inv_head::<3, true>(ptr),
            (_, false) => self.inv_head::<3, false>(ptr),
        }
        // Blocks at the first stage of the next pass.
        let mut h = self.n >> (4 + self.g);
        for (idx, &k) in self.passes.iter().enumerate().rev() {
            let last = idx == 0;
            match (k, last) {
                (1, false) => self.inv_pass::<1, false>(ptr, h),
                (1, true) => self.inv_pass::<1, true>(ptr, h),
                (2, false) => self.inv_pass::<2, false>(ptr, h),
                (2, true) => self.inv_pass::<2, true>(ptr, h),
                (_, false) => self.inv_pass::<3, false>(ptr, h),
                (_, true) => self.inv_pass::<3, true>(ptr, h),
            }
            h >>= k;
        }
    }

    /// `K` forward stages starting with `m` blocks, on `2^K` vectors at a time.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fwd_pass<const K: usize>(&self, a: *mut u32, m: usize) {
        let c = self.consts();
        let r = 1usize << K;
        // Half-block of the first stage, and the distance between the 2^K vectors.
        let t = self.n / (2 * m);
        let s = 2 * t / r;
        debug_assert!(s >= 8 && m << K <= self.n / 16);
        for i in 0..m {
            let base = 2 * i * t;
            for j in (0..s).step_by(8) {
                let mut v = [_mm256_setzero_si256(); 8];
                for (k, x) in v.iter_mut().enumerate().take(r) {
                    // SAFETY: base + j + k·s + 8 ≤ 2·(i + 1)·t ≤ n = a.len() (asserted by the
                    // caller): i < m, j < s, k < 2^K, s·2^K = 2t.
                    *x = unsafe { _mm256_loadu_si256(a.add(base + j + k * s).cast()) };
                }
                for l in 0..K {
                    let half = r >> (l + 1);
                    for gi in 0..1usize << l {
                        let tw = self.bcast(&self.w, &self.ws, (m << l) + (i << l) + gi);
                        for x in 0..half {
                            let i0 = gi * 2 * half + x;
                            (v[i0], v[i0 + half]) = fwd_bf(v[i0], v[i0 + half], tw, c);
                        }
                    }
                }
                for (k, x) in v.iter().enumerate().take(r) {
                    // SAFETY: as for the loads.
                    unsafe { _mm256_storeu_si256(a.add(base + j + k * s).cast(), *x) };
                }
            }
        }
    }

    /// The forward tail: `G = 2^GL` vectors per group, `m` groups (= blocks of the first of
    /// its stages); final reduction into `[0, q)`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fwd_tail<const GL: usize>(&self, a: *mut u32, m: usize) {
        let c = self.consts();
        let gv = 1usize << GL;
        let np = gv / 2;
        debug_assert_eq!(m * gv * 8, self.n);
        let brv = lane_reversal();
        for grp in 0..m {
            let base = grp * gv * 8;
            let mut v = [_mm256_setzero_si256(); 8];
            for (k, x) in v.iter_mut().enumerate().take(gv) {
                // SAFETY: base + 8k + 8 ≤ (grp + 1)·8G ≤ n = a.len().
                *x = unsafe { _mm256_loadu_si256(a.add(base + 8 * k).cast()) };
            }
            for l in 0..GL {
                let half = gv >> (l + 1);
                for gi in 0..1usize << l {
                    let tw = self.bcast(&self.w, &self.ws, (m << l) + (grp << l) + gi);
                    for x in 0..half {
                        let i0 = gi * 2 * half + x;
                        (v[i0], v[i0 + half]) = fwd_bf(v[i0], v[i0 + half], tw, c);
                    }
                }
            }
            // The pairs of vectors go through the in-register stages in lockstep, which gives
            // the out-of-order core independent work to overlap the latencies.
            let rec = tail_records(&self.ftail, grp * np, np);
            let (mut x, mut y) = ([_mm256_setzero_si256(); 4], [_mm256_setzero_si256(); 4]);
            for pp in 0..np {
                (x[pp], y[pp]) = swap_halves(v[2 * pp], v[2 * pp + 1]);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = fwd_bf(x[pp], y[pp], tw_rec(rec[pp], OFF_T4), c);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = (_mm256_unpacklo_epi64(x[pp], y[pp]), _mm256_unpackhi_epi64(x[pp], y[pp]));
            }
            for pp in 0..np {
                (x[pp], y[pp]) = fwd_bf(x[pp], y[pp], tw_rec(rec[pp], OFF_T2), c);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = shuffle_even_odd(x[pp], y[pp]);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = fwd_bf(x[pp], y[pp], tw_rec(rec[pp], OFF_T1), c);
            }
            for pp in 0..np {
                let (lo, hi) = swap_halves(x[pp], y[pp]);
                v[2 * pp] = reduce_4q(_mm256_permutevar8x32_epi32(lo, brv), c);
                v[2 * pp + 1] = reduce_4q(_mm256_permutevar8x32_epi32(hi, brv), c);
            }
            for (k, x) in v.iter().enumerate().take(gv) {
                // SAFETY: as for the loads.
                unsafe { _mm256_storeu_si256(a.add(base + 8 * k).cast(), *x) };
            }
        }
    }

    /// The inverse head: the mirror of [`Self::fwd_tail`]; with `LAST`, its last stage is the
    /// transform's last and applies `n⁻¹`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn inv_head<const GL: usize, const LAST: bool>(&self, a: *mut u32) {
        let c = self.consts();
        let gv = 1usize << GL;
        let np = gv / 2;
        let m = self.n / (8 * gv);
        let brv = lane_reversal();
        for grp in 0..m {
            let base = grp * gv * 8;
            let mut v = [_mm256_setzero_si256(); 8];
            for (k, x) in v.iter_mut().enumerate().take(gv) {
                // SAFETY: base + 8k + 8 ≤ (grp + 1)·8G ≤ n = a.len().
                *x = unsafe { _mm256_loadu_si256(a.add(base + 8 * k).cast()) };
            }
            let rec = tail_records(&self.itail, grp * np, np);
            let (mut x, mut y) = ([_mm256_setzero_si256(); 4], [_mm256_setzero_si256(); 4]);
            for pp in 0..np {
                let lo = _mm256_permutevar8x32_epi32(v[2 * pp], brv);
                let hi = _mm256_permutevar8x32_epi32(v[2 * pp + 1], brv);
                (x[pp], y[pp]) = swap_halves(lo, hi);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = inv_bf(x[pp], y[pp], tw_rec(rec[pp], OFF_T1), c);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = (_mm256_unpacklo_epi32(x[pp], y[pp]), _mm256_unpackhi_epi32(x[pp], y[pp]));
            }
            for pp in 0..np {
                (x[pp], y[pp]) = inv_bf(x[pp], y[pp], tw_rec(rec[pp], OFF_T2), c);
            }
            for pp in 0..np {
                (x[pp], y[pp]) = (_mm256_unpacklo_epi64(x[pp], y[pp]), _mm256_unpackhi_epi64(x[pp], y[pp]));
            }
            for pp in 0..np {
                (x[pp], y[pp]) = inv_bf(x[pp], y[pp], tw_rec(rec[pp], OFF_T4), c);
            }
            for pp in 0..np {
                (v[2 * pp], v[2 * pp + 1]) = swap_halves(x[pp], y[pp]);
            }
            let scaled_levels = usize::from(LAST);
            for l in 0..GL - scaled_levels {
                let half = 1usize << l;
                let blocks = gv >> (l + 1);
                let h = self.n >> (4 + l);
                for bi in 0..blocks {
                    let tw = self.bcast(&self.winv, &self.winvs, h + grp * blocks + bi);
                    for x in 0..half {
                        let i0 = bi * 2 * half + x;
                        (v[i0], v[i0 + half]) = inv_bf(v[i0], v[i0 + half], tw, c);
                    }
                }
            }
            if LAST {
                let (ni, lw) = self.last_tw();
                let half = gv / 2;
                for i0 in 0..half {
                    (v[i0], v[i0 + half]) = inv_bf_last(v[i0], v[i0 + half], ni, lw, c);
                }
            }
            for (k, x) in v.iter().enumerate().take(gv) {
                // SAFETY: as for the loads.
                unsafe { _mm256_storeu_si256(a.add(base + 8 * k).cast(), *x) };
            }
        }
    }

    /// `K` inverse stages starting with `h` blocks, on `2^K` vectors at a time; with `LAST`,
    /// the last of them is the transform's last and applies `n⁻¹`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn inv_pass<const K: usize, const LAST: bool>(&self, a: *mut u32, h: usize) {
        let c = self.consts();
        let r = 1usize << K;
        // Half-block of the first stage (= distance between the vectors), super-blocks.
        let t = self.n / (2 * h);
        let supers = h >> (K - 1);
        debug_assert!(t >= 8 && supers >= 1);
        for i in 0..supers {
            let base = i * r * t;
            for j in (0..t).step_by(8) {
                let mut v = [_mm256_setzero_si256(); 8];
                for (k, x) in v.iter_mut().enumerate().take(r) {
                    // SAFETY: base + j + k·t + 8 ≤ (i + 1)·2^K·t ≤ n = a.len(): j < t,
                    // k < 2^K, i < supers = n / (2^K·t).
                    *x = unsafe { _mm256_loadu_si256(a.add(base + j + k * t).cast()) };
                }
                let scaled_levels = usize::from(LAST);
                for l in 0..K - scaled_levels {
                    let half = 1usize << l;
                    let groups = r >> (l + 1);
                    for gi in 0..groups {
                        let tw = self.bcast(&self.winv, &self.winvs, (h >> l) + i * groups + gi);
                        for x in 0..half {
                            let i0 = gi * 2 * half + x;
                            (v[i0], v[i0 + half]) = inv_bf(v[i0], v[i0 + half], tw, c);
                        }
                    }
                }
                if LAST {
                    let (ni, lw) = self.last_tw();
                    let half = r / 2;
                    for i0 in 0..half {
                        (v[i0], v[i0 + half]) = inv_bf_last(v[i0], v[i0 + half], ni, lw, c);
                    }
                }
                for (k, x) in v.iter().enumerate().take(r) {
                    // SAFETY: as for the loads.
                    unsafe { _mm256_storeu_si256(a.add(base + j + k * t).cast(), *x) };
                }
            }
        }
    }

    /// The broadcast twiddles of the transform's last inverse stage: `n⁻¹` and `w·n⁻¹`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn last_tw(&self) -> (Tw, Tw) {
        (Tw::splat(self.n_inv[0], self.n_inv[1]), Tw::splat(self.last[0], self.last[1]))
    }

    /// `q` and `2q`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn consts(&self) -> Cst {
        Cst { q: _mm256_set1_epi32(self.q as i32), q2: _mm256_set1_epi32((2 * self.q) as i32) }
    }

    /// Broadcast twiddle `k` of `w`/`ws`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bcast(&self, w: &[u32], ws: &[u32], k: usize) -> Tw {
        debug_assert!(k < w.len() && k < ws.len());
        // SAFETY: every caller's index is a twiddle index `m + i < n` of a stage with `m`
        // blocks, and both tables hold `n` entries.
        unsafe { Tw::splat(*w.get_unchecked(k), *ws.get_unchecked(k)) }
    }
}

impl Tw {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn splat(w: u32, ws: u32) -> Self {
        let s = _mm256_set1_epi32(ws as i32);
        Self { w: _mm256_set1_epi32(w as i32), se: s, so: s }
    }
}

/// Pointers to the `np ≤ 4` tail records from pair `first` on.
#[inline]
fn tail_records(table: &[u32], first: usize, np: usize) -> [*const u32; 4] {
    let mut rec = [core::ptr::null::<u32>(); 4];
    for (pp, r) in rec.iter_mut().enumerate().take(np) {
        // The slice index checks that the record lies in the table.
        *r = table[(first + pp) * REC..(first + pp + 1) * REC].as_ptr();
    }
    rec
}

/// The twiddles at offset `off` of the record at `rec`.
#[inline]
#[target_feature(enable = "avx2")]
fn tw_rec(rec: *const u32, off: usize) -> Tw {
    // SAFETY: `rec` points at a record of REC u32 and `off ≤ OFF_T4`: the reads end at
    // `OFF_WS + off + 9 ≤ REC`.
    unsafe {
        Tw {
            w: _mm256_loadu_si256(rec.add(off).cast()),
            se: _mm256_loadu_si256(rec.add(OFF_WS + off).cast()),
            so: _mm256_loadu_si256(rec.add(OFF_WS + off + 1).cast()),
        }
    }
}

/// `vpermd` indices reversing the three lane bits (an involution).
#[inline]
#[target_feature(enable = "avx2")]
fn lane_reversal() -> __m256i {
    _mm256_setr_epi32(0, 4, 2, 6, 1, 5, 3, 7)
}

/// `([x.lo, y.lo], [x.hi, y.hi])`: swaps the register bit with the 128-bit half.
#[inline]
#[target_feature(enable = "avx2")]
fn swap_halves(x: __m256i, y: __m256i) -> (__m256i, __m256i) {
    (_mm256_permute2x128_si256::<0x20>(x, y), _mm256_permute2x128_si256::<0x31>(x, y))
}

/// `([x0, x2, y0, y2], [x1, x3, y1, y3])` in each 128-bit half.
#[inline]
#[target_feature(enable = "avx2")]
fn shuffle_even_odd(x: __m256i, y: __m256i) -> (__m256i, __m256i) {
    let (xf, yf) = (_mm256_castsi256_ps(x), _mm256_castsi256_ps(y));
    (
        _mm256_castps_si256(_mm256_shuffle_ps::<0x88>(xf, yf)),
        _mm256_castps_si256(_mm256_shuffle_ps::<0xDD>(xf, yf)),
    )
}

/// Lazy Shoup product `≡ x·w (mod q)` in `[0, 2q)`, any `x < 2^32`.
#[inline]
#[target_feature(enable = "avx2")]
fn shoup_lazy(x: __m256i, tw: Tw, c: Cst) -> __m256i {
    let pe = _mm256_mul_epu32(x, tw.se);
    let po = _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), tw.so);
    // Even lanes: the high half of the even products; odd lanes: of the odd products.
    let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(pe), po);
    _mm256_sub_epi32(_mm256_mullo_epi32(x, tw.w), _mm256_mullo_epi32(hi, c.q))
}

/// Forward (Cooley–Tukey) lazy butterfly: `x, y < 4q` → `x + w·y`, `x − w·y`, both `< 4q`.
#[inline]
#[target_feature(enable = "avx2")]
fn fwd_bf(x: __m256i, y: __m256i, tw: Tw, c: Cst) -> (__m256i, __m256i) {
    let u = _mm256_min_epu32(x, _mm256_sub_epi32(x, c.q2));
    let v = shoup_lazy(y, tw, c);
    (_mm256_add_epi32(u, v), _mm256_sub_epi32(_mm256_add_epi32(u, c.q2), v))
}

/// Inverse (Gentleman–Sande) lazy butterfly: `x, y < 2q` → `x + y`, `(x − y)·w`, both `< 2q`.
#[inline]
#[target_feature(enable = "avx2")]
fn inv_bf(x: __m256i, y: __m256i, tw: Tw, c: Cst) -> (__m256i, __m256i) {
    let s = _mm256_add_epi32(x, y);
    let d = _mm256_sub_epi32(_mm256_add_epi32(x, c.q2), y);
    (_mm256_min_epu32(s, _mm256_sub_epi32(s, c.q2)), shoup_lazy(d, tw, c))
}

/// The transform's last inverse butterfly with `n⁻¹` merged: `x, y < 2q` →
/// `(x + y)·n⁻¹`, `(x − y)·w·n⁻¹`, fully reduced (`ni`, `lw`: the twiddles of
/// [`Avx2Ntt::last_tw`]).
#[inline]
#[target_feature(enable = "avx2")]
fn inv_bf_last(x: __m256i, y: __m256i, ni: Tw, lw: Tw, c: Cst) -> (__m256i, __m256i) {
    let s = _mm256_add_epi32(x, y);
    let d = _mm256_sub_epi32(_mm256_add_epi32(x, c.q2), y);
    (reduce_2q(shoup_lazy(s, ni, c), c), reduce_2q(shoup_lazy(d, lw, c), c))
}

/// `x mod q` for `x < 4q`.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce_4q(x: __m256i, c: Cst) -> __m256i {
    let x = _mm256_min_epu32(x, _mm256_sub_epi32(x, c.q2));
    _mm256_min_epu32(x, _mm256_sub_epi32(x, c.q))
}

/// `x mod q` for `x < 2q`.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce_2q(x: __m256i, c: Cst) -> __m256i {
    _mm256_min_epu32(x, _mm256_sub_epi32(x, c.q))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};
    use ringvault_core::prime::ntt_primes;

    /// Whether this CPU runs the kernels (a skip note, or a failure when CI requires them).
    fn available() -> bool {
        crate::CpuLevel::Avx2.available_for_tests()
    }

    /// Every `(n, q)` of the tests: `n` from `MIN_N` to `2^16`, primes of 30, 29, 25, 20 bits (20 only below 2^16).
    fn cases() -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        let mut n = Avx2Ntt::MIN_N;
        while n <= 1 << 16 {
            // Below 2^20 there are no two primes ≡ 1 (mod 2^17).
            let widths: &[u32] = if n < 1 << 16 { &[30, 29, 25, 20] } else { &[30, 29, 25] };
            for &bits in widths {
                for q in ntt_primes(bits, n, 2).unwrap() {
                    out.push((n, q));
                }
            }
            n *= 2;
        }
        out
    }

    /// Random, all-zero, all-`q − 1` and alternating inputs.
    fn inputs(n: usize, q: u32, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v: Vec<Vec<u32>> = (0..3).map(|_| (0..n).map(|_| rng.next_u32() % q).collect()).collect();
        v.push(vec![0; n]);
        v.push(vec![q - 1; n]);
        v.push((0..n).map(|i| if i % 2 == 0 { 0 } else { q - 1 }).collect());
        v.push((0..n).map(|i| if i % 2 == 0 { q - 1 } else { 0 }).collect());
        v
    }

    #[test]
    fn forward_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for (n, q) in cases() {
            let table = NttTable::new(n, q).unwrap();
            let k = Avx2Ntt::new(&table);
            for (idx, a) in inputs(n, q, (n as u64) << 32 | u64::from(q)).into_iter().enumerate() {
                let mut want = a.clone();
                table.forward(&mut want);
                let mut got = a.clone();
                // SAFETY: AVX2 checked by `available`.
                unsafe { k.forward(&mut got) };
                assert_eq!(got, want, "forward n = {n}, q = {q}, input {idx}");
            }
        }
    }

    #[test]
    fn inverse_avx2_matches_scalar() {
        if !available() {
            return;
        }
        for (n, q) in cases() {
            let table = NttTable::new(n, q).unwrap();
            let k = Avx2Ntt::new(&table);
            for (idx, a) in inputs(n, q, (n as u64) << 33 | u64::from(q)).into_iter().enumerate() {
                let mut want = a.clone();
                table.inverse(&mut want);
                let mut got = a.clone();
                // SAFETY: AVX2 checked by `available`.
                unsafe { k.inverse(&mut got) };
                assert_eq!(got, want, "inverse n = {n}, q = {q}, input {idx}");
            }
        }
    }

    #[test]
    fn round_trip_avx2() {
        if !available() {
            return;
        }
        for (n, q) in cases() {
            let table = NttTable::new(n, q).unwrap();
            let k = Avx2Ntt::new(&table);
            for a in inputs(n, q, 7 + n as u64) {
                let mut x = a.clone();
                // SAFETY: AVX2 checked by `available`.
                unsafe {
                    k.forward(&mut x);
                    k.inverse(&mut x);
                }
                assert_eq!(x, a, "round trip n = {n}, q = {q}");
            }
        }
    }

    #[test]
    fn layouts_are_consistent() {
        // Every layout is a bijection onto the 16 offsets of a pair of vectors.
        for l in [NAT, S4, S2, S1] {
            let mut seen = [false; 16];
            for r in 0..2 {
                for lane in 0..8 {
                    seen[element(&l, r, lane)] = true;
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
        assert_eq!(outer_passes(0), Vec::<u32>::new());
        for s in 1..13 {
            let p = outer_passes(s);
            assert_eq!(p.iter().sum::<u32>(), s);
            assert!(p.iter().all(|&k| (1..=3).contains(&k)));
        }
    }
}
