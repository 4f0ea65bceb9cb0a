//! Scheme benches: encrypt, decrypt, add, multiply + relinearize, rotate at the n = 4096 and
//! n = 8192 presets (t = 65537), and the paper's 100 × 128-bit encrypted sum, at every CPU
//! level, on one thread (the peers are single-threaded).
//!
//! Group = operation; id = backend level; parameter = `n=…/logq=…`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use num_bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use ringvault::app::workloads::sum128x100;
use ringvault_backend_cpu::{CpuBackend, CpuLevel};
use ringvault_core::Backend;
use ringvault_core::encoding::IntegerEncoder;
use ringvault_core::scheme::{GaloisElement, Preset, Scheme};

fn config() -> Criterion {
    let (measure_ms, samples) = if ringvault_benches::full_sweep() { (5000, 30) } else { (1000, 10) };
    Criterion::default().warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_millis(measure_ms)).sample_size(samples)
}

fn scheme_ops(c: &mut Criterion) {
    // One worker thread for the whole process: the figures compare with single-core peers.
    rayon::ThreadPoolBuilder::new().num_threads(1).build_global().expect("rayon pool");
    {
        for preset in [Preset::N2048Additive, Preset::N4096, Preset::N8192] {
            for level in CpuLevel::supported() {
                let scheme = Scheme::new(Arc::new(CpuBackend::with_level(level).unwrap()), preset.parameters(65537).unwrap()).unwrap();
                let params = scheme.params().clone();
                let mut rng = ChaCha20Rng::seed_from_u64(1);
                let sk = scheme.generate_secret_key(&mut rng).unwrap();
                let galois = if params.supports_key_switching() { vec![GaloisElement::row_rotation(params.n(), 1)] } else { vec![] };
                let keys = scheme.generate_evaluation_keys(&sk, &galois, &mut rng).unwrap();
                let pt = IntegerEncoder::new(&params, 1).unwrap().encode(&BigInt::from(u128::MAX)).unwrap();
                let enc = scheme.encryptor(keys.public_key()).unwrap();
                let (a, b) = (enc.encrypt(&pt, &mut rng).unwrap(), enc.encrypt(&pt, &mut rng).unwrap());
                let dec = scheme.decryptor(&sk).unwrap();
                let ev = scheme.evaluator(&keys).unwrap();
                let id = || BenchmarkId::new(scheme.backend().name(), format!("n={}/logq={}", params.n(), params.total_bits()));
                c.benchmark_group("bgv_encrypt").bench_function(id(), |x| x.iter(|| enc.encrypt(black_box(&pt), &mut rng).unwrap()));
                c.benchmark_group("bgv_decrypt").bench_function(id(), |x| x.iter(|| dec.decrypt(black_box(&a)).unwrap()));
                c.benchmark_group("bgv_add").bench_function(id(), |x| x.iter(|| ev.add(black_box(&a), &b).unwrap()));
                if params.supports_key_switching() {
                    c.benchmark_group("bgv_mul_relin").bench_function(id(), |x| x.iter(|| ev.mul_relin(black_box(&a), &b).unwrap()));
                    c.benchmark_group("bgv_rotate").bench_function(id(), |x| x.iter(|| ev.rotate_rows(black_box(&a), 1).unwrap()));
                }
                if params.n() <= 4096 {
                    c.benchmark_group("sum128x100_total").bench_function(id(), |x| x.iter(|| sum128x100(&scheme, &keys, &sk, 7).unwrap()));
                }
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = scheme_ops
}
criterion_main!(benches);
