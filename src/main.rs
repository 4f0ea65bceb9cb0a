//! The `ringvault` command line.

use std::process::ExitCode;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use ringvault::bench::{self, BenchConfig};
use ringvault::cpu::CpuLevel;
use ringvault::app::dataset::DEFAULT_MAX_RECORDS;
use ringvault::core::scheme::Preset;
use ringvault::engine::{BackendChoice, Engine, Settings};
use ringvault::{commands, on_backend};

#[derive(Parser, Debug)]
#[command(name = "ringvault", version, about = "Ring-LWE homomorphic encryption on CPU SIMD and GPU")]
struct Cli {
    /// Compute backend: auto picks a hardware GPU when present, else the CPU (also
    /// `RINGVAULT_BACKEND`, or `backend = "…"` in ./ringvault.toml; see README "Choosing a
    /// backend" for the GPU settings).
    #[arg(long, global = true, value_enum, env = "RINGVAULT_BACKEND")]
    backend: Option<BackendChoice>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LevelArg {
    Scalar,
    Avx2,
    Avx512,
}

impl From<LevelArg> for CpuLevel {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::Scalar => CpuLevel::Scalar,
            LevelArg::Avx2 => CpuLevel::Avx2,
            LevelArg::Avx512 => CpuLevel::Avx512,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the backends, CPU level and GPU adapters of this machine.
    Info {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Time the backend kernels and the scheme (every CPU level, or the GPU with
    /// `--backend gpu`).
    Bench {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// A short sweep (n = 4096 only, small batches).
        #[arg(long)]
        quick: bool,
        /// CPU levels to measure (default: every supported level; CPU only).
        #[arg(long, value_enum, value_delimiter = ',')]
        level: Vec<LevelArg>,
        /// Ring degrees of the kernels (default: 4096,8192,16384; GPU: 16384,65536).
        #[arg(long, value_delimiter = ',')]
        n: Vec<usize>,
        /// Limbs per polynomial of the kernels (default: 1; GPU: 8,32).
        #[arg(long, value_delimiter = ',')]
        limbs: Vec<usize>,
        /// Polynomials per batch of the kernels (default: 1,64; GPU: 64).
        #[arg(long, value_delimiter = ',')]
        batch: Vec<usize>,
        /// Ciphertexts per call of `bgv_mul_relin_batch` (default: 64).
        #[arg(long)]
        scheme_batch: Option<usize>,
        /// Only operations whose name contains one of these (e.g. `ntt,bgv_rotate`).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Presets of the scheme benchmarks (default: n2048-add,n4096,n8192).
        #[arg(long, value_delimiter = ',')]
        preset: Vec<String>,
        /// Skip the scheme benchmarks (kernels only).
        #[arg(long)]
        no_scheme: bool,
    },
    /// The main job end to end: a synthetic cohort encrypted, statistics and risk scores
    /// computed on ciphertexts, decrypted and checked; the paper's 100 × 128-bit sum.
    Demo {
        /// Patients in the synthetic cohort.
        #[arg(long, default_value_t = 10_000)]
        records: usize,
    },
    /// Owner: generate secret.key, public.key and eval.keys into a directory.
    Keygen {
        /// Directory for the key files.
        #[arg(long)]
        dir: PathBuf,
        /// Ring preset (n4096, n8192, n16384, n32768); default n8192, or with --schema the
        /// smallest that holds the schema's computations.
        #[arg(long, conflicts_with = "schema")]
        preset: Option<String>,
        /// A vault schema: the parameters follow from its ranges and computations.
        #[arg(long, value_name = "SCHEMA.json")]
        schema: Option<PathBuf>,
        /// The records a table or dataset must hold (default: the schema's max_records, else
        /// 1000000): with --schema it picks the preset; it always sizes the evaluation keys,
        /// whose rotations serve only the levels totals of that many records are summed at.
        #[arg(long)]
        records: Option<u64>,
    },
    /// Owner: encrypt every numeric column of a CSV file with the public key only.
    Encrypt {
        /// Directory with public.key.
        #[arg(long)]
        keys: PathBuf,
        /// CSV file with a header line.
        #[arg(long)]
        csv: PathBuf,
        /// Encrypted data file to write.
        #[arg(long)]
        out: PathBuf,
        /// Decimals of a column, `COL=D` (repeatable; detected otherwise).
        #[arg(long, value_name = "COL=D")]
        decimals: Vec<String>,
        /// Skip empty or non-numeric cells (counted) instead of failing.
        #[arg(long)]
        skip_missing: bool,
        /// Chunks of `n` records encrypted and written at a time: memory holds about one
        /// block, whatever the size of the file.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
        block_chunks: u32,
    },
    /// Server: compute a statistic or model scores with public.key and eval.keys only.
    Eval {
        /// Directory with eval.keys (secret.key is never opened).
        #[arg(long)]
        keys: PathBuf,
        /// Encrypted data file.
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        what: What,
        /// Encrypted result file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the vault: a durable, authenticated HTTP service that stores encrypted records and
    /// computes on them without any secret key.
    Serve {
        /// The store's directory (created; holds vault.redb, keys/ and operator.token).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:8700).
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
        /// TLS certificate chain (PEM); with --tls-key the vault speaks HTTPS only.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Talk to a vault: create datasets, issue device tokens, push records, query.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// Owner: decrypt a result with secret.key.
    Decrypt {
        /// Directory with secret.key.
        #[arg(long)]
        keys: PathBuf,
        /// Encrypted result file.
        #[arg(long)]
        result: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `eval` and `vault query` compute: a statistic of a column, or a model's scores.
#[derive(clap::Args, Debug, Clone)]
struct What {
    /// count, sum, mean, sum_of_squares, variance, stddev, sample_variance, sample_stddev.
    #[arg(long, requires = "column", conflicts_with = "logreg")]
    stat: Option<String>,
    /// The column (quote names with spaces).
    #[arg(long)]
    column: Option<String>,
    /// Logistic model: {"intercept": b, "weights": {"column": w, ...}}.
    #[arg(long, value_name = "MODEL.json")]
    logreg: Option<PathBuf>,
}

/// Where a vault command connects.
#[derive(clap::Args, Debug, Clone)]
struct Conn {
    /// The vault's URL, e.g. http://127.0.0.1:8700.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The token file (operator.token, KEYS/owner.token, or a device's file).
    #[arg(long, value_name = "FILE")]
    token: PathBuf,
    /// A PEM certificate to trust for https (a private CA or the server's self-signed one).
    #[arg(long, value_name = "PEM")]
    ca: Option<PathBuf>,
}

impl From<Conn> for ringvault::vault_cli::Connection {
    fn from(c: Conn) -> Self {
        Self { server: c.server, token: c.token, ca: c.ca }
    }
}

#[derive(Subcommand, Debug)]
enum VaultCommand {
    /// Operator: create a dataset for the owner's keys; writes KEYS/owner.token and prints the
    /// dataset id as the last line.
    Create {
        #[command(flatten)]
        conn: Conn,
        /// The owner's keys directory (eval.keys is uploaded; owner.token is written there).
        #[arg(long)]
        keys: PathBuf,
        /// The dataset's name.
        #[arg(long)]
        name: String,
        /// The column schema: {"columns": [{"name": "bmi", "decimals": 1, "min": 10, "max": 80}, ...]}.
        #[arg(long, value_name = "SCHEMA.json")]
        schema: PathBuf,
    },
    /// Owner: issue a device token that may append to one dataset.
    Device {
        #[command(flatten)]
        conn: Conn,
        /// The dataset id.
        #[arg(long)]
        dataset: String,
        /// The device's name.
        #[arg(long)]
        name: String,
        /// The device token file to write (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Owner: revoke a device token (by its file or device id).
    Revoke {
        #[command(flatten)]
        conn: Conn,
        /// The dataset id.
        #[arg(long)]
        dataset: String,
        /// The device's token file or id.
        #[arg(long)]
        device: String,
    },
    /// Device or owner: encrypt a CSV with public.key only and append it to a dataset.
    Push {
        #[command(flatten)]
        conn: Conn,
        /// Directory with public.key.
        #[arg(long)]
        keys: PathBuf,
        /// The dataset id.
        #[arg(long)]
        dataset: String,
        /// CSV file with a header line (the schema's columns; others are ignored).
        #[arg(long)]
        csv: PathBuf,
        /// Decimals of a column, `COL=D` (default: the schema's).
        #[arg(long, value_name = "COL=D")]
        decimals: Vec<String>,
        /// Skip empty or non-numeric cells (counted) instead of failing.
        #[arg(long)]
        skip_missing: bool,
        /// Records per upload (default: 16 ciphertexts per used modulus; 1 sends one reading at a time).
        #[arg(long)]
        rows_per_upload: Option<usize>,
        /// Names this push: rerunning it with the same key stores nothing twice (default: a
        /// random key; retries within one run always reuse theirs).
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        /// Start of the readings' time range (Unix seconds or RFC 3339).
        #[arg(long, value_parser = ringvault::vault_cli::parse_time)]
        from: Option<i64>,
        /// End of the readings' time range.
        #[arg(long, value_parser = ringvault::vault_cli::parse_time)]
        to: Option<i64>,
    },
    /// Owner: compute a statistic or model scores on the vault; writes the result file.
    Query {
        #[command(flatten)]
        conn: Conn,
        /// The dataset id.
        #[arg(long)]
        dataset: String,
        #[command(flatten)]
        what: What,
        /// Several statistics in one batch, `STAT:COLUMN` (repeatable; one `stats` result file).
        #[arg(long = "stats", value_name = "STAT:COLUMN", conflicts_with_all = ["stat", "logreg"])]
        stats: Vec<String>,
        /// Only uploads whose time range ends at or after this (Unix seconds or RFC 3339).
        #[arg(long, value_parser = ringvault::vault_cli::parse_time)]
        from: Option<i64>,
        /// Only uploads whose time range starts at or before this.
        #[arg(long, value_parser = ringvault::vault_cli::parse_time)]
        to: Option<i64>,
        /// Only uploads of this device (its id).
        #[arg(long)]
        device: Option<String>,
        /// Encrypted result file to write (`ringvault decrypt` reads it).
        #[arg(long)]
        out: PathBuf,
    },
    /// Operator or owner: list datasets with their record counts and bytes.
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Operator or owner: delete a dataset, its keys and records.
    Delete {
        #[command(flatten)]
        conn: Conn,
        /// The dataset id.
        #[arg(long)]
        dataset: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_decimals(specs: &[String]) -> Result<BTreeMap<String, u32>, String> {
    specs
        .iter()
        .map(|s| {
            let (col, d) = s.rsplit_once('=').ok_or_else(|| format!("--decimals {s:?}: expected COL=D"))?;
            let d: u32 = d.trim().parse().map_err(|_| format!("--decimals {s:?}: D must be a number"))?;
            Ok((col.to_string(), d))
        })
        .collect()
}

fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::resolve(cli.backend).map_err(|e| e.to_string())?;
    if let Command::Info { json } = cli.command {
        // Lists adapters without opening a device.
        let info = ringvault::info::detect();
        if json {
            println!("{}", serde_json::to_string(&info).map_err(|e| e.to_string())?);
        } else {
            println!("{info}");
        }
        return Ok(());
    }
    if let Command::Vault { command } = cli.command {
        return vault_command(command, &settings);
    }
    let selection = Engine::select(&settings).map_err(|e| e.to_string())?;
    let engine = selection.engine;
    if !matches!(cli.command, Command::Demo { .. }) {
        eprintln!("{}", selection.note);
    }
    let text = |r: Result<String, ringvault::CliError>| r.map(|s| println!("{s}")).map_err(|e| e.to_string());
    match cli.command {
        Command::Info { .. } => {} // printed above, before a backend is opened
        Command::Bench { json, quick, level, n, limbs, batch, scheme_batch, only, preset, no_scheme } => {
            let mut config = match (quick, engine.is_gpu()) {
                (true, _) => BenchConfig::quick(),
                (false, true) => BenchConfig::gpu(),
                (false, false) => BenchConfig::standard(),
            };
            if !level.is_empty() {
                if engine.is_gpu() {
                    return Err("--level selects CPU levels; it does not apply to the GPU backend".into());
                }
                config.levels = level.into_iter().map(CpuLevel::from).collect();
            }
            if !n.is_empty() {
                config.degrees = n;
            }
            if !limbs.is_empty() {
                config.limbs = limbs;
            }
            if !batch.is_empty() {
                config.batches = batch;
            }
            if let Some(k) = scheme_batch {
                config.scheme_batch = k;
            }
            config.scheme &= !no_scheme;
            config.only = only;
            if !preset.is_empty() {
                config.presets = preset
                    .iter()
                    .map(|p| ringvault::core::scheme::Preset::from_name(p).ok_or_else(|| format!("unknown preset {p:?} (n2048-add, n4096, n8192, n16384, n32768)")))
                    .collect::<Result<_, _>>()?;
            }
            if config.only.iter().any(|o| o.starts_with("vault")) {
                // The service benchmarks run only when asked for: they start servers and write GBs.
                let records: &[usize] = if quick { &[10_000] } else { &[10_000, 100_000, 1_000_000] };
                let arg = if engine.is_gpu() { "gpu" } else { "cpu" };
                return on_backend!(&engine, |b| ringvault::bench_vault::run(b.clone(), arg, json, records)).map_err(|e| e.to_string());
            }
            if !json {
                eprintln!("{}", ringvault::info::detect());
                println!("{}", bench::TABLE_HEADER);
            }
            let mut emit = |r: bench::Record| {
                if json {
                    match serde_json::to_string(&r) {
                        Ok(line) => println!("{line}"),
                        Err(e) => eprintln!("error: {e}"),
                    }
                } else {
                    println!("{}", bench::table_row(&r));
                }
            };
            match &engine {
                Engine::Cpu(_) => bench::run(&config, &mut emit),
                #[cfg(feature = "gpu")]
                Engine::Gpu(gpu) => bench::run_on(&config, gpu.clone(), &mut emit),
            }
            .map_err(|e| e.to_string())?;
        }
        Command::Demo { records } => {
            println!("RingVault — homomorphic encryption of medical records: a server computes on data it cannot read\n");
            println!("{}\n", ringvault::info::detect());
            let report = ringvault::selfcheck::run().map_err(|e| e.to_string())?;
            println!("{report}\n");
            text(on_backend!(&engine, |b| ringvault::demo::run(b.clone(), records, &selection.note)))?;
        }
        Command::Keygen { dir, preset, schema, records } => {
            let (preset, records) = match (preset, schema) {
                (_, Some(path)) => {
                    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    let schema = ringvault::app::dataset::Schema::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                    let records = records.unwrap_or_else(|| schema.declared_records());
                    let preset = schema.preset_for(records).map_err(|e| e.to_string())?;
                    eprintln!("{}: {} holds {records} records of every declared computation", path.display(), preset.name());
                    (preset, records)
                }
                (Some(name), None) => (Preset::from_name(&name).ok_or_else(|| format!("unknown preset {name:?} (n4096, n8192, n16384, n32768)"))?, records.unwrap_or(DEFAULT_MAX_RECORDS)),
                (None, None) => (Preset::N8192, records.unwrap_or(DEFAULT_MAX_RECORDS)),
            };
            text(on_backend!(&engine, |b| commands::keygen(b.clone(), &dir, preset, records)))?;
        }
        Command::Encrypt { keys, csv, out, decimals, skip_missing, block_chunks } => {
            let decimals = parse_decimals(&decimals)?;
            text(on_backend!(&engine, |b| commands::encrypt(b.clone(), &keys, &csv, &out, &decimals, skip_missing, block_chunks as usize)))?;
        }
        Command::Eval { keys, data, what: What { stat, column, logreg }, out } => {
            let request = match (stat, column, logreg) {
                (Some(stat), Some(column), None) => commands::EvalRequest::Stat(stat.parse().map_err(|e: ringvault::core::Error| e.to_string())?, column),
                (None, _, Some(model)) => {
                    let text = std::fs::read_to_string(&model).map_err(|e| format!("{}: {e}", model.display()))?;
                    commands::EvalRequest::LogReg(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", model.display()))?)
                }
                _ => return Err("eval needs --stat STAT --column NAME, or --logreg MODEL.json".into()),
            };
            text(on_backend!(&engine, |b| commands::eval(b.clone(), &keys, &data, &request, &out)))?;
        }
        Command::Serve { data, listen, tls_cert, tls_key } => {
            ringvault::vault_cli::serve(&settings, &engine, data, listen, tls_cert, tls_key).map_err(|e| e.to_string())?;
        }
        Command::Vault { .. } => {} // handled above, before a backend is opened
        Command::Decrypt { keys, result, json } => {
            text(on_backend!(&engine, |b| commands::decrypt(b.clone(), &keys, &result, json)))?;
        }
    }
    Ok(())
}

/// The `vault` commands: a backend is opened only to encrypt (`push`).
fn vault_command(command: VaultCommand, settings: &Settings) -> Result<(), String> {
    use ringvault::vault_cli as v;
    let out = match command {
        VaultCommand::Create { conn, keys, name, schema } => v::create(&conn.into(), &keys, &name, &schema),
        VaultCommand::Device { conn, dataset, name, out } => v::device(&conn.into(), &dataset, &name, &out),
        VaultCommand::Revoke { conn, dataset, device } => v::revoke(&conn.into(), &dataset, &device),
        VaultCommand::Push { conn, keys, dataset, csv, decimals, skip_missing, rows_per_upload, idempotency_key, from, to } => {
            let engine = Engine::select(settings).map_err(|e| e.to_string())?;
            eprintln!("{}", engine.note);
            let opts = v::PushOptions { decimals: parse_decimals(&decimals)?, skip_missing, rows_per_upload, idempotency_key, from, to };
            v::push(&conn.into(), &engine.engine, &keys, &dataset, &csv, &opts)
        }
        VaultCommand::Query { conn, dataset, what: What { stat, column, logreg }, stats, from, to, device, out } => {
            let what = match (stat, column, logreg) {
                (None, None, None) if !stats.is_empty() => v::QueryWhat::Stats(
                    stats.iter().map(|s| s.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| format!("--stats {s:?}: expected STAT:COLUMN"))).collect::<Result<_, _>>()?,
                ),
                (Some(stat), Some(column), None) => v::QueryWhat::Stat(stat, column),
                (None, _, Some(model)) => v::QueryWhat::LogReg(model),
                _ => return Err("vault query needs --stat STAT --column NAME, --stats STAT:COLUMN ..., or --logreg MODEL.json".into()),
            };
            v::query(&conn.into(), &dataset, &what, from, to, device, &out)
        }
        VaultCommand::List { conn } => v::list(&conn.into()),
        VaultCommand::Delete { conn, dataset } => v::delete(&conn.into(), &dataset),
    };
    out.map(|s| println!("{s}")).map_err(|e| e.to_string())
}
