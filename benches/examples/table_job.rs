//! The Rust baseline of the Python benchmark (`python/bench/bench.py` runs both in one run): a
//! table of RECORDS records of the demo's 9 columns (`app::workloads::cohort`) encrypted with
//! `KEYS/public.key`, then the mean and variance of `glucose` with `KEYS/eval.keys`, through the
//! application layer (`app::local`, what the Python package binds). Prints one JSON line with
//! the median of REPS runs of each step.
//!
//! `cargo run --release -p ringvault-benches --example table_job -- KEYS 100000 3`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ringvault::app::keys::{EVAL_KEYS, PUBLIC_KEY, read_file};
use ringvault::app::local::{TableEncryptor, TableEvaluator};
use ringvault::app::workloads::{cohort, fixed_point};
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::stats::Stat;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keys = Path::new(args.get(1).expect("KEYS directory"));
    let records: usize = args.get(2).map_or(100_000, |s| s.parse().expect("records"));
    let reps: usize = args.get(3).map_or(3, |s| s.parse().expect("repetitions"));
    let backend = Arc::new(CpuBackend::new());
    let encryptor = TableEncryptor::new(backend.clone(), &read_file(&keys.join(PUBLIC_KEY)).unwrap()).unwrap();
    let evaluator = TableEvaluator::new(backend, &read_file(&keys.join(EVAL_KEYS)).unwrap()).unwrap();
    let columns = fixed_point(&cohort(records, 7));
    let (mut enc, mut eval) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        let table = encryptor.encrypt(&columns).unwrap();
        enc.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        evaluator.stats(&table, &[(Stat::Mean, "glucose"), (Stat::Variance, "glucose")]).unwrap();
        eval.push(t.elapsed().as_secs_f64());
    }
    println!("{{\"records\": {records}, \"columns\": {}, \"encrypt_s\": {}, \"mean_variance_s\": {}}}", columns.len(), median(enc), median(eval));
}
