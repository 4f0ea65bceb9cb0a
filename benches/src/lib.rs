//! Shared helpers of the RingVault criterion benches.
//!
//! Benches live in `benches/benches/`; run them with `cargo bench -p ringvault-benches`.
//! Set `RINGVAULT_BENCH_FULL=1` for the full sweep (longer measurements, every size).

use std::sync::Arc;

use ringvault_core::prime::ntt_primes;
use ringvault_core::{BatchShape, Domain, Error, PolyBatch, RingContext};

/// The anchors' 30-bit prime: the largest below 2^30 that is `≡ 1 (mod 2^16)`, shared with
/// the peer benchmarks so every NTT is timed on the same modulus.
///
/// # Errors
/// None in practice; propagates prime generation errors.
pub fn anchor_prime() -> Result<u32, Error> {
    Ok(ntt_primes(30, 1 << 15, 1)?[0])
}

/// A one-prime ring of degree `n` over [`anchor_prime`].
///
/// # Errors
/// As [`RingContext::new`].
pub fn anchor_ring(n: usize) -> Result<Arc<RingContext>, Error> {
    Ok(Arc::new(RingContext::new(n, &[anchor_prime()?])?))
}

/// Deterministic pseudo-random residues for a batch of `count` one-limb polynomials.
///
/// # Errors
/// As [`PolyBatch::from_residues`].
pub fn sample_batch<D: Domain>(ring: &RingContext, count: usize, seed: u64) -> Result<PolyBatch<D>, Error> {
    let q = u64::from(ring.modulus(0).value());
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..count * ring.n())
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % q) as u32
        })
        .collect();
    PolyBatch::from_residues(ring, BatchShape::new(count, ring.n(), vec![0]), data)
}

/// Whether the full sweep was requested (`RINGVAULT_BENCH_FULL=1`).
pub fn full_sweep() -> bool {
    std::env::var("RINGVAULT_BENCH_FULL").is_ok_and(|v| v == "1")
}
