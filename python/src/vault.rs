//! The vault's client with the semantics of `ringvault vault …`: create a dataset from a key
//! directory, issue and revoke device tokens, push columns (public key only), query.

use std::collections::HashMap;
use std::path::PathBuf;

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use ringvault_app::dataset::UploadEncryptor;
use ringvault_app::keys::{PUBLIC_KEY, read_file};
use ringvault_app::query::{QueryRequest, StatColumn};
use ringvault_vault::client::{self, Client};

use crate::errors::{app_err, invalid, vault_err};
use crate::objects::{EncryptedResult, schema_from};

/// A JSON-serializable value as a Python object.
fn to_py<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| invalid(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A client of one vault with one token (operator, owner or device).
#[pyclass(module = "ringvault", frozen, subclass)]
pub struct VaultClient {
    client: Client,
    server: String,
    /// The backend pushes encrypt on.
    engine: ringvault_app::engine::Engine,
}

#[pymethods]
impl VaultClient {
    /// Connects to `server` (`http://HOST:PORT` or `https://…`) with a token, given as text
    /// or as a token file (`operator.token`, `KEYS/owner.token`, a device's file); `ca` is a
    /// PEM file to trust for `https`; `backend` is what pushes encrypt on (as for `Owner`).
    #[new]
    #[pyo3(signature = (server, token = None, token_file = None, ca = None, backend = None))]
    fn new(server: &str, token: Option<&str>, token_file: Option<PathBuf>, ca: Option<PathBuf>, backend: Option<&str>) -> PyResult<Self> {
        let token = match (token, token_file) {
            (Some(t), None) => t.trim().to_string(),
            (None, Some(f)) => Python::attach(|py| Client::token_from_file(&f).map_err(|e| vault_err(py, e)))?,
            _ => return Err(invalid("give a token or a token_file")),
        };
        let mut c = Python::attach(|py| Client::new(server, &token).map_err(|e| vault_err(py, e)))?;
        if let Some(pem) = ca {
            c = Python::attach(|py| c.with_ca_file(&pem).map_err(|e| vault_err(py, e)))?;
        }
        Ok(Self { client: c, server: server.to_string(), engine: crate::engine(backend)? })
    }

    /// `GET /v1/health`.
    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let h = py.detach(|| self.client.health()).map_err(|e| vault_err(py, e))?;
        to_py(py, &h)
    }

    /// Operator token: creates a dataset for the keys in `keys_dir` with `schema` (a dict or
    /// JSON text), uploads `keys_dir/eval.keys`, writes `keys_dir/owner.token` (mode 0600), and
    /// returns the dataset's id — as `ringvault vault create`.
    fn create_dataset(&self, py: Python<'_>, name: &str, schema: &Bound<'_, PyAny>, keys_dir: PathBuf) -> PyResult<String> {
        let schema = schema_from(schema)?;
        py.detach(|| self.client.create_dataset_with_keys(name, &schema, &keys_dir)).map(|(created, _)| created.id).map_err(|e| vault_err(py, e))
    }

    /// Owner token: a device token allowed to append to `dataset`, written to `out` (mode
    /// 0600) when given; returns `{"id", "name", "token", "dataset"}`.
    #[pyo3(signature = (dataset, name, out = None))]
    fn issue_device<'py>(&self, py: Python<'py>, dataset: &str, name: &str, out: Option<PathBuf>) -> PyResult<Bound<'py, PyAny>> {
        let d = py.detach(|| self.client.issue_device(dataset, name)).map_err(|e| vault_err(py, e))?;
        if let Some(path) = out {
            let json = serde_json::to_string_pretty(&d).map_err(|e| invalid(e.to_string()))?;
            client::write_token_file(&path, &json).map_err(|e| vault_err(py, e))?;
        }
        to_py(py, &d)
    }

    /// Owner token: revokes a device (by id).
    fn revoke_device(&self, py: Python<'_>, dataset: &str, device: &str) -> PyResult<()> {
        py.detach(|| self.client.revoke_device(dataset, device)).map_err(|e| vault_err(py, e))
    }

    /// Operator (all) or owner (its own): the datasets with records, uploads and bytes.
    fn list_datasets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let l = py.detach(|| self.client.list_datasets()).map_err(|e| vault_err(py, e))?;
        to_py(py, &l)
    }

    /// Operator or owner: deletes a dataset, its keys and records.
    fn delete_dataset(&self, py: Python<'_>, dataset: &str) -> PyResult<()> {
        py.detach(|| self.client.delete_dataset(dataset)).map_err(|e| vault_err(py, e))
    }

    /// Device or owner token: encrypts `(name, float64 array)` columns with
    /// `keys_dir/public.key` only, in the dataset's schema order, every value checked against
    /// its declared range first, and pushes them; returns once the vault acknowledged every
    /// upload. (The Python `push` takes DataFrames and dicts.)
    #[pyo3(signature = (dataset, columns, keys_dir, decimals, skip_missing, rows_per_upload, idempotency_key, from_, to))]
    #[allow(clippy::too_many_arguments)]
    fn _push<'py>(
        &self,
        py: Python<'py>,
        dataset: &str,
        columns: Vec<(String, PyReadonlyArray1<'_, f64>)>,
        keys_dir: PathBuf,
        decimals: HashMap<String, u32>,
        skip_missing: bool,
        rows_per_upload: Option<usize>,
        idempotency_key: Option<String>,
        from_: Option<i64>,
        to: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let columns = crate::owner::copied(columns);
        let schema = py.detach(|| self.client.schema(dataset)).map_err(|e| vault_err(py, e))?;
        let public = read_file(&keys_dir.join(PUBLIC_KEY)).map_err(app_err)?;
        // The schema's decimals unless the caller gives others; its columns, in its order.
        let mut d: HashMap<String, u32> = schema.columns.iter().map(|c| (c.name.clone(), c.decimals)).collect();
        d.extend(decimals);
        let ordered = schema
            .columns
            .iter()
            .map(|s| columns.iter().find(|(n, _)| *n == s.name).cloned().ok_or_else(|| invalid(format!("the data has no column {:?} (the dataset's schema needs it)", s.name))))
            .collect::<PyResult<Vec<_>>>()?;
        d.retain(|k, _| ordered.iter().any(|(n, _)| n == k));
        let (plain, _) = crate::owner::plain_columns(&ordered, &d, skip_missing).map_err(app_err)?;
        schema.check_rows(&plain).map_err(app_err)?;
        // A named push: the same data and options under the same key give the same upload
        // keys (a rerun stores nothing twice); other data under it gets other keys.
        let rerun = idempotency_key.is_some();
        let base = match idempotency_key {
            Some(k) => format!("{k}-{}", data_digest(&plain, (rows_per_upload, from_, to))),
            None => random_key(),
        };
        let report = py
            .detach(|| -> Result<client::PushReport, client::ClientError> {
                ringvault_app::on_backend!(&self.engine, |b| {
                    let enc = UploadEncryptor::new(b.clone(), &schema, &public).map_err(|e| client::ClientError::Invalid(e.to_string()))?;
                    let rows = rows_per_upload.unwrap_or(enc.default_rows_per_upload());
                    self.client.push_records(dataset, &enc, &plain, rows, &base, rerun, (from_, to), &mut |_| {})
                })
            })
            .map_err(|e| vault_err(py, e))?;
        let out = pyo3::types::PyDict::new(py);
        out.set_item("records", report.records)?;
        out.set_item("uploads", report.uploads)?;
        out.set_item("stored", report.stored)?;
        out.set_item("duplicates", report.duplicates)?;
        out.set_item("bytes", report.bytes)?;
        Ok(out.into_any())
    }

    /// Owner token: a statistic of a column (`stat`, `column`), several (`stats`: a list of
    /// `(stat, column)`), or a logistic model's scores (`logreg`: a dict), optionally over the
    /// uploads of a time window (`from_`, `to`, Unix seconds) or of one device; follows a job
    /// to its end. Returns the result for `Owner.decrypt`.
    #[pyo3(signature = (dataset, stat = None, column = None, logreg = None, stats = None, from_ = None, to = None, device = None))]
    #[allow(clippy::too_many_arguments)]
    fn query(
        &self,
        py: Python<'_>,
        dataset: &str,
        stat: Option<String>,
        column: Option<String>,
        logreg: Option<&Bound<'_, PyAny>>,
        stats: Option<Vec<(String, String)>>,
        from_: Option<i64>,
        to: Option<i64>,
        device: Option<String>,
    ) -> PyResult<EncryptedResult> {
        let logreg = logreg.map(crate::objects::model_from).transpose()?;
        let stats = stats.map(|l| l.into_iter().map(|(stat, column)| StatColumn { stat, column }).collect());
        let request = QueryRequest { stat, column, logreg, stats, from: from_, to, device };
        let bytes = py.detach(|| self.client.query(dataset, &request, &mut |_| {})).map_err(|e| vault_err(py, e))?;
        EncryptedResult::checked(bytes)
    }

    fn __repr__(&self) -> String {
        format!("VaultClient(server={:?})", self.server)
    }
}

/// 16 hex digits of the SHA-256 of fixed-point columns and push options.
fn data_digest(columns: &[ringvault_core::stats::PlainColumn], options: (Option<usize>, Option<i64>, Option<i64>)) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in columns {
        h.update(c.name.as_bytes());
        h.update(c.decimals.to_le_bytes());
        for v in &c.values {
            match v {
                Some(x) => h.update(x.to_le_bytes()),
                None => h.update(b"-"),
            }
        }
    }
    h.update(format!("{options:?}").as_bytes());
    ringvault_app::hex(&h.finalize()[..8])
}

/// A random idempotency key base for a push that names none.
fn random_key() -> String {
    let mut r = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
    ringvault_app::hex(&r)
}
