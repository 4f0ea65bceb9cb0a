//! The common header, the per-type descriptors, and opening an object: every check that needs
//! no residue, in order, before anything sized by the input is allocated.

use std::borrow::Cow;

use super::{COMMON_HEADER_LEN, FORMAT_VERSION, MAGIC, MAX_COMPRESSION_RATIO, MAX_DECOMPRESSED_LEN, ObjectKind, ParameterId};
use crate::Error;

/// Flag bit: the body is one zstd frame.
pub(crate) const FLAG_COMPRESSED: u8 = 1;

/// The shape fields of an object, fixed-size per type, right after the common header. They
/// determine the exact body length (with the parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Descriptor {
    /// 16 bytes: `n` (u32), ciphertext prime count (u16), special prime count (u16), `t`
    /// (u32), security code (u8: 1, 2, 3 for 128, 192, 256 bits; 0 unchecked), primes per
    /// key-switching digit (u8), 2 zero bytes.
    Parameters {
        /// Ring degree.
        n: u32,
        /// Number of ciphertext primes.
        ciphertext_primes: u16,
        /// Number of special primes.
        special_primes: u16,
        /// Plaintext modulus.
        plaintext_modulus: u32,
        /// Security code.
        security: u8,
        /// Ciphertext primes per key-switching digit.
        digit_primes: u8,
    },
    /// No descriptor: the key is over every ciphertext prime.
    PublicKey,
    /// 8 bytes: element (u32, always 0), levels covered (u16: the key serves ciphertexts at
    /// levels `1..=levels`), digits (u16: `⌈levels/α⌉`).
    RelinearizationKey {
        /// Highest level served.
        levels: u16,
        /// Number of digits.
        digits: u16,
    },
    /// 8 bytes: the Galois element (u32), levels covered (u16), digits (u16).
    GaloisKey {
        /// The Galois element `k` of `x → x^k`.
        element: u32,
        /// Highest level served.
        levels: u16,
        /// Number of digits.
        digits: u16,
    },
    /// 8 bytes: relinearization key present (u8: 0 or 1), the relinearization key's levels
    /// (u8, 0 without one), the Galois keys' levels (u8, 0 without any: every Galois key of a
    /// bundle serves the same levels), 1 zero byte, Galois key count (u32).
    EvaluationKeys {
        /// Whether a relinearization key follows the public key.
        relinearization: bool,
        /// Levels served by the relinearization key.
        relinearization_levels: u8,
        /// Levels served by every Galois key.
        galois_levels: u8,
        /// Number of Galois keys.
        galois_keys: u32,
    },
    /// 16 bytes: level (u16), length (u16), count (u32), factor (u32), seeded (u8: 0 or 1),
    /// 3 zero bytes.
    Ciphertext {
        /// Number of ciphertext primes.
        level: u16,
        /// Polynomials per ciphertext (2 to [`MAX_CIPHERTEXT_LEN`](super::MAX_CIPHERTEXT_LEN)).
        len: u16,
        /// Ciphertexts in the batch (1 to [`MAX_BATCH_COUNT`](super::MAX_BATCH_COUNT)).
        count: u32,
        /// Plaintext factor, `1 ≤ factor < t`.
        factor: u32,
        /// Whether each `c₁` travels as its seed.
        seeded: bool,
    },
    /// No descriptor: `n` coefficients modulo `t`.
    Plaintext,
    /// No descriptor: `n` ternary coefficients.
    SecretKey,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn flag(value: u8, field: &'static str) -> Result<bool, Error> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(Error::WireFieldOutOfRange { field, value: u64::from(v), min: 0, max: 1 }),
    }
}

fn reserved(bytes: &[u8]) -> Result<(), Error> {
    match bytes.iter().find(|&&b| b != 0) {
        None => Ok(()),
        Some(&b) => Err(Error::WireFieldOutOfRange { field: "reserved byte", value: u64::from(b), min: 0, max: 0 }),
    }
}

impl Descriptor {
    /// The object type.
    pub const fn kind(&self) -> ObjectKind {
        match self {
            Self::Parameters { .. } => ObjectKind::Parameters,
            Self::PublicKey => ObjectKind::PublicKey,
            Self::RelinearizationKey { .. } => ObjectKind::RelinearizationKey,
            Self::GaloisKey { .. } => ObjectKind::GaloisKey,
            Self::EvaluationKeys { .. } => ObjectKind::EvaluationKeys,
            Self::Ciphertext { .. } => ObjectKind::Ciphertext,
            Self::Plaintext => ObjectKind::Plaintext,
            Self::SecretKey => ObjectKind::SecretKey,
        }
    }

    /// The descriptor length of a type.
    pub const fn len_of(kind: ObjectKind) -> usize {
        match kind {
            ObjectKind::Parameters | ObjectKind::Ciphertext => 16,
            ObjectKind::RelinearizationKey | ObjectKind::GaloisKey | ObjectKind::EvaluationKeys => 8,
            ObjectKind::PublicKey | ObjectKind::Plaintext | ObjectKind::SecretKey => 0,
        }
    }

    /// Appends the encoding.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Self::Parameters { n, ciphertext_primes, special_primes, plaintext_modulus, security, digit_primes } => {
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&ciphertext_primes.to_le_bytes());
                out.extend_from_slice(&special_primes.to_le_bytes());
                out.extend_from_slice(&plaintext_modulus.to_le_bytes());
                out.extend_from_slice(&[security, digit_primes, 0, 0]);
            }
            Self::RelinearizationKey { levels, digits } => {
                out.extend_from_slice(&0u32.to_le_bytes());
                out.extend_from_slice(&levels.to_le_bytes());
                out.extend_from_slice(&digits.to_le_bytes());
            }
            Self::GaloisKey { element, levels, digits } => {
                out.extend_from_slice(&element.to_le_bytes());
                out.extend_from_slice(&levels.to_le_bytes());
                out.extend_from_slice(&digits.to_le_bytes());
            }
            Self::EvaluationKeys { relinearization, relinearization_levels, galois_levels, galois_keys } => {
                out.extend_from_slice(&[u8::from(relinearization), relinearization_levels, galois_levels, 0]);
                out.extend_from_slice(&galois_keys.to_le_bytes());
            }
            Self::Ciphertext { level, len, count, factor, seeded } => {
                out.extend_from_slice(&level.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&factor.to_le_bytes());
                out.extend_from_slice(&[u8::from(seeded), 0, 0, 0]);
            }
            Self::PublicKey | Self::Plaintext | Self::SecretKey => {}
        }
    }

    /// Decodes `bytes` (exactly [`Self::len_of`]`(kind)` long); checks only what needs no
    /// parameters (flags are 0 or 1, reserved bytes are 0).
    fn parse(kind: ObjectKind, b: &[u8]) -> Result<Self, Error> {
        Ok(match kind {
            ObjectKind::Parameters => {
                reserved(&b[14..16])?;
                Self::Parameters {
                    n: u32_at(b, 0),
                    ciphertext_primes: u16_at(b, 4),
                    special_primes: u16_at(b, 6),
                    plaintext_modulus: u32_at(b, 8),
                    security: b[12],
                    digit_primes: b[13],
                }
            }
            ObjectKind::PublicKey => Self::PublicKey,
            ObjectKind::RelinearizationKey => {
                let element = u32_at(b, 0);
                if element != 0 {
                    return Err(Error::WireFieldOutOfRange { field: "relinearization key element", value: u64::from(element), min: 0, max: 0 });
                }
                Self::RelinearizationKey { levels: u16_at(b, 4), digits: u16_at(b, 6) }
            }
            ObjectKind::GaloisKey => Self::GaloisKey { element: u32_at(b, 0), levels: u16_at(b, 4), digits: u16_at(b, 6) },
            ObjectKind::EvaluationKeys => {
                reserved(&b[3..4])?;
                Self::EvaluationKeys {
                    relinearization: flag(b[0], "relinearization key flag")?,
                    relinearization_levels: b[1],
                    galois_levels: b[2],
                    galois_keys: u32_at(b, 4),
                }
            }
            ObjectKind::Ciphertext => {
                reserved(&b[13..16])?;
                Self::Ciphertext { level: u16_at(b, 0), len: u16_at(b, 2), count: u32_at(b, 4), factor: u32_at(b, 8), seeded: flag(b[12], "seeded flag")? }
            }
            ObjectKind::Plaintext => Self::Plaintext,
            ObjectKind::SecretKey => Self::SecretKey,
        })
    }
}

/// What the header of an object says, readable without its parameters (for tools that show
/// a file, and for checking a size limit before loading a compressed object).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectInfo {
    /// Format version.
    pub version: u16,
    /// Whether the body is zstd-compressed.
    pub compressed: bool,
    /// The identifier of the object's parameters.
    pub parameter_id: ParameterId,
    /// The stored body length in bytes (compressed length when compressed).
    pub body_len: u64,
    /// Type and shape.
    pub descriptor: Descriptor,
}

impl ObjectInfo {
    /// The object type.
    pub const fn kind(&self) -> ObjectKind {
        self.descriptor.kind()
    }

    /// Length of the header and descriptor.
    pub const fn header_len(&self) -> usize {
        COMMON_HEADER_LEN + Descriptor::len_of(self.descriptor.kind())
    }
}

/// Writes the header and descriptor of an uncompressed object with a body of `body_len` bytes.
pub(crate) fn write_header(out: &mut Vec<u8>, descriptor: &Descriptor, id: ParameterId, body_len: usize) {
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(descriptor.kind().code());
    out.push(0);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&(body_len as u64).to_le_bytes());
    descriptor.write(out);
}

/// Parses the header: length, magic, version, type (one of `accept` when given), flags,
/// descriptor. Nothing is allocated.
fn parse_header(bytes: &[u8], accept: Option<(&[ObjectKind], &'static str)>) -> Result<ObjectInfo, Error> {
    if bytes.len() < COMMON_HEADER_LEN {
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(Error::WireMagic { found: [bytes[0], bytes[1], bytes[2], bytes[3]] });
        }
        return Err(Error::WireLength { what: "header", expected: COMMON_HEADER_LEN as u64, found: bytes.len() as u64 });
    }
    if bytes[..4] != MAGIC {
        return Err(Error::WireMagic { found: [bytes[0], bytes[1], bytes[2], bytes[3]] });
    }
    let version = u16_at(bytes, 4);
    if version != FORMAT_VERSION {
        return Err(Error::WireVersion { found: version, supported: FORMAT_VERSION });
    }
    let code = bytes[6];
    let kind = match (ObjectKind::from_code(code), accept) {
        (Some(k), None) => k,
        (Some(k), Some((kinds, _))) if kinds.contains(&k) => k,
        (_, Some((_, expected))) => return Err(Error::WireObjectType { expected, found: code }),
        (None, None) => return Err(Error::WireObjectType { expected: "a known object type", found: code }),
    };
    let flags = bytes[7];
    if flags & !FLAG_COMPRESSED != 0 {
        return Err(Error::WireFieldOutOfRange { field: "flags", value: u64::from(flags), min: 0, max: u64::from(FLAG_COMPRESSED) });
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[8..24]);
    let body_len = u64::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27], bytes[28], bytes[29], bytes[30], bytes[31]]);
    let header_len = COMMON_HEADER_LEN + Descriptor::len_of(kind);
    if bytes.len() < header_len {
        return Err(Error::WireLength { what: "header", expected: header_len as u64, found: bytes.len() as u64 });
    }
    let descriptor = Descriptor::parse(kind, &bytes[COMMON_HEADER_LEN..header_len])?;
    Ok(ObjectInfo { version, compressed: flags & FLAG_COMPRESSED != 0, parameter_id: ParameterId(id), body_len, descriptor })
}

/// Reads an object's header and descriptor without its parameters, and checks that the
/// stored body length matches the input.
///
/// # Errors
/// [`Error::WireMagic`], [`Error::WireVersion`], [`Error::WireObjectType`] for an unknown type,
/// [`Error::WireFieldOutOfRange`] for unknown flags or nonzero reserved bytes,
/// [`Error::WireLength`] for a header or body of the wrong length.
pub fn inspect(bytes: &[u8]) -> Result<ObjectInfo, Error> {
    let info = parse_header(bytes, None)?;
    check_stored_len(bytes, &info)?;
    Ok(info)
}

fn check_stored_len(bytes: &[u8], info: &ObjectInfo) -> Result<(), Error> {
    let stored = (bytes.len() - info.header_len()) as u64;
    if info.body_len != stored {
        return Err(Error::WireLength { what: "object (header + stored body length)", expected: (info.header_len() as u64).saturating_add(info.body_len), found: bytes.len() as u64 });
    }
    Ok(())
}

/// What a loader asks of an object.
pub(crate) struct Expect {
    /// Accepted types.
    pub(crate) kinds: &'static [ObjectKind],
    /// Their description for errors.
    pub(crate) what: &'static str,
    /// The parameter identifier the object must carry (none for parameters themselves).
    pub(crate) id: Option<ParameterId>,
    /// Whether a compressed body is accepted (not for secret keys, nor inside a bundle).
    pub(crate) allow_compressed: bool,
}

/// An object whose header passed every check and whose body has exactly the length its
/// descriptor implies.
pub(crate) struct Opened<'a> {
    pub(crate) info: ObjectInfo,
    pub(crate) body: Cow<'a, [u8]>,
}

/// Opens an object: header checks, parameter identifier, descriptor ranges and exact body
/// length (`exact_body`, which validates the descriptor against the parameters and returns
/// the body length it implies), then the stored length and, for a compressed body, bounded
/// inflation to exactly that length.
pub(crate) fn open<'a>(bytes: &'a [u8], expect: &Expect, exact_body: impl FnOnce(&Descriptor) -> Result<u64, Error>) -> Result<Opened<'a>, Error> {
    let info = parse_header(bytes, Some((expect.kinds, expect.what)))?;
    if let Some(id) = expect.id
        && info.parameter_id != id
    {
        return Err(Error::WireParameterId { expected: id, found: info.parameter_id });
    }
    if info.compressed && !expect.allow_compressed {
        return Err(Error::WireFieldOutOfRange { field: "flags (compression not allowed here)", value: u64::from(FLAG_COMPRESSED), min: 0, max: 0 });
    }
    let exact = exact_body(&info.descriptor)?;
    check_stored_len(bytes, &info)?;
    let body = &bytes[info.header_len()..];
    if !info.compressed {
        if exact != body.len() as u64 {
            return Err(Error::WireLength { what: "body", expected: exact, found: body.len() as u64 });
        }
        return Ok(Opened { info, body: Cow::Borrowed(body) });
    }
    let limit = MAX_DECOMPRESSED_LEN.min((body.len() as u64).saturating_mul(MAX_COMPRESSION_RATIO).saturating_add(1 << 20));
    if exact > limit {
        return Err(Error::WireDecompressedTooLarge { size: exact, limit });
    }
    let inflated = decompress_exact(body, exact)?;
    Ok(Opened { info, body: Cow::Owned(inflated) })
}

/// Inflates one zstd frame that must declare `exact` as its content size and produce exactly
/// that many bytes; memory grows with the output actually produced, never past `2·exact`.
#[cfg(feature = "compression")]
fn decompress_exact(src: &[u8], exact: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let corrupt = |reason: String| Error::WireCompression { reason };
    // One frame spanning the whole body, declaring its size: checked before inflating.
    match zstd::zstd_safe::find_frame_compressed_size(src) {
        Ok(len) if len == src.len() => {}
        Ok(len) => return Err(Error::WireLength { what: "zstd frame", expected: len as u64, found: src.len() as u64 }),
        Err(code) => return Err(corrupt(zstd::zstd_safe::get_error_name(code).to_string())),
    }
    match zstd::zstd_safe::get_frame_content_size(src) {
        Ok(Some(size)) if size == exact => {}
        Ok(Some(size)) => return Err(Error::WireLength { what: "declared decompressed body", expected: exact, found: size }),
        Ok(None) => return Err(Error::WireNonCanonical { what: "zstd frame without a declared content size" }),
        Err(_) => return Err(corrupt("unreadable zstd frame header".into())),
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(src).map_err(|e| corrupt(e.to_string()))?.single_frame();
    let mut out = Vec::with_capacity(usize::try_from(exact.min(1 << 16)).unwrap_or(1 << 16));
    decoder.take(exact.saturating_add(1)).read_to_end(&mut out).map_err(|e| corrupt(e.to_string()))?;
    if out.len() as u64 != exact {
        return Err(Error::WireLength { what: "decompressed body", expected: exact, found: out.len() as u64 });
    }
    Ok(out)
}

/// Without the `compression` feature a compressed object is refused.
#[cfg(not(feature = "compression"))]
fn decompress_exact(_src: &[u8], _exact: u64) -> Result<Vec<u8>, Error> {
    Err(Error::CompressionUnavailable)
}
