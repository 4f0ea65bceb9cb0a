//! The backend conformance suite: every [`Backend`] op checked bit for bit against the scalar
//! reference kernels of [`crate::ring::kernels`] and [`crate::ntt`], on random inputs and edge
//! values (0, q − 1), plus the shape errors every backend must return.
//!
//! Enabled by the `testing` feature. A backend crate instantiates it with
//! [`backend_conformance_tests!`](crate::backend_conformance_tests):
//!
//! ```text
//! ringvault_core::backend_conformance_tests!(scalar, CpuBackend::with_level(CpuLevel::Scalar).unwrap());
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support: a failed expectation is a failed test")]

use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::backend::Backend;
use crate::prime::ntt_primes;
use crate::ring::{BatchShape, Coeff, Domain, HasShape, Ntt, PolyBatch, RingContext, kernels};
use crate::rns::{BasisConversion, DigitDecomposition, RnsBasis};

/// Ring degrees the suite runs at (the GPU suite on lavapipe stays at `n ≤ 2^12`).
pub const DEGREES: [usize; 4] = [16, 256, 1024, 4096];

/// A context of six primes of mixed widths (30, 30, 29, 27, 24, 20 bits) for degree `n`.
pub fn test_ring(n: usize) -> Arc<RingContext> {
    let mut primes = ntt_primes(30, n, 2).expect("30-bit primes");
    for bits in [29, 27, 24, 20] {
        primes.push(ntt_primes(bits, n, 1).expect("primes")[0]);
    }
    Arc::new(RingContext::new(n, &primes).expect("test ring"))
}

/// Random residues for `shape`; polynomial 0 is replaced by edge values (rows of 0, of
/// `q − 1`, and alternating `0, q − 1, 1, q − 2, …`) when `edges` is set.
pub fn random_batch<D: Domain>(ring: &RingContext, shape: BatchShape, seed: u64, edges: bool) -> PolyBatch<D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.n;
    let mut data = vec![0u32; shape.len()];
    for (r, row) in data.chunks_exact_mut(n).enumerate() {
        let q = ring.modulus(shape.prime_of_row(r)).value();
        let limb = r % shape.limbs.len();
        let poly = r / shape.limbs.len();
        for (i, x) in row.iter_mut().enumerate() {
            *x = if edges && poly == 0 {
                match limb % 3 {
                    0 => q - 1,
                    1 => 0,
                    _ => if i % 2 == 0 { (i as u32 / 2) % q } else { q - 1 - (i as u32 / 2) % q },
                }
            } else {
                rng.next_u32() % q
            };
        }
    }
    PolyBatch::from_residues(ring, shape, data).expect("valid random batch")
}

/// Applies `f(row_in_out, row_b, modulus)` to every row of `acc`, broadcasting `b` when it has
/// one polynomial.
fn reference_rows<D: Domain>(ring: &RingContext, acc: &mut PolyBatch<D>, b: &PolyBatch<D>, f: impl Fn(&mut [u32], &[u32], &crate::zq::Modulus)) {
    let shape = acc.shape().clone();
    let width = shape.limbs.len();
    for r in 0..shape.rows() {
        let m = *ring.modulus(shape.prime_of_row(r));
        let rb = if b.shape().count == 1 { r % width } else { r };
        let brow = b.row(rb).to_vec();
        let n = shape.n;
        f(&mut acc.data_mut()[r * n..(r + 1) * n], &brow, &m);
    }
}

fn up<B: Backend, D: Domain>(be: &B, plan: &B::Plan, h: &PolyBatch<D>) -> B::Batch<D> {
    be.upload(plan, h).expect("upload")
}

fn down<B: Backend, D: Domain>(be: &B, plan: &B::Plan, d: &B::Batch<D>) -> PolyBatch<D> {
    be.download(plan, d).expect("download")
}

/// Shapes exercised per degree: one row; three polynomials on three limbs; many polynomials
/// on the full ring (enough rows for a backend to go parallel).
fn shapes(n: usize) -> Vec<BatchShape> {
    vec![
        BatchShape::new(1, n, vec![0]),
        BatchShape::new(3, n, vec![5, 1, 3]),
        BatchShape::new(12, n, vec![0, 1, 2, 3, 4, 5]),
    ]
}

/// Runs `check` for every degree and shape with a fresh plan.
fn for_each_case<B: Backend>(be: &B, degrees: &[usize], mut check: impl FnMut(&B, &B::Plan, &RingContext, BatchShape, u64)) {
    for &n in degrees {
        let ring = test_ring(n);
        let plan = be.plan(ring.clone()).expect("plan");
        for (s, shape) in shapes(n).into_iter().enumerate() {
            check(be, &plan, &ring, shape, (n * 31 + s) as u64);
        }
    }
}

/// Upload then download returns the same residues.
pub fn upload_download_round_trip<B: Backend>(be: &B, degrees: &[usize]) {
    for_each_case(be, degrees, |be, plan, ring, shape, seed| {
        let h = random_batch::<Coeff>(ring, shape, seed, true);
        assert_eq!(down(be, plan, &up(be, plan, &h)), h, "{}: round trip", be.name());
        let z = be.zeros::<Ntt>(plan, h.shape().clone()).expect("zeros");
        assert!(down(be, plan, &z).data().iter().all(|&x| x == 0));
    });
}

/// Forward and inverse NTT equal the scalar reference, and round-trip.
pub fn ntt_matches_reference<B: Backend>(be: &B, degrees: &[usize]) {
    for_each_case(be, degrees, |be, plan, ring, shape, seed| {
        let h = random_batch::<Coeff>(ring, shape.clone(), seed, true);
        let mut expect = h.clone();
        for r in 0..shape.rows() {
            let n = shape.n;
            ring.table(shape.prime_of_row(r)).forward(&mut expect.data_mut()[r * n..(r + 1) * n]);
        }
        let fwd = be.ntt_forward(plan, up(be, plan, &h)).expect("forward");
        let got = down(be, plan, &fwd);
        assert_eq!(got.data(), expect.data(), "{}: forward NTT n={} shape={:?}", be.name(), shape.n, shape);
        // Inverse on arbitrary (edge-valued) NTT-domain input.
        let hn = random_batch::<Ntt>(ring, shape.clone(), seed ^ 0x55, true);
        let mut expect_inv = hn.clone();
        for r in 0..shape.rows() {
            let n = shape.n;
            ring.table(shape.prime_of_row(r)).inverse(&mut expect_inv.data_mut()[r * n..(r + 1) * n]);
        }
        let inv = be.ntt_inverse(plan, up(be, plan, &hn)).expect("inverse");
        assert_eq!(down(be, plan, &inv).data(), expect_inv.data(), "{}: inverse NTT n={}", be.name(), shape.n);
        let back = be.ntt_inverse(plan, fwd).expect("inverse");
        assert_eq!(down(be, plan, &back), h, "{}: NTT round trip", be.name());
    });
}

/// Add, subtract, negate, pointwise multiply, multiply-accumulate and per-limb constants equal
/// the reference, with and without broadcasting.
pub fn elementwise_matches_reference<B: Backend>(be: &B, degrees: &[usize]) {
    for_each_case(be, degrees, |be, plan, ring, shape, seed| {
        let a = random_batch::<Ntt>(ring, shape.clone(), seed, true);
        let b = random_batch::<Ntt>(ring, shape.clone(), seed + 1, false);
        let one = random_batch::<Ntt>(ring, BatchShape::new(1, shape.n, shape.limbs.clone()), seed + 2, true);
        let name = be.name();
        for (label, other) in [("same", &b), ("broadcast", &one)] {
            type Op<'a, B> = &'a dyn Fn(&mut <B as Backend>::Batch<Ntt>, &<B as Backend>::Batch<Ntt>);
            let run = |op: Op<'_, B>| {
                let mut d = up(be, plan, &a);
                op(&mut d, &up(be, plan, other));
                down(be, plan, &d)
            };
            let mut e = a.clone();
            reference_rows(ring, &mut e, other, kernels::add_row);
            assert_eq!(run(&|x, y| be.add_assign(plan, x, y).expect("add")), e, "{name}: add ({label})");
            let mut e = a.clone();
            reference_rows(ring, &mut e, other, kernels::sub_row);
            assert_eq!(run(&|x, y| be.sub_assign(plan, x, y).expect("sub")), e, "{name}: sub ({label})");
            let mut e = a.clone();
            reference_rows(ring, &mut e, other, kernels::mul_row);
            assert_eq!(run(&|x, y| be.mul_pointwise_assign(plan, x, y).expect("mul")), e, "{name}: mul ({label})");
            // acc += a ⊙ other, with acc = b.
            let mut e = b.clone();
            let mut prod = a.clone();
            reference_rows(ring, &mut prod, other, kernels::mul_row);
            reference_rows(ring, &mut e, &prod, kernels::add_row);
            let mut acc = up(be, plan, &b);
            be.mul_pointwise_acc(plan, &up(be, plan, &a), &up(be, plan, other), &mut acc).expect("mac");
            assert_eq!(down(be, plan, &acc), e, "{name}: mul_acc ({label})");
        }
        let mut e = a.clone();
        reference_rows(ring, &mut e, &a.clone(), |x, _, m| kernels::negate_row(x, m));
        let mut d = up(be, plan, &a);
        be.negate_assign(plan, &mut d).expect("negate");
        assert_eq!(down(be, plan, &d), e, "{name}: negate");
        let constants: Vec<u32> = shape.limbs.iter().enumerate().map(|(i, &l)| {
            let q = ring.modulus(l).value();
            [q - 1, 0, 1, q / 3 + 7, 2, q - 2][i % 6]
        }).collect();
        let mut e = a.clone();
        reference_rows(ring, &mut e, &a.clone(), |_, _, _| {});
        let n = shape.n;
        for r in 0..shape.rows() {
            let m = *ring.modulus(shape.prime_of_row(r));
            kernels::mul_constant_row(&mut e.data_mut()[r * n..(r + 1) * n], constants[r % shape.limbs.len()], &m);
        }
        let mut d = up(be, plan, &a);
        be.mul_limb_constants_assign(plan, &mut d, &constants).expect("constants");
        assert_eq!(down(be, plan, &d), e, "{name}: mul_limb_constants");
    });
}

/// Key switching's inner products equal extending each digit (a reduction for one prime, the
/// fast basis conversion of [`BasisConversion::convert_one`] for more), transforming it and
/// multiply-accumulating with the reference kernels: for sources of 1, 3 and 4 primes, digits
/// of 1, 2 and 3 primes (a last digit cut short), targets that include the digits' own primes,
/// with broadcast and per-polynomial key parts; malformed operands are errors.
pub fn key_switch_inner_matches_reference<B: Backend>(be: &B, degrees: &[usize]) {
    for &n in degrees {
        let ring = test_ring(n);
        let plan = be.plan(ring.clone()).expect("plan");
        let plan = &plan;
        for (case, (level, count)) in [(1usize, 1usize), (3, 3), (4, 2)].into_iter().enumerate() {
            let seed = (n * 17 + case) as u64;
            let shape = BatchShape::new(count, n, (0..level).collect());
            let coeff = random_batch::<Coeff>(&ring, shape.clone(), seed, true);
            let mut ntt_host = coeff.clone();
            for r in 0..shape.rows() {
                ring.table(shape.prime_of_row(r)).forward(&mut ntt_host.data_mut()[r * n..(r + 1) * n]);
            }
            let ntt_host: PolyBatch<Ntt> = ntt_host.relabel();
            let (dc, dn) = (up(be, plan, &coeff), up(be, plan, &ntt_host));
            let targets: Vec<usize> = (0..ring.len()).collect();
            let target_primes: Vec<u32> = targets.iter().map(|&t| ring.modulus(t).value()).collect();
            let source_primes = &target_primes[..level];
            let out_shape = BatchShape::new(count, n, targets.clone());
            let one_shape = BatchShape::new(1, n, targets.clone());
            for alpha in 1..=3usize.min(level) {
                let digits = DigitDecomposition::new(source_primes, alpha, targets.clone(), &target_primes).expect("digits");
                let count_digits = digits.digits().len();
                let key = |i: usize, part: u64| {
                    let s = if (i + part as usize).is_multiple_of(2) { one_shape.clone() } else { out_shape.clone() };
                    random_batch::<Ntt>(&ring, s, seed * 7 + 100 * part + i as u64, i == 0)
                };
                let (kb, ka): (Vec<_>, Vec<_>) = ((0..count_digits).map(|i| key(i, 1)).collect(), (0..count_digits).map(|i| key(i, 2)).collect());
                let mut expect_b = PolyBatch::<Ntt>::zeros(&ring, out_shape.clone()).expect("zeros");
                let mut expect_a = expect_b.clone();
                for (j, digit) in digits.digits().iter().enumerate() {
                    let rows = digit.rows.clone();
                    let basis = RnsBasis::new(&source_primes[rows.clone()]).expect("digit basis");
                    let conv = BasisConversion::new(&basis, &target_primes).expect("conversion");
                    let mut d = PolyBatch::<Coeff>::zeros(&ring, out_shape.clone()).expect("zeros");
                    let (mut x, mut scratch, mut y) = (vec![0; rows.len()], vec![0; rows.len()], vec![0; targets.len()]);
                    for p in 0..count {
                        for i in 0..n {
                            for (k, xk) in rows.clone().zip(x.iter_mut()) {
                                *xk = coeff.row(p * level + k)[i];
                            }
                            conv.convert_one(&x, &mut scratch, &mut y);
                            for (t, &yt) in y.iter().enumerate() {
                                d.data_mut()[(p * targets.len() + t) * n + i] = yt;
                            }
                        }
                        for t in 0..targets.len() {
                            let r = p * targets.len() + t;
                            ring.table(t).forward(&mut d.data_mut()[r * n..(r + 1) * n]);
                        }
                    }
                    let d: PolyBatch<Ntt> = d.relabel();
                    for (acc, k) in [(&mut expect_b, &kb[j]), (&mut expect_a, &ka[j])] {
                        let mut prod = d.clone();
                        reference_rows(&ring, &mut prod, k, kernels::mul_row);
                        reference_rows(&ring, acc, &prod, kernels::add_row);
                    }
                }
                let (db, da): (Vec<_>, Vec<_>) = (kb.iter().map(|x| up(be, plan, x)).collect(), ka.iter().map(|x| up(be, plan, x)).collect());
                let rb: Vec<&B::Batch<Ntt>> = db.iter().collect();
                let ra: Vec<&B::Batch<Ntt>> = da.iter().collect();
                let (gb, ga) = be.key_switch_inner(plan, &dc, &dn, &digits, &rb, &ra).expect("key_switch_inner");
                let name = be.name();
                assert_eq!(down(be, plan, &gb), expect_b, "{name}: key_switch_inner (b), {level} primes in digits of {alpha}, n = {n}");
                assert_eq!(down(be, plan, &ga), expect_a, "{name}: key_switch_inner (a), {level} primes in digits of {alpha}, n = {n}");
                assert!(be.key_switch_inner(plan, &dc, &dn, &digits, &rb, &ra[1..]).is_err(), "{name}: key part counts differ");
                let fewer = DigitDecomposition::new(source_primes, alpha, targets[1..].to_vec(), &target_primes[1..]).expect("digits");
                assert!(be.key_switch_inner(plan, &dc, &dn, &fewer, &rb, &ra).is_err(), "{name}: key limbs differ from the output's");
                let other = up(be, plan, &random_batch::<Ntt>(&ring, BatchShape::new(count + 1, n, shape.limbs.clone()), seed, false));
                assert!(be.key_switch_inner(plan, &dc, &other, &digits, &rb, &ra).is_err(), "{name}: coefficient and NTT forms differ in shape");
            }
            if level > 1 {
                // A source that is not the first primes of the ring, or digits beyond the source.
                let digits = DigitDecomposition::new(&target_primes[..level + 1], 1, targets.clone(), &target_primes).expect("digits");
                let keys: Vec<B::Batch<Ntt>> = (0..=level).map(|i| up(be, plan, &random_batch::<Ntt>(&ring, one_shape.clone(), seed + i as u64, false))).collect();
                let refs: Vec<&B::Batch<Ntt>> = keys.iter().collect();
                assert!(be.key_switch_inner(plan, &dc, &dn, &digits, &refs, &refs).is_err(), "{}: more digits than limbs", be.name());
                let shifted = BatchShape::new(count, n, (1..=level).collect());
                let sc = up(be, plan, &random_batch::<Coeff>(&ring, shifted.clone(), seed, false));
                let sn = up(be, plan, &random_batch::<Ntt>(&ring, shifted, seed, false));
                let digits = DigitDecomposition::new(&target_primes[1..=level], 1, targets.clone(), &target_primes).expect("digits");
                assert!(be.key_switch_inner(plan, &sc, &sn, &digits, &refs[..level], &refs[..level]).is_err(), "{}: source not the level's primes", be.name());
            }
        }
    }
}

/// The reference fast basis conversion ([`BasisConversion::convert_one`]) of the rows
/// `first_row ..` of every polynomial of `a`, into a batch of `out_shape`.
fn converted(ring: &RingContext, conv: &BasisConversion, a: &PolyBatch<Coeff>, first_row: usize, out_shape: &BatchShape) -> PolyBatch<Coeff> {
    let (n, width, lf, lt) = (a.shape_ref().n, a.shape_ref().limbs.len(), conv.from().len(), conv.to().len());
    let mut e = PolyBatch::<Coeff>::zeros(ring, out_shape.clone()).expect("zeros");
    let (mut x, mut scratch, mut y) = (vec![0; lf], vec![0; lf], vec![0; lt]);
    for p in 0..a.shape_ref().count {
        for i in 0..n {
            for (l, xl) in x.iter_mut().enumerate() {
                *xl = a.row(p * width + first_row + l)[i];
            }
            conv.convert_one(&x, &mut scratch, &mut y);
            for (j, &yj) in y.iter().enumerate() {
                e.data_mut()[(p * lt + j) * n + i] = yj;
            }
        }
    }
    e
}

/// Basis extension of one limb and fast basis conversion equal the reference.
pub fn basis_ops_match_reference<B: Backend>(be: &B, degrees: &[usize]) {
    for_each_case(be, degrees, |be, plan, ring, shape, seed| {
        let n = shape.n;
        let a = random_batch::<Coeff>(ring, shape.clone(), seed, true);
        let targets = vec![4, 0, 2];
        let out_shape = BatchShape::new(shape.count, n, targets.clone());
        for limb in 0..shape.limbs.len() {
            let mut e = PolyBatch::<Coeff>::zeros(ring, out_shape.clone()).expect("zeros");
            for p in 0..shape.count {
                let src = a.row(p * shape.limbs.len() + limb).to_vec();
                for (j, &t) in targets.iter().enumerate() {
                    let r = p * targets.len() + j;
                    kernels::reduce_row(&src, &mut e.data_mut()[r * n..(r + 1) * n], ring.modulus(t));
                }
            }
            let mut d = be.zeros::<Coeff>(plan, out_shape.clone()).expect("zeros");
            be.reduce_limb_into(plan, &up(be, plan, &a), limb, &mut d).expect("reduce_limb");
            assert_eq!(down(be, plan, &d), e, "{}: reduce_limb_into limb {limb}", be.name());
        }
        // Convert from the batch's primes to the other primes of the ring.
        let to: Vec<usize> = (0..ring.len()).filter(|l| !shape.limbs.contains(l)).collect();
        if to.is_empty() {
            return;
        }
        let from_primes: Vec<u32> = shape.limbs.iter().map(|&l| ring.modulus(l).value()).collect();
        let to_primes: Vec<u32> = to.iter().map(|&l| ring.modulus(l).value()).collect();
        let conv = BasisConversion::new(&RnsBasis::new(&from_primes).expect("basis"), &to_primes).expect("conv");
        let out_shape = BatchShape::new(shape.count, n, to.clone());
        let lf = shape.limbs.len();
        let e = converted(ring, &conv, &a, 0, &out_shape);
        let mut d = be.zeros::<Coeff>(plan, out_shape.clone()).expect("zeros");
        let source = up(be, plan, &a);
        be.convert_basis_into(plan, &conv, &source, 0, &mut d).expect("convert");
        assert_eq!(down(be, plan, &d), e, "{}: convert_basis_into", be.name());
        assert!(be.convert_basis_into(plan, &conv, &source, 1, &mut d).is_err(), "{}: conversion rows beyond the source", be.name());
        // From a run of rows inside the source: rows 1.. of the batch, as their own basis.
        if lf > 1 {
            let inner = BasisConversion::new(&RnsBasis::new(&from_primes[1..]).expect("basis"), &to_primes).expect("conv");
            let expect = converted(ring, &inner, &a, 1, &out_shape);
            let mut d = be.zeros::<Coeff>(plan, out_shape).expect("zeros");
            be.convert_basis_into(plan, &inner, &source, 1, &mut d).expect("convert rows 1..");
            assert_eq!(down(be, plan, &d), expect, "{}: convert_basis_into from rows 1..", be.name());
        }
    });
}

/// The division by the special modulus equals the reference kernel on random and edge
/// inputs, for two and three special primes and a batch of three; and, independently of
/// the reference, `δ = x − P·result` (recovered with big integers from the residues) is a
/// multiple of `t`, congruent to `x` modulo every special prime, and below `t·K·P`; a batch
/// over other limbs is an error.
pub fn divide_by_special_matches_reference<B: Backend>(be: &B, degrees: &[usize]) {
    use num_bigint::BigUint;
    for &n in degrees {
        let ring = test_ring(n);
        let plan = be.plan(ring.clone()).expect("plan");
        let plan = &plan;
        let t = 65537u32;
        for (case, (level, special, count)) in [(3usize, vec![3usize, 4], 1usize), (2, vec![2, 3, 4], 3), (1, vec![4, 5], 2)].into_iter().enumerate() {
            let prime = |l: usize| ring.modulus(l).value();
            let q: Vec<u32> = (0..level).map(prime).collect();
            let p: Vec<u32> = special.iter().map(|&l| prime(l)).collect();
            let div = crate::rns::SpecialDivision::new(&q, &p, t).expect("division");
            let mut limbs: Vec<usize> = (0..level).collect();
            limbs.extend(&special);
            let shape = BatchShape::new(count, n, limbs.clone());
            let x = random_batch::<Ntt>(&ring, shape.clone(), (n * 13 + case) as u64, true);
            let width = limbs.len();
            let mut expect = vec![0u32; count * level * n];
            for (poly, out) in expect.chunks_exact_mut(level * n).enumerate() {
                kernels::divide_by_special_poly(&ring, &special, &div, &x.data()[poly * width * n..(poly + 1) * width * n], out, n);
            }
            let got = be.divide_by_special_ntt(plan, &ring, up(be, plan, &x), &special, &div).expect("divide");
            let got = down(be, plan, &got);
            assert_eq!(got.data(), &expect[..], "{}: divide_by_special, level {level}, K = {}", be.name(), special.len());
            // Independent check on the first polynomial, in coefficients.
            let mut xc = x.data()[..width * n].to_vec();
            for (r, row) in xc.chunks_exact_mut(n).enumerate() {
                ring.table(limbs[r]).inverse(row);
            }
            let mut rc = got.data()[..level * n].to_vec();
            for (i, row) in rc.chunks_exact_mut(n).enumerate() {
                ring.table(i).inverse(row);
            }
            let p_big = p.iter().fold(BigUint::from(1u32), |acc, &v| acc * v);
            let basis = RnsBasis::new(&q).expect("level basis");
            for c in (0..n).step_by(n / 16) {
                // δ mod qᵢ = xᵢ − P·rᵢ; δ < t·K·P < Q_l only when the level is wide enough.
                let residues: Vec<u32> = (0..level)
                    .map(|i| {
                        let m = ring.modulus(i);
                        m.sub(xc[i * n + c], m.mul(m.reduce_u64(u64::try_from(&p_big % m.value()).unwrap_or(0)), rc[i * n + c]))
                    })
                    .collect();
                let delta = basis.reconstruct(&residues).expect("delta");
                let bound = BigUint::from(t) * special.len() * &p_big;
                if basis.product() > &bound {
                    assert!(delta < bound, "{}: δ below t·K·P", be.name());
                    assert_eq!(&delta % t, BigUint::from(0u32), "{}: δ ≡ 0 mod t", be.name());
                    for (j, &pj) in p.iter().enumerate() {
                        assert_eq!(&delta % pj, BigUint::from(xc[(level + j) * n + c]), "{}: δ ≡ x mod p{j}", be.name());
                    }
                }
            }
            let wrong = up(be, plan, &random_batch::<Ntt>(&ring, BatchShape::new(count, n, limbs[1..].to_vec()), 3, false));
            assert!(be.divide_by_special_ntt(plan, &ring, wrong, &special, &div).is_err(), "{}: batch over other limbs", be.name());
        }
    }
}

/// Dropping the last limb (plain rounding and `t`-preserving) equals the reference.
pub fn drop_last_limb_matches_reference<B: Backend>(be: &B, degrees: &[usize]) {
    for_each_case(be, degrees, |be, plan, ring, shape, seed| {
        if shape.limbs.len() < 2 {
            let d = up(be, plan, &random_batch::<Coeff>(ring, shape.clone(), seed, false));
            assert!(be.drop_last_limb(plan, d, 1).is_err(), "{}: dropping the only limb", be.name());
            let d = up(be, plan, &random_batch::<Ntt>(ring, shape, seed, false));
            assert!(be.drop_last_limb_ntt(plan, d, 1).is_err(), "{}: dropping the only limb (ntt)", be.name());
            return;
        }
        let n = shape.n;
        let a = random_batch::<Coeff>(ring, shape.clone(), seed, true);
        let l = shape.limbs.len();
        for t in [1u32, 65537, 3] {
            let last = ring.modulus(shape.limbs[l - 1]);
            let remaining: Vec<_> = shape.limbs[..l - 1].iter().map(|&x| ring.modulus(x)).collect();
            let drop = kernels::DropLimb::new(last, remaining.clone(), t).expect("constants");
            let out_shape = BatchShape::new(shape.count, n, shape.limbs[..l - 1].to_vec());
            let mut e = PolyBatch::<Coeff>::zeros(ring, out_shape).expect("zeros");
            for p in 0..shape.count {
                let w = (l - 1) * n;
                kernels::drop_last_limb_poly(a.poly(p), &mut e.data_mut()[p * w..(p + 1) * w], n, &drop);
            }
            let d = be.drop_last_limb(plan, up(be, plan, &a), t).expect("drop");
            assert_eq!(down(be, plan, &d), e, "{}: drop_last_limb t={t}", be.name());
            // The NTT-domain form equals inverse NTT, drop, forward NTT.
            let an = be.ntt_forward(plan, up(be, plan, &a)).expect("fwd");
            let dn = be.drop_last_limb_ntt(plan, an, t).expect("drop ntt");
            let en = be.ntt_forward(plan, up(be, plan, &e)).expect("fwd");
            assert_eq!(down(be, plan, &dn), down(be, plan, &en), "{}: drop_last_limb_ntt t={t}", be.name());
        }
    });
}

/// Galois automorphisms in both domains equal the reference and commute with the NTT.
pub fn automorphism_matches_reference<B: Backend>(be: &B, degrees: &[usize]) {
    for_each_case(be, degrees, |be, plan, ring, shape, seed| {
        let n = shape.n;
        let a = random_batch::<Coeff>(ring, shape.clone(), seed, true);
        for k in [3usize, 5, 2 * n - 1, 1] {
            let mut e = a.clone();
            for r in 0..shape.rows() {
                let m = *ring.modulus(shape.prime_of_row(r));
                kernels::automorphism_coeff_row(a.row(r), k, &mut e.data_mut()[r * n..(r + 1) * n], &m);
            }
            let mut d = be.zeros::<Coeff>(plan, shape.clone()).expect("zeros");
            be.automorphism_into(plan, &up(be, plan, &a), k, &mut d).expect("automorphism");
            assert_eq!(down(be, plan, &d), e, "{}: automorphism coeff k={k}", be.name());
            // NTT domain: σ_k(NTT(a)) = NTT(σ_k(a)).
            let an = be.ntt_forward(plan, up(be, plan, &a)).expect("fwd");
            let mut dn = be.zeros::<Ntt>(plan, shape.clone()).expect("zeros");
            be.automorphism_into(plan, &an, k, &mut dn).expect("automorphism ntt");
            let en = be.ntt_forward(plan, up(be, plan, &e)).expect("fwd");
            assert_eq!(down(be, plan, &dn), down(be, plan, &en), "{}: automorphism ntt k={k}", be.name());
        }
    });
}

/// Mismatched shapes, bad constants and bad Galois elements are typed errors.
pub fn rejects_bad_shapes<B: Backend>(be: &B) {
    use crate::Error;
    let ring = test_ring(16);
    let plan = be.plan(ring.clone()).expect("plan");
    let a = up(be, &plan, &random_batch::<Ntt>(&ring, BatchShape::new(2, 16, vec![0, 1]), 1, false));
    let other_limbs = up(be, &plan, &random_batch::<Ntt>(&ring, BatchShape::new(2, 16, vec![0, 2]), 2, false));
    let three = up(be, &plan, &random_batch::<Ntt>(&ring, BatchShape::new(3, 16, vec![0, 1]), 3, false));
    let mut acc = be.duplicate(&plan, &a).expect("dup");
    assert!(matches!(be.add_assign(&plan, &mut acc, &other_limbs), Err(Error::LimbMismatch { .. })));
    assert!(matches!(be.mul_pointwise_assign(&plan, &mut acc, &three), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(be.mul_limb_constants_assign(&plan, &mut acc, &[1]), Err(Error::ShapeMismatch { .. })));
    let q = ring.modulus(0).value();
    assert!(matches!(be.mul_limb_constants_assign(&plan, &mut acc, &[q, 1]), Err(Error::ResidueOutOfRange { .. })));
    let mut out = be.zeros::<Ntt>(&plan, a.shape().clone()).expect("zeros");
    assert!(matches!(be.automorphism_into(&plan, &a, 4, &mut out), Err(Error::InvalidGaloisElement { .. })));
    assert!(matches!(be.automorphism_into(&plan, &a, 33, &mut out), Err(Error::InvalidGaloisElement { .. })));
    let other_ring = test_ring(32);
    let foreign = random_batch::<Ntt>(&other_ring, BatchShape::new(1, 32, vec![0]), 4, false);
    assert!(be.upload(&plan, &foreign).is_err());
    let c = up(be, &plan, &random_batch::<Coeff>(&ring, BatchShape::new(2, 16, vec![0, 1]), 5, false));
    let mut wrong = be.zeros::<Coeff>(&plan, BatchShape::new(3, 16, vec![2])).expect("zeros");
    assert!(be.reduce_limb_into(&plan, &c, 0, &mut wrong).is_err());
    let mut right = be.zeros::<Coeff>(&plan, BatchShape::new(2, 16, vec![2])).expect("zeros");
    assert!(matches!(be.reduce_limb_into(&plan, &c, 2, &mut right), Err(Error::LimbOutOfRange { .. })));
}

pub mod scheme;

/// Instantiates the conformance suite as a module of tests for one backend.
///
/// `$name` names the module; `$backend` is an expression building the backend; optional
/// `degrees = [..]` overrides [`DEGREES`].
#[macro_export]
macro_rules! backend_conformance_tests {
    ($name:ident, $backend:expr) => {
        $crate::backend_conformance_tests!($name, $backend, degrees = $crate::testing::DEGREES);
    };
    ($name:ident, $backend:expr, degrees = $degrees:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing as suite;

            #[test]
            fn conformance_upload_download() {
                suite::upload_download_round_trip(&$backend, &$degrees);
            }
            #[test]
            fn conformance_ntt() {
                suite::ntt_matches_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_elementwise() {
                suite::elementwise_matches_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_key_switch_inner() {
                suite::key_switch_inner_matches_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_basis_ops() {
                suite::basis_ops_match_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_divide_by_special() {
                suite::divide_by_special_matches_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_drop_last_limb() {
                suite::drop_last_limb_matches_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_automorphism() {
                suite::automorphism_matches_reference(&$backend, &$degrees);
            }
            #[test]
            fn conformance_rejects_bad_shapes() {
                suite::rejects_bad_shapes(&$backend);
            }
        }
    };
}
pub mod wire;
