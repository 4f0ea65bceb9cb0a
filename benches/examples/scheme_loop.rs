//! Runs one scheme operation in a loop on one thread, for `perf record` (not a benchmark:
//! `ringvault bench` and the criterion benches measure).
//!
//! `cargo run --release -p ringvault-benches --example scheme_loop -- rotate n8192 2000`
//! (ops: rotate, mul_relin, encrypt, decrypt, add; `stats4096 n4096 200` loops the
//! statistics job of `ringvault bench`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use num_bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::encoding::IntegerEncoder;
use ringvault_core::scheme::{GaloisElement, Preset, Scheme};

fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(1).build_global().expect("rayon pool");
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).map_or("rotate", String::as_str);
    let preset = Preset::from_name(args.get(2).map_or("n8192", String::as_str)).expect("preset name");
    let iters: usize = args.get(3).map_or(1000, |s| s.parse().expect("iterations"));
    if op == "stats4096" {
        return stats_loop(preset, iters);
    }
    let scheme = Scheme::new(Arc::new(CpuBackend::new()), preset.parameters(65537).unwrap()).unwrap();
    let params = scheme.params().clone();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let sk = scheme.generate_secret_key(&mut rng).unwrap();
    let keys = scheme.generate_evaluation_keys(&sk, &[GaloisElement::row_rotation(params.n(), 1)], &mut rng).unwrap();
    let pt = IntegerEncoder::new(&params, 1).unwrap().encode(&BigInt::from(12345u32)).unwrap();
    let enc = scheme.encryptor(keys.public_key()).unwrap();
    let (a, b) = (enc.encrypt(&pt, &mut rng).unwrap(), enc.encrypt(&pt, &mut rng).unwrap());
    let dec = scheme.decryptor(&sk).unwrap();
    let ev = scheme.evaluator(&keys).unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        match op {
            "rotate" => drop(ev.rotate_rows(&a, 1).unwrap()),
            "mul_relin" => drop(ev.mul_relin(&a, &b).unwrap()),
            "encrypt" => drop(enc.encrypt(&pt, &mut rng).unwrap()),
            "decrypt" => drop(dec.decrypt(&a).unwrap()),
            "add" => drop(ev.add(&a, &b).unwrap()),
            other => panic!("unknown op {other}"),
        }
    }
    println!("{op} {preset:?}: {:.1} µs per operation", start.elapsed().as_secs_f64() * 1e6 / iters as f64);
}

fn stats_loop(preset: Preset, iters: usize) {
    use ringvault_core::stats::{StatsContext, StatsParameters};
    let ctx = StatsContext::new(Arc::new(CpuBackend::new()), StatsParameters::for_preset(preset).unwrap()).unwrap();
    let (sk, keys) = ctx.generate_keys(&mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    let start = Instant::now();
    let server = ctx.evaluator(&keys).unwrap();
    let built = start.elapsed();
    let first = ringvault::app::workloads::stats4096(&ctx, &keys, &server, &sk, u64::MAX).unwrap();
    println!(
        "stats4096 {preset:?}: evaluator built in {:.2} ms; first job {:.2} ms (derives the Galois keys' device form)",
        built.as_secs_f64() * 1e3,
        first / 1e6
    );
    let mut total = 0.0;
    for seed in 0..iters as u64 {
        total += ringvault::app::workloads::stats4096(&ctx, &keys, &server, &sk, seed).unwrap();
    }
    println!("stats4096 {preset:?}: {:.2} ms per job", total / 1e6 / iters as f64);
    // A second evaluator in a warm process: what building the keys' device form costs alone.
    let again = ctx.evaluator(&keys).unwrap();
    let second = ringvault::app::workloads::stats4096(&ctx, &keys, &again, &sk, 1).unwrap();
    println!("stats4096 {preset:?}: a new evaluator's first job, warm process: {:.2} ms", second / 1e6);
}
