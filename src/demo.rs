//! `ringvault demo`: the main job end to end, the whole cloud in one process. The vault starts
//! on a loopback port with a temporary store; the owner creates a dataset with its evaluation
//! keys; simulated monitors, each with its own device token, encrypt a synthetic cohort with
//! the public key and push it concurrently; the owner queries every column's mean, standard
//! deviation and variance and a heart-risk logistic model's scores through the vault,
//! decrypts and compares with the plaintext computation. Then the paper's 100 × 128-bit sum.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use ringvault_app::config::VaultSettings;
use ringvault_app::dataset::UploadEncryptor;
use ringvault_app::workloads::{cohort, fixed_point_of, heart_model, schema_of};
use ringvault_app::query::{QueryRequest, StatColumn};
use ringvault_app::results::Decrypted;
use ringvault_core::Backend;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::{Stat, StatsParameters, sigmoid};
use ringvault_vault::client::{self, Client};

use crate::CliError;

fn plain_stats(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

fn vault_err(e: impl std::fmt::Display) -> CliError {
    CliError::Config(format!("vault: {e}"))
}

/// Monitors pushing the cohort at once, each with its own device token.
const MONITORS: usize = 4;

/// Uploads a monitor converts to fixed point and pushes at a time.
const UPLOADS_PER_PART: usize = 8;

/// Runs the demo for `records` patients on `backend`; returns the report, whose first line is
/// `selected` (how the backend was chosen, e.g. [`Selection::note`](crate::engine::Selection::note)).
///
/// The whole cloud plays in this process: the vault listens on a loopback port over a
/// temporary store; the owner generates keys and creates a dataset; [`MONITORS`] devices,
/// each with its own token, encrypt their patients with the public key and push them
/// concurrently; the owner queries every statistic and the scores through the vault,
/// decrypts and compares with float64.
///
/// # Errors
/// Any failure of the pipeline, or a decrypted value that disagrees with the plaintext.
pub fn run<B: Backend + 'static>(backend: Arc<B>, records: usize, selected: &str) -> Result<String, CliError> {
    if records == 0 {
        return Err(CliError::Config("--records must be at least 1".into()));
    }
    let mut out = String::new();
    let mut phases: Vec<(&str, Duration)> = Vec::new();
    let total = Instant::now();
    let params = StatsParameters::for_preset(Preset::N8192)?;
    let _ = writeln!(out, "{selected}");
    let _ = writeln!(
        out,
        "parameters: {} (n = {}, ciphertext and special primes {} bits), {} plaintext moduli of {} bits: exact integers below 2^{}",
        params.preset().name(),
        params.n(),
        params.space().params()[0].total_bits(),
        params.moduli().len(),
        32 - params.moduli()[0].leading_zeros(),
        params.capacity_bits()
    );
    let scratch = tempfile::Builder::new().prefix("ringvault-demo-").tempdir().map_err(|e| CliError::Config(format!("a temporary directory: {e}")))?;

    let t = Instant::now();
    let pb = spinner("owner: generating keys");
    let keys = ringvault_app::keys::generate(backend.clone(), Preset::N8192, ringvault_app::dataset::DEFAULT_MAX_RECORDS)?;
    let eval_path = scratch.path().join("owner").join(ringvault_app::keys::EVAL_KEYS);
    ringvault_app::keys::write_file(&eval_path, &keys.eval)?;
    pb.finish_and_clear();
    phases.push(("key generation (owner)", t.elapsed()));

    let t = Instant::now();
    let data = cohort(records, 2011);
    phases.push(("synthetic cohort", t.elapsed()));

    let t = Instant::now();
    let pb = spinner("vault: starting on loopback; owner: creating the dataset and uploading evaluation keys");
    let runner: Arc<dyn ringvault_app::query::QueryRunner> = Arc::from(ringvault_app::query::runner_on(backend.clone()));
    let settings = VaultSettings { listen: "127.0.0.1:0".into(), ..VaultSettings::default() };
    let vault = ringvault_vault::spawn(ringvault_vault::ServeOptions { data: scratch.path().join("store"), settings, runner }).map_err(vault_err)?;
    let operator = Client::new(&vault.url(), vault.operator_token()).map_err(vault_err)?;
    let schema = schema_of(&data);
    let created = operator.create_dataset("demo cohort", &schema).map_err(vault_err)?;
    let owner = Client::new(&vault.url(), &created.owner_token).map_err(vault_err)?;
    let info = owner.upload_keys(&created.id, &eval_path).map_err(vault_err)?;
    pb.finish_and_clear();
    phases.push(("vault start, dataset, key upload (owner)", t.elapsed()));
    let _ = writeln!(out, "vault: {} (store on disk, fsync'd), dataset {} with {:.1} MB of evaluation keys", vault.url(), created.id, info.bytes as f64 / 1e6);

    let t = Instant::now();
    let pb = spinner(&format!("{MONITORS} monitors: encrypting {records} patients × {} columns and pushing them", data.len()));
    let share = records.div_ceil(MONITORS);
    let tokens = (0..MONITORS.min(records)).map(|m| owner.issue_device(&created.id, &format!("monitor-{}", m + 1)).map_err(vault_err)).collect::<Result<Vec<_>, _>>()?;
    let pushed: Vec<Result<usize, CliError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(m, token)| {
                let (backend, schema, data, public, url, id) = (backend.clone(), &schema, &data, &keys.public, vault.url(), &created.id);
                scope.spawn(move || -> Result<usize, CliError> {
                    let device = Client::new(&url, &token.token).map_err(vault_err)?;
                    let enc = UploadEncryptor::new(backend, schema, public)?;
                    let mine = m * share..((m + 1) * share).min(records);
                    let rows = enc.default_rows_per_upload();
                    let uploads = mine.len().div_ceil(rows);
                    let mut bytes = 0;
                    // A monitor converts and pushes its readings a few uploads at a time (each
                    // encrypted one window ahead of its push): memory stays at a few uploads.
                    for start in (mine.start..mine.end).step_by(rows * UPLOADS_PER_PART) {
                        let readings = fixed_point_of(data, start..(start + rows * UPLOADS_PER_PART).min(mine.end));
                        schema.check_rows_at(&readings, start)?; // every reading within its declared range, as a device checks
                        let part = client::PushPart { first_upload: (start - mine.start) / rows, uploads };
                        bytes += device.push_part(id, &enc, &readings, rows, part, &format!("monitor-{m}"), false, (None, None), &mut |_| {}).map_err(vault_err)?.bytes;
                    }
                    Ok(bytes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(CliError::Config("a monitor thread panicked".into())))).collect()
    });
    let uploaded: usize = pushed.into_iter().sum::<Result<usize, _>>()?;
    pb.finish_and_clear();
    phases.push(("encryption and upload (monitors, public key)", t.elapsed()));
    let _ = writeln!(out, "{} monitors pushed {records} patients: {:.1} MB of ciphertexts, every upload acknowledged after fsync", tokens.len(), uploaded as f64 / 1e6);

    let t = Instant::now();
    let pb = spinner("vault: mean, stddev and variance of every column (owner's queries)");
    let requests: Vec<StatColumn> = data.iter().flat_map(|c| [Stat::Mean, Stat::Stddev, Stat::Variance].map(|s| StatColumn { stat: s.name().into(), column: c.name.into() })).collect();
    // One batched query: the slot sums of every column share each rotation.
    let batch = QueryRequest { stats: Some(requests), ..QueryRequest::default() };
    let results = owner.query(&created.id, &batch, &mut |_| {}).map_err(vault_err)?;
    pb.finish_and_clear();
    phases.push(("statistics (vault, keyless)", t.elapsed()));

    let owner_keys = ringvault_app::results::OwnerDecryptor::new(backend.clone(), &keys.secret)?;
    let t = Instant::now();
    let pb = spinner("vault: heart-risk scores, monitor by monitor; owner: decrypting each answer as it arrives");
    let model = heart_model();
    // Per monitor: a device's uploads are in the order it sent them, so its scores follow its
    // patients (uploads of different monitors interleave in arrival order). Each answer is
    // decrypted when it arrives and dropped: the owner holds one at a time.
    let (mut got_scores, mut scale, mut decrypting) = (Vec::with_capacity(records), 0, Duration::ZERO);
    for token in &tokens {
        let request = QueryRequest { logreg: Some(model.clone()), device: Some(token.id.clone()), ..QueryRequest::default() };
        let answer = owner.query(&created.id, &request, &mut |_| {}).map_err(vault_err)?;
        let d = Instant::now();
        let Decrypted::Scores { scores, .. } = owner_keys.decrypt(&answer)? else {
            return Err(CliError::Format("the scores came back as a statistic".into()));
        };
        got_scores.extend(scores);
        scale = ringvault_app::results::scores_scale(&answer)?;
        decrypting += d.elapsed();
    }
    pb.finish_and_clear();
    phases.push(("logistic scores (vault, keyless)", t.elapsed() - decrypting));

    let t = Instant::now();
    let pb = spinner("owner: decrypting");
    let Decrypted::Stats(values) = owner_keys.decrypt(&results)? else {
        return Err(CliError::Format("the statistics came back in another form".into()));
    };
    pb.finish_and_clear();
    phases.push(("decryption (owner)", t.elapsed() + decrypting));
    vault.shutdown().map_err(vault_err)?;

    let _ = writeln!(out, "\n{records} patients; every statistic computed on ciphertexts, decrypted by the owner, beside float64 on the plaintext:\n");
    let _ = writeln!(out, "{:<14} {:>14} {:>14} {:>12} {:>12} {:>14} {:>14} {:>9}", "column", "mean (enc)", "mean (plain)", "std (enc)", "std (plain)", "var (enc)", "var (plain)", "max rel");
    let mut worst = 0.0f64;
    for (c, v) in data.iter().zip(values.chunks(3)) {
        let (mean, var) = plain_stats(&c.values);
        let rel = |a: f64, b: f64| if b == 0.0 { a.abs() } else { ((a - b) / b).abs() };
        let e = rel(v[0].value, mean).max(rel(v[1].value, var.sqrt())).max(rel(v[2].value, var));
        worst = worst.max(e);
        let _ = writeln!(out, "{:<14} {:>14.6} {:>14.6} {:>12.6} {:>12.6} {:>14.6} {:>14.6} {:>9.1e}", c.name, v[0].value, mean, v[1].value, var.sqrt(), v[2].value, var, e);
    }
    if worst > 1e-9 {
        return Err(CliError::Format(format!("an encrypted statistic differs from the plaintext by {worst:e}")));
    }
    if got_scores.len() != records {
        return Err(CliError::Format(format!("{} scores for {records} patients", got_scores.len())));
    }
    let mut max_err = 0.0f64;
    let mut agree = 0;
    for (j, s) in got_scores.iter().enumerate() {
        let terms: Vec<f64> = data.iter().map(|c| model.weights[c.name] * c.values[j]).collect();
        let want = model.intercept + terms.iter().sum::<f64>();
        let scale = terms.iter().map(|x| x.abs()).sum::<f64>() + model.intercept.abs();
        let g = s.ok_or_else(|| CliError::Format("a score is missing".into()))?;
        max_err = max_err.max((g - want).abs() / scale);
        agree += usize::from((sigmoid(g) >= 0.5) == (sigmoid(want) >= 0.5));
    }
    let high = got_scores.iter().filter(|s| s.is_some_and(|x| sigmoid(x) >= 0.5)).count();
    let _ = writeln!(
        out,
        "\nheart-risk model (logistic, 9 weights from {:e} to {}): {records} encrypted scores at scale 10^-{}; largest error {max_err:.1e} of Σ|w·x| + |b|; predicted class equal on {agree}/{records} patients ({high} at risk)",
        0.0035,
        0.71,
        scale
    );
    if agree != records || max_err > 1e-6 {
        return Err(CliError::Format("encrypted scores disagree with the plaintext model".into()));
    }

    let t = Instant::now();
    let _ = writeln!(out, "\nthe paper's job: 100 encrypted 128-bit integers summed by the server (LNV 2011: 20 ms for the additions)");
    for preset in [Preset::N2048Additive, Preset::N4096] {
        let r = crate::selfcheck::sum128(backend.clone(), preset).map_err(CliError::Core)?;
        let _ = writeln!(out, "  {r}");
    }
    phases.push(("paper's 100 × 128-bit sum", t.elapsed()));

    let _ = writeln!(out, "\n{:<38} {:>10}", "phase", "time");
    for (name, d) in &phases {
        let _ = writeln!(out, "{name:<38} {:>8.1} ms", d.as_secs_f64() * 1e3);
    }
    let _ = writeln!(out, "{:<38} {:>8.1} ms", "total", total.elapsed().as_secs_f64() * 1e3);
    Ok(out)
}
