//! GPU benches (criterion): upload, resident forward NTT and round trip (upload, forward
//! NTT, download) of 64 polynomials, timed separately, beside the CPU backend on the same
//! batches. The GPU's timed sections end with `Backend::synchronize`.
//!
//! Needs a hardware adapter; `RINGVAULT_GPU_SOFTWARE=1` accepts a software one (lavapipe:
//! arithmetic, not speed). Without an adapter it prints why and measures nothing.
//! Shapes: n = 2^14 with 8 limbs (`RINGVAULT_BENCH_FULL=1`: also 32 limbs and n = 2^16).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringvault::app::workloads::bench_ring;
use ringvault::gpu::{GpuBackend, GpuOptions};
use ringvault_backend_cpu::CpuBackend;
use ringvault_benches::{full_sweep, sample_batch};
use ringvault_core::{Backend, Coeff};

const POLYS: usize = 64;

fn shapes() -> Vec<(usize, usize)> {
    if full_sweep() { vec![(1 << 14, 8), (1 << 14, 32), (1 << 16, 8), (1 << 16, 32)] } else { vec![(1 << 14, 8)] }
}

fn config() -> Criterion {
    let (warm_ms, measure_ms, samples) = if full_sweep() { (1000, 5000, 20) } else { (300, 2000, 10) };
    Criterion::default().warm_up_time(Duration::from_millis(warm_ms)).measurement_time(Duration::from_millis(measure_ms)).sample_size(samples)
}

/// The three timings of one backend on one shape.
fn transfers<B: Backend>(c: &mut Criterion, backend: &B, n: usize, limbs: usize) {
    let ring = bench_ring(n, limbs).unwrap();
    let plan = backend.plan(ring.clone()).unwrap();
    let host = sample_batch::<Coeff>(&ring, POLYS, 1).unwrap();
    let id = |name: &str| BenchmarkId::new(name, format!("n={n}/limbs={limbs}/polys={POLYS}"));
    let mut group = c.benchmark_group(backend.name());
    group.throughput(Throughput::Elements((n * limbs * POLYS) as u64));
    group.bench_function(id("upload"), |b| {
        b.iter(|| {
            drop(backend.upload(&plan, black_box(&host)).unwrap());
            backend.synchronize().unwrap();
        });
    });
    let mut x = Some(backend.upload(&plan, &host).unwrap());
    group.bench_function(id("ntt_forward_resident"), |b| {
        b.iter(|| {
            let evals = backend.ntt_forward(&plan, x.take().unwrap()).unwrap();
            x = Some(backend.relabel(evals));
            backend.synchronize().unwrap();
        });
    });
    group.bench_function(id("ntt_roundtrip"), |b| {
        b.iter(|| {
            let evals = backend.ntt_forward(&plan, backend.upload(&plan, black_box(&host)).unwrap()).unwrap();
            black_box(backend.download(&plan, &evals).unwrap());
        });
    });
    group.finish();
}

fn gpu(c: &mut Criterion) {
    let allow_software = std::env::var("RINGVAULT_GPU_SOFTWARE").is_ok_and(|v| v == "1");
    let gpu = match GpuBackend::with_options(GpuOptions { allow_software, ..GpuOptions::default() }) {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("# no GPU measured: {e}");
            return;
        }
    };
    let a = gpu.adapter();
    eprintln!("# adapter: {} ({}, {}, driver {})", a.name, a.backend, a.device_type, a.driver);
    let cpu = CpuBackend::new();
    for (n, limbs) in shapes() {
        transfers(c, gpu.as_ref(), n, limbs);
        transfers(c, &cpu, n, limbs);
    }
}

criterion_group! { name = benches; config = config(); targets = gpu }
criterion_main!(benches);
