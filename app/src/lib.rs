//! # ringvault-app: the application layer
//!
//! Above `ringvault-core` and below every front end (the `ringvault` command line, the vault
//! service `ringvault-vault`, the Python package, cluster executors). It owns everything that
//! is persisted or exchanged, so that no front end defines a format:
//!
//! - [`container`]: the `RVFILE01` container around validated wire objects;
//! - [`keys`]: the owner's key files (`secret.key`, `public.key`, `eval.keys`);
//! - [`results`]: encrypted tables and results (`TableMeta`, `StatMeta`, `ScoresMeta`), and
//!   their decryption by the owner;
//! - [`dataset`]: a vault dataset's schema, its key check and the validation of uploads;
//! - [`query`]: the server's queries over stored uploads (row-packed: no key needed);
//! - [`contexts`]: statistics contexts by preset, built once per server;
//! - [`rows`]: the vault's row-packed uploads and answers as files;
//! - [`local`]: the file-based flow on bytes (what `encrypt` and `eval` do);
//! - [`csv`]: CSV records into fixed-point columns;
//! - [`config`] and [`engine`]: `ringvault.toml`, the environment and the backend choice;
//! - [`workloads`]: what the demo, `ringvault bench` and the benches crate share (the
//!   synthetic cohort, the peers' anchor rings, the paper's sum, the statistics job).
//!
//! Layers: `core` (scheme, encodings, statistics) → backends → **app** → front ends.

pub mod config;
pub mod container;
pub mod contexts;
pub mod csv;
pub mod dataset;
pub mod engine;
pub mod keys;
pub mod local;
pub mod query;
pub mod results;
pub mod rows;
pub mod workloads;

mod error;

pub use error::AppError;

/// Lower-case hex of bytes (digests, ids, tokens).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
