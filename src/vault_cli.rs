//! `ringvault serve` and `ringvault vault …`: the vault's front ends on the command line. They
//! read arguments and files, call the application layer ([`ringvault_app`]) and the vault's
//! client or server ([`ringvault_vault`]), and say what happened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use ringvault_app::config::Settings;
use ringvault_app::dataset::{Schema, UploadEncryptor};
use ringvault_core::stats::{LogisticModel, PlainColumn};
use ringvault_app::engine::Engine;
use ringvault_app::keys::{self, PUBLIC_KEY};
use ringvault_app::query::QueryRequest;
use ringvault_vault::client::{self, Client};

use crate::CliError;

pub use ringvault_vault::client::OWNER_TOKEN;

/// Where a vault client connects.
#[derive(Clone, Debug)]
pub struct Connection {
    /// `http://HOST:PORT` or `https://…`.
    pub server: String,
    /// A token file (a bare token, or the JSON `vault device` writes).
    pub token: PathBuf,
    /// A PEM file of the CA (or self-signed certificate) to trust for `https`.
    pub ca: Option<PathBuf>,
}

fn vault_err(e: impl std::fmt::Display) -> CliError {
    CliError::Config(e.to_string())
}

impl Connection {
    fn client(&self) -> Result<Client, CliError> {
        let token = Client::token_from_file(&self.token).map_err(vault_err)?;
        let c = Client::new(&self.server, &token).map_err(vault_err)?;
        match &self.ca {
            Some(pem) => c.with_ca_file(pem).map_err(vault_err),
            None => Ok(c),
        }
    }
}

/// Runs the vault until SIGINT/SIGTERM (`ringvault serve`).
///
/// # Errors
/// Configuration errors (no data directory, half a TLS pair) and the server's.
pub fn serve(settings: &Settings, engine: &Engine, data: Option<PathBuf>, listen: Option<String>, tls_cert: Option<PathBuf>, tls_key: Option<PathBuf>) -> Result<(), CliError> {
    let mut v = settings.vault.clone();
    if let Some(l) = listen {
        v.listen = l;
    }
    if tls_cert.is_some() {
        v.tls_cert = tls_cert;
    }
    if tls_key.is_some() {
        v.tls_key = tls_key;
    }
    if v.tls_cert.is_some() != v.tls_key.is_some() {
        return Err(CliError::Config("TLS needs both --tls-cert and --tls-key".into()));
    }
    let data = data.or(v.data.clone()).ok_or_else(|| CliError::Config("serve needs --data DIR (or RINGVAULT_VAULT_DATA, or [vault] data in ringvault.toml)".into()))?;
    let runner: Arc<dyn ringvault_app::query::QueryRunner> = Arc::from(ringvault_app::query::runner(engine));
    ringvault_vault::run(ringvault_vault::ServeOptions { data, settings: v, runner }).map_err(vault_err)
}

/// `vault create`: creates a dataset with the operator token, uploads `KEYS/eval.keys`,
/// writes `KEYS/owner.token` (mode 0600); the text to print, whose last line is the id.
///
/// # Errors
/// A bad schema file, the server's refusal, I/O.
pub fn create(conn: &Connection, keys_dir: &Path, name: &str, schema_path: &Path) -> Result<String, CliError> {
    let schema = Schema::from_json(&keys::read_file(schema_path)?).map_err(|e| CliError::Schema(format!("{}: {e}", schema_path.display())))?;
    let (created, info) = conn.client()?.create_dataset_with_keys(name, &schema, keys_dir).map_err(vault_err)?;
    let token_path = keys_dir.join(OWNER_TOKEN);
    Ok(format!(
        "dataset {name:?} created: {} columns, keys {} ({} MB, up to {} records); owner token in {}\n{}",
        schema.columns.len(),
        info.preset,
        info.bytes / 1_000_000,
        info.max_records,
        token_path.display(),
        created.id
    ))
}

/// `vault device`: issues a device token for the dataset into `out` (mode 0600).
///
/// # Errors
/// The server's refusal, I/O.
pub fn device(conn: &Connection, dataset: &str, name: &str, out: &Path) -> Result<String, CliError> {
    let d = conn.client()?.issue_device(dataset, name).map_err(vault_err)?;
    let json = serde_json::to_string_pretty(&d).map_err(|e| CliError::Format(e.to_string()))?;
    client::write_token_file(out, &json).map_err(vault_err)?;
    Ok(format!("device {name:?} ({}) may append to dataset {dataset}; its token is in {}", d.id, out.display()))
}

/// `vault revoke`: revokes a device, named by its id or its token file.
///
/// # Errors
/// The server's refusal; an unreadable token file.
pub fn revoke(conn: &Connection, dataset: &str, device: &str) -> Result<String, CliError> {
    let id = device_id(device)?;
    conn.client()?.revoke_device(dataset, &id).map_err(vault_err)?;
    Ok(format!("device {id} revoked"))
}

/// A device id given as such or as the token file `vault device` wrote.
fn device_id(arg: &str) -> Result<String, CliError> {
    let path = Path::new(arg);
    if !path.is_file() {
        return Ok(arg.to_string());
    }
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, &e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| CliError::Format(format!("{}: not a device token file", path.display())))?;
    v.get("id").and_then(|i| i.as_str()).map(str::to_string).ok_or_else(|| CliError::Format(format!("{}: no device id", path.display())))
}

/// What `vault push` sends.
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    /// Decimals per column (default: the schema's).
    pub decimals: BTreeMap<String, u32>,
    /// Skip missing cells (counted) instead of failing.
    pub skip_missing: bool,
    /// Records per upload (default: the ring degree, one ciphertext per column and modulus).
    pub rows_per_upload: Option<usize>,
    /// A key naming this push (retrying the same command with the same key stores nothing
    /// twice); default: a random one, so only the retries inside one run are deduplicated.
    pub idempotency_key: Option<String>,
    /// The readings' time range (Unix seconds).
    pub from: Option<i64>,
    /// See `from`.
    pub to: Option<i64>,
}

/// The most ciphertexts per modulus `--rows-per-upload` may ask for in one upload.
const MAX_CHUNKS_PER_UPLOAD: usize = 256;

/// Uploads read from the CSV file at once by `vault push` (at least two per thread, so that
/// encryption keeps every core busy): memory stays at a few uploads' records however large
/// the file.
const UPLOADS_PER_READ: usize = 8;

/// A reader that hashes what it reads (the file's digest names an idempotent push).
struct Hashing<R> {
    inner: R,
    hash: sha2::Sha256,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hash, &buf[..n]);
        Ok(n)
    }
}

/// `vault push`: encrypts a CSV with `KEYS/public.key` only and uploads it in batches, each
/// with its own idempotency key (`--idempotency-key K` makes a rerun of the same push store
/// nothing twice: batch `i` of `m` is `K-i-of-m`); returns after the server acknowledged every
/// batch (the client retries transient failures with the same key).
///
/// The file is streamed, never held whole: a first read decides its columns and counts its
/// records ([`ringvault_app::csv::scan`]), a second checks every value against the schema
/// and hashes the file, so that a bad cell anywhere is refused before anything is sent; the
/// third encrypts and pushes [`UPLOADS_PER_READ`] uploads' records at a time.
///
/// # Errors
/// CSV and schema errors (before anything is sent), the server's refusal.
pub fn push(conn: &Connection, engine: &Engine, keys_dir: &Path, dataset: &str, csv_path: &Path, opts: &PushOptions) -> Result<String, CliError> {
    use ringvault_app::csv::{read_chunks, scan};
    let c = conn.client()?;
    let schema = c.schema(dataset).map_err(vault_err)?;
    let public = keys::read_file(&keys_dir.join(PUBLIC_KEY))?;
    let open = || std::fs::File::open(csv_path).map(std::io::BufReader::new).map_err(|e| CliError::io(csv_path, &e));
    let mut decimals: BTreeMap<String, u32> = schema.columns.iter().map(|s| (s.name.clone(), s.decimals)).collect();
    decimals.extend(opts.decimals.clone());
    let layout = scan(open()?, &decimals)?;
    // Where each of the schema's columns is among the file's numeric columns.
    let picks = schema
        .columns
        .iter()
        .map(|s| layout.numeric.iter().position(|(_, name, _)| *name == s.name).ok_or_else(|| CliError::Schema(format!("{}: no column {:?} (the dataset's schema needs it)", csv_path.display(), s.name))))
        .collect::<Result<Vec<_>, _>>()?;
    let select = |chunk: Vec<PlainColumn>| -> Vec<PlainColumn> {
        let mut all: Vec<Option<PlainColumn>> = chunk.into_iter().map(Some).collect();
        picks.iter().filter_map(|&i| all[i].take()).collect()
    };
    let mut hashing = Hashing { inner: open()?, hash: sha2::Digest::new() };
    let mut checked = 0;
    read_chunks(&mut hashing, &layout, opts.skip_missing, CHECK_RECORDS, |chunk| {
        let columns = select(chunk);
        schema.check_rows_at(&columns, checked)?; // every value within its range before anything is sent
        checked += columns.first().map_or(0, |c| c.values.len());
        Ok::<(), CliError>(())
    })?;
    let digest = sha2::Digest::finalize(hashing.hash);
    let source = PushSource { path: csv_path, layout: &layout, select: &select, digest: &digest };
    crate::on_backend!(engine, |b| push_batches(&UploadEncryptor::new(b.clone(), &schema, &public)?, &c, dataset, &source, &decimals, opts, &conn.server))
}

/// Records checked against the schema at a time by `vault push`'s second read.
const CHECK_RECORDS: usize = 1 << 16;

/// The checked CSV file of a push and how its chunks become the schema's columns.
struct PushSource<'a> {
    path: &'a Path,
    layout: &'a ringvault_app::csv::CsvLayout,
    select: &'a dyn Fn(Vec<PlainColumn>) -> Vec<PlainColumn>,
    /// SHA-256 of the file's bytes.
    digest: &'a [u8],
}

/// Encrypts and pushes the file's records part by part ([`Client::push_part`]) under
/// idempotency keys derived from `--idempotency-key`, the file and the options; the text to
/// print.
fn push_batches<B: ringvault_core::Backend>(enc: &UploadEncryptor<B>, c: &Client, dataset: &str, source: &PushSource<'_>, decimals: &BTreeMap<String, u32>, opts: &PushOptions, server: &str) -> Result<String, CliError> {
    let records = source.layout.records;
    let rows = opts.rows_per_upload.unwrap_or(enc.default_rows_per_upload()).clamp(1, enc.rows_per_ciphertext() * MAX_CHUNKS_PER_UPLOAD);
    let base = match &opts.idempotency_key {
        // The key names this push: the same file and options under the same key give the same
        // batch keys (a rerun stores nothing twice); other data under it gets other keys.
        Some(k) => {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            h.update(source.digest);
            h.update(format!("{:?}|{:?}|{:?}|{}|{rows}", opts.from, opts.to, decimals, opts.skip_missing).as_bytes());
            format!("{k}-{}", ringvault_app::hex(&h.finalize()[..8]))
        }
        None => {
            let mut r = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
            ringvault_app::hex(&r)
        }
    };
    let per_read = UPLOADS_PER_READ.max(2 * rayon::current_num_threads());
    let uploads = records.div_ceil(rows);
    let mut report = client::PushReport { records: 0, uploads: 0, stored: 0, duplicates: 0, bytes: 0 };
    let pb = progress_bar(records as u64, "encrypting and uploading records");
    let file = std::fs::File::open(source.path).map(std::io::BufReader::new).map_err(|e| CliError::io(source.path, &e))?;
    ringvault_app::csv::read_chunks(file, source.layout, opts.skip_missing, rows * per_read, |chunk| {
        let columns = (source.select)(chunk);
        let (done, part) = (report.records, client::PushPart { first_upload: report.uploads, uploads });
        let r = c.push_part(dataset, enc, &columns, rows, part, &base, opts.idempotency_key.is_some(), (opts.from, opts.to), &mut |d| pb.set_position((done + d) as u64)).map_err(vault_err)?;
        report.join(&r);
        Ok::<(), CliError>(())
    })?;
    pb.finish_and_clear();
    Ok(format!(
        "pushed {records} records in {} uploads ({:.1} MB): {} stored, {} already present; acknowledged by {server}",
        report.uploads,
        report.bytes as f64 / 1e6,
        report.stored,
        report.duplicates
    ))
}

/// What `vault query` asks.
#[derive(Clone, Debug)]
pub enum QueryWhat {
    /// A column statistic.
    Stat(String, String),
    /// Several statistics `(stat, column)` in one batch.
    Stats(Vec<(String, String)>),
    /// A model file.
    LogReg(PathBuf),
}

/// `vault query`: runs a query (following a job until it finishes) and writes the result file.
///
/// # Errors
/// An unreadable model, the server's refusal, I/O.
pub fn query(conn: &Connection, dataset: &str, what: &QueryWhat, from: Option<i64>, to: Option<i64>, device: Option<String>, out: &Path) -> Result<String, CliError> {
    let mut request = QueryRequest { stats: None, stat: None, column: None, logreg: None, from, to, device };
    let described = match what {
        QueryWhat::Stat(stat, column) => {
            request.stat = Some(stat.clone());
            request.column = Some(column.clone());
            format!("{stat} of {column:?}")
        }
        QueryWhat::Stats(list) => {
            request.stats = Some(list.iter().map(|(s, c)| ringvault_app::query::StatColumn { stat: s.clone(), column: c.clone() }).collect());
            format!("{} statistics", list.len())
        }
        QueryWhat::LogReg(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, &e))?;
            let model: LogisticModel = serde_json::from_str(&text).map_err(|e| CliError::Format(format!("{}: {e}", path.display())))?;
            request.logreg = Some(model);
            "scores".to_string()
        }
    };
    let pb = progress_bar(1000, "query");
    let bytes = conn.client()?.query(dataset, &request, &mut |f| pb.set_position((f * 1000.0) as u64)).map_err(vault_err)?;
    pb.finish_and_clear();
    keys::write_file(out, &bytes)?;
    Ok(format!("encrypted {described} written to {}", out.display()))
}

/// `vault list`: the datasets the token may see.
///
/// # Errors
/// The server's refusal.
pub fn list(conn: &Connection) -> Result<String, CliError> {
    let all = conn.client()?.list_datasets().map_err(vault_err)?;
    serde_json::to_string_pretty(&all).map_err(|e| CliError::Format(e.to_string()))
}

/// `vault delete`: deletes a dataset, its keys and records.
///
/// # Errors
/// The server's refusal.
pub fn delete(conn: &Connection, dataset: &str) -> Result<String, CliError> {
    conn.client()?.delete_dataset(dataset).map_err(vault_err)?;
    Ok(format!("dataset {dataset} deleted"))
}

/// A time as Unix seconds, or RFC 3339 (`2026-12-01T08:00:00Z`).
///
/// # Errors
/// A message saying what is accepted.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(t) = s.trim().parse::<i64>() {
        return Ok(t);
    }
    let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|_| format!("{s:?}: a time is Unix seconds or RFC 3339 (2026-12-01T08:00:00Z)"))?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("{s:?}: before 1970"))?.as_secs();
    i64::try_from(secs).map_err(|_| format!("{s:?}: too far in the future"))
}

/// A bar of `len` steps named `what` (drawn on stderr when it is a terminal).
pub(crate) fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb.set_message(what.to_string());
    pb
}
