//! The application layer's error.

/// What can go wrong in the application layer. [`AppError::is_client_error`] tells a front
/// end whether the caller's input was at fault (a service answers 4xx) or the system (5xx).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A core error (parameters, keys, wire format, evaluation, decryption).
    #[error(transparent)]
    Core(#[from] ringvault_core::Error),
    /// The CSV input.
    #[error(transparent)]
    Csv(#[from] crate::csv::CsvError),
    /// A file or body that is not what its name or header claims.
    #[error("{0}")]
    Format(String),
    /// Reading or writing a file.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        reason: String,
    },
    /// Backend or configuration choices.
    #[error("{0}")]
    Config(String),
    /// A dataset schema, or an upload or query that does not fit its dataset.
    #[error("{0}")]
    Schema(String),
}

impl AppError {
    /// The error of an I/O operation on `path`.
    pub fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), reason: e.to_string() }
    }

    /// Whether the input was at fault (bad bytes, a wrong schema, a computation refused as it
    /// could wrap) rather than the system (I/O, a lost GPU).
    pub fn is_client_error(&self) -> bool {
        use ringvault_core::Error as E;
        match self {
            Self::Core(e) => !matches!(e, E::Backend { .. }),
            Self::Csv(_) | Self::Format(_) | Self::Schema(_) | Self::Config(_) => true,
            Self::Io { .. } => false,
        }
    }
}
