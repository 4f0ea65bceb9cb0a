//! RNS polynomial batches in `Z_Q[x]/(x^n + 1)` and the scalar reference kernels that act on
//! them.
//!
//! A batch holds `count` polynomials, each with one row of `n` residues per limb, stored
//! limb-major: residue `i` of limb `l` of polynomial `p` is at `(p·L + l)·n + i`. A batch's
//! limbs name primes of its [`RingContext`] by index, so a batch can live on any subset of the
//! context's primes (a lower level, or the special primes of key switching).
//!
//! The domain (coefficients or NTT evaluations) is a type parameter: a pointwise product of
//! coefficient-domain data does not compile.

use std::marker::PhantomData;

use crate::Error;
use crate::ntt::{NttTable, bit_reverse};
use crate::zq::reduce_once;
use crate::prime::check_degree;
use crate::zq::Modulus;

mod sealed {
    pub trait Sealed {}
}

/// The representation of a batch's rows: [`Coeff`] or [`Ntt`].
pub trait Domain: sealed::Sealed + Copy + Eq + Send + Sync + 'static + std::fmt::Debug {
    /// `"coeff"` or `"ntt"`.
    const NAME: &'static str;
    /// True for [`Ntt`].
    const IS_NTT: bool;
}

/// Coefficient representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coeff;
/// NTT (evaluation) representation, bit-reversed order (see [`crate::ntt`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ntt;
impl sealed::Sealed for Coeff {}
impl sealed::Sealed for Ntt {}
impl Domain for Coeff {
    const NAME: &'static str = "coeff";
    const IS_NTT: bool = false;
}
impl Domain for Ntt {
    const NAME: &'static str = "ntt";
    const IS_NTT: bool = true;
}

/// The ring `Z_Q[x]/(x^n + 1)` for a list of primes, with one NTT table per prime.
///
/// Shared by every backend: a backend's plan is built from a context.
#[derive(Clone, Debug)]
pub struct RingContext {
    n: usize,
    tables: Vec<NttTable>,
}

impl RingContext {
    /// Builds the context for degree `n` and distinct NTT-friendly primes.
    ///
    /// # Errors
    /// [`Error::InvalidDegree`], [`Error::EmptyBasis`], [`Error::DuplicatePrime`], or any
    /// [`NttTable::new`] error.
    pub fn new(n: usize, primes: &[u32]) -> Result<Self, Error> {
        check_degree(n)?;
        if primes.is_empty() {
            return Err(Error::EmptyBasis);
        }
        for (i, &q) in primes.iter().enumerate() {
            if primes[..i].contains(&q) {
                return Err(Error::DuplicatePrime { q });
            }
        }
        let tables = primes.iter().map(|&q| NttTable::new(n, q)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { n, tables })
    }

    /// Ring degree.
    pub const fn n(&self) -> usize {
        self.n
    }
    /// Number of primes.
    pub fn len(&self) -> usize {
        self.tables.len()
    }
    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
    /// The NTT table of prime `index`.
    pub fn table(&self, index: usize) -> &NttTable {
        &self.tables[index]
    }
    /// All tables, in prime order.
    pub fn tables(&self) -> &[NttTable] {
        &self.tables
    }
    /// The modulus of prime `index`.
    pub fn modulus(&self, index: usize) -> &Modulus {
        self.tables[index].modulus()
    }
    /// The primes' values.
    pub fn primes(&self) -> Vec<u32> {
        self.tables.iter().map(|t| t.modulus().value()).collect()
    }

    /// Checks a shape against this context.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a different `n`, [`Error::LimbOutOfRange`] for a limb that
    /// names no prime, [`Error::EmptyBasis`] for no limbs.
    pub fn check_shape(&self, shape: &BatchShape) -> Result<(), Error> {
        if shape.n != self.n {
            return Err(Error::ShapeMismatch { what: "ring degree", expected: self.n, found: shape.n });
        }
        if shape.limbs.is_empty() {
            return Err(Error::EmptyBasis);
        }
        if let Some(&bad) = shape.limbs.iter().find(|&&l| l >= self.len()) {
            return Err(Error::LimbOutOfRange { limb: bad, primes: self.len() });
        }
        Ok(())
    }
}

/// The shape of a batch: `count` polynomials of degree `n` over the context primes `limbs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchShape {
    /// Number of polynomials.
    pub count: usize,
    /// Ring degree.
    pub n: usize,
    /// Indices of the context primes, one per limb, in storage order.
    pub limbs: Vec<usize>,
}

impl BatchShape {
    /// A shape.
    pub fn new(count: usize, n: usize, limbs: Vec<usize>) -> Self {
        Self { count, n, limbs }
    }
    /// Rows (`count × L`).
    pub fn rows(&self) -> usize {
        self.count * self.limbs.len()
    }
    /// Residues (`count × L × n`).
    pub fn len(&self) -> usize {
        self.rows() * self.n
    }
    /// True when the batch holds no residue.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Context prime of row `r` (row = `poly·L + limb`).
    pub fn prime_of_row(&self, row: usize) -> usize {
        self.limbs[row % self.limbs.len()]
    }
}

/// Implemented by every backend's batch type: the batch knows its shape.
pub trait HasShape {
    /// The batch's shape.
    fn shape(&self) -> &BatchShape;
}

/// A batch of RNS polynomials in host memory, in domain `D`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolyBatch<D: Domain> {
    shape: BatchShape,
    data: Vec<u32>,
    _domain: PhantomData<D>,
}

impl<D: Domain> HasShape for PolyBatch<D> {
    fn shape(&self) -> &BatchShape {
        &self.shape
    }
}

impl<D: Domain> PolyBatch<D> {
    /// A batch of zeros.
    ///
    /// # Errors
    /// As [`RingContext::check_shape`].
    pub fn zeros(ctx: &RingContext, shape: BatchShape) -> Result<Self, Error> {
        ctx.check_shape(&shape)?;
        let data = vec![0; shape.len()];
        Ok(Self { shape, data, _domain: PhantomData })
    }

    /// A batch of zeros in a recycled buffer (its old contents are overwritten).
    ///
    /// # Errors
    /// As [`RingContext::check_shape`].
    pub fn zeros_in(ctx: &RingContext, shape: BatchShape, mut buffer: Vec<u32>) -> Result<Self, Error> {
        ctx.check_shape(&shape)?;
        buffer.clear();
        buffer.resize(shape.len(), 0);
        Ok(Self { shape, data: buffer, _domain: PhantomData })
    }

    /// A copy of this batch in a recycled buffer.
    pub fn duplicate_in(&self, mut buffer: Vec<u32>) -> Self {
        buffer.clear();
        buffer.extend_from_slice(&self.data);
        Self { shape: self.shape.clone(), data: buffer, _domain: PhantomData }
    }

    /// Wraps residues, checking the shape and that every residue is below its prime.
    ///
    /// # Errors
    /// As [`RingContext::check_shape`]; [`Error::ShapeMismatch`] for a wrong length;
    /// [`Error::ResidueOutOfRange`] for a residue `≥` its prime.
    pub fn from_residues(ctx: &RingContext, shape: BatchShape, data: Vec<u32>) -> Result<Self, Error> {
        ctx.check_shape(&shape)?;
        if data.len() != shape.len() {
            return Err(Error::ShapeMismatch { what: "residues", expected: shape.len(), found: data.len() });
        }
        for (r, row) in data.chunks_exact(shape.n).enumerate() {
            let q = ctx.modulus(shape.prime_of_row(r)).value();
            // A branch-free maximum vectorises; the search for the culprit runs only on failure.
            if row.iter().fold(0, |m, &x| m.max(x)) >= q {
                let bad = row.iter().copied().find(|&x| x >= q).unwrap_or(q);
                return Err(Error::ResidueOutOfRange { value: bad, q });
            }
        }
        Ok(Self { shape, data, _domain: PhantomData })
    }

    /// Wraps residues that a backend kernel has just produced fully reduced, checking the shape
    /// and length only (a residue `≥` its prime would be a kernel bug, as with
    /// [`Self::data_mut`]). Data from outside goes through [`Self::from_residues`].
    ///
    /// # Errors
    /// As [`RingContext::check_shape`]; [`Error::ShapeMismatch`] for a wrong length.
    pub fn from_reduced(ctx: &RingContext, shape: BatchShape, data: Vec<u32>) -> Result<Self, Error> {
        ctx.check_shape(&shape)?;
        if data.len() != shape.len() {
            return Err(Error::ShapeMismatch { what: "residues", expected: shape.len(), found: data.len() });
        }
        Ok(Self { shape, data, _domain: PhantomData })
    }

    /// The same residues relabelled as domain `E`, for kernels that change the domain in place.
    /// Only backends call this, right after transforming every row.
    pub fn relabel<E: Domain>(self) -> PolyBatch<E> {
        PolyBatch { shape: self.shape, data: self.data, _domain: PhantomData }
    }

    /// The shape (inherent twin of [`HasShape::shape`]).
    pub fn shape_ref(&self) -> &BatchShape {
        &self.shape
    }

    /// Wraps residues known to be valid for `shape` (taken from valid batches of the same
    /// ring). Crate-internal: external data goes through [`Self::from_residues`].
    pub(crate) fn from_parts_unchecked(shape: BatchShape, data: Vec<u32>) -> Self {
        debug_assert_eq!(data.len(), shape.len());
        Self { shape, data, _domain: PhantomData }
    }

    /// The residues, limb-major.
    pub fn data(&self) -> &[u32] {
        &self.data
    }
    /// Mutable residues. Callers keep every residue below its prime.
    pub fn data_mut(&mut self) -> &mut [u32] {
        &mut self.data
    }
    /// Consumes the batch, returning the residues.
    pub fn into_data(self) -> Vec<u32> {
        self.data
    }
    /// Row `r` (`poly·L + limb`).
    pub fn row(&self, r: usize) -> &[u32] {
        &self.data[r * self.shape.n..(r + 1) * self.shape.n]
    }
    /// The rows of polynomial `p` (all limbs).
    pub fn poly(&self, p: usize) -> &[u32] {
        let w = self.shape.limbs.len() * self.shape.n;
        &self.data[p * w..(p + 1) * w]
    }
}

/// Scalar reference kernels on single rows. Backends call them as their scalar twin; the
/// conformance suite applies them to whole batches as the expected result.
///
/// Unless a name says `_lazy`, inputs and outputs are fully reduced (`< q`).
pub mod kernels {
    use super::*;

    /// `a[i] = (a[i] + b[i]) mod q`.
    pub fn add_row(a: &mut [u32], b: &[u32], m: &Modulus) {
        a.iter_mut().zip(b).for_each(|(x, &y)| *x = m.add(*x, y));
    }
    /// `a[i] = (a[i] − b[i]) mod q`.
    pub fn sub_row(a: &mut [u32], b: &[u32], m: &Modulus) {
        a.iter_mut().zip(b).for_each(|(x, &y)| *x = m.sub(*x, y));
    }
    /// `a[i] = (−a[i]) mod q`.
    pub fn negate_row(a: &mut [u32], m: &Modulus) {
        a.iter_mut().for_each(|x| *x = m.neg(*x));
    }
    /// `a[i] = a[i]·b[i] mod q`.
    pub fn mul_row(a: &mut [u32], b: &[u32], m: &Modulus) {
        a.iter_mut().zip(b).for_each(|(x, &y)| *x = m.mul(*x, y));
    }
    /// `acc[i] = (acc[i] + a[i]·b[i]) mod q`.
    pub fn mul_acc_row(a: &[u32], b: &[u32], acc: &mut [u32], m: &Modulus) {
        acc.iter_mut().zip(a.iter().zip(b)).for_each(|(z, (&x, &y))| *z = m.add(*z, m.mul(x, y)));
    }
    /// Products a `u64` accumulator takes before it must be reduced: it starts below `q`, and
    /// `q + 15·(q − 1)² < 2^64` for every `q < 2^30`.
    pub const DOT_CHUNK: usize = 15;

    /// `acc[i] = (acc[i] + Σⱼ a[j][i]·b[j][i]) mod q`: the products are summed exactly in a
    /// `u64` and reduced once per [`DOT_CHUNK`] terms (the key-switching inner product).
    ///
    /// # Preconditions
    /// `a.len() == b.len()`; every row has `acc`'s length; residues below `q`.
    pub fn mul_dot_row(a: &[&[u32]], b: &[&[u32]], acc: &mut [u32], m: &Modulus) {
        for (i, z) in acc.iter_mut().enumerate() {
            let mut sum = u64::from(*z);
            for (ca, cb) in a.chunks(DOT_CHUNK).zip(b.chunks(DOT_CHUNK)) {
                for (x, y) in ca.iter().zip(cb) {
                    sum += u64::from(x[i]) * u64::from(y[i]);
                }
                sum = u64::from(m.reduce_u64(sum));
            }
            *z = sum as u32;
        }
    }
    /// `a[i] = a[i]·c mod q` for a constant `c < q`.
    pub fn mul_constant_row(a: &mut [u32], c: u32, m: &Modulus) {
        let cs = m.shoup(c);
        a.iter_mut().for_each(|x| *x = m.mul_shoup(*x, c, cs));
    }
    /// The division by the special modulus of one polynomial (the reference of
    /// `Backend::divide_by_special_ntt`): `rows` holds the level's `l` primes then the `K`
    /// special primes in the NTT domain (ring indices `0..l` then `special`), `out` receives
    /// the `l` result rows in the NTT domain. See [`crate::rns::SpecialDivision`].
    ///
    /// # Preconditions
    /// `rows.len() == (l + K)·n`, `out.len() == l·n`; residues below their primes.
    pub fn divide_by_special_poly(ring: &RingContext, special: &[usize], div: &crate::rns::SpecialDivision, rows: &[u32], out: &mut [u32], n: usize) {
        let l = div.level();
        let mut y = rows[l * n..].to_vec();
        for (j, row) in y.chunks_exact_mut(n).enumerate() {
            let p = ring.modulus(special[j]);
            ring.table(special[j]).inverse(row);
            mul_constant_row(row, div.t_inv_special[j], p);
        }
        let (mut x, mut scratch, mut conv) = (vec![0; special.len()], vec![0; special.len()], vec![0; l]);
        for c in 0..n {
            for (j, xj) in x.iter_mut().enumerate() {
                *xj = y[j * n + c];
            }
            div.conv.convert_one(&x, &mut scratch, &mut conv);
            for (i, &v) in conv.iter().enumerate() {
                out[i * n + c] = v;
            }
        }
        for (i, row) in out.chunks_exact_mut(n).enumerate() {
            let m = ring.modulus(i);
            mul_constant_row(row, div.t_mod_q[i], m);
            ring.table(i).forward(row);
            // out = (x − δ)·P⁻¹ = −(δ − x)·P⁻¹.
            sub_row(row, &rows[i * n..(i + 1) * n], m);
            negate_row(row, m);
            mul_constant_row(row, div.p_inv_q[i], m);
        }
    }

    /// `out[i] = a[i] mod p` for residues `a[i] < 2^32` of another prime.
    pub fn reduce_row(a: &[u32], out: &mut [u32], p: &Modulus) {
        out.iter_mut().zip(a).for_each(|(o, &x)| *o = p.reduce(x));
    }

    /// Constants of [`drop_last_limb_poly`] for the remaining prime `qᵢ`, given the dropped
    /// prime `q_L` and the plaintext modulus `t` (`t = 1` for plain rounding).
    #[derive(Clone, Copy, Debug)]
    pub struct DropLimbConstants {
        /// `q_L⁻¹ mod qᵢ`.
        pub ql_inv: u32,
        /// `q_L mod qᵢ`.
        pub ql_mod: u32,
        /// `t mod qᵢ`.
        pub t_mod: u32,
    }

    /// Everything one modulus switch needs: the dropped prime `q_L`, `t⁻¹ mod q_L`, and for each
    /// remaining prime its modulus and [`DropLimbConstants`].
    #[derive(Clone, Debug)]
    pub struct DropLimb<'a> {
        /// The dropped prime `q_L`.
        pub last: &'a Modulus,
        /// `t⁻¹ mod q_L`.
        pub t_inv_last: u32,
        /// The remaining primes, in limb order.
        pub remaining: Vec<&'a Modulus>,
        /// Their constants.
        pub consts: Vec<DropLimbConstants>,
    }

    impl<'a> DropLimb<'a> {
        /// The constants for dropping `last` into `remaining` with plaintext modulus `t`.
        ///
        /// # Errors
        /// [`Error::NotInvertible`] if `t ≡ 0 (mod q_L)` or `q_L ≡ 0 (mod qᵢ)`.
        pub fn new(last: &'a Modulus, remaining: Vec<&'a Modulus>, t: u32) -> Result<Self, Error> {
            let t_inv_last = last.inv(t)?;
            let consts = remaining
                .iter()
                .map(|m| {
                    let ql_mod = m.reduce(last.value());
                    Ok(DropLimbConstants { ql_inv: m.inv(ql_mod)?, ql_mod, t_mod: m.reduce(t) })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(Self { last, t_inv_last, remaining, consts })
        }
    }

    /// Modulus switching of one polynomial: divides by the last prime `q_L` with rounding that
    /// keeps the value mod `t` (Gentry–Halevi–Smart 2012). With `t = 1` this is rounding
    /// `⌊x/q_L⌉`.
    ///
    /// For each coefficient, `y = [x_L·t⁻¹]_{q_L}` centered in `(−q_L/2, q_L/2]`,
    /// `δ = t·y` (so `δ ≡ x (mod q_L)`, `δ ≡ 0 (mod t)`), and `out_i = (x_i − δ)·q_L⁻¹ mod qᵢ`.
    ///
    /// # Preconditions
    /// `rows` holds the `L` rows of one polynomial (last one dropped), `out` the first `L − 1`.
    pub fn drop_last_limb_poly(rows: &[u32], out: &mut [u32], n: usize, drop: &DropLimb<'_>) {
        let (last, t_inv_last, remaining, consts) = (drop.last, drop.t_inv_last, &drop.remaining[..], &drop.consts[..]);
        let l = remaining.len();
        let x_last = &rows[l * n..(l + 1) * n];
        let half = last.value() / 2;
        let t_inv_shoup = last.shoup(t_inv_last);
        for (i, (m, c)) in remaining.iter().zip(consts).enumerate() {
            let src = &rows[i * n..(i + 1) * n];
            let dst = &mut out[i * n..(i + 1) * n];
            for ((o, &xi), &xl) in dst.iter_mut().zip(src).zip(x_last) {
                let y = last.mul_shoup(xl, t_inv_last, t_inv_shoup);
                // y mod qᵢ of the centered value y − q_L·[y > q_L/2].
                let mut yi = m.reduce(y);
                if y > half {
                    yi = m.sub(yi, c.ql_mod);
                }
                let delta = m.mul(yi, c.t_mod);
                *o = m.mul(m.sub(xi, delta), c.ql_inv);
            }
        }
    }

    /// `out[i·k mod 2n] = ±a[i]` (sign flips past `n`): the Galois automorphism `x → x^k` on
    /// coefficients, `k` odd.
    pub fn automorphism_coeff_row(a: &[u32], k: usize, out: &mut [u32], m: &Modulus) {
        let n = a.len();
        let mask = 2 * n - 1;
        for (i, &x) in a.iter().enumerate() {
            let j = (i * k) & mask;
            if j < n { out[j] = x } else { out[j - n] = m.neg(x) }
        }
    }

    /// The permutation realising `x → x^k` in the NTT domain: `out[j] = a[perm[j]]`.
    ///
    /// Slot `j` holds the evaluation at `ψ^{2·brv(j)+1}`; `σ_k(a)(ψ^e) = a(ψ^{e·k})`.
    pub fn galois_permutation_ntt(n: usize, k: usize) -> Vec<u32> {
        let log_n = n.trailing_zeros();
        let mask = 2 * n - 1;
        (0..n)
            .map(|j| {
                let e = 2 * bit_reverse(j, log_n) + 1;
                let ek = (e * k) & mask;
                bit_reverse((ek - 1) / 2, log_n) as u32
            })
            .collect()
    }

    /// `out[j] = a[perm[j]]`.
    pub fn permute_row(a: &[u32], perm: &[u32], out: &mut [u32]) {
        out.iter_mut().zip(perm).for_each(|(o, &p)| *o = a[p as usize]);
    }

    /// Final reduction of lazy values `< 4q` into `[0, q)`.
    pub fn reduce_4q_row(a: &mut [u32], m: &Modulus) {
        let q = m.value();
        a.iter_mut().for_each(|x| *x = reduce_once(reduce_once(*x, 2 * q), q));
    }
}
