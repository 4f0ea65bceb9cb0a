//! A small map of device-resident objects built on first use (public keys per level, secret
//! powers, key-switching keys per level), shared by the encryptor, decryptor and evaluator.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::Error;

/// Values built on first use and shared afterwards. The lock is not held while a value is
/// built, so a builder may itself use the cache (two threads may then build the same value
/// once each; the first insertion wins).
pub(crate) struct DeviceCache<K, V> {
    map: Mutex<HashMap<K, Arc<V>>>,
}

impl<K: Eq + Hash + Clone, V> DeviceCache<K, V> {
    pub(crate) fn new() -> Self {
        Self { map: Mutex::new(HashMap::new()) }
    }

    fn poisoned() -> Error {
        Error::Backend { backend: "scheme".into(), reason: "device cache lock poisoned".into() }
    }

    /// The value for `key`, built by `make` if absent.
    ///
    /// # Errors
    /// What `make` returns; a poisoned lock.
    pub(crate) fn get_or_try_insert(&self, key: K, make: impl FnOnce() -> Result<V, Error>) -> Result<Arc<V>, Error> {
        if let Some(v) = self.map.lock().map_err(|_| Self::poisoned())?.get(&key) {
            return Ok(v.clone());
        }
        let value = Arc::new(make()?);
        Ok(self.map.lock().map_err(|_| Self::poisoned())?.entry(key).or_insert(value).clone())
    }

    /// Empties the cache, returning the values (for wiping secret ones).
    pub(crate) fn drain(&self) -> Vec<Arc<V>> {
        self.map.lock().map(|mut m| m.drain().map(|(_, v)| v).collect()).unwrap_or_default()
    }
}
