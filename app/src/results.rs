//! Encrypted tables and results as files, and the owner's decryption of results.
//!
//! | kind | metadata | objects |
//! |---|---|---|
//! | `table` | [`TableMeta`] | every column's ciphertexts, column after column, each `[modulus][chunk]`; a streamed table ([`TableMeta::block_records`]) repeats that layout per block of records |
//! | `stat` | [`StatMeta`] | `Σx` per modulus, then `Σx²` per modulus (each when present) |
//! | `scores` | [`ScoresMeta`] | `[modulus][chunk]` |
//!
//! The vault's row-packed uploads and answers (`rows`, `totals`, `row-scores`) are in
//! [`crate::rows`]; [`OwnerDecryptor`] reads every result kind.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use ringvault_core::Backend;
use ringvault_core::stats::{ColumnInfo, EncryptedScores, EncryptedStat, EncryptedTable, Stat, StatValue, StatsContext, sigmoid};

use crate::container::{self, Header};
use crate::keys::{header, params_of};
use crate::AppError;

/// Table metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Records (rows).
    pub records: usize,
    /// The columns' public descriptions.
    pub columns: Vec<ColumnInfo>,
    /// Hex SHA-256 of the public keys it was encrypted under ([`crate::keys::public_key_digest`]);
    /// the vault refuses tables of another key set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Set in a table written block by block ([`crate::local::TableEncryptor::encrypt_csv`]):
    /// the records of each block (a multiple of `n`; the last block may hold fewer). The
    /// objects are then the layout above for the first block, then for the next, and so on.
    /// Absent: the whole table is one block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_records: Option<usize>,
}

impl TableMeta {
    /// The record ranges of the blocks, in file order.
    ///
    /// # Errors
    /// [`AppError::Format`] for a block size that is zero or not a multiple of `n`.
    pub fn blocks(&self, n: usize) -> Result<Vec<std::ops::Range<usize>>, AppError> {
        let size = self.block_records.unwrap_or(self.records.max(1));
        if self.block_records.is_some() && (size == 0 || !size.is_multiple_of(n)) {
            return Err(AppError::Format(format!("blocks of {size} records: a block must be a positive multiple of {n} records")));
        }
        Ok((0..self.records).step_by(size).map(|s| s..(s + size).min(self.records)).collect())
    }
}

/// Statistic metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatMeta {
    /// The statistic's name.
    pub stat: String,
    /// The column described.
    pub column: ColumnInfo,
    /// Decimals of `Σx`.
    pub scale: u32,
    /// `|Σx| < 2^sum_bound_bits`.
    pub sum_bound_bits: u64,
    /// `|Σx²| < 2^squares_bound_bits`.
    pub squares_bound_bits: u64,
    /// `Σx` present.
    pub has_sum: bool,
    /// `Σx²` present.
    pub has_squares: bool,
}

/// Metadata of several statistics in one file (a batched query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsMeta {
    /// Each statistic's metadata, in the file's order.
    pub stats: Vec<StatMeta>,
}

/// Scores metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoresMeta {
    /// Records scored.
    pub records: usize,
    /// Decimals of the scores.
    pub scale: u32,
    /// `|score·10^scale| < 2^bound_bits`.
    pub bound_bits: u64,
    /// Records whose score is not meaningful (a skipped cell).
    pub missing: Vec<usize>,
    /// Chunks (ciphertexts per modulus).
    pub chunks: usize,
    /// Records per chunk when the chunks are not filled in order (appended uploads); absent
    /// when every chunk but the last is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_records: Option<Vec<usize>>,
}

pub(crate) fn meta<T: serde::de::DeserializeOwned>(h: &Header) -> Result<T, AppError> {
    serde_json::from_value(h.meta.clone()).map_err(|e| AppError::Format(format!("{} metadata: {e}", h.kind)))
}

pub(crate) fn to_value<T: Serialize>(m: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(m).map_err(|e| AppError::Format(e.to_string()))
}

pub(crate) fn check_params<B: Backend>(ctx: &StatsContext<B>, h: &Header) -> Result<(), AppError> {
    if h.preset != ctx.params().preset().name() || params_of(h)?.moduli() != ctx.params().moduli() {
        return Err(AppError::Format(format!("a {} file under other keys ({} {:?}, expected {} {:?})", h.kind, h.preset, h.moduli, ctx.params().preset().name(), ctx.params().moduli())));
    }
    Ok(())
}

/// The bytes of a `table` file.
///
/// # Errors
/// Serialization errors.
pub fn table_file<B: Backend>(ctx: &StatsContext<B>, table: &EncryptedTable<B>) -> Result<Vec<u8>, AppError> {
    table_file_under(ctx, table, None)
}

/// The bytes of a `table` file naming the digest of the public keys it was encrypted under.
///
/// # Errors
/// Serialization errors.
pub fn table_file_under<B: Backend>(ctx: &StatsContext<B>, table: &EncryptedTable<B>, public_key: Option<&str>) -> Result<Vec<u8>, AppError> {
    let objects = ctx.table_to_objects(table)?;
    let m = TableMeta { records: table.records(), columns: table.columns().iter().map(|c| c.info().clone()).collect(), public_key: public_key.map(str::to_string), block_records: None };
    container::encode(&header("table", ctx.params(), objects.len(), to_value(&m)?), &objects)
}

/// Reads a `table` file: every ciphertext through its wire loader.
///
/// # Errors
/// [`AppError::Format`]; wire errors.
pub fn table_from_file<B: Backend>(ctx: &StatsContext<B>, bytes: &[u8]) -> Result<EncryptedTable<B>, AppError> {
    table_from_reader(ctx, bytes, bytes.len() as u64, None, &|_, _| {})
}

/// Reads a `table` file of `len` bytes from `input` object by object ([`container::Reader`]),
/// keeping only the columns named in `columns` (all when `None`): the others' objects are
/// read past, hashed and dropped, so a statistic of one column of a large table holds that
/// column only, never the file. `progress` receives `(objects read, objects in all)`. The
/// digest is checked at the end, and a loader's error in a corrupted file is reported as the
/// corruption.
///
/// # Errors
/// [`AppError::Format`] for a bad file; [`ringvault_core::Error::InvalidInput`] for a column
/// the table does not have; wire errors.
pub fn table_from_reader<B: Backend, R: std::io::Read>(ctx: &StatsContext<B>, input: R, len: u64, columns: Option<&[&str]>, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<EncryptedTable<B>, AppError> {
    let mut reader = container::Reader::new(input, len, &["table"]).map_err(AppError::Format)?;
    check_params(ctx, reader.header())?;
    let m: TableMeta = meta(reader.header())?;
    let n = ctx.params().n();
    let moduli = ctx.schemes().len();
    let chunks = m.records.div_ceil(n);
    if m.records == 0 || m.columns.is_empty() {
        return Err(AppError::Format("a table needs at least one record and one column".into()));
    }
    if m.columns.len().checked_mul(moduli * chunks) != Some(reader.header().objects) {
        return Err(AppError::Format(format!("{} objects for {} columns of {} records", reader.header().objects, m.columns.len(), m.records)));
    }
    if let Some(wanted) = columns
        && let Some(missing) = wanted.iter().find(|w| !m.columns.iter().any(|c| c.name == **w))
    {
        // The evaluator's own words for an unknown column (a request error, not a bad file).
        let names: Vec<String> = m.columns.iter().map(|c| format!("{:?}", c.name)).collect();
        return Err(ringvault_core::Error::InvalidInput { what: format!("no column {missing:?}; the table has {}", names.join(", ")) }.into());
    }
    let keep: Vec<bool> = m.columns.iter().map(|c| columns.is_none_or(|w| w.contains(&c.name.as_str()))).collect();
    // ciphertexts[column][modulus] gathers the chunks of every block in order: per block,
    // each column's `chunks × moduli` objects.
    let mut ciphertexts: Vec<Vec<Vec<_>>> = keep.iter().map(|_| (0..moduli).map(|_| Vec::new()).collect()).collect();
    let mut gather = |reader: &mut container::Reader<R>| -> Result<(), AppError> {
        for block in m.blocks(n)? {
            let chunks = block.len().div_ceil(n);
            for (column, &kept) in ciphertexts.iter_mut().zip(&keep) {
                let mut objects = Vec::with_capacity(if kept { chunks * moduli } else { 0 });
                for _ in 0..chunks * moduli {
                    if let Some(o) = reader.next_object(kept).map_err(AppError::Format)? {
                        objects.push(o);
                    }
                    progress(reader.objects_seen(), reader.header().objects);
                }
                if kept {
                    for (all, part) in column.iter_mut().zip(ctx.chunks_from_objects(chunks, &objects)?) {
                        all.extend(part);
                    }
                }
            }
        }
        Ok(())
    };
    if let Err(e) = gather(&mut reader) {
        return Err(reader.explain(e));
    }
    reader.finish().map_err(AppError::Format)?;
    let kept = m.columns.into_iter().zip(ciphertexts).zip(keep).filter_map(|(c, k)| k.then_some(c)).collect();
    Ok(ctx.table_from_parts(m.records, kept)?)
}

fn stat_meta<B: Backend>(r: &EncryptedStat<B>) -> StatMeta {
    StatMeta {
        stat: r.stat.name().into(),
        column: r.column.clone(),
        scale: r.scale,
        sum_bound_bits: r.sum_bound_bits,
        squares_bound_bits: r.squares_bound_bits,
        has_sum: r.sum.is_some(),
        has_squares: r.squares.is_some(),
    }
}

/// The bytes of a `stat` file.
///
/// # Errors
/// Serialization errors.
pub fn stat_file<B: Backend>(ctx: &StatsContext<B>, r: &EncryptedStat<B>) -> Result<Vec<u8>, AppError> {
    let objects = ctx.stat_to_objects(r)?;
    container::encode(&header("stat", ctx.params(), objects.len(), to_value(&stat_meta(r))?), &objects)
}

/// The bytes of a `stats` file: several statistics, each as in a `stat` file.
///
/// # Errors
/// Serialization errors.
pub fn stats_file<B: Backend>(ctx: &StatsContext<B>, results: &[EncryptedStat<B>]) -> Result<Vec<u8>, AppError> {
    let mut objects = Vec::new();
    for r in results {
        objects.extend(ctx.stat_to_objects(r)?);
    }
    let m = StatsMeta { stats: results.iter().map(stat_meta).collect() };
    container::encode(&header("stats", ctx.params(), objects.len(), to_value(&m)?), &objects)
}

/// The bytes of a `scores` file.
///
/// # Errors
/// Serialization errors.
pub fn scores_file<B: Backend>(ctx: &StatsContext<B>, r: &EncryptedScores<B>) -> Result<Vec<u8>, AppError> {
    let objects = ctx.scores_to_objects(r)?;
    let n = ctx.params().n();
    let filled = r.chunk_records.iter().enumerate().all(|(c, &k)| k == n || c + 1 == r.chunk_records.len());
    let m = ScoresMeta { records: r.records, scale: r.scale, bound_bits: r.bound_bits, missing: r.missing.clone(), chunks: r.chunk_records.len(), chunk_records: (!filled).then(|| r.chunk_records.clone()) };
    container::encode(&header("scores", ctx.params(), objects.len(), to_value(&m)?), &objects)
}

/// The decimals of a `scores` file's scores (public metadata).
///
/// # Errors
/// [`AppError::Format`] for another file.
pub fn scores_scale(bytes: &[u8]) -> Result<u32, AppError> {
    let (h, _) = container::peek_header(bytes).map_err(AppError::Format)?;
    match h.kind.as_str() {
        "scores" => Ok(meta::<ScoresMeta>(&h)?.scale),
        "row-scores" => Ok(meta::<crate::rows::RowScoresMeta>(&h)?.scale),
        other => Err(AppError::Format(format!("expected a scores file, found {other}"))),
    }
}

/// A decrypted result.
#[derive(Clone, Debug, PartialEq)]
pub enum Decrypted {
    /// A statistic.
    Stat(StatValue),
    /// Several statistics (a batched query), in the order asked.
    Stats(Vec<StatValue>),
    /// Per-record scores and their probabilities (`None`: a record with a skipped cell).
    Scores {
        /// `b + w·x`.
        scores: Vec<Option<f64>>,
        /// `sigmoid(score)`.
        probabilities: Vec<Option<f64>>,
    },
}

impl Decrypted {
    /// One JSON object: `{"stat","column","count","value"}`, `{"stats": [those]}` or
    /// `{"scores","probabilities"}`.
    ///
    /// # Errors
    /// [`AppError::Format`] (serialization).
    pub fn to_json(&self) -> Result<String, AppError> {
        // A struct, not a map: the keys print in this order.
        #[derive(Serialize)]
        struct One<'a> {
            stat: &'a str,
            column: &'a str,
            count: usize,
            value: f64,
        }
        fn one(v: &StatValue) -> One<'_> {
            One { stat: &v.stat, column: &v.column, count: v.count, value: v.value }
        }
        match self {
            Self::Stat(v) => serde_json::to_string(&one(v)),
            Self::Stats(all) => {
                #[derive(Serialize)]
                struct Out<'a> {
                    stats: Vec<One<'a>>,
                }
                serde_json::to_string(&Out { stats: all.iter().map(one).collect() })
            }
            Self::Scores { scores, probabilities } => {
                #[derive(Serialize)]
                struct Out<'a> {
                    scores: &'a [Option<f64>],
                    probabilities: &'a [Option<f64>],
                }
                serde_json::to_string(&Out { scores, probabilities })
            }
        }
        .map_err(|e| AppError::Format(e.to_string()))
    }

    /// Text for people: one line for a statistic, `record\tscore\tprobability` lines.
    pub fn to_text(&self) -> String {
        let fmt_opt = |x: &Option<f64>| x.map_or_else(|| "missing".into(), |v| format!("{v:.9}"));
        let line = |v: &StatValue| format!("{} of {:?} ({} values): {}", v.stat, v.column, v.count, v.value);
        match self {
            Self::Stat(v) => line(v),
            Self::Stats(all) => all.iter().map(line).collect::<Vec<_>>().join("\n"),
            Self::Scores { scores, probabilities } => {
                scores.iter().zip(probabilities).enumerate().map(|(i, (s, p))| format!("{}\t{}\t{}", i + 1, fmt_opt(s), fmt_opt(p))).collect::<Vec<_>>().join("\n")
            }
        }
    }
}

/// The owner's decryptor: one context and secret for many result files.
pub struct OwnerDecryptor<B: Backend> {
    ctx: StatsContext<B>,
    sk: ringvault_core::stats::StatsSecretKey,
}

impl<B: Backend> OwnerDecryptor<B> {
    /// Opens the owner's `secret.key` file (its header names the parameters).
    ///
    /// # Errors
    /// [`AppError::Format`] for another kind of file; wire errors.
    pub fn new(backend: Arc<B>, secret_key: &[u8]) -> Result<Self, AppError> {
        let (h, _) = container::peek_header(secret_key).map_err(AppError::Format)?;
        let ctx = StatsContext::new(backend, params_of(&h)?)?;
        let sk = crate::keys::open_secret(&ctx, secret_key)?;
        Ok(Self { ctx, sk })
    }

    /// Decrypts a result file: `stat`, `stats`, `scores`, or the vault's `totals` and
    /// `row-scores`.
    ///
    /// # Errors
    /// [`AppError::Format`] for files that are not what they claim or belong to other keys;
    /// decryption errors (noise exhausted, a value that wrapped).
    pub fn decrypt(&self, result: &[u8]) -> Result<Decrypted, AppError> {
        let (h, objects) = container::parse(result, &["stat", "stats", "scores", "totals", "row-scores"]).map_err(AppError::Format)?;
        check_params(&self.ctx, &h)?;
        let ctx = &self.ctx;
        let dec = ctx.decryptor(&self.sk)?;
        let scored = |scores: Vec<Option<f64>>| {
            let probabilities = scores.iter().map(|s| s.map(sigmoid)).collect();
            Decrypted::Scores { scores, probabilities }
        };
        match h.kind.as_str() {
            "totals" => {
                let (mut values, batched) = crate::rows::decrypt_totals(ctx, &dec, &h, &objects)?;
                return Ok(match (batched, values.pop()) {
                    (false, Some(v)) => Decrypted::Stat(v),
                    (_, last) => Decrypted::Stats(values.into_iter().chain(last).collect()),
                });
            }
            "row-scores" => return Ok(scored(crate::rows::decrypt_row_scores(ctx, &dec, &h, &objects)?)),
            _ => {}
        }
        let finish = |m: StatMeta, objects: &[&[u8]]| -> Result<StatValue, AppError> {
            let stat: Stat = m.stat.parse()?;
            let (sum, squares) = ctx.stat_parts_from_objects(m.has_sum, m.has_squares, objects)?;
            let r = EncryptedStat { stat, column: m.column, scale: m.scale, sum_bound_bits: m.sum_bound_bits, squares_bound_bits: m.squares_bound_bits, sum, squares };
            Ok(dec.finish(&r)?)
        };
        if h.kind == "stat" {
            return Ok(Decrypted::Stat(finish(meta(&h)?, &objects)?));
        }
        if h.kind == "stats" {
            let m: StatsMeta = meta(&h)?;
            let k = ctx.schemes().len();
            let per: Vec<usize> = m.stats.iter().map(|s| k * (usize::from(s.has_sum) + usize::from(s.has_squares))).collect();
            if per.iter().sum::<usize>() != objects.len() {
                return Err(AppError::Format(format!("{} objects for {} statistics", objects.len(), m.stats.len())));
            }
            let mut rest = objects.as_slice();
            let mut out = Vec::with_capacity(m.stats.len());
            for (s, n) in m.stats.into_iter().zip(per) {
                let (mine, tail) = rest.split_at(n);
                out.push(finish(s, mine)?);
                rest = tail;
            }
            return Ok(Decrypted::Stats(out));
        }
        let m: ScoresMeta = meta(&h)?;
        let n = ctx.params().n();
        let chunk_records = match m.chunk_records {
            Some(c) => c,
            None => (0..m.chunks).map(|c| m.records.saturating_sub(c * n).min(n)).collect(),
        };
        if chunk_records.len() != m.chunks || chunk_records.iter().sum::<usize>() != m.records {
            return Err(AppError::Format(format!("scores of {} records in {} chunks", m.records, m.chunks)));
        }
        let chunks = ctx.chunks_from_objects(m.chunks, &objects)?;
        let r = EncryptedScores { records: m.records, scale: m.scale, bound_bits: m.bound_bits, missing: m.missing, chunk_records, chunks };
        Ok(scored(dec.scores(&r)?))
    }
}

/// Decrypts a `stat` or `scores` file with the owner's `secret.key` file (see
/// [`OwnerDecryptor`] for many files).
///
/// # Errors
/// As [`OwnerDecryptor::new`] and [`OwnerDecryptor::decrypt`].
pub fn decrypt<B: Backend>(backend: Arc<B>, secret_key: &[u8], result: &[u8]) -> Result<Decrypted, AppError> {
    OwnerDecryptor::new(backend, secret_key)?.decrypt(result)
}
