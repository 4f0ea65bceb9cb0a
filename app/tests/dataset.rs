//! The application layer's dataset and query checks on real (small) keys: schema validation,
//! uploads validated against schema and keys, queries over appended uploads equal to float64.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, OnceLock};

use ringvault_app::dataset::{ColumnSpec, Computation, Schema, check_eval_keys, check_upload, encrypt_uploads, public_keys_file};
use ringvault_app::keys::{self, GeneratedKeys};
use ringvault_app::query::{QueryRequest, StatColumn, runner_on};
use ringvault_app::results::{self, Decrypted};
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::PlainColumn;

fn backend() -> Arc<CpuBackend> {
    Arc::new(CpuBackend::new())
}

fn keys() -> &'static GeneratedKeys {
    static K: OnceLock<GeneratedKeys> = OnceLock::new();
    K.get_or_init(|| keys::generate(backend(), Preset::N4096, ringvault_app::dataset::DEFAULT_MAX_RECORDS).unwrap())
}

fn schema() -> Schema {
    Schema::from_json(br#"{"columns": [{"name": "hr", "min": 30, "max": 220}, {"name": "bmi", "decimals": 1, "min": 10, "max": 80}]}"#).unwrap()
}

fn columns(hr: &[i128], bmi: &[i128]) -> Vec<PlainColumn> {
    vec![
        PlainColumn { name: "hr".into(), decimals: 0, values: hr.iter().map(|&v| Some(v)).collect() },
        PlainColumn { name: "bmi".into(), decimals: 1, values: bmi.iter().map(|&v| Some(v)).collect() },
    ]
}

#[test]
fn schemas_are_validated_with_messages() {
    assert_eq!(schema().computations, Computation::all());
    for (text, why) in [
        (r#"{"columns": []}"#, "1 to 256 columns"),
        (r#"{"columns": [{"name": "a", "min": 0, "max": 1}, {"name": "a", "min": 0, "max": 1}]}"#, "appears twice"),
        (r#"{"columns": [{"name": "a", "min": 5, "max": 1}]}"#, "min ≤ max"),
        (r#"{"columns": [{"name": "a", "decimals": 19, "min": 0, "max": 1}]}"#, "decimals"),
        (r#"{"columns": [{"name": "a", "min": 0, "max": 1, "unit": "kg"}]}"#, "unknown field"),
        (r#"{"columns": [{"name": " ", "min": 0, "max": 1}]}"#, "a name of"),
        (r#"{"columns": [{"name": "a", "min": 0, "max": 1e40}]}"#, "too wide"),
        (r#"{"columns": [{"name": "a", "min": 0, "max": 1}], "computations": []}"#, "at least one computation"),
        (r#"{"columns": [{"name": "a", "min": 0, "max": 1}], "computations": ["medians"]}"#, "unknown variant"),
    ] {
        let e = Schema::from_json(text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(why), "{text}: {e}");
    }
}

#[test]
fn parameters_follow_from_the_schema() {
    // Heart rate and BMI fit 2^26 records at n = 4096 (47 bits, squares of 10 bits): the smallest ring.
    assert_eq!(schema().preset_for(1_000_000).unwrap(), Preset::N4096);
    // A column of 9 decimals up to 1000 (40 bits, 80 squared) needs the 98-bit space of n = 8192.
    let fine = Schema::from_json(br#"{"columns": [{"name": "x", "decimals": 9, "min": 0, "max": 1000}]}"#).unwrap();
    assert_eq!(fine.preset_for(100).unwrap(), Preset::N8192);
    // Without variances, 100 of its values (a 47-bit sum) fit the smallest ring; 1000 do not.
    let sums = Schema { computations: vec![Computation::Sums], ..fine.clone() };
    assert_eq!(sums.preset_for(100).unwrap(), Preset::N4096);
    assert_eq!(sums.preset_for(1000).unwrap(), Preset::N8192);
    let e = Schema::from_json(br#"{"columns": [{"name": "x", "decimals": 18, "min": 0, "max": 1000}]}"#).unwrap().preset_for(10).unwrap_err().to_string();
    assert!(e.contains("no preset holds"), "{e}");
}

#[test]
fn key_check_reports_capacity_and_refuses_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.keys");
    std::fs::write(&path, &keys().eval).unwrap();
    let checked = check_eval_keys(&schema(), &path).unwrap();
    let info = checked.info;
    assert_eq!(checked.public_key, public_keys_file(&path).unwrap());
    assert_eq!(info.preset, "n4096");
    assert_eq!(info.bytes, keys().eval.len() as u64);
    // The schema declares no capacity: the default, which these ranges fit at n = 4096.
    assert_eq!(info.max_records, ringvault_app::dataset::DEFAULT_MAX_RECORDS);
    assert!(public_keys_file(&path).unwrap().len() < keys().eval.len() / 4);
    std::fs::write(&path, &keys().public).unwrap();
    assert!(check_eval_keys(&schema(), &path).unwrap_err().to_string().contains("expected a evaluation-keys file"));
    let mut flipped = keys().eval.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    std::fs::write(&path, &flipped).unwrap();
    assert!(check_eval_keys(&schema(), &path).is_err());
    // A range too wide for the plaintext space is refused when the keys arrive.
    let wide = Schema { columns: vec![ColumnSpec { name: "x".into(), decimals: 9, min: 0.0, max: 1e6 }], computations: Computation::all(), max_records: None };
    std::fs::write(&path, &keys().eval).unwrap();
    let e = check_eval_keys(&wide, &path).unwrap_err().to_string();
    assert!(e.contains("do not fit n4096") && e.contains("max_records"), "{e}");
}

#[test]
fn uploads_are_checked_against_schema_and_keys_and_queries_match_float64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.keys");
    std::fs::write(&path, &keys().eval).unwrap();
    let s = schema();
    let info = check_eval_keys(&s, &path).unwrap().info;
    // Three uploads of 1, 2 and 3 records (ragged chunks once appended).
    let hr = [61i128, 72, 80, 95, 58, 120];
    let bmi = [215i128, 301, 188, 402, 250, 333];
    let mut stored = Vec::new();
    for (a, b) in [(0, 1), (1, 3), (3, 6)] {
        let bodies = encrypt_uploads(backend(), &s, &keys().public, &columns(&hr[a..b], &bmi[a..b]), 8).unwrap();
        assert_eq!(bodies.len(), 1);
        let checked = check_upload(&s, &info, bodies[0].to_vec()).unwrap();
        assert_eq!(checked.rows, b - a);
        assert_eq!(checked.body, bodies[0], "the upload is stored as sent");
        stored.push(checked.body);
    }
    let runner = runner_on(backend());
    let ask = |r: QueryRequest| {
        let mut source = |visit: &mut dyn FnMut(Vec<u8>) -> Result<(), ringvault_app::AppError>| stored.iter().try_for_each(|u| visit(u.clone()));
        let bytes = runner.run(&s, &info, &r, stored.len(), &mut source, &|_| {}).unwrap();
        results::decrypt(backend(), &keys().secret, &bytes).unwrap()
    };
    let stat = |stat: &str, column: &str| QueryRequest { stats: None, stat: Some(stat.into()), column: Some(column.into()), logreg: None, from: None, to: None, device: None };
    let Decrypted::Stat(mean) = ask(stat("mean", "bmi")) else { panic!("not a stat") };
    let want = bmi.iter().sum::<i128>() as f64 / 60.0;
    assert!((mean.value - want).abs() <= 1e-12 * want, "{} vs {want}", mean.value);
    assert_eq!(mean.count, 6);
    let Decrypted::Stat(var) = ask(stat("variance", "hr")) else { panic!("not a stat") };
    let m = hr.iter().sum::<i128>() as f64 / 6.0;
    let want = hr.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / 6.0;
    assert!((var.value - want).abs() <= 1e-9 * want, "{} vs {want}", var.value);
    // A batch: several statistics of several columns in one stats file, equal to the singles.
    let batch = QueryRequest { stats: Some(vec![StatColumn { stat: "mean".into(), column: "bmi".into() }, StatColumn { stat: "variance".into(), column: "hr".into() }]), ..QueryRequest::default() };
    let Decrypted::Stats(both) = ask(batch) else { panic!("not stats") };
    assert_eq!((both[0].value, both[1].value), (mean.value, var.value));
    let model: ringvault_core::stats::LogisticModel = serde_json::from_str(r#"{"intercept": -3.5, "weights": {"hr": 0.02, "bmi": 0.05}}"#).unwrap();
    let Decrypted::Scores { scores, .. } = ask(QueryRequest { stats: None, stat: None, column: None, logreg: Some(model), from: None, to: None, device: None }) else { panic!("not scores") };
    assert_eq!(scores.len(), 6);
    for (j, s) in scores.iter().enumerate() {
        let want = -3.5 + 0.02 * hr[j] as f64 + 0.05 * bmi[j] as f64 / 10.0;
        assert!((s.unwrap() - want).abs() < 1e-7, "record {j}: {s:?} vs {want}");
    }
    // Requests that do not fit the schema are refused before anything is read.
    for (r, why) in [
        (stat("median", "hr"), "unknown statistic"),
        (stat("mean", "weight"), "no column \"weight\""),
        (QueryRequest { from: Some(5), to: Some(1), ..stat("mean", "hr") }, "after"),
        (QueryRequest { stats: None, stat: None, column: None, logreg: None, from: None, to: None, device: None }, "a query is"),
    ] {
        assert!(runner.check(&s, &r).unwrap_err().to_string().contains(why), "{why}");
    }
    let sums_only = Schema { computations: vec![Computation::Sums], ..s.clone() };
    assert!(runner.check(&sums_only, &stat("variance", "hr")).unwrap_err().to_string().contains("does not support"));
}

#[test]
fn hostile_uploads_are_refused() {
    let s = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.keys");
    std::fs::write(&path, &keys().eval).unwrap();
    let info = check_eval_keys(&s, &path).unwrap().info;
    let body = encrypt_uploads(backend(), &s, &keys().public, &columns(&[70], &[220]), 1).unwrap().remove(0);
    assert!(check_upload(&s, &info, body.to_vec()).is_ok());
    for cut in [0, 7, 12, 100, body.len() / 2, body.len() - 1] {
        assert!(check_upload(&s, &info, body[..cut].to_vec()).is_err(), "cut at {cut}");
    }
    let mut rng = 0x2545f4914f6cdd1du64;
    for _ in 0..64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut b = body.clone();
        let at = (rng as usize) % b.len();
        b[at] ^= 1 << (rng >> 61);
        // Even a flip that leaves every residue below its prime is caught by the file's digest.
        assert!(check_upload(&s, &info, b.to_vec()).is_err(), "flip at {at}");
    }
    // Another schema: other names, decimals; values beyond the declared range.
    let other = Schema::from_json(br#"{"columns": [{"name": "pulse", "min": 30, "max": 220}, {"name": "bmi", "decimals": 1, "min": 10, "max": 80}]}"#).unwrap();
    assert!(check_upload(&other, &info, body.to_vec()).unwrap_err().to_string().contains("where the schema has"));
    let tight = Schema::from_json(br#"{"columns": [{"name": "hr", "min": 30, "max": 40}, {"name": "bmi", "decimals": 1, "min": 10, "max": 80}]}"#).unwrap();
    assert!(check_upload(&tight, &info, body.to_vec()).unwrap_err().to_string().contains("exceed the declared range"));
    // The client refuses readings outside the range before encrypting.
    assert!(encrypt_uploads(backend(), &s, &keys().public, &columns(&[250], &[220]), 1).unwrap_err().to_string().contains("outside the declared range"));
    // Another key set of the same preset: the table names its public key.
    let same_preset = keys::generate(backend(), Preset::N4096, ringvault_app::dataset::DEFAULT_MAX_RECORDS).unwrap();
    let stranger = encrypt_uploads(backend(), &s, &same_preset.public, &columns(&[70], &[220]), 1).unwrap().remove(0);
    assert!(check_upload(&s, &info, stranger.to_vec()).unwrap_err().to_string().contains("another key set"));
    // Keys of another preset.
    let other_keys = keys::generate(backend(), Preset::N8192, ringvault_app::dataset::DEFAULT_MAX_RECORDS).unwrap();
    let foreign = encrypt_uploads(backend(), &s, &other_keys.public, &columns(&[70], &[220]), 1).unwrap().remove(0);
    assert!(check_upload(&s, &info, foreign.to_vec()).unwrap_err().to_string().contains("the dataset's keys are n4096"));
}

#[test]
fn one_reading_of_the_demo_is_a_small_upload() {
    use ringvault_app::workloads::{cohort, cohort_schema, fixed_point};
    let keys = keys::generate(backend(), Preset::N8192, ringvault_app::dataset::DEFAULT_MAX_RECORDS).unwrap();
    let schema = cohort_schema();
    let one = fixed_point(&cohort(1, 3));
    let body = encrypt_uploads(backend(), &schema, &keys.public, &one, 1).unwrap().remove(0);
    // Nine columns and their squares in one ciphertext per used modulus (two of four), at
    // three of seven primes: the issue's bound is 512 KiB.
    assert!(body.len() <= 512 * 1024, "{} bytes", body.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.keys");
    std::fs::write(&path, &keys.eval).unwrap();
    let info = check_eval_keys(&schema, &path).unwrap().info;
    assert_eq!(check_upload(&schema, &info, body.to_vec()).unwrap().rows, 1);
}
