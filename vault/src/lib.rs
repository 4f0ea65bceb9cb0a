//! # ringvault-vault: the vault service
//!
//! A durable, authenticated HTTP service that stores devices' encrypted records and computes
//! statistics and scores on them for the data's owner without any key (row-packed records need
//! only additions and products with small plaintexts): no code in this crate can name a secret
//! key (`tests/no_secret_key.rs` and `clippy.toml` check it).
//!
//! - [`run`] serves until SIGINT/SIGTERM (the `ringvault serve` command); [`spawn`] serves on
//!   background threads and returns a [`RunningVault`] (the demo, tests, embedders).
//! - [`client::Client`] is the blocking Rust client (the `ringvault vault …` commands).
//! - [`types`] holds the JSON bodies of the API; `GET /v1/openapi.json` serves the OpenAPI
//!   document generated from the code.
//!
//! The store is one redb database plus content-addressed key files in the data directory;
//! every acknowledged write is committed with fsync, through a group-committing writer
//! thread. See the `store` module for why redb, durability and disk-full handling, and the
//! `auth` module for tokens and roles.
//!
//! ## API
//!
//! | method path | token | body → answer |
//! |---|---|---|
//! | `GET /v1/health` | none | `{"status":"ok","version","backend"}` |
//! | `GET /v1/openapi.json` | any | the OpenAPI 3 document |
//! | `POST /v1/datasets` | operator | `{"name","schema"}` → 201 `{"id","name","owner_token"}` |
//! | `GET /v1/datasets` | operator (all), owner (own) | `[{"id","name","records","uploads","bytes","keys","created"}]` |
//! | `GET /v1/datasets/{id}` | operator, its owner | the same plus `"schema"` |
//! | `DELETE /v1/datasets/{id}` | operator, its owner | `{"id","deleted":true}` |
//! | `PUT /v1/datasets/{id}/keys` | owner | `eval.keys` → `KeyInfo`; same again 200, other 409 |
//! | `GET /v1/datasets/{id}/public-key` | owner, device | the `public.key` file; 409 before keys |
//! | `GET /v1/datasets/{id}/schema` | owner, device | the dataset's schema (what devices encode with) |
//! | `POST /v1/datasets/{id}/devices` | owner | `{"name"}` → 201 `{"id","name","token","dataset"}` |
//! | `GET /v1/datasets/{id}/devices` | owner | `[{"id","name","revoked","uploads","records","created"}]` |
//! | `DELETE /v1/datasets/{id}/devices/{device}` | owner | `{"id","revoked":true}` |
//! | `POST /v1/datasets/{id}/uploads?from=T&to=T` | device, owner | a `rows` file + `Idempotency-Key` → 201 receipt; a retry 200 `duplicate: true` |
//! | `GET /v1/datasets/{id}/uploads?after=SEQ&limit=N` | owner | `[{"upload","device","rows","from","to","bytes","received"}]` in order (at most 10,000) |
//! | `GET /v1/datasets/{id}/uploads/{upload}` | owner | the stored `rows` file (what an export to Parquet reads) |
//! | `POST /v1/datasets/{id}/queries` | owner | `QueryRequest` → 200 result file, or 202 `{"job","state","progress"}` + `Location` |
//! | `GET /v1/jobs/{job}[?wait_ms=…]` | owner | `{"job","state","progress","error"?}`; `wait_ms` (≤ 10,000) long-polls until the job is done |
//! | `GET /v1/jobs/{job}/result` | owner | the result file; 409 while running; the job's error |
//! | `DELETE /v1/jobs/{job}` | owner | `{"job","deleted":true}`: the job and its result forgotten |
//!
//! Errors are `{"error": "<message>"}`: 400 malformed request, 401 no/unknown/revoked
//! token, 403 wrong role or dataset, 404 unknown dataset/device/job (once the caller may see
//! it), 408 timeout, 409 conflict, 413 body over the route's limit (the message names it),
//! 415 wrong content type, 422 invalid content (schema, keys, upload, query; a computation
//! that could wrap), 503 store recovering or too many jobs, 507 disk full (nothing stored).

// The vault must not be able to name a secret key: `clippy.toml` lists the types.
#![deny(clippy::disallowed_types)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use ringvault_app::config::VaultSettings;
use ringvault_app::query::QueryRunner;

mod api;
mod auth;
mod checks;
pub mod client;
mod error;
mod jobs;
mod keyfiles;
mod openapi;
mod server;
mod store;
pub mod types;

#[cfg(test)]
mod tests;

pub use error::VaultError;

/// The operator token's file name in the data directory (mode 0600, written on first start).
pub const OPERATOR_TOKEN_FILE: &str = auth::OPERATOR_TOKEN_FILE;

/// What to serve.
pub struct ServeOptions {
    /// The store's directory (created if missing): `vault.redb`, `keys/`, `operator.token`.
    pub data: PathBuf,
    /// Listen address, TLS, body limits, query concurrency, timeout (`settings.data` is
    /// ignored: [`ServeOptions::data`] is the directory).
    pub settings: VaultSettings,
    /// Evaluates queries (`ringvault_app::query::runner`).
    pub runner: Arc<dyn QueryRunner>,
}

/// A vault serving on background threads ([`spawn`]). Dropping it shuts it down too.
pub struct RunningVault {
    addr: SocketAddr,
    tls: bool,
    operator_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), VaultError>>>,
}

impl RunningVault {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// The operator token: the one this start created, else the content of
    /// `DIR/operator.token` (empty if that file is gone; the server itself keeps only the
    /// token's digest).
    pub fn operator_token(&self) -> &str {
        &self.operator_token
    }

    /// Shuts down gracefully: stops accepting, finishes the requests in flight, commits
    /// what is pending and closes the store.
    ///
    /// # Errors
    /// What the server failed with while serving or stopping.
    pub fn shutdown(mut self) -> Result<(), VaultError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), VaultError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| VaultError::Server("the vault's thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningVault {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

impl std::fmt::Debug for RunningVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningVault").field("addr", &self.addr).field("tls", &self.tls).finish_non_exhaustive()
    }
}

/// Starts the vault on background threads (its own tokio runtime) and returns once it
/// listens. Use the listen address `127.0.0.1:0` for an ephemeral port
/// ([`RunningVault::addr`]). Fault injection follows `RINGVAULT_VAULT_FAULTS`, as for [`run`].
///
/// # Errors
/// The data directory, the store, the TLS files or the listen address.
pub fn spawn(opts: ServeOptions) -> Result<RunningVault, VaultError> {
    spawn_with(opts, server::Internals::from_env())
}

pub(crate) fn spawn_with(opts: ServeOptions, internals: server::Internals) -> Result<RunningVault, VaultError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let data = opts.data.clone();
    let thread = std::thread::Builder::new()
        .name("ringvault-vault".into())
        .spawn(move || -> Result<(), VaultError> {
            let rt = server::runtime()?;
            let ready = move |s: &server::Started| {
                let _ = ready_tx.send(s.clone());
            };
            let r = rt.block_on(server::serve(opts, internals, ready, async {
                let _ = stopped.await;
            }));
            rt.shutdown_timeout(std::time::Duration::from_secs(10));
            r
        })
        .map_err(|e| VaultError::Server(format!("starting the vault's thread: {e}")))?;
    match ready_rx.recv() {
        Ok(started) => {
            let operator_token = started.new_operator_token.clone().unwrap_or_else(|| std::fs::read_to_string(data.join(OPERATOR_TOKEN_FILE)).map(|t| t.trim().to_owned()).unwrap_or_default());
            Ok(RunningVault { addr: started.addr, tls: started.tls, operator_token, stop: Some(stop), thread: Some(thread) })
        }
        Err(_) => match thread.join() {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Err(VaultError::Server("the vault stopped before listening".into())),
            Err(_) => Err(VaultError::Server("the vault's thread panicked".into())),
        },
    }
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully (finishes the requests in
/// flight, commits what is pending, closes the store). Logs with `tracing` to standard error
/// (`RUST_LOG` filters; default `info`), and prints one line
/// `ringvault vault listening on http://ADDR (data DIR)` to standard error once listening.
/// With `RINGVAULT_VAULT_FAULTS=1`, storage writes fail with ENOSPC while `DIR/fault-enospc`
/// exists (tests of disk-full handling), and queries wait (up to a minute) while
/// `DIR/fault-hold-query` exists (tests of jobs).
///
/// # Errors
/// As [`spawn`], and what the server failed with.
pub fn run(opts: ServeOptions) -> Result<(), VaultError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(ansi).with_env_filter(filter).try_init();
    let rt = server::runtime()?;
    let data = opts.data.clone();
    let ready = |s: &server::Started| {
        if s.new_operator_token.is_some() {
            eprintln!("ringvault vault: operator token written to {}", data.join(OPERATOR_TOKEN_FILE).display());
        }
        eprintln!("ringvault vault listening on {}://{} (data {})", if s.tls { "https" } else { "http" }, s.addr, data.display());
    };
    let r = rt.block_on(server::serve(opts, server::Internals::from_env(), ready, server::signal()));
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    r
}
