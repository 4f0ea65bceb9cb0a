//! Kernel benches: forward and inverse NTT, pointwise multiply and add, at every CPU level, one
//! row and batches of 64 rows, beside tfhe-ntt 0.7.1's prime32 plan on the same prime.
//!
//! Group = operation; id = backend (`cpu-scalar`, `cpu-avx2`, `cpu-avx512`, `tfhe-ntt-prime32`);
//! parameter = `n=…/batch=…`; throughput in coefficients. tfhe-ntt batches run row after row on
//! one core (it has no batch API); ours use rayon across rows.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringvault_backend_cpu::{CpuBackend, CpuLevel};
use ringvault_benches::{anchor_prime, anchor_ring, full_sweep, sample_batch};
use ringvault_core::{Backend, Coeff, Ntt};

fn degrees() -> Vec<usize> {
    vec![4096, 8192, 16384]
}

fn batches() -> Vec<usize> {
    vec![1, 64]
}

/// Short measurements by default (laptop-friendly); `RINGVAULT_BENCH_FULL=1` for longer ones.
fn config() -> Criterion {
    let (warm_ms, measure_ms, samples) = if full_sweep() { (1000, 5000, 30) } else { (200, 1000, 10) };
    Criterion::default()
        .warm_up_time(Duration::from_millis(warm_ms))
        .measurement_time(Duration::from_millis(measure_ms))
        .sample_size(samples)
}

fn print_machine() {
    let levels: Vec<String> = CpuLevel::supported().iter().map(|l| l.to_string()).collect();
    eprintln!("# cpu levels: {}; default {}; rayon threads {}", levels.join(","), CpuLevel::detect(), rayon_threads());
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn ntt(c: &mut Criterion) {
    print_machine();
    for (op, forward) in [("ntt_forward", true), ("ntt_inverse", false)] {
        let mut group = c.benchmark_group(op);
        for n in degrees() {
            let ring = anchor_ring(n).unwrap();
            for batch in batches() {
                group.throughput(Throughput::Elements((n * batch) as u64));
                let param = format!("n={n}/batch={batch}");
                for level in CpuLevel::supported() {
                    let cpu = CpuBackend::with_level(level).unwrap();
                    let plan = cpu.plan(ring.clone()).unwrap();
                    let id = BenchmarkId::new(cpu.name(), &param);
                    if forward {
                        let mut a = Some(sample_batch::<Coeff>(&ring, batch, 1).unwrap());
                        group.bench_function(id, |bch| {
                            bch.iter(|| a = Some(cpu.ntt_forward(&plan, black_box(a.take().unwrap())).unwrap().relabel()))
                        });
                    } else {
                        let mut a = Some(sample_batch::<Ntt>(&ring, batch, 2).unwrap());
                        group.bench_function(id, |bch| {
                            bch.iter(|| a = Some(cpu.ntt_inverse(&plan, black_box(a.take().unwrap())).unwrap().relabel()))
                        });
                    }
                }
                // The peer, same prime, same data size, one row after another.
                let peer = tfhe_ntt::prime32::Plan::try_new(n, anchor_prime().unwrap()).unwrap();
                let mut rows = sample_batch::<Coeff>(&ring, batch, 3).unwrap().into_data();
                group.bench_function(BenchmarkId::new("tfhe-ntt-prime32", &param), |bch| {
                    bch.iter(|| {
                        for row in rows.chunks_exact_mut(n) {
                            if forward {
                                peer.fwd(black_box(row));
                            } else {
                                peer.inv(black_box(row));
                                peer.normalize(row);
                            }
                        }
                    })
                });
            }
        }
        group.finish();
    }
}

fn elementwise(c: &mut Criterion) {
    for op in ["mul_pointwise", "add"] {
        let mut group = c.benchmark_group(op);
        for n in degrees() {
            let ring = anchor_ring(n).unwrap();
            for batch in batches() {
                group.throughput(Throughput::Elements((n * batch) as u64));
                for level in CpuLevel::supported() {
                    let cpu = CpuBackend::with_level(level).unwrap();
                    let plan = cpu.plan(ring.clone()).unwrap();
                    let mut acc = sample_batch::<Ntt>(&ring, batch, 4).unwrap();
                    let b = sample_batch::<Ntt>(&ring, batch, 5).unwrap();
                    group.bench_function(BenchmarkId::new(cpu.name(), format!("n={n}/batch={batch}")), |bch| {
                        bch.iter(|| {
                            if op == "add" {
                                cpu.add_assign(&plan, black_box(&mut acc), &b).unwrap()
                            } else {
                                cpu.mul_pointwise_assign(&plan, black_box(&mut acc), &b).unwrap()
                            }
                        })
                    });
                }
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = ntt, elementwise
}
criterion_main!(benches);
