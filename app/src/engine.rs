//! Backend selection from the [`Settings`].
//!
//! | setting | flag | environment | `ringvault.toml` | default |
//! |---|---|---|---|---|
//! | backend | `--backend auto\|cpu\|gpu` | `RINGVAULT_BACKEND` | `backend = "gpu"` | `auto` |
//! | adapter name filter | — | `RINGVAULT_GPU_ADAPTER` | `gpu_adapter = "H100"` | any |
//! | accept software adapters | — | `RINGVAULT_GPU_SOFTWARE=1` | `gpu_allow_software = true` | no |
//! | 64-bit shader integers where offered | — | `RINGVAULT_GPU_INT64=0` (off) | `gpu_int64 = false` | yes |
//!
//! `auto` takes a hardware GPU adapter when the build has the GPU backend (feature `gpu`, on
//! by default) and the machine offers one, otherwise the CPU backend at its best SIMD level,
//! and says which and why ([`Selection::note`]). `auto` never takes a software adapter such as
//! Mesa's lavapipe: it proves arithmetic, not speed. `gpu` without a usable adapter is an
//! error, never a silent fallback; with `RINGVAULT_GPU_SOFTWARE=1` it accepts lavapipe (CI
//! runs the command line on it that way).

use std::fmt;
use std::sync::Arc;

use ringvault_backend_cpu::CpuBackend;
use ringvault_core::Backend;

use crate::AppError;
pub use crate::config::{BackendChoice, Settings};

/// A selected backend.
#[derive(Clone, Debug)]
pub enum Engine {
    /// The CPU backend.
    Cpu(Arc<CpuBackend>),
    /// The GPU backend.
    #[cfg(feature = "gpu")]
    Gpu(Arc<ringvault_backend_gpu::GpuBackend>),
}

/// An engine and one line saying which backend was chosen and why.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The backend.
    pub engine: Engine,
    /// E.g. `backend: cpu-avx512 (auto: no hardware GPU adapter: …)`.
    pub note: String,
}

impl Engine {
    /// Selects the backend for `settings`.
    ///
    /// # Errors
    /// [`AppError::Config`] for `gpu` when no usable adapter exists (or the build lacks the
    /// GPU backend), with the reason.
    pub fn select(settings: &Settings) -> Result<Selection, AppError> {
        let cpu = || Self::Cpu(Arc::new(CpuBackend::new()));
        match settings.backend {
            BackendChoice::Cpu => Ok(Selection::new(cpu(), "cpu: as configured".into())),
            BackendChoice::Gpu => match open_gpu(settings, settings.gpu_allow_software) {
                Ok(gpu) => Ok(Selection::new(gpu, "gpu: as configured".into())),
                Err(why) => Err(AppError::Config(format!(
                    "--backend gpu: {why} (`ringvault info` lists the adapters; RINGVAULT_GPU_SOFTWARE=1 accepts a software one; --backend cpu or auto runs on the CPU)"
                ))),
            },
            BackendChoice::Auto => match open_gpu(settings, false) {
                Ok(gpu) => Ok(Selection::new(gpu, "auto: a hardware GPU adapter is present".into())),
                Err(why) => Ok(Selection::new(cpu(), format!("auto: no hardware GPU adapter ({why})"))),
            },
        }
    }

    /// True for the GPU backend.
    pub fn is_gpu(&self) -> bool {
        !matches!(self, Self::Cpu(_))
    }

    /// Runs `work` on the selected backend: what a front end generic over the backend
    /// calls instead of matching on the variants (which depend on this crate's features).
    pub fn run<W: OnBackend>(&self, work: W) -> W::Output {
        match self {
            Self::Cpu(b) => work.run(b.clone()),
            #[cfg(feature = "gpu")]
            Self::Gpu(b) => work.run(b.clone()),
        }
    }
}

/// Work generic over the backend, for [`Engine::run`].
pub trait OnBackend {
    /// What the work returns.
    type Output;
    /// Does the work on `backend`.
    fn run<B: Backend + 'static>(self, backend: Arc<B>) -> Self::Output;
}

impl Selection {
    fn new(engine: Engine, why: String) -> Self {
        let note = format!("backend: {engine} ({why})");
        Self { engine, note }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu(b) => write!(f, "{}", b.name()),
            #[cfg(feature = "gpu")]
            Self::Gpu(b) => write!(f, "{} on {} ({})", b.name(), b.adapter_name(), if b.uses_int64() { "64-bit products" } else { "16-bit-half products" }),
        }
    }
}

/// The GPU backend under `settings` (software adapters only if `allow_software`), or why not.
#[cfg(feature = "gpu")]
fn open_gpu(settings: &Settings, allow_software: bool) -> Result<Engine, String> {
    use ringvault_backend_gpu::{GpuBackend, GpuOptions};
    let options = GpuOptions { allow_software, adapter_name: settings.gpu_adapter.clone(), int64: settings.gpu_int64, ..GpuOptions::default() };
    GpuBackend::with_options(options).map(|b| Engine::Gpu(Arc::new(b))).map_err(|e| match e {
        ringvault_core::Error::Backend { reason, .. } => reason,
        other => other.to_string(),
    })
}

#[cfg(not(feature = "gpu"))]
fn open_gpu(_settings: &Settings, _allow_software: bool) -> Result<Engine, String> {
    Err("this build has no GPU backend (feature `gpu` is off)".into())
}

/// Runs `$body` with `$b` bound to the engine's backend (`&Arc<B>` for the selected `B`).
#[cfg(feature = "gpu")]
#[macro_export]
macro_rules! on_backend {
    ($engine:expr, |$b:ident| $body:expr) => {
        match $engine {
            $crate::engine::Engine::Cpu($b) => $body,
            $crate::engine::Engine::Gpu($b) => $body,
        }
    };
}

/// Runs `$body` with `$b` bound to the engine's backend (`&Arc<B>` for the selected `B`).
#[cfg(not(feature = "gpu"))]
#[macro_export]
macro_rules! on_backend {
    ($engine:expr, |$b:ident| $body:expr) => {
        match $engine {
            $crate::engine::Engine::Cpu($b) => $body,
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cpu_is_selected_when_asked_and_a_missing_adapter_is_an_error() {
        let sel = Engine::select(&Settings { backend: BackendChoice::Cpu, ..Settings::default() }).unwrap();
        assert!(!sel.engine.is_gpu());
        assert!(sel.note.starts_with("backend: cpu-"), "{}", sel.note);
        // No adapter has this name, so `gpu` must fail and `auto` must fall back, saying why.
        let nowhere = Settings { gpu_adapter: Some("no adapter is called this".into()), gpu_allow_software: true, ..Settings::default() };
        let e = Engine::select(&Settings { backend: BackendChoice::Gpu, ..nowhere.clone() }).unwrap_err().to_string();
        assert!(e.starts_with("--backend gpu: "), "{e}");
        let auto = Engine::select(&Settings { backend: BackendChoice::Auto, ..nowhere }).unwrap();
        assert!(!auto.engine.is_gpu());
        assert!(auto.note.contains("auto: no hardware GPU adapter"), "{}", auto.note);
    }
}
