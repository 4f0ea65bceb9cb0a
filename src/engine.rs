//! Backend selection. Each setting comes from the first of: the command-line flag, the
//! environment, `./ringvault.toml`, the default.
//!
//! | setting | flag | environment | `ringvault.toml` | default |
//! |---|---|---|---|---|
//! | backend | `--backend auto\|cpu\|gpu` | `RINGVAULT_BACKEND` | `backend = "gpu"` | `auto` |
//! | adapter name filter | — | `RINGVAULT_GPU_ADAPTER` | `gpu_adapter = "H100"` | any |
//! | accept software adapters | — | `RINGVAULT_GPU_SOFTWARE=1` | `gpu_allow_software = true` | no |
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

use crate::CliError;

/// What the user asked for (also the command line's `--backend` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU when present, else the CPU.
    Auto,
    /// The CPU backend at its best SIMD level.
    Cpu,
    /// A GPU adapter (an error when none is usable).
    Gpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = CliError;
    fn from_str(s: &str) -> Result<Self, CliError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(CliError::Config(format!("unknown backend {other:?}: expected auto, cpu or gpu"))),
        }
    }
}

/// The resolved settings (see the module docs for where each comes from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Which backend.
    pub backend: BackendChoice,
    /// Use only GPU adapters whose name contains this text (case-insensitive).
    pub gpu_adapter: Option<String>,
    /// Let `gpu` take a software adapter (lavapipe) when no hardware adapter exists.
    pub gpu_allow_software: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { backend: BackendChoice::Auto, gpu_adapter: None, gpu_allow_software: false }
    }
}

impl Settings {
    /// The settings of a `ringvault.toml` text: `key = value` lines, `#` comments, string
    /// values in double quotes. Keys: `backend`, `gpu_adapter`, `gpu_allow_software`.
    ///
    /// # Errors
    /// [`CliError::Config`] naming the line for an unknown key, a line without `=`, or a bad
    /// value.
    pub fn from_config(text: &str) -> Result<Self, CliError> {
        let mut s = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |why: &str| CliError::Config(format!("ringvault.toml line {}: {why}", i + 1));
            let (key, value) = line.split_once('=').ok_or_else(|| bad("expected `key = value`"))?;
            let value = value.trim();
            let string = || value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(|| bad("expected a quoted string"));
            match key.trim() {
                "backend" => s.backend = string()?.parse().map_err(|e: CliError| bad(&e.to_string()))?,
                "gpu_adapter" => s.gpu_adapter = Some(string()?.to_string()),
                "gpu_allow_software" => s.gpu_allow_software = value.parse().map_err(|_| bad("gpu_allow_software is true or false"))?,
                other => return Err(bad(&format!("unknown setting {other:?} (backend, gpu_adapter, gpu_allow_software)"))),
            }
        }
        Ok(s)
    }

    /// Settings from `config` (the text of `ringvault.toml`, if any), then `env` (a lookup
    /// such as `std::env::var`), then the flag.
    ///
    /// # Errors
    /// As [`Settings::from_config`]; [`CliError::Config`] for a malformed environment value.
    pub fn layered(flag: Option<BackendChoice>, config: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Self, CliError> {
        let mut s = match config {
            Some(text) => Self::from_config(text)?,
            None => Self::default(),
        };
        if let Some(v) = env("RINGVAULT_BACKEND").filter(|v| !v.is_empty()) {
            s.backend = v.parse()?;
        }
        if let Some(v) = env("RINGVAULT_GPU_ADAPTER").filter(|v| !v.is_empty()) {
            s.gpu_adapter = Some(v);
        }
        if let Some(v) = env("RINGVAULT_GPU_SOFTWARE").filter(|v| !v.is_empty()) {
            s.gpu_allow_software = match v.as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(CliError::Config(format!("RINGVAULT_GPU_SOFTWARE={v:?}: expected 1 or 0"))),
            };
        }
        if let Some(flag) = flag {
            s.backend = flag;
        }
        Ok(s)
    }

    /// The settings of this process: the flag, the environment, `./ringvault.toml`.
    ///
    /// # Errors
    /// As [`Settings::layered`]; an unreadable `ringvault.toml`.
    pub fn resolve(flag: Option<BackendChoice>) -> Result<Self, CliError> {
        let config = match std::fs::read_to_string("ringvault.toml") {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(CliError::Config(format!("ringvault.toml: {e}"))),
        };
        Self::layered(flag, config.as_deref(), |k| std::env::var(k).ok())
    }
}

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
    /// [`CliError::Config`] for `gpu` when no usable adapter exists (or the build lacks the
    /// GPU backend), with the reason.
    pub fn select(settings: &Settings) -> Result<Selection, CliError> {
        let cpu = || Self::Cpu(Arc::new(CpuBackend::new()));
        match settings.backend {
            BackendChoice::Cpu => Ok(Selection::new(cpu(), "cpu: as configured".into())),
            BackendChoice::Gpu => match open_gpu(settings, settings.gpu_allow_software) {
                Ok(gpu) => Ok(Selection::new(gpu, "gpu: as configured".into())),
                Err(why) => Err(CliError::Config(format!(
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
            Self::Gpu(b) => write!(f, "{} on {}", b.name(), b.adapter_name()),
        }
    }
}

/// The GPU backend under `settings` (software adapters only if `allow_software`), or why not.
#[cfg(feature = "gpu")]
fn open_gpu(settings: &Settings, allow_software: bool) -> Result<Engine, String> {
    use ringvault_backend_gpu::{GpuBackend, GpuOptions};
    let options = GpuOptions { allow_software, adapter_name: settings.gpu_adapter.clone(), ..GpuOptions::default() };
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

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn config_file_sets_every_key() {
        let s = Settings::from_config("# settings\nbackend = \"gpu\"\ngpu_adapter = \"H100\" # the big one\ngpu_allow_software = true\n").unwrap();
        assert_eq!(s, Settings { backend: BackendChoice::Gpu, gpu_adapter: Some("H100".into()), gpu_allow_software: true });
        assert_eq!(Settings::from_config("\n# nothing\n").unwrap(), Settings::default());
    }

    #[test]
    fn config_errors_name_the_line() {
        for (text, why) in [
            ("backend = \"tpu\"", "line 1: unknown backend \"tpu\""),
            ("\nbackend = cpu", "line 2: expected a quoted string"),
            ("colour = \"red\"", "unknown setting \"colour\""),
            ("backend", "line 1: expected `key = value`"),
            ("gpu_allow_software = yes", "true or false"),
        ] {
            let e = Settings::from_config(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn flag_beats_environment_beats_file() {
        let file = "backend = \"cpu\"\ngpu_adapter = \"A\"";
        assert_eq!(Settings::layered(None, Some(file), no_env).unwrap().backend, BackendChoice::Cpu);
        let env = |k: &str| match k {
            "RINGVAULT_BACKEND" => Some("gpu".to_string()),
            "RINGVAULT_GPU_ADAPTER" => Some("B".to_string()),
            "RINGVAULT_GPU_SOFTWARE" => Some("1".to_string()),
            _ => None,
        };
        let s = Settings::layered(None, Some(file), env).unwrap();
        assert_eq!((s.backend, s.gpu_adapter.as_deref(), s.gpu_allow_software), (BackendChoice::Gpu, Some("B"), true));
        assert_eq!(Settings::layered(Some(BackendChoice::Auto), Some(file), env).unwrap().backend, BackendChoice::Auto);
        assert!(Settings::layered(None, None, |k| (k == "RINGVAULT_GPU_SOFTWARE").then(|| "maybe".to_string())).is_err());
        assert!(Settings::layered(None, None, |k| (k == "RINGVAULT_BACKEND").then(|| "fpga".to_string())).is_err());
    }

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
