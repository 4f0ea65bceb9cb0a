//! `ringvault info`: the backends and CPU level this machine offers.

use ringvault_backend_cpu::{CpuBackend, CpuLevel};

/// A description of the compute resources found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Info {
    /// The CPU level the CPU backend uses by default.
    pub cpu_level: String,
    /// Every CPU level this machine supports.
    pub cpu_levels: Vec<String>,
    /// The backends available, by name.
    pub backends: Vec<String>,
    /// Rayon worker threads used for batches.
    pub threads: usize,
}

/// Detects what this machine offers.
pub fn detect() -> Info {
    let cpu_levels = CpuLevel::supported().iter().map(|l| l.to_string()).collect();
    let backends = vec![ringvault_core::Backend::name(&CpuBackend::new())];
    Info { cpu_level: CpuLevel::detect().to_string(), cpu_levels, backends, threads: rayon::current_num_threads() }
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "backends:     {}", self.backends.join(", "))?;
        writeln!(f, "cpu level:    {} (supported: {})", self.cpu_level, self.cpu_levels.join(", "))?;
        writeln!(f, "threads:      {}", self.threads)?;
        write!(f, "gpu adapters: none (the GPU backend is not built into this version)")
    }
}
