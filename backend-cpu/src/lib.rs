//! # ringvault-backend-cpu
//!
//! The CPU implementation of [`ringvault_core::Backend`]: a scalar twin of every kernel (the
//! reference kernels of `ringvault-core`), AVX2 and AVX-512 vector kernels for the NTT and the
//! element-wise operations, and rayon across rows (polynomials × limbs) for batches large
//! enough to pay for it. It sits between `ringvault-core` (which it implements) and the facade.
//!
//! The SIMD level is detected once when the backend is built ([`CpuBackend::new`]) and can be
//! forced for tests and benches ([`CpuBackend::with_level`]). Every level gives bit-identical
//! results. On other architectures only the scalar level exists.
//!
//! ```
//! use std::sync::Arc;
//! use ringvault_backend_cpu::CpuBackend;
//! use ringvault_core::{Backend, BatchShape, Coeff, PolyBatch, RingContext, prime::ntt_primes};
//!
//! let n = 1024;
//! let ring = Arc::new(RingContext::new(n, &ntt_primes(30, n, 2)?)?);
//! let cpu = CpuBackend::new();
//! let plan = cpu.plan(ring.clone())?;
//! let x = PolyBatch::<Coeff>::from_residues(&ring, BatchShape::new(1, n, vec![0, 1]), vec![7; 2 * n])?;
//! let evals = cpu.ntt_forward(&plan, cpu.upload(&plan, &x)?)?;
//! let back = cpu.download(&plan, &cpu.ntt_inverse(&plan, evals)?)?;
//! assert_eq!(back, x);
//! # Ok::<(), ringvault_core::Error>(())
//! ```

mod elementwise;
mod level;
mod ntt;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use zeroize::Zeroize;
use ringvault_core::backend::checks;
use ringvault_core::ring::kernels;
use ringvault_core::rns::{BasisConversion, DigitDecomposition, SpecialDivision};
use ringvault_core::zq::MAX_MODULUS_BITS;
use ringvault_core::{Backend, BatchShape, Caps, Coeff, Domain, Error, HasShape, Ntt, PolyBatch, RingContext};

pub use level::CpuLevel;
use ntt::NttKernel;

/// How much work a kernel does per residue, which decides when a batch goes parallel.
#[derive(Clone, Copy, Debug)]
enum Cost {
    /// Transforms and conversions (tens of operations per residue): parallel from 2^17
    /// residues (32 rows of 4096, about 130 µs of work).
    Heavy,
    /// Element-wise passes bound by memory: parallel from 2^20 residues (4 MiB).
    Light,
}

impl Cost {
    /// Residues from which rayon's hand-off pays for itself. Waking a worker costs tens of
    /// microseconds on a virtual machine, so a single ciphertext operation stays on one thread
    /// and batches of many ciphertexts go parallel.
    const fn parallel_from(self) -> usize {
        match self {
            Self::Heavy => 1 << 17,
            Self::Light => 1 << 20,
        }
    }
}

/// The CPU backend at one SIMD level.
#[derive(Clone, Debug)]
pub struct CpuBackend {
    level: CpuLevel,
    pool: Arc<BufferPool>,
}

/// Recycled batch buffers: large allocations would otherwise go back to the operating system
/// and fault in fresh zeroed pages on every operation.
#[derive(Debug, Default)]
struct BufferPool {
    free: Mutex<Pooled>,
}

/// The pool's buffers and their residues (capacities) summed.
#[derive(Debug, Default)]
struct Pooled {
    buffers: Vec<Vec<u32>>,
    residues: usize,
}

impl BufferPool {
    /// Keep at most this many residues in all (64 MiB): a few uploads' ciphertexts, recycled
    /// by bulk encryption ([`Backend::recycle`]), or a few large batches.
    const MAX_RESIDUES: usize = 1 << 24;

    /// A buffer with capacity for `len` residues (contents unspecified).
    fn take(&self, len: usize) -> Vec<u32> {
        if let Ok(mut free) = self.free.lock()
            && let Some(i) = free.buffers.iter().position(|b| b.capacity() >= len && b.capacity() <= 2 * len.max(1))
        {
            let buffer = free.buffers.swap_remove(i);
            free.residues -= buffer.capacity();
            return buffer;
        }
        Vec::with_capacity(len)
    }

    fn give(&self, buffer: Vec<u32>) {
        if let Ok(mut free) = self.free.lock()
            && free.residues + buffer.capacity() <= Self::MAX_RESIDUES
        {
            free.residues += buffer.capacity();
            free.buffers.push(buffer);
        }
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// The backend at the best level this CPU supports.
    pub fn new() -> Self {
        Self { level: CpuLevel::detect(), pool: Arc::default() }
    }

    /// The backend at a forced level.
    ///
    /// # Errors
    /// [`Error::Backend`] if this CPU lacks the level's instructions.
    pub fn with_level(level: CpuLevel) -> Result<Self, Error> {
        if level.is_supported() {
            Ok(Self { level, pool: Arc::default() })
        } else {
            Err(Error::Backend { backend: format!("cpu-{level}"), reason: format!("this CPU does not support {level}") })
        }
    }

    /// The level in use.
    pub const fn level(&self) -> CpuLevel {
        self.level
    }

    /// Runs `f(row_index, row)` over every row of `data`, in parallel when large enough.
    fn for_rows(&self, data: &mut [u32], n: usize, cost: Cost, f: impl Fn(usize, &mut [u32]) + Sync + Send) {
        // With one worker, rayon would still hand the job to its pool thread and block: stay here.
        if data.len() >= cost.parallel_from() && data.len() > n && rayon::current_num_threads() > 1 {
            // Two contiguous blocks per thread: enough to balance, few enough hand-offs.
            let per_block = (data.len() / n).div_ceil(2 * rayon::current_num_threads()).max(1);
            data.par_chunks_exact_mut(n).enumerate().with_min_len(per_block).for_each(|(r, row)| f(r, row));
        } else {
            data.chunks_exact_mut(n).enumerate().for_each(|(r, row)| f(r, row));
        }
    }

    /// Element-wise `acc ∘= b` with broadcasting, row kernel `f(level, row_index, acc_row, b_row, q)`.
    fn zip_rows<D: Domain>(
        &self,
        plan: &CpuPlan,
        acc: &mut CpuBatch<D>,
        b: &CpuBatch<D>,
        f: impl Fn(CpuLevel, usize, &mut [u32], &[u32], &ringvault_core::zq::Modulus) + Sync + Send,
    ) -> Result<(), Error> {
        let broadcast = checks::elementwise(acc.shape(), b.shape())?;
        let shape = acc.shape().clone();
        let width = shape.limbs.len();
        let level = self.level;
        self.for_rows(acc.data_mut(), shape.n, Cost::Light, |r, row| {
            let rb = if broadcast { r % width } else { r };
            f(level, r, row, b.row(rb), plan.ring.modulus(shape.prime_of_row(r)));
        });
        Ok(())
    }

    fn check_plan_shape(plan: &CpuPlan, shape: &BatchShape) -> Result<(), Error> {
        plan.ring.check_shape(shape)
    }
}

/// Per-ring precomputation of the CPU backend: the ring, the NTT layout of its level, and the
/// NTT-domain Galois permutations used so far.
#[derive(Clone, Debug)]
pub struct CpuPlan {
    ring: Arc<RingContext>,
    ntt: Vec<NttKernel>,
    galois: Arc<Mutex<HashMap<usize, Arc<Vec<u32>>>>>,
}

impl CpuPlan {
    /// The NTT-domain permutation of `x → x^k`, computed once per element.
    fn galois_permutation(&self, k: usize) -> Result<Arc<Vec<u32>>, Error> {
        let poisoned = || Error::Backend { backend: "cpu".into(), reason: "galois cache lock poisoned".into() };
        let mut cache = self.galois.lock().map_err(|_| poisoned())?;
        Ok(cache.entry(k).or_insert_with(|| Arc::new(kernels::galois_permutation_ntt(self.ring.n(), k))).clone())
    }
}

impl AsRef<RingContext> for CpuPlan {
    fn as_ref(&self) -> &RingContext {
        &self.ring
    }
}

/// Row `r` of every key part, or row `r mod width` of a broadcast (one-polynomial) part.
fn key_rows<'k>(keys: &[&'k CpuBatch<Ntt>], r: usize, width: usize) -> Vec<&'k [u32]> {
    keys.iter().map(|k| k.row(if k.shape().count == 1 { r % width } else { r })).collect()
}

/// A CPU batch is a host batch: upload and download are copies.
pub type CpuBatch<D> = PolyBatch<D>;

/// [`Caps::efficient_batch_residues`] of the CPU: 128 KiB of residues per part, so that the
/// few parts and noise polynomials an encryption works on stay within a core's L2 cache. At
/// n = 8192 a bulk encryption of 32 ciphertexts as one batch took 1.4× the time of 32
/// batches of one (`ringvault bench --only encrypt_bulk`, 2026-12-04); batches of two (2^16)
/// gave a bulk efficiency of 0.74–0.80 against 0.87–0.89 for batches of one, in alternating
/// runs the same evening.
const EFFICIENT_BATCH_RESIDUES: usize = 1 << 15;

impl Backend for CpuBackend {
    type Plan = CpuPlan;
    type Batch<D: Domain> = CpuBatch<D>;

    fn name(&self) -> String {
        format!("cpu-{}", self.level)
    }

    fn caps(&self) -> Caps {
        Caps { max_batch_residues: usize::MAX / 4, max_modulus_bits: MAX_MODULUS_BITS, max_degree: ringvault_core::prime::MAX_DEGREE, efficient_batch_residues: EFFICIENT_BATCH_RESIDUES }
    }

    fn plan(&self, ring: Arc<RingContext>) -> Result<CpuPlan, Error> {
        let ntt = ring.tables().iter().map(|t| NttKernel::new(t, self.level)).collect();
        Ok(CpuPlan { ring, ntt, galois: Arc::default() })
    }

    fn upload<D: Domain>(&self, plan: &CpuPlan, host: &PolyBatch<D>) -> Result<CpuBatch<D>, Error> {
        // Re-validate: a host batch may come from another ring of the same degree.
        PolyBatch::from_residues(&plan.ring, host.shape().clone(), host.data().to_vec())
    }

    fn upload_owned<D: Domain>(&self, plan: &CpuPlan, host: PolyBatch<D>) -> Result<CpuBatch<D>, Error> {
        let shape = host.shape().clone();
        PolyBatch::from_residues(&plan.ring, shape, host.into_data())
    }

    fn host_buffer(&self, len: usize) -> Vec<u32> {
        let mut buffer = self.pool.take(len);
        buffer.clear();
        buffer
    }

    fn download<D: Domain>(&self, _plan: &CpuPlan, batch: &CpuBatch<D>) -> Result<PolyBatch<D>, Error> {
        Ok(batch.clone())
    }

    fn read_host<D: Domain, R>(&self, _plan: &CpuPlan, batch: &CpuBatch<D>, read: impl FnOnce(&PolyBatch<D>) -> R) -> Result<R, Error> {
        Ok(read(batch))
    }

    fn zeros<D: Domain>(&self, plan: &CpuPlan, shape: BatchShape) -> Result<CpuBatch<D>, Error> {
        let buffer = self.pool.take(shape.len());
        PolyBatch::zeros_in(&plan.ring, shape, buffer)
    }

    fn duplicate<D: Domain>(&self, _plan: &CpuPlan, a: &CpuBatch<D>) -> Result<CpuBatch<D>, Error> {
        Ok(a.duplicate_in(self.pool.take(a.shape().len())))
    }

    fn recycle<D: Domain>(&self, batch: CpuBatch<D>) {
        self.pool.give(batch.into_data());
    }

    fn relabel<D: Domain, E: Domain>(&self, batch: PolyBatch<D>) -> PolyBatch<E> {
        batch.relabel()
    }

    fn wipe<D: Domain>(&self, batch: CpuBatch<D>) {
        let mut data = batch.into_data();
        data.zeroize();
        self.pool.give(data);
    }

    fn ntt_forward(&self, plan: &CpuPlan, mut a: CpuBatch<Coeff>) -> Result<CpuBatch<Ntt>, Error> {
        Self::check_plan_shape(plan, a.shape())?;
        let shape = a.shape().clone();
        self.for_rows(a.data_mut(), shape.n, Cost::Heavy, |r, row| plan.ntt[shape.prime_of_row(r)].forward(row));
        Ok(a.relabel())
    }

    fn ntt_inverse(&self, plan: &CpuPlan, mut a: CpuBatch<Ntt>) -> Result<CpuBatch<Coeff>, Error> {
        Self::check_plan_shape(plan, a.shape())?;
        let shape = a.shape().clone();
        self.for_rows(a.data_mut(), shape.n, Cost::Heavy, |r, row| plan.ntt[shape.prime_of_row(r)].inverse(row));
        Ok(a.relabel())
    }

    fn add_assign<D: Domain>(&self, plan: &CpuPlan, acc: &mut CpuBatch<D>, b: &CpuBatch<D>) -> Result<(), Error> {
        self.zip_rows(plan, acc, b, |l, _, x, y, m| elementwise::add_row(l, x, y, m))
    }

    fn sub_assign<D: Domain>(&self, plan: &CpuPlan, acc: &mut CpuBatch<D>, b: &CpuBatch<D>) -> Result<(), Error> {
        self.zip_rows(plan, acc, b, |l, _, x, y, m| elementwise::sub_row(l, x, y, m))
    }

    fn negate_assign<D: Domain>(&self, plan: &CpuPlan, a: &mut CpuBatch<D>) -> Result<(), Error> {
        let shape = a.shape().clone();
        let level = self.level;
        self.for_rows(a.data_mut(), shape.n, Cost::Light, |r, row| elementwise::negate_row(level, row, plan.ring.modulus(shape.prime_of_row(r))));
        Ok(())
    }

    fn mul_pointwise_assign(&self, plan: &CpuPlan, acc: &mut CpuBatch<Ntt>, b: &CpuBatch<Ntt>) -> Result<(), Error> {
        self.zip_rows(plan, acc, b, |l, _, x, y, m| elementwise::mul_row(l, x, y, m))
    }

    fn mul_pointwise_acc(&self, plan: &CpuPlan, a: &CpuBatch<Ntt>, b: &CpuBatch<Ntt>, acc: &mut CpuBatch<Ntt>) -> Result<(), Error> {
        checks::same_shape(acc.shape(), a.shape())?;
        self.zip_rows(plan, acc, b, |l, r, z, y, m| elementwise::mul_acc_row(l, a.row(r), y, z, m))
    }

    /// Output row by output row (polynomial `p`, target prime at output position `k`): each
    /// digit's row for that prime is extended (reduced, or converted from the digit's primes)
    /// and transformed into a scratch that stays in cache (a digit's own prime is `ntt`'s
    /// row), then both inner products are summed lazily (`kernels::mul_dot_row`). Rows go
    /// parallel for large batches.
    fn key_switch_inner(
        &self,
        plan: &CpuPlan,
        coeff: &CpuBatch<Coeff>,
        ntt: &CpuBatch<Ntt>,
        decomposition: &DigitDecomposition,
        keys_b: &[&CpuBatch<Ntt>],
        keys_a: &[&CpuBatch<Ntt>],
    ) -> Result<(CpuBatch<Ntt>, CpuBatch<Ntt>), Error> {
        let src = coeff.shape();
        let shape = checks::key_switch_inner(src, ntt.shape(), decomposition, keys_b, keys_a)?;
        Self::check_plan_shape(plan, &shape)?;
        let out_limbs = decomposition.out_limbs();
        let parts = decomposition.digits();
        let (n, width, digits, level) = (shape.n, out_limbs.len(), parts.len(), self.level);
        // Output limbs are `0..L` then the special primes, and source rows are `0..L`: the
        // target at position k is the source's row k when k < L.
        let own = |digit: usize, k: usize| parts[digit].rows.contains(&k);
        let fill = |r: usize, scratch: &mut [u32], out_b: &mut [u32], out_a: &mut [u32]| {
            let (p, k) = (r / width, r % width);
            let target = out_limbs[k];
            let m = plan.ring.modulus(target);
            let poly = coeff.poly(p);
            for (j, row) in scratch.chunks_exact_mut(n).enumerate() {
                if own(j, k) {
                    continue;
                }
                let d = &parts[j];
                match d.to_each.get(k) {
                    Some(conv) => elementwise::convert_basis_poly(level, conv, &poly[d.rows.start * n..d.rows.end * n], row, n),
                    None => elementwise::reduce_row(level, &poly[d.rows.start * n..(d.rows.start + 1) * n], row, m),
                }
                plan.ntt[target].forward(row);
            }
            let d: Vec<&[u32]> = (0..digits).map(|j| if own(j, k) { ntt.row(p * src.limbs.len() + k) } else { &scratch[j * n..(j + 1) * n] }).collect();
            let (rb, ra) = (key_rows(keys_b, r, width), key_rows(keys_a, r, width));
            elementwise::mul_dot_row(level, &d, &rb, out_b, m);
            elementwise::mul_dot_row(level, &d, &ra, out_a, m);
        };
        let rows = shape.rows();
        let (mut out_b, mut out_a) = (self.pool.take(shape.len()), self.pool.take(shape.len()));
        out_b.clear();
        out_a.clear();
        if shape.len() * digits.max(1) >= Cost::Heavy.parallel_from() && rows > 1 && rayon::current_num_threads() > 1 {
            out_b.resize(shape.len(), 0);
            out_a.resize(shape.len(), 0);
            out_b.par_chunks_exact_mut(n).zip(out_a.par_chunks_exact_mut(n)).enumerate().for_each_init(
                || vec![0u32; digits * n],
                |scratch, (r, (b, a))| fill(r, scratch, b, a),
            );
        } else {
            let mut scratch = self.pool.take(digits * n);
            scratch.clear();
            scratch.resize(digits * n, 0);
            for r in 0..rows {
                // Each output row is cleared just before it is summed into (no second pass).
                out_b.resize((r + 1) * n, 0);
                out_a.resize((r + 1) * n, 0);
                fill(r, &mut scratch, &mut out_b[r * n..], &mut out_a[r * n..]);
            }
            self.pool.give(scratch);
        }
        Ok((PolyBatch::from_reduced(&plan.ring, shape.clone(), out_b)?, PolyBatch::from_reduced(&plan.ring, shape, out_a)?))
    }

    fn mul_limb_constants_assign<D: Domain>(&self, plan: &CpuPlan, a: &mut CpuBatch<D>, constants: &[u32]) -> Result<(), Error> {
        checks::limb_constants(&plan.ring, a.shape(), constants)?;
        let shape = a.shape().clone();
        let width = shape.limbs.len();
        let level = self.level;
        self.for_rows(a.data_mut(), shape.n, Cost::Light, |r, row| {
            elementwise::mul_constant_row(level, row, constants[r % width], plan.ring.modulus(shape.prime_of_row(r)));
        });
        Ok(())
    }

    fn reduce_limb_into(&self, plan: &CpuPlan, a: &CpuBatch<Coeff>, limb: usize, out: &mut CpuBatch<Coeff>) -> Result<(), Error> {
        checks::reduce_limb(a.shape(), limb, out.shape())?;
        let (src, dst) = (a.shape().clone(), out.shape().clone());
        let level = self.level;
        self.for_rows(out.data_mut(), dst.n, Cost::Light, |r, row| {
            let poly = r / dst.limbs.len();
            let source = a.row(poly * src.limbs.len() + limb);
            elementwise::reduce_row(level, source, row, plan.ring.modulus(dst.prime_of_row(r)));
        });
        Ok(())
    }

    fn convert_basis_into(&self, plan: &CpuPlan, conv: &BasisConversion, a: &CpuBatch<Coeff>, first_row: usize, out: &mut CpuBatch<Coeff>) -> Result<(), Error> {
        checks::convert_basis(&plan.ring, conv, a.shape(), first_row, out.shape())?;
        let n = a.shape().n;
        let width = out.shape().limbs.len() * n;
        let rows = first_row * n..(first_row + conv.from().len()) * n;
        let level = self.level;
        self.for_rows(out.data_mut(), width, Cost::Heavy, |p, poly| elementwise::convert_basis_poly(level, conv, &a.poly(p)[rows.clone()], poly, n));
        Ok(())
    }

    fn drop_last_limb(&self, plan: &CpuPlan, a: CpuBatch<Coeff>, t: u32) -> Result<CpuBatch<Coeff>, Error> {
        checks::droppable(a.shape())?;
        let shape = a.shape();
        let l = shape.limbs.len();
        let last = plan.ring.modulus(shape.limbs[l - 1]);
        let remaining: Vec<_> = shape.limbs[..l - 1].iter().map(|&x| plan.ring.modulus(x)).collect();
        let drop = kernels::DropLimb::new(last, remaining, t)?;
        let n = shape.n;
        let mut out = self.zeros(plan, BatchShape::new(shape.count, n, shape.limbs[..l - 1].to_vec()))?;
        let level = self.level;
        self.for_rows(out.data_mut(), (l - 1) * n, Cost::Heavy, |p, poly| {
            elementwise::drop_last_limb_poly(level, a.poly(p), poly, n, &drop);
        });
        self.recycle(a);
        Ok(out)
    }

    /// Per polynomial: only the dropped limb goes back to coefficients; the correction
    /// `−δᵢ·q_L⁻¹` is computed there, transformed forward, and added to `xᵢ·q_L⁻¹` (NTT is
    /// linear, so the result equals the default's).
    fn drop_last_limb_ntt(&self, plan: &CpuPlan, a: CpuBatch<Ntt>, t: u32) -> Result<CpuBatch<Ntt>, Error> {
        checks::droppable(a.shape())?;
        let shape = a.shape();
        let l = shape.limbs.len() - 1;
        let last = plan.ring.modulus(shape.limbs[l]);
        let remaining: Vec<_> = shape.limbs[..l].iter().map(|&x| plan.ring.modulus(x)).collect();
        let drop = kernels::DropLimb::new(last, remaining, t)?;
        let n = shape.n;
        let mut out = self.zeros(plan, BatchShape::new(shape.count, n, shape.limbs[..l].to_vec()))?;
        let level = self.level;
        self.for_rows(out.data_mut(), l * n, Cost::Heavy, |p, poly| {
            let src = a.poly(p);
            // Rows 0..l stay zero, so the drop kernel yields −δᵢ·q_L⁻¹; row l is x_L in
            // coefficients.
            let mut scratch = self.pool.take((l + 1) * n);
            scratch.clear();
            scratch.resize(l * n, 0);
            scratch.extend_from_slice(&src[l * n..]);
            plan.ntt[shape.limbs[l]].inverse(&mut scratch[l * n..]);
            elementwise::drop_last_limb_poly(level, &scratch, poly, n, &drop);
            for (i, m) in drop.remaining.iter().enumerate() {
                let row = &mut poly[i * n..(i + 1) * n];
                plan.ntt[shape.limbs[i]].forward(row);
                let x = &mut scratch[i * n..(i + 1) * n];
                x.copy_from_slice(&src[i * n..(i + 1) * n]);
                elementwise::mul_constant_row(level, x, drop.consts[i].ql_inv, m);
                elementwise::add_row(level, row, x, m);
            }
            self.pool.give(scratch);
        });
        self.recycle(a);
        Ok(out)
    }

    /// Per polynomial, the steps of `kernels::divide_by_special_poly` with the level's SIMD
    /// kernels: `K` inverse transforms, the fast basis conversion, `l` forward transforms.
    fn divide_by_special_ntt(&self, plan: &CpuPlan, _ring: &RingContext, a: CpuBatch<Ntt>, special: &[usize], div: &SpecialDivision) -> Result<CpuBatch<Ntt>, Error> {
        let shape = checks::special_division(a.shape(), special, div)?;
        let (n, l, k) = (shape.n, div.level(), special.len());
        let mut out = self.zeros(plan, shape)?;
        let level = self.level;
        self.for_rows(out.data_mut(), l * n, Cost::Heavy, |p, poly| {
            let src = a.poly(p);
            let mut y = self.pool.take(k * n);
            y.clear();
            y.extend_from_slice(&src[l * n..]);
            for (j, row) in y.chunks_exact_mut(n).enumerate() {
                plan.ntt[special[j]].inverse(row);
                elementwise::mul_constant_row(level, row, div.t_inv_special[j], plan.ring.modulus(special[j]));
            }
            elementwise::convert_basis_poly(level, &div.conv, &y, poly, n);
            for (i, row) in poly.chunks_exact_mut(n).enumerate() {
                let m = plan.ring.modulus(i);
                elementwise::mul_constant_row(level, row, div.t_mod_q[i], m);
                plan.ntt[i].forward(row);
                elementwise::sub_row(level, row, &src[i * n..(i + 1) * n], m);
                elementwise::negate_row(level, row, m);
                elementwise::mul_constant_row(level, row, div.p_inv_q[i], m);
            }
            self.pool.give(y);
        });
        self.recycle(a);
        Ok(out)
    }

    fn automorphism_into<D: Domain>(&self, plan: &CpuPlan, a: &CpuBatch<D>, k: usize, out: &mut CpuBatch<D>) -> Result<(), Error> {
        checks::same_shape(a.shape(), out.shape())?;
        let shape = a.shape().clone();
        checks::galois_element(shape.n, k)?;
        if D::IS_NTT {
            let perm = plan.galois_permutation(k)?;
            self.for_rows(out.data_mut(), shape.n, Cost::Light, |r, row| kernels::permute_row(a.row(r), &perm, row));
        } else {
            self.for_rows(out.data_mut(), shape.n, Cost::Light, |r, row| {
                kernels::automorphism_coeff_row(a.row(r), k, row, plan.ring.modulus(shape.prime_of_row(r)));
            });
        }
        Ok(())
    }
}
