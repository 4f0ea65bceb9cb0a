//! `rv_stat` and `rv_stats`: encrypted column statistics as SQL aggregates over cells.
//!
//! The partial state is the encrypted totals of the cells seen (one ciphertext per used
//! plaintext modulus, as a `totals` file, and the record count); merging two states is an
//! addition of ciphertexts. Additions modulo the ciphertext primes are exact, so any order
//! and grouping of the merges gives the same bytes. The final step writes the same `totals`
//! file the vault answers with, which `ringvault decrypt` reads.
//!
//! Records' positions within their upload have no meaning across partitions, so the states
//! keep the columns' counts but not which records skipped a cell.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;

use ringvault_app::contexts::Contexts;
use ringvault_app::query::StatColumn;
use ringvault_core::Backend;
use ringvault_core::stats::{EncryptedTotals, Stat, StatsContext};

use crate::cells::{cells, is_binary};
use crate::{app_error, context_of, rows_of};

/// Which of the two functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Form {
    /// `rv_stat(rows, stat, column [, max_records])`: one statistic.
    One,
    /// `rv_stats(rows, requests [, max_records])`: a batch, `requests` as the vault's JSON
    /// list `[{"stat": "mean", "column": "bmi"}, …]`.
    Batch,
}

impl Form {
    /// The literal arguments after the cells, without the optional record bound.
    fn literals(self) -> usize {
        match self {
            Self::One => 2,
            Self::Batch => 1,
        }
    }
}

/// The aggregate of one backend.
pub(crate) struct TotalsAggregate<B: Backend> {
    form: Form,
    signature: Signature,
    contexts: Arc<Contexts<B>>,
}

impl<B: Backend> TotalsAggregate<B> {
    pub(crate) fn new(form: Form, contexts: Arc<Contexts<B>>) -> Self {
        Self { form, signature: Signature::user_defined(Volatility::Immutable), contexts }
    }
}

impl<B: Backend> std::fmt::Debug for TotalsAggregate<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotalsAggregate").field("form", &self.form).finish_non_exhaustive()
    }
}

// Two instances are the same function when they have the same form: a session holds one
// backend's functions.
impl<B: Backend> PartialEq for TotalsAggregate<B> {
    fn eq(&self, other: &Self) -> bool {
        self.form == other.form
    }
}
impl<B: Backend> Eq for TotalsAggregate<B> {}
impl<B: Backend> Hash for TotalsAggregate<B> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.form.hash(state);
    }
}

/// The text of literal argument `i`.
fn text_literal(args: &AccumulatorArgs<'_>, i: usize, what: &str) -> Result<String> {
    let value = args.exprs.get(i).and_then(|e| e.downcast_ref::<Literal>()).map(Literal::value);
    match value.and_then(ScalarValue::try_as_str) {
        Some(Some(s)) => Ok(s.to_string()),
        _ => Err(DataFusionError::Plan(format!("{}: {what} must be a text literal", args.name))),
    }
}

/// The optional record bound, argument `i`.
fn bound_literal(args: &AccumulatorArgs<'_>, i: usize) -> Result<Option<u64>> {
    let Some(e) = args.exprs.get(i) else { return Ok(None) };
    let v = e.downcast_ref::<Literal>().map(Literal::value).cloned();
    match v.map(|v| v.cast_to(&DataType::UInt64)) {
        Some(Ok(ScalarValue::UInt64(Some(n)))) => Ok(Some(n)),
        _ => Err(DataFusionError::Plan(format!("{}: max_records must be a non-negative integer literal", args.name))),
    }
}

fn parse_stat(name: &str) -> Result<Stat> {
    name.parse::<Stat>().map_err(|e| DataFusionError::Plan(e.to_string()))
}

impl<B: Backend + 'static> AggregateUDFImpl for TotalsAggregate<B> {

    fn name(&self) -> &str {
        match self.form {
            Form::One => "rv_stat",
            Form::Batch => "rv_stats",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let literals = self.form.literals();
        let usage = match self.form {
            Form::One => "rv_stat(rows, stat, column [, max_records])",
            Form::Batch => "rv_stats(rows, requests [, max_records])",
        };
        if !(1 + literals..=2 + literals).contains(&arg_types.len()) || !is_binary(&arg_types[0]) {
            return Err(DataFusionError::Plan(format!("{usage}: rows is a Binary, LargeBinary or BinaryView column of ciphertext cells; got ({})", arg_types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))));
        }
        let mut out = vec![arg_types[0].clone()];
        out.extend(std::iter::repeat_n(DataType::Utf8, literals));
        if arg_types.len() > 1 + literals {
            out.push(DataType::UInt64);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "totals"), DataType::Binary, true)), Arc::new(Field::new(format_state_name(args.name, "records"), DataType::UInt64, true))])
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        let (requests, batched) = match self.form {
            Form::One => {
                let stat = parse_stat(&text_literal(&args, 1, "the statistic")?)?;
                (vec![(stat, text_literal(&args, 2, "the column")?)], false)
            }
            Form::Batch => {
                let text = text_literal(&args, 1, "the requests")?;
                let asked: Vec<StatColumn> = serde_json::from_str(&text).map_err(|e| DataFusionError::Plan(format!("rv_stats: requests are a JSON list [{{\"stat\": \"mean\", \"column\": \"bmi\"}}, …]: {e}")))?;
                if asked.is_empty() || asked.len() > ringvault_app::query::MAX_BATCHED_STATS {
                    return Err(DataFusionError::Plan(format!("rv_stats: 1 to {} statistics, not {}", ringvault_app::query::MAX_BATCHED_STATS, asked.len())));
                }
                (asked.into_iter().map(|r| Ok((parse_stat(&r.stat)?, r.column))).collect::<Result<Vec<_>>>()?, true)
            }
        };
        let max_records = bound_literal(&args, 1 + self.form.literals())?;
        Ok(Box::new(TotalsAccumulator { contexts: self.contexts.clone(), sum: None, records: 0, requests, batched, max_records }))
    }
}

/// Encrypted totals of the cells seen so far.
struct TotalsAccumulator<B: Backend> {
    contexts: Arc<Contexts<B>>,
    sum: Option<(Arc<StatsContext<B>>, EncryptedTotals<B>)>,
    records: u64,
    requests: Vec<(Stat, String)>,
    batched: bool,
    max_records: Option<u64>,
}

impl<B: Backend> std::fmt::Debug for TotalsAccumulator<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotalsAccumulator").field("records", &self.records).field("requests", &self.requests).finish_non_exhaustive()
    }
}

impl<B: Backend> TotalsAccumulator<B> {
    /// Adds `t` (of `records` records, under `ctx`) to the sum.
    fn add(&mut self, ctx: Arc<StatsContext<B>>, mut t: EncryptedTotals<B>, records: u64) -> Result<()> {
        for c in &mut t.columns {
            c.missing.clear();
        }
        self.records = self.records.checked_add(records).ok_or_else(|| DataFusionError::Execution("record count overflow".into()))?;
        self.sum = Some(match self.sum.take() {
            None => (ctx, t),
            Some((held, acc)) => {
                if !Arc::ptr_eq(&held, &ctx) {
                    return Err(DataFusionError::Execution(format!("cells under presets {} and {} in one aggregate", held.params().preset().name(), ctx.params().preset().name())));
                }
                let sum = held.add_totals(acc, t).map_err(|e| DataFusionError::Execution(format!("adding totals: {e}")))?;
                (held, sum)
            }
        });
        Ok(())
    }
}

impl<B: Backend + 'static> Accumulator for TotalsAccumulator<B> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else { return Ok(()) };
        let present: Vec<&[u8]> = cells(array)?.into_iter().flatten().collect();
        let Some(first) = present.first() else { return Ok(()) };
        let ctx = context_of(&self.contexts, first)?;
        let rows = rows_of(&ctx, &present)?;
        let records = rows.records() as u64;
        let t = ctx.row_totals(&rows).map_err(|e| DataFusionError::Execution(format!("summing cells: {e}")))?;
        rows.recycle(self.contexts.backend());
        self.add(ctx, t, records)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let totals = match &self.sum {
            None => None,
            Some((ctx, t)) => Some(ringvault_app::rows::totals_file(ctx, t, &[], false).map_err(app_error)?),
        };
        Ok(vec![ScalarValue::Binary(totals), ScalarValue::UInt64(Some(self.records))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [totals, records] = states else { return Err(DataFusionError::Internal(format!("{} state columns, expected 2", states.len()))) };
        let counts = records.as_primitive_opt::<UInt64Type>().ok_or_else(|| DataFusionError::Internal("a record count state that is not UInt64".into()))?;
        for (i, state) in cells(totals)?.into_iter().enumerate() {
            let Some(bytes) = state else { continue };
            let ctx = context_of(&self.contexts, bytes)?;
            let (t, _, _) = ringvault_app::rows::totals_from_file(&ctx, bytes).map_err(|e| DataFusionError::Execution(format!("partial totals {i} of a batch: {e}")))?;
            let n = if counts.is_null(i) { 0 } else { counts.value(i) };
            self.add(ctx, t, n)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some((ctx, t)) = &self.sum else { return Ok(ScalarValue::Binary(None)) };
        if let Some(max) = self.max_records
            && self.records > max
        {
            return Err(DataFusionError::Execution(format!("the query covers {} records, more than the {max} the dataset declared (max_records): its noise budget was planned for that many", self.records)));
        }
        for (stat, column) in &self.requests {
            let c = t.columns.iter().position(|c| &c.name == column).ok_or_else(|| DataFusionError::Execution(format!("no column {column:?} in these cells; they have {}", t.columns.iter().map(|c| format!("{:?}", c.name)).collect::<Vec<_>>().join(", "))))?;
            if stat.needs_squares() && t.squares_coefficient(c).is_none() {
                return Err(DataFusionError::Execution(format!("{stat} of {column:?} needs squares; these cells carry none")));
            }
        }
        let requests: Vec<(Stat, &str)> = self.requests.iter().map(|(s, c)| (*s, c.as_str())).collect();
        Ok(ScalarValue::Binary(Some(ringvault_app::rows::totals_file(ctx, t, &requests, self.batched).map_err(app_error)?)))
    }

    fn size(&self) -> usize {
        let held = self.sum.as_ref().map_or(0, |(ctx, t)| t.totals.len() * 2 * ctx.params().n() * 8 * t.plan.level);
        std::mem::size_of_val(self) + held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arity() {
        let contexts = Arc::new(Contexts::new(Arc::new(ringvault_backend_cpu::CpuBackend::new())));
        let one = TotalsAggregate::new(Form::One, contexts.clone());
        let batch = TotalsAggregate::new(Form::Batch, contexts);
        assert_eq!((one.name(), batch.name()), ("rv_stat", "rv_stats"));
        assert!(one != batch);
        let bin = DataType::BinaryView;
        assert_eq!(one.coerce_types(&[bin.clone(), DataType::Utf8, DataType::LargeUtf8]).unwrap(), vec![bin.clone(), DataType::Utf8, DataType::Utf8]);
        assert_eq!(one.coerce_types(&[bin.clone(), DataType::Utf8, DataType::Utf8, DataType::Int64]).unwrap().last(), Some(&DataType::UInt64));
        assert!(one.coerce_types(&[bin.clone(), DataType::Utf8]).is_err());
        assert!(one.coerce_types(&[DataType::Utf8, DataType::Utf8, DataType::Utf8]).unwrap_err().to_string().contains("rv_stat(rows, stat, column"));
        assert!(batch.coerce_types(&[bin, DataType::Utf8]).is_ok());
    }
}
