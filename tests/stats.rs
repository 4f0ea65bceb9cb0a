//! Encrypted statistics against float64 on the same data (core::stats on the CPU backend).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::Error;
use ringvault_core::scheme::Preset;
use num_bigint::BigInt;
use ringvault_core::scheme::Ciphertext;
use ringvault_core::stats::{LogisticModel, PlainColumn, Stat, StatsContext, StatsDecryptor, StatsParameters, Weights, sigmoid};

fn context(preset: Preset) -> StatsContext<CpuBackend> {
    StatsContext::new(Arc::new(CpuBackend::new()), StatsParameters::for_preset(preset).unwrap()).unwrap()
}

/// Plain float64 statistics of the present values.
fn reference(values: &[f64], stat: Stat) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / n;
    let ss: f64 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
    match stat {
        Stat::Count => n,
        Stat::Sum => sum,
        Stat::Mean => mean,
        Stat::SumOfSquares => values.iter().map(|x| x * x).sum(),
        Stat::Variance => ss / n,
        Stat::Stddev => (ss / n).sqrt(),
        Stat::SampleVariance => ss / (n - 1.0),
        Stat::SampleStddev => (ss / (n - 1.0)).sqrt(),
        Stat::WeightedSum => unreachable!(),
    }
}

fn column(name: &str, decimals: u32, values: &[f64]) -> PlainColumn {
    let f = 10f64.powi(decimals as i32);
    PlainColumn { name: name.into(), decimals, values: values.iter().map(|x| Some((x * f).round() as i128)).collect() }
}

fn random_values(rng: &mut ChaCha20Rng, records: usize, center: f64, spread: f64, decimals: u32) -> Vec<f64> {
    let f = 10f64.powi(decimals as i32);
    (0..records).map(|_| ((center + spread * ((rng.next_u32() as f64 / u32::MAX as f64) - 0.5)) * f).round() / f).collect()
}

fn relative(a: f64, b: f64) -> f64 {
    if b == 0.0 { a.abs() } else { ((a - b) / b).abs() }
}

#[test]
fn every_column_statistic_matches_float64_in_one_batched_call() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    // n + 1 records: two chunks per column; keys sized for exactly that many.
    let records = 4097;
    let (sk, keys) = ctx.generate_keys_for(records as u64, &mut rng).unwrap();
    let plans = ctx.params().key_plans(records as u64);
    for (k, plan) in keys.keys().iter().zip(&plans) {
        let top = k.params().max_level();
        assert!(plan.galois_levels <= top, "{plan:?}");
        assert!(k.galois_elements().iter().all(|&g| k.galois_key(g).unwrap().levels() == plan.galois_levels));
        assert_eq!(k.relinearization_key().unwrap().levels(), top);
    }
    // More records never need lower levels.
    let levels = |r: u64| ctx.params().key_plans(r)[0].galois_levels;
    assert!(levels(1) <= levels(4097) && levels(4097) <= levels(1 << 20) && levels(1 << 20) <= levels(1 << 30));
    let age = random_values(&mut rng, records, 50.0, 60.0, 0);
    let bmi = random_values(&mut rng, records, 26.0, 16.0, 2);
    let temp = random_values(&mut rng, records, -2.0, 3.0, 3);
    let table = ctx.encrypt_table(&keys.public_keys(), &[column("age", 0, &age), column("body mass index", 2, &bmi), column("t", 3, &temp)], &mut rng).unwrap();
    let mut requests = Vec::new();
    for name in ["age", "body mass index", "t"] {
        for stat in Stat::COLUMN_STATS {
            requests.push((stat, name));
        }
    }
    let ev = ctx.evaluator(&keys).unwrap();
    let results = ev.evaluate(&table, &requests).unwrap();
    let dec = ctx.decryptor(&sk).unwrap();
    for (r, &(stat, name)) in results.iter().zip(&requests) {
        let values = match name {
            "age" => &age,
            "t" => &temp,
            _ => &bmi,
        };
        let got = dec.finish(r).unwrap();
        let want = reference(values, stat);
        assert_eq!(got.count, records);
        assert!(relative(got.value, want) <= 1e-9, "{stat} of {name}: {} vs {want}", got.value);
    }
    // At n = 4096 the slot-0 mask would cost a sum a level (Galois keys over more primes), and
    // a sum of squares has no budget left for it: both fill every slot with the total (the
    // owner accepts exactly the two forms).
    let r = results.iter().find(|r| r.stat == Stat::Variance).unwrap();
    assert_eq!(slot_form(&dec, r.sum.as_ref().unwrap(), r.sum_bound_bits), SlotForm::Filled);
    assert_eq!(slot_form(&dec, r.squares.as_ref().unwrap(), r.squares_bound_bits), SlotForm::Filled);
}

fn is_zero(x: &BigInt) -> bool {
    x.bits() == 0
}

#[derive(Debug, PartialEq)]
enum SlotForm {
    /// Slot 0 holds the total, every other slot zero.
    Masked,
    /// Every slot holds the total.
    Filled,
}

/// How a total's ciphertexts carry it (panics on anything else).
fn slot_form(dec: &StatsDecryptor<'_, CpuBackend>, cts: &[Ciphertext<CpuBackend>], bound_bits: u64) -> SlotForm {
    let v = dec.slot_values(&cts.iter().collect::<Vec<_>>(), bound_bits).unwrap();
    assert!(!is_zero(&v[0]), "the test totals are not zero");
    if v[1..].iter().all(is_zero) {
        SlotForm::Masked
    } else {
        assert!(v.iter().all(|x| *x == v[0]), "a total that is neither masked nor filled");
        SlotForm::Filled
    }
}

#[test]
fn rotation_keys_serve_only_the_levels_of_the_slot_sums() {
    // At n = 8192 every total of a million records is summed below the top level, so the
    // Galois keys leave out the top primes; at n = 4096 sums of squares need the top level.
    let p = StatsParameters::for_preset(Preset::N8192).unwrap();
    for plan in p.key_plans(1_000_000) {
        let top = plan.relinearization.unwrap();
        assert!(plan.galois_levels < top, "{plan:?}");
    }
    let p = StatsParameters::for_preset(Preset::N4096).unwrap();
    assert!(p.key_plans(4096).iter().all(|plan| plan.galois_levels <= plan.relinearization.unwrap()));
}

#[test]
fn single_record_missing_cells_and_undefined_statistics() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let (sk, keys) = ctx.generate_keys(&mut rng).unwrap();
    let one = ctx.encrypt_table(&keys.public_keys(), &[column("x", 1, &[4.5])], &mut rng).unwrap();
    let ev = ctx.evaluator(&keys).unwrap();
    let dec = ctx.decryptor(&sk).unwrap();
    let r = ev.evaluate(&one, &[(Stat::Mean, "x"), (Stat::Variance, "x"), (Stat::SampleVariance, "x")]).unwrap();
    assert_eq!(dec.finish(&r[0]).unwrap().value, 4.5);
    assert_eq!(dec.finish(&r[1]).unwrap().value, 0.0);
    assert!(matches!(dec.finish(&r[2]), Err(Error::InvalidInput { .. })));
    // Missing cells are skipped: the count and the statistics use the present values only.
    let col = PlainColumn { name: "y".into(), decimals: 0, values: vec![Some(1), None, Some(3), None, Some(8)] };
    let t = ctx.encrypt_table(&keys.public_keys(), &[col], &mut rng).unwrap();
    assert_eq!(t.column("y").unwrap().info().missing, vec![1, 3]);
    let r = ev.evaluate(&t, &[(Stat::Count, "y"), (Stat::Mean, "y")]).unwrap();
    assert_eq!(dec.finish(&r[0]).unwrap().value, 3.0);
    assert_eq!(dec.finish(&r[1]).unwrap().value, 4.0);
    assert!(matches!(ev.evaluate(&t, &[(Stat::Mean, "nope")]), Err(Error::InvalidInput { .. })));
}

#[test]
fn computations_that_could_wrap_are_refused_before_they_run() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (_, keys) = ctx.generate_keys(&mut rng).unwrap();
    let capacity = ctx.params().capacity_bits();
    // Values of 2^30 fit, but 100 of their squares need ~67 bits.
    let big = PlainColumn { name: "big".into(), decimals: 0, values: vec![Some(1 << 30); 100] };
    let table = ctx.encrypt_table(&keys.public_keys(), &[big], &mut rng).unwrap();
    let ev = ctx.evaluator(&keys).unwrap();
    assert!(ev.evaluate(&table, &[(Stat::Sum, "big")]).is_ok());
    match ev.evaluate(&table, &[(Stat::Variance, "big")]) {
        Err(Error::WouldWrap { needed_bits, capacity_bits, .. }) => assert!(needed_bits > capacity_bits && capacity_bits == capacity),
        other => panic!("expected WouldWrap, got {other:?}"),
    }
    // A value beyond the plaintext space cannot even be encrypted.
    let huge = PlainColumn { name: "huge".into(), decimals: 0, values: vec![Some(1i128 << 100)] };
    assert!(matches!(ctx.encrypt_table(&keys.public_keys(), &[huge], &mut rng), Err(Error::InvalidInput { .. })));
    // Ragged and empty tables.
    let a = PlainColumn { name: "a".into(), decimals: 0, values: vec![Some(1); 3] };
    let b = PlainColumn { name: "b".into(), decimals: 0, values: vec![Some(1); 2] };
    assert!(matches!(ctx.encrypt_table(&keys.public_keys(), &[a.clone(), b], &mut rng), Err(Error::InvalidInput { .. })));
    assert!(matches!(ctx.encrypt_table(&keys.public_keys(), &[], &mut rng), Err(Error::InvalidInput { .. })));
    assert!(matches!(ctx.encrypt_table(&keys.public_keys(), &[a.clone(), a], &mut rng), Err(Error::InvalidInput { .. })));
}

#[test]
fn logistic_scores_and_weighted_sums_match_float64() {
    let ctx = context(Preset::N8192);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (sk, keys) = ctx.generate_keys(&mut rng).unwrap();
    let records = 300;
    // Weights six orders of magnitude apart: a count in the thousands and a ratio below 0.01.
    let steps = random_values(&mut rng, records, 6000.0, 8000.0, 0);
    let ratio = random_values(&mut rng, records, 0.005, 0.008, 7);
    let pressure = random_values(&mut rng, records, 130.0, 60.0, 1);
    let table = ctx.encrypt_table(&keys.public_keys(), &[column("steps", 0, &steps), column("ratio", 7, &ratio), column("systolic bp", 1, &pressure)], &mut rng).unwrap();
    let model = LogisticModel {
        intercept: -3.25,
        weights: BTreeMap::from([("steps".to_string(), -0.000_213), ("ratio".to_string(), 180.5), ("systolic bp".to_string(), 0.0311)]),
    };
    let ev = ctx.evaluator(&keys).unwrap();
    let scores = ev.logistic_scores(&table, &model).unwrap();
    let dec = ctx.decryptor(&sk).unwrap();
    let got = dec.scores(&scores).unwrap();
    assert_eq!(got.len(), records);
    for j in 0..records {
        let terms = [model.weights["steps"] * steps[j], model.weights["ratio"] * ratio[j], model.weights["systolic bp"] * pressure[j]];
        let want = model.intercept + terms.iter().sum::<f64>();
        let scale = terms.iter().map(|x| x.abs()).sum::<f64>() + model.intercept.abs();
        let g = got[j].unwrap();
        assert!((g - want).abs() <= 1e-6 * scale, "record {j}: {g} vs {want}");
        assert_eq!(sigmoid(g) >= 0.5, sigmoid(want) >= 0.5, "record {j}: class");
    }
    // Weighted sums with plaintext weights and with an encrypted weight column.
    let w: Vec<i128> = (0..records as i128).map(|j| j % 7 - 3).collect();
    let r = ev.weighted_sum(&table, "systolic bp", &Weights::Plain { decimals: 0, values: w.clone() }).unwrap();
    let want: f64 = pressure.iter().zip(&w).map(|(x, &w)| x * w as f64).sum();
    assert!(relative(dec.finish(&r).unwrap().value, want) < 1e-9);
    let r = ev.weighted_sum(&table, "systolic bp", &Weights::Column("ratio".into())).unwrap();
    let want: f64 = pressure.iter().zip(&ratio).map(|(x, w)| x * w).sum();
    assert!(relative(dec.finish(&r).unwrap().value, want) < 1e-9);
    // A total is masked to slot 0 only where the mask costs no level; at n = 8192 it would
    // cost one for every total here, so each fills every slot. Scores carry only their
    // records' slots.
    assert_eq!(slot_form(&dec, r.sum.as_ref().unwrap(), r.sum_bound_bits), SlotForm::Filled);
    for r in ev.evaluate(&table, &[(Stat::Variance, "steps")]).unwrap() {
        assert_eq!(slot_form(&dec, r.sum.as_ref().unwrap(), r.sum_bound_bits), SlotForm::Filled);
        assert_eq!(slot_form(&dec, r.squares.as_ref().unwrap(), r.squares_bound_bits), SlotForm::Filled);
    }
    let chunk: Vec<&Ciphertext<CpuBackend>> = scores.chunks.iter().map(|per_modulus| &per_modulus[0]).collect();
    let slots = dec.slot_values(&chunk, scores.bound_bits).unwrap();
    assert!(slots[..records].iter().all(|x| !is_zero(x)) && slots[records..].iter().all(is_zero));
}
