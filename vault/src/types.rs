//! The JSON bodies of the vault's HTTP API, shared by the server and [`crate::client`].
//!
//! The application layer's own types (`Schema`, `KeyInfo`, `QueryRequest`) travel as they
//! are; the OpenAPI document describes them through the mirror types at the end of this
//! module (documentation only).

use std::collections::BTreeMap;

use ringvault_app::dataset::{KeyInfo, Schema};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while the store cannot serve (see `store`).
    pub status: String,
    /// The store: `ok`, `disk full` (every request that needs the store is answered 507
    /// until space returns), `recovering` (reopening after an I/O error), `closed`.
    pub store: String,
    /// The server's version.
    pub version: String,
    /// The query backend, e.g. `cpu-avx512`.
    pub backend: String,
}

/// `POST /v1/datasets`: a new dataset's name and column schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDataset {
    /// A name for people (1 to 128 characters, no control characters).
    pub name: String,
    /// The columns with their decimals and declared ranges, and the computations allowed.
    #[schema(value_type = SchemaDoc)]
    pub schema: serde_json::Value,
}

/// `201` of `POST /v1/datasets`: the dataset's id and its owner's token (shown once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedDataset {
    /// The dataset's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The owner's token (`rv_…`): keys, devices, uploads, queries of this dataset.
    pub owner_token: String,
}

/// A dataset as listed: public metadata only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatasetInfo {
    /// The dataset's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Records (rows) stored.
    pub records: u64,
    /// Uploads stored.
    pub uploads: u64,
    /// Bytes of ciphertext stored (the uploads' `rows` files).
    pub bytes: u64,
    /// The evaluation keys, once uploaded.
    #[schema(value_type = Option<KeyInfoDoc>)]
    pub keys: Option<KeyInfo>,
    /// Creation time, Unix seconds.
    pub created: u64,
}

/// `GET /v1/datasets/{id}`: a dataset with its schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DatasetDetail {
    /// The listing's fields.
    #[serde(flatten)]
    pub info: DatasetInfo,
    /// The dataset's schema.
    #[schema(value_type = SchemaDoc)]
    pub schema: Schema,
}

/// `POST /v1/datasets/{id}/devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDevice {
    /// A name for people (1 to 128 characters, no control characters).
    pub name: String,
}

/// `201` of `POST /v1/datasets/{id}/devices`: the device's token (shown once). Also the
/// token file `ringvault vault device --out` writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceToken {
    /// The device's id (what queries filter on).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The device's token (`rv_…`): append uploads to this dataset, read its public key.
    pub token: String,
    /// The dataset.
    pub dataset: String,
}

/// A device as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceInfo {
    /// The device's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether its token was revoked.
    pub revoked: bool,
    /// Uploads it made.
    pub uploads: u64,
    /// Records it uploaded.
    pub records: u64,
    /// Creation time, Unix seconds.
    pub created: u64,
}

/// `200` of `DELETE /v1/datasets/{id}/devices/{device}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// The device's id.
    pub id: String,
    /// `true`.
    pub revoked: bool,
}

/// `200` of `DELETE /v1/datasets/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// The dataset's id.
    pub id: String,
    /// `true`.
    pub deleted: bool,
}

/// `200` of `DELETE /v1/jobs/{job}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeletedJob {
    /// The job's id.
    pub job: String,
    /// `true`.
    pub deleted: bool,
}

/// The receipt of an upload: `201` when stored now, `200` with `duplicate: true` for a retry
/// of an upload already stored (same `Idempotency-Key`, same body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadReceipt {
    /// The upload's sequence number in its dataset (0, 1, …).
    pub upload: u64,
    /// Records in the upload.
    pub rows: u64,
    /// Bytes of the request body.
    pub bytes: u64,
    /// Whether this answers a retry of an upload stored before.
    pub duplicate: bool,
}

/// A stored upload as listed (`GET /v1/datasets/{id}/uploads`, owner): its public metadata;
/// `GET …/uploads/{upload}` returns its `rows` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadInfo {
    /// The upload's sequence number in its dataset.
    pub upload: u64,
    /// The uploading device's id; none for the owner.
    pub device: Option<String>,
    /// Records in the upload.
    pub rows: u64,
    /// Start of the readings' time range (Unix seconds).
    pub from: i64,
    /// End of the range.
    pub to: i64,
    /// Bytes of its stored `rows` file.
    pub bytes: u64,
    /// When it was received, Unix seconds.
    pub received: u64,
}

/// A query job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for or being evaluated.
    Running,
    /// Finished: `GET /v1/jobs/{job}/result` returns the result file.
    Done,
    /// Failed: the result endpoint answers the error.
    Failed,
}

/// `202` of `POST /v1/datasets/{id}/queries` and `GET /v1/jobs/{job}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    /// The job's id.
    pub job: String,
    /// Its state.
    pub state: JobState,
    /// Fraction done, 0 to 1.
    pub progress: f64,
    /// What went wrong, for a failed job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every error answer: `{"error": "<what was wrong>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong.
    pub error: String,
}

// ---- documentation mirrors of the application layer's types (OpenAPI only) ----

/// One column of a schema.
#[derive(ToSchema)]
#[schema(as = ColumnSpec)]
#[allow(dead_code)]
pub(crate) struct ColumnSpecDoc {
    /// The column's name.
    name: String,
    /// Decimal digits of the fixed-point scale (0 to 18, default 0).
    decimals: Option<u32>,
    /// Smallest value a device may encrypt.
    min: f64,
    /// Largest value a device may encrypt.
    max: f64,
}

/// A dataset's schema: `{"columns": [{"name": "bmi", "decimals": 1, "min": 10, "max": 80}],
/// "computations": ["sums", "variances", "scores"]}` (computations default to all three).
#[derive(ToSchema)]
#[schema(as = Schema)]
#[allow(dead_code)]
pub(crate) struct SchemaDoc {
    /// The columns, in upload order.
    columns: Vec<ColumnSpecDoc>,
    /// Any of `sums`, `variances`, `scores`.
    computations: Option<Vec<String>>,
}

/// What the server records of a dataset's validated evaluation keys.
#[derive(ToSchema)]
#[schema(as = KeyInfo)]
#[allow(dead_code)]
pub(crate) struct KeyInfoDoc {
    /// The ring preset (`n4096`, `n8192`, …).
    preset: String,
    /// The plaintext moduli of the CRT space.
    moduli: Vec<u32>,
    /// Bytes of the `eval.keys` file.
    bytes: u64,
    /// Hex SHA-256 of the `eval.keys` file.
    sha256: String,
    /// Largest record count for which every declared computation is exact.
    max_records: u64,
}

/// A logistic model in the data's raw units: `score = intercept + Σ weights[c]·x_c`.
#[derive(ToSchema)]
#[schema(as = LogisticModel)]
#[allow(dead_code)]
pub(crate) struct LogisticModelDoc {
    /// `b`.
    intercept: f64,
    /// Weight by column name.
    weights: BTreeMap<String, f64>,
}

/// One statistic of a batched query (OpenAPI description of `ringvault_app::query::StatColumn`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct StatColumnDoc {
    /// The statistic.
    stat: String,
    /// Its column.
    column: String,
}

/// A query: `stat` over `column`, or `logreg` scores; optionally only uploads whose time
/// range meets `[from, to]` (Unix seconds), or of one device (its id). Unknown keys refused.
#[derive(ToSchema)]
#[schema(as = QueryRequest)]
#[allow(dead_code)]
pub(crate) struct QueryRequestDoc {
    /// `count`, `sum`, `mean`, `sum_of_squares`, `variance`, `stddev`, `sample_variance`,
    /// `sample_stddev`.
    stat: Option<String>,
    /// The column of `stat`.
    column: Option<String>,
    /// A logistic model (instead of `stat`).
    logreg: Option<LogisticModelDoc>,
    /// Several statistics evaluated as one batch (instead of `stat`): a `stats` result file.
    stats: Option<Vec<StatColumnDoc>>,
    /// Only uploads whose range ends at or after this.
    from: Option<i64>,
    /// Only uploads whose range starts at or before this.
    to: Option<i64>,
    /// Only uploads of this device.
    device: Option<String>,
}
