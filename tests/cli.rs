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
    let out = bin().args(args).current_dir(dir).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringvault-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn owner_and_server_exchange_only_files() {
    let d = temp_dir("flow");
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
    let d = temp_dir("hostile");
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
