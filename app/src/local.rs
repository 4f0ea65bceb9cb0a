//! The file-based flow on bytes, for every front end (the command line's `encrypt` and
//! `eval`, the Python package): an owner's table encryptor that holds only the public key, and
//! a server's evaluator that holds only the evaluation keys. Inputs and outputs are the files
//! of [`crate::results`].

use std::sync::Arc;

use ringvault_core::Backend;
use ringvault_core::scheme::PublicKey;
use ringvault_core::stats::{LogisticModel, PlainColumn, Stat, StatsContext, StatsKeys, Weights};

use crate::AppError;

/// Encrypts tables with the `public.key` file only.
pub struct TableEncryptor<B: Backend> {
    pub(crate) ctx: StatsContext<B>,
    pub(crate) public: Vec<PublicKey>,
    /// [`crate::keys::public_key_digest`] of the keys: what every file it writes names.
    pub(crate) digest: String,
}

impl<B: Backend> TableEncryptor<B> {
    /// Opens a `public.key` file.
    ///
    /// # Errors
    /// Key file errors.
    pub fn new(backend: Arc<B>, public_key: &[u8]) -> Result<Self, AppError> {
        let (ctx, public) = crate::keys::open_public(backend, public_key)?;
        let digest = crate::keys::public_key_digest(&public.iter().map(PublicKey::to_bytes).collect::<Vec<_>>());
        Ok(Self { ctx, public, digest })
    }

    /// The statistics context of the keys.
    pub fn context(&self) -> &StatsContext<B> {
        &self.ctx
    }

    /// A `table` file of `columns` (any number of records: more than `n` take more
    /// ciphertexts), naming the public key.
    ///
    /// # Errors
    /// [`AppError::Core`] for columns that do not form a table or a value beyond the space.
    pub fn encrypt(&self, columns: &[PlainColumn]) -> Result<Vec<u8>, AppError> {
        let refs: Vec<_> = self.public.iter().collect();
        let mut rng = ringvault_core::scheme::sampling::default_rng();
        let table = self.ctx.encrypt_table(&refs, columns, &mut rng)?;
        crate::results::table_file_under(&self.ctx, &table, Some(&self.digest))
    }
}

/// Computes on `table` files with the `eval.keys` file only; answers are result files.
pub struct TableEvaluator<B: Backend> {
    ctx: StatsContext<B>,
    keys: StatsKeys,
}

impl<B: Backend> TableEvaluator<B> {
    /// Opens an `eval.keys` file.
    ///
    /// # Errors
    /// Key file errors.
    pub fn new(backend: Arc<B>, eval_keys: &[u8]) -> Result<Self, AppError> {
        let (ctx, keys) = crate::keys::open_eval(backend, eval_keys)?;
        Ok(Self { ctx, keys })
    }

    /// The statistics context of the keys.
    pub fn context(&self) -> &StatsContext<B> {
        &self.ctx
    }

    fn table(&self, table: &[u8]) -> Result<ringvault_core::stats::EncryptedTable<B>, AppError> {
        crate::results::table_from_file(&self.ctx, table)
    }

    /// One statistic of a column: a `stat` file.
    ///
    /// # Errors
    /// [`AppError::Format`] for a table of other keys; an unknown column; a refused
    /// computation (could wrap); evaluation errors.
    pub fn stat(&self, table: &[u8], stat: Stat, column: &str) -> Result<Vec<u8>, AppError> {
        let t = self.table(table)?;
        let r = self.ctx.evaluator(&self.keys)?.evaluate(&t, &[(stat, column)])?.pop().ok_or_else(|| AppError::Format("no result".into()))?;
        crate::results::stat_file(&self.ctx, &r)
    }

    /// Several statistics in one evaluation: a `stats` file.
    ///
    /// # Errors
    /// As [`Self::stat`].
    pub fn stats(&self, table: &[u8], requests: &[(Stat, &str)]) -> Result<Vec<u8>, AppError> {
        let t = self.table(table)?;
        let results = self.ctx.evaluator(&self.keys)?.evaluate(&t, requests)?;
        crate::results::stats_file(&self.ctx, &results)
    }

    /// `Σ wᵢ·xᵢ` of a column with plaintext or encrypted weights: a `stat` file.
    ///
    /// # Errors
    /// As [`Self::stat`]; a weight count other than the record count.
    pub fn weighted_sum(&self, table: &[u8], column: &str, weights: &Weights) -> Result<Vec<u8>, AppError> {
        let t = self.table(table)?;
        let r = self.ctx.evaluator(&self.keys)?.weighted_sum(&t, column, weights)?;
        crate::results::stat_file(&self.ctx, &r)
    }

    /// A logistic model's per-record scores: a `scores` file.
    ///
    /// # Errors
    /// As [`Self::stat`]; a model with no weight or an unknown column.
    pub fn logistic(&self, table: &[u8], model: &LogisticModel) -> Result<Vec<u8>, AppError> {
        let t = self.table(table)?;
        let r = self.ctx.evaluator(&self.keys)?.logistic_scores(&t, model)?;
        crate::results::scores_file(&self.ctx, &r)
    }
}
