//! Encrypted statistics over columns of records (the system the project exists for).
//!
//! The data owner encrypts a table column by column: one ciphertext holds one column for up
//! to `n` records in its batch slots (more records take more ciphertexts, "chunks"), under
//! every plaintext modulus of a CRT space ([`StatsParameters`]) so that sums, sums of squares
//! and scores are exact integers far beyond one `t`. A server holding only the evaluation keys
//! ([`StatsKeys`]) computes sums, sums of squares, weighted sums and logistic scores
//! ([`StatsEvaluator`]); the owner decrypts and finishes what needs division, square roots or
//! the sigmoid ([`StatsDecryptor`]).
//!
//! - Values are fixed point: column `c` holds `round(x·10^d_c)` for its `d_c` decimals.
//! - Every computation is bounded before it runs: each column carries the bit width of its
//!   largest magnitude, so a sum of `N` values is below `N·2^b` and a sum of squares below
//!   `N·2^{2b}`; a result that could reach half the CRT modulus is refused
//!   ([`Error::WouldWrap`]) instead of wrapping.
//! - A total (sum, sum of squares, weighted sum) fills every slot of its result ciphertext —
//!   the plaintext is the constant polynomial — so no slot carries anything but the result
//!   (zeroing all but one slot would cost a multiplicative level). Per-record results
//!   (scores) occupy their records' slots; padding slots are zero.
//! - Many columns and statistics in one call are stacked into one ciphertext batch, so each
//!   rotation of the slot sum is one backend call for all of them.

mod objects;
mod owner;
mod row_eval;
mod rows;
mod server;
mod table;

use std::fmt;
use std::str::FromStr;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand_core::{CryptoRng, RngCore};

use crate::backend::Backend;
use crate::encoding::{BatchEncoder, CrtPlaintextSpace};
use crate::scheme::{EvaluationKeys, KeyPlan, Preset, PublicKey, Scheme, SecretKey};
use crate::zq::Modulus;
use crate::Error;

/// `v mod t` in `[0, t)`: by Barrett reduction when `v` fits 64 bits (every fixed-point
/// reading does), by 128-bit division otherwise.
pub(crate) fn residue_of(v: i128, t: &Modulus) -> u32 {
    i64::try_from(v).map_or_else(|_| v.rem_euclid(i128::from(t.value())) as u32, |v| t.from_i64(v))
}

pub use owner::{StatValue, StatsDecryptor, sigmoid};
pub use row_eval::{EncryptedRowScores, EncryptedTotals, ScoreSegment};
pub use rows::{EncryptedRows, RowPlan, RowSpec, score_capacity_bits};
pub use server::{EncryptedScores, EncryptedStat, LogisticModel, StatsEvaluator, Weights};
pub use table::{ColumnInfo, EncryptedColumn, EncryptedTable, PlainColumn};

/// A statistic of one column. Population forms divide by `N` (ddof 0), sample forms by
/// `N − 1` (ddof 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stat {
    /// Number of values present.
    Count,
    /// `Σx`.
    Sum,
    /// `Σx / N`.
    Mean,
    /// `Σx²`.
    SumOfSquares,
    /// `Σx²/N − mean²`.
    Variance,
    /// `√variance`.
    Stddev,
    /// `(Σx² − N·mean²) / (N − 1)`.
    SampleVariance,
    /// `√sample_variance`.
    SampleStddev,
    /// `Σ wᵢ·xᵢ` over records (see [`StatsEvaluator::weighted_sum`]).
    WeightedSum,
}

impl Stat {
    /// The column statistics the command line offers, in its order.
    pub const COLUMN_STATS: [Stat; 8] =
        [Self::Count, Self::Sum, Self::Mean, Self::SumOfSquares, Self::Variance, Self::Stddev, Self::SampleVariance, Self::SampleStddev];

    /// The name used by the command line and in JSON (`mean`, `sample_stddev`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Mean => "mean",
            Self::SumOfSquares => "sum_of_squares",
            Self::Variance => "variance",
            Self::Stddev => "stddev",
            Self::SampleVariance => "sample_variance",
            Self::SampleStddev => "sample_stddev",
            Self::WeightedSum => "weighted_sum",
        }
    }

    /// Whether the server computes `Σx`.
    pub const fn needs_sum(self) -> bool {
        !matches!(self, Self::Count | Self::SumOfSquares | Self::WeightedSum)
    }

    /// Whether the server computes `Σx²`.
    pub const fn needs_squares(self) -> bool {
        matches!(self, Self::SumOfSquares | Self::Variance | Self::Stddev | Self::SampleVariance | Self::SampleStddev)
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::COLUMN_STATS.into_iter().chain([Self::WeightedSum]).find(|x| x.name() == s).ok_or_else(|| Error::InvalidInput {
            what: format!("unknown statistic {s:?}; expected one of {}", Self::COLUMN_STATS.map(Stat::name).join(", ")),
        })
    }
}

/// The ring and the CRT plaintext space of encrypted statistics.
#[derive(Clone, Debug)]
pub struct StatsParameters {
    preset: Preset,
    space: CrtPlaintextSpace,
}

impl StatsParameters {
    /// The default space of a preset: `k` batching primes as wide as the preset's noise
    /// budget allows for a squaring followed by a slot sum (17 bits × 3 at n = 4096, 25 bits ×
    /// 4 at n = 8192 and above: about 51 and 100 bits of exact integers).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for the additive-only preset; as [`Self::with_moduli`].
    ///
    /// Built once per preset and process (primes searched, rings and NTT tables built), then
    /// shared: parameters are immutable.
    pub fn for_preset(preset: Preset) -> Result<Self, Error> {
        static BUILT: OnceLock<Mutex<HashMap<Preset, StatsParameters>>> = OnceLock::new();
        let built = BUILT.get_or_init(Default::default);
        if let Some(p) = built.lock().ok().and_then(|m| m.get(&preset).cloned()) {
            return Ok(p);
        }
        let params = match preset {
            Preset::N2048Additive => return Err(Error::InvalidInput { what: "statistics need key switching (rotations): use n4096 or larger".into() }),
            Preset::N4096 => Self::with_moduli(preset, 17, 3)?,
            _ => Self::with_moduli(preset, 25, 4)?,
        };
        if let Ok(mut m) = built.lock() {
            m.entry(preset).or_insert_with(|| params.clone());
        }
        Ok(params)
    }

    /// `k` batching primes (`≡ 1 mod 2n`) of `bits` bits on the preset's ring.
    ///
    /// # Errors
    /// Prime generation and parameter errors; [`Error::InvalidInput`] when the noise model
    /// says a squared, slot-summed column would not decrypt.
    pub fn with_moduli(preset: Preset, bits: u32, k: usize) -> Result<Self, Error> {
        let base = preset.literal(65537)?;
        let space = CrtPlaintextSpace::batching(&base, bits, k)?;
        for p in space.params() {
            if !p.supports_circuit(1, p.n() as u64) {
                return Err(Error::InvalidInput { what: format!("{}: {bits}-bit plaintext moduli leave no noise budget for a square and a slot sum", preset.name()) });
            }
        }
        Ok(Self { preset, space })
    }

    /// The preset of the ring.
    pub fn preset(&self) -> Preset {
        self.preset
    }
    /// The CRT plaintext space.
    pub fn space(&self) -> &CrtPlaintextSpace {
        &self.space
    }
    /// Ring degree: records per ciphertext.
    pub fn n(&self) -> usize {
        self.preset.n()
    }
    /// The plaintext moduli.
    pub fn moduli(&self) -> Vec<u32> {
        self.space.params().iter().map(|p| p.plaintext().value()).collect()
    }
    /// Magnitudes below `2^capacity_bits` are represented exactly.
    pub fn capacity_bits(&self) -> u64 {
        self.space.max_magnitude().bits().saturating_sub(1)
    }

    /// The evaluation keys the statistics of tables of up to `max_records` records need, one
    /// plan per plaintext modulus: the relinearization key at the top level (products are
    /// taken there) and the slot-sum rotations at the highest level any total of `1` to
    /// `⌈max_records/n⌉` chunks is switched down to ([`StatsEvaluator`]'s rule). Galois keys
    /// of that level only are a fraction of full ones; a table with more records is refused
    /// with [`Error::KeyLevelNotCovered`] when its totals would need a higher level.
    pub fn key_plans(&self, max_records: u64) -> Vec<KeyPlan> {
        let chunks = max_records.div_ceil(self.n() as u64).max(1);
        let moduli = self.space.params();
        // A total is summed at the lowest level its noise allows, which grows with the chunk
        // count (the slot-0 mask never raises it: `server::mask_fits`).
        let galois_levels = server::Summand::ALL
            .iter()
            .flat_map(|kind| moduli.iter().map(move |p| server::slot_sum_level(p, p.noise().after_additions(kind.noise_bits(p), chunks), p.max_level(), false)))
            .max()
            .unwrap_or(1);
        moduli
            .iter()
            .map(|p| KeyPlan {
                relinearization: p.supports_key_switching().then_some(p.max_level()),
                galois: crate::scheme::power_of_two_rotation_elements(p.n()),
                galois_levels,
            })
            .collect()
    }
}

/// The owner's secret: one secret key per plaintext modulus. Never leaves the owner.
pub struct StatsSecretKey {
    pub(crate) keys: Vec<SecretKey>,
}

impl StatsSecretKey {
    /// The secret keys, one per plaintext modulus.
    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }
    /// Wraps secret keys (one per plaintext modulus, as loaded from the owner's file).
    pub fn from_keys(keys: Vec<SecretKey>) -> Self {
        Self { keys }
    }
}

/// What the server receives: per plaintext modulus the public key, the relinearization key
/// and the rotation keys of a slot sum.
#[derive(Clone, Debug)]
pub struct StatsKeys {
    pub(crate) keys: Vec<EvaluationKeys>,
}

impl StatsKeys {
    /// The evaluation keys, one set per plaintext modulus.
    pub fn keys(&self) -> &[EvaluationKeys] {
        &self.keys
    }
    /// The public keys, one per plaintext modulus (all `encrypt_table` needs).
    pub fn public_keys(&self) -> Vec<&PublicKey> {
        self.keys.iter().map(EvaluationKeys::public_key).collect()
    }
    /// Wraps evaluation keys (one set per plaintext modulus, as loaded from a file).
    pub fn from_keys(keys: Vec<EvaluationKeys>) -> Self {
        Self { keys }
    }
}

/// Statistics on one backend: one scheme per plaintext modulus over the same ring.
pub struct StatsContext<B: Backend> {
    params: StatsParameters,
    schemes: Vec<Scheme<B>>,
    encoders: Vec<BatchEncoder>,
}

impl<B: Backend> StatsContext<B> {
    /// Builds the schemes and batch encoders.
    ///
    /// # Errors
    /// Backend plan errors.
    pub fn new(backend: Arc<B>, params: StatsParameters) -> Result<Self, Error> {
        let schemes = params.space.params().iter().map(|p| Scheme::new(backend.clone(), p.clone())).collect::<Result<Vec<_>, _>>()?;
        let encoders = params.space.params().iter().map(BatchEncoder::new).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { params, schemes, encoders })
    }

    /// The parameters.
    pub fn params(&self) -> &StatsParameters {
        &self.params
    }
    /// The scheme of each plaintext modulus.
    pub fn schemes(&self) -> &[Scheme<B>] {
        &self.schemes
    }

    /// Generates the owner's secret and the server's evaluation keys (relinearization and the
    /// rotations of a slot sum), serving every level: tables of any size the noise allows.
    ///
    /// # Errors
    /// Key generation errors.
    pub fn generate_keys<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<(StatsSecretKey, StatsKeys), Error> {
        let plans: Vec<KeyPlan> = self
            .schemes
            .iter()
            .map(|s| {
                let all = s.params().max_level();
                KeyPlan { relinearization: Some(all), galois: s.power_of_two_rotation_elements(), galois_levels: all }
            })
            .collect();
        self.generate_keys_with(&plans, rng)
    }

    /// Generates the owner's secret and the smallest evaluation keys that serve tables of up
    /// to `max_records` records ([`StatsParameters::key_plans`]).
    ///
    /// # Errors
    /// Key generation errors.
    pub fn generate_keys_for<R: RngCore + CryptoRng>(&self, max_records: u64, rng: &mut R) -> Result<(StatsSecretKey, StatsKeys), Error> {
        self.generate_keys_with(&self.params.key_plans(max_records), rng)
    }

    /// One key set per plaintext modulus, each on its own thread (they are independent): each
    /// thread draws from a ChaCha20 generator seeded with 32 bytes of `rng`.
    fn generate_keys_with<R: RngCore + CryptoRng>(&self, plans: &[KeyPlan], rng: &mut R) -> Result<(StatsSecretKey, StatsKeys), Error> {
        if plans.len() != self.schemes.len() {
            return Err(Error::ShapeMismatch { what: "key plans (one per plaintext modulus)", expected: self.schemes.len(), found: plans.len() });
        }
        let seeds: Vec<zeroize::Zeroizing<[u8; 32]>> = self
            .schemes
            .iter()
            .map(|_| {
                let mut seed = zeroize::Zeroizing::new([0u8; 32]);
                rng.fill_bytes(&mut *seed);
                seed
            })
            .collect();
        let generated: Vec<Result<(SecretKey, EvaluationKeys), Error>> = std::thread::scope(|scope| {
            let jobs: Vec<_> = self
                .schemes
                .iter()
                .zip(plans)
                .zip(&seeds)
                .map(|((s, plan), seed)| {
                    scope.spawn(move || {
                        let mut rng = crate::scheme::sampling::seeded_rng(**seed);
                        let sk = s.generate_secret_key(&mut rng)?;
                        let keys = s.generate_evaluation_keys_for(&sk, plan, &mut rng)?;
                        Ok((sk, keys))
                    })
                })
                .collect();
            jobs.into_iter().map(|job| job.join().unwrap_or_else(|_| Err(Error::Backend { backend: "key generation".into(), reason: "a key-generation thread panicked".into() }))).collect()
        });
        let mut secret = Vec::with_capacity(self.schemes.len());
        let mut public = Vec::with_capacity(self.schemes.len());
        for g in generated {
            let (sk, keys) = g?;
            secret.push(sk);
            public.push(keys);
        }
        Ok((StatsSecretKey { keys: secret }, StatsKeys { keys: public }))
    }

    /// Checks that keys belong to these parameters (one per modulus, same literal).
    fn check_keys<K>(&self, keys: &[K], params_of: impl Fn(&K) -> &Arc<crate::scheme::Parameters>) -> Result<(), Error> {
        if keys.len() != self.schemes.len() {
            return Err(Error::ShapeMismatch { what: "key sets (one per plaintext modulus)", expected: self.schemes.len(), found: keys.len() });
        }
        if keys.iter().zip(&self.schemes).any(|(k, s)| params_of(k).literal() != s.params().literal()) {
            return Err(Error::ParameterMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn residues_equal_128_bit_division_on_edge_values() {
        let values = [0i128, 1, -1, 7, -7, i128::from(i64::MAX), i128::from(i64::MIN), i128::from(i64::MAX) + 1, i128::from(i64::MIN) - 1, i128::MAX, i128::MIN, 1 << 100, -(1 << 100) + 3];
        for t in [2u32, 3, 65537, (1 << 30) - 35] {
            let m = crate::zq::Modulus::new(t).unwrap();
            let t = i128::from(t);
            for &v in &values {
                assert_eq!(super::residue_of(v, &m), v.rem_euclid(t) as u32, "{v} mod {t}");
            }
        }
    }
}
