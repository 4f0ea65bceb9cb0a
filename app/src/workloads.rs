//! The workloads every front end and the benches share: the synthetic cohort of the demo (with
//! its schema and heart-risk model), the peers' anchor prime and rings, sample batches, the
//! paper's 100 × 128-bit sum and the batched statistics job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use num_bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use ringvault_core::encoding::IntegerEncoder;
use ringvault_core::prime::ntt_primes;
use ringvault_core::scheme::{EvaluationKeys, Scheme, SecretKey};
use ringvault_core::stats::{LogisticModel, PlainColumn, Stat, StatsContext, StatsEvaluator, StatsKeys, StatsSecretKey};
use ringvault_core::{Backend, BatchShape, Error, PolyBatch, RingContext};

use crate::dataset::{ColumnSpec, Computation, Schema};

/// One synthetic column: name, decimals, values.
pub struct Synthetic {
    /// The column's name.
    pub name: &'static str,
    /// Decimals of its readings.
    pub decimals: u32,
    /// One reading per patient.
    pub values: Vec<f64>,
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
pub fn cohort(records: usize, seed: u64) -> Vec<Synthetic> {
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
pub fn heart_model() -> LogisticModel {
    let w = [("age", 0.055), ("sex", 0.42), ("heart_rate", 0.004), ("systolic_bp", 0.021), ("diastolic_bp", -0.0035), ("glucose", 0.0061), ("cholesterol", 0.0052), ("bmi", 0.027), ("smoker", 0.71)];
    LogisticModel { intercept: -10.2, weights: w.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>() }
}

/// The cohort's columns as fixed point (`round(x·10^d)`), none missing.
pub fn fixed_point(data: &[Synthetic]) -> Vec<PlainColumn> {
    fixed_point_of(data, 0..data.first().map_or(0, |c| c.values.len()))
}

/// [`fixed_point`] of the patients in `range` only (what one monitor holds).
/// Precondition: `range` lies within every column.
pub fn fixed_point_of(data: &[Synthetic], range: std::ops::Range<usize>) -> Vec<PlainColumn> {
    data.iter()
        .map(|c| {
            let f = 10f64.powi(c.decimals as i32);
            PlainColumn { name: c.name.into(), decimals: c.decimals, values: c.values[range.clone()].iter().map(|x| Some((x * f).round() as i128)).collect() }
        })
        .collect()
}

/// The cohort's schema: every column with the range its generator clamps to.
pub fn cohort_schema() -> Schema {
    schema_of(&cohort(0, 0))
}

/// The schema of `data`: every column with the range its generator clamps to.
pub fn schema_of(data: &[Synthetic]) -> Schema {
    let range = |name: &str| match name {
        "age" => (18.0, 95.0),
        "sex" | "smoker" => (0.0, 1.0),
        "heart_rate" => (40.0, 160.0),
        "systolic_bp" => (85.0, 220.0),
        "diastolic_bp" => (45.0, 130.0),
        "glucose" => (55.0, 400.0),
        "cholesterol" => (100.0, 400.0),
        _ => (15.0, 55.0),
    };
    let columns = data.iter().map(|c| ColumnSpec { name: c.name.into(), decimals: c.decimals, min: range(c.name).0, max: range(c.name).1 }).collect();
    Schema { columns, computations: Computation::all(), max_records: None }
}

/// The peer benchmarks' 30-bit prime: the largest below 2^30 that is `≡ 1 (mod 2^16)`, so every
/// NTT (ours, tfhe-ntt, the anchors) is timed on the same modulus.
///
/// # Errors
/// None in practice; propagates prime generation errors.
pub fn anchor_prime() -> Result<u32, Error> {
    Ok(ntt_primes(30, 1 << 15, 1)?[0])
}

/// A one-prime ring of degree `n` over [`anchor_prime`].
///
/// # Errors
/// As [`RingContext::new`].
pub fn anchor_ring(n: usize) -> Result<Arc<RingContext>, Error> {
    Ok(Arc::new(RingContext::new(n, &[anchor_prime()?])?))
}

/// A ring of degree `n` over `limbs` 30-bit primes: [`anchor_ring`] for one limb.
///
/// # Errors
/// As [`RingContext::new`].
pub fn bench_ring(n: usize, limbs: usize) -> Result<Arc<RingContext>, Error> {
    if limbs == 1 { anchor_ring(n) } else { Ok(Arc::new(RingContext::new(n, &ntt_primes(30, n, limbs)?)?)) }
}

/// A deterministic pseudo-random batch of `count` polynomials over every limb of `ring`.
///
/// # Errors
/// As [`PolyBatch::from_residues`].
pub fn sample_batch<D: ringvault_core::Domain>(ring: &RingContext, count: usize, seed: u32) -> Result<PolyBatch<D>, Error> {
    let (n, limbs) = (ring.n(), ring.len());
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let data = (0..count * limbs * n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % ring.modulus((i / n) % limbs).value()
        })
        .collect();
    PolyBatch::from_residues(ring, BatchShape::new(count, n, (0..limbs).collect()), data)
}

/// The paper's workload: 100 random 128-bit integers (binary integer encoding), each
/// encrypted with the public key at the lowest level that holds a 100-term sum
/// ([`Parameters::level_for_additions`](ringvault_core::scheme::Parameters::level_for_additions)),
/// summed by 99 homomorphic additions, decrypted, decoded and checked. Returns the time of the additions and of the whole job, in nanoseconds.
///
/// # Errors
/// Scheme errors, or [`Error::Backend`] if the decrypted sum is wrong.
pub fn sum128x100<B: Backend>(scheme: &Scheme<B>, keys: &EvaluationKeys, sk: &SecretKey, seed: u64) -> Result<(f64, f64), Error> {
    let total_start = Instant::now();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let encoder = IntegerEncoder::new(scheme.params(), 1)?;
    let values: Vec<BigInt> = (0..100).map(|_| BigInt::from((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))).collect();
    let encryptor = scheme.encryptor(keys.public_key())?;
    // The owner knows the circuit is 99 additions: encrypt at the lowest level that holds it.
    let level = scheme.params().level_for_additions(99);
    let cts = values.iter().map(|v| encryptor.encrypt_many_at_level(&[&encoder.encode(v)?], level, &mut rng)).collect::<Result<Vec<_>, _>>()?;
    let evaluator = scheme.evaluator(keys)?;
    let adds_start = Instant::now();
    let mut acc = evaluator.duplicate(&cts[0])?;
    for ct in &cts[1..] {
        evaluator.add_assign(&mut acc, ct)?;
    }
    scheme.backend().synchronize()?;
    let adds = adds_start.elapsed();
    let sum = encoder.decode_checked(&scheme.decryptor(sk)?.decrypt(&acc)?, 100)?;
    let total = total_start.elapsed();
    if sum != values.iter().sum::<BigInt>() {
        return Err(Error::Backend { backend: scheme.backend().name(), reason: "the 100 × 128-bit sum decrypted wrongly".into() });
    }
    Ok((adds.as_secs_f64() * 1e9, total.as_secs_f64() * 1e9))
}

/// The batched statistics job: 4096 values below 2^16 in one ciphertext (per plaintext
/// modulus of the n = 4096 statistics space), encrypted; the server computes the sum and the
/// sum of squares; the owner decrypts both and checks them. Returns nanoseconds. The server's
/// evaluator (its evaluation keys prepared for the backend) is built once, outside the timing,
/// as a server holding the keys does (the peers likewise time key generation apart).
///
/// # Errors
/// Statistics errors, or [`Error::Backend`] if a decrypted value is wrong.
pub fn stats4096<B: Backend>(ctx: &StatsContext<B>, keys: &StatsKeys, server: &StatsEvaluator<'_, B>, sk: &StatsSecretKey, seed: u64) -> Result<f64, Error> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let values: Vec<i128> = (0..4096).map(|_| i128::from(rng.next_u32() >> 16)).collect();
    let start = Instant::now();
    let column = PlainColumn { name: "x".into(), decimals: 0, values: values.iter().map(|&v| Some(v)).collect() };
    let table = ctx.encrypt_table(&keys.public_keys(), &[column], &mut rng)?;
    let results = server.evaluate(&table, &[(Stat::Sum, "x"), (Stat::SumOfSquares, "x")])?;
    let dec = ctx.decryptor(sk)?;
    let (sum, squares) = (dec.finish(&results[0])?.value, dec.finish(&results[1])?.value);
    let elapsed = start.elapsed();
    if sum != values.iter().sum::<i128>() as f64 || squares != values.iter().map(|v| v * v).sum::<i128>() as f64 {
        return Err(Error::Backend { backend: ctx.schemes()[0].backend().name(), reason: "the statistics job decrypted wrongly".into() });
    }
    Ok(elapsed.as_secs_f64() * 1e9)
}

