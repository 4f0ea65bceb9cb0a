//! The HTTP API under `/v1`: routes, handlers, body limits and the middleware (request ids,
//! the request log, timeouts, JSON errors).
//!
//! Every error answer is `{"error": "<message>"}`. Bodies are bounded per route: JSON bodies
//! [`JSON_LIMIT`], uploads `max_upload_mb`, evaluation keys `max_keys_mb`; a request whose
//! `Content-Length` is over the limit is answered 413 before any of its body is read, and a
//! body without a length is cut off (413) as soon as it passes the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::StreamExt;
use ringvault_app::dataset::KeyInfo;
use ringvault_app::query::{QueryRequest, QueryRunner};
use ringvault_app::AppError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Instrument;

use crate::auth::{self, Caller};
use crate::checks::Checks;
use crate::error::ApiError;
use crate::jobs::{Answer, Job, Jobs, QUICK, SPILL_AFTER};
use crate::keyfiles::KeyFiles;
use crate::store::{hex, AppendOp, DatasetRecord, DeviceRecord, Op, Outcome, Role, Store, TokenRecord};
use crate::types::{CreateDataset, CreateDevice, CreatedDataset, DatasetDetail, DatasetInfo, Deleted, DeletedJob, DeviceInfo, DeviceToken, ErrorBody, Health, JobState, JobStatus, Revoked, UploadInfo, UploadReceipt};

/// Largest JSON request body.
pub(crate) const JSON_LIMIT: u64 = 1 << 20;
/// Longest name of a dataset or device, in characters.
const MAX_NAME: usize = 128;
/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 128;
/// The header of an upload's idempotency key.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";
const OCTET_STREAM: &str = "application/octet-stream";

/// Body limits and timeouts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) upload: u64,
    pub(crate) keys: u64,
    pub(crate) timeout: Duration,
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) keys: KeyFiles,
    pub(crate) runner: Arc<dyn QueryRunner>,
    pub(crate) checks: Arc<dyn Checks>,
    pub(crate) jobs: Jobs,
    pub(crate) queries: Arc<Semaphore>,
    pub(crate) limits: Limits,
    /// Faults enabled: queries wait while this file (`DIR/fault-hold-query`) exists.
    pub(crate) hold_queries: Option<std::path::PathBuf>,
}

/// The file whose presence holds every query before it computes (faults enabled): tests make
/// a query outlast [`QUICK`] and become a job, and keep it running as long as they need.
pub(crate) const HOLD_FILE: &str = "fault-hold-query";
/// Longest a query is held by [`HOLD_FILE`].
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

type St = State<Arc<AppState>>;

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _e = span.enter();
        f()
    })
    .await
    .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> Result<Self, ApiError> {
        let token = auth::bearer(&parts.headers)?;
        auth::authenticate(&st.store, token)
    }
}

// ---- bodies ----

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    if content_type_is(headers, expected) {
        Ok(())
    } else {
        let got = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none");
        Err(ApiError::unsupported_media(format!("expected Content-Type: {expected} (got {got})")))
    }
}

/// 413 at once when the declared length is over the limit.
fn check_content_length(headers: &HeaderMap, limit: u64, what: &str) -> Result<(), ApiError> {
    if let Some(v) = headers.get(header::CONTENT_LENGTH) {
        let n: u64 = v.to_str().ok().and_then(|s| s.trim().parse().ok()).ok_or_else(|| ApiError::bad_request("malformed Content-Length"))?;
        if n > limit {
            return Err(ApiError::too_large(what, limit));
        }
    }
    Ok(())
}

/// Reads a whole body, refusing it (413) as soon as it passes `limit`.
async fn read_body(body: Body, limit: u64, what: &str, hint: Option<u64>) -> Result<Bytes, ApiError> {
    let cap = usize::try_from(hint.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut buf = Vec::with_capacity(cap);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::too_large(what, limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// A JSON body of at most [`JSON_LIMIT`] bytes, with JSON errors: 415 wrong content type,
/// 413 too large, 400 malformed JSON, 422 well-formed JSON of the wrong shape.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        require_content_type(&parts.headers, "application/json")?;
        check_content_length(&parts.headers, JSON_LIMIT, "JSON bodies")?;
        let bytes = read_body(body, JSON_LIMIT, "JSON bodies", content_length(&parts.headers)).await?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::unprocessable(format!("invalid request body: {e}")),
            _ => ApiError::bad_request(format!("malformed JSON: {e}")),
        })
    }
}

fn check_name(name: &str, what: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(format!("{what} name must be 1 to {MAX_NAME} characters without control characters")));
    }
    Ok(n.to_owned())
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let rule = format!("1 to {MAX_IDEMPOTENCY_KEY} characters of A-Z a-z 0-9 . _ : -");
    let Some(v) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request(format!("the header Idempotency-Key is required ({rule}); a retry of the same upload sends the same key")));
    };
    let k = v.to_str().unwrap_or("");
    if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY || !k.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-')) {
        return Err(ApiError::bad_request(format!("malformed Idempotency-Key: expected {rule}")));
    }
    Ok(k.to_owned())
}

fn octets(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM))], bytes).into_response()
}

/// A result file as a response: from memory, or streamed from its file.
async fn answer_response(answer: &Answer) -> Result<Response, ApiError> {
    match answer {
        Answer::Memory(bytes) => Ok(octets(bytes.clone())),
        Answer::File { path, len } => {
            let file = tokio::fs::File::open(path).await.map_err(|e| ApiError::internal(format!("the query's result {}: {e}", path.display())))?;
            let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
            Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM)), (header::CONTENT_LENGTH, HeaderValue::from(*len))], body).into_response())
        }
    }
}

fn dataset_info(d: &DatasetRecord) -> DatasetInfo {
    DatasetInfo { id: d.id.clone(), name: d.name.clone(), records: d.records, uploads: d.uploads, bytes: d.bytes, keys: d.keys.clone(), created: d.created }
}

fn load_dataset(st: &AppState, id: &str) -> Result<DatasetRecord, ApiError> {
    st.store.dataset(id)?.ok_or_else(|| ApiError::not_found(format!("no dataset {id}")))
}

fn no_keys(id: &str) -> ApiError {
    ApiError::conflict(format!("dataset {id} has no evaluation keys yet: its owner uploads them with PUT /v1/datasets/{id}/keys"))
}

// ---- handlers ----

/// Liveness and the backend; no token needed.
#[utoipa::path(get, path = "/v1/health", tag = "service", responses((status = 200, description = "The server is up", body = Health)))]
pub(crate) async fn health(State(st): St) -> Json<Health> {
    let store = st.store.state();
    let status = if store == "ok" { "ok" } else { "degraded" };
    Json(Health { status: status.into(), store: store.into(), version: env!("CARGO_PKG_VERSION").into(), backend: st.runner.backend_name() })
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", security(("bearer" = [])), responses((status = 200, description = "The OpenAPI 3 document"), (status = 401, description = "No valid token", body = ErrorBody)))]
pub(crate) async fn openapi(_caller: Caller) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], crate::openapi::document()).into_response()
}

/// Creates a dataset (no keys yet) and its owner's token.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", security(("bearer" = [])), request_body = CreateDataset,
    responses((status = 201, description = "Created; the owner token is shown only now", body = CreatedDataset), (status = 401, body = ErrorBody), (status = 403, description = "Not the operator", body = ErrorBody), (status = 422, description = "Invalid name or schema", body = ErrorBody)))]
pub(crate) async fn create_dataset(State(st): St, caller: Caller, JsonBody(req): JsonBody<CreateDataset>) -> Result<Response, ApiError> {
    caller.operator()?;
    let name = check_name(&req.name, "a dataset")?;
    let schema_json = serde_json::to_vec(&req.schema).map_err(ApiError::internal)?;
    let schema = st.checks.schema(&schema_json).map_err(|e| ApiError::from_app(&e))?;
    let id = auth::random_id()?;
    let (token, digest) = auth::new_token().map_err(ApiError::internal)?;
    let now = unix_now();
    let record = DatasetRecord { id: id.clone(), name: name.clone(), schema, created: now, keys: None, records: 0, bytes: 0, uploads: 0, next_seq: 0, owner_digest: hex(&digest) };
    let owner = TokenRecord { role: Role::Owner, dataset: Some(id.clone()), device: None, name: format!("owner of {name}"), revoked: false, digest: hex(&digest), created: now };
    st.store.submit(Op::CreateDataset { dataset: Box::new(record), owner_digest: digest, owner }).await?;
    tracing::info!(dataset = %id, "dataset created");
    Ok((StatusCode::CREATED, Json(CreatedDataset { id, name, owner_token: token })).into_response())
}

/// Every dataset (operator) or the owner's own.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", security(("bearer" = [])),
    responses((status = 200, body = Vec<DatasetInfo>), (status = 401, body = ErrorBody), (status = 403, description = "A device token", body = ErrorBody)))]
pub(crate) async fn list_datasets(State(st): St, caller: Caller) -> Result<Json<Vec<DatasetInfo>>, ApiError> {
    match caller.role {
        Role::Operator => {
            let store = st.store.clone();
            let all = blocking(move || store.datasets()).await??;
            Ok(Json(all.iter().map(dataset_info).collect()))
        }
        _ => {
            let own = caller.owner()?;
            Ok(Json(st.store.dataset(own)?.iter().map(dataset_info).collect()))
        }
    }
}

/// One dataset with its schema.
#[utoipa::path(get, path = "/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")),
    responses((status = 200, body = DatasetDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_dataset(State(st): St, caller: Caller, Path(id): Path<String>) -> Result<Json<DatasetDetail>, ApiError> {
    caller.operator_or_owner_of(&id)?;
    let d = load_dataset(&st, &id)?;
    Ok(Json(DatasetDetail { info: dataset_info(&d), schema: d.schema }))
}

/// Deletes a dataset: its keys (unless another dataset has the same), uploads, devices, tokens.
#[utoipa::path(delete, path = "/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_dataset(State(st): St, caller: Caller, Path(id): Path<String>) -> Result<Json<Deleted>, ApiError> {
    caller.operator_or_owner_of(&id)?;
    let _files = st.keys.lock.lock().await;
    let out = st.store.submit(Op::DeleteDataset { dataset: id.clone() }).await?;
    st.jobs.remove_dataset(&id);
    if let Outcome::Deleted { key_sha: Some(sha), still_used: false } = out {
        st.keys.remove(&sha);
    }
    tracing::info!(dataset = %id, "dataset deleted");
    Ok(Json(Deleted { id, deleted: true }))
}

/// Removes the files of keys `sha` unless a dataset refers to them (call with the key lock).
fn discard_keys(st: &AppState, sha: &str) {
    match st.store.key_shas() {
        Ok(used) if !used.contains(sha) => st.keys.remove(sha),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "key file left for the startup collection"),
    }
}

/// Uploads the dataset's evaluation keys (the `eval.keys` file, streamed).
#[utoipa::path(put, path = "/v1/datasets/{id}/keys", tag = "datasets", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The owner's eval.keys file"),
    responses((status = 200, description = "Validated and stored (or the same keys again)", body = crate::types::KeyInfoDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The dataset has other keys", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, description = "Not valid evaluation keys for this schema", body = ErrorBody), (status = 507, body = ErrorBody)))]
pub(crate) async fn put_keys(State(st): St, caller: Caller, Path(id): Path<String>, headers: HeaderMap, body: Body) -> Result<Json<KeyInfo>, ApiError> {
    caller.owner_of(&id)?;
    require_content_type(&headers, OCTET_STREAM)?;
    let limit = st.limits.keys;
    check_content_length(&headers, limit, "evaluation keys")?;
    let d = load_dataset(&st, &id)?;
    let checks = st.checks.clone();
    let received = st.keys.receive(body, limit, &move |first: &[u8]| checks.eval_keys_opening(first)).await?;
    if received.bytes == 0 {
        return Err(ApiError::bad_request("empty body: send the eval.keys file"));
    }
    let sha = received.sha256.clone();
    if let Some(k) = &d.keys {
        return if k.sha256 == sha { Ok(Json(k.clone())) } else { Err(ApiError::conflict(format!("dataset {id} already has other evaluation keys (sha256 {}); keys cannot change once set: create a new dataset", k.sha256))) };
    }
    let _files = st.keys.lock.lock().await;
    let path = st.keys.install(received).await?;
    let (checks, schema, p) = (st.checks.clone(), d.schema.clone(), path.clone());
    let checked = blocking(move || checks.eval_keys(&schema, &p).map(|c| (c.info, c.public_key))).await?;
    let (info, public) = match checked {
        Ok(v) => v,
        Err(e) => {
            discard_keys(&st, &sha);
            return Err(ApiError::from_app(&e));
        }
    };
    if info.sha256 != sha {
        discard_keys(&st, &sha);
        return Err(ApiError::internal(format!("key check reported digest {} for a file of digest {sha}", info.sha256)));
    }
    if let Err(e) = st.keys.write_public(&sha, public).await {
        discard_keys(&st, &sha);
        return Err(e);
    }
    match st.store.submit(Op::SetKeys { dataset: id.clone(), keys: info }).await {
        Ok(Outcome::Keys { keys, .. }) => {
            tracing::info!(dataset = %id, bytes = keys.bytes, "evaluation keys stored");
            Ok(Json(keys))
        }
        Ok(other) => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
        Err(e) => {
            discard_keys(&st, &sha);
            Err(e.into())
        }
    }
}

/// The dataset's public key file (what devices encrypt with).
#[utoipa::path(get, path = "/v1/datasets/{id}/public-key", tag = "datasets", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")),
    responses((status = 200, description = "The public.key file", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "No keys yet", body = ErrorBody)))]
pub(crate) async fn public_key(State(st): St, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.owner_or_device_of(&id)?;
    let d = load_dataset(&st, &id)?;
    let keys = d.keys.ok_or_else(|| no_keys(&id))?;
    let path = st.keys.public_path(&keys.sha256);
    let bytes = tokio::fs::read(&path).await.map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    Ok(octets(Bytes::from(bytes)))
}

/// The dataset's schema (what a device needs to encode and encrypt its readings).
#[utoipa::path(get, path = "/v1/datasets/{id}/schema", tag = "datasets", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")),
    responses((status = 200, body = crate::types::SchemaDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn schema(State(st): St, caller: Caller, Path(id): Path<String>) -> Result<Json<ringvault_app::dataset::Schema>, ApiError> {
    caller.owner_or_device_of(&id)?;
    Ok(Json(load_dataset(&st, &id)?.schema))
}

/// Issues a device token for the dataset.
#[utoipa::path(post, path = "/v1/datasets/{id}/devices", tag = "devices", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")), request_body = CreateDevice,
    responses((status = 201, description = "The token is shown only now", body = DeviceToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_device(State(st): St, caller: Caller, Path(id): Path<String>, JsonBody(req): JsonBody<CreateDevice>) -> Result<Response, ApiError> {
    caller.owner_of(&id)?;
    let name = check_name(&req.name, "a device")?;
    let dev = auth::random_id()?;
    let (token, digest) = auth::new_token().map_err(ApiError::internal)?;
    let now = unix_now();
    let device = DeviceRecord { id: dev.clone(), name: name.clone(), revoked: false, uploads: 0, records: 0, created: now, digest: hex(&digest) };
    let record = TokenRecord { role: Role::Device, dataset: Some(id.clone()), device: Some(dev.clone()), name: name.clone(), revoked: false, digest: hex(&digest), created: now };
    st.store.submit(Op::AddDevice { dataset: id.clone(), device, digest, token: record }).await?;
    tracing::info!(dataset = %id, device = %dev, "device token issued");
    Ok((StatusCode::CREATED, Json(DeviceToken { id: dev, name, token, dataset: id })).into_response())
}

/// The dataset's devices.
#[utoipa::path(get, path = "/v1/datasets/{id}/devices", tag = "devices", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")),
    responses((status = 200, body = Vec<DeviceInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_devices(State(st): St, caller: Caller, Path(id): Path<String>) -> Result<Json<Vec<DeviceInfo>>, ApiError> {
    caller.owner_of(&id)?;
    let devices = st.store.devices(&id)?;
    Ok(Json(devices.into_iter().map(|d| DeviceInfo { id: d.id, name: d.name, revoked: d.revoked, uploads: d.uploads, records: d.records, created: d.created }).collect()))
}

/// Revokes a device's token (at once; its uploads stay).
#[utoipa::path(delete, path = "/v1/datasets/{id}/devices/{device}", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dataset's id"), ("device" = String, Path, description = "The device's id")),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_device(State(st): St, caller: Caller, Path((id, device)): Path<(String, String)>) -> Result<Json<Revoked>, ApiError> {
    caller.owner_of(&id)?;
    st.store.submit(Op::RevokeDevice { dataset: id.clone(), device: device.clone() }).await?;
    tracing::info!(dataset = %id, device = %device, "device token revoked");
    Ok(Json(Revoked { id: device, revoked: true }))
}

/// The time range of an upload (Unix seconds).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadParams {
    /// Start of the readings' time range (default: `to`, else the time of receipt).
    from: Option<i64>,
    /// End of the range (default: `from`, else the time of receipt).
    to: Option<i64>,
}

/// Most uploads one listing returns.
const MAX_LISTED: usize = 10_000;

/// A listing's window.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only uploads after this sequence number (what a previous listing ended with).
    after: Option<u64>,
    /// At most this many (default and most: 10,000).
    limit: Option<usize>,
}

/// The dataset's stored uploads in order (their public metadata): what an export reads.
#[utoipa::path(get, path = "/v1/datasets/{id}/uploads", tag = "uploads", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id"), ListParams),
    responses((status = 200, body = Vec<UploadInfo>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_uploads(State(st): St, caller: Caller, Path(id): Path<String>, query: Result<Query<ListParams>, QueryRejection>) -> Result<Json<Vec<UploadInfo>>, ApiError> {
    caller.owner_of(&id)?;
    let Query(p) = query.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    load_dataset(&st, &id)?;
    let limit = p.limit.unwrap_or(MAX_LISTED).clamp(1, MAX_LISTED);
    let Some(first) = p.after.map_or(Some(0), |a| a.checked_add(1)) else { return Ok(Json(Vec::new())) };
    let listed = st.store.uploads_from(&id, first, limit)?;
    Ok(Json(listed.into_iter().map(|u| UploadInfo { upload: u.seq, device: u.device, rows: u.rows, from: u.from, to: u.to, bytes: u.stored_bytes, received: u.received }).collect()))
}

/// One stored upload's `rows` file, as validated when it arrived.
#[utoipa::path(get, path = "/v1/datasets/{id}/uploads/{upload}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dataset's id"), ("upload" = u64, Path, description = "The upload's sequence number")),
    responses((status = 200, description = "The rows file", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_upload(State(st): St, caller: Caller, Path((id, seq)): Path<(String, u64)>) -> Result<Response, ApiError> {
    caller.owner_of(&id)?;
    load_dataset(&st, &id)?;
    let st2 = st.clone();
    let id2 = id.clone();
    let blobs = blocking(move || st2.store.part_blobs(&id2, &[seq], 0)).await?.map_err(|e| match e {
        crate::store::StoreError::NotFound(_) => ApiError::not_found(format!("no upload {seq} in dataset {id}")),
        e => e.into(),
    })?;
    let blob = blobs.into_iter().next().ok_or_else(|| ApiError::not_found(format!("no upload {seq} in dataset {id}")))?;
    Ok(octets(Bytes::from(blob)))
}

/// Appends an upload: a `rows` file of one or more encrypted records.
#[utoipa::path(post, path = "/v1/datasets/{id}/uploads", tag = "uploads", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id"), UploadParams,
        ("Idempotency-Key" = String, Header, description = "1 to 128 characters of A-Z a-z 0-9 . _ : -; a retry sends the same key")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "An encrypted rows file"),
    responses((status = 201, description = "Stored (durably)", body = UploadReceipt), (status = 200, description = "A retry of an upload stored before: its original receipt, duplicate = true", body = UploadReceipt),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "No keys yet, or the key was used for another body", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, description = "Not a valid upload for this dataset", body = ErrorBody), (status = 507, description = "Disk full: nothing stored", body = ErrorBody)))]
pub(crate) async fn upload(State(st): St, caller: Caller, Path(id): Path<String>, query: Result<Query<UploadParams>, QueryRejection>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let device = caller.owner_or_device_of(&id)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let key = idempotency_key(&headers)?;
    require_content_type(&headers, OCTET_STREAM)?;
    let limit = st.limits.upload;
    check_content_length(&headers, limit, "uploads")?;
    let now = unix_now();
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let (from, to) = match (q.from, q.to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, f),
        (None, Some(t)) => (t, t),
        (None, None) => (now_i, now_i),
    };
    if from > to {
        return Err(ApiError::unprocessable(format!("from ({from}) is after to ({to})")));
    }
    let body = read_body(body, limit, "uploads", content_length(&headers)).await?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty body: send an encrypted rows file (ringvault vault push writes them)"));
    }
    let principal = device.as_ref().map_or_else(|| "owner".to_owned(), |d| format!("device:{d}"));
    let receipt = |seq, rows, bytes, duplicate| UploadReceipt { upload: seq, rows, bytes, duplicate };
    // A retry is told from its stored original by the body's SHA-256; a new upload's hash
    // comes from the validation's pass over the body.
    if let Some(prev) = st.store.idempotent(&id, &principal, &key)? {
        let b = body.clone();
        let sha = blocking(move || hex(&Sha256::digest(&b))).await?;
        return if prev.body_sha256 == sha {
            Ok((StatusCode::OK, Json(receipt(prev.seq, prev.rows, prev.bytes, true))).into_response())
        } else {
            Err(ApiError::conflict(format!("Idempotency-Key {key:?} was used before for a different body (upload {}); use a new key for new data", prev.seq)))
        };
    }
    let d = load_dataset(&st, &id)?;
    let keys = d.keys.clone().ok_or_else(|| no_keys(&id))?;
    let body_bytes = body.len() as u64;
    let (checks, schema) = (st.checks.clone(), d.schema);
    // The body moves to the check and on to the store: never copied.
    let checked = blocking(move || checks.upload(&schema, &keys, Vec::from(body))).await?.map_err(|e| ApiError::from_app(&e))?;
    if checked.rows == 0 {
        return Err(ApiError::unprocessable("an upload holds at least one row"));
    }
    let op = AppendOp {
        dataset: id.clone(),
        principal,
        device,
        idempotency_key: key,
        body_sha256: hex(&checked.sha256),
        body_bytes,
        rows: checked.rows as u64,
        from,
        to,
        received: now,
        parts: vec![checked.body],
    };
    match st.store.submit(Op::Append(Box::new(op))).await? {
        Outcome::Receipt { seq, rows, bytes, duplicate } => {
            let status = if duplicate { StatusCode::OK } else { StatusCode::CREATED };
            Ok((status, Json(receipt(seq, rows, bytes, duplicate))).into_response())
        }
        other => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
    }
}

/// Runs a query: the result file at once when it finishes within about a second, else a job.
#[utoipa::path(post, path = "/v1/datasets/{id}/queries", tag = "queries", security(("bearer" = [])), params(("id" = String, Path, description = "The dataset's id")), request_body = crate::types::QueryRequestDoc,
    responses((status = 200, description = "The result file (ringvault decrypt reads it)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 202, description = "Still running: poll the job (Location header)", body = JobStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "No keys yet", body = ErrorBody), (status = 422, description = "Invalid query for this dataset, or refused (could wrap)", body = ErrorBody), (status = 503, description = "Too many jobs", body = ErrorBody)))]
pub(crate) async fn query(State(st): St, caller: Caller, Path(id): Path<String>, JsonBody(req): JsonBody<QueryRequest>) -> Result<Response, ApiError> {
    caller.owner_of(&id)?;
    let d = load_dataset(&st, &id)?;
    let keys = d.keys.clone().ok_or_else(|| no_keys(&id))?;
    st.runner.check(&d.schema, &req).map_err(|e| ApiError::from_app(&e))?;
    if let Some(dev) = &req.device
        && st.store.device(&id, dev)?.is_none()
    {
        return Err(ApiError::unprocessable(format!("no device {dev} in dataset {id}")));
    }
    let job = st.jobs.insert(&id)?;
    tokio::spawn(run_job(st.clone(), job.clone(), d, keys, req).instrument(tracing::Span::current()));
    if job.wait(QUICK).await {
        st.jobs.remove(&job.id);
        return match job.outcome() {
            Some(Ok(answer)) => answer_response(&answer).await,
            Some(Err(e)) => Err(e),
            None => Err(ApiError::internal("a finished job has no outcome")),
        };
    }
    let location = format!("/v1/jobs/{}", job.id);
    let mut res = (StatusCode::ACCEPTED, Json(job.status())).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Most uploads read from the store at once by a query.
const READ_UPLOADS: usize = 64;
/// Most stored bytes read from the store at once by a query (a larger single upload is read
/// alone): with the runner's batch, what bounds a query's memory.
const READ_BYTES: u64 = 32 << 20;

/// The selected uploads' sequence numbers in groups read together: at most [`READ_UPLOADS`]
/// uploads and [`READ_BYTES`] stored bytes per group (or one upload), in order.
fn read_groups(uploads: &[(u64, u64)]) -> Vec<Vec<u64>> {
    let mut groups: Vec<Vec<u64>> = Vec::new();
    let mut bytes = 0u64;
    for &(seq, size) in uploads {
        match groups.last_mut() {
            Some(g) if g.len() < READ_UPLOADS && bytes + size <= READ_BYTES => {
                g.push(seq);
                bytes += size;
            }
            _ => {
                groups.push(vec![seq]);
                bytes = size;
            }
        }
    }
    groups
}

/// Whether an upload is selected by a query's filters.
fn selected(u: &crate::store::UploadRecord, req: &QueryRequest) -> bool {
    req.from.is_none_or(|f| u.to >= f) && req.to.is_none_or(|t| u.from <= t) && req.device.as_ref().is_none_or(|d| u.device.as_ref() == Some(d))
}

async fn run_job(st: Arc<AppState>, job: Arc<Job>, d: DatasetRecord, keys: KeyInfo, req: QueryRequest) {
    let permit = st.queries.clone().acquire_owned().await;
    let (st2, job2) = (st.clone(), job.clone());
    let span = tracing::Span::current();
    let res = tokio::task::spawn_blocking(move || -> Result<Bytes, ApiError> {
        let _e = span.enter();
        let _permit = permit;
        if let Some(hold) = &st2.hold_queries {
            let until = std::time::Instant::now() + HOLD_AT_MOST;
            while hold.exists() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let chosen: Vec<(u64, u64)> = st2.store.uploads(&d.id)?.iter().filter(|u| selected(u, &req)).map(|u| (u.seq, u.stored_bytes)).collect();
        let uploads = chosen.len();
        let groups = read_groups(&chosen);
        let (store, id) = (st2.store.clone(), d.id.clone());
        // A few uploads read at a time: the runner sums them as they arrive.
        let mut source = move |visit: &mut dyn FnMut(Vec<u8>) -> Result<(), AppError>| -> Result<(), AppError> {
            for some in &groups {
                for blob in store.part_blobs(&id, some, 0).map_err(|e| AppError::Io { path: "vault.redb".into(), reason: e.to_string() })? {
                    visit(blob)?;
                }
            }
            Ok(())
        };
        let progress = |f: f64| job2.set_progress(f);
        let started = std::time::Instant::now();
        let out = st2.runner.run(&d.schema, &keys, &req, uploads, &mut source, &progress).map_err(|e| ApiError::from_app(&e))?;
        tracing::info!(dataset = %d.id, ms = started.elapsed().as_millis() as u64, "query evaluated");
        Ok(Bytes::from(out))
    })
    .await;
    let res = res.unwrap_or_else(|e| Err(ApiError::internal(format!("query task failed: {e}"))));
    // Answered from memory at once; a large result still held after SPILL_AFTER moves to its
    // file (a fetch already streaming keeps its bytes). Nothing of the job is held while
    // waiting, so an owner that fetches and deletes the job (as the client does) frees it at
    // once and it never reaches the disk; nor does a quick answer.
    let spill = res.as_ref().is_ok_and(|b| st.jobs.spills(b.len()));
    job.finish(res.map(Answer::Memory));
    if spill {
        let id = job.id.clone();
        drop(job);
        tokio::time::sleep(SPILL_AFTER).await;
        let st = st.clone();
        let _ = tokio::task::spawn_blocking(move || st.jobs.spill(&id)).await;
    }
}

fn job_of(st: &AppState, caller: &Caller, job: &str) -> Result<Arc<Job>, ApiError> {
    let own = caller.owner()?;
    let j = st.jobs.get(job).ok_or_else(|| ApiError::not_found(format!("no job {job} (finished jobs are kept for 10 minutes, and none survives a restart)")))?;
    if j.dataset != own {
        return Err(ApiError::forbidden("this job belongs to another dataset"));
    }
    Ok(j)
}

/// How long a job poll may wait for the job to finish.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobParams {
    /// Milliseconds to wait for the job to finish before answering (0 to [`MAX_JOB_WAIT_MS`];
    /// default 0): a long poll that answers as soon as the job is done.
    wait_ms: Option<u64>,
}

/// The longest long poll of a job.
pub(crate) const MAX_JOB_WAIT_MS: u64 = 10_000;

/// A query job's state and progress.
#[utoipa::path(get, path = "/v1/jobs/{job}", tag = "queries", security(("bearer" = [])), params(("job" = String, Path, description = "The job's id"), JobParams),
    responses((status = 200, body = JobStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_job(State(st): St, caller: Caller, Path(job): Path<String>, query: Result<Query<JobParams>, QueryRejection>) -> Result<Json<JobStatus>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let wait = q.wait_ms.unwrap_or(0);
    if wait > MAX_JOB_WAIT_MS {
        return Err(ApiError::bad_request(format!("wait_ms is at most {MAX_JOB_WAIT_MS}")));
    }
    let j = job_of(&st, &caller, &job)?;
    if wait > 0 {
        j.wait(Duration::from_millis(wait)).await;
    }
    Ok(Json(j.status()))
}

/// A finished job's result file (or its error).
#[utoipa::path(get, path = "/v1/jobs/{job}/result", tag = "queries", security(("bearer" = [])), params(("job" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The result file", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Still running", body = ErrorBody), (status = 422, description = "The query failed: its error", body = ErrorBody)))]
pub(crate) async fn job_result(State(st): St, caller: Caller, Path(job): Path<String>) -> Result<Response, ApiError> {
    let j = job_of(&st, &caller, &job)?;
    match j.outcome() {
        Some(Ok(answer)) => answer_response(&answer).await,
        Some(Err(e)) => Err(e),
        None => {
            let s = j.status();
            debug_assert_eq!(s.state, JobState::Running);
            Err(ApiError::conflict(format!("job {job} is still running ({:.0}% done)", s.progress * 100.0)))
        }
    }
}

/// Forgets a job and its result (running, the job finishes unseen): an owner that has its
/// result frees the vault's memory or disk at once instead of after the 10 minutes a result
/// is kept.
#[utoipa::path(delete, path = "/v1/jobs/{job}", tag = "queries", security(("bearer" = [])), params(("job" = String, Path, description = "The job's id")),
    responses((status = 200, body = DeletedJob), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_job(State(st): St, caller: Caller, Path(job): Path<String>) -> Result<Json<DeletedJob>, ApiError> {
    let j = job_of(&st, &caller, &job)?;
    st.jobs.remove(&j.id);
    Ok(Json(DeletedJob { job, deleted: true }))
}

async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

// ---- middleware ----

/// Request ids: a random per-process prefix and a counter (a caller's own `x-request-id`
/// is kept).
#[derive(Clone)]
struct MakeId {
    prefix: String,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix)).ok().map(RequestId::new)
    }
}

/// Answers 408 (JSON) for a request that takes longer than the limit.
async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(StatusCode::REQUEST_TIMEOUT, format!("the request took longer than the vault's limit of {} s", limit.as_secs())).into_response(),
    }
}

/// Turns every error answer that is not JSON yet (axum's own rejections, 404, 405) into
/// `{"error": …}`.
async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || content_type_is(res.headers(), "application/json") {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10).await.unwrap_or_default();
    let mut message = String::from_utf8_lossy(&text).trim().to_owned();
    if message.is_empty() {
        message = match status {
            StatusCode::NOT_FOUND => format!("no such endpoint: {method} {path}"),
            StatusCode::METHOD_NOT_ALLOWED => format!("method {method} is not allowed on {path}"),
            s => s.canonical_reason().unwrap_or("error").to_owned(),
        };
    }
    let mut out = ApiError::new(status, message).into_response();
    for (k, v) in &parts.headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// The application: routes and middleware.
pub(crate) fn router(st: Arc<AppState>) -> Result<Router, ApiError> {
    let limit = st.limits.timeout;
    let prefix = hex(&auth::random_bytes::<4>().map_err(ApiError::internal)?);
    let make_id = MakeId { prefix, next: Arc::new(AtomicU64::new(1)) };
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &axum::http::Request<Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
        })
        .on_request(())
        .on_response(|res: &Response, latency: Duration, _: &tracing::Span| {
            tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1e3, "answered");
        })
        .on_failure(());
    Ok(Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/datasets", post(create_dataset).get(list_datasets))
        .route("/v1/datasets/{id}", get(get_dataset).delete(delete_dataset))
        .route("/v1/datasets/{id}/keys", put(put_keys))
        .route("/v1/datasets/{id}/public-key", get(public_key))
        .route("/v1/datasets/{id}/schema", get(schema))
        .route("/v1/datasets/{id}/devices", post(create_device).get(list_devices))
        .route("/v1/datasets/{id}/devices/{device}", delete(revoke_device))
        .route("/v1/datasets/{id}/uploads", post(upload).get(list_uploads))
        .route("/v1/datasets/{id}/uploads/{upload}", get(get_upload))
        .route("/v1/datasets/{id}/queries", post(query))
        .route("/v1/jobs/{job}", get(get_job).delete(delete_job))
        .route("/v1/jobs/{job}/result", get(job_result))
        .fallback(fallback)
        .with_state(st)
        .layer(middleware::from_fn_with_state(limit, timeout))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(json_errors))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(make_id)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uploads_are_read_in_groups_bounded_in_count_and_bytes() {
        assert!(read_groups(&[]).is_empty());
        let mb = 1u64 << 20;
        // Bytes: 10 + 10 + 10 fit 32 MB, the fourth starts a group; a 40 MB upload is alone.
        let g = read_groups(&[(1, 10 * mb), (2, 10 * mb), (3, 10 * mb), (4, 10 * mb), (5, 40 * mb), (6, mb)]);
        assert_eq!(g, vec![vec![1, 2, 3], vec![4], vec![5], vec![6]]);
        // Count: small uploads, READ_UPLOADS per group, every upload once, in order.
        let small: Vec<(u64, u64)> = (0..150).map(|i| (i, 1000)).collect();
        let g = read_groups(&small);
        assert_eq!(g.iter().map(Vec::len).collect::<Vec<_>>(), vec![64, 64, 22]);
        assert_eq!(g.concat(), (0..150).collect::<Vec<u64>>());
    }

    #[test]
    fn idempotency_keys_and_names() {
        let mut h = HeaderMap::new();
        assert_eq!(idempotency_key(&h).unwrap_err().status, 400);
        for ok in ["a", "device-1:2024-01-01T10.00_7", &"k".repeat(128)] {
            h.insert(IDEMPOTENCY_KEY, ok.parse().unwrap());
            assert_eq!(idempotency_key(&h).unwrap(), ok);
        }
        for bad in ["", "a b", "a/b", &"k".repeat(129)] {
            h.insert(IDEMPOTENCY_KEY, bad.parse().unwrap());
            assert_eq!(idempotency_key(&h).unwrap_err().status, 400, "{bad:?}");
        }
        assert_eq!(check_name("  ward 7 ", "a").unwrap(), "ward 7");
        assert!(check_name("", "a").is_err() && check_name("a\nb", "a").is_err() && check_name(&"x".repeat(129), "a").is_err());
    }

    #[test]
    fn content_types_and_lengths() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "Application/JSON; charset=utf-8".parse().unwrap());
        assert!(require_content_type(&h, "application/json").is_ok());
        assert_eq!(require_content_type(&h, OCTET_STREAM).unwrap_err().status, 415);
        h.insert(header::CONTENT_LENGTH, "2000".parse().unwrap());
        assert!(check_content_length(&h, 2000, "x").is_ok());
        let e = check_content_length(&h, 1999, "uploads").unwrap_err();
        assert_eq!(e.status, 413);
        assert!(e.message.contains("uploads is 1999 bytes"), "{}", e.message);
    }

    #[tokio::test]
    async fn bodies_without_a_length_are_cut_off_at_the_limit() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..10).map(|_| Ok(Bytes::from(vec![1u8; 100]))).collect();
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        let e = read_body(body, 999, "uploads", None).await.unwrap_err();
        assert_eq!(e.status, 413);
        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..10).map(|_| Ok(Bytes::from(vec![1u8; 100]))).collect();
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        assert_eq!(read_body(body, 1000, "uploads", Some(1000)).await.unwrap().len(), 1000);
    }

    #[test]
    fn time_filters_meet_ranges() {
        let u = crate::store::UploadRecord { seq: 0, device: Some("a".into()), rows: 1, from: 100, to: 200, bytes: 1, stored_bytes: 1, principal: "device:a".into(), idempotency_key: "k".into(), body_sha256: "s".into(), received: 0 };
        let q = |from, to, device: Option<&str>| QueryRequest { stats: None, stat: None, column: None, logreg: None, from, to, device: device.map(Into::into) };
        assert!(selected(&u, &q(None, None, None)));
        assert!(selected(&u, &q(Some(200), None, None)) && !selected(&u, &q(Some(201), None, None)));
        assert!(selected(&u, &q(None, Some(100), None)) && !selected(&u, &q(None, Some(99), None)));
        assert!(selected(&u, &q(Some(150), Some(160), Some("a"))) && !selected(&u, &q(None, None, Some("b"))));
    }
}
