//! # ringvault-cluster: the vault's encrypted aggregates on Apache DataFusion
//!
//! A dataset's uploads as a table of ciphertext cells ([`cells`], written as Parquet by
//! [`export`], which also reads a running vault's stored uploads: `export::export_vault`),
//! and SQL functions over them that need no key at all (row-packed records: see
//! `ringvault_core::stats::rows`); [`distributed`] runs them on a Ballista cluster:
//!
//! | function | kind | result |
//! |---|---|---|
//! | `rv_stat(rows, 'mean', 'glucose' [, max_records])` | aggregate | a `totals` file answering one statistic |
//! | `rv_stats(rows, '[{"stat": "mean", "column": "bmi"}, …]' [, max_records])` | aggregate | a `totals` file answering a batch |
//! | `rv_scores(rows, '{"intercept": b, "weights": {…}}')` | scalar | a `row-scores` file of the cell's records |
//! | `rv_check(rows)` | scalar | null for a well-formed cell, else what is wrong with it |
//!
//! Every result is the file the vault answers with: `ringvault decrypt` reads it. The
//! statistics are those of the vault's queries (`count`, `sum`, `mean`, `sum_of_squares`,
//! `variance`, `stddev`, `sample_variance`, `sample_stddev`); `max_records`, when given,
//! refuses a sum over more records than the dataset's keys were planned for. An aggregate
//! over no row is null. The public columns filter and group as any column does:
//!
//! ```sql
//! SELECT device, rv_stat(rows, 'mean', 'glucose') FROM readings
//! WHERE "to" >= 1767225600 GROUP BY device
//! ```
//!
//! The partial state of an aggregate is a ciphertext per used plaintext modulus and merging
//! is an addition, so DataFusion spreads the work over partitions (and a cluster over
//! machines) with results identical to one pass. Every cell goes through the wire loaders; a
//! malformed one is a query error naming it ([`CellError`]), never a panic; `rv_check`
//! finds it (`SELECT upload, chunk FROM readings WHERE rv_check(rows) IS NOT NULL`).
//!
//! The engine is heavy to build (DataFusion), so this crate stays out of the default
//! members: `cargo test --workspace` builds it, `cargo run --release -- demo` does not.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionConfig;

use ringvault_app::AppError;
use ringvault_app::contexts::Contexts;
use ringvault_app::engine::{Engine, OnBackend};
use ringvault_core::Backend;
use ringvault_core::stats::{EncryptedRows, StatsContext};

pub mod cells;
pub mod distributed;
pub mod export;
mod scores;
mod totals;

/// A cell that is not a well-formed `rows` file of this engine's parameters. Its `Debug` is
/// its message: Ballista reports a remote task's error by `Debug`.
#[derive(thiserror::Error)]
pub enum CellError {
    /// One cell is malformed.
    #[error("ciphertext cell {index} of a batch of {batch}: {source}")]
    Malformed {
        /// Its row within the batch.
        index: usize,
        /// The batch's rows.
        batch: usize,
        /// What is wrong with it.
        source: AppError,
    },
    /// Each cell is well formed, but they do not fit one another (other plans or columns).
    #[error("ciphertext cells that do not fit one another: {0}")]
    Mismatched(AppError),
}

impl std::fmt::Debug for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// An application error as a query error (kept, so a caller can downcast it).
pub(crate) fn app_error(e: AppError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The statistics context a cell or state names in its header.
pub(crate) fn context_of<B: Backend>(contexts: &Contexts<B>, bytes: &[u8]) -> Result<Arc<StatsContext<B>>> {
    let (h, _) = ringvault_app::container::peek_header(bytes).map_err(|e| app_error(AppError::Format(e)))?;
    contexts.get(&h.preset, &h.moduli).map_err(app_error)
}

/// The records of `cells`, each through its wire loaders; an error names the first malformed
/// cell.
pub(crate) fn rows_of<B: Backend>(ctx: &StatsContext<B>, cells: &[&[u8]]) -> Result<EncryptedRows<B>> {
    ringvault_app::rows::rows_from_files(ctx, cells).map_err(|e| {
        // Found again cell by cell (the error path only).
        let bad = cells.iter().enumerate().find_map(|(i, c)| ringvault_app::rows::rows_from_files(ctx, &[*c]).err().map(|e| (i, e)));
        let err = match bad {
            Some((index, source)) => CellError::Malformed { index, batch: cells.len(), source },
            None => CellError::Mismatched(e),
        };
        DataFusionError::External(Box::new(err))
    })
}

/// The `rv_*` functions on `backend`, sharing its statistics contexts: aggregates, scalars.
pub(crate) fn functions<B: Backend + 'static>(backend: Arc<B>) -> (Vec<AggregateUDF>, Vec<ScalarUDF>) {
    let contexts = Arc::new(Contexts::new(backend));
    let aggregates = [totals::Form::One, totals::Form::Batch].map(|f| AggregateUDF::from(totals::TotalsAggregate::new(f, contexts.clone())));
    (aggregates.into(), vec![ScalarUDF::from(scores::Scores::new(contexts.clone())), ScalarUDF::from(scores::Check::new(contexts))])
}

/// The names of the functions [`register`] adds.
pub const FUNCTIONS: [&str; 4] = ["rv_stat", "rv_stats", "rv_scores", "rv_check"];

/// Registers the `rv_*` functions, evaluated on `engine`'s backend, in `ctx`.
pub fn register(ctx: &SessionContext, engine: &Engine) {
    struct Register<'a>(&'a SessionContext);
    impl OnBackend for Register<'_> {
        type Output = ();
        fn run<B: Backend + 'static>(self, backend: Arc<B>) {
            let (aggregates, scalars) = functions(backend);
            aggregates.into_iter().for_each(|a| self.0.register_udaf(a));
            scalars.into_iter().for_each(|s| self.0.register_udf(s));
        }
    }
    engine.run(Register(ctx));
}

/// A session for tables of cells of about `cell_bytes` bytes: record batches of
/// [`cells::batch_rows`] rows, `partitions` ways of parallelism (at least one), and the
/// functions registered on `engine`.
pub fn session(engine: &Engine, cell_bytes: usize, partitions: usize) -> SessionContext {
    let ctx = SessionContext::new_with_config(config(cell_bytes).with_target_partitions(partitions.max(1)));
    register(&ctx, engine);
    ctx
}

/// The session settings for cells of about `cell_bytes` bytes (record batches of
/// [`cells::batch_rows`] rows).
pub(crate) fn config(cell_bytes: usize) -> SessionConfig {
    SessionConfig::new().with_batch_size(cells::batch_rows(cell_bytes))
}
