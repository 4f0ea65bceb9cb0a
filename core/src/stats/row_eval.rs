//! The server side of row-packed records ([`super::rows`]): totals and scores with no key at
//! all, only additions and products with monomials and small plaintexts.

use std::collections::BTreeMap;

use super::rows::{EncryptedRows, RowPlan};
use super::server::{centered_residue, fixed_model, residue, sum_bits};
use super::table::ColumnInfo;
use super::{LogisticModel, StatsContext};
use crate::backend::Backend;
use crate::scheme::{Ciphertext, Evaluator, Plaintext, PreparedPlaintext};
use crate::Error;

/// Encrypted totals of row-packed records, one ciphertext per used plaintext modulus:
/// coefficient `c` holds `Σx_c` and, with squares, coefficient `C + c` holds `Σx_c²` (see
/// [`Self::sum_coefficient`]). Every statistic of every column follows from it.
#[derive(Debug)]
pub struct EncryptedTotals<B: Backend> {
    /// The plan of the rows summed.
    pub plan: RowPlan,
    /// The columns (counts and bounds over the records summed).
    pub columns: Vec<ColumnInfo>,
    /// One ciphertext per used modulus.
    pub totals: Vec<Ciphertext<B>>,
}

impl<B: Backend> EncryptedTotals<B> {
    /// The coefficient of column `c`'s `Σx`.
    pub fn sum_coefficient(&self, c: usize) -> usize {
        c
    }
    /// The coefficient of column `c`'s `Σx²`, when the rows carry squares.
    pub fn squares_coefficient(&self, c: usize) -> Option<usize> {
        self.plan.squares.then(|| self.columns.len() + c)
    }
}

/// Where one chunk's scores lie in a result ciphertext: record `r` of the segment at
/// coefficient `first + r·stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSegment {
    /// The coefficient of the segment's first record.
    pub first: usize,
    /// Records in the segment.
    pub records: usize,
}

/// Encrypted per-record scores of row-packed records: `ciphertexts[modulus][result]`, the
/// records of `segments[result]` in order; fixed point with `scale` decimals.
#[derive(Debug)]
pub struct EncryptedRowScores<B: Backend> {
    /// Number of records.
    pub records: usize,
    /// Decimal digits of the scores.
    pub scale: u32,
    /// `|score·10^scale| < 2^bound_bits`.
    pub bound_bits: u64,
    /// Records with a skipped cell in a model column.
    pub missing: Vec<usize>,
    /// Coefficients between consecutive records of a segment.
    pub stride: usize,
    /// Per result ciphertext, its segments in record order.
    pub segments: Vec<Vec<ScoreSegment>>,
    /// `ciphertexts[modulus][result]`.
    pub ciphertexts: Vec<Vec<Ciphertext<B>>>,
}

/// Budget kept beyond the noise model's estimate when switching scores down.
const SCORE_SWITCH_MARGIN_BITS: f64 = 2.0;

/// `x^(−k)` as the exponent `mul_monomial_assign` takes (`x^(2n) = 1`).
fn inverse_monomial(k: usize, n: usize) -> usize {
    (2 * n - k % (2 * n)) % (2 * n)
}

/// Folds the `records` records of `ct` (stride `stride`) onto record 0: afterwards
/// coefficient `c < stride` is `Σ_{j<records} a_{c + j·stride}`. `⌈log₂ records⌉` doublings
/// by monomials (no noise); coefficients past the last record's never wrap into the ones read.
fn fold<B: Backend>(ev: &Evaluator<'_, B>, ct: Ciphertext<B>, records: usize, stride: usize, n: usize) -> Result<Ciphertext<B>, Error> {
    let (mut cur, mut span, mut done, mut left) = (ct, 1usize, 0usize, records);
    let mut out: Option<Ciphertext<B>> = None;
    loop {
        if left & 1 == 1 {
            let mut part = ev.duplicate(&cur)?;
            if done > 0 {
                ev.mul_monomial_assign(&mut part, inverse_monomial(done * stride, n))?;
            }
            match out.as_mut() {
                Some(o) => ev.add_assign(o, &part)?,
                None => out = Some(part),
            }
            done += span;
        }
        left >>= 1;
        if left == 0 {
            break;
        }
        let mut moved = ev.duplicate(&cur)?;
        ev.mul_monomial_assign(&mut moved, inverse_monomial(span * stride, n))?;
        ev.add_assign(&mut cur, &moved)?;
        span *= 2;
    }
    out.ok_or(Error::ShapeMismatch { what: "records to fold", expected: 1, found: 0 })
}

impl<B: Backend> StatsContext<B> {
    fn check_row_capacity(&self, plan: &RowPlan, what: &str, bits: u64) -> Result<(), Error> {
        let capacity = self.params.prefix_capacity_bits(plan.moduli);
        if bits > capacity {
            return Err(Error::WouldWrap { what: what.to_string(), needed_bits: bits, capacity_bits: capacity });
        }
        Ok(())
    }

    /// The totals of every column (and of their squares) over all records, keyless: chunks
    /// holding the same number of records are added, then folded once per such group (so
    /// the noise grows with the record count, not with chunks × records per chunk).
    ///
    /// # Errors
    /// [`Error::WouldWrap`] when a sum or sum of squares could exceed the plan's space;
    /// evaluation errors.
    pub fn row_totals(&self, rows: &EncryptedRows<B>) -> Result<EncryptedTotals<B>, Error> {
        let plan = rows.plan;
        self.check_totals_capacity(&plan, &rows.columns)?;
        let n = self.params.n();
        let stride = plan.stride(rows.columns.len());
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (k, &r) in rows.chunk_records.iter().enumerate() {
            groups.entry(r).or_default().push(k);
        }
        let mut totals = Vec::with_capacity(plan.moduli);
        for (scheme, cts) in self.schemes.iter().zip(&rows.ciphertexts) {
            let ev = scheme.arithmetic();
            let mut acc: Option<Ciphertext<B>> = None;
            for (&records, chunks) in &groups {
                let mut sum = ev.duplicate(&cts[chunks[0]])?;
                for &k in &chunks[1..] {
                    ev.add_assign(&mut sum, &cts[k])?;
                }
                let folded = fold(&ev, sum, records, stride, n)?;
                match acc.as_mut() {
                    Some(a) => ev.add_assign(a, &folded)?,
                    None => acc = Some(folded),
                }
            }
            totals.push(acc.ok_or(Error::ShapeMismatch { what: "chunks", expected: 1, found: 0 })?);
        }
        Ok(EncryptedTotals { plan, columns: rows.columns.clone(), totals })
    }

    fn check_totals_capacity(&self, plan: &RowPlan, columns: &[ColumnInfo]) -> Result<(), Error> {
        for c in columns {
            self.check_row_capacity(plan, &format!("sum of {:?}", c.name), sum_bits(c.count, u64::from(c.bound_bits)))?;
            if plan.squares {
                self.check_row_capacity(plan, &format!("sum of squares of {:?}", c.name), sum_bits(c.count, 2 * u64::from(c.bound_bits)))?;
            }
        }
        Ok(())
    }

    /// The totals of two disjoint sets of records of the same plan and columns (rows summed
    /// part by part as they stream in), rechecked against the space.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for totals that differ in plan or columns; [`Error::WouldWrap`];
    /// evaluation errors.
    pub fn add_totals(&self, mut acc: EncryptedTotals<B>, next: EncryptedTotals<B>) -> Result<EncryptedTotals<B>, Error> {
        let same = acc.plan == next.plan && acc.columns.len() == next.columns.len() && acc.columns.iter().zip(&next.columns).all(|(a, b)| a.name == b.name && a.decimals == b.decimals);
        if !same || acc.totals.len() != next.totals.len() {
            return Err(Error::InvalidInput { what: "totals to add must have the same plan and columns".into() });
        }
        let offset = acc.columns.first().map_or(0, |c| c.count + c.missing.len());
        super::rows::merge_columns(&mut acc.columns, &next.columns, offset);
        self.check_totals_capacity(&acc.plan, &acc.columns)?;
        for ((a, b), s) in acc.totals.iter_mut().zip(&next.totals).zip(&self.schemes) {
            s.arithmetic().add_assign(a, b)?;
        }
        Ok(acc)
    }

    /// Scores of two consecutive sets of records under the same model (and so the same fixed
    /// point): results and segments follow one another, records are numbered across them.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for scores of another scale, bound, stride or moduli.
    pub fn append_row_scores(&self, mut acc: EncryptedRowScores<B>, next: EncryptedRowScores<B>) -> Result<EncryptedRowScores<B>, Error> {
        if (acc.scale, acc.bound_bits, acc.stride, acc.ciphertexts.len()) != (next.scale, next.bound_bits, next.stride, next.ciphertexts.len()) {
            return Err(Error::InvalidInput { what: "scores to append must share their fixed point, stride and moduli".into() });
        }
        acc.missing.extend(next.missing.iter().map(|m| m + acc.records));
        acc.records += next.records;
        acc.segments.extend(next.segments);
        for (a, b) in acc.ciphertexts.iter_mut().zip(next.ciphertexts) {
            a.extend(b);
        }
        Ok(acc)
    }

    /// Per-record scores `b + Σ w_c·x_c` of a logistic model, keyless: each chunk times
    /// `w(x) = Σ_c w_c·x^(−c)` holds its records' scores at `r·S`; chunks are then packed
    /// into as few result ciphertexts as their coefficient windows allow (a one-record chunk
    /// takes `S + C − 1` coefficients), each moved there by a monomial. The fixed point is
    /// that of the column layout's scores. The rows are consumed: each chunk is multiplied in
    /// place, and the intercept of a layout of segments is transformed once.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no weight, an unknown column or a weight that is not
    /// finite; [`Error::WouldWrap`] when the scores could exceed the plan's space.
    pub fn row_scores(&self, rows: EncryptedRows<B>, model: &LogisticModel) -> Result<EncryptedRowScores<B>, Error> {
        let plan = rows.plan;
        let width = rows.columns.len();
        let mut positions = Vec::with_capacity(model.weights.len());
        for name in model.weights.keys() {
            let c = rows.columns.iter().position(|c| &c.name == name).ok_or_else(|| Error::InvalidInput {
                what: format!("no column {name:?}; the rows have {}", rows.columns.iter().map(|c| format!("{:?}", c.name)).collect::<Vec<_>>().join(", ")),
            })?;
            positions.push(c);
        }
        let fixed = fixed_model(model, &positions.iter().map(|&c| &rows.columns[c]).collect::<Vec<_>>(), self.params.prefix_capacity_bits(plan.moduli))?;
        let n = self.params.n();
        let stride = plan.stride(width);
        // Placement, the same under every modulus: (result, monomial shift) per chunk.
        let mut segments: Vec<Vec<ScoreSegment>> = Vec::new();
        let mut placement = Vec::with_capacity(rows.chunk_records.len());
        let mut end = 0usize;
        for &records in &rows.chunk_records {
            let span = records * stride;
            let shift = end + width - 1;
            match segments.last_mut() {
                Some(seg) if shift + span + width - 1 <= n => {
                    seg.push(ScoreSegment { first: shift, records });
                    placement.push((segments.len() - 1, shift));
                    end = shift + span;
                }
                _ => {
                    segments.push(vec![ScoreSegment { first: 0, records }]);
                    placement.push((segments.len() - 1, 0));
                    end = span;
                }
            }
        }
        let mut ciphertexts = Vec::with_capacity(plan.moduli);
        let records = rows.records();
        for (scheme, cts) in self.schemes.iter().zip(rows.ciphertexts) {
            let ev = scheme.arithmetic();
            let t = scheme.params().plaintext().value();
            let mut w = vec![0u32; n];
            for (&c, wi) in positions.iter().zip(&fixed.weights) {
                let r = centered_residue(wi, t);
                // w_c·x^(−c) = −w_c·x^(n − c) for c > 0.
                let (index, value) = if c == 0 { (0, r) } else { (n - c, -r) };
                w[index] = (i64::from(w[index]) + value).rem_euclid(i64::from(t)) as u32;
            }
            let weights = Plaintext::new(scheme.params(), &w)?;
            // Lifted and transformed once for every chunk (all at the plan's level).
            let weights = ev.prepare_plaintext(&weights, plan.level)?;
            let mut out: Vec<Option<Ciphertext<B>>> = (0..segments.len()).map(|_| None).collect();
            for (mut p, &(result, shift)) in cts.into_iter().zip(&placement) {
                ev.mul_prepared_assign(&mut p, &weights)?;
                if shift > 0 {
                    ev.mul_monomial_assign(&mut p, shift)?;
                }
                match out[result].as_mut() {
                    Some(o) => ev.add_assign(o, &p)?,
                    None => out[result] = Some(p),
                }
            }
            let b = residue(&fixed.intercept, t);
            // Scores are read once: switched down while the noise model says they still
            // decrypt, the answer shrinks by a prime per switch.
            let model = scheme.params().noise();
            let packed = segments.iter().map(Vec::len).max().unwrap_or(1) as u64;
            let fresh = if plan.direct { model.fresh_bits() } else { super::rows::switched_noise_bits(scheme.params(), plan.level) };
            let mut noise = model.after_additions(fresh + super::rows::weights_growth_bits(positions.len(), t), packed);
            let mut level = plan.level;
            while level > 1 && model.decryptable(model.after_mod_switch(noise, level) + SCORE_SWITCH_MARGIN_BITS, level - 1) {
                noise = model.after_mod_switch(noise, level);
                level -= 1;
            }
            let mut results = Vec::with_capacity(segments.len());
            // Most results share one layout (a full chunk each): its intercept is reused (a
            // result at another level or factor is still added correctly, through the plaintext).
            let mut intercept: Option<(&[ScoreSegment], PreparedPlaintext<B>)> = None;
            for (acc, segs) in out.into_iter().zip(&segments) {
                let mut acc = acc.ok_or(Error::ShapeMismatch { what: "chunks of a result", expected: 1, found: 0 })?;
                if !intercept.as_ref().is_some_and(|(layout, _)| *layout == segs.as_slice()) {
                    let mut coeffs = vec![0u32; n];
                    for s in segs {
                        for r in 0..s.records {
                            coeffs[s.first + r * stride] = b;
                        }
                    }
                    let pt = Plaintext::new(scheme.params(), &coeffs)?;
                    intercept = Some((segs, ev.prepare_addend(&pt, acc.level(), acc.factor())?));
                }
                if let Some((_, p)) = &intercept {
                    ev.add_prepared_assign(&mut acc, p)?;
                }
                while acc.level() > level {
                    ev.mod_switch_assign(&mut acc)?;
                }
                results.push(acc);
            }
            ciphertexts.push(results);
        }
        Ok(EncryptedRowScores { records, scale: fixed.scale, bound_bits: fixed.bound_bits, missing: fixed.missing, stride, segments, ciphertexts })
    }
}
