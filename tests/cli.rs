//! The file-based flow of the `ringvault` binary: keygen, encrypt a CSV, eval on a keys
//! directory without the secret key, decrypt; hostile CSV files fail with line and column.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ringvault"));
    c.env("RINGVAULT_BACKEND", "cpu");
    c
}

fn run(args: &[&str], dir: &Path) -> (bool, String, String) {
    output(bin().args(args).current_dir(dir))
}

/// Success, stdout and stderr of a command.
fn output(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A fresh directory, removed when the returned guard drops (its path is `.0`).
fn temp_dir(name: &str) -> (PathBuf, tempfile::TempDir) {
    let t = tempfile::Builder::new().prefix(&format!("ringvault-cli-{name}-")).tempdir().unwrap();
    (t.path().to_path_buf(), t)
}

#[test]
fn owner_and_server_exchange_only_files() {
    let (d, _guard) = temp_dir("flow");
    let (ok, _, err) = run(&["keygen", "--dir", "keys", "--preset", "n4096"], &d);
    assert!(ok, "{err}");
    let mut csv = String::from("id,name,\"body mass index\",age\n");
    let bmi: Vec<f64> = (0..50).map(|i| 18.5 + f64::from(i) * 0.37).collect();
    for (i, b) in bmi.iter().enumerate() {
        csv.push_str(&format!("{i},patient {i},{b:.2},{}\n", 30 + i % 40));
    }
    std::fs::write(d.join("data.csv"), csv).unwrap();
    let (ok, out, err) = run(&["encrypt", "--keys", "keys", "--csv", "data.csv", "--out", "data.rv"], &d);
    assert!(ok, "{err}");
    assert!(out.contains("not encrypted (text): name"), "{out}");
    // The server's directory has no secret key.
    std::fs::create_dir_all(d.join("server")).unwrap();
    for f in ["public.key", "eval.keys"] {
        std::fs::copy(d.join("keys").join(f), d.join("server").join(f)).unwrap();
    }
    let (ok, _, err) = run(&["eval", "--keys", "server", "--data", "data.rv", "--stat", "mean", "--column", "body mass index", "--out", "mean.rv"], &d);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["decrypt", "--keys", "keys", "--result", "mean.rv", "--json"], &d);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let want = bmi.iter().map(|b| (b * 100.0).round() / 100.0).sum::<f64>() / 50.0;
    assert_eq!(v["stat"], "mean");
    assert_eq!(v["column"], "body mass index");
    assert_eq!(v["count"], 50);
    assert!((v["value"].as_f64().unwrap() - want).abs() <= 1e-9 * want);
    std::fs::write(d.join("model.json"), r#"{"intercept": -2.5, "weights": {"age": 0.05, "body mass index": 0.01}}"#).unwrap();
    let (ok, _, err) = run(&["eval", "--keys", "server", "--data", "data.rv", "--logreg", "model.json", "--out", "scores.rv"], &d);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["decrypt", "--keys", "keys", "--result", "scores.rv", "--json"], &d);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["scores"].as_array().unwrap().len(), 50);
    let s0 = v["scores"][0].as_f64().unwrap();
    assert!((s0 - (-2.5 + 0.05 * 30.0 + 0.01 * 18.5)).abs() < 1e-9);
    // Decryption needs the secret key; a result file is not a data file.
    assert!(!run(&["decrypt", "--keys", "server", "--result", "mean.rv"], &d).0);
    assert!(!run(&["eval", "--keys", "server", "--data", "mean.rv", "--stat", "sum", "--column", "age", "--out", "x.rv"], &d).0);
    let (ok, _, err) = run(&["eval", "--keys", "server", "--data", "data.rv", "--stat", "mean", "--column", "nope", "--out", "x.rv"], &d);
    assert!(!ok && err.contains("nope"), "{err}");
}

#[test]
fn hostile_csv_files_fail_with_line_and_column() {
    let (d, _guard) = temp_dir("hostile");
    assert!(run(&["keygen", "--dir", "keys", "--preset", "n4096"], &d).0);
    for (name, text, needle) in [
        ("empty.csv", "", "empty"),
        ("ragged.csv", "a,b\n1,2\n3\n", "line 3"),
        ("nan.csv", "a\n1\nNaN\n", "line 3, column \"a\""),
        ("huge.csv", "a\n1e40\n", "too large"),
        ("big.csv", "a\n1e20\n", "exceeds the plaintext space"),
    ] {
        std::fs::write(d.join(name), text).unwrap();
        let (ok, _, err) = run(&["encrypt", "--keys", "keys", "--csv", name, "--out", "x.rv"], &d);
        assert!(!ok, "{name} was accepted");
        assert!(err.contains(needle), "{name}: {err}");
    }
    std::fs::write(d.join("gaps.csv"), "a,b\n1,2\n,3\nx,4\n5,6\n").unwrap();
    let (ok, out, err) = run(&["encrypt", "--keys", "keys", "--csv", "gaps.csv", "--out", "g.rv", "--skip-missing"], &d);
    assert!(ok, "{err}");
    assert!(out.contains("2 cells skipped"), "{out}");
    // A truncated data file is rejected by the loaders.
    let bytes = std::fs::read(d.join("g.rv")).unwrap();
    std::fs::write(d.join("cut.rv"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(!run(&["eval", "--keys", "keys", "--data", "cut.rv", "--stat", "sum", "--column", "a", "--out", "y.rv"], &d).0);
}

/// `examples/diabetes.csv` (442 patients of Efron et al. 2004, committed, not written by a
/// test): statistics of every column and a logistic model through the file flow, against
/// float64 on the same file.
#[test]
fn the_bundled_diabetes_csv_matches_float64() {
    let (d, _guard) = temp_dir("diabetes");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = std::fs::read_to_string(root.join("diabetes.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let rows: Vec<Vec<f64>> = text.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 442);
    let column = |name: &str| -> Vec<f64> {
        let j = header.iter().position(|h| *h == name).unwrap();
        rows.iter().map(|r| r[j]).collect()
    };
    assert!(run(&["keygen", "--dir", "keys", "--preset", "n4096"], &d).0);
    let csv = root.join("diabetes.csv");
    let (ok, _, err) = run(&["encrypt", "--keys", "keys", "--csv", csv.to_str().unwrap(), "--out", "data.rv"], &d);
    assert!(ok, "{err}");
    for (name, stat) in [("bmi", "mean"), ("ltg", "variance"), ("tc", "sample_stddev"), ("progression", "sum_of_squares"), ("sex", "count")] {
        let (ok, _, err) = run(&["eval", "--keys", "keys", "--data", "data.rv", "--stat", stat, "--column", name, "--out", "r.rv"], &d);
        assert!(ok, "{name} {stat}: {err}");
        let (ok, out, err) = run(&["decrypt", "--keys", "keys", "--result", "r.rv", "--json"], &d);
        assert!(ok, "{err}");
        assert!(out.starts_with(&format!("{{\"stat\":\"{stat}\",\"column\":\"{name}\",\"count\":442,\"value\":")), "{out}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let x = column(name);
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let ss = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
        let want = match stat {
            "mean" => mean,
            "variance" => ss / n,
            "sample_stddev" => (ss / (n - 1.0)).sqrt(),
            "sum_of_squares" => x.iter().map(|v| v * v).sum(),
            _ => n,
        };
        let got = v["value"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want.abs(), "{name} {stat}: {got} vs {want}");
        assert_eq!(v["count"], 442);
    }
    assert!((column("bmi").iter().sum::<f64>() / 442.0 - 26.3757).abs() < 1e-4, "the issue's worked figure");
    let model = root.join("diabetes-model.json");
    let (ok, _, err) = run(&["eval", "--keys", "keys", "--data", "data.rv", "--logreg", model.to_str().unwrap(), "--out", "s.rv"], &d);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["decrypt", "--keys", "keys", "--result", "s.rv", "--json"], &d);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    let b = m["intercept"].as_f64().unwrap();
    let weights: Vec<(Vec<f64>, f64)> = m["weights"].as_object().unwrap().iter().map(|(k, w)| (column(k), w.as_f64().unwrap())).collect();
    let scores = v["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 442);
    for (i, s) in scores.iter().enumerate() {
        let terms: Vec<f64> = weights.iter().map(|(x, w)| w * x[i]).collect();
        let want = b + terms.iter().sum::<f64>();
        let scale = b.abs() + terms.iter().map(|t| t.abs()).sum::<f64>();
        let got = s.as_f64().unwrap();
        assert!((got - want).abs() <= 1e-6 * scale, "row {i}: {got} vs {want}");
        let p = v["probabilities"][i].as_f64().unwrap();
        assert_eq!(p >= 0.5, want >= 0.0, "row {i}: predicted class");
    }
}

/// Whether a GPU adapter is usable by the tests (software ones allowed); `None` with a note
/// when there is none and CI does not require one.
fn gpu_adapters(d: &Path) -> Option<Vec<serde_json::Value>> {
    let (ok, out, err) = run(&["info", "--json"], d);
    assert!(ok, "{err}");
    let info: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let adapters: Vec<serde_json::Value> = info["gpu_adapters"].as_array().unwrap().iter().filter(|a| a["usable"] == true).cloned().collect();
    if adapters.is_empty() {
        let required = std::env::var("RINGVAULT_REQUIRE_GPU").is_ok_and(|v| v == "1");
        assert!(!required, "RINGVAULT_REQUIRE_GPU=1 but `ringvault info` lists no usable GPU adapter: {out}");
        eprintln!("skipping the GPU command-line test: no adapter");
        return None;
    }
    eprintln!("GPU adapters: {}", serde_json::Value::Array(adapters.clone()));
    Some(adapters)
}

/// `--backend gpu` runs the server's side on the GPU (a software adapter in CI) and writes
/// byte for byte the files the CPU writes; bench runs on it; `gpu` never falls back silently.
#[test]
fn gpu_backend_writes_the_cpu_bytes() {
    let (d, _guard) = temp_dir("gpu");
    let Some(adapters) = gpu_adapters(&d) else { return };
    let gpu = |args: &[&str]| output(bin().args(["--backend", "gpu"]).args(args).env("RINGVAULT_GPU_SOFTWARE", "1").current_dir(&d));
    assert!(run(&["keygen", "--dir", "keys", "--preset", "n4096"], &d).0);
    std::fs::write(d.join("v.csv"), "hr,bmi\n72,27.4\n80,31.02\n65,22.9\n91,24.75\n").unwrap();
    let (ok, _, err) = run(&["encrypt", "--keys", "keys", "--csv", "v.csv", "--out", "v.rv"], &d);
    assert!(ok, "{err}");
    std::fs::write(d.join("m.json"), r#"{"intercept": -3.0, "weights": {"hr": 0.02, "bmi": 0.05}}"#).unwrap();
    for (args, out) in [(vec!["--stat", "variance", "--column", "bmi"], "var"), (vec!["--logreg", "m.json"], "scores")] {
        let cpu_out = format!("{out}-cpu.rv");
        let gpu_out = format!("{out}-gpu.rv");
        let base = ["eval", "--keys", "keys", "--data", "v.rv"];
        let (ok, _, err) = run(&[&base[..], &args, &["--out", &cpu_out]].concat(), &d);
        assert!(ok, "{err}");
        let (ok, _, err) = gpu(&[&base[..], &args, &["--out", &gpu_out]].concat());
        assert!(ok, "{err}");
        assert!(err.contains("backend: gpu-"), "{err}");
        assert_eq!(std::fs::read(d.join(&cpu_out)).unwrap(), std::fs::read(d.join(&gpu_out)).unwrap(), "{out}: the GPU's result file differs from the CPU's");
    }
    let (ok, out, err) = run(&["decrypt", "--keys", "keys", "--result", "var-gpu.rv", "--json"], &d);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let bmi = [27.4, 31.02, 22.9, 24.75];
    let mean = bmi.iter().sum::<f64>() / 4.0;
    let want = bmi.iter().map(|b| (b - mean) * (b - mean)).sum::<f64>() / 4.0;
    assert!((v["value"].as_f64().unwrap() - want).abs() <= 1e-9 * want);

    let (ok, out, err) = gpu(&["bench", "--json", "--quick", "--n", "1024", "--limbs", "1,3", "--batch", "2", "--no-scheme"]);
    assert!(ok, "{err}");
    let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 12, "{out}");
    assert!(records.iter().all(|r| r["backend"].as_str().unwrap().starts_with("gpu-") && r["median_ns"].as_f64().unwrap() > 0.0), "{out}");

    // The main job end to end on the GPU (it checks every figure against float64 itself).
    let (ok, out, err) = gpu(&["demo", "--records", "40"]);
    assert!(ok, "{err}");
    assert!(out.contains("backend: gpu-") && out.contains("predicted class equal on 40/40") && out.contains("sum correct"), "{out}");

    // Without permission for software adapters, `gpu` on a software-only machine is an error.
    if adapters.iter().all(|a| a["software"] == true) {
        let (ok, _, err) = run(&["--backend", "gpu", "eval", "--keys", "keys", "--data", "v.rv", "--stat", "sum", "--column", "hr", "--out", "x.rv"], &d);
        assert!(!ok && err.contains("--backend gpu: ") && err.contains("RINGVAULT_GPU_SOFTWARE=1"), "{err}");
        assert!(!d.join("x.rv").exists());
        let (ok, _, err) = run(&["--backend", "auto", "eval", "--keys", "keys", "--data", "v.rv", "--stat", "sum", "--column", "hr", "--out", "x.rv"], &d);
        assert!(ok && err.contains("auto: no hardware GPU adapter"), "{err}");
    }
}

/// `keygen --schema`: the parameters follow from the dataset's ranges and computations.
#[test]
fn keygen_takes_its_parameters_from_a_schema() {
    let (d, _guard) = temp_dir("schema-keys");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("diabetes-schema.json");
    // 100 records of every column's variance fit n = 4096 (ltg's 4 decimals squared need 32
    // bits); 100,000 would need n = 8192.
    let (ok, out, err) = run(&["keygen", "--dir", "keys", "--schema", schema.to_str().unwrap(), "--records", "100"], &d);
    assert!(ok, "{err}");
    assert!(err.contains("n4096 holds 100 records"), "{err}");
    assert!(out.contains("keys for n4096"), "{out}");
    let (ok, _, err) = run(&["keygen", "--dir", "more", "--schema", schema.to_str().unwrap(), "--preset", "n8192"], &d);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}
