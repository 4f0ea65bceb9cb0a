//! The statistics objects as lists of wire objects, one per plaintext modulus (and chunk),
//! so that callers never zip [`StatsContext::schemes`] with their objects by hand.
//!
//! Orders: keys and results are one object per modulus, in modulus order; a column is
//! modulus-major, `[modulus][chunk]` flattened; scores likewise. Every loader checks the
//! object count before loading and each object goes through its validating wire loader.

use super::server::{EncryptedScores, EncryptedStat};
use super::table::{EncryptedColumn, EncryptedTable};
use super::{StatsContext, StatsKeys, StatsSecretKey};
use crate::backend::Backend;
use crate::scheme::{Ciphertext, EvaluationKeys, PublicKey, Scheme, SecretKey};
use crate::Error;

impl StatsKeys {
    /// The evaluation-key bundles, one object per modulus.
    ///
    /// # Errors
    /// Serialization errors.
    pub fn to_objects(&self) -> Result<Vec<Vec<u8>>, Error> {
        self.keys.iter().map(EvaluationKeys::to_bytes).collect()
    }
    /// The public keys, one object per modulus (what an encrypting device needs).
    pub fn public_key_objects(&self) -> Vec<Vec<u8>> {
        self.keys.iter().map(|k| k.public_key().to_bytes()).collect()
    }
}

impl StatsSecretKey {
    /// The secret keys' bytes, one object per modulus: the owner's `secret.key`. Handle as
    /// the secret it is.
    pub fn export_secret_objects(&self) -> Vec<Vec<u8>> {
        self.keys.iter().map(|k| k.export_secret_bytes().to_vec()).collect()
    }
}

impl<B: Backend> StatsContext<B> {
    fn expect_objects(&self, what: &'static str, found: usize, per_modulus: usize) -> Result<(), Error> {
        let expected = self.schemes.len() * per_modulus;
        if found != expected {
            return Err(Error::ShapeMismatch { what, expected, found });
        }
        Ok(())
    }

    /// Evaluation keys from [`StatsKeys::to_objects`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a count other than one per modulus; wire errors.
    pub fn keys_from_objects<O: AsRef<[u8]>>(&self, objects: &[O]) -> Result<StatsKeys, Error> {
        self.expect_objects("evaluation-key sets (one per plaintext modulus)", objects.len(), 1)?;
        let keys = self.schemes.iter().zip(objects).map(|(s, o)| EvaluationKeys::from_bytes(s.params(), o.as_ref())).collect::<Result<_, _>>()?;
        Ok(StatsKeys { keys })
    }

    /// Public keys from [`StatsKeys::public_key_objects`].
    ///
    /// # Errors
    /// As [`Self::keys_from_objects`].
    pub fn public_keys_from_objects<O: AsRef<[u8]>>(&self, objects: &[O]) -> Result<Vec<PublicKey>, Error> {
        self.expect_objects("public keys (one per plaintext modulus)", objects.len(), 1)?;
        self.schemes.iter().zip(objects).map(|(s, o)| PublicKey::from_bytes(s.params(), o.as_ref())).collect()
    }

    /// The owner's secret from [`StatsSecretKey::export_secret_objects`].
    ///
    /// # Errors
    /// As [`Self::keys_from_objects`].
    pub fn secret_key_from_objects<O: AsRef<[u8]>>(&self, objects: &[O]) -> Result<StatsSecretKey, Error> {
        self.expect_objects("secret keys (one per plaintext modulus)", objects.len(), 1)?;
        let keys = self.schemes.iter().zip(objects).map(|(s, o)| SecretKey::import_secret_bytes(s.params(), o.as_ref())).collect::<Result<_, _>>()?;
        Ok(StatsSecretKey { keys })
    }

    /// One ciphertext per modulus, as objects.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; serialization errors.
    pub fn per_modulus_to_objects(&self, cts: &[Ciphertext<B>]) -> Result<Vec<Vec<u8>>, Error> {
        self.expect_objects("ciphertexts (one per plaintext modulus)", cts.len(), 1)?;
        self.schemes.iter().zip(cts).map(|(s, c)| c.to_bytes(s)).collect()
    }

    /// One ciphertext per modulus, from objects (each holding one ciphertext).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; wire errors.
    pub fn per_modulus_from_objects<O: AsRef<[u8]>>(&self, objects: &[O]) -> Result<Vec<Ciphertext<B>>, Error> {
        self.expect_objects("ciphertexts (one per plaintext modulus)", objects.len(), 1)?;
        self.schemes.iter().zip(objects).map(|(s, o)| single(Ciphertext::from_bytes(s, o.as_ref())?)).collect()
    }

    /// `[modulus][chunk]` ciphertexts as objects, modulus-major.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; serialization errors.
    pub fn chunks_to_objects(&self, cts: &[Vec<Ciphertext<B>>]) -> Result<Vec<Vec<u8>>, Error> {
        self.expect_objects("chunk lists (one per plaintext modulus)", cts.len(), 1)?;
        let mut out = Vec::with_capacity(cts.iter().map(Vec::len).sum());
        for (s, per) in self.schemes.iter().zip(cts) {
            for c in per {
                out.push(c.to_bytes(s)?);
            }
        }
        Ok(out)
    }

    /// `[modulus][chunk]` ciphertexts of `chunks` chunks from modulus-major objects, each a
    /// single fresh-shaped ciphertext (two parts).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for another object count, a batch or a longer ciphertext;
    /// wire errors.
    pub fn chunks_from_objects<O: AsRef<[u8]>>(&self, chunks: usize, objects: &[O]) -> Result<Vec<Vec<Ciphertext<B>>>, Error> {
        self.expect_objects("ciphertexts (modulus × chunk)", objects.len(), chunks)?;
        let mut it = objects.iter();
        self.schemes.iter().map(|s| it.by_ref().take(chunks).map(|o| single(Ciphertext::from_bytes(s, o.as_ref())?)).collect()).collect()
    }

    /// A column's ciphertexts as objects (see [`Self::chunks_to_objects`]).
    ///
    /// # Errors
    /// As [`Self::chunks_to_objects`].
    pub fn column_to_objects(&self, column: &EncryptedColumn<B>) -> Result<Vec<Vec<u8>>, Error> {
        self.chunks_to_objects(column.ciphertexts())
    }

    /// Every column of a table as objects, column after column.
    ///
    /// # Errors
    /// As [`Self::chunks_to_objects`].
    pub fn table_to_objects(&self, table: &EncryptedTable<B>) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        for c in table.columns() {
            out.extend(self.column_to_objects(c)?);
        }
        Ok(out)
    }

    /// A statistic's ciphertexts as objects: `Σx` per modulus, then `Σx²` per modulus (each
    /// when present).
    ///
    /// # Errors
    /// As [`Self::per_modulus_to_objects`].
    pub fn stat_to_objects(&self, r: &EncryptedStat<B>) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        for part in [&r.sum, &r.squares].into_iter().flatten() {
            out.extend(self.per_modulus_to_objects(part)?);
        }
        Ok(out)
    }

    /// The `(Σx, Σx²)` parts of [`Self::stat_to_objects`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; wire errors.
    #[allow(clippy::type_complexity)]
    pub fn stat_parts_from_objects<O: AsRef<[u8]>>(&self, has_sum: bool, has_squares: bool, objects: &[O]) -> Result<(Option<Vec<Ciphertext<B>>>, Option<Vec<Ciphertext<B>>>), Error> {
        let k = self.schemes.len();
        self.expect_objects("statistic ciphertexts", objects.len(), usize::from(has_sum) + usize::from(has_squares))?;
        let sum = if has_sum { Some(self.per_modulus_from_objects(&objects[..k])?) } else { None };
        let squares = if has_squares { Some(self.per_modulus_from_objects(&objects[objects.len() - k..])?) } else { None };
        Ok((sum, squares))
    }

    /// `[modulus][chunk]` ciphertexts under the first `cts.len()` moduli (a row plan's), each
    /// with its scheme, modulus-major: the order of their objects in a file.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for no lists, more lists than moduli or lists of different
    /// lengths.
    pub fn used_chunks<'a>(&'a self, cts: &'a [Vec<Ciphertext<B>>]) -> Result<impl Iterator<Item = (&'a Scheme<B>, &'a Ciphertext<B>)> + 'a, Error> {
        if cts.is_empty() || cts.len() > self.schemes.len() || cts.iter().any(|v| v.len() != cts[0].len()) {
            return Err(Error::ShapeMismatch { what: "chunk lists (one per used plaintext modulus)", expected: self.schemes.len(), found: cts.len() });
        }
        Ok(self.schemes.iter().zip(cts).flat_map(|(s, per)| per.iter().map(move |c| (s, c))))
    }

    /// [`Self::used_chunks`] as objects.
    ///
    /// # Errors
    /// As [`Self::used_chunks`]; serialization errors.
    pub fn used_chunks_to_objects(&self, cts: &[Vec<Ciphertext<B>>]) -> Result<Vec<Vec<u8>>, Error> {
        self.used_chunks(cts)?.map(|(s, c)| c.to_bytes(s)).collect()
    }

    /// `[modulus][chunk]` ciphertexts of the first `moduli` moduli and `chunks` chunks from
    /// modulus-major objects, each a single two-part ciphertext.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for `moduli` outside `1..=k` or another object count; wire
    /// errors.
    pub fn used_chunks_from_objects<O: AsRef<[u8]>>(&self, moduli: usize, chunks: usize, objects: &[O]) -> Result<Vec<Vec<Ciphertext<B>>>, Error> {
        if moduli == 0 || moduli > self.schemes.len() {
            return Err(Error::ShapeMismatch { what: "used plaintext moduli", expected: self.schemes.len(), found: moduli });
        }
        if chunks == 0 || objects.len() != moduli * chunks {
            return Err(Error::ShapeMismatch { what: "ciphertexts (used modulus × chunk)", expected: moduli * chunks.max(1), found: objects.len() });
        }
        let mut it = objects.iter();
        self.schemes[..moduli].iter().map(|s| it.by_ref().take(chunks).map(|o| single(Ciphertext::from_bytes(s, o.as_ref())?)).collect()).collect()
    }

    /// Scores' ciphertexts as objects (see [`Self::chunks_to_objects`]).
    ///
    /// # Errors
    /// As [`Self::chunks_to_objects`].
    pub fn scores_to_objects(&self, r: &EncryptedScores<B>) -> Result<Vec<Vec<u8>>, Error> {
        self.chunks_to_objects(&r.chunks)
    }
}

/// Refuses ciphertext batches and products not yet relinearized where one ciphertext of two
/// parts is expected.
fn single<B: Backend>(ct: Ciphertext<B>) -> Result<Ciphertext<B>, Error> {
    if ct.count() != 1 {
        return Err(Error::ShapeMismatch { what: "ciphertexts in an object", expected: 1, found: ct.count() });
    }
    if ct.len() != 2 {
        return Err(Error::ShapeMismatch { what: "ciphertext parts", expected: 2, found: ct.len() });
    }
    Ok(ct)
}
