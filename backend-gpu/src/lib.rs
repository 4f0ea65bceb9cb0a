//! # ringvault-backend-gpu
//!
//! The GPU implementation of [`ringvault_core::Backend`]: every operation is a WGSL compute
//! shader run through wgpu (Vulkan; Metal on macOS; D3D12 on Windows). It sits beside
//! `ringvault-backend-cpu` between `ringvault-core` (which it implements) and the facade, and
//! it is the only crate that names wgpu.
//!
//! - **Numbers.** Residues are `u32` below primes `q < 2^30`, exactly as on the CPU; the
//!   shaders build 32×32→64-bit products from 16-bit halves (WGSL has no 64-bit integers) and
//!   reduce with Shoup (constant operands: twiddles, per-limb constants) and Barrett (two
//!   variable operands). Every output is fully reduced and bit-identical to core's reference
//!   kernels; the tests compare them exactly.
//! - **Residency.** A [`GpuBatch`] is one device buffer per chunk of polynomials; only
//!   [`Backend::upload`] and [`Backend::download`] cross the bus, and `download` is the only
//!   wait. Operations record their dispatches into a command encoder and submit without
//!   waiting. The NTT tables upload once per [`GpuPlan`]; pipelines are built once per
//!   [`GpuBackend`]; freed buffers go back to a pool.
//! - **Limits.** The device is opened with a fixed set of limits ([`required_limits`]), never
//!   the adapter's: storage bindings of at most [`MAX_BINDING_BYTES`]. A batch larger than
//!   that is split into chunks at polynomial boundaries; [`ringvault_core::Caps`] states the
//!   largest batch ([`GpuOptions::max_batch_bytes`]).
//! - **Errors.** No adapter, a lost device, exhausted memory and a rejected pipeline are
//!   [`Error::Backend`] values: every wgpu call runs inside error scopes and the device's
//!   uncaptured-error handler records instead of panicking.
//!
//! The WGSL lives in the workspace's `shaders/` directory, compiled in with `include_str!`
//! ([`shaders`]).
//!
//! ```
//! use std::sync::Arc;
//! use ringvault_backend_gpu::{GpuBackend, GpuOptions};
//! use ringvault_core::{Backend, BatchShape, Coeff, PolyBatch, RingContext, prime::ntt_primes};
//!
//! // Software adapters (lavapipe) are accepted here so that the example runs anywhere.
//! let Ok(gpu) = GpuBackend::with_options(GpuOptions { allow_software: true, ..GpuOptions::default() }) else {
//!     return Ok(()); // no adapter on this machine
//! };
//! let n = 1024;
//! let ring = Arc::new(RingContext::new(n, &ntt_primes(30, n, 2)?)?);
//! let plan = gpu.plan(ring.clone())?;
//! let x = PolyBatch::<Coeff>::from_residues(&ring, BatchShape::new(1, n, vec![0, 1]), vec![7; 2 * n])?;
//! let evals = gpu.ntt_forward(&plan, gpu.upload(&plan, &x)?)?;
//! let back = gpu.download(&plan, &gpu.ntt_inverse(&plan, evals)?)?;
//! assert_eq!(back, x);
//! # Ok::<(), ringvault_core::Error>(())
//! ```

mod backend;
mod batch;
mod buffers;
mod context;
mod ops;
mod pipelines;
mod plan;
pub mod shaders;

use std::sync::Arc;

use ringvault_core::backend::checks;
use ringvault_core::ring::kernels::DropLimb;
use ringvault_core::{Backend, BatchShape, Domain, Error};

pub use batch::GpuBatch;
pub use context::{AdapterInfoSummary, GpuOptions, MAX_BINDING_BYTES, list_adapters, required_limits};
pub use plan::GpuPlan;

use batch::Chunk;
use buffers::{Kind, Pool};
use context::{Context, gpu_error};
use ops::elementwise::{self, per_chunk};
use ops::ntt::{self, Rows};
use pipelines::Pipelines;
use shaders::Kernel;

/// Largest ring degree the backend accepts (core's largest; the NTT schedule itself goes
/// further, see `ops::ntt`).
const MAX_DEGREE: usize = ringvault_core::prime::MAX_DEGREE;

/// The GPU backend: one device and queue, the compute pipelines, and a buffer pool. Cloning is
/// cheap and shares all of them.
#[derive(Clone, Debug)]
pub struct GpuBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ctx: Context,
    pipelines: Pipelines,
    pool: Arc<Pool>,
    options: GpuOptions,
    summary: AdapterInfoSummary,
}

impl GpuBackend {
    /// The best hardware adapter (discrete, then integrated, then virtual or other); software
    /// adapters are refused (see [`GpuBackend::with_options`]).
    ///
    /// # Errors
    /// [`Error::Backend`] when no usable adapter exists or the device or a pipeline cannot be
    /// created.
    pub fn new() -> Result<Self, Error> {
        Self::with_options(GpuOptions::default())
    }

    /// The best adapter allowed by `options`.
    ///
    /// # Errors
    /// As [`GpuBackend::new`]; also options out of range (a chunk size below 4 bytes or above
    /// [`MAX_BINDING_BYTES`], an NTT tile outside `1..=12`).
    pub fn with_options(options: GpuOptions) -> Result<Self, Error> {
        if options.max_chunk_bytes < 4 || options.max_chunk_bytes > MAX_BINDING_BYTES {
            return Err(gpu_error(format!("max_chunk_bytes must be between 4 and {MAX_BINDING_BYTES}, not {}", options.max_chunk_bytes)));
        }
        if !(1..=12).contains(&options.ntt_tile_log) {
            return Err(gpu_error(format!("ntt_tile_log must be between 1 and 12, not {}", options.ntt_tile_log)));
        }
        let ctx = Context::new(&options)?;
        let pipelines = Pipelines::new(&ctx)?;
        let pool = Arc::new(Pool::new(ctx.device.clone(), options.pool_bytes));
        let summary = AdapterInfoSummary::from_info(&ctx.info, true);
        Ok(Self { inner: Arc::new(Inner { ctx, pipelines, pool, options, summary }) })
    }

    /// The adapter's name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub fn adapter_name(&self) -> &str {
        &self.inner.summary.name
    }

    /// What the adapter reports about itself.
    pub fn adapter(&self) -> &AdapterInfoSummary {
        &self.inner.summary
    }

    /// Whether the shaders use native 64-bit products: the adapter offers
    /// `wgpu::Features::SHADER_INT64` and [`GpuOptions::int64`] allowed it.
    pub fn uses_int64(&self) -> bool {
        self.inner.ctx.int64
    }

    /// Whether the adapter offers 64-bit shader integers (whether or not they are used).
    pub fn adapter_offers_int64(&self) -> bool {
        self.inner.ctx.offers_int64
    }

    /// True on a software adapter (device type `Cpu`, e.g. lavapipe).
    pub fn is_software(&self) -> bool {
        self.inner.summary.software
    }

    /// The options the backend was built with.
    pub fn options(&self) -> &GpuOptions {
        &self.inner.options
    }

    /// Waits until the device has finished every operation submitted so far (benches end a
    /// timed section with it; the backend itself waits only in [`Backend::download`]).
    ///
    /// # Errors
    /// [`Error::Backend`] when the device is lost.
    pub fn wait_idle(&self) -> Result<(), Error> {
        let ctx = self.ctx();
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| gpu_error(format!("waiting for the device: {e}")))?;
        ctx.check_alive()
    }

    fn ctx(&self) -> &Context {
        &self.inner.ctx
    }

    /// A batch of `shape` over this plan's ring: chunked, contents unspecified.
    fn alloc<D: Domain>(&self, plan: &GpuPlan, shape: BatchShape) -> Result<GpuBatch<D>, Error> {
        plan.as_ref().check_shape(&shape)?;
        let max = self.caps().max_batch_residues;
        if shape.len() > max {
            return Err(Error::BatchTooLarge { backend: self.name(), max, requested: shape.len() });
        }
        let poly_bytes = (shape.limbs.len() * shape.n * 4) as u64;
        if plan.polys_per_chunk as u64 * poly_bytes > MAX_BINDING_BYTES {
            return Err(Error::BatchTooLarge { backend: self.name(), max: (MAX_BINDING_BYTES / 4) as usize, requested: plan.polys_per_chunk * shape.limbs.len() * shape.n });
        }
        let chunks = self.ctx().scoped("allocating a batch", || {
            Ok(plan.chunks(shape.count).into_iter().map(|(_, polys)| Chunk { buffer: self.inner.pool.take(Kind::Storage, polys as u64 * poly_bytes), polys }).collect())
        })?;
        Ok(GpuBatch::new(shape, chunks))
    }

    /// `batch` belongs to this plan's ring and is chunked as the plan chunks.
    fn check_batch<D: Domain>(plan: &GpuPlan, batch: &GpuBatch<D>) -> Result<(), Error> {
        plan.as_ref().check_shape(&batch.shape)?;
        let want = plan.chunks(batch.shape.count);
        if want.len() != batch.chunks.len() || want.iter().zip(&batch.chunks).any(|(w, c)| w.1 != c.polys) {
            return Err(gpu_error("batch was made by a plan with another chunk size"));
        }
        Ok(())
    }

    /// Element-wise `kernel` on `out` (checked here; the inputs by the caller) with per-limb
    /// extras.
    fn zip<D: Domain>(&self, plan: &GpuPlan, kernel: Kernel, out: &GpuBatch<D>, inputs: &[elementwise::Input<'_>], extra: impl Fn(usize) -> [u32; 4]) -> Result<(), Error> {
        Self::check_batch(plan, out)?;
        let broadcast = inputs.last().is_some_and(|i| i.1);
        let records = elementwise::records(plan, out, extra);
        self.submit(&format!("{kernel:?}"), |enc| {
            let ds = per_chunk(plan, kernel, out, inputs, &[u32::from(broadcast)], &records)?;
            self.encode(enc, &ds)
        })
    }

    /// The NTT of every row of `a`, in place.
    fn transform<D: Domain>(&self, plan: &GpuPlan, a: &GpuBatch<D>, forward: bool) -> Result<(), Error> {
        Self::check_batch(plan, a)?;
        self.submit(if forward { "forward NTT" } else { "inverse NTT" }, |enc| {
            let mut ds = Vec::new();
            for chunk in &a.chunks {
                ds.extend(ntt::dispatches(plan, &a.shape, chunk.buffer(), Rows::all(&a.shape, chunk.polys), forward, self.inner.options.ntt_tile_log)?);
            }
            self.encode(enc, &ds)
        })
    }

    /// The modulus-switching constants of dropping `a`'s last limb.
    fn drop_constants<'p>(plan: &'p GpuPlan, shape: &BatchShape, t: u32) -> Result<DropLimb<'p>, Error> {
        checks::droppable(shape)?;
        let l = shape.limbs.len();
        let ring = plan.as_ref();
        DropLimb::new(ring.modulus(shape.limbs[l - 1]), shape.limbs[..l - 1].iter().map(|&x| ring.modulus(x)).collect(), t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringvault_core::prime::ntt_primes;
    use ringvault_core::{Coeff, HasShape, PolyBatch, RingContext};

    fn backend() -> Option<GpuBackend> {
        match GpuBackend::with_options(GpuOptions { allow_software: true, ..GpuOptions::default() }) {
            Ok(b) => Some(b),
            Err(e) => {
                assert!(!std::env::var("RINGVAULT_REQUIRE_GPU").is_ok_and(|v| v == "1"), "RINGVAULT_REQUIRE_GPU=1 but no GPU backend: {e}");
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    #[test]
    fn wipe_overwrites_device_memory_before_reuse() {
        let Some(gpu) = backend() else { return };
        let n = 256;
        let ring = Arc::new(RingContext::new(n, &ntt_primes(30, n, 2).unwrap()).unwrap());
        let plan = gpu.plan(ring.clone()).unwrap();
        let shape = BatchShape::new(2, n, vec![0, 1]);
        let secret = PolyBatch::<Coeff>::from_residues(&ring, shape.clone(), (1..=shape.len() as u32).collect()).unwrap();
        let batch = gpu.upload(&plan, &secret).unwrap();
        gpu.wipe(batch);
        // The pool hands the same buffer back, uncleared by allocation itself.
        let reused = gpu.alloc::<Coeff>(&plan, shape).unwrap();
        assert!(gpu.download(&plan, &reused).unwrap().data().iter().all(|&x| x == 0));
        // Without a wipe, the old contents would still be there (recycling does not clear).
        let batch = gpu.upload(&plan, &secret).unwrap();
        gpu.recycle(batch);
        let reused = gpu.alloc::<Coeff>(&plan, secret.shape().clone()).unwrap();
        assert_eq!(gpu.download(&plan, &reused).unwrap(), secret);
    }
}
