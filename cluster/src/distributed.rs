//! A Ballista cluster with the `rv_*` functions: our scheduler and executor (Ballista's, run
//! as libraries with the functions registered in each), and the client's session.
//!
//! Every process evaluates on its own backend (`RINGVAULT_BACKEND`, `ringvault.toml`). None
//! holds a key: row-packed statistics and scores need none, and no secret key ever reaches
//! the cluster; cells carry the public metadata that checks them. Functions travel in plans
//! by name, so a process without them would reject the job: the scheduler plans with them,
//! every executor runs them, and the client registers them again on the context Ballista
//! returns (it rebuilds its session state and drops user functions).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::JobId;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::execution_engine::{DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::start_server;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::{SessionContext, SessionState};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;

use ringvault_app::engine::{Engine, OnBackend};
use ringvault_core::Backend;

use crate::{config, functions, register};

/// Seconds without a heartbeat (executors send one a second) after which the scheduler
/// declares an executor lost and runs its tasks again on the others.
pub const EXECUTOR_TIMEOUT_SECONDS: u64 = 5;

fn ballista_error(e: ballista_core::error::BallistaError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// A session state with the functions, for the scheduler's planning.
fn state_with_functions(engine: &Engine, config: SessionConfig) -> Result<SessionState> {
    let ctx = SessionContext::new_with_state(SessionStateBuilder::new().with_config(config).with_default_features().build());
    register(&ctx, engine);
    Ok(ctx.state())
}

/// Ballista's function registry with the `rv_*` functions added.
fn registry(engine: &Engine) -> BallistaFunctionRegistry {
    struct Add(BallistaFunctionRegistry);
    impl OnBackend for Add {
        type Output = BallistaFunctionRegistry;
        fn run<B: Backend + 'static>(mut self, backend: Arc<B>) -> BallistaFunctionRegistry {
            let (aggregates, scalars) = functions(backend);
            self.0.aggregate_functions.extend(aggregates.into_iter().map(|a| (a.name().to_string(), Arc::new(a))));
            self.0.scalar_functions.extend(scalars.into_iter().map(|s| (s.name().to_string(), Arc::new(s))));
            self.0
        }
    }
    engine.run(Add(BallistaFunctionRegistry::default()))
}

/// Runs a scheduler on `bind` (its gRPC service; executors and clients connect there) until
/// it fails.
///
/// # Errors
/// Configuration and service errors.
pub async fn run_scheduler(bind: SocketAddr, engine: Engine) -> Result<()> {
    let mut config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        // Tasks spread over every executor; a silent executor is declared lost after
        // EXECUTOR_TIMEOUT and its tasks run again elsewhere.
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: EXECUTOR_TIMEOUT_SECONDS,
        expire_dead_executor_interval_seconds: 1,
        no_executors_grace_period_seconds: EXECUTOR_TIMEOUT_SECONDS,
        ..SchedulerConfig::default()
    };
    config = config.with_override_session_builder(Arc::new(move |c: SessionConfig| state_with_functions(&engine, c)));
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(ballista_error)?;
    start_server(cluster, bind, Arc::new(config)).await.map_err(ballista_error)
}

/// Where an executor listens and which scheduler it serves.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// A name for its log lines and the scheduler (unique in the cluster).
    pub id: String,
    /// The address it binds and advertises.
    pub host: String,
    /// Its Arrow Flight port (where other executors fetch its shuffle output).
    pub flight_port: u16,
    /// Its gRPC port.
    pub grpc_port: u16,
    /// The scheduler's address.
    pub scheduler: SocketAddr,
    /// Tasks run at once.
    pub concurrency: usize,
    /// Where its shuffle files go.
    pub work_dir: std::path::PathBuf,
}

/// The default engine, logging each task it is given (`ringvault-executor ID: task JOB/STAGE/TASK`
/// on standard error): what an operator reads to see where a query ran.
struct Logged {
    id: String,
    inner: DefaultExecutionEngine,
}

impl ExecutionEngine for Logged {
    fn create_query_stage_exec(&self, job_id: JobId, stage_id: usize, task_id: usize, partitions: Vec<usize>, plan: Arc<dyn ExecutionPlan>, work_dir: &str, config: &SessionConfig) -> Result<Arc<dyn QueryStageExecutor>> {
        eprintln!("ringvault-executor {}: task {job_id}/{stage_id}/{task_id} (partitions {partitions:?})", self.id);
        hold_while_asked(std::path::Path::new(work_dir));
        self.inner.create_query_stage_exec(job_id, stage_id, task_id, partitions, plan, work_dir, config)
    }
}

/// The tests' failpoint: with `RINGVAULT_CLUSTER_FAULTS=1`, a task is held (up to a minute)
/// while `WORK_DIR/fault-hold-task` exists, so a test can kill an executor in mid-query.
fn hold_while_asked(work_dir: &std::path::Path) {
    if std::env::var_os("RINGVAULT_CLUSTER_FAULTS").is_none_or(|v| v != "1") {
        return;
    }
    let hold = work_dir.join("fault-hold-task");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while hold.exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs an executor until it fails.
///
/// # Errors
/// Configuration, connection and service errors.
pub async fn run_executor(options: ExecutorOptions, engine: Engine) -> Result<()> {
    let work_dir = options.work_dir.to_str().ok_or_else(|| DataFusionError::Configuration("the work directory must be UTF-8".into()))?.to_string();
    let config = ExecutorProcessConfig {
        executor_id: options.id.clone(),
        bind_host: options.host.clone(),
        external_host: Some(options.host.clone()),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.ip().to_string(),
        scheduler_port: options.scheduler.port(),
        scheduler_connect_timeout_seconds: 10,
        vcores: options.concurrency.max(1),
        work_dir: Some(work_dir),
        executor_heartbeat_interval_seconds: 1,
        override_function_registry: Some(Arc::new(registry(&engine))),
        override_execution_engine: Some(Arc::new(Logged { id: options.id, inner: DefaultExecutionEngine::new() })),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(ballista_error)
}

/// A client session on the cluster whose scheduler is at `url` (`df://HOST:PORT`), for
/// cells of about `cell_bytes` bytes, with the functions registered on `engine` (the
/// client's own planning needs them; the cluster evaluates on its backends).
///
/// # Errors
/// A malformed URL.
pub async fn remote(url: &str, engine: &Engine, cell_bytes: usize) -> Result<SessionContext> {
    let state = SessionStateBuilder::new().with_config(config(cell_bytes)).with_default_features().build();
    let ctx = SessionContext::remote_with_state(url, state).await?;
    // The context Ballista returns has a rebuilt state without user functions.
    register(&ctx, engine);
    Ok(ctx)
}
