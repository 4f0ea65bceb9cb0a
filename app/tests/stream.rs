//! Streaming CSV encryption (`TableEncryptor::encrypt_csv`): a file of several blocks and a
//! ragged last block gives the statistics of float64, with no more than about one block of
//! values and ciphertexts alive at once, and a bad cell leaves no file behind.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use ringvault_app::keys::{self, EVAL_KEYS, PUBLIC_KEY, SECRET_KEY};
use ringvault_app::local::{TableEncryptor, TableEvaluator};
use ringvault_app::results::{self, Decrypted};
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::Stat;

/// n of the preset used here.
const N: usize = 4096;

fn keys_in(dir: &Path, records: u64) -> Arc<CpuBackend> {
    let backend = Arc::new(CpuBackend::new());
    keys::generate_into(backend.clone(), dir, Preset::N4096, records).unwrap();
    backend
}

/// Writes `records` rows: an id (text), glucose (1 decimal), a signed change (2 decimals,
/// every 7th cell empty with `gaps`); returns the present values of the two numeric columns.
fn write_csv(path: &Path, records: usize, gaps: bool) -> (Vec<f64>, Vec<f64>) {
    let mut text = String::from("id,glucose,change\n");
    let (mut glucose, mut change) = (Vec::new(), Vec::new());
    for i in 0..records {
        let g = 70.0 + ((i * 7919) % 900) as f64 / 10.0;
        let c = ((i * 104_729) % 2001) as f64 / 100.0 - 10.0;
        glucose.push(g);
        if gaps && i % 7 == 3 {
            writeln!(text, "p{i},{g:.1},").unwrap();
        } else {
            change.push(c);
            writeln!(text, "p{i},{g:.1},{c:.2}").unwrap();
        }
    }
    std::fs::write(path, text).unwrap();
    (glucose, change)
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n)
}

#[test]
fn a_streamed_table_of_several_blocks_matches_float64_within_one_block_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    // Four full blocks of one chunk each and a ragged fifth.
    let records = 4 * N + 1234;
    let backend = keys_in(dir.path(), records as u64);
    let csv = dir.path().join("cohort.csv");
    let (glucose, change) = write_csv(&csv, records, true);
    let out = dir.path().join("cohort.rv");
    let enc = TableEncryptor::new(backend.clone(), &keys::read_file(&dir.path().join(PUBLIC_KEY)).unwrap()).unwrap();
    let mut calls = Vec::new();
    let done = enc.encrypt_csv(&csv, &out, &BTreeMap::new(), true, 1, &mut |d, t| calls.push((d, t))).unwrap();
    assert_eq!((done.records, done.blocks, done.block_records), (records, 5, N));
    assert_eq!(done.skipped_columns, vec!["id"]);
    assert_eq!(done.skipped_cells["change"], records.div_ceil(7) - usize::from(records % 7 <= 3));
    assert_eq!(calls.first(), Some(&(0, records)));
    assert_eq!(calls.last(), Some(&(records, records)));
    assert_eq!(calls.len(), 6, "one progress call before and one after each block");
    assert!(!dir.path().join("cohort.rv.partial").exists());
    assert_eq!(std::fs::metadata(&out).unwrap().len(), done.file_bytes);

    // Memory: what was alive at once is one block's values and ciphertexts (a fifth of the
    // file's objects), not the table.
    let per_block = done.file_bytes as usize / done.blocks;
    let plain_block = 2 * N * std::mem::size_of::<Option<i128>>();
    assert!(done.peak_live_bytes <= per_block + plain_block, "peak {} > one block {per_block} + {plain_block}", done.peak_live_bytes);
    // A file of twice the blocks needs no more.
    let csv2 = dir.path().join("twice.csv");
    write_csv(&csv2, 9 * N + 1234, true);
    let twice = enc.encrypt_csv(&csv2, &dir.path().join("twice.rv"), &BTreeMap::new(), true, 1, &mut |_, _| {}).unwrap();
    assert_eq!(twice.blocks, 10);
    assert_eq!(twice.peak_live_bytes, done.peak_live_bytes, "the peak grew with the file");

    // The server computes on the streamed file as on any table; the owner decrypts.
    let eval = TableEvaluator::new(backend.clone(), &keys::read_file(&dir.path().join(EVAL_KEYS)).unwrap()).unwrap();
    let table = keys::read_file(&out).unwrap();
    let answer = eval.stats(&table, &[(Stat::Mean, "glucose"), (Stat::Variance, "glucose"), (Stat::Mean, "change"), (Stat::Variance, "change")]).unwrap();
    let Decrypted::Stats(values) = results::decrypt(backend, &keys::read_file(&dir.path().join(SECRET_KEY)).unwrap(), &answer).unwrap() else { panic!("not stats") };
    let (gm, gv) = mean_var(&glucose);
    let (cm, cv) = mean_var(&change);
    for (v, (want, count)) in values.iter().zip([(gm, glucose.len()), (gv, glucose.len()), (cm, change.len()), (cv, change.len())]) {
        assert_eq!(v.count, count, "{v:?}");
        assert!(((v.value - want) / want).abs() <= 1e-9, "{v:?} against {want}");
    }
}

#[test]
fn a_bad_cell_late_in_the_file_is_an_error_naming_it_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let records = N + 10;
    let backend = keys_in(dir.path(), records as u64);
    let csv = dir.path().join("bad.csv");
    write_csv(&csv, records, false);
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("late,abc,1.00\n");
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("bad.rv");
    let enc = TableEncryptor::new(backend, &keys::read_file(&dir.path().join(PUBLIC_KEY)).unwrap()).unwrap();
    let e = enc.encrypt_csv(&csv, &out, &BTreeMap::new(), false, 1, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains(&format!("line {}", records + 2)) && e.contains("glucose") && e.contains("\"abc\""), "{e}");
    assert!(!out.exists() && !dir.path().join("bad.rv.partial").exists());
}
