//! Identifiers every layer names: the wire format's magic and object kinds, and the
//! parameter identifier that every serialized object carries, as the errors about foreign or
//! mistyped objects report them. A leaf: it uses no other module. How the identifier is
//! computed (a digest of the wire encoding) is the wire format's business (`wire::params`).

use std::fmt;

/// The 4-byte magic that opens every object.
pub const MAGIC: [u8; 4] = *b"RVLT";

/// Object types, the byte at offset 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum ObjectKind {
    /// [`Parameters`](crate::scheme::Parameters).
    Parameters = 1,
    /// [`PublicKey`](crate::scheme::PublicKey).
    PublicKey = 2,
    /// A relinearization [`KeySwitchKey`](crate::scheme::KeySwitchKey).
    RelinearizationKey = 3,
    /// A Galois [`KeySwitchKey`](crate::scheme::KeySwitchKey).
    GaloisKey = 4,
    /// [`EvaluationKeys`](crate::scheme::EvaluationKeys): public, relinearization and Galois keys.
    EvaluationKeys = 5,
    /// A batch of [`Ciphertext`](crate::scheme::Ciphertext)s.
    Ciphertext = 6,
    /// A [`Plaintext`](crate::scheme::Plaintext).
    Plaintext = 7,
    /// A [`SecretKey`](crate::scheme::SecretKey) (only through its explicitly named export).
    SecretKey = 8,
}

impl ObjectKind {
    /// Every type, in code order.
    pub const ALL: [ObjectKind; 8] = [
        Self::Parameters,
        Self::PublicKey,
        Self::RelinearizationKey,
        Self::GaloisKey,
        Self::EvaluationKeys,
        Self::Ciphertext,
        Self::Plaintext,
        Self::SecretKey,
    ];

    /// The type byte.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The type of a type byte, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// A lower-case name (`"public key"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Parameters => "parameters",
            Self::PublicKey => "public key",
            Self::RelinearizationKey => "relinearization key",
            Self::GaloisKey => "galois key",
            Self::EvaluationKeys => "evaluation keys",
            Self::Ciphertext => "ciphertext",
            Self::Plaintext => "plaintext",
            Self::SecretKey => "secret key",
        }
    }

    /// The name of a type byte, or `"unknown type N"`, for error messages.
    pub fn describe(code: u8) -> String {
        Self::from_code(code).map_or_else(|| format!("unknown type {code}"), |k| k.name().to_string())
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The identifier of a parameter set: the first 16 bytes of the SHA-256 of its canonical
/// encoding (domain-separated). Every object carries the identifier of its parameters, and
/// loaders refuse another one. Shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ParameterId(pub [u8; 16]);

impl ParameterId {
    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return None;
        }
        let digit = |c: u8| (c as char).to_digit(16);
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            *o = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(Self(out))
    }
}

impl fmt::Display for ParameterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ParameterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParameterId({self})")
    }
}

impl serde::Serialize for ParameterId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ParameterId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_hex(&s).ok_or_else(|| serde::de::Error::custom("a parameter identifier is 32 hex digits"))
    }
}
