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
    #[error("ring degree {n} is not a power of two between 2 and 65536")]
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
    /// Plaintext modulus not below every prime (decryption would silently fail).
    #[error("plaintext modulus {t} must be smaller than every prime; the smallest is {smallest_prime}")]
    PlaintextModulusTooLarge {
        /// The plaintext modulus.
        t: u32,
        /// The smallest prime.
        smallest_prime: u32,
    },
    /// The modulus is too large for the requested security at this degree.
    #[error("n = {n} with {bits} modulus bits exceeds the {security}-bit security maximum of {max} bits")]
    InsecureParameters {
        /// Ring degree.
        n: usize,
        /// Total modulus bits (every prime, special primes included).
        bits: u32,
        /// The maximum for `n` at this level (0 when no degree-`n` ring is secure).
        max: u32,
        /// The requested security level in bits.
        security: u32,
    },
    /// No preset supports the requested circuit.
    #[error("no preset supports {additions} additions at multiplicative depth {depth} with t = {t}")]
    NoPresetFits {
        /// Additions requested.
        additions: u64,
        /// Depth requested.
        depth: usize,
        /// Plaintext modulus.
        t: u32,
    },
    /// The parameters have no special primes, so no relinearization or rotation.
    #[error("these parameters have no special primes: relinearization and rotations are unavailable")]
    KeySwitchingUnavailable,
    /// A key-switching key was used at a level above the levels it was generated for (or a
    /// key was asked for levels the parameters do not have).
    #[error("the key-switching key serves levels 1 to {covered}, not level {level}: generate it for that level (for statistics: keys for more records, `keygen --records`)")]
    KeyLevelNotCovered {
        /// The level asked for.
        level: usize,
        /// The highest level the key (or the parameters) cover.
        covered: usize,
    },
    /// The evaluation keys lack a relinearization key.
    #[error("no relinearization key was provided")]
    MissingRelinearizationKey,
    /// The evaluation keys lack the Galois key for an element.
    #[error("no galois key for element {k}")]
    MissingGaloisKey {
        /// The Galois element.
        k: usize,
    },
    /// The noise of a ciphertext is past what decryption can correct.
    #[error("noise budget exhausted: the ciphertext cannot be decrypted correctly")]
    NoiseBudgetExhausted,
    /// Modulus switching below the last ciphertext prime.
    #[error("cannot switch below level 1")]
    LevelExhausted,
    /// An operation needs a ciphertext of a given length.
    #[error("{operation} needs a ciphertext of length {expected}, found {found}")]
    CiphertextLength {
        /// The operation.
        operation: &'static str,
        /// Required length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// Objects built for different parameters.
    #[error("objects belong to different parameters")]
    ParameterMismatch,
    /// A value that does not fit the plaintext space or an encoding.
    #[error("{what}: {value} does not fit (limit {limit})")]
    ValueOutOfRange {
        /// What was encoded.
        what: &'static str,
        /// The value, printed.
        value: String,
        /// The limit, printed.
        limit: String,
    },
    /// A decoded value wrapped around the plaintext modulus.
    #[error("a decoded value wrapped around the plaintext modulus (coefficient {index})")]
    PlaintextOverflow {
        /// The coefficient or slot.
        index: usize,
    },
    /// An encoding's requirement on the parameters is not met.
    #[error("{encoding} encoding needs {requirement}")]
    EncodingUnavailable {
        /// The encoding.
        encoding: &'static str,
        /// What it needs.
        requirement: &'static str,
    },
    /// Parameters with more primes than supported.
    #[error("{found} primes in all; at most {max} are supported")]
    TooManyPrimes {
        /// Primes given (ciphertext and special).
        found: usize,
        /// The limit ([`crate::scheme::MAX_PRIMES`]).
        max: usize,
    },
    /// Serialized bytes that do not start with the wire format's magic.
    #[error("not a RingVault object: magic {found:02x?}, expected {:02x?} (\"RVLT\")", crate::id::MAGIC)]
    WireMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// A wire format version this build does not read (usually written by a newer release).
    #[error("wire format version {found} is not supported; this build reads version {supported}")]
    WireVersion {
        /// Version found.
        found: u16,
        /// The version this build reads and writes.
        supported: u16,
    },
    /// Serialized bytes of another object type than the loader reads.
    #[error("expected {expected}, found {}", crate::id::ObjectKind::describe(*found))]
    WireObjectType {
        /// What the loader reads.
        expected: &'static str,
        /// The type byte found.
        found: u8,
    },
    /// Serialized bytes of the wrong length for what their header and parameters imply.
    #[error("{what}: expected {expected} bytes, found {found}")]
    WireLength {
        /// What was measured.
        what: &'static str,
        /// Length implied by the header and parameters.
        expected: u64,
        /// Length found.
        found: u64,
    },
    /// A serialized object made for other parameters.
    #[error("object belongs to parameters {found}, expected {expected}")]
    WireParameterId {
        /// The identifier of the parameters the object is loaded with.
        expected: crate::id::ParameterId,
        /// The identifier in the object's header.
        found: crate::id::ParameterId,
    },
    /// A header field outside its range.
    #[error("{field} = {value} is outside {min}..={max}")]
    WireFieldOutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// Serialized bytes that decode, but not in the one canonical way (padding bits set,
    /// Galois keys out of order, …).
    #[error("non-canonical encoding: {what}")]
    WireNonCanonical {
        /// What is not canonical.
        what: &'static str,
    },
    /// A compressed object that would inflate beyond the loader's limit.
    #[error("compressed object inflates to {size} bytes; the limit is {limit}")]
    WireDecompressedTooLarge {
        /// Decompressed body length implied by the header.
        size: u64,
        /// The limit: [`crate::wire::MAX_DECOMPRESSED_LEN`], or less for a short input
        /// ([`crate::wire::MAX_COMPRESSION_RATIO`]).
        limit: u64,
    },
    /// A corrupt compressed body, or a compressor failure.
    #[error("zstd: {reason}")]
    WireCompression {
        /// What zstd reported.
        reason: String,
    },
    /// A compressed object, but this build lacks the `compression` feature.
    #[error("the object is compressed, but this build has no `compression` feature")]
    CompressionUnavailable,
    /// A computation whose result could exceed the plaintext space is refused before it runs.
    #[error("{what} could need {needed_bits} bits, but the plaintext space holds {capacity_bits}: it could wrap, so it is refused (use a larger preset or fewer decimals)")]
    WouldWrap {
        /// The computation.
        what: String,
        /// Bits its result may need.
        needed_bits: u64,
        /// Bits the plaintext space represents exactly.
        capacity_bits: u64,
    },
    /// Input that cannot be used, with the reason.
    #[error("{what}")]
    InvalidInput {
        /// What is wrong.
        what: String,
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
