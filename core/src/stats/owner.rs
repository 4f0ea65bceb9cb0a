//! The owner side: decrypting results and finishing what needs division, square roots or the
//! sigmoid, with exact integers up to the last step.

use num_bigint::{BigInt, BigUint};
use num_traits::{One, ToPrimitive, Zero};

use super::row_eval::{EncryptedRowScores, EncryptedTotals};
use super::server::{EncryptedScores, EncryptedStat};
use super::table::ColumnInfo;
use super::{Stat, StatsContext, StatsSecretKey};
use crate::backend::Backend;
use crate::scheme::{Ciphertext, Decryptor};
use crate::Error;

/// A finished statistic.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatValue {
    /// The statistic.
    pub stat: String,
    /// The column.
    pub column: String,
    /// Values present in the column.
    pub count: usize,
    /// The value in the data's units.
    pub value: f64,
}

/// Decrypts statistics with the owner's secret keys.
pub struct StatsDecryptor<'a, B: Backend> {
    ctx: &'a StatsContext<B>,
    decs: Vec<Decryptor<'a, B>>,
}

impl<B: Backend> StatsContext<B> {
    /// The owner's decryptor.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] or [`Error::ParameterMismatch`] for keys of other parameters.
    pub fn decryptor<'a>(&'a self, sk: &'a StatsSecretKey) -> Result<StatsDecryptor<'a, B>, Error> {
        self.check_keys(&sk.keys, |k| k.params())?;
        let decs = self.schemes.iter().zip(&sk.keys).map(|(s, k)| s.decryptor(k)).collect::<Result<Vec<_>, _>>()?;
        Ok(StatsDecryptor { ctx: self, decs })
    }
}

/// `x / 10^digits` as the nearest `f64` of the exact rational.
fn scaled_to_f64(x: &BigInt, digits: u32) -> f64 {
    ratio_to_f64(x, &BigInt::from(10u32).pow(digits))
}

/// `num / den` (den > 0) to about 1 ulp: both are shifted so the quotient has 64 significant
/// bits before the conversion.
fn ratio_to_f64(num: &BigInt, den: &BigInt) -> f64 {
    if num.is_zero() {
        return 0.0;
    }
    let shift = 64 + den.bits() as i64 - num.bits() as i64;
    let q = if shift >= 0 { (num << shift as usize) / den } else { num / (den << (-shift) as usize) };
    q.to_f64().unwrap_or(f64::NAN) * 2f64.powi(-shift as i32)
}

impl<B: Backend> StatsDecryptor<'_, B> {
    /// The decrypted slots of `cts` (one ciphertext per plaintext modulus): `[modulus][slot]`.
    fn slot_residues(&self, cts: &[&Ciphertext<B>]) -> Result<Vec<Vec<u32>>, Error> {
        if cts.len() != self.decs.len() {
            return Err(Error::ShapeMismatch { what: "ciphertexts (one per plaintext modulus)", expected: self.decs.len(), found: cts.len() });
        }
        cts.iter().zip(&self.decs).zip(&self.ctx.encoders).map(|((c, d), e)| Ok(e.decode(&d.decrypt(c)?))).collect()
    }

    /// The CRT value of slot `j`, checked against `|x| ≤ bound` (see [`magnitude_bound`]).
    fn slot_value(&self, residues: &[Vec<u32>], j: usize, bound: &BigUint) -> Result<BigInt, Error> {
        let r: Vec<u32> = residues.iter().map(|v| v[j]).collect();
        self.ctx.params.space().decode_checked(&r, bound)
    }

    /// The per-slot CRT values of `cts` (one ciphertext per plaintext modulus, e.g. the
    /// `sum` of an [`EncryptedStat`]), each checked against `|x| < 2^bound_bits`: for
    /// inspecting what a result carries beyond its own slots.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a ciphertext count other than the moduli's; decryption
    /// errors; [`Error::PlaintextOverflow`] for a slot beyond the bound.
    pub fn slot_values(&self, cts: &[&Ciphertext<B>], bound_bits: u64) -> Result<Vec<BigInt>, Error> {
        let residues = self.slot_residues(cts)?;
        let bound = magnitude_bound(bound_bits);
        (0..self.ctx.params.n()).map(|j| self.slot_value(&residues, j, &bound)).collect()
    }

    /// A total: slot 0 holds it and every other slot is zero (a masked slot sum), or every
    /// slot holds it (an unmasked one); anything else is not a total. The form is checked on
    /// the residues; only slot 0 is recombined.
    fn total(&self, cts: &[Ciphertext<B>], bound_bits: u64) -> Result<BigInt, Error> {
        let residues = self.slot_residues(&cts.iter().collect::<Vec<_>>())?;
        let masked = residues.iter().all(|v| v[1..].iter().all(|&x| x == 0));
        if !masked {
            for v in &residues {
                if let Some(index) = v.iter().position(|&x| x != v[0]) {
                    return Err(Error::InvalidInput { what: format!("a total differs in slot {index}: the result is not a slot sum") });
                }
            }
        }
        self.slot_value(&residues, 0, &magnitude_bound(bound_bits))
    }

    /// Decrypts and finishes a statistic.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a statistic undefined on this count (a mean of nothing, a
    /// sample variance of one value) or a missing part; decryption errors
    /// ([`Error::NoiseBudgetExhausted`], [`Error::PlaintextOverflow`] if a value wrapped).
    pub fn finish(&self, r: &EncryptedStat<B>) -> Result<StatValue, Error> {
        let sum = r.sum.as_ref().map(|c| self.total(c, r.sum_bound_bits)).transpose()?;
        let squares = r.squares.as_ref().map(|c| self.total(c, r.squares_bound_bits)).transpose()?;
        finish_value(r.stat, &r.column, r.scale, sum.as_ref(), squares.as_ref())
    }

    /// The decrypted coefficients of one ciphertext per used modulus (the first
    /// `cts.len()`), `[modulus][coefficient]`.
    fn coefficient_residues(&self, cts: &[&Ciphertext<B>]) -> Result<Vec<Vec<u32>>, Error> {
        if cts.is_empty() || cts.len() > self.decs.len() {
            return Err(Error::ShapeMismatch { what: "ciphertexts (one per used plaintext modulus)", expected: self.decs.len(), found: cts.len() });
        }
        cts.iter().zip(&self.decs).map(|(c, d)| Ok(d.decrypt(c)?.coeffs().to_vec())).collect()
    }

    /// Decrypts row totals and finishes the requested statistics (any statistic but a
    /// weighted sum, of any column of the rows).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown column, a statistic needing squares the rows do
    /// not carry, or one undefined on the count; decryption errors
    /// ([`Error::NoiseBudgetExhausted`], [`Error::PlaintextOverflow`] if a total wrapped).
    pub fn totals(&self, t: &EncryptedTotals<B>, requests: &[(Stat, &str)]) -> Result<Vec<StatValue>, Error> {
        let space = self.ctx.params.prefix_space(t.plan.moduli)?;
        if t.totals.len() != t.plan.moduli {
            return Err(Error::ShapeMismatch { what: "totals (one per used plaintext modulus)", expected: t.plan.moduli, found: t.totals.len() });
        }
        let residues = self.coefficient_residues(&t.totals.iter().collect::<Vec<_>>())?;
        let value = |j: usize, bits: u64| -> Result<BigInt, Error> {
            let r: Vec<u32> = residues.iter().map(|v| v[j]).collect();
            space.decode_checked(&r, &magnitude_bound(bits))
        };
        let mut out = Vec::with_capacity(requests.len());
        for &(stat, name) in requests {
            let c = t.columns.iter().position(|c| c.name == name).ok_or_else(|| Error::InvalidInput { what: format!("no column {name:?} in these totals") })?;
            let info = &t.columns[c];
            let sum = if stat.needs_sum() { Some(value(t.sum_coefficient(c), super::server::sum_bits(info.count, u64::from(info.bound_bits)))?) } else { None };
            let squares = if stat.needs_squares() {
                let j = t.squares_coefficient(c).ok_or_else(|| Error::InvalidInput { what: format!("{stat} of {name:?} needs squares; these rows carry none") })?;
                Some(value(j, super::server::sum_bits(info.count, 2 * u64::from(info.bound_bits)))?)
            } else {
                None
            };
            if stat == Stat::WeightedSum {
                return Err(Error::InvalidInput { what: "row totals hold no weighted sum".into() });
            }
            out.push(finish_value(stat, info, info.decimals, sum.as_ref(), squares.as_ref())?);
        }
        Ok(out)
    }

    /// Decrypts row scores, in record order (`None` for records with a skipped cell in a
    /// model column).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for segments that do not fit their ciphertexts; decryption
    /// errors; [`Error::PlaintextOverflow`] if a score wrapped.
    pub fn row_scores(&self, s: &EncryptedRowScores<B>) -> Result<Vec<Option<f64>>, Error> {
        let n = self.ctx.params.n();
        let moduli = s.ciphertexts.len();
        let results = s.segments.len();
        let fits = s.ciphertexts.iter().all(|v| v.len() == results)
            && s.segments.iter().flatten().all(|g| g.records > 0 && g.first.checked_add((g.records - 1).saturating_mul(s.stride)).is_some_and(|last| last < n))
            && s.segments.iter().flatten().map(|g| g.records).sum::<usize>() == s.records;
        if !fits || moduli == 0 {
            return Err(Error::InvalidInput { what: format!("scores of {} records do not match their {results} ciphertexts", s.records) });
        }
        let space = self.ctx.params.prefix_space(moduli)?;
        let bound = magnitude_bound(s.bound_bits);
        let mut out = Vec::with_capacity(s.records);
        for (k, segs) in s.segments.iter().enumerate() {
            let cts: Vec<&Ciphertext<B>> = s.ciphertexts.iter().map(|per| &per[k]).collect();
            let residues = self.coefficient_residues(&cts)?;
            for g in segs {
                for r in 0..g.records {
                    let j = g.first + r * s.stride;
                    let x = space.decode_checked(&residues.iter().map(|v| v[j]).collect::<Vec<_>>(), &bound)?;
                    let record = out.len();
                    out.push(if s.missing.binary_search(&record).is_ok() { None } else { Some(scaled_to_f64(&x, s.scale)) });
                }
            }
        }
        Ok(out)
    }

    /// Decrypts per-record scores, in record order (`None` for records with a skipped cell
    /// in a model column).
    ///
    /// # Errors
    /// Decryption errors; [`Error::PlaintextOverflow`] if a score wrapped.
    pub fn scores(&self, s: &EncryptedScores<B>) -> Result<Vec<Option<f64>>, Error> {
        let n = self.ctx.params.n();
        let chunks = s.chunk_records.len();
        if s.chunks.iter().any(|per| per.len() != chunks) || s.chunk_records.iter().any(|&r| r > n) || s.chunk_records.iter().sum::<usize>() != s.records {
            return Err(Error::InvalidInput { what: format!("scores of {} records do not match their {chunks} chunks", s.records) });
        }
        let mut out = Vec::with_capacity(s.records);
        let bound = magnitude_bound(s.bound_bits);
        for (c, &here) in s.chunk_records.iter().enumerate() {
            let cts: Vec<&Ciphertext<B>> = s.chunks.iter().map(|per| &per[c]).collect();
            let residues = self.slot_residues(&cts)?;
            for j in 0..here {
                let x = self.slot_value(&residues, j, &bound)?;
                let record = out.len();
                out.push(if s.missing.binary_search(&record).is_ok() { None } else { Some(scaled_to_f64(&x, s.scale)) });
            }
        }
        Ok(out)
    }
}

/// A statistic from its exact totals (`sum` = `Σx`, `squares` = `Σx²` at scale `scale` and
/// `2·scale`) over `column.count` values.
fn finish_value(stat: Stat, column: &ColumnInfo, scale: u32, sum: Option<&BigInt>, squares: Option<&BigInt>) -> Result<StatValue, Error> {
    let n = column.count;
    let missing = |what: &str| Error::InvalidInput { what: format!("the result of {stat} lacks {what}") };
    let need = |min: usize| {
        if n < min {
            Err(Error::InvalidInput { what: format!("{stat} of {:?} needs at least {min} values, the column has {n}", column.name) })
        } else {
            Ok(())
        }
    };
    let d = scale;
    let value = match stat {
        Stat::Count => n as f64,
        Stat::Sum | Stat::WeightedSum => scaled_to_f64(sum.ok_or_else(|| missing("Σx"))?, d),
        Stat::SumOfSquares => scaled_to_f64(squares.ok_or_else(|| missing("Σx²"))?, 2 * d),
        Stat::Mean => {
            need(1)?;
            ratio_to_f64(sum.ok_or_else(|| missing("Σx"))?, &(BigInt::from(n) * BigInt::from(10u32).pow(d)))
        }
        Stat::Variance | Stat::Stddev | Stat::SampleVariance | Stat::SampleStddev => {
            let sample = matches!(stat, Stat::SampleVariance | Stat::SampleStddev);
            need(if sample { 2 } else { 1 })?;
            let (s, q) = (sum.ok_or_else(|| missing("Σx"))?, squares.ok_or_else(|| missing("Σx²"))?);
            // N·Σx² − (Σx)² ≥ 0 exactly; divided by N² (or N(N − 1)) and 10^(2d).
            let numerator = BigInt::from(n) * q - s * s;
            let per = if sample { BigInt::from(n) * BigInt::from(n - 1) } else { BigInt::from(n) * BigInt::from(n) };
            let variance = ratio_to_f64(&numerator, &(per * BigInt::from(10u32).pow(2 * d)));
            if matches!(stat, Stat::Stddev | Stat::SampleStddev) { variance.sqrt() } else { variance }
        }
    };
    Ok(StatValue { stat: stat.name().to_string(), column: column.name.clone(), count: n, value })
}

/// The largest magnitude below `2^bits`.
fn magnitude_bound(bits: u64) -> BigUint {
    (BigUint::one() << bits) - 1u32
}

/// The logistic function `1 / (1 + e^(−x))`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
