//! Encrypted objects as Python values: an encrypted table and a result, each the bytes of its
//! file (the command line's and the vault's), checked when built from bytes, picklable.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ringvault_app::container;
use ringvault_app::dataset::Schema;

use crate::errors::{app_err, invalid};

/// The result kinds a decryption reads.
const RESULT_KINDS: [&str; 5] = ["stat", "stats", "scores", "totals", "row-scores"];

/// Reads a container's header, refusing other kinds.
fn header(bytes: &[u8], kinds: &[&str]) -> PyResult<container::Header> {
    let (h, _) = container::parse(bytes, kinds).map_err(|e| app_err(ringvault_app::AppError::Format(e)))?;
    ringvault_app::keys::params_of(&h).map_err(app_err)?;
    Ok(h)
}

/// An encrypted table (the `table` file `ringvault encrypt` writes): columns of fixed-point
/// values under the owner's public key. Holds no secret; safe to send to a server.
#[pyclass(module = "ringvault", frozen)]
pub struct EncryptedTable {
    pub(crate) bytes: Vec<u8>,
    records: usize,
    columns: Vec<String>,
    preset: String,
}

impl EncryptedTable {
    /// A table from the bytes of its file, checked (container digest, kind, parameters, and
    /// every ciphertext through its wire loader).
    pub(crate) fn checked(bytes: Vec<u8>) -> PyResult<Self> {
        let h = header(&bytes, &["table"])?;
        let ctx = ringvault_app::dataset::validation_context(&h).map_err(app_err)?;
        let table = ringvault_app::results::table_from_file(&ctx, &bytes).map_err(app_err)?;
        let columns = table.columns().iter().map(|c| c.info().name.clone()).collect();
        Ok(Self { records: table.records(), columns, preset: h.preset, bytes })
    }
}

impl EncryptedTable {
    /// A table this process just wrote (`TableEncryptor`): its header read, not re-checked.
    pub(crate) fn written(bytes: Vec<u8>) -> PyResult<Self> {
        let (h, _) = container::peek_header(&bytes).map_err(|e| app_err(ringvault_app::AppError::Format(e)))?;
        let meta: ringvault_app::results::TableMeta = serde_json::from_value(h.meta.clone()).map_err(|e| invalid(format!("table metadata: {e}")))?;
        Ok(Self { records: meta.records, columns: meta.columns.into_iter().map(|c| c.name).collect(), preset: h.preset, bytes })
    }
}

#[pymethods]
impl EncryptedTable {
    /// The table from the bytes of its file (`to_bytes`, or a file `ringvault encrypt`
    /// wrote). Raises `WireFormatError` for anything else.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: Vec<u8>) -> PyResult<Self> {
        py.detach(|| Self::checked(data))
    }

    /// The bytes of the table's file (the wire format).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// Number of records.
    #[getter]
    fn records(&self) -> usize {
        self.records
    }

    /// Column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.columns.clone()
    }

    /// The ring preset of the keys it was encrypted under.
    #[getter]
    fn preset(&self) -> &str {
        &self.preset
    }

    fn __len__(&self) -> usize {
        self.records
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        Ok((py.get_type::<Self>().getattr("from_bytes")?, (PyBytes::new(py, &self.bytes),)))
    }

    fn __repr__(&self) -> String {
        format!("EncryptedTable(records={}, columns={:?}, preset={:?}, bytes={})", self.records, self.columns, self.preset, self.bytes.len())
    }
}

/// An encrypted result: a statistic, several, or per-record scores (the file `ringvault eval`
/// or the vault returns, which `ringvault decrypt` reads). Only the owner can decrypt it.
#[pyclass(module = "ringvault", frozen)]
pub struct EncryptedResult {
    pub(crate) bytes: Vec<u8>,
    kind: String,
}

impl EncryptedResult {
    /// A result from the bytes of its file, its container and kind checked (its ciphertexts
    /// are checked when it is decrypted).
    pub(crate) fn checked(bytes: Vec<u8>) -> PyResult<Self> {
        let h = header(&bytes, &RESULT_KINDS)?;
        Ok(Self { kind: h.kind, bytes })
    }
}

#[pymethods]
impl EncryptedResult {
    /// The result from the bytes of its file. Raises `WireFormatError` for anything else.
    #[staticmethod]
    fn from_bytes(data: Vec<u8>) -> PyResult<Self> {
        Self::checked(data)
    }

    /// The bytes of the result's file.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// `stat`, `stats`, `scores` (a table's), `totals` or `row-scores` (the vault's).
    #[getter]
    fn kind(&self) -> &str {
        &self.kind
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        Ok((py.get_type::<Self>().getattr("from_bytes")?, (PyBytes::new(py, &self.bytes),)))
    }

    fn __repr__(&self) -> String {
        format!("EncryptedResult(kind={:?}, bytes={})", self.kind, self.bytes.len())
    }
}

/// A vault schema from a dict (JSON-compatible) or JSON text, validated.
pub(crate) fn schema_from(value: &Bound<'_, PyAny>) -> PyResult<Schema> {
    let text: String = match value.extract::<String>() {
        Ok(s) => s,
        Err(_) => value.py().import("json")?.call_method1("dumps", (value,))?.extract()?,
    };
    Schema::from_json(text.as_bytes()).map_err(app_err)
}

/// A logistic model from a dict (or JSON text) `{"intercept": b, "weights": {"column": w, …}}`.
pub(crate) fn model_from(value: &Bound<'_, PyAny>) -> PyResult<ringvault_core::stats::LogisticModel> {
    let text: String = match value.extract::<String>() {
        Ok(s) => s,
        Err(_) => value.py().import("json")?.call_method1("dumps", (value,))?.extract()?,
    };
    serde_json::from_str(&text).map_err(|e| invalid(format!("model: {e} (expected {{\"intercept\": b, \"weights\": {{\"column\": w, …}}}})")))
}

/// An `EncryptedResult` or the bytes of a result file.
pub(crate) fn result_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(r) = value.cast::<EncryptedResult>() {
        return Ok(r.get().bytes.clone());
    }
    value.extract::<Vec<u8>>().map_err(|_| invalid("expected an EncryptedResult or the bytes of a result file"))
}

/// An `EncryptedTable` argument (its bytes are then borrowed, not copied: the table is
/// immutable).
pub(crate) fn table_arg<'a, 'py>(value: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, EncryptedTable>> {
    value.cast::<EncryptedTable>().map_err(|_| invalid("expected an EncryptedTable"))
}
