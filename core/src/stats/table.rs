//! Plain and encrypted tables: columns of fixed-point values, one ciphertext per `n` records
//! and plaintext modulus.

use rand_core::{CryptoRng, RngCore};

use super::StatsContext;
use crate::backend::Backend;
use crate::scheme::{Ciphertext, PublicKey};
use crate::Error;

/// One column of the owner's data: fixed-point values `round(x·10^decimals)`, `None` where a
/// cell is missing (skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainColumn {
    /// The column's name (any text).
    pub name: String,
    /// Decimal digits of the fixed-point scale.
    pub decimals: u32,
    /// One value per record.
    pub values: Vec<Option<i128>>,
}

/// What everybody may know of an encrypted column: its name, scale, how many values are
/// present and a bound on their magnitude (`|x·10^d| < 2^bound_bits`), which every
/// computation is checked against before it runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// Decimal digits of the fixed-point scale.
    pub decimals: u32,
    /// Values present (records minus skipped cells).
    pub count: usize,
    /// Every `|value| < 2^bound_bits`.
    pub bound_bits: u32,
    /// Records whose cell was skipped (ascending).
    pub missing: Vec<usize>,
}

/// An encrypted column: `ciphertexts[i][c]` is chunk `c` (records `c·n …`) under plaintext
/// modulus `i`.
#[derive(Debug)]
pub struct EncryptedColumn<B: Backend> {
    info: ColumnInfo,
    ciphertexts: Vec<Vec<Ciphertext<B>>>,
}

impl<B: Backend> EncryptedColumn<B> {
    /// The column's public description.
    pub fn info(&self) -> &ColumnInfo {
        &self.info
    }
    /// `ciphertexts()[modulus][chunk]`.
    pub fn ciphertexts(&self) -> &[Vec<Ciphertext<B>>] {
        &self.ciphertexts
    }
}

/// An encrypted table: `records` records, every column over the same chunks. Chunk `c`
/// holds `chunk_records()[c]` records in its first slots (the rest are zero): a table
/// encrypted at once fills every chunk but the last; tables appended with
/// [`StatsContext::concat_tables`] (uploads of a vault dataset) keep each part's chunks.
#[derive(Debug)]
pub struct EncryptedTable<B: Backend> {
    records: usize,
    chunk_records: Vec<usize>,
    columns: Vec<EncryptedColumn<B>>,
}

impl<B: Backend> EncryptedTable<B> {
    /// Number of records (rows).
    pub fn records(&self) -> usize {
        self.records
    }
    /// The columns.
    pub fn columns(&self) -> &[EncryptedColumn<B>] {
        &self.columns
    }
    /// Records in each chunk (they sum to [`Self::records`]).
    pub fn chunk_records(&self) -> &[usize] {
        &self.chunk_records
    }
    /// The table's columns, each with its ciphertexts `[modulus][chunk]`.
    pub fn into_columns(self) -> Vec<(ColumnInfo, Vec<Vec<Ciphertext<B>>>)> {
        self.columns.into_iter().map(|c| (c.info, c.ciphertexts)).collect()
    }
    /// The column named `name`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the columns there are.
    pub fn column(&self, name: &str) -> Result<&EncryptedColumn<B>, Error> {
        self.columns.iter().find(|c| c.info.name == name).ok_or_else(|| Error::InvalidInput {
            what: format!("no column {name:?}; the table has {}", self.columns.iter().map(|c| format!("{:?}", c.info.name)).collect::<Vec<_>>().join(", ")),
        })
    }
}

/// The record count of plain columns to encrypt, checked: at least one column and one record,
/// every column as long as the first, no name twice.
///
/// # Errors
/// [`Error::InvalidInput`] saying which of these fails.
pub(crate) fn plain_records(columns: &[PlainColumn]) -> Result<usize, Error> {
    let records = columns.first().map(|c| c.values.len()).ok_or_else(|| Error::InvalidInput { what: "a table needs at least one column".into() })?;
    if records == 0 {
        return Err(Error::InvalidInput { what: "a table needs at least one record".into() });
    }
    for (i, c) in columns.iter().enumerate() {
        if c.values.len() != records {
            return Err(Error::InvalidInput { what: format!("column {:?} has {} values, the first column {records}", c.name, c.values.len()) });
        }
        if columns[..i].iter().any(|d| d.name == c.name) {
            return Err(Error::InvalidInput { what: format!("column name {:?} appears twice", c.name) });
        }
    }
    Ok(records)
}

/// Chunks needed for `records` records of `n` slots.
pub(crate) fn chunks_for(records: usize, n: usize) -> usize {
    records.div_ceil(n).max(1)
}

/// Records per chunk of a table of `records` records filled chunk by chunk.
pub(crate) fn full_chunks(records: usize, n: usize) -> Vec<usize> {
    (0..chunks_for(records, n)).map(|c| (records - (c * n).min(records)).min(n)).collect()
}

impl<B: Backend> StatsContext<B> {
    /// Encrypts a table with the public keys (one per plaintext modulus): every column under every plaintext modulus,
    /// all ciphertexts of one modulus in one batch.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no column, columns of different lengths, duplicate names,
    /// or a value beyond the CRT space; [`Error::ParameterMismatch`] for foreign keys.
    pub fn encrypt_table<R: RngCore + CryptoRng>(&self, public: &[&PublicKey], columns: &[PlainColumn], rng: &mut R) -> Result<EncryptedTable<B>, Error> {
        self.check_keys(public, |k| k.params())?;
        let records = plain_records(columns)?;
        let n = self.params.n();
        let chunks = chunks_for(records, n);
        let space = self.params.space();
        let moduli = self.schemes.len();
        // x mod tᵢ per modulus (the CRT encoding of |x| ≤ (T − 1)/2), in machine integers.
        let ts: Vec<_> = space.params().iter().map(|p| p.plaintext()).collect();
        let limit: u128 = u128::try_from(space.max_magnitude()).unwrap_or(u128::MAX);
        // residues[i] holds the slot values of every (column, chunk) under modulus i.
        let mut residues: Vec<Vec<Vec<u32>>> = vec![Vec::with_capacity(columns.len() * chunks); moduli];
        let mut infos = Vec::with_capacity(columns.len());
        for c in columns {
            let mut max = 0u128;
            let mut missing = Vec::new();
            for chunk in 0..chunks {
                let mut slots = vec![vec![0u32; n]; moduli];
                for (j, v) in c.values.iter().enumerate().skip(chunk * n).take(n) {
                    let Some(v) = v else {
                        missing.push(j);
                        continue;
                    };
                    max = max.max(v.unsigned_abs());
                    if v.unsigned_abs() > limit {
                        return Err(Error::InvalidInput {
                            what: format!("column {:?}, record {}: {v} exceeds the plaintext space (|x| < 2^{})", c.name, j + 1, self.params.capacity_bits()),
                        });
                    }
                    for (s, t) in slots.iter_mut().zip(&ts) {
                        s[j - chunk * n] = super::residue_of(*v, t);
                    }
                }
                for (i, s) in slots.into_iter().enumerate() {
                    residues[i].push(s);
                }
            }
            let bound_bits = 128 - max.leading_zeros();
            infos.push(ColumnInfo { name: c.name.clone(), decimals: c.decimals, count: records - missing.len(), bound_bits, missing });
        }
        let mut per_modulus = Vec::with_capacity(moduli);
        for (i, scheme) in self.schemes.iter().enumerate() {
            let pts = residues[i].iter().map(|s| self.encoders[i].encode(s)).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<_> = pts.iter().collect();
            let enc = scheme.encryptor(public[i])?;
            let batch = enc.encrypt_many(&refs, rng)?;
            per_modulus.push(scheme.unstack(batch)?);
        }
        let mut columns_out = Vec::with_capacity(columns.len());
        for info in infos {
            let ciphertexts = per_modulus.iter_mut().map(|all| all.drain(..chunks).collect()).collect();
            columns_out.push(EncryptedColumn { info, ciphertexts });
        }
        Ok(EncryptedTable { records, chunk_records: full_chunks(records, n), columns: columns_out })
    }

    /// Reassembles a table from its parts (as loaded from files), checking that every column
    /// has one ciphertext per modulus and chunk, of these parameters.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] or [`Error::ParameterMismatch`] for parts that do not fit.
    pub fn table_from_parts(&self, records: usize, columns: Vec<(ColumnInfo, Vec<Vec<Ciphertext<B>>>)>) -> Result<EncryptedTable<B>, Error> {
        self.ragged_table_from_parts(full_chunks(records, self.params.n()), columns)
    }

    /// Reassembles a table whose chunk `c` holds `chunk_records[c]` records (see
    /// [`EncryptedTable`]), checking the parts as [`Self::table_from_parts`] does.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no chunk, an empty or overfull chunk, or parts that do not
    /// fit; [`Error::ParameterMismatch`].
    pub fn ragged_table_from_parts(&self, chunk_records: Vec<usize>, columns: Vec<(ColumnInfo, Vec<Vec<Ciphertext<B>>>)>) -> Result<EncryptedTable<B>, Error> {
        let n = self.params.n();
        if chunk_records.is_empty() || chunk_records.iter().any(|&r| r == 0 || r > n) {
            return Err(Error::InvalidInput { what: format!("every chunk holds 1 to {n} records") });
        }
        let records: usize = chunk_records.iter().sum();
        let chunks = chunk_records.len();
        let mut out = Vec::with_capacity(columns.len());
        for (info, ciphertexts) in columns {
            if ciphertexts.len() != self.schemes.len() || ciphertexts.iter().any(|c| c.len() != chunks) {
                return Err(Error::InvalidInput { what: format!("column {:?}: expected {} moduli × {chunks} chunks of ciphertexts", info.name, self.schemes.len()) });
            }
            if info.count > records || info.bound_bits > 127 || info.missing.iter().any(|&m| m >= records) {
                return Err(Error::InvalidInput { what: format!("column {:?}: inconsistent metadata", info.name) });
            }
            for (cts, s) in ciphertexts.iter().zip(&self.schemes) {
                if cts.iter().any(|c| c.params().literal() != s.params().literal() || c.count() != 1) {
                    return Err(Error::ParameterMismatch);
                }
            }
            out.push(EncryptedColumn { info, ciphertexts });
        }
        Ok(EncryptedTable { records, chunk_records, columns: out })
    }

    /// Appends tables of the same columns (in the same order): chunks follow one another,
    /// records are numbered across the parts, counts add up and bounds take the largest.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no table or tables whose columns differ (name or decimals).
    pub fn concat_tables(&self, tables: Vec<EncryptedTable<B>>) -> Result<EncryptedTable<B>, Error> {
        let mut iter = tables.into_iter();
        let mut acc = iter.next().ok_or_else(|| Error::InvalidInput { what: "no table to append".into() })?;
        for t in iter {
            let same = t.columns.len() == acc.columns.len() && t.columns.iter().zip(&acc.columns).all(|(a, b)| a.info.name == b.info.name && a.info.decimals == b.info.decimals);
            if !same {
                return Err(Error::InvalidInput { what: "appended tables must have the same columns and decimals".into() });
            }
            let offset = acc.records;
            for (a, b) in acc.columns.iter_mut().zip(t.columns) {
                a.info.count += b.info.count;
                a.info.bound_bits = a.info.bound_bits.max(b.info.bound_bits);
                a.info.missing.extend(b.info.missing.iter().map(|m| m + offset));
                for (per_a, per_b) in a.ciphertexts.iter_mut().zip(b.ciphertexts) {
                    per_a.extend(per_b);
                }
            }
            acc.records += t.records;
            acc.chunk_records.extend(t.chunk_records);
        }
        Ok(acc)
    }
}
