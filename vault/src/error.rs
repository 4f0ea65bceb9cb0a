//! Errors: [`VaultError`] (starting and stopping the service) and the HTTP error answer
//! (`{"error": "<message>"}` with a status), into which every failure of a request turns.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ringvault_app::AppError;

use crate::store::StoreError;

/// What can stop the vault from starting, serving or shutting down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// A setting that cannot be used (listen address, TLS files, data directory).
    #[error("vault configuration: {0}")]
    Config(String),
    /// A file or directory of the store.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        reason: String,
    },
    /// The embedded database.
    #[error("vault store: {0}")]
    Store(String),
    /// TLS setup (certificate, key).
    #[error("vault TLS: {0}")]
    Tls(String),
    /// The async runtime or the HTTP server.
    #[error("vault server: {0}")]
    Server(String),
}

impl VaultError {
    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), reason: e.to_string() }
    }
}

/// An error answer: a status and a message for the caller. 5xx messages are generic (the
/// detail goes to the log, inside the request's span with its request id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub(crate) fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    pub(crate) fn insufficient_storage() -> Self {
        Self::new(StatusCode::INSUFFICIENT_STORAGE, "insufficient storage: the vault could not write to its disk (full?); nothing of this request was stored, retry later")
    }

    /// A 500 whose detail is logged, not sent.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error: see the vault's log for this request id")
    }

    /// A body over `limit` bytes on the route that carries `what`.
    pub(crate) fn too_large(what: &str, limit: u64) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body too large: the limit for {what} is {limit} bytes ({})", human_bytes(limit)))
    }

    /// An I/O error of the store's files: 507 for a full disk, else 500.
    pub(crate) fn from_io(context: &str, e: &std::io::Error) -> Self {
        if is_disk_full(e) {
            tracing::warn!(error = %e, "{context}: disk full");
            Self::insufficient_storage()
        } else {
            Self::internal(format!("{context}: {e}"))
        }
    }

    /// An application-layer error: 422 when the caller's input was at fault, else 500.
    pub(crate) fn from_app(e: &AppError) -> Self {
        if e.is_client_error() { Self::unprocessable(e.to_string()) } else { Self::internal(e) }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::not_found(m),
            StoreError::Conflict(m) => Self::conflict(m),
            StoreError::Revoked(m) => Self::unauthorized(m),
            StoreError::Full(detail) => {
                tracing::warn!(error = %detail, "store write failed: disk full");
                Self::insufficient_storage()
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "store unavailable");
                Self::unavailable("the vault's store is recovering from a write error; retry shortly")
            }
            StoreError::Closed => Self::unavailable("the vault is shutting down"),
            StoreError::Internal(detail) => Self::internal(detail),
        }
    }
}

#[derive(serde::Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(ErrorJson { error: &self.message })).into_response()
    }
}

/// Whether `e` is "no space left on device" (or a quota, which means the same to a writer).
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) || e.raw_os_error() == Some(28)
}

/// `268435456` → `256 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_people_say_them() {
        assert_eq!(human_bytes(256 << 20), "256 MiB");
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(1536 << 10), "1.5 MiB");
        assert_eq!(human_bytes(4096), "4 KiB");
        assert_eq!(human_bytes(100), "100 B");
        let e = ApiError::too_large("uploads", 1 << 20);
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.message.contains("1048576 bytes (1 MiB)"), "{}", e.message);
    }

    #[test]
    fn disk_full_is_recognised() {
        assert!(is_disk_full(&std::io::Error::from_raw_os_error(28)));
        assert!(is_disk_full(&std::io::Error::from(std::io::ErrorKind::StorageFull)));
        assert!(!is_disk_full(&std::io::Error::from(std::io::ErrorKind::PermissionDenied)));
        assert_eq!(ApiError::from_io("x", &std::io::Error::from_raw_os_error(28)).status, StatusCode::INSUFFICIENT_STORAGE);
    }
}
