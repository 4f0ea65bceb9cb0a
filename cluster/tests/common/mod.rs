//! What the cluster crate's tests share: a small cohort encrypted into three uploads of
//! ragged chunks under n = 4096 keys, its Parquet export, the owner's decryption, float64
//! references and the vault's own answers.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code, unreachable_pub)]

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::prelude::SessionContext;

use ringvault_app::dataset::{DEFAULT_MAX_RECORDS, KeyInfo, Schema, check_eval_keys, encrypt_uploads};
use ringvault_app::engine::Engine;
use ringvault_app::keys::{self, GeneratedKeys};
use ringvault_app::query::{QueryRequest, runner_on};
use ringvault_app::results::{self, Decrypted};
use ringvault_app::workloads::{self, Synthetic};
use ringvault_backend_cpu::CpuBackend;
use ringvault_cluster::export::{ReadingsWriter, Upload};
use ringvault_core::scheme::Preset;

/// Records of the cohort, and where its uploads start (ragged: chunks of 227 records at
/// n = 4096 with squares, so 250 and 449 records are two chunks each and 1 record one).
pub const RECORDS: usize = 700;
pub const UPLOADS: [std::ops::Range<usize>; 3] = [0..250, 250..251, 251..700];
pub const DEVICES: [Option<&str>; 3] = [Some("monitor-a"), None, Some("monitor-b")];

pub struct Fixture {
    pub backend: Arc<CpuBackend>,
    pub data: Vec<Synthetic>,
    pub schema: Schema,
    pub keys: GeneratedKeys,
    pub info: KeyInfo,
    pub files: Vec<Vec<u8>>,
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let backend = Arc::new(CpuBackend::new());
        let data = workloads::cohort(RECORDS, 11);
        let schema = workloads::schema_of(&data);
        assert_eq!(schema.preset_for(DEFAULT_MAX_RECORDS).unwrap(), Preset::N4096);
        let keys = keys::generate(backend.clone(), Preset::N4096, DEFAULT_MAX_RECORDS).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eval.keys");
        std::fs::write(&path, &keys.eval).unwrap();
        let info = check_eval_keys(&schema, &path).unwrap().info;
        let files = UPLOADS
            .iter()
            .map(|r| {
                let mut bodies = encrypt_uploads(backend.clone(), &schema, &keys.public, &workloads::fixed_point_of(&data, r.clone()), RECORDS).unwrap();
                assert_eq!(bodies.len(), 1);
                bodies.remove(0)
            })
            .collect();
        Fixture { backend, data, schema, keys, info, files }
    })
}

pub fn engine() -> Engine {
    Engine::Cpu(fixture().backend.clone())
}

pub fn uploads(f: &Fixture) -> Vec<Upload<'_>> {
    f.files.iter().enumerate().map(|(i, file)| Upload { seq: i as u64 + 1, device: DEVICES[i], from: 1_000 * i as i64, to: 1_000 * i as i64 + 999, file }).collect()
}

/// Writes each upload as its own Parquet file in `dir` (checking what the writer reports).
pub fn write_parquet(dir: &std::path::Path) {
    let f = fixture();
    for (i, u) in uploads(f).iter().enumerate() {
        let mut w = ReadingsWriter::create(&dir.join(format!("part-{i}.parquet"))).unwrap();
        w.push(u).unwrap();
        let written = w.finish().unwrap();
        assert_eq!((written.uploads, written.records), (1, UPLOADS[i].len() as u64));
        assert_eq!(written.cells, UPLOADS[i].len().div_ceil(227) as u64);
    }
}

/// About one cell's bytes.
pub fn cell_bytes() -> usize {
    fixture().files[0].len() / 2
}

pub fn block<T>(f: impl std::future::Future<Output = datafusion::error::Result<T>>) -> T {
    runtime().block_on(f).unwrap()
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static R: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    R.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

/// The query's batches, or its error's text.
pub fn sql(ctx: &SessionContext, q: &str) -> Result<Vec<RecordBatch>, String> {
    runtime().block_on(async { ctx.sql(q).await?.collect().await }).map_err(|e| e.to_string())
}

/// The binary cells of column `c` of the query's result, in order.
pub fn binaries(batches: &[RecordBatch], c: usize) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b.column(c);
        let a = col.as_binary::<i32>();
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_vec())));
    }
    out
}

pub fn one_binary(batches: &[RecordBatch]) -> Vec<u8> {
    let cells = binaries(batches, 0);
    assert_eq!(cells.len(), 1);
    cells[0].clone().expect("a result")
}

pub fn decrypt(bytes: &[u8]) -> Decrypted {
    results::decrypt(fixture().backend.clone(), &fixture().keys.secret, bytes).unwrap()
}

pub fn values(column: &str, range: std::ops::Range<usize>) -> Vec<f64> {
    fixture().data.iter().find(|c| c.name == column).unwrap().values[range].to_vec()
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

pub fn variance(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
}

pub fn close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{got} vs {want}");
}

/// The vault's in-process answer to `request` over every upload.
pub fn vault_answer(request: &QueryRequest) -> Vec<u8> {
    let f = fixture();
    let runner = runner_on(f.backend.clone());
    let mut source = |visit: &mut dyn FnMut(Vec<u8>) -> Result<(), ringvault_app::AppError>| f.files.iter().try_for_each(|u| visit(u.clone()));
    runner.run(&f.schema, &f.info, request, f.files.len(), &mut source, &|_| {}).unwrap()
}

