//! The vault end to end through the real binary on loopback, with a real on-disk store: the
//! README's flow (serve, `vault create`, `vault device`, `vault push` of
//! `examples/diabetes.csv` with a device token, `vault query` of every statistic and of the
//! model's scores, `ringvault decrypt --json`) against float64 on the same file; a restart
//! on the same data directory keeps datasets, keys, records and tokens; a push retries across
//! a restart and stores once; a revoked device is refused with a clear message; deletion
//! removes keys and records; the OpenAPI document is served.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod vault_common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use vault_common::*;

const STATS: [&str; 8] = ["count", "sum", "mean", "sum_of_squares", "variance", "stddev", "sample_variance", "sample_stddev"];

/// `examples/diabetes.csv` as float64.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl Csv {
    fn read(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        let header = text.lines().next().unwrap().split(',').map(str::to_owned).collect();
        let rows = text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect()).collect();
        Self { header, rows }
    }

    fn column(&self, name: &str) -> Vec<f64> {
        let j = self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
        self.rows.iter().map(|r| r[j]).collect()
    }
}

/// A statistic in float64.
fn float64(stat: &str, x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let sum: f64 = x.iter().sum();
    let mean = sum / n;
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    match stat {
        "count" => n,
        "sum" => sum,
        "mean" => mean,
        "sum_of_squares" => x.iter().map(|v| v * v).sum(),
        "variance" => ss / n,
        "stddev" => (ss / n).sqrt(),
        "sample_variance" => ss / (n - 1.0),
        "sample_stddev" => (ss / (n - 1.0)).sqrt(),
        other => panic!("unknown statistic {other}"),
    }
}

/// The owner's side of a query through the command line: `vault query` then `decrypt --json`.
struct Owner<'a> {
    url: &'a str,
    keys: &'a Path,
    id: &'a str,
    work: &'a Path,
}

impl Owner<'_> {
    fn owner_token(&self) -> String {
        self.keys.join("owner.token").to_str().unwrap().to_owned()
    }

    /// `vault query ARGS --out R` then `decrypt --json`; the decrypted JSON or the failure.
    fn try_query(&self, args: &[&str]) -> Result<Value, Out> {
        let out_file = self.work.join("result.rv");
        let _ = std::fs::remove_file(&out_file);
        let token = self.owner_token();
        let base = ["vault", "query", "--server", self.url, "--token", &token, "--dataset", self.id, "--out", s(&out_file)];
        let q = ringvault(&[&base[..], args].concat(), self.work);
        if !q.ok {
            return Err(q);
        }
        let d = ringvault(&["decrypt", "--keys", s(self.keys), "--result", s(&out_file), "--json"], self.work);
        d.assert_ok("decrypt");
        Ok(serde_json::from_str(d.stdout.trim()).unwrap_or_else(|e| panic!("decrypt --json: {e}: {}", d.stdout)))
    }

    fn query(&self, args: &[&str]) -> Value {
        self.try_query(args).unwrap_or_else(|o| panic!("vault query {args:?} failed:\n{}\n{}", o.stdout, o.stderr))
    }

    /// `(count, value)` of a statistic.
    fn stat(&self, stat: &str, column: &str, extra: &[&str]) -> (u64, f64) {
        let v = self.query(&[&["--stat", stat, "--column", column][..], extra].concat());
        assert_eq!(v["stat"], stat, "{v}");
        assert_eq!(v["column"], column, "{v}");
        (v["count"].as_u64().unwrap(), v["value"].as_f64().unwrap())
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

#[test]
fn the_readme_flow_through_the_vault_matches_float64_and_survives_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let data = work.join("data");
    let keys_dir = keys_copy(&keys());
    let keys = keys_dir.path();
    let csv_path = example("diabetes.csv");
    let csv = Csv::read(&csv_path);
    assert_eq!(csv.rows.len(), 442);

    let mut server = Server::start(&data);
    let url = server.url.clone();
    let op_file = data.join("operator.token");
    assert_eq!(mode(&op_file), 0o600, "operator.token must be owner-only");
    let operator = server.operator_token();
    assert!(operator.starts_with("rv_") && operator.len() == 67, "operator token shape: {operator:?}");
    let http = server.http();
    assert_eq!(http.get("/v1/health").send().expect(200, "health").json()["status"], "ok");

    // The operator creates the dataset with the owner's keys and the schema.
    let schema_path = example("diabetes-schema.json");
    let out = ringvault(&["vault", "create", "--server", &url, "--token", s(&op_file), "--keys", s(keys), "--name", "diabetes study", "--schema", s(&schema_path)], work);
    out.assert_ok("vault create");
    let id = out.last_line();
    assert!(is_id(&id), "the last line of vault create is the dataset id, got {id:?} in:\n{}", out.stdout);
    let owner_file = keys.join("owner.token");
    assert!(owner_file.is_file(), "vault create writes KEYS/owner.token");
    assert_eq!(mode(&owner_file), 0o600, "owner.token must be owner-only");
    let owner_token = std::fs::read_to_string(&owner_file).unwrap().trim().to_owned();
    assert!(owner_token.starts_with("rv_"), "{owner_token:?}");
    let info = dataset_info(&http, &id, &operator);
    assert_eq!((info["records"].as_u64(), info["uploads"].as_u64()), (Some(0), Some(0)), "{info}");
    assert_eq!(info["keys"]["preset"], "n4096", "the evaluation keys were uploaded: {info}");
    assert_eq!(info["schema"]["columns"].as_array().unwrap().len(), 11, "{info}");

    // The owner issues a device token; the device pushes the whole file with it.
    let dev_file = work.join("monitor-1.token");
    let out = ringvault(&["vault", "device", "--server", &url, "--token", s(&owner_file), "--dataset", &id, "--name", "monitor 1", "--out", s(&dev_file)], work);
    out.assert_ok("vault device");
    assert_eq!(mode(&dev_file), 0o600, "a device token file must be owner-only");
    let dev: Value = serde_json::from_str(&std::fs::read_to_string(&dev_file).unwrap()).unwrap();
    let dev_id = dev["id"].as_str().unwrap().to_owned();
    assert_eq!(dev["dataset"], id.as_str());
    let (from, to) = ("1700000000", "1700003600");
    let push = |token: &Path, csv: &Path, extra: &[&str]| {
        let base = ["vault", "push", "--server", &url, "--token", s(token), "--keys", s(keys), "--dataset", &id, "--csv", s(csv)];
        ringvault(&[&base[..], extra].concat(), work)
    };
    let push_args = ["--rows-per-upload", "200", "--from", from, "--to", to, "--idempotency-key", "diabetes-baseline"];
    push(&dev_file, &csv_path, &push_args).assert_ok("vault push (device)");
    assert_eq!(counts(&http, &id, &operator), (3, 442), "442 records in 3 uploads (200 + 200 + 42)");
    // The same push again (same --idempotency-key) stores nothing twice.
    let out = push(&dev_file, &csv_path, &push_args);
    out.assert_ok("vault push again");
    assert!(out.stdout.contains("0 stored"), "{}", out.stdout);
    assert_eq!(counts(&http, &id, &operator), (3, 442), "a repeated push is idempotent");
    let devices = http.get(&format!("/v1/datasets/{id}/devices")).token(&owner_token).send().expect(200, "devices").json();
    let d = devices.as_array().unwrap().iter().find(|d| d["id"] == dev_id.as_str()).unwrap();
    assert_eq!((d["uploads"].as_u64(), d["records"].as_u64(), d["revoked"].as_bool()), (Some(3), Some(442), Some(false)), "{d}");

    // Every statistic of a few columns, decrypted, against float64.
    let owner = Owner { url: &url, keys, id: &id, work };
    for column in ["bmi", "ltg", "tc"] {
        let x = csv.column(column);
        for stat in STATS {
            let (count, got) = owner.stat(stat, column, &[]);
            let want = float64(stat, &x);
            assert_eq!(count, 442, "{stat} of {column}");
            assert!(rel_err(got, want) <= 1e-9, "{stat} of {column}: {got} vs float64 {want}");
        }
    }

    // Every statistic of two columns in one batched query (`--stats`): one `stats` file.
    let args: Vec<String> = ["bmi", "ltg"].iter().flat_map(|c| STATS.iter().map(move |st| format!("{st}:{c}"))).collect();
    let mut flags: Vec<&str> = Vec::new();
    for a in &args {
        flags.extend(["--stats", a.as_str()]);
    }
    let v = owner.query(&flags);
    let all = v["stats"].as_array().unwrap_or_else(|| panic!("not a stats answer: {v}"));
    assert_eq!(all.len(), 16, "{v}");
    for (item, arg) in all.iter().zip(&args) {
        let (stat, column) = arg.split_once(':').unwrap();
        assert_eq!((item["stat"].as_str(), item["column"].as_str(), item["count"].as_u64()), (Some(stat), Some(column), Some(442)), "{item}");
        let want = float64(stat, &csv.column(column));
        assert!(rel_err(item["value"].as_f64().unwrap(), want) <= 1e-9, "batched {stat} of {column}: {item} vs float64 {want}");
    }

    // The model's scores, against its plain computation.
    let model_path = example("diabetes-model.json");
    let v = owner.query(&["--logreg", s(&model_path)]);
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&model_path).unwrap()).unwrap();
    let b = model["intercept"].as_f64().unwrap();
    let weights: Vec<(Vec<f64>, f64)> = model["weights"].as_object().unwrap().iter().map(|(k, w)| (csv.column(k), w.as_f64().unwrap())).collect();
    let scores = v["scores"].as_array().unwrap_or_else(|| panic!("no scores: {v}"));
    assert_eq!(scores.len(), 442);
    for (i, sc) in scores.iter().enumerate() {
        let terms: Vec<f64> = weights.iter().map(|(x, w)| w * x[i]).collect();
        let want = b + terms.iter().sum::<f64>();
        let scale = b.abs() + terms.iter().map(|t| t.abs()).sum::<f64>();
        let got = sc.as_f64().unwrap();
        assert!((got - want).abs() <= 1e-6 * scale, "score of row {i}: {got} vs {want}");
        let p = v["probabilities"][i].as_f64().unwrap();
        assert!((p - 1.0 / (1.0 + (-want).exp())).abs() <= 1e-6, "probability of row {i}: {p}");
    }

    // Filters: one device, a time window.
    let bmi_sum = float64("sum", &csv.column("bmi"));
    assert_eq!(owner.stat("count", "age", &["--device", &dev_id]).0, 442);
    assert_eq!(owner.stat("count", "age", &["--to", from]).0, 442, "a window that meets the uploads' range");
    let none = owner.try_query(&["--stat", "count", "--column", "age", "--from", "1700003601"]).expect_err("a window after every upload matches nothing");
    assert!(none.stderr.contains("no records"), "a clear message: {}", none.stderr);

    // Listing: the operator sees the dataset with its counts.
    let out = ringvault(&["vault", "list", "--server", &url, "--token", s(&op_file)], work);
    out.assert_ok("vault list");
    let list: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("vault list prints JSON ({e}): {}", out.stdout));
    let listed = list.as_array().unwrap().iter().find(|d| d["id"] == id.as_str()).unwrap_or_else(|| panic!("{list}"));
    assert_eq!((listed["records"].as_u64(), listed["uploads"].as_u64()), (Some(442), Some(3)), "{listed}");
    assert!(listed["bytes"].as_u64().unwrap() > 0, "{listed}");

    // Restart (graceful) on the same directory: everything is still there.
    let before = dataset_info(&http, &id, &operator);
    let status = server.stop().expect("the vault stops on SIGTERM");
    assert!(status.success(), "a graceful shutdown exits 0: {status:?}\n{}", server.log());
    drop(server);
    let server = Server::start(&data);
    assert!(!server.log().contains("operator token written"), "a restart keeps the first operator token:\n{}", server.log());
    assert_eq!(server.operator_token(), operator, "operator.token unchanged");
    let url = server.url.clone();
    let http = server.http();
    let after = dataset_info(&http, &id, &operator);
    assert_eq!(after, before, "the dataset, its keys and counts survive a restart");
    let owner = Owner { url: &url, keys, id: &id, work };
    let (n, got) = owner.stat("sum", "bmi", &[]);
    assert_eq!(n, 442);
    assert!(rel_err(got, bmi_sum) <= 1e-9, "after the restart: {got} vs {bmi_sum}");
    let out = ringvault(&["vault", "list", "--server", &url, "--token", s(&op_file)], work);
    out.assert_ok("vault list with the operator token after a restart");

    // The device's token still works; a push that starts while the vault is down retries and
    // lands once when it is back (on the same port).
    let extra_csv = work.join("extra.csv");
    std::fs::write(&extra_csv, "age,sex,bmi,bp,tc,ldl,hdl,tch,ltg,glu,progression\n50,1,30.5,90.25,180,100.2,50.0,3.5,4.5,90,100\n61,2,22.1,80.0,200,110.0,45.5,4.44,5.0123,100,200\n33,1,19.9,70.5,150,90.0,60.0,2.5,4.0,80,50\n").unwrap();
    let port = server.addr.clone();
    let mut server = server;
    server.stop().expect("stops");
    drop(server);
    let pusher = {
        let (url, keys, id, dev_file, extra_csv, work) = (url.clone(), keys.to_path_buf(), id.clone(), dev_file.clone(), extra_csv.clone(), work.to_path_buf());
        std::thread::spawn(move || {
            ringvault(&["vault", "push", "--server", &url, "--token", s(&dev_file), "--keys", s(&keys), "--dataset", &id, "--csv", s(&extra_csv), "--from", "1800000000"], &work)
        })
    };
    std::thread::sleep(Duration::from_millis(600));
    let server = Server::try_start(&data, &port, &[]).unwrap_or_else(|e| panic!("restart on {port}: {e}"));
    let out = pusher.join().unwrap();
    out.assert_ok("vault push across a restart (retries)");
    let http = server.http();
    assert_eq!(counts(&http, &id, &operator), (4, 445), "the retried upload is stored once");
    let owner = Owner { url: &server.url, keys, id: &id, work };
    assert_eq!(owner.stat("count", "ltg", &["--from", "1800000000"]).0, 3, "the window of the new upload");
    assert_eq!(owner.stat("count", "ltg", &["--to", "1799999999"]).0, 442, "the window of the first file");
    let (n, got) = owner.stat("sum", "bmi", &[]);
    assert_eq!(n, 445);
    let want = bmi_sum + 30.5 + 22.1 + 19.9;
    assert!(rel_err(got, want) <= 1e-9, "{got} vs {want}");

    // Revocation: the device's next push is refused with a clear message; its records stay.
    let out = ringvault(&["vault", "revoke", "--server", &server.url, "--token", s(&owner_file), "--dataset", &id, "--device", s(&dev_file)], work);
    out.assert_ok("vault revoke");
    let out = ringvault(&["vault", "push", "--server", &server.url, "--token", s(&dev_file), "--keys", s(keys), "--dataset", &id, "--csv", s(&extra_csv), "--from", "1900000000"], work);
    assert!(!out.ok, "a revoked device's push must fail:\n{}", out.stdout);
    assert!(out.stderr.to_lowercase().contains("revoked"), "the message says the token was revoked: {}", out.stderr);
    assert!(!out.stderr.contains(dev["token"].as_str().unwrap()), "the message does not echo the token");
    assert_eq!(counts(&http, &id, &operator), (4, 445), "nothing stored from a revoked device");

    // Deletion removes the dataset, its keys and records.
    let key_files = |dir: &Path| std::fs::read_dir(dir).map(|r| r.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>()).unwrap_or_default();
    assert!(!key_files(&data.join("keys")).is_empty(), "the keys are stored in DIR/keys");
    let out = ringvault(&["vault", "delete", "--server", &server.url, "--token", s(&owner_file), "--dataset", &id], work);
    out.assert_ok("vault delete");
    let r = http.get(&format!("/v1/datasets/{id}")).token(&operator).send();
    assert_eq!(r.status, 404, "deleted: {}", r.text());
    assert!(key_files(&data.join("keys")).is_empty(), "its key files are gone: {:?}", key_files(&data.join("keys")));
    let list = http.get("/v1/datasets").token(&operator).send().expect(200, "list").json();
    assert!(list.as_array().unwrap().iter().all(|d| d["id"] != id.as_str()), "{list}");
    // Its tokens died with it.
    for t in [owner_token.as_str(), dev["token"].as_str().unwrap()] {
        let r = http.get("/v1/datasets").token(t).send();
        assert_eq!(r.status, 401, "a token of a deleted dataset: {}", r.text());
    }
    http.get("/v1/datasets").token(&operator).send().expect(200, "the operator token still works");
}

/// A vault on loopback over a fresh store, with one dataset of `schema` (JSON) created by
/// the operator and a device token issued by its owner.
struct Ward {
    work: tempfile::TempDir,
    keys: tempfile::TempDir,
    server: Server,
    id: String,
    dev_file: std::path::PathBuf,
}

fn ward(name: &str, schema: &str) -> Ward {
    let work = tempfile::tempdir().unwrap();
    let keys = keys_copy(&self::keys());
    let server = Server::start(&work.path().join("data"));
    let (w, k) = (work.path(), keys.path());
    let schema_file = w.join(format!("{name}.json"));
    std::fs::write(&schema_file, schema).unwrap();
    let out = ringvault(&["vault", "create", "--server", &server.url, "--token", s(&server.data.join("operator.token")), "--keys", s(k), "--name", name, "--schema", s(&schema_file)], w);
    out.assert_ok("vault create");
    let id = out.last_line();
    let dev_file = w.join(format!("{name}.token"));
    ringvault(&["vault", "device", "--server", &server.url, "--token", s(&k.join("owner.token")), "--dataset", &id, "--name", name, "--out", s(&dev_file)], w).assert_ok("vault device");
    Ward { work, keys, server, id, dev_file }
}

/// A monitor sends one reading at a time: readings with equal values at different times are
/// different records; a push repeated with its `--idempotency-key` is stored once; a key
/// reused for other readings never reports them stored when they are not; a reading outside
/// the declared range is refused by the client before anything is sent.
#[test]
fn a_monitor_pushes_one_reading_at_a_time() {
    let w = ward("vitals", r#"{"columns": [{"name": "hr", "decimals": 0, "min": 20, "max": 250}, {"name": "spo2", "decimals": 0, "min": 50, "max": 100}]}"#);
    let (work, keys, url, id, dev_file) = (w.work.path(), w.keys.path(), w.server.url.clone(), w.id.clone(), w.dev_file.clone());
    let (http, operator) = (w.server.http(), w.server.operator_token());
    let reading = work.join("reading.csv");
    std::fs::write(&reading, "hr,spo2\n72,98\n").unwrap();
    let push = |csv: &Path, at: &str, extra: &[&str]| {
        let base = ["vault", "push", "--server", &url, "--token", s(&dev_file), "--keys", s(keys), "--dataset", &id, "--csv", s(csv), "--from", at];
        ringvault(&[&base[..], extra].concat(), work)
    };

    push(&reading, "1000", &["--idempotency-key", "bed7-1000"]).assert_ok("the 08:00 reading");
    assert_eq!(counts(&http, &id, &operator), (1, 1));
    push(&reading, "1000", &["--idempotency-key", "bed7-1000"]).assert_ok("the 08:00 reading, retried");
    assert_eq!(counts(&http, &id, &operator), (1, 1), "a push retried with its key is stored once");
    push(&reading, "4600", &[]).assert_ok("the 09:00 reading (the same values)");
    assert_eq!(counts(&http, &id, &operator), (2, 2), "equal values at another time are another record");
    push(&reading, "8200", &["--idempotency-key", "bed7-8200"]).assert_ok("the 10:00 reading (the same values)");
    assert_eq!(counts(&http, &id, &operator), (3, 3));

    // Outside the declared range: refused before anything is sent, naming column and range.
    let high = work.join("high.csv");
    std::fs::write(&high, "hr,spo2\n300,98\n").unwrap();
    let out = push(&high, "8200", &[]);
    assert!(!out.ok, "a reading outside the declared range was pushed");
    assert!(out.stderr.contains("hr") && out.stderr.contains("250"), "the message names the column and its range: {}", out.stderr);
    let missing = work.join("missing.csv");
    std::fs::write(&missing, "hr\n80\n").unwrap();
    let out = push(&missing, "8200", &[]);
    assert!(!out.ok && out.stderr.contains("spo2"), "a CSV without a schema column: {}", out.stderr);
    assert_eq!(counts(&http, &id, &operator), (3, 3), "nothing stored from refused pushes");

    // Other readings under a key used before: stored, or a failure; never "already present".
    let other = work.join("other.csv");
    std::fs::write(&other, "hr,spo2\n91,95\n").unwrap();
    let out = push(&other, "11800", &["--idempotency-key", "bed7-8200"]);
    let stored = counts(&http, &id, &operator) == (4, 4);
    assert!(stored || !out.ok, "vault push exited 0 for readings the vault did not store (a reused --idempotency-key):\n{}", out.stdout);
}

/// A file larger than one read of `vault push` (8 uploads' records, at least 2 per thread) is
/// read, encrypted and pushed part by part: uploads are numbered across the whole push (a
/// rerun under its key stores nothing twice), the statistics equal float64, and a bad cell
/// near the end of the file is refused, naming its record, before anything is sent.
#[test]
fn a_large_csv_is_pushed_part_by_part_and_a_late_bad_cell_sends_nothing() {
    let w = ward("ward", r#"{"columns": [{"name": "hr", "decimals": 0, "min": 20, "max": 250}, {"name": "spo2", "decimals": 1, "min": 50, "max": 100}]}"#);
    let (work, keys, url, id, dev_file) = (w.work.path(), w.keys.path(), w.server.url.clone(), w.id.clone(), w.dev_file.clone());
    let (http, operator) = (w.server.http(), w.server.operator_token());
    // 20 records per upload and 2 threads on the development machine: 160 records per read, so 1,234
    // records are 8 reads, the last one ragged (114 records), and 62 uploads.
    let records = 1234;
    let (hr, spo2): (Vec<f64>, Vec<f64>) = (0..records).map(|i| ((40 + (i * 37) % 150) as f64, 80.0 + ((i * 13) % 200) as f64 / 10.0)).unzip();
    let text = |bad: Option<(usize, &str)>| {
        let mut t = String::from("patient,hr,spo2\n");
        for i in 0..records {
            let h = match bad {
                Some((at, v)) if at == i => v.to_string(),
                _ => hr[i].to_string(),
            };
            t.push_str(&format!("p{i},{h},{:.1}\n", spo2[i]));
        }
        t
    };
    let csv = work.join("ward.csv");
    std::fs::write(&csv, text(None)).unwrap();
    let push = |csv: &Path, extra: &[&str]| {
        let base = ["vault", "push", "--server", &url, "--token", s(&dev_file), "--keys", s(keys), "--dataset", &id, "--csv", s(csv), "--rows-per-upload", "20"];
        ringvault(&[&base[..], extra].concat(), work)
    };
    let out = push(&csv, &["--idempotency-key", "ward-1"]);
    out.assert_ok("vault push of a large file");
    assert!(out.stdout.contains("in 62 uploads") && out.stdout.contains("62 stored"), "{}", out.stdout);
    assert_eq!(counts(&http, &id, &operator), (62, records as u64));
    let out = push(&csv, &["--idempotency-key", "ward-1"]);
    out.assert_ok("the same push again");
    assert!(out.stdout.contains("0 stored, 62 already present"), "keys number uploads across parts: {}", out.stdout);
    assert_eq!(counts(&http, &id, &operator), (62, records as u64), "a rerun stores nothing twice");

    let owner = Owner { url: &url, keys, id: &id, work };
    for (column, values) in [("hr", &hr), ("spo2", &spo2)] {
        for stat in ["mean", "variance"] {
            let (count, got) = owner.stat(stat, column, &[]);
            let want = float64(stat, values);
            assert_eq!(count, records as u64);
            assert!(((got - want) / want).abs() <= 1e-9, "{stat} of {column}: {got} against float64 {want}");
        }
    }

    // A reading outside its range in the last read, and a cell that is not a number: refused
    // before the first upload.
    let late = work.join("late.csv");
    std::fs::write(&late, text(Some((1200, "300")))).unwrap();
    let out = push(&late, &[]);
    assert!(!out.ok, "a file with a reading outside its range was pushed");
    assert!(out.stderr.contains("record 1201") && out.stderr.contains("hr"), "the message names the record and column: {}", out.stderr);
    std::fs::write(&late, text(Some((1230, "n/a")))).unwrap();
    let out = push(&late, &[]);
    assert!(!out.ok && out.stderr.contains("n/a") && out.stderr.contains("1232"), "the message names the cell and its line: {}", out.stderr);
    assert_eq!(counts(&http, &id, &operator), (62, records as u64), "nothing sent from refused files");
}

#[test]
fn the_openapi_document_is_served_and_lists_every_route() {
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(&work.path().join("data"));
    let http = server.http();
    let r = http.get("/v1/openapi.json").token(&server.operator_token()).send().expect(200, "openapi");
    assert!(r.header("content-type").unwrap_or("").starts_with("application/json"), "{:?}", r.headers);
    let doc = r.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')), "an OpenAPI 3 document: {}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap_or_else(|| panic!("no paths object"));
    for (path, methods) in [
        ("/v1/health", &["get"][..]),
        ("/v1/openapi.json", &["get"]),
        ("/v1/datasets", &["get", "post"]),
        ("/v1/datasets/{id}", &["get", "delete"]),
        ("/v1/datasets/{id}/keys", &["put"]),
        ("/v1/datasets/{id}/public-key", &["get"]),
        ("/v1/datasets/{id}/schema", &["get"]),
        ("/v1/datasets/{id}/devices", &["get", "post"]),
        ("/v1/datasets/{id}/devices/{device}", &["delete"]),
        ("/v1/datasets/{id}/uploads", &["post"]),
        ("/v1/datasets/{id}/queries", &["post"]),
        ("/v1/jobs/{job}", &["get", "delete"]),
        ("/v1/jobs/{job}/result", &["get"]),
    ] {
        let p = paths.get(path).unwrap_or_else(|| panic!("the document has no path {path}; it has {:?}", paths.keys().collect::<Vec<_>>()));
        for m in methods {
            assert!(p.get(*m).is_some(), "{path} has no {m} operation");
        }
    }
    assert!(doc["components"]["schemas"].as_object().is_some_and(|s| !s.is_empty()), "the bodies' schemas are described");
}
