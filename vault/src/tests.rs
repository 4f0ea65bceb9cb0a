//! HTTP-level tests of the service on loopback, with stand-in validators and a stand-in
//! query runner (no real ciphertexts): the authorization matrix, idempotent uploads, jobs,
//! limits, disk full, restarts, TLS, and the client's retries.
//!
//! Stand-in formats: evaluation keys are any file starting with `EVAL`; an upload body is
//! `ROWS <n>\n<payload>`; a query's result is `"<k> blobs: <blob>,<blob>…"` for the blobs
//! of the selected uploads, so the tests see which uploads a query read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ringvault_app::config::VaultSettings;
use ringvault_app::dataset::{CheckedKeys, CheckedUpload, KeyInfo, Schema};
use ringvault_app::query::{QueryRequest, QueryRunner, UploadSource};
use ringvault_app::AppError;
use sha2::{Digest, Sha256};

use crate::checks::Checks;
use crate::client::{Client, ClientError};
use crate::server::Internals;
use crate::store::hex;
use crate::types::{CreatedDataset, DeviceToken, JobStatus};
use crate::{spawn_with, RunningVault, ServeOptions};

struct FakeChecks;

impl Checks for FakeChecks {
    fn schema(&self, json: &[u8]) -> Result<Schema, AppError> {
        let s: Schema = serde_json::from_slice(json).map_err(|e| AppError::Schema(format!("schema: {e}")))?;
        if s.columns.is_empty() {
            return Err(AppError::Schema("a schema has at least one column".into()));
        }
        Ok(s)
    }
    fn eval_keys_opening(&self, first: &[u8]) -> Result<(), AppError> {
        if first.starts_with(b"EVAL") { Ok(()) } else { Err(AppError::Format("not evaluation keys: bad magic".into())) }
    }
    fn eval_keys(&self, _: &Schema, path: &Path) -> Result<CheckedKeys, AppError> {
        let bytes = std::fs::read(path).map_err(|e| AppError::io(path, &e))?;
        if !bytes.starts_with(b"EVAL") {
            return Err(AppError::Format("not evaluation keys: bad magic".into()));
        }
        let info = KeyInfo { preset: "fake".into(), moduli: vec![65537], bytes: bytes.len() as u64, sha256: hex(&Sha256::digest(&bytes)), max_records: 1_000_000, public_key_sha256: String::new() };
        Ok(CheckedKeys { info, public_key: format!("PUBLIC of {} bytes", bytes.len()).into_bytes() })
    }
    fn upload(&self, schema: &Schema, _: &KeyInfo, body: Vec<u8>) -> Result<CheckedUpload, AppError> {
        let text = std::str::from_utf8(&body).map_err(|_| AppError::Format("not a rows file".into()))?;
        let (head, payload) = text.split_once('\n').ok_or_else(|| AppError::Format("not a rows file".into()))?;
        let rows: usize = head.strip_prefix("ROWS ").and_then(|n| n.parse().ok()).ok_or_else(|| AppError::Format("not a rows file".into()))?;
        if schema.columns.is_empty() {
            return Err(AppError::Schema("no column".into()));
        }
        Ok(CheckedUpload { rows, body: format!("b:{payload}").into_bytes(), sha256: Sha256::digest(&body).into() })
    }
}

struct FakeRunner;

impl QueryRunner for FakeRunner {
    fn check(&self, schema: &Schema, r: &QueryRequest) -> Result<(), AppError> {
        let Some(column) = &r.column else { return Err(AppError::Schema("stat needs a column".into())) };
        schema.columns.iter().position(|c| &c.name == column).ok_or_else(|| AppError::Schema(format!("no column {column:?}")))?;
        Ok(())
    }
    fn run(&self, schema: &Schema, _: &KeyInfo, r: &QueryRequest, uploads: usize, source: &mut UploadSource<'_>, progress: &dyn Fn(f64)) -> Result<Vec<u8>, AppError> {
        self.check(schema, r)?;
        let mut blobs = Vec::new();
        source(&mut |b| {
            blobs.push(b);
            Ok(())
        })?;
        assert_eq!(blobs.len(), uploads, "the source visits the uploads counted");
        match r.stat.as_deref() {
            Some("slow") => {
                progress(0.5);
                std::thread::sleep(Duration::from_millis(1500));
            }
            Some("wrap") => return Err(AppError::Schema("refused: the sum could wrap".into())),
            _ => {}
        }
        let parts: Vec<String> = blobs.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        Ok(format!("{} blobs: {}", blobs.len(), parts.join(",")).into_bytes())
    }
    fn backend_name(&self) -> String {
        "fake".into()
    }
}

fn settings() -> VaultSettings {
    VaultSettings { listen: "127.0.0.1:0".into(), max_upload_mb: 1, max_keys_mb: 2, query_concurrency: 2, request_timeout_s: 30, ..VaultSettings::default() }
}

fn start(dir: &Path, settings: VaultSettings, runner: Arc<FakeRunner>, faults: bool) -> RunningVault {
    let opts = ServeOptions { data: dir.to_path_buf(), settings, runner };
    spawn_with(opts, Internals { faults, checks: Arc::new(FakeChecks) }).unwrap()
}

fn schema() -> Schema {
    serde_json::from_str(r#"{"columns": [{"name": "bmi", "decimals": 1, "min": 10, "max": 80}, {"name": "age", "min": 0, "max": 120}]}"#).unwrap()
}

const KEYS: &[u8] = b"EVAL keys of the owner";

/// A raw request; `(status, body)`.
fn call(base: &str, method: &str, path: &str, token: Option<&str>, ctype: Option<&str>, body: Option<&[u8]>, extra: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut b = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"));
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(c) = ctype {
        b = b.header("content-type", c);
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let mut res = match body {
        Some(body) => agent.run(b.body(body.to_vec()).unwrap()),
        None => agent.run(b.body(()).unwrap()),
    }
    .unwrap();
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_vec().unwrap())
}

fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap_or_else(|| panic!("no error field: {v}")).to_owned()
}

/// A dataset with keys and one device: (dataset, owner token, device).
fn dataset(url: &str, operator: &str, name: &str) -> (CreatedDataset, DeviceToken) {
    let op = Client::new(url, operator).unwrap();
    let created = op.create_dataset(name, &schema()).unwrap();
    let owner = Client::new(url, &created.owner_token).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("eval.keys");
    std::fs::write(&keys, KEYS).unwrap();
    let info = owner.upload_keys(&created.id, &keys).unwrap();
    assert_eq!((info.bytes, info.sha256.clone()), (KEYS.len() as u64, hex(&Sha256::digest(KEYS))));
    let device = owner.issue_device(&created.id, "monitor 1").unwrap();
    (created, device)
}

#[test]
fn end_to_end_with_stand_ins() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(FakeRunner);
    let vault = start(dir.path(), settings(), runner.clone(), false);
    let url = vault.url();
    assert!(crate::auth::well_formed(vault.operator_token()));
    let health = Client::new(&url, "").unwrap().health().unwrap();
    assert_eq!((health["status"].as_str(), health["backend"].as_str()), (Some("ok"), Some("fake")));

    let (ds, dev) = dataset(&url, vault.operator_token(), "ward 7");
    let owner = Client::new(&url, &ds.owner_token).unwrap();
    let device = Client::new(&url, &dev.token).unwrap();
    assert_eq!(dev.dataset, ds.id);
    assert_eq!(device.public_keys(&ds.id).unwrap(), format!("PUBLIC of {} bytes", KEYS.len()).into_bytes());
    assert_eq!(device.schema(&ds.id).unwrap(), schema());

    // The same keys again are fine; other keys are refused.
    let keys = dir.path().join("other.keys");
    std::fs::write(&keys, KEYS).unwrap();
    assert_eq!(owner.upload_keys(&ds.id, &keys).unwrap().sha256, hex(&Sha256::digest(KEYS)));
    std::fs::write(&keys, b"EVAL other").unwrap();
    assert_eq!(owner.upload_keys(&ds.id, &keys).unwrap_err().status(), Some(409));

    // Idempotent uploads.
    let r = device.push(&ds.id, b"ROWS 2\nalpha", "up-1", Some(100), Some(200)).unwrap();
    assert_eq!((r.upload, r.rows, r.duplicate), (0, 2, false));
    let again = device.push(&ds.id, b"ROWS 2\nalpha", "up-1", Some(100), Some(200)).unwrap();
    assert_eq!((again.upload, again.duplicate), (0, true));
    let e = device.push(&ds.id, b"ROWS 1\nbeta", "up-1", None, None).unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    owner.push(&ds.id, b"ROWS 3\nbeta", "up-1", Some(300), None).unwrap();
    let bad = device.push(&ds.id, b"garbage", "up-2", None, None).unwrap_err();
    assert_eq!(bad.status(), Some(422), "{bad}");
    let (status, body) = call(&url, "POST", &format!("/v1/datasets/{}/uploads?from=9&to=1", ds.id), Some(&dev.token), Some("application/octet-stream"), Some(b"ROWS 1\nx"), &[("idempotency-key", "k9")]);
    assert_eq!(status, 422, "{}", error_of(&body));
    let (status, body) = call(&url, "POST", &format!("/v1/datasets/{}/uploads?when=now", ds.id), Some(&dev.token), Some("application/octet-stream"), Some(b"ROWS 1\nx"), &[("idempotency-key", "k9")]);
    assert_eq!(status, 400, "{}", error_of(&body));
    let (status, body) = call(&url, "POST", &format!("/v1/datasets/{}/uploads", ds.id), Some(&dev.token), Some("application/octet-stream"), Some(b"ROWS 1\nx"), &[]);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("Idempotency-Key"));

    let list = owner.list_datasets().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].uploads, list[0].records, list[0].keys.as_ref().map(|k| k.preset.as_str())), (2, 5, Some("fake")));
    let devices = owner.list_devices(&ds.id).unwrap();
    assert_eq!((devices.len(), devices[0].uploads, devices[0].records, devices[0].revoked), (1, 1, 2, false));
    let detail = owner.dataset(&ds.id).unwrap();
    assert_eq!(detail.schema, schema());

    // The stored uploads, listed in order and fetched as stored (what an export reads).
    let listed = owner.uploads(&ds.id, None).unwrap();
    let brief: Vec<_> = listed.iter().map(|u| (u.upload, u.device.clone(), u.rows, u.from, u.to)).collect();
    assert_eq!(brief, vec![(0, Some(dev.id.clone()), 2, 100, 200), (1, None, 3, 300, 300)]);
    assert_eq!(owner.upload_file(&ds.id, 0).unwrap(), b"b:alpha");
    assert_eq!(listed[0].bytes, 7);
    assert_eq!(owner.uploads(&ds.id, Some(0)).unwrap().iter().map(|u| u.upload).collect::<Vec<_>>(), vec![1]);
    assert!(owner.uploads(&ds.id, Some(1)).unwrap().is_empty());
    let (status, body) = call(&url, "GET", &format!("/v1/datasets/{}/uploads?limit=1", ds.id), Some(&ds.owner_token), None, None, &[]);
    assert_eq!((status, serde_json::from_slice::<Vec<crate::types::UploadInfo>>(&body).unwrap().len()), (200, 1));
    for bad in ["?after=-1", "?limit=many", "?since=0"] {
        let (status, body) = call(&url, "GET", &format!("/v1/datasets/{}/uploads{bad}", ds.id), Some(&ds.owner_token), None, None, &[]);
        assert_eq!(status, 400, "{bad}: {}", error_of(&body));
    }
    let e = owner.upload_file(&ds.id, 7).unwrap_err();
    assert!(e.status() == Some(404) && e.to_string().contains("no upload 7"), "{e}");
    assert_eq!(device.uploads(&ds.id, None).unwrap_err().status(), Some(403));

    // Queries: all uploads, a device, a time window; a refusal; a job.
    let q = |stat: &str, column: &str, from: Option<i64>, to: Option<i64>, device: Option<&str>| QueryRequest { stats: None, stat: Some(stat.into()), column: Some(column.into()), logreg: None, from, to, device: device.map(Into::into) };
    let mut seen = Vec::new();
    let out = owner.query(&ds.id, &q("sum", "age", None, None, None), &mut |p| seen.push(p)).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "2 blobs: b:alpha,b:beta");
    let out = owner.query(&ds.id, &q("sum", "bmi", None, None, Some(&dev.id)), &mut |_| {}).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "1 blobs: b:alpha");
    let out = owner.query(&ds.id, &q("sum", "bmi", Some(250), None, None), &mut |_| {}).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "1 blobs: b:beta");
    let out = owner.query(&ds.id, &q("sum", "bmi", Some(0), Some(99), None), &mut |_| {}).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "0 blobs: ");
    assert_eq!(owner.query(&ds.id, &q("sum", "height", None, None, None), &mut |_| {}).unwrap_err().status(), Some(422));
    assert_eq!(owner.query(&ds.id, &q("sum", "bmi", None, None, Some("nobody")), &mut |_| {}).unwrap_err().status(), Some(422));
    let e = owner.query(&ds.id, &q("wrap", "bmi", None, None, None), &mut |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "server refused (422): refused: the sum could wrap");
    let (status, body) = call(&url, "POST", &format!("/v1/datasets/{}/queries", ds.id), Some(&ds.owner_token), Some("application/json"), Some(br#"{"stat": "slow", "column": "age"}"#), &[]);
    assert_eq!(status, 202);
    let job: JobStatus = serde_json::from_slice(&body).unwrap();
    let (status, body) = call(&url, "GET", &format!("/v1/jobs/{}/result", job.job), Some(&ds.owner_token), None, None, &[]);
    assert_eq!(status, 409, "{}", error_of(&body));
    for bad in ["?wait_ms=99999", "?wait_ms=soon", "?bogus=1"] {
        let (status, body) = call(&url, "GET", &format!("/v1/jobs/{}{bad}", job.job), Some(&ds.owner_token), None, None, &[]);
        assert_eq!(status, 400, "{bad}: {}", error_of(&body));
    }
    // A long poll waits for the job (it sleeps 1.5 s): it answers done.
    let (status, body) = call(&url, "GET", &format!("/v1/jobs/{}?wait_ms=10000", job.job), Some(&ds.owner_token), None, None, &[]);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<JobStatus>(&body).unwrap().state, crate::types::JobState::Done);
    let mut progress = Vec::new();
    let out = owner.query(&ds.id, &q("slow", "age", None, None, None), &mut |p| progress.push(p)).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "2 blobs: b:alpha,b:beta");
    assert!(progress.len() >= 2 && progress.contains(&0.5), "{progress:?}");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(String::from_utf8(owner.job_result(&job.job).unwrap()).unwrap(), "2 blobs: b:alpha,b:beta");

    // Revocation is immediate.
    owner.revoke_device(&ds.id, &dev.id).unwrap();
    let e = device.push(&ds.id, b"ROWS 1\nx", "up-3", None, None).unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(owner.list_devices(&ds.id).unwrap()[0].revoked);
    assert_eq!(owner.revoke_device(&ds.id, "nope").unwrap_err().status(), Some(404));

    // Deletion: everything goes.
    let key_file = dir.path().join("keys").join(format!("{}.keys", hex(&Sha256::digest(KEYS))));
    assert!(key_file.exists());
    Client::new(&url, vault.operator_token()).unwrap().delete_dataset(&ds.id).unwrap();
    assert!(!key_file.exists());
    assert_eq!(owner.list_datasets().unwrap_err().status(), Some(401), "the owner token went with its dataset");
    assert_eq!(Client::new(&url, vault.operator_token()).unwrap().dataset(&ds.id).unwrap_err().status(), Some(404));
    assert!(Client::new(&url, vault.operator_token()).unwrap().list_datasets().unwrap().is_empty());
    vault.shutdown().unwrap();
}

#[test]
fn authorization_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let vault = start(dir.path(), settings(), Arc::new(FakeRunner), false);
    let url = vault.url();
    let operator = vault.operator_token().to_owned();
    let (a, dev) = dataset(&url, &operator, "a");
    let (b, _) = dataset(&url, &operator, "b");
    let owner = Client::new(&url, &a.owner_token).unwrap();
    let revoked = owner.issue_device(&a.id, "old").unwrap();
    owner.revoke_device(&a.id, &revoked.id).unwrap();
    let spare = owner.issue_device(&a.id, "spare").unwrap();
    let (status, body) = call(&url, "POST", &format!("/v1/datasets/{}/queries", a.id), Some(&a.owner_token), Some("application/json"), Some(br#"{"stat": "slow", "column": "age"}"#), &[]);
    assert_eq!(status, 202);
    let job: JobStatus = serde_json::from_slice(&body).unwrap();
    std::thread::sleep(Duration::from_millis(1200));

    let tokens: [(&str, Option<String>); 7] = [
        ("none", None),
        ("malformed", Some("rv_not-a-token".into())),
        ("other owner", Some(b.owner_token.clone())),
        ("device", Some(dev.token.clone())),
        ("revoked device", Some(revoked.token.clone())),
        ("operator", Some(operator.clone())),
        ("owner", Some(a.owner_token.clone())),
    ];
    let json = Some("application/json");
    let bin = Some("application/octet-stream");
    let id = &a.id;
    let create = br#"{"name": "x", "schema": {"columns": [{"name": "v", "min": 0, "max": 1}]}}"#.to_vec();
    type Row<'a> = (&'a str, String, Option<&'a str>, Option<Vec<u8>>, [u16; 7]);
    let rows: Vec<Row<'_>> = vec![
        ("GET", "/v1/health".into(), None, None, [200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/v1/openapi.json".into(), None, None, [401, 401, 200, 200, 401, 200, 200]),
        ("POST", "/v1/datasets".into(), json, Some(create), [401, 401, 403, 403, 401, 201, 403]),
        ("GET", "/v1/datasets".into(), None, None, [401, 401, 200, 403, 401, 200, 200]),
        ("GET", format!("/v1/datasets/{id}"), None, None, [401, 401, 403, 403, 401, 200, 200]),
        ("GET", "/v1/datasets/0000000000000000".into(), None, None, [401, 401, 403, 403, 401, 404, 403]),
        ("PUT", format!("/v1/datasets/{id}/keys"), bin, Some(KEYS.to_vec()), [401, 401, 403, 403, 401, 403, 200]),
        ("GET", format!("/v1/datasets/{id}/public-key"), None, None, [401, 401, 403, 200, 401, 403, 200]),
        ("GET", format!("/v1/datasets/{id}/schema"), None, None, [401, 401, 403, 200, 401, 403, 200]),
        ("POST", format!("/v1/datasets/{id}/devices"), json, Some(br#"{"name": "m"}"#.to_vec()), [401, 401, 403, 403, 401, 403, 201]),
        ("GET", format!("/v1/datasets/{id}/devices"), None, None, [401, 401, 403, 403, 401, 403, 200]),
        ("DELETE", format!("/v1/datasets/{id}/devices/{}", spare.id), None, None, [401, 401, 403, 403, 401, 403, 200]),
        ("POST", format!("/v1/datasets/{id}/uploads"), bin, Some(b"ROWS 1\nm".to_vec()), [401, 401, 403, 201, 401, 403, 201]),
        ("GET", format!("/v1/datasets/{id}/uploads"), None, None, [401, 401, 403, 403, 401, 403, 200]),
        ("GET", format!("/v1/datasets/{id}/uploads/0"), None, None, [401, 401, 403, 403, 401, 403, 200]),
        ("GET", format!("/v1/datasets/{id}/uploads/99"), None, None, [401, 401, 403, 403, 401, 403, 404]),
        ("POST", format!("/v1/datasets/{id}/queries"), json, Some(br#"{"stat": "sum", "column": "age"}"#.to_vec()), [401, 401, 403, 403, 401, 403, 200]),
        ("GET", format!("/v1/jobs/{}", job.job), None, None, [401, 401, 403, 403, 401, 403, 200]),
        ("GET", format!("/v1/jobs/{}/result", job.job), None, None, [401, 401, 403, 403, 401, 403, 200]),
        ("GET", "/v1/jobs/0000000000000000".into(), None, None, [401, 401, 404, 403, 401, 403, 404]),
        ("DELETE", format!("/v1/datasets/{}", b.id), None, None, [401, 401, 200, 403, 401, 404, 403]),
    ];
    let mut failures = Vec::new();
    for (method, path, ctype, body, expected) in &rows {
        for (i, (who, token)) in tokens.iter().enumerate() {
            let key = format!("matrix-{i}");
            let (status, resp) = call(&url, method, path, token.as_deref(), *ctype, body.as_deref(), &[("idempotency-key", &key)]);
            if status != expected[i] {
                failures.push(format!("{method} {path} as {who}: {status}, expected {} ({})", expected[i], String::from_utf8_lossy(&resp)));
            }
            if status >= 400 {
                let _ = error_of(&resp);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    vault.shutdown().unwrap();
}

/// Headers only (no body byte sent), and the answer.
fn raw_head(addr: std::net::SocketAddr, head: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// Headers, then `body` written on another thread while the answer is read (the server may
/// answer and close before reading it all).
fn raw_send(addr: std::net::SocketAddr, head: &str, body: Vec<u8>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&body));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = writer.join();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn limits_and_malformed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let vault = start(dir.path(), settings(), Arc::new(FakeRunner), false);
    let url = vault.url();
    let operator = vault.operator_token().to_owned();
    let (a, dev) = dataset(&url, &operator, "a");
    let addr = vault.addr();

    // Over the limit by Content-Length: 413 naming the limit, before any body byte is sent.
    let head = |path: &str, token: &str, ctype: &str, len: u64| format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {ctype}\r\nIdempotency-Key: k\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
    let (status, body) = raw_head(addr, &head(&format!("/v1/datasets/{}/uploads", a.id), &dev.token, "application/octet-stream", (1 << 20) + 1));
    assert_eq!(status, 413);
    assert_eq!(error_of(body.as_bytes()), "request body too large: the limit for uploads is 1048576 bytes (1 MiB)");
    let put = head(&format!("/v1/datasets/{}/keys", a.id), &a.owner_token, "application/octet-stream", 3 << 20).replace("POST", "PUT");
    let (status, body) = raw_head(addr, &put);
    assert_eq!(status, 413);
    assert!(error_of(body.as_bytes()).contains("evaluation keys is 2097152 bytes (2 MiB)"));
    let (status, body) = raw_head(addr, &head("/v1/datasets", &operator, "application/json", 2 << 20));
    assert_eq!(status, 413);
    assert!(error_of(body.as_bytes()).contains("JSON bodies is 1048576 bytes (1 MiB)"));
    // Without a token, nothing about the body matters: 401.
    let (status, _) = raw_head(addr, &head(&format!("/v1/datasets/{}/uploads", a.id), "rv_x", "application/octet-stream", 1 << 30));
    assert_eq!(status, 401);
    // A real body one byte over (written while the answer is read), and bodies without a
    // length, cut off once past the limit.
    let upload_path = format!("/v1/datasets/{}/uploads", a.id);
    let over = vec![b'x'; (1 << 20) + 1];
    let (status, body) = raw_send(addr, &head(&upload_path, &dev.token, "application/octet-stream", over.len() as u64), over.clone());
    assert_eq!(status, 413, "{body}");
    let chunked = |path: &str, token: &str, method: &str| format!("{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nIdempotency-Key: c\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    let frames = |total: usize| {
        let mut out = Vec::new();
        for i in 0..total / (64 << 10) {
            out.extend_from_slice(format!("{:x}\r\n", 64 << 10).as_bytes());
            // The body opens like a key file (the stand-in's magic), so only the limit refuses it.
            let mut frame = vec![b'y'; 64 << 10];
            if i == 0 {
                frame[..4].copy_from_slice(b"EVAL");
            }
            out.extend_from_slice(&frame);
            out.extend_from_slice(b"\r\n");
        }
        out
    };
    let (status, body) = raw_send(addr, &chunked(&upload_path, &dev.token, "POST"), frames((1 << 20) + (64 << 10)));
    assert_eq!(status, 413, "{body}");
    assert!(error_of(body.as_bytes()).contains("1048576 bytes"));
    let (status, body) = raw_send(addr, &chunked(&format!("/v1/datasets/{}/keys", a.id), &a.owner_token, "PUT"), frames((2 << 20) + (64 << 10)));
    assert_eq!(status, 413, "{body}");
    assert!(error_of(body.as_bytes()).contains("2097152 bytes"));
    assert_eq!(std::fs::read_dir(dir.path().join("keys")).unwrap().count(), 2, "nothing left of the cut-off key upload");
    assert_eq!(Client::new(&url, &a.owner_token).unwrap().list_datasets().unwrap()[0].uploads, 0);

    // Content types, JSON syntax and shape.
    let owner = &a.owner_token;
    let q = format!("/v1/datasets/{}/queries", a.id);
    let cases: [(Option<&str>, &[u8], u16); 6] = [
        (Some("text/plain"), br#"{"stat": "sum", "column": "age"}"#, 415),
        (None, br#"{"stat": "sum", "column": "age"}"#, 415),
        (Some("application/json"), b"{\"stat\": ", 400),
        (Some("application/json"), br#"{"stat": 7}"#, 422),
        (Some("application/json"), br#"{"stat": "sum", "column": "age", "colour": "red"}"#, 422),
        (Some("application/json; charset=utf-8"), br#"{"stat": "sum", "column": "age"}"#, 200),
    ];
    for (ctype, body, expected) in cases {
        let (status, resp) = call(&url, "POST", &q, Some(owner), ctype, Some(body), &[]);
        assert_eq!(status, expected, "{ctype:?} {}", String::from_utf8_lossy(&resp));
        if status != 200 {
            assert!(!error_of(&resp).is_empty());
        }
    }
    let (status, resp) = call(&url, "POST", &format!("/v1/datasets/{}/uploads", a.id), Some(&dev.token), Some("application/json"), Some(b"ROWS 1\nx"), &[("idempotency-key", "k")]);
    assert_eq!(status, 415, "{}", String::from_utf8_lossy(&resp));
    let (status, resp) = call(&url, "PUT", &format!("/v1/datasets/{}/keys", a.id), Some(owner), Some("application/octet-stream"), Some(b""), &[]);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&resp));
    // Unknown routes and methods answer JSON too.
    let (status, resp) = call(&url, "GET", "/v1/nothing", Some(owner), None, None, &[]);
    assert_eq!((status, error_of(&resp)), (404, "no such endpoint: GET /v1/nothing".to_owned()));
    let (status, resp) = call(&url, "PATCH", "/v1/datasets", Some(owner), None, None, &[]);
    assert_eq!(status, 405);
    let _ = error_of(&resp);
    // Names and schemas.
    let op = Client::new(&url, &operator).unwrap();
    assert_eq!(op.create_dataset(" ", &schema()).unwrap_err().status(), Some(422));
    let (status, resp) = call(&url, "POST", "/v1/datasets", Some(&operator), Some("application/json"), Some(br#"{"name": "x", "schema": {"columns": []}}"#), &[]);
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&resp));
    // Keys before uploads; invalid keys are refused and not kept.
    let c = op.create_dataset("c", &schema()).unwrap();
    let device = Client::new(&url, &c.owner_token).unwrap();
    assert_eq!(device.push(&c.id, b"ROWS 1\nx", "k", None, None).unwrap_err().status(), Some(409));
    assert_eq!(device.public_keys(&c.id).unwrap_err().status(), Some(409));
    let bad = dir.path().join("bad.keys");
    std::fs::write(&bad, b"NOT KEYS").unwrap();
    assert_eq!(device.upload_keys(&c.id, &bad).unwrap_err().status(), Some(422));
    let key_files: Vec<_> = std::fs::read_dir(dir.path().join("keys")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(key_files.len(), 2, "only the good keys and their public key: {key_files:?}");
    vault.shutdown().unwrap();
}

#[test]
fn disk_full_answers_507_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let vault = start(dir.path(), settings(), Arc::new(FakeRunner), true);
    let url = vault.url();
    let (a, dev) = dataset(&url, vault.operator_token(), "a");
    let device = Client::new(&url, &dev.token).unwrap();
    let owner = Client::new(&url, &a.owner_token).unwrap();
    device.push(&a.id, b"ROWS 1\none", "k1", None, None).unwrap();
    let fault = dir.path().join(crate::store::FAULT_FILE);
    std::fs::write(&fault, b"").unwrap();
    let e = device.push(&a.id, b"ROWS 1\ntwo", "k2", None, None).unwrap_err();
    assert_eq!(e.status(), Some(507), "{e}");
    assert!(e.to_string().contains("nothing of this request was stored"), "{e}");
    let h = Client::new(&url, "").unwrap().health().unwrap();
    assert_eq!((h["status"].as_str(), h["store"].as_str()), (Some("degraded"), Some("disk full")));
    // Reads and queries go on while the disk is full.
    assert_eq!(owner.list_datasets().unwrap()[0].uploads, 1);
    let q = QueryRequest { stats: None, stat: Some("sum".into()), column: Some("age".into()), logreg: None, from: None, to: None, device: None };
    assert_eq!(owner.query(&a.id, &q, &mut |_| {}).unwrap(), b"1 blobs: b:one");
    assert!(device.public_keys(&a.id).is_ok());
    let c = Client::new(&url, vault.operator_token()).unwrap().create_dataset("c", &schema()).unwrap_err();
    assert_eq!(c.status(), Some(507), "{c}");
    std::fs::remove_file(&fault).unwrap();
    // Recovery takes one reopen of the store (the writer retries every 250 ms).
    let r = (0..40)
        .find_map(|_| match device.push(&a.id, b"ROWS 1\ntwo", "k2", None, None) {
            Err(e) if e.status() == Some(507) => {
                std::thread::sleep(Duration::from_millis(50));
                None
            }
            other => Some(other.unwrap()),
        })
        .expect("the vault recovers within 2 s");
    assert_eq!((r.upload, r.duplicate), (1, false));
    // Key uploads stream to disk: a full disk is 507 too, and leaves no file behind.
    let c = Client::new(&url, vault.operator_token()).unwrap().create_dataset("c", &schema()).unwrap();
    std::fs::write(&fault, b"").unwrap();
    let keys = dir.path().join("eval.keys");
    std::fs::write(&keys, b"EVAL second").unwrap();
    let e = Client::new(&url, &c.owner_token).unwrap().upload_keys(&c.id, &keys).unwrap_err();
    assert_eq!(e.status(), Some(507), "{e}");
    std::fs::remove_file(&fault).unwrap();
    assert_eq!(std::fs::read_dir(dir.path().join("keys")).unwrap().count(), 2);
    Client::new(&url, &c.owner_token).unwrap().upload_keys(&c.id, &keys).unwrap();
    let list = owner.list_datasets().unwrap();
    assert_eq!((list[0].uploads, list[0].records), (2, 2));
    vault.shutdown().unwrap();
}

#[test]
fn restart_keeps_datasets_keys_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(FakeRunner);
    let vault = start(dir.path(), settings(), runner.clone(), false);
    let operator = vault.operator_token().to_owned();
    let (a, dev) = dataset(&vault.url(), &operator, "a");
    Client::new(&vault.url(), &dev.token).unwrap().push(&a.id, b"ROWS 4\nkept", "k", Some(5), Some(6)).unwrap();
    vault.shutdown().unwrap();
    std::fs::write(dir.path().join("keys/tmp-stray"), b"x").unwrap();

    let vault = start(dir.path(), settings(), runner, false);
    assert_eq!(vault.operator_token(), operator, "the operator token stays");
    assert!(!dir.path().join("keys/tmp-stray").exists());
    let owner = Client::new(&vault.url(), &a.owner_token).unwrap();
    let list = owner.list_datasets().unwrap();
    assert_eq!((list[0].records, list[0].uploads), (4, 1));
    let q = QueryRequest { stats: None, stat: Some("sum".into()), column: Some("bmi".into()), logreg: None, from: None, to: None, device: None };
    assert_eq!(owner.query(&a.id, &q, &mut |_| {}).unwrap(), b"1 blobs: b:kept");
    let device = Client::new(&vault.url(), &dev.token).unwrap();
    assert!(device.public_keys(&a.id).is_ok());
    assert!(device.push(&a.id, b"ROWS 4\nkept", "k", Some(5), Some(6)).unwrap().duplicate, "idempotency survives a restart");
    vault.shutdown().unwrap();
}

#[test]
fn concurrent_devices_and_a_push_that_waits_for_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(FakeRunner);
    let vault = start(dir.path(), settings(), runner.clone(), false);
    let url = vault.url();
    let (a, _) = dataset(&url, vault.operator_token(), "a");
    let owner = Client::new(&url, &a.owner_token).unwrap();
    let devices: Vec<DeviceToken> = (0..8).map(|i| owner.issue_device(&a.id, &format!("m{i}")).unwrap()).collect();
    std::thread::scope(|s| {
        for d in &devices {
            let url = url.clone();
            let id = a.id.clone();
            s.spawn(move || {
                let c = Client::new(&url, &d.token).unwrap();
                for j in 0..8 {
                    c.push(&id, format!("ROWS 1\n{}-{j}", d.id).as_bytes(), &format!("u{j}"), None, None).unwrap();
                }
            });
        }
    });
    assert_eq!(owner.list_datasets().unwrap()[0].uploads, 64);
    let listed = owner.list_devices(&a.id).unwrap();
    assert!(devices.iter().all(|d| listed.iter().any(|l| l.id == d.id && l.uploads == 8 && l.records == 8)), "{listed:?}");

    // The server goes away; a push retries until it is back, then is stored once.
    let addr = vault.addr();
    vault.shutdown().unwrap();
    let token = devices[0].token.clone();
    let id = a.id.clone();
    let pusher = std::thread::spawn(move || Client::new(&format!("http://{addr}"), &token).unwrap().push(&id, b"ROWS 1\nlate", "late-1", None, None));
    std::thread::sleep(Duration::from_millis(700));
    let again = start(dir.path(), VaultSettings { listen: addr.to_string(), ..settings() }, runner, false);
    let r = pusher.join().unwrap().unwrap();
    assert!(!r.duplicate);
    assert_eq!(owner.list_datasets().unwrap()[0].uploads, 65);
    again.shutdown().unwrap();
}

#[test]
fn tls_with_a_private_ca() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "RingVault test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&leaf_key, &issuer).unwrap();
    let (ca_pem, cert_pem, key_pem) = (dir.path().join("ca.pem"), dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, leaf.pem()).unwrap();
    std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();

    let data = dir.path().join("data");
    let vault = start(&data, VaultSettings { tls_cert: Some(cert_pem.clone()), tls_key: Some(key_pem), ..settings() }, Arc::new(FakeRunner), false);
    assert!(vault.url().starts_with("https://"));
    let c = Client::new(&vault.url(), vault.operator_token()).unwrap().with_ca_file(&ca_pem).unwrap();
    assert!(c.list_datasets().unwrap().is_empty());
    let untrusted = Client::new(&vault.url(), vault.operator_token()).unwrap().list_datasets().unwrap_err();
    assert!(!matches!(untrusted, ClientError::Refused { .. }), "{untrusted}");
    assert!(Client::new(&vault.url(), "").unwrap().with_ca_file(&cert_pem.with_extension("none")).is_err());
    vault.shutdown().unwrap();

    let half = ServeOptions { data: data.clone(), settings: VaultSettings { tls_cert: Some(cert_pem), ..settings() }, runner: Arc::new(FakeRunner) };
    let e = spawn_with(half, Internals { faults: false, checks: Arc::new(FakeChecks) }).unwrap_err();
    assert!(e.to_string().contains("tls_cert and tls_key go together"), "{e}");
}
