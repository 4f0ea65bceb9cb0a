//! Quick single-core NTT timing: RingVault's AVX-512 and AVX2 kernels (through the public
//! backend API) against tfhe-ntt 0.7.1's `prime32::Plan`, measured in the same run.
//!
//! Run: `cargo run --release -p ringvault-benches --example ntt_quick [n ...]`
//!
//! Method (the way tfhe-ntt is usually measured): each transform is applied repeatedly to its
//! own output (forward to forward's output, inverse to inverse's output); one sample is a
//! batch of iterations lasting about 5 ms; the reported figure is the median per-iteration time
//! over the samples. Ours and theirs alternate sample by sample so that noise from the other
//! core hits both alike. tfhe-ntt picks its AVX-512 path at run time where available.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringvault_backend_cpu::{CpuBackend, CpuLevel};
use ringvault_core::prime::ntt_primes;
use ringvault_core::{Backend, BatchShape, Coeff, Error, PolyBatch, RingContext};

/// Samples per measurement.
const SAMPLES: usize = 21;
/// Target duration of one sample.
const SAMPLE_TIME: Duration = Duration::from_millis(5);

/// Something that can be run `iters` times in a row.
trait Job {
    fn run(&mut self, iters: u64);
}

/// Per-iteration time of one batch of `iters` iterations.
fn time_batch(job: &mut dyn Job, iters: u64) -> f64 {
    let start = Instant::now();
    job.run(iters);
    start.elapsed().as_secs_f64() / iters as f64
}

/// Iterations that take about [`SAMPLE_TIME`].
fn calibrate(job: &mut dyn Job) -> u64 {
    let mut iters = 1u64;
    loop {
        let start = Instant::now();
        job.run(iters);
        let el = start.elapsed();
        if el >= SAMPLE_TIME / 4 {
            let per = el.as_secs_f64() / iters as f64;
            return ((SAMPLE_TIME.as_secs_f64() / per) as u64).max(1);
        }
        iters *= 2;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median per-iteration times (seconds) of `jobs`, sampled alternately.
fn measure(jobs: &mut [&mut dyn Job]) -> Vec<f64> {
    let iters: Vec<u64> = jobs.iter_mut().map(|j| calibrate(*j)).collect();
    let mut samples = vec![Vec::with_capacity(SAMPLES); jobs.len()];
    for _ in 0..SAMPLES {
        for (k, job) in jobs.iter_mut().enumerate() {
            samples[k].push(time_batch(*job, iters[k]));
        }
    }
    samples.into_iter().map(median).collect()
}

/// Our forward transform, through the backend API, applied to its own output.
struct OursFwd<'a> {
    cpu: &'a CpuBackend,
    plan: &'a <CpuBackend as Backend>::Plan,
    batch: Option<PolyBatch<Coeff>>,
}

impl Job for OursFwd<'_> {
    fn run(&mut self, iters: u64) {
        let Some(mut b) = self.batch.take() else { return };
        for _ in 0..iters {
            match self.cpu.ntt_forward(self.plan, b) {
                Ok(e) => b = black_box(e.relabel()),
                Err(e) => panic!("forward failed: {e}"),
            }
        }
        self.batch = Some(b);
    }
}

/// Our inverse transform, through the backend API, applied to its own output.
struct OursInv<'a> {
    cpu: &'a CpuBackend,
    plan: &'a <CpuBackend as Backend>::Plan,
    batch: Option<PolyBatch<ringvault_core::Ntt>>,
}

impl Job for OursInv<'_> {
    fn run(&mut self, iters: u64) {
        let Some(mut b) = self.batch.take() else { return };
        for _ in 0..iters {
            match self.cpu.ntt_inverse(self.plan, b) {
                Ok(c) => b = black_box(c.relabel()),
                Err(e) => panic!("inverse failed: {e}"),
            }
        }
        self.batch = Some(b);
    }
}

/// tfhe-ntt's forward or inverse transform, applied to its own output.
struct Tfhe<'a> {
    plan: &'a tfhe_ntt::prime32::Plan,
    buf: Vec<u32>,
    inverse: bool,
}

impl Job for Tfhe<'_> {
    fn run(&mut self, iters: u64) {
        for _ in 0..iters {
            if self.inverse {
                self.plan.inv(black_box(&mut self.buf));
            } else {
                self.plan.fwd(black_box(&mut self.buf));
            }
        }
    }
}

fn sample(n: usize, q: u32, seed: u64) -> Vec<u32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % u64::from(q)) as u32
        })
        .collect()
}

/// Retries `make` until its buffer starts `offset` bytes past a 64-byte boundary (every try
/// that misses stays allocated until the end so that the next lands elsewhere), so that ours
/// and tfhe-ntt's buffers are timed at the same alignment.
fn with_alignment<T>(offset: usize, mut make: impl FnMut() -> Result<T, Error>, ptr: impl Fn(&T) -> *const u32) -> Result<T, Error> {
    let mut misses = Vec::new();
    for _ in 0..256 {
        let x = make()?;
        if ptr(&x) as usize % 64 == offset {
            return Ok(x);
        }
        misses.push(x);
    }
    // Give up on the exact offset: the last buffer will do (reported below).
    misses.pop().map_or_else(make, Ok)
}

fn main() -> Result<(), Error> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if args.is_empty() { vec![4096, 8192, 16384] } else { args };
    let q = ntt_primes(30, 1 << 15, 1)?[0];
    println!("q = {q}; median of {SAMPLES} samples of ~{} ms; times in µs", SAMPLE_TIME.as_millis());
    println!("buffers of both libraries start `align` bytes past a 64-byte boundary");
    println!("tfhe-ntt picks its AVX-512 path at run time on this CPU, also on the avx2 rows;");
    println!("its inverse leaves out the n^-1 scaling, which ours includes");
    println!("{:>6} {:>6} {:>6} {:>4} {:>9} {:>9} {:>7}", "n", "align", "level", "dir", "ours", "tfhe-ntt", "ratio");
    for offset in [0usize, 16] {
        for &n in &sizes {
            let ring = Arc::new(RingContext::new(n, &[q])?);
            let Some(tplan) = tfhe_ntt::prime32::Plan::try_new(n, q) else {
                println!("tfhe-ntt has no plan for n = {n}");
                continue;
            };
            for level in [CpuLevel::Avx512, CpuLevel::Avx2] {
                let Ok(cpu) = CpuBackend::with_level(level) else {
                    println!("{n:>6} {:>6}: not supported on this CPU", level.as_str());
                    continue;
                };
                let plan = cpu.plan(ring.clone())?;
                let host = PolyBatch::<Coeff>::from_residues(&ring, BatchShape::new(1, n, vec![0]), sample(n, q, 1))?;
                let up = || cpu.upload(&plan, &host);
                let coeffs = with_alignment(offset, up, |b| b.data().as_ptr())?;
                let evals = cpu.ntt_forward(&plan, with_alignment(offset, up, |b| b.data().as_ptr())?)?;
                let tbuf = |seed| with_alignment(offset, || Ok(sample(n, q, seed)), |v| v.as_ptr());
                let mut tf = Tfhe { plan: &tplan, buf: tbuf(1)?, inverse: false };
                let mut ti = Tfhe { plan: &tplan, buf: tbuf(2)?, inverse: true };
                let aligns = [coeffs.data().as_ptr(), evals.data().as_ptr(), tf.buf.as_ptr(), ti.buf.as_ptr()];
                if aligns.iter().any(|&p| p as usize % 64 != offset) {
                    println!("(could not place every buffer at offset {offset}; got {:?})", aligns.map(|p| p as usize % 64));
                }
                let mut of = OursFwd { cpu: &cpu, plan: &plan, batch: Some(coeffs) };
                let mut oi = OursInv { cpu: &cpu, plan: &plan, batch: Some(evals) };
                let t = measure(&mut [&mut of, &mut tf, &mut oi, &mut ti]);
                let us = |s: f64| s * 1e6;
                let lv = level.as_str();
                println!("{n:>6} {offset:>6} {lv:>6} {:>4} {:>9.3} {:>9.3} {:>7.3}", "fwd", us(t[0]), us(t[1]), t[0] / t[1]);
                println!("{n:>6} {offset:>6} {lv:>6} {:>4} {:>9.3} {:>9.3} {:>7.3}", "inv", us(t[2]), us(t[3]), t[2] / t[3]);
            }
        }
    }
    Ok(())
}
