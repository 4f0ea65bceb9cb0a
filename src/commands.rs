//! The file-based flow of the command line: `keygen`, `encrypt`, `eval`, `decrypt`, generic
//! over the backend. The owner runs `keygen`, `encrypt` and `decrypt`; the server runs `eval`
//! with `public.key` and `eval.keys` only (it never opens `secret.key`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use ringvault_core::scheme::{Ciphertext, EvaluationKeys, Parameters, Preset, PublicKey, SecretKey};
use ringvault_core::{Backend, Error};
use ringvault_core::stats::{ColumnInfo, EncryptedScores, EncryptedStat, EncryptedTable, LogisticModel, Stat, StatsContext, StatsKeys, StatsParameters, StatsSecretKey, sigmoid};

use crate::files::{self, Header};
use crate::CliError;

/// File names inside a keys directory.
pub const SECRET_KEY: &str = "secret.key";
/// The public keys (all `encrypt` needs).
pub const PUBLIC_KEY: &str = "public.key";
/// The evaluation keys (relinearization and rotations) for the server.
pub const EVAL_KEYS: &str = "eval.keys";

fn header(kind: &str, params: &StatsParameters, objects: usize, meta: serde_json::Value) -> Header {
    Header { kind: kind.into(), version: files::VERSION, preset: params.preset().name().into(), moduli: params.moduli(), objects, meta }
}

/// The statistics parameters a header names (checked against this build's for the preset).
fn params_of(h: &Header) -> Result<StatsParameters, CliError> {
    let preset = Preset::from_name(&h.preset).ok_or_else(|| CliError::Format(format!("unknown preset {:?}", h.preset)))?;
    let params = StatsParameters::for_preset(preset)?;
    if params.moduli() != h.moduli {
        return Err(CliError::Format(format!("plaintext moduli {:?} differ from this build's {:?} for {}", h.moduli, params.moduli(), h.preset)));
    }
    Ok(params)
}

fn meta<T: serde::de::DeserializeOwned>(h: &Header) -> Result<T, CliError> {
    serde_json::from_value(h.meta.clone()).map_err(|e| CliError::Format(format!("{} metadata: {e}", h.kind)))
}

/// Generates keys into `dir`: `secret.key` (owner only), `public.key`, `eval.keys`.
///
/// # Errors
/// Key generation and I/O errors.
pub fn keygen<B: Backend>(backend: Arc<B>, dir: &Path, preset: Preset) -> Result<String, CliError> {
    let params = StatsParameters::for_preset(preset)?;
    let ctx = StatsContext::new(backend, params.clone())?;
    let mut rng = ringvault_core::scheme::sampling::default_rng();
    let (sk, keys) = ctx.generate_keys(&mut rng)?;
    let k = params.moduli().len();
    let secret: Vec<Vec<u8>> = sk.keys().iter().map(|s| s.export_secret_bytes().to_vec()).collect();
    files::write(&dir.join(SECRET_KEY), &header("secret-keys", &params, k, json!({})), &secret)?;
    let public: Vec<Vec<u8>> = keys.keys().iter().map(|e| e.public_key().to_bytes()).collect();
    files::write(&dir.join(PUBLIC_KEY), &header("public-keys", &params, k, json!({})), &public)?;
    let eval = keys.keys().iter().map(EvaluationKeys::to_bytes).collect::<Result<Vec<_>, _>>()?;
    files::write(&dir.join(EVAL_KEYS), &header("evaluation-keys", &params, k, json!({})), &eval)?;
    Ok(format!(
        "keys for {} ({} plaintext moduli, {} bits of exact integers) written to {}: {SECRET_KEY} (keep it), {PUBLIC_KEY}, {EVAL_KEYS}",
        preset.name(),
        k,
        params.capacity_bits(),
        dir.display()
    ))
}

/// A key file's statistics context (from its header) and its keys, loaded with `load`.
fn open_keys<B: Backend, T>(backend: Arc<B>, path: &Path, kind: &str, load: impl Fn(&Arc<Parameters>, &[u8]) -> Result<T, Error>) -> Result<(StatsContext<B>, Vec<T>), CliError> {
    let (h, objects) = files::read(path, kind)?;
    let ctx = StatsContext::new(backend, params_of(&h)?)?;
    let keys = keys_of(&ctx, &objects, path, load)?;
    Ok((ctx, keys))
}

/// One key per plaintext modulus of `ctx`, each loaded from its object with `load`.
fn keys_of<B: Backend, T>(ctx: &StatsContext<B>, objects: &[Vec<u8>], path: &Path, load: impl Fn(&Arc<Parameters>, &[u8]) -> Result<T, Error>) -> Result<Vec<T>, CliError> {
    if objects.len() != ctx.schemes().len() {
        return Err(CliError::Format(format!("{}: {} keys for {} plaintext moduli", path.display(), objects.len(), ctx.schemes().len())));
    }
    ctx.schemes().iter().zip(objects).map(|(s, o)| Ok(load(s.params(), o)?)).collect()
}

fn load_secret<B: Backend>(ctx: &StatsContext<B>, dir: &Path) -> Result<StatsSecretKey, CliError> {
    let path = dir.join(SECRET_KEY);
    let (h, objects) = files::read(&path, "secret-keys")?;
    if params_of(&h)?.moduli() != ctx.params().moduli() {
        return Err(CliError::Format("secret.key belongs to another key set".into()));
    }
    Ok(StatsSecretKey::from_keys(keys_of(ctx, &objects, &path, SecretKey::import_secret_bytes)?))
}

/// Table metadata in a data file.
#[derive(serde::Serialize, serde::Deserialize)]
struct TableMeta {
    records: usize,
    columns: Vec<ColumnInfo>,
}

/// Writes an encrypted table.
///
/// # Errors
/// Serialization and I/O errors.
pub fn save_table<B: Backend>(ctx: &StatsContext<B>, table: &EncryptedTable<B>, out: &Path) -> Result<(), CliError> {
    let mut objects = Vec::new();
    for c in table.columns() {
        for (s, per) in ctx.schemes().iter().zip(c.ciphertexts()) {
            for ct in per {
                objects.push(ct.to_bytes(s)?);
            }
        }
    }
    let meta = TableMeta { records: table.records(), columns: table.columns().iter().map(|c| c.info().clone()).collect() };
    let meta = serde_json::to_value(meta).map_err(|e| CliError::Format(e.to_string()))?;
    files::write(out, &header("table", ctx.params(), objects.len(), meta), &objects)
}

fn load_table<B: Backend>(ctx: &StatsContext<B>, path: &Path) -> Result<EncryptedTable<B>, CliError> {
    let (h, objects) = files::read(path, "table")?;
    if params_of(&h)?.moduli() != ctx.params().moduli() {
        return Err(CliError::Format(format!("{}: encrypted under other keys", path.display())));
    }
    let m: TableMeta = meta(&h)?;
    let chunks = m.records.div_ceil(ctx.params().n()).max(1);
    let k = ctx.schemes().len();
    if m.columns.len().checked_mul(k * chunks) != Some(objects.len()) {
        return Err(CliError::Format(format!("{}: {} objects for {} columns", path.display(), objects.len(), m.columns.len())));
    }
    let mut it = objects.iter();
    let mut columns = Vec::with_capacity(m.columns.len());
    for info in m.columns {
        let mut per = Vec::with_capacity(k);
        for s in ctx.schemes() {
            let cts = (0..chunks).map(|_| it.next().ok_or_else(|| CliError::Format("missing ciphertext".into())).and_then(|o| Ok(Ciphertext::from_bytes(s, o)?))).collect::<Result<Vec<_>, _>>()?;
            per.push(cts);
        }
        columns.push((info, per));
    }
    Ok(ctx.table_from_parts(m.records, columns)?)
}

/// Encrypts a CSV file with the public key only.
///
/// # Errors
/// CSV, encryption and I/O errors.
pub fn encrypt<B: Backend>(backend: Arc<B>, keys: &Path, csv: &Path, out: &Path, decimals: &BTreeMap<String, u32>, skip_missing: bool) -> Result<String, CliError> {
    let (ctx, public) = open_keys(backend, &keys.join(PUBLIC_KEY), "public-keys", PublicKey::from_bytes)?;
    let text = std::fs::read_to_string(csv).map_err(|e| CliError::Io { path: csv.display().to_string(), reason: e.to_string() })?;
    let plain = crate::csv::read_table(&text, decimals, skip_missing)?;
    let refs: Vec<&PublicKey> = public.iter().collect();
    let mut rng = ringvault_core::scheme::sampling::default_rng();
    let table = ctx.encrypt_table(&refs, &plain.columns, &mut rng)?;
    save_table(&ctx, &table, out)?;
    Ok(format!("encrypted {plain}\nwritten to {}", out.display()))
}

/// Stat result metadata.
#[derive(serde::Serialize, serde::Deserialize)]
struct StatMeta {
    stat: String,
    column: ColumnInfo,
    scale: u32,
    sum_bound_bits: u64,
    squares_bound_bits: u64,
    has_sum: bool,
    has_squares: bool,
}

/// Scores metadata.
#[derive(serde::Serialize, serde::Deserialize)]
struct ScoresMeta {
    records: usize,
    scale: u32,
    bound_bits: u64,
    missing: Vec<usize>,
    chunks: usize,
}

/// Writes an encrypted statistic.
///
/// # Errors
/// Serialization and I/O errors.
pub fn save_stat<B: Backend>(ctx: &StatsContext<B>, r: &EncryptedStat<B>, out: &Path) -> Result<(), CliError> {
    let mut objects = Vec::new();
    for part in [&r.sum, &r.squares].into_iter().flatten() {
        for (s, ct) in ctx.schemes().iter().zip(part) {
            objects.push(ct.to_bytes(s)?);
        }
    }
    let m = StatMeta {
        stat: r.stat.name().into(),
        column: r.column.clone(),
        scale: r.scale,
        sum_bound_bits: r.sum_bound_bits,
        squares_bound_bits: r.squares_bound_bits,
        has_sum: r.sum.is_some(),
        has_squares: r.squares.is_some(),
    };
    let m = serde_json::to_value(m).map_err(|e| CliError::Format(e.to_string()))?;
    files::write(out, &header("stat", ctx.params(), objects.len(), m), &objects)
}

/// Writes encrypted scores.
///
/// # Errors
/// Serialization and I/O errors.
pub fn save_scores<B: Backend>(ctx: &StatsContext<B>, r: &EncryptedScores<B>, out: &Path) -> Result<(), CliError> {
    let mut objects = Vec::new();
    for (s, per) in ctx.schemes().iter().zip(&r.chunks) {
        for ct in per {
            objects.push(ct.to_bytes(s)?);
        }
    }
    let chunks = r.chunks.first().map_or(0, Vec::len);
    let m = ScoresMeta { records: r.records, scale: r.scale, bound_bits: r.bound_bits, missing: r.missing.clone(), chunks };
    let m = serde_json::to_value(m).map_err(|e| CliError::Format(e.to_string()))?;
    files::write(out, &header("scores", ctx.params(), objects.len(), m), &objects)
}

/// What `eval` computes.
#[derive(Clone, Debug)]
pub enum EvalRequest {
    /// A column statistic.
    Stat(Stat, String),
    /// Logistic scores of a model file.
    LogReg(LogisticModel),
}

/// Evaluates on the server with `eval.keys` only (never `secret.key`; `public.key` is not
/// needed either).
///
/// # Errors
/// Key, data, evaluation and I/O errors.
pub fn eval<B: Backend>(backend: Arc<B>, keys: &Path, data: &Path, request: &EvalRequest, out: &Path) -> Result<String, CliError> {
    let (ctx, eval_keys) = open_keys(backend, &keys.join(EVAL_KEYS), "evaluation-keys", EvaluationKeys::from_bytes)?;
    let eval_keys = StatsKeys::from_keys(eval_keys);
    let table = load_table(&ctx, data)?;
    let ev = ctx.evaluator(&eval_keys)?;
    match request {
        EvalRequest::Stat(stat, column) => {
            let r = ev.evaluate(&table, &[(*stat, column.as_str())])?.pop().ok_or_else(|| CliError::Format("no result".into()))?;
            save_stat(&ctx, &r, out)?;
            Ok(format!("encrypted {stat} of {column:?} written to {}", out.display()))
        }
        EvalRequest::LogReg(model) => {
            let r = ev.logistic_scores(&table, model)?;
            save_scores(&ctx, &r, out)?;
            Ok(format!("encrypted scores of {} records written to {}", r.records, out.display()))
        }
    }
}

/// Decrypts a result with the secret key; the text or JSON to print.
///
/// # Errors
/// Key, decryption and I/O errors.
pub fn decrypt<B: Backend>(backend: Arc<B>, keys: &Path, result: &Path, as_json: bool) -> Result<String, CliError> {
    let (h, objects) = files::read_one_of(result, &["stat", "scores"])?;
    let params = params_of(&h)?;
    let ctx = StatsContext::new(backend, params)?;
    let sk = load_secret(&ctx, keys)?;
    let dec = ctx.decryptor(&sk)?;
    let k = ctx.schemes().len();
    let load = |objs: &[Vec<u8>]| -> Result<Vec<Ciphertext<B>>, CliError> { ctx.schemes().iter().zip(objs).map(|(s, o)| Ok(Ciphertext::from_bytes(s, o)?)).collect() };
    if h.kind == "stat" {
        let m: StatMeta = meta(&h)?;
        let expected = k * (usize::from(m.has_sum) + usize::from(m.has_squares));
        if objects.len() != expected {
            return Err(CliError::Format(format!("{}: {} objects, expected {expected}", result.display(), objects.len())));
        }
        let stat: Stat = m.stat.parse()?;
        let sum = if m.has_sum { Some(load(&objects[..k])?) } else { None };
        let squares = if m.has_squares { Some(load(&objects[objects.len() - k..])?) } else { None };
        let r = EncryptedStat { stat, column: m.column, scale: m.scale, sum_bound_bits: m.sum_bound_bits, squares_bound_bits: m.squares_bound_bits, sum, squares };
        let v = dec.finish(&r)?;
        return Ok(if as_json {
            // A struct, not a map: the keys print in this order.
            #[derive(serde::Serialize)]
            struct Out<'a> {
                stat: &'a str,
                column: &'a str,
                count: usize,
                value: f64,
            }
            serde_json::to_string(&Out { stat: &v.stat, column: &v.column, count: v.count, value: v.value }).map_err(|e| CliError::Format(e.to_string()))?
        } else {
            format!("{} of {:?} ({} values): {}", v.stat, v.column, v.count, v.value)
        });
    }
    let m: ScoresMeta = meta(&h)?;
    if m.chunks != m.records.div_ceil(ctx.params().n()).max(1) || objects.len() != k * m.chunks {
        return Err(CliError::Format(format!("{}: {} objects for {} records", result.display(), objects.len(), m.records)));
    }
    let chunks = ctx
        .schemes()
        .iter()
        .enumerate()
        .map(|(i, s)| objects[i * m.chunks..(i + 1) * m.chunks].iter().map(|o| Ok(Ciphertext::from_bytes(s, o)?)).collect::<Result<Vec<_>, CliError>>())
        .collect::<Result<Vec<_>, _>>()?;
    let r = EncryptedScores { records: m.records, scale: m.scale, bound_bits: m.bound_bits, missing: m.missing, chunks };
    let scores = dec.scores(&r)?;
    let probabilities: Vec<Option<f64>> = scores.iter().map(|s| s.map(sigmoid)).collect();
    Ok(if as_json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            scores: &'a [Option<f64>],
            probabilities: &'a [Option<f64>],
        }
        serde_json::to_string(&Out { scores: &scores, probabilities: &probabilities }).map_err(|e| CliError::Format(e.to_string()))?
    } else {
        scores.iter().zip(&probabilities).enumerate().map(|(i, (s, p))| format!("{}\t{}\t{}", i + 1, fmt_opt(*s), fmt_opt(*p))).collect::<Vec<_>>().join("\n")
    })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "missing".into(), |v| format!("{v:.9}"))
}
