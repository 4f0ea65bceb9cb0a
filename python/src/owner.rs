//! The data owner: encrypts columns with the public key and decrypts results with the secret
//! key, from the same key files as the command line.

use std::collections::HashMap;
use std::path::PathBuf;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use ringvault_app::engine::Engine;
use ringvault_app::keys::{PUBLIC_KEY, SECRET_KEY, read_file};
use ringvault_app::local::TableEncryptor;
use ringvault_app::results::{Decrypted, OwnerDecryptor};
use ringvault_backend_cpu::CpuBackend;
use ringvault_backend_gpu::GpuBackend;
use ringvault_core::Backend;
use ringvault_core::stats::{PlainColumn, StatValue};

use crate::errors::app_err;
use crate::objects::{EncryptedTable, result_bytes};

/// The owner's keys on one backend.
struct OwnerOn<B: Backend> {
    encryptor: TableEncryptor<B>,
    decryptor: OwnerDecryptor<B>,
}

impl<B: Backend> OwnerOn<B> {
    fn open(backend: std::sync::Arc<B>, public: &[u8], secret: &[u8]) -> Result<Self, ringvault_app::AppError> {
        Ok(Self { encryptor: TableEncryptor::new(backend.clone(), public)?, decryptor: OwnerDecryptor::new(backend, secret)? })
    }
}

enum OwnerState {
    Cpu(OwnerOn<CpuBackend>),
    Gpu(OwnerOn<GpuBackend>),
}

macro_rules! each {
    ($state:expr, |$s:ident| $body:expr) => {
        match $state {
            OwnerState::Cpu($s) => $body,
            OwnerState::Gpu($s) => $body,
        }
    };
}

/// Fixed-point columns from `(name, values)` pairs: decimals given per column or detected, NaN
/// refused or (with `skip_missing`) skipped and counted.
pub(crate) fn plain_columns(columns: &[(String, Vec<f64>)], decimals: &HashMap<String, u32>, skip_missing: bool) -> Result<(Vec<PlainColumn>, HashMap<String, usize>), ringvault_app::AppError> {
    if let Some(unknown) = decimals.keys().find(|k| !columns.iter().any(|(n, _)| n == *k)) {
        return Err(ringvault_app::AppError::Schema(format!("decimals name column {unknown:?}, which the data does not have")));
    }
    let mut out = Vec::with_capacity(columns.len());
    let mut skipped = HashMap::new();
    for (name, values) in columns {
        let (c, n) = ringvault_app::csv::column_from_numbers(name, values, decimals.get(name).copied(), skip_missing)?;
        if n > 0 {
            skipped.insert(name.clone(), n);
        }
        out.push(c);
    }
    Ok((out, skipped))
}

/// Copies `(name, array)` pairs out of numpy.
pub(crate) fn copied(columns: Vec<(String, PyReadonlyArray1<'_, f64>)>) -> Vec<(String, Vec<f64>)> {
    columns.into_iter().map(|(n, a)| (n, a.as_array().to_vec())).collect()
}

fn stat_dict<'py>(py: Python<'py>, v: &StatValue) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("stat", &v.stat)?;
    d.set_item("column", &v.column)?;
    d.set_item("count", v.count)?;
    d.set_item("value", v.value)?;
    Ok(d)
}

/// A decrypted result as `(kind, payload)`: `("stat", dict)`, `("stats", [dict])` or
/// `("scores", (scores, probabilities))` with NaN for records whose score is missing.
pub(crate) fn decrypted_to_py<'py>(py: Python<'py>, d: Decrypted) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
    Ok(match d {
        Decrypted::Stat(v) => ("stat", stat_dict(py, &v)?.into_any()),
        Decrypted::Stats(all) => ("stats", PyList::new(py, all.iter().map(|v| stat_dict(py, v)).collect::<PyResult<Vec<_>>>()?)?.into_any()),
        Decrypted::Scores { scores, probabilities } => {
            let nan = |v: Vec<Option<f64>>| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect::<Vec<_>>();
            let s = PyArray1::from_vec(py, nan(scores));
            let p = PyArray1::from_vec(py, nan(probabilities));
            ("scores", (s, p).into_pyobject(py)?.into_any())
        }
    })
}

/// The data owner: `secret.key` and `public.key` of a key directory. Encrypts with the public
/// key; decrypts results (of `Server`, `ringvault eval` or the vault) with the secret key,
/// which never leaves this object (its `repr` shows none of it).
#[pyclass(module = "ringvault", frozen, subclass)]
pub struct Owner {
    dir: PathBuf,
    preset: String,
    backend: String,
    state: OwnerState,
}

#[pymethods]
impl Owner {
    /// Opens `dir/secret.key` and `dir/public.key` (`generate_keys` or `ringvault keygen`
    /// wrote them) on `backend` (`auto`, `cpu`, `gpu`; default: the environment and
    /// `ringvault.toml`, as on the command line).
    #[new]
    #[pyo3(signature = (dir, backend = None))]
    fn new(py: Python<'_>, dir: PathBuf, backend: Option<&str>) -> PyResult<Self> {
        let engine = crate::engine(backend)?;
        let backend = engine.to_string();
        let (public, secret) = (read_file(&dir.join(PUBLIC_KEY)).map_err(app_err)?, read_file(&dir.join(SECRET_KEY)).map_err(app_err)?);
        let state = py
            .detach(|| -> Result<OwnerState, ringvault_app::AppError> {
                Ok(match &engine {
                    Engine::Cpu(b) => OwnerState::Cpu(OwnerOn::open(b.clone(), &public, &secret)?),
                    Engine::Gpu(b) => OwnerState::Gpu(OwnerOn::open(b.clone(), &public, &secret)?),
                })
            })
            .map_err(app_err)?;
        let preset = each!(&state, |s| s.encryptor.context().params().preset().name().to_string());
        Ok(Self { dir, preset, backend, state })
    }

    /// Encrypts `(name, float64 array)` columns of equal length into a table; returns it with
    /// the cells skipped per column. (The Python `encrypt` takes DataFrames and dicts.)
    #[pyo3(signature = (columns, decimals, skip_missing))]
    fn _encrypt(&self, py: Python<'_>, columns: Vec<(String, PyReadonlyArray1<'_, f64>)>, decimals: HashMap<String, u32>, skip_missing: bool) -> PyResult<(EncryptedTable, HashMap<String, usize>)> {
        let columns = copied(columns);
        let (bytes, skipped) = py
            .detach(|| -> Result<_, ringvault_app::AppError> {
                let (plain, skipped) = plain_columns(&columns, &decimals, skip_missing)?;
                Ok((each!(&self.state, |s| s.encryptor.encrypt(&plain))?, skipped))
            })
            .map_err(app_err)?;
        Ok((EncryptedTable::written(bytes)?, skipped))
    }

    /// Decrypts a result (an `EncryptedResult` or the bytes of a result file) into
    /// `(kind, payload)`; the Python `decrypt` shapes it.
    fn _decrypt<'py>(&self, py: Python<'py>, result: &Bound<'py, PyAny>) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
        let bytes = result_bytes(result)?;
        let d = py.detach(|| each!(&self.state, |s| s.decryptor.decrypt(&bytes))).map_err(app_err)?;
        decrypted_to_py(py, d)
    }

    /// The key directory.
    #[getter]
    fn dir(&self) -> String {
        self.dir.display().to_string()
    }

    /// The ring preset of the keys.
    #[getter]
    fn preset(&self) -> &str {
        &self.preset
    }

    /// The backend computing, e.g. `cpu-avx512`.
    #[getter]
    fn backend(&self) -> &str {
        &self.backend
    }

    fn __repr__(&self) -> String {
        format!("Owner(dir={:?}, preset={:?}, backend={:?})", self.dir.display().to_string(), self.preset, self.backend)
    }
}
