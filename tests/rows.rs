//! Row-packed records (core::stats::rows): totals and scores against float64, the plan's
//! moduli and level, and refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::Error;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::{EncryptedRows, LogisticModel, PlainColumn, RowPlan, RowSpec, Stat, StatsContext, StatsParameters};

fn context(preset: Preset) -> StatsContext<CpuBackend> {
    StatsContext::new(Arc::new(CpuBackend::new()), StatsParameters::for_preset(preset).unwrap()).unwrap()
}

/// Three columns: integer, one decimal (with missing cells), two decimals (negative too).
fn data(rng: &mut ChaCha20Rng, records: usize) -> Vec<PlainColumn> {
    let mut next = |range: u32| i128::from(rng.next_u32() % range);
    let a: Vec<Option<i128>> = (0..records).map(|_| Some(18 + next(78))).collect();
    let b: Vec<Option<i128>> = (0..records).map(|j| if j % 7 == 3 { None } else { Some(150 + next(400)) }).collect();
    let c: Vec<Option<i128>> = (0..records).map(|_| Some(next(2_000) - 1_000)).collect();
    vec![
        PlainColumn { name: "age".into(), decimals: 0, values: a },
        PlainColumn { name: "bmi".into(), decimals: 1, values: b },
        PlainColumn { name: "delta".into(), decimals: 2, values: c },
    ]
}

fn slice(columns: &[PlainColumn], from: usize, to: usize) -> Vec<PlainColumn> {
    columns.iter().map(|c| PlainColumn { values: c.values[from..to].to_vec(), ..c.clone() }).collect()
}

fn reference(col: &PlainColumn, stat: Stat) -> f64 {
    let f = 10f64.powi(col.decimals as i32);
    let v: Vec<f64> = col.values.iter().flatten().map(|&x| x as f64 / f).collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let ss: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
    match stat {
        Stat::Count => n,
        Stat::Sum => v.iter().sum(),
        Stat::Mean => mean,
        Stat::SumOfSquares => v.iter().map(|x| x * x).sum(),
        Stat::Variance => ss / n,
        Stat::Stddev => (ss / n).sqrt(),
        Stat::SampleVariance => ss / (n - 1.0),
        Stat::SampleStddev => (ss / (n - 1.0)).sqrt(),
        Stat::WeightedSum => unreachable!(),
    }
}

fn spec(columns: &[PlainColumn], max_records: u64, scores: bool) -> RowSpec {
    let bounds = columns.iter().map(|c| 128 - c.values.iter().flatten().map(|v| v.unsigned_abs()).max().unwrap_or(0).leading_zeros()).collect();
    RowSpec { bounds, max_records, squares: true, scores }
}

#[test]
fn totals_and_scores_of_mixed_uploads_match_float64() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (sk, keys) = ctx.generate_keys(&mut rng).unwrap();
    let records = 700;
    let columns = data(&mut rng, records);
    let plan = ctx.params().row_plan(&spec(&columns, 10_000, true)).unwrap();
    let per = ctx.rows_per_ciphertext(&plan, columns.len());
    assert_eq!(per, 4096 / 6);
    // One large upload (a full chunk and a ragged one), then one-record uploads.
    let mut parts: Vec<EncryptedRows<CpuBackend>> = vec![ctx.encrypt_rows(&keys.public_keys(), &slice(&columns, 0, 690), &plan, &mut rng).unwrap()];
    assert_eq!(parts[0].chunk_records(), &[per, 690 - per]);
    for j in 690..records {
        // Every other one read in place from the whole table: the same rows as a copied slice.
        parts.push(if j % 2 == 0 {
            ctx.encrypt_rows(&keys.public_keys(), &slice(&columns, j, j + 1), &plan, &mut rng).unwrap()
        } else {
            ctx.encrypt_rows_range(&keys.public_keys(), &columns, j..j + 1, &plan, &mut rng).unwrap()
        });
    }
    let in_place = ctx.encrypt_rows_range(&keys.public_keys(), &columns, 3..690, &plan, &mut rng).unwrap();
    let copied = ctx.encrypt_rows(&keys.public_keys(), &slice(&columns, 3, 690), &plan, &mut rng).unwrap();
    assert_eq!((in_place.columns(), in_place.chunk_records()), (copied.columns(), copied.chunk_records()));
    assert!(in_place.columns().iter().any(|c| !c.missing.is_empty()), "the data has missing values, numbered from the range's start");
    for bad in [5..5, 690..701] {
        assert!(ctx.encrypt_rows_range(&keys.public_keys(), &columns, bad.clone(), &plan, &mut rng).is_err(), "{bad:?}");
    }
    assert!(parts.iter().all(|p| p.ciphertexts().len() == plan.moduli && p.ciphertexts()[0][0].level() == plan.level));
    let rows = ctx.concat_rows(parts).unwrap();
    assert_eq!(rows.records(), records);
    let totals = ctx.row_totals(&rows).unwrap();
    let dec = ctx.decryptor(&sk).unwrap();
    let requests: Vec<(Stat, &str)> = columns.iter().flat_map(|c| Stat::COLUMN_STATS.map(|s| (s, c.name.as_str()))).collect();
    let got = dec.totals(&totals, &requests).unwrap();
    for ((stat, name), v) in requests.iter().zip(&got) {
        let col = columns.iter().find(|c| c.name == *name).unwrap();
        let want = reference(col, *stat);
        let err = if want == 0.0 { v.value.abs() } else { ((v.value - want) / want).abs() };
        assert!(err <= 1e-9, "{stat} of {name}: {} vs {want}", v.value);
    }
    assert_eq!(got.iter().find(|v| v.column == "bmi").unwrap().count, columns[1].values.iter().flatten().count());

    let weights: BTreeMap<String, f64> = [("age".to_string(), 0.031), ("delta".to_string(), -0.0042)].into_iter().collect();
    let model = LogisticModel { intercept: -1.5, weights };
    let scores = ctx.row_scores(rows, &model).unwrap();
    // The full chunk takes a result ciphertext; the ragged one and the ten one-record chunks share one.
    assert_eq!(scores.segments.len(), 2, "{:?}", scores.segments);
    let got = dec.row_scores(&scores).unwrap();
    assert_eq!(got.len(), records);
    let range = 1.5 + 0.031 * 128.0 + 0.0042 * 10.0;
    for (j, g) in got.iter().enumerate() {
        let want = -1.5 + 0.031 * columns[0].values[j].unwrap() as f64 - 0.0042 * columns[2].values[j].unwrap() as f64 / 100.0;
        let g = g.expect("no model column is missing");
        assert!((g - want).abs() <= 1e-8 * range, "record {j}: {g} vs {want}");
    }
}

#[test]
fn the_demo_row_takes_two_moduli_at_three_primes() {
    let params = StatsParameters::for_preset(Preset::N8192).unwrap();
    // The demo's nine columns: bounds of age … smoker in fixed point.
    let bounds = vec![7, 1, 8, 8, 8, 12, 9, 10, 1];
    let with_scores = params.row_plan(&RowSpec { bounds: bounds.clone(), max_records: 1_000_000, squares: true, scores: true }).unwrap();
    assert_eq!(with_scores, RowPlan { moduli: 2, level: 3, squares: true, direct: true });
    let sums = params.row_plan(&RowSpec { bounds: bounds.clone(), max_records: 10_000, squares: false, scores: false }).unwrap();
    assert_eq!((sums.moduli, sums.level), (2, 2));
    // Wider ranges need more moduli; the plan refuses what no prefix holds.
    let wide = params.row_plan(&RowSpec { bounds: vec![30; 9], max_records: 1_000_000, squares: true, scores: true }).unwrap();
    assert_eq!(wide.moduli, 4);
    let err = params.row_plan(&RowSpec { bounds: vec![60; 9], max_records: 1_000_000, squares: true, scores: false }).unwrap_err();
    assert!(matches!(err, Error::WouldWrap { .. }), "{err}");
}

#[test]
fn wrong_parts_and_overflowing_sums_are_refused() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let (_, keys) = ctx.generate_keys(&mut rng).unwrap();
    let columns = data(&mut rng, 5);
    let plan = ctx.params().row_plan(&spec(&columns, 100, false)).unwrap();
    let rows = ctx.encrypt_rows(&keys.public_keys(), &columns, &plan, &mut rng).unwrap();
    let (plan, infos, chunk_records, cts) = rows.into_parts();
    // Another level than the plan's.
    let other = RowPlan { level: plan.level + 1, ..plan };
    assert!(ctx.rows_from_parts(other, infos.clone(), chunk_records.clone(), cts).is_err());
    // A chunk with more records than fit.
    let cts = ctx.encrypt_rows(&keys.public_keys(), &columns, &plan, &mut rng).unwrap().into_parts().3;
    assert!(ctx.rows_from_parts(plan, infos.clone(), vec![5000], cts).is_err());
    // Counts that do not add up.
    let cts = ctx.encrypt_rows(&keys.public_keys(), &columns, &plan, &mut rng).unwrap().into_parts().3;
    let mut bad = infos.clone();
    bad[0].count += 1;
    assert!(ctx.rows_from_parts(plan, bad, chunk_records.clone(), cts).is_err());
    // A declared bound whose sum the plan's space cannot hold: refused before evaluating.
    let cts = ctx.encrypt_rows(&keys.public_keys(), &columns, &plan, &mut rng).unwrap().into_parts().3;
    let capacity = ctx.params().prefix_capacity_bits(plan.moduli) as u32;
    let mut wide = infos;
    wide[2].bound_bits = capacity / 2;
    let rows = ctx.rows_from_parts(plan, wide, chunk_records, cts).unwrap();
    let err = ctx.row_totals(&rows).unwrap_err();
    assert!(matches!(err, Error::WouldWrap { .. }), "{err}");
}

#[test]
fn direct_and_switched_encryptions_give_the_same_totals() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let (sk, keys) = ctx.generate_keys(&mut rng).unwrap();
    let columns = data(&mut rng, 9);
    let plan = ctx.params().row_plan(&spec(&columns, 1000, false)).unwrap();
    let dec = ctx.decryptor(&sk).unwrap();
    let mut seen = Vec::new();
    for direct in [true, false] {
        let rows = ctx.encrypt_rows(&keys.public_keys(), &columns, &RowPlan { direct, ..plan }, &mut rng).unwrap();
        assert_eq!(rows.ciphertexts()[0][0].level(), plan.level);
        let got = dec.totals(&ctx.row_totals(&rows).unwrap(), &[(Stat::Sum, "delta"), (Stat::SumOfSquares, "age")]).unwrap();
        seen.push((got[0].value, got[1].value));
    }
    assert_eq!(seen[0], seen[1]);
    assert!((seen[0].0 - reference(&columns[2], Stat::Sum)).abs() < 1e-9);
}

#[test]
fn shared_public_keys_give_the_same_ciphertexts_and_foreign_encryptors_are_refused() {
    let ctx = context(Preset::N4096);
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let (_, keys) = ctx.generate_keys(&mut rng).unwrap();
    let columns = data(&mut rng, 60);
    let plan = ctx.params().row_plan(&spec(&columns, 100, false)).unwrap();
    let shared: Vec<_> = ctx.schemes().iter().zip(keys.public_keys()).map(|(s, pk)| s.share_public_key(pk.clone()).unwrap()).collect();
    let bytes = |rows: EncryptedRows<CpuBackend>| -> Vec<Vec<u8>> {
        rows.into_parts().3.iter().zip(ctx.schemes()).flat_map(|(cts, s)| cts.iter().map(|ct| ct.to_bytes(s).unwrap()).collect::<Vec<_>>()).collect()
    };
    // Two rounds of encryptors from the same shared keys: the second uploads nothing, and
    // both encrypt exactly as encryptors of the keys themselves do.
    for _ in 0..2 {
        let encryptors: Vec<_> = ctx.schemes().iter().zip(&shared).map(|(s, k)| s.encryptor_sharing(k).unwrap()).collect();
        let with = ctx.encrypt_rows_with(&encryptors, &columns, 3..50, &plan, &mut ChaCha20Rng::seed_from_u64(5)).unwrap();
        let direct = ctx.encrypt_rows_range(&keys.public_keys(), &columns, 3..50, &plan, &mut ChaCha20Rng::seed_from_u64(5)).unwrap();
        let (with, direct) = (bytes(with), bytes(direct));
        assert!(!with.is_empty());
        assert_eq!(with, direct);
    }
    // Encryptors of another context's schemes (same parameters) are not this context's.
    let other = context(Preset::N4096);
    let foreign: Vec<_> = other.schemes().iter().zip(&shared).map(|(s, k)| s.encryptor_sharing(k).unwrap()).collect();
    assert!(matches!(ctx.encrypt_rows_with(&foreign, &columns, 0..10, &plan, &mut rng), Err(Error::ParameterMismatch)));
    // Fewer encryptors than the plan's moduli.
    let one: Vec<_> = ctx.schemes().iter().zip(&shared).take(plan.moduli - 1).map(|(s, k)| s.encryptor_sharing(k).unwrap()).collect();
    assert!(matches!(ctx.encrypt_rows_with(&one, &columns, 0..10, &plan, &mut rng), Err(Error::ParameterMismatch)));
    // A key shared for other parameters.
    let wide = context(Preset::N8192);
    assert!(matches!(wide.schemes()[0].share_public_key(keys.public_keys()[0].clone()), Err(Error::ParameterMismatch)));
    assert!(matches!(wide.schemes()[0].encryptor_sharing(&shared[0]), Err(Error::ParameterMismatch)));
}
