//! The encrypted mean and variance of one column over N synthetic records, on embedded
//! DataFusion and on a Ballista cluster on loopback (one scheduler, two executors of the
//! `ringvault-cluster` binary), beside the same query in plaintext DataFusion (`AVG`,
//! `VAR_POP` over a Float64 column) and the vault's own path (its query runner in process,
//! and the service itself on loopback with its store on disk, queried over HTTP), all in the
//! same run.
//!
//! ```text
//! cargo build --profile cluster-bench -p ringvault-cluster --bins --examples
//! target/cluster-bench/examples/sql_bench --records 1000000,10000000
//! ```
//!
//! The records are glucose readings (one decimal, 55 to 400) in uploads of 409,600 records,
//! one Parquet file per upload; each timing is the median of `--runs` (3) after one warm-up.
//! Bytes moved between executors are the shuffle files the cluster's executors wrote for the
//! query (the partial states).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use ringvault_app::dataset::{ColumnSpec, Computation, KeyInfo, Schema, check_eval_keys, encrypt_uploads};
use ringvault_app::engine::Engine;
use ringvault_app::keys;
use ringvault_app::query::{QueryRequest, StatColumn, runner_on};
use ringvault_app::results::{self, Decrypted};
use ringvault_backend_cpu::CpuBackend;
use ringvault_cluster::export::{ReadingsWriter, Upload};
use ringvault_core::stats::PlainColumn;

const PER_UPLOAD: usize = 409_600;
const REQUESTS: &str = r#"[{"stat": "mean", "column": "glucose"}, {"stat": "variance", "column": "glucose"}]"#;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Glucose-like readings at one decimal, as tenths.
fn readings(n: usize, seed: u64) -> Vec<i128> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u1 = (f64::from(rng.next_u32()) + 1.0) / 4_294_967_297.0;
            let u2 = f64::from(rng.next_u32()) / 4_294_967_296.0;
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            ((96.0 + 14.0 * z).clamp(55.0, 400.0) * 10.0).round() as i128
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(32 << 20).build().unwrap()
}

/// Median seconds of `runs` runs of the query after one warm-up; the last result.
fn time_query(rt: &tokio::runtime::Runtime, ctx: &SessionContext, q: &str, runs: usize) -> (f64, Vec<RecordBatch>) {
    let run = || rt.block_on(async { ctx.sql(q).await?.collect().await }).unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut out = run();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        out = run();
        times.push(t.elapsed().as_secs_f64());
    }
    (median(times), out)
}

fn binary(batches: &[RecordBatch]) -> Vec<u8> {
    batches[0].column(0).as_binary::<i32>().value(0).to_vec()
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_listening(addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < until, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { dir_bytes(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) }).sum()
}

fn main() {
    let counts: Vec<usize> = arg("--records").unwrap_or_else(|| "1000000,10000000".into()).split(',').map(|s| s.parse().unwrap()).collect();
    let runs: usize = arg("--runs").map_or(3, |s| s.parse().unwrap());
    let scratch = tempfile::tempdir_in(arg("--dir").unwrap_or_else(|| std::env::temp_dir().display().to_string())).unwrap();
    let backend = Arc::new(CpuBackend::new());
    let engine = Engine::Cpu(backend.clone());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rt = runtime();
    let exe_dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let cluster_bin = exe_dir.join("ringvault-cluster");
    println!("backend {}, {cores} cores, uploads of {PER_UPLOAD} records, median of {runs}", engine);
    println!("| records | cells (bytes each) | plaintext DataFusion | encrypted, embedded | encrypted, cluster (2 executors) | vault runner | vault over HTTP | embedded / plaintext | records/s/core (embedded) | shuffle bytes |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &n in &counts {
        let root = scratch.path().join(format!("n{n}"));
        let (enc_dir, plain_dir) = (root.join("readings"), root.join("plain"));
        std::fs::create_dir_all(&enc_dir).unwrap();
        std::fs::create_dir_all(&plain_dir).unwrap();
        let values = readings(n, 7);
        let schema = Schema { columns: vec![ColumnSpec { name: "glucose".into(), decimals: 1, min: 55.0, max: 400.0 }], computations: vec![Computation::Sums, Computation::Variances], max_records: Some(n as u64) };
        let preset = schema.preset_for(n as u64).unwrap();
        let generated = keys::generate(backend.clone(), preset, n as u64).unwrap();
        let keys_path = root.join("eval.keys");
        std::fs::write(&keys_path, &generated.eval).unwrap();
        let info: KeyInfo = check_eval_keys(&schema, &keys_path).unwrap().info;
        // Encrypted uploads, one Parquet file each; the plaintext column as Parquet too.
        let mut files = Vec::new();
        let mut cells = 0u64;
        for (i, start) in (0..n).step_by(PER_UPLOAD).enumerate() {
            let end = (start + PER_UPLOAD).min(n);
            let column = PlainColumn { name: "glucose".into(), decimals: 1, values: values[start..end].iter().map(|&v| Some(v)).collect() };
            let file = encrypt_uploads(backend.clone(), &schema, &generated.public, &[column], PER_UPLOAD).unwrap().remove(0);
            let mut w = ReadingsWriter::create(&enc_dir.join(format!("part-{i:04}.parquet"))).unwrap();
            w.push(&Upload { seq: i as u64 + 1, device: None, from: 0, to: 0, file: &file }).unwrap();
            cells += w.finish().unwrap().cells;
            files.push(file);
        }
        let plain_schema = Arc::new(ArrowSchema::new(vec![Field::new("glucose", DataType::Float64, false)]));
        for (i, chunk) in values.chunks(PER_UPLOAD).enumerate() {
            let mut w = ArrowWriter::try_new(std::fs::File::create(plain_dir.join(format!("part-{i:04}.parquet"))).unwrap(), plain_schema.clone(), None).unwrap();
            let col = Float64Array::from(chunk.iter().map(|&v| v as f64 / 10.0).collect::<Vec<_>>());
            w.write(&RecordBatch::try_new(plain_schema.clone(), vec![Arc::new(col)]).unwrap()).unwrap();
            w.close().unwrap();
        }
        let cell_bytes = files.iter().map(Vec::len).sum::<usize>() / cells as usize;

        // Plaintext DataFusion.
        let plain = SessionContext::new();
        rt.block_on(plain.register_parquet("plain", plain_dir.to_str().unwrap(), ParquetReadOptions::default())).unwrap();
        let (t_plain, pb) = time_query(&rt, &plain, "SELECT AVG(glucose), VAR_POP(glucose) FROM plain", runs);
        let (avg, var) = (pb[0].column(0).as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(0), pb[0].column(1).as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(0));

        // Encrypted, embedded.
        let ctx = ringvault_cluster::session(&engine, cell_bytes, cores);
        rt.block_on(ctx.register_parquet("readings", enc_dir.to_str().unwrap(), ParquetReadOptions::default())).unwrap();
        let q = format!("SELECT rv_stats(rows, '{REQUESTS}', {n}) FROM readings");
        let (t_embedded, eb) = time_query(&rt, &ctx, &q, runs);
        let check = |bytes: &[u8]| {
            let Decrypted::Stats(v) = results::decrypt(backend.clone(), &generated.secret, bytes).unwrap() else { panic!("not a batch") };
            assert!((v[0].value - avg).abs() <= 1e-9 * avg && (v[1].value - var).abs() <= 1e-9 * var, "{v:?} vs {avg} {var}");
        };
        check(&binary(&eb));

        // The vault's path: its query runner over the same uploads, in process.
        let runner = runner_on(backend.clone());
        let request = QueryRequest { stats: Some(vec![StatColumn { stat: "mean".into(), column: "glucose".into() }, StatColumn { stat: "variance".into(), column: "glucose".into() }]), ..QueryRequest::default() };
        let mut vault_times = Vec::new();
        for _ in 0..=runs {
            let t = Instant::now();
            let mut source = |visit: &mut dyn FnMut(Vec<u8>) -> Result<(), ringvault_app::AppError>| files.iter().try_for_each(|u| visit(u.clone()));
            check(&runner.run(&schema, &info, &request, files.len(), &mut source, &|_| {}).unwrap());
            vault_times.push(t.elapsed().as_secs_f64());
        }
        let t_vault = median(vault_times[1..].to_vec());

        // The vault itself: `ringvault serve`'s service in process on loopback, its store on
        // this disk, the uploads pushed by the owner, the query through HTTP.
        let served: Arc<dyn ringvault_app::query::QueryRunner> = Arc::from(runner_on(backend.clone()));
        let settings = ringvault_app::config::VaultSettings { listen: "127.0.0.1:0".into(), ..ringvault_app::config::VaultSettings::default() };
        let vault = ringvault_vault::spawn(ringvault_vault::ServeOptions { data: root.join("store"), settings, runner: served }).unwrap();
        let operator = ringvault_vault::client::Client::new(&vault.url(), vault.operator_token()).unwrap();
        let created = operator.create_dataset("bench", &schema).unwrap();
        let owner = ringvault_vault::client::Client::new(&vault.url(), &created.owner_token).unwrap();
        owner.upload_keys(&created.id, &keys_path).unwrap();
        for (i, file) in files.iter().enumerate() {
            owner.push(&created.id, file, &format!("u{i}"), Some(0), Some(0)).unwrap();
        }
        let mut http_times = Vec::new();
        for _ in 0..=runs {
            let t = Instant::now();
            check(&owner.query(&created.id, &request, &mut |_| {}).unwrap());
            http_times.push(t.elapsed().as_secs_f64());
        }
        let t_http = median(http_times[1..].to_vec());
        vault.shutdown().unwrap();

        // A loopback cluster: one scheduler, two executors of one task each.
        let (t_cluster, shuffle) = if cluster_bin.exists() && arg("--skip-cluster").is_none() {
            let sched: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let spawn = |args: &[&str]| Proc(Command::new(&cluster_bin).args(args).env("RINGVAULT_BACKEND", "cpu").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
            let _s = spawn(&["scheduler", "--bind", &sched.to_string()]);
            wait_listening(sched);
            let mut execs = Vec::new();
            let mut work = Vec::new();
            for k in 0..2 {
                let (fl, gr) = (free_port(), free_port());
                let w = root.join(format!("work-{k}"));
                std::fs::create_dir_all(&w).unwrap();
                execs.push(spawn(&["executor", "--scheduler", &sched.to_string(), "--flight-port", &fl.to_string(), "--grpc-port", &gr.to_string(), "--concurrency", "1", "--work-dir", w.to_str().unwrap()]));
                wait_listening(format!("127.0.0.1:{fl}").parse().unwrap());
                work.push(w);
            }
            std::thread::sleep(Duration::from_secs(2));
            let remote = rt.block_on(ringvault_cluster::distributed::remote(&format!("df://{sched}"), &engine, cell_bytes)).unwrap();
            rt.block_on(remote.register_parquet("readings", enc_dir.to_str().unwrap(), ParquetReadOptions::default())).unwrap();
            let before: u64 = work.iter().map(|w| dir_bytes(w)).sum();
            let (t, cb) = time_query(&rt, &remote, &q, runs);
            check(&binary(&cb));
            let after: u64 = work.iter().map(|w| dir_bytes(w)).sum();
            (Some(t), Some((after - before) / (runs as u64 + 1)))
        } else {
            (None, None)
        };
        let ms = |t: f64| format!("{:.1} ms", t * 1e3);
        println!(
            "| {n} | {cells} ({cell_bytes}) | {} | {} | {} | {} | {} | {:.1}× | {:.2e} | {} |",
            ms(t_plain),
            ms(t_embedded),
            t_cluster.map_or("—".into(), ms),
            ms(t_vault),
            ms(t_http),
            t_embedded / t_plain,
            n as f64 / t_embedded / cores as f64,
            shuffle.map_or("—".into(), |b| format!("{b} B"))
        );
        drop(files);
        let _ = std::fs::remove_dir_all(&root);
    }
}
