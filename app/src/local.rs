//! The file-based flow on bytes, for every front end (the command line's `encrypt` and
//! `eval`, the Python package): an owner's table encryptor that holds only the public key, and
//! a server's evaluator that holds only the evaluation keys. Inputs and outputs are the files
//! of [`crate::results`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use ringvault_core::Backend;
use ringvault_core::scheme::{Encryptor, PublicKey, SharedPublicKey};
use ringvault_core::stats::{ColumnInfo, LogisticModel, PlainColumn, Stat, StatsContext, StatsKeys, Weights};

use crate::AppError;

/// Encrypts tables with the `public.key` file only.
pub struct TableEncryptor<B: Backend> {
    pub(crate) ctx: StatsContext<B>,
    /// The public keys (one per plaintext modulus), each keeping its device forms for every
    /// encryptor made from it.
    pub(crate) public: Vec<SharedPublicKey<B>>,
    /// [`crate::keys::public_key_digest`] of the keys: what every file it writes names.
    pub(crate) digest: String,
}

impl<B: Backend> TableEncryptor<B> {
    /// Opens a `public.key` file.
    ///
    /// # Errors
    /// Key file errors.
    pub fn new(backend: Arc<B>, public_key: &[u8]) -> Result<Self, AppError> {
        let (ctx, public) = crate::keys::open_public(backend, public_key)?;
        let digest = crate::keys::public_key_digest(&public.iter().map(PublicKey::to_bytes).collect::<Vec<_>>());
        let public = ctx.schemes().iter().zip(public).map(|(s, pk)| s.share_public_key(pk)).collect::<Result<_, _>>()?;
        Ok(Self { ctx, public, digest })
    }

    /// The public keys (one per plaintext modulus).
    pub fn public_keys(&self) -> Vec<&PublicKey> {
        self.public.iter().map(SharedPublicKey::public_key).collect()
    }

    /// One encryptor per plaintext modulus; each uploads only what no earlier one did.
    ///
    /// # Errors
    /// [`AppError::Core`] (not expected: the keys were shared by these schemes).
    pub fn encryptors(&self) -> Result<Vec<Encryptor<'_, B>>, AppError> {
        Ok(self.ctx.schemes().iter().zip(&self.public).map(|(s, k)| s.encryptor_sharing(k)).collect::<Result<_, _>>()?)
    }

    /// The statistics context of the keys.
    pub fn context(&self) -> &StatsContext<B> {
        &self.ctx
    }

    /// A `table` file of `columns` (any number of records: more than `n` take more
    /// ciphertexts), naming the public key.
    ///
    /// # Errors
    /// [`AppError::Core`] for columns that do not form a table or a value beyond the space.
    pub fn encrypt(&self, columns: &[PlainColumn]) -> Result<Vec<u8>, AppError> {
        let refs = self.public_keys();
        let mut rng = ringvault_core::scheme::sampling::default_rng();
        let table = self.ctx.encrypt_table(&refs, columns, &mut rng)?;
        crate::results::table_file_under(&self.ctx, &table, Some(&self.digest))
    }
}

/// What [`TableEncryptor::encrypt_csv`] did.
#[derive(Clone, Debug)]
pub struct CsvEncryption {
    /// The columns encrypted (as the table file describes them).
    pub columns: Vec<ColumnInfo>,
    /// Records.
    pub records: usize,
    /// Text columns that were not encrypted.
    pub skipped_columns: Vec<String>,
    /// Cells skipped (`skip_missing`), per column.
    pub skipped_cells: BTreeMap<String, usize>,
    /// Blocks written (each of [`CsvEncryption::block_records`] records but the last).
    pub blocks: usize,
    /// Records per block.
    pub block_records: usize,
    /// Bytes of the table file.
    pub file_bytes: u64,
    /// The most bytes of plaintext values and ciphertext objects alive at once: about one
    /// block's, whatever the number of records.
    pub peak_live_bytes: usize,
}

impl fmt::Display for CsvEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} records, {} numeric columns ({} blocks of up to {} records)", self.records, self.columns.len(), self.blocks, self.block_records)?;
        for c in &self.columns {
            write!(f, "\n  {:<24} {} decimals", c.name, c.decimals)?;
            if let Some(n) = self.skipped_cells.get(&c.name) {
                write!(f, ", {n} cells skipped")?;
            }
        }
        if !self.skipped_columns.is_empty() {
            write!(f, "\n  not encrypted (text): {}", self.skipped_columns.join(", "))?;
        }
        Ok(())
    }
}

/// Live bytes and their peak (what [`CsvEncryption::peak_live_bytes`] reports).
#[derive(Default)]
struct LiveBytes {
    now: usize,
    peak: usize,
}

impl LiveBytes {
    fn add(&mut self, bytes: usize) {
        self.now += bytes;
        self.peak = self.peak.max(self.now);
    }
    fn sub(&mut self, bytes: usize) {
        self.now = self.now.saturating_sub(bytes);
    }
}

/// Bytes of plain values held in memory.
fn plain_bytes(columns: &[PlainColumn]) -> usize {
    columns.iter().map(|c| c.values.capacity() * std::mem::size_of::<Option<i128>>()).sum()
}

impl<B: Backend> TableEncryptor<B> {
    /// Encrypts the CSV file `csv` into the `table` file `out`, streaming: the file is read
    /// three times (the columns' kinds and scales, then their public descriptions, then the
    /// values to encrypt), `block_chunks` chunks of `n` records at a time, each block's columns
    /// encrypted in parallel and written as they come; memory holds about one block whatever
    /// the number of rows. The table is written to `out.partial` and renamed to `out` once
    /// complete and synced, so a failure leaves no partial `out`. `progress` is called with the
    /// records encrypted so far and the total.
    ///
    /// # Errors
    /// [`AppError::Csv`] naming the line and column of a bad cell (before anything is
    /// written); [`AppError::Core`] for a value beyond the plaintext space; [`AppError::Io`].
    pub fn encrypt_csv(&self, csv: &Path, out: &Path, decimals: &BTreeMap<String, u32>, skip_missing: bool, block_chunks: usize, progress: &mut dyn FnMut(usize, usize)) -> Result<CsvEncryption, AppError> {
        let open = || std::fs::File::open(csv).map(std::io::BufReader::new).map_err(|e| AppError::io(csv, &e));
        let layout = crate::csv::scan(open()?, decimals)?;
        let n = self.ctx.params().n();
        let block_records = n * block_chunks.max(1);
        // The public descriptions first: the header precedes the ciphertexts.
        let mut infos: Vec<ColumnInfo> = layout.numeric.iter().map(|(_, name, d)| ColumnInfo { name: name.clone(), decimals: *d, count: 0, bound_bits: 0, missing: Vec::new() }).collect();
        let mut offset = 0;
        let skipped_cells = crate::csv::read_chunks(open()?, &layout, skip_missing, block_records, |columns| {
            for (info, c) in infos.iter_mut().zip(&columns) {
                for (j, v) in c.values.iter().enumerate() {
                    match v {
                        Some(v) => {
                            info.count += 1;
                            info.bound_bits = info.bound_bits.max(128 - v.unsigned_abs().leading_zeros());
                        }
                        None => info.missing.push(offset + j),
                    }
                }
            }
            offset += columns[0].values.len();
            Ok::<(), AppError>(())
        })?;
        let moduli = self.ctx.schemes().len();
        let objects = infos.len() * moduli * layout.records.div_ceil(n);
        let meta = crate::results::TableMeta { records: layout.records, columns: infos, public_key: Some(self.digest.clone()), block_records: Some(block_records) };
        let header = crate::keys::header("table", self.ctx.params(), objects, crate::results::to_value(&meta)?);
        let partial = out.with_extension(match out.extension() {
            Some(e) => format!("{}.partial", e.to_string_lossy()),
            None => "partial".into(),
        });
        let written = self.write_blocks(open()?, &layout, skip_missing, block_records, &header, &partial, progress);
        let (file_bytes, peak_live_bytes, blocks) = match written {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, out).map_err(|e| AppError::io(out, &e))?;
        Ok(CsvEncryption { columns: meta.columns, records: layout.records, skipped_columns: layout.skipped_columns, skipped_cells, blocks, block_records, file_bytes, peak_live_bytes })
    }

    /// The third pass of [`Self::encrypt_csv`]: encrypts block after block into `path`
    /// (synced). Returns the file's bytes, the peak live bytes and the blocks written.
    #[allow(clippy::too_many_arguments)]
    fn write_blocks<R: std::io::Read>(&self, source: R, layout: &crate::csv::CsvLayout, skip_missing: bool, block_records: usize, header: &crate::container::Header, path: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<(u64, usize, usize), AppError> {
        use rayon::prelude::*;
        let file = std::fs::File::create(path).map_err(|e| AppError::io(path, &e))?;
        let label = path.display().to_string();
        let mut writer = crate::container::Writer::new(std::io::BufWriter::new(file), header, &label)?;
        let refs = self.public_keys();
        let mut live = LiveBytes::default();
        let (mut done, mut blocks) = (0usize, 0usize);
        progress(0, layout.records);
        crate::csv::read_chunks(source, layout, skip_missing, block_records, |columns| {
            let plain = plain_bytes(&columns);
            live.add(plain);
            // One table per column (each with its own generator), in parallel; the file's
            // block layout is column after column, as a table's objects are.
            let objects: Vec<Vec<Vec<u8>>> = columns
                .par_iter()
                .map(|c| {
                    let mut rng = ringvault_core::scheme::sampling::default_rng();
                    let t = self.ctx.encrypt_table(&refs, std::slice::from_ref(c), &mut rng)?;
                    Ok(self.ctx.table_to_objects(&t)?)
                })
                .collect::<Result<_, AppError>>()?;
            let bytes: usize = objects.iter().flatten().map(Vec::len).sum();
            live.add(bytes);
            for o in objects.iter().flatten() {
                writer.push(o)?;
            }
            done += columns[0].values.len();
            blocks += 1;
            drop(objects);
            drop(columns);
            live.sub(bytes + plain);
            progress(done, layout.records);
            Ok::<(), AppError>(())
        })?;
        let file = writer.finish()?.into_inner().map_err(|e| AppError::io(path, e.error()))?;
        file.sync_all().map_err(|e| AppError::io(path, &e))?;
        let len = file.metadata().map_err(|e| AppError::io(path, &e))?.len();
        Ok((len, live.peak, blocks))
    }
}

/// Where [`TableEvaluator`] reads a `table` file: bytes in memory, or a file read object by
/// object (memory then holds the columns a computation uses, not the file).
#[derive(Clone, Copy, Debug)]
pub enum TableSource<'a> {
    /// The file's bytes.
    Bytes(&'a [u8]),
    /// A path to the file.
    File(&'a std::path::Path),
}

impl<'a> From<&'a [u8]> for TableSource<'a> {
    fn from(b: &'a [u8]) -> Self {
        Self::Bytes(b)
    }
}

impl<'a> From<&'a Vec<u8>> for TableSource<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

impl<'a> From<&'a std::path::Path> for TableSource<'a> {
    fn from(p: &'a std::path::Path) -> Self {
        Self::File(p)
    }
}

/// Computes on `table` files with the `eval.keys` file only; answers are result files.
pub struct TableEvaluator<B: Backend> {
    ctx: StatsContext<B>,
    keys: StatsKeys,
    /// Told `(objects read, objects in all)` while a table is read.
    progress: Box<dyn Fn(usize, usize) + Send + Sync>,
}

impl<B: Backend> TableEvaluator<B> {
    /// Opens an `eval.keys` file.
    ///
    /// # Errors
    /// Key file errors.
    pub fn new(backend: Arc<B>, eval_keys: &[u8]) -> Result<Self, AppError> {
        let (ctx, keys) = crate::keys::open_eval(backend, eval_keys)?;
        Ok(Self { ctx, keys, progress: Box::new(|_, _| {}) })
    }

    /// Reports the reading of each table (most of a computation over a large table file) to
    /// `progress` as `(objects read, objects in all)`, for a progress bar.
    #[must_use]
    pub fn with_progress(mut self, progress: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        self.progress = Box::new(progress);
        self
    }

    /// The statistics context of the keys.
    pub fn context(&self) -> &StatsContext<B> {
        &self.ctx
    }

    /// The table's columns in `columns` (read from the file object by object).
    fn table(&self, table: TableSource<'_>, columns: &[&str]) -> Result<ringvault_core::stats::EncryptedTable<B>, AppError> {
        match table {
            TableSource::Bytes(bytes) => crate::results::table_from_reader(&self.ctx, bytes, bytes.len() as u64, Some(columns), &*self.progress),
            TableSource::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| AppError::io(path, &e))?;
                let len = file.metadata().map_err(|e| AppError::io(path, &e))?.len();
                crate::results::table_from_reader(&self.ctx, std::io::BufReader::with_capacity(1 << 20, file), len, Some(columns), &*self.progress)
            }
        }
    }

    /// One statistic of a column: a `stat` file.
    ///
    /// # Errors
    /// [`AppError::Format`] for a table of other keys; an unknown column; a refused
    /// computation (could wrap); evaluation errors.
    pub fn stat<'a>(&self, table: impl Into<TableSource<'a>>, stat: Stat, column: &str) -> Result<Vec<u8>, AppError> {
        let t = self.table(table.into(), &[column])?;
        let r = self.ctx.evaluator(&self.keys)?.evaluate(&t, &[(stat, column)])?.pop().ok_or_else(|| AppError::Format("no result".into()))?;
        crate::results::stat_file(&self.ctx, &r)
    }

    /// Several statistics in one evaluation: a `stats` file.
    ///
    /// # Errors
    /// As [`Self::stat`].
    pub fn stats<'a>(&self, table: impl Into<TableSource<'a>>, requests: &[(Stat, &str)]) -> Result<Vec<u8>, AppError> {
        let columns: Vec<&str> = requests.iter().map(|(_, c)| *c).collect();
        let t = self.table(table.into(), &columns)?;
        let results = self.ctx.evaluator(&self.keys)?.evaluate(&t, requests)?;
        crate::results::stats_file(&self.ctx, &results)
    }

    /// `Σ wᵢ·xᵢ` of a column with plaintext or encrypted weights: a `stat` file.
    ///
    /// # Errors
    /// As [`Self::stat`]; a weight count other than the record count.
    pub fn weighted_sum<'a>(&self, table: impl Into<TableSource<'a>>, column: &str, weights: &Weights) -> Result<Vec<u8>, AppError> {
        let mut columns = vec![column];
        if let Weights::Column(w) = weights {
            columns.push(w);
        }
        let t = self.table(table.into(), &columns)?;
        let r = self.ctx.evaluator(&self.keys)?.weighted_sum(&t, column, weights)?;
        crate::results::stat_file(&self.ctx, &r)
    }

    /// A logistic model's per-record scores: a `scores` file.
    ///
    /// # Errors
    /// As [`Self::stat`]; a model with no weight or an unknown column.
    pub fn logistic<'a>(&self, table: impl Into<TableSource<'a>>, model: &LogisticModel) -> Result<Vec<u8>, AppError> {
        let columns: Vec<&str> = model.weights.keys().map(String::as_str).collect();
        let t = self.table(table.into(), &columns)?;
        let r = self.ctx.evaluator(&self.keys)?.logistic_scores(&t, model)?;
        crate::results::scores_file(&self.ctx, &r)
    }
}
