//! Row-packed records and their results as files (the vault's uploads and answers).
//!
//! | kind | metadata | objects |
//! |---|---|---|
//! | `rows` | [`RowsMeta`] | `[modulus][chunk]` over the plan's moduli |
//! | `totals` | [`TotalsMeta`] | one ciphertext per used modulus |
//! | `row-scores` | [`RowScoresMeta`] | `[modulus][result]` over the used moduli |

use serde::{Deserialize, Serialize};

use ringvault_core::Backend;
use ringvault_core::stats::{ColumnInfo, EncryptedRowScores, EncryptedRows, EncryptedTotals, RowPlan, ScoreSegment, Stat, StatValue, StatsContext, StatsDecryptor};

use crate::container::{self, Header};
use crate::keys::header;
use crate::results::{check_params, meta, to_value};
use crate::query::StatColumn;
use crate::AppError;

/// Metadata of an upload's records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowsMeta {
    /// Moduli, level and squares.
    pub plan: RowPlan,
    /// The columns' public descriptions, in schema order.
    pub columns: Vec<ColumnInfo>,
    /// Records per ciphertext chunk.
    pub chunk_records: Vec<usize>,
    /// Hex SHA-256 of the public keys it was encrypted under ([`crate::keys::public_key_digest`]).
    pub public_key: String,
}

/// Metadata of row totals and the statistics asked of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotalsMeta {
    /// The plan of the rows summed.
    pub plan: RowPlan,
    /// The columns over the records summed.
    pub columns: Vec<ColumnInfo>,
    /// The statistics asked, in order.
    pub requests: Vec<StatColumn>,
    /// Asked as a batch (decrypts to several statistics) rather than one.
    pub batched: bool,
}

/// Metadata of row scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowScoresMeta {
    /// Records scored.
    pub records: usize,
    /// Decimals of the scores.
    pub scale: u32,
    /// `|score·10^scale| < 2^bound_bits`.
    pub bound_bits: u64,
    /// Records whose score is not meaningful (a skipped cell).
    pub missing: Vec<usize>,
    /// Used plaintext moduli.
    pub moduli: usize,
    /// Coefficients between records of a segment.
    pub stride: usize,
    /// Per result ciphertext, its segments.
    pub segments: Vec<Vec<ScoreSegment>>,
}

/// The bytes of a `rows` file naming the digest of the public keys it was encrypted under.
///
/// # Errors
/// Serialization errors.
pub fn rows_file<B: Backend>(ctx: &StatsContext<B>, rows: &EncryptedRows<B>, public_key: &str) -> Result<Vec<u8>, AppError> {
    let objects: Vec<_> = ctx.used_chunks(rows.ciphertexts())?.collect();
    let m = RowsMeta { plan: rows.plan(), columns: rows.columns().to_vec(), chunk_records: rows.chunk_records().to_vec(), public_key: public_key.to_string() };
    // Each ciphertext serialized straight into the file's buffer.
    let mut w = container::Writer::in_memory(&header("rows", ctx.params(), objects.len(), to_value(&m)?), objects.iter().map(|(s, c)| c.wire_len(s)).sum())?;
    for (s, c) in objects {
        w.push_with(|out| Ok(c.write_to(s, out)?))?;
    }
    w.finish()
}

/// Rows from a `rows` file's metadata and objects: the object count against the metadata
/// first, then every ciphertext through its wire loader and the shape against the plan.
///
/// # Errors
/// [`AppError::Format`]; wire and shape errors.
pub fn rows_from_parts<B: Backend, O: AsRef<[u8]>>(ctx: &StatsContext<B>, m: RowsMeta, objects: &[O]) -> Result<EncryptedRows<B>, AppError> {
    let chunks = m.chunk_records.len();
    if chunks == 0 || m.plan.moduli.checked_mul(chunks) != Some(objects.len()) {
        return Err(AppError::Format(format!("{} objects for {} chunks under {} moduli", objects.len(), chunks, m.plan.moduli)));
    }
    let cts = ctx.used_chunks_from_objects(m.plan.moduli, chunks, objects)?;
    Ok(ctx.rows_from_parts(m.plan, m.columns, m.chunk_records, cts)?)
}

/// Reads stored `rows` files (uploads, in order) into one row table.
///
/// # Errors
/// [`AppError::Format`] for files that do not fit one another or `ctx`; wire errors.
pub fn rows_from_files<B: Backend, F: AsRef<[u8]>>(ctx: &StatsContext<B>, files: &[F]) -> Result<EncryptedRows<B>, AppError> {
    let mut parts = Vec::with_capacity(files.len());
    for bytes in files {
        let (h, objects) = container::parse(bytes.as_ref(), &["rows"]).map_err(AppError::Format)?;
        check_params(ctx, &h)?;
        parts.push(rows_from_parts(ctx, meta(&h)?, &objects)?);
    }
    Ok(ctx.concat_rows(parts)?)
}

/// The bytes of a `totals` file answering `requests`.
///
/// # Errors
/// Serialization errors.
pub fn totals_file<B: Backend>(ctx: &StatsContext<B>, totals: &EncryptedTotals<B>, requests: &[(Stat, &str)], batched: bool) -> Result<Vec<u8>, AppError> {
    let objects = totals.totals.iter().zip(ctx.schemes()).map(|(c, s)| c.to_bytes(s)).collect::<Result<Vec<_>, _>>()?;
    let requests = requests.iter().map(|(s, c)| StatColumn { stat: s.name().into(), column: (*c).to_string() }).collect();
    let m = TotalsMeta { plan: totals.plan, columns: totals.columns.clone(), requests, batched };
    container::encode(&header("totals", ctx.params(), objects.len(), to_value(&m)?), &objects)
}

/// The bytes of a `row-scores` file.
///
/// # Errors
/// Serialization errors.
pub fn row_scores_file<B: Backend>(ctx: &StatsContext<B>, s: &EncryptedRowScores<B>) -> Result<Vec<u8>, AppError> {
    if s.ciphertexts.first().is_some_and(|v| v.len() != s.segments.len()) {
        return Err(AppError::Format(format!("scores under {} moduli for {} results", s.ciphertexts.len(), s.segments.len())));
    }
    // Many ciphertexts for many records: serialized in parallel, in `[modulus][result]` order.
    let objects: Vec<_> = ctx.used_chunks(&s.ciphertexts)?.collect();
    let m = RowScoresMeta { records: s.records, scale: s.scale, bound_bits: s.bound_bits, missing: s.missing.clone(), moduli: s.ciphertexts.len(), stride: s.stride, segments: s.segments.clone() };
    container::encode_par(&header("row-scores", ctx.params(), objects.len(), to_value(&m)?), &objects, |(scheme, c)| c.wire_len(scheme), |(scheme, c), out| Ok(c.write_to(scheme, out)?))
}

/// Totals from a parsed `totals` file: the ciphertexts through their wire loaders, their
/// shape against the plan; with the statistics the file answers.
fn totals_from_parts<B: Backend, O: AsRef<[u8]>>(ctx: &StatsContext<B>, h: &Header, objects: &[O]) -> Result<(EncryptedTotals<B>, Vec<StatColumn>, bool), AppError> {
    let m: TotalsMeta = meta(h)?;
    let totals = ctx.used_chunks_from_objects(m.plan.moduli, 1, objects)?.into_iter().flatten().collect();
    Ok((EncryptedTotals { plan: m.plan, columns: m.columns, totals }, m.requests, m.batched))
}

/// Reads a `totals` file (a partial sum kept or sent between workers, or an answer): the
/// totals, the statistics asked of them and whether they were asked as a batch.
///
/// # Errors
/// [`AppError::Format`] for another kind of file or other parameters than `ctx`'s; wire
/// errors.
pub fn totals_from_file<B: Backend>(ctx: &StatsContext<B>, bytes: &[u8]) -> Result<(EncryptedTotals<B>, Vec<StatColumn>, bool), AppError> {
    let (h, objects) = container::parse(bytes, &["totals"]).map_err(AppError::Format)?;
    check_params(ctx, &h)?;
    totals_from_parts(ctx, &h, &objects)
}

/// Splits a `rows` file into one `rows` file per ciphertext chunk, in order, each with its
/// number of records: the ciphertexts' bytes are kept as they are (not decoded here: every
/// reader validates them), the columns' counts and skipped records are those of the chunk.
/// What a table of one chunk per row (a Parquet export) stores.
///
/// # Errors
/// [`AppError::Format`] for a file that is not a well-formed `rows` file.
pub fn chunk_files(bytes: &[u8]) -> Result<Vec<(usize, Vec<u8>)>, AppError> {
    let (h, objects) = container::parse(bytes, &["rows"]).map_err(AppError::Format)?;
    let m: RowsMeta = meta(&h)?;
    let chunks = m.chunk_records.len();
    if chunks == 0 || m.plan.moduli.checked_mul(chunks) != Some(objects.len()) {
        return Err(AppError::Format(format!("{} objects for {} chunks under {} moduli", objects.len(), chunks, m.plan.moduli)));
    }
    let mut first = 0usize;
    let mut out = Vec::with_capacity(chunks);
    for (k, &records) in m.chunk_records.iter().enumerate() {
        let end = first.checked_add(records).ok_or_else(|| AppError::Format("chunk record counts overflow".into()))?;
        let columns = m
            .columns
            .iter()
            .map(|c| {
                let missing: Vec<usize> = c.missing.iter().filter(|&&r| (first..end).contains(&r)).map(|r| r - first).collect();
                ColumnInfo { count: records.saturating_sub(missing.len()), missing, ..c.clone() }
            })
            .collect();
        let part = RowsMeta { plan: m.plan, columns, chunk_records: vec![records], public_key: m.public_key.clone() };
        // Modulus-major: chunk k's ciphertext under modulus i is object i·chunks + k.
        let picked: Vec<&[u8]> = (0..m.plan.moduli).map(|i| objects[i * chunks + k]).collect();
        let header = Header { objects: picked.len(), meta: to_value(&part)?, ..h.clone() };
        out.push((records, container::encode(&header, &picked)?));
        first = end;
    }
    Ok(out)
}

/// Decrypts a parsed `totals` file: one statistic, or several when asked as a batch.
pub(crate) fn decrypt_totals<B: Backend, O: AsRef<[u8]>>(ctx: &StatsContext<B>, dec: &StatsDecryptor<'_, B>, h: &Header, objects: &[O]) -> Result<(Vec<StatValue>, bool), AppError> {
    let (t, asked, batched) = totals_from_parts(ctx, h, objects)?;
    let requests = asked.iter().map(|r| Ok((r.stat.parse::<Stat>()?, r.column.as_str()))).collect::<Result<Vec<_>, AppError>>()?;
    if requests.is_empty() || (!batched && requests.len() != 1) {
        return Err(AppError::Format(format!("a totals file answering {} statistics", requests.len())));
    }
    Ok((dec.totals(&t, &requests)?, batched))
}

/// Decrypts a parsed `row-scores` file, in record order. The results are split into one run
/// per rayon thread, each parsed and decrypted on its own (a million scores are a few thousand
/// ciphertexts), and the runs' scores joined in order.
pub(crate) fn decrypt_row_scores<B: Backend, O: AsRef<[u8]> + Sync>(ctx: &StatsContext<B>, dec: &StatsDecryptor<'_, B>, h: &Header, objects: &[O]) -> Result<Vec<Option<f64>>, AppError> {
    use rayon::prelude::*;
    let m: RowScoresMeta = meta(h)?;
    let results = m.segments.len();
    if results == 0 || m.moduli.checked_mul(results) != Some(objects.len()) {
        return Err(AppError::Format(format!("{} objects for {} score ciphertexts", objects.len(), results)));
    }
    let per_result: Vec<usize> = m.segments.iter().map(|segs| segs.iter().map(|g| g.records).sum()).collect();
    if per_result.iter().sum::<usize>() != m.records {
        return Err(AppError::Format(format!("score segments of {} records for {} records", per_result.iter().sum::<usize>(), m.records)));
    }
    let run = results.div_ceil(rayon::current_num_threads().max(1)).max(1);
    let runs: Vec<Vec<Option<f64>>> = (0..results)
        .step_by(run)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            let end = (start + run).min(results);
            let first: usize = per_result[..start].iter().sum();
            let records: usize = per_result[start..end].iter().sum();
            // `[modulus][result]` objects of this run's results.
            let mine: Vec<&[u8]> = (0..m.moduli).flat_map(|k| objects[k * results + start..k * results + end].iter().map(AsRef::as_ref)).collect();
            let ciphertexts = ctx.used_chunks_from_objects(m.moduli, end - start, &mine)?;
            let missing = m.missing.iter().filter(|&&r| r >= first && r < first + records).map(|r| r - first).collect();
            let s = EncryptedRowScores { records, scale: m.scale, bound_bits: m.bound_bits, missing, stride: m.stride, segments: m.segments[start..end].to_vec(), ciphertexts };
            Ok(dec.row_scores(&s)?)
        })
        .collect::<Result<_, AppError>>()?;
    Ok(runs.concat())
}
