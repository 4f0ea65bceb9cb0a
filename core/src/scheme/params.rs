//! Scheme parameters: a literal validated once into immutable [`Parameters`], the
//! HomomorphicEncryption.org security table, presets, and the noise model that says how many
//! multiplications a parameter set supports.

use std::fmt;
use std::sync::Arc;

use crate::Error;
use crate::prime::{check_degree, ntt_basis_for_bits};
use crate::id::ParameterId;
use crate::ring::RingContext;
use crate::rns::{DigitDecomposition, RnsBasis, SpecialDivision};
use crate::zq::Modulus;

/// Largest total number of primes (ciphertext and special) in parameters. The 128-bit
/// security bound allows at most 51 at `n = 32768`.
pub const MAX_PRIMES: usize = 64;

/// Security level against the best known lattice attacks (HomomorphicEncryption.org standard,
/// 2018, ternary secret, σ ≈ 3.2). In JSON: `"bits128"`, `"bits192"`, `"bits256"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityLevel {
    /// 128-bit classical security (the default).
    Bits128,
    /// 192-bit.
    Bits192,
    /// 256-bit.
    Bits256,
    /// No check at all. For tests of tiny rings; exists only with the
    /// `insecure-unchecked-params` feature.
    #[cfg(feature = "insecure-unchecked-params")]
    InsecureUnchecked,
}

/// Largest `log₂(Q·P)` per ring degree for 128-, 192- and 256-bit security: the table SEAL and
/// OpenFHE enforce.
pub const HE_STANDARD_MAX_BITS: [(usize, [u32; 3]); 6] = [
    (1024, [27, 19, 14]),
    (2048, [54, 37, 29]),
    (4096, [109, 75, 58]),
    (8192, [218, 152, 118]),
    (16384, [438, 305, 237]),
    (32768, [881, 611, 476]),
];

impl SecurityLevel {
    /// The largest total modulus bit count allowed at degree `n`, or `None` when the table has
    /// no entry for `n` (then no modulus is secure) or the level is unchecked.
    pub fn max_modulus_bits(self, n: usize) -> Option<u32> {
        let column = match self {
            Self::Bits128 => 0,
            Self::Bits192 => 1,
            Self::Bits256 => 2,
            #[cfg(feature = "insecure-unchecked-params")]
            Self::InsecureUnchecked => return None,
        };
        HE_STANDARD_MAX_BITS.iter().find(|(m, _)| *m == n).map(|(_, bits)| bits[column])
    }

    /// Whether the level skips the security check.
    pub fn is_unchecked(self) -> bool {
        #[cfg(feature = "insecure-unchecked-params")]
        if self == Self::InsecureUnchecked {
            return true;
        }
        false
    }

    /// The level in bits (0 when unchecked).
    pub fn bits(self) -> u32 {
        match self {
            Self::Bits128 => 128,
            Self::Bits192 => 192,
            Self::Bits256 => 256,
            #[cfg(feature = "insecure-unchecked-params")]
            Self::InsecureUnchecked => 0,
        }
    }
}

/// Parameters as written by a user, before validation. Serializes to JSON as
/// `{"n": 4096, "ciphertext_primes": [..], "special_primes": [..], "plaintext_modulus": 65537,
/// "security": "bits128"}`; deserialized literals go through [`Parameters::new`] like any other.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParametersLiteral {
    /// Ring degree, a power of two.
    pub n: usize,
    /// Ciphertext primes `q₀ … q_{L−1}`; modulus switching drops them from the end.
    pub ciphertext_primes: Vec<u32>,
    /// Key-switching (special) primes `P`; empty means no relinearization or rotation.
    pub special_primes: Vec<u32>,
    /// Ciphertext primes per key-switching digit (`α`, at least 1): key switching splits a
    /// polynomial into `dnum = ⌈L/α⌉` digits of `α` consecutive primes. `1` is the
    /// one-prime-per-digit method (GHS 2012); `α > 1` is hybrid key switching (Han–Ki 2020),
    /// with fewer key rows and fewer transforms, whose noise stays small while `P` is at least
    /// about a digit's product (so `α ≤` the special prime count). In JSON:
    /// `"digit_primes"`, 1 when omitted.
    #[serde(default = "one_digit_prime")]
    pub digit_primes: usize,
    /// Plaintext modulus `t`, `2 ≤ t <` every prime.
    pub plaintext_modulus: u32,
    /// Security level checked against [`HE_STANDARD_MAX_BITS`].
    pub security: SecurityLevel,
}

fn one_digit_prime() -> usize {
    1
}

/// Named parameter sets at 128-bit security. In JSON: their [`Preset::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Preset {
    /// n = 2048, 54-bit Q in two primes, no special prime: additions and plaintext products
    /// only (the paper's sums).
    #[serde(rename = "n2048-add")]
    N2048Additive,
    /// n = 4096, 109 bits: three ciphertext primes and one special prime.
    #[serde(rename = "n4096")]
    N4096,
    /// n = 8192, 218 bits: five ciphertext primes and three special primes, key switching in
    /// hybrid digits of three primes (1.8× faster and 3.5× smaller keys than seven ciphertext
    /// primes with one prime per digit, for one multiplicative level less: DESIGN.md).
    #[serde(rename = "n8192")]
    N8192,
    /// n = 16384, 438 bits: thirteen ciphertext primes and two special primes, hybrid digits of
    /// two primes.
    #[serde(rename = "n16384")]
    N16384,
    /// n = 32768, 881 bits: twenty-eight ciphertext primes and two special primes, hybrid
    /// digits of two primes.
    #[serde(rename = "n32768")]
    N32768,
}

impl Preset {
    /// Every preset, smallest first.
    pub const ALL: [Preset; 5] = [Self::N2048Additive, Self::N4096, Self::N8192, Self::N16384, Self::N32768];

    /// The preset's name (`n2048-add`, `n4096`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::N2048Additive => "n2048-add",
            Self::N4096 => "n4096",
            Self::N8192 => "n8192",
            Self::N16384 => "n16384",
            Self::N32768 => "n32768",
        }
    }

    /// Looks a preset up by [`Self::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// `(n, total bits, special primes)`; digits have as many primes as `P` (the hybrid
    /// method's usual choice: the digit is about `P`, so key switching adds little noise).
    const fn shape(self) -> (usize, u32, usize) {
        match self {
            Self::N2048Additive => (2048, 54, 0),
            Self::N4096 => (4096, 109, 1),
            Self::N8192 => (8192, 218, 3),
            Self::N16384 => (16384, 438, 2),
            Self::N32768 => (32768, 881, 2),
        }
    }

    /// Ring degree.
    pub const fn n(self) -> usize {
        self.shape().0
    }

    /// The literal for plaintext modulus `t`: the largest NTT-friendly primes filling the
    /// 128-bit budget, the last `special` of them reserved for key switching, in digits of
    /// `special` primes.
    ///
    /// # Errors
    /// Prime generation errors (none for the listed presets).
    pub fn literal(self, t: u32) -> Result<ParametersLiteral, Error> {
        let (n, bits, special) = self.shape();
        let mut primes = ntt_basis_for_bits(n, bits, 30)?;
        let special_primes = primes.split_off(primes.len() - special);
        let digit_primes = special.max(1);
        Ok(ParametersLiteral { n, ciphertext_primes: primes, special_primes, digit_primes, plaintext_modulus: t, security: SecurityLevel::Bits128 })
    }

    /// Validated parameters for plaintext modulus `t`.
    ///
    /// # Errors
    /// As [`Parameters::new`] (for example `t` not below every prime).
    pub fn parameters(self, t: u32) -> Result<Arc<Parameters>, Error> {
        Parameters::new(self.literal(t)?)
    }
}

/// Constants of one level `l` (ciphertexts over `q₀ … q_{l−1}`), for decryption and modulus
/// switching.
#[derive(Clone, Debug)]
pub struct LevelConstants {
    /// The basis `Q_l`.
    pub basis: RnsBasis,
    /// `(Q_l / qᵢ) mod t`.
    pub punctured_mod_t: Vec<u32>,
    /// `Q_l mod t`.
    pub q_mod_t: u32,
    /// `1 / qᵢ` as a float, for the rounding estimate of decryption.
    pub inv_primes: Vec<f64>,
    /// `log₂ Q_l`.
    pub log_q: f64,
}

/// Validated, immutable parameters. Build with [`Parameters::new`] or [`Preset::parameters`].
///
/// Serializes as its [`ParametersLiteral`]; deserializing validates through [`Parameters::new`].
/// The binary form is [`Parameters::to_bytes`] / [`Parameters::from_bytes`].
#[derive(Debug)]
pub struct Parameters {
    literal: ParametersLiteral,
    /// The wire format's identifier of the literal, computed by `wire` on first use
    /// ([`Parameters::id`]).
    pub(crate) id: std::sync::OnceLock<ParameterId>,
    ring: Arc<RingContext>,
    t: Modulus,
    levels: Vec<LevelConstants>,
    /// `P mod qᵢ` for each ciphertext prime.
    special_mod_q: Vec<u32>,
    /// The key-switching digits of each level, built on first use.
    digits: Vec<std::sync::OnceLock<DigitDecomposition>>,
    /// The division by the special modulus at each level, built on first use.
    divisions: Vec<std::sync::OnceLock<SpecialDivision>>,
}

impl Parameters {
    /// Validates a literal.
    ///
    /// # Errors
    /// - [`Error::InvalidDegree`], [`Error::NotNttFriendly`], [`Error::ModulusTooLarge`],
    ///   [`Error::DuplicatePrime`] for a bad ring;
    /// - [`Error::EmptyBasis`] with no ciphertext prime, [`Error::TooManyPrimes`] with more
    ///   than [`MAX_PRIMES`] primes in all;
    /// - [`Error::PlaintextModulusTooLarge`] if `t` is not below every prime, and
    ///   [`Error::ModulusTooSmall`] if `t < 2`;
    /// - [`Error::InsecureParameters`] if `Σ bits(qᵢ) + Σ bits(pⱼ)` exceeds the
    ///   HomomorphicEncryption.org bound for `n` at the requested level.
    ///
    /// The checks that cost nothing (degree, prime count, security bound) run before any NTT
    /// table is built, so a hostile literal (from JSON or the wire) cannot make this allocate
    /// more than the largest legitimate parameters do.
    pub fn new(literal: ParametersLiteral) -> Result<Arc<Self>, Error> {
        Self::build(literal).map(Arc::new)
    }

    fn build(literal: ParametersLiteral) -> Result<Self, Error> {
        check_degree(literal.n)?;
        if literal.ciphertext_primes.is_empty() {
            return Err(Error::EmptyBasis);
        }
        let total = literal.ciphertext_primes.len() + literal.special_primes.len();
        if total > MAX_PRIMES {
            return Err(Error::TooManyPrimes { found: total, max: MAX_PRIMES });
        }
        let all: Vec<u32> = literal.ciphertext_primes.iter().chain(&literal.special_primes).copied().collect();
        if let Some((_, &q)) = all.iter().enumerate().find(|&(i, q)| all[..i].contains(q)) {
            return Err(Error::DuplicatePrime { q });
        }
        if !(1..=literal.ciphertext_primes.len()).contains(&literal.digit_primes) {
            return Err(Error::ValueOutOfRange {
                what: "primes per key-switching digit",
                value: literal.digit_primes.to_string(),
                limit: format!("1 to the {} ciphertext primes", literal.ciphertext_primes.len()),
            });
        }
        let bits: u32 = all.iter().map(|q| 32 - q.leading_zeros()).sum();
        if !literal.security.is_unchecked() {
            match literal.security.max_modulus_bits(literal.n) {
                Some(max) if bits <= max => {}
                max => {
                    return Err(Error::InsecureParameters {
                        n: literal.n,
                        bits,
                        max: max.unwrap_or(0),
                        security: literal.security.bits(),
                    });
                }
            }
        }
        let ring = Arc::new(RingContext::new(literal.n, &all)?);
        let t = Modulus::new(literal.plaintext_modulus)?;
        let smallest = all.iter().copied().min().unwrap_or(0);
        if literal.plaintext_modulus >= smallest {
            return Err(Error::PlaintextModulusTooLarge { t: literal.plaintext_modulus, smallest_prime: smallest });
        }
        let levels = (1..=literal.ciphertext_primes.len())
            .map(|l| {
                let basis = RnsBasis::new(&literal.ciphertext_primes[..l])?;
                let punctured_mod_t = literal.ciphertext_primes[..l]
                    .iter()
                    .map(|&q| {
                        literal.ciphertext_primes[..l].iter().filter(|&&o| o != q).fold(1u32, |acc, &o| t.mul(acc, t.reduce(o)))
                    })
                    .collect();
                let q_mod_t = literal.ciphertext_primes[..l].iter().fold(1u32, |acc, &o| t.mul(acc, t.reduce(o)));
                let inv_primes = literal.ciphertext_primes[..l].iter().map(|&q| 1.0 / f64::from(q)).collect();
                let log_q = literal.ciphertext_primes[..l].iter().map(|&q| f64::from(q).log2()).sum();
                Ok(LevelConstants { basis, punctured_mod_t, q_mod_t, inv_primes, log_q })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let special_mod_q = (0..literal.ciphertext_primes.len())
            .map(|i| {
                let m = ring.modulus(i);
                literal.special_primes.iter().fold(1u32, |acc, &p| m.mul(acc, m.reduce(p)))
            })
            .collect();
        let id = std::sync::OnceLock::new();
        let digits = (0..literal.ciphertext_primes.len()).map(|_| std::sync::OnceLock::new()).collect();
        let divisions = (0..literal.ciphertext_primes.len()).map(|_| std::sync::OnceLock::new()).collect();
        Ok(Self { literal, id, ring, t, levels, special_mod_q, digits, divisions })
    }

    /// The literal these parameters were built from.
    pub fn literal(&self) -> &ParametersLiteral {
        &self.literal
    }
    /// Ring degree.
    pub fn n(&self) -> usize {
        self.literal.n
    }
    /// The ring over every prime: ciphertext primes first (indices `0..L`), then the special
    /// primes (indices `L..L+K`).
    pub fn ring(&self) -> &Arc<RingContext> {
        &self.ring
    }
    /// The plaintext modulus.
    pub fn plaintext(&self) -> &Modulus {
        &self.t
    }
    /// `L`, the number of ciphertext primes (the level of a fresh ciphertext).
    pub fn max_level(&self) -> usize {
        self.literal.ciphertext_primes.len()
    }
    /// Number of special primes.
    pub fn special_count(&self) -> usize {
        self.literal.special_primes.len()
    }
    /// Ring indices of the special primes.
    pub fn special_limbs(&self) -> Vec<usize> {
        (self.max_level()..self.max_level() + self.special_count()).collect()
    }
    /// `α`, the ciphertext primes per key-switching digit ([`ParametersLiteral::digit_primes`]).
    pub fn digit_primes(&self) -> usize {
        self.literal.digit_primes
    }
    /// The number of key-switching digits of a ciphertext at `level`: `⌈level/α⌉`.
    pub fn digit_count(&self, level: usize) -> usize {
        level.div_ceil(self.literal.digit_primes)
    }
    /// The ciphertext primes (ring indices) of digit `j` at `level`: `jα .. min((j+1)α, level)`.
    pub fn digit_limbs(&self, level: usize, j: usize) -> std::ops::Range<usize> {
        let a = self.literal.digit_primes;
        (j * a).min(level)..((j + 1) * a).min(level)
    }
    /// The key-switching digits of a ciphertext at `level` (`1 ≤ level ≤ L`), extended to
    /// [`Self::key_limbs`]`(level)`; built once per level and shared.
    ///
    /// # Errors
    /// [`Error::KeyLevelNotCovered`] for a level the parameters do not have; basis errors.
    pub fn digits(&self, level: usize) -> Result<&DigitDecomposition, Error> {
        self.per_level(&self.digits, level, || {
            let out = self.key_limbs(level);
            let out_primes: Vec<u32> = out.iter().map(|&l| self.ring.modulus(l).value()).collect();
            DigitDecomposition::new(&self.literal.ciphertext_primes[..level], self.literal.digit_primes, out, &out_primes)
        })
    }

    /// The value of `level` in a per-level cache, built by `build` on first use.
    ///
    /// # Errors
    /// [`Error::KeyLevelNotCovered`] for a level outside `1..=L`; what `build` returns.
    fn per_level<'a, T>(&self, cells: &'a [std::sync::OnceLock<T>], level: usize, build: impl FnOnce() -> Result<T, Error>) -> Result<&'a T, Error> {
        let cell = level.checked_sub(1).and_then(|i| cells.get(i)).ok_or(Error::KeyLevelNotCovered { level, covered: self.max_level() })?;
        if let Some(v) = cell.get() {
            return Ok(v);
        }
        let built = build()?;
        Ok(cell.get_or_init(|| built))
    }

    /// The constants of the division by the special modulus at `level` (the end of a key
    /// switch with two special primes or more); built once per level and shared.
    ///
    /// # Errors
    /// [`Error::KeyLevelNotCovered`] for a level the parameters do not have;
    /// [`Error::KeySwitchingUnavailable`] without special primes.
    pub fn special_division(&self, level: usize) -> Result<&SpecialDivision, Error> {
        self.per_level(&self.divisions, level, || {
            if self.literal.special_primes.is_empty() {
                return Err(Error::KeySwitchingUnavailable);
            }
            SpecialDivision::new(&self.literal.ciphertext_primes[..level], &self.literal.special_primes, self.literal.plaintext_modulus)
        })
    }

    /// The ring indices a key serving levels `1..=levels` lives on: the ciphertext primes of
    /// `levels`, then the special primes.
    pub fn key_limbs(&self, levels: usize) -> Vec<usize> {
        (0..levels).chain(self.special_limbs()).collect()
    }
    /// Constants of level `l` (`1 ≤ l ≤ L`).
    pub fn level(&self, l: usize) -> &LevelConstants {
        &self.levels[l - 1]
    }
    /// `P mod qᵢ`.
    pub fn special_mod_q(&self) -> &[u32] {
        &self.special_mod_q
    }
    /// Total modulus bits counted by the security check (`Σ bits` of every prime).
    pub fn total_bits(&self) -> u32 {
        self.literal.ciphertext_primes.iter().chain(&self.literal.special_primes).map(|q| 32 - q.leading_zeros()).sum()
    }
    /// `log₂ Q` of a fresh ciphertext.
    pub fn log_q(&self) -> f64 {
        self.level(self.max_level()).log_q
    }
    /// Whether relinearization and rotations are possible (special primes exist).
    pub fn supports_key_switching(&self) -> bool {
        self.special_count() > 0
    }

    /// The noise model of these parameters.
    pub fn noise(&self) -> NoiseModel {
        NoiseModel::new(self)
    }

    /// Whether, by the [`NoiseModel`], a fresh public-key ciphertext survives `depth`
    /// sequential squarings (each relinearized) followed by a sum of `additions + 1` such
    /// results, and still decrypts. Before every squaring but the last, the ciphertext is
    /// switched down while that lowers its noise by more than a bit
    /// ([`NoiseModel::switches_before_multiply`]); before the last, by however many switches
    /// leave the most budget.
    pub fn supports_circuit(&self, depth: usize, additions: u64) -> bool {
        if depth > 0 && !self.supports_key_switching() {
            return false;
        }
        let model = self.noise();
        let mut noise = model.fresh_bits();
        let mut level = self.max_level();
        for d in 0..depth {
            if d + 1 < depth {
                for _ in 0..model.switches_before_multiply(noise, level) {
                    noise = model.after_mod_switch(noise, level);
                    level -= 1;
                }
                noise = model.after_key_switch(model.after_multiply(noise, noise), level);
                continue;
            }
            let mut best: Option<(f64, f64, usize)> = None;
            let (mut n0, mut l0) = (noise, level);
            loop {
                let after = model.after_key_switch(model.after_multiply(n0, n0), l0);
                let budget = model.log_q(l0) - after;
                if best.is_none_or(|(b, _, _)| budget > b) {
                    best = Some((budget, after, l0));
                }
                if l0 == 1 {
                    break;
                }
                n0 = model.after_mod_switch(n0, l0);
                l0 -= 1;
            }
            let Some((_, after, l)) = best else { return false };
            noise = after;
            level = l;
        }
        model.decryptable(model.after_additions(noise, additions.saturating_add(1)), level)
    }

    /// The lowest level at which a sum of `additions + 1` fresh public-key ciphertexts still
    /// decrypts by the [`NoiseModel`] (the top level when none lower does): encrypting there
    /// makes additive workloads smaller and faster.
    pub fn level_for_additions(&self, additions: u64) -> usize {
        let model = self.noise();
        let noise = model.after_additions(model.fresh_bits(), additions.saturating_add(1));
        (1..=self.max_level()).find(|&l| model.decryptable(noise, l)).unwrap_or(self.max_level())
    }

    /// How many sequential multiplications a fresh ciphertext survives
    /// ([`Self::supports_circuit`] with no additions). Zero without special primes.
    pub fn supported_depth(&self) -> usize {
        (0..=self.max_level() * 2).take_while(|&d| self.supports_circuit(d, 0)).last().unwrap_or(0)
    }

    /// The smallest preset that runs a circuit of `additions` ciphertext additions and
    /// multiplicative depth `depth` with plaintext modulus `t`.
    ///
    /// # Errors
    /// [`Error::NoPresetFits`] when none does.
    pub fn for_circuit(additions: u64, depth: usize, t: u32) -> Result<Arc<Self>, Error> {
        Preset::ALL
            .into_iter()
            .filter_map(|preset| preset.parameters(t).ok())
            .find(|p| p.supports_circuit(depth, additions))
            .ok_or(Error::NoPresetFits { additions, depth, t })
    }
}

impl fmt::Display for Parameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n = {}, log Q = {:.1} in {} ciphertext primes + {} special ({} bits counted for security), t = {}, {}-bit security",
            self.n(),
            self.log_q(),
            self.max_level(),
            self.special_count(),
            self.total_bits(),
            self.t.value(),
            self.literal.security.bits()
        )
    }
}

impl serde::Serialize for Parameters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.literal.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Parameters {
    /// Deserializes a [`ParametersLiteral`] and validates it with [`Parameters::new`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let literal = ParametersLiteral::deserialize(d)?;
        Self::build(literal).map_err(serde::de::Error::custom)
    }
}

/// Heuristic worst-case noise bounds of BGV, in bits of the infinity norm of `c₀ + c₁s + …`
/// (Gentry–Halevi–Smart 2012 style; each bound uses a 6σ tail, so a bound is exceeded with
/// probability below 2⁻²⁵ per coefficient).
///
/// Decryption is correct while the noise is below `Q_l/2`; the library refuses to decrypt
/// above `Q_l/4` (see `decrypt`), and this model asks for `Q_l/8`.
#[derive(Clone, Debug)]
pub struct NoiseModel {
    n: f64,
    t: f64,
    sigma: f64,
    log_primes: Vec<f64>,
    log_special: f64,
    special_count: usize,
    digit_primes: usize,
}

impl NoiseModel {
    fn new(p: &Parameters) -> Self {
        Self {
            n: p.n() as f64,
            t: f64::from(p.plaintext().value()),
            sigma: crate::scheme::sampling::ERROR_STD_DEV,
            log_primes: p.literal.ciphertext_primes.iter().map(|&q| f64::from(q).log2()).collect(),
            log_special: p.literal.special_primes.iter().map(|&q| f64::from(q).log2()).sum(),
            special_count: p.literal.special_primes.len(),
            digit_primes: p.literal.digit_primes,
        }
    }

    /// Fresh public-key encryption: `t·(e·u + e₁·s + e₂) + m`.
    pub fn fresh_bits(&self) -> f64 {
        let tail = 6.0;
        let product = tail * self.sigma * (2.0 * self.n / 3.0).sqrt();
        (self.t * (2.0 * product + tail * self.sigma) + self.t).log2()
    }

    /// Sum of `count` ciphertexts of the given noise.
    pub fn after_additions(&self, bits: f64, count: u64) -> f64 {
        bits + (count.max(1) as f64).log2()
    }

    /// Product of two ciphertexts: the noises multiply, times the ring expansion `≈ √n`
    /// (6σ tail over uniformly spread coefficients).
    pub fn after_multiply(&self, a: f64, b: f64) -> f64 {
        a + b + (2.0 * self.n.sqrt()).log2()
    }

    /// Product with a plaintext whose coefficients are arbitrary residues mod `t` (a slot
    /// mask, say): each coefficient of the noise becomes a sum of `n` products bounded by
    /// `t/2`, with random signs (6σ tail).
    pub fn after_plain_multiply(&self, bits: f64) -> f64 {
        bits + (self.t / 2.0).log2() + (6.0 * self.n.sqrt()).log2()
    }

    /// Key switching at level `l` (digits `Dⱼ` of `α` primes, special modulus `P`): adds
    /// `t·Σⱼ αⱼ·Qⱼ·‖eⱼ‖·√n / P` (a digit extended by the fast basis conversion is below
    /// `αⱼ·Qⱼ`) plus the rounding of the division by `P`.
    pub fn after_key_switch(&self, bits: f64, level: usize) -> f64 {
        let tail = 6.0;
        let digits: f64 = self.log_primes[..level]
            .chunks(self.digit_primes.max(1))
            .map(|d| d.len() as f64 * 2f64.powf(d.iter().sum::<f64>() - self.log_special))
            .sum();
        // One special prime is dropped with a centered lift; several are divided at once by a
        // fast basis conversion, whose correction lies in `[0, K)·t` instead of `±t/2`.
        let division = if self.special_count > 1 { 2.0 * self.special_count as f64 } else { 1.0 };
        let ks = self.t * (digits * tail * self.sigma * self.n.sqrt() + division * self.rounding());
        (2f64.powf(bits) + ks).log2()
    }

    /// Rounding noise of one division: `t·(1 + ‖s‖·√n)/2`-ish, with the 6σ tail.
    fn rounding(&self) -> f64 {
        6.0 * ((1.0 + 2.0 * self.n / 3.0) / 12.0).sqrt() + 1.0
    }

    /// Modulus switching from level `l` to `l − 1`.
    pub fn after_mod_switch(&self, bits: f64, level: usize) -> f64 {
        let scaled = 2f64.powf(bits - self.log_primes[level - 1]);
        (scaled + self.t * self.rounding()).log2()
    }

    /// How many modulus switches to apply to a ciphertext of noise `bits` at `level` before a
    /// multiplication: while a switch lowers the noise by more than a bit (down to the rounding
    /// floor), keeping at least one prime.
    pub fn switches_before_multiply(&self, bits: f64, level: usize) -> usize {
        let (mut noise, mut l, mut count) = (bits, level, 0);
        while l > 1 && self.after_mod_switch(noise, l) < noise - 1.0 {
            noise = self.after_mod_switch(noise, l);
            l -= 1;
            count += 1;
        }
        count
    }

    /// `log₂ Q_l`.
    pub fn log_q(&self, level: usize) -> f64 {
        self.log_primes[..level].iter().sum()
    }

    /// Whether noise of `bits` decrypts with margin at level `l`.
    pub fn decryptable(&self, bits: f64, level: usize) -> bool {
        bits < self.log_q(level) - 3.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(n: usize, bits: u32, security: SecurityLevel) -> ParametersLiteral {
        ParametersLiteral { n, ciphertext_primes: ntt_basis_for_bits(n, bits, 30).unwrap(), special_primes: vec![], digit_primes: 1, plaintext_modulus: 3, security }
    }

    #[test]
    fn every_cell_of_the_security_table_is_enforced() {
        for (n, maxima) in HE_STANDARD_MAX_BITS {
            for (level, max) in [SecurityLevel::Bits128, SecurityLevel::Bits192, SecurityLevel::Bits256].into_iter().zip(maxima) {
                let at = Parameters::new(literal(n, max, level)).unwrap_or_else(|e| panic!("n={n} {max} bits: {e}"));
                assert_eq!(at.total_bits(), max);
                let over = Parameters::new(literal(n, max + 1, level));
                match over {
                    Err(Error::InsecureParameters { n: en, bits, max: m, security }) => {
                        assert_eq!((en, bits, m, security), (n, max + 1, max, level.bits()));
                    }
                    other => panic!("n={n}, {} bits at {level:?} accepted: {other:?}", max + 1),
                }
            }
        }
    }

    #[test]
    fn special_primes_count_against_the_bound() {
        let mut lit = literal(4096, 109, SecurityLevel::Bits128);
        let extra = crate::prime::ntt_primes(20, 4096, 1).unwrap();
        lit.special_primes = extra;
        assert!(matches!(Parameters::new(lit), Err(Error::InsecureParameters { bits: 129, max: 109, .. })));
    }

    #[test]
    fn error_message_names_n_bits_and_maximum() {
        let e = Parameters::new(literal(2048, 55, SecurityLevel::Bits128)).unwrap_err();
        assert_eq!(e.to_string(), "n = 2048 with 55 modulus bits exceeds the 128-bit security maximum of 54 bits");
    }

    #[test]
    fn plaintext_modulus_not_below_every_prime_is_rejected() {
        // A peer library silently decrypts garbage here.
        let mut lit = literal(4096, 109, SecurityLevel::Bits128);
        let smallest = *lit.ciphertext_primes.iter().min().unwrap();
        for t in [smallest, smallest + 2, u32::MAX >> 2] {
            lit.plaintext_modulus = t;
            assert!(matches!(Parameters::new(lit.clone()), Err(Error::PlaintextModulusTooLarge { smallest_prime, .. }) if smallest_prime == smallest), "t = {t}");
        }
        lit.plaintext_modulus = smallest - 1;
        assert!(Parameters::new(lit.clone()).is_ok());
        lit.plaintext_modulus = 1;
        assert!(matches!(Parameters::new(lit), Err(Error::ModulusTooSmall { q: 1 })));
    }

    #[test]
    fn bad_rings_are_rejected() {
        let mut lit = literal(4096, 109, SecurityLevel::Bits128);
        lit.ciphertext_primes[1] = lit.ciphertext_primes[0];
        assert!(matches!(Parameters::new(lit.clone()), Err(Error::DuplicatePrime { .. })));
        lit.ciphertext_primes = vec![];
        assert!(matches!(Parameters::new(lit.clone()), Err(Error::EmptyBasis)));
        lit.ciphertext_primes = vec![(1 << 29) + 11];
        assert!(matches!(Parameters::new(lit.clone()), Err(Error::NotNttFriendly { .. })));
        let mut bad_n = literal(4096, 100, SecurityLevel::Bits128);
        bad_n.n = 3000;
        assert!(matches!(Parameters::new(bad_n), Err(Error::InvalidDegree { n: 3000 })));
    }

    #[test]
    fn presets_are_secure_and_state_their_depth() {
        let depths: Vec<usize> = Preset::ALL.iter().map(|p| p.parameters(65537).unwrap().supported_depth()).collect();
        // The additive preset has no special prime; larger rings support deeper circuits.
        assert_eq!(depths[0], 0);
        assert!(depths[1] >= 1, "{depths:?}");
        assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{depths:?}");
        assert!(depths[4] >= 10, "{depths:?}");
        for p in Preset::ALL {
            let params = p.parameters(65537).unwrap();
            assert!(params.total_bits() <= SecurityLevel::Bits128.max_modulus_bits(p.n()).unwrap());
            assert_eq!(Preset::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn circuit_helper_picks_the_smallest_preset() {
        assert_eq!(Parameters::for_circuit(100, 0, 65537).unwrap().n(), 2048);
        assert_eq!(Parameters::for_circuit(100, 1, 65537).unwrap().n(), 4096);
        let deep = Parameters::for_circuit(10, 4, 65537).unwrap();
        assert!(deep.n() >= 8192 && deep.supported_depth() >= 4);
        assert!(matches!(Parameters::for_circuit(1, 1000, 65537), Err(Error::NoPresetFits { .. })));
    }
}
