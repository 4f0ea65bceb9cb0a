//! The `ringvault-cluster sql` command on embedded DataFusion: encrypted results go to the
//! files named by `--out` (decrypted here as `ringvault decrypt` would), the rest is printed;
//! bad queries and missing files exit non-zero with a message.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::{Command, Output};

use common::*;
use ringvault_app::results::Decrypted;

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringvault-cluster")).args(args).env("RINGVAULT_BACKEND", "cpu").output().unwrap()
}

#[test]
fn sql_writes_encrypted_results_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("readings");
    std::fs::create_dir_all(&data).unwrap();
    write_parquet(&data);
    let table = format!("readings={}", data.display());
    let out = dir.path().join("bmi.rv");
    let o = cli(&["sql", "--table", &table, "--out", out.to_str().unwrap(), "SELECT device, rv_stat(rows, 'mean', 'bmi') AS mean FROM readings GROUP BY device ORDER BY device NULLS LAST"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8(o.stdout).unwrap();
    assert!(printed.contains("monitor-a") && printed.contains(out.to_str().unwrap()), "{printed}");
    for (k, upload) in [0, 2, 1].into_iter().enumerate() {
        let path = if k == 0 { out.clone() } else { std::path::PathBuf::from(format!("{}.{k}", out.display())) };
        let Decrypted::Stat(v) = decrypt(&std::fs::read(&path).unwrap()) else { panic!("not a stat") };
        close(v.value, mean(&values("bmi", UPLOADS[upload].clone())));
    }
    // Plain results print without --out; encrypted ones need it.
    let o = cli(&["sql", "--table", &table, "SELECT SUM(records) FROM readings"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&RECORDS.to_string()));
    for (args, why) in [
        (vec!["sql", "--table", &table, "SELECT rv_stat(rows, 'mean', 'bmi') FROM readings"], "name a file with --out"),
        (vec!["sql", "--table", &table, "SELECT rv_stat(rows, 'mode', 'bmi') FROM readings"], "unknown statistic"),
        (vec!["sql", "--table", "readings", "SELECT 1"], "NAME=PATH"),
        (vec!["sql", "--engine", "spark://x", "--table", &table, "SELECT 1"], "embedded or ballista://HOST:PORT"),
    ] {
        let o = cli(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(why), "{args:?}: {err}");
    }
}
