//! Shared helpers of the vault's end-to-end tests: the real `ringvault serve` process on
//! loopback with a real on-disk store in a temporary directory, the command line, key sets
//! generated once per test binary, in-process encryption of uploads, and a raw HTTP/1.1
//! client that shows exact status codes and lets a test send what no well-behaved client
//! would (no body, a lying Content-Length, a chunked body without end).
//!
//! Every wait is bounded (in time and in count); nothing asserts on timings.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one command-line run may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one HTTP exchange may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// The vault's settings from the environment; cleared for every child so that the
/// developer's environment cannot change what a test sees.
const VAULT_ENV: [&str; 11] = [
    "RINGVAULT_VAULT_DATA",
    "RINGVAULT_VAULT_LISTEN",
    "RINGVAULT_VAULT_TLS_CERT",
    "RINGVAULT_VAULT_TLS_KEY",
    "RINGVAULT_VAULT_KEY_CACHE_MB",
    "RINGVAULT_VAULT_QUERY_CONCURRENCY",
    "RINGVAULT_VAULT_MAX_UPLOAD_MB",
    "RINGVAULT_VAULT_MAX_KEYS_MB",
    "RINGVAULT_VAULT_REQUEST_TIMEOUT_S",
    "RINGVAULT_VAULT_FAULTS",
    "RUST_LOG",
];

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/NAME`.
pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// A `ringvault` command on the CPU backend with a clean vault environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ringvault"));
    for k in VAULT_ENV {
        c.env_remove(k);
    }
    c.env("RINGVAULT_BACKEND", "cpu");
    c
}

/// What a command did.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The last non-empty line of standard output.
    pub fn last_line(&self) -> String {
        self.stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned()
    }

    /// Panics with both streams unless the command succeeded.
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert!(self.ok, "{what} failed ({:?}):\nstdout: {}\nstderr: {}", self.code, self.stdout, self.stderr);
        self
    }
}

/// Runs a command with a bounded time; kills it past [`CLI_TIMEOUT`].
pub fn run_cmd(mut c: Command) -> Out {
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawning ringvault");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    let status = status.unwrap_or_else(|| panic!("{c:?} ran past {CLI_TIMEOUT:?}:\nstdout: {stdout}\nstderr: {stderr}"));
    Out { ok: status.success(), code: status.code(), stdout, stderr }
}

/// `ringvault ARGS` in `cwd`.
pub fn ringvault(args: &[&str], cwd: &Path) -> Out {
    let mut c = bin();
    c.args(args).current_dir(cwd);
    run_cmd(c)
}

/// `p` as `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

// ---------------------------------------------------------------------------------------------
// Key sets: generated once per test binary, removed when the test binary exits.

static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn remove_key_dirs() {
    let dirs = std::mem::take(&mut *CLEANUP.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The directory of the key set `name` (`ringvault keygen --preset PRESET`), generated on
/// first use in this test binary and reused. Read it only: tests that write into a keys
/// directory (`vault create` writes `owner.token`) take a [`keys_copy`].
pub fn keyset(name: &str, preset: &str) -> PathBuf {
    static SETS: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    static ATEXIT: OnceLock<()> = OnceLock::new();
    ATEXIT.get_or_init(|| {
        // SAFETY: registers a plain function without arguments, run once at process exit.
        unsafe {
            libc::atexit(remove_key_dirs);
        }
    });
    let mut sets = SETS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(p) = sets.get(name) {
        return p.clone();
    }
    let dir = tempfile::Builder::new().prefix(&format!("ringvault-test-keys-{name}-")).tempdir().unwrap().keep();
    CLEANUP.lock().unwrap().push(dir.clone());
    let keys = dir.join("keys");
    ringvault(&["keygen", "--dir", s(&keys), "--preset", preset], &dir).assert_ok("keygen");
    for f in ["secret.key", "public.key", "eval.keys"] {
        assert!(keys.join(f).is_file(), "keygen wrote no {f}");
    }
    sets.insert(name.to_owned(), keys.clone());
    keys
}

/// The test binary's main n4096 key set.
pub fn keys() -> PathBuf {
    keyset("main", "n4096")
}

/// A private copy of a key set (`vault create` writes `owner.token` into it).
pub fn keys_copy(src: &Path) -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("ringvault-test-owner-").tempdir().unwrap();
    for f in ["secret.key", "public.key", "eval.keys"] {
        std::fs::copy(src.join(f), d.path().join(f)).unwrap();
    }
    d
}

// ---------------------------------------------------------------------------------------------
// The server process.

/// A `ringvault serve` process with its standard error captured.
pub struct Server {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory.
    pub data: PathBuf,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts `ringvault serve --data DATA --listen 127.0.0.1:0` and waits (bounded) for its
    /// listening line.
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// As [`Server::start`], with extra environment variables.
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Self {
        Self::try_start(data, "127.0.0.1:0", env).unwrap_or_else(|e| panic!("the vault did not start: {e}"))
    }

    /// Starts the vault on a given address (`127.0.0.1:PORT`), waiting for it (bounded); the
    /// log so far when it exits or stays silent.
    pub fn try_start(data: &Path, listen: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        let mut c = bin();
        c.args(["serve", "--data", s(data), "--listen", listen]);
        c.env("RUST_LOG", "info");
        for (k, v) in env {
            c.env(k, v);
        }
        c.current_dir(data.parent().unwrap_or(data));
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| format!("spawn: {e}"))?;
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let log2 = log.clone();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = String::new();
            let mut tx = Some(tx);
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                log2.lock().unwrap().push_str(&line);
                if let Some(rest) = line.trim().strip_prefix("ringvault vault listening on http://")
                    && let Some(addr) = rest.split_whitespace().next()
                    && let Some(t) = tx.take()
                {
                    let _ = t.send(addr.to_owned());
                }
            }
        });
        let got = rx.recv_timeout(START_TIMEOUT);
        let mut server = Self { child: Some(child), addr: String::new(), url: String::new(), data: data.to_path_buf(), log, reader: Some(reader) };
        match got {
            Ok(addr) => {
                server.url = format!("http://{addr}");
                server.addr = addr;
                Ok(server)
            }
            Err(e) => {
                server.kill();
                Err(format!("no listening line ({e}); its log:\n{}", server.log()))
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// SIGTERM (a graceful shutdown), waits for the exit (bounded; SIGKILL past 60 s).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let pid = libc::pid_t::try_from(c.id()).unwrap();
        // SAFETY: signals our own child, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = c.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        status
    }

    /// Everything it wrote to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The operator token of its data directory.
    pub fn operator_token(&self) -> String {
        operator_token(&self.data)
    }

    /// A raw HTTP client of this server.
    pub fn http(&self) -> Http {
        Http { addr: self.addr.clone() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `DIR/operator.token`, trimmed.
pub fn operator_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("operator.token")).expect("DIR/operator.token").trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over TCP: one connection per request (`Connection: close`).

/// An answer.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("answer {} is not JSON ({e}): {}", self.status, self.text()))
    }

    /// The `error` of a JSON error answer; panics unless the answer is one.
    pub fn error(&self) -> String {
        let ct = self.header("content-type").unwrap_or("");
        assert!(ct.starts_with("application/json"), "error answer {} is not JSON (content-type {ct:?}): {}", self.status, self.text());
        let v = self.json();
        let obj = v.as_object().unwrap_or_else(|| panic!("error answer {} is not an object: {v}", self.status));
        let msg = obj.get("error").and_then(Value::as_str).unwrap_or_else(|| panic!("error answer {} has no \"error\" string: {v}", self.status));
        assert!(!msg.trim().is_empty(), "error answer {} has an empty message", self.status);
        msg.to_owned()
    }

    /// Panics unless the status is `want`.
    pub fn expect(self, want: u16, what: &str) -> Self {
        assert_eq!(self.status, want, "{what}: expected {want}, got {}: {}", self.status, self.text());
        self
    }
}

/// A raw client of one server address.
#[derive(Clone, Debug)]
pub struct Http {
    pub addr: String,
}

/// A request being built.
#[derive(Clone, Debug)]
pub struct Req {
    addr: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Http {
    pub fn req(&self, method: &str, path: &str) -> Req {
        Req { addr: self.addr.clone(), method: method.to_owned(), path: path.to_owned(), headers: Vec::new(), body: None }
    }
    pub fn get(&self, path: &str) -> Req {
        self.req("GET", path)
    }
    pub fn post(&self, path: &str) -> Req {
        self.req("POST", path)
    }
    pub fn put(&self, path: &str) -> Req {
        self.req("PUT", path)
    }
    pub fn delete(&self, path: &str) -> Req {
        self.req("DELETE", path)
    }
}

impl Req {
    /// `Authorization: Bearer TOKEN`.
    pub fn token(self, t: &str) -> Self {
        self.header("Authorization", &format!("Bearer {t}"))
    }
    /// `Authorization: Bearer TOKEN` when `t` is some.
    pub fn maybe_token(self, t: Option<&str>) -> Self {
        match t {
            Some(t) => self.token(t),
            None => self,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
    /// A JSON body.
    pub fn json(self, v: &Value) -> Self {
        self.body("application/json", serde_json::to_vec(v).unwrap())
    }
    /// A body with its content type.
    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers.push(("Content-Type".into(), content_type.to_owned()));
        self.body = Some(body);
        self
    }
    /// A body without a content type.
    pub fn raw_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    fn head(&self, content_length: Option<usize>, chunked: bool) -> Vec<u8> {
        let mut h = format!("{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.method, self.path, self.addr);
        for (k, v) in &self.headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(n) = content_length {
            h.push_str(&format!("Content-Length: {n}\r\n"));
        }
        if chunked {
            h.push_str("Transfer-Encoding: chunked\r\n");
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let s = TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(HTTP_TIMEOUT))?;
        s.set_write_timeout(Some(HTTP_TIMEOUT))?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// Sends the request and reads the answer; panics on a transport error.
    pub fn send(&self) -> Resp {
        self.try_send().unwrap_or_else(|e| panic!("{} {} on {}: {e}", self.method, self.path, self.addr))
    }

    /// Sends the request and reads the answer.
    pub fn try_send(&self) -> std::io::Result<Resp> {
        let mut s = self.connect()?;
        let len = self.body.as_ref().map(Vec::len).or(match self.method.as_str() {
            "POST" | "PUT" => Some(0),
            _ => None,
        });
        let mut bytes = self.head(len, false);
        if let Some(b) = &self.body {
            bytes.extend_from_slice(b);
        }
        // The server may answer (401, 413) and close before reading the whole body: write on
        // another thread and read the answer meanwhile, so that it is read before the reset
        // that closing with unread input causes.
        let mut w = s.try_clone()?;
        let writer = std::thread::spawn(move || w.write_all(&bytes));
        let r = read_response(&mut s);
        let written = writer.join().unwrap();
        match r {
            Ok(r) => Ok(r),
            Err(e) => Err(written.err().unwrap_or(e)),
        }
    }

    /// Declares `Content-Length: declared` but sends no body, then reads the answer (a
    /// server that refuses oversized bodies answers without waiting for them).
    pub fn send_declaring(&self, declared: u64) -> std::io::Result<Resp> {
        let mut s = self.connect()?;
        let mut h = self.head(None, false);
        h.truncate(h.len() - 2);
        h.extend_from_slice(format!("Content-Length: {declared}\r\n\r\n").as_bytes());
        s.write_all(&h)?;
        read_response(&mut s)
    }

    /// Declares the whole body's length but sends only its first `sent` bytes, then waits for
    /// the answer without sending more (a client that stalls).
    pub fn send_stalled(&self, sent: usize) -> std::io::Result<Resp> {
        let mut s = self.connect()?;
        let body = self.body.clone().unwrap_or_default();
        let mut bytes = self.head(Some(body.len()), false);
        bytes.extend_from_slice(&body[..sent.min(body.len())]);
        s.write_all(&bytes)?;
        read_response(&mut s)
    }

    /// Sends the body chunked (no length) in `chunk`-byte pieces, stopping after `stop_after`
    /// bytes without the closing chunk when that is less than the body; reads the answer.
    pub fn send_chunked(&self, chunk: usize, stop_after: Option<usize>) -> std::io::Result<Resp> {
        let mut s = self.connect()?;
        s.write_all(&self.head(None, true))?;
        let body = self.body.clone().unwrap_or_default();
        let limit = stop_after.unwrap_or(usize::MAX);
        let mut sent = 0;
        let mut write_err = None;
        for piece in body.chunks(chunk.max(1)) {
            if sent >= limit {
                break;
            }
            let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
            frame.extend_from_slice(piece);
            frame.extend_from_slice(b"\r\n");
            if let Err(e) = s.write_all(&frame) {
                write_err = Some(e);
                break;
            }
            sent += piece.len();
        }
        if write_err.is_none() && sent >= body.len() {
            write_err = s.write_all(b"0\r\n\r\n").err();
        }
        match read_response(&mut s) {
            Ok(r) => Ok(r),
            Err(e) => Err(write_err.unwrap_or(e)),
        }
    }
}

fn read_response(s: &mut TcpStream) -> std::io::Result<Resp> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after a complete answer (the server closed with unread input).
            Err(e) if !raw.is_empty() && matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => break,
            Err(e) => return Err(e),
        }
    }
    parse_response(&raw).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not an HTTP answer ({} bytes): {:?}", raw.len(), String::from_utf8_lossy(&raw[..raw.len().min(300)]))))
}

fn parse_response(raw: &[u8]) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        let mut out = Vec::new();
        let mut p = rest;
        loop {
            let nl = p.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&p[..nl]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            p = &p[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(p.get(..size)?);
            p = p.get(size + 2..)?;
        }
        out
    } else if let Some(n) = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()) {
        rest.get(..n)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(Resp { status, headers, body })
}

// ---------------------------------------------------------------------------------------------
// The API, as a test drives it.

/// A schema of `(name, decimals, min, max)` columns.
pub fn schema(columns: &[(&str, u32, f64, f64)]) -> Value {
    json!({ "columns": columns.iter().map(|(n, d, lo, hi)| json!({"name": n, "decimals": d, "min": lo, "max": hi})).collect::<Vec<_>>() })
}

/// A dataset created over HTTP: its id and owner token.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub id: String,
    pub owner: String,
}

/// `POST /v1/datasets` as the operator; 201 expected.
pub fn create_dataset(http: &Http, operator: &str, name: &str, schema: &Value) -> Dataset {
    let r = http.post("/v1/datasets").token(operator).json(&json!({"name": name, "schema": schema})).send().expect(201, "create dataset");
    let v = r.json();
    Dataset { id: v["id"].as_str().unwrap().to_owned(), owner: v["owner_token"].as_str().unwrap().to_owned() }
}

/// `PUT /v1/datasets/{id}/keys` with `KEYS/eval.keys`; 200 expected.
pub fn put_keys(http: &Http, ds: &Dataset, keys: &Path) -> Value {
    let body = std::fs::read(keys.join("eval.keys")).unwrap();
    http.put(&format!("/v1/datasets/{}/keys", ds.id)).token(&ds.owner).body("application/octet-stream", body).send().expect(200, "put keys").json()
}

/// A device: its id and token.
#[derive(Clone, Debug)]
pub struct Device {
    pub id: String,
    pub token: String,
}

/// `POST /v1/datasets/{id}/devices` as the owner; 201 expected.
pub fn add_device(http: &Http, ds: &Dataset, name: &str) -> Device {
    let v = http.post(&format!("/v1/datasets/{}/devices", ds.id)).token(&ds.owner).json(&json!({"name": name})).send().expect(201, "add device").json();
    Device { id: v["id"].as_str().unwrap().to_owned(), token: v["token"].as_str().unwrap().to_owned() }
}

/// `POST /v1/datasets/{id}/uploads` with a token, an idempotency key and a body.
pub fn upload(http: &Http, dataset: &str, token: &str, key: &str, body: &[u8]) -> Req {
    http.post(&format!("/v1/datasets/{dataset}/uploads")).token(token).header("Idempotency-Key", key).body("application/octet-stream", body.to_vec())
}

/// `GET /v1/datasets/{id}` as `token`; 200 expected; the dataset's JSON.
pub fn dataset_info(http: &Http, dataset: &str, token: &str) -> Value {
    http.get(&format!("/v1/datasets/{dataset}")).token(token).send().expect(200, "dataset info").json()
}

/// `(uploads, records)` of a dataset.
pub fn counts(http: &Http, dataset: &str, token: &str) -> (u64, u64) {
    let v = dataset_info(http, dataset, token);
    (v["uploads"].as_u64().unwrap(), v["records"].as_u64().unwrap())
}

/// Runs a query (following its job, bounded) and returns the result file's bytes.
pub fn query(http: &Http, ds: &Dataset, request: &Value) -> Vec<u8> {
    let r = http.post(&format!("/v1/datasets/{}/queries", ds.id)).token(&ds.owner).json(request).send();
    match r.status {
        200 => r.body,
        202 => {
            let job = r.json()["job"].as_str().unwrap().to_owned();
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                let st = http.get(&format!("/v1/jobs/{job}")).token(&ds.owner).send().expect(200, "job status").json();
                if st["state"] != "running" {
                    return http.get(&format!("/v1/jobs/{job}/result")).token(&ds.owner).send().expect(200, "job result").body;
                }
                assert!(Instant::now() < deadline, "job {job} still running");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        s => panic!("query {request}: {s}: {}", r.text()),
    }
}

/// `ringvault decrypt --keys KEYS --result FILE --json` of result bytes.
pub fn decrypt(keys: &Path, result: &[u8], scratch: &Path) -> Value {
    let f = tempfile::Builder::new().prefix("result-").suffix(".rv").tempfile_in(scratch).unwrap();
    std::fs::write(f.path(), result).unwrap();
    let out = ringvault(&["decrypt", "--keys", s(keys), "--result", s(f.path()), "--json"], scratch);
    out.assert_ok("decrypt");
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("decrypt --json printed no JSON ({e}): {}", out.stdout))
}

/// A statistic of a column through the API, decrypted: `(count, value)`.
pub fn stat(http: &Http, ds: &Dataset, keys: &Path, scratch: &Path, stat: &str, column: &str) -> (u64, f64) {
    let v = decrypt(keys, &query(http, ds, &json!({"stat": stat, "column": column})), scratch);
    assert_eq!(v["stat"], stat, "{v}");
    assert_eq!(v["column"], column, "{v}");
    (v["count"].as_u64().unwrap(), v["value"].as_f64().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Encryption in-process (what a device does), with plaintexts the test knows.

/// Encrypts columns `(name, decimals, fixed-point values)` for `schema` with the public key
/// of `keys`, `rows_per_upload` records per upload body.
pub fn encrypt(keys: &Path, schema: &Value, columns: &[(&str, u32, Vec<i128>)], rows_per_upload: usize) -> Vec<Vec<u8>> {
    use ringvault::app::dataset::{Schema, encrypt_uploads};
    use ringvault::core::stats::PlainColumn;
    let schema = Schema::from_json(&serde_json::to_vec(schema).unwrap()).unwrap();
    let public = std::fs::read(keys.join("public.key")).unwrap();
    let cols: Vec<PlainColumn> = columns.iter().map(|(n, d, v)| PlainColumn { name: (*n).to_owned(), decimals: *d, values: v.iter().map(|&x| Some(x)).collect() }).collect();
    encrypt_uploads(Arc::new(ringvault::cpu::CpuBackend::new()), &schema, &public, &cols, rows_per_upload).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Small things.

/// A deterministic generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// Relative error of `got` against `want`.
pub fn rel_err(got: f64, want: f64) -> f64 {
    if want == 0.0 { got.abs() } else { ((got - want) / want).abs() }
}

/// Waits (bounded) until `f` returns `Some`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The file mode bits of `p`.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}
