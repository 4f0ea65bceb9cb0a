//! A vault dataset: its column schema with declared ranges, the computations it supports, the
//! check of its evaluation keys, and the validation of uploads against both.

use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use ringvault_backend_cpu::CpuBackend;
use ringvault_core::encoding::FixedPoint;
use ringvault_core::stats::{EncryptedRows, PlainColumn, RowPlan, RowSpec, StatsContext, StatsParameters};

use crate::container::{self, Header};
use crate::contexts::Contexts;
use crate::AppError;

/// Most columns in one schema.
pub const MAX_COLUMNS: usize = 256;
/// Longest column name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// What a dataset lets the server compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Computation {
    /// Count, sum, mean.
    Sums,
    /// Sum of squares, variances and standard deviations (population and sample).
    Variances,
    /// Weighted sums and logistic-regression scores.
    Scores,
}

impl Computation {
    /// Every computation (a schema's default).
    pub fn all() -> Vec<Self> {
        vec![Self::Sums, Self::Variances, Self::Scores]
    }
}

/// One column: its name, fixed-point decimals and declared range. Every value a device
/// encrypts lies in `[min, max]` (the client refuses others); the range bounds every
/// computation's "could this wrap?" check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column's name (any text).
    pub name: String,
    /// Decimal digits of the fixed-point scale (0 to 18).
    #[serde(default)]
    pub decimals: u32,
    /// Smallest value allowed.
    pub min: f64,
    /// Largest value allowed.
    pub max: f64,
}

/// A dataset's schema: `{"columns": [{"name": "bmi", "decimals": 1, "min": 10, "max": 80}, …],
/// "computations": ["sums", "variances", "scores"], "max_records": 1000000}` (computations
/// default to all, the record capacity to [`DEFAULT_MAX_RECORDS`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// The columns, in upload order.
    pub columns: Vec<ColumnSpec>,
    /// What the server may compute (default: everything).
    #[serde(default = "Computation::all")]
    pub computations: Vec<Computation>,
    /// The most records the dataset will hold (default [`DEFAULT_MAX_RECORDS`]): with the
    /// ranges and computations it sets the uploads' plaintext moduli and level
    /// ([`Schema::row_plan`]); the vault refuses queries over more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_records: Option<u64>,
}

/// Ciphertexts per used modulus in a batched upload (about n records at nine columns and
/// n = 8192; 5.4 MB for the demo's schema).
pub const DEFAULT_CHUNKS_PER_UPLOAD: usize = 16;

/// A dataset's record capacity when its schema does not declare one.
pub const DEFAULT_MAX_RECORDS: u64 = 1_000_000;

/// What the server records of a dataset's validated evaluation keys (public metadata).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The ring preset (`n4096`, `n8192`, …).
    pub preset: String,
    /// The plaintext moduli of the CRT space.
    pub moduli: Vec<u32>,
    /// Bytes of the `eval.keys` file.
    pub bytes: u64,
    /// Hex SHA-256 of the `eval.keys` file (its content address).
    pub sha256: String,
    /// Largest record count for which every declared computation is exact.
    pub max_records: u64,
    /// Hex SHA-256 of the public keys' wire objects (what every upload's table names).
    #[serde(default)]
    pub public_key_sha256: String,
}

/// Evaluation keys that passed validation: what the store keeps of them besides the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedKeys {
    /// Their public description.
    pub info: KeyInfo,
    /// The `public.key` file devices encrypt with (derived from the keys).
    pub public_key: Vec<u8>,
}

/// An upload that passed validation: what the store keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedUpload {
    /// Records in the upload.
    pub rows: usize,
    /// The validated `rows` file, stored as it came (see [`crate::rows`]).
    pub body: Vec<u8>,
    /// The SHA-256 of `body` (what names it for retries of the same upload).
    pub sha256: [u8; 32],
}

impl Schema {
    /// Parses and validates a schema (unknown keys refused).
    ///
    /// # Errors
    /// [`AppError::Schema`] saying what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AppError> {
        let s: Self = serde_json::from_slice(bytes).map_err(|e| AppError::Schema(format!("schema: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Checks names, decimals and ranges.
    ///
    /// # Errors
    /// [`AppError::Schema`] naming the column at fault.
    pub fn validate(&self) -> Result<(), AppError> {
        let bad = |what: String| Err(AppError::Schema(what));
        if self.columns.is_empty() || self.columns.len() > MAX_COLUMNS {
            return bad(format!("a schema has 1 to {MAX_COLUMNS} columns, this one {}", self.columns.len()));
        }
        if self.max_records == Some(0) {
            return bad("max_records is at least 1".into());
        }
        if self.computations.is_empty() {
            return bad("a schema supports at least one computation (sums, variances, scores)".into());
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.trim().is_empty() || c.name.len() > MAX_NAME_LEN {
                return bad(format!("column {}: a name of 1 to {MAX_NAME_LEN} bytes", i + 1));
            }
            if self.columns[..i].iter().any(|d| d.name == c.name) {
                return bad(format!("column {:?} appears twice", c.name));
            }
            if c.decimals > FixedPoint::MAX_DECIMALS {
                return bad(format!("column {:?}: {} decimals (at most {})", c.name, c.decimals, FixedPoint::MAX_DECIMALS));
            }
            if !c.min.is_finite() || !c.max.is_finite() || c.min > c.max {
                return bad(format!("column {:?}: the range [{}, {}] must be finite with min ≤ max", c.name, c.min, c.max));
            }
            if c.magnitude().is_none() {
                return bad(format!("column {:?}: the range [{}, {}] at {} decimals is too wide for fixed point", c.name, c.min, c.max, c.decimals));
            }
        }
        Ok(())
    }

    /// Whether the dataset supports `c`.
    pub fn supports(&self, c: Computation) -> bool {
        self.computations.contains(&c)
    }

    /// The column named `name` and its index.
    ///
    /// # Errors
    /// [`AppError::Schema`] naming the columns there are.
    pub fn column(&self, name: &str) -> Result<(usize, &ColumnSpec), AppError> {
        self.columns.iter().enumerate().find(|(_, c)| c.name == name).ok_or_else(|| {
            AppError::Schema(format!("no column {name:?}; the dataset has {}", self.columns.iter().map(|c| format!("{:?}", c.name)).collect::<Vec<_>>().join(", ")))
        })
    }

    /// The declared record capacity ([`DEFAULT_MAX_RECORDS`] when absent).
    pub fn declared_records(&self) -> u64 {
        self.max_records.unwrap_or(DEFAULT_MAX_RECORDS)
    }

    /// What the row layout needs to know of the dataset.
    pub fn row_spec(&self) -> RowSpec {
        RowSpec {
            bounds: self.columns.iter().map(ColumnSpec::bound_bits).collect(),
            max_records: self.declared_records(),
            squares: self.supports(Computation::Variances),
            scores: self.supports(Computation::Scores),
        }
    }

    /// The shape of every upload under `params`: the fewest plaintext moduli and the lowest
    /// level that hold [`Self::declared_records`] records of the declared ranges and
    /// computations (see `ringvault_core::stats::rows`). Devices and the vault compute it the
    /// same way from the schema and the keys' preset.
    ///
    /// # Errors
    /// [`AppError::Schema`] when the parameters cannot hold them.
    pub fn row_plan(&self, params: &StatsParameters) -> Result<RowPlan, AppError> {
        if self.columns.is_empty() {
            return Err(AppError::Schema("a schema has at least one column".into()));
        }
        params.row_plan(&self.row_spec()).map_err(|e| {
            AppError::Schema(format!(
                "{} records of these ranges and computations do not fit {} ({e}): narrow the ranges or decimals, or declare fewer max_records",
                self.declared_records(),
                params.preset().name()
            ))
        })
    }

    /// The smallest preset whose statistics parameters hold `records` records of every
    /// declared computation within the declared ranges (its [`Self::row_plan`] exists).
    ///
    /// # Errors
    /// [`AppError::Schema`] when no preset holds them.
    pub fn preset_for(&self, records: u64) -> Result<ringvault_core::scheme::Preset, AppError> {
        use ringvault_core::scheme::Preset;
        let wanted = Self { max_records: Some(records), ..self.clone() };
        for preset in [Preset::N4096, Preset::N8192, Preset::N16384, Preset::N32768] {
            if wanted.row_plan(&StatsParameters::for_preset(preset)?).is_ok() {
                return Ok(preset);
            }
        }
        Err(AppError::Schema(format!("no preset holds {} records of these ranges and computations: narrow the ranges or decimals", wanted.declared_records())))
    }

    /// Checks a CSV table against the schema before encryption (the client's side): the same
    /// columns in the same order at the declared decimals, every value within its range.
    ///
    /// # Errors
    /// [`AppError::Schema`] naming the column and record at fault.
    pub fn check_rows(&self, columns: &[PlainColumn]) -> Result<(), AppError> {
        self.check_rows_at(columns, 0)
    }

    /// [`Self::check_rows`] for a chunk of a longer table whose first record is record
    /// `first` (from 0) of the whole: errors number records across the table.
    ///
    /// # Errors
    /// As [`Self::check_rows`].
    pub fn check_rows_at(&self, columns: &[PlainColumn], first: usize) -> Result<(), AppError> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let want: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        if names != want {
            return Err(AppError::Schema(format!("the data has columns {names:?}; the dataset's schema has {want:?} (same names, same order)")));
        }
        for (c, spec) in columns.iter().zip(&self.columns) {
            if c.decimals != spec.decimals {
                return Err(AppError::Schema(format!("column {:?}: {} decimals in the data, {} in the schema (use --decimals)", c.name, c.decimals, spec.decimals)));
            }
            let scale = 10f64.powi(spec.decimals as i32);
            for (r, v) in c.values.iter().enumerate() {
                if let Some(v) = v {
                    let x = *v as f64 / scale;
                    if x < spec.min || x > spec.max {
                        return Err(AppError::Schema(format!("column {:?}, record {}: {x} is outside the declared range [{}, {}]", c.name, first + r + 1, spec.min, spec.max)));
                    }
                }
            }
        }
        Ok(())
    }
}

impl ColumnSpec {
    /// The largest fixed-point magnitude the range allows, `max(|min|, |max|)·10^d` rounded
    /// up, or `None` beyond `2^100`.
    fn magnitude(&self) -> Option<u128> {
        let m = self.min.abs().max(self.max.abs()) * 10f64.powi(self.decimals as i32);
        (m < 2f64.powi(100)).then(|| m.ceil() as u128)
    }

    /// Every value of the column has `|x·10^d| < 2^bound_bits`.
    pub fn bound_bits(&self) -> u32 {
        128 - self.magnitude().unwrap_or(u128::MAX).leading_zeros()
    }
}

/// The vault takes checksummed files only (container version 2).
fn require_digest(h: &Header, what: &str) -> Result<(), AppError> {
    if h.version < 2 {
        return Err(AppError::Format(format!("{what}: container version {} has no digest; the vault takes version {} (write the file again with this version)", h.version, container::VERSION)));
    }
    Ok(())
}


/// The CPU context of a preset for validation (built once per preset and process): what every
/// check of untrusted bytes loads ciphertexts with.
///
/// # Errors
/// [`AppError::Format`] for a header of unknown parameters.
pub fn validation_context(h: &Header) -> Result<Arc<StatsContext<CpuBackend>>, AppError> {
    static CONTEXTS: OnceLock<Contexts<CpuBackend>> = OnceLock::new();
    CONTEXTS.get_or_init(|| Contexts::new(Arc::new(CpuBackend::new()))).get(&h.preset, &h.moduli)
}

/// Validates an `eval.keys` file for a dataset with `schema`: the file's digest, every object
/// through its wire loader, the parameters a known preset's, and every declared computation
/// exact for at least one record; with the `public.key` file derived from it (one parse).
///
/// # Errors
/// [`AppError::Format`] or [`AppError::Core`] for a file that is not valid evaluation keys;
/// [`AppError::Schema`] when the schema's ranges do not fit the parameters.
pub fn check_eval_keys(schema: &Schema, path: &Path) -> Result<CheckedKeys, AppError> {
    let bytes = crate::keys::read_file(path)?;
    let (h, objects) = container::parse(&bytes, &["evaluation-keys"]).map_err(|e| AppError::Format(format!("evaluation keys: {e}")))?;
    require_digest(&h, "evaluation keys")?;
    let ctx = validation_context(&h)?;
    let keys = ctx.keys_from_objects(&objects)?;
    schema.row_plan(ctx.params())?;
    let max_records = schema.declared_records();
    let public_key = crate::keys::public_file(ctx.params(), &keys)?;
    let public_key_sha256 = crate::keys::public_key_digest(&keys.public_key_objects());
    let info = KeyInfo { preset: h.preset, moduli: h.moduli, bytes: bytes.len() as u64, sha256: crate::hex(&Sha256::digest(&bytes)), max_records, public_key_sha256 };
    Ok(CheckedKeys { info, public_key })
}

/// Whether the first bytes of a body (up to its first MiB) open an `eval.keys` file: the
/// vault checks this before anything of a key upload reaches its disk, so a secret key sent
/// by mistake is never written.
///
/// # Errors
/// [`AppError::Format`] naming what was found.
pub fn check_eval_keys_opening(first: &[u8]) -> Result<(), AppError> {
    let (h, _) = container::peek_header(first).map_err(|e| AppError::Format(format!("not an eval.keys file: {e}")))?;
    if h.kind != "evaluation-keys" {
        return Err(AppError::Format(format!("expected the eval.keys file (evaluation-keys), found a {} file; nothing was stored", h.kind)));
    }
    require_digest(&h, "evaluation keys")
}

/// The `public.key` file (what devices encrypt with) of a validated `eval.keys` file.
///
/// # Errors
/// As [`check_eval_keys`].
pub fn public_keys_file(path: &Path) -> Result<Vec<u8>, AppError> {
    let bytes = crate::keys::read_file(path)?;
    let (h, objects) = container::parse(&bytes, &["evaluation-keys"]).map_err(|e| AppError::Format(format!("evaluation keys: {e}")))?;
    let ctx = validation_context(&h)?;
    let keys = ctx.keys_from_objects(&objects)?;
    crate::keys::public_file(ctx.params(), &keys)
}

/// Validates an upload body (a `rows` file of one or more records) against the dataset's
/// schema and keys: container, metadata, the row plan the schema and keys imply, every
/// ciphertext through its wire loader, columns, decimals and declared bounds. Nothing is
/// stored unless this returns `Ok`. The stored body is the file as sent; its bounds are
/// checked against the schema's, so the "could this wrap?" refusal rests on the declared
/// ranges. The body is moved into the result, not copied.
///
/// # Errors
/// [`AppError::Format`], [`AppError::Schema`] or [`AppError::Core`] saying what is wrong.
pub fn check_upload(schema: &Schema, keys: &KeyInfo, body: Vec<u8>) -> Result<CheckedUpload, AppError> {
    let (rows, sha256) = upload_records(schema, keys, &body)?;
    Ok(CheckedUpload { rows, body, sha256 })
}

/// The records and SHA-256 of an upload body that passes [`check_upload`]'s checks.
fn upload_records(schema: &Schema, keys: &KeyInfo, body: &[u8]) -> Result<(usize, [u8; 32]), AppError> {
    let ((h, objects), sha) = container::parse_hashed(body, &["rows"]).map_err(|e| AppError::Format(format!("upload: {e}")))?;
    require_digest(&h, "upload")?;
    if h.preset != keys.preset || h.moduli != keys.moduli {
        return Err(AppError::Format(format!("the upload is encrypted for {} {:?}; the dataset's keys are {} {:?}", h.preset, h.moduli, keys.preset, keys.moduli)));
    }
    let ctx = validation_context(&h)?;
    let plan = schema.row_plan(ctx.params())?;
    let m: crate::rows::RowsMeta = crate::results::meta(&h)?;
    if m.public_key != keys.public_key_sha256 {
        return Err(AppError::Format(format!("the upload is encrypted under another key set (public key {:.16}…, the dataset's {:.16}…)", m.public_key, keys.public_key_sha256)));
    }
    if m.columns.len() != schema.columns.len() {
        return Err(AppError::Schema(format!("the upload has {} columns, the schema {}", m.columns.len(), schema.columns.len())));
    }
    for (info, spec) in m.columns.iter().zip(&schema.columns) {
        if info.name != spec.name || info.decimals != spec.decimals {
            return Err(AppError::Schema(format!("upload column {:?} at {} decimals where the schema has {:?} at {}", info.name, info.decimals, spec.name, spec.decimals)));
        }
        if info.bound_bits > spec.bound_bits() {
            return Err(AppError::Schema(format!("column {:?}: values up to 2^{} exceed the declared range [{}, {}]", info.name, info.bound_bits, spec.min, spec.max)));
        }
    }
    if m.plan != plan {
        return Err(AppError::Schema(format!("the upload is packed as {:?}; this dataset's schema and keys need {plan:?}", m.plan)));
    }
    let rows = crate::rows::rows_from_parts(&ctx, m, &objects)?;
    Ok((rows.records(), sha))
}

/// What [`UploadEncryptor::encrypt_ahead`] hands each upload to: its index, its records and
/// its body.
pub type UploadSink<'a, E> = &'a mut dyn FnMut(usize, &Range<usize>, Vec<u8>) -> Result<(), E>;

/// A device's (or owner's) encryptor for one dataset: the `public.key` file opened, its
/// digest taken and the dataset's row plan computed once, then any number of uploads.
pub struct UploadEncryptor<B: ringvault_core::Backend> {
    keys: crate::local::TableEncryptor<B>,
    plan: RowPlan,
    /// The schema's column count.
    width: usize,
}

impl<B: ringvault_core::Backend> UploadEncryptor<B> {
    /// Opens the `public.key` file for a dataset of `schema`.
    ///
    /// # Errors
    /// Key file errors; [`AppError::Schema`] when the schema does not fit the keys.
    pub fn new(backend: Arc<B>, schema: &Schema, public_key: &[u8]) -> Result<Self, AppError> {
        let keys = crate::local::TableEncryptor::new(backend, public_key)?;
        let plan = schema.row_plan(keys.ctx.params())?;
        Ok(Self { keys, plan, width: schema.columns.len() })
    }

    /// The statistics context of the dataset's keys.
    pub fn context(&self) -> &StatsContext<B> {
        &self.keys.ctx
    }

    /// The public keys (one per plaintext modulus).
    pub fn public_keys(&self) -> Vec<&ringvault_core::scheme::PublicKey> {
        self.keys.public_keys()
    }

    /// The row plan every upload is encrypted under.
    pub fn plan(&self) -> &RowPlan {
        &self.plan
    }

    /// Records per ciphertext: the natural granularity of an upload.
    pub fn rows_per_ciphertext(&self) -> usize {
        self.keys.ctx.rows_per_ciphertext(&self.plan, self.width)
    }

    /// Records of an upload when the sender batches: [`DEFAULT_CHUNKS_PER_UPLOAD`] ciphertexts
    /// per used modulus (memory and request size stay bounded whatever the file's size).
    pub fn default_rows_per_upload(&self) -> usize {
        self.rows_per_ciphertext() * DEFAULT_CHUNKS_PER_UPLOAD
    }

    /// `rows` files of at most `rows_per_upload` records each, naming the public key, in
    /// record order. The uploads are encrypted in parallel ([`Self::encrypt_ranges`]).
    /// Precondition: the columns passed [`Schema::check_rows`].
    ///
    /// # Errors
    /// Encryption errors.
    pub fn encrypt(&self, columns: &[PlainColumn], rows_per_upload: usize) -> Result<Vec<Vec<u8>>, AppError> {
        let records = columns.first().map_or(0, |c| c.values.len());
        self.encrypt_ranges(columns, &upload_ranges(records, rows_per_upload))
    }

    /// One `rows` file per range of records of `columns`, in the order of `ranges`. Each
    /// upload is one task on rayon's pool (encoding, the backend's batch encryption, packing
    /// and hashing all spread over the cores), each under its own freshly seeded CSPRNG; the
    /// bodies of all `ranges` are held at once, so callers bound how many they pass.
    /// Preconditions: the columns passed [`Schema::check_rows`]; every range lies within
    /// their records.
    ///
    /// # Errors
    /// The first encryption error in range order.
    pub fn encrypt_ranges(&self, columns: &[PlainColumn], ranges: &[Range<usize>]) -> Result<Vec<Vec<u8>>, AppError> {
        use rayon::prelude::*;
        ranges.par_iter().map(|r| self.encrypt_upload_range(columns, r.clone())).collect()
    }

    /// Encrypts the uploads of `ranges` and hands each body to `sink` in range order, with
    /// its index and range. Encryption runs one window of uploads (one per rayon thread)
    /// ahead of `sink` on another thread, each window through [`Self::encrypt_ranges`]; a
    /// channel holds one finished window, so at most three windows of bodies are alive
    /// whatever the number of records (memory bounded by the window, not the input).
    /// Preconditions as for [`Self::encrypt_ranges`].
    ///
    /// # Errors
    /// [`StreamError::Sink`] with `sink`'s first error (no later upload is handed over), or
    /// [`StreamError::Encrypt`] naming the first upload of a window that failed to encrypt
    /// (every earlier upload was handed over).
    pub fn encrypt_ahead<E>(&self, columns: &[PlainColumn], ranges: &[Range<usize>], sink: UploadSink<'_, E>) -> Result<(), StreamError<E>> {
        let window = rayon::current_num_threads().max(1);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            scope.spawn(move || {
                for (w, chunk) in ranges.chunks(window).enumerate() {
                    let bodies = self.encrypt_ranges(columns, chunk).map_err(|error| (w * window, error));
                    let failed = bodies.is_err();
                    // A closed channel: the sink stopped at an error.
                    if tx.send(bodies).is_err() || failed {
                        break;
                    }
                }
            });
            let mut next = 0;
            for bodies in rx {
                for body in bodies.map_err(|(upload, error)| StreamError::Encrypt { upload, error })? {
                    sink(next, &ranges[next], body).map_err(StreamError::Sink)?;
                    next += 1;
                }
            }
            Ok(())
        })
    }

    /// One `rows` file holding every record of `columns` (at most
    /// [`Self::rows_per_ciphertext`] × any number of ciphertexts), under fresh randomness.
    ///
    /// # Errors
    /// Encryption errors.
    pub fn encrypt_upload(&self, columns: &[PlainColumn]) -> Result<Vec<u8>, AppError> {
        self.encrypt_upload_range(columns, 0..columns.first().map_or(0, |c| c.values.len()))
    }

    /// One `rows` file of the records `range` of `columns` (as [`Self::encrypt_upload`] of
    /// those records, read in place); its ciphertexts are recycled once written.
    ///
    /// # Errors
    /// Encryption errors; an empty range or one beyond the records.
    pub fn encrypt_upload_range(&self, columns: &[PlainColumn], range: Range<usize>) -> Result<Vec<u8>, AppError> {
        let rows = self.encrypt_rows(columns, range)?;
        let file = crate::rows::rows_file(&self.keys.ctx, &rows, &self.keys.digest)?;
        rows.recycle(self.keys.ctx.schemes()[0].backend());
        Ok(file)
    }

    /// The encrypted records `range` of `columns` before serialization (what
    /// [`Self::encrypt_upload_range`] writes into its file), under fresh randomness:
    /// fixed-point values packed into plaintexts, then batch encryption per used modulus.
    ///
    /// # Errors
    /// Encryption errors; an empty range or one beyond the records.
    pub fn encrypt_rows(&self, columns: &[PlainColumn], range: Range<usize>) -> Result<EncryptedRows<B>, AppError> {
        let encryptors = self.keys.encryptors()?;
        let mut rng = ringvault_core::scheme::sampling::default_rng();
        Ok(self.keys.ctx.encrypt_rows_with(&encryptors, columns, range, &self.plan, &mut rng)?)
    }
}

/// Why [`UploadEncryptor::encrypt_ahead`] stopped.
#[derive(Debug)]
pub enum StreamError<E> {
    /// Encrypting the window starting at upload `upload` (0-based) failed.
    Encrypt {
        /// The window's first upload, 0-based.
        upload: usize,
        /// What failed.
        error: AppError,
    },
    /// The sink refused an upload.
    Sink(E),
}

/// The record ranges of uploads of at most `rows_per_upload` records (at least one) over
/// `records` records, in order.
pub fn upload_ranges(records: usize, rows_per_upload: usize) -> Vec<Range<usize>> {
    let step = rows_per_upload.max(1);
    (0..records).step_by(step).map(|start| start..(start + step).min(records)).collect()
}

/// Encrypts `columns` (checked against `schema` first) with a `public.key` file into `rows`
/// upload bodies of at most `rows_per_upload` records.
///
/// # Errors
/// [`AppError::Schema`] for data outside the schema; key and encryption errors.
pub fn encrypt_uploads<B: ringvault_core::Backend>(backend: Arc<B>, schema: &Schema, public_key: &[u8], columns: &[PlainColumn], rows_per_upload: usize) -> Result<Vec<Vec<u8>>, AppError> {
    schema.check_rows(columns)?;
    UploadEncryptor::new(backend, schema, public_key)?.encrypt(columns, rows_per_upload)
}
