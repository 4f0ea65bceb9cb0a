//! The server's queries over a dataset's stored uploads, with evaluation keys only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use ringvault_core::Backend;
use ringvault_core::scheme::DeviceKeys;
use ringvault_core::stats::{LogisticModel, Stat, StatsContext, StatsKeys};

use crate::dataset::{Computation, KeyInfo, Schema};
use crate::engine::Engine;
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

/// The stored column blobs of a query's uploads: called with a column's index in the
/// schema, returns that column's blob of every selected upload, in upload order.
pub type ColumnSource<'a> = dyn FnMut(usize) -> Result<Vec<Vec<u8>>, AppError> + 'a;

/// Runs queries on one backend, keeping deserialized evaluation keys in a cache bounded in
/// bytes. Object safe, so a server holds one whatever the backend.
pub trait QueryRunner: Send + Sync {
    /// Which columns (schema indices) `request` reads, after checking it against `schema`
    /// (unknown column, a computation the dataset does not support).
    ///
    /// # Errors
    /// [`AppError::Schema`] saying what is wrong.
    fn columns_needed(&self, schema: &Schema, request: &QueryRequest) -> Result<Vec<usize>, AppError>;

    /// Evaluates `request` over the blobs `source` yields, with the evaluation keys of
    /// `key_path` (described by `keys`); returns the result file (`stat` or `scores`) that
    /// `ringvault decrypt` reads. `progress` receives fractions in `[0, 1]`.
    ///
    /// # Errors
    /// [`AppError`] for bad requests ([`AppError::is_client_error`]), refused computations
    /// (could wrap) and evaluation failures.
    fn run(&self, schema: &Schema, keys: &KeyInfo, key_path: &Path, request: &QueryRequest, source: &mut ColumnSource<'_>, progress: &dyn Fn(f64)) -> Result<Vec<u8>, AppError>;

    /// Loads the keys of `key_path` into the cache ahead of the first query (after an upload
    /// of keys).
    ///
    /// # Errors
    /// As loading them for a query.
    fn warm(&self, keys: &KeyInfo, key_path: &Path) -> Result<(), AppError>;

    /// Drops the cached keys of `key_path` (a deleted dataset).
    fn evict(&self, key_path: &Path);

    /// Bytes of evaluation keys held in the cache now.
    fn cached_bytes(&self) -> u64;

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
                let indices = model.weights.keys().map(|name| schema.column(name).map(|(i, _)| i)).collect::<Result<Vec<_>, _>>()?;
                Ok(Spec::Scores { model, indices })
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
        /// The schema indices of its columns, in the model's (name) order.
        indices: Vec<usize>,
    },
}

impl Spec<'_> {
    /// The schema indices of the columns it reads, each once, in first-use order.
    pub fn columns(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let all: Vec<usize> = match self {
            Self::Stats { items, .. } => items.iter().map(|i| i.2).collect(),
            Self::Scores { indices, .. } => indices.clone(),
        };
        for i in all {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    }
}

/// Deserialized evaluation keys, the context they belong to, and their device form (built by
/// the first query, shared by the next).
struct Loaded<B: Backend> {
    ctx: StatsContext<B>,
    keys: StatsKeys,
    device: Vec<DeviceKeys<B>>,
}

/// A cache of loaded key sets bounded in bytes (least recently used out first).
struct KeyCache<B: Backend> {
    limit: u64,
    clock: u64,
    entries: HashMap<PathBuf, (Arc<Loaded<B>>, u64, u64)>,
}

impl<B: Backend> KeyCache<B> {
    fn total(&self) -> u64 {
        self.entries.values().map(|e| e.1).sum()
    }
}

/// The query runner of one backend.
struct Runner<B: Backend> {
    backend: Arc<B>,
    cache: Mutex<KeyCache<B>>,
    /// Held while a key set loads.
    loading: Mutex<()>,
}

impl<B: Backend> Runner<B> {
    /// The key set of `path`, from the cache or loaded (then cached, evicting the least
    /// recently used until the cache fits its bound). A set counts three times its file size:
    /// the uniform halves arrive as seeds and are expanded, and the device form is a copy.
    fn keys(&self, keys: &KeyInfo, path: &Path) -> Result<Arc<Loaded<B>>, AppError> {
        let poisoned = || AppError::Config("the key cache was poisoned".into());
        let cached = |cache: &Mutex<KeyCache<B>>| -> Result<Option<Arc<Loaded<B>>>, AppError> {
            let mut cache = cache.lock().map_err(|_| poisoned())?;
            cache.clock += 1;
            let now = cache.clock;
            Ok(cache.entries.get_mut(path).map(|e| {
                e.2 = now;
                e.0.clone()
            }))
        };
        if let Some(hit) = cached(&self.cache)? {
            return Ok(hit);
        }
        // One load at a time: a query arriving while the same keys load (the preload after
        // an upload) waits for them instead of loading them twice.
        let _loading = self.loading.lock().map_err(|_| poisoned())?;
        if let Some(hit) = cached(&self.cache)? {
            return Ok(hit);
        }
        let bytes = crate::keys::read_file(path)?;
        let (ctx, stats_keys) = crate::keys::open_eval(self.backend.clone(), &bytes)?;
        if ctx.params().preset().name() != keys.preset || ctx.params().moduli() != keys.moduli {
            return Err(AppError::Format(format!("{}: not the key set the dataset recorded", path.display())));
        }
        let device = (0..ctx.schemes().len()).map(|_| DeviceKeys::default()).collect();
        let loaded = Arc::new(Loaded { ctx, keys: stats_keys, device });
        let size = 3 * bytes.len() as u64;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        while !cache.entries.is_empty() && cache.total() + size > cache.limit {
            let oldest = cache.entries.iter().min_by_key(|(_, e)| e.2).map(|(p, _)| p.clone());
            if let Some(p) = oldest {
                cache.entries.remove(&p);
            }
        }
        let now = cache.clock;
        if size <= cache.limit {
            cache.entries.insert(path.to_path_buf(), (loaded.clone(), size, now));
        }
        Ok(loaded)
    }
}

impl<B: Backend> QueryRunner for Runner<B> {
    fn columns_needed(&self, schema: &Schema, request: &QueryRequest) -> Result<Vec<usize>, AppError> {
        Ok(request.spec(schema)?.columns())
    }

    fn run(&self, schema: &Schema, keys: &KeyInfo, key_path: &Path, request: &QueryRequest, source: &mut ColumnSource<'_>, progress: &dyn Fn(f64)) -> Result<Vec<u8>, AppError> {
        let spec = request.spec(schema)?;
        progress(0.0);
        let loaded = self.keys(keys, key_path)?;
        let ctx = &loaded.ctx;
        progress(0.2);
        let indices = spec.columns();
        let blobs = indices.iter().map(|&i| source(i)).collect::<Result<Vec<_>, _>>()?;
        let uploads = blobs.first().map_or(0, Vec::len);
        if uploads == 0 {
            return Err(AppError::Schema("no records match the query".into()));
        }
        if blobs.iter().any(|b| b.len() != uploads) {
            return Err(AppError::Format("the store returned columns of different uploads".into()));
        }
        let per_upload: Vec<Vec<&[u8]>> = (0..uploads).map(|u| blobs.iter().map(|b| b[u].as_slice()).collect()).collect();
        let table = crate::results::table_from_columns(ctx, &per_upload)?;
        progress(0.5);
        let ev = ctx.evaluator_sharing(&loaded.keys, &loaded.device)?;
        let out = match spec {
            Spec::Stats { items, batched } => {
                let requests: Vec<(Stat, &str)> = items.iter().map(|(s, c, _)| (*s, *c)).collect();
                let mut results = ev.evaluate(&table, &requests)?;
                if batched {
                    crate::results::stats_file(ctx, &results)?
                } else {
                    crate::results::stat_file(ctx, &results.pop().ok_or_else(|| AppError::Format("no result".into()))?)?
                }
            }
            Spec::Scores { model, .. } => crate::results::scores_file(ctx, &ev.logistic_scores(&table, model)?)?,
        };
        progress(1.0);
        Ok(out)
    }

    fn warm(&self, keys: &KeyInfo, key_path: &Path) -> Result<(), AppError> {
        self.keys(keys, key_path).map(drop)
    }

    fn evict(&self, key_path: &Path) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.entries.remove(key_path);
        }
    }

    fn cached_bytes(&self) -> u64 {
        self.cache.lock().map_or(0, |c| c.total())
    }

    fn backend_name(&self) -> String {
        self.backend.name().to_string()
    }
}

/// A query runner on `backend`, caching at most `cache_bytes` of keys.
pub fn runner_on<B: Backend + 'static>(backend: Arc<B>, cache_bytes: u64) -> Box<dyn QueryRunner> {
    Box::new(Runner { backend, cache: Mutex::new(KeyCache { limit: cache_bytes, clock: 0, entries: HashMap::new() }), loading: Mutex::new(()) })
}

/// A query runner on the engine's backend, caching at most `cache_bytes` of keys.
pub fn runner(engine: &Engine, cache_bytes: u64) -> Box<dyn QueryRunner> {
    match engine {
        Engine::Cpu(b) => runner_on(b.clone(), cache_bytes),
        #[cfg(feature = "gpu")]
        Engine::Gpu(b) => runner_on(b.clone(), cache_bytes),
    }
}
