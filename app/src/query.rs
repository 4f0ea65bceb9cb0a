//! The server's queries over a dataset's stored uploads: row-packed records, evaluated
//! with no key at all (see `ringvault_core::stats::rows`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use ringvault_core::Backend;
use ringvault_core::stats::{EncryptedRowScores, EncryptedTotals, LogisticModel, Stat, StatsContext};

use crate::contexts::Contexts;
use crate::dataset::{ColumnSpec, Computation, KeyInfo, Schema};
use crate::engine::{Engine, OnBackend};
use crate::AppError;

/// A query's body: a statistic of a column, or a logistic model's scores; optionally only
/// uploads whose time range meets `[from, to]` (Unix seconds) or of one device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// `count`, `sum`, `mean`, `sum_of_squares`, `variance`, `stddev`, `sample_variance`,
    /// `sample_stddev` (with `column`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    /// The column of `stat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// A logistic model `{"intercept": b, "weights": {"column": w, …}}` (instead of `stat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logreg: Option<LogisticModel>,
    /// Several statistics at once, `[{"stat": "mean", "column": "bmi"}, …]` (instead of
    /// `stat`): evaluated as one batch (the slot sums of all their columns share each
    /// rotation) into one `stats` result file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Vec<StatColumn>>,
    /// Only uploads whose time range ends at or after this (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Only uploads whose time range starts at or before this (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Only uploads of this device (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// One statistic of a batch ([`QueryRequest::stats`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatColumn {
    /// The statistic (as [`QueryRequest::stat`]).
    pub stat: String,
    /// Its column.
    pub column: String,
}

/// Most statistics in one batched query.
pub const MAX_BATCHED_STATS: usize = 1024;

/// Visits the stored `rows` files of a query's uploads, in upload order: called once with a
/// visitor, it hands each file to it (the store reads them one by one, so a query never holds
/// every upload at once).
pub type UploadSource<'a> = dyn FnMut(&mut dyn FnMut(Vec<u8>) -> Result<(), AppError>) -> Result<(), AppError> + 'a;

/// Bytes of stored uploads evaluated together before their partial result joins the total.
pub const BATCH_BYTES: usize = 64 << 20;

/// Runs queries on one backend. Row-packed uploads need no evaluation key: the runner keeps
/// only one statistics context per preset. Object safe, so a server holds one whatever the
/// backend.
pub trait QueryRunner: Send + Sync {
    /// Checks `request` against `schema` (unknown column, a computation the dataset does not
    /// support).
    ///
    /// # Errors
    /// [`AppError::Schema`] saying what is wrong.
    fn check(&self, schema: &Schema, request: &QueryRequest) -> Result<(), AppError>;

    /// Evaluates `request` over the `uploads` stored uploads that `source` visits, under the
    /// parameters of `keys`; returns the result file (`totals` or `row-scores`) that
    /// `ringvault decrypt` reads. `progress` receives fractions in `[0, 1]`.
    ///
    /// # Errors
    /// [`AppError`] for bad requests ([`AppError::is_client_error`]), refused computations
    /// (could wrap, more records than the dataset declared) and evaluation failures.
    fn run(&self, schema: &Schema, keys: &KeyInfo, request: &QueryRequest, uploads: usize, source: &mut UploadSource<'_>, progress: &dyn Fn(f64)) -> Result<Vec<u8>, AppError>;

    /// The backend, e.g. `cpu-avx512`.
    fn backend_name(&self) -> String;
}

impl QueryRequest {
    /// What is asked, checked against `schema`.
    ///
    /// # Errors
    /// [`AppError::Schema`] for neither or both of `stat` and `logreg`, an unknown statistic
    /// or column, a computation the dataset does not support, or `from > to`.
    pub fn spec<'s>(&'s self, schema: &Schema) -> Result<Spec<'s>, AppError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(AppError::Schema(format!("from ({from}) is after to ({to})")));
        }
        let one = |stat: &str, column: &'s str| -> Result<(Stat, &'s str, usize), AppError> {
            let stat: Stat = stat.parse().map_err(|e: ringvault_core::Error| AppError::Schema(e.to_string()))?;
            if stat == Stat::WeightedSum {
                return Err(AppError::Schema("weighted sums are asked as a logistic model (logreg)".into()));
            }
            let need = if stat.needs_squares() { Computation::Variances } else { Computation::Sums };
            if !schema.supports(need) {
                return Err(AppError::Schema(format!("the dataset does not support {stat} (its computations: {:?})", schema.computations)));
            }
            let (index, _) = schema.column(column)?;
            Ok((stat, column, index))
        };
        match (&self.stat, &self.column, &self.logreg, &self.stats) {
            (Some(stat), Some(column), None, None) => {
                let (stat, column, index) = one(stat, column)?;
                Ok(Spec::Stats { items: vec![(stat, column, index)], batched: false })
            }
            (None, None, None, Some(list)) => {
                if list.is_empty() || list.len() > MAX_BATCHED_STATS {
                    return Err(AppError::Schema(format!("a batch holds 1 to {MAX_BATCHED_STATS} statistics, this one {}", list.len())));
                }
                let items = list.iter().map(|s| one(&s.stat, &s.column)).collect::<Result<Vec<_>, _>>()?;
                Ok(Spec::Stats { items, batched: true })
            }
            (None, None, Some(model), None) => {
                if !schema.supports(Computation::Scores) {
                    return Err(AppError::Schema("the dataset does not support scores".into()));
                }
                if model.weights.is_empty() {
                    return Err(AppError::Schema("the model has no weights".into()));
                }
                for name in model.weights.keys() {
                    schema.column(name)?;
                }
                Ok(Spec::Scores { model })
            }
            _ => Err(AppError::Schema("a query is {\"stat\": STAT, \"column\": NAME}, {\"stats\": [{\"stat\", \"column\"}, …]} or {\"logreg\": MODEL}".into())),
        }
    }
}

/// A checked query.
#[derive(Clone, Debug)]
pub enum Spec<'a> {
    /// Column statistics: `(statistic, column name, its index in the schema)`.
    Stats {
        /// What is asked, in order.
        items: Vec<(Stat, &'a str, usize)>,
        /// Asked as a batch (`stats`, answered with a `stats` file) rather than one `stat`.
        batched: bool,
    },
    /// A model's scores.
    Scores {
        /// The model.
        model: &'a LogisticModel,
    },
}

/// The query runner of one backend.
struct Runner<B: Backend> {
    contexts: Contexts<B>,
}

/// A query's running result: totals or scores of the uploads evaluated so far.
enum Partial<B: Backend> {
    Totals(Option<EncryptedTotals<B>>),
    Scores(Option<EncryptedRowScores<B>>),
}

impl<B: Backend> Runner<B> {
    /// The statistics context of the keys' preset (built once per preset).
    fn context(&self, keys: &KeyInfo) -> Result<Arc<StatsContext<B>>, AppError> {
        self.contexts.get(&keys.preset, &keys.moduli).map_err(|e| match e {
            AppError::Format(m) => AppError::Format(format!("the dataset's keys: {m}")),
            e => e,
        })
    }
}

impl<B: Backend> Partial<B> {
    /// Evaluates one batch of uploads and joins it to the result so far. The batch is split
    /// into one part per rayon thread, parsed and evaluated in parallel, and the parts' results
    /// joined in upload order (totals added, scores appended: the same result as one pass).
    fn add(self, ctx: &StatsContext<B>, spec: &Spec<'_>, bounds: &[u32], batch: &[Vec<u8>]) -> Result<Self, AppError> {
        use rayon::prelude::*;
        let per_part = batch.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
        let parts = batch.par_chunks(per_part).map(|files| Self::evaluate(ctx, spec, bounds, files)).collect::<Result<Vec<_>, _>>()?;
        parts.into_iter().try_fold(self, |acc, part| acc.join(ctx, part))
    }

    /// The result of a few uploads alone.
    fn evaluate(ctx: &StatsContext<B>, spec: &Spec<'_>, bounds: &[u32], files: &[Vec<u8>]) -> Result<Self, AppError> {
        let mut rows = crate::rows::rows_from_files(ctx, files)?;
        Ok(match spec {
            Spec::Stats { .. } => Self::Totals(Some(ctx.row_totals(&rows)?)),
            Spec::Scores { model } => {
                // The declared bounds fix the scores' scale whatever the batch.
                rows.widen_bounds(bounds)?;
                Self::Scores(Some(ctx.row_scores(rows, model)?))
            }
        })
    }

    /// This result followed by `next` (of the records after this one's).
    fn join(self, ctx: &StatsContext<B>, next: Self) -> Result<Self, AppError> {
        Ok(match (self, next) {
            (Self::Totals(Some(a)), Self::Totals(Some(b))) => Self::Totals(Some(ctx.add_totals(a, b)?)),
            (Self::Scores(Some(a)), Self::Scores(Some(b))) => Self::Scores(Some(ctx.append_row_scores(a, b)?)),
            (Self::Totals(None), t @ Self::Totals(_)) | (t @ Self::Totals(_), Self::Totals(None)) => t,
            (Self::Scores(None), s @ Self::Scores(_)) | (s @ Self::Scores(_), Self::Scores(None)) => s,
            _ => return Err(AppError::Format("scores joined to totals".into())),
        })
    }
}

impl<B: Backend> QueryRunner for Runner<B> {
    fn check(&self, schema: &Schema, request: &QueryRequest) -> Result<(), AppError> {
        request.spec(schema).map(drop)
    }

    fn run(&self, schema: &Schema, keys: &KeyInfo, request: &QueryRequest, uploads: usize, source: &mut UploadSource<'_>, progress: &dyn Fn(f64)) -> Result<Vec<u8>, AppError> {
        let spec = request.spec(schema)?;
        progress(0.0);
        let ctx = self.context(keys)?;
        schema.row_plan(ctx.params())?;
        let bounds: Vec<u32> = schema.columns.iter().map(ColumnSpec::bound_bits).collect();
        let declared = schema.declared_records();
        let mut partial = Some(match spec {
            Spec::Stats { .. } => Partial::Totals(None),
            Spec::Scores { .. } => Partial::Scores(None),
        });
        let (mut batch, mut bytes, mut seen, mut records) = (Vec::new(), 0usize, 0usize, 0u64);
        let flush = |batch: &mut Vec<Vec<u8>>, partial: &mut Option<Partial<B>>| -> Result<(), AppError> {
            if batch.is_empty() {
                return Ok(());
            }
            let p = partial.take().ok_or_else(|| AppError::Format("a query lost its partial result".into()))?;
            *partial = Some(p.add(&ctx, &spec, &bounds, batch)?);
            batch.clear();
            Ok(())
        };
        source(&mut |blob: Vec<u8>| {
            let (h, _) = crate::container::peek_header(&blob).map_err(AppError::Format)?;
            let m: crate::rows::RowsMeta = crate::results::meta(&h)?;
            records += m.chunk_records.iter().sum::<usize>() as u64;
            if records > declared {
                return Err(AppError::Schema(format!("the query covers more than the {declared} records the dataset declared (max_records): its noise budget was planned for that many; narrow the query with from/to or device")));
            }
            bytes += blob.len();
            batch.push(blob);
            seen += 1;
            if bytes >= BATCH_BYTES {
                flush(&mut batch, &mut partial)?;
                bytes = 0;
            }
            progress(0.95 * seen as f64 / uploads.max(1) as f64);
            Ok(())
        })?;
        flush(&mut batch, &mut partial)?;
        let out = match (partial, &spec) {
            (Some(Partial::Totals(Some(t))), Spec::Stats { items, batched }) => {
                let requests: Vec<(Stat, &str)> = items.iter().map(|(s, c, _)| (*s, *c)).collect();
                crate::rows::totals_file(&ctx, &t, &requests, *batched)?
            }
            (Some(Partial::Scores(Some(s))), _) => crate::rows::row_scores_file(&ctx, &s)?,
            _ => return Err(AppError::Schema("no records match the query".into())),
        };
        progress(1.0);
        Ok(out)
    }

    fn backend_name(&self) -> String {
        self.contexts.backend().name().to_string()
    }
}

/// A query runner on `backend`.
pub fn runner_on<B: Backend + 'static>(backend: Arc<B>) -> Box<dyn QueryRunner> {
    Box::new(Runner { contexts: Contexts::new(backend) })
}

/// A query runner on the engine's backend.
pub fn runner(engine: &Engine) -> Box<dyn QueryRunner> {
    struct OnEngine;
    impl OnBackend for OnEngine {
        type Output = Box<dyn QueryRunner>;
        fn run<B: Backend + 'static>(self, backend: Arc<B>) -> Self::Output {
            runner_on(backend)
        }
    }
    engine.run(OnEngine)
}
