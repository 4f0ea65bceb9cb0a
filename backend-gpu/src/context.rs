//! The wgpu instance, the adapter choice, the device with a fixed set of limits, and error
//! capture.
//!
//! Every wgpu call that can fail runs inside [`Context::scoped`], which pushes out-of-memory,
//! validation and internal error scopes (thread-local in wgpu 30) and turns whatever they
//! catch into [`Error::Backend`]. Errors outside any scope and a lost device are recorded by
//! callbacks installed on the device (wgpu's default handler would panic) and reported by the
//! next operation.

use std::sync::{Arc, Mutex};

use ringvault_core::Error;

/// Bytes of workgroup memory the NTT tile kernels use: 4096 residues.
pub(crate) const WORKGROUP_STORAGE_BYTES: u32 = 16 << 10;

/// The largest storage-buffer binding the backend requests (the WebGPU default, which every
/// Vulkan, Metal and D3D12 adapter meets). Batches larger than this are split into chunks.
pub const MAX_BINDING_BYTES: u64 = 128 << 20;

/// The limits requested from every adapter: wgpu's downlevel defaults with
/// - 8 storage buffers per stage (the WebGPU default; kernels bind up to 5),
/// - 16 KiB of workgroup storage (the Vulkan minimum; the NTT tile),
/// - storage bindings of [`MAX_BINDING_BYTES`] and buffers of 256 MiB (the WebGPU defaults).
///
/// Never the adapter's own limits: the same code path and the same chunking run everywhere.
pub fn required_limits() -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffers_per_shader_stage: 8,
        max_compute_workgroup_storage_size: WORKGROUP_STORAGE_BYTES,
        max_storage_buffer_binding_size: MAX_BINDING_BYTES,
        max_buffer_size: 256 << 20,
        ..wgpu::Limits::downlevel_defaults()
    }
}

/// What [`crate::list_adapters`] reports about one adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterInfoSummary {
    /// The adapter's name, e.g. `NVIDIA GeForce RTX 4090` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// The graphics API: `Vulkan`, `Metal`, `Dx12`, ...
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    /// Driver name and version, as the adapter reports them.
    pub driver: String,
    /// True for a software rasteriser (device type `Cpu`, e.g. lavapipe's llvmpipe).
    pub software: bool,
    /// True when the adapter meets [`required_limits`] (otherwise the backend cannot use it).
    pub usable: bool,
}

impl AdapterInfoSummary {
    /// The summary of an adapter's info; `usable` says whether it meets the limits.
    pub(crate) fn from_info(info: &wgpu::AdapterInfo, usable: bool) -> Self {
        let driver = [info.driver.as_str(), info.driver_info.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
        Self {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver,
            software: info.device_type == wgpu::DeviceType::Cpu,
            usable,
        }
    }

    fn new(adapter: &wgpu::Adapter) -> Self {
        Self::from_info(&adapter.get_info(), required_limits().check_limits(&adapter.limits()))
    }
}

/// How [`crate::GpuBackend::with_options`] chooses and uses an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuOptions {
    /// Accept a software adapter (device type `Cpu`, e.g. lavapipe) when no hardware adapter
    /// exists. Off by default: software adapters prove arithmetic, not speed.
    pub allow_software: bool,
    /// Use only adapters whose name contains this text (case-insensitive).
    pub adapter_name: Option<String>,
    /// Largest buffer chunk in bytes (at most [`MAX_BINDING_BYTES`]); batches larger than this
    /// are split at polynomial boundaries. Tests set it small to exercise the split.
    pub max_chunk_bytes: u64,
    /// Bytes of freed device buffers kept for reuse.
    pub pool_bytes: u64,
    /// Largest batch in bytes ([`ringvault_core::Caps::max_batch_residues`] is a quarter of it).
    pub max_batch_bytes: u64,
    /// `log₂` of the largest NTT block the workgroup-memory pass handles (1 to 12, default 12:
    /// 4096 residues, 16 KiB). Stages with larger blocks run in register passes. Tests lower it
    /// to exercise every register radix at small degrees; results do not depend on it.
    pub ntt_tile_log: u32,
    /// Use 64-bit shader integers (`wgpu::Features::SHADER_INT64`) for the 32×32 → 64-bit
    /// products when the adapter offers them (default); `false` keeps the 16-bit-half
    /// products everywhere. Results are bit-identical either way.
    pub int64: bool,
    /// Build the shader modules with every runtime check wgpu can add (`true`), or without
    /// the loop-bounding counters (`false`, the default): every loop of the shaders ends by
    /// construction (the argument is in `shaders/common.wgsl`). Bounds checks and integer
    /// division guards stay on either way. The test suite keeps a checked configuration.
    pub checked_shaders: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        Self { allow_software: false, adapter_name: None, max_chunk_bytes: MAX_BINDING_BYTES, pool_bytes: 1 << 30, max_batch_bytes: 4 << 30, ntt_tile_log: 12, int64: true, checked_shaders: false }
    }
}

/// A backend error of the GPU.
pub(crate) fn gpu_error(reason: impl Into<String>) -> Error {
    Error::Backend { backend: "gpu".into(), reason: reason.into() }
}

fn instance() -> wgpu::Instance {
    // `WGPU_BACKEND` (e.g. `vulkan`) restricts the backends; unset, all compiled ones are tried.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter wgpu finds (restricted by `WGPU_BACKEND` when set), best first.
pub fn list_adapters() -> Vec<AdapterInfoSummary> {
    let mut adapters: Vec<_> = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all())).iter().map(AdapterInfoSummary::new).collect();
    adapters.sort_by_key(|a| rank_name(&a.device_type));
    adapters
}

/// Preference order of device types: discrete, integrated, virtual, other, software.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn rank_name(t: &str) -> u8 {
    match t {
        "DiscreteGpu" => 0,
        "IntegratedGpu" => 1,
        "VirtualGpu" => 2,
        "Other" => 3,
        _ => 4,
    }
}

/// The device, its queue, and the recorded asynchronous failures.
pub(crate) struct Context {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) info: wgpu::AdapterInfo,
    /// Why the device was lost, once it is.
    lost: Arc<Mutex<Option<String>>>,
    /// The first error no scope caught.
    uncaptured: Arc<Mutex<Option<String>>>,
    /// Whether the device was opened with 64-bit shader integers (the modules then use them).
    pub(crate) int64: bool,
    /// Whether the adapter offers them.
    pub(crate) offers_int64: bool,
    /// [`GpuOptions::checked_shaders`].
    pub(crate) checked_shaders: bool,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("adapter", &self.info.name).field("backend", &self.info.backend).finish_non_exhaustive()
    }
}

impl Context {
    /// Picks the best adapter allowed by `options` and opens a device with
    /// [`required_limits`].
    pub(crate) fn new(options: &GpuOptions) -> Result<Self, Error> {
        let instance = instance();
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        if adapters.is_empty() {
            return Err(gpu_error("no GPU adapter found (is a Vulkan, Metal or D3D12 driver installed?)"));
        }
        let wanted = options.adapter_name.as_ref().map(|s| s.to_lowercase());
        let limits = required_limits();
        let mut candidates: Vec<&wgpu::Adapter> = adapters
            .iter()
            .filter(|a| {
                let info = a.get_info();
                (options.allow_software || info.device_type != wgpu::DeviceType::Cpu)
                    && wanted.as_ref().is_none_or(|w| info.name.to_lowercase().contains(w))
                    && limits.check_limits(&a.limits())
            })
            .collect();
        candidates.sort_by_key(|a| rank(a.get_info().device_type));
        let Some(adapter) = candidates.first() else {
            let seen: Vec<String> = adapters.iter().map(|a| {
                let s = AdapterInfoSummary::new(a);
                format!("{} ({}, {}{})", s.name, s.backend, s.device_type, if s.usable { "" } else { ", below the required limits" })
            }).collect();
            let hint = if options.allow_software { "" } else { "; software adapters (Cpu) are not allowed" };
            return Err(gpu_error(format!("no usable GPU adapter among [{}]{hint}", seen.join(", "))));
        };
        let info = adapter.get_info();
        let offers_int64 = adapter.features().contains(wgpu::Features::SHADER_INT64);
        let int64 = options.int64 && offers_int64;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("ringvault"),
            required_features: if int64 { wgpu::Features::SHADER_INT64 } else { wgpu::Features::empty() },
            required_limits: limits,
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| gpu_error(format!("cannot open {}: {e}", info.name)))?;
        let lost = Arc::new(Mutex::new(None));
        let uncaptured = Arc::new(Mutex::new(None));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = sink.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }));
        let sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = sink.lock() {
                slot.get_or_insert_with(|| format!("{reason:?}: {message}"));
            }
        });
        Ok(Self { device, queue, info, lost, uncaptured, int64, offers_int64, checked_shaders: options.checked_shaders })
    }

    /// `Err` once the device is lost or an error escaped every scope.
    pub(crate) fn check_alive(&self) -> Result<(), Error> {
        if let Some(reason) = self.lost.lock().map_err(|_| gpu_error("device state lock poisoned"))?.as_ref() {
            return Err(gpu_error(format!("device lost ({reason})")));
        }
        if let Some(reason) = self.uncaptured.lock().map_err(|_| gpu_error("device state lock poisoned"))?.as_ref() {
            return Err(gpu_error(format!("device error: {reason}")));
        }
        Ok(())
    }

    /// Runs `f` inside out-of-memory, validation and internal error scopes; whatever they
    /// catch (the first, innermost last) becomes `Err`.
    pub(crate) fn scoped<T>(&self, what: &str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        self.check_alive()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let out = f();
        let internal = pollster::block_on(internal.pop());
        let validation = pollster::block_on(validation.pop());
        let oom = pollster::block_on(oom.pop());
        if let Some(e) = oom {
            return Err(gpu_error(format!("{what}: out of device memory ({e})")));
        }
        if let Some(e) = validation.or(internal) {
            return Err(gpu_error(format!("{what}: {e}")));
        }
        let out = out?;
        self.check_alive()?;
        Ok(out)
    }
}
