//! `rv_scores` and `rv_check`: functions of one cell at a time.
//!
//! `rv_scores(rows, model)` scores every record of a cell under a logistic model (the
//! vault's `logreg` query, `{"intercept": b, "weights": {"column": w, …}}`) into a
//! `row-scores` file: per record `b + w·x`, which `ringvault decrypt` turns into scores and
//! probabilities. Each cell's scores are fixed point at the scale its own columns' bounds
//! allow. `rv_check(rows)` is null for a cell every loader accepts, else the reason.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BinaryBuilder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use ringvault_app::contexts::Contexts;
use ringvault_core::Backend;
use ringvault_core::stats::LogisticModel;

use crate::cells::{cells, is_binary};
use crate::{app_error, context_of, rows_of};

/// `rv_scores`.
pub(crate) struct Scores<B: Backend> {
    signature: Signature,
    contexts: Arc<Contexts<B>>,
}

/// `rv_check`.
pub(crate) struct Check<B: Backend> {
    signature: Signature,
    contexts: Arc<Contexts<B>>,
}

impl<B: Backend> Scores<B> {
    pub(crate) fn new(contexts: Arc<Contexts<B>>) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), contexts }
    }
}

impl<B: Backend> Check<B> {
    pub(crate) fn new(contexts: Arc<Contexts<B>>) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), contexts }
    }
}

/// Debug, equality and hashing by name: a session holds one backend's functions.
macro_rules! by_name {
    ($t:ident, $name:literal) => {
        impl<B: Backend> std::fmt::Debug for $t<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($name)
            }
        }
        impl<B: Backend> PartialEq for $t<B> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl<B: Backend> Eq for $t<B> {}
        impl<B: Backend> Hash for $t<B> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                $name.hash(state);
            }
        }
    };
}
by_name!(Scores, "rv_scores");
by_name!(Check, "rv_check");

/// The argument types after checking the cells' type and the arity.
fn coerce(usage: &str, arg_types: &[DataType], texts: usize) -> Result<Vec<DataType>> {
    if arg_types.len() != 1 + texts || !is_binary(&arg_types[0]) {
        return Err(DataFusionError::Plan(format!("{usage}: rows is a Binary, LargeBinary or BinaryView column of ciphertext cells; got ({})", arg_types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))));
    }
    Ok(std::iter::once(arg_types[0].clone()).chain(std::iter::repeat_n(DataType::Utf8, texts)).collect())
}

/// The cells argument as an array of `rows` rows.
fn cell_array(args: &ScalarFunctionArgs) -> Result<ArrayRef> {
    let first = args.args.first().ok_or_else(|| DataFusionError::Internal("no cells argument".into()))?;
    first.to_array(args.number_rows)
}

impl<B: Backend + 'static> ScalarUDFImpl for Scores<B> {
    fn name(&self) -> &str {
        "rv_scores"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce("rv_scores(rows, model)", arg_types, 1)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model: LogisticModel = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text)))) => serde_json::from_str(text).map_err(|e| DataFusionError::Plan(format!("rv_scores: the model is {{\"intercept\": b, \"weights\": {{\"column\": w, …}}}}: {e}")))?,
            _ => return Err(DataFusionError::Plan("rv_scores: the model must be a text literal".into())),
        };
        let array = cell_array(&args)?;
        let mut out = BinaryBuilder::new();
        for cell in cells(&array)? {
            let Some(cell) = cell else {
                out.append_null();
                continue;
            };
            let ctx = context_of(&self.contexts, cell)?;
            let rows = rows_of(&ctx, &[cell])?;
            let scores = ctx.row_scores(rows, &model).map_err(|e| DataFusionError::Execution(format!("rv_scores: {e}")))?;
            out.append_value(ringvault_app::rows::row_scores_file(&ctx, &scores).map_err(app_error)?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl<B: Backend + 'static> ScalarUDFImpl for Check<B> {
    fn name(&self) -> &str {
        "rv_check"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce("rv_check(rows)", arg_types, 0)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = cell_array(&args)?;
        let mut out = StringBuilder::new();
        for cell in cells(&array)? {
            let Some(cell) = cell else {
                out.append_null();
                continue;
            };
            let checked = context_of(&self.contexts, cell).and_then(|ctx| rows_of(&ctx, &[cell]).map(|rows| rows.recycle(self.contexts.backend())));
            match checked {
                Ok(()) => out.append_null(),
                Err(e) => out.append_value(e.to_string()),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
