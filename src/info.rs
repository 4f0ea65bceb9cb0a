//! `ringvault info`: the backends, CPU level and GPU adapters this machine offers.

use ringvault_backend_cpu::{CpuBackend, CpuLevel};

/// One GPU adapter as wgpu reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Adapter {
    /// E.g. `NVIDIA H100 80GB HBM3` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// The graphics API: `Vulkan`, `Metal`, `Dx12`.
    pub api: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` (software) or `Other`.
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// A software rasteriser (never chosen by `auto`).
    pub software: bool,
    /// Meets the limits the GPU backend asks for.
    pub usable: bool,
}

/// A description of the compute resources found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Info {
    /// The CPU level the CPU backend uses by default.
    pub cpu_level: String,
    /// Every CPU level this machine supports.
    pub cpu_levels: Vec<String>,
    /// The backends this build contains (`cpu`, and `gpu` with the `gpu` feature).
    pub backends: Vec<String>,
    /// Rayon worker threads used for batches.
    pub threads: usize,
    /// Every GPU adapter wgpu finds (restricted by `WGPU_BACKEND` when set), best first.
    pub gpu_adapters: Vec<Adapter>,
    /// What `--backend auto` would use: the first usable hardware adapter, else the CPU.
    pub auto: String,
}

/// Detects what this machine offers (lists adapters without opening a device).
pub fn detect() -> Info {
    let cpu_levels = CpuLevel::supported().iter().map(|l| l.to_string()).collect();
    let cpu = ringvault_core::Backend::name(&CpuBackend::new());
    let gpu_adapters = adapters();
    let auto = gpu_adapters.iter().find(|a| a.usable && !a.software).map_or_else(|| cpu.clone(), |a| format!("gpu-{} on {}", a.api.to_lowercase(), a.name));
    let mut backends = vec![cpu];
    if cfg!(feature = "gpu") {
        backends.push("gpu".into());
    }
    Info { cpu_level: CpuLevel::detect().to_string(), cpu_levels, backends, threads: rayon::current_num_threads(), gpu_adapters, auto }
}

#[cfg(feature = "gpu")]
fn adapters() -> Vec<Adapter> {
    ringvault_backend_gpu::list_adapters()
        .into_iter()
        .map(|a| Adapter { name: a.name, api: a.backend, device_type: a.device_type, driver: a.driver, software: a.software, usable: a.usable })
        .collect()
}

#[cfg(not(feature = "gpu"))]
fn adapters() -> Vec<Adapter> {
    Vec::new()
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "backends:     {}", self.backends.join(", "))?;
        writeln!(f, "cpu level:    {} (supported: {})", self.cpu_level, self.cpu_levels.join(", "))?;
        writeln!(f, "threads:      {}", self.threads)?;
        if self.gpu_adapters.is_empty() {
            let why = if cfg!(feature = "gpu") { "none found" } else { "none (this build has no GPU backend)" };
            writeln!(f, "gpu adapters: {why}")?;
        } else {
            writeln!(f, "gpu adapters:")?;
            for a in &self.gpu_adapters {
                let mut notes = vec![a.device_type.clone()];
                if a.software {
                    notes.push("software: only with RINGVAULT_GPU_SOFTWARE=1".into());
                }
                if !a.usable {
                    notes.push("below the required limits".into());
                }
                writeln!(f, "  - {} ({}; {}; driver {})", a.name, a.api, notes.join(", "), a.driver)?;
            }
        }
        write!(f, "auto picks:   {}", self.auto)
    }
}
