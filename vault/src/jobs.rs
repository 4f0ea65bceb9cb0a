//! Query jobs. A query that does not finish within [`QUICK`] is answered `202` with its job;
//! the owner polls `GET /v1/jobs/{job}` and fetches `…/result`. At most [`MAX_JOBS`] jobs are
//! held at once (more queries are answered 503); a finished job is forgotten [`TTL`] after it
//! finished, and every job is lost on restart (run the query again). A query answered
//! directly (within [`QUICK`]) leaves no job behind.
//!
//! A result larger than [`SPILL_BYTES`] (the scores of many records: about 0.5 kB per record)
//! is answered from memory as soon as it is ready; if its job is still held [`SPILL_AFTER`]
//! later, the result moves to a file of `DATA/results/` and is streamed from there: a server
//! keeping a few such answers for their [`TTL`] would otherwise hold gigabytes. An owner
//! that fetches the result and deletes its job (`DELETE /v1/jobs/{job}`, as the client does)
//! never makes the vault write it. The folder is emptied at startup; a result's file is
//! removed when its job is forgotten.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::ApiError;
use crate::types::{JobState, JobStatus};

/// How long a query request waits for its job before answering 202.
pub(crate) const QUICK: Duration = Duration::from_secs(1);
/// Most jobs held (running and finished).
pub(crate) const MAX_JOBS: usize = 1024;
/// How long a finished job's result is kept.
pub(crate) const TTL: Duration = Duration::from_secs(600);

/// Results larger than this are kept in a file rather than in memory.
pub(crate) const SPILL_BYTES: usize = 4 << 20;
/// How long a large finished result stays in memory before it moves to its file: an owner
/// polling the job fetches it well within this.
pub(crate) const SPILL_AFTER: Duration = Duration::from_secs(3);

/// A finished job's result file.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Held in memory (a small result).
    Memory(Bytes),
    /// Kept in a file of `DATA/results/`, removed when the answer is dropped (a response
    /// streaming it keeps its open file readable).
    File {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Self::File { path, .. } = self
            && let Err(e) = std::fs::remove_file(path.as_path())
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove a query result");
        }
    }
}

enum Slot {
    Running,
    Done(Arc<Answer>, Instant),
    Failed(ApiError, Instant),
}

/// One query job.
pub(crate) struct Job {
    pub(crate) id: String,
    pub(crate) dataset: String,
    progress: AtomicU64,
    slot: Mutex<Slot>,
    done: tokio::sync::watch::Sender<bool>,
}

impl Job {
    /// Records progress (a fraction, clamped to `[0, 1]`).
    pub(crate) fn set_progress(&self, f: f64) {
        let f = if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) };
        self.progress.store(f.to_bits(), Ordering::Relaxed);
    }

    fn progress(&self) -> f64 {
        f64::from_bits(self.progress.load(Ordering::Relaxed))
    }

    /// Records the result and wakes the waiters.
    pub(crate) fn finish(&self, result: Result<Answer, ApiError>) {
        let now = Instant::now();
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = match result {
            Ok(b) => {
                self.set_progress(1.0);
                Slot::Done(Arc::new(b), now)
            }
            Err(e) => Slot::Failed(e, now),
        };
        self.done.send_replace(true);
    }

    /// Waits up to `d` for the job to finish; whether it did.
    pub(crate) async fn wait(&self, d: Duration) -> bool {
        let mut rx = self.done.subscribe();
        matches!(tokio::time::timeout(d, rx.wait_for(|v| *v)).await, Ok(Ok(_)))
    }

    /// The result, once finished.
    pub(crate) fn outcome(&self) -> Option<Result<Arc<Answer>, ApiError>> {
        match &*self.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Running => None,
            Slot::Done(b, _) => Some(Ok(b.clone())),
            Slot::Failed(e, _) => Some(Err(e.clone())),
        }
    }

    /// The job's status.
    pub(crate) fn status(&self) -> JobStatus {
        let (state, error) = match &*self.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Running => (JobState::Running, None),
            Slot::Done(..) => (JobState::Done, None),
            Slot::Failed(e, _) => (JobState::Failed, Some(e.message.clone())),
        };
        JobStatus { job: self.id.clone(), state, progress: self.progress(), error }
    }

    fn expired(&self, now: Instant) -> bool {
        match &*self.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Running => false,
            Slot::Done(_, t) | Slot::Failed(_, t) => now.duration_since(*t) > TTL,
        }
    }
}

/// Every job, and where large results are kept.
#[derive(Default)]
pub(crate) struct Jobs {
    map: Mutex<HashMap<String, Arc<Job>>>,
    /// `DATA/results/` (`None`: every result in memory).
    spill: Option<PathBuf>,
}

impl Jobs {
    /// Jobs whose large results go to `DATA/results/`, emptied now (no job survives a
    /// restart).
    ///
    /// # Errors
    /// The folder cannot be emptied or created.
    pub(crate) fn new(data: &std::path::Path) -> std::io::Result<Self> {
        let dir = data.join("results");
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self { map: Mutex::default(), spill: Some(dir) })
    }

    /// Whether a result of `len` bytes moves to a file ([`Self::spill`]).
    pub(crate) fn spills(&self, len: usize) -> bool {
        self.spill.is_some() && len > SPILL_BYTES
    }

    /// Moves the in-memory result of job `id` to its file in `DATA/results/`; nothing when
    /// the job was forgotten, is still running or already has its file. On a failed write (a
    /// full disk) the result stays in memory: the answer is not lost.
    pub(crate) fn spill(&self, id: &str) {
        let Some(dir) = &self.spill else { return };
        let Some(job) = self.get(id) else { return };
        let bytes = match job.outcome() {
            Some(Ok(answer)) => match &*answer {
                Answer::Memory(b) => b.clone(),
                Answer::File { .. } => return,
            },
            _ => return,
        };
        let path = dir.join(&job.id);
        if let Err(e) = std::fs::write(&path, &bytes) {
            tracing::warn!(path = %path.display(), error = %e, "a query result stays in memory");
            let _ = std::fs::remove_file(&path);
            return;
        }
        let file = Answer::File { path, len: bytes.len() as u64 };
        if let Slot::Done(answer, _) = &mut *job.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            *answer = Arc::new(file);
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new running job of `dataset`.
    pub(crate) fn insert(&self, dataset: &str) -> Result<Arc<Job>, ApiError> {
        let id = crate::auth::random_id()?;
        let mut map = self.map();
        let now = Instant::now();
        map.retain(|_, j| !j.expired(now));
        if map.len() >= MAX_JOBS {
            return Err(ApiError::unavailable(format!("the vault holds {MAX_JOBS} query jobs already; fetch or wait for results and retry")));
        }
        let (done, _) = tokio::sync::watch::channel(false);
        let job = Arc::new(Job { id: id.clone(), dataset: dataset.to_owned(), progress: AtomicU64::new(0f64.to_bits()), slot: Mutex::new(Slot::Running), done });
        map.insert(id, job.clone());
        Ok(job)
    }

    /// A job by id (`None` when unknown or expired).
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Job>> {
        let map = self.map();
        map.get(id).filter(|j| !j.expired(Instant::now())).cloned()
    }

    /// Forgets a job.
    pub(crate) fn remove(&self, id: &str) {
        self.map().remove(id);
    }

    /// Forgets every job of a (deleted) dataset.
    pub(crate) fn remove_dataset(&self, dataset: &str) {
        self.map().retain(|_, j| j.dataset != dataset);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn lifecycle() {
        let jobs = Jobs::default();
        let j = jobs.insert("d").unwrap();
        assert_eq!(j.status().state, JobState::Running);
        assert!(!j.wait(Duration::from_millis(10)).await);
        j.set_progress(0.5);
        assert_eq!(j.status().progress, 0.5);
        j.set_progress(7.0);
        assert_eq!(j.status().progress, 1.0);
        j.finish(Err(ApiError::unprocessable("could wrap")));
        assert!(j.wait(Duration::from_millis(10)).await);
        let s = j.status();
        assert_eq!((s.state, s.error.as_deref()), (JobState::Failed, Some("could wrap")));
        assert_eq!(j.outcome().unwrap().unwrap_err().status, 422);
        assert!(jobs.get(&j.id).is_some());
        jobs.remove_dataset("d");
        assert!(jobs.get(&j.id).is_none());
    }

    #[tokio::test]
    async fn large_results_move_to_files_removed_with_their_job() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("results")).unwrap();
        std::fs::write(dir.path().join("results").join("stale"), b"from before a restart").unwrap();
        let jobs = Jobs::new(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("results")).unwrap().count(), 0, "a restart empties results/");
        assert!(!jobs.spills(SPILL_BYTES) && jobs.spills(SPILL_BYTES + 1));
        assert!(!Jobs::default().spills(SPILL_BYTES + 1), "without a results folder every result stays in memory");
        let big = Bytes::from(vec![9u8; SPILL_BYTES + 1]);
        let j = jobs.insert("d").unwrap();
        j.finish(Ok(Answer::Memory(big.clone())));
        let before = j.outcome().unwrap().unwrap();
        jobs.spill(&j.id);
        let after = j.outcome().unwrap().unwrap();
        let Answer::File { path, len } = &*after else { panic!("a large result stayed in memory") };
        assert_eq!((*len, std::fs::read(path).unwrap()), (big.len() as u64, big.to_vec()));
        assert!(matches!(&*before, Answer::Memory(b) if *b == big), "a fetch already under way keeps its bytes");
        let path = path.clone();
        drop(after);
        jobs.remove(&j.id);
        drop(j);
        assert!(!path.exists(), "a forgotten result's file is removed");
        // A job forgotten before its result moved leaves no file.
        let k = jobs.insert("d").unwrap();
        k.finish(Ok(Answer::Memory(big.clone())));
        jobs.remove(&k.id);
        jobs.spill(&k.id);
        assert_eq!(std::fs::read_dir(dir.path().join("results")).unwrap().count(), 0);
        // Nothing of a forgotten job stays alive for a later spill: its result is freed.
        let weak = {
            let l = jobs.insert("d").unwrap();
            l.finish(Ok(Answer::Memory(big.clone())));
            let w = Arc::downgrade(&l);
            jobs.remove(&l.id);
            w
        };
        assert!(weak.upgrade().is_none(), "a forgotten job is dropped");
        // A running job, or one whose result is already a file, is left as it is.
        let r = jobs.insert("d").unwrap();
        jobs.spill(&r.id);
        assert_eq!(r.status().state, JobState::Running);
        assert_eq!(std::fs::read_dir(dir.path().join("results")).unwrap().count(), 0);
    }
}
