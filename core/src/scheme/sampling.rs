//! Samplers: ternary secrets, centered-binomial errors, uniform residues.
//!
//! All take `R: RngCore + CryptoRng`. Callers pass an operating-system-seeded ChaCha RNG
//! ([`default_rng`]); deterministic seeds appear only in tests. No sampler branches on or
//! indexes by the value it produces (rejection sampling discards candidates independently of
//! the accepted value).

use rand_chacha::{ChaCha12Rng, ChaCha20Rng};
use zeroize::Zeroize;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use crate::zq::reduce_once;
use crate::zq::Modulus;

/// Binomial parameter η of the error distribution: `Σ_{i<η} (aᵢ − bᵢ)` for random bits.
pub const CBD_ETA: u32 = 21;

/// Standard deviation of the error distribution, `√(η/2) ≈ 3.24`.
pub const ERROR_STD_DEV: f64 = 3.240_370_349_203_93;

/// A ChaCha20 RNG seeded from the operating system.
pub fn default_rng() -> ChaCha20Rng {
    ChaCha20Rng::from_entropy()
}

/// A ChaCha20 RNG expanding a 32-byte seed (seeded uniform polynomials).
pub fn seeded_rng(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}

/// `n` values uniform in `{−1, 0, 1}`.
pub fn ternary<R: RngCore + CryptoRng>(rng: &mut R, n: usize) -> Vec<i8> {
    let mut out = Vec::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        rng.fill_bytes(&mut buf);
        // 255 = 3·85: rejecting 255 leaves a uniform value mod 3.
        for &b in &buf {
            if b < 255 && out.len() < n {
                out.push((b % 3) as i8 - 1);
            }
        }
    }
    buf.zeroize();
    out
}

/// `n` values from the centered binomial distribution with η = 21 (σ ≈ 3.24, support
/// `[−21, 21]`): each is `popcount(a) − popcount(b)` for 21 random bits `a` and `b`, taken from
/// 6 random bytes. Constant time.
pub fn centered_binomial<R: RngCore + CryptoRng>(rng: &mut R, n: usize) -> Vec<i8> {
    const MASK: u64 = (1 << CBD_ETA) - 1;
    /// Samples per block of random bytes (a whole number of 4-byte words, so the blocks
    /// read the generator's stream exactly as one request of `6n + 2` bytes would).
    const BLOCK: usize = 64;
    // Each sample reads one 8-byte little-endian word at 6i; its top 2 bytes (the next
    // sample's, or 2 padding bytes after the last) fall outside both 21-bit masks.
    let mut bytes = [0u8; 6 * BLOCK + 2];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let take = (n - out.len()).min(BLOCK);
        let last = out.len() + take == n;
        rng.fill_bytes(&mut bytes[..6 * take + if last { 2 } else { 0 }]);
        out.extend(bytes.windows(8).step_by(6).take(take).map(|w| {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            let x = u64::from_le_bytes(word);
            ((x & MASK).count_ones() as i32 - ((x >> CBD_ETA) & MASK).count_ones() as i32) as i8
        }));
    }
    bytes.zeroize();
    out
}

/// A ChaCha12 generator keyed with 32 bytes from `rng`, for bulk sampling of one operation's
/// noise: the caller's generator supplies the key, the faster stream cipher the volume
/// (ChaCha12 is `rand`'s standard CSPRNG).
pub fn noise_rng<R: RngCore + CryptoRng>(rng: &mut R) -> ChaCha12Rng {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let out = ChaCha12Rng::from_seed(seed);
    seed.zeroize();
    out
}

/// `n` values uniform in `[0, q)` by rejection sampling of `bits(q)`-bit candidates.
pub fn uniform<R: RngCore>(rng: &mut R, n: usize, q: &Modulus) -> Vec<u32> {
    let mask = u32::MAX >> q.value().leading_zeros();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let x = rng.next_u32() & mask;
        if x < q.value() {
            out.push(x);
        }
    }
    out
}

/// A small signed value as a residue mod `q`, without branching on its sign.
///
/// # Preconditions
/// `|x| < q`.
#[inline]
pub fn small_to_residue(x: i32, q: &Modulus) -> u32 {
    reduce_once((q.value() as i32 + x) as u32, q.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn error_distribution_statistics() {
        // 10⁶ samples: σ within 1 %, P(0) = C(42,21)/2^42 ≈ 0.1224 within 0.5 %.
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let s = centered_binomial(&mut rng, 1_000_000);
        let mean = s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64;
        let var = s.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / s.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - ERROR_STD_DEV).abs() < 0.01 * ERROR_STD_DEV, "σ {}", var.sqrt());
        let p0 = s.iter().filter(|&&x| x == 0).count() as f64 / s.len() as f64;
        assert!((p0 - 0.122_380_807).abs() < 0.005, "P(0) {p0}");
        assert!(s.iter().all(|&x| x.abs() <= 21));
    }

    #[test]
    fn blocked_binomial_reads_the_stream_as_one_request() {
        // The reference: one request of 6n + 2 bytes, sample i from bytes 6i..6i+6.
        let reference = |seed: u64, n: usize| -> (Vec<i8>, u32) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let mut bytes = vec![0u8; 6 * n + 2];
            rng.fill_bytes(&mut bytes);
            let pop = |b: &[u8], from: u32| (0..CBD_ETA).filter(|k| b[((from + k) / 8) as usize] >> ((from + k) % 8) & 1 == 1).count() as i32;
            let out = (0..n).map(|i| (pop(&bytes[6 * i..6 * i + 6], 0) - pop(&bytes[6 * i..6 * i + 6], CBD_ETA)) as i8).collect();
            (out, rng.next_u32())
        };
        for n in [1, 2, 63, 64, 65, 127, 128, 129, 1000] {
            let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
            let got = centered_binomial(&mut rng, n);
            // The same samples, and the generator left where the single request leaves it.
            assert_eq!((got, rng.next_u32()), reference(n as u64, n), "n = {n}");
        }
    }

    #[test]
    fn ternary_is_uniform() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let s = ternary(&mut rng, 1_000_000);
        for v in -1..=1 {
            let p = s.iter().filter(|&&x| x == v).count() as f64 / s.len() as f64;
            assert!((p - 1.0 / 3.0).abs() < 0.003, "P({v}) = {p}");
        }
    }

    #[test]
    fn uniform_covers_the_range_evenly() {
        let q = Modulus::new(12289).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let s = uniform(&mut rng, 1_000_000, &q);
        assert!(s.iter().all(|&x| x < 12289));
        // Mean of a uniform on [0, q) is (q − 1)/2.
        let mean = s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64;
        assert!((mean - 6144.0).abs() < 30.0, "mean {mean}");
        assert_eq!(small_to_residue(-1, &q), 12288);
        assert_eq!(small_to_residue(5, &q), 5);
        assert_eq!(small_to_residue(0, &q), 0);
    }
}
