//! Statistics contexts by preset, each built once per server: a context holds the ring's NTT
//! tables and the schemes of every plaintext modulus, so a query or an aggregate reuses one
//! rather than rebuilding it per call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ringvault_core::Backend;
use ringvault_core::stats::StatsContext;

use crate::AppError;
use crate::keys::params_named;

/// The statistics contexts of one backend, by preset name.
pub struct Contexts<B: Backend> {
    backend: Arc<B>,
    map: Mutex<HashMap<String, Arc<StatsContext<B>>>>,
}

impl<B: Backend> std::fmt::Debug for Contexts<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contexts").field("backend", &self.backend.name()).finish_non_exhaustive()
    }
}

impl<B: Backend> Contexts<B> {
    /// No context yet, on `backend`.
    pub fn new(backend: Arc<B>) -> Self {
        Self { backend, map: Mutex::new(HashMap::new()) }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<B> {
        &self.backend
    }

    /// The context of `preset`, whose plaintext moduli must be `moduli` (what keys and files
    /// name: a file from another version's preset is refused, not misread). A context built
    /// before costs one lookup and one comparison.
    ///
    /// # Errors
    /// [`AppError::Format`] for an unknown preset or other moduli ([`params_named`]); context
    /// errors.
    pub fn get(&self, preset: &str, moduli: &[u32]) -> Result<Arc<StatsContext<B>>, AppError> {
        let mut map = self.map.lock().map_err(|_| AppError::Config("a statistics context panicked".into()))?;
        if let Some(ctx) = map.get(preset).filter(|c| c.params().moduli() == moduli) {
            return Ok(ctx.clone());
        }
        let ctx = Arc::new(StatsContext::new(self.backend.clone(), params_named(preset, moduli)?)?);
        map.insert(preset.to_string(), ctx.clone());
        Ok(ctx)
    }
}
