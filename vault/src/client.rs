//! The blocking Rust client of the vault (what the `ringvault vault …` commands and the
//! demo use), on `ureq` with rustls.
//!
//! ```no_run
//! # fn main() -> Result<(), ringvault_vault::client::ClientError> {
//! use ringvault_vault::client::Client;
//! let token = Client::token_from_file("keys/owner.token".as_ref())?;
//! let vault = Client::new("https://vault.example:8700", &token)?.with_ca_file("ca.pem".as_ref())?;
//! for d in vault.list_datasets()? {
//!     println!("{} {} records", d.id, d.records);
//! }
//! # Ok(()) }
//! ```
//!
//! Token files hold the token on their first line, or a JSON object with a `"token"` field
//! (the [`DeviceToken`] that `ringvault vault device --out` writes); [`write_token_file`]
//! creates them with mode 0600.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ringvault_app::dataset::{KeyInfo, Schema, StreamError, UploadEncryptor};
use ringvault_core::stats::PlainColumn;
use ringvault_app::query::QueryRequest;
use serde::de::DeserializeOwned;
use ureq::http::Response;
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

pub use crate::types::{CreatedDataset, DatasetDetail, DatasetInfo, DeviceInfo, DeviceToken, JobState, JobStatus, UploadInfo, UploadReceipt};

/// Attempts of [`Client::push`] (the first and the retries).
pub const PUSH_TRIES: u32 = 8;
/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF`] (about 30 s in all).
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest delay between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Largest binary answer read (result files, public keys).
const MAX_BINARY: u64 = 16 << 30;
/// Largest error or JSON answer read.
const MAX_JSON: u64 = 64 << 20;

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error status and its JSON message.
    #[error("server refused ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's `error` message.
        message: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the vault: {0}")]
    Transport(String),
    /// A local file (token, keys, CA certificate).
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A bad argument (URL, token file), or an answer that is not what the API promises.
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    fn io(path: &Path, e: &std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), reason: e.to_string() }
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed: the server unreachable or restarting
    /// (connection refused or reset, a timeout) or a 5xx answer other than 507 (disk full).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Refused { status, .. } => *status >= 500 && *status != 507,
            Self::Transport(_) => true,
            _ => false,
        }
    }
}

enum Sent {
    Answer(Response<Body>),
    Failed(ClientError),
}

fn transport(e: &ureq::Error) -> Sent {
    match e {
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Timeout(_) | ureq::Error::HostNotFound | ureq::Error::Protocol(_) => Sent::Failed(ClientError::Transport(e.to_string())),
        _ => Sent::Failed(ClientError::Invalid(format!("request failed: {e}"))),
    }
}

fn sent(r: Result<Response<Body>, ureq::Error>) -> Sent {
    match r {
        Ok(res) => Sent::Answer(res),
        Err(e) => transport(&e),
    }
}

/// The error of a non-2xx answer.
fn refusal(mut res: Response<Body>) -> ClientError {
    let status = res.status().as_u16();
    let text = res.body_mut().with_config().limit(MAX_JSON).read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("error").and_then(|m| m.as_str()).map(str::to_owned)).unwrap_or_else(|| {
        let t = text.trim();
        if t.is_empty() { res.status().canonical_reason().unwrap_or("error").to_owned() } else { t.chars().take(500).collect() }
    });
    ClientError::Refused { status, message }
}

/// A 2xx answer, else its refusal.
fn expect_ok(s: Sent) -> Result<Response<Body>, ClientError> {
    match s {
        Sent::Answer(res) if res.status().is_success() => Ok(res),
        Sent::Answer(res) => Err(refusal(res)),
        Sent::Failed(e) => Err(e),
    }
}

fn read_json<T: DeserializeOwned>(mut res: Response<Body>) -> Result<T, ClientError> {
    let text = res.body_mut().with_config().limit(MAX_JSON).read_to_string().map_err(|e| ClientError::Transport(format!("reading the answer: {e}")))?;
    serde_json::from_str(&text).map_err(|e| ClientError::Invalid(format!("unexpected answer from the vault: {e}")))
}

/// The answer's body, read into one buffer of its announced length (no regrowing: a result
/// of hundreds of megabytes is copied once).
fn read_bytes(mut res: Response<Body>) -> Result<Vec<u8>, ClientError> {
    use std::io::Read as _;
    let announced = res.body().content_length().unwrap_or(0).min(MAX_BINARY);
    let mut out = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    res.body_mut().with_config().limit(MAX_BINARY).reader().read_to_end(&mut out).map_err(|e| ClientError::Transport(format!("reading the answer: {e}")))?;
    Ok(out)
}

/// Runs `attempt` until it succeeds, fails for good, or [`PUSH_TRIES`] attempts failed
/// transiently (exponential backoff from [`FIRST_BACKOFF`] to [`MAX_BACKOFF`]).
fn retrying<T>(mut attempt: impl FnMut() -> Result<T, ClientError>) -> Result<T, ClientError> {
    let mut delay = FIRST_BACKOFF;
    let mut n = 1;
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if !e.is_transient() || n >= PUSH_TRIES => return Err(e),
            Err(_) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(MAX_BACKOFF);
                n += 1;
            }
        }
    }
}

/// A connection to one vault with one token.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    auth: String,
    agent: Agent,
}

fn agent(tls: Option<TlsConfig>) -> Agent {
    let mut cfg = Agent::config_builder().http_status_as_error(false).max_redirects(0).timeout_connect(Some(Duration::from_secs(10)));
    if let Some(tls) = tls {
        cfg = cfg.tls_config(tls);
    }
    cfg.build().new_agent()
}

impl Client {
    /// A client of the vault at `server` (`http://127.0.0.1:8700`, `https://…`) with `token`.
    ///
    /// # Errors
    /// [`ClientError::Invalid`] for a URL that is not http(s), or a token with line breaks.
    pub fn new(server: &str, token: &str) -> Result<Self, ClientError> {
        let base = server.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() <= "https://".len() {
            return Err(ClientError::Invalid(format!("server {server:?}: expected http://HOST:PORT or https://HOST:PORT")));
        }
        Self { base, auth: String::new(), agent: agent(None) }.with_token(token)
    }

    /// The same connection (server, trusted certificates) with another token.
    ///
    /// # Errors
    /// As [`Self::new`] for the token.
    pub fn with_token(&self, token: &str) -> Result<Self, ClientError> {
        let token = token.trim();
        if token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ClientError::Invalid("the token has spaces or control characters".into()));
        }
        Ok(Self { base: self.base.clone(), auth: format!("Bearer {token}"), agent: self.agent.clone() })
    }

    /// Operator token: what `ringvault vault create` does for the key directory `keys_dir`.
    /// Creates the dataset, writes its owner token to `keys_dir/owner.token` (mode 0600), and
    /// uploads `keys_dir/eval.keys` with that token over the same connection.
    ///
    /// # Errors
    /// The server's refusal (schema, keys), the transport, the token file.
    pub fn create_dataset_with_keys(&self, name: &str, schema: &Schema, keys_dir: &Path) -> Result<(CreatedDataset, KeyInfo), ClientError> {
        let created = self.create_dataset(name, schema)?;
        write_token_file(&keys_dir.join(OWNER_TOKEN), &created.owner_token)?;
        let info = self.with_token(&created.owner_token)?.upload_keys(&created.id, &keys_dir.join(ringvault_app::keys::EVAL_KEYS))?;
        Ok((created, info))
    }

    /// Trusts the certificates of the PEM file `pem` (a private CA or a self-signed server
    /// certificate) instead of the public roots.
    ///
    /// # Errors
    /// The file cannot be read or holds no certificate.
    pub fn with_ca_file(mut self, pem: &Path) -> Result<Self, ClientError> {
        let bytes = std::fs::read(pem).map_err(|e| ClientError::io(pem, &e))?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&bytes) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(ClientError::Io { path: pem.display().to_string(), reason: e.to_string() }),
            }
        }
        if certs.is_empty() {
            return Err(ClientError::Io { path: pem.display().to_string(), reason: "no PEM certificate in it".into() });
        }
        let tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&certs)).build();
        self.agent = agent(Some(tls));
        Ok(self)
    }

    /// The token of a token file: its first line, or the `"token"` field of a JSON object.
    ///
    /// # Errors
    /// The file cannot be read or holds no token.
    pub fn token_from_file(path: &Path) -> Result<String, ClientError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClientError::io(path, &e))?;
        let t = text.trim_start();
        let token = if t.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(t).map_err(|e| ClientError::Io { path: path.display().to_string(), reason: format!("not a token file: {e}") })?;
            v.get("token").and_then(|x| x.as_str()).map(str::to_owned).ok_or_else(|| ClientError::Io { path: path.display().to_string(), reason: "no \"token\" field".into() })?
        } else {
            t.lines().next().unwrap_or("").trim().to_owned()
        };
        if token.is_empty() {
            return Err(ClientError::Io { path: path.display().to_string(), reason: "empty token file".into() });
        }
        Ok(token)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> Sent {
        sent(self.agent.get(&self.url(path)).header("Authorization", &self.auth).call())
    }

    /// A GET retried like [`Client::push`] while it fails transiently (what a device reads
    /// before pushing: a push may start while the vault restarts).
    fn get_retrying(&self, path: &str) -> Result<Response<Body>, ClientError> {
        retrying(|| expect_ok(self.get(path)))
    }

    fn delete(&self, path: &str) -> Sent {
        sent(self.agent.delete(&self.url(path)).header("Authorization", &self.auth).call())
    }

    fn post_json(&self, path: &str, body: &impl serde::Serialize) -> Sent {
        sent(self.agent.post(&self.url(path)).header("Authorization", &self.auth).send_json(body))
    }

    /// `GET /v1/health` (no token needed).
    ///
    /// # Errors
    /// The server is unreachable or unhealthy.
    pub fn health(&self) -> Result<serde_json::Value, ClientError> {
        read_json(expect_ok(sent(self.agent.get(&self.url("/v1/health")).call()))?)
    }

    /// Creates a dataset (operator token); its owner token is in the answer.
    ///
    /// # Errors
    /// The server's refusal (403 not the operator, 422 invalid schema) or the transport.
    pub fn create_dataset(&self, name: &str, schema: &Schema) -> Result<CreatedDataset, ClientError> {
        let body = serde_json::json!({ "name": name, "schema": schema });
        read_json(expect_ok(self.post_json("/v1/datasets", &body))?)
    }

    /// Uploads a dataset's evaluation keys (owner token), streaming the file.
    ///
    /// # Errors
    /// The file, the server's refusal (409 other keys, 413, 422 invalid keys) or the transport.
    pub fn upload_keys(&self, dataset: &str, eval_keys: &Path) -> Result<KeyInfo, ClientError> {
        let file = std::fs::File::open(eval_keys).map_err(|e| ClientError::io(eval_keys, &e))?;
        let r = self.agent.put(&self.url(&format!("/v1/datasets/{dataset}/keys"))).header("Authorization", &self.auth).content_type("application/octet-stream").send(file);
        read_json(expect_ok(sent(r))?)
    }

    /// The dataset's public key file (owner or device token). Retries transient failures
    /// as [`Client::push`] does.
    ///
    /// # Errors
    /// The server's refusal (409 no keys yet) or the transport.
    pub fn public_keys(&self, dataset: &str) -> Result<Vec<u8>, ClientError> {
        read_bytes(self.get_retrying(&format!("/v1/datasets/{dataset}/public-key"))?)
    }

    /// The dataset's schema (owner or device token): what a device encodes readings with.
    /// Retries transient failures as [`Client::push`] does.
    ///
    /// # Errors
    /// The server's refusal or the transport.
    pub fn schema(&self, dataset: &str) -> Result<Schema, ClientError> {
        read_json(self.get_retrying(&format!("/v1/datasets/{dataset}/schema"))?)
    }

    /// Every dataset (operator token) or the owner's own.
    ///
    /// # Errors
    /// The server's refusal or the transport.
    pub fn list_datasets(&self) -> Result<Vec<DatasetInfo>, ClientError> {
        read_json(expect_ok(self.get("/v1/datasets"))?)
    }

    /// One dataset with its schema.
    ///
    /// # Errors
    /// The server's refusal (404) or the transport.
    pub fn dataset(&self, id: &str) -> Result<DatasetDetail, ClientError> {
        read_json(expect_ok(self.get(&format!("/v1/datasets/{id}")))?)
    }

    /// Deletes a dataset with its keys and records (operator or its owner).
    ///
    /// # Errors
    /// The server's refusal (404) or the transport.
    pub fn delete_dataset(&self, id: &str) -> Result<(), ClientError> {
        expect_ok(self.delete(&format!("/v1/datasets/{id}"))).map(drop)
    }

    /// Issues a device token (owner token).
    ///
    /// # Errors
    /// The server's refusal or the transport.
    pub fn issue_device(&self, dataset: &str, name: &str) -> Result<DeviceToken, ClientError> {
        read_json(expect_ok(self.post_json(&format!("/v1/datasets/{dataset}/devices"), &serde_json::json!({ "name": name })))?)
    }

    /// Revokes a device's token (owner token).
    ///
    /// # Errors
    /// The server's refusal (404) or the transport.
    pub fn revoke_device(&self, dataset: &str, device: &str) -> Result<(), ClientError> {
        expect_ok(self.delete(&format!("/v1/datasets/{dataset}/devices/{device}"))).map(drop)
    }

    /// The dataset's devices (owner token).
    ///
    /// # Errors
    /// The server's refusal or the transport.
    pub fn list_devices(&self, dataset: &str) -> Result<Vec<DeviceInfo>, ClientError> {
        read_json(expect_ok(self.get(&format!("/v1/datasets/{dataset}/devices")))?)
    }

    /// Stored uploads after `after` (all from the first when `None`), at most 10,000, in
    /// order (owner token): list again after the last one for more.
    ///
    /// # Errors
    /// The server's refusal or the transport.
    pub fn uploads(&self, dataset: &str, after: Option<u64>) -> Result<Vec<UploadInfo>, ClientError> {
        let query = after.map_or(String::new(), |a| format!("?after={a}"));
        read_json(self.get_retrying(&format!("/v1/datasets/{dataset}/uploads{query}"))?)
    }

    /// One stored upload's `rows` file (owner token).
    ///
    /// # Errors
    /// The server's refusal (404 no such upload) or the transport.
    pub fn upload_file(&self, dataset: &str, upload: u64) -> Result<Vec<u8>, ClientError> {
        read_bytes(self.get_retrying(&format!("/v1/datasets/{dataset}/uploads/{upload}"))?)
    }

    /// Uploads an encrypted `rows` file (device or owner token) under `idempotency_key`, for
    /// readings in `[from, to]` (Unix seconds; default: the time of receipt). Retries
    /// transient failures (server unreachable or restarting, 5xx other than 507) with the
    /// same key, [`PUSH_TRIES`] attempts with exponential backoff; returns only once the
    /// server acknowledged the upload as stored (201, or 200 for one stored before).
    ///
    /// # Errors
    /// The server's refusal (4xx, 507) or the last transient failure.
    pub fn push(&self, dataset: &str, body: &[u8], idempotency_key: &str, from: Option<i64>, to: Option<i64>) -> Result<UploadReceipt, ClientError> {
        let url = self.url(&format!("/v1/datasets/{dataset}/uploads"));
        // The receipt is read inside the retry: a connection lost after the commit is retried
        // and answered with the stored receipt (duplicate).
        retrying(|| {
            let mut req = self.agent.post(&url).header("Authorization", &self.auth).header("Idempotency-Key", idempotency_key).content_type("application/octet-stream");
            if let Some(f) = from {
                req = req.query("from", f.to_string());
            }
            if let Some(t) = to {
                req = req.query("to", t.to_string());
            }
            read_json(expect_ok(sent(req.send(body)))?)
        })
    }

    /// Encrypts `columns` with `encryptor` (the dataset's public key only) and pushes them in
    /// uploads of at most `rows_per_upload` records, waiting for each acknowledgement, while
    /// the next uploads are encrypted on every core ([`UploadEncryptor::encrypt_ahead`]: a
    /// few uploads in memory, whatever the records). Upload `i` of `m` goes under the
    /// idempotency key `{base_key}-{i}-of-{m}`. With `rerun` (the caller named this push with a stable key), an
    /// upload the server already holds under its key with another body counts as present: a
    /// rerun encrypts to other bytes. `progress` receives the records acknowledged so far.
    /// Precondition: the columns passed the schema's `check_rows`.
    ///
    /// # Errors
    /// The first refusal or transport failure, naming the upload and how many were
    /// acknowledged before it; [`ClientError::Invalid`] for an encryption failure.
    #[allow(clippy::too_many_arguments)]
    pub fn push_records<B: ringvault_core::Backend>(
        &self,
        dataset: &str,
        encryptor: &UploadEncryptor<B>,
        columns: &[PlainColumn],
        rows_per_upload: usize,
        base_key: &str,
        rerun: bool,
        time: (Option<i64>, Option<i64>),
        progress: &mut dyn FnMut(usize),
    ) -> Result<PushReport, ClientError> {
        let records = columns.first().map_or(0, |c| c.values.len());
        let part = PushPart { first_upload: 0, uploads: records.div_ceil(rows_per_upload.max(1)) };
        self.push_part(dataset, encryptor, columns, rows_per_upload, part, base_key, rerun, time, progress)
    }

    /// [`Self::push_records`] for one part of a longer push read chunk by chunk (a large CSV
    /// file): `columns` are the records of uploads `part.first_upload …` of the push's
    /// `part.uploads`, so the idempotency keys and error messages number uploads across the
    /// whole push. `progress` receives the records of this part acknowledged so far.
    /// Precondition: `part.first_upload` plus this part's uploads is at most `part.uploads`.
    ///
    /// # Errors
    /// As [`Self::push_records`].
    #[allow(clippy::too_many_arguments)]
    pub fn push_part<B: ringvault_core::Backend>(
        &self,
        dataset: &str,
        encryptor: &UploadEncryptor<B>,
        columns: &[PlainColumn],
        rows_per_upload: usize,
        part: PushPart,
        base_key: &str,
        rerun: bool,
        (from, to): (Option<i64>, Option<i64>),
        progress: &mut dyn FnMut(usize),
    ) -> Result<PushReport, ClientError> {
        let records = columns.first().map_or(0, |c| c.values.len());
        let ranges = ringvault_app::dataset::upload_ranges(records, rows_per_upload);
        let total = part.uploads;
        let mut report = PushReport { records, uploads: ranges.len(), stored: 0, duplicates: 0, bytes: 0 };
        let pushed = encryptor.encrypt_ahead(columns, &ranges, &mut |i, range, body| {
            let number = part.first_upload + i + 1;
            let key = format!("{base_key}-{number}-of-{total}");
            match self.push(dataset, &body, &key, from, to) {
                Ok(r) if r.duplicate => report.duplicates += 1,
                Ok(_) => report.stored += 1,
                Err(ClientError::Refused { status: 409, message }) if rerun && message.contains("different body") => report.duplicates += 1,
                Err(e) => {
                    let context = |m: &str| format!("upload {number} of {total}: {m} ({} uploads acknowledged before it)", number - 1);
                    return Err(match e {
                        ClientError::Refused { status, message } => ClientError::Refused { status, message: context(&message) },
                        ClientError::Transport(m) => ClientError::Transport(context(&m)),
                        other => other,
                    });
                }
            }
            report.bytes += body.len();
            progress(range.end);
            Ok(())
        });
        match pushed {
            Ok(()) => Ok(report),
            Err(StreamError::Sink(e)) => Err(e),
            Err(StreamError::Encrypt { upload, error }) => Err(ClientError::Invalid(format!("encrypting upload {} of {total}: {error}", part.first_upload + upload + 1))),
        }
    }

    /// A query job's state (owner token).
    ///
    /// # Errors
    /// The server's refusal (404 unknown or expired) or the transport.
    pub fn job(&self, job: &str) -> Result<JobStatus, ClientError> {
        read_json(expect_ok(self.get(&format!("/v1/jobs/{job}")))?)
    }

    /// A finished job's result file (owner token).
    ///
    /// # Errors
    /// The server's refusal (409 still running, the job's own error) or the transport.
    pub fn job_result(&self, job: &str) -> Result<Vec<u8>, ClientError> {
        read_bytes(expect_ok(self.get(&format!("/v1/jobs/{job}/result")))?)
    }

    /// Forgets a job and its result (owner token): the vault frees them at once.
    ///
    /// # Errors
    /// The server's refusal (404 unknown or already forgotten) or the transport.
    pub fn delete_job(&self, job: &str) -> Result<(), ClientError> {
        expect_ok(self.delete(&format!("/v1/jobs/{job}"))).map(drop)
    }

    /// Runs a query (owner token) and returns the result file that `ringvault decrypt`
    /// reads. A query that becomes a job is polled until done, its result fetched and the
    /// job deleted (a failed deletion only leaves the job to expire); `progress` receives
    /// fractions.
    ///
    /// # Errors
    /// The server's refusal (422 invalid query or could wrap, 409 no keys) or the transport.
    pub fn query(&self, dataset: &str, request: &QueryRequest, progress: &mut dyn FnMut(f64)) -> Result<Vec<u8>, ClientError> {
        let res = expect_ok(self.post_json(&format!("/v1/datasets/{dataset}/queries"), request))?;
        if res.status().as_u16() != 202 {
            progress(1.0);
            return read_bytes(res);
        }
        let mut status: JobStatus = read_json(res)?;
        loop {
            progress(status.progress);
            match status.state {
                JobState::Done | JobState::Failed => {
                    let result = self.job_result(&status.job);
                    // The vault would keep the result for its TTL; it is ours now.
                    let _ = self.delete_job(&status.job);
                    return result;
                }
                JobState::Running => {}
            }
            // A long poll: the server answers as soon as the job is done, or after a second
            // with its progress.
            status = read_json(expect_ok(self.get(&format!("/v1/jobs/{}?wait_ms={}", status.job, JOB_POLL.as_millis())))?)?;
        }
    }
}

/// The owner token's file name inside a key directory (`vault create` writes it).
pub const OWNER_TOKEN: &str = "owner.token";

/// How long one poll of a running job waits on the server.
const JOB_POLL: Duration = Duration::from_secs(1);

/// What [`Client::push_records`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushReport {
    /// Records pushed.
    pub records: usize,
    /// Uploads sent.
    pub uploads: usize,
    /// Uploads stored by this push.
    pub stored: usize,
    /// Uploads the server held already (a retried or rerun push).
    pub duplicates: usize,
    /// Bytes of the uploads.
    pub bytes: usize,
}

/// Where a part of a push stands in the whole ([`Client::push_part`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushPart {
    /// Index (from 0) of the part's first upload in the push.
    pub first_upload: usize,
    /// Uploads of the whole push.
    pub uploads: usize,
}

impl PushReport {
    /// Adds the report of the next part of the same push.
    pub fn join(&mut self, part: &PushReport) {
        self.records += part.records;
        self.uploads += part.uploads;
        self.stored += part.stored;
        self.duplicates += part.duplicates;
        self.bytes += part.bytes;
    }
}

/// Writes a token file (`contents`: a bare token, or a JSON object with a `"token"` field)
/// with mode 0600, replacing an existing file.
///
/// # Errors
/// The file cannot be written.
pub fn write_token_file(path: &Path, contents: &str) -> Result<(), ClientError> {
    let io = |e: std::io::Error| ClientError::io(path, &e);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    f.write_all(contents.as_bytes()).map_err(io)?;
    if !contents.ends_with('\n') {
        f.write_all(b"\n").map_err(io)?;
    }
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_files_bare_or_json() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("owner.token");
        write_token_file(&bare, "rv_abc").unwrap();
        assert_eq!(Client::token_from_file(&bare).unwrap(), "rv_abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&bare).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let json = dir.path().join("device.json");
        let dt = DeviceToken { id: "d".into(), name: "n".into(), token: "rv_def".into(), dataset: "x".into() };
        write_token_file(&json, &serde_json::to_string_pretty(&dt).unwrap()).unwrap();
        assert_eq!(Client::token_from_file(&json).unwrap(), "rv_def");
        std::fs::write(&bare, "\n").unwrap();
        assert!(Client::token_from_file(&bare).is_err());
        std::fs::write(&bare, "{\"name\": 1}").unwrap();
        assert!(Client::token_from_file(&bare).is_err());
    }

    #[test]
    fn urls_and_errors() {
        assert!(Client::new("ftp://x", "t").is_err());
        assert!(Client::new("http://", "t").is_err());
        assert!(Client::new("http://127.0.0.1:1/", "a b").is_err());
        assert_eq!(Client::new("http://127.0.0.1:1/", "t").unwrap().url("/v1/health"), "http://127.0.0.1:1/v1/health");
        let e = ClientError::Refused { status: 422, message: "could wrap".into() };
        assert_eq!(e.to_string(), "server refused (422): could wrap");
        assert!(!e.is_transient());
        assert!(ClientError::Refused { status: 503, message: String::new() }.is_transient());
        assert!(!ClientError::Refused { status: 507, message: String::new() }.is_transient());
    }
}
