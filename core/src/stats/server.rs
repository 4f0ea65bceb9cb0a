//! The server side: statistics on ciphertexts with evaluation keys only.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use super::table::{ColumnInfo, EncryptedColumn, EncryptedTable};
use super::{Stat, StatsContext, StatsKeys};
use crate::backend::Backend;
use crate::scheme::{Ciphertext, DeviceKeys, Evaluator, NoiseModel, Parameters, Plaintext};
use crate::Error;

/// The encrypted result of one statistic: `Σx` and/or `Σx²` of a column (totals in every
/// slot), one ciphertext per plaintext modulus, with the bounds the owner checks on
/// decryption.
#[derive(Debug)]
pub struct EncryptedStat<B: Backend> {
    /// The statistic.
    pub stat: Stat,
    /// The column it describes (for a weighted sum: the value column, with the count of
    /// records summed).
    pub column: ColumnInfo,
    /// Decimal digits of `Σx` (`Σx²` has twice as many).
    pub scale: u32,
    /// `|Σx| < 2^sum_bound_bits`.
    pub sum_bound_bits: u64,
    /// `|Σx²| < 2^squares_bound_bits`.
    pub squares_bound_bits: u64,
    /// `Σx` per plaintext modulus, when the statistic needs it.
    pub sum: Option<Vec<Ciphertext<B>>>,
    /// `Σx²` per plaintext modulus, when the statistic needs it.
    pub squares: Option<Vec<Ciphertext<B>>>,
}

/// Encrypted per-record scores `w·x + b`: `chunks[modulus][chunk]`, the records of chunk `c`
/// in its first `chunk_records[c]` slots, in record order; fixed point with `scale` decimals.
#[derive(Debug)]
pub struct EncryptedScores<B: Backend> {
    /// Number of records.
    pub records: usize,
    /// Decimal digits of the scores.
    pub scale: u32,
    /// `|score·10^scale| < 2^bound_bits`.
    pub bound_bits: u64,
    /// Records with a skipped cell in a model column (their score is not meaningful).
    pub missing: Vec<usize>,
    /// Records in each chunk (they sum to `records`).
    pub chunk_records: Vec<usize>,
    /// `chunks[modulus][chunk]`.
    pub chunks: Vec<Vec<Ciphertext<B>>>,
}

/// Budget kept beyond the noise model's estimate when switching down before a slot sum.
const NOISE_MARGIN_BITS: f64 = 10.0;

/// What the chunks of a total are, for the noise model: the three summands of the statistics
/// circuits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Summand {
    /// Fresh public-key ciphertexts (a sum).
    Fresh,
    /// Products of two fresh ciphertexts relinearized at the top level (a sum of squares, a
    /// weighted sum with encrypted weights): squaring at the top level leaves the most budget
    /// (a switch first would lower the noise less than the modulus).
    Product,
    /// Products with plaintexts of arbitrary residues (a weighted sum with plaintext weights:
    /// growth `≈ t·√n`).
    PlainProduct,
}

impl Summand {
    /// Every kind, for planning keys.
    pub(crate) const ALL: [Summand; 3] = [Self::Fresh, Self::Product, Self::PlainProduct];

    /// The noise bits of one summand under `p`.
    pub(crate) fn noise_bits(self, p: &Parameters) -> f64 {
        let model = p.noise();
        let fresh = model.fresh_bits();
        match self {
            Self::Fresh => fresh,
            Self::Product => model.after_key_switch(model.after_multiply(fresh, fresh), p.max_level()),
            Self::PlainProduct => model.after_multiply(fresh, (f64::from(p.plaintext().value()) * (p.n() as f64).sqrt()).log2()),
        }
    }
}

/// Whether a slot sum of noise `bits` at `level`, then (with `mask`) the slot-0 mask,
/// decrypts under `p`'s noise model with [`NOISE_MARGIN_BITS`] to spare.
fn slot_sum_fits(p: &Parameters, mut bits: f64, level: usize, mask: bool) -> bool {
    let model: NoiseModel = p.noise();
    for _ in 0..p.n().trailing_zeros() {
        bits = model.after_additions(model.after_key_switch(bits, level), 2);
    }
    if mask {
        bits = model.after_plain_multiply(bits);
    }
    model.decryptable(bits + NOISE_MARGIN_BITS, level)
}

/// The lowest level, from `level` down, at which a slot sum of noise `bits` (then, with
/// `mask`, the slot-0 mask) still decrypts: rotations get cheaper as primes are dropped, and
/// the Galois keys need only the levels this returns.
pub(crate) fn slot_sum_level(p: &Parameters, bits: f64, level: usize, mask: bool) -> usize {
    descend(p, bits, level, mask).0
}

/// [`slot_sum_level`] with the noise at that level.
fn descend(p: &Parameters, mut bits: f64, mut level: usize, mask: bool) -> (usize, f64) {
    let model = p.noise();
    while level > 1 {
        let lower = model.after_mod_switch(bits, level);
        if !slot_sum_fits(p, lower, level - 1, mask) {
            break;
        }
        bits = lower;
        level -= 1;
    }
    (level, bits)
}

/// Whether totals of `chunks` summands of noise `noise(params)` can be masked to slot 0
/// under every plaintext modulus of `moduli` at the level the unmasked total is summed at.
/// The mask is a courtesy (every slot of a total holds the same value), so it never costs a
/// level: a higher level would need Galois keys over more primes and slower rotations.
pub(crate) fn mask_fits<'p>(moduli: impl IntoIterator<Item = &'p Parameters>, noise: &dyn Fn(&Parameters) -> f64, chunks: usize) -> bool {
    moduli.into_iter().all(|p| {
        let (level, bits) = descend(p, p.noise().after_additions(noise(p), chunks as u64), p.max_level(), false);
        slot_sum_fits(p, bits, level, true)
    })
}

/// A logistic-regression model in the data's raw units: `score = b + Σ w_c·x_c`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticModel {
    /// `b`.
    pub intercept: f64,
    /// `w_c` by column name.
    pub weights: std::collections::BTreeMap<String, f64>,
}

/// Per-record weights of [`StatsEvaluator::weighted_sum`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Weights {
    /// Plaintext fixed-point weights `round(w·10^decimals)`, one per record.
    Plain {
        /// Decimal digits of the weights.
        decimals: u32,
        /// One weight per record.
        values: Vec<i128>,
    },
    /// An encrypted column of the same table.
    Column(String),
}

/// The coarsest accuracy of a score, relative to its model's range `|b| + Σ|w_c|·max|x_c|`,
/// that a computation accepts (finer whenever the plaintext space allows).
pub(crate) const SCORE_MIN_PRECISION: f64 = 1e-6;

/// A logistic model in fixed point over columns of known bounds.
pub(crate) struct FixedModel {
    /// Decimal digits `S` of the scores.
    pub(crate) scale: u32,
    /// `round(w_c·10^(S − d_c))`, in the order of the columns given.
    pub(crate) weights: Vec<BigInt>,
    /// `round(b·10^S)`.
    pub(crate) intercept: BigInt,
    /// `|score·10^S| < 2^bound_bits` for every record.
    pub(crate) bound_bits: u64,
    /// Records with a skipped cell in a model column (ascending).
    pub(crate) missing: Vec<usize>,
}

/// `x·10^digits` rounded half away from zero, exactly (through the 18 significant digits of
/// `x`'s shortest decimal form, which identify it).
fn scaled_int(x: f64, digits: i64) -> Result<BigInt, Error> {
    let text = format!("{:.*e}", 17, x);
    let (mantissa, exp) = text.split_once('e').ok_or(Error::InvalidInput { what: "weight".into() })?;
    let exp: i64 = exp.parse().map_err(|_| Error::InvalidInput { what: "weight exponent".into() })?;
    let negative = mantissa.starts_with('-');
    let digits_str: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let m: BigInt = digits_str.parse().map_err(|_| Error::InvalidInput { what: "weight digits".into() })?;
    // x = m·10^(exp − 17); scaled = x·10^digits.
    let shift = exp - 17 + digits;
    let value = if shift >= 0 {
        m * BigInt::from(10).pow(shift as u32)
    } else {
        let div = BigInt::from(10).pow((-shift) as u32);
        (m * 2 + &div) / (div * 2)
    };
    Ok(if negative { -value } else { value })
}

/// The fixed-point form of `model` over `columns` (the model's columns, in the order of its
/// weights) in a space of `capacity_bits`: weights `round(w_c·10^(S − d_c))` for the largest
/// score scale `S` whose scores `b + Σ w_c·x_c` stay below `2^capacity_bits` for every value
/// within the columns' bounds. The rounding of the weights, `½·(Σ_c 2^b_c + 1)` units of
/// `10^−S`, is then as small a part of the model's range `R = |b| + Σ_c |w_c|·2^b_c·10^−d_c`
/// as the space allows.
///
/// # Errors
/// [`Error::InvalidInput`] for no weight or a weight or intercept that is not finite;
/// [`Error::WouldWrap`] when even the scale that keeps the rounding within
/// [`SCORE_MIN_PRECISION`] of `R` does not fit (see [`crate::stats::score_capacity_bits`]).
pub(crate) fn fixed_model(model: &LogisticModel, columns: &[&ColumnInfo], capacity_bits: u64) -> Result<FixedModel, Error> {
    if model.weights.is_empty() || columns.len() != model.weights.len() {
        return Err(Error::InvalidInput { what: "the model has no weights".into() });
    }
    if !model.intercept.is_finite() || model.weights.values().any(|w| !w.is_finite()) {
        return Err(Error::InvalidInput { what: "model weights and intercept must be finite numbers".into() });
    }
    let range: f64 = model.intercept.abs() + model.weights.values().zip(columns).map(|(w, c)| w.abs() * 2f64.powi(c.bound_bits as i32) / 10f64.powi(c.decimals as i32)).sum::<f64>();
    let rounding: f64 = 0.5 * (columns.iter().map(|c| 2f64.powi(c.bound_bits as i32)).sum::<f64>() + 1.0);
    let at = |scale: u32| -> Result<FixedModel, Error> {
        let mut weights = Vec::with_capacity(columns.len());
        let mut bound = BigInt::zero();
        let mut missing: Vec<usize> = Vec::new();
        for (w, c) in model.weights.values().zip(columns) {
            let wi = scaled_int(*w, i64::from(scale) - i64::from(c.decimals))?;
            bound += wi.abs() << (c.bound_bits as usize);
            missing.extend(&c.missing);
            weights.push(wi);
        }
        let intercept = scaled_int(model.intercept, i64::from(scale))?;
        bound += intercept.abs();
        missing.sort_unstable();
        missing.dedup();
        Ok(FixedModel { scale, weights, intercept, bound_bits: bits_of(&bound), missing })
    };
    if range == 0.0 {
        return at(0);
    }
    // 10^S·R + rounding < 2^capacity, from the estimate down to the first scale that fits.
    let room = (2f64.powi(capacity_bits.min(1000) as i32) - rounding).max(1.0);
    let mut scale = (room / range).log10().floor().clamp(0.0, 300.0) as u32;
    let mut fixed = at(scale)?;
    while fixed.bound_bits > capacity_bits && scale > 0 {
        scale -= 1;
        fixed = at(scale)?;
    }
    let precision = rounding / (10f64.powi(scale as i32) * range);
    if fixed.bound_bits > capacity_bits || precision > SCORE_MIN_PRECISION {
        return Err(Error::WouldWrap { what: format!("logistic scores exact to {SCORE_MIN_PRECISION:e} of their range"), needed_bits: crate::stats::score_capacity_bits(&columns.iter().map(|c| c.bound_bits).collect::<Vec<_>>()), capacity_bits });
    }
    Ok(fixed)
}

/// Bits of a positive integer bound (`x < 2^bits`).
fn bits_of(x: &BigInt) -> u64 {
    x.magnitude().bits()
}

/// Bits of `count · 2^bits` (a sum of `count` values below `2^bits`).
pub(crate) fn sum_bits(count: usize, bits: u64) -> u64 {
    bits + u64::from(usize::BITS - count.leading_zeros())
}

/// `x mod t`, centered, as an `i64` constant.
pub(crate) fn centered_residue(x: &BigInt, t: u32) -> i64 {
    let t = i64::from(t);
    let r = (x % t).to_i64().unwrap_or(0);
    let r = if r < 0 { r + t } else { r };
    if r > t / 2 { r - t } else { r }
}

/// `x mod t` in `[0, t)` (a slot value).
pub(crate) fn residue(x: &BigInt, t: u32) -> u32 {
    centered_residue(x, t).rem_euclid(i64::from(t)) as u32
}

/// Evaluates statistics with evaluation keys only.
pub struct StatsEvaluator<'a, B: Backend> {
    ctx: &'a StatsContext<B>,
    evals: Vec<Evaluator<'a, B>>,
}

impl<B: Backend> StatsContext<B> {
    /// The server's evaluator.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] or [`Error::ParameterMismatch`] for keys of other parameters.
    pub fn evaluator<'a>(&'a self, keys: &'a StatsKeys) -> Result<StatsEvaluator<'a, B>, Error> {
        self.check_keys(&keys.keys, |k| k.params())?;
        let evals = self.schemes.iter().zip(&keys.keys).map(|(s, k)| s.evaluator(k)).collect::<Result<Vec<_>, _>>()?;
        Ok(StatsEvaluator { ctx: self, evals })
    }

    /// The server's evaluator keeping the device form of the keys in `device` (one
    /// [`DeviceKeys`] per plaintext modulus, kept beside `keys`), so that a server building
    /// one evaluator per query uploads its keys once.
    ///
    /// # Errors
    /// As [`Self::evaluator`]; [`Error::ShapeMismatch`] for another number of caches.
    pub fn evaluator_sharing<'a>(&'a self, keys: &'a StatsKeys, device: &'a [DeviceKeys<B>]) -> Result<StatsEvaluator<'a, B>, Error> {
        self.check_keys(&keys.keys, |k| k.params())?;
        if device.len() != self.schemes.len() {
            return Err(Error::ShapeMismatch { what: "device key caches (one per plaintext modulus)", expected: self.schemes.len(), found: device.len() });
        }
        let evals = self.schemes.iter().zip(&keys.keys).zip(device).map(|((s, k), d)| s.evaluator_sharing(k, d)).collect::<Result<Vec<_>, _>>()?;
        Ok(StatsEvaluator { ctx: self, evals })
    }
}

impl<B: Backend> StatsEvaluator<'_, B> {
    fn check_capacity(&self, what: &str, bits: u64) -> Result<(), Error> {
        let capacity = self.ctx.params.capacity_bits();
        if bits > capacity {
            return Err(Error::WouldWrap { what: what.to_string(), needed_bits: bits, capacity_bits: capacity });
        }
        Ok(())
    }

    fn check_table(&self, table: &EncryptedTable<B>) -> Result<(), Error> {
        let chunks = table.chunk_records().len();
        for c in table.columns() {
            if c.ciphertexts().len() != self.evals.len() || c.ciphertexts().iter().any(|x| x.len() != chunks) {
                return Err(Error::InvalidInput { what: format!("column {:?} is not a table of these parameters", c.info().name) });
            }
        }
        Ok(())
    }

    /// Whether totals of `chunks` summands of noise `noise(params)` can be masked to slot 0
    /// under every plaintext modulus (the decision must be the same for all of them: the owner
    /// recombines each slot across moduli).
    fn mask_fits(&self, noise: &dyn Fn(&Parameters) -> f64, chunks: usize) -> bool {
        mask_fits(self.evals.iter().map(|ev| &**ev.scheme().params()), noise, chunks)
    }

    /// Sums the chunks of a stacked batch list, switches down to [`Self::lowest_level`], and
    /// sums the slots: every slot of every ciphertext of the batch becomes its total. With
    /// `mask` (see [`Self::mask_fits`]) the result is then multiplied by the slot-0 indicator,
    /// so slot 0 holds the total and every other slot zero. Without it (a sum of squares at
    /// n = 4096, where the mask's noise, `≈ t·√n`, exceeds what is left) the total fills
    /// every slot.
    fn total(&self, i: usize, chunks: Vec<Ciphertext<B>>, noise_bits: f64, mask: bool) -> Result<Ciphertext<B>, Error> {
        let ev = &self.evals[i];
        let mut iter = chunks.into_iter();
        let mut acc = iter.next().ok_or(Error::ShapeMismatch { what: "chunks", expected: 1, found: 0 })?;
        let count = 1 + iter.len() as u64;
        for c in iter {
            ev.add_assign(&mut acc, &c)?;
        }
        self.slot_total(i, acc, count, noise_bits, mask)
    }

    /// [`Self::total`] of the products `a·b` of `pairs`: accumulated unrelinearized, then
    /// relinearized once (one key switch per modulus instead of one per chunk; the noise
    /// model's per-product estimate stays an upper bound).
    fn product_total<'c>(&self, i: usize, pairs: impl IntoIterator<Item = (&'c Ciphertext<B>, &'c Ciphertext<B>)>, noise_bits: f64, mask: bool) -> Result<Ciphertext<B>, Error>
    where
        B: 'c,
    {
        let ev = &self.evals[i];
        let mut acc: Option<Ciphertext<B>> = None;
        let mut count = 0u64;
        for (a, b) in pairs {
            match acc.as_mut() {
                Some(s) => ev.mul_add_assign(s, a, b)?,
                None => acc = Some(ev.mul(a, b)?),
            }
            count += 1;
        }
        let mut acc = acc.ok_or(Error::ShapeMismatch { what: "chunks", expected: 1, found: 0 })?;
        ev.relinearize_assign(&mut acc)?;
        self.slot_total(i, acc, count, noise_bits, mask)
    }

    /// The slot sum (and mask) of `acc`, a sum of `count` summands of `noise_bits` each.
    fn slot_total(&self, i: usize, mut acc: Ciphertext<B>, count: u64, noise_bits: f64, mask: bool) -> Result<Ciphertext<B>, Error> {
        let ev = &self.evals[i];
        let params = ev.scheme().params();
        let model = params.noise();
        let level = slot_sum_level(params, model.after_additions(noise_bits, count), acc.level(), mask);
        while acc.level() > level {
            ev.mod_switch_assign(&mut acc)?;
        }
        let mut total = ev.sum_slots(&acc)?;
        if mask {
            let mut first = vec![0u32; self.ctx.params.n()];
            first[0] = 1;
            let indicator = self.ctx.encoders[i].encode(&first)?;
            let indicators = vec![&indicator; total.count()];
            ev.mul_plain_assign(&mut total, &indicators)?;
        }
        Ok(total)
    }

    /// Stacks chunk `c` of every column (one batch per chunk).
    fn stacked(&self, i: usize, columns: &[&EncryptedColumn<B>], chunks: usize) -> Result<Vec<Ciphertext<B>>, Error> {
        let s = &self.ctx.schemes[i];
        (0..chunks).map(|c| s.stack(&columns.iter().map(|col| &col.ciphertexts()[i][c]).collect::<Vec<_>>())).collect()
    }

    /// Encrypted statistics for many `(statistic, column)` requests at once: the sums of all
    /// requested columns run as one batch, the sums of squares as another.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown column or a weighted sum (see
    /// [`Self::weighted_sum`]); [`Error::WouldWrap`] when a sum or sum of squares could
    /// exceed the plaintext space; evaluation errors.
    pub fn evaluate(&self, table: &EncryptedTable<B>, requests: &[(Stat, &str)]) -> Result<Vec<EncryptedStat<B>>, Error> {
        self.check_table(table)?;
        let mut sum_cols: Vec<&EncryptedColumn<B>> = Vec::new();
        let mut sq_cols: Vec<&EncryptedColumn<B>> = Vec::new();
        for &(stat, name) in requests {
            let col = table.column(name)?;
            if stat == Stat::WeightedSum {
                return Err(Error::InvalidInput { what: "a weighted sum needs weights: use weighted_sum".into() });
            }
            let info = col.info();
            if stat.needs_sum() {
                self.check_capacity(&format!("sum of {:?}", info.name), sum_bits(info.count, u64::from(info.bound_bits)))?;
                if !sum_cols.iter().any(|c| c.info().name == info.name) {
                    sum_cols.push(col);
                }
            }
            if stat.needs_squares() {
                self.check_capacity(&format!("sum of squares of {:?}", info.name), sum_bits(info.count, 2 * u64::from(info.bound_bits)))?;
                if !sq_cols.iter().any(|c| c.info().name == info.name) {
                    sq_cols.push(col);
                }
            }
        }
        let chunks = table.chunk_records().len();
        // sums[i][k]: total of sum_cols[k] under modulus i (likewise squares).
        let mut sums: Vec<Vec<Ciphertext<B>>> = Vec::new();
        let mut squares: Vec<Vec<Ciphertext<B>>> = Vec::new();
        let sum_noise = |p: &Parameters| Summand::Fresh.noise_bits(p);
        let square_noise = |p: &Parameters| Summand::Product.noise_bits(p);
        let (mask_sums, mask_squares) = (self.mask_fits(&sum_noise, chunks), self.mask_fits(&square_noise, chunks));
        for i in 0..self.evals.len() {
            let s = &self.ctx.schemes[i];
            if !sum_cols.is_empty() {
                let total = self.total(i, self.stacked(i, &sum_cols, chunks)?, sum_noise(s.params()), mask_sums)?;
                sums.push(s.unstack(total)?);
            }
            if !sq_cols.is_empty() {
                let stacked = self.stacked(i, &sq_cols, chunks)?;
                let total = self.product_total(i, stacked.iter().map(|x| (x, x)), square_noise(s.params()), mask_squares)?;
                squares.push(s.unstack(total)?);
            }
        }
        let take = |all: &[Vec<Ciphertext<B>>], k: usize| -> Result<Vec<Ciphertext<B>>, Error> { all.iter().enumerate().map(|(i, v)| self.evals[i].duplicate(&v[k])).collect() };
        let mut out = Vec::with_capacity(requests.len());
        for &(stat, name) in requests {
            let info = table.column(name)?.info().clone();
            let sum = if stat.needs_sum() {
                let k = sum_cols.iter().position(|c| c.info().name == info.name).ok_or(Error::ShapeMismatch { what: "sum column", expected: 1, found: 0 })?;
                Some(take(&sums, k)?)
            } else {
                None
            };
            let sq = if stat.needs_squares() {
                let k = sq_cols.iter().position(|c| c.info().name == info.name).ok_or(Error::ShapeMismatch { what: "squares column", expected: 1, found: 0 })?;
                Some(take(&squares, k)?)
            } else {
                None
            };
            out.push(EncryptedStat {
                stat,
                scale: info.decimals,
                sum_bound_bits: sum_bits(info.count, u64::from(info.bound_bits)),
                squares_bound_bits: sum_bits(info.count, 2 * u64::from(info.bound_bits)),
                column: info,
                sum,
                squares: sq,
            });
        }
        Ok(out)
    }

    /// `Σ wᵢ·xᵢ` over the records of `column`, with plaintext weights or an encrypted weight
    /// column (missing cells count as 0).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a weight count other than the record count or an unknown
    /// column; [`Error::WouldWrap`]; evaluation errors.
    pub fn weighted_sum(&self, table: &EncryptedTable<B>, column: &str, weights: &Weights) -> Result<EncryptedStat<B>, Error> {
        self.check_table(table)?;
        let x = table.column(column)?;
        let info = x.info().clone();
        let chunks = table.chunk_records().len();
        let (w_decimals, w_bits) = match weights {
            Weights::Plain { decimals, values } => {
                if values.len() != table.records() {
                    return Err(Error::InvalidInput { what: format!("{} weights for {} records", values.len(), table.records()) });
                }
                let max = values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
                (*decimals, u64::from(128 - max.leading_zeros()))
            }
            Weights::Column(name) => {
                let w = table.column(name)?.info();
                (w.decimals, u64::from(w.bound_bits))
            }
        };
        let bound = sum_bits(table.records(), u64::from(info.bound_bits) + w_bits);
        self.check_capacity(&format!("weighted sum of {column:?}"), bound)?;
        // Plaintext weights are arbitrary residues mod t (growth ≈ t·√n); encrypted ones are a
        // product at the top level.
        let summand = match weights {
            Weights::Plain { .. } => Summand::PlainProduct,
            Weights::Column(_) => Summand::Product,
        };
        let noise = |p: &Parameters| summand.noise_bits(p);
        let mask = self.mask_fits(&noise, chunks);
        let mut per_modulus = Vec::with_capacity(self.evals.len());
        for (i, ev) in self.evals.iter().enumerate() {
            let total = match weights {
                Weights::Plain { values, .. } => {
                    let mut products = Vec::with_capacity(chunks);
                    let t = ev.scheme().params().plaintext().value();
                    let mut offset = 0;
                    for (c, &here) in table.chunk_records().iter().enumerate() {
                        let slots: Vec<u32> = values[offset..offset + here].iter().map(|w| residue(&BigInt::from(*w), t)).collect();
                        offset += here;
                        let pt = self.ctx.encoders[i].encode(&slots)?;
                        let mut p = ev.duplicate(&x.ciphertexts()[i][c])?;
                        ev.mul_plain_assign(&mut p, &[&pt])?;
                        products.push(p);
                    }
                    self.total(i, products, noise(ev.scheme().params()), mask)?
                }
                Weights::Column(name) => {
                    let w = table.column(name)?;
                    self.product_total(i, x.ciphertexts()[i].iter().zip(&w.ciphertexts()[i]), noise(ev.scheme().params()), mask)?
                }
            };
            per_modulus.push(total);
        }
        Ok(EncryptedStat {
            stat: Stat::WeightedSum,
            column: ColumnInfo { count: table.records(), ..info },
            scale: x.info().decimals + w_decimals,
            sum_bound_bits: bound,
            squares_bound_bits: 0,
            sum: Some(per_modulus),
            squares: None,
        })
    }

    /// Per-record scores `b + Σ w_c·x_c` of a logistic model (the owner applies the sigmoid).
    ///
    /// The fixed-point form is `fixed_model`'s: scores as exact as the plaintext space
    /// allows, at least to `10⁻⁶` of the model's range `|b| + Σ|w_c|·max|x_c|`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a model with no weight, an unknown column or a weight that
    /// is not finite; [`Error::WouldWrap`] when the scores could exceed the plaintext space.
    pub fn logistic_scores(&self, table: &EncryptedTable<B>, model: &LogisticModel) -> Result<EncryptedScores<B>, Error> {
        self.check_table(table)?;
        if model.weights.is_empty() {
            return Err(Error::InvalidInput { what: "the model has no weights".into() });
        }
        let mut terms = Vec::with_capacity(model.weights.len());
        for name in model.weights.keys() {
            terms.push(table.column(name)?);
        }
        let fixed = fixed_model(model, &terms.iter().map(|c| c.info()).collect::<Vec<_>>(), self.ctx.params.capacity_bits())?;
        let (scale, bound_bits, missing, ints, b) = (fixed.scale, fixed.bound_bits, fixed.missing, fixed.weights, fixed.intercept);
        let n = self.ctx.params.n();
        let chunks = table.chunk_records().len();
        let mut per_modulus = Vec::with_capacity(self.evals.len());
        for (i, ev) in self.evals.iter().enumerate() {
            let t = ev.scheme().params().plaintext().value();
            let mut out = Vec::with_capacity(chunks);
            for (c, &here) in table.chunk_records().iter().enumerate() {
                let mut acc: Option<Ciphertext<B>> = None;
                for (col, wi) in terms.iter().zip(&ints) {
                    let mut p = ev.duplicate(&col.ciphertexts()[i][c])?;
                    ev.mul_constant_assign(&mut p, centered_residue(wi, t))?;
                    match acc.as_mut() {
                        Some(a) => ev.add_assign(a, &p)?,
                        None => acc = Some(p),
                    }
                }
                let mut acc = acc.ok_or(Error::InvalidInput { what: "the model has no weights".into() })?;
                let br = residue(&b, t);
                let mut slots = vec![0u32; n];
                slots[..here].fill(br);
                let pt: Plaintext = self.ctx.encoders[i].encode(&slots)?;
                ev.add_plain_assign(&mut acc, &[&pt])?;
                out.push(acc);
            }
            per_modulus.push(out);
        }
        Ok(EncryptedScores { records: table.records(), scale, bound_bits, missing, chunk_records: table.chunk_records().to_vec(), chunks: per_modulus })
    }
}
