//! Row-packed tables: the layout of records sent one at a time (a vault's monitors).
//!
//! A record's `C` columns, and for variances their squares (computed by the encrypting
//! device, which holds the plaintext), are consecutive **coefficients** of one plaintext
//! polynomial per plaintext modulus: record `r` of a ciphertext at coefficients
//! `r·S … r·S + S − 1`, stride `S = C` or `2C` (values, then squares), `⌊n/S⌋` records per
//! ciphertext. Everything the server computes on this layout is additions and products with
//! small plaintexts and monomials: no relinearization, no rotation, no evaluation key.
//!
//! - Totals: the ciphertexts are added; multiplying by `x^(−j·S)` moves record `j` onto
//!   record 0 without noise, so `⌈log₂ R⌉` doublings fold the `R` records of a ciphertext:
//!   coefficient `c` then holds `Σx_c` and coefficient `C + c` holds `Σx_c²`.
//! - Scores: the product with `w(x) = Σ_c w_c·x^(−c)` puts `b + Σ_c w_c·x_{r,c}` at coefficient
//!   `r·S` of every record at once.
//! - Only the first `k` plaintext moduli are used, as many as the declared ranges and record
//!   count need ([`RowPlan`]), and the device switches its fresh ciphertexts down to the lowest
//!   level the computations need: a one-record upload of nine columns at n = 8192 is about
//!   340 kB instead of 14 MB column by column.
//!
//! Coefficients other than the ones read are partial sums of the owner's own records: a
//! result reveals nothing to the server and nothing to the owner that is not theirs.

use num_bigint::BigUint;
use num_traits::One;
use rand_core::{CryptoRng, RngCore};

use super::table::ColumnInfo;
use super::{PlainColumn, StatsContext, StatsParameters};
use crate::backend::Backend;
use crate::encoding::CrtPlaintextSpace;
use crate::scheme::{Ciphertext, Encryptor, Plaintext, PublicKey};
use crate::Error;

/// Extra bits of noise budget a row plan keeps beyond the model's estimate.
const ROW_NOISE_MARGIN_BITS: f64 = 2.0;

/// Bits of a positive integer `x` (`x < 2^bits`).
fn bits_of_u64(x: u64) -> u64 {
    u64::from(u64::BITS - x.leading_zeros())
}

/// What a row-packed dataset holds and computes: its columns' bounds, its largest record
/// count, and whether it needs squares (variances) and scores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowSpec {
    /// Per column, `|x·10^d| < 2^bound_bits`.
    pub bounds: Vec<u32>,
    /// The most records any computation sums (the dataset's declared capacity).
    pub max_records: u64,
    /// Whether records carry their squares (variances, standard deviations).
    pub squares: bool,
    /// Whether logistic scores are computed.
    pub scores: bool,
}

/// The shape of row-packed ciphertexts: how many plaintext moduli, at which level, with or
/// without squares. Part of every upload's public metadata, checked on load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowPlan {
    /// Plaintext moduli used: the first `moduli` of the space.
    pub moduli: usize,
    /// Ciphertext level (primes `q₀ … q_{level−1}`).
    pub level: usize,
    /// Whether each record carries its squares.
    pub squares: bool,
    /// Whether a fresh encryption directly at `level` has the noise budget (devices then
    /// encrypt there, two to three times faster than at the top level switched down, which
    /// leaves 4–5 bits less noise).
    #[serde(default)]
    pub direct: bool,
}

impl RowPlan {
    /// `pts` encrypted as one batch at the plan's level: directly there when the plan is
    /// `direct`, else at the top level and switched down (what every row upload does).
    ///
    /// # Errors
    /// Encryption and modulus-switching errors.
    pub fn encrypt<B: Backend, R: RngCore + CryptoRng>(&self, encryptor: &crate::scheme::Encryptor<'_, B>, pts: &[&Plaintext], rng: &mut R) -> Result<Ciphertext<B>, Error> {
        if self.direct {
            return encryptor.encrypt_many_at_level(pts, self.level, rng);
        }
        let mut batch = encryptor.encrypt_many(pts, rng)?;
        let arithmetic = encryptor.scheme().arithmetic();
        while batch.level() > self.level {
            arithmetic.mod_switch_assign(&mut batch)?;
        }
        Ok(batch)
    }

    /// Coefficients per record: `C`, or `2C` with squares.
    pub fn stride(&self, columns: usize) -> usize {
        if self.squares { 2 * columns } else { columns }
    }
}

/// Bits a plaintext space needs for logistic scores over columns of these bounds, whatever
/// the model's weights, to be exact to 10⁻⁶ of the model's range (the score scale adapts to
/// the space: see `StatsEvaluator::logistic_scores`): `bitlen(Σ 2^b_c + 1) + 23`, as the
/// scale's decimal step and the rounding of the weights need `10·½·10⁶ < 2^23` units.
pub fn score_capacity_bits(bounds: &[u32]) -> u64 {
    let sum: BigUint = bounds.iter().fold(BigUint::one(), |acc, &b| acc + (BigUint::one() << b));
    sum.bits() + 23
}

impl StatsParameters {
    /// Magnitudes below `2^bits` are exact in the space of the first `k` moduli.
    pub fn prefix_capacity_bits(&self, k: usize) -> u64 {
        let product = self.moduli().iter().take(k).fold(BigUint::one(), |acc, &t| acc * t);
        ((product - 1u32) >> 1u32).bits().saturating_sub(1)
    }

    /// The CRT space of the first `k` moduli.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for `k` outside `1..=moduli`.
    pub fn prefix_space(&self, k: usize) -> Result<CrtPlaintextSpace, Error> {
        self.space.prefix(k)
    }

    /// The smallest plan for `spec`: the fewest moduli whose space holds every sum, sum of
    /// squares and score, and the lowest level at which, by the noise model, a fresh
    /// ciphertext switched down there still decrypts after the dataset's computations (a sum
    /// of `max_records` records; a product with a model's weights, compacted).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no column; [`Error::WouldWrap`] when no prefix of the space
    /// is wide enough; [`Error::NoPresetFits`] when no level has the noise budget.
    pub fn row_plan(&self, spec: &RowSpec) -> Result<RowPlan, Error> {
        let columns = spec.bounds.len();
        let widest = u64::from(spec.bounds.iter().copied().max().ok_or_else(|| Error::InvalidInput { what: "a row layout needs at least one column".into() })?);
        let records = spec.max_records.max(1);
        let mut need = widest + bits_of_u64(records);
        if spec.squares {
            need = need.max(2 * widest + bits_of_u64(records));
        }
        if spec.scores {
            need = need.max(score_capacity_bits(&spec.bounds));
        }
        let k = self.moduli().len();
        let moduli = (1..=k).find(|&m| self.prefix_capacity_bits(m) >= need).ok_or_else(|| Error::WouldWrap {
            what: format!("sums over {records} records of these ranges"),
            needed_bits: need,
            capacity_bits: self.prefix_capacity_bits(k),
        })?;
        let plan = RowPlan { moduli, level: 0, squares: spec.squares, direct: false };
        let stride = plan.stride(columns);
        let n = self.n();
        // One-record products take S + C − 1 coefficients when compacted.
        let packed = (n / (stride + columns - 1)).max(1) as u64;
        // Whether ciphertexts of noise `noise` at level `l` of `p` survive the computations.
        let fits = |p: &crate::scheme::Parameters, noise: f64, l: usize| {
            let model = p.noise();
            let sums = model.after_additions(noise, records);
            let scores = if spec.scores { model.after_additions(noise + weights_growth_bits(columns, p.plaintext().value()), packed) } else { 0.0 };
            model.decryptable(sums.max(scores) + ROW_NOISE_MARGIN_BITS, l)
        };
        let used = &self.space.params()[..moduli];
        let mut level = 0;
        for p in used {
            let l = (1..=p.max_level()).find(|&l| fits(p, switched_noise_bits(p, l), l)).ok_or(Error::NoPresetFits { additions: records, depth: 0, t: p.plaintext().value() })?;
            level = level.max(l);
        }
        let direct = used.iter().all(|p| fits(p, p.noise().fresh_bits(), level));
        Ok(RowPlan { level, direct, ..plan })
    }
}

/// By the noise model, the noise (bits) of a fresh public-key ciphertext of `p` switched down
/// from the top level to `level`.
pub(crate) fn switched_noise_bits(p: &crate::scheme::Parameters, level: usize) -> f64 {
    let model = p.noise();
    let mut noise = model.fresh_bits();
    for l in (level + 1..=p.max_level()).rev() {
        noise = model.after_mod_switch(noise, l);
    }
    noise
}

/// Bits of `Σ|cᵢ|` for the centered residues a weight polynomial multiplies by: the noise
/// growth of that product.
pub(crate) fn weights_growth_bits(columns: usize, t: u32) -> f64 {
    ((columns as f64) * f64::from(t) / 2.0).log2()
}

/// A row-packed encrypted table: `ciphertexts[i][c]` is chunk `c` under plaintext modulus
/// `i < plan.moduli`, holding `chunk_records[c]` records.
#[derive(Debug)]
pub struct EncryptedRows<B: Backend> {
    pub(crate) plan: RowPlan,
    pub(crate) columns: Vec<ColumnInfo>,
    pub(crate) chunk_records: Vec<usize>,
    pub(crate) ciphertexts: Vec<Vec<Ciphertext<B>>>,
}

impl<B: Backend> EncryptedRows<B> {
    /// The plan the rows were encrypted under.
    pub fn plan(&self) -> RowPlan {
        self.plan
    }
    /// The columns' public descriptions, in row order.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }
    /// Records in each chunk.
    pub fn chunk_records(&self) -> &[usize] {
        &self.chunk_records
    }
    /// Number of records.
    pub fn records(&self) -> usize {
        self.chunk_records.iter().sum()
    }
    /// `ciphertexts()[modulus][chunk]`.
    pub fn ciphertexts(&self) -> &[Vec<Ciphertext<B>>] {
        &self.ciphertexts
    }
    /// Raises every column's bound to the declared one (a vault's schema bounds, which every
    /// upload was checked against), so that computations over any selection of uploads use the
    /// same fixed point.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for another column count or a column already above its bound.
    pub fn widen_bounds(&mut self, bounds: &[u32]) -> Result<(), Error> {
        if bounds.len() != self.columns.len() {
            return Err(Error::InvalidInput { what: format!("{} bounds for {} columns", bounds.len(), self.columns.len()) });
        }
        for (c, &b) in self.columns.iter_mut().zip(bounds) {
            if c.bound_bits > b {
                return Err(Error::InvalidInput { what: format!("column {:?}: values up to 2^{} exceed the declared 2^{b}", c.name, c.bound_bits) });
            }
            c.bound_bits = b;
        }
        Ok(())
    }

    /// Hands every ciphertext's memory back to the backend ([`Ciphertext::recycle`]), once
    /// the rows are serialized.
    pub fn recycle(self, backend: &B) {
        self.ciphertexts.into_iter().flatten().for_each(|c| c.recycle(backend));
    }

    /// The parts: plan, columns, records per chunk, ciphertexts `[modulus][chunk]`.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(self) -> (RowPlan, Vec<ColumnInfo>, Vec<usize>, Vec<Vec<Ciphertext<B>>>) {
        (self.plan, self.columns, self.chunk_records, self.ciphertexts)
    }
}

impl<B: Backend> StatsContext<B> {
    /// Records per row-packed ciphertext of `columns` columns under `plan`: `⌊n / S⌋`.
    pub fn rows_per_ciphertext(&self, plan: &RowPlan, columns: usize) -> usize {
        self.params.n() / plan.stride(columns).max(1)
    }

    fn check_plan(&self, plan: &RowPlan, columns: usize) -> Result<(), Error> {
        let top = self.schemes.first().map_or(0, |s| s.params().max_level());
        if plan.moduli == 0 || plan.moduli > self.schemes.len() || plan.level == 0 || plan.level > top {
            return Err(Error::InvalidInput { what: format!("a row plan of {} moduli at level {} does not fit {} moduli and {top} levels", plan.moduli, plan.level, self.schemes.len()) });
        }
        if columns == 0 || plan.stride(columns) > self.params.n() {
            return Err(Error::InvalidInput { what: format!("{columns} columns do not fit a row of {} coefficients", self.params.n()) });
        }
        Ok(())
    }

    /// Encrypts records row-packed under `plan` with the public keys (one per modulus; only
    /// the first `plan.moduli` are used): chunks of [`Self::rows_per_ciphertext`] records,
    /// encrypted directly at `plan.level` when the plan allows it (`direct`), else at the top
    /// level and switched down (the switch leaves only its rounding noise, less than a fresh
    /// encryption at that level).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no column or record, columns of different lengths,
    /// duplicate names, or a value (or its square) beyond the plan's space;
    /// [`Error::ParameterMismatch`] for foreign keys.
    pub fn encrypt_rows<R: RngCore + CryptoRng>(&self, public: &[&PublicKey], columns: &[PlainColumn], plan: &RowPlan, rng: &mut R) -> Result<EncryptedRows<B>, Error> {
        let records = super::table::plain_records(columns)?;
        self.encrypt_rows_range(public, columns, 0..records, plan, rng)
    }

    /// [`Self::encrypt_rows`] of the records `range` of `columns` only (an upload of a larger
    /// table, read in place rather than copied out).
    ///
    /// # Errors
    /// As [`Self::encrypt_rows`]; [`Error::InvalidInput`] for an empty range or one beyond
    /// the columns' records.
    pub fn encrypt_rows_range<R: RngCore + CryptoRng>(&self, public: &[&PublicKey], columns: &[PlainColumn], range: std::ops::Range<usize>, plan: &RowPlan, rng: &mut R) -> Result<EncryptedRows<B>, Error> {
        self.check_keys(public, |k| k.params())?;
        let encryptors = self.schemes.iter().zip(public).take(plan.moduli).map(|(s, pk)| s.encryptor(pk)).collect::<Result<Vec<_>, _>>()?;
        self.encrypt_rows_with(&encryptors, columns, range, plan, rng)
    }

    /// [`Self::encrypt_rows_range`] with encryptors made by this context's schemes, one per
    /// plaintext modulus the plan uses, in order: encryptors that share their keys' device
    /// forms ([`Scheme::encryptor_sharing`](crate::scheme::Scheme::encryptor_sharing))
    /// upload no key per call.
    ///
    /// # Errors
    /// As [`Self::encrypt_rows_range`]; [`Error::ParameterMismatch`] for an encryptor of
    /// another scheme or fewer encryptors than the plan's moduli.
    pub fn encrypt_rows_with<R: RngCore + CryptoRng>(&self, encryptors: &[Encryptor<'_, B>], columns: &[PlainColumn], range: std::ops::Range<usize>, plan: &RowPlan, rng: &mut R) -> Result<EncryptedRows<B>, Error> {
        self.check_plan(plan, columns.len())?;
        if encryptors.len() < plan.moduli || encryptors.iter().zip(&self.schemes).any(|(e, s)| !std::ptr::eq(e.scheme(), s)) {
            return Err(Error::ParameterMismatch);
        }
        let all = super::table::plain_records(columns)?;
        if range.is_empty() || range.end > all {
            return Err(Error::InvalidInput { what: format!("records {range:?} of a table of {all}") });
        }
        let records = range.len();
        let capacity = self.params.prefix_capacity_bits(plan.moduli);
        let width = columns.len();
        let stride = plan.stride(width);
        let per = self.rows_per_ciphertext(plan, width);
        let mut infos = Vec::with_capacity(width);
        for c in columns {
            let max = c.values[range.clone()].iter().flatten().map(|v| v.unsigned_abs()).max().unwrap_or(0);
            let bound_bits = 128 - max.leading_zeros();
            let widest = if plan.squares { 2 * u64::from(bound_bits) } else { u64::from(bound_bits) };
            if widest > capacity {
                return Err(Error::InvalidInput { what: format!("column {:?}: values up to 2^{bound_bits} exceed the {capacity}-bit space of this plan", c.name) });
            }
            let missing: Vec<usize> = c.values[range.clone()].iter().enumerate().filter(|(_, v)| v.is_none()).map(|(j, _)| j).collect();
            infos.push(ColumnInfo { name: c.name.clone(), decimals: c.decimals, count: records - missing.len(), bound_bits, missing });
        }
        let chunk_records: Vec<usize> = (0..records.div_ceil(per)).map(|k| (records - k * per).min(per)).collect();
        let n = self.params.n();
        // Batches as large as the backend gains from (one ciphertext at a time on the CPU).
        let per_batch = (self.schemes[0].backend().caps().efficient_batch_residues / (plan.level * n)).max(1);
        let schemes = &self.schemes[..plan.moduli];
        let moduli: Vec<_> = schemes.iter().map(|s| s.params().plaintext()).collect();
        // A column whose magnitudes lie below every modulus (public: its bound is in the
        // file) needs no reduction of its values, only of their squares.
        let small: Vec<bool> = infos.iter().map(|i| i.bound_bits < 31 && moduli.iter().all(|t| 1u32 << i.bound_bits <= t.value())).collect();
        let slots = Slots { width, stride, squares: plan.squares };
        let mut ciphertexts: Vec<Vec<Ciphertext<B>>> = schemes.iter().map(|_| Vec::with_capacity(chunk_records.len())).collect();
        // One batch of chunks at a time: their plaintexts under every modulus are packed
        // into the same buffers (each value read once), then encrypted modulus by modulus.
        let mut buffers: Vec<Vec<Plaintext>> = schemes.iter().map(|s| (0..per_batch.min(chunk_records.len())).map(|_| Plaintext::zero(s.params())).collect()).collect();
        for (b, group) in chunk_records.chunks(per_batch).enumerate() {
            for (k, &here) in group.iter().enumerate() {
                let first = range.start + (b * per_batch + k) * per;
                let mut coeffs: Vec<&mut [u32]> = buffers.iter_mut().map(|pts| pts[k].coeffs.as_mut_slice()).collect();
                for (c, col) in columns.iter().enumerate() {
                    pack_column(&col.values[first..first + here], c, slots, small[c], &moduli, &mut coeffs);
                }
                // Past the last record (a ragged chunk, or a stride that leaves a tail).
                coeffs.iter_mut().for_each(|p| p[here * stride..].fill(0));
            }
            for (((scheme, encryptor), pts), cts) in schemes.iter().zip(encryptors).zip(&buffers).zip(&mut ciphertexts) {
                let refs: Vec<&Plaintext> = pts[..group.len()].iter().collect();
                cts.extend(scheme.unstack(plan.encrypt(encryptor, &refs, rng)?)?);
            }
        }
        Ok(EncryptedRows { plan: *plan, columns: infos, chunk_records, ciphertexts })
    }

    /// Reassembles rows from their parts (as loaded from a file), checking the shape: one
    /// ciphertext per used modulus and chunk, of these parameters, at the plan's level, with
    /// no chunk empty or overfull and metadata that adds up.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for parts that do not fit; [`Error::ParameterMismatch`].
    pub fn rows_from_parts(&self, plan: RowPlan, columns: Vec<ColumnInfo>, chunk_records: Vec<usize>, ciphertexts: Vec<Vec<Ciphertext<B>>>) -> Result<EncryptedRows<B>, Error> {
        self.check_plan(&plan, columns.len())?;
        let per = self.rows_per_ciphertext(&plan, columns.len());
        if chunk_records.is_empty() || chunk_records.iter().any(|&r| r == 0 || r > per) {
            return Err(Error::InvalidInput { what: format!("every chunk holds 1 to {per} records") });
        }
        let records: usize = chunk_records.iter().sum();
        let capacity = self.params.prefix_capacity_bits(plan.moduli);
        for c in &columns {
            let widest = if plan.squares { 2 * u64::from(c.bound_bits) } else { u64::from(c.bound_bits) };
            let sorted = c.missing.windows(2).all(|w| w[0] < w[1]);
            if widest > capacity || !sorted || c.missing.last().is_some_and(|&m| m >= records) || c.count + c.missing.len() != records {
                return Err(Error::InvalidInput { what: format!("column {:?}: inconsistent metadata", c.name) });
            }
        }
        if ciphertexts.len() != plan.moduli || ciphertexts.iter().any(|v| v.len() != chunk_records.len()) {
            return Err(Error::InvalidInput { what: format!("expected {} moduli × {} chunks of ciphertexts", plan.moduli, chunk_records.len()) });
        }
        for (cts, s) in ciphertexts.iter().zip(&self.schemes) {
            if cts.iter().any(|c| c.params().literal() != s.params().literal() || c.count() != 1 || c.len() != 2 || c.level() != plan.level) {
                return Err(Error::ParameterMismatch);
            }
        }
        Ok(EncryptedRows { plan, columns, chunk_records, ciphertexts })
    }

    /// Appends row tables of the same plan and columns (name and decimals): chunks follow
    /// one another, records are numbered across the parts, counts add up and bounds take the
    /// largest.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no part or parts that differ.
    pub fn concat_rows(&self, parts: Vec<EncryptedRows<B>>) -> Result<EncryptedRows<B>, Error> {
        let mut iter = parts.into_iter();
        let mut acc = iter.next().ok_or_else(|| Error::InvalidInput { what: "no rows to append".into() })?;
        for p in iter {
            let same = p.plan == acc.plan && p.columns.len() == acc.columns.len() && p.columns.iter().zip(&acc.columns).all(|(a, b)| a.name == b.name && a.decimals == b.decimals);
            if !same {
                return Err(Error::InvalidInput { what: "appended rows must have the same plan, columns and decimals".into() });
            }
            let offset = acc.records();
            merge_columns(&mut acc.columns, &p.columns, offset);
            for (a, b) in acc.ciphertexts.iter_mut().zip(p.ciphertexts) {
                a.extend(b);
            }
            acc.chunk_records.extend(p.chunk_records);
        }
        Ok(acc)
    }
}

/// Appends the descriptions of `next`'s columns (records numbered from `offset`) to `acc`'s:
/// counts add up, bounds take the largest, skipped records follow. Preconditions: the same
/// columns in the same order.
pub(crate) fn merge_columns(acc: &mut [ColumnInfo], next: &[ColumnInfo], offset: usize) {
    for (a, b) in acc.iter_mut().zip(next) {
        a.count += b.count;
        a.bound_bits = a.bound_bits.max(b.bound_bits);
        a.missing.extend(b.missing.iter().map(|m| m + offset));
    }
}

/// Where a record's values lie in a plaintext: column `c` of record `r` at `r·stride + c`,
/// its square at `+ width` when `squares`.
#[derive(Clone, Copy)]
struct Slots {
    width: usize,
    stride: usize,
    squares: bool,
}

/// Writes one column's values of a chunk (at `slots`) into the plaintext of each modulus; a
/// missing value is 0. `small`: every magnitude lies below every modulus, so only squares
/// need reducing. Branch-free in the values (each path is chosen by the column's public
/// bound).
fn pack_column(values: &[Option<i128>], c: usize, slots: Slots, small: bool, moduli: &[&crate::zq::Modulus], coeffs: &mut [&mut [u32]]) {
    let Slots { width, stride, squares } = slots;
    for (r, v) in values.iter().enumerate() {
        let at = r * stride + c;
        let v = v.unwrap_or(0);
        if small {
            // |v| < t < 2^31: its residue is |v| or t − |v|, and v² < 2^62 is exact.
            let a = v.unsigned_abs() as u32;
            let negative = 0u32.wrapping_sub(u32::from(v < 0));
            let square = u64::from(a) * u64::from(a);
            for (t, p) in moduli.iter().zip(coeffs.iter_mut()) {
                p[at] = (t.neg(a) & negative) | (a & !negative);
                if squares {
                    p[at + width] = t.reduce_u64(square);
                }
            }
        } else {
            for (t, p) in moduli.iter().zip(coeffs.iter_mut()) {
                let x = super::residue_of(v, t);
                p[at] = x;
                if squares {
                    // v² ≡ (v mod t)² (mod t).
                    p[at + width] = t.mul(x, x);
                }
            }
        }
    }
}


#[cfg(test)]
mod tests {
    use super::{Slots, pack_column};
    use crate::zq::Modulus;

    #[test]
    fn both_packing_paths_give_the_residues_of_values_and_squares() {
        let moduli = [Modulus::new(65537).unwrap(), Modulus::new(786433).unwrap()];
        let refs: Vec<&Modulus> = moduli.iter().collect();
        let values = [Some(0i128), Some(1), Some(-1), Some(65535), Some(-65535), None, Some(-7)];
        let (width, stride) = (2, 4);
        for small in [true, false] {
            let mut bufs = vec![vec![u32::MAX; values.len() * stride]; 2];
            let mut coeffs: Vec<&mut [u32]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
            pack_column(&values, 1, Slots { width, stride, squares: true }, small, &refs, &mut coeffs);
            for (t, buf) in moduli.iter().zip(&bufs) {
                let q = i128::from(t.value());
                for (r, v) in values.iter().enumerate() {
                    let v = v.unwrap_or(0);
                    assert_eq!(i128::from(buf[r * stride + 1]), v.rem_euclid(q), "value {v} mod {q}, small {small}");
                    assert_eq!(i128::from(buf[r * stride + 1 + width]), (v * v).rem_euclid(q), "square of {v} mod {q}");
                    // Other columns' slots untouched.
                    assert_eq!(buf[r * stride], u32::MAX);
                }
            }
        }
        // Beyond every modulus (and beyond 64 bits): the general path.
        let wide = [Some(1i128 << 70), Some(-(1i128 << 40) - 3), Some(i128::from(i64::MIN))];
        let mut bufs = vec![vec![0u32; wide.len()]; 2];
        let mut coeffs: Vec<&mut [u32]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
        pack_column(&wide, 0, Slots { width: 1, stride: 1, squares: false }, false, &refs, &mut coeffs);
        for (t, buf) in moduli.iter().zip(&bufs) {
            let q = i128::from(t.value());
            assert!(wide.iter().zip(buf).all(|(v, &x)| i128::from(x) == v.unwrap_or(0).rem_euclid(q)));
        }
    }
}
