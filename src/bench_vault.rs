//! `ringvault bench --only vault`: the vault through its HTTP API on loopback, against the real
//! `ringvault serve` process (this executable, started with a temporary store on the same
//! disk), beside the figures the same work takes without the service.
//!
//! - `vault_ingest`: uploads/s and MB/s with 1, 8 and 64 concurrent devices, one-row and
//!   n-row uploads, beside `fsync_write` (sequential writes of upload-sized blocks, each
//!   followed by `fsync`, on the same disk, in the same run);
//! - `vault_query`: mean, variance and scores over 10k, 100k and 1M records (n-row uploads),
//!   each line with `median_ns` through the service and `in_process_ns`, the library's time
//!   for the same query over the same stored ciphertexts held in memory (loading them from
//!   their bytes included);
//! - `vault_keys_upload`: the default preset's evaluation keys uploaded and validated;
//! - `vault_memory`: the server's resident memory with 10 datasets, each queried once;
//! - `vault_row_bytes`: bytes of one upload of one record of the demo's 9 columns.
//!
//! Every line is one JSON object (`--json`) or a table row.

use crate::bench::median;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use ringvault_app::dataset::{ColumnSpec, Computation, Schema, check_upload, encrypt_uploads};
use ringvault_app::keys::{self, EVAL_KEYS};
use ringvault_app::query::{QueryRequest, QueryRunner};
use ringvault_core::Backend;
use ringvault_core::scheme::Preset;
use ringvault_core::stats::{LogisticModel, PlainColumn};
use ringvault_vault::client::Client;

use crate::CliError;

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::Config(format!("vault bench: {e}"))
}

/// A `ringvault serve` child process on a temporary store.
struct Served {
    child: Child,
    url: String,
    operator: String,
    /// The store's directory, removed with the server.
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts this executable's `serve` on `127.0.0.1:0` with `backend`, waiting (at most
    /// 60 s) for its listening line.
    fn start(backend: &str, dir: tempfile::TempDir) -> Result<Self, CliError> {
        let exe = std::env::current_exe().map_err(err)?;
        let mut child = Command::new(exe)
            .args(["--backend", backend, "serve", "--data"])
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(err)?;
        let stderr = child.stderr.take().ok_or_else(|| err("no stderr"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                    sent = true;
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| err("the server did not start"))?;
        let operator = std::fs::read_to_string(dir.path().join("operator.token")).map_err(err)?.trim().to_string();
        Ok(Self { child, url, operator, _dir: dir })
    }

    /// Resident memory of the server process, in bytes (Linux; 0 elsewhere).
    fn rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch(name: &str) -> Result<tempfile::TempDir, CliError> {
    tempfile::Builder::new().prefix(&format!("ringvault-bench-{name}-")).tempdir().map_err(err)
}

/// Two columns of glucose-like and BMI-like readings, `records` records.
fn columns(records: usize, seed: u64) -> Vec<PlainColumn> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move |lo: i128, hi: i128| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + ((x >> 33) as i128 % (hi - lo + 1))
    };
    let glucose = (0..records).map(|_| Some(next(550, 4000))).collect();
    let bmi = (0..records).map(|_| Some(next(150, 550))).collect();
    vec![PlainColumn { name: "glucose".into(), decimals: 1, values: glucose }, PlainColumn { name: "bmi".into(), decimals: 1, values: bmi }]
}

fn bench_schema() -> Schema {
    Schema {
        columns: vec![ColumnSpec { name: "glucose".into(), decimals: 1, min: 55.0, max: 400.0 }, ColumnSpec { name: "bmi".into(), decimals: 1, min: 15.0, max: 55.0 }],
        computations: Computation::all(),
        max_records: None,
    }
}

fn model() -> LogisticModel {
    LogisticModel { intercept: -6.0, weights: [("glucose".to_string(), 0.02), ("bmi".to_string(), 0.09)].into_iter().collect() }
}

/// Sequential writes of `block` bytes, each followed by `fsync`, for about a second: MB/s.
fn fsync_write_rate(dir: &Path, block: usize) -> Result<f64, CliError> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).map_err(|e| CliError::io(&path, &e))?;
    let data = vec![0x5au8; block];
    let start = Instant::now();
    let mut written = 0usize;
    while start.elapsed() < Duration::from_secs(1) || written < 4 * block {
        f.write_all(&data).map_err(|e| CliError::io(&path, &e))?;
        f.sync_data().map_err(|e| CliError::io(&path, &e))?;
        written += block;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Ok(written as f64 / secs / 1e6)
}

/// Runs the vault benchmarks on `backend` (named `backend_arg` for the server's `--backend`),
/// printing one line per measurement. `records` are the `vault_query` sizes.
///
/// # Errors
/// Any failure of the service or the library.
pub fn run<B: Backend + 'static>(backend: Arc<B>, backend_arg: &str, json_lines: bool, records: &[usize]) -> Result<(), CliError> {
    let emit = |v: serde_json::Value| {
        if json_lines {
            println!("{v}");
        } else {
            println!("{}", v.as_object().map(|o| o.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("  ")).unwrap_or_default());
        }
    };
    let name = backend.name().to_string();
    let keys_guard = scratch("keys")?;
    let keys_dir = keys_guard.path();
    let generated = keys::generate(backend.clone(), Preset::N8192, ringvault_app::dataset::DEFAULT_MAX_RECORDS)?;
    keys::write_file(&keys_dir.join(EVAL_KEYS), &generated.eval)?;
    let schema = bench_schema();
    let n = Preset::N8192.n();

    // One record of the demo's 9 columns: the smallest upload a monitor sends.
    let demo_schema = ringvault_app::workloads::cohort_schema();
    let demo_row: Vec<PlainColumn> = demo_schema.columns.iter().map(|c| PlainColumn { name: c.name.clone(), decimals: c.decimals, values: vec![Some((c.min * 10f64.powi(c.decimals as i32)) as i128)] }).collect();
    let row = encrypt_uploads(backend.clone(), &demo_schema, &generated.public, &demo_row, 1)?;
    emit(json!({"op": "vault_row_bytes", "backend": name, "n": n, "columns": demo_row.len(), "records": 1, "bytes": row.iter().map(Vec::len).sum::<usize>()}));

    // Evaluation-key upload (88 MB at the default preset), three datasets.
    let served = Served::start(backend_arg, scratch("keys-store")?)?;
    let operator = Client::new(&served.url, &served.operator).map_err(err)?;
    let mut times = Vec::new();
    for i in 0..3 {
        let created = operator.create_dataset(&format!("keys-{i}"), &schema).map_err(err)?;
        let owner = Client::new(&served.url, &created.owner_token).map_err(err)?;
        let t = Instant::now();
        owner.upload_keys(&created.id, &keys_dir.join(EVAL_KEYS)).map_err(err)?;
        times.push(t.elapsed().as_secs_f64() * 1e9);
    }
    emit(json!({"op": "vault_keys_upload", "backend": name, "n": n, "bytes": generated.eval.len(), "median_ns": median(&mut times)}));
    drop(served);

    // Ingest: 1, 8 and 64 devices, one-row and n-row uploads.
    let store = scratch("ingest-store")?;
    let one_row = encrypt_uploads(backend.clone(), &schema, &generated.public, &columns(16, 1), 1)?;
    let full = encrypt_uploads(backend.clone(), &schema, &generated.public, &columns(4 * n, 2), n)?;
    let block = one_row[0].len();
    emit(json!({"op": "fsync_write", "backend": name, "block_bytes": block, "mb_per_s": fsync_write_rate(store.path(), block)?}));
    let served = Served::start(backend_arg, store)?;
    let operator = Client::new(&served.url, &served.operator).map_err(err)?;
    for (rows, bodies) in [(1usize, &one_row), (n, &full)] {
        for devices in [1usize, 8, 64] {
            let created = operator.create_dataset(&format!("ingest-{rows}-{devices}"), &schema).map_err(err)?;
            let owner = Client::new(&served.url, &created.owner_token).map_err(err)?;
            owner.upload_keys(&created.id, &keys_dir.join(EVAL_KEYS)).map_err(err)?;
            let per_device = (32 / devices).max(1);
            let tokens = (0..devices).map(|d| owner.issue_device(&created.id, &format!("d{d}")).map(|t| t.token).map_err(err)).collect::<Result<Vec<_>, _>>()?;
            let start = Instant::now();
            let sent: Vec<Result<usize, CliError>> = std::thread::scope(|s| {
                let hs: Vec<_> = tokens
                    .iter()
                    .enumerate()
                    .map(|(d, token)| {
                        let (url, id) = (&served.url, &created.id);
                        s.spawn(move || -> Result<usize, CliError> {
                            let c = Client::new(url, token).map_err(err)?;
                            let mut bytes = 0;
                            for u in 0..per_device {
                                let body = &bodies[(d + u) % bodies.len()];
                                c.push(id, body, &format!("d{d}-u{u}"), None, None).map_err(err)?;
                                bytes += body.len();
                            }
                            Ok(bytes)
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(err("a device thread panicked")))).collect()
            });
            let bytes: usize = sent.into_iter().sum::<Result<usize, _>>()?;
            let secs = start.elapsed().as_secs_f64();
            let uploads = devices * per_device;
            emit(json!({"op": "vault_ingest", "backend": name, "n": n, "devices": devices, "rows_per_upload": rows, "uploads": uploads,
                "uploads_per_s": uploads as f64 / secs, "mb_per_s": bytes as f64 / secs / 1e6, "records_per_s": (uploads * rows) as f64 / secs}));
        }
    }
    drop(served);

    // Queries over 10k, 100k, 1M records, through the service and in process.
    let runner: Arc<dyn QueryRunner> = Arc::from(ringvault_app::query::runner_on(backend.clone()));
    for &total in records {
        let served = Served::start(backend_arg, scratch("query-store")?)?;
        let operator = Client::new(&served.url, &served.operator).map_err(err)?;
        let created = operator.create_dataset("query", &schema).map_err(err)?;
        let owner = Client::new(&served.url, &created.owner_token).map_err(err)?;
        let info = owner.upload_keys(&created.id, &keys_dir.join(EVAL_KEYS)).map_err(err)?;
        let mut stored: Vec<Vec<u8>> = Vec::new();
        let mut done = 0;
        while done < total {
            let take = (total - done).min(16 * n);
            for (i, body) in encrypt_uploads(backend.clone(), &schema, &generated.public, &columns(take, done as u64), n)?.iter().enumerate() {
                owner.push(&created.id, body, &format!("q-{done}-{i}"), None, None).map_err(err)?;
                stored.push(check_upload(&schema, &info, body.clone())?.body);
            }
            done += take;
        }
        let queries: [(&str, QueryRequest); 3] = [
            ("mean", QueryRequest { stats: None, stat: Some("mean".into()), column: Some("glucose".into()), logreg: None, from: None, to: None, device: None }),
            ("variance", QueryRequest { stats: None, stat: Some("variance".into()), column: Some("glucose".into()), logreg: None, from: None, to: None, device: None }),
            ("scores", QueryRequest { stats: None, stat: None, column: None, logreg: Some(model()), from: None, to: None, device: None }),
        ];
        let reps = if total >= 1_000_000 { 3 } else { 5 };
        for (what, q) in &queries {
            owner.query(&created.id, q, &mut |_| {}).map_err(err)?; // warm: pages cached
            let mut through = Vec::new();
            for _ in 0..reps {
                let t = Instant::now();
                owner.query(&created.id, q, &mut |_| {}).map_err(err)?;
                through.push(t.elapsed().as_secs_f64() * 1e9);
            }
            let mut source = |visit: &mut dyn FnMut(Vec<u8>) -> Result<(), ringvault_app::AppError>| stored.iter().try_for_each(|u| visit(u.clone()));
            runner.run(&schema, &info, q, stored.len(), &mut source, &|_| {})?;
            let mut inproc = Vec::new();
            for _ in 0..reps {
                let mut source = |visit: &mut dyn FnMut(Vec<u8>) -> Result<(), ringvault_app::AppError>| stored.iter().try_for_each(|u| visit(u.clone()));
                let t = Instant::now();
                runner.run(&schema, &info, q, stored.len(), &mut source, &|_| {})?;
                inproc.push(t.elapsed().as_secs_f64() * 1e9);
            }
            let (m, i) = (median(&mut through), median(&mut inproc));
            emit(json!({"op": "vault_query", "backend": name, "n": n, "query": what, "records": total, "uploads": stored.len(), "median_ns": m, "in_process_ns": i, "ratio": m / i}));
        }
    }

    // Memory with 10 datasets, each with its own key set of the default preset, one query each.
    let served = Served::start(backend_arg, scratch("memory-store")?)?;
    let operator = Client::new(&served.url, &served.operator).map_err(err)?;
    let idle = served.rss();
    for i in 0..10 {
        let own = keys::generate(backend.clone(), Preset::N8192, ringvault_app::dataset::DEFAULT_MAX_RECORDS)?;
        let path = keys_dir.join(format!("eval-{i}.keys"));
        keys::write_file(&path, &own.eval)?;
        let body = encrypt_uploads(backend.clone(), &schema, &own.public, &columns(1, 9), 1)?;
        let created = operator.create_dataset(&format!("m{i}"), &schema).map_err(err)?;
        let owner = Client::new(&served.url, &created.owner_token).map_err(err)?;
        owner.upload_keys(&created.id, &path).map_err(err)?;
        owner.push(&created.id, &body[0], "m", None, None).map_err(err)?;
        owner.query(&created.id, &QueryRequest { stats: None, stat: Some("mean".into()), column: Some("bmi".into()), logreg: None, from: None, to: None, device: None }, &mut |_| {}).map_err(err)?;
    }
    emit(json!({"op": "vault_memory", "backend": name, "datasets": 10, "idle_rss_bytes": idle, "rss_bytes": served.rss()}));
    Ok(())
}
