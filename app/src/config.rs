//! Settings: each from the first of the command-line flag, the environment,
//! `./ringvault.toml`, the default.
//!
//! | setting | environment | `ringvault.toml` | default |
//! |---|---|---|---|
//! | backend | `RINGVAULT_BACKEND` | `backend = "gpu"` | `auto` |
//! | adapter name filter | `RINGVAULT_GPU_ADAPTER` | `gpu_adapter = "H100"` | any |
//! | accept software adapters | `RINGVAULT_GPU_SOFTWARE=1` | `gpu_allow_software = true` | no |
//! | 64-bit shader integers where offered | `RINGVAULT_GPU_INT64=0` (off) | `gpu_int64 = false` | yes |
//! | vault data directory | `RINGVAULT_VAULT_DATA` | `[vault] data = "…"` | none (required by `serve`) |
//! | vault listen address | `RINGVAULT_VAULT_LISTEN` | `[vault] listen = "…"` | `127.0.0.1:8700` |
//! | TLS certificate / key (PEM) | `RINGVAULT_VAULT_TLS_CERT`, `_KEY` | `[vault] tls_cert`, `tls_key` | none (plain HTTP) |
//! | concurrent queries | `RINGVAULT_VAULT_QUERY_CONCURRENCY` | `[vault] query_concurrency` | 2 |
//! | largest upload | `RINGVAULT_VAULT_MAX_UPLOAD_MB` | `[vault] max_upload_mb` | 256 |
//! | largest key set | `RINGVAULT_VAULT_MAX_KEYS_MB` | `[vault] max_keys_mb` | 512 |
//! | request timeout | `RINGVAULT_VAULT_REQUEST_TIMEOUT_S` | `[vault] request_timeout_s` | 600 |
//!
//! The file is TOML, read with serde: an unknown key or a value of the wrong type is an error
//! naming it.

use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

use crate::AppError;

/// What the user asked for (also the command line's `--backend` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU when present, else the CPU.
    Auto,
    /// The CPU backend at its best SIMD level.
    Cpu,
    /// A GPU adapter (an error when none is usable).
    Gpu,
}

impl FromStr for BackendChoice {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(AppError::Config(format!("unknown backend {other:?}: expected auto, cpu or gpu"))),
        }
    }
}

/// The vault service's settings (`[vault]` in `ringvault.toml`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// The store's directory.
    pub data: Option<PathBuf>,
    /// `host:port` to listen on.
    pub listen: String,
    /// TLS certificate chain (PEM); with `tls_key`, the server speaks HTTPS only.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Queries evaluated at once (more wait).
    pub query_concurrency: usize,
    /// Largest upload body, in MiB.
    pub max_upload_mb: u64,
    /// Largest evaluation-key body, in MiB.
    pub max_keys_mb: u64,
    /// A request that takes longer is answered 408 (queries become jobs before that).
    pub request_timeout_s: u64,
}

impl Default for VaultSettings {
    fn default() -> Self {
        Self {
            data: None,
            listen: "127.0.0.1:8700".into(),
            tls_cert: None,
            tls_key: None,
            query_concurrency: 2,
            max_upload_mb: 256,
            max_keys_mb: 512,
            request_timeout_s: 600,
        }
    }
}

/// The resolved settings (see the module docs for where each comes from).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Which backend.
    pub backend: BackendChoice,
    /// Use only GPU adapters whose name contains this text (case-insensitive).
    pub gpu_adapter: Option<String>,
    /// Let `gpu` take a software adapter (lavapipe) when no hardware adapter exists.
    pub gpu_allow_software: bool,
    /// Let the GPU shaders use native 64-bit products where the adapter offers them (off:
    /// the 16-bit-half products everywhere; the results are the same).
    pub gpu_int64: bool,
    /// The vault service.
    pub vault: VaultSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self { backend: BackendChoice::Auto, gpu_adapter: None, gpu_allow_software: false, gpu_int64: true, vault: VaultSettings::default() }
    }
}

fn parse_env<T: FromStr>(name: &str, v: &str) -> Result<T, AppError> {
    v.trim().parse().map_err(|_| AppError::Config(format!("{name}={v:?}: not a valid value")))
}

/// An on/off environment value: `1`/`true` or `0`/`false`.
fn parse_switch(name: &str, v: &str) -> Result<bool, AppError> {
    match v {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(AppError::Config(format!("{name}={v:?}: expected 1 or 0"))),
    }
}

impl Settings {
    /// The settings of a `ringvault.toml` text.
    ///
    /// # Errors
    /// [`AppError::Config`] naming the key or line for unknown keys and bad values.
    pub fn from_config(text: &str) -> Result<Self, AppError> {
        toml::from_str(text).map_err(|e| AppError::Config(format!("ringvault.toml: {}", e.to_string().trim_end())))
    }

    /// Settings from `config` (the text of `ringvault.toml`, if any), then `env` (a lookup
    /// such as `std::env::var`), then the flag.
    ///
    /// # Errors
    /// As [`Settings::from_config`]; [`AppError::Config`] for a malformed environment value.
    pub fn layered(flag: Option<BackendChoice>, config: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let mut s = match config {
            Some(text) => Self::from_config(text)?,
            None => Self::default(),
        };
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(v) = env("RINGVAULT_BACKEND") {
            s.backend = v.parse()?;
        }
        if let Some(v) = env("RINGVAULT_GPU_ADAPTER") {
            s.gpu_adapter = Some(v);
        }
        if let Some(v) = env("RINGVAULT_GPU_SOFTWARE") {
            s.gpu_allow_software = parse_switch("RINGVAULT_GPU_SOFTWARE", &v)?;
        }
        if let Some(v) = env("RINGVAULT_GPU_INT64") {
            s.gpu_int64 = parse_switch("RINGVAULT_GPU_INT64", &v)?;
        }
        let vault = &mut s.vault;
        if let Some(v) = env("RINGVAULT_VAULT_DATA") {
            vault.data = Some(v.into());
        }
        if let Some(v) = env("RINGVAULT_VAULT_LISTEN") {
            vault.listen = v;
        }
        if let Some(v) = env("RINGVAULT_VAULT_TLS_CERT") {
            vault.tls_cert = Some(v.into());
        }
        if let Some(v) = env("RINGVAULT_VAULT_TLS_KEY") {
            vault.tls_key = Some(v.into());
        }
        if let Some(v) = env("RINGVAULT_VAULT_QUERY_CONCURRENCY") {
            vault.query_concurrency = parse_env("RINGVAULT_VAULT_QUERY_CONCURRENCY", &v)?;
        }
        if let Some(v) = env("RINGVAULT_VAULT_MAX_UPLOAD_MB") {
            vault.max_upload_mb = parse_env("RINGVAULT_VAULT_MAX_UPLOAD_MB", &v)?;
        }
        if let Some(v) = env("RINGVAULT_VAULT_MAX_KEYS_MB") {
            vault.max_keys_mb = parse_env("RINGVAULT_VAULT_MAX_KEYS_MB", &v)?;
        }
        if let Some(v) = env("RINGVAULT_VAULT_REQUEST_TIMEOUT_S") {
            vault.request_timeout_s = parse_env("RINGVAULT_VAULT_REQUEST_TIMEOUT_S", &v)?;
        }
        if let Some(flag) = flag {
            s.backend = flag;
        }
        if vault.query_concurrency == 0 {
            return Err(AppError::Config("vault query_concurrency must be at least 1".into()));
        }
        Ok(s)
    }

    /// The settings of this process: the flag, the environment, `./ringvault.toml`.
    ///
    /// # Errors
    /// As [`Settings::layered`]; an unreadable `ringvault.toml`.
    pub fn resolve(flag: Option<BackendChoice>) -> Result<Self, AppError> {
        let config = match std::fs::read_to_string("ringvault.toml") {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(AppError::Config(format!("ringvault.toml: {e}"))),
        };
        Self::layered(flag, config.as_deref(), |k| std::env::var(k).ok())
    }
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
        let s = Settings::from_config(
            "# settings\nbackend = \"gpu\"\ngpu_adapter = \"H100\" # the big one\ngpu_allow_software = true\ngpu_int64 = false\n[vault]\ndata = \"/srv/vault\"\nlisten = \"0.0.0.0:9000\"\nquery_concurrency = 4\n",
        )
        .unwrap();
        assert_eq!((s.backend, s.gpu_adapter.as_deref(), s.gpu_allow_software, s.gpu_int64), (BackendChoice::Gpu, Some("H100"), true, false));
        assert_eq!(s.vault.data.as_deref(), Some(std::path::Path::new("/srv/vault")));
        assert_eq!((s.vault.listen.as_str(), s.vault.query_concurrency), ("0.0.0.0:9000", 4));
        assert_eq!(Settings::from_config("\n# nothing\n").unwrap(), Settings::default());
    }

    #[test]
    fn config_errors_name_the_key() {
        for (text, why) in [
            ("backend = \"tpu\"", "unknown variant `tpu`"),
            ("\nbackend = cpu", "line 2"),
            ("colour = \"red\"", "unknown field `colour`"),
            ("backend", "line 1"),
            ("gpu_allow_software = \"yes\"", "invalid type"),
            ("[vault]\nport = 1", "unknown field `port`"),
        ] {
            let e = Settings::from_config(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn flag_beats_environment_beats_file() {
        let file = "backend = \"cpu\"\ngpu_adapter = \"A\"\n[vault]\nlisten = \"127.0.0.1:1\"";
        assert_eq!(Settings::layered(None, Some(file), no_env).unwrap().backend, BackendChoice::Cpu);
        let env = |k: &str| match k {
            "RINGVAULT_BACKEND" => Some("gpu".to_string()),
            "RINGVAULT_GPU_ADAPTER" => Some("B".to_string()),
            "RINGVAULT_GPU_SOFTWARE" => Some("1".to_string()),
            "RINGVAULT_GPU_INT64" => Some("0".to_string()),
            "RINGVAULT_VAULT_LISTEN" => Some("127.0.0.1:2".to_string()),
            _ => None,
        };
        let s = Settings::layered(None, Some(file), env).unwrap();
        assert_eq!((s.backend, s.gpu_adapter.as_deref(), s.gpu_allow_software, s.gpu_int64), (BackendChoice::Gpu, Some("B"), true, false));
        assert!(Settings::layered(None, Some(file), no_env).unwrap().gpu_int64);
        assert_eq!(s.vault.listen, "127.0.0.1:2");
        assert_eq!(Settings::layered(Some(BackendChoice::Auto), Some(file), env).unwrap().backend, BackendChoice::Auto);
        assert!(Settings::layered(None, None, |k| (k == "RINGVAULT_GPU_SOFTWARE").then(|| "maybe".to_string())).is_err());
        assert!(Settings::layered(None, None, |k| (k == "RINGVAULT_GPU_INT64").then(|| "no".to_string())).unwrap_err().to_string().contains("RINGVAULT_GPU_INT64"));
        assert!(Settings::layered(None, None, |k| (k == "RINGVAULT_BACKEND").then(|| "fpga".to_string())).is_err());
        assert!(Settings::layered(None, None, |k| (k == "RINGVAULT_VAULT_QUERY_CONCURRENCY").then(|| "lots".to_string())).is_err());
    }
}
