//! A kernel self-check for `ringvault demo`: a negacyclic product of two random polynomials at
//! n = 4096 over a 109-bit RNS modulus, computed with the NTT on every CPU level and compared
//! with a schoolbook product in big integers.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use num_bigint::BigUint;
use ringvault_backend_cpu::{CpuBackend, CpuLevel};
use ringvault_core::prime::ntt_basis_for_bits;
use ringvault_core::rns::RnsBasis;
use ringvault_core::{Backend, BatchShape, Coeff, Error, PolyBatch, RingContext};

/// What the self-check found.
#[derive(Debug)]
pub struct Report {
    lines: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.lines.join("\n"))
    }
}

const N: usize = 4096;
/// Coefficients checked against the big-integer schoolbook product.
const CHECKED: [usize; 4] = [0, 1, N / 2, N - 1];

/// Runs the check.
///
/// # Errors
/// A backend error, or [`Error::Backend`] naming the level whose product disagreed.
pub fn run() -> Result<Report, Error> {
    let primes = ntt_basis_for_bits(N, 109, 30)?;
    let basis = RnsBasis::new(&primes)?;
    let ring = Arc::new(RingContext::new(N, &primes)?);
    let shape = BatchShape::new(1, N, (0..primes.len()).collect());
    // Two polynomials with pseudo-random coefficients below Q.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut coeffs = || -> Vec<BigUint> {
        (0..N)
            .map(|_| {
                state ^= state << 7;
                state ^= state >> 9;
                (BigUint::from(state) << 64u32 | BigUint::from(state.rotate_left(23))) % basis.product()
            })
            .collect()
    };
    let (a, b) = (coeffs(), coeffs());
    let to_batch = |p: &[BigUint]| -> Result<PolyBatch<Coeff>, Error> {
        let mut data = vec![0u32; primes.len() * N];
        for (i, c) in p.iter().enumerate() {
            for (l, r) in basis.decompose(c).into_iter().enumerate() {
                data[l * N + i] = r;
            }
        }
        PolyBatch::from_residues(&ring, shape.clone(), data)
    };
    let (ha, hb) = (to_batch(&a)?, to_batch(&b)?);
    // Schoolbook negacyclic product at a few coefficients, in big integers.
    let q = basis.product();
    #[allow(clippy::needless_range_loop, reason = "negacyclic index arithmetic")]
    let expected: Vec<BigUint> = CHECKED
        .iter()
        .map(|&k| {
            let (mut pos, mut neg) = (BigUint::default(), BigUint::default());
            for i in 0..N {
                let (j, wraps) = if i <= k { (k - i, false) } else { (N + k - i, true) };
                let term = &a[i] * &b[j];
                if wraps { neg += term } else { pos += term }
            }
            (pos + (q - (neg % q))) % q
        })
        .collect();
    let mut lines = vec![format!("self-check: product of two polynomials, n = {N}, {} primes ({} bits)", primes.len(), q.bits())];
    for level in CpuLevel::supported() {
        let cpu = CpuBackend::with_level(level)?;
        let plan = cpu.plan(ring.clone())?;
        let start = Instant::now();
        let mut x = cpu.ntt_forward(&plan, cpu.upload(&plan, &ha)?)?;
        let y = cpu.ntt_forward(&plan, cpu.upload(&plan, &hb)?)?;
        cpu.mul_pointwise_assign(&plan, &mut x, &y)?;
        let product = cpu.download(&plan, &cpu.ntt_inverse(&plan, x)?)?;
        let elapsed = start.elapsed();
        for (&k, want) in CHECKED.iter().zip(&expected) {
            let residues: Vec<u32> = (0..primes.len()).map(|l| product.row(l)[k]).collect();
            if &basis.reconstruct(&residues)? != want {
                return Err(Error::Backend { backend: cpu.name(), reason: format!("coefficient {k} of the product is wrong") });
            }
        }
        lines.push(format!("  {:<12} 3 NTTs + pointwise product in {:>8.1} µs: matches the schoolbook product", cpu.name(), elapsed.as_secs_f64() * 1e6));
    }
    Ok(Report { lines })
}

/// The paper's workload at one preset (t = 65537) on `backend`: keys, then
/// [`ringvault_app::workloads::sum128x100`] (encrypt 100 random 128-bit integers, 99 additions, decrypt,
/// decode, check). Returns a one-line summary.
///
/// # Errors
/// Scheme errors, or a wrong sum.
pub fn sum128<B: Backend>(backend: Arc<B>, preset: ringvault_core::scheme::Preset) -> Result<String, Error> {
    use ringvault_core::scheme::Scheme;
    let scheme = Scheme::new(backend, preset.parameters(65537)?)?;
    let mut rng = ringvault_core::scheme::sampling::default_rng();
    let start = Instant::now();
    let sk = scheme.generate_secret_key(&mut rng)?;
    let keys = scheme.generate_evaluation_keys(&sk, &[], &mut rng)?;
    let keygen = start.elapsed();
    let (adds_ns, total_ns) = ringvault_app::workloads::sum128x100(&scheme, &keys, &sk, 2011)?;
    Ok(format!(
        "{:<10} ({}): keys {:.1} ms, 99 additions {:.3} ms, encrypt 100 + sum + decrypt + check {:.1} ms — sum correct",
        preset.name(),
        scheme.params(),
        keygen.as_secs_f64() * 1e3,
        adds_ns / 1e6,
        total_ns / 1e6
    ))
}
