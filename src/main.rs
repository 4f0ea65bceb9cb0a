//! The `ringvault` command line.

use std::process::ExitCode;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use ringvault::bench::{self, BenchConfig};
use ringvault::cpu::CpuLevel;
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
        /// Ring preset (n4096, n8192, n16384, n32768).
        #[arg(long, default_value = "n8192")]
        preset: String,
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
    },
    /// Server: compute a statistic or model scores with public.key and eval.keys only.
    Eval {
        /// Directory with eval.keys (secret.key is never opened).
        #[arg(long)]
        keys: PathBuf,
        /// Encrypted data file.
        #[arg(long)]
        data: PathBuf,
        /// count, sum, mean, sum_of_squares, variance, stddev, sample_variance, sample_stddev.
        #[arg(long, requires = "column", conflicts_with = "logreg")]
        stat: Option<String>,
        /// The column (quote names with spaces).
        #[arg(long)]
        column: Option<String>,
        /// Logistic model: {"intercept": b, "weights": {"column": w, ...}}.
        #[arg(long, value_name = "MODEL.json")]
        logreg: Option<PathBuf>,
        /// Encrypted result file to write.
        #[arg(long)]
        out: PathBuf,
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
        Command::Keygen { dir, preset } => {
            let preset = Preset::from_name(&preset).ok_or_else(|| format!("unknown preset {preset:?} (n4096, n8192, n16384, n32768)"))?;
            text(on_backend!(&engine, |b| commands::keygen(b.clone(), &dir, preset)))?;
        }
        Command::Encrypt { keys, csv, out, decimals, skip_missing } => {
            let decimals = parse_decimals(&decimals)?;
            text(on_backend!(&engine, |b| commands::encrypt(b.clone(), &keys, &csv, &out, &decimals, skip_missing)))?;
        }
        Command::Eval { keys, data, stat, column, logreg, out } => {
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
        Command::Decrypt { keys, result, json } => {
            text(on_backend!(&engine, |b| commands::decrypt(b.clone(), &keys, &result, json)))?;
        }
    }
    Ok(())
}
