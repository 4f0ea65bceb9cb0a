//! Keys on the wire: public key, key-switching keys, the evaluation-key bundle, and the
//! secret key (only through its explicitly named export and import).

use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::{Zeroize, Zeroizing};

use super::header::{Descriptor, Expect, open, write_header};
use super::objects::{in_range, poly_len, read_poly, write_poly};
use super::pack::{Reader, pack_row, row_bytes};
use super::{COMMON_HEADER_LEN, ObjectKind};
use crate::Error;
use crate::backend::checks::galois_element;
use crate::ring::{BatchShape, PolyBatch};
use crate::scheme::{EvaluationKeys, KeySwitchKey, KeyTarget, Parameters, PublicKey, SecretKey, expand_uniform};

/// Ring indices `0..count`.
fn first(count: usize) -> Vec<usize> {
    (0..count).collect()
}

/// Body length of a public key: the seed of `a`, then `b` over the ciphertext primes.
fn public_body_len(params: &Parameters) -> u64 {
    32 + poly_len(params, &first(params.max_level()))
}

/// Body length of a key-switching key serving `levels`: one seed per digit, then `bⱼ` over
/// the key's primes.
fn key_switch_body_len(params: &Parameters, levels: usize) -> u64 {
    let digits = params.digit_count(levels) as u64;
    digits * 32 + digits * poly_len(params, &params.key_limbs(levels))
}

/// Full object length (header, descriptor, body) of a key-switching key serving `levels`.
fn key_switch_object_len(params: &Parameters, levels: usize) -> u64 {
    (COMMON_HEADER_LEN + KEY_SWITCH_DESCRIPTOR) as u64 + key_switch_body_len(params, levels)
}

/// Descriptor length of either key-switching key type.
const KEY_SWITCH_DESCRIPTOR: usize = 8;

fn load_public_key(params: &Arc<Parameters>, bytes: &[u8], allow_compressed: bool) -> Result<PublicKey, Error> {
    let expect = Expect { kinds: &[ObjectKind::PublicKey], what: "public key", id: Some(params.id()), allow_compressed };
    let opened = open(bytes, &expect, |_| Ok(public_body_len(params)))?;
    let limbs = first(params.max_level());
    let mut reader = Reader::new(&opened.body);
    let a_seed = reader.seed()?;
    let mut b = vec![0u32; limbs.len() * params.n()];
    read_poly(params, &mut reader, &limbs, &mut b)?;
    let a = expand_uniform(params, &[a_seed], &limbs)?;
    let b = PolyBatch::from_parts_unchecked(BatchShape::new(1, params.n(), limbs), b);
    Ok(PublicKey { params: params.clone(), b, a, a_seed })
}

/// Checks a key-switching descriptor's levels and digits against the parameters (and, inside
/// a bundle, against the levels the bundle declares).
fn check_key_shape(params: &Parameters, levels: u16, digits: u16, declared: Option<usize>) -> Result<usize, Error> {
    if !params.supports_key_switching() {
        return Err(Error::KeySwitchingUnavailable);
    }
    let levels = usize::from(levels);
    in_range("key levels", levels as u64, 1, params.max_level() as u64)?;
    if let Some(want) = declared {
        in_range("key levels (as the bundle declares)", levels as u64, want as u64, want as u64)?;
    }
    let want = params.digit_count(levels) as u64;
    in_range("digits", digits.into(), want, want)?;
    Ok(levels)
}

fn load_key_switch_key(params: &Arc<Parameters>, bytes: &[u8], kinds: &'static [ObjectKind], what: &'static str, allow_compressed: bool, declared: Option<usize>) -> Result<KeySwitchKey, Error> {
    let expect = Expect { kinds, what, id: Some(params.id()), allow_compressed };
    let opened = open(bytes, &expect, |d| {
        let (levels, digits) = match *d {
            Descriptor::RelinearizationKey { levels, digits } => (levels, digits),
            Descriptor::GaloisKey { element, levels, digits } => {
                galois_element(params.n(), element as usize)?;
                (levels, digits)
            }
            _ => return Err(Error::WireObjectType { expected: what, found: d.kind().code() }),
        };
        let levels = check_key_shape(params, levels, digits, declared)?;
        Ok(key_switch_body_len(params, levels))
    })?;
    let (target, levels) = match opened.info.descriptor {
        Descriptor::GaloisKey { element, levels, .. } => (KeyTarget::Galois(element as usize), levels),
        Descriptor::RelinearizationKey { levels, .. } => (KeyTarget::Relinearization, levels),
        _ => return Err(Error::WireObjectType { expected: what, found: opened.info.kind().code() }),
    };
    let levels = usize::from(levels);
    let limbs = params.key_limbs(levels);
    let digits = params.digit_count(levels);
    let width = limbs.len() * params.n();
    let mut reader = Reader::new(&opened.body);
    let seeds = (0..digits).map(|_| reader.seed()).collect::<Result<Vec<_>, Error>>()?;
    let mut b = vec![0u32; digits * width];
    for rows in b.chunks_exact_mut(width) {
        read_poly(params, &mut reader, &limbs, rows)?;
    }
    let a = expand_uniform(params, &seeds, &limbs)?;
    let b = PolyBatch::from_parts_unchecked(BatchShape::new(digits, params.n(), limbs), b);
    Ok(KeySwitchKey { target, levels, b, a, seeds })
}

impl PublicKey {
    /// The wire encoding: the 32-byte seed of `a`, then `b` over the ciphertext primes,
    /// packed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let params = &self.params;
        let body_len = public_body_len(params) as usize;
        let mut out = Vec::with_capacity(COMMON_HEADER_LEN + body_len);
        write_header(&mut out, &Descriptor::PublicKey, params.id(), body_len);
        out.extend_from_slice(&self.a_seed);
        write_poly(params, self.b.data(), &self.b.shape_ref().limbs, &mut out);
        out
    }

    /// Loads a public key for `params`, expanding `a` from its seed.
    ///
    /// # Errors
    /// The header errors ([`Error::WireMagic`], [`Error::WireVersion`],
    /// [`Error::WireObjectType`], [`Error::WireLength`]); [`Error::WireParameterId`];
    /// [`Error::ResidueOutOfRange`].
    pub fn from_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<Self, Error> {
        load_public_key(params, bytes, true)
    }
}

impl KeySwitchKey {
    /// The wire encoding (a relinearization-key or a Galois-key object by the target): the
    /// levels served, one 32-byte seed per digit, then each digit's `bⱼ` over the key's
    /// primes ([`Parameters::key_limbs`]), packed. Needs the parameters the key was made for.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a key of other parameters (another digit count or ring).
    pub fn to_bytes(&self, params: &Parameters) -> Result<Vec<u8>, Error> {
        let shape = self.b.shape_ref();
        let digits = params.digit_count(self.levels);
        if shape.n != params.n() || shape.limbs != params.key_limbs(self.levels) || shape.count != digits || self.seeds.len() != digits || self.levels > params.max_level() {
            return Err(Error::ShapeMismatch { what: "key-switching key digits", expected: digits, found: shape.count });
        }
        let (levels, digits) = (self.levels as u16, digits as u16);
        let descriptor = match self.target {
            KeyTarget::Relinearization => Descriptor::RelinearizationKey { levels, digits },
            KeyTarget::Galois(k) => Descriptor::GaloisKey { element: k as u32, levels, digits },
        };
        let body_len = key_switch_body_len(params, self.levels) as usize;
        let mut out = Vec::with_capacity(COMMON_HEADER_LEN + KEY_SWITCH_DESCRIPTOR + body_len);
        write_header(&mut out, &descriptor, params.id(), body_len);
        for seed in &self.seeds {
            out.extend_from_slice(seed);
        }
        for p in 0..shape.count {
            write_poly(params, self.b.poly(p), &shape.limbs, &mut out);
        }
        Ok(out)
    }

    /// Loads a relinearization or Galois key for `params`, expanding each `aⱼ` from its seed
    /// over the key's primes.
    ///
    /// # Errors
    /// The header errors; [`Error::WireParameterId`]; [`Error::KeySwitchingUnavailable`] for
    /// parameters without special primes; [`Error::WireFieldOutOfRange`] for levels outside
    /// `1..=L` or a digit count other than `⌈levels/α⌉`; [`Error::InvalidGaloisElement`];
    /// [`Error::ResidueOutOfRange`].
    pub fn from_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<Self, Error> {
        load_key_switch_key(params, bytes, &[ObjectKind::RelinearizationKey, ObjectKind::GaloisKey], "relinearization or galois key", true, None)
    }
}

impl EvaluationKeys {
    /// The wire encoding: a bundle whose body is the public key, the relinearization key (if
    /// any) and the Galois keys in increasing element order, each a complete uncompressed
    /// object. The descriptor declares the levels of the relinearization key and of the Galois
    /// keys, so that the bundle's exact length is known before anything is read.
    ///
    /// # Errors
    /// As [`KeySwitchKey::to_bytes`]; [`Error::ShapeMismatch`] for Galois keys of different
    /// levels (a bundle holds one level for all of them).
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let params = &self.params;
        let mut inner = vec![self.public.to_bytes()];
        if let Some(relin) = &self.relin {
            inner.push(relin.to_bytes(params)?);
        }
        for key in self.galois.values() {
            inner.push(key.to_bytes(params)?);
        }
        let body_len: usize = inner.iter().map(Vec::len).sum();
        let galois_levels = self.galois.values().next().map_or(0, |k| k.levels);
        if let Some(k) = self.galois.values().find(|k| k.levels != galois_levels) {
            return Err(Error::ShapeMismatch { what: "levels of the Galois keys of one bundle", expected: galois_levels, found: k.levels });
        }
        let descriptor = Descriptor::EvaluationKeys {
            relinearization: self.relin.is_some(),
            relinearization_levels: self.relin.as_ref().map_or(0, |k| k.levels as u8),
            galois_levels: galois_levels as u8,
            galois_keys: self.galois.len() as u32,
        };
        let mut out = Vec::with_capacity(COMMON_HEADER_LEN + 8 + body_len);
        write_header(&mut out, &descriptor, params.id(), body_len);
        for object in inner {
            out.extend_from_slice(&object);
        }
        Ok(out)
    }

    /// Loads an evaluation-key bundle for `params`. The inner objects must be uncompressed
    /// (compress the bundle instead) and carry the same parameter identifier.
    ///
    /// # Errors
    /// The header errors of the bundle and of every inner object; [`Error::WireFieldOutOfRange`]
    /// for more Galois keys than `n`, declared levels outside `1..=L` (0 exactly when the keys
    /// are absent), or an inner key of other levels than declared;
    /// [`Error::KeySwitchingUnavailable`] for key-switching keys under parameters without
    /// special primes; [`Error::WireNonCanonical`] for Galois keys not in strictly increasing
    /// element order; as the individual loaders.
    pub fn from_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<Self, Error> {
        let expect = Expect { kinds: &[ObjectKind::EvaluationKeys], what: "evaluation keys", id: Some(params.id()), allow_compressed: true };
        let public_len = COMMON_HEADER_LEN as u64 + public_body_len(params);
        let declared_levels = |present: bool, levels: u8, field: &'static str| -> Result<usize, Error> {
            if present && !params.supports_key_switching() {
                return Err(Error::KeySwitchingUnavailable);
            }
            let (min, max) = if present { (1, params.max_level() as u64) } else { (0, 0) };
            in_range(field, levels.into(), min, max)?;
            Ok(usize::from(levels))
        };
        let opened = open(bytes, &expect, |d| {
            let Descriptor::EvaluationKeys { relinearization, relinearization_levels, galois_levels, galois_keys } = *d else {
                return Err(Error::WireObjectType { expected: "evaluation keys", found: d.kind().code() });
            };
            in_range("galois key count", galois_keys.into(), 0, params.n() as u64)?;
            let relin_levels = declared_levels(relinearization, relinearization_levels, "relinearization key levels")?;
            let galois_levels = declared_levels(galois_keys > 0, galois_levels, "galois key levels")?;
            let relin_len = if relinearization { key_switch_object_len(params, relin_levels) } else { 0 };
            let galois_len = if galois_keys > 0 { u64::from(galois_keys) * key_switch_object_len(params, galois_levels) } else { 0 };
            Ok(public_len + relin_len + galois_len)
        })?;
        let Descriptor::EvaluationKeys { relinearization, relinearization_levels, galois_levels, galois_keys } = opened.info.descriptor else {
            return Err(Error::WireObjectType { expected: "evaluation keys", found: opened.info.kind().code() });
        };
        let (relin_levels, galois_levels) = (usize::from(relinearization_levels), usize::from(galois_levels));
        let mut reader = Reader::new(&opened.body);
        let public = load_public_key(params, reader.take(public_len as usize)?, false)?;
        let relin = if relinearization {
            let bytes = reader.take(key_switch_object_len(params, relin_levels) as usize)?;
            Some(load_key_switch_key(params, bytes, &[ObjectKind::RelinearizationKey], "relinearization key", false, Some(relin_levels))?)
        } else {
            None
        };
        let mut galois = BTreeMap::new();
        let mut last = 0usize;
        for _ in 0..galois_keys {
            let bytes = reader.take(key_switch_object_len(params, galois_levels) as usize)?;
            let key = load_key_switch_key(params, bytes, &[ObjectKind::GaloisKey], "galois key", false, Some(galois_levels))?;
            let KeyTarget::Galois(k) = key.target else {
                return Err(Error::WireObjectType { expected: "galois key", found: ObjectKind::RelinearizationKey.code() });
            };
            if k <= last {
                return Err(Error::WireNonCanonical { what: "galois keys not in strictly increasing element order" });
            }
            last = k;
            galois.insert(k, key);
        }
        Ok(EvaluationKeys { params: params.clone(), public, relin, galois })
    }
}

/// Secret coefficient → 2-bit code: 0 → 0, 1 → 1, −1 → 2 (3 is invalid).
fn ternary_code(c: i8) -> u32 {
    match c {
        1 => 1,
        -1 => 2,
        _ => 0,
    }
}

impl SecretKey {
    /// **Exports the secret key.** Anyone holding the result can decrypt everything encrypted
    /// under this key: store it encrypted at rest and never send it to a server. The buffer is
    /// zeroized when dropped. Body: `n` coefficients at 2 bits (0 → 0, 1 → 1, −1 → 2).
    pub fn export_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let n = self.params().n();
        let body_len = row_bytes(n, 2);
        let mut out = Zeroizing::new(Vec::with_capacity(COMMON_HEADER_LEN + body_len));
        write_header(&mut out, &Descriptor::SecretKey, self.params().id(), body_len);
        let mut coeffs = self.export_coefficients();
        let mut codes: Vec<u32> = coeffs.iter().map(|&c| ternary_code(c)).collect();
        pack_row(&codes, 2, &mut out);
        codes.zeroize();
        coeffs.zeroize();
        out
    }

    /// Imports a secret key exported by [`Self::export_secret_bytes`] for `params`, and
    /// recomputes its NTT form. Compressed secret keys are refused.
    ///
    /// # Errors
    /// The header errors; [`Error::WireParameterId`]; [`Error::WireFieldOutOfRange`] for a
    /// compressed object; [`Error::ResidueOutOfRange`] for the invalid code 3;
    /// [`Error::WireNonCanonical`] for nonzero padding bits.
    pub fn import_secret_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<Self, Error> {
        let n = params.n();
        let expect = Expect { kinds: &[ObjectKind::SecretKey], what: "secret key", id: Some(params.id()), allow_compressed: false };
        let opened = open(bytes, &expect, |_| Ok(row_bytes(n, 2) as u64))?;
        let mut codes = vec![0u32; n];
        let read = Reader::new(&opened.body).row(2, 3, &mut codes);
        let coeffs = read.map(|()| codes.iter().map(|&c| [0i8, 1, -1][c as usize % 3]).collect::<Vec<i8>>());
        codes.zeroize();
        SecretKey::from_ternary(params, coeffs?)
    }
}
