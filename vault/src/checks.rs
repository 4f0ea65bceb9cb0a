//! The application layer's validators, behind a trait so the service's tests can run with
//! stand-ins (no real ciphertexts needed). The server always uses [`AppChecks`].

use std::path::Path;

use ringvault_app::dataset::{self, CheckedKeys, CheckedUpload, KeyInfo, Schema};
use ringvault_app::AppError;

/// Validation of what callers send.
pub(crate) trait Checks: Send + Sync + 'static {
    /// Parses and validates a schema.
    fn schema(&self, json: &[u8]) -> Result<Schema, AppError>;
    /// Whether the opening bytes of a key upload can be an `eval.keys` file (checked before
    /// anything is written to disk).
    fn eval_keys_opening(&self, first: &[u8]) -> Result<(), AppError>;
    /// Validates an `eval.keys` file for `schema`, with the `public.key` file derived from it
    /// (CPU-heavy: call off the async threads).
    fn eval_keys(&self, schema: &Schema, path: &Path) -> Result<CheckedKeys, AppError>;
    /// Validates an upload body and hashes it, in one pass (CPU-heavy: call off the async
    /// threads); the body moves into the result.
    fn upload(&self, schema: &Schema, keys: &KeyInfo, body: Vec<u8>) -> Result<CheckedUpload, AppError>;
}

/// The real validators: the application layer's wire loaders.
pub(crate) struct AppChecks;

impl Checks for AppChecks {
    fn schema(&self, json: &[u8]) -> Result<Schema, AppError> {
        Schema::from_json(json)
    }
    fn eval_keys_opening(&self, first: &[u8]) -> Result<(), AppError> {
        dataset::check_eval_keys_opening(first)
    }
    fn eval_keys(&self, schema: &Schema, path: &Path) -> Result<CheckedKeys, AppError> {
        dataset::check_eval_keys(schema, path)
    }
    fn upload(&self, schema: &Schema, keys: &KeyInfo, body: Vec<u8>) -> Result<CheckedUpload, AppError> {
        dataset::check_upload(schema, keys, body)
    }
}
