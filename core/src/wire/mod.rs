//! The wire format: one binary encoding, defined here and never by a backend's memory layout,
//! for parameters, keys, ciphertexts and plaintexts.
//!
//! Every object is a 32-byte common header, a fixed-size descriptor for its type (its shape:
//! level, count, …) and a body:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `RVLT` |
//! | 4 | 2 | format version, little-endian ([`FORMAT_VERSION`]) |
//! | 6 | 1 | object type ([`ObjectKind`]) |
//! | 7 | 1 | flags: bit 0 = body compressed with zstd; other bits zero |
//! | 8 | 16 | parameter identifier ([`ParameterId`]) |
//! | 24 | 8 | stored body length in bytes, little-endian |
//! | 32 | d | descriptor ([`Descriptor`]; `d` depends on the type only) |
//! | 32 + d | … | body |
//!
//! Residues are bit-packed to `⌈log₂ q⌉` bits of their prime, row by row; uniform parts
//! (`a` of the public key, `aᵢ` of key-switching keys, `c₁` of a fresh secret-key ciphertext)
//! travel as their 32-byte seed. `DESIGN.md` ("Wire format") has the full layout.
//!
//! Loaders check, before allocating anything sized by the input: magic, version, object type,
//! flags, the parameter identifier against the caller's parameters, every descriptor field
//! against its range, and the exact length implied by the parameters and the descriptor; then
//! every residue against its prime while unpacking. Every failure is a typed [`Error`]; no
//! input panics (each loader has a `cargo fuzz` target in `fuzz/`).

mod header;
mod keys;
mod objects;
mod pack;
mod params;
mod sha256;
#[cfg(test)]
mod tests;

pub use header::{Descriptor, ObjectInfo, inspect};
pub use sha256::sha256;
// Defined where the layers below need them: the identifiers and the prime bound.
pub use crate::id::{MAGIC, ObjectKind, ParameterId};
pub use crate::scheme::MAX_PRIMES;

use crate::Error;

/// The format version this build writes and reads. Objects of another version are refused
/// ([`Error::WireVersion`]).
pub const FORMAT_VERSION: u16 = 2;

/// Length of the common header.
pub const COMMON_HEADER_LEN: usize = 32;

/// Largest ciphertext length (number of parts) a loader accepts. Products in the paper's mode
/// grow the length by one per factor; sixteen covers every circuit the decryptor handles
/// at a useful noise level.
pub const MAX_CIPHERTEXT_LEN: usize = 16;

/// Largest number of ciphertexts in one serialized batch.
pub const MAX_BATCH_COUNT: usize = 1 << 20;

/// Largest body a loader inflates from a compressed object (1 GiB). Uncompressed objects are
/// bounded by their own length; a compressed one can describe far more than it holds, so its
/// exact decompressed size (computed from the header before inflating) must stay below this.
pub const MAX_DECOMPRESSED_LEN: u64 = 1 << 30;

/// Largest ratio of decompressed to compressed body a loader accepts beyond the first MiB.
/// Residues are uniform, so keys and ciphertexts barely compress; only small objects
/// (plaintexts, parameters) shrink much, and they stay below the MiB of slack. A compressed
/// input therefore never makes a loader hold more than `16 × its length + 1 MiB` inflated.
pub const MAX_COMPRESSION_RATIO: u64 = 16;

/// Compresses an uncompressed object's body with zstd at `level` (1–22; 3 is zstd's default),
/// keeping its header: every loader reads the result. Ciphertexts and keys are close to
/// uniform and barely shrink; plaintexts and parameters do.
///
/// # Errors
/// The header errors of [`inspect`]; [`Error::WireFieldOutOfRange`] for an object that is
/// already compressed; [`Error::WireCompression`] if zstd fails.
#[cfg(feature = "compression")]
pub fn compress(object: &[u8], level: i32) -> Result<Vec<u8>, Error> {
    let info = inspect(object)?;
    if info.compressed {
        return Err(Error::WireFieldOutOfRange { field: "flags (already compressed)", value: 1, min: 0, max: 0 });
    }
    let header_len = COMMON_HEADER_LEN + Descriptor::len_of(info.descriptor.kind());
    let body = zstd::bulk::compress(&object[header_len..], level).map_err(|e| Error::WireCompression { reason: e.to_string() })?;
    let mut out = Vec::with_capacity(header_len + body.len());
    out.extend_from_slice(&object[..header_len]);
    out[7] |= header::FLAG_COMPRESSED;
    out[24..32].copy_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}
