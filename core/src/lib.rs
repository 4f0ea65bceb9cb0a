//! # ringvault-core
//!
//! The core of RingVault: RNS ring arithmetic, the [`Backend`] trait that
//! every compute backend implements, and (in later layers) the Ring-LWE scheme, encodings and
//! encrypted statistics. It names neither `std::arch` nor any GPU API.
//!
//! Layers, each using only the ones before it:
//! [`zq`] (one modulus) → [`prime`] (NTT-friendly primes) → [`ntt`] (tables and the scalar
//! reference transform) → [`rns`] (CRT and basis conversion) → [`ring`] (typed polynomial
//! batches and reference kernels) → [`backend`] (the trait) → [`scheme`] (parameters, keys, encryption, evaluation)
//! → [`wire`] (the validated binary format of every object). [`id`] (the format's magic,
//! object kinds and parameter identifier) is a leaf every layer, `error` included, may name.
//!
//! ## Features
//! - `testing`: the backend conformance suite and the scheme suite (module `testing`) with
//!   their instantiation macros.
//! - `compression` (default): zstd compression of serialized objects ([`wire::compress`]);
//!   without it, loaders refuse compressed objects with a typed error.
//! - `insecure-unchecked-params`: parameters below the security bounds, for tests of tiny
//!   rings only.
//!
//! ## Example
//! ```
//! use ringvault_core::{ntt::NttTable, prime::ntt_primes};
//! let n = 1024;
//! let q = ntt_primes(30, n, 1)?[0];
//! let table = NttTable::new(n, q)?;
//! let mut a: Vec<u32> = (0..n as u32).collect();
//! table.forward(&mut a);
//! table.inverse(&mut a);
//! assert_eq!(a, (0..n as u32).collect::<Vec<_>>());
//! # Ok::<(), ringvault_core::Error>(())
//! ```

pub mod backend;
pub mod encoding;
mod error;
pub mod id;
pub mod ntt;
pub mod prime;
pub mod ring;
pub mod rns;
pub mod scheme;
pub mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;
pub mod zq;

pub use backend::{Backend, Caps};
pub use error::Error;
pub use ring::{BatchShape, Coeff, Domain, HasShape, Ntt, PolyBatch, RingContext};
