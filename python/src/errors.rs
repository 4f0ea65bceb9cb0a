//! The `ringvault.Error` hierarchy and the mapping of Rust errors onto it (the message is the
//! Rust error's).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use ringvault_app::AppError;
use ringvault_core::Error as CoreError;
use ringvault_vault::client::ClientError;

create_exception!(ringvault, Error, PyException, "Every error of RingVault.");
create_exception!(ringvault, WrapError, Error, "A computation refused because its result could exceed the plaintext space (it would wrap).");
create_exception!(ringvault, NoiseBudgetError, Error, "A ciphertext whose noise budget is exhausted: it cannot be decrypted reliably.");
create_exception!(ringvault, WireFormatError, Error, "Bytes or a file that are not what they claim (truncated, corrupted, another kind, other keys).");
create_exception!(ringvault, DataError, Error, "Input data or a request that does not fit: columns, values, missing cells, schema, statistic, model.");
create_exception!(ringvault, KeyMismatchError, Error, "Keys, ciphertexts or results of different parameters or key sets.");
create_exception!(ringvault, BackendError, Error, "The compute backend or its configuration (e.g. no GPU adapter).");
create_exception!(ringvault, FileError, Error, "Reading or writing a file.");
create_exception!(ringvault, VaultError, Error, "The vault refused a request (`status` holds the HTTP status) or could not be reached.");

/// Adds the exception types to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("WrapError", py.get_type::<WrapError>())?;
    m.add("NoiseBudgetError", py.get_type::<NoiseBudgetError>())?;
    m.add("WireFormatError", py.get_type::<WireFormatError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("KeyMismatchError", py.get_type::<KeyMismatchError>())?;
    m.add("BackendError", py.get_type::<BackendError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("VaultError", py.get_type::<VaultError>())?;
    Ok(())
}

/// The Python exception for a core error.
fn core_err(e: &CoreError) -> PyErr {
    let msg = e.to_string();
    match e {
        CoreError::WouldWrap { .. } | CoreError::PlaintextOverflow { .. } => WrapError::new_err(msg),
        CoreError::NoiseBudgetExhausted | CoreError::LevelExhausted => NoiseBudgetError::new_err(msg),
        CoreError::ParameterMismatch | CoreError::MissingGaloisKey { .. } | CoreError::MissingRelinearizationKey | CoreError::KeyLevelNotCovered { .. } => KeyMismatchError::new_err(msg),
        CoreError::Backend { .. } => BackendError::new_err(msg),
        CoreError::InvalidInput { .. } | CoreError::ValueOutOfRange { .. } | CoreError::NoPresetFits { .. } => DataError::new_err(msg),
        _ => WireFormatError::new_err(msg),
    }
}

/// The Python exception for an application error.
pub(crate) fn app_err(e: AppError) -> PyErr {
    match &e {
        AppError::Core(c) => core_err(c),
        AppError::Csv(_) | AppError::Schema(_) => DataError::new_err(e.to_string()),
        AppError::Format(_) => WireFormatError::new_err(e.to_string()),
        AppError::Io { .. } => FileError::new_err(e.to_string()),
        AppError::Config(_) => BackendError::new_err(e.to_string()),
        _ => Error::new_err(e.to_string()),
    }
}

/// The Python exception for the vault client's error; a refusal carries its HTTP status.
pub(crate) fn vault_err(py: Python<'_>, e: ClientError) -> PyErr {
    let status = e.status();
    let err = match &e {
        ClientError::Io { .. } => FileError::new_err(e.to_string()),
        _ => VaultError::new_err(e.to_string()),
    };
    if let Some(s) = status {
        let _ = err.value(py).setattr("status", s);
    }
    err
}

/// A bad argument.
pub(crate) fn invalid(msg: impl Into<String>) -> PyErr {
    DataError::new_err(msg.into())
}
