//! Crash safety of the vault through the real binary and a real on-disk store.
//!
//! - SIGKILL while several devices push concurrently (one-row and three-row uploads), then a
//!   restart: every acknowledged upload is present exactly once, an upload in flight at the
//!   kill is either wholly present or absent (and a retry with its idempotency key says which),
//!   none is partial, and `sum` and `count` equal the plaintext over exactly the stored rows.
//!   At least 50 cycles (`RINGVAULT_CRASH_CYCLES` overrides; `scripts/vault-soak.sh` runs more).
//! - Disk full through the failpoint (`RINGVAULT_VAULT_FAULTS=1`, `DIR/fault-enospc`): an
//!   error answer, nothing acknowledged that was not stored, recovery without a restart once
//!   space returns. And, where this process may mount one, a real small tmpfs filling up.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod vault_common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vault_common::*;

/// Concurrent devices.
const DEVICES: usize = 4;
/// Pre-encrypted bodies per device, reused round-robin under fresh idempotency keys.
const POOL: usize = 4;
/// Most uploads a device sends per cycle (bounds the store's size; many cycles end sooner).
const CAP: usize = 10;
/// Cycles per dataset: then it is deleted and a fresh one created (bounds the disk used).
const EPOCH: usize = 5;

/// `a` (integer) and `b` (one decimal), for at most 5000 records (their squares then fit the
/// 47-bit space of n = 4096).
fn crash_schema() -> Value {
    let mut s = schema(&[("a", 0, 0.0, 100_000.0), ("b", 1, 0.0, 1000.0)]);
    s["max_records"] = 5000.into();
    s
}

/// One pre-encrypted upload body with its plaintext.
struct Body {
    bytes: Vec<u8>,
    rows: u64,
    /// Sum of `a` (integers).
    sum_a: i128,
}

/// Bodies per device: alternately one row and three rows, with values distinct per device and
/// pool slot.
fn bodies(keys: &Path) -> Vec<Vec<Body>> {
    (0..DEVICES)
        .map(|d| {
            (0..POOL)
                .map(|p| {
                    let rows = if p % 2 == 0 { 1 } else { 3 };
                    let a: Vec<i128> = (0..rows).map(|r| (d * 1000 + p * 10 + r + 1) as i128).collect();
                    let b: Vec<i128> = (0..rows).map(|r| (d * 70 + p * 5 + r) as i128).collect();
                    let sum_a = a.iter().sum();
                    let bytes = encrypt(keys, &crash_schema(), &[("a", 0, a), ("b", 1, b)], 8).remove(0);
                    Body { bytes, rows: rows as u64, sum_a }
                })
                .collect()
        })
        .collect()
}

/// A device's uploads so far: attempts `0..next` under keys `{prefix}-{j}`; every attempt
/// before `acked` was acknowledged; `unknown` is the one in flight at a kill, if any.
#[derive(Clone, Debug)]
struct Dev {
    index: usize,
    id: String,
    token: String,
    next: usize,
    acked: usize,
    unknown: Option<usize>,
}

impl Dev {
    fn key(&self, j: usize) -> String {
        format!("{}-u{j}", self.id)
    }
}

fn cycles() -> usize {
    std::env::var("RINGVAULT_CRASH_CYCLES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(50)
}

/// One pushing thread per device (see [`push_until_killed`]) and the flag that stops them.
fn spawn_pushers(server: &Server, ds: &Dataset, devs: &[Dev], pool: &Arc<Vec<Vec<Body>>>) -> (Arc<AtomicBool>, Vec<std::thread::JoinHandle<Result<Dev, String>>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = devs
        .iter()
        .cloned()
        .map(|d| {
            let (http, id, pool, stop) = (server.http(), ds.id.clone(), pool.clone(), stop.clone());
            std::thread::spawn(move || push_until_killed(http, id, d, pool, stop))
        })
        .collect();
    (stop, handles)
}

/// Pushes (one attempt each, no retries) until stopped, the cap, or a transport error.
fn push_until_killed(http: Http, dataset: String, mut dev: Dev, pool: Arc<Vec<Vec<Body>>>, stop: Arc<AtomicBool>) -> Result<Dev, String> {
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) && sent < CAP {
        let j = dev.next;
        let body = &pool[dev.index][j % POOL];
        let r = upload(&http, &dataset, &dev.token, &dev.key(j), &body.bytes).try_send();
        dev.next += 1;
        sent += 1;
        match r {
            Ok(r) if r.status == 201 => {
                let v = r.json();
                if v["rows"].as_u64() != Some(body.rows) || v["duplicate"] != false {
                    return Err(format!("a fresh upload's receipt: {v}"));
                }
                dev.acked = dev.next;
            }
            Ok(r) => return Err(format!("device {} upload {j}: {} {}", dev.index, r.status, r.text())),
            Err(_) => {
                // Killed before, during or after the commit: unknown until checked.
                dev.unknown = Some(j);
                return Ok(dev);
            }
        }
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(dev)
}

/// What the store must hold: the uploads each device has stored, checked against what it was
/// told; then the statistics over exactly those rows. Returns the stored upload count per
/// device.
#[allow(clippy::too_many_arguments)]
fn verify(http: &Http, ds: &Dataset, op: &str, devs: &[Dev], pool: &[Vec<Body>], keys: &Path, scratch: &Path, with_queries: bool) -> Vec<usize> {
    let listed = http.get(&format!("/v1/datasets/{}/devices", ds.id)).token(&ds.owner).send().expect(200, "devices").json();
    let mut stored = Vec::new();
    let (mut uploads, mut records, mut sum_a) = (0u64, 0u64, 0i128);
    for d in devs {
        let rec = listed.as_array().unwrap().iter().find(|x| x["id"] == d.id.as_str()).unwrap_or_else(|| panic!("device {} is gone", d.id));
        let m = rec["uploads"].as_u64().unwrap() as usize;
        let r = rec["records"].as_u64().unwrap();
        assert!(m >= d.acked, "device {}: {m} uploads stored, {} acknowledged: an acknowledged upload was lost", d.index, d.acked);
        let extra_ok = d.unknown.is_some_and(|u| u == d.acked);
        assert!(m == d.acked || (m == d.acked + 1 && extra_ok), "device {}: {m} uploads stored, {} acknowledged, in flight {:?}, {} attempted", d.index, d.acked, d.unknown, d.next);
        let want_rows: u64 = (0..m).map(|j| pool[d.index][j % POOL].rows).sum();
        assert_eq!(r, want_rows, "device {}: {r} records for its {m} uploads, expected {want_rows} (a partial upload?)", d.index);
        uploads += m as u64;
        records += r;
        sum_a += (0..m).map(|j| pool[d.index][j % POOL].sum_a).sum::<i128>();
        stored.push(m);
    }
    assert_eq!(counts(http, &ds.id, op), (uploads, records), "the dataset's counts are its devices' sums");
    if with_queries && records > 0 {
        let (n, s) = stat(http, ds, keys, scratch, "sum", "a");
        assert_eq!(n, records, "count behind the sum of a");
        assert_eq!(s, sum_a as f64, "sum of a over the stored rows");
        let (n, c) = stat(http, ds, keys, scratch, "count", "b");
        assert_eq!((n, c), (records, records as f64), "count of b: every stored upload has both columns");
    }
    stored
}

/// Retries each device's unknown upload with its key and body: a duplicate when it had been
/// stored, a fresh store otherwise. Afterwards every attempt is acknowledged.
fn settle(http: &Http, ds: &Dataset, devs: &mut [Dev], stored: &[usize], pool: &[Vec<Body>]) -> (usize, usize) {
    let (mut committed, mut lost) = (0, 0);
    for (d, &m) in devs.iter_mut().zip(stored) {
        if let Some(j) = d.unknown.take() {
            let r = upload(http, &ds.id, &d.token, &d.key(j), &pool[d.index][j % POOL].bytes).send();
            let was_stored = m == j + 1;
            let want = if was_stored { 200 } else { 201 };
            assert_eq!(r.status, want, "device {} retry of upload {j} (stored before: {was_stored}): {}", d.index, r.text());
            assert_eq!(r.json()["duplicate"], was_stored, "the retry's receipt says whether it was stored");
            if was_stored {
                committed += 1;
            } else {
                lost += 1;
            }
        }
        assert_eq!(d.next, d.acked + usize::from(d.acked < d.next), "one unknown at most");
        d.acked = d.next;
    }
    (committed, lost)
}

/// A fresh dataset with keys and its devices.
fn fresh(http: &Http, op: &str, keys: &Path, epoch: usize) -> (Dataset, Vec<Dev>) {
    let ds = create_dataset(http, op, &format!("crash epoch {epoch}"), &crash_schema());
    put_keys(http, &ds, keys);
    let devs = (0..DEVICES)
        .map(|i| {
            let d = add_device(http, &ds, &format!("device {i}"));
            Dev { index: i, id: d.id, token: d.token, next: 0, acked: 0, unknown: None }
        })
        .collect();
    (ds, devs)
}

#[test]
fn sigkill_under_concurrent_uploads_loses_no_acknowledged_upload() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let keys = keys();
    let pool = Arc::new(bodies(&keys));
    let cycles = cycles();
    assert!(cycles >= 1);
    let mut server = Server::start(&data);
    let op = server.operator_token();
    let (mut ds, mut devs) = fresh(&server.http(), &op, &keys, 0);
    let mut rng = Rng(0xc4a5_4001);
    let (mut acked_total, mut committed_in_flight, mut lost_in_flight, mut killed_mid_push) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    for cycle in 0..cycles {
        if cycle > 0 && cycle % EPOCH == 0 {
            // A fresh dataset; the old one (verified) is deleted with everything of it.
            let http = server.http();
            http.delete(&format!("/v1/datasets/{}", ds.id)).token(&op).send().expect(200, "delete the epoch's dataset");
            (ds, devs) = fresh(&http, &op, &keys, cycle / EPOCH);
        }
        let acked_before: Vec<usize> = devs.iter().map(|d| d.acked).collect();
        let (stop, handles) = spawn_pushers(&server, &ds, &devs, &pool);
        std::thread::sleep(Duration::from_millis(rng.range(20, 301)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        devs = handles.into_iter().map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("cycle {cycle}: {e}"))).collect();
        killed_mid_push += devs.iter().filter(|d| d.unknown.is_some()).count();
        acked_total += devs.iter().zip(&acked_before).map(|(d, b)| d.acked - b).sum::<usize>();

        server = Server::start(&data);
        let http = server.http();
        // The counters every cycle; the statistics (which read every stored blob of the
        // dataset) twice per dataset, the last time just before it is deleted.
        let with_queries = cycle % EPOCH == 2 || cycle % EPOCH == EPOCH - 1 || cycle + 1 == cycles;
        let stored = verify(&http, &ds, &op, &devs, &pool, &keys, work.path(), with_queries);
        let (c, l) = settle(&http, &ds, &mut devs, &stored, &pool);
        committed_in_flight += c;
        lost_in_flight += l;
    }
    // A final graceful restart: everything, now all acknowledged, is there.
    let http = server.http();
    verify(&http, &ds, &op, &devs, &pool, &keys, work.path(), false);
    server.stop().expect("stops");
    let server = Server::start(&data);
    let stored = verify(&server.http(), &ds, &op, &devs, &pool, &keys, work.path(), true);
    assert_eq!(stored, devs.iter().map(|d| d.next).collect::<Vec<_>>());
    eprintln!(
        "{cycles} SIGKILL cycles in {:.1} s: {acked_total} uploads acknowledged before a kill, {killed_mid_push} in flight at one ({committed_in_flight} had committed, {lost_in_flight} had not); every acknowledged upload present once",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigterm_under_concurrent_uploads_finishes_them_and_loses_none() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let keys = keys();
    let pool = Arc::new(bodies(&keys));
    let mut server = Server::start(&data);
    let op = server.operator_token();
    let (ds, mut devs) = fresh(&server.http(), &op, &keys, 0);
    for round in 0..3 {
        let (stop, handles) = spawn_pushers(&server, &ds, &devs, &pool);
        std::thread::sleep(Duration::from_millis(60 + 40 * round));
        let status = server.stop().expect("the vault exits on SIGTERM");
        stop.store(true, Ordering::Relaxed);
        assert!(status.success(), "a graceful shutdown exits 0: {status:?}\n{}", server.log());
        assert!(server.log().contains("shutting down"), "the shutdown is logged:\n{}", server.log());
        devs = handles.into_iter().map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"))).collect();
        server = Server::start(&data);
        let http = server.http();
        let stored = verify(&http, &ds, &op, &devs, &pool, &keys, work.path(), round == 2);
        settle(&http, &ds, &mut devs, &stored, &pool);
    }
}

#[test]
fn sigkill_during_a_key_upload_leaves_no_stray_file() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let keys = keys();
    let eval = std::fs::read(keys.join("eval.keys")).unwrap();
    let mut server = Server::start(&data);
    let op = server.operator_token();
    let ds = create_dataset(&server.http(), &op, "keys in flight", &crash_schema());
    let files = |d: &Path| std::fs::read_dir(d.join("keys")).unwrap().filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>();
    for round in 0..3 {
        // Half the key file, then the client waits: the vault is streaming it to disk.
        let req = server.http().put(&format!("/v1/datasets/{}/keys", ds.id)).token(&ds.owner).body("application/octet-stream", eval.clone());
        let half = eval.len() * (round + 1) / 4;
        let sender = std::thread::spawn(move || req.send_stalled(half));
        eventually("the streamed key file on disk", Duration::from_secs(30), || files(&data).iter().any(|f| f.starts_with("tmp-")).then_some(()));
        server.kill();
        assert!(sender.join().unwrap().is_err(), "no answer from a killed vault");
        server = Server::start(&data);
        assert_eq!(files(&data), Vec::<String>::new(), "round {round}: the interrupted key upload left files");
        assert!(dataset_info(&server.http(), &ds.id, &op)["keys"].is_null());
    }
    put_keys(&server.http(), &ds, &keys);
    assert_eq!(files(&data).len(), 2, "{:?}", files(&data));
}

/// Pushes `body` under `key` and returns the status.
fn push_status(http: &Http, ds: &Dataset, token: &str, key: &str, body: &[u8]) -> u16 {
    upload(http, &ds.id, token, key, body).send().status
}

/// Retries (bounded) until the upload is acknowledged; its status (201 or 200).
fn push_eventually(http: &Http, ds: &Dataset, token: &str, key: &str, body: &[u8]) -> Resp {
    eventually(&format!("upload {key} accepted again"), Duration::from_secs(30), || {
        let r = upload(http, &ds.id, token, key, body).send();
        match r.status {
            200 | 201 => Some(r),
            503 | 507 => None,
            s => panic!("upload {key}: {s} {}", r.text()),
        }
    })
}

#[test]
fn disk_full_through_the_failpoint_is_an_error_answer_and_the_vault_recovers_without_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let keys = keys();
    let mut server = Server::start_with(&data, &[("RINGVAULT_VAULT_FAULTS", "1")]);
    let http = server.http();
    let op = server.operator_token();
    let ds = create_dataset(&http, &op, "disk full", &crash_schema());
    put_keys(&http, &ds, &keys);
    let dev = add_device(&http, &ds, "monitor");
    let pool = bodies(&keys);
    let flat: Vec<&Body> = pool.iter().flatten().collect();
    let mut rows_stored = 0u64;
    for (i, b) in flat.iter().take(3).enumerate() {
        assert_eq!(push_status(&http, &ds, &dev.token, &format!("before-{i}"), &b.bytes), 201);
        rows_stored += b.rows;
    }

    let keyless = create_dataset(&http, &op, "keys while full", &crash_schema());
    let key_files = |d: &Path| std::fs::read_dir(d.join("keys")).unwrap().filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>();
    let files_before = key_files(&data);

    let fault = data.join("fault-enospc");
    std::fs::write(&fault, b"").unwrap();
    // Evaluation keys while the disk is full: refused, no file left.
    let r = http.put(&format!("/v1/datasets/{}/keys", keyless.id)).token(&keyless.owner).body("application/octet-stream", std::fs::read(keys.join("eval.keys")).unwrap()).send();
    assert!(r.status == 507 || r.status == 503, "keys while the disk is full: {} {}", r.status, r.text());
    assert_eq!(key_files(&data), files_before, "keys refused on a full disk left files");
    let mut refused = Vec::new();
    for (i, b) in flat.iter().skip(3).take(5).enumerate() {
        let key = format!("full-{i}");
        let r = upload(&http, &ds.id, &dev.token, &key, &b.bytes).send();
        assert!(r.status == 507 || r.status == 503, "an upload while the disk is full: {} {}", r.status, r.text());
        let msg = r.error();
        if i == 0 {
            assert_eq!(r.status, 507, "the write that hit the full disk: {msg}");
            assert!(msg.to_lowercase().contains("storage") || msg.to_lowercase().contains("disk"), "the message says why: {msg}");
        }
        refused.push((key, *b));
    }
    // Reads while the disk is full: an answer, not a hang or a 500 (whether they should
    // succeed is `reads_keep_working_while_the_disk_is_full`).
    let r = http.get(&format!("/v1/datasets/{}", ds.id)).token(&op).send();
    assert!(matches!(r.status, 200 | 503 | 507), "a read while the disk is full: {} {}", r.status, r.text());
    // Nothing else was written meanwhile either: no new dataset, no device.
    let r = http.post("/v1/datasets").token(&op).json(&json!({"name": "while full", "schema": crash_schema()})).send();
    assert!(r.status == 507 || r.status == 503, "creating a dataset while the disk is full: {} {}", r.status, r.text());

    // Space returns: without a restart, the refused uploads are stored now — fresh (201),
    // proving none had been stored.
    std::fs::remove_file(&fault).unwrap();
    for (key, b) in &refused {
        let r = push_eventually(&http, &ds, &dev.token, key, &b.bytes);
        assert_eq!(r.status, 201, "upload {key} refused while full was not stored then: {}", r.text());
        rows_stored += b.rows;
    }
    assert_eq!(counts(&http, &ds.id, &op), (8, rows_stored));
    let list = http.get("/v1/datasets").token(&op).send().expect(200, "list").json();
    assert_eq!(list.as_array().unwrap().len(), 2, "the dataset refused while full was not created: {list}");
    assert!(dataset_info(&http, &keyless.id, &op)["keys"].is_null(), "keys refused while full are not set");
    put_keys(&http, &keyless, &keys);
    let (n, c) = stat(&http, &ds, &keys, work.path(), "count", "a");
    assert_eq!((n, c), (rows_stored, rows_stored as f64));

    // And it is all durable.
    server.kill();
    let server = Server::start_with(&data, &[("RINGVAULT_VAULT_FAULTS", "1")]);
    assert_eq!(counts(&server.http(), &ds.id, &op), (8, rows_stored));
}

#[test]
fn reads_keep_working_while_the_disk_is_full() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let keys = keys();
    let server = Server::start_with(&data, &[("RINGVAULT_VAULT_FAULTS", "1")]);
    let http = server.http();
    let op = server.operator_token();
    let ds = create_dataset(&http, &op, "full but readable", &crash_schema());
    put_keys(&http, &ds, &keys);
    let body = encrypt(&keys, &crash_schema(), &[("a", 0, vec![7, 8]), ("b", 1, vec![1, 2])], 8).remove(0);
    upload(&http, &ds.id, &ds.owner, "one", &body).send().expect(201, "upload");
    let fault = data.join("fault-enospc");
    std::fs::write(&fault, b"").unwrap();
    let r = upload(&http, &ds.id, &ds.owner, "two", &body).send();
    assert_eq!(r.status, 507, "{}", r.text());
    // The disk is full: nothing can be written, but what is stored can be read and computed on.
    let mut wrong = Vec::new();
    let info = http.get(&format!("/v1/datasets/{}", ds.id)).token(&op).send();
    if info.status != 200 {
        wrong.push(format!("GET /v1/datasets/{{id}}: {} {}", info.status, info.text()));
    }
    let list = http.get("/v1/datasets").token(&ds.owner).send();
    if list.status != 200 {
        wrong.push(format!("GET /v1/datasets: {} {}", list.status, list.text()));
    }
    let q = http.post(&format!("/v1/datasets/{}/queries", ds.id)).token(&ds.owner).json(&json!({"stat": "sum", "column": "a"})).send();
    if q.status != 200 {
        wrong.push(format!("POST /v1/datasets/{{id}}/queries: {} {}", q.status, q.text()));
    }
    std::fs::remove_file(&fault).unwrap();
    assert!(wrong.is_empty(), "reads refused while the disk is full:\n{}", wrong.join("\n"));
    assert_eq!(decrypt(&keys, &q.body, work.path())["value"], 15.0);
}

/// Unmounts on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    let out = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output().map_err(|e| e.to_string())?;
    if out.status.success() { Ok(Mount(dir.to_path_buf())) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()) }
}

#[test]
fn a_real_small_filesystem_filling_up_is_an_error_answer_and_recovers() {
    let work = tempfile::tempdir().unwrap();
    let mnt = work.path().join("tmpfs");
    std::fs::create_dir_all(&mnt).unwrap();
    let keys = keys();
    let key_bytes = std::fs::metadata(keys.join("eval.keys")).unwrap().len() + std::fs::metadata(keys.join("public.key")).unwrap().len();
    // Room for the keys, the database and a few uploads.
    let size_mib = key_bytes.div_ceil(1 << 20) + 4;
    let mount = match mount_tmpfs(&mnt, &format!("{size_mib}m")) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("note: cannot mount a tmpfs here ({e}); the disk-full failpoint test covers ENOSPC");
            return;
        }
    };
    let data = mnt.join("data");
    let mut server = Server::start(&data);
    let http = server.http();
    let op = server.operator_token();
    let ds = create_dataset(&http, &op, "small disk", &crash_schema());
    put_keys(&http, &ds, &keys);
    let pool = bodies(&keys);
    let flat: Vec<&Body> = pool.iter().flatten().collect();
    let (mut acked, mut rows) = (0u64, 0u64);
    let mut failed: Option<(String, usize)> = None;
    for i in 0..200 {
        let b = flat[i % flat.len()];
        let key = format!("fill-{i}");
        let r = upload(&http, &ds.id, &ds.owner, &key, &b.bytes).send();
        match r.status {
            201 => {
                acked += 1;
                rows += b.rows;
            }
            507 | 503 => {
                let _ = r.error();
                failed = Some((key, i % flat.len()));
                break;
            }
            s => panic!("upload {i} on a filling disk: {s} {}", r.text()),
        }
    }
    let (key, slot) = failed.unwrap_or_else(|| panic!("a {size_mib} MiB tmpfs took 200 uploads"));
    assert!(acked > 0, "the tmpfs was too small for even one upload");
    // More refusals while it is full; nothing acknowledged.
    for i in 0..3 {
        let s = push_status(&http, &ds, &ds.owner, &format!("still-full-{i}"), &flat[0].bytes);
        assert!(s == 507 || s == 503, "an upload on a full disk: {s}");
    }
    // Space returns (the filesystem grows); the refused upload goes in, fresh, without a restart.
    let grown = std::process::Command::new("mount").args(["-o", "remount,size=256m"]).arg(&mnt).status().unwrap();
    assert!(grown.success(), "remount the tmpfs bigger");
    let r = push_eventually(&http, &ds, &ds.owner, &key, &flat[slot].bytes);
    assert_eq!(r.status, 201, "the upload refused on the full disk was not stored then");
    acked += 1;
    rows += flat[slot].rows;
    assert_eq!(counts(&http, &ds.id, &op), (acked, rows));
    let (n, c) = stat(&http, &ds, &keys, work.path(), "count", "b");
    assert_eq!((n, c), (rows, rows as f64));
    server.kill();
    let mut server = Server::start(&data);
    assert_eq!(counts(&server.http(), &ds.id, &op), (acked, rows), "durable after the full disk");
    server.kill();
    drop(mount);
}
