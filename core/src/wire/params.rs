//! Parameters on the wire (self-describing: the literal) and the parameter identifier.

use std::sync::Arc;

use super::header::{Descriptor, Expect, open, write_header};
use super::objects::in_range;
use super::pack::Reader;
use super::{MAX_PRIMES, ObjectKind, ParameterId, sha256};
use crate::Error;
use crate::prime::check_degree;
use crate::scheme::{Parameters, ParametersLiteral, SecurityLevel};

/// Domain separation of the identifier's hash.
const ID_DOMAIN: &[u8] = b"RingVault parameter set\0";

/// The security code of the descriptor.
fn security_code(level: SecurityLevel) -> u8 {
    match level {
        SecurityLevel::Bits128 => 1,
        SecurityLevel::Bits192 => 2,
        SecurityLevel::Bits256 => 3,
        #[cfg(feature = "insecure-unchecked-params")]
        SecurityLevel::InsecureUnchecked => 0,
    }
}

fn security_level(code: u8) -> Result<SecurityLevel, Error> {
    match code {
        1 => Ok(SecurityLevel::Bits128),
        2 => Ok(SecurityLevel::Bits192),
        3 => Ok(SecurityLevel::Bits256),
        #[cfg(feature = "insecure-unchecked-params")]
        0 => Ok(SecurityLevel::InsecureUnchecked),
        v => Err(Error::WireFieldOutOfRange { field: "security level code", value: u64::from(v), min: 1, max: 3 }),
    }
}

fn descriptor(lit: &ParametersLiteral) -> Descriptor {
    Descriptor::Parameters {
        n: lit.n as u32,
        ciphertext_primes: lit.ciphertext_primes.len() as u16,
        special_primes: lit.special_primes.len() as u16,
        plaintext_modulus: lit.plaintext_modulus,
        security: security_code(lit.security),
        digit_primes: u8::try_from(lit.digit_primes).unwrap_or(u8::MAX),
    }
}

/// The descriptor and body of the literal: what the identifier hashes.
fn canonical(lit: &ParametersLiteral) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 4 * (lit.ciphertext_primes.len() + lit.special_primes.len()));
    descriptor(lit).write(&mut out);
    for q in lit.ciphertext_primes.iter().chain(&lit.special_primes) {
        out.extend_from_slice(&q.to_le_bytes());
    }
    out
}

/// `SHA-256("RingVault parameter set\0" ‖ descriptor ‖ primes)`, first 16 bytes.
fn parameter_id(lit: &ParametersLiteral) -> ParameterId {
    let mut data = ID_DOMAIN.to_vec();
    data.extend_from_slice(&canonical(lit));
    let digest = sha256(&data);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    ParameterId(id)
}

impl Parameters {
    /// The parameter identifier every serialized object carries: the first 16 bytes of the
    /// SHA-256 of the canonical encoding of the literal (its descriptor and primes), computed
    /// once.
    pub fn id(&self) -> ParameterId {
        *self.id.get_or_init(|| parameter_id(self.literal()))
    }

    /// The wire encoding: header (carrying [`Parameters::id`]), then the primes as `u32`
    /// (ciphertext primes, then special primes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let lit = self.literal();
        let body = canonical(lit);
        let mut out = Vec::with_capacity(32 + body.len());
        write_header(&mut out, &descriptor(lit), self.id(), body.len() - 16);
        out.extend_from_slice(&body[16..]);
        out
    }

    /// Loads parameters and validates them as [`Parameters::new`] does.
    ///
    /// # Errors
    /// The header errors ([`Error::WireMagic`], [`Error::WireVersion`],
    /// [`Error::WireObjectType`], [`Error::WireLength`], [`Error::WireFieldOutOfRange`]);
    /// [`Error::WireParameterId`] if the header's identifier is not the primes'; any error of
    /// [`Parameters::new`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Arc<Self>, Error> {
        let expect = Expect { kinds: &[ObjectKind::Parameters], what: "parameters", id: None, allow_compressed: true };
        let opened = open(bytes, &expect, |d| {
            let Descriptor::Parameters { n, ciphertext_primes, special_primes, security, digit_primes, .. } = *d else {
                return Err(Error::WireObjectType { expected: "parameters", found: d.kind().code() });
            };
            check_degree(n as usize)?;
            security_level(security)?;
            if ciphertext_primes == 0 {
                return Err(Error::EmptyBasis);
            }
            let total = usize::from(ciphertext_primes) + usize::from(special_primes);
            if total > MAX_PRIMES {
                return Err(Error::WireFieldOutOfRange { field: "prime count", value: total as u64, min: 1, max: MAX_PRIMES as u64 });
            }
            in_range("primes per key-switching digit", digit_primes.into(), 1, ciphertext_primes.into())?;
            Ok(4 * total as u64)
        })?;
        let Descriptor::Parameters { n, ciphertext_primes, plaintext_modulus, security, digit_primes, .. } = opened.info.descriptor else {
            return Err(Error::WireObjectType { expected: "parameters", found: opened.info.kind().code() });
        };
        let mut reader = Reader::new(&opened.body);
        let mut primes = Vec::with_capacity(reader.remaining() / 4);
        while reader.remaining() > 0 {
            let b = reader.take(4)?;
            primes.push(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        let special_primes = primes.split_off(usize::from(ciphertext_primes));
        let literal = ParametersLiteral { n: n as usize, ciphertext_primes: primes, special_primes, digit_primes: usize::from(digit_primes), plaintext_modulus, security: security_level(security)? };
        let id = parameter_id(&literal);
        if id != opened.info.parameter_id {
            return Err(Error::WireParameterId { expected: id, found: opened.info.parameter_id });
        }
        Parameters::new(literal)
    }
}
