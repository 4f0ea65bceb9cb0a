//! Key switching by method: for each ring and digit layout (one prime per digit, hybrid digits
//! of `α` primes with `α` special primes), the time of a rotation and of a relinearized
//! product at the top level, the size of one key-switching key at the top level and at each
//! lower level, and the time to generate one, on one thread. The numbers behind DESIGN.md's
//! key-switching trade-off and BENCHMARKS.md.
//!
//! `cargo run --release -p ringvault-benches --example key_switching [-- ITERATIONS]`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use num_bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use ringvault_backend_cpu::CpuBackend;
use ringvault_core::encoding::IntegerEncoder;
use ringvault_core::prime::ntt_basis_for_bits;
use ringvault_core::scheme::{GaloisElement, Parameters, ParametersLiteral, Scheme, SecurityLevel};

/// Median seconds of `runs` timings of `f`, each over `iters` calls.
fn median(runs: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() / iters as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[runs / 2]
}

fn literal(n: usize, bits: u32, special: usize, digit_primes: usize) -> ParametersLiteral {
    let mut primes = ntt_basis_for_bits(n, bits, 30).unwrap();
    let special_primes = primes.split_off(primes.len() - special);
    ParametersLiteral { n, ciphertext_primes: primes, special_primes, digit_primes, plaintext_modulus: 65537, security: SecurityLevel::Bits128 }
}

fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(1).build_global().expect("rayon pool");
    let iters: usize = std::env::args().nth(1).map_or(200, |s| s.parse().expect("iterations"));
    println!("| n | L + K | α (primes per digit) | depth | rotate (µs) | multiply + relinearize (µs) | key at top level (KB) | key per level 1..L (KB) | keygen per key (ms) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (n, bits, layouts) in [(4096usize, 109u32, &[(1usize, 1usize)][..]), (8192, 218, &[(1, 1), (2, 2), (3, 3)][..]), (16384, 438, &[(1, 1), (2, 2), (3, 3)][..])] {
        for &(special, alpha) in layouts {
            let params = Parameters::new(literal(n, bits, special, alpha)).unwrap();
            let scheme = Scheme::new(Arc::new(CpuBackend::new()), params.clone()).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let sk = scheme.generate_secret_key(&mut rng).unwrap();
            let k = GaloisElement::row_rotation(n, 1);
            let keys = scheme.generate_evaluation_keys(&sk, &[k], &mut rng).unwrap();
            let pt = IntegerEncoder::new(&params, 1).unwrap().encode(&BigInt::from(12345u32)).unwrap();
            let enc = scheme.encryptor(keys.public_key()).unwrap();
            let (a, b) = (enc.encrypt(&pt, &mut rng).unwrap(), enc.encrypt(&pt, &mut rng).unwrap());
            let ev = scheme.evaluator(&keys).unwrap();
            let it = (iters * 8192 / n).max(10);
            let rotate = median(5, it, || drop(ev.rotate_rows(&a, 1).unwrap()));
            let mul = median(5, it, || drop(ev.mul_relin(&a, &b).unwrap()));
            let keygen = median(3, 3, || drop(scheme.generate_galois_key(&sk, k, &mut rng).unwrap()));
            let per_level: Vec<String> = (1..=params.max_level())
                .map(|l| format!("{:.0}", scheme.generate_galois_key_at(&sk, k, l, &mut rng).unwrap().to_bytes(&params).unwrap().len() as f64 / 1e3))
                .collect();
            let top = keys.galois_key(k).unwrap().to_bytes(&params).unwrap().len() as f64 / 1e3;
            println!(
                "| {n} | {} + {special} | {alpha} | {} | {:.0} | {:.0} | {top:.0} | {} | {:.1} |",
                params.max_level(),
                params.supported_depth(),
                rotate * 1e6,
                mul * 1e6,
                per_level.join(" / "),
                keygen * 1e3
            );
        }
    }
}
