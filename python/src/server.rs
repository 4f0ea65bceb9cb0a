//! The server: statistics and scores on encrypted tables with the evaluation keys only.

use std::path::PathBuf;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use ringvault_app::engine::Engine;
use ringvault_app::keys::{EVAL_KEYS, read_file};
use ringvault_app::local::TableEvaluator;
use ringvault_backend_cpu::CpuBackend;
use ringvault_backend_gpu::GpuBackend;
use ringvault_core::stats::{Stat, Weights};

use crate::errors::{app_err, invalid};
use crate::objects::{EncryptedResult, table_arg};

enum ServerState {
    Cpu(TableEvaluator<CpuBackend>),
    Gpu(TableEvaluator<GpuBackend>),
}

macro_rules! each {
    ($state:expr, |$s:ident| $body:expr) => {
        match $state {
            ServerState::Cpu($s) => $body,
            ServerState::Gpu($s) => $body,
        }
    };
}

fn stat_of(name: &str) -> PyResult<Stat> {
    name.parse().map_err(|e: ringvault_core::Error| invalid(e.to_string()))
}

/// The server: `eval.keys` of a key directory (which hold the public keys too) and nothing
/// else. It has no way to take a secret key, so it cannot decrypt; every answer is an
/// `EncryptedResult` for the owner.
#[pyclass(module = "ringvault", frozen)]
pub struct Server {
    preset: String,
    backend: String,
    state: ServerState,
    /// The `eval.keys` file (public material): what `to_bytes` and pickling hand on, so that
    /// a server can be shipped to workers.
    eval_keys: Vec<u8>,
}

impl Server {
    fn open(py: Python<'_>, keys: Vec<u8>, backend: Option<&str>) -> PyResult<Self> {
        let engine = crate::engine(backend)?;
        let backend = engine.to_string();
        let state = py
            .detach(|| -> Result<ServerState, ringvault_app::AppError> {
                Ok(match &engine {
                    Engine::Cpu(b) => ServerState::Cpu(TableEvaluator::new(b.clone(), &keys)?),
                    Engine::Gpu(b) => ServerState::Gpu(TableEvaluator::new(b.clone(), &keys)?),
                })
            })
            .map_err(app_err)?;
        let preset = each!(&state, |s| s.context().params().preset().name().to_string());
        Ok(Self { preset, backend, state, eval_keys: keys })
    }

    fn answer(&self, py: Python<'_>, run: impl FnOnce(&ServerState) -> Result<Vec<u8>, ringvault_app::AppError> + Send) -> PyResult<EncryptedResult> {
        let bytes = py.detach(|| run(&self.state)).map_err(app_err)?;
        EncryptedResult::checked(bytes)
    }
}

#[pymethods]
impl Server {
    /// Opens `dir/eval.keys` (never `secret.key`) on `backend` (as for `Owner`).
    #[new]
    #[pyo3(signature = (dir, backend = None))]
    fn new(py: Python<'_>, dir: PathBuf, backend: Option<&str>) -> PyResult<Self> {
        let keys = read_file(&dir.join(EVAL_KEYS)).map_err(app_err)?;
        Self::open(py, keys, backend)
    }

    /// A server from the bytes of an `eval.keys` file (`to_bytes`), checked.
    #[staticmethod]
    #[pyo3(signature = (eval_keys, backend = None))]
    fn from_bytes(py: Python<'_>, eval_keys: Vec<u8>, backend: Option<&str>) -> PyResult<Self> {
        Self::open(py, eval_keys, backend)
    }

    /// The `eval.keys` file it computes with (public material: no secret key).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.eval_keys)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, pyo3::types::PyBytes>,))> {
        Ok((py.get_type::<Self>().getattr("from_bytes")?, (pyo3::types::PyBytes::new(py, &self.eval_keys),)))
    }

    /// One statistic (`count`, `sum`, `mean`, `sum_of_squares`, `variance`, `stddev`,
    /// `sample_variance`, `sample_stddev`) of a column.
    fn stat(&self, py: Python<'_>, table: &Bound<'_, PyAny>, stat: &str, column: &str) -> PyResult<EncryptedResult> {
        let (table, stat, column) = (table_arg(table)?, stat_of(stat)?, column.to_string());
        let bytes = &table.get().bytes;
        self.answer(py, move |s| each!(s, |e| e.stat(bytes, stat, &column)))
    }

    /// Several `(statistic, column)` pairs in one evaluation (one result).
    fn stats(&self, py: Python<'_>, table: &Bound<'_, PyAny>, requests: Vec<(String, String)>) -> PyResult<EncryptedResult> {
        if requests.is_empty() {
            return Err(invalid("no statistic asked"));
        }
        let table = table_arg(table)?;
        let bytes = &table.get().bytes;
        let parsed = requests.iter().map(|(s, c)| Ok((stat_of(s)?, c.clone()))).collect::<PyResult<Vec<_>>>()?;
        self.answer(py, move |s| {
            let refs: Vec<(Stat, &str)> = parsed.iter().map(|(s, c)| (*s, c.as_str())).collect();
            each!(s, |e| e.stats(bytes, &refs))
        })
    }

    /// `Σ wᵢ·xᵢ` of `column` over records, with per-record plaintext weights (a float array,
    /// fixed point at `decimals`, detected when absent) or another encrypted column's name.
    #[pyo3(signature = (table, column, weights, decimals = None))]
    fn weighted_sum(&self, py: Python<'_>, table: &Bound<'_, PyAny>, column: &str, weights: &Bound<'_, PyAny>, decimals: Option<u32>) -> PyResult<EncryptedResult> {
        let table = table_arg(table)?;
        let bytes = &table.get().bytes;
        let weights = match weights.extract::<String>() {
            Ok(name) => Weights::Column(name),
            Err(_) => {
                let w: PyReadonlyArray1<'_, f64> = weights.extract().map_err(|_| invalid("weights are a float array or the name of an encrypted column"))?;
                let (c, _) = ringvault_app::csv::column_from_numbers("weights", &w.as_array().to_vec(), decimals, false).map_err(app_err)?;
                Weights::Plain { decimals: c.decimals, values: c.values.into_iter().flatten().collect() }
            }
        };
        let column = column.to_string();
        self.answer(py, move |s| each!(s, |e| e.weighted_sum(bytes, &column, &weights)))
    }

    /// Per-record scores `b + Σ w_c·x_c` of a logistic model
    /// `{"intercept": b, "weights": {"column": w, …}}` (the owner applies the sigmoid).
    fn logistic(&self, py: Python<'_>, table: &Bound<'_, PyAny>, model: &Bound<'_, PyAny>) -> PyResult<EncryptedResult> {
        let table = table_arg(table)?;
        let bytes = &table.get().bytes;
        let model = crate::objects::model_from(model)?;
        self.answer(py, move |s| each!(s, |e| e.logistic(bytes, &model)))
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
        format!("Server(preset={:?}, backend={:?})", self.preset, self.backend)
    }
}
