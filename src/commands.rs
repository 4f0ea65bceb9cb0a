//! The file-based flow of the command line: `keygen`, `encrypt`, `eval`, `decrypt`, generic
//! over the backend. The owner runs `keygen`, `encrypt` and `decrypt`; the server runs `eval`
//! with `eval.keys` only (it never opens `secret.key`). Every format is the application
//! layer's ([`ringvault_app`]); this module reads arguments and files and says what it did.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ringvault_app::keys::{self, EVAL_KEYS, PUBLIC_KEY, SECRET_KEY};
use ringvault_app::local::{TableEncryptor, TableEvaluator};
use ringvault_app::results;
use ringvault_core::Backend;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::{LogisticModel, Stat};

use crate::CliError;

/// Generates keys into `dir`: `secret.key` (owner only), `public.key`, `eval.keys`.
///
/// # Errors
/// Key generation and I/O errors.
pub fn keygen<B: Backend>(backend: Arc<B>, dir: &Path, preset: Preset, max_records: u64) -> Result<String, CliError> {
    let params = keys::generate_into(backend, dir, preset, max_records)?;
    Ok(format!(
        "keys for {} ({} plaintext moduli, {} bits of exact integers; evaluation keys for tables of up to {max_records} records) written to {}: {SECRET_KEY} (keep it), {PUBLIC_KEY}, {EVAL_KEYS}",
        preset.name(),
        params.moduli().len(),
        params.capacity_bits(),
        dir.display()
    ))
}

/// Encrypts a CSV file with the public key only, streaming `block_chunks` chunks of `n`
/// records at a time ([`TableEncryptor::encrypt_csv`]), with a progress bar.
///
/// # Errors
/// CSV, encryption and I/O errors.
pub fn encrypt<B: Backend>(backend: Arc<B>, keys_dir: &Path, csv: &Path, out: &Path, decimals: &BTreeMap<String, u32>, skip_missing: bool, block_chunks: usize) -> Result<String, CliError> {
    let encryptor = TableEncryptor::new(backend, &keys::read_file(&keys_dir.join(PUBLIC_KEY))?)?;
    let bar = crate::vault_cli::progress_bar(0, "encrypting");
    let done = encryptor.encrypt_csv(csv, out, decimals, skip_missing, block_chunks, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let done = done?;
    Ok(format!("encrypted {done}\nwritten to {} ({} bytes)", out.display(), done.file_bytes))
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
pub fn eval<B: Backend>(backend: Arc<B>, keys_dir: &Path, data: &Path, request: &EvalRequest, out: &Path) -> Result<String, CliError> {
    let pb = crate::vault_cli::progress_bar(0, "reading the table");
    let bar = pb.clone();
    let evaluator = TableEvaluator::new(backend, &keys::read_file(&keys_dir.join(EVAL_KEYS))?)?.with_progress(move |done, all| {
        bar.set_length(all as u64);
        bar.set_position(done as u64);
    });
    let in_data = |e: CliError| match e {
        CliError::Format(m) => CliError::Format(format!("{}: {m}", data.display())),
        other => other,
    };
    // Read object by object: memory holds the columns the computation uses, not the file.
    let answer = match request {
        EvalRequest::Stat(stat, column) => evaluator.stat(data, *stat, column),
        EvalRequest::LogReg(model) => evaluator.logistic(data, model),
    };
    pb.finish_and_clear();
    let answer = answer.map_err(in_data)?;
    keys::write_file(out, &answer)?;
    match request {
        EvalRequest::Stat(stat, column) => {
            Ok(format!("encrypted {stat} of {column:?} written to {}", out.display()))
        }
        EvalRequest::LogReg(_) => {
            let (h, _) = ringvault_app::container::peek_header(&answer).map_err(CliError::Format)?;
            Ok(format!("encrypted scores of {} records written to {}", h.meta["records"], out.display()))
        }
    }
}

/// Decrypts a result with the secret key; the text or JSON to print.
///
/// # Errors
/// Key, decryption and I/O errors.
pub fn decrypt<B: Backend>(backend: Arc<B>, keys_dir: &Path, result: &Path, as_json: bool) -> Result<String, CliError> {
    let bytes = keys::read_file(result)?;
    let secret = keys::read_file(&keys_dir.join(SECRET_KEY))?;
    let d = results::decrypt(backend, &secret, &bytes).map_err(|e| match e {
        CliError::Format(m) => CliError::Format(format!("{}: {m}", result.display())),
        other => other,
    })?;
    if as_json { d.to_json() } else { Ok(d.to_text()) }
}
