//! The error type of `ringvault-core`.

/// Everything that can go wrong in the core: bad parameters, mismatched shapes, and failures a
/// backend reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A modulus is at least `2^30`.
    #[error("modulus {q} has {bits} bits; at most {max} are supported")]
    ModulusTooLarge {
        /// The modulus (`u32::MAX` when only a bit width was requested).
        q: u32,
        /// Its bit width.
        bits: u32,
        /// The largest supported width.
        max: u32,
    },
    /// A modulus below 2.
    #[error("modulus {q} is too small")]
    ModulusTooSmall {
        /// The modulus.
        q: u32,
    },
    /// A value has no inverse modulo `q`.
    #[error("{value} is not invertible modulo {q}")]
    NotInvertible {
        /// The value.
        value: u32,
        /// The modulus.
        q: u32,
    },
    /// The ring degree is not a power of two in the supported range.
    #[error("ring degree {n} is not a power of two between 2 and 32768")]
    InvalidDegree {
        /// The degree.
        n: usize,
    },
    /// A modulus is not a prime `≡ 1 (mod 2n)`.
    #[error("{q} is not a prime congruent to 1 modulo 2n = {}", 2 * n)]
    NotNttFriendly {
        /// The modulus.
        q: u32,
        /// The ring degree.
        n: usize,
    },
    /// Too few NTT-friendly primes of the requested width exist.
    #[error("only {found} of {wanted} NTT-friendly primes of {bits} bits exist for n = {n}")]
    NotEnoughPrimes {
        /// Requested width.
        bits: u32,
        /// Ring degree.
        n: usize,
        /// Requested count.
        wanted: usize,
        /// Count found.
        found: usize,
    },
    /// A basis request that cannot be met.
    #[error("cannot build a basis of {total_bits} bits from primes of at most {max_prime_bits} bits")]
    InvalidBasisRequest {
        /// Requested total bits.
        total_bits: u32,
        /// Requested prime width.
        max_prime_bits: u32,
    },
    /// A basis with no prime.
    #[error("an RNS basis needs at least one prime")]
    EmptyBasis,
    /// The same prime twice in one basis.
    #[error("prime {q} appears twice in one basis")]
    DuplicatePrime {
        /// The prime.
        q: u32,
    },
    /// A residue not below its prime.
    #[error("residue {value} is not below its prime {q}")]
    ResidueOutOfRange {
        /// The residue.
        value: u32,
        /// The prime.
        q: u32,
    },
    /// Two sizes that must agree do not.
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What was compared.
        what: &'static str,
        /// Expected size.
        expected: usize,
        /// Size found.
        found: usize,
    },
    /// Two batches are over different primes.
    #[error("limbs differ: expected primes {expected:?}, found {found:?}")]
    LimbMismatch {
        /// Expected prime indices.
        expected: Vec<usize>,
        /// Prime indices found.
        found: Vec<usize>,
    },
    /// A limb index names no prime of the context.
    #[error("limb {limb} is out of range for a context of {primes} primes")]
    LimbOutOfRange {
        /// The index.
        limb: usize,
        /// Number of primes in the context.
        primes: usize,
    },
    /// A Galois element that is not an odd residue modulo `2n`.
    #[error("galois element {k} is not odd and below 2n = {two_n}")]
    InvalidGaloisElement {
        /// The element.
        k: usize,
        /// `2n`.
        two_n: usize,
    },
    /// A request exceeds what the backend can hold.
    #[error("backend {backend} holds at most {max} residues per batch; {requested} requested")]
    BatchTooLarge {
        /// The backend.
        backend: String,
        /// Its limit.
        max: usize,
        /// The request.
        requested: usize,
    },
    /// A backend failed (device lost, out of memory, rejected pipeline, ...).
    #[error("backend {backend} failed: {reason}")]
    Backend {
        /// The backend.
        backend: String,
        /// What it reported.
        reason: String,
    },
}
