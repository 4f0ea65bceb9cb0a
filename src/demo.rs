//! `ringvault demo`: the main job end to end in one process. A synthetic cohort of patients is
//! encrypted by its owner, a server holding only evaluation keys computes every column's mean,
//! standard deviation and variance and a heart-risk logistic model's scores, and the owner
//! decrypts and compares with the plaintext computation. Then the paper's 100 × 128-bit sum.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use ringvault_core::Backend;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::{LogisticModel, PlainColumn, Stat, StatsContext, StatsParameters, sigmoid};

use crate::CliError;

/// One synthetic column: name, decimals, values.
struct Synthetic {
    name: &'static str,
    decimals: u32,
    values: Vec<f64>,
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha20Rng) -> f64 {
    let u = (f64::from(rng.next_u32()) + 1.0) / (f64::from(u32::MAX) + 2.0);
    let v = f64::from(rng.next_u32()) / f64::from(u32::MAX);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn round_to(x: f64, decimals: u32) -> f64 {
    let f = 10f64.powi(decimals as i32);
    (x * f).round() / f
}

/// A realistic cohort: age, sex, heart rate, blood pressure, glucose, cholesterol, BMI and
/// smoking, with the usual correlations (pressure and glucose rise with age and BMI).
fn cohort(records: usize, seed: u64) -> Vec<Synthetic> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut cols: Vec<Synthetic> = [("age", 0), ("sex", 0), ("heart_rate", 0), ("systolic_bp", 0), ("diastolic_bp", 0), ("glucose", 1), ("cholesterol", 0), ("bmi", 1), ("smoker", 0)]
        .into_iter()
        .map(|(name, decimals)| Synthetic { name, decimals, values: Vec::with_capacity(records) })
        .collect();
    for _ in 0..records {
        let age = (52.0 + 16.0 * normal(&mut rng)).clamp(18.0, 95.0).round();
        let sex = f64::from(rng.next_u32() % 2);
        let bmi = round_to((26.5 + 4.5 * normal(&mut rng) + 0.03 * (age - 50.0)).clamp(15.0, 55.0), 1);
        let smoker = f64::from(u8::from(rng.next_u32() % 100 < 18));
        let hr = (72.0 + 10.0 * normal(&mut rng) + 4.0 * smoker).clamp(40.0, 160.0).round();
        let sys = (118.0 + 0.45 * (age - 50.0) + 0.9 * (bmi - 26.0) + 14.0 * normal(&mut rng)).clamp(85.0, 220.0).round();
        let dia = (76.0 + 0.45 * (sys - 120.0) + 7.0 * normal(&mut rng)).clamp(45.0, 130.0).round();
        let glucose = round_to((96.0 + 0.25 * (age - 50.0) + 1.2 * (bmi - 26.0) + 14.0 * normal(&mut rng)).clamp(55.0, 400.0), 1);
        let chol = (195.0 + 0.5 * (age - 50.0) + 35.0 * normal(&mut rng)).clamp(100.0, 400.0).round();
        for (c, v) in cols.iter_mut().zip([age, sex, hr, sys, dia, glucose, chol, bmi, smoker]) {
            c.values.push(v);
        }
    }
    cols
}

/// The demo's heart-risk model, in raw units (weights six orders of magnitude apart).
fn heart_model() -> LogisticModel {
    let w = [("age", 0.055), ("sex", 0.42), ("heart_rate", 0.004), ("systolic_bp", 0.021), ("diastolic_bp", -0.0035), ("glucose", 0.0061), ("cholesterol", 0.0052), ("bmi", 0.027), ("smoker", 0.71)];
    LogisticModel { intercept: -10.2, weights: w.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>() }
}

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

/// Runs the demo for `records` patients on `backend`; returns the report, whose first line is
/// `selected` (how the backend was chosen, e.g. [`Selection::note`](crate::engine::Selection::note)).
///
/// # Errors
/// Any failure of the pipeline, or a decrypted value that disagrees with the plaintext.
pub fn run<B: Backend>(backend: Arc<B>, records: usize, selected: &str) -> Result<String, CliError> {
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
    let ctx = StatsContext::new(backend.clone(), params)?;
    let mut rng = ringvault_core::scheme::sampling::default_rng();

    let t = Instant::now();
    let pb = spinner("owner: generating keys");
    let (sk, keys) = ctx.generate_keys(&mut rng)?;
    pb.finish_and_clear();
    phases.push(("key generation (owner)", t.elapsed()));

    let t = Instant::now();
    let data = cohort(records, 2011);
    let columns: Vec<PlainColumn> = data
        .iter()
        .map(|c| {
            let f = 10f64.powi(c.decimals as i32);
            PlainColumn { name: c.name.into(), decimals: c.decimals, values: c.values.iter().map(|x| Some((x * f).round() as i128)).collect() }
        })
        .collect();
    phases.push(("synthetic cohort", t.elapsed()));

    let t = Instant::now();
    let pb = spinner(&format!("owner: encrypting {records} patients × {} columns", columns.len()));
    let table = ctx.encrypt_table(&keys.public_keys(), &columns, &mut rng)?;
    pb.finish_and_clear();
    phases.push(("encryption (owner, public key)", t.elapsed()));

    let t = Instant::now();
    let pb = spinner("server: mean, stddev and variance of every column");
    let ev = ctx.evaluator(&keys)?;
    let requests: Vec<(Stat, &str)> = data.iter().flat_map(|c| [(Stat::Mean, c.name), (Stat::Stddev, c.name), (Stat::Variance, c.name)]).collect();
    let results = ev.evaluate(&table, &requests)?;
    pb.finish_and_clear();
    phases.push(("statistics (server, evaluation keys)", t.elapsed()));

    let t = Instant::now();
    let pb = spinner("server: heart-risk scores");
    let model = heart_model();
    let scores = ev.logistic_scores(&table, &model)?;
    pb.finish_and_clear();
    phases.push(("logistic scores (server)", t.elapsed()));

    let t = Instant::now();
    let pb = spinner("owner: decrypting");
    let dec = ctx.decryptor(&sk)?;
    let values = results.iter().map(|r| dec.finish(r)).collect::<Result<Vec<_>, _>>()?;
    let got_scores = dec.scores(&scores)?;
    pb.finish_and_clear();
    phases.push(("decryption (owner)", t.elapsed()));

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
        scores.scale
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
