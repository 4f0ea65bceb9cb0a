//! `ringvault bench`: times the backend kernels and prints a table or JSON lines.
//!
//! Method (the same as the peer harness in `shared/anchors`): after a warm-up, a repetition
//! count is calibrated so that one sample lasts about [`BenchConfig::sample_ms`]; the figure is
//! the median per-call time over [`BenchConfig::samples`] samples. Transforms are applied
//! repeatedly to their own output, so every call sees changing data. Every timed section ends
//! with [`Backend::synchronize`], so asynchronous backends (the GPU) are timed to completion.
//!
//! [`run`] sweeps the CPU levels; [`run_on`] measures one backend (the GPU with
//! `ringvault bench --backend gpu`). Operations:
//!
//! - kernels, per degree, limb count and batch: `upload` (host to device), `ntt_forward` and
//!   `ntt_inverse` (resident), `mul_pointwise`, `add`, and `ntt_roundtrip` (upload, forward
//!   transform, download);
//! - the scheme, per preset: `bgv_encrypt`, `bgv_decrypt`, `bgv_add`, `bgv_add_inplace`,
//!   `bgv_mul_relin`, `bgv_rotate`, `bgv_mul_relin_batch` ([`BenchConfig::scheme_batch`]
//!   ciphertexts in one call), `sum128x100_adds`, `sum128x100_total`;
//! - `stats4096_total`, the batched statistics job;
//! - at n = 8192 (presets with `N8192`): `encrypt_bulk`, bulk encryption (the demo cohort's
//!   fixed-point records packed into plaintexts and encrypted in backend batches, one upload
//!   per task on every core; one call is `batch` ciphertexts), `encrypt_bulk_files`, the
//!   owner's whole path (the same written into `rows` upload files: bit packing and the
//!   container's SHA-256), and `encrypt_bare_1core`, one ciphertext at the same level by the
//!   bare public-key encryption on one thread. Bulk efficiency is
//!   `bare × batch / (threads × bulk)` ([`Record::efficiency`]), the median over pairs of
//!   samples of the two taken alternately ([`time_pairs`]).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use ringvault_backend_cpu::{CpuBackend, CpuLevel};
use num_bigint::BigInt;
use rand_core::SeedableRng;
use ringvault_core::encoding::IntegerEncoder;
use ringvault_core::scheme::{GaloisElement, Preset, Scheme};
use ringvault_core::stats::{StatsContext, StatsParameters};
use ringvault_core::{Backend, Coeff, Error, Ntt};
use ringvault_app::workloads::{bench_ring, sample_batch, stats4096, sum128x100};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Kernel benchmarks (NTT, pointwise multiply, add).
    pub kernels: bool,
    /// Scheme benchmarks (encrypt, decrypt, add, multiply + relinearize, rotate, the paper's
    /// 100 × 128-bit sum).
    pub scheme: bool,
    /// Presets of the scheme benchmarks.
    pub presets: Vec<Preset>,
    /// CPU levels to run.
    pub levels: Vec<CpuLevel>,
    /// Ring degrees.
    pub degrees: Vec<usize>,
    /// Limbs (30-bit primes) per polynomial of the kernel benchmarks; one limb is the peers'
    /// prime ([`anchor_prime`]).
    pub limbs: Vec<usize>,
    /// Polynomials per batch.
    pub batches: Vec<usize>,
    /// Ciphertexts multiplied in one call by `bgv_mul_relin_batch` (skipped below 2).
    pub scheme_batch: usize,
    /// Target duration of one sample, in milliseconds.
    pub sample_ms: f64,
    /// Samples per measurement (the median is reported).
    pub samples: usize,
    /// Only operations whose name contains one of these (all when empty).
    pub only: Vec<String>,
}

impl BenchConfig {
    /// Whether operation `op` is selected.
    pub fn wants(&self, op: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| op.contains(o.as_str()))
    }

    /// The default sweep: every supported level, n = 4096, 8192, 16384, batches of 1 and 64.
    /// About 20 s on a laptop.
    pub fn standard() -> Self {
        Self {
            kernels: true,
            scheme: true,
            presets: vec![Preset::N2048Additive, Preset::N4096, Preset::N8192],
            levels: CpuLevel::supported(),
            degrees: vec![4096, 8192, 16384],
            limbs: vec![1],
            batches: vec![1, 64],
            scheme_batch: 64,
            sample_ms: 3.0,
            samples: 11,
            only: Vec::new(),
        }
    }

    /// A fast sweep for smoke tests.
    pub fn quick() -> Self {
        Self { presets: vec![Preset::N4096], degrees: vec![4096], batches: vec![1, 8], scheme_batch: 4, sample_ms: 0.5, samples: 3, ..Self::standard() }
    }

    /// The GPU sweep: bulk batches (64 polynomials of 8 and 32 limbs at n = 2^14 and 2^16,
    /// up to 512 MiB), the scheme at n = 4096 and 8192 with 64 ciphertexts per batched
    /// multiplication, and the statistics job.
    pub fn gpu() -> Self {
        Self {
            presets: vec![Preset::N4096, Preset::N8192],
            levels: Vec::new(),
            degrees: vec![1 << 14, 1 << 16],
            limbs: vec![8, 32],
            batches: vec![64],
            ..Self::standard()
        }
    }
}

/// One measurement: the JSON object printed by `ringvault bench --json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Record {
    /// Operation (see the module docs).
    pub op: &'static str,
    /// Backend name with level, e.g. `cpu-avx512`.
    pub backend: String,
    /// Ring degree.
    pub n: usize,
    /// Limbs per polynomial.
    pub limbs: usize,
    /// Polynomials per call.
    pub batch: usize,
    /// Median time of one call, in nanoseconds.
    pub median_ns: f64,
    /// `log₂ Q` of the ciphertexts (scheme operations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logq: Option<u32>,
    /// `encrypt_bulk` only: the bulk efficiency `bare × batch / (threads × bulk)`, the median
    /// over samples of bulk and `encrypt_bare_1core` taken alternately (1 is every core at the
    /// single-core bare rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efficiency: Option<f64>,
}

impl Record {
    /// Coefficients processed per second.
    pub fn coeffs_per_second(&self) -> f64 {
        (self.n * self.limbs * self.batch) as f64 / (self.median_ns * 1e-9)
    }
}

/// Median per-call time of `f`, in nanoseconds; each sample ends with `sync` (waiting for
/// asynchronous work).
///
/// # Errors
/// The first error `f` or `sync` returns.
pub fn time_median(sample_ms: f64, samples: usize, mut f: impl FnMut() -> Result<(), Error>, sync: &dyn Fn() -> Result<(), Error>) -> Result<f64, Error> {
    let reps = reps_for(sample_ms, warm_up(sample_ms, &mut f, sync)?);
    let mut times = (0..samples.max(1)).map(|_| sample(reps, &mut f, sync)).collect::<Result<Vec<_>, _>>()?;
    Ok(median(&mut times))
}

/// Per-call times of `a` and `b` sampled alternately (a sample of `a`, then one of `b`, each
/// lasting about the longer of `sample_ms` and one call of either), so that both see the same
/// machine: on a shared host the speed drifts within a run, and two medians taken apart would
/// compare different machines. Returns the `samples` pairs, in nanoseconds per call.
///
/// # Errors
/// The first error `a`, `b` or `sync` returns.
pub fn time_pairs(sample_ms: f64, samples: usize, mut a: impl FnMut() -> Result<(), Error>, mut b: impl FnMut() -> Result<(), Error>, sync: &dyn Fn() -> Result<(), Error>) -> Result<Vec<(f64, f64)>, Error> {
    let (call_a, call_b) = (warm_up(sample_ms, &mut a, sync)?, warm_up(sample_ms, &mut b, sync)?);
    let ms = sample_ms.max(call_a * 1e3).max(call_b * 1e3);
    let (reps_a, reps_b) = (reps_for(ms, call_a), reps_for(ms, call_b));
    (0..samples.max(1)).map(|_| Ok((sample(reps_a, &mut a, sync)?, sample(reps_b, &mut b, sync)?))).collect()
}

/// Seconds per call of `f`, from a warm-up of at least three calls and `2 × sample_ms`.
fn warm_up(sample_ms: f64, f: &mut impl FnMut() -> Result<(), Error>, sync: &dyn Fn() -> Result<(), Error>) -> Result<f64, Error> {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed().as_secs_f64() < sample_ms * 2e-3 {
        f()?;
        sync()?;
        calls += 1;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(calls))
}

/// Calls of `per_call_s` seconds that make a sample of about `ms` (at least one).
fn reps_for(ms: f64, per_call_s: f64) -> usize {
    ((ms * 1e-3 / per_call_s).ceil() as usize).max(1)
}

/// One sample: `reps` calls of `f`, then `sync`; nanoseconds per call.
fn sample(reps: usize, f: &mut impl FnMut() -> Result<(), Error>, sync: &dyn Fn() -> Result<(), Error>) -> Result<f64, Error> {
    let t = Instant::now();
    for _ in 0..reps {
        f()?;
    }
    sync()?;
    Ok(t.elapsed().as_secs_f64() * 1e9 / reps as f64)
}

/// The median of `values` (sorted in place); 0 for none.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Times `f` (each sample ending with `backend.synchronize()`) and emits a record named `op`
/// when the configuration selects it.
fn measure<B: Backend>(config: &BenchConfig, backend: &B, emit: &mut dyn FnMut(Record), record: &dyn Fn(&'static str, f64) -> Record, op: &'static str, f: &mut dyn FnMut() -> Result<(), Error>) -> Result<(), Error> {
    if config.wants(op) {
        emit(record(op, time_median(config.sample_ms, config.samples, f, &|| backend.synchronize())?));
    }
    Ok(())
}

/// The kernel operations, in the order they are measured.
const KERNEL_OPS: [&str; 6] = ["upload", "ntt_roundtrip", "ntt_forward", "ntt_inverse", "mul_pointwise", "add"];

/// Runs the kernel benchmarks on one backend, calling `emit` after each measurement.
fn run_kernels<B: Backend>(config: &BenchConfig, backend: &B, emit: &mut dyn FnMut(Record)) -> Result<(), Error> {
    for (&n, &limbs) in config.degrees.iter().flat_map(|n| config.limbs.iter().map(move |l| (n, l))) {
        let ring = bench_ring(n, limbs)?;
        let plan = backend.plan(ring.clone())?;
        for &batch in &config.batches {
            let record = |op, median_ns| Record { op, backend: backend.name(), n, limbs, batch, median_ns, logq: None, efficiency: None };
            let host = sample_batch::<Coeff>(&ring, batch, 1)?;
            measure(config, backend, emit, &record, "upload", &mut || backend.upload(&plan, black_box(&host)).map(drop))?;
            measure(config, backend, emit, &record, "ntt_roundtrip", &mut || {
                let evals = backend.ntt_forward(&plan, backend.upload(&plan, black_box(&host))?)?;
                backend.download(&plan, &evals).map(drop)
            })?;
            let mut a = Some(backend.upload(&plan, &host)?);
            measure(config, backend, emit, &record, "ntt_forward", &mut || {
                let x = a.take().ok_or(Error::EmptyBasis)?;
                a = Some(backend.relabel(backend.ntt_forward(&plan, black_box(x))?));
                Ok(())
            })?;
            let mut e = Some(backend.upload(&plan, &sample_batch::<Ntt>(&ring, batch, 2)?)?);
            measure(config, backend, emit, &record, "ntt_inverse", &mut || {
                let x = e.take().ok_or(Error::EmptyBasis)?;
                e = Some(backend.relabel(backend.ntt_inverse(&plan, black_box(x))?));
                Ok(())
            })?;
            let mut acc = backend.upload(&plan, &sample_batch::<Ntt>(&ring, batch, 3)?)?;
            let b = backend.upload(&plan, &sample_batch::<Ntt>(&ring, batch, 4)?)?;
            measure(config, backend, emit, &record, "mul_pointwise", &mut || backend.mul_pointwise_assign(&plan, black_box(&mut acc), &b))?;
            measure(config, backend, emit, &record, "add", &mut || backend.add_assign(&plan, black_box(&mut acc), &b))?;
        }
    }
    Ok(())
}

/// Runs every configured measurement at every configured CPU level, calling `emit` after
/// each.
///
/// # Errors
/// A backend error (for example a forced level this CPU lacks).
pub fn run(config: &BenchConfig, emit: &mut dyn FnMut(Record)) -> Result<(), Error> {
    for &level in &config.levels {
        run_on(config, Arc::new(CpuBackend::with_level(level)?), emit)?;
    }
    Ok(())
}

/// Runs every configured measurement on one backend, calling `emit` after each.
///
/// # Errors
/// A backend error (a shape beyond its caps, a lost device), or a wrong decrypted result.
pub fn run_on<B: Backend + 'static>(config: &BenchConfig, backend: Arc<B>, emit: &mut dyn FnMut(Record)) -> Result<(), Error> {
    if config.kernels && KERNEL_OPS.iter().any(|op| config.wants(op)) {
        run_kernels(config, backend.as_ref(), emit)?;
    }
    if config.scheme {
        for &preset in &config.presets {
            run_scheme(config, backend.clone(), preset, emit)?;
        }
        if config.wants("stats4096") {
            run_stats(config, backend.clone(), emit)?;
        }
        if config.presets.contains(&Preset::N8192) && BULK_OPS.iter().any(|op| config.wants(op)) {
            run_bulk(config, backend, emit)?;
        }
    }
    Ok(())
}

/// `stats4096_total` on one backend.
fn run_stats<B: Backend>(config: &BenchConfig, backend: Arc<B>, emit: &mut dyn FnMut(Record)) -> Result<(), Error> {
    let ctx = StatsContext::new(backend, StatsParameters::for_preset(Preset::N4096)?)?;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(44);
    let (sk, keys) = ctx.generate_keys(&mut rng)?;
    let server = ctx.evaluator(&keys)?;
    let mut runs = (0..config.samples.max(3) as u64).map(|seed| stats4096(&ctx, &keys, &server, &sk, seed)).collect::<Result<Vec<_>, _>>()?;
    let p = ctx.schemes()[0].params();
    emit(Record { op: "stats4096_total", backend: ctx.schemes()[0].backend().name(), n: p.n(), limbs: p.max_level(), batch: 1, median_ns: median(&mut runs), logq: Some(p.total_bits()), efficiency: None });
    Ok(())
}

/// The bulk encryption operations.
const BULK_OPS: [&str; 3] = ["encrypt_bulk", "encrypt_bulk_files", "encrypt_bare_1core"];

/// Uploads of `encrypt_bulk`: enough for every thread to take several.
const BULK_UPLOADS: usize = 8;

/// Ciphertexts of one timed call of `encrypt_bare_1core`.
const BARE_RUN: usize = 8;

/// Pairs of samples behind the bulk efficiency, at least: on a shared 2-core host single
/// pairs spread by ±10 %.
const EFFICIENCY_PAIRS: usize = 21;

/// `encrypt_bulk` and `encrypt_bare_1core` on one backend (n = 8192, the demo's keys and
/// schema).
fn run_bulk<B: Backend + 'static>(config: &BenchConfig, backend: Arc<B>, emit: &mut dyn FnMut(Record)) -> Result<(), Error> {
    let app = |e: ringvault_app::AppError| Error::InvalidInput { what: e.to_string() };
    let keys = ringvault_app::keys::generate(backend.clone(), Preset::N8192, ringvault_app::dataset::DEFAULT_MAX_RECORDS).map_err(app)?;
    let schema = ringvault_app::workloads::cohort_schema();
    let enc = ringvault_app::dataset::UploadEncryptor::new(backend.clone(), &schema, &keys.public).map_err(app)?;
    let rows = enc.default_rows_per_upload();
    let columns = ringvault_app::workloads::fixed_point(&ringvault_app::workloads::cohort(rows * BULK_UPLOADS, 7));
    let plan = *enc.plan();
    let chunks = (rows * BULK_UPLOADS).div_ceil(enc.rows_per_ciphertext());
    let scheme = &enc.context().schemes()[0];
    let p = scheme.params();
    let record = |op, batch, median_ns| Record { op, backend: backend.name(), n: p.n(), limbs: plan.level, batch, median_ns, logq: Some(p.total_bits()), efficiency: None };
    let be = backend.as_ref();
    let ranges = ringvault_app::dataset::upload_ranges(rows * BULK_UPLOADS, rows);
    let batch = chunks * plan.moduli;
    if config.wants("encrypt_bulk") || config.wants("encrypt_bare_1core") {
        // The bare encryption at the plan's level, on a pool of one thread: BARE_RUN
        // ciphertexts one after the other per call, so that entering the pool is not timed.
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| Error::InvalidInput { what: format!("a one-thread pool: {e}") })?;
        let encryptor = scheme.encryptor(enc.public_keys()[0])?;
        let pt = ringvault_core::scheme::Plaintext::new(p, &vec![1u32; p.n()])?;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(45);
        let bulk = || {
            use rayon::prelude::*;
            // As the owner's path does once it has written them, the ciphertexts are recycled.
            ranges.par_iter().try_for_each(|r| enc.encrypt_rows(&columns, r.clone()).map(|rows| rows.recycle(be))).map_err(app)
        };
        let bare = || one.install(|| (0..BARE_RUN).try_for_each(|_| plan.encrypt(&encryptor, &[&pt], &mut rng).map(drop)));
        // Sampled alternately: the efficiency of each pair compares the same machine.
        let pairs = time_pairs(config.sample_ms, config.samples.max(EFFICIENCY_PAIRS), bulk, bare, &|| be.synchronize())?;
        let threads = rayon::current_num_threads() as f64;
        let mut ratios: Vec<f64> = pairs.iter().map(|&(bulk, bare)| bare / BARE_RUN as f64 * batch as f64 / (threads * bulk)).collect();
        let efficiency = median(&mut ratios);
        let (mut bulk, mut bare): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        if config.wants("encrypt_bulk") {
            emit(Record { efficiency: Some(efficiency), ..record("encrypt_bulk", batch, median(&mut bulk)) });
        }
        if config.wants("encrypt_bare_1core") {
            emit(record("encrypt_bare_1core", 1, median(&mut bare) / BARE_RUN as f64));
        }
    }
    measure(config, be, emit, &|op, ns| record(op, batch, ns), "encrypt_bulk_files", &mut || enc.encrypt_ranges(&columns, &ranges).map(drop).map_err(app))?;
    Ok(())
}

/// Scheme operations at one preset (t = 65537) on one backend.
fn run_scheme<B: Backend>(config: &BenchConfig, backend: Arc<B>, preset: Preset, emit: &mut dyn FnMut(Record)) -> Result<(), Error> {
    let be = backend.as_ref();
    let scheme = Scheme::new(backend.clone(), preset.parameters(65537)?)?;
    let params = scheme.params().clone();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
    let sk = scheme.generate_secret_key(&mut rng)?;
    let galois = if params.supports_key_switching() { vec![GaloisElement::row_rotation(params.n(), 1)] } else { vec![] };
    let keys = scheme.generate_evaluation_keys(&sk, &galois, &mut rng)?;
    let record = |op, median_ns| Record {
        op,
        backend: backend.name(),
        n: params.n(),
        limbs: params.max_level(),
        batch: 1,
        median_ns,
        logq: Some(params.total_bits()),
        efficiency: None,
    };
    let encoder = IntegerEncoder::new(&params, 1)?;
    let pt = encoder.encode(&BigInt::from(u128::MAX))?;
    let encryptor = scheme.encryptor(keys.public_key())?;
    measure(config, be, emit, &record, "bgv_encrypt", &mut || encryptor.encrypt(&pt, &mut rng).map(drop))?;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(43);
    let a = encryptor.encrypt(&pt, &mut rng)?;
    let b = encryptor.encrypt(&pt, &mut rng)?;
    let decryptor = scheme.decryptor(&sk)?;
    measure(config, be, emit, &record, "bgv_decrypt", &mut || decryptor.decrypt(&a).map(drop))?;
    let evaluator = scheme.evaluator(&keys)?;
    measure(config, be, emit, &record, "bgv_add", &mut || evaluator.add(&a, &b).map(drop))?;
    let mut acc = evaluator.duplicate(&a)?;
    measure(config, be, emit, &record, "bgv_add_inplace", &mut || evaluator.add_assign(&mut acc, &b))?;
    if params.supports_key_switching() {
        measure(config, be, emit, &record, "bgv_mul_relin", &mut || evaluator.mul_relin(&a, &b).map(drop))?;
        measure(config, be, emit, &record, "bgv_rotate", &mut || evaluator.rotate_rows(&a, 1).map(drop))?;
        if config.scheme_batch > 1 && config.wants("bgv_mul_relin_batch") {
            let pts = vec![&pt; config.scheme_batch];
            let many_a = encryptor.encrypt_many(&pts, &mut rng)?;
            let many_b = encryptor.encrypt_many(&pts, &mut rng)?;
            let batched = |op, median_ns| Record { batch: config.scheme_batch, ..record(op, median_ns) };
            measure(config, be, emit, &batched, "bgv_mul_relin_batch", &mut || evaluator.mul_relin(&many_a, &many_b).map(drop))?;
        }
    }
    if params.n() <= 4096 && config.wants("sum128x100") {
        let mut runs = Vec::new();
        for seed in 0..config.samples.max(3) as u64 {
            runs.push(sum128x100(&scheme, &keys, &sk, seed)?);
        }
        let (mut adds, mut totals): (Vec<f64>, Vec<f64>) = runs.into_iter().unzip();
        emit(record("sum128x100_adds", median(&mut adds)));
        emit(record("sum128x100_total", median(&mut totals)));
    }
    Ok(())
}

/// The header of the table printed by `ringvault bench`.
pub const TABLE_HEADER: &str = "op                   backend        n      limbs logq  batch   median        per poly      Mcoeff/s";

/// One table row.
pub fn table_row(r: &Record) -> String {
    format!(
        "{:<20} {:<14} {:<6} {:<5} {:<5} {:<7} {:>11}   {:>11}   {:>9.0}",
        r.op,
        r.backend,
        r.n,
        r.limbs,
        r.logq.map_or_else(|| "-".to_string(), |b| b.to_string()),
        r.batch,
        format_ns(r.median_ns),
        format_ns(r.median_ns / r.batch as f64),
        r.coeffs_per_second() / 1e6
    ) + &r.efficiency.map_or_else(String::new, |e| format!("   efficiency {e:.2}"))
}

/// `1234.5` → `1.23 µs`.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_alternate_the_two_operations() {
        let log = std::cell::RefCell::new(Vec::new());
        let spin = |k: u64| (0..k).fold(0u64, |a, x| black_box(a ^ x));
        let a = || {
            log.borrow_mut().push('a');
            black_box(spin(2_000));
            Ok(())
        };
        let b = || {
            log.borrow_mut().push('b');
            black_box(spin(20_000));
            Ok(())
        };
        let samples = 5;
        let pairs = time_pairs(0.2, samples, a, b, &|| Ok(())).unwrap();
        assert_eq!(pairs.len(), samples);
        assert!(pairs.iter().all(|&(x, y)| x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite()));
        // The warm-ups of a then b, then a sample of a, one of b, and so on.
        let log = log.into_inner();
        let runs: String = log.iter().zip(log.iter().skip(1).map(Some).chain([None])).filter(|(x, next)| next.is_none_or(|n| n != *x)).map(|(x, _)| *x).collect();
        assert_eq!(runs, "ab".repeat(samples + 1));
        let mut odd = [3.0, 1.0, 2.0];
        assert_eq!(median(&mut odd), 2.0);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn quick_run_emits_every_op_per_level() {
        let mut config = BenchConfig::quick();
        config.degrees = vec![1024];
        config.limbs = vec![1, 3];
        config.batches = vec![2];
        config.scheme = false;
        let mut records = Vec::new();
        run(&config, &mut |r| records.push(r)).unwrap();
        let ops = KERNEL_OPS;
        assert_eq!(records.len(), 2 * ops.len() * config.levels.len());
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.op, ops[i % ops.len()]);
            let limbs = if i % (2 * ops.len()) < ops.len() { 1 } else { 3 };
            assert!(r.median_ns > 0.0 && r.median_ns.is_finite());
            let json = serde_json::to_string(r).unwrap();
            assert!(json.starts_with(&format!("{{\"op\":\"{}\",\"backend\":\"cpu-", r.op)), "{json}");
            assert!(json.contains(&format!("\"n\":1024,\"limbs\":{limbs},\"batch\":2,\"median_ns\":")), "{json}");
        }
        assert!(table_row(&records[0]).contains("cpu-"));
        assert_eq!(format_ns(1500.0), "1.50 µs");
    }

    #[test]
    fn scheme_ops_report_logq_and_the_sum_checks() {
        let mut config = BenchConfig::quick();
        config.kernels = false;
        config.levels = vec![CpuLevel::detect()];
        config.presets = vec![Preset::N2048Additive];
        let mut records = Vec::new();
        run(&config, &mut |r| records.push(r)).unwrap();
        let ops: Vec<&str> = records.iter().map(|r| r.op).collect();
        assert_eq!(ops, ["bgv_encrypt", "bgv_decrypt", "bgv_add", "bgv_add_inplace", "sum128x100_adds", "sum128x100_total", "stats4096_total"]);
        let json = serde_json::to_string(&records[0]).unwrap();
        assert!(json.contains("\"n\":2048") && json.ends_with(",\"logq\":54}"), "{json}");

        config.presets = vec![Preset::N4096];
        config.only = vec!["bgv_mul_relin".into()];
        records.clear();
        run(&config, &mut |r| records.push(r)).unwrap();
        let ops: Vec<(&str, usize)> = records.iter().map(|r| (r.op, r.batch)).collect();
        assert_eq!(ops, [("bgv_mul_relin", 1), ("bgv_mul_relin_batch", config.scheme_batch)]);
    }
}
