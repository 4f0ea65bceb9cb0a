//! The vault's store: one [redb](https://docs.rs/redb) database, `DIR/vault.redb`, beside the
//! content-addressed evaluation keys in `DIR/keys/` (see [`crate::keyfiles`]).
//!
//! # Why redb rather than SQLite
//!
//! - Pure Rust, no C library to build, audit or keep patched, and nothing to configure for
//!   durability: a commit with [`Durability::Immediate`] (the default, set explicitly here)
//!   returns only after the data and the new root are fsync'd.
//! - One file, copy-on-write B-trees: a commit never overwrites the pages of the last commit,
//!   and the header's commit slot is checksummed, so a crash (`kill -9`, power loss) at any
//!   instant leaves the last committed state; a half-written transaction is never visible.
//! - Typed tables and tuple keys fit the data (uploads keyed `(dataset, seq)`, their blobs
//!   `(dataset, seq, part)`), and readers see snapshots without blocking the writer.
//!
//! SQLite in WAL mode with `synchronous=FULL` would be as durable; it was not chosen for its
//! C dependency and its settings, any of which, left at a default, silently weakens
//! durability.
//!
//! # Group commit
//!
//! Every write goes through one writer thread. It takes the first pending request, drains
//! everything else pending (bounded in count and bytes), applies the batch in ONE write
//! transaction, commits it (one fsync), and only then answers each request. Sixty-four
//! devices uploading at once therefore share fsyncs instead of queueing for one each. A
//! request whose own preconditions fail (a conflict, a missing dataset) is refused alone,
//! having changed nothing; a failed commit fails every request of its batch, and none of
//! them is visible.
//!
//! # I/O errors and disk full
//!
//! After an I/O error redb refuses every later operation ("previous I/O error") until the
//! database is closed and opened again. The writer thread then takes the database's lock
//! exclusively (readers in flight finish; new ones are answered 503 at once rather than
//! waiting), drops the database and reopens it — opening checks the file and returns the
//! last committed state. When that fails because the disk is full, the database is opened
//! over a read overlay instead (reads come from the file; the few bytes redb writes while
//! opening stay in memory; the file is never written): reads, token checks and queries go
//! on, and every write is answered with the error (507) without touching the file. Every
//! 250 ms, and on each write, the writer checks whether the disk takes a write again (a
//! 64 KiB probe file, fsync'd) and then reopens for writing: the vault recovers by itself
//! once space returns, without a restart.
//!
//! # Fault injection
//!
//! With faults enabled (`RINGVAULT_VAULT_FAULTS=1` at startup), every storage write — redb's
//! writes, length changes and fsyncs, through [`FaultBackend`] — first checks for the file
//! `DIR/fault-enospc`, and fails with `ENOSPC` while it exists.
//!
//! # Tables
//!
//! | table | key | value |
//! |---|---|---|
//! | `datasets` | id | JSON [`DatasetRecord`] |
//! | `tokens` | SHA-256 of the token | JSON [`TokenRecord`] |
//! | `devices` | (dataset, device id) | JSON [`DeviceRecord`] |
//! | `uploads` | (dataset, seq) | JSON [`UploadRecord`] |
//! | `parts` | (dataset, seq, part index) | an upload's stored blobs (today one: its validated `rows` file) |
//! | `idempotency` | (dataset, principal, key) | seq |
//! | `meta` | name | bytes (`operator`: the operator token's digest) |

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError, RwLock, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::backends::FileBackend;
use redb::{BackendError, Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, StorageBackend, TableDefinition, WriteTransaction};
use ringvault_app::dataset::{KeyInfo, Schema};
use serde::{Deserialize, Serialize};

use crate::error::is_disk_full;

const DATASETS: TableDefinition<&str, &[u8]> = TableDefinition::new("datasets");
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
const DEVICES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("devices");
const UPLOADS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("uploads");
/// An upload's blobs as whole values, as stores before [`PIECES`] wrote them: read and
/// deleted, never written.
const PARTS: TableDefinition<(&str, u64, u32), &[u8]> = TableDefinition::new("parts");
/// An upload's blobs in pieces of at most [`PIECE_BYTES`]: `(dataset, seq, part, piece)`. redb
/// gives a large value a page of the next power of two and writes it whole, so a 10.8 MB blob
/// took 16 MiB on disk; pieces that fill a 1 MiB page leave only the last piece's rounding.
const PIECES: TableDefinition<(&str, u64, u32, u32), &[u8]> = TableDefinition::new("part_pieces");
const IDEMPOTENCY: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("idempotency");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Bytes of a blob's piece: a 1 MiB redb page less room for its leaf's header and key.
const PIECE_BYTES: usize = (1 << 20) - (4 << 10);

/// Most requests in one group commit.
const MAX_BATCH: usize = 512;
/// Most column bytes in one group commit (a larger single upload still commits alone).
const MAX_BATCH_BYTES: usize = 256 << 20;
/// redb's page cache, read cache and write buffer together: enough for the small tables'
/// pages. Upload pieces pass through it once per query and the OS caches the file too, so a
/// larger cache only holds blobs in the process (at 128 MiB the 1M-patient demo peaked
/// 0.5 GB higher, and was no faster).
const CACHE_BYTES: usize = 16 << 20;
/// How often a broken store tries to reopen by itself.
const REOPEN_EVERY: Duration = Duration::from_millis(250);
/// Least time between two reopen attempts asked for by readers.
const REOPEN_GAP: Duration = Duration::from_millis(50);

/// The file whose presence makes every storage write fail with `ENOSPC` (faults enabled).
pub(crate) const FAULT_FILE: &str = "fault-enospc";

/// What a store operation can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    /// The dataset, device or upload does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (keys already set, idempotency key reused).
    #[error("{0}")]
    Conflict(String),
    /// The caller's token was revoked meanwhile.
    #[error("{0}")]
    Revoked(String),
    /// The disk is full: nothing was written.
    #[error("disk full: {0}")]
    Full(String),
    /// The store is reopening after an I/O error.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store was closed (shutdown).
    #[error("store closed")]
    Closed,
    /// Anything else (corruption, a bug).
    #[error("{0}")]
    Internal(String),
}

/// Who a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Creates, lists and deletes datasets.
    Operator,
    /// Owns one dataset.
    Owner,
    /// Appends to one dataset.
    Device,
}

/// A token's record, keyed by the SHA-256 of the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub(crate) role: Role,
    pub(crate) dataset: Option<String>,
    pub(crate) device: Option<String>,
    pub(crate) name: String,
    pub(crate) revoked: bool,
    /// Hex SHA-256 of the token (the key), compared in constant time after the lookup.
    pub(crate) digest: String,
    pub(crate) created: u64,
}

/// A dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DatasetRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) schema: Schema,
    pub(crate) created: u64,
    pub(crate) keys: Option<KeyInfo>,
    pub(crate) records: u64,
    /// Bytes of stored upload blobs.
    pub(crate) bytes: u64,
    pub(crate) uploads: u64,
    pub(crate) next_seq: u64,
    /// Hex SHA-256 of the owner's token.
    pub(crate) owner_digest: String,
}

/// A device of a dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) revoked: bool,
    pub(crate) uploads: u64,
    pub(crate) records: u64,
    pub(crate) created: u64,
    /// Hex SHA-256 of its token.
    pub(crate) digest: String,
}

/// An upload's public metadata (its blobs are in `parts`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub(crate) seq: u64,
    /// The device's id; `None` for the owner.
    pub(crate) device: Option<String>,
    pub(crate) rows: u64,
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// Bytes of the request body.
    pub(crate) bytes: u64,
    /// Bytes of its stored upload blobs.
    pub(crate) stored_bytes: u64,
    pub(crate) principal: String,
    pub(crate) idempotency_key: String,
    pub(crate) body_sha256: String,
    /// Unix seconds.
    pub(crate) received: u64,
}

/// An upload to append.
#[derive(Debug)]
pub(crate) struct AppendOp {
    pub(crate) dataset: String,
    /// `owner` or `device:<id>`: idempotency keys are scoped to it.
    pub(crate) principal: String,
    pub(crate) device: Option<String>,
    pub(crate) idempotency_key: String,
    pub(crate) body_sha256: String,
    pub(crate) body_bytes: u64,
    pub(crate) rows: u64,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) received: u64,
    pub(crate) parts: Vec<Vec<u8>>,
}

/// A write request.
#[derive(Debug)]
pub(crate) enum Op {
    /// The operator token's record (first start).
    InitOperator { digest: [u8; 32], record: TokenRecord },
    /// A dataset with its owner's token.
    CreateDataset { dataset: Box<DatasetRecord>, owner_digest: [u8; 32], owner: TokenRecord },
    /// A dataset's validated evaluation keys.
    SetKeys { dataset: String, keys: KeyInfo },
    /// A dataset and everything of it.
    DeleteDataset { dataset: String },
    /// A device with its token.
    AddDevice { dataset: String, device: DeviceRecord, digest: [u8; 32], token: TokenRecord },
    /// Revokes a device's token.
    RevokeDevice { dataset: String, device: String },
    /// An upload.
    Append(Box<AppendOp>),
}

impl Op {
    fn bytes(&self) -> usize {
        match self {
            Self::Append(a) => a.parts.iter().map(Vec::len).sum(),
            _ => 0,
        }
    }
}

/// What a committed write did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Done,
    /// The keys stored; `already` when the same keys were set before.
    Keys { keys: KeyInfo, already: bool },
    /// The deleted dataset's key digest, and whether another dataset still uses it.
    Deleted { key_sha: Option<String>, still_used: bool },
    /// An upload's receipt.
    Receipt { seq: u64, rows: u64, bytes: u64, duplicate: bool },
}

struct Request {
    op: Op,
    reply: tokio::sync::oneshot::Sender<Result<Outcome, StoreError>>,
}

enum Msg {
    Op(Box<Request>),
    /// A reader found the store broken: try to reopen now.
    Wake,
    Shutdown,
}

enum Slot {
    Open(Database),
    /// The disk refuses writes: the database opened over a [`ReadOverlay`] (the file is never
    /// written) serves reads; writes are answered with the error.
    ReadOnly(Database, StoreError),
    Broken(StoreError),
    Closed,
}

struct Inner {
    path: PathBuf,
    fault_file: Option<PathBuf>,
    db: RwLock<Slot>,
    /// Set by a reader that saw an I/O error: the writer reopens.
    poisoned: AtomicBool,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    commits: AtomicU64,
    /// Held by the writer while it collects a batch (tests hold it to make batches).
    gate: Mutex<()>,
}

/// The store (cheap to clone).
#[derive(Clone)]
pub(crate) struct Store {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn classify(e: &redb::Error) -> StoreError {
    match e {
        redb::Error::Io(io) if is_disk_full(io) => StoreError::Full(e.to_string()),
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Whether redb needs the database closed and reopened after `e`.
fn needs_reopen(e: &redb::Error) -> bool {
    matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::Backend(_))
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(v).map_err(|e| redb::Error::Corrupted(format!("encoding a record: {e}")))
}

fn dec<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, redb::Error> {
    serde_json::from_slice(b).map_err(|e| redb::Error::Corrupted(format!("decoding a record: {e}")))
}

pub(crate) use ringvault_app::hex;

/// redb's file backend, with an optional `ENOSPC` failpoint in front of every write.
#[derive(Debug)]
pub(crate) struct FaultBackend {
    inner: FileBackend,
    fault_file: Option<PathBuf>,
}

/// `Err(ENOSPC)` while the fault file exists.
pub(crate) fn check_fault(fault_file: Option<&Path>) -> std::io::Result<()> {
    match fault_file {
        Some(f) if f.exists() => Err(std::io::Error::from_raw_os_error(28)),
        _ => Ok(()),
    }
}

impl StorageBackend for FaultBackend {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        check_fault(self.fault_file.as_deref())?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        check_fault(self.fault_file.as_deref())?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        check_fault(self.fault_file.as_deref())?;
        self.inner.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

fn open_db(path: &Path, fault_file: Option<&Path>) -> Result<Database, redb::Error> {
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    let backend = FaultBackend { inner: FileBackend::new(file)?, fault_file: fault_file.map(Path::to_path_buf) };
    let db = Database::builder().set_cache_size(CACHE_BYTES).create_with_backend(backend)?;
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    {
        txn.open_table(DATASETS)?;
        txn.open_table(TOKENS)?;
        txn.open_table(DEVICES)?;
        txn.open_table(UPLOADS)?;
        txn.open_table(PARTS)?;
        txn.open_table(PIECES)?;
        txn.open_table(IDEMPOTENCY)?;
        txn.open_table(META)?;
    }
    txn.commit()?;
    Ok(db)
}

/// Opens the database for reading only, over a [`ReadOverlay`]: whatever redb writes while
/// opening (the header's recovery flag) stays in memory, so this works on a disk that takes
/// no write. The file is never written through it.
fn open_read_only(path: &Path) -> Result<Database, redb::Error> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let backend = ReadOverlay { file: FileBackend::new(file)?, state: Mutex::new(OverlayState { len, file_len: len, pages: HashMap::new() }) };
    Ok(Database::builder().set_cache_size(CACHE_BYTES).create_with_backend(backend)?)
}

const OVERLAY_PAGE: u64 = 4096;

#[derive(Debug)]
struct OverlayState {
    /// The storage's length as redb sees it.
    len: u64,
    /// Bytes of the file that still show through (a shrink hides the rest).
    file_len: u64,
    /// Pages written, by index.
    pages: HashMap<u64, Vec<u8>>,
}

/// A storage backend that reads the file and keeps every write in memory (page-granular),
/// never writing the file: the store's read-only mode on a full disk.
#[derive(Debug)]
pub(crate) struct ReadOverlay {
    file: FileBackend,
    state: Mutex<OverlayState>,
}

impl ReadOverlay {
    fn read_file(&self, st: &OverlayState, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        out.fill(0);
        let end = offset.saturating_add(out.len() as u64).min(st.file_len);
        if offset < end {
            let n = usize::try_from(end - offset).map_err(std::io::Error::other)?;
            self.file.read(offset, &mut out[..n])?;
        }
        Ok(())
    }
}

impl StorageBackend for ReadOverlay {
    fn len(&self) -> std::io::Result<u64> {
        Ok(lock(&self.state).len)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let st = lock(&self.state);
        let end = offset.checked_add(out.len() as u64).filter(|&e| e <= st.len).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        self.read_file(&st, offset, out)?;
        if out.is_empty() {
            return Ok(());
        }
        for page in offset / OVERLAY_PAGE..=(end - 1) / OVERLAY_PAGE {
            let Some(data) = st.pages.get(&page) else { continue };
            let (p0, p1) = (page * OVERLAY_PAGE, (page + 1) * OVERLAY_PAGE);
            let (a, b) = (offset.max(p0), end.min(p1));
            let (src, dst) = ((a - p0) as usize, (a - offset) as usize);
            let n = (b - a) as usize;
            out[dst..dst + n].copy_from_slice(&data[src..src + n]);
        }
        Ok(())
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut st = lock(&self.state);
        if len < st.len {
            st.file_len = st.file_len.min(len);
            let keep = len.div_ceil(OVERLAY_PAGE);
            st.pages.retain(|&p, _| p < keep);
            if let Some(tail) = st.pages.get_mut(&(len / OVERLAY_PAGE)) {
                let from = (len % OVERLAY_PAGE) as usize;
                tail[from..].fill(0);
            }
        }
        st.len = len;
        Ok(())
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut st = lock(&self.state);
        let end = offset.checked_add(data.len() as u64).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        if data.is_empty() {
            return Ok(());
        }
        for page in offset / OVERLAY_PAGE..=(end - 1) / OVERLAY_PAGE {
            let p0 = page * OVERLAY_PAGE;
            if !st.pages.contains_key(&page) {
                let mut fresh = vec![0u8; OVERLAY_PAGE as usize];
                self.read_file(&st, p0, &mut fresh)?;
                st.pages.insert(page, fresh);
            }
            let (a, b) = (offset.max(p0), end.min(p0 + OVERLAY_PAGE));
            let (dst, src) = ((a - p0) as usize, (a - offset) as usize);
            let n = (b - a) as usize;
            if let Some(buf) = st.pages.get_mut(&page) {
                buf[dst..dst + n].copy_from_slice(&data[src..src + n]);
            }
        }
        st.len = st.len.max(end);
        Ok(())
    }
    fn close(&self) -> std::io::Result<()> {
        self.file.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }
    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}

impl Store {
    /// Opens (or creates) the database at `path` and starts its writer thread. With
    /// `fault_file`, every storage write fails with `ENOSPC` while that file exists.
    pub(crate) fn open(path: &Path, fault_file: Option<PathBuf>) -> Result<Self, StoreError> {
        let db = open_db(path, fault_file.as_deref()).map_err(|e| match classify(&e) {
            StoreError::Internal(m) => StoreError::Internal(format!("{}: {m}", path.display())),
            other => other,
        })?;
        let (tx, rx) = mpsc::channel();
        let inner = Arc::new(Inner {
            path: path.to_path_buf(),
            fault_file,
            db: RwLock::new(Slot::Open(db)),
            poisoned: AtomicBool::new(false),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(None),
            commits: AtomicU64::new(0),
            gate: Mutex::new(()),
        });
        let worker = inner.clone();
        let handle = std::thread::Builder::new()
            .name("ringvault-vault-writer".into())
            .spawn(move || worker.writer_loop(&rx))
            .map_err(|e| StoreError::Internal(format!("starting the writer thread: {e}")))?;
        *lock(&inner.writer) = Some(handle);
        Ok(Self { inner })
    }

    /// Finishes every pending write, then closes the database.
    pub(crate) fn close(&self) {
        let tx = lock(&self.inner.tx).take();
        if let Some(tx) = tx {
            let _ = tx.send(Msg::Shutdown);
        }
        let handle = lock(&self.inner.writer).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Commits `op` (grouped with whatever else is pending); answers after the commit.
    pub(crate) async fn submit(&self, op: Op) -> Result<Outcome, StoreError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        {
            let tx = lock(&self.inner.tx);
            let Some(tx) = tx.as_ref() else { return Err(StoreError::Closed) };
            tx.send(Msg::Op(Box::new(Request { op, reply }))).map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Group commits so far.
    #[cfg(test)]
    pub(crate) fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Holds the writer before it collects its next batch (tests).
    #[cfg(test)]
    pub(crate) fn hold_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.inner.gate)
    }

    /// Whether the store answers reads now.
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        matches!(&*self.inner.db.read().unwrap_or_else(PoisonError::into_inner), Slot::Open(_))
    }

    /// Runs `f` in a read transaction. Never waits for a reopening store (answers
    /// `Unavailable` instead).
    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T, redb::Error>) -> Result<T, StoreError> {
        let guard = match self.inner.db.try_read() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(StoreError::Unavailable("reopening after a write error".into())),
        };
        let db = match &*guard {
            Slot::Open(db) | Slot::ReadOnly(db, _) => db,
            Slot::Broken(e) => {
                let e = match e {
                    StoreError::Full(_) => e.clone(),
                    other => StoreError::Unavailable(other.to_string()),
                };
                drop(guard);
                self.wake();
                return Err(e);
            }
            Slot::Closed => return Err(StoreError::Closed),
        };
        let run = || -> Result<T, redb::Error> {
            let txn = db.begin_read()?;
            f(&txn)
        };
        run().map_err(|e| {
            if needs_reopen(&e) {
                self.inner.poisoned.store(true, Ordering::Release);
            }
            classify(&e)
        })
    }

    /// The store's state for the health endpoint: `ok`, `disk full`, `recovering`, `closed`.
    pub(crate) fn state(&self) -> &'static str {
        match self.inner.db.try_read() {
            Ok(g) => match &*g {
                Slot::Open(_) => "ok",
                Slot::ReadOnly(_, StoreError::Full(_)) | Slot::Broken(StoreError::Full(_)) => "disk full",
                Slot::ReadOnly(..) => "read-only",
                Slot::Broken(_) => "recovering",
                Slot::Closed => "closed",
            },
            Err(_) => "recovering",
        }
    }

    /// Asks the writer to try reopening the store now.
    fn wake(&self) {
        if let Some(tx) = lock(&self.inner.tx).as_ref() {
            let _ = tx.send(Msg::Wake);
        }
    }

    /// The digest of the operator token, if one was created.
    pub(crate) fn operator_digest(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| Ok(txn.open_table(META)?.get("operator")?.map(|g| g.value().to_vec())))
    }

    /// A token's record by the token's digest.
    pub(crate) fn token(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.read(|txn| match txn.open_table(TOKENS)?.get(&digest[..])? {
            Some(g) => Ok(Some(dec(g.value())?)),
            None => Ok(None),
        })
    }

    /// A dataset.
    pub(crate) fn dataset(&self, id: &str) -> Result<Option<DatasetRecord>, StoreError> {
        self.read(|txn| match txn.open_table(DATASETS)?.get(id)? {
            Some(g) => Ok(Some(dec(g.value())?)),
            None => Ok(None),
        })
    }

    /// Every dataset, by id.
    pub(crate) fn datasets(&self) -> Result<Vec<DatasetRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(DATASETS)?;
            let mut out = Vec::new();
            for row in table.range::<&str>(..)? {
                let (_, v) = row?;
                out.push(dec(v.value())?);
            }
            Ok(out)
        })
    }

    /// The hex digests of the evaluation keys some dataset uses.
    pub(crate) fn key_shas(&self) -> Result<HashSet<String>, StoreError> {
        Ok(self.datasets()?.into_iter().filter_map(|d| d.keys.map(|k| k.sha256)).collect())
    }

    /// A dataset's devices, by id.
    pub(crate) fn devices(&self, dataset: &str) -> Result<Vec<DeviceRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(DEVICES)?;
            let mut out = Vec::new();
            for row in table.range((dataset, "")..)? {
                let (k, v) = row?;
                if k.value().0 != dataset {
                    break;
                }
                out.push(dec(v.value())?);
            }
            Ok(out)
        })
    }

    /// One device.
    pub(crate) fn device(&self, dataset: &str, device: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.read(|txn| match txn.open_table(DEVICES)?.get((dataset, device))? {
            Some(g) => Ok(Some(dec(g.value())?)),
            None => Ok(None),
        })
    }

    /// A dataset's uploads, in upload order.
    pub(crate) fn uploads(&self, dataset: &str) -> Result<Vec<UploadRecord>, StoreError> {
        self.uploads_from(dataset, 0, usize::MAX)
    }

    /// At most `limit` of the dataset's uploads from sequence number `first` on, in order: a
    /// page read from where the last one ended, not the whole list each time.
    pub(crate) fn uploads_from(&self, dataset: &str, first: u64, limit: usize) -> Result<Vec<UploadRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(UPLOADS)?;
            let mut out = Vec::new();
            for row in table.range((dataset, first)..=(dataset, u64::MAX))?.take(limit) {
                let (_, v) = row?;
                out.push(dec(v.value())?);
            }
            Ok(out)
        })
    }

    /// The upload stored under an idempotency key, if any.
    pub(crate) fn idempotent(&self, dataset: &str, principal: &str, key: &str) -> Result<Option<UploadRecord>, StoreError> {
        self.read(|txn| {
            let Some(seq) = txn.open_table(IDEMPOTENCY)?.get((dataset, principal, key))?.map(|g| g.value()) else { return Ok(None) };
            match txn.open_table(UPLOADS)?.get((dataset, seq))? {
                Some(g) => Ok(Some(dec(g.value())?)),
                None => Err(redb::Error::Corrupted(format!("idempotency row of dataset {dataset} names missing upload {seq}"))),
            }
        })
    }

    /// Part `part` (0: the `rows` file) of each upload `seqs` of `dataset`, in that order (one snapshot).
    pub(crate) fn part_blobs(&self, dataset: &str, seqs: &[u64], part: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let r = self.read(|txn| {
            let (pieces, whole) = (txn.open_table(PIECES)?, txn.open_table(PARTS)?);
            let mut out = Vec::with_capacity(seqs.len());
            for &seq in seqs {
                let found = pieces.range((dataset, seq, part, 0u32)..=(dataset, seq, part, u32::MAX))?.map(|r| r.map(|(_, v)| v)).collect::<Result<Vec<_>, _>>()?;
                if !found.is_empty() {
                    let mut blob = Vec::with_capacity(found.iter().map(|g| g.value().len()).sum());
                    found.iter().for_each(|g| blob.extend_from_slice(g.value()));
                    out.push(blob);
                    continue;
                }
                match whole.get((dataset, seq, part))? {
                    Some(g) => out.push(g.value().to_vec()),
                    None => return Ok(Err(seq)),
                }
            }
            Ok(Ok(out))
        })?;
        r.map_err(|seq| StoreError::NotFound(format!("part {part} of upload {seq} of dataset {dataset} is gone (dataset deleted?)")))
    }
}

impl Inner {
    fn writer_loop(&self, rx: &mpsc::Receiver<Msg>) {
        let mut shutting_down = false;
        let mut last_attempt = std::time::Instant::now();
        while !shutting_down {
            if self.poisoned.swap(false, Ordering::AcqRel) {
                self.reopen("a read failed with an I/O error");
            }
            let first = match rx.recv_timeout(REOPEN_EVERY) {
                Ok(Msg::Wake) => {
                    if self.needs_recovery() && last_attempt.elapsed() >= REOPEN_GAP {
                        self.recover("a reader found the store broken");
                        last_attempt = std::time::Instant::now();
                    }
                    continue;
                }
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.needs_recovery() {
                        self.recover("retrying after a write error");
                        last_attempt = std::time::Instant::now();
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = Vec::new();
            let mut bytes = 0usize;
            {
                let _gate = lock(&self.gate);
                let mut next = Some(first);
                while let Some(m) = next.take() {
                    match m {
                        Msg::Shutdown => shutting_down = true,
                        Msg::Wake => {}
                        Msg::Op(r) => {
                            bytes += r.op.bytes();
                            batch.push(*r);
                        }
                    }
                    if shutting_down || batch.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES {
                        break;
                    }
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit_batch(batch);
            }
        }
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        *slot = Slot::Closed;
    }

    /// Whether the store is not open for writing (broken, or read-only on a full disk).
    fn needs_recovery(&self) -> bool {
        matches!(&*self.db.read().unwrap_or_else(PoisonError::into_inner), Slot::Broken(_) | Slot::ReadOnly(..))
    }

    /// Whether the disk takes a write again: the failpoint is gone and a probe file of 64 KiB
    /// can be written and fsync'd.
    fn disk_takes_writes(&self) -> bool {
        use std::io::Write;
        if check_fault(self.fault_file.as_deref()).is_err() {
            return false;
        }
        let probe = self.path.with_extension("probe");
        let r = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&probe)?;
            f.write_all(&[0u8; 64 << 10])?;
            f.sync_all()
        })();
        let _ = std::fs::remove_file(&probe);
        r.is_ok()
    }

    /// Leaves a broken or read-only state: reopens for writing (a read-only store only once
    /// the disk takes writes again, so that its readers are not interrupted for nothing).
    fn recover(&self, why: &str) {
        let read_only = matches!(&*self.db.read().unwrap_or_else(PoisonError::into_inner), Slot::ReadOnly(..));
        if read_only && !self.disk_takes_writes() {
            return;
        }
        self.reopen(why);
    }

    /// Closes and reopens the database (waits for readers in flight; new ones are refused).
    /// When the disk is full, opens it read-only over an in-memory overlay so that reads go on.
    fn reopen(&self, why: &str) {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if matches!(&*slot, Slot::Closed) {
            return;
        }
        // Drop the old database first: it holds the file's lock.
        *slot = Slot::Broken(StoreError::Unavailable("reopening".into()));
        match open_db(&self.path, self.fault_file.as_deref()) {
            Ok(db) => {
                tracing::info!(reason = why, "store reopened");
                *slot = Slot::Open(db);
            }
            Err(e) => {
                let err = classify(&e);
                if matches!(err, StoreError::Full(_)) {
                    match open_read_only(&self.path) {
                        Ok(db) => {
                            tracing::warn!(reason = why, error = %e, "disk full: the store serves reads only until writes succeed again");
                            *slot = Slot::ReadOnly(db, err);
                            return;
                        }
                        Err(e2) => tracing::warn!(error = %e2, "could not open the store read-only"),
                    }
                }
                tracing::warn!(reason = why, error = %e, "store reopen failed; retrying");
                *slot = Slot::Broken(err);
            }
        }
    }

    fn commit_batch(&self, batch: Vec<Request>) {
        if self.needs_recovery() {
            self.recover("a write arrived");
        }
        let result = {
            let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
            match &*guard {
                Slot::Open(db) => {
                    let run = || -> Result<Vec<Result<Outcome, StoreError>>, redb::Error> {
                        let mut txn = db.begin_write()?;
                        txn.set_durability(Durability::Immediate)?;
                        let mut outs = Vec::with_capacity(batch.len());
                        for r in &batch {
                            outs.push(apply(&txn, &r.op)?);
                        }
                        txn.commit()?;
                        Ok(outs)
                    };
                    run().map_err(|e| (needs_reopen(&e), classify(&e), e.to_string()))
                }
                Slot::ReadOnly(_, e) | Slot::Broken(e) => Err((false, e.clone(), e.to_string())),
                Slot::Closed => Err((false, StoreError::Closed, "closed".into())),
            }
        };
        match result {
            Ok(outs) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                for (r, out) in batch.into_iter().zip(outs) {
                    let _ = r.reply.send(out);
                }
            }
            Err((reopen, err, detail)) => {
                tracing::warn!(requests = batch.len(), error = %detail, "group commit failed; nothing of it was stored");
                // Reopen before answering, so that the callers' next requests find the store
                // settled (open again, or refusing with the error).
                if reopen {
                    self.reopen("a commit failed");
                }
                for r in batch {
                    let _ = r.reply.send(Err(err.clone()));
                }
            }
        }
    }
}

/// Applies one write inside the batch's transaction. `Ok(Err(_))`: this request is refused
/// and changed nothing; `Err(_)`: a storage error, the whole batch fails.
fn apply(txn: &WriteTransaction, op: &Op) -> Result<Result<Outcome, StoreError>, redb::Error> {
    match op {
        Op::InitOperator { digest, record } => {
            let mut meta = txn.open_table(META)?;
            if meta.get("operator")?.is_some() {
                return Ok(Err(StoreError::Conflict("an operator token exists already".into())));
            }
            meta.insert("operator", &digest[..])?;
            txn.open_table(TOKENS)?.insert(&digest[..], enc(record)?.as_slice())?;
            Ok(Ok(Outcome::Done))
        }
        Op::CreateDataset { dataset, owner_digest, owner } => {
            let mut datasets = txn.open_table(DATASETS)?;
            if datasets.get(dataset.id.as_str())?.is_some() {
                return Ok(Err(StoreError::Conflict(format!("dataset {} exists already", dataset.id))));
            }
            datasets.insert(dataset.id.as_str(), enc(&**dataset)?.as_slice())?;
            txn.open_table(TOKENS)?.insert(&owner_digest[..], enc(owner)?.as_slice())?;
            Ok(Ok(Outcome::Done))
        }
        Op::SetKeys { dataset, keys } => {
            let mut datasets = txn.open_table(DATASETS)?;
            let Some(mut rec) = datasets.get(dataset.as_str())?.map(|g| dec::<DatasetRecord>(g.value())).transpose()? else {
                return Ok(Err(StoreError::NotFound(format!("no dataset {dataset}"))));
            };
            match &rec.keys {
                Some(k) if k.sha256 == keys.sha256 => return Ok(Ok(Outcome::Keys { keys: k.clone(), already: true })),
                Some(k) => return Ok(Err(StoreError::Conflict(format!("dataset {dataset} already has other evaluation keys (sha256 {}); keys cannot change once set: create a new dataset", k.sha256)))),
                None => {}
            }
            rec.keys = Some(keys.clone());
            datasets.insert(dataset.as_str(), enc(&rec)?.as_slice())?;
            Ok(Ok(Outcome::Keys { keys: keys.clone(), already: false }))
        }
        Op::DeleteDataset { dataset } => delete_dataset(txn, dataset),
        Op::AddDevice { dataset, device, digest, token } => {
            if txn.open_table(DATASETS)?.get(dataset.as_str())?.is_none() {
                return Ok(Err(StoreError::NotFound(format!("no dataset {dataset}"))));
            }
            let mut devices = txn.open_table(DEVICES)?;
            if devices.get((dataset.as_str(), device.id.as_str()))?.is_some() {
                return Ok(Err(StoreError::Conflict(format!("device {} exists already", device.id))));
            }
            devices.insert((dataset.as_str(), device.id.as_str()), enc(device)?.as_slice())?;
            txn.open_table(TOKENS)?.insert(&digest[..], enc(token)?.as_slice())?;
            Ok(Ok(Outcome::Done))
        }
        Op::RevokeDevice { dataset, device } => {
            let mut devices = txn.open_table(DEVICES)?;
            let Some(mut rec) = devices.get((dataset.as_str(), device.as_str()))?.map(|g| dec::<DeviceRecord>(g.value())).transpose()? else {
                return Ok(Err(StoreError::NotFound(format!("no device {device} in dataset {dataset}"))));
            };
            rec.revoked = true;
            devices.insert((dataset.as_str(), device.as_str()), enc(&rec)?.as_slice())?;
            let digest = from_hex(&rec.digest).ok_or_else(|| redb::Error::Corrupted(format!("device {device}: bad token digest")))?;
            let mut tokens = txn.open_table(TOKENS)?;
            let tok = tokens.get(&digest[..])?.map(|g| dec::<TokenRecord>(g.value())).transpose()?;
            if let Some(mut tok) = tok {
                tok.revoked = true;
                tokens.insert(&digest[..], enc(&tok)?.as_slice())?;
            }
            Ok(Ok(Outcome::Done))
        }
        Op::Append(a) => append(txn, a),
    }
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

fn append(txn: &WriteTransaction, a: &AppendOp) -> Result<Result<Outcome, StoreError>, redb::Error> {
    let ds = a.dataset.as_str();
    let mut datasets = txn.open_table(DATASETS)?;
    let Some(mut rec) = datasets.get(ds)?.map(|g| dec::<DatasetRecord>(g.value())).transpose()? else {
        return Ok(Err(StoreError::NotFound(format!("no dataset {ds}"))));
    };
    if rec.keys.is_none() {
        return Ok(Err(StoreError::Conflict(format!("dataset {ds} has no evaluation keys yet: the owner uploads them first"))));
    }
    let mut uploads = txn.open_table(UPLOADS)?;
    let mut idem = txn.open_table(IDEMPOTENCY)?;
    let idem_key = (ds, a.principal.as_str(), a.idempotency_key.as_str());
    if let Some(seq) = idem.get(idem_key)?.map(|g| g.value()) {
        let Some(prev) = uploads.get((ds, seq))?.map(|g| dec::<UploadRecord>(g.value())).transpose()? else {
            return Err(redb::Error::Corrupted(format!("idempotency row of dataset {ds} names missing upload {seq}")));
        };
        if prev.body_sha256 == a.body_sha256 {
            return Ok(Ok(Outcome::Receipt { seq, rows: prev.rows, bytes: prev.bytes, duplicate: true }));
        }
        return Ok(Err(StoreError::Conflict(format!("Idempotency-Key {:?} was used before for a different body (upload {seq}); use a new key for new data", a.idempotency_key))));
    }
    let mut devices = txn.open_table(DEVICES)?;
    let mut device_rec = None;
    if let Some(dev) = &a.device {
        match devices.get((ds, dev.as_str()))?.map(|g| dec::<DeviceRecord>(g.value())).transpose()? {
            Some(d) if !d.revoked => device_rec = Some(d),
            Some(_) => return Ok(Err(StoreError::Revoked("this device's token was revoked".into()))),
            None => return Ok(Err(StoreError::Revoked("this device no longer exists".into()))),
        }
    }
    let seq = rec.next_seq;
    let stored: u64 = a.parts.iter().map(|c| c.len() as u64).sum();
    let upload = UploadRecord {
        seq,
        device: a.device.clone(),
        rows: a.rows,
        from: a.from,
        to: a.to,
        bytes: a.body_bytes,
        stored_bytes: stored,
        principal: a.principal.clone(),
        idempotency_key: a.idempotency_key.clone(),
        body_sha256: a.body_sha256.clone(),
        received: a.received,
    };
    uploads.insert((ds, seq), enc(&upload)?.as_slice())?;
    {
        let mut pieces = txn.open_table(PIECES)?;
        for (i, blob) in a.parts.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| redb::Error::Corrupted("too many parts".into()))?;
            // An empty blob is one empty piece, so that every part has its first.
            for (k, piece) in blob.chunks(PIECE_BYTES).chain(blob.is_empty().then_some(&[][..])).enumerate() {
                let k = u32::try_from(k).map_err(|_| redb::Error::Corrupted("a blob of too many pieces".into()))?;
                pieces.insert((ds, seq, i, k), piece)?;
            }
        }
    }
    idem.insert(idem_key, seq)?;
    rec.next_seq += 1;
    rec.uploads += 1;
    rec.records += a.rows;
    rec.bytes += stored;
    datasets.insert(ds, enc(&rec)?.as_slice())?;
    if let Some(mut d) = device_rec {
        d.uploads += 1;
        d.records += a.rows;
        devices.insert((ds, d.id.as_str()), enc(&d)?.as_slice())?;
    }
    Ok(Ok(Outcome::Receipt { seq, rows: a.rows, bytes: a.body_bytes, duplicate: false }))
}

fn delete_dataset(txn: &WriteTransaction, ds: &str) -> Result<Result<Outcome, StoreError>, redb::Error> {
    let mut datasets = txn.open_table(DATASETS)?;
    let Some(rec) = datasets.get(ds)?.map(|g| dec::<DatasetRecord>(g.value())).transpose()? else {
        return Ok(Err(StoreError::NotFound(format!("no dataset {ds}"))));
    };
    datasets.remove(ds)?;
    let mut uploads = txn.open_table(UPLOADS)?;
    let seqs: Vec<u64> = uploads.range((ds, 0u64)..=(ds, u64::MAX))?.map(|r| r.map(|(k, _)| k.value().1)).collect::<Result<_, _>>()?;
    let (mut parts, mut pieces) = (txn.open_table(PARTS)?, txn.open_table(PIECES)?);
    for seq in seqs {
        uploads.remove((ds, seq))?;
        parts.retain_in((ds, seq, 0u32)..=(ds, seq, u32::MAX), |_, _| false)?;
        pieces.retain_in((ds, seq, 0u32, 0u32)..=(ds, seq, u32::MAX, u32::MAX), |_, _| false)?;
    }
    let mut idem = txn.open_table(IDEMPOTENCY)?;
    let mut keys = Vec::new();
    for row in idem.range((ds, "", "")..)? {
        let (k, _) = row?;
        let (d, p, key) = k.value();
        if d != ds {
            break;
        }
        keys.push((p.to_owned(), key.to_owned()));
    }
    for (p, key) in &keys {
        idem.remove((ds, p.as_str(), key.as_str()))?;
    }
    let mut devices = txn.open_table(DEVICES)?;
    let mut ids = Vec::new();
    for row in devices.range((ds, "")..)? {
        let (k, _) = row?;
        let (d, id) = k.value();
        if d != ds {
            break;
        }
        ids.push(id.to_owned());
    }
    for id in &ids {
        devices.remove((ds, id.as_str()))?;
    }
    let mut tokens = txn.open_table(TOKENS)?;
    let mut digests = Vec::new();
    for row in tokens.range::<&[u8]>(..)? {
        let (k, v) = row?;
        let t: TokenRecord = dec(v.value())?;
        if t.dataset.as_deref() == Some(ds) {
            digests.push(k.value().to_vec());
        }
    }
    for d in &digests {
        tokens.remove(d.as_slice())?;
    }
    let key_sha = rec.keys.map(|k| k.sha256);
    let mut still_used = false;
    if let Some(sha) = &key_sha {
        for row in datasets.range::<&str>(..)? {
            let (_, v) = row?;
            let other: DatasetRecord = dec(v.value())?;
            if other.keys.as_ref().is_some_and(|k| &k.sha256 == sha) {
                still_used = true;
                break;
            }
        }
    }
    Ok(Ok(Outcome::Deleted { key_sha, still_used }))
}

#[cfg(test)]
pub(crate) mod tests {
    // The tests hold the writer (a std mutex) across awaits on purpose, to make batches.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::await_holding_lock)]
    use super::*;
    use ringvault_app::dataset::{ColumnSpec, Computation};

    pub(crate) fn schema() -> Schema {
        Schema {
            columns: vec![ColumnSpec { name: "bmi".into(), decimals: 1, min: 10.0, max: 80.0 }, ColumnSpec { name: "age".into(), decimals: 0, min: 0.0, max: 120.0 }],
            max_records: None,
            computations: vec![Computation::Sums],
        }
    }

    fn keys() -> KeyInfo {
        KeyInfo { preset: "test".into(), moduli: vec![65537], bytes: 4, sha256: "ab".repeat(32), max_records: 1000, public_key_sha256: String::new() }
    }

    fn token(role: Role, dataset: Option<&str>, device: Option<&str>, digest: &[u8; 32]) -> TokenRecord {
        TokenRecord { role, dataset: dataset.map(Into::into), device: device.map(Into::into), name: "t".into(), revoked: false, digest: hex(digest), created: 1 }
    }

    async fn dataset_with_keys(store: &Store, id: &str) {
        let owner = [id.as_bytes()[1]; 32];
        let rec = DatasetRecord { id: id.into(), name: "d".into(), schema: schema(), created: 1, keys: None, records: 0, bytes: 0, uploads: 0, next_seq: 0, owner_digest: hex(&owner) };
        store.submit(Op::CreateDataset { dataset: Box::new(rec), owner_digest: owner, owner: token(Role::Owner, Some(id), None, &owner) }).await.unwrap();
        let out = store.submit(Op::SetKeys { dataset: id.into(), keys: keys() }).await.unwrap();
        assert_eq!(out, Outcome::Keys { keys: keys(), already: false });
    }

    fn append(ds: &str, key: &str, sha: &str) -> Op {
        Op::Append(Box::new(AppendOp {
            dataset: ds.into(),
            principal: "owner".into(),
            device: None,
            idempotency_key: key.into(),
            body_sha256: sha.into(),
            body_bytes: 10,
            rows: 2,
            from: 100,
            to: 200,
            received: 300,
            parts: vec![b"col0".to_vec(), b"col1".to_vec()],
        }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.redb");
        {
            let store = Store::open(&path, None).unwrap();
            dataset_with_keys(&store, "d1").await;
            let r = store.submit(append("d1", "k1", "s1")).await.unwrap();
            assert_eq!(r, Outcome::Receipt { seq: 0, rows: 2, bytes: 10, duplicate: false });
            store.close();
            assert_eq!(store.dataset("d1"), Err(StoreError::Closed));
            assert_eq!(store.submit(append("d1", "k2", "s2")).await, Err(StoreError::Closed));
        }
        let store = Store::open(&path, None).unwrap();
        let d = store.dataset("d1").unwrap().unwrap();
        assert_eq!((d.records, d.uploads, d.bytes, d.next_seq), (2, 1, 8, 1));
        assert_eq!(d.keys, Some(keys()));
        let ups = store.uploads("d1").unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!((ups[0].from, ups[0].to, ups[0].body_sha256.as_str()), (100, 200, "s1"));
        assert_eq!(store.part_blobs("d1", &[0], 1).unwrap(), vec![b"col1".to_vec()]);
        assert!(matches!(store.part_blobs("d1", &[0, 7], 1), Err(StoreError::NotFound(_))));
        store.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idempotency_stores_once_and_refuses_a_different_body() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("vault.redb"), None).unwrap();
        dataset_with_keys(&store, "d1").await;
        let first = store.submit(append("d1", "k", "sha-a")).await.unwrap();
        let again = store.submit(append("d1", "k", "sha-a")).await.unwrap();
        assert_eq!(first, Outcome::Receipt { seq: 0, rows: 2, bytes: 10, duplicate: false });
        assert_eq!(again, Outcome::Receipt { seq: 0, rows: 2, bytes: 10, duplicate: true });
        assert!(matches!(store.submit(append("d1", "k", "sha-b")).await, Err(StoreError::Conflict(_))));
        assert_eq!(store.uploads("d1").unwrap().len(), 1);
        assert_eq!(store.idempotent("d1", "owner", "k").unwrap().map(|u| u.seq), Some(0));
        assert_eq!(store.idempotent("d1", "device:x", "k").unwrap(), None);
        // Same key and body within one batch: stored once.
        let (a, b) = {
            let _hold = store.hold_writer();
            let a = tokio::spawn({
                let s = store.clone();
                async move { s.submit(append("d1", "k2", "sha-c")).await }
            });
            let b = tokio::spawn({
                let s = store.clone();
                async move { s.submit(append("d1", "k2", "sha-c")).await }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            (a, b)
        };
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        let dups = [a, b].iter().filter(|o| matches!(o, Outcome::Receipt { duplicate: true, .. })).count();
        assert_eq!(dups, 1);
        assert_eq!(store.dataset("d1").unwrap().unwrap().uploads, 2);
        // Keys: the same again is fine, others are refused.
        assert_eq!(store.submit(Op::SetKeys { dataset: "d1".into(), keys: keys() }).await.unwrap(), Outcome::Keys { keys: keys(), already: true });
        let other = KeyInfo { sha256: "cd".repeat(32), ..keys() };
        assert!(matches!(store.submit(Op::SetKeys { dataset: "d1".into(), keys: other }).await, Err(StoreError::Conflict(_))));
        store.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_answers_every_request_of_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("vault.redb"), None).unwrap();
        dataset_with_keys(&store, "d1").await;
        let before = store.commits();
        let tasks = {
            let _hold = store.hold_writer();
            let tasks: Vec<_> = (0..64)
                .map(|i| {
                    let s = store.clone();
                    tokio::spawn(async move { s.submit(append("d1", &format!("k{i}"), &format!("s{i}"))).await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(100)).await;
            tasks
        };
        let mut seqs = Vec::new();
        for t in tasks {
            match t.await.unwrap().unwrap() {
                Outcome::Receipt { seq, duplicate: false, .. } => seqs.push(seq),
                other => panic!("{other:?}"),
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (0..64).collect::<Vec<_>>());
        let commits = store.commits() - before;
        assert!(commits <= 2, "{commits} commits for 64 uploads");
        assert_eq!(store.dataset("d1").unwrap().unwrap().records, 128);
        // A refused request in a batch does not fail the others.
        let tasks = {
            let _hold = store.hold_writer();
            let ok = tokio::spawn({
                let s = store.clone();
                async move { s.submit(append("d1", "fresh", "x")).await }
            });
            let bad = tokio::spawn({
                let s = store.clone();
                async move { s.submit(append("nope", "fresh", "x")).await }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            (ok, bad)
        };
        assert!(matches!(tasks.0.await.unwrap(), Ok(Outcome::Receipt { seq: 64, .. })));
        assert!(matches!(tasks.1.await.unwrap(), Err(StoreError::NotFound(_))));
        store.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn disk_full_fails_the_whole_batch_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let fault = dir.path().join(FAULT_FILE);
        let store = Store::open(&dir.path().join("vault.redb"), Some(fault.clone())).unwrap();
        dataset_with_keys(&store, "d1").await;
        store.submit(append("d1", "k0", "s0")).await.unwrap();
        let tasks = {
            let _hold = store.hold_writer();
            let tasks: Vec<_> = (1..9)
                .map(|i| {
                    let s = store.clone();
                    tokio::spawn(async move { s.submit(append("d1", &format!("k{i}"), &format!("s{i}"))).await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::fs::write(&fault, b"").unwrap();
            tasks
        };
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Err(StoreError::Full(_))));
        }
        // Still full: writes fail, nothing is half there; reads go on.
        assert!(matches!(store.submit(append("d1", "k1", "s1")).await, Err(StoreError::Full(_))));
        assert_eq!(store.state(), "disk full");
        assert_eq!(store.dataset("d1").unwrap().unwrap().uploads, 1);
        assert_eq!(store.part_blobs("d1", &[0], 1).unwrap(), vec![b"col1".to_vec()]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(store.uploads("d1").unwrap().len(), 1, "reads survive the writer's retries");
        std::fs::remove_file(&fault).unwrap();
        // Recovers without a restart: the writer reopens by itself, or on the next write.
        let r = store.submit(append("d1", "k1", "s1")).await.unwrap();
        assert_eq!(r, Outcome::Receipt { seq: 1, rows: 2, bytes: 10, duplicate: false });
        assert!(store.is_open());
        let d = store.dataset("d1").unwrap().unwrap();
        assert_eq!((d.uploads, d.records), (2, 4));
        assert_eq!(store.uploads("d1").unwrap().iter().map(|u| u.idempotency_key.as_str()).collect::<Vec<_>>(), ["k0", "k1"]);
        store.close();
        let store = Store::open(&dir.path().join("vault.redb"), None).unwrap();
        assert_eq!(store.dataset("d1").unwrap().unwrap().uploads, 2);
        store.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delete_removes_everything_of_a_dataset_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("vault.redb"), None).unwrap();
        dataset_with_keys(&store, "d1").await;
        dataset_with_keys(&store, "d2").await;
        let dev = [9u8; 32];
        let device = DeviceRecord { id: "dev1".into(), name: "m".into(), revoked: false, uploads: 0, records: 0, created: 1, digest: hex(&dev) };
        store.submit(Op::AddDevice { dataset: "d1".into(), device, digest: dev, token: token(Role::Device, Some("d1"), Some("dev1"), &dev) }).await.unwrap();
        store.submit(append("d1", "k", "s")).await.unwrap();
        store.submit(append("d2", "k", "s")).await.unwrap();
        let out = store.submit(Op::DeleteDataset { dataset: "d1".into() }).await.unwrap();
        assert_eq!(out, Outcome::Deleted { key_sha: Some(keys().sha256), still_used: true });
        assert_eq!(store.dataset("d1").unwrap(), None);
        assert!(store.uploads("d1").unwrap().is_empty());
        assert!(store.devices("d1").unwrap().is_empty());
        assert_eq!(store.token(&dev).unwrap(), None);
        assert_eq!(store.token(&[b'2'; 32]).unwrap().map(|t| t.dataset), Some(Some("d2".into())), "d2's owner token kept");
        assert_eq!(store.idempotent("d1", "owner", "k").unwrap(), None);
        assert_eq!(store.uploads("d2").unwrap().len(), 1);
        assert_eq!(store.part_blobs("d2", &[0], 0).unwrap().len(), 1);
        let out = store.submit(Op::DeleteDataset { dataset: "d2".into() }).await.unwrap();
        assert_eq!(out, Outcome::Deleted { key_sha: Some(keys().sha256), still_used: false });
        assert!(matches!(store.submit(Op::DeleteDataset { dataset: "d2".into() }).await, Err(StoreError::NotFound(_))));
        store.close();
    }

    /// Blobs larger than a piece come back whole and in order; an empty blob too; blobs a
    /// store wrote before pieces (whole values in `parts`) are still read and deleted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blobs_are_stored_in_pieces_and_old_whole_blobs_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.redb");
        let big: Vec<u8> = (0..(2 * PIECE_BYTES + 12345)).map(|i| (i * 7 + i / 251) as u8).collect();
        {
            let store = Store::open(&path, None).unwrap();
            dataset_with_keys(&store, "d1").await;
            let Op::Append(mut a) = append("d1", "k1", "s1") else { unreachable!() };
            a.parts = vec![big.clone(), Vec::new()];
            store.submit(Op::Append(a)).await.unwrap();
            store.close();
        }
        {
            // A whole blob as an older store wrote it, for upload 1.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(PARTS).unwrap().insert(("d1", 1u64, 0u32), &b"old whole blob"[..]).unwrap();
            txn.open_table(UPLOADS).unwrap().insert(("d1", 1u64), &b""[..]).unwrap();
            txn.commit().unwrap();
            let read = db.begin_read().unwrap();
            let pieces = read.open_table(PIECES).unwrap();
            assert_eq!(pieces.range(("d1", 0u64, 0u32, 0u32)..=("d1", 0u64, 0u32, u32::MAX)).unwrap().count(), 3);
            assert_eq!(pieces.range(("d1", 0u64, 1u32, 0u32)..=("d1", 0u64, 1u32, u32::MAX)).unwrap().count(), 1);
        }
        let store = Store::open(&path, None).unwrap();
        assert!(store.part_blobs("d1", &[0], 0).unwrap() == vec![big]);
        assert_eq!(store.part_blobs("d1", &[0], 1).unwrap(), vec![Vec::<u8>::new()]);
        assert_eq!(store.part_blobs("d1", &[1], 0).unwrap(), vec![b"old whole blob".to_vec()]);
        store.submit(Op::DeleteDataset { dataset: "d1".into() }).await.unwrap();
        store.close();
        let db = Database::create(&path).unwrap();
        let read = db.begin_read().unwrap();
        use redb::ReadableTableMetadata;
        assert!(read.open_table(PIECES).unwrap().is_empty().unwrap());
        assert!(read.open_table(PARTS).unwrap().is_empty().unwrap());
    }
}
