//! Times the GPU backend on large batches: upload, resident NTT (forward + inverse), pointwise
//! multiplication, and a full round trip (upload, forward, multiply, inverse, download).
//!
//! ```text
//! cargo run --release -p ringvault-backend-gpu --example gpu_bench            # hardware adapter
//! cargo run --release -p ringvault-backend-gpu --example gpu_bench -- --software --quick
//! ```
//!
//! Shapes: n = 2^14 and 2^16 (core's largest degree) with 8, 16 and 32 limbs of 30-bit primes and 64 polynomials (`--quick`: n = 2^12 and 2^14,
//! 4 limbs, 8 polynomials). Each timing is the median of 5 runs after a warm-up, ending in a
//! device wait; throughput counts residues per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ringvault_backend_gpu::{GpuBackend, GpuOptions};
use ringvault_core::prime::ntt_primes;
use ringvault_core::{Backend, BatchShape, Coeff, Error, Ntt, PolyBatch, RingContext};

fn median(mut f: impl FnMut() -> Result<Duration, Error>) -> Result<Duration, Error> {
    f()?;
    let mut times = (0..5).map(|_| f()).collect::<Result<Vec<_>, _>>()?;
    times.sort();
    Ok(times[2])
}

fn timed(gpu: &GpuBackend, f: impl FnOnce() -> Result<(), Error>) -> Result<Duration, Error> {
    let start = Instant::now();
    f()?;
    gpu.wait_idle()?;
    Ok(start.elapsed())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let software = args.iter().any(|a| a == "--software");
    let quick = args.iter().any(|a| a == "--quick");
    let gpu = GpuBackend::with_options(GpuOptions { allow_software: software, ..GpuOptions::default() })?;
    let a = gpu.adapter();
    println!("adapter: {} ({}, {}, driver {})", a.name, a.backend, a.device_type, a.driver);
    let (degrees, limb_counts, count) = if quick { (vec![1 << 12, 1 << 14], vec![4], 8) } else { (vec![1 << 14, 1 << 16], vec![8, 16, 32], 64) };
    println!("{:>6} {:>5} {:>5} {:>8} | {:>10} {:>12} {:>10} {:>12} | {:>12}", "n", "limbs", "polys", "MiB", "upload ms", "fwd+inv ms", "mul ms", "round ms", "NTT Mres/s");
    for &n in &degrees {
        for &limbs in &limb_counts {
            let primes = ntt_primes(30, n, limbs)?;
            let ring = Arc::new(RingContext::new(n, &primes)?);
            let plan = gpu.plan(ring.clone())?;
            let shape = BatchShape::new(count, n, (0..limbs).collect());
            let data: Vec<u32> = (0..shape.len()).map(|i| (i as u32).wrapping_mul(2_654_435_761) % primes[(i / n) % limbs]).collect();
            let host = PolyBatch::<Coeff>::from_residues(&ring, shape.clone(), data)?;
            let upload = median(|| timed(&gpu, || gpu.upload(&plan, &host).map(drop)))?;
            let mut x = Some(gpu.upload(&plan, &host)?);
            let ntt = median(|| {
                let b = x.take().ok_or_else(|| Error::Backend { backend: "bench".into(), reason: "the batch was lost to an earlier error".into() })?;
                let start = Instant::now();
                let back = gpu.ntt_inverse(&plan, gpu.ntt_forward(&plan, b)?)?;
                gpu.wait_idle()?;
                x = Some(back);
                Ok(start.elapsed())
            })?;
            let evals: <GpuBackend as Backend>::Batch<Ntt> = gpu.ntt_forward(&plan, gpu.upload(&plan, &host)?)?;
            let mut acc = gpu.duplicate(&plan, &evals)?;
            let mul = median(|| timed(&gpu, || gpu.mul_pointwise_assign(&plan, &mut acc, &evals)))?;
            let round = median(|| {
                let start = Instant::now();
                let mut e = gpu.ntt_forward(&plan, gpu.upload(&plan, &host)?)?;
                gpu.mul_pointwise_assign(&plan, &mut e, &evals)?;
                let back = gpu.download(&plan, &gpu.ntt_inverse(&plan, e)?)?;
                std::hint::black_box(back);
                Ok(start.elapsed())
            })?;
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let mib = (shape.len() * 4) as f64 / f64::from(1 << 20);
            let rate = 2.0 * shape.len() as f64 / ntt.as_secs_f64() / 1e6;
            println!("{n:>6} {limbs:>5} {count:>5} {mib:>8.1} | {:>10.2} {:>12.2} {:>10.2} {:>12.2} | {rate:>12.0}", ms(upload), ms(ntt), ms(mul), ms(round));
        }
    }
    Ok(())
}
