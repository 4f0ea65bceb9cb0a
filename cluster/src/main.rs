//! `ringvault-cluster`: a Ballista scheduler or executor with the `rv_*` functions, and SQL
//! over tables of ciphertext cells (embedded DataFusion or a cluster).
//!
//! ```text
//! ringvault-cluster scheduler --bind 127.0.0.1:50050
//! ringvault-cluster executor --scheduler 127.0.0.1:50050 --flight-port 50051 --grpc-port 50052 --work-dir /tmp/ex1
//! ringvault-cluster export --vault http://127.0.0.1:8700 --token-file keys/owner.token --dataset ID --out DIR/part-0.parquet
//! ringvault-cluster sql --engine ballista://127.0.0.1:50050 --table readings=DIR --out mean.rv \
//!     "SELECT rv_stat(rows, 'mean', 'glucose') FROM readings"
//! ```
//!
//! The backend is chosen as everywhere (`--backend`, `RINGVAULT_BACKEND`, `ringvault.toml`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use ringvault_app::config::{BackendChoice, Settings};
use ringvault_app::engine::Engine;
use ringvault_cluster::distributed::{ExecutorOptions, remote, run_executor, run_scheduler};

#[derive(Parser)]
#[command(name = "ringvault-cluster", version, about = "RingVault's encrypted aggregates on DataFusion and Ballista")]
struct Cli {
    /// Compute backend: auto, cpu or gpu (default: RINGVAULT_BACKEND, ringvault.toml, auto).
    #[arg(long, global = true)]
    backend: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A Ballista scheduler with the functions.
    Scheduler {
        /// Where its gRPC service listens.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
    },
    /// A Ballista executor with the functions.
    Executor {
        /// The scheduler's address.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: SocketAddr,
        /// The address it binds and advertises.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Its Arrow Flight port (shuffle output).
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        /// Its gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks at once (default: the cores).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Where its shuffle files go.
        #[arg(long)]
        work_dir: PathBuf,
        /// Its name in logs and in the scheduler (default: executor-FLIGHT_PORT).
        #[arg(long)]
        id: Option<String>,
    },
    /// Writes a vault dataset's stored uploads into a Parquet readings file (owner token).
    Export {
        /// The vault's URL.
        #[arg(long)]
        vault: String,
        /// The owner's token file.
        #[arg(long)]
        token_file: PathBuf,
        /// The dataset's id.
        #[arg(long)]
        dataset: String,
        /// Only uploads after this sequence number (the last line of a previous export).
        #[arg(long)]
        after: Option<u64>,
        /// A PEM file of the CA that signed the vault's certificate (HTTPS).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// The Parquet file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Runs one query and prints its result; binary cells (encrypted results) go to files.
    Sql {
        /// `embedded` (this process) or `ballista://HOST:PORT` (a scheduler).
        #[arg(long, default_value = "embedded")]
        engine: String,
        /// A Parquet readings table: NAME=PATH (a file or a folder of files), repeatable.
        #[arg(long = "table", required = true)]
        tables: Vec<String>,
        /// Where the first row's binary result goes (further binary cells: FILE.1, FILE.2, …).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The query.
        query: String,
    },
}

fn engine(backend: Option<&str>) -> Result<Engine, String> {
    let choice = backend.map(str::parse::<BackendChoice>).transpose().map_err(|e| e.to_string())?;
    let settings = Settings::resolve(choice).map_err(|e| e.to_string())?;
    let selection = Engine::select(&settings).map_err(|e| e.to_string())?;
    eprintln!("{}", selection.note);
    Ok(selection.engine)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    // Planning deep expressions recurses: Ballista's own binaries use 32 MB stacks.
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(32 << 20).build().map_err(|e| e.to_string())
}

/// Writes the result's binary cells to `out`, `out.1`, …; prints the rest.
fn report(batches: &[RecordBatch], out: Option<&PathBuf>) -> Result<(), String> {
    let mut written = 0usize;
    let mut shown = Vec::with_capacity(batches.len());
    for b in batches {
        let mut columns = b.columns().to_vec();
        for (c, col) in b.columns().iter().enumerate() {
            if col.data_type() != &DataType::Binary {
                continue;
            }
            let a = col.as_binary::<i32>();
            let mut names = Vec::with_capacity(a.len());
            for i in 0..a.len() {
                if a.is_null(i) {
                    names.push(None);
                    continue;
                }
                let Some(base) = out else { return Err("the result has encrypted cells: name a file with --out".into()) };
                let path = if written == 0 { base.clone() } else { PathBuf::from(format!("{}.{written}", base.display())) };
                std::fs::write(&path, a.value(i)).map_err(|e| format!("{}: {e}", path.display()))?;
                names.push(Some(path.display().to_string()));
                written += 1;
            }
            columns[c] = std::sync::Arc::new(datafusion::arrow::array::StringArray::from(names));
        }
        let fields: Vec<_> = b.schema().fields().iter().zip(&columns).map(|(f, c)| datafusion::arrow::datatypes::Field::new(f.name(), c.data_type().clone(), true)).collect();
        shown.push(RecordBatch::try_new(std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields)), columns).map_err(|e| e.to_string())?);
    }
    println!("{}", pretty_format_batches(&shown).map_err(|e| e.to_string())?);
    Ok(())
}

async fn sql(engine: &Engine, url: &str, tables: &[String], query: &str) -> Result<Vec<RecordBatch>, String> {
    // Cells of the default preset: about 0.2 MB per used modulus, two moduli.
    let cell_bytes = 400_000;
    let ctx: SessionContext = match url {
        "embedded" => ringvault_cluster::session(engine, cell_bytes, std::thread::available_parallelism().map_or(1, usize::from)),
        u => {
            let rest = u.strip_prefix("ballista://").ok_or_else(|| format!("--engine {u:?}: embedded or ballista://HOST:PORT"))?;
            remote(&format!("df://{rest}"), engine, cell_bytes).await.map_err(|e| e.to_string())?
        }
    };
    for t in tables {
        let (name, path) = t.split_once('=').ok_or_else(|| format!("--table {t:?}: NAME=PATH"))?;
        ctx.register_parquet(name, path, ParquetReadOptions::default()).await.map_err(|e| format!("table {name}: {e}"))?;
    }
    let df = ctx.sql(query).await.map_err(|e| e.to_string())?;
    df.collect().await.map_err(|e| e.to_string())
}

fn run(cli: Cli) -> Result<(), String> {
    let engine = engine(cli.backend.as_deref())?;
    let rt = runtime()?;
    match cli.command {
        Command::Scheduler { bind } => rt.block_on(run_scheduler(bind, engine)).map_err(|e| e.to_string()),
        Command::Executor { scheduler, host, flight_port, grpc_port, concurrency, work_dir, id } => {
            std::fs::create_dir_all(&work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
            let concurrency = concurrency.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
            let options = ExecutorOptions { id: id.unwrap_or_else(|| format!("executor-{flight_port}")), host, flight_port, grpc_port, scheduler, concurrency, work_dir };
            rt.block_on(run_executor(options, engine)).map_err(|e| e.to_string())
        }
        Command::Export { vault, token_file, dataset, after, ca_file, out } => {
            let token = ringvault_vault::client::Client::token_from_file(&token_file).map_err(|e| e.to_string())?;
            let mut client = ringvault_vault::client::Client::new(&vault, &token).map_err(|e| e.to_string())?;
            if let Some(ca) = ca_file {
                client = client.with_ca_file(&ca).map_err(|e| e.to_string())?;
            }
            let (written, last) = ringvault_cluster::export::export_vault(&client, &dataset, after, &out).map_err(|e| e.to_string())?;
            println!("{} uploads, {} records in {} cells, {} row groups: {}", written.uploads, written.records, written.cells, written.row_groups, out.display());
            // The last line: where the next export starts (--after).
            println!("{}", last.map_or_else(|| "none".to_string(), |l| l.to_string()));
            Ok(())
        }
        Command::Sql { engine: url, tables, out, query } => {
            let batches = rt.block_on(sql(&engine, &url, &tables, &query))?;
            report(&batches, out.as_ref())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
