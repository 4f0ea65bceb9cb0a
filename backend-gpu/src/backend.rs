//! The [`Backend`] implementation: shape checks (shared with every backend), then the
//! dispatches of each operation.

use std::sync::Arc;

use ringvault_core::backend::checks;
use ringvault_core::rns::{BasisConversion, DigitDecomposition, SpecialDivision};
use ringvault_core::zq::MAX_MODULUS_BITS;
use ringvault_core::{Backend, BatchShape, Caps, Coeff, Domain, Error, HasShape, Ntt, PolyBatch, RingContext};

use crate::context::{MAX_BINDING_BYTES, gpu_error};
use crate::ops::elementwise::{self, per_chunk};
use crate::ops::ntt::{self, Rows};
use crate::ops::{Dispatch, basis};
use crate::shaders::Kernel;
use crate::{GpuBackend, GpuBatch, GpuPlan, MAX_DEGREE, buffers};

impl GpuBackend {
    /// The NTT-domain division shared by modulus switching and the division by `P`, in one
    /// submission per call: per chunk, the inverse NTT of `a`'s rows `dropped` of every
    /// polynomial (in place: `a` is consumed by the caller), the `correction` kernel (its
    /// header parameters; it writes the correction in coefficients into `out`), the forward
    /// NTT of `out`, and `drop_finish` with `finish` parameters (`+ x̂ᵢ·c` with `c` from the
    /// records). The NTT is linear, so this equals transforming everything back and forth.
    #[allow(clippy::too_many_arguments, reason = "the two callers differ in exactly these")]
    fn correct_in_coefficients(
        &self,
        label: &'static str,
        plan: &GpuPlan,
        a: &GpuBatch<Ntt>,
        out: &GpuBatch<Ntt>,
        dropped: std::ops::Range<usize>,
        correction: (Kernel, &[u32]),
        finish: &[u32],
        records: &[u32],
    ) -> Result<(), Error> {
        let stride = a.shape.limbs.len();
        let tile_log = self.inner.options.ntt_tile_log;
        self.submit(label, |enc| {
            let corrections = per_chunk(plan, correction.0, out, &[(&a.chunks, false)], correction.1, records)?;
            let finishes = per_chunk(plan, Kernel::DropFinish, out, &[(&a.chunks, false)], finish, records)?;
            let mut ds: Vec<Dispatch<'_>> = Vec::new();
            for (((src, dst), correction), finish) in a.chunks.iter().zip(&out.chunks).zip(corrections).zip(finishes) {
                for offset in dropped.clone() {
                    let row = Rows { count: src.polys, stride, offset };
                    ds.extend(ntt::dispatches(plan, &a.shape, src.buffer(), row, false, tile_log)?);
                }
                ds.push(correction);
                ds.extend(ntt::dispatches(plan, &out.shape, dst.buffer(), Rows::all(&out.shape, dst.polys), true, tile_log)?);
                ds.push(finish);
            }
            self.encode(enc, &ds)
        })
    }
}

impl Backend for GpuBackend {
    type Plan = GpuPlan;
    type Batch<D: Domain> = GpuBatch<D>;

    fn name(&self) -> String {
        format!("gpu-{}", self.inner.summary.backend.to_lowercase())
    }

    fn synchronize(&self) -> Result<(), Error> {
        self.wait_idle()
    }

    fn caps(&self) -> Caps {
        Caps { max_batch_residues: (self.inner.options.max_batch_bytes / 4) as usize, max_modulus_bits: MAX_MODULUS_BITS, max_degree: MAX_DEGREE, efficient_batch_residues: usize::MAX }
    }

    fn plan(&self, ring: Arc<RingContext>) -> Result<GpuPlan, Error> {
        let caps = self.caps();
        if ring.n() > caps.max_degree {
            return Err(Error::InvalidDegree { n: ring.n() });
        }
        if let Some(m) = ring.tables().iter().map(|t| t.modulus()).find(|m| m.bits() > caps.max_modulus_bits) {
            return Err(Error::ModulusTooLarge { q: m.value(), bits: m.bits(), max: caps.max_modulus_bits });
        }
        let twiddle_bytes = (ring.len() * ring.n() * 16) as u64;
        if twiddle_bytes > MAX_BINDING_BYTES {
            return Err(gpu_error(format!("the NTT tables of {} primes at n = {} take {twiddle_bytes} bytes, above the binding limit {MAX_BINDING_BYTES}", ring.len(), ring.n())));
        }
        let poly_bytes = (ring.len() * ring.n() * 4) as u64;
        let chunk = self.inner.options.max_chunk_bytes;
        if poly_bytes > chunk {
            return Err(Error::BatchTooLarge { backend: self.name(), max: (chunk / 4) as usize, requested: ring.len() * ring.n() });
        }
        let polys_per_chunk = (chunk / poly_bytes) as usize;
        self.ctx().scoped("building a plan", || Ok(GpuPlan::new(&self.ctx().device, ring, polys_per_chunk)))
    }

    fn upload<D: Domain>(&self, plan: &GpuPlan, host: &PolyBatch<D>) -> Result<GpuBatch<D>, Error> {
        let shape = host.shape().clone();
        let ring = plan.as_ref();
        ring.check_shape(&shape)?;
        if host.data().len() != shape.len() {
            return Err(Error::ShapeMismatch { what: "residues", expected: shape.len(), found: host.data().len() });
        }
        // The shaders' bounds assume reduced residues: re-check (a host batch may come from
        // another ring of the same degree, or have been edited through `data_mut`).
        for (r, row) in host.data().chunks_exact(shape.n).enumerate() {
            let q = ring.modulus(shape.prime_of_row(r)).value();
            if row.iter().fold(0, |m, &x| m.max(x)) >= q {
                let bad = row.iter().copied().find(|&x| x >= q).unwrap_or(q);
                return Err(Error::ResidueOutOfRange { value: bad, q });
            }
        }
        let batch = self.alloc::<D>(plan, shape)?;
        let width = batch.shape.limbs.len() * batch.shape.n;
        self.ctx().scoped("upload", || {
            for ((first, polys), chunk) in plan.chunks(batch.shape.count).into_iter().zip(&batch.chunks) {
                let words = &host.data()[first * width..(first + polys) * width];
                self.ctx().queue.write_buffer(chunk.buffer(), 0, bytemuck::cast_slice(words));
            }
            Ok(())
        })?;
        Ok(batch)
    }

    fn download<D: Domain>(&self, plan: &GpuPlan, batch: &GpuBatch<D>) -> Result<PolyBatch<D>, Error> {
        Self::check_batch(plan, batch)?;
        let poly_bytes = batch.poly_bytes();
        let chunks: Vec<(&wgpu::Buffer, u64)> = batch.chunks.iter().map(|c| (c.buffer(), c.polys as u64 * poly_bytes)).collect();
        let data = buffers::download(self.ctx(), &self.inner.pool, &chunks)?;
        // Also a check of the kernels: every residue must come back reduced.
        PolyBatch::from_residues(plan.as_ref(), batch.shape.clone(), data)
    }

    fn zeros<D: Domain>(&self, plan: &GpuPlan, shape: BatchShape) -> Result<GpuBatch<D>, Error> {
        let batch = self.alloc::<D>(plan, shape)?;
        self.submit("zeros", |enc| {
            for c in &batch.chunks {
                enc.clear_buffer(c.buffer(), 0, None);
            }
            Ok(())
        })?;
        Ok(batch)
    }

    fn duplicate<D: Domain>(&self, plan: &GpuPlan, a: &GpuBatch<D>) -> Result<GpuBatch<D>, Error> {
        Self::check_batch(plan, a)?;
        let out = self.alloc::<D>(plan, a.shape.clone())?;
        self.submit("duplicate", |enc| {
            for (src, dst) in a.chunks.iter().zip(&out.chunks) {
                enc.copy_buffer_to_buffer(src.buffer(), 0, dst.buffer(), 0, None);
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn ntt_forward(&self, plan: &GpuPlan, a: GpuBatch<Coeff>) -> Result<GpuBatch<Ntt>, Error> {
        self.transform(plan, &a, true)?;
        Ok(a.relabel())
    }

    fn ntt_inverse(&self, plan: &GpuPlan, a: GpuBatch<Ntt>) -> Result<GpuBatch<Coeff>, Error> {
        self.transform(plan, &a, false)?;
        Ok(a.relabel())
    }

    fn add_assign<D: Domain>(&self, plan: &GpuPlan, acc: &mut GpuBatch<D>, b: &GpuBatch<D>) -> Result<(), Error> {
        let broadcast = checks::elementwise(acc.shape(), b.shape())?;
        Self::check_batch(plan, b)?;
        self.zip(plan, Kernel::Add, acc, &[(&b.chunks, broadcast)], |_| [0; 4])
    }

    fn sub_assign<D: Domain>(&self, plan: &GpuPlan, acc: &mut GpuBatch<D>, b: &GpuBatch<D>) -> Result<(), Error> {
        let broadcast = checks::elementwise(acc.shape(), b.shape())?;
        Self::check_batch(plan, b)?;
        self.zip(plan, Kernel::Sub, acc, &[(&b.chunks, broadcast)], |_| [0; 4])
    }

    fn negate_assign<D: Domain>(&self, plan: &GpuPlan, a: &mut GpuBatch<D>) -> Result<(), Error> {
        self.zip(plan, Kernel::Negate, a, &[], |_| [0; 4])
    }

    fn mul_pointwise_assign(&self, plan: &GpuPlan, acc: &mut GpuBatch<Ntt>, b: &GpuBatch<Ntt>) -> Result<(), Error> {
        let broadcast = checks::elementwise(acc.shape(), b.shape())?;
        Self::check_batch(plan, b)?;
        self.zip(plan, Kernel::Mul, acc, &[(&b.chunks, broadcast)], |_| [0; 4])
    }

    fn mul_pointwise_acc(&self, plan: &GpuPlan, a: &GpuBatch<Ntt>, b: &GpuBatch<Ntt>, acc: &mut GpuBatch<Ntt>) -> Result<(), Error> {
        checks::same_shape(acc.shape(), a.shape())?;
        let broadcast = checks::elementwise(acc.shape(), b.shape())?;
        Self::check_batch(plan, a)?;
        Self::check_batch(plan, b)?;
        self.zip(plan, Kernel::MulAcc, acc, &[(&a.chunks, false), (&b.chunks, broadcast)], |_| [0; 4])
    }

    /// One submission for every digit: the digit's extension (a reduction, or the fast basis
    /// conversion from its primes), its forward NTT and both multiply-accumulates, recorded
    /// back to back (one digit buffer, reused).
    fn key_switch_inner(
        &self,
        plan: &GpuPlan,
        coeff: &GpuBatch<Coeff>,
        ntt: &GpuBatch<Ntt>,
        digits: &DigitDecomposition,
        keys_b: &[&GpuBatch<Ntt>],
        keys_a: &[&GpuBatch<Ntt>],
    ) -> Result<(GpuBatch<Ntt>, GpuBatch<Ntt>), Error> {
        let shape = checks::key_switch_inner(coeff.shape(), ntt.shape(), digits, keys_b, keys_a)?;
        let out_limbs = digits.out_limbs();
        Self::check_batch(plan, coeff)?;
        for k in keys_b.iter().chain(keys_a) {
            Self::check_batch(plan, k)?;
        }
        let acc_b = self.alloc::<Ntt>(plan, shape.clone())?;
        let acc_a = self.alloc::<Ntt>(plan, shape.clone())?;
        let digit = self.alloc::<Coeff>(plan, shape.clone())?;
        let reduce_records = basis::reduce_records(plan, out_limbs);
        let convert_records = digits.digits().iter().map(|d| d.to_all.as_ref().map(basis::convert_records).transpose()).collect::<Result<Vec<_>, Error>>()?;
        let source_limbs = coeff.shape.limbs.len() as u32;
        let records = elementwise::records(plan, &acc_b, |_| [0; 4]);
        let tile_log = self.inner.options.ntt_tile_log;
        self.submit("key_switch_inner", |enc| {
            for c in acc_b.chunks.iter().chain(&acc_a.chunks) {
                enc.clear_buffer(c.buffer(), 0, None);
            }
            let mut ds: Vec<Dispatch<'_>> = Vec::new();
            for (((d, conv), kb), ka) in digits.digits().iter().zip(&convert_records).zip(keys_b).zip(keys_a) {
                let first = d.rows.start as u32;
                ds.extend(match conv {
                    None => per_chunk(plan, Kernel::ReduceLimb, &digit, &[(&coeff.chunks, false)], &[source_limbs, first], &reduce_records)?,
                    Some(records) => per_chunk(plan, Kernel::ConvertBasis, &digit, &[(&coeff.chunks, false)], &[d.rows.len() as u32, source_limbs, first], records)?,
                });
                for chunk in &digit.chunks {
                    ds.extend(ntt::dispatches(plan, &shape, chunk.buffer(), Rows::all(&shape, chunk.polys), true, tile_log)?);
                }
                for (acc, key) in [(&acc_b, kb), (&acc_a, ka)] {
                    let broadcast = key.shape.count != shape.count;
                    ds.extend(per_chunk(plan, Kernel::MulAcc, acc, &[(&digit.chunks, false), (&key.chunks, broadcast)], &[u32::from(broadcast)], &records)?);
                }
            }
            self.encode(enc, &ds)
        })?;
        Ok((acc_b, acc_a))
    }

    fn mul_limb_constants_assign<D: Domain>(&self, plan: &GpuPlan, a: &mut GpuBatch<D>, constants: &[u32]) -> Result<(), Error> {
        checks::limb_constants(plan.as_ref(), a.shape(), constants)?;
        let limbs = a.shape.limbs.clone();
        self.zip(plan, Kernel::MulConst, a, &[], |i| {
            let c = constants[i];
            [c, plan.modulus(limbs[i]).shoup(c), 0, 0]
        })
    }

    fn reduce_limb_into(&self, plan: &GpuPlan, a: &GpuBatch<Coeff>, limb: usize, out: &mut GpuBatch<Coeff>) -> Result<(), Error> {
        checks::reduce_limb(a.shape(), limb, out.shape())?;
        Self::check_batch(plan, a)?;
        Self::check_batch(plan, out)?;
        let records = basis::reduce_records(plan, &out.shape.limbs);
        let out: &GpuBatch<Coeff> = out;
        self.submit("reduce_limb_into", |enc| {
            let ds = per_chunk(plan, Kernel::ReduceLimb, out, &[(&a.chunks, false)], &[a.shape.limbs.len() as u32, limb as u32], &records)?;
            self.encode(enc, &ds)
        })
    }

    fn convert_basis_into(&self, plan: &GpuPlan, conv: &BasisConversion, a: &GpuBatch<Coeff>, first_row: usize, out: &mut GpuBatch<Coeff>) -> Result<(), Error> {
        checks::convert_basis(plan.as_ref(), conv, a.shape(), first_row, out.shape())?;
        Self::check_batch(plan, a)?;
        Self::check_batch(plan, out)?;
        let records = basis::convert_records(conv)?;
        let out: &GpuBatch<Coeff> = out;
        self.submit("convert_basis_into", |enc| {
            let ds = per_chunk(plan, Kernel::ConvertBasis, out, &[(&a.chunks, false)], &[conv.from().len() as u32, a.shape.limbs.len() as u32, first_row as u32], &records)?;
            self.encode(enc, &ds)
        })
    }

    fn drop_last_limb(&self, plan: &GpuPlan, a: GpuBatch<Coeff>, t: u32) -> Result<GpuBatch<Coeff>, Error> {
        let drop = Self::drop_constants(plan, &a.shape, t)?;
        Self::check_batch(plan, &a)?;
        let l = a.shape.limbs.len();
        let out = self.alloc::<Coeff>(plan, BatchShape::new(a.shape.count, a.shape.n, a.shape.limbs[..l - 1].to_vec()))?;
        let (params, records) = basis::drop_params(&drop, l, false);
        self.submit("drop_last_limb", |enc| {
            let ds = per_chunk(plan, Kernel::DropLimb, &out, &[(&a.chunks, false)], &params, &records)?;
            self.encode(enc, &ds)
        })?;
        Ok(out)
    }

    /// Per chunk: the inverse NTT of the dropped limb only (in place in `a`, which is
    /// consumed), the correction `−δᵢ·q_L⁻¹` in coefficients, its forward NTT, and
    /// `+ x̂ᵢ·q_L⁻¹` (the NTT is linear, so this equals the default's inverse–drop–forward).
    fn drop_last_limb_ntt(&self, plan: &GpuPlan, a: GpuBatch<Ntt>, t: u32) -> Result<GpuBatch<Ntt>, Error> {
        let drop = Self::drop_constants(plan, &a.shape, t)?;
        Self::check_batch(plan, &a)?;
        let l = a.shape.limbs.len();
        let out = self.alloc::<Ntt>(plan, BatchShape::new(a.shape.count, a.shape.n, a.shape.limbs[..l - 1].to_vec()))?;
        let (params, records) = basis::drop_params(&drop, l, true);
        let mut finish = params.clone();
        finish[4] = 0;
        self.correct_in_coefficients("drop_last_limb_ntt", plan, &a, &out, l - 1..l, (Kernel::DropLimb, &params), &finish, &records)?;
        Ok(out)
    }

    /// Per chunk: the inverse NTT of the special rows only (in place in `a`, which is
    /// consumed), the correction `−δᵢ·P⁻¹` in coefficients (`divide_special`), its forward
    /// NTT, and `+ x̂ᵢ·P⁻¹` (`drop_finish`): the NTT is linear, so this equals the reference's
    /// `(x̂ᵢ − δ̂ᵢ)·P⁻¹` residue for residue.
    fn divide_by_special_ntt(&self, plan: &GpuPlan, _ring: &RingContext, a: GpuBatch<Ntt>, special: &[usize], div: &SpecialDivision) -> Result<GpuBatch<Ntt>, Error> {
        let shape = checks::special_division(a.shape(), special, div)?;
        Self::check_batch(plan, &a)?;
        let (l, k) = (div.level(), special.len());
        let out = self.alloc::<Ntt>(plan, shape)?;
        let records = basis::divide_records(div)?;
        let params = [(l + k) as u32, l as u32, k as u32];
        self.correct_in_coefficients("divide_by_special_ntt", plan, &a, &out, l..l + k, (Kernel::DivideSpecial, &params), &params, &records)?;
        Ok(out)
    }

    fn recycle<D: Domain>(&self, batch: GpuBatch<D>) {
        drop(batch);
    }

    fn relabel<D: Domain, E: Domain>(&self, batch: GpuBatch<D>) -> GpuBatch<E> {
        batch.relabel()
    }

    fn wipe<D: Domain>(&self, batch: GpuBatch<D>) {
        // Clearing is queued before any later reuse of the buffers; a failure here means the
        // device (and its memory) is gone.
        let _ = self.submit("wipe", |enc| {
            for c in &batch.chunks {
                enc.clear_buffer(c.buffer(), 0, None);
            }
            Ok(())
        });
        drop(batch);
    }

    fn automorphism_into<D: Domain>(&self, plan: &GpuPlan, a: &GpuBatch<D>, k: usize, out: &mut GpuBatch<D>) -> Result<(), Error> {
        checks::same_shape(a.shape(), out.shape())?;
        checks::galois_element(a.shape.n, k)?;
        Self::check_batch(plan, a)?;
        Self::check_batch(plan, out)?;
        let kernel = if D::IS_NTT { Kernel::AutomorphismNtt } else { Kernel::AutomorphismCoeff };
        let records = elementwise::records(plan, out, |_| [0; 4]);
        let out: &GpuBatch<D> = out;
        self.submit("automorphism_into", |enc| {
            let ds = per_chunk(plan, kernel, out, &[(&a.chunks, false)], &[k as u32], &records)?;
            self.encode(enc, &ds)
        })
    }
}
