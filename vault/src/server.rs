//! Starting and stopping: the store, the operator token, the key directory's collection,
//! the listener (plain HTTP or rustls), graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use ringvault_app::config::VaultSettings;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::Semaphore;

use crate::api::{self, AppState, Limits};
use crate::checks::Checks;
use crate::error::VaultError;
use crate::jobs::Jobs;
use crate::keyfiles::KeyFiles;
use crate::store::{Store, FAULT_FILE};
use crate::ServeOptions;

/// How long in-flight requests may take to finish after a shutdown was asked for.
const GRACE: Duration = Duration::from_secs(30);

/// What the service is built with besides [`ServeOptions`] (tests swap the validators).
pub(crate) struct Internals {
    /// Storage writes fail with `ENOSPC` while `DIR/fault-enospc` exists; queries wait while
    /// `DIR/fault-hold-query` exists.
    pub(crate) faults: bool,
    pub(crate) checks: Arc<dyn Checks>,
}

impl Internals {
    /// The real validators; faults from `RINGVAULT_VAULT_FAULTS=1`.
    pub(crate) fn from_env() -> Self {
        let faults = std::env::var("RINGVAULT_VAULT_FAULTS").is_ok_and(|v| v.trim() == "1");
        Self { faults, checks: Arc::new(crate::checks::AppChecks) }
    }
}

/// What a started server reports.
#[derive(Clone, Debug)]
pub(crate) struct Started {
    pub(crate) addr: SocketAddr,
    pub(crate) tls: bool,
    /// The operator token, when this start created it.
    pub(crate) new_operator_token: Option<String>,
}

fn tls_config(s: &VaultSettings) -> Result<Option<RustlsConfig>, VaultError> {
    let (cert, key) = match (&s.tls_cert, &s.tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => return Err(VaultError::Config("tls_cert and tls_key go together: set both for HTTPS, or neither".into())),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| VaultError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(VaultError::Tls(format!("{}: no PEM certificate in it", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| VaultError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| VaultError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| VaultError::Tls(format!("certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(RustlsConfig::from_config(Arc::new(cfg))))
}

/// Serves until `shutdown` resolves, then shuts down gracefully: stops accepting, lets
/// in-flight requests finish (up to [`GRACE`]), commits what is pending and closes the
/// store. Calls `ready` once listening.
pub(crate) async fn serve(opts: ServeOptions, internals: Internals, ready: impl FnOnce(&Started), shutdown: impl Future<Output = ()>) -> Result<(), VaultError> {
    let data = opts.data.clone();
    std::fs::create_dir_all(&data).map_err(|e| VaultError::io(&data, &e))?;
    let fault_file = internals.faults.then(|| data.join(FAULT_FILE));
    if fault_file.is_some() {
        tracing::warn!("fault injection on: storage writes fail while {} exists", data.join(FAULT_FILE).display());
    }
    let db = data.join("vault.redb");
    let store = Store::open(&db, fault_file.clone()).map_err(|e| VaultError::Store(format!("{}: {e}", db.display())))?;
    let result = serve_store(opts, internals, store.clone(), &data, fault_file, ready, shutdown).await;
    store.close();
    tracing::info!("store closed");
    result
}

async fn serve_store(
    opts: ServeOptions,
    internals: Internals,
    store: Store,
    data: &Path,
    fault_file: Option<std::path::PathBuf>,
    ready: impl FnOnce(&Started),
    shutdown: impl Future<Output = ()>,
) -> Result<(), VaultError> {
    let settings = &opts.settings;
    let new_operator_token = crate::auth::init_operator(&store, data).await?;
    let keys = KeyFiles::new(data, fault_file)?;
    let referenced = store.key_shas().map_err(|e| VaultError::Store(e.to_string()))?;
    let removed = keys.gc(&referenced)?;
    if removed > 0 {
        tracing::info!(files = removed, "removed unreferenced key files");
    }
    let tls = tls_config(settings)?;
    let listener = std::net::TcpListener::bind(settings.listen.as_str()).map_err(|e| VaultError::Config(format!("cannot listen on {}: {e}", settings.listen)))?;
    listener.set_nonblocking(true).map_err(|e| VaultError::Server(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| VaultError::Server(e.to_string()))?;
    let mib = |n: u64| n.saturating_mul(1 << 20);
    let limits = Limits { upload: mib(settings.max_upload_mb), keys: mib(settings.max_keys_mb), timeout: Duration::from_secs(settings.request_timeout_s.max(1)) };
    let state = Arc::new(AppState {
        store,
        keys,
        runner: opts.runner.clone(),
        checks: internals.checks,
        jobs: Jobs::new(data).map_err(|e| VaultError::Store(format!("{}: {e}", data.join("results").display())))?,
        queries: Arc::new(Semaphore::new(settings.query_concurrency.max(1))),
        limits,
        hold_queries: internals.faults.then(|| data.join(api::HOLD_FILE)),
    });
    let app = api::router(state).map_err(|e| VaultError::Server(e.message))?;
    let handle = axum_server::Handle::new();
    let is_tls = tls.is_some();
    let mut server = match tls {
        None => tokio::spawn(axum_server::from_tcp(listener).handle(handle.clone()).serve(app.into_make_service())),
        Some(cfg) => tokio::spawn(axum_server::from_tcp_rustls(listener, cfg).handle(handle.clone()).serve(app.into_make_service())),
    };
    tracing::info!(%addr, tls = is_tls, backend = %opts.runner.backend_name(), "listening");
    ready(&Started { addr, tls: is_tls, new_operator_token });
    tokio::select! {
        () = shutdown => {}
        r = &mut server => {
            return match r {
                Ok(Ok(())) => Err(VaultError::Server("the server stopped by itself".into())),
                Ok(Err(e)) => Err(VaultError::Server(e.to_string())),
                Err(e) => Err(VaultError::Server(format!("the server task failed: {e}"))),
            };
        }
    }
    tracing::info!("shutting down: finishing requests in flight");
    handle.graceful_shutdown(Some(GRACE));
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(VaultError::Server(e.to_string())),
        Err(e) => Err(VaultError::Server(format!("the server task failed: {e}"))),
    }
}

/// The runtime the vault serves on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, VaultError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("ringvault-vault").build().map_err(|e| VaultError::Server(format!("starting the async runtime: {e}")))
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
