//! A real Ballista cluster on loopback: one scheduler and two executor processes (this
//! crate's `ringvault-cluster` binary) on distinct ports, over Parquet files on disk. A query
//! whose tasks run on both executors is decrypted and compared with float64; an executor
//! killed during a query leaves it completed on the survivor or failed with a clear error,
//! within a bound; a corrupted cell is an error, not a crash of any process.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datafusion::prelude::{ParquetReadOptions, SessionContext};

use common::*;
use ringvault_app::results::Decrypted;

/// A port free on loopback now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process of the binary, killed when dropped; its standard error goes to `log`.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn start(args: &[&str], log: PathBuf) -> Self {
        let err = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ringvault-cluster"))
            .args(args)
            .env("RINGVAULT_BACKEND", "cpu")
            .env("RINGVAULT_CLUSTER_FAULTS", "1")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The tasks it reports, as `job/stage/task`.
    fn tasks(&self) -> Vec<String> {
        self.log().lines().filter_map(|l| l.split(": task ").nth(1)).map(|t| t.split(' ').next().unwrap_or_default().to_string()).collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (bounded) until `addr` accepts connections.
fn wait_listening(addr: SocketAddr, p: &mut Proc) {
    let until = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(p.child.try_wait().unwrap().is_none(), "exited early: {}", p.log());
        assert!(Instant::now() < until, "nothing listens on {addr}: {}", p.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Cluster {
    scheduler: Proc,
    executors: Vec<Proc>,
    work: Vec<PathBuf>,
    url: String,
}

fn start_cluster(dir: &Path) -> Cluster {
    let sched: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut scheduler = Proc::start(&["scheduler", "--bind", &sched.to_string()], dir.join("scheduler.log"));
    wait_listening(sched, &mut scheduler);
    let mut executors = Vec::new();
    let mut work = Vec::new();
    for name in ["a", "b"] {
        let (flight, grpc) = (free_port(), free_port());
        let w = dir.join(format!("work-{name}"));
        std::fs::create_dir_all(&w).unwrap();
        let mut p = Proc::start(
            &["executor", "--scheduler", &sched.to_string(), "--flight-port", &flight.to_string(), "--grpc-port", &grpc.to_string(), "--concurrency", "1", "--work-dir", w.to_str().unwrap(), "--id", &format!("executor-{name}")],
            dir.join(format!("executor-{name}.log")),
        );
        wait_listening(format!("127.0.0.1:{flight}").parse().unwrap(), &mut p);
        executors.push(p);
        work.push(w);
    }
    // Registration follows the first heartbeat (one a second).
    std::thread::sleep(Duration::from_secs(2));
    Cluster { scheduler, executors, work, url: format!("df://{sched}") }
}

/// A client session on the cluster with the readings table: each upload's file, written
/// twice more, so the scan has enough partitions for both executors.
fn client(c: &Cluster, data: &Path) -> SessionContext {
    let ctx = block(ringvault_cluster::distributed::remote(&c.url, &engine(), cell_bytes()));
    block(ctx.register_parquet("readings", data.to_str().unwrap(), ParquetReadOptions::default()));
    ctx
}

#[test]
fn a_query_runs_on_both_executors_and_survives_losing_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("readings");
    std::fs::create_dir_all(&data).unwrap();
    write_parquet(&data);
    let mut c = start_cluster(dir.path());
    let ctx = client(&c, &data);

    // Every statistic over all three files, per device: the scans and partial sums are tasks
    // of the first stage, the merges of the second.
    let got = sql(&ctx, "SELECT rv_stat(rows, 'mean', 'glucose') FROM readings").unwrap_or_else(|e| panic!("{e}\nscheduler: {}\na: {}\nb: {}", c.scheduler.log(), c.executors[0].log(), c.executors[1].log()));
    let Decrypted::Stat(v) = decrypt(&one_binary(&got)) else { panic!("not a stat") };
    close(v.value, mean(&values("glucose", 0..RECORDS)));
    assert_eq!(v.count, RECORDS);
    let grouped = sql(&ctx, "SELECT device, rv_stat(rows, 'variance', 'bmi') FROM readings GROUP BY device").unwrap();
    assert_eq!(grouped.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let (a, b) = (c.executors[0].tasks(), c.executors[1].tasks());
    assert!(!a.is_empty() && !b.is_empty(), "both executors run tasks: a {a:?}, b {b:?}");

    // The vault's answer is the same file, computed on the cluster.
    let request = ringvault_app::query::QueryRequest { stat: Some("mean".into()), column: Some("glucose".into()), ..Default::default() };
    assert_eq!(one_binary(&got), vault_answer(&request));

    // The command line on the same cluster.
    let out = dir.path().join("mean.rv");
    let o = Command::new(env!("CARGO_BIN_EXE_ringvault-cluster"))
        .args(["sql", "--engine", &c.url.replace("df://", "ballista://"), "--table", &format!("readings={}", data.display()), "--out", out.to_str().unwrap(), "SELECT rv_stat(rows, 'mean', 'glucose') FROM readings"])
        .env("RINGVAULT_BACKEND", "cpu")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), one_binary(&got));

    // A corrupted cell: an error naming it, and every process still up.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    corrupt_copy(&data.join("part-0.parquet"), &bad.join("part-0.parquet"));
    block(ctx.register_parquet("bad", bad.to_str().unwrap(), ParquetReadOptions::default()));
    let e = sql(&ctx, "SELECT rv_stat(rows, 'mean', 'glucose') FROM bad").unwrap_err();
    assert!(e.contains("ciphertext cell"), "{e}");
    for p in std::iter::once(&mut c.scheduler).chain(c.executors.iter_mut()) {
        assert!(p.child.try_wait().unwrap().is_none(), "a process died: {}", p.log());
    }

    // Executor a holds its next task; it is killed while holding it.
    let hold = c.work[0].join("fault-hold-task");
    std::fs::write(&hold, b"").unwrap();
    let before = c.executors[0].tasks().len();
    let started = Instant::now();
    let query = std::thread::spawn({
        let ctx = ctx.clone();
        move || sql(&ctx, "SELECT rv_stat(rows, 'sum', 'age') FROM readings")
    });
    let until = Instant::now() + Duration::from_secs(30);
    while c.executors[0].tasks().len() == before && !query.is_finished() {
        assert!(Instant::now() < until, "executor a got no task: {}", c.executors[0].log());
        std::thread::sleep(Duration::from_millis(20));
    }
    c.executors[0].kill();
    let outcome = query.join().unwrap();
    eprintln!("after losing executor a ({:?}): {}", started.elapsed(), outcome.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "completed".into()));
    assert!(started.elapsed() < Duration::from_secs(120), "the query took {:?}", started.elapsed());
    match outcome {
        Ok(got) => {
            let Decrypted::Stat(v) = decrypt(&one_binary(&got)) else { panic!("not a stat") };
            close(v.value, values("age", 0..RECORDS).iter().sum());
        }
        Err(e) => assert!(e.to_lowercase().contains("executor") || e.to_lowercase().contains("lost"), "an unclear error: {e}"),
    }
}

/// Copies a readings file with one byte flipped inside its first cell's ciphertexts (the
/// Parquet structure and the cell's header stay readable).
fn corrupt_copy(from: &Path, to: &Path) {
    let mut bytes = std::fs::read(from).unwrap();
    let cell = &fixture().files[0];
    // The first cell starts with the container's magic; flip a byte well inside it.
    let magic = &cell[..8];
    let at = bytes.windows(8).position(|w| w == magic).unwrap();
    bytes[at + 4096] ^= 0x40;
    std::fs::write(to, bytes).unwrap();
}
