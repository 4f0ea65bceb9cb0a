//! The `ringvault` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ringvault::bench::{self, BenchConfig};
use ringvault::cpu::CpuLevel;

#[derive(Parser, Debug)]
#[command(name = "ringvault", version, about = "Ring-LWE homomorphic encryption on CPU SIMD and GPU")]
struct Cli {
    /// Compute backend: auto picks a real GPU when present, else the CPU.
    #[arg(long, global = true, value_enum, env = "RINGVAULT_BACKEND", default_value = "auto")]
    backend: BackendChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Auto,
    Cpu,
    Gpu,
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
    /// Time the backend kernels (NTT, pointwise multiply, add).
    Bench {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// A short sweep (n = 4096 only, small batches).
        #[arg(long)]
        quick: bool,
        /// CPU levels to measure (default: every supported level).
        #[arg(long, value_enum, value_delimiter = ',')]
        level: Vec<LevelArg>,
        /// Ring degrees to measure (default: 4096,8192,16384).
        #[arg(long, value_delimiter = ',')]
        n: Vec<usize>,
        /// Polynomials per batch (default: 1,64).
        #[arg(long, value_delimiter = ',')]
        batch: Vec<usize>,
        /// Only operations whose name contains one of these (e.g. `ntt,bgv_rotate`).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Presets of the scheme benchmarks (default: n2048-add,n4096,n8192).
        #[arg(long, value_delimiter = ',')]
        preset: Vec<String>,
    },
    /// Run the main job end to end (for now: what this machine offers, a kernel self-check and
    /// the paper's encrypted 100 × 128-bit sum).
    Demo,
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

fn check_backend(choice: BackendChoice) -> Result<(), String> {
    match choice {
        BackendChoice::Auto | BackendChoice::Cpu => Ok(()),
        BackendChoice::Gpu => Err("the gpu backend is not available in this build (no GPU support compiled in)".into()),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    check_backend(cli.backend)?;
    match cli.command {
        Command::Info { json } => {
            let info = ringvault::info::detect();
            if json {
                println!("{}", serde_json::to_string(&info).map_err(|e| e.to_string())?);
            } else {
                println!("{info}");
            }
        }
        Command::Bench { json, quick, level, n, batch, only, preset } => {
            let mut config = if quick { BenchConfig::quick() } else { BenchConfig::standard() };
            if !level.is_empty() {
                config.levels = level.into_iter().map(CpuLevel::from).collect();
            }
            if !n.is_empty() {
                config.degrees = n;
            }
            if !batch.is_empty() {
                config.batches = batch;
            }
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
            bench::run(&config, &mut emit).map_err(|e| e.to_string())?;
        }
        Command::Demo => {
            println!("RingVault — Ring-LWE homomorphic encryption (the medical-statistics demo arrives with its issue)\n");
            println!("{}\n", ringvault::info::detect());
            let report = ringvault::selfcheck::run().map_err(|e| e.to_string())?;
            println!("{report}\n");
            println!("the paper's job: 100 encrypted 128-bit integers summed by the server (LNV 2011: 20 ms for the additions)");
            for preset in [ringvault::core::scheme::Preset::N2048Additive, ringvault::core::scheme::Preset::N4096] {
                let run = ringvault::selfcheck::sum128(preset).map_err(|e| e.to_string())?;
                println!("  {run}");
            }
        }
    }
    Ok(())
}
