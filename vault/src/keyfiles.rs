//! Evaluation keys on disk, content-addressed: `DIR/keys/<sha256>.keys` (the `eval.keys`
//! file as uploaded) and `DIR/keys/<sha256>.pub` (the public key devices encrypt with,
//! derived once at upload).
//!
//! An upload streams the body to `DIR/keys/tmp-<random>` while hashing it (never buffered
//! whole), fsyncs it, renames it to its content address and fsyncs the directory; only then
//! is it validated, and only after that is the dataset's record committed. Same content,
//! same file: datasets with identical keys share it. On startup, `tmp-` files and key files
//! no dataset refers to (a crash between rename and commit, a failed validation) are deleted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use axum::body::Body;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, VaultError};
use crate::store::{check_fault, hex};

/// Bytes gathered before each write of a streamed key file.
const WRITE_CHUNK: usize = 1 << 20;

/// fsyncs a directory (so a rename or creation in it is durable).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A temporary file, deleted on drop unless kept.
pub(crate) struct TmpFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A streamed key upload, on disk under a temporary name.
pub(crate) struct Received {
    tmp: TmpFile,
    /// Hex SHA-256 of the content.
    pub(crate) sha256: String,
    /// Its length.
    pub(crate) bytes: u64,
}

/// The key directory.
pub(crate) struct KeyFiles {
    dir: PathBuf,
    fault_file: Option<PathBuf>,
    /// Held from a key file's installation until its dataset's commit (or its removal), and
    /// by deletions, so that no file is removed that a dataset is about to refer to.
    pub(crate) lock: tokio::sync::Mutex<()>,
}

impl KeyFiles {
    /// `DIR/keys`, created if missing.
    pub(crate) fn new(data: &Path, fault_file: Option<PathBuf>) -> Result<Self, VaultError> {
        let dir = data.join("keys");
        std::fs::create_dir_all(&dir).map_err(|e| VaultError::io(&dir, &e))?;
        Ok(Self { dir, fault_file, lock: tokio::sync::Mutex::new(()) })
    }

    /// The evaluation keys with this digest.
    pub(crate) fn keys_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.keys"))
    }

    /// The public key derived from the evaluation keys with this digest.
    pub(crate) fn public_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.pub"))
    }

    fn fault(&self) -> std::io::Result<()> {
        check_fault(self.fault_file.as_deref())
    }

    /// Streams `body` (at most `limit` bytes) to a temporary file, hashing it; fsyncs it.
    pub(crate) async fn receive(&self, body: Body, limit: u64, first: &FirstChunk) -> Result<Received, ApiError> {
        let name = format!("tmp-{}", crate::auth::random_id()?);
        let path = self.dir.join(name);
        let io = |e: std::io::Error| ApiError::from_io("writing evaluation keys", &e);
        self.fault().map_err(io)?;
        let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await.map_err(io)?;
        let tmp = TmpFile { path, keep: false };
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
        let mut stream = body.into_data_stream();
        let mut checked = false;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(ApiError::too_large("evaluation keys", limit));
            }
            hasher.update(&chunk);
            buf.extend_from_slice(&chunk);
            if buf.len() >= WRITE_CHUNK {
                check_kind(first, &buf, &mut checked)?;
                self.fault().map_err(io)?;
                file.write_all(&buf).await.map_err(io)?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            check_kind(first, &buf, &mut checked)?;
            self.fault().map_err(io)?;
            file.write_all(&buf).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        self.fault().map_err(io)?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        Ok(Received { tmp, sha256: hex(&hasher.finalize()), bytes: total })
    }

    /// Renames a received file to its content address and fsyncs the directory.
    pub(crate) async fn install(&self, mut received: Received) -> Result<PathBuf, ApiError> {
        let target = self.keys_path(&received.sha256);
        let io = |e: std::io::Error| ApiError::from_io("storing evaluation keys", &e);
        tokio::fs::rename(&received.tmp.path, &target).await.map_err(io)?;
        received.tmp.keep = true;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || sync_dir(&dir)).await.map_err(ApiError::internal)?.map_err(io)?;
        Ok(target)
    }

    /// Writes the public key of the keys `sha256` (temporary file, fsync, rename, fsync).
    pub(crate) async fn write_public(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        let target = self.public_path(sha256);
        let tmp_path = self.dir.join(format!("tmp-{}", crate::auth::random_id()?));
        let dir = self.dir.clone();
        let fault_file = self.fault_file.clone();
        let r = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let tmp = TmpFile { path: tmp_path, keep: false };
            check_fault(fault_file.as_deref())?;
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp.path)?;
            f.write_all(&bytes)?;
            check_fault(fault_file.as_deref())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp.path, &target)?;
            sync_dir(&dir)
        })
        .await
        .map_err(ApiError::internal)?;
        r.map_err(|e| ApiError::from_io("storing the public key", &e))
    }

    /// Deletes the files of the keys `sha256`.
    pub(crate) fn remove(&self, sha256: &str) {
        for p in [self.keys_path(sha256), self.public_path(sha256)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(file = %p.display(), error = %e, "could not delete a key file"),
            }
        }
        let _ = sync_dir(&self.dir);
    }

    /// Deletes `tmp-` files and key files whose digest is not in `referenced`. Returns how
    /// many files it deleted.
    pub(crate) fn gc(&self, referenced: &HashSet<String>) -> Result<usize, VaultError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| VaultError::io(&self.dir, &e))?;
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| VaultError::io(&self.dir, &e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = if name.starts_with("tmp-") {
                true
            } else if let Some(sha) = name.strip_suffix(".keys").or_else(|| name.strip_suffix(".pub")) {
                !referenced.contains(sha)
            } else {
                false
            };
            if stale {
                let p = entry.path();
                std::fs::remove_file(&p).map_err(|e| VaultError::io(&p, &e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir).map_err(|e| VaultError::io(&self.dir, &e))?;
        }
        Ok(removed)
    }
}

/// Checks the first chunk of a key upload (at most 1 MiB) before anything reaches the disk.
pub(crate) type FirstChunk = dyn Fn(&[u8]) -> Result<(), ringvault_app::AppError> + Send + Sync;

/// Before the first byte reaches the disk: `first` checks the opening of the body (the real
/// check wants an `eval.keys` header), so a secret key or anything else sent by mistake is
/// never written.
fn check_kind(first: &FirstChunk, chunk: &[u8], checked: &mut bool) -> Result<(), ApiError> {
    if !*checked {
        first(chunk).map_err(|e| ApiError::from_app(&e))?;
        *checked = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_hashes_installs_and_collects() {
        let dir = tempfile::tempdir().unwrap();
        let fault = dir.path().join(crate::store::FAULT_FILE);
        let kf = KeyFiles::new(dir.path(), Some(fault.clone())).unwrap();
        let content = vec![7u8; 3 * WRITE_CHUNK + 5];
        let r = kf.receive(Body::from(content.clone()), 10 << 20, &|_| Ok(())).await.unwrap();
        assert_eq!(r.bytes, content.len() as u64);
        assert_eq!(r.sha256, hex(&Sha256::digest(&content)));
        let sha = r.sha256.clone();
        let path = kf.install(r).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), content);
        kf.write_public(&sha, b"pub".to_vec()).await.unwrap();
        assert_eq!(std::fs::read(kf.public_path(&sha)).unwrap(), b"pub");

        // Over the limit: 413, nothing left behind.
        let e = kf.receive(Body::from(vec![0u8; 2000]), 1000, &|_| Ok(())).await.err().unwrap();
        assert_eq!(e.status, 413);
        // Disk full: 507, nothing left behind.
        std::fs::write(&fault, b"").unwrap();
        let e = kf.receive(Body::from(vec![1u8; 10]), 1000, &|_| Ok(())).await.err().unwrap();
        assert_eq!(e.status, 507);
        assert_eq!(kf.write_public("x", b"p".to_vec()).await.unwrap_err().status, 507);
        std::fs::remove_file(&fault).unwrap();
        let names = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&dir.path().join("keys")), [format!("{sha}.keys"), format!("{sha}.pub")]);

        // Startup collection: strays and unreferenced keys go, referenced keys stay.
        std::fs::write(dir.path().join("keys/tmp-stray"), b"x").unwrap();
        std::fs::write(dir.path().join("keys/deadbeef.keys"), b"x").unwrap();
        let keep: HashSet<String> = [sha.clone()].into();
        assert_eq!(kf.gc(&keep).unwrap(), 2);
        assert_eq!(names(&dir.path().join("keys")).len(), 2);
        assert_eq!(kf.gc(&HashSet::new()).unwrap(), 2);
        assert!(names(&dir.path().join("keys")).is_empty());
    }
}

