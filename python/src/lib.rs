//! `ringvault._ringvault`: the extension module behind the `ringvault` Python package. It
//! binds the application layer (`ringvault-app`) and the vault's client; the Python side
//! (`python/ringvault/__init__.py`) turns DataFrames into columns and results into pandas.
//!
//! Every long call releases the GIL. Errors are `ringvault.Error` subclasses carrying the Rust
//! error's message.

mod errors;
mod objects;
mod owner;
mod server;
mod vault;

use std::path::Path;

use pyo3::prelude::*;
use ringvault_app::engine::{BackendChoice, Engine, Settings};
use ringvault_core::scheme::Preset;

use crate::errors::app_err;

/// The backend for `backend` (`auto`, `cpu`, `gpu`, or `None` for the environment and
/// `ringvault.toml`, as on the command line).
pub(crate) fn engine(backend: Option<&str>) -> PyResult<Engine> {
    let flag = backend.map(str::parse::<BackendChoice>).transpose().map_err(app_err)?;
    let settings = Settings::resolve(flag).map_err(app_err)?;
    Ok(Engine::select(&settings).map_err(app_err)?.engine)
}

/// Writes `secret.key` (mode 0600), `public.key` and `eval.keys` into `dir` for `preset`
/// (`n4096`, `n8192`, …; default `n8192`), the same files as `ringvault keygen`. With
/// `schema` (a vault schema as a dict or JSON text) and no preset, the smallest preset that
/// holds `records` records (default: the schema's `max_records`) of its ranges and
/// computations. The evaluation keys serve tables of up to `records` records (default: the
/// schema's `max_records`, else 1,000,000). Returns the preset's name.
#[pyfunction]
#[pyo3(signature = (dir, preset = None, schema = None, records = None, backend = None))]
fn generate_keys(py: Python<'_>, dir: &str, preset: Option<&str>, schema: Option<&Bound<'_, PyAny>>, records: Option<u64>, backend: Option<&str>) -> PyResult<String> {
    let default_records = records.unwrap_or(ringvault_app::dataset::DEFAULT_MAX_RECORDS);
    let (preset, max_records) = match (preset, schema) {
        (Some(_), Some(_)) => return Err(errors::invalid("give a preset or a schema, not both")),
        (Some(p), None) => (Preset::from_name(p).ok_or_else(|| errors::invalid(format!("unknown preset {p:?}; expected one of {}", Preset::ALL.map(Preset::name).join(", "))))?, default_records),
        (None, Some(s)) => {
            let schema = objects::schema_from(s)?;
            let records = records.unwrap_or_else(|| schema.declared_records());
            (schema.preset_for(records).map_err(app_err)?, records)
        }
        (None, None) => (Preset::N8192, default_records),
    };
    let engine = engine(backend)?;
    let dir = Path::new(dir).to_path_buf();
    py.detach(|| ringvault_app::on_backend!(&engine, |b| ringvault_app::keys::generate_into(b.clone(), &dir, preset, max_records))).map_err(app_err)?;
    Ok(preset.name().to_string())
}

/// The statistics a column can be asked for, in the command line's order.
#[pyfunction]
fn statistics() -> Vec<&'static str> {
    ringvault_core::stats::Stat::COLUMN_STATS.iter().map(|s| s.name()).collect()
}

#[pymodule]
fn _ringvault(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(generate_keys, m)?)?;
    m.add_function(wrap_pyfunction!(statistics, m)?)?;
    m.add_class::<objects::EncryptedTable>()?;
    m.add_class::<objects::EncryptedResult>()?;
    m.add_class::<owner::Owner>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<vault::VaultClient>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
