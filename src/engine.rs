//! Backend selection: `--backend`, else `RINGVAULT_BACKEND`, else `backend = "…"` in
//! `ringvault.toml` (current directory), else `auto`. `auto` takes a real GPU adapter when the
//! build has one and the machine offers it, otherwise the CPU backend, and says which; `gpu`
//! without an adapter is an error, never a silent fallback.

use std::fmt;
use std::sync::Arc;

use ringvault_backend_cpu::CpuBackend;

use crate::CliError;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// A real GPU when present, else the CPU.
    Auto,
    /// The CPU backend at its best SIMD level.
    Cpu,
    /// A GPU adapter (an error when none is present).
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

/// The `backend` setting of a `ringvault.toml` text (`backend = "cpu"`; comments with `#`).
///
/// # Errors
/// [`CliError::Config`] for an unknown value or a malformed line mentioning `backend`.
pub fn backend_from_config(text: &str) -> Result<Option<BackendChoice>, CliError> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once('=') else { continue };
        if key.trim() == "backend" {
            let v = value.trim().trim_matches('"');
            return v.parse().map(Some);
        }
    }
    Ok(None)
}

/// The choice from the flag (or environment, which clap folds into it) or the config file.
///
/// # Errors
/// [`CliError::Config`] for an unreadable or malformed `ringvault.toml`.
pub fn resolve(flag: Option<BackendChoice>) -> Result<BackendChoice, CliError> {
    if let Some(c) = flag {
        return Ok(c);
    }
    match std::fs::read_to_string("ringvault.toml") {
        Ok(text) => Ok(backend_from_config(&text)?.unwrap_or(BackendChoice::Auto)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BackendChoice::Auto),
        Err(e) => Err(CliError::Config(format!("ringvault.toml: {e}"))),
    }
}

/// A selected backend.
#[derive(Clone, Debug)]
pub enum Engine {
    /// The CPU backend.
    Cpu(Arc<CpuBackend>),
}

impl Engine {
    /// Selects the backend for a choice.
    ///
    /// # Errors
    /// [`CliError::Config`] for `gpu` when no GPU adapter is available.
    pub fn select(choice: BackendChoice) -> Result<Self, CliError> {
        match choice {
            BackendChoice::Auto | BackendChoice::Cpu => Ok(Self::Cpu(Arc::new(CpuBackend::new()))),
            BackendChoice::Gpu => Err(CliError::Config("--backend gpu: no GPU backend is available in this build".into())),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu(b) => write!(f, "{}", ringvault_core::Backend::name(b.as_ref())),
        }
    }
}

/// Runs `$body` with `$b` bound to the engine's backend (`Arc<B>` for the selected `B`).
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
    fn config_file_names_the_backend() {
        assert_eq!(backend_from_config("# settings\nbackend = \"cpu\"\n").unwrap(), Some(BackendChoice::Cpu));
        assert_eq!(backend_from_config("other = 1\n").unwrap(), None);
        assert!(backend_from_config("backend = \"tpu\"").is_err());
        assert!(Engine::select(BackendChoice::Gpu).is_err());
    }
}
