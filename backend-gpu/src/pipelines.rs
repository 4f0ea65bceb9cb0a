//! The bind-group layout shared by every kernel and the compute pipelines, built once per
//! [`crate::GpuBackend`].

use std::num::NonZeroU64;

use ringvault_core::Error;

use crate::context::{Context, gpu_error};
use crate::shaders::{FILES, Kernel, module_source};

/// Bytes of the per-dispatch header (16 words).
pub(crate) const HEADER_BYTES: u64 = 64;

/// The layout, the pipelines, and placeholder buffers for unused bindings.
#[derive(Debug)]
pub(crate) struct Pipelines {
    pub(crate) layout: wgpu::BindGroupLayout,
    pipelines: Vec<wgpu::ComputePipeline>,
    /// Bound where a kernel reads no second input (distinct buffers: a binding that aliases a
    /// written one would be a usage conflict).
    pub(crate) unused: [wgpu::Buffer; 3],
}

fn storage(binding: u32, read_only: bool, min_bytes: u64) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Storage { read_only }, has_dynamic_offset: false, min_binding_size: NonZeroU64::new(min_bytes) },
        count: None,
    }
}

impl Pipelines {
    /// Compiles every module and builds every pipeline.
    ///
    /// # Errors
    /// [`Error::Backend`] when the device rejects a module or a pipeline.
    pub(crate) fn new(ctx: &Context) -> Result<Self, Error> {
        ctx.scoped("building the compute pipelines", || {
            let device = &ctx.device;
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("ringvault"),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Uniform, has_dynamic_offset: false, min_binding_size: NonZeroU64::new(HEADER_BYTES) },
                        count: None,
                    },
                    storage(1, true, HEADER_BYTES),
                    storage(2, false, 4),
                    storage(3, true, 4),
                    storage(4, true, 4),
                    // (w, Shoup(w)) pairs.
                    storage(5, true, 8),
                ],
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some("ringvault"), bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
            let modules: Vec<wgpu::ShaderModule> = FILES
                .iter()
                .map(|(name, src)| {
                    let descriptor = wgpu::ShaderModuleDescriptor { label: Some(name), source: wgpu::ShaderSource::Wgsl(module_source(src, ctx.int64).into()) };
                    if ctx.checked_shaders {
                        device.create_shader_module(descriptor)
                    } else {
                        // Only the loop-bounding counters are left out; bounds checks and
                        // division guards stay.
                        let checks = wgpu::ShaderRuntimeChecks { force_loop_bounding: false, ..wgpu::ShaderRuntimeChecks::checked() };
                        // SAFETY: `force_loop_bounding: false` requires that no loop of the
                        // module runs forever. Every loop in `shaders/` ends for every header
                        // value and every input, by the argument in `shaders/common.wgsl`
                        // ("Loops"); the other checks are on.
                        unsafe { device.create_shader_module_trusted(descriptor, checks) }
                    }
                })
                .collect();
            let pipelines = Kernel::all()
                .into_iter()
                .map(|kernel| {
                    let (file, entry) = kernel.entry();
                    let constants = kernel.constants();
                    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: Some(&pipeline_layout),
                        module: &modules[file],
                        entry_point: Some(entry),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            constants: &constants,
                            // Every kernel writes workgroup memory before reading it.
                            zero_initialize_workgroup_memory: false,
                        },
                        cache: None,
                    })
                })
                .collect();
            let unused = ["unused src0", "unused src1", "unused twiddles"].map(|label| {
                device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: 16, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false })
            });
            Ok(Self { layout, pipelines, unused })
        })
    }

    /// The pipeline of a kernel.
    pub(crate) fn get(&self, kernel: Kernel) -> Result<&wgpu::ComputePipeline, Error> {
        self.pipelines.get(kernel.index()).ok_or_else(|| gpu_error(format!("no pipeline for {kernel:?}")))
    }
}
