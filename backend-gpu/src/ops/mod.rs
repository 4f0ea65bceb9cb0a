//! Recording kernels: a [`Dispatch`] names a kernel, its parameter buffer and the buffers it
//! reads and writes; an operation records its dispatches (one per chunk, or one per NTT pass)
//! into one command encoder and submits it without waiting.

pub(crate) mod basis;
pub(crate) mod elementwise;
pub(crate) mod ntt;

use std::num::NonZeroU64;
use std::sync::Arc;

use ringvault_core::Error;

use crate::GpuBackend;
use crate::context::gpu_error;
use crate::pipelines::HEADER_BYTES;
use crate::shaders::Kernel;

/// Invocations per workgroup (the shaders' `WG`).
pub(crate) const WORKGROUP: u64 = 256;
/// Residues per workgroup of the tiled NTT kernels (the shaders' `TILE`).
pub(crate) const TILE: u64 = 4096;
/// Workgroups per grid row; larger grids wrap into y.
const MAX_GROUPS_X: u64 = 65535;

/// One kernel launch.
pub(crate) struct Dispatch<'a> {
    pub(crate) kernel: Kernel,
    pub(crate) info: Arc<wgpu::Buffer>,
    pub(crate) data: &'a wgpu::Buffer,
    pub(crate) src0: Option<&'a wgpu::Buffer>,
    pub(crate) src1: Option<&'a wgpu::Buffer>,
    pub(crate) twiddles: Option<&'a wgpu::Buffer>,
    /// Invocations (residues for the tiled kernels).
    pub(crate) invocations: u64,
}

impl<'a> Dispatch<'a> {
    /// A launch of `kernel` over `invocations` writing `data`, reading nothing else yet.
    pub(crate) fn new(kernel: Kernel, info: Arc<wgpu::Buffer>, data: &'a wgpu::Buffer, invocations: u64) -> Self {
        Self { kernel, info, data, src0: None, src1: None, twiddles: None, invocations }
    }

    pub(crate) fn src0(mut self, b: &'a wgpu::Buffer) -> Self {
        self.src0 = Some(b);
        self
    }

    pub(crate) fn src1(mut self, b: &'a wgpu::Buffer) -> Self {
        self.src1 = Some(b);
        self
    }

    pub(crate) fn twiddles(mut self, b: &'a wgpu::Buffer) -> Self {
        self.twiddles = Some(b);
        self
    }
}

impl GpuBackend {
    /// Records `dispatches` in order into one compute pass (wgpu orders the storage accesses of
    /// successive dispatches).
    pub(crate) fn encode(&self, encoder: &mut wgpu::CommandEncoder, dispatches: &[Dispatch<'_>]) -> Result<(), Error> {
        let p = &self.inner.pipelines;
        let device = &self.inner.ctx.device;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
        for d in dispatches {
            let per_group = if d.kernel.tiled() { TILE } else { WORKGROUP };
            let groups = d.invocations.div_ceil(per_group);
            if groups == 0 {
                continue;
            }
            let gx = groups.min(MAX_GROUPS_X);
            let gy = groups.div_ceil(gx);
            if gy > MAX_GROUPS_X {
                return Err(gpu_error(format!("{groups} workgroups exceed one dispatch")));
            }
            let entry = |binding, resource| wgpu::BindGroupEntry { binding, resource };
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &p.layout,
                entries: &[
                    entry(0, wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: &d.info, offset: 0, size: NonZeroU64::new(HEADER_BYTES) })),
                    entry(1, d.info.as_entire_binding()),
                    entry(2, d.data.as_entire_binding()),
                    entry(3, d.src0.unwrap_or(&p.unused[0]).as_entire_binding()),
                    entry(4, d.src1.unwrap_or(&p.unused[1]).as_entire_binding()),
                    entry(5, d.twiddles.unwrap_or(&p.unused[2]).as_entire_binding()),
                ],
            });
            pass.set_pipeline(p.get(d.kernel)?);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(gx as u32, gy as u32, 1);
        }
        Ok(())
    }

    /// Runs `record` on a fresh command encoder inside the error scopes and submits it.
    pub(crate) fn submit(&self, what: &str, record: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<(), Error>) -> Result<(), Error> {
        let ctx = &self.inner.ctx;
        ctx.scoped(what, || {
            let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(what) });
            record(&mut encoder)?;
            ctx.queue.submit([encoder.finish()]);
            Ok(())
        })
    }
}
