//! Primality testing and generation of NTT-friendly primes.
//!
//! A prime `q` supports the negacyclic NTT of length `n` when `q ≡ 1 (mod 2n)`: then
//! `Z_q^*` has a primitive `2n`-th root of unity `ψ`.

use crate::Error;
use crate::zq::MAX_MODULUS_BITS;

/// `a·b mod m` without overflow.
const fn mul_mod_u64(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

const fn pow_mod_u64(mut a: u64, mut e: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    a %= m;
    while e > 0 {
        if e & 1 == 1 {
            acc = mul_mod_u64(acc, a, m);
        }
        a = mul_mod_u64(a, a, m);
        e >>= 1;
    }
    acc
}

/// Deterministic Miller–Rabin for every `u64`.
///
/// The first twelve primes as bases are a proven witness set for all `n < 3.3·10^24`
/// (Sorenson and Webster 2015), which covers `u64`.
pub fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for &p in &BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    'witness: for &a in &BASES {
        let mut x = pow_mod_u64(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod_u64(x, x, n);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// The largest ring degree.
pub const MAX_DEGREE: usize = 1 << 16;

/// Checks that `n` is a supported power-of-two ring degree (`2 ≤ n ≤ 2^16`: ring arithmetic
/// and the backends go to `2^16`, for bulk NTT work; the scheme's presets use `2^11 … 2^15`,
/// the degrees of the security table; smaller rings exist for known-answer tests).
///
/// # Errors
/// [`Error::InvalidDegree`] otherwise.
pub fn check_degree(n: usize) -> Result<(), Error> {
    if n.is_power_of_two() && (2..=MAX_DEGREE).contains(&n) {
        Ok(())
    } else {
        Err(Error::InvalidDegree { n })
    }
}

/// The `count` largest primes below `2^bits` with `q ≡ 1 (mod 2n)`, in decreasing order.
///
/// # Errors
/// [`Error::InvalidDegree`] for a bad `n`; [`Error::ModulusTooLarge`] if `bits > 30`;
/// [`Error::NotEnoughPrimes`] if fewer than `count` such primes exist.
pub fn ntt_primes(bits: u32, n: usize, count: usize) -> Result<Vec<u32>, Error> {
    check_degree(n)?;
    if bits > MAX_MODULUS_BITS {
        return Err(Error::ModulusTooLarge { q: u32::MAX, bits, max: MAX_MODULUS_BITS });
    }
    let step = 2 * n as u64;
    let mut primes = Vec::with_capacity(count);
    // Largest candidate ≡ 1 (mod 2n) below 2^bits.
    let top = 1u64 << bits;
    if top <= step {
        return Err(Error::NotEnoughPrimes { bits, n, wanted: count, found: 0 });
    }
    let mut candidate = ((top - 1) / step) * step + 1;
    while primes.len() < count && candidate > step {
        if candidate < top && is_prime(candidate) {
            primes.push(candidate as u32);
        }
        candidate -= step;
    }
    if primes.len() < count {
        return Err(Error::NotEnoughPrimes { bits, n, wanted: count, found: primes.len() });
    }
    Ok(primes)
}

/// A basis of NTT-friendly primes whose product has at most `total_bits` bits, using as few
/// primes of at most `max_prime_bits` bits as possible (sizes spread evenly, larger first).
///
/// # Errors
/// As [`ntt_primes`], and [`Error::InvalidBasisRequest`] for `total_bits == 0` or
/// `max_prime_bits` outside `2..=30`.
pub fn ntt_basis_for_bits(n: usize, total_bits: u32, max_prime_bits: u32) -> Result<Vec<u32>, Error> {
    check_degree(n)?;
    if total_bits == 0 || !(2..=MAX_MODULUS_BITS).contains(&max_prime_bits) {
        return Err(Error::InvalidBasisRequest { total_bits, max_prime_bits });
    }
    let count = total_bits.div_ceil(max_prime_bits);
    let base = total_bits / count;
    let extra = total_bits % count; // this many primes get one more bit
    let mut basis = Vec::with_capacity(count as usize);
    // Group by width so that primes of equal width are distinct.
    for (width, how_many) in [(base + 1, extra), (base, count - extra)] {
        if how_many > 0 {
            basis.extend(ntt_primes(width, n, how_many as usize)?);
        }
    }
    Ok(basis)
}

/// The smallest primitive `2n`-th root of unity modulo the prime `q ≡ 1 (mod 2n)`.
///
/// # Errors
/// [`Error::NotNttFriendly`] if `q ≢ 1 (mod 2n)` or `q` is not prime.
pub fn primitive_root_2n(q: u32, n: usize) -> Result<u32, Error> {
    let order = 2 * n as u64;
    let q64 = u64::from(q);
    if !is_prime(q64) || (q64 - 1) % order != 0 {
        return Err(Error::NotNttFriendly { q, n });
    }
    let cofactor = (q64 - 1) / order;
    // ψ = g^((q−1)/2n) has order dividing 2n; it is primitive iff ψ^n = −1.
    let mut best: Option<u64> = None;
    for g in 2..q64 {
        let psi = pow_mod_u64(g, cofactor, q64);
        if pow_mod_u64(psi, n as u64, q64) == q64 - 1 {
            // All primitive roots are the odd powers of one of them; take the smallest.
            let psi2 = mul_mod_u64(psi, psi, q64);
            let mut candidate = psi;
            let mut smallest = psi;
            for _ in 0..n {
                smallest = smallest.min(candidate);
                candidate = mul_mod_u64(candidate, psi2, q64);
            }
            best = Some(smallest);
            break;
        }
    }
    best.map(|b| b as u32).ok_or(Error::NotNttFriendly { q, n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miller_rabin_known_values() {
        let primes = [2u64, 3, 5, 17, 97, 65537, 1073479681, 2_305_843_009_213_693_951];
        let composites = [0u64, 1, 4, 561, 1105, 3_215_031_751, 1073479681 * 3, 4_759_123_141 * 7];
        assert!(primes.iter().all(|&p| is_prime(p)));
        assert!(composites.iter().all(|&c| !is_prime(c)));
        // Strong pseudoprime to bases 2..=37 only beyond u64: none; check a base-2 one.
        assert!(!is_prime(2047));
    }

    #[test]
    fn generated_primes_are_ntt_friendly_and_decreasing() {
        for &n in &[1024usize, 4096, 32768] {
            let ps = ntt_primes(30, n, 8).unwrap();
            assert_eq!(ps.len(), 8);
            for w in ps.windows(2) {
                assert!(w[0] > w[1]);
            }
            for &p in &ps {
                assert!(is_prime(u64::from(p)));
                assert_eq!((p - 1) as usize % (2 * n), 0);
                assert!(p < 1 << 30);
            }
        }
        // The bench prime of the anchors: largest below 2^30 with q ≡ 1 mod 2^16.
        assert_eq!(ntt_primes(30, 32768, 1).unwrap()[0], 1073479681);
    }

    #[test]
    fn degrees_are_powers_of_two_up_to_2_16() {
        for log_n in 1..=16 {
            assert!(check_degree(1 << log_n).is_ok());
        }
        for n in [0, 1, 3, 3000, 1 << 17, usize::MAX] {
            assert!(matches!(check_degree(n), Err(Error::InvalidDegree { .. })), "{n}");
        }
        // Thirty-two limbs at the largest degree (the GPU benches' shape).
        assert_eq!(ntt_primes(30, MAX_DEGREE, 32).unwrap().len(), 32);
    }

    #[test]
    fn basis_for_bits_fits_the_budget() {
        let b = ntt_basis_for_bits(4096, 109, 30).unwrap();
        assert_eq!(b.len(), 4);
        let bits: f64 = b.iter().map(|&q| f64::from(q).log2()).sum();
        assert!(bits <= 109.0 && bits > 108.0, "{bits}");
        let mut sorted = b.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), b.len());
        assert!(ntt_basis_for_bits(4096, 0, 30).is_err());
        assert!(matches!(ntt_primes(12, 4096, 1), Err(Error::NotEnoughPrimes { .. })));
    }

    #[test]
    fn primitive_root_has_order_2n() {
        // n = 8, q = 17: 2n = 16 divides 16. Roots of order 16 mod 17 are the generators
        // {3, 5, 6, 7, 10, 11, 12, 14}; the smallest is 3.
        assert_eq!(primitive_root_2n(17, 8).unwrap(), 3);
        assert!(primitive_root_2n(19, 8).is_err());
        let q = 1073479681;
        let psi = primitive_root_2n(q, 4096).unwrap();
        assert_eq!(pow_mod_u64(u64::from(psi), 4096, u64::from(q)), u64::from(q) - 1);
    }
}
